#!/usr/bin/env bash
# replay --reset-group on real Kafka: a relay group consumes batch A and B;
# --reset-group is refused while a relay of the group runs; after it
# stopped, the group is moved to the time between A and B (Kafka timestamp,
# i.e. publish time) and the relay re-delivers exactly batch B.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$PB_SOURCE_DIR/tests/relay/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_tmpdir
trap 'relay_cleanup ${RELAY_PID:-}; [[ -n ${PB_KEEP_TMP:-} ]] || rm -rf "$PB_TMP"' EXIT
pb_topic_prefix rg
G=${P}agency
H=$PB_TMP/h
python3 "$PB_SOURCE_DIR/tests/replay/history.py" gen "$H"
head -n 20 "$H/funds.granted.jsonl" >"$PB_TMP/a.jsonl"
tail -n +21 "$H/funds.granted.jsonl" >"$PB_TMP/b.jsonl"
na=$(wc -l <"$PB_TMP/a.jsonl") nb=$(wc -l <"$PB_TMP/b.jsonl")

"$PB_BIN" produce --brokers "$B" --type funds.granted --file "$PB_TMP/a.jsonl" 2>/dev/null || pb_fail "produce A"
sleep 1.2
T=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 1.2
"$PB_BIN" produce --brokers "$B" --type funds.granted --file "$PB_TMP/b.jsonl" 2>/dev/null || pb_fail "produce B"

# the agency's relay reads everything and commits
"$PB_BIN" relay --brokers "$B" --group "$G" -t funds.granted --sink "jsonl:$PB_TMP/first.jsonl" \
        --max-events $((na + nb)) 2>"$PB_TMP/relay1.log" || pb_fail "relay 1: $(tail -3 "$PB_TMP/relay1.log")"
[[ $(wc -l <"$PB_TMP/first.jsonl") -eq $((na + nb)) ]] || pb_fail "relay 1 delivered $(wc -l <"$PB_TMP/first.jsonl")"

# refused while a member is active
"$PB_BIN" relay --brokers "$B" --group "$G" -t funds.granted --sink "jsonl:$PB_TMP/idle.jsonl" \
        --ops-listen 127.0.0.1:0 2>"$PB_TMP/relay2.log" &
RELAY_PID=$!
pb_wait_for 30 grep -q "ops endpoint" "$PB_TMP/relay2.log"
active() { "$PB_BIN" replay --brokers "$B" --reset-group "$G" --to-time "$T" -t funds.granted --dry-run >/dev/null 2>"$PB_TMP/refused.log"; [[ $? -eq 1 ]] && grep -q "refusing" "$PB_TMP/refused.log"; }
pb_wait_for 60 active
pb_log "refused while active: $(cat "$PB_TMP/refused.log")"
kill -TERM $RELAY_PID
wait $RELAY_PID || true
RELAY_PID=

# dry run prints offsets and changes nothing; the real reset moves them
"$PB_BIN" replay --brokers "$B" --reset-group "$G" --to-time "$T" -t funds.granted --dry-run \
        >"$PB_TMP/plan.tsv" 2>"$PB_TMP/reset.log" || pb_fail "dry run: $(cat "$PB_TMP/reset.log")"
[[ $(wc -l <"$PB_TMP/plan.tsv") -ge 1 ]] || pb_fail "dry run printed no offsets"
reset_ok() { "$PB_BIN" replay --brokers "$B" --reset-group "$G" --to-time "$T" -t funds.granted >"$PB_TMP/new.tsv" 2>"$PB_TMP/reset.log"; }
# the group may take a moment to become Empty after the relay left
pb_wait_for 60 reset_ok
pb_log "$(cat "$PB_TMP/reset.log")"

# the relay re-delivers exactly batch B
"$PB_BIN" relay --brokers "$B" --group "$G" -t funds.granted --sink "jsonl:$PB_TMP/again.jsonl" \
        --max-events "$nb" 2>"$PB_TMP/relay3.log" || pb_fail "relay 3: $(tail -3 "$PB_TMP/relay3.log")"
python3 - "$PB_TMP/b.jsonl" "$PB_TMP/again.jsonl" <<'EOF' || pb_fail "re-delivery after the reset is not batch B"
import json, sys
want = {json.loads(l)["event_id"] for l in open(sys.argv[1])}
got = [json.loads(l)["event_id"] for l in open(sys.argv[2])]
assert set(got) == want and len(got) == len(want), (len(got), len(want))
EOF
# nothing more after B: a relay that runs a while gets nothing
timeout 8 "$PB_BIN" relay --brokers "$B" --group "$G" -t funds.granted --sink "jsonl:$PB_TMP/none.jsonl" \
        2>/dev/null || true
[[ ! -s $PB_TMP/none.jsonl ]] || pb_fail "relay delivered more than batch B"
pb_log "ok"
