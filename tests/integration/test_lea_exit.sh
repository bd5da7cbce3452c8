#!/usr/bin/env bash
# li707-lea's exit statuses as li707-lea(8) documents them (docs/exit-codes.md, one table
# LI707_ERROR_MAP): 2 usage, 3 the configuration cannot be read or the daemon cannot start
# (store, listener), 4 the configuration is not valid, 5 internal (the schemas cannot be
# loaded). Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed".
set -uo pipefail
SRC=$2
BUILD=${4:?BUILDDIR}
LEA=$BUILD/li707-lea
[ -x "$LEA" ] || { echo "SKIP: $LEA not built"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl missing"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-exit-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib/check.sh"

bash "$SRC/scripts/pki.sh" "$T/pki" >/dev/null || { echo "pki.sh failed"; exit 1; }
conf() { # conf FILE SCHEMA_DIR STORE LISTEN
	cat >"$1" <<EOF2
[server]
listen = ${4:-127.0.0.1:0}
cert = $T/pki/server.pem
key = $T/pki/server.key
cacert = $T/pki/ca.pem
store = $3
schema_dir = $2
xsd_check = yes
drain_timeout = 2

[peer csp1]
san = csp1.test
references = any
models = B
EOF2
}
mkdir -p "$T/emptyschemas" "$T/store"
conf "$T/good.conf" "$SRC/schemas" "$T/store"
conf "$T/noschemas.conf" "$T/emptyschemas" "$T/store"
printf '[server]\nlisten = nonsense\n' >"$T/bad.conf"
# a store path below a regular file can never be created
touch "$T/file"
conf "$T/nostore.conf" "$SRC/schemas" "$T/file/store"

run "$LEA" --no-such-option
expect_rc "usage: unknown option -> 2" 2
run "$LEA" --config "$T/good.conf" --check-config
expect_rc "check-config of a valid file -> 0" 0
run "$LEA" --config "$T/missing.conf" --check-config
expect_rc "check-config of a missing file -> 3" 3
run "$LEA" --config "$T/missing.conf"
expect_rc "daemon with a missing file -> 3" 3
run "$LEA" --config "$T/bad.conf" --check-config
expect_rc "check-config of an invalid file -> 4" 4
run "$LEA" --config "$T/bad.conf"
expect_rc "daemon with an invalid file -> 4" 4
run "$LEA" --config "$T/noschemas.conf"
expect_rc "daemon whose schemas cannot be loaded -> 5" 5
run "$LEA" --config "$T/nostore.conf"
expect_rc "daemon whose store cannot be opened -> 3" 3
summary
