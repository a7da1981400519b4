#!/usr/bin/env bash
# partnerbus dev leaves nothing behind: its children (broker, gateway,
# relays) end when dev is SIGKILLed or its terminal closes (SIGHUP), so the
# gateway's port is free for the next start; and the plain tokens file is
# mode 0600 even when an older one had another mode.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
pb_require_cmd curl python3

work=$(mktemp -d)
devpid=
kids=()
cleanup() {
        # anything left is this test's failure, but must not outlive it
        if [[ -n $devpid ]]; then
                kids+=($(children_of "$devpid"))
                kill -KILL "$devpid" 2>/dev/null || true
        fi
        if [[ ${#kids[@]} -gt 0 ]]; then
                kill -KILL "${kids[@]}" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

children_of() { # pid -> the pids of its children, one per line
        local p
        for p in /proc/[0-9]*; do
                [[ $(awk '/^PPid:/{print $2}' "$p/status" 2>/dev/null) == "$1" ]] && echo "${p#/proc/}"
        done
        return 0
}

# start dev; wait until it says it runs; echo nothing, set devpid, port
start_dev() {
        : >err.txt
        "$PB_BIN" dev --listen 127.0.0.1:0 --dir "$work/var" >out.jsonl 2>err.txt &
        devpid=$!
        pb_wait_line $devpid err.txt 'partnerbus dev is running' "dev exited early" "dev did not start in 60 s"
        port=$(cat "$work/var/gateway.port")
}

# all of pids gone within 20 s (they drain first: SIGTERM, not SIGKILL)
wait_gone() {
        local p left
        for _ in $(seq 1 200); do
                left=
                for p in "$@"; do
                        kill -0 "$p" 2>/dev/null && left="$left $p"
                done
                [[ -z $left ]] && return 0
                sleep 0.1
        done
        ps -o pid,ppid,args -p "${left# }" >&2 || true
        pb_fail "still running after dev ended:$left"
}

# an older tokens file with a loose mode
mkdir -p "$work/var"
echo old >"$work/var/dev-tokens.txt"
chmod 0644 "$work/var/dev-tokens.txt"

for how in KILL HUP; do
        start_dev
        mode=$(stat -c %a "$work/var/dev-tokens.txt")
        [[ $mode == 600 ]] || pb_fail "dev-tokens.txt has mode $mode, want 600"
        mapfile -t kids < <(children_of "$devpid")
        [[ ${#kids[@]} -ge 3 ]] || pb_fail "expected at least 3 children of dev, found ${#kids[@]}"
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || pb_fail "gateway not answering on $port"
        pb_log "dev $devpid with children ${kids[*]}; sending SIG$how to dev alone"
        kill -"$how" "$devpid"
        wait_gone "$devpid" "${kids[@]}"
        wait "$devpid" 2>/dev/null || true
        devpid=
        # the port is free again: a new listener can take it
        python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',$port))" ||
                pb_fail "port $port still taken after SIG$how"
        pb_log "SIG$how: dev and its ${#kids[@]} children gone, port $port free"
        chmod 0644 "$work/var/dev-tokens.txt"
done
echo "dev_hygiene: ok"
