#!/usr/bin/env python3
"""A receiver of HI-1 deliveries that is not li707 (tests/integration/test_csp_deliver.sh).

Python's http.server behind Python's ssl module (OpenSSL): HTTPS with a client certificate
required (the test CA), HTTP/1.1 with keep-alive. Every POST gets a canned TS 103 120
DELIVERResponse that echoes the request's TransactionIdentifier and the DELIVER's Identifier
(taken with regular expressions, no li707 code), except the first --fail-first POSTs, which
get 503 with Retry-After: 1. Each POST is logged to --log as "N REFERENCE SEQ STATUS".

usage: hi1_canned_receiver.py --cert C --key K --cacert CA --log FILE [--fail-first N]
Prints "PORT n" on stdout once listening on 127.0.0.1 (an ephemeral port)."""
import argparse
import http.server
import re
import ssl
import sys
import threading

CANNED = """<?xml version="1.0" encoding="UTF-8"?>
<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core">
  <Header>
    <SenderIdentifier><CountryCode>XX</CountryCode><UniqueIdentifier>py-lea</UniqueIdentifier></SenderIdentifier>
    <ReceiverIdentifier><CountryCode>XX</CountryCode><UniqueIdentifier>{receiver}</UniqueIdentifier></ReceiverIdentifier>
    <TransactionIdentifier>{tid}</TransactionIdentifier>
    <Timestamp>2026-01-01T00:00:00.000000Z</Timestamp>
    <Version><ETSIVersion>V1.14.1</ETSIVersion><NationalProfileOwner>N/A</NationalProfileOwner><NationalProfileVersion>N/A</NationalProfileVersion></Version>
  </Header>
  <Payload>
    <ResponsePayload>
      <ActionResponses>
        <ActionResponse>
          <ActionIdentifier>0</ActionIdentifier>
          <DELIVERResponse><Identifier>{ident}</Identifier></DELIVERResponse>
        </ActionResponse>
      </ActionResponses>
    </ResponsePayload>
  </Payload>
</HI1Message>
"""

lock = threading.Lock()
count = 0


def first(pattern, text):
    m = re.search(pattern, text, re.S)
    return m.group(1) if m else ""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        global count
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        ref = first(r"<(?:\w+:)?(?:LIID|LDID)>([^<]*)<", body)
        seq = first(r"<(?:\w+:)?SequenceNumber>(\d+)<", body)
        with lock:
            count += 1
            k = count
        if k <= self.server.fail_first:
            status, out, extra = 503, b"busy\n", [("Retry-After", "1")]
        else:
            out = CANNED.format(
                receiver=first(r"<SenderIdentifier>.*?<UniqueIdentifier>([^<]*)<", body),
                tid=first(r"<TransactionIdentifier>([^<]*)<", body),
                ident=first(r"<(?:\w+:)?DELIVER>.*?<(?:\w+:)?Identifier>([^<]*)<", body)
                or first(r"<ObjectIdentifier>([^<]*)<", body)).encode()
            status, extra = 200, []
        with lock, open(self.server.log, "a") as f:
            f.write(f"{k} {ref} {seq} {status}\n")
        self.send_response(status)
        self.send_header("Content-Type", "application/xml" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(out)))
        for h, v in extra:
            self.send_header(h, v)
        self.end_headers()
        self.wfile.write(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--cacert", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.cacert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.log = a.log
    srv.fail_first = a.fail_first
    print("PORT", srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
