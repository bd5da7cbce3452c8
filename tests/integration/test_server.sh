#!/usr/bin/env bash
# Integration test of the HTTPS server (src/common/http_server.c) through
# tests/helpers/li707_test_server, with curl, openssl s_client, gnutls-cli and nginx as the
# Range oracle. Arguments: TOOL SRCDIR SHARED BUILDDIR (as the other integration scripts).
# Ends with "N passed, M failed"; exit 77 when a required tool is missing.
set -uo pipefail

SRC=$2
BUILD=${4:?BUILDDIR}
SRV=$BUILD/tests/li707_test_server
for t in curl openssl gnutls-cli nginx cmp python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$SRV" ] || { echo "SKIP: $SRV not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-server-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEPT:-}" ] && cp -r "$T" "$KEEPT"
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/nginx.sh"

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" || { echo "pki.sh failed"; exit 1; }
mkdir -p "$T/root" "$T/up"
chmod 755 "$T" "$T/root"   # nginx workers run unprivileged
head -c 100000 /dev/urandom >"$T/root/f.bin"; chmod 644 "$T/root/f.bin"
head -c 3000000 /dev/urandom >"$T/root/m.bin"   # >= 1 MiB: served from a mapping
head -c 1024 /dev/urandom >"$T/root/small.bin"
truncate -s 20M "$T/big.bin"          # upload source (sparse)
head -c 30000000 /dev/zero >"$T/root/mid.bin"

# start_server NAME ARGS...: starts the test server, sets PORT (and PSKPORT) and SPID.
SRV_PEERS=(--allow csp1.test --psk-identity lea1 --psk-file "$P/psk1.key")
start_server() {
	local name=$1
	shift
	"$SRV" --cert "$P/server.pem" --key "$P/server.key" --cacert "$P/ca.pem" "${SRV_PEERS[@]}" \
		--listen 127.0.0.1:0 --psk-listen 127.0.0.1:0 --root "$T/root" --upload-dir "$T/up" \
		"$@" >"$T/$name.out" 2>"$T/$name.err" &
	SPID=$!
	PIDS+=("$SPID")
	for _ in $(seq 50); do
		grep -q '^listen psk' "$T/$name.out" 2>/dev/null && break
		sleep 0.1
	done
	PORT=$(awk '$2=="cert"{print $3}' "$T/$name.out")
	PSKPORT=$(awk '$2=="psk"{print $3}' "$T/$name.out")
	[ -n "$PORT" ] || { echo "server $name did not start: $(cat "$T/$name.err")"; exit 1; }
}

C1=(curl -sS --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")
stat_of() { "${C1[@]}" "https://127.0.0.1:$PORT/_stats" | awk -v k="$1" '$1==k{print $2}'; }

start_server main --crl "$P/crl.pem" --per-peer 3 --max-body 10000000 --idle-timeout 2 --reload-cert "$P/server2.pem" --reload-key "$P/server2.key"
URL=https://127.0.0.1:$PORT

# --- R-SEC-2: certificate accepted / refused before the body ---
code=$("${C1[@]}" -o "$T/got" -w '%{http_code}' "$URL/f.bin")
check "csp1 GET 200" [ "$code" = 200 ]
check "csp1 GET body" cmp -s "$T/got" "$T/root/f.bin"
unknown=$("${C1[@]}" -D "$T/h404" -o "$T/b404" -w '%{http_code}' "$URL/does-not-exist")
check "unknown URL 404" [ "$unknown" = 404 ]

UUID=123e4567-e89b-12d3-a456-426614174000
for who in none csp2 expired other revoked; do
	before=$(stat_of body_bytes)
	case $who in
	none) auth=() ;;
	*) auth=(--cert "$P/$who.pem" --key "$P/$who.key") ;;
	esac
	# R-BIN-A2: the answer for a wrong certificate equals the unknown-URL answer.
	code=$(curl -sS --cacert "$P/ca.pem" "${auth[@]}" -D "$T/h" -o "$T/b" -w '%{http_code}' "$URL/f.bin")
	check "$who GET refused as 404" [ "$code" = 404 ]
	check "$who refusal page = unknown URL page" cmp -s "$T/b" "$T/b404"
	check "$who refusal headers = unknown URL headers" \
		diff <(grep -vi '^date:' "$T/h") <(grep -vi '^date:' "$T/h404")
	code=$(curl -sS --cacert "$P/ca.pem" "${auth[@]}" -H 'Expect: 100-continue' \
		--data-binary @"$T/big.bin" -o /dev/null -w '%{http_code}' "$URL/binaryData/$UUID/" 2>/dev/null)
	after=$(stat_of body_bytes)
	check "$who POST refused ($code)" [ "$code" = 404 ]
	check "$who POST: server read 0 body bytes" [ "$before" = "$after" ]
done
check "refused_auth counted" [ "$(stat_of refused_auth)" -ge 10 ]

# --- keep-alive and HEAD ---
"${C1[@]}" -v -o /dev/null -o /dev/null "$URL/f.bin" "$URL/small.bin" 2>"$T/ka"
check "keep-alive: second request reuses the connection" grep -q "Re-using existing connection" "$T/ka"
hl=$("${C1[@]}" -I "$URL/f.bin" | awk -F': ' 'tolower($1)=="content-length"{print $2}' | tr -d '\r')
check "HEAD Content-Length" [ "$hl" = 100000 ]

# --- Model B upload, Expect decision (R-BIN-B3), cap -> 413 before transfer ---
head -c 500000 /dev/urandom >"$T/up.src"
code=$("${C1[@]}" -H 'Expect: 100-continue' --data-binary @"$T/up.src" -o /dev/null -w '%{http_code}' "$URL/binaryData/$UUID/")
check "upload 201" [ "$code" = 201 ]
check "upload stored" cmp -s "$T/up.src" "$T/up/$UUID"
before=$(stat_of body_bytes)
code=$("${C1[@]}" -H 'Expect: 100-continue' --data-binary @"$T/big.bin" -o /dev/null -w '%{http_code}' "$URL/binaryData/223e4567-e89b-12d3-a456-426614174000/")
check "over cap 413" [ "$code" = 413 ]
check "over cap: 0 bytes read" [ "$(stat_of body_bytes)" = "$before" ]
code=$("${C1[@]}" -H 'Expect: 100-continue' --data-binary @"$T/up.src" -o /dev/null -w '%{http_code}' "$URL/binaryData/not-a-uuid/")
check "bad Model B path 404" [ "$code" = 404 ]
check "bad path: 0 bytes read" [ "$(stat_of body_bytes)" = "$before" ]

# --- R-SEC-1, R-SEC-3: TLS versions ---
tls() { echo | timeout 5 openssl s_client -connect "127.0.0.1:$PORT" "$1" -CAfile "$P/ca.pem" \
	-cert "$P/csp1.pem" -key "$P/csp1.key" >"$T/sc" 2>&1 && grep -q "^New, TLSv1" "$T/sc" \
	&& ! grep -q "Cipher is (NONE)" "$T/sc"; }
if tls -tls1; then bad "tls1 refused"; else ok; fi
if tls -tls1_1; then bad "tls1_1 refused"; else ok; fi
check "tls1_2 ok" tls -tls1_2
check "tls1_3 ok" tls -tls1_3

# --- R-SEC-4: PSK listener ---
psk() { echo | timeout 5 gnutls-cli --insecure -p "$PSKPORT" 127.0.0.1 --pskusername lea1 --pskkey "$1" \
	--priority 'NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK' >"$T/gc" 2>&1 && grep -q "Handshake was completed" "$T/gc"; }
good=$(tr -d '\n' <"$P/psk1.key")
wrong=$(tr -d '\n' <"$P/psk2.key")
check "PSK right key" psk "$good"
if psk "$wrong"; then bad "PSK wrong key refused"; else ok; fi

# --- Range matrix against nginx (R-BIN-C1, R-BIN-C2) ---
NPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
mkdir -p "$T/nginx"
nginx_start "$T/nginx" "$NPORT" "$T/root" pki="$P" connections=64 \
	http="default_type application/octet-stream;" server="max_ranges 16;" || exit 1
PIDS+=("$NGINX_PID")
etag=$("${C1[@]}" -D - -o /dev/null "$URL/f.bin" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
# get URL OUT HEADER...: status, Content-Range and normalised body (multipart parts) in OUT.
get() {
	local u=$1 out=$2
	shift 2
	local args=()
	for h in "$@"; do args+=(-H "$h"); done
	curl -sS --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key" "${args[@]}" \
		-D "$out.h" -o "$out.b" "$u"
	python3 - "$out" <<'PY'
import sys, re
o = sys.argv[1]
h = open(o + ".h", "rb").read().decode("latin-1").split("\r\n")
b = open(o + ".b", "rb").read()
status = h[0].split()[1]
hd = {}
for l in h[1:]:
    if ":" in l:
        k, v = l.split(":", 1); hd[k.strip().lower()] = v.strip()
res = [status, hd.get("content-range", "")]
ct = hd.get("content-type", "")
m = re.search(r"boundary=(\S+)", ct)
if status == "206" and m:
    bnd = ("--" + m.group(1)).encode()
    for part in b.split(bnd)[1:]:
        if part.startswith(b"--"):
            break
        head, _, body = part.partition(b"\r\n\r\n")
        cr = re.search(rb"Content-Range: (.*)\r", head)
        res.append(cr.group(1).decode() if cr else "?")
        res.append(body[:-2].hex() if body.endswith(b"\r\n") else body.hex())
elif status in ("200", "206"):
    res.append(b.hex())
open(o + ".n", "w").write("\n".join(res))
PY
}
NURL=https://127.0.0.1:$NPORT
i=0
while IFS='|' read -r name hdrs; do
	i=$((i + 1))
	IFS=';' read -r -a hs <<<"$hdrs"
	get "$URL/f.bin" "$T/r$i.ours" "${hs[@]}"
	get "$NURL/f.bin" "$T/r$i.ngx" "${hs[@]}"
	check "range $name = nginx" cmp -s "$T/r$i.ours.n" "$T/r$i.ngx.n"
	[ -s "$T/r$i.ours.n" ] || bad "range $name: no result"
done <<EOF
single|Range: bytes=0-99
single-mid|Range: bytes=5000-5999
suffix|Range: bytes=-500
open|Range: bytes=99000-
past-end|Range: bytes=99990-200000
multi|Range: bytes=0-9,100-199,5000-5099
multi-suffix|Range: bytes=0-0,-1
unsatisfiable|Range: bytes=100000-
other-unit|Range: items=0-1
if-range-mismatch|Range: bytes=0-99;If-Range: "nope"
if-range-weak|Range: bytes=0-99;If-Range: W/"nope"
too-many|Range: bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33
EOF
# An invalid range-spec (last < first): RFC 9110 14.2 lets a server ignore or reject it; we
# ignore it (whole object, 200) where nginx answers 416 - a documented difference.
get "$URL/f.bin" "$T/inv" "Range: bytes=5-1"
check "invalid range-spec ignored -> 200" [ "$(head -1 "$T/inv.n")" = 200 ]
# If-Range with our own strong ETag honours the range (nginx's ETag differs: not compared).
get "$URL/f.bin" "$T/ifr" "Range: bytes=0-99" "If-Range: $etag"
check "If-Range own ETag -> 206" [ "$(head -1 "$T/ifr.n")" = 206 ]
get "$URL/f.bin" "$T/abuse" "Range: bytes=0-99999,0-99999,0-99999"
check "abusive overlap -> 200 whole" [ "$(head -1 "$T/abuse.n")" = 200 ]

# --- bodies of >= 1 MiB come from a mapping of the file (http_server_file.c): byte for byte ---
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }
"${C1[@]}" -o "$T/m.whole" "$URL/m.bin"
check "mapped: whole file" cmp -s "$T/m.whole" "$T/root/m.bin"
"${C1[@]}" -H "Range: bytes=1000000-2499999" -o "$T/m.mid" "$URL/m.bin"
check "mapped: single range" cmp -s "$T/m.mid" <(slice "$T/root/m.bin" 1000000 1500000)
"${C1[@]}" -H "Range: bytes=-1200000" -o "$T/m.suf" "$URL/m.bin"
check "mapped: suffix range" cmp -s "$T/m.suf" <(slice "$T/root/m.bin" 1800000 1200000)
"${C1[@]}" -H "Range: bytes=4097-" -o "$T/m.open" "$URL/m.bin"
check "mapped: open range (unaligned start)" cmp -s "$T/m.open" <(slice "$T/root/m.bin" 4097 2995903)
# A file truncated while it is being sent: the transfer is cut, what arrived is a prefix of
# the original, and the server goes on serving (SIGBUS on the mapping is handled).
head -c 20000000 /dev/urandom >"$T/trunc.orig"
cp "$T/trunc.orig" "$T/root/trunc.bin"
"${C1[@]}" --limit-rate 2M -o "$T/trunc.got" "$URL/trunc.bin" 2>/dev/null &
tp=$!
sleep 1
truncate -s 4000000 "$T/root/trunc.bin"
wait $tp
got=$(stat -c %s "$T/trunc.got")
check "truncated: transfer cut short" [ "$got" -lt 20000000 ]
check "truncated: a prefix of the original" cmp -s "$T/trunc.got" <(head -c "$got" "$T/trunc.orig")
code=$("${C1[@]}" -o /dev/null -w '%{http_code}' "$URL/m.bin")
check "truncated: server still serves" [ "$code" = 200 ]

# --- slow client: header bytes slower than the idle timeout (2 s) -> cut off ---
python3 - "$PORT" "$P" >"$T/slow" 2>&1 <<'PY'
import socket, ssl, sys, time
port, p = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=p + "/ca.pem")
ctx.load_cert_chain(p + "/csp1.pem", p + "/csp1.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
req = b"GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n"
t0 = time.time()
try:
    for c in req:
        s.send(bytes([c]))
        time.sleep(3)
        if time.time() - t0 > 20:
            break
    data = s.recv(100)
    print("CUT" if not data else "ANSWERED")
except (OSError, ssl.SSLError):
    print("CUT")
PY
check "slow client cut off" grep -q CUT "$T/slow"

# --- header deadline (slow loris): one header byte per second keeps the idle timeout (2 s)
# happy, but the headers must be complete 2 s after the previous response (--header-timeout 2);
# the cut frees the connection's per-peer slot (--per-peer 1) ---
MPORT=$PORT MSPID=$SPID
start_server hdr --header-timeout 2 --idle-timeout 2 --per-peer 1
HPORT=$PORT HSPID=$SPID
PORT=$MPORT SPID=$MSPID
python3 - "$HPORT" "$P" >"$T/loris" 2>&1 <<'PY'
import socket, ssl, sys, time
port, p = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=p + "/ca.pem")
ctx.load_cert_chain(p + "/csp1.pem", p + "/csp1.key")
def conn():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.settimeout(5)
    return s
def get(s):
    s.sendall(b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            return "EOF"
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    n = 0
    for l in head.split(b"\r\n"):
        if l.lower().startswith(b"content-length:"):
            n = int(l.split(b":")[1])
    while len(body) < n:
        body += s.recv(4096)
    return head.split()[1].decode()
c1 = conn()
print("first", get(c1))          # counted against csp1's single slot, keep-alive
t0 = time.time()
c1.send(b"G")
c2 = conn()
print("second", get(c2))         # 503: the slot is taken by c1
c2.close()
c1.settimeout(1)
cut = None
for ch in b"ET /small.bin HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 30:
    try:
        d = c1.recv(100)
        if not d:
            cut = time.time() - t0
            break
    except socket.timeout:
        pass
    except (OSError, ssl.SSLError):
        cut = time.time() - t0
        break
    try:
        c1.send(bytes([ch]))
    except (OSError, ssl.SSLError):
        cut = time.time() - t0
        break
print("cut", "%.1f" % cut if cut is not None else "never")
time.sleep(0.3)
c3 = conn()
print("third", get(c3))          # the slot is free again
PY
check "header deadline: first request 200" grep -q "^first 200" "$T/loris"
check "header deadline: slot taken (503)" grep -q "^second 503" "$T/loris"
cut=$(awk '$1=="cut"{print $2}' "$T/loris")
check "header deadline: slow loris cut within 4 s ($cut)" \
	awk -v c="$cut" 'BEGIN{exit !(c != "never" && c >= 1.5 && c <= 4)}'
check "header deadline: slot freed after the cut" grep -q "^third 200" "$T/loris"
# A normal client is unaffected: a 3 s download (longer than the header deadline) and keep-alive.
code=$("${C1[@]}" --limit-rate 10M -o "$T/hdl" -w '%{http_code}' "https://127.0.0.1:$HPORT/mid.bin")
check "header deadline: long download completes" cmp -s "$T/hdl" "$T/root/mid.bin"
"${C1[@]}" -v -o /dev/null -o /dev/null "https://127.0.0.1:$HPORT/f.bin" "https://127.0.0.1:$HPORT/small.bin" 2>"$T/hka"
check "header deadline: keep-alive unaffected" grep -q "Re-using existing connection" "$T/hka"
hto=$("${C1[@]}" "https://127.0.0.1:$HPORT/_stats" | awk '$1=="header_timeouts"{print $2}')
check "header deadline: counted ($hto)" [ "${hto:-0}" -ge 1 ]
kill -TERM "$HSPID"
wait "$HSPID"
check "header deadline: server exit 0" [ $? = 0 ]

# --- allow-list reload (SIGHUP, lx_http_server_set_peers): --allow-file is re-read ---
printf 'allow csp1.test\npsk lea1 %s\npsk lea2 %s\n' "$P/psk1.key" "$P/psk2.key" >"$T/acl"
MPORT=$PORT MPSKPORT=$PSKPORT MSPID=$SPID
SRV_PEERS=(--allow-file "$T/acl")
start_server acl
APORT=$PORT APSKPORT=$PSKPORT ASPID=$SPID
PORT=$MPORT PSKPORT=$MPSKPORT SPID=$MSPID
C2=(curl -sS --cacert "$P/ca.pem" --cert "$P/csp2.pem" --key "$P/csp2.key")
# psk_as ID KEYFILE: a PSK handshake on the acl server completes.
psk_as() { echo | timeout 5 gnutls-cli --insecure -p "$APSKPORT" 127.0.0.1 --pskusername "$1" \
	--pskkey "$(tr -d '\n' <"$2")" --priority 'NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK' >"$T/gca" 2>&1 &&
	grep -q "Handshake was completed" "$T/gca"; }
AURL=https://127.0.0.1:$APORT
check "acl: csp1 allowed" [ "$("${C1[@]}" -o /dev/null -w '%{http_code}' "$AURL/small.bin")" = 200 ]
check "acl: csp2 refused" [ "$("${C2[@]}" -o /dev/null -w '%{http_code}' "$AURL/small.bin")" = 404 ]
check "acl: PSK lea1 accepted" psk_as lea1 "$P/psk1.key"
check "acl: PSK lea2 accepted" psk_as lea2 "$P/psk2.key"
"${C1[@]}" --limit-rate 10M -o "$T/acl.dl" "$AURL/mid.bin" &
DL=$!
sleep 0.5
printf 'allow csp2.test\npsk lea2 %s\n' "$P/psk2.key" >"$T/acl"
kill -HUP "$ASPID"
sleep 0.5
check "acl: csp1 removed -> 404" [ "$("${C1[@]}" -o /dev/null -w '%{http_code}' "$AURL/small.bin")" = 404 ]
check "acl: csp2 added -> 200" [ "$("${C2[@]}" -o /dev/null -w '%{http_code}' "$AURL/small.bin")" = 200 ]
if psk_as lea1 "$P/psk1.key"; then bad "acl: PSK lea1 removed -> refused"; else ok; fi
check "acl: PSK lea2 still accepted" psk_as lea2 "$P/psk2.key"
check "acl: csp1 download in flight still running" kill -0 "$DL"
wait "$DL"
check "acl: csp1 in-flight download completed" cmp -s "$T/acl.dl" "$T/root/mid.bin"
printf 'allow csp1.test\n' >"$T/acl"
kill -HUP "$ASPID"
sleep 0.5
check "acl: csp1 back -> 200" [ "$("${C1[@]}" -o /dev/null -w '%{http_code}' "$AURL/small.bin")" = 200 ]
python3 - "$APORT" "$P" "$ASPID" "$T/acl" >"$T/ka-acl" 2>&1 <<'PY'
import os, signal, socket, ssl, sys, time
port, p, pid, acl = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=p + "/ca.pem")
ctx.load_cert_chain(p + "/csp1.pem", p + "/csp1.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.settimeout(5)
def get():
    s.sendall(b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, _, body = buf.partition(b"\r\n\r\n")
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
    while len(body) < n:
        body += s.recv(4096)
    return head.split()[1].decode()
print("before", get())
open(acl, "w").write("allow csp2.test\n")
os.kill(pid, signal.SIGHUP)
time.sleep(0.5)
print("after", get())
PY
check "acl: keep-alive connection 200 before the swap" grep -q "^before 200" "$T/ka-acl"
check "acl: same connection re-checked after the swap -> 404" grep -q "^after 404" "$T/ka-acl"
kill -TERM "$ASPID"
wait "$ASPID"
check "acl: server exit 0" [ $? = 0 ]
grep -q "reload failed" "$T/acl.err" && bad "acl: reload error: $(cat "$T/acl.err")"

# --- R-BIN-2 fairness: a 1 KiB GET completes while a large GET is in flight (same peer) ---
"${C1[@]}" --limit-rate 2M -o /dev/null -w '%{time_total}\n' "$URL/mid.bin" >"$T/big.done" &
BIGP=$!
sleep 0.5
"${C1[@]}" -o "$T/small.got" "$URL/small.bin"
big_running=no
kill -0 "$BIGP" 2>/dev/null && big_running=yes
check "small file done while large in flight" [ "$big_running" = yes ]
check "small file intact" cmp -s "$T/small.got" "$T/root/small.bin"
wait "$BIGP"
check "large file completed" [ -s "$T/big.done" ]

# --- per-peer connection limit (3): two slow downloads + this check's own connection fit,
# a fourth connection of the same peer gets 503 ---
"${C1[@]}" --limit-rate 1M -o /dev/null "$URL/mid.bin" &
H1=$!
"${C1[@]}" --limit-rate 1M -o /dev/null "$URL/mid.bin" &
H2=$!
sleep 0.5
c3=$("${C1[@]}" -o /dev/null -w '%{http_code}' "$URL/small.bin")
"${C1[@]}" --limit-rate 1M -o /dev/null "$URL/mid.bin" &
H3=$!
sleep 0.5
c4=$("${C1[@]}" -o /dev/null -w '%{http_code}' "$URL/small.bin")
kill "$H1" "$H2" "$H3" 2>/dev/null
wait "$H1" "$H2" "$H3" 2>/dev/null
sleep 0.3
check "per-peer: third connection served" [ "$c3" = 200 ]
check "per-peer: fourth connection 503 ($c4)" [ "$c4" = 503 ]
c5=$("${C1[@]}" -o /dev/null -w '%{http_code}' "$URL/small.bin")
check "per-peer: slots freed on close" [ "$c5" = 200 ]

# --- reload (SIGHUP): in-flight download survives, new connections see the new cert ---
"${C1[@]}" --limit-rate 5M -o "$T/dl1" "$URL/mid.bin" &
DL=$!
sleep 0.5
old_fp=$(echo | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$P/ca.pem" 2>/dev/null | openssl x509 -noout -fingerprint -sha256)
kill -HUP "$SPID"
sleep 0.5
new_fp=$(echo | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$P/ca.pem" 2>/dev/null | openssl x509 -noout -fingerprint -sha256)
srv2_fp=$(openssl x509 -in "$P/server2.pem" -noout -fingerprint -sha256)
check "reload: new connections see the new certificate" [ "$new_fp" = "$srv2_fp" ]
check "reload: it changed" [ "$old_fp" != "$new_fp" ]
check "reload: new connection served" [ "$("${C1[@]}" -o /dev/null -w '%{http_code}' "$URL/small.bin")" = 200 ]
wait "$DL"
check "reload: in-flight download completed" cmp -s "$T/dl1" "$T/root/mid.bin"

# --- drain (SIGTERM): the in-flight download finishes, then the server exits 0 ---
"${C1[@]}" --limit-rate 10M -o "$T/dl2" "$URL/mid.bin" &
DL=$!
sleep 0.5
kill -TERM "$SPID"
sleep 0.3
code=$("${C1[@]}" -o /dev/null -w '%{http_code}' "$URL/small.bin" 2>/dev/null)
check "drain: no new connections" [ "$code" = 000 ]
wait "$DL"
check "drain: in-flight download completed" cmp -s "$T/dl2" "$T/root/mid.bin"
wait "$SPID"
check "drain: server exit 0" [ $? = 0 ]

summary
