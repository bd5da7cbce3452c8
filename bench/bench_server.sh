#!/usr/bin/env bash
# Transport benchmark of the HTTPS server (src/common/http_server.c) against nginx.
# Usage: bench/bench_server.sh BUILD OUTDIR
# Appends name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio lines to OUTDIR/results.tsv:
#   server_get_2g_mtls     2 GiB GET, TLS 1.3 + mutual TLS, curl -o /dev/null, best of 2
#                          alternating runs after a page-cache warm-up; baseline nginx
#                          (same file, same run, TLS 1.3, no client cert: nginx's mTLS would
#                          not change the bulk cost); target ratio >= 1.1
#   server_upload_1g       1 GiB POST streamed to disk (Model B path); baseline: nginx download
#   server_post_2k_rate    2 KB POSTs/s with keep-alive, wrk, on a listener WITHOUT client
#                          certificates (wrk cannot present one); baseline nginx static 200
#   server_peak_rss_get_2g peak RSS of our server during the 2 GiB GET (MiB, target <= 64)
set -uo pipefail
BUILD=${1:?BUILD}
OUT=${2:?OUTDIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
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
chmod 644 "$T/root/big.bin"
head -c 2000 /dev/urandom >"$T/post.bin"
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
cat >"$T/nginx.conf" <<NG
daemon off; worker_processes 1; pid $T/nginx.pid; error_log $T/nginx.err;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $T/cb; proxy_temp_path $T/px; fastcgi_temp_path $T/fc;
  uwsgi_temp_path $T/uw; scgi_temp_path $T/sc; sendfile on; keepalive_requests 1000000;
  server { listen 127.0.0.1:$NPORT ssl; ssl_protocols TLSv1.3; ssl_certificate $P/server.pem;
    ssl_certificate_key $P/server.key; root $T/root; location = /ok { return 200 "ok\n"; } } }
NG
nginx -c "$T/nginx.conf" -e "$T/nginx.err" &
PIDS+=($!)
sleep 0.5
C=(curl -sS --tlsv1.3 --cacert "$P/ca.pem")
mbs() { python3 -c "print(round($1/1e6,1))"; }
# RSS sampler for our server during the GET.
( peak=0; while kill -0 $SP 2>/dev/null; do r=$(awk '/VmHWM/{print $2}' /proc/$SP/status); [ "${r:-0}" -gt $peak ] && peak=$r; echo $peak >"$T/rss"; sleep 0.2; done ) &
RS=$!
# Warm the page cache first, then alternate ours/nginx twice and keep the best of each: the
# machine is shared and the first reader of a file would otherwise pay for the page cache.
cat "$T/root/big.bin" >/dev/null
best() { python3 -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "$@"; }
o=() n=()
for _ in 1 2; do
	o+=("$("${C[@]}" --cert "$P/csp1.pem" --key "$P/csp1.key" -o /dev/null -w '%{speed_download}' "https://127.0.0.1:$PORT/big.bin")")
	n+=("$("${C[@]}" -o /dev/null -w '%{speed_download}' "https://127.0.0.1:$NPORT/big.bin")")
done
ours=$(best "${o[@]}")
ngx=$(best "${n[@]}")
echo "GET runs: ours ${o[*]} nginx ${n[*]}"
rss=$(awk '{printf "%.1f", $1/1024}' "$T/rss")
kill $RS 2>/dev/null
row server_get_2g_mtls "$(mbs "$ours")" MB/s "$(mbs "$ngx")" "$(python3 -c "print(round($ours/$ngx,2))")"
row server_peak_rss_get_2g "$rss" MiB 64 "$(python3 -c "print(round($rss/64,2))")"
rm -f "$T/root/big.bin"
truncate -s 1G "$T/up.src"
# curl -T appends the file name to a URL ending in '/', and --data-binary @ loads the file into
# memory: stream stdin with an explicit Content-Length instead.
up=$("${C[@]}" --cert "$P/csp1.pem" --key "$P/csp1.key" -H 'Expect: 100-continue' \
	-H "Content-Length: $((1 << 30))" -H "Transfer-Encoding:" -X POST -T - \
	-o /dev/null -w '%{speed_upload}' "https://127.0.0.1:$PORT/binaryData/123e4567-e89b-12d3-a456-426614174000/" <"$T/up.src")
rm -f "$T/up.src" "$T/up/"*
row server_upload_1g "$(mbs "$up")" MB/s "$(mbs "$ngx")" "$(python3 -c "print(round($up/$ngx,2))")"
cat >"$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 2000)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
r1=$(wrk -t2 -c16 -d5s -s "$T/post.lua" "https://127.0.0.1:$PORT2/sink" | awk '/Requests\/sec/{print $2}')
r2=$(wrk -t2 -c16 -d5s "https://127.0.0.1:$NPORT/ok" | awk '/Requests\/sec/{print $2}')
row server_post_2k_rate_noclientcert "$r1" req/s "$r2" "$(python3 -c "print(round($r1/$r2,2))")"
