# bench/lib.sh: the common start of bench/produce.sh and bench/replay.sh.
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
        if [[ -z $B ]]; then
                bench_kdir=$tmp/kafka
                B=$("$src/tests/kafka/harness.sh" start --dir "$bench_kdir" | tail -n 1)
        fi
        export PARTNERBUS_SCHEMAS=${PARTNERBUS_SCHEMAS:-$src/schemas}
}

# bench_cleanup: stop the Kafka bench_init started, remove $tmp
bench_cleanup() {
        [[ -n $bench_kdir ]] && "$src/tests/kafka/harness.sh" stop --dir "$bench_kdir" >/dev/null 2>&1 || true
        rm -rf "$tmp"
}
