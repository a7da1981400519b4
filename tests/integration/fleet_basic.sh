#!/usr/bin/env bash
# fleet_basic.sh: `partnerbus fleet` runs subscriptions from records written
# straight into the compacted topics (as `partnerbus admin` writes them), to
# a real HTTP receiver: every matching event arrives, signed (v1 and v2,
# verified by the receiver), without the projected-away fields, with the
# agreement header; a changed filter applies within 5 s; the organisation's
# mandatory read filter cannot be widened by the subscription's filter;
# suspend -> nothing, resume -> the backlog; retransmit from T -> redelivered
# from T; status records HEALTHY, SUSPENDED, and UNREACHABLE for a
# subscription whose receiver is down; a deleted subscription stops; a
# subscription of single events without a rate limit keeps several requests
# in flight (a receiver answering after 0.5 s sees them overlap), a batching
# or rate-limited one sends one request at a time.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
source "$(dirname "$0")/../relay/fleet_lib.sh"
relay_setup_webhook flb "$KCAT"
fleet_topics
# receiver b for a batching subscription; a stays RECV_URL / RECV_OUT
RECV_A=$RECV_PID URL_A=$RECV_URL OUT_A=$RECV_OUT
relay_receiver_start b
RECV_B=$RECV_PID URL_B=$RECV_URL OUT_B=$RECV_OUT
RECV_PID=$RECV_A RECV_URL=$URL_A RECV_OUT=$OUT_A
trap 'relay_cleanup ${FLEET_PID:-} $RECV_A $RECV_B; relay_rm_tmp' EXIT

SID=$(fleet_uuid)
DEAD=$(fleet_uuid)
BSUB=$(fleet_uuid)
DEAD_URL=http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')/hook
# the oblast administration reads shipments to its oblast only
ORG=$(fleet_org oblast-dnipro 'read=[{"type":"aid.dispatched","where":"destination.oblast=Dnipropetrowsk"},{"type":"aid.delivered"}]')
sub1() {
        fleet_sub "$SID" oblast-dnipro "$RECV_URL/hook" \
                'projection={"exclude":["/sender","/declared_value"]}' \
                'agreement="DSA-2026-007"' "$@"
}

fleet_start f1
fleet_publish 20 b1
# 12 confirmations of one shipment (one key, one partition), waiting
python3 - "$PB_SOURCE_DIR/schemas/examples/valid/aid.delivered/dnipro-generators-partial.json" <<'PY' |
import json, sys, uuid
base = json.load(open(sys.argv[1], encoding="utf-8"))
for i in range(12):
    base["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "fleet-basic-delivered/%d" % i))
    print(json.dumps(base, ensure_ascii=False, separators=(",", ":")))
PY
        "$PB_BIN" produce --brokers "$B" --type aid.delivered --topic-prefix "$P" >/dev/null ||
        pb_fail "could not publish aid.delivered"
fleet_record "$ORGS" oblast-dnipro "$ORG"
relay_recv_control '{"mode": "slow", "delay": 0.5}'
fleet_record "$SUBS" "$SID" "$(sub1 'where="items.category=GENERATORS"')"
fleet_record "$SUBS" "$DEAD" "$(fleet_sub "$DEAD" oblast-dnipro "$DEAD_URL")"
fleet_record "$SUBS" "$BSUB" "$(fleet_sub "$BSUB" oblast-dnipro "$URL_B/hook" 'topics=["aid.delivered"]' batch_size=4 rate_limit_per_s=50)"

# b1: Dnipropetrowsk (mandatory) AND GENERATORS (the subscription's filter)
b1='e["shipment_id"].startswith("S-b1-")'
pb_wait_for 60 fleet_count_is "$b1" 5
relay_recv_control '{"mode": "ok"}'
conc=$(relay_recv_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_concurrent"])')
[[ $conc -ge 2 ]] || pb_fail "the subscription's webhook had at most $conc request in flight, expected overlapping requests"
grep -q "group=partnerbus.sub.$SID msg=\"subscription started\" pipeline=key" "$PB_TMP/fleet-f1.log" ||
        pb_fail "the subscription of single events did not use the pipeline"
grep -q "group=partnerbus.sub.$BSUB msg=\"subscription started\" pipeline=off" "$PB_TMP/fleet-f1.log" ||
        pb_fail "the batching, rate-limited subscription used the pipeline"
pb_wait_for 30 fleet_state_is "$SID" HEALTHY
pb_wait_for 30 fleet_state_is "$DEAD" UNREACHABLE
python3 - "$RECV_OUT" <<'PY' || pb_fail "delivered events wrong (projection, agreement, filter)"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert got
for g in got:
    e, h = g["event"], g["headers"]
    assert "sender" not in e and "declared_value" not in e, e
    assert e["event_id"] and e["destination"]["oblast"] == "Dnipropetrowsk", e
    assert e["items"][0]["category"] == "GENERATORS", e
    assert h["x-partnerbus-agreement"] == "DSA-2026-007", h
    assert h["idempotency-key"] == e["event_id"] and h["ce-type"] == "aid.dispatched", h
    assert ",v2=" in h["x-partnerbus-signature-v2"], h
print("ok: projected, filtered, agreement header")
PY
# the batching subscription: the 12 confirmations in JSON arrays of at
# most 4 (a backlog in one partition fills them), signed
b_ok() { [[ $(RECV_OUT=$OUT_B relay_recv_distinct) == 12 ]]; }
pb_wait_for 60 b_ok
python3 - "$OUT_B" <<'PY' || pb_fail "batches wrong"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert all(1 <= g["batch"] <= 4 for g in got), [g["batch"] for g in got]
assert any(g["batch"] == 4 for g in got), [g["batch"] for g in got]
assert all(g["event"]["shipment_id"] == "BGK-2022-12-GEN" for g in got)
assert all(g["headers"]["x-partnerbus-batch-size"] == str(g["batch"]) for g in got)
print("ok: batches", sorted({g["batch"] for g in got}))
PY
st=$(RECV_URL=$URL_B relay_recv_stats)
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["bad_sig"]==0 and s["v2_ok"]==s["accepted"]>=3, s' "$st" ||
        pb_fail "batch signatures not verified: $st"
st=$(relay_recv_stats)
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["bad_sig"]==0 and s["v2_ok"]==s["accepted"]>=5, s' "$st" ||
        pb_fail "signatures not verified: $st"

# an event the receiver refuses (400) is dead-lettered at once: the
# batching subscription turns MALFUNCTIONING and its status names it
RECV_URL=$URL_B relay_recv_control '{"reject_field": "note", "reject_value": "refuse-me"}'
python3 - "$PB_SOURCE_DIR/schemas/examples/valid/aid.delivered/dnipro-generators-partial.json" <<'PY' |
import json, sys
e = json.load(open(sys.argv[1], encoding="utf-8"))
e["event_id"] = "0b5e2f4c-1d3a-4e6f-9a8b-7c6d5e4f3a2b"
e["note"] = "refuse-me"
print(json.dumps(e, ensure_ascii=False, separators=(",", ":")))
PY
        "$PB_BIN" produce --brokers "$B" --type aid.delivered --topic-prefix "$P" >/dev/null ||
        pb_fail "could not publish the refused event"
pb_wait_for 30 fleet_state_is "$BSUB" MALFUNCTIONING
fleet_status "$BSUB" | python3 -c '
import json, sys
s = json.load(sys.stdin)
d = s["dead_letters"]
assert d and d[-1]["event_id"] == "0b5e2f4c-1d3a-4e6f-9a8b-7c6d5e4f3a2b", s
assert "400" in d[-1]["reason"] and d[-1]["topic"].endswith("aid.delivered"), s
assert s["errors"] and s["errors"][-1]["status"] == 400, s
assert s["delivered"] >= 12 and s["member"] == "f1", s
' || pb_fail "status of the dead-lettering subscription: $(fleet_status "$BSUB")"

# a deleted subscription stops (its worker leaves; nothing more is tried)
fleet_tombstone "$SUBS" "$DEAD"
pb_wait_line $FLEET_PID "$PB_TMP/fleet-f1.log" "subscription=$DEAD msg=\"stopping\"" \
        "fleet exited" "deleted subscription not stopped"
pb_wait_for 30 fleet_state_is "$DEAD" NONE # its status is deleted too

# change the filter: the subscription tries to widen the mandatory filter
# (Poltava too) and drops the category; 5 s later it applies, Poltava does not
fleet_record "$SUBS" "$SID" "$(sub1 'where="destination.oblast=Poltava|Dnipropetrowsk"' version=2)"
sleep 5
T2=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
sleep 1
fleet_publish 20 b2
b2='e["shipment_id"].startswith("S-b2-")'
pb_wait_for 30 fleet_count_is "$b2" 10
[[ $(fleet_count "$b2 and e[\"destination\"][\"oblast\"] != \"Dnipropetrowsk\"") == 0 ]] ||
        pb_fail "the subscription's filter widened the organisation's mandatory filter"
[[ $(fleet_count "$b2 and e[\"items\"][0][\"category\"] == \"MEDICINES\"") == 5 ]] ||
        pb_fail "the changed filter was not applied within 5 s"

# suspend: nothing is delivered; resume: the backlog arrives
fleet_record "$SUBS" "$SID" "$(sub1 'where="destination.oblast=Poltava|Dnipropetrowsk"' 'state="suspended"' version=3)"
pb_wait_for 30 fleet_state_is "$SID" SUSPENDED
before=$(relay_recv_count)
fleet_publish 10 b3
sleep 6
[[ $(relay_recv_count) == "$before" ]] || pb_fail "a suspended subscription delivered events"
fleet_record "$SUBS" "$SID" "$(sub1 'where="destination.oblast=Poltava|Dnipropetrowsk"' version=4)"
b3='e["shipment_id"].startswith("S-b3-")'
pb_wait_for 60 fleet_count_is "$b3" 5
pb_wait_for 30 fleet_state_is "$SID" HEALTHY

# retransmit from T2: b2 and b3 again, b1 not
fleet_record "$SUBS" "$SID" "$(sub1 'where="destination.oblast=Poltava|Dnipropetrowsk"' \
        "retransmit={\"from\":\"$T2\",\"seq\":1}" version=5)"
pb_wait_for 60 fleet_count_is "$b3" 10
pb_wait_for 30 fleet_count_is "$b2" 20
sleep 3
[[ $(fleet_count "$b1") == 5 ]] || pb_fail "retransmit from $T2 redelivered earlier events"
[[ $(fleet_count "$b2") == 20 && $(fleet_count "$b3") == 10 ]] ||
        pb_fail "retransmit delivered more than once: b2 $(fleet_count "$b2") b3 $(fleet_count "$b3")"

kill -TERM $FLEET_PID
wait $FLEET_PID || pb_fail "fleet exited $? after SIGTERM, expected 0"
FLEET_PID=
grep -q "$RECEIVER_SECRET" "$PB_TMP"/fleet-f1.log && pb_fail "the log shows a secret"
echo "ok: fleet basic"
