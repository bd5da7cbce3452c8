#!/usr/bin/env bash
# Client benchmarks (src/common/http_client.c), each against curl on the same nginx in the
# same run. usage: bench/bench_client.sh BUILD OUTDIR
# Appends name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio lines to OUTDIR/results.tsv:
#   client_post_2k_rate   2 KB POSTs/s, keep-alive, client certificates, K connections
#                         (bench_client) vs curl --parallel --parallel-max K
#   client_fetch_1g       MB/s of `li707 fetch` of 1 GiB vs `curl -o`
# Environment: N (POSTs per run, default 20000), K (connections, default 4).
set -euo pipefail
BUILD=$(cd "$1" && pwd)
OUT=$2
N=${N:-20000}
K=${K:-4}
mkdir -p "$OUT"
for t in openssl nginx curl python3; do
	command -v "$t" >/dev/null || { echo "bench_client: $t missing" >&2; exit 77; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/li707-bench-client-XXXXXX")
NGPID=
trap '[ -n "$NGPID" ] && kill "$NGPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
chmod 755 "$T"

P=$T/pki
mkdir -p "$P" "$T/www" "$T/ntmp"
chmod 755 "$T/www"
(
	cd "$P"
	ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=keyCertSign,cRLSign"
	openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost"
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n') -out server.pem
	openssl req "${ec[@]}" -keyout client.key -out client.csr -subj "/CN=bench client"
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile <(printf 'extendedKeyUsage=clientAuth\n') -out client.pem
) >"$T/pki.log" 2>&1
truncate -s 1G "$T/www/big.bin"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $T/nginx.pid;
error_log $T/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $T/ntmp/body;
	proxy_temp_path $T/ntmp/proxy;
	fastcgi_temp_path $T/ntmp/fastcgi;
	uwsgi_temp_path $T/ntmp/uwsgi;
	scgi_temp_path $T/ntmp/scgi;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$PORT ssl;
		ssl_certificate $P/server.pem;
		ssl_certificate_key $P/server.key;
		ssl_client_certificate $P/ca.pem;
		ssl_verify_client on;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $T/www;
		location = /bench { return 200 "ok"; }
	}
}
CONF
nginx -c "$T/nginx.conf" -p "$T" &
NGPID=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
U=https://127.0.0.1:$PORT
TLS=(--cacert "$P/ca.pem" --cert "$P/client.pem" --key "$P/client.key")
now() { date +%s.%N; }
emit() { # name value unit baseline
	local ratio
	ratio=$(python3 -c "print('%.2f' % ($2 / $4) if $4 else 'n/a')")
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$ratio" | tee -a "$OUT/results.tsv"
}

# ---- 2 KB POST rate ---------------------------------------------------------------------
head -c 2048 /dev/zero | tr '\0' x >"$T/body"
ours=$("$BUILD/bench/bench_client" "$U/bench" "$N" "$K" "$P/client.pem" "$P/client.key" "$P/ca.pem" | cut -d' ' -f1)
{
	echo "data-binary = \"@$T/body\""
	echo 'header = "Content-Type: application/xml"'
	echo 'header = "Expect:"'
	for _ in $(seq 1 "$N"); do echo "url = \"$U/bench\""; done
} >"$T/curl.cfg"
t0=$(now)
curl -s --no-progress-meter --parallel --parallel-max "$K" "${TLS[@]}" -K "$T/curl.cfg" >/dev/null
t1=$(now)
base=$(python3 -c "print('%.1f' % ($N / ($t1 - $t0)))")
emit client_post_2k_rate "$ours" req/s "$base"

# ---- 1 GiB GET ----------------------------------------------------------------------------
# Two alternating rounds, best of each: writing 1 GiB makes the page cache's writeback
# throttle whoever comes next. li707 fetch also fsyncs the file (it must; curl does not).
SIZE=$((1 << 30))
best_ours=999999
best_curl=999999
for _ in 1 2; do
	t0=$(now)
	curl -s "${TLS[@]}" "$U/big.bin" -o "$T/dl-curl"
	t1=$(now)
	rm -f "$T/dl-curl"
	best_curl=$(python3 -c "print(min($best_curl, $t1 - $t0))")
	t0=$(now)
	"$BUILD/li707" fetch "${TLS[@]}" "$U/big.bin" -o "$T/dl-ours" >/dev/null 2>&1
	t1=$(now)
	[ "$(stat -c %s "$T/dl-ours")" -eq "$SIZE" ] || { echo "bench_client: li707 fetch incomplete" >&2; exit 1; }
	rm -f "$T/dl-ours"
	best_ours=$(python3 -c "print(min($best_ours, $t1 - $t0))")
done
ours=$(python3 -c "print('%.1f' % ($SIZE / 1e6 / $best_ours))")
base=$(python3 -c "print('%.1f' % ($SIZE / 1e6 / $best_curl))")
emit client_fetch_1g "$ours" MB/s "$base"
