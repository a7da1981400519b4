#!/usr/bin/env bash
# replay and report on real Kafka: a fixture history (the seed examples plus
# generated events, partnerships 6 -> 36 -> 44) with figures computed
# independently in Python (decimal); report from Kafka equals them to the
# cent, also for a time range; replay cuts exactly at --since/--until on
# occurred_at; topics merge in event-time order; CSV read back by Python's
# csv module, Avro by fastavro; the relay's archive replays to the same
# bytes and the same report; --to-topic and --to URL re-deliver; report.html
# loads in headless Chromium without console errors, screenshot into the
# build directory.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$PB_SOURCE_DIR/tests/relay/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_require_cmd python3 chromium
PY=$(pb_python_venv)
pb_tmpdir
trap 'relay_cleanup ${RELAY_PID:-} ${RECV_PID:-}; [[ -n ${PB_KEEP_TMP:-} ]] || rm -rf "$PB_TMP"' EXIT
pb_topic_prefix rr
H=$PB_TMP/history
HIST="python3 $PB_SOURCE_DIR/tests/replay/history.py"
TYPES=funds.granted,aid.dispatched,aid.delivered,partnership.founded

$HIST gen "$H"
pb_produce_history "$H"
total=$(cat "$H"/*.jsonl | wc -l)
pb_log "published $total events under prefix $P"

# --- 1. report from Kafka, whole history and a range
"$PB_BIN" report --brokers "$B" --lang en --out "$PB_TMP/rep" --as-of 2024-07-01 2>"$PB_TMP/report.log" ||
        pb_fail "report: $(cat "$PB_TMP/report.log")"
$HIST expect "$H" --as-of 2024-07-01 >"$PB_TMP/expected.json"
$HIST compare "$PB_TMP/expected.json" "$PB_TMP/rep/summary.json" || pb_fail "report figures differ from the independent computation"
python3 - "$PB_TMP/rep/summary.json" <<'EOF' || pb_fail "partnership growth 6 -> 36 -> 44 not in the report"
import json, sys
s = json.load(open(sys.argv[1]))
cum = {c["month"]: c["cumulative"] for c in s["partnerships"]["cumulative"]}
at = lambda m: max([v for k, v in cum.items() if k <= m] or [0])
assert (at("2022-02"), at("2023-11"), s["partnerships"]["total"]) == (6, 36, 44), (at("2022-02"), at("2023-11"))
EOF
# another organisation's version of one of the State's grants (EUR 1.00) is a
# conflict naming both sources, never the grant's figure
python3 - "$PB_TMP/rep/summary.json" "$PB_TMP/rep/report.html" <<'EOF' || pb_fail "the overwrite attempt was not reported as a conflict"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["events"]["conflicts"] == 1, s["events"]
c = s["conflicts"][0]
assert (c["type"], c["event_id"], c["owner"], c["source"]) == \
    ("funds.granted", "6f0c2a1e-8d3b-4c55-9a7e-0b1d2c3e4f50", "staatskanzlei-nrw", "blau-gelbes-kreuz"), c
html = open(sys.argv[2], encoding="utf-8").read()
assert "Conflicts between organisations" in html and "blau-gelbes-kreuz" in html
EOF
"$PB_BIN" report --brokers "$B" --out "$PB_TMP/rep-range" --since 2023-01-01 \
        --until 2023-07-01T00:00:00Z 2>"$PB_TMP/report2.log" || pb_fail "range report: $(cat "$PB_TMP/report2.log")"
$HIST expect "$H" --since 2023-01-01 --until 2023-07-01T00:00:00Z --as-of 2023-07-01T00:00:00Z >"$PB_TMP/expected-range.json"
$HIST compare "$PB_TMP/expected-range.json" "$PB_TMP/rep-range/summary.json" || pb_fail "range report figures differ"

# --- 2. replay: the range cuts exactly on occurred_at, merge order by event time
"$PB_BIN" replay --brokers "$B" -t $TYPES >"$PB_TMP/all.jsonl" 2>"$PB_TMP/replay.log" ||
        pb_fail "replay: $(cat "$PB_TMP/replay.log")"
grep -q "$total events written" "$PB_TMP/replay.log" || pb_fail "final count missing: $(cat "$PB_TMP/replay.log")"
"$PB_BIN" replay --brokers "$B" -t $TYPES --since 2023-01-01T00:00:00Z --until 2023-07-01 \
        >"$PB_TMP/range.jsonl" 2>>"$PB_TMP/replay.log" || pb_fail "range replay failed"
python3 - "$H" "$PB_TMP/all.jsonl" "$PB_TMP/range.jsonl" <<'EOF' || pb_fail "range or merge order wrong"
import json, sys, glob
hist = {}
for f in glob.glob(sys.argv[1] + "/*.jsonl"):
    t = f.rsplit("/", 1)[1][:-6]
    for l in open(f, encoding="utf-8"):
        e = json.loads(l)
        hist[e["event_id"]] = (t, e)
def check(path, lo, hi):
    out = [json.loads(l) for l in open(path, encoding="utf-8")]
    want = {i for i, (t, e) in hist.items() if lo <= e["occurred_at"] < hi}
    got = [e["event_id"] for e in out]
    assert len(got) == len(set(got)), "duplicates"
    assert set(got) == want, ("range", len(got), len(want), sorted(set(got) ^ want)[:5])
    # event-time order; ties by topic, then event id
    keys = [(e["occurred_at"], hist[e["event_id"]][0], e["event_id"]) for e in out]
    assert keys == sorted(keys), "not in event-time order"
    # each event exactly as published
    for e in out:
        assert e == hist[e["event_id"]][1], ("content", e["event_id"])
    return out
check(sys.argv[2], "", "9999")
r = check(sys.argv[3], "2023-01-01T00:00:00.000Z", "2023-07-01T00:00:00.000Z")
ids = {e["occurred_at"] for e in r}
assert "2023-01-01T00:00:00.000Z" in ids, "event at --since missing"
assert not any(e["occurred_at"] >= "2023-07-01" for e in r), "event at --until included"
# several topics interleave: the merged output switches type often
types = [hist[e["event_id"]][0] for e in json.loads("[" + ",".join(open(sys.argv[2])) + "]")]
assert sum(1 for a, b in zip(types, types[1:]) if a != b) > 50, "topics not interleaved"
print("range and order ok:", len(r), "events in range")
EOF

# --- 3. CSV (Python's csv module) and Avro (fastavro)
"$PB_BIN" replay --brokers "$B" -t $TYPES -f csv -o "$PB_TMP/csv/" 2>>"$PB_TMP/replay.log" || pb_fail "csv replay"
"$PB_BIN" replay --brokers "$B" -t $TYPES -f avro -o "$PB_TMP/avro/" 2>>"$PB_TMP/replay.log" || pb_fail "avro replay"
"$PB_BIN" replay --brokers "$B" -t funds.granted -f csv -o "$PB_TMP/funds.csv" 2>>"$PB_TMP/replay.log" || pb_fail "csv to a file"
"$PY" - "$H" "$PB_TMP/csv" "$PB_TMP/avro" "$PB_TMP/funds.csv" <<'EOF' || pb_fail "CSV / Avro read back wrong"
import csv, datetime, decimal, io, json, sys
import fastavro
h, cdir, adir, fcsv = sys.argv[1:5]
def flat(v, p, out):
    if isinstance(v, dict):
        for k, x in v.items(): flat(x, p + [k], out)
    elif isinstance(v, list):
        for i, x in enumerate(v): flat(x, p + [str(i)], out)
    elif v is None: pass
    elif isinstance(v, bool): out[".".join(p)] = "true" if v else "false"
    else: out[".".join(p)] = str(v)
    return out
for t in ["funds.granted", "aid.dispatched", "aid.delivered", "partnership.founded"]:
    evs = {e["event_id"]: e for e in map(json.loads, open(f"{h}/{t}.jsonl", encoding="utf-8"))}
    with open(f"{cdir}/{t}.csv", newline="", encoding="utf-8") as f:
        raw = f.read()
        assert "\r\n" in raw
        rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert len(rows) == len(evs), (t, len(rows), len(evs))
    for r in rows:
        want = flat(evs[r["event_id"]], [], {})
        got = {k: v for k, v in r.items() if v != ""}
        want = {k: v for k, v in want.items() if v != ""}
        assert got == want, (t, r["event_id"], set(got.items()) ^ set(want.items()))
    if t == "aid.dispatched":
        cols = rows[0].keys()
        assert "items.0.category" in cols and "items.2.quantity" in cols, list(cols)[:30]
        tot = sum(decimal.Decimal(r["declared_value"]) for r in rows if r["declared_value"])
        assert tot == sum(decimal.Decimal(e["declared_value"]) for e in evs.values() if e["declared_value"])
    recs = list(fastavro.reader(open(f"{adir}/{t}.avro", "rb")))
    assert len(recs) == len(evs), (t, len(recs))
    for rec in recs:
        e = evs[str(rec["event_id"])]
        when = datetime.datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
        assert rec["occurred_at"] == when, (rec["occurred_at"], when)
        for k in ("amount", "declared_value", "gross_weight_kg"):
            if k in e:
                assert (rec[k] is None and e[k] is None) or rec[k] == decimal.Decimal(e[k]), (k, rec[k], e[k])
        for k in ("granted_on", "dispatched_on", "founded_on", "delivered_on"):
            if k in e:
                assert rec[k] == datetime.date.fromisoformat(e[k])
# the single-file CSV keeps quotes and newlines of `purpose` (RFC 4180)
rows = list(csv.DictReader(open(fcsv, newline="", encoding="utf-8")))
assert any('"Hilfe"' in r["purpose"] and "\n" in r["purpose"] for r in rows)
print("csv and avro ok")
EOF

# --- 4. the archive: relay -> archive, replay and report from it
"$PB_BIN" relay --brokers "$B" --group "${P}arch" -t $TYPES --sink "archive:$PB_TMP/archive" \
        --max-events "$total" 2>"$PB_TMP/relay.log" || pb_fail "relay to the archive: $(tail -3 "$PB_TMP/relay.log")"
"$PB_BIN" replay --from-archive "$PB_TMP/archive" -t $TYPES >"$PB_TMP/all-archive.jsonl" 2>"$PB_TMP/replay-ar.log" ||
        pb_fail "replay from the archive: $(cat "$PB_TMP/replay-ar.log")"
cmp "$PB_TMP/all.jsonl" "$PB_TMP/all-archive.jsonl" || pb_fail "replay from the archive differs from replay from Kafka"
"$PB_BIN" replay --from-archive "$PB_TMP/archive" -t $TYPES --since 2023-01-01T00:00:00Z --until 2023-07-01 \
        >"$PB_TMP/range-archive.jsonl" 2>>"$PB_TMP/replay-ar.log" || pb_fail "range replay from the archive"
cmp "$PB_TMP/range.jsonl" "$PB_TMP/range-archive.jsonl" || pb_fail "range from the archive differs"
"$PB_BIN" report --from-archive "$PB_TMP/archive" --out "$PB_TMP/rep-ar" --as-of 2024-07-01 2>>"$PB_TMP/replay-ar.log" ||
        pb_fail "report from the archive: $(tail -3 "$PB_TMP/replay-ar.log")"
$HIST compare "$PB_TMP/expected.json" "$PB_TMP/rep-ar/summary.json" || pb_fail "report from the archive differs"
# the report names the archive files it read (every one, with its size)
python3 - "$PB_TMP/archive" "$PB_TMP/rep-ar/summary.json" "$PB_TMP/rep-ar/report.html" <<'EOF' || pb_fail "archive files not named"
import glob, json, os, sys
arch, summ, html = sys.argv[1:4]
files = json.load(open(summ, encoding="utf-8"))["report"]["archive_files"]
want = sorted(glob.glob(arch + "/*/*.avro"))
assert sorted(f["path"] for f in files) == want, (files, want)
assert all(f["size"] == os.path.getsize(f["path"]) for f in files)
h = open(html, encoding="utf-8").read()
assert "Gelesene Archivdateien" in h and all(f["path"] in h for f in files)
EOF

# --- 5. --to-topic and --to URL
"$PB_BIN" replay --brokers "$B" -t funds.granted --since 2023-01-01 --to-topic "${P}copy" 2>"$PB_TMP/copy.log" ||
        pb_fail "--to-topic: $(cat "$PB_TMP/copy.log")"
PARTNERBUS_TOPIC_PREFIX= "$PB_BIN" replay --brokers "$B" -t "${P}copy" >"$PB_TMP/copy.jsonl" 2>>"$PB_TMP/copy.log" ||
        pb_fail "reading the copy: $(cat "$PB_TMP/copy.log")"
"$PB_BIN" replay --brokers "$B" -t funds.granted --since 2023-01-01 >"$PB_TMP/copy-src.jsonl" 2>>"$PB_TMP/copy.log"
[[ -s $PB_TMP/copy.jsonl ]] && cmp "$PB_TMP/copy.jsonl" "$PB_TMP/copy-src.jsonl" || pb_fail "--to-topic copy differs"
kcat -b "$B" -C -t "${P}copy" -e -q -o beginning -c 1 -f '%k %h\n' | grep -q "ce_type=funds.granted" ||
        pb_fail "--to-topic copy lacks key / CloudEvents headers"
export RECEIVER_SECRET=s3cr3t-$RANDOM
export PARTNERBUS_WEBHOOK_SECRET=$RECEIVER_SECRET
relay_receiver_start w
relay_recv_control '{"mode": "500", "count": 2}'
"$PB_BIN" replay --brokers "$B" -t aid.delivered --to "$RECV_URL/hook" 2>"$PB_TMP/wh.log" ||
        pb_fail "--to URL: $(cat "$PB_TMP/wh.log")"
n=$(grep -c . "$H/aid.delivered.jsonl")
[[ $(relay_recv_distinct) -eq $n ]] || pb_fail "webhook got $(relay_recv_distinct) distinct events, expected $n"
[[ $(relay_recv_stats) == *'"bad_sig": 0'* ]] || pb_fail "webhook signatures: $(relay_recv_stats)"

# --- 6. report.html in headless Chromium: no console errors, a screenshot
html=$PB_TMP/rep/report.html
! grep -Eqi '<script|<link|src=|@import|url\(' "$html" || pb_fail "report.html references external assets or scripts"
[[ $(grep -o 'https\?://[^" ]*' "$html" | sort -u) == "http://www.w3.org/2000/svg" ]] || pb_fail "report.html has URLs besides the SVG namespace"
[[ $(grep -o '<svg' "$html" | wc -l) -ge 3 ]] || pb_fail "report.html lacks its 3 charts"
shot=${PB_BINARY_DIR:-$PB_TMP}/replay_report.png
rm -f "$shot"
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$PB_TMP/chromium" --enable-logging=stderr --v=0 \
        --window-size=1200,3000 --screenshot="$shot" "file://$html" >"$PB_TMP/chromium.log" 2>&1 ||
        pb_fail "chromium failed: $(tail -5 "$PB_TMP/chromium.log")"
[[ -s $shot ]] || pb_fail "no screenshot"
if grep -E 'CONSOLE|Uncaught|Failed to load|net::ERR' "$PB_TMP/chromium.log"; then
        pb_fail "console errors while loading report.html"
fi
pb_log "screenshot: $shot"
pb_log "ok"
