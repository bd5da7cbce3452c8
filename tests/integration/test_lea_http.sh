#!/usr/bin/env bash
# Integration test of li707-lea's HTTP request path against clients nobody here wrote (curl,
# python3's ssl module sending raw bytes): bodies that cross their cap mid-way, Model B
# lengths that differ from the record, strict HTTP/1.1 framing (RFC 9112 sections 5, 6.3),
# slow bodies, and the memory budget for buffered bodies. Arguments: TOOL SRCDIR SHARED
# BUILDDIR (as the other integration scripts). Ends with "N passed, M failed"; exit 77 when
# something it needs is missing. KEEPT=DIR keeps the work directory for a post-mortem.
set -uo pipefail

TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
for t in curl openssl jq python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-http-XXXXXX")
LPID=
cleanup() {
	[ -n "$LPID" ] && kill -9 "$LPID" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	[ -n "${KEEPT:-}" ] && cp -r "$T" "$KEEPT"
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/lea.sh"
H=$(dirname "$0")/lea

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" || { echo "pki.sh failed"; exit 1; }
ST=$T/store

# write_conf [EXTRA-SERVER-KEYS]: caps of 1 MiB for messages and uploads.
write_conf() {
	cat >"$T/lea.conf" <<EOF
[server]
listen = 127.0.0.1:0
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
crl = $P/crl.pem
store = $ST
schema_dir = $SRC/schemas
max_message_bytes = 1M
max_upload_bytes = 1M
idle_timeout = 20
${1:-}

[peer csp1]
san = csp1.test
references = any
models = B
EOF
}

# start_lea NAME: starts the daemon (log in $T/NAME.log), sets PORT, URL, LPID, LOG.
start_lea() {
	LOG=$T/$1.log
	lea_start "$T/lea.conf" "$LOG"
	URL=https://127.0.0.1:$PORT
}

stop_lea() { lea_stop; }

C1=(curl -sS --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")
XML='Content-Type: application/xml'
OCT='Content-Type: application/octet-stream'
# raw [RAWHTTP-ARGS]: sends stdin as is over mutual TLS; prints the statuses and eof|open.
raw() { python3 "$H/rawhttp.py" "$PORT" "$P" "$@" 2>>"$T/raw.err"; }
uuid() { cat /proc/sys/kernel/random/uuid; }

# msg NAME SECOND: a good delivery on stdout (a new ObjectIdentifier each time).
msg() {
	printf '{"liid": "HTTP-REF-1", "timestamp": "2026-03-01T10:00:%02dZ", "sender": {"ids": ["%s"]}}\n' "$2" "$1" |
		"$TOOL" build --base-dir "$SRC/samples" 2>"$T/build.err" ||
		{ echo "build failed: $(cat "$T/build.err")" >&2; exit 1; }
}
msg good 0 >"$T/good.xml"
# deliveries: how many deliveries the store holds (li707-lea list).
deliveries() { "$LEA" list --store "$ST" --json | jq length; }

write_conf
start_lea main

# ---------------------------------------------------------------- item 1: chunked over the cap
head -c $((2 << 20)) /dev/zero >"$T/2m.bin"
U=$(uuid)
out=$("${C1[@]}" -H "$OCT" -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' \
	--data-binary @"$T/2m.bin" -o /dev/null -w '%{http_code}' "$URL/binaryData/$U/" 2>&1)
is "R-BIN-B3 chunked upload over max_upload_bytes, Expect: 413" 413 "$out"
out=$("${C1[@]}" -H "$OCT" -H 'Transfer-Encoding: chunked' -H 'Expect:' \
	--data-binary @"$T/2m.bin" -o /dev/null -w '%{http_code}' "$URL/binaryData/$(uuid)/" 2>&1)
is "R-BIN-B3 chunked upload over max_upload_bytes, no Expect: 413" 413 "$out"
out=$("${C1[@]}" -H "$XML" -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' \
	--data-binary @"$T/2m.bin" -o /dev/null -w '%{http_code}' "$URL/hi1" 2>&1)
is "R-TRN-1 chunked HI-1 body over max_message_bytes, Expect: 413" 413 "$out"
out=$("${C1[@]}" -H "$XML" -H 'Transfer-Encoding: chunked' -H 'Expect:' \
	--data-binary @"$T/2m.bin" -o /dev/null -w '%{http_code}' "$URL/hi1" 2>&1)
is "R-TRN-1 chunked HI-1 body over max_message_bytes, no Expect: 413" 413 "$out"
check "chunked over the cap: logged as 413" grep -q "endpoint=binary status=413 uuid=$U" "$LOG"
is "chunked over the cap: no temporary file left" 0 "$(find "$ST/tmp" -type f | wc -l)"
out=$("${C1[@]}" -H "$XML" -H 'Transfer-Encoding: chunked' --data-binary @"$T/good.xml" \
	-o /dev/null -w '%{http_code}' "$URL/hi1" 2>&1)
is "chunked HI-1 body within the cap: 200" 200 "$out"

# ---------------------------------------------------------------- item 6: Model B length
"$TOOL" build --base-dir "$SRC/samples" --lea-url-scheme "$URL/binaryData/{uuid}/" \
	>"$T/mb.xml" 2>"$T/build.err" <<'EOF'
{"liid": "HTTP-REF-1", "timestamp": "2026-03-01T10:00:01Z", "sender": {"ids": ["alice"]}, "attachments": [{"path": "attachments/note.txt", "content_type": "text/plain", "model": "B"}]}
EOF
UB=$("$TOOL" show --json "$T/mb.xml" | jq -r '.message.actions[0].delivery.items[0].attachments[0].url' |
	sed 's#.*/binaryData/\([^/]*\)/.*#\1#')
is "Model B record delivered" 200 "$("${C1[@]}" -H "$XML" --data-binary @"$T/mb.xml" -o /dev/null -w '%{http_code}' "$URL/hi1")"
NLEN=$(stat -c %s "$SRC/samples/attachments/note.txt")
head -c 10 "$SRC/samples/attachments/note.txt" >"$T/short.txt"
out=$("${C1[@]}" -H "$OCT" -H 'Expect: 100-continue' --data-binary @"$T/short.txt" -o "$T/mbresp" \
	-w '%{http_code} %{size_upload}' "$URL/binaryData/$UB/")
is "R-BIN-B2 Content-Length shorter than the record: 409 before the body" "409 0" "$out"
check "R-BIN-B2 shorter: the reason names both lengths" \
	grep -q "Content-Length 10 differs from the $NLEN bytes of the binaryData record" "$T/mbresp"
cat "$SRC/samples/attachments/note.txt" "$SRC/samples/attachments/note.txt" >"$T/long.txt"
out=$("${C1[@]}" -H "$OCT" -H 'Expect: 100-continue' --data-binary @"$T/long.txt" -o "$T/mbresp" \
	-w '%{http_code}' "$URL/binaryData/$UB/")
is "R-BIN-B2 Content-Length longer than the record (within the cap): 409" 409 "$out"
check "R-BIN-B2 longer: logged as length-differs" grep -q "uuid=$UB verdict=length-differs" "$LOG"
out=$("${C1[@]}" -H "$OCT" -H 'Expect: 100-continue' --data-binary @"$SRC/samples/attachments/note.txt" \
	-o /dev/null -w '%{http_code}' "$URL/binaryData/$UB/")
is "R-BIN-B2 then the right length: 201" 201 "$out"

# ---------------------------------------------------------------- item 19: strict framing
# request FILE: a POST of FILE to /hi1, as bytes.
request() {
	printf 'POST /hi1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\nContent-Length: %s\r\n\r\n' \
		"$(stat -c %s "$1")"
	cat "$1"
}
# The smuggled request: a delivery not sent before, which a lax server would find in the
# body of the first request, answer and store.
msg smuggled 2 >"$T/smuggled.xml"
msg control 3 >"$T/control.xml"
request "$T/smuggled.xml" >"$T/smuggled"
SL=$(stat -c %s "$T/smuggled")
HEAD='POST /hi1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n'
# framing NAME EXPECTED FIELDS: FIELDS (printf format, after Host and Content-Type), an empty
# line, the smuggled request as the body; EXPECTED: what rawhttp.py reports.
framing() {
	local before after
	before=$(deliveries)
	out=$({ printf "$HEAD$3\r\n"; cat "$T/smuggled"; } | raw --wait 3)
	after=$(deliveries)
	# (MHD answers a malformed Content-Length itself, with its header block sent twice:
	# "400 400 eof"; the first status is what a client sees.)
	is "RFC 9112 $1: $2" "$2" "${out%% *} ${out##* }"
	is "RFC 9112 $1: nothing stored" "$before" "$after"
}
# Control: the checker sees a second response on the same connection, and a request stored.
before=$(deliveries)
out=$({ request "$T/control.xml"; printf 'GET /hi1 HTTP/1.1\r\nHost: x\r\n\r\n'; } | raw --wait 3)
is "RFC 9112 control: a delivery then a GET on one connection" "200 405 open" "$out"
is "RFC 9112 control: stored" $((before + 1)) "$(deliveries)"
framing "two Content-Length (0, N)" "400 eof" "Content-Length: 0\r\nContent-Length: $SL\r\n"
framing "conflicting Content-Length (5, N)" "400 eof" "Content-Length: 5\r\nContent-Length: $SL\r\n"
framing "equal Content-Length twice" "400 eof" "Content-Length: $SL\r\nContent-Length: $SL\r\n"
framing "Content-Length list" "400 eof" "Content-Length: $SL, $SL\r\n"
framing "space before the colon" "400 eof" "Content-Length : $SL\r\n"
framing "obs-fold Content-Length" "400 eof" "Content-Length:\r\n $SL\r\n"
framing "obs-fold into another field" "400 eof" "X-A: b\r\n Content-Length: $SL\r\n"
framing "signed Content-Length" "400 eof" "Content-Length: +$SL\r\n"
out=$(printf "${HEAD}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" | raw --wait 3)
is "RFC 9112 Content-Length with Transfer-Encoding" "400 eof" "$out"
framing "unknown Transfer-Encoding" "400 eof" "Transfer-Encoding: gzip\r\n"
framing "chunked not last" "400 eof" "Transfer-Encoding: chunked, gzip\r\n"
framing "a coding before chunked: 501" "501 eof" "Transfer-Encoding: gzip, chunked\r\n"
framing "control character in a value" "400 eof" "X-A: a\001b\r\nContent-Length: 0\r\n"
before=$(deliveries)
is "RFC 9112 control: the smuggled delivery, sent on its own, is answered" "200 open" "$(raw --wait 3 <"$T/smuggled")"
is "RFC 9112 control: the smuggled delivery stored" $((before + 1)) "$(deliveries)"
out=$(printf 'GET /hi1 HTTP/1.1\r\n\r\n' | raw --wait 3)
is "RFC 9112 HTTP/1.1 without Host" "400 eof" "$out"
out=$(printf 'GET /hi1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' | raw --wait 3)
is "RFC 9112 two Host fields" "400 eof" "$out"
out=$(printf 'GET /hi1 HTTP/1.0\r\n\r\n' | raw --wait 3)
is "RFC 9112 HTTP/1.0 without Host: served" "405 eof" "$out"

# ---------------------------------------------------------------- item 21: slow bodies
stop_lea
write_conf "per_peer = 2
body_min_rate = 1000
body_rate_window = 2
body_memory = 1M"
start_lea limits
# pad FILE BYTES: a good delivery padded with a comment to about BYTES (still a good one).
pad() {
	local m
	m=$(msg "pad$2" $((RANDOM % 60)))
	{ printf '%s\n' "$m" | head -1; printf '<!--%*s-->\n' "$2" ''; printf '%s\n' "$m" | tail -n +2; } >"$1"
}
# Two bodies at 20 bytes/s take both of csp1's connections (per_peer 2): each is answered 408
# and closed once a window (2 s) ends below body_min_rate, which frees the slots.
SP=()
for i in 1 2; do
	{ printf "${HEAD}Content-Length: 100000\r\n\r\n"; head -c 100000 /dev/zero; } |
		raw --rate 20 --wait 20 >"$T/slow$i" &
	SP+=($!)
done
wait "${SP[@]}"
is "slow body 1: 408, connection closed" "408 eof" "$(cat "$T/slow1")"
is "slow body 2: 408, connection closed" "408 eof" "$(cat "$T/slow2")"
check "slow body: logged as 408" grep -q 'endpoint=hi1 status=408' "$LOG"
out=$("${C1[@]}" -H "$XML" --data-binary @"$T/good.xml" -o /dev/null -w '%{http_code}' "$URL/hi1")
is "after the slow bodies were cut: delivered" 200 "$out"
# A body above the minimum rate is not cut, however long it takes (3 s, windows of 2 s).
pad "$T/p12k.xml" 12000
out=$(request "$T/p12k.xml" | raw --rate 4000 --wait 15)
is "a body at 4000 bytes/s (minimum 1000): 200" "200 open" "$out"

# ---------------------------------------------------------------- item 22: body memory budget
# body_memory 1M: a 700 KB delivery in flight (curl, 70 KB/s) reserves 700 KB; a second one
# with a Content-Length does not fit: 503 + Retry-After before its body; a chunked one is
# cut with 503 when it outgrows the rest. When the first is done, the budget is free again.
pad "$T/p700k-1.xml" 700000
pad "$T/p700k-2.xml" 700000
"${C1[@]}" -H "$XML" --limit-rate 70K --data-binary @"$T/p700k-1.xml" -o /dev/null \
	-w '%{http_code}' "$URL/hi1" >"$T/first" 2>&1 &
FP=$!
sleep 2
out=$("${C1[@]}" -H "$XML" -H 'Expect: 100-continue' --data-binary @"$T/p700k-2.xml" -D "$T/bh" \
	-o /dev/null -w '%{http_code} %{size_upload}' "$URL/hi1")
is "body_memory used up: 503 before the body" "503 0" "$out"
check "body_memory used up: Retry-After" grep -qi '^retry-after: [0-9]' "$T/bh"
out=$("${C1[@]}" -H "$XML" -H 'Transfer-Encoding: chunked' --data-binary @"$T/p700k-2.xml" -D "$T/bh" \
	-o /dev/null -w '%{http_code}' "$URL/hi1" 2>/dev/null)
is "body_memory used up by a chunked body: 503" 503 "$out"
check "body_memory, chunked: Retry-After" grep -qi '^retry-after: [0-9]' "$T/bh"
wait "$FP"
is "the delivery in flight completes" 200 "$(cat "$T/first")"
out=$("${C1[@]}" -H "$XML" --data-binary @"$T/p700k-2.xml" -o /dev/null -w '%{http_code}' "$URL/hi1")
is "budget free again: delivered" 200 "$out"
check "no sanitizer report in the daemon logs" not_contains <(cat "$T"/*.log) 'Sanitizer\|runtime error'

summary
