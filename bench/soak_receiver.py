#!/usr/bin/env python3
"""A webhook receiver for bench/soak.sh that fails a share of requests.

  soak_receiver.py --port-file F --out ids.txt [--fail 0.10] [--seed 1729]

Answers 500 to a fraction --fail of the POSTs (drawn from a fixed seed,
so a run can be repeated), 204 to the others. For every accepted POST it
appends the event ids of the body (one object, or a JSON array of them)
to --out, one per line, before answering: an id in the file was accepted
at least once. Counts are printed to stderr on SIGTERM.
"""
import argparse
import json
import random
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fail", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=1729)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    lock = threading.Lock()
    out = open(a.out, "a", encoding="utf-8")
    counts = {"accepted": 0, "failed": 0, "events": 0}

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            with lock:
                fail = rnd.random() < a.fail
                if fail:
                    counts["failed"] += 1
                else:
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        doc = None
                    evs = doc if isinstance(doc, list) else [doc]
                    ids = [e.get("event_id") for e in evs
                           if isinstance(e, dict)]
                    for i in ids:
                        out.write("%s\n" % i)
                    out.flush()
                    counts["accepted"] += 1
                    counts["events"] += len(ids)
            self.send_response(500 if fail else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    class Srv(ThreadingHTTPServer):
        request_queue_size = 256  # many connections at once; 5 overflows

    srv = Srv(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)

    def stop(*_):
        print("receiver: %s" % json.dumps(counts), file=sys.stderr)
        threading.Thread(target=srv.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    srv.serve_forever()


if __name__ == "__main__":
    main()
