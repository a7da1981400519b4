#!/usr/bin/env bash
# replay --format csv checks only each message's envelope (event_id,
# occurred_at, source, key) before the event-time merge and lets the CSV
# walk check the rest of the body, on real Kafka: the seed history plus two
# broken copies of one of its messages - one cut short at its end (a good
# envelope), one with a byte in its event_id that is not text (a bad
# envelope) - gives exactly the CSV files of the clean history, with and
# without the reader thread, and "undecodable 2"; with --until before the
# copied event, the one with the good envelope is outside the range and
# only the other is undecodable; JSON lines count both as before.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_require_cmd python3 kcat cmp
pb_tmpdir
H=$PB_TMP/history
python3 "$PB_SOURCE_DIR/tests/fixtures/seed_history.py" "$H"
TYPES=funds.granted,aid.dispatched

# the clean history under one prefix, the same history and the broken
# copies under another; a third holds only the copy with the good envelope
pb_topic_prefix bbclean
CLEAN=$P
pb_produce_history "$H" funds.granted aid.dispatched
pb_topic_prefix bbbad
BAD=$P
pb_produce_history "$H" funds.granted aid.dispatched

timeout 60 kcat -b "$B" -C -t "${BAD}aid.dispatched" -p 0 -o beginning -c 1 -e -q -f '%s' \
        >"$PB_TMP/good.bin" || pb_fail "kcat could not read a message"
python3 - "$PB_TMP" <<'EOF' || pb_fail "could not build the broken copies"
import sys
d = sys.argv[1]
good = open(d + "/good.bin", "rb").read()
# single-object encoding: C3 01, 8 bytes of fingerprint, then the body;
# the body starts with event_id: its length (a varint) and 36 characters
assert good[:2] == b"\xc3\x01" and good[10] == 72, good[:12]
open(d + "/bad_tail.bin", "wb").write(good[:-2])
bad = bytearray(good)
bad[11] = 0xFF
open(d + "/bad_envelope.bin", "wb").write(bytes(bad))
EOF
pb_kcat_produce "$B" "${BAD}aid.dispatched" -k broken-tail "$PB_TMP/bad_tail.bin"
pb_kcat_produce "$B" "${BAD}aid.dispatched" -k broken-envelope "$PB_TMP/bad_envelope.bin"
ONLY=$(pb_topic_name bbonly)-
pb_kcat_produce "$B" "${ONLY}aid.dispatched" -k broken-tail "$PB_TMP/bad_tail.bin"

# the copied event's time, from a topic of its own
PARTNERBUS_TOPIC_PREFIX=$(pb_topic_name bbone)- bash -c '
        pfx=$PARTNERBUS_TOPIC_PREFIX
        kcat -b "$1" -P -t "${pfx}aid.dispatched" -X acks=all "$2/good.bin" &&
        "$3" replay --brokers "$1" -t aid.dispatched' _ "$B" "$PB_TMP" "$PB_BIN" \
        >"$PB_TMP/one.jsonl" 2>"$PB_TMP/one.log" || pb_fail "replay of the copied event: $(cat "$PB_TMP/one.log")"
AT=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["occurred_at"])' "$PB_TMP/one.jsonl")
pb_log "copied event at $AT"

replay_csv() { # PREFIX OUTDIR [ARGS...]: exit status in RC, messages in OUTDIR.log
        local pfx=$1 out=$2
        shift 2
        RC=0
        PARTNERBUS_TOPIC_PREFIX=$pfx "$PB_BIN" replay --brokers "$B" -t "$TYPES" -f csv \
                --out "$out/" "$@" 2>"$out.log" || RC=$?
}
written() { sed -n 's/.*: \([0-9]*\) events written.*/\1/p' "$1"; }
replay_csv "$CLEAN" "$PB_TMP/clean"
((RC == 0)) || pb_fail "clean replay: $(cat "$PB_TMP/clean.log")"

for mode in auto on; do
        replay_csv "$BAD" "$PB_TMP/bad-$mode" --decode-thread "$mode"
        log=$PB_TMP/bad-$mode.log
        ((RC == 1)) || pb_fail "decode-thread $mode: exit $RC with undecodable events: $(cat "$log")"
        grep -q "undecodable 2," "$log" || pb_fail "decode-thread $mode: not 2 undecodable: $(cat "$log")"
        [[ $(grep -c "cannot decode" "$log") == 2 ]] || pb_fail "decode-thread $mode: not two warnings: $(cat "$log")"
        [[ $(written "$log") == "$(written "$PB_TMP/clean.log")" ]] ||
                pb_fail "decode-thread $mode: events written $(written "$log"), clean $(written "$PB_TMP/clean.log")"
        for t in funds.granted aid.dispatched; do
                cmp "$PB_TMP/clean/$t.csv" "$PB_TMP/bad-$mode/$t.csv" ||
                        pb_fail "decode-thread $mode: $t.csv differs from the clean history's"
        done
done
pb_log "ok: both broken messages left out and counted, CSV identical to the clean history's"

# before the copied event: its copy with the good envelope is outside the
# range; the bad envelope is refused before any range is looked at
replay_csv "$BAD" "$PB_TMP/until" --until "$AT"
grep -q "undecodable 1," "$PB_TMP/until.log" || pb_fail "--until: $(cat "$PB_TMP/until.log")"
((RC == 1)) || pb_fail "--until: exit $RC"
replay_csv "$CLEAN" "$PB_TMP/until-clean" --until "$AT"
((RC == 0)) || pb_fail "clean --until: $(cat "$PB_TMP/until-clean.log")"
[[ $(ls "$PB_TMP/until-clean") == "$(ls "$PB_TMP/until")" && -s $PB_TMP/until/aid.dispatched.csv ]] ||
        pb_fail "--until: files $(ls "$PB_TMP/until") against $(ls "$PB_TMP/until-clean")"
for f in "$PB_TMP/until-clean"/*.csv; do
        cmp "$f" "$PB_TMP/until/${f##*/}" || pb_fail "--until: ${f##*/} differs"
done
out_clean=$(sed -n 's/.*outside the range \([0-9]*\).*/\1/p' "$PB_TMP/until-clean.log")
out_bad=$(sed -n 's/.*outside the range \([0-9]*\).*/\1/p' "$PB_TMP/until.log")
((out_bad == out_clean + 1)) || pb_fail "--until: outside the range $out_bad, clean $out_clean"
pb_log "ok: with --until the good envelope's copy is outside the range, the bad envelope undecodable"

# a type whose only event has a bad body gets no file, as a type without
# events
TYPES=aid.dispatched replay_csv "$ONLY" "$PB_TMP/only"
((RC == 1)) && grep -q "0 events written (read 1, .*undecodable 1," "$PB_TMP/only.log" ||
        pb_fail "only a bad body: exit $RC: $(cat "$PB_TMP/only.log")"
[[ ! -e $PB_TMP/only/aid.dispatched.csv ]] || pb_fail "only a bad body: a CSV was written: $(od -c "$PB_TMP/only/aid.dispatched.csv" | head -3)"
pb_log "ok: no file for a type whose only event was bad"

# JSON lines decode every body at once: both are undecodable there
RC=0
PARTNERBUS_TOPIC_PREFIX=$BAD "$PB_BIN" replay --brokers "$B" -t "$TYPES" >/dev/null 2>"$PB_TMP/jsonl.log" || RC=$?
((RC == 1)) && grep -q "undecodable 2," "$PB_TMP/jsonl.log" || pb_fail "jsonl: exit $RC: $(cat "$PB_TMP/jsonl.log")"
pb_log "ok: JSON lines count both"
