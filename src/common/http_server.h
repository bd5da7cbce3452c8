/* li707 common - the HTTPS server both daemons use (TS 103 707 clause 7, Annex C).
 *
 * A server owns listeners; each listener is one libmicrohttpd daemon doing TLS through GnuTLS,
 * either with certificates (mutual TLS, the default, R-SEC-2) or with PSK (RFC 4279, R-SEC-4,
 * its own listener: MHD cannot offer both on one daemon). Before any handler sees a request the
 * server establishes the peer identity: a client certificate that verifies against the trust
 * anchors (and CRL) and matches the allow-list, or a configured PSK identity. Anything else gets
 * the same 404 page an unknown URL gets, before a byte of body is read (R-BIN-A2; with
 * `Expect: 100-continue` no 100 is sent).
 *
 * Handler protocol (one function, called from the connection's thread):
 *   phase BEGIN  once, after the headers, before any body. The handler either answers now
 *                (lx_http_respond_*: no body is read, and with Expect no 100 is sent - the
 *                Model B decision point, R-BIN-B3) or, for a request with a body, accepts it
 *                with lx_http_body_to_fd() / lx_http_body_to_cb() and a size cap. A
 *                request with a body that is neither answered nor accepted gets 413.
 *   phase END    once the whole body arrived (requests whose body was accepted, and the
 *                requests without a body the handler did not answer at BEGIN). The handler
 *                must answer now; otherwise 500.
 *   done()       always, once, when the request is over (completed or aborted) - to release
 *                req->user. ok tells whether the response was fully sent.
 * Bodies over the cap are answered 413 as soon as the cap is crossed (at once when the
 * Content-Length says so); bodies slower than limits.body_min_rate get 408. A status given in
 * the middle of a body (MHD 0.9.75 cannot queue one then) is written by the server itself and
 * the connection is closed after it (req->server_status tells done() which one).
 *
 * Framing is strict (RFC 9112 sections 5, 6.3): several or malformed Content-Length fields,
 * Content-Length with Transfer-Encoding, a Transfer-Encoding not ending in chunked, a field
 * line folded or with white space before its colon, a control character in a field value,
 * a HTTP/1.1 request without Host or with two: 400 (501 for a transfer coding before
 * chunked), and the connection is closed. The handler never sees such a request. (A NUL in
 * a value and a bare LF line end are not visible through libmicrohttpd 0.9.75.)
 *
 * Thread model: one thread per connection (MHD_USE_THREAD_PER_CONNECTION), so file reads and
 * writes and handler work never stall another connection; file responses go out one TLS record
 * per write (from a mapping of the file, or read in blocks of LX_HTTP_BLOCK bytes) so the
 * kernel interleaves small and large transfers (R-BIN-2). Handlers must be thread-safe.
 *
 * Lifetime: new -> listen (one or more) -> start ... reload, set_peers (SIGHUP) ... drain (SIGTERM)
 * -> free.
 * The library never logs; errors come back as codes with a message in err. */
#ifndef LX_COMMON_HTTP_SERVER_H
#define LX_COMMON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tls.h"

#define LX_HTTP_BLOCK (256u * 1024u) /* bytes per response callback */

struct lx_http_server;
struct lx_http_request;

enum lx_http_phase { LX_HTTP_BEGIN = 1, LX_HTTP_END = 2 };

/* Limits, one table (docs/internals/http_server.md). Zero means the default. */
struct lx_http_limits {
	unsigned connections;        /* open connections per listener [256] */
	unsigned per_peer;           /* open connections per peer identity [32] (503 beyond) */
	unsigned per_ip;             /* open connections per client IP [64] */
	size_t header_bytes;         /* request line + headers (MHD memory pool) [64 KiB] */
	uint64_t body_bytes;         /* default body cap for lx_http_body_* [1 GiB] */
	unsigned idle_timeout_s;     /* no byte in either direction for this long: close [30] */
	unsigned header_timeout_s;   /* TLS handshake + request line + headers must arrive within
				      * this long of the connection start (of the end of the
				      * previous response on keep-alive), else close [10] */
	unsigned max_ranges;         /* Range specs per request [16] */
	unsigned drain_timeout_s;    /* drain waits this long for in-flight requests [30] */
	unsigned body_min_rate;      /* a body must move at least this many bytes per second,
				      * counted over every body_rate_window_s, else 408 [1024] */
	unsigned body_rate_window_s; /* the window of body_min_rate, in seconds [10] */
	unsigned unauthenticated;    /* open connections (all listeners) not yet authenticated (in
				      * their handshake or before their first request's verdict);
				      * a new one beyond this closes the oldest such connection, so
				      * they cannot starve authenticated peers [connections / 2] */
};

/* The credentials of certificate listeners: PEM file paths. crl may be NULL. */
struct lx_http_creds {
	const char *cert, *key, *cacert, *crl;
};

/* Why a connection was refused before any handler saw it (R-SEC-2, R-SEC-4). Post-handshake
 * refusals (the certificate ones) are answered with the unknown-URL 404 (R-BIN-A2); handshake
 * refusals end the connection. */
enum lx_http_refusal {
	LX_REFUSED_NO_CERT,        /* certificate listener, no client certificate */
	LX_REFUSED_CERT_UNTRUSTED, /* chain does not verify against the trust anchors */
	LX_REFUSED_CERT_EXPIRED,   /* expired or not yet valid */
	LX_REFUSED_CERT_REVOKED,   /* on the CRL */
	LX_REFUSED_CERT_PURPOSE,   /* not a TLS client certificate (extended key usage) */
	LX_REFUSED_UNKNOWN_PEER,   /* verified, but matches no configured peer */
	LX_REFUSED_TLS_VERSION,    /* the client offered only versions below TLS 1.2 */
	LX_REFUSED_TLS_PARAMS,     /* no common version, suite or group */
	LX_REFUSED_PSK_IDENTITY,   /* unknown PSK identity */
	LX_REFUSED_PSK_KEY,        /* known identity, handshake failed (wrong key) */
	LX_REFUSED_CLIENT_ALERT,   /* the client ended the handshake with an alert */
	LX_REFUSED_TLS_OTHER,      /* any other handshake failure */
	LX_REFUSED_SLOTS,          /* unauthenticated connection over its own cap (limits) */
	LX_REFUSED_TIMEOUT,        /* handshake + first request not done in time (limits) */
	LX_REFUSED_N
};
/* A short stable name for a reason ("no-cert", "psk-identity", ...), for logs and metrics. */
const char *lx_http_refusal_name(enum lx_http_refusal r);

/* One refused connection, as handed to lx_http_config.refused (from a connection thread;
 * must be thread-safe and not block). Nothing in it comes from the peer's certificate or
 * messages: the reason, the client's address and the listener's port only. */
struct lx_http_refused {
	enum lx_http_refusal reason;
	const char *addr;  /* client address ("192.0.2.7:50312", "[2001:db8::1]:443") */
	int port;          /* the local port of the listener */
	bool psk;          /* a PSK listener */
	const char *alert; /* LX_REFUSED_CLIENT_ALERT: the alert's name, else NULL */
};
typedef void (*lx_http_refused_fn)(void *cls, const struct lx_http_refused *r);

typedef int (*lx_http_handler)(void *cls, struct lx_http_request *req, enum lx_http_phase ph);
typedef void (*lx_http_done)(void *cls, struct lx_http_request *req, bool ok);

struct lx_http_config {
	struct lx_tls_policy *policy;  /* borrowed, must outlive the server */
	struct lx_tls_peers *peers;    /* borrowed allow-list (certs and PSK identities), must
					   * outlive the server (or lx_http_server_set_peers) */
	struct lx_http_creds creds;    /* copied at new/reload */
	struct lx_http_limits limits;
	lx_http_handler handler;
	lx_http_done done;             /* may be NULL */
	lx_http_refused_fn refused;    /* each refused connection, once; may be NULL */
	void *cls;
	/* Test/benchmark only: certificate listeners that do not request a client certificate,
	 * peer identity "anonymous". Never set by the daemons (R-SEC-2). */
	bool insecure_no_client_cert;
};

/* The request as handlers see it; valid from BEGIN until done(). */
struct lx_http_request {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* decoded path, without the query */
	const char *peer;         /* the configured peer name (never NULL in handlers) */
	bool psk;                 /* peer authenticated by PSK */
	bool has_length;          /* Content-Length given */
	uint64_t content_length;
	bool expect_continue;     /* "Expect: 100-continue" (R-BIN-B3) */
	uint64_t body_received;   /* bytes of body accepted so far */
	unsigned server_status;   /* a status the server answered on its own in the middle of
				   * the body (413 over the cap, 408 too slow, or a body callback's
				   * status), else 0; the connection is closed after it */
	void *user;               /* the handler's, released in done() */
	/* private */
	void *impl;
};

/* Creates a server (no listener yet). Copies what it needs from cfg except policy and peers. */
int lx_http_server_new(const struct lx_http_config *cfg, struct lx_http_server **out,
			  char *err, size_t errlen);

/* Adds a listener on "ADDR:PORT" ("127.0.0.1:0", "[::1]:8443", ":8443") - certificate based,
 * or PSK based when psk is true. Port 0 picks one: see lx_http_server_port(). */
int lx_http_server_listen(struct lx_http_server *s, const char *addr, bool psk,
			     char *err, size_t errlen);
/* Closes listener i (SIGHUP: an address no longer configured; add the new one first with
 * lx_http_server_listen, which works on a running server). It stops accepting at once; the
 * connections already open on it finish as after a reload. Listeners after i move down one
 * index. LI707_EINVAL (no such listener, draining), LI707_ELIMIT (too many reloads still
 * draining: nothing changed). */
int lx_http_server_unlisten(struct lx_http_server *s, size_t i);
/* The local port of listener i (in the order added), or -1. */
int lx_http_server_port(const struct lx_http_server *s, size_t i);

/* Loads new credentials (and the current policy) and serves new connections with them; the
 * connections already open finish on the old ones (SIGHUP). On error nothing changes. */
int lx_http_server_reload(struct lx_http_server *s, const struct lx_http_creds *creds,
			     char *err, size_t errlen);

/* Replaces the allow-list (certificate peers and PSK identities/keys) for new connections and
 * for the next request of open ones (SIGHUP). Takes peers (allocated, with its table) on
 * success; the old list is freed (keys wiped) when no connection or request uses it any
 * more - in-flight requests finish under the peer they started with. Per-peer connection
 * limits count per list: right after a swap a peer may briefly hold up to twice per_peer.
 * On error (LI707_ENOMEM) nothing changes and peers stays the caller's. */
int lx_http_server_set_peers(struct lx_http_server *s, struct lx_tls_peers *peers);

/* Graceful stop (SIGTERM): stop accepting, let in-flight requests finish (at most
 * limits.drain_timeout_s), then close everything. Returns 0, or LI707_ELIMIT when the timeout
 * cut requests short. Callable once; free() afterwards. */
int lx_http_server_drain(struct lx_http_server *s);

/* Stops at once if still running, frees everything. NULL is a no-op. */
void lx_http_server_free(struct lx_http_server *s);

/* Counters (monotonic, for tests and metrics). */
struct lx_http_stats {
	uint64_t requests, refused_auth, body_bytes, active_requests;
	uint64_t reloads;
	uint64_t header_timeouts; /* connections cut for missing their header deadline */
	uint64_t refused[LX_REFUSED_N]; /* refused connections by reason */
};
void lx_http_server_stats(const struct lx_http_server *s, struct lx_http_stats *st);

/* ---- inside a handler ---- */

/* A request header (case-insensitive name), or NULL. */
const char *lx_http_header(const struct lx_http_request *req, const char *name);

/* Adds a response header for the response about to be queued (at most 16, copied). */
int lx_http_add_header(struct lx_http_request *req, const char *name, const char *value);

/* Responds with a copy of data. content_type may be NULL. */
int lx_http_respond_buf(struct lx_http_request *req, unsigned status, const char *content_type,
			   const void *data, size_t len);

/* A small fixed page for status (404 is the page also used for refused peers, R-BIN-A2). */
int lx_http_respond_status(struct lx_http_request *req, unsigned status);

/* Serves an open regular file (fd is taken, closed by the server) with Range, If-Range,
 * ETag, Last-Modified and HEAD support (R-BIN-A1, R-BIN-C1). content_type may be NULL
 * (application/octet-stream).
 * A body of one range (the whole file or a single Range) of at least 1 MiB, other than for
 * HEAD, is sent from a read-only shared mapping of the file (no copy through a buffer); the
 * resident memory it takes stays bounded (about 16 MiB per transfer, whatever the size). The
 * first such body installs a process-wide SIGBUS handler: a file truncated while it is sent
 * then ends the transfer early (the client sees a cut body, as when a read comes up short)
 * instead of the process; every SIGBUS outside these mappings goes to the handler installed
 * before (or the default action). A program that installs its own SIGBUS handler later
 * should chain to the one it replaces. */
int lx_http_respond_file(struct lx_http_request *req, int fd, const char *content_type);
/* The same with the caller's strong entity-tag (quoted, at most 80 characters: RFC 9110
 * 8.8.3, e.g. one derived from the content's SHA-256) instead of the inode-size-mtime one;
 * If-Range compares against it. etag NULL: as lx_http_respond_file. A malformed etag:
 * LI707_EINVAL (fd closed, nothing answered). */
int lx_http_respond_file_etag(struct lx_http_request *req, int fd, const char *content_type,
				 const char *etag);

/* What a file response (lx_http_respond_file*) answered, for the request's done() and for a
 * handler that shows transfers in progress. */
#define LX_HTTP_ANSWER_RANGES 64 /* = LX_RANGE_CAP */
struct lx_http_file_answer {
	unsigned status;          /* 200, 206 or 416 */
	bool head;                /* a HEAD: no body */
	uint64_t size;            /* the file's size */
	uint64_t length;          /* bytes of the response body (its Content-Length; 0 for HEAD) */
	size_t n_ranges;          /* 206: the ranges sent (1: a single range, more: multipart) */
	struct { uint64_t first, last; } ranges[LX_HTTP_ANSWER_RANGES]; /* inclusive */
};
/* The answer of the file response queued for req: 0, or LI707_ENOTFOUND (none was). */
int lx_http_file_answer(const struct lx_http_request *req, struct lx_http_file_answer *out);
/* Bytes of the file response's body handed to the connection so far: read for it (blocks of
 * LX_HTTP_BLOCK) or, for a mapped body, pushed into the socket (an estimate that includes
 * the response headers and TLS record overhead, never more than the body). Exact (= length)
 * once the response went out completely: in done() with ok true. A client that went away
 * got at most this much. 0 without a file response. One atomic load: cheap from any thread
 * while the request lives (until its done() returned). */
uint64_t lx_http_sent(const struct lx_http_request *req);

/* Accepts the body into fd (taken; the server writes at its current offset in blocks of
 * LX_HTTP_BLOCK, everything is written before phase END, closes it after done()), at most
 * cap bytes (0 = limits.body_bytes). Durability (fsync) is the handler's, at END. */
int lx_http_body_to_fd(struct lx_http_request *req, int fd, uint64_t cap);
/* Accepts the body through fn. fn returns 0 to go on; an HTTP status 400..599 to answer it at
 * once (headers added with lx_http_add_header go with it) and close the connection (see
 * server_status); any other value answers 500 the same way. */
typedef int (*lx_http_body_fn)(void *cls, struct lx_http_request *req, const void *data, size_t n);
int lx_http_body_to_cb(struct lx_http_request *req, lx_http_body_fn fn, void *fn_cls, uint64_t cap);

#endif
