#!/usr/bin/env bash
# java_consumer.sh: the Java example of docs/consumers.md (Apache Avro's
# BinaryMessageDecoder, generic records) reads what `partnerbus produce`
# publishes to the real broker, in both framings. tests/java/check.sh checks
# the doc's code is tests/java/src/main/java/ReadTopic.java and compiles it
# with Maven; every example must come out with its key, event id and the
# same field values (decimals, dates and instants compared as values, since
# Avro's GenericRecord.toString prints them in Java's own notation).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/consumer_common.bash"

consumer_setup java mvn python3
OUT=${PB_BINARY_DIR:-${TMPDIR:-/tmp}}/java-example
consumer_tmpdir
RUN=$(pb_topic_name java)

CP=$("$PB_SOURCE_DIR/tests/java/check.sh" "$OUT") || pb_fail "the Java example does not build (or differs from the doc)"

# compare GOT.tsv TYPE...: GOT lines are "key<TAB>ce_id<TAB>record"; the
# expected events are $PB_TMP/TYPE.jsonl
compare() {
        python3 - "$SCHEMAS" "$PB_TMP" "$@" <<'EOF'
import datetime, decimal, json, sys
schemas, tmp, got_path, types = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
want, keyfield = {}, {}
for t in types:
    kf = json.load(open(f"{schemas}/{t}.avsc", encoding="utf-8"))["partnerbus.key"]
    for line in open(f"{tmp}/{t}.jsonl", encoding="utf-8"):
        ev = json.loads(line)
        want[ev["event_id"]] = ev
        keyfield[ev["event_id"]] = kf
def norm(v):
    # both sides to comparable values: instants as datetimes, numbers exact
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str):
        try:
            return datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            pass
        try:
            return decimal.Decimal(v)
        except decimal.InvalidOperation:
            return v
    if isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool):
        return decimal.Decimal(v)
    return v
problems, seen = [], set()
for n, line in enumerate(open(got_path, encoding="utf-8"), 1):
    key, ceid, rec = line.rstrip("\n").split("\t", 2)
    ev = json.loads(rec, parse_float=decimal.Decimal)
    eid = ev.get("event_id")
    if eid not in want:
        problems.append(f"line {n}: unexpected event {eid}")
        continue
    if eid in seen:
        problems.append(f"line {n}: {eid} twice")
    seen.add(eid)
    if ceid != eid:
        problems.append(f"{eid}: ce_id {ceid}")
    if key != want[eid][keyfield[eid]]:
        problems.append(f"{eid}: key {key!r}, expected {want[eid][keyfield[eid]]!r}")
    if norm(ev) != norm(want[eid]):
        problems.append(f"{eid}: differs\n  want {want[eid]}\n  got  {rec}")
for eid in set(want) - seen:
    problems.append(f"{eid}: not read")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
}

consumer_examples

# roundtrip LABEL PREFIX REGISTRY_URL [produce options]: publish every type
# with PREFIX, then one ReadTopic run reads all the topics
roundtrip() {
        local label=$1 prefix=$2 reg=$3 t total=0 topics=""
        shift 3
        for t in "${types[@]}"; do
                total=$((total + $(wc -l <"$PB_TMP/$t.jsonl")))
                topics+="${topics:+,}$prefix$t"
                "$BIN" produce --brokers "$B" --type "$t" --schemas "$SCHEMAS" \
                        --topic-prefix "$prefix" --file "$PB_TMP/$t.jsonl" "$@" 2>"$PB_TMP/produce.err" ||
                        { cat "$PB_TMP/produce.err" >&2; pb_fail "$label: partnerbus produce --type $t failed"; }
        done
        GROUP=${prefix}group timeout 180 java -cp "$CP" ReadTopic "$B" "$topics" "$SCHEMAS" "$reg" "$total" \
                >"$PB_TMP/got.tsv" 2>"$PB_TMP/java.err" ||
                { cat "$PB_TMP/java.err" >&2; pb_fail "$label: ReadTopic failed or timed out on $topics"; }
        [[ ! -s $PB_TMP/java.err ]] || { cat "$PB_TMP/java.err" >&2; pb_fail "$label: ReadTopic reported errors"; }
        compare "$PB_TMP/got.tsv" "${types[@]}" >"$PB_TMP/cmp.log" ||
                { cat "$PB_TMP/cmp.log" >&2; pb_fail "$label: events read back differ"; }
        pb_log "$label: $total event(s) of ${#types[@]} types equal"
}

roundtrip "single-object" "$RUN-soe." ""

PY=$(pb_python_venv)
consumer_start_registry "$PY"
roundtrip "confluent" "$RUN-cf." "$REG" --schema-registry "$REG"

pb_log "ok: the Java example reads ${#types[@]} types in both framings"
