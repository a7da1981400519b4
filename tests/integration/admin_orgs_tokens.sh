#!/usr/bin/env bash
# admin_orgs_tokens.sh: an organisation and a token created through
# `partnerbus admin` publish through gateways started with --admin-topics
# (no tokens file, no SIGHUP); a type the organisation may not publish and
# a subscriber token get 403; a revoked token gets 401 at TWO gateways
# within 5 s; a disabled organisation's tokens get 401 and work again once
# it is enabled; the token list shows name, prefix, created and last use
# (written by the gateway) but never the digest; the tokens file keeps
# working next to the admin topics; the CLI issues and revokes too.
set -euo pipefail
source "$(dirname "$0")/../admin/lib_admin.sh"

adm_setup curl jq
adm_start adm
gw_token_line file-org aid.dispatched >"$PB_TMP/tokens"
gw_start gw1 --brokers "$B" --topic-prefix "$PFX" --insecure-http --rate 0 --admin-topics
P1=$GW_PORT
gw_start gw2 --brokers "$B" --topic-prefix "$PFX" --insecure-http --rate 0 --admin-topics \
        --tokens "$PB_TMP/tokens"
P2=$GW_PORT
gw_wait_ready "$GW_OPS" 60 || pb_fail "gateway 2 not ready"

adm_org ngo-a '["aid.dispatched"]' '[]'
TOK=$(adm_token ngo-a ci-publisher publisher)
TOK_ID=$(cat "$PB_TMP/last_token_id")
[[ $TOK =~ ^pbt_[A-Za-z0-9_-]{43}$ ]] || pb_fail "token text '$TOK' is not pbt_ + 43 base64url characters"
SUBTOK=$(adm_token ngo-a reader subscriber)

jq 'del(.source, .event_id)' "$EXAMPLES/valid/aid.delivered/dnipro-generators-partial.json" >"$PB_TMP/del.json"
# applied within 5 s at both gateways
for p in "$P1" "$P2"; do
        adm_until 201 "new token does not publish at port $p within 5 s" adm_publish "$p" "$TOK"
        jq -e '.topic | endswith("aid.dispatched")' "$PB_TMP/resp.json" >/dev/null || pb_fail "publish answer: $(cat "$PB_TMP/resp.json")"
done
gw_post "$P1" "$TOK" aid.delivered application/json "$PB_TMP/del.json"
expect_code 403 "type the organisation may not publish"
jq -e '.error == "forbidden"' "$PB_TMP/resp.json" >/dev/null || pb_fail "403 body: $(cat "$PB_TMP/resp.json")"
adm_publish "$P1" "$SUBTOK"
expect_code 403 "a subscriber token publishes"
gw_post "$P1" "pbt_not-a-token-at-all" aid.dispatched application/json "$PB_TMP/ev.json"
expect_code 401 "unknown token"
# the tokens file still works next to the admin topics
adm_publish "$P2" tok-file-org
expect_code 201 "tokens-file token at the gateway with --tokens and --admin-topics"

# permissions changed by the operator apply without a restart
adm_call "$OP" PATCH /v1/admin/orgs/ngo-a '{"publish":["aid.dispatched","aid.delivered"]}'
adm_expect 200 "operator widens publish"
adm_jq '.version == 2' "version bumped"
adm_until 201 "widened publish not applied within 5 s" \
        gw_post "$P1" "$TOK" aid.delivered application/json "$PB_TMP/del.json"

# the list: name, prefix, created, last used (the gateway wrote it); no digest
ok=
for _ in $(seq 50); do
        adm_call "$OP" GET /v1/admin/orgs/ngo-a/tokens
        jq -e --arg id "$TOK_ID" '.tokens[] | select(.id == $id) | .last_used_at != null' "$PB_TMP/resp.json" >/dev/null && { ok=1; break; }
        sleep 0.1
done
[[ -n $ok ]] || pb_fail "last_used_at never set: $(cat "$PB_TMP/resp.json")"
jq -e --arg id "$TOK_ID" --arg pfx "${TOK:0:10}" \
        '.tokens[] | select(.id == $id) | .name == "ci-publisher" and .prefix == $pfx and .role == "publisher" and (.created_at | test("Z$")) and .revoked_at == null' \
        "$PB_TMP/resp.json" >/dev/null || pb_fail "token list entry: $(cat "$PB_TMP/resp.json")"
grep -q digest "$PB_TMP/resp.json" && pb_fail "token list shows digests"
grep -q -- "$TOK" "$PB_TMP/resp.json" && pb_fail "token list shows the token"
# the digest in Kafka is SHA-256 of the token
want=$(printf %s "$TOK" | sha256sum | cut -d' ' -f1)
ok=
for _ in $(seq 20); do
        adm_topic partnerbus.admin.tokens | cut -f2 >"$PB_TMP/tokens.topic"
        jq -s -e --arg d "$want" --arg id "$TOK_ID" 'any(.[]; .id == $id and .digest == $d)' "$PB_TMP/tokens.topic" >/dev/null && { ok=1; break; }
        sleep 0.5
done
[[ -n $ok ]] || pb_fail "tokens topic holds no SHA-256 digest ($want) of the token ${TOK:0:10} ($TOK_ID): $(cat "$PB_TMP/tokens.topic" "$PB_TMP/kcat.err")"
grep -q -- "$TOK" "$PB_TMP/tokens.topic" && pb_fail "the tokens topic holds the token itself"

# revoke: 401 at both gateways within 5 s
t0=$(date +%s%N)
adm_call "$OP" DELETE "/v1/admin/orgs/ngo-a/tokens/$TOK_ID"
adm_expect 200 "revoke"
adm_jq '.revoked_at != null' "revoked_at set"
for p in "$P1" "$P2"; do
        ok=
        while (( $(date +%s%N) - t0 < 5000000000 )); do
                adm_publish "$p" "$TOK"
                [[ $HTTP_CODE == 401 ]] && { ok=1; break; }
                sleep 0.05
        done
        [[ -n $ok ]] || pb_fail "revoked token still accepted at port $p after 5 s: $HTTP_CODE"
done
pb_log "revoked token refused at both gateways after $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# a disabled organisation: its other tokens get 401; enabled again: 201
TOK2=$(adm_token ngo-a second publisher)
adm_call "$OP" POST /v1/admin/orgs/ngo-a/disable
adm_expect 200 "disable"
adm_jq '.disabled == true' "disabled"
adm_until 401 "disabled organisation still publishes" adm_publish "$P2" "$TOK2"
# nor does its org-admin token manage anything
ADMTOK=$(adm_token ngo-a boss org-admin)
adm_call "$ADMTOK" GET /v1/admin/orgs/ngo-a/tokens
adm_expect 401 "org-admin token of a disabled organisation"
adm_call "$OP" POST /v1/admin/orgs/ngo-a/enable
adm_expect 200 "enable"
adm_until 201 "enabled organisation does not publish again" adm_publish "$P2" "$TOK2"

# the org-admin manages its own tokens, not another organisation's
adm_org ngo-b '["aid.dispatched"]' '[]'
adm_call "$ADMTOK" POST /v1/admin/orgs/ngo-a/tokens '{"name":"by-org-admin","role":"publisher"}'
adm_expect 201 "org-admin issues a token of its own organisation"
adm_call "$ADMTOK" POST /v1/admin/orgs/ngo-b/tokens '{"name":"intruder","role":"publisher"}'
adm_expect 403 "org-admin issues a token of another organisation"
adm_jq '.pointer == "/path/org"' "403 names the path parameter"
adm_call "$ADMTOK" POST /v1/admin/orgs '{"id":"ngo-c","name":"C","kind":"ngo"}'
adm_expect 403 "org-admin creates an organisation"
adm_call "$TOK2" GET /v1/admin/orgs/ngo-a/tokens
adm_expect 403 "a publisher token on the management API"

# the CLI: issue, list, revoke
export PARTNERBUS_ADMIN_URL=$ADM
"$PB_BIN" admin token issue ngo-b --name cli-token --role publisher --token-file "$PB_TMP/operator.token" >"$PB_TMP/cli.json" ||
        pb_fail "CLI token issue failed"
CLI_TOK=$(jq -r .token "$PB_TMP/cli.json")
CLI_ID=$(jq -r .id "$PB_TMP/cli.json")
adm_until 201 "CLI-issued token does not publish" adm_publish "$P1" "$CLI_TOK"
"$PB_BIN" admin token list ngo-b --token-file "$PB_TMP/operator.token" | jq -e '.tokens | length == 1' >/dev/null ||
        pb_fail "CLI token list"
"$PB_BIN" admin token revoke ngo-b "$CLI_ID" --token-file "$PB_TMP/operator.token" >/dev/null || pb_fail "CLI revoke"
rc=0
"$PB_BIN" admin token revoke ngo-b no-such-id --token-file "$PB_TMP/operator.token" 2>"$PB_TMP/cli.err" >/dev/null || rc=$?
[[ $rc == 1 ]] || pb_fail "CLI revoke of an unknown token: exit $rc"
grep -q '404' "$PB_TMP/cli.err" || pb_fail "CLI error output: $(cat "$PB_TMP/cli.err")"

# a second admin process started now sees the same state (stateless)
adm_start adm2
adm_call "$OP" GET /v1/admin/orgs/ngo-a/tokens
adm_expect 200 "second admin lists tokens"
jq -e --arg id "$TOK_ID" '.tokens[] | select(.id == $id) | .revoked_at != null' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "second admin does not know the revocation"
pb_log "ok"
