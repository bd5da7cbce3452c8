#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each, seeded from fuzz/corpus/<target>
# (the seeds are copied to a scratch corpus so runs never modify the committed ones).
# Usage: scripts/fuzz.sh BUILD SECONDS
set -euo pipefail
build=${1:?build dir}; secs=${2:?seconds}
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/fuzz/corpus-run"
mkdir -p "$work"
status=0
for t in "$build"/fuzz/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  mkdir -p "$work/$name"
  [ -d "$root/fuzz/corpus/$name" ] && cp -n "$root/fuzz/corpus/$name"/* "$work/$name"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  if ! ASAN_OPTIONS=detect_leaks=1 "$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$name-" "$work/$name" \
        > "$work/$name.log" 2>&1; then
    echo "fuzz: $name FAILED (log: $work/$name.log)"; tail -40 "$work/$name.log"; status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$work/$name.log" | tail -2 | sed 's/^/  /'
  fi
done
exit $status
