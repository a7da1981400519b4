# tests/relay/fleet_lib.sh: functions shared by the relay fleet tests (source after
# tests/kafka/lib.sh and tests/relay/lib.sh; needs B, P and PB_TMP).
# Records go straight into the compacted topics with kcat, as the
# management API would write them (docs/admin.md, ADMIN contract).

FLEET_PY=$RELAY_DIR/fleet_records.py

# fleet_topics: SUBS, ORGS, STATUS unique to this run
fleet_topics() {
        SUBS=${P}admin.subscriptions
        ORGS=${P}admin.orgs
        STATUS=${P}admin.subscription-status
}

# fleet_record TOPIC KEY JSON: writes one record, acknowledged
fleet_record() { printf '%s\t%s\n' "$2" "$3" | pb_kcat_produce "$B" "$1" -K $'\t'; }
# fleet_tombstone TOPIC KEY: deletes a record (null value)
fleet_tombstone() { printf '%s\t\n' "$2" | pb_kcat_produce "$B" "$1" -K $'\t' -Z; }
fleet_sub() { python3 "$FLEET_PY" sub "$@"; }
fleet_org() { python3 "$FLEET_PY" org "$@"; }
fleet_uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }

# fleet_start NAME [ARGS...]: starts a fleet process (log $PB_TMP/fleet-NAME.log),
# sets FLEET_PID; waits until it reads the records
fleet_start() {
        local name=$1
        shift
        "$PB_BIN" fleet --brokers "$B" --topic-prefix "$P" \
                --subscriptions-topic "$SUBS" --orgs-topic "$ORGS" --status-topic "$STATUS" \
                --member "$name" --retry-max-backoff 2s "$@" 2>"$PB_TMP/fleet-$name.log" &
        FLEET_PID=$!
        pb_wait_line $FLEET_PID "$PB_TMP/fleet-$name.log" 'msg="fleet started"' \
                "fleet $name exited" "fleet $name did not start"
}

# fleet_state ID: the last status state written for subscription ID (NONE)
fleet_state() {
        timeout 30 "$KCAT" -b "$B" -C -t "$STATUS" -o beginning -e -q -f '%k\t%s\n' 2>/dev/null |
                python3 "$FLEET_PY" status "$1"
}
# fleet_status ID: the last status record of subscription ID (null)
fleet_status() {
        timeout 30 "$KCAT" -b "$B" -C -t "$STATUS" -o beginning -e -q -f '%k\t%s\n' 2>/dev/null |
                python3 "$FLEET_PY" status "$1" json
}
fleet_state_is() { [[ $(fleet_state "$1") == "$2" ]]; }

# fleet_publish N SEED: publishes `fleet_records.py events N SEED`
fleet_publish() {
        python3 "$FLEET_PY" events "$1" "$2" >"$PB_TMP/ev-$2.jsonl"
        "$PB_BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" \
                <"$PB_TMP/ev-$2.jsonl" >/dev/null || pb_fail "could not publish events $2"
}

# fleet_count FILTER: receipts in $RECV_OUT whose event matches the Python
# expression FILTER over e (event) and h (headers)
fleet_count() {
        python3 - "$RECV_OUT" "$1" <<'PY'
import json, sys
n = 0
for l in open(sys.argv[1], encoding="utf-8"):
    g = json.loads(l)
    e, h = g["event"], g["headers"]
    if eval(sys.argv[2]):
        n += 1
print(n)
PY
}
fleet_count_is() { [[ $(fleet_count "$1") == "$2" ]]; }
