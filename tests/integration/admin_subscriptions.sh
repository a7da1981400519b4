#!/usr/bin/env bash
# admin_subscriptions.sh: subscriptions through the admin API, against real
# HTTP receivers on loopback: create (the receiver answers the verification
# request; the signing secret is shown once), list, show, change, suspend,
# resume, retransmit, rotate the secret, status (from the status topic the
# fleet writes), delete; the records in Kafka follow the contract. Refused:
# a type the organisation may not read (403), a receiver that does not
# echo the challenge or fails (422), loopback/private addresses without
# --allow-private-endpoints and http without --allow-http-endpoints (400),
# another organisation's subscription (404).
set -euo pipefail
source "$(dirname "$0")/../admin/lib_admin.sh"

adm_setup curl jq python3
# the strict one first: https only, public addresses only
adm_start strict
STRICT=$ADM
adm_start nohttp --allow-http-endpoints
NOPRIV=$ADM
adm_start adm --allow-http-endpoints --allow-private-endpoints
OPEN=$ADM

adm_org oblast-dnipro '[]' '[{"type":"aid.dispatched","where":"destination.oblast=Dnipropetrowsk"},{"type":"funds.granted"}]'
adm_org ngo-b '[]' '[{"type":"aid.dispatched"}]'
DTOK=$(adm_token oblast-dnipro admin org-admin)
BTOK=$(adm_token ngo-b admin org-admin)

adm_receiver good echo
GOOD=$RECV_URL
body() { # body NAME ENDPOINT [TOPIC]
        printf '{"name":"%s","topics":["%s"],"endpoint":"%s","where":"items.category=MEDICAL_SUPPLIES","projection":{"include":["/shipment_id","/items"],"exclude":["/sender/contact"]},"agreement":"DSA-2026-007","batch_size":10,"rate_limit_per_s":5,"retry":{"max_elapsed_s":600},"bearer":"receiver-secret-123"}' \
                "$1" "${3:-aid.dispatched}" "$2"
}

# --- create
adm_call "$DTOK" POST /v1/admin/orgs/oblast-dnipro/subscriptions "$(body medical "$GOOD")"
adm_expect 201 "create"
SUB=$(jq -r .id "$PB_TMP/resp.json")
SECRET=$(jq -r .secret "$PB_TMP/resp.json")
[[ $SECRET =~ ^pbs_[A-Za-z0-9_-]{43}$ ]] || pb_fail "secret '$SECRET'"
adm_jq '.state == "active" and .version == 1 and .bearer == "***" and .org == "oblast-dnipro" and .batch_size == 10 and .verified_at != null' "created record"
# the verification request reached the receiver, with the challenge
jq -s -e --arg s "$SUB" 'any(.[]; .path == "/hook" and ((.body | fromjson) as $b | $b.type == "partnerbus.verification" and $b.subscription == $s and $b.organisation == "oblast-dnipro" and .headers["x-partnerbus-challenge"] == $b.challenge))' \
        "$PB_TMP/good.requests" >/dev/null || pb_fail "verification request: $(cat "$PB_TMP/good.requests")"
# shown once: GET masks the secret and the bearer
adm_call "$DTOK" GET "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB"
adm_expect 200 "show"
adm_jq '.secret == "***" and .bearer == "***" and .where == "items.category=MEDICAL_SUPPLIES" and .projection.exclude == ["/sender/contact"] and .agreement == "DSA-2026-007"' "show"
grep -q -- "$SECRET" "$PB_TMP/resp.json" && pb_fail "GET shows the secret"
# the record in Kafka: the contract's fields, with the secret
rec() {
        timeout 30 "$KCAT" -b "$B" -C -t "${PFX}partnerbus.admin.subscriptions" -e -q -K '\t' -f '%k\t%s\n' 2>/dev/null |
                awk -F'\t' -v k="$SUB" '$1 == k {v = $2} END {print v}'
}
R=$(rec)
jq -e --arg s "$SECRET" '.secret == $s and .bearer == "receiver-secret-123" and .topics == ["aid.dispatched"] and .state == "active" and .retry.max_elapsed_s == 600 and .rate_limit_per_s == 5 and (.created_at | test("^[0-9-]+T[0-9:]+\\.[0-9]{3}Z$"))' <<<"$R" >/dev/null ||
        pb_fail "subscription record in Kafka: $R"

# --- refused: a type the organisation may not read
adm_call "$DTOK" POST /v1/admin/orgs/oblast-dnipro/subscriptions "$(body x "$GOOD" aid.delivered)"
adm_expect 403 "type not readable"
adm_jq '.pointer == "/topics/0"' "403 pointer"
# --- refused: verification failing
for mode in noecho wrong fail; do
        adm_receiver "r-$mode" "$mode"
        adm_call "$DTOK" POST /v1/admin/orgs/oblast-dnipro/subscriptions "$(body "v-$mode" "$RECV_URL")"
        adm_expect 422 "receiver '$mode'"
        adm_jq '.error == "verification_failed" and .pointer == "/endpoint"' "422 body ($mode)"
        [[ -s $PB_TMP/r-$mode.requests ]] || pb_fail "receiver '$mode' was not asked"
done
adm_receiver plain plain
adm_call "$DTOK" POST /v1/admin/orgs/oblast-dnipro/subscriptions "$(body plain "$RECV_URL")"
adm_expect 201 "a receiver echoing the challenge as text"
PLAIN=$(jq -r .id "$PB_TMP/resp.json")
# nothing listening at all
adm_call "$DTOK" POST /v1/admin/orgs/oblast-dnipro/subscriptions "$(body closed http://127.0.0.1:1/hook)"
adm_expect 422 "nothing listening"

# --- refused: endpoint safety without the operator's allowances
ADM=$NOPRIV
for ep in "$GOOD" http://localhost:8080/x http://10.1.2.3/x http://169.254.169.254/latest/meta-data \
        'http://[::1]:8080/x' http://192.168.1.1/ http://0.0.0.0/ 'http://[fe80::1]/' http://100.64.0.1/; do
        adm_call "$DTOK" POST /v1/admin/orgs/oblast-dnipro/subscriptions "$(body priv "$ep")"
        adm_expect 400 "private address $ep without --allow-private-endpoints"
        adm_jq '.error == "bad_endpoint" and .pointer == "/endpoint" and (.message | test("allow-private-endpoints|resolve"))' "400 body for $ep"
done
ADM=$STRICT
for ep in "$GOOD" http://example.org/hook ftp://example.org/x 'https://user:pw@example.org/x' not-a-url; do
        adm_call "$DTOK" POST /v1/admin/orgs/oblast-dnipro/subscriptions "$(body strict "$ep")"
        adm_expect 400 "endpoint $ep at the strict admin"
        adm_jq '.pointer == "/endpoint"' "pointer for $ep"
done
adm_call "$DTOK" POST /v1/admin/orgs/oblast-dnipro/subscriptions "$(body strict https://127.0.0.1:9/x)"
adm_expect 400 "https to loopback at the strict admin"
ADM=$OPEN
adm_call "$DTOK" GET /v1/admin/orgs/oblast-dnipro/subscriptions
adm_expect 200 "list"
adm_jq '[.subscriptions[].id] | sort == (["'"$SUB"'","'"$PLAIN"'"] | sort)' "only the two accepted subscriptions exist"

# --- change
adm_call "$DTOK" PATCH "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB" '{"where":"items.category=FOOD","batch_size":1}'
adm_expect 200 "change filter"
adm_jq '.where == "items.category=FOOD" and .batch_size == 1 and .version == 2 and .secret == "***"' "changed"
adm_receiver bad noecho
adm_call "$DTOK" PATCH "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB" "{\"endpoint\":\"$RECV_URL\"}"
adm_expect 422 "new endpoint failing verification"
adm_call "$DTOK" GET "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB"
adm_jq ".endpoint == \"$GOOD\" and .version == 2" "endpoint unchanged after the refused change"
adm_call "$DTOK" PATCH "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB" '{"topics":["aid.dispatched","aid.delivered"]}'
adm_expect 403 "change to a type not readable"
adm_jq '.pointer == "/topics/1"' "pointer"

# --- suspend, resume, retransmit, rotate
adm_call "$DTOK" POST "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB/suspend"
adm_expect 200 "suspend"
adm_jq '.state == "suspended"' "suspended"
[[ $(rec | jq -r .state) == suspended ]] || pb_fail "suspension not in Kafka"
adm_call "$DTOK" GET "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB/status"
adm_expect 200 "status before the fleet reported"
adm_jq '.state == "SUSPENDED"' "status of a suspended subscription without a report"
adm_call "$DTOK" POST "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB/resume"
adm_expect 200 "resume"
adm_jq '.state == "active"' "active"
adm_call "$DTOK" POST "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB/retransmit" '{"from":"2026-12-01T00:00:00Z"}'
adm_expect 200 "retransmit"
adm_jq '.retransmit == {"from":"2026-12-01T00:00:00.000Z","seq":1}' "retransmit 1"
adm_call "$DTOK" POST "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB/retransmit" '{"from":"2026-12-02T00:00:00.000Z"}'
adm_jq '.retransmit.seq == 2' "retransmit 2"
adm_call "$DTOK" POST "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB/rotate-secret"
adm_expect 200 "rotate"
NEW=$(jq -r .secret "$PB_TMP/resp.json")
[[ $NEW =~ ^pbs_ && $NEW != "$SECRET" ]] || pb_fail "rotated secret '$NEW'"
[[ $(rec | jq -r .secret) == "$NEW" ]] || pb_fail "rotated secret not in Kafka"

# --- status as the fleet writes it
printf '%s\t{"id":"%s","state":"LAGGING","lag_events":12,"lag_seconds":3,"last_delivery_at":"2026-12-06T10:00:00.000Z","last_success_at":"2026-12-06T10:00:00.000Z","delivered":5,"failed":1,"errors":[{"at":"2026-12-06T10:00:01.000Z","status":503,"message":"busy"}],"dead_letters":[],"member":"fleet-1","updated_at":"2026-12-06T10:00:02.000Z"}\n' "$SUB" "$SUB" |
        "$KCAT" -b "$B" -P -t "${PFX}partnerbus.admin.subscription-status" -K '\t' 2>/dev/null || pb_fail "kcat produce"
ok=
for _ in $(seq 50); do
        adm_call "$DTOK" GET "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB/status"
        jq -e '.state == "LAGGING" and .lag_events == 12 and .errors[0].status == 503' "$PB_TMP/resp.json" >/dev/null && { ok=1; break; }
        sleep 0.1
done
[[ -n $ok ]] || pb_fail "status from the status topic: $(cat "$PB_TMP/resp.json")"

# --- another organisation's subscription
adm_call "$BTOK" GET "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB"
adm_expect 403 "org-admin of another organisation"
adm_call "$BTOK" GET "/v1/admin/orgs/ngo-b/subscriptions/$SUB"
adm_expect 404 "another organisation's subscription under one's own"
adm_jq '.pointer == "/path/subscription"' "404 pointer"
adm_call "$BTOK" DELETE "/v1/admin/orgs/ngo-b/subscriptions/$SUB"
adm_expect 404 "delete another organisation's subscription"

# --- delete (a tombstone in Kafka)
adm_call "$DTOK" DELETE "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB"
adm_expect 200 "delete"
adm_call "$DTOK" GET "/v1/admin/orgs/oblast-dnipro/subscriptions/$SUB"
adm_expect 404 "deleted"
n=$(timeout 30 "$KCAT" -b "$B" -C -t "${PFX}partnerbus.admin.subscriptions" -e -q -Z -K '\t' -f '%k\t%S\n' 2>/dev/null | awk -F'\t' -v k="$SUB" '$1 == k && $2 == "-1"' | wc -l)
[[ $n == 1 ]] || pb_fail "no tombstone for the deleted subscription"

# the CLI
export PARTNERBUS_ADMIN_URL=$OPEN
"$PB_BIN" admin sub list oblast-dnipro --token-file <(printf '%s\n' "$DTOK") | jq -e '.subscriptions | length == 1' >/dev/null ||
        pb_fail "CLI sub list"
"$PB_BIN" admin sub suspend oblast-dnipro "$PLAIN" --token-file <(printf '%s\n' "$DTOK") | jq -e '.state == "suspended"' >/dev/null ||
        pb_fail "CLI sub suspend"
pb_log "ok"
