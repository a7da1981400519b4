#!/usr/bin/env bash
# bench/gateway.sh: throughput and latency of partnerbus gateway against a
# real Kafka broker on this machine, with wrk (Debian package wrk) as the
# load generator over keep-alive connections.
#
#   bench/gateway.sh [--build DIR] [--seconds S] [--connections C]
#
# Runs (each against a fresh topic prefix, events without event_id so the
# gateway fills one and nothing is a duplicate):
#   1. single events: POST application/json, one event per request;
#   2. batches: POST application/x-ndjson, 500 events per request;
#   3. latency at half of the peak of run 1 (wrk paced with delay());
# and reports requests/s, events/s, p50/p99 latency (wrk --latency) and the
# gateway's peak RSS (VmHWM). Starts its own single-node broker with
# tests/kafka/harness.sh unless PB_KAFKA_DIR points at a running one.
# Machine note: everything (broker JVM, gateway, wrk) shares the same cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=$ROOT/build
SECS=15
CONNS=256
while [[ $# -gt 0 ]]; do
        case $1 in
        --build) BUILD=$2; shift 2 ;;
        --seconds) SECS=$2; shift 2 ;;
        --connections) CONNS=$2; shift 2 ;;
        *) echo "usage: $0 [--build DIR] [--seconds S] [--connections C]" >&2; exit 2 ;;
        esac
done
BIN=$BUILD/services/partnerbus
[[ -x $BIN ]] || { echo "no $BIN: build first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
TMP=$(mktemp -d /tmp/pbbench.XXXXXX)
OWN_KAFKA=""
GW=""
cleanup() {
        [[ -n $GW ]] && kill -TERM "$GW" 2>/dev/null && wait "$GW" 2>/dev/null
        [[ -n $OWN_KAFKA ]] && "$ROOT/tests/kafka/harness.sh" stop --dir "$TMP/kafka" >/dev/null 2>&1
        rm -rf "$TMP"
}
trap cleanup EXIT
if [[ -n ${PB_KAFKA_DIR:-} && -s ${PB_KAFKA_DIR}/bootstrap ]]; then
        B=$(cat "$PB_KAFKA_DIR/bootstrap")
else
        "$ROOT/tests/kafka/harness.sh" start --dir "$TMP/kafka" >/dev/null
        OWN_KAFKA=1
        B=$(cat "$TMP/kafka/bootstrap")
fi
TOKEN=bench-token
printf 'blau-gelbes-kreuz %s *\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$TMP/tokens"
EX=$ROOT/schemas/examples/valid/aid.dispatched/generators-bgk-2022-12.json
jq -c 'del(.event_id)' "$EX" >"$TMP/single.json"
for i in $(seq 500); do cat "$TMP/single.json"; done >"$TMP/batch.ndjson"

start_gw() {
        rm -f "$TMP/port"
        PARTNERBUS_SCHEMAS=$ROOT/schemas "$BIN" gateway --brokers "$B" --tokens "$TMP/tokens" \
                --insecure-http --listen 127.0.0.1:0 --port-file "$TMP/port" --rate 0 \
                --topic-prefix "bench-$1-$$-" --max-batch-events 1000 --log-level warn \
                "${@:2}" 2>"$TMP/gw-$1.log" &
        GW=$!
        for _ in $(seq 100); do [[ -s $TMP/port ]] && break; sleep 0.1; done
        PORT=$(cat "$TMP/port")
        # warm up: create the topic
        curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
                --data-binary @"$TMP/single.json" "http://127.0.0.1:$PORT/v1/events/aid.dispatched"
}
stop_gw() {
        HWM=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$GW/status")
        kill -TERM "$GW"
        wait "$GW" || true
        GW=""
}
# run NAME BODY CTYPE EVENTS_PER_REQ [wrk args]: prints one result line
run() {
        local name=$1 body=$2 ctype=$3 per=$4
        shift 4
        BODY_FILE=$body CTYPE=$ctype TOKEN=$TOKEN RATE_PER_CONN=${RATE_PER_CONN:-0} wrk --latency -t 2 -d "${SECS}s" \
                -s "$ROOT/bench/gateway/single.lua" "$@" \
                "http://127.0.0.1:$PORT/v1/events/aid.dispatched" >"$TMP/wrk-${name//[^A-Za-z0-9]/_}.txt" 2>&1
        local rps p50 p99 non2xx
        rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk-${name//[^A-Za-z0-9]/_}.txt")
        p50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk-${name//[^A-Za-z0-9]/_}.txt")
        p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk-${name//[^A-Za-z0-9]/_}.txt")
        non2xx=$(awk '/Non-2xx/ {print $5}' "$TMP/wrk-${name//[^A-Za-z0-9]/_}.txt")
        RPS=$rps
        printf '%-28s %10.0f req/s %10.0f events/s   p50 %-9s p99 %-9s non-2xx %s\n' \
                "$name" "$rps" "$(echo "$rps * $per" | bc -l)" "$p50" "$p99" "${non2xx:-0}"
}

echo "partnerbus gateway benchmark: $(nproc) cores, broker $B, ${SECS}s per run, $CONNS connections, wrk -t2"
start_gw single
run "single events (peak)" "$TMP/single.json" application/json 1 -c "$CONNS"
PEAK=$RPS
half=$(echo "$PEAK / 2" | bc)
per_conn=$(echo "$half / $CONNS" | bc -l)
RATE_PER_CONN=$per_conn run "single at half peak (${half}/s)" "$TMP/single.json" application/json 1 -c "$CONNS"
stop_gw
echo "  gateway peak RSS (VmHWM): $HWM"
start_gw batch
run "batches of 500 (peak)" "$TMP/batch.ndjson" application/x-ndjson 500 -c 16
BPEAK=$RPS
half=$(echo "$BPEAK / 2" | bc -l)
RATE_PER_CONN=$(echo "$half / 16" | bc -l) run "batches at half peak ($(printf %.0f "$(echo "$half * 500" | bc -l)") ev/s)" \
        "$TMP/batch.ndjson" application/x-ndjson 500 -c 16
stop_gw
echo "  gateway peak RSS (VmHWM): $HWM"
