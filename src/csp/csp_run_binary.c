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
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csp_audit.h"
#include "csp_audit_queue.h"
#include "csp_files.h"
#include "csp_push.h"
#include "csp_run_binary.h"
#include "csp_xfer.h"
#include "daemon.h"
#include "http_client.h"
#include "http_server.h"
#include "li707/error.h"
#include "li707/util.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"

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
	const struct csp_lea *lea; /* &own */
	struct csp_lea own;        /* the push's keys, copied: the pusher outlives its config */
	char *fp;                  /* what it was built from (SIGHUP compares it) */
	uint8_t *psk;
	size_t psk_len;
	struct lx_http_client *c;
	pthread_t th;
	bool started;
	atomic_bool stop;          /* this pusher only (SIGHUP) */
	size_t n_slots;
	struct slot slots[PUSH_SLOTS_MAX];
};

/* The file server's listeners, in the server's order (SIGHUP compares addresses). */
struct addr {
	char *a;
	bool psk;
};

/* What a reload prepared and may still take back (csp_binary_reload_prepare). */
struct pending {
	bool ready;
	size_t n_added;              /* listeners added at the end of srv (rolled back on error) */
	struct lx_tls_peers *peers;  /* the new allow-list, for set_peers */
	struct csp_files *files;     /* a new prefix (files_url) */
	struct lx_server srv;        /* a server started by the reload (none before) */
	bool new_srv;
	struct addr *addrs;          /* the new listener table */
	size_t n_addrs;
};

struct csp_binary {
	const struct csp_config *c; /* the generation in force (the daemon holds a reference) */
	struct csp_store *s;
	struct csp_audit *audit;
	char root[4200];
	struct csp_files *_Atomic files; /* the current one; replaced ones are kept in retired */
	struct csp_files **retired;
	size_t n_retired;
	struct lx_server srv;  /* srv.srv: the file server, or NULL */
	struct addr *addrs;
	size_t n_addrs;
	struct pending pend;
	struct pusher **pushers;
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

/* The server's handler: the current csp_files (a reload may replace it, for a new files_url;
 * the replaced one stays allocated until the stop, so a request never sees it freed). */
static int files_handler(void *cls, struct lx_http_request *req, enum lx_http_phase ph)
{
	struct csp_binary *b = cls;
	return csp_files_handler(atomic_load(&b->files), req, ph);
}

/* Its done(): the hooks (files_begin/files_end) are the same in every csp_files made here. */
static void files_done(void *cls, struct lx_http_request *req, bool ok)
{
	struct csp_binary *b = cls;
	csp_files_done(atomic_load(&b->files), req, ok);
}

static int files_new(struct csp_binary *b, const struct csp_config *c, struct csp_files **out,
		     char *err, size_t errlen)
{
	char prefix[CSP_FILES_PREFIX_MAX + 1];
	int rc = csp_binary_prefix(c->files_url, prefix, sizeof prefix);
	if (rc) {
		snprintf(err, errlen, "files_url: the file server answers /SEGMENT/TOKEN: files_url "
				      "needs a path (https://host/SEGMENT/)");
		return rc;
	}
	struct csp_files_config fc = {.prefix = prefix, .root = b->root, .lookup = lookup, .ud = b,
				      .begin = files_begin, .end = files_end};
	return csp_files_new(&fc, out, err, errlen);
}

static void addrs_free(struct addr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].a);
	free(v);
}

/* The listener table c asks for: certificate listeners, then PSK ones. */
static int addrs_of(const struct csp_config *c, struct addr **out, size_t *n)
{
	size_t k = c->n_files_listen + c->n_files_listen_psk;
	struct addr *v = calloc(k ? k : 1, sizeof *v);
	if (!v)
		return LI707_ENOMEM;
	for (size_t i = 0; i < k; i++) {
		bool psk = i >= c->n_files_listen;
		v[i].psk = psk;
		if (!(v[i].a = strdup(psk ? c->files_listen_psk[i - c->n_files_listen]
					  : c->files_listen[i]))) {
			addrs_free(v, i);
			return LI707_ENOMEM;
		}
	}
	*out = v;
	*n = k;
	return 0;
}

static bool addr_in(const struct addr *v, size_t n, const struct addr *x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].psk == x->psk && !strcmp(v[i].a, x->a))
			return true;
	return false;
}

/* Starts the file server of c into srv (files already made): lx_server, the LEA daemon's
 * mechanism, with a copy of the LEAs' identities (so that SIGHUP can replace them). */
static int files_server_start(struct csp_binary *b, const struct csp_config *c,
			      struct lx_server *srv)
{
	struct lx_http_config hc = {
		.creds = c->creds,
		.handler = files_handler,
		.done = files_done,
		.cls = b,
	};
	return lx_server_start(srv, hc, &c->policy, lx_tls_peers_dup(&c->tls_peers), c->files_listen,
			       c->n_files_listen, c->files_listen_psk, c->n_files_listen_psk);
}

static int files_start(struct csp_binary *b, char *err, size_t errlen)
{
	const struct csp_config *c = b->c;
	struct csp_files *f = NULL;
	int rc = files_new(b, c, &f, err, errlen);
	if (rc)
		return rc;
	atomic_store(&b->files, f);
	if ((rc = addrs_of(c, &b->addrs, &b->n_addrs)))
		return rc;
	if ((rc = files_server_start(b, c, &b->srv))) {
		snprintf(err, errlen, "the Model A/C file server did not start (see above)");
		return rc;
	}
	for (size_t i = 0; i < b->n_addrs; i++)
		lx_info("Model A/C file server on %s%s port %d", b->addrs[i].a,
			b->addrs[i].psk ? " (PSK)" : "", lx_http_server_port(b->srv.srv, i));
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
	/* push_nice: this thread only (Linux nice is per thread), so that deliveries and ingest
	 * get the CPU first while a large push encrypts */
	if (p->lea->push_nice &&
	    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), (int)p->lea->push_nice) != 0)
		lx_warn("lea %s: push_nice: cannot lower the push thread's priority: %s",
			p->lea->name, strerror(errno));
	while (!atomic_load(&b->stop) && !atomic_load(&p->stop)) {
		size_t busy = fill(p);
		if (busy) {
			lx_http_run(p->c, 500);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_mutex_lock(&b->mu);
		if (!atomic_load(&b->stop) && !atomic_load(&p->stop))
			pthread_cond_timedwait(&b->cv, &b->mu, &ts);
		pthread_mutex_unlock(&b->mu);
	}
	return NULL;
}

static bool push_wanted(const struct csp_lea *l)
{
	return (l->models & CSP_MODEL_B) && l->modelb_url;
}

static const struct lx_tls_peer *lea_tls(const struct csp_config *c, const char *name)
{
	for (size_t i = 0; i < c->tls_peers.n; i++)
		if (c->tls_peers.v[i].name && !strcmp(c->tls_peers.v[i].name, name))
			return &c->tls_peers.v[i];
	return NULL;
}

/* "path@mtime.size" of a credential file, so that a file replaced in place changes it. */
static void file_fp(char *out, size_t n, const char *path)
{
	struct stat st;
	if (!path)
		snprintf(out, n, "-");
	else if (stat(path, &st) != 0)
		snprintf(out, n, "%s@?", path);
	else
		snprintf(out, n, "%s@%lld.%09ld.%lld", path, (long long)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec, (long long)st.st_size);
}

/* What a push engine is built from: modelb_url, CA, client certificate and key (and their
 * files' times and sizes) or PSK, expect_timeout, connections, retry_min/max, the TLS
 * policy. Kept in memory only (it holds the PSK in hex). NULL when out of memory. */
static char *push_fp(const struct csp_config *c, const struct csp_lea *l)
{
	const struct lx_tls_peer *tp = lea_tls(c, l->name);
	char psk[2 * 1024 + 1] = "";
	for (size_t i = 0; tp && tp->psk && i < tp->psk_len && i < 1024; i++)
		snprintf(psk + 2 * i, 3, "%02x", tp->psk[i]);
	char ca[4200], cert[4200], key[4200];
	file_fp(ca, sizeof ca, l->ca);
	file_fp(cert, sizeof cert, l->client_cert);
	file_fp(key, sizeof key, l->client_key);
	const struct lx_tls_policy *po = &c->policy;
	char *fp = NULL;
	if (asprintf(&fp, "%s|%s|%s|%s|%s|%s|%llu|%llu|%llu|%llu|%llu|%u|%d|%d|%s|%s|%s",
		     l->modelb_url ? l->modelb_url : "", ca, cert, key,
		     tp && tp->psk_identity ? tp->psk_identity : "", psk,
		     (unsigned long long)l->expect_timeout_s, (unsigned long long)l->connections,
		     (unsigned long long)l->retry_min_s, (unsigned long long)l->retry_max_s,
		     (unsigned long long)l->push_rate, l->push_nice, (int)po->min_version, (int)po->tls13, po->tls12_suites ? po->tls12_suites : "",
		     po->tls12_psk_suites ? po->tls12_psk_suites : "", po->groups ? po->groups : "") < 0)
		fp = NULL;
	li707_wipe(psk, sizeof psk);
	return fp;
}

/* Stops p's thread and frees it. A push in flight is cut: at a reload (record) it is recorded
 * as a retry (due again after the backoff; the next attempt sends the object from its first
 * byte, and li707-lea drops the cut upload), at the daemon's stop it is left due as it was. */
static void pusher_free(struct pusher *p, bool record)
{
	if (!p)
		return;
	if (p->started) {
		atomic_store(&p->stop, true);
		pthread_mutex_lock(&p->b->mu);
		pthread_cond_broadcast(&p->b->cv);
		pthread_mutex_unlock(&p->b->mu);
		lx_http_client_wakeup(p->c);
		pthread_join(p->th, NULL);
	}
	lx_http_client_free(p->c); /* transfers in flight end here */
	for (size_t k = 0; k < p->n_slots; k++) {
		struct slot *sl = &p->slots[k];
		if (!sl->busy)
			continue;
		lx_push_done(&sl->cp.p);
		if (record) {
			sl->cp.result.verdict = LX_PUSH_RETRY;
			sl->cp.result.retry_after = -1;
			snprintf(sl->cp.result.reason, sizeof sl->cp.result.reason,
				 "cut by a configuration reload; sent again from its first byte");
			finish(sl);
		} else {
			/* issue 11: its transfer entry reads the slot: end it first */
			csp_xfer_end(p->b->xfers, sl->xid, "abandoned", atomic_load(&sl->prog.sent));
			sl->xid = 0;
			csp_object_clear(&sl->o);
			sl->busy = false;
			atomic_fetch_sub(&p->b->active, 1);
		}
	}
	free(p->own.name);
	free(p->own.modelb_url);
	free(p->own.ca);
	free(p->own.client_cert);
	free(p->own.client_key);
	if (p->psk) {
		li707_wipe(p->psk, p->psk_len);
		free(p->psk);
	}
	free(p->fp);
	free(p);
}

static struct pusher *pusher_new(struct csp_binary *b, const struct csp_config *c,
				 const struct csp_lea *l, char *err, size_t errlen)
{
	struct pusher *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	const struct lx_tls_peer *tp = lea_tls(c, l->name);
	p->b = b;
	p->own = *l;
	p->own.url = p->own.receiver_country = p->own.receiver_id = p->own.etsi_version = NULL;
	p->own.name = strdup(l->name);
	p->own.modelb_url = strdup(l->modelb_url);
	p->own.ca = l->ca ? strdup(l->ca) : NULL;
	p->own.client_cert = l->client_cert ? strdup(l->client_cert) : NULL;
	p->own.client_key = l->client_key ? strdup(l->client_key) : NULL;
	p->lea = &p->own;
	p->fp = push_fp(c, l);
	bool bad = !p->own.name || !p->own.modelb_url || (l->ca && !p->own.ca) ||
		   (l->client_cert && !p->own.client_cert) ||
		   (l->client_key && !p->own.client_key) || !p->fp;
	p->n_slots = l->connections ? (size_t)l->connections : 2;
	if (p->n_slots > PUSH_SLOTS_MAX)
		p->n_slots = PUSH_SLOTS_MAX;
	struct lx_http_client_opts o = {
		.tls = &c->policy,
		.cert_file = p->own.client_cert,
		.key_file = p->own.client_key,
		.ca_file = p->own.ca,
		.max_host_connections = (long)p->n_slots,
		.max_active = (long)p->n_slots,
		.low_speed_time = 60,
		.max_send_speed = l->push_rate > LONG_MAX ? LONG_MAX : (long)l->push_rate,
	};
	if (!bad && !l->client_cert && tp && tp->psk_identity && tp->psk) {
		if ((p->psk = malloc(tp->psk_len))) {
			memcpy(p->psk, tp->psk, tp->psk_len);
			p->psk_len = tp->psk_len;
			o.psk_identity = tp->psk_identity; /* copied by the client */
			o.psk = p->psk;
			o.psk_len = p->psk_len;
		} else {
			bad = true;
		}
	}
	int rc = bad ? LI707_ENOMEM : lx_http_client_new(&o, &p->c, err, errlen);
	if (!rc && pthread_create(&p->th, NULL, push_main, p) != 0)
		rc = LI707_ENOMEM;
	if (rc) {
		if (bad || rc == LI707_ENOMEM)
			snprintf(err, errlen, "out of memory");
		pusher_free(p, false);
		return NULL;
	}
	p->started = true;
	return p;
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
		nb += push_wanted(&c->leas[i]);
	if (!rc && nb && !(b->pushers = calloc(nb, sizeof *b->pushers)))
		rc = LI707_ENOMEM;
	for (size_t i = 0; !rc && i < c->n_leas; i++) {
		if (!push_wanted(&c->leas[i]))
			continue;
		if (!(b->pushers[b->n_pushers] = pusher_new(b, c, &c->leas[i], err, errlen)))
			rc = LI707_ENOMEM;
		else
			b->n_pushers++;
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

/* ---- SIGHUP ---- */

static void pending_undo(struct csp_binary *b)
{
	struct pending *pd = &b->pend;
	for (size_t k = 0; k < pd->n_added && b->srv.srv; k++)
		lx_http_server_unlisten(b->srv.srv, b->n_addrs); /* the added ones follow the old */
	if (pd->peers) {
		lx_tls_peers_clear(pd->peers);
		free(pd->peers);
	}
	csp_files_free(pd->files);
	if (pd->new_srv)
		lx_server_stop(&pd->srv);
	addrs_free(pd->addrs, pd->n_addrs);
	memset(pd, 0, sizeof *pd);
}

static size_t count_cert(const struct addr *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += !v[i].psk;
	return k;
}

static void files_retire(struct csp_binary *b, struct csp_files *nf)
{
	pthread_mutex_lock(&b->mu); /* (csp_binary_stats reads the list) */
	struct csp_files *old = atomic_exchange(&b->files, nf);
	struct csp_files **v = old ? realloc(b->retired, (b->n_retired + 1) * sizeof *v) : NULL;
	if (v) {
		b->retired = v;
		b->retired[b->n_retired++] = old;
	}
	pthread_mutex_unlock(&b->mu);
	if (old && !v) /* leaked rather than freed under a request */
		lx_warn("reload: out of memory: a replaced file server handler is kept unreferenced");
}

int csp_binary_reload_prepare(struct csp_binary *b, const struct csp_config *n)
{
	if (!b)
		return 0;
	struct pending *pd = &b->pend;
	if (pd->ready)
		pending_undo(b);
	char err[512] = "";
	int rc = 0;
	const char *what = "files_url";
	bool want = n->n_files_listen + n->n_files_listen_psk > 0;
	if (!want)
		goto ok;
	/* files_url: its path segment is the server's prefix */
	char np[CSP_FILES_PREFIX_MAX + 1], op[CSP_FILES_PREFIX_MAX + 1] = "";
	if ((rc = csp_binary_prefix(n->files_url, np, sizeof np))) {
		snprintf(err, sizeof err, "the file server answers /SEGMENT/TOKEN: files_url needs a "
					  "path (https://host/SEGMENT/)");
		goto fail;
	}
	if (b->srv.srv)
		csp_binary_prefix(b->c->files_url, op, sizeof op);
	if (strcmp(np, op) && (rc = files_new(b, n, &pd->files, err, sizeof err)))
		goto fail;
	what = "files_listen";
	if ((rc = addrs_of(n, &pd->addrs, &pd->n_addrs)))
		goto fail;
	if (!b->srv.srv) { /* no file server so far: one starts now */
		what = "file server";
		if (!pd->files) { /* (a server always has its files) */
			rc = LI707_EINVAL;
			goto fail;
		}
		files_retire(b, pd->files); /* no server reads it yet */
		pd->files = NULL;
		pd->new_srv = true; /* (partly set up on failure: pending_undo stops it) */
		if ((rc = files_server_start(b, n, &pd->srv))) {
			snprintf(err, sizeof err, "cannot start it (see above)");
			goto fail;
		}
		goto ok;
	}
	/* addresses added: listening before the old ones close (R-BIN-2: nothing is refused
	 * in between); a bind failure takes the reload back */
	for (size_t i = 0; i < pd->n_addrs; i++) {
		if (addr_in(b->addrs, b->n_addrs, &pd->addrs[i]))
			continue;
		if ((rc = lx_http_server_listen(b->srv.srv, pd->addrs[i].a, pd->addrs[i].psk, err,
						sizeof err))) {
			if (!err[0])
				snprintf(err, sizeof err, "%s: %s", pd->addrs[i].a, li707_strerror(rc));
			goto fail; /* "listen ADDR: why" */
		}
		pd->n_added++;
	}
	/* certificates, key, CA and TLS policy: lx_server_reload_tls (as li707-lea on SIGHUP)
	 * starts new listener daemons on the same sockets, open connections finish on the old */
	what = "certificates";
	size_t keep_cert = b->srv.n_cert_listeners;
	b->srv.n_cert_listeners = count_cert(b->addrs, b->n_addrs);
	for (size_t i = 0; i < pd->n_addrs; i++)
		if (!pd->addrs[i].psk && !addr_in(b->addrs, b->n_addrs, &pd->addrs[i]))
			b->srv.n_cert_listeners++;
	if ((rc = lx_server_reload_tls(&b->srv, &n->policy, &n->creds))) {
		b->srv.n_cert_listeners = keep_cert;
		pending_undo(b);
		return rc; /* logged by lx_server_reload_tls: "reload: certificates: ...; keeping" */
	}
	what = "peers";
	if (!(pd->peers = lx_tls_peers_dup(&n->tls_peers))) {
		rc = LI707_ENOMEM;
		snprintf(err, sizeof err, "out of memory");
		goto fail;
	}
ok:
	pd->ready = true;
	return 0;
fail:
	lx_err("reload: %s: %s; keeping the running configuration", what,
	       err[0] ? err : li707_strerror(rc));
	pending_undo(b);
	return rc ? rc : LI707_EINVAL;
}

static void files_apply(struct csp_binary *b, const struct csp_config *n)
{
	struct pending *pd = &b->pend;
	bool want = n->n_files_listen + n->n_files_listen_psk > 0;
	if (!want) {
		if (b->srv.srv) {
			lx_info("reload: files_listen removed: the Model A/C file server stops");
			lx_server_stop(&b->srv);
			memset(&b->srv, 0, sizeof b->srv);
			addrs_free(b->addrs, b->n_addrs);
			b->addrs = NULL;
			b->n_addrs = 0;
		}
		return;
	}
	if (pd->new_srv) {
		b->srv = pd->srv;
		memset(&pd->srv, 0, sizeof pd->srv);
		pd->new_srv = false;
		addrs_free(b->addrs, b->n_addrs);
		b->addrs = pd->addrs;
		b->n_addrs = pd->n_addrs;
		pd->addrs = NULL;
		lx_info("reload: Model A/C file server started: %zu listener%s", b->n_addrs,
			b->n_addrs == 1 ? "" : "s");
		return;
	}
	if (pd->files) {
		files_retire(b, pd->files);
		pd->files = NULL;
		lx_info("reload: files_url changed: objects are served under its new path");
	}
	if (pd->peers) {
		if (lx_http_server_set_peers(b->srv.srv, pd->peers) != 0) {
			lx_err("reload: out of memory: the file server's LEA identities are unchanged");
			lx_tls_peers_clear(pd->peers);
			free(pd->peers);
		}
		pd->peers = NULL;
	}
	/* the server's table: old addresses (0..n_addrs-1) then the added ones; close the old
	 * addresses no longer configured (their open connections finish) */
	size_t i = b->n_addrs;
	while (i-- > 0) {
		if (addr_in(pd->addrs, pd->n_addrs, &b->addrs[i]))
			continue;
		int rc = lx_http_server_unlisten(b->srv.srv, i);
		if (rc) {
			lx_err("reload: cannot close the listener on %s: %s (it stays open)",
			       b->addrs[i].a, li707_strerror(rc));
			continue;
		}
		lx_info("reload: the file server no longer listens on %s", b->addrs[i].a);
		free(b->addrs[i].a);
		memmove(&b->addrs[i], &b->addrs[i + 1], (b->n_addrs - i - 1) * sizeof b->addrs[0]);
		b->n_addrs--;
	}
	/* then the added ones, in the server's order */
	struct addr *v = realloc(b->addrs, (b->n_addrs + pd->n_added + 1) * sizeof *v);
	if (v) {
		b->addrs = v;
		for (size_t k = 0; k < pd->n_addrs; k++) {
			if (addr_in(b->addrs, b->n_addrs, &pd->addrs[k]))
				continue;
			b->addrs[b->n_addrs] = pd->addrs[k];
			pd->addrs[k].a = NULL;
			lx_info("reload: the file server listens on %s%s port %d", b->addrs[b->n_addrs].a,
				b->addrs[b->n_addrs].psk ? " (PSK)" : "",
				lx_http_server_port(b->srv.srv, b->n_addrs));
			b->n_addrs++;
		}
	}
	b->srv.n_cert_listeners = count_cert(b->addrs, b->n_addrs);
	pd->n_added = 0;
}

static void pushers_apply(struct csp_binary *b, const struct csp_config *n)
{
	struct pusher **nv = calloc(n->n_leas ? n->n_leas : 1, sizeof *nv);
	if (!nv) {
		lx_err("reload: out of memory: the Model B push engines keep their configuration");
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n->n_leas; i++) {
		const struct csp_lea *l = &n->leas[i];
		struct pusher *old = NULL;
		for (size_t j = 0; j < b->n_pushers; j++)
			if (b->pushers[j] && !strcmp(b->pushers[j]->lea->name, l->name)) {
				old = b->pushers[j];
				b->pushers[j] = NULL;
				break;
			}
		if (!push_wanted(l)) {
			if (old) {
				lx_info("lea %s: Model B no longer configured: its push engine stops",
					l->name);
				pusher_free(old, true);
			}
			continue;
		}
		char *fp = push_fp(n, l);
		if (old && fp && !strcmp(old->fp, fp)) {
			nv[k++] = old;
			free(fp);
			continue;
		}
		free(fp);
		if (old) {
			lx_info("lea %s: Model B configuration changed: restarting its push engine",
				l->name);
			pusher_free(old, true);
		} else {
			lx_info("lea %s: Model B push engine added", l->name);
		}
		char err[512] = "";
		if (!(nv[k] = pusher_new(b, n, l, err, sizeof err)))
			lx_err("lea %s: the Model B push engine cannot start: %s (tried again at the "
			       "next reload)", l->name, err[0] ? err : "error");
		else
			k++;
	}
	for (size_t j = 0; j < b->n_pushers; j++)
		if (b->pushers[j]) {
			lx_info("lea %s: removed from the configuration: its push engine stops",
				b->pushers[j]->lea->name);
			pusher_free(b->pushers[j], true);
		}
	free(b->pushers);
	b->pushers = nv;
	b->n_pushers = k;
}

void csp_binary_reload_apply(struct csp_binary *b, const struct csp_config *n)
{
	if (!b)
		return;
	if (!b->pend.ready) /* (prepare was not called: nothing but the push engines) */
		memset(&b->pend, 0, sizeof b->pend);
	files_apply(b, n);
	pending_undo(b); /* what apply did not take: the new table's copies */
	b->c = n;
	pushers_apply(b, n);
}

void csp_binary_stats(const struct csp_binary *b, struct csp_binary_stats *st)
{
	memset(st, 0, sizeof *st);
	if (!b)
		return;
	/* the current handler and the ones a reload replaced (files_url) */
	pthread_mutex_lock((pthread_mutex_t *)&b->mu);
	for (size_t i = 0; i <= b->n_retired; i++) {
		struct csp_files *cf = i < b->n_retired ? b->retired[i] : atomic_load(&b->files);
		if (!cf)
			continue;
		struct csp_files_stats f;
		csp_files_stats(cf, &f);
		st->served += f.served;
		st->served_bytes += f.bytes;
		st->refused += f.refused_malformed + f.refused_unknown + f.refused_expired +
			       f.refused_peer + f.lookup_errors;
	}
	pthread_mutex_unlock((pthread_mutex_t *)&b->mu);
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
	for (size_t i = 0; i < b->n_pushers; i++)
		pusher_free(b->pushers[i], false); /* pushes in flight are abandoned: still due */
	free(b->pushers);
	if (b->pend.ready)
		pending_undo(b);
	lx_server_stop(&b->srv);
	addrs_free(b->addrs, b->n_addrs);
	csp_files_free(atomic_load(&b->files));
	for (size_t i = 0; i < b->n_retired; i++)
		csp_files_free(b->retired[i]);
	free(b->retired);
	transfers_stop(b);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}
