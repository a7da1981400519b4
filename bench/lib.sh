# bench/lib.sh: what the benchmarks share. bench_init is the common start of
# bench/produce.sh, bench/replay.sh and others with the same options;
# scripts with options of their own use bench_kafka and the functions below.
# Source it after `set -euo pipefail` and call bench_init LAST "$@" plainly
# (not in $(...): the EXIT trap must belong to the script). It
#  - parses --events N (default 1,000,000), --brokers HOST:PORT and
#    --bin PATH; -h prints lines 2 to LAST of the script;
#  - fails unless the partnerbus binary and kcat are there;
#  - makes the temporary directory $tmp, removed at exit;
#  - without --brokers starts a single-node Kafka with
#    tests/kafka/harness.sh in $tmp/kafka, stopped at exit;
#  - exports PARTNERBUS_SCHEMAS (the tree's schemas unless set).
# Sets src (the source tree), N, B (bootstrap servers), BIN and tmp.

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

bench_init() {
        local last=$1 me
        me=$(basename "$0")
        shift
        N=1000000 B= BIN=${PB_BIN:-$src/build/services/partnerbus}
        while (($#)); do
                case $1 in
                --events) N=$2; shift 2 ;;
                --brokers) B=$2; shift 2 ;;
                --bin) BIN=$2; shift 2 ;;
                -h | --help) sed -n "2,${last}p" "$0"; exit 0 ;;
                *) echo "$me: unknown option $1" >&2; exit 2 ;;
                esac
        done
        [[ -x $BIN ]] || { echo "$me: partnerbus binary $BIN not found (--bin)" >&2; exit 1; }
        command -v kcat >/dev/null || { echo "$me: kcat not found" >&2; exit 1; }
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/pbbench.XXXXXX")
        bench_kdir=
        trap bench_cleanup EXIT
        [[ -n $B ]] || bench_kafka_start "$tmp/kafka"
        export PARTNERBUS_SCHEMAS=${PARTNERBUS_SCHEMAS:-$src/schemas}
}

# bench_cleanup: stop the Kafka bench_init started, remove $tmp
bench_cleanup() {
        bench_kafka_stop
        rm -rf "$tmp"
}

# bench_kafka_start DIR: start a single-node Kafka in DIR
# (tests/kafka/harness.sh) and set B to its bootstrap servers;
# bench_kafka_stop stops it (and nothing when none was started)
bench_kafka_start() {
        bench_kdir=$1
        B=$("$src/tests/kafka/harness.sh" start --dir "$bench_kdir" | tail -n 1)
}
bench_kafka_stop() {
        [[ -n ${bench_kdir:-} ]] && "$src/tests/kafka/harness.sh" stop --dir "$bench_kdir" >/dev/null 2>&1 || true
}

# bench_kafka DIR: B, the bootstrap servers of the harness broker in
# $PB_KAFKA_DIR when one runs there, else of one started in DIR
bench_kafka() {
        bench_kdir=
        if [[ -n ${PB_KAFKA_DIR:-} && -s ${PB_KAFKA_DIR}/bootstrap ]]; then
                B=$(cat "$PB_KAFKA_DIR/bootstrap")
        else
                bench_kafka_start "$1"
        fi
}

# bench_now: wall clock in seconds (for timing one side of a round)
bench_now() { date +%s.%N; }

# bench_load: the 1-minute load average (printed with every round)
bench_load() { cut -d' ' -f1 /proc/loadavg; }

# bench_cpu FILE CMD...: runs CMD (a command or a shell function), its
# CPU seconds (user + system of every process it ran, all threads) to
# FILE: the shell's `times` for its children before and after. On a
# machine shared with other work, wall time follows the load; CPU time
# much less.
bench_cpu() {
        local f=$1
        shift
        times >"$f.a"
        "$@"
        times >"$f.b"
        awk 'function s(x) { split(x, a, "m"); return a[1] * 60 + a[2] }
             FNR == 2 { c[FILENAME] = s($1) + s($2) }
             END { printf "%.2f\n", c[ARGV[2]] - c[ARGV[1]] }' "$f.a" "$f.b" >"$f"
}

# bench_cpu_summary N NAME:"C1 C2 .." ...: per side the median CPU time
# per event (µs) with min-max
bench_cpu_summary() {
        python3 - "$@" <<'PY'
import statistics, sys
n = float(sys.argv[1])
for a in sys.argv[2:]:
    name, t = a.split(":", 1)
    c = [float(x) * 1e6 / n for x in t.split()]
    print("%-26s CPU (user+sys) median %6.2f us/event  (min %6.2f, max %6.2f)" % (name, statistics.median(c), min(c), max(c)))
PY
}

# bench_topics_create B TOPIC...: creates the topics (the broker's
# auto-create: 3 partitions) and waits until every partition has a leader,
# so no timed run pays for topic creation or a cold metadata cache.
bench_topics_create() {
        local b=$1 t i
        shift
        for t in "$@"; do
                for ((i = 0; i < 50; i++)); do
                        kcat -L -b "$b" -t "$t" 2>/dev/null | grep -q "partition 2, leader [0-9]" && break
                        sleep 0.2
                done
        done
}

# bench_topic_count B TOPIC: messages in TOPIC (sum of end offsets; the
# topics here are never truncated)
bench_topic_count() {
        local p s=0 o
        for p in 0 1 2; do
                o=$(kcat -Q -b "$1" -t "$2:$p:-1" 2>/dev/null | awk '{print $NF}')
                s=$((s + ${o:-0}))
        done
        echo "$s"
}

# bench_summary N NAME:"T1 T2 .." ... : per side the median rate with
# min-max over the rounds, and each later side's median rate over the
# first side's (the peer) with the range of the per-round ratios. Times are
# seconds for N events; the k-th time of every side is from round k.
bench_summary() {
        python3 - "$@" <<'PY'
import statistics, sys
n = float(sys.argv[1])
sides = [a.split(":", 1) for a in sys.argv[2:]]
sides = [(name, [float(x) for x in t.split()]) for name, t in sides]
peer_name, peer = sides[0]
for name, t in sides:
    r = [n / x for x in t]
    line = "%-26s median %9.0f events/s  (min %9.0f, max %9.0f; %d rounds)" % (
        name, statistics.median(r), min(r), max(r), len(r))
    if name != peer_name and len(t) == len(peer):
        q = [p / x for p, x in zip(peer, t)]
        line += "  / %s: median %.2f (%.2f-%.2f)" % (
            peer_name, statistics.median(r) / statistics.median([n / x for x in peer]), min(q), max(q))
    print(line)
PY
}
