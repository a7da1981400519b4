#!/usr/bin/env bash
# registry_e2e.sh: the Confluent wire format end to end, through the real
# Kafka broker of the fixture and a real Confluent-compatible schema registry
# (Apicurio Registry, started here by tests/registry/registry.sh and stopped
# by the trap, or by its watchdog if this script is killed).
#
# Every valid example is published with `partnerbus produce
# --schema-registry`, then:
#  - each message on the topic is 00 + 4-byte big-endian schema id + body, and
#    the id is the one the registry lists for the subject "<topic>-value";
#  - the schema the registry holds under that id is the local .avsc;
#  - `partnerbus consume --schema-registry` gives back every event, equal
#    to what went in;
#  - `partnerbus consume` without a registry reports every message as
#    undecodable and writes no event.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"

pb_require_cmd kcat python3 curl
B=$(pb_bootstrap)
PB=$(pb_bin)
pb_tmpdir
REGDIR=$PB_TMP/registry
REGISTRY_SH=$PB_SOURCE_DIR/tests/registry/registry.sh
# shellcheck disable=SC2064
trap "'$REGISTRY_SH' stop --dir '$REGDIR' >/dev/null 2>&1 || true; [[ -n \${PB_KEEP_TMP:-} ]] || rm -rf '$PB_TMP'" EXIT

t0=$SECONDS
URL=$("$REGISTRY_SH" start --dir "$REGDIR" --owner $$) ||
        pb_fail "could not start the schema registry (tests/registry/registry.sh start)"
pb_log "registry $URL (started in $((SECONDS - t0)) s), broker $B"

PREFIX=$(pb_topic_name regit)-
EX=$PB_SOURCE_DIR/schemas/examples/valid
total=0
for dir in "$EX"/*/; do
        type=$(basename "$dir")
        topic=$PREFIX$type
        # one example per line, compact
        python3 - "$dir" >"$PB_TMP/$type.in.jsonl" <<'EOF'
import json, os, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if f.endswith(".json"):
        with open(os.path.join(d, f), encoding="utf-8") as fh:
            print(json.dumps(json.load(fh), ensure_ascii=False, separators=(",", ":")))
EOF
        n=$(wc -l <"$PB_TMP/$type.in.jsonl")
        ((n > 0)) || pb_fail "no examples in $dir"
        total=$((total + n))

        "$PB" produce --type "$type" --brokers "$B" --schema-registry "$URL" \
                --topic-prefix "$PREFIX" <"$PB_TMP/$type.in.jsonl" 2>"$PB_TMP/$type.produce.err" ||
                { cat "$PB_TMP/$type.produce.err" >&2; pb_fail "produce $type failed"; }
        grep -q "published $n, rejected 0" "$PB_TMP/$type.produce.err" ||
                { cat "$PB_TMP/$type.produce.err" >&2; pb_fail "produce $type: expected 'published $n, rejected 0'"; }

        # the registry's view of the subject: id of the latest version
        latest=$(curl -sf --max-time 20 "$URL/subjects/$topic-value/versions/latest") ||
                pb_fail "registry has no subject $topic-value"
        id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$latest")
        # the schema under that id is the local schema
        curl -sf --max-time 20 "$URL/schemas/ids/$id" >"$PB_TMP/$type.schema.json" ||
                pb_fail "registry does not serve schema id $id"
        python3 - "$PB_TMP/$type.schema.json" "$PB_SOURCE_DIR/schemas/$type.avsc" <<'EOF' ||
import json, sys
got = json.loads(json.load(open(sys.argv[1]))["schema"])
want = json.load(open(sys.argv[2]))
sys.exit(0 if got == want else 1)
EOF
                pb_fail "schema id $id in the registry differs from schemas/$type.avsc"

        # the wire: 00 + big-endian id + body, on every message
        timeout 60 kcat -b "$B" -C -t "$topic" -o beginning -c "$n" -q -f '%R%s' >"$PB_TMP/$type.raw" ||
                pb_fail "kcat did not read $n messages from $topic"
        python3 - "$PB_TMP/$type.raw" "$n" "$id" <<'EOF' || pb_fail "$topic: messages are not in the Confluent wire format with id $id"
import struct, sys
data = open(sys.argv[1], "rb").read()
n, want_id = int(sys.argv[2]), int(sys.argv[3])
i = count = 0
while i < len(data):
    (ln,) = struct.unpack(">i", data[i:i + 4]); i += 4
    v = data[i:i + ln]; i += ln
    if len(v) < 6 or v[0] != 0:
        sys.exit("message %d: magic byte %r, not 00" % (count, v[:1]))
    (sid,) = struct.unpack(">I", v[1:5])
    if sid != want_id:
        sys.exit("message %d: schema id %d, expected %d" % (count, sid, want_id))
    count += 1
if count != n:
    sys.exit("read %d messages, expected %d" % (count, n))
EOF

        # consume back with the registry: same events
        timeout 120 "$PB" consume --topics "$type" --topic-prefix "$PREFIX" --brokers "$B" \
                --schema-registry "$URL" --from-beginning --max "$n" \
                >"$PB_TMP/$type.out.jsonl" 2>"$PB_TMP/$type.consume.err" ||
                { cat "$PB_TMP/$type.consume.err" >&2; pb_fail "consume $type failed"; }
        python3 - "$PB_TMP/$type.in.jsonl" "$PB_TMP/$type.out.jsonl" <<'EOF' || pb_fail "$type: events consumed back differ from those produced"
import json, sys
def load(p):
    with open(p, encoding="utf-8") as fh:
        return sorted((json.loads(l) for l in fh if l.strip()), key=lambda e: e["event_id"])
a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    for x, y in zip(a, b):
        if x != y:
            print("in: ", json.dumps(x, ensure_ascii=False), file=sys.stderr)
            print("out:", json.dumps(y, ensure_ascii=False), file=sys.stderr)
            break
    print("in %d events, out %d" % (len(a), len(b)), file=sys.stderr)
    sys.exit(1)
EOF

        # without the registry the Confluent framing cannot be decoded:
        # every message reported, no event written, consuming goes on
        timeout 120 "$PB" consume --topics "$type" --topic-prefix "$PREFIX" --brokers "$B" \
                --from-beginning >"$PB_TMP/$type.noreg.out" 2>"$PB_TMP/$type.noreg.err" || true
        [[ ! -s $PB_TMP/$type.noreg.out ]] || pb_fail "$type: consume without a registry wrote events"
        bad=$(grep -c "offset=" "$PB_TMP/$type.noreg.err" || true)
        [[ $bad -eq $n ]] ||
                { cat "$PB_TMP/$type.noreg.err" >&2; pb_fail "$type: consume without a registry reported $bad of $n messages"; }
        pb_log "$type: $n events via schema id $id, consumed back equal"
done
((total >= 4)) || pb_fail "only $total examples found"
pb_log "ok: $total events in the Confluent wire format through Kafka and Apicurio Registry"
