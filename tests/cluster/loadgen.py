#!/usr/bin/env python3
"""Load generator of the cluster test (stdlib only: http.client, threads).

Publishes events 0..N-1 of the known set (events.py) at a steady rate,
event i through gateway i % len(--gateways) (round robin over both), as
single-event POSTs over keep-alive connections, and records EVERY answer:

  loadgen.py --gateways http://127.0.0.1:P1,http://127.0.0.1:P2 \
      --token-file F --org ORG --run R --examples DIR --count N --rate R \
      [--threads 16] [--max-attempts 10] [--timeout 30] \
      --out answers.jsonl [--progress SECS]

A well-behaved client's retry: an answer 5xx, 409 (in flight), 429 or a
failed/timed-out connection is retried with the SAME event_id (and the
same body) to the same gateway, after Retry-After (at most 5 s) or an
exponential backoff, up to --max-attempts attempts. Other 4xx are final.

answers.jsonl: one line per attempt
  {"i":..,"event_id":..,"type":..,"gw":0|1,"attempt":1..,"status":201|503|
   "conn_error","t":<s since start>,"ms":<latency>,"topic":..,
   "partition":..,"offset":..,"duplicate":..,"error":..}
and one final line per event {"i":..,"final":true,"status":..} with the
status of its last attempt. Exit 0 when every event got an answer
(whatever it was): judging them is the checker's job.
"""
import http.client
import json
import os
import queue
import random
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from events import EventSet  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pb_options import options  # noqa: E402

RETRIABLE_4XX = (408, 409, 429)


def main():
    a = options("gateways token-file org run examples count:int rate:float out",
                threads=16, max_attempts=10, timeout=30.0, progress=10.0)

    with open(a.token_file, encoding="utf-8") as f:
        token = f.read().strip()
    gws = []
    for u in a.gateways.split(","):
        s = urllib.parse.urlsplit(u)
        gws.append((s.hostname, s.port))
    es = EventSet(a.examples, a.run, a.org)
    out = open(a.out, "w", encoding="utf-8")
    lock = threading.Lock()
    stats = {}
    finals = {}
    t0 = time.monotonic()
    work = queue.Queue()

    def record(rec):
        line = json.dumps(rec, separators=(",", ":"))
        with lock:
            out.write(line + "\n")
            if rec.get("final"):
                k = str(rec["status"])
                finals[k] = finals.get(k, 0) + 1
            else:
                k = str(rec["status"])
                stats[k] = stats.get(k, 0) + 1

    def worker():
        conns = [None] * len(gws)
        while True:
            i = work.get()
            if i is None:
                break
            g = i % len(gws)
            t, ev = es.event(i)
            body = json.dumps(ev, ensure_ascii=False).encode("utf-8")
            hdr = {"Content-Type": "application/json",
                   "Authorization": "Bearer " + token}
            status = None
            for attempt in range(1, a.max_attempts + 1):
                rec = {"i": i, "event_id": ev["event_id"], "type": t,
                       "gw": g, "attempt": attempt}
                ts = time.monotonic()
                retry_after = None
                try:
                    if conns[g] is None:
                        conns[g] = http.client.HTTPConnection(
                            gws[g][0], gws[g][1], timeout=a.timeout)
                    c = conns[g]
                    c.request("POST", "/v1/events/" + t, body, hdr)
                    r = c.getresponse()
                    data = r.read()
                    status = r.status
                    ra = r.getheader("Retry-After")
                    if ra and ra.isdigit():
                        retry_after = int(ra)
                    if r.getheader("Connection", "").lower() == "close":
                        c.close()
                        conns[g] = None
                    try:
                        ans = json.loads(data)
                    except ValueError:
                        ans = {"error": "unparseable answer: %r" % data[:200]}
                    if 200 <= status < 300:
                        for k in ("topic", "partition", "offset",
                                  "duplicate"):
                            rec[k] = ans.get(k)
                        if ans.get("event_id") != ev["event_id"]:
                            rec["error"] = "answer names event_id %r" % (
                                ans.get("event_id"),)
                    else:
                        rec["error"] = str(ans.get("error", "")) + ": " + \
                            str(ans.get("message", ""))[:200]
                except (OSError, http.client.HTTPException) as e:
                    status = "conn_error"
                    rec["error"] = "%s: %s" % (type(e).__name__, e)
                    if conns[g] is not None:
                        conns[g].close()
                    conns[g] = None
                rec["status"] = status
                rec["t"] = round(ts - t0, 3)
                rec["ms"] = round((time.monotonic() - ts) * 1000, 1)
                record(rec)
                retriable = (status == "conn_error" or status >= 500 or
                             status in RETRIABLE_4XX)
                if not retriable or attempt == a.max_attempts:
                    break
                if retry_after is not None:
                    delay = min(retry_after, 5)
                else:
                    delay = min(0.25 * 2 ** attempt, 5)
                time.sleep(delay * (0.5 + random.random() / 2))
            record({"i": i, "event_id": ev["event_id"], "type": t, "gw": g,
                    "final": True, "status": status})

    threads = [threading.Thread(target=worker, daemon=True)
               for _ in range(a.threads)]
    for th in threads:
        th.start()
    # pacing: event i is due at t0 + i / rate
    next_progress = a.progress
    for i in range(a.count):
        due = t0 + i / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        work.put(i)
        el = time.monotonic() - t0
        if a.progress and el >= next_progress:
            with lock:
                print("loadgen: t=%.0fs queued=%d answers=%s" % (
                    el, i + 1, json.dumps(stats, sort_keys=True)),
                    file=sys.stderr, flush=True)
            next_progress += a.progress
    for _ in threads:
        work.put(None)
    for th in threads:
        th.join()
    out.close()
    el = time.monotonic() - t0
    print("loadgen: %d events in %.1fs (%.0f/s); attempts by status %s; "
          "final status %s" % (a.count, el, a.count / el,
                               json.dumps(stats, sort_keys=True),
                               json.dumps(finals, sort_keys=True)),
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
