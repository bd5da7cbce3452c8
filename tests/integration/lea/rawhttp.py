#!/usr/bin/env python3
"""A raw HTTP/1.1 client over mutual TLS for the framing and slow-body checks of
tests/integration/test_lea_http.sh: sends bytes exactly as given (no normalisation), then
reports what the server did.

Usage: rawhttp.py PORT PKI [options] < REQUEST-BYTES
  --rate N      send the bytes after the first empty line (the body) at N bytes per second,
                the request line and header fields at once (default: all at once)
  --wait S      after sending, wait at most S seconds for the server (default 5)
  --hold        keep sending (at --rate) until the server answers or closes, for at most
                --wait seconds in all
Prints one line: the status code of every response received, in order, then "eof" when the
server closed the connection within the wait, else "open"; e.g. "400 eof", "200 200 open",
"eof" (closed without a response). Headers of the responses go to stderr."""
import re
import select
import socket
import ssl
import sys
import time

args = sys.argv[1:]
port, pki = int(args[0]), args[1]
rate, wait, hold = 0.0, 5.0, False
i = 2
while i < len(args):
    if args[i] == "--rate":
        rate = float(args[i + 1]); i += 2
    elif args[i] == "--wait":
        wait = float(args[i + 1]); i += 2
    elif args[i] == "--hold":
        hold = True; i += 1
    else:
        sys.exit("rawhttp.py: unknown option " + args[i])

data = sys.stdin.buffer.read()
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/csp1.pem", pki + "/csp1.key")
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.setblocking(False)
got = b""
eof = False


def pump(timeout):
    """Reads what the server sent within timeout seconds; sets eof."""
    global got, eof
    end = time.monotonic() + timeout
    while not eof:
        left = end - time.monotonic()
        if s.pending() == 0:
            if left <= 0:
                return
            r, _, _ = select.select([s], [], [], left)
            if not r:
                return
        try:
            b = s.recv(65536)
        except ssl.SSLWantReadError:
            continue
        except (ConnectionError, ssl.SSLError, OSError):
            eof = True
            return
        if not b:
            eof = True
            return
        got += b


def send(b):
    global eof
    try:
        s.setblocking(True)
        s.sendall(b)
    except (ConnectionError, ssl.SSLError, OSError):
        eof = True
    finally:
        s.setblocking(False)


start = time.monotonic()
if rate <= 0:
    send(data)
else:
    step = max(1, int(rate / 10))  # ten writes per second
    head = data.find(b"\r\n\r\n")
    pos = head + 4 if head >= 0 else 0
    send(data[:pos])
    while not eof and time.monotonic() - start < wait:
        if pos >= len(data):
            if not hold:
                break
            pos = 0
        send(data[pos:pos + step])
        pos += step
        pump(step / rate)
        if got and not hold:
            break
        if got and hold:
            break
pump(max(0.0, wait - (time.monotonic() - start)) if not got else 1.0)
if not eof and got:
    pump(1.0)
codes = re.findall(rb"(?:^|\r?\n)HTTP/1\.[01] (\d{3})", got)
sys.stderr.write(got.decode("latin-1")[:4000] + "\n")
print(" ".join(c.decode() for c in codes + [b"eof" if eof else b"open"]))
