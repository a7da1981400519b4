#!/usr/bin/env bash
# bench/replay_csv.sh: `partnerbus replay --format csv` against `kcat -C`
# on the same topic, A/B rounds interleaved, and instructions per event
# under callgrind.
#
#   bench/replay_csv.sh [--events N] [--rounds R] [--callgrind M]
#                       [--base-bin PATH] [--brokers HOST:PORT] [--bin PATH]
#
# N aid.dispatched events (default 1,000,000; tests/relay/gen_events.py,
# 3 partitions) are published once with `partnerbus produce` (not timed),
# then one untimed pass of every reader warms the broker and the page
# cache. Each of R rounds (default 5) runs, in an order rotated per round:
#   kcat      kcat -C -e -o beginning -q, raw values to a file, librdkafka's
#             defaults - as replay, which sets no fetch or queue option;
#   csv       partnerbus replay -f csv -o FILE (--bin);
#   base      the same with --base-bin (the binary before a change), when
#             given; its CSV must be byte-identical to --bin's (checked in
#             round 1, and once for --dialect excel-de).
# Printed: median and min-max seconds and events/s per reader, the median
# ratio csv/kcat (and base/kcat), and the load average before and after.
# With --callgrind M (0: skip; default 100000) both binaries also replay a
# topic of M events to CSV under valgrind --tool=callgrind: total
# instructions (Ir) per event, and the inclusive Ir per event of out_write
# (decode + flatten + spool) and out_close (header + rows written).
# Without --brokers a single-node Kafka is started (tests/kafka/harness.sh)
# and stopped at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
R=5 CG=100000 BASE=
args=()
while (($#)); do
        case $1 in
        --rounds) R=$2; shift 2 ;;
        --callgrind) CG=$2; shift 2 ;;
        --base-bin) BASE=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
        esac
done
bench_init 26 "${args[@]}"
[[ -z $BASE || -x $BASE ]] || { echo "replay_csv.sh: --base-bin $BASE not found" >&2; exit 1; }
P=bench-rcsv-$(date +%s)-$$-
T=${P}aid.dispatched
python3 "$src/tests/relay/gen_events.py" "$N" 500 --seed bench-replay >"$tmp/events.jsonl"
"$BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" --file "$tmp/events.jsonl" \
        2>"$tmp/produce.log" || { tail -3 "$tmp/produce.log" >&2; exit 1; }
rm -f "$tmp/events.jsonl"

run() { # run READER: one timed pass, seconds on stdout
        local a b
        a=$(date +%s.%N)
        case $1 in
        kcat) kcat -b "$B" -C -t "$T" -e -o beginning -q >"$tmp/kcat.raw" ;;
        csv) "$BIN" replay --brokers "$B" --topic-prefix "$P" -t aid.dispatched --progress never \
                -f csv -o "$tmp/csv.csv" 2>"$tmp/csv.log" ;;
        base) "$BASE" replay --brokers "$B" --topic-prefix "$P" -t aid.dispatched --progress never \
                -f csv -o "$tmp/base.csv" 2>"$tmp/base.log" ;;
        esac
        b=$(date +%s.%N)
        echo "$b - $a" | bc
}
readers=(kcat csv)
[[ -n $BASE ]] && readers+=(base)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in "${readers[@]}"; do run "$r" >/dev/null; done # warm-up
nc=$(($(wc -l <"$tmp/csv.csv") - 1))
[[ $nc -eq $N ]] || { echo "replay_csv.sh: $nc CSV rows, expected $N" >&2; exit 1; }
if [[ -n $BASE ]]; then
        cmp -s "$tmp/csv.csv" "$tmp/base.csv" || { echo "replay_csv.sh: CSV differs from --base-bin's" >&2; exit 1; }
        for b in csv base; do
                bin=$BIN
                [[ $b == base ]] && bin=$BASE
                "$bin" replay --brokers "$B" --topic-prefix "$P" -t aid.dispatched --progress never \
                        -f csv --dialect excel-de -o "$tmp/xl.$b.csv" 2>/dev/null
        done
        cmp -s "$tmp/xl.csv.csv" "$tmp/xl.base.csv" ||
                { echo "replay_csv.sh: excel-de CSV differs from --base-bin's" >&2; exit 1; }
        echo "CSV (rfc4180 and excel-de) byte-identical to --base-bin's"
fi
declare -A T_
for ((i = 0; i < R; i++)); do
        n=${#readers[@]}
        for ((j = 0; j < n; j++)); do
                r=${readers[$(((i + j) % n))]}
                T_[$r]+="$(run "$r") "
        done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "replay to CSV of $N aid.dispatched events (3 partitions), broker $B, $R rounds interleaved"
echo "kcat wrote $(stat -c %s "$tmp/kcat.raw") bytes of raw values; partnerbus wrote $nc CSV rows"
echo "load average before: $load0; after: $load1"
stats() { # stats READER -> "median min max"
        tr ' ' '\n' <<<"${T_[$1]}" | grep . | sort -g |
                awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
read -r km _ _ <<<"$(stats kcat)"
for r in "${readers[@]}"; do
        read -r m lo hi <<<"$(stats "$r")"
        awk -v r="$r" -v n="$N" -v m="$m" -v lo="$lo" -v hi="$hi" -v k="$km" 'BEGIN {
                printf "%-5s median %6.2f s (%.2f-%.2f)  %8.0f events/s (%.0f-%.0f)  %.2f x kcat\n",
                        r, m, lo, hi, n / m, n / hi, n / lo, k / m }'
done

[[ $CG -gt 0 ]] || exit 0
command -v valgrind >/dev/null || { echo "valgrind not found: no callgrind figures" >&2; exit 0; }
P2=bench-rcsvcg-$(date +%s)-$$-
python3 "$src/tests/relay/gen_events.py" "$CG" 500 --seed bench-replay-cg >"$tmp/cg.jsonl"
"$BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P2" --file "$tmp/cg.jsonl" \
        2>"$tmp/produce.log" || { tail -3 "$tmp/produce.log" >&2; exit 1; }
echo "callgrind, $CG events to CSV: Ir per event (total / out_write / out_close)"
for b in ${BASE:+"$BASE"} "$BIN"; do
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$b" replay --brokers "$B" \
                --topic-prefix "$P2" -t aid.dispatched --progress never -f csv -o "$tmp/cg.csv" 2>/dev/null
        callgrind_annotate --inclusive=yes "$tmp/cg.out" 2>/dev/null >"$tmp/cg.txt"
        tot=$(grep -m1 'PROGRAM TOTALS' "$tmp/cg.txt" | awk '{ gsub(",", "", $1); print $1 }')
        fn() { grep -m1 -E "[^a-z_]$1 " "$tmp/cg.txt" | awk '{ gsub(",", "", $1); print $1 }'; }
        w=$(fn out_write) c=$(fn out_close)
        awk -v b="$b" -v n="$CG" -v t="$tot" -v w="${w:-0}" -v c="${c:-0}" 'BEGIN {
                printf "  %-50s %8.0f %8.0f %8.0f\n", b, t / n, w / n, c / n }'
done
