#!/usr/bin/env bash
# bench/gateway.sh: throughput and latency of partnerbus gateway against a
# real Kafka broker on this machine, with bench/gateway/gw_load (built with
# the tree: BUILD/bench/gw_load) as the load generator over keep-alive
# connections.
#
#   bench/gateway.sh [--build [LABEL=]DIR]... [--seconds S] [--rounds R]
#                    [--connections C] [--partitions P]
#
# The topic (aid.dispatched under a fresh prefix per gateway start) is
# created beforehand with P partitions (default 6); every event has its own
# Kafka key (shipment_id with a per-event counter) and no event_id (the
# gateway fills one, so nothing is a duplicate). Per round and build:
#   1. single events, peak: POST application/json, one event per request,
#      closed loop over C connections (default 128), 2 client threads;
#   2. single events at half of that peak: open loop at a constant rate
#      (gw_load --rate: requests due at fixed times whether or not earlier
#      ones were answered; latency counted from when each was due), the
#      same connections and client threads;
#   3. batches of 500, peak: application/x-ndjson, closed loop, 16
#      connections;
#   4. batches at half of that peak, open loop, 16 connections, 2 threads;
#   2b. (with FIXED_RATE=R) single events about new entities at R
#      requests/s, open loop: every build at the same offered load;
#   5. (unless KNOWN=0) runs 1-4 again about 2,000 entities the gateway
#      already knows (gw_load --keys 2000, claimed by a first few batches):
#      every event above is about a new entity and costs an ownership
#      claim, these show the path without it.
# Several --build options interleave: each round runs every build, the
# order rotating from round to round. The summary gives, per build and run,
# the median and min-max over the rounds; the load average is printed on
# every line (everything -- broker JVM, gateway, load generator -- shares
# the same cores), and so is the gateway's own CPU time per answered event
# (from /proc, user + system). Starts its own single-node broker with
# tests/kafka/harness.sh unless PB_KAFKA_DIR points at a running one.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
source "$ROOT/bench/lib.sh"
BUILDS=()
SECS=15
ROUNDS=5
CONNS=128
PARTS=6
KNOWN=${KNOWN:-1}
FIXED_RATE=${FIXED_RATE:-}
while [[ $# -gt 0 ]]; do
        case $1 in
        --build) BUILDS+=("$2"); shift 2 ;;
        --seconds) SECS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --connections) CONNS=$2; shift 2 ;;
        --partitions) PARTS=$2; shift 2 ;;
        *) echo "usage: $0 [--build [LABEL=]DIR]... [--seconds S] [--rounds R] [--connections C] [--partitions P]" >&2; exit 2 ;;
        esac
done
((${#BUILDS[@]})) || BUILDS=("$ROOT/build")
LOAD=""
for b in "${BUILDS[@]}"; do
        [[ -x ${b#*=}/services/partnerbus ]] || { echo "no ${b#*=}/services/partnerbus: build first" >&2; exit 1; }
        [[ -x ${b#*=}/bench/gw_load ]] && LOAD=${LOAD:-${b#*=}/bench/gw_load}
done
LOAD=${GW_LOAD:-$LOAD}
[[ -x $LOAD ]] || { echo "no bench/gw_load in the builds (cmake --build DIR --target gw_load), or set GW_LOAD" >&2; exit 1; }
TMP=$(mktemp -d /tmp/pbbench.XXXXXX)
bench_kdir=
GW=""
cleanup() {
        [[ -n $GW ]] && kill -TERM "$GW" 2>/dev/null && wait "$GW" 2>/dev/null
        bench_kafka_stop
        rm -rf "$TMP"
}
trap cleanup EXIT
bench_kafka "$TMP/kafka"
# the load generator's connections all come from 127.0.0.1: lift the
# gateway's limit of connections per client address
export PARTNERBUS_MAX_CONNECTIONS_PER_ADDRESS=${PARTNERBUS_MAX_CONNECTIONS_PER_ADDRESS:-0}
TOKEN=bench-token
printf 'blau-gelbes-kreuz %s *\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$TMP/tokens"
EX=$ROOT/schemas/examples/valid/aid.dispatched/generators-bgk-2022-12.json
# one event; @K@ becomes a per-event counter (its own Kafka key)
jq -c 'del(.event_id) | .shipment_id = (.shipment_id + "-@K@")' "$EX" >"$TMP/event.tmpl"
SEQ=0

start_gw() {
        SEQ=$((SEQ + 1))
        local prefix="bench-$1-$$-$SEQ-"
        "$LOAD" --create-topic "${prefix}aid.dispatched" --partitions "$PARTS" --brokers "$B"
        rm -f "$TMP/port"
        PARTNERBUS_SCHEMAS=$ROOT/schemas "$BIN" gateway --brokers "$B" --tokens "$TMP/tokens" \
                --insecure-http --listen 127.0.0.1:0 --port-file "$TMP/port" --rate 0 \
                --topic-prefix "$prefix" --max-batch-events 1000 --log-level warn \
                2>"$TMP/gw-$1.log" &
        GW=$!
        for _ in $(seq 100); do [[ -s $TMP/port ]] && break; sleep 0.1; done
        PORT=$(cat "$TMP/port")
        URL=http://127.0.0.1:$PORT/v1/events/aid.dispatched
        # warm up: metadata, connections, allocator
        "$LOAD" --url "$URL" --token "$TOKEN" --template "$TMP/event.tmpl" --seconds 2 \
                --connections 16 >/dev/null
}
stop_gw() {
        HWM=$(awk '/VmHWM/ {print $2}' "/proc/$GW/status")
        kill -TERM "$GW"
        wait "$GW" || true
        GW=""
}
# load NAME [gw_load args]: one run; prints its line, appends it to
# $TMP/results as "LABEL NAME key=value..."; sets EVS (events/s)
load() {
        local name=$1 out t0 t1 cpu
        shift
        t0=$(awk '{print $14 + $15}' "/proc/$GW/stat")
        out=$("$LOAD" --url "$URL" --token "$TOKEN" --template "$TMP/event.tmpl" \
                --seconds "${RUN_SECS:-$SECS}" "$@") || { echo "$LABEL $name: failed: $out" >&2; }
        t1=$(awk '{print $14 + $15}' "/proc/$GW/stat")
        EVS=$(sed -n 's/.*events_s=\([0-9]*\).*/\1/p' <<<"$out")
        # the gateway's CPU (user + system) per answered event, in us
        cpu=$(echo "($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / ($EVS * ${RUN_SECS:-$SECS} + 1)" | bc -l)
        echo "$LABEL $name $out gw_cpu_us_ev=$(printf %.1f "$cpu") load=$(cut -d' ' -f1 /proc/loadavg)" |
                tee -a "$TMP/results"
}

echo "partnerbus gateway benchmark: $(nproc) cores, broker $B, ${SECS}s per run, $ROUNDS rounds, $PARTS partitions, distinct keys"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
nb=${#BUILDS[@]}
for ((r = 0; r < ROUNDS; r++)); do
        for ((i = 0; i < nb; i++)); do
                b=${BUILDS[$(((i + r) % nb))]}
                BIN=${b#*=}/services/partnerbus
                LABEL=$(basename "${b#*=}")
                [[ $b == *=* ]] && LABEL=${b%%=*}
                start_gw "$LABEL-r$r"
                load single-peak --connections "$CONNS" --threads 2
                # (--rate 0 would be a closed loop: at least 1 and 0.5 req/s)
                load single-half --connections "$CONNS" --threads 2 --rate "$(echo "r = $EVS / 2; if (r < 1) r = 1; r" | bc -l)"
                [[ -n $FIXED_RATE ]] && load "single-at-$FIXED_RATE" --connections "$CONNS" --threads 2 --rate "$FIXED_RATE"
                load batch-peak --connections 16 --batch 500 --threads 2
                load batch-half --connections 16 --batch 500 --threads 2 --rate "$(echo "r = $EVS / 1000; if (r < 0.5) r = 0.5; r" | bc -l)"
                if [[ $KNOWN == 1 ]]; then
                        # the same runs about 2,000 entities the gateway
                        # already knows (claimed by the first batches)
                        RUN_SECS=3 load claim-2000 --connections 1 --batch 500 --keys 2000 >/dev/null
                        load known-single-peak --connections "$CONNS" --threads 2 --keys 2000
                        load known-single-half --connections "$CONNS" --threads 2 --keys 2000 \
                                --rate "$(echo "r = $EVS / 2; if (r < 1) r = 1; r" | bc -l)"
                        load known-batch-peak --connections 16 --batch 500 --threads 2 --keys 2000
                        load known-batch-half --connections 16 --batch 500 --threads 2 --keys 2000 \
                                --rate "$(echo "r = $EVS / 1000; if (r < 0.5) r = 0.5; r" | bc -l)"
                fi
                stop_gw
                echo "$LABEL gateway peak RSS (VmHWM): $HWM kB" | tee -a "$TMP/results"
        done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$TMP/results" <<'EOF'
import sys, statistics as st
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    if "gateway" in f[:2]:
        runs.setdefault((f[0], "rss_MiB"), []).append(int(f[-2]) / 1024)
        continue
    if f[1].startswith("claim"):
        continue
    kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
    for k in ("events_s", "p50_ms", "p95_ms", "p99_ms", "gw_cpu_us_ev", "load"):
        # a run in which no request was answered has no percentiles
        if k in kv and not (k == "gw_cpu_us_ev" and float(kv["events_s"]) == 0):
            runs.setdefault((f[0], f[1], k), []).append(float(kv[k]))
def fmt(v, d):
    if not v:
        return "-"
    return f"{st.median(v):,.{d}f} ({min(v):,.{d}f}-{max(v):,.{d}f})"
print("median (min-max) over the rounds")
print(f"{'build':10} {'run':12} {'events/s':>26} {'p50 ms':>20} {'p95 ms':>20} {'p99 ms':>20} {'gw CPU us/event':>18} {'load':>16}")
for key in sorted(k for k in runs if len(k) == 3 and k[2] == "events_s"):
    lab, name, _ = key
    g = lambda k: runs.get((lab, name, k), [])
    print(f"{lab:10} {name:12} {fmt(g('events_s'), 0):>26} {fmt(g('p50_ms'), 1):>20} "
          f"{fmt(g('p95_ms'), 1):>20} {fmt(g('p99_ms'), 1):>20} {fmt(g('gw_cpu_us_ev'), 1):>18} {fmt(g('load'), 1):>16}")
for k, v in runs.items():
    if len(k) == 2:
        print(f"{k[0]:10} gateway peak RSS {fmt(v, 0)} MiB")
EOF
