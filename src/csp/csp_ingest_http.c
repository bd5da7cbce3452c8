/* li707-csp - the ingest endpoint (csp_ingest.h): POST /events on Unix sockets and loopback
 * TCP, plain HTTP/1.1, one request per connection.
 *
 * DESIGN. Local only (the configuration refuses non-loopback addresses; a Unix socket is
 * mode 0660): the provider's platform on the same host. One accept thread per listener, one
 * thread per connection (at most CSP_INGEST_CONNECTIONS; beyond: 503 at once). A request is
 * read whole (Content-Length, at most max_request_bytes; "Expect: 100-continue" answered),
 * handed to csp_ingest_lines, and answered after the store commit: 200 with one JSON line
 * per event, 503 when the store could not commit (nothing was accepted: send again). No
 * request content is logged. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "csp_ingest.h"
#include "fdio.h"
#include "li707/error.h"
#include "log.h"
#include "netlisten.h"

struct listener {
	int fd;
	int port;
	char *unix_path;
	pthread_t th;
	bool started;
	struct csp_ingest_server *srv;
};

struct csp_ingest_server {
	struct csp_ingest *g;           /* NULL: a control server */
	csp_local_handler handler;
	void *handler_ud;
	const char *path;
	uint64_t max_body;
	struct listener *ls;
	size_t n;
	int stop_pipe[2];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int active;
	atomic_bool stopping;
};

struct conn {
	struct csp_ingest_server *srv;
	int fd;
};

static void respond(int fd, int status, const char *reason, const char *ctype, const char *body,
		    size_t len, const char *extra)
{
	char h[512];
	int n = snprintf(h, sizeof h,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 status, reason, ctype, len, extra ? extra : "");
	if (lx_write_all(fd, h, (size_t)n) == 0 && len)
		lx_write_all(fd, body, len);
}

static void respond_text(int fd, int status, const char *reason, const char *msg)
{
	char b[256];
	int n = snprintf(b, sizeof b, "%s\n", msg);
	respond(fd, status, reason, "text/plain", b, (size_t)n,
		status == 503 ? "Retry-After: 1\r\n" : NULL);
}

/* The value of header name in the header block h (NUL-terminated), into v. */
static bool header(const char *h, const char *name, char *v, size_t vlen)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(h, "\r\n"); p; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *s = p + nl + 1;
			while (*s == ' ' || *s == '\t')
				s++;
			size_t n = strcspn(s, "\r");
			while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			if (n >= vlen)
				return false;
			memcpy(v, s, n);
			v[n] = '\0';
			return true;
		}
	}
	return false;
}

static void handle(struct csp_ingest_server *srv, int fd)
{
	struct timeval tv = {.tv_sec = CSP_INGEST_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	char hb[CSP_INGEST_HEADER_MAX + 1];
	size_t hn = 0;
	char *end = NULL;
	while (!end) {
		if (hn >= CSP_INGEST_HEADER_MAX)
			return respond_text(fd, 431, "Request Header Fields Too Large",
					    "header block too large");
		ssize_t r = read(fd, hb + hn, CSP_INGEST_HEADER_MAX - hn);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		hn += (size_t)r;
		hb[hn] = '\0';
		end = strstr(hb, "\r\n\r\n");
	}
	size_t head_len = (size_t)(end - hb) + 4;
	end[2] = '\0'; /* keep the last header's CRLF for header() */
	char method[16], path[256], ver[16];
	if (sscanf(hb, "%15s %255s %15s", method, path, ver) != 3 || strncmp(ver, "HTTP/1.", 7))
		return respond_text(fd, 400, "Bad Request", "bad request line");
	if (strcmp(path, srv->path) != 0)
		return respond_text(fd, 404, "Not Found", "unknown path");
	if (strcmp(method, "POST") != 0)
		return respond(fd, 405, "Method Not Allowed", "text/plain", "POST only\n", 10,
			       "Allow: POST\r\n");
	char v[64];
	if (header(hb, "Transfer-Encoding", v, sizeof v))
		return respond_text(fd, 411, "Length Required", "send a Content-Length body");
	if (!header(hb, "Content-Length", v, sizeof v) || !v[0] || strspn(v, "0123456789") != strlen(v))
		return respond_text(fd, 411, "Length Required", "Content-Length required");
	unsigned long long cl = strtoull(v, NULL, 10);
	if (strlen(v) > 15 || cl > srv->max_body)
		return respond_text(fd, 413, "Content Too Large", "body larger than max_request_bytes");
	if (header(hb, "Expect", v, sizeof v) && strcasecmp(v, "100-continue") == 0)
		lx_write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	char *body = malloc(cl + 1);
	if (!body)
		return respond_text(fd, 503, "Service Unavailable", "out of memory");
	size_t have = hn - head_len;
	if (have > cl)
		have = cl;
	memcpy(body, hb + head_len, have);
	while (have < cl) {
		ssize_t r = read(fd, body + have, cl - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(body);
			return; /* cut: nothing was ingested */
		}
		have += (size_t)r;
	}
	if (!srv->g) {
		struct lx_dynbuf out;
		lx_dynbuf_init(&out, 64u << 20);
		int status = srv->handler(srv->handler_ud, body, cl, &out);
		free(body);
		respond(fd, status, status == 200 ? "OK" : "Error", "application/json",
			out.buf ? out.buf : "", out.len, NULL);
		lx_dynbuf_free(&out);
		return;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct lx_dynbuf out;
	lx_dynbuf_init(&out, 64u << 20);
	struct csp_ingest_stats st;
	int rc = csp_ingest_lines(srv->g, body, cl, 1, &out, &st);
	free(body);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (rc || st.store_failed) {
		lx_warn("ingest: request of %zu events failed: %s", st.lines,
			rc ? li707_strerror(rc) : "store commit failed");
		respond_text(fd, 503, "Service Unavailable",
			     "the store could not commit: nothing was accepted, send again");
	} else {
		lx_log(st.refused ? LX_LOG_INFO : LX_LOG_DEBUG,
		       "ingest: %zu events: %zu accepted, %zu refused, %llu bytes, ms=%.1f", st.lines,
		       st.accepted, st.refused, cl, ms);
		respond(fd, 200, "OK", "application/x-ndjson", out.buf ? out.buf : "", out.len, NULL);
	}
	lx_dynbuf_free(&out);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct csp_ingest_server *srv = c->srv;
	handle(srv, c->fd);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&srv->mu);
	srv->active--;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct listener *l = arg;
	struct csp_ingest_server *srv = l->srv;
	for (;;) {
		struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN},
				      {.fd = srv->stop_pipe[0], .events = POLLIN}};
		int r = poll(p, 2, -1);
		if (atomic_load(&srv->stopping) || (r > 0 && p[1].revents))
			break;
		if (r <= 0 || !(p[0].revents & POLLIN))
			continue;
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&srv->mu);
		bool full = srv->active >= CSP_INGEST_CONNECTIONS;
		if (!full)
			srv->active++;
		pthread_mutex_unlock(&srv->mu);
		if (full) {
			respond_text(fd, 503, "Service Unavailable", "too many connections");
			close(fd);
			continue;
		}
		struct conn *c = malloc(sizeof *c);
		pthread_t th;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (c) {
			c->srv = srv;
			c->fd = fd;
		}
		if (!c || pthread_create(&th, &at, conn_main, c) != 0) {
			free(c);
			respond_text(fd, 503, "Service Unavailable", "cannot start a thread");
			close(fd);
			pthread_mutex_lock(&srv->mu);
			srv->active--;
			pthread_mutex_unlock(&srv->mu);
		}
		pthread_attr_destroy(&at);
	}
	return NULL;
}

static int open_unix(const char *path, mode_t umask_bits, char *err, size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) {
		snprintf(err, errlen, "ingest_listen: socket path too long");
		return LI707_EINVAL;
	}
	strcpy(a.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "ingest_listen: %s exists and is not a socket", path);
			return -EEXIST;
		}
		/* a live daemon holds the store lock, so a socket here is stale */
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(umask_bits);
	int r = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (r != 0 || listen(fd, 128) != 0) {
		int rc = -errno;
		snprintf(err, errlen, "ingest_listen: cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

static int serve(struct csp_ingest *g, csp_local_handler h, void *hud, char **listen,
		 size_t n_listen, uint64_t max_body, struct csp_ingest_server **out, char *err,
		 size_t errlen)
{
	struct csp_ingest_server *srv = calloc(1, sizeof *srv);
	if (!srv || !(srv->ls = calloc(n_listen ? n_listen : 1, sizeof *srv->ls))) {
		free(srv);
		return LI707_ENOMEM;
	}
	srv->g = g;
	srv->handler = h;
	srv->handler_ud = hud;
	srv->path = g ? CSP_INGEST_PATH : CSP_CONTROL_PATH;
	srv->max_body = max_body;
	srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	int rc = pipe2(srv->stop_pipe, O_CLOEXEC) ? -errno : 0;
	for (size_t i = 0; !rc && i < n_listen; i++) {
		const char *a = listen[i];
		struct listener *l = &srv->ls[srv->n];
		l->srv = srv;
		if (strncmp(a, "unix:", 5) == 0) {
			l->fd = open_unix(a + 5, g ? 0117 : 0177, err, errlen);
			if (l->fd >= 0 && !(l->unix_path = strdup(a + 5))) {
				close(l->fd);
				l->fd = LI707_ENOMEM;
			}
		} else {
			l->fd = lx_listen_socket(a, &l->port, err, errlen);
		}
		if (l->fd < 0) {
			rc = l->fd;
			break;
		}
		srv->n++;
		if (pthread_create(&l->th, NULL, accept_main, l) != 0) {
			rc = LI707_ENOMEM;
			break;
		}
		l->started = true;
		if (!g)
			lx_info("control on unix:%s", l->unix_path);
		else if (l->unix_path)
			lx_info("ingest on unix:%s (http: POST %s)", l->unix_path, CSP_INGEST_PATH);
		else
			lx_info("ingest on %.*s:%d (http: POST %s)", (int)(strrchr(a, ':') - a), a,
				l->port, CSP_INGEST_PATH);
	}
	if (rc) {
		csp_ingest_server_stop(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

int csp_ingest_serve(struct csp_ingest *g, const struct csp_config *c,
		     struct csp_ingest_server **out, char *err, size_t errlen)
{
	return serve(g, NULL, NULL, c->ingest_listen, c->n_ingest_listen, c->max_request_bytes, out,
		     err, errlen);
}

int csp_control_serve(const char *path, csp_local_handler h, void *ud,
		      struct csp_ingest_server **out, char *err, size_t errlen)
{
	char a[4200];
	snprintf(a, sizeof a, "unix:%s", path);
	char *v[1] = {a};
	return serve(NULL, h, ud, v, 1, 16u << 20, out, err, errlen);
}

int csp_ingest_server_port(const struct csp_ingest_server *s, size_t i)
{
	return s && i < s->n ? s->ls[i].port : 0;
}

void csp_ingest_server_stop(struct csp_ingest_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	if (s->stop_pipe[1] >= 0)
		(void)!write(s->stop_pipe[1], "x", 1);
	for (size_t i = 0; i < s->n; i++) {
		if (s->ls[i].started)
			pthread_join(s->ls[i].th, NULL);
		close(s->ls[i].fd);
		if (s->ls[i].unix_path) {
			unlink(s->ls[i].unix_path);
			free(s->ls[i].unix_path);
		}
	}
	/* the requests in progress finish (their answers wait for the store) */
	pthread_mutex_lock(&s->mu);
	while (s->active > 0)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (s->stop_pipe[0] >= 0)
		close(s->stop_pipe[0]);
	if (s->stop_pipe[1] >= 0)
		close(s->stop_pipe[1]);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->ls);
	free(s);
}
