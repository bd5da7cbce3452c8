#!/usr/bin/env bash
# li707-csp benchmark (issue 11): the provider's agent, durable, against baselines measured in
# the same run, with li707-lea (durable) as the receiving LEA on loopback (mutual TLS, test PKI).
# Usage: bench/bench_csp.sh BUILD OUTDIR
# Appends name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio lines to OUTDIR/results.tsv:
#   csp_ingest_rate         events/s acknowledged over the ingest Unix socket (each only after
#                           its fsync'd commit), BENCH_CSP_BATCH events per request from
#                           BENCH_CSP_CLIENTS concurrent clients; baseline: the sqlite3 CLI
#                           inserting the same JSON lines (WAL, synchronous=FULL) in
#                           transactions of the same size
#   csp_e2e_1item_objects   single-item DeliveryObjects/s from li707-csp's queue into li707-lea's
#                           store (both durable): events of BENCH_CSP_REFS (64) references
#                           queued with the agent stopped, then the agent started and timed until
#                           the LEA holds them all (a reference has one delivery in flight at a
#                           time, by design: order per reference; BENCH_CSP_INFLIGHT = the LEA's
#                           inflight, 8); the target is absolute: >= 5,000/s (ratio = value / 5000)
#   csp_e2e_coll_items      the same with batch_items = BENCH_CSP_COLL (1000): items/s; target
#                           >= 50,000 items/s (ratio = value / 50000)
#   csp_files_serve         Model A/C: one GET of a BENCH_CSP_FILE object from li707-csp's file
#                           server with the LEA's certificate, MB/s; baseline: nginx serving the
#                           same file over the same TLS in the same run (target ratio >= 1.0)
#   csp_latency_idle_p99    p99 ms from submitting one small event to its item in li707-lea's
#                           store, nothing else running
#   csp_latency_push_p99    the same while a BENCH_CSP_PUSH (2G) Model B push to the same LEA is
#                           running; baseline column: the idle p99 (target ratio <= 2.0)
#   csp_peak_rss            peak RSS of li707-csp over the phases (MiB); baseline 64 MiB
# Sizes: BENCH_CSP_EVENTS (ingest, 20000), BENCH_CSP_E2E (single-item objects, 20000),
# BENCH_CSP_E2E_ITEMS (items in collections, 100000), BENCH_CSP_FILE (1G), BENCH_CSP_PUSH (2G),
# BENCH_CSP_PROBES (latency samples per phase, 200); BENCH_CSP_LEA_EXTRA (lines added to the
# agent's [lea lea1], e.g. "push_nice = 10"); BENCH_CSP_PHASES (ingest e2e binary). A phase whose wiring is absent from
# li707-csp (deliveries: csp_run_deliver.c, binary content: csp_run_binary.c) is reported as
# skipped, not measured.
set -uo pipefail
BUILD=${1:?BUILD}
OUT=${2:?OUTDIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/integration/lib/nginx.sh"
CSP=$BUILD/li707-csp
LEA=$BUILD/li707-lea
for t in curl nginx openssl python3 sqlite3; do command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }; done
for x in "$CSP" "$LEA"; do [ -x "$x" ] || { echo "SKIP: $x not built"; exit 77; }; done
EVENTS=${BENCH_CSP_EVENTS:-20000}
BATCH=${BENCH_CSP_BATCH:-100}
CLIENTS=${BENCH_CSP_CLIENTS:-4}
E2E=${BENCH_CSP_E2E:-20000}
E2E_ITEMS=${BENCH_CSP_E2E_ITEMS:-100000}
COLL=${BENCH_CSP_COLL:-1000}
FILE_SIZE=${BENCH_CSP_FILE:-1G}
PUSH_SIZE=${BENCH_CSP_PUSH:-2G}
PROBES=${BENCH_CSP_PROBES:-200}
REFS=${BENCH_CSP_REFS:-64}
PHASES=" ${BENCH_CSP_PHASES:-ingest e2e binary} "
have_deliver=0 have_binary=0
[ -f "$SRC/src/csp/csp_run_deliver.c" ] && have_deliver=1
[ -f "$SRC/src/csp/csp_run_binary.c" ] && have_binary=1
mkdir -p "$OUT"
T=$(mktemp -d /tmp/li707-bench-csp-XXXXXX)
chmod 755 "$T"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null
chmod 644 "$P"/*.pem "$P"/*.key
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT/results.tsv"; echo "$*"; }
skip() { echo "$1: skipped ($2)"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ratio() { python3 -c "print(round($1/$2,2))"; }
note_rss() { # the agent's VmHWM (KiB), one line per agent run in $T/rss
	awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null >>"$T/rss"
}
# events: gen REF N [R] -> JSON Lines of N different small events (fixed seed), for REF or
# round robin over the R references REF-0 .. REF-(R-1)
gen() {
	python3 - "$@" <<'PY'
import json, random, sys
ref, n = sys.argv[1], int(sys.argv[2])
nrefs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
r = random.Random(707)
for i in range(n):
    print(json.dumps({"liid": ref if nrefs == 1 else "%s-%d" % (ref, i % nrefs),
        "timestamp": "2026-03-01T11:%02d:%02d.%06dZ" % (i // 60 % 60, i % 60, r.randrange(10**6)),
        "sender": {"ids": ["user-%06d" % r.randrange(10**6)]},
        "receivers": [{"ids": ["user-%06d" % r.randrange(10**6)]} for _ in range(r.randint(1, 3))]}))
PY
}

LPORT=$(freeport)
cat >"$T/lea.conf" <<CONF
[server]
listen = 127.0.0.1:$LPORT
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $T/lea-store
log_level = ${BENCH_CSP_LOG:-info}
orphan_max_bytes = 4G
max_upload_bytes = 4G
fetch_workers = 0
[peer csp1]
san = csp1.test
references = any
models = A, B, C
CONF
start_lea() {
	"$LEA" --config "$T/lea.conf" 2>>"$T/lea.err" &
	LP=$!; PIDS+=($LP)
	for _ in $(seq 100); do grep -q "listening on" "$T/lea.err" 2>/dev/null && break; sleep 0.1; done
	kill -0 $LP 2>/dev/null || { echo "li707-lea did not start:"; cat "$T/lea.err"; exit 1; }
}
lea_items() { sqlite3 "file:$T/lea-store/index.sqlite?mode=ro" 'select count(*) from items' 2>/dev/null || echo 0; }

# csp_conf NAME LEA-URL BATCH-ITEMS [extra [csp] lines]
csp_conf() {
	local name=$1 url=$2 batch=$3 extra=${4:-}
	mkdir -p "$T/$name-att"
	cat >"$T/$name.conf" <<CONF
[csp]
country_code = XX
unique_identifier = csp.bench
spool = $T/$name-spool
ingest_listen = unix:$T/$name.sock
attachment_dirs = $T/$name-att
max_attachment_bytes = 8G
max_request_bytes = 64M
files_url = https://127.0.0.1:${FPORT:-1}/objects/
log_level = ${BENCH_CSP_LOG:-info}
$extra

[lea lea1]
url = $url
ca = $P/ca.pem
client_cert = $P/csp1.pem
client_key = $P/csp1.key
san = csp2.test
receiver_country = XX
receiver_id = lea.bench
models = A, B, C
modelb_url = https://127.0.0.1:$LPORT/binaryData/{id}/
batch_items = $batch
batch_wait = 0
inflight = ${BENCH_CSP_INFLIGHT:-8}
retry_min = 1
retry_max = 2
${BENCH_CSP_LEA_EXTRA:-}
CONF
}
start_csp() { # start_csp NAME
	"$CSP" --config "$T/$1.conf" 2>>"$T/$1.err" &
	CP=$!; PIDS+=($CP)
	# ready: its ingest socket exists and its start is logged (log_level info, the default
	# here: at warn the line never comes, and this loop used to wait its full 10 s)
	for _ in $(seq 100); do [ -S "$T/$1.sock" ] && grep -q started "$T/$1.err" 2>/dev/null && break; kill -0 $CP 2>/dev/null || break; sleep 0.1; done
	kill -0 $CP 2>/dev/null || { echo "li707-csp did not start:"; cat "$T/$1.err"; exit 1; }
}
stop_csp() { note_rss $CP; kill -TERM $CP; wait $CP 2>/dev/null; }

# ---- 1. ingest: events/s acknowledged durably, vs the sqlite3 CLI with fsync ----
if [[ $PHASES == *" ingest "* ]]; then
# The LEA URL is a closed port: the agent packages but cannot deliver (delivery is phase 2).
csp_conf ingest "https://127.0.0.1:1/hi1" 1000
"$CSP" ref add BENCH-LI-1 --lea lea1 --config "$T/ingest.conf" >/dev/null
gen BENCH-LI-1 "$EVENTS" >"$T/ingest.jsonl"
start_csp ingest
cat >"$T/submit.py" <<'PY'
# submit.py SOCKET FILE BATCH CLIENTS: POST the lines in batches over a Unix socket from
# CLIENTS threads (one kept-alive connection each); prints events/s of acknowledged events.
import http.client, socket, sys, threading, time, json
sock, path, batch, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = open(path, "rb").read().splitlines(keepends=True)
body_n = lambda b: b.count(b"\n")
bodies = [b"".join(lines[i:i + batch]) for i in range(0, len(lines), batch)]
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sock)
acc = [0] * clients
def run(k):
    c = C("localhost")
    for b in bodies[k::clients]:
        c.request("POST", "/events", b, {"Content-Type": "application/x-ndjson"})
        r = c.getresponse(); out = r.read()
        acc[k] += out.count(b"\"accepted\"")
        if r.status != 200 or out.count(b"\"accepted\"") != body_n(b): print("ingest answer", r.status, out[:200], file=sys.stderr)
t0 = time.monotonic()
th = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
[t.start() for t in th]; [t.join() for t in th]
dt = time.monotonic() - t0
print(round(sum(acc) / dt), sum(acc))
PY
read -r ours n < <(python3 "$T/submit.py" "$T/ingest.sock" "$T/ingest.jsonl" "$BATCH" "$CLIENTS")
[ "$n" = "$EVENTS" ] || { echo "ingest: only $n of $EVENTS accepted; the agent logged:"; sort "$T/ingest.err" | uniq -c | sort -rn | head -5; }
stop_csp
# baseline: the same lines into SQLite by its CLI, same transaction size, fsync'd (FULL)
python3 - "$T/ingest.jsonl" "$BATCH" >"$T/base.sql" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines(); b = int(sys.argv[2])
print("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
print("CREATE TABLE events(id INTEGER PRIMARY KEY, at INTEGER, json TEXT NOT NULL, bytes INTEGER);")
for i in range(0, len(lines), b):
    print("BEGIN;")
    for l in lines[i:i + b]:
        print("INSERT INTO events(at, json, bytes) VALUES(strftime('%%s','now'), '%s', %d);" % (l.replace("'", "''"), len(l)))
    print("COMMIT;")
PY
t0=$(date +%s.%N)
sqlite3 "$T/base.db" <"$T/base.sql" >/dev/null
t1=$(date +%s.%N)
base=$(python3 -c "print(round($EVENTS/($t1-$t0)))")
row csp_ingest_rate "$ours" events/s "$base" "$(ratio "$ours" "$base")"
fi

# ---- 2. end to end into li707-lea: single-item objects, then collections ----
start_lea
e2e() { # e2e NAME REF N BATCH -> items/s and objects/s, events spread over $REFS references
	local name=$1 ref=$2 n=$3 b=$4 before t0 t1 now k
	csp_conf "$name" "https://127.0.0.1:$LPORT/hi1" "$b"
	for k in $(seq 0 $((REFS - 1))); do
		"$CSP" ref add "$ref-$k" --lea lea1 --config "$T/$name.conf" >/dev/null
	done
	gen "$ref" "$n" "$REFS" >"$T/$name.jsonl"
	"$CSP" submit "$T/$name.jsonl" --config "$T/$name.conf" >/dev/null 2>&1 # the agent stopped: straight into its store
	before=$(lea_items)
	t0=$(date +%s.%N)
	start_csp "$name"
	local perf=
	if [ -n "${BENCH_CSP_PERF:-}" ] && command -v perf >/dev/null; then
		perf record -q -F 499 -g -p "$CP" -o "$T/$name.perf" >/dev/null 2>&1 &
		perf=$!
		perf record -q -F 499 -g -p "$LP" -o "$T/$name.lea.perf" >/dev/null 2>&1 &
		perf="$perf $!"
	fi
	for _ in $(seq 6000); do
		now=$(lea_items)
		[ $((now - before)) -ge "$n" ] && break
		sleep 0.05
	done
	t1=$(date +%s.%N)
	# what limits it: CPU seconds of the agent and of the LEA against the wall time
	echo "$name: $n items in $(python3 -c "print(round($t1-$t0,2))") s; CPU: li707-csp" \
		"$(awk '{print ($14+$15)/100}' /proc/$CP/stat) s, li707-lea $(awk '{print ($14+$15)/100}' /proc/$LP/stat) s (cumulative)" >&2
	# per thread of the agent (name: CPU s), what limits which stage
	echo "$name: li707-csp threads: $(for t in /proc/$CP/task/*; do awk '{printf "%s %.2f\n", $2, ($14+$15)/100}' "$t/stat"; done | awk '$2 > 0.05' | tr -d '()' | sort -k2 -rn | tr '\n' ' ')" >&2
	if [ -n "$perf" ]; then
		kill -INT $perf; wait $perf 2>/dev/null
		perf report -i "$T/$name.perf" --stdio --no-children --sort dso,sym 2>/dev/null | grep -E '^ +[0-9]' | head -15 >&2
	fi
	stop_csp
	[ -n "${BENCH_CSP_KEEP:-}" ] && cp "$T/$name.err" "$BENCH_CSP_KEEP/$name.err"
	[ -n "${BENCH_CSP_KEEP:-}" ] && [ -n "$perf" ] && cp "$T/$name.perf" "$T/$name.lea.perf" "$BENCH_CSP_KEEP/"
	[ $((now - before)) -ge "$n" ] || { echo "$name: only $((now - before)) of $n items arrived" >&2; return 1; }
	python3 -c "print(round($n/($t1-$t0)), round($n/$b/($t1-$t0)))"
}
if [[ $PHASES != *" e2e "* ]]; then
	:
elif [ "$have_deliver" = 1 ]; then
	if r=$(e2e e2e1 BENCH-LI-2 "$E2E" 1); then
		row csp_e2e_1item_objects "${r#* }" objects/s 5000 "$(ratio "${r#* }" 5000)"
	fi
	if r=$(e2e e2ec BENCH-LI-3 "$E2E_ITEMS" "$COLL"); then
		row csp_e2e_coll_items "${r% *}" items/s 50000 "$(ratio "${r% *}" 50000)"
	fi
else
	skip csp_e2e "delivery wiring (csp_run_deliver.c) not in this tree"
fi

# ---- 3. Model A/C serving vs nginx on the same file, and 4. latency under a Model B push ----
if [[ $PHASES != *" binary "* ]]; then
	:
elif [ "$have_deliver" = 1 ] && [ "$have_binary" = 1 ]; then
	FPORT=$(freeport)
	csp_conf bin "https://127.0.0.1:$LPORT/hi1" 1 "files_listen = 127.0.0.1:$FPORT
cert = $P/server.pem
key = $P/server.key
ca = $P/ca.pem"
	"$CSP" ref add BENCH-LI-4 --lea lea1 --config "$T/bin.conf" >/dev/null
	truncate -s "$FILE_SIZE" "$T/bin-att/a.bin"
	head -c 4M /dev/urandom | dd of="$T/bin-att/a.bin" conv=notrunc status=none
	start_csp bin
	printf '{"liid":"BENCH-LI-4","timestamp":"2026-03-01T10:00:00Z","sender":{"ids":["a"]},"attachments":[{"path":"a.bin","model":"A","content_type":"application/octet-stream"}]}\n' |
		"$CSP" submit - --config "$T/bin.conf" >/dev/null
	tok=$(sqlite3 "file:$T/bin-spool/csp.db?mode=ro" "select token from objects where path like '%' order by id desc limit 1")
	NPORT=$(freeport)
	mkdir -p "$T/root"; ln "$T/bin-att/a.bin" "$T/root/a.bin" 2>/dev/null || cp "$T/bin-att/a.bin" "$T/root/a.bin"
	chmod 755 "$T/root"; chmod 644 "$T/root/a.bin"
	nginx_start "$T" "$NPORT" "$T/root" pki="$P" mtls protocols=TLSv1.3 connections=64 \
		http="sendfile on;"
	PIDS+=("$NGINX_PID")
	cat "$T/bin-att/a.bin" >/dev/null
	G=(curl -sS --tlsv1.3 --cacert "$P/ca.pem" --cert "$P/csp2.pem" --key "$P/csp2.key" -o /dev/null -w '%{speed_download} %{http_code}')
	o=() n=()
	for _ in 1 2 3; do
		r=$("${G[@]}" "https://127.0.0.1:$FPORT/objects/$tok"); [ "${r#* }" = 200 ] || echo "li707-csp files: HTTP ${r#* }"
		o+=("${r% *}")
		r=$("${G[@]}" "https://127.0.0.1:$NPORT/a.bin"); n+=("${r% *}")
	done
	echo "files runs (B/s): li707-csp ${o[*]} nginx ${n[*]}"
	ours=$(python3 -c "import statistics,sys;print(round(statistics.median(map(float,sys.argv[1:]))/1e6,1))" "${o[@]}")
	ngx=$(python3 -c "import statistics,sys;print(round(statistics.median(map(float,sys.argv[1:]))/1e6,1))" "${n[@]}")
	row csp_files_serve "$ours" MB/s "$ngx" "$(ratio "$ours" "$ngx")"

	# latency probes: one small event at a time, timed until its item is in the LEA's store
	cat >"$T/probe.py" <<'PY'
# probe.py SOCKET LEADB N [STOPFILE]: N single events, each submitted then awaited in the LEA
# store; stops early once STOPFILE exists; prints p50 p99 count (ms)
import http.client, socket, sqlite3, sys, time, os, json
sock, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
stop = sys.argv[4] if len(sys.argv) > 4 else None
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sock)
c = C("localhost"); lat = []
q = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
count = lambda: q.execute("select count(*) from items").fetchone()[0]
for i in range(n):
    if stop and os.path.exists(stop): break
    base = count()
    ev = json.dumps({"liid": "BENCH-LI-4", "timestamp": "2026-03-01T10:00:00Z",
                     "sender": {"ids": ["probe-%d" % i]}}) + "\n"
    t0 = time.monotonic()
    c.request("POST", "/events", ev.encode()); c.getresponse().read()
    while count() <= base:
        time.sleep(0.0005)
        if time.monotonic() - t0 > 30: print("timeout", file=sys.stderr); sys.exit(1)
    lat.append((time.monotonic() - t0) * 1000)
lat.sort()
p = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else 0
print(round(p(0.5), 2), round(p(0.99), 2), len(lat))
PY
	LDB=$T/lea-store/index.sqlite
	read -r p50 idle cnt < <(python3 "$T/probe.py" "$T/bin.sock" "$LDB" "$PROBES")
	echo "idle: p50 $p50 ms p99 $idle ms ($cnt probes)"
	truncate -s "$PUSH_SIZE" "$T/bin-att/b.bin"
	head -c 4M /dev/urandom | dd of="$T/bin-att/b.bin" conv=notrunc status=none
	printf '{"liid":"BENCH-LI-4","timestamp":"2026-03-01T10:00:01Z","sender":{"ids":["b"]},"attachments":[{"path":"b.bin","model":"B","content_type":"application/octet-stream"}]}\n' |
		"$CSP" submit - --config "$T/bin.conf" >/dev/null
	# the push starts once its record is acknowledged (a few ms): the probes start at once
	# and run until the agent records the push's verdict (li707-lea updates its byte count
	# only at the end of an upload, so that cannot tell when it began)
	( while :; do
		st=$(sqlite3 "file:$T/bin-spool/csp.db?mode=ro" "select coalesce(verdict,'') from objects where path like '%' and model='B' order by id desc limit 1" 2>/dev/null)
		[ -n "$st" ] && { touch "$T/push.done"; break; }
		sleep 0.05
	done ) &
	PIDS+=($!)
	t0=$(date +%s.%N)
	read -r p50b busy cntb < <(python3 "$T/probe.py" "$T/bin.sock" "$LDB" "$PROBES" "$T/push.done")
	pushing=1; [ -e "$T/push.done" ] && pushing=0
	echo "during the push: p50 $p50b ms p99 $busy ms ($cntb probes; push still running at the end: $pushing)"
	for _ in $(seq 1200); do [ -e "$T/push.done" ] && break; sleep 0.1; done
	t1=$(date +%s.%N)
	echo "Model B push verdict: $(sqlite3 "file:$T/bin-spool/csp.db?mode=ro" "select verdict from objects where model='B' order by id desc limit 1")"
	row csp_latency_idle_p99 "$idle" ms "-" "-"
	if [ "${cntb:-0}" -gt 0 ]; then
		row csp_latency_push_p99 "$busy" ms "$idle" "$(ratio "$busy" "$idle")"
	else
		skip csp_latency_push_p99 "the push ended before the first probe: raise BENCH_CSP_PUSH"
	fi
	stop_csp
else
	skip csp_files_serve "binary wiring (csp_run_binary.c) or delivery wiring not in this tree"
	skip csp_latency "binary wiring (csp_run_binary.c) or delivery wiring not in this tree"
fi

rss=$(sort -n "$T/rss" 2>/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}')
row csp_peak_rss "$rss" MiB 64 "$(ratio "$rss" 64)"
kill -TERM $LP 2>/dev/null; wait $LP 2>/dev/null
exit 0
