#!/usr/bin/env bash
# bench/produce.sh: publish N aid.dispatched events (default 1,000,000) to a
# real Apache Kafka broker with `partnerbus produce`, and side by side in
# the same run the same number of pre-encoded messages of the same size
# with `kcat -P`. Both use the same producer settings (idempotent, acks=all,
# linger.ms=5) and wait for every acknowledgement.
#
#   bench/produce.sh [--events N] [--brokers HOST:PORT] [--bin PATH]
#
# Without --brokers a single-node Kafka is started with
# tests/kafka/harness.sh in a temporary directory and stopped at the end.
# Results go to stdout (and are recorded in bench/README.md, "produce").
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init 12 "$@"

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
T1=${P}aid.dispatched T2=${P}kcat
now() { date +%s.%N; }
X=(-X linger.ms=5)

t0=$(now)
"$BIN" produce -t aid.dispatched -b "$B" -p "$P" "${X[@]}" <"$tmp/events.jsonl" 2>"$tmp/produce.err"
t1=$(now)
tail -n 1 "$tmp/produce.err"
grep -qx "published $N, rejected 0" "$tmp/produce.err" || { echo "produce.sh: partnerbus produce did not publish all" >&2; exit 1; }

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

t2=$(now)
kcat -P -b "$B" -t "$T2" -K "$KD" -D "$D" "${H[@]}" -X enable.idempotence=true -X acks=all -X linger.ms=5 <"$tmp/values.bin"
t3=$(now)
got=$(kcat -C -b "$B" -t "$T2" -o beginning -e -q -f '%S\n' | wc -l)
[[ $got -eq $N ]] || { echo "produce.sh: kcat published $got messages, expected $N" >&2; exit 1; }
kbytes=$(kcat -C -b "$B" -t "$T2" -o beginning -e -q -f '%S\n' | awk '{s+=$1} END {print s}')
[[ $kbytes -eq $vbytes ]] || { echo "produce.sh: kcat value bytes $kbytes != $vbytes" >&2; exit 1; }

jbytes=$(stat -c %s "$tmp/events.jsonl")
python3 - "$N" "$t0" "$t1" "$t2" "$t3" "$jbytes" "$vbytes" "$kvbytes" <<'PY'
import sys
n = int(sys.argv[1]); t0, t1, t2, t3 = map(float, sys.argv[2:6]); jb, vb, kvb = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
pb, kc = t1 - t0, t3 - t2
print(f"events: {n}, JSON in {jb/n:.0f} B/event, Avro value {vb/n:.0f} B/event, key {(kvb-vb)/n:.0f} B/event, 6 CloudEvents headers on both")
print(f"partnerbus produce (JSON -> validate -> Avro -> Kafka): {pb:6.2f} s  {n/pb:10.0f} events/s  {vb/pb/1e6:6.1f} MB/s of values")
print(f"kcat -P (pre-encoded values):                          {kc:6.2f} s  {n/kc:10.0f} events/s  {vb/kc/1e6:6.1f} MB/s of values")
print(f"ratio partnerbus/kcat: {(n/pb)/(n/kc):.2f}")
PY
