#!/usr/bin/env bash
# python_consumer.sh: an agency's own Kafka client reads what partnerbus
# publishes. `partnerbus produce` publishes every valid example to the real
# broker, in both framings; tests/python/read_topic.py (confluent-kafka +
# fastavro, an Avro implementation independent of partnerbus's codec) reads
# them back; every event must come out as the same JSON text, with its key
# and CloudEvents headers (tests/python/compare_events.py).
#
#   1. fastavro's CRC-64-AVRO agrees with the Avro specification
#   2. single-object encoding: C3 01 + fingerprint, schemas from schemas/
#   3. Confluent wire format: 00 + id, schemas from a registry
#      (tests/python/mini_registry.py, Confluent's REST API, on loopback)
#   4. an undecodable message is reported and reading goes on
#
# The venv (confluent-kafka, fastavro) lives in ~/.cache/partnerbus, see
# pb_python_venv in tests/kafka/lib.sh.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/consumer_common.bash"

consumer_setup kcat python3 od
PY=$(pb_python_venv)
consumer_tmpdir
RUN=$(pb_topic_name pyc)

# --- 1. fingerprints
"$PY" "$PYDIR/check_fingerprint.py" "$SCHEMAS" >"$PB_TMP/fp.log" ||
        { cat "$PB_TMP/fp.log" >&2; pb_fail "fastavro's CRC-64-AVRO disagrees with the specification"; }

# --- the examples, one compact JSON line per event, per type
consumer_examples
pb_log "broker $B; types: ${types[*]}"

# first_bytes TOPIC N: hex of the first N bytes of the first message
first_bytes() {
        timeout 30 kcat -b "$B" -C -t "$1" -o beginning -c 1 -q -f '%s' | head -c "$2" | od -An -v -tx1 | tr -d " \n"
}

# roundtrip LABEL PREFIX MAGIC [produce/read options]: publish every type's
# examples with PREFIX, read them back with read_topic.py, compare
roundtrip() {
        local label=$1 prefix=$2 magic=$3
        shift 3
        local t topic n
        for t in "${types[@]}"; do
                topic=$prefix$t
                n=$(wc -l <"$PB_TMP/$t.jsonl")
                "$BIN" produce --brokers "$B" --type "$t" --schemas "$SCHEMAS" \
                        --topic-prefix "$prefix" --file "$PB_TMP/$t.jsonl" "$@" \
                        2>"$PB_TMP/produce.err" ||
                        { cat "$PB_TMP/produce.err" >&2; pb_fail "$label: partnerbus produce --type $t failed"; }
                local head
                head=$(first_bytes "$topic" $((${#magic} / 2)))
                [[ $head == "$magic" ]] || pb_fail "$label: $topic starts with $head, expected $magic"
                timeout 120 "$PY" "$PYDIR/read_topic.py" --brokers "$B" --topics "$topic" \
                        --schemas "$SCHEMAS" --meta "$@" \
                        >"$PB_TMP/$t.got" 2>"$PB_TMP/read.err" ||
                        { cat "$PB_TMP/read.err" >&2; pb_fail "$label: read_topic.py failed on $topic"; }
                "$PY" "$PYDIR/compare_events.py" --schema "$SCHEMAS/$t.avsc" --topic "$topic" \
                        --expected "$PB_TMP/$t.jsonl" --got "$PB_TMP/$t.got" >"$PB_TMP/cmp.log" ||
                        { cat "$PB_TMP/cmp.log" >&2; pb_fail "$label: $topic read back differs"; }
                pb_log "$label: $topic: $n event(s) equal"
        done
}

# --- 2. single-object encoding (C3 01 + 8-byte fingerprint)
roundtrip "single-object" "$RUN-soe." c301

# --- 3. Confluent wire format through a registry speaking Confluent's API
consumer_start_registry "$PY"
roundtrip "confluent" "$RUN-cf." 00 --schema-registry "$REG"
# the producer registered one schema per type, under <topic>-value
subjects=$("$PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "$REG/subjects") ||
        pb_fail "registry at $REG does not answer"
for t in "${types[@]}"; do
        grep -q "\"$RUN-cf.$t-value\"" <<<"$subjects" || pb_fail "subject $RUN-cf.$t-value not registered (have $subjects)"
done

# --- 4. poison: garbage and an unknown fingerprint between good events
t=${types[0]}
topic=$RUN-soe.$t
k=poison
printf 'not avro at all\n' | pb_kcat_produce "$B" "$topic" -k "$k"
printf '\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08body\n' | pb_kcat_produce "$B" "$topic" -k "$k"
set +e
timeout 120 "$PY" "$PYDIR/read_topic.py" --brokers "$B" --topics "$topic" --schemas "$SCHEMAS" \
        --meta >"$PB_TMP/poison.got" 2>"$PB_TMP/poison.err"
rc=$?
set -e
[[ $rc -eq 1 ]] || { cat "$PB_TMP/poison.err" >&2; pb_fail "read_topic.py exit status $rc with poison messages, expected 1"; }
grep -q "$topic \[[0-9]*\] offset [0-9]*: unknown framing (first byte 0x6e)" "$PB_TMP/poison.err" ||
        { cat "$PB_TMP/poison.err" >&2; pb_fail "garbage message not reported with topic, partition, offset"; }
grep -q "unknown schema fingerprint 0102030405060708" "$PB_TMP/poison.err" ||
        { cat "$PB_TMP/poison.err" >&2; pb_fail "unknown fingerprint not reported"; }
"$PY" "$PYDIR/compare_events.py" --schema "$SCHEMAS/$t.avsc" --topic "$topic" \
        --expected "$PB_TMP/$t.jsonl" --got "$PB_TMP/poison.got" >"$PB_TMP/cmp.log" ||
        { cat "$PB_TMP/cmp.log" >&2; pb_fail "events around the poison messages not all read"; }

pb_log "ok: ${#types[@]} types in both framings; poison reported, reading went on"
