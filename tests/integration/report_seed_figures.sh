#!/usr/bin/env bash
# the seed documents' figures, reproduced: tests/fixtures/seed_history.py
# writes a history built from them (tests/fixtures/README.md), it is
# published to a real Kafka, and `partnerbus report` must show each figure
# at its date in summary.json: weekly medical trucks of EUR 150,000 from
# March 2022 (Kyiv area, Poltava from December 2022), 370 generators and
# EUR 143,000 in December 2022, 16 fire and rescue vehicles by January 2023,
# six Water4Ukraine transports by January 2023, the regional partnership of
# 28 February 2023, Köln - Dnipro known by 20 April 2023, municipal
# partnerships 6 (February 2022) -> 36 (8 November 2023) -> 44 (18 November
# 2024), 7 of them with Dnipropetrowsk oblast on 29 February 2024, the
# EUR 750,000 prosthetics workshop; the fixture is deterministic; its
# report.xlsx holds the grants at their amounts, its IATI file is valid.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_require_cmd python3 xmllint
PY=$(pb_python_venv)
pb_tmpdir
pb_topic_prefix seed
H=$PB_TMP/history
GEN="python3 $PB_SOURCE_DIR/tests/fixtures/seed_history.py"

$GEN "$H"
$GEN "$PB_TMP/again"
diff -r "$H" "$PB_TMP/again" >/dev/null || pb_fail "the fixture history is not deterministic"
pb_produce_history "$H"
pb_log "published $(cat "$H"/*.jsonl | wc -l) events under prefix $P"

n=0
# rep NAME [report options...]: report into $PB_TMP/NAME
rep() {
        local name=$1
        shift
        "$PB_BIN" report --brokers "$B" --out "$PB_TMP/$name" --as-of 2024-12-01 "$@" \
                2>"$PB_TMP/$name.log" || pb_fail "report $name: $(cat "$PB_TMP/$name.log")"
        n=$((n + 1))
}
rep all --format html,xlsx,iati --iati-org-ref XI-EXAMPLE-NRW
rep dec2022 --since 2022-12-01 --until 2023-01-01
rep until2023 --until 2023-01-01
rep mar2022 --since 2022-03-01 --until 2022-04-01 --where shipment_id=NRWHILFT-2022-W10
rep truckfirst --until 2022-03-01 --where source=nrw-hilft-der-ukraine
rep trucks2022 --until 2023-01-01 --where 'shipment_id>=NRWHILFT-20' --where 'shipment_id<NRWHILFT-21'
rep trucks2023 --since 2023-01-01 --until 2024-01-01 --where 'shipment_id>=NRWHILFT-20' --where 'shipment_id<NRWHILFT-21'
rep regional --since 2023-02-28 --until 2023-03-01 -t partnership.founded
rep before_regional --until 2023-02-28 -t partnership.founded
rep koeln --until 2023-04-20 -t partnership.founded
rep muni_feb2022 --until 2022-03-01 -t partnership.founded --where nrw_party.kind=MUNICIPALITY
rep muni_nov2023 --until 2023-11-09 -t partnership.founded --where nrw_party.kind=MUNICIPALITY
rep muni_feb2024 --until 2024-03-01 -t partnership.founded --where nrw_party.kind=MUNICIPALITY
rep muni_dnipro --until 2024-03-01 -t partnership.founded --where nrw_party.kind=MUNICIPALITY \
        --where ukrainian_party.region=Dnipropetrowsk
rep muni_all -t partnership.founded --where nrw_party.kind=MUNICIPALITY
rep koeln2024 --since 2024-11-18 --until 2024-11-19
pb_log "$n reports written"

python3 - "$PB_TMP" "$H" <<'EOF' || pb_fail "a figure of the seed documents is not in the report"
import datetime as dt, json, sys
from decimal import Decimal as D
tmp, hist = sys.argv[1], sys.argv[2]
S = lambda name: json.load(open("%s/%s/summary.json" % (tmp, name), encoding="utf-8"))
fails = []
def check(what, got, want):
    if got != want:
        fails.append("%s: got %r, want %r" % (what, got, want))
def row(rows, **kw):
    m = [r for r in rows if all(r.get(k) == v for k, v in kw.items())]
    return m[0] if len(m) == 1 else None
def cat(s, c):
    r = row(s["aid"]["by_category"], category=c)
    return r and int(r["quantity"][""])  # pieces (no unit)

# weekly medical trucks of EUR 150,000 from March 2022 ("almost every week":
# weeks 52 and 1 skipped), to the Kyiv area and from December 2022 to Poltava
trucks = [json.loads(l) for l in open(hist + "/aid.dispatched.jsonl", encoding="utf-8")
          if json.loads(l)["shipment_id"].startswith("NRWHILFT-20")]
check("first medical truck", min(t["dispatched_on"] for t in trucks), "2022-03-07")
check("trucks before March 2022", S("truckfirst")["aid"]["shipments"], 0)
s = S("mar2022")
check("truck of week 10/2022", (s["aid"]["shipments"], s["aid"]["declared_value"]), (1, {"EUR": "150000.00"}))
for name, year in (("trucks2022", 2022), ("trucks2023", 2023)):
    s = S(name)
    k = sum(1 for t in trucks if t["dispatched_on"].startswith(str(year)))
    check("%d trucks" % year, s["aid"]["shipments"], k)
    check("%d truck value = 150,000 x trucks" % year, s["aid"]["declared_value"], {"EUR": "%d.00" % (150000 * k)})
    for m in s["aid"]["by_month"]:
        check("%s value per truck" % m["month"], D(m["declared_value"]["EUR"]) / m["shipments"], D(150000))
check("2022: 42 weekly trucks from week 10 (weeks 52 skipped)", S("trucks2022")["aid"]["shipments"], 42)
check("2023: 50 trucks (weeks 1 and 52 skipped)", S("trucks2023")["aid"]["shipments"], 50)
check("2023 trucks all to Poltava", [(r["city"], r["shipments"]) for r in S("trucks2023")["aid"]["by_city"]],
      [("Полтава", 50)])
c22 = {r["city"]: r["shipments"] for r in S("trucks2022")["aid"]["by_city"]}
check("2022 trucks: Kyiv area, Poltava from 12 December", c22, {"Київ": 40, "Полтава": 2})

# December 2022: 370 generators (Blau-Gelbes Kreuz), EUR 143,000 granted
s = S("dec2022")
check("Dec 2022 generators", cat(s, "GENERATORS"), 370)
check("Dec 2022 funds", s["funds"]["total"], {"EUR": "143000.00"})
r = row(s["funds"]["by_recipient"], recipient="Blau-Gelbes Kreuz Deutsch-Ukrainischer Verein e.V.")
check("Dec 2022 grant to Blau-Gelbes Kreuz", r and r["amount"], {"EUR": "143000.00"})
check("Dec 2022 grants", s["funds"]["grants"], 1)

# by January 2023: 16 fire and rescue vehicles, six Water4Ukraine transports
s = S("until2023")
check("vehicles by January 2023", cat(s, "VEHICLES"), 16)
w4u = [json.loads(l) for l in open(hist + "/aid.dispatched.jsonl", encoding="utf-8")
       if json.loads(l)["source"] == "wsw-wuppertaler-stadtwerke"]
check("Water4Ukraine transports in the history", len(w4u), 6)
check("Water4Ukraine transports by January 2023", sum(1 for e in w4u if e["dispatched_on"] < "2023-01-01"), 6)
check("water supply lines by January 2023", row(s["aid"]["by_category"], category="WATER_SUPPLY")["item_lines"], 12)
check("vehicles in all (16 + 6 handed over in Köln)", cat(S("all"), "VEHICLES"), 22)

# the regional partnership, sealed on 28 February 2023
check("regional partnership on 28.02.2023", S("regional")["partnerships"]["by_kind"],
      [{"kind": "REGIONAL", "partnerships": 1}])
check("no regional partnership before", [r for r in S("before_regional")["partnerships"]["by_kind"]
                                         if r["kind"] == "REGIONAL"], [])
# Köln - Dnipro reported on at the conference of 20 April 2023
k = S("koeln")["partnerships"]
check("Köln - Dnipro by 20.04.2023", row(k["by_nrw_party"], party="Stadt Köln") is not None
      and row(k["by_ukrainian_party"], party="Дніпровська міська рада") is not None, True)

# municipal partnerships: 6 (February 2022), 36 (8 November 2023), 44 (18 November 2024)
check("municipal partnerships Feb 2022", S("muni_feb2022")["partnerships"]["total"], 6)
check("municipal partnerships 8 Nov 2023", S("muni_nov2023")["partnerships"]["total"], 36)
check("municipal partnerships 29 Feb 2024", S("muni_feb2024")["partnerships"]["total"], 36)
check("municipal partnerships with Dnipropetrowsk oblast 29 Feb 2024", S("muni_dnipro")["partnerships"]["total"], 7)
m = S("muni_all")["partnerships"]
check("municipal partnerships 18 Nov 2024", m["total"], 44)
cum = {c["month"]: c["cumulative"] for c in m["cumulative"]}
at = lambda mo: max([v for k, v in cum.items() if k <= mo] or [0])
check("cumulative 2022-02 / 2023-11 / 2024-11", (at("2022-02"), at("2023-11"), at("2024-11")), (6, 36, 44))
check("no founding in November 2023 after the 8th", cum.get("2023-11"), None)

# 18 November 2024, Köln: EUR 750,000 for the prosthetics workshop, six vehicles
s = S("koeln2024")
check("prosthetics workshop", s["funds"]["total"], {"EUR": "750000.00"})
check("vehicles handed over in Köln", cat(s, "VEHICLES"), 6)

# the whole history: grants 143,000 + 2,600 (LVR, monthly) + 750,000
check("all grants", S("all")["funds"]["total"], {"EUR": "895600.00"})
check("nothing superseded, no conflicts", (S("all")["events"]["superseded"], S("all")["events"]["conflicts"]), (0, 0))
if fails:
    print("\n".join(fails), file=sys.stderr)
    sys.exit(1)
EOF
# the same history as the documents the analysts attach: a valid IATI file
# and a workbook whose grant rows are the documents' amounts
xmllint --noout --schema "$PB_SOURCE_DIR/tests/standards/iati-2.03/iati-activities-schema.xsd" \
        "$PB_TMP/all/iati-activities.xml" 2>"$PB_TMP/xmllint.log" ||
        pb_fail "IATI file of the seed history invalid: $(head -3 "$PB_TMP/xmllint.log")"
"$PY" - "$PB_TMP/all/report.xlsx" <<'EOF' || pb_fail "report.xlsx of the seed history wrong"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["Bewilligungen"]
hdr = [c.value for c in ws[1]]
rows = [dict(zip(hdr, r)) for r in ws.iter_rows(min_row=2, values_only=True) if r[1]]
got = [(r["Datum"].date().isoformat(), r["Vorgang"], r["Betrag"]) for r in rows]
assert got == [("2022-12-05", "SK-2022-UA-BGK", 143000), ("2023-11-01", "LVR-UA-EURO-2023", 2600),
               ("2024-11-18", "SK-2024-PROTHETIK", 750000)], got
assert wb["Lieferungen"].max_row >= 146 + 1, wb["Lieferungen"].max_row
EOF
# and the German report itself says them, in German notation
"$PY" - "$PB_TMP/all/report.html" <<'EOF' || pb_fail "report.html of the seed history lacks a seed figure"
import html, re, sys
t = open(sys.argv[1], encoding="utf-8").read()
assert '<html lang="de"' in t, "not German"
text = html.unescape(re.sub(r"<[^>]+>", " ", t)).replace("\u00a0", " ").replace("\u202f", " ")
text = re.sub(r"\s+", " ", text)
want = ["143.000,00 €", "750.000,00 €", "895.600,00 €", "2.600,00 €",
        "05.12.2022", "18.11.2024", "28.02.2023"]
missing = [w for w in want if w not in text]
assert not missing, missing
EOF
pb_log "ok: every seed figure at its date"
