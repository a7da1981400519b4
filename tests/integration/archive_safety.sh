#!/usr/bin/env bash
# archive_safety.sh: the archive sink never writes outside its directory and
# never deletes what is not its own.
#  - a topic name that climbs out ("../" as topic prefix: the embedded
#    broker accepts such names, real Kafka does not) is refused: nothing is
#    written outside the archive, the events go to the dead-letter topic;
#  - start-up recovery leaves alone files that do not follow its naming
#    scheme (a text README.avro, a foreign container file) and moves one of
#    its own whose header cannot be read aside to NAME.damaged.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
pb_require_cmd python3
pb_tmpdir
bin=$(pb_bin)
"$bin" broker --bootstrap-file "$PB_TMP/bootstrap" >/dev/null 2>"$PB_TMP/broker.err" &
broker_pid=$!
# (relay_cleanup waits for every child: stop the broker first)
trap 'kill -TERM $broker_pid 2>/dev/null || true; relay_cleanup ${RELAY_PID:-}; relay_rm_tmp' EXIT
pb_wait_for 20 test -s "$PB_TMP/bootstrap"
B=$(head -n 1 "$PB_TMP/bootstrap")

# --- 1. a topic prefix of "../": refused, nothing outside the archive
mkdir -p "$PB_TMP/a/archive"
A=$PB_TMP/a/archive
relay_publish_examples "$B" "../"
"$PB_BIN" relay --brokers "$B" --group g1 --topic-prefix "../" -t aid.dispatched \
        --sink "archive:$A" --commit-interval 200ms 2>"$PB_TMP/relay1.log" &
RELAY_PID=$!
refused() { grep -q 'dlq=.*not a legal Kafka topic name' "$PB_TMP/relay1.log"; }
pb_wait_for 60 refused || { cat "$PB_TMP/relay1.log" >&2; pb_fail "the events were not dead-lettered with a reason"; }
kill -TERM $RELAY_PID 2>/dev/null; wait $RELAY_PID 2>/dev/null || true; RELAY_PID=
outside=$(find "$PB_TMP/a" -mindepth 1 -not -path "$A" -not -path "$A/*" | head -n 5)
[[ -z $outside ]] || pb_fail "the archive wrote outside its directory: $outside"
[[ -z $(find "$A" -name '*.avro') ]] || pb_fail "files for a topic named ../aid.dispatched: $(find "$A")"
pb_log "topic ../aid.dispatched: refused, nothing outside $A"

# --- 2. recovery touches only its own files
A2=$PB_TMP/archive2
mkdir -p "$A2/aid.dispatched"
printf 'not an archive, a text\n' >"$A2/aid.dispatched/README.avro"
# a valid container file of someone else's (fastavro), with a long metadata key
PY=$(pb_python_venv)
"$PY" - "$A2/aid.dispatched/foreign.avro" <<'PY'
import sys, fastavro
schema = {"type": "record", "name": "x", "fields": [{"name": "a", "type": "int"}]}
with open(sys.argv[1], "wb") as f:
    fastavro.writer(f, schema, [{"a": 1}], metadata={"k" * 80: "v"})
PY
# one of ours (by name) whose header was cut while it was created
printf 'Obj\001' >"$A2/aid.dispatched/aid.dispatched-20240101T000000Z-000000.avro"
before=$(cd "$A2" && sha256sum aid.dispatched/README.avro aid.dispatched/foreign.avro)
relay_publish_examples "$B" "ok."
"$PB_BIN" relay --brokers "$B" --group g2 --topic-prefix "ok." -t aid.dispatched \
        --sink "archive:$A2" --commit-interval 200ms 2>"$PB_TMP/relay2.log" &
RELAY_PID=$!
ours() { find "$A2" -name 'ok.aid.dispatched-*.avro' | grep -q .; }
pb_wait_for 60 ours
kill -TERM $RELAY_PID; wait $RELAY_PID || pb_fail "relay exit status"; RELAY_PID=
after=$(cd "$A2" && sha256sum aid.dispatched/README.avro aid.dispatched/foreign.avro) ||
        pb_fail "recovery removed a file that is not its own: $(ls -la "$A2/aid.dispatched")"
[[ $before == "$after" ]] || pb_fail "recovery changed a file that is not its own"
[[ -f $A2/aid.dispatched/aid.dispatched-20240101T000000Z-000000.avro.damaged ]] ||
        { ls -la "$A2/aid.dispatched" >&2; cat "$PB_TMP/relay2.log" >&2; pb_fail "the damaged file was not moved aside"; }
grep -q 'moved aside' "$PB_TMP/relay2.log" || pb_fail "the relay did not log the move"
pb_log "ok: foreign files untouched, a damaged own file moved aside"
