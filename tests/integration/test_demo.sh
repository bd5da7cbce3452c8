#!/usr/bin/env bash
# `make demo` as a test: scripts/demo.sh runs the whole system end to end on loopback (build,
# validate, HTTPS with mTLS and PSK, li707-lea receiving, Model B, list/status, /metrics) and
# must finish with exit 0 and its last step; then both daemons (scripts/demo-csp.sh): events
# submitted to li707-csp reach li707-lea, LI as a collection, LD held for review then approved,
# Model A/C fetched by the LEA, Model B pushed, both sides' status. Arguments: TOOL SRCDIR
# SHARED BUILDDIR.
set -uo pipefail
SRC=$2
BUILD=${4:?BUILDDIR}
for t in curl openssl xmllint python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-demo-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib/check.sh"
bash "$SRC/scripts/demo.sh" "$BUILD" >"$T/out" 2>&1
rc=$?
expect_rc "demo.sh exit status" 0
[ "$rc" -eq 0 ] || tail -20 "$T/out" >&2
check "demo reached its end" contains "$T/out" "Demo finished"
check "demo: every delivery to li707-lea acknowledged" not_contains "$T/out" "ErrorInformation"
check "demo: /healthz ok" contains "$T/out" "/healthz: ok"
check "demo: li707-csp accepted the 5 LI events" contains "$T/out" 'li707-csp submit: 5 accepted, 0 refused'
check "demo: li707-csp accepted the 3 LD events over the socket" contains "$T/out" '"line":3,"status":"accepted","id":8'
check "demo: li707-csp /healthz" contains "$T/out" "li707-csp /healthz: ok"
check "demo: both sides' status" contains "$T/out" "-- li707-lea status"
check "demo: li707-csp status lists the LEA" contains "$T/out" "^  demo  "
check "demo: the LI events in li707-lea" contains "$T/out" "li707-lea holds all 5 LI items"
check "demo: the LD delivery held for review" contains "$T/out" "state=review"
check "demo: the LD delivery approved" contains "$T/out" "^  delivery [0-9]*: approve"
check "demo: the LD events in li707-lea after approval" contains "$T/out" "li707-lea holds all 3 LD items"
check "demo: the LI events in one collection" contains "$T/out" "^    items           5"
check "demo: Model A/B/C complete at the LEA" contains "$T/out" "every attachment complete at the LEA"
check "demo: li707-lea fetched the 4 Model A/C objects" contains "$T/out" "complete 4, mismatch 0"
check "demo: li707-csp served them" contains "$T/out" "li707_csp_files_served_total [1-9]"
check "demo: nothing pending" not_contains "$T/out" "PENDING"
summary
