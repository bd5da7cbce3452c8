#!/usr/bin/env python3
"""Test peer for li707 fetch (TS 103 707 Annex E, R-BIN-C2): an HTTPS server that answers
Range requests on one file but resets the connection after LIMIT body bytes of any response
longer than LIMIT, so the client must shrink its range size to make progress.

usage: reset_server.py PORT CERT KEY FILE LIMIT LOG
Every request is logged to LOG as "START-END sent|reset"."""
import http.server
import os
import socket
import ssl
import struct
import sys

PORT, CERT, KEY, FILE, LIMIT, LOG = sys.argv[1:7]
PORT, LIMIT = int(PORT), int(LIMIT)
DATA = open(FILE, "rb").read()
ETAG = '"li707-%d"' % len(DATA)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        start, end = 0, len(DATA) - 1
        rng = self.headers.get("Range")
        status = 200
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = min(int(b), len(DATA) - 1) if b else len(DATA) - 1
            status = 206
        body = DATA[start:end + 1]
        self.send_response(status)
        self.send_header("ETag", ETAG)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(DATA)))
        self.end_headers()
        with open(LOG, "a") as log:
            if len(body) > LIMIT:
                log.write("%d-%d reset\n" % (start, end))
                self.wfile.write(body[:LIMIT // 2])
                self.wfile.flush()
                # Abortive close: RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            log.write("%d-%d sent\n" % (start, end))
            self.wfile.write(body)


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
