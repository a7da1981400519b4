#!/usr/bin/env python3
"""A small in-memory schema registry for the tests, speaking the part of
Confluent's Schema Registry REST API that partnerbus and read_topic.py use
(as documented by Confluent: "Schema Registry API Reference"):

  POST /subjects/{subject}/versions  {"schema": "<json>"}  -> {"id": N}
       registers (the same schema again keeps its id, in any subject)
  POST /subjects/{subject}           {"schema": "<json>"}  -> {"subject", "id", "version", "schema"}
       looks a schema up; 404 {"error_code": 40403} if not registered there
  GET  /schemas/ids/{id}                                   -> {"schema": "<json>"}
  GET  /subjects                                           -> ["subject", ...]
  GET  /subjects/{subject}/versions                        -> [1, 2, ...]
  GET  /subjects/{subject}/versions/{n|latest}             -> {"subject", "id", "version", "schema"}

Errors are {"error_code": N, "message": "..."} with Confluent's codes (40401
subject not found, 40402 version not found, 40403 schema not found, 42201
invalid schema). Not a registry for production: no compatibility checks, no
persistence.

Usage: mini_registry.py --port-file FILE [--port 0]
Listens on 127.0.0.1, writes the port it got to FILE, runs until SIGTERM.
"""

import argparse
import json
import os
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CT = "application/vnd.schemaregistry.v1+json"


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.ids = {}        # id -> schema string (as first registered)
        self.by_norm = {}    # normalised schema -> id
        self.subjects = {}   # subject -> [id per version]

    @staticmethod
    def norm(schema_str):
        return json.dumps(json.loads(schema_str), sort_keys=True, separators=(",", ":"))

    def register(self, subject, schema_str):
        n = self.norm(schema_str)
        with self.lock:
            sid = self.by_norm.get(n)
            if sid is None:
                sid = len(self.ids) + 1
                self.ids[sid] = schema_str
                self.by_norm[n] = sid
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            return sid

    def lookup(self, subject, schema_str):
        n = self.norm(schema_str)
        with self.lock:
            sid = self.by_norm.get(n)
            versions = self.subjects.get(subject)
            if versions is None:
                return None, 40401
            if sid is None or sid not in versions:
                return None, 40403
            return {"subject": subject, "id": sid, "version": versions.index(sid) + 1,
                    "schema": self.ids[sid]}, 0


STORE = Store()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    max_body = 1 << 20

    def log_message(self, fmt, *args):  # quiet unless asked
        if os.environ.get("MINI_REGISTRY_LOG"):
            sys.stderr.write("mini_registry: " + fmt % args + "\n")

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", CT)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, msg):
        self.reply(status, {"error_code": code, "message": msg})

    def parts(self):
        path = urllib.parse.urlparse(self.path).path
        return [urllib.parse.unquote(p) for p in path.strip("/").split("/") if p]

    def read_schema(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n <= 0 or n > self.max_body:
            self.error(422, 42201, "missing or oversized body")
            return None
        try:
            body = json.loads(self.rfile.read(n))
            schema = body["schema"]
            Store.norm(schema)  # must be JSON
            if body.get("schemaType", "AVRO") != "AVRO":
                raise ValueError("only AVRO")
            return schema
        except Exception as e:
            self.error(422, 42201, f"Invalid schema: {e}")
            return None

    def do_POST(self):
        p = self.parts()
        if len(p) == 3 and p[0] == "subjects" and p[2] == "versions":
            schema = self.read_schema()
            if schema is not None:
                self.reply(200, {"id": STORE.register(p[1], schema)})
        elif len(p) == 2 and p[0] == "subjects":
            schema = self.read_schema()
            if schema is None:
                return
            found, code = STORE.lookup(p[1], schema)
            if found:
                self.reply(200, found)
            elif code == 40401:
                self.error(404, 40401, "Subject not found.")
            else:
                self.error(404, 40403, "Schema not found")
        else:
            self.error(404, 404, "HTTP 404 Not Found")

    def do_GET(self):
        p = self.parts()
        with STORE.lock:
            if len(p) == 3 and p[:2] == ["schemas", "ids"] and p[2].isdigit():
                s = STORE.ids.get(int(p[2]))
                if s is None:
                    return self.error(404, 40403, "Schema not found")
                return self.reply(200, {"schema": s})
            if p == ["subjects"]:
                return self.reply(200, sorted(STORE.subjects))
            if len(p) >= 3 and p[0] == "subjects" and p[2] == "versions":
                versions = STORE.subjects.get(p[1])
                if versions is None:
                    return self.error(404, 40401, "Subject not found.")
                if len(p) == 3:
                    return self.reply(200, list(range(1, len(versions) + 1)))
                if len(p) == 4:
                    v = len(versions) if p[3] == "latest" else int(p[3]) if p[3].isdigit() else 0
                    if not 1 <= v <= len(versions):
                        return self.error(404, 40402, "Version not found.")
                    sid = versions[v - 1]
                    return self.reply(200, {"subject": p[1], "id": sid, "version": v,
                                            "schema": STORE.ids[sid]})
        self.error(404, 404, "HTTP 404 Not Found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{srv.server_address[1]}\n")
    os.replace(tmp, args.port_file)
    srv.serve_forever()
    srv.server_close()


if __name__ == "__main__":
    main()
