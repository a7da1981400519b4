#!/usr/bin/env python3
"""Load generator for the gateway integration tests (stdlib only).

Posts events built from an example file, each with a fresh event_id, from
several threads over keep-alive connections, and records what the gateway
answered:

  loadgen.py --url http://127.0.0.1:PORT --token T --type aid.dispatched \
      --example FILE --threads 4 (--count N | --seconds S) [--retry] \
      [--out accepted.txt] [--stats stats.json]

--retry: an event answered 5xx, or whose connection failed, is sent again
with the same event_id until it gets a 2xx (or --give-up seconds passed):
what a well-behaved client does. accepted.txt gets one event_id per line
for every 2xx answer (a duplicate answer counts once). stats.json counts
answers by status ("conn_error" for failed connections).
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pb_options import options  # noqa: E402


def main():
    a = options("url token type example", threads=4, count=0, seconds=0.0,
                retry=False, give_up=120.0, out=None, stats=None)

    tmpl = json.load(open(a.example, encoding="utf-8"))
    u = urllib.parse.urlsplit(a.url)
    path = "/v1/events/" + a.type
    lock = threading.Lock()
    accepted = []
    stats = {}
    counter = [0]
    t_end = time.time() + a.seconds if a.seconds else None

    def next_index():
        with lock:
            if a.count and counter[0] >= a.count:
                return None
            if t_end and time.time() >= t_end:
                return None
            counter[0] += 1
            return counter[0]

    def count(k):
        with lock:
            stats[k] = stats.get(k, 0) + 1

    def worker():
        conn = None
        while True:
            i = next_index()
            if i is None:
                break
            ev = dict(tmpl)
            ev["event_id"] = str(uuid.uuid4())
            body = json.dumps(ev).encode()
            deadline = time.time() + a.give_up
            while True:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(u.hostname, u.port,
                                                          timeout=60)
                    conn.request("POST", path, body, {
                        "Authorization": "Bearer " + a.token,
                        "Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    status = r.status
                    if r.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException):
                    status = "conn_error"
                    if conn is not None:
                        conn.close()
                    conn = None
                count(str(status))
                if isinstance(status, int) and 200 <= status < 300:
                    with lock:
                        accepted.append(ev["event_id"])
                    break
                if not a.retry or time.time() > deadline:
                    break
                if status == 429 or status == "conn_error" or \
                        (isinstance(status, int) and status >= 500) or \
                        status == 409:
                    time.sleep(0.2)
                    continue
                break  # 4xx other than 409/429: not retriable
        if conn is not None:
            conn.close()

    ts = [threading.Thread(target=worker) for _ in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if a.out:
        with open(a.out, "w") as f:
            for e in accepted:
                f.write(e + "\n")
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(stats, f)
    print(json.dumps({"sent": counter[0], "accepted": len(accepted),
                      "answers": stats}))


if __name__ == "__main__":
    main()
