#!/usr/bin/env bash
# gateway_ops_listener.sh (issue 11, finding 8): the public API port gives
# no organisation ids, volumes or Kafka error text to anyone:
#  - GET /metrics on --listen: 404; on --ops-listen: the metrics, with the
#    organisations that published;
#  - GET /readyz on --listen while Kafka is unreachable: 503 "not ready"
#    only; on --ops-listen: 503 with the reason.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup curl jq python3
PFX=$(pb_topic_name gwops)-
gw_tokens stadt-koeln
gw_start ops --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http --topic-prefix "$PFX" --rate 0
P=$GW_PORT
O=$GW_OPS
gw_wait_ready "$P"
jq -c 'del(.event_id) | .source = "stadt-koeln"' \
        "$EXAMPLES/valid/aid.dispatched/generators-bgk-2022-12.json" >"$PB_TMP/ev.json"
gw_post "$P" tok-stadt-koeln aid.dispatched application/json "$PB_TMP/ev.json"
expect_code 201 "publish"

code=$(curl -s -o "$PB_TMP/public.metrics" -w '%{http_code}' "http://127.0.0.1:$P/metrics")
[[ $code == 404 ]] || pb_fail "/metrics on the public port: $code"
! grep -q stadt-koeln "$PB_TMP/public.metrics" || pb_fail "the public port names an organisation"
[[ -n $O ]] || pb_fail "no ops listener"
curl -sf "http://127.0.0.1:$O/metrics" >"$PB_TMP/ops.metrics" || pb_fail "/metrics on the ops listener"
grep -q 'partnerbus_gateway_events_total{type="aid.dispatched",org="stadt-koeln",outcome="published"} 1' "$PB_TMP/ops.metrics" ||
        pb_fail "events metric on the ops listener: $(grep events_total "$PB_TMP/ops.metrics")"
grep -q '^partnerbus_gateway_inflight_requests ' "$PB_TMP/ops.metrics" || pb_fail "gauges on the ops listener"
[[ $(curl -s "http://127.0.0.1:$O/readyz") == ready ]] || pb_fail "/readyz on the ops listener"

# Kafka unreachable: the reason only on the ops listener
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gw_start dead --brokers "127.0.0.1:$dead" --tokens "$PB_TMP/tokens" --insecure-http --publish-timeout 1s
pb_wait_for 30 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$GW_PORT/readyz) == 503 ]]"
body=$(curl -s "http://127.0.0.1:$GW_PORT/readyz")
[[ $body == "not ready" ]] || pb_fail "public /readyz body: '$body'"
[[ -n $GW_OPS ]] || pb_fail "no ops listener (dead)"
why=$(curl -s "http://127.0.0.1:$GW_OPS/readyz")
[[ $why == *Kafka* ]] || pb_fail "ops /readyz gives no reason: '$why'"
pb_log "public /readyz: '$body'; ops /readyz: '$why'"
# an owned type cannot be checked without Kafka: 503 ownership_unavailable,
# counted; the ownership topic is not caught up
jq -c 'del(.event_id, .source)' "$EXAMPLES/valid/funds.granted/prosthetics-workshop-750000.json" >"$PB_TMP/grant.json"
gw_post "$GW_PORT" tok-stadt-koeln funds.granted application/json "$PB_TMP/grant.json"
expect_code 503 "owned type while Kafka is away"
jq -e '.error == "ownership_unavailable"' "$PB_TMP/resp.json" >/dev/null || pb_fail "503 answer: $(cat "$PB_TMP/resp.json")"
curl -sf "http://127.0.0.1:$GW_OPS/metrics" >"$PB_TMP/dead.metrics" || pb_fail "/metrics (dead)"
grep -q '^partnerbus_gateway_owner_unavailable_total 1$' "$PB_TMP/dead.metrics" ||
        pb_fail "unavailable metric: $(grep owner_ "$PB_TMP/dead.metrics")"
grep -q '^partnerbus_gateway_owner_caught_up 0$' "$PB_TMP/dead.metrics" ||
        pb_fail "caught_up metric: $(grep owner_ "$PB_TMP/dead.metrics")"
grep -q '^partnerbus_gateway_owner_caught_up 1$' <(curl -sf "http://127.0.0.1:$O/metrics") ||
        pb_fail "caught_up on the live gateway: $(curl -sf "http://127.0.0.1:$O/metrics" | grep owner_)"
pb_log "ok"
