#!/usr/bin/env bash
# Integration test of the li707-csp Model A/C file server (src/csp/csp_files.c; R-BIN-A1,
# R-BIN-A2, R-BIN-A3, R-BIN-C1, R-CORE-5) through tests/helpers/csp_files_serve, against
# independent clients and nginx:
#  - curl with single and multiple ranges, If-Range, HEAD, compared with nginx (mutual TLS,
#    the same file): status, Content-Range, Content-Length and body bytes identical
#    (multipart bodies after the boundary string is replaced; Server, ETag, Last-Modified
#    differ by nature and are not compared);
#  - the byte-identical refusal test: `curl -si` of another LEA's certificate, a certificate
#    of another CA, an expired object, an unknown token and malformed paths, compared with cmp
#    once the Date value (the second each answer left) is blanked; the same over PSK with
#    gnutls-cli;
#  - `li707 fetch` (our client) fetching Model C objects in chunks, over mTLS and PSK.
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; exits 77 when a
# required tool is missing. KEEP=1 keeps the temporary directory (debugging).
set -euo pipefail

TOOL=$1
SRC=$2
BUILD=${4:-}
SERVE=$BUILD/tests/csp_files_serve

for t in openssl nginx curl gnutls-cli python3 sha256sum cmp; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "SKIP: $t is missing"
		exit 77
	fi
done
if [ ! -x "$SERVE" ]; then
	echo "SKIP: $SERVE not built"
	exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-csp-files-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/nginx.sh"


P=$T/pki
"$SRC/scripts/pki.sh" "$P" >"$T/pki.log" 2>&1 || {
	cat "$T/pki.log" >&2
	exit 1
}
PSK1=$(tr -d ' \n' <"$P/psk1.key")
PSK2=$(tr -d ' \n' <"$P/psk2.key")

# ---- objects and manifest -------------------------------------------------------------
R=$T/objects
mkdir -p "$R" "$T/dl"
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$R/mid.bin"
head -c 70000 /dev/urandom >"$R/small.bin"
MID_SHA=$(sha256sum "$R/mid.bin" | cut -d' ' -f1)
SMALL_SHA=$(sha256sum "$R/small.bin" | cut -d' ' -f1)
tok() { "$SERVE" --token; }
TOK=$(tok)       # mid.bin, lea1, valid
TOK_S=$(tok)     # small.bin, lea1, valid
TOK_EXP=$(tok)   # mid.bin, lea1, expired
TOK_L2=$(tok)    # small.bin, lea2 only
TOK_UNK=$(tok)   # in no manifest
check "R-CORE-5: tokens are 22 base64url characters" \
	bash -c "for t in $TOK $TOK_S $TOK_EXP $TOK_L2 $TOK_UNK; do [[ \$t =~ ^[A-Za-z0-9_-]{22}\$ ]] || exit 1; done"
is "R-CORE-5: five fresh tokens are distinct" 5 "$(printf '%s\n' "$TOK" "$TOK_S" "$TOK_EXP" "$TOK_L2" "$TOK_UNK" | sort -u | wc -l)"
cat >"$T/manifest" <<MAN
# token file content-type expiry peer
$TOK mid.bin application/pdf +3600 lea1
$TOK_S small.bin image/png +3600 lea1
$TOK_EXP mid.bin application/pdf -10 lea1
$TOK_L2 small.bin image/png +3600 lea2
MAN

"$SERVE" --cert "$P/server.pem" --key "$P/server.key" --cacert "$P/ca.pem" \
	--allow "lea1=csp1.test" --allow "lea2=csp2.test" \
	--psk "lea1:lea1-psk:$P/psk1.key" --psk "lea2:lea2-psk:$P/psk2.key" \
	--listen 127.0.0.1:0 --psk-listen 127.0.0.1:0 --root "$R" --manifest "$T/manifest" \
	>"$T/serve.out" 2>"$T/serve.err" &
PIDS+=($!)
for _ in $(seq 1 100); do
	[ "$(wc -l <"$T/serve.out")" -ge 2 ] && break
	sleep 0.05
done
OURS=$(awk '$2 == "cert" {print $3}' "$T/serve.out")
OURS_PSK=$(awk '$2 == "psk" {print $3}' "$T/serve.out")
U=https://127.0.0.1:$OURS

# ---- nginx: mutual TLS, the same files under the same URLs ------------------------------
N=$T/ngx
mkdir -p "$N/www/objects"
chmod 755 "$T" "$N" "$N/www" "$N/www/objects"
cp "$R/mid.bin" "$N/www/objects/$TOK"
cp "$R/small.bin" "$N/www/objects/$TOK_S"
chmod 644 "$N/www/objects/"*
NGX=$(free_port)
nginx_start "$N" "$NGX" "$N/www" pki="$P" mtls protocols="TLSv1.2 TLSv1.3" connections=64 \
	server="location = /objects/$TOK { default_type application/pdf; }" \
	server="location = /objects/$TOK_S { default_type image/png; }"
PIDS+=("$NGINX_PID")
wait_port "$OURS"
G=https://127.0.0.1:$NGX
C1=(--cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")

# get NAME BASE PATH [curl options...]: headers to $T/NAME.h, body to $T/NAME.b
get() {
	local name=$1 base=$2 path=$3
	shift 3
	curl -sS --path-as-is "${C1[@]}" -D "$T/$name.h" -o "$T/$name.b" "$@" "$base$path"
}
hdr() { # FILE NAME: the header's value, without CR
	grep -i "^$2:" "$1" | head -1 | cut -d: -f2- | sed 's/^ //; s/\r$//'
}
status() { head -1 "$1" | cut -d' ' -f2; }
# same_as_nginx CHECK PATH [curl options...]: status, Content-Range, Content-Length, body.
# BODY=no: the body is each server's own page (416) or there is none (HEAD): not compared.
# multipart/byteranges: the boundary strings differ (ours 32 hex digits, nginx's 20 digits) and
# nginx starts the body with a CRLF (RFC 2046 5.1.1 allows either): the parts are compared
# after both are normalised, Content-Length against each body's own size.
same_as_nginx() {
	local what=$1 path=$2
	shift 2
	get ours "$U" "$path" "$@"
	get ngx "$G" "$path" "$@"
	is "$what: status" "$(status "$T/ngx.h")" "$(status "$T/ours.h")"
	is "$what: Content-Range" "$(hdr "$T/ngx.h" Content-Range)" "$(hdr "$T/ours.h" Content-Range)"
	is "$what: Content-Type" "$(hdr "$T/ngx.h" Content-Type | sed 's/boundary=.*/boundary=/')" \
		"$(hdr "$T/ours.h" Content-Type | sed 's/boundary=.*/boundary=/')"
	[ "${BODY:-yes}" = no ] && return 0
	local bo bn
	bo=$(hdr "$T/ours.h" Content-Type | sed -n 's/.*boundary=//p')
	bn=$(hdr "$T/ngx.h" Content-Type | sed -n 's/.*boundary=//p')
	if [ -n "$bo" ] && [ -n "$bn" ]; then
		is "$what: Content-Length is the body's size" "$(stat -c %s "$T/ours.b")" \
			"$(hdr "$T/ours.h" Content-Length)"
		python3 - "$T/ours.b" "$bo" "$T/ngx.b" "$bn" <<'PY'
import sys
for f, b in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    d = open(f, 'rb').read().replace(b.encode(), b'BOUNDARY')
    if d.startswith(b'\r\n'):
        d = d[2:]
    open(f, 'wb').write(d)
PY
	else
		is "$what: Content-Length" "$(hdr "$T/ngx.h" Content-Length)" "$(hdr "$T/ours.h" Content-Length)"
	fi
	check "$what: body bytes identical to nginx's" cmp -s "$T/ours.b" "$T/ngx.b"
}

# ---- R-BIN-A1, R-BIN-C1: the allowed peer, compared with nginx ---------------------------
same_as_nginx "whole object" "/objects/$TOK"
is "whole object: SHA-256" "$MID_SHA" "$(sha256sum <"$T/ours.b" | cut -d' ' -f1)"
is "whole object: the object's Content-Type" "application/pdf" "$(hdr "$T/ours.h" Content-Type)"
is "R-BIN-C1: strong ETag from the SHA-256" "\"$MID_SHA\"" "$(hdr "$T/ours.h" ETag)"
same_as_nginx "single range" "/objects/$TOK" -r 100-10099
same_as_nginx "open range" "/objects/$TOK" -r 3000000-
same_as_nginx "suffix range" "/objects/$TOK" -r -500
same_as_nginx "range past the end clipped" "/objects/$TOK_S" -r 69990-80000
same_as_nginx "two ranges (multipart/byteranges)" "/objects/$TOK" -r 0-99,2000000-2000099
same_as_nginx "three ranges (multipart/byteranges)" "/objects/$TOK_S" -r 0-0,500-999,-1
BODY=no same_as_nginx "unsatisfiable range: 416" "/objects/$TOK_S" -r 70000-70010
is "unsatisfiable range: 416" 416 "$(status "$T/ours.h")"
BODY=no same_as_nginx "HEAD" "/objects/$TOK" -I
is "HEAD: Content-Length like nginx" "$(hdr "$T/ngx.h" Content-Length)" "$(hdr "$T/ours.h" Content-Length)"
# The one difference: RFC 9110 14.2 defines Range for GET only ("A server MUST ignore a Range
# header field received with a request method ... for which range handling is not defined"):
# a HEAD with Range gets the whole object's headers from us, nginx answers 206.
get ours "$U" "/objects/$TOK" -I -r 0-9
is "HEAD with a range: 200 (Range is for GET only)" 200 "$(status "$T/ours.h")"
is "HEAD with a range: the whole length" 3158073 "$(hdr "$T/ours.h" Content-Length)"
# If-Range: each server's own validator selects the range, a stale one the whole object.
get ours "$U" "/objects/$TOK" -I
get ngx "$G" "/objects/$TOK" -I
ET_OURS=$(hdr "$T/ours.h" ETag)
ET_NGX=$(hdr "$T/ngx.h" ETag)
LM_OURS=$(hdr "$T/ours.h" Last-Modified)
LM_NGX=$(hdr "$T/ngx.h" Last-Modified)
get ours "$U" "/objects/$TOK" -r 10-19 -H "If-Range: $ET_OURS"
get ngx "$G" "/objects/$TOK" -r 10-19 -H "If-Range: $ET_NGX"
is "If-Range with the current ETag: 206 like nginx" "$(status "$T/ngx.h")" "$(status "$T/ours.h")"
is "If-Range with the current ETag: 206" 206 "$(status "$T/ours.h")"
check "If-Range with the current ETag: same bytes" cmp -s "$T/ours.b" "$T/ngx.b"
get ours "$U" "/objects/$TOK" -r 10-19 -H "If-Range: $LM_OURS"
get ngx "$G" "/objects/$TOK" -r 10-19 -H "If-Range: $LM_NGX"
is "If-Range with Last-Modified: 206 like nginx" "$(status "$T/ngx.h")" "$(status "$T/ours.h")"
same_as_nginx "If-Range with a stale ETag: the whole object" "/objects/$TOK" -r 10-19 \
	-H 'If-Range: "0123456789abcdef"'
is "If-Range with a stale ETag: 200" 200 "$(status "$T/ours.h")"
# Abusive Range headers: ours answers the whole object once (RFC 9110 14.2 allows ignoring).
MANY=$(python3 -c 'print(",".join("%d-%d" % (i, i) for i in range(2000)))')
get ours "$U" "/objects/$TOK_S" -H "Range: bytes=$MANY"
is "2000 ranges: 200" 200 "$(status "$T/ours.h")"
is "2000 ranges: the object once, no amplification" 70000 "$(stat -c %s "$T/ours.b")"
get ours "$U" "/objects/$TOK_S" -H "Range: bytes=0-,0-,0-,0-,0-,0-"
is "overlapping whole-object ranges: the object once" 70000 "$(stat -c %s "$T/ours.b")"
get ours "$U" "/objects/$TOK_S" -H "Range: bytes=123456789012345678901234567890-"
is "huge first position: 416" 416 "$(status "$T/ours.h")"
is "huge first position: Content-Range */size" "bytes */70000" "$(hdr "$T/ours.h" Content-Range)"

# ---- R-BIN-A2, R-BIN-A3: every refusal is the same answer, byte for byte ------------------
# refusal NAME CERT PATH: `curl -si` output with the Date value blanked, in $T/ref-NAME.
refusal() {
	local name=$1 cert=$2 path=$3
	curl -si --path-as-is --cacert "$P/ca.pem" --cert "$P/$cert.pem" --key "$P/$cert.key" \
		"$U$path" >"$T/ref-$name.raw" || true
	sed 's/^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9]\{4\} [0-9:]\{8\} GMT\r$/Date: -\r/' \
		"$T/ref-$name.raw" >"$T/ref-$name"
}
refusal peer csp2 "/objects/$TOK"          # another LEA's certificate (R-BIN-A2)
refusal ca2 other "/objects/$TOK"          # same subject, another CA
refusal certexp expired "/objects/$TOK"    # an expired client certificate
refusal expired csp1 "/objects/$TOK_EXP"   # an expired object (R-BIN-A3)
refusal unknown csp1 "/objects/$TOK_UNK"   # a token nobody issued
refusal notmine csp1 "/objects/$TOK_L2"    # lea2's object asked by lea1
refusal short csp1 "/objects/${TOK:0:21}"
refusal dotdot csp1 "/objects/../objects/$TOK"
refusal enc csp1 "/objects/%2e%2e/objects/$TOK"
refusal encslash csp1 "/objects/$TOK%2f..%2fmid.bin"
refusal nul csp1 "/objects/$TOK%00"
refusal dslash csp1 "/objects//$TOK"
refusal lead csp1 "//objects/$TOK"
refusal trail csp1 "/objects/$TOK/"
refusal file csp1 "/objects/mid.bin"
refusal root csp1 "/"
check "refusal: a 404" contains "$T/ref-peer" "^HTTP/1.1 404 "
check "refusal: Date present and well-formed" contains "$T/ref-peer" "^Date: -"
for n in ca2 certexp expired unknown notmine short dotdot enc encslash nul dslash lead trail file root; do
	check "R-BIN-A2/A3: refusal '$n' is byte-identical to another LEA's (cmp)" \
		cmp "$T/ref-peer" "$T/ref-$n"
done
check "the allowed peer still gets the object" \
	curl -sf "${C1[@]}" -o /dev/null "$U/objects/$TOK"

# Over PSK (gnutls-cli): lea2's identity for lea1's object, and an unknown token, are the
# same answer; lea1's identity gets the object.
psk_get() { # IDENTITY KEYHEX PATH OUT
	printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$3" |
		timeout 20 gnutls-cli --logfile=/dev/null --pskusername="$1" --pskkey="$2" \
			--priority 'NORMAL:+DHE-PSK:+ECDHE-PSK:+PSK' -p "$OURS_PSK" 127.0.0.1 2>/dev/null |
		sed 's/^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9]\{4\} [0-9:]\{8\} GMT\r$/Date: -\r/' >"$4" || true
}
psk_get lea2-psk "$PSK2" "/objects/$TOK" "$T/psk-peer"
psk_get lea1-psk "$PSK1" "/objects/$TOK_UNK" "$T/psk-unknown"
psk_get lea1-psk "$PSK1" "/objects/$TOK_S" "$T/psk-ok"
check "PSK: refusal is a 404" contains "$T/psk-peer" "^HTTP/1.1 404 "
check "PSK: another LEA's identity and an unknown token: byte-identical" \
	cmp "$T/psk-peer" "$T/psk-unknown"
# gnutls-cli's request asks for Connection: close, curl's keeps the connection: the one
# connection-level header is left out of this comparison.
grep -v '^Connection: ' "$T/psk-peer" >"$T/psk-peer.nc"
check "PSK: the same answer as over certificates (but Connection)" cmp "$T/psk-peer.nc" "$T/ref-peer"
check "PSK: the allowed identity gets the object" contains "$T/psk-ok" "^HTTP/1.1 200 "
check "PSK: ... with its Content-Type" contains "$T/psk-ok" "^Content-Type: image/png"

# ---- li707 fetch (our client), Model C: chunked Range retrieval ----------------------------
run "$TOOL" fetch "${C1[@]}" --chunk-size 1M --sha256 "$MID_SHA" -o "$T/dl/mid.bin" "$U/objects/$TOK"
expect_rc "R-BIN-C1: li707 fetch in 1 MiB ranges over mTLS" 0
check "li707 fetch: the object" cmp -s "$R/mid.bin" "$T/dl/mid.bin"
run "$TOOL" fetch --cacert "$P/ca.pem" --psk-identity lea1-psk --psk-file "$P/psk1.key" \
	--chunk-size 16K --sha256 "$SMALL_SHA" -o "$T/dl/small.bin" "https://127.0.0.1:$OURS_PSK/objects/$TOK_S"
expect_rc "R-BIN-C1: li707 fetch in 16 KiB ranges over PSK" 0
check "li707 fetch over PSK: the object" cmp -s "$R/small.bin" "$T/dl/small.bin"
run "$TOOL" fetch --cacert "$P/ca.pem" --cert "$P/csp2.pem" --key "$P/csp2.key" \
	-o "$T/dl/no.bin" "$U/objects/$TOK"
expect_rc "li707 fetch as another LEA: refused" 3
check "li707 fetch as another LEA: nothing stored" test ! -e "$T/dl/no.bin"
run "$TOOL" fetch "${C1[@]}" -o "$T/dl/exp.bin" "$U/objects/$TOK_EXP"
expect_rc "li707 fetch of an expired object: refused" 3

# The counters tell the operator what the clients cannot see.
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}" || true
check "counters: refusals by reason" contains "$T/serve.err" "refused_peer [1-9]"
check "counters: expired" contains "$T/serve.err" "refused_expired [1-9]"
check "counters: malformed" contains "$T/serve.err" "refused_malformed [1-9]"
summary
