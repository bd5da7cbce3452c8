#!/usr/bin/env bash
# Integration test of li707-lea's own Model A/C retrieval (TS 103 707 Annex C.2, C.4, Annex E;
# R-BIN-C1, R-BIN-C2; issue 12) under injected network faults.
#
# nginx (mutual TLS, Range requests; no li707 code on the serving side) hosts the objects that
# deliveries from csp1 announce; tests/integration/lib/faultproxy.py sits between the daemon
# and nginx and cuts connections mid-range. Checked: the daemon finishes every object and
# stores it byte for byte (SHA-256 of the stored file); ranges after a cut resume where the
# received bytes end and shrink (nginx's access log); the bytes that crossed the proxy stay
# close to the objects' size (nothing fetched twice); a kill -9 mid-download and a restart
# fetch none of the bytes the store had recorded as verified again; TCP resets mid-range are
# survived the same way.
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; exit 77 when
# something it needs is missing, or when li707-lea has no retrieval yet (no fetch-status).
# KEEPT=DIR keeps the work directory (logs, store) for a post-mortem.
set -uo pipefail

TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
for t in openssl nginx python3 sha256sum jq; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }
if ! "$LEA" --help 2>&1 | grep -q 'fetch-status'; then
	echo "SKIP: li707-lea has no Model A/C retrieval yet (no fetch-status in --help; issue 12)"
	exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-fetch-faults-XXXXXX")
PIDS=()
LPID=
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
FP=$(dirname "$0")/lib/faultproxy.py


P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" || { echo "pki.sh failed"; exit 1; }
ST=$T/store
W=$T/www
mkdir -p "$W/obj" "$T/src"
chmod 755 "$T" "$W" "$W/obj"

# ---- objects --------------------------------------------------------------------------
BIG=$((8 * 1024 * 1024 + 777))
head -c "$BIG" /dev/urandom >"$T/src/big.bin"
head -c 150000 /dev/urandom >"$T/src/small.bin"
head -c "$BIG" /dev/urandom >"$T/src/big2.bin"
MID=$((4 * 1024 * 1024 + 99))
head -c "$MID" /dev/urandom >"$T/src/mid.bin"

# ---- nginx: mutual TLS, ranges; /slow/ the same files at 2 MB/s -------------------------
NGX=$(free_port)
nginx_start "$T" "$NGX" "$W" pki="$P" mtls protocols="TLSv1.2 TLSv1.3" \
	log='$uri range=$http_range status=$status sent=$body_bytes_sent' \
	http="default_type application/octet-stream;" \
	http="keepalive_requests 100000;" http="send_timeout 10s;" \
	server="location /slow/ { alias $W/; limit_rate 2m; }" || exit 1
PIDS+=("$NGINX_PID")

# ---- the proxy ----------------------------------------------------------------------------
PXPID=
proxy() { # NAME OPTIONS...: faultproxy.py in front of nginx, log $T/NAME.plog; sets PX
	local name=$1
	shift
	[ -n "$PXPID" ] && kill "$PXPID" 2>/dev/null
	python3 "$FP" --target "127.0.0.1:$NGX" --port-file "$T/$name.port" --log "$T/$name.plog" "$@" &
	PXPID=$!
	PIDS+=($PXPID)
	for _ in $(seq 1 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
	PX=$(cat "$T/$name.port" 2>/dev/null)
	[ -n "$PX" ] || { echo "faultproxy $name did not start"; exit 1; }
}
settle() {
	for _ in $(seq 1 100); do
		[ "$(grep -c ' open$' "$T/$1.plog")" -eq "$(grep -c ' end=' "$T/$1.plog")" ] && return 0
		sleep 0.05
	done
	return 1
}
ends() { grep -c " end=$2 " "$T/$1.plog"; }
down() { awk '{for(i=1;i<=NF;i++) if($i ~ /^down=/){sub("down=","",$i); s+=$i}} END{print s+0}' "$T/$1.plog"; }
conns() { grep -c ' open$' "$T/$1.plog"; }
# bounded NAME SIZE: nothing fetched twice - what crossed the proxy is SIZE plus, per
# connection, the TLS handshake and at most one partial TLS record lost at a cut.
bounded() {
	local d c
	d=$(down "$1")
	c=$(conns "$1")
	[ "$d" -ge "$2" ] && [ "$d" -le $(($2 + $2 / 100 + c * 32768 + ${3:-0})) ] ||
		{ echo "    $1: $d bytes through $c connections for $2" >&2; return 1; }
}

# ---- the daemon -------------------------------------------------------------------------
# write_conf PARALLEL: csp1 may deliver FETCH-*; A and C agreed, objects above 1M by Model C.
write_conf() {
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
client_cert = $P/csp2.pem
client_key = $P/csp2.key

[peer csp1]
san = csp1.test
references = FETCH-1, FETCH-2, FETCH-3
models = A, C
fetch_ca = $P/ca.pem
model_c_above = 1M
fetch_range = 1M
fetch_range_max = 4M
fetch_parallel = $1
fetch_backoff = 1
fetch_backoff_max = 2
EOF
}
start_lea() { # NAME
	LOG=$T/$1.log
	lea_start "$T/lea.conf" "$LOG"
}
stop_lea() { # SIGTERM: exit 0, and nothing from the sanitizers in an ASan build
	kill -TERM "$LPID"
	wait "$LPID"
	is "li707-lea $(basename "$LOG" .log): SIGTERM -> 0" 0 "$?"
	check "li707-lea $(basename "$LOG" .log): no sanitizer report" not_contains "$LOG" "Sanitizer\|runtime error"
	LPID=
}

# deliver NAME REF URL-PREFIX FILE...: builds one DELIVER of REF announcing FILEs (in $T/src)
# at URL-PREFIX/{uuid}, publishes each under $W/obj/UUID, and sends it as csp1.
deliver() {
	local n=$1 ref=$2 prefix=$3 atts="" f
	shift 3
	for f in "$@"; do
		atts="$atts${atts:+, }{\"path\": \"$f\", \"content_type\": \"application/octet-stream\", \"model\": \"C\"}"
	done
	printf '{"liid": "%s", "timestamp": "2026-03-01T10:00:00Z", "sender": {"ids": ["alice"], "target": true}, "attachments": [%s]}\n' \
		"$ref" "$atts" | "$TOOL" build --base-dir "$T/src" --csp-url-scheme "$prefix/{uuid}" >"$T/$n.xml" 2>/dev/null ||
		{ echo "build $n failed"; exit 1; }
	python3 - "$T/$n.xml" "$T/src" "$W/obj" <<'PY' || { echo "publish $n failed"; exit 1; }
import hashlib, os, re, sys
xml, src, dst = sys.argv[1:4]
by_sha = {}
for f in os.listdir(src):
    by_sha[hashlib.sha256(open(os.path.join(src, f), "rb").read()).hexdigest()] = f
for b in re.findall(r"<binaryObject>(.*?)</binaryObject>", open(xml).read(), re.S):
    url = re.search(r"<url>([^<]*)</url>", b).group(1)
    sha = re.search(r"<checksum>([0-9a-f]{64})</checksum>", b).group(1)
    os.link(os.path.join(src, by_sha[sha]), os.path.join(dst, url.rsplit("/", 1)[1]))
    with open(os.path.join(os.path.dirname(xml), "urls"), "a") as u:
        u.write("%s %s\n" % (by_sha[sha], url.rsplit("/", 1)[1]))
PY
	run "$TOOL" send --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key" \
		"https://127.0.0.1:$PORT/hi1" "$T/$n.xml"
}
uuid_of() { awk -v f="$1" '$1 == f {print $2}' "$T/urls" | tail -1; }
# count REF STATE: the reference's attachments in STATE (li707-lea status --json).
count() {
	"$LEA" status --store "$ST" --ref "$1" --json 2>/dev/null |
		jq -r --arg s "$2" '.references[0].attachments[$s] // 0'
}
# wait_complete REF N SECONDS: until N attachments of REF are complete (or one mismatches).
wait_complete() {
	local i
	for i in $(seq 1 $(($3 * 5))); do
		[ "$(count "$1" complete)" -ge "$2" ] && return 0
		[ "$(count "$1" mismatch)" -gt 0 ] && return 1
		sleep 0.2
	done
	return 1
}
# stored FILE: the store holds a complete copy of $T/src/FILE (byte for byte: SHA-256).
stored() {
	local want
	want=$(sha256sum "$T/src/$1" | cut -d' ' -f1)
	find "$ST/content" -type f -name 'fetch-*' -exec sha256sum {} + >"$T/stored.sums"
	grep -q "^$want " "$T/stored.sums"
}
# ranges UUID: "START END" of every range requested for the object (END -1: open-ended).
ranges() {
	grep "^/\(slow/\)\?obj/$1 " "$T/access.log" |
		sed -n 's/.* range=bytes=\([0-9]*\)-\([0-9]*\) .*/\1 \2/p' | awk '{print $1, ($2 == "" ? -1 : $2)}'
}
# resumed_mid FILE (of ranges): a range an interrupted one left continues where its received
# bytes end: some range starts off the 64 KiB grid every planned range starts on.
resumed_mid() { awk '$1 % 65536 {r=1} END{exit !r}' "$1"; }

# ---- cut mid-range: resume and shrink, byte for byte ------------------------------------
# Every connection is cut after 1.5 MB from nginx: 1 MiB ranges (fetch_range) pass one or two
# per connection, larger ones never; the 8 MiB object (Model C, 2 ranges in parallel) and the
# 150 kB one (Model A) must both complete.
proxy cut --cut-after 1500000
write_conf 2
start_lea cut
deliver d1 FETCH-1 "https://127.0.0.1:$PX/obj" big.bin small.bin
expect_rc "delivery announcing a Model C and a Model A object" 0
check "test_bin_c2_lea_cut: both objects complete" wait_complete FETCH-1 2 120
check "test_bin_c2_lea_cut: no mismatch" test "$(count FETCH-1 mismatch)" -eq 0
check "test_bin_c2_lea_cut: Model C object stored byte for byte" stored big.bin
check "test_bin_c2_lea_cut: Model A object stored byte for byte" stored small.bin
settle cut
check "test_bin_c2_lea_cut: connections were cut" test "$(ends cut cut)" -ge 3
check "test_bin_c2_lea_cut: nothing fetched twice (bytes through the proxy)" \
	bounded cut $((BIG + 150000))
U=$(uuid_of big.bin)
ranges "$U" >"$T/cut.ranges"
check "test_bin_c2_lea_cut: Model C by Range requests" test -s "$T/cut.ranges"
check "test_bin_c2_lea_cut: first range of fetch_range (1 MiB)" \
	test "$(head -1 "$T/cut.ranges")" = "0 1048575"
check "test_bin_c2_lea_cut: resumed mid-range after a cut" resumed_mid "$T/cut.ranges"
check "test_bin_c2_lea_cut: ranges grew beyond 1 MiB after successes" \
	awk '$2 >= 0 && $2 - $1 + 1 > 1048576 {g=1} END{exit !g}' "$T/cut.ranges"
# (ranges ending at the object's last byte are left out: their size is the rest's)
check "test_bin_c2_lea_cut: and shrank after failures" \
	awk -v last=$((BIG - 1)) '$2 >= 0 && $2 < last {w=$2-$1+1; if (n++ && w < prev) s=1; prev=w}
		END{exit !s}' "$T/cut.ranges"
check "test_bin_c2_lea_cut: no open-ended request for Model C" not_contains "$T/cut.ranges" " -1$"
check "test_bin_c2_lea_cut: the log names no reference (R-SEC-6)" not_contains "$LOG" "FETCH-1"
stop_lea

# ---- kill -9 mid-download, restart: verified ranges are not fetched again ---------------
# One range at a time through /slow/ (2 MB/s), 1 MiB ranges (range_max 1M): the store
# records a prefix of the object as verified; after the restart no request starts below it.
proxy slow
write_conf 1
sed -i 's/^fetch_range_max = .*/fetch_range_max = 1M/' "$T/lea.conf"
start_lea slow
deliver d2 FETCH-2 "https://127.0.0.1:$PX/slow/obj" big2.bin
expect_rc "delivery announcing a second Model C object" 0
U2=$(uuid_of big2.bin)
for _ in $(seq 1 300); do
	[ "$(ranges "$U2" | wc -l)" -ge 3 ] && break
	sleep 0.1
done
kill -9 "$LPID"
wait "$LPID" 2>/dev/null
LPID=
check "test_bin_c2_lea_kill9: killed mid-download" test "$(count FETCH-2 complete)" -eq 0
run "$LEA" fetch-status --store "$ST" --json
expect_rc "fetch-status --json after kill -9" 0
cp "$T/out" "$T/fetch-status.json"
# Bytes the store holds as verified for the object (the only one queued).
check "test_bin_c2_lea_kill9: one retrieval left in the queue" \
	test "$(jq '.queue | length' "$T/fetch-status.json")" = 1
HELD=$(jq -r '.queue[0].verified_bytes // 0' "$T/fetch-status.json" 2>/dev/null)
HELD=${HELD:-0}
check "test_bin_c2_lea_kill9: verified bytes recorded before the kill ($HELD)" test "$HELD" -ge 1048576
before=$(ranges "$U2" | wc -l)
start_lea restart
check "test_bin_c2_lea_kill9: complete after the restart" wait_complete FETCH-2 1 120
check "test_bin_c2_lea_kill9: stored byte for byte" stored big2.bin
ranges "$U2" | tail -n "+$((before + 1))" >"$T/restart.ranges"
check "test_bin_c2_lea_kill9: fetched on after the restart" test -s "$T/restart.ranges"
check "test_bin_c2_lea_kill9: no verified byte fetched again (every start >= $HELD)" \
	awk -v h="$HELD" '$1 < h {bad=1} END{exit bad}' "$T/restart.ranges"
stop_lea

# ---- connections reset (TCP RST) mid-range ------------------------------------------------
# The first four connections are reset after 600 kB from nginx.
proxy rst --cut-after 600000 --cut-first 4 --reset
write_conf 2
start_lea rst
deliver d3 FETCH-3 "https://127.0.0.1:$PX/obj" mid.bin
expect_rc "delivery announcing a third Model C object" 0
check "test_bin_c2_lea_reset: complete" wait_complete FETCH-3 1 120
check "test_bin_c2_lea_reset: stored byte for byte" stored mid.bin
settle rst
is "test_bin_c2_lea_reset: four connections reset" 4 "$(ends rst reset)"
# A RST makes the daemon's kernel drop what it held unread (up to 600 kB per reset): those
# bytes never reached the daemon and are fetched again; nothing it received is.
check "test_bin_c2_lea_reset: nothing received fetched twice" bounded rst "$MID" $((4 * 600000))
U3=$(uuid_of mid.bin)
ranges "$U3" >"$T/rst.ranges"
check "test_bin_c2_lea_reset: resumed mid-range after a reset" resumed_mid "$T/rst.ranges"
stop_lea

summary
