#!/usr/bin/env bash
# li707-csp transfers in progress and the fetch audit records (issue 11), with a real
# li707-lea on loopback (mutual TLS, test PKI) and curl as the fetching LEA:
#  - a Model B push to a slow LEA (li707-lea behind a throttling proxy): `status --json`
#    shows it under "transfers" (kind push, the LEA, the object's key, attempt 1, state
#    sending) with growing bytes and a rate > 0; `status` has the "transfers:" section;
#    afterwards it is listed finished with the outcome stored and all its bytes;
#  - a Model C object fetched whole by a slow curl (--limit-rate): shown as a serve transfer
#    with growing bytes and a rate > 0, then finished served;
#  - the fetch audit records (event "fetch"): Model A whole (served, bytes = size, range
#    whole, http 200), Model C single range and multiple ranges (served, the range text, the
#    body bytes), a client that went away (partial, fewer bytes), another LEA's certificate
#    (refused-wrong-client, its name, no bytes), the object after its expiry
#    (refused-expired); unknown tokens and path tricks leave no record but count in
#    li707_csp_files_refusals_total; the refusals stay byte-identical (cmp);
#  - `audit check` passes; no reference, token or file name in the audit log or the daemon's
#    log; li707_csp_transfer_bytes_total counts per LEA and kind.
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; 77 = skipped.
set -uo pipefail
SRC=$2
BUILD=${4:?BUILDDIR}
CSP=$BUILD/li707-csp
LEA=$BUILD/li707-lea
for t in openssl sqlite3 python3 jq curl cmp; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$CSP" ] && [ -x "$LEA" ] || { echo "SKIP: li707-csp or li707-lea not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-csp-transfers-XXXXXX")
DPID= LPID= XPID= CPID=
cleanup() {
	[ -n "$CPID" ] && kill "$CPID" 2>/dev/null
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
	[ -n "$XPID" ] && kill "$XPID" 2>/dev/null
	wait 2>/dev/null
	[ -n "${KEEPT:-}" ] && cp -r "$T" "$KEEPT"
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/check.sh"
. "$(dirname "$0")/lib/lea.sh"

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null 2>&1 || { echo "pki.sh failed"; exit 1; }
until_eq() { [ "$(eval "$1")" = "$2" ]; } # until_eq 'SHELL EXPRESSION' VALUE
LIA=XFERLI-A001
LIB=XFERLI-B001

# ---- li707-lea: receives deliveries and Model B pushes from csp1 ----
LST=$T/lea-store
cat >"$T/lea.conf" <<CONF
[server]
listen = 127.0.0.1:0
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $LST
delivery_path = /hi1
binary_path = /binaryData/
schema_dir = $SRC/schemas
client_cert = $P/csp2.pem
client_key = $P/csp2.key

[peer csp1]
san = csp1.test
references = any
models = A, B, C
fetch_ca = $P/ca.pem
CONF
lea_start "$T/lea.conf" "$T/lea.log" append
LPORT=$PORT

# ---- a throttling proxy in front of it for the pushes: about 400 KB/s towards the LEA ----
XPORT=$(free_port)
python3 - "$XPORT" "$LPORT" >"$T/proxy.log" 2>&1 <<'PY' &
import socket, sys, threading, time
lp, up = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lp)); ls.listen(16)
def pump(a, b, slow):
    try:
        while True:
            d = a.recv(8192 if slow else 16384)
            if not d: break
            b.sendall(d)
            if slow: time.sleep(0.02)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", up))
    for s in (c, u):  # small buffers: the sender feels the slow reader
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
PY
XPID=$!
wait_for 5 python3 -c "import socket; socket.create_connection(('127.0.0.1', $XPORT))" 2>/dev/null

# ---- li707-csp: leaA (Models A and C, its deliveries never arrive: curl fetches in its
# place with the csp2 certificate), leaB (Model B pushed to li707-lea through the proxy) ----
SP=$T/spool
FPORT=$(free_port)
mkdir -p "$T/att"
head -c 20000 /dev/urandom >"$T/att/a-secretname.bin"
head -c 48000000 /dev/urandom >"$T/att/c-secretname.bin"
head -c 8000000 /dev/urandom >"$T/att/b-secretname.bin"
cat >"$T/csp.conf" <<CONF
[csp]
country_code = XX
unique_identifier = csp.xfer
spool = $SP
ingest_listen = unix:$T/ingest.sock
metrics_listen = 127.0.0.1:0
attachment_dirs = $T/att
files_listen = 127.0.0.1:$FPORT
files_url = https://127.0.0.1:$FPORT/o/
cert = $P/server.pem
key = $P/server.key
ca = $P/ca.pem
object_lifetime = 60
retention = 3600

[lea leaA]
url = https://127.0.0.1:9/hi1
ca = $P/ca.pem
client_cert = $P/csp1.pem
client_key = $P/csp1.key
receiver_country = XX
receiver_id = leaA
models = A, C
san = csp2.test

[lea leaB]
url = https://127.0.0.1:$LPORT/hi1
ca = $P/ca.pem
client_cert = $P/csp1.pem
client_key = $P/csp1.key
receiver_country = XX
receiver_id = leaB
models = B
modelb_url = https://127.0.0.1:$XPORT/binaryData/{id}/
san = csp1.test
CONF
C() { "$CSP" "$@" --config "$T/csp.conf"; }
C ref add "$LIA" --lea leaA >/dev/null || bad "ref add A"
C ref add "$LIB" --lea leaB >/dev/null || bad "ref add B"
"$CSP" --config "$T/csp.conf" 2>>"$T/csp.log" &
DPID=$!
wait_for 10 grep -q "li707-csp .* started" "$T/csp.log"
kill -0 "$DPID" 2>/dev/null || { echo "li707-csp did not start:"; cat "$T/csp.log"; exit 1; }

att() { printf '{"path":"%s","model":"%s","content_type":"application/octet-stream"}' "$T/att/$1" "$2"; }
printf '{"liid":"%s","timestamp":"2026-03-01T00:00:01Z","attachments":[%s,%s]}\n' "$LIA" \
	"$(att a-secretname.bin A)" "$(att c-secretname.bin C)" >"$T/ev.jsonl"
printf '{"liid":"%s","timestamp":"2026-03-01T00:00:02Z","attachments":[%s]}\n' "$LIB" \
	"$(att b-secretname.bin B)" >>"$T/ev.jsonl"
run C submit "$T/ev.jsonl"
expect_rc "submit events with A, C (leaA) and B (leaB) objects" 0

cq() { sqlite3 "$SP/csp.db" "$1"; }
A_ID=$(cq "SELECT id FROM objects WHERE model = 'A'")
B_ID=$(cq "SELECT id FROM objects WHERE model = 'B'")
C_ID=$(cq "SELECT id FROM objects WHERE model = 'C'")
A_TOK=$(cq "SELECT token FROM objects WHERE model = 'A'")
C_TOK=$(cq "SELECT token FROM objects WHERE model = 'C'")
A_REF=$(cq "SELECT ref_id FROM objects WHERE model = 'A'")
A_URL=https://127.0.0.1:$FPORT/o/$A_TOK
C_URL=https://127.0.0.1:$FPORT/o/$C_TOK
CURL=(curl -s --cacert "$P/ca.pem")
AS_A=(--cert "$P/csp2.pem" --key "$P/csp2.key") # leaA's fetch identity
AS_B=(--cert "$P/csp1.pem" --key "$P/csp1.key") # leaB's

# status --json, then a jq filter on it
jqe() { jq -e "$@" >/dev/null; }
st() { C status --json >"$T/st.json" 2>/dev/null && jq -e "$1" "$T/st.json" >/dev/null; }
xf() { C status --json 2>/dev/null | jq -r "$1"; } # a value from the transfers

# ---- fetches for the audit log (before the objects expire) ----
"${CURL[@]}" "${AS_A[@]}" -o "$T/a.out" "$A_URL"
check "Model A whole: the object" cmp -s "$T/a.out" "$T/att/a-secretname.bin"
"${CURL[@]}" "${AS_A[@]}" -r 1000-1999 -o "$T/c1.out" "$C_URL"
is "Model C single range: 1000 bytes" 1000 "$(stat -c %s "$T/c1.out")"
"${CURL[@]}" "${AS_A[@]}" -r 0-9,100-199 -o "$T/c2.out" "$C_URL"
MP_LEN=$(stat -c %s "$T/c2.out")
check "Model C two ranges: a multipart body" grep -q "Content-Range: bytes 100-199/48000000" "$T/c2.out"
"${CURL[@]}" "${AS_A[@]}" -I -o "$T/head.out" "$C_URL"
check "HEAD of C: 200" grep -q "^HTTP/1.1 200" "$T/head.out"
"${CURL[@]}" "${AS_A[@]}" -r 99999999999- -o /dev/null -w '%{http_code}\n' "$C_URL" >"$T/416.out"
is "a range past the end of C: 416" 416 "$(cat "$T/416.out")"
# a client that goes away: 1 MB/s for two seconds of 48 MB
"${CURL[@]}" "${AS_A[@]}" --limit-rate 1M -o /dev/null "$C_URL" &
CPID=$!
sleep 2
kill "$CPID"; wait "$CPID" 2>/dev/null; CPID=
blank() { sed 's/^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9]\{4\} [0-9:]\{8\} GMT\r$/Date: -\r/'; }
"${CURL[@]}" -i "${AS_B[@]}" "$A_URL" | blank >"$T/ref-peer"
"${CURL[@]}" -i "${AS_A[@]}" "https://127.0.0.1:$FPORT/o/AAAAAAAAAAAAAAAAAAAAAA" | blank >"$T/ref-unknown"
"${CURL[@]}" -i "${AS_A[@]}" --path-as-is "https://127.0.0.1:$FPORT/o/../o/$A_TOK" | blank >"$T/ref-trick"
check "R-BIN-A2: another LEA's certificate gets 404" grep -q "^HTTP/1.1 404" "$T/ref-peer"
check "R-BIN-A2: with the fetch audit, another LEA's refusal is byte-identical to an unknown URL's" \
	cmp "$T/ref-peer" "$T/ref-unknown"
check "a path trick: the same refusal" cmp "$T/ref-trick" "$T/ref-unknown"

# ---- a Model B push to the slow LEA: shown with growing bytes and a rate ----
pushing() { st "[.transfers[]? | select(.kind == \"push\" and .object == $B_ID and .finished == false and .bytes > 0)] | length == 1"; }
check "push in progress: status --json lists it (kind push, object key) with bytes > 0" \
	wait_for 30 pushing
PB1=$(xf ".transfers[] | select(.kind == \"push\" and .finished == false) | .bytes")
sleep 2
C status --json >"$T/st-push.json"
PB2=$(jq -r ".transfers[] | select(.kind == \"push\" and .finished == false) | .bytes" "$T/st-push.json")
check "push in progress: bytes grow ($PB1 -> $PB2)" test "${PB2:-0}" -gt "${PB1:-0}"
check "push in progress: LEA, size, attempt 1, state sending, rate > 0, eta" jqe \
	"[.transfers[] | select(.kind == \"push\" and .finished == false)][0] | .lea == \"leaB\" and .size == 8000000 and .length == 8000000 and .attempt == 1 and .state == \"sending\" and .rate > 0 and .eta_s >= 0" \
	"$T/st-push.json"
run C status
check "status (text): the transfers section with the push in progress" \
	grep -Eq "^  push +lea leaB object $B_ID attempt 1: sending [0-9]+/8000000 bytes" "$T/out"
check "status (text): the transfers summary line" grep -Eq "^transfers: [1-9][0-9]* in progress" "$T/out"

# ---- a Model C object fetched whole by a slow client ----
"${CURL[@]}" "${AS_A[@]}" --limit-rate 3M -o "$T/c.out" "$C_URL" &
CPID=$!
serving() { st "[.transfers[]? | select(.kind == \"serve\" and .object == $C_ID and .finished == false and .bytes > 0)] | length == 1"; }
check "serve in progress: status --json lists it (kind serve, object key) with bytes > 0" \
	wait_for 20 serving
SB1=$(xf ".transfers[] | select(.kind == \"serve\" and .finished == false) | .bytes")
sleep 2
C status --json >"$T/st-serve.json"
SB2=$(jq -r ".transfers[] | select(.kind == \"serve\" and .finished == false) | .bytes" "$T/st-serve.json")
check "serve in progress: bytes grow ($SB1 -> $SB2)" test "${SB2:-0}" -gt "${SB1:-0}"
check "serve in progress: LEA, range whole, length, rate > 0" jqe \
	"[.transfers[] | select(.kind == \"serve\" and .finished == false)][0] | .lea == \"leaA\" and .range == \"whole\" and .length == 48000000 and .size == 48000000 and .state == \"sending\" and .rate > 0" \
	"$T/st-serve.json"
wait "$CPID"
CPID=
check "the slow client got the whole object" cmp -s "$T/c.out" "$T/att/c-secretname.bin"
served_done() { st "[.transfers[] | select(.kind == \"serve\" and .object == $C_ID and .finished and .outcome == \"served\" and .bytes == 48000000)] | length == 1"; }
check "after it: the serve is listed finished (served, all bytes)" wait_for 5 served_done
check "after it: no serve in progress" st '[.transfers[] | select(.kind == "serve" and .finished == false)] | length == 0'
pushed() { st "[.transfers[] | select(.kind == \"push\" and .object == $B_ID and .finished and .outcome == \"stored\" and .bytes == 8000000)] | length == 1"; }
check "after the push: listed finished (stored, all bytes)" wait_for 60 pushed
check "after the push: nothing in progress" st '[.transfers[] | select(.finished == false)] | length == 0'

AL=$SP/audit.log
fetch_rec() { # fetch_rec JQ-CONDITION: exactly one fetch record matches (written within 5 s)
	wait_for 5 bash -c "[ \"\$(jq -c 'select(.event == \"fetch\" and ($1))' '$AL' | wc -l)\" = 1 ]"
}
check "audit: Model A whole: served, leaA, obj, ref, range whole, 20000 bytes, http 200" \
	fetch_rec ".obj == $A_ID and .ref == $A_REF and .lea == \"leaA\" and .outcome == \"served\" and .range == \"whole\" and .bytes == 20000 and .http == 200"
check "audit: Model C single range: served, range 1000-1999, 1000 bytes, http 206" \
	fetch_rec ".obj == $C_ID and .outcome == \"served\" and .range == \"1000-1999\" and .bytes == 1000 and .http == 206"
check "audit: Model C two ranges: served, range 0-9,100-199, the multipart body's bytes" \
	fetch_rec ".obj == $C_ID and .outcome == \"served\" and .range == \"0-9,100-199\" and .bytes == $MP_LEN"
check "audit: the slow whole fetch of C: served, all 48000000 bytes" \
	fetch_rec ".obj == $C_ID and .outcome == \"served\" and .range == \"whole\" and .bytes == 48000000"
check "audit: the client that went away: partial, 0 < bytes < 48000000" \
	fetch_rec ".obj == $C_ID and .outcome == \"partial\" and .range == \"whole\" and .bytes > 0 and .bytes < 48000000"
check "audit: another LEA's certificate: refused-wrong-client, leaB, no bytes, 404" \
	fetch_rec ".obj == $A_ID and .lea == \"leaB\" and .outcome == \"refused-wrong-client\" and .bytes == 0 and .http == 404 and (has(\"range\") | not)"
check "audit: HEAD of C: served, range whole, no body bytes, http 200" \
	fetch_rec ".obj == $C_ID and .outcome == \"served\" and .bytes == 0 and .http == 200"
check "audit: the unsatisfiable range: served, http 416, no range, no bytes" \
	fetch_rec ".obj == $C_ID and .outcome == \"served\" and .http == 416 and .bytes == 0 and (has(\"range\") | not)"
check "the daemon logged no audit error" not_contains "$T/csp.log" "audit log"
is "audit: unknown tokens and path tricks leave no record (8 fetch records so far)" 8 \
	"$(jq -c 'select(.event == "fetch")' "$AL" | wc -l)"
MPORT=$(sed -n 's/.*metrics on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/csp.log" | tail -1)
sleep 1.2 # the tick copies the refusal counters into the metrics
curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/metrics"
check "metrics: the unknown token counted by reason" grep -q '^li707_csp_files_refusals_total{reason="unknown"} 1' "$T/metrics"
check "metrics: the path trick counted by reason" grep -q '^li707_csp_files_refusals_total{reason="malformed"} 1' "$T/metrics"
check "metrics: the wrong client counted by reason" grep -q '^li707_csp_files_refusals_total{reason="peer"} 1' "$T/metrics"
check "metrics: push bytes per LEA" grep -q '^li707_csp_transfer_bytes_total{lea="leaB",kind="push"} 8000000' "$T/metrics"
check "metrics: served bytes per LEA" grep -Eq '^li707_csp_transfer_bytes_total\{lea="leaA",kind="serve"\} [0-9]{8}' "$T/metrics"
check "metrics: fetch outcomes" grep -q '^li707_csp_fetches_total{outcome="partial"} 1' "$T/metrics"
check "metrics: no transfer active" grep -q '^li707_csp_transfers_active{kind="serve"} 0' "$T/metrics"

# ---- the object after its expiry (object_lifetime 60) ----
exp=$(cq "SELECT expiry FROM objects WHERE model = 'A'")
while [ "$(date +%s)" -lt "$exp" ]; do sleep 0.5; done
"${CURL[@]}" -i "${AS_A[@]}" "$A_URL" | blank >"$T/ref-expired"
check "R-BIN-A3: the expired object: the same refusal (cmp)" cmp "$T/ref-expired" "$T/ref-unknown"
check "audit: the expired object: refused-expired, leaA, http 404" \
	fetch_rec ".obj == $A_ID and .lea == \"leaA\" and .outcome == \"refused-expired\" and .http == 404"

# ---- SIGTERM writes what is queued; the chain holds the new records ----
kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=
run C audit check
expect_rc "audit check passes with the fetch records" 0
for s in "$LIA" "$LIB" "$A_TOK" "$C_TOK" secretname; do
	check "no '$s' in the audit log" not_contains "$AL" "$s"
	check "no '$s' in the daemon's log" not_contains "$T/csp.log" "$s"
done

summary
