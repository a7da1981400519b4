#!/usr/bin/env bash
# relay_dlq_trust.sh: what a hostile or careless producer puts on a topic
# cannot pass the relay as something else (findings 16 and 17).
#  16a  with --where, an event the filter's JSON parser refuses (here over
#       1,000,000 nodes: 220,000 items) goes to the dead-letter topic with
#       reason unfilterable - it is not counted as filtered and skipped;
#  16b  a valid aid.delivered body on the aid.dispatched topic goes to the
#       dead-letter topic with reason type_mismatch, it is not delivered;
#  16c  incoming partnerbus_dlq_* headers (a producer pre-seeding a fake
#       reason) are dropped: each dead letter carries only the relay's own;
#  17   every webhook request carries X-Partnerbus-Signature-V2 (event id
#       and type signed too); the receiver refuses requests without it.
# Every check runs; the failures are listed together at the end.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
pb_require_cmd curl python3 kcat
B=$(pb_bootstrap)
P=$(pb_topic_name rtrust)-
Q=${P}src-
pb_tmpdir
export RECEIVER_SECRET=t-$RANDOM PARTNERBUS_WEBHOOK_SECRET
PARTNERBUS_WEBHOOK_SECRET=$RECEIVER_SECRET
relay_receiver_start a
trap 'relay_cleanup ${RELAY_PID:-} $RECV_PID; relay_rm_tmp' EXIT
relay_recv_control '{"require_v2": true}'
T=${P}aid.dispatched
FORGE=(-H partnerbus_dlq_reason=forged -H "partnerbus_dlq_detail=forged by the producer")
kprod() { timeout 60 kcat -b "$B" -P -t "$T" -X acks=all -X message.timeout.ms=30000 -X message.max.bytes=2000000 "$@" ||
        pb_fail "kcat could not publish to $T"; }

# the four aid.dispatched examples (delivered), plus sources for the crafted
# messages on other topics: one shipment with a marker item, one delivery
for f in "$PB_SOURCE_DIR"/schemas/examples/valid/aid.dispatched/*.json; do relay_compact "$f"; done |
        "$PB_BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" >/dev/null ||
        pb_fail "could not publish the examples"
python3 - "$PB_SOURCE_DIR"/schemas/examples/valid/aid.dispatched/fire-rescue-vehicles-koeln.json >"$PB_TMP/marker.json" <<'PY'
import json, sys, uuid
e = json.load(open(sys.argv[1], encoding="utf-8"))
e["event_id"] = str(uuid.uuid4())
e["items"] = [{"category": "VEHICLES", "description": "MARKER1", "quantity": 1, "unit": None}]
print(json.dumps(e, ensure_ascii=False))
PY
"$PB_BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$Q" <"$PB_TMP/marker.json" >/dev/null ||
        pb_fail "could not publish the marker event"
relay_compact "$(ls "$PB_SOURCE_DIR"/schemas/examples/valid/aid.delivered/*.json | head -n 1)" |
        "$PB_BIN" produce --brokers "$B" --type aid.delivered --topic-prefix "$Q" >/dev/null ||
        pb_fail "could not publish the aid.delivered example"
timeout 30 kcat -b "$B" -C -t "${Q}aid.dispatched" -o beginning -c 1 -e -q -f '%s' >"$PB_TMP/marker.bin" ||
        pb_fail "cannot read the marker event back"
timeout 30 kcat -b "$B" -C -t "${Q}aid.delivered" -o beginning -c 1 -e -q -f '%s' >"$PB_TMP/delivered.bin" ||
        pb_fail "cannot read the aid.delivered event back"

# 16a: the marker shipment with 220,000 minimal items (4 bytes each in Avro,
# 5 JSON nodes each): valid Avro, decodes, but too many nodes to parse
python3 - "$PB_TMP/marker.bin" "$PB_TMP/huge.bin" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
m = re.search(rb"\x02(.)\x0eMARKER1\x02\x00\x00", data, re.S)
assert m, "marker item not found in the Avro body"
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)
n = 220000
items = varint(n << 1) + (m.group(1) + b"\x00\x02\x00") * n + b"\x00"
open(sys.argv[2], "wb").write(data[:m.start()] + items + data[m.end():])
PY
kprod -k huge "$PB_TMP/huge.bin"
# 16b + 16c: an aid.delivered body on the aid.dispatched topic, with forged
# dead-letter headers
kprod -k mismatch "${FORGE[@]}" "$PB_TMP/delivered.bin"
# 16c: raw garbage with forged dead-letter headers (undecodable on any code)
printf 'garbage, not avro\n' | kprod -k garbage "${FORGE[@]}"
relay_publish_gen "$B" "$P" 3 3 tail

"$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t aid.dispatched \
        --where destination.country=UA --sink "webhook:$RECV_URL/hook" --ops-listen 127.0.0.1:0 \
        --retry-initial 100ms --retry-max-backoff 1s 2>"$PB_TMP/relay.log" &
RELAY_PID=$!
pb_wait_for 20 relay_has_ops "$PB_TMP/relay.log"
OPS=$(relay_ops_port "$PB_TMP/relay.log")
dlq_count() { timeout 20 kcat -b "$B" -C -t "${T}.dlq" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l; }
# 4 examples + 3 generated should arrive; 3 messages should be dead letters
for _ in $(seq 1 150); do
        [[ $(relay_recv_count) -ge 7 && $(dlq_count) -ge 3 ]] && break
        sleep 0.4
done
sleep 2 # a commit interval
filtered=$(relay_metric "$OPS" 'partnerbus_relay_filtered_total{topic="'"$T"'"}')
kill -TERM $RELAY_PID; wait $RELAY_PID || pb_fail "relay exit status after SIGTERM"; RELAY_PID=
timeout 30 kcat -b "$B" -C -t "${T}.dlq" -o beginning -e -q -f '%k|%h\n' >"$PB_TMP/dlq.txt" 2>/dev/null || true
pb_log "dead letters: $(cut -c1-300 "$PB_TMP/dlq.txt")"
st=$(relay_recv_stats)
pb_log "receiver: $st; filtered=$filtered"

fails=()
dl() { grep -a "^$1|" "$PB_TMP/dlq.txt" || true; }
# 16a
dl huge | grep -aq 'partnerbus_dlq_reason=unfilterable' || fails+=("16a: the unparseable event is not in the DLQ with reason unfilterable")
dl huge | grep -aq 'partnerbus_dlq_detail=--where cannot parse' || fails+=("16a: its DLQ detail does not say why")
[[ $filtered == 0 ]] || fails+=("16a: $filtered event(s) counted as filtered (none match nothing here)")
# 16b
dl mismatch | grep -aq 'partnerbus_dlq_reason=type_mismatch' || fails+=("16b: the aid.delivered body on aid.dispatched is not in the DLQ as type_mismatch")
dl mismatch | grep -aq 'belongs on topic' || fails+=("16b: the DLQ detail does not name the topic it belongs on")
grep -aq '"ce-type": "aid.delivered"' "$RECV_OUT" && fails+=("16b: an aid.delivered event was delivered from the aid.dispatched topic")
# 16c
grep -aq 'forged' "$PB_TMP/dlq.txt" && fails+=("16c: forged partnerbus_dlq_* headers reached the DLQ")
for k in garbage mismatch; do
        [[ $(dl $k | grep -ao 'partnerbus_dlq_reason=' | wc -l) -eq 1 ]] || fails+=("16c: the $k dead letter does not carry exactly one reason header")
done
dl garbage | grep -aq 'partnerbus_dlq_reason=undecodable' || fails+=("16c: the garbage dead letter lacks the relay's own reason")
# 17
got=$(relay_recv_count)
[[ $got -eq 7 ]] || fails+=("17: the receiver (requiring v2) accepted $got events, expected 7")
[[ $st == *'"bad_sig": 0'* ]] || fails+=("17: the receiver refused signatures: $st")
python3 - "$RECV_OUT" "$RECEIVER_SECRET" <<'PY' || fails+=("17: v2 header missing or not bound to event id and type")
import json, sys
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert got
for g in got:
    h = g["headers"]
    assert h["x-partnerbus-signature"].startswith("t="), h   # v1 kept
    assert "v2=" in h["x-partnerbus-signature-v2"], h
    assert h["ce-type"] == "aid.dispatched" and h["ce-id"] == g["event"]["event_id"], h
PY
# a v2 signature does not verify once ce-type or the id is changed
python3 - "$RECV_OUT" "$RECEIVER_SECRET" <<'PY' || fails+=("17: a tampered type or id still verifies")
import hashlib, hmac, json, sys
g = json.loads(open(sys.argv[1], encoding="utf-8").readline())
h, secret = g["headers"], sys.argv[2].encode()
p = dict(x.split("=", 1) for x in h["x-partnerbus-signature-v2"].split(","))
body = json.dumps(g["event"], ensure_ascii=False, separators=(",", ":")).encode()
def v2(eid, typ):
    s = ("v2\n%s\n%s\n%s\n" % (p["t"], eid, typ)).encode() + body
    return hmac.new(secret, s, hashlib.sha256).hexdigest()
assert v2(h["idempotency-key"], "funds.granted") != p["v2"]
assert v2("00000000-0000-4000-8000-000000000000", h["ce-type"]) != p["v2"]
PY
if ((${#fails[@]})); then
        printf '%s\n' "${fails[@]}" >&2
        pb_fail "${#fails[@]} check(s) failed"
fi
pb_log "ok: unparseable, mistyped and forged-header events dead-lettered with the relay's own reasons; v2 signatures bind event id and type"
