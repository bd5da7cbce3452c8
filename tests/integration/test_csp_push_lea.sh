#!/usr/bin/env bash
# Model B push of li707-csp (src/csp/csp_push.c over src/common/push.c; Annex C.3,
# R-BIN-B1..B3) through tests/helpers/csp_push_drive against a real li707-lea (the
# DeliveryObject carrying the binaryData record is delivered first with `li707 send`), against
# nginx (the verdict for 413/404/500 from a server that is not ours) and against a TLS peer
# that never answers (openssl s_server: the continue timeout follows the record's expiry).
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; 77 when something
# it needs is missing.
set -uo pipefail

TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
DRIVE=$BUILD/tests/csp_push_drive
for t in curl openssl jq python3 nginx; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }
[ -x "$DRIVE" ] || { echo "SKIP: $DRIVE not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-csp-push-XXXXXX")
LPID=
PIDS=()
cleanup() {
	[ -n "$LPID" ] && kill -9 "$LPID" 2>/dev/null
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEPT:-}" ] && cp -r "$T" "$KEEPT"
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/nginx.sh"

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null || { echo "pki.sh failed"; exit 1; }
wait_listen() { # PORT: listening, without connecting
	local hex
	hex=$(printf '%04X' "$1")
	for _ in $(seq 1 100); do
		grep -q ":$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

ST=$T/store
cat >"$T/lea.conf" <<EOF
[server]
listen = 127.0.0.1:0
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $ST
delivery_path = /hi1
binary_path = /binaryData/
schema_dir = $SRC/schemas
max_upload_bytes = 1M

[peer csp1]
san = csp1.test
references = ACME-LI-0042
models = A, B, C
EOF
"$LEA" --config "$T/lea.conf" 2>"$T/lea.log" &
LPID=$!
for _ in $(seq 100); do
	grep -q 'listening on .*(mtls)' "$T/lea.log" 2>/dev/null && break
	sleep 0.1
done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (mtls).*/\1/p' "$T/lea.log" | head -1)
[ -n "$PORT" ] || { echo "li707-lea did not start:"; cat "$T/lea.log"; exit 1; }
URL=https://127.0.0.1:$PORT
TLS=(--cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")

# record NAME FILE TYPE: builds and delivers (li707 send) the DeliveryObject announcing FILE
# as a Model B object; prints its UUID.
record() {
	printf '{"liid": "ACME-LI-0042", "timestamp": "2026-03-01T10:00:00Z", "sender": {"ids": ["alice"], "target": true}, "attachments": [{"path": "%s", "content_type": "%s", "model": "B"}]}\n' \
		"$2" "$3" | "$TOOL" build --base-dir "$T" --lea-url-scheme "$URL/binaryData/{uuid}/" >"$T/$1.xml" ||
		{ echo "build $1 failed" >&2; return 1; }
	"$TOOL" send "${TLS[@]}" "$URL/hi1" "$T/$1.xml" >"$T/$1.send" 2>&1 ||
		{ echo "send $1 failed: $(cat "$T/$1.send")" >&2; return 1; }
	"$TOOL" show --json "$T/$1.xml" | jq -r '.message.actions[0].delivery.items[0].attachments[0].url' |
		sed 's#.*/binaryData/\([^/]*\)/.*#\1#'
}
# push SCHEME UUID FILE TYPE [DRIVE-ARGS]: the result JSON in $T/push.json.
push() {
	local s=$1 u=$2 f=$3 ty=$4
	shift 4
	"$DRIVE" "${TLS[@]}" --scheme "$s" --uuid "$u" --file "$f" --content-type "$ty" \
		--expect-timeout 5000 --timeout 20000 "$@" >"$T/push.json" 2>"$T/push.err"
}
v() { jq -r "$1" "$T/push.json"; }

mkdir -p "$T/att"
printf 'a note for Model B\n' >"$T/att/note.txt"
head -c 5000 /dev/urandom >"$T/att/photo.bin"
head -c 4000 /dev/urandom >"$T/other.bin"
head -c 5000 /dev/zero >"$T/zeros.bin"

# ---- stored (R-BIN-B2): the record first, then the object; byte for byte at the LEA
U1=$(record n1 att/note.txt text/plain)
push "$URL/binaryData/" "$U1" "$T/att/note.txt" text/plain --size 19
is "R-BIN-B2 push after the record: stored 201 after 100 Continue" "stored 201 true" \
	"$(v .verdict) $(v .http) $(v .got_100)"
stored=$(find "$ST" -type f -name "$U1" | head -1)
check "R-BIN-B2 the LEA holds the object byte for byte" cmp -s "$stored" "$T/att/note.txt"
check "R-BIN-B3 the LEA logged the upload as complete" grep -q "uuid=$U1 state=complete" "$T/lea.log"

# ---- pushed again (a CSP killed after the upload, before it recorded the verdict, pushes
# again after its restart): the LEA holds it complete and verified against its record, so the
# push is idempotent: 200 "already stored", recorded stored, nothing read, the object untouched
push "$URL/binaryData/{id}/" "$U1" "$T/att/note.txt" text/plain
is "R-BIN-B3 pushed again after it is complete: stored 200 (idempotent)" "stored 200" \
	"$(v .verdict) $(v .http)"
check "R-BIN-B3 pushed again: the object is unchanged" cmp -s "$stored" "$T/att/note.txt"
code=$(curl -s -o "$T/again.out" -D "$T/again.hdr" -w '%{http_code}' "${TLS[@]}" \
	-H 'Content-Type: text/plain' --data-binary @"$T/att/note.txt" "$URL/binaryData/$U1/")
is "R-BIN-B3 pushed again with curl: 200" 200 "$code"
check "R-BIN-B3 pushed again: X-Li707-State: complete" grep -qi '^X-Li707-State: complete' "$T/again.hdr"
check "R-BIN-B3 pushed again: the body says already stored" grep -q "already stored" "$T/again.out"
# another length than the record's is not the same object: still 409
head -c 7 /dev/urandom >"$T/seven.bin"
code=$(curl -s -o /dev/null -w '%{http_code}' "${TLS[@]}" --data-binary @"$T/seven.bin" "$URL/binaryData/$U1/")
is "R-BIN-B3 pushed again with another length: 409" 409 "$code"

# ---- length mismatch: the LEA refuses before the body (409, nothing read)
U2=$(record n2 att/photo.bin application/octet-stream)
push "$URL/binaryData/{id}/" "$U2" "$T/other.bin" application/octet-stream
is "R-BIN-B3 length mismatch: mismatch 409" "mismatch 409 false" "$(v .verdict) $(v .http) $(v .got_100)"
check "R-BIN-B3 length mismatch: the LEA's text in the reason" grep -q "Content-Length 4000 differs from the 5000 bytes" "$T/push.json"

# ---- SHA-256 mismatch: same length, other bytes (422, stored but flagged)
push "$URL/binaryData/{id}/" "$U2" "$T/zeros.bin" application/octet-stream
is "R-BIN-B2 SHA-256 mismatch: mismatch 422" "mismatch 422" "$(v .verdict) $(v .http)"
# ... and the right bytes afterwards are stored
push "$URL/binaryData/{id}/" "$U2" "$T/att/photo.bin" application/octet-stream --size 5000
is "R-BIN-B2 the right bytes after a mismatch: stored" "stored 201" "$(v .verdict) $(v .http)"

# ---- local size check: the spool file is not its record's size: nothing sent
push "$URL/binaryData/{id}/" "$U2" "$T/other.bin" application/octet-stream --size 5000
is "R-BIN-B2 spool file of another size: mismatch, not sent" "mismatch 0 -4106" "$(v .verdict) $(v .http) $(v .rc)"

# ---- refused: over the LEA's max_upload_bytes (413), an unknown URL (404)
head -c 2000000 /dev/zero >"$T/huge.bin"
U9=$(cat /proc/sys/kernel/random/uuid)
push "$URL/binaryData/{id}/" "$U9" "$T/huge.bin" application/octet-stream
is "R-BIN-B3 over max_upload_bytes: refused 413, no 100 Continue" "refused 413 false" \
	"$(v .verdict) $(v .http) $(v .got_100)"
push "$URL/nowhere/{id}/" "$U9" "$T/att/note.txt" text/plain
is "R-BIN-B1 not the LEA's Model B path: refused 404" "refused 404" "$(v .verdict) $(v .http)"

# ---- expired record: not pushed
push "$URL/binaryData/{id}/" "$U9" "$T/att/note.txt" text/plain --expiry 2020-01-01T00:00:00Z
is "R-BIN-B3 expired record: refused, nothing sent" "refused -62" "$(v .verdict) $(v .rc)"
check "R-BIN-B3 expired record: the LEA saw nothing" not_contains "$T/lea.log" "uuid=$U9 verdict=unknown"

# ---- LEA down: retry
kill -TERM "$LPID"
wait "$LPID"
LPID=
push "$URL/binaryData/{id}/" "$U9" "$T/att/note.txt" text/plain
is "R-BIN-B3 LEA down: retry" "retry 0" "$(v .verdict) $(v .http)"
check "R-BIN-B3 LEA down: connect failure named" grep -q '"reason":"connect' "$T/push.json"

# ---- a TLS peer that never sends 100 Continue nor answers: the continue timeout is the
# record's expiry (3 s away), not the 600 s bound; the body goes then; the verdict is retry.
SL=$(free_port)
mkfifo "$T/fifo"
exec 9<>"$T/fifo"
openssl s_server -quiet -accept "127.0.0.1:$SL" -cert "$P/server.pem" -key "$P/server.key" \
	<"$T/fifo" >"$T/silent.log" 2>&1 &
PIDS+=($!)
wait_listen "$SL" || { echo "s_server did not start"; exit 1; }
printf 'BODY-MARKER-707\n' >"$T/marker.txt"
EXP=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
push "https://127.0.0.1:$SL/binaryData/{id}/" "$U9" "$T/marker.txt" text/plain \
	--expiry "$EXP" --expect-timeout 600000 --timeout 7000
is "R-BIN-B3 no 100 Continue: retry, no status" "retry 0 false" "$(v .verdict) $(v .http) $(v .got_100)"
check "R-BIN-B3 no 100 Continue: continue timeout from the expiry (<= 3 s)" \
	test "$(v .expect_ms)" -le 3000 -a "$(v .expect_ms)" -ge 1000
check "R-BIN-B3 no 100 Continue: Expect on the wire" grep -aq "Expect: 100-continue" "$T/silent.log"
check "R-BIN-B3 no 100 Continue: body sent at the expiry" grep -aq "BODY-MARKER-707" "$T/silent.log"
check "R-BIN-B3 no 100 Continue: the reason says so" grep -q "no 100 Continue" "$T/push.json"

# ---- nginx: a server that is not ours; the verdict for its 413, 404, 500, 201
NGX=$(free_port)
nginx_start "$T" "$NGX" "$T" pki="$P" connections=64 log=combined \
	server="location /small/ { client_max_body_size 10; return 201; }" \
	server="location /missing/ { return 404; }" \
	server="location /broken/ { return 500; }" \
	server="location /fine/ { return 201; }" || exit 1
PIDS+=("$NGINX_PID")
N=https://127.0.0.1:$NGX
push "$N/small/" "$U9" "$T/att/photo.bin" application/octet-stream
is "nginx 413: refused" "refused 413" "$(v .verdict) $(v .http)"
push "$N/missing/" "$U9" "$T/att/note.txt" text/plain
is "nginx 404: refused" "refused 404" "$(v .verdict) $(v .http)"
push "$N/broken/" "$U9" "$T/att/note.txt" text/plain
is "nginx 500: retry" "retry 500" "$(v .verdict) $(v .http)"
push "$N/fine/{id}" "$U9" "$T/att/note.txt" text/plain
is "nginx 201: stored" "stored 201" "$(v .verdict) $(v .http)"
check "nginx saw the UUID URL" grep -q "POST /fine/$U9 HTTP/1.1\" 201" "$T/access.log"

# ---- R-SEC-6: no reference in what the push reports
check "R-SEC-6 no LIID in any push result" not_contains "$T/push.json" "ACME-LI"

summary
