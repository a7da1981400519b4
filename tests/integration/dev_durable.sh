#!/usr/bin/env bash
# partnerbus dev keeps every event it acknowledged across a restart: 200,000
# events published to dev's Kafka, the stack stopped (Ctrl-C) and started
# again on the same directory, then replayed from Kafka: all 200,000 back,
# none twice. The archive agrees with Kafka: it holds the same 200,000, once
# each, after the restart. (The librdkafka mock kept 35,032 of 80,000.)
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
dev_setup
N=${PB_DEV_DURABLE_EVENTS:-200000}
TOPICS=aid.dispatched,aid.delivered,funds.granted,partnership.founded
t0=$SECONDS

# check FILE WHAT: FILE's JSON lines are exactly the N generated events, once each
check() {
        python3 - "$1" "$N" "$2" <<'PY'
import json, sys, uuid
path, n, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen, twice, foreign = set(), 0, 0
with open(path, encoding="utf-8") as fp:
    for line in fp:
        eid = json.loads(line)["event_id"]
        u = uuid.UUID(eid).int
        if u >> 64 != 5 or (u & ((1 << 64) - 1)) >= n:
            foreign += 1
        elif eid in seen:
            twice += 1
        else:
            seen.add(eid)
print("%s: %d of %d events, %d twice, %d others" % (what, len(seen), n, twice, foreign))
sys.exit(0 if len(seen) == n and twice == 0 and foreign == 0 else 1)
PY
}

dev_start out.txt err.txt --tail=false
python3 "$PB_SOURCE_DIR/tests/dev/gen_grants.py" "$N" 5 >grants.jsonl
t1=$SECONDS
"$PB_BIN" produce -b "$B" -t funds.granted -f grants.jsonl 2>produce.err ||
        { tail -n 5 produce.err >&2; pb_fail "produce failed"; }
grep -q "published $N, rejected 0" produce.err || pb_fail "produce: $(tail -n 1 produce.err)"
pb_log "published $N to dev's Kafka in $((SECONDS - t1)) s"

# the archive relay catches up, then the stack stops
archived() { "$PB_BIN" replay --from-archive "$DEVDIR/archive" --topics "$TOPICS" --format jsonl 2>/dev/null | wc -l; }
archive_full() { (($(archived) >= N)); }
pb_wait_for 300 archive_full
t1=$SECONDS
dev_stop
pb_log "stopped in $((SECONDS - t1)) s"

t1=$SECONDS
dev_start out2.txt err2.txt --tail=false
pb_log "restarted in $((SECONDS - t1)) s"
t1=$SECONDS
"$PB_BIN" replay --brokers "$B" --topics "$TOPICS" --format jsonl >kafka.jsonl 2>replay.err ||
        { cat replay.err >&2; pb_fail "replay from Kafka failed"; }
pb_log "replayed from Kafka in $((SECONDS - t1)) s"
check kafka.jsonl "Kafka after the restart" || pb_fail "Kafka lost or doubled events across the restart"
"$PB_BIN" replay --from-archive "$DEVDIR/archive" --topics "$TOPICS" --format jsonl >archive.jsonl 2>replay2.err ||
        { cat replay2.err >&2; pb_fail "replay from the archive failed"; }
check archive.jsonl "archive after the restart" || pb_fail "the archive does not agree with Kafka"
dev_stop
pb_log "total $((SECONDS - t0)) s"
echo "dev_durable: ok"
