#!/usr/bin/env bash
# bench/fleet.sh: one `partnerbus fleet` process running 100 subscriptions
# (SUBS=N to change) on one broker on this machine:
#   - idle: RSS, threads and CPU (% of one core over 20 s) with every
#     subscription joined and nothing to deliver;
#   - throughput: EVENTS aid.dispatched events (default 2000) are
#     published; every subscription gets every event, one per request
#     (BATCH=N for batches), to 10 receivers (bench/relay_receiver.c, 10
#     subscriptions each): deliveries/s from the start of publishing to the
#     last confirmed delivery (the fleet's /metrics), the peak RSS and
#     threads;
#   - time from a subscription change to its effect, from the record's write
#     (before kcat) to the fleet's log line, 5 times each: a changed
#     setting swapped into the running worker ("settings applied"), a
#     suspend (worker stopped, offsets committed, group left), a resume
#     (worker started; its group join follows).
# Usage: bench/fleet.sh [--brokers HOST:PORT] [--bin PATH]
#   (SUBS, EVENTS, BATCH, FLEET_ARGS="--queue-size 1MiB" in the environment)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init 20 "$@"
NSUB=${SUBS:-100}
EVENTS=${EVENTS:-2000}
BATCH=${BATCH:-1}
P=bench-fleet-$(date +%s)-
SUBT=${P}subs ORGT=${P}orgs STT=${P}status
cc -O2 -o "$tmp/recv" "$src/bench/relay_receiver.c" $(pkg-config --cflags --libs libmicrohttpd)
RECV_PIDS=()
ports=()
for i in $(seq 0 9); do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        "$tmp/recv" "$port" "$tmp/recv-$i.stats" &
        RECV_PIDS+=($!)
        ports+=("$port")
done
trap 'kill ${FLEET:-} "${RECV_PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; [[ -n ${KEEP_LOG:-} ]] && cp "$tmp/fleet.log" "$KEEP_LOG"; bench_cleanup' EXIT

now() { date +%s.%N; }
record() { printf '%s\t%s\n' "$2" "$3" | kcat -b "$B" -P -t "$1" -K $'\t' -X acks=all; }
metric() { curl -sf "http://127.0.0.1:$OPS/metrics" | awk -v s="$1" 'index($0, s" ") == 1 { v=$2 } END { print v+0 }'; }
procstat() { # RSS_KiB THREADS CPU_TICKS
        awk '/^VmRSS/ {r=$2} /^Threads/ {t=$2} END {printf "%s %s ", r, t}' /proc/$FLEET/status
        awk '{print $14 + $15}' /proc/$FLEET/stat
}
sub_json() { # ID PORT STATE [AGREEMENT]
        printf '{"id":"%s","org":"bench","topics":["aid.dispatched"],"endpoint":"http://127.0.0.1:%s/hook","batch_size":%s,"secret":"bench-secret","state":"%s","agreement":"%s"}' \
                "$1" "$2" "$BATCH" "$3" "${4:-A1}"
}

"$BIN" fleet --brokers "$B" --topic-prefix "$P" --subscriptions-topic "$SUBT" --orgs-topic "$ORGT" \
        --status-topic "$STT" --ops-listen 127.0.0.1:0 ${FLEET_ARGS:-} 2>"$tmp/fleet.log" &
FLEET=$!
for _ in $(seq 100); do grep -q 'msg="fleet started"' "$tmp/fleet.log" 2>/dev/null && break; sleep 0.2; done
OPS=$(sed -n 's/.*msg="ops endpoint" port=\([0-9]*\).*/\1/p' "$tmp/fleet.log" | head -n 1)
read -r rss0 thr0 _ < <(procstat)
echo "fleet with no subscription: RSS $((rss0 / 1024)) MiB, $thr0 threads"
# one event waits before the subscriptions start
python3 "$src/tests/relay/gen_events.py" 1 1 --seed fleetbench-first |
        "$BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" >/dev/null 2>&1
record "$ORGT" bench '{"id":"bench","read":[{"type":"aid.dispatched"}]}'
mapfile -t IDS < <(python3 -c "import uuid; [print(uuid.uuid4()) for _ in range($NSUB)]")
for i in $(seq 0 $((NSUB - 1))); do
        printf '%s\t%s\n' "${IDS[$i]}" "$(sub_json "${IDS[$i]}" "${ports[$((i % 10))]}" active)"
done >"$tmp/subs.tsv"
tc=$(now)
kcat -b "$B" -P -t "$SUBT" -K $'\t' -X acks=all <"$tmp/subs.tsv"
# joined: every subscription delivered that event
okd() { metric 'partnerbus_relay_deliveries_total{sink="webhook",outcome="ok"}'; }
for _ in $(seq 600); do (($(okd) >= NSUB)) && break; sleep 0.1; done
python3 -c "import sys,time; print('%d subscriptions created at once -> each delivered its first event: %.1f s' % ($NSUB, time.time()-float(sys.argv[1])))" "$tc"
sleep 10
read -r rss1 thr1 c1 < <(procstat)
sleep 20
read -r rss2 thr2 c2 < <(procstat)
hz=$(getconf CLK_TCK)
python3 -c "import sys; c=(int(sys.argv[2])-int(sys.argv[1]))/$hz/20*100; print('idle with %d subscriptions: RSS %d MiB, %s threads, CPU %.1f %% of one core (20 s)' % ($NSUB, int(sys.argv[3])//1024, sys.argv[4], c))" "$c1" "$c2" "$rss2" "$thr2"

python3 "$src/tests/relay/gen_events.py" "$EVENTS" 100 --seed fleetbench >"$tmp/ev.jsonl"
want=$((NSUB * (EVENTS + 1)))
peak_rss=0 peak_thr=0
first=
t0=$(now)
"$BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" <"$tmp/ev.jsonl" >/dev/null 2>&1
tp=$(now)
while :; do
        d=$(metric 'partnerbus_relay_deliveries_total{sink="webhook",outcome="ok"}')
        read -r rss thr _ < <(procstat)
        ((rss > peak_rss)) && peak_rss=$rss
        ((thr > peak_thr)) && peak_thr=$thr
        ((${d%.*} >= want)) && break
        sleep 0.2
done
t1=$(now)
python3 -c "import sys; t0,tp,t1,n=map(float,sys.argv[1:]); n-=$NSUB; print('throughput: %d deliveries (%d subscriptions x %d events, batch %s, 10 receivers) in %.1f s from the first publish = %.0f deliveries/s (publishing took %.1f s)' % (n, $NSUB, $EVENTS, '$BATCH', t1-t0, n/(t1-t0), tp-t0))" "$t0" "$tp" "$t1" "$want"
echo "  peak while delivering: RSS $((peak_rss / 1024)) MiB, $peak_thr threads"

# change -> effect, from the fleet's log (ts=... lines)
logts() { # GROUP-or-ID PATTERN AFTER_LINE: first ts of a matching line after line AFTER
        awk -v n="$3" 'NR > n' "$tmp/fleet.log" | grep -F "$1" | grep -F "$2" | head -n 1 | sed 's/^ts=\([^ ]*\) .*/\1/'
}
lat() { python3 -c "import sys,datetime; t=datetime.datetime.strptime(sys.argv[2],'%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc).timestamp(); print('%.0f' % ((t-float(sys.argv[1]))*1000))" "$1" "$2"; }
waitlog() { # ID PATTERN AFTER -> ts
        local ts
        for _ in $(seq 150); do
                ts=$(logts "$1" "$2" "$3")
                [[ -n $ts ]] && { echo "$ts"; return; }
                sleep 0.1
        done
        echo "timeout waiting for $2 of $1" >&2
        exit 1
}
declare -a L_SET L_SUS L_RES
for k in 1 2 3 4 5; do
        id=${IDS[$k]} port=${ports[$((k % 10))]}
        n=$(wc -l <"$tmp/fleet.log"); t=$(now)
        record "$SUBT" "$id" "$(sub_json "$id" "$port" active "A$k-x")"
        L_SET+=("$(lat "$t" "$(waitlog "partnerbus.sub.$id" 'settings applied' "$n")")")
        n=$(wc -l <"$tmp/fleet.log"); t=$(now)
        record "$SUBT" "$id" "$(sub_json "$id" "$port" suspended "A$k-x")"
        L_SUS+=("$(lat "$t" "$(waitlog "partnerbus.sub.$id" 'relay stopped' "$n")")")
        n=$(wc -l <"$tmp/fleet.log"); t=$(now)
        record "$SUBT" "$id" "$(sub_json "$id" "$port" active "A$k-x")"
        L_RES+=("$(lat "$t" "$(waitlog "partnerbus.sub.$id" 'subscription started' "$n")")")
done
echo "change -> effect (ms, 5 runs): setting swapped ${L_SET[*]}; suspend (stopped) ${L_SUS[*]}; resume (started) ${L_RES[*]}"
kill -TERM $FLEET
t=$(now)
wait $FLEET || true
python3 -c "import sys,time; print('SIGTERM -> exit with %d subscriptions: %.1f s' % ($NSUB, time.time()-float(sys.argv[1])))" "$t"
FLEET=
