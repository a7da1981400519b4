#!/usr/bin/env bash
# report --format iati on real Kafka: the replay/report fixture history
# (tests/replay/history.py: programmes with several grants, amended grants,
# a conflict) plus the seed fixture's shipments is written as an IATI 2.03
# activity file; it validates with xmllint against the schemas in
# tests/standards/iati-2.03/; every codelist value it uses is one of
# tests/standards/iati-2.03/codelists-used.json (each documented in
# docs/report.md); one activity per programme, per grant outside a
# programme and per sending organisation; commitments equal the funds and
# disbursements the declared aid value of summary.json, per currency;
# a range without grants or shipments writes no file and says why.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_require_cmd python3 xmllint
pb_tmpdir
pb_topic_prefix iati
STD=$PB_SOURCE_DIR/tests/standards/iati-2.03
H=$PB_TMP/history
python3 "$PB_SOURCE_DIR/tests/replay/history.py" gen "$H"
python3 "$PB_SOURCE_DIR/tests/fixtures/seed_history.py" "$PB_TMP/seed"
pb_produce_history "$H"
# the examples are in both histories: their repeated event ids count once
"$PB_BIN" produce --brokers "$B" --type aid.dispatched --file "$PB_TMP/seed/aid.dispatched.jsonl" \
        2>>"$PB_TMP/produce.log" || pb_fail "produce seed shipments"

"$PB_BIN" report --brokers "$B" --out "$PB_TMP/rep" --format html,iati --iati-org-ref XI-EXAMPLE-NRW \
        --as-of 2024-12-01 2>"$PB_TMP/report.log" || pb_fail "report: $(cat "$PB_TMP/report.log")"
X=$PB_TMP/rep/iati-activities.xml
[[ -s $X ]] || pb_fail "no iati-activities.xml"
xmllint --noout --schema "$STD/iati-activities-schema.xsd" "$X" 2>"$PB_TMP/xmllint.log" ||
        pb_fail "not valid IATI 2.03: $(head -5 "$PB_TMP/xmllint.log")"

python3 - "$X" "$PB_TMP/rep/summary.json" "$STD/codelists-used.json" "$PB_SOURCE_DIR/docs/report.md" "$H" <<'EOF' ||
import json, sys, glob
import xml.etree.ElementTree as ET
from decimal import Decimal as D
x, sj, cl, doc, hist = sys.argv[1:]
S = json.load(open(sj, encoding="utf-8"))
C = json.load(open(cl, encoding="utf-8"))
docs = open(doc, encoding="utf-8").read()
root = ET.parse(x).getroot()
fails = []
def eq(what, got, want):
    if got != want:
        fails.append("%s: got %r, want %r" % (what, got, want))
def uses(lst, code, where):
    if code not in C[lst]:
        fails.append("%s: %s %r is not in codelists-used.json" % (where, lst, code))
eq("version", root.get("version"), "2.03")
acts = root.findall("iati-activity")
commit, disb = {}, {}
for a in acts:
    ident = a.findtext("iati-identifier")
    assert ident.startswith("XI-EXAMPLE-NRW-"), ident
    eq("reporting-org", a.find("reporting-org").get("ref"), "XI-EXAMPLE-NRW")
    uses("OrganisationType", a.find("reporting-org").get("type"), ident)
    uses("Currency", a.get("default-currency"), ident)
    for p in a.findall("participating-org"):
        uses("OrganisationRole", p.get("role"), ident)
        uses("OrganisationType", p.get("type"), ident)
    uses("ActivityStatus", a.find("activity-status").get("code"), ident)
    for d in a.findall("activity-date"):
        uses("ActivityDateType", d.get("type"), ident)
    for d in a.findall("description"):
        uses("DescriptionType", d.get("type"), ident)
    rc = a.findall("recipient-country")
    eq(ident + " recipient", [(r.get("code"), r.get("percentage")) for r in rc], [("UA", "100")])
    secs = a.findall("sector")
    eq(ident + " sector percentages", sum(int(s.get("percentage")) for s in secs), 100)
    for s in secs:
        uses("SectorVocabulary", s.get("vocabulary"), ident)
        uses("Sector", s.get("code"), ident)
    uses("FinanceType", a.find("default-finance-type").get("code"), ident)
    for t in a.findall("transaction"):
        tt = t.find("transaction-type").get("code")
        uses("TransactionType", tt, ident)
        v = t.find("value")
        uses("Currency", v.get("currency"), ident)
        eq(ident + " value-date", v.get("value-date"), t.find("transaction-date").get("iso-date"))
        for o in ("provider-org", "receiver-org"):
            if t.find(o) is not None and t.find(o).get("type"):
                uses("OrganisationType", t.find(o).get("type"), ident)
        m = commit if tt == "2" else disb
        m[v.get("currency")] = m.get(v.get("currency"), D(0)) + D(v.text)
    # medical trucks are health care in emergencies
    if "Ministerium des Innern" in a.findtext("title/narrative"):
        eq(ident + " sector", [s.get("code") for s in secs], ["72011"])
eq("commitments = funds", commit, {c: D(v) for c, v in S["funds"]["total"].items()})
eq("disbursements = declared aid value", disb, {c: D(v) for c, v in S["aid"]["declared_value"].items()})
eq("disbursements", sum(1 for t in root.iter("transaction") if t.find("transaction-type").get("code") == "3"),
   S["aid"]["shipments"] - S["aid"]["undeclared_value"])
# one activity per programme, per grant outside one, per sender
progs = {r["programme"] for r in S["funds"]["by_programme"] if r["programme"] != "(no programme)"}
nogrant = sum(r["grants"] for r in S["funds"]["by_programme"] if r["programme"] == "(no programme)")
senders = set()
for l in open(hist + "/aid.dispatched.jsonl", encoding="utf-8"):
    senders.add(json.loads(l)["sender"]["name"])
aid_acts = [a for a in acts if "-AID-" in a.findtext("iati-identifier")]
eq("grant and programme activities", len(acts) - len(aid_acts), len(progs) + nogrant)
assert len(aid_acts) >= len(senders), (len(aid_acts), len(senders))
eq("identifiers unique", len({a.findtext("iati-identifier") for a in acts}), len(acts))
# every code used is documented
for lst, codes in C.items():
    if lst == "comment":
        continue
    for code, meaning in codes.items():
        if "`%s`" % code not in docs or meaning not in docs:
            fails.append("docs/report.md does not explain %s %s (%s)" % (lst, code, meaning))
if fails:
    print("\n".join(fails), file=sys.stderr)
    sys.exit(1)
EOF
        pb_fail "the IATI file does not hold the report's figures or uses undocumented codes"

# a range without funds or aid: no file, a note, exit 0
"$PB_BIN" report --brokers "$B" --out "$PB_TMP/empty" --format iati --iati-org-ref XI-EXAMPLE-NRW \
        --until 1990-01-01 2>"$PB_TMP/empty.log" || pb_fail "empty range: $(cat "$PB_TMP/empty.log")"
[[ ! -e $PB_TMP/empty/iati-activities.xml ]] || pb_fail "an IATI file without activities was written"
grep -q "no activity to write" "$PB_TMP/empty.log" || pb_fail "empty range not explained: $(cat "$PB_TMP/empty.log")"
# the reporting organisation is required
if "$PB_BIN" report --brokers "$B" --out "$PB_TMP/x" --format iati 2>"$PB_TMP/usage.log"; then
        pb_fail "--format iati without --iati-org-ref accepted"
fi
grep -q -- "--iati-org-ref" "$PB_TMP/usage.log" || pb_fail "usage: $(cat "$PB_TMP/usage.log")"
pb_log "ok: valid IATI 2.03, codes documented, commitments and disbursements equal the report"
