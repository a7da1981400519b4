#!/usr/bin/env python3
"""Sends a chunked body (no Content-Length) and reports what happened.

  slow_upload.py PORT TOKEN TYPE CHUNK_BYTES CHUNKS

Sends CHUNKS chunks of CHUNK_BYTES with a short pause each, then the last
chunk, then reads the answer. Prints "STATUS SENT_BYTES", STATUS being the
HTTP status, or "closed" when the gateway closed the connection before an
answer (it cuts off bodies streaming far beyond the limit)."""
import socket
import sys
import time

port, token, typ = int(sys.argv[1]), sys.argv[2], sys.argv[3]
chunk, nchunks = int(sys.argv[4]), int(sys.argv[5])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(("POST /v1/events/%s HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\n\r\n" % (typ, token)).encode())
sent = 0
data = b"{" + b" " * (chunk - 1)
try:
    for i in range(nchunks):
        s.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
        sent += len(data)
        data = b" " * chunk
        time.sleep(0.005)
    s.sendall(b"0\r\n\r\n")
except OSError:
    print("closed", sent)
    sys.exit(0)
s.settimeout(10)
resp = b""
try:
    while b"\r\n" not in resp:
        b = s.recv(4096)
        if not b:
            break
        resp += b
except OSError:
    pass
if resp.startswith(b"HTTP/"):
    print(resp.split(b" ")[1].decode(), sent)
else:
    print("closed", sent)
