#!/usr/bin/env bash
# Codec benchmark, one core: partnerbus's codec side by side with avro-c's
# generic path (encode) and Apache Avro for Java (encode and decode), per
# event type, in interleaved rounds (see bench/README.md, "Codec").
#   bench/codec.sh [EVENTS] [TYPE]      (default 200000 events, all types)
#   ROUNDS=5 JAVA=0 bench/codec.sh      (JAVA=0: without the Java peer)
#   CALLGRIND=1 bench/codec.sh [EVENTS] [TYPE]
#                                       (instructions per event of the C
#                                        sides, valgrind; EVENTS default 2048)
# Builds bench_codec in build-bench/ (Release) unless BENCH_BIN is set, and
# bench/java-avro with Maven (JDK 17 + Maven: apt-get install -y
# openjdk-17-jdk-headless maven). Round r runs bench_codec for one round and
# the Java peer for one round (after its JIT warm-up), the order of the two
# processes alternating; the summary gives per side the median and min-max
# of the rounds, and per pair the median (min-max) of the per-round ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
rounds=${ROUNDS:-5}
java_on=${JAVA:-1}
cg=${CALLGRIND:-0}
if [ "$cg" = 1 ]; then n=${1:-2048}; else n=${1:-200000}; fi
type=${2:-}
bin=${BENCH_BIN:-}
if [ -z "$bin" ]; then
        build=${BENCH_BUILD_DIR:-$root/build-bench}
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
                -DPB_SAN_VARIANT=OFF -DPB_BUILD_TESTS=OFF >/dev/null
        cmake --build "$build" --target bench_codec -j"$(nproc)" >/dev/null
        bin=$build/bench/bench_codec
fi
export PARTNERBUS_SCHEMAS=${PARTNERBUS_SCHEMAS:-$root/schemas}
tmp=$(mktemp -d /tmp/pbcodec.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$cg" = 1 ]; then
        # Instructions per event: the per-event function of each C side,
        # inclusive. bench_pb_encode_one also encodes the ring for the
        # decoders (1024 calls), every side runs a warm-up pass of the ring
        # (1024 calls): with EVENTS a multiple of 1024 every call sees the
        # same mix of events.
        command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
        types=$type
        [ -n "$types" ] || types=$(cd "$PARTNERBUS_SCHEMAS" && ls *.avsc | sed 's/\.avsc$//')
        printf '%-20s %14s %14s %14s %s\n' type pb-encode avroc-encode pb-decode "(instructions per event, inclusive)"
        for t in $types; do
                BENCH_ROUNDS=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$t" \
                        --toggle-collect=bench_pb_encode_one --toggle-collect=bench_avroc_encode_one \
                        --toggle-collect=bench_pb_decode_one "$bin" "$n" "$t" >"$tmp/out.$t" 2>"$tmp/vg.$t"
                callgrind_annotate --inclusive=yes "$tmp/cg.$t" >"$tmp/ann.$t" 2>/dev/null
                ir() { awk -v f="$1" '$0 ~ f"[ \\[]|"f"$" {gsub(",", "", $1); print $1; exit}' "$tmp/ann.$t"; }
                printf '%-20s %14.0f %14.0f %14.0f\n' "$t" \
                        "$(echo "$(ir bench_pb_encode_one) / ($n + 2048)" | bc -l)" \
                        "$(echo "$(ir bench_avroc_encode_one) / ($n + 1024)" | bc -l)" \
                        "$(echo "$(ir bench_pb_decode_one) / ($n + 1024)" | bc -l)"
        done
        exit 0
fi

pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
if [ "$java_on" = 1 ]; then
        command -v mvn >/dev/null && command -v java >/dev/null || {
                echo "the Java peer needs a JDK and Maven: apt-get install -y openjdk-17-jdk-headless maven (or JAVA=0)" >&2
                exit 1
        }
        jdir=$here/java-avro
        (cd "$jdir" && mvn -B -q package dependency:build-classpath \
                -Dmdep.outputFile=target/classpath.txt >"$tmp/mvn.log" 2>&1) ||
                { cat "$tmp/mvn.log" >&2; exit 1; }
        jcp=$jdir/target/java-avro-1.0.jar:$(cat "$jdir/target/classpath.txt")
        java -version 2>&1 | head -1 | sed 's/^/# /'
fi
run_c() { BENCH_ROUNDS=1 BENCH_ROUND0=$1 "${pin[@]}" "$bin" "$n" $type; }
run_java() {
        "${pin[@]}" java -Dwarmup="${JAVA_WARMUP:-1.5}" -cp "$jcp" partnerbus.bench.CodecBench \
                "$PARTNERBUS_SCHEMAS" "$n" 1 $type 2>/dev/null | sed "s/^raw 0 /raw $1 /"
}
for ((r = 0; r < rounds; r++)); do
        echo "# round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)"
        if [ "$java_on" = 1 ] && ((r % 2)); then
                run_java "$r"
                run_c "$r"
        elif [ "$java_on" = 1 ]; then
                run_c "$r"
                run_java "$r"
        else
                run_c "$r"
        fi
done | tee "$tmp/raw" | grep '^#' | sort -u -k1,3
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp/raw" "$n" <<'EOF'
import sys, statistics as st
rate, order = {}, []
for line in open(sys.argv[1]):
    f = line.split()
    if f[:1] != ["raw"]:
        continue
    r, t, side, v = int(f[1]), f[2], f[3], float(f[4])
    if t not in order:
        order.append(t)
    rate.setdefault((t, side), {})[r] = v
def med(v):
    return st.median(v), min(v), max(v)
print(f"{'type':20} {'side':13} {'median ev/s':>12} {'min-max':>19}  rounds={len(next(iter(rate.values())))}, {sys.argv[2]} events each")
for t in order:
    for side in ("pb-encode", "avroc-encode", "java-encode", "pb-decode", "java-decode", "avroc-json"):
        if (t, side) in rate:
            m, lo, hi = med(list(rate[(t, side)].values()))
            print(f"{t:20} {side:13} {m:12,.0f} {lo:>9,.0f}-{hi:<9,.0f}")
    for a, b in (("pb-encode", "avroc-encode"), ("pb-encode", "java-encode"), ("pb-decode", "java-decode")):
        if (t, a) in rate and (t, b) in rate:
            q = [rate[(t, a)][r] / rate[(t, b)][r] for r in rate[(t, a)] if r in rate[(t, b)]]
            m, lo, hi = med(q)
            print(f"{t:20} {a} / {b}: median of per-round ratios {m:.2f}x ({lo:.2f}-{hi:.2f})")
EOF
