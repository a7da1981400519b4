#!/usr/bin/env bash
# partnerbus poll against real Kafka and a real HTTP server: a ;-separated
# CSV of grants (German numbers and dates, BOM, CRLF, a quoted field with a
# newline) with ETags. Shows: the first poll publishes every record; an
# unchanged second poll sends If-None-Match and publishes nothing; a
# changed record is published once; malformed rows go to the dead-letter
# topic with their line and JSON Pointer while the rest is published; a
# truncated body, an HTML answer and an unreachable feed leave the state
# untouched; --check prints what would be published and rejected.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/poll_common.bash"
poll_setup pollcsv
MAP=$FEEDS/grants.map.json
poll() { "$PB_BIN" poll --brokers "$B" --topic-prefix "$PFX" --url "$BASE/grants.csv" --type funds.granted \
        --map "$MAP" --organisation staatskanzlei-nrw --once --retries 1 --retry-backoff 100ms "$@"; }

# 1. first poll: all three grants, exact amounts and dates
poll 2>"$PB_TMP/p1.log" || { cat "$PB_TMP/p1.log" >&2; pb_fail "first poll failed"; }
poll_consume funds.granted >"$PB_TMP/ev1"
expect_eq "events after the first poll" "$(wc -l <"$PB_TMP/ev1")" 3
python3 - "$PB_TMP/ev1" <<'PY' || pb_fail "events differ from the feed"
import json, sys
ev = {m["event"]["grant_id"]: m["event"] for m in map(json.loads, open(sys.argv[1]))}
assert ev["SK-2022-UA-BGK"]["amount"] == "143000.00", ev["SK-2022-UA-BGK"]
assert ev["SK-2022-UA-BGK"]["granted_on"] == "2022-12-05"
assert ev["SK-2022-UA-BGK"]["recipient"]["name"].startswith("Blau-Gelbes Kreuz")
assert ev["SK-2024-PROTHETIK"]["amount"] == "750000.00"
assert ev["SK-2024-PROTHETIK"]["granted_on"] == "2024-02-29"
assert ev["SK-2024-PROTHETIK"]["purpose"] == 'Aufbau einer Prothesenwerkstatt;\r\nAusstattung und "Schulung" des Personals', ev["SK-2024-PROTHETIK"]["purpose"]
assert ev["LVR-UA-EURO-2023"]["amount"] == "2600.00"
assert ev["LVR-UA-EURO-2023"]["recurrence"] == "MONTHLY"
assert ev["LVR-UA-EURO-2023"]["grantor"]["kind"] == "REGIONAL_ASSOCIATION"
assert ev["LVR-UA-EURO-2023"]["recipient"]["city"] == "Львів"
assert all(e["source"] == "staatskanzlei-nrw" for e in ev.values())
PY
pb_log "ok: amounts 143000.00 / 750000.00 / 2600.00 and dates converted"

# 2. unchanged: conditional request, 304, nothing published
poll 2>"$PB_TMP/p2.log" || { cat "$PB_TMP/p2.log" >&2; pb_fail "second poll failed"; }
last=$(poll_requests | tail -n 1)
[[ $last == *'inm="'*'status=304'* ]] || pb_fail "second poll did not send If-None-Match / get 304: $last"
pb_log "ok: second request: $last"
grep -q 'outcome=not_modified' "$PB_TMP/p2.log" || pb_fail "second poll outcome: $(cat "$PB_TMP/p2.log")"
expect_eq "events after the unchanged poll" "$(poll_count funds.granted)" 3

# 3. one record changes (the LVR monthly amount): published once
sed -i 's/2\.600,00/2.700,00/' "$FEEDS/grants.csv"
poll 2>"$PB_TMP/p3.log" || { cat "$PB_TMP/p3.log" >&2; pb_fail "third poll failed"; }
grep -q 'published=1 unchanged=2' "$PB_TMP/p3.log" || pb_fail "third poll: $(cat "$PB_TMP/p3.log")"
poll_consume funds.granted >"$PB_TMP/ev3"
expect_eq "events after the change" "$(wc -l <"$PB_TMP/ev3")" 4
expect_eq "new LVR amount" "$(tail -n 1 "$PB_TMP/ev3" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["amount"])')" 2700.00
expect_eq "distinct event ids" "$(python3 -c 'import json,sys; print(len({json.loads(l)["event"]["event_id"] for l in open(sys.argv[1])}))' "$PB_TMP/ev3")" 4
poll 2>/dev/null
expect_eq "events after polling the change again" "$(poll_count funds.granted)" 4

# 4. malformed rows: a bad number and a stray quote; the good new row is
# published, the bad ones go to funds.granted.dlq with line and pointer
printf 'SK-2024-BAD-AMOUNT;Staatskanzlei;Land;Verein X;Verein;Essen;DE;;Test;1.43,00;einmalig;01.03.2024;\r\n' >>"$FEEDS/grants.csv"
printf 'SK-2024-BAD-QUOTE;Staats"kanzlei;Land;Verein Y;Verein;Essen;DE;;Test;1,00;einmalig;01.03.2024;\r\n' >>"$FEEDS/grants.csv"
printf 'SK-2024-BAD-DATE;Staatskanzlei;Land;Verein Z;Verein;Essen;DE;;Test;1,00;einmalig;30.02.2024;\r\n' >>"$FEEDS/grants.csv"
printf 'ESSEN-RIVNE-2024;Stadt Essen;Kommune;Stadtrat Riwne;Oblastverwaltung;Riwne;UA;;Solidaritätspartnerschaft;10.000,00;einmalig;15.03.2024;\r\n' >>"$FEEDS/grants.csv"
"$PB_BIN" poll --check --url "$BASE/grants.csv" --type funds.granted --map "$MAP" >"$PB_TMP/check" 2>"$PB_TMP/check.log" && pb_fail "--check with rejected rows should exit 1"
grep -q '"would":"reject","line":6,"pointer":"/amount"' "$PB_TMP/check" || pb_fail "--check: no reject of line 6 at /amount: $(cat "$PB_TMP/check")"
grep -q '"would":"reject","line":7,' "$PB_TMP/check" || pb_fail "--check: no reject of line 7"
grep -q '"would":"reject","line":8,"pointer":"/granted_on"' "$PB_TMP/check" || pb_fail "--check: no reject of line 8 at /granted_on"
expect_eq "--check would publish (no state without brokers)" "$(grep -c '"would":"publish"' "$PB_TMP/check")" 4
pb_log "ok: --check lists 4 publishable and 3 rejected records"
expect_eq "events after --check" "$(poll_count funds.granted)" 4
poll 2>"$PB_TMP/p4.log" || { cat "$PB_TMP/p4.log" >&2; pb_fail "poll with bad rows failed"; }
grep -q 'published=1 unchanged=3 rejected=3' "$PB_TMP/p4.log" || pb_fail "poll with bad rows: $(cat "$PB_TMP/p4.log")"
expect_eq "events after the bad rows" "$(poll_count funds.granted)" 5
timeout 60 kcat -b "$B" -C -t "${PFX}funds.granted.dlq" -o beginning -e -q \
        -f '%h\t%s\n' >"$PB_TMP/dlq"
expect_eq "dead letters" "$(wc -l <"$PB_TMP/dlq")" 3
grep -q 'partnerbus_position=line 6' "$PB_TMP/dlq" && grep -q 'partnerbus_error_pointer=/amount' "$PB_TMP/dlq" ||
        pb_fail "dead letter headers: $(cat "$PB_TMP/dlq")"
grep -q 'SK-2024-BAD-QUOTE;Staats"kanzlei' "$PB_TMP/dlq" || pb_fail "raw record missing from the dead letter"
pb_log "ok: dead letters carry position, pointer and the raw row"
poll 2>/dev/null
sed -i 's/Riwne;UA/Riwne;ua/' "$FEEDS/grants.csv" # a change that maps to the same event
poll 2>"$PB_TMP/p5.log"
grep -q 'published=0 unchanged=4 rejected=3' "$PB_TMP/p5.log" || pb_fail "repoll: $(cat "$PB_TMP/p5.log")"
timeout 60 kcat -b "$B" -C -t "${PFX}funds.granted.dlq" -o beginning -e -q >"$PB_TMP/dlq2"
expect_eq "dead letters after polling the same bad rows again" "$(wc -l <"$PB_TMP/dlq2")" 3

# 5. a truncated body, HTML, an unreachable feed: poll fails, state untouched
sed -i 's/10\.000,00/12.000,00/' "$FEEDS/grants.csv"
touch "$FEEDS/grants.csv.truncate"
poll 2>"$PB_TMP/p6.log" && pb_fail "poll of a truncated body succeeded"
grep -q 'outcome=unreachable\|outcome=malformed' "$PB_TMP/p6.log" || pb_fail "truncated: $(cat "$PB_TMP/p6.log")"
rm "$FEEDS/grants.csv.truncate"
echo "text/html; charset=utf-8" >"$FEEDS/grants.csv.ctype"
cp "$FEEDS/grants.csv" "$PB_TMP/grants.keep"
printf '<!DOCTYPE html><html><body>Wartungsarbeiten</body></html>' >"$FEEDS/grants.csv"
poll 2>"$PB_TMP/p7.log" && pb_fail "poll of an HTML page succeeded"
grep -q 'outcome=malformed' "$PB_TMP/p7.log" && grep -q 'HTML' "$PB_TMP/p7.log" || pb_fail "html: $(cat "$PB_TMP/p7.log")"
rm "$FEEDS/grants.csv.ctype"
cp "$PB_TMP/grants.keep" "$FEEDS/grants.csv"
"$PB_BIN" poll --brokers "$B" --topic-prefix "$PFX" --url "http://127.0.0.1:1/grants.csv" --type funds.granted \
        --map "$MAP" --organisation staatskanzlei-nrw --once --retries 1 --retry-backoff 100ms 2>"$PB_TMP/p8.log" && pb_fail "unreachable feed succeeded"
grep -q 'outcome=unreachable' "$PB_TMP/p8.log" || pb_fail "unreachable: $(cat "$PB_TMP/p8.log")"
expect_eq "events after the failed polls" "$(poll_count funds.granted)" 5
pb_log "ok: truncated, HTML and unreachable polls published nothing"
# the validators were not replaced by the failed polls: the next poll sends
# the ETag of the last good one, gets the changed body and publishes it
poll 2>"$PB_TMP/p9.log" || { cat "$PB_TMP/p9.log" >&2; pb_fail "recovery poll failed"; }
grep -q 'published=1 unchanged=3 rejected=3' "$PB_TMP/p9.log" || pb_fail "recovery: $(cat "$PB_TMP/p9.log")"
expect_eq "events after recovery" "$(poll_count funds.granted)" 6

# the poller's --organisation decides the source, not the mapping file: a
# mapping naming another organisation, or taking /source from the feed, is
# refused at start and publishes nothing
jq '.source = "blau-gelbes-kreuz"' "$MAP" >"$PB_TMP/other.map.json"
poll --map "$PB_TMP/other.map.json" 2>"$PB_TMP/p10.log" && pb_fail "a mapping in another organisation's name was accepted"
grep -q "names source 'blau-gelbes-kreuz', but this poller publishes for --organisation 'staatskanzlei-nrw'" "$PB_TMP/p10.log" ||
        pb_fail "mapping source: $(cat "$PB_TMP/p10.log")"
jq '.fields["/source"] = "Zuwendungsgeber"' "$MAP" >"$PB_TMP/src.map.json"
poll --map "$PB_TMP/src.map.json" 2>"$PB_TMP/p11.log" && pb_fail "a mapping of /source from the feed was accepted"
grep -q '"/source" cannot be mapped from the feed' "$PB_TMP/p11.log" || pb_fail "/source rule: $(cat "$PB_TMP/p11.log")"
"$PB_BIN" poll --brokers "$B" --topic-prefix "$PFX" --url "$BASE/grants.csv" --type funds.granted \
        --map "$MAP" --once 2>"$PB_TMP/p12.log" && pb_fail "a poller without --organisation was accepted"
grep -q -- '--organisation is required' "$PB_TMP/p12.log" || pb_fail "no organisation: $(cat "$PB_TMP/p12.log")"
expect_eq "events after the refused pollers" "$(poll_count funds.granted)" 6
pb_log "ok: the source is the poller's organisation"
pb_log "PASS"
