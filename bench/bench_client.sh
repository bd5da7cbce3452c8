#!/usr/bin/env bash
# Client benchmarks (src/common/http_client.c, src/tools/cmd_fetch.c), each against curl on
# the same nginx in the same run. usage: bench/bench_client.sh BUILD OUTDIR
# Environment: N (POSTs per run, default 20000), K (connections, default 4), ROUNDS (fetch
# rounds, default 5).
#
# What is compared, exactly: one nginx (Debian package, 2 workers) with mutual TLS (TLS 1.2
# and 1.3, ssl_verify_client on), the ECDSA P-256 test PKI of scripts/pki.sh, loopback; every client
# presents the same client certificate and negotiates TLS 1.3 (TLS_AES_256_GCM_SHA384, the
# first choice of both OpenSSL clients).
# Appends name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio lines to OUTDIR/results.tsv:
#   client_post_2k_rate   2 KB POSTs/s, keep-alive, client certificates, K connections:
#                         bench_client (li707 client, libcurl multi) vs curl --parallel
#                         --parallel-max K with the same N requests.
#   client_fetch_1g       MB/s of `li707 fetch URL -o FILE` of a 1 GiB object (Range request,
#                         FILE.part, fsync, rename, fsync of the directory) vs `curl -o FILE`
#                         followed by `sync FILE` (coreutils: fsync of that file). Durability
#                         is part of the fetch (the file must be on disk before it appears), so
#                         the baseline pays for it too; curl alone is printed for reference
#                         (not a figure). Both write to the same directory of the same file
#                         system; the object is in nginx's page cache. ROUNDS rounds, each
#                         timing curl+sync and li707 fetch back to back (order swapped every
#                         round); value: 1 GiB / median time; ratio: median of the per-round
#                         ratios (curl+sync time / li707 time); the rounds are printed.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/integration/lib/nginx.sh"
BUILD=$(cd "$1" && pwd)
OUT=$2
N=${N:-20000}
K=${K:-4}
ROUNDS=${ROUNDS:-5}
mkdir -p "$OUT"
for t in openssl nginx curl python3; do
	command -v "$t" >/dev/null || { echo "bench_client: $t missing" >&2; exit 77; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/li707-bench-client-XXXXXX")
trap 'nginx_stop "$T"; wait 2>/dev/null; rm -rf "$T"' EXIT
chmod 755 "$T"

P=$T/pki
mkdir -p "$T/www"
chmod 755 "$T/www"
bash "$SRC/scripts/pki.sh" "$P" >"$T/pki.log" 2>&1
truncate -s 1G "$T/www/big.bin"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nginx_start "$T" "$PORT" "$T/www" pki="$P" mtls protocols="TLSv1.2 TLSv1.3" workers=2 \
	connections=1024 http="keepalive_requests 1000000;" server='location = /bench { return 200 "ok"; }'
U=https://127.0.0.1:$PORT
TLS=(--cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")
now() { date +%s.%N; }
emit() { # name value unit baseline [ratio; default value/baseline]
	local ratio=${5:-}
	[ -n "$ratio" ] || ratio=$(python3 -c "print('%.2f' % ($2 / $4) if $4 else 'n/a')")
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$ratio" | tee -a "$OUT/results.tsv"
}

# ---- 2 KB POST rate ---------------------------------------------------------------------
head -c 2048 /dev/zero | tr '\0' x >"$T/body"
ours=$("$BUILD/bench/bench_client" "$U/bench" "$N" "$K" "$P/csp1.pem" "$P/csp1.key" "$P/ca.pem" | cut -d' ' -f1)
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

# ---- 1 GiB fetch ---------------------------------------------------------------------------
SIZE=$((1 << 30))
cat "$T/www/big.bin" >/dev/null
secs() { # command...: wall seconds
	local t0 t1
	t0=$(now)
	"$@" >/dev/null 2>&1 || { echo "bench_client: $* failed" >&2; exit 1; }
	t1=$(now)
	python3 -c "print('%.3f' % ($t1 - $t0))"
}
curl_sync() { curl -s "${TLS[@]}" "$U/big.bin" -o "$T/dl-curl" && sync "$T/dl-curl"; }
ours_fetch() {
	"$BUILD/li707" fetch "${TLS[@]}" "$U/big.bin" -o "$T/dl-ours"
	[ "$(stat -c %s "$T/dl-ours")" -eq "$SIZE" ]
}
tc=() to=() tp=()
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then
		a=$(secs curl_sync); rm -f "$T/dl-curl"; b=$(secs ours_fetch); rm -f "$T/dl-ours"
	else
		b=$(secs ours_fetch); rm -f "$T/dl-ours"; a=$(secs curl_sync); rm -f "$T/dl-curl"
	fi
	c=$(secs curl -s "${TLS[@]}" "$U/big.bin" -o "$T/dl-curl"); rm -f "$T/dl-curl"
	tc+=("$a") to+=("$b") tp+=("$c")
done
read -r ours base ratio < <(python3 - "$SIZE" "${to[*]}" "${tc[*]}" "${tp[*]}" <<'PY'
import sys, statistics as st
size = int(sys.argv[1]) / 1e6
o = [float(v) for v in sys.argv[2].split()]; c = [float(v) for v in sys.argv[3].split()]
p = [float(v) for v in sys.argv[4].split()]
r = [y / x for x, y in zip(o, c)]
print("%.1f %.1f %.2f" % (size / st.median(o), size / st.median(c), st.median(r)))
print("client_fetch_1g seconds, li707 fetch: %s / curl -o + sync: %s / ratio per round: %s "
      "(median %.2f, spread %.2f..%.2f) / curl -o alone (reference): %s" % (
      " ".join("%.2f" % v for v in o), " ".join("%.2f" % v for v in c),
      " ".join("%.2f" % v for v in r), st.median(r), min(r), max(r),
      " ".join("%.2f" % v for v in p)), file=sys.stderr)
PY
)
emit client_fetch_1g "$ours" MB/s "$base" "$ratio"
