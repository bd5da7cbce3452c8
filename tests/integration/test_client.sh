#!/usr/bin/env bash
# Integration test of the HTTPS client (src/common/http_client.c) through `li707 send`,
# `li707 fetch` and `li707 post-binary` (docs/internals/http_client.md).
#
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Everything lives in a mktemp directory: a test PKI
# made here with the openssl CLI (CA, server certificate for 127.0.0.1/localhost, client
# certificate, an unrelated CA and client, a PSK file), and the peers: nginx (mTLS, static
# files, POST answered by a fixed HI-1 response, Expect logged), openssl s_server (TLS 1.1
# only; a listener that never answers), gnutls-serv (PSK on TLS 1.2 and 1.3, mTLS), and a
# python3 HTTPS server that resets large responses (chunk shrinking, Annex E).
# Ends with "N passed, M failed"; exits 77 only when a required tool is missing.
set -euo pipefail

TOOL=$1
SRC=$2
SHARED=${3:-}
BUILD=${4:-}
: "$SHARED" "$BUILD"

for t in openssl nginx gnutls-serv python3 sha256sum curl; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "SKIP: $t is missing"
		exit 77
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-client-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/nginx.sh"
not() { ! "$@"; }

# wait_listen PORT: like wait_port, without connecting (openssl s_server in echo mode ends its
# session loop when a probe connection closes).
wait_listen() {
	local hex
	hex=$(printf '%04X' "$1")
	for _ in $(seq 1 100); do
		if grep -q ":$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "peer on port $1 did not start" >&2
	return 1
}
bg() { # start a peer in the background, remember its pid
	"$@" &
	PIDS+=($!)
}

# ---- test PKI ------------------------------------------------------------------------
P=$T/pki
mkdir -p "$P"
(
	cd "$P"
	ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=li707 test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=keyCertSign,cRLSign"
	openssl req -x509 "${ec[@]}" -keyout other-ca.key -out other-ca.pem -days 2 \
		-subj "/CN=unrelated CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=keyCertSign,cRLSign"
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
	printf 'extendedKeyUsage=clientAuth\n' >client.ext
	openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost"
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile server.ext -out server.pem
	openssl req "${ec[@]}" -keyout client.key -out client.csr -subj "/CN=li707 test client"
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile client.ext -out client.pem
	openssl req "${ec[@]}" -keyout stranger.key -out stranger.csr -subj "/CN=stranger"
	openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial \
		-days 2 -extfile client.ext -out stranger.pem
	# A CRL of the test CA that revokes the server certificate.
	mkdir -p db && : >db/index && echo 01 >db/crlnumber
	cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = $P/db/index
crlnumber = $P/db/crlnumber
default_md = sha256
default_crl_days = 2
CNF
	openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.pem -out empty.crl
	openssl ca -config ca.cnf -revoke server.pem -keyfile ca.key -cert ca.pem
	openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.pem -out revoked.crl
	openssl rand -hex 32 >psk.hex
	openssl rand -hex 32 >wrong.hex
	chmod 600 psk.hex wrong.hex
) >"$T/pki.log" 2>&1 || {
	cat "$T/pki.log" >&2
	bad "test PKI"
	echo "$pass passed, $fail failed"
	exit 1
}
CLI=(--cacert "$P/ca.pem" --cert "$P/client.pem" --key "$P/client.key")

# ---- content -------------------------------------------------------------------------
W=$T/www
mkdir -p "$W" "$T/dl"
chmod 755 "$T" "$W" # nginx workers may run as another user
head -c $((50 * 1024 * 1024)) /dev/urandom >"$W/big.bin"
BIG_SHA=$(sha256sum "$W/big.bin" | cut -d' ' -f1)
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$W/mid.bin"
MID_SHA=$(sha256sum "$W/mid.bin" | cut -d' ' -f1)
: >"$W/empty.bin"
REQ=$SRC/tests/data/golden/li-coll-01.xml
"$TOOL" respond "$REQ" >"$W/ok.xml"
"$TOOL" respond "$SRC/tests/data/decode/get-and-deliver.xml" >"$W/mixed.xml" 2>/dev/null || true
for f in hi1 hi1err hi1err500 upload; do : >"$W/$f"; done

# ---- nginx: mutual TLS, static files, POST -> fixed HI-1 response, Expect logged --------
NGX=$(free_port)
# POST to a static file is 405; error_page turns it into the fixed answer. /hi1err500 is like
# pyli5: HTTP 500 with an HI-1 body carrying ErrorInformation.
nginx_start "$T" "$NGX" "$W" pki="$P" mtls protocols="TLSv1.2 TLSv1.3" \
	log='$request expect=$http_expect range=$http_range status=$status' \
	http="types { application/xml xml; application/octet-stream bin; }" \
	http="default_type application/octet-stream;" \
	http="client_max_body_size 64m;" http="keepalive_requests 100000;" \
	server="location = /hi1 { error_page 405 =200 /ok.xml; }" \
	server="location = /hi1err { error_page 405 =200 /mixed.xml; }" \
	server="location = /upload { error_page 405 =200 /empty.bin; }" \
	server='location = /bench { return 200 "ok"; }' \
	server="location = /status500 { return 500; }" \
	server="location = /hi1err500 { error_page 405 =500 /mixed.xml; }" \
	server="location /slow/ { alias $W/; limit_rate 4m; }"
PIDS+=("$NGINX_PID")
U=https://127.0.0.1:$NGX

# ---- send: HI-1 message, decoded answer (R-TRN-1, R-TRN-3) ------------------------------
run "$TOOL" send "${CLI[@]}" "$U/hi1" "$REQ"
expect_rc "send: DELIVERResponse -> 0" 0
check "send: summary line" contains "$T/out" "action 0: DELIVERResponse"
run "$TOOL" send "${CLI[@]}" --xml "$U/hi1" "$REQ"
expect_rc "send --xml" 0
check "send --xml prints the response XML" contains "$T/out" "<DELIVERResponse>"
check "send: nothing of the message on stderr (R-SEC-6)" test ! -s "$T/err"
run "$TOOL" send "${CLI[@]}" "$U/hi1err" "$REQ"
expect_rc "send: ErrorInformation -> 1" 1
check "send: error code printed" contains "$T/out" "ErrorInformation 3001"
run "$TOOL" send "${CLI[@]}" "$U/status500" "$REQ"
expect_rc "send: HTTP 500 -> 3" 3
check "send: HTTP status classified" contains "$T/err" "(http-status)"
check "send: HTTP 500 without an HI-1 body prints no summary" test ! -s "$T/out"
# R-TRN-3: an HTTP error status that carries an HI-1 response: the LEA's answer is shown.
run "$TOOL" send "${CLI[@]}" "$U/hi1err500" "$REQ"
expect_rc "send: HTTP 500 with an HI-1 body -> 3" 3
check "send: HTTP 500 with an HI-1 body is still classified" contains "$T/err" "(http-status)"
check "test_trn_3_send_error_status_shows_hi1_answer" contains "$T/out" "ErrorInformation 3001"
run "$TOOL" send "${CLI[@]}" --xml "$U/hi1err500" "$REQ"
check "send --xml: HTTP 500 with an HI-1 body prints its XML" contains "$T/out" "<ErrorInformation>"
run "$TOOL" send "${CLI[@]}" "$U/ok.xml.missing" "$REQ"
expect_rc "send: 404 -> 3" 3
run "$TOOL" send --cacert "$P/other-ca.pem" --cert "$P/client.pem" --key "$P/client.key" "$U/hi1" "$REQ"
expect_rc "send: wrong CA -> 3" 3
check "send: wrong CA is a TLS failure" contains "$T/err" "(tls)"
run "$TOOL" send --cacert "$P/ca.pem" --cert "$P/stranger.pem" --key "$P/stranger.key" "$U/hi1" "$REQ"
expect_rc "send: client cert of another CA -> 3" 3
run "$TOOL" send --cacert "$P/ca.pem" --crl "$P/revoked.crl" --cert "$P/client.pem" --key "$P/client.key" "$U/hi1" "$REQ"
expect_rc "send: server certificate revoked by --crl -> 3" 3
check "send: revoked is a TLS failure" contains "$T/err" "(tls)"
run "$TOOL" send --cacert "$P/ca.pem" --crl "$P/empty.crl" --cert "$P/client.pem" --key "$P/client.key" "$U/hi1" "$REQ"
expect_rc "send: --crl without the server -> 0" 0
DEAD=$(free_port)
run "$TOOL" send "${CLI[@]}" "https://127.0.0.1:$DEAD/hi1" "$REQ"
expect_rc "send: nothing listening -> 3" 3
check "send: connect failure classified" contains "$T/err" "(connect)"
run "$TOOL" send "${CLI[@]}" "https://no-such-host.invalid/hi1" "$REQ"
expect_rc "send: unknown host -> 3" 3
check "send: DNS failure classified" contains "$T/err" "(dns)"
run "$TOOL" send "${CLI[@]}" "http://127.0.0.1:$NGX/hi1" "$REQ"
expect_rc "send: http:// refused (R-SEC-1)" 2
run "$TOOL" send "${CLI[@]}" --tls-min 1.1 "$U/hi1" "$REQ"
expect_rc "send: --tls-min 1.1 is a usage error" 2
run "$TOOL" send --psk-identity x "$U/hi1" "$REQ"
expect_rc "send: --psk-identity without --psk-file" 2
run "$TOOL" send "${CLI[@]}" --timeout abc "$U/hi1" "$REQ"
expect_rc "send: bad --timeout" 2
chmod 644 "$P/wrong.hex"
run "$TOOL" send --psk-identity li707 --psk-file "$P/wrong.hex" "$U/hi1" "$REQ"
expect_rc "send: world-readable PSK file refused" 4
chmod 600 "$P/wrong.hex"

# ---- fetch: Range requests, sha256, resume, chunk shrink (R-BIN-C1, R-BIN-C2) ----------
run "$TOOL" fetch "${CLI[@]}" "$U/big.bin" -o "$T/dl/big" --sha256 "$BIG_SHA"
expect_rc "fetch: 50 MB with --sha256" 0
check "fetch: byte-identical" cmp -s "$W/big.bin" "$T/dl/big"
check "fetch: no part file left" test ! -e "$T/dl/big.part"
check "fetch: used Range requests" contains "$T/access.log" "GET /big.bin HTTP/1.1 expect=- range=bytes=0-"
check "fetch: no progress bar without a TTY" test ! -s "$T/err"
if command -v script >/dev/null 2>&1; then
	script -qc "$TOOL fetch ${CLI[*]} $U/mid.bin -o $T/dl/tty" /dev/null >"$T/tty.out" 2>&1 || true
	check "fetch: progress bar on a TTY" contains "$T/tty.out" "100.0%"
	check "fetch: progress never above 100%" not grep -Eq '(10[1-9]|1[1-9][0-9])\.[0-9]%' "$T/tty.out"
fi
run "$TOOL" fetch "${CLI[@]}" "$U/empty.bin" -o "$T/dl/empty"
expect_rc "fetch: empty object" 0
check "fetch: empty file" test -f "$T/dl/empty" -a ! -s "$T/dl/empty"
run "$TOOL" fetch "${CLI[@]}" "$U/mid.bin" -o "$T/dl/bad" --sha256 "$BIG_SHA"
expect_rc "fetch: --sha256 mismatch -> 1" 1
check "fetch: mismatch leaves no FILE" test ! -e "$T/dl/bad"
check "fetch: mismatch leaves no part" test ! -e "$T/dl/bad.part"
run "$TOOL" fetch "${CLI[@]}" "$U/missing.bin" -o "$T/dl/missing"
expect_rc "fetch: 404 -> 3" 3
check "fetch: 404 leaves no FILE" test ! -e "$T/dl/missing"
run "$TOOL" fetch --cacert "$P/other-ca.pem" "${CLI[@]:2}" "$U/mid.bin" -o "$T/dl/x"
expect_rc "fetch: wrong CA -> 3" 3
check "fetch: wrong CA is a TLS failure" contains "$T/err" "(tls)"

# Interrupted mid-transfer (kill -9 while nginx limits the rate), then --resume.
set +e
"$TOOL" fetch "${CLI[@]}" "$U/slow/big.bin" -o "$T/dl/res" --chunk-size 64M >/dev/null 2>&1 &
FP=$!
for _ in $(seq 1 100); do
	sz=$(stat -c %s "$T/dl/res.part" 2>/dev/null || echo 0)
	[ "$sz" -gt $((3 * 1024 * 1024)) ] && break
	sleep 0.1
done
kill -9 "$FP" 2>/dev/null
wait "$FP" 2>/dev/null
set -e
sz=$(stat -c %s "$T/dl/res.part" 2>/dev/null || echo 0)
check "fetch: interrupted leaves a partial part file" test "$sz" -gt 0 -a "$sz" -lt $((50 * 1024 * 1024))
check "fetch: interrupted leaves no FILE" test ! -e "$T/dl/res"
check "fetch: the validator was kept" test -s "$T/dl/res.part.etag"
run "$TOOL" fetch "${CLI[@]}" "$U/big.bin" -o "$T/dl/res" --resume --sha256 "$BIG_SHA"
expect_rc "fetch --resume" 0
check "fetch --resume: byte-identical" cmp -s "$W/big.bin" "$T/dl/res"
check "fetch --resume: started at the part size" contains "$T/access.log" "range=bytes=$sz-"
check "fetch --resume: sidecar removed" test ! -e "$T/dl/res.part.etag"

# A changed object: the stale validator makes the server send the whole object (200).
head -c 1000 "$W/mid.bin" >"$T/dl/chg.part"
echo '"stale-etag"' >"$T/dl/chg.part.etag"
run "$TOOL" fetch "${CLI[@]}" "$U/mid.bin" -o "$T/dl/chg" --resume --sha256 "$MID_SHA"
expect_rc "fetch --resume with a changed validator restarts" 0
check "fetch: restarted file is byte-identical" cmp -s "$W/mid.bin" "$T/dl/chg"

# Annex E: a server that resets every response above 256 KiB.
RS=$(free_port)
bg python3 "$SRC/tests/integration/peers/reset_server.py" "$RS" "$P/server.pem" "$P/server.key" \
	"$W/mid.bin" 262144 "$T/reset.log"
wait_port "$RS"
run "$TOOL" fetch --cacert "$P/ca.pem" --chunk-size 2M "https://127.0.0.1:$RS/mid" -o "$T/dl/shrink" \
	--sha256 "$MID_SHA"
expect_rc "fetch: chunk shrink against resets" 0
check "fetch: shrink result byte-identical" cmp -s "$W/mid.bin" "$T/dl/shrink"
check "fetch: large ranges were reset" contains "$T/reset.log" "reset"
check "fetch: smaller ranges got through" contains "$T/reset.log" "sent"
# grown back: after a success a larger range than the one that succeeded is tried again
check "fetch: range grows back after success" \
	awk -F'[- ]' '$3=="sent"{s=$2-$1} $3=="reset"&&s&&($2-$1)>s{g=1} END{exit !g}' "$T/reset.log"

# ---- post-binary: Model B, Expect: 100-continue (R-BIN-B2, R-BIN-B3) ------------------
run "$TOOL" post-binary "${CLI[@]}" "$U/upload" "$W/mid.bin" --content-type application/octet-stream
expect_rc "post-binary" 0
check "post-binary: got 100 Continue" contains "$T/out" "after 100 Continue"
check "post-binary: Expect sent" contains "$T/access.log" "POST /upload HTTP/1.1 expect=100-continue"
run "$TOOL" send "${CLI[@]}" "$U/hi1" "$REQ"
check "send: no Expect for a small HI-1 message" contains "$T/access.log" "POST /hi1 HTTP/1.1 expect=- "
run "$TOOL" post-binary "${CLI[@]}" "$U/upload" "$W/mid.bin"
expect_rc "post-binary: --content-type required" 2

# A listener that completes TLS, reads the headers and never answers.
SL=$(free_port)
# Its standard input is a FIFO we keep open, so it never sees end of input.
mkfifo "$T/fifo"
exec 9<>"$T/fifo"
openssl s_server -accept "127.0.0.1:$SL" -cert "$P/server.pem" -key "$P/server.key" \
	<"$T/fifo" >"$T/silent.log" 2>&1 &
PIDS+=($!)
wait_listen "$SL"
head -c 100000 /dev/urandom >"$T/obj.bin"
echo "BODY-MARKER-707" >>"$T/obj.bin"
s0=$(date +%s.%N)
run "$TOOL" post-binary --cacert "$P/ca.pem" "https://127.0.0.1:$SL/up" "$T/obj.bin" -t application/octet-stream \
	--expect-timeout 1 --timeout 3
s1=$(date +%s.%N)
expect_rc "post-binary: silent server -> 3" 3
check "post-binary: timeout classified" contains "$T/err" "(timeout)"
check "post-binary: Expect: 100-continue on the wire" grep -aq "Expect: 100-continue" "$T/silent.log"
check "post-binary: body sent after the 1 s continue timeout" grep -aq "BODY-MARKER-707" "$T/silent.log"
check "post-binary: --timeout respected" python3 -c "import sys; sys.exit(not 2.5 < $s1 - $s0 < 4.5)"
: >"$T/silent.log"
run "$TOOL" post-binary --cacert "$P/ca.pem" "https://127.0.0.1:$SL/up" "$T/obj.bin" -t application/octet-stream \
	--expect-timeout 10 --timeout 2
expect_rc "post-binary: silent server, long continue timeout -> 3" 3
check "post-binary: no body before the continue timeout" not grep -aq "BODY-MARKER-707" "$T/silent.log"
# R-BIN-B3 / Annex C.3: the continue timeout follows the record's expiry, bounded by
# --expect-timeout: an expiry 3 s away ends a 600 s wait, so the body goes before --timeout.
: >"$T/silent.log"
EXP=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
run "$TOOL" post-binary --cacert "$P/ca.pem" "https://127.0.0.1:$SL/up" "$T/obj.bin" -t application/octet-stream \
	--expiry "$EXP" --expect-timeout 600 --timeout 10
expect_rc "test_bin_b3_continue_timeout_follows_expiry: silent server -> 3" 3
check "test_bin_b3_continue_timeout_follows_expiry: body sent at the expiry" \
	grep -aq "BODY-MARKER-707" "$T/silent.log"
: >"$T/silent.log"
run "$TOOL" post-binary --cacert "$P/ca.pem" "https://127.0.0.1:$SL/up" "$T/obj.bin" -t application/octet-stream \
	--expiry 2020-01-01T00:00:00Z
expect_rc "post-binary: expiry passed -> 3" 3
check "post-binary: expiry passed is said" contains "$T/err" "expiry has passed"
check "post-binary: expiry passed: nothing sent" not grep -aq "POST /up" "$T/silent.log"
run "$TOOL" post-binary --cacert "$P/ca.pem" "https://127.0.0.1:$SL/up" "$T/obj.bin" -t application/octet-stream \
	--expiry 2026-13-01T00:00:00Z
expect_rc "post-binary: bad --expiry -> 2" 2

# ---- TLS peers: client certificate required, TLS 1.1 only ----------------------------
V=$(free_port)
openssl s_server -ign_eof -accept "127.0.0.1:$V" -cert "$P/server.pem" -key "$P/server.key" \
	-Verify 1 -CAfile "$P/ca.pem" -www </dev/null >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$V"
run "$TOOL" fetch --cacert "$P/ca.pem" "https://127.0.0.1:$V/" -o "$T/dl/v"
expect_rc "no client certificate -> 3" 3
check "no client certificate is a TLS failure" contains "$T/err" "(tls)"
run "$TOOL" fetch --cacert "$P/ca.pem" --tls-min 1.2 "${CLI[@]:2}" "https://127.0.0.1:$V/" -o "$T/dl/v"
expect_rc "client certificate accepted by s_server" 0
O=$(free_port)
openssl s_server -ign_eof -accept "127.0.0.1:$O" -cert "$P/server.pem" -key "$P/server.key" \
	-tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -www </dev/null >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$O"
run "$TOOL" fetch "${CLI[@]}" "https://127.0.0.1:$O/" -o "$T/dl/o"
expect_rc "TLS 1.1 server refused (R-SEC-1) -> 3" 3
check "TLS 1.1 refusal is a TLS failure" contains "$T/err" "(tls)"

# ---- gnutls-serv: PSK on TLS 1.2 and 1.3 (R-SEC-4), mTLS -----------------------------
echo "li707:$(cat "$P/psk.hex")" >"$T/pskpasswd"
for v in 1.2 1.3; do
	G=$(free_port)
	if [ $v = 1.2 ]; then prio="NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-PSK:+DHE-PSK"
	else prio="NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK"; fi
	gnutls-serv --http -p "$G" --pskpasswd "$T/pskpasswd" --priority "$prio" >"$T/gnutls-$v.log" 2>&1 &
	GP=$!
	PIDS+=($GP)
	wait_port "$G"
	run "$TOOL" fetch --psk-identity li707 --psk-file "$P/psk.hex" "https://127.0.0.1:$G/" -o "$T/dl/psk$v"
	expect_rc "PSK TLS $v: right key" 0
	check "PSK TLS $v: page fetched" contains "$T/dl/psk$v" "GnuTLS"
	run "$TOOL" fetch --psk-identity li707 --psk-file "$P/wrong.hex" "https://127.0.0.1:$G/" -o "$T/dl/pskw$v"
	expect_rc "PSK TLS $v: wrong key -> 3" 3
	check "PSK TLS $v: wrong key is a TLS failure" contains "$T/err" "(tls)"
	run "$TOOL" fetch --psk-identity nobody --psk-file "$P/psk.hex" "https://127.0.0.1:$G/" -o "$T/dl/pskn$v"
	expect_rc "PSK TLS $v: unknown identity -> 3" 3
	kill "$GP" 2>/dev/null || true
done
G=$(free_port)
gnutls-serv --http -p "$G" --x509certfile "$P/server.pem" --x509keyfile "$P/server.key" \
	--x509cafile "$P/ca.pem" --require-client-cert >"$T/gnutls-mtls.log" 2>&1 &
PIDS+=($!)
wait_port "$G"
run "$TOOL" fetch "${CLI[@]}" "https://127.0.0.1:$G/" -o "$T/dl/g1"
expect_rc "gnutls-serv mTLS: client certificate" 0
run "$TOOL" fetch --cacert "$P/ca.pem" "https://127.0.0.1:$G/" -o "$T/dl/g2"
expect_rc "gnutls-serv mTLS: no client certificate -> 3" 3
check "gnutls-serv mTLS: no client certificate is a TLS failure" contains "$T/err" "(tls)"
run "$TOOL" fetch --psk-identity li707 --psk-file "$P/psk.hex" "https://127.0.0.1:$G/" -o "$T/dl/g3"
expect_rc "PSK mode refuses a certificate-only server -> 3" 3

summary
