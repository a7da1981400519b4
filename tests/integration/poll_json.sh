#!/usr/bin/env bash
# partnerbus poll against real Kafka: a JSON list of shipments (records at a
# JSON Pointer, items mapped with "each"), a paginated feed (next link in
# the body, then a Link header), and a poller killed with SIGKILL in the
# middle of a 50,000-record feed and restarted: afterwards every record is
# in the topic, and the restarted poller re-sent only what was in flight
# (same event_id, so receivers drop it); a third poll publishes nothing.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/poll_common.bash"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_tmpdir
poll_start_server
PFX=$(pb_topic_name polljson)-
MAP=$FEEDS/shipments.map.json
poll() { "$PB_BIN" poll --brokers "$B" --topic-prefix "$PFX" --type aid.dispatched --map "$MAP" \
        --once --retries 1 --retry-backoff 100ms "$@"; }

# 1. JSON list
poll --url "$BASE/shipments.json" 2>"$PB_TMP/j1.log" || { cat "$PB_TMP/j1.log" >&2; pb_fail "json poll failed"; }
poll_consume aid.dispatched >"$PB_TMP/e1"
expect_eq "shipments" "$(wc -l <"$PB_TMP/e1")" 3
python3 - "$PB_TMP/e1" <<'PY' || pb_fail "shipment events differ from the feed"
import json, sys
ms = [json.loads(l) for l in open(sys.argv[1])]
ev = {m["event"]["shipment_id"]: m for m in ms}
med = ev["BGK-2023-03-MED"]
assert med["key"] == "BGK-2023-03-MED", med["key"]
e = med["event"]
assert [i["category"] for i in e["items"]] == ["MEDICAL_SUPPLIES", "MEDICINES"], e["items"]
assert e["items"][0]["unit"] == "pallets" and e["items"][0]["quantity"] == 12
assert e["declared_value"] == "58250.50", e["declared_value"]
assert e["destination"]["country"] == "UA"  # schema default
assert ev["BGK-2022-12-GEN"]["event"]["declared_value"] == "143000.00"
assert ev["KOELN-2023-FW"]["event"]["sender"]["kind"] == "MUNICIPALITY"
assert ev["KOELN-2023-FW"]["event"]["occurred_at"] == "2023-05-02T00:00:00.000Z"
assert med["headers"]["ce_id"] == e["event_id"], med["headers"]
PY
poll --url "$BASE/shipments.json" 2>"$PB_TMP/j2.log"
grep -q 'outcome=not_modified' "$PB_TMP/j2.log" || pb_fail "unchanged json: $(cat "$PB_TMP/j2.log")"
python3 - "$FEEDS/shipments.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["shipments"][2]["load"][0]["count"] = 3
json.dump(d, open(sys.argv[1], "w"), ensure_ascii=False)
PY
poll --url "$BASE/shipments.json" 2>"$PB_TMP/j3.log"
grep -q 'published=1 unchanged=2' "$PB_TMP/j3.log" || pb_fail "changed json: $(cat "$PB_TMP/j3.log")"
expect_eq "shipments after one change" "$(poll_count aid.dispatched)" 4

# 2. paginated: body next link (page 1 -> 2), Link header (2 -> 3)
poll --url "$BASE/paged.json?page=1" --records-pointer /data --next-pointer /links/next 2>"$PB_TMP/p1.log" ||
        { cat "$PB_TMP/p1.log" >&2; pb_fail "paged poll failed"; }
grep -q 'pages=3 records=3 published=3' "$PB_TMP/p1.log" || pb_fail "paged: $(cat "$PB_TMP/p1.log")"
expect_eq "shipments after the paginated feed" "$(poll_count aid.dispatched)" 7
poll --url "$BASE/paged.json?page=1" --records-pointer /data --next-pointer /links/next 2>"$PB_TMP/p2.log"
grep -q 'pages=3 records=3 published=0 unchanged=3' "$PB_TMP/p2.log" || pb_fail "paged again: $(cat "$PB_TMP/p2.log")"
expect_eq "shipments after polling the pages again" "$(poll_count aid.dispatched)" 7

# 3. SIGKILL in the middle of a big feed (50,000 records), then restart
N=50000
python3 - "$FEEDS/big.json" "$N" <<'PY'
import json, sys
n = int(sys.argv[2])
rows = [{"id": "BIG-%06d" % i, "from": {"name": "Stadt Köln", "type": "Stadt", "city": "Köln"},
         "to": {"city": "Dnipro", "oblast": "Dnipropetrowsk"}, "date": "2023-01-%02d" % (1 + i % 28),
         "load": [{"kind": "Medizin", "what": "Paket %d" % i, "count": 1 + i % 50}], "value_eur": "%d,00" % (i % 999)}
        for i in range(n)]
json.dump({"shipments": rows}, open(sys.argv[1], "w"), ensure_ascii=False)
PY
BIGPFX=$(pb_topic_name pollkill)-
bigpoll() { "$PB_BIN" poll --brokers "$B" --topic-prefix "$BIGPFX" --type aid.dispatched --map "$MAP" \
        --url "$BASE/big.json" --retries 1 --retry-backoff 100ms "$@"; }
# a small producer queue and a long linger slow the first run down (about
# 10,000 events/s) so that the kill lands in the middle of publishing
"$PB_BIN" poll --brokers "$B" --topic-prefix "$BIGPFX" --type aid.dispatched --map "$MAP" \
        --url "$BASE/big.json" --interval 1h -X linger.ms=100 -X queue.buffering.max.messages=1000 \
        2>"$PB_TMP/k1.log" &
PID=$!
# shellcheck disable=SC2064
trap "kill -9 $PID 2>/dev/null || true; kill $SERVER_PID 2>/dev/null || true; rm -rf '$PB_TMP'" EXIT
have_some() { [[ $(timeout 20 kcat -b "$B" -C -t "${BIGPFX}aid.dispatched" -o beginning -e -q -c 1000 2>/dev/null | wc -l) -ge 1000 ]]; }
pb_wait_for 60 have_some
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
before=$(timeout 60 kcat -b "$B" -C -t "${BIGPFX}aid.dispatched" -o beginning -e -q -f '%k\n' | wc -l)
pb_log "killed the poller after $before of $N events"
((before < N)) || pb_fail "the poller finished before it was killed ($before events); make the feed bigger"
bigpoll --once 2>"$PB_TMP/k2.log" || { cat "$PB_TMP/k2.log" >&2; pb_fail "restarted poll failed"; }
grep 'poll done' "$PB_TMP/k2.log" >&2
timeout 120 "$PB_BIN" consume -b "$B" -p "$BIGPFX" -t aid.dispatched --from-beginning --meta >"$PB_TMP/kall"
python3 - "$PB_TMP/kall" "$N" "$before" <<'PY' || pb_fail "records missed or duplicated after the restart"
import json, sys
n, before = int(sys.argv[2]), int(sys.argv[3])
ms = [json.loads(l) for l in open(sys.argv[1])]
keys = {}
for m in ms:
    keys.setdefault(m["event"]["shipment_id"], set()).add(m["event"]["event_id"])
raw, distinct_ids = len(ms), len({m["event"]["event_id"] for m in ms})
print("poll_json: after restart: %d messages, %d keys, %d distinct event ids, %d re-sent in-flight duplicates"
      % (raw, len(keys), distinct_ids, raw - distinct_ids), file=sys.stderr)
assert len(keys) == n, "missed %d records" % (n - len(keys))
assert all(len(v) == 1 for v in keys.values()), "a record got two different event ids"
assert distinct_ids == n
# duplicates only from the window between Kafka's ack and the state write
assert raw - n <= 3000, "too many re-sent events: %d" % (raw - n)
PY
bigpoll --once 2>"$PB_TMP/k3.log"
grep -q "published=0 unchanged=$N" "$PB_TMP/k3.log" || grep -q 'outcome=not_modified' "$PB_TMP/k3.log" ||
        pb_fail "third poll after restart: $(cat "$PB_TMP/k3.log")"
pb_log "PASS"
