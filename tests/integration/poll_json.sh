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
poll_setup polljson
MAP=$FEEDS/shipments.map.json
poll() { "$PB_BIN" poll --brokers "$B" --topic-prefix "$PFX" --type aid.dispatched --map "$MAP" \
        --organisation blau-gelbes-kreuz \
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
# Each round polls into fresh topics with transactions of 5,000 records
# (events, their state records): rounds 1-3 SIGKILL the poller after a
# growing number of committed events and restart it; round 4 starts a
# second poller with the same transactional.id while the first runs (a
# "moved" poller), which must fence the first. Afterwards the event topic,
# read with isolation.level=read_committed, holds every record exactly
# once: no duplicate, nothing missing. A round says whether the kill
# landed inside an open transaction (the log then holds uncommitted
# events that read_uncommitted readers see and read_committed ones never
# will); at least one round must.
TXN=5000
mid_txn=0
count_topic() { # TOPIC ISOLATION -> number of messages up to the readable end
        timeout 60 kcat -b "$B" -C -t "$1" -X isolation.level="$2" -o beginning -e -q -f '%k\n' 2>/dev/null | wc -l
}
check_exactly_once() { # PFX ROUND
        local t="${1}aid.dispatched"
        timeout 120 "$PB_BIN" consume -b "$B" -p "$1" -t aid.dispatched --from-beginning --meta >"$PB_TMP/kall"
        python3 - "$PB_TMP/kall" "$N" "$2" <<'PY' || pb_fail "round $2: records missed or duplicated"
import json, sys
n, rnd = int(sys.argv[2]), sys.argv[3]
ms = [json.loads(l) for l in open(sys.argv[1])]
keys = {}
for m in ms:
    keys.setdefault(m["event"]["shipment_id"], []).append(m["event"]["event_id"])
dup = sum(len(v) - 1 for v in keys.values())
print("poll_json: round %s: read_committed: %d messages, %d distinct records, %d duplicates, %d missing"
      % (rnd, len(ms), len(keys), dup, n - len(keys)), file=sys.stderr)
assert len(keys) == n, "missed %d records" % (n - len(keys))
assert dup == 0, "%d duplicates" % dup
assert len(ms) == n and len({m["event"]["event_id"] for m in ms}) == n
PY
        expect_eq "round $2: kcat read_committed count" "$(count_topic "$t" read_committed)" "$N"
}
# shellcheck disable=SC2064
trap "kill -9 \${PID:-} \${PID2:-} 2>/dev/null || true; kill $SERVER_PID 2>/dev/null || true; rm -rf '$PB_TMP'" EXIT
for round in 1 2 3 4; do
        BIGPFX=$(pb_topic_name pollkill$round)-
        T="${BIGPFX}aid.dispatched"
        BIGARGS=(poll --brokers "$B" --topic-prefix "$BIGPFX" --type aid.dispatched --map "$MAP" --organisation blau-gelbes-kreuz
                --url "$BASE/big.json" --retries 1 --retry-backoff 100ms --transaction-records $TXN)
        bigpoll() { "$PB_BIN" "${BIGARGS[@]}" "$@"; }
        # a small producer queue and a long linger slow the first run down
        # (about 10,000 events/s) so that the kill lands in the middle; $!
        # must be the poller itself, not a subshell
        "$PB_BIN" "${BIGARGS[@]}" --interval 1h -X linger.ms=100 -X queue.buffering.max.messages=1000 \
                2>"$PB_TMP/k1.log" &
        PID=$!
        want=$((round == 4 ? 1000 : round * 12000 - 11000)) # 1000, 13000, 25000; round 4: 1000
        have_some() { (($(timeout 20 kcat -b "$B" -C -t "$T" -X isolation.level=read_committed -o beginning -e -q \
                -c "$want" -f '%k\n' 2>/dev/null | wc -l) >= want)); }
        pb_wait_for 90 have_some || { cat "$PB_TMP/k1.log" >&2; pb_fail "round $round: no $want committed events"; }
        grep -q 'transactional producer ready' "$PB_TMP/k1.log" || pb_fail "round $round: not transactional: $(cat "$PB_TMP/k1.log")"
        if ((round < 4)); then
                # committed events appear at a commit: wait a moment so
                # that the next transaction is under way
                sleep "0.$((round * 3 - 1))"
                kill -9 "$PID"
                wait "$PID" 2>/dev/null || true
                committed=$(count_topic "$T" read_committed)
                logged=$(count_topic "$T" read_uncommitted)
                ((committed < N)) || pb_fail "round $round: the poller finished before it was killed ($committed events)"
                if ((logged > committed)); then
                        mid_txn=$((mid_txn + 1))
                        pb_log "round $round: SIGKILL landed MID-TRANSACTION: $committed committed events, $((logged - committed)) more in the open transaction"
                else
                        pb_log "round $round: SIGKILL landed BETWEEN transactions: $committed committed events"
                fi
                bigpoll --once 2>"$PB_TMP/k2.log" || { cat "$PB_TMP/k2.log" >&2; pb_fail "round $round: restarted poll failed"; }
                grep 'poll done' "$PB_TMP/k2.log" >&2
                expect_eq "round $round: restarted poll published the rest" \
                        "$(grep -o 'published=[0-9]*' "$PB_TMP/k2.log" | cut -d= -f2)" $((N - committed))
                aborted=$(($(count_topic "$T" read_uncommitted) - N))
        else
                # a second poller with the same id takes over while the first runs
                bigpoll --once 2>"$PB_TMP/k2.log" || { cat "$PB_TMP/k2.log" >&2; pb_fail "round 4: second poller failed"; }
                grep 'poll done' "$PB_TMP/k2.log" >&2
                timeout 60 tail --pid="$PID" -f /dev/null || true
                if kill -0 "$PID" 2>/dev/null; then
                        kill -9 "$PID"
                        pb_fail "round 4: the first poller still runs after the second took over: $(grep 'poll done' "$PB_TMP/k1.log")"
                fi
                st=0
                wait "$PID" || st=$?
                ((st != 0)) || pb_fail "round 4: the first poller was not fenced: $(grep 'poll done' "$PB_TMP/k1.log")"
                grep -q 'fenced' "$PB_TMP/k1.log" || pb_fail "round 4: first poller exit $st without fencing: $(tail -5 "$PB_TMP/k1.log")"
                pb_log "round 4: the first poller was fenced and exited ($st): $(grep -m1 -o 'msg="[a-z ]*transaction: [^"]*"' "$PB_TMP/k1.log" || true)"
                aborted=$(($(count_topic "$T" read_uncommitted) - N))
        fi
        PID=
        pb_log "round $round: messages of aborted transactions in the log (never visible to read_committed): $aborted"
        check_exactly_once "$BIGPFX" "$round"
        bigpoll --once 2>"$PB_TMP/k3.log"
        grep -q "published=0 unchanged=$N" "$PB_TMP/k3.log" || grep -q 'outcome=not_modified' "$PB_TMP/k3.log" ||
                pb_fail "round $round: poll after the restart: $(cat "$PB_TMP/k3.log")"
done
((mid_txn >= 1)) || pb_fail "no SIGKILL landed inside an open transaction in 3 rounds"
pb_log "SIGKILL mid-transaction in $mid_txn of 3 rounds"
pb_log "PASS"
