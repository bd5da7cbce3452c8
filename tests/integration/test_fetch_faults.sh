#!/usr/bin/env bash
# Integration test of the fetch engine (src/common/fetch.c) through `li707 fetch` under
# injected network faults (TS 103 707 Annex E; R-BIN-C1, R-BIN-C2), and of the harness's
# fault-injecting proxy itself (tests/integration/lib/faultproxy.py).
#
# nginx serves the objects (mutual TLS, Range requests; its access log records every request's
# Range header, status and body bytes sent); faultproxy.py sits between `li707 fetch` and
# nginx, forwarding raw bytes (TLS stays end to end) and cutting, resetting, stalling or
# delaying connections. Checked: the object arrives byte for byte (SHA-256) however the
# connections break, every range after a cut starts where the received bytes end (resume),
# range sizes shrink after failures (visible in nginx's log), and the bytes that crossed the
# proxy stay close to the object's size (nothing fetched twice).
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; exit 77 only when a
# required tool is missing. KEEPT=DIR keeps the work directory for a post-mortem.
set -uo pipefail

TOOL=$1
SRC=$2
for t in openssl nginx python3 sha256sum cmp; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is missing"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-fetch-faults-XXXXXX")
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
FP=$(dirname "$0")/lib/faultproxy.py


P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" || { echo "pki.sh failed"; exit 1; }
CLI=(--cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")

W=$T/www
mkdir -p "$W" "$T/dl"
chmod 755 "$T" "$W" # nginx workers may run as another user
SIZE=$((8 * 1024 * 1024 + 4321))
head -c "$SIZE" /dev/urandom >"$W/obj.bin"
SHA=$(sha256sum "$W/obj.bin" | cut -d' ' -f1)
head -c 100000 /dev/urandom >"$W/small.bin"
SMALL_SHA=$(sha256sum "$W/small.bin" | cut -d' ' -f1)

NGX=$(free_port)
nginx_start "$T" "$NGX" "$W" pki="$P" mtls protocols="TLSv1.2 TLSv1.3" \
	log='$uri range=$http_range status=$status sent=$body_bytes_sent' \
	http="default_type application/octet-stream;" \
	http="keepalive_requests 100000;" http="send_timeout 10s;" || exit 1
PIDS+=("$NGINX_PID")

# proxy NAME OPTIONS...: starts faultproxy.py in front of nginx (log $T/NAME.plog), sets PX
# (its port) and PXPID.
proxy() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	python3 "$FP" --target "127.0.0.1:$NGX" --port-file "$T/$name.port" --log "$T/$name.plog" "$@" &
	PXPID=$!
	PIDS+=($PXPID)
	for _ in $(seq 1 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
	PX=$(cat "$T/$name.port" 2>/dev/null)
	[ -n "$PX" ] || { echo "faultproxy $name did not start"; exit 1; }
}
# settle NAME: waits until every connection the proxy accepted has its end line.
settle() {
	for _ in $(seq 1 100); do
		[ "$(grep -c ' open$' "$T/$1.plog")" -eq "$(grep -c ' end=' "$T/$1.plog")" ] && return 0
		sleep 0.05
	done
	return 1
}
# mark: the access log's current length; since: its lines after the last mark.
mark() { MARK=$(wc -l <"$T/access.log"); }
since() { tail -n "+$((MARK + 1))" "$T/access.log"; }
# ends NAME KIND: how many connections ended so (eof, cut, reset, stall, error).
ends() { grep -c " end=$2 " "$T/$1.plog"; }
# down NAME: bytes forwarded from nginx to the client, all connections.
down() { awk '{for(i=1;i<=NF;i++) if($i ~ /^down=/){sub("down=","",$i); s+=$i}} END{print s+0}' "$T/$1.plog"; }
conns() { grep -c ' open$' "$T/$1.plog"; }
# bounded: nothing fetched twice - what crossed the proxy is the object plus, per connection,
# the TLS handshake and at most one partial TLS record lost at a cut (and record overhead),
# plus EXTRA bytes (a reset discards what the client's kernel held unread).
bounded() { # NAME SIZE [EXTRA]
	local d c
	d=$(down "$1")
	c=$(conns "$1")
	[ "$d" -ge "$2" ] && [ "$d" -le $(($2 + $2 / 100 + c * 32768 + ${3:-0})) ] ||
		{ echo "    $1: $d bytes through $c connections for $2" >&2; return 1; }
}
# widths: the sizes of the bounded ranges requested (in order), one per line; ranges asked
# to end at the object's last byte or beyond are left out (their size is the rest's).
widths() {
	since | sed -n 's/.*range=bytes=\([0-9]*\)-\([0-9][0-9]*\) .*/\1 \2/p' |
		awk -v last=$((SIZE - 1)) '$2 < last {print $2 - $1 + 1}'
}
# starts: the first byte of every range requested, in order.
starts() { since | sed -n 's/.*range=bytes=\([0-9]*\)-.*/\1/p'; }

# ---- the proxy itself: transparent, TLS end to end ----------------------------------------
proxy clean
mark
run "$TOOL" fetch "${CLI[@]}" "https://127.0.0.1:$PX/obj.bin" -o "$T/dl/clean" --sha256 "$SHA"
expect_rc "proxy without faults: fetch" 0
check "proxy without faults: byte-identical" cmp -s "$W/obj.bin" "$T/dl/clean"
settle clean
check "proxy without faults: no connection cut" test "$(ends clean cut)" -eq 0
check "proxy without faults: logs bytes per connection" bounded clean "$SIZE"
run "$TOOL" fetch --cacert "$P/ca.pem" "https://127.0.0.1:$PX/obj.bin" -o "$T/dl/nocert"
expect_rc "proxy: TLS end to end: nginx still asks for the client certificate -> 3" 3
run "$TOOL" fetch --cacert "$P/ca2.pem" --cert "$P/csp1.pem" --key "$P/csp1.key" \
	"https://127.0.0.1:$PX/obj.bin" -o "$T/dl/wrongca"
expect_rc "proxy: TLS end to end: nginx's certificate is checked through it -> 3" 3
check "proxy: TLS end to end: a TLS failure" contains "$T/err" "(tls)"
kill "$PXPID"

# A raw client of the proxy: bytes then a clean close (cut) or a connection reset (--reset).
# nginx answers a plain HTTP request on its TLS port with an HTTP 400 of a few hundred bytes.
rawclient() { # PORT: prints "BYTES eof" or "BYTES reset"
	python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
n = 0
try:
    while True:
        d = s.recv(65536)
        if not d:
            print(n, "eof"); break
        n += len(d)
except ConnectionResetError:
    print(n, "reset")
PY
}
proxy rawcut --cut-after 10
is "proxy --cut-after 10: exactly 10 bytes, then a close" "10 eof" "$(rawclient "$PX")"
kill "$PXPID"
proxy rawrst --cut-after 10 --reset
is "proxy --cut-after 10 --reset: exactly 10 bytes, then a TCP RST" "10 reset" "$(rawclient "$PX")"
settle rawrst
check "proxy --reset: logged as reset" contains "$T/rawrst.plog" "conn=1 down=10 .* end=reset"
kill "$PXPID"
proxy rawfirst --cut-after 10 --cut-first 1
a=$(rawclient "$PX")
b=$(rawclient "$PX")
is "proxy --cut-first 1: the first connection cut" "10 eof" "$a"
check "proxy --cut-first 1: the second one whole (nginx's 400 page)" test "${b%% *}" -gt 100
kill "$PXPID"
proxy delay --delay 100
run "$TOOL" fetch "${CLI[@]}" "https://127.0.0.1:$PX/small.bin" -o "$T/dl/delay" --sha256 "$SMALL_SHA"
expect_rc "proxy --delay 100: fetch" 0
settle delay
# The TLS 1.3 handshake and the request cross the proxy at least twice each way.
check "proxy --delay 100: the connection lasted >= 400 ms" \
	awk '/end=/{split($NF, m, "="); if (m[2] < 400) bad=1; n++} END{exit bad || !n}' "$T/delay.plog"
kill "$PXPID"

# ---- every connection cut after 1 MiB from nginx: resume and shrink (R-BIN-C2, Annex E) ----
CUT=1048576
proxy cut --cut-after "$CUT"
mark
run "$TOOL" fetch "${CLI[@]}" "https://127.0.0.1:$PX/obj.bin" -o "$T/dl/cut" --sha256 "$SHA"
expect_rc "test_bin_c2_cut_connections: fetch completes" 0
check "test_bin_c2_cut_connections: byte-identical" cmp -s "$W/obj.bin" "$T/dl/cut"
settle cut
check "test_bin_c2_cut_connections: connections were cut" test "$(ends cut cut)" -ge 3
check "test_bin_c2_cut_connections: nothing fetched twice (bytes through the proxy)" bounded cut "$SIZE"
since >"$T/cut.access"
check "test_bin_c2_cut_connections: first request open-ended" \
	test "$(head -1 "$T/cut.access" | sed 's/.*range=\([^ ]*\) .*/\1/')" = "bytes=0-"
s2=$(starts | sed -n 2p)
check "test_bin_c2_cut_connections: resumed after the cut, not from 0 ($s2)" \
	test "${s2:-0}" -gt 0 -a "${s2:-0}" -le "$CUT"
# Each range starts where the bytes received so far end: starts never go back.
check "test_bin_c2_cut_connections: range starts only move forward" \
	bash -c "starts() { sed -n 's/.*range=bytes=\([0-9]*\)-.*/\1/p' '$T/cut.access'; }; starts | sort -n -c"
widths >"$T/cut.widths"
# The open-ended request failed: the next ones are bounded (16 MiB, at most to the end).
check "test_bin_c2_cut_connections: after the cut, bounded ranges" \
	bash -c "sed -n 2p '$T/cut.access' | grep -q 'range=bytes=[0-9]*-[0-9]'"
check "test_bin_c2_cut_connections: range size shrinks (nginx log)" \
	awk 'NR>1 && $1 < prev {s=1} {prev=$1} END{exit !s}' "$T/cut.widths"
check "test_bin_c2_cut_connections: shrunk below the cut size" \
	awk -v c="$CUT" '$1 < c {s=1} END{exit !s}' "$T/cut.widths"
check "test_bin_c2_cut_connections: cut responses logged short by nginx" \
	grep -q 'status=206 sent=' "$T/cut.access"
check "test_bin_c2_cut_connections: no part file left" test ! -e "$T/dl/cut.part"
kill "$PXPID"

# ---- with --chunk-size: halving from the configured size, then growing back --------------
proxy chunk --cut-after $((1536 * 1024))
mark
run "$TOOL" fetch "${CLI[@]}" --chunk-size 4M "https://127.0.0.1:$PX/obj.bin" -o "$T/dl/chunk" --sha256 "$SHA"
expect_rc "test_bin_c2_chunk_shrink_grow: fetch completes" 0
check "test_bin_c2_chunk_shrink_grow: byte-identical" cmp -s "$W/obj.bin" "$T/dl/chunk"
widths >"$T/chunk.widths"
check "test_bin_c2_chunk_shrink_grow: starts at 4 MiB" test "$(head -1 "$T/chunk.widths")" -eq $((4 << 20))
check "test_bin_c2_chunk_shrink_grow: 4 MiB, 2 MiB, 1 MiB after failures" \
	bash -c "head -3 '$T/chunk.widths' | tr '\n' ' ' | grep -qx '4194304 2097152 1048576 '"
check "test_bin_c2_chunk_shrink_grow: grows again after a success" \
	awk 'NR>1 && $1 > prev {g=1} {prev=$1} END{exit !g}' "$T/chunk.widths"
settle chunk
check "test_bin_c2_chunk_shrink_grow: nothing fetched twice" bounded chunk "$SIZE"
kill "$PXPID"

# ---- the first three connections reset (RST) mid-range ------------------------------------
proxy rst --cut-after 700000 --cut-first 3 --reset
mark
run "$TOOL" fetch "${CLI[@]}" "https://127.0.0.1:$PX/obj.bin" -o "$T/dl/rst" --sha256 "$SHA"
expect_rc "test_bin_c2_reset_connections: fetch completes" 0
check "test_bin_c2_reset_connections: byte-identical" cmp -s "$W/obj.bin" "$T/dl/rst"
settle rst
is "test_bin_c2_reset_connections: three connections reset" 3 "$(ends rst reset)"
check "test_bin_c2_reset_connections: later connections end normally" test "$(ends rst eof)" -ge 1
# A TCP RST makes the client's kernel drop what it had received and not yet handed over:
# those bytes (up to 700000 per reset) never reached li707 and are fetched again.
check "test_bin_c2_reset_connections: nothing received fetched twice" bounded rst "$SIZE" $((3 * 700000))
s2=$(starts | sed -n 2p)
check "test_bin_c2_reset_connections: resumed after the reset ($s2)" test "${s2:-0}" -gt 0
kill "$PXPID"

# ---- a connection that stalls mid-range: timeout, resume on a new connection -------------
proxy stall --stall-after 2000000 --cut-first 1
mark
run "$TOOL" fetch "${CLI[@]}" --timeout 3 "https://127.0.0.1:$PX/obj.bin" -o "$T/dl/stall" --sha256 "$SHA"
expect_rc "test_bin_c2_stalled_connection: fetch completes" 0
check "test_bin_c2_stalled_connection: byte-identical" cmp -s "$W/obj.bin" "$T/dl/stall"
settle stall
check "test_bin_c2_stalled_connection: the first connection stalled" \
	contains "$T/stall.plog" "conn=1 down=2000000 .* end=stall"
s2=$(starts | sed -n 2p)
check "test_bin_c2_stalled_connection: resumed after the stall ($s2)" \
	test "${s2:-0}" -gt 0 -a "${s2:-0}" -le 2000000
check "test_bin_c2_stalled_connection: nothing fetched twice" bounded stall "$SIZE"
kill "$PXPID"

# ---- every connection cut after 200 kB: small ranges get through ------------------------
proxy tiny --cut-after 200000
mark
run "$TOOL" fetch "${CLI[@]}" --chunk-size 64K "https://127.0.0.1:$PX/obj.bin" -o "$T/dl/tiny"
# 64 KiB ranges fit under the cut: it completes, each connection carrying a few of them.
expect_rc "test_bin_c2_small_ranges_under_cuts: fetch completes" 0
check "test_bin_c2_small_ranges_under_cuts: byte-identical" cmp -s "$W/obj.bin" "$T/dl/tiny"
settle tiny
check "test_bin_c2_small_ranges_under_cuts: many connections cut" test "$(ends tiny cut)" -ge 10
check "test_bin_c2_small_ranges_under_cuts: nothing fetched twice" bounded tiny "$SIZE"
kill "$PXPID"

summary
