#!/usr/bin/env bash
# replay --format csv --dialect excel-de on real Kafka: the seed fixture
# history (tests/fixtures/seed_history.py) replayed as CSV for German Excel
# (UTF-8 with BOM, `;`, decimal comma, CRLF) and read back with Python's csv
# module: every row, every amount equal to the event's decimal, Cyrillic and
# umlauts intact; the default dialect is unchanged (no BOM, `,`, `.`).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_require_cmd python3
pb_tmpdir
pb_topic_prefix xl
H=$PB_TMP/history
python3 "$PB_SOURCE_DIR/tests/fixtures/seed_history.py" "$H"
pb_produce_history "$H" funds.granted aid.dispatched
"$PB_BIN" replay --brokers "$B" -t funds.granted,aid.dispatched --format csv --dialect excel-de \
        --out "$PB_TMP/xl/" 2>"$PB_TMP/replay.log" || pb_fail "replay excel-de: $(cat "$PB_TMP/replay.log")"
"$PB_BIN" replay --brokers "$B" -t funds.granted,aid.dispatched --format csv \
        --out "$PB_TMP/std/" 2>>"$PB_TMP/replay.log" || pb_fail "replay csv: $(cat "$PB_TMP/replay.log")"
# --dialect belongs to csv
if "$PB_BIN" replay --brokers "$B" -t funds.granted --dialect excel-de >/dev/null 2>"$PB_TMP/usage.log"; then
        pb_fail "--dialect excel-de with --format jsonl was accepted"
fi
grep -q -- "--dialect goes with --format csv" "$PB_TMP/usage.log" || pb_fail "usage: $(cat "$PB_TMP/usage.log")"

python3 - "$H" "$PB_TMP/xl" "$PB_TMP/std" <<'EOF' || pb_fail "excel-de CSV wrong"
import csv, io, json, sys
from decimal import Decimal as D
hist, xl, std = sys.argv[1:]
for t, cols in (("funds.granted", ["amount"]), ("aid.dispatched", ["declared_value", "gross_weight_kg"])):
    evs = {json.loads(l)["event_id"]: json.loads(l) for l in open("%s/%s.jsonl" % (hist, t), encoding="utf-8")}
    raw = open("%s/%s.csv" % (xl, t), "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf"), "%s: no BOM" % t
    body = raw[3:].decode("utf-8")
    assert body.count("\r\n") >= len(evs) + 1 and "\n" not in body.replace("\r\n", ""), "%s: not CRLF" % t
    rows = list(csv.DictReader(io.StringIO(body, newline=""), delimiter=";"))
    assert len(rows) == len(evs), (t, len(rows), len(evs))
    for r in rows:
        e = evs[r["event_id"]]
        for c in cols:
            # a column that is null in every event is not written
            if e[c] is None:
                assert r.get(c, "") == "", (t, c, r[c])
            else:
                assert "." not in r[c] and "," in r[c], (t, c, r[c])
                assert D(r[c].replace(",", ".")) == D(e[c]), (t, c, r[c], e[c])
        if t == "aid.dispatched":
            assert r["destination.city"] == e["destination"]["city"]
            assert r["sender.name"] == e["sender"]["name"]
            for i, it in enumerate(e["items"]):
                assert r["items.%d.quantity" % i] == str(it["quantity"])
    # the default dialect: as before
    raw = open("%s/%s.csv" % (std, t), "rb").read()
    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert len(rows) == len(evs)
    for r in rows:
        for c in cols:
            e = evs[r["event_id"]]
            assert r.get(c, "") == (e[c] or ""), (t, c, r.get(c), e[c])
print("ok")
EOF
pb_log "ok: excel-de CSV read back, every amount exact; default dialect unchanged"
