/* li707_test_server - a small HTTPS server on src/common/http_server.c for the integration
 * tests and benchmarks (tests/integration/test_server.sh, bench/bench_server.sh).
 *
 *   --cert F --key F --cacert F [--crl F]   certificate credentials (mutual TLS)
 *   --allow SUBJECT-or-SAN                  allow-list entry (contains '=': RFC 4514 subject
 *                                           DN, else a SAN); peer name "peerN"
 *   --psk-identity ID --psk-file F          a PSK peer (repeatable, in pairs)
 *   --allow-file F                          more peers, one per line: "allow SUBJECT-or-SAN"
 *                                           or "psk ID KEYFILE"; re-read on SIGHUP (the new
 *                                           list replaces the old: lx_http_server_set_peers)
 *   --listen ADDR:PORT                      certificate listener (port 0: pick one)
 *   --psk-listen ADDR:PORT                  PSK listener
 *   --no-client-cert                        certificate listeners do not ask for a client
 *                                           certificate (benchmarks with wrk only)
 *   --root DIR                              GET/HEAD files below DIR (Range support)
 *   --upload-dir DIR --max-body N           POST /binaryData/{uuid}/ streamed to DIR/uuid
 *   --tls-min 1.2|1.3  --idle-timeout S  --header-timeout S  --drain-timeout S
 *   --max-ranges N  --per-peer N
 *   --reload-cert F --reload-key F          what SIGHUP loads (default: --cert/--key again)
 * Prints "listen cert|psk PORT" per listener on stdout, then serves until SIGTERM/SIGINT
 * (drain, exit 0). SIGHUP reloads the certificate credentials (and the --allow-file). GET /_stats (allowed peers
 * only) returns "requests N\nrefused_auth N\nbody_bytes N\nuploads N\nreloads N\nheader_timeouts N\n".
 * POST /sink accepts up to 1 MiB and answers "ok" (request-rate benchmark). */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_server.h"
#include "li707/error.h"
#include "tls.h"

static const char *root_dir, *upload_dir;
static uint64_t max_body = 1ull << 30;
static struct lx_http_server *srv;
static atomic_ulong uploads;

struct upload {
	char part[4200], final[4096];
	bool renamed;
};

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static int sink_cb(void *cls, struct lx_http_request *req, const void *data, size_t n)
{
	return 0;
}

static int begin(struct lx_http_request *req)
{
	const char *p = req->path;
	if (strcmp(req->method, "GET") == 0 && strcmp(p, "/_stats") == 0) {
		struct lx_http_stats st;
		lx_http_server_stats(srv, &st);
		char b[320];
		int n = snprintf(b, sizeof b, "requests %llu\nrefused_auth %llu\nbody_bytes %llu\nuploads %lu\nreloads %llu\nheader_timeouts %llu\n",
				 (unsigned long long)st.requests, (unsigned long long)st.refused_auth,
				 (unsigned long long)st.body_bytes, atomic_load(&uploads),
				 (unsigned long long)st.reloads, (unsigned long long)st.header_timeouts);
		return lx_http_respond_buf(req, 200, "text/plain", b, (size_t)n);
	}
	if (strcmp(req->method, "POST") == 0 && strcmp(p, "/sink") == 0)
		return lx_http_body_to_cb(req, sink_cb, NULL, 1 << 20);
	if ((strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) && root_dir) {
		if (p[0] != '/' || strstr(p, "/..") || strlen(p) > 1024)
			return lx_http_respond_status(req, 404);
		char path[2048];
		snprintf(path, sizeof path, "%s%s", root_dir, p);
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return lx_http_respond_status(req, 404);
		return lx_http_respond_file(req, fd, "application/octet-stream");
	}
	/* Model B (R-BIN-B1, R-BIN-B3): POST /binaryData/{uuid}/ - decided before the body. */
	static const char pre[] = "/binaryData/";
	size_t pl = sizeof pre - 1, n = strlen(p);
	if (strcmp(req->method, "POST") == 0 && upload_dir && n == pl + 37 &&
	    strncmp(p, pre, pl) == 0 && p[n - 1] == '/' && is_uuid(p + pl, 36)) {
		if (!req->has_length)
			return lx_http_respond_status(req, 411);
		if (req->content_length > max_body)
			return lx_http_respond_status(req, 413);
		struct upload *u = calloc(1, sizeof *u);
		if (!u)
			return lx_http_respond_status(req, 500);
		snprintf(u->final, sizeof u->final, "%s/%.36s", upload_dir, p + pl);
		snprintf(u->part, sizeof u->part, "%s.part", u->final);
		int fd = open(u->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			free(u);
			return lx_http_respond_status(req, 409);
		}
		req->user = u;
		return lx_http_body_to_fd(req, fd, max_body);
	}
	return lx_http_respond_status(req, 404);
}

static int handler(void *cls, struct lx_http_request *req, enum lx_http_phase ph)
{
	if (ph == LX_HTTP_BEGIN)
		return begin(req);
	if (strcmp(req->path, "/sink") == 0)
		return lx_http_respond_buf(req, 200, "text/plain", "ok\n", 3);
	struct upload *u = req->user;
	if (!u)
		return lx_http_respond_status(req, 404);
	if (req->has_length && req->body_received != req->content_length)
		return lx_http_respond_status(req, 400);
	if (rename(u->part, u->final) != 0)
		return lx_http_respond_status(req, 500);
	u->renamed = true;
	atomic_fetch_add(&uploads, 1);
	return lx_http_respond_buf(req, 201, "text/plain", "stored\n", 7);
}

static void done(void *cls, struct lx_http_request *req, bool ok)
{
	struct upload *u = req->user;
	if (!u)
		return;
	if (!u->renamed)
		unlink(u->part);
	free(u);
	req->user = NULL;
}

static void usage_exit(const char *msg)
{
	fprintf(stderr, "li707_test_server: %s (see the comment atop tests/helpers/li707_test_server.c)\n", msg);
	exit(2);
}

static int add_peer(struct lx_tls_peers *ps, struct lx_tls_peer **out);

/* The peers as given: the command line's in order, then the --allow-file's. */
struct spec {
	bool psk;
	char *a, *b; /* allow: a; psk: identity a, key file b */
};
static struct spec specs[64];
static size_t nspecs;

static int add_spec(bool psk, const char *a, const char *b)
{
	if (nspecs >= sizeof specs / sizeof specs[0])
		return -1;
	specs[nspecs].psk = psk;
	specs[nspecs].a = strdup(a);
	specs[nspecs].b = b ? strdup(b) : NULL;
	nspecs++;
	return 0;
}

/* Builds ps from the command-line specs (the first ncmd) and the allow file. */
static int build_peers(struct lx_tls_peers *ps, size_t ncmd, const char *file, char *err, size_t errlen)
{
	for (size_t i = ncmd; i < nspecs; i++) {
		free(specs[i].a);
		free(specs[i].b);
	}
	nspecs = ncmd;
	if (file) {
		FILE *f = fopen(file, "re");
		if (!f) {
			snprintf(err, errlen, "%s: %s", file, strerror(errno));
			return -1;
		}
		char line[1024], a[512], b[512];
		while (fgets(line, sizeof line, f)) {
			if (sscanf(line, "allow %511s", a) == 1)
				add_spec(false, a, NULL);
			else if (sscanf(line, "psk %511s %511s", a, b) == 2)
				add_spec(true, a, b);
		}
		fclose(f);
	}
	for (size_t i = 0; i < nspecs; i++) {
		struct lx_tls_peer *pe;
		if (add_peer(ps, &pe) != 0)
			return -1;
		if (specs[i].psk) {
			pe->psk_identity = strdup(specs[i].a);
			if (lx_tls_psk_load(specs[i].b, &pe->psk, &pe->psk_len, err, errlen) != 0)
				return -1;
		} else if (strchr(specs[i].a, '=')) {
			pe->subject = strdup(specs[i].a);
		} else {
			pe->san = strdup(specs[i].a);
		}
	}
	return 0;
}

static int add_peer(struct lx_tls_peers *ps, struct lx_tls_peer **out)
{
	struct lx_tls_peer *v = realloc(ps->v, (ps->n + 1) * sizeof *v);
	if (!v)
		return LI707_ENOMEM;
	ps->v = v;
	*out = &v[ps->n];
	memset(*out, 0, sizeof **out);
	char name[32];
	snprintf(name, sizeof name, "peer%zu", ps->n);
	(*out)->name = strdup(name);
	ps->n++;
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_CERT = 256, O_KEY, O_CACERT, O_CRL, O_ALLOW, O_PSKID, O_PSKFILE, O_LISTEN, O_PSKLISTEN,
	       O_NOCC, O_ROOT, O_UPLOAD, O_MAXBODY, O_TLSMIN, O_IDLE, O_DRAIN, O_RANGES, O_RCERT, O_RKEY, O_PERPEER, O_HDRTO, O_ALLOWFILE };
	static const struct option lo[] = {
		{"cert", 1, 0, O_CERT}, {"key", 1, 0, O_KEY}, {"cacert", 1, 0, O_CACERT},
		{"crl", 1, 0, O_CRL}, {"allow", 1, 0, O_ALLOW}, {"psk-identity", 1, 0, O_PSKID},
		{"psk-file", 1, 0, O_PSKFILE}, {"listen", 1, 0, O_LISTEN},
		{"psk-listen", 1, 0, O_PSKLISTEN}, {"no-client-cert", 0, 0, O_NOCC},
		{"root", 1, 0, O_ROOT}, {"upload-dir", 1, 0, O_UPLOAD}, {"max-body", 1, 0, O_MAXBODY},
		{"tls-min", 1, 0, O_TLSMIN}, {"idle-timeout", 1, 0, O_IDLE},
		{"drain-timeout", 1, 0, O_DRAIN}, {"max-ranges", 1, 0, O_RANGES},
		{"per-peer", 1, 0, O_PERPEER}, {"reload-cert", 1, 0, O_RCERT}, {"reload-key", 1, 0, O_RKEY},
		{"header-timeout", 1, 0, O_HDRTO}, {"allow-file", 1, 0, O_ALLOWFILE}, {0, 0, 0, 0}};
	struct lx_tls_policy pol;
	struct lx_tls_peers peers = {0};
	struct lx_http_config cfg = {0};
	const char *listen_cert[8], *listen_psk[8], *rcert = NULL, *rkey = NULL, *pskid = NULL;
	const char *allow_file = NULL;
	size_t nlc = 0, nlp = 0;
	char err[512];
	if (lx_tls_policy_init(&pol) != 0)
		return 1;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_CERT: cfg.creds.cert = optarg; break;
		case O_KEY: cfg.creds.key = optarg; break;
		case O_CACERT: cfg.creds.cacert = optarg; break;
		case O_CRL: cfg.creds.crl = optarg; break;
		case O_ALLOW:
			if (add_spec(false, optarg, NULL) != 0)
				usage_exit("too many peers");
			break;
		case O_ALLOWFILE: allow_file = optarg; break;
		case O_PSKID: pskid = optarg; break;
		case O_PSKFILE:
			if (!pskid)
				usage_exit("--psk-file needs a preceding --psk-identity");
			if (add_spec(true, pskid, optarg) != 0)
				usage_exit("too many peers");
			pskid = NULL;
			break;
		case O_LISTEN: if (nlc < 8) listen_cert[nlc++] = optarg; break;
		case O_PSKLISTEN: if (nlp < 8) listen_psk[nlp++] = optarg; break;
		case O_NOCC: cfg.insecure_no_client_cert = true; break;
		case O_ROOT: root_dir = optarg; break;
		case O_UPLOAD: upload_dir = optarg; break;
		case O_MAXBODY: max_body = strtoull(optarg, NULL, 10); break;
		case O_TLSMIN:
			if (lx_tls_policy_set(&pol, "tls_min", optarg, err, sizeof err) != 0)
				usage_exit(err);
			break;
		case O_IDLE: cfg.limits.idle_timeout_s = (unsigned)atoi(optarg); break;
		case O_HDRTO: cfg.limits.header_timeout_s = (unsigned)atoi(optarg); break;
		case O_DRAIN: cfg.limits.drain_timeout_s = (unsigned)atoi(optarg); break;
		case O_RANGES: cfg.limits.max_ranges = (unsigned)atoi(optarg); break;
		case O_PERPEER: cfg.limits.per_peer = (unsigned)atoi(optarg); break;
		case O_RCERT: rcert = optarg; break;
		case O_RKEY: rkey = optarg; break;
		default: usage_exit("bad option");
		}
	}
	if (nlc + nlp == 0)
		usage_exit("no --listen or --psk-listen");
	size_t ncmd = nspecs;
	if (build_peers(&peers, ncmd, allow_file, err, sizeof err) != 0)
		usage_exit(err);
	cfg.policy = &pol;
	cfg.peers = &peers;
	cfg.handler = handler;
	cfg.done = done;
	cfg.limits.body_bytes = max_body;

	/* Signals are handled synchronously by this thread; every other thread blocks them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (lx_http_server_new(&cfg, &srv, err, sizeof err) != 0) {
		fprintf(stderr, "li707_test_server: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < nlc + nlp; i++) {
		bool psk = i >= nlc;
		const char *a = psk ? listen_psk[i - nlc] : listen_cert[i];
		if (lx_http_server_listen(srv, a, psk, err, sizeof err) != 0) {
			fprintf(stderr, "li707_test_server: %s\n", err);
			lx_http_server_free(srv);
			return 1;
		}
		printf("listen %s %d\n", psk ? "psk" : "cert", lx_http_server_port(srv, i));
	}
	fflush(stdout);
	struct lx_http_creds nc = cfg.creds;
	if (rcert)
		nc.cert = rcert;
	if (rkey)
		nc.key = rkey;
	int rc = 0;
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (allow_file) {
				err[0] = '\0';
				struct lx_tls_peers *np = calloc(1, sizeof *np);
				if (!np || build_peers(np, ncmd, allow_file, err, sizeof err) != 0 ||
				    lx_http_server_set_peers(srv, np) != 0) {
					fprintf(stderr, "li707_test_server: allow-file reload failed: %s\n", err);
					lx_tls_peers_clear(np);
					free(np);
				}
			}
			if (lx_http_server_reload(srv, &nc, err, sizeof err) != 0)
				fprintf(stderr, "li707_test_server: reload failed: %s\n", err);
			else
				fprintf(stderr, "li707_test_server: reloaded\n");
			continue;
		}
		fprintf(stderr, "li707_test_server: draining\n");
		rc = lx_http_server_drain(srv) == 0 ? 0 : 3;
		break;
	}
	lx_http_server_free(srv);
	lx_tls_peers_clear(&peers);
	lx_tls_policy_done(&pol);
	for (size_t i = 0; i < nspecs; i++) {
		free(specs[i].a);
		free(specs[i].b);
	}
	fprintf(stderr, "li707_test_server: stopped\n");
	return rc;
}
