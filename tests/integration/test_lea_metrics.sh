#!/usr/bin/env bash
# li707-lea's metrics_listen: GET /metrics (Prometheus text, checked by promtool from the
# Debian package prometheus when installed) and GET /healthz, scraped while deliveries and a
# Model B upload arrive: the counters move, no reference or content appears in any label
# (R-SEC-6), /healthz is 200 while serving. Arguments: TOOL SRCDIR SHARED BUILDDIR.
# Ends with "N passed, M failed"; exit 77 when something it needs is missing.
set -uo pipefail
TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
for t in curl openssl jq sha256sum; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-metrics-XXXXXX")
LPID=
cleanup() {
	[ -n "$LPID" ] && kill -9 "$LPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/check.sh"

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null || { echo "pki.sh failed"; exit 1; }
cat >"$T/lea.conf" <<EOF2
[server]
listen = 127.0.0.1:0
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $T/store
schema_dir = $SRC/schemas
metrics_listen = 127.0.0.1:0
drain_timeout = 5

[peer csp1]
san = csp1.test
references = METRICS-LI-0001
models = B
EOF2
"$LEA" --config "$T/lea.conf" --check-config >/dev/null || { echo "config refused"; exit 1; }
"$LEA" --config "$T/lea.conf" 2>"$T/lea.log" &
LPID=$!
for _ in $(seq 100); do
	grep -q 'metrics on' "$T/lea.log" && break
	sleep 0.1
done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (mtls).*/\1/p' "$T/lea.log" | head -1)
MPORT=$(sed -n 's/.*metrics on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/lea.log" | head -1)
[ -n "$PORT" ] && [ -n "$MPORT" ] || { echo "li707-lea did not start:"; cat "$T/lea.log"; exit 1; }
M=http://127.0.0.1:$MPORT

scrape() { curl -sS "$M/metrics" -o "$T/$1.prom" -w '%{http_code} %{content_type}'; }
# value NAME{LABELS} FILE: the sample's value, 0 when absent.
value() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$2"; }

is "GET /metrics: 200, exposition format 0.0.4" "200 text/plain; version=0.0.4; charset=utf-8" "$(scrape before)"
is "GET /healthz while serving: 200" "200 ok" "$(curl -sS "$M/healthz" -w '%{http_code}' -o "$T/h" ; printf ' %s' "$(cat "$T/h")")"
is "unknown path: 404" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$M/metricsX")"
is "POST /metrics: 405" 405 "$(curl -sS -o /dev/null -w '%{http_code}' -d x "$M/metrics")"
check "build info" grep -q '^li707_build_info{program="li707-lea",version="[0-9.]*"} 1$' "$T/before.prom"
is "config generation 1" 1 "$(value li707_lea_config_generation "$T/before.prom")"
is "store writable" 1 "$(value li707_lea_store_writable "$T/before.prom")"
for st in announced receiving complete mismatch expired to-fetch orphan; do
	check "attachments{state=$st} present" grep -q "^li707_lea_attachments{state=\"$st\"} 0$" "$T/before.prom"
done

# Two deliveries of one item each and one of a collection of 3, a duplicate, a refused reference.
ev() { printf '{"liid": "%s", "timestamp": "2026-03-01T10:00:%02dZ", "sender": {"ids": ["alice"], "target": true}%s}\n' "$1" "$2" "${3:-}"; }
build() { "$TOOL" build --base-dir "$SRC/samples" "${@:2}" >"$T/$1.xml" 2>/dev/null || { echo "build $1 failed"; exit 1; }; }
ev METRICS-LI-0001 1 | build one
ev METRICS-LI-0001 2 | build two
{ ev METRICS-LI-0001 3; ev METRICS-LI-0001 4; ev METRICS-LI-0001 5; } | build coll --collection 3
ev OTHER-LI-0009 6 | build denied
head -c 4096 /dev/urandom >"$T/blob"
ev METRICS-LI-0001 7 ', "attachments": [{"path": "blob", "content_type": "application/octet-stream", "model": "B"}]' |
	build withb --base-dir "$T" --lea-url-scheme "https://127.0.0.1:$PORT/binaryData/{uuid}/"
UUID=$(grep -o 'binaryData/[0-9a-f-]\{36\}' "$T/withb.xml" | head -1 | cut -d/ -f2)
[ -n "$UUID" ] || { echo "no Model B uuid in the built message"; exit 1; }
C=(curl -sS --cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")
post() { "${C[@]}" -H 'Content-Type: application/xml' --data-binary @"$T/$1.xml" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/hi1"; }
for f in one two coll one denied withb; do
	is "delivery $f: 200" 200 "$(post $f)"
done
is "Model B upload: 201" 201 "$("${C[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$T/blob" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/binaryData/$UUID/")"
is "unknown path over TLS: 404" 404 "$("${C[@]}" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/nothing")"

is "GET /metrics after: 200" "200 text/plain; version=0.0.4; charset=utf-8" "$(scrape after)"
A=$T/after.prom
is "requests{hi1,200} = 6" 6 "$(value 'li707_lea_requests_total{endpoint="hi1",status="200"}' "$A")"
is "requests{binary,201} = 1" 1 "$(value 'li707_lea_requests_total{endpoint="binary",status="201"}' "$A")"
is "requests{other,404} = 1" 1 "$(value 'li707_lea_requests_total{endpoint="other",status="404"}' "$A")"
is "actions{stored} = 4" 4 "$(value 'li707_lea_actions_total{outcome="stored"}' "$A")"
is "actions{duplicate} = 1" 1 "$(value 'li707_lea_actions_total{outcome="duplicate"}' "$A")"
is "actions{denied} = 1" 1 "$(value 'li707_lea_actions_total{outcome="denied"}' "$A")"
is "items stored = 6" 6 "$(value li707_lea_items_stored_total "$A")"
is "Model B uploads{complete} = 1" 1 "$(value 'li707_lea_modelb_uploads_total{verdict="complete"}' "$A")"
is "Model B bytes = 4096" 4096 "$(value li707_lea_modelb_bytes_total "$A")"
is "attachments{complete} = 1" 1 "$(value 'li707_lea_attachments{state="complete"}' "$A")"
f=$(value li707_lea_store_fsyncs_total "$A")
check "fsyncs moved ($f)" [ "${f%.*}" -ge 1 ]
n=$(value li707_lea_store_commit_seconds_count "$A")
check "commit latency observed for each store write ($n >= 5)" [ "${n%.*}" -ge 5 ]
inf=$(value 'li707_lea_store_commit_seconds_bucket{le="+Inf"}' "$A")
is "histogram +Inf bucket = count" "$n" "$inf"
# R-SEC-6: no reference, identifier or uuid in the exposition.
for s in METRICS-LI OTHER-LI alice "$UUID" csp1; do
	check "R-SEC-6 '$s' not in /metrics" not_contains "$A" "$s"
done
if command -v promtool >/dev/null 2>&1; then
	check "promtool check metrics accepts the exposition" sh -c "promtool check metrics <'$A' >'$T/promtool.out' 2>&1"
	[ "$fail" -eq 0 ] || cat "$T/promtool.out" >&2
else
	echo "SKIP: promtool absent (Debian package prometheus): exposition not checked by it"
fi
kill -HUP "$LPID"
for _ in $(seq 50); do grep -q 'configuration reloaded' "$T/lea.log" && break; sleep 0.1; done
scrape reloaded >/dev/null
is "SIGHUP: config generation 2" 2 "$(value li707_lea_config_generation "$T/reloaded.prom")"
kill -TERM "$LPID"
wait "$LPID"
is "SIGTERM: exit 0" 0 "$?"
LPID=
check "the metrics listener is closed after the drain" sh -c "! curl -s -m 2 '$M/healthz' >/dev/null"
summary
