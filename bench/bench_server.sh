#!/usr/bin/env bash
# Transport benchmark of the HTTPS server (src/common/http_server*.c) against nginx: loopback,
# same machine, same run. Usage: bench/bench_server.sh BUILD OUTDIR
# Environment: ROUNDS (rounds per figure, default 5).
#
# What is compared, exactly:
#  - Client: curl (libcurl 7.88, OpenSSL 3.0), the same command line for both servers: TLS 1.3
#    with the suite pinned to TLS_AES_256_GCM_SHA384 (curl's first choice anyway; pinned so a
#    server cannot win by picking a cheaper cipher), the csp1 client certificate, body to
#    /dev/null.
#  - Ours: tests/helpers/li707_test_server (libmicrohttpd 0.9.75 + GnuTLS), mutual TLS (chain
#    verified against the test CA, then the allow-list), files served by lx_http_respond_file.
#  - nginx (Debian package): mutual TLS too (ssl_verify_client on, same CA), one worker, default
#    TLS buffers (ssl_buffer_size 16k); `sendfile on` has no effect under TLS, so nginx reads the
#    file and encrypts in user space as we do. Same files, same page cache.
#  - Method: every file is read once before (page cache warm: no disk read in any figure). Then
#    ROUNDS rounds, each one measuring ours and the baseline back to back, the order swapped
#    every round. A figure is the median of its runs; the ratio is the median of the per-round
#    ratios (the machine is shared: pairing cancels slow phases); the per-round ratios are
#    printed, min..max is the spread.
#
# Figures appended to OUTDIR/results.tsv (name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio):
#   server_get_2g_mtls        2 GiB GET, MB/s; baseline: nginx, same file. Target ratio >= 1.1.
#   server_peak_rss_get_2g    VmHWM of our server after the GET rounds, MiB; baseline: the
#                             64 MiB budget (ratio <= 1 is within it).
#   server_upload_1g          1 GiB POST (Expect: 100-continue, Content-Length) streamed by curl
#                             from a page-cached file into the Model B path of the test server:
#                             lx_http_body_to_fd into DIR/UUID.part (256 KiB writes into the
#                             page cache), rename at END. No fsync: the test server has none,
#                             durability is the daemon's handler's (at END). MB/s; baseline:
#                             nginx GET of a 1 GiB file in the same round (the issue's "nginx
#                             download figure"). Target ratio >= 1.0. One untimed upload runs
#                             first: on this VM the first write of 1 GiB into page-cache pages
#                             that were free for a while costs about twice the CPU (the host
#                             backs them again); later uploads reuse freed pages, as a daemon
#                             receiving uploads does.
#   server_post_2k_rate_noclientcert  2 KB POSTs/s with keep-alive, wrk -t2 -c16 5 s, on a
#                             listener WITHOUT client certificates (wrk cannot present one);
#                             baseline: nginx static 200 (`return 200`), one 5 s run each.
set -uo pipefail
BUILD=${1:?BUILD}
OUT=${2:?OUTDIR}
ROUNDS=${ROUNDS:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/integration/lib/nginx.sh"
SRV=$BUILD/tests/li707_test_server
for t in curl nginx wrk openssl python3; do command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }; done
mkdir -p "$OUT"
T=$(mktemp -d /tmp/li707-bench-server-XXXXXX)
chmod 755 "$T"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null
chmod 644 "$P"/*.pem "$P"/server.key
mkdir -p "$T/root" "$T/up"
chmod 755 "$T/root"
fallocate -l 2G "$T/root/big.bin" 2>/dev/null || truncate -s 2G "$T/root/big.bin"
fallocate -l 1G "$T/root/big1g.bin" 2>/dev/null || truncate -s 1G "$T/root/big1g.bin"
chmod 644 "$T/root/"*.bin
truncate -s 1G "$T/up.src"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT/results.tsv"; echo "$*"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

"$SRV" --cert "$P/server.pem" --key "$P/server.key" --cacert "$P/ca.pem" --allow csp1.test \
	--listen 127.0.0.1:0 --root "$T/root" --upload-dir "$T/up" --max-body $((2 << 30)) >"$T/s.out" 2>/dev/null &
SP=$!; PIDS+=($SP)
"$SRV" --cert "$P/server.pem" --key "$P/server.key" --cacert "$P/ca.pem" --no-client-cert \
	--listen 127.0.0.1:0 >"$T/s2.out" 2>/dev/null &
PIDS+=($!)
sleep 0.5
PORT=$(awk '$2=="cert"{print $3}' "$T/s.out")
PORT2=$(awk '$2=="cert"{print $3}' "$T/s2.out")
NPORT=$(freeport)
NPORT2=$(freeport)
nginx_start "$T" "$NPORT" "$T/root" pki="$P" mtls protocols=TLSv1.3 \
	http="sendfile on;" http="keepalive_requests 1000000;" \
	http="server { listen 127.0.0.1:$NPORT2 ssl; ssl_protocols TLSv1.3;
		ssl_certificate $P/server.pem; ssl_certificate_key $P/server.key;
		location = /ok { return 200 \"ok\\n\"; } }"
PIDS+=("$NGINX_PID")
C=(curl -sS --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384 --cacert "$P/ca.pem"
	--cert "$P/csp1.pem" --key "$P/csp1.key")
cat "$T/root/"*.bin "$T/up.src" >/dev/null
get() { "${C[@]}" -o /dev/null -w '%{speed_download}' "https://127.0.0.1:$1/$2"; }
up() {
	# curl -T appends the file name to a URL ending in '/', and --data-binary @ loads the file
	# into memory: stream stdin with an explicit Content-Length instead.
	"${C[@]}" -H 'Expect: 100-continue' -H "Content-Length: $((1 << 30))" -H "Transfer-Encoding:" \
		-X POST -T - -o /dev/null -w '%{speed_upload}' \
		"https://127.0.0.1:$PORT/binaryData/123e4567-e89b-12d3-a456-426614174000/" <"$T/up.src"
	rm -f "$T/up/"*
}
# rounds NAME OURS_CMD BASE_CMD: ROUNDS paired runs (order swapped every round), printed; sets
# MED_O MED_B (medians, MB/s) and RATIO (median of the per-round ratios).
rounds() {
	local o=() b=() x y
	for r in $(seq 1 "$ROUNDS"); do
		if [ $((r % 2)) -eq 1 ]; then x=$($2); y=$($3); else y=$($3); x=$($2); fi
		o+=("$x") b+=("$y")
	done
	python3 - "$1" "${o[*]}" "${b[*]}" >"$T/rounds" <<'PY'
import sys, statistics as st
o = [float(v) / 1e6 for v in sys.argv[2].split()]
b = [float(v) / 1e6 for v in sys.argv[3].split()]
r = [x / y for x, y in zip(o, b)]
print(round(st.median(o), 1), round(st.median(b), 1), round(st.median(r), 2))
print("%s MB/s, ours: %s / baseline: %s / ratio per round: %s (median %.2f, spread %.2f..%.2f)" % (
    sys.argv[1], " ".join("%.0f" % v for v in o), " ".join("%.0f" % v for v in b),
    " ".join("%.2f" % v for v in r), st.median(r), min(r), max(r)))
PY
	read -r MED_O MED_B RATIO <"$T/rounds"
	tail -n 1 "$T/rounds"
}

rounds server_get_2g_mtls "get $PORT big.bin" "get $NPORT big.bin"
row server_get_2g_mtls "$MED_O" MB/s "$MED_B" "$RATIO"
rss=$(awk '/VmHWM/{printf "%.1f", $2/1024}' /proc/$SP/status)
row server_peak_rss_get_2g "$rss" MiB 64 "$(python3 -c "print(round($rss/64,2))")"
rm -f "$T/root/big.bin"
up >/dev/null # warm-up, untimed (see the header)
rounds server_upload_1g "up" "get $NPORT big1g.bin"
row server_upload_1g "$MED_O" MB/s "$MED_B" "$RATIO"
rm -f "$T/up.src" "$T/root/big1g.bin"
cat >"$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 2000)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
r1=$(wrk -t2 -c16 -d5s -s "$T/post.lua" "https://127.0.0.1:$PORT2/sink" | awk '/Requests\/sec/{print $2}')
r2=$(wrk -t2 -c16 -d5s "https://127.0.0.1:$NPORT2/ok" | awk '/Requests\/sec/{print $2}')
row server_post_2k_rate_noclientcert "$r1" req/s "$r2" "$(python3 -c "print(round($r1/$r2,2))")"
