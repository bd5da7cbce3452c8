#!/usr/bin/env bash
# Our client against our server: `li707 fetch` and `li707 post-binary` (src/common/
# http_client.c) against tests/helpers/li707_test_server (src/common/http_server.c), over
# mutual TLS and PSK, with the test PKI of scripts/pki.sh. Covers R-SEC-2 (mTLS both ways),
# R-SEC-4 (PSK), R-BIN-B2/B3 (Model B upload with Expect: 100-continue), R-BIN-C1/C2 (Range
# fetch, resume after the client was killed mid-transfer).
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Ends with "N passed, M failed"; 77 = skipped.
set -uo pipefail

TOOL=$1
SRC=$2
BUILD=${4:?BUILDDIR}
SRV=$BUILD/tests/li707_test_server
for t in openssl sha256sum cmp; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
[ -x "$SRV" ] || { echo "SKIP: $SRV not built"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-interop-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/lib/check.sh"

P=$T/pki
bash "$SRC/scripts/pki.sh" "$P" >/dev/null || { echo "pki.sh failed"; exit 1; }
mkdir -p "$T/root" "$T/up"
head -c 3000000 /dev/urandom >"$T/root/small.bin"
head -c 8000000 /dev/urandom >"$T/root/mid.bin"
head -c 64000000 /dev/urandom >"$T/root/big.bin"

"$SRV" --cert "$P/server.pem" --key "$P/server.key" --cacert "$P/ca.pem" --allow csp1.test \
	--psk-identity lea1 --psk-file "$P/psk1.key" \
	--listen 127.0.0.1:0 --psk-listen 127.0.0.1:0 --root "$T/root" --upload-dir "$T/up" \
	--max-body 20000000 >"$T/srv.out" 2>"$T/srv.err" &
PIDS+=($!)
for _ in $(seq 50); do
	grep -q '^listen psk' "$T/srv.out" 2>/dev/null && break
	sleep 0.1
done
PORT=$(awk '$2=="cert"{print $3}' "$T/srv.out")
PSKPORT=$(awk '$2=="psk"{print $3}' "$T/srv.out")
[ -n "$PORT" ] && [ -n "$PSKPORT" ] || { echo "server did not start: $(cat "$T/srv.err")"; exit 1; }

MTLS=(--cacert "$P/ca.pem" --cert "$P/csp1.pem" --key "$P/csp1.key")
sum() { sha256sum "$1" | cut -d' ' -f1; }

# R-BIN-C1 / R-SEC-2: Range fetch over mutual TLS, several chunks, verified checksum.
"$TOOL" fetch "${MTLS[@]}" --chunk-size 1M --sha256 "$(sum "$T/root/mid.bin")" \
	-o "$T/mid.out" "https://127.0.0.1:$PORT/mid.bin" 2>"$T/e1"
check "fetch over mTLS exits 0" [ $? -eq 0 ]
check "fetched file identical" cmp -s "$T/mid.out" "$T/root/mid.bin"
check "no .part left" [ ! -e "$T/mid.out.part" ]
# The progress bar: never when standard error is not a terminal; on a terminal (script -qc).
check "fetch: no progress bar without a TTY" [ ! -s "$T/e1" ]
if command -v script >/dev/null 2>&1; then
	script -qc "$TOOL fetch ${MTLS[*]} --chunk-size 1M -o $T/tty.out https://127.0.0.1:$PORT/mid.bin" \
		/dev/null >"$T/tty.log" 2>&1
	check "fetch: progress bar on a TTY" grep -q '100.0%' "$T/tty.log"
	check "fetch on a TTY: file identical" cmp -s "$T/tty.out" "$T/root/mid.bin"
fi

# A certificate that is not on the server's allow-list: refused, nothing left behind.
"$TOOL" fetch --cacert "$P/ca.pem" --cert "$P/csp2.pem" --key "$P/csp2.key" \
	-o "$T/denied.out" "https://127.0.0.1:$PORT/mid.bin" 2>"$T/e2"
check "csp2 refused (exit 3)" [ $? -eq 3 ]
check "no file for a refused fetch" [ ! -e "$T/denied.out" ]

# The server's certificate from another CA: the client refuses it (TLS error, exit 3).
"$TOOL" fetch --cacert "$P/ca2.pem" "${MTLS[@]:2}" -o "$T/wrongca.out" \
	"https://127.0.0.1:$PORT/small.bin" 2>"$T/e3"
check "unknown server CA refused (exit 3)" [ $? -eq 3 ]

# Wrong checksum: exit 1, no file looks complete.
"$TOOL" fetch "${MTLS[@]}" --sha256 "$(printf '0%.0s' $(seq 64))" -o "$T/bad.out" \
	"https://127.0.0.1:$PORT/small.bin" 2>"$T/e4"
check "checksum mismatch exits 1" [ $? -eq 1 ]
check "checksum mismatch leaves no file" [ ! -e "$T/bad.out" ]

# R-BIN-C2: kill -9 the client mid-transfer, then --resume: byte-identical.
"$TOOL" fetch "${MTLS[@]}" --chunk-size 256K -o "$T/big.out" \
	"https://127.0.0.1:$PORT/big.bin" 2>/dev/null &
FPID=$!
for _ in $(seq 400); do
	s=$(stat -c %s "$T/big.out.part" 2>/dev/null || echo 0)
	[ "$s" -ge 4000000 ] && break
	sleep 0.005
done
kill -9 "$FPID" 2>/dev/null
wait "$FPID" 2>/dev/null
partial=$(stat -c %s "$T/big.out.part" 2>/dev/null || echo 0)
check "interrupted fetch left a partial .part" [ "$partial" -gt 0 ] && [ "$partial" -lt 64000000 ]
check "interrupted fetch left no final file" [ ! -e "$T/big.out" ]
"$TOOL" fetch "${MTLS[@]}" --resume --sha256 "$(sum "$T/root/big.bin")" -o "$T/big.out" \
	"https://127.0.0.1:$PORT/big.bin" 2>"$T/e5"
check "resumed fetch exits 0" [ $? -eq 0 ]
check "resumed file byte-identical" cmp -s "$T/big.out" "$T/root/big.bin"

# R-SEC-4: the PSK listener, right and wrong key.
"$TOOL" fetch --psk-identity lea1 --psk-file "$P/psk1.key" -o "$T/psk.out" \
	"https://127.0.0.1:$PSKPORT/small.bin" 2>"$T/e6"
check "PSK fetch exits 0" [ $? -eq 0 ]
check "PSK fetched file identical" cmp -s "$T/psk.out" "$T/root/small.bin"
"$TOOL" fetch --psk-identity lea1 --psk-file "$P/psk2.key" -o "$T/psk2.out" \
	"https://127.0.0.1:$PSKPORT/small.bin" 2>"$T/e7"
check "wrong PSK refused (exit 3)" [ $? -eq 3 ]

# R-BIN-B2/B3: Model B upload with Expect: 100-continue, stored byte for byte.
uuid=$(cat /proc/sys/kernel/random/uuid)
"$TOOL" post-binary "${MTLS[@]}" --content-type application/octet-stream \
	"https://127.0.0.1:$PORT/binaryData/$uuid/" "$T/root/mid.bin" 2>"$T/e8" >/dev/null
check "post-binary exits 0" [ $? -eq 0 ]
check "uploaded object stored identically" cmp -s "$T/up/$uuid" "$T/root/mid.bin"
# Over the server's body cap: refused before the body, nothing stored.
head -c 25000000 /dev/zero >"$T/huge.bin"
uuid2=$(cat /proc/sys/kernel/random/uuid)
"$TOOL" post-binary "${MTLS[@]}" --content-type application/octet-stream \
	"https://127.0.0.1:$PORT/binaryData/$uuid2/" "$T/huge.bin" 2>"$T/e9" >/dev/null
check "oversize upload refused" [ $? -ne 0 ]
check "oversize upload not stored" [ ! -e "$T/up/$uuid2" ]

summary
