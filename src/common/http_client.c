/* li707 common - the HTTPS client on libcurl's multi interface (http_client.h,
 * docs/internals/http_client.md).
 *
 * DESIGN. A client owns one CURLM. Submitted transfers wait in `pending` (kept ordered by the
 * scheduling hook) until fewer than max_active are running; each running transfer is one easy
 * handle with its own small state (struct xfer). libcurl keeps idle connections in the multi
 * handle's cache, so consecutive transfers to a peer reuse them. HTTP/1.1 with
 * CURLMOPT_PIPELINING = CURLPIPE_NOTHING: two transfers never share a connection at the same
 * time, which is what lets a small delivery overtake a large binary object (R-BIN-2).
 *
 * TLS is configured twice on purpose: the libcurl options (certificate, key, CA, CRL, minimum
 * version) and then, from the SSL_CTX callback, lx_tls_openssl_apply(), which has the last
 * word on versions, suites and groups. In PSK mode the callback also installs the PSK client
 * callback and a verify callback that refuses any certificate: with a PSK the server must not
 * fall back to certificate authentication (TLS 1.3 would), since we could not verify it. */
#include "http_client.h"
#include "errbuf.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dynbuf.h"
#include "li707/li707.h"

#define PSK_MIN 1 /* RFC 4279 sets no minimum */
#define PSK_MAX 512 /* OpenSSL's PSK_MAX_PSK_LEN */
#define PSK_IDENTITY_MAX 128

struct xfer {
	struct lx_http_client *c;
	struct lx_http_transfer req;
	struct lx_http_result *res;
	CURL *easy;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	struct lx_dynbuf body; /* memory sink; res->body borrows its bytes, res owns them at the end */
	bool over_limit;     /* the body or a header line exceeded its cap */
	bool sink_failed;
	int64_t body_pos;    /* bytes read from body_fd so far */
	int64_t body_start;  /* body_fd offset at submit */
};

struct lx_http_client {
	CURLM *multi;
	struct lx_tls_policy tls;
	char *cert_file, *key_file, *ca_file, *crl_file;
	char *psk_identity;
	uint8_t *psk;
	size_t psk_len;
	long connect_timeout_ms, timeout_ms, low_speed_limit, low_speed_time, max_send_speed;
	long max_active;
	int (*order)(const struct lx_http_transfer *a, const struct lx_http_transfer *b);
	struct xfer **pending; /* ordered queue, pending[0] runs next */
	size_t n_pending, cap_pending;
	struct xfer **running; /* max_active slots */
	size_t n_running;
	atomic_bool woken;     /* lx_http_client_wakeup() since lx_http_run last returned */
};

/* ---- classification ------------------------------------------------------------------ */

static const struct {
	const char *name, *text;
} err_text[LX_HTTP_ERR_COUNT] = {
	[LX_HTTP_OK] = {"ok", "success"},
	[LX_HTTP_ESTATUS] = {"http-status", "the peer answered with an unexpected HTTP status"},
	[LX_HTTP_ETLS] = {"tls", "TLS failure (handshake, certificate, CRL or PSK)"},
	[LX_HTTP_ETIMEOUT] = {"timeout", "timed out"},
	[LX_HTTP_ERESET] = {"reset", "connection reset or closed before the response was complete"},
	[LX_HTTP_EDNS] = {"dns", "host name could not be resolved"},
	[LX_HTTP_ECONNECT] = {"connect", "could not connect to the peer"},
	[LX_HTTP_ELIMIT] = {"limit", "the response exceeds a size limit"},
	[LX_HTTP_ELOCAL] = {"local-io", "local I/O failed"},
	[LX_HTTP_EURL] = {"url", "malformed or non-https URL"},
	[LX_HTTP_EINTERNAL] = {"internal", "internal error in the HTTP client"},
};

const char *lx_http_errname(enum lx_http_err e)
{
	return (unsigned)e < LX_HTTP_ERR_COUNT ? err_text[e].name : "internal";
}

const char *lx_http_strerror(enum lx_http_err e)
{
	return (unsigned)e < LX_HTTP_ERR_COUNT ? err_text[e].text : err_text[LX_HTTP_EINTERNAL].text;
}

int lx_http_err_code(enum lx_http_err e)
{
	switch (e) {
	case LX_HTTP_OK: return 0;
	case LX_HTTP_EURL: return LI707_EINVAL;
	case LX_HTTP_EINTERNAL: return LI707_ECRYPTO; /* exit 5: internal */
	case LX_HTTP_ELIMIT: return -EFBIG;
	case LX_HTTP_ETIMEOUT: return -ETIMEDOUT;
	case LX_HTTP_ERESET: return -ECONNRESET;
	case LX_HTTP_ECONNECT: return -ECONNREFUSED;
	case LX_HTTP_EDNS: return -EHOSTUNREACH;
	case LX_HTTP_ETLS: return -EPROTO;
	case LX_HTTP_ESTATUS: return -EPROTO;
	case LX_HTTP_ELOCAL: return -EIO;
	case LX_HTTP_ERR_COUNT: break;
	}
	return LI707_ECRYPTO;
}

enum lx_http_err lx_http_classify(int curl_code, const char *detail)
{
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		return LX_HTTP_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return LX_HTTP_EDNS;
	case CURLE_COULDNT_CONNECT:
		return LX_HTTP_ECONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return LX_HTTP_ETIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CLIENTCERT:
		return LX_HTTP_ETLS;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		/* A TLS 1.3 server that refuses our certificate (or has none it trusts) says so with
		 * an alert after the handshake: libcurl reports it as a receive error. */
		if (detail && (strstr(detail, "alert") || strstr(detail, "SSL routines")))
			return LX_HTTP_ETLS;
		return LX_HTTP_ERESET;
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return LX_HTTP_ERESET;
	case CURLE_FILESIZE_EXCEEDED:
		return LX_HTTP_ELIMIT;
	case CURLE_WRITE_ERROR:
	case CURLE_READ_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		return LX_HTTP_ELOCAL;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return LX_HTTP_EURL;
	case CURLE_HTTP_RETURNED_ERROR:
	case CURLE_RANGE_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return LX_HTTP_ESTATUS;
	default:
		return LX_HTTP_EINTERNAL;
	}
}

/* ---- options -------------------------------------------------------------------------- */

static int check_file(const char *what, const char *path, char *err, size_t errlen)
{
	if (!path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		lx_errf(err, errlen, "%s '%s' cannot be opened: %s", what, path, strerror(e));
		return -e;
	}
	struct stat st;
	int rc = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? 0 : LI707_EINPUT;
	close(fd);
	if (rc)
		lx_errf(err, errlen, "%s '%s' is not a regular file", what, path);
	return rc;
}

int lx_http_client_opts_check(const struct lx_http_client_opts *o, char *err, size_t errlen)
{
	if (!o) {
		lx_errf(err, errlen, "no options");
		return LI707_EINVAL;
	}
	if (o->key_file && !o->cert_file) {
		lx_errf(err, errlen, "a key file needs a certificate file");
		return LI707_EINVAL;
	}
	if (!o->psk_identity != !o->psk) {
		lx_errf(err, errlen, "a PSK needs both an identity and a key");
		return LI707_EINVAL;
	}
	if (o->psk) {
		if (o->psk_len < PSK_MIN || o->psk_len > PSK_MAX) {
			lx_errf(err, errlen, "the PSK must be %d..%d bytes", PSK_MIN, PSK_MAX);
			return LI707_EINVAL;
		}
		size_t il = strlen(o->psk_identity);
		if (il == 0 || il > PSK_IDENTITY_MAX) {
			lx_errf(err, errlen, "the PSK identity must be 1..%d bytes", PSK_IDENTITY_MAX);
			return LI707_EINVAL;
		}
		if (o->cert_file) {
			lx_errf(err, errlen, "a PSK and a client certificate are exclusive");
			return LI707_EINVAL;
		}
	}
	if (o->max_active > 1024 || o->max_host_connections > 1024) {
		lx_errf(err, errlen, "at most 1024 parallel transfers and connections");
		return LI707_EINVAL;
	}
	if (o->connect_timeout_ms < 0 || o->timeout_ms < 0 || o->low_speed_limit < 0 ||
	    o->max_host_connections < 0 || o->max_total_connections < 0 || o->max_active < 0) {
		lx_errf(err, errlen, "timeouts and limits must not be negative");
		return LI707_EINVAL;
	}
	int rc;
	if ((rc = check_file("certificate", o->cert_file, err, errlen)) ||
	    (rc = check_file("key", o->key_file, err, errlen)) ||
	    (rc = check_file("CA file", o->ca_file, err, errlen)) ||
	    (rc = check_file("CRL file", o->crl_file, err, errlen)))
		return rc;
	return 0;
}

/* ---- TLS ------------------------------------------------------------------------------ */

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_index_init(void)
{
	ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* TS103707 R-SEC-4: RFC 4279 PSK. OpenSSL calls this for TLS 1.2 PSK suites and, for TLS 1.3,
 * turns the key into an external PSK bound to SHA-256 (TLS_AES_128_GCM_SHA256 or
 * TLS_CHACHA20_POLY1305_SHA256), with (EC)DHE key exchange. */
static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
				  unsigned int max_identity_len, unsigned char *psk,
				  unsigned int max_psk_len)
{
	(void)hint;
	const struct lx_http_client *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index);
	if (!c || !c->psk)
		return 0;
	size_t il = strlen(c->psk_identity);
	if (il + 1 > max_identity_len || c->psk_len > max_psk_len)
		return 0;
	memcpy(identity, c->psk_identity, il + 1);
	memcpy(psk, c->psk, c->psk_len);
	return (unsigned int)c->psk_len;
}

/* PSK mode: any certificate the server presents is refused (no unauthenticated fallback). */
static int psk_refuse_cert(int preverify, X509_STORE_CTX *ctx)
{
	(void)preverify;
	(void)ctx;
	return 0;
}

static CURLcode ssl_ctx_cb(CURL *easy, void *ssl_ctx, void *ud)
{
	(void)easy;
	struct lx_http_client *c = ud;
	bool psk = c->psk != NULL;
	/* TS103707 R-SEC-1, R-SEC-3: the policy has the last word on versions and suites. */
	if (lx_tls_openssl_apply(&c->tls, psk, ssl_ctx) != 0)
		return CURLE_SSL_CIPHER;
	if (psk) {
		if (!SSL_CTX_set_ex_data(ssl_ctx, ex_index, c))
			return CURLE_OUT_OF_MEMORY;
		SSL_CTX_set_psk_client_callback(ssl_ctx, psk_client_cb);
		SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, psk_refuse_cert);
	}
	return CURLE_OK;
}

/* ---- client --------------------------------------------------------------------------- */

int lx_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : LI707_ECRYPTO;
}

void lx_http_global_cleanup(void)
{
	curl_global_cleanup();
}

static int dup_opt(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : LI707_ENOMEM;
}

void lx_http_client_free(struct lx_http_client *c);

int lx_http_client_new(const struct lx_http_client_opts *o, struct lx_http_client **out,
			  char *err, size_t errlen)
{
	int rc = lx_http_client_opts_check(o, err, errlen);
	if (rc)
		return rc;
	if (pthread_once(&ex_once, ex_index_init) != 0 || ex_index < 0) {
		lx_errf(err, errlen, "OpenSSL ex_data index");
		return LI707_ECRYPTO;
	}
	struct lx_http_client *c = calloc(1, sizeof *c);
	if (!c)
		return LI707_ENOMEM;
	rc = lx_tls_policy_init(&c->tls);
	if (rc) {
		free(c);
		return rc;
	}
	if (o->tls) {
		c->tls.min_version = o->tls->min_version;
		c->tls.tls13 = o->tls->tls13;
		if ((rc = lx_tls_policy_set(&c->tls, "tls12_suites", o->tls->tls12_suites, err, errlen)) ||
		    (rc = lx_tls_policy_set(&c->tls, "tls12_psk_suites", o->tls->tls12_psk_suites, err, errlen)) ||
		    (rc = lx_tls_policy_set(&c->tls, "tls_groups", o->tls->groups, err, errlen)))
			goto fail;
	}
	if ((rc = dup_opt(&c->cert_file, o->cert_file)) || (rc = dup_opt(&c->key_file, o->key_file)) ||
	    (rc = dup_opt(&c->ca_file, o->ca_file)) || (rc = dup_opt(&c->crl_file, o->crl_file)) ||
	    (rc = dup_opt(&c->psk_identity, o->psk_identity)))
		goto fail;
	if (o->psk) {
		c->psk = malloc(o->psk_len);
		if (!c->psk) {
			rc = LI707_ENOMEM;
			goto fail;
		}
		memcpy(c->psk, o->psk, o->psk_len);
		c->psk_len = o->psk_len;
	}
	c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms
						      : LX_HTTP_CONNECT_TIMEOUT_MS_DEFAULT;
	c->timeout_ms = o->timeout_ms;
	c->max_send_speed = o->max_send_speed > 0 ? o->max_send_speed : 0;
	c->low_speed_limit = o->low_speed_limit ? o->low_speed_limit : 1;
	c->low_speed_time = o->low_speed_time ? o->low_speed_time : LX_HTTP_LOW_SPEED_TIME_DEFAULT;
	long per_host = o->max_host_connections ? o->max_host_connections
						: LX_HTTP_MAX_HOST_CONNECTIONS_DEFAULT;
	c->max_active = o->max_active ? o->max_active : 4 * per_host;
	c->order = o->order ? o->order : lx_http_order_small_first;
	c->running = calloc((size_t)c->max_active, sizeof *c->running);
	if (!c->running) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	c->multi = curl_multi_init();
	if (!c->multi) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	/* TS103707 R-BIN-2: one transfer per connection at a time, several connections per peer. */
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host);
	if (o->max_total_connections)
		curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, o->max_total_connections);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, per_host * 4);
	*out = c;
	return 0;
fail:
	lx_http_client_free(c);
	return rc;
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->easy) {
		curl_multi_remove_handle(x->c->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x);
}

void lx_http_client_free(struct lx_http_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_pending; i++)
		xfer_free(c->pending[i]);
	free(c->pending);
	for (size_t i = 0; i < c->n_running; i++)
		xfer_free(c->running[i]);
	free(c->running);
	curl_multi_cleanup(c->multi);
	lx_tls_policy_done(&c->tls);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_file);
	free(c->crl_file);
	free(c->psk_identity);
	if (c->psk) {
		OPENSSL_cleanse(c->psk, c->psk_len);
		free(c->psk);
	}
	free(c);
}

/* ---- requests ------------------------------------------------------------------------- */

void lx_http_transfer_init(struct lx_http_transfer *r)
{
	memset(r, 0, sizeof *r);
	r->body_fd = -1;
	r->range_start = -1;
	r->range_end = -1;
	r->size_hint = -1;
}

int lx_http_order_small_first(const struct lx_http_transfer *a, const struct lx_http_transfer *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	uint64_t sa = (uint64_t)a->size_hint, sb = (uint64_t)b->size_hint; /* -1: unknown, last */
	return sa < sb ? -1 : sa > sb ? 1 : 0;
}

void lx_http_result_done(struct lx_http_result *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

static bool status_ok(const struct lx_http_transfer *q, long status)
{
	if (!q->ok_status)
		return status >= 200 && status <= 299;
	for (const long *s = q->ok_status; *s; s++)
		if (*s == status)
			return true;
	return false;
}

/* Parses "bytes a-b/t" or "bytes *\/t" of a Content-Range value. */
static void parse_content_range(const char *v, struct lx_http_result *r)
{
	long long a, b, t;
	if (sscanf(v, "bytes %lld-%lld/%lld", &a, &b, &t) == 3 && a >= 0 && b >= a && t > b) {
		r->range_start = a;
		r->range_end = b;
		r->range_total = t;
	} else if (sscanf(v, "bytes */%lld", &t) == 1 && t >= 0) {
		r->range_total = t;
	}
}

/* Retry-After (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date; seconds from now
 * (0 for a date in the past), -1 when unreadable. Capped at one day. */
static int64_t parse_retry_after(const char *v)
{
	int64_t s;
	if (*v >= '0' && *v <= '9') {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (errno || *end != '\0')
			return -1;
		s = n;
	} else {
		time_t t = curl_getdate(v, NULL);
		if (t == -1)
			return -1;
		time_t now = time(NULL);
		s = t > now ? (int64_t)(t - now) : 0;
	}
	return s > 86400 ? 86400 : s;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	struct lx_http_result *r = x->res;
	size_t len = size * n;
	if (len > LX_HTTP_MAX_HEADER_LINE) {
		x->over_limit = true;
		return 0;
	}
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue, or a redirect we do not follow). */
		long st = 0;
		const char *sp = memchr(p, ' ', len);
		if (sp)
			st = strtol(sp + 1, NULL, 10);
		if (st == 100)
			r->got_100 = true;
		r->status = st;
		r->etag[0] = '\0';
		r->retry_after = -1;
		r->content_type[0] = '\0';
		r->content_length = r->range_start = r->range_end = r->range_total = -1;
		return len;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return len;
	size_t nl = (size_t)(colon - p);
	const char *v = colon + 1;
	size_t vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	char val[LX_HTTP_MAX_HEADER_LINE + 1];
	memcpy(val, v, vl);
	val[vl] = '\0';
	if (nl == 4 && strncasecmp(p, "etag", 4) == 0) {
		if (vl < sizeof r->etag)
			memcpy(r->etag, val, vl + 1);
	} else if (nl == 11 && strncasecmp(p, "retry-after", 11) == 0) {
		r->retry_after = parse_retry_after(val);
	} else if (nl == 12 && strncasecmp(p, "content-type", 12) == 0) {
		if (vl < sizeof r->content_type)
			memcpy(r->content_type, val, vl + 1);
	} else if (nl == 13 && strncasecmp(p, "content-range", 13) == 0) {
		parse_content_range(val, r);
	} else if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
		char *end;
		errno = 0;
		long long cl = strtoll(val, &end, 10);
		if (!errno && *end == '\0' && cl >= 0)
			r->content_length = cl;
	}
	return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	struct lx_http_result *r = x->res;
	size_t len = size * n;
	if (x->req.sink) {
		/* An error page is not the object: drop it, the status classifies the transfer. */
		if (!status_ok(&x->req, r->status))
			return len;
		size_t w = x->req.sink(x->req.sink_ud, r, p, len);
		if (w != len) {
			if (r->err == LX_HTTP_ELIMIT)
				x->over_limit = true;
			else
				x->sink_failed = true;
			return 0;
		}
		r->received += len;
		return len;
	}
	size_t max = x->req.max_body ? x->req.max_body : LX_HTTP_MAX_BODY_DEFAULT;
	if (len > max - r->body_len) {
		x->over_limit = true;
		return 0;
	}
	if (lx_dynbuf_add(&x->body, p, len)) {
		r->body = NULL; /* the buffer freed itself */
		r->body_len = 0;
		x->sink_failed = true;
		return 0;
	}
	r->body = x->body.buf;
	r->body_len = lx_dynbuf_len(&x->body);
	r->received += len;
	return len;
}

const char *lx_http_stage_name(enum lx_http_stage s)
{
	switch (s) {
	case LX_HTTP_STAGE_QUEUED: return "queued";
	case LX_HTTP_STAGE_CONNECTING: return "connecting";
	case LX_HTTP_STAGE_AWAIT_100: return "awaiting-100";
	case LX_HTTP_STAGE_SENDING: return "sending";
	case LX_HTTP_STAGE_AWAIT_RESPONSE: return "awaiting-verdict";
	case LX_HTTP_STAGE_DONE: return "done";
	}
	return "?";
}

static void stage_set(struct xfer *x, enum lx_http_stage st)
{
	if (x->req.progress)
		atomic_store_explicit(&x->req.progress->stage, (int)st, memory_order_relaxed);
}

/* Connected, the request about to go out: its body waits for 100 Continue when asked. */
static int prereq_cb(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
		     int conn_local_port)
{
	(void)conn_primary_ip, (void)conn_local_ip, (void)conn_primary_port, (void)conn_local_port;
	struct xfer *x = ud;
	stage_set(x, !x->req.post ? LX_HTTP_STAGE_AWAIT_RESPONSE
		     : x->req.expect_continue ? LX_HTTP_STAGE_AWAIT_100 : LX_HTTP_STAGE_SENDING);
	return CURL_PREREQFUNC_OK;
}

static size_t read_cb(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t want = size * n;
	int64_t left = x->req.body_size - x->body_pos;
	if (left <= 0) {
		stage_set(x, LX_HTTP_STAGE_AWAIT_RESPONSE);
		return 0;
	}
	if ((int64_t)want > left)
		want = (size_t)left;
	for (;;) {
		ssize_t r = pread(x->req.body_fd, p, want, (off_t)(x->body_start + x->body_pos));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			/* A file that shrank under us cannot honour its Content-Length. */
			x->sink_failed = true;
			return CURL_READFUNC_ABORT;
		}
		x->body_pos += r;
		if (x->req.progress) {
			atomic_store_explicit(&x->req.progress->sent, (uint64_t)x->body_pos,
					      memory_order_relaxed);
			stage_set(x, x->body_pos >= x->req.body_size ? LX_HTTP_STAGE_AWAIT_RESPONSE
								      : LX_HTTP_STAGE_SENDING);
		}
		return (size_t)r;
	}
}

static int seek_cb(void *ud, curl_off_t off, int origin)
{
	struct xfer *x = ud;
	if (origin != SEEK_SET || off < 0 || off > x->req.body_size)
		return CURL_SEEKFUNC_CANTSEEK;
	x->body_pos = off;
	return CURL_SEEKFUNC_OK;
}

/* Sockets are created close-on-exec (libcurl 7.88 does not ask for it). */
static curl_socket_t open_socket_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)ud;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

#define SET(opt, val)                                                                       \
	do {                                                                                \
		if (curl_easy_setopt(e, opt, val) != CURLE_OK)                              \
			goto fail;                                                          \
	} while (0)

static int xfer_setup(struct xfer *x)
{
	struct lx_http_client *c = x->c;
	const struct lx_http_transfer *q = &x->req;
	CURL *e = curl_easy_init();
	if (!e)
		return LI707_ENOMEM;
	x->easy = e;
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_URL, q->url);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	/* TS103707 R-SEC-1: HTTPS only, never a redirect to anything else. */
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_SSLVERSION, (long)(c->tls.min_version == LX_TLS_1_3 ? CURL_SSLVERSION_TLSv1_3
									     : CURL_SSLVERSION_TLSv1_2));
	SET(CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	SET(CURLOPT_SSL_CTX_DATA, c);
	SET(CURLOPT_SSL_SESSIONID_CACHE, 1L);
	if (c->psk) {
		/* The PSK authenticates the server; no certificate is accepted (ssl_ctx_cb). */
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (c->cert_file) {
		SET(CURLOPT_SSLCERT, c->cert_file);
		SET(CURLOPT_SSLKEY, c->key_file ? c->key_file : c->cert_file);
	}
	if (c->ca_file)
		SET(CURLOPT_CAINFO, c->ca_file);
	if (c->crl_file)
		SET(CURLOPT_CRLFILE, c->crl_file);
	SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	if (c->timeout_ms)
		SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
	if (c->max_send_speed > 0)
		SET(CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)c->max_send_speed);
	if (c->low_speed_time > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, c->low_speed_limit);
		SET(CURLOPT_LOW_SPEED_TIME, c->low_speed_time);
	}
	if (q->progress) {
		SET(CURLOPT_PREREQFUNCTION, prereq_cb);
		SET(CURLOPT_PREREQDATA, x);
	}
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	/* Large downloads into a sink: fewer, larger writes (libcurl's maximum is 512 KiB). */
	if (q->sink)
		SET(CURLOPT_BUFFERSIZE, 512L * 1024);

	struct curl_slist *h = NULL;
	char line[512];
	if (q->post) {
		SET(CURLOPT_POST, 1L);
		if (q->body_fd >= 0) {
			off_t pos = lseek(q->body_fd, 0, SEEK_CUR);
			x->body_start = pos > 0 ? pos : 0;
			SET(CURLOPT_READFUNCTION, read_cb);
			SET(CURLOPT_READDATA, x);
			SET(CURLOPT_SEEKFUNCTION, seek_cb);
			SET(CURLOPT_SEEKDATA, x);
			/* TS103707 R-BIN-B2: Content-Length from the known size. */
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_size);
		} else {
			SET(CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		}
		if (q->content_type) {
			if (strpbrk(q->content_type, "\r\n") ||
			    snprintf(line, sizeof line, "Content-Type: %s", q->content_type) >= (int)sizeof line)
				goto fail;
			if (!(h = curl_slist_append(x->headers, line)))
				goto fail;
			x->headers = h;
		}
		/* TS103707 R-BIN-B3: libcurl adds Expect on its own only above 1 MiB; say it
		 * explicitly, and an empty Expect: when it is not wanted. */
		if (!(h = curl_slist_append(x->headers, q->expect_continue ? "Expect: 100-continue"
									     : "Expect:")))
			goto fail;
		x->headers = h;
		SET(CURLOPT_EXPECT_100_TIMEOUT_MS,
		    q->expect_timeout_ms ? q->expect_timeout_ms : LX_HTTP_EXPECT_TIMEOUT_MS_DEFAULT);
	} else {
		SET(CURLOPT_HTTPGET, 1L);
		if (q->range_start >= 0) {
			char range[64];
			if (q->range_end >= 0)
				snprintf(range, sizeof range, "%lld-%lld", (long long)q->range_start,
					 (long long)q->range_end);
			else
				snprintf(range, sizeof range, "%lld-", (long long)q->range_start);
			SET(CURLOPT_RANGE, range);
		}
		if (q->if_range && *q->if_range) {
			if (strpbrk(q->if_range, "\r\n") ||
			    snprintf(line, sizeof line, "If-Range: %s", q->if_range) >= (int)sizeof line)
				goto fail;
			if (!(h = curl_slist_append(x->headers, line)))
				goto fail;
			x->headers = h;
		}
	}
	if (x->headers)
		SET(CURLOPT_HTTPHEADER, x->headers);
	return 0;
fail:
	return LI707_EINVAL;
}

int lx_http_submit(struct lx_http_client *c, const struct lx_http_transfer *req,
		      struct lx_http_result *res)
{
	if (!c || !req || !res || !req->url)
		return LI707_EINVAL;
	if (req->post && req->body_fd >= 0 && req->body_size < 0)
		return LI707_EINVAL;
	int rc = li707_array_grow((void **)&c->pending, &c->cap_pending, c->n_pending + 1,
				  sizeof *c->pending, LX_HTTP_MAX_PENDING);
	if (rc)
		return rc;
	struct xfer *x = calloc(1, sizeof *x);
	if (!x)
		return LI707_ENOMEM;
	memset(res, 0, sizeof *res);
	res->content_length = res->range_start = res->range_end = res->range_total = -1;
	res->retry_after = -1;
	x->c = c;
	x->req = *req;
	x->res = res;
	if (req->progress) {
		atomic_store(&req->progress->sent, 0);
		stage_set(x, LX_HTTP_STAGE_QUEUED);
	}
	size_t max = req->max_body ? req->max_body : LX_HTTP_MAX_BODY_DEFAULT;
	lx_dynbuf_init(&x->body, max < SIZE_MAX ? max + 1 : max); /* + the NUL */
	/* Insert after every transfer that orders before or equal to it (stable). */
	size_t i = c->n_pending;
	while (i > 0 && c->order(&c->pending[i - 1]->req, &x->req) > 0)
		i--;
	memmove(c->pending + i + 1, c->pending + i, (c->n_pending - i) * sizeof *c->pending);
	c->pending[i] = x;
	c->n_pending++;
	return 0;
}

static void xfer_finish(struct lx_http_client *c, struct xfer *x, CURLcode cc)
{
	struct lx_http_result *r = x->res;
	r->curl_code = (int)cc;
	long st = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
	r->status = st;
	double t = 0;
	curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &t);
	r->seconds = t;
	if (x->over_limit) {
		r->err = LX_HTTP_ELIMIT;
		snprintf(r->detail, sizeof r->detail, "%s", lx_http_strerror(r->err));
	} else if (x->sink_failed) {
		r->err = LX_HTTP_ELOCAL;
		snprintf(r->detail, sizeof r->detail, "%s", lx_http_strerror(r->err));
	} else if (cc != CURLE_OK) {
		r->err = lx_http_classify((int)cc, x->errbuf);
		snprintf(r->detail, sizeof r->detail, "%s",
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
	} else if (!status_ok(&x->req, st)) {
		r->err = LX_HTTP_ESTATUS;
		snprintf(r->detail, sizeof r->detail, "HTTP status %ld", st);
	} else {
		r->err = LX_HTTP_OK;
		r->detail[0] = '\0';
	}
	/* Remove from the running set before the callback, which may submit more. */
	for (size_t i = 0; i < c->n_running; i++) {
		if (c->running[i] == x) {
			c->running[i] = c->running[--c->n_running];
			break;
		}
	}
	stage_set(x, LX_HTTP_STAGE_DONE);
	void (*done)(void *, struct lx_http_result *) = x->req.done;
	void *dud = x->req.done_ud;
	xfer_free(x);
	if (done)
		done(dud, r);
}

/* Starts waiting transfers while there is room. A transfer that cannot even be set up
 * finishes at once with EINTERNAL (or EURL). */
static void start_pending(struct lx_http_client *c)
{
	while (c->n_pending && c->n_running < (size_t)c->max_active) {
		struct xfer *x = c->pending[0];
		memmove(c->pending, c->pending + 1, (c->n_pending - 1) * sizeof *c->pending);
		c->n_pending--;
		c->running[c->n_running++] = x;
		stage_set(x, LX_HTTP_STAGE_CONNECTING);
		int rc = xfer_setup(x);
		if (rc == 0 && curl_multi_add_handle(c->multi, x->easy) == CURLM_OK)
			continue;
		if (x->easy) {
			curl_easy_cleanup(x->easy);
			x->easy = NULL;
		}
		x->res->err = rc == LI707_EINVAL ? LX_HTTP_EURL : LX_HTTP_EINTERNAL;
		snprintf(x->res->detail, sizeof x->res->detail, "the request could not be set up");
		for (size_t i = 0; i < c->n_running; i++)
			if (c->running[i] == x) {
				c->running[i] = c->running[--c->n_running];
				break;
			}
		void (*done)(void *, struct lx_http_result *) = x->req.done;
		void *dud = x->req.done_ud;
		struct lx_http_result *r = x->res;
		xfer_free(x);
		if (done)
			done(dud, r);
	}
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lx_http_run(struct lx_http_client *c, long timeout_ms)
{
	if (!c)
		return LI707_EINVAL;
	long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
	for (;;) {
		start_pending(c);
		if (c->n_running == 0 && c->n_pending == 0)
			return 0;
		int still = 0;
		if (curl_multi_perform(c->multi, &still) != CURLM_OK)
			return LI707_ECRYPTO;
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct xfer *x = NULL;
			CURL *e = m->easy_handle;
			CURLcode cc = m->data.result;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
			if (x)
				xfer_finish(c, x, cc);
		}
		start_pending(c);
		if (c->n_running == 0 && c->n_pending == 0)
			return 0;
		long wait = 1000;
		if (timeout_ms >= 0) {
			long rem = deadline - now_ms();
			if (rem <= 0)
				return (int)(c->n_running + c->n_pending);
			if (rem < wait)
				wait = rem;
		}
		if (curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL) != CURLM_OK)
			return LI707_ECRYPTO;
		if (atomic_exchange(&c->woken, false))
			return (int)(c->n_running + c->n_pending);
	}
}

void lx_http_client_wakeup(struct lx_http_client *c)
{
	if (!c)
		return;
	atomic_store(&c->woken, true);
	curl_multi_wakeup(c->multi);
}

int lx_http_perform(struct lx_http_client *c, const struct lx_http_transfer *req,
		       struct lx_http_result *res)
{
	int rc = lx_http_submit(c, req, res);
	if (rc)
		return rc;
	rc = lx_http_run(c, -1);
	return rc < 0 ? rc : 0;
}
