#!/usr/bin/env bash
# Integration test of the li707-lea daemon on loopback: HI-1 deliveries with curl and with
# `li707 send` (our client), the HI-1 responses, duplicates, refused peers, PSK, Model B
# uploads, hostile input, SIGHUP reload, SIGTERM drain, and a kill -9 in the middle of a
# burst of deliveries. Arguments: TOOL SRCDIR SHARED BUILDDIR (as the other integration
# scripts). Ends with "N passed, M failed"; exit 77 when something it needs is missing.
# KEEPT=DIR keeps the work directory (logs, store) for a post-mortem.
set -uo pipefail

TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
for t in curl openssl sqlite3 jq python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-XXXXXX")
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
CAP=1048576 # max_message_bytes
ST=$T/store

# write_conf [CSP1-REFERENCES [WITHOUT-CSP1]]: the daemon's configuration ($SRVCERT: the
# server certificate's name in the PKI, $ORPHAN_TIMEOUT).
write_conf() {
	local refs=${1:-ACME-LI-0042, ACME-LI-0043, XX-ACME-2026-0001, LIID-V111, KILL-REF-1}
	cat >"$T/lea.conf.new" <<EOF
# li707-lea test configuration (tests/integration/test_lea.sh)
[server]
listen = 127.0.0.1:0
listen_psk = 127.0.0.1:0
cert = $P/${SRVCERT:-server}.pem
key = $P/${SRVCERT:-server}.key
cacert = $P/ca.pem
crl = $P/crl.pem
store = $ST
delivery_path = /hi1
binary_path = /binaryData/
schema_dir = $SRC/schemas
xsd_check = yes
max_message_bytes = $CAP
max_upload_bytes = 10M
orphan_timeout = ${ORPHAN_TIMEOUT:-3600}
idle_timeout = 5
drain_timeout = 20
EOF
	if [ -z "${2:-}" ]; then
		cat >>"$T/lea.conf.new" <<EOF

[peer csp1]
san = csp1.test
references = $refs
models = A, B, C
EOF
	fi
	cat >>"$T/lea.conf.new" <<EOF

[peer psk1]
psk_identity = psk1
psk_file = $P/psk1.key
references = any
EOF
	mv "$T/lea.conf.new" "$T/lea.conf"
}

# start_lea NAME [ARGS]: starts the daemon (log in $T/NAME.log), sets PORT, PSKPORT, URL, LPID.
start_lea() {
	LOG=$T/$1.log
	lea_start "$T/lea.conf" "$LOG" psk -- "${@:2}"
	URL=https://127.0.0.1:$PORT
}

# stop_lea: SIGTERM, returns the exit status.
stop_lea() { lea_stop; }

# wait_log PATTERN COUNT: waits until PATTERN occurs COUNT times in the current log.
wait_log() {
	for _ in $(seq 100); do
		[ "$(grep -c -- "$1" "$LOG")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

CURL=(curl -sS --cacert "$P/ca.pem")
C1=("${CURL[@]}" --cert "$P/csp1.pem" --key "$P/csp1.key")
SEND1=("$TOOL" send --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")
XML='Content-Type: application/xml'

# post FILE [CURL-ARGS...]: POSTs FILE as csp1, response in $T/resp, prints the status
# (or $W, a curl --write-out format).
W='%{http_code}'
post() {
	local f=$1
	shift
	"${C1[@]}" -H "$XML" --data-binary @"$f" -o "$T/resp" -w "$W" "$@" "$URL/hi1"
}
# no FILE PATTERN: PATTERN does not occur in FILE.
no() { ! grep -q -- "$2" "$1"; }

# summary of the HI-1 response in FILE: "top CODE", or per action "ok" / "err CODE", joined by ','.
hi1() {
	"$TOOL" show --json "$1" 2>/dev/null | jq -r '.message | if .error then "top \(.error.code)"
		else [.responses[] | if .error then "err \(.error.code)" else "ok" end] | join(",") end'
}

# items REF: the ObjectIdentifiers stored for REF, one per item (li707-lea list).
items() { "$LEA" list --store "$ST" --ref "$1" --json | jq -r '.[].object_id'; }
count() { items "$1" | wc -l; }

# build NAME [BUILD-ARGS...] < EVENTS: one message, $T/NAME.xml.
build() {
	local n=$1
	shift
	"$TOOL" build --base-dir "$SRC/samples" "$@" >"$T/$n.xml" 2>"$T/build.err" ||
		{ echo "build $n failed: $(cat "$T/build.err")"; exit 1; }
}
ev() { # ev REF [ATTACHMENT-JSON]: one event line
	printf '{"liid": "%s", "timestamp": "2026-03-01T10:%02d:%02dZ", "sender": {"ids": ["alice"], "target": true}%s}\n' \
		"$1" $((RANDOM % 60)) $((RANDOM % 60)) "${2:+, \"attachments\": [$2]}"
}
oid() { "$TOOL" show --json "$1" | jq -r '.message.actions[0].delivery.object_id'; }

# ---------------------------------------------------------------- options
run "$LEA" --help
is "--help exit 0" 0 "$rc"
check "--help on stdout" grep -q -- '--check-config' "$T/out"
run "$LEA" --version
check "--version" grep -q '^li707-lea [0-9]' "$T/out"
run "$LEA" --no-such-option
is "bad option: exit 2" 2 "$rc"
is "bad option: one line" 1 "$(wc -l <"$T/err")"
write_conf
run "$LEA" --config "$T/lea.conf" --check-config
is "--check-config exit 0" 0 "$rc"
check "--check-config: OK and peer count" grep -q 'configuration OK.*2 peers' "$T/out"
printf '[server]\nlisten = 127.0.0.1:0\n' >"$T/bad.conf"
run "$LEA" --config "$T/bad.conf" --check-config
is "--check-config on a bad file: exit 4" 4 "$rc"
check "--check-config on a bad file: names the file" grep -q 'bad.conf' "$T/err"
run "$LEA" --config "$T/bad.conf"
is "daemon with a bad file: exit 4" 4 "$rc"

start_lea main
check "start: both listeners logged" [ "$PORT" != "$PSKPORT" ]

# ---------------------------------------------------------------- HI-1 deliveries
ev ACME-LI-0042 | build good1
ev ACME-LI-0042 | build good2
ev ACME-LI-0043 | build good3
ev NOT-ALLOWED-9 | build other
code=$(post "$T/good1.xml")
is "R-TRN-1 curl delivery: 200" 200 "$code"
is "R-TRN-1 curl delivery: DELIVERResponse" ok "$(hi1 "$T/resp")"
is "R-TRN-1 response is application/xml" application/xml "$(W='%{content_type}' post "$T/good1.xml")"
run "${SEND1[@]}" "$URL/hi1" "$T/good2.xml"
is "R-TRN-1 li707 send: exit 0" 0 "$rc"
check "R-TRN-1 li707 send: DELIVERResponse" grep -q 'DELIVERResponse' "$T/out"
is "R-DEL-6 stored once each" 2 "$(count ACME-LI-0042)"
code=$(post "$T/good1.xml")
is "R-DEL-6 duplicate acknowledged again" "200 ok" "$code $(hi1 "$T/resp")"
is "R-DEL-6 duplicate not stored twice" 2 "$(count ACME-LI-0042)"

# One good and one bad DELIVER: ErrorInformation for the bad one only.
ev ACME-LI-0043 | build bad0
sed 's#<ObjectIdentifier>[^<]*#<ObjectIdentifier>not-a-uuid#' "$T/bad0.xml" >"$T/bad.xml"
python3 "$H/merge.py" "$T/mixed.xml" "$T/good3.xml" "$T/bad.xml"
code=$(post "$T/mixed.xml")
is "R-TRN-3 good+bad DELIVER: 200" 200 "$code"
is "R-TRN-3 good+bad DELIVER: ok,err" "ok,err 3000" "$(hi1 "$T/resp")"
is "R-TRN-3 the good action is stored" 1 "$(count ACME-LI-0043)"

# A reference the peer may not deliver for: ErrorInformation for that action only.
ev ACME-LI-0043 | build good4
python3 "$H/merge.py" "$T/ref.xml" "$T/other.xml" "$T/good4.xml"
code=$(post "$T/ref.xml")
is "R-RSP-1 reference not allowed: err,ok" "200 err 3000,ok" "$code $(hi1 "$T/resp")"
is "R-RSP-1 the allowed action is stored" 2 "$(count ACME-LI-0043)"
is "R-RSP-1 nothing stored for the refused reference" 0 "$(count NOT-ALLOWED-9)"
check "R-RSP-1 the response does not quote the reference" no "$T/resp" NOT-ALLOWED-9

# V1.1.1-style item (plain identifiers, no timestamp).
code=$(post "$SRC/tests/data/decode/v111-item.xml")
is "V1.1.1 item accepted" "200 ok" "$code $(hi1 "$T/resp")"
is "V1.1.1 item stored" 1 "$(count LIID-V111)"
# A golden collection (three items, one DELIVER).
code=$(post "$SRC/tests/data/golden/li-coll-01.xml")
is "collection accepted" "200 ok" "$code $(hi1 "$T/resp")"

# ---------------------------------------------------------------- hostile input
python3 "$H/hostile.py" "$T/good1.xml" "$T/h" "$CAP"
# good_after NAME: after each case the daemon still serves a good delivery.
n_good=0
good_after() {
	n_good=$((n_good + 1))
	ev ACME-LI-0042 | build "after$n_good"
	is "$1: then a good delivery" "200 ok" "$(post "$T/after$n_good.xml") $(hi1 "$T/resp")"
}
for c in xxe billion-laughs deep bad-utf8 truncated empty nul huge-attr; do
	code=$(post "$T/h/$c.xml")
	r="$code $(hi1 "$T/resp")"
	is "hostile $c: 200 + top-level ErrorInformation" "200 top" "${r% *}"
	good_after "hostile $c"
done
check "hostile xxe: no file content in the response" no "$T/resp" 'root:'
code=$(post "$T/h/not-xml.txt")
is "hostile not XML: top-level ErrorInformation" "200 top 3007" "$code $(hi1 "$T/resp")"
code=$(W='%{http_code} %{size_upload}' post "$T/h/oversize.xml" -H 'Expect: 100-continue')
is "hostile oversize: 413 before the body" "413 0" "$code"
good_after "hostile oversize"
code=$("${C1[@]}" -H "$XML" -H 'Transfer-Encoding: chunked' --data-binary @"$T/h/oversize.xml" \
	-o /dev/null -w '%{http_code}' "$URL/hi1" 2>/dev/null)
# Without Content-Length the cap is crossed mid-body: 413 then, and the connection closes.
is "hostile oversize chunked: 413" 413 "$code"
good_after "hostile oversize chunked"
code=$("${C1[@]}" -H 'Content-Type: text/plain' --data-binary @"$T/good1.xml" -o /dev/null -w '%{http_code}' "$URL/hi1")
is "hostile wrong content type: 415" 415 "$code"
code=$("${C1[@]}" --data-binary @"$T/good1.xml" -o /dev/null -w '%{http_code}' "$URL/hi1")
is "hostile form content type: 415" 415 "$code"
code=$("${C1[@]}" -H 'Content-Type: text/xml; charset=utf-8' --data-binary @"$T/good1.xml" -o "$T/resp" -w '%{http_code}' "$URL/hi1")
is "text/xml with parameters accepted" "200 ok" "$code $(hi1 "$T/resp")"
code=$("${C1[@]}" -D "$T/hd" -o /dev/null -w '%{http_code}' "$URL/hi1")
is "hostile GET on the endpoint: 405" 405 "$code"
check "405 carries Allow: POST" grep -qi '^allow: POST' "$T/hd"
code=$("${C1[@]}" -X PUT -H "$XML" --data-binary @"$T/good1.xml" -o /dev/null -w '%{http_code}' "$URL/hi1")
is "hostile PUT: 405" 405 "$code"
code=$("${C1[@]}" -H "$XML" --data-binary @"$T/good1.xml" -o /dev/null -w '%{http_code}' "$URL/other")
is "other path: 404" 404 "$code"
good_after "hostile methods"
check "hostile: daemon alive" kill -0 "$LPID"

# ---------------------------------------------------------------- refused peers (R-SEC-2)
truncate -s 5M "$T/big.bin"
before=$(count ACME-LI-0042)
for who in none csp2 expired other revoked; do
	case $who in
	none) auth=() ;;
	*) auth=(--cert "$P/$who.pem" --key "$P/$who.key") ;;
	esac
	out=$("${CURL[@]}" "${auth[@]}" -H "$XML" -H 'Expect: 100-continue' --data-binary @"$T/big.bin" \
		-o /dev/null -w '%{http_code} %{size_upload}' "$URL/hi1" 2>/dev/null)
	is "R-SEC-2 $who refused before the body ($out)" "404 0" "$out"
	out=$("${CURL[@]}" "${auth[@]}" -H "$XML" --data-binary @"$T/good2.xml" -o /dev/null \
		-w '%{http_code}' "$URL/hi1" 2>/dev/null)
	is "R-SEC-2 $who cannot deliver" 404 "$out"
done
is "R-SEC-2 refused peers stored nothing" "$before" "$(count ACME-LI-0042)"

# Attribute and namespace explosion (libxml2's start-tag parsing is quadratic in both): one
# HI1Message start tag with 60,000 attributes, one with 20,000 xmlns declarations (both
# under max_message_bytes), sent with curl: refused before libxml2 parses them, with the
# reason in a top-level ErrorInformation, nothing stored.
for kind in attrs xmlns; do
	python3 - "$kind" >"$T/explode-$kind.xml" <<'PY'
import sys
n, fmt = (60000, ' a%d="%d"') if sys.argv[1] == 'attrs' else (20000, ' xmlns:p%d="urn:p%d"')
sys.stdout.write('<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core"'
                 + ''.join(fmt % (i, i) for i in range(n)) + '/>')
PY
done
before=$("$LEA" list --store "$ST" --json | jq length)
code=$(post "$T/explode-attrs.xml")
is "60,000 attributes: top-level ErrorInformation" "200 top" "$code $(hi1 "$T/resp" | cut -d' ' -f1)"
check "60,000 attributes: the cap is the reason" grep -q "more than 256 attributes" "$T/resp"
code=$(post "$T/explode-xmlns.xml")
is "20,000 xmlns: top-level ErrorInformation" "200 top" "$code $(hi1 "$T/resp" | cut -d' ' -f1)"
check "20,000 xmlns: the cap is the reason" grep -q "declares more than 64 namespaces" "$T/resp"
is "explosions stored nothing" "$before" "$("$LEA" list --store "$ST" --json | jq length)"

# ---------------------------------------------------------------- PSK (R-SEC-4)
ev ACME-LI-0042 | build psk
run "$TOOL" send --psk-identity psk1 --psk-file "$P/psk1.key" "https://127.0.0.1:$PSKPORT/hi1" "$T/psk.xml"
is "R-SEC-4 PSK right key: delivered" 0 "$rc"
cp "$P/psk2.key" "$T/wrong.key"
chmod 600 "$T/wrong.key"
ev ACME-LI-0042 | build psk2
run "$TOOL" send --psk-identity psk1 --psk-file "$T/wrong.key" "https://127.0.0.1:$PSKPORT/hi1" "$T/psk2.xml"
is "R-SEC-4 PSK wrong key: transport failure" 3 "$rc"
items ACME-LI-0042 >"$T/ids"
check "R-SEC-4 PSK wrong key: nothing stored" no "$T/ids" "$(oid "$T/psk2.xml")"

# ---------------------------------------------------------------- Model B (R-BIN-B1..B4)
LEAURL="https://127.0.0.1:$PORT/binaryData/{uuid}/"
att() { printf '{"path": "attachments/%s", "content_type": "%s", "model": "B"}' "$1" "$2"; }
uuid_of() { "$TOOL" show --json "$1" | jq -r '.message.actions[0].delivery.items[0].attachments[0].url' |
	sed 's#.*/binaryData/\([^/]*\)/.*#\1#'; }
# upload UUID FILE [CURL-ARGS]: POST with Expect, headers in $T/uh; prints "STATUS SENT".
upload() {
	local u=$1 f=$2
	shift 2
	"${C1[@]}" -H 'Content-Type: application/octet-stream' -H 'Expect: 100-continue' \
		--data-binary @"$f" -D "$T/uh" -o /dev/null -w '%{http_code} %{size_upload}' "$@" "$URL/binaryData/$u/"
}
state() { tr -d '\r' <"$T/uh" | awk -F': ' 'tolower($1)=="x-li707-state"{print $2}'; }

ev ACME-LI-0042 "$(att note.txt text/plain)" | build mb1 --lea-url-scheme "$LEAURL"
U1=$(uuid_of "$T/mb1.xml")
code=$(post "$T/mb1.xml")
is "R-BIN-B2 record delivered first" "200 ok" "$code $(hi1 "$T/resp")"
run "$TOOL" post-binary --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key" \
	-t text/plain "$URL/binaryData/$U1/" "$SRC/samples/attachments/note.txt"
is "R-BIN-B3 li707 post-binary after the record: 201" "0 1" "$rc $(grep -c 'HTTP 201' "$T/out")"
out=$(upload "$U1" "$SRC/samples/attachments/note.txt")
is "R-BIN-B3 complete upload again: 200 already stored (idempotent), nothing sent" \
	"200 0 complete" "$out $(state)"
stored=$(find "$ST" -type f -name "$U1" | head -1)
check "R-BIN-B2 content stored as sent" cmp -s "$stored" "$SRC/samples/attachments/note.txt"

# R-BIN-B4: data before its record -> orphan, linked when the record comes.
ev ACME-LI-0042 "$(att blob.bin application/octet-stream)" | build mb2 --lea-url-scheme "$LEAURL"
U2=$(uuid_of "$T/mb2.xml")
out=$(upload "$U2" "$SRC/samples/attachments/blob.bin")
is "R-BIN-B4 upload before its record: 201" 201 "${out%% *}"
is "R-BIN-B4 state orphan" orphan "$(state)"
code=$(post "$T/mb2.xml")
is "R-BIN-B4 the record arrives after its data" "200 ok" "$code $(hi1 "$T/resp")"
out=$(upload "$U2" "$SRC/samples/attachments/blob.bin")
is "R-BIN-B4 linked: a second upload is answered already stored (200)" "200 complete" \
	"${out%% *} $(state)"

# Checksum mismatch: same length, other bytes -> stored but flagged (422, mismatch).
ev ACME-LI-0042 "$(att photo.png image/png)" | build mb3 --lea-url-scheme "$LEAURL"
U3=$(uuid_of "$T/mb3.xml")
post "$T/mb3.xml" >/dev/null
head -c "$(stat -c %s "$SRC/samples/attachments/photo.png")" /dev/zero >"$T/zeros.png"
out=$(upload "$U3" "$T/zeros.png")
is "R-BIN-B2 checksum mismatch: 422" 422 "${out%% *}"
is "R-BIN-B2 checksum mismatch: state mismatch" mismatch "$(state)"
out=$(upload "$U3" "$SRC/samples/attachments/photo.png")
is "R-BIN-B2 a mismatched upload may be sent again: 201 complete" "201 complete" "${out%% *} $(state)"

# Refusals before the body (R-BIN-B3): nothing is read.
out=$(upload "$U1" "$T/big.bin")
is "R-BIN-B3 duplicate with a 5 MB body: 409, 0 bytes sent" "409 0" "$out"
out=$(upload "not-a-uuid" "$T/big.bin")
is "R-BIN-B1 bad uuid: 404, 0 bytes sent" "404 0" "$out"
U9=$(cat /proc/sys/kernel/random/uuid)
truncate -s 11M "$T/huge.bin"
out=$(upload "$U9" "$T/huge.bin")
is "R-BIN-B3 over max_upload_bytes: 413, 0 bytes sent" "413 0" "$out"
UP=$(echo "$U9" | tr a-f A-F)
out=$(upload "$UP" "$SRC/samples/attachments/note.txt")
is "R-BIN-B1 upper-case uuid accepted (orphan)" "201 orphan" "${out%% *} $(state)"
# An upload cut off mid-body is aborted (its temporary data deleted): it may start again.
UA=$(cat /proc/sys/kernel/random/uuid)
upload "$UA" "$SRC/samples/attachments/blob.bin" --limit-rate 20K --max-time 1 >/dev/null 2>&1
check "upload cut off: logged as aborted" wait_log "uuid=$UA verdict=ok aborted" 1
is "upload cut off: no temporary file left" 0 "$(find "$ST/tmp" -type f | wc -l)"
is "upload cut off: sent again -> 201" "201 orphan" "$(upload "$UA" "$SRC/samples/attachments/blob.bin" | cut -d' ' -f1) $(state)"
# Uploads of many blocks go through the hashsink's worker thread (several 256 KiB blocks,
# a writeback step at 8 MiB): stored byte for byte and checked against the record's
# SHA-256, whose last block is partial; the same length with the last byte changed is a
# mismatch.
mkdir -p "$T/attachments"
head -c 9437185 /dev/urandom >"$T/attachments/multi.bin"
cp "$T/attachments/multi.bin" "$T/multi-bad.bin"
printf 'x' | dd of="$T/multi-bad.bin" bs=1 seek=9437184 conv=notrunc status=none
ev ACME-LI-0042 "$(att multi.bin application/octet-stream)" | build mb4 --lea-url-scheme "$LEAURL" --base-dir "$T"
ev ACME-LI-0042 "$(att multi.bin application/octet-stream)" | build mb5 --lea-url-scheme "$LEAURL" --base-dir "$T"
U4=$(uuid_of "$T/mb4.xml") U5=$(uuid_of "$T/mb5.xml")
post "$T/mb4.xml" >/dev/null
post "$T/mb5.xml" >/dev/null
out=$(upload "$U4" "$T/attachments/multi.bin")
is "R-BIN-B2 9 MiB upload after its record: 201 complete" "201 9437185 complete" "$out $(state)"
stored=$(find "$ST/content" -type f -name "$U4" | head -1)
check "R-BIN-B2 9 MiB upload stored byte for byte" cmp -s "$stored" "$T/attachments/multi.bin"
out=$(upload "$U5" "$T/multi-bad.bin")
is "R-BIN-B2 9 MiB upload, last byte changed: 422 mismatch" "422 mismatch" "${out%% *} $(state)"
code=$("${C1[@]}" -o /dev/null -w '%{http_code}' "$URL/binaryData/$U1/")
is "GET on a Model B URL: 405" 405 "$code"
code=$("${C1[@]}" -I -o /dev/null -w '%{http_code}' "$URL/binaryData/$U1/")
is "HEAD on a Model B URL: 405" 405 "$code"
run "$TOOL" post-binary --psk-identity psk1 --psk-file "$P/psk1.key" -t text/plain \
	"https://127.0.0.1:$PSKPORT/binaryData/$U1/" "$SRC/samples/attachments/note.txt"
is "R-BIN-1 peer without Model B: 404" "3 1" "$rc $(cat "$T/out" "$T/err" | grep -c 404)"
# R-BIN-1: psk1 has no Model A or C agreed: a DELIVER announcing an object the CSP hosts is
# refused with ErrorInformation (the url not quoted) and not stored; csp1 (A, B, C) may.
ev ACME-LI-0042 '{"path": "attachments/photo.png", "content_type": "image/png", "model": "A"}' |
	build modela
run "$TOOL" send --xml --psk-identity psk1 --psk-file "$P/psk1.key" "https://127.0.0.1:$PSKPORT/hi1" "$T/modela.xml"
is "R-BIN-1 Model A object from a peer without A/C: ErrorInformation" 1 "$rc"
check "R-BIN-1 Model A refused: code 3000 and R-BIN-1 named" grep -q "ErrorInformation 3000: .*R-BIN-1" "$T/out"
check "R-BIN-1 Model A refused: url not quoted" no "$T/out" "csp.invalid"
items ACME-LI-0042 >"$T/ids"
check "R-BIN-1 Model A refused: nothing stored" no "$T/ids" "$(oid "$T/modela.xml")"
code=$(post "$T/modela.xml")
is "R-BIN-1 the same from csp1 (A agreed): stored" "200 ok" "$code $(hi1 "$T/resp")"

# ---------------------------------------------------------------- logging (R-SEC-6)
check "log: one line per request" grep -q 'peer=csp1 method=POST endpoint=hi1 status=200 actions=1 stored=1' "$LOG"
check "log: Model B line" grep -q "endpoint=binary status=201 uuid=$U1 state=complete" "$LOG"
for secret in ACME-LI-0042 ACME-LI-0043 NOT-ALLOWED-9 LIID-V111 alice 447700900123 'binaryData/'; do
	check "R-SEC-6 log free of '$secret'" no "$LOG" "$secret"
done

# ---------------------------------------------------------------- SIGHUP reload
ev NEW-REF-7 | build newref
code=$(post "$T/newref.xml")
is "reload: reference not yet allowed" "200 err 3000" "$code $(hi1 "$T/resp")"
write_conf "ACME-LI-0042, ACME-LI-0043, XX-ACME-2026-0001, LIID-V111, KILL-REF-1, NEW-REF-7"
kill -HUP "$LPID"
check "reload: logged" wait_log 'configuration reloaded' 1
code=$(post "$T/newref.xml")
is "reload: reference added -> stored" "200 ok" "$code $(hi1 "$T/resp")"
printf 'garbage\n' >>"$T/lea.conf"
kill -HUP "$LPID"
check "reload: bad file -> error logged" wait_log 'keeping the running configuration' 1
ev ACME-LI-0042 | build r1
is "reload: bad file -> still serving" "200 ok" "$(post "$T/r1.xml") $(hi1 "$T/resp")"
write_conf "" without-csp1
kill -HUP "$LPID"
check "reload: logged again" wait_log 'configuration reloaded' 2
ev ACME-LI-0042 | build r2
code=$(post "$T/r2.xml" 2>/dev/null)
is "reload: csp1 removed -> refused" 404 "$code"
run "$TOOL" send --psk-identity psk1 --psk-file "$P/psk1.key" "https://127.0.0.1:$PSKPORT/hi1" "$T/r2.xml"
is "reload: psk1 still served" 0 "$rc"
fp() { echo | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$P/ca.pem" 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256; }
old_fp=$(fp)
SRVCERT=server2 write_conf
kill -HUP "$LPID"
check "reload: csp1 back" wait_log 'configuration reloaded' 3
ev ACME-LI-0042 | build r3
is "reload: csp1 delivers again" "200 ok" "$(post "$T/r3.xml") $(hi1 "$T/resp")"
is "reload: new connections see the new certificate" \
	"$(openssl x509 -in "$P/server2.pem" -noout -fingerprint -sha256)" "$(fp)"
check "reload: the certificate changed" [ "$old_fp" != "$(fp)" ]

# ---------------------------------------------------------------- SIGTERM drain
# An upload in flight (2.5 s at 40 KB/s) finishes; new connections are refused meanwhile.
UD=$(cat /proc/sys/kernel/random/uuid)
upload "$UD" "$SRC/samples/attachments/blob.bin" --limit-rate 40K >"$T/drain.out" &
DPID=$!
sleep 0.7
kill -TERM "$LPID"
sleep 0.3
is "drain: no new connection" 000 "$(post "$T/r3.xml" 2>/dev/null)"
wait "$DPID"
is "drain: the upload in flight completed" "201 102400" "$(cat "$T/drain.out")"
wait "$LPID"
is "SIGTERM: exit 0" 0 $?
LPID=
check "SIGTERM: stopped logged" grep -q 'stopped' "$LOG"

# ---------------------------------------------------------------- kill -9 in a burst
mkdir -p "$T/burst"
for i in $(seq 400); do
	printf '{"liid": "KILL-REF-1", "timestamp": "2026-04-01T%02d:%02d:%02dZ", "sender": {"ids": ["s%d"]}}\n' \
		$((i / 3600)) $((i / 60 % 60)) $((i % 60)) "$i"
done | "$TOOL" build --out-dir "$T/burst" >/dev/null 2>&1
n_msgs=$(ls "$T/burst" | wc -l)
is "burst: 400 messages built" 400 "$n_msgs"
start_lea burst1
: >"$T/acked"
# sender K: sends every 4th message (offset K); appends acknowledged files to $T/acked.
sender() {
	local k=$1 i=0
	for f in "$T"/burst/*.xml; do
		i=$((i + 1))
		[ $((i % 4)) = "$k" ] || continue
		if "${SEND1[@]}" --connect-timeout 2 "$URL/hi1" "$f" >/dev/null 2>&1; then
			echo "$f" >>"$T/acked.$k"
		fi
	done
}
for k in 0 1 2 3; do sender "$k" & done
for _ in $(seq 300); do
	[ "$(cat "$T"/acked.* 2>/dev/null | wc -l)" -ge 60 ] && break
	sleep 0.05
done
kill -9 "$LPID"
wait "$LPID" 2>/dev/null
LPID=
wait_senders() { for j in $(jobs -p); do wait "$j"; done; }
wait_senders
cat "$T"/acked.* >"$T/acked"
n_acked=$(wc -l <"$T/acked")
check "kill -9: some acknowledged before the kill ($n_acked)" [ "$n_acked" -ge 60 ]
check "kill -9: some not acknowledged" [ "$n_acked" -lt 400 ]
start_lea burst2 --log-level debug
check "--log-level debug: peer rules logged" grep -q 'debug: peer csp1: 5 references, models A B C' "$LOG"
check "--log-level info (main): no debug lines" no "$T/main.log" 'debug:'
# Re-send everything not acknowledged, and the first 40 acknowledged ones.
{ ls "$T"/burst/*.xml | grep -vxF -f "$T/acked"; head -40 "$T/acked"; } >"$T/resend"
resend_fail=0
while read -r f; do
	"${SEND1[@]}" "$URL/hi1" "$f" >/dev/null 2>&1 || resend_fail=$((resend_fail + 1))
done <"$T/resend"
is "kill -9: every re-send acknowledged" 0 "$resend_fail"
items KILL-REF-1 | sort >"$T/stored"
check "kill -9: none stored twice" [ -z "$(uniq -d "$T/stored")" ]
for f in "$T"/burst/*.xml; do oid "$f"; done | sort >"$T/all"
check "kill -9: every message stored exactly once" cmp -s "$T/stored" "$T/all"
missing=0
while read -r f; do grep -qx "$(oid "$f")" "$T/stored" || missing=$((missing + 1)); done <"$T/acked"
is "kill -9: every acknowledged ObjectIdentifier present" 0 "$missing"
stop_lea
is "kill -9: restarted daemon exits 0" 0 $?

# ---------------------------------------------------------------- orphan sweep (R-BIN-B4)
ORPHAN_TIMEOUT=2 write_conf
start_lea sweep
UO=$(cat /proc/sys/kernel/random/uuid)
is "sweep: orphan upload" 201 "$(upload "$UO" "$SRC/samples/attachments/note.txt" | cut -d' ' -f1)"
check "sweep: the orphan expires (orphan_timeout 2 s)" wait_log 'orphan sweep: 1 upload expired' 1
stop_lea
is "sweep: daemon exits 0" 0 $?

# Sanitizer builds: no report in any daemon log.
check "no sanitizer report in the daemon logs" no <(cat "$T"/*.log) 'Sanitizer\|runtime error'

summary

