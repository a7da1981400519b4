#!/usr/bin/env bash
# relay_failures.sh: the receiver fails for a while (500s, then closed
# connections, then answers slower than the timeout, then 429 with
# Retry-After) -> the relay retries with backoff and, once it answers
# again, delivers everything, in order per key; one event the receiver
# rejects with 400 and raw garbage bytes on the topic go to the
# dead-letter topic with reason headers, and the stream goes on.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
relay_setup_webhook rfail kcat
trap 'relay_cleanup ${RELAY_PID:-} $RECV_PID; relay_rm_tmp' EXIT
N=300
relay_publish_gen "$B" "$P" $N 12 fail
# poison: raw bytes that are no Avro frame, between the events
printf 'this is not avro\n\x00\x01garbage\n' | pb_kcat_produce "$B" "${P}aid.dispatched" -K : -k poison
relay_publish_gen "$B" "$P" 20 3 tail

relay_recv_control '{"mode":"500"}'
relay_recv_control '{"reject_field":"note","reject_value":"seq=7 key=7"}'
"$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t aid.dispatched \
        --sink "webhook:$RECV_URL/hook" --ops-listen 127.0.0.1:0 --webhook-timeout 1s \
        --retry-initial 100ms --retry-max-backoff 1s --retry-max-time 10m 2>"$PB_TMP/relay.log" &
RELAY_PID=$!
pb_wait_for 20 relay_has_ops "$PB_TMP/relay.log"
OPS=$(relay_ops_port "$PB_TMP/relay.log")
retried() { [[ $(relay_metric "$OPS" 'partnerbus_relay_retries_total{sink="webhook"}') -ge "$1" ]]; }
pb_wait_for 30 retried 3
[[ $(relay_recv_count) -eq 0 ]] || pb_fail "receiver accepted events while answering 500"
relay_recv_control '{"mode":"close","count":3}'
sleep 2
relay_recv_control '{"mode":"slow","delay":2,"count":2}'
sleep 3
relay_recv_control '{"mode":"429","retry_after":1,"count":2}'
sleep 3
relay_recv_control '{"mode":"ok","count":null}'
pb_wait_for 120 relay_recv_distinct_at_least $((N + 20 - 1))
sleep 2
dlq=$(relay_metric "$OPS" 'partnerbus_relay_dlq_total{topic="'"${P}"'aid.dispatched",reason="permanent"}')
bad=$(relay_metric "$OPS" 'partnerbus_relay_dlq_total{topic="'"${P}"'aid.dispatched",reason="undecodable"}')
[[ $dlq == 1 && $bad == 2 ]] || pb_fail "dlq metrics permanent=$dlq undecodable=$bad, expected 1 and 2"
grep -aq 'reason="HTTP 500' "$PB_TMP/relay.log" || pb_fail "log does not say why deliveries failed"
grep -aq "$RECEIVER_SECRET" "$PB_TMP/relay.log" && pb_fail "the secret appears in the log"
kill -TERM $RELAY_PID; wait $RELAY_PID || pb_fail "relay exit status after SIGTERM"; RELAY_PID=

# order per key, nothing missing except the rejected one
PYTHONPATH="$RELAY_DIR" python3 - "$RECV_OUT" "$N" <<'PY' || pb_fail "order or completeness wrong"
import sys
from key_order import sequences
n = int(sys.argv[2])
per_key, ids = sequences(sys.argv[1], first_only=True)
main = sum(len(v) for k, v in per_key.items() if "-fail-" in k)
assert main == n - 1, (main, n - 1)
assert sum(len(v) for k, v in per_key.items() if "-tail-" in k) == 20
print("ok: %d keys in order, %d events" % (len(per_key), len(ids)))
PY
st=$(relay_recv_stats)
pb_log "receiver: $st"

# the dead-letter topic: original bytes and reason headers
timeout 30 kcat -b "$B" -C -t "${P}aid.dispatched.dlq" -o beginning -c 3 -e -q \
        -f '%k|%h|%s\n' >"$PB_TMP/dlq.txt" || pb_fail "cannot read the dead-letter topic"
[[ $(grep -ac 'partnerbus_dlq_reason=undecodable' "$PB_TMP/dlq.txt") -eq 2 ]] || pb_fail "undecodable messages not in DLQ: $(cat "$PB_TMP/dlq.txt")"
grep -aq '|this is not avro$' "$PB_TMP/dlq.txt" || pb_fail "DLQ lacks the original bytes"
grep -a 'partnerbus_dlq_reason=permanent' "$PB_TMP/dlq.txt" | grep -aq 'partnerbus_dlq_sink=webhook' ||
        pb_fail "permanent failure not in DLQ with its sink"
grep -a 'partnerbus_dlq_reason=permanent' "$PB_TMP/dlq.txt" | grep -aq 'partnerbus_dlq_detail=HTTP 400' ||
        pb_fail "DLQ detail does not name the 400"
grep -a 'partnerbus_dlq_reason=permanent' "$PB_TMP/dlq.txt" | grep -aq 'ce_id=' ||
        pb_fail "DLQ message lost the original headers"
pb_log "ok: retries through 500/closed/timeout/429, all delivered in order per key; 400 and poison bytes in the DLQ"
