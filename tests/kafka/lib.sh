# lib.sh: shared helpers for the bash integration tests (tests/integration/*.sh).
#
# Source it first thing:
#
#   set -euo pipefail
#   source "$(dirname "$0")/../kafka/lib.sh"
#   B=$(pb_bootstrap)
#   T=$(pb_topic_name smoke)
#
# ctest sets PB_KAFKA_DIR (single-node broker of the kafka fixture),
# PB_KAFKA3_DIR (three-node cluster, started by the tests that need one),
# PB_BIN (the partnerbus binary), PB_SOURCE_DIR, PB_BINARY_DIR and
# PARTNERBUS_SCHEMAS. Every helper that cannot do its job fails the test
# (exit 1) with a message saying why; none skips. Helpers used in $(...)
# exit only that subshell: with `set -e` the failed assignment then ends the
# test too.

PB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PB_HARNESS=$PB_LIB_DIR/harness.sh
: "${PB_SOURCE_DIR:=$(cd "$PB_LIB_DIR/../.." && pwd -P)}"
: "${KCAT:=kcat}"

# pb_log MSG...: a progress line on stderr, prefixed with the test's name
pb_log() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; }

# pb_fail MSG...: fail the test with MSG
pb_fail() {
        printf '%s: FAIL: %s\n' "$(basename "$0" .sh)" "$*" >&2
        exit 1
}

# pb_require_cmd CMD...: fail unless every CMD is on PATH
pb_require_cmd() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 || pb_fail "required program '$c' not found"
        done
}

# pb_bootstrap [DIR]: print the bootstrap servers of the harness cluster in
# DIR (default $PB_KAFKA_DIR), failing loudly when there is none or it does
# not answer a metadata request.
pb_bootstrap() {
        local dir=${1:-${PB_KAFKA_DIR:-}} bs
        [[ -n $dir ]] || pb_fail "PB_KAFKA_DIR is not set: run through ctest (fixture kafka) or export PB_KAFKA_DIR after 'tests/kafka/harness.sh start --dir DIR'"
        [[ -s $dir/bootstrap ]] || pb_fail "no Kafka in $dir (missing $dir/bootstrap): did the kafka.start fixture fail?"
        bs=$(head -n 1 "$dir/bootstrap")
        [[ -n $bs ]] || pb_fail "$dir/bootstrap is empty"
        timeout 20 "$KCAT" -b "$bs" -L -m 10 -t _pb_ready_probe >/dev/null 2>&1 ||
                pb_fail "Kafka at $bs (from $dir/bootstrap) does not answer metadata requests"
        printf '%s\n' "$bs"
}

# pb_cluster3_dir: this test's three-node cluster directory,
# $PB_KAFKA3_DIR/<test name>, so tests that run in parallel (ctest -j) each
# have their own cluster. Faults: harness.sh kill-node/start-node --dir
# "$(pb_cluster3_dir)" N.
pb_cluster3_dir() {
        [[ -n ${PB_KAFKA3_DIR:-} ]] || pb_fail "PB_KAFKA3_DIR is not set"
        printf '%s/%s\n' "$PB_KAFKA3_DIR" "$(basename "$0" .sh)"
}

# pb_start_cluster3: start this test's three-node cluster (one left there by
# an earlier run is stopped first) and print its bootstrap servers. The test
# stops it with pb_stop_cluster3, e.g. in an EXIT trap.
pb_start_cluster3() {
        local dir
        dir=$(pb_cluster3_dir)
        "$PB_HARNESS" start --dir "$dir" --nodes 3 >/dev/null ||
                pb_fail "could not start the three-node cluster in $dir"
        pb_bootstrap "$dir"
}
pb_stop_cluster3() { "$PB_HARNESS" stop --dir "$(pb_cluster3_dir)" >/dev/null 2>&1 || true; }

# pb_topic_name PREFIX: a topic name unique to this test run, so tests never
# see each other's (or an earlier run's) messages: PREFIX-<seconds>-<pid>-<rand>
pb_topic_name() {
        local p=${1:-pbtest}
        printf '%s-%s-%s-%05d\n' "$p" "$(date +%s)" "$$" "$((RANDOM % 100000))"
}

# pb_bin: print the partnerbus binary ($PB_BIN), failing if it is missing
pb_bin() {
        [[ -n ${PB_BIN:-} ]] || pb_fail "PB_BIN is not set: run through ctest"
        [[ -x $PB_BIN ]] || pb_fail "partnerbus binary $PB_BIN not built"
        printf '%s\n' "$PB_BIN"
}

# pb_tmpdir: make a fresh temporary directory in PB_TMP, removed when the
# test exits (keep it with PB_KEEP_TMP=1). Call it plainly, not in $(...):
# the EXIT trap must belong to the test's shell. It replaces an EXIT trap
# set before; a test that needs its own sets it after and removes $PB_TMP.
pb_tmpdir() {
        PB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pbtest.XXXXXX")
        if [[ -z ${PB_KEEP_TMP:-} ]]; then
                # shellcheck disable=SC2064
                trap "rm -rf '$PB_TMP'" EXIT
        fi
}

# pb_wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds; fail
# the test after SECONDS
pb_wait_for() {
        local secs=$1 deadline
        shift
        deadline=$((SECONDS + secs))
        until "$@"; do
                ((SECONDS < deadline)) || pb_fail "timed out after ${secs}s waiting for: $*"
                sleep 0.2
        done
}

# pb_wait_port FILE PID LOG WHAT [TENTHS]: wait until process PID has
# written its port to FILE, at most TENTHS tenths of a second (default 100);
# fail the test, with LOG on stderr, when PID ends first, or when the time
# is up ("WHAT exited at start", "WHAT did not start")
pb_wait_port() {
        local i
        for i in $(seq "${5:-100}"); do
                [[ -s $1 ]] && return 0
                kill -0 "$2" 2>/dev/null || { cat "$3" >&2; pb_fail "$4 exited at start"; }
                sleep 0.1
        done
        [[ -s $1 ]] || pb_fail "$4 did not start"
}

# pb_wait_line PID FILE PATTERN EXITED TIMEOUT: wait up to 60 s until a line
# of FILE matches PATTERN (grep); fail the test with FILE on stderr and the
# message EXITED when process PID ends first, TIMEOUT when the time is up
pb_wait_line() {
        local pid=$1 file=$2 pat=$3 i
        for i in $(seq 1 600); do
                grep -q "$pat" "$file" 2>/dev/null && return 0
                kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; pb_fail "$4"; }
                sleep 0.1
        done
        grep -q "$pat" "$file" || { cat "$file" >&2; pb_fail "$5"; }
}

# pb_kcat_produce BOOTSTRAP TOPIC [kcat args]: publish stdin, one message per
# line, acks=all; fails the test if any message is not acknowledged
pb_kcat_produce() {
        local bs=$1 topic=$2
        shift 2
        timeout 60 "$KCAT" -b "$bs" -P -t "$topic" -X acks=all -X message.timeout.ms=30000 "$@" ||
                pb_fail "kcat could not publish to $topic at $bs"
}

# pb_kcat_consume BOOTSTRAP TOPIC COUNT [kcat args]: read COUNT messages from
# the beginning (no group) and print them; fails the test if fewer arrive
# within 60 s
pb_kcat_consume() {
        local bs=$1 topic=$2 count=$3
        shift 3
        timeout 60 "$KCAT" -b "$bs" -C -t "$topic" -o beginning -c "$count" -q "$@" ||
                pb_fail "kcat did not read $count message(s) from $topic at $bs"
}

# pb_topic_prefix NAME: P, a topic prefix unique to this test run
# (pb_topic_name NAME, then "-"), exported as PARTNERBUS_TOPIC_PREFIX for
# the partnerbus commands the test runs. Call it plainly, not in $(...).
pb_topic_prefix() {
        P=$(pb_topic_name "$1")-
        export PARTNERBUS_TOPIC_PREFIX=$P
}

# pb_produce_history DIR [TYPE...]: publish DIR/TYPE.jsonl for each TYPE
# (default: the four event types) to $B with `partnerbus produce` (under
# PARTNERBUS_TOPIC_PREFIX); its messages in $PB_TMP/produce.log
pb_produce_history() {
        local dir=$1 t
        shift
        (($#)) || set -- funds.granted aid.dispatched aid.delivered partnership.founded
        for t in "$@"; do
                "$PB_BIN" produce --brokers "$B" --type "$t" --file "$dir/$t.jsonl" 2>>"$PB_TMP/produce.log" ||
                        pb_fail "produce $t: $(tail -2 "$PB_TMP/produce.log")"
        done
}

# pb_history_examples SHIP GRANT DIR: the examples of an aid shipment and a
# grant (schemas/examples/valid) for shipment id SHIP and grant id GRANT,
# without source and event id, as DIR/dispatched.json, DIR/delivered.json
# (its delivery) and DIR/grant.json; needs jq
pb_history_examples() {
        local ex=$PB_SOURCE_DIR/schemas/examples/valid
        jq --arg s "$1" '.shipment_id = $s | del(.source, .event_id)' \
                "$ex/aid.dispatched/generators-bgk-2022-12.json" >"$3/dispatched.json"
        jq --arg s "$1" '.shipment_id = $s | del(.source, .event_id)' \
                "$ex/aid.delivered/dnipro-generators-partial.json" >"$3/delivered.json"
        jq --arg g "$2" '.grant_id = $g | del(.source, .event_id)' \
                "$ex/funds.granted/bgk-generators-143000.json" >"$3/grant.json"
}

# pb_python_venv: create (once per requirements file, in the cache) the
# Python virtual environment for the agency-side tests, and print the path of
# its python. Location: ${PB_PY_VENV:-~/.cache/partnerbus/pyvenv-<python>-<hash>};
# kept out of the repository and shared by all build directories.
pb_python_venv() {
        local req=$PB_SOURCE_DIR/tests/python/requirements.txt py=${PB_PYTHON:-python3}
        pb_require_cmd "$py"
        [[ -f $req ]] || pb_fail "missing $req"
        local ver hash venv
        ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        hash=$(cksum <"$req" | cut -d' ' -f1)
        venv=${PB_PY_VENV:-${HOME:-/tmp}/.cache/partnerbus/pyvenv-$ver-$hash}
        mkdir -p "$(dirname "$venv")"
        (
                flock 9
                if [[ ! -f $venv/.complete ]]; then
                        rm -rf "$venv"
                        "$py" -m venv "$venv" >&2 || exit 1
                        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
                                -r "$req" >&2 || exit 1
                        touch "$venv/.complete"
                fi
        ) 9>"$venv.lock" || pb_fail "could not create the Python venv $venv (pip install -r $req)"
        printf '%s\n' "$venv/bin/python"
}
