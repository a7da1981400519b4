#!/usr/bin/env bash
# replay's reader thread (--decode-thread) on real Kafka: 3,000
# aid.dispatched events a minute apart over three partitions and the seed
# grants, replayed with the thread and without it, give the same bytes:
# JSON lines whole, with a merge window of 1 (the reader's queues fill and
# it waits for room), cut to a range, filtered on a field; CSV; every event
# once, in event-time order. A replay stopped by SIGTERM while the reader
# waits for room ends with "interrupted" (the ASan variant checks that it
# leaks nothing).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
B=$(pb_bootstrap)
PB_BIN=$(pb_bin)
pb_require_cmd python3
pb_tmpdir
pb_topic_prefix dt
H=$PB_TMP/history
python3 "$PB_SOURCE_DIR/tests/fixtures/seed_history.py" "$H"
python3 "$PB_SOURCE_DIR/tests/relay/gen_events.py" 3000 50 --seed decode-thread \
        --seconds-apart 61 >"$H/aid.dispatched.jsonl"
pb_produce_history "$H" funds.granted aid.dispatched
T=funds.granted,aid.dispatched
total=$(cat "$H/funds.granted.jsonl" "$H/aid.dispatched.jsonl" | wc -l)
# a range inside the shipments: from the 1,000th to the 2,000th
since=$(sed -n 1000p "$H/aid.dispatched.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["occurred_at"])')
until=$(sed -n 2000p "$H/aid.dispatched.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["occurred_at"])')

# same NAME ARGS...: one replay per --decode-thread value; the files must
# be equal and not empty
same() {
        local name=$1 m
        shift
        for m in off on; do
                "$PB_BIN" replay --brokers "$B" --decode-thread "$m" "$@" -o "$PB_TMP/$name.$m" \
                        2>"$PB_TMP/$name.$m.log" ||
                        pb_fail "replay $name --decode-thread $m: $(cat "$PB_TMP/$name.$m.log")"
        done
        [[ -s $PB_TMP/$name.on ]] || pb_fail "$name: no output"
        cmp -s "$PB_TMP/$name.off" "$PB_TMP/$name.on" || pb_fail "$name: the reader thread changed the output"
}
same all -t $T
same window1 -t $T --window 1
same range -t $T --since "$since" --until "$until"
same where -t $T --where shipment_id=S-decode-thread-007
same csv -t aid.dispatched --format csv
grep -q "$total events written" "$PB_TMP/all.on.log" || pb_fail "count: $(cat "$PB_TMP/all.on.log")"
python3 - "$H" "$PB_TMP" "$since" "$until" <<'EOF' || pb_fail "output of the reader thread wrong"
import json, sys
h, d, since, until = sys.argv[1:]
hist = {}
for t in ("funds.granted", "aid.dispatched"):
    for l in open("%s/%s.jsonl" % (h, t), encoding="utf-8"):
        e = json.loads(l)
        hist[e["event_id"]] = e
def read(name):
    return [json.loads(l) for l in open("%s/%s.on" % (d, name), encoding="utf-8")]
out = read("all")
ids = [e["event_id"] for e in out]
assert len(ids) == len(set(ids)) == len(hist) and set(ids) == set(hist), (len(ids), len(hist))
times = [e["occurred_at"] for e in out]
assert times == sorted(times), "not in event-time order"
rng = read("range")
want = {i for i, e in hist.items() if since <= e["occurred_at"] < until}
assert {e["event_id"] for e in rng} == want and len(rng) == len(want) == 1000, len(rng)
wh = read("where")
assert len(wh) == 60 and all(e["shipment_id"] == "S-decode-thread-007" for e in wh), len(wh)
print("ok")
EOF

# SIGTERM while the main thread is blocked writing and the reader waits
# for room: the replay ends, says so and exits non-zero
mkfifo "$PB_TMP/fifo"
"$PB_BIN" replay --brokers "$B" -t $T --decode-thread on --window 1 -o "$PB_TMP/fifo" \
        2>"$PB_TMP/stop.log" &
pid=$!
exec 3<"$PB_TMP/fifo"
head -c 65536 <&3 >/dev/null
sleep 2
kill -TERM $pid
cat <&3 >"$PB_TMP/rest" &
cat_pid=$!
rc=0
wait $pid || rc=$?
wait $cat_pid || true
exec 3<&-
((rc != 0)) || pb_fail "replay stopped by SIGTERM exited 0: $(cat "$PB_TMP/stop.log")"
grep -q "interrupted" "$PB_TMP/stop.log" || pb_fail "no 'interrupted': $(cat "$PB_TMP/stop.log")"
written=$(($(wc -l <"$PB_TMP/rest") + 1))
((written < total)) || pb_fail "the stopped replay wrote everything ($written lines)"
pb_log "ok: the reader thread gives the same bytes (all, window 1, range, filter, CSV); SIGTERM ends it"
