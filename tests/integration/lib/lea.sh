# li707-lea started by the integration tests (sourced, not run; needs nothing else from lib/).
#
# lea_start CONFIG LOG [OPTION...] [-- LEA-ARGUMENTS...]
#   Starts "$LEA" --config CONFIG LEA-ARGUMENTS... in the background (stderr to LOG), sets LPID
#   and waits (10 s at most, less when the daemon exits) until it logs its mutual-TLS listener;
#   sets PORT to that listener's port. When the daemon does not start: prints LOG, kills it and
#   exits 1.
#   Options:
#     psk      wait for the PSK listener instead (it opens last) and set PSKPORT too
#     append   append to LOG (a restart: the ports are those of the last start)
# lea_stop
#   SIGTERM to LPID, waits for it; returns its exit status; clears LPID.
lea_start() {
	local conf=$1 log=$2 psk='' append='' pick=head
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		psk) psk=1 ;;
		append) append=1 pick=tail ;;
		--)
			shift
			break
			;;
		*)
			echo "lea_start: unknown option '$1'" >&2
			exit 2
			;;
		esac
		shift
	done
	if [ -n "$append" ]; then
		"$LEA" --config "$conf" "$@" 2>>"$log" &
	else
		"$LEA" --config "$conf" "$@" 2>"$log" &
	fi
	LPID=$!
	local what='(mtls)'
	[ -z "$psk" ] || what='(psk)'
	for _ in $(seq 100); do
		grep -q "listening on .*$what" "$log" 2>/dev/null && break
		kill -0 "$LPID" 2>/dev/null || break
		sleep 0.1
	done
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (mtls).*/\1/p' "$log" | "$pick" -1)
	[ -z "$psk" ] ||
		PSKPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (psk).*/\1/p' "$log" | "$pick" -1)
	if [ -z "$PORT" ] || { [ -n "$psk" ] && [ -z "$PSKPORT" ]; }; then
		echo "li707-lea did not start ($log):"
		cat "$log"
		kill -9 "$LPID" 2>/dev/null
		exit 1
	fi
}
lea_stop() {
	kill -TERM "$LPID"
	wait "$LPID"
	local s=$?
	LPID=
	return $s
}
