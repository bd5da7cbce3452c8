/* li707 common - HTTPS server on libmicrohttpd + GnuTLS, see http_server.h and
 * docs/internals/http_server.md.
 *
 * DESIGN
 * - A listener is a socket we open ourselves (O_CLOEXEC); each MHD daemon gets its own dup via
 *   MHD_OPTION_LISTEN_SOCKET; so a reload can start a second MHD daemon on the same socket with
 *   new credentials and quiesce the first one, whose open connections finish undisturbed.
 * - Credentials ("generation"): the PEM text MHD needs plus our own GnuTLS trust list (CA +
 *   CRL) used to verify the client chain. MHD only *requests* a client certificate; the
 *   verdict is ours, taken in the first callback of every request, before any body (R-SEC-2,
 *   R-BIN-A2, R-BIN-B3). The verdict is cached per connection.
 * - One thread per connection: blocking file I/O in a connection's thread stalls no other.
 * - File responses (http_server_file.c): a mapped iovec response for single ranges of 1 MiB
 *   or more, an MHD callback response producing LX_HTTP_BLOCK bytes per call otherwise
 *   (MHD's fd responses move 4 KiB per write over TLS), R-BIN-2. */
#include "http_server.h"
#include "errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "http_range.h"
#include "netlisten.h"
#include "http_server_int.h"
#include "li707/error.h"

#define MAX_LISTENERS 16
#define MAX_OLD 64
#define PEM_MAX (1024 * 1024)

static const char page_404[] = "<html><head><title>Not Found</title></head><body>Not Found</body></html>\n";

/* One set of certificate credentials, shared by the daemons started with it. */
struct gen {
	atomic_int refs;
	char *cert_pem, *key_pem, *ca_pem;
	gnutls_x509_trust_list_t tl;
};

/* One allow-list ("peer generation"): the peers table, its per-peer connection counts. The
 * server holds one reference to the current one; every checked connection and every request
 * holds one to the generation its peer pointer belongs to, so a replaced list lives until
 * the last request using it is done (then its PSK keys are wiped). */
struct pgen {
	atomic_int refs;
	struct lx_tls_peers *p;
	bool owned;      /* set_peers: ours to clear and free; the config's list is borrowed */
	unsigned *conns; /* open connections per peer index, under s->mu */
};

struct dctx { /* per MHD daemon */
	struct lx_http_server *s;
	struct gen *g; /* NULL for PSK listeners */
	bool psk;
	bool quiesced;
	bool dh_set; /* PSK: RFC 7919 parameters given to MHD's credentials (listen thread only) */
	int port;    /* the listener's local port (refusal reports) */
	int lfd; /* this daemon's own dup of the listening socket */
};

struct listener {
	int fd, port;
	bool psk;
	struct MHD_Daemon *d;
	struct dctx *dc;
};

struct old {
	struct MHD_Daemon *d;
	struct dctx *dc;
};

struct lx_http_server {
	struct lx_http_config cfg;
	char *prio_cert, *prio_psk;
	struct gen *g;
	struct listener l[MAX_LISTENERS];
	size_t nl;
	struct old old[MAX_OLD];
	size_t nold;
	pthread_mutex_t mu; /* pg (the pointer), every pgen's conns, old */
	struct pgen *pg;    /* the current allow-list */
	atomic_bool draining, stopped;
	_Atomic uint64_t requests, refused_auth, body_bytes, active, reloads, header_cuts;
	_Atomic uint64_t refusals[LX_REFUSED_N];
	/* Header deadline watchdog (slow clients): the open connections, their deadlines. */
	pthread_mutex_t wmu; /* conns, wstop, every cctx's deadline, unauth */
	unsigned n_unauth;   /* registered connections with unauth set, all listeners */
	pthread_cond_t wcv;
	struct cctx *conns;
	bool wstop, wstarted;
	pthread_t wthr;
};

/* Per connection (MHD socket context). */
struct cctx {
	bool checked, ok, counted, over_limit;
	const struct lx_tls_peer *peer; /* in pg */
	struct pgen *pg;                   /* the generation of the verdict (a reference) */
	/* watchdog registry (under s->wmu) */
	struct cctx *prev, *next;
	int fd;
	uint64_t deadline_ms; /* CLOCK_MONOTONIC; 0: headers complete, no deadline */
	bool cut;
	bool unauth;          /* counted in s->n_unauth: no authenticated request yet */
	bool evicted;         /* cut to make room for a newer unauthenticated connection */
	struct lx__tx *tx; /* mapped file bodies (http_server_file.c), or NULL */
	/* refusal accounting (the connection's thread, and the listen thread at STARTED) */
	char addr[64];        /* the client's address, for refusal reports */
	atomic_bool requested; /* a request arrived: the handshake succeeded (drain reads it) */
	bool reported;        /* a refusal was reported for this connection */
	atomic_bool hello_seen; /* a ClientHello arrived (drain reads it) */
	atomic_bool hs_done;  /* the client's Finished arrived: handshake complete */
	uint64_t start_ms;    /* CLOCK_MONOTONIC at STARTED (under s->wmu) */
	unsigned hello_version; /* its legacy_version (0x0303 for TLS 1.2 and 1.3 clients) */
	bool server_hello;    /* our ServerHello left: version, suite and group were agreed */
	enum { PSK_NONE, PSK_UNKNOWN, PSK_FOUND } psk_state;
};


static struct cctx *conn_ctx(struct MHD_Connection *conn);

/* ---- refusals ---- */

static const char *const refusal_names[LX_REFUSED_N] = {
	[LX_REFUSED_NO_CERT] = "no-cert",
	[LX_REFUSED_CERT_UNTRUSTED] = "cert-untrusted",
	[LX_REFUSED_CERT_EXPIRED] = "cert-expired",
	[LX_REFUSED_CERT_REVOKED] = "cert-revoked",
	[LX_REFUSED_CERT_PURPOSE] = "cert-purpose",
	[LX_REFUSED_UNKNOWN_PEER] = "unknown-peer",
	[LX_REFUSED_TLS_VERSION] = "tls-version",
	[LX_REFUSED_TLS_PARAMS] = "tls-no-common-params",
	[LX_REFUSED_PSK_IDENTITY] = "psk-unknown-identity",
	[LX_REFUSED_PSK_KEY] = "psk-wrong-key",
	[LX_REFUSED_CLIENT_ALERT] = "client-alert",
	[LX_REFUSED_TLS_OTHER] = "tls-error",
	[LX_REFUSED_SLOTS] = "unauthenticated-slots-full",
	[LX_REFUSED_TIMEOUT] = "handshake-timeout",
};

const char *lx_http_refusal_name(enum lx_http_refusal r)
{
	return (unsigned)r < LX_REFUSED_N ? refusal_names[r] : "unknown";
}

/* Counts a refused connection and hands it to the owner's callback, once per connection. */
static void refusal_report(struct dctx *dc, struct cctx *cc, enum lx_http_refusal why,
			   const char *alert)
{
	if (!cc || cc->reported)
		return;
	cc->reported = true;
	struct lx_http_server *s = dc->s;
	atomic_fetch_add(&s->refusals[why], 1);
	if (s->cfg.refused) {
		struct lx_http_refused r = {.reason = why, .addr = cc->addr, .port = dc->port,
					       .psk = dc->psk, .alert = alert};
		s->cfg.refused(s->cfg.cls, &r);
	}
}

/* Leaves the unauthenticated count (wmu held). */
static void unauth_drop(struct lx_http_server *s, struct cctx *c)
{
	if (c->unauth) {
		c->unauth = false;
		s->n_unauth--;
	}
}

/* ---- credentials ---- */

static void wipe_free(char *p)
{
	if (!p)
		return;
	size_t n = strlen(p);
	volatile char *v = p;
	for (size_t i = 0; i < n; i++)
		v[i] = 0;
	free(p);
}

static int read_pem(const char *path, char **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		lx_errf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > PEM_MAX) {
		close(fd);
		lx_errf(err, errlen, "%s: not a regular file of at most %d bytes", path, PEM_MAX);
		return LI707_EINPUT;
	}
	char *b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return LI707_ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	b[got] = '\0';
	*out = b;
	return 0;
}

static void gen_unref(struct gen *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	free(g->cert_pem);
	wipe_free(g->key_pem);
	free(g->ca_pem);
	if (g->tl)
		gnutls_x509_trust_list_deinit(g->tl, 1);
	free(g);
}

static int gen_load(const struct lx_http_creds *c, struct gen **out, char *err, size_t errlen)
{
	if (!c->cert || !c->key || !c->cacert) {
		lx_errf(err, errlen, "certificate listeners need cert, key and cacert");
		return LI707_EINPUT;
	}
	struct gen *g = calloc(1, sizeof *g);
	if (!g)
		return LI707_ENOMEM;
	atomic_init(&g->refs, 1);
	int rc;
	if ((rc = read_pem(c->cert, &g->cert_pem, err, errlen)) != 0 ||
	    (rc = read_pem(c->key, &g->key_pem, err, errlen)) != 0 ||
	    (rc = read_pem(c->cacert, &g->ca_pem, err, errlen)) != 0)
		goto fail;
	/* Key and certificate must belong together: check now, not at the first handshake. */
	gnutls_certificate_credentials_t cr;
	if (gnutls_certificate_allocate_credentials(&cr) < 0) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	gnutls_datum_t cd = {(unsigned char *)g->cert_pem, (unsigned)strlen(g->cert_pem)};
	gnutls_datum_t kd = {(unsigned char *)g->key_pem, (unsigned)strlen(g->key_pem)};
	int gr = gnutls_certificate_set_x509_key_mem(cr, &cd, &kd, GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cr);
	if (gr < 0) {
		lx_errf(err, errlen, "%s / %s: %s", c->cert, c->key, gnutls_strerror(gr));
		rc = LI707_EINPUT;
		goto fail;
	}
	if (gnutls_x509_trust_list_init(&g->tl, 0) < 0) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	gr = gnutls_x509_trust_list_add_trust_file(g->tl, c->cacert, c->crl, GNUTLS_X509_FMT_PEM, 0, 0);
	if (gr <= 0) {
		lx_errf(err, errlen, "%s: no usable CA certificate (%s)", c->cacert,
		     gr < 0 ? gnutls_strerror(gr) : "none");
		rc = LI707_EINPUT;
		goto fail;
	}
	*out = g;
	return 0;
fail:
	gen_unref(g);
	return rc;
}

/* The client's chain verifies against the trust list (dates, CRL, purpose). *why gets the
 * reason when it does not. */
static bool verify_chain(gnutls_x509_trust_list_t tl, const gnutls_datum_t *raw, unsigned n,
			 enum lx_http_refusal *why)
{
	*why = LX_REFUSED_CERT_UNTRUSTED;
	if (n == 0 || n > 16)
		return false;
	gnutls_x509_crt_t crts[16];
	unsigned k = 0;
	bool ok = false;
	for (; k < n; k++) {
		if (gnutls_x509_crt_init(&crts[k]) < 0)
			goto out;
		if (gnutls_x509_crt_import(crts[k], &raw[k], GNUTLS_X509_FMT_DER) < 0) {
			k++;
			goto out;
		}
	}
	gnutls_typed_vdata_st vd = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
				    .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
	unsigned status = 0;
	if (gnutls_x509_trust_list_verify_crt2(tl, crts, n, &vd, 1, 0, &status, NULL) == 0 &&
	    status == 0)
		ok = true;
	else if (status & GNUTLS_CERT_REVOKED)
		*why = LX_REFUSED_CERT_REVOKED;
	else if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
		*why = LX_REFUSED_CERT_EXPIRED;
	else if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
		*why = LX_REFUSED_CERT_PURPOSE;
out:
	for (unsigned i = 0; i < k; i++)
		gnutls_x509_crt_deinit(crts[i]);
	return ok;
}

static const struct lx_tls_peer anon_peer = {.name = (char *)"anonymous"};

static void pgen_unref(struct pgen *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	if (g->owned) {
		lx_tls_peers_clear(g->p); /* wipes the PSK keys */
		free(g->p);
	}
	free(g->conns);
	free(g);
}

static struct pgen *pgen_new(struct lx_tls_peers *p, bool owned)
{
	struct pgen *g = calloc(1, sizeof *g);
	if (!g || !(g->conns = calloc(p->n + 1, sizeof *g->conns))) {
		free(g);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	g->p = p;
	g->owned = owned;
	return g;
}

/* The current allow-list, with a reference for the caller. */
static struct pgen *pgen_get(struct lx_http_server *s)
{
	pthread_mutex_lock(&s->mu);
	struct pgen *g = s->pg;
	atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&s->mu);
	return g;
}

/* Gives back the connection's per-peer slot, if it holds one. */
static void conn_uncount(struct lx_http_server *s, struct cctx *cc)
{
	if (!cc->counted)
		return;
	size_t idx = (size_t)(cc->peer - cc->pg->p->v);
	pthread_mutex_lock(&s->mu);
	if (idx < cc->pg->p->n && cc->pg->conns[idx] > 0)
		cc->pg->conns[idx]--;
	pthread_mutex_unlock(&s->mu);
	cc->counted = false;
}

/* Establishes the connection's peer (R-SEC-2, R-SEC-4): once per connection and allow-list.
 * *pgo gets a reference to the allow-list the peer belongs to (the caller's, also when the
 * peer is refused). */
static const struct lx_tls_peer *conn_peer(struct dctx *dc, struct MHD_Connection *conn,
					      struct cctx *cc, struct pgen **pgo)
{
	struct lx_http_server *s = dc->s;
	struct pgen *cur = pgen_get(s);
	*pgo = cur;
	if (cc && cc->checked && cc->pg == cur)
		return cc->ok ? cc->peer : NULL;
	if (cc && cc->checked) {
		/* The allow-list was replaced since this connection's verdict: decide again. */
		conn_uncount(s, cc);
		pgen_unref(cc->pg);
		cc->pg = NULL;
		cc->checked = cc->ok = cc->over_limit = false;
		cc->peer = NULL;
	}
	const struct lx_tls_peer *peer = NULL;
	enum lx_http_refusal why = LX_REFUSED_TLS_OTHER;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t sess = ci ? (gnutls_session_t)ci->tls_session : NULL;
	if (!sess) {
		peer = NULL;
	} else if (dc->psk) {
		const char *id = gnutls_psk_server_get_username(sess);
		peer = id ? lx_tls_peer_by_psk(cur->p, id) : NULL;
		why = LX_REFUSED_PSK_IDENTITY; /* removed from the allow-list by a reload */
	} else if (dc->s->cfg.insecure_no_client_cert) {
		peer = &anon_peer;
	} else {
		unsigned n = 0;
		const gnutls_datum_t *raw = gnutls_certificate_get_peers(sess, &n);
		if (!raw || n == 0)
			why = LX_REFUSED_NO_CERT;
		else if (verify_chain(dc->g->tl, raw, n, &why) &&
			 !(peer = lx_tls_peer_by_cert(cur->p, raw[0].data, raw[0].size)))
			why = LX_REFUSED_UNKNOWN_PEER;
	}
	if (!peer) {
		refusal_report(dc, cc, why, NULL);
	} else if (cc) {
		pthread_mutex_lock(&s->wmu);
		unauth_drop(s, cc); /* authenticated: no longer competes for the unauthenticated slots */
		pthread_mutex_unlock(&s->wmu);
	}
	if (cc) {
		cc->checked = true;
		cc->ok = peer != NULL;
		cc->peer = peer;
		cc->pg = cur;
		atomic_fetch_add(&cur->refs, 1);
	}
	return peer;
}

static int psk_cb(void *cls, const struct MHD_Connection *conn, const char *username, void **psk,
		  size_t *psk_size)
{
	struct dctx *dc = cls;
	/* One consistent table for the lookup and the copy, even if set_peers runs now. */
	struct pgen *g = pgen_get(dc->s);
	const struct lx_tls_peer *p = username ? lx_tls_peer_by_psk(g->p, username) : NULL;
	struct cctx *cc = conn_ctx((struct MHD_Connection *)conn);
	if (cc)
		cc->psk_state = p ? PSK_FOUND : PSK_UNKNOWN;
	if (!p) {
		/* The handshake fails when we return -1, without an alert (MHD sends none): send
		 * unknown_psk_identity (RFC 4279 section 2) so the client can tell. */
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			(struct MHD_Connection *)conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci && ci->tls_session)
			gnutls_alert_send((gnutls_session_t)ci->tls_session, GNUTLS_AL_FATAL,
					  GNUTLS_A_UNKNOWN_PSK_IDENTITY);
	}
	int rc = -1;
	void *k = p && p->psk && p->psk_len ? malloc(p->psk_len) : NULL;
	if (k) {
		memcpy(k, p->psk, p->psk_len);
		*psk = k;
		*psk_size = p->psk_len;
		rc = 0;
	}
	pgen_unref(g);
	return rc;
}

/* ---- responses ---- */

int lx__http_queue(struct lx__http_rq *r, unsigned status, struct MHD_Response *resp)
{
	if (!resp)
		return LI707_ENOMEM;
	for (size_t i = 0; i < r->nh; i++)
		MHD_add_response_header(resp, r->h[i].name, r->h[i].value);
	if (atomic_load(&r->dc->s->draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result mr = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	if (mr != MHD_YES)
		return LI707_EINVAL;
	r->responded = true;
	return 0;
}

int lx_http_add_header(struct lx_http_request *req, const char *name, const char *value)
{
	struct lx__http_rq *r = req ? req->impl : NULL;
	if (!r || !name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return LI707_EINVAL;
	if (r->nh >= LX__HTTP_MAX_RESP_HEADERS)
		return LI707_ELIMIT;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return LI707_ENOMEM;
	}
	r->h[r->nh++] = (struct lx__http_hdr){n, v};
	return 0;
}

int lx_http_respond_buf(struct lx_http_request *req, unsigned status, const char *content_type,
			   const void *data, size_t len)
{
	struct lx__http_rq *r = req ? req->impl : NULL;
	if (!r || r->responded || (len && !data))
		return LI707_EINVAL;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (resp && content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	return lx__http_queue(r, status, resp);
}

int lx__http_respond_page(struct lx__http_rq *r, unsigned status)
{
	char body[160];
	const char *text = MHD_get_reason_phrase_for(status);
	if (status == 404) {
		return lx_http_respond_buf(&r->pub, 404, "text/html", page_404, sizeof page_404 - 1);
	}
	int n = snprintf(body, sizeof body, "<html><head><title>%u %s</title></head><body>%u %s</body></html>\n",
			 status, text, status, text);
	return lx_http_respond_buf(&r->pub, status, "text/html", body,
				      n > 0 && (size_t)n < sizeof body ? (size_t)n : 0);
}

int lx_http_respond_status(struct lx_http_request *req, unsigned status)
{
	struct lx__http_rq *r = req ? req->impl : NULL;
	return r ? lx__http_respond_page(r, status) : LI707_EINVAL;
}

static uint64_t now_ms(void);

/* Writes all of buf into the connection's TLS session, waiting for the socket at most
 * about wait_ms in all (MHD's sockets are non-blocking). */
static bool tls_send_all(gnutls_session_t sess, int fd, const char *buf, size_t n, int wait_ms)
{
	while (n > 0) {
		ssize_t w = gnutls_record_send(sess, buf, n);
		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			if (wait_ms <= 0 || poll(&pf, 1, 100) < 0)
				return false;
			wait_ms -= 100;
			continue;
		}
		if (w <= 0)
			return false;
		buf += w;
		n -= (size_t)w;
	}
	return true;
}

/* Answers status in the middle of a body, then ends the connection (MHD_NO from the caller).
 * Why by hand: MHD 0.9.75 queues a response only before the body or after all of it, so a
 * status decided while the body arrives (over the cap, too slow, the handler's budget) would
 * otherwise be a connection closed without a word. The response is written into the TLS
 * session from the connection's own thread (MHD is inside our callback: nothing else uses
 * the session), with Connection: close, the request's extra headers and the fixed page;
 * then the TLS write side is closed and the rest of what the client sends is read and
 * dropped for at most 2 s (a lingering close: closing with unread bytes would reset the
 * connection and could destroy the response before the client reads it). */
#define MIDBODY_LINGER_MS 2000
#define MIDBODY_LINGER_BYTES (8u << 20)
static enum MHD_Result respond_midbody(struct lx__http_rq *r, unsigned status)
{
	r->responded = true;
	r->failed = true;
	r->pub.server_status = status;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t sess = ci ? (gnutls_session_t)ci->tls_session : NULL;
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int fd = ci ? ci->connect_fd : -1;
	if (!sess || fd < 0)
		return MHD_NO;
	const char *text = MHD_get_reason_phrase_for(status);
	char body[160], date[64], head[2048];
	int bl = snprintf(body, sizeof body,
			  "<html><head><title>%u %s</title></head><body>%u %s</body></html>\n", status,
			  text, status, text);
	if (bl < 0 || (size_t)bl >= sizeof body)
		bl = 0;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int hl = snprintf(head, sizeof head,
			  "HTTP/1.1 %u %s\r\nConnection: close\r\nDate: %s\r\n"
			  "Content-Type: text/html\r\nContent-Length: %d\r\n",
			  status, text, date, bl);
	for (size_t i = 0; i < r->nh && hl > 0 && (size_t)hl < sizeof head; i++)
		hl += snprintf(head + hl, sizeof head - (size_t)hl, "%s: %s\r\n", r->h[i].name,
			       r->h[i].value);
	if (hl <= 0 || (size_t)hl + 2 >= sizeof head)
		return MHD_NO;
	memcpy(head + hl, "\r\n", 2);
	hl += 2;
	if (!tls_send_all(sess, fd, head, (size_t)hl, 5000) ||
	    !tls_send_all(sess, fd, body, (size_t)bl, 5000))
		return MHD_NO;
	(void)gnutls_bye(sess, GNUTLS_SHUT_WR); /* close_notify, once, whatever it returns */
	shutdown(fd, SHUT_WR);
	char sink[16384];
	size_t drained = 0;
	uint64_t end = now_ms() + MIDBODY_LINGER_MS;
	for (;;) {
		uint64_t t = now_ms();
		if (t >= end || drained >= MIDBODY_LINGER_BYTES)
			break;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, (int)(end - t)) <= 0)
			break;
		ssize_t k = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (k > 0)
			drained += (size_t)k;
	}
	return MHD_NO;
}

/* ---- bodies ---- */

int lx_http_body_to_fd(struct lx_http_request *req, int fd, uint64_t cap)
{
	struct lx__http_rq *r = req ? req->impl : NULL;
	if (!r || r->sink != LX__SINK_NONE || r->responded || fd < 0)
		return LI707_EINVAL;
	r->sink = LX__SINK_FD;
	r->fd = fd;
	r->cap = cap ? cap : r->dc->s->cfg.limits.body_bytes;
	return 0;
}

int lx_http_body_to_cb(struct lx_http_request *req, lx_http_body_fn fn, void *fn_cls, uint64_t cap)
{
	struct lx__http_rq *r = req ? req->impl : NULL;
	if (!r || r->sink != LX__SINK_NONE || r->responded || !fn)
		return LI707_EINVAL;
	r->sink = LX__SINK_CB;
	r->fn = fn;
	r->fn_cls = fn_cls;
	r->cap = cap ? cap : r->dc->s->cfg.limits.body_bytes;
	return 0;
}

/* Buffers body bytes for the fd sink and writes them LX_HTTP_BLOCK at a time. */
static int fd_sink(struct lx__http_rq *r, const char *p, size_t n)
{
	if (!r->wbuf && !(r->wbuf = malloc(LX_HTTP_BLOCK)))
		return -1;
	while (n > 0) {
		size_t k = LX_HTTP_BLOCK - r->wlen < n ? LX_HTTP_BLOCK - r->wlen : n;
		memcpy(r->wbuf + r->wlen, p, k);
		r->wlen += k;
		p += k;
		n -= k;
		if (r->wlen == LX_HTTP_BLOCK) {
			if (lx_write_all(r->fd, r->wbuf, r->wlen) != 0)
				return -1;
			r->wlen = 0;
		}
	}
	return 0;
}

static int fd_flush(struct lx__http_rq *r)
{
	if (r->sink != LX__SINK_FD || r->wlen == 0)
		return 0;
	int rc = lx_write_all(r->fd, r->wbuf, r->wlen);
	r->wlen = 0;
	return rc;
}

const char *lx_http_header(const struct lx_http_request *req, const char *name)
{
	const struct lx__http_rq *r = req ? req->impl : NULL;
	if (!r || !name)
		return NULL;
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- MHD callbacks ---- */

static struct cctx *conn_ctx(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sets the connection's header deadline: now + header_timeout_s, or none (0). */
static void conn_deadline(struct lx_http_server *s, struct cctx *cc, bool arm)
{
	if (!cc)
		return;
	pthread_mutex_lock(&s->wmu);
	cc->deadline_ms = arm ? now_ms() + s->cfg.limits.header_timeout_s * 1000ull : 0;
	pthread_mutex_unlock(&s->wmu);
}

/* The unauthenticated cap is full (wmu held): closes the oldest unauthenticated connection
 * (the list is newest first). Its thread sees EOF; the refusal is reported at its close. */
static void unauth_evict_oldest(struct lx_http_server *s)
{
	struct cctx *victim = NULL;
	for (struct cctx *c = s->conns; c; c = c->next)
		if (c->unauth && !c->cut && c->fd >= 0)
			victim = c;
	if (!victim)
		return;
	shutdown(victim->fd, SHUT_RDWR);
	victim->cut = true;
	victim->evicted = true;
	unauth_drop(s, victim);
}

/* The watchdog: every 250 ms, shuts down the socket of every connection whose request headers
 * did not arrive in time (slow loris). MHD's connection thread then sees EOF and closes the
 * connection the usual way (CLOSED notification, per-peer slot freed). The registry entry is
 * removed under wmu by the CLOSED notification, which MHD sends before it closes the socket,
 * so the descriptor shut down here is always still the connection's. */
static void *watchdog(void *arg)
{
	struct lx_http_server *s = arg;
	pthread_mutex_lock(&s->wmu);
	while (!s->wstop) {
		uint64_t now = now_ms();
		for (struct cctx *c = s->conns; c; c = c->next) {
			if (c->deadline_ms && !c->cut && now >= c->deadline_ms && c->fd >= 0) {
				shutdown(c->fd, SHUT_RDWR);
				c->cut = true;
				unauth_drop(s, c);
				atomic_fetch_add(&s->header_cuts, 1);
			}
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 250 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->wcv, &s->wmu, &ts);
	}
	pthread_mutex_unlock(&s->wmu);
	return NULL;
}

/* DHE-PSK (RFC 4279) needs a finite-field group. A client that offers an RFC 7919 group in
 * supported_groups gets it from the priority string; one that offers none (OpenSSL with TLS 1.3
 * off offers only elliptic curves) would find no DH parameters in MHD's PSK credentials, and
 * the handshake would fail. MHD 0.9.75 has no option for the parameters of PSK credentials, so
 * they are set on the credentials MHD attached to the first connection's session: the RFC 7919
 * group of GnuTLS's "medium" level (ffdhe2048, the group the priority string offers). The
 * STARTED notification runs in the daemon's listen thread before that connection's thread
 * exists, so no handshake reads the credentials while they are set; all connections of the
 * daemon share them. */
static void psk_dh_params(struct dctx *dc, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t sess = ci ? (gnutls_session_t)ci->tls_session : NULL;
	void *cred = NULL;
	if (sess && gnutls_credentials_get(sess, GNUTLS_CRD_PSK, &cred) == 0 && cred &&
	    gnutls_psk_set_server_known_dh_params(cred, GNUTLS_SEC_PARAM_MEDIUM) == 0)
		dc->dh_set = true;
}

/* GnuTLS hook on the handshake messages, to tell why a handshake failed (MHD 0.9.75 drops the
 * error code): before a ClientHello is processed, notes that one arrived and the version it
 * asks for (legacy_version, its first two bytes); after our ServerHello, that version, suite
 * and group were agreed. MHD keeps its connection as the session pointer. */
static int hello_hook(gnutls_session_t sess, unsigned htype, unsigned when, unsigned incoming,
		      const gnutls_datum_t *msg)
{
	struct MHD_Connection *conn = gnutls_session_get_ptr(sess);
	struct cctx *cc = conn ? conn_ctx(conn) : NULL;
	if (!cc)
		return 0;
	if (incoming && when == GNUTLS_HOOK_PRE && htype == GNUTLS_HANDSHAKE_CLIENT_HELLO &&
	    !cc->hello_seen) {
		cc->hello_seen = true;
		cc->hello_version = msg && msg->size >= 2 ? (unsigned)msg->data[0] << 8 | msg->data[1] : 0;
		/* A client below TLS 1.2 (R-SEC-1): GnuTLS refuses it but sends no alert (MHD does
		 * not call gnutls_alert_send_appropriate); say protocol_version before it does. */
		if (cc->hello_version && cc->hello_version < 0x0303)
			gnutls_alert_send(sess, GNUTLS_AL_FATAL, GNUTLS_A_PROTOCOL_VERSION);
	} else if (!incoming && when == GNUTLS_HOOK_POST && htype == GNUTLS_HANDSHAKE_SERVER_HELLO) {
		cc->server_hello = true;
	} else if (incoming && when == GNUTLS_HOOK_POST && htype == GNUTLS_HANDSHAKE_FINISHED) {
		cc->hs_done = true;
	}
	return 0;
}

/* The client's address as text ("192.0.2.7:50312", "[2001:db8::1]:50312"). */
static void client_addr(struct MHD_Connection *conn, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	char h[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, h, sizeof h);
		port = ntohs(a->sin_port);
		snprintf(out, n, "%s:%u", h, port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h);
		port = ntohs(a->sin6_port);
		snprintf(out, n, "[%s]:%u", h, port);
	} else {
		snprintf(out, n, "?");
	}
}

/* At close: a connection that never got to a request and was not refused yet failed its
 * handshake (or its deadline). Classifies and reports it. MHD 0.9.75 drops gnutls_handshake's
 * error code, so the reason comes from what was seen: the ClientHello's version, the PSK
 * lookup, the client's alert, whether a ServerHello left. */
static void closed_unrequested(struct dctx *dc, struct MHD_Connection *conn, struct cctx *cc)
{
	if (cc->requested || cc->reported)
		return;
	if (cc->cut) {
		refusal_report(dc, cc, cc->evicted ? LX_REFUSED_SLOTS : LX_REFUSED_TIMEOUT, NULL);
		return;
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t sess = ci ? (gnutls_session_t)ci->tls_session : NULL;
	if (!sess || !cc->hello_seen)
		return; /* closed before a ClientHello: nothing was refused */
	if ((int)gnutls_handshake_get_last_in(sess) == GNUTLS_HANDSHAKE_FINISHED)
		return; /* handshake done, closed before a request */
	gnutls_alert_description_t al = gnutls_alert_get(sess);
	const char *alname = gnutls_alert_get_name(al);
	if (cc->hello_version && cc->hello_version < 0x0303)
		refusal_report(dc, cc, LX_REFUSED_TLS_VERSION, NULL);
	else if (cc->psk_state == PSK_UNKNOWN)
		refusal_report(dc, cc, LX_REFUSED_PSK_IDENTITY, NULL);
	else if (cc->psk_state == PSK_FOUND)
		refusal_report(dc, cc, LX_REFUSED_PSK_KEY, NULL);
	else if (al != 0 && alname)
		refusal_report(dc, cc, LX_REFUSED_CLIENT_ALERT, alname);
	else if (!cc->server_hello)
		refusal_report(dc, cc, LX_REFUSED_TLS_PARAMS, NULL);
	else
		refusal_report(dc, cc, LX_REFUSED_TLS_OTHER, NULL);
}

static void notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	struct dctx *dc = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		if (dc->psk && !dc->dh_set)
			psk_dh_params(dc, conn);
		struct cctx *n = calloc(1, sizeof(struct cctx)); /* NULL: checked per request */
		if (n) {
			const union MHD_ConnectionInfo *ci =
				MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
			n->fd = ci ? ci->connect_fd : -1;
			client_addr(conn, n->addr, sizeof n->addr);
			ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
			if (ci && ci->tls_session)
				gnutls_handshake_set_hook_function((gnutls_session_t)ci->tls_session,
								   GNUTLS_HANDSHAKE_ANY,
								   GNUTLS_HOOK_BOTH, hello_hook);
			pthread_mutex_lock(&dc->s->wmu);
			n->start_ms = now_ms();
			n->deadline_ms = n->start_ms + dc->s->cfg.limits.header_timeout_s * 1000ull;
			/* Slots kept for authenticated peers: at most `unauthenticated` connections
			 * wait for their verdict; a newcomer replaces the oldest of them. */
			if (dc->s->n_unauth >= dc->s->cfg.limits.unauthenticated)
				unauth_evict_oldest(dc->s);
			n->unauth = true;
			dc->s->n_unauth++;
			n->next = dc->s->conns;
			if (n->next)
				n->next->prev = n;
			dc->s->conns = n;
			pthread_mutex_unlock(&dc->s->wmu);
		}
		*socket_context = n;
		return;
	}
	struct cctx *cc = *socket_context;
	if (!cc)
		return;
	closed_unrequested(dc, conn, cc);
	pthread_mutex_lock(&dc->s->wmu);
	unauth_drop(dc->s, cc);
	if (cc->prev)
		cc->prev->next = cc->next;
	else
		dc->s->conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	cc->fd = -1;
	pthread_mutex_unlock(&dc->s->wmu);
	conn_uncount(dc->s, cc);
	pgen_unref(cc->pg);
	lx__tx_release(cc->tx);
	free(cc);
	*socket_context = NULL;
}

struct lx__tx **lx__conn_tx(struct MHD_Connection *conn)
{
	struct cctx *cc = conn_ctx(conn);
	return cc ? &cc->tx : NULL;
}

/* Counts the connection against its peer's limit, once. false when over the limit. */
static bool peer_admit(struct lx_http_server *s, struct cctx *cc)
{
	if (!cc || cc->counted || !cc->peer)
		return !(cc && cc->over_limit);
	if (cc->peer == &anon_peer)
		return true; /* the identity of test listeners without client certificates */
	size_t idx = (size_t)(cc->peer - cc->pg->p->v);
	bool ok;
	pthread_mutex_lock(&s->mu);
	ok = cc->pg->conns[idx] < s->cfg.limits.per_peer;
	if (ok) {
		cc->pg->conns[idx]++;
		cc->counted = true;
	} else {
		cc->over_limit = true;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct dctx *dc = cls;
	struct lx__http_rq *r = *con_cls;
	if (!r)
		return;
	struct lx_http_server *s = dc->s;
	/* Keep-alive: the next request's headers are due header_timeout_s from now. */
	conn_deadline(s, conn_ctx(conn), true);
	bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->failed;
	if (ok && r->meter && r->ans) /* all of it went out: exact, not the estimate */
		atomic_store(&r->meter->sent, r->ans->length);
	if (r->begun && s->cfg.done)
		s->cfg.done(s->cfg.cls, &r->pub, ok);
	lx__meter_release(r->meter);
	free(r->ans);
	if (r->fd >= 0)
		close(r->fd);
	free(r->wbuf);
	for (size_t i = 0; i < r->nh; i++) {
		free(r->h[i].name);
		free(r->h[i].value);
	}
	if (r->counted)
		atomic_fetch_sub(&s->active, 1);
	pgen_unref(r->pg);
	free(r);
	*con_cls = NULL;
}

static bool has_body(struct lx__http_rq *r)
{
	if (r->pub.has_length)
		return r->pub.content_length > 0;
	const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_TRANSFER_ENCODING);
	return te != NULL;
}

static enum MHD_Result decide(struct dctx *dc, struct lx__http_rq *r);

/* ---- strict framing (RFC 9112 sections 5, 6.1, 6.3; RFC 9110 section 5.5) ----
 * MHD 0.9.75 is lax where a lax server can be made to see a request other than the one a
 * proxy in front of it saw (request smuggling): of several Content-Length fields it uses the
 * first, it reads a body of unknown length for any Transfer-Encoding other than chunked, and
 * it appends the continuation of a folded line to the field *name* ("Content-Length:" folded
 * onto " 30" arrives as a field "Content-Length30", and the body as the next request), and it
 * takes a HTTP/1.1 request without Host (its strict mode, MHD_OPTION_STRICT_FOR_CLIENT,
 * refuses that one but sends its 400 header twice: not used). So all of it is checked here,
 * on the parsed fields, before anything else of the request. What MHD does not let us see:
 * a NUL in a field value (MHD ends the value there and reports the shorter length) and a
 * bare LF as line end (RFC 9112 2.2 allows a recipient to accept it; MHD does). */
struct framing {
	unsigned n_cl, n_te, n_host;
	bool bad;         /* 400 */
	bool te_chunked;  /* one Transfer-Encoding field, exactly "chunked" */
	bool te_last;     /* the last transfer coding is chunked */
	const char *cl;
	size_t cl_len;
};

static bool tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* key (ks bytes) is name, case-insensitively; or, with prefix, starts with name and goes on. */
static bool name_is(const char *key, size_t ks, const char *name, bool prefix)
{
	size_t n = strlen(name);
	return (prefix ? ks > n : ks == n) && strncasecmp(key, name, n) == 0;
}

static enum MHD_Result framing_field(void *cls, enum MHD_ValueKind kind, const char *key,
				     size_t ks, const char *value, size_t vs)
{
	struct framing *f = cls;
	(void)kind;
	if (ks == 0 || !value)
		f->bad = true;
	for (size_t i = 0; i < ks; i++)
		f->bad |= !tchar((unsigned char)key[i]); /* "Content-Length :", folded lines */
	for (size_t i = 0; value && i < vs; i++) {
		unsigned char c = (unsigned char)value[i];
		f->bad |= (c < 0x20 && c != '\t') || c == 0x7f; /* CTLs, NUL (RFC 9110 5.5) */
	}
	if (name_is(key, ks, "content-length", true) || name_is(key, ks, "transfer-encoding", true))
		f->bad = true; /* a framing field with a folded line appended to its name */
	if (name_is(key, ks, "host", false))
		f->n_host++;
	if (name_is(key, ks, "content-length", false)) {
		f->n_cl++;
		f->cl = value;
		f->cl_len = vs;
	}
	if (name_is(key, ks, "transfer-encoding", false) && value) {
		f->n_te++;
		size_t a = 0, b = vs;
		while (a < b && (value[a] == ' ' || value[a] == '\t'))
			a++;
		while (b > a && (value[b - 1] == ' ' || value[b - 1] == '\t'))
			b--;
		f->te_chunked = f->n_te == 1 && b - a == 7 && strncasecmp(value + a, "chunked", 7) == 0;
		size_t c = b; /* the last coding of this field */
		while (c > a && value[c - 1] != ',')
			c--;
		while (c < b && (value[c] == ' ' || value[c] == '\t'))
			c++;
		f->te_last = b - c == 7 && strncasecmp(value + c, "chunked", 7) == 0;
	}
	return MHD_YES;
}

/* 0 when the request's framing is sound (with its Content-Length, if any, in *len), else
 * the status to answer before closing: 400, or 501 for a transfer coding we do not
 * implement before a final chunked (RFC 9112 6.1). */
static unsigned framing_check(struct MHD_Connection *conn, const char *version, bool *has_len,
			      uint64_t *len)
{
	struct framing f = {0};
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, framing_field, &f);
	bool http11 = version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
	if (f.bad || f.n_cl > 1 || f.n_host > 1 || (http11 && f.n_host == 0) || (f.n_cl && f.n_te))
		return 400;
	if (f.n_te)
		return !f.te_last ? 400 : !f.te_chunked ? 501 : 0;
	if (f.n_cl) {
		uint64_t v = 0;
		if (f.cl_len == 0 || f.cl_len > 19)
			return 400;
		for (size_t i = 0; i < f.cl_len; i++) {
			if (f.cl[i] < '0' || f.cl[i] > '9')
				return 400;
			v = v * 10 + (uint64_t)(f.cl[i] - '0');
		}
		*has_len = true;
		*len = v;
	}
	return 0;
}

static enum MHD_Result first_call(struct dctx *dc, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, void **con_cls)
{
	struct lx_http_server *s = dc->s;
	/* The headers are complete: no deadline while the request runs (bodies have the idle
	 * timeout only: large uploads are legitimate). */
	struct cctx *cc0 = conn_ctx(conn);
	conn_deadline(s, cc0, false);
	if (cc0)
		cc0->requested = true;
	struct lx__http_rq *r = calloc(1, sizeof *r);
	if (!r)
		return MHD_NO;
	*con_cls = r;
	r->conn = conn;
	r->dc = dc;
	r->fd = -1;
	r->max_ranges = s->cfg.limits.max_ranges;
	r->win_start_ms = now_ms();
	r->pub.impl = r;
	r->pub.method = method;
	r->pub.path = url;
	atomic_fetch_add(&s->requests, 1);
	atomic_fetch_add(&s->active, 1);
	r->counted = true;
	unsigned bad = framing_check(conn, version, &r->pub.has_length, &r->pub.content_length);
	if (bad) {
		/* Answered before the body and closed: what follows cannot be told apart from the
		 * next request. */
		if (lx_http_add_header(&r->pub, MHD_HTTP_HEADER_CONNECTION, "close") != 0)
			return MHD_NO;
		return lx__http_respond_page(r, bad) == 0 ? MHD_YES : MHD_NO;
	}
	/* MHD 0.9.75 closes the connection after any response queued before the request was
	 * read completely. A request without a body is complete at the next call: decide there,
	 * so keep-alive works. A request with a body is decided now, before the body (and before
	 * any 100 Continue), and its connection closes on refusal - as it must. */
	if (!has_body(r)) {
		r->deferred = true;
		return MHD_YES;
	}
	return decide(dc, r);
}

static enum MHD_Result decide(struct dctx *dc, struct lx__http_rq *r)
{
	struct lx_http_server *s = dc->s;
	struct MHD_Connection *conn = r->conn;

	/* TS103707 R-SEC-2, R-BIN-A2: who is it? Refused peers get the unknown-URL page, before
	 * any body is read (with Expect: 100-continue, no 100 is sent: R-BIN-B3). */
	struct cctx *cc = conn_ctx(conn);
	const struct lx_tls_peer *peer = conn_peer(dc, conn, cc, &r->pg);
	if (!peer) {
		atomic_fetch_add(&s->refused_auth, 1);
		return lx__http_respond_page(r, 404) == 0 ? MHD_YES : MHD_NO;
	}
	if (!peer_admit(s, cc))
		return lx__http_respond_page(r, 503) == 0 ? MHD_YES : MHD_NO;
	r->pub.peer = peer->name;
	r->pub.psk = dc->psk;
	const char *ex = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	r->pub.expect_continue = ex && strcasecmp(ex, "100-continue") == 0;

	r->begun = true;
	int hrc = s->cfg.handler(s->cfg.cls, &r->pub, LX_HTTP_BEGIN);
	if (r->responded)
		return MHD_YES;
	if (hrc != 0)
		return lx__http_respond_page(r, 500) == 0 ? MHD_YES : MHD_NO;
	if (has_body(r)) {
		/* TS103707 R-BIN-B3: the decision before the body - no sink or too big: 413. */
		if (r->sink == LX__SINK_NONE || (r->pub.has_length && r->pub.content_length > r->cap))
			return lx__http_respond_page(r, 413) == 0 ? MHD_YES : MHD_NO;
	}
	return MHD_YES;
}

/* Slow bodies: true when the body moved fewer than body_min_rate bytes per second over the
 * window that just ended (a window is body_rate_window_s long, the first one starts when
 * the headers are complete). Checked as bytes arrive: a body that stops altogether is
 * closed by the idle timeout. */
static bool body_too_slow(struct lx__http_rq *r, size_t n)
{
	const struct lx_http_limits *L = &r->dc->s->cfg.limits;
	uint64_t t = now_ms();
	r->win_bytes += n;
	if (t - r->win_start_ms < L->body_rate_window_s * 1000ull)
		return false;
	bool slow = r->win_bytes * 1000u < (uint64_t)L->body_min_rate * (t - r->win_start_ms);
	r->win_start_ms = t;
	r->win_bytes = 0;
	return slow;
}

/* Decodes "%HH" in the request target and its arguments as libmicrohttpd's default does, except
 * "%00": that stays as the three characters. A decoded NUL would end the C string handlers
 * see, so "/objects/TOKEN%00junk" would reach them as "/objects/TOKEN" (R-BIN-A2: a path trick
 * must get the unknown-URL answer, never the object). */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t unescape_cb(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	char *w = s;
	for (const char *r = s; *r;) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 &&
		    (hi | lo) != 0) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct dctx *dc = cls;
	struct lx_http_server *s = dc->s;
	struct lx__http_rq *r = *con_cls;
	if (!r)
		return first_call(dc, conn, url, method, version, con_cls);
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->responded)
			return MHD_YES; /* answered already: discard */
		/* Over the cap without a Content-Length that said so (chunked): 413 now. */
		if (r->pub.body_received + n > r->cap)
			return respond_midbody(r, 413);
		if (body_too_slow(r, n))
			return respond_midbody(r, 408);
		int bad = 0;
		if (r->sink == LX__SINK_FD)
			bad = fd_sink(r, upload_data, n) != 0 ? 500 : 0;
		else if (r->sink == LX__SINK_CB)
			bad = r->fn(r->fn_cls, &r->pub, upload_data, n);
		else
			bad = 500;
		if (bad)
			return respond_midbody(r, bad >= 400 && bad <= 599 ? (unsigned)bad : 500);
		r->pub.body_received += n;
		atomic_fetch_add(&s->body_bytes, n);
		return MHD_YES;
	}
	if (r->deferred) {
		r->deferred = false;
		enum MHD_Result mr = decide(dc, r);
		if (mr != MHD_YES || r->responded)
			return mr;
	}
	if (r->responded)
		return MHD_YES;
	if (fd_flush(r) != 0) {
		r->failed = true;
		return lx__http_respond_page(r, 500) == 0 ? MHD_YES : MHD_NO;
	}
	int hrc = s->cfg.handler(s->cfg.cls, &r->pub, LX_HTTP_END);
	if (r->responded)
		return MHD_YES;
	(void)hrc;
	r->failed = true;
	return lx__http_respond_page(r, 500) == 0 ? MHD_YES : MHD_NO;
}

/* ---- daemons ---- */

static struct MHD_Daemon *start_daemon(struct lx_http_server *s, int fd, bool psk, struct gen *g,
				       struct dctx **dco, char *err, size_t errlen)
{
	struct dctx *dc = calloc(1, sizeof *dc);
	if (!dc)
		return NULL;
	dc->s = s;
	dc->psk = psk;
	dc->g = g;
	if (g)
		atomic_fetch_add(&g->refs, 1);
	const struct lx_http_limits *L = &s->cfg.limits;
	/* Each daemon gets its own descriptor of the listening socket, so stopping or quiescing
	 * one never closes the socket under another (reload runs two on one socket). */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		dc->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
						    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	dc->lfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dc->lfd < 0) {
		lx_errf(err, errlen, "dup listen socket: %s", strerror(errno));
		gen_unref(dc->g);
		free(dc);
		return NULL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_TLS | MHD_USE_ITC;
	struct MHD_OptionItem ops[24];
	size_t k = 0;
#define OPT(o, v, p) (ops[k++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)})
	OPT(MHD_OPTION_LISTEN_SOCKET, dc->lfd, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, L->connections, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, L->per_ip, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, L->idle_timeout_s, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, L->header_bytes, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, request_done, dc);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, notify_conn, dc);
	OPT(MHD_OPTION_UNESCAPE_CALLBACK, unescape_cb, NULL);
	OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, psk ? s->prio_psk : s->prio_cert);
	if (psk) {
		OPT(MHD_OPTION_HTTPS_CRED_TYPE, GNUTLS_CRD_PSK, NULL);
		OPT(MHD_OPTION_GNUTLS_PSK_CRED_HANDLER, psk_cb, dc);
	} else {
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, g->key_pem);
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, g->cert_pem);
		if (!s->cfg.insecure_no_client_cert)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, g->ca_pem); /* requests a client cert */
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, dc,
						MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (!d) {
		lx_errf(err, errlen, "cannot start the HTTPS listener (TLS credentials or priorities refused)");
		/* dc->lfd is not closed here: MHD may have closed it on its failure path, and a
		 * second close could hit a descriptor reused by another thread. One descriptor may
		 * leak on this rare path. */
		gen_unref(dc->g);
		free(dc);
		return NULL;
	}
	*dco = dc;
	return d;
}

/* Stops accepting on d: MHD hands its listening descriptor back, we close it. */
static void daemon_quiesce(struct MHD_Daemon *d, struct dctx *dc)
{
	if (!d || !dc || dc->quiesced)
		return;
	dc->quiesced = true;
	MHD_socket f = MHD_quiesce_daemon(d);
	if (f != MHD_INVALID_SOCKET)
		close(f);
}

static void stop_daemon(struct MHD_Daemon *d, struct dctx *dc)
{
	daemon_quiesce(d, dc);
	if (d)
		MHD_stop_daemon(d);
	if (dc) {
		gen_unref(dc->g);
		free(dc);
	}
}

static void limits_defaults(struct lx_http_limits *L)
{
	if (!L->connections) L->connections = 256;
	if (!L->per_peer) L->per_peer = 32;
	if (!L->per_ip) L->per_ip = 64;
	if (!L->header_bytes) L->header_bytes = 64 * 1024;
	if (!L->body_bytes) L->body_bytes = 1ull << 30;
	if (!L->idle_timeout_s) L->idle_timeout_s = 30;
	if (!L->header_timeout_s) L->header_timeout_s = 10;
	if (!L->max_ranges) L->max_ranges = LX_RANGE_MAX_DEFAULT;
	if (!L->drain_timeout_s) L->drain_timeout_s = 30;
	if (!L->body_min_rate) L->body_min_rate = 1024;
	if (!L->body_rate_window_s) L->body_rate_window_s = 10;
	if (!L->unauthenticated) L->unauthenticated = L->connections / 2 ? L->connections / 2 : 1;
}

int lx_http_server_new(const struct lx_http_config *cfg, struct lx_http_server **out,
			  char *err, size_t errlen)
{
	if (!cfg || !out || !cfg->handler || !cfg->policy || !cfg->peers)
		return LI707_EINVAL;
	struct lx_http_server *s = calloc(1, sizeof *s);
	if (!s)
		return LI707_ENOMEM;
	s->cfg = *cfg;
	s->cfg.creds = (struct lx_http_creds){0};
	limits_defaults(&s->cfg.limits);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->wmu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wcv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = LI707_ENOMEM;
	if (pthread_create(&s->wthr, NULL, watchdog, s) != 0)
		goto fail;
	s->wstarted = true;
	s->pg = pgen_new(cfg->peers, false);
	s->cfg.peers = NULL; /* s->pg from now on */
	if (!s->pg)
		goto fail;
	if ((rc = lx_tls_gnutls_priority(cfg->policy, false, &s->prio_cert)) != 0 ||
	    (rc = lx_tls_gnutls_priority(cfg->policy, true, &s->prio_psk)) != 0) {
		lx_errf(err, errlen, "TLS policy: cannot build the GnuTLS priorities");
		goto fail;
	}
	if (cfg->creds.cert && (rc = gen_load(&cfg->creds, &s->g, err, errlen)) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	lx_http_server_free(s);
	return rc;
}

int lx_http_server_listen(struct lx_http_server *s, const char *addr, bool psk, char *err,
			     size_t errlen)
{
	if (!s || !addr)
		return LI707_EINVAL;
	if (s->nl >= MAX_LISTENERS)
		return LI707_ELIMIT;
	if (!psk && !s->g) {
		lx_errf(err, errlen, "certificate listener without certificate credentials");
		return LI707_EINPUT;
	}
	int port = 0;
	int fd = lx_listen_socket(addr, &port, err, errlen);
	if (fd < 0)
		return fd;
	struct listener *l = &s->l[s->nl];
	l->d = start_daemon(s, fd, psk, psk ? NULL : s->g, &l->dc, err, errlen);
	if (!l->d) {
		close(fd);
		return LI707_EINPUT;
	}
	l->fd = fd;
	l->port = port;
	l->psk = psk;
	s->nl++;
	return 0;
}

int lx_http_server_port(const struct lx_http_server *s, size_t i)
{
	return s && i < s->nl ? s->l[i].port : -1;
}

static size_t daemon_conns(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di ? di->num_connections : 0;
}

/* Stops quiesced daemons whose connections are all gone (called with mu held). */
static void reap_old(struct lx_http_server *s, bool all)
{
	size_t j = 0;
	for (size_t i = 0; i < s->nold; i++) {
		if (all || daemon_conns(s->old[i].d) == 0)
			stop_daemon(s->old[i].d, s->old[i].dc);
		else
			s->old[j++] = s->old[i];
	}
	s->nold = j;
}

int lx_http_server_unlisten(struct lx_http_server *s, size_t i)
{
	if (!s || i >= s->nl || atomic_load(&s->draining))
		return LI707_EINVAL;
	pthread_mutex_lock(&s->mu);
	reap_old(s, false);
	if (s->nold >= MAX_OLD) {
		pthread_mutex_unlock(&s->mu);
		return LI707_ELIMIT;
	}
	struct listener *l = &s->l[i];
	daemon_quiesce(l->d, l->dc);
	s->old[s->nold++] = (struct old){l->d, l->dc};
	if (l->fd >= 0)
		close(l->fd);
	memmove(&s->l[i], &s->l[i + 1], (s->nl - i - 1) * sizeof s->l[0]);
	s->nl--;
	memset(&s->l[s->nl], 0, sizeof s->l[0]);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int lx_http_server_reload(struct lx_http_server *s, const struct lx_http_creds *creds,
			     char *err, size_t errlen)
{
	if (!s || !creds || atomic_load(&s->draining))
		return LI707_EINVAL;
	struct gen *g = NULL;
	int rc = gen_load(creds, &g, err, errlen);
	if (rc != 0)
		return rc;
	/* The policy may have changed too. */
	char *pc = NULL, *pp = NULL;
	if (lx_tls_gnutls_priority(s->cfg.policy, false, &pc) != 0 ||
	    lx_tls_gnutls_priority(s->cfg.policy, true, &pp) != 0) {
		free(pc);
		gen_unref(g);
		lx_errf(err, errlen, "TLS policy: cannot build the GnuTLS priorities");
		return LI707_EINPUT;
	}
	char *oc = s->prio_cert, *op = s->prio_psk;
	s->prio_cert = pc;
	s->prio_psk = pp;
	struct MHD_Daemon *nd[MAX_LISTENERS] = {0};
	struct dctx *ndc[MAX_LISTENERS] = {0};
	pthread_mutex_lock(&s->mu);
	reap_old(s, false);
	size_t need = 0;
	for (size_t i = 0; i < s->nl; i++)
		need += !s->l[i].psk;
	if (s->nold + need > MAX_OLD) {
		rc = LI707_ELIMIT;
		lx_errf(err, errlen, "too many reloads still draining");
		goto undo;
	}
	for (size_t i = 0; i < s->nl; i++) {
		if (s->l[i].psk)
			continue;
		nd[i] = start_daemon(s, s->l[i].fd, false, g, &ndc[i], err, errlen);
		if (!nd[i]) {
			rc = LI707_EINPUT;
			goto undo;
		}
	}
	/* New daemons accept from now on; the old ones stop accepting and drain. */
	for (size_t i = 0; i < s->nl; i++) {
		if (!nd[i])
			continue;
		daemon_quiesce(s->l[i].d, s->l[i].dc);
		s->old[s->nold++] = (struct old){s->l[i].d, s->l[i].dc};
		s->l[i].d = nd[i];
		s->l[i].dc = ndc[i];
	}
	pthread_mutex_unlock(&s->mu);
	gen_unref(s->g);
	s->g = g;
	free(oc);
	free(op);
	atomic_fetch_add(&s->reloads, 1);
	return 0;
undo:
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->nl; i++)
		stop_daemon(nd[i], ndc[i]);
	gen_unref(g);
	free(s->prio_cert);
	free(s->prio_psk);
	s->prio_cert = oc;
	s->prio_psk = op;
	return rc;
}

int lx_http_server_set_peers(struct lx_http_server *s, struct lx_tls_peers *peers)
{
	if (!s || !peers)
		return LI707_EINVAL;
	struct pgen *g = pgen_new(peers, true);
	if (!g)
		return LI707_ENOMEM;
	pthread_mutex_lock(&s->mu);
	struct pgen *old = s->pg;
	s->pg = g;
	pthread_mutex_unlock(&s->mu);
	pgen_unref(old);
	return 0;
}

/* A connection opened this recently and without a request yet is expected to send one: a
 * drain waits for it (a client sends its request right after its handshake). */
#define DRAIN_NEW_CONN_MS 2000

/* Drain: true while some open connection may still become a request it could answer: bytes
 * wait unread in its socket, it is in its TLS handshake, or it opened less than
 * DRAIN_NEW_CONN_MS ago and has not sent a request yet. Connections cut by the header
 * deadline do not count (so slow or idle clients hold a drain at most header_timeout_s). */
static bool busy_conns(struct lx_http_server *s)
{
	bool busy = false;
	uint64_t now = now_ms();
	pthread_mutex_lock(&s->wmu);
	for (struct cctx *c = s->conns; c && !busy; c = c->next) {
		if (c->cut || c->fd < 0)
			continue;
		int pending = 0;
		bool first = !atomic_load(&c->requested);
		if (ioctl(c->fd, FIONREAD, &pending) == 0 && pending > 0)
			busy = true;
		else if (first && atomic_load(&c->hello_seen) && !atomic_load(&c->hs_done))
			busy = true; /* mid-handshake: a request may follow at once */
		else if (first && now < c->start_ms + DRAIN_NEW_CONN_MS)
			busy = true; /* just opened: its first request is on its way */
	}
	pthread_mutex_unlock(&s->wmu);
	return busy;
}

int lx_http_server_drain(struct lx_http_server *s)
{
	if (!s || atomic_exchange(&s->draining, true))
		return LI707_EINVAL;
	/* Stop accepting: quiesce every daemon, then close the listening sockets. */
	for (size_t i = 0; i < s->nl; i++) {
		daemon_quiesce(s->l[i].d, s->l[i].dc);
		if (s->l[i].fd >= 0) {
			close(s->l[i].fd);
			s->l[i].fd = -1;
		}
	}
	/* Let in-flight requests finish, including those whose bytes arrived but that MHD has
	 * not handed to us yet (busy_conns). Idle keep-alive connections do not count. Two quiet
	 * looks 20 ms apart: bytes MHD has just read become a request (active) in between. */
	int rc = 0;
	unsigned waited_ms = 0, quiet = 0;
	while (quiet < 2) {
		if (atomic_load(&s->active) > 0 || busy_conns(s))
			quiet = 0;
		else if (++quiet >= 2)
			break;
		if (waited_ms >= s->cfg.limits.drain_timeout_s * 1000u) {
			rc = LI707_ELIMIT;
			break;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
		waited_ms += 20;
	}
	pthread_mutex_lock(&s->mu);
	reap_old(s, true);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->nl; i++) {
		stop_daemon(s->l[i].d, s->l[i].dc);
		s->l[i].d = NULL;
		s->l[i].dc = NULL;
	}
	atomic_store(&s->stopped, true);
	return rc;
}

void lx_http_server_free(struct lx_http_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	reap_old(s, true);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->nl; i++) {
		stop_daemon(s->l[i].d, s->l[i].dc);
		if (s->l[i].fd >= 0)
			close(s->l[i].fd);
	}
	if (s->wstarted) {
		pthread_mutex_lock(&s->wmu);
		s->wstop = true;
		pthread_cond_signal(&s->wcv);
		pthread_mutex_unlock(&s->wmu);
		pthread_join(s->wthr, NULL);
	}
	gen_unref(s->g);
	free(s->prio_cert);
	free(s->prio_psk);
	pgen_unref(s->pg);
	pthread_cond_destroy(&s->wcv);
	pthread_mutex_destroy(&s->wmu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void lx_http_server_stats(const struct lx_http_server *s, struct lx_http_stats *st)
{
	if (!s || !st)
		return;
	struct lx_http_server *m = (struct lx_http_server *)s;
	st->requests = atomic_load(&m->requests);
	st->refused_auth = atomic_load(&m->refused_auth);
	st->body_bytes = atomic_load(&m->body_bytes);
	st->active_requests = atomic_load(&m->active);
	st->reloads = atomic_load(&m->reloads);
	st->header_timeouts = atomic_load(&m->header_cuts);
	for (size_t i = 0; i < LX_REFUSED_N; i++)
		st->refused[i] = atomic_load(&m->refusals[i]);
}
