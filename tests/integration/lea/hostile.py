#!/usr/bin/env python3
"""Writes the hostile HI-1 bodies of tests/integration/test_lea.sh into DIR, from a good
message GOOD (bytes of the good message are reused where a case needs a real envelope).

Usage: hostile.py GOOD DIR CAP   (CAP: the daemon's max_message_bytes)"""
import os
import sys

good, d, cap = open(sys.argv[1], "rb").read(), sys.argv[2], int(sys.argv[3])
os.makedirs(d, exist_ok=True)


def w(name, data):
    open(os.path.join(d, name), "wb").write(data)


root = good.index(b"<HI1Message")
# XXE: an external entity referencing a local file, used in the body.
w("xxe.xml", good[:root] + b'<!DOCTYPE HI1Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
  + good[root:].replace(b"<ETSIVersion>", b"<ETSIVersion>&xxe;", 1))
# Billion laughs: nested internal entities.
lol = b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
for i in range(1, 10):
    prev = b"&lol%d;" % (i - 1) if i > 1 else b"&lol;"
    lol += b'<!ENTITY lol%d "%s">' % (i, prev * 10)
lol += b"]>\n<lolz>&lol9;</lolz>\n"
w("billion-laughs.xml", b'<?xml version="1.0"?>\n' + lol)
# Over the cap: a comment padding a good message past CAP bytes.
pad = b"<!--" + b"x" * (cap + 1024) + b"-->"
w("oversize.xml", good[:root] + pad + good[root:])
# Deep nesting: 100 000 nested elements.
w("deep.xml", b'<?xml version="1.0"?>\n' + b"<a>" * 100000 + b"</a>" * 100000)
# Bad UTF-8 inside a good envelope.
w("bad-utf8.xml", good.replace(b"<ETSIVersion>", b"<ETSIVersion>\xc3\x28\xff", 1))
# Truncated in the middle.
w("truncated.xml", good[: len(good) // 2])
w("empty.xml", b"")
# NUL bytes inside the document.
w("nul.xml", good.replace(b"<Header>", b"<Header>\x00\x00\x00", 1))
# A huge attribute (within the cap) on the root element.
w("huge-attr.xml", good[:root] + good[root:].replace(
    b"<HI1Message", b'<HI1Message junk="' + b"A" * (cap // 2) + b'"', 1))
w("not-xml.txt", b"this is not XML at all\n")
