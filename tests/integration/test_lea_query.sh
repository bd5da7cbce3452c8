#!/usr/bin/env bash
# Integration test of the analyst's commands of li707-lea (src/lea/lea_query*.c, lea_cli.h):
# list, show, export, status, on stores filled by tests/helpers/lea_store_fill from
# tests/data/golden/*.xml and from messages built with `li707 build` (Model B uploads,
# a mismatch, an orphan, a duplicate, a sequence gap and application-sequence gaps made on
# purpose, attachment names such as "../../etc/passwd").
#
# Arguments: TOOL SRCDIR SHARED BUILDDIR. Runs BUILD/li707-lea, or BUILD/tests/lea_query_cli
# (the same commands without the daemon) when the executable is not built; exit 77 when
# neither exists. Ends with "N passed, M failed".
set -uo pipefail

TOOL=$(realpath "$1")
SRC=$(realpath "$2")
SHARED=$(realpath -m "$3")
BUILD=$(realpath "${4:?BUILDDIR}")

if [ -x "$BUILD/li707-lea" ]; then
	LEA=$BUILD/li707-lea
elif [ -x "$BUILD/tests/lea_query_cli" ]; then
	LEA=$BUILD/tests/lea_query_cli
	echo "note: $BUILD/li707-lea not built, using $LEA (same commands)"
else
	echo "SKIP: $BUILD/li707-lea is not built yet (nor tests/lea_query_cli)"
	exit 77
fi
FILL=$BUILD/tests/lea_store_fill
[ -x "$FILL" ] || { echo "SKIP: $FILL is not built yet"; exit 77; }
for t in python3 xmllint sha256sum cmp; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-query-XXXXXX")
cleanup() {
	[ -n "${KEEPT:-}" ] && cp -r "$T" "$KEEPT"
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/lib/check.sh"

rows() { tail -n +2 "$T/out" | grep -c .; } # TSV rows after the header

# ---- the XSD check of standalone items: ts_103707.xsd + TS 103 280 (official or stand-in) ----
T280=$SRC/schemas/ts_103280_standin.xsd
[ -f "$SHARED/103280/TS_103_280_01.xsd" ] && T280=$SHARED/103280/TS_103_280_01.xsd
cat >"$T/item.xsd" <<EOF
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://uri.etsi.org/03280/common/2017/07" schemaLocation="$T280"/>
  <xs:import namespace="http://uri.etsi.org/03707/2020/02" schemaLocation="$SRC/schemas/ts_103707.xsd"/>
</xs:schema>
EOF
item_valid() { xmllint --noout --nonet --schema "$T/item.xsd" "$1" 2>"$T/xmllint.err"; }

# ---- 1. golden messages ----
G=$SRC/tests/data/golden
GS=$T/golden
# Store directories are made here although lea_store_open() should create them (store.h):
# the store takes its lock file before creating DIR (reported to the store's owner).
mkdir -p "$GS" "$T/golden-coll" "$T/store"
run "$FILL" --store "$GS" --peer golden "$G"/li-item-0[1-7].xml "$G"/ld-item-0*.xml "$G"/li-coll-0*.xml
expect_rc "fill golden" 0
# li-item-01..07 are one series; the other files reuse their ObjectIdentifiers (duplicates)
check "golden: 7 stored" [ "$(grep -c 'stored 1 duplicate 0' "$T/out")" -eq 7 ]
check "golden: 6 duplicates" [ "$(grep -c 'stored 0 duplicate 1' "$T/out")" -eq 6 ]

run "$LEA" list --store "$GS"
expect_rc "list golden" 0
check "list golden: 7 rows" [ "$(rows)" -eq 7 ]
run "$LEA" list --store "$GS" --json
expect_rc "list golden --json" 0
cp "$T/out" "$T/golden.json"
check "list golden --json: 7 objects" python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 7 and [r["id"] for r in a] == sorted(r["id"] for r in a), a
for r in a:
    for k in ("id", "received", "reference", "reference_kind", "peer", "timestamp", "object_id",
              "item_index", "sender", "receivers", "attachments", "attachments_complete"):
        assert k in r, k
    assert r["peer"] == "golden"' "$T/golden.json"

# every item: --raw is its file byte for byte, --xml validates, --json agrees with list
python3 -c '
import json, re, sys, glob
a = json.load(open(sys.argv[1]))
files = {}
for f in sorted(glob.glob(sys.argv[2] + "/li-item-0*.xml")):
    oid = re.search(r"<ObjectIdentifier>([^<]+)<", open(f).read()).group(1)
    files.setdefault(oid, f)
for r in a:
    print(r["id"], files[r["object_id"]], r["timestamp"] or "")' "$T/golden.json" "$G" >"$T/golden.map"
check "golden map: 7 items" [ "$(wc -l <"$T/golden.map")" -eq 7 ]
while read -r id file ts; do
	run "$LEA" show --store "$GS" --raw "$id"
	expect_rc "show --raw $id" 0
	check "show --raw $id = $(basename "$file")" cmp -s "$T/out" "$file"
	run "$LEA" show --store "$GS" --xml "$id"
	expect_rc "show --xml $id" 0
	cp "$T/out" "$T/item-$id.xml"
	check "show --xml $id validates" item_valid "$T/item-$id.xml"
	check "show --xml $id root" grep -q '^<handoverItem xmlns="http://uri.etsi.org/03707/2020/02"' "$T/item-$id.xml"
	run "$LEA" show --store "$GS" --json "$id"
	expect_rc "show --json $id" 0
	check "show --json $id" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["id"] == int(sys.argv[2]) and (d["item"]["timestamp"] or "") == sys.argv[3], d
assert d["peer"] == "golden" and d["delivery"]["reference"]["value"].startswith("ACME-LI-")' "$T/out" "$id" "$ts"
done <"$T/golden.map"

run "$LEA" status --store "$GS" --json
expect_rc "status golden" 0
check "status golden: 7 items, 6 duplicates" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
refs = d["references"]
assert sum(r["items"] for r in refs) == 7, refs
assert sum(r["duplicates"] for r in refs) == 6, refs' "$T/out"

# collections: 4 + 3 + 3 items, item_index inside each
GC=$T/golden-coll
run "$FILL" --store "$GC" "$G"/li-coll-0*.xml
expect_rc "fill collections" 0
run "$LEA" list --store "$GC" --json
check "collections: 7 items, indexes 0..2" python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 7, len(a)
assert sorted(r["item_index"] for r in a) == [0, 0, 0, 1, 1, 1, 2], a' "$T/out"
ID=$(python3 -c 'import json,sys; print([r["id"] for r in json.load(open(sys.argv[1])) if r["item_index"] == 2][0])' "$T/out")
run "$LEA" show --store "$GC" "$ID"
check "show: position in a collection" contains "$T/out" "item 3 of 3 in a handoverItemCollection"

# ---- 2. built messages: Model B, names, gaps ----
S=$T/store
mkdir -p "$T/att" "$T/sample" "$T/mine" "$T/mine2"
"$TOOL" build --out-dir "$T/sample" --base-dir "$SRC/samples" <"$SRC/samples/li-events.jsonl" >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; echo "li707 build failed"; exit 1; }
printf 'first attachment\n' >"$T/att/passwd.txt"
printf 'a CV\n' >"$T/att/cv.pdf"
printf 'the real bytes\n' >"$T/att/mm.bin"
printf 'the fake bytes\n' >"$T/att/mm-wrong.bin"
printf 'model A data\n' >"$T/att/a.txt"
printf 'never uploaded\n' >"$T/att/hidden.bin"
printf 'orphan data\n' >"$T/att/orphan.bin"
printf 'dots\n' >"$T/att/dots.bin"
printf 'long\n' >"$T/att/long.bin"
LONG=$(printf 'n%.0s' $(seq 150))
REF=TEST-B-1
cat >"$T/ev1.jsonl" <<EOF
{"liid": "$REF", "timestamp": "2026-04-01T10:00:00Z", "sender": {"ids": ["ann"], "target": true}, "receivers": [{"ids": [{"format": "EmailAddress", "value": "ben@example.org"}], "target": false}, {"ids": ["cat"]}], "correlation": {"id": 9, "seq": 0}, "attachments": [{"path": "passwd.txt", "filename": "../../etc/passwd", "model": "B"}], "csp": {"schema": "urn:test:s:1", "schema_content": "schema one, as text"}}
{"liid": "$REF", "timestamp": "2026-04-01T10:01:00Z", "sender": {"ids": ["ann"]}, "correlation": {"id": 9, "seq": 1}, "attachments": [{"path": "cv.pdf", "filename": "résumé final.pdf", "content_type": "application/pdf", "model": "B"}], "csp": {"schema": "urn:test:s:1", "xml": "<t:x xmlns:t='urn:test:s:1'>two</t:x>"}}
{"liid": "$REF", "timestamp": "2026-04-01T10:02:00Z", "sender": {"ids": ["ann"]}, "correlation": {"id": 9, "seq": 2}}
{"liid": "$REF", "timestamp": "2026-04-01T10:03:00Z", "sender": {"ids": ["ann"]}, "correlation": {"id": 9, "seq": 3}, "attachments": [{"path": "mm.bin", "filename": "mismatch.bin", "model": "B"}, {"path": "a.txt", "model": "A"}], "csp": {"schema": "urn:test:unknown:9"}}
EOF
cat >"$T/ev2.jsonl" <<EOF
{"liid": "$REF", "timestamp": "2026-04-02T09:00:00Z", "sender": {"ids": ["x\ty"]}, "correlation": {"id": 9, "seq": 3}, "attachments": [{"path": "hidden.bin", "filename": ".hidden", "model": "B"}, {"path": "dots.bin", "filename": "....", "model": "B"}, {"path": "long.bin", "filename": "$LONG.bin", "model": "B"}]}
EOF
for n in 1 2; do
	d=$T/mine; [ $n -eq 2 ] && d=$T/mine2
	# ev2 continues (and repeats the last seq of) ev1's correlation id 9: the gap and
	# duplicate the LEA must report
	cont=; [ $n -eq 2 ] && cont=--continue-correlation
	"$TOOL" build $cont --out-dir "$d" --base-dir "$T/att" <"$T/ev$n.jsonl" >/dev/null 2>"$T/err" ||
		{ cat "$T/err"; echo "li707 build of ev$n failed"; exit 1; }
done
M=("$T"/mine/*.xml)
check "built 4 messages" [ "${#M[@]}" -eq 4 ]
M2=("$T"/mine2/*.xml)
# Model B uploads: uuid and file name of every Model B object
python3 -c '
import re, sys
for f in sys.argv[1:]:
    s = open(f).read()
    for b in re.findall(r"<binaryObject>(.*?)</binaryObject>", s, re.S):
        m = re.search(r"<url>https://[^/]+/binaryData/([0-9a-f-]{36})/</url>", b)
        n = re.search(r"<originalFilename>([^<]*)<", b)
        if m:
            print(m.group(1) + "\t" + (n.group(1) if n else ""))' "$T"/sample/*.xml "${M[@]}" "${M2[@]}" >"$T/modelb"
uuid_of() { awk -F'\t' -v n="$1" '$2==n{print $1}' "$T/modelb"; }
check "model B objects found" test -n "$(uuid_of ../../etc/passwd)" -a -n "$(uuid_of mismatch.bin)" -a -n "$(uuid_of note.txt)"
ORPHAN=0b0e4a3c-1111-4222-8333-444455556666
PEER_A=csp-alpha-long-peer-name
run "$FILL" --store "$S" --peer "$PEER_A" "$T"/sample/*.xml \
	$(for u in $(uuid_of note.txt); do echo --upload "$u" "$SRC/samples/attachments/note.txt"; done) \
	--peer csp-b "${M[0]}" "${M[1]}" "${M[3]}" "${M2[0]}" \
	--upload "$(uuid_of ../../etc/passwd)" "$T/att/passwd.txt" \
	--upload "$(uuid_of 'résumé final.pdf')" "$T/att/cv.pdf" \
	--upload "$(uuid_of mismatch.bin)" "$T/att/mm-wrong.bin" \
	--upload "$ORPHAN" "$T/att/orphan.bin" \
	--upload "$(uuid_of ....)" "$T/att/dots.bin" \
	--upload "$(uuid_of "$LONG.bin")" "$T/att/long.bin" \
	"${M[0]}"
expect_rc "fill main store" 0
cp "$T/out" "$T/fill.out"
check "fill: mismatch recorded" grep -q "upload $(uuid_of mismatch.bin): mismatch" "$T/fill.out"
check "fill: orphan recorded" grep -q "upload $ORPHAN: orphan" "$T/fill.out"
check "fill: re-put is a duplicate" [ "$(tail -1 "$T/fill.out" | grep -c 'stored 0 duplicate 1')" -eq 1 ]
N_SAMPLE=$(grep -c . "$SRC/samples/li-events.jsonl")

# ---- list ----
run "$LEA" list --store "$S"
expect_rc "list" 0
cp "$T/out" "$T/list.tsv"
check "list: TSV header" [ "$(head -1 "$T/list.tsv")" = "$(printf 'id\treceived\treference\tpeer\ttimestamp\tsender\treceivers\tattachments')" ]
check "list: every row has 8 tab-separated columns" awk -F'\t' 'NF != 8 { exit 1 }' "$T/list.tsv"
check "list: one row per item" [ "$(rows)" -eq $((N_SAMPLE + 4)) ]
check "list: UTC reception time" bash -c "tail -n +2 '$T/list.tsv' | cut -f2 | grep -qvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\$' && exit 1 || exit 0"
check "list: a tab in a value is escaped" grep -qF "$(printf '\tx\\ty\t')" "$T/list.tsv"
check "list: full peer name in TSV" grep -q "$PEER_A" "$T/list.tsv"
check "list: attachments complete/total" grep -qP "\t$REF\tcsp-b\t2026-04-01T10:03:00Z\tann\t0\t0/2$" "$T/list.tsv"
check "list: receivers counted" grep -qP "\t$REF\tcsp-b\t2026-04-01T10:00:00Z\tann\t2\t1/1$" "$T/list.tsv"
run "$LEA" list --store "$S" --ref "$REF"
check "list --ref: 4 rows" [ "$(rows)" -eq 4 ]
check "list --ref: only that reference" awk -F'\t' -v r="$REF" 'NR > 1 && $3 != r { exit 1 }' "$T/out"
run "$LEA" list --store "$S" --peer csp-b
check "list --peer: 4 rows" [ "$(rows)" -eq 4 ]
run "$LEA" list --store "$S" --party alice
WANT=$(python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    ids = []
    for p in [e.get("sender")] + e.get("receivers", []):
        for i in (p or {}).get("ids", []):
            ids.append(i if isinstance(i, str) else i["value"])
    n += "alice" in ids
print(n)' "$SRC/samples/li-events.jsonl")
check "list --party: $WANT rows" test "$(rows)" -eq "$WANT" -a "$WANT" -gt 0
run "$LEA" list --store "$S" --since 2026-04-01
check "list --since DATE: 4 rows" [ "$(rows)" -eq 4 ]
run "$LEA" list --store "$S" --since 2026-04-01T10:01:30Z
check "list --since RFC 3339: 2 rows" [ "$(rows)" -eq 2 ]
run "$LEA" list --store "$S" --since 2026-04-01T12:01:30+02:00
check "list --since with an offset: 2 rows" [ "$(rows)" -eq 2 ]
run "$LEA" list --store "$S" --limit 3
check "list --limit: 3 rows" [ "$(rows)" -eq 3 ]
run "$LEA" list --store "$S" --ref "$REF" --json
expect_rc "list --json" 0
cp "$T/out" "$T/mine.json"
check "list --json: values whole" python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 4, a
assert [r["attachments"] for r in a] == [1, 1, 2, 3], a
assert [r["attachments_complete"] for r in a] == [1, 1, 0, 2], a
assert a[3]["sender"] == "x\ty" and a[0]["receivers"] == 2, a
assert all(r["reference"] == sys.argv[2] and r["reference_kind"] == "LIID" for r in a)' "$T/mine.json" "$REF"
ids=($(python3 -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(open(sys.argv[1]))))' "$T/mine.json"))
I1=${ids[0]} I2=${ids[1]} I4=${ids[2]} I5=${ids[3]}
run "$LEA" list --store "$S" --json --ref NO-SUCH-REF
check "list --json, no match: []" python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == []' "$T/out"
# a terminal: aligned table, wide cells cut with an ellipsis
if command -v script >/dev/null 2>&1; then
	script -qec "$LEA list --store $S" /dev/null >"$T/tty.out" 2>&1
	check "list on a TTY: header" grep -q "^ *ID  RECEIVED" "$T/tty.out"
	check "list on a TTY: wide peer cut with …" grep -q "csp-alpha-long-…" "$T/tty.out"
	check "list on a TTY: no tabs" not_contains "$T/tty.out" "$(printf '\t')"
else
	echo "SKIP: script(1) missing, terminal table not checked"
fi

# ---- show ----
run "$LEA" show --store "$S" "$I1"
expect_rc "show" 0
cp "$T/out" "$T/show1.txt"
for want in "Reference: *LIID $REF" "Sender: *\[target\]" "Id: *ben@example.org (format ETSI:EmailAddress)" \
	"Attachment 1: *../../etc/passwd" "State: *complete" "SHA-256 match: *yes" \
	"CSP block 1: *schema urn:test:s:1" "Schema: *known (19 bytes, in this item)" "Correlation: *id 9, seq 0" \
	"Time: *2026-04-01T10:00:00Z"; do
	check "show text: $want" grep -q -- "$want" "$T/show1.txt"
done
run "$LEA" show --store "$S" "$I2"
check "show: schema sent earlier (R-CSP-2)" grep -q "Schema: *known (19 bytes, sent earlier by this peer)" "$T/out"
check "show: CSP XML shown" grep -q "<t:x xmlns:t='urn:test:s:1'>two</t:x>" "$T/out"
run "$LEA" show --store "$S" "$I4"
check "show: mismatch state" grep -q "State: *mismatch" "$T/out"
check "show: sha256 does not match" grep -q "SHA-256 match: *NO" "$T/out"
check "show: model A to fetch" grep -q "State: *to-fetch" "$T/out"
check "show: unknown schema" grep -q "Schema: *unknown" "$T/out"
run "$LEA" show --store "$S" "$I5"
check "show: announced" grep -q "State: *announced" "$T/out"
check "show: escaped tab" grep -q 'Id: *x\\ty' "$T/out"
run "$LEA" show --store "$S" --json "$I4"
expect_rc "show --json" 0
check "show --json: store fields and item" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["id"] == int(sys.argv[2]) and d["peer"] == "csp-b", d
assert d["item"]["attachments"][0]["filename"] == "mismatch.bin"
s = d["stored_attachments"]
assert s[0]["state"] == "mismatch" and s[0]["sha256_match"] is False and s[0]["model"] == "B", s
assert s[1]["state"] == "to-fetch" and s[1]["sha256_match"] is None, s
assert d["csp"][0]["schema_content_known"] is False
assert d["delivery"]["sequence"] == 4 and d["delivery"]["last_sequence"] is True' "$T/out" "$I4"
run "$LEA" show --store "$S" --json "$I2"
check "show --json: schema content from earlier" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["csp"][0]
assert c["schema_content_known"] and c["schema_content_source"] == "earlier" and c["schema_content"] == "schema one, as text", c
assert d["stored_attachments"][0]["sha256_match"] is True' "$T/out"
for id in "$I1" "$I2" "$I4" "$I5"; do
	run "$LEA" show --store "$S" --xml "$id"
	cp "$T/out" "$T/x.xml"
	check "show --xml $id validates" item_valid "$T/x.xml"
done
run "$LEA" show --store "$S" --raw "$I4"
check "show --raw: the message as received" cmp -s "$T/out" "${M[3]}"
# unknown item, usage
run "$LEA" show --store "$S" 999999
expect_rc "show unknown item" 3
check "show unknown item: one line" one_line_stderr
check "show unknown item: says not found" contains "$T/err" "999999 not found"
run "$LEA" show --store "$S" abc
expect_rc "show bad ITEM" 2
run "$LEA" show --store "$S"
expect_rc "show without ITEM" 2
run "$LEA" show --store "$S" --json --xml "$I1"
expect_rc "show --json --xml" 2
run "$LEA" show --store "$S" 1 2
expect_rc "show two ITEMs" 2
run "$LEA" show --help
expect_rc "show --help" 0
check "show --help on stdout" contains "$T/out" "Usage: li707-lea show"

# ---- status ----
run "$LEA" status --store "$S" --ref "$REF" --gaps --json
expect_rc "status --json" 0
cp "$T/out" "$T/status.json"
DID=$(grep -o '<delivery:DeliveryID>[^<]*' "${M[0]}" | cut -d'>' -f2)
check "status: counts" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
(r,) = d["references"]
want = {"reference": "TEST-B-1", "deliveries": 4, "items": 4, "duplicates": 1, "streams": 2,
        "streams_ended": 2, "sequence_missing": 1, "application_missing": 1,
        "application_repeated": 1}
for k, v in want.items():
    assert r[k] == v, (k, r[k], v)
a = r["attachments"]
assert (a["complete"], a["mismatch"], a["announced"], a["to-fetch"]) == (4, 1, 1, 1), a
g = sorted((x["kind"], x["stream"], x["from"], x["to"]) for x in r["gaps"])
assert g == [("application", "9", 2, 2), ("sequence", sys.argv[2], 3, 3)], g' "$T/status.json" "$DID"
run "$LEA" status --store "$S" --ref "$REF" --gaps
expect_rc "status --gaps" 0
check "status text: gap listed" grep -q "gap sequence *$DID  3$" "$T/out"
check "status text: application gap" grep -q "gap application *9  2$" "$T/out"
check "status text: streams" grep -q "streams *2 (2 ended)" "$T/out"
run "$LEA" status --store "$S" --json
check "status: orphan row" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["orphans"]["attachments"]["orphan"] == 1, d["orphans"]
assert len(d["references"]) == 3, [r["reference"] for r in d["references"]]' "$T/out"
run "$LEA" status --store "$S"
check "status text: orphans" grep -q "Uploads without their record" "$T/out"
run "$LEA" status --store "$S" --ref SECRET-REF-77
expect_rc "status unknown reference" 3
check "status unknown reference: not echoed (R-SEC-6)" not_contains "$T/err" "SECRET-REF-77"

# ---- export ----
mkdir -p "$T/cwd/a/b"
run bash -c "cd '$T/cwd/a/b' && '$LEA' export --store '$S' --ref '$REF' --out exp"
expect_rc "export" 0
E=$T/cwd/a/b/exp
check "export: nothing written outside DIR" test ! -e "$T/cwd/etc" -a ! -e "$T/cwd/a/etc"
check "export: items" test "$(ls "$E/items" | grep -c '\.xml$')" -eq 4 -a "$(ls "$E/items" | grep -c '\.json$')" -eq 4
check "export: messages once each" [ "$(ls "$E/messages" | wc -l)" -eq 4 ]
check "export: 5 attachments stored" [ "$(ls -A "$E/attachments" | wc -l)" -eq 5 ]
check "export: passwd name sanitised" [ -f "$E/attachments/$I1-1-passwd" ]
check "export: unicode/space name sanitised" [ -f "$E/attachments/$I2-1-r_sum__final.pdf" ]
check "export: only dots: a default name" [ -f "$E/attachments/$I5-2-attachment" ]
check "export: long name cut at 100 bytes" [ -f "$E/attachments/$I5-3-${LONG:0:100}" ]
check "export: only safe names" bash -c "ls -A '$E/attachments' | grep -qvE '^[0-9]+-[0-9]+-[A-Za-z0-9_-][A-Za-z0-9._-]*\$' && exit 1 || exit 0"
check "export: no temporary files left" bash -c "! find '$E' -name '.tmp-*' | grep -q ."
check "export: item JSON keeps no store paths" bash -c "! grep -q \"\\\"file\\\"\" '$E'/items/*.json"
check "export: attachment content" cmp -s "$E/attachments/$I1-1-passwd" "$T/att/passwd.txt"
for f in "${M[0]}" "${M[1]}" "${M[3]}" "${M2[0]}"; do
	TX=$(grep -o '<TransactionIdentifier>[^<]*' "$f" | cut -d'>' -f2)
	check "export: message $TX as received" cmp -s "$E/messages/$TX.xml" "$f"
done
for x in "$E"/items/*.xml; do
	check "export: $(basename "$x") validates" item_valid "$x"
done
check "export: manifest" python3 -c '
import hashlib, json, os, sys
e, ref = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(e, "manifest.json")))
assert m["reference"] == ref and m["items"] == 4 and m["complete"] is True and m["problems"] == [], m
listed = {f["path"] for f in m["files"]}
on_disk = {os.path.relpath(os.path.join(d, n), e) for d, _, ns in os.walk(e) for n in ns} - {"manifest.json"}
assert listed == on_disk, (listed ^ on_disk)
for f in m["files"]:
    b = open(os.path.join(e, f["path"]), "rb").read()
    assert len(b) == f["size"] and hashlib.sha256(b).hexdigest() == f["sha256"], f
a = m["attachments"]
assert len(a) == 7, a
st = sorted((x["state"], x["sha256_match"], x["path"] is not None) for x in a)
assert st == [("announced", None, False)] + [("complete", True, True)] * 4 + [
              ("mismatch", False, True), ("to-fetch", None, False)], st' "$E" "$REF"
# the manifest's checksums, verified by sha256sum
python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    print(f["sha256"] + "  " + f["path"])' "$E/manifest.json" >"$T/sums"
check "export: sha256sum -c of the manifest" bash -c "cd '$E' && sha256sum --quiet -c '$T/sums'"
check "export: files are private" [ "$(stat -c %a "$E/items/$I1.xml")" = 600 ]

# refusals: a non-empty DIR, a symbolic link, a file; nothing is written there
mkdir "$T/full"; echo keep >"$T/full/x"
run "$LEA" export --store "$S" --ref "$REF" --out "$T/full"
expect_rc "export into a non-empty DIR" 3
check "export non-empty: untouched" [ "$(ls -A "$T/full")" = x ]
mkdir "$T/target"; ln -s "$T/target" "$T/link"
run "$LEA" export --store "$S" --ref "$REF" --out "$T/link"
expect_rc "export into a symlink" 3
check "export symlink: says so" contains "$T/err" "symbolic link"
run "$LEA" export --store "$S" --ref "$REF" --out "$T/link/"
expect_rc "export into a symlink/" 3
check "export symlink: target untouched" [ -z "$(ls -A "$T/target")" ]
: >"$T/afile"
run "$LEA" export --store "$S" --ref "$REF" --out "$T/afile"
expect_rc "export into a file" 3
mkdir "$T/empty"
run "$LEA" export --store "$S" --ref "$REF" --out "$T/empty"
expect_rc "export into an empty DIR" 0
run "$LEA" export --store "$S" --ref SECRET-REF-78 --out "$T/none"
expect_rc "export of an unknown reference" 3
check "export unknown reference: DIR not created" [ ! -e "$T/none" ]
check "export unknown reference: not echoed (R-SEC-6)" not_contains "$T/err" "SECRET-REF-78"
run "$LEA" export --store "$S" --out "$T/none"
expect_rc "export without --ref" 2
run "$LEA" export --store "$S" --ref "$REF"
expect_rc "export without --out" 2
# damaged content: the copy no longer matches what the store recorded
CONTENT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stored_attachments"][0]["file"])' \
	<("$LEA" show --store "$S" --json "$I1") 2>/dev/null)
if [ -n "$CONTENT" ] && [ -f "$CONTENT" ]; then
	chmod u+w "$CONTENT" && printf 'tampered\n' >"$CONTENT"
	run "$LEA" export --store "$S" --ref "$REF" --out "$T/tampered"
	expect_rc "export of damaged content" 1
	check "export damaged: says which" contains "$T/err" "item $I1 attachment 1"
	check "export damaged: manifest says incomplete" python3 -c '
import json, sys; m = json.load(open(sys.argv[1])); assert m["complete"] is False and m["problems"], m' "$T/tampered/manifest.json"
else
	bad "stored content file of item $I1 not found"
fi

# ---- usage and store errors ----
for c in list show export status; do
	run "$LEA" "$c" --help
	expect_rc "$c --help" 0
	check "$c --help on stdout" contains "$T/out" "Usage: li707-lea $c"
	run "$LEA" "$c" --bogus=SECRET-VALUE-1
	expect_rc "$c --bogus" 2
	check "$c --bogus: one line" one_line_stderr
	check "$c --bogus: value not echoed" not_contains "$T/err" "SECRET-VALUE-1"
done
run "$LEA" list --store "$S" --since yesterday
expect_rc "list --since bad" 2
run "$LEA" list --store "$S" --since 2026-02-30
expect_rc "list --since impossible date" 2
run "$LEA" list --store "$S" --limit 0
expect_rc "list --limit 0" 2
run "$LEA" list --store "$S" SECRET-ARG
expect_rc "list extra argument" 2
check "list extra argument: not echoed" not_contains "$T/err" "SECRET-ARG"
run "$LEA" list --store "$S" --config /dev/null
expect_rc "list --store and --config" 2
run "$LEA" list --store "$T/no-such-store"
expect_rc "list: no store" 3
run "$LEA" list --config "$T/no-such.conf"
expect_rc "list: no config file" 3
printf '[server]\nbogus = 1\n' >"$T/bad.conf"
run "$LEA" list --config "$T/bad.conf"
expect_rc "list: bad config" 4
check "list bad config: names file and line" contains "$T/err" "bad.conf:2"
# --config: the store directory of a configuration
cat >"$T/good.conf" <<EOF
[server]
listen = 127.0.0.1:1
cert = /nonexistent/cert.pem
key = /nonexistent/key.pem
cacert = /nonexistent/ca.pem
store = $S

[peer csp-b]
subject = CN=csp-b
references = any
EOF
run "$LEA" list --config "$T/good.conf" --ref "$REF"
expect_rc "list --config" 0
check "list --config: the configured store" [ "$(rows)" -eq 4 ]


# ---- 3. hostile values and damaged stores (issue 13) ----
# Bidi controls (U+202E RLO, U+2066 LRI, U+2069 PDI) in a sender identifier are escaped in
# text output like other controls; --json carries them as they are.
BIDI=$T/bidi
mkdir -p "$T/bidi-msg"
printf '{"liid": "BIDI-1", "timestamp": "2026-05-01T10:00:00Z", "sender": {"ids": ["a\\u202eevil\\u2066x\\u2069"]}}\n' >"$T/bidi.jsonl"
"$TOOL" build --out-dir "$T/bidi-msg" <"$T/bidi.jsonl" >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; echo "li707 build of the bidi event failed"; exit 1; }
run "$FILL" --store "$BIDI" --peer p "$T"/bidi-msg/*.xml
expect_rc "fill bidi store" 0
RLO=$(printf '\342\200\256') LRI=$(printf '\342\201\246') PDI=$(printf '\342\201\251')
run "$LEA" list --store "$BIDI"
expect_rc "list bidi" 0
check "list: RLO and isolates escaped" contains "$T/out" 'a\\u202eevil\\u2066x\\u2069'
check "list: no raw bidi control" not_contains "$T/out" "$RLO\|$LRI\|$PDI"
if command -v script >/dev/null 2>&1; then
	script -qec "$LEA list --store $BIDI" /dev/null >"$T/tty.out" 2>&1
	check "list on a TTY: no raw bidi control" not_contains "$T/tty.out" "$RLO\|$LRI\|$PDI"
fi
BID=$(tail -1 "$T/out" | cut -f1)
run "$LEA" show --store "$BIDI" "$BID"
expect_rc "show bidi" 0
check "show: RLO escaped" contains "$T/out" 'a\\u202eevil'
check "show: no raw bidi control" not_contains "$T/out" "$RLO\|$LRI\|$PDI"
run "$LEA" list --store "$BIDI" --json
check "list --json: the identifier as it is" python3 -c '
import json, sys; a = json.load(open(sys.argv[1])); assert a[0]["sender"] == "a\u202eevil\u2066x\u2069", a' "$T/out"

# Every --json is one JSON document (docs/man/li707-lea.8, li707.1): the man page agrees.
check "li707-lea.8: list --json is one JSON array, not JSON Lines" \
	not_contains "$SRC/docs/man/li707-lea.8" "JSON Lines"
check "li707-lea.8: one JSON document for every --json" \
	contains "$SRC/docs/man/li707-lea.8" "prints exactly one JSON document"

# A store directory others can write to: a warning, the listing still works.
chmod o+w "$BIDI"
run "$LEA" list --store "$BIDI"
expect_rc "list, store writable by others" 0
check "list: warns that others can write the store" contains "$T/err" "writable by others"
chmod o-w "$BIDI"
run "$LEA" list --store "$BIDI"
check "list: no warning for a private store" not_contains "$T/err" "writable by others"

# Damaged stores: "store damaged", exit status 6 (docs/exit-codes.md), no partial JSON.
damage() { # DIR PAGE: overwrite one page of DIR/index.sqlite (page 1 = header and schema)
	python3 -c '
import sqlite3, sys
p = sys.argv[1] + "/index.sqlite"
c = sqlite3.connect("file:" + p + "?mode=ro", uri=True)
size = c.execute("PRAGMA page_size").fetchone()[0]
page = int(sys.argv[2]) if sys.argv[2] != "items" else \
    c.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", ("items",)).fetchone()[0]
c.close()
with open(p, "r+b") as f:
    f.seek((page - 1) * size + (100 if page == 1 else 0))
    f.write(b"\xa5" * (size - (100 if page == 1 else 0)))' "$1" "$2"
}
cp -r "$GS" "$T/dmg-items"
damage "$T/dmg-items" items
for c in list "list --json" "show 1" "show --json 1"; do
	run "$LEA" $c --store "$T/dmg-items"
	expect_rc "$c, damaged items table -> 6" 6
	check "$c, damaged items table: says store damaged" contains "$T/err" "store damaged"
done
run "$LEA" list --json --store "$T/dmg-items"
check "list --json, damaged store: nothing on stdout" test ! -s "$T/out"
cp -r "$GS" "$T/dmg-head"
damage "$T/dmg-head" 1
run "$LEA" list --json --store "$T/dmg-head"
expect_rc "list, damaged schema page -> 6" 6
check "list, damaged schema page: says store damaged" contains "$T/err" "store damaged"
check "list, damaged schema page: nothing on stdout" test ! -s "$T/out"
run "$LEA" status --json --store "$T/dmg-head"
expect_rc "status, damaged schema page -> 6" 6
check "status, damaged schema page: says store damaged" contains "$T/err" "store damaged"
cp -r "$GS" "$T/dmg-empty"
: >"$T/dmg-empty/index.sqlite"
rm -f "$T/dmg-empty/index.sqlite-wal" "$T/dmg-empty/index.sqlite-shm"
run "$LEA" list --store "$T/dmg-empty"
expect_rc "list, empty index -> 6 (not the usage status)" 6
check "list, empty index: says store damaged" contains "$T/err" "store damaged"

summary
