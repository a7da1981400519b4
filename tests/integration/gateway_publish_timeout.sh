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
# new_event FILE: the example with a fresh event_id, which it prints
new_event() {
        local id
        id=$(cat /proc/sys/kernel/random/uuid)
        event "$1" "$id"
        printf '%s\n' "$id"
}
# post PORT FILE [CONTENT-TYPE]: publish FILE as aid.dispatched (gw_post)
post() { gw_post "$1" "$TOK" aid.dispatched "${3:-application/json}" "$2"; }
# retry PORT FILE TRIES CODES: post FILE every 0.5 s, at most TRIES times,
# while the answer's status matches the pattern CODES; the statuses in codes
retry() {
        codes=()
        for _ in $(seq "$3"); do
                post "$1" "$2"
                codes+=("$HTTP_CODE")
                [[ $HTTP_CODE == $4 ]] || break
                sleep 0.5
        done
}
# body_is WHAT FILTER [JQ-ARGS]: the answer's body passes the jq FILTER
body_is() {
        jq -e "${@:3}" "$2" "$PB_TMP/resp.json" >/dev/null || pb_fail "$1 body: $(cat "$PB_TMP/resp.json")"
}
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
# limit, --publish-timeout 2s, --retry-after 1s, then ARGS), ready; one
# scenario's gateway, at GW_PORT, GW_OPS, GW_PID until the next starts
start_gw() {
        local name=$1
        shift
        gw_start "$name" --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
                --topic-prefix "$PFX" --rate 0 --publish-timeout 2s --retry-after 1s "$@"
        gw_wait_ready "$GW_PORT"
}
# pause_broker WHAT, resume_broker WHAT: SIGSTOP, SIGCONT the broker
pause_broker() {
        kill -STOP "$BPID"
        pb_log "$1: broker paused"
}
resume_broker() {
        kill -CONT "$BPID"
        pb_log "$1: broker resumed"
}
# warm_up PORT WHAT: publish one event, so that topic, leader and connection
# are known and the next message is sent to the broker at once (in flight)
# rather than queued
warm_up() {
        new_event "$PB_TMP/warm.json" >/dev/null
        post "$1" "$PB_TMP/warm.json"
        expect_code 201 "$2: warm-up event"
}

# ------------------------------------------------------------------ A
start_gw a
warm_up "$GW_PORT" A

IDA=$(new_event "$PB_TMP/a.json")
pause_broker A
t0=$(now)
post "$GW_PORT" "$PB_TMP/a.json"
took=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
expect_code 503 "A: publish to a paused broker"
pb_log "A: 503 after ${took}s: $(head -c 400 "$PB_TMP/resp.json")"
awk -v t="$took" 'BEGIN {exit !(t >= 1.9 && t < 6)}' || pb_fail "A: 503 after ${took}s, want it at the 2 s deadline"
grep -qi '^Retry-After: 1' "$PB_TMP/resp.h" || pb_fail "A: 503 without Retry-After"
body_is "A: 503" '.error == "kafka_unavailable" and .pending == 1 and .failed == 0 and
        .results[0].event_id == $id and .results[0].status == "pending"' --arg id "$IDA"
post "$GW_PORT" "$PB_TMP/a.json"
expect_code 409 "A: retry while the first attempt is pending"
body_is "A: 409" '.error == "in_flight"'
grep -qi '^Retry-After:' "$PB_TMP/resp.h" || pb_fail "A: 409 without Retry-After"
# a batch holding the pending event_id is refused as a whole
IDX=$(cat /proc/sys/kernel/random/uuid)
{ event /dev/stdout "$IDX"; event /dev/stdout "$IDA"; } >"$PB_TMP/batch.ndjson"
post "$GW_PORT" "$PB_TMP/batch.ndjson" application/x-ndjson
expect_code 409 "A: batch with the pending event_id"
sleep 2 # the pause outlasts the deadline well, still within request.timeout.ms
resume_broker A
retry "$GW_PORT" "$PB_TMP/a.json" 60 409
pb_log "A: retries answered ${codes[*]}: $(head -c 300 "$PB_TMP/resp.json")"
expect_code 200 "A: retry after the broker resumed"
body_is "A: the duplicate answer's" '.duplicate == true and .event_id == $id' --arg id "$IDA"
want="$(jq -r '"\(.partition) \(.offset)"' "$PB_TMP/resp.json")"
pb_wait_for 30 inflight_zero "$GW_OPS"
# the late outcome is counted just after the in-flight gauge drops
late_counted() { curl -s "http://127.0.0.1:$GW_OPS/metrics" | grep -q 'partnerbus_gateway_events_total{.*outcome="late_published"} 1$'; }
pb_wait_for 5 late_counted ||
        pb_fail "A: late publish not counted: $(curl -s "http://127.0.0.1:$GW_OPS/metrics" | grep -E 'events_total.*late|inflight' | tr '\n' ' ') log: $(grep -E 'outcome unknown|late|delivery' "$PB_TMP"/*.log 2>/dev/null | tail -5)"
got=$(in_topic "$IDA")
pb_log "A: in the topic at: ${got//$'\n'/; } (answered $want)"
[[ $got == "$want" ]] || pb_fail "A: event $IDA in the topic at '${got//$'\n'/; }', want exactly once at '$want'"
[[ -z $(in_topic "$IDX") ]] || pb_fail "A: the refused batch was published"
stop_gw "$GW_PID" a

# ------------------------------------------------------------------ B
start_gw b --delivery-timeout 4s
warm_up "$GW_PORT" B
IDB=$(new_event "$PB_TMP/b.json")
pause_broker B
post "$GW_PORT" "$PB_TMP/b.json"
expect_code 503 "B: publish to a paused broker"
body_is "B: 503" '.results[0].status == "pending"'
sleep 4 # past --delivery-timeout: the message timed out in flight
post "$GW_PORT" "$PB_TMP/b.json"
pb_log "B: retry after the delivery timeout: $HTTP_CODE $(head -c 300 "$PB_TMP/resp.json")"
expect_code 409 "B: retry after the outcome became unknown"
body_is "B: 409" '.error == "outcome_unknown"'
grep -q "event_id=$IDB.*outcome unknown" "$PB_TMP/b.log" || pb_fail "B: unknown outcome not logged"
resume_broker B
gw_wait_ready "$GW_PORT" 60
post "$GW_PORT" "$PB_TMP/b.json"
expect_code 409 "B: retry after the broker resumed (still unknown)"
pb_wait_for 30 inflight_zero "$GW_OPS"
nb=$(in_topic "$IDB" | grep -c . || true)
pb_log "B: the event whose outcome was unknown is in the topic $nb time(s)"
((nb <= 1)) || pb_fail "B: event $IDB in the topic $nb times"
curl -s "http://127.0.0.1:$GW_OPS/metrics" >"$PB_TMP/b.metrics"
grep -q 'partnerbus_gateway_events_total{.*outcome="pending"} 1$' "$PB_TMP/b.metrics" ||
        pb_fail "B: pending outcome not counted: $(grep events_total "$PB_TMP/b.metrics")"
grep -q 'partnerbus_gateway_events_total{.*outcome="late_unknown"} 1$' "$PB_TMP/b.metrics" ||
        pb_fail "B: late unknown outcome not counted: $(grep events_total "$PB_TMP/b.metrics")"
stop_gw "$GW_PID" b

# ------------------------------------------------------------------ C
start_gw c --delivery-timeout 4s
BPID=
"$PB_HARNESS" kill-node --dir "$KDIR" 1 2>/dev/null
pb_log "C: broker killed"
pb_wait_for 30 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$GW_PORT/readyz) == 503 ]]"
IDC=$(new_event "$PB_TMP/c.json")
t0=$(now)
post "$GW_PORT" "$PB_TMP/c.json"
expect_code 503 "C: publish to a dead broker"
body_is "C: 503" '.results[0].status == "pending"'
post "$GW_PORT" "$PB_TMP/c.json"
expect_code 409 "C: retry while pending"
# 409 until --delivery-timeout passed and librdkafka reported it (seen 5 to
# 13 s after sending: with the leader down its timeout scan runs late); the
# message never left the producer, so it failed for sure and the next retry
# publishes it anew (the broker is still down: 503 pending)
retry "$GW_PORT" "$PB_TMP/c.json" 120 409
took=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
pb_log "C: retries answered ${codes[*]} until ${took}s: $(head -c 300 "$PB_TMP/resp.json")"
expect_code 503 "C: retry after a definite failure is published again"
awk -v t="$took" 'BEGIN {exit !(t >= 4)}' || pb_fail "C: released after ${took}s, before --delivery-timeout"
body_is "C: 503" '.results[0].status == "pending"'
"$PB_HARNESS" start-node --dir "$KDIR" 1 2>/dev/null || pb_fail "C: broker did not restart"
retry "$GW_PORT" "$PB_TMP/c.json" 120 '[!2]*'
pb_log "C: retries after the restart answered ${codes[*]}"
[[ $HTTP_CODE == 2* ]] || pb_fail "C: no 2xx after the broker came back"
want="$(jq -r '"\(.partition) \(.offset)"' "$PB_TMP/resp.json")"
pb_wait_for 30 inflight_zero "$GW_OPS"
got=$(in_topic "$IDC")
[[ $got == "$want" ]] || pb_fail "C: event $IDC in the topic at '${got//$'\n'/; }', want exactly once at '$want'"
stop_gw "$GW_PID" c
pb_log "PASS"
