#!/usr/bin/env bash
# The li707-lea distribution files: the systemd unit (dist/systemd/li707-lea.service) and the
# man page (docs/man/li707-lea.8), checked against each other and against the contracts in
# src/lea (lea_cli.h: commands and options, the default configuration path) and the example
# configuration (every key documented in the man page).
# Arguments: TOOL SRCDIR SHARED BUILDDIR (as the other integration scripts).
# systemd-analyze verify runs when present; the man page is rendered with man and/or groff
# when present. The grep-based checks always run.
set -uo pipefail

SRC=${2:?SRCDIR}
UNIT=$SRC/dist/systemd/li707-lea.service
MAN=$SRC/docs/man/li707-lea.8
EXAMPLE=$SRC/docs/examples/li707-lea.conf
CLI=$SRC/src/lea/lea_cli.h

T=$(mktemp -d "${TMPDIR:-/tmp}/li707-test-lea-dist-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib/check.sh"

for f in "$UNIT" "$MAN" "$EXAMPLE" "$CLI"; do
	[ -f "$f" ] || { echo "FAIL: $f missing"; exit 1; }
done

# ---- the unit: every required setting, with its value ----
has() { grep -qxF -- "$1" "$UNIT"; }
CONF=$(sed -n 's/^#define LEA_CONFIG_DEFAULT "\(.*\)"$/\1/p' "$CLI")
check "lea_cli.h defines LEA_CONFIG_DEFAULT" test -n "$CONF"
for line in \
	"Type=simple" "User=li707-lea" "Group=li707-lea" \
	"StateDirectory=li707-lea" "ConfigurationDirectory=li707" \
	"ExecStart=/usr/local/sbin/li707-lea --config $CONF" \
	"ExecStartPre=/usr/local/sbin/li707-lea --config $CONF --check-config" \
	"ExecReload=/bin/kill -HUP \$MAINPID" \
	"KillSignal=SIGTERM" "Restart=on-failure" \
	"NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
	"PrivateDevices=yes" "ProtectKernelTunables=yes" "ProtectKernelModules=yes" \
	"ProtectKernelLogs=yes" "ProtectControlGroups=yes" \
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "RestrictNamespaces=yes" \
	"LockPersonality=yes" "MemoryDenyWriteExecute=yes" "SystemCallFilter=@system-service" \
	"SystemCallArchitectures=native" "CapabilityBoundingSet=" "UMask=0077"; do
	check "unit has '$line'" has "$line"
done
check "unit sets LimitNOFILE" grep -qE '^LimitNOFILE=[0-9]+$' "$UNIT"
check "unit documents CAP_NET_BIND_SERVICE for ports < 1024" \
	grep -qE '^#.*AmbientCapabilities=CAP_NET_BIND_SERVICE' "$UNIT"
# TimeoutStopSec must cover the default drain_timeout (30 s) of the example with a margin.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$UNIT")
drain=$(sed -n 's/^drain_timeout = \([0-9]*\)$/\1/p' "$EXAMPLE")
check "TimeoutStopSec ($stop) > drain_timeout ($drain) + 30" test "${stop:-0}" -gt "$((${drain:-0} + 30))"
# Every key=value line belongs to a section, no stray text.
check "unit lines are sections, comments or Key=Value" \
	test -z "$(grep -vE '^(#.*|\[(Unit|Service|Install)\]|[A-Za-z]+=.*|)$' "$UNIT")"

if command -v systemd-analyze >/dev/null 2>&1; then
	# Verify a copy whose binary is a stub (the real one is not installed here) and whose
	# man page is this one.
	mkdir -p "$T/man/man8" "$T/unit"
	cp "$MAN" "$T/man/man8/li707-lea.8"
	printf '#!/bin/sh\nexit 0\n' >"$T/li707-lea"
	chmod 755 "$T/li707-lea"
	sed "s|/usr/local/sbin/li707-lea|$T/li707-lea|g" "$UNIT" >"$T/unit/li707-lea.service"
	run env MANPATH="$T/man" systemd-analyze verify "$T/unit/li707-lea.service"
	[ "$rc" -eq 0 ] && [ ! -s "$T/err" ] || { cat "$T/err" >&2; }
	check "systemd-analyze verify: no error" test "$rc" -eq 0
	check "systemd-analyze verify: no warning" test ! -s "$T/err"
else
	echo "SKIP: systemd-analyze missing (grep checks only)"
fi

# ---- the man page ----
rendered=0
if command -v groff >/dev/null 2>&1; then
	run groff -man -ww -z "$MAN"
	[ -s "$T/err" ] && cat "$T/err" >&2
	check "groff -man -ww: no warning" test "$rc" -eq 0 -a ! -s "$T/err"
	rendered=1
fi
if command -v man >/dev/null 2>&1; then
	run env MANWIDTH=80 man --warnings -l "$MAN"
	[ -s "$T/err" ] && cat "$T/err" >&2
	check "man --warnings: no warning" test "$rc" -eq 0 -a ! -s "$T/err"
	check "man renders the NAME line" grep -q 'li707-lea - receive' "$T/out"
	rendered=1
fi
[ "$rendered" -eq 1 ] || echo "SKIP: neither man nor groff present (rendering not checked)"

# Every command and option of lea_cli.h, every daemon option, the signals and sections.
man_has() { grep -qF -- "$1" "$MAN"; }
for cmd in $(sed -n 's/^ \*   li707-lea \([a-z]*\) .*/\1/p' "$CLI"); do
	check "man page has command $cmd" man_has ".B li707\\-lea $cmd"
done
for opt in $(grep -o -- '--[a-z-]*' "$CLI" | sort -u) --help --version; do
	check "man page has option $opt" man_has "${opt//-/\\-}"
done
for s in SIGHUP SIGTERM SIGINT "R\\-SEC\\-2" "R\\-SEC\\-6" ".BR li707 (1)" ".SH EXIT STATUS" \
	".SH FILES" ".SH SIGNALS" ".SH SECURITY" "docs/examples/li707\\-lea.conf"; do
	check "man page mentions $s" man_has "$s"
done
# Every key of the example configuration is named in the man page's summary.
for key in $(sed -n 's/^#\{0,1\}\([a-z0-9_]*\) = .*/\1/p; s/^#   \([a-z0-9_]*\) = .*/\1/p' "$EXAMPLE" | sort -u); do
	check "man page names key $key" grep -qE "^\\.(B|BR|RB) (.* )?$key( |\$)" "$MAN"
done

summary
