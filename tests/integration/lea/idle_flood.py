#!/usr/bin/env python3
"""Holds N idle TLS connections to a listener (no client certificate, no request), spread over
loopback source addresses 127.0.0.2, 127.0.0.3, ... (PER_ADDR each, under the per-IP limit),
to check that unauthenticated connections cannot starve authenticated peers. Writes "ready
OPENED" to stdout once every connection was attempted, then keeps the open ones until
killed (SIGTERM).

usage: idle_flood.py PORT N PER_ADDR"""
import signal
import socket
import ssl
import sys

port, n, per = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
held = []
for i in range(n):
    src = '127.0.0.%d' % (2 + i // per)
    try:
        raw = socket.create_connection(('127.0.0.1', port), timeout=5, source_address=(src, 0))
        held.append(ctx.wrap_socket(raw))  # handshake done, then idle
    except (OSError, ssl.SSLError):
        pass
print('ready %d' % len(held), flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
