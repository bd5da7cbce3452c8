/* li707-csp - binary content in the daemon: Model A/C server, Model B push, retention.
 * See csp_run_binary.h.
 *
 * DESIGN
 * - File server: one lx_http_server with the [csp] cert/key/cacert and the [lea] identities
 *   as its peers (names = LEA names), certificate listeners on files_listen and PSK ones on
 *   files_listen_psk, handler csp_files. The lookup turns the URL's base64url token into the
 *   store's hex, reads the row (state stored only: a removed object is unknown) and allows
 *   the LEA of the object's reference; a B object is never served (unknown).
 * - Push: per LEA with Model B one thread owning an lx_http_client with the LEA's TLS
 *   credentials (never the client deliveries use, R-BIN-2), `connections` slots, at most
 *   connections - 1 bodies above CSP_PUSH_LARGE at once (docs/internals/csp-push.md). The
 *   store says what is due (csp_store_push_due: Model B, its delivery done, R-BIN-B2); each
 *   outcome is recorded (csp_store_push_result: stored / mismatch / refused, or retry with
 *   capped exponential backoff and jitter from retry_min/retry_max, at least the LEA's
 *   Retry-After) and audited (one PUSH record per outcome). A push abandoned by a stop or a
 *   crash stays due; li707-lea answers a push of what it holds complete 200 "already
 *   stored", so the object ends stored exactly once.
 * - Retention (tick): objects whose expiry + retention passed lose their spool file
 *   (csp_files_retention_sweep, inside SPOOL/objects only) and are marked removed.
 * - Nothing logged holds a target identifier, a token or a URL: LEA names, counts, sizes. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "csp_audit.h"
#include "csp_audit_queue.h"
#include "csp_files.h"
#include "csp_push.h"
#include "csp_run_binary.h"
#include "csp_xfer.h"
#include "http_client.h"
#include "http_server.h"
#include "li707/error.h"
#include "li707/util.h"
#include "log.h"
#include "metrics.h"

#define PUSH_SLOTS_MAX 16
#define SWEEP_MAX 1000 /* objects per retention pass */

struct slot {
	bool busy, large;
	struct csp_object o;
	char path[4200];
	char expiry[33];
	struct csp_push cp;
	struct pusher *p;
	struct lx_http_progress prog; /* the push's stage and bytes, read by the table */
	uint64_t xid;                 /* its entry in the transfer table, 0: none */
};

struct pusher {
	struct csp_binary *b;
	const struct csp_lea *lea;
	struct lx_http_client *c;
	pthread_t th;
	bool started;
	size_t n_slots;
	struct slot slots[PUSH_SLOTS_MAX];
};

struct csp_binary {
	const struct csp_config *c;
	struct csp_store *s;
	struct csp_audit *audit;
	char root[4200];
	struct csp_files *files;
	struct lx_http_server *srv;
	struct pusher *pushers;
	size_t n_pushers;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint_fast64_t active, pushed, retries, failed, removed;
	struct lx_metric *m_served, *m_bytes, *m_refused, *m_active, *m_removed;
	struct lx_metric_family *m_pushes;
	/* issue 11: transfers in progress and fetch audit records (csp_xfer.h, csp_audit_queue.h) */
	struct csp_xfer_table *xfers;
	struct csp_audit_queue *aq;
	struct lx_metric_family *m_xbytes, *m_xactive, *m_refusals, *m_fetches;
	struct lx_metric *m_audit_failed;
};

/* ---- URLs ---- */

int csp_binary_prefix(const char *files_url, char *out, size_t n)
{
	const char *p = files_url ? strstr(files_url, "://") : NULL;
	if (!p || !(p = strchr(p + 3, '/')))
		return LI707_EINVAL;
	const char *end = p + strlen(p);
	while (end > p && end[-1] == '/')
		end--;
	const char *seg = end;
	while (seg > p && seg[-1] != '/')
		seg--;
	size_t len = (size_t)(end - seg);
	if (!len)
		return LI707_EINVAL; /* "https://host/": no segment for the server's prefix */
	if (len >= n || len > CSP_FILES_PREFIX_MAX)
		return LI707_ELIMIT;
	memcpy(out, seg, len);
	out[len] = '\0';
	return 0;
}

int csp_binary_object_url(const struct csp_config *c, const struct csp_object *o, char *out,
			  size_t n)
{
	if (!c || !o || !out)
		return LI707_EINVAL;
	if (o->model == 'B') {
		const struct csp_lea *l = csp_config_lea(c, o->lea);
		if (!l || !l->modelb_url)
			return LI707_EINVAL;
		return csp_push_url(l->modelb_url, o->uuid, out, n);
	}
	if (!c->files_url || !csp_files_token_valid(o->token))
		return LI707_EINVAL;
	int m = snprintf(out, n, "%s%s", c->files_url, o->token); /* files_url ends in '/' */
	return m < 0 || (size_t)m >= n ? LI707_ELIMIT : 0;
}

/* ---- the file server ---- */

static int lookup(void *ud, const char *token, struct csp_files_object *out)
{
	struct csp_binary *b = ud;
	struct csp_object o;
	int rc = csp_store_object_by_token(b->s, token, &o);
	if (rc)
		return rc;
	if (o.model == 'B' || !o.path || strncmp(o.path, "objects/", 8) != 0) {
		csp_object_clear(&o);
		return LI707_ENOTFOUND;
	}
	snprintf(out->path, sizeof out->path, "%s", o.path + 8);
	out->size = o.size;
	memcpy(out->sha256, o.sha256, sizeof out->sha256);
	snprintf(out->content_type, sizeof out->content_type, "%s", o.content_type);
	out->expiry = o.expiry;
	snprintf(out->peer, sizeof out->peer, "%s", o.lea);
	out->key = o.id;
	out->ref = o.ref_id;
	csp_object_clear(&o);
	return 0;
}

/* ---- transfers in progress and fetch audit records (issue 11) ---- */

/* One request for a known token, from the handler's begin hook to the server's done(). */
struct serve {
	uint64_t xid;                      /* transfer table entry, 0: none (no body, table full) */
	enum csp_files_answer a;
	int64_t key, ref;
	char lea[CSP_FILES_PEER_MAX + 1];  /* the peer that asked */
	char range[CSP_XFER_RANGE_MAX + 1];
	unsigned status;
	uint64_t length;
};

static uint64_t serve_probe(const void *src, const char **stage)
{
	*stage = "sending";
	return lx_http_sent(src);
}

static void *files_begin(void *ud, struct lx_http_request *req, const struct csp_files_object *o,
			 enum csp_files_answer a)
{
	struct csp_binary *b = ud;
	struct serve *sv = calloc(1, sizeof *sv);
	if (!sv) {
		lx_err("file server: out of memory: a fetch goes unaudited");
		return NULL;
	}
	sv->a = a;
	sv->key = o->key;
	sv->ref = o->ref;
	snprintf(sv->lea, sizeof sv->lea, "%s", req->peer ? req->peer : "");
	if (a == CSP_FILES_SERVED) {
		struct lx_http_file_answer *fa = malloc(sizeof *fa);
		if (fa && lx_http_file_answer(req, fa) == 0) {
			sv->status = fa->status;
			sv->length = fa->length;
			uint64_t rg[LX_HTTP_ANSWER_RANGES][2];
			for (size_t i = 0; i < fa->n_ranges; i++)
				rg[i][0] = fa->ranges[i].first, rg[i][1] = fa->ranges[i].last;
			if (fa->status != 416) /* 416: no range was served */
				csp_xfer_range_text((const uint64_t(*)[2])rg, fa->n_ranges, sv->range);
			if (sv->length) {
				struct csp_xfer_start st = {.kind = CSP_XFER_SERVE, .lea = sv->lea,
							    .object = o->key, .size = o->size,
							    .length = sv->length, .range = sv->range,
							    .probe = serve_probe, .src = req};
				sv->xid = csp_xfer_begin(b->xfers, &st);
			}
		}
		free(fa);
	} else {
		sv->status = a == CSP_FILES_FILE_ERROR ? 500 : 404;
	}
	return sv;
}

static void files_end(void *ud, struct lx_http_request *req, void *user, bool ok)
{
	struct csp_binary *b = ud;
	struct serve *sv = user;
	uint64_t sent = sv->a == CSP_FILES_SERVED ? lx_http_sent(req) : 0;
	enum csp_audit_outcome oc = CSP_AUDIT_FAILED;
	switch (sv->a) {
	case CSP_FILES_SERVED: oc = ok ? CSP_AUDIT_SERVED : CSP_AUDIT_PARTIAL; break;
	case CSP_FILES_REFUSED_EXPIRED: oc = CSP_AUDIT_REFUSED_EXPIRED; break;
	case CSP_FILES_REFUSED_PEER: oc = CSP_AUDIT_REFUSED_PEER; break;
	case CSP_FILES_FILE_ERROR: oc = CSP_AUDIT_FAILED; break;
	}
	csp_xfer_end(b->xfers, sv->xid, csp_audit_outcome_name(oc), sent);
	if (b->m_fetches)
		lx_metric_inc(lx_metric_get(b->m_fetches, csp_audit_outcome_name(oc)));
	if (b->aq) {
		struct csp_audit_record r;
		csp_audit_record_init(&r, CSP_AUDIT_FETCH);
		r.outcome = oc;
		r.ref = sv->ref;
		r.lea = sv->lea[0] ? sv->lea : NULL;
		r.obj = sv->key;
		r.range = sv->a == CSP_FILES_SERVED && sv->range[0] ? sv->range : NULL;
		r.bytes = (int64_t)sent;
		r.http_status = (int)sv->status;
		int rc = csp_audit_queue_put(b->aq, &r);
		if (rc)
			lx_err("audit log: cannot queue a fetch record: %s", li707_strerror(rc));
	}
	free(sv);
}

static uint64_t push_probe(const void *src, const char **stage)
{
	const struct lx_http_progress *pg = src;
	*stage = lx_http_stage_name((enum lx_http_stage)atomic_load_explicit(&pg->stage,
									     memory_order_relaxed));
	return atomic_load_explicit(&pg->sent, memory_order_relaxed);
}

static void xfer_count(void *ud, enum csp_xfer_kind kind, const char *lea, uint64_t delta)
{
	struct csp_binary *b = ud;
	if (b->m_xbytes)
		lx_metric_add(lx_metric_get(b->m_xbytes, lea, csp_xfer_kind_name(kind)), delta);
}

struct csp_xfer_table *csp_binary_transfers(struct csp_binary *b)
{
	return b ? b->xfers : NULL;
}

static int files_start(struct csp_binary *b, char *err, size_t errlen)
{
	const struct csp_config *c = b->c;
	char prefix[CSP_FILES_PREFIX_MAX + 1];
	int rc = csp_binary_prefix(c->files_url, prefix, sizeof prefix);
	if (rc) {
		snprintf(err, errlen, "files_url: the file server answers /SEGMENT/TOKEN: files_url "
				      "needs a path (https://host/SEGMENT/)");
		return rc;
	}
	struct csp_files_config fc = {.prefix = prefix, .root = b->root, .lookup = lookup, .ud = b,
				      .begin = files_begin, .end = files_end};
	if ((rc = csp_files_new(&fc, &b->files, err, errlen)))
		return rc;
	struct lx_http_config hc = {
		.policy = (struct lx_tls_policy *)&c->policy,
		.peers = (struct lx_tls_peers *)&c->tls_peers,
		.creds = c->creds,
		.handler = csp_files_handler,
		.done = csp_files_done,
		.cls = b->files,
	};
	if ((rc = lx_http_server_new(&hc, &b->srv, err, errlen)))
		return rc;
	for (size_t i = 0; i < c->n_files_listen + c->n_files_listen_psk; i++) {
		bool psk = i >= c->n_files_listen;
		const char *a = psk ? c->files_listen_psk[i - c->n_files_listen] : c->files_listen[i];
		if ((rc = lx_http_server_listen(b->srv, a, psk, err, errlen)))
			return rc;
		lx_info("Model A/C file server on %s%s port %d", a, psk ? " (PSK)" : "",
			lx_http_server_port(b->srv, i));
	}
	return 0;
}

/* ---- Model B push ---- */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static int64_t backoff(const struct csp_lea *l, int64_t attempts, long retry_after)
{
	uint64_t lo = l->retry_min_s ? l->retry_min_s : 1, hi = l->retry_max_s ? l->retry_max_s : 300;
	uint64_t d = lo;
	for (int64_t i = 1; i < attempts && d < hi; i++)
		d *= 2;
	if (d > hi)
		d = hi;
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = 0;
	d += d > 1 ? r % (d / 2 + 1) : 0; /* jitter up to +50 % */
	if (retry_after > 0 && (uint64_t)retry_after > d)
		d = (uint64_t)retry_after;
	return (int64_t)d;
}

static void audit_push(struct csp_binary *b, const struct slot *sl, enum csp_audit_outcome oc)
{
	if (!b->audit)
		return;
	struct csp_audit_record r;
	csp_audit_record_init(&r, CSP_AUDIT_PUSH);
	r.outcome = oc;
	r.ref = sl->o.ref_id;
	r.lea = sl->o.lea;
	r.object = sl->o.uuid;
	r.bytes = (int64_t)sl->cp.result.bytes;
	r.http_status = (int)sl->cp.result.http_status;
	int rc = csp_audit_append(b->audit, &r);
	if (rc)
		lx_err("audit log: cannot append a push record: %s", li707_strerror(rc));
}

/* Records the outcome of the push in sl (result filled) and frees the slot. */
static void finish(struct slot *sl)
{
	struct pusher *p = sl->p;
	struct csp_binary *b = p->b;
	const struct csp_push_result *res = &sl->cp.result;
	const char *state = "retry";
	enum csp_audit_outcome oc = CSP_AUDIT_RETRY;
	int64_t next = 0;
	switch (res->verdict) {
	case LX_PUSH_STORED: state = "stored", oc = CSP_AUDIT_STORED; break;
	case LX_PUSH_MISMATCH: state = "mismatch", oc = CSP_AUDIT_MISMATCH; break;
	case LX_PUSH_REFUSED: state = "refused", oc = CSP_AUDIT_REFUSED; break;
	case LX_PUSH_RETRY:
		next = now_s() + backoff(p->lea, sl->o.push_attempts + 1, res->retry_after);
		break;
	}
	int rc = csp_store_push_result(b->s, sl->o.id, state, next, res->reason);
	if (rc)
		lx_err("lea %s: cannot record a push verdict (%s): it is pushed again",
		       p->lea->name, li707_strerror(rc));
	audit_push(b, sl, oc);
	if (res->verdict == LX_PUSH_STORED) {
		atomic_fetch_add(&b->pushed, 1);
		lx_info("lea %s: Model B object pushed: %s, %llu bytes", p->lea->name, state,
			(unsigned long long)res->bytes);
	} else if (res->verdict == LX_PUSH_RETRY) {
		atomic_fetch_add(&b->retries, 1);
		lx_warn("lea %s: Model B push to retry in %llds: %s", p->lea->name,
			(long long)(next - now_s()), res->reason);
	} else {
		atomic_fetch_add(&b->failed, 1);
		lx_warn("lea %s: Model B push %s: %s", p->lea->name, state, res->reason);
	}
	if (b->m_pushes)
		lx_metric_inc(lx_metric_get(b->m_pushes, p->lea->name, state));
	csp_xfer_end(b->xfers, sl->xid, state,
		     res->verdict == LX_PUSH_STORED ? res->bytes
		     : atomic_load_explicit(&sl->prog.sent, memory_order_relaxed));
	sl->xid = 0;
	csp_object_clear(&sl->o);
	sl->busy = false;
	atomic_fetch_sub(&b->active, 1);
}

static void push_done(void *ud, struct csp_push *cp)
{
	(void)cp;
	finish(ud);
}

static bool active_uuid(const struct pusher *p, int64_t id)
{
	for (size_t i = 0; i < p->n_slots; i++)
		if (p->slots[i].busy && p->slots[i].o.id == id)
			return true;
	return false;
}

/* Starts due pushes in free slots; returns how many are running. */
static size_t fill(struct pusher *p)
{
	struct csp_binary *b = p->b;
	size_t busy = 0, large = 0;
	for (size_t i = 0; i < p->n_slots; i++) {
		busy += p->slots[i].busy;
		large += p->slots[i].busy && p->slots[i].large;
	}
	if (busy == p->n_slots)
		return busy;
	struct csp_object *v = NULL;
	size_t n = 0;
	if (csp_store_push_due(b->s, p->lea->name, now_s(), p->n_slots * 2, &v, &n))
		return busy;
	for (size_t k = 0; k < n && busy < p->n_slots; k++) {
		if (active_uuid(p, v[k].id))
			continue;
		bool big = (int64_t)v[k].size > CSP_PUSH_LARGE;
		if (big && p->n_slots > 1 && large + 1 >= p->n_slots)
			continue; /* one slot stays for small objects (R-BIN-2) */
		struct slot *sl = NULL;
		for (size_t i = 0; i < p->n_slots && !sl; i++)
			if (!p->slots[i].busy)
				sl = &p->slots[i];
		sl->o = v[k];
		memset(&v[k], 0, sizeof v[k]);
		sl->p = p;
		sl->large = big;
		snprintf(sl->path, sizeof sl->path, "%s/%s", csp_store_spool(b->s), sl->o.path);
		struct li707_time t = {.epoch = sl->o.expiry};
		li707_time_format(&t, false, sl->expiry);
		struct csp_push_object po = {.uuid = sl->o.uuid, .path = sl->path,
					     .size = (int64_t)sl->o.size,
					     .content_type = sl->o.content_type,
					     .expiry = sl->expiry};
		memset(&sl->cp, 0, sizeof sl->cp);
		sl->cp.done = push_done;
		sl->cp.ud = sl;
		atomic_store(&sl->prog.stage, LX_HTTP_STAGE_QUEUED);
		atomic_store(&sl->prog.sent, 0);
		sl->cp.progress = &sl->prog;
		struct csp_xfer_start xs = {.kind = CSP_XFER_PUSH, .lea = p->lea->name,
					    .object = sl->o.id, .size = sl->o.size,
					    .length = sl->o.size,
					    .attempt = (int)sl->o.push_attempts + 1,
					    .probe = push_probe, .src = &sl->prog};
		sl->xid = csp_xfer_begin(b->xfers, &xs);
		sl->busy = true;
		atomic_fetch_add(&b->active, 1);
		busy++;
		large += big;
		int rc = csp_push_start(p->c, &sl->cp, p->lea->modelb_url, &po,
					(long)p->lea->expect_timeout_s * 1000);
		if (rc == -ETIME || rc == LI707_EMISMATCH) {
			finish(sl);
			busy--, large -= big;
		} else if (rc) {
			/* not started (a missing file, a full queue): later, with the backoff */
			sl->cp.result.verdict = LX_PUSH_RETRY;
			sl->cp.result.retry_after = -1;
			snprintf(sl->cp.result.reason, sizeof sl->cp.result.reason,
				 "not started: %s", li707_strerror(rc));
			finish(sl);
			busy--, large -= big;
		}
	}
	csp_objects_free(v, n);
	return busy;
}

static void *push_main(void *arg)
{
	struct pusher *p = arg;
	struct csp_binary *b = p->b;
	while (!atomic_load(&b->stop)) {
		size_t busy = fill(p);
		if (busy) {
			lx_http_run(p->c, 500);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_mutex_lock(&b->mu);
		if (!atomic_load(&b->stop))
			pthread_cond_timedwait(&b->cv, &b->mu, &ts);
		pthread_mutex_unlock(&b->mu);
	}
	return NULL;
}

static int pusher_new(struct csp_binary *b, size_t li, struct pusher *p, char *err,
		      size_t errlen)
{
	const struct csp_config *c = b->c;
	const struct csp_lea *l = &c->leas[li];
	const struct lx_tls_peer *tp = &c->tls_peers.v[li];
	p->b = b;
	p->lea = l;
	p->n_slots = l->connections ? (size_t)l->connections : 2;
	if (p->n_slots > PUSH_SLOTS_MAX)
		p->n_slots = PUSH_SLOTS_MAX;
	struct lx_http_client_opts o = {
		.tls = &c->policy,
		.cert_file = l->client_cert,
		.key_file = l->client_key,
		.ca_file = l->ca,
		.max_host_connections = (long)p->n_slots,
		.max_active = (long)p->n_slots,
		.low_speed_time = 60,
	};
	if (!l->client_cert && tp->psk_identity && tp->psk) {
		o.psk_identity = tp->psk_identity;
		o.psk = tp->psk;
		o.psk_len = tp->psk_len;
	}
	int rc = lx_http_client_new(&o, &p->c, err, errlen);
	if (rc)
		return rc;
	if (pthread_create(&p->th, NULL, push_main, p) != 0)
		return LI707_ENOMEM;
	p->started = true;
	return 0;
}

/* ---- lifecycle ---- */

static void metrics_new(struct csp_binary *b, struct lx_metrics *r)
{
	if (!r)
		return;
	struct lx_metric_family *f;
	if ((f = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_files_served_total",
				   "Model A/C answers to the allowed LEA (200/206/416).", NULL,
				   NULL, 0)))
		b->m_served = lx_metric_get(f);
	if ((f = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_files_bytes_total",
				   "Bytes of the Model A/C objects answered to GETs.", NULL, NULL,
				   0)))
		b->m_bytes = lx_metric_get(f);
	if ((f = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_files_refused_total",
				   "Model A/C requests refused (unknown, expired, another peer, "
				   "malformed: one answer for all).", NULL, NULL, 0)))
		b->m_refused = lx_metric_get(f);
	if ((f = lx_metrics_family(r, LX_METRIC_GAUGE, "li707_csp_pushes_active",
				   "Model B pushes in progress.", NULL, NULL, 0)))
		b->m_active = lx_metric_get(f);
	if ((f = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_objects_removed_total",
				   "Spool files removed after expiry + retention.", NULL, NULL, 0)))
		b->m_removed = lx_metric_get(f);
	b->m_pushes = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_pushes_total",
					"Model B push outcomes by LEA and state (stored, mismatch, "
					"refused, retry).", "lea,state", NULL, 0);
	b->m_xbytes = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_transfer_bytes_total",
					"Bytes of binary objects sent, by LEA and kind (push: Model B "
					"bodies; serve: Model A/C answers), counted while they move.",
					"lea,kind", NULL, 0);
	b->m_xactive = lx_metrics_family(r, LX_METRIC_GAUGE, "li707_csp_transfers_active",
					 "Binary transfers in progress by kind (push, serve).", "kind",
					 NULL, 0);
	b->m_refusals = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_files_refusals_total",
					  "Model A/C requests refused, by reason (malformed, unknown, "
					  "expired, peer, lookup_error); the client sees one 404 for all.",
					  "reason", NULL, 0);
	b->m_fetches = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_fetches_total",
					 "Answers to requests for known Model A/C objects by audited "
					 "outcome (served, partial, refused-wrong-client, "
					 "refused-expired, failed).", "outcome", NULL, 0);
	if ((f = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_csp_audit_fetch_failed_total",
				   "Fetch audit records the audit log could not append.", NULL, NULL,
				   0)))
		b->m_audit_failed = lx_metric_get(f);
}

/* issue 11: the transfer table and the fetch records' audit queue (before any thread). */
static int transfers_start(struct csp_binary *b)
{
	int rc = csp_xfer_new(NULL, NULL, &b->xfers);
	if (rc)
		return rc;
	csp_xfer_set_count(b->xfers, xfer_count, b);
	if (b->audit)
		rc = csp_audit_queue_new(b->audit, &b->aq);
	return rc;
}

/* After the server drained and the pushers stopped: the queued fetch records are written. */
static void transfers_stop(struct csp_binary *b)
{
	csp_audit_queue_free(b->aq);
	b->aq = NULL;
	csp_xfer_free(b->xfers);
	b->xfers = NULL;
}

static void transfers_tick(struct csp_binary *b)
{
	csp_xfer_sample(b->xfers);
	if (b->m_xactive) {
		lx_metric_gauge_set(lx_metric_get(b->m_xactive, "push"),
				    (double)csp_xfer_active(b->xfers, CSP_XFER_PUSH));
		lx_metric_gauge_set(lx_metric_get(b->m_xactive, "serve"),
				    (double)csp_xfer_active(b->xfers, CSP_XFER_SERVE));
	}
	if (b->m_refusals && b->files) {
		struct csp_files_stats f;
		csp_files_stats(b->files, &f);
		lx_metric_set(lx_metric_get(b->m_refusals, "malformed"), (double)f.refused_malformed);
		lx_metric_set(lx_metric_get(b->m_refusals, "unknown"), (double)f.refused_unknown);
		lx_metric_set(lx_metric_get(b->m_refusals, "expired"), (double)f.refused_expired);
		lx_metric_set(lx_metric_get(b->m_refusals, "peer"), (double)f.refused_peer);
		lx_metric_set(lx_metric_get(b->m_refusals, "lookup_error"), (double)f.lookup_errors);
	}
	uint64_t failed = 0;
	csp_audit_queue_stats(b->aq, NULL, &failed);
	if (b->m_audit_failed)
		lx_metric_set(b->m_audit_failed, (double)failed);
}

int csp_binary_start(const struct csp_config *c, struct csp_store *s, struct csp_audit *audit,
		     struct lx_metrics *reg, struct csp_binary **out, char *err, size_t errlen)
{
	struct csp_binary *b = calloc(1, sizeof *b);
	if (!b)
		return LI707_ENOMEM;
	b->c = c;
	b->s = s;
	b->audit = audit;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	snprintf(b->root, sizeof b->root, "%s/objects", csp_store_spool(s));
	metrics_new(b, reg);
	int rc = transfers_start(b);
	if (!rc && c->n_files_listen + c->n_files_listen_psk)
		rc = files_start(b, err, errlen);
	size_t nb = 0;
	for (size_t i = 0; i < c->n_leas; i++)
		nb += (c->leas[i].models & CSP_MODEL_B) && c->leas[i].modelb_url;
	if (!rc && nb && !(b->pushers = calloc(nb, sizeof *b->pushers)))
		rc = LI707_ENOMEM;
	for (size_t i = 0; !rc && i < c->n_leas; i++) {
		if (!(c->leas[i].models & CSP_MODEL_B) || !c->leas[i].modelb_url)
			continue;
		rc = pusher_new(b, i, &b->pushers[b->n_pushers++], err, errlen);
	}
	if (rc) {
		csp_binary_stop(b);
		return rc;
	}
	if (b->n_pushers)
		lx_info("Model B push: %zu LEA%s", b->n_pushers, b->n_pushers == 1 ? "" : "s");
	*out = b;
	return 0;
}

void csp_binary_stats(const struct csp_binary *b, struct csp_binary_stats *st)
{
	memset(st, 0, sizeof *st);
	if (!b)
		return;
	if (b->files) {
		struct csp_files_stats f;
		csp_files_stats(b->files, &f);
		st->served = f.served;
		st->served_bytes = f.bytes;
		st->refused = f.refused_malformed + f.refused_unknown + f.refused_expired +
			      f.refused_peer + f.lookup_errors;
	}
	st->pushes_active = atomic_load(&b->active);
	st->pushed = atomic_load(&b->pushed);
	st->push_retries = atomic_load(&b->retries);
	st->push_failed = atomic_load(&b->failed);
	st->removed = atomic_load(&b->removed);
}

static void sweep(struct csp_binary *b)
{
	int64_t now = now_s(), ret = (int64_t)b->c->retention_s;
	struct csp_object *v = NULL;
	size_t n = 0;
	if (csp_store_objects_expired(b->s, now - ret, SWEEP_MAX, &v, &n) || !n) {
		csp_objects_free(v, n);
		return;
	}
	struct csp_files_expired *e = calloc(n, sizeof *e);
	if (!e) {
		csp_objects_free(v, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		e[i].path = strncmp(v[i].path, "objects/", 8) == 0 ? v[i].path + 8 : v[i].path;
		e[i].expiry = v[i].expiry;
	}
	size_t removed = 0, marked = 0, failed = 0;
	int rc = csp_files_retention_sweep(b->root, now, ret, e, n, &removed);
	for (size_t i = 0; !rc && i < n; i++) {
		if (e[i].result == 0 || e[i].result == LI707_ENOTFOUND) {
			if (csp_store_object_removed(b->s, v[i].id) == 0)
				marked++;
		} else if (e[i].result != 1) {
			failed++;
		}
	}
	if (rc)
		lx_warn("retention: cannot open the spool's objects directory: %s",
			li707_strerror(rc));
	if (marked)
		lx_info("retention: %zu object%s past expiry + retention removed", marked,
			marked == 1 ? "" : "s");
	if (failed)
		lx_warn("retention: %zu object file%s could not be removed (tried again later)",
			failed, failed == 1 ? "" : "s");
	atomic_fetch_add(&b->removed, removed);
	free(e);
	csp_objects_free(v, n);
}

void csp_binary_tick(struct csp_binary *b)
{
	if (!b)
		return;
	sweep(b);
	transfers_tick(b);
	struct csp_binary_stats st;
	csp_binary_stats(b, &st);
	if (b->m_served)
		lx_metric_set(b->m_served, (double)st.served);
	if (b->m_bytes)
		lx_metric_set(b->m_bytes, (double)st.served_bytes);
	if (b->m_refused)
		lx_metric_set(b->m_refused, (double)st.refused);
	if (b->m_active)
		lx_metric_gauge_set(b->m_active, (double)st.pushes_active);
	if (b->m_removed)
		lx_metric_set(b->m_removed, (double)st.removed);
}

void csp_binary_stop(struct csp_binary *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	atomic_store(&b->stop, true);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	for (size_t i = 0; i < b->n_pushers; i++) {
		struct pusher *p = &b->pushers[i];
		if (p->started) {
			lx_http_client_wakeup(p->c);
			pthread_join(p->th, NULL);
		}
		lx_http_client_free(p->c); /* pushes in flight are abandoned: still due */
		for (size_t k = 0; k < p->n_slots; k++)
			if (p->slots[k].busy) {
				/* issue 11: its transfer entry reads the slot: end it first */
				csp_xfer_end(b->xfers, p->slots[k].xid, "abandoned",
					     atomic_load(&p->slots[k].prog.sent));
				lx_push_done(&p->slots[k].cp.p);
				csp_object_clear(&p->slots[k].o);
			}
	}
	free(b->pushers);
	if (b->srv) {
		lx_http_server_drain(b->srv);
		lx_http_server_free(b->srv);
	}
	transfers_stop(b);
	csp_files_free(b->files);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}
