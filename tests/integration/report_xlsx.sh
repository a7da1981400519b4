#!/usr/bin/env bash
# report --format xlsx on real Kafka: the replay/report fixture history
# (tests/replay/history.py: odd amounts, amended grants, a conflict between
# organisations) plus a grant in UAH and a shipment in PLN is reported to
# report.xlsx, read back with openpyxl: German sheets and headers, every
# amount of the summary sheet and every line item equal to summary.json
# (per currency), each grant row the amount of the grant's latest version,
# amounts as numbers with a currency format, dates as dates, totals rows
# whose cached value is the exact total; --lang en gives English headers.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
PY=$(pb_python_venv)
pb_tmpdir
pb_topic_prefix xlsx
H=$PB_TMP/history
python3 "$PB_SOURCE_DIR/tests/replay/history.py" gen "$H"
python3 - "$H" <<'EOF'
import json, sys
h = sys.argv[1]
g = json.loads(open(h + "/funds.granted.jsonl", encoding="utf-8").readline())
g.update({"event_id": "7a1e0c52-3b44-4d1e-9f00-1c2d3e4f5a61", "grant_id": "XLSX-UAH-1",
          "currency": "UAH", "amount": "1234567.89", "purpose": "=1+1 (Text, keine Formel)"})
open(h + "/funds.granted.jsonl", "a", encoding="utf-8").write(json.dumps(g, ensure_ascii=False) + "\n")
s = json.loads(open(h + "/aid.dispatched.jsonl", encoding="utf-8").readline())
s.update({"event_id": "7a1e0c52-3b44-4d1e-9f00-1c2d3e4f5a62", "shipment_id": "XLSX-PLN-1",
          "currency": "PLN", "declared_value": "0.07", "gross_weight_kg": "12.5"})
open(h + "/aid.dispatched.jsonl", "a", encoding="utf-8").write(json.dumps(s, ensure_ascii=False) + "\n")
EOF
pb_produce_history "$H"
"$PB_BIN" report --brokers "$B" --out "$PB_TMP/de" --format xlsx --as-of 2024-07-01 2>"$PB_TMP/de.log" ||
        pb_fail "report: $(cat "$PB_TMP/de.log")"
[[ -s $PB_TMP/de/report.xlsx && -s $PB_TMP/de/summary.json && ! -e $PB_TMP/de/report.html ]] ||
        pb_fail "--format xlsx should write summary.json and report.xlsx only: $(ls "$PB_TMP/de")"
"$PB_BIN" report --brokers "$B" --out "$PB_TMP/en" --format html,xlsx --lang en --as-of 2024-07-01 \
        2>"$PB_TMP/en.log" || pb_fail "report --lang en: $(cat "$PB_TMP/en.log")"
[[ -s $PB_TMP/en/report.html ]] || pb_fail "--format html,xlsx wrote no report.html"
if "$PB_BIN" report --brokers "$B" --out "$PB_TMP/x" --format pdf 2>"$PB_TMP/usage.log"; then
        pb_fail "--format pdf accepted"
fi

"$PY" - "$H" "$PB_TMP/de" "$PB_TMP/en" <<'EOF' || pb_fail "report.xlsx differs from summary.json"
import datetime, json, sys
from decimal import Decimal as D
import openpyxl
hist, de, en = sys.argv[1:]
S = json.load(open(de + "/summary.json", encoding="utf-8"))
wb = openpyxl.load_workbook(de + "/report.xlsx")
wbv = openpyxl.load_workbook(de + "/report.xlsx", data_only=True)  # cached formula results
fails = []
def eq(what, got, want):
    if got != want:
        fails.append("%s: got %r, want %r" % (what, got, want))
def dec(v):
    return D(repr(v)).quantize(D("0.01"))
eq("sheets", wb.sheetnames, ["Kennzahlen", "Bewilligungen", "Lieferungen", "Partnerschaften"])

# --- the summary sheet: label -> [(value, currency)]
ks = wb["Kennzahlen"]
rows = [r for r in ks.iter_rows(values_only=True)]
def figure(label):
    return [(r[1], r[2], r[3]) for r in rows if r[0] == label]
eq("grants", figure("Bewilligungen")[0][0], S["funds"]["grants"])
eq("funds total", {c: dec(v) for _, v, c in figure("Bewilligte Mittel")},
   {c: D(v) for c, v in S["funds"]["total"].items()})
eq("shipments", figure("Lieferungen")[0][0], S["aid"]["shipments"])
eq("aid value", {c: dec(v) for _, v, c in figure("Warenwert der Hilfslieferungen")},
   {c: D(v) for c, v in S["aid"]["declared_value"].items()})
eq("undeclared", figure("davon ohne angegebenen Wert")[0][0], S["aid"]["undeclared_value"])
eq("weight", D(repr(figure("Bruttogewicht")[0][1])).quantize(D("0.1")), D(S["aid"]["gross_weight_kg"]))
eq("confirmed", figure("Ankunft bestätigt")[0][0], S["deliveries"]["confirmed"])
eq("partnerships", figure("Partnerschaften gegründet")[0][0], S["partnerships"]["total"])
# the month tables: (month, currency) -> amount, and counts
def table(title):
    i = [k for k, r in enumerate(rows) if r[0] == title][0] + 2
    out = []
    while i < len(rows) and rows[i][0] is not None:
        out.append(rows[i])
        i += 1
    return out
for title, area, cnt, amt in (("Nach Monat der Bewilligung", "funds", "grants", "amount"),
                              ("Nach Versandmonat", "aid", "shipments", "declared_value")):
    got = {}
    for m, n, v, c in table(title):
        assert isinstance(m, datetime.datetime), (title, m)
        key = m.strftime("%Y-%m")
        got.setdefault(key, [n, {}])
        if v is not None:
            got[key][1][c] = dec(v)
    want = {r["month"]: [r[cnt], {c: D(v) for c, v in r[amt].items()}] for r in S[area]["by_month"]}
    eq(title, got, want)
got = {}
for p, n, v, c in table("Nach Förderprogramm"):
    got.setdefault(p, [n, {}])[1][c] = dec(v)
want = {("(ohne Förderprogramm)" if r["programme"] == "(no programme)" else r["programme"]):
        [r["grants"], {c: D(v) for c, v in r["amount"].items()}] for r in S["funds"]["by_programme"]}
eq("by programme", got, want)

# --- line items
def sheet(name):
    ws = wb[name]
    hdr = [c.value for c in ws[1]]
    items, totals = [], []
    for r in ws.iter_rows(min_row=2):
        if r[0].value is None:
            continue
        (totals if r[0].value == "Summe" else items).append({h: c for h, c in zip(hdr, r)})
    return hdr, items, totals
# the latest version of each grant from its owner (the first source)
latest, owner = {}, {}
for l in sorted(open(hist + "/funds.granted.jsonl", encoding="utf-8"), key=lambda l: json.loads(l)["occurred_at"]):
    e = json.loads(l)
    owner.setdefault(e["grant_id"], e["source"])
    if e["source"] == owner[e["grant_id"]]:
        latest[e["grant_id"]] = e
hdr, items, totals = sheet("Bewilligungen")
eq("funds header", hdr[:8], ["Datum", "Vorgang", "Zuwendungsgeber", "Empfänger", "Förderprogramm", "Zweck",
                             "Betrag", "Währung"])
eq("grant rows", len(items), S["funds"]["grants"])
sums = {}
for it in items:
    e = latest[it["Vorgang"].value]
    eq("grant %s amount" % e["grant_id"], dec(it["Betrag"].value), D(e["amount"]))
    eq("grant %s currency" % e["grant_id"], it["Währung"].value, e["currency"])
    eq("grant %s event" % e["grant_id"], it["Ereignis"].value, e["event_id"])
    eq("grant %s date" % e["grant_id"], it["Datum"].value.date().isoformat(), e["granted_on"])
    eq("grant %s purpose is text" % e["grant_id"], it["Zweck"].value, e["purpose"])
    assert it["Betrag"].data_type == "n", it["Betrag"].data_type
    sym = {"EUR": "€", "UAH": "₴"}[e["currency"]]
    assert sym in it["Betrag"].number_format, it["Betrag"].number_format
    sums[e["currency"]] = sums.get(e["currency"], D(0)) + D(e["amount"])
eq("grant sums", sums, {c: D(v) for c, v in S["funds"]["total"].items()})
tv = wbv["Bewilligungen"]
eq("grant totals (cached)", {t["Währung"].value: dec(tv[t["Betrag"].coordinate].value) for t in totals},
   {c: D(v) for c, v in S["funds"]["total"].items()})
assert all(t["Betrag"].value.startswith("=SUMIF(") for t in totals), [t["Betrag"].value for t in totals]

hdr, items, totals = sheet("Lieferungen")
eq("shipment rows", len(items), S["aid"]["shipments"])
sums, empty = {}, 0
for it in items:
    v = it["Warenwert"].value
    if v is None:
        empty += 1
    else:
        c = it["Währung"].value
        sums[c] = sums.get(c, D(0)) + dec(v)
eq("shipment sums", sums, {c: D(v) for c, v in S["aid"]["declared_value"].items()})
eq("shipments without value", empty, S["aid"]["undeclared_value"])
tv = wbv["Lieferungen"]
eq("aid totals (cached)", {t["Währung"].value: dec(tv[t["Warenwert"].coordinate].value) for t in totals},
   {c: D(v) for c, v in S["aid"]["declared_value"].items()})
eq("confirmed rows", sum(1 for it in items if it["Ankunft"].value.startswith("bestätigt am")),
   S["deliveries"]["confirmed"] - S["deliveries"]["confirmed_without_dispatch"])
hdr, items, totals = sheet("Partnerschaften")
eq("partnership rows", len(items), S["partnerships"]["total"])

# --- English
wen = openpyxl.load_workbook(en + "/report.xlsx")
eq("English sheets", wen.sheetnames[0], "Key figures")
assert "Amount" in [c.value for c in wen.worksheets[1][1]], [c.value for c in wen.worksheets[1][1]]
if fails:
    print("\n".join(fails), file=sys.stderr)
    sys.exit(1)
EOF
pb_log "ok: report.xlsx equals summary.json, every amount"
