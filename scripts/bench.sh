#!/usr/bin/env bash
# make bench: runs every benchmark, each against its baseline in the same invocation, appends
# the figures to BUILD/bench/results.tsv and ends with a table of this run's figures.
# Line format: name<TAB>value<TAB>unit<TAB>baseline-value<TAB>ratio
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared/schemas"
outdir="$root/$build/bench"
mkdir -p "$outdir"
run=$(mktemp -d /tmp/li707-bench.XXXXXX)
trap 'rm -rf "$run"' EXIT
: > "$run/results.tsv"
printf '# run %s %s\n' "$(date -u +%FT%TZ)" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo -)" >> "$outdir/results.tsv"

if [ ! -f "$shared/ts103120_all.xsd" ]; then
  echo "bench: $shared absent: the codec benchmark needs the official schemas for its baseline" >&2
  exit 1
fi
"$root/$build/bench/bench_codec" "$run" "$shared" "$root/schemas"
# Transport (issue 3): our server vs nginx, our client vs curl, on loopback with the test PKI.
bash "$root/bench/bench_server.sh" "$root/$build" "$run"
bash "$root/bench/bench_client.sh" "$root/$build" "$run"
# The LEA daemon (issue 4): HI-1 deliveries into the durable store vs nginx, Model B upload.
bash "$root/bench/bench_lea.sh" "$root/$build" "$run"
# Its Model A/C retrieval (issue 12) vs curl on the same nginx; 77: li707-lea has no retrieval.
bash "$root/bench/bench_lea_fetch.sh" "$root/$build" "$run" || [ $? -eq 77 ]
# The CSP's agent (issue 11): li707-csp ingest, end to end into li707-lea, Model A/C serving vs
# nginx, latency under a Model B push, peak RSS (sizes: BENCH_CSP_* in bench/bench_csp.sh).
bash "$root/bench/bench_csp.sh" "$root/$build" "$run" || [ $? -eq 77 ]

cat "$run/results.tsv" >> "$outdir/results.tsv"
echo
echo "== li707 benchmark figures (this run; all runs in $outdir/results.tsv)"
{ printf 'name\tvalue\tunit\tbaseline\tratio\n'; cat "$run/results.tsv"; } |
  awk -F'\t' '{ printf "%-28s %14s %-9s %14s %8s\n", $1, $2, $3, $4, $5 }'
