#!/usr/bin/env python3
"""Request framing and header hygiene over raw sockets (issue 11, finding 6).

  framing.py PORT TOKEN

Each case sends one request on a new connection and reads until the
gateway closes it (or 2 s pass). Checks the status of the first answer,
that exactly one status line came back, and (for refused framing) that the
connection was closed rather than kept for a smuggled second request.
Prints one line per case; exit status 1 if any failed."""
import socket
import sys

port, token = int(sys.argv[1]), sys.argv[2].encode()


def send(raw):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(2)
    s.sendall(raw)
    data, closed = b"", False
    try:
        while True:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            data += d
    except socket.timeout:
        pass
    s.close()
    return data, closed


def head(extra, body=b"", path=b"/v1/events/aid.dispatched"):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: text/plain\r\n" + extra + b"\r\n" + body)


AUTH = b"Authorization: Bearer " + token + b"\r\n"
smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
cases = [
    # name, request, allowed statuses, must close
    ("valid token (415: text/plain)", head(AUTH + b"Content-Length: 2\r\n", b"{}"), {415}, False),
    ("NUL after the token", head(b"Authorization: Bearer " + token + b"\x00junk\r\nContent-Length: 2\r\n", b"{}"),
     {400, 401}, True),
    ("NUL after the token, last header", head(b"Content-Length: 2\r\nAuthorization: Bearer " + token + b"\x00junk\r\n", b"{}"),
     {400, 401}, True),
    ("NUL in another header", head(AUTH + b"X-Note: a\x00b\r\nContent-Length: 2\r\n", b"{}"), {400}, True),
    ("Content-Length and chunked", head(AUTH + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                                        b"0\r\n\r\n" + smuggled), {400}, True),
    ("chunked and Content-Length", head(AUTH + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                                        b"0\r\n\r\n" + smuggled), {400}, True),
    ("conflicting Content-Length", head(AUTH + b"Content-Length: 2\r\nContent-Length: 40\r\n", b"{}" + smuggled),
     {400}, True),
    ("Content-Length twice", head(AUTH + b"Content-Length: 2\r\nContent-Length: 2\r\n", b"{}"), {400}, True),
    ("CL and TE on a GET", b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}, True),
]
bad = 0
for name, raw, want, must_close in cases:
    data, closed = send(raw)
    lines = data.count(b"HTTP/1.1 ")
    try:
        status = int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = None
    ok = status in want and lines == 1 and (closed or not must_close)
    print("%s %-34s status=%s status_lines=%d closed=%s" % ("ok  " if ok else "FAIL", name, status, lines, closed))
    bad += not ok
sys.exit(1 if bad else 0)
