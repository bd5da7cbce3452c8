#!/usr/bin/env python3
"""A delivery cut by SIGTERM (docs/internals/http_server.md, drain): connect with the client
certificate, send the request headers and half the body, SIGTERM the daemon DELAY seconds
later, then send the rest. Prints the status line of the response, or "EOF no response".

usage: drain_mid_request.py PORT PKI-DIR DAEMON-PID MESSAGE DELAY"""
import os
import signal
import socket
import ssl
import sys
import time

port, pki, pid, msg, delay = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
body = open(msg, 'rb').read()
ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
ctx.load_cert_chain(pki + '/csp1.pem', pki + '/csp1.key')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)), server_hostname='127.0.0.1')
half = len(body) // 2
s.sendall(b'POST /hi1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n'
          b'Content-Length: %d\r\n\r\n' % len(body) + body[:half])
time.sleep(delay)
os.kill(pid, signal.SIGTERM)
time.sleep(0.02)
data = b''
try:
    s.sendall(body[half:])
    s.settimeout(30)
    while b'\r\n' not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
except (OSError, ssl.SSLError) as e:
    print('error', type(e).__name__, file=sys.stderr)
print(data.split(b'\r\n')[0].decode() if data else 'EOF no response')
