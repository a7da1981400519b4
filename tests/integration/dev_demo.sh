#!/usr/bin/env bash
# partnerbus dev --demo: the README's first command, end to end. The
# embedded broker, the gateway, the archive relay and the terminal relay
# come up; the demo publishes every valid example through the gateway; the
# terminal shows each one once; the archive holds each one; the printed curl
# command works; a second dev on a busy port says which port; Ctrl-C stops
# everything with exit status 0.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
pb_require_cmd curl python3
PY=$(pb_python_venv)

work=$(mktemp -d)
devpid=
cleanup() {
        [[ -n $devpid ]] && kill -INT "$devpid" 2>/dev/null && sleep 1 && kill -KILL "$devpid" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

"$PB_BIN" dev --demo --listen 127.0.0.1:0 --dir "$work/var" >out.jsonl 2>err.txt &
devpid=$!
pb_wait_line $devpid err.txt '^demo: published' "dev exited early" "demo did not finish in 60 s"
nexamples=$(ls "$PB_SOURCE_DIR"/schemas/examples/valid/*/*.json | wc -l)
grep -q "^demo: published $nexamples example events through the gateway (0 failed)" err.txt ||
        { cat err.txt >&2; pb_fail "demo did not publish all $nexamples examples"; }

# the terminal relay prints every example once; the archive relay stores it
for _ in $(seq 1 300); do
        [[ $(wc -l <out.jsonl) -ge $nexamples ]] && break
        sleep 0.1
done
sleep 2 # anything extra would show now; the archive relay commits each second
"$PY" - "$PB_SOURCE_DIR/schemas/examples/valid" out.jsonl "$work/var/archive" <<'PY'
import glob, json, sys, os
import fastavro
want = {}
for f in glob.glob(sys.argv[1] + "/*/*.json"):
    ev = json.load(open(f))
    want[ev["event_id"]] = json.dumps(ev, separators=(",", ":"), ensure_ascii=False)
lines = [l for l in open(sys.argv[2], encoding="utf-8").read().splitlines() if l.strip()]
got = {}
for l in lines:
    ev = json.loads(l)
    assert ev["event_id"] not in got, "terminal shows %s twice" % ev["event_id"]
    got[ev["event_id"]] = l
assert set(got) == set(want), "terminal: missing %s extra %s" % (set(want) - set(got), set(got) - set(want))
for k in want:
    assert got[k] == want[k], "terminal line differs from the example:\n%s\n%s" % (got[k], want[k])
archived = {}
for f in glob.glob(sys.argv[3] + "/*/*.avro"):
    with open(f, "rb") as fp:
        for rec in fastavro.reader(fp):
            archived.setdefault(str(rec["event_id"]), 0)
            archived[str(rec["event_id"])] += 1
assert set(archived) == set(want), "archive: missing %s" % (set(want) - set(archived))
print("terminal: %d events equal to the examples; archive: %d events in %d files" %
      (len(got), sum(archived.values()), len(glob.glob(sys.argv[3] + "/*/*.avro"))))
PY

# the curl command dev prints publishes (the example is already in: the
# gateway answers it as a duplicate, still 2xx)
cmd=$(sed -n '/^  curl -sS/,/--data-binary/p' err.txt | sed 's/\\$//' | tr '\n' ' ')
[[ -n $cmd ]] || pb_fail "dev printed no curl command"
code=$(eval "$cmd -o /dev/null -w '%{http_code}'")
[[ $code == 2* ]] || pb_fail "the printed curl command got HTTP $code"
pb_log "printed curl command: HTTP $code"

# a second dev on a busy port names the port and how to choose another
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); time.sleep(15)" &
holder=$!
sleep 0.5
set +e
"$PB_BIN" dev --listen 127.0.0.1:$port --dir "$work/var2" >/dev/null 2>busy.txt
rc=$?
set -e
kill $holder 2>/dev/null || true
[[ $rc -ne 0 ]] || pb_fail "second dev on a busy port exited 0"
grep -q "127.0.0.1:$port is already in use" busy.txt || { cat busy.txt >&2; pb_fail "busy-port message does not name the port"; }
grep -q -- "--listen" busy.txt || pb_fail "busy-port message does not say how to choose another port"

# Ctrl-C stops everything, exit status 0, no child left behind
kill -INT $devpid
rc=0
for _ in $(seq 1 300); do kill -0 $devpid 2>/dev/null || break; sleep 0.1; done
kill -0 $devpid 2>/dev/null && pb_fail "dev did not stop within 30 s of SIGINT"
wait $devpid || rc=$?
devpid=
[[ $rc -eq 0 ]] || pb_fail "dev exited $rc after SIGINT"
if pgrep -f -- "--dir $work/var" >/dev/null || pgrep -f -- "$work/var/bootstrap" >/dev/null; then
        pb_fail "children of dev still running"
fi
echo "dev_demo: ok"
