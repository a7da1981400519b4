#!/usr/bin/env bash
# report.html as a printable German document: the fixture history
# (tests/replay/history.py: the seed examples plus generated events) goes to
# real Kafka, `partnerbus report` (German by default) writes report.html,
# headless Chromium prints it to PDF (A4), and pdftotext reads the PDF back:
# every section heading, every grant's amount and every partnership's
# founding date as line items, and the totals of summary.json in German
# notation are in the text; the page count is sane (each section starts a
# page; no runaway). The report names the schemas' fingerprints and the
# Kafka offsets it read, and a second run over the same range names the
# same. trace.json gives every grant row its event ids. Ukrainian and
# English variants carry their own headings. The PDF and a screenshot of
# the German report stay in the build directory (report_de.pdf,
# report_de.png).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_require_cmd python3 chromium pdftotext pdfinfo
pb_tmpdir
pb_topic_prefix pdf
H=$PB_TMP/history
HIST="python3 $PB_SOURCE_DIR/tests/replay/history.py"

$HIST gen "$H"
pb_produce_history "$H"

# German by default; a second run of the same range, and uk / en
"$PB_BIN" report --brokers "$B" --out "$PB_TMP/de" --as-of 2024-07-01 2>"$PB_TMP/report.log" ||
        pb_fail "report: $(cat "$PB_TMP/report.log")"
"$PB_BIN" report --brokers "$B" --out "$PB_TMP/de2" --as-of 2024-07-01 2>>"$PB_TMP/report.log" ||
        pb_fail "second report: $(cat "$PB_TMP/report.log")"
"$PB_BIN" report --brokers "$B" --lang uk --out "$PB_TMP/uk" --as-of 2024-07-01 2>>"$PB_TMP/report.log" ||
        pb_fail "report --lang uk: $(cat "$PB_TMP/report.log")"
"$PB_BIN" report --brokers "$B" --lang en --out "$PB_TMP/en" --as-of 2024-07-01 2>>"$PB_TMP/report.log" ||
        pb_fail "report --lang en: $(cat "$PB_TMP/report.log")"
if "$PB_BIN" report --brokers "$B" --lang fr --out "$PB_TMP/fr" 2>"$PB_TMP/fr.log"; then
        pb_fail "--lang fr accepted"
fi
grep -q "not de, uk or en" "$PB_TMP/fr.log" || pb_fail "--lang fr: $(cat "$PB_TMP/fr.log")"

html=$PB_TMP/de/report.html
! grep -Eqi '<script|<link|src=|@import|url\(' "$html" || pb_fail "report.html references external assets or scripts"
grep -q '<html lang="de">' "$html" || pb_fail "report.html is not marked German"
grep -q '<html lang="uk">' "$PB_TMP/uk/report.html" || pb_fail "uk report not marked Ukrainian"
grep -q 'Фінансові кошти' "$PB_TMP/uk/report.html" || pb_fail "uk report lacks its headings"
grep -q '<html lang="en">' "$PB_TMP/en/report.html" && grep -q 'Grants, one by one' "$PB_TMP/en/report.html" ||
        pb_fail "en report lacks its headings"

pdf=${PB_BINARY_DIR:-$PB_TMP}/report_de.pdf
shot=${PB_BINARY_DIR:-$PB_TMP}/report_de.png
rm -f "$pdf" "$shot"
chrome() {
        timeout 120 chromium --headless=new --no-sandbox --disable-dev-shm-usage --disable-gpu \
                --disable-quic --no-first-run --disable-background-networking \
                --disable-component-update --disable-sync --user-data-dir="$PB_TMP/chromium" \
                "$@" >>"$PB_TMP/chromium.log" 2>&1
}
chrome --no-pdf-header-footer --print-to-pdf="$pdf" "file://$html" ||
        pb_fail "chromium --print-to-pdf failed: $(tail -5 "$PB_TMP/chromium.log")"
[[ -s $pdf ]] || pb_fail "no PDF"
chrome --window-size=1100,1500 --screenshot="$shot" "file://$html" ||
        pb_fail "chromium --screenshot failed: $(tail -5 "$PB_TMP/chromium.log")"
[[ -s $shot ]] || pb_fail "no screenshot"
pdftotext -enc UTF-8 "$pdf" "$PB_TMP/report.txt" || pb_fail "pdftotext failed"
pages=$(pdfinfo "$pdf" | awk '/^Pages:/{print $2}')
size=$(pdfinfo "$pdf" | awk '/^Page size:/{print $3 "x" $5}')
pb_log "report_de.pdf: $pages pages, $size pt"

python3 - "$H" "$PB_TMP/de/summary.json" "$PB_TMP/report.txt" "$pages" "$size" \
        "$PB_TMP/de/trace.json" "$PB_TMP/de2/summary.json" <<'EOF' || pb_fail "the German PDF lacks what the committee needs"
import decimal, json, re, sys
h, summ, txt, pages, size, trace, summ2 = sys.argv[1:8]
s = json.load(open(summ, encoding="utf-8"))
# pdftotext: no-break spaces and line breaks become single spaces
text = re.sub(r"\s+", " ", open(txt, encoding="utf-8").read().replace("\u00a0", " "))
def de_money(v):
    q = decimal.Decimal(v).quantize(decimal.Decimal("0.01"))
    i, f = ("%s" % abs(q)).split(".")
    g = ""
    while len(i) > 3:
        g = "." + i[-3:] + g
        i = i[:-3]
    return ("-" if q < 0 else "") + i + g + "," + f + " €"
def de_date(d):
    return "%s.%s.%s" % (d[8:10], d[5:7], d[0:4])
missing = []
def need(s_, what):
    if s_ not in text:
        missing.append("%s: %r" % (what, s_))
for hd in ["Unterstützung Nordrhein-Westfalens für die Ukraine", "Berichtszeitraum", "Stand",
           "Meldende Organisationen", "1. Kennzahlen", "2. Finanzielle Mittel",
           "3. Hilfslieferungen und Zustellungen", "4. Partnerschaften",
           "5. Erfassungsbereich der Zahlen", "6. Herkunft und Nachvollziehbarkeit",
           "Einzelne Bewilligungen", "Einzelne Lieferungen", "Einzelne Partnerschaften",
           "Nach Förderprogramm", "Nach Zieloblast", "Noch nicht bestätigte Lieferungen",
           "Konflikte zwischen Organisationen", "Bewilligte Mittel", "Partnerschaften gegründet"]:
    need(hd, "heading")
# totals of summary.json, in German notation
need(de_money(s["funds"]["total"]["EUR"]), "funds total")
need(de_money(s["aid"]["declared_value"]["EUR"]), "aid total")
need("143.000,00 €", "the generators grant")
need("28.02.2023", "the regional partnership's date")
# line items: every grant's amount and date, every partnership's date
grants = [json.loads(l) for l in open(h + "/funds.granted.jsonl", encoding="utf-8")]
latest, owner = {}, {}
for g in sorted(grants, key=lambda g: g["occurred_at"]):
    k = g["grant_id"]
    owner.setdefault(k, g["source"])
    if g["source"] != owner[k]:
        continue  # another organisation's version: a conflict, not a line item
    latest[k] = g
for g in latest.values():
    if g["currency"] == "EUR":
        need(de_money(g["amount"]), "grant %s amount" % g["grant_id"])
    need(de_date(g["granted_on"]), "grant %s date" % g["grant_id"])
for l in open(h + "/partnership.founded.jsonl", encoding="utf-8"):
    p = json.loads(l)
    need(de_date(p["founded_on"]), "partnership %s date" % p["partnership_id"])
# no raw enum symbol, no ISO month in the text
for raw in ["MEDICAL_SUPPLIES", "SOLIDARITY", "STATE_GOVERNMENT", " EUR ", "2023-08 2023-09"]:
    if raw in text:
        missing.append("raw %r in the text" % raw)
# provenance: fingerprints and offsets, the same in a second run
r1, r2 = s["report"], json.load(open(summ2, encoding="utf-8"))["report"]
assert len(r1["schemas"]) >= 4 and all(re.fullmatch(r"[0-9a-f]{16}", v) for v in r1["schemas"].values()), r1["schemas"]
for t, fp in r1["schemas"].items():
    need(fp, "fingerprint of " + t)
assert r1["read"] and sum(p["events"] for p in r1["read"]) == sum(1 for _ in open(h + "/funds.granted.jsonl")) + \
    sum(1 for _ in open(h + "/aid.dispatched.jsonl")) + sum(1 for _ in open(h + "/aid.delivered.jsonl")) + \
    sum(1 for _ in open(h + "/partnership.founded.jsonl")), r1["read"]
assert (r1["schemas"], r1["read"], r1["sources"]) == (r2["schemas"], r2["read"], r2["sources"]), "second run read something else"
# trace.json: every grant row names as many event ids as it counts grants,
# and the total names exactly the counted versions
tr = json.load(open(trace, encoding="utf-8"))
assert len(tr["funds"]["total"]) == s["funds"]["grants"], (len(tr["funds"]["total"]), s["funds"]["grants"])
assert {latest[k]["event_id"] for k in latest} == set(tr["funds"]["total"]), "trace names other grant events"
for row, trow in zip(s["funds"]["by_programme"], tr["funds"]["by_programme"]):
    assert row["programme"] == trow["programme"] and row["grants"] == len(trow["event_ids"]), (row, trow)
assert len(tr["partnerships"]["total"]) == s["partnerships"]["total"]
# pages: A4, every section on its own page, no runaway
pages = int(pages)
w, hh = (float(x) for x in size.split("x"))
assert abs(w - 595.92) < 2 and abs(hh - 842.88) < 2, ("not A4", size)
assert 6 <= pages <= 40, ("page count", pages)
if missing:
    print("\n".join(missing[:30]), file=sys.stderr)
    sys.exit(1)
print("German PDF ok: %d pages, %d grants, %d partnerships" % (pages, len(latest), s["partnerships"]["total"]))
EOF
pb_log "pdf: $pdf, screenshot: $shot"
pb_log "ok"
