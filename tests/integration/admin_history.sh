#!/usr/bin/env bash
# admin_history.sh: GET /v1/admin/orgs/{org}/events (docs/admin.md
# "History") against real Kafka. Through a gateway: a shipment dispatched
# by one organisation and delivered (confirmed) by another, and a grant in
# two versions (the second amends the amount). Checked: the latest list
# (newest first, per type and across the types an organisation may read),
# the timelines (oldest first, the reporting organisation of each
# version, where it is stored), an organisation's read filter, 403 for a
# type it may not read and nothing found for an entity it may not read,
# bad parameters, and "truncated" when the scan bound is hit.
set -euo pipefail
source "$(dirname "$0")/../admin/lib_admin.sh"

adm_setup curl jq python3
adm_start adm
gw_start gw --brokers "$B" --topic-prefix "$PFX" --insecure-http --rate 0 --admin-topics

adm_org hist-sender '["aid.dispatched","funds.granted"]' \
        '[{"type":"aid.dispatched"},{"type":"aid.delivered"},{"type":"funds.granted"}]'
adm_org hist-receiver '["aid.delivered"]' \
        '[{"type":"aid.delivered"},{"type":"aid.dispatched","where":"destination.oblast=Nowhere"}]'
adm_org hist-outsider '[]' '[{"type":"partnership.founded"}]'
SEND=$(adm_token hist-sender admin org-admin)
RECV=$(adm_token hist-receiver admin org-admin)
OUT=$(adm_token hist-outsider admin org-admin)

N=$RANDOM$RANDOM
SHIP=HIST-S-$N
GRANT=HIST-G-$N
pb_history_examples "$SHIP" "$GRANT" "$PB_TMP"
jq '.amount = "150500.00" | .note = "amended"' "$PB_TMP/grant.json" >"$PB_TMP/grant2.json"

publish() { # TOKEN TYPE FILE
        local i
        for i in $(seq 100); do
                gw_post "$GW_PORT" "$1" "$2" application/json "$3"
                [[ $HTTP_CODE == 401 ]] || break # the gateway learns tokens within a second
                sleep 0.1
        done
        [[ $HTTP_CODE == 200 || $HTTP_CODE == 201 ]] || pb_fail "publish $2: HTTP $HTTP_CODE $(head -c 600 "$PB_TMP/resp.json")"
}
publish "$SEND" aid.dispatched "$PB_TMP/dispatched.json"
publish "$RECV" aid.delivered "$PB_TMP/delivered.json"
publish "$SEND" funds.granted "$PB_TMP/grant.json"
sleep 0.01 # distinct Kafka timestamps for the two versions
publish "$SEND" funds.granted "$PB_TMP/grant2.json"

# latest funds.granted: newest first, the amended version on top
adm_call "$SEND" GET "/v1/admin/orgs/hist-sender/events?type=funds.granted&limit=5"
adm_expect 200 "latest funds.granted"
adm_jq '.types == ["funds.granted"] and .truncated == false and (.events | length) >= 2' "latest list shape"
jq -e --arg g "$GRANT" '[.events[] | select(.entity == $g) | .event.amount] == ["150500.00","143000.00"]' \
        "$PB_TMP/resp.json" >/dev/null || pb_fail "latest list: the grant's versions newest first: $(head -c 800 "$PB_TMP/resp.json")"
jq -e '[.events[].stored_at] as $t | $t == ($t | sort | reverse)' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "latest list not newest first"
# limit: only the newest
adm_call "$SEND" GET "/v1/admin/orgs/hist-sender/events?type=funds.granted&limit=1"
adm_expect 200 "latest funds.granted, limit 1"
jq -e --arg g "$GRANT" '(.events | length) == 1 and .events[0].entity == $g and .events[0].event.amount == "150500.00"' \
        "$PB_TMP/resp.json" >/dev/null || pb_fail "limit=1 is not the newest: $(head -c 800 "$PB_TMP/resp.json")"
# every readable type at once
adm_call "$SEND" GET "/v1/admin/orgs/hist-sender/events?limit=20"
adm_expect 200 "latest of all readable types"
jq -e '(.types | sort) == ["aid.delivered","aid.dispatched","funds.granted"]' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "types of the sender: $(jq -c .types "$PB_TMP/resp.json")"
jq -e --arg s "$SHIP" '[.events[] | select(.entity == $s) | .type] == ["aid.delivered","aid.dispatched"]' \
        "$PB_TMP/resp.json" >/dev/null || pb_fail "all types: the shipment's two events, newest first: $(head -c 1200 "$PB_TMP/resp.json")"

# the shipment's timeline: dispatched by the sender, then delivered by the receiver
adm_call "$SEND" GET "/v1/admin/orgs/hist-sender/events?entity=$SHIP"
adm_expect 200 "timeline of the shipment"
jq -e --arg s "$SHIP" '.entity == $s and .truncated == false and
        ([.events[] | [.type, .source]] == [["aid.dispatched","hist-sender"],["aid.delivered","hist-receiver"]]) and
        (.events | all(.entity == $s and (.type as $t | .topic | endswith($t)) and .partition >= 0 and .offset >= 0 and (.event_id | length) == 36))' \
        "$PB_TMP/resp.json" >/dev/null || pb_fail "shipment timeline: $(head -c 1500 "$PB_TMP/resp.json")"
# the grant's timeline: two versions by the sender, oldest first
adm_call "$SEND" GET "/v1/admin/orgs/hist-sender/events?entity=$GRANT"
adm_expect 200 "timeline of the grant"
jq -e '[.events[] | [.source, .event.amount, .event.note]] == [["hist-sender","143000.00",null],["hist-sender","150500.00","amended"]]' \
        "$PB_TMP/resp.json" >/dev/null || pb_fail "grant timeline: $(head -c 1500 "$PB_TMP/resp.json")"
V1=$(jq -r '.events[0].event_id' "$PB_TMP/resp.json")
V2=$(jq -r '.events[1].event_id' "$PB_TMP/resp.json")
[[ $V1 != "$V2" ]] || pb_fail "the two versions have one event id"

# the receiver reads aid.dispatched only where destination.oblast=Nowhere:
# its timeline of the shipment holds its own confirmation only
adm_call "$RECV" GET "/v1/admin/orgs/hist-receiver/events?entity=$SHIP"
adm_expect 200 "receiver's timeline"
jq -e '[.events[] | .type] == ["aid.delivered"] and .events[0].source == "hist-receiver"' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "the receiver's read filter was not applied: $(head -c 1200 "$PB_TMP/resp.json")"
# and may not read grants at all
adm_call "$RECV" GET "/v1/admin/orgs/hist-receiver/events?entity=$GRANT"
adm_expect 200 "receiver looks for the grant"
adm_jq '.events == []' "the receiver sees a grant it may not read"

# the outsider: 403 for a type it may not read, nothing for the entities,
# 403 for another organisation's history
adm_call "$OUT" GET "/v1/admin/orgs/hist-outsider/events?type=funds.granted"
adm_expect 403 "outsider asks for funds.granted"
adm_jq '.pointer == "/query/type"' "403 names the type"
adm_call "$OUT" GET "/v1/admin/orgs/hist-outsider/events?entity=$GRANT"
adm_expect 200 "outsider looks for the grant"
adm_jq '.events == [] and .types == ["partnership.founded"]' "the outsider sees the grant"
adm_call "$OUT" GET "/v1/admin/orgs/hist-sender/events?entity=$GRANT"
adm_expect 403 "outsider asks for the sender's history"
adm_call "" GET "/v1/admin/orgs/hist-sender/events"
adm_expect 401 "no token"
# the operator: every type; through an organisation's path, its view
adm_call "$OP" GET "/v1/admin/events?entity=$SHIP"
adm_expect 200 "operator's timeline"
adm_jq '[.events[].type] == ["aid.dispatched","aid.delivered"]' "the operator's timeline"
adm_call "$OP" GET "/v1/admin/orgs/hist-receiver/events?entity=$SHIP"
adm_expect 200 "operator with the receiver's view"
adm_jq '[.events[].type] == ["aid.delivered"]' "the operator sees the receiver's view"
adm_call "$SEND" GET "/v1/admin/events"
adm_expect 403 "an organisation asks for everything"

# untrusted parameters
for q in "entity=a%20b" "entity=%22x" "entity=$(printf 'x%.0s' $(seq 129))" "limit=0" "limit=501" "limit=1x" \
        "type=no.such" "type=..%2F..%2Fetc"; do
        adm_call "$SEND" GET "/v1/admin/orgs/hist-sender/events?$q"
        adm_expect 400 "bad parameter $q"
done
adm_call "$SEND" POST "/v1/admin/orgs/hist-sender/events" '{}'
adm_expect 405 "POST to events"

# the scan bound: one message per partition, the older version not read
adm_start adm2 --history-scan-max 1
adm_call "$SEND" GET "/v1/admin/orgs/hist-sender/events?entity=$GRANT"
adm_expect 200 "timeline with a scan bound of 1"
adm_jq '.truncated == true and ([.events[].event.amount] | index("143000.00")) == null' "scan bound not applied"
grep -F "$SEND" "$PB_TMP"/adm*.log "$PB_TMP"/gw.log && pb_fail "a token is in a log"
echo "ok: history (latest, timelines, read permissions, bounds)"
