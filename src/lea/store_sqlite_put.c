/* li707-lea - SQLite backend: the put job, run by the engine's writer thread inside the
 * batch transaction (src/common/sqlite_engine.c, called through the hooks of
 * store_sqlite.c): deliveries, items, parties, attachments (TS103707 R-DEL-6 duplicates,
 * R-HDR-2 sequences, R-CSP-2 schemas), the counters summed per batch, and the put's caller's
 * side. The Model B jobs are in store_sqlite_modelb.c.
 *
 * Every job function here runs on the writer connection; a negative return makes the writer
 * roll the job (or, for one action of a put, the action) back to its savepoint. */
#include <errno.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_sqlite_int.h"

/* ================= put ================= */

struct put_ctx {
	struct sq_store *s;
	struct sq_job *j;
	const struct lea_put *p;
	int64_t msg_id;
	struct sq_delta pending;         /* counters of the delivery being stored */
	int64_t linked;                  /* orphans it took the data of */
};

/* Counter changes of one job: at most two per action and one per duplicate, so a few per
 * action of a message; this is far above any configured max_actions. */
#define SQ_DELTAS_MAX ((size_t)1 << 20)
/* Identifier rows of SQ_ITEM_ROWS items: more than a document of the default 64 MiB
 * max_document_bytes can carry (each identifier takes well over 16 bytes of XML). */
#define SQ_PARTY_ROWS_MAX ((size_t)1 << 22)

static int delta_add(struct sq_deltas *d, const struct sq_delta *x)
{
	int rc = li707_array_grow((void **)&d->v, &d->cap, d->n + 1, sizeof *d->v, SQ_DELTAS_MAX);
	if (rc)
		return rc;
	d->v[d->n++] = *x;
	return 0;
}

/* ---- remembered reference ids ---- */

static size_t ref_hash(const char *r, int kind)
{
	size_t h = 1469598103934665603ull ^ (size_t)kind;
	for (; *r; r++)
		h = (h ^ (unsigned char)*r) * 1099511628211ull;
	return h;
}

void lea__sq_refcache_clear(struct sq_store *s, bool free_all)
{
	if (!s->refcache)
		return;
	for (size_t i = 0; i < SQ_REFCACHE; i++) {
		free(s->refcache[i].reference);
		s->refcache[i].reference = NULL;
	}
	s->n_refcache = 0;
	if (free_all) {
		free(s->refcache);
		s->refcache = NULL;
	}
}

/* The slot of (reference, kind): its entry, or the empty slot where it goes. */
static struct sq_refent *ref_slot(struct sq_store *s, const char *r, int kind)
{
	size_t i = ref_hash(r, kind) % SQ_REFCACHE;
	for (;; i = (i + 1) % SQ_REFCACHE) {
		struct sq_refent *e = &s->refcache[i];
		if (!e->reference || (e->kind == kind && !strcmp(e->reference, r)))
			return e;
	}
}

static void ref_remember(struct sq_store *s, const char *r, int kind, int64_t id)
{
	if (!s->refcache && !(s->refcache = calloc(SQ_REFCACHE, sizeof *s->refcache)))
		return;
	if (s->n_refcache >= SQ_REFCACHE / 2)
		lea__sq_refcache_clear(s, false); /* keep probing short; refilled as used */
	struct sq_refent *e = ref_slot(s, r, kind);
	if (e->reference || !(e->reference = strdup(r)))
		return;
	e->kind = kind;
	e->id = id;
	s->n_refcache++;
}

static int ref_id(struct put_ctx *c, const struct li707_delivery *d, int64_t *out)
{
	struct sq_store *s = c->s;
	int kind = (int)d->ref_kind;
	if (s->refcache) {
		struct sq_refent *e = ref_slot(s, d->reference, kind);
		if (e->reference) {
			*out = e->id;
			return 0;
		}
	}
	sqlite3_stmt *st = s->st[SQ_REF_GET];
	int rc = lx_sq_bind(st, "ti", d->reference, (int64_t)kind);
	if (!rc)
		rc = lx_sq_step_int(st, out);
	if (rc == 0) {
		st = s->st[SQ_REF_INS];
		if ((rc = lx_sq_bind(st, "ti", d->reference, (int64_t)kind)) ||
		    (rc = lx_sq_step_done(st)))
			return rc;
		*out = sqlite3_last_insert_rowid(s->wdb);
	} else if (rc < 0) {
		return rc;
	}
	ref_remember(s, d->reference, kind, *out);
	return 0;
}

/* Existing delivery row for d's ObjectIdentifier or DeliveryID+SequenceNumber, or 0. */
static int find_dup(struct put_ctx *c, const struct li707_delivery *d, int64_t *row)
{
	struct sq_store *s = c->s;
	sqlite3_stmt *st = s->st[SQ_DUP_FIND];
	bool seq = d->delivery_id[0] && d->has_sequence;
	*row = 0;
	int rc = lx_sq_bind(st, seq ? "ttu" : "tnn", d->object_id, d->delivery_id, d->sequence);
	if (!rc)
		rc = lx_sq_step_int(st, row);
	else
		lx_sq_done(st);
	return rc < 0 ? rc : 0;
}

static bool same_delivery(const struct li707_delivery *a, const struct li707_delivery *b)
{
	if (!strcmp(a->object_id, b->object_id))
		return true;
	return a->delivery_id[0] && a->has_sequence && b->has_sequence &&
	       !strcmp(a->delivery_id, b->delivery_id) && a->sequence == b->sequence;
}

/* Per DeliveryID: the numbers seen (lo..hi, n of them), LastSequence seen, and how many are
 * missing in min(lo, 1)..hi (a first number above 1 counts 1.. as missing). The deltas go to
 * the reference's counters.
 *
 * A `streams` row is kept only for a stream that needs one: two deliveries or more, or
 * numbers missing (lea_store_gaps walks those). The usual stream of one delivery (a fresh
 * DeliveryID, SequenceNumber 1, LastSequence true) writes no row: a row keyed by a random
 * DeliveryID would dirty one more random page of the index per delivery. Without a row, the
 * stream's state is that of its deliveries stored before this one (at most one, by the rule
 * above), read from the deliveries_seq index that the duplicate lookup has just visited. */
struct stream_state {
	int64_t lo, hi, n, ended, missing, deliveries;
};

/* The state of the stream did from the deliveries stored before row `before`. */
static int stream_read(struct sq_store *s, const char *did, int64_t before, struct stream_state *t)
{
	memset(t, 0, sizeof *t);
	/* Up to two earlier deliveries of the stream (index range, two table rows at most). */
	sqlite3_stmt *st = s->st[SQ_STREAM_FIRST];
	int rc = lx_sq_bind(st, "ti", did, before);
	if (rc)
		return rc;
	int64_t seq = 0, last = 0;
	bool has_seq = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (t->deliveries++ == 0) {
			has_seq = sqlite3_column_type(st, 0) != SQLITE_NULL;
			seq = sqlite3_column_int64(st, 0);
			last = sqlite3_column_int64(st, 1);
		}
	}
	lx_sq_done(st);
	if (rc != SQLITE_DONE)
		return lx_sq_err(rc);
	if (t->deliveries == 0)
		return 0; /* a new stream (the usual case): no row can exist */
	st = s->st[SQ_STREAM_GET];
	if ((rc = lx_sq_bind(st, "t", did)))
		return rc;
	rc = sqlite3_step(st);
	bool row = rc == SQLITE_ROW;
	if (row) {
		t->lo = sqlite3_column_int64(st, 0);
		t->hi = sqlite3_column_int64(st, 1);
		t->n = sqlite3_column_int64(st, 2);
		t->ended = sqlite3_column_int64(st, 3);
		t->missing = sqlite3_column_int64(st, 4);
		rc = SQLITE_DONE;
	}
	lx_sq_done(st);
	if (rc != SQLITE_DONE)
		return lx_sq_err(rc);
	if (row)
		return 0;
	if (t->deliveries == 1) { /* one earlier delivery without gap: its own state */
		t->lo = t->hi = seq;
		t->n = has_seq;
		t->ended = last;
		t->missing = has_seq && seq > 1 ? seq - 1 : 0;
		return 0;
	}
	/* More than one without a row: not written by this version; rebuilt from them all. */
	st = s->st[SQ_STREAM_AGG];
	if ((rc = lx_sq_bind(st, "ti", did, before)))
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t->lo = sqlite3_column_int64(st, 1);
		t->hi = sqlite3_column_int64(st, 2);
		t->n = sqlite3_column_int64(st, 3);
		t->ended = sqlite3_column_int64(st, 4);
		if (t->n)
			t->missing = t->hi - (t->lo < 1 ? t->lo : 1) + 1 - t->n;
		rc = SQLITE_DONE;
	}
	lx_sq_done(st);
	return rc == SQLITE_DONE ? 0 : lx_sq_err(rc);
}

/* row: the delivery just inserted (the stream's state is read without it). */
static int stream_update(struct put_ctx *c, const struct li707_delivery *d, int64_t ref,
			 int64_t row, int64_t delta[3])
{
	struct sq_store *s = c->s;
	delta[0] = delta[1] = delta[2] = 0;
	if (!d->delivery_id[0])
		return 0;
	struct stream_state t;
	int rc = stream_read(s, d->delivery_id, row, &t);
	if (rc)
		return rc;
	int64_t old_ended = t.ended, old_missing = t.missing;
	bool exists = t.deliveries > 0;
	if (d->has_sequence) {
		int64_t q = (int64_t)d->sequence;
		t.lo = t.n ? (q < t.lo ? q : t.lo) : q;
		t.hi = t.n ? (q > t.hi ? q : t.hi) : q;
		t.n++;
		int64_t base = t.lo < 1 ? t.lo : 1;
		t.missing = t.hi - base + 1 - t.n;
	}
	if (d->last_sequence == LI707_TRUE)
		t.ended = 1;
	if (exists || t.missing > 0) {
		sqlite3_stmt *st = s->st[SQ_STREAM_PUT];
		if ((rc = lx_sq_bind(st, "tiiiiii", d->delivery_id, ref, t.lo, t.hi, t.n, t.ended,
				       t.missing)) ||
		    (rc = lx_sq_step_done(st)))
			return rc;
	}
	delta[0] = exists ? 0 : 1;
	delta[1] = t.ended - old_ended;
	delta[2] = t.missing - old_missing;
	return 0;
}

/* A record whose uuid has an ORPHAN upload of the same peer takes its data (R-BIN-B4). */
static int link_orphan(struct put_ctx *c, const char *uuid, const struct li707_binary_object *b,
		       enum lea_att_state *state, uint64_t *bytes, char sha[65], char *file,
		       size_t file_len, int64_t *orphan_id)
{
	struct sq_store *s = c->s;
	sqlite3_stmt *st = s->st[SQ_ORPHAN_FIND];
	*orphan_id = 0;
	int rc = lx_sq_bind(st, "tt", uuid, c->p->peer);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*orphan_id = sqlite3_column_int64(st, 0);
		*bytes = (uint64_t)sqlite3_column_int64(st, 1);
		snprintf(sha, 65, "%s", lx_sq_text(st, 2) ? lx_sq_text(st, 2) : "");
		snprintf(file, file_len, "%s", lx_sq_text(st, 3) ? lx_sq_text(st, 3) : "");
		rc = SQLITE_DONE;
	}
	lx_sq_done(st);
	if (rc != SQLITE_DONE)
		return lx_sq_err(rc);
	if (*orphan_id)
		*state = lea__sq_compare_record(b->has_content_length, b->content_length, b->checksum,
					*bytes, sha);
	return 0;
}

static int store_attachment(struct put_ctx *c, int64_t id, int64_t item, size_t idx,
			    int64_t ref, const struct li707_binary_object *b)
{
	struct sq_store *s = c->s;
	char uuid[37], sha[65] = "", file[4096] = "";
	bool model_b = b->url && li707_binary_url_uuid(b->url, s->o->binary_path, uuid);
	enum lea_att_state state = model_b ? LEA_ATT_ANNOUNCED : LEA_ATT_TO_FETCH;
	uint64_t bytes = 0;
	int64_t orphan = 0;
	int rc = 0;
	if (model_b && s->orphans_maybe &&
	    (rc = link_orphan(c, uuid, b, &state, &bytes, sha, file, sizeof file, &orphan)))
		return rc;
	sqlite3_stmt *st = s->st[SQ_ATT_INS];
	rc = lx_sq_bind(st, "iiuitttt", id, item, (uint64_t)idx, ref, c->p->peer, b->url,
			  model_b ? uuid : NULL, model_b ? "B" : "?");
	if (!rc && b->has_content_length)
		rc = lx_sq_err(sqlite3_bind_int64(st, 9, (int64_t)b->content_length));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_text(st, 10, b->content_type, -1, SQLITE_STATIC));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_text(st, 11, b->expiry, -1, SQLITE_STATIC));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_text(st, 12, b->checksum, -1, SQLITE_STATIC));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_text(st, 13, b->original_filename, -1, SQLITE_STATIC));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_text(st, 14, b->csp_defined_identifier, -1,
						   SQLITE_STATIC));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_int(st, 15, (int)state));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_int64(st, 16, (int64_t)bytes));
	if (!rc && sha[0])
		rc = lx_sq_err(sqlite3_bind_text(st, 17, sha, -1, SQLITE_STATIC));
	if (!rc && file[0])
		rc = lx_sq_err(sqlite3_bind_text(st, 18, file, -1, SQLITE_STATIC));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_int64(st, 19, c->j->now));
	rc = rc ? (lx_sq_done(st), rc) : lx_sq_step_done(st);
	if (!rc && sqlite3_last_insert_rowid(s->wdb) != id)
		rc = -EIO; /* the attachments of an item must have consecutive ids */
	if (!rc && orphan) {
		st = s->st[SQ_ATT_DEL];
		if (!(rc = lx_sq_bind(st, "i", orphan)))
			rc = lx_sq_step_done(st);
		if (!rc)
			c->linked++;
	}
	if (!rc)
		c->pending.att[state]++;
	return rc;
}

/* The identifiers of an item, each (value, role) once: the index behind --party. The rest
 * of a party (format, targeted, position) is in the raw message (lea_store_item). The key
 * starts with the item's bucket (id >> SQ_PARTY_BUCKET_BITS): new entries go into the small
 * subtree of the current bucket, whose pages a batch shares, instead of random pages all
 * over a large index (each of which a commit would write to the WAL). */
struct party_row {
	const char *value;
	int64_t item;
	int role;
};

struct party_rows {
	struct party_row *v;
	size_t n, cap;
};

static int party_collect(const struct li707_item *it, int64_t item, struct party_rows *pr)
{
	size_t need = it->sender ? it->sender->n_ids : 0;
	for (size_t r = 0; r < it->n_receivers; r++)
		need += it->receivers[r].n_ids;
	if (need > SQ_PARTY_ROWS_MAX - pr->n)
		return LI707_ELIMIT;
	int rc = li707_array_grow((void **)&pr->v, &pr->cap, pr->n + need, sizeof *pr->v,
				  SQ_PARTY_ROWS_MAX);
	if (rc)
		return rc;
	size_t first = pr->n;
	for (int role = 0; role < 2; role++) {
		size_t np = role ? it->n_receivers : it->sender ? 1 : 0;
		for (size_t p = 0; p < np; p++) {
			const struct li707_party *pt = role ? &it->receivers[p] : it->sender;
			for (size_t k = 0; k < pt->n_ids; k++) {
				const char *val = pt->ids[k].value;
				bool seen = !val;
				for (size_t i = first; i < pr->n && !seen; i++)
					seen = pr->v[i].role == role && !strcmp(pr->v[i].value, val);
				if (!seen)
					pr->v[pr->n++] = (struct party_row){val, item, role};
			}
		}
	}
	return 0;
}

/* All collected party rows, SQ_PARTY_ROWS per statement. */
static int store_parties(struct put_ctx *c, const struct party_rows *pr)
{
	struct sq_store *s = c->s;
	int rc = 0;
	for (size_t i = 0; !rc && i < pr->n;) {
		size_t chunk = pr->n - i < SQ_PARTY_ROWS ? pr->n - i : SQ_PARTY_ROWS;
		sqlite3_stmt *st = s->party_st[chunk - 1];
		for (size_t k = 0; !rc && k < chunk; k++, i++) {
			const struct party_row *r = &pr->v[i];
			int at = (int)k * 4;
			rc = sqlite3_bind_int64(st, at + 1, r->item >> SQ_PARTY_BUCKET_BITS);
			if (!rc)
				rc = sqlite3_bind_text(st, at + 2, r->value, -1, SQLITE_STATIC);
			if (!rc)
				rc = sqlite3_bind_int64(st, at + 3, r->item);
			if (!rc)
				rc = sqlite3_bind_int(st, at + 4, r->role);
		}
		rc = rc ? (lx_sq_done(st), lx_sq_err(rc)) : lx_sq_step_done(st);
	}
	return rc;
}

/* Binds the columns of one items row at parameter offset `at` (SQ_ITEM_COLS of them). */
static int bind_item(sqlite3_stmt *st, int at, int64_t id, int64_t delivery, size_t idx,
		     int64_t ref, const struct li707_item *it, int64_t epoch, int64_t att_first)
{
	const char *sender = it->sender && it->sender->n_ids ? it->sender->ids[0].value : NULL;
	int rc = sqlite3_bind_int64(st, at + 1, id);
	if (!rc)
		rc = sqlite3_bind_int64(st, at + 2, delivery);
	if (!rc)
		rc = sqlite3_bind_int64(st, at + 3, (int64_t)idx);
	if (!rc)
		rc = sqlite3_bind_int64(st, at + 4, ref);
	if (!rc)
		rc = it->timestamp ? sqlite3_bind_text(st, at + 5, it->timestamp, -1, SQLITE_STATIC)
				   : sqlite3_bind_null(st, at + 5);
	if (!rc)
		rc = sqlite3_bind_int64(st, at + 6, epoch);
	if (!rc)
		rc = it->has_correlation ? sqlite3_bind_int64(st, at + 7, (int64_t)it->app_level_id)
					 : sqlite3_bind_null(st, at + 7);
	if (!rc)
		rc = it->has_correlation ? sqlite3_bind_int64(st, at + 8, (int64_t)it->app_seq)
					 : sqlite3_bind_null(st, at + 8);
	if (!rc)
		rc = sender ? sqlite3_bind_text(st, at + 9, sender, -1, SQLITE_STATIC)
			    : sqlite3_bind_null(st, at + 9);
	if (!rc)
		rc = sqlite3_bind_int64(st, at + 10, (int64_t)it->n_receivers);
	if (!rc)
		rc = sqlite3_bind_int64(st, at + 11, (int64_t)it->n_attachments);
	if (!rc)
		rc = sqlite3_bind_int64(st, at + 12, att_first);
	return lx_sq_err(rc);
}

/* What an item has beyond its row and parties: attachments, CSP schemas. */
static int store_item_extras(struct put_ctx *c, int64_t item, int64_t att_first, int64_t ref,
			     const struct li707_item *it)
{
	struct sq_store *s = c->s;
	int rc = 0;
	for (size_t a = 0; a < it->n_attachments && !rc; a++)
		rc = store_attachment(c, att_first + (int64_t)a, item, a, ref, &it->attachments[a]);
	/* TS103707 R-CSP-2: the first schemaContent a peer sends for an identifier is kept. */
	for (size_t k = 0; k < it->n_csp && !rc; k++) {
		const struct li707_csp_data *cd = &it->csp[k];
		if (!cd->schema_content || !cd->schema_id)
			continue;
		sqlite3_stmt *st = s->st[SQ_CSP_INS];
		rc = lx_sq_bind(st, "tttbi", c->p->peer, cd->schema_id, cd->schema_url,
				  cd->schema_content, strlen(cd->schema_content), item);
		rc = rc ? (lx_sq_done(st), rc) : lx_sq_step_done(st);
	}
	return rc;
}

/* The items of a delivery, SQ_ITEM_ROWS per INSERT, with ids (and attachment ids) given
 * by the writer; then all their parties, SQ_PARTY_ROWS per INSERT; then what some items
 * have beyond that. One statement per item and one per item's parties cost ≈ 2 µs each in
 * SQLite's step/reset, more than the rows themselves. */
static int store_items(struct put_ctx *c, int64_t delivery, int64_t ref,
		       const struct li707_delivery *d)
{
	struct sq_store *s = c->s;
	struct party_rows pr = {0};
	int rc = 0;
	for (size_t k = 0; k < d->n_items && !rc;) {
		size_t chunk = d->n_items - k < SQ_ITEM_ROWS ? d->n_items - k : SQ_ITEM_ROWS;
		int64_t first = s->next_item_id, att_first[SQ_ITEM_ROWS];
		s->next_item_id += (int64_t)chunk;
		sqlite3_stmt *st = s->item_st[chunk - 1];
		for (size_t r = 0; r < chunk && !rc; r++) {
			const struct li707_item *it = &d->items[k + r];
			att_first[r] = s->next_att_id;
			s->next_att_id += (int64_t)it->n_attachments;
			rc = bind_item(st, (int)r * SQ_ITEM_COLS, first + (int64_t)r, delivery, k + r,
				       ref, it, lea__store_item_epoch(it, c->j->now), att_first[r]);
		}
		rc = rc ? (lx_sq_done(st), rc) : lx_sq_step_done(st);
		pr.n = 0;
		for (size_t r = 0; r < chunk && !rc; r++)
			rc = party_collect(&d->items[k + r], first + (int64_t)r, &pr);
		if (!rc)
			rc = store_parties(c, &pr);
		for (size_t r = 0; r < chunk && !rc; r++)
			rc = store_item_extras(c, first + (int64_t)r, att_first[r], ref,
					       &d->items[k + r]);
		k += chunk;
	}
	free(pr.v);
	return rc;
}

static int store_delivery(struct put_ctx *c, size_t action, int64_t *row)
{
	struct sq_store *s = c->s;
	const struct li707_delivery *d = c->p->msg->actions[action].delivery;
	int64_t ref = 0, delta[3];
	memset(&c->pending, 0, sizeof c->pending);
	c->linked = 0;
	int rc = ref_id(c, d, &ref);
	if (rc)
		return rc;
	sqlite3_stmt *st = s->st[SQ_DEL_INS];
	rc = lx_sq_bind(st, "iuttitt", c->msg_id, (uint64_t)action, d->object_id,
			  d->identifier[0] ? d->identifier : d->object_id, ref, c->p->peer,
			  d->delivery_id[0] ? d->delivery_id : NULL);
	if (!rc && d->has_sequence)
		rc = lx_sq_err(sqlite3_bind_int64(st, 8, (int64_t)d->sequence));
	if (!rc && d->last_sequence != LI707_ABSENT)
		rc = lx_sq_err(sqlite3_bind_int(st, 9, d->last_sequence == LI707_TRUE));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_int64(st, 10, (int64_t)d->n_items));
	if (!rc)
		rc = lx_sq_err(sqlite3_bind_int64(st, 11, c->j->now));
	rc = rc ? (lx_sq_done(st), rc) : lx_sq_step_done(st);
	if (rc)
		return rc;
	*row = sqlite3_last_insert_rowid(s->wdb);
	if ((rc = store_items(c, *row, ref, d)))
		return rc;
	if ((rc = stream_update(c, d, ref, *row, delta)))
		return rc;
	c->pending.ref = ref;
	c->pending.deliveries = 1;
	c->pending.items = (int64_t)d->n_items;
	c->pending.streams = delta[0];
	c->pending.ended = delta[1];
	c->pending.missing = delta[2];
	c->pending.received = c->j->now;
	return 0;
}

/* The counters of a delivery now stored go with its job. */
static int keep_pending(struct put_ctx *c)
{
	int rc = delta_add(&c->j->deltas, &c->pending);
	if (!rc && c->linked) {
		struct sq_delta o = {.ref = 0};
		o.att[LEA_ATT_ORPHAN] = -c->linked;
		rc = delta_add(&c->j->deltas, &o);
	}
	return rc;
}

static int store_message(struct put_ctx *c)
{
	struct sq_store *s = c->s;
	const struct li707_header *h = &c->p->msg->header;
	sqlite3_stmt *st = s->st[SQ_MSG_INS];
	const struct sq_job *j = c->j;
	int rc = lx_sq_bind(st, "titttttttbi", c->p->peer, j->now, h->transaction_id,
			      h->sender_cc, h->sender_id, h->receiver_cc, h->receiver_id,
			      h->timestamp, h->etsi_version, j->raw, j->raw_len, (int64_t)j->raw_codec);
	if (!rc)
		rc = lx_sq_err(j->raw_codec == SQ_RAW_PLAIN
					 ? sqlite3_bind_null(st, 12)
					 : sqlite3_bind_int64(st, 12, (int64_t)c->p->raw_len));
	rc = rc ? (lx_sq_done(st), rc) : lx_sq_step_done(st);
	if (!rc)
		c->msg_id = sqlite3_last_insert_rowid(s->wdb);
	return rc;
}

/* Counts a duplicate on the stored delivery row and its reference (R-DEL-6). */
static int count_duplicate(struct put_ctx *c, int64_t row)
{
	struct sq_store *s = c->s;
	sqlite3_stmt *st = s->st[SQ_DUP_INC];
	int64_t ref = 0;
	int rc = lx_sq_bind(st, "i", row);
	if (!rc && (rc = lx_sq_step_int(st, &ref)) == 1) {
		struct sq_delta dd = {.ref = ref, .duplicates = 1};
		rc = delta_add(&c->j->deltas, &dd);
	}
	return rc < 0 ? rc : 0;
}

/* Each new action is stored in its own savepoint: one that fails is rolled back alone
 * (LEA_PUT_FAILED). The message row exists only when some action was stored. A message
 * with one new action and nothing else to count needs no savepoint of its own: the job's
 * savepoint undoes it (single_failed). */
static int store_new_actions(struct put_ctx *c, int64_t *target, size_t n_new, bool dups,
			     size_t *n_stored)
{
	struct sq_store *s = c->s;
	const struct li707_message *m = c->p->msg;
	bool own_sp = n_new > 1 || dups;
	int rc = store_message(c);
	if (rc)
		return rc;
	*n_stored = 0;
	for (size_t i = 0; i < m->n_actions; i++) {
		if (c->p->outcome[i] != LEA_PUT_STORED || target[i])
			continue;
		if (!own_sp) {
			if ((rc = store_delivery(c, i, &target[i])) || (rc = keep_pending(c))) {
				c->p->outcome[i] = LEA_PUT_FAILED;
				c->j->single_failed = true;
				return rc;
			}
			(*n_stored)++;
			continue;
		}
		if ((rc = lx_sq_exec(s->st[SQ_SP_ACT])))
			return rc;
		rc = store_delivery(c, i, &target[i]);
		if (!rc)
			rc = keep_pending(c);
		if (rc) {
			c->p->outcome[i] = LEA_PUT_FAILED;
			target[i] = 0;
			lea__sq_refcache_clear(s, false);
			if ((rc = lx_sq_exec(s->st[SQ_RB_ACT])))
				return rc;
		} else {
			(*n_stored)++;
		}
		if ((rc = lx_sq_exec(s->st[SQ_REL_ACT])))
			return rc;
	}
	if (*n_stored == 0) {
		sqlite3_stmt *st = s->st[SQ_MSG_DEL];
		if ((rc = lx_sq_bind(st, "i", c->msg_id)) || (rc = lx_sq_step_done(st)))
			return rc;
		c->msg_id = 0;
	}
	return 0;
}

int lea__sq_run_put(struct sq_store *s, struct sq_job *j)
{
	struct lea_put *p = j->put;
	const struct li707_message *m = p->msg;
	struct put_ctx c = {.s = s, .j = j, .p = p};
	size_t n = m->n_actions;
	int64_t *target = calloc(n ? n : 1, sizeof *target);      /* stored row this action is / repeats */
	size_t *dup_of = calloc(n ? n : 1, sizeof *dup_of);        /* earlier action it repeats, + 1 */
	if (!target || !dup_of) {
		free(target);
		free(dup_of);
		return LI707_ENOMEM;
	}
	int rc = 0;
	size_t n_new = 0, n_dup = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		p->outcome[i] = LEA_PUT_SKIPPED;
		if (!lea__store_action_storable(&m->actions[i]))
			continue;
		const struct li707_delivery *d = m->actions[i].delivery;
		for (size_t k = 0; k < i && !dup_of[i]; k++)
			if (p->outcome[k] != LEA_PUT_SKIPPED && same_delivery(m->actions[k].delivery, d))
				dup_of[i] = k + 1;
		if (dup_of[i]) {
			p->outcome[i] = LEA_PUT_DUPLICATE;
			n_dup++;
			continue;
		}
		rc = find_dup(&c, d, &target[i]);
		p->outcome[i] = target[i] ? LEA_PUT_DUPLICATE : LEA_PUT_STORED;
		n_new += !target[i];
		n_dup += target[i] != 0;
	}
	size_t n_stored = 0;
	if (!rc && n_new)
		rc = store_new_actions(&c, target, n_new, n_dup > 0, &n_stored);
	for (size_t i = 0; i < n && !rc; i++) {
		if (p->outcome[i] != LEA_PUT_DUPLICATE)
			continue;
		if (dup_of[i]) {
			size_t k = dup_of[i] - 1; /* already resolved: k < i */
			target[i] = target[k];
			if (p->outcome[k] == LEA_PUT_FAILED || !target[k]) {
				p->outcome[i] = LEA_PUT_FAILED;
				continue;
			}
		}
		rc = count_duplicate(&c, target[i]);
	}
	p->message_id = rc ? 0 : c.msg_id;
	free(target);
	free(dup_of);
	return rc;
}

/* ---- counters, once per batch ---- */

static int delta_cmp(const void *a, const void *b)
{
	const struct sq_delta *x = a, *y = b;
	return x->ref < y->ref ? -1 : x->ref > y->ref;
}

static void delta_merge(struct sq_delta *into, const struct sq_delta *d)
{
	into->deliveries += d->deliveries;
	into->items += d->items;
	into->duplicates += d->duplicates;
	into->streams += d->streams;
	into->ended += d->ended;
	into->missing += d->missing;
	if (d->received && (!into->received || d->received > into->received))
		into->received = d->received;
	for (int k = 0; k < LEA_ATT_NSTATES; k++)
		into->att[k] += d->att[k];
}

static int delta_write(struct sq_store *s, const struct sq_delta *d, int64_t first)
{
	int rc = 0;
	if (d->ref && (d->deliveries || d->duplicates || d->received)) {
		sqlite3_stmt *st = s->st[SQ_REF_ADD];
		rc = lx_sq_bind(st, "iiiiiii", d->ref, d->deliveries, d->items, d->duplicates,
				  d->streams, d->ended, d->missing);
		if (!rc && d->received)
			rc = lx_sq_bind(st, "xxxxxxxii", first, d->received);
		rc = rc ? (lx_sq_done(st), rc) : lx_sq_step_done(st);
	}
	for (int k = 0; !rc && k < LEA_ATT_NSTATES; k++)
		if (d->att[k])
			rc = lea__sq_att_count(s, d->ref, k, d->att[k]);
	return rc;
}

int lea__sq_deltas_write(struct sq_store *s, struct lx_job *batch)
{
	size_t n = 0;
	for (struct lx_job *b = batch; b; b = b->next)
		n += b->rc ? 0 : ((struct sq_job *)b)->deltas.n;
	if (!n)
		return 0;
	struct sq_delta *all = malloc(n * sizeof *all);
	if (!all)
		return LI707_ENOMEM;
	n = 0;
	for (struct lx_job *b = batch; b; b = b->next) {
		const struct sq_job *j = (const struct sq_job *)b;
		if (!b->rc && j->deltas.n) {
			memcpy(all + n, j->deltas.v, j->deltas.n * sizeof *all);
			n += j->deltas.n;
		}
	}
	qsort(all, n, sizeof *all, delta_cmp);
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		struct sq_delta sum = {.ref = all[i].ref};
		int64_t first = 0;
		for (; i < n && all[i].ref == sum.ref; i++) {
			if (all[i].received && (!first || all[i].received < first))
				first = all[i].received;
			delta_merge(&sum, &all[i]);
		}
		rc = delta_write(s, &sum, first);
	}
	free(all);
	return rc;
}

/* ================= the callers' side ================= */

/* The message as received goes into messages.raw as an LZ4 block when that is smaller
 * (XML usually shrinks 3 to 20 times): fewer pages for the writer to put in the WAL and for
 * the checkpoint to copy again, and a smaller store. Compressed here, in the caller's
 * thread, so the callers share that work instead of the one writer doing it. Each thread
 * keeps its LZ4 state: LZ4_compress_default() clears a fresh 16 KiB table on every call (a
 * third of its cost for a 3 KB message); a reset stream starts a new, independent block
 * (the first block of a stream refers to nothing before it) without that. */
static _Thread_local LZ4_stream_t lz4_state;
static _Thread_local bool lz4_ready;

int lea__sq_put(void *be, struct lea_put *p)
{
	struct sq_job j = {.kind = SQ_JOB_PUT, .put = p, .now = (int64_t)time(NULL),
			   .raw = p->raw, .raw_len = p->raw_len, .raw_codec = SQ_RAW_PLAIN};
	char *z = NULL;
	if (p->raw_len > 0 && p->raw_len < (size_t)LZ4_MAX_INPUT_SIZE) {
		int bound = LZ4_compressBound((int)p->raw_len);
		if ((z = malloc((size_t)bound)) == NULL)
			return LI707_ENOMEM;
		if (!lz4_ready) {
			LZ4_initStream(&lz4_state, sizeof lz4_state);
			lz4_ready = true;
		} else {
			LZ4_resetStream_fast(&lz4_state);
		}
		int n = LZ4_compress_fast_continue(&lz4_state, p->raw, z, (int)p->raw_len, bound, 1);
		if (n > 0 && (size_t)n < p->raw_len) {
			j.raw = z;
			j.raw_len = (size_t)n;
			j.raw_codec = SQ_RAW_LZ4;
		}
	}
	int rc = lea__sq_submit(be, &j);
	free(z);
	return rc;
}
