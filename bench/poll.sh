#!/usr/bin/env bash
# bench/poll.sh: partnerbus poll on big CSV feeds served on loopback, into a
# real Apache Kafka broker (tests/kafka/harness.sh).
#
#   bench/poll.sh [--build DIR] [--before DIR] [--rows "N N..."] [--keys K]
#                 [--rounds R] [--kafka-dir DIR] [--no-restart]
#
# For every feed size (default 1,000,000 and 10,000,000 rows) and round, a
# first poll (every record new: a fresh topic prefix, so a fresh state and
# ownership topic) of the binary under test and, with --before, of another
# build (e.g. main), interleaved: the order of the two sides alternates per
# round. Row i carries record key i mod K (K = --keys, default 1,000,000):
# a feed longer than K rows repeats its records unchanged, so the 10M-row
# feed is parsed, mapped and fingerprinted in full but publishes K events;
# the memory a poll needs for its state and ownership map is the same for
# both sizes, and what differs is the feed.
#
# Reports per run: records/s (records read / the poll's own duration, from
# its "poll done" line: fetching, parsing, mapping, encoding, publishing,
# every transaction committed), records published, peak RSS (/usr/bin/time
# -v, "Maximum resident set size") and the 1-minute load average before the
# run; then per side and size the median (min-max) over the rounds. Without
# --no-restart, finally the memory the state holds: a restarted poller that
# loads the K-key state and gets a 304, against one with an empty state.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=$SRC/build
BEFORE=
ROWS_LIST="1000000 10000000"
KEYS=1000000
ROUNDS=3
KDIR=
RESTART=1
while [[ $# -gt 0 ]]; do
        case $1 in
        --build) BUILD=$2; shift 2 ;;
        --before) BEFORE=$2; shift 2 ;;
        --rows) ROWS_LIST=$2; shift 2 ;;
        --keys) KEYS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --kafka-dir) KDIR=$2; shift 2 ;;
        --no-restart) RESTART=; shift ;;
        *) echo "usage: $0 [--build DIR] [--before DIR] [--rows \"N...\"] [--keys K] [--rounds R] [--kafka-dir DIR] [--no-restart]" >&2; exit 2 ;;
        esac
done
BIN=$BUILD/services/partnerbus
[[ -x $BIN ]] || { echo "poll.sh: build first ($BIN missing)" >&2; exit 1; }
[[ -z $BEFORE || -x $BEFORE/services/partnerbus ]] || { echo "poll.sh: $BEFORE/services/partnerbus missing" >&2; exit 1; }
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
gen() { # FILE ROWS KEYS
        python3 - "$@" <<'PY'
import sys
n, keys = int(sys.argv[2]), int(sys.argv[3])
kinds = ["Verein", "Oblastverwaltung", "Krankenhaus", "Unternehmen"]
turn = ["einmalig", "monatlich", "jährlich"]
with open(sys.argv[1], "w", encoding="utf-8", newline="") as f:
    f.write("\ufeffAktenzeichen;Zuwendungsgeber;Art Geber;Empfänger;Art Empfänger;Stadt;Land;Programm;Zweck;Betrag;Turnus;Bewilligt am;Bemerkung\r\n")
    for j in range(n):
        i = j % keys
        f.write("NRW-%07d;Staatskanzlei des Landes Nordrhein-Westfalen;Land;Empfänger Nr. %d e.V.;%s;Dnipro;UA;"
                "Wiederaufbauprojekte NRW-Dnipropetrowsk (Ukraine);\"Projekt %d; Ausstattung\";%d.%03d,%02d;%s;%02d.%02d.%d;\r\n"
                % (i, i, kinds[i % 4], i, 1 + i % 900, i % 1000, i % 100, turn[i % 3], 1 + i % 28, 1 + i % 12, 2022 + i % 3))
PY
}
cp "$SRC/tests/poll/feeds/grants.map.json" "$W/feeds/"
printf 'x;y\n' >"$W/feeds/empty.csv"
python3 "$SRC/tests/poll/feed_server.py" "$W/feeds" "$W/port" &
SERVER=$!
for _ in $(seq 100); do [[ -s $W/port ]] && break; sleep 0.1; done
BASE=http://127.0.0.1:$(cat "$W/port")
echo "broker $B; $(nproc) cores; keys per feed: $KEYS; rounds: $ROUNDS"
echo "after: $BIN${BEFORE:+; before: $BEFORE/services/partnerbus}"

RUN=0
: >"$W/results"
poll() { # SIDE BIN LOG ARGS... -> the poll's stderr and /usr/bin/time -v in LOG
        local side=$1 bin=$2 log=$3
        shift 3
        /usr/bin/time -v "$bin" poll --brokers "$B" --type funds.granted \
                --map "$W/feeds/grants.map.json" --organisation staatskanzlei-nrw --once \
                --max-keys 20000000 --max-records 100000000 --max-response-size 8GiB "$@" >"$log" 2>&1 || true
}
first() { # SIDE BIN ROWS FEED
        local side=$1 bin=$2 rows=$3 feed=$4 load log done ms rec pub rss cms
        RUN=$((RUN + 1))
        load=$(cut -d' ' -f1 /proc/loadavg)
        log=$W/run$RUN.log
        poll "$side" "$bin" "$log" --topic-prefix "bench-poll-$$-$RUN-" --url "$BASE/$feed"
        done=$(grep -h 'poll done' "$log" || true)
        ms=$(grep -o ' ms=[0-9]*' <<<"$done" | cut -d= -f2)
        rec=$(grep -o 'records=[0-9]*' <<<"$done" | cut -d= -f2)
        pub=$(grep -o 'published=[0-9]*' <<<"$done" | cut -d= -f2)
        cms=$(grep -o 'claims_ms=[0-9]*' <<<"$done" | cut -d= -f2)
        rss=$(grep 'Maximum resident set size' "$log" | grep -o '[0-9]*$')
        if ! grep -q 'outcome=ok' <<<"$done"; then
                echo "  $side $rows rows: FAILED: $(grep -h 'level=error' "$log" | head -3)"
                return
        fi
        printf '  %-6s %9s rows: %8d records/s (%d records, %d published, %d ms, claims %d ms), peak RSS %5d MiB, load %s\n' \
                "$side" "$rows" $((rec * 1000 / (ms > 0 ? ms : 1))) "$rec" "$pub" "$ms" "${cms:-0}" $((rss / 1024)) "$load"
        echo "$side $rows $((rec * 1000 / (ms > 0 ? ms : 1))) $((rss / 1024)) $load" >>"$W/results"
}

for rows in $ROWS_LIST; do
        feed=grants-$rows.csv
        gen "$W/feeds/$feed" "$rows" "$KEYS"
        echo "feed: $rows rows ($KEYS keys), $(($(stat -c %s "$W/feeds/$feed") / 1048576)) MiB"
        for r in $(seq "$ROUNDS"); do
                if [[ -n $BEFORE && $((r % 2)) -eq 1 ]]; then
                        first before "$BEFORE/services/partnerbus" "$rows" "$feed"
                        first after "$BIN" "$rows" "$feed"
                elif [[ -n $BEFORE ]]; then
                        first after "$BIN" "$rows" "$feed"
                        first before "$BEFORE/services/partnerbus" "$rows" "$feed"
                else
                        first after "$BIN" "$rows" "$feed"
                fi
        done
        [[ $rows == "${ROWS_LIST%% *}" ]] || rm -f "$W/feeds/$feed"
done

echo "summary: median (min-max) over the rounds"
python3 - "$W/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side, n, rate, rss, load = line.split()
    rows.setdefault((int(n), side), []).append((int(rate), int(rss), float(load)))
for (n, side), v in sorted(rows.items()):
    rate = [x[0] for x in v]; rss = [x[1] for x in v]; load = [x[2] for x in v]
    print("  %-6s %9d rows: %7d records/s (%d-%d), peak RSS %4d MiB (%d-%d), load %.1f-%.1f, %d runs"
          % (side, n, statistics.median(rate), min(rate), max(rate),
             statistics.median(rss), min(rss), max(rss), min(load), max(load), len(v)))
PY

[[ -n $RESTART ]] || exit 0
first_rows=${ROWS_LIST%% *}
PFX=bench-poll-$$-1-
echo "state: restart of the first run's poller ($KEYS keys), conditional request -> 304; baseline: empty state, tiny feed"
poll after "$BIN" "$W/restart.log" --topic-prefix "$PFX" --url "$BASE/grants-$first_rows.csv"
poll after "$BIN" "$W/baseline.log" --topic-prefix "bench-poll-$$-empty-" --url "$BASE/empty.csv"
a=$(grep 'Maximum resident set size' "$W/restart.log" | grep -o '[0-9]*$')
b=$(grep 'Maximum resident set size' "$W/baseline.log" | grep -o '[0-9]*$')
tb=$(grep -o 'table_bytes=[0-9]*' "$W/restart.log" | head -1 | cut -d= -f2)
grep -h 'state loaded\|poll done' "$W/restart.log" | sed 's/^/  /'
echo "  => restart peak RSS $((a / 1024)) MiB, baseline $((b / 1024)) MiB; state table $((${tb:-0} / 1048576)) MiB (owned types: shared with the ownership map, 20 bytes a slot; load 0.64-0.8)"
