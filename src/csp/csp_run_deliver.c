/* li707-csp - deliveries end to end (csp_run_deliver.h).
 *
 * DESIGN (docs/internals/csp-delivery.md, "Wiring")
 * - Packager: one thread, woken by ingest commits, operator commands and the daemon's tick.
 *   Per configured LEA, per reference with queued events (acceptance order): the events are
 *   rebuilt into items (lx_event_parse of the stored canonical JSON; correlation and
 *   binaryObject url/size/checksum/expiry from the store's rows), cut into batches
 *   (csp_package_batch_count), packaged when due (csp_package_batch_due: batch_wait) with
 *   SequenceNumber = refs.next_seq, and committed with csp_store_pack (one transaction: the
 *   delivery, its XML, the events packed). A reference with --review yields deliveries in
 *   state review. One global mutex serialises packaging, so `ref close` (which packages
 *   around the store's close, the last object with LastSequence true) never races it.
 * - Engines: one csp_deliver per [lea] (own thread, own lx_http_client with the [lea] CA,
 *   client certificate or PSK). Its queue is the store: next() takes, per reference, only
 *   the lowest delivery not done (review/ready/inflight block later ones: order per
 *   reference), marks it inflight; done/retry/park are store transitions plus an audit
 *   record (done, parked). A stop hands in-flight ones back as ready; at open the store
 *   turns inflight into ready; the LEA deduplicates by ObjectIdentifier.
 * - SIGHUP: each [lea] has a fingerprint of what its engine was built from (URL, TLS/PSK
 *   credentials, limits); a changed one is stopped (drained) and started again.
 * - Logs: LEA names, ids, counts and the engine's error texts (which carry no reference or
 *   content, csp_deliver.h) only (R-SEC-6). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csp_audit.h"
#include "csp_deliver.h"
#include "csp_package.h"
#include "csp_push.h"
#include "csp_run_deliver.h"
#include "csp_store_int.h"
#include "csp_store_rec.h"
#include "events.h"
#include "li707/error.h"
#include "li707/util.h"
#include "log.h"
#include "metrics.h"

#define DRAIN_MS 5000
#define STALL_S 10 /* an LEA silent this long (no byte either way) is a timeout */
#define FP_MAX 8192

struct out_ref {
	int64_t id, ref_id;
};

struct engine {
	struct csp_rd *rd;
	struct out_ref *out;         /* handed out, outcome not reported yet (engine thread) */
	size_t n_out, cap_out;
	char name[CSP_LEA_NAME_MAX + 1];
	char fp[FP_MAX];             /* what it was built from */
	struct csp_deliver *e;
	uint8_t *psk;                /* kept for the client's lifetime */
	size_t psk_len;
};

struct csp_rd {
	struct csp_store *s;
	struct csp_rd_cfg_source src;
	struct csp_audit *audit;
	struct csp_rec *rec;         /* the engines' outcomes, recorded in batches */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;          /* wake, stop, the engine list */
	pthread_cond_t cv;
	bool wake, stopping, tick;
	struct engine **eng;
	size_t n_eng;
	struct lx_metric_family *m_inflight, *m_sent, *m_retried, *m_parked, *m_ok, *m_err;
};

static pthread_mutex_t pack_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- audit ---------------------------------------------------------------------------- */

static void audit_append(struct csp_audit *a, const char *spool, const struct csp_audit_record *rec)
{
	struct csp_audit *own = NULL;
	if (!a && spool) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", spool, CSP_AUDIT_FILE);
		if (csp_audit_open(path, CSP_AUDIT_RECOVER, &own, NULL) != 0) {
			lx_warn("audit log: cannot open");
			return;
		}
		a = own;
	}
	if (!a)
		return;
	int rc = csp_audit_append(a, rec);
	if (rc)
		lx_warn("audit log: cannot append a %s record: %s", csp_audit_event_name(rec->event),
			li707_strerror(rc));
	csp_audit_close(own);
}

static void audit_delivery(struct csp_audit *a, const char *spool, struct csp_store *s,
			   enum csp_audit_event ev, enum csp_audit_outcome oc, int64_t id,
			   int error_code)
{
	struct csp_delivery d;
	if (csp_store_delivery_get(s, id, false, &d) != 0)
		return;
	struct csp_audit_record r;
	csp_audit_record_init(&r, ev);
	r.outcome = oc;
	r.ref = d.ref_id;
	r.lea = d.lea;
	r.delivery = d.id;
	r.seq = d.seq;
	r.object = d.object_id;
	r.bytes = (int64_t)d.bytes;
	r.error_code = error_code;
	audit_append(a, spool, &r);
	csp_delivery_clear(&d);
}

/* ---- packaging ------------------------------------------------------------------------ */

struct obj_rows {
	struct csp_object *v;
	size_t n, cap;
};

static int obj_row(void *ud, sqlite3_stmt *st)
{
	struct obj_rows *o = ud;
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 4;
		struct csp_object *nv = realloc(o->v, nc * sizeof *nv);
		if (!nv)
			return LI707_ENOMEM;
		o->v = nv;
		o->cap = nc;
	}
	struct csp_object *x = &o->v[o->n++];
	memset(x, 0, sizeof *x);
	x->id = sqlite3_column_int64(st, 0);
	const char *u = lx_sq_text(st, 1), *t = lx_sq_text(st, 2), *h = lx_sq_text(st, 4),
		   *ct = lx_sq_text(st, 5), *m = lx_sq_text(st, 6);
	snprintf(x->uuid, sizeof x->uuid, "%s", u ? u : "");
	snprintf(x->token, sizeof x->token, "%s", t ? t : "");
	x->size = (uint64_t)sqlite3_column_int64(st, 3);
	snprintf(x->sha256, sizeof x->sha256, "%s", h ? h : "");
	x->content_type = csp__dup(ct);
	x->model = m ? m[0] : 0;
	x->expiry = sqlite3_column_int64(st, 7);
	return 0;
}

/* The binaryObjects of an event as packaging needs them: url, length, checksum, expiry. */
static int fill_attachments(struct csp_store *s, const struct csp_config *c,
			    const struct csp_lea *l, int64_t event_id, struct li707_item *it)
{
	struct obj_rows o = {0};
	int rc = csp__read(s, "SELECT id, uuid, token, size, sha256, content_type, model, expiry"
			      " FROM objects WHERE event_id = ?1 ORDER BY idx",
			   obj_row, &o, "i", event_id);
	if (!rc && o.n != it->n_attachments)
		rc = LI707_EDAMAGED;
	for (size_t i = 0; !rc && i < o.n; i++) {
		struct li707_binary_object *b = &it->attachments[i];
		const struct csp_object *x = &o.v[i];
		char url[4200];
		if (x->model == 'B') {
			rc = l->modelb_url ? csp_push_url(l->modelb_url, x->uuid, url, sizeof url)
					   : LI707_EINVAL;
		} else {
			int m = snprintf(url, sizeof url, "%s%s", c->files_url ? c->files_url : "",
					 x->token);
			rc = (!c->files_url || m < 0 || (size_t)m >= sizeof url) ? LI707_EINVAL : 0;
		}
		char exp[33];
		struct li707_time t = {.epoch = x->expiry};
		if (!rc)
			rc = li707_time_format(&t, false, exp);
		char *nu = rc ? NULL : strdup(url), *ne = rc ? NULL : strdup(exp),
		     *nh = rc ? NULL : strdup(x->sha256),
		     *nc = rc || !x->content_type ? NULL : strdup(x->content_type);
		if (!rc && (!nu || !ne || !nh || (x->content_type && !nc)))
			rc = LI707_ENOMEM;
		if (rc) {
			free(nu);
			free(ne);
			free(nh);
			free(nc);
			break;
		}
		free(b->url);
		b->url = nu;
		free(b->expiry);
		b->expiry = ne;
		free(b->checksum);
		b->checksum = nh;
		if (nc) {
			free(b->content_type);
			b->content_type = nc;
		}
		b->has_content_length = true;
		b->content_length = x->size;
	}
	csp_objects_free(o.v, o.n);
	return rc;
}

/* Built DeliveryObjects waiting for their commit: several references' and several batches
 * of one reference's, committed together in ONE store job (csp_store_pack_many) once
 * PACK_OBJECTS of them or PACK_XML_BYTES of XML are built, and at the end of each pass. */
#define PACK_OBJECTS 256
#define PACK_XML_BYTES ((size_t)4 << 20) /* well inside the writer's page cache (16 MiB) */

struct pack_acc {
	struct csp_store *s;
	struct csp_rd *rd;           /* engines to wake after a commit, or NULL */
	struct csp_pack p[PACK_OBJECTS];
	struct csp_package_out po[PACK_OBJECTS];
	int64_t *ev[PACK_OBJECTS];   /* event ids of p[i] */
	int64_t ids[PACK_OBJECTS];
	const char *lea[PACK_OBJECTS]; /* borrowed from the configuration of the pass */
	size_t n, xml_bytes, made;
};

static void wake_engines(struct csp_rd *rd);

static void acc_clear(struct pack_acc *a)
{
	for (size_t i = 0; i < a->n; i++) {
		csp_package_out_done(&a->po[i]);
		free(a->ev[i]);
		a->ev[i] = NULL;
	}
	a->n = a->xml_bytes = 0;
}

static void acc_packed(struct pack_acc *a, size_t i)
{
	const struct csp_pack *p = &a->p[i];
	lx_debug("lea %s: delivery %lld packaged: reference key %lld seq %lld, %zu item%s%s",
		 a->lea[i], (long long)a->ids[i], (long long)p->ref_id, (long long)p->seq,
		 p->n_events, p->n_events == 1 ? "" : "s", p->last ? ", LastSequence" : "");
	a->made++;
}

/* Commits what is built in one job. When that fails, each is committed on its own, in order,
 * so that one reference's trouble does not hold the others back (a reference whose pack
 * fails has its later ones skipped: they would get -EAGAIN; the next pass builds them again
 * with the numbers the store has). Returns 0, or the batch's error. */
static int acc_flush(struct pack_acc *a)
{
	if (!a->n)
		return 0;
	size_t failed = 0;
	int rc = csp_store_pack_many(a->s, a->p, a->n, now_ms() / 1000, a->ids, &failed);
	if (!rc) {
		for (size_t i = 0; i < a->n; i++)
			acc_packed(a, i);
	} else {
		lx_debug("packaging: %zu DeliveryObjects in one commit: %s (at %zu); one by one",
			 a->n, li707_strerror(rc), failed);
		int64_t bad[PACK_OBJECTS];
		size_t n_bad = 0;
		for (size_t i = 0; i < a->n; i++) {
			bool skip = false;
			for (size_t k = 0; k < n_bad && !skip; k++)
				skip = bad[k] == a->p[i].ref_id;
			if (skip)
				continue;
			int prc = csp_store_pack(a->s, &a->p[i], now_ms() / 1000, &a->ids[i]);
			if (!prc) {
				acc_packed(a, i);
				continue;
			}
			bad[n_bad++] = a->p[i].ref_id;
			if (prc != -EAGAIN)
				lx_warn("lea %s: packaging reference key %lld: %s", a->lea[i],
					(long long)a->p[i].ref_id, li707_strerror(prc));
		}
	}
	acc_clear(a);
	if (a->rd)
		wake_engines(a->rd);
	return rc;
}

/* Builds one DeliveryObject of events ev[0..n) with SequenceNumber r->next_seq and adds it to
 * a (committing what a holds first when it is full). */
static int build_one(struct pack_acc *a, const struct csp_config *c, const struct csp_lea *l,
		     const struct csp_ref *r, const char *reference,
		     const struct csp_event_row *ev, size_t n, bool last)
{
	struct csp_store *s = a->s;
	int rc = 0;
	if (a->n == PACK_OBJECTS && acc_flush(a))
		return -EAGAIN; /* logged per reference by acc_flush */
	struct lx_event *pe = calloc(n, sizeof *pe);
	struct li707_item *items = calloc(n, sizeof *items);
	int64_t *ids = calloc(n, sizeof *ids);
	rc = (!pe || !items || !ids) ? LI707_ENOMEM : 0;
	struct lx_event_opts eo = {.conversation_ok = true, .absolute_paths = true,
				   .defer_files = true, .max_line_bytes = (size_t)64 << 20};
	uint64_t bytes = 0;
	size_t parsed = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		char err[LX_EVENT_ERR_LEN];
		rc = lx_event_parse(ev[i].json, ev[i].json_len, &eo, &pe[i], err, sizeof err);
		if (rc) {
			lx_warn("packaging: queued event %lld does not parse: %s", (long long)ev[i].id,
				err);
			break;
		}
		parsed++;
		struct li707_item *it = &pe[i].item;
		if (ev[i].app_level >= 0 && ev[i].app_seq >= 0) {
			it->has_correlation = true;
			it->app_level_id = (uint64_t)ev[i].app_level;
			it->app_seq = (uint64_t)ev[i].app_seq;
		}
		if (it->n_attachments && (rc = fill_attachments(s, c, l, ev[i].id, it))) {
			lx_warn("packaging: the attachments of queued event %lld: %s",
				(long long)ev[i].id, li707_strerror(rc));
			break;
		}
		items[i] = *it;
		ids[i] = ev[i].id;
		bytes += ev[i].bytes;
	}
	if (!rc) {
		struct csp_package_ref pr = {
			.kind = r->kind, .reference = reference, .delivery_id = r->delivery_id,
			.seq = (uint64_t)r->next_seq, .last = last, .sender_cc = c->country_code,
			.sender_id = c->unique_identifier, .receiver_cc = l->receiver_country,
			.receiver_id = l->receiver_id, .etsi_version = l->etsi_version};
		struct csp_package_out *po = &a->po[a->n];
		memset(po, 0, sizeof *po);
		struct li707_diags dg = {0};
		rc = csp_package_build(&pr, items, n, po, &dg);
		if (rc) {
			const struct li707_diag *d0 = dg.n ? &dg.v[0] : NULL;
			lx_warn("packaging: DeliveryObject for reference key %lld: %s%s%s",
				(long long)r->id, li707_strerror(rc), d0 ? ": " : "",
				d0 && d0->path ? d0->path : "");
			csp_package_out_done(po);
		} else {
			a->p[a->n] = (struct csp_pack){.ref_id = r->id, .seq = r->next_seq,
						       .last = last, .event_ids = ids,
						       .n_events = n, .object_id = po->object_id,
						       .xml = po->xml, .xml_len = po->len,
						       .bytes = bytes};
			a->ev[a->n] = ids;
			a->lea[a->n] = l->name;
			a->ids[a->n] = 0;
			a->n++;
			a->xml_bytes += po->len;
			ids = NULL; /* a's now */
		}
		li707_diags_clear(&dg);
	}
	for (size_t i = 0; i < parsed; i++)
		lx_event_clear(&pe[i]);
	free(pe);
	free(items);
	free(ids);
	if (!rc && a->xml_bytes >= PACK_XML_BYTES && acc_flush(a))
		rc = -EAGAIN;
	return rc;
}

/* The packager's window of queued events per read (pack_ref): at least one batch and one
 * more, else up to WINDOW_EVENTS while within WINDOW_BYTES. */
#define WINDOW_EVENTS 256
#define WINDOW_BYTES ((uint64_t)4 << 20)

/* Builds what is due for reference ref_id into a (committed when a fills up, or by the
 * caller's acc_flush). reference: the identifier when the store no longer has it (closing),
 * else NULL. hold_last: keep back the final (partial) batch. The final DeliveryObject of a
 * closed reference carries LastSequence. Numbers: r.next_seq from the store, + 1 per object
 * built; they become the store's only with the commit (csp_store_pack_many checks each), so a
 * crash or a failed commit between build and commit neither skips nor reuses one. */
static int pack_ref(struct pack_acc *a, const struct csp_config *c, int64_t ref_id,
		    const char *reference, bool closing, bool hold_last)
{
	struct csp_store *s = a->s;
	int rc = 0;
	/* what a holds of this reference is committed first: its next_seq and queued events are
	 * then the store's (other references' objects stay in a and share the commit) */
	for (size_t i = 0; i < a->n; i++)
		if (a->p[i].ref_id == ref_id) {
			if (acc_flush(a))
				return -EAGAIN; /* logged per reference by acc_flush */
			break;
		}
	struct csp_ref r;
	if ((rc = csp_store_ref_get(s, ref_id, &r)))
		return rc;
	const struct csp_lea *l = csp_config_lea(c, r.lea);
	const char *refstr = r.ref ? r.ref : reference;
	if (!l || !refstr) {
		if (!l)
			lx_debug("packaging: reference key %lld: its LEA is not configured",
				 (long long)ref_id);
		else
			lx_warn("packaging: reference key %lld is closed with events queued and its "
				"identifier gone: they cannot be packaged", (long long)ref_id);
		csp_ref_clear(&r);
		return 0;
	}
	size_t bi = l->batch_items ? (size_t)l->batch_items : 1;
	int64_t after = 0; /* the last event built into an object not committed yet */
	/* The queued events are read a window at a time (several batches' worth, or one batch
	 * and one more whatever their size): each batch looks at one more than a batch
	 * (whether anything follows it), read again only when the window holds fewer and was
	 * cut. Events queued after the window was read wait for the next pass (the packager is
	 * woken after every ingest commit); the commit checks each event is still queued. */
	struct csp_event_row *win = NULL;
	size_t wn = 0, wo = 0;
	bool wmore = false;
	for (;;) {
		if (!win || (wn - wo < bi + 1 && wmore && wo)) {
			csp_event_rows_free(win, wn);
			win = NULL;
			wn = wo = 0;
			rc = csp_store_events_window(s, ref_id, after, bi + 1,
						     bi + 1 > WINDOW_EVENTS ? bi + 1 : WINDOW_EVENTS,
						     WINDOW_BYTES, &win, &wn, &wmore);
			if (rc)
				break;
		}
		if (wo >= wn)
			break;
		struct csp_event_row *ev = win + wo;
		size_t n = wn - wo < bi + 1 ? wn - wo : bi + 1;
		uint64_t *sizes = malloc(n * sizeof *sizes), total = 0;
		if (!sizes) {
			rc = LI707_ENOMEM;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			sizes[i] = ev[i].bytes;
			total += ev[i].bytes;
		}
		size_t k = csp_package_batch_count(sizes, n, bi, l->batch_bytes);
		free(sizes);
		bool more = k < n;
		int64_t age = now_ms() - ev[0].accepted_at * 1000;
		bool due = csp_package_batch_due(n, total, age, bi, l->batch_bytes,
						 (int64_t)l->batch_wait_ms, closing || !r.open);
		if (!due || (hold_last && !more))
			break;
		bool last = !r.open && !more;
		rc = build_one(a, c, l, &r, refstr, ev, k, last);
		int64_t last_id = ev[k - 1].id;
		if (rc) /* -EAGAIN: a commit failed, logged per reference; the next pass goes on */
			break;
		/* built: waiting in a, or already committed by a flush inside build_one */
		after = last_id;
		wo += k;
		r.next_seq++;
	}
	csp_event_rows_free(win, wn);
	csp_ref_clear(&r);
	return rc;
}

static size_t pack_all(struct csp_rd *rd, const struct csp_config *c)
{
	struct pack_acc *a = calloc(1, sizeof *a);
	if (!a) {
		lx_warn("packaging: out of memory");
		return 0;
	}
	a->s = rd->s;
	a->rd = rd;
	pthread_mutex_lock(&pack_mu);
	for (size_t i = 0; i < c->n_leas; i++) {
		int64_t *ids = NULL;
		size_t n = 0;
		if (csp_store_refs_pending(rd->s, c->leas[i].name, &ids, &n) != 0)
			continue;
		for (size_t j = 0; j < n; j++) {
			int rc = pack_ref(a, c, ids[j], NULL, false, false);
			if (rc && rc != -EAGAIN)
				lx_warn("lea %s: packaging reference key %lld: %s", c->leas[i].name,
					(long long)ids[j], li707_strerror(rc));
		}
		free(ids);
	}
	(void)acc_flush(a); /* failures logged per reference inside */
	pthread_mutex_unlock(&pack_mu);
	size_t made = a->made;
	free(a);
	return made;
}

int csp_rd_ref_close(struct csp_store *s, const struct csp_config *c, const char *ref,
		     int64_t now, int64_t *id_out)
{
	struct csp_ref r;
	int rc = csp_store_ref_find(s, ref, &r);
	if (rc)
		return rc;
	char *keep = strdup(ref);
	int64_t key = r.id;
	csp_ref_clear(&r);
	struct pack_acc *a = calloc(1, sizeof *a);
	if (!keep || !a) {
		free(keep);
		free(a);
		return LI707_ENOMEM;
	}
	a->s = s;
	pthread_mutex_lock(&pack_mu);
	if (c) { /* all but the final batch, committed before the close */
		(void)pack_ref(a, c, key, keep, true, true);
		(void)acc_flush(a);
	}
	rc = csp_store_ref_close(s, ref, now, id_out);
	if (!rc && c) {
		int prc = pack_ref(a, c, key, keep, true, false);
		if (!prc)
			prc = acc_flush(a);
		if (prc)
			lx_warn("ref close: packaging the final DeliveryObject of reference key %lld: "
				"%s", (long long)key, li707_strerror(prc));
	}
	acc_clear(a);
	pthread_mutex_unlock(&pack_mu);
	free(a);
	free(keep);
	return rc;
}

/* ---- the engines' queue ---------------------------------------------------------------- */

/* The engine's callbacks name a delivery by id only: the reference key of each one handed
 * out is kept here (engine thread only) for the recorder's order rule. */
static void out_add(struct engine *g, int64_t id, int64_t ref_id)
{
	if (g->n_out == g->cap_out) {
		size_t nc = g->cap_out ? g->cap_out * 2 : 16;
		struct out_ref *nv = realloc(g->out, nc * sizeof *nv);
		if (!nv)
			return; /* engine_ref_of reads it from the store then */
		g->out = nv;
		g->cap_out = nc;
	}
	g->out[g->n_out++] = (struct out_ref){id, ref_id};
}

static int64_t engine_ref_of(struct engine *g, int64_t id)
{
	for (size_t i = 0; i < g->n_out; i++)
		if (g->out[i].id == id) {
			int64_t r = g->out[i].ref_id;
			g->out[i] = g->out[--g->n_out];
			return r;
		}
	struct csp_delivery d;
	if (csp_store_delivery_get(g->rd->s, id, false, &d) != 0)
		return 0;
	int64_t r = d.ref_id;
	csp_delivery_clear(&d);
	return r;
}

static int q_next(void *ud, const int64_t *skip, size_t n_skip, struct csp_post *out,
		  size_t max, size_t *n)
{
	struct engine *g = ud;
	int rc = csp_rec_next(g->rd->rec, g->name, now_ms(), skip, n_skip, out, max, n);
	for (size_t i = 0; !rc && i < *n; i++)
		out_add(g, out[i].id, out[i].ref_id);
	return rc;
}

/* The outcomes go to the recorder (csp_store_rec.h): the engine's transfer thread never
 * waits for an fsync, and the reference stays out of q_next until it is recorded. */
static void q_put(struct engine *g, enum csp_drec_kind k, int64_t id, int64_t next_try,
		  unsigned code, const char *error)
{
	int64_t ref_id = engine_ref_of(g, id);
	if (csp_rec_put(g->rd->rec, g->name, k, id, ref_id, next_try, code, error))
		lx_warn("lea %s: delivery %lld: outcome not recorded (out of memory); it is sent "
			"again later", g->name, (long long)id);
}

static void q_done(void *ud, int64_t id)
{
	q_put(ud, CSP_DREC_DONE, id, 0, 0, NULL);
}

static void q_retry(void *ud, int64_t id, int64_t next_try_ms, const char *error)
{
	struct engine *g = ud;
	lx_info("lea %s: delivery %lld will be retried: %s", g->name, (long long)id, error);
	q_put(g, CSP_DREC_FAIL, id, next_try_ms, 0, error);
}

static void q_park(void *ud, int64_t id, unsigned code, const char *error)
{
	q_put(ud, CSP_DREC_PARK, id, 0, code, error);
}

/* ---- engines --------------------------------------------------------------------------- */

static const struct lx_tls_peer *lea_peer(const struct csp_config *c, const char *name)
{
	for (size_t i = 0; i < c->tls_peers.n; i++)
		if (c->tls_peers.v[i].name && !strcmp(c->tls_peers.v[i].name, name))
			return &c->tls_peers.v[i];
	return NULL;
}

static void fingerprint(const struct csp_config *c, const struct csp_lea *l, char *fp, size_t n)
{
	const struct lx_tls_peer *p = lea_peer(c, l->name);
	char psk[129] = "";
	/* the key itself is compared, not shown: a hex digest would do, the fingerprint stays
	 * in memory only */
	for (size_t i = 0; p && p->psk && i < p->psk_len && i < 64; i++)
		snprintf(psk + 2 * i, 3, "%02x", p->psk[i]);
	snprintf(fp, n, "%s|%s|%s|%s|%s|%s|%llu|%llu|%llu|%llu", l->url ? l->url : "",
		 l->ca ? l->ca : "", l->client_cert ? l->client_cert : "",
		 l->client_key ? l->client_key : "", p && p->psk_identity ? p->psk_identity : "",
		 psk, (unsigned long long)l->inflight, (unsigned long long)l->connections,
		 (unsigned long long)l->retry_min_s, (unsigned long long)l->retry_max_s);
}

static void engine_free(struct engine *g)
{
	if (!g)
		return;
	if (g->e) {
		int rc = csp_deliver_stop(g->e, DRAIN_MS);
		if (rc == LI707_ELIMIT)
			lx_warn("lea %s: deliveries still in flight at the stop were given back (ready)",
				g->name);
		csp_deliver_free(g->e);
	}
	if (g->psk) {
		memset(g->psk, 0, g->psk_len);
		free(g->psk);
	}
	free(g->out);
	free(g);
}

static struct engine *engine_new(struct csp_rd *rd, const struct csp_config *c,
				 const struct csp_lea *l)
{
	struct engine *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->rd = rd;
	snprintf(g->name, sizeof g->name, "%s", l->name);
	fingerprint(c, l, g->fp, sizeof g->fp);
	const struct lx_tls_peer *p = lea_peer(c, l->name);
	struct csp_deliver_opts o = {
		.name = l->name, .url = l->url,
		.http = {.tls = &c->policy, .cert_file = l->client_cert, .key_file = l->client_key,
			 .ca_file = l->ca,
			 /* one POST per HTTP/1.1 connection: fewer connections than inflight
			  * would only queue the rest inside the client (and keep the LEA's group
			  * commit from sharing an fsync between them) */
			 .max_host_connections = (long)(l->inflight > l->connections ? l->inflight
										 : l->connections),
			 .connect_timeout_ms = 10000, .timeout_ms = 120000,
			 .low_speed_time = STALL_S},
		.inflight = (unsigned)l->inflight,
		.retry_min_ms = (int64_t)l->retry_min_s * 1000,
		.retry_max_ms = (int64_t)l->retry_max_s * 1000};
	if (p && p->psk_identity && p->psk) {
		g->psk = malloc(p->psk_len);
		if (!g->psk) {
			free(g);
			return NULL;
		}
		memcpy(g->psk, p->psk, p->psk_len);
		g->psk_len = p->psk_len;
		o.http.psk_identity = p->psk_identity;
		o.http.psk = g->psk;
		o.http.psk_len = g->psk_len;
		o.http.cert_file = NULL;
		o.http.key_file = NULL;
	}
	struct csp_deliver_queue q = {.next = q_next, .done = q_done, .retry = q_retry,
				      .park = q_park, .ud = g};
	char err[512] = "";
	int rc = csp_deliver_new(&o, &q, &g->e, err, sizeof err);
	if (!rc && (rc = csp_deliver_start(g->e)))
		snprintf(err, sizeof err, "cannot start its thread: %s", li707_strerror(rc));
	if (rc) {
		lx_err("lea %s: delivery engine: %s", l->name, err);
		engine_free(g);
		return NULL;
	}
	lx_info("lea %s: delivery engine started (inflight %llu)", l->name,
		(unsigned long long)(l->inflight ? l->inflight : 4));
	return g;
}

/* ---- packager thread ------------------------------------------------------------------- */

static void wake_engines(struct csp_rd *rd)
{
	pthread_mutex_lock(&rd->mu);
	for (size_t i = 0; i < rd->n_eng; i++)
		if (rd->eng[i] && rd->eng[i]->e)
			csp_deliver_wake(rd->eng[i]->e);
	pthread_mutex_unlock(&rd->mu);
}

static void recorded(void *ud)
{
	wake_engines(ud); /* references whose outcome is recorded may go on */
}

static void *packager_main(void *arg)
{
	struct csp_rd *rd = arg;
	pthread_setname_np(pthread_self(), "csp-pack"); /* top, perf */
	pthread_mutex_lock(&rd->mu);
	while (!rd->stopping) {
		while (!rd->wake && !rd->tick && !rd->stopping)
			pthread_cond_wait(&rd->cv, &rd->mu);
		if (rd->stopping)
			break;
		rd->wake = rd->tick = false;
		pthread_mutex_unlock(&rd->mu);
		void *tok = NULL;
		const struct csp_config *c = rd->src.acquire(rd->src.ud, &tok);
		size_t made = c ? pack_all(rd, c) : 0;
		if (tok)
			rd->src.release(tok);
		if (made)
			wake_engines(rd);
		pthread_mutex_lock(&rd->mu);
	}
	pthread_mutex_unlock(&rd->mu);
	return NULL;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static void metrics_register(struct csp_rd *rd, struct lx_metrics *reg)
{
	if (!reg)
		return;
	rd->m_inflight = lx_metrics_family(reg, LX_METRIC_GAUGE, "li707_csp_inflight",
					   "DeliveryObjects in flight, per LEA.", "lea", NULL, 0);
	rd->m_sent = lx_metrics_family(reg, LX_METRIC_COUNTER, "li707_csp_posts_total",
				       "DeliveryObject POSTs completed (any outcome), per LEA.",
				       "lea", NULL, 0);
	rd->m_retried = lx_metrics_family(reg, LX_METRIC_COUNTER, "li707_csp_retries_total",
					  "DeliveryObject POSTs that failed and will be retried, "
					  "per LEA.", "lea", NULL, 0);
	rd->m_parked = lx_metrics_family(reg, LX_METRIC_COUNTER, "li707_csp_parked_total",
					 "DeliveryObjects parked (ErrorInformation or a permanent "
					 "HTTP refusal), per LEA.", "lea", NULL, 0);
	rd->m_ok = lx_metrics_family(reg, LX_METRIC_GAUGE, "li707_csp_last_success_timestamp_seconds",
				     "Time of the last acknowledged DeliveryObject, per LEA.", "lea",
				     NULL, 0);
	rd->m_err = lx_metrics_family(reg, LX_METRIC_GAUGE, "li707_csp_last_error_timestamp_seconds",
				      "Time of the last failed DeliveryObject POST, per LEA.", "lea",
				      NULL, 0);
}

void csp_rd_collect(struct csp_rd *rd)
{
	if (!rd || !rd->m_inflight || !rd->m_sent || !rd->m_retried || !rd->m_parked || !rd->m_ok ||
	    !rd->m_err)
		return;
	pthread_mutex_lock(&rd->mu);
	for (size_t i = 0; i < rd->n_eng; i++) {
		struct engine *g = rd->eng[i];
		if (!g || !g->e)
			continue;
		struct csp_deliver_stats st;
		csp_deliver_stats(g->e, &st);
		lx_metric_gauge_set(lx_metric_get(rd->m_inflight, g->name), st.in_flight);
		lx_metric_set(lx_metric_get(rd->m_sent, g->name), (double)st.sent);
		lx_metric_set(lx_metric_get(rd->m_retried, g->name), (double)st.retried);
		lx_metric_set(lx_metric_get(rd->m_parked, g->name), (double)st.parked);
		lx_metric_gauge_set(lx_metric_get(rd->m_ok, g->name), (double)st.last_success);
		lx_metric_gauge_set(lx_metric_get(rd->m_err, g->name), (double)st.last_error);
	}
	pthread_mutex_unlock(&rd->mu);
}

int csp_rd_start(struct csp_store *s, const struct csp_config *c,
		 const struct csp_rd_cfg_source *src, struct lx_metrics *reg, struct csp_rd **out,
		 char *err, size_t errlen)
{
	struct csp_rd *rd = calloc(1, sizeof *rd);
	if (!rd) {
		snprintf(err, errlen, "out of memory");
		return LI707_ENOMEM;
	}
	rd->s = s;
	rd->src = *src;
	pthread_mutex_init(&rd->mu, NULL);
	pthread_cond_init(&rd->cv, NULL);
	metrics_register(rd, reg);
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", c->spool, CSP_AUDIT_FILE);
	struct csp_audit_info info = {0};
	int rc = csp_audit_open(path, CSP_AUDIT_RECOVER, &rd->audit, &info);
	if (rc) {
		snprintf(err, errlen, "audit log %s: %s (li707-csp audit check names the bad line)",
			 path, li707_strerror(rc));
		free(rd);
		return rc;
	}
	if (info.recovered)
		lx_warn("audit log: a torn last line (%llu bytes) was cut and the repair recorded",
			(unsigned long long)info.torn_bytes);
	struct csp_audit_record ar;
	csp_audit_record_init(&ar, CSP_AUDIT_OPENED);
	audit_append(rd->audit, NULL, &ar);
	struct csp_rec_opts ro = {.s = s, .audit = rd->audit, .recorded = recorded, .ud = rd};
	if ((rc = csp_rec_new(&ro, &rd->rec))) {
		snprintf(err, errlen, "cannot start the recorder: %s", li707_strerror(rc));
		csp_audit_close(rd->audit);
		free(rd);
		return rc;
	}
	rd->eng = calloc(c->n_leas ? c->n_leas : 1, sizeof *rd->eng);
	if (!rd->eng) {
		csp_rec_free(rd->rec);
		csp_audit_close(rd->audit);
		free(rd);
		snprintf(err, errlen, "out of memory");
		return LI707_ENOMEM;
	}
	for (size_t i = 0; i < c->n_leas; i++)
		rd->eng[rd->n_eng++] = engine_new(rd, c, &c->leas[i]); /* NULL: logged, retried at
									  * the next reload */
	if ((rc = -pthread_create(&rd->thread, NULL, packager_main, rd))) {
		snprintf(err, errlen, "cannot start the packager: %s", strerror(-rc));
		for (size_t i = 0; i < rd->n_eng; i++)
			engine_free(rd->eng[i]);
		free(rd->eng);
		csp_rec_free(rd->rec);
		csp_audit_close(rd->audit);
		free(rd);
		return rc;
	}
	rd->started = true;
	rd->wake = true; /* what was queued before the start */
	*out = rd;
	return 0;
}

void csp_rd_wake(struct csp_rd *rd)
{
	if (!rd)
		return;
	pthread_mutex_lock(&rd->mu);
	rd->wake = true;
	pthread_cond_signal(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
}

void csp_rd_tick(struct csp_rd *rd)
{
	if (!rd)
		return;
	pthread_mutex_lock(&rd->mu);
	rd->tick = true;
	pthread_cond_signal(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
}

void csp_rd_reload(struct csp_rd *rd, const struct csp_config *c)
{
	if (!rd)
		return;
	struct engine **nv = calloc(c->n_leas ? c->n_leas : 1, sizeof *nv);
	if (!nv) {
		lx_err("reload: out of memory: the delivery engines keep their configuration");
		return;
	}
	pthread_mutex_lock(&rd->mu);
	struct engine **old = rd->eng;
	size_t n_old = rd->n_eng;
	rd->eng = NULL;
	rd->n_eng = 0;
	pthread_mutex_unlock(&rd->mu);
	for (size_t i = 0; i < c->n_leas; i++) {
		const struct csp_lea *l = &c->leas[i];
		char fp[FP_MAX];
		fingerprint(c, l, fp, sizeof fp);
		for (size_t j = 0; j < n_old; j++) {
			if (!old[j] || strcmp(old[j]->name, l->name))
				continue;
			if (!strcmp(old[j]->fp, fp)) {
				nv[i] = old[j];
			} else {
				lx_info("lea %s: configuration changed: restarting its delivery engine",
					l->name);
				engine_free(old[j]);
			}
			old[j] = NULL;
			break;
		}
		if (!nv[i])
			nv[i] = engine_new(rd, c, l);
	}
	for (size_t j = 0; j < n_old; j++)
		if (old[j]) {
			lx_info("lea %s: removed from the configuration: its delivery engine stops",
				old[j]->name);
			engine_free(old[j]);
		}
	free(old);
	pthread_mutex_lock(&rd->mu);
	rd->eng = nv;
	rd->n_eng = c->n_leas;
	rd->wake = true;
	pthread_cond_signal(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
	wake_engines(rd);
}

struct csp_audit *csp_rd_audit(struct csp_rd *rd)
{
	return rd ? rd->audit : NULL;
}

void csp_rd_stop(struct csp_rd *rd)
{
	if (!rd)
		return;
	pthread_mutex_lock(&rd->mu);
	rd->stopping = true;
	pthread_cond_signal(&rd->cv);
	struct engine **v = rd->eng;
	size_t n = rd->n_eng;
	rd->eng = NULL;
	rd->n_eng = 0;
	pthread_mutex_unlock(&rd->mu);
	for (size_t i = 0; i < n; i++)
		engine_free(v[i]);
	free(v);
	if (rd->started)
		pthread_join(rd->thread, NULL);
	csp_rec_free(rd->rec); /* records what the engines handed back */
	csp_audit_close(rd->audit);
	pthread_cond_destroy(&rd->cv);
	pthread_mutex_destroy(&rd->mu);
	free(rd);
}

/* ---- operator commands ------------------------------------------------------------------ */

void csp_rd_notify(void *ud, struct csp_cmd_ctx *x, enum csp_cmd_event ev, int64_t id)
{
	struct csp_rd *rd = ud;
	struct csp_audit *a = rd ? rd->audit : NULL;
	const char *spool = rd ? NULL : (x->cfg ? x->cfg->spool : NULL);
	switch (ev) {
	case CSP_CMD_REF_ADD:
	case CSP_CMD_REF_CLOSE: {
		struct csp_audit_record r;
		csp_audit_record_init(&r, ev == CSP_CMD_REF_ADD ? CSP_AUDIT_REF_ADD
								: CSP_AUDIT_REF_CLOSE);
		r.ref = id;
		audit_append(a, spool, &r);
		break;
	}
	case CSP_CMD_DROP:
		audit_delivery(a, spool, x->store, CSP_AUDIT_DELIVERY, CSP_AUDIT_DROPPED, id, 0);
		break;
	case CSP_CMD_APPROVE:
		audit_delivery(a, spool, x->store, CSP_AUDIT_REVIEW, CSP_AUDIT_APPROVED, id, 0);
		break;
	case CSP_CMD_REJECT:
		audit_delivery(a, spool, x->store, CSP_AUDIT_REVIEW, CSP_AUDIT_REJECTED, id, 0);
		break;
	case CSP_CMD_RETRY: break;
	}
	if (rd) {
		csp_rd_wake(rd);
		wake_engines(rd);
	}
}

int csp_rd_live(void *ud, const char *lea, struct csp_lea_live *out)
{
	struct csp_rd *rd = ud;
	memset(out, 0, sizeof *out);
	if (!rd)
		return LI707_ENOTFOUND;
	int rc = LI707_ENOTFOUND;
	pthread_mutex_lock(&rd->mu);
	for (size_t i = 0; i < rd->n_eng; i++) {
		struct engine *g = rd->eng[i];
		if (!g || !g->e || strcmp(g->name, lea))
			continue;
		struct csp_deliver_stats st;
		csp_deliver_stats(g->e, &st);
		*out = (struct csp_lea_live){.running = true, .in_flight = st.in_flight,
					     .sent = st.sent, .done = st.done,
					     .retried = st.retried, .parked = st.parked,
					     .last_success = st.last_success,
					     .last_error = st.last_error};
		snprintf(out->last_error_text, sizeof out->last_error_text, "%s",
			 st.last_error_text);
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&rd->mu);
	return rc;
}
