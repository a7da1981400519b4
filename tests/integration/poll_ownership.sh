#!/usr/bin/env bash
# poll_ownership.sh (issue 11): poll enforces entity ownership like the
# gateway, through the same compacted topic (PREFIX + partnerbus.owners).
#  1. org-a publishes grant SK-2024-PROTHETIK through the gateway; the
#     poller of staatskanzlei-nrw, whose feed carries that grant_id, does
#     not publish it: the record becomes a dead letter naming org-a
#     (partnerbus_owner header, error at /grant_id), counted as rejected,
#     and the feed's two other grants are published;
#  2. the reverse: a grant the poller published (claimed) is refused at
#     the gateway for org-a with 409 not_owner naming staatskanzlei-nrw;
#     the poller's own update of that grant is published.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/poll_common.bash"
source "$(dirname "$0")/../gateway/lib_gateway.sh"
pb_require_cmd curl jq kcat
poll_setup pollown
trap 'kill $SERVER_PID 2>/dev/null || true; gw_stop_all; rm -rf "$PB_TMP"' EXIT
MAP=$FEEDS/grants.map.json
poll() { "$PB_BIN" poll --brokers "$B" --topic-prefix "$PFX" --url "$BASE/grants.csv" --type funds.granted \
        --map "$MAP" --organisation staatskanzlei-nrw --once --retries 1 --retry-backoff 100ms "$@"; }

gw_tokens org-a
gw_start one --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http --topic-prefix "$PFX" --rate 0
P=$GW_PORT
gw_wait_ready "$P"

# 1. org-a owns SK-2024-PROTHETIK before the poller sees it
jq '.grant_id = "SK-2024-PROTHETIK" | .amount = "1.00" | del(.source, .event_id)' \
        "$EXAMPLES/valid/funds.granted/prosthetics-workshop-750000.json" >"$PB_TMP/a.json"
gw_post "$P" tok-org-a funds.granted application/json "$PB_TMP/a.json"
expect_code 201 "org-a publishes grant SK-2024-PROTHETIK"

poll 2>"$PB_TMP/p1.log" || { cat "$PB_TMP/p1.log" >&2; pb_fail "first poll failed"; }
grep -q 'published=2 unchanged=0 rejected=1' "$PB_TMP/p1.log" || pb_fail "first poll: $(cat "$PB_TMP/p1.log")"
poll_consume funds.granted >"$PB_TMP/ev1"
got=$(jq -r '.event | "\(.grant_id) \(.source) \(.amount)"' "$PB_TMP/ev1" | sort | tr '\n' ',')
expect_eq "grants in Kafka" "$got" \
        "LVR-UA-EURO-2023 staatskanzlei-nrw 2600.00,SK-2022-UA-BGK staatskanzlei-nrw 143000.00,SK-2024-PROTHETIK org-a 1.00,"
timeout 60 kcat -b "$B" -C -t "${PFX}funds.granted.dlq" -o beginning -e -q \
        -f '%h\t%s\n' >"$PB_TMP/dlq"
expect_eq "dead letters" "$(grep -c 'partnerbus_owner=' "$PB_TMP/dlq")" 1
grep -q 'partnerbus_owner=org-a' "$PB_TMP/dlq" || pb_fail "dead letter does not name the owner: $(cat "$PB_TMP/dlq")"
grep -q 'partnerbus_error_pointer=/grant_id' "$PB_TMP/dlq" || pb_fail "dead letter pointer: $(cat "$PB_TMP/dlq")"
grep -q 'partnerbus_error=not_owner: grant_id SK-2024-PROTHETIK belongs to organisation org-a' "$PB_TMP/dlq" ||
        pb_fail "dead letter reason: $(cat "$PB_TMP/dlq")"
grep -q 'partnerbus_position=line 3' "$PB_TMP/dlq" || pb_fail "dead letter position: $(cat "$PB_TMP/dlq")"
grep -q 'msg="record rejected" line 3 error="not_owner: grant_id SK-2024-PROTHETIK belongs to organisation org-a' "$PB_TMP/p1.log" ||
        pb_fail "poll log does not name the owner: $(cat "$PB_TMP/p1.log")"
pb_log "ok: the poller refused org-a's grant (dead letter naming org-a) and published its two others"

# 2. the reverse: the poller owns SK-2022-UA-BGK now
jq '.grant_id = "SK-2022-UA-BGK" | del(.source, .event_id)' "$PB_TMP/a.json" >"$PB_TMP/b.json"
gw_post "$P" tok-org-a funds.granted application/json "$PB_TMP/b.json"
expect_code 409 "org-a sends the poller's grant"
jq -e '.error == "not_owner" and .owner == "staatskanzlei-nrw" and .pointer == "/grant_id"' \
        "$PB_TMP/resp.json" >/dev/null || pb_fail "409 answer: $(cat "$PB_TMP/resp.json")"
# a gateway started afterwards knows it from Kafka too
gw_start two --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http --topic-prefix "$PFX" --rate 0
gw_post "$GW_PORT" tok-org-a funds.granted application/json "$PB_TMP/b.json"
expect_code 409 "second gateway: org-a sends the poller's grant"

# the poller's own change is published; the refused record stays refused
# (one dead letter per distinct record, not one per poll)
sed -i 's/143\.000,00/144.000,00/' "$FEEDS/grants.csv"
poll 2>"$PB_TMP/p2.log" || { cat "$PB_TMP/p2.log" >&2; pb_fail "second poll failed"; }
grep -q 'published=1 unchanged=1 rejected=1' "$PB_TMP/p2.log" || pb_fail "second poll: $(cat "$PB_TMP/p2.log")"
n=$(poll_consume funds.granted | jq -r 'select(.event.grant_id == "SK-2022-UA-BGK") | "\(.event.source) \(.event.amount)"' | tr '\n' ',')
expect_eq "versions of SK-2022-UA-BGK" "$n" "staatskanzlei-nrw 143000.00,staatskanzlei-nrw 144000.00,"
n=$(timeout 60 kcat -b "$B" -C -t "${PFX}funds.granted.dlq" -o beginning -e -q -f '%h\n' | grep -c partnerbus_owner=)
expect_eq "dead letters after the second poll" "$n" 1
pb_log "ok: the gateway refuses the poller's grant; the poller updates it"
