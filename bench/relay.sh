#!/usr/bin/env bash
# bench/relay.sh: relay throughput side by side with kcat, on one broker on
# this machine.
#   - kcat -C -e reading the topic raw to /dev/null (upper bound)
#   - archive sink: events/s and MB/s (Avro container files on local disk)
#   - jsonl sink to /dev/null
#   - webhook sink to a local libmicrohttpd receiver (bench/relay_receiver.c):
#     one event per request, and batches of 500
#   - peak RSS of the relay with the whole backlog waiting
# Usage: bench/relay.sh [EVENTS]   (default 1000000)
#   SINKS="archive jsonl webhook" (default: all three) picks the relay runs;
#   SINGLE=0 leaves out the one-event-per-request webhook run;
#   REPEAT=N (default 5): kcat, archive and jsonl run N rounds, each round
#   all of them one after the other (interleaved: kcat, archive, jsonl,
#   kcat, ...), and the summary gives the median rate with min-max of each
#   and its ratio to kcat - on a shared machine single runs vary by 2x.
#   kcat gets the relay's consumer settings (queued.min.messages=1000000,
#   which the relay sets by default; fetch sizes: librdkafka's defaults on
#   both). Every timed run starts after a sync, so it does not pay for the
#   previous run's writeback; each prints the load average;
#   REUSE_PREFIX=bench-relay-NNN- reads the topic an earlier run published
#   (to compare two binaries on the same data).
# Needs: PB_BIN (partnerbus), a broker: PB_KAFKA_DIR (harness) or BROKERS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
N=${1:-1000000}
: "${PB_BIN:?set PB_BIN to the partnerbus binary}"
export PARTNERBUS_SCHEMAS=${PARTNERBUS_SCHEMAS:-$ROOT/schemas}
B=${BROKERS:-$(head -n 1 "${PB_KAFKA_DIR:?set PB_KAFKA_DIR or BROKERS}/bootstrap")}
W=$(mktemp -d "${TMPDIR:-/tmp}/pbbench-relay.XXXXXX")
trap 'kill ${RECV:-} 2>/dev/null || true; rm -rf "$W"' EXIT
P=bench-relay-$(date +%s)-
T=${P}aid.dispatched
cc -O2 -o "$W/recv" "$ROOT/bench/relay_receiver.c" $(pkg-config --cflags --libs libmicrohttpd)

if [[ -n ${REUSE_PREFIX:-} ]]; then # a topic an earlier run published
        P=$REUSE_PREFIX T=${P}aid.dispatched
        echo "# reusing $T ($B)"
else
        echo "# generating and publishing $N aid.dispatched events to $T ($B)"
        python3 "$ROOT/tests/relay/gen_events.py" "$N" 1000 --seed bench >"$W/ev.jsonl"
        "$PB_BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" <"$W/ev.jsonl" >/dev/null 2>&1
fi
bytes=$(kcat -b "$B" -C -t "$T" -e -q -f '%S\n' | awk '{s+=$1} END {print s}')
echo "# topic holds $N events, $bytes bytes of values ($((bytes / N)) B/event)"

now() { date +%s.%N; }
rate() { python3 -c "import sys; n,t=float(sys.argv[1]),float(sys.argv[2]); print('%10.0f events/s  %7.1f MB/s  (%.2f s)' % (n/t, float(sys.argv[3])/t/1e6, t))" "$@"; }

declare -A TIMES CPU
kcat_run() {
        local t0 t1
        sync
        LOAD=$(cut -d' ' -f1 /proc/loadavg)
        t0=$(now)
        /usr/bin/time -f '%U %S' -o "$W/cpu" kcat -b "$B" -C -t "$T" -e -o beginning -q -X queued.min.messages=1000000 >/dev/null
        t1=$(now)
        CPU[kcat]+=" $(awk '{ print $1 + $2 }' "$W/cpu")"
        TIMES[kcat]+=" $(echo "$t1 - $t0" | bc)"
        printf '%-34s' "kcat -C raw to /dev/null"; rate "$N" "$(echo "$t1 - $t0" | bc)" "$bytes" | tr -d '\n'
        echo "  load $LOAD"
}

relay() { # name, sink, extra...
        local name=$1 sink=$2; shift 2
        local t0 t1
        sync
        LOAD=$(cut -d' ' -f1 /proc/loadavg)
        t0=$(now)
        /usr/bin/time -f '%M %U %S' -o "$W/rss" "$PB_BIN" relay --brokers "$B" --group "${P}$name-$RANDOM$RANDOM" --topic-prefix "$P" \
                -t aid.dispatched --sink "$sink" --max-events "$N" "$@" 2>"$W/$name.log" >/dev/null
        t1=$(now)
        TIMES[$name]+=" $(echo "$t1 - $t0" | bc)"
        CPU[$name]+=" $(awk '{ print $2 + $3 }' "$W/rss")"
        printf '%-34s' "relay $name"
        rate "$N" "$(echo "$t1 - $t0" | bc)" "$bytes" | tr -d '\n'
        echo "  peak RSS $(($(cut -d' ' -f1 "$W/rss") / 1024)) MiB  load $LOAD"
}
SINKS=" ${SINKS:-archive jsonl webhook} "
for ((round = 1; round <= ${REPEAT:-5}; round++)); do
        echo "# round $round"
        kcat_run
        if [[ $SINKS == *" archive "* ]]; then
                relay archive "archive:$W/archive"
                echo "#   archive: $(du -sh "$W/archive" | cut -f1) in $(find "$W/archive" -name '*.avro' | wc -l) files"
                rm -rf "$W/archive"
        fi
        if [[ $SINKS == *" jsonl "* ]]; then
                relay jsonl "jsonl:/dev/null" --jsonl-max-size 0
        fi
done
echo "# summary over ${REPEAT:-5} rounds (median rate, min-max; ratio of medians to kcat, min-max of the per-round ratios)"
for name in kcat archive jsonl; do
        [[ -n ${TIMES[$name]:-} ]] || continue
        python3 -c "
import statistics, sys
n, b = float(sys.argv[1]), float(sys.argv[2])
t = [float(x) for x in sys.argv[4].split()]
k = [float(x) for x in sys.argv[5].split()]
r = [n / x for x in t]
line = '%-10s median %8.0f events/s %6.1f MB/s (min %8.0f, max %8.0f)' % (sys.argv[3], statistics.median(r), statistics.median(r) * b / n / 1e6, min(r), max(r))
if sys.argv[3] != 'kcat' and len(k) == len(t):
        q = [a / x for a, x in zip(k, t)]
        line += '   vs kcat: median %.2f (%.2f-%.2f)' % (statistics.median(r) / statistics.median([n / x for x in k]), min(q), max(q))
c = sorted(float(x) * 1e6 / n for x in sys.argv[6].split())
line += '   CPU (user+sys) median %.2f us/event (%.2f-%.2f)' % (statistics.median(c), c[0], c[-1])
print(line)" "$N" "$bytes" "$name" "${TIMES[$name]}" "${TIMES[kcat]}" "${CPU[$name]}"
done
[[ $SINKS == *" webhook "* ]] || exit 0
"$W/recv" 18099 "$W/recv.stats" & RECV=$!
sleep 0.5
export PARTNERBUS_WEBHOOK_SECRET=bench-secret
relay webhook-batch500 "webhook:http://127.0.0.1:18099/hook" --webhook-batch-size 500 --batch-size 500
if [[ ${SINGLE:-1} == 1 ]]; then
        M=${SINGLE_N:-100000}
        "$PB_BIN" relay --brokers "$B" --group "${P}single" --topic-prefix "$P" -t aid.dispatched \
                --sink "webhook:http://127.0.0.1:18099/hook" --max-events "$M" 2>/dev/null >/dev/null &
        t0=$(now); wait $!; t1=$(now)
        printf '%-34s' "relay webhook-single ($M events)"; rate "$M" "$(echo "$t1 - $t0" | bc)" "$((bytes / N * M))"
fi
kill -TERM $RECV; wait $RECV || true; RECV=
echo "# receiver: $(cat "$W/recv.stats")"
