/* src/csp/csp_files.c: the Model A/C file server of li707-csp (R-BIN-A1, R-BIN-A2, R-BIN-A3,
 * R-BIN-C1, R-CORE-5) on the shared HTTPS server, in process, fetched with libcurl over mutual
 * TLS with the test PKI of scripts/pki.sh; tokens; the retention sweep. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "testutil.h"

#include "csp_files.h"
#include "fdio.h"
#include "http_range.h"
#include "http_server.h"
#include "li707/error.h"
#include "li707/util.h"
#include "tls.h"

#define OBJ_SIZE 100000
#define BODY_MAX (4u << 20)

struct obj {
	char token[CSP_FILES_TOKEN_LEN + 1];
	const char *file;  /* relative to root, or absolute */
	const char *ctype;
	int64_t expiry_rel; /* against the clock's base */
	const char *peer;
	int lookup_rc;     /* what the lookup returns */
	bool by_fd;        /* the lookup opens the file itself */
	int64_t size_delta;
};

static struct {
	char dir[64], pki[96], root[96];
	char sha[65];
	unsigned char *data;
	struct lx_tls_policy pol;
	struct lx_tls_peers peers;
	struct lx_http_server *srv;
	struct csp_files *files;
	int port;
	atomic_llong now;
} E;

enum { O_OK, O_EXPIRED, O_EDGE, O_SIZE, O_ESCAPE, O_LINK, O_DAMAGED, O_FD, O_UNKNOWN, O_N };
static struct obj objs[O_N] = {
	[O_OK] = {.file = "a.bin", .ctype = "application/pdf", .expiry_rel = 3600, .peer = "lea1"},
	[O_EXPIRED] = {.file = "a.bin", .ctype = "application/pdf", .expiry_rel = -1, .peer = "lea1"},
	[O_EDGE] = {.file = "a.bin", .ctype = "application/pdf", .expiry_rel = 10, .peer = "lea1"},
	[O_SIZE] = {.file = "a.bin", .ctype = "image/png", .expiry_rel = 3600, .peer = "lea1", .size_delta = -1},
	[O_ESCAPE] = {.file = "../outside.bin", .ctype = "image/png", .expiry_rel = 3600, .peer = "lea1"},
	[O_LINK] = {.file = "link.bin", .ctype = "image/png", .expiry_rel = 3600, .peer = "lea1"},
	[O_DAMAGED] = {.file = "a.bin", .ctype = "image/png", .expiry_rel = 3600, .peer = "lea1",
		       .lookup_rc = LI707_EDAMAGED},
	[O_FD] = {.file = "a.bin", .ctype = "video/mp4", .expiry_rel = 3600, .peer = "lea1", .by_fd = true},
	[O_UNKNOWN] = {.file = "a.bin", .ctype = "image/png", .expiry_rel = 3600, .peer = "lea1",
		       .lookup_rc = LI707_ENOTFOUND},
};
static int64_t base_time;

static int64_t test_now(void *ud)
{
	(void)ud;
	return (int64_t)atomic_load(&E.now);
}

static int lookup(void *ud, const char *token, struct csp_files_object *out)
{
	(void)ud;
	assert_int_equal(out->fd, -1);
	for (size_t i = 0; i < O_N; i++) {
		const struct obj *o = &objs[i];
		if (strcmp(o->token, token) != 0)
			continue;
		if (o->lookup_rc)
			return o->lookup_rc;
		snprintf(out->path, sizeof out->path, "%s", o->file);
		out->size = (uint64_t)((int64_t)OBJ_SIZE + o->size_delta);
		memcpy(out->sha256, E.sha, sizeof out->sha256);
		snprintf(out->content_type, sizeof out->content_type, "%s", o->ctype);
		out->expiry = base_time + o->expiry_rel;
		snprintf(out->peer, sizeof out->peer, "%s", o->peer);
		out->key = 100 + (int64_t)i;
		out->ref = 7;
		if (o->by_fd) {
			char p[160];
			snprintf(p, sizeof p, "%s/%s", E.root, o->file);
			out->fd = open(p, O_RDONLY | O_CLOEXEC);
			out->path[0] = '\0';
		}
		return 0;
	}
	return LI707_ENOTFOUND;
}

/* ---- the begin/end hooks (issue 11): what the daemon audits and shows in status ---- */

#define HOOK_MAX 64
struct hook_ev {
	enum csp_files_answer a;
	int64_t key, ref;
	char peer[32];
	bool have_answer;
	struct lx_http_file_answer ans;
	bool ended, ok;
	uint64_t sent;
};
static struct {
	pthread_mutex_t mu;
	struct hook_ev v[HOOK_MAX];
	size_t n;
} H = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *hook_begin(void *ud, struct lx_http_request *req, const struct csp_files_object *o,
			enum csp_files_answer a)
{
	(void)ud;
	pthread_mutex_lock(&H.mu);
	struct hook_ev *e = H.n < HOOK_MAX ? &H.v[H.n++] : NULL;
	if (e) {
		memset(e, 0, sizeof *e);
		e->a = a;
		e->key = o->key;
		e->ref = o->ref;
		snprintf(e->peer, sizeof e->peer, "%s", req->peer);
		e->have_answer = lx_http_file_answer(req, &e->ans) == 0;
	}
	pthread_mutex_unlock(&H.mu);
	return e;
}

static void hook_end(void *ud, struct lx_http_request *req, void *user, bool ok)
{
	(void)ud;
	struct hook_ev *e = user;
	pthread_mutex_lock(&H.mu);
	e->sent = lx_http_sent(req);
	e->ok = ok;
	e->ended = true;
	pthread_mutex_unlock(&H.mu);
}

static void add_peer(const char *name, const char *san)
{
	struct lx_tls_peer *v = realloc(E.peers.v, (E.peers.n + 1) * sizeof *v);
	assert_non_null(v);
	E.peers.v = v;
	memset(&v[E.peers.n], 0, sizeof *v);
	v[E.peers.n].name = tu_xstrdup(name);
	v[E.peers.n].san = tu_xstrdup(san);
	E.peers.n++;
}

static int setup(void **state)
{
	(void)state;
	snprintf(E.dir, sizeof E.dir, "/tmp/li707-test-csp-files-XXXXXX");
	if (!mkdtemp(E.dir))
		return -1;
	snprintf(E.pki, sizeof E.pki, "%s/pki", E.dir);
	snprintf(E.root, sizeof E.root, "%s/objects", E.dir);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "%s/scripts/pki.sh %s >/dev/null 2>&1", LI707_SOURCE_DIR, E.pki);
	if (system(cmd) != 0 || mkdir(E.root, 0700) != 0)
		return -1;
	E.data = malloc(OBJ_SIZE);
	srand(7);
	for (size_t i = 0; i < OBJ_SIZE; i++)
		E.data[i] = (unsigned char)rand();
	char p[160];
	snprintf(p, sizeof p, "%s/a.bin", E.root);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || lx_write_all(fd, E.data, OBJ_SIZE) != 0)
		return -1;
	close(fd);
	if (li707_sha256_file(p, E.sha, NULL) != 0)
		return -1;
	snprintf(p, sizeof p, "%s/outside.bin", E.dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || lx_write_all(fd, E.data, OBJ_SIZE) != 0)
		return -1;
	close(fd);
	char l[160];
	snprintf(l, sizeof l, "%s/link.bin", E.root);
	if (symlink(p, l) != 0)
		return -1;
	for (size_t i = 0; i < O_N; i++)
		if (csp_files_token_new(objs[i].token) != 0)
			return -1;
	base_time = (int64_t)time(NULL);
	atomic_store(&E.now, base_time);

	if (lx_tls_policy_init(&E.pol) != 0)
		return -1;
	add_peer("lea1", "csp1.test");
	add_peer("lea2", "csp2.test");
	char err[256];
	struct csp_files_config fc = {.prefix = "objects", .root = E.root, .lookup = lookup,
				      .now = test_now, .begin = hook_begin, .end = hook_end};
	if (csp_files_new(&fc, &E.files, err, sizeof err) != 0)
		return -1;
	char cert[128], key[128], ca[128];
	snprintf(cert, sizeof cert, "%s/server.pem", E.pki);
	snprintf(key, sizeof key, "%s/server.key", E.pki);
	snprintf(ca, sizeof ca, "%s/ca.pem", E.pki);
	struct lx_http_config cfg = {.policy = &E.pol, .peers = &E.peers,
				     .creds = {.cert = cert, .key = key, .cacert = ca},
				     .handler = csp_files_handler, .done = csp_files_done,
				     .cls = E.files};
	if (lx_http_server_new(&cfg, &E.srv, err, sizeof err) != 0 ||
	    lx_http_server_listen(E.srv, "127.0.0.1:0", false, err, sizeof err) != 0) {
		fprintf(stderr, "server: %s\n", err);
		return -1;
	}
	E.port = lx_http_server_port(E.srv, 0);
	return curl_global_init(CURL_GLOBAL_DEFAULT) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	lx_http_server_free(E.srv);
	csp_files_free(E.files);
	lx_tls_peers_clear(&E.peers);
	lx_tls_policy_done(&E.pol);
	curl_global_cleanup();
	free(E.data);
	if (E.dir[0])
		tu_rm_rf(E.dir);
	return 0;
}

/* ---- a raw HTTP exchange: the header block as received, the body ---- */

struct resp {
	long status;
	char head[4096];
	size_t hlen;
	unsigned char *body;
	size_t blen;
};

static size_t on_head(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t k = sz * n;
	if (r->hlen + k < sizeof r->head) {
		memcpy(r->head + r->hlen, p, k);
		r->hlen += k;
		r->head[r->hlen] = '\0';
	}
	return k;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t k = sz * n;
	if (r->blen + k <= BODY_MAX) {
		memcpy(r->body + r->blen, p, k);
		r->blen += k;
	}
	return k;
}

/* client: "csp1" (peer lea1), "csp2" (peer lea2), "other" (CN=csp1 of another CA), "expired"
 * (CN=csp1, expired). target: the path, sent as is. hdr: extra request headers separated by
 * '\n', or NULL. */
static void fetch(const char *client, const char *method, const char *target, const char *hdr,
		  struct resp *r)
{
	memset(r, 0, sizeof *r);
	r->body = malloc(BODY_MAX);
	assert_non_null(r->body);
	char url[512], cert[128], key[128], ca[128];
	snprintf(url, sizeof url, "https://127.0.0.1:%d%s", E.port, target);
	snprintf(cert, sizeof cert, "%s/%s.pem", E.pki, client);
	snprintf(key, sizeof key, "%s/%s.key", E.pki, client);
	snprintf(ca, sizeof ca, "%s/ca.pem", E.pki);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	struct curl_slist *h = NULL;
	for (const char *a = hdr; a && *a;) { /* headers separated by '\n' */
		size_t n = strcspn(a, "\n");
		char one[8192];
		assert_true(n < sizeof one);
		snprintf(one, sizeof one, "%.*s", (int)n, a);
		h = curl_slist_append(h, one);
		a += n + (a[n] == '\n');
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s as %s: %s", method, target, client, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
}

static void resp_done(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* The value of header name in r (first), or "" (static buffer). */
static const char *header(const struct resp *r, const char *name)
{
	static char v[512];
	v[0] = '\0';
	size_t nl = strlen(name);
	for (const char *l = r->head; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *s = l + nl + 1;
			s += strspn(s, " ");
			size_t n = strcspn(s, "\r\n");
			snprintf(v, sizeof v, "%.*s", (int)n, s);
			break;
		}
	}
	return v;
}

/* "/objects/<token of obj>" (a buffer per object: several may be in use at once). */
static char *path_of(int obj)
{
	static char p[O_N][128];
	snprintf(p[obj], sizeof p[obj], "/objects/%s", objs[obj].token);
	return p[obj];
}

/* ---- tokens (R-CORE-5) ---- */

static void test_core_5_token_new_is_random_canonical_and_unique(void **state)
{
	(void)state;
	enum { N = 2000 };
	static char t[N][CSP_FILES_TOKEN_LEN + 1];
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(csp_files_token_new(t[i]), 0);
		assert_int_equal(strlen(t[i]), CSP_FILES_TOKEN_LEN);
		assert_true(csp_files_token_valid(t[i]));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(t[i], t[j]);
	}
	/* Every position but the last takes all 64 characters over 2000 tokens; the last only
	 * the 4 whose low 4 bits are zero (128 bits = 21 characters and 2 bits). */
	for (size_t pos = 0; pos < CSP_FILES_TOKEN_LEN; pos++) {
		bool seen[128] = {false};
		size_t kinds = 0;
		for (size_t i = 0; i < N; i++)
			if (!seen[(unsigned char)t[i][pos]]) {
				seen[(unsigned char)t[i][pos]] = true;
				kinds++;
			}
		if (pos + 1 < CSP_FILES_TOKEN_LEN)
			assert_int_equal(kinds, 64);
		else
			assert_int_equal(kinds, 4);
	}
}

static void test_core_5_token_valid_rejects_other_spellings(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", "AAAAAAAAAAAAAAAAAAAAA",                /* 21 */
		"AAAAAAAAAAAAAAAAAAAAAAA",                  /* 23 */
		"AAAAAAAAAAAAAAAAAAAAAB",                   /* padding bits set */
		"AAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAA+A", "AAAAAAAAAAAAAAAAAAAA/A",
		"AAAAAAAAAAAAAAAAAAA.AA", "AAAAAAAAAAAAAAAAAAAA%A", "AAAAAAAAAAAAAAAAAAAA A",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (csp_files_token_valid(bad[i]))
			fail_msg("'%s' taken as a token", bad[i]);
	}
	assert_false(csp_files_token_valid(NULL));
	assert_true(csp_files_token_valid("AAAAAAAAAAAAAAAAAAAAAA"));
	assert_true(csp_files_token_valid("-_zZ09-_zZ09-_zZ09-_zw"));
}

static void test_csp_files_url(void **state)
{
	(void)state;
	char out[128];
	const char *t = "AAAAAAAAAAAAAAAAAAAAAA";
	assert_int_equal(csp_files_url("https://csp.example:8443/", "objects", t, out, sizeof out), 0);
	assert_string_equal(out, "https://csp.example:8443/objects/AAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(csp_files_url("https://csp.example/a", "o", t, out, sizeof out), 0);
	assert_string_equal(out, "https://csp.example/a/o/AAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(csp_files_url("https://x", "a/b", t, out, sizeof out), LI707_EINVAL);
	assert_int_equal(csp_files_url("https://x", "..", t, out, sizeof out), LI707_EINVAL);
	assert_int_equal(csp_files_url("https://x", "o", "AAAB", out, sizeof out), LI707_EINVAL);
	assert_int_equal(csp_files_url("https://csp.example", "objects", t, out, 20), LI707_ELIMIT);
}

static void test_csp_files_new_checks_its_config(void **state)
{
	(void)state;
	struct csp_files *f = NULL;
	char err[256];
	struct csp_files_config c = {.prefix = "o/x", .root = E.root, .lookup = lookup};
	assert_int_equal(csp_files_new(&c, &f, err, sizeof err), LI707_EINVAL);
	c.prefix = "o";
	c.root = "/nonexistent/li707";
	assert_int_equal(csp_files_new(&c, &f, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/li707"));
	c.root = E.root;
	c.lookup = NULL;
	assert_int_equal(csp_files_new(&c, &f, err, sizeof err), LI707_EINVAL);
	assert_null(f);
	csp_files_free(NULL);
}

/* ---- serving (R-BIN-A1, R-BIN-C1) ---- */

static void test_bin_a1_allowed_peer_gets_the_object(void **state)
{
	(void)state;
	struct resp r;
	fetch("csp1", "GET", path_of(O_OK), NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.blen, OBJ_SIZE);
	assert_memory_equal(r.body, E.data, OBJ_SIZE);
	assert_string_equal(header(&r, "Content-Type"), "application/pdf");
	char etag[70];
	snprintf(etag, sizeof etag, "\"%s\"", E.sha);
	assert_string_equal(header(&r, "ETag"), etag);
	assert_string_equal(header(&r, "Accept-Ranges"), "bytes");
	assert_string_equal(header(&r, "Cache-Control"), "no-store");
	resp_done(&r);
	/* The lookup may hand over an open descriptor instead of a path. */
	fetch("csp1", "GET", path_of(O_FD), NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.blen, OBJ_SIZE);
	assert_memory_equal(r.body, E.data, OBJ_SIZE);
	assert_string_equal(header(&r, "Content-Type"), "video/mp4");
	resp_done(&r);
	/* HEAD: the headers of the GET, no body. */
	fetch("csp1", "HEAD", path_of(O_OK), NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.blen, 0);
	assert_string_equal(header(&r, "Content-Length"), "100000");
	assert_string_equal(header(&r, "ETag"), etag);
	resp_done(&r);
}

static void test_bin_c1_single_and_multiple_ranges(void **state)
{
	(void)state;
	struct resp r;
	fetch("csp1", "GET", path_of(O_OK), "Range: bytes=1000-1999", &r);
	assert_int_equal(r.status, 206);
	assert_int_equal(r.blen, 1000);
	assert_memory_equal(r.body, E.data + 1000, 1000);
	assert_string_equal(header(&r, "Content-Range"), "bytes 1000-1999/100000");
	assert_string_equal(header(&r, "Content-Type"), "application/pdf");
	resp_done(&r);
	fetch("csp1", "GET", path_of(O_OK), "Range: bytes=-10", &r);
	assert_int_equal(r.status, 206);
	assert_memory_equal(r.body, E.data + OBJ_SIZE - 10, 10);
	resp_done(&r);
	/* Two ranges: multipart/byteranges, each part with the object's type and its range. */
	fetch("csp1", "GET", path_of(O_OK), "Range: bytes=0-4,99990-", &r);
	assert_int_equal(r.status, 206);
	const char *ct = header(&r, "Content-Type");
	assert_non_null(strstr(ct, "multipart/byteranges; boundary="));
	char *body = malloc(r.blen + 1);
	memcpy(body, r.body, r.blen);
	body[r.blen] = '\0';
	assert_non_null(strstr(body, "Content-Type: application/pdf\r\nContent-Range: bytes 0-4/100000\r\n\r\n"));
	const char *p2 = strstr(body, "Content-Range: bytes 99990-99999/100000\r\n\r\n");
	assert_non_null(p2);
	p2 = strstr(p2, "\r\n\r\n") + 4;
	assert_memory_equal(p2, E.data + 99990, 10);
	free(body);
	resp_done(&r);
}

static void test_bin_c1_if_range_uses_the_sha256_etag(void **state)
{
	(void)state;
	char h[256];
	static const char *const tags[] = {NULL, "\"0000\"", "W/\"x\""};
	for (size_t k = 0; k < 3; k++) {
		if (k == 0)
			snprintf(h, sizeof h, "Range: bytes=10-19\nIf-Range: \"%s\"", E.sha);
		else
			snprintf(h, sizeof h, "Range: bytes=10-19\nIf-Range: %s", tags[k]);
		struct resp r;
		fetch("csp1", "GET", path_of(O_OK), h, &r);
		if (k == 0) { /* our tag: the range */
			assert_int_equal(r.status, 206);
			assert_int_equal(r.blen, 10);
			assert_memory_equal(r.body, E.data + 10, 10);
		} else { /* another tag, a weak tag: the whole object */
			assert_int_equal(r.status, 200);
			assert_int_equal(r.blen, OBJ_SIZE);
		}
		resp_done(&r);
	}
}

/* Abusive Range headers: no amplification, a clear 200 or 416 (RFC 9110 14.2). */
static void test_bin_c1_abusive_ranges(void **state)
{
	(void)state;
	struct resp r;
	/* thousands of ranges: ignored, the object once */
	size_t cap = 16 * 4000 + 32;
	char *h = malloc(cap);
	size_t n = (size_t)snprintf(h, cap, "Range: bytes=0-0");
	for (int i = 1; i < 900; i++)
		n += (size_t)snprintf(h + n, cap - n, ",%d-%d", i, i);
	fetch("csp1", "GET", path_of(O_OK), h, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.blen, OBJ_SIZE);
	resp_done(&r);
	/* the whole object asked many times over (overlapping): ignored */
	snprintf(h, cap, "Range: bytes=0-,0-,0-,0-,0-");
	fetch("csp1", "GET", path_of(O_OK), h, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.blen, OBJ_SIZE);
	resp_done(&r);
	/* huge numbers: positions beyond the end are unsatisfiable, 416 with the size */
	snprintf(h, cap, "Range: bytes=99999999999999999999999999-");
	fetch("csp1", "GET", path_of(O_OK), h, &r);
	assert_int_equal(r.status, 416);
	assert_string_equal(header(&r, "Content-Range"), "bytes */100000");
	resp_done(&r);
	/* a huge last position is clipped to the end */
	snprintf(h, cap, "Range: bytes=99990-99999999999999999999999999");
	fetch("csp1", "GET", path_of(O_OK), h, &r);
	assert_int_equal(r.status, 206);
	assert_int_equal(r.blen, 10);
	assert_string_equal(header(&r, "Content-Range"), "bytes 99990-99999/100000");
	resp_done(&r);
	free(h);
}

static void test_bin_a1_only_get_and_head(void **state)
{
	(void)state;
	struct resp r;
	fetch("csp1", "POST", path_of(O_OK), NULL, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(header(&r, "Allow"), "GET, HEAD");
	resp_done(&r);
	fetch("csp1", "DELETE", "/objects/nothing", NULL, &r);
	assert_int_equal(r.status, 405);
	resp_done(&r);
}

/* The allowed peer, before expiry, whose file is not what the store says: 500, never the
 * bytes of another file (spool confinement). */
static void test_bin_a1_file_outside_root_or_resized_is_500(void **state)
{
	(void)state;
	static const int which[] = {O_SIZE, O_ESCAPE, O_LINK};
	struct csp_files_stats before, after;
	csp_files_stats(E.files, &before);
	for (size_t i = 0; i < sizeof which / sizeof which[0]; i++) {
		struct resp r;
		fetch("csp1", "GET", path_of(which[i]), NULL, &r);
		if (r.status != 500)
			fail_msg("object %d: status %ld, expected 500", which[i], r.status);
		resp_done(&r);
	}
	csp_files_stats(E.files, &after);
	assert_int_equal(after.file_errors - before.file_errors, 3);
}

/* ---- refusals (R-BIN-A2, R-BIN-A3) ---- */

/* The header block with the Date value checked and blanked: the one thing that may differ
 * between two answers is the second they were sent in. */
static void strip_date(struct resp *r, time_t lo, time_t hi)
{
	char *d = strstr(r->head, "\r\nDate: ");
	assert_non_null(d);
	d += 8;
	char *e = strstr(d, "\r\n");
	assert_non_null(e);
	char v[40];
	assert_true(e - d < (long)sizeof v);
	snprintf(v, sizeof v, "%.*s", (int)(e - d), d);
	time_t t;
	assert_int_equal(lx_http_date_parse(v, &t), 0);
	assert_true(t >= lo && t <= hi);
	memset(d, 'x', (size_t)(e - d));
}

static void test_bin_a2_a3_every_refusal_is_the_same_answer(void **state)
{
	(void)state;
	char tok_short[64], tok_pad[64], tok_dd[160], tok_enc[160], tok_nul[160], tok_slash[160],
		tok_dbl[160], tok_tail[160], tok_q[160], tok_case[160];
	const char *t = objs[O_OK].token;
	snprintf(tok_short, sizeof tok_short, "/objects/%.21s", t);
	/* the same 128 bits with a padding bit set: another spelling, not served */
	snprintf(tok_pad, sizeof tok_pad, "/objects/%.21s%c", t,
		 t[21] == 'A' ? 'B' : t[21] == 'Q' ? 'R' : t[21] == 'g' ? 'h' : 'x');
	snprintf(tok_dd, sizeof tok_dd, "/objects/../objects/%s", t);
	snprintf(tok_enc, sizeof tok_enc, "/objects/%%2e%%2e/objects/%s", t);
	snprintf(tok_nul, sizeof tok_nul, "/objects/%s%%00", t);
	snprintf(tok_slash, sizeof tok_slash, "/objects//%s", t);
	snprintf(tok_dbl, sizeof tok_dbl, "//objects/%s", t);
	snprintf(tok_tail, sizeof tok_tail, "/objects/%s/", t);
	snprintf(tok_q, sizeof tok_q, "/objects/%s%%2f..%%2fa.bin", t);
	snprintf(tok_case, sizeof tok_case, "/Objects/%s", t);
	struct {
		const char *client, *target, *why;
	} cases[] = {
		{"csp2", path_of(O_OK), "another configured peer (R-BIN-A2)"},
		{"other", path_of(O_OK), "a certificate of another CA, same subject"},
		{"expired", path_of(O_OK), "an expired client certificate"},
		{"csp1", path_of(O_EXPIRED), "an expired object (R-BIN-A3)"},
		{"csp1", path_of(O_UNKNOWN), "an unknown token"},
		{"csp1", path_of(O_DAMAGED), "a failing lookup"},
		{"csp2", path_of(O_SIZE), "another peer, object with a file error"},
		{"csp1", "/objects/", "no token"},
		{"csp1", "/", "root"},
		{"csp1", tok_short, "a short token"},
		{"csp1", tok_pad, "a non-canonical token"},
		{"csp1", tok_dd, "dot-dot"},
		{"csp1", tok_enc, "%2e%2e"},
		{"csp1", tok_nul, "%00 after the token"},
		{"csp1", tok_slash, "double slash"},
		{"csp1", tok_dbl, "leading double slash"},
		{"csp1", tok_tail, "trailing slash"},
		{"csp1", tok_q, "an encoded slash after the token"},
		{"csp1", tok_case, "the prefix in another case"},
	};
	struct resp first;
	time_t lo = time(NULL);
	fetch(cases[0].client, "GET", cases[0].target, NULL, &first);
	strip_date(&first, lo, time(NULL));
	assert_int_equal(first.status, 404);
	for (size_t i = 1; i < sizeof cases / sizeof cases[0]; i++) {
		struct resp r;
		lo = time(NULL);
		fetch(cases[i].client, "GET", cases[i].target, NULL, &r);
		strip_date(&r, lo, time(NULL));
		if (r.hlen != first.hlen || memcmp(r.head, first.head, r.hlen) != 0 ||
		    r.blen != first.blen || memcmp(r.body, first.body, r.blen) != 0)
			fail_msg("%s (%s): answer differs:\n%s\nvs\n%s", cases[i].why, cases[i].target,
				 r.head, first.head);
		resp_done(&r);
	}
	resp_done(&first);
	/* HEAD refusals are alike too. */
	struct resp a, b;
	fetch("csp2", "HEAD", path_of(O_OK), NULL, &a);
	fetch("csp1", "HEAD", path_of(O_UNKNOWN), NULL, &b);
	strip_date(&a, 0, time(NULL));
	strip_date(&b, 0, time(NULL));
	assert_int_equal(a.status, 404);
	assert_int_equal(a.hlen, b.hlen);
	assert_memory_equal(a.head, b.head, a.hlen);
	resp_done(&a);
	resp_done(&b);
}

/* R-BIN-A3: served while now < expiry, refused from the expiry second on. */
/* The hooks see every answer to a known token after it was queued - the allowed peer's
 * (whole, one range, two ranges, HEAD, 416, a file error), another peer's, an expired
 * object's - with the object's keys, what the server answered (status, length, ranges) and,
 * at the end, ok and the exact bytes sent; an unknown token and a malformed path reach no
 * hook. (That the refusals stay the one 404 with the hooks set is
 * test_bin_a2_a3_every_refusal_is_the_same_answer, which runs with them.) */
static void test_hooks_see_known_tokens_with_answer_and_bytes(void **state)
{
	(void)state;
	pthread_mutex_lock(&H.mu);
	H.n = 0;
	pthread_mutex_unlock(&H.mu);
	struct resp r;
	static const struct {
		const char *client, *method, *hdr;
		int obj;
		long status;
	} q[] = {
		{"csp1", "GET", NULL, O_OK, 200},
		{"csp1", "GET", "Range: bytes=1000-1999", O_OK, 206},
		{"csp1", "GET", "Range: bytes=0-4,99990-", O_OK, 206},
		{"csp1", "HEAD", NULL, O_OK, 200},
		{"csp1", "GET", "Range: bytes=200000-", O_OK, 416},
		{"csp1", "GET", NULL, O_SIZE, 500},
		{"csp2", "GET", NULL, O_OK, 404},
		{"csp1", "GET", NULL, O_EXPIRED, 404},
		{"csp1", "GET", NULL, O_UNKNOWN, 404},
	};
	size_t mp_len = 0;
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		fetch(q[i].client, q[i].method, path_of(q[i].obj), q[i].hdr, &r);
		assert_int_equal(r.status, q[i].status);
		if (i == 2)
			mp_len = r.blen;
		resp_done(&r);
	}
	fetch("csp1", "GET", "/objects/../objects/x", NULL, &r);
	resp_done(&r);
	/* done() runs right after the last byte left: wait for the eight ends */
	for (int k = 0; k < 200; k++) {
		pthread_mutex_lock(&H.mu);
		size_t ended = 0;
		for (size_t i = 0; i < H.n; i++)
			ended += H.v[i].ended;
		pthread_mutex_unlock(&H.mu);
		if (ended == 8)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&H.mu);
	assert_int_equal(H.n, 8); /* not the unknown token, not the malformed path */
	const struct hook_ev *e = H.v;
	for (size_t i = 0; i < 8; i++) {
		assert_true(e[i].ended);
		assert_true(e[i].ok);
		assert_int_equal(e[i].ref, 7);
	}
	/* whole */
	assert_int_equal(e[0].a, CSP_FILES_SERVED);
	assert_int_equal(e[0].key, 100 + O_OK);
	assert_string_equal(e[0].peer, "lea1");
	assert_true(e[0].have_answer);
	assert_int_equal(e[0].ans.status, 200);
	assert_int_equal(e[0].ans.n_ranges, 0);
	assert_int_equal(e[0].ans.length, OBJ_SIZE);
	assert_int_equal(e[0].ans.size, OBJ_SIZE);
	assert_int_equal(e[0].sent, OBJ_SIZE);
	/* one range */
	assert_int_equal(e[1].ans.status, 206);
	assert_int_equal(e[1].ans.n_ranges, 1);
	assert_int_equal(e[1].ans.ranges[0].first, 1000);
	assert_int_equal(e[1].ans.ranges[0].last, 1999);
	assert_int_equal(e[1].sent, 1000);
	/* two ranges: the multipart body's length */
	assert_int_equal(e[2].ans.n_ranges, 2);
	assert_int_equal(e[2].ans.ranges[1].first, 99990);
	assert_int_equal(e[2].ans.ranges[1].last, 99999);
	assert_int_equal(e[2].ans.length, mp_len);
	assert_int_equal(e[2].sent, mp_len);
	/* HEAD, 416: no body */
	assert_true(e[3].ans.head);
	assert_int_equal(e[3].ans.length, 0);
	assert_int_equal(e[3].sent, 0);
	assert_int_equal(e[4].ans.status, 416);
	assert_int_equal(e[4].sent, 0);
	/* a file error, another peer, an expired object: no file answer */
	assert_int_equal(e[5].a, CSP_FILES_FILE_ERROR);
	assert_int_equal(e[5].key, 100 + O_SIZE);
	assert_false(e[5].have_answer);
	assert_int_equal(e[6].a, CSP_FILES_REFUSED_PEER);
	assert_string_equal(e[6].peer, "lea2");
	assert_false(e[6].have_answer);
	assert_int_equal(e[7].a, CSP_FILES_REFUSED_EXPIRED);
	assert_int_equal(e[7].key, 100 + O_EXPIRED);
	pthread_mutex_unlock(&H.mu);
}

static void test_bin_a3_expiry_boundary(void **state)
{
	(void)state;
	struct resp r;
	atomic_store(&E.now, base_time + 9);
	fetch("csp1", "GET", path_of(O_EDGE), "Range: bytes=0-0", &r);
	assert_int_equal(r.status, 206);
	resp_done(&r);
	atomic_store(&E.now, base_time + 10);
	fetch("csp1", "GET", path_of(O_EDGE), "Range: bytes=0-0", &r);
	assert_int_equal(r.status, 404);
	resp_done(&r);
	atomic_store(&E.now, base_time);
	struct csp_files_stats st;
	csp_files_stats(E.files, &st);
	assert_true(st.refused_expired >= 1);
	assert_true(st.refused_peer >= 1);
	assert_true(st.refused_malformed >= 1);
	assert_true(st.lookup_errors >= 1);
}

/* ---- retention ---- */

static void touch(const char *dir, const char *name)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(lx_write_all(fd, "x", 1), 0);
	close(fd);
}

static bool present(const char *dir, const char *name)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	struct stat st;
	return lstat(p, &st) == 0;
}

static void test_retention_removes_only_due_files_inside_the_root(void **state)
{
	(void)state;
	char sp[128], outside[128], abs_due[256], abs_out[256];
	snprintf(sp, sizeof sp, "%s/spool", E.dir);
	snprintf(outside, sizeof outside, "%s/elsewhere", E.dir);
	assert_int_equal(mkdir(sp, 0700), 0);
	assert_int_equal(mkdir(outside, 0700), 0);
	char sub[160];
	snprintf(sub, sizeof sub, "%s/ab", sp);
	assert_int_equal(mkdir(sub, 0700), 0);
	touch(sp, "due");
	touch(sp, "ab/due2");
	touch(sp, "later");
	touch(sp, "abs");
	touch(outside, "victim");
	touch(outside, "victim2");
	char l[256];
	snprintf(l, sizeof l, "%s/dirlink", sp); /* a directory symlink leaving the root */
	assert_int_equal(symlink(outside, l), 0);
	snprintf(l, sizeof l, "%s/filelink", sp); /* a file symlink: not a regular file */
	char tgt[256];
	snprintf(tgt, sizeof tgt, "%s/victim2", outside);
	assert_int_equal(symlink(tgt, l), 0);
	snprintf(abs_due, sizeof abs_due, "%s/abs", sp);
	snprintf(abs_out, sizeof abs_out, "%s/victim", outside);
	int64_t now = 1000000, ret = 600;
	struct csp_files_expired v[] = {
		{.path = "due", .expiry = now - ret},                 /* exactly due */
		{.path = "ab/due2", .expiry = now - ret - 5},
		{.path = "later", .expiry = now - ret + 1},           /* one second early */
		{.path = abs_due, .expiry = 0},                       /* absolute, inside */
		{.path = abs_out, .expiry = 0},                       /* absolute, outside */
		{.path = "../elsewhere/victim", .expiry = 0},
		{.path = "dirlink/victim", .expiry = 0},
		{.path = "filelink", .expiry = 0},
		{.path = "ab", .expiry = 0},                          /* a directory */
		{.path = "gone", .expiry = 0},
		{.path = "ab//due2", .expiry = 0},
		{.path = "./due", .expiry = 0},
		{.path = "", .expiry = 0},
	};
	size_t removed = 99;
	assert_int_equal(csp_files_retention_sweep(sp, now, ret, v, sizeof v / sizeof v[0], &removed), 0);
	int want[] = {0, 0, 1, 0, LI707_EDENIED, LI707_EDENIED, LI707_EDENIED, LI707_EDENIED,
		      LI707_EDENIED, LI707_ENOTFOUND, LI707_EDENIED, LI707_EDENIED, LI707_EDENIED};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (v[i].result != want[i])
			fail_msg("entry %zu (%s): result %d, expected %d", i, v[i].path, v[i].result, want[i]);
	assert_int_equal(removed, 3);
	assert_false(present(sp, "due"));
	assert_false(present(sp, "ab/due2"));
	assert_false(present(sp, "abs"));
	assert_true(present(sp, "later"));
	assert_true(present(sp, "ab"));
	assert_true(present(sp, "filelink"));
	assert_true(present(outside, "victim"));
	assert_true(present(outside, "victim2"));
	assert_int_equal(csp_files_retention_sweep("/nonexistent/li707", now, ret, v, 1, NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_5_token_new_is_random_canonical_and_unique),
		cmocka_unit_test(test_core_5_token_valid_rejects_other_spellings),
		cmocka_unit_test(test_csp_files_url),
		cmocka_unit_test(test_csp_files_new_checks_its_config),
		cmocka_unit_test(test_bin_a1_allowed_peer_gets_the_object),
		cmocka_unit_test(test_bin_c1_single_and_multiple_ranges),
		cmocka_unit_test(test_bin_c1_if_range_uses_the_sha256_etag),
		cmocka_unit_test(test_bin_c1_abusive_ranges),
		cmocka_unit_test(test_bin_a1_only_get_and_head),
		cmocka_unit_test(test_bin_a1_file_outside_root_or_resized_is_500),
		cmocka_unit_test(test_bin_a2_a3_every_refusal_is_the_same_answer),
		cmocka_unit_test(test_bin_a3_expiry_boundary),
		cmocka_unit_test(test_hooks_see_known_tokens_with_answer_and_bytes),
		cmocka_unit_test(test_retention_removes_only_due_files_inside_the_root),
	};
	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		printf("SKIP: openssl is missing (the test PKI)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
