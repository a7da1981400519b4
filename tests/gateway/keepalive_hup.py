#!/usr/bin/env python3
"""SIGHUP re-reads the tokens file without dropping connections.

  keepalive_hup.py PORT GATEWAY_PID TOKENS_FILE OLD_TOKEN NEW_LINE NEW_TOKEN EXAMPLE

On one keep-alive connection: GET /healthz; publish with OLD_TOKEN (2xx);
replace the tokens file by NEW_LINE; SIGHUP; wait until OLD_TOKEN gets 401
on the same connection; publish with NEW_TOKEN (2xx). Fails (exit 1) if
the connection was replaced in between."""
import http.client
import json
import os
import signal
import sys
import time
import uuid

port, pid, tokfile, old, newline, new, example = sys.argv[1:8]
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=20)


def post(token):
    ev = json.load(open(example, encoding="utf-8"))
    ev["event_id"] = str(uuid.uuid4())
    conn.request("POST", "/v1/events/aid.dispatched", json.dumps(ev),
                 {"Authorization": "Bearer " + token,
                  "Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status


conn.request("GET", "/healthz")
conn.getresponse().read()
sock = conn.sock
local = sock.getsockname()
st = post(old)
assert 200 <= st < 300, "old token before SIGHUP: %s" % st
with open(tokfile + ".new", "w") as f:
    f.write(newline + "\n")
os.rename(tokfile + ".new", tokfile)
os.kill(int(pid), signal.SIGHUP)
deadline = time.time() + 10
while True:
    st = post(old)
    if st == 401:
        break
    assert time.time() < deadline, "old token still accepted after SIGHUP"
    time.sleep(0.2)
st = post(new)
assert 200 <= st < 300, "new token after SIGHUP: %s" % st
assert conn.sock is sock and sock.getsockname() == local, \
    "the connection was replaced"
print("ok: same connection %s:%d across SIGHUP" % local)
