/* li707-lea - metrics and health, see lea_metrics.h and docs/lea.md ("Metrics and health").
 *
 * Counters move in request_done (one per finished request); the store's figures (fsyncs,
 * commits, attachments by state, orphans) are read at each scrape in the collect hook, from
 * the store's own counters and a status walk on a read connection. */
#include "lea_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "li707/li707.h"
#include "store.h"


/* Commit latency buckets (seconds): an fdatasync here takes ~0.3 ms, a busy batch a few ms. */
static const double commit_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					0.05,   0.1,   0.25,   0.5,   1,    2.5};

struct lea_metrics {
	struct lx_metrics *reg;
	struct lx_metric_family *requests, *actions, *uploads, *attachments, *refused;
	struct lx_metric_family *fetch_objects;
	struct lx_metric *fetch_bytes, *fetch_retries, *fetch_range, *fetch_active;
	struct lx_metric *items, *modelb_bytes, *generation, *commit_seconds, *fsyncs, *commits,
		*orphans, *store_writable;
	struct lx_metrics_server *srv;
	struct lea_daemon *d;
	atomic_bool draining;
	/* Series of the per-request families, looked up once: lx_metric_get formats the labels
	 * and takes the family's mutex, too much for every request. Filled on first use, so the
	 * exposition shows only label sets that occurred. requests: [endpoint][status 100-599,
	 * 600 "server", 601 "aborted"]. */
	_Atomic(struct lx_metric *) req_series[3][602];
	_Atomic(struct lx_metric *) action_series[5];
};

/* The series in *slot, looked up (labels a, b; b unused by one-label families) when empty. */
static struct lx_metric *cached(_Atomic(struct lx_metric *) *slot, struct lx_metric_family *f,
				const char *a, const char *b)
{
	struct lx_metric *s = atomic_load_explicit(slot, memory_order_acquire);
	if (!s && (s = lx_metric_get(f, a, b)))
		atomic_store_explicit(slot, s, memory_order_release);
	return s;
}

/* The req_series column of a status word: its code, 600 "server", 601 "aborted", -1 other. */
static int status_slot(const char *st)
{
	if (strcmp(st, "server") == 0)
		return 600;
	if (strcmp(st, "aborted") == 0)
		return 601;
	if (st[0] >= '1' && st[0] <= '5' && st[1] >= '0' && st[1] <= '9' && st[2] >= '0' &&
	    st[2] <= '9' && !st[3])
		return (st[0] - '0') * 100 + (st[1] - '0') * 10 + (st[2] - '0');
	return -1;
}

static int count_states(void *cls, const struct lea_ref_status *st)
{
	uint64_t *att = cls;
	for (int i = 0; i < LEA_ATT_NSTATES; i++)
		att[i] += st->att[i];
	return 0;
}

static void collect(struct lx_metrics *r, void *arg)
{
	(void)r;
	struct lea_metrics *m = arg;
	if (m->d && m->d->srv) {
		struct lx_http_stats hs = {0};
		lx_http_server_stats(m->d->srv, &hs);
		for (int i = 0; i < LX_REFUSED_N; i++)
			if (hs.refused[i])
				lx_metric_set(lx_metric_get(m->refused, lx_http_refusal_name(i)),
					      (double)hs.refused[i]);
	}
	struct lea_store *store = m->d ? m->d->store : NULL;
	if (!store)
		return;
	struct lea_store_stats st;
	if (lea_store_stats(store, &st) == 0) {
		lx_metric_set(m->fsyncs, (double)st.fsyncs);
		lx_metric_set(m->commits, (double)st.commits);
		lx_metric_gauge_set(m->store_writable, st.writable ? 1 : 0);
	}
	uint64_t att[LEA_ATT_NSTATES] = {0};
	if (lea_store_status(store, NULL, count_states, att) != 0)
		return; /* the gauges keep their last values */
	for (int i = 0; i < LEA_ATT_NSTATES; i++)
		lx_metric_gauge_set(lx_metric_get(m->attachments, lea_att_state_name(i)), (double)att[i]);
	lx_metric_gauge_set(m->orphans, (double)att[LEA_ATT_ORPHAN]);
}

struct lea_metrics *lea_metrics_new(void)
{
	struct lea_metrics *m = calloc(1, sizeof *m);
	if (!m || !(m->reg = lx_metrics_new()))
		goto fail;
	struct lx_metrics *r = m->reg;
	m->requests = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_lea_requests_total",
					"HTTP requests by endpoint and answer status.",
					"endpoint,status", NULL, 0);
	m->actions = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_lea_actions_total",
				       "HI-1 actions by outcome (stored, duplicate, failed, invalid, denied).",
				       "outcome", NULL, 0);
	m->refused = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_lea_refused_connections_total",
				       "Connections refused before any request was handled, by reason "
				       "(R-SEC-2, R-SEC-4).",
				       "reason", NULL, 0);
	m->items = lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER,
						   "li707_lea_items_stored_total",
						   "handoverItems of stored DeliveryObjects.", NULL,
						   NULL, 0));
	m->uploads = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_lea_modelb_uploads_total",
				       "Model B uploads by verdict or resulting attachment state.",
				       "verdict", NULL, 0);
	m->modelb_bytes = lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER,
							  "li707_lea_modelb_bytes_total",
							  "Model B body bytes received.", NULL, NULL, 0));
	m->attachments = lx_metrics_family(r, LX_METRIC_GAUGE, "li707_lea_attachments",
					   "Attachments in the store by state.", "state", NULL, 0);
	m->orphans = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE, "li707_lea_orphan_uploads",
						     "Model B uploads whose record has not come yet "
						     "(R-BIN-B4).",
						     NULL, NULL, 0));
	m->commit_seconds = lx_metric_get(lx_metrics_family(
		r, LX_METRIC_HISTOGRAM, "li707_lea_store_commit_seconds",
		"Time a store write waits until it is durable (queue, commit, fdatasync).", NULL,
		commit_buckets, sizeof commit_buckets / sizeof commit_buckets[0]));
	m->fsyncs = lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER, "li707_lea_store_fsyncs_total",
						    "fdatasyncs of the store's WAL.", NULL, NULL, 0));
	m->commits = lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER,
						     "li707_lea_store_commits_total",
						     "Store transactions committed (batches).", NULL,
						     NULL, 0));
	m->store_writable = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE,
							    "li707_lea_store_writable",
							    "1 while the store accepts writes.", NULL,
							    NULL, 0));
	m->generation = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE,
							"li707_lea_config_generation",
							"Configurations loaded since start (1 = the "
							"first; each SIGHUP that applied adds one).",
							NULL, NULL, 0));
	m->fetch_bytes = lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER,
							 "li707_lea_fetch_bytes_total",
							 "Model A/C bytes received and written.",
							 NULL, NULL, 0));
	m->fetch_objects = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_lea_fetch_objects_total",
					     "Model A/C retrieval attempts by outcome (complete, "
					     "mismatch, expired, failed).",
					     "outcome", NULL, 0);
	m->fetch_retries = lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER,
							   "li707_lea_fetch_retries_total",
							   "Model A/C attempts that failed and will "
							   "be tried again.", NULL, NULL, 0));
	m->fetch_range = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE,
							 "li707_lea_fetch_range_bytes",
							 "The Model C range size of the last round "
							 "(Annex E: shrinks after failures, grows "
							 "after successes).", NULL, NULL, 0));
	m->fetch_active = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE,
							  "li707_lea_fetch_active",
							  "Model A/C objects being fetched now.", NULL,
							  NULL, 0));
	struct lx_metric *bi = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE, "li707_build_info",
							       "The running build.", "program,version",
							       NULL, 0),
					     "li707-lea", LI707_VERSION);
	if (!m->requests || !m->actions || !m->refused || !m->items || !m->uploads || !m->modelb_bytes ||
	    !m->attachments || !m->orphans || !m->commit_seconds || !m->fsyncs || !m->commits ||
	    !m->store_writable || !m->generation || !bi || !m->fetch_bytes || !m->fetch_objects ||
	    !m->fetch_retries || !m->fetch_range || !m->fetch_active)
		goto fail;
	lx_metric_gauge_set(bi, 1);
	for (int i = 0; i < LEA_ATT_NSTATES; i++) /* every state shown, also at 0 */
		lx_metric_get(m->attachments, lea_att_state_name(i));
	static const char *const outcomes[] = {"complete", "mismatch", "expired", "failed"};
	for (size_t i = 0; i < 4; i++)
		lx_metric_get(m->fetch_objects, outcomes[i]);
	lx_metrics_on_collect(r, collect, m);
	return m;
fail:
	lea_metrics_free(m);
	return NULL;
}

struct lx_metric *lea_metrics_commit_seconds(struct lea_metrics *m)
{
	return m ? m->commit_seconds : NULL;
}

static bool health(void *arg, char *why, size_t whylen)
{
	struct lea_metrics *m = arg;
	struct lea_store_stats st = {0};
	const char *bad = NULL;
	if (atomic_load(&m->draining))
		bad = "draining";
	else if (!m->d || !m->d->srv)
		bad = "listeners not up";
	else if (!m->d->store || lea_store_stats(m->d->store, &st) != 0 || !st.writable)
		bad = "store not writable";
	if (bad)
		snprintf(why, whylen, "%s", bad);
	return !bad;
}

int lea_metrics_serve(struct lea_metrics *m, const char *addr, struct lea_daemon *d,
		      int *port_out, char *err, size_t errlen)
{
	m->d = d;
	return lx_metrics_server_start(addr, m->reg, health, m, &m->srv, port_out, err, errlen);
}

void lea_metrics_request(struct lea_metrics *m, const struct lea_req *r, const char *status)
{
	static const char *const eps[] = {"other", "hi1", "binary"};
	if (!m)
		return;
	int col = status_slot(status);
	lx_metric_inc(col < 0 ? lx_metric_get(m->requests, eps[r->ep], status)
			      : cached(&m->req_series[r->ep][col], m->requests, eps[r->ep], status));
	const struct lea_ingest_result *x = &r->res;
	if (r->ep == LEA_EP_HI1 && x->http_status == 200 && !x->top_error) {
		static const char *const outcomes[] = {"stored", "duplicate", "failed", "invalid",
						       "denied"};
		const size_t n[] = {x->stored, x->duplicates, x->failed, x->invalid, x->denied};
		for (size_t i = 0; i < 5; i++)
			if (n[i])
				lx_metric_add(cached(&m->action_series[i], m->actions, outcomes[i], NULL),
					      n[i]);
		lx_metric_add(m->items, x->items_stored);
	}
	if (r->ep == LEA_EP_BINARY) {
		uint64_t bytes = 0;
		const char *v = lea_modelb_outcome(r, &bytes);
		if (v)
			lx_metric_inc(lx_metric_get(m->uploads, v));
		lx_metric_add(m->modelb_bytes, bytes);
	}
}

void lea_metrics_generation(struct lea_metrics *m)
{
	if (m)
		lx_metric_gauge_add(m->generation, 1);
}

void lea_metrics_draining(struct lea_metrics *m)
{
	if (m)
		atomic_store(&m->draining, true);
}

void lea_metrics_stop_serving(struct lea_metrics *m)
{
	if (!m)
		return;
	lx_metrics_server_stop(m->srv);
	m->srv = NULL;
}

void lea_metrics_free(struct lea_metrics *m)
{
	if (!m)
		return;
	lx_metrics_server_stop(m->srv);
	lx_metrics_free(m->reg);
	free(m);
}

/* ---- Model A/C retrieval (lea_fetch.c) ---- */

void lea_metrics_fetch_bytes(struct lea_metrics *m, uint64_t n)
{
	if (m && n)
		lx_metric_add(m->fetch_bytes, n);
}

void lea_metrics_fetch_outcome(struct lea_metrics *m, const char *outcome)
{
	if (m)
		lx_metric_inc(lx_metric_get(m->fetch_objects, outcome));
}

void lea_metrics_fetch_retry(struct lea_metrics *m)
{
	if (m)
		lx_metric_inc(m->fetch_retries);
}

void lea_metrics_fetch_range(struct lea_metrics *m, int64_t bytes)
{
	if (m)
		lx_metric_gauge_set(m->fetch_range, (double)bytes);
}

void lea_metrics_fetch_active(struct lea_metrics *m, int delta)
{
	if (m)
		lx_metric_gauge_add(m->fetch_active, delta);
}
