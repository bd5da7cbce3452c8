#!/usr/bin/env bash
# make demo: the li707 tool end to end on the sample events:
#   events (JSON Lines) -> build HI1Messages -> validate (strict + XSD) -> show -> respond.
# Usage: scripts/demo.sh BUILD
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
li707="$root/$build/li707"
export LI707_SCHEMA_DIR="$root/schemas"
shared="$root/../shared/schemas"
out=$(mktemp -d /tmp/li707-demo.XXXXXX)
trap 'rm -rf "$out"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Build HI1Messages from the sample events (one item per message, and collections of 3)"
"$li707" build --base-dir "$root/samples" --out-dir "$out/li" < "$root/samples/li-events.jsonl"
"$li707" build --base-dir "$root/samples" --collection 3 --out-dir "$out/li-coll" < "$root/samples/li-events.jsonl"
"$li707" build --base-dir "$root/samples" --out-dir "$out/ld" < "$root/samples/ld-events.jsonl"
ls -1 "$out"/li "$out"/li-coll "$out"/ld | sed 's/^/  /'

step "2. Validate every message (strict TS 103 707 checks$( [ -d "$shared" ] && echo ' + XSD against the official TS 103 120 set'))"
schemas=()
[ -d "$shared" ] && schemas=(--schemas "$shared")
"$li707" validate "${schemas[@]}" "$out"/li/*.xml "$out"/li-coll/*.xml "$out"/ld/*.xml

step "3. Show a collection as a person reads it"
first=$(ls "$out"/li-coll/*.xml | head -1)
"$li707" show "$first"

step "4. The HI-1 response an LEA returns for it"
"$li707" respond "$first"

step "5. Annex D.4: salted hash of a sensitive field"
rec=$(printf 'sensitive-selector' | "$li707" hash create)
echo "  record: $rec"
printf 'sensitive-selector' | "$li707" hash verify "$rec" && echo "  verify with the right field: match"
if printf 'other' | "$li707" hash verify "$rec"; then echo "  unexpected match" >&2; exit 1; else echo "  verify with another field: mismatch (exit 1)"; fi

step "Demo finished"
