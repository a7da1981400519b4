#!/usr/bin/env bash
# bench/poll.sh: partnerbus poll on a 1,000,000-row CSV feed served on
# loopback, into a real Apache Kafka broker (tests/kafka/harness.sh).
#
#   bench/poll.sh [--build DIR] [--rows N] [--kafka-dir DIR]
#
# Reports: records/s mapped, encoded and published (first poll, every row
# new; the time includes fetching 1M rows and waiting for every ack and
# state record), peak RSS of that poll, and the memory the state holds for
# the feed: a restarted poller that loads the 1M-key state and gets a 304
# compared with one that loads an empty state (same binary, same feed URL).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=$SRC/build
ROWS=1000000
KDIR=
while [[ $# -gt 0 ]]; do
        case $1 in
        --build) BUILD=$2; shift 2 ;;
        --rows) ROWS=$2; shift 2 ;;
        --kafka-dir) KDIR=$2; shift 2 ;;
        *) echo "usage: $0 [--build DIR] [--rows N] [--kafka-dir DIR]" >&2; exit 2 ;;
        esac
done
BIN=$BUILD/services/partnerbus
[[ -x $BIN ]] || { echo "poll.sh: build first ($BIN missing)" >&2; exit 1; }
export PARTNERBUS_SCHEMAS=$SRC/schemas
W=$(mktemp -d /tmp/pb-bench-poll.XXXXXX)
STARTED_KAFKA=
cleanup() {
        [[ -n ${SERVER:-} ]] && kill "$SERVER" 2>/dev/null || true
        [[ -n $STARTED_KAFKA ]] && "$SRC/tests/kafka/harness.sh" stop --dir "$KDIR" >/dev/null 2>&1 || true
        rm -rf "$W"
}
trap cleanup EXIT
if [[ -z $KDIR ]]; then
        KDIR=$W/kafka
        "$SRC/tests/kafka/harness.sh" start --dir "$KDIR" >/dev/null
        STARTED_KAFKA=1
fi
B=$(head -n 1 "$KDIR/bootstrap")

mkdir -p "$W/feeds"
python3 - "$W/feeds/grants.csv" "$ROWS" <<'PY'
import sys
n = int(sys.argv[2])
kinds = ["Verein", "Oblastverwaltung", "Krankenhaus", "Unternehmen"]
turn = ["einmalig", "monatlich", "jährlich"]
with open(sys.argv[1], "w", encoding="utf-8", newline="") as f:
    f.write("\ufeffAktenzeichen;Zuwendungsgeber;Art Geber;Empfänger;Art Empfänger;Stadt;Land;Programm;Zweck;Betrag;Turnus;Bewilligt am;Bemerkung\r\n")
    for i in range(n):
        f.write("NRW-%07d;Staatskanzlei des Landes Nordrhein-Westfalen;Land;Empfänger Nr. %d e.V.;%s;Dnipro;UA;"
                "Wiederaufbauprojekte NRW-Dnipropetrowsk (Ukraine);\"Projekt %d; Ausstattung\";%d.%03d,%02d;%s;%02d.%02d.%d;\r\n"
                % (i, i, kinds[i % 4], i, 1 + i % 900, i % 1000, i % 100, turn[i % 3], 1 + i % 28, 1 + i % 12, 2022 + i % 3))
PY
cp "$SRC/tests/poll/feeds/grants.map.json" "$W/feeds/"
printf 'x;y\n' >"$W/feeds/empty.csv"
python3 "$SRC/tests/poll/feed_server.py" "$W/feeds" "$W/port" &
SERVER=$!
for _ in $(seq 100); do [[ -s $W/port ]] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$W/port")/grants.csv
PFX=bench-poll-$$-
size=$(stat -c %s "$W/feeds/grants.csv")
echo "feed: $ROWS rows, $((size / 1048576)) MiB, $URL; broker $B"

run() { # LABEL ARGS... -> prints the poll line and peak RSS
        local label=$1
        shift
        /usr/bin/time -f "maxrss_kb=%M" "$BIN" poll --brokers "$B" --topic-prefix "$PFX" --type funds.granted \
                --map "$W/feeds/grants.map.json" --organisation staatskanzlei-nrw --once --max-keys 5000000 "$@" 2>"$W/$label.log" || true
        grep -h 'state loaded\|poll done' "$W/$label.log" | sed 's/^/  /'
        echo "  $label peak RSS: $(( $(grep -o 'maxrss_kb=[0-9]*' "$W/$label.log" | cut -d= -f2) / 1024 )) MiB"
}

echo "1. first poll: every row is new"
run first --url "$URL"
ms=$(grep -o 'poll done.* ms=[0-9]*' "$W/first.log" | grep -o 'ms=[0-9]*$' | cut -d= -f2)
pub=$(grep -o 'published=[0-9]*' "$W/first.log" | cut -d= -f2)
echo "  => $pub records published and acknowledged in $ms ms: $((pub * 1000 / (ms > 0 ? ms : 1))) records/s"

echo "2. restart: load the state ($ROWS keys), conditional request -> 304"
run restart --url "$URL"
echo "3. baseline: same process, empty state (another state topic), tiny feed"
run baseline --url "${URL%grants.csv}empty.csv" --state-topic bench-empty-state
a=$(grep -o 'maxrss_kb=[0-9]*' "$W/restart.log" | cut -d= -f2)
b=$(grep -o 'maxrss_kb=[0-9]*' "$W/baseline.log" | cut -d= -f2)
tb=$(grep -o 'table_bytes=[0-9]*' "$W/restart.log" | cut -d= -f2)
echo "  => state of $ROWS keys: table $((tb / 1048576)) MiB (16 bytes/slot, load <= 0.7); RSS difference $(((a - b) / 1024)) MiB"
