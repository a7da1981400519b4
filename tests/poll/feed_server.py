#!/usr/bin/env python3
"""Feed server for the poll tests: serves the files of a directory as the
feeds organisations publish, with ETag / If-None-Match and Last-Modified /
If-Modified-Since, so tests can change a file between two polls.

  feed_server.py DIR PORTFILE

GET /NAME            DIR/NAME (Content-Type from the extension: .json,
                     .ndjson, .csv, .html; DIR/NAME.ctype overrides)
GET /NAME?page=N     DIR/NAME.pageN (pagination); DIR/NAME.pageN.link, if
                     present, is sent as the Link header
GET /NAME?cursor=C   DIR/NAME.cursor-C (cursor pagination; no cursor:
                     DIR/NAME.cursor-)
DIR/NAME.truncate    present: the response announces the full length but
                     the connection closes after half the body
DIR/token            present: requests need "Authorization: Bearer <it>"
DIR/fail-NAME        present: answer 503 and delete the marker (one failure)

Every request is logged to DIR/requests.log as
  METHOD PATH inm=<If-None-Match> ims=<If-Modified-Since> status=<code>
"""
import email.utils
import hashlib
import http.server
import os
import sys
import urllib.parse

ROOT = sys.argv[1]
CTYPES = {".json": "application/json", ".ndjson": "application/x-ndjson",
          ".csv": "text/csv; charset=utf-8", ".html": "text/html; charset=utf-8"}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self, status):
        with open(os.path.join(ROOT, "requests.log"), "a") as f:
            f.write("GET %s inm=%s ims=%s status=%d\n" % (
                self.path, self.headers.get("If-None-Match", "-"),
                self.headers.get("If-Modified-Since", "-"), status))

    def plain(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.note(status)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        name = os.path.basename(u.path)
        q = urllib.parse.parse_qs(u.query)
        tok = os.path.join(ROOT, "token")
        if os.path.exists(tok):
            want = "Bearer " + open(tok).read().strip()
            if self.headers.get("Authorization") != want:
                return self.plain(401, "unauthorized")
        fail = os.path.join(ROOT, "fail-" + name)
        if os.path.exists(fail):
            os.unlink(fail)
            return self.plain(503, "try again")
        path = os.path.join(ROOT, name)
        if "page" in q:
            path += ".page" + q["page"][0]
        elif "cursor" in q or os.path.exists(path + ".cursor-"):
            path += ".cursor-" + q.get("cursor", [""])[0]
        if not name or not os.path.isfile(path):
            return self.plain(404, "not found")
        body = open(path, "rb").read()
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        mtime = os.path.getmtime(path)
        lm = email.utils.formatdate(mtime, usegmt=True)
        ext = os.path.splitext(name)[1]
        ctype = CTYPES.get(ext, "application/octet-stream")
        if os.path.exists(os.path.join(ROOT, name + ".ctype")):
            ctype = open(os.path.join(ROOT, name + ".ctype")).read().strip()
        inm = self.headers.get("If-None-Match")
        if inm is not None and inm == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return self.note(304)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", lm)
        if os.path.exists(path + ".link"):
            self.send_header("Link", open(path + ".link").read().strip())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if os.path.exists(os.path.join(ROOT, name + ".truncate")):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.note(200)
            self.close_connection = True
            return
        self.wfile.write(body)
        self.note(200)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, sys.argv[2])
    srv.serve_forever()


if __name__ == "__main__":
    main()
