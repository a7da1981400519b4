#!/usr/bin/env bash
# bench/produce.sh: publish N aid.dispatched events (default 1,000,000) to a
# real Apache Kafka broker with `partnerbus produce`, side by side with
# `kcat -P` publishing the same keys and pre-encoded Avro values with the
# same six header names and sizes. Both get the same producer settings
# (-X below: idempotent, acks=all, linger.ms=5, batch sizes) and wait for
# every acknowledgement; rounds alternate kcat, partnerbus, kcat, ...
#
#   bench/produce.sh [--events N] [--brokers HOST:PORT] [--bin PATH]
#   ROUNDS=5 (default) rounds; each side writes to its own topic per round,
#   created (and its leaders known) before the timed runs.
#   BEFORE_BIN=PATH adds a third side, another partnerbus binary ("before");
#   the sides' order then rotates per round (kcat, before, after; before,
#   after, kcat; ...), and each round prints its load average per side.
#
# Without --brokers a single-node Kafka is started with
# tests/kafka/harness.sh in a temporary directory and stopped at the end.
# Results go to stdout (and are recorded in bench/README.md, "produce").
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init 15 "$@"
ROUNDS=${ROUNDS:-5}

# N distinct events from the medical-truck example: own event_id,
# shipment_id (the key) and quantity
python3 - "$src/schemas/examples/valid/aid.dispatched/medical-truck-poltava-2023-03.json" "$N" >"$tmp/events.jsonl" <<'PY'
import json, sys, uuid
ev = json.load(open(sys.argv[1], encoding="utf-8"))
n = int(sys.argv[2])
ns = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
out = sys.stdout
for i in range(n):
    ev["event_id"] = str(uuid.uuid5(ns, "bench-%d" % i))
    ev["shipment_id"] = "BENCH-%07d" % i
    ev["items"][0]["quantity"] = 1000 + i % 9000
    out.write(json.dumps(ev, separators=(",", ":"), ensure_ascii=False))
    out.write("\n")
PY
P=bench-$(date +%s)-$$.
# the producer settings of both sides: partnerbus's built-in defaults
# (enable.idempotence=true, acks=all; given to kcat only: repeating
# acks=all with -X made librdkafka 2.0 hold partnerbus's first batch ~1 s)
# and, for both, linger and librdkafka's batch defaults spelled out
X=(-X linger.ms=5 -X batch.num.messages=10000 -X batch.size=1000000)
XK=(-X enable.idempotence=true -X acks=all)

# not timed: partnerbus publishes the events once (this also warms up the
# broker); its keys, values and headers are what kcat sends
bench_topics_create "$B" "${P}src.aid.dispatched"
"$BIN" produce -t aid.dispatched -b "$B" -p "${P}src." "${X[@]}" <"$tmp/events.jsonl" 2>"$tmp/produce.err"
grep -qx "published $N, rejected 0" "$tmp/produce.err" || { tail -3 "$tmp/produce.err" >&2; echo "produce.sh: partnerbus produce did not publish all" >&2; exit 1; }
T1=${P}src.aid.dispatched
# the same keys and Avro values, as published, dumped raw with delimiters
# no key or value contains (checked by counting below); kcat cannot vary
# headers per message, so it sends the first message's CloudEvents headers
# (same names, same sizes) on every message
D='\x1e\x1f\x1e\x1f' KD='\x1d\x1d'
kcat -C -b "$B" -t "$T1" -o beginning -e -q -f "%k$(printf "$KD")%s$(printf "$D")" >"$tmp/values.bin"
kvbytes=$(($(stat -c %s "$tmp/values.bin") - 6 * N))
vbytes=$(kcat -C -b "$B" -t "$T1" -o beginning -e -q -f '%S\n' | awk '{s+=$1} END {print s}')
H=()
IFS=, read -r -a hs < <(kcat -C -b "$B" -t "$T1" -o beginning -c 1 -q -f '%h\n')
for h in "${hs[@]}"; do H+=(-H "$h"); done
((${#H[@]} == 12)) || { echo "produce.sh: expected 6 CloudEvents headers, got: ${hs[*]}" >&2; exit 1; }
jbytes=$(stat -c %s "$tmp/events.jsonl")
echo "events: $N, JSON in $((jbytes / N)) B/event, Avro value $((vbytes / N)) B/event, key $(((kvbytes - vbytes) / N)) B/event, 6 CloudEvents headers on both"
echo "producer settings of both sides: ${XK[*]} (partnerbus: built in) ${X[*]}"

# run_side NAME ROUND: one timed run of side NAME into its own topic;
# appends its wall and CPU seconds to W_<NAME> and C_<NAME>
run_side() {
        local side=$1 r=$2 t0 t1 l w bin=$BIN wv=W_$1 cv=C_$1
        sync
        l=$(bench_load)
        if [[ $side == kcat ]]; then
                t0=$(bench_now)
                bench_cpu "$tmp/cpu" kcat -P -b "$B" -t "${P}r$r.kcat" -K "$KD" -D "$D" "${H[@]}" "${XK[@]}" "${X[@]}" <"$tmp/values.bin"
                t1=$(bench_now)
        else
                [[ $side == before ]] && bin=$BEFORE_BIN
                t0=$(bench_now)
                bench_cpu "$tmp/cpu" "$bin" produce -t aid.dispatched -b "$B" -p "${P}r$r.$side." "${X[@]}" <"$tmp/events.jsonl" 2>"$tmp/produce.err"
                t1=$(bench_now)
                grep -qx "published $N, rejected 0" "$tmp/produce.err" || { echo "produce.sh: partnerbus produce ($side) did not publish all" >&2; exit 1; }
        fi
        w=$(echo "$t1 - $t0" | bc)
        printf -v "$wv" '%s %s' "${!wv:-}" "$w"
        printf -v "$cv" '%s %s' "${!cv:-}" "$(cat "$tmp/cpu")"
        awk -v s="$side" -v w="$w" -v n="$N" -v l="$l" 'BEGIN { printf "  %s %.2f s %.0f events/s (load %s)", s, w, n / w, l }'
}

SIDES=(kcat partnerbus)
[[ -n ${BEFORE_BIN:-} ]] && SIDES=(kcat before partnerbus)
for ((r = 1; r <= ROUNDS; r++)); do
        topics=()
        for s in "${SIDES[@]}"; do
                if [[ $s == kcat ]]; then topics+=("${P}r$r.kcat"); else topics+=("${P}r$r.$s.aid.dispatched"); fi
        done
        bench_topics_create "$B" "${topics[@]}"
        printf 'round %d:' "$r"
        for ((i = 0; i < ${#SIDES[@]}; i++)); do
                # the order rotates per round when there are three sides
                s=${SIDES[(i + (${#SIDES[@]} == 3 ? r - 1 : 0)) % ${#SIDES[@]}]}
                run_side "$s" "$r"
        done
        echo
        for t in "${topics[@]}"; do
                got=$(bench_topic_count "$B" "$t")
                [[ $got -eq $N ]] || { echo "produce.sh: $t holds $got messages, expected $N" >&2; exit 1; }
        done
        if ((r == 1)); then
                kb=$(kcat -C -b "$B" -t "${P}r1.kcat" -o beginning -e -q -f '%S\n' | awk '{s+=$1} END {print s}')
                [[ $kb -eq $vbytes ]] || { echo "produce.sh: kcat value bytes $kb != $vbytes" >&2; exit 1; }
        fi
done
if [[ -n ${BEFORE_BIN:-} ]]; then
        bench_summary "$N" "kcat -P (pre-encoded):$W_kcat" "before ($BEFORE_BIN):$W_before" "partnerbus produce:$W_partnerbus"
        bench_cpu_summary "$N" "kcat -P (pre-encoded):$C_kcat" "before:$C_before" "partnerbus produce:$C_partnerbus"
else
        bench_summary "$N" "kcat -P (pre-encoded):$W_kcat" "partnerbus produce:$W_partnerbus"
        bench_cpu_summary "$N" "kcat -P (pre-encoded):$C_kcat" "partnerbus produce:$C_partnerbus"
fi
