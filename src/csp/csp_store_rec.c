/* li707-csp - the engines' queue and the recorder (csp_store_rec.h).
 *
 * DESIGN. One mutex guards the queue (q: transitions put, not taken yet) and the batch being
 * recorded (cur). Both count as "pending" for the order rule: csp_rec_next leaves out every
 * reference that has an entry in either, until the store job that carries it has returned.
 * The recorder thread (or csp_rec_run) swaps up to CSP_STORE_REC_MAX entries from q to cur,
 * records them with csp_store_d_record (one job), appends the audit records of the done and
 * parked ones with csp_audit_append_batch (one fdatasync), logs what could not be recorded,
 * empties cur and calls `recorded`. Entries are recorded in the order they were put, so an
 * inflight mark always comes before the outcome of the same POST. Nothing here logs a
 * reference or content: ids, LEA names and the engine's error texts only (R-SEC-6). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csp.h"
#include "csp_audit.h"
#include "csp_store_int.h"
#include "csp_store_rec.h"
#include "li707/error.h"
#include "log.h"

struct entry {
	enum csp_drec_kind kind;
	int64_t id, ref_id, next_try;
	unsigned code;
	char lea[CSP_LEA_NAME_MAX + 1];
	char error[CSP_DELIVER_ERR_LEN];
};

struct csp_rec {
	struct csp_store *s;
	struct csp_audit *audit;
	void (*recorded)(void *ud);
	void *ud;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;     /* q, cur, stopping */
	pthread_cond_t cv;
	bool stopping;
	struct entry *q, *cur;
	size_t n_q, cap_q, n_cur;
	pthread_mutex_t run_mu; /* one batch at a time */
	/* the recorder's own buffers (run_mu) */
	struct csp_drec *drec;
	struct csp_audit_record *ar;
};

static int64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int csp_rec_put(struct csp_rec *r, const char *lea, enum csp_drec_kind kind, int64_t id,
		int64_t ref_id, int64_t next_try, unsigned code, const char *error)
{
	if (!r)
		return LI707_EINVAL;
	pthread_mutex_lock(&r->mu);
	if (r->n_q == r->cap_q) {
		size_t nc = r->cap_q ? r->cap_q * 2 : 64;
		struct entry *nv = realloc(r->q, nc * sizeof *nv);
		if (!nv) {
			pthread_mutex_unlock(&r->mu);
			return LI707_ENOMEM;
		}
		r->q = nv;
		r->cap_q = nc;
	}
	struct entry *e = &r->q[r->n_q++];
	e->kind = kind;
	e->id = id;
	e->ref_id = ref_id;
	e->next_try = next_try;
	e->code = code;
	snprintf(e->lea, sizeof e->lea, "%s", lea ? lea : "");
	snprintf(e->error, sizeof e->error, "%s", error ? error : "");
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

size_t csp_rec_pending(struct csp_rec *r)
{
	if (!r)
		return 0;
	pthread_mutex_lock(&r->mu);
	size_t n = r->n_q + r->n_cur;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static void log_failure(const struct entry *e, int rc)
{
	switch (e->kind) {
	case CSP_DREC_INFLIGHT: /* e.g. dropped by the operator meanwhile: its outcome says */
		lx_debug("lea %s: delivery %lld: in-flight mark not recorded: %s", e->lea,
			 (long long)e->id, li707_strerror(rc));
		break;
	case CSP_DREC_DONE:
		lx_warn("lea %s: delivery %lld acknowledged but not recorded: %s", e->lea,
			(long long)e->id, li707_strerror(rc));
		break;
	case CSP_DREC_FAIL:
		lx_warn("lea %s: delivery %lld: cannot record the retry: %s", e->lea,
			(long long)e->id, li707_strerror(rc));
		break;
	case CSP_DREC_PARK:
		lx_warn("lea %s: delivery %lld: cannot park it: %s", e->lea, (long long)e->id,
			li707_strerror(rc));
		break;
	}
}

size_t csp_rec_run(struct csp_rec *r)
{
	if (!r)
		return 0;
	pthread_mutex_lock(&r->run_mu);
	pthread_mutex_lock(&r->mu);
	size_t n = r->n_q < CSP_STORE_REC_MAX ? r->n_q : CSP_STORE_REC_MAX;
	/* cur is only ever non-empty inside this function, under run_mu; q may still be
	 * unallocated (NULL) when nothing was ever queued */
	if (n) {
		memcpy(r->cur, r->q, n * sizeof *r->q);
		memmove(r->q, r->q + n, (r->n_q - n) * sizeof *r->q);
		r->n_q -= n;
	}
	r->n_cur = n;
	pthread_mutex_unlock(&r->mu);
	if (!n) {
		pthread_mutex_unlock(&r->run_mu);
		return 0;
	}
	bool outcome = false;
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = &r->cur[i];
		r->drec[i] = (struct csp_drec){.kind = e->kind, .id = e->id,
					       .next_try = e->next_try,
					       .error = e->error[0] ? e->error : NULL};
		outcome |= e->kind != CSP_DREC_INFLIGHT;
	}
	int rc = csp_store_d_record(r->s, r->drec, n, now_s());
	size_t na = 0;
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = &r->cur[i];
		const struct csp_drec *d = &r->drec[i];
		if (d->rc) {
			log_failure(e, d->rc);
			continue;
		}
		if (e->kind == CSP_DREC_DONE) {
			lx_debug("lea %s: delivery %lld acknowledged", e->lea, (long long)e->id);
		} else if (e->kind == CSP_DREC_PARK) {
			lx_warn("lea %s: delivery %lld parked (li707-csp retry|drop %lld): %s", e->lea,
				(long long)e->id, (long long)e->id, e->error);
		}
		if (e->kind != CSP_DREC_DONE && e->kind != CSP_DREC_PARK)
			continue;
		struct csp_audit_record *a = &r->ar[na++];
		csp_audit_record_init(a, CSP_AUDIT_DELIVERY);
		a->outcome = e->kind == CSP_DREC_DONE ? CSP_AUDIT_DONE : CSP_AUDIT_PARKED;
		a->ref = d->ref_id;
		a->lea = e->lea;
		a->delivery = e->id;
		a->seq = d->seq;
		a->object = d->object_id;
		a->bytes = d->bytes;
		a->error_code = e->kind == CSP_DREC_PARK ? (int)e->code : 0;
	}
	(void)rc; /* every entry carries the job's error then, logged above */
	if (na && r->audit) {
		int arc = csp_audit_append_batch(r->audit, r->ar, na);
		if (arc)
			lx_warn("audit log: cannot append %zu delivery record%s: %s", na,
				na == 1 ? "" : "s", li707_strerror(arc));
	}
	pthread_mutex_lock(&r->mu);
	r->n_cur = 0;
	pthread_mutex_unlock(&r->mu);
	pthread_mutex_unlock(&r->run_mu);
	if (outcome && r->recorded)
		r->recorded(r->ud);
	return n;
}

static void *rec_main(void *arg)
{
	struct csp_rec *r = arg;
	pthread_setname_np(pthread_self(), "csp-rec"); /* top, perf */
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->n_q && !r->stopping)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->n_q && r->stopping)
			break;
		pthread_mutex_unlock(&r->mu);
		(void)csp_rec_run(r);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int csp_rec_new(const struct csp_rec_opts *o, struct csp_rec **out)
{
	if (!o || !o->s || !out)
		return LI707_EINVAL;
	struct csp_rec *r = calloc(1, sizeof *r);
	if (!r)
		return LI707_ENOMEM;
	r->s = o->s;
	r->audit = o->audit;
	r->recorded = o->recorded;
	r->ud = o->ud;
	r->cur = calloc(CSP_STORE_REC_MAX, sizeof *r->cur);
	r->drec = calloc(CSP_STORE_REC_MAX, sizeof *r->drec);
	r->ar = calloc(CSP_STORE_REC_MAX, sizeof *r->ar);
	if (!r->cur || !r->drec || !r->ar) {
		free(r->cur);
		free(r->drec);
		free(r->ar);
		free(r);
		return LI707_ENOMEM;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->run_mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (!o->manual) {
		int rc = pthread_create(&r->thread, NULL, rec_main, r);
		if (rc) {
			r->started = false;
			csp_rec_free(r);
			return -rc;
		}
		r->started = true;
	}
	*out = r;
	return 0;
}

void csp_rec_free(struct csp_rec *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stopping = true;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	while (csp_rec_run(r)) /* manual mode, or whatever came after the thread */
		;
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->run_mu);
	pthread_mutex_destroy(&r->mu);
	free(r->q);
	free(r->cur);
	free(r->drec);
	free(r->ar);
	free(r);
}

/* ---- the engines' queue --------------------------------------------------------------- */

struct next_rows {
	struct csp_delivery *v;
	size_t n, cap;
};

static int next_row(void *ud, sqlite3_stmt *st)
{
	struct next_rows *o = ud;
	if (o->n == o->cap)
		return 1; /* full */
	csp__delivery_from_row(st, &o->v[o->n++], false);
	return 0;
}

static bool in_list(const int64_t *v, size_t n, int64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* References with a transition queued or being recorded (malloc'd; *n may be 0). */
static int pending_refs(struct csp_rec *r, int64_t **out, size_t *n)
{
	pthread_mutex_lock(&r->mu);
	size_t k = r->n_q + r->n_cur;
	int64_t *v = malloc((k ? k : 1) * sizeof *v);
	if (!v) {
		pthread_mutex_unlock(&r->mu);
		return LI707_ENOMEM;
	}
	size_t m = 0;
	for (size_t i = 0; i < r->n_cur; i++)
		if (!in_list(v, m, r->cur[i].ref_id))
			v[m++] = r->cur[i].ref_id;
	for (size_t i = 0; i < r->n_q; i++)
		if (!in_list(v, m, r->q[i].ref_id))
			v[m++] = r->q[i].ref_id;
	pthread_mutex_unlock(&r->mu);
	*out = v;
	*n = m;
	return 0;
}

/* Per reference with a ready delivery (a skip scan over the deliveries_state index: one seek
 * per reference, whatever the number of deliveries done or queued behind), its lowest ready
 * one, when it is due and nothing earlier of the reference is in review or in flight (an
 * earlier ready one cannot exist: it would be the lowest). */
/* ?4: the references left out (the engine's skip list and pending_refs) as ",k1,k2,...,":
 * they are passed over on the index, before their delivery row (most of a page: the XML is
 * in it) is read. */
/* CSP__DELIVERY_COLS without the XML (NULL in its place): the candidates skipped here would
 * have their whole message read for nothing; the ones handed out read theirs alone. */
#define NEXT_COLS                                                                           \
	"d.id, d.lea, d.ref_id, d.seq, d.last, d.object_id, d.items, d.bytes, d.state,"  \
	" d.attempts, d.next_try, d.last_error, d.created_at, d.updated_at, NULL"
static const char NEXT_SQL[] =
	"WITH RECURSIVE r(ref) AS ("
	" SELECT (SELECT min(ref_id) FROM deliveries WHERE lea = ?1 AND state = 'ready')"
	" UNION ALL"
	" SELECT (SELECT min(ref_id) FROM deliveries WHERE lea = ?1 AND state = 'ready'"
	"  AND ref_id > r.ref) FROM r WHERE r.ref IS NOT NULL)"
	" SELECT " NEXT_COLS " FROM r JOIN deliveries d ON d.id = (SELECT id FROM"
	" deliveries WHERE lea = ?1 AND state = 'ready' AND ref_id = r.ref ORDER BY seq LIMIT 1)"
	" WHERE instr(?4, ',' || r.ref || ',') = 0 AND d.next_try <= ?2 AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.lea = ?1"
	" AND e.state IN ('review', 'inflight') AND e.ref_id = d.ref_id AND e.seq < d.seq)"
	" LIMIT ?3";

int csp_rec_next(struct csp_rec *r, const char *lea, int64_t now_ms, const int64_t *skip,
		 size_t n_skip, struct csp_post *out, size_t max, size_t *n)
{
	*n = 0;
	if (!r || !lea)
		return LI707_EINVAL;
	int64_t *pend = NULL;
	size_t n_pend = 0;
	int rc = pending_refs(r, &pend, &n_pend);
	if (rc)
		return rc;
	size_t cap = max;
	struct next_rows o = {.v = calloc(cap ? cap : 1, sizeof *o.v), .cap = cap};
	size_t n_out = n_skip + n_pend;
	char *out_list = malloc(n_out * 21 + 2); /* ",k" per key (at most 20 digits) and "," */
	if (!o.v || !out_list) {
		free(o.v);
		free(out_list);
		free(pend);
		return LI707_ENOMEM;
	}
	size_t at = 0;
	out_list[at++] = ',';
	for (size_t i = 0; i < n_out; i++) {
		int64_t k = i < n_skip ? skip[i] : pend[i - n_skip];
		int m = snprintf(out_list + at, 22, "%lld,", (long long)k);
		at += m > 0 ? (size_t)m : 0;
	}
	out_list[at] = '\0';
	rc = csp__read(r->s, NEXT_SQL, next_row, &o, "tiit", lea, now_ms, (int64_t)cap, out_list);
	free(out_list);
	if (rc < 0) {
		csp_deliveries_free(o.v, o.n);
		free(pend);
		return rc;
	}
	rc = 0;
	for (size_t i = 0; i < o.n && *n < max; i++) {
		struct csp_delivery *d = &o.v[i];
		if (in_list(skip, n_skip, d->ref_id) || in_list(pend, n_pend, d->ref_id))
			continue;
		struct csp_delivery full;
		if (csp_store_delivery_get(r->s, d->id, true, &full) != 0)
			continue;
		free(d->xml);
		d->xml = full.xml;
		d->xml_len = full.xml_len;
		full.xml = NULL;
		csp_delivery_clear(&full);
		if (!d->xml ||
		    csp_rec_put(r, lea, CSP_DREC_INFLIGHT, d->id, d->ref_id, 0, 0, NULL) != 0)
			continue;
		struct csp_post *x = &out[(*n)++];
		memset(x, 0, sizeof *x);
		x->id = d->id;
		x->ref_id = d->ref_id;
		x->seq = (uint64_t)d->seq;
		memcpy(x->object_id, d->object_id, sizeof x->object_id);
		x->xml = d->xml; /* the engine takes it */
		x->len = d->xml_len;
		d->xml = NULL;
		x->attempts = (uint32_t)d->attempts;
	}
	csp_deliveries_free(o.v, o.n);
	free(pend);
	return rc;
}
