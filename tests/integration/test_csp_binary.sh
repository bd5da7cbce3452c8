#!/usr/bin/env bash
# li707-csp binary content end to end (src/csp/csp_run_binary.c) with a real li707-lea on
# loopback (mutual TLS, test PKI):
#  - one event with a Model A, a Model B and a Model C attachment submitted to li707-csp:
#    the DeliveryObject reaches the LEA; B is pushed after it (R-BIN-B2) and recorded stored
#    at both ends; A and C are fetched by the LEA from li707-csp's file server (R-BIN-A1,
#    R-BIN-C1) and complete at the LEA; the three stored objects are byte for byte ours;
#  - the daemon's file server: curl with another LEA's certificate, an unknown token, the
#    object after its expiry, all get the byte-identical refusal (R-BIN-A2, R-BIN-A3);
#  - retention: after expiry + retention the spool files are removed and the rows marked;
#  - kill -9 of li707-csp during a Model B push (a slow LEA behind a throttling proxy), then a
#    restart: the object ends stored, once (li707-lea answers the repeated push 200 "already
#    stored" when the first upload completed);
#  - metrics count what was served and pushed; the audit chain checks out with push records.
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; 77 = skipped.
set -uo pipefail
SRC=$2
BUILD=${4:?BUILDDIR}
CSP=$BUILD/li707-csp
LEA=$BUILD/li707-lea
for t in openssl sqlite3 python3 jq curl sha256sum cmp; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$CSP" ] && [ -x "$LEA" ] || { echo "SKIP: li707-csp or li707-lea not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-csp-binary-XXXXXX")
DPID= LPID= XPID=
cleanup() {
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
LI=BINLI-0001

# ---- li707-lea: receives over mTLS from csp1, fetches A/C with its own certificate (csp2) ----
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
fetch_workers = 2

[peer csp1]
san = csp1.test
references = any
models = A, B, C
fetch_ca = $P/ca.pem
fetch_backoff = 1
fetch_backoff_max = 2
CONF
lea_start "$T/lea.conf" "$T/lea.log" append
LPORT=$PORT
LDB=$LST/index.sqlite

# ---- li707-csp ----
SP=$T/spool
FPORT=$(free_port)
mkdir -p "$T/att"
head -c 20000 /dev/urandom >"$T/att/a.bin"
head -c 300000 /dev/urandom >"$T/att/b.bin"
head -c 2000000 /dev/urandom >"$T/att/c.bin"
csp_conf() { # csp_conf MODELB_BASE_URL
	cat >"$T/csp.conf" <<CONF
[csp]
country_code = XX
unique_identifier = csp.bin
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
retention = 2

[lea lea1]
url = https://127.0.0.1:$LPORT/hi1
ca = $P/ca.pem
client_cert = $P/csp1.pem
client_key = $P/csp1.key
receiver_country = XX
receiver_id = lea1
models = A, B, C
modelb_url = $1/binaryData/{id}/
san = csp2.test
retry_min = 1
retry_max = 2

[lea lea2]
url = https://127.0.0.1:9/hi1
ca = $P/ca.pem
client_cert = $P/csp1.pem
client_key = $P/csp1.key
receiver_country = XX
receiver_id = lea2
models = A
san = csp1.test
CONF
}
csp_conf "https://127.0.0.1:$LPORT"
STARTS=0
started_n() { [ "$(grep -c "li707-csp .* started" "$T/csp.log" 2>/dev/null)" -ge "$STARTS" ]; }
start_csp() {
	"$CSP" --config "$T/csp.conf" 2>>"$T/csp.log" &
	DPID=$!
	STARTS=$((STARTS + 1))
	wait_for 10 started_n
	kill -0 "$DPID" 2>/dev/null || { echo "li707-csp did not start:"; cat "$T/csp.log"; exit 1; }
}
C() { "$CSP" "$@" --config "$T/csp.conf"; }
C ref add "$LI" --lea lea1 >/dev/null || bad "ref add"
start_csp
check "the file server listens" grep -q "Model A/C file server on 127.0.0.1:$FPORT" "$T/csp.log"

att() { printf '{"path":"%s","model":"%s","content_type":"application/octet-stream"}' "$T/att/$1" "$2"; }
printf '{"liid":"%s","timestamp":"2026-03-01T00:00:01Z","attachments":[%s,%s,%s]}\n' "$LI" \
	"$(att a.bin A)" "$(att b.bin B)" "$(att c.bin C)" >"$T/ev.jsonl"
run C submit "$T/ev.jsonl"
expect_rc "submit an event with A, B and C attachments" 0

cq() { sqlite3 "$SP/csp.db" "$1"; }
lq() { sqlite3 "$LDB" "$1"; }
lea_complete() { [ "$(lq "SELECT count(*) FROM attachments WHERE state = 2")" = "$1" ]; }
check "the DeliveryObject is done" wait_for 20 until_eq 'cq "SELECT group_concat(state) FROM deliveries"' done
check "R-BIN-B2: the B object is pushed and recorded stored" \
	wait_for 20 until_eq "cq \"SELECT push_state FROM objects WHERE model = 'B'\"" stored
check "R-BIN-A1/C1: the LEA fetched A and C, B pushed: three complete at the LEA" \
	wait_for 30 lea_complete 3
lq "SELECT url, state FROM attachments" >"$T/lea-atts"
for m in A B C; do
	u=$(cq "SELECT uuid FROM objects WHERE model = '$m'")
	tok=$(cq "SELECT token FROM objects WHERE model = '$m'")
	case $m in
	B) is "Model B: its URL at the LEA is the LEA's scheme" 1 \
		"$(grep -c "binaryData/$u/|2" "$T/lea-atts")" ;;
	*) is "Model $m: its URL at the LEA is files_url + token" 1 \
		"$(grep -c "^https://127.0.0.1:$FPORT/o/$tok|2" "$T/lea-atts")" ;;
	esac
done
# byte for byte: every file the LEA holds is one of ours, and each of ours is there
want=$(sha256sum "$T"/att/{a,b,c}.bin | cut -d' ' -f1 | sort | tr '\n' ' ')
got=$(find "$LST" -type f -path '*content*' -exec sha256sum {} + | cut -d' ' -f1 | sort -u | tr '\n' ' ')
is "A, B and C at the LEA byte for byte" "$want" "$got"
run "$LEA" status --store "$LST" --json
check "li707-lea status: retrievals complete" jq -e '.retrievals.complete == 2' "$T/out"

# ---- the daemon's refusals: another LEA, unknown, expired: byte-identical ----
A_TOK=$(cq "SELECT token FROM objects WHERE model = 'A'")
A_URL=https://127.0.0.1:$FPORT/o/$A_TOK
blank() { sed 's/^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9]\{4\} [0-9:]\{8\} GMT\r$/Date: -\r/'; }
fetch() { # fetch CERT URL OUT
	curl -si --cacert "$P/ca.pem" --cert "$P/$1.pem" --key "$P/$1.key" "$2" | blank >"$3"
}
fetch csp2 "$A_URL" "$T/ok"
check "the object's LEA gets it from the daemon (200)" grep -q "^HTTP/1.1 200" "$T/ok"
fetch csp1 "$A_URL" "$T/ref-peer"
fetch csp2 "https://127.0.0.1:$FPORT/o/AAAAAAAAAAAAAAAAAAAAAA" "$T/ref-unknown"
fetch csp1 "https://127.0.0.1:$FPORT/o/AAAAAAAAAAAAAAAAAAAAAA" "$T/ref-unknown2"
check "R-BIN-A2: another LEA's certificate gets 404" grep -q "^HTTP/1.1 404" "$T/ref-peer"
check "R-BIN-A2: another LEA's refusal is byte-identical to an unknown URL's (cmp)" \
	cmp "$T/ref-peer" "$T/ref-unknown"
check "R-BIN-A2: unknown URL, either LEA: identical (cmp)" cmp "$T/ref-unknown" "$T/ref-unknown2"
run C status --json
check "status --json: the binary totals (served, pushed)" \
	jq -e '.binary.served >= 3 and .binary.pushed == 1 and .binary.refused >= 2 and .binary.pushes_active == 0' "$T/out"
run C status
check "status: the binary line" grep -q "^binary: Model A/C served [1-9]" "$T/out"

# ---- kill -9 during a Model B push (the LEA behind a slow proxy), restart: stored once ----
XPORT=$(free_port)
python3 - "$XPORT" "$LPORT" >"$T/proxy.log" 2>&1 <<'PY' &
import socket, sys, threading, time
lp, up = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lp)); ls.listen(16)
def pump(a, b, slow):
    try:
        while True:
            d = a.recv(16384 if not slow else 4096)
            if not d: break
            b.sendall(d)
            if slow: time.sleep(0.05)   # about 80 KB/s towards the LEA
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", up))
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
PY
XPID=$!
wait_for 5 python3 -c "import socket; socket.create_connection(('127.0.0.1', $XPORT))"
kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=
csp_conf "https://127.0.0.1:$XPORT"
start_csp
printf '{"liid":"%s","timestamp":"2026-03-01T00:00:02Z","attachments":[%s]}\n' "$LI" \
	"$(att b.bin B)" >"$T/ev2.jsonl"
run C submit "$T/ev2.jsonl"
expect_rc "submit a Model B event (slow LEA)" 0
U2=$(cq "SELECT uuid FROM objects WHERE model = 'B' AND state = 'stored' ORDER BY id DESC LIMIT 1")
receiving() { [ "$(lq "SELECT count(*) FROM attachments WHERE state = 1")" -ge 1 ]; }
check "the push is under way (the LEA is receiving)" wait_for 20 receiving
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
is "killed during the push: not recorded" pending "$(cq "SELECT push_state FROM objects WHERE uuid = '$U2'")"
start_csp
check "after the restart: the object ends stored" \
	wait_for 60 until_eq "cq \"SELECT push_state FROM objects WHERE uuid = '$U2'\"" stored
is "stored exactly once at the LEA (one complete row of the uuid)" 1 \
	"$(lq "SELECT count(*) FROM attachments WHERE url LIKE '%/$U2/' AND state = 2")"
f=$(find "$LST" -type f -name "$U2" | head -1)
check "the LEA's copy is byte for byte ours" cmp -s "$f" "$T/att/b.bin"
fetch csp2 "$A_URL" "$T/ok2"
check "after the restart the daemon serves A again (200)" grep -q "^HTTP/1.1 200" "$T/ok2"
fetch csp1 "$A_URL" "$T/ref-peer2"
check "after the restart: another LEA's refusal unchanged (cmp)" cmp "$T/ref-peer2" "$T/ref-unknown"

# ---- expiry and retention of the first event's objects (object_lifetime 60, retention 2) ----
exp=$(cq "SELECT expiry FROM objects WHERE model = 'A'")
while [ "$(date +%s)" -lt "$exp" ]; do sleep 0.5; done
fetch csp2 "$A_URL" "$T/ref-expired"
check "R-BIN-A3: the expired object, to its own LEA, is byte-identical to an unknown URL (cmp)" \
	cmp "$T/ref-expired" "$T/ref-unknown"

# ---- retention: expiry + 2 s ----
A_PATH=$SP/$(cq "SELECT path FROM objects WHERE model = 'A'")
check "the spool holds the files until expiry + retention" test -f "$A_PATH"
check "retention: files removed after expiry + retention" wait_for 10 test ! -e "$A_PATH"
first_removed() { [ "$(cq "SELECT group_concat(DISTINCT state) FROM objects WHERE event_id = 1")" = removed ]; }
check "retention: the first event's objects marked removed in the store" wait_for 5 first_removed
is "retention: the second event's object is kept (not expired)" stored \
	"$(cq "SELECT state FROM objects WHERE uuid = '$U2'")"
is "retention: only its file left in the spool" 1 "$(find "$SP/objects" -type f | wc -l)"
fetch csp2 "$A_URL" "$T/ref-removed"
check "a removed object: the same refusal (cmp)" cmp "$T/ref-removed" "$T/ref-unknown"

# ---- metrics ----
MPORT=$(sed -n 's/.*metrics on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/csp.log" | tail -1)
curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/metrics"
check "metrics: served counted" grep -Eq '^li707_csp_files_served_total [1-9]' "$T/metrics"
check "metrics: refusals counted" grep -Eq '^li707_csp_files_refused_total [1-9]' "$T/metrics"
check "metrics: the push after the restart counted" grep -q '^li707_csp_pushes_total{lea="lea1",state="stored"} 1' "$T/metrics"
check "metrics: removals counted" grep -Eq '^li707_csp_objects_removed_total 3' "$T/metrics"

# ---- the audit chain holds the push records ----
kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=
run C audit check
expect_rc "audit check" 0
check "audit: push records with the stored outcome" grep -q '"event":"push".*"outcome":"stored"' "$SP/audit.log"
check "no reference in the daemon's log" bash -c "! grep -q '$LI' '$T/csp.log'"
check "no token in the daemon's log" bash -c "! grep -q '$A_TOK' '$T/csp.log'"

summary
