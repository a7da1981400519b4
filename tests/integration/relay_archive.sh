#!/usr/bin/env bash
# relay_archive.sh: `partnerbus relay --sink archive:DIR` writes Avro
# container files per topic that read back with avro-c (tests/relay/
# avro_read.c: re-encoded records equal the Kafka bodies byte for byte) and
# with fastavro (records equal to what was published, logical types
# intact); a relay killed with SIGKILL in the middle of writing is
# restarted: the partial last block is cut, every event is in the archive
# (duplicates only from the uncommitted interval), every file reads fully.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
pb_require_cmd python3 pkg-config cc
B=$(pb_bootstrap)
P=$(pb_topic_name rarch)-
pb_tmpdir
PY=$(pb_python_venv)
trap 'relay_cleanup ${RELAY_PID:-}; relay_rm_tmp' EXIT
cc -O1 -o "$PB_TMP/avro_read" "$RELAY_DIR/avro_read.c" $(pkg-config --cflags --libs avro-c) ||
        pb_fail "cannot build the avro-c reader"
TYPES=aid.dispatched,aid.delivered,funds.granted,partnership.founded
N=60000
relay_publish_examples "$B" "$P"
relay_publish_gen "$B" "$P" $N 50 arch
TOTAL=$((N + 13))
"$PB_BIN" consume --brokers "$B" --topic-prefix "$P" -t $TYPES --from-beginning >"$PB_TMP/published.jsonl"
[[ $(wc -l <"$PB_TMP/published.jsonl") -eq $TOTAL ]] || pb_fail "published count"
"$PY" "$RELAY_DIR/kafka_bodies.py" "$B" $TOTAL ${P}aid.dispatched ${P}aid.delivered ${P}funds.granted \
        ${P}partnership.founded >"$PB_TMP/bodies.txt" || pb_fail "cannot read the Kafka bodies"

A=$PB_TMP/archive
run() {
        "$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t $TYPES \
                --sink "archive:$A" --archive-roll-size 1MiB --archive-block-size 64KiB \
                --batch-size 500 --commit-interval 300ms "$@" 2>>"$PB_TMP/relay.log" &
        RELAY_PID=$!
}
archived() { [[ -d $A ]] && find "$A" -name '*.avro' -size +200k | grep -q .; }
run
pb_wait_for 60 archived
kill -KILL $RELAY_PID; wait $RELAY_PID 2>/dev/null || true; RELAY_PID=
pb_log "killed mid-write: $(find "$A" -name '*.avro' | wc -l) files so far"
run --max-events 1000000000
# the restarted relay runs until it has seen everything that is left
settled() { "$PB_TMP/avro_read" $(find "$A" -name '*.avro' | sort) >/dev/null 2>&1 && \
        [[ $("$PB_TMP/avro_read" $(find "$A" -name '*.avro' | sort) | cut -d' ' -f1 | sort -u | wc -l) -ge $TOTAL ]]; }
pb_wait_for 180 settled
kill -TERM $RELAY_PID; wait $RELAY_PID || pb_fail "relay exit status"; RELAY_PID=
grep -q 'cut partial last block\|removed file with incomplete header' "$PB_TMP/relay.log" &&
        pb_log "recovery: $(grep -c 'cut partial last block' "$PB_TMP/relay.log") partial block(s) cut" ||
        pb_log "recovery: the kill landed between blocks (no partial block)"
"$PB_TMP/avro_read" $(find "$A" -name '*.avro' | sort) >"$PB_TMP/avroc.txt" || pb_fail "avro-c cannot read every file"
"$PY" "$RELAY_DIR/archive_check.py" "$A" "$PB_TMP/published.jsonl" "$PB_TMP/bodies.txt" "$PB_TMP/avroc.txt" ||
        pb_fail "archive differs from what was published"
ls "$A"/*/ | head -n 3 >&2
pb_log "ok: archive read back by avro-c and fastavro equals the published events, across a SIGKILL"
