# tests/relay/lib.sh: helpers shared by tests/integration/relay_*.sh
# (source after tests/kafka/lib.sh).

RELAY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

# relay_compact FILE: a pretty-printed example as one JSON line
relay_compact() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1], encoding="utf-8")), ensure_ascii=False, separators=(",", ":")))' "$1"; }

# relay_setup_webhook NAME [CMD...]: the common start of a webhook relay
# test: fail unless curl, python3 and every CMD are on PATH; set B, P (a
# topic prefix unique to the run, from NAME) and PB_TMP; export a shared
# webhook secret (RECEIVER_SECRET = PARTNERBUS_WEBHOOK_SECRET); start
# receiver "a" (relay_receiver_start). The test sets its EXIT trap after.
relay_setup_webhook() {
        local name=$1
        shift
        pb_require_cmd curl python3 "$@"
        B=$(pb_bootstrap)
        P=$(pb_topic_name "$name")-
        pb_tmpdir
        export RECEIVER_SECRET=k-$RANDOM
        export PARTNERBUS_WEBHOOK_SECRET=$RECEIVER_SECRET
        relay_receiver_start a
}

# relay_publish_examples BOOTSTRAP PREFIX: every valid example, by type
relay_publish_examples() {
        local b=$1 p=$2 d t
        for d in "$PB_SOURCE_DIR"/schemas/examples/valid/*/; do
                t=$(basename "$d")
                for f in "$d"*.json; do relay_compact "$f"; done |
                        "$PB_BIN" produce --brokers "$b" --type "$t" --topic-prefix "$p" >/dev/null ||
                        pb_fail "could not publish the $t examples"
        done
}

# relay_publish_gen BOOTSTRAP PREFIX N K SEED: N generated aid.dispatched events
relay_publish_gen() {
        python3 "$RELAY_DIR/gen_events.py" "$3" "$4" --seed "$5" >"$PB_TMP/gen-$5.jsonl"
        "$PB_BIN" produce --brokers "$1" --type aid.dispatched --topic-prefix "$2" \
                <"$PB_TMP/gen-$5.jsonl" >/dev/null || pb_fail "could not publish generated events"
}

# relay_receiver_start NAME: starts tests/relay/receiver.py, sets RECV_URL_<NAME>
# (as RECV_URL), RECV_OUT; secret from $RECEIVER_SECRET
relay_receiver_start() {
        local name=$1
        RECV_OUT=$PB_TMP/recv-$name.jsonl
        : >"$RECV_OUT"
        python3 "$RELAY_DIR/receiver.py" --port-file "$PB_TMP/recv-$name.port" --out "$RECV_OUT" &
        RECV_PID=$!
        pb_wait_for 20 test -s "$PB_TMP/recv-$name.port"
        RECV_PORT=$(cat "$PB_TMP/recv-$name.port")
        RECV_URL=http://127.0.0.1:$RECV_PORT
}
relay_recv_control() { curl -sf -X POST --data "$1" "$RECV_URL/_control" >/dev/null || pb_fail "receiver control failed"; }
relay_recv_stats() { curl -sf "$RECV_URL/_stats"; }
relay_recv_count() { wc -l <"$RECV_OUT"; }
# distinct event ids received
relay_recv_distinct() { python3 -c 'import json,sys; print(len({json.loads(l)["event"]["event_id"] for l in open(sys.argv[1])}))' "$RECV_OUT"; }

# relay_wait_ops LOGFILE: prints the ops port the relay logged
relay_ops_port() { sed -n 's/.*msg="ops endpoint" port=\([0-9]*\).*/\1/p' "$1" | head -n 1; }

# relay_metric PORT NAME_WITH_LABELS: value of a series (0 if absent)
relay_metric() {
        curl -sf "http://127.0.0.1:$1/metrics" | awk -v s="$2" 'index($0, s" ") == 1 { print $2; f=1 } END { if (!f) print 0 }'
}

relay_cleanup() {
        local p
        for p in "$@"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
}
relay_has_ops() { [[ -n $(relay_ops_port "$1") ]]; }
relay_recv_at_least() { [[ $(relay_recv_count) -ge $1 ]]; }
# relay_wait_recv SECS N OPS LOG [distinct]: wait until the receiver holds N
# events (N distinct event ids with "distinct");
# on timeout the test fails with what explains a stall: the receiver's
# counters, the relay's lag, paused partitions and retries from its ops
# port OPS, and the end of its log LOG
relay_wait_recv() {
        local secs=$1 n=$2 ops=$3 log=$4 deadline=$((SECONDS + $1)) have=relay_recv_at_least
        [[ ${5:-} == distinct ]] && have=relay_recv_distinct_at_least
        until $have "$n"; do
                if ((SECONDS >= deadline)); then
                        echo "receiver: $(relay_recv_count) events ($(relay_recv_distinct) distinct), $(relay_recv_stats)" >&2
                        curl -sf "http://127.0.0.1:$ops/metrics" |
                                grep -E '^partnerbus_relay_(consumer_lag|paused|retries|deliveries)' >&2 || true
                        tail -n 20 "$log" >&2
                        pb_fail "timed out after ${secs}s waiting for $n events at the receiver"
                fi
                sleep 0.2
        done
}
relay_recv_distinct_at_least() { [[ $(relay_recv_distinct) -ge $1 ]]; }
# relay_rm_tmp: remove $PB_TMP unless PB_KEEP_TMP is set (for EXIT traps)
relay_rm_tmp() { [[ -n ${PB_KEEP_TMP:-} ]] || rm -rf "$PB_TMP"; }
# events a relay handled, from its "relay stopped handled=N" log line
relay_metric_from_log() { sed -n 's/.*msg="relay stopped" handled=\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
