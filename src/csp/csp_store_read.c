/* li707-csp - the store's reads (csp_store.h), each on a connection of the engine's read
 * pool: they never wait for the writer and see the last committed state (WAL). */
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csp_store_int.h"
#include "li707/error.h"
#include "li707/util.h"

#define LIST_MAX 1000000 /* rows one list call returns at most */

static const char *const DSTATES[CSP_D_NSTATES] = {"review", "ready", "inflight", "done",
						   "parked", "rejected", "dropped"};

const char *csp_dstate_name(enum csp_dstate s)
{
	return (unsigned)s < CSP_D_NSTATES ? DSTATES[s] : "?";
}

bool csp_dstate_parse(const char *name, enum csp_dstate *out)
{
	for (int i = 0; name && i < CSP_D_NSTATES; i++)
		if (strcmp(name, DSTATES[i]) == 0) {
			*out = (enum csp_dstate)i;
			return true;
		}
	return false;
}

int csp__read(struct csp_store *s, const char *sql, int (*row)(void *ud, sqlite3_stmt *st),
	      void *ud, const char *fmt, ...)
{
	if (!s)
		return LI707_EINVAL;
	sqlite3 *db = NULL;
	int rc = lx_engine_read_get(s->eng, &db);
	if (rc)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = lx_engine_read_prepare(db, sql, &st); /* prepared once per connection */
	if (!rc && fmt) {
		va_list ap;
		va_start(ap, fmt);
		for (int i = 0; fmt[i] && !rc; i++) {
			int k = i + 1, r;
			if (fmt[i] == 'i') {
				r = sqlite3_bind_int64(st, k, va_arg(ap, int64_t));
			} else {
				const char *t = va_arg(ap, const char *);
				r = t ? sqlite3_bind_text(st, k, t, -1, SQLITE_TRANSIENT)
				      : sqlite3_bind_null(st, k);
			}
			rc = lx_sq_err(r);
		}
		va_end(ap);
	}
	int r = SQLITE_DONE;
	while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
		rc = row(ud, st);
	if (!rc && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = lx_sq_err(r);
	lx_engine_read_done(st);
	lx_engine_read_put(s->eng, db);
	return rc;
}

static int64_t col_i(sqlite3_stmt *st, int c, int64_t dflt)
{
	return sqlite3_column_type(st, c) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, c);
}

static void copy_fixed(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* ---- references ---- */

void csp_ref_clear(struct csp_ref *r)
{
	if (!r)
		return;
	free(r->ref);
	free(r->lea);
	li707_secret_free(r->field);
	li707_secret_free(r->salt);
	free(r->hash);
	memset(r, 0, sizeof *r);
}

#define REF_COLS                                                                          \
	"id, kind, ref, lea, until, review, field, salt, hash, state, delivery_id, next_seq," \
	" created_at, closed_at"

static int ref_from_row(sqlite3_stmt *st, struct csp_ref *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	const char *k = lx_sq_text(st, 1);
	r->kind = k && strcmp(k, "LD") == 0 ? LI707_REF_LDID : LI707_REF_LIID;
	r->ref = csp__dup(lx_sq_text(st, 2));
	r->lea = csp__dup(lx_sq_text(st, 3));
	r->until = col_i(st, 4, 0);
	r->review = sqlite3_column_int(st, 5) != 0;
	r->field = csp__dup(lx_sq_text(st, 6));
	r->salt = csp__dup(lx_sq_text(st, 7));
	r->hash = csp__dup(lx_sq_text(st, 8));
	const char *state = lx_sq_text(st, 9);
	r->open = state && strcmp(state, "open") == 0;
	copy_fixed(r->delivery_id, sizeof r->delivery_id, lx_sq_text(st, 10));
	r->next_seq = sqlite3_column_int64(st, 11);
	r->created_at = col_i(st, 12, 0);
	r->closed_at = col_i(st, 13, 0);
	if (!r->lea || (lx_sq_text(st, 2) && !r->ref) || (lx_sq_text(st, 6) && !r->field) ||
	    (lx_sq_text(st, 7) && !r->salt) || (lx_sq_text(st, 8) && !r->hash)) {
		csp_ref_clear(r);
		return LI707_ENOMEM;
	}
	return 0;
}

struct ref_one {
	struct csp_ref r;
	bool found;
};

static int ref_one_row(void *ud, sqlite3_stmt *st)
{
	struct ref_one *o = ud;
	int rc = ref_from_row(st, &o->r);
	o->found = rc == 0;
	return rc ? rc : 1; /* one row */
}

static int ref_one(struct csp_store *s, const char *sql, const char *fmt, int64_t id,
		   const char *ref, struct csp_ref *out)
{
	struct ref_one o = {0};
	int rc = fmt[0] == 'i' ? csp__read(s, sql, ref_one_row, &o, fmt, id)
			       : csp__read(s, sql, ref_one_row, &o, fmt, ref);
	if (rc < 0)
		return rc;
	if (!o.found)
		return LI707_ENOTFOUND;
	*out = o.r;
	return 0;
}

int csp_store_ref_find(struct csp_store *s, const char *ref, struct csp_ref *out)
{
	if (!ref || !out)
		return LI707_EINVAL;
	return ref_one(s, "SELECT " REF_COLS " FROM refs WHERE ref = ?1 AND state = 'open'", "t", 0,
		       ref, out);
}

int csp_store_ref_get(struct csp_store *s, int64_t id, struct csp_ref *out)
{
	if (!out)
		return LI707_EINVAL;
	return ref_one(s, "SELECT " REF_COLS " FROM refs WHERE id = ?1", "i", id, NULL, out);
}

struct ref_walk {
	int (*cb)(void *ud, const struct csp_ref *r);
	void *ud;
};

static int ref_walk_row(void *ud, sqlite3_stmt *st)
{
	struct ref_walk *w = ud;
	struct csp_ref r;
	int rc = ref_from_row(st, &r);
	if (rc)
		return rc;
	rc = w->cb(w->ud, &r);
	csp_ref_clear(&r);
	return rc;
}

int csp_store_ref_list(struct csp_store *s, int (*cb)(void *ud, const struct csp_ref *r),
		       void *ud)
{
	if (!cb)
		return LI707_EINVAL;
	struct ref_walk w = {cb, ud};
	return csp__read(s, "SELECT " REF_COLS " FROM refs ORDER BY id", ref_walk_row, &w, NULL);
}

/* ---- growable result arrays ---- */

struct rows {
	void *v;
	size_t n, cap, elem, max;
	uint64_t bytes, max_bytes;
	size_t min;   /* events: rows taken whatever max_bytes says */
	bool with_xml;
	bool cut;     /* events: a row was left out (max or max_bytes) */
};

static void *rows_next(struct rows *r)
{
	if (li707_array_grow(&r->v, &r->cap, r->n + 1, r->elem, r->max ? r->max : LIST_MAX))
		return NULL;
	char *p = (char *)r->v + r->n * r->elem;
	memset(p, 0, r->elem);
	r->n++;
	return p;
}

/* ---- events ---- */

void csp_event_rows_free(struct csp_event_row *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].json);
	free(v);
}

static int event_row(void *ud, sqlite3_stmt *st)
{
	struct rows *r = ud;
	uint64_t bytes = (uint64_t)sqlite3_column_int64(st, 6);
	if (r->n >= r->min && r->n && r->bytes + bytes > r->max_bytes)
		return (r->cut = true), 1; /* full */
	if (r->n >= r->max)
		return (r->cut = true), 1;
	struct csp_event_row *e = rows_next(r);
	if (!e)
		return LI707_ENOMEM;
	e->id = sqlite3_column_int64(st, 0);
	e->ref_id = sqlite3_column_int64(st, 1);
	e->accepted_at = sqlite3_column_int64(st, 2);
	size_t n = (size_t)sqlite3_column_bytes(st, 3);
	const void *b = sqlite3_column_blob(st, 3);
	if (!(e->json = malloc(n + 1)))
		return LI707_ENOMEM;
	if (n)
		memcpy(e->json, b, n);
	e->json[n] = '\0';
	e->json_len = n;
	e->app_level = col_i(st, 4, -1);
	e->app_seq = col_i(st, 5, -1);
	e->bytes = bytes;
	r->bytes += bytes;
	return 0;
}

int csp_store_events_window(struct csp_store *s, int64_t ref_id, int64_t after,
			    size_t min_items, size_t max_items, uint64_t max_bytes,
			    struct csp_event_row **v, size_t *n, bool *more)
{
	if (!v || !n || !more || !max_items || min_items > max_items)
		return LI707_EINVAL;
	struct rows r = {.elem = sizeof(struct csp_event_row), .max = max_items,
			 .max_bytes = max_bytes ? max_bytes : UINT64_MAX, .min = min_items};
	int rc = csp__read(s, "SELECT id, ref_id, accepted_at, json, app_level, app_seq, bytes"
			      " FROM events WHERE ref_id = ?1 AND state = 'queued' AND id > ?2"
			      " ORDER BY id",
			   event_row, &r, "ii", ref_id, after);
	if (rc < 0) {
		csp_event_rows_free(r.v, r.n);
		return rc;
	}
	*v = r.v;
	*n = r.n;
	*more = r.cut;
	return 0;
}

static int id_row(void *ud, sqlite3_stmt *st)
{
	struct rows *r = ud;
	int64_t *p = rows_next(r);
	if (!p)
		return LI707_ENOMEM;
	*p = sqlite3_column_int64(st, 0);
	return 0;
}

int csp_store_refs_pending(struct csp_store *s, const char *lea, int64_t **ids, size_t *n)
{
	if (!lea || !ids || !n)
		return LI707_EINVAL;
	struct rows r = {.elem = sizeof(int64_t)};
	int rc = csp__read(s, "SELECT r.id FROM refs r WHERE r.lea = ?1 AND EXISTS(SELECT 1 FROM"
			      " events e WHERE e.ref_id = r.id AND e.state = 'queued') ORDER BY r.id",
			   id_row, &r, "t", lea);
	if (rc < 0) {
		free(r.v);
		return rc;
	}
	*ids = r.v;
	*n = r.n;
	return 0;
}

/* ---- deliveries ---- */

void csp_delivery_clear(struct csp_delivery *d)
{
	if (!d)
		return;
	free(d->lea);
	free(d->xml);
	free(d->last_error);
	memset(d, 0, sizeof *d);
}

void csp_deliveries_free(struct csp_delivery *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		csp_delivery_clear(&v[i]);
	free(v);
}

void csp__delivery_from_row(sqlite3_stmt *st, struct csp_delivery *d, bool with_xml)
{
	d->id = sqlite3_column_int64(st, 0);
	d->lea = csp__dup(lx_sq_text(st, 1));
	d->ref_id = sqlite3_column_int64(st, 2);
	d->seq = sqlite3_column_int64(st, 3);
	d->last = sqlite3_column_int(st, 4) != 0;
	copy_fixed(d->object_id, sizeof d->object_id, lx_sq_text(st, 5));
	d->items = sqlite3_column_int64(st, 6);
	d->bytes = (uint64_t)sqlite3_column_int64(st, 7);
	enum csp_dstate ds = CSP_D_READY;
	csp_dstate_parse(lx_sq_text(st, 8), &ds);
	d->state = ds;
	d->attempts = sqlite3_column_int64(st, 9);
	d->next_try = sqlite3_column_int64(st, 10);
	d->last_error = csp__dup(lx_sq_text(st, 11));
	d->created_at = sqlite3_column_int64(st, 12);
	d->updated_at = sqlite3_column_int64(st, 13);
	if (with_xml) {
		size_t n = (size_t)sqlite3_column_bytes(st, 14);
		const void *b = sqlite3_column_blob(st, 14);
		if ((d->xml = malloc(n + 1))) {
			if (n)
				memcpy(d->xml, b, n);
			d->xml[n] = '\0';
			d->xml_len = n;
		}
	}
}

static int delivery_row(void *ud, sqlite3_stmt *st)
{
	struct rows *r = ud;
	struct csp_delivery *d = rows_next(r);
	if (!d)
		return LI707_ENOMEM;
	csp__delivery_from_row(st, d, r->with_xml);
	if (!d->lea || (r->with_xml && !d->xml))
		return LI707_ENOMEM;
	return 0;
}

static int deliveries(struct csp_store *s, const char *sql, struct rows *r,
		      struct csp_delivery **v, size_t *n, const char *fmt, const char *t,
		      int64_t i1)
{
	int rc;
	if (!strcmp(fmt, "ti"))
		rc = csp__read(s, sql, delivery_row, r, fmt, t, i1);
	else if (!strcmp(fmt, "t"))
		rc = csp__read(s, sql, delivery_row, r, fmt, t);
	else if (!fmt[0])
		rc = csp__read(s, sql, delivery_row, r, NULL);
	else
		rc = csp__read(s, sql, delivery_row, r, fmt, i1);
	if (rc < 0) {
		csp_deliveries_free(r->v, r->n);
		return rc;
	}
	*v = r->v;
	*n = r->n;
	return 0;
}

int csp_store_ready(struct csp_store *s, const char *lea, int64_t now, size_t max,
		    struct csp_delivery **v, size_t *n)
{
	if (!lea || !v || !n || !max)
		return LI707_EINVAL;
	struct rows r = {.elem = sizeof(struct csp_delivery), .max = max, .with_xml = true};
	char sql[512];
	snprintf(sql, sizeof sql,
		 "SELECT " CSP__DELIVERY_COLS " FROM deliveries d WHERE d.lea = ?1 AND"
		 " d.state = 'ready' AND d.next_try <= ?2 ORDER BY d.ref_id, d.seq LIMIT %zu",
		 max);
	return deliveries(s, sql, &r, v, n, "ti", lea, now);
}

int csp_store_deliveries(struct csp_store *s, const char *lea, enum csp_dstate state, size_t max,
			 struct csp_delivery **v, size_t *n)
{
	if (!v || !n || (unsigned)state >= CSP_D_NSTATES)
		return LI707_EINVAL;
	if (!max || max > LIST_MAX)
		max = LIST_MAX;
	struct rows r = {.elem = sizeof(struct csp_delivery), .max = max};
	char sql[512];
	snprintf(sql, sizeof sql,
		 "SELECT " CSP__DELIVERY_COLS " FROM deliveries d WHERE d.state = '%s'%s"
		 " ORDER BY d.id LIMIT %zu",
		 DSTATES[state], lea ? " AND d.lea = ?1" : "", max);
	return deliveries(s, sql, &r, v, n, lea ? "t" : "", lea, 0);
}

int csp_store_delivery_get(struct csp_store *s, int64_t id, bool with_xml,
			   struct csp_delivery *out)
{
	if (!out)
		return LI707_EINVAL;
	struct rows r = {.elem = sizeof(struct csp_delivery), .max = 1, .with_xml = with_xml};
	struct csp_delivery *v = NULL;
	size_t n = 0;
	int rc = deliveries(s, "SELECT " CSP__DELIVERY_COLS " FROM deliveries d WHERE d.id = ?1",
			    &r, &v, &n, "i", NULL, id);
	if (rc)
		return rc;
	if (!n) {
		free(v);
		return LI707_ENOTFOUND;
	}
	*out = v[0];
	free(v);
	return 0;
}

/* ---- objects ---- */

void csp_object_clear(struct csp_object *o)
{
	if (!o)
		return;
	free(o->path);
	free(o->content_type);
	free(o->lea);
	free(o->push_state);
	free(o->verdict);
	memset(o, 0, sizeof *o);
}

void csp_objects_free(struct csp_object *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		csp_object_clear(&v[i]);
	free(v);
}

#define OBJ_COLS                                                                            \
	"o.id, o.event_id, o.ref_id, o.uuid, o.token, o.path, o.size, o.sha256, o.content_type," \
	" o.model, o.expiry, r.lea, o.push_state, o.push_attempts, o.push_next, o.verdict"

static int object_row(void *ud, sqlite3_stmt *st)
{
	struct rows *r = ud;
	struct csp_object *o = rows_next(r);
	if (!o)
		return LI707_ENOMEM;
	o->id = sqlite3_column_int64(st, 0);
	o->event_id = sqlite3_column_int64(st, 1);
	o->ref_id = sqlite3_column_int64(st, 2);
	copy_fixed(o->uuid, sizeof o->uuid, lx_sq_text(st, 3));
	copy_fixed(o->token, sizeof o->token, lx_sq_text(st, 4));
	o->path = csp__dup(lx_sq_text(st, 5));
	o->size = (uint64_t)sqlite3_column_int64(st, 6);
	copy_fixed(o->sha256, sizeof o->sha256, lx_sq_text(st, 7));
	o->content_type = csp__dup(lx_sq_text(st, 8));
	const char *m = lx_sq_text(st, 9);
	o->model = m ? m[0] : 0;
	o->expiry = sqlite3_column_int64(st, 10);
	o->lea = csp__dup(lx_sq_text(st, 11));
	o->push_state = csp__dup(lx_sq_text(st, 12));
	o->push_attempts = sqlite3_column_int64(st, 13);
	o->push_next = sqlite3_column_int64(st, 14);
	o->verdict = csp__dup(lx_sq_text(st, 15));
	if (!o->path || !o->content_type || !o->lea)
		return LI707_ENOMEM;
	return 0;
}

int csp_store_object_by_token(struct csp_store *s, const char *token, struct csp_object *out)
{
	if (!token || !out)
		return LI707_EINVAL;
	struct rows r = {.elem = sizeof(struct csp_object), .max = 1};
	int rc = csp__read(s, "SELECT " OBJ_COLS " FROM objects o JOIN refs r ON r.id = o.ref_id"
			      " WHERE o.token = ?1 AND o.state = 'stored'",
			   object_row, &r, "t", token);
	if (rc < 0 || !r.n) {
		csp_objects_free(r.v, r.n);
		return rc < 0 ? rc : LI707_ENOTFOUND;
	}
	*out = ((struct csp_object *)r.v)[0];
	free(r.v);
	return 0;
}

int csp_store_push_due(struct csp_store *s, const char *lea, int64_t now, size_t max,
		       struct csp_object **v, size_t *n)
{
	if (!lea || !v || !n || !max)
		return LI707_EINVAL;
	struct rows r = {.elem = sizeof(struct csp_object), .max = max};
	char sql[768];
	snprintf(sql, sizeof sql,
		 "SELECT " OBJ_COLS " FROM objects o JOIN refs r ON r.id = o.ref_id"
		 " JOIN events e ON e.id = o.event_id JOIN deliveries d ON d.id = e.delivery"
		 " WHERE o.push_state IN ('pending', 'retry') AND o.model = 'B'"
		 " AND o.push_next <= ?2 AND d.state = 'done' AND r.lea = ?1 ORDER BY o.id LIMIT %zu",
		 max);
	int rc = csp__read(s, sql, object_row, &r, "ti", lea, now);
	if (rc < 0) {
		csp_objects_free(r.v, r.n);
		return rc;
	}
	*v = r.v;
	*n = r.n;
	return 0;
}

/* ---- objects: retention (csp_run_binary.c) ---- */

static int objects_query(struct csp_store *s, const char *where, size_t max, int64_t arg,
			 struct csp_object **v, size_t *n)
{
	struct rows r = {.elem = sizeof(struct csp_object), .max = max};
	char sql[768];
	snprintf(sql, sizeof sql,
		 "SELECT " OBJ_COLS " FROM objects o JOIN refs r ON r.id = o.ref_id WHERE %s"
		 " LIMIT %zu", where, max);
	int rc = csp__read(s, sql, object_row, &r, "i", arg);
	if (rc < 0) {
		csp_objects_free(r.v, r.n);
		return rc;
	}
	*v = r.v;
	*n = r.n;
	return 0;
}

int csp_store_objects_expired(struct csp_store *s, int64_t before, size_t max,
			      struct csp_object **v, size_t *n)
{
	if (!v || !n || !max)
		return LI707_EINVAL;
	return objects_query(s, "o.state = 'stored' AND o.expiry <= ?1 ORDER BY o.expiry, o.id",
			     max, before, v, n);
}

/* ---- counts ---- */

void csp_store_counts_clear(struct csp_store_counts *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_leas; i++) {
		free(c->leas[i].lea);
		free(c->leas[i].last_error);
	}
	free(c->leas);
	memset(c, 0, sizeof *c);
}

uint64_t csp_lea_queue_depth(const struct csp_lea_counts *c)
{
	return c->events_queued + c->d[CSP_D_READY] + c->d[CSP_D_INFLIGHT] + c->d[CSP_D_REVIEW] +
	       c->d[CSP_D_PARKED];
}

static struct csp_lea_counts *lea_slot(struct rows *r, const char *lea)
{
	struct csp_lea_counts *v = r->v;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(v[i].lea, lea) == 0)
			return &v[i];
	struct csp_lea_counts *c = rows_next(r);
	if (c && !(c->lea = strdup(lea))) {
		r->n--;
		return NULL;
	}
	return c;
}

static void oldest(struct csp_lea_counts *c, int64_t t)
{
	if (t && (!c->oldest || t < c->oldest))
		c->oldest = t;
}

static int counts_leas(void *ud, sqlite3_stmt *st)
{
	return lea_slot(ud, lx_sq_text(st, 0) ? lx_sq_text(st, 0) : "") ? 0 : LI707_ENOMEM;
}

static int counts_events(void *ud, sqlite3_stmt *st)
{
	struct csp_lea_counts *c = lea_slot(ud, lx_sq_text(st, 0) ? lx_sq_text(st, 0) : "");
	if (!c)
		return LI707_ENOMEM;
	c->events_queued = (uint64_t)sqlite3_column_int64(st, 1);
	oldest(c, col_i(st, 2, 0));
	return 0;
}

static int counts_deliveries(void *ud, sqlite3_stmt *st)
{
	struct csp_lea_counts *c = lea_slot(ud, lx_sq_text(st, 0) ? lx_sq_text(st, 0) : "");
	if (!c)
		return LI707_ENOMEM;
	enum csp_dstate ds;
	if (!csp_dstate_parse(lx_sq_text(st, 1), &ds))
		return 0;
	c->d[ds] = (uint64_t)sqlite3_column_int64(st, 2);
	if (ds == CSP_D_REVIEW || ds == CSP_D_READY || ds == CSP_D_INFLIGHT || ds == CSP_D_PARKED)
		oldest(c, col_i(st, 3, 0));
	if (ds == CSP_D_DONE)
		c->last_done = col_i(st, 4, 0);
	return 0;
}

static int counts_error(void *ud, sqlite3_stmt *st)
{
	struct csp_lea_counts *c = lea_slot(ud, lx_sq_text(st, 0) ? lx_sq_text(st, 0) : "");
	if (!c)
		return LI707_ENOMEM;
	free(c->last_error);
	c->last_error = csp__dup(lx_sq_text(st, 1));
	return 0;
}

struct refcounts {
	uint64_t open, closed;
};

static int counts_refs(void *ud, sqlite3_stmt *st)
{
	struct refcounts *rc = ud;
	const char *state = lx_sq_text(st, 0);
	uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
	if (state && strcmp(state, "open") == 0)
		rc->open = n;
	else
		rc->closed += n;
	return 0;
}

int csp_store_counts(struct csp_store *s, struct csp_store_counts *out)
{
	if (!out)
		return LI707_EINVAL;
	struct rows r = {.elem = sizeof(struct csp_lea_counts), .max = 100000};
	struct refcounts rf = {0};
	int rc = csp__read(s, "SELECT DISTINCT lea FROM refs ORDER BY lea", counts_leas, &r, NULL);
	if (!rc)
		rc = csp__read(s, "SELECT r.lea, count(*), min(e.accepted_at) FROM events e JOIN refs r"
				  " ON r.id = e.ref_id WHERE e.state = 'queued' GROUP BY r.lea",
			       counts_events, &r, NULL);
	if (!rc)
		rc = csp__read(s, "SELECT lea, state, count(*), min(created_at), max(updated_at)"
				  " FROM deliveries GROUP BY lea, state",
			       counts_deliveries, &r, NULL);
	if (!rc)
		rc = csp__read(s, "SELECT d.lea, d.last_error FROM deliveries d WHERE d.last_error IS"
				  " NOT NULL AND d.updated_at = (SELECT max(d2.updated_at) FROM deliveries"
				  " d2 WHERE d2.lea = d.lea AND d2.last_error IS NOT NULL) ORDER BY d.id",
			       counts_error, &r, NULL);
	if (!rc)
		rc = csp__read(s, "SELECT state, count(*) FROM refs GROUP BY state", counts_refs, &rf,
			       NULL);
	struct csp_store_counts c = {.leas = r.v, .n_leas = r.n, .refs_open = rf.open,
				     .refs_closed = rf.closed};
	if (rc < 0) {
		csp_store_counts_clear(&c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- spool sweep ---- */

static int found_row(void *ud, sqlite3_stmt *st)
{
	(void)st;
	*(bool *)ud = true;
	return 1;
}

static int sweep_dir(struct csp_store *s, const char *dir, bool all, uint64_t *removed)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		bool keep = false;
		if (!all) {
			int r = csp__read(s, "SELECT 1 FROM objects WHERE uuid = ?1", found_row, &keep,
					  "t", e->d_name);
			if (r < 0)
				rc = r;
		}
		if (!rc && !keep && unlinkat(dirfd(d), e->d_name, 0) == 0)
			(*removed)++;
	}
	closedir(d);
	return rc;
}

int csp_store_spool_sweep(struct csp_store *s, uint64_t *removed)
{
	if (!s || s->read_only)
		return s ? -EROFS : LI707_EINVAL;
	uint64_t n = 0;
	char p[4300];
	snprintf(p, sizeof p, "%s/tmp", s->spool);
	int rc = sweep_dir(s, p, true, &n);
	for (unsigned i = 0; !rc && i < 256; i++) {
		snprintf(p, sizeof p, "%s/objects/%02x", s->spool, i);
		rc = sweep_dir(s, p, false, &n);
	}
	if (removed)
		*removed = n;
	return rc;
}
