#!/usr/bin/env bash
# roundtrip_embedded.sh: the same round trip as roundtrip_kafka.sh through
# the embedded development broker (`partnerbus broker`, librdkafka's mock
# cluster), started here in the background and stopped with SIGTERM.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/roundtrip_common.bash"

pb_require_cmd python3 timeout
bin=$(pb_bin)
pb_tmpdir
"$bin" broker --brokers-count 3 --bootstrap-file "$PB_TMP/bootstrap" \
        >"$PB_TMP/broker.out" 2>"$PB_TMP/broker.err" &
broker_pid=$!
trap 'kill -TERM $broker_pid 2>/dev/null || true; wait $broker_pid 2>/dev/null || true; rm -rf "$PB_TMP"' EXIT
pb_wait_for 20 test -s "$PB_TMP/bootstrap"
B=$(head -n 1 "$PB_TMP/bootstrap")
[[ $B == 127.0.0.1:* ]] || pb_fail "bootstrap '$B' is not on loopback"
grep -qx "$B" "$PB_TMP/broker.out" || pb_fail "broker did not print its bootstrap address on stdout"
pb_log "embedded broker $B"

# The mock coordinator starts a group's next generation only after the
# session timeout of the member that left, even after a clean LeaveGroup;
# a short session keeps the group part of the test quick.
pb_roundtrip "$B" "rt." -X session.timeout.ms=6000 -X heartbeat.interval.ms=500

# SIGTERM stops the broker cleanly and removes its bootstrap file
kill -TERM $broker_pid
rc=0
wait $broker_pid || rc=$?
((rc == 0)) || pb_fail "broker exited with $rc after SIGTERM: $(cat "$PB_TMP/broker.err")"
[[ ! -e $PB_TMP/bootstrap ]] || pb_fail "broker left its bootstrap file behind"
pb_log "ok"
