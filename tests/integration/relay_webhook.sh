#!/usr/bin/env bash
# relay_webhook.sh: every valid example published to real Kafka reaches a
# real HTTP receiver through `partnerbus relay --sink webhook:` with the
# CloudEvents headers, Idempotency-Key = event id and HMAC signatures (v1
# and v2) the receiver verifies; /healthz, /readyz, /metrics answer; --where filters
# (filtered events are committed); SIGTERM exits 0 and commits, so a
# restarted relay in the same group delivers nothing again; batches arrive
# as JSON arrays.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
relay_setup_webhook rwh
TYPES=aid.dispatched,aid.delivered,funds.granted,partnership.founded
trap 'relay_cleanup ${RELAY_PID:-} $RECV_PID; relay_rm_tmp' EXIT

relay_publish_examples "$B" "$P"
"$PB_BIN" consume --brokers "$B" --topic-prefix "$P" -t $TYPES --from-beginning >"$PB_TMP/published.jsonl"
npub=$(wc -l <"$PB_TMP/published.jsonl")
[[ $npub -eq 13 ]] || pb_fail "expected 13 published examples, read $npub"

"$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t $TYPES \
        --sink "webhook:$RECV_URL/hook" --ops-listen 127.0.0.1:0 2>"$PB_TMP/relay.log" &
RELAY_PID=$!
pb_wait_for 20 relay_has_ops "$PB_TMP/relay.log"
OPS=$(relay_ops_port "$PB_TMP/relay.log")
pb_wait_for 60 relay_recv_at_least 13
curl -sf "http://127.0.0.1:$OPS/healthz" >/dev/null || pb_fail "/healthz"
curl -sf "http://127.0.0.1:$OPS/readyz" >/dev/null || pb_fail "/readyz not ready"
sleep 2 # a commit interval
ok=$(relay_metric "$OPS" 'partnerbus_relay_deliveries_total{sink="webhook",outcome="ok"}')
[[ $ok == 13 ]] || pb_fail "metric deliveries ok = $ok, expected 13"
kill -TERM $RELAY_PID
wait $RELAY_PID || pb_fail "relay exited $? after SIGTERM, expected 0"
RELAY_PID=

# headers, signature, content
python3 - "$RECV_OUT" "$PB_TMP/published.jsonl" <<'PY' || pb_fail "delivered events or headers wrong"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
pub = {}
for l in open(sys.argv[2], encoding="utf-8"):
    e = json.loads(l); pub[e["event_id"]] = e
assert len(got) == 13, len(got)
types = {"shipment_id": None}
for g in got:
    e, h = g["event"], g["headers"]
    eid = e["event_id"]
    assert pub.get(eid) == e, ("body differs", eid)
    assert h["idempotency-key"] == eid, h
    assert h["ce-id"] == eid and h["ce-specversion"] == "1.0", h
    assert h["ce-source"] == e["source"], h
    assert h["ce-time"] == e["occurred_at"], (h["ce-time"], e["occurred_at"])
    assert h["ce-type"] in ("aid.dispatched", "aid.delivered", "funds.granted", "partnership.founded"), h
    assert h["content-type"] == "application/json"
    assert h["x-partnerbus-signature"].startswith("t="), h
    assert ",v2=" in h["x-partnerbus-signature-v2"], h  # verified by the receiver
assert {g["event"]["event_id"] for g in got} == set(pub)
print("ok: 13 events, headers and bodies match")
PY
st=$(relay_recv_stats)
[[ $st == *'"bad_sig": 0'* ]] || pb_fail "receiver saw bad signatures: $st"

# restart in the same group: everything was committed, nothing comes again
"$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t $TYPES \
        --sink "webhook:$RECV_URL/hook" 2>"$PB_TMP/relay2.log" &
RELAY_PID=$!
sleep 6
kill -TERM $RELAY_PID; wait $RELAY_PID || pb_fail "second relay exit status"
RELAY_PID=
n=$(relay_recv_count)
[[ $n -eq 13 ]] || pb_fail "restart redelivered: $n events at the receiver"

# filter + batches: a new group, only Dnipropetrowsk shipments, in arrays;
# filtered events are committed (a rerun delivers nothing)
: >"$RECV_OUT"
"$PB_BIN" relay --brokers "$B" --group "${P}f" --topic-prefix "$P" -t $TYPES \
        --where type=aid.dispatched --where destination.oblast=Dnipropetrowsk \
        --webhook-batch-size 50 --sink "webhook:$RECV_URL/hook" --max-events 13 2>"$PB_TMP/relay3.log" ||
        pb_fail "filtered relay failed: $(tail -3 "$PB_TMP/relay3.log")"
want=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if (lambda e: "shipment_id" in e and "sender" in e and e["destination"].get("oblast")=="Dnipropetrowsk")(json.loads(l))))' "$PB_TMP/published.jsonl")
got=$(relay_recv_count)
[[ $want -ge 1 && $got -eq $want ]] || pb_fail "filter delivered $got, expected $want"
grep -q '"batch": ' "$RECV_OUT" && grep -q '"idempotency-key": "batch-' "$RECV_OUT" || pb_fail "batch requests lack their Idempotency-Key"
grep -q '"x-partnerbus-signature-v2": "t=' "$RECV_OUT" || pb_fail "batch requests lack the v2 signature"
st=$(relay_recv_stats)
[[ $st == *'"bad_sig": 0'* ]] || pb_fail "receiver saw bad signatures on batches: $st"
timeout 20 "$PB_BIN" relay --brokers "$B" --group "${P}f" --topic-prefix "$P" -t $TYPES \
        --where type=aid.dispatched --sink "webhook:$RECV_URL/hook" --max-events 1 2>/dev/null &
RELAY_PID=$!
sleep 6; kill -TERM $RELAY_PID 2>/dev/null; wait $RELAY_PID || true; RELAY_PID=
[[ $(relay_recv_count) -eq $want ]] || pb_fail "filtered events were redelivered"
pb_log "ok: examples delivered signed with CloudEvents headers; commit on SIGTERM; filter ($want of 13) and batches"
