#!/usr/bin/env bash
# fleet_failover.sh: two `partnerbus fleet` processes share a subscription
# (consumer group partnerbus.sub.<id>, both deliver); one is SIGKILLed while
# a backlog is being delivered to a real HTTP receiver; the other takes over
# its partitions and every event arrives - none lost. Repeated deliveries (events
# confirmed by the receiver but not yet committed by the killed process) are
# allowed: they are counted and printed.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
source "$(dirname "$0")/../relay/fleet_lib.sh"
relay_setup_webhook flf "$KCAT"
fleet_topics
trap 'relay_cleanup ${F1:-} ${F2:-} $RECV_PID; relay_rm_tmp' EXIT
N=3000
SID=$(fleet_uuid)
ok='partnerbus_relay_deliveries_total{sink="webhook",outcome="ok"}'

fleet_start f1 --session-timeout 6s --ops-listen 127.0.0.1:0
F1=$FLEET_PID
fleet_start f2 --session-timeout 6s --ops-listen 127.0.0.1:0
F2=$FLEET_PID
P1=$(relay_ops_port "$PB_TMP/fleet-f1.log")
P2=$(relay_ops_port "$PB_TMP/fleet-f2.log")
relay_recv_control '{"mode": "slow", "delay": 0.003}'
fleet_record "$ORGS" ngo-a "$(fleet_org ngo-a 'read=[{"type":"aid.dispatched"}]')"
fleet_record "$SUBS" "$SID" "$(fleet_sub "$SID" ngo-a "$RECV_URL/hook")"
pb_wait_line $F1 "$PB_TMP/fleet-f1.log" 'msg="subscription started"' "f1 exited" "f1 did not start the subscription"
pb_wait_line $F2 "$PB_TMP/fleet-f2.log" 'msg="subscription started"' "f2 exited" "f2 did not start the subscription"
fleet_publish $N load

delivering() { (($(relay_metric "$1" "$ok") > 0)); }
pb_wait_for 60 delivering "$P1"
pb_wait_for 60 delivering "$P2"
kill -KILL $F1
wait $F1 2>/dev/null || true
F1=
got=$(relay_recv_count)
((got < N)) || pb_fail "the backlog was delivered before the kill ($got); the test proves nothing"
echo "killed f1 after $got receipts"

pb_wait_for 120 relay_recv_distinct_at_least $N
sleep 3 # anything still in flight
distinct=$(relay_recv_distinct)
total=$(relay_recv_count)
[[ $distinct == "$N" ]] || pb_fail "distinct events $distinct, expected $N"
python3 - "$RECV_OUT" "$PB_TMP/ev-load.jsonl" <<'PY' || pb_fail "delivered ids differ from the published ones"
import json, sys
got = {json.loads(l)["event"]["event_id"] for l in open(sys.argv[1], encoding="utf-8")}
pub = {json.loads(l)["event_id"] for l in open(sys.argv[2], encoding="utf-8")}
assert got == pub, (len(got - pub), len(pub - got))
PY
echo "ok: $N events delivered after SIGKILL of one fleet process; delivered twice: $((total - distinct))"
kill -TERM $F2
wait $F2 || pb_fail "f2 exited $? after SIGTERM, expected 0"
F2=
