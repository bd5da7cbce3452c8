/* li707-csp Model B push (src/csp/csp_push.c over src/common/push.c; Annex C.3, R-BIN-B1..B3,
 * R-BIN-2) against the in-process HTTPS server (src/common/http_server.c) answering the way
 * li707-lea does (src/lea/lea_modelb.c): the URL from the LEA's scheme, the headers and body
 * on the wire, every verdict, the LEA down, a peer that never sends 100 Continue (the continue
 * timeout follows the record's expiry), and a small push finishing while a large one runs on
 * the same client. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csp_push.h"
#include "http_server.h"
#include "testutil.h"

#define UUID1 "6f1c0d5e-8d3a-4a7b-9c2e-1f0a2b3c4d5e"

/* ---- the server: behaviour by the first path segment ---- */

struct seen {
	pthread_mutex_t mu;
	char path[256];
	char content_type[128];
	bool expect;
	bool has_length;
	uint64_t length;
	uint64_t body;
	unsigned char sha[32];
	unsigned slow_us; /* /slow/ sleeps 1 us per slow_us bytes */
};

static struct seen g_seen = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct rq {
	EVP_MD_CTX *md;
	uint64_t n;
	bool slow;
};

static int body_cb(void *cls, struct lx_http_request *req, const void *d, size_t n)
{
	struct rq *q = req->user;
	(void)cls;
	EVP_DigestUpdate(q->md, d, n);
	q->n += n;
	if (q->slow)
		usleep((useconds_t)(n / g_seen.slow_us));
	return 0;
}

static int handler(void *cls, struct lx_http_request *req, enum lx_http_phase ph)
{
	(void)cls;
	const char *p = req->path;
	if (ph == LX_HTTP_BEGIN) {
		bool slow = strncmp(p, "/slow/", 6) == 0;
		if (!slow) {
			pthread_mutex_lock(&g_seen.mu);
			snprintf(g_seen.path, sizeof g_seen.path, "%s", p);
			const char *ct = lx_http_header(req, "Content-Type");
			snprintf(g_seen.content_type, sizeof g_seen.content_type, "%s", ct ? ct : "");
			g_seen.expect = req->expect_continue;
			g_seen.has_length = req->has_length;
			g_seen.length = req->content_length;
			g_seen.body = 0;
			pthread_mutex_unlock(&g_seen.mu);
		}
		/* The answers li707-lea gives before the body (lea_modelb_begin). */
		if (strncmp(p, "/len/", 5) == 0) {
			static const char t[] = "Content-Length 10 differs from the 11 bytes of the binaryData record\n";
			return lx_http_respond_buf(req, 409, "text/plain", t, sizeof t - 1);
		}
		if (strncmp(p, "/done/", 6) == 0)
			return lx_http_respond_status(req, 409);
		if (strncmp(p, "/big/", 5) == 0)
			return lx_http_respond_status(req, 413);
		if (strncmp(p, "/gone/", 6) == 0)
			return lx_http_respond_status(req, 404);
		if (strncmp(p, "/busydate/", 10) == 0) {
			/* Retry-After as an HTTP-date (RFC 9110 section 10.2.3), 2 minutes away */
			char d[64];
			time_t t = time(NULL) + 120;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
			lx_http_add_header(req, "Retry-After", d);
			return lx_http_respond_status(req, 503);
		}
		if (strncmp(p, "/busy/", 6) == 0) {
			lx_http_add_header(req, "Retry-After", "7");
			return lx_http_respond_status(req, 503);
		}
		struct rq *q = calloc(1, sizeof *q);
		q->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(q->md, EVP_sha256(), NULL);
		q->slow = slow;
		req->user = q;
		return lx_http_body_to_cb(req, body_cb, NULL, 0);
	}
	struct rq *q = req->user;
	if (strncmp(p, "/slow/", 6) != 0) {
		pthread_mutex_lock(&g_seen.mu);
		g_seen.body = q->n;
		unsigned len = 0;
		EVP_DigestFinal_ex(q->md, g_seen.sha, &len);
		pthread_mutex_unlock(&g_seen.mu);
	}
	if (strncmp(p, "/sha/", 5) == 0) {
		static const char t[] = "stored, but its length or SHA-256 differ from its record\n";
		return lx_http_respond_buf(req, 422, "text/plain", t, sizeof t - 1);
	}
	if (strncmp(p, "/err/", 5) == 0)
		return lx_http_respond_status(req, 500);
	return lx_http_respond_buf(req, 201, "text/plain", "stored\n", 7);
}

static void done_cb(void *cls, struct lx_http_request *req, bool ok)
{
	(void)cls;
	(void)ok;
	struct rq *q = req->user;
	if (q) {
		EVP_MD_CTX_free(q->md);
		free(q);
	}
	req->user = NULL;
}

struct fx {
	char dir[64];
	char ca[128], obj[128], big[128];
	struct lx_tls_policy pol;
	struct lx_tls_peers peers;
	struct lx_http_server *srv;
	struct lx_http_client *cl;
	int port;
	unsigned char obj_sha[32];
};

static const char OBJ[] = "BODY-MARKER-707 a Model B object\n";

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/li707-test-push-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "bash %s/scripts/pki.sh %s/pki >/dev/null 2>&1", LI707_SOURCE_DIR,
		 f->dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(f->ca, sizeof f->ca, "%s/pki/ca.pem", f->dir);
	snprintf(f->obj, sizeof f->obj, "%s/obj.bin", f->dir);
	snprintf(f->big, sizeof f->big, "%s/big.bin", f->dir);
	FILE *fp = fopen(f->obj, "w");
	fputs(OBJ, fp);
	fclose(fp);
	unsigned len;
	EVP_Digest(OBJ, sizeof OBJ - 1, f->obj_sha, &len, EVP_sha256(), NULL);
	snprintf(cmd, sizeof cmd, "head -c 24000000 /dev/zero > %s", f->big);
	if (system(cmd) != 0)
		return -1;
	char cert[160], key[160];
	snprintf(cert, sizeof cert, "%s/pki/server.pem", f->dir);
	snprintf(key, sizeof key, "%s/pki/server.key", f->dir);
	if (lx_tls_policy_init(&f->pol) != 0 || lx_http_global_init() != 0)
		return -1;
	struct lx_http_config cfg = {
		.policy = &f->pol,
		.peers = &f->peers,
		.creds = {.cert = cert, .key = key, .cacert = f->ca},
		.handler = handler,
		.done = done_cb,
		.insecure_no_client_cert = true,
	};
	char err[256];
	if (lx_http_server_new(&cfg, &f->srv, err, sizeof err) != 0 ||
	    lx_http_server_listen(f->srv, "127.0.0.1:0", false, err, sizeof err) != 0) {
		fprintf(stderr, "server: %s\n", err);
		return -1;
	}
	f->port = lx_http_server_port(f->srv, 0);
	struct lx_http_client_opts o = {.ca_file = f->ca, .max_host_connections = 2,
					.timeout_ms = 20000};
	if (lx_http_client_new(&o, &f->cl, err, sizeof err) != 0) {
		fprintf(stderr, "client: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	lx_http_client_free(f->cl);
	lx_http_server_free(f->srv);
	lx_tls_peers_clear(&f->peers);
	lx_tls_policy_done(&f->pol);
	lx_http_global_cleanup();
	tu_rm_rf(f->dir);
	free(f);
	return 0;
}

static void scheme(const struct fx *f, const char *seg, char *out, size_t n)
{
	snprintf(out, n, "https://127.0.0.1:%d/%s/", f->port, seg);
}

/* ---- R-BIN-B1: the URL ---- */

static void test_bin_b1_url_from_scheme(void **state)
{
	(void)state;
	static const struct {
		const char *scheme;
		int rc;
		const char *want;
	} cases[] = {
		{"https://lea.example/binaryData/{id}/", 0, "https://lea.example/binaryData/" UUID1 "/"},
		{"https://lea.example/binaryData/{uuid}/", 0, "https://lea.example/binaryData/" UUID1 "/"},
		{"https://lea.example/b/{id}?x=1", 0, "https://lea.example/b/" UUID1 "?x=1"},
		{"https://lea.example/binaryData/", 0, "https://lea.example/binaryData/" UUID1 "/"},
		{"https://lea.example/binaryData", LI707_EINVAL, NULL},
		{"https://lea.example/{id}/{id}/", LI707_EINVAL, NULL},
		{"https://lea.example/{id}/{uuid}/", LI707_EINVAL, NULL},
		{"http://lea.example/{id}/", LI707_EINVAL, NULL},
		{"https://lea.example/a b/{id}", LI707_EINVAL, NULL},
	};
	char out[CSP_PUSH_URL_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		strcpy(out, "untouched");
		int rc = csp_push_url(cases[i].scheme, UUID1, out, sizeof out);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, expected %d", cases[i].scheme, rc, cases[i].rc);
		if (rc == 0)
			assert_string_equal(out, cases[i].want);
		else
			assert_string_equal(out, "untouched");
	}
	assert_int_equal(csp_push_url("https://lea.example/{id}/", "ACME-LI-0042", out, sizeof out),
			 LI707_EINVAL);
	char small[20];
	assert_int_equal(csp_push_url("https://lea.example/{id}/", UUID1, small, sizeof small),
			 LI707_ELIMIT);
}

/* ---- R-BIN-B2, R-BIN-B3: what goes on the wire; the verdicts ---- */

static void test_bin_b2_b3_stored_with_headers(void **state)
{
	struct fx *f = *state;
	char s[128];
	scheme(f, "ok", s, sizeof s);
	struct csp_push_object o = {.uuid = UUID1, .path = f->obj, .size = sizeof OBJ - 1,
				    .content_type = "text/plain; charset=utf-8"};
	struct csp_push_result r;
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), 0);
	if (r.verdict != LX_PUSH_STORED)
		fail_msg("verdict %s: %s", lx_push_verdict_name(r.verdict), r.reason);
	assert_int_equal(r.http_status, 201);
	assert_true(r.got_100);
	assert_int_equal(r.bytes, sizeof OBJ - 1);
	assert_int_equal(r.expect_ms, 5000); /* no expiry: the bound */
	pthread_mutex_lock(&g_seen.mu);
	assert_string_equal(g_seen.path, "/ok/" UUID1 "/");
	assert_string_equal(g_seen.content_type, "text/plain; charset=utf-8");
	assert_true(g_seen.expect);
	assert_true(g_seen.has_length);
	assert_int_equal(g_seen.length, sizeof OBJ - 1);
	assert_int_equal(g_seen.body, sizeof OBJ - 1);
	assert_memory_equal(g_seen.sha, f->obj_sha, 32);
	pthread_mutex_unlock(&g_seen.mu);
}

static void test_bin_b3_verdicts(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *seg;
		enum lx_push_verdict v;
		long status;
		const char *reason;
		uint64_t body; /* bytes the server read */
	} cases[] = {
		{"ok", LX_PUSH_STORED, 201, "HTTP 201 after 100 Continue", sizeof OBJ - 1},
		{"len", LX_PUSH_MISMATCH, 409, "differs from the 11 bytes", 0},
		{"done", LX_PUSH_MISMATCH, 409, "complete already, or an upload of it is in progress", 0},
		{"sha", LX_PUSH_MISMATCH, 422, "SHA-256 differ", sizeof OBJ - 1},
		{"big", LX_PUSH_REFUSED, 413, "HTTP 413", 0},
		{"gone", LX_PUSH_REFUSED, 404, "HTTP 404", 0},
		{"err", LX_PUSH_RETRY, 500, "HTTP 500", sizeof OBJ - 1},
		{"busy", LX_PUSH_RETRY, 503, "HTTP 503", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char s[128];
		scheme(f, cases[i].seg, s, sizeof s);
		struct csp_push_object o = {.uuid = UUID1, .path = f->obj, .size = -1,
					    .content_type = "application/octet-stream"};
		struct csp_push_result r;
		g_seen.body = 12345;
		assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), 0);
		if (r.verdict != cases[i].v || r.http_status != cases[i].status ||
		    !strstr(r.reason, cases[i].reason))
			fail_msg("%s: %s %ld \"%s\"", cases[i].seg, lx_push_verdict_name(r.verdict),
				 r.http_status, r.reason);
		/* Refusals before the body: nothing of it was read (R-BIN-B3). */
		if (cases[i].body == 0)
			assert_int_equal(g_seen.body, 0);
		else
			assert_int_equal(g_seen.body, cases[i].body);
		assert_int_equal(r.retry_after, strcmp(cases[i].seg, "busy") == 0 ? 7 : -1);
	}
	char s[128];
	scheme(f, "busydate", s, sizeof s);
	struct csp_push_object o = {.uuid = UUID1, .path = f->obj, .size = -1,
				    .content_type = "application/octet-stream"};
	struct csp_push_result r;
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), 0);
	assert_int_equal(r.verdict, LX_PUSH_RETRY);
	if (r.retry_after < 100 || r.retry_after > 120)
		fail_msg("Retry-After as a date: %ld s", r.retry_after);
}

static void test_bin_b3_local_refusals(void **state)
{
	struct fx *f = *state;
	char s[128];
	scheme(f, "ok", s, sizeof s);
	struct csp_push_result r;
	/* The spool file is not the size of its record: not sent. */
	g_seen.path[0] = '\0';
	struct csp_push_object o = {.uuid = UUID1, .path = f->obj, .size = 11,
				    .content_type = "text/plain"};
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), LI707_EMISMATCH);
	assert_int_equal(r.verdict, LX_PUSH_MISMATCH);
	assert_non_null(strstr(r.reason, "record 11"));
	/* The record expired: the URL is no longer valid, nothing is sent. */
	o.size = -1;
	o.expiry = "2020-01-01T00:00:00Z";
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), -ETIME);
	assert_int_equal(r.verdict, LX_PUSH_REFUSED);
	assert_non_null(strstr(r.reason, "expiry has passed"));
	assert_string_equal(g_seen.path, "");
	o.expiry = "2020-13-01T00:00:00Z";
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), LI707_EINVALID);
	o.expiry = NULL;
	o.content_type = "text/plain\r\nX-Evil: 1";
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), LI707_EINVAL);
	o.content_type = "text/plain";
	o.path = "/nonexistent/obj";
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), -ENOENT);
	o.path = f->dir;
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), -EINVAL);
	assert_string_equal(g_seen.path, "");
}

static void test_bin_b3_lea_down_is_retry(void **state)
{
	struct fx *f = *state;
	char s[128];
	snprintf(s, sizeof s, "https://127.0.0.1:%d/binaryData/", tu_free_port());
	struct csp_push_object o = {.uuid = UUID1, .path = f->obj, .size = -1,
				    .content_type = "text/plain"};
	struct csp_push_result r;
	assert_int_equal(csp_push_one(f->cl, s, &o, 5000, &r), 0);
	assert_int_equal(r.verdict, LX_PUSH_RETRY);
	assert_int_equal(r.http_status, 0);
	if (strncmp(r.reason, "connect", 7) != 0)
		fail_msg("reason: %s", r.reason);
}

/* A TLS peer that reads and never answers: the body goes when the continue timeout ends,
 * and that is the record's expiry (2 s away), not the 600 s bound. */
static void test_bin_b3_continue_timeout_follows_expiry(void **state)
{
	struct fx *f = *state;
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	int port = tu_free_port();
	char ports[32], log[160], cert[160], key[160];
	snprintf(ports, sizeof ports, "127.0.0.1:%d", port);
	snprintf(log, sizeof log, "%s/silent.log", f->dir);
	snprintf(cert, sizeof cert, "%s/pki/server.pem", f->dir);
	snprintf(key, sizeof key, "%s/pki/server.key", f->dir);
	int in[2];
	assert_int_equal(pipe(in), 0);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(in[0], 0);
		dup2(lf, 1);
		dup2(lf, 2);
		close(in[1]);
		execlp("openssl", "openssl", "s_server", "-quiet", "-accept", ports, "-cert", cert,
		       "-key", key, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	bool up = false;
	for (int i = 0; i < 200 && !up; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		up = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
		close(s);
		if (!up)
			usleep(50000);
	}
	assert_true(up);
	/* A client of its own with a 6 s total timeout: ends the wait for an answer. */
	struct lx_http_client *c = NULL;
	struct lx_http_client_opts o = {.ca_file = f->ca, .timeout_ms = 6000};
	char err[256];
	assert_int_equal(lx_http_client_new(&o, &c, err, sizeof err), 0);
	time_t exp = time(NULL) + 3;
	struct tm tm;
	gmtime_r(&exp, &tm);
	char expiry[32], s[128];
	strftime(expiry, sizeof expiry, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(s, sizeof s, "https://127.0.0.1:%d/binaryData/{id}/", port);
	struct csp_push_object ob = {.uuid = UUID1, .path = f->obj, .size = -1,
				     .content_type = "text/plain", .expiry = expiry};
	struct csp_push_result r;
	assert_int_equal(csp_push_one(c, s, &ob, 600000, &r), 0);
	lx_http_client_free(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	close(in[1]);
	assert_int_equal(r.verdict, LX_PUSH_RETRY);
	assert_false(r.got_100);
	if (r.expect_ms > 3000 || r.expect_ms < 1000)
		fail_msg("continue timeout %ld ms, expected the expiry 2-3 s away", r.expect_ms);
	assert_non_null(strstr(r.reason, "timeout"));
	size_t len;
	char *got = tu_read_file(log, &len);
	assert_non_null(strstr(got, "Expect: 100-continue"));
	/* The body went once the continue timeout (the expiry) ended, before the 6 s. */
	assert_non_null(strstr(got, "BODY-MARKER-707"));
	free(got);
}

/* ---- R-BIN-2: a small push is not queued behind a large one on the same client ---- */

struct order {
	int seen[4];
	int n;
};
struct tag {
	struct order *o;
	int id;
};

static void tag_done(void *ud, struct csp_push *cp)
{
	(void)cp;
	struct tag *t = ud;
	t->o->seen[t->o->n++] = t->id;
}

static void test_bin2_small_push_overtakes_large(void **state)
{
	struct fx *f = *state;
	g_seen.slow_us = 12; /* 1 us per 12 bytes: 24 MB in about 2 s */
	char sl[128], ok[128];
	scheme(f, "slow", sl, sizeof sl);
	scheme(f, "ok", ok, sizeof ok);
	struct order ord = {{0}, 0};
	struct tag tags[2] = {{&ord, 0}, {&ord, 1}};
	struct csp_push big = {.done = tag_done, .ud = &tags[0]};
	struct csp_push small = {.done = tag_done, .ud = &tags[1]};
	struct csp_push_object ob = {.uuid = UUID1, .path = f->big, .size = 24000000,
				     .content_type = "application/octet-stream"};
	struct csp_push_object os = {.uuid = UUID1, .path = f->obj, .size = -1,
				     .content_type = "text/plain"};
	assert_int_equal(csp_push_start(f->cl, &big, sl, &ob, 5000), 0);
	assert_true(lx_http_run(f->cl, 300) > 0); /* the large one is under way */
	assert_int_equal(ord.n, 0);
	assert_int_equal(csp_push_start(f->cl, &small, ok, &os, 5000), 0);
	while (ord.n < 2)
		assert_true(lx_http_run(f->cl, 1000) >= 0);
	if (big.result.verdict != LX_PUSH_STORED || small.result.verdict != LX_PUSH_STORED)
		fail_msg("big: %s, small: %s", big.result.reason, small.result.reason);
	assert_int_equal(big.result.bytes, 24000000);
	if (ord.seen[0] != 1)
		fail_msg("the small push finished after the large one");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bin_b1_url_from_scheme),
		cmocka_unit_test(test_bin_b2_b3_stored_with_headers),
		cmocka_unit_test(test_bin_b3_verdicts),
		cmocka_unit_test(test_bin_b3_local_refusals),
		cmocka_unit_test(test_bin_b3_lea_down_is_retry),
		cmocka_unit_test(test_bin_b3_continue_timeout_follows_expiry),
		cmocka_unit_test(test_bin2_small_push_overtakes_large),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
