#!/usr/bin/env bash
# gateway_threads1.sh: --threads 1 under concurrency. 128 keep-alive clients
# post 3000 single events to a gateway with one HTTP thread. With
# libmicrohttpd's single-thread epoll mode, resumes of suspended requests
# got lost: requests stalled for seconds and the clients timed out (33 s
# and 128 failed connections for 5000 events, against 1 s with poll()).
# Expect: every event answered 201, in far less than the stall time.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup wrk jq
gw_start_example one gwthreads1 --threads 1
gw_post "$GW_PORT" tok-blau-gelbes-kreuz aid.dispatched application/json "$EX"
expect_code 201 "first event (topic created)"
jq -c 'del(.event_id)' "$EX" >"$PB_TMP/single.json"
BODY_FILE=$PB_TMP/single.json CTYPE=application/json TOKEN=tok-blau-gelbes-kreuz \
        wrk -t 2 -c 128 -d 4s -s "$PB_SOURCE_DIR/bench/gateway/single.lua" \
        "http://127.0.0.1:$GW_PORT/v1/events/aid.dispatched" >"$PB_TMP/wrk.txt" 2>&1 ||
        pb_fail "wrk failed: $(cat "$PB_TMP/wrk.txt")"
rps=$(awk '/Requests\/sec/ {printf "%d", $2}' "$PB_TMP/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$PB_TMP/wrk.txt")
pb_log "--threads 1, 128 keep-alive connections: $rps requests/s, non-2xx ${non2xx:-0} ($(grep -E 'Socket errors' "$PB_TMP/wrk.txt" || echo 'no socket errors'))"
[[ -n $rps ]] || pb_fail "no wrk result: $(cat "$PB_TMP/wrk.txt")"
# stalled: under 1,000/s; working: 14,000/s on the 2-core test machine
((rps >= 2500)) || pb_fail "$rps requests/s with --threads 1: requests stall"
((${non2xx:-0} == 0)) || pb_fail "$non2xx answers not 2xx"
pb_log "PASS"
