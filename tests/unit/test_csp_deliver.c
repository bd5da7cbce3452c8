/* li707-csp delivery engine (src/csp/csp_deliver.c) against an in-process fake LEA on
 * src/common/http_server.c (mutual TLS with the test PKI of scripts/pki.sh) whose answers are
 * programmed per request: DELIVERResponse, ErrorInformation, 503 with Retry-After, 500,
 * garbage, a slow answer; plus a listener that closes every connection unanswered, and a
 * black hole that never answers. The queue is a fake too: it hands out every due delivery
 * (also later ones of a reference with one in flight), so the engine's own ordering is tested.
 * Checks: outcome classification (done / park / retry), order per reference, Retry-After and
 * backoff, a dead LEA not stalling another (R-RSP-1), wake-up, clean stop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "csp_deliver.h"
#include "csp_package.h"
#include "events.h"
#include "http_server.h"
#include "testutil.h"

static char pki[256];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *pk(const char *f)
{
	static char b[8][400];
	static int i;
	i = (i + 1) % 8;
	snprintf(b[i], sizeof b[i], "%s/%s", pki, f);
	return b[i];
}

/* ---- the fake LEA ---------------------------------------------------------------------- */

enum answer { A_ACK = 0, A_ERROR, A_503, A_503_DATE, A_500, A_GARBAGE, A_SLOW, A_SLOW_LONG,
	      A_404, A_413, A_429, A_408 };

#define LOG_MAX 512
struct arrival {
	char ref[64];
	uint64_t seq;
	enum answer answered;
};

struct fake_lea {
	pthread_mutex_t mu;
	enum answer script[64]; /* answers for the first requests, then A_ACK */
	size_t n_script, n_req;
	struct arrival log[LOG_MAX];
	size_t n_log;
	int open_per_ref_violations; /* a later seq arrived while an earlier was unanswered */
	char open_ref[16][64];
	uint64_t open_seq[16];
	size_t n_open;
	struct lx_http_server *srv;
	struct lx_tls_policy pol;
	struct lx_tls_peers peers;
	int port;
};

struct body {
	char *buf;
	size_t len;
};

static int body_cb(void *cls, struct lx_http_request *req, const void *data, size_t n)
{
	(void)cls;
	struct body *b = req->user;
	char *nb = realloc(b->buf, b->len + n + 1);
	if (!nb)
		return 500;
	memcpy(nb + b->len, data, n);
	b->len += n;
	nb[b->len] = '\0';
	b->buf = nb;
	return 0;
}

static int respond_msg(struct lx_http_request *req, struct li707_message *resp)
{
	char *xml = NULL;
	size_t len = 0;
	int rc = li707_message_encode(resp, &xml, &len, NULL);
	li707_message_free(resp);
	if (rc)
		return lx_http_respond_status(req, 500);
	rc = lx_http_respond_buf(req, 200, "application/xml", xml, len);
	free(xml);
	return rc;
}

static int lea_handler(void *cls, struct lx_http_request *req, enum lx_http_phase ph)
{
	struct fake_lea *f = cls;
	if (ph == LX_HTTP_BEGIN) {
		req->user = calloc(1, sizeof(struct body));
		return lx_http_body_to_cb(req, body_cb, f, 1 << 20);
	}
	struct body *b = req->user;
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	int rc = li707_message_decode(b->buf ? b->buf : "", b->len, NULL, &m, &d);
	if (rc || !m) {
		li707_diags_clear(&d);
		li707_message_free(m);
		return lx_http_respond_status(req, 400);
	}
	const struct li707_delivery *dl = m->actions[0].delivery;
	pthread_mutex_lock(&f->mu);
	enum answer a = f->n_req < f->n_script ? f->script[f->n_req] : A_ACK;
	f->n_req++;
	/* Order per reference: nothing later of a reference while an earlier one is open. */
	for (size_t i = 0; i < f->n_open; i++)
		if (strcmp(f->open_ref[i], dl->reference) == 0)
			f->open_per_ref_violations++;
	if (f->n_open < 16) {
		snprintf(f->open_ref[f->n_open], sizeof f->open_ref[0], "%s", dl->reference);
		f->open_seq[f->n_open++] = dl->sequence;
	}
	if (f->n_log < LOG_MAX) {
		struct arrival *ar = &f->log[f->n_log++];
		snprintf(ar->ref, sizeof ar->ref, "%s", dl->reference);
		ar->seq = dl->sequence;
		ar->answered = a;
	}
	pthread_mutex_unlock(&f->mu);
	if (a == A_SLOW)
		usleep(600 * 1000);
	if (a == A_SLOW_LONG)
		usleep(2500 * 1000);
	struct li707_message *resp = NULL;
	switch (a) {
	case A_ACK:
	case A_SLOW:
	case A_SLOW_LONG:
		rc = li707_response_for(m, &d, &resp) ? lx_http_respond_status(req, 500)
						      : respond_msg(req, resp);
		break;
	case A_ERROR:
		rc = li707_response_top_error(&m->header, LI707_EINVALID, "item refused by policy",
					      &resp)
			     ? lx_http_respond_status(req, 500)
			     : respond_msg(req, resp);
		break;
	case A_503:
		lx_http_add_header(req, "Retry-After", "1");
		rc = lx_http_respond_status(req, 503);
		break;
	case A_503_DATE: { /* Retry-After as an HTTP-date (IMF-fixdate), 3 s ahead */
		char date[64];
		time_t t = time(NULL) + 3;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		lx_http_add_header(req, "Retry-After", date);
		rc = lx_http_respond_status(req, 503);
		break;
	}
	case A_500: rc = lx_http_respond_status(req, 500); break;
	case A_404: rc = lx_http_respond_buf(req, 404, "text/plain", "no", 2); break;
	case A_413: rc = lx_http_respond_status(req, 413); break;
	case A_429: rc = lx_http_respond_status(req, 429); break;
	case A_408: rc = lx_http_respond_status(req, 408); break;
	case A_GARBAGE: rc = lx_http_respond_buf(req, 200, "text/html", "<html>oops</html>", 17); break;
	}
	/* The answer is queued: the reference is open no more. */
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n_open; i++) {
		if (strcmp(f->open_ref[i], dl->reference) == 0 && f->open_seq[i] == dl->sequence) {
			f->n_open--;
			memmove(&f->open_ref[i], &f->open_ref[i + 1], (f->n_open - i) * sizeof f->open_ref[0]);
			memmove(&f->open_seq[i], &f->open_seq[i + 1], (f->n_open - i) * sizeof f->open_seq[0]);
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
	li707_diags_clear(&d);
	li707_message_free(m);
	return rc;
}

static void lea_done(void *cls, struct lx_http_request *req, bool ok)
{
	(void)cls;
	(void)ok;
	struct body *b = req->user;
	if (b)
		free(b->buf);
	free(b);
	req->user = NULL;
}

static void lea_start(struct fake_lea *f, const enum answer *script, size_t n)
{
	memset(f, 0, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	if (n)
		memcpy(f->script, script, n * sizeof *script);
	f->n_script = n;
	assert_int_equal(lx_tls_policy_init(&f->pol), 0);
	f->peers.v = calloc(1, sizeof *f->peers.v);
	f->peers.n = 1;
	f->peers.v[0].name = tu_xstrdup("csp1");
	f->peers.v[0].san = tu_xstrdup("csp1.test");
	struct lx_http_config cfg = {
		.policy = &f->pol, .peers = &f->peers,
		.creds = {.cert = pk("server.pem"), .key = pk("server.key"), .cacert = pk("ca.pem")},
		.handler = lea_handler, .done = lea_done, .cls = f,
	};
	char err[256] = "";
	if (lx_http_server_new(&cfg, &f->srv, err, sizeof err) ||
	    lx_http_server_listen(f->srv, "127.0.0.1:0", false, err, sizeof err))
		fail_msg("fake LEA: %s", err);
	f->port = lx_http_server_port(f->srv, 0);
}

static void lea_stop(struct fake_lea *f)
{
	lx_http_server_free(f->srv);
	lx_tls_peers_clear(&f->peers);
	lx_tls_policy_done(&f->pol);
	pthread_mutex_destroy(&f->mu);
}

/* A TCP listener that accepts and closes at once (no TLS, no answer), or never answers. */
struct rude {
	int fd, port;
	bool close_at_once;
	pthread_t th;
	volatile bool stop;
};

static void *rude_main(void *arg)
{
	struct rude *r = arg;
	int held[64];
	size_t n = 0;
	while (!r->stop) {
		int c = accept(r->fd, NULL, NULL);
		if (c < 0)
			break;
		if (r->close_at_once || n >= 64)
			close(c);
		else
			held[n++] = c;
	}
	for (size_t i = 0; i < n; i++)
		close(held[i]);
	return NULL;
}

static void rude_start(struct rude *r, bool close_at_once)
{
	memset(r, 0, sizeof *r);
	r->close_at_once = close_at_once;
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(r->fd, 64), 0);
	socklen_t l = sizeof a;
	getsockname(r->fd, (struct sockaddr *)&a, &l);
	r->port = ntohs(a.sin_port);
	pthread_create(&r->th, NULL, rude_main, r);
}

static void rude_stop(struct rude *r)
{
	r->stop = true;
	shutdown(r->fd, SHUT_RDWR);
	pthread_join(r->th, NULL);
	close(r->fd);
}

/* ---- the fake queue -------------------------------------------------------------------- */

enum qstate { Q_READY, Q_INFLIGHT, Q_DONE, Q_PARKED };

struct qitem {
	int64_t id, ref_id;
	uint64_t seq;
	char object_id[LI707_UUID_LEN + 1];
	char *xml;
	size_t len;
	enum qstate state;
	int64_t next_try;
	uint32_t attempts;
	int64_t failed_at;       /* wall ms of the last failure */
	int64_t retry_delays[8]; /* next_try - failed_at per retry */
	char last_error[CSP_DELIVER_ERR_LEN];
	unsigned park_code;
};

struct fake_queue {
	pthread_mutex_t mu;
	struct qitem it[64];
	size_t n;
	size_t n_done, n_parked, n_retry;
	int bad_calls; /* outcome for an item not in flight */
	int64_t lag_ms; /* the queue's clock is this far behind the engine's */
};

static bool skipped(const int64_t *skip, size_t n, int64_t ref)
{
	for (size_t i = 0; i < n; i++)
		if (skip[i] == ref)
			return true;
	return false;
}

static int q_next(void *ud, const int64_t *skip, size_t n_skip, struct csp_delivery *out,
		  size_t max, size_t *n)
{
	struct fake_queue *q = ud;
	pthread_mutex_lock(&q->mu);
	int64_t now = now_ms() - q->lag_ms;
	size_t k = 0;
	/* items are added ordered by ref then seq */
	for (size_t i = 0; i < q->n && k < max; i++) {
		struct qitem *it = &q->it[i];
		if (it->state != Q_READY || it->next_try > now || skipped(skip, n_skip, it->ref_id))
			continue;
		out[k] = (struct csp_delivery){.id = it->id, .ref_id = it->ref_id, .seq = it->seq,
					       .len = it->len, .attempts = it->attempts};
		memcpy(out[k].object_id, it->object_id, sizeof out[k].object_id);
		out[k].xml = malloc(it->len + 1);
		memcpy(out[k].xml, it->xml, it->len + 1);
		it->state = Q_INFLIGHT; /* like the store: handed out = in flight ... */
		k++;
	}
	/* ... and what the engine hands back is ready again: the engine only keeps one per
	 * reference; the test fixes it up in the outcome callbacks (below). */
	*n = k;
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static struct qitem *q_find(struct fake_queue *q, int64_t id)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->it[i].id == id)
			return &q->it[i];
	return NULL;
}

/* Items handed out but not kept by the engine are "in flight" in the fake queue: make every
 * in-flight item of the same reference after the one answered ready again, as a store's
 * next() would simply return them again. */
static void q_release_later(struct fake_queue *q, const struct qitem *it)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->it[i].ref_id == it->ref_id && q->it[i].seq > it->seq &&
		    q->it[i].state == Q_INFLIGHT)
			q->it[i].state = Q_READY;
}

static void q_done(void *ud, int64_t id)
{
	struct fake_queue *q = ud;
	pthread_mutex_lock(&q->mu);
	struct qitem *it = q_find(q, id);
	if (!it || it->state != Q_INFLIGHT)
		q->bad_calls++;
	else {
		it->state = Q_DONE;
		q->n_done++;
		q_release_later(q, it);
	}
	pthread_mutex_unlock(&q->mu);
}

static void q_retry(void *ud, int64_t id, int64_t next_try, const char *error)
{
	struct fake_queue *q = ud;
	pthread_mutex_lock(&q->mu);
	struct qitem *it = q_find(q, id);
	if (!it || it->state != Q_INFLIGHT)
		q->bad_calls++;
	else {
		int64_t now = now_ms();
		if (it->attempts < 8)
			it->retry_delays[it->attempts] = next_try - now;
		it->attempts++;
		it->failed_at = now;
		it->state = Q_READY;
		it->next_try = next_try;
		snprintf(it->last_error, sizeof it->last_error, "%s", error);
		q->n_retry++;
		q_release_later(q, it);
	}
	pthread_mutex_unlock(&q->mu);
}

static void q_park(void *ud, int64_t id, unsigned code, const char *error)
{
	struct fake_queue *q = ud;
	pthread_mutex_lock(&q->mu);
	struct qitem *it = q_find(q, id);
	if (!it || it->state != Q_INFLIGHT)
		q->bad_calls++;
	else {
		it->state = Q_PARKED;
		it->park_code = code;
		snprintf(it->last_error, sizeof it->last_error, "%s", error);
		q->n_parked++;
		q_release_later(q, it);
	}
	pthread_mutex_unlock(&q->mu);
}

static const char *const refs[] = {"ACME-LI-0001", "ACME-LI-0002", "ACME-LI-0003"};

/* Adds nref references x nseq deliveries, packaged by csp_package. */
static void q_fill(struct fake_queue *q, size_t nref, size_t nseq)
{
	for (size_t r = 0; r < nref; r++) {
		char line[256];
		snprintf(line, sizeof line, "{\"liid\":\"%s\",\"timestamp\":\"2026-03-01T10:15:30Z\"}",
			 refs[r]);
		struct lx_event ev;
		char err[LX_EVENT_ERR_LEN];
		assert_int_equal(lx_event_parse(line, strlen(line), NULL, &ev, err, sizeof err), 0);
		for (size_t s = 1; s <= nseq; s++) {
			struct csp_package_ref pr = {
				.kind = LI707_REF_LIID, .reference = refs[r],
				.delivery_id = "7c0d5b4e-2f7a-4a51-9a55-6f0c1d2e3f40", .seq = s,
				.last = s == nseq, .sender_id = "acme", .receiver_id = "lea",
			};
			struct csp_package_out o = {0};
			assert_int_equal(csp_package_build(&pr, &ev.item, 1, &o, NULL), 0);
			struct qitem *it = &q->it[q->n];
			memset(it, 0, sizeof *it);
			it->id = (int64_t)q->n + 100;
			it->ref_id = (int64_t)r + 1;
			it->seq = s;
			memcpy(it->object_id, o.object_id, sizeof it->object_id);
			it->xml = o.xml;
			it->len = o.len;
			q->n++;
		}
		lx_event_clear(&ev);
	}
}

static void q_init(struct fake_queue *q)
{
	memset(q, 0, sizeof *q);
	pthread_mutex_init(&q->mu, NULL);
}

static void q_free(struct fake_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->it[i].xml);
	pthread_mutex_destroy(&q->mu);
}

static size_t q_settled(struct fake_queue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->n_done + q->n_parked;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Waits (up to 20 s: a functional bound, not a performance one) until want are settled. */
static void q_wait(struct fake_queue *q, size_t want)
{
	for (int i = 0; i < 2000 && q_settled(q) < want; i++)
		usleep(10 * 1000);
	if (q_settled(q) < want)
		fail_msg("only %zu of %zu deliveries settled", q_settled(q), want);
}

static struct csp_deliver *engine(struct fake_queue *q, int port, unsigned inflight,
				  long timeout_ms)
{
	char url[128];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/hi1", port);
	struct csp_deliver_opts o = {
		.name = "test", .url = url, .inflight = inflight, .retry_min_ms = 50,
		.retry_max_ms = 400, .poll_ms = 50,
		.http = {.cert_file = pk("csp1.pem"), .key_file = pk("csp1.key"),
			 .ca_file = pk("ca.pem"), .timeout_ms = timeout_ms},
	};
	struct csp_deliver_queue cb = {q_next, q_done, q_retry, q_park, q};
	struct csp_deliver *e = NULL;
	char err[256] = "";
	if (csp_deliver_new(&o, &cb, &e, err, sizeof err))
		fail_msg("csp_deliver_new: %s", err);
	assert_int_equal(csp_deliver_start(e), 0);
	return e;
}

/* Per reference the LEA saw non-decreasing SequenceNumbers, never two open at once. */
static void check_order(struct fake_lea *f)
{
	pthread_mutex_lock(&f->mu);
	assert_int_equal(f->open_per_ref_violations, 0);
	for (size_t i = 0; i < f->n_log; i++)
		for (size_t k = i + 1; k < f->n_log; k++)
			if (strcmp(f->log[i].ref, f->log[k].ref) == 0 && f->log[k].seq < f->log[i].seq)
				fail_msg("reference %zu: seq %llu arrived after seq %llu", i,
					 (unsigned long long)f->log[k].seq,
					 (unsigned long long)f->log[i].seq);
	pthread_mutex_unlock(&f->mu);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* TS103707 R-RSP-1, R-DEL-6: every delivery of three references is acknowledged, several in
 * flight, each reference in SequenceNumber order with one open at a time. */
static void test_R_RSP_1_all_done_in_order_per_reference(void **state)
{
	(void)state;
	struct fake_lea f;
	lea_start(&f, NULL, 0);
	struct fake_queue q;
	q_init(&q);
	q_fill(&q, 3, 5);
	struct csp_deliver *e = engine(&q, f.port, 4, 0);
	q_wait(&q, 15);
	assert_int_equal(csp_deliver_stop(e, 1000), 0);
	struct csp_deliver_stats st;
	csp_deliver_stats(e, &st);
	assert_int_equal(st.done, 15);
	assert_int_equal(st.sent, 15);
	assert_int_equal(st.retried + st.parked, 0);
	assert_int_equal(st.in_flight, 0);
	assert_true(st.last_success > 0);
	assert_int_equal(q.n_done, 15);
	assert_int_equal(q.bad_calls, 0);
	check_order(&f);
	csp_deliver_free(e);
	lea_stop(&f);
	q_free(&q);
}

/* R-RSP-1: an ErrorInformation parks the delivery (code and text kept, no identifier in the
 * text); the reference's later deliveries still go. */
static void test_R_RSP_1_error_information_parks(void **state)
{
	(void)state;
	static const enum answer script[] = {A_ERROR};
	struct fake_lea f;
	lea_start(&f, script, 1);
	struct fake_queue q;
	q_init(&q);
	q_fill(&q, 1, 3);
	struct csp_deliver *e = engine(&q, f.port, 2, 0);
	q_wait(&q, 3);
	csp_deliver_free(e);
	assert_int_equal(q.n_parked, 1);
	assert_int_equal(q.n_done, 2);
	assert_int_equal(q.it[0].state, Q_PARKED);
	assert_int_equal(q.it[0].park_code, li707_hi1_error_code(LI707_EINVALID, NULL));
	assert_non_null(strstr(q.it[0].last_error, "ErrorInformation"));
	assert_non_null(strstr(q.it[0].last_error, "item refused by policy"));
	assert_null(strstr(q.it[0].last_error, "ACME-LI"));
	assert_int_equal(q.n_retry, 0);
	check_order(&f);
	lea_stop(&f);
	q_free(&q);
}

/* 503 with Retry-After: 1 is retried no sooner than a second later (retry_max is 400 ms, so
 * only Retry-After explains the wait), then acknowledged; a later seq waits for it. */
static void test_503_retry_after_honoured(void **state)
{
	(void)state;
	static const enum answer script[] = {A_503};
	struct fake_lea f;
	lea_start(&f, script, 1);
	struct fake_queue q;
	q_init(&q);
	q_fill(&q, 1, 2);
	struct csp_deliver *e = engine(&q, f.port, 4, 0);
	q_wait(&q, 2);
	struct csp_deliver_stats st;
	csp_deliver_stats(e, &st);
	csp_deliver_free(e);
	assert_int_equal(q.n_done, 2);
	assert_int_equal(q.it[0].attempts, 1);
	assert_true(q.it[0].retry_delays[0] >= 900);
	assert_non_null(strstr(q.it[0].last_error, "503"));
	assert_int_equal(st.retried, 1);
	assert_non_null(strstr(st.last_error_text, "503"));
	check_order(&f);
	pthread_mutex_lock(&f.mu);
	assert_int_equal(f.n_log, 3);
	assert_int_equal(f.log[0].seq, 1);
	assert_int_equal(f.log[1].seq, 1);
	assert_int_equal(f.log[2].seq, 2);
	pthread_mutex_unlock(&f.mu);
	lea_stop(&f);
	q_free(&q);
}

/* Retry-After as an HTTP-date (RFC 9110 section 10.2.3) is honoured too. */
static void test_503_retry_after_http_date(void **state)
{
	(void)state;
	static const enum answer script[] = {A_503_DATE};
	struct fake_lea f;
	lea_start(&f, script, 1);
	struct fake_queue q;
	q_init(&q);
	q_fill(&q, 1, 1);
	struct csp_deliver *e = engine(&q, f.port, 1, 0);
	q_wait(&q, 1);
	csp_deliver_free(e);
	assert_int_equal(q.n_done, 1);
	assert_int_equal(q.it[0].attempts, 1);
	if (q.it[0].retry_delays[0] < 1900)
		fail_msg("retried after %lld ms, before the Retry-After date",
			 (long long)q.it[0].retry_delays[0]);
	lea_stop(&f);
	q_free(&q);
}

/* Order per reference with a queue whose clock lags the engine's by 300 ms (another host's
 * clock, a slewed clock, a store listing by next_try alone): when the failed seq 1 is due for
 * the engine but not yet for the queue, the queue offers seq 2 alone; it must not go first. */
static void test_R_DEL_6_order_kept_with_lagging_queue_clock(void **state)
{
	(void)state;
	static const enum answer script[] = {A_500};
	struct fake_lea f;
	lea_start(&f, script, 1);
	struct fake_queue q;
	q_init(&q);
	q.lag_ms = 300;
	q_fill(&q, 1, 2);
	struct csp_deliver *e = engine(&q, f.port, 2, 0);
	q_wait(&q, 2);
	csp_deliver_free(e);
	assert_int_equal(q.n_done, 2);
	check_order(&f);
	lea_stop(&f);
	q_free(&q);
}

/* 500, a 200 with garbage and an answer slower than the client's timeout are each retried
 * with backoff (never parked), and then the delivery is done. */
static void test_500_garbage_timeout_retried(void **state)
{
	(void)state;
	static const enum answer script[] = {A_500, A_GARBAGE, A_SLOW};
	struct fake_lea f;
	lea_start(&f, script, 3);
	struct fake_queue q;
	q_init(&q);
	q_fill(&q, 1, 1);
	struct csp_deliver *e = engine(&q, f.port, 1, 300);
	q_wait(&q, 1);
	csp_deliver_free(e);
	assert_int_equal(q.n_done, 1);
	assert_int_equal(q.n_parked, 0);
	assert_int_equal(q.it[0].attempts, 3);
	assert_non_null(strstr(q.it[0].last_error, "timeout"));
	/* backoff: at least retry_min, at most retry_max */
	for (int i = 0; i < 3; i++) {
		if (q.it[0].retry_delays[i] < 40 || q.it[0].retry_delays[i] > 420)
			fail_msg("retry %d after %lld ms, outside [50, 400]", i,
				 (long long)q.it[0].retry_delays[i]);
	}
	lea_stop(&f);
	usleep(700 * 1000); /* let the slow handler finish before the next test */
	q_free(&q);
}

/* A 4xx that refuses the request itself (404, 413) without an HI-1 body is permanent:
 * parked with the status as the error, not retried; 408 and 429 stay retryable. */
static void test_permanent_4xx_parks_408_429_retried(void **state)
{
	(void)state;
	static const enum answer script[] = {A_404, A_413, A_429, A_408};
	struct fake_lea f;
	lea_start(&f, script, 4);
	struct fake_queue q;
	q_init(&q);
	q_fill(&q, 1, 3); /* one reference, in order: 404, 413, then 429, 408, ack */
	struct csp_deliver *e = engine(&q, f.port, 1, 0);
	q_wait(&q, 3);
	csp_deliver_free(e);
	assert_int_equal(q.n_parked, 2);
	assert_int_equal(q.it[0].state, Q_PARKED);
	assert_int_equal(q.it[1].state, Q_PARKED);
	assert_non_null(strstr(q.it[0].last_error, "HTTP status 404"));
	assert_non_null(strstr(q.it[1].last_error, "HTTP status 413"));
	assert_int_equal(q.it[0].attempts, 0); /* never retried */
	assert_int_equal(q.it[1].attempts, 0);
	assert_int_equal(q.n_done, 1);
	assert_int_equal(q.it[2].attempts, 2); /* 429, 408 retried, then acknowledged */
	lea_stop(&f);
	q_free(&q);
}

/* A peer that closes every connection unanswered: retried with growing backoff, counted. */
static void test_connection_closed_retried(void **state)
{
	(void)state;
	struct rude r;
	rude_start(&r, true);
	struct fake_queue q;
	q_init(&q);
	q_fill(&q, 1, 1);
	struct csp_deliver *e = engine(&q, r.port, 1, 2000);
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&q.mu);
		size_t n = q.n_retry;
		pthread_mutex_unlock(&q.mu);
		if (n >= 3)
			break;
		usleep(10 * 1000);
	}
	(void)csp_deliver_stop(e, 0);
	struct csp_deliver_stats st;
	csp_deliver_stats(e, &st);
	csp_deliver_free(e);
	rude_stop(&r);
	assert_true(q.n_retry >= 3);
	assert_int_equal(q.n_done + q.n_parked, 0);
	assert_true(st.retried >= 3);
	assert_true(st.last_error > 0);
	assert_true(strstr(q.it[0].last_error, "tls") || strstr(q.it[0].last_error, "reset"));
	q_free(&q);
}

/* TS103707 R-RSP-1: two engines, one LEA dead (never answers), one live: every delivery to the
 * live one completes while the dead one's are still outstanding. */
static void test_R_RSP_1_dead_lea_does_not_stall_other(void **state)
{
	(void)state;
	struct rude dead;
	rude_start(&dead, false);
	struct fake_lea live;
	lea_start(&live, NULL, 0);
	struct fake_queue qd, ql;
	q_init(&qd);
	q_init(&ql);
	q_fill(&qd, 3, 3);
	q_fill(&ql, 3, 3);
	struct csp_deliver *ed = engine(&qd, dead.port, 4, 0);
	struct csp_deliver *el = engine(&ql, live.port, 4, 0);
	q_wait(&ql, 9);
	assert_int_equal(q_settled(&qd), 0);
	struct csp_deliver_stats sd;
	csp_deliver_stats(ed, &sd);
	assert_true(sd.in_flight > 0);
	/* Stop with a short drain: the dead engine's POSTs are handed back for a later try. */
	assert_int_equal(csp_deliver_stop(ed, 100), LI707_ELIMIT);
	assert_int_equal(csp_deliver_stop(el, 1000), 0);
	assert_true(qd.n_retry > 0);
	for (size_t i = 0; i < qd.n; i++)
		assert_int_not_equal(qd.it[i].state, Q_INFLIGHT);
	assert_non_null(strstr(qd.it[0].last_error, "stopped"));
	check_order(&live);
	csp_deliver_free(ed);
	csp_deliver_free(el);
	lea_stop(&live);
	rude_stop(&dead);
	q_free(&qd);
	q_free(&ql);
}

/* Clean stop: an answer slower than nothing but within the drain deadline still completes. */
static void test_stop_drains_in_flight(void **state)
{
	(void)state;
	static const enum answer script[] = {A_SLOW};
	struct fake_lea f;
	lea_start(&f, script, 1);
	struct fake_queue q;
	q_init(&q);
	q_fill(&q, 1, 1);
	struct csp_deliver *e = engine(&q, f.port, 1, 0);
	for (int i = 0; i < 500; i++) { /* until the LEA has the request */
		pthread_mutex_lock(&f.mu);
		size_t n = f.n_req;
		pthread_mutex_unlock(&f.mu);
		if (n)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(csp_deliver_stop(e, 5000), 0);
	assert_int_equal(q.n_done, 1);
	csp_deliver_free(e);
	lea_stop(&f);
	q_free(&q);
}

/* Wake-up: with poll_ms an hour, new work is seen only because csp_deliver_wake says so. */
static void test_wake_on_new_work(void **state)
{
	(void)state;
	struct fake_lea f;
	lea_start(&f, NULL, 0);
	struct fake_queue q;
	q_init(&q);
	char url[128];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/hi1", f.port);
	struct csp_deliver_opts o = {
		.url = url, .inflight = 2, .poll_ms = 3600 * 1000,
		.http = {.cert_file = pk("csp1.pem"), .key_file = pk("csp1.key"), .ca_file = pk("ca.pem")},
	};
	struct csp_deliver_queue cb = {q_next, q_done, q_retry, q_park, &q};
	struct csp_deliver *e = NULL;
	char err[256] = "";
	assert_int_equal(csp_deliver_new(&o, &cb, &e, err, sizeof err), 0);
	assert_int_equal(csp_deliver_start(e), 0);
	usleep(100 * 1000); /* the engine found nothing and sleeps */
	pthread_mutex_lock(&q.mu);
	q_fill(&q, 2, 2);
	pthread_mutex_unlock(&q.mu);
	csp_deliver_wake(e);
	q_wait(&q, 4);
	csp_deliver_free(e);
	lea_stop(&f);
	q_free(&q);
}

static void test_backoff_capped_exponential_full_jitter(void **state)
{
	(void)state;
	/* r = 0: never below retry_min */
	assert_int_equal(csp_deliver_backoff_ms(100, 10000, 1, 0.0), 100);
	/* the ceiling doubles per attempt: min * 2^attempts, capped at max */
	assert_true(csp_deliver_backoff_ms(100, 10000, 1, 0.999) <= 200);
	assert_true(csp_deliver_backoff_ms(100, 10000, 1, 0.999) >= 199);
	assert_true(csp_deliver_backoff_ms(100, 10000, 3, 0.999) >= 799);
	assert_true(csp_deliver_backoff_ms(100, 10000, 3, 0.999) <= 800);
	assert_int_equal(csp_deliver_backoff_ms(100, 10000, 4, 0.5), 800);
	assert_true(csp_deliver_backoff_ms(100, 10000, 40, 0.999) <= 10000);
	assert_true(csp_deliver_backoff_ms(100, 10000, UINT32_MAX, 0.999) >= 9990);
	/* bad settings are clamped, not trusted */
	assert_int_equal(csp_deliver_backoff_ms(0, -5, 3, 0.5), 1);
}

static void test_options_refused(void **state)
{
	(void)state;
	struct fake_queue q;
	q_init(&q);
	struct csp_deliver_queue cb = {q_next, q_done, q_retry, q_park, &q};
	struct csp_deliver *e = NULL;
	char err[256] = "";
	struct csp_deliver_opts o = {.url = "http://127.0.0.1:1/"};
	assert_int_equal(csp_deliver_new(&o, &cb, &e, err, sizeof err), LI707_EINVAL);
	assert_non_null(strstr(err, "https"));
	o.url = "https://127.0.0.1:1/";
	o.inflight = CSP_DELIVER_INFLIGHT_MAX + 1;
	assert_int_equal(csp_deliver_new(&o, &cb, &e, err, sizeof err), LI707_EINVAL);
	o.inflight = 1;
	o.retry_min_ms = 500;
	o.retry_max_ms = 100;
	assert_int_equal(csp_deliver_new(&o, &cb, &e, err, sizeof err), LI707_EINVAL);
	cb.park = NULL;
	o.retry_max_ms = 1000;
	assert_int_equal(csp_deliver_new(&o, &cb, &e, err, sizeof err), LI707_EINVAL);
	assert_null(e);
	q_free(&q);
}

static int setup(void **state)
{
	(void)state;
	snprintf(pki, sizeof pki, "%s/csp-deliver-pki-%d", LI707_BUILD_DIR, (int)getpid());
	char cmd[600];
	snprintf(cmd, sizeof cmd, "bash '%s/scripts/pki.sh' '%s' >/dev/null 2>&1", LI707_SOURCE_DIR,
		 pki);
	if (system(cmd) != 0) {
		print_message("pki.sh failed\n");
		return -1;
	}
	return lx_http_global_init();
}

static int teardown(void **state)
{
	(void)state;
	tu_rm_rf(pki);
	lx_http_global_cleanup();
	return 0;
}

int main(void)
{
	li707_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_capped_exponential_full_jitter),
		cmocka_unit_test(test_options_refused),
		cmocka_unit_test(test_R_RSP_1_all_done_in_order_per_reference),
		cmocka_unit_test(test_R_RSP_1_error_information_parks),
		cmocka_unit_test(test_503_retry_after_honoured),
		cmocka_unit_test(test_503_retry_after_http_date),
		cmocka_unit_test(test_R_DEL_6_order_kept_with_lagging_queue_clock),
		cmocka_unit_test(test_500_garbage_timeout_retried),
		cmocka_unit_test(test_permanent_4xx_parks_408_429_retried),
		cmocka_unit_test(test_connection_closed_retried),
		cmocka_unit_test(test_R_RSP_1_dead_lea_does_not_stall_other),
		cmocka_unit_test(test_stop_drains_in_flight),
		cmocka_unit_test(test_wake_on_new_work),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	li707_global_cleanup();
	return rc;
}
