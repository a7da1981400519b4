#!/usr/bin/env bash
# cluster_failover.sh: the cluster test of issue 7 (see tests/cluster/README.md).
#
# A three-node Apache Kafka cluster (replication factor 3,
# min.insync.replicas=2) of its own, two gateways and two relays (one
# consumer group, archive sink) as separate processes. A load generator
# publishes a known set of events round robin through both gateways while
# the broker leading most partitions is SIGKILLed and restarted, and while
# one relay is SIGKILLed and restarted. Then: every event answered 2xx is in
# its topic exactly once at the partition and offset it was answered with;
# the archive holds every published event at least once and, after
# deduplication by event_id, exactly the published set. Prints the counts.
#
# Gateway 2 runs with a short --publish-timeout (3 s) so that the broker
# failover makes it answer 503 and the load generator retries with the same
# event_id; gateway 1 keeps the default (10 s) and rides the failover out.
#
# Knobs (environment): PB_CLUSTER_EVENTS (4000), PB_CLUSTER_RATE (55
# events/s), PB_CLUSTER_BROKER_DOWN (18 s), PB_CLUSTER_GW2_PUBLISH_TIMEOUT
# (3s), PB_KEEP_TMP=1 keeps the logs.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"

pb_require_cmd kcat curl python3 sha256sum
PB_BIN=$(pb_bin)
CL=$PB_SOURCE_DIR/tests/cluster
N=${PB_CLUSTER_EVENTS:-4000}
RATE=${PB_CLUSTER_RATE:-55}
DOWN=${PB_CLUSTER_BROKER_DOWN:-18}
GW2_TIMEOUT=${PB_CLUSTER_GW2_PUBLISH_TIMEOUT:-3s}
TYPES=aid.dispatched,partnership.founded,funds.granted,aid.delivered
GROUP=cluster-archive
ORG=cluster-test-org
RUN=r$(date +%s)-$$

PY=$(pb_python_venv)
pb_tmpdir
echo "$RUN" >"$PB_TMP/run"
PIDS=()
cleanup() {
        local rc=$? p
        for p in "${PIDS[@]:-}"; do
                [[ -n $p ]] && kill -TERM "$p" 2>/dev/null || true
        done
        wait 2>/dev/null || true
        pb_stop_cluster3
        if ((rc != 0)); then
                local f
                for f in "$PB_TMP"/*.log; do
                        [[ -f $f ]] || continue
                        echo "----- tail of $(basename "$f")" >&2
                        tail -n 15 "$f" >&2
                done
        fi
        [[ -n ${PB_KEEP_TMP:-} ]] && pb_log "kept $PB_TMP" || rm -rf "$PB_TMP"
}
trap cleanup EXIT
T0=$SECONDS
el() { echo $((SECONDS - T0)); }

# ------------------------------------------------------------ the cluster
DIR=$(pb_cluster3_dir)
B=$(pb_start_cluster3)
pb_log "[$(el)s] three-node cluster up: $B"
"$PY" "$CL/check.py" create-topics --brokers "$B" --topics "$TYPES" \
        --partitions 3 --rf 3 >&2 || pb_fail "could not create the topics"

# every partition of every topic: 3 replicas, all in sync (kcat, independent
# of the admin client that created them)
all_isr_full() {
        local m t
        for t in ${TYPES//,/ }; do
                m=$(timeout 30 kcat -b "$B" -L -t "$t" -m 10 2>/dev/null) || return 1
                [[ $(grep -c 'partition [0-9]*,' <<<"$m") -eq 3 ]] || return 1
                ! grep 'partition [0-9]*,' <<<"$m" |
                        grep -vq 'replicas: [1-3],[1-3],[1-3], isrs: [1-3],[1-3],[1-3]$' || return 1
        done
}
pb_wait_for 60 all_isr_full
pb_log "[$(el)s] topics $TYPES: 3 partitions each, replicas 3, ISR 3 (kcat -L)"

# ------------------------------------------------------------ gateways
TOKEN=tok-$RUN-$RANDOM$RANDOM
printf %s "$TOKEN" >"$PB_TMP/token"
printf '%s %s *\n' "$ORG" "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$PB_TMP/tokens"
GW_PORTS=()
start_gateway() {
        local n=$1
        shift
        "$PB_BIN" gateway --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
                --listen 127.0.0.1:0 --port-file "$PB_TMP/gw$n.port" --rate 0 \
                --openapi "$PB_SOURCE_DIR/docs/openapi.json" "$@" \
                >"$PB_TMP/gw$n.log" 2>&1 &
        PIDS+=($!)
        eval "GW${n}_PID=$!"
        pb_wait_for 30 test -s "$PB_TMP/gw$n.port"
        GW_PORTS+=("$(cat "$PB_TMP/gw$n.port")")
}
start_gateway 1
start_gateway 2 --publish-timeout "$GW2_TIMEOUT"
for p in "${GW_PORTS[@]}"; do
        pb_wait_for 60 curl -sf -o /dev/null "http://127.0.0.1:$p/readyz"
done
pb_log "[$(el)s] gateways on ports ${GW_PORTS[*]} (publish timeout 10s / $GW2_TIMEOUT)"

# ------------------------------------------------------------ relays
ARCH=$PB_TMP/archive-relay
start_relay() {
        local n=$1
        "$PB_BIN" relay --brokers "$B" --group "$GROUP" --topics "$TYPES" \
                --sink "archive:$ARCH" --commit-interval 1s \
                --ops-listen 127.0.0.1:0 >>"$PB_TMP/relay$n.log" 2>&1 &
        PIDS+=($!)
        eval "RELAY${n}_PID=$!"
}
start_relay 1
start_relay 2
pb_log "[$(el)s] relays $RELAY1_PID $RELAY2_PID in group $GROUP, archive $ARCH"

# ------------------------------------------------------------ load + faults
"$PY" "$CL/loadgen.py" --gateways "http://127.0.0.1:${GW_PORTS[0]},http://127.0.0.1:${GW_PORTS[1]}" \
        --token-file "$PB_TMP/token" --org "$ORG" --run "$RUN" \
        --examples "$PB_SOURCE_DIR/schemas/examples/valid" --count "$N" --rate "$RATE" \
        --out "$PB_TMP/answers.jsonl" 2>"$PB_TMP/loadgen.log" &
LOAD_PID=$!
PIDS+=($LOAD_PID)
L0=$SECONDS
pb_log "[$(el)s] load generator: $N events at $RATE/s through both gateways"
at() { # at SECS: sleep until SECS after the load started
        local d=$(($1 - (SECONDS - L0)))
        ((d <= 0)) || sleep "$d"
        kill -0 "$LOAD_PID" 2>/dev/null || pb_fail "load generator ended before its faults at ${1}s: $(cat "$PB_TMP/loadgen.log")"
}

at 15
# the broker leading the most partitions of our topics
leaders=$("$PY" "$CL/check.py" leaders --brokers "$B" --topics "$TYPES") || pb_fail "no partition leaders"
read -r VICTIM LED <<<"$leaders"
((LED > 0)) || pb_fail "broker $VICTIM leads no partition"
"$PB_HARNESS" kill-node --dir "$DIR" "$VICTIM" || pb_fail "kill-node $VICTIM"
KILLED_AT=$SECONDS
pb_log "[$(el)s] SIGKILLed broker $VICTIM, leader of $LED of 12 partitions"

at $((15 + DOWN))
"$PB_HARNESS" start-node --dir "$DIR" "$VICTIM" >&2 || pb_fail "broker $VICTIM did not restart"
pb_log "[$(el)s] restarted broker $VICTIM; it was down $((SECONDS - KILLED_AT))s"
pb_log "[$(el)s] partition leaders now (broker, partitions led): $("$PY" "$CL/check.py" leaders --brokers "$B" --topics "$TYPES" | tr '\n' ';')"

at $((15 + DOWN + 8))
kill -KILL "$RELAY1_PID"
wait "$RELAY1_PID" 2>/dev/null || true
pb_log "[$(el)s] SIGKILLed relay 1 (pid $RELAY1_PID)"
sleep 5
start_relay 1
pb_log "[$(el)s] restarted relay 1 as pid $RELAY1_PID"

wait "$LOAD_PID" || pb_fail "load generator failed: $(cat "$PB_TMP/loadgen.log")"
pb_log "[$(el)s] load done: $(tail -n 1 "$PB_TMP/loadgen.log")"
kill -0 "$RELAY2_PID" 2>/dev/null || pb_fail "relay 2 died"
kill -0 "$RELAY1_PID" 2>/dev/null || pb_fail "restarted relay 1 died"

# the restarted broker is back in every ISR
pb_wait_for 120 all_isr_full
pb_log "[$(el)s] broker $VICTIM back in the ISR of every partition"

# ------------------------------------------------------------ catch up
# the group's committed offsets reach the end of every partition; the relay
# commits only after the archive fsynced
lag_zero() { "$PY" "$CL/check.py" lag --brokers "$B" --group "$GROUP" --topics "$TYPES" >"$PB_TMP/lag.txt" 2>&1; }
pb_wait_for 180 lag_zero
pb_log "[$(el)s] relays caught up: $(cat "$PB_TMP/lag.txt")"
for n in 1 2; do
        pid_var=RELAY${n}_PID
        kill -TERM "${!pid_var}"
        wait "${!pid_var}" || pb_fail "relay $n did not exit 0 on SIGTERM"
done
for n in 1 2; do
        pid_var=GW${n}_PID
        kill -TERM "${!pid_var}"
        wait "${!pid_var}" || pb_fail "gateway $n did not exit 0 on SIGTERM"
done

# ------------------------------------------------------------ check
timeout 300 "$PB_BIN" consume --brokers "$B" --topics "$TYPES" --from-beginning --meta \
        >"$PB_TMP/consumed.jsonl" 2>"$PB_TMP/consume.log" ||
        pb_fail "consume failed: $(tail -n 5 "$PB_TMP/consume.log")"
# dead-letter topics, if a relay created any
dlq=0
for t in $(timeout 30 kcat -b "$B" -L 2>/dev/null | sed -n 's/^ *topic "\(.*\.dlq\)".*/\1/p'); do
        c=$(timeout 60 kcat -b "$B" -C -t "$t" -e -q -f 'x\n' 2>/dev/null | wc -l)
        dlq=$((dlq + c))
done
pb_log "[$(el)s] consumed $(wc -l <"$PB_TMP/consumed.jsonl") messages from the topics; $dlq in dead-letter topics"

"$PY" "$CL/check.py" verify --answers "$PB_TMP/answers.jsonl" \
        --topics-dump "$PB_TMP/consumed.jsonl" --archive "$ARCH" \
        --examples "$PB_SOURCE_DIR/schemas/examples/valid" --run "$RUN" \
        --org "$ORG" --count "$N" | tee "$PB_TMP/verify.txt" >&2 ||
        pb_fail "events lost, duplicated or not archived (counts above)"
((dlq == 0)) || pb_fail "$dlq events went to dead-letter topics"
pb_log "[$(el)s] ok"
