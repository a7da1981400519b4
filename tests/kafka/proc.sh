# proc.sh: process helpers shared by the test servers' scripts
# (tests/kafka/harness.sh, tests/registry/registry.sh). Sourced; expects the
# caller's log() for messages.

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
