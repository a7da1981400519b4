#!/usr/bin/env bash
# partnerbus dev leaves nothing behind: its children (Kafka's JVM, gateway,
# relays) end when dev is SIGKILLed or its terminal closes (SIGHUP), so the
# gateway's port is free and the next start finds Kafka's data; the plain
# tokens file and the operator token are mode 0600 even when an older file
# had another mode, and they stay the same across restarts; --kafka-port
# puts Kafka where it is told.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
dev_setup

# all of pids gone within 60 s (they drain first: SIGTERM, not SIGKILL;
# Kafka shuts down in a few seconds)
wait_gone() {
        local p left
        for _ in $(seq 1 600); do
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
mkdir -p "$DEVDIR"
echo old >"$DEVDIR/dev-tokens.txt"
chmod 0644 "$DEVDIR/dev-tokens.txt"

first_tokens= first_op= kport=
for how in KILL HUP; do
        if [[ -z $kport ]]; then
                dev_start out.txt err.txt
                kport=${B##*:}
        else # the second start on the port given: Kafka finds its data there
                dev_start out.txt err.txt --kafka-port "$kport"
                [[ $B == "127.0.0.1:$kport" ]] || pb_fail "--kafka-port $kport: Kafka at $B"
        fi
        for f in dev-tokens.txt operator-token NEXT-STEPS.txt; do
                mode=$(stat -c %a "$DEVDIR/$f")
                [[ $mode == 600 ]] || pb_fail "$f has mode $mode, want 600"
        done
        if [[ -z $first_tokens ]]; then
                first_tokens=$(grep -v '^#' "$DEVDIR/dev-tokens.txt")
                first_op=$(cat "$DEVDIR/operator-token")
        else
                [[ $(grep -v '^#' "$DEVDIR/dev-tokens.txt") == "$first_tokens" ]] || pb_fail "tokens changed at the restart"
                [[ $(cat "$DEVDIR/operator-token") == "$first_op" ]] || pb_fail "operator token changed at the restart"
        fi
        grep -q "$first_op" err.txt || pb_fail "banner does not show the operator token"
        kids=("${dev_kids[@]}")
        [[ ${#kids[@]} -ge 4 ]] || pb_fail "expected Kafka, gateway and 2 relays as children of dev, found ${#kids[@]}"
        java=$(procs_of_dir "$DEVDIR/kafka" | head -n 1)
        [[ -n $java ]] || pb_fail "no Kafka of dev running"
        port=$(cat "$DEVDIR/gateway.port")
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || pb_fail "gateway not answering on $port"
        pb_log "dev $devpid with children ${kids[*]} (Kafka $java); sending SIG$how to dev alone"
        kill -"$how" "$devpid"
        wait_gone "$devpid" "${kids[@]}"
        wait "$devpid" 2>/dev/null || true
        devpid=
        dev_kids=()
        [[ -z $(procs_of_dir "$DEVDIR") ]] || pb_fail "a process of dev outlived it"
        # the port is free again: a new listener can take it
        python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',$port))" ||
                pb_fail "port $port still taken after SIG$how"
        pb_log "SIG$how: dev and its ${#kids[@]} children gone, port $port free"
        chmod 0644 "$DEVDIR/dev-tokens.txt" "$DEVDIR/operator-token"
done
echo "dev_hygiene: ok"
