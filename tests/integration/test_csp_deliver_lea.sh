#!/usr/bin/env bash
# li707-csp delivery engine (src/csp/csp_deliver.c) end to end, driven by
# tests/helpers/csp_deliver_drive over messages made by `li707 build`:
#  1. into a real li707-lea (mutual TLS, test PKI): every delivery acknowledged, stored once,
#     in SequenceNumber order per reference, the end (LastSequence) seen, no gaps (R-DEL-6);
#  2. two LEAs at once, one dead (accepts TCP, never answers): the live one's deliveries all
#     complete (R-RSP-1), the dead one's are retried with capped exponential backoff;
#  3. a receiver that is not li707 (Python's http.server + ssl, canned DELIVERResponse) that
#     answers the first POST 503 with Retry-After: 1: honoured, then all done in order.
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; exit 77 when
# something it needs is missing.
set -uo pipefail

TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
DRIVE=$BUILD/tests/csp_deliver_drive
for t in openssl sqlite3 python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }
[ -x "$DRIVE" ] || { echo "SKIP: $DRIVE not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-csp-deliver-lea-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEPT:-}" ] && cp -r "$T" "$KEEPT"
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/check.sh"

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" || { echo "pki.sh failed"; exit 1; }
TLS=(--cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")

# ---- deliveries: two references, several DeliveryObjects each, singles and collections ----
events() { # events REF-KEY REF N
	for i in $(seq "$3"); do
		printf '{"%s":"%s","timestamp":"2026-03-01T10:%02d:00Z"}\n' "$1" "$2" "$i"
	done
}
{ events liid CSPD-LI-0001 6; events ldid XX-CSPD-0001 4; } |
	"$TOOL" build --out-dir "$T/d1" --sender-id acme --receiver-id lea1 >/dev/null 2>"$T/build.err"
{ events liid CSPD-LI-0002 7; } |
	"$TOOL" build --collection 3 --out-dir "$T/d2" --sender-id acme --receiver-id lea1 \
		>/dev/null 2>>"$T/build.err"
is "built 10 single-item deliveries" 10 "$(ls "$T/d1" | wc -l)"
is "built 3 collections" 3 "$(ls "$T/d2" | wc -l)"
mkdir -p "$T/dall" && cp "$T"/d1/*.xml "$T"/d2/*.xml "$T/dall/"

# ---- 1. a real li707-lea ----
ST=$T/store
cat >"$T/lea.conf" <<CONF
[server]
listen = 127.0.0.1:0
cert = $P/server.pem
key = $P/server.key
cacert = $P/ca.pem
store = $ST
delivery_path = /hi1
binary_path = /binaryData/
schema_dir = $SRC/schemas

[peer csp1]
san = csp1.test
references = CSPD-LI-0001, XX-CSPD-0001, CSPD-LI-0002
models = A, B, C
CONF
"$LEA" --config "$T/lea.conf" 2>"$T/lea.log" &
PIDS+=($!)
for _ in $(seq 100); do
	grep -q 'listening on .*(mtls)' "$T/lea.log" 2>/dev/null && break
	sleep 0.1
done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (mtls).*/\1/p' "$T/lea.log" | head -1)
[ -n "$PORT" ] || { echo "li707-lea did not start:"; cat "$T/lea.log"; exit 1; }

run "$DRIVE" "${TLS[@]}" --inflight 4 --lea lea1 --url "https://127.0.0.1:$PORT/hi1" --dir "$T/dall"
expect_rc "li707-lea: every delivery settled" 0
cp "$T/out" "$T/drive1.out"
is "li707-lea: 13 done" 13 "$(grep -c '^lea1 done ' "$T/drive1.out")"
check "li707-lea: nothing parked or retried" not_contains "$T/drive1.out" '^lea1 \(park\|retry\) '
contains "$T/drive1.out" 'stats sent=13 done=13 retried=0 parked=0 pending=0'; check "li707-lea: counters" [ $? -eq 0 ]
# Order per reference: the done lines of each reference come in SequenceNumber order.
inorder() { # inorder FILE LEA: each ref's seqs ascending in the done lines
	awk -v lea="$2" '$1 == lea && $2 == "done" { split($4, r, "="); split($5, s, "=");
		if (s[2] + 0 <= last[r[2]] + 0) bad = 1; last[r[2]] = s[2] } END { exit bad }' "$1"
}
check "li707-lea: done in order per reference (R-DEL-6)" inorder "$T/drive1.out" lea1
DB=$ST/index.sqlite; [ -f "$DB" ] || DB=
if [ -n "$DB" ]; then
	is "li707-lea stored 13 deliveries once" 13 "$(sqlite3 "$DB" 'SELECT count(*) FROM deliveries')"
	is "li707-lea: no duplicates" 0 "$(sqlite3 "$DB" 'SELECT coalesce(sum(duplicates),0) FROM deliveries')"
	is "li707-lea: 3 streams, all ended, none missing (R-DEL-6)" "3|3|0" \
		"$(sqlite3 "$DB" 'SELECT count(*), sum(ended), sum(missing) FROM streams')"
	is "li707-lea: arrival order = sequence order per DeliveryID" 0 \
		"$(sqlite3 "$DB" 'SELECT count(*) FROM deliveries a JOIN deliveries b ON a.delivery_id = b.delivery_id AND a.id < b.id AND a.sequence > b.sequence')"
else
	bad "li707-lea store database not found in $ST"
fi
check "li707-lea log has no reference" not_contains "$T/lea.log" 'CSPD-LI-000'

# ---- 2. two LEAs, one dead: a listener that accepts and never answers ----
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' >"$T/dead.port" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/dead.port" ] && break; sleep 0.1; done
DEAD=$(cat "$T/dead.port")
rm -rf "$ST"/*  # the same deliveries again: a fresh store
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null
"$LEA" --config "$T/lea.conf" 2>"$T/lea2.log" &
PIDS[0]=$!
for _ in $(seq 100); do
	grep -q 'listening on .*(mtls)' "$T/lea2.log" 2>/dev/null && break
	sleep 0.1
done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (mtls).*/\1/p' "$T/lea2.log" | head -1)
run "$DRIVE" "${TLS[@]}" --inflight 2 --retry-min 100 --retry-max 1600 --timeout-ms 300 \
	--run-ms 6000 --lea dead --url "https://127.0.0.1:$DEAD/hi1" --dir "$T/dall" \
	--lea live --url "https://127.0.0.1:$PORT/hi1" --dir "$T/dall"
expect_rc "dead LEA: its deliveries are still pending at the end" 1
cp "$T/out" "$T/drive2.out"
is "R-RSP-1: the live LEA's 13 deliveries all done despite the dead one" 13 \
	"$(grep -c '^live done ' "$T/drive2.out")"
check "R-RSP-1: live LEA in order per reference" inorder "$T/drive2.out" live
check "dead LEA: nothing done" not_contains "$T/drive2.out" '^dead done '
check "dead LEA: timeouts retried" contains "$T/drive2.out" '^dead retry .*error=timeout'
# Backoff: every delay within [retry_min, retry_max]; it grows (some delay above 2 x retry_min,
# which the first retry's ceiling cannot give); a reference is retried, not hammered.
awk '$1 == "dead" && $2 == "retry" { split($6, d, "="); if (d[2] + 0 < 50 || d[2] + 0 > 1650) bad = 1;
	if (d[2] + 0 > 200) grew = 1 } END { exit bad || !grew }' "$T/drive2.out"
check "dead LEA: capped exponential backoff with jitter observed" [ $? -eq 0 ]
n_retry=$(grep -c '^dead retry ' "$T/drive2.out")
check "dead LEA: retried (got $n_retry), at most one in flight per reference" \
	[ "$n_retry" -ge 4 ] && [ "$n_retry" -le 60 ]

# ---- 3. a receiver that is not li707 ----
python3 "$(dirname "$0")/peers/hi1_canned_receiver.py" --cert "$P/server.pem" --key "$P/server.key" \
	--cacert "$P/ca.pem" --log "$T/py.log" --fail-first 1 >"$T/py.port" 2>"$T/py.err" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/py.port" ] && break; sleep 0.1; done
PYPORT=$(awk '/^PORT/ {print $2}' "$T/py.port")
[ -n "$PYPORT" ] || { echo "python receiver did not start:"; cat "$T/py.err"; exit 1; }
run "$DRIVE" "${TLS[@]}" --inflight 3 --retry-min 100 --retry-max 400 \
	--lea py --url "https://localhost:$PYPORT/hi1" --dir "$T/dall"
expect_rc "python receiver: every delivery settled" 0
cp "$T/out" "$T/drive3.out"
is "python receiver: 13 done" 13 "$(grep -c '^py done ' "$T/drive3.out")"
is "python receiver: one 503 retried" 1 "$(grep -c '^py retry .*503' "$T/drive3.out")"
d=$(awk '$2 == "retry" { split($6, d, "="); print d[2] }' "$T/drive3.out")
check "python receiver: Retry-After 1 honoured over retry_max 400 (delay ${d:-none} ms)" \
	[ "${d:-0}" -ge 900 ]
check "python receiver: done in order per reference" inorder "$T/drive3.out" py
# What arrived: 14 POSTs; per reference non-decreasing SequenceNumbers.
is "python receiver: 14 POSTs arrived" 14 "$(wc -l <"$T/py.log")"
awk '{ if ($3 + 0 < last[$2] + 0) bad = 1; last[$2] = $3 } END { exit bad }' "$T/py.log"
check "python receiver: arrivals in SequenceNumber order per reference" [ $? -eq 0 ]

summary
