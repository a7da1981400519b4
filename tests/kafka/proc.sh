# proc.sh: process helpers shared by the test servers' scripts
# (tests/kafka/harness.sh, tests/registry/registry.sh). Sourced after the
# caller sets PROC_NAME (the prefix of its messages) and PROC_USAGE_LAST
# (the last line of its usage comment, which starts at line 2).

# the programs (the environment may name others)
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}

# jvm_opts XMX: the test servers' JVM options with heap XMX (small, serial
# GC, quick start), unless the caller's environment gave its own
jvm_opts() {
        echo "-Xms64m -Xmx$1 -XX:+UseSerialGC -XX:TieredStopAtLevel=1" \
                "-XX:-UsePerfData -Djava.awt.headless=true -Dfile.encoding=UTF-8"
}

# log MSG...: a message on stderr; die MSG...: log it as an error, exit 1;
# usage: the script's usage comment on stderr, exit 2
log() { printf '%s: %s\n' "$PROC_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() {
        sed -n "2,${PROC_USAGE_LAST}p" "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
}

# free_ports N: N distinct free loopback TCP ports, one per line. All are
# bound at once so none repeats; another process may still take one before
# the server binds it, which the caller reports as a failure to start.
free_ports() {
        python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
}

# stop_pids TIMEOUT PID...: SIGTERM, wait up to TIMEOUT seconds, SIGKILL what
# is left, then wait until the processes are gone from /proc.
stop_pids() {
        local timeout=$1 pid deadline
        shift
        (($#)) || return 0
        kill -TERM "$@" 2>/dev/null || true
        deadline=$((SECONDS + timeout))
        while ((SECONDS < deadline)); do
                local alive=()
                for pid in "$@"; do
                        kill -0 "$pid" 2>/dev/null && alive+=("$pid")
                done
                ((${#alive[@]})) || break
                sleep 0.2
        done
        for pid in "$@"; do
                if kill -0 "$pid" 2>/dev/null; then
                        log "pid $pid still running after $timeout s: SIGKILL"
                        kill -KILL "$pid" 2>/dev/null || true
                fi
        done
        for pid in "$@"; do
                for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        done
}

# use_dir CMD: unless CMD is fetch, DIR (from --dir) must be given; it is
# created and made absolute
use_dir() {
        [[ $1 == fetch ]] && return 0
        [[ -n $DIR ]] || { log "--dir is required"; usage; }
        mkdir -p "$DIR"
        DIR=$(cd "$DIR" && pwd -P)
}

# cmdline PID: the process's command line, arguments joined by spaces
# (fails when it is gone or not readable)
cmdline() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline"; }

# all_pids: every process id in /proc
all_pids() {
        local p
        for p in /proc/[0-9]*; do echo "${p#/proc/}"; done
}

# stop_ours FILE...: stop every process the caller's our_pids names (see
# stop_pids, with STOP_TIMEOUT), then remove FILE...
stop_ours() {
        local pids=()
        [[ -d $DIR ]] || return 0
        mapfile -t pids < <(our_pids | sort -u)
        stop_pids "$STOP_TIMEOUT" "${pids[@]}"
        rm -f "$@"
}

# launch DIR LOG WHAT CMD...: start CMD in its own session (so ctest's
# process group and pipes are not tied to it), stdin from /dev/null and
# output appended to LOG; its pid goes into DIR/pid. Dies with "WHAT did
# not start" when that file does not appear within 5 s.
launch() {
        local dir=$1 out=$2 what=$3
        shift 3
        rm -f "$dir/pid"
        setsid bash -c 'echo $$ >"$1/pid"; shift; exec "$@"' _ "$dir" "$@" \
                </dev/null >>"$out" 2>&1 &
        for _ in $(seq 50); do
                [[ -s $dir/pid ]] && break
                sleep 0.1
        done
        [[ -s $dir/pid ]] || die "$what did not start"
}

# tail_log FILE...: the last 30 lines of each non-empty FILE on stderr
tail_log() {
        local f
        for f in "$@"; do
                [[ -s $f ]] || continue
                printf '\n==== %s (last 30 lines) ====\n' "$f" >&2
                tail -n 30 "$f" >&2
        done
}

# cache_fresh CACHE KEY [FILE]: CACHE/.complete holds KEY (and FILE exists)
cache_fresh() {
        [[ -f $1/.complete && $(cat "$1/.complete") == "$2" && ( -z ${3:-} || -f ${3:-} ) ]]
}

# cache_once CACHE KEY FILE FN: unless cache_fresh CACHE KEY FILE, run FN
# (it fills CACHE with maven, $MVN, and fails with die) and record KEY in
# CACHE/.complete. Several build dirs may start a server at once: FN runs
# under a lock on CACHE/.lock, and the check is made again once it is held.
cache_once() {
        local cache=$1 want=$2 file=$3 fn=$4
        mkdir -p "$cache"
        cache_fresh "$cache" "$want" "$file" && return 0
        command -v "$MVN" >/dev/null || die "maven ($MVN) not found; install it (apt-get install maven)"
        exec 9>"$cache/.lock"
        flock 9
        if cache_fresh "$cache" "$want" "$file"; then
                exec 9>&-
                return 0
        fi
        rm -f "$cache/.complete"
        "$fn"
        echo "$want" >"$cache/.complete"
        exec 9>&-
}
