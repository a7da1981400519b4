#!/usr/bin/env bash
# gateway_ownership.sh: the organisation that first publishes a grant,
# shipment or partnership owns it; the gateway refuses another
# organisation's event about it with 409 not_owner naming the owner, and
# publishes nothing. The state lives in the compacted ownership topic
# (PREFIX + partnerbus.owners): a second gateway started later and a
# restarted first gateway refuse too. A confirmation by the receiver
# (aid.delivered) stays allowed for anyone. Two gateways claiming the same
# new entity at the same moment: exactly one wins.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup_two_orgs gwown curl jq
gw_start one "${GW_ARGS[@]}"
P1=$GW_PORT
PID1=$GW_PID
O1=$GW_OPS

G=G-$RANDOM$RANDOM
S=S-$RANDOM$RANDOM
# grant G: org-a's version and org-b's overwrite attempt (another amount)
jq --arg g "$G" '.grant_id = $g | del(.source, .event_id)' \
        "$EXAMPLES/valid/funds.granted/prosthetics-workshop-750000.json" >"$PB_TMP/a.json"
jq '.amount = "1.00" | .occurred_at = "2030-01-01T00:00:00.000Z"' "$PB_TMP/a.json" >"$PB_TMP/b.json"
jq '.amount = "760000.00"' "$PB_TMP/a.json" >"$PB_TMP/a2.json"

# expect_not_owner OWNER POINTER WHAT: the last answer was 409 not_owner
expect_not_owner() {
        expect_code 409 "$3"
        jq -e --arg o "$1" --arg p "$2" \
                '.error == "not_owner" and .owner == $o and .pointer == $p and (.message | type == "string")' \
                "$PB_TMP/resp.json" >/dev/null || pb_fail "$3: $(cat "$PB_TMP/resp.json")"
}
# send PORT ORG TYPE FILE: gw_post with ORG's token; FILE is one event, or
# a batch when its name ends in .ndjson
send() {
        local ctype=application/json
        [[ $4 == *.ndjson ]] && ctype=application/x-ndjson
        gw_post "$1" "tok-$2" "$3" "$ctype" "$4"
}
# accepted PORT ORG TYPE FILE WHAT: send, answered 201
accepted() {
        send "$1" "$2" "$3" "$4"
        expect_code 201 "$5"
}
# refused PORT ORG TYPE FILE OWNER POINTER WHAT: send, answered 409
# not_owner naming OWNER and the POINTER of the entity id
refused() {
        send "$1" "$2" "$3" "$4"
        expect_not_owner "$5" "$6" "$7"
}

accepted "$P1" org-a funds.granted "$PB_TMP/a.json" "org-a publishes grant $G"
refused "$P1" org-b funds.granted "$PB_TMP/b.json" org-a /grant_id "org-b sends org-a's grant"
accepted "$P1" org-a funds.granted "$PB_TMP/a2.json" "org-a updates its grant"
# in a batch: one foreign event refuses the whole batch
jq -c --arg g "N-$G" '.grant_id = $g' "$PB_TMP/b.json" >"$PB_TMP/batch.ndjson"
jq -c . "$PB_TMP/b.json" >>"$PB_TMP/batch.ndjson"
refused "$P1" org-b funds.granted "$PB_TMP/batch.ndjson" org-a /grant_id "a batch of org-b with org-a's grant on line 2"
jq -e '.line == 2' "$PB_TMP/resp.json" >/dev/null || pb_fail "batch answer: $(cat "$PB_TMP/resp.json")"

# shipment S of org-a: org-b may confirm its delivery, not dispatch it
jq --arg s "$S" '.shipment_id = $s | del(.source, .event_id)' \
        "$EXAMPLES/valid/aid.dispatched/generators-bgk-2022-12.json" >"$PB_TMP/s.json"
jq --arg s "$S" '.shipment_id = $s | del(.source, .event_id)' \
        "$EXAMPLES/valid/aid.delivered/dnipro-generators-partial.json" >"$PB_TMP/d.json"
accepted "$P1" org-a aid.dispatched "$PB_TMP/s.json" "org-a dispatches shipment $S"
refused "$P1" org-b aid.dispatched "$PB_TMP/s.json" org-a /shipment_id "org-b sends org-a's shipment"
accepted "$P1" org-b aid.delivered "$PB_TMP/d.json" "org-b confirms the delivery of org-a's shipment"

# the ownership metrics on the ops listener: two entities claimed (G, S),
# three requests refused (org-b's grant, its batch, its shipment), the map
# holds the two, the topic is caught up
metric() { # NAME: its value on the first gateway's ops listener
        curl -sf "http://127.0.0.1:$O1/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
[[ -n $O1 ]] || pb_fail "no ops listener"
for m in claims_total:2 refusals_total:3 unavailable_total:0 entries:2 dropped_total:0 caught_up:1; do
        got=$(metric "partnerbus_gateway_owner_${m%%:*}")
        [[ $got == "${m#*:}" ]] || pb_fail "partnerbus_gateway_owner_${m%%:*} = '$got', want ${m#*:}"
done
pb_log "ok: ownership metrics: 2 claims, 3 refusals, 0 unavailable, 2 entries, caught up"

# a batch of new entities is claimed at once (every claim produced before
# any is waited for): org-b owns both afterwards, org-a is refused
: >"$PB_TMP/newbatch.ndjson"
for g in "B1-$G" "B2-$G"; do
        jq -c --arg g "$g" '.grant_id = $g' "$PB_TMP/a.json" >>"$PB_TMP/newbatch.ndjson"
done
send "$P1" org-b funds.granted "$PB_TMP/newbatch.ndjson"
expect_code 200 "org-b publishes a batch of two new grants"
jq -e '.published == 2' "$PB_TMP/resp.json" >/dev/null || pb_fail "new batch: $(cat "$PB_TMP/resp.json")"
jq --arg g "B2-$G" '.grant_id = $g' "$PB_TMP/a.json" >"$PB_TMP/b2.json"
refused "$P1" org-a funds.granted "$PB_TMP/b2.json" org-b /grant_id "org-a sends org-b's grant claimed in a batch"
got=$(metric partnerbus_gateway_owner_claims_total)
[[ $got == 4 ]] || pb_fail "partnerbus_gateway_owner_claims_total = '$got' after the batch, want 4"

# a second gateway started afterwards knows the owner from Kafka
gw_start two "${GW_ARGS[@]}"
P2=$GW_PORT
refused "$P2" org-b funds.granted "$PB_TMP/b.json" org-a /grant_id "second gateway: org-b sends org-a's grant"
accepted "$P2" org-a funds.granted "$PB_TMP/a2.json" "second gateway: org-a updates its grant"

# the first gateway restarted: the same
kill -TERM "$PID1"
wait "$PID1" 2>/dev/null || true
gw_start one-again "${GW_ARGS[@]}"
P1=$GW_PORT
refused "$P1" org-b funds.granted "$PB_TMP/b.json" org-a /grant_id "restarted gateway: org-b sends org-a's grant"
refused "$P1" org-b aid.dispatched "$PB_TMP/s.json" org-a /shipment_id "restarted gateway: org-b sends org-a's shipment"

# a partnership nobody owns yet, claimed at the same moment through both
# gateways: the first claim in the partition wins, on both
R=R-$RANDOM$RANDOM
jq --arg r "$R" '.partnership_id = $r | del(.source, .event_id)' \
        "$(ls "$EXAMPLES"/valid/partnership.founded/*.json | head -n 1)" >"$PB_TMP/r.json"
race() { # PORT TOKEN OUT
        curl -s -o "$PB_TMP/$3.json" -w '%{http_code}' -H "Authorization: Bearer $2" \
                -H 'Content-Type: application/json' --data-binary "@$PB_TMP/r.json" \
                "http://127.0.0.1:$1/v1/events/partnership.founded" >"$PB_TMP/$3.code"
}
race "$P1" tok-org-a ra &
RA=$!
race "$P2" tok-org-b rb &
wait "$RA" "$!" || true
codes="$(cat "$PB_TMP/ra.code") $(cat "$PB_TMP/rb.code")"
case $codes in
"201 409") winner=org-a ;;
"409 201") winner=org-b ;;
*) pb_fail "race for $R: answers $codes: $(cat "$PB_TMP/ra.json" "$PB_TMP/rb.json")" ;;
esac
for p in "$P1" "$P2"; do
        for o in org-a org-b; do
                if [[ $o == "$winner" ]]; then
                        accepted "$p" "$o" partnership.founded "$PB_TMP/r.json" "after the race, $winner on port $p"
                else
                        refused "$p" "$o" partnership.founded "$PB_TMP/r.json" "$winner" /partnership_id \
                                "after the race, the loser on port $p"
                fi
        done
done

# nothing of org-b's about G or S reached Kafka; org-a's three versions did
n=$(gw_consume "$B" "$PFX" funds.granted | jq -r --arg g "$G" 'select(.grant_id == $g) | .source' | sort | uniq -c | tr -s ' ')
[[ $n == " 3 org-a" ]] || pb_fail "grant $G in Kafka: '$n', want 3 from org-a only"
n=$(gw_consume "$B" "$PFX" aid.dispatched | jq -r --arg s "$S" 'select(.shipment_id == $s) | .source' | sort | uniq -c | tr -s ' ')
[[ $n == " 1 org-a" ]] || pb_fail "shipment $S in Kafka: '$n', want 1 from org-a"
pb_log "ok: entities owned by their first publisher, across gateways and restarts; receivers still confirm"
