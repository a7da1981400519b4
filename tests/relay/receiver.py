#!/usr/bin/env python3
"""Webhook receiver for the relay tests: a real HTTP/1.1 server on loopback
that verifies the relay's signatures and can be told to fail.

    receiver.py --port-file F --out EVENTS.jsonl [--secret-env VAR]

Every accepted request is checked (X-Partnerbus-Signature: t=..,v1=hex
HMAC-SHA256 of "<t>.<body>" under the secret from $VAR, default
RECEIVER_SECRET); a bad or missing signature is answered 401 and counted.
When X-Partnerbus-Signature-V2: t=..,v2=hex is present it is checked too:
HMAC-SHA256 of "v2\n<t>\n<Idempotency-Key>\n<ce-type>\n<body>" (ce-type
empty when absent, as in batches); a bad one is a bad signature. With
{"require_v2": true} a request without it is a bad signature as well.
Each event of an accepted request becomes one line in EVENTS.jsonl:
    {"event": {...}, "headers": {...lower-case...}, "batch": n}

Control (POST /_control with a JSON object, answered 200):
    {"mode": "ok"}                          accept everything (default)
    {"mode": "500", "count": N}             next N requests get 500 (N
                                            omitted: until changed)
    {"mode": "429", "retry_after": S}       429 with Retry-After: S
    {"mode": "slow", "delay": S}            sleep S seconds, then accept
    {"mode": "jitter", "delay": S, "seed": N}
                                            sleep a random 0..S seconds
                                            (random.Random(N), drawn in
                                            arrival order), then accept:
                                            answers come out of order
    {"mode": "close"}                       drop the connection, no answer
    {"reject_field": "shipment_id", "reject_value": "X"}
                                            400 for events whose field has
                                            that value (any mode)
    {"require_v2": true}                    refuse requests without v2
    {"fail_field": "note", "fail_value": "X", "fail_count": N}
                                            500 for the first N requests
                                            holding an event whose field
                                            has that value (any mode)
GET /_stats answers {"requests":..,"accepted":..,"failed":..,"bad_sig":..,
"v2_ok":..,"max_concurrent":..} (v2_ok: requests whose v2 signature was
verified; max_concurrent: most requests in the handler at once).
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"mode": "ok", "count": None, "retry_after": 1, "delay": 0,
         "reject_field": None, "reject_value": None, "require_v2": False,
         "seed": 0, "fail_field": None, "fail_value": None, "fail_count": 0}
STATS = {"requests": 0, "accepted": 0, "failed": 0, "bad_sig": 0,
         "rejected": 0, "v2_ok": 0, "max_concurrent": 0}
RNG = {"rng": None, "seed": None}
CONC = {"now": 0}
OUT = None
SECRET = b""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _answer(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                b = json.dumps(STATS).encode()
            self._answer(200, b, {"Content-Type": "application/json"})
        else:
            self._answer(404)

    def do_POST(self):
        with LOCK:
            CONC["now"] += 1
            STATS["max_concurrent"] = max(STATS["max_concurrent"], CONC["now"])
        try:
            self._post()
        finally:
            with LOCK:
                CONC["now"] -= 1

    def _post(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path == "/_control":
            with LOCK:
                STATE.update(json.loads(body))
            self._answer(200, b"ok")
            return
        with LOCK:
            STATS["requests"] += 1
            mode = STATE["mode"]
            if STATE["count"] is not None and mode != "ok":
                if STATE["count"] <= 0:
                    STATE["mode"], STATE["count"] = "ok", None
                    mode = "ok"
                else:
                    STATE["count"] -= 1
            delay = STATE["delay"]
            ra = STATE["retry_after"]
            rf, rv = STATE["reject_field"], STATE["reject_value"]
            require_v2 = STATE["require_v2"]
            if mode == "jitter":
                if RNG["seed"] != STATE["seed"]:
                    RNG["rng"], RNG["seed"] = random.Random(STATE["seed"]), STATE["seed"]
                delay = RNG["rng"].uniform(0, STATE["delay"])
        if mode == "close":
            with LOCK:
                STATS["failed"] += 1
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if mode == "500":
            with LOCK:
                STATS["failed"] += 1
            self._answer(500, b"receiver told to fail")
            return
        if mode == "429":
            with LOCK:
                STATS["failed"] += 1
            self._answer(429, b"slow down", {"Retry-After": str(ra)})
            return
        if mode in ("slow", "jitter"):
            time.sleep(delay)
        sig = self.headers.get("X-Partnerbus-Signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        want = hmac.new(SECRET, parts.get("t", "").encode() + b"." + body,
                        hashlib.sha256).hexdigest()
        ok = bool(SECRET) and hmac.compare_digest(want, parts.get("v1", ""))
        sig2 = self.headers.get("X-Partnerbus-Signature-V2")
        v2_ok = False
        if sig2 is not None:
            p2 = dict(p.split("=", 1) for p in sig2.split(",") if "=" in p)
            signed = ("v2\n%s\n%s\n%s\n" % (
                p2.get("t", ""), self.headers.get("Idempotency-Key", ""),
                self.headers.get("ce-type", ""))).encode() + body
            want2 = hmac.new(SECRET, signed, hashlib.sha256).hexdigest()
            v2_ok = hmac.compare_digest(want2, p2.get("v2", ""))
            ok = ok and v2_ok
        elif require_v2:
            ok = False
        if not ok:
            with LOCK:
                STATS["bad_sig"] += 1
            self._answer(401, b"bad signature")
            return
        if v2_ok:
            with LOCK:
                STATS["v2_ok"] += 1
        doc = json.loads(body)
        events = doc if isinstance(doc, list) else [doc]
        with LOCK:
            ff, fv = STATE["fail_field"], STATE["fail_value"]
            hit = ff is not None and STATE["fail_count"] > 0 and any(
                str(ev.get(ff)) == fv for ev in events)
            if hit:
                STATE["fail_count"] -= 1
                STATS["failed"] += 1
        if hit:
            self._answer(500, b"receiver told to fail this event")
            return
        if rf is not None:
            for ev in events:
                if str(ev.get(rf)) == rv:
                    with LOCK:
                        STATS["rejected"] += 1
                    self._answer(400, b"event rejected by receiver")
                    return
        hdrs = {k.lower(): v for k, v in self.headers.items()
                if k.lower().startswith(("ce-", "idempotency", "x-partnerbus",
                                         "content-type", "authorization"))}
        lines = "".join(json.dumps({"event": ev, "headers": hdrs,
                                    "batch": len(events)},
                                   ensure_ascii=False) + "\n"
                        for ev in events)
        with LOCK:
            OUT.write(lines)
            OUT.flush()
            STATS["accepted"] += 1
        self._answer(200, b"")


class Server(ThreadingHTTPServer):
    # the relay opens twenty and more connections at once; with the default
    # listen backlog of 5 a loaded machine drops handshakes, and a request
    # can wait in the kernel past the relay's 10 s timeout (then it is
    # retried and counted, and the test's exact retry count is off)
    request_queue_size = 256
    daemon_threads = True


def main():
    global OUT, SECRET
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--secret-env", default="RECEIVER_SECRET")
    a = ap.parse_args()
    SECRET = os.environ.get(a.secret_env, "").encode()
    OUT = open(a.out, "a", encoding="utf-8")
    srv = Server(("127.0.0.1", 0), Handler)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
