#!/usr/bin/env bash
# Integration test of li707-lea's Model A/C retrieval (src/lea/lea_fetch.c) against nginx as
# the independent CSP file server (mutual TLS, Range, ETag/If-Range; no li707 code serving):
# deliveries built with `li707 build` announce CSP-hosted objects on nginx; the daemon
# fetches them (Model A: one GET; Model C: ranges), verifies length and SHA-256 byte for
# byte; a wrong checksum is caught (fetched once more, then mismatch); an expired object is
# marked; a server refusing the LEA's certificate fails cleanly; kill -9 mid-download then
# restart resumes without fetching verified ranges again (nginx's access log); a PSK peer
# retrieves with its own identity and key (openssl s_server -psk -WWW, as nginx has no PSK).
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; exit 77 when a tool
# it needs is missing. KEEPT=DIR keeps the work directory.
set -uo pipefail

TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
for t in nginx openssl curl sqlite3 jq python3 sha256sum cmp; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-fetch-XXXXXX")
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
. "$(dirname "$0")/lib/lea.sh"

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null || { echo "pki.sh failed"; exit 1; }
ST=$T/store
DB=$ST/index.sqlite


# ---- the CSP's files on nginx -------------------------------------------------------------
W=$T/www
mkdir -p "$W/o" "$W/slow" "$T/att"
chmod 755 "$T" "$W" "$W/o" "$W/slow"
head -c 10000 /dev/urandom >"$T/att/small.bin"            # Model A (<= model_c_above)
head -c $((3 * 1024 * 1024 + 777)) /dev/urandom >"$T/att/mid.bin" # Model C, ranges
head -c 20000 /dev/urandom >"$T/att/wrong.bin"             # served with other bytes
head -c 5000 /dev/urandom >"$T/att/refused.bin"            # on the server refusing us
head -c $((6 * 1024 * 1024)) /dev/urandom >"$T/att/slow.bin" # kill -9 mid-download
head -c 3000 /dev/urandom >"$T/att/expired.bin"
head -c 4000 /dev/urandom >"$T/att/psk.bin"
head -c 7000 /dev/urandom >"$T/att/beside.bin"             # small, while slow.bin runs

NGX=$(free_port)
NGX2=$(free_port)
# the second server (NGX2) trusts only ca2: the LEA's certificate (signed by ca) is refused
nginx_start "$T" "$NGX" "$W" pki="$P" mtls \
	log='$uri $status $body_bytes_sent range=$http_range if_range=$http_if_range' \
	http="default_type application/octet-stream;" http="types { text/plain txt; }" \
	http="server { listen 127.0.0.1:$NGX2 ssl; ssl_certificate $P/server.pem;
		ssl_certificate_key $P/server.key; ssl_client_certificate $P/ca2.pem;
		ssl_verify_client on; root $W; }" \
	server="location /slow/ { limit_rate 300k; }" || exit 1
PIDS+=("$NGINX_PID")

# ---- PSK peer's server: openssl s_server -WWW (TLS 1.2 PSK, no Range: a 200 each time) ----
PSKSRV=$(free_port)
PSKHEX=$(tr -d '\n' <"$P/psk2.key")
mkdir -p "$T/pskwww/o"
case $PSKHEX in *[!0-9a-fA-F]*) PSK_OK= ;; *) PSK_OK=1 ;; esac
if [ -n "$PSK_OK" ]; then
	(cd "$T/pskwww" && exec openssl s_server -accept "127.0.0.1:$PSKSRV" -nocert -psk "$PSKHEX" \
		-psk_identity psk2 -tls1_2 -cipher ECDHE-PSK-CHACHA20-POLY1305:DHE-PSK-AES128-GCM-SHA256 \
		-WWW -quiet) \
		>"$T/psk-server.log" 2>&1 &
	PIDS+=($!)
fi

# ---- the daemon -----------------------------------------------------------------------------
MPORT=$(free_port)
cat >"$T/lea.conf" <<EOF
[server]
listen = 127.0.0.1:0
listen_psk = 127.0.0.1:0
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $ST
client_cert = $P/csp2.pem
client_key = $P/csp2.key
fetch_workers = 3
metrics_listen = 127.0.0.1:$MPORT

[peer csp1]
san = csp1.test
references = any
models = A, C
fetch_ca = $P/ca.pem
model_c_above = 1M
fetch_connections = 3
fetch_parallel = 2
fetch_range = 256K
fetch_range_max = 1M
fetch_retries = 2
fetch_backoff = 1
fetch_backoff_max = 2

[peer psk2]
psk_identity = psk2
psk_file = $P/psk2.key
references = any
models = A
fetch_backoff = 1
EOF

run "$LEA" --check-config --config "$T/lea.conf"
expect_rc "the fetch keys are accepted (--check-config)" 0

LOG=
start_lea() { # NAME
	LOG=$T/$1.log
	lea_start "$T/lea.conf" "$LOG" psk
}
SEND=("$TOOL" send --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")

# build_send NAME SCHEME EXPIRY EVENT-ATTACHMENTS...: one message with one item per file,
# built and delivered; the objects' uuids land in $T/NAME.urls ("url filename").
n_ev=0
build_send() {
	local name=$1 scheme=$2 expiry=$3
	shift 3
	: >"$T/$name.jsonl"
	for a in "$@"; do
		n_ev=$((n_ev + 1))
		printf '{"liid": "LIID-FETCH-1", "timestamp": "2026-03-01T10:00:%02dZ", "sender": {"ids": ["a"]}, "attachments": [{"path": "%s", "model": "C"}]}\n' \
			$((n_ev % 60)) "$a" >>"$T/$name.jsonl"
	done
	"$TOOL" build --base-dir "$T/att" --csp-url-scheme "$scheme" --expiry-seconds "$expiry" \
		--collection 100 <"$T/$name.jsonl" >"$T/$name.xml" 2>"$T/build.err" ||
		{ echo "build $name failed: $(cat "$T/build.err")"; exit 1; }
	python3 - "$T/$name.xml" >"$T/$name.urls" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
for b in re.findall(r"<binaryObject>(.*?)</binaryObject>", s, re.S):
    u = re.search(r"<url>([^<]*)</url>", b).group(1)
    n = re.search(r"<originalFilename>([^<]*)<", b).group(1)
    print(u, n)
PY
}
# place NAME: copies each object to where its url points on nginx (last path component)
place() { # NAME DIR
	while read -r url fn; do cp "$T/att/$fn" "$2/${url##*/}"; done <"$T/$1.urls"
}
url_of() { awk -v f="$2" '$2==f{print $1}' "$T/$1.urls"; }
att_id() { sqlite3 "$DB" "SELECT id FROM attachments WHERE url = '$1'"; }
att() { sqlite3 "$DB" "SELECT $2 FROM attachments WHERE id = $1"; }
state_of() { "$LEA" fetch-status --store "$ST" --json >/dev/null 2>&1; att "$1" state; }
# wait_state ID STATE [TRIES]: until the attachment's state is STATE (numbers: store.h)
wait_state() {
	for _ in $(seq "${3:-300}"); do
		[ "$(att "$1" state)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
jqe() { jq -e "$@" >/dev/null; }
S_TO_FETCH=5 S_FETCHING=7 S_COMPLETE=2 S_MISMATCH=3 S_EXPIRED=4

start_lea first

# ---- Model A and Model C objects, verified byte for byte (R-BIN-A1, R-BIN-C1, R-BIN-C2) --
build_send main "https://127.0.0.1:$NGX/o/{uuid}" 86400 small.bin mid.bin wrong.bin
place main "$W/o"
# wrong.bin: nginx serves other bytes of the same length than the record's checksum says
head -c 20000 /dev/urandom >"$W/o/$(url_of main wrong.bin | sed 's|.*/||')"
run "${SEND[@]}" "https://127.0.0.1:$PORT/hi1" "$T/main.xml"
expect_rc "delivery with Model A/C objects acknowledged" 0
A_ID=$(att_id "$(url_of main small.bin)")
C_ID=$(att_id "$(url_of main mid.bin)")
X_ID=$(att_id "$(url_of main wrong.bin)")
check "three retrievals queued" [ -n "$A_ID" -a -n "$C_ID" -a -n "$X_ID" ]
check "test_bin_a1_model_a_complete" wait_state "$A_ID" $S_COMPLETE
check "test_bin_c1_model_c_complete" wait_state "$C_ID" $S_COMPLETE
is "C.4: the small object got Model A (model_c_above = 1M)" A "$(att "$A_ID" model)"
is "C.4: the large object got Model C" C "$(att "$C_ID" model)"
check "test_bin_a1_model_a_bytes_identical" cmp -s "$T/att/small.bin" "$ST/$(att "$A_ID" file)"
check "test_bin_c2_model_c_bytes_identical" cmp -s "$T/att/mid.bin" "$ST/$(att "$C_ID" file)"
is "stored SHA-256 of the Model C object" "$(sha256sum <"$T/att/mid.bin" | cut -d' ' -f1)" "$(att "$C_ID" sha256)"
is "served MIME type recorded beside the record's" application/octet-stream "$(att "$C_ID" served_type)"
MIDU=/o/$(url_of main mid.bin | sed 's|.*/||')
check "test_bin_c1_model_c_uses_ranges" grep -q "^$MIDU 206 .*range=bytes=0-262143" "$T/access.log"
check "test_bin_c1_model_c_sends_if_range" grep -q "^$MIDU 206 .*range=bytes=262144-.* if_range=[^-]" "$T/access.log"
SMALLU=/o/$(url_of main small.bin | sed 's|.*/||')
is "Model A: one GET" 1 "$(grep -c "^$SMALLU " "$T/access.log")"

# ---- wrong checksum: fetched once more from zero, then mismatch, never accepted ----------
check "test_bin_checksum_mismatch_marked" wait_state "$X_ID" $S_MISMATCH
WRONGU=/o/$(url_of main wrong.bin | sed 's|.*/||')
is "mismatch: fetched exactly twice" 2 "$(grep -c "^$WRONGU 20[06] " "$T/access.log")"
is "mismatch: no data kept" "" "$(att "$X_ID" file)"
check "mismatch: logged" grep -q "fetch id=$X_ID peer=csp1: mismatch again" "$LOG"
run "$LEA" show --store "$ST" --json "$(sqlite3 "$DB" "SELECT item FROM attachments WHERE id = $X_ID")"
check "show: the mismatch is visible" jqe '.stored_attachments[0].state == "mismatch" and .stored_attachments[0].sha256_match == false' "$T/out"

# ---- metrics ------------------------------------------------------------------------------
curl -sS "http://127.0.0.1:$MPORT/metrics" >"$T/metrics" 2>/dev/null
metric() { awk -v k="$1" '$1==k{print $2}' "$T/metrics"; }
check "metrics: bytes fetched" python3 -c 'import sys; assert float(sys.argv[1]) >= 10000 + 3146505' "$(metric li707_lea_fetch_bytes_total)"
is "metrics: objects complete" 2 "$(metric 'li707_lea_fetch_objects_total{outcome="complete"}')"
is "metrics: objects mismatch" 1 "$(metric 'li707_lea_fetch_objects_total{outcome="mismatch"}')"
check "metrics: a retry counted (the mismatch's second fetch)" python3 -c 'import sys; assert float(sys.argv[1]) >= 1' "$(metric li707_lea_fetch_retries_total)"
check "metrics: range size of the last round" python3 -c 'import sys; assert float(sys.argv[1]) >= 262144' "$(metric li707_lea_fetch_range_bytes)"

# ---- status and fetch-status ---------------------------------------------------------
run "$LEA" status --store "$ST" --json
expect_rc "status --json" 0
check "status counts attachments by retrieval state" jqe '.retrievals == {"to-fetch": 0, "fetching": 0, "complete": 2, "mismatch": 1, "expired": 0}' "$T/out"
run "$LEA" status --store "$ST"
check "status text: retrievals line" grep -q "retrievals *to-fetch 0, fetching 0, complete 2, mismatch 1, expired 0" "$T/out"

# fetch-retry: the mismatch is queued again (and ends as mismatch again: same bytes)
run "$LEA" fetch-retry --store "$ST" "$X_ID"
expect_rc "fetch-retry of a mismatch" 0
check "fetch-retry: mismatch again after two more fetches" wait_state "$X_ID" $S_MISMATCH
is "fetch-retry: fetched twice more" 4 "$(grep -c "^$WRONGU 20[06] " "$T/access.log")"
run "$LEA" fetch-retry --store "$ST" "$C_ID"
expect_rc "fetch-retry of a complete object refused" 2
run "$LEA" fetch-retry --store "$ST" 999999
expect_rc "fetch-retry of an unknown id" 3
run "$LEA" fetch-priority --store "$ST" LIID-FETCH-1 7
expect_rc "fetch-priority REF N" 0
is "fetch-priority recorded" 7 "$(att "$C_ID" fetch_priority)"
check "fetch-priority does not echo the reference (R-SEC-6)" not_contains "$T/out" LIID-FETCH-1

# ---- a server that refuses the LEA's certificate fails cleanly -------------------------
build_send refused "https://127.0.0.1:$NGX2/o/{uuid}" 86400 refused.bin
place refused "$W/o"
run "${SEND[@]}" "https://127.0.0.1:$PORT/hi1" "$T/refused.xml"
R_ID=$(att_id "$(url_of refused refused.bin)")
for _ in $(seq 100); do grep -q "fetch id=$R_ID peer=csp1: attempt 1 failed" "$LOG" && break; sleep 0.1; done
# nginx refuses the certificate with HTTP 400 after the handshake (ssl_verify_client)
check "test_bin_a1_refused_certificate_fails_cleanly" grep -q "fetch id=$R_ID peer=csp1: attempt 1 failed: transport failure (http-status).*400" "$LOG"
REFU=/o/$(url_of refused refused.bin | sed 's|.*/||')
check "refused: nginx answered 400 (certificate not trusted)" grep -q "^$REFU 400 " "$T/access.log"
is "refused: still to fetch (retried later)" $S_TO_FETCH "$(att "$R_ID" state)"
check "refused: the daemon is still running" kill -0 "$LPID"
run "$LEA" fetch-status --store "$ST" --json
check "fetch-status shows the refusal's error" jqe --argjson id "$R_ID" '.queue[] | select(.id == $id) | .error | test("400")' "$T/out"

# ---- expired object (R-BIN-A3): marked, one line without identifiers --------------------
build_send exp "https://127.0.0.1:$NGX/o/{uuid}" 1 expired.bin
place exp "$W/o"
sleep 2
run "${SEND[@]}" "https://127.0.0.1:$PORT/hi1" "$T/exp.xml"
E_ID=$(att_id "$(url_of exp expired.bin)")
check "test_bin_a3_expired_marked" wait_state "$E_ID" $S_EXPIRED
check "expired: one log line" grep -q "a Model A/C object expired before it was complete (R-BIN-A3)" "$LOG"
EXPU=/o/$(url_of exp expired.bin | sed 's|.*/||')
is "expired: never fetched" 0 "$(grep -c "^$EXPU " "$T/access.log")"

# ---- PSK peer: its own identity and key ---------------------------------------------------
if [ -n "$PSK_OK" ] && wait_port "$PSKSRV" && [ -n "${PSKPORT:-}" ]; then
	build_send psk "https://127.0.0.1:$PSKSRV/o/{uuid}" 86400 psk.bin
	place psk "$T/pskwww/o"
	run "$TOOL" send --psk-identity psk2 --psk-file "$P/psk2.key" \
		"https://127.0.0.1:$PSKPORT/hi1" "$T/psk.xml"
	expect_rc "PSK peer's delivery acknowledged" 0
	K_ID=$(att_id "$(url_of psk psk.bin)")
	check "test_sec_4_psk_peer_retrieves_with_its_key" wait_state "$K_ID" $S_COMPLETE
	check "PSK: bytes identical" cmp -s "$T/att/psk.bin" "$ST/$(att "$K_ID" file)"
else
	echo "SKIP (one case): PSK retrieval: openssl s_server -psk did not start"
fi

# ---- kill -9 mid-download, restart, resume without refetching verified ranges ----------
build_send slow "https://127.0.0.1:$NGX/slow/{uuid}" 86400 slow.bin
place slow "$W/slow"
run "${SEND[@]}" "https://127.0.0.1:$PORT/hi1" "$T/slow.xml"
S_ID=$(att_id "$(url_of slow slow.bin)")
for _ in $(seq 300); do
	H=$(att "$S_ID" fetch_held)
	[ -n "$H" ] && [ "$(att "$S_ID" state)" = $S_FETCHING ] && break
	sleep 0.1
done
# R-BIN-2: a small object announced while the large one is fetched (it holds at most
# fetch_connections - 1 = 2 connections; nginx's limit_rate keeps it busy for 10 s or more)
# is fetched at once, not behind it
build_send beside "https://127.0.0.1:$NGX/o/{uuid}" 86400 beside.bin
place beside "$W/o"
run "${SEND[@]}" "https://127.0.0.1:$PORT/hi1" "$T/beside.xml"
B_ID=$(att_id "$(url_of beside beside.bin)")
check "test_bin_2_small_object_not_behind_large" wait_state "$B_ID" $S_COMPLETE
is "R-BIN-2: the large object is still being fetched meanwhile" $S_FETCHING "$(att "$S_ID" state)"
# SIGHUP while it runs: the configuration is reloaded, the transfer goes on
kill -HUP "$LPID"
for _ in $(seq 100); do grep -q "configuration reloaded" "$LOG" && break; sleep 0.1; done
check "SIGHUP during a retrieval: reloaded" grep -q "configuration reloaded" "$LOG"
check "SIGHUP during a retrieval: the daemon runs on" kill -0 "$LPID"
run "$LEA" fetch-status --store "$ST" --json
check "fetch-status: the transfer in progress (bytes, rate, ETA)" jqe --argjson id "$S_ID" '.running[] | select(.id == $id) | .bytes >= 0 and .total == 6291456 and has("rate") and has("eta")' "$T/out"
kill -9 "$LPID"
wait "$LPID" 2>/dev/null
LPID=
HELD=$(att "$S_ID" fetch_held)
check "kill -9: verified ranges were recorded" [ -n "$HELD" ]
is "kill -9: still fetching (nothing reset)" $S_FETCHING "$(att "$S_ID" state)"
run "$LEA" fetch-status --store "$ST" --json
VB=$(jq --argjson id "$S_ID" '.queue[] | select(.id == $id) | .verified_bytes' "$T/out")
check "fetch-status (daemon down): verified bytes from the store" [ "${VB:-0}" -gt 0 ]
check "kill -9: the part file survived" test -s "$ST/fetch/$S_ID.part"
SLOWU=/o/$(url_of slow slow.bin | sed 's|.*/||')
SLOWU=${SLOWU/\/o\//\/slow\/}
BEFORE=$(wc -l <"$T/access.log")
sleep 0.5 # nginx logs the requests cut by the kill
BEFORE=$(wc -l <"$T/access.log")
start_lea second
check "test_bin_c2_kill9_resume_complete" wait_state "$S_ID" $S_COMPLETE 600
check "kill -9: resumed object identical (re-verified)" cmp -s "$T/att/slow.bin" "$ST/$(att "$S_ID" file)"
tail -n +"$((BEFORE + 1))" "$T/access.log" | grep "^$SLOWU " >"$T/after.log"
check "resume: the object was requested after the restart" test -s "$T/after.log"
# no request after the restart overlaps a range verified before the kill
check "test_bin_c2_resume_never_refetches_verified_ranges" python3 - "$HELD" "$T/after.log" <<'PY'
import re, sys
held = [tuple(map(int, r.split("-"))) for r in sys.argv[1].split(",")]
for line in open(sys.argv[2]):
    m = re.search(r"range=bytes=(\d+)-(\d*)", line)
    assert m, "a request without Range after the restart: " + line
    s = int(m.group(1)); e = int(m.group(2)) + 1 if m.group(2) else 1 << 62
    for a, b in held:
        assert e <= a or s >= b, (line, held)
PY
AFTER_BYTES=$(awk '{s += $3} END {print s + 0}' "$T/after.log")
check "resume: bytes fetched after the restart <= size - verified" [ "$AFTER_BYTES" -le $((6291456 - VB)) ]

# ---- logs: no reference (R-SEC-6) ----------------------------------------------------------
check "logs name no reference (R-SEC-6)" not_contains "$T/first.log" LIID-FETCH-1
check "logs name no url (R-SEC-6)" not_contains "$T/first.log" "/o/"

kill -TERM "$LPID"
wait "$LPID"
is "SIGTERM with fetch workers: exit 0" 0 "$?"
LPID=
check "fetch-status file removed at stop" test ! -e "$ST/fetch-status"
summary
