#!/usr/bin/env bash
# admin_audit.sh: every management call writes an audit record - actor
# organisation and token name, action, object, before/after, time,
# request id (the answer's X-Request-Id), result and status - refused
# calls too; no token, digest, signing secret or bearer appears in it (not
# in the API, not in the audit topic); the operator reads all entries, an
# organisation only its own; a second admin process reads the same log
# from Kafka.
set -euo pipefail
source "$(dirname "$0")/../admin/lib_admin.sh"

adm_setup curl jq python3
adm_start adm --allow-http-endpoints --allow-private-endpoints
adm_receiver good echo

declare -A RID=() # action -> request id
SECRETS=("$OP")
# do ACTION WANT TOKEN METHOD PATH [BODY]: a call whose audit record we check
do_call() {
        local action=$1 want=$2
        shift 2
        adm_call "$@"
        adm_expect "$want" "$action"
        RID[$action]=$(adm_request_id)
        [[ -n ${RID[$action]} ]] || pb_fail "$action: no X-Request-Id"
}
do_call org.create 201 "$OP" POST /v1/admin/orgs '{"id":"org-a","name":"A","kind":"municipality","publish":["aid.dispatched"],"read":[{"type":"aid.dispatched"}]}'
adm_org org-b '["aid.dispatched"]' '[{"type":"aid.dispatched"}]'
do_call org.change 200 "$OP" PATCH /v1/admin/orgs/org-a '{"name":"A (renamed)"}'
do_call org.disable 200 "$OP" POST /v1/admin/orgs/org-a/disable
do_call org.enable 200 "$OP" POST /v1/admin/orgs/org-a/enable
do_call token.issue 201 "$OP" POST /v1/admin/orgs/org-a/tokens '{"name":"boss","role":"org-admin"}'
ATOK=$(jq -r .token "$PB_TMP/resp.json")
SECRETS+=("$ATOK" "$(printf %s "$ATOK" | sha256sum | cut -d' ' -f1)")
BTOK=$(adm_token org-b boss org-admin)
SECRETS+=("$BTOK" "$(printf %s "$BTOK" | sha256sum | cut -d' ' -f1)")
adm_call "$ATOK" POST /v1/admin/orgs/org-a/tokens '{"name":"pub","role":"publisher"}'
PUB=$(jq -r .token "$PB_TMP/resp.json")
PUB_ID=$(jq -r .id "$PB_TMP/resp.json")
SECRETS+=("$PUB" "$(printf %s "$PUB" | sha256sum | cut -d' ' -f1)")
do_call token.revoke 200 "$ATOK" DELETE "/v1/admin/orgs/org-a/tokens/$PUB_ID"
SUBBODY='{"name":"s","topics":["aid.dispatched"],"endpoint":"'$RECV_URL'","bearer":"bearer-towards-receiver-42"}'
SECRETS+=(bearer-towards-receiver-42)
do_call subscription.create 201 "$ATOK" POST /v1/admin/orgs/org-a/subscriptions "$SUBBODY"
SUB=$(jq -r .id "$PB_TMP/resp.json")
SECRETS+=("$(jq -r .secret "$PB_TMP/resp.json")")
do_call subscription.change 200 "$ATOK" PATCH "/v1/admin/orgs/org-a/subscriptions/$SUB" '{"bearer":"second-bearer-99"}'
SECRETS+=(second-bearer-99)
do_call subscription.suspend 200 "$ATOK" POST "/v1/admin/orgs/org-a/subscriptions/$SUB/suspend"
do_call subscription.resume 200 "$ATOK" POST "/v1/admin/orgs/org-a/subscriptions/$SUB/resume"
do_call subscription.retransmit 200 "$ATOK" POST "/v1/admin/orgs/org-a/subscriptions/$SUB/retransmit" '{"from":"2026-12-01T00:00:00Z"}'
do_call subscription.rotate_secret 200 "$ATOK" POST "/v1/admin/orgs/org-a/subscriptions/$SUB/rotate-secret"
SECRETS+=("$(jq -r .secret "$PB_TMP/resp.json")")
do_call subscription.delete 200 "$ATOK" DELETE "/v1/admin/orgs/org-a/subscriptions/$SUB"
# refused calls are audited too
do_call refused.forbidden 403 "$ATOK" POST /v1/admin/orgs/org-b/tokens '{"name":"x","role":"publisher"}'
do_call refused.invalid 400 "$ATOK" POST /v1/admin/orgs/org-a/subscriptions '{"name":"s","topics":[],"endpoint":5}'
# org-b does something of its own
adm_call "$BTOK" POST /v1/admin/orgs/org-b/tokens '{"name":"b-pub","role":"publisher"}'
adm_expect 201 "org-b issues a token"
SECRETS+=("$(jq -r .token "$PB_TMP/resp.json")")

# --- the operator's view
adm_call "$OP" GET '/v1/admin/audit?limit=1000'
adm_expect 200 "audit as operator"
cp "$PB_TMP/resp.json" "$PB_TMP/audit.json"
check() { # check ACTION RESULT STATUS ACTOR_ORG ACTOR_TOKEN OBJECT_TYPE
        local a=$1 rid=${RID[$1]}
        [[ $a == refused.* ]] && a=$7
        jq -e --arg rid "$rid" --arg a "$a" --arg res "$2" --argjson st "$3" --arg ao "$4" --arg at "$5" --arg ot "$6" \
                '[.entries[] | select(.request_id == $rid)] | length == 1 and (.[0] |
                  .action == $a and .result == $res and .status == $st and
                  ((.actor_org // "") == $ao) and .actor_token == $at and .object_type == $ot and
                  (.at | test("^[0-9-]+T[0-9:]+\\.[0-9]{3}Z$")) and has("before") and has("after"))' \
                "$PB_TMP/audit.json" >/dev/null || pb_fail "audit record of $1 (request $rid): $(jq -c --arg rid "$rid" '.entries[] | select(.request_id == $rid)' "$PB_TMP/audit.json")"
}
check org.create ok 201 "" operator organisation
check org.change ok 200 "" operator organisation
check org.disable ok 200 "" operator organisation
check org.enable ok 200 "" operator organisation
check token.issue ok 201 "" operator token
check token.revoke ok 200 org-a boss token
check subscription.create ok 201 org-a boss subscription
check subscription.change ok 200 org-a boss subscription
check subscription.suspend ok 200 org-a boss subscription
check subscription.resume ok 200 org-a boss subscription
check subscription.retransmit ok 200 org-a boss subscription
check subscription.rotate_secret ok 200 org-a boss subscription
check subscription.delete ok 200 org-a boss subscription
check refused.forbidden refused 403 org-a boss token token.issue
check refused.invalid refused 400 org-a boss subscription subscription.create
# before/after
jq -e --arg rid "${RID[org.change]}" '.entries[] | select(.request_id == $rid) | .before.name == "A" and .after.name == "A (renamed)" and .object_id == "org-a"' \
        "$PB_TMP/audit.json" >/dev/null || pb_fail "org.change before/after"
jq -e --arg rid "${RID[subscription.change]}" '.entries[] | select(.request_id == $rid) | .before.bearer == "***" and .after.bearer == "***" and .after.secret == "***"' \
        "$PB_TMP/audit.json" >/dev/null || pb_fail "subscription.change: secrets not masked"
jq -e --arg rid "${RID[token.issue]}" '.entries[] | select(.request_id == $rid) | .before == null and .after.digest == "***" and .after.name == "boss"' \
        "$PB_TMP/audit.json" >/dev/null || pb_fail "token.issue record"
jq -e --arg rid "${RID[subscription.delete]}" '.entries[] | select(.request_id == $rid) | .after == null and .before.id != null' \
        "$PB_TMP/audit.json" >/dev/null || pb_fail "subscription.delete record"
jq -e --arg rid "${RID[refused.invalid]}" '.entries[] | select(.request_id == $rid) | .after == null' \
        "$PB_TMP/audit.json" >/dev/null || pb_fail "refused call has an after"

# --- no secrets: not in the API answer, not in the audit topic
timeout 30 "$KCAT" -b "$B" -C -t "${PFX}partnerbus.admin.audit" -e -q -f '%k %s\n' 2>/dev/null >"$PB_TMP/audit.topic"
[[ $(wc -l <"$PB_TMP/audit.topic") -ge 17 ]] || pb_fail "audit topic holds $(wc -l <"$PB_TMP/audit.topic") records"
for s in "${SECRETS[@]}"; do
        [[ -n $s && $s != null ]] || pb_fail "a secret of the test is empty"
        grep -qF -- "$s" "$PB_TMP/audit.json" && pb_fail "secret ${s:0:8}... in the audit API answer"
        grep -qF -- "$s" "$PB_TMP/audit.topic" && pb_fail "secret ${s:0:8}... in the audit topic"
done
# keys: the actor organisation ("operator" for the operator)
grep -q '^operator {' "$PB_TMP/audit.topic" || pb_fail "no record keyed operator"
grep -q '^org-a {' "$PB_TMP/audit.topic" || pb_fail "no record keyed org-a"

# --- an organisation sees its own entries only
adm_call "$ATOK" GET '/v1/admin/audit?limit=1000'
adm_expect 200 "audit as org-a"
jq -e 'all(.entries[]; .actor_org == "org-a" or .org == "org-a") and (.entries | length >= 14)' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "org-a's view: $(jq -c '[.entries[] | [.actor_org, .org, .action]]' "$PB_TMP/resp.json")"
jq -e 'any(.entries[]; .action == "org.disable")' "$PB_TMP/resp.json" >/dev/null || pb_fail "org-a does not see the operator's action on it"
jq -e 'any(.entries[]; .org == "org-b" and .actor_org != "org-a")' "$PB_TMP/resp.json" >/dev/null && pb_fail "org-a sees org-b's entries"
adm_call "$BTOK" GET '/v1/admin/audit'
jq -e 'all(.entries[]; .actor_org == "org-b" or .org == "org-b") and any(.entries[]; .action == "token.issue")' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "org-b's view"
# newest first, limit
adm_call "$OP" GET '/v1/admin/audit?limit=2'
jq -e '(.entries | length == 2) and .entries[0].at >= .entries[1].at' "$PB_TMP/resp.json" >/dev/null || pb_fail "limit / order"

# --- a second admin process: the same log from Kafka
adm_start adm2
adm_call "$OP" GET '/v1/admin/audit?limit=1000'
jq -S '[.entries[] | .request_id] | sort' "$PB_TMP/resp.json" >"$PB_TMP/ids2"
jq -S '[.entries[] | .request_id] | sort' "$PB_TMP/audit.json" >"$PB_TMP/ids1"
# the second one may hold the reads made since; every id of the first is there
jq -e --slurpfile a "$PB_TMP/ids1" '. as $b | $a[0] - $b == []' "$PB_TMP/ids2" >/dev/null || pb_fail "second admin lacks audit entries"
pb_log "ok"
