#!/usr/bin/env python3
"""Merges the ActionRequests of several HI1Messages built by `li707 build` into one message
(the header of the first), numbering ActionIdentifier 0, 1, ... in order. Text based, so
every action keeps its bytes; all inputs must declare the same namespace prefixes on the
root (li707 build does).

Usage: merge.py OUT IN1 IN2 ..."""
import re
import sys

out, ins = sys.argv[1], sys.argv[2:]
texts = [open(p, encoding="utf-8").read() for p in ins]
blocks = []
for t in texts:
    blocks += re.findall(r"[ \t]*<ActionRequest>.*?</ActionRequest>\n?", t, re.S)
first = texts[0]
a = first.index("<ActionRequests>") + len("<ActionRequests>")
b = first.index("</ActionRequests>")
body = ""
for i, blk in enumerate(blocks):
    body += re.sub(r"<ActionIdentifier>\d+</ActionIdentifier>",
                   "<ActionIdentifier>%d</ActionIdentifier>" % i, blk, count=1)
open(out, "w", encoding="utf-8").write(first[:a] + "\n" + body + first[b:])
