#!/usr/bin/env python3
"""A webhook receiver for the admin tests, on loopback.

echo_receiver.py MODE PORTFILE LOG
  MODE echo     answers the verification request with {"challenge": ...}
       plain    answers it with the challenge as text/plain
       noecho   answers 200 {"ok": true} (does not echo: refused)
       wrong    echoes another challenge
       fail     answers 500
Every request is appended to LOG as one JSON line (path, headers, body).
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE, PORTFILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(LOG, "a") as f:
            f.write(json.dumps({"path": self.path,
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body}) + "\n")
        try:
            challenge = json.loads(body).get("challenge", "")
        except Exception:
            challenge = ""
        if MODE == "fail":
            out, ctype, code = b'{"error":"down"}', "application/json", 500
        elif MODE == "noecho":
            out, ctype, code = b'{"ok":true}', "application/json", 200
        elif MODE == "wrong":
            out, ctype, code = json.dumps({"challenge": "x" + challenge}).encode(), "application/json", 200
        elif MODE == "plain":
            out, ctype, code = challenge.encode(), "text/plain", 200
        else:
            out, ctype, code = json.dumps({"challenge": challenge}).encode(), "application/json", 200
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
