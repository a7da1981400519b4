#!/usr/bin/env bash
# Every walk-through of the README runs as written against `partnerbus dev
# --demo` (tests/dev/walkthroughs.py says the few things it changes: free
# ports instead of 8080/9090, a directory of its own instead of /tmp,
# long-running commands in the background), and does what the README says:
# a new event is published and a repeated one answered as a duplicate; the
# webhook receives the demo's three shipments to Dnipropetrowsk, signed; the
# poller publishes the export's three grants at once; the replay writes the
# grants, and the report from the archive equals the one from Kafka.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
PY=$(pb_python_venv)
dev_setup
# a working copy as the README assumes one: the repository's files, var/ of dev
mkdir -p repo bin tmp
ln -s "$PB_SOURCE_DIR/tests" repo/tests
ln -s "$PB_SOURCE_DIR/schemas" repo/schemas
ln -s "$PB_BIN" bin/partnerbus
DEVDIR=$WORK/repo/var
export PATH=$WORK/bin:$PATH
cd repo
dev_start ../out.txt ../err.txt --demo
pb_wait_line "$devpid" ../err.txt '^demo: published' "dev exited early" "demo did not finish in 60 s"
ops=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
n=$(python3 "$PB_SOURCE_DIR/tests/dev/walkthroughs.py" "$PB_SOURCE_DIR/README.md" "$WORK" "${GW#http://}" "$ops" "$WORK/tmp")
((n == 4)) || pb_fail "expected 4 walk-throughs in the README, found $n"
stop_bg() { local f; for f in "$WORK"/tmp/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; done; return 0; }
# the receiver and the feed server of the walk-throughs name $WORK: dev_cleanup ends them
trap 'stop_bg; dev_cleanup' EXIT

walk() { # N [EXPECT]: run walk-N.sh in this shell's directory
        local rc=0
        WALK_EXPECT=${2:-0} bash -e "$WORK/walk-$1.sh" >"$WORK/walk-$1.out" 2>"$WORK/walk-$1.err" || rc=$?
        ((rc == 0)) || { cat "$WORK/walk-$1.sh" "$WORK/walk-$1.out" "$WORK/walk-$1.err" >&2; pb_fail "walk-through $1 failed ($rc)"; }
}

# 1: an NGO publishes with curl
walk 1
out=$WORK/walk-1.out
grep -q '"duplicate":false' "$out" || pb_fail "walk-through 1: no new event published: $(cat "$out")"
grep -q '"duplicate":true' "$out" || pb_fail "walk-through 1: the demo's event not answered as a duplicate"
grep -q '"pointer":"/items/0/category"' "$out" || pb_fail "walk-through 1: no error at /items/0/category"
grep -q '"type":"aid.dispatched"' "$out" || pb_fail "walk-through 1: no schema"
pb_log "walk-through 1: new event, duplicate, precise error, schema"

# 2: an agency subscribes with a webhook: the demo's shipments to
# Dnipropetrowsk, and the new one of walk-through 1 (same destination)
want=$("$PB_BIN" consume -b "$B" -t aid.dispatched --from-beginning 2>/dev/null |
        python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l)["destination"]["oblast"] == "Dnipropetrowsk"))')
walk 2 "$want"
[[ $(wc -l <"$WORK/tmp/received.jsonl") -eq $want ]] || pb_fail "walk-through 2: received $(wc -l <"$WORK/tmp/received.jsonl") events, want $want"
python3 - "$WORK/tmp/received.jsonl" <<'PY' || pb_fail "walk-through 2: received events not as the filter says"
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(l)
    ev = e.get("event", e)
    assert ev["destination"]["oblast"] == "Dnipropetrowsk", ev
PY
# the walk-through's own metrics line may come before the relay counted the
# last answer (the receiver writes the line before it answers)
grep -q 'partnerbus_relay_deliveries_total{sink="webhook",outcome="ok"}' "$WORK/walk-2.out" ||
        pb_fail "walk-through 2: the metrics command shows no deliveries: $(cat "$WORK/walk-2.out")"
counted() { curl -s "$ops/metrics" | grep -q 'partnerbus_relay_deliveries_total{sink="webhook",outcome="ok"} '"$want"'$'; }
pb_wait_for 10 counted
stop_bg
pb_log "walk-through 2: $want signed deliveries, all to Dnipropetrowsk"

# 3: a municipality's export is polled
walk 3
grep -q '3 records, 3 would be published, 0 unchanged, 0 rejected' "$WORK/walk-3.err" ||
        pb_fail "walk-through 3: poll --check: $(cat "$WORK/walk-3.err")"
# the LVR's grant belongs to lvr (the demo published it): refused
pb_wait_for 30 grep -q 'msg="poll done" outcome=ok .*published=2 .*rejected=1' "$WORK/tmp/poll.log"
grep -q 'not_owner: grant_id LVR-UA-EURO-2023 belongs to organisation lvr' "$WORK/tmp/poll.log" ||
        pb_fail "walk-through 3: the LVR's grant was not refused as another organisation's"
grep -q 'fenced' "$WORK/tmp/poll.log" && pb_fail "walk-through 3: the poller talks of fencing on its first start"
grep -q 'no answer to CreateTopics' "$WORK/tmp/poll.log" && pb_fail "walk-through 3: CreateTopics unanswered"
stop_bg
pb_log "walk-through 3: the export's own grants published at once, the LVR's refused"

# 4: an analyst replays and reports; the archive has caught up with Kafka first
ngrants=$("$PB_BIN" consume -b "$B" -t funds.granted --from-beginning 2>/dev/null | wc -l)
archived_grants() { "$PB_BIN" replay --from-archive "$DEVDIR/archive" --topics funds.granted --format jsonl 2>/dev/null | wc -l; }
archive_caught_up() { (($(archived_grants) >= ngrants)); }
pb_wait_for 30 archive_caught_up
walk 4
rows=$(python3 -c 'import csv,sys; print(len(list(csv.reader(open(sys.argv[1], encoding="utf-8")))) - 1)' "$WORK/tmp/grants.csv")
((rows == ngrants)) || pb_fail "walk-through 4: $rows grants in the CSV, Kafka holds $ngrants"
[[ -s $WORK/tmp/report/report.html ]] || pb_fail "walk-through 4: no report"
"$PB_BIN" report --brokers "$B" --out "$WORK/tmp/report-kafka" 2>/dev/null
"$PY" - "$WORK/tmp/report/summary.json" "$WORK/tmp/report-kafka/summary.json" <<'PY' || pb_fail "walk-through 4: the report from the archive differs from the one from Kafka"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
# "report" says where the events came from (files, partitions, offsets) and
# when; every figure is in the other sections
a.pop("report")
b.pop("report")
assert a == b, "\n%s\n%s" % (a, b)
PY
pb_log "walk-through 4: $rows grants in the CSV; the report from the archive equals the one from Kafka"
dev_stop
echo "dev_readme: ok"
