#!/usr/bin/env bash
# li707-lea's connections against software nobody here wrote (openssl s_client / s_server,
# curl): every suite and group of the default TLS policy negotiable both ways (R-SEC-1,
# R-SEC-3, R-SEC-4), PSK as RFC 4279 section 5.3 allows it (R-SEC-4).
# Arguments: TOOL SRCDIR SHARED BUILDDIR (as the other integration scripts). Ends with
# "N passed, M failed"; exit 77 when something it needs is missing. KEEPT=DIR keeps the work
# directory for a post-mortem.
set -uo pipefail

TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
for t in curl openssl python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-conn-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEPT:-}" ] && cp -r "$T" "$KEEPT"
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/lea.sh"

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null || { echo "pki.sh failed"; exit 1; }
# An RSA server certificate from the same CA, for the ECDHE-RSA suites (pki.sh makes ECDSA).
openssl req -new -newkey rsa:2048 -nodes -keyout "$P/rsa.key" -subj /CN=localhost \
	-out "$T/rsa.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$T/rsa.ext"
openssl x509 -req -in "$T/rsa.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 30 \
	-sha256 -extfile "$T/rsa.ext" -out "$P/rsa.pem" 2>/dev/null
chmod 600 "$P/rsa.key"

# The default lists, from the one place that defines them.
def() {
	sed -n "/#define $1/,/[^\\\\]\$/p" "$SRC/src/common/tls.h" | grep -o '"[^"]*"' | tr -d '"\n'
}
SUITES=$(def LX_TLS12_SUITES_DEFAULT)
PSK_SUITES=$(def LX_TLS12_PSK_SUITES_DEFAULT)
GROUPS_DEF=$(def LX_TLS_GROUPS_DEFAULT)
TLS13="TLS_AES_256_GCM_SHA384 TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256"
# External PSKs are SHA-256 PSKs (RFC 8446 4.2.11: the default hash when none was agreed;
# OpenSSL's PSK callbacks make them so), which TLS 1.3 can use only with the SHA-256 suites.
TLS13_PSK="TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256"
[ -n "$SUITES" ] && [ -n "$PSK_SUITES" ] && [ -n "$GROUPS_DEF" ] || { echo "cannot read tls.h"; exit 1; }

# write_conf NAME CERT [EXTRA-SERVER-LINES]: $T/NAME.conf, one certificate and one PSK
# listener, default TLS policy unless EXTRA says otherwise.
write_conf() {
	cat >"$T/$1.conf" <<EOF
[server]
listen = 127.0.0.1:0
listen_psk = 127.0.0.1:0
cert = $P/$2.pem
key = $P/$2.key
cacert = $P/ca.pem
crl = $P/crl.pem
store = $T/store-$1
${3:-}

[peer csp1]
san = csp1.test
references = any

[peer psk1]
psk_identity = psk1
psk_file = $P/psk1.key
references = any
${4:-}
EOF
}

# start_lea NAME [ARGS]: starts the daemon on $T/NAME.conf (log $T/NAME.log); sets PORT,
# PSKPORT, LPID, LOG.
start_lea() {
	LOG=$T/$1.log
	lea_start "$T/$1.conf" "$LOG" psk -- "${@:2}"
	PIDS+=("$LPID")
}
stop_lea() {
	kill -TERM "$LPID"
	wait "$LPID"
}

PSKHEX=$(tr -d ' \n' <"$P/psk1.key")
# negotiated PORT ARGS...: the cipher openssl s_client negotiated, or "(NONE)".
negotiated() {
	local port=$1
	shift
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" "$@" 2>/dev/null |
		sed -n 's/^\(New\|Reused\), [^,]*, Cipher is \(.*\)/\2/p' | head -1
}
CERT_ARGS=(-CAfile "$P/ca.pem" -cert "$P/csp1.pem" -key "$P/csp1.key" -verify_return_error)
PSK_ARGS=(-psk_identity psk1 -psk "$PSKHEX")

# ---- R-SEC-3: our server, openssl s_client, one suite (or group) at a time ----
# TLS 1.3 off, as an operator may set it: the TLS 1.2 lists must stand on their own.
for tls13 in no yes; do
	write_conf ec$tls13 server "tls13 = $tls13"
	write_conf rsa$tls13 rsa "tls13 = $tls13"
done
start_lea ecno
EC_PORT=$PORT EC_PSKPORT=$PSKPORT EC_PID=$LPID
start_lea rsano
RSA_PORT=$PORT
for s in ${SUITES//:/ }; do
	case $s in *-RSA-*) port=$RSA_PORT ;; *) port=$EC_PORT ;; esac
	is "R-SEC-3 server: $s with openssl s_client" "$s" \
		"$(negotiated "$port" -tls1_2 -cipher "$s" "${CERT_ARGS[@]}")"
done
# PSK: with -tls1_2 OpenSSL offers no finite-field group, so DHE-PSK needs the server's own
# RFC 7919 parameters (R-SEC-4).
for s in ${PSK_SUITES//:/ }; do
	is "R-SEC-4 server: $s with openssl s_client -tls1_2" "$s" \
		"$(negotiated "$EC_PSKPORT" -tls1_2 -cipher "$s" "${PSK_ARGS[@]}")"
done
# (With an RSA certificate: in TLS 1.2 the groups offered also bound the curve of an ECDSA
# certificate, RFC 8422 section 5.1.1.)
for g in ${GROUPS_DEF//:/ }; do
	is "R-SEC-3 server: group $g (TLS 1.2)" ECDHE-RSA-AES128-GCM-SHA256 \
		"$(negotiated "$RSA_PORT" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -groups "$g" "${CERT_ARGS[@]}")"
done
stop_lea
LPID=$EC_PID
stop_lea
start_lea ecyes
for s in $TLS13; do
	is "R-SEC-3 server: $s with openssl s_client" "$s" \
		"$(negotiated "$PORT" -tls1_3 -ciphersuites "$s" "${CERT_ARGS[@]}")"
done
for s in $TLS13_PSK; do
	is "R-SEC-4 server: PSK over $s with openssl s_client" "$s" \
		"$(negotiated "$PSKPORT" -tls1_3 -ciphersuites "$s" "${PSK_ARGS[@]}")"
done
for g in ${GROUPS_DEF//:/ }; do
	is "R-SEC-3 server: group $g (TLS 1.3)" TLS_AES_128_GCM_SHA256 \
		"$(negotiated "$PORT" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 -groups "$g" "${CERT_ARGS[@]}")"
done
stop_lea

# ---- R-SEC-4: li707 send to a PSK listener with TLS 1.3 off and only DHE-PSK suites ----
printf '{"liid": "LIID-CONN-1", "timestamp": "2026-03-01T10:00:00Z", "sender": {"ids": ["alice"], "target": true}}\n' |
	"$TOOL" build --base-dir "$SRC/samples" >"$T/msg.xml" 2>/dev/null || { echo "build failed"; exit 1; }
write_conf dhe server "tls13 = no
tls12_psk_suites = DHE-PSK-AES256-GCM-SHA384:DHE-PSK-AES128-GCM-SHA256"
start_lea dhe
run "$TOOL" send --psk-identity psk1 --psk-file "$P/psk1.key" "https://127.0.0.1:$PSKPORT/hi1" "$T/msg.xml"
expect_rc "R-SEC-4 li707 send over DHE-PSK (tls13 = no): exit 0" 0
check "R-SEC-4 li707 send over DHE-PSK: DELIVERResponse" grep -q DELIVERResponse "$T/out"
stop_lea

# ---- R-SEC-4, RFC 4279 section 5.3: a 128-octet identity and a 5-byte key ----
ID128="CSP é $(printf 'x%.0s' $(seq 121))"
printf '0102030405\n' >"$P/short.key"
chmod 600 "$P/short.key"
write_conf rfc server "" "[peer short]
psk_identity = $ID128
psk_file = $P/short.key
references = any"
run "$LEA" --config "$T/rfc.conf" --check-config
expect_rc "R-SEC-4 --check-config with a 5-byte key: exit 0" 0
check "R-SEC-4 --check-config warns about the short key" \
	grep -q "warn: peer 'short': psk_file: the key is 5 bytes; 32 or more are advised" "$T/err"
start_lea rfc
check "R-SEC-4 start warns about the short key" grep -q "warn: peer 'short': psk_file: the key is 5 bytes" "$LOG"
is "R-SEC-4 128-octet identity, 5-byte key, openssl s_client TLS 1.2" ECDHE-PSK-CHACHA20-POLY1305 \
	"$(negotiated "$PSKPORT" -tls1_2 -cipher ECDHE-PSK-CHACHA20-POLY1305 -psk_identity "$ID128" -psk 0102030405)"
is "R-SEC-4 128-octet identity, 5-byte key, openssl s_client TLS 1.3" TLS_AES_128_GCM_SHA256 \
	"$(negotiated "$PSKPORT" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 -psk_identity "$ID128" -psk 0102030405)"
run "$TOOL" send --psk-identity "$ID128" --psk-file "$P/short.key" "https://127.0.0.1:$PSKPORT/hi1" "$T/msg.xml"
expect_rc "R-SEC-4 li707 send with a 128-octet identity and a 5-byte key: exit 0" 0
stop_lea

# ---- R-SEC-2, R-SEC-4: every refused connection leaves one log line and a count ----
# (refusal log lines name the reason, the client's address and the listener; R-BIN-A2: the
# HTTP answer to a refused certificate stays the unknown-URL 404.)
write_conf refuse server
start_lea refuse
U=https://127.0.0.1:$PORT/hi1
refused() { # NAME REASON [LISTENER-PORT]: one new log line for REASON
	local want=${3:-$PORT}
	for _ in $(seq 30); do
		[ "$(grep -c "refused connection: reason=$2 client=127\.0\.0\.1:[0-9]* listener=$want " "$LOG")" -ge 1 ] && break
		sleep 0.1
	done
	check "$1: logged as $2" grep -q "refused connection: reason=$2 client=127\.0\.0\.1:[0-9]* listener=$want " "$LOG"
}
curl -s -o "$T/unknown.body" -D "$T/unknown.h" --cacert "$P/ca.pem" --cert "$P/csp1.pem" \
	--key "$P/csp1.key" "https://127.0.0.1:$PORT/no/such/url"
code=$(curl -s -o "$T/r.body" -w '%{http_code}' --cacert "$P/ca.pem" "$U")
is "R-BIN-A2 no client certificate: 404" 404 "$code"
check "R-BIN-A2 no client certificate: the unknown-URL page" cmp -s "$T/r.body" "$T/unknown.body"
refused "R-SEC-2 no client certificate (curl)" no-cert
for c in other:cert-untrusted expired:cert-expired revoked:cert-revoked csp2:unknown-peer; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$P/ca.pem" --cert "$P/${c%%:*}.pem" \
		--key "$P/${c%%:*}.key" "$U")
	is "R-BIN-A2 ${c%%:*} certificate: 404" 404 "$code"
	refused "R-SEC-2 ${c%%:*} certificate (curl)" "${c#*:}"
done
echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 -cipher DEFAULT@SECLEVEL=0 >"$T/v.out" 2>&1
refused "R-SEC-1 TLS 1.1 (openssl s_client)" tls-version
check "R-SEC-1 TLS 1.1: the client gets a protocol_version alert" grep -q "alert protocol version" "$T/v.out"
echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1 -cipher DEFAULT@SECLEVEL=0 >"$T/v.out" 2>&1
check "R-SEC-1 TLS 1.0: the client gets a protocol_version alert" grep -q "alert protocol version" "$T/v.out"
echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher AES128-SHA >/dev/null 2>&1
refused "R-SEC-3 no common suite (openssl s_client)" tls-no-common-params
echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -groups X448 >/dev/null 2>&1
check "R-SEC-3 no common group (openssl s_client): logged" \
	[ "$(grep -c 'reason=tls-no-common-params' "$LOG")" -ge 2 ]
curl -s -o /dev/null --tlsv1.2 --tls-max 1.2 "$U"
refused "R-SEC-2 client refusing our certificate (curl)" 'client-alert alert="CA is unknown"'
for v in -tls1_2 -tls1_3; do
	echo | openssl s_client -connect "127.0.0.1:$PSKPORT" $v -psk_identity nobody -psk 00112233 >"$T/p.out" 2>&1
	check "R-SEC-4 unknown PSK identity ($v): unknown_psk_identity alert" \
		grep -q "alert unknown psk identity" "$T/p.out"
done
refused "R-SEC-4 unknown PSK identity (openssl s_client)" psk-unknown-identity "$PSKPORT"
echo | openssl s_client -connect "127.0.0.1:$PSKPORT" -tls1_2 -psk_identity psk1 -psk 00112233 >/dev/null 2>&1
refused "R-SEC-4 wrong PSK (openssl s_client)" psk-wrong-key "$PSKPORT"
# Nothing about the certificates or keys in the log (R-SEC-6): no subject, no SAN, no key.
check "refusal lines carry no certificate content" not_contains "$LOG" "csp2"
check "refusal lines carry no PSK identity" not_contains "$LOG" "nobody"
# The counts reach `status` (within a second).
sleep 1.5
run "$LEA" status --store "$T/store-refuse"
expect_rc "status with refusals: exit 0" 0
check "status: refused connections section" grep -q "^Refused connections since" "$T/out"
for r in no-cert cert-untrusted cert-expired cert-revoked unknown-peer tls-version psk-unknown-identity psk-wrong-key; do
	check "status counts $r" grep -Eq "^  $r +[1-9]" "$T/out"
done
run "$LEA" status --store "$T/store-refuse" --json
check "status --json: by_reason" grep -q '"psk-wrong-key": 1' "$T/out"
# A flood of refusals: every one counted, the log bounded (20 lines per 10 s) plus one line
# saying how many were left out.
before=$(grep -c 'refused connection:' "$LOG")
for _ in $(seq 60); do
	curl -s -o /dev/null --cacert "$P/ca.pem" "$U" &
done
wait_curls() { for j in $(jobs -p); do [ "$j" = "$LPID" ] || wait "$j"; done; }
wait_curls
sleep 1.5
after=$(grep -c 'refused connection:' "$LOG")
# (the flood may straddle two windows: at most 2 x 20 lines for 60 refusals)
check "flood: refusal lines bounded (20 per 10 s)" [ $((after - before)) -le 40 ]
run "$LEA" status --store "$T/store-refuse"
check "flood: every refusal counted" grep -Eq "^  no-cert +6[1-9]" "$T/out"
stop_lea
check "flood: the lines left out are counted in the log" grep -Eq "[0-9]+ more refused connections not logged" "$LOG"

# ---- SIGTERM drain: a delivery whose headers arrived is finished, not cut ----
# Headers and half the body on a fresh connection, SIGTERM 0-20 ms later, then the rest.
write_conf drain server
for d in 0 0.005 0.02; do
	start_lea drain
	st=$(python3 "$(dirname "$0")/lea/drain_mid_request.py" "$PORT" "$P" "$LPID" "$T/msg.xml" "$d" 2>/dev/null)
	wait "$LPID"
	is "drain: request in flight at SIGTERM (+${d}s) answered" "HTTP/1.1 200 OK" "$st"
	check "drain: request in flight at SIGTERM (+${d}s) logged" grep -q "status=200" "$LOG"
done
run "$LEA" status --store "$T/store-drain" --ref LIID-CONN-1 --json
check "drain: the deliveries are stored" grep -q '"deliveries": 1' "$T/out"

# ---- 500 idle unauthenticated connections do not starve an authenticated CSP ----
# (10 loopback addresses x 50, under the per-IP limit of 64; the listener's cap is 256.)
write_conf flood server "header_timeout = 60
idle_timeout = 60"
start_lea flood
python3 "$(dirname "$0")/lea/idle_flood.py" "$PORT" 500 50 >"$T/flood.out" 2>&1 &
FPID=$!
PIDS+=("$FPID")
for _ in $(seq 600); do grep -q ready "$T/flood.out" && break; sleep 0.1; done
check "flood: the idle connections are open" grep -q ready "$T/flood.out"
run "$TOOL" send --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key" \
	--connect-timeout 10 "https://127.0.0.1:$PORT/hi1" "$T/msg.xml"
expect_rc "flood: the CSP still delivers (exit 0)" 0
check "flood: DELIVERResponse" grep -q DELIVERResponse "$T/out"
run "$TOOL" send --psk-identity psk1 --psk-file "$P/psk1.key" --connect-timeout 10 \
	"https://127.0.0.1:$PSKPORT/hi1" "$T/msg.xml"
expect_rc "flood: the PSK CSP still delivers (exit 0)" 0
kill -TERM "$FPID" 2>/dev/null
wait "$FPID" 2>/dev/null
check "flood: displaced connections logged" grep -q "reason=unauthenticated-slots-full" "$LOG"
stop_lea

# ---- R-SEC-3: our client (li707 fetch), openssl s_server, one suite at a time ----
# s_server allows exactly one suite; its status page (-www) names the suite it used.
SPORT=$((20000 + RANDOM % 20000))
s_server_fetch() { # NAME FETCH-ARGS -- S_SERVER-ARGS
	local name=$1 fa=() sa=()
	shift
	while [ "$1" != -- ]; do fa+=("$1"); shift; done
	shift
	sa=("$@")
	SPORT=$((SPORT + 1))
	openssl s_server -accept "127.0.0.1:$SPORT" -www -naccept 1 "${sa[@]}" >"$T/ss.out" 2>&1 &
	local sp=$!
	for _ in $(seq 50); do grep -q ACCEPT "$T/ss.out" 2>/dev/null && break; sleep 0.1; done
	rm -f "$T/page"
	"$TOOL" fetch "${fa[@]}" -o "$T/page" "https://127.0.0.1:$SPORT/" >/dev/null 2>"$T/fetch.err"
	local frc=$?
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	[ "$frc" -eq 0 ] && grep -q "Cipher *: *$name\$" "$T/page"
}
CLI_CERT=(--cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")
CLI_PSK=(--psk-identity psk1 --psk-file "$P/psk1.key")
for s in ${SUITES//:/ }; do
	case $s in *-RSA-*) c=rsa ;; *) c=server ;; esac
	check "R-SEC-3 client: $s with openssl s_server" s_server_fetch "$s" "${CLI_CERT[@]}" -- \
		-tls1_2 -cipher "$s" -cert "$P/$c.pem" -key "$P/$c.key"
done
for s in ${PSK_SUITES//:/ }; do
	check "R-SEC-4 client: $s with openssl s_server" s_server_fetch "$s" "${CLI_PSK[@]}" -- \
		-tls1_2 -cipher "$s" -nocert -psk_identity psk1 -psk "$PSKHEX"
done
for s in $TLS13; do
	check "R-SEC-3 client: $s with openssl s_server" s_server_fetch "$s" "${CLI_CERT[@]}" -- \
		-tls1_3 -ciphersuites "$s" -cert "$P/server.pem" -key "$P/server.key"
done
for s in $TLS13_PSK; do
	check "R-SEC-4 client: PSK over $s with openssl s_server" s_server_fetch "$s" "${CLI_PSK[@]}" -- \
		-tls1_3 -ciphersuites "$s" -nocert -psk_identity psk1 -psk "$PSKHEX"
done
for g in ${GROUPS_DEF//:/ }; do
	check "R-SEC-3 client: group $g with openssl s_server" s_server_fetch TLS_AES_128_GCM_SHA256 \
		"${CLI_CERT[@]}" -- -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 -groups "$g" \
		-cert "$P/server.pem" -key "$P/server.key"
done

summary
