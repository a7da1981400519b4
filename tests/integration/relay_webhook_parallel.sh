#!/usr/bin/env bash
# relay_webhook_parallel.sh: the webhook sink keeps many requests in flight
# and the receiver still sees every key in order:
#  (1) a receiver that answers each request after a random 0-30 ms (fixed
#      seed, printed), so answers come back out of order, gets all events
#      exactly once, in order per key, with several requests at once; after
#      SIGTERM a relay of the same group delivers nothing again (the commit
#      covered exactly what was confirmed);
#  (2) one event is answered 500 three times: it is retried, the later
#      events of its key wait for it (order kept), the other keys are
#      delivered, nothing goes to the dead-letter topic.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
relay_setup_webhook rpar
trap 'relay_cleanup ${RELAY_PID:-} $RECV_PID; relay_rm_tmp' EXIT
SEED=${PB_TEST_SEED:-4242}
pb_log "receiver jitter seed $SEED"

# order per key and exact count in the receiver's file; $1 = seed of the
# generated events, $2 = how many
check_order() {
        PYTHONPATH="$RELAY_DIR" python3 - "$RECV_OUT" "$1" "$2" <<'PY'
import sys
from key_order import sequences
path, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
per_key, ids = sequences(path, "-%s-" % seed)
assert len(ids) == n, ("events", len(ids), "expected", n)
assert len(set(ids)) == n, ("delivered twice", len(ids) - len(set(ids)))
print("ok: %d keys in order, %d events once each" % (len(per_key), n))
PY
}

# (1) out-of-order answers
N=2000
relay_publish_gen "$B" "$P" $N 40 par
relay_recv_control '{"mode":"jitter","delay":0.03,"seed":'"$SEED"'}'
"$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t aid.dispatched \
        --sink "webhook:$RECV_URL/hook" --ops-listen 127.0.0.1:0 --commit-interval 200ms \
        2>"$PB_TMP/relay.log" &
RELAY_PID=$!
pb_wait_for 20 relay_has_ops "$PB_TMP/relay.log"
OPS=$(relay_ops_port "$PB_TMP/relay.log")
relay_wait_recv 120 $N "$OPS" "$PB_TMP/relay.log"
sleep 1 # a commit interval and more
kill -TERM $RELAY_PID
wait $RELAY_PID || pb_fail "relay exited $? after SIGTERM, expected 0"
RELAY_PID=
grep -q 'pipeline=key' "$PB_TMP/relay.log" || pb_fail "the relay did not use the pipeline: $(grep 'relay started' "$PB_TMP/relay.log")"
check_order par $N || pb_fail "order per key or count wrong with out-of-order answers"
st=$(relay_recv_stats)
conc=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["max_concurrent"])' "$st")
pb_log "receiver: $st"
[[ $conc -ge 8 ]] || pb_fail "at most $conc requests were in flight at once, expected >= 8"
[[ $st == *'"bad_sig": 0'* ]] || pb_fail "receiver saw bad signatures: $st"
relay_recv_control '{"mode":"ok"}'
"$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t aid.dispatched \
        --sink "webhook:$RECV_URL/hook" 2>"$PB_TMP/relay2.log" &
RELAY_PID=$!
sleep 6
kill -TERM $RELAY_PID; wait $RELAY_PID || pb_fail "second relay exit status"
RELAY_PID=
[[ $(relay_recv_count) -eq $N ]] || pb_fail "restart redelivered: $(relay_recv_count) events at the receiver, expected $N"

# (2) one event fails three times; its key waits for it
: >"$RECV_OUT"
M=600
relay_publish_gen "$B" "$P" $M 12 retry
relay_recv_control '{"mode":"jitter","delay":0.01,"seed":'"$SEED"',"fail_field":"note","fail_value":"seq=100 key=4","fail_count":3}'
"$PB_BIN" relay --brokers "$B" --group "${P}r" --topic-prefix "$P" -t aid.dispatched \
        --sink "webhook:$RECV_URL/hook" --ops-listen 127.0.0.1:0 \
        --retry-initial 100ms --retry-max-backoff 300ms 2>"$PB_TMP/relay3.log" &
RELAY_PID=$!
pb_wait_for 20 relay_has_ops "$PB_TMP/relay3.log"
OPS=$(relay_ops_port "$PB_TMP/relay3.log")
relay_wait_recv 120 $((N + M)) "$OPS" "$PB_TMP/relay3.log"
sleep 1
retries=$(relay_metric "$OPS" 'partnerbus_relay_retries_total{sink="webhook"}')
dlq=$(relay_metric "$OPS" 'partnerbus_relay_dlq_total{topic="'"${P}"'aid.dispatched",reason="permanent"}')
kill -TERM $RELAY_PID; wait $RELAY_PID || pb_fail "relay exit status after SIGTERM"; RELAY_PID=
[[ $retries == 3 ]] || pb_fail "retries metric $retries, expected 3"
[[ $dlq == 0 ]] || pb_fail "dead-lettered $dlq events, expected none"
[[ $(grep -c 'event_id=.*attempt=[123] ' "$PB_TMP/relay3.log") -eq 3 ]] || pb_fail "the log does not show 3 failed attempts"
check_order retry $M || pb_fail "order per key or count wrong after a retried event"
# the failed event's key: seq=100 came before seq=112 (the next of key 4)
python3 - "$RECV_OUT" <<'PY' || pb_fail "the retried event's position is wrong"
import json, sys
# only this part's events (as check_order): a line of part (1) written
# late must not stand for seq=112
evs = [json.loads(l)["event"] for l in open(sys.argv[1])]
seqs = [int(e["note"].split()[0][4:]) for e in evs if "-retry-" in e["shipment_id"]]
i100, i112 = seqs.index(100), seqs.index(112)
assert i100 < i112, (i100, i112)
print("ok: seq=100 at position %d, seq=112 at %d" % (i100, i112))
PY
pb_log "ok: out-of-order answers keep order per key with up to $conc requests in flight; a retried event keeps its key in order"
