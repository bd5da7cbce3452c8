/* li707-csp - the delivery engine of one LEA (csp_deliver.h).
 *
 * DESIGN
 * One thread per engine runs this loop until stopped:
 *   1. forget retry holds whose gate has passed (see struct held);
 *   2. while a slot is free, ask next() for ready deliveries of the references that have
 *      nothing in flight and no retry pending here, keep the first of each reference and hand
 *      the rest back (also a later one of a reference whose retried delivery is due but not
 *      offered again yet: the queue's clock may lag ours); POST each kept one on the
 *      engine's lx_http_client;
 *   3. drive the transfers (lx_http_run) or, with none in flight, sleep on the condition
 *      variable until csp_deliver_wake(), the next hold expiry or poll_ms.
 * A finished POST is judged in its done callback (inside lx_http_run, on this thread): the
 * outcome callback is called, the slot freed, and lx_http_run is woken so step 2 refills the
 * slot at once. Stopping: no new POST; those in flight get up to drain_ms; the rest are
 * handed back with retry(now) and cut when the engine (and its client) is freed.
 * The mutex guards only what other threads touch: the wake/stop flags and the counters. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "csp_deliver.h"

#define RESPONSE_MAX_DEFAULT ((size_t)1 << 20)
#define HELD_MAX 65536 /* references waiting for a retry here; more are simply not held */
#define GATE_MS 10000  /* after its retry time, a held reference's later deliveries still wait
			* this long for the held one to be offered again (it may be dropped) */
#define DESC_MAX 160   /* bytes of an LEA's ErrorDescription kept in an error text */

struct slot {
	bool used;
	struct csp_deliver *e;
	struct csp_post d;
	struct lx_http_result res;
};

/* A reference whose delivery seq waits for a retry. Times are wall-clock ms, the clock of the
 * queue's next_try, so that the hold ends exactly when the queue finds the delivery due. */
struct held {
	int64_t ref_id;
	uint64_t seq;
	int64_t until;      /* = next_try: the reference is left out of next() until then */
	int64_t gate_until; /* until then, or until seq is sent again, later seqs are refused */
};

struct csp_deliver {
	char *name, *url;
	struct csp_deliver_queue q;
	unsigned inflight;
	int64_t retry_min, retry_max, poll_ms;
	size_t max_response;
	struct lx_http_client *http;
	pthread_t thread;
	bool started, joined;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wake, stopping; /* under mu */
	long drain_ms;       /* under mu */
	int stop_rc;
	struct csp_deliver_stats st; /* under mu */
	/* engine thread only */
	struct slot *slots;
	unsigned n_used;
	struct held *held;
	size_t n_held, cap_held;
	uint64_t rng;
	struct csp_post *batch; /* next()'s output, inflight entries */
	int64_t *skip;              /* references left out, inflight + HELD_MAX */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: jitter needs spread, not secrecy. */
static double rng_next(struct csp_deliver *e)
{
	uint64_t x = e->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	e->rng = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
}

int64_t csp_deliver_backoff_ms(int64_t retry_min, int64_t retry_max, uint32_t attempts,
			       double r)
{
	if (retry_min < 1)
		retry_min = 1;
	if (retry_max < retry_min)
		retry_max = retry_min;
	int64_t cap = retry_min;
	for (uint32_t i = 0; i < attempts && cap < retry_max; i++)
		cap = cap > retry_max / 2 ? retry_max : cap * 2;
	if (cap > retry_max)
		cap = retry_max;
	if (r < 0)
		r = 0;
	if (r >= 1)
		r = 0.999999;
	int64_t d = (int64_t)(r * (double)cap);
	return d < retry_min ? retry_min : d;
}

/* ---- creation ---------------------------------------------------------------------------- */

int csp_deliver_new(const struct csp_deliver_opts *o, const struct csp_deliver_queue *q,
		    struct csp_deliver **out, char *err, size_t errlen)
{
	if (!o || !q || !out || !q->next || !q->done || !q->retry || !q->park) {
		snprintf(err, errlen, "delivery engine: options and every queue callback needed");
		return LI707_EINVAL;
	}
	if (!o->url || !li707_check_https_url(o->url)) {
		snprintf(err, errlen, "url: an https URL is needed (R-TRN-2, R-SEC-1)");
		return LI707_EINVAL;
	}
	unsigned inflight = o->inflight ? o->inflight : 4;
	if (inflight > CSP_DELIVER_INFLIGHT_MAX) {
		snprintf(err, errlen, "inflight: at most %d", CSP_DELIVER_INFLIGHT_MAX);
		return LI707_EINVAL;
	}
	int64_t rmin = o->retry_min_ms ? o->retry_min_ms : 1000;
	int64_t rmax = o->retry_max_ms ? o->retry_max_ms : 300000;
	if (rmin < 1 || rmax < rmin || o->poll_ms < 0) {
		snprintf(err, errlen, "retry_min must be positive and at most retry_max");
		return LI707_EINVAL;
	}
	struct csp_deliver *e = calloc(1, sizeof *e);
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return LI707_ENOMEM;
	}
	int rc;
	e->q = *q;
	e->inflight = inflight;
	e->retry_min = rmin;
	e->retry_max = rmax;
	e->poll_ms = o->poll_ms ? o->poll_ms : 1000;
	e->max_response = o->max_response ? o->max_response : RESPONSE_MAX_DEFAULT;
	e->name = strdup(o->name ? o->name : "lea");
	e->url = strdup(o->url);
	e->slots = calloc(inflight, sizeof *e->slots);
	e->batch = calloc(inflight, sizeof *e->batch);
	e->skip = calloc((size_t)inflight + HELD_MAX, sizeof *e->skip);
	if (!e->name || !e->url || !e->slots || !e->batch || !e->skip) {
		snprintf(err, errlen, "out of memory");
		rc = LI707_ENOMEM;
		goto fail;
	}
	struct lx_http_client_opts ho = o->http;
	if (!ho.max_host_connections)
		ho.max_host_connections = inflight < 64 ? (long)inflight : 64;
	if (!ho.max_active || ho.max_active < (long)inflight)
		ho.max_active = (long)inflight;
	if ((rc = lx_http_client_new(&ho, &e->http, err, errlen)))
		goto fail;
	if (getrandom(&e->rng, sizeof e->rng, 0) != (ssize_t)sizeof e->rng || e->rng == 0)
		e->rng = (uint64_t)wall_ms() | 1;
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = e;
	return 0;
fail:
	free(e->name);
	free(e->url);
	free(e->slots);
	free(e->batch);
	free(e->skip);
	free(e);
	return rc;
}

/* ---- outcomes ---------------------------------------------------------------------------- */

/* Printable ASCII of an LEA's text, at most DESC_MAX bytes (no control characters). */
static void clean_text(char *dst, size_t cap, const char *src)
{
	size_t n = 0;
	for (; src && *src && n + 1 < cap && n < DESC_MAX; src++)
		dst[n++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dst[n] = '\0';
}

enum verdict { V_DONE, V_PARK, V_RETRY };

/* 4xx answers that say the request itself is refused (RFC 9110 15.5): retrying the same
 * bytes cannot help. 408 and 429 are about timing and stay retryable, as do 5xx. */
static bool permanent_status(long st)
{
	static const long perm[] = {400, 401, 403, 404, 405, 411, 413, 414, 415};
	for (size_t i = 0; i < sizeof perm / sizeof perm[0]; i++)
		if (st == perm[i])
			return true;
	return false;
}

/* Judges one finished POST: the outcome, an error text, and the HI-1 ErrorCode of a park. */
static enum verdict judge(const struct slot *s, const struct lx_http_result *r, char *err,
			  size_t errlen, unsigned *code)
{
	if (r->err == LX_HTTP_ESTATUS && permanent_status(r->status)) {
		/* The LEA refused the request itself: resending the same bytes gets the same
		 * answer. An HI-1 body is judged like any answer (ErrorInformation: park);
		 * without one the status is the error, and the operator decides. */
		struct li707_message *m = NULL;
		(void)li707_message_decode(r->body ? r->body : "", r->body_len, NULL, &m, NULL);
		bool hi1 = m && m->kind == LI707_MSG_RESPONSE;
		li707_message_free(m);
		if (!hi1) {
			snprintf(err, errlen, "HTTP status %ld (refused: not retried)", r->status);
			*code = 0;
			return V_PARK;
		}
	} else if (r->err != LX_HTTP_OK) {
		if (r->err == LX_HTTP_ESTATUS)
			snprintf(err, errlen, "HTTP status %ld%s", r->status,
				 r->status == 503 ? " (service unavailable)" : "");
		else
			snprintf(err, errlen, "%s: %.200s", lx_http_errname(r->err), r->detail);
		return V_RETRY;
	}
	struct li707_message *resp = NULL;
	int rc = li707_message_decode(r->body ? r->body : "", r->body_len, NULL, &resp, NULL);
	if (!resp || resp->kind != LI707_MSG_RESPONSE) {
		snprintf(err, errlen, "HTTP status %ld with a body that is no HI-1 response (%s)",
			 r->status, li707_strerror(rc ? rc : LI707_EINVALID));
		li707_message_free(resp);
		return V_RETRY;
	}
	/* The request as li707_response_match needs it: one DELIVER, ActionIdentifier 0,
	 * Identifier = the ObjectIdentifier. */
	struct li707_delivery del = {0};
	memcpy(del.object_id, s->d.object_id, sizeof del.object_id);
	struct li707_action act = {.action_id = 0, .verb = LI707_VERB_DELIVER, .delivery = &del};
	struct li707_message req = {.kind = LI707_MSG_REQUEST, .actions = &act, .n_actions = 1};
	struct li707_action_outcome oc;
	(void)li707_response_match(&req, resp, &oc, NULL);
	enum verdict v;
	char desc[DESC_MAX + 1];
	switch (oc.outcome) {
	case LI707_OUTCOME_ACKED:
		v = V_DONE;
		err[0] = '\0';
		break;
	case LI707_OUTCOME_ERROR:
		v = V_PARK;
		*code = oc.error_code;
		clean_text(desc, sizeof desc, oc.error_description);
		snprintf(err, errlen, "ErrorInformation %u%s%s", oc.error_code, desc[0] ? ": " : "",
			 desc);
		break;
	default:
		v = V_RETRY;
		snprintf(err, errlen, "HI-1 response does not acknowledge the DELIVER (%s)",
			 li707_outcome_name(oc.outcome));
		break;
	}
	li707_message_free(resp);
	return v;
}

static void held_add(struct csp_deliver *e, int64_t ref_id, uint64_t seq, int64_t until)
{
	const struct held h = {ref_id, seq, until, until + GATE_MS};
	for (size_t i = 0; i < e->n_held; i++) {
		if (e->held[i].ref_id == ref_id) {
			e->held[i] = h;
			return;
		}
	}
	if (li707_array_grow((void **)&e->held, &e->cap_held, e->n_held + 1, sizeof *e->held,
			     HELD_MAX))
		return; /* not held here: the queue's next_try still holds it */
	e->held[e->n_held++] = h;
}

static void held_remove(struct csp_deliver *e, int64_t ref_id)
{
	for (size_t i = 0; i < e->n_held; i++) {
		if (e->held[i].ref_id == ref_id) {
			e->held[i] = e->held[--e->n_held];
			return;
		}
	}
}

static void held_expire(struct csp_deliver *e, int64_t now)
{
	for (size_t i = 0; i < e->n_held;) {
		if (e->held[i].gate_until <= now)
			e->held[i] = e->held[--e->n_held];
		else
			i++;
	}
}

static void slot_release(struct csp_deliver *e, struct slot *s)
{
	free(s->d.xml);
	lx_http_result_done(&s->res);
	memset(s, 0, sizeof *s);
	e->n_used--;
}

static void on_done(void *ud, struct lx_http_result *r)
{
	struct slot *s = ud;
	struct csp_deliver *e = s->e;
	char err[CSP_DELIVER_ERR_LEN];
	unsigned code = 0;
	enum verdict v = judge(s, r, err, sizeof err, &code);
	int64_t next_try = 0;
	if (v == V_RETRY) {
		int64_t d = csp_deliver_backoff_ms(e->retry_min, e->retry_max, s->d.attempts + 1,
						   rng_next(e));
		if (r->retry_after >= 0 && r->retry_after * 1000 > d) /* RFC 9110 10.2.3 */
			d = r->retry_after * 1000;
		next_try = wall_ms() + d;
		held_add(e, s->d.ref_id, s->d.seq, next_try);
	}
	switch (v) {
	case V_DONE: e->q.done(e->q.ud, s->d.id); break;
	case V_PARK: e->q.park(e->q.ud, s->d.id, code, err); break;
	case V_RETRY: e->q.retry(e->q.ud, s->d.id, next_try, err); break;
	}
	pthread_mutex_lock(&e->mu);
	e->st.sent++;
	if (v == V_DONE) {
		e->st.done++;
		e->st.last_success = wall_ms() / 1000;
	} else {
		if (v == V_PARK)
			e->st.parked++;
		else
			e->st.retried++;
		e->st.last_error = wall_ms() / 1000;
		snprintf(e->st.last_error_text, sizeof e->st.last_error_text, "%s", err);
	}
	e->st.in_flight = e->n_used - 1;
	pthread_mutex_unlock(&e->mu);
	slot_release(e, s);
	lx_http_client_wakeup(e->http); /* let the loop refill the slot */
}

/* ---- the loop ---------------------------------------------------------------------------- */

/* Whether seq of ref_id must not go now: the reference has a delivery in flight, or one
 * waiting for its retry time, or one that is due again but not offered yet while this one is
 * later (a queue whose clock or order differs from ours must not reorder a reference). */
static bool ref_busy(const struct csp_deliver *e, int64_t ref_id, uint64_t seq, int64_t now)
{
	for (unsigned i = 0; i < e->inflight; i++)
		if (e->slots[i].used && e->slots[i].d.ref_id == ref_id)
			return true;
	for (size_t i = 0; i < e->n_held; i++)
		if (e->held[i].ref_id == ref_id && (now < e->held[i].until || seq > e->held[i].seq))
			return true;
	return false;
}

static struct slot *slot_free(struct csp_deliver *e)
{
	for (unsigned i = 0; i < e->inflight; i++)
		if (!e->slots[i].used)
			return &e->slots[i];
	return NULL;
}

static void submit(struct csp_deliver *e, struct csp_post *d)
{
	struct slot *s = slot_free(e);
	held_remove(e, d->ref_id); /* the held delivery (or an earlier one) goes now */
	s->used = true;
	s->e = e;
	s->d = *d;
	memset(d, 0, sizeof *d);
	e->n_used++;
	struct lx_http_transfer t;
	lx_http_transfer_init(&t);
	t.url = e->url;
	t.post = true;
	t.content_type = "application/xml";
	t.body = s->d.xml;
	t.body_len = s->d.len;
	t.size_hint = (int64_t)s->d.len;
	t.max_body = e->max_response;
	t.done = on_done;
	t.done_ud = s;
	int rc = lx_http_submit(e->http, &t, &s->res);
	if (rc) { /* cannot happen below LX_HTTP_MAX_PENDING; hand it back */
		char err[CSP_DELIVER_ERR_LEN];
		snprintf(err, sizeof err, "internal: cannot queue the POST: %s", li707_strerror(rc));
		int64_t d_ms = csp_deliver_backoff_ms(e->retry_min, e->retry_max, 1, rng_next(e));
		int64_t next_try = wall_ms() + d_ms;
		held_add(e, s->d.ref_id, s->d.seq, next_try);
		e->q.retry(e->q.ud, s->d.id, next_try, err);
		slot_release(e, s);
	}
}

/* Step 2: fill free slots from the queue. */
static void fill(struct csp_deliver *e)
{
	unsigned free_slots = e->inflight - e->n_used;
	if (free_slots == 0)
		return;
	int64_t now = wall_ms();
	size_t n_skip = 0;
	for (unsigned i = 0; i < e->inflight; i++)
		if (e->slots[i].used)
			e->skip[n_skip++] = e->slots[i].d.ref_id;
	for (size_t i = 0; i < e->n_held; i++)
		if (now < e->held[i].until)
			e->skip[n_skip++] = e->held[i].ref_id;
	size_t n = 0;
	memset(e->batch, 0, free_slots * sizeof *e->batch);
	if (e->q.next(e->q.ud, e->skip, n_skip, e->batch, free_slots, &n) != 0)
		n = 0;
	if (n > free_slots)
		n = free_slots;
	for (size_t i = 0; i < n; i++) {
		struct csp_post *d = &e->batch[i];
		/* Order per reference: one in flight per reference, the lowest seq first. */
		bool later = ref_busy(e, d->ref_id, d->seq, now);
		for (size_t k = 0; k < n && !later; k++)
			later = k != i && e->batch[k].xml && e->batch[k].ref_id == d->ref_id &&
				e->batch[k].seq < d->seq;
		if (!later && d->xml) {
			submit(e, d);
		}
	}
	for (size_t i = 0; i < n; i++) { /* handed back */
		free(e->batch[i].xml);
		e->batch[i].xml = NULL;
	}
	pthread_mutex_lock(&e->mu);
	e->st.in_flight = e->n_used;
	pthread_mutex_unlock(&e->mu);
}

static int64_t next_hold_expiry(const struct csp_deliver *e, int64_t now, int64_t limit)
{
	int64_t w = limit;
	for (size_t i = 0; i < e->n_held; i++)
		if (e->held[i].until > now && e->held[i].until - now < w)
			w = e->held[i].until - now;
	return w < 0 ? 0 : w;
}

static void *engine_main(void *arg)
{
	struct csp_deliver *e = arg;
	pthread_setname_np(pthread_self(), "csp-post"); /* top, perf */
	for (;;) {
		pthread_mutex_lock(&e->mu);
		bool stopping = e->stopping;
		e->wake = false;
		pthread_mutex_unlock(&e->mu);
		if (stopping)
			break;
		int64_t now = wall_ms();
		held_expire(e, now);
		fill(e);
		int64_t wait = next_hold_expiry(e, now, e->poll_ms);
		if (e->n_used > 0) {
			(void)lx_http_run(e->http, (long)(wait > 0 ? wait : 1));
			continue;
		}
		pthread_mutex_lock(&e->mu);
		int64_t until = mono_ms() + wait;
		struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
		while (!e->wake && !e->stopping && mono_ms() < until)
			if (pthread_cond_timedwait(&e->cv, &e->mu, &ts) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&e->mu);
	}
	/* Drain: no new POST, those in flight may finish until the deadline. */
	pthread_mutex_lock(&e->mu);
	int64_t deadline = mono_ms() + e->drain_ms;
	pthread_mutex_unlock(&e->mu);
	for (int64_t left; e->n_used > 0 && (left = deadline - mono_ms()) > 0;)
		(void)lx_http_run(e->http, (long)left);
	e->stop_rc = 0;
	if (e->n_used > 0) {
		/* The rest are handed back; the client (freed with the engine) never runs them
		 * again, so their bodies can go now. */
		e->stop_rc = LI707_ELIMIT;
		for (unsigned i = 0; i < e->inflight; i++) {
			struct slot *s = &e->slots[i];
			if (!s->used)
				continue;
			e->q.retry(e->q.ud, s->d.id, wall_ms(),
				   "stopped before the LEA answered (sent again on start)");
			slot_release(e, s);
		}
	}
	pthread_mutex_lock(&e->mu);
	e->st.in_flight = 0;
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int csp_deliver_start(struct csp_deliver *e)
{
	if (!e || e->started)
		return LI707_EINVAL;
	int rc = pthread_create(&e->thread, NULL, engine_main, e);
	if (rc)
		return -rc;
	e->started = true;
	return 0;
}

void csp_deliver_wake(struct csp_deliver *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->wake = true;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
	lx_http_client_wakeup(e->http);
}

int csp_deliver_stop(struct csp_deliver *e, long drain_ms)
{
	if (!e || !e->started)
		return LI707_EINVAL;
	if (e->joined)
		return e->stop_rc;
	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	e->drain_ms = drain_ms < 0 ? 0 : drain_ms;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
	lx_http_client_wakeup(e->http);
	pthread_join(e->thread, NULL);
	e->joined = true;
	return e->stop_rc;
}

void csp_deliver_free(struct csp_deliver *e)
{
	if (!e)
		return;
	if (e->started)
		(void)csp_deliver_stop(e, 0);
	lx_http_client_free(e->http);
	for (unsigned i = 0; i < e->inflight; i++)
		if (e->slots[i].used)
			slot_release(e, &e->slots[i]);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e->held);
	free(e->slots);
	free(e->batch);
	free(e->skip);
	free(e->name);
	free(e->url);
	free(e);
}

void csp_deliver_stats(struct csp_deliver *e, struct csp_deliver_stats *st)
{
	if (!e || !st)
		return;
	pthread_mutex_lock(&e->mu);
	*st = e->st;
	pthread_mutex_unlock(&e->mu);
}
