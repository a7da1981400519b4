#!/usr/bin/env bash
# gateway_schema_example.sh (issue 11, finding 4): GET /v1/schemas/{type}
# serves an example that a client can copy and publish as its own:
#  - no event_id (a fixed one made every copy a "200 duplicate" of the
#    first, silently not published) and no source (it named another
#    organisation); a note says the gateway fills both;
#  - two events made from the example with different content are both
#    published (201, distinct event_ids, source = the caller's
#    organisation), for every type.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup curl jq
PFX=$(pb_topic_name gwex)-
gw_tokens stadt-koeln
gw_start ex --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http --topic-prefix "$PFX" --rate 0
P=$GW_PORT

curl -sf "http://127.0.0.1:$P/v1/schemas" | jq -r '.types[].type' >"$PB_TMP/types"
[[ -s $PB_TMP/types ]] || pb_fail "no types listed"
while read -r type; do
        curl -sf "http://127.0.0.1:$P/v1/schemas/$type" >"$PB_TMP/info.json"
        jq -e '.example | type == "object"' "$PB_TMP/info.json" >/dev/null || pb_fail "$type: no example"
        jq -e '.example | has("event_id") | not' "$PB_TMP/info.json" >/dev/null ||
                pb_fail "$type: the example carries a fixed event_id: $(jq -c .example.event_id "$PB_TMP/info.json")"
        jq -e '.example | has("source") | not' "$PB_TMP/info.json" >/dev/null ||
                pb_fail "$type: the example names an organisation as source: $(jq -c .example.source "$PB_TMP/info.json")"
        jq -e '.example_note | test("event_id") and test("source")' "$PB_TMP/info.json" >/dev/null ||
                pb_fail "$type: no note on event_id and source"
        # copy it twice, change something (occurred_at), publish both
        jq -c '.example | .occurred_at = "2024-01-02T03:04:05.000Z"' "$PB_TMP/info.json" >"$PB_TMP/e1.json"
        jq -c '.example | .occurred_at = "2024-01-02T03:04:06.000Z"' "$PB_TMP/info.json" >"$PB_TMP/e2.json"
        gw_post "$P" tok-stadt-koeln "$type" application/json "$PB_TMP/e1.json"
        expect_code 201 "$type: first copy of the example"
        id1=$(jq -r .event_id "$PB_TMP/resp.json")
        gw_post "$P" tok-stadt-koeln "$type" application/json "$PB_TMP/e2.json"
        expect_code 201 "$type: second copy of the example (not a duplicate)"
        id2=$(jq -r .event_id "$PB_TMP/resp.json")
        [[ $id1 != "$id2" && $id1 =~ ^[0-9a-f-]{36}$ ]] || pb_fail "$type: event_ids '$id1' '$id2'"
        pb_log "$type: example without event_id/source, two copies published ($id1, $id2)"
done <"$PB_TMP/types"
# the source the gateway set is the caller's
gw_consume "$B" "$PFX" "$(head -n 1 "$PB_TMP/types")" >"$PB_TMP/events"
[[ $(jq -r .source "$PB_TMP/events" | sort -u) == stadt-koeln ]] || pb_fail "source in the topic: $(jq -r .source "$PB_TMP/events" | sort -u)"
pb_log "ok"
