#!/usr/bin/env bash
# gateway_publish_timeout.sh: the HTTP deadline (--publish-timeout) is not
# the end of a publish (--delivery-timeout, librdkafka's message.timeout.ms).
#
# Own single-node broker. The broker is paused (SIGSTOP) or killed while an
# event with a client event_id is published:
#
# A. Paused, message in flight, default --delivery-timeout (5 min): 503 at
#    the 2 s deadline with the event "pending"; the retry with the same
#    event_id gets 409 in_flight (+ Retry-After) while the message is still
#    in the producer; after SIGCONT Kafka acknowledges it, and the retry is
#    answered 200 duplicate with the partition and offset where the topic
#    holds it, exactly once. (Before, the event was released at the 503 and
#    the retry published it a second time.)
# B. Paused longer than --delivery-timeout 4s: the in-flight message times
#    out, librdkafka cannot tell whether the broker stored it (possibly
#    persisted): the event_id stays held, retries get 409 outcome_unknown,
#    also after SIGCONT; the topic holds it at most once.
# C. Killed, the message never left the producer: when --delivery-timeout
#    4s passes it failed for sure, the claim is released and the retry
#    publishes it (no 409); after the broker restarted the retries end in a
#    2xx and the topic holds it exactly once.
# In-flight counters go back to 0 (nothing leaks), every gateway exits 0
# on SIGTERM.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup_own_broker curl jq python3
BPID=
cleanup() {
        [[ -n $BPID ]] && kill -CONT "$BPID" 2>/dev/null || true
        gw_cleanup_own_broker
}
trap cleanup EXIT
BPID=$(cat "$KDIR/node-1/pid")
kill -0 "$BPID" || pb_fail "no broker process $BPID"
PFX=$(pb_topic_name gwpt)-
EX=$GW_EXAMPLE
TOK=tok-blau-gelbes-kreuz
gw_tokens blau-gelbes-kreuz

# event FILE ID: the example with event_id ID
event() { jq -c --arg id "$2" '.event_id = $id' "$EX" >"$1"; }
now() { date +%s.%N; }
# inflight_zero OPS-PORT: the gateway's in-flight events gauge is 0
inflight_zero() {
        curl -s "http://127.0.0.1:$1/metrics" |
                awk '/^partnerbus_gateway_inflight_events /{f=$2} END {exit !(f != "" && f+0 == 0)}'
}
# in_topic ID: lines "partition offset" of every copy of ID in the topic
in_topic() {
        timeout 120 "$PB_BIN" consume --brokers "$B" --topic-prefix "$PFX" --topics aid.dispatched \
                --from-beginning --meta | jq -r --arg id "$1" 'select(.event.event_id == $id) | "\(.partition) \(.offset)"'
}
# stop_gw PID NAME: SIGTERM, want exit 0
stop_gw() {
        gw_term "$1"
        ((GW_RC == 0)) || { tail -5 "$PB_TMP/$2.log" >&2; pb_fail "gateway $2 exited $GW_RC on SIGTERM"; }
}

# start_gw NAME ARGS...: a gateway on the own broker (plain HTTP, no rate
# limit, --publish-timeout 2s, --retry-after 1s, then ARGS), ready
start_gw() {
        local name=$1
        shift
        gw_start "$name" --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
                --topic-prefix "$PFX" --rate 0 --publish-timeout 2s --retry-after 1s "$@"
        gw_wait_ready "$GW_PORT"
}
# warm_up PORT WHAT: publish one event, so that topic, leader and connection
# are known and the next message is sent to the broker at once (in flight)
# rather than queued
warm_up() {
        event "$PB_TMP/warm.json" "$(cat /proc/sys/kernel/random/uuid)"
        gw_post "$1" "$TOK" aid.dispatched application/json "$PB_TMP/warm.json"
        expect_code 201 "$2: warm-up event"
}

# ------------------------------------------------------------------ A
start_gw a
PA=$GW_PORT
OA=$GW_OPS
PIDA=$GW_PID
warm_up "$PA" A

IDA=$(cat /proc/sys/kernel/random/uuid)
event "$PB_TMP/a.json" "$IDA"
kill -STOP "$BPID"
pb_log "A: broker paused"
t0=$(now)
gw_post "$PA" "$TOK" aid.dispatched application/json "$PB_TMP/a.json"
took=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
expect_code 503 "A: publish to a paused broker"
pb_log "A: 503 after ${took}s: $(head -c 400 "$PB_TMP/resp.json")"
awk -v t="$took" 'BEGIN {exit !(t >= 1.9 && t < 6)}' || pb_fail "A: 503 after ${took}s, want it at the 2 s deadline"
grep -qi '^Retry-After: 1' "$PB_TMP/resp.h" || pb_fail "A: 503 without Retry-After"
jq -e --arg id "$IDA" '.error == "kafka_unavailable" and .pending == 1 and .failed == 0 and
        .results[0].event_id == $id and .results[0].status == "pending"' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "A: 503 body: $(cat "$PB_TMP/resp.json")"
gw_post "$PA" "$TOK" aid.dispatched application/json "$PB_TMP/a.json"
expect_code 409 "A: retry while the first attempt is pending"
jq -e '.error == "in_flight"' "$PB_TMP/resp.json" >/dev/null || pb_fail "A: 409 body: $(cat "$PB_TMP/resp.json")"
grep -qi '^Retry-After:' "$PB_TMP/resp.h" || pb_fail "A: 409 without Retry-After"
# a batch holding the pending event_id is refused as a whole
IDX=$(cat /proc/sys/kernel/random/uuid)
{ event /dev/stdout "$IDX"; event /dev/stdout "$IDA"; } >"$PB_TMP/batch.ndjson"
gw_post "$PA" "$TOK" aid.dispatched application/x-ndjson "$PB_TMP/batch.ndjson"
expect_code 409 "A: batch with the pending event_id"
sleep 2 # the pause outlasts the deadline well, still within request.timeout.ms
kill -CONT "$BPID"
pb_log "A: broker resumed"
codes=()
for _ in $(seq 60); do
        gw_post "$PA" "$TOK" aid.dispatched application/json "$PB_TMP/a.json"
        codes+=("$HTTP_CODE")
        [[ $HTTP_CODE == 409 ]] || break
        sleep 0.5
done
pb_log "A: retries answered ${codes[*]}: $(head -c 300 "$PB_TMP/resp.json")"
expect_code 200 "A: retry after the broker resumed"
jq -e --arg id "$IDA" '.duplicate == true and .event_id == $id' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "A: want a duplicate answer: $(cat "$PB_TMP/resp.json")"
want="$(jq -r '"\(.partition) \(.offset)"' "$PB_TMP/resp.json")"
pb_wait_for 30 inflight_zero "$OA"
# the late outcome is counted just after the in-flight gauge drops
late_counted() { curl -s "http://127.0.0.1:$OA/metrics" | grep -q 'partnerbus_gateway_events_total{.*outcome="late_published"} 1$'; }
pb_wait_for 5 late_counted ||
        pb_fail "A: late publish not counted: $(curl -s "http://127.0.0.1:$OA/metrics" | grep -E 'events_total.*late|inflight' | tr '\n' ' ') log: $(grep -E 'outcome unknown|late|delivery' "$PB_TMP"/*.log 2>/dev/null | tail -5)"
got=$(in_topic "$IDA")
pb_log "A: in the topic at: ${got//$'\n'/; } (answered $want)"
[[ $got == "$want" ]] || pb_fail "A: event $IDA in the topic at '${got//$'\n'/; }', want exactly once at '$want'"
[[ -z $(in_topic "$IDX") ]] || pb_fail "A: the refused batch was published"
stop_gw "$PIDA" a

# ------------------------------------------------------------------ B
start_gw b --delivery-timeout 4s
PBB=$GW_PORT
OB=$GW_OPS
PIDB=$GW_PID
warm_up "$PBB" B
IDB=$(cat /proc/sys/kernel/random/uuid)
event "$PB_TMP/b.json" "$IDB"
kill -STOP "$BPID"
pb_log "B: broker paused"
gw_post "$PBB" "$TOK" aid.dispatched application/json "$PB_TMP/b.json"
expect_code 503 "B: publish to a paused broker"
jq -e '.results[0].status == "pending"' "$PB_TMP/resp.json" >/dev/null || pb_fail "B: 503 body: $(cat "$PB_TMP/resp.json")"
sleep 4 # past --delivery-timeout: the message timed out in flight
gw_post "$PBB" "$TOK" aid.dispatched application/json "$PB_TMP/b.json"
pb_log "B: retry after the delivery timeout: $HTTP_CODE $(head -c 300 "$PB_TMP/resp.json")"
expect_code 409 "B: retry after the outcome became unknown"
jq -e '.error == "outcome_unknown"' "$PB_TMP/resp.json" >/dev/null || pb_fail "B: 409 body: $(cat "$PB_TMP/resp.json")"
grep -q "event_id=$IDB.*outcome unknown" "$PB_TMP/b.log" || pb_fail "B: unknown outcome not logged"
kill -CONT "$BPID"
pb_log "B: broker resumed"
gw_wait_ready "$PBB" 60
gw_post "$PBB" "$TOK" aid.dispatched application/json "$PB_TMP/b.json"
expect_code 409 "B: retry after the broker resumed (still unknown)"
pb_wait_for 30 inflight_zero "$OB"
nb=$(in_topic "$IDB" | grep -c . || true)
pb_log "B: the event whose outcome was unknown is in the topic $nb time(s)"
((nb <= 1)) || pb_fail "B: event $IDB in the topic $nb times"
curl -s "http://127.0.0.1:$OB/metrics" >"$PB_TMP/b.metrics"
grep -q 'partnerbus_gateway_events_total{.*outcome="pending"} 1$' "$PB_TMP/b.metrics" ||
        pb_fail "B: pending outcome not counted: $(grep events_total "$PB_TMP/b.metrics")"
grep -q 'partnerbus_gateway_events_total{.*outcome="late_unknown"} 1$' "$PB_TMP/b.metrics" ||
        pb_fail "B: late unknown outcome not counted: $(grep events_total "$PB_TMP/b.metrics")"
stop_gw "$PIDB" b

# ------------------------------------------------------------------ C
start_gw c --delivery-timeout 4s
PC=$GW_PORT
OC=$GW_OPS
PIDC=$GW_PID
BPID=
"$PB_HARNESS" kill-node --dir "$KDIR" 1 2>/dev/null
pb_log "C: broker killed"
pb_wait_for 30 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PC/readyz) == 503 ]]"
IDC=$(cat /proc/sys/kernel/random/uuid)
event "$PB_TMP/c.json" "$IDC"
t0=$(now)
gw_post "$PC" "$TOK" aid.dispatched application/json "$PB_TMP/c.json"
expect_code 503 "C: publish to a dead broker"
jq -e '.results[0].status == "pending"' "$PB_TMP/resp.json" >/dev/null || pb_fail "C: 503 body: $(cat "$PB_TMP/resp.json")"
gw_post "$PC" "$TOK" aid.dispatched application/json "$PB_TMP/c.json"
expect_code 409 "C: retry while pending"
# 409 until --delivery-timeout passed and librdkafka reported it (seen 5 to
# 13 s after sending: with the leader down its timeout scan runs late); the
# message never left the producer, so it failed for sure and the next retry
# publishes it anew (the broker is still down: 503 pending)
codes=()
for _ in $(seq 120); do
        gw_post "$PC" "$TOK" aid.dispatched application/json "$PB_TMP/c.json"
        codes+=("$HTTP_CODE")
        [[ $HTTP_CODE == 409 ]] || break
        sleep 0.5
done
took=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
pb_log "C: retries answered ${codes[*]} until ${took}s: $(head -c 300 "$PB_TMP/resp.json")"
expect_code 503 "C: retry after a definite failure is published again"
awk -v t="$took" 'BEGIN {exit !(t >= 4)}' || pb_fail "C: released after ${took}s, before --delivery-timeout"
jq -e '.results[0].status == "pending"' "$PB_TMP/resp.json" >/dev/null || pb_fail "C: 503 body: $(cat "$PB_TMP/resp.json")"
"$PB_HARNESS" start-node --dir "$KDIR" 1 2>/dev/null || pb_fail "C: broker did not restart"
codes=()
for _ in $(seq 120); do
        gw_post "$PC" "$TOK" aid.dispatched application/json "$PB_TMP/c.json"
        codes+=("$HTTP_CODE")
        [[ $HTTP_CODE == 2* ]] && break
        sleep 0.5
done
pb_log "C: retries after the restart answered ${codes[*]}"
[[ $HTTP_CODE == 2* ]] || pb_fail "C: no 2xx after the broker came back"
want="$(jq -r '"\(.partition) \(.offset)"' "$PB_TMP/resp.json")"
pb_wait_for 30 inflight_zero "$OC"
got=$(in_topic "$IDC")
[[ $got == "$want" ]] || pb_fail "C: event $IDC in the topic at '${got//$'\n'/; }', want exactly once at '$want'"
stop_gw "$PIDC" c
pb_log "PASS"
