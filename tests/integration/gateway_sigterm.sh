#!/usr/bin/env bash
# gateway_sigterm.sh: SIGTERM with requests in flight. The producer lingers
# 300 ms (-X linger.ms=300) so requests are waiting for Kafka when the
# signal comes. Expect: the gateway exits 0, stops accepting connections,
# and every event it answered 2xx is in the topic (exactly once).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup curl jq python3
gw_start_example term gwterm -X linger.ms=300
P=$GW_PORT
O=$GW_OPS
PID=$GW_PID
# warm up (topic creation)
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched application/json "$EX"
expect_code 201 "first event"
echo "$(jq -r .event_id "$EX")" >"$PB_TMP/warm.txt"

gw_loadgen "$P" --threads 16 --seconds 4
sleep 1
# the signal goes right after /metrics showed at least two requests in
# flight (they wait up to 300 ms for Kafka); one sample at a fixed time
# could fall between the producer's batch being answered and the load
# generator's next requests
inflight=0
for _ in $(seq 25); do
        inflight=$(curl -s "http://127.0.0.1:$O/metrics" | awk '/^partnerbus_gateway_inflight_requests /{print $2}')
        awk -v n="$inflight" 'BEGIN { exit !(n + 0 >= 2) }' && break
        sleep 0.1
done
gw_term "$PID"
rc=$GW_RC
wait "$LG" || true
pb_log "exit status $rc; in flight at SIGTERM: $inflight; $(cat "$PB_TMP/loadgen.out")"
[[ $rc == 0 ]] || { tail -20 "$PB_TMP/term.log" >&2; pb_fail "gateway exited $rc after SIGTERM"; }
grep -q 'flushed=yes' "$PB_TMP/term.log" || pb_fail "producer not flushed at exit"
awk -v n="$inflight" 'BEGIN { exit !(n + 0 >= 2) }' || pb_fail "no requests in flight at SIGTERM ($inflight): the test proves nothing"
curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$P/healthz" && pb_fail "still accepting connections after exit"
acc=$(wc -l <"$PB_TMP/accepted.txt")
((acc > 0)) || pb_fail "nothing accepted"
gw_exactly_once "$B" "$PFX" "$PB_TMP/accepted.txt" "$PB_TMP/warm.txt"
