#!/usr/bin/env bash
# admin_bad_input.sh: bad input to every call of the admin API (unknown
# fields, wrong types, bad values, broken JSON, huge bodies, unknown ids,
# another organisation's objects, bad query parameters) gets a clear 4xx
# whose "pointer" names the offending value (JSON Pointer into the body;
# /path/NAME for a path parameter, /query/NAME for a query parameter), and
# changes nothing: the state read back and the records in the state topics
# are the same before and after.
set -euo pipefail
source "$(dirname "$0")/../admin/lib_admin.sh"

adm_setup curl jq python3
adm_start adm --allow-http-endpoints --allow-private-endpoints --ops-listen 127.0.0.1:0
OPS=$(sed -n 's/.*msg="ops endpoint" port=\([0-9]*\).*/\1/p' "$PB_TMP/adm.log" | head -n 1)
[[ -n $OPS ]] || pb_fail "no ops endpoint"
adm_org org-a '["aid.dispatched"]' '[{"type":"aid.dispatched"}]'
adm_org org-b '["aid.dispatched"]' '[{"type":"aid.dispatched"}]'
ATOK=$(adm_token org-a admin org-admin)
BTOK=$(adm_token org-b admin org-admin)
B_TOKEN_ID=$(cat "$PB_TMP/last_token_id")
adm_receiver good echo
adm_call "$ATOK" POST /v1/admin/orgs/org-a/subscriptions \
        "{\"name\":\"s\",\"topics\":[\"aid.dispatched\"],\"endpoint\":\"$RECV_URL\"}"
adm_expect 201 "subscription of org-a"
ASUB=$(jq -r .id "$PB_TMP/resp.json")
adm_call "$BTOK" POST /v1/admin/orgs/org-b/subscriptions \
        "{\"name\":\"s\",\"topics\":[\"aid.dispatched\"],\"endpoint\":\"$RECV_URL\"}"
adm_expect 201 "subscription of org-b"
BSUB=$(jq -r .id "$PB_TMP/resp.json")

# snapshot: what the API shows and how many records the state topics hold
snapshot() {
        local t
        for p in /v1/admin/orgs /v1/admin/orgs/org-a/tokens /v1/admin/orgs/org-b/tokens \
                /v1/admin/orgs/org-a/subscriptions /v1/admin/orgs/org-b/subscriptions; do
                adm_call "$OP" GET "$p"
                jq -cS . "$PB_TMP/resp.json"
        done
        for t in orgs tokens subscriptions; do
                timeout 30 "$KCAT" -b "$B" -C -t "${PFX}partnerbus.admin.$t" -e -q -f '%o\n' 2>/dev/null | wc -l
        done
}
snapshot >"$PB_TMP/before"

N=0
# bad WANT-CODE WANT-POINTER TOKEN METHOD PATH [BODY]
bad() {
        local code=$1 ptr=$2 tok=$3 method=$4 path=$5 body=${6-}
        adm_call "$tok" "$method" "$path" "$body"
        [[ $HTTP_CODE == "$code" ]] || pb_fail "$method $path ${body:0:120}: got HTTP $HTTP_CODE, want $code: $(head -c 600 "$PB_TMP/resp.json")"
        jq -e --arg p "$ptr" '(.error | type == "string") and (.message | type == "string") and .pointer == $p and (.errors | any(.pointer == $p))' \
                "$PB_TMP/resp.json" >/dev/null ||
                pb_fail "$method $path ${body:0:120}: want pointer '$ptr': $(head -c 600 "$PB_TMP/resp.json")"
        N=$((N + 1))
}
ORG='"id":"org-c","name":"C","kind":"ngo"'
# --- POST /v1/admin/orgs
bad 400 /extra "$OP" POST /v1/admin/orgs "{$ORG,\"extra\":1}"
bad 400 /name "$OP" POST /v1/admin/orgs '{"id":"org-c","name":5,"kind":"ngo"}'
bad 400 /name "$OP" POST /v1/admin/orgs '{"id":"org-c","kind":"ngo"}'
bad 400 /id "$OP" POST /v1/admin/orgs '{"id":"Org_C","name":"C","kind":"ngo"}'
bad 400 /id "$OP" POST /v1/admin/orgs '{"id":"-c","name":"C","kind":"ngo"}'
bad 400 /kind "$OP" POST /v1/admin/orgs '{"id":"org-c","name":"C","kind":"club"}'
bad 400 /publish "$OP" POST /v1/admin/orgs "{$ORG,\"publish\":\"aid.dispatched\"}"
bad 400 /publish/1 "$OP" POST /v1/admin/orgs "{$ORG,\"publish\":[\"aid.dispatched\",\"no.such.type\"]}"
bad 400 /publish/1 "$OP" POST /v1/admin/orgs "{$ORG,\"publish\":[\"aid.dispatched\",\"aid.dispatched\"]}"
bad 400 /read/0/where "$OP" POST /v1/admin/orgs "{$ORG,\"read\":[{\"type\":\"aid.dispatched\",\"where\":\"no operator here\"}]}"
bad 400 /read/0/filter "$OP" POST /v1/admin/orgs "{$ORG,\"read\":[{\"type\":\"aid.dispatched\",\"filter\":\"x=1\"}]}"
bad 400 /read/0/type "$OP" POST /v1/admin/orgs "{$ORG,\"read\":[{\"where\":\"x=1\"}]}"
bad 400 /read/0 "$OP" POST /v1/admin/orgs "{$ORG,\"read\":[\"aid.dispatched\"]}"
bad 400 "" "$OP" POST /v1/admin/orgs '{"id":"org-c","id":"org-d","name":"C","kind":"ngo"}'
bad 400 "" "$OP" POST /v1/admin/orgs '{"id":"org-c",'
bad 400 "" "$OP" POST /v1/admin/orgs '[1,2]'
bad 400 "" "$OP" POST /v1/admin/orgs ''
bad 400 "" "$OP" POST /v1/admin/orgs "$(printf '{"a":%.0s' $(seq 40))1$(printf '}%.0s' $(seq 40))"
bad 400 /name "$OP" POST /v1/admin/orgs "{\"id\":\"org-c\",\"name\":\"$(printf 'x%.0s' $(seq 300))\",\"kind\":\"ngo\"}"
python3 -c 'import json; print(json.dumps({"id":"org-c","name":"C","kind":"ngo","pad":"x"*100000}))' >"$PB_TMP/huge.json"
bad 413 "" "$OP" POST /v1/admin/orgs "@$PB_TMP/huge.json"
bad 409 /id "$OP" POST /v1/admin/orgs '{"id":"org-a","name":"again","kind":"ngo"}'
bad 403 "" "$ATOK" POST /v1/admin/orgs "{$ORG}"
# --- PATCH /v1/admin/orgs/ID, disable, enable
bad 400 "" "$OP" PATCH /v1/admin/orgs/org-a '{}'
bad 400 /disabled "$OP" PATCH /v1/admin/orgs/org-a '{"disabled":"yes"}'
bad 400 /id "$OP" PATCH /v1/admin/orgs/org-a '{"id":"org-z"}'
bad 400 /created_at "$OP" PATCH /v1/admin/orgs/org-a '{"created_at":"2020-01-01T00:00:00Z"}'
bad 404 /path/org "$OP" PATCH /v1/admin/orgs/no-such-org '{"name":"x"}'
bad 404 /path/org "$OP" GET /v1/admin/orgs/NOT_AN_ID
bad 404 /path/org "$OP" GET /v1/admin/orgs/no-such-org
bad 400 /force "$OP" POST /v1/admin/orgs/org-a/disable '{"force":true}'
bad 404 /path/org "$OP" POST /v1/admin/orgs/no-such-org/disable
bad 403 "" "$ATOK" POST /v1/admin/orgs/org-a/disable
bad 403 "" "$ATOK" PATCH /v1/admin/orgs/org-a '{"publish":["aid.dispatched","funds.granted"]}'
bad 403 /path/org "$ATOK" GET /v1/admin/orgs/org-b
# --- tokens
bad 400 /role "$OP" POST /v1/admin/orgs/org-a/tokens '{"name":"t","role":"admin"}'
bad 400 /role "$OP" POST /v1/admin/orgs/org-a/tokens '{"name":"t"}'
bad 400 /name "$OP" POST /v1/admin/orgs/org-a/tokens '{"name":"has space","role":"publisher"}'
bad 400 /name "$OP" POST /v1/admin/orgs/org-a/tokens '{"name":["t"],"role":"publisher"}'
bad 400 /digest "$OP" POST /v1/admin/orgs/org-a/tokens '{"name":"t","role":"publisher","digest":"00"}'
bad 409 /name "$OP" POST /v1/admin/orgs/org-a/tokens '{"name":"admin","role":"publisher"}'
bad 404 /path/org "$OP" POST /v1/admin/orgs/no-such-org/tokens '{"name":"t","role":"publisher"}'
bad 403 /path/org "$ATOK" POST /v1/admin/orgs/org-b/tokens '{"name":"t","role":"publisher"}'
bad 403 /path/org "$ATOK" GET /v1/admin/orgs/org-b/tokens
bad 404 /path/token "$OP" DELETE /v1/admin/orgs/org-a/tokens/no-such-token
bad 404 /path/token "$OP" DELETE "/v1/admin/orgs/org-a/tokens/$B_TOKEN_ID"
bad 403 /path/org "$ATOK" DELETE "/v1/admin/orgs/org-b/tokens/$B_TOKEN_ID"
bad 400 /why "$OP" DELETE "/v1/admin/orgs/org-b/tokens/$B_TOKEN_ID" '{"why":"x"}'
# --- subscriptions
S='"name":"s2","topics":["aid.dispatched"],"endpoint":"'$RECV_URL'"'
SP=/v1/admin/orgs/org-a/subscriptions
bad 400 /topics "$ATOK" POST $SP '{"name":"s2","topics":[],"endpoint":"'$RECV_URL'"}'
bad 400 /topics/0 "$ATOK" POST $SP '{"name":"s2","topics":[1],"endpoint":"'$RECV_URL'"}'
bad 400 /topics/0 "$ATOK" POST $SP '{"name":"s2","topics":["no.such"],"endpoint":"'$RECV_URL'"}'
bad 400 /endpoint "$ATOK" POST $SP '{"name":"s2","topics":["aid.dispatched"]}'
bad 400 /endpoint "$ATOK" POST $SP '{"name":"s2","topics":["aid.dispatched"],"endpoint":5}'
bad 400 /endpoint "$ATOK" POST $SP '{"name":"s2","topics":["aid.dispatched"],"endpoint":"no url"}'
bad 400 /where "$ATOK" POST $SP "{$S,\"where\":\"nonsense\"}"
bad 400 /where/1 "$ATOK" POST $SP "{$S,\"where\":[\"a=1\",\"bogus\"]}"
bad 400 /where "$ATOK" POST $SP "{$S,\"where\":[]}"
bad 400 /where "$ATOK" POST $SP "{$S,\"where\":5}"
bad 400 /projection/exclude/0 "$ATOK" POST $SP "{$S,\"projection\":{\"exclude\":[\"$(printf '/a%.0s' $(seq 17))\"]}}"
bad 400 /projection/include/0 "$ATOK" POST $SP "{$S,\"projection\":{\"include\":[\"items\"]}}"
bad 400 /projection/only "$ATOK" POST $SP "{$S,\"projection\":{\"only\":[\"/items\"]}}"
bad 400 /projection "$ATOK" POST $SP "{$S,\"projection\":[\"/items\"]}"
bad 400 /batch_size "$ATOK" POST $SP "{$S,\"batch_size\":0}"
bad 400 /batch_size "$ATOK" POST $SP "{$S,\"batch_size\":1.5}"
bad 400 /batch_size "$ATOK" POST $SP "{$S,\"batch_size\":\"10\"}"
bad 400 /rate_limit_per_s "$ATOK" POST $SP "{$S,\"rate_limit_per_s\":-1}"
bad 400 /retry/max_elapsed_s "$ATOK" POST $SP "{$S,\"retry\":{\"max_elapsed_s\":\"1h\"}}"
bad 400 /retry/backoff "$ATOK" POST $SP "{$S,\"retry\":{\"backoff\":1}}"
bad 400 /bearer "$ATOK" POST $SP "{$S,\"bearer\":5}"
bad 400 /secret "$ATOK" POST $SP "{$S,\"secret\":\"mine\"}"
bad 400 /state "$ATOK" POST $SP "{$S,\"state\":\"active\"}"
bad 400 /org "$ATOK" POST $SP "{$S,\"org\":\"org-b\"}"
bad 403 /topics/0 "$ATOK" POST $SP '{"name":"s2","topics":["aid.delivered"],"endpoint":"'$RECV_URL'"}'
bad 403 /path/org "$ATOK" POST /v1/admin/orgs/org-b/subscriptions "{$S}"
bad 404 /path/subscription "$ATOK" GET "$SP/no-such-sub"
bad 404 /path/subscription "$ATOK" GET "$SP/$BSUB"
bad 404 /path/subscription "$ATOK" GET "$SP/$BSUB/status"
bad 404 /path/subscription "$ATOK" PATCH "$SP/$BSUB" '{"batch_size":2}'
bad 404 /path/subscription "$ATOK" DELETE "$SP/$BSUB"
bad 404 /path/subscription "$ATOK" POST "$SP/$BSUB/suspend"
bad 404 /path/subscription "$ATOK" POST "$SP/$BSUB/rotate-secret"
bad 404 /path/subscription "$ATOK" POST "$SP/$BSUB/retransmit" '{"from":"2026-12-01T00:00:00Z"}'
bad 400 "" "$ATOK" PATCH "$SP/$ASUB" '{}'
bad 400 /secret "$ATOK" PATCH "$SP/$ASUB" '{"secret":"mine"}'
bad 400 /state "$ATOK" PATCH "$SP/$ASUB" '{"state":"suspended"}'
bad 400 /name "$ATOK" PATCH "$SP/$ASUB" '{"name":"renamed"}'
bad 400 /batch_size "$ATOK" PATCH "$SP/$ASUB" '{"batch_size":100000}'
bad 400 /from "$ATOK" POST "$SP/$ASUB/retransmit" '{"from":"yesterday"}'
bad 400 /from "$ATOK" POST "$SP/$ASUB/retransmit" '{}'
bad 400 /from "$ATOK" POST "$SP/$ASUB/retransmit" '{"from":"2026-02-30T00:00:00Z"}'
bad 400 /until "$ATOK" POST "$SP/$ASUB/retransmit" '{"from":"2026-12-01T00:00:00Z","until":"x"}'
bad 400 /now "$ATOK" POST "$SP/$ASUB/suspend" '{"now":true}'
bad 400 "" "$ATOK" POST "$SP/$ASUB/resume" 'not json'
# --- audit
bad 400 /query/limit "$OP" GET '/v1/admin/audit?limit=0'
bad 400 /query/limit "$OP" GET '/v1/admin/audit?limit=abc'
bad 400 /query/org "$OP" GET '/v1/admin/audit?org=NOT_AN_ID'
bad 403 /query/org "$ATOK" GET '/v1/admin/audit?org=org-b'

# routes, methods, authentication
adm_call "$OP" GET /v1/admin/nothing
adm_expect 404 "unknown route"
adm_call "$OP" PUT /v1/admin/orgs/org-a
adm_expect 405 "wrong method"
adm_call "" POST /v1/admin/orgs "{$ORG}"
adm_expect 401 "no token"
adm_call "not-a-token" POST /v1/admin/orgs "{$ORG}"
adm_expect 401 "unknown token"

# the routes served are exactly the /v1/admin paths of docs/openapi.json,
# and each answers (not 404 "no such route", not 405) on the running server
"$PB_BIN" admin --print-routes | sort >"$PB_TMP/routes"
jq -r '.paths | to_entries[] | select(.key | startswith("/v1/admin/")) | .key as $p | .value | keys[] |
        select(. != "servers" and . != "parameters") | "\(ascii_upcase) \($p)"' \
        "$PB_SOURCE_DIR/docs/openapi.json" | sort >"$PB_TMP/openapi-routes"
diff -u "$PB_TMP/routes" "$PB_TMP/openapi-routes" >&2 || pb_fail "admin routes and docs/openapi.json differ"
while read -r method path; do
        p=${path//\{org\}/org-a}
        p=${p//\{id\}/no-such-id}
        adm_call "$ATOK" "$method" "$p" '{"unknown_member":1}'
        [[ $HTTP_CODE != 405 ]] && ! jq -e '.message == "no such route"' "$PB_TMP/resp.json" >/dev/null ||
                pb_fail "$method $path documented but answers $HTTP_CODE $(cat "$PB_TMP/resp.json")"
done <"$PB_TMP/openapi-routes"

snapshot >"$PB_TMP/after"
[[ $(curl -s "http://127.0.0.1:$OPS/readyz") == ready ]] || pb_fail "admin /readyz"
curl -s "http://127.0.0.1:$OPS/metrics" >"$PB_TMP/metrics"
grep -q '^partnerbus_admin_requests_total{method="POST",code="400"} [1-9]' "$PB_TMP/metrics" ||
        pb_fail "metrics: $(grep partnerbus_admin "$PB_TMP/metrics")"
diff "$PB_TMP/before" "$PB_TMP/after" >&2 || pb_fail "bad input changed the state"
pb_log "ok: $N bad requests refused with a pointer, nothing changed"
