/* li707-csp - the Model A/C file server (TS 103 707 clause 6.2.3 / 6.2.5; R-BIN-A1, R-BIN-A2,
 * R-BIN-A3, R-BIN-C1, R-CORE-5). See docs/internals/csp-files.md.
 *
 * A request handler for the shared HTTPS server (src/common/http_server.h): every object is
 * served under its own URL `/<prefix>/<token>`, token = 128 random bits from the OS CSPRNG in
 * unpadded base64url (22 characters, csp_files_token_new; never reused: the store keeps every
 * token it handed out, R-CORE-5). What a token names comes from a lookup callback (the store in
 * the daemon, a manifest in tests/helpers/csp_files_serve.c): the file (an open descriptor or a
 * path inside the spool), its size, SHA-256, Content-Type, expiry and the one peer identity (the
 * name http_server gives the authenticated TLS peer) allowed to fetch it.
 *
 * The allowed peer, before expiry, gets the object with the server's Range, multiple ranges
 * (multipart/byteranges), If-Range, HEAD (R-BIN-A1, R-BIN-C1), a strong ETag from the SHA-256
 * and the object's own Content-Type. Everything else - another peer, an expired object, an
 * unknown token, a malformed path, a failing lookup - gets the server's one 404 page, the page
 * a client the server refused before any handler gets too, byte for byte (R-BIN-A2, R-BIN-A3).
 *
 * Thread safety: the handler runs on the server's connection threads; the lookup callback must
 * be thread-safe. The library never logs: the daemon reads the counters (csp_files_stats). */
#ifndef LI707_CSP_FILES_H
#define LI707_CSP_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http_server.h"

#define CSP_FILES_TOKEN_BYTES 16  /* 128 bits (R-CORE-5) */
#define CSP_FILES_TOKEN_LEN 22    /* unpadded base64url of 16 bytes */
#define CSP_FILES_PREFIX_MAX 64   /* the URL path segment before the token */
#define CSP_FILES_PEER_MAX 255    /* a peer identity name */
#define CSP_FILES_CTYPE_MAX 127   /* a Content-Type value */
#define CSP_FILES_PATH_MAX 4095   /* a spool path */

/* What the lookup callback fills in for a token. */
struct csp_files_object {
	int fd;                 /* an open regular file (taken by the handler, closed on every
				 * path), or -1: the handler opens path */
	char path[CSP_FILES_PATH_MAX + 1]; /* the file inside the root (absolute under it, or
				 * relative to it), when fd is -1 */
	uint64_t size;          /* the object's size: a file of another size is not served (500) */
	char sha256[65];        /* the content's SHA-256, 64 hex digits: the strong ETag (a
				 * malformed one is a file error, 500) */
	char content_type[CSP_FILES_CTYPE_MAX + 1]; /* "" = application/octet-stream */
	int64_t expiry;         /* Unix time; served while now < expiry (R-BIN-A3) */
	char peer[CSP_FILES_PEER_MAX + 1]; /* the only peer identity allowed (R-BIN-A2) */
	int64_t key, ref;       /* the caller's keys of the object and its reference (opaque
				 * here: handed back to the hooks below) */
};

/* What the handler answered a request for a known token (the hooks below). */
enum csp_files_answer {
	CSP_FILES_SERVED,          /* the allowed peer: 200/206/416, GET or HEAD */
	CSP_FILES_REFUSED_EXPIRED, /* the one 404: the object expired (R-BIN-A3) */
	CSP_FILES_REFUSED_PEER,    /* the one 404: another peer asked (R-BIN-A2) */
	CSP_FILES_FILE_ERROR,      /* the allowed peer got 500 (file missing, of another size) */
};

/* Looks token up (22 base64url characters, already checked). *out arrives with fd = -1 and
 * everything else zeroed. Returns 0 when found, LI707_ENOTFOUND when not, another negative
 * code on failure (answered like an unknown token: the client cannot tell, the counters can). */
typedef int (*csp_files_lookup_fn)(void *ud, const char *token, struct csp_files_object *out);

struct csp_files_config {
	const char *prefix;        /* "objects": URLs /objects/<token>; 1..CSP_FILES_PREFIX_MAX
				    * characters of [A-Za-z0-9._~-], not "." or ".." */
	const char *root;          /* the directory every served or removed file must lie in (the
				    * spool's objects directory); opened at new */
	csp_files_lookup_fn lookup;
	void *ud;
	int64_t (*now)(void *ud);  /* the clock for expiry, NULL = time(NULL) (tests) */
	/* Optional hooks (the daemon's transfer table and fetch audit; ud as above). begin: after
	 * the answer to a request for a known token was queued (unknown tokens and malformed
	 * paths only count: they name no object), so for CSP_FILES_SERVED lx_http_file_answer()
	 * and lx_http_sent() work on req; what it returns becomes req->user. end: from the
	 * server's done() (csp_files_done) once the answer went out (ok) or the client went away,
	 * with that user pointer (not for NULL). Neither may change the answer: they run after
	 * it was queued. Called on the connection's thread: must be thread-safe. */
	void *(*begin)(void *ud, struct lx_http_request *req, const struct csp_files_object *o,
		       enum csp_files_answer a);
	void (*end)(void *ud, struct lx_http_request *req, void *user, bool ok);
};

struct csp_files;

int csp_files_new(const struct csp_files_config *cfg, struct csp_files **out, char *err,
		  size_t errlen);
void csp_files_free(struct csp_files *f); /* NULL is a no-op; after the server is gone */

/* The lx_http_handler; cls is the struct csp_files. Answers every request at BEGIN. */
int csp_files_handler(void *cls, struct lx_http_request *req, enum lx_http_phase ph);
/* The lx_http_done to give the server with it (calls the end hook). */
void csp_files_done(void *cls, struct lx_http_request *req, bool ok);

/* Counters (monotonic). The refusal reasons are for the operator only: the client sees one
 * answer for all of them. */
struct csp_files_stats {
	uint64_t served;       /* 200/206/416 answers to the allowed peer (GET and HEAD) */
	uint64_t bytes;        /* sizes of the objects answered to GETs (what a Range selects or
				 * what moved is the server's business) */
	uint64_t refused_malformed, refused_unknown, refused_expired, refused_peer;
	uint64_t lookup_errors; /* the lookup failed: answered as unknown */
	uint64_t file_errors;   /* the allowed peer got 500: file missing, of another size, or
				 * outside the root */
	uint64_t bad_method;    /* 405 */
};
void csp_files_stats(const struct csp_files *f, struct csp_files_stats *st);

/* A fresh token: 16 bytes of getrandom() in unpadded base64url + NUL. 0 or -errno. */
int csp_files_token_new(char out[CSP_FILES_TOKEN_LEN + 1]);
/* True when s is exactly CSP_FILES_TOKEN_LEN base64url characters whose last one carries no
 * unused bits (so one token has one spelling). */
bool csp_files_token_valid(const char *s);

/* "<base>/<prefix>/<token>" (base = files_url, a trailing '/' dropped) into out. 0, or
 * LI707_EINVAL (bad prefix or token) / LI707_ELIMIT (out too small). */
int csp_files_url(const char *base, const char *prefix, const char *token, char *out, size_t len);

/* ---- retention ---- */

/* One object for the retention sweep. result is written for every entry:
 *   0               removed now
 *   1               not due yet (expiry + retention > now): untouched
 *   LI707_ENOTFOUND already gone (nothing to remove: the store may forget it too)
 *   LI707_EDENIED   the path leaves the root (.., symlinked directory, absolute elsewhere) or
 *                   is not a regular file: untouched
 *   other negative  the removal failed (-errno): try again later */
struct csp_files_expired {
	const char *path;   /* as in csp_files_object.path */
	int64_t expiry;
	int result;
};

/* Removes the file of every entry whose expiry + retention_s <= now, only inside root (each
 * directory opened with O_NOFOLLOW from root, the file unlinked relative to its directory, never
 * following a symlink). Returns 0 (the per-entry outcome is in result) or an error opening
 * root. *removed (may be NULL) gets the count of entries with result 0. */
int csp_files_retention_sweep(const char *root, int64_t now, int64_t retention_s,
			      struct csp_files_expired *v, size_t n, size_t *removed);

#endif
