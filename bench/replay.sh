#!/usr/bin/env bash
# bench/replay.sh: replay N aid.dispatched events (default 1,000,000) from a
# real Apache Kafka broker to JSON lines and to CSV with `partnerbus
# replay`, side by side in the same run with `kcat -C -e -o beginning`
# reading the same topic raw (no decoding). All outputs go to files on the
# same disk (kcat: raw values, one per line).
#
#   bench/replay.sh [--events N] [--brokers HOST:PORT] [--bin PATH]
#
# Without --brokers a single-node Kafka is started with
# tests/kafka/harness.sh in a temporary directory and stopped at the end.
# The events (tests/relay/gen_events.py, 3 partitions) are published first
# with `partnerbus produce` (not timed). Target: JSON lines at no less than
# half of kcat's raw rate.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init 14 "$@"
P=bench-replay-$(date +%s)-$$-
T=${P}aid.dispatched
python3 "$src/tests/relay/gen_events.py" "$N" 500 --seed bench-replay >"$tmp/events.jsonl"
"$BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" --file "$tmp/events.jsonl" \
        2>"$tmp/produce.log" || { tail -3 "$tmp/produce.log" >&2; exit 1; }
rm -f "$tmp/events.jsonl"
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-28s %8.2f s %10.0f events/s\n", ENVIRON["LABEL"], b - a, n / (b - a) }'; }

t0=$(now)
kcat -b "$B" -C -t "$T" -e -o beginning -q -X fetch.max.bytes=52428800 >"$tmp/kcat.raw"
t1=$(now)
nk=$(kcat -b "$B" -C -t "$T" -e -o beginning -q -f '\n' 2>/dev/null | wc -l)
t2=$(now)
"$BIN" replay --brokers "$B" --topic-prefix "$P" -t aid.dispatched --progress never -o "$tmp/out.jsonl" 2>"$tmp/jsonl.log"
t3=$(now)
"$BIN" replay --brokers "$B" --topic-prefix "$P" -t aid.dispatched --progress never -f csv -o "$tmp/out.csv" 2>"$tmp/csv.log"
t4=$(now)
nj=$(wc -l <"$tmp/out.jsonl")
nc=$(($(wc -l <"$tmp/out.csv") - 1))
echo "replay of $N aid.dispatched events (3 partitions), broker $B"
echo "kcat read $nk messages; partnerbus wrote $nj JSON lines, $nc CSV rows"
LABEL="kcat -C -e (raw)" rate "$N" "$t0" "$t1"
LABEL="partnerbus replay jsonl" rate "$N" "$t2" "$t3"
LABEL="partnerbus replay csv" rate "$N" "$t3" "$t4"
awk -v k="$t1-$t0" -v j="$t3-$t2" 'BEGIN { split(k, a, "-"); split(j, b, "-"); printf "jsonl / kcat raw rate: %.2f (target >= 0.5)\n", (a[1] - a[2]) / (b[1] - b[2]) }'
tail -n 1 "$tmp/jsonl.log"
tail -n 1 "$tmp/csv.log"
