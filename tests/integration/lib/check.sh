# Shared harness of the integration scripts (sourced, not run; not a test of its own).
# check NAME COMMAND...  one check: passes when COMMAND succeeds, else prints "FAIL: NAME".
# run COMMAND...         runs COMMAND with stdout in $T/out, stderr in $T/err, status in $rc
#                        (the caller's errexit setting is kept).
# summary                prints "N passed, M failed" and returns non-zero on any failure.
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
	echo "FAIL: $*" >&2
	fail=$((fail + 1))
}
check() {
	local name=$1
	shift
	if "$@"; then ok; else bad "$name"; fi
}
rc=0
run() {
	local errexit=0
	case $- in *e*) errexit=1 ;; esac
	set +e
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$errexit" -eq 0 ] || set -e
}
summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
