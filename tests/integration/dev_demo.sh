#!/usr/bin/env bash
# partnerbus dev --demo: the README's first command, end to end. Apache
# Kafka, the gateway, the archive relay and the terminal relay come up; the
# banner comes first and fits an 80x24 terminal; the demo publishes every
# valid example through the gateway; the terminal shows each one once, one
# short line each; Kafka and the archive hold each one, equal to the
# example; a second dev on a busy port says which port, a second dev on the
# same directory says so; Ctrl-C stops everything with exit status 0.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
PY=$(pb_python_venv)
dev_setup

dev_start out.txt err.txt --demo
pb_wait_line "$devpid" err.txt '^demo: published' "dev exited early" "demo did not finish in 60 s"
nexamples=$(ls "$PB_SOURCE_DIR"/schemas/examples/valid/*/*.json | wc -l)
grep -q "^demo: published $nexamples example events through the gateway (0 failed)" err.txt ||
        { cat err.txt >&2; pb_fail "demo did not publish all $nexamples examples"; }

# the banner is the first thing on the terminal and, with the start line
# before it and the demo line after it, fits 24 rows of 80 columns
rows=$(awk '/^demo: published/{exit} {r += (length($0) > 80 ? int((length($0) + 79) / 80) : 1)} END{print r}' err.txt)
sed '/^demo: published/q' err.txt >&2
((rows + 1 <= 24)) || pb_fail "banner and demo line take $((rows + 1)) rows of an 80x24 terminal"
grep -q "^  operator token  *pbdev_op_[0-9a-f]\{32\}" err.txt || pb_fail "banner shows no operator token"
pb_log "banner: $rows rows before the demo line"

# the terminal shows every example once, one short line each (topic, key, source)
for _ in $(seq 1 300); do
        [[ $(wc -l <out.txt) -ge $nexamples ]] && break
        sleep 0.1
done
sleep 2 # anything extra would show now; the archive relay commits each second
awk 'length($0) > 80 {print "line longer than 80 columns: " $0; bad=1} END{exit bad}' out.txt ||
        pb_fail "event lines are not short"
"$PB_BIN" consume -b "$B" --topics aid.dispatched,aid.delivered,funds.granted,partnership.founded \
        --from-beginning >kafka.jsonl 2>consume.err || { cat consume.err >&2; pb_fail "consume failed"; }
"$PY" - "$PB_SOURCE_DIR/schemas/examples/valid" out.txt kafka.jsonl "$DEVDIR/archive" <<'PY'
import glob, json, os, sys
import fastavro
want, keys = {}, {}
for f in glob.glob(sys.argv[1] + "/*/*.json"):
    ev = json.load(open(f))
    t = os.path.basename(os.path.dirname(f))
    want[ev["event_id"]] = json.dumps(ev, separators=(",", ":"), ensure_ascii=False)
    key = ev.get("shipment_id") or ev.get("grant_id") or ev.get("partnership_id")
    keys[(t, key, ev["source"])] = keys.get((t, key, ev["source"]), 0) + 1
shown = {}
for l in open(sys.argv[2], encoding="utf-8").read().splitlines():
    if not l.strip():
        continue
    f = l.split()
    assert len(f) == 3, "not a short event line: %r" % l
    shown[tuple(f)] = shown.get(tuple(f), 0) + 1
assert shown == keys, "terminal lines differ:\nshown %s\nwant  %s" % (sorted(shown.items()), sorted(keys.items()))
got = {}
for l in open(sys.argv[3], encoding="utf-8").read().splitlines():
    ev = json.loads(l)
    assert ev["event_id"] not in got, "Kafka holds %s twice" % ev["event_id"]
    got[ev["event_id"]] = l
assert got == want, "Kafka: missing %s, extra %s, or differing" % (set(want) - set(got), set(got) - set(want))
archived = {}
for f in glob.glob(sys.argv[4] + "/*/*.avro"):
    with open(f, "rb") as fp:
        for rec in fastavro.reader(fp):
            archived[str(rec["event_id"])] = archived.get(str(rec["event_id"]), 0) + 1
assert set(archived) == set(want), "archive: missing %s" % (set(want) - set(archived))
assert all(n == 1 for n in archived.values()), "archive holds an event twice"
print("terminal: %d short lines; Kafka: %d events equal to the examples; archive: %d events" %
      (sum(shown.values()), len(got), len(archived)))
PY

# a second dev on a busy port names the port and how to choose another
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# the holder keeps the port until it is killed below, and says when it
# holds it (a fixed sleep raced with a slow Python start on a busy machine)
rm -f "$WORK/held"
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); open('$WORK/held','w').close(); time.sleep(120)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 200); do [[ -e $WORK/held ]] && break; sleep 0.05; done
[[ -e $WORK/held ]] || pb_fail "the port holder did not bind 127.0.0.1:$port"
set +e
"$PB_BIN" dev --listen 127.0.0.1:$port --dir "$WORK/var2" >/dev/null 2>busy.txt
rc=$?
set -e
kill $holder 2>/dev/null || true
[[ $rc -ne 0 ]] || pb_fail "second dev on a busy port exited 0"
grep -q "127.0.0.1:$port is already in use" busy.txt || { cat busy.txt >&2; pb_fail "busy-port message does not name the port"; }
grep -q -- "--listen" busy.txt || pb_fail "busy-port message does not say how to choose another port"

# a second dev on the same directory would share Kafka's data: refused
set +e
timeout 30 "$PB_BIN" dev --listen 127.0.0.1:0 --dir "$DEVDIR" >/dev/null 2>same.txt
rc=$?
set -e
[[ $rc -eq 1 ]] || { cat same.txt >&2; pb_fail "second dev on the same directory exited $rc"; }
grep -q "another partnerbus dev (pid $devpid) uses" same.txt || { cat same.txt >&2; pb_fail "no clear message for a second dev on the same directory"; }

# Ctrl-C stops everything, exit status 0, no child left behind
dev_stop
echo "dev_demo: ok"
