#!/usr/bin/env bash
# Integration test of the li707 command-line tool (src/tools/, docs/man/li707.1).
#
# Arguments: TOOL SRCDIR SHARED BUILDDIR (SHARED = the official schema directory, the oracle).
# Every message built is checked by `li707 validate` and, independently, by xmllint against
# the official TS 103 120 schemas plus schemas/ts_103707.xsd. When SHARED is absent the oracle
# checks are skipped ("SKIP: ..."), everything else still runs, and the script exits 77 if
# nothing failed. Ends with "N passed, M failed".
set -euo pipefail

TOOL=$1
SRC=$2
SHARED=$3
BUILD=${4:-}
: "$BUILD"

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-tool-XXXXXX")
trap 'rm -rf "$T"' EXIT

. "$(dirname "$0")/lib/check.sh"
# runin FILE COMMAND...: as run, with FILE on stdin.
runin() {
	local in=$1
	shift
	set +e
	"$@" <"$in" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
}

SAMPLES=$SRC/samples
LI=$SAMPLES/li-events.jsonl
LD=$SAMPLES/ld-events.jsonl
N_LI=$(grep -c . "$LI")

# ---- the oracle: xmllint with every namespace of ts103120_all.xsd, absolute paths ----
have_oracle=0
EXAMPLES=
if [ -f "$SHARED/ts103120_all.xsd" ] && command -v xmllint >/dev/null; then
	have_oracle=1
	{
		echo '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">'
		sed -n 's/.*<xs:import namespace="\([^"]*\)" schemaLocation="\([^"]*\)".*/\1 \2/p' \
			"$SHARED/ts103120_all.xsd" | while read -r ns loc; do
			echo "  <xs:import namespace=\"$ns\" schemaLocation=\"$SHARED/$loc\"/>"
		done
		echo "  <xs:import namespace=\"http://uri.etsi.org/03707/2020/02\" schemaLocation=\"$SRC/schemas/ts_103707.xsd\"/>"
		echo '</xs:schema>'
	} >"$T/oracle.xsd"
	if [ -d "$SHARED/schemas/103120/examples" ]; then
		EXAMPLES=$SHARED/schemas/103120/examples
	else
		EXAMPLES=$SHARED/103120/examples
	fi
else
	echo "SKIP: $SHARED/ts103120_all.xsd or xmllint absent: oracle checks skipped"
fi
oracle() { # FILE
	[ "$have_oracle" -eq 1 ] || return 0
	if xmllint --noout --nonet --schema "$T/oracle.xsd" "$1" 2>"$T/xmllint.err"; then
		ok
	else
		bad "oracle: $1 does not validate"
		grep -v ' validates$' "$T/xmllint.err" | head -10 >&2
	fi
}

# Checks a directory of built messages: one reference per message, one DeliveryID per
# reference, SequenceNumber 1..n, LastSequence true only on the last, item counts, names.
check_series() { # DIR MAX_ITEMS TOTAL_ITEMS
	python3 - "$@" <<'EOF'
import os, re, sys
import xml.etree.ElementTree as ET
d, max_items, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
D = "{http://uri.etsi.org/03120/common/2019/10/Delivery}"
H = "{http://uri.etsi.org/03707/2020/02}"
errors, refs, items = [], {}, 0
for name in sorted(os.listdir(d)):
    if not re.fullmatch(r"[0-9]{4}-(liid|ldid)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.xml", name):
        errors.append("bad file name " + name); continue
    root = ET.parse(os.path.join(d, name)).getroot()
    objs = [o for o in root.iter() if o.tag.endswith("}HI1Object")]
    if len(objs) != 1:
        errors.append(name + ": %d DeliveryObjects" % len(objs)); continue
    o = objs[0]
    rs = [r for r in o.iter() if r.tag in (D + "LIID", D + "LDID")]
    if len(rs) != 1:
        errors.append(name + ": %d references" % len(rs)); continue
    kind = "liid" if rs[0].tag == D + "LIID" else "ldid"
    if not name[5:].startswith(kind):
        errors.append(name + ": name does not match the reference kind")
    key = (rs[0].tag, rs[0].text)
    did = o.find(D + "DeliveryID").text
    seq = int(o.find(D + "SequenceNumber").text)
    last = o.find(D + "LastSequence").text
    xd = o.find(D + "Delivery/" + D + "XMLData")
    top = list(xd)[0]
    if top.tag == H + "handoverItem":
        n = 1
    elif top.tag == H + "handoverItemCollection":
        n = len(list(top))
        if n < 2:
            errors.append(name + ": collection of %d" % n)
    else:
        errors.append(name + ": payload " + top.tag); continue
    if n > max_items:
        errors.append(name + ": %d items > %d" % (n, max_items))
    items += n
    refs.setdefault(key, []).append((seq, last, did, name))
for key, msgs in refs.items():
    seqs = [m[0] for m in msgs]
    if seqs != list(range(1, len(msgs) + 1)):
        errors.append("sequence numbers %s" % seqs)
    lasts = [m[1] for m in msgs]
    if lasts != ["false"] * (len(msgs) - 1) + ["true"]:
        errors.append("LastSequence %s" % lasts)
    if len({m[2] for m in msgs}) != 1:
        errors.append("several DeliveryIDs for one reference")
ids = [m[2] for msgs in refs.values() for m in msgs]
if len(set(ids)) != len(refs):
    errors.append("DeliveryID shared between references")
if items != total:
    errors.append("%d items in all, expected %d" % (items, total))
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
}

# ---- dispatch ----
run "$TOOL" --help
expect_rc "--help" 0
check "--help prints usage on stdout" contains "$T/out" "Usage: li707"
check "--help writes nothing on stderr" test ! -s "$T/err"
run "$TOOL" --version
expect_rc "--version" 0
run "$TOOL" frobnicate
expect_rc "unknown command" 2
check "unknown command: one line on stderr" one_line_stderr
run "$TOOL"
expect_rc "no command" 2
run "$TOOL" --bogus
expect_rc "unknown global option" 2
check "unknown option: one line on stderr" one_line_stderr
for cmd in build validate show respond hash; do
	run "$TOOL" "$cmd" --help
	expect_rc "$cmd --help" 0
	check "$cmd --help on stdout" contains "$T/out" "Usage: li707 $cmd"
done
run "$TOOL" build --collection 0
expect_rc "build --collection 0" 2
check "usage error: one line" one_line_stderr
run "$TOOL" build --sender-cc xx
expect_rc "build --sender-cc xx" 2
run "$TOOL" build --csp-url-scheme https://csp.example/no-uuid
expect_rc "build: scheme without {uuid}" 2
run "$TOOL" build --nonsense
expect_rc "build: unknown option" 2
check "build unknown option: one line" one_line_stderr

# ---- build ----
for n in 1 3; do
	runin "$LI" "$TOOL" build --collection "$n" --out-dir "$T/c$n" --base-dir "$SAMPLES"
	expect_rc "build --collection $n" 0
	check "build --collection $n: summary on stderr" contains "$T/err" "li707 build: $N_LI events"
	check "build --collection $n: no identifiers on stderr" \
		not_contains "$T/err" "ACME-LI\|447700900123\|alice\|example.com"
	check "build --collection $n: paths on stdout" test "$(wc -l <"$T/out")" -eq "$(find "$T/c$n" -name '*.xml' | wc -l)"
	check "build --collection $n: no temporary files left" test -z "$(find "$T/c$n" -name '.li707-*')"
	check "build --collection $n: series" check_series "$T/c$n" "$n" "$N_LI"
done
check "collection 1: one message per event" test "$(find "$T/c1" -name '*.xml' | wc -l)" -eq "$N_LI"
check "collection 3: 3 messages" test "$(find "$T/c3" -name '*.xml' | wc -l)" -eq 3

# every output file: li707 validate, and the oracle
for f in "$T"/c1/*.xml "$T"/c3/*.xml; do
	run "$TOOL" validate "$f"
	expect_rc "validate $(basename "$f")" 0
	check "validate prints OK" contains "$T/out" "^$f: OK"
	oracle "$f"
done
if [ "$have_oracle" -eq 1 ]; then
	run "$TOOL" validate --schemas "$SHARED" --project-schemas "$SRC/schemas" "$T"/c3/*.xml
	expect_rc "validate --schemas (full XSD)" 0
	check "validate --schemas: one OK per file" test "$(grep -c ': OK' "$T/out")" -eq 3
fi

# The project's own schemas without LI707_SCHEMA_DIR: found next to the executable (the build
# tree's share/li707/schemas), or above it (an installed tree under any prefix); a copy of the
# program with neither says where it looked.
if [ "$have_oracle" -eq 1 ]; then
	run env -u LI707_SCHEMA_DIR "$TOOL" validate --schemas "$SHARED" "$T"/c3/*.xml
	expect_rc "validate --schemas from the build tree without LI707_SCHEMA_DIR" 0
	check "validate --schemas from the build tree: one OK per file" \
		test "$(grep -c ': OK' "$T/out")" -eq 3
	mkdir -p "$T/prefix/bin" "$T/prefix/share/li707/schemas" "$T/bare"
	cp "$TOOL" "$T/prefix/bin/li707"
	cp "$TOOL" "$T/bare/li707"
	cp "$SRC"/schemas/*.xsd "$T/prefix/share/li707/schemas/"
	run env -u LI707_SCHEMA_DIR "$T/prefix/bin/li707" validate --schemas "$SHARED" "$T"/c3/*.xml
	expect_rc "validate --schemas from another prefix: PREFIX/share/li707/schemas" 0
	run env -u LI707_SCHEMA_DIR "$T/bare/li707" validate --schemas "$SHARED" "$T"/c3/*.xml
	if [ "$rc" -eq 0 ]; then
		echo "SKIP: li707's schemas are installed; no check of a program without them"
	else
		expect_rc "validate --schemas: no project schemas anywhere -> 5" 5
		check "validate: says where it looked" contains "$T/err" "give --project-schemas DIR"
	fi
fi

# one message -> stdout; header options; URL schemes
runin "$LD" "$TOOL" build --collection 3 --base-dir "$SAMPLES" --sender-cc FR --sender-id CSP-1 \
	--receiver-cc DE --receiver-id LEA-9 --csp-url-scheme 'https://media.csp.example/x/{uuid}' \
	--expiry-seconds 3600
expect_rc "build LD to stdout" 0
cp "$T/out" "$T/ld.xml"
check "LD to stdout: one HI1Message" test "$(grep -c '<HI1Message' "$T/ld.xml")" -eq 1
check "LD: handoverItemCollection" contains "$T/ld.xml" "handoverItemCollection"
run "$TOOL" validate "$T/ld.xml"
expect_rc "validate LD" 0
oracle "$T/ld.xml"

# R-CSP-3: a CSP-defined schema reusing TS 103 280 types (samples/csp-schema): the message
# built from samples/csp-events.jsonl validates with xmllint against the official TS 103 120
# and TS 103 280 schemas, ours and the CSP's; xmlData is lax, so a wrong MSISDN must fail
# (the CSP schema really took part).
CSPXSD=$SAMPLES/csp-schema/acme-call-1.xsd
runin "$SAMPLES/csp-events.jsonl" "$TOOL" build --base-dir "$SAMPLES"
expect_rc "R-CSP-3: build the CSP-schema sample" 0
cp "$T/out" "$T/csp3.xml"
check "R-CSP-3: xmlData carries the CSP's callMeta" contains "$T/csp3.xml" "<c:callerMSISDN>447700900123</c:callerMSISDN>"
if [ "$have_oracle" -eq 1 ]; then
	sed "s#</xs:schema>#  <xs:import namespace=\"urn:example:csp:acme:call:1\" schemaLocation=\"$CSPXSD\"/>\n</xs:schema>#" \
		"$T/oracle.xsd" >"$T/oracle-csp.xsd"
	check "R-CSP-3: CSP schema imports TS 103 280" grep -q 'namespace="http://uri.etsi.org/03280/common/2017/07"' "$CSPXSD"
	check "R-CSP-3: message validates with the CSP schema (TS 103 280 types)" \
		xmllint --noout --nonet --schema "$T/oracle-csp.xsd" "$T/csp3.xml"
	sed 's#<c:callerMSISDN>447700900123#<c:callerMSISDN>+44 7700 900123#' "$T/csp3.xml" >"$T/csp3-bad.xml"
	set +e
	xmllint --noout --nonet --schema "$T/oracle-csp.xsd" "$T/csp3-bad.xml" 2>"$T/err"
	rc=$?
	set -e
	expect_rc "R-CSP-3: a non-E.164 MSISDN fails validation" 3
	check "R-CSP-3: the TS 103 280 pattern is what failed" contains "$T/err" "callerMSISDN.*pattern"
else
	echo "SKIP: $SHARED/ts103120_all.xsd or xmllint absent: R-CSP-3 schema check skipped"
fi
run "$TOOL" show --json "$T/ld.xml"
expect_rc "show --json LD" 0
check "show --json: header and URL scheme" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = d["message"]
h = m["header"]
assert d["status"] == "OK"
assert h["sender"] == {"country_code": "FR", "id": "CSP-1"}, h
assert h["receiver"] == {"country_code": "DE", "id": "LEA-9"}, h
dl = m["actions"][0]["delivery"]
assert dl["country_code"] == "DE" and dl["owner_id"] == "LEA-9"  # R-DEL-4
assert dl["reference"] == {"kind": "LDID", "value": "XX-ACME-2026-0001"}
assert dl["sequence"] == 1 and dl["last_sequence"] is True
assert len(dl["items"]) == 3
a = dl["items"][1]["attachments"][0]
assert a["url"].startswith("https://media.csp.example/x/"), a
assert a["size"] == 68 and a["filename"] == "note.txt"
' "$T/out"

runin "$LD" "$TOOL" build --collection 1 --base-dir "$SAMPLES"
expect_rc "several messages without --out-dir" 2
check "several messages: nothing on stdout" test ! -s "$T/out"
check "several messages: one line on stderr" one_line_stderr

# model B on the LEA scheme, default sender id
runin "$LI" "$TOOL" build --collection 100 --out-dir "$T/cb" --base-dir "$SAMPLES" \
	--lea-url-scheme 'https://lea.example.com/binaryData/{uuid}/'
expect_rc "build --lea-url-scheme" 0
check "model B url on the LEA scheme" grep -q 'https://lea.example.com/binaryData/[0-9a-f-]*/<' "$T"/cb/*.xml
check "default sender id li707-csp" grep -q '<UniqueIdentifier>li707-csp</UniqueIdentifier>' "$T"/cb/*.xml

# ---- show, respond ----
F1=$(find "$T/c3" -name '0001-*.xml' 2>/dev/null || true)
run "$TOOL" show "$F1"
expect_rc "show" 0
check "show: reference" contains "$T/out" "Reference: *LIID ACME-LI-0042"
check "show: attachments" contains "$T/out" "SHA-256:"
check "show: target marked" contains "$T/out" "\[target\]"
F2=$(find "$T/c3" -name '0002-*.xml' 2>/dev/null || true)
run "$TOOL" show "$F2"
expect_rc "show (second message)" 0
check "show: CSP block" contains "$T/out" "CSP block 1: *schema urn:example:csp:chat:1"
run "$TOOL" show --json "$F1"
expect_rc "show --json" 0
check "show --json parses" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "OK" and d["diagnostics"] == []
it = d["message"]["actions"][0]["delivery"]["items"]
assert it[0]["sender"]["target"] is True
assert it[0]["sender"]["ids"][0]["format_name"] == "InternationalE164"
assert it[0]["correlation"] == {"id": 7, "seq": 0}
' "$T/out"

run "$TOOL" respond "$F1"
expect_rc "respond" 0
cp "$T/out" "$T/resp.xml"
check "respond: DELIVERResponse" contains "$T/resp.xml" "DELIVERResponse"
oracle "$T/resp.xml"
run "$TOOL" validate "$T/resp.xml"
expect_rc "validate the response" 0

# ---- a corrupted message ----
sed 's#<delivery:SequenceNumber>1<#<delivery:SequenceNumber>one<#' "$F1" >"$T/bad.xml" || true
run "$TOOL" validate "$T/bad.xml"
expect_rc "validate corrupted" 1
check "corrupted: INVALID" contains "$T/out" "^$T/bad.xml: INVALID"
check "corrupted: diagnostic with a line number" grep -q "^  $T/bad.xml:[0-9][0-9]*: error" "$T/out"
run "$TOOL" show "$T/bad.xml"
expect_rc "show corrupted" 1
check "show corrupted: diagnostics at the end" contains "$T/out" "Diagnostics"
run "$TOOL" respond "$T/bad.xml"
expect_rc "respond to corrupted" 0
check "respond corrupted: ErrorInformation" contains "$T/out" "ErrorInformation"
cp "$T/out" "$T/resp-bad.xml"
oracle "$T/resp-bad.xml"
printf '<HI1Message xmlns="urn:x"><unclosed>' >"$T/notxml.xml"
run "$TOOL" respond "$T/notxml.xml"
expect_rc "respond to non-XML" 0
check "respond non-XML: top-level ErrorInformation" contains "$T/out" "ErrorInformation"
run "$TOOL" validate "$T/notxml.xml" "$F1"
expect_rc "validate: one bad of two" 1
run "$TOOL" validate "$T/does-not-exist.xml"
expect_rc "validate: missing file" 3

# ---- bad events ----
{
	cat "$LI"
	echo '{"liid": "ACME-LI-0042", "timestamp": "2026-03-01T10:15:30", "sender": {"ids": ["alice"]}}'
} >"$T/bad.jsonl"
runin "$T/bad.jsonl" "$TOOL" build --out-dir "$T/rej" --base-dir "$SAMPLES"
expect_rc "bad event rejected" 4
check "bad event: line number and field" contains "$T/err" "^stdin:$((N_LI + 1)): error: timestamp:"
check "bad event: value not echoed" not_contains "$T/err" "alice\|ACME-LI"
check "bad event: nothing written" test -z "$(find "$T/rej" -name '*.xml' 2>/dev/null)"
check "bad event: nothing on stdout" test ! -s "$T/out"
runin "$T/bad.jsonl" "$TOOL" build --skip-bad --out-dir "$T/skip" --base-dir "$SAMPLES"
expect_rc "--skip-bad still exits 4" 4
check "--skip-bad: bad line reported" contains "$T/err" "^stdin:$((N_LI + 1)): error:"
check "--skip-bad: good ones built" test "$(find "$T/skip" -name '*.xml' | wc -l)" -eq "$N_LI"
check "--skip-bad: series" check_series "$T/skip" 1 "$N_LI"
for f in "$T"/skip/*.xml; do oracle "$f"; done
printf '{"liid": "X", "timestamp": "2026-03-01T10:15:30Z", "correlation": {"id": 1, "seq": 0}}\n%.0s' 1 2 >"$T/dup.jsonl"
runin "$T/dup.jsonl" "$TOOL" build --out-dir "$T/dup"
expect_rc "repeated correlation (R-HDR-2)" 4
check "repeated correlation: second line named" contains "$T/err" "^stdin:2: error: correlation"
# R-HDR-2 (clause 5.3.2): sequence numbers of an applicationLevelID start at zero, no gaps
corr() { # REF ID SEQ
	printf '{"liid": "%s", "timestamp": "2026-03-01T10:15:30Z", "correlation": {"id": %s, "seq": %s}}\n' "$@"
}
corr X 5 3 >"$T/hdr2-1.jsonl"
runin "$T/hdr2-1.jsonl" "$TOOL" build --out-dir "$T/hdr2-1"
expect_rc "R-HDR-2: new correlation id starting at seq 3 refused" 4
check "R-HDR-2: first seq refused, expected 0 named" contains "$T/err" "^stdin:1: error: correlation.seq: must be 0"
check "R-HDR-2: nothing written" test -z "$(find "$T/hdr2-1" -name '*.xml' 2>/dev/null)"
{ corr X 5 0; corr X 5 2; } >"$T/hdr2-2.jsonl"
runin "$T/hdr2-2.jsonl" "$TOOL" build --out-dir "$T/hdr2-2"
expect_rc "R-HDR-2: gap refused" 4
check "R-HDR-2: gap: second line, expected 1" contains "$T/err" "^stdin:2: error: correlation.seq: must be 1"
{ corr X 5 0; corr X 6 0; corr Y 5 0; corr X 5 1; corr X 6 1; } >"$T/hdr2-3.jsonl"
runin "$T/hdr2-3.jsonl" "$TOOL" build --out-dir "$T/hdr2-3"
expect_rc "R-HDR-2: per id and per reference, from 0" 0
{ corr X 5 3; corr X 5 4; corr X 6 7; } >"$T/hdr2-4.jsonl"
runin "$T/hdr2-4.jsonl" "$TOOL" build --continue-correlation --out-dir "$T/hdr2-4"
expect_rc "R-HDR-2: --continue-correlation continues an earlier run" 0
check "--continue-correlation: seq kept" grep -q "<applicationSequenceNumber>3</applicationSequenceNumber>" "$T"/hdr2-4/0001-*.xml
{ corr X 5 3; corr X 5 5; } >"$T/hdr2-5.jsonl"
runin "$T/hdr2-5.jsonl" "$TOOL" build --continue-correlation --out-dir "$T/hdr2-5"
expect_rc "R-HDR-2: --continue-correlation still refuses a gap" 4
check "--continue-correlation: gap named" contains "$T/err" "^stdin:2: error: correlation.seq: must be 4"
# ETSIVersion per destination, consistent with the Manifest (docs/schemas.md)
corr X 1 0 >"$T/ver.jsonl"
runin "$T/ver.jsonl" "$TOOL" build
expect_rc "default ETSIVersion" 0
check "default ETSIVersion V1.14.1" grep -q "<ETSIVersion>V1.14.1</ETSIVersion>" "$T/out"
check "V1.14.1: Manifest TS103707" grep -q "<common:Value>TS103707</common:Value>" "$T/out"
runin "$T/ver.jsonl" "$TOOL" build --etsi-version V1.12.1 --out-dir "$T/ver"
expect_rc "--etsi-version V1.12.1" 0
check "--etsi-version: written" grep -q "<ETSIVersion>V1.12.1</ETSIVersion>" "$T"/ver/0001-*.xml
check "--etsi-version V1.12.1: no Manifest (no TS103707 value before V1.14.1)" not_contains "$T"/ver/0001-*.xml "Manifest"
for f in "$T"/ver/*.xml; do oracle "$f"; done
runin "$T/ver.jsonl" "$TOOL" build --etsi-version 1.12
expect_rc "--etsi-version: bad form is a usage error" 2
check "--etsi-version: one line on stderr" one_line_stderr
printf '{"ldid": "XX-A-1", "timestamp": "2026-03-01T10:15:30Z", "attachments": [{"path": "nope.bin", "model": "A"}]}\n' >"$T/nofile.jsonl"
runin "$T/nofile.jsonl" "$TOOL" build --base-dir "$T"
expect_rc "missing attachment file" 4
check "missing attachment: field named" contains "$T/err" "^stdin:1: error: attachments\[0\].path:"
: >"$T/empty.jsonl"
runin "$T/empty.jsonl" "$TOOL" build
expect_rc "no events" 4

# ---- hash (Annex D.4) ----
echo "secret-field" >"$T/field-nl"
printf 'secret-field' >"$T/field"
runin "$T/field-nl" "$TOOL" hash create
expect_rc "hash create" 0
REC=$(cat "$T/out")
check "hash record form" grep -Eq '^v1\$[0-9a-f]{64}\$[0-9a-f]{64}$' "$T/out"
check "hash create: field not on stderr/stdout" not_contains "$T/out" "secret-field"
runin "$T/field-nl" "$TOOL" hash verify "$REC"
expect_rc "hash verify (stdin, newline stripped)" 0
check "hash verify: match" contains "$T/out" "^match"
run "$TOOL" hash verify "$REC" --field-file "$T/field"
expect_rc "hash verify --field-file" 0
run "$TOOL" hash verify "$REC" --field-file "$T/field-nl"
expect_rc "hash verify --field-file keeps the newline" 1
printf 'other-field' >"$T/other"
runin "$T/other" "$TOOL" hash verify "$REC"
expect_rc "hash verify mismatch" 1
check "hash verify: mismatch printed" contains "$T/out" "^mismatch"
SALT=$(echo "$REC" | cut -d'$' -f2)
HASH=$(echo "$REC" | cut -d'$' -f3)
runin "$T/field-nl" "$TOOL" hash verify --salt "$SALT" --hash "$HASH"
expect_rc "hash verify --salt --hash" 0
runin "$T/field-nl" "$TOOL" hash verify 'v1$zz$00'
expect_rc "hash verify malformed record" 4
runin "$T/field-nl" "$TOOL" hash create --salt-bytes 8
expect_rc "hash create --salt-bytes 8" 0
check "salt of 8 bytes" grep -Eq '^v1\$[0-9a-f]{16}\$' "$T/out"
run "$TOOL" hash create --salt-bytes 0
expect_rc "hash --salt-bytes 0" 2
run "$TOOL" hash frob
expect_rc "hash unknown subcommand" 2

# ---- clause citations: TS 103 707 V1.9.1 has no clause 6.3.x; the models are Annex C.2-C.4 ----
run "$TOOL" post-binary --help
expect_rc "post-binary --help" 0
check "post-binary --help cites Annex C.3" contains "$T/out" "Annex C.3"
check "post-binary --help: no clause 6.3.x" not_contains "$T/out" "clause 6\.3"
no_grep() { ! grep "$@"; }
check "no 'clause 6.3.x' citation in src, include, docs" \
	no_grep -rqE 'clause 6\.3(\.[0-9])?' "$SRC/src" "$SRC/include" "$SRC/docs"

# ---- official examples: valid HI-1 deliveries that are not TS 103 707 ----
if [ "$have_oracle" -eq 1 ]; then
	for f in "$EXAMPLES"/request5-*.xml; do
		run "$TOOL" validate "$f"
		expect_rc "validate $(basename "$f")" 1
		check "$(basename "$f"): NOT-707" contains "$T/out" "^$f: NOT-707 (HI-1 DELIVER carrying"
	done
fi

summary || exit 1
if [ "$have_oracle" -eq 0 ]; then
	exit 77
fi
exit 0
