#!/usr/bin/env bash
# relay_kill_group.sh: (1) a relay killed with SIGKILL mid-stream and
# restarted loses no event (duplicates only from the last uncommitted
# interval), with several requests in flight when it dies (up to 8, one
# per key); (2) two relays in one group share the partitions and together
# deliver every event (one request at a time each, so that the first one
# is still busy when the second joins).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
relay_setup_webhook rkill
trap 'relay_cleanup ${RELAY_PID:-} ${R2:-} $RECV_PID; relay_rm_tmp' EXIT
N=3000
relay_publish_gen "$B" "$P" $N 30 kill
run_relay() {
        "$PB_BIN" relay --brokers "$B" --group "$1" --topic-prefix "$P" -t aid.dispatched \
                --sink "webhook:$RECV_URL/hook" --commit-interval 200ms --ops-listen 127.0.0.1:0 \
                --webhook-max-in-flight "$3" 2>>"$2" &
}
# slow answers so that the kill lands mid-stream: at most 8 x 100 events/s
relay_recv_control '{"mode":"slow","delay":0.01}'
run_relay "${P}g" "$PB_TMP/relay1.log" 8; RELAY_PID=$!
pb_wait_for 60 relay_recv_at_least 500
kill -KILL $RELAY_PID; wait $RELAY_PID 2>/dev/null || true; RELAY_PID=
before=$(relay_recv_count)
[[ $before -lt $N ]] || pb_fail "relay finished before it was killed ($before)"
relay_recv_control '{"mode":"ok"}'
run_relay "${P}g" "$PB_TMP/relay1.log" 64; RELAY_PID=$!
pb_wait_for 120 relay_recv_distinct_at_least $N
kill -TERM $RELAY_PID; wait $RELAY_PID || pb_fail "relay exit status"; RELAY_PID=
total=$(relay_recv_count); distinct=$(relay_recv_distinct)
[[ $distinct -eq $N ]] || pb_fail "distinct $distinct != $N"
pb_log "SIGKILL after $before deliveries: $N distinct, $((total - distinct)) duplicates after restart"

# two relays, one group: the topic has 3 partitions
: >"$RECV_OUT"
relay_recv_control '{"mode":"slow","delay":0.005}'
run_relay "${P}shared" "$PB_TMP/r1.log" 1; RELAY_PID=$!
run_relay "${P}shared" "$PB_TMP/r2.log" 1; R2=$!
pb_wait_for 120 relay_recv_distinct_at_least $N
sleep 2
kill -TERM $RELAY_PID $R2
wait $RELAY_PID || pb_fail "relay 1 exit"; wait $R2 || pb_fail "relay 2 exit"; RELAY_PID=; R2=
o1=$(relay_metric_from_log "$PB_TMP/r1.log"); o2=$(relay_metric_from_log "$PB_TMP/r2.log")
pb_log "two relays: handled $o1 and $o2 events"
[[ $o1 -gt 0 && $o2 -gt 0 ]] || pb_fail "partitions not shared: $o1 / $o2"
[[ $(relay_recv_distinct) -eq $N ]] || pb_fail "two relays delivered $(relay_recv_distinct) distinct, expected $N"
pb_log "ok: no event lost across SIGKILL; two relays shared the partitions and delivered all $N"
