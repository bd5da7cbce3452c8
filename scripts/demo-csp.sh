# Sourced by scripts/demo.sh (uses its $root $bdir $out $li707 $lea, step, freeport and the
# test PKI in $out/pki): the provider's delivery agent li707-csp and the LEA daemon li707-lea,
# both on loopback, both durable.
#   - an LI reference whose events carry Model A, B and C attachments, submitted together so
#     that they travel as one handoverItemCollection;
#   - an LD reference added with --review: its DeliveryObject waits until it is approved;
#   - li707-lea stores the deliveries, fetches the Model A and C objects from li707-csp's file
#     server (it authenticates with its own client certificate, csp2 here), and li707-csp
#     pushes the Model B object after its record was acknowledged;
#   - healthz/metrics of both, then both sides' `status`.
# Parts whose wiring is not in this tree yet are announced as PENDING instead of run;
# tests/integration/test_demo.sh checks the full flow wherever the wiring is present.
csp="$bdir/li707-csp"
have_deliver=0 have_binary=0 have_fetch=0
[ -f "$root/src/csp/csp_run_deliver.c" ] && have_deliver=1
[ -f "$root/src/csp/csp_run_binary.c" ] && have_binary=1
"$lea" fetch-status --help >/dev/null 2>&1 && have_fetch=1
pending() { echo "  PENDING: $*"; }

step "9. li707-csp and li707-lea: both daemons on loopback (mutual TLS, the test PKI)"
cport=$(freeport); cmetrics=$(freeport); fport=$(freeport)
lport=$(freeport); lmetrics=$(freeport)
mkdir -p "$out/csp-in"
cp -r "$root/samples/attachments" "$out/csp-in/"
lea_fetch_keys=
peer_fetch_keys=
if [ "$have_fetch" = 1 ]; then
	# li707-lea retrieves Model A/C objects itself: its client identity towards the CSP's
	# file server and the CA of that server; objects above 64K are fetched with ranges (C).
	lea_fetch_keys="client_cert = $out/pki/csp2.pem
client_key = $out/pki/csp2.key"
	peer_fetch_keys="fetch_ca = $out/pki/ca.pem
model_c_above = 64K
fetch_range = 64K"
fi
cat > "$out/lea2.conf" <<CONF
[server]
listen = 127.0.0.1:$lport
cert = $out/pki/server.pem
key = $out/pki/server.key
cacert = $out/pki/ca.pem
store = $out/lea2-store
schema_dir = $root/schemas
metrics_listen = 127.0.0.1:$lmetrics
$lea_fetch_keys
[peer csp]
san = csp1.test
references = ACME-LI-0042, XX-ACME-2026-0001
models = A, B, C
$peer_fetch_keys
CONF
cat > "$out/csp.conf" <<CONF
[csp]
country_code = XX
unique_identifier = csp.demo
spool = $out/csp-spool
ingest_listen = unix:$out/csp-ingest.sock
ingest_listen = 127.0.0.1:$cport
attachment_dirs = $out/csp-in
files_listen = 127.0.0.1:$fport
files_url = https://127.0.0.1:$fport/objects/
cert = $out/pki/server.pem
key = $out/pki/server.key
ca = $out/pki/ca.pem
object_lifetime = 3600
metrics_listen = 127.0.0.1:$cmetrics
log_level = info

[lea demo]
url = https://127.0.0.1:$lport/hi1
ca = $out/pki/ca.pem
client_cert = $out/pki/csp1.pem
client_key = $out/pki/csp1.key
san = csp2.test
receiver_country = XX
receiver_id = lea.demo
models = A, B, C
modelb_url = https://127.0.0.1:$lport/binaryData/{id}/
batch_items = 10
batch_wait = 1
CONF
"$lea" --config "$out/lea2.conf" --check-config | sed 's/^/  li707-lea: /'
"$csp" --config "$out/csp.conf" --check-config | sed 's/^/  li707-csp: /'
"$lea" --config "$out/lea2.conf" 2> "$out/lea2.err" &
lea2_pid=$!
"$csp" --config "$out/csp.conf" 2> "$out/csp.err" &
csp_pid=$!
trap 'kill "$srv_pid" "$lea2_pid" "$csp_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 100); do
	grep -q 'listening on' "$out/lea2.err" 2>/dev/null && [ -S "$out/csp-ingest.sock" ] &&
		grep -q started "$out/csp.err" 2>/dev/null && break
	sleep 0.1
done
kill -0 "$lea2_pid" && kill -0 "$csp_pid" || { cat "$out/lea2.err" "$out/csp.err" >&2; exit 1; }
echo "  li707-lea on 127.0.0.1:$lport (HI-1 and Model B), li707-csp ingest on $out/csp-ingest.sock and 127.0.0.1:$cport"
C=(--config "$out/csp.conf")

step "10. References (task data, not configuration): an LI reference, and an LD reference under review"
"$csp" ref add ACME-LI-0042 --lea demo "${C[@]}"
"$csp" ref add XX-ACME-2026-0001 --lea demo --review "${C[@]}"
"$csp" ref list "${C[@]}" | sed 's/^/  /'

step "11. Events in: the provider's platform submits JSON Lines (each acknowledged once fsync'd)"
# The LI reference's events with a Model A (photo), B (note) and C (blob) attachment, and
# the LD reference's: from the samples, their attachment paths relative to attachment_dirs.
grep '"ACME-LI-0042"' "$root/samples/li-events.jsonl" > "$out/li.jsonl"
cat "$root/samples/ld-events.jsonl" > "$out/ld.jsonl"
n_li=$(wc -l < "$out/li.jsonl"); n_ld=$(wc -l < "$out/ld.jsonl")
echo "  $n_li LI events in one request (they travel as one collection; batch_wait = 1 s):"
"$csp" submit "$out/li.jsonl" "${C[@]}" | sed 's/^/  /'
echo "  $n_ld LD events with curl over the Unix socket:"
curl -sS --unix-socket "$out/csp-ingest.sock" --data-binary @"$out/ld.jsonl" http://localhost/events | sed 's/^/  /'

# items in li707-lea's store, for one reference
lea_items() {
	"$lea" list --json --store "$out/lea2-store" --ref "$1" 2>/dev/null |
		python3 -c 'import json,sys
t=sys.stdin.read().strip()
if not t: print(0); sys.exit()
try: v=json.loads(t); print(len(v) if isinstance(v,list) else len(v.get("items",[])))
except ValueError: print(sum(1 for l in t.splitlines() if l.strip()))'
}
wait_items() { # wait_items REF N SECONDS
	for _ in $(seq $(($3 * 10))); do [ "$(lea_items "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}
step "12. Delivery: the LI events reach li707-lea; the LD reference waits for review"
if [ "$have_deliver" = 1 ]; then
	wait_items ACME-LI-0042 "$n_li" 20 || { echo "LI events not delivered" >&2; tail -20 "$out/csp.err" >&2; exit 1; }
	echo "  li707-lea holds all $n_li LI items; the LD reference's delivery is held for review:"
	"$csp" review list "${C[@]}" | sed 's/^/  /'
	[ "$(lea_items XX-ACME-2026-0001)" -eq 0 ] || { echo "a reviewed delivery was sent before approval" >&2; exit 1; }
	rid=$("$csp" review list "${C[@]}" | awk '$1 ~ /^[0-9]+$/ {print $1; exit}')
	[ -n "$rid" ] || { echo "nothing waits for review" >&2; exit 1; }
	echo "  a person reads it (review show $rid, first lines) and approves it:"
	"$csp" review show "$rid" "${C[@]}" > "$out/review.txt"
	head -5 "$out/review.txt" | cut -c1-110 | sed 's/^/    /'
	"$csp" review approve "$rid" "${C[@]}" | sed 's/^/  /'
	wait_items XX-ACME-2026-0001 "$n_ld" 20 || { echo "approved LD delivery did not arrive" >&2; exit 1; }
	echo "  li707-lea holds all $n_ld LD items"
else
	"$csp" status "${C[@]}" | sed 's/^/  /'
	pending "packaging and delivery to the LEA (branch csp-wire-deliver): the events stay queued"
fi

step "13. Binary content: Model B pushed by li707-csp, Model A and C fetched by li707-lea"
if [ "$have_deliver" = 1 ] && [ "$have_binary" = 1 ] && [ "$have_fetch" = 1 ]; then
	ok=0
	for _ in $(seq 200); do
		st=$("$lea" status --store "$out/lea2-store" 2>/dev/null)
		grep -Eqi 'mismatch [1-9]|expired [1-9]' <<<"$st" && break
		if ! grep -Eqi 'to-fetch[^0-9]*[1-9]|fetching[^0-9]*[1-9]|announced[^0-9]*[1-9]|receiving[^0-9]*[1-9]' <<<"$st" &&
			grep -Eqi 'complete[^0-9]*[1-9]' <<<"$st"; then ok=1; break; fi
		sleep 0.1
	done
	[ "$ok" = 1 ] || { echo "attachments not complete at the LEA:" >&2; echo "$st" >&2; exit 1; }
	"$lea" list --store "$out/lea2-store" --ref ACME-LI-0042 | sed 's/^/  /'
	echo "  every attachment complete at the LEA (length and SHA-256 checked against the record)"
	"$lea" fetch-status --store "$out/lea2-store" > "$out/fetch-status.txt" 2>&1 || true
	head -8 "$out/fetch-status.txt" | sed 's/^/  /'
else
	[ "$have_binary" = 1 ] || pending "Model A/C file server and Model B push in li707-csp (branch csp-wire-binary)"
	[ "$have_fetch" = 1 ] || pending "Model A/C retrieval in li707-lea (branch lea-fetch)"
fi

step "14. healthz and metrics of both daemons"
printf '  li707-csp /healthz: '; curl -sS "http://127.0.0.1:$cmetrics/healthz"
curl -sS "http://127.0.0.1:$cmetrics/metrics" | grep -E '^li707_csp_(queue_depth|deliveries|events_accepted_total|sent|push|files)' | head -12 | sed 's/^/  /'
printf '  li707-lea /healthz: '; curl -sS "http://127.0.0.1:$lmetrics/healthz"
curl -sS "http://127.0.0.1:$lmetrics/metrics" | grep -E '^li707_lea_(items_stored_total|attachments)' | sed 's/^/  /'

step "15. Both sides' status"
echo "  -- li707-csp status"
"$csp" status "${C[@]}" | sed 's/^/  /'
echo "  -- li707-lea status"
"$lea" status --store "$out/lea2-store" | sed 's/^/  /'
kill -TERM "$csp_pid"; wait "$csp_pid" || { echo "li707-csp did not stop cleanly" >&2; exit 1; }
kill -TERM "$lea2_pid"; wait "$lea2_pid" || { echo "li707-lea did not stop cleanly" >&2; exit 1; }
