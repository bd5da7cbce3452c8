# Shared harness of the integration scripts (sourced, not run; not a test of its own).
# check NAME COMMAND...  one check: passes when COMMAND succeeds, else prints "FAIL: NAME".
# run COMMAND...         runs COMMAND with stdout in $T/out, stderr in $T/err, status in $rc
#                        (the caller's errexit setting is kept).
# expect_rc NAME WANT    one check: passes when the last run's status is WANT, else shows
#                        the first lines of its stderr.
# is NAME EXPECTED ACTUAL one check that ACTUAL equals EXPECTED (both shown on failure).
# one_line_stderr        the last run wrote exactly one line to stderr.
# contains FILE TEXT     FILE has TEXT (grep, TEXT a basic regular expression);
# not_contains FILE TEXT the opposite.
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
expect_rc() {
	if [ "$rc" -eq "$2" ]; then ok; else
		bad "$1: exit $rc, expected $2"
		sed 's/^/    stderr: /' "$T/err" | head -20 >&2
	fi
}
is() { if [ "$3" = "$2" ]; then ok; else bad "$1 (expected '$2', got '$3')"; fi; }
one_line_stderr() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
contains() { grep -q -- "$2" "$1"; }
not_contains() { ! grep -q -- "$2" "$1"; }
# free_port: an unused loopback TCP port. wait_port PORT: until something listens on it (5 s).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "peer on port $1 did not start" >&2
	return 1
}
wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds (evaluated each time)
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# wait_started LOG PATTERN PID COUNT: waits (30 s at most, less when PID exits) until LOG holds
# more than COUNT lines matching PATTERN. For a daemon restarted with its log appended: a start
# line or socket left by the previous run must not count as this run's start.
wait_started() {
	local _i
	for _i in $(seq 300); do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -gt "$4" ] && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
