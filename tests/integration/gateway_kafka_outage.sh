#!/usr/bin/env bash
# gateway_kafka_outage.sh: Kafka stops while requests arrive.
# Own single-node broker (tests/kafka/harness.sh start --dir, kill-node,
# start-node on the same storage). A client posts events with fresh
# event_ids from 4 threads and retries every 5xx / failed connection with
# the same event_id. The broker is killed (SIGKILL) mid-traffic and
# restarted 8 s later. Expect: 503 answers with Retry-After during the
# outage, /readyz 503, then recovery; afterwards every event answered 2xx
# is in the topic exactly once.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup_own_broker curl jq python3
gw_start_example out gwout --publish-timeout 3s --retry-after 1s
P=$GW_PORT
gw_wait_ready "$P"

gw_loadgen "$P" --threads 4 --seconds 22 --retry --give-up 90
sleep 4
pb_log "killing the broker"
"$PB_HARNESS" kill-node --dir "$KDIR" 1 2>/dev/null
sleep 5
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/readyz")
[[ $ready == 503 ]] || pb_fail "/readyz during the outage: $ready"
# a request now waits --publish-timeout, then 503 + Retry-After; its event
# stays queued in the producer ("pending", --delivery-timeout is 5 min)
jq --arg id "$(cat /proc/sys/kernel/random/uuid)" '.event_id = $id' "$EX" >"$PB_TMP/one.json"
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched application/json "$PB_TMP/one.json"
expect_code 503 "publish while Kafka is down"
grep -qi '^Retry-After: 1' "$PB_TMP/resp.h" || pb_fail "503 without Retry-After"
jq -e '.error == "kafka_unavailable" and .results[0].status == "pending"' "$PB_TMP/resp.json" >/dev/null || pb_fail "503 body: $(cat "$PB_TMP/resp.json")"
pb_log "restarting the broker"
"$PB_HARNESS" start-node --dir "$KDIR" 1 2>/dev/null || pb_fail "broker did not restart on its storage"
wait "$LG" || pb_fail "load generator failed"
cat "$PB_TMP/loadgen.out" >&2
n503=$(jq '."503" // 0' "$PB_TMP/stats.json")
((n503 > 0)) || pb_fail "no 503 answers during the outage: $(cat "$PB_TMP/stats.json")"
sent=$(jq .sent "$PB_TMP/loadgen.out")
acc=$(wc -l <"$PB_TMP/accepted.txt")
[[ $acc == "$sent" ]] || pb_fail "only $acc of $sent events were eventually accepted after Kafka came back"
gw_wait_ready "$P" 60

# every 2xx event exactly once (the probe event above was answered 503 and
# never retried: it may or may not be there, and is not counted)
pb_log "answers $(cat "$PB_TMP/stats.json")"
gw_exactly_once "$B" "$PFX" "$PB_TMP/accepted.txt"
