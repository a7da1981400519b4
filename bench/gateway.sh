#!/usr/bin/env bash
# bench/gateway.sh: throughput and latency of partnerbus gateway against a
# real Kafka broker on this machine, with wrk (Debian package wrk) as the
# load generator over keep-alive connections.
#
#   bench/gateway.sh [--build [LABEL=]DIR]... [--seconds S] [--connections C]
#
# Several --build options run the same sequence for each build, one after
# the other against the same broker, for a side-by-side comparison (the
# load average is printed with every line: the machine is shared).
#
# Runs (each against a fresh topic prefix, events without event_id so the
# gateway fills one and nothing is a duplicate):
#   1. single events: POST application/json, one event per request;
#   2. batches: POST application/x-ndjson, 500 events per request;
#   3. latency at half of the peak of runs 1 and 2: wrk paces each
#      connection with delay(), which comes on top of the answer's own
#      latency, so a 5 s calibration run measures the rate reached and the
#      pace is scaled to hit half the peak before the measured run;
# and reports requests/s, events/s, p50/p99 latency (wrk --latency) and the
# gateway's peak RSS (VmHWM). Starts its own single-node broker with
# tests/kafka/harness.sh unless PB_KAFKA_DIR points at a running one.
# Machine note: everything (broker JVM, gateway, wrk) shares the same cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
BUILDS=()
SECS=15
CONNS=256
while [[ $# -gt 0 ]]; do
        case $1 in
        --build) BUILDS+=("$2"); shift 2 ;;
        --seconds) SECS=$2; shift 2 ;;
        --connections) CONNS=$2; shift 2 ;;
        *) echo "usage: $0 [--build [LABEL=]DIR]... [--seconds S] [--connections C]" >&2; exit 2 ;;
        esac
done
((${#BUILDS[@]})) || BUILDS=("$ROOT/build")
for b in "${BUILDS[@]}"; do
        [[ -x ${b#*=}/services/partnerbus ]] || { echo "no ${b#*=}/services/partnerbus: build first" >&2; exit 1; }
done
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
# wrk's connections all come from 127.0.0.1: lift the gateway's limit of
# connections per client address (default max(4, --max-connections/8) =
# 128), which would refuse half of them. Set through the environment, which
# builds without that option ignore.
export PARTNERBUS_MAX_CONNECTIONS_PER_ADDRESS=${PARTNERBUS_MAX_CONNECTIONS_PER_ADDRESS:-0}
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
# (quiet with QUIET=1); sets RPS
run() {
        local name=$1 body=$2 ctype=$3 per=$4 secs=${RUN_SECS:-$SECS} out
        shift 4
        out=$TMP/wrk-$LABEL-${name//[^A-Za-z0-9]/_}.txt
        BODY_FILE=$body CTYPE=$ctype TOKEN=$TOKEN RATE_PER_CONN=${RATE_PER_CONN:-0} wrk --latency -t 2 -d "${secs}s" \
                -s "$ROOT/bench/gateway/single.lua" "$@" \
                "http://127.0.0.1:$PORT/v1/events/aid.dispatched" >"$out" 2>&1
        local rps p50 p99 non2xx
        rps=$(awk '/Requests\/sec/ {print $2}' "$out")
        p50=$(awk '$1 == "50%" {print $2}' "$out")
        p99=$(awk '$1 == "99%" {print $2}' "$out")
        non2xx=$(awk '/Non-2xx/ {print $5}' "$out")
        RPS=$rps
        [[ -n ${QUIET:-} ]] && return 0
        printf '%-8s %-30s %8.0f req/s %8.0f events/s  p50 %-8s p99 %-8s non-2xx %-4s load %s\n' \
                "$LABEL" "$name" "$rps" "$(echo "$rps * $per" | bc -l)" "$p50" "$p99" "${non2xx:-0}" \
                "$(cut -d' ' -f1 /proc/loadavg)"
}

# half NAME BODY CTYPE PER CONNS PEAK_RPS: the paced run at half of PEAK_RPS
# requests/s, after a calibration run that corrects wrk's pacing
half() {
        local name=$1 body=$2 ctype=$3 per=$4 conns=$5 peak=$6 target rate got
        target=$(echo "$peak / 2" | bc -l)
        rate=$(echo "$target / $conns" | bc -l)
        got=$(RUN_SECS=5 QUIET=1 RATE_PER_CONN=$rate run calibrate "$body" "$ctype" "$per" -c "$conns"; echo "$RPS")
        # more delay than wanted came from the answers' latency: scale up,
        # at most 3x
        rate=$(echo "f = $target / ($got + 0.001); if (f > 3) f = 3; if (f < 1) f = 1; $rate * f" | bc -l)
        RATE_PER_CONN=$rate run "$name at half ($(printf %.0f "$(echo "$target * $per" | bc -l)") ev/s)" \
                "$body" "$ctype" "$per" -c "$conns"
}

echo "partnerbus gateway benchmark: $(nproc) cores, broker $B, ${SECS}s per run, $CONNS connections (16 for batches), wrk -t2"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${BUILDS[@]}"; do
        BIN=${b#*=}/services/partnerbus
        LABEL=$(basename "${b#*=}")
        [[ $b == *=* ]] && LABEL=${b%%=*}
        start_gw "$LABEL-single"
        run "single events (peak)" "$TMP/single.json" application/json 1 -c "$CONNS"
        half single "$TMP/single.json" application/json 1 "$CONNS" "$RPS"
        stop_gw
        echo "$LABEL   gateway peak RSS (VmHWM): $HWM"
        start_gw "$LABEL-batch"
        run "batches of 500 (peak)" "$TMP/batch.ndjson" application/x-ndjson 500 -c 16
        half batches "$TMP/batch.ndjson" application/x-ndjson 500 16 "$RPS"
        stop_gw
        echo "$LABEL   gateway peak RSS (VmHWM): $HWM"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
