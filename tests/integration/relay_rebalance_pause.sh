#!/usr/bin/env bash
# relay_rebalance_pause.sh: a partition that was paused when a rebalance
# took it away comes back unpaused when it is assigned again.
#
# Relay 1 writes batches (one write at a time), so a failing batch pauses
# its partitions for a long backoff (120 s). Then the receiver recovers and
# relay 2 joins the group. It delivers to a port nobody listens on, so it
# holds what it takes without delivering it. The rebalance takes partitions
# from relay 1, which forgets their retry state; some it may get back at
# once (eager assignment). Relay 2 leaves again, and relay 1 gets the rest
# back. librdkafka keeps a pause across a revocation, so unless the
# consumer resumes what it is assigned, relay 1 never fetches those
# partitions again (nobody remembers to). Their events must arrive within
# 20 s, long before any backoff of relay 1 could end.
#
# The receiver recovers before relay 2 joins: a partition relay 1 gets
# back while the receiver still fails would fail again and wait out a
# fresh backoff. Relay 1 logs every partition the rebalance took, also
# one it got back at once, and all events must arrive: the test counts on
# the eager protocol (librdkafka's default range,roundrobin) and the
# harness's three partitions.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../relay/lib.sh"
relay_setup_webhook rpause kcat
trap 'relay_cleanup ${R1:-} ${R2:-} $RECV_PID; relay_rm_tmp' EXIT
N=600
relay_publish_gen "$B" "$P" $N 60 pause
run_relay() { # LOG URL
        "$PB_BIN" relay --brokers "$B" --group "${P}g" --topic-prefix "$P" -t aid.dispatched \
                --sink "webhook:$2" --webhook-batch-size 10 --batch-size 10 \
                --retry-initial 120s --retry-max-backoff 120s --commit-interval 200ms \
                --ops-listen 127.0.0.1:0 2>>"$1" &
}
relay_recv_control '{"mode":"500","count":1000000}'
run_relay "$PB_TMP/r1.log" "$RECV_URL/hook"; R1=$!
pb_wait_line $R1 "$PB_TMP/r1.log" 'msg="batch failed' "relay 1 exited" "relay 1 never failed a delivery"
pb_wait_for 20 relay_has_ops "$PB_TMP/r1.log"
P1=$(relay_ops_port "$PB_TMP/r1.log")
r1_all_paused() { (($(relay_metric "$P1" partnerbus_relay_paused_partitions) == 3)); }
pb_wait_for 30 r1_all_paused # so relay 1 delivers nothing it was not given anew

relay_recv_control '{"mode":"ok"}'
: >"$RECV_OUT"
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_relay "$PB_TMP/r2.log" "http://127.0.0.1:$closed/hook"; R2=$!
revoked() { sed -n 's/.*partition=\([0-9]*\) msg="partition revoked.*/\1/p' "$PB_TMP/r1.log" | sort -u | wc -l; }
all_revoked() { (($(revoked) == 3)); }
# eager assignment: relay 2's join revokes all three, relay 1 logs each
pb_wait_for 30 all_revoked
kill -TERM $R2; wait $R2 || pb_fail "relay 2 exit status"; R2=
t0=$SECONDS
relay_wait_recv 20 $N "$P1" "$PB_TMP/r1.log" distinct
pb_log "ok: relay 1 got its paused partitions back (at once or from relay 2) and delivered all $N events within $((SECONDS - t0)) s"
kill -TERM $R1; wait $R1 || pb_fail "relay 1 exit status"; R1=
