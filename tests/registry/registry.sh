#!/usr/bin/env bash
# registry.sh: a real Confluent-compatible schema registry on loopback for
# the tests: Apicurio Registry 2.4.2.Final (in-memory H2 storage), whose
# Confluent-compatible API is served under /apis/ccompat/v7.
#
#   registry.sh fetch                         build the registry (Maven Central, with mvn)
#   registry.sh start --dir DIR [--owner PID] start on a free port, wait until ready
#   registry.sh stop  --dir DIR               SIGTERM, then SIGKILL after a timeout
#   registry.sh status --dir DIR              "PID up|down URL"
#
# With --owner PID, a watchdog stops the registry once process PID has
# exited, so a test killed before its trap ran leaves nothing behind.
#
# DIR afterwards holds:
#   url           the registry's Confluent-compatible base URL, one line
#                 (http://127.0.0.1:PORT/apis/ccompat/v7)
#   pid           the registry's pid
#   registry.log  its output
#
# Apicurio publishes the application jar (io.apicurio:apicurio-registry-app)
# to Maven Central but no runnable distribution, so `fetch` runs the Quarkus
# build over that jar with tests/registry/pom.xml; the result is cached.
#
# Environment:
#   PB_REGISTRY_CACHE          cache (default ~/.cache/partnerbus/apicurio)
#   PB_REGISTRY_JVM_OPTS       replaces the default JVM options
#   PB_REGISTRY_START_TIMEOUT  seconds to wait for readiness (default 180)
#   PB_REGISTRY_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (default 20)
#   JAVA, MVN, CURL            programs to use (default: from PATH)
#
# Exit status: 0 on success; 1 on failure (with the tail of the log on
# stderr); 2 on a usage error.
set -euo pipefail

PROC_NAME=registry PROC_USAGE_LAST=13
source "$(dirname "${BASH_SOURCE[0]}")/../kafka/proc.sh"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
POM=$HERE/pom.xml
CACHE=${PB_REGISTRY_CACHE:-${HOME:-/tmp}/.cache/partnerbus/apicurio}
BUILD=$CACHE/build
RUNNER=$BUILD/apicurio-registry-runner-1-runner.jar
CURL=${CURL:-curl}
START_TIMEOUT=${PB_REGISTRY_START_TIMEOUT:-180}
STOP_TIMEOUT=${PB_REGISTRY_STOP_TIMEOUT:-20}
JVM_OPTS=${PB_REGISTRY_JVM_OPTS:-$(jvm_opts 384m)}
API_PATH=/apis/ccompat/v7

# ---------------------------------------------------------------- fetch

fetch() {
        local want
        want=$(cksum <"$POM" | cut -d' ' -f1)
        cache_once "$CACHE" "$want" "$RUNNER" build_registry
}

# build_registry: the registry runner into BUILD (cache_once holds the lock)
build_registry() {
        log "building Apicurio Registry from Maven Central into $BUILD (maven; first time only)"
        local t0=$SECONDS
        rm -rf "$BUILD"
        # the pom is copied so that the source tree stays untouched
        cp "$POM" "$CACHE/pom.xml"
        if ! "$MVN" -B -f "$CACHE/pom.xml" -Dpb.out="$BUILD" package >"$CACHE/mvn.log" 2>&1; then
                grep -E '^\[ERROR\]' "$CACHE/mvn.log" | head -n 20 >&2 || tail -n 40 "$CACHE/mvn.log" >&2
                die "maven could not build the registry (log: $CACHE/mvn.log)"
        fi
        [[ -f $RUNNER ]] || die "$RUNNER missing after the build (log: $CACHE/mvn.log)"
        log "built in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- helpers

# is_ours PID: the process is a registry started for this DIR
is_ours() {
        local cmd
        cmd=$(cmdline "$1") || return 1
        [[ $cmd == *"-Dpb.registry.dir=$DIR "* ]]
}

# every registry of ours in DIR, including one whose pid file was lost
our_pids() {
        local pid
        if [[ -s $DIR/pid ]]; then
                pid=$(cat "$DIR/pid")
                is_ours "$pid" && echo "$pid"
        fi
        for pid in $(all_pids); do
                is_ours "$pid" && echo "$pid"
        done
        return 0
}

log_tail() { tail_log "$DIR/registry.log"; }

# ready URL: the subjects list answers with a JSON array
ready() {
        local body
        body=$("$CURL" -sf --max-time 5 "$1/subjects" 2>/dev/null) || return 1
        [[ $body == \[* ]]
}

# ---------------------------------------------------------------- commands

do_stop() { stop_ours "$DIR/pid" "$DIR/url"; }

# watchdog OWNER REGPID: stop the registry when OWNER exits (or when the
# registry itself is gone, then just leave)
start_watchdog() {
        local owner=$1 regpid=$2
        setsid bash -c '
                owner=$1 regpid=$2 script=$3 dir=$4
                while kill -0 "$owner" 2>/dev/null; do
                        kill -0 "$regpid" 2>/dev/null || exit 0
                        sleep 1
                done
                kill -0 "$regpid" 2>/dev/null && "$script" stop --dir "$dir" >/dev/null 2>&1
                exit 0' _ "$owner" "$regpid" "$HERE/registry.sh" "$DIR" \
                </dev/null >/dev/null 2>&1 &
}

do_start() {
        command -v "$JAVA" >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
        command -v "$CURL" >/dev/null || die "curl not found (apt-get install curl)"
        command -v python3 >/dev/null || die "python3 not found"
        mkdir -p "$DIR"
        do_stop # a previous run's registry in this dir
        fetch
        local t0=$SECONDS port url pid deadline
        port=$(free_ports 1)
        url="http://127.0.0.1:$port$API_PATH"
        : >"$DIR/registry.log"
        # the marker property identifies it for stop
        # shellcheck disable=SC2086
        launch "$DIR" "$DIR/registry.log" "the registry" \
                "$JAVA" $JVM_OPTS -Dpb.registry.dir="$DIR" \
                -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
                -Dquarkus.http.access-log.enabled=false \
                -jar "$RUNNER"
        pid=$(cat "$DIR/pid")
        [[ -n $OWNER ]] && start_watchdog "$OWNER" "$pid"
        deadline=$((SECONDS + START_TIMEOUT))
        while ((SECONDS < deadline)); do
                if ! kill -0 "$pid" 2>/dev/null; then
                        log_tail
                        die "the registry (pid $pid) exited while starting"
                fi
                if ready "$url"; then
                        echo "$url" >"$DIR/url"
                        log "ready: Apicurio Registry at $url in $((SECONDS - t0)) s"
                        echo "$url"
                        return 0
                fi
                sleep 0.3
        done
        log_tail
        do_stop
        die "registry at $url not ready after $START_TIMEOUT s"
}

do_status() {
        local pid state=down
        pid=$(cat "$DIR/pid" 2>/dev/null || true)
        [[ -n $pid ]] && is_ours "$pid" && state=up
        echo "${pid:--} $state $(cat "$DIR/url" 2>/dev/null || echo -)"
        [[ $state == up ]]
}

# ---------------------------------------------------------------- main

[[ $# -ge 1 ]] || usage
cmd=$1
shift
DIR=""
OWNER=""
while [[ $# -gt 0 ]]; do
        case $1 in
        --dir) [[ $# -ge 2 ]] || usage; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#--dir=}; shift ;;
        --owner) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage; OWNER=$2; shift 2 ;;
        --owner=*) OWNER=${1#--owner=}; [[ $OWNER =~ ^[0-9]+$ ]] || usage; shift ;;
        -h | --help) usage ;;
        *) log "unknown argument $1"; usage ;;
        esac
done
use_dir "$cmd"

case $cmd in
fetch) fetch ;;
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
-h | --help | help) usage ;;
*) log "unknown command $cmd"; usage ;;
esac
