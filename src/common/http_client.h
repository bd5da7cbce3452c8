/* li707 common - the HTTPS client (TS 103 707 clause 7 and Annex E; R-TRN-1, R-TRN-3,
 * R-SEC-1..5, R-BIN-2, R-BIN-B2/B3, R-BIN-C1/C2). docs/internals/http_client.md.
 *
 * One client = one libcurl multi handle: its connection cache is shared by every transfer, so
 * connections to a peer are reused (keep-alive) and TLS handshakes are paid once per
 * connection. HTTP/1.1 only and no pipelining: parallel transfers to the same peer run on
 * separate connections (up to max_host_connections), so a small transfer is never queued
 * behind a large one inside one pipe (R-BIN-2). Transfers beyond the active limit wait in a
 * queue ordered by a scheduling hook (default: priority, then smallest size first).
 *
 * TLS: the li707 policy (tls.h) is applied to every OpenSSL context from a
 * CURLOPT_SSL_CTX_FUNCTION callback, so the client offers exactly the policy; client
 * certificate/key, CA file and CRL give mutual authentication (R-SEC-2); a PSK (RFC 4279,
 * R-SEC-4) is handed to OpenSSL by a psk_client_callback (libcurl has no PSK option). The
 * client copies the PSK and wipes it when freed. HTTPS only (R-SEC-1).
 *
 * Failures are classified (enum lx_http_err) so that callers can report "TLS failure" vs
 * "HTTP status" vs "timeout" vs "connection reset" vs "DNS/connect" (R-TRN-3). This module
 * never prints; libcurl's error text is returned in the result.
 *
 * Threading: a client belongs to one thread. Call lx_http_global_init() once at start. */
#ifndef LX_COMMON_HTTP_CLIENT_H
#define LX_COMMON_HTTP_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls.h"

/* Caps and defaults. */
#define LX_HTTP_MAX_BODY_DEFAULT ((size_t)16 << 20) /* memory-captured response bodies */
#define LX_HTTP_MAX_HEADER_LINE 8192                  /* longer response header lines abort */
#define LX_HTTP_CONNECT_TIMEOUT_MS_DEFAULT 10000L
#define LX_HTTP_EXPECT_TIMEOUT_MS_DEFAULT 5000L       /* R-BIN-B3 continue timeout */
#define LX_HTTP_LOW_SPEED_TIME_DEFAULT 30L            /* s below low_speed_limit = stall */
#define LX_HTTP_MAX_HOST_CONNECTIONS_DEFAULT 4L
#define LX_HTTP_MAX_PENDING 4096                      /* transfers queued and not started */

/* Classification of a finished transfer. Values are stable; text by lx_http_strerror. */
enum lx_http_err {
	LX_HTTP_OK = 0,       /* transfer done and the status is one the request accepts */
	LX_HTTP_ESTATUS,      /* the peer answered with an unexpected HTTP status */
	LX_HTTP_ETLS,         /* TLS handshake, certificate, CRL or PSK failure, TLS alert */
	LX_HTTP_ETIMEOUT,     /* connect, low-speed or total timeout */
	LX_HTTP_ERESET,       /* connection reset or closed early, partial response */
	LX_HTTP_EDNS,         /* host name could not be resolved */
	LX_HTTP_ECONNECT,     /* TCP connect failed (refused, unreachable) */
	LX_HTTP_ELIMIT,       /* the response exceeds a cap (body, header line) */
	LX_HTTP_ELOCAL,       /* local I/O failed (reading the body, writing the sink) */
	LX_HTTP_EURL,         /* malformed or non-https URL */
	LX_HTTP_EINTERNAL,    /* out of memory, libcurl misuse, anything else */
	LX_HTTP_ERR_COUNT
};

/* Short stable name ("tls", "timeout", ...) and a sentence for a class. Never NULL. */
const char *lx_http_errname(enum lx_http_err e);
const char *lx_http_strerror(enum lx_http_err e);

/* The class of a libcurl result code (CURLcode as int, to keep curl.h out of this header).
 * detail is libcurl's error text (may be NULL): a receive error whose text names a TLS alert
 * is a TLS failure (a TLS 1.3 server refuses a client certificate after the handshake). */
enum lx_http_err lx_http_classify(int curl_code, const char *detail);

/* The li707 error code a class maps to (for li707_exit_code: every transport class is an
 * I/O error, exit 3; EURL is a usage error; EINTERNAL is internal). */
int lx_http_err_code(enum lx_http_err e);

struct lx_http_transfer;

/* Client options. Strings are borrowed during lx_http_client_new (copied). */
struct lx_http_client_opts {
	const struct lx_tls_policy *tls; /* NULL: the defaults */
	const char *cert_file;   /* client certificate (PEM), R-SEC-2 */
	const char *key_file;    /* its private key (PEM); NULL: in cert_file */
	const char *ca_file;     /* trust anchors (PEM); NULL: the system store */
	const char *crl_file;    /* optional CRL (PEM) checked for the peer's certificate */
	const char *psk_identity;           /* with psk: PSK mode (R-SEC-4) */
	const uint8_t *psk;                 /* borrowed, copied; 32..512 bytes */
	size_t psk_len;
	long connect_timeout_ms; /* 0: default */
	long timeout_ms;         /* whole transfer; 0: none */
	long low_speed_limit;    /* bytes/s; with low_speed_time; 0: 1 byte/s */
	long low_speed_time;     /* s; 0: default; <0: off */
	long max_host_connections;  /* parallel connections per peer; 0: default */
	long max_total_connections; /* 0: unlimited */
	long max_active;            /* transfers running at once; 0: 4 * max_host_connections */
	long max_send_speed;        /* bytes/s a request body may go at, per transfer; 0: no cap */
	/* Scheduling hook (R-BIN-2): orders waiting transfers, <0 when a runs before b. NULL:
	 * lx_http_order_small_first. */
	int (*order)(const struct lx_http_transfer *a, const struct lx_http_transfer *b);
};

/* Validates opts (files readable, PSK length, identity length, key without cert, ...).
 * 0 or LI707_EINVAL/LI707_EINPUT/-errno with a message in err. */
int lx_http_client_opts_check(const struct lx_http_client_opts *o, char *err, size_t errlen);

struct lx_http_result;

/* Where a running transfer stands (lx_http_transfer.progress). */
enum lx_http_stage {
	LX_HTTP_STAGE_QUEUED = 0,      /* waiting for a slot */
	LX_HTTP_STAGE_CONNECTING,      /* TCP connect and TLS handshake (or a reused connection) */
	LX_HTTP_STAGE_AWAIT_100,       /* request headers sent with Expect: 100-continue */
	LX_HTTP_STAGE_SENDING,         /* request body going out */
	LX_HTTP_STAGE_AWAIT_RESPONSE,  /* all of the body handed over: waiting for the answer */
	LX_HTTP_STAGE_DONE
};
/* Progress of one transfer: written by the client's thread, readable from any thread (atomic
 * loads) for as long as the caller keeps the struct. sent = request body bytes handed to
 * libcurl so far (it sends them at once; at most its upload buffer more than went out). */
struct lx_http_progress {
	atomic_int stage;           /* enum lx_http_stage */
	atomic_uint_fast64_t sent;
};
/* "queued", "connecting", "awaiting-100", "sending", "awaiting-verdict", "done". */
const char *lx_http_stage_name(enum lx_http_stage s);

/* One request. Strings and buffers are borrowed until the transfer is done. */
struct lx_http_transfer {
	const char *url;            /* https:// only */
	bool post;                  /* POST (body below) or GET */
	const char *content_type;   /* POST */
	const void *body;           /* POST from memory (body_len bytes), or */
	size_t body_len;
	int body_fd;                /* POST from a file (>= 0): body_size bytes from its offset */
	int64_t body_size;
	bool expect_continue;       /* send Expect: 100-continue (R-BIN-B3) */
	long expect_timeout_ms;     /* 0: default */
	int64_t range_start;        /* GET Range: bytes=start-end; -1: no Range */
	int64_t range_end;          /* -1: open end */
	const char *if_range;       /* validator for If-Range (an ETag), or NULL */
	size_t max_body;            /* memory sink cap; 0: LX_HTTP_MAX_BODY_DEFAULT */
	/* Sink: when set, the body goes here instead of memory. Return n to go on, anything
	 * else aborts the transfer (ELOCAL, or ELIMIT if r->err was set so). The result's
	 * status and headers are filled before the first call. */
	size_t (*sink)(void *ud, struct lx_http_result *r, const char *p, size_t n);
	void *sink_ud;
	/* Called when the transfer is done (result filled). May submit more transfers. */
	void (*done)(void *ud, struct lx_http_result *r);
	void *done_ud;
	int priority;               /* lower runs first */
	int64_t size_hint;          /* expected bytes moved, for small-first; -1 unknown */
	const long *ok_status;      /* 0-terminated statuses that are OK; NULL: 200..299 */
	struct lx_http_progress *progress; /* updated while the transfer runs, or NULL; must stay
				    * put until done ran */
};

/* Fills a request with its defaults (GET, no body, body_fd -1, no Range, size_hint -1). */
void lx_http_transfer_init(struct lx_http_transfer *r);

/* Default scheduling hook: priority, then smallest size_hint (unknown last). */
int lx_http_order_small_first(const struct lx_http_transfer *a, const struct lx_http_transfer *b);

struct lx_http_result {
	enum lx_http_err err;
	int curl_code;
	long status;                  /* final HTTP status, 0 if none */
	char detail[256];             /* libcurl's error text or our reason, "" on success */
	char etag[128];               /* ETag of the response (quotes kept), "" if none */
	char content_type[128];       /* Content-Type of the response, "" if none or longer */
	int64_t content_length;       /* -1 if absent */
	int64_t range_start, range_end, range_total; /* Content-Range, -1 if absent / "*" */
	bool got_100;                 /* the peer answered 100 Continue */
	int64_t retry_after;          /* Retry-After in seconds from now (delay-seconds or an
				       * HTTP-date, capped at 86400), -1 if absent or unreadable */
	char *body;                   /* memory sink (NUL-terminated, owned: result_done) */
	size_t body_len;
	uint64_t received;            /* body bytes received */
	double seconds;               /* total time */
};

void lx_http_result_done(struct lx_http_result *r); /* frees body, keeps the rest */

struct lx_http_client;

int lx_http_global_init(void);
void lx_http_global_cleanup(void);

/* New client; opts are checked (lx_http_client_opts_check) and copied. */
int lx_http_client_new(const struct lx_http_client_opts *o, struct lx_http_client **out,
			  char *err, size_t errlen);
/* Frees the client: aborts running transfers (their done callbacks are not called), wipes
 * the PSK. NULL is a no-op. */
void lx_http_client_free(struct lx_http_client *c);

/* Queues a transfer; the result (caller-owned, zeroed here) is written when it completes.
 * The request is copied (its strings stay borrowed). LI707_ELIMIT when LX_HTTP_MAX_PENDING
 * transfers are queued already (nothing is queued then). */
int lx_http_submit(struct lx_http_client *c, const struct lx_http_transfer *req,
		      struct lx_http_result *res);

/* Drives transfers for at most timeout_ms (-1: until the queue is empty), or until
 * lx_http_client_wakeup() is called. Returns the number of transfers still queued or running,
 * or a negative code. */
int lx_http_run(struct lx_http_client *c, long timeout_ms);

/* Makes a running or the next lx_http_run() return early (after finishing what is ready) so
 * that its thread can look for new work. The only client function callable from another
 * thread. NULL is a no-op. */
void lx_http_client_wakeup(struct lx_http_client *c);

/* Convenience: submit + run until done. */
int lx_http_perform(struct lx_http_client *c, const struct lx_http_transfer *req,
		       struct lx_http_result *res);

#endif
