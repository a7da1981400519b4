#!/usr/bin/env python3
"""Memory of large JSON bodies (issue 11, finding 9).

  parser_memory.py PORT PID TOKEN BODY_BYTES ROUNDS LIMIT_MB

Sends ROUNDS rounds of 4 concurrent POSTs whose body is BODY_BYTES of
"[0,0,0,...]" (a value every 2 bytes), then reads the gateway's VmRSS
(/proc/PID/status). Checks that every answer is a 4xx and that, a moment
after the last round, VmRSS is at most LIMIT_MB above what it was before
the first. Prints the figures; exit status 1 if the check fails."""
import http.client
import sys
import threading
import time

port, pid, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
size, rounds, limit_mb = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
body = b"[" + b"0," * ((size - 2) // 2) + b"0]"


def rss_kb():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def post(out, i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/v1/events/aid.dispatched", body,
              {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    out[i] = (r.status, r.read()[:200])
    c.close()


def small():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/v1/events/aid.dispatched", b"[0,0,0]",
              {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    c.getresponse().read()
    c.close()


for _ in range(4):
    small()  # every HTTP thread has its parser
time.sleep(0.5)
before = rss_kb()
peak = before
statuses = []
for _ in range(rounds):
    out = [None] * 4
    ts = [threading.Thread(target=post, args=(out, i)) for i in range(4)]
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        peak = max(peak, rss_kb())
        time.sleep(0.02)
    statuses += [o[0] if o else None for o in out]
time.sleep(1.0)
after = rss_kb()
growth = (after - before) / 1024.0
print("body=%d bytes rounds=%d statuses=%s rss_before=%.1fMB rss_peak=%.1fMB rss_after=%.1fMB growth=%.1fMB "
      "limit=%.1fMB" % (len(body), rounds, sorted(set(map(str, statuses))), before / 1024.0, peak / 1024.0,
                        after / 1024.0, growth, limit_mb))
if not all(s is not None and 400 <= s < 500 for s in statuses):
    print("FAIL: answers %s" % statuses)
    sys.exit(1)
if growth > limit_mb:
    print("FAIL: RSS grew by %.1f MB and stayed" % growth)
    sys.exit(1)
