#!/usr/bin/env bash
# `make demo` as a test: scripts/demo.sh runs the whole system end to end on loopback (build,
# validate, HTTPS with mTLS and PSK, li707-lea receiving, Model B, list/status, /metrics) and
# must finish with exit 0 and its last step. Arguments: TOOL SRCDIR SHARED BUILDDIR.
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
summary
