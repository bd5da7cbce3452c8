#!/usr/bin/env bash
# li707-lea's own Model A/C retrieval (issue 12; TS 103 707 Annex C.2, C.4, Annex E) against
# curl in the same run. One nginx (2 workers) with mutual TLS and Range requests hosts the
# objects on loopback; deliveries from csp1 announce them; the daemon fetches them with its
# client certificate ([server] client_cert) and stores them (fsync'd, SHA-256 checked).
# Usage: bench/bench_lea_fetch.sh BUILD OUTDIR
# Appends name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio lines to OUTDIR/results.tsv:
#   lea_fetch_1conn        MB/s of the daemon fetching the big object (Model C) with one
#                          range in flight, from the delivery sent to the object
#                          complete in `li707-lea status`; baseline: `curl -o FILE` + `sync
#                          FILE` of the same object from the same nginx (the daemon's copy is
#                          on disk when complete, so the baseline pays for durability too);
#                          target ratio >= 1.0
#   lea_fetch_parN         the same with N ranges in parallel (fetch_parallel = N); same
#                          baseline
#   lea_fetch_small_p99    p99 of the time from a 10 KiB object's delivery acknowledged (Model
#                          A) to it complete in `li707-lea status` (ms), while the big object is being fetched from the same
#                          peer; baseline: the same with the daemon idle; ratio busy / idle,
#                          target <= 2.0
#   lea_fetch_peak_rss     the daemon's peak RSS (VmHWM, MiB) after fetching the big object;
#                          baseline: a fresh daemon fetching the mid-size object; ratio big /
#                          mid, target ~1.0 (memory constant in the object's size)
# Environment (sizes: a number with K, M or G): LEA_FETCH_SIZE [2G] the big object,
# LEA_FETCH_MID [256M] the mid-size one, LEA_FETCH_PAR [4] N, LEA_FETCH_SMALL_N [50]
# 10 KiB objects per p99 series, LEA_FETCH_ROUNDS [1] rounds of the throughput figures
# (median). Exit 77 when something it needs is missing (li707-lea without retrieval too).
set -uo pipefail
BUILD=$(cd "${1:?BUILD}" && pwd)
OUT=${2:?OUTDIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/integration/lib/nginx.sh"
. "$SRC/tests/integration/lib/lea.sh"
LEA=$BUILD/li707-lea
TOOL=$BUILD/li707
for t in curl nginx openssl python3 jq; do
	command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done
for x in "$LEA" "$TOOL"; do [ -x "$x" ] || { echo "SKIP: $x not built"; exit 77; }; done
if ! "$LEA" --help 2>&1 | grep -q 'fetch-status'; then
	echo "SKIP: bench_lea_fetch: li707-lea has no Model A/C retrieval yet (issue 12)"
	exit 77
fi
bytes() { # SIZE with K/M/G -> bytes
	python3 -c "import sys; s=sys.argv[1]; m={'K':1<<10,'M':1<<20,'G':1<<30}
print(int(s[:-1]) * m[s[-1].upper()] if s[-1].upper() in m else int(s))" "$1"
}
SIZE=$(bytes "${LEA_FETCH_SIZE:-2G}")
MID=$(bytes "${LEA_FETCH_MID:-256M}")
PAR=${LEA_FETCH_PAR:-4}
SMALL_N=${LEA_FETCH_SMALL_N:-50}
ROUNDS=${LEA_FETCH_ROUNDS:-1}
mkdir -p "$OUT"
T=$(mktemp -d "${TMPDIR:-/tmp}/li707-bench-lea-fetch-XXXXXX")
chmod 755 "$T"
PIDS=()
LPID=
trap '[ -n "$LPID" ] && kill -9 $LPID 2>/dev/null; for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null
chmod 644 "$P"/*.pem "$P"/server.key
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT/results.tsv"; echo "$*"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ratio() { python3 -c "print(round($1/$2,2) if $2 else 'n/a')"; }
median() { python3 -c "import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
now() { date +%s.%N; }

# ---- objects: sparse files (zeros; nginx reads them from the page cache) -------------------
mkdir -p "$T/src" "$T/www/obj"
chmod 755 "$T/www" "$T/www/obj"
truncate -s "$SIZE" "$T/src/big.bin"
truncate -s "$MID" "$T/src/mid.bin"
for i in $(seq 1 $((2 * SMALL_N))); do
	# distinct content per object (the store must not see two identical ones)
	{ printf '%08d' "$i"; head -c $((10240 - 8)) /dev/zero; } >"$T/src/s$i.bin"
done

NPORT=$(freeport)
nginx_start "$T" "$NPORT" "$T/www" pki="$P" mtls protocols="TLSv1.2 TLSv1.3" workers=2 \
	connections=1024 http="default_type application/octet-stream;" \
	http="keepalive_requests 1000000;"
PIDS+=("$NGINX_PID")
U=https://127.0.0.1:$NPORT

# ---- the daemon ---------------------------------------------------------------------------
# start_lea NAME PARALLEL: a fresh store; csp1 announces, A and C agreed, Model C above 1M.
start_lea() {
	local st=$T/store-$1
	rm -rf "$st"
	cat >"$T/lea.conf" <<EOF
[server]
listen = 127.0.0.1:0
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $st
delivery_path = /hi1
binary_path = /binaryData/
schema_dir = $SRC/schemas
client_cert = $P/csp2.pem
client_key = $P/csp2.key

[peer csp1]
san = csp1.test
references = any
models = A, C
fetch_ca = $P/ca.pem
model_c_above = 1M
fetch_parallel = $2
fetch_connections = $(($2 + 2))
EOF
	ST=$st
	LOG=$T/lea-$1.log
	lea_start "$T/lea.conf" "$LOG"
	LPORT=$PORT
}
stop_lea() { kill -TERM "$LPID"; wait "$LPID" 2>/dev/null; LPID=; }
peak_rss_mib() { awk '/^VmHWM/{printf "%.1f", $2 / 1024}' "/proc/$LPID/status"; }

# prepare NAME REF FILE...: one DELIVER of REF announcing FILEs (in $T/src) as $T/NAME.xml,
# each FILE published under $T/www/obj/UUID (a hard link). Built before anything is timed
# (li707 build reads every file for its SHA-256).
prepare() {
	local n=$1 ref=$2 atts="" f
	shift 2
	for f in "$@"; do
		atts="$atts${atts:+, }{\"path\": \"$f\", \"content_type\": \"application/octet-stream\", \"model\": \"C\"}"
	done
	printf '{"liid": "%s", "timestamp": "2026-03-01T10:00:00Z", "sender": {"ids": ["alice"], "target": true}, "attachments": [%s]}\n' \
		"$ref" "$atts" | "$TOOL" build --base-dir "$T/src" --csp-url-scheme "$U/obj/{uuid}" >"$T/$n.xml" 2>/dev/null ||
		{ echo "bench_lea_fetch: build $n failed"; exit 1; }
	python3 - "$T/$n.xml" "$T/www/obj" "$T/src" "$@" <<'PY' || { echo "bench_lea_fetch: publish $n failed"; exit 1; }
import os, re, sys
xml, dst, src, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
urls = re.findall(r"<binaryObject>.*?<url>([^<]*)</url>", open(xml).read(), re.S)
assert len(urls) == len(files), (urls, files)
for url, f in zip(urls, files):
    os.link(os.path.join(src, f), os.path.join(dst, url.rsplit("/", 1)[1]))
PY
}
deliver() { # NAME: sends $T/NAME.xml as csp1
	"$TOOL" send --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key" \
		"https://127.0.0.1:$LPORT/hi1" "$T/$1.xml" >/dev/null 2>"$T/send.err" ||
		{ echo "bench_lea_fetch: delivery $1 refused:"; cat "$T/send.err"; exit 1; }
}
complete() { # REF: attachments of REF complete
	"$LEA" status --store "$ST" --ref "$1" --json 2>/dev/null |
		jq -r '.references[0].attachments.complete // 0' 2>/dev/null || echo 0
}
# wait_complete REF N [POLL]: until N attachments of REF are complete; fails on a mismatch.
# One `li707-lea status` per poll, and no $(seq 1 200000) to expand (that alone cost
# 0.3-0.8 s per call on the shared VM, counted in every small object's time).
wait_complete() {
	local c m n
	for ((n = 0; n < 200000; n++)); do
		read -r c m < <("$LEA" status --store "$ST" --ref "$1" --json 2>/dev/null |
			jq -r '.references[0].attachments | "\(.complete // 0) \(.mismatch // 0)"' 2>/dev/null)
		[ "${c:-0}" -ge "$2" ] && return 0
		[ "${m:-0}" = 0 ] || return 1
		kill -0 "$LPID" 2>/dev/null || { echo "bench_lea_fetch: li707-lea died"; cat "$LOG"; exit 1; }
		sleep "${3:-0.05}"
	done
	return 1
}
# wait_logged N: until the daemon logged N objects complete (or a mismatch), looking at its
# log: polling li707-lea status for seconds would run beside the daemon (same session, same
# CPU share) while the curl baseline runs alone. Every 40th look asks the store as well, so
# a change of the log line cannot make it wait for ever; wait_complete then confirms.
wait_logged() {
	local n
	for ((n = 1; ; n++)); do
		[ "$(grep -c ' complete bytes=' "$LOG")" -ge "$1" ] && return
		grep -q 'mismatch' "$LOG" && return
		kill -0 "$LPID" 2>/dev/null || return
		[ $((n % 40)) = 0 ] && [ "$(complete "$BIGREF")" -ge "$1" ] && return
		sleep 0.05
	done
}
# fetch_big PARALLEL ROUND NAME: SECS = seconds from the delivery $T/NAME.xml (reference NAME)
# sent to its object complete, RSS = the daemon's peak RSS then (a fresh daemon and store each
# time, so the same delivery serves every run).
fetch_big() {
	local t0 t1
	start_lea "$3-$1-$2" "$1"
	BIGREF=$3
	t0=$(now)
	deliver "$3"
	wait_logged 1
	wait_complete "$3" 1 || { echo "bench_lea_fetch: $3 object not fetched"; exit 1; }
	t1=$(now)
	RSS=$(peak_rss_mib)
	stop_lea
	rm -rf "$ST"
	SECS=$(python3 -c "print('%.3f' % ($t1 - $t0))")
}
curl_sync() { # SECS = seconds of curl -o + sync of the big object (the same URL)
	local t0 t1 f
	f=$(grep -o "$U/obj/[^<]*" "$T/BIG.xml" | head -1)
	t0=$(now)
	curl -s --cacert "$P/ca.pem" --cert "$P/csp2.pem" --key "$P/csp2.key" "$f" -o "$T/dl-curl" &&
		sync "$T/dl-curl" || { echo "bench_lea_fetch: curl failed" >&2; exit 1; }
	t1=$(now)
	rm -f "$T/dl-curl"
	SECS=$(python3 -c "print('%.3f' % ($t1 - $t0))")
}

prepare BIG BIG big.bin
prepare MID MID mid.bin
cat "$T/src/big.bin" >/dev/null # into the page cache, for every contender alike
tc=() t1=() tn=()
for r in $(seq 1 "$ROUNDS"); do
	curl_sync
	tc+=("$SECS")
	fetch_big 1 "$r" BIG
	t1+=("$SECS")
	RSS_BIG=$RSS
	fetch_big "$PAR" "$r" BIG
	tn+=("$SECS")
done
echo "lea_fetch seconds for $SIZE bytes: curl+sync ${tc[*]} / 1 range ${t1[*]} / $PAR ranges ${tn[*]}"
mbs() { python3 -c "print('%.1f' % ($SIZE / 1e6 / $1))"; }
base=$(mbs "$(median "${tc[@]}")")
one=$(mbs "$(median "${t1[@]}")")
par=$(mbs "$(median "${tn[@]}")")
row lea_fetch_1conn "$one" MB/s "$base" "$(ratio "$one" "$base")"
row "lea_fetch_par$PAR" "$par" MB/s "$base" "$(ratio "$par" "$base")"

# ---- peak RSS: the mid-size object on a fresh daemon -------------------------------------
fetch_big 1 1 MID
RSS_MID=$RSS
row lea_fetch_peak_rss "$RSS_BIG" MiB "$RSS_MID" "$(ratio "$RSS_BIG" "$RSS_MID")"

# ---- p99 of small objects, idle and behind the big object --------------------------------
# small_series NAME FIRST: SMALL_N deliveries of one 10 KiB object each (s FIRST ..), one at
# a time; MS = the milliseconds from each delivery acknowledged to that object complete (each
# poll of `li707-lea status` is a process of its own: ~10 ms on an idle machine).
small_series() {
	local i t0 t1 k=0
	MS=()
	for i in $(seq "$2" $(($2 + SMALL_N - 1))); do
		prepare "$1-$i" "$1" "s$i.bin"
	done
	for i in $(seq "$2" $(($2 + SMALL_N - 1))); do
		k=$((k + 1))
		deliver "$1-$i"
		t0=$(now)
		wait_complete "$1" "$k" 0.01 || { echo "bench_lea_fetch: small object not fetched" >&2; exit 1; }
		t1=$(now)
		MS+=("$(python3 -c "print('%.1f' % (($t1 - $t0) * 1000))")")
	done
}
p99() { python3 -c "import sys, statistics as s; v=sorted(float(x) for x in sys.argv[1:]); print('%.1f' % v[min(len(v) - 1, int(round(0.99 * (len(v) - 1))))])" "$@"; }
start_lea small "$PAR"
small_series IDLE 1
idle=("${MS[@]}")
deliver BIG
sleep 0.5 # the big object's ranges are flowing
small_series BUSY $((SMALL_N + 1))
busy=("${MS[@]}")
if [ "$(complete BIG)" -ge 1 ]; then
	echo "bench_lea_fetch: the big object completed before the last small one (LEA_FETCH_SIZE too small for the p99 figure)"
fi
stop_lea
pi=$(p99 "${idle[@]}")
pb=$(p99 "${busy[@]}")
echo "lea_fetch_small ms idle: ${idle[*]}"
echo "lea_fetch_small ms busy: ${busy[*]}"
row lea_fetch_small_p99 "$pb" ms "$pi" "$(ratio "$pb" "$pi")"
