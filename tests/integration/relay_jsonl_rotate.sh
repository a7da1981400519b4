#!/usr/bin/env bash
# The jsonl sink (1 MiB stdio buffer, the event's JSON written as it is):
# a relay of 3,000 events over 3 partitions into a file rotated at 64 KiB
# writes every event exactly once, line by line, each file within the size
# limit, and the lines are byte for byte the JSON lines `replay` writes for
# the same topic (as a multiset: the relay's order is per partition).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_tmpdir
P=$(pb_topic_name jr)-
N=3000
python3 "$PB_SOURCE_DIR/tests/relay/gen_events.py" "$N" 50 --seed jsonl-rotate >"$PB_TMP/ev.jsonl"
"$PB_BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" --file "$PB_TMP/ev.jsonl" \
        2>"$PB_TMP/produce.log" || pb_fail "produce: $(tail -3 "$PB_TMP/produce.log")"
mkdir "$PB_TMP/out"
"$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t aid.dispatched \
        --sink "jsonl:$PB_TMP/out/ev.jsonl" --jsonl-max-size 64KiB --jsonl-keep 1000 --max-events "$N" \
        2>"$PB_TMP/relay.log" || pb_fail "relay: $(tail -3 "$PB_TMP/relay.log")"
"$PB_BIN" replay --brokers "$B" --topic-prefix "$P" -t aid.dispatched --progress never \
        -o "$PB_TMP/replay.jsonl" 2>"$PB_TMP/replay.log" || pb_fail "replay: $(tail -3 "$PB_TMP/replay.log")"
python3 - "$PB_TMP/out" "$PB_TMP/replay.jsonl" "$N" <<'PY' || pb_fail "jsonl sink output wrong"
import os, sys
d, ref, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(os.listdir(d))
assert len(files) > 5, "expected several rotated files, got %r" % files
lines = []
for f in files:
    data = open(os.path.join(d, f), "rb").read()
    assert len(data) <= 64 * 1024, "%s has %d bytes" % (f, len(data))
    assert data.endswith(b"\n"), "%s does not end with a newline" % f
    lines += data.split(b"\n")[:-1]
want = open(ref, "rb").read().split(b"\n")[:-1]
assert len(want) == n, "replay wrote %d lines" % len(want)
assert len(lines) == n, "relay wrote %d lines" % len(lines)
assert sorted(lines) == sorted(want), "relay lines differ from replay's"
print("files=%d lines=%d" % (len(files), len(lines)))
PY
pb_log "ok: $N events in $(ls "$PB_TMP/out" | wc -l) files, identical to replay's lines"
