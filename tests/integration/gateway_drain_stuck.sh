#!/usr/bin/env bash
# gateway_drain_stuck.sh: SIGTERM when requests cannot finish in time.
#
# A. A request waits for a broker that never answers, and its message never
#    times out (-X message.timeout.ms=0 overrides --delivery-timeout). The
#    request is answered 503 at its deadline (--publish-timeout), its
#    message stays in the producer; the drain must purge it, so its last
#    delivery report comes and the process exits (1: not flushed) without
#    an abort: before, MHD_stop_daemon was called with the connection still
#    suspended and libmicrohttpd aborted the process ("called while we have
#    suspended connections").
# B. A slow client finishes its body after the drain deadline: the send
#    gate is closed by then, it gets 503 shutting_down and nothing of it is
#    published (nothing may be sent after the final flush).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup curl jq python3
EX=$GW_EXAMPLE
gw_tokens blau-gelbes-kreuz

# --- A: broker unreachable, message without timeout
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gw_start stuck --brokers "127.0.0.1:$dead" --tokens "$PB_TMP/tokens" --insecure-http \
        --rate 0 --publish-timeout 2s --drain-timeout 1s -X message.timeout.ms=0
P=$GW_PORT
O=$GW_OPS
PID=$GW_PID
# a confirmation (aid.delivered): owned types would wait for the ownership
# table, which a dead broker never delivers (503 ownership_unavailable)
# before anything is in flight
DEL=$(ls "$EXAMPLES"/valid/aid.delivered/*.json | head -n 1)
curl -s -o "$PB_TMP/a.json" -D "$PB_TMP/a.h" -w '%{http_code}' --max-time 60 \
        -H 'Authorization: Bearer tok-blau-gelbes-kreuz' -H 'Content-Type: application/json' \
        --data-binary @<(jq -c 'del(.source)' "$DEL") "http://127.0.0.1:$P/v1/events/aid.delivered" >"$PB_TMP/a.code" &
C=$!
pb_wait_for 10 bash -c \
        "curl -s http://127.0.0.1:$O/metrics | awk '/^partnerbus_gateway_inflight_events /{f=\$2} END {exit !(f+0 >= 1)}'"
t0=$(date +%s)
gw_term "$PID"
rc=$GW_RC
took=$(($(date +%s) - t0))
wait "$C" || true
code=$(cat "$PB_TMP/a.code")
pb_log "A: gateway exit $rc after ${took}s; client got $code: $(head -c 200 "$PB_TMP/a.json")"
((rc < 128)) || { tail -5 "$PB_TMP/stuck.log" >&2; pb_fail "A: gateway killed by signal $((rc - 128)) at shutdown"; }
((rc == 1)) || pb_fail "A: exit status $rc, want 1 (producer not flushed)"
((took <= 15)) || pb_fail "A: shutdown took ${took}s"
[[ $code == 503 ]] || pb_fail "A: waiting request answered $code, want 503"
[[ $(jq -r .error "$PB_TMP/a.json") == kafka_unavailable ]] || pb_fail "A: want error kafka_unavailable"
grep -qi '^Retry-After:' "$PB_TMP/a.h" || pb_fail "A: 503 without Retry-After"
grep -q 'purged' "$PB_TMP/stuck.log" || pb_fail "A: no purge logged"

# --- B: body completed after the drain deadline
PFX=$(pb_topic_name gwdrain)-
gw_start late --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
        --topic-prefix "$PFX" --rate 0 --drain-timeout 1s
P=$GW_PORT
PID=$GW_PID
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched application/json "$EX"
expect_code 201 "B: first event"
jq -c '.event_id = "0b7c2a6e-5d43-4f1e-9a8b-2c3d4e5f6a7b"' "$EX" >"$PB_TMP/late.json"
python3 - "$P" "$PB_TMP/late.json" >"$PB_TMP/b.out" <<'EOF' &
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
body = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/events/aid.dispatched HTTP/1.1\r\nHost: x\r\n"
          b"Authorization: Bearer tok-blau-gelbes-kreuz\r\n"
          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
          % len(body) + body[:10])
time.sleep(3.0)  # SIGTERM comes 1 s in; the drain deadline is 1 s later
try:
    s.sendall(body[10:])
    ans = s.recv(65536).decode("utf-8", "replace")
    print(ans.split("\r\n", 1)[0].split(" ")[1] if ans else "closed")
    print(ans.rsplit("\r\n\r\n", 1)[-1])
except OSError:
    print("closed")
EOF
PY=$!
sleep 1
gw_term "$PID"
rc=$GW_RC
wait "$PY" || true
pb_log "B: gateway exit $rc; client: $(head -c 200 "$PB_TMP/b.out" | tr '\n' ' ')"
((rc == 0)) || { tail -5 "$PB_TMP/late.log" >&2; pb_fail "B: gateway exited $rc"; }
st=$(head -n 1 "$PB_TMP/b.out")
[[ $st == 503 || $st == closed ]] || pb_fail "B: late body answered $st, want 503 (or a closed connection)"
timeout 120 "$PB_BIN" consume --brokers "$B" --topic-prefix "$PFX" --topics aid.dispatched \
        --from-beginning | jq -r .event_id >"$PB_TMP/in-topic.txt"
[[ $(wc -l <"$PB_TMP/in-topic.txt") == 1 ]] || pb_fail "B: want only the first event in the topic, got $(wc -l <"$PB_TMP/in-topic.txt")"
grep -q 0b7c2a6e "$PB_TMP/in-topic.txt" && pb_fail "B: the late event was published after the drain"
pb_log "PASS"
