#!/usr/bin/env bash
# bench/replay.sh: replay N aid.dispatched events (default 1,000,000) from a
# real Apache Kafka broker to JSON lines (and to CSV) with `partnerbus
# replay`, side by side with `kcat -C -e -o beginning` reading the same
# topic raw (no decoding). Rounds alternate kcat, partnerbus jsonl,
# partnerbus csv, kcat, ...; both readers get the same consumer settings
# (-X below). Both write files to the same place (kcat: raw values, one
# per line): OUT=shm (default) a tmpfs (/dev/shm), OUT=disk the temporary
# directory on disk, OUT=null /dev/null. On a disk shared with other work
# the runs measure the disk's writeback: the JSON lines are 1.9x the bytes
# of the raw values.
#
#   bench/replay.sh [--events N] [--brokers HOST:PORT] [--bin PATH]
#   ROUNDS=5 (default); CSV=0 leaves out the CSV runs; OUT=shm|disk|null;
#   REUSE_PREFIX=P- reads the topic P-aid.dispatched of an earlier run;
#   SECONDS_APART=S: event i occurs i*S seconds after the first (default 0:
#   one shared instant, which the decoder's day/minute text cache always
#   hits; 61 makes every event a new minute, its worst case)
#
# Without --brokers a single-node Kafka is started with
# tests/kafka/harness.sh in a temporary directory and stopped at the end.
# The events (tests/relay/gen_events.py, 3 partitions) are published first
# with `partnerbus produce` and read once by both (not timed: a warm broker
# and page cache). Target: JSON lines at >= 0.9 of kcat's raw rate.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init 22 "$@"
ROUNDS=${ROUNDS:-5}
P=bench-replay-$(date +%s)-$$-
T=${P}aid.dispatched
if [[ -n ${REUSE_PREFIX:-} ]]; then # the topic of an earlier run (N events)
        P=$REUSE_PREFIX T=${REUSE_PREFIX}aid.dispatched
else
        python3 "$src/tests/relay/gen_events.py" "$N" 500 --seed bench-replay \
                --seconds-apart "${SECONDS_APART:-0}" >"$tmp/events.jsonl"
        bench_topics_create "$B" "$T"
        "$BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" --file "$tmp/events.jsonl" \
                2>"$tmp/produce.log" || { tail -3 "$tmp/produce.log" >&2; exit 1; }
        rm -f "$tmp/events.jsonl"
fi
# the consumer settings of both sides (the relay's queued.min.messages;
# librdkafka's fetch defaults spelled out)
X=(-X queued.min.messages=1000000 -X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=1048576)
case ${OUT:=shm} in
shm) odir=$(mktemp -d /dev/shm/pbbench.XXXXXX); trap 'rm -rf "$odir"; bench_cleanup' EXIT ;;
disk) odir=$tmp ;;
null) odir= ;;
*) echo "replay.sh: OUT is shm, disk or null" >&2; exit 2 ;;
esac
o() { if [[ $OUT == null ]]; then echo /dev/null; else echo "$odir/$1"; fi; }

kcat_run() { kcat -b "$B" -C -t "$T" -e -o beginning -q "${X[@]}" >"$(o kcat.raw)"; }
jsonl_run() {
        "$BIN" replay --brokers "$B" --topic-prefix "$P" -t aid.dispatched --progress never "${X[@]}" \
                -o "$(o out.jsonl)" 2>"$tmp/jsonl.log"
}
csv_run() {
        "$BIN" replay --brokers "$B" --topic-prefix "$P" -t aid.dispatched --progress never "${X[@]}" \
                -f csv -o "$(o out.csv)" 2>"$tmp/csv.log"
}
# warm-up, and the counts
kcat_run
jsonl_run
nk=$(kcat -b "$B" -C -t "$T" -e -o beginning -q -f '\n' 2>/dev/null | wc -l)
echo "replay of $N aid.dispatched events (3 partitions), broker $B; kcat reads $nk messages"
echo "consumer settings of both sides: ${X[*]}; output: $(o '*')"
[[ $OUT == null ]] || echo "partnerbus writes $(wc -l <"$odir/out.jsonl") JSON lines"
TK= TJ= TC= CK= CJ= CC=
for ((r = 1; r <= ROUNDS; r++)); do
        line="round $r:"
        for side in kcat jsonl csv; do
                [[ $side == csv && ${CSV:-1} == 0 ]] && continue
                [[ $OUT == null ]] || rm -f "$odir/kcat.raw" "$odir/out.jsonl" "$odir/out.csv"
                sync
                l=$(bench_load)
                t0=$(bench_now)
                bench_cpu "$tmp/cpu" "${side}_run"
                t1=$(bench_now)
                d=$(echo "$t1 - $t0" | bc) c=$(cat "$tmp/cpu")
                case $side in kcat) TK+=" $d" CK+=" $c" ;; jsonl) TJ+=" $d" CJ+=" $c" ;; csv) TC+=" $d" CC+=" $c" ;; esac
                line+=$(awk -v s="$side" -v n="$N" -v d="$d" -v l="$l" -v c="$c" 'BEGIN { printf "  %s %.2f s %.0f ev/s (cpu %.2f s, load %s)", s, d, n / d, c, l }')
        done
        echo "$line"
done
args=("$N" "kcat -C -e (raw):$TK" "partnerbus replay jsonl:$TJ")
[[ ${CSV:-1} == 0 ]] || args+=("partnerbus replay csv:$TC")
bench_summary "${args[@]}"
cargs=("$N" "kcat -C -e (raw):$CK" "partnerbus replay jsonl:$CJ")
[[ ${CSV:-1} == 0 ]] || cargs+=("partnerbus replay csv:$CC")
bench_cpu_summary "${cargs[@]}"
tail -n 1 "$tmp/jsonl.log"
