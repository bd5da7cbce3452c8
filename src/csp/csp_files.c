/* li707-csp - the Model A/C file server (R-BIN-A1..A3, R-BIN-C1, R-CORE-5). See csp_files.h and
 * docs/internals/csp-files.md.
 *
 * DESIGN. The handler decides everything at BEGIN, in this order:
 *   1. method: GET or HEAD, else 405 (decided before the path is looked at, so it says nothing
 *      about any object);
 *   2. path: exactly "/<prefix>/<token>" with a canonical token, else the 404 page;
 *   3. lookup, expiry, peer: any miss is the same 404 page, with no header added before it;
 *   4. the file, opened inside the root without following symlinks, of the recorded size, else
 *      500 (only the allowed peer, before expiry, can get here: it reveals nothing);
 *   5. lx_http_respond_file_etag: Range, multipart/byteranges, If-Range, HEAD.
 * The 404 page is lx_http_respond_status(404), the very page http_server answers for a client
 * whose certificate or PSK identity it refused: one answer for every refusal (R-BIN-A2, A3).
 * Date: MHD writes it on every answer (RFC 9110 6.6.1 wants it from a server with a clock); it
 * is the second the answer left, which the client knows anyway, and never depends on the
 * object. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csp_files.h"
#include "li707/error.h"
#include "li707/util.h"

struct csp_files {
	char prefix[CSP_FILES_PREFIX_MAX + 1];
	size_t prefix_len;
	char root[CSP_FILES_PATH_MAX + 1]; /* without trailing '/' (except "/" itself) */
	int root_fd;
	csp_files_lookup_fn lookup;
	void *ud;
	int64_t (*now)(void *ud);
	void *(*begin)(void *ud, struct lx_http_request *req, const struct csp_files_object *o,
		       enum csp_files_answer a);
	void (*end)(void *ud, struct lx_http_request *req, void *user, bool ok);
	atomic_uint_fast64_t served, bytes, r_malformed, r_unknown, r_expired, r_peer, lookup_err,
		file_err, bad_method;
};

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64val(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p ? (int)(p - b64url) : -1;
}

int csp_files_token_new(char out[CSP_FILES_TOKEN_LEN + 1])
{
	uint8_t r[CSP_FILES_TOKEN_BYTES + 2] = {0}; /* two zero bytes pad the last group */
	size_t got = 0;
	while (got < CSP_FILES_TOKEN_BYTES) {
		ssize_t n = getrandom(r + got, CSP_FILES_TOKEN_BYTES - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	size_t o = 0;
	for (size_t i = 0; i < CSP_FILES_TOKEN_BYTES; i += 3) {
		uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
		for (int k = 0; k < 4 && o < CSP_FILES_TOKEN_LEN; k++)
			out[o++] = b64url[(v >> (18 - 6 * k)) & 63];
	}
	out[o] = '\0';
	explicit_bzero(r, sizeof r);
	return 0;
}

bool csp_files_token_valid(const char *s)
{
	if (!s)
		return false;
	size_t i = 0;
	for (; i < CSP_FILES_TOKEN_LEN; i++)
		if (b64val(s[i]) < 0)
			return false;
	/* 22 characters hold 132 bits: the last one's low 4 bits are padding and must be 0. */
	return s[i] == '\0' && (b64val(s[CSP_FILES_TOKEN_LEN - 1]) & 15) == 0;
}

static bool prefix_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (n == 0 || n > CSP_FILES_PREFIX_MAX || strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '~' || c == '-'))
			return false;
	}
	return true;
}

int csp_files_url(const char *base, const char *prefix, const char *token, char *out, size_t len)
{
	if (!base || !out || !prefix_ok(prefix) || !csp_files_token_valid(token))
		return LI707_EINVAL;
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	int n = snprintf(out, len, "%.*s/%s/%s", (int)bl, base, prefix, token);
	if (n < 0 || (size_t)n >= len)
		return LI707_ELIMIT;
	return 0;
}

int csp_files_new(const struct csp_files_config *cfg, struct csp_files **out, char *err,
		  size_t errlen)
{
	if (!cfg || !out || !cfg->lookup || !cfg->root) {
		snprintf(err, errlen, "files server: lookup and root are required");
		return LI707_EINVAL;
	}
	if (!prefix_ok(cfg->prefix)) {
		snprintf(err, errlen, "files server: prefix must be 1..%d characters of [A-Za-z0-9._~-]",
			 CSP_FILES_PREFIX_MAX);
		return LI707_EINVAL;
	}
	size_t rl = strlen(cfg->root);
	while (rl > 1 && cfg->root[rl - 1] == '/')
		rl--;
	if (rl == 0 || rl > CSP_FILES_PATH_MAX) {
		snprintf(err, errlen, "files server: root path empty or too long");
		return LI707_EINVAL;
	}
	struct csp_files *f = calloc(1, sizeof *f);
	if (!f)
		return LI707_ENOMEM;
	memcpy(f->root, cfg->root, rl);
	f->root[rl] = '\0';
	f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->root_fd < 0) {
		int e = errno;
		snprintf(err, errlen, "files server: %s: %s", f->root, strerror(e));
		free(f);
		return -e;
	}
	snprintf(f->prefix, sizeof f->prefix, "%s", cfg->prefix);
	f->prefix_len = strlen(f->prefix);
	f->lookup = cfg->lookup;
	f->ud = cfg->ud;
	f->now = cfg->now;
	f->begin = cfg->begin;
	f->end = cfg->end;
	*out = f;
	return 0;
}

void csp_files_free(struct csp_files *f)
{
	if (!f)
		return;
	if (f->root_fd >= 0)
		close(f->root_fd);
	free(f);
}

void csp_files_stats(const struct csp_files *f, struct csp_files_stats *st)
{
	struct csp_files *m = (struct csp_files *)f; /* atomics are read, not changed */
	*st = (struct csp_files_stats){
		.served = atomic_load(&m->served),
		.bytes = atomic_load(&m->bytes),
		.refused_malformed = atomic_load(&m->r_malformed),
		.refused_unknown = atomic_load(&m->r_unknown),
		.refused_expired = atomic_load(&m->r_expired),
		.refused_peer = atomic_load(&m->r_peer),
		.lookup_errors = atomic_load(&m->lookup_err),
		.file_errors = atomic_load(&m->file_err),
		.bad_method = atomic_load(&m->bad_method),
	};
}

/* ---- paths inside the root ---- */

/* The part of path below root: an absolute path must start with "root/", a relative one is
 * taken as is. NULL when it leaves root textually. */
static const char *below_root(const char *root, const char *path)
{
	if (path[0] != '/')
		return path;
	size_t rl = strlen(root);
	if (strcmp(root, "/") == 0)
		return path + 1;
	if (strncmp(path, root, rl) != 0 || path[rl] != '/')
		return NULL;
	return path + rl + 1;
}

/* Opens the directory holding rel (relative to root_fd), one component at a time with
 * O_NOFOLLOW, refusing empty, "." and ".." components. *leaf points at the last component.
 * Returns a directory fd, or LI707_EDENIED / -errno. */
static int open_parent(int root_fd, const char *rel, const char **leaf)
{
	if (!rel || !*rel || strlen(rel) > CSP_FILES_PATH_MAX)
		return LI707_EDENIED;
	int dir = dup(root_fd);
	if (dir < 0)
		return -errno;
	const char *p = rel;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(dir);
			return LI707_EDENIED;
		}
		if (!slash) {
			*leaf = p;
			return dir;
		}
		char comp[NAME_MAX + 1];
		memcpy(comp, p, n);
		comp[n] = '\0';
		int next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(dir);
		if (next < 0)
			return e == ELOOP || e == ENOTDIR ? LI707_EDENIED : -e;
		dir = next;
		p = slash + 1;
	}
}

/* Opens the object's file for reading inside root: a regular file, no symlink anywhere. */
static int open_in_root(const struct csp_files *f, const char *path)
{
	const char *leaf = NULL;
	int dir = open_parent(f->root_fd, below_root(f->root, path), &leaf);
	if (dir < 0)
		return dir;
	int fd = openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	int e = errno;
	close(dir);
	if (fd < 0)
		return e == ELOOP ? LI707_EDENIED : -e;
	/* O_NONBLOCK only kept a FIFO from blocking the open; reads of a regular file ignore it. */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int csp_files_retention_sweep(const char *root, int64_t now, int64_t retention_s,
			      struct csp_files_expired *v, size_t n, size_t *removed)
{
	size_t count = 0;
	if (!root || (n && !v))
		return LI707_EINVAL;
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (rl == 0 || rl > CSP_FILES_PATH_MAX)
		return LI707_EINVAL;
	char r[CSP_FILES_PATH_MAX + 1];
	memcpy(r, root, rl);
	r[rl] = '\0';
	int root_fd = open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		struct csp_files_expired *x = &v[i];
		if (retention_s < 0 || x->expiry > INT64_MAX - retention_s ||
		    x->expiry + retention_s > now) {
			x->result = 1;
			continue;
		}
		const char *leaf = NULL;
		int dir = x->path ? open_parent(root_fd, below_root(r, x->path), &leaf) : LI707_EDENIED;
		if (dir == -ENOENT) {
			x->result = LI707_ENOTFOUND;
			continue;
		}
		if (dir < 0) {
			x->result = dir;
			continue;
		}
		struct stat st;
		if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
			x->result = errno == ENOENT ? LI707_ENOTFOUND : -errno;
		else if (!S_ISREG(st.st_mode))
			x->result = LI707_EDENIED;
		else if (unlinkat(dir, leaf, 0) != 0)
			x->result = errno == ENOENT ? LI707_ENOTFOUND : -errno;
		else {
			x->result = 0;
			count++;
		}
		close(dir);
	}
	close(root_fd);
	if (removed)
		*removed = count;
	return 0;
}

/* ---- the handler ---- */

/* The token of "/<prefix>/<token>", or NULL. req->path is decoded by libmicrohttpd: "%2e%2e"
 * arrives as "..", which no token contains; a "%00" ends the decoded string early, so the
 * server refuses a path with an encoded NUL before any handler (http_server.c). */
static const char *path_token(const struct csp_files *f, const char *path)
{
	if (!path || path[0] != '/' || strncmp(path + 1, f->prefix, f->prefix_len) != 0 ||
	    path[1 + f->prefix_len] != '/')
		return NULL;
	const char *t = path + 2 + f->prefix_len;
	return csp_files_token_valid(t) ? t : NULL;
}

static int refuse(atomic_uint_fast64_t *counter, struct lx_http_request *req)
{
	atomic_fetch_add(counter, 1);
	return lx_http_respond_status(req, 404); /* R-BIN-A2, R-BIN-A3: one answer for all */
}

static int64_t now_of(const struct csp_files *f)
{
	return f->now ? f->now(f->ud) : (int64_t)time(NULL);
}

int csp_files_handler(void *cls, struct lx_http_request *req, enum lx_http_phase ph)
{
	struct csp_files *f = cls;
	(void)ph; /* everything is answered at BEGIN; END never comes for an answered request */
	bool head = strcmp(req->method, "HEAD") == 0;
	if (!head && strcmp(req->method, "GET") != 0) {
		atomic_fetch_add(&f->bad_method, 1);
		int rc = lx_http_add_header(req, "Allow", "GET, HEAD");
		return rc ? rc : lx_http_respond_status(req, 405);
	}
	const char *token = path_token(f, req->path);
	if (!token)
		return refuse(&f->r_malformed, req);
	struct csp_files_object *o = malloc(sizeof *o); /* 4.5 KiB: not on a connection's stack */
	if (!o)
		return LI707_ENOMEM;
	memset(o, 0, sizeof *o);
	o->fd = -1;
	int rc = f->lookup(f->ud, token, o);
	atomic_uint_fast64_t *why = NULL;
	if (rc == LI707_ENOTFOUND)
		why = &f->r_unknown;
	else if (rc != 0)
		why = &f->lookup_err;
	else if (now_of(f) >= o->expiry)
		why = &f->r_expired; /* R-BIN-A3 */
	else if (!req->peer || strnlen(o->peer, sizeof o->peer) >= sizeof o->peer ||
		 strcmp(req->peer, o->peer) != 0)
		why = &f->r_peer; /* R-BIN-A2 */
	if (why) {
		if (o->fd >= 0)
			close(o->fd);
		rc = refuse(why, req);
		/* a known token: the hook learns of it after the one 404 was queued */
		if (rc == 0 && f->begin && (why == &f->r_expired || why == &f->r_peer))
			req->user = f->begin(f->ud, req, o, why == &f->r_expired
						   ? CSP_FILES_REFUSED_EXPIRED : CSP_FILES_REFUSED_PEER);
		free(o);
		return rc;
	}
	/* The allowed peer, before expiry: from here on a failure may say so (500). */
	int fd = o->fd;
	if (fd < 0) {
		o->path[CSP_FILES_PATH_MAX] = '\0';
		fd = open_in_root(f, o->path);
	}
	o->sha256[64] = '\0';
	if (fd >= 0 && !li707_check_sha256_hex(o->sha256)) {
		close(fd);
		fd = -1;
	}
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != o->size)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		atomic_fetch_add(&f->file_err, 1);
		rc = lx_http_respond_status(req, 500);
		if (rc == 0 && f->begin)
			req->user = f->begin(f->ud, req, o, CSP_FILES_FILE_ERROR);
		free(o);
		return rc;
	}
	char etag[2 + 64 + 1];
	snprintf(etag, sizeof etag, "\"%.64s\"", o->sha256);
	o->content_type[CSP_FILES_CTYPE_MAX] = '\0';
	const char *ct = o->content_type[0] ? o->content_type : NULL;
	atomic_fetch_add(&f->served, 1);
	atomic_fetch_add(&f->bytes, head ? 0 : o->size);
	rc = lx_http_add_header(req, "Cache-Control", "no-store");
	if (rc == 0)
		rc = lx_http_add_header(req, "X-Content-Type-Options", "nosniff");
	if (rc != 0) {
		close(fd);
		free(o);
		return rc;
	}
	rc = lx_http_respond_file_etag(req, fd, ct, etag);
	if (rc == 0 && f->begin)
		req->user = f->begin(f->ud, req, o, CSP_FILES_SERVED);
	free(o);
	return rc;
}

void csp_files_done(void *cls, struct lx_http_request *req, bool ok)
{
	struct csp_files *f = cls;
	if (f && req && req->user && f->end)
		f->end(f->ud, req, req->user, ok);
	if (req)
		req->user = NULL;
}
