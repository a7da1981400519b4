#!/usr/bin/env python3
"""Slow clients against the gateway (issue 11, finding 5).

  slowloris.py PORT CONNS INTERVAL HEADER_TIMEOUT PER_ADDRESS

Opens CONNS connections from 127.0.0.1; each sends a request line and then
one header line every INTERVAL seconds, never finishing its head (every
fourth sends nothing at all). Meanwhile GET /healthz is asked from another
client address (127.0.0.2) every 0.5 s. Checks:
  - /healthz from the other address answers 200 within 2 s, every time;
  - from 1.5 s on, at most PER_ADDRESS slow connections are open (the rest
    were refused at once);
  - HEADER_TIMEOUT + 2 s after they were opened, none is open any more,
    although each kept sending.
Prints a summary; exit status 1 with the reason when a check fails."""
import select
import socket
import sys
import time

port, nconn = int(sys.argv[1]), int(sys.argv[2])
interval, head_to, per_addr = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])


def healthz():
    t = time.time()
    try:
        s = socket.socket()
        s.settimeout(2)
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        s.close()
        return data.startswith(b"HTTP/1.1 200"), time.time() - t
    except OSError as e:
        return False, time.time() - t


conns = []
t0 = time.time()
for i in range(nconn):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    idle = i % 4 == 3
    if not idle:
        try:
            s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            pass
    conns.append({"s": s, "open": True, "idle": idle, "closed_at": None})

failures = []
checks = 0
worst = 0.0
next_line = t0 + interval
max_open_after = 0
end = t0 + head_to + 2.0
while time.time() < end:
    now = time.time()
    # notice closed connections (EOF or reset)
    rl = [c["s"] for c in conns if c["open"]]
    if rl:
        r, _, _ = select.select(rl, [], [], 0.05)
        for c in conns:
            if c["open"] and c["s"] in r:
                try:
                    d = c["s"].recv(4096)
                except OSError:
                    d = b""
                if not d:
                    c["open"] = False
                    c["closed_at"] = now - t0
    if now >= next_line:
        next_line += interval
        for c in conns:
            if c["open"] and not c["idle"]:
                try:
                    c["s"].send(b"X-Slow: %d\r\n" % int(now))
                except OSError:
                    c["open"] = False
                    c["closed_at"] = now - t0
    if now - t0 >= 1.5:
        n = sum(1 for c in conns if c["open"])
        max_open_after = max(max_open_after, n)
    if checks < (now - t0) / 0.5:
        checks += 1
        ok, took = healthz()
        worst = max(worst, took)
        if not ok:
            failures.append("/healthz from 127.0.0.2 unanswered at %.1f s (%.1f s)" % (now - t0, took))

still = sum(1 for c in conns if c["open"])
held = [c["closed_at"] for c in conns if c["closed_at"] is not None and c["closed_at"] > 1.0]
print("conns=%d healthz_checks=%d healthz_worst=%.2fs open_after_1.5s_max=%d open_at_end=%d "
      "closed_by_deadline_at=%s" % (nconn, checks, worst, max_open_after, still,
                                    ",".join("%.1f" % x for x in sorted(held))))
if max_open_after > per_addr:
    failures.append("%d slow connections from one address open, limit %d" % (max_open_after, per_addr))
if still:
    failures.append("%d slow connections still open %.1f s after they started" % (still, head_to + 2))
if failures:
    print("FAIL: " + "; ".join(failures[:5]))
    sys.exit(1)
