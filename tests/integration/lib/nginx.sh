# nginx as the independent HTTPS peer of the integration tests and benchmarks (sourced, not
# run; needs nothing else from lib/). One nginx per DIR, in the foreground of the caller's
# shell (call nginx_start directly, not in $(...), so the caller can kill and wait for it).
#
# nginx_start DIR PORT ROOT OPTION...
#   Writes DIR/nginx.conf (one worker, `listen 127.0.0.1:PORT ssl`, files under ROOT), starts
#   nginx with it (stderr in DIR/nginx.err, error log DIR/nginx-error.log, temporary files
#   under DIR/ntmp, pid file DIR/nginx.pid), sets NGINX_PID and waits until PORT accepts
#   connections (5 s; else prints nginx's complaints and returns 1). Options:
#     pki=P            server certificate P/server.pem, key P/server.key (required)
#     mtls             clients must present a certificate of P/ca.pem (ssl_verify_client on)
#     mtls=CA          the same with the CA file CA
#     protocols=LIST   ssl_protocols LIST ("TLSv1.2 TLSv1.3"); nginx's default without it
#     log=FORMAT       access log DIR/access.log in FORMAT (a log_format string, no single
#                      quote); log=combined: nginx's default format. Without it: access_log off
#     workers=N        worker_processes (1)
#     connections=N    worker_connections (256)
#     http=TEXT        more directives in http {} (may be given more than once; may hold
#                      whole `server { ... }` blocks)
#     server=TEXT      more directives in the server {} (may be given more than once)
# nginx_stop DIR
#   Stops the nginx started with DIR (SIGTERM to its master) and waits for it.
NGINX_PID=
nginx_start() {
	local dir=$1 port=$2 root=$3
	shift 3
	local pki='' ca='' protocols='' log='' workers=1 conns=256 http='' server='' o
	for o in "$@"; do
		case $o in
		pki=*) pki=${o#pki=} ;;
		mtls) ca=mtls ;;
		mtls=*) ca=${o#mtls=} ;;
		protocols=*) protocols=${o#protocols=} ;;
		log=*) log=${o#log=} ;;
		workers=*) workers=${o#workers=} ;;
		connections=*) conns=${o#connections=} ;;
		http=*) http+="	${o#http=}"$'\n' ;;
		server=*) server+="		${o#server=}"$'\n' ;;
		*)
			echo "nginx_start: unknown option '$o'" >&2
			return 2
			;;
		esac
	done
	[ -n "$pki" ] || {
		echo "nginx_start: pki=DIR is required" >&2
		return 2
	}
	[ "$ca" != mtls ] || ca=$pki/ca.pem
	mkdir -p "$dir/ntmp"
	{
		echo "daemon off;"
		echo "worker_processes $workers;"
		echo "pid $dir/nginx.pid;"
		echo "error_log $dir/nginx-error.log warn;"
		echo "events { worker_connections $conns; }"
		echo "http {"
		case $log in
		'') echo "	access_log off;" ;;
		combined) echo "	access_log $dir/access.log;" ;;
		*)
			echo "	log_format li707 '$log';"
			echo "	access_log $dir/access.log li707;"
			;;
		esac
		local t
		for t in client_body proxy fastcgi uwsgi scgi; do echo "	${t}_temp_path $dir/ntmp/${t#client_};"; done
		printf '%s' "$http"
		echo "	server {"
		echo "		listen 127.0.0.1:$port ssl;"
		echo "		ssl_certificate $pki/server.pem;"
		echo "		ssl_certificate_key $pki/server.key;"
		if [ -n "$ca" ]; then
			echo "		ssl_client_certificate $ca;"
			echo "		ssl_verify_client on;"
		fi
		[ -z "$protocols" ] || echo "		ssl_protocols $protocols;"
		echo "		root $root;"
		printf '%s' "$server"
		echo "	}"
		echo "}"
	} >"$dir/nginx.conf"
	nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/nginx-error.log" 2>"$dir/nginx.err" &
	NGINX_PID=$!

	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "nginx did not start on port $port:" >&2
	cat "$dir/nginx.err" "$dir/nginx-error.log" >&2 2>/dev/null
	return 1
}
nginx_stop() {
	local pid
	pid=$(cat "$1/nginx.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	wait "$pid" 2>/dev/null # reaps it when it is the caller's child
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
}
