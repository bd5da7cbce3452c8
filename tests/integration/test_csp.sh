#!/usr/bin/env bash
# li707-csp, wave 1: --check-config of the commented example, references (R-RSP-2, R-SEC-7),
# submit with good, malformed and oversize events and hostile attachment paths, ingest over
# the Unix socket and loopback HTTP with curl, the control socket (commands while the daemon
# runs), status and metrics, SIGHUP, and `kill -9` of the daemon during a submit storm: after
# the restart every acknowledged queue id is in the store exactly once and nothing else is
# lost. Logs never contain a reference or a party identifier (R-SEC-6).
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; 77 = skipped.
set -uo pipefail
SRC=$2
BUILD=${4:?BUILDDIR}
CSP=$BUILD/li707-csp
for t in curl sqlite3 jq; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$CSP" ] || { echo "SKIP: $CSP not built"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-csp-XXXXXX")
DPID=
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/check.sh"

# ---- the commented example parses (its files made to exist here) ----
mkdir -p "$T/etc"
for f in csp.crt csp.key lea-ca.crt csp-client.crt csp-client.key; do echo x >"$T/etc/$f"; done
sed "s#/etc/li707/#$T/etc/#g" "$SRC/docs/examples/li707-csp.conf" >"$T/example.conf"
run "$CSP" --config "$T/example.conf" --check-config
expect_rc "example --check-config" 0
check "example: configuration OK" contains "$T/out" "configuration OK"

# ---- our configuration ----
mkdir -p "$T/att/sub" "$T/outside"
cat >"$T/csp.conf" <<EOF2
[csp]
country_code = XX
unique_identifier = csp.test
spool = $T/spool
ingest_listen = unix:$T/ingest.sock
ingest_listen = 127.0.0.1:0
attachment_dirs = $T/att
max_event_bytes = 2K
max_attachment_bytes = 1K
metrics_listen = 127.0.0.1:0
files_url = https://csp.test/o/

[lea bka]
url = https://lea.test/hi1
receiver_country = DE
receiver_id = bka
models = A, B
modelb_url = https://lea.test/binaryData/{id}/
san = lea.test
EOF2
run "$CSP" --config "$T/csp.conf" --check-config
expect_rc "--check-config" 0
sed 's/^models = A, B$/models = A, D/' "$T/csp.conf" >"$T/bad.conf"
run "$CSP" --config "$T/bad.conf" --check-config
expect_rc "bad models: exit 4" 4
check "bad models: line and key named" contains "$T/err" "bad.conf:[0-9]*: lea 'bka': models"

# ---- references ----
LIID=TESTLIID-7781
LDID=DE-csp-7782
run "$CSP" ref add "$LIID" --lea bka --config "$T/csp.conf"
expect_rc "ref add LIID" 0
run "$CSP" ref add "$LDID" --lea bka --review --config "$T/csp.conf"
expect_rc "ref add LDID --review" 0
run "$CSP" ref add "$LIID" --lea bka --config "$T/csp.conf"
expect_rc "ref add twice: refused" 1
run "$CSP" ref add OTHER-1 --lea nobody --config "$T/csp.conf"
expect_rc "ref add unknown LEA: refused" 1
SALT=000102030405060708090a0b0c0d0e0f
run "$CSP" ref add HASHED-1 --lea bka --field +4917012345 --salt "$SALT" \
	--hash 0000000000000000000000000000000000000000000000000000000000000000 --config "$T/csp.conf"
expect_rc "R-SEC-7: a mismatching Annex D.4 triple is refused" 1
check "R-SEC-7: the refusal says why" contains "$T/err" "R-SEC-7"
run "$CSP" ref add ENDED-1 --lea bka --until 2001-01-01T00:00:00Z --config "$T/csp.conf"
expect_rc "ref add --until (past)" 0
run "$CSP" ref list --json --config "$T/csp.conf"
expect_rc "ref list --json" 0
is "ref list: three references" 3 "$(jq length "$T/out")"
is "ref list: the LDID is LD with review" "LD true" "$(jq -r '.[1].kind + " " + (.[1].review|tostring)' "$T/out")"

# ---- submit with the daemon stopped (the CLI writes the store itself) ----
head -c 600 /dev/urandom >"$T/att/ok.bin"
head -c 2000 /dev/urandom >"$T/att/big.bin"
echo secret >"$T/outside/secret.txt"
ln -s "$T/outside/secret.txt" "$T/att/escape.txt"
ln -s "$T/att/ok.bin" "$T/att/sub/inside.bin"
ev() { # ev REF-KEY REF MARKER [extra json]
	printf '{"%s":"%s","timestamp":"2026-01-01T00:00:00Z","sender":{"ids":[{"format":"EmailAddress","value":"%s@party.test"}]}%s}\n' "$1" "$2" "$3" "${4:-}"
}
{
	ev liid "$LIID" good1 ',"attachments":[{"path":"ok.bin"}],"conversation":"conv-secret"'
	echo '{"liid": broken'
	ev liid UNKNOWN-1 unknown1
	ev liid "$LIID" oversize1 ",\"csp\":{\"schema\":\"urn:x\",\"xml\":\"<x:a xmlns:x='urn:x'>$(head -c 2100 /dev/zero | tr '\0' a)</x:a>\"}"
	ev liid "$LIID" bigatt ',"attachments":[{"path":"big.bin"}]'
	ev liid "$LIID" dotdot ',"attachments":[{"path":"../outside/secret.txt"}]'
	ev liid "$LIID" abs ',"attachments":[{"path":"'"$T"'/outside/secret.txt"}]'
	ev liid "$LIID" symlink ',"attachments":[{"path":"escape.txt"}]'
	ev liid "$LIID" inside ',"attachments":[{"path":"sub/inside.bin","model":"B"}]'
	ev liid ENDED-1 ended1
	ev ldid "$LDID" good2 ',"conversation":"conv-secret"'
	ev liid "$LIID" modelc ',"attachments":[{"path":"ok.bin","model":"C"}]'
} >"$T/events.jsonl"
run "$CSP" submit "$T/events.jsonl" --config "$T/csp.conf"
expect_rc "submit: some refused -> exit 1" 1
res() { jq -r "select(.line==$1) | .status + \" \" + (.error // (.id|tostring))" "$T/out"; }
check "line 1 accepted" contains <(res 1) "^accepted "
check "line 2 malformed: json error" contains <(res 2) "refused json: "
check "line 3 unknown reference: R-RSP-2" contains <(res 3) "refused liid: unknown or closed reference (R-RSP-2)"
check "line 4 oversize event" contains <(res 4) "refused line: longer than max_event_bytes"
check "line 5 oversize attachment" contains <(res 5) "refused attachments\[0\]: larger than max_attachment_bytes"
check "line 6 .. refused" contains <(res 6) 'refused attachments\[0\].path: must not contain ".."'
check "line 7 absolute path outside refused" contains <(res 7) "refused attachments\[0\].path: outside attachment_dirs"
check "line 8 symlink escape refused" contains <(res 8) "refused attachments\[0\].path: outside attachment_dirs"
check "line 9 symlink inside accepted" contains <(res 9) "^accepted "
check "line 10 reference past --until: R-RSP-2" contains <(res 10) "refused liid: the reference ended"
check "line 11 LDID accepted" contains <(res 11) "^accepted "
check "line 12 model not agreed: R-BIN-1" contains <(res 12) "R-BIN-1"
is "submit: 12 results" 12 "$(wc -l <"$T/out")"
check "no value in any error" not_contains "$T/out" "party.test\|secret\|UNKNOWN-1\|$LIID"
DB=$T/spool/csp.db
is "objects: the two accepted attachments" 2 "$(sqlite3 "$DB" 'select count(*) from objects')"
is "spool: exactly their files (refused ones removed)" 2 "$(find "$T/spool/objects" -type f | wc -l)"
is "attachment hard-linked into the spool" 3 "$(stat -c %h "$T/att/ok.bin")"
is "sha256 of the spooled attachment" "$(sha256sum <"$T/att/ok.bin" | cut -d' ' -f1)" \
	"$(sqlite3 "$DB" "select sha256 from objects where model='A'")"
is "model from the size rule (A) and the event (B)" "A B" "$(sqlite3 "$DB" 'select group_concat(model, " ") from (select model from objects order by id)')"
check "conversation key not in the stored event" not_contains <(sqlite3 "$DB" 'select json from events') "conv-secret"
is "conversations: level 0 in each reference" "0|0 0|0" "$(sqlite3 "$DB" 'select group_concat(app_level || "|" || app_seq, " ") from events where app_level is not null')"

# ---- the daemon ----
# a file left in the spool by a crash between spool and commit: swept at start
mkdir -p "$T/spool/objects/ab"
echo orphan >"$T/spool/objects/ab/abababab-0000-4000-8000-000000000000"
echo partial >"$T/spool/tmp/cut-copy"
start_daemon() {
	local n
	n=$(grep -c "li707-csp .* started" "$T/daemon.log" 2>/dev/null)
	"$CSP" --config "$T/csp.conf" 2>>"$T/daemon.log" &
	DPID=$!
	wait_started "$T/daemon.log" "li707-csp .* started" "$DPID" "${n:-0}"
}
start_daemon
check "daemon started" kill -0 "$DPID"
check "start: orphan spool file removed" test ! -e "$T/spool/objects/ab/abababab-0000-4000-8000-000000000000"
check "start: tmp emptied" test ! -e "$T/spool/tmp/cut-copy"
is "start: the accepted attachments kept" 2 "$(find "$T/spool/objects" -type f | wc -l)"
check "start: the sweep is logged" contains "$T/daemon.log" "spool sweep: 2 files"
PORT=$(grep -o 'ingest on 127.0.0.1:[0-9]*' "$T/daemon.log" | tail -1 | cut -d: -f2)
MPORT=$(grep -o 'metrics on 127.0.0.1:[0-9]*' "$T/daemon.log" | tail -1 | cut -d: -f2)
run curl -sS --unix-socket "$T/ingest.sock" --data-binary @- http://localhost/events < <(ev liid "$LIID" curlunix1; ev liid "$LIID" curlunix2)
check "curl --unix-socket: two accepted" is "curl unix" "accepted accepted" "$(jq -r .status "$T/out" | xargs)"
run curl -sS --data-binary @- "http://127.0.0.1:$PORT/events" < <(ev liid "$LIID" curltcp1; echo 'nope')
is "curl loopback: accepted then refused" "accepted refused" "$(jq -r .status "$T/out" | xargs)"
run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/events"
is "GET /events: 405" 405 "$(cat "$T/out")"
run curl -sS -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary x "http://127.0.0.1:$PORT/events"
is "chunked body: 411" 411 "$(cat "$T/out")"
run "$CSP" submit --config "$T/csp.conf" < <(ev liid "$LIID" viasubmit)
expect_rc "submit through the running daemon" 0
check "submit: through the daemon, accepted" contains "$T/out" '"status":"accepted"'
run "$CSP" ref add LIVE-1 --lea bka --config "$T/csp.conf"
expect_rc "ref add while the daemon runs (control socket)" 0
run "$CSP" status --json --config "$T/csp.conf"
expect_rc "status --json" 0
# events queued + deliveries not done (packaging runs now: events become deliveries)
Q=$(sqlite3 "$DB" "select (select count(*) from events where state='queued') + (select count(*) from deliveries where state in ('review','ready','inflight','parked'))")
is "status: queue depth = queued events + deliveries not done" "$Q" "$(jq '.leas[0].queue_depth' "$T/out")"
is "status: references" "4 0" "$(jq -r '"\(.refs.open) \(.refs.closed)"' "$T/out")"
run "$CSP" retry 42 --config "$T/csp.conf"
expect_rc "retry of an unknown delivery" 1
run curl -sS "http://127.0.0.1:$MPORT/metrics"
check "metrics: queue depth" contains "$T/out" "li707_csp_queue_depth{lea=\"bka\"} $Q"
check "metrics: accepted counter" contains "$T/out" "li707_csp_events_accepted_total [1-9]"
check "metrics: refused counter" contains "$T/out" "li707_csp_events_refused_total [1-9]"
check "metrics: oldest age" contains "$T/out" 'li707_csp_oldest_age_seconds{lea="bka"}'
kill -HUP "$DPID"
sleep 0.5
check "SIGHUP: reloaded" contains "$T/daemon.log" "configuration reloaded"

# ---- kill -9 during a submit storm ----
storm() { # storm N: requests of 20 events each, acknowledged ids to $T/ack.N
	local n=$1 i k
	for i in $(seq 60); do
		for k in $(seq 20); do ev liid "$LIID" "storm-$n-$i-$k"; done >"$T/req.$n"
		curl -sS --max-time 10 --unix-socket "$T/ingest.sock" --data-binary @"$T/req.$n" \
			http://localhost/events 2>/dev/null | jq -r 'select(.status=="accepted") | .id' >>"$T/ack.$n" || break
	done
}
for n in 1 2 3; do : >"$T/ack.$n"; storm "$n" & done
sleep 1.5
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
DPID=
wait
cat "$T"/ack.* | sort >"$T/acked"
ACKED=$(wc -l <"$T/acked")
check "storm: some events acknowledged before the kill" test "$ACKED" -gt 0
start_daemon
check "restart after kill -9" kill -0 "$DPID"
sqlite3 "$DB" "select id from events where cast(json as text) like '%storm-%'" | sort >"$T/stored"
is "every acknowledged id is in the store" 0 "$(comm -23 "$T/acked" "$T/stored" | wc -l)"
is "no acknowledged id twice" 0 "$(uniq -d "$T/acked" | wc -l)"
is "no storm event stored twice" 0 "$(sqlite3 "$DB" "select count(*) - count(distinct json) from events where cast(json as text) like '%storm-%'")"
check "store integrity" contains <(sqlite3 "$DB" 'pragma integrity_check') '^ok$'
kill -TERM "$DPID"
wait "$DPID"
rc=$?
is "SIGTERM: exit 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 20 "$T/daemon.log"
DPID=

# ---- R-SEC-6: no reference, party identifier or conversation key in the logs ----
cat "$T/daemon.log" >"$T/all.log"
check "logs: no LIID" not_contains "$T/all.log" "$LIID"
check "logs: no LDID" not_contains "$T/all.log" "$LDID"
check "logs: no party identifier" not_contains "$T/all.log" "party.test"
check "logs: no conversation key" not_contains "$T/all.log" "conv-secret"
summary
