#!/usr/bin/env bash
# make demo: the li707 tool end to end on the sample events:
#   events (JSON Lines) -> build HI1Messages -> validate (strict + XSD) -> show -> respond,
#   Annex D.4 hashes, attachments over HTTPS (mutual TLS and PSK) on loopback, then the LEA
#   daemon li707-lea receiving the deliveries and Model B uploads, and the analyst's view;
#   then both daemons: events submitted to the CSP's agent li707-csp reach li707-lea
#   (scripts/demo-csp.sh: LI and LD references, a collection, a reference under review,
#   Model A and C fetched by the LEA, Model B pushed by the agent), ending with both statuses.
# Usage: scripts/demo.sh BUILD
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$build" in /*) bdir=$build ;; *) bdir=$root/$build ;; esac
li707="$bdir/li707"
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
printf 'sensitive-selector' | "$li707" hash verify "$rec" | sed 's/^/  the right field: /'
if printf 'other' | "$li707" hash verify "$rec" | sed 's/^/  another field: /'; then
  echo "  unexpected match" >&2; exit 1
fi

step "6. HTTPS with mutual TLS and PSK on loopback (generated test PKI)"
srv="$bdir/tests/li707_test_server"
bash "$root/scripts/pki.sh" "$out/pki" >/dev/null
mkdir -p "$out/csp-files" "$out/lea-uploads"
cp "$root/samples/attachments/"* "$out/csp-files/"
"$srv" --cert "$out/pki/server.pem" --key "$out/pki/server.key" --cacert "$out/pki/ca.pem" \
  --allow csp1.test --psk-identity lea1 --psk-file "$out/pki/psk1.key" \
  --listen 127.0.0.1:0 --psk-listen 127.0.0.1:0 --root "$out/csp-files" \
  --upload-dir "$out/lea-uploads" > "$out/srv.out" 2>"$out/srv.err" &
srv_pid=$!
trap 'kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 50); do grep -q '^listen psk' "$out/srv.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '$2=="cert"{print $3}' "$out/srv.out")
pskport=$(awk '$2=="psk"{print $3}' "$out/srv.out")
mtls=(--cacert "$out/pki/ca.pem" --cert "$out/pki/csp1.pem" --key "$out/pki/csp1.key")
sum=$(sha256sum "$root/samples/attachments/blob.bin" | cut -d' ' -f1)
echo "  Model A/C: the LEA fetches an attachment with Range requests over mutual TLS, checksum verified"
"$li707" fetch "${mtls[@]}" --chunk-size 32K --sha256 "$sum" -o "$out/fetched.bin" \
  "https://127.0.0.1:$port/blob.bin"
cmp "$out/fetched.bin" "$root/samples/attachments/blob.bin" && echo "  fetched: identical ($sum)"
echo "  Model B: the CSP POSTs an attachment with Expect: 100-continue"
uuid=$(cat /proc/sys/kernel/random/uuid)
"$li707" post-binary "${mtls[@]}" --content-type image/png \
  "https://127.0.0.1:$port/binaryData/$uuid/" "$root/samples/attachments/photo.png"
cmp "$out/lea-uploads/$uuid" "$root/samples/attachments/photo.png" && echo "  uploaded: identical"
echo "  The same over the PSK listener (RFC 4279)"
"$li707" fetch --psk-identity lea1 --psk-file "$out/pki/psk1.key" -o "$out/psk.bin" \
  "https://127.0.0.1:$pskport/note.txt" && cmp -s "$out/psk.bin" "$root/samples/attachments/note.txt" \
  && echo "  fetched over PSK: identical"
echo "  A certificate that is not on the allow-list is refused, answered like an unknown URL (R-BIN-A2):"
if "$li707" fetch --cacert "$out/pki/ca.pem" --cert "$out/pki/csp2.pem" --key "$out/pki/csp2.key" \
    -o "$out/denied.bin" "https://127.0.0.1:$port/note.txt"; then
  echo "  unexpected success" >&2; exit 1
fi

step "7. The LEA: li707-lea receives the deliveries (mutual TLS and PSK), stores them durably, takes Model B uploads"
lea="$bdir/li707-lea"
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
lport=$(freeport); lpsk=$(freeport); lmetrics=$(freeport)
cat > "$out/lea.conf" <<CONF
[server]
listen = 127.0.0.1:$lport
listen_psk = 127.0.0.1:$lpsk
cert = $out/pki/server.pem
key = $out/pki/server.key
cacert = $out/pki/ca.pem
crl = $out/pki/crl.pem
store = $out/lea-store
schema_dir = $root/schemas
metrics_listen = 127.0.0.1:$lmetrics
[peer csp1]
san = csp1.test
references = ACME-LI-0042, ACME-LI-0043
models = A, B, C
[peer csp-psk]
psk_identity = lea1
psk_file = $out/pki/psk1.key
references = any
models = A, B, C
CONF
"$lea" --config "$out/lea.conf" --check-config | sed 's/^/  /'
"$lea" --config "$out/lea.conf" 2> "$out/lea.err" &
lea_pid=$!
trap 'kill "$srv_pid" "$lea_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 50); do grep -q '(psk)' "$out/lea.err" 2>/dev/null && break; sleep 0.1; done
echo "  the messages are rebuilt with the LEA's Model B URL scheme (R-BIN-B1)"
"$li707" build --base-dir "$root/samples" --collection 2 --out-dir "$out/to-lea" \
  --lea-url-scheme "https://127.0.0.1:$lport/binaryData/{uuid}/" < "$root/samples/li-events.jsonl" >/dev/null 2>&1
"$li707" build --base-dir "$root/samples" --out-dir "$out/to-lea-ld" < "$root/samples/ld-events.jsonl" >/dev/null 2>&1
for f in "$out"/to-lea/*.xml; do
  printf '  send (mTLS) %s: ' "$(basename "$f")"
  "$li707" send "${mtls[@]}" "https://127.0.0.1:$lport/hi1" "$f" | tail -1
done
for f in "$out"/to-lea-ld/*.xml; do
  printf '  send (PSK)  %s: ' "$(basename "$f")"
  "$li707" send --psk-identity lea1 --psk-file "$out/pki/psk1.key" "https://127.0.0.1:$lpsk/hi1" "$f" | tail -1
done
echo "  the same message again: acknowledged, not stored twice"
printf '  send again %s: ' "$(basename "$f")"
"$li707" send --psk-identity lea1 --psk-file "$out/pki/psk1.key" "https://127.0.0.1:$lpsk/hi1" "$f" | tail -1
echo "  Model B uploads, after their DeliveryObjects (Expect: 100-continue, SHA-256 checked)"
bo="//*[local-name()='binaryObject']"
for f in "$out"/to-lea/*.xml; do
  n=$(xmllint --xpath "count($bo)" "$f")
  for i in $(seq 1 "$n"); do
    url=$(xmllint --xpath "string(($bo)[$i]/*[local-name()='url'])" "$f")
    case "$url" in *"/binaryData/"*) ;; *) continue ;; esac
    name=$(xmllint --xpath "string(($bo)[$i]/*[local-name()='originalFilename'])" "$f")
    ct=$(xmllint --xpath "string(($bo)[$i]/*[local-name()='contentType'])" "$f")
    printf '  post-binary %s: ' "$name"
    "$li707" post-binary "${mtls[@]}" --content-type "${ct:-application/octet-stream}" "$url" \
      "$root/samples/attachments/$name" | tail -1
  done
done
step "8. The analyst's view: li707-lea list and status"
"$lea" list --store "$out/lea-store"
echo
"$lea" status --store "$out/lea-store"
echo
echo "  metrics_listen: GET /healthz and a few lines of GET /metrics (Prometheus text format)"
printf '  /healthz: '; curl -sS "http://127.0.0.1:$lmetrics/healthz"
curl -sS "http://127.0.0.1:$lmetrics/metrics" |
  grep -E '^li707_lea_(requests_total|actions_total|items_stored_total|attachments)' | sed 's/^/  /'
kill -TERM "$lea_pid"; wait "$lea_pid" || { echo "li707-lea did not stop cleanly" >&2; exit 1; }
trap 'kill "$srv_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$out"' EXIT
. "$root/scripts/demo-csp.sh"
step "Demo finished"
