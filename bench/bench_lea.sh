#!/usr/bin/env bash
# LEA daemon benchmark (issue 4): li707-lea with its durable store against nginx in the same
# run, both over TLS 1.3 with mutual TLS, both driven by the same load generator
# (BUILD/bench/bench_lea_load: the li707 libcurl client, K keep-alive connections with the
# csp1 client certificate, one process).
# Usage: bench/bench_lea.sh BUILD OUTDIR
# Appends name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio lines to OUTDIR/results.tsv:
#   lea_deliver_1item_rate    single-item deliveries (~3.4 KB) per second, each a fresh
#                             ObjectIdentifier/DeliveryID, strict decode + store + fsync'd
#                             commit before the HI-1 response; baseline: nginx answering the
#                             same POSTs with a static 200 (`return 200`); target ratio >= 0.5
#   lea_deliver_100item_items 100-item handoverItemCollections (100 different events), items
#                             stored per second;
#                             baseline column: nginx's item rate for the same POSTs; the
#                             target is absolute: >= 200,000 items/s (ratio = value / 200000)
#   lea_modelb_upload_1g      a 1 GiB Model B upload (orphan: no record yet, R-BIN-B4) with
#                             SHA-256 and fsync, MB/s; baseline: nginx serving a 1 GiB file
#                             over the same TLS (the transport figure of bench_server.sh)
#   lea_peak_rss              peak RSS of li707-lea over the whole run (MiB); baseline 64 MiB
# Each rate is the median of RUNS alternating runs (li707-lea, nginx, li707-lea, ...; RUNS=3
# by default, environment variable BENCH_LEA_RUNS), every run printed (the machine is shared
# and noisy: only figures measured together mean something).
set -uo pipefail
BUILD=${1:?BUILD}
OUT=${2:?OUTDIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/integration/lib/nginx.sh"
LEA=$BUILD/li707-lea
TOOL=$BUILD/li707
LOAD=$BUILD/bench/bench_lea_load
for t in curl nginx openssl python3; do command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }; done
for x in "$LEA" "$TOOL" "$LOAD"; do [ -x "$x" ] || { echo "SKIP: $x not built"; exit 77; }; done
mkdir -p "$OUT"
T=$(mktemp -d /tmp/li707-bench-lea-XXXXXX)
chmod 755 "$T"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null
chmod 644 "$P"/*.pem "$P"/server.key
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT/results.tsv"; echo "$*"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ratio() { python3 -c "print(round($1/$2,2))"; }
median() { python3 -c "import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
RUNS=${BENCH_LEA_RUNS:-3}

# Templates: one single-item message (~3.4 KB) from a sample event without attachments, and
# one 100-item collection of 100 different events (senders, receivers, times drawn with a
# fixed seed: identical items would flatter the store, which compresses what it keeps).
# bench_lea_load gives every copy fresh UUIDs.
ev=$(grep -v '"attachments"' "$SRC/samples/li-events.jsonl" | head -1)
printf '%s\n' "$ev" | "$TOOL" build >"$T/one.xml" || { echo "li707 build failed"; exit 1; }
python3 - >"$T/coll.jsonl" <<'PY'
import json, random
r = random.Random(707)
for i in range(100):
    print(json.dumps({"liid": "ACME-LI-0043",
        "timestamp": "2026-03-01T11:%02d:%02d.%06d+01:00" % (i // 60, i % 60, r.randrange(10**6)),
        "sender": {"ids": ["user-%06d" % r.randrange(10**6)]},
        "receivers": [{"ids": ["user-%06d" % r.randrange(10**6)]} for _ in range(r.randint(1, 3))]}))
PY
"$TOOL" build --collection 100 <"$T/coll.jsonl" >"$T/coll.xml" || { echo "li707 build failed"; exit 1; }
echo "templates: $(wc -c <"$T/one.xml") bytes (1 item), $(wc -c <"$T/coll.xml") bytes (100 items)"

LPORT=$(freeport)
cat >"$T/lea.conf" <<CONF
[server]
listen = 127.0.0.1:$LPORT
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $T/store
log_level = warn
orphan_max_bytes = 2G
max_upload_bytes = 2G
[peer csp1]
san = csp1.test
references = any
models = B
CONF
"$LEA" --config "$T/lea.conf" 2>"$T/lea.err" &
LP=$!; PIDS+=($LP)

NPORT=$(freeport)
mkdir -p "$T/root"; chmod 755 "$T/root"
nginx_start "$T" "$NPORT" "$T/root" pki="$P" mtls protocols=TLSv1.3 \
	http="sendfile on;" http="keepalive_requests 1000000;" http="client_max_body_size 64m;" \
	server='location = /hi1 { return 200 "ok\n"; }'
PIDS+=("$NGINX_PID")
for _ in $(seq 50); do
	grep -q "listening on" "$T/lea.err" 2>/dev/null && break
	sleep 0.1
done
sleep 0.3
kill -0 $LP 2>/dev/null || { echo "li707-lea did not start:"; cat "$T/lea.err"; exit 1; }
CERTS=("$P/csp1.pem" "$P/csp1.key" "$P/ca.pem")
load() { "$LOAD" "$@" | awk '{print $1}'; }

# Warm both (TLS session setup, SQLite pages) before measuring.
load "https://127.0.0.1:$LPORT/hi1" "$T/one.xml" 500 8 "${CERTS[@]}" >/dev/null
load --any-200 "https://127.0.0.1:$NPORT/hi1" "$T/one.xml" 500 8 "${CERTS[@]}" >/dev/null
o=() n=()
for _ in $(seq "$RUNS"); do
	o+=("$(load "https://127.0.0.1:$LPORT/hi1" "$T/one.xml" 20000 16 "${CERTS[@]}")")
	n+=("$(load --any-200 "https://127.0.0.1:$NPORT/hi1" "$T/one.xml" 20000 16 "${CERTS[@]}")")
done
echo "1-item runs: li707-lea ${o[*]} nginx ${n[*]}"
ours=$(median "${o[@]}"); ngx=$(median "${n[@]}")
row lea_deliver_1item_rate "$ours" req/s "$ngx" "$(ratio "$ours" "$ngx")"

o=() n=()
for _ in $(seq "$RUNS"); do
	o+=("$(load "https://127.0.0.1:$LPORT/hi1" "$T/coll.xml" 400 4 "${CERTS[@]}")")
	n+=("$(load --any-200 "https://127.0.0.1:$NPORT/hi1" "$T/coll.xml" 400 4 "${CERTS[@]}")")
done
echo "100-item runs (messages/s): li707-lea ${o[*]} nginx ${n[*]}"
ours=$(python3 -c "print(round($(median "${o[@]}")*100))"); ngx=$(python3 -c "print(round($(median "${n[@]}")*100))")
row lea_deliver_100item_items "$ours" items/s "$ngx" "$(ratio "$ours" 200000)"

# Model B upload vs nginx's download of a file of the same size over the same TLS.
truncate -s 1G "$T/root/big.bin"; chmod 644 "$T/root/big.bin"
cat "$T/root/big.bin" >/dev/null
C=(curl -sS --tlsv1.3 --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")
ngx=$("${C[@]}" -o /dev/null -w '%{speed_download}' "https://127.0.0.1:$NPORT/big.bin")
uuid=$(python3 -c 'import uuid;print(uuid.uuid4())')
up=$("${C[@]}" -H 'Expect: 100-continue' -H "Content-Length: $((1 << 30))" -H "Transfer-Encoding:" \
	-H 'Content-Type: application/octet-stream' -X POST -T - -o /dev/null -w '%{speed_upload} %{http_code}' \
	"https://127.0.0.1:$LPORT/binaryData/$uuid/" <"$T/root/big.bin")
code=${up#* }; up=${up% *}
[ "$code" = 201 ] || echo "Model B upload answered HTTP $code"
rm -f "$T/root/big.bin"
row lea_modelb_upload_1g "$(python3 -c "print(round($up/1e6,1))")" MB/s \
	"$(python3 -c "print(round($ngx/1e6,1))")" "$(ratio "$up" "$ngx")"

rss=$(awk '/VmHWM/{printf "%.1f", $2/1024}' /proc/$LP/status)
row lea_peak_rss "$rss" MiB 64 "$(ratio "$rss" 64)"
kill -TERM $LP; wait $LP 2>/dev/null
exit 0
