#!/usr/bin/env bash
# li707-csp SIGHUP of the binary engines (src/csp/csp_run_binary.c csp_binary_reload_*), with a
# real li707-lea for deliveries and two Model B receivers (python https.server, mutual TLS):
#  - the file server's certificate replaced in place + SIGHUP: openssl s_client sees the new
#    one on the same port (the listener is not dropped);
#  - the allowed fetch identity of an [lea] changed (san): the old certificate gets the
#    byte-identical refusal of an unknown URL (R-BIN-A2), the new one gets the object;
#  - files_listen / files_url changed: the new port serves under the new path, the old port
#    is closed, the old path is refused like an unknown URL;
#  - modelb_url changed during a push to a slow receiver: the push engine restarts, the cut
#    upload is recorded as a retry (audited) and the object is pushed to the second
#    receiver, complete; an [lea] removed / added: its push engine stops / starts;
#  - invalid reloads (bad syntax; a certificate that is not one; files_listen on a port in
#    use): one error line each, everything keeps serving on the running configuration.
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; 77 = skipped.
set -uo pipefail
SRC=$2
BUILD=${4:?BUILDDIR}
CSP=$BUILD/li707-csp
LEA=$BUILD/li707-lea
for t in openssl sqlite3 python3 curl sha256sum cmp; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$CSP" ] && [ -x "$LEA" ] || { echo "SKIP: li707-csp or li707-lea not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-csp-reload-XXXXXX")
DPID= LPID= R1PID= R2PID= BLOCKPID=
cleanup() {
	for p in $DPID $LPID $R1PID $R2PID $BLOCKPID; do kill "$p" 2>/dev/null; done
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
LI=RLDLI-0001

# ---- li707-lea: the HI-1 receiver (deliveries from csp1) ----
LST=$T/lea-store
cat >"$T/lea.conf" <<CONF
[server]
listen = 127.0.0.1:0
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $LST
delivery_path = /hi1
schema_dir = $SRC/schemas
fetch_workers = 0

[peer csp1]
san = csp1.test
references = any
models = A, B
CONF
lea_start "$T/lea.conf" "$T/lea.log" append
LPORT=$PORT

# ---- two Model B receivers: mutual TLS, 100-continue, log "begin PATH" and "end PATH N SHA" ----
cat >"$T/recv.py" <<'PY'
import hashlib, http.server, ssl, sys, time
portf, logf, pki, slow = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "slow"
def log(s):
    with open(logf, "a") as f: f.write(s + "\n")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers["Content-Length"]); h = hashlib.sha256(); got = 0
        log("begin %s" % self.path)
        try:
            while got < n:
                b = self.rfile.read(min(4096 if slow else 65536, n - got))
                if not b: break
                h.update(b); got += len(b)
                if slow: time.sleep(0.05)
        except Exception:
            pass
        log("end %s %d %s" % (self.path, got, h.hexdigest()))
        if got < n: return
        self.send_response(201); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(pki + "/server.pem", pki + "/server.key")
c.load_verify_locations(pki + "/ca.pem"); c.verify_mode = ssl.CERT_REQUIRED
s.socket = c.wrap_socket(s.socket, server_side=True)
open(portf + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(portf + ".tmp", portf)
s.serve_forever()
PY
python3 "$T/recv.py" "$T/r1.port" "$T/r1.log" "$P" slow 2>"$T/r1.err" &
R1PID=$!
python3 "$T/recv.py" "$T/r2.port" "$T/r2.log" "$P" fast 2>"$T/r2.err" &
R2PID=$!
wait_for 10 test -s "$T/r1.port" && wait_for 10 test -s "$T/r2.port" ||
	{ echo "the receivers did not start"; cat "$T"/r?.err; exit 1; }
R1=$(cat "$T/r1.port") R2=$(cat "$T/r2.port")

# ---- li707-csp ----
SP=$T/spool
FPORT=$(free_port)
mkdir -p "$T/att"
head -c 20000 /dev/urandom >"$T/att/a.bin"
head -c 3000000 /dev/urandom >"$T/att/b.bin"
cp "$P/server.pem" "$T/fs.pem"
cp "$P/server.key" "$T/fs.key"
# csp_conf FPORT PREFIX FETCH-SAN MODELB-PORT [extra [lea] sections]
csp_conf() {
	cat >"$T/csp.conf" <<CONF
[csp]
country_code = XX
unique_identifier = csp.reload
spool = $SP
ingest_listen = unix:$T/ingest.sock
attachment_dirs = $T/att
files_listen = 127.0.0.1:$1
files_url = https://127.0.0.1:$1/$2/
cert = $T/fs.pem
key = $T/fs.key
ca = $P/ca.pem

[lea lea1]
url = https://127.0.0.1:$LPORT/hi1
ca = $P/ca.pem
client_cert = $P/csp1.pem
client_key = $P/csp1.key
receiver_country = XX
receiver_id = lea1
models = A, B
modelb_url = https://127.0.0.1:$4/binaryData/{id}/
san = $3
retry_min = 1
retry_max = 2
push_nice = $NICE
push_rate = 1G
${5:-}
CONF
}
LEA2="
[lea lea2]
url = https://127.0.0.1:9/hi1
ca = $P/ca.pem
client_cert = $P/csp1.pem
client_key = $P/csp1.key
receiver_country = XX
receiver_id = lea2
models = B
modelb_url = https://127.0.0.1:9/b/{id}/
san = lea2.test"
NICE=7
csp_conf "$FPORT" o csp2.test "$R1" "$LEA2"
"$CSP" ref add "$LI" --lea lea1 --config "$T/csp.conf" >/dev/null || bad "ref add"
"$CSP" --config "$T/csp.conf" 2>>"$T/csp.log" &
DPID=$!
wait_for 10 grep -q "li707-csp .* started" "$T/csp.log" ||
	{ echo "li707-csp did not start:"; cat "$T/csp.log"; exit 1; }
C() { "$CSP" "$@" --config "$T/csp.conf"; }
cq() { sqlite3 "$SP/csp.db" "$1"; }
loglines() { wc -l <"$T/csp.log"; }
errors_since() { tail -n +"$(($1 + 1))" "$T/csp.log" | grep -c ': error: '; }
reloads() { grep -c 'SIGHUP: reloading' "$T/csp.log"; }
NR=0
hup() { # hup: SIGHUP and wait until the reload is over (applied or refused)
	NR=$((NR + 1))
	kill -HUP "$DPID"
	wait_for 10 until_eq reloads "$NR"
	sleep 1 # (prepare and apply are quick; pushers stop within a second)
}

printf '{"liid":"%s","timestamp":"2026-03-01T00:00:01Z","attachments":[{"path":"%s","model":"A","content_type":"application/octet-stream"}]}\n' \
	"$LI" "$T/att/a.bin" >"$T/ev-a.jsonl"
run C submit "$T/ev-a.jsonl"
expect_rc "submit a Model A event" 0
A_TOK=$(cq "SELECT token FROM objects WHERE model = 'A'")
blank() { sed 's/^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9]\{4\} [0-9:]\{8\} GMT\r$/Date: -\r/'; }
fetch() { # fetch CERT URL OUT
	curl -si --max-time 10 --cacert "$P/ca.pem" --cert "$P/$1.pem" --key "$P/$1.key" "$2" |
		blank >"$3"
}
# nice_threads N: how many of the daemon's threads run at nice N (field 19 of their stat)
nice_threads() { for s in /proc/"$DPID"/task/*/stat; do sed 's/.*) //' "$s" | cut -d' ' -f17; done | grep -cx "$1"; }
is "push_nice = 7: the push thread of lea1 (and only it) runs at nice 7" 1 "$(nice_threads 7)"
fetch csp2 "https://127.0.0.1:$FPORT/o/$A_TOK" "$T/ok0"
check "before: the fetch identity csp2 gets the object (200)" grep -q "^HTTP/1.1 200" "$T/ok0"
fetch csp2 "https://127.0.0.1:$FPORT/o/AAAAAAAAAAAAAAAAAAAAAA" "$T/ref-unknown"
check "before: an unknown URL is 404" grep -q "^HTTP/1.1 404" "$T/ref-unknown"

# ---- the server certificate, replaced in place ----
fpr() { openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2; }
served_fpr() {
	openssl s_client -connect "127.0.0.1:$1" -cert "$P/csp2.pem" -key "$P/csp2.key" \
		-CAfile "$P/ca.pem" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 |
		cut -d= -f2
}
is "s_client: the first certificate" "$(fpr "$P/server.pem")" "$(served_fpr "$FPORT")"
cp "$P/server2.pem" "$T/fs.pem"
cp "$P/server2.key" "$T/fs.key"
hup
is "cert replaced + SIGHUP: s_client sees the new certificate on the same port" \
	"$(fpr "$P/server2.pem")" "$(served_fpr "$FPORT")"
fetch csp2 "https://127.0.0.1:$FPORT/o/$A_TOK" "$T/ok1"
check "after the certificate reload: the object is served (200)" grep -q "^HTTP/1.1 200" "$T/ok1"

# ---- the allowed fetch identity of lea1: csp2 -> csp1 ----
csp_conf "$FPORT" o csp1.test "$R1" "$LEA2"
hup
fetch csp2 "https://127.0.0.1:$FPORT/o/$A_TOK" "$T/ref-old"
check "R-BIN-A2: identity changed: the old one gets 404" grep -q "^HTTP/1.1 404" "$T/ref-old"
check "R-BIN-A2: the old identity's refusal is byte-identical to an unknown URL's (cmp)" \
	cmp "$T/ref-old" "$T/ref-unknown"
fetch csp1 "https://127.0.0.1:$FPORT/o/$A_TOK" "$T/ok2"
check "identity changed: the new one gets the object (200)" grep -q "^HTTP/1.1 200" "$T/ok2"
check "the content is ours" bash -c "tail -c 20000 '$T/ok2' | cmp -s - '$T/att/a.bin'"

# ---- invalid reloads: one error line each, the running configuration keeps serving ----
cp "$T/csp.conf" "$T/csp.good"
n0=$(loglines)
printf '[csp\nbroken\n' >>"$T/csp.conf"
hup
is "bad syntax: one error line" 1 "$(errors_since "$n0")"
check "bad syntax: the error says the running configuration is kept" \
	bash -c "tail -n +$((n0 + 1)) '$T/csp.log' | grep ': error: ' | grep -q 'keeping the running configuration'"
fetch csp1 "https://127.0.0.1:$FPORT/o/$A_TOK" "$T/ok3"
check "bad syntax: still serving (200)" grep -q "^HTTP/1.1 200" "$T/ok3"
cp "$T/csp.good" "$T/csp.conf"
cp "$T/fs.pem" "$T/fs.pem.good"
echo "not a certificate" >"$T/fs.pem"
n0=$(loglines)
hup
is "a certificate that is not one: one error line" 1 "$(errors_since "$n0")"
cp "$T/fs.pem.good" "$T/fs.pem"
is "... and the running certificate is still served" "$(fpr "$P/server2.pem")" "$(served_fpr "$FPORT")"
# files_listen on a port in use (and the identity back to csp2 in the same file): refused whole;
# the blocker holds the port taken here until the reload that uses it (no other test takes it)
FPORT2=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(600)' "$FPORT2" &
BLOCKPID=$!
wait_port "$FPORT2"
csp_conf "$FPORT2" o csp2.test "$R1" "$LEA2"
n0=$(loglines)
hup
is "files_listen on a port in use: one error line" 1 "$(errors_since "$n0")"
check "... naming the address" bash -c "tail -n +$((n0 + 1)) '$T/csp.log' | grep ': error: ' | grep -q '127.0.0.1:$FPORT2'"
fetch csp1 "https://127.0.0.1:$FPORT/o/$A_TOK" "$T/ok4"
check "... the old listener and identity keep serving (200 to csp1)" grep -q "^HTTP/1.1 200" "$T/ok4"
kill "$BLOCKPID"; wait "$BLOCKPID" 2>/dev/null; BLOCKPID=

# ---- files_listen and files_url: a new port and path ----
csp_conf "$FPORT2" p csp1.test "$R1" "$LEA2"
n0=$(loglines)
hup
[ "$(errors_since "$n0")" = 0 ] || tail -n +"$((n0 + 1))" "$T/csp.log" | grep ': error: ' >&2
is "new files_listen/files_url: no error" 0 "$(errors_since "$n0")"
fetch csp1 "https://127.0.0.1:$FPORT2/p/$A_TOK" "$T/ok5"
check "the new port serves under the new path (200)" grep -q "^HTTP/1.1 200" "$T/ok5"
fetch csp1 "https://127.0.0.1:$FPORT2/o/$A_TOK" "$T/ref-oldpath"
check "the old path is refused like an unknown URL (cmp)" cmp "$T/ref-oldpath" "$T/ref-unknown"
check "the old port is closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$FPORT) 2>/dev/null"
check "the log says where it listens" grep -q "file server listens on 127.0.0.1:$FPORT2" "$T/csp.log"

# ---- Model B: modelb_url changed during a push to the slow receiver ----
printf '{"liid":"%s","timestamp":"2026-03-01T00:00:02Z","attachments":[{"path":"%s","model":"B","content_type":"application/octet-stream"}]}\n' \
	"$LI" "$T/att/b.bin" >"$T/ev-b.jsonl"
run C submit "$T/ev-b.jsonl"
expect_rc "submit a Model B event" 0
U=$(cq "SELECT uuid FROM objects WHERE model = 'B'")
check "the push to the first receiver is under way" wait_for 30 grep -q "^begin /binaryData/$U/" "$T/r1.log"
NICE=12
csp_conf "$FPORT2" p csp1.test "$R2"
n0=$(loglines)
hup
is "the restarted push engine runs at the new push_nice" "1 0" "$(nice_threads 12) $(nice_threads 7)"
check "modelb_url changed: the push engine restarts" \
	grep -q "lea lea1: Model B configuration changed: restarting its push engine" "$T/csp.log"
check "lea2 removed: its push engine stops" \
	grep -q "lea lea2: removed from the configuration: its push engine stops" "$T/csp.log"
check "the cut push is recorded as a retry" grep -q "cut by a configuration reload" "$T/csp.log"
check "the object ends stored" \
	wait_for 60 until_eq "cq \"SELECT push_state FROM objects WHERE uuid = '$U'\"" stored
cut_at_r1() { grep -q "^end /binaryData/$U/ " "$T/r1.log" && ! grep -q "^end /binaryData/$U/ 3000000 " "$T/r1.log"; }
check "the first receiver's upload was cut (incomplete)" wait_for 60 cut_at_r1
want=$(sha256sum "$T/att/b.bin" | cut -d' ' -f1)
check "the second receiver got it whole (length, SHA-256)" \
	grep -q "^end /binaryData/$U/ 3000000 $want" "$T/r2.log"
check "audit: the cut push is a retry record, the second a stored one" \
	bash -c "grep -q '\"event\":\"push\".*\"outcome\":\"retry\"' '$SP/audit.log' &&
		 grep -q '\"event\":\"push\".*\"outcome\":\"stored\"' '$SP/audit.log'"
csp_conf "$FPORT2" p csp1.test "$R2" "$LEA2"
hup
check "lea2 added again: its push engine starts" grep -q "lea lea2: Model B push engine added" "$T/csp.log"
check "no warning that a binary key needs a restart" bash -c "! grep -q \"'files_listen\" '$T/csp.log'"

kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=
run C audit check
expect_rc "audit check" 0
check "no reference in the daemon's log" bash -c "! grep -q '$LI' '$T/csp.log'"
check "no token in the daemon's log" bash -c "! grep -q '$A_TOK' '$T/csp.log'"
summary
