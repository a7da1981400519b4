#!/usr/bin/env bash
# gateway_dedup_orgs.sh: the dedup window is per organisation. org-b
# publishes aid.dispatched with event_id X; org-a then publishes
# funds.granted with the same X: it is published (201, on funds.granted),
# never answered "200 duplicate" with org-b's topic and offset (that told
# org-a its grant was stored while it was dropped, and where org-b's event
# sits). org-b's own retry of X is still a duplicate of its own event.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup curl jq
PFX=$(pb_topic_name gwdd)-
gw_tokens org-a org-b
gw_start main --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
        --topic-prefix "$PFX" --rate 0
P=$GW_PORT

X=7d5e1c1a-3b2f-4e6d-8a9b-0c1d2e3f4a5b
jq --arg id "$X" '.event_id = $id | del(.source)' \
        "$(ls "$EXAMPLES"/valid/aid.dispatched/*.json | head -n 1)" >"$PB_TMP/b.json"
jq --arg id "$X" '.event_id = $id | del(.source)' \
        "$(ls "$EXAMPLES"/valid/funds.granted/*.json | head -n 1)" >"$PB_TMP/a.json"

gw_post "$P" tok-org-b aid.dispatched application/json "$PB_TMP/b.json"
expect_code 201 "org-b's event"
b_offset=$(jq .offset "$PB_TMP/resp.json")

gw_post "$P" tok-org-a funds.granted application/json "$PB_TMP/a.json"
expect_code 201 "org-a's event with org-b's event_id"
jq -e --arg t "${PFX}funds.granted" '.topic == $t and .duplicate == false' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "org-a was answered about another event: $(cat "$PB_TMP/resp.json")"
grep -q "aid.dispatched" "$PB_TMP/resp.json" && pb_fail "the answer to org-a names org-b's topic"

# each organisation's retry is a duplicate of its own event
gw_post "$P" tok-org-b aid.dispatched application/json "$PB_TMP/b.json"
expect_code 200 "org-b's retry"
jq -e --arg t "${PFX}aid.dispatched" --argjson o "$b_offset" \
        '.topic == $t and .offset == $o and .duplicate == true' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "org-b's retry: $(cat "$PB_TMP/resp.json")"
gw_post "$P" tok-org-a funds.granted application/json "$PB_TMP/a.json"
expect_code 200 "org-a's retry"
jq -e --arg t "${PFX}funds.granted" '.topic == $t and .duplicate == true' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "org-a's retry: $(cat "$PB_TMP/resp.json")"

# both events are in Kafka, each with its own source
n=$(gw_consume "$B" "$PFX" funds.granted | jq -r 'select(.source == "org-a") | .event_id' | grep -c "$X")
[[ $n == 1 ]] || pb_fail "org-a's grant in Kafka $n times, want 1"
pb_log "ok: the same event_id from two organisations: two events, each retry a duplicate of its own"
