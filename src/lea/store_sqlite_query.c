/* li707-lea - SQLite backend: the queries (list, item, status, gaps), on read connections
 * taken from the engine's pool (src/common/sqlite_engine.c), so that they run beside the writer (WAL readers see
 * the last commit and never block it). */
#include <errno.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	return lx_sq_err(sqlite3_prepare_v2(db, sql, -1, st, NULL));
}

static char *dup_text(sqlite3_stmt *st, int col)
{
	const char *t = lx_sq_text(st, col);
	return t ? strdup(t) : NULL;
}

/* ---- list ---- */

static int list_bind(sqlite3_stmt *st, const struct lea_query *q, const int64_t *ref_ids,
		     size_t n_ref_ids, int64_t max_bucket)
{
	int rc = lx_sq_err(sqlite3_bind_int64(st, 1, q->after_id));
	for (size_t k = 0; !rc && k < n_ref_ids; k++)
		rc = lx_sq_err(sqlite3_bind_int64(st, 7 + (int)k, ref_ids[k]));
	if (!rc && q->peer)
		rc = lx_sq_err(sqlite3_bind_text(st, 3, q->peer, -1, SQLITE_STATIC));
	if (!rc && q->has_since)
		rc = lx_sq_err(sqlite3_bind_int64(st, 4, q->since));
	if (!rc && q->party)
		rc = lx_sq_err(sqlite3_bind_text(st, 5, q->party, -1, SQLITE_STATIC));
	if (!rc && q->party) /* one index search per bucket, from after_id's to the last */
		rc = lx_sq_bind(st, "xxxxxxxxii", q->after_id >> SQ_PARTY_BUCKET_BITS, max_bucket);
	if (!rc && q->limit)
		rc = lx_sq_err(sqlite3_bind_int64(st, 6, (int64_t)q->limit));
	return rc;
}

/* The row ids of a reference (one per kind, LIID/LDID: at most two). */
static int ref_ids(sqlite3 *db, const char *ref, int64_t ids[2], size_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, "SELECT id FROM refs WHERE reference = ?1 ORDER BY id LIMIT 2", &st);
	if (!rc)
		rc = lx_sq_bind(st, "t", ref);
	*n = 0;
	while (!rc && sqlite3_step(st) == SQLITE_ROW)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	if (!rc)
		rc = lx_sq_err(sqlite3_errcode(db));
	sqlite3_finalize(st);
	return rc;
}

static int list_rows(sqlite3_stmt *st, lea_item_fn fn, void *cls)
{
	for (;;) {
		int r = sqlite3_step(st);
		if (r != SQLITE_ROW)
			return r == SQLITE_DONE ? 0 : lx_sq_err(r);
		struct lea_item_row row = {
			.id = sqlite3_column_int64(st, 0),
			.reference = lx_sq_text(st, 1),
			.ref_kind = (enum li707_ref_kind)sqlite3_column_int(st, 2),
			.peer = lx_sq_text(st, 3),
			.timestamp = lx_sq_text(st, 4),
			.received_at = sqlite3_column_int64(st, 5),
			.object_id = lx_sq_text(st, 6),
			.item_index = (size_t)sqlite3_column_int64(st, 7),
			.sender = lx_sq_text(st, 8),
			.n_receivers = (size_t)sqlite3_column_int64(st, 9),
			.n_attachments = (size_t)sqlite3_column_int64(st, 10),
			.n_attachments_complete = (size_t)sqlite3_column_int64(st, 11),
		};
		int rc = fn(cls, &row);
		if (rc)
			return rc;
	}
}

/* With one reference id the items come in id order straight from items_ref (no sort, so a
 * page of --limit rows costs the same anywhere in a large reference). */
int lea__sq_list(void *be, const struct lea_query *q, lea_item_fn fn, void *cls)
{
	struct sq_store *s = be;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t ids[2];
	size_t n_ids = 0;
	int rc = lx_engine_read_get(s->eng, &db);
	if (!rc)
		rc = lx_sq_err(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
	if (!rc && q->ref && !(rc = ref_ids(db, q->ref, ids, &n_ids)) && n_ids == 0)
		goto out; /* no such reference: nothing */
	int64_t max_bucket = 0;
	if (!rc && q->party) {
		sqlite3_stmt *mx = NULL;
		if (!(rc = prepare(db, "SELECT coalesce(max(id), 0) FROM items", &mx)) &&
		    sqlite3_step(mx) == SQLITE_ROW)
			max_bucket = sqlite3_column_int64(mx, 0) >> SQ_PARTY_BUCKET_BITS;
		sqlite3_finalize(mx);
	}
	char sql[1536];
	snprintf(sql, sizeof sql,
		 "SELECT i.id, r.reference, r.kind, d.peer, i.timestamp, d.received_at, d.object_id,"
		 " i.idx, i.sender, i.n_receivers, i.n_attachments,"
		 " (SELECT count(*) FROM attachments a WHERE a.id >= i.att_first"
		 "  AND a.id < i.att_first + i.n_attachments AND a.state = %d)"
		 " FROM items i JOIN deliveries d ON d.id = i.delivery JOIN refs r ON r.id = i.ref"
		 " WHERE i.id > ?1%s%s%s%s ORDER BY i.id%s",
		 LEA_ATT_COMPLETE,
		 /* with --party, the party's items drive the search (unary + keeps the
		  * planner off items_ref) */
		 !q->ref ? "" : n_ids == 1 ? (q->party ? " AND +i.ref = ?7" : " AND i.ref = ?7")
			     : " AND +i.ref IN (?7, ?8)",
		 q->peer ? " AND d.peer = ?3" : "",
		 q->has_since ? " AND i.epoch >= ?4" : "",
		 q->party ? " AND i.id IN (WITH RECURSIVE b(x) AS (SELECT ?9 UNION ALL"
			    "  SELECT x + 1 FROM b WHERE x < ?10) SELECT p.item FROM b"
			    "  JOIN parties p ON p.bucket = b.x AND p.value = ?5)" : "",
		 q->limit ? " LIMIT ?6" : "");
	if (!rc)
		rc = prepare(db, sql, &st);
	if (!rc)
		rc = list_bind(st, q, ids, q->ref ? n_ids : 0, max_bucket);
	if (!rc)
		rc = list_rows(st, fn, cls);
out:
	sqlite3_finalize(st);
	if (db)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	lx_engine_read_put(s->eng, db);
	return rc;
}

/* ---- item ---- */

static int item_atts(struct sq_store *s, sqlite3 *db, int64_t item, int64_t first, int64_t n,
		     struct lea_item_detail *d)
{
	sqlite3_stmt *st = NULL;
	d->atts = calloc(n > 0 ? (size_t)n : 1, sizeof *d->atts);
	if (!d->atts)
		return LI707_ENOMEM;
	int rc = prepare(db, "SELECT id, idx, url, uuid, model, state, bytes, sha256, file, served_type"
			     " FROM attachments WHERE id >= ?1 AND id < ?2 AND item = ?3 ORDER BY idx",
			 &st);
	if (!rc)
		rc = lx_sq_bind(st, "iii", first, first + n, item);
	while (!rc && (size_t)d->n_atts < (size_t)n) {
		int r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			rc = r == SQLITE_DONE ? 0 : lx_sq_err(r);
			break;
		}
		struct lea_attachment *a = &d->atts[d->n_atts++];
		a->id = sqlite3_column_int64(st, 0);
		a->index = (size_t)sqlite3_column_int64(st, 1);
		a->url = dup_text(st, 2);
		snprintf(a->uuid, sizeof a->uuid, "%s", lx_sq_text(st, 3) ? lx_sq_text(st, 3) : "");
		const char *model = lx_sq_text(st, 4);
		a->model = model && (model[0] == 'B' || model[0] == 'A' || model[0] == 'C') ? model[0]
										       : '?';
		snprintf(a->served_type, sizeof a->served_type, "%s",
			 lx_sq_text(st, 9) ? lx_sq_text(st, 9) : "");
		a->state = (enum lea_att_state)sqlite3_column_int(st, 5);
		a->bytes = (uint64_t)sqlite3_column_int64(st, 6);
		snprintf(a->sha256, sizeof a->sha256, "%s", lx_sq_text(st, 7) ? lx_sq_text(st, 7) : "");
		const char *file = lx_sq_text(st, 8);
		if (file) {
			size_t len = strlen(s->o->dir) + strlen(file) + 2;
			if ((a->file = malloc(len)))
				snprintf(a->file, len, "%s/%s", s->o->dir, file);
		}
		if ((!a->url && lx_sq_text(st, 2)) || (file && !a->file))
			rc = LI707_ENOMEM;
	}
	sqlite3_finalize(st);
	return rc;
}

/* TS103707 R-CSP-2: each block's schemaContent, or the one its peer sent before. */
static int item_schemas(sqlite3 *db, struct lea_item_detail *d)
{
	const struct li707_item *it = lea_item_detail_item(d);
	if (!it->n_csp)
		return 0;
	d->schema_content = calloc(it->n_csp, sizeof *d->schema_content);
	if (!d->schema_content)
		return LI707_ENOMEM;
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, "SELECT content FROM csp_schemas WHERE peer = ?1 AND schema_id = ?2",
			 &st);
	for (size_t k = 0; !rc && k < it->n_csp; k++) {
		const struct li707_csp_data *c = &it->csp[k];
		if (c->schema_content) {
			if (!(d->schema_content[k] = strdup(c->schema_content)))
				rc = LI707_ENOMEM;
			continue;
		}
		if (!c->schema_id || (rc = lx_sq_bind(st, "tt", d->peer, c->schema_id)))
			continue;
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			const void *b = sqlite3_column_blob(st, 0);
			size_t n = (size_t)sqlite3_column_bytes(st, 0);
			if ((d->schema_content[k] = malloc(n + 1))) {
				if (n)
					memcpy(d->schema_content[k], b, n);
				d->schema_content[k][n] = '\0';
			} else {
				rc = LI707_ENOMEM;
			}
		} else if (r != SQLITE_DONE) {
			rc = lx_sq_err(r);
		}
		lx_sq_done(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The message as received from columns col (raw), col + 1 (raw_codec), col + 2 (raw_size)
 * into d->raw (NUL-terminated) and d->raw_len. A row that does not decode to exactly
 * raw_size bytes is corrupt: LI707_EDAMAGED. */
static int raw_load(sqlite3_stmt *st, int col, struct lea_item_detail *d)
{
	const char *blob = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	int64_t codec = sqlite3_column_int64(st, col + 1);
	if (codec == SQ_RAW_PLAIN) {
		if ((d->raw = malloc((size_t)n + 1)) == NULL)
			return LI707_ENOMEM;
		if (n)
			memcpy(d->raw, blob, (size_t)n);
		d->raw[n] = '\0';
		d->raw_len = (size_t)n;
		return 0;
	}
	int64_t size = sqlite3_column_int64(st, col + 2);
	if (codec != SQ_RAW_LZ4 || size <= 0 || size >= SQ_RAW_MAX_SIZE || n <= 0 ||
	    size > (int64_t)n * 255 + 16)
		return LI707_EDAMAGED;
	if ((d->raw = malloc((size_t)size + 1)) == NULL)
		return LI707_ENOMEM;
	if (LZ4_decompress_safe(blob, d->raw, n, (int)size) != (int)size) {
		free(d->raw);
		d->raw = NULL;
		return LI707_EDAMAGED;
	}
	d->raw[size] = '\0';
	d->raw_len = (size_t)size;
	return 0;
}

static int item_load(struct sq_store *s, sqlite3 *db, int64_t id, struct lea_item_detail *prev,
		     struct lea_item_detail *d)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, "SELECT i.idx, i.att_first, i.n_attachments, d.action, d.object_id,"
			     " d.peer, d.received_at, m.transaction_id, m.raw, m.raw_codec,"
			     " m.raw_size, m.id FROM items i"
			     " JOIN deliveries d ON d.id = i.delivery"
			     " JOIN messages m ON m.id = d.message WHERE i.id = ?1", &st);
	if (!rc)
		rc = lx_sq_bind(st, "i", id);
	int r = rc ? SQLITE_ERROR : sqlite3_step(st);
	if (!rc && r != SQLITE_ROW)
		rc = r == SQLITE_DONE ? LI707_ENOTFOUND : lx_sq_err(r);
	if (rc) {
		sqlite3_finalize(st);
		return rc;
	}
	d->id = id;
	d->item_index = (size_t)sqlite3_column_int64(st, 0);
	int64_t att_first = sqlite3_column_int64(st, 1), n_atts = sqlite3_column_int64(st, 2);
	d->action_index = (size_t)sqlite3_column_int64(st, 3);
	char object_id[LI707_UUID_LEN + 1];
	snprintf(object_id, sizeof object_id, "%s", lx_sq_text(st, 4) ? lx_sq_text(st, 4) : "");
	d->peer = dup_text(st, 5);
	d->received_at = sqlite3_column_int64(st, 6);
	d->transaction_id = dup_text(st, 7);
	d->message_id = sqlite3_column_int64(st, 11);
	/* An item of the message decoded for prev: no raw to read, nothing to decode. */
	int taken = lea__store_detail_take(d, prev, object_id);
	rc = taken < 0 ? taken : taken ? 0 : raw_load(st, 8, d);
	sqlite3_finalize(st);
	if (rc)
		return rc;
	if (!d->peer || !d->transaction_id)
		return LI707_ENOMEM;
	if (!taken && (rc = lea__store_detail_decode(d, object_id)))
		return rc;
	if ((rc = item_atts(s, db, id, att_first, n_atts, d)))
		return rc;
	return item_schemas(db, d);
}

int lea__sq_item(void *be, int64_t id, struct lea_item_detail *prev,
		 struct lea_item_detail **out)
{
	struct sq_store *s = be;
	struct lea_item_detail *d = calloc(1, sizeof *d);
	if (!d)
		return LI707_ENOMEM;
	sqlite3 *db = NULL;
	int rc = lx_engine_read_get(s->eng, &db);
	if (!rc)
		rc = item_load(s, db, id, prev, d);
	lx_engine_read_put(s->eng, db);
	if (rc) {
		lea_item_detail_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

/* ---- status and gaps ---- */

/* Walks the applicationSequenceNumbers of a reference in (applicationLevelID, number) order:
 * counts the numbers missing from 0..max and the repeated ones (TS103707 R-HDR-2), and
 * reports each missing range to fn when fn is set. */
static int app_walk(sqlite3 *db, int64_t ref, const char *reference, uint64_t *missing,
		    uint64_t *repeated, lea_gap_fn fn, void *cls)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, "SELECT app_level, app_seq FROM items INDEXED BY items_app"
			     " WHERE ref = ?1 AND app_level IS NOT NULL"
			     " ORDER BY app_level, app_seq", &st);
	if (!rc)
		rc = lx_sq_bind(st, "i", ref);
	bool have = false;
	uint64_t level = 0, expect = 0;
	*missing = *repeated = 0;
	while (!rc) {
		int r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			rc = r == SQLITE_DONE ? 0 : lx_sq_err(r);
			break;
		}
		uint64_t lv = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t q = (uint64_t)sqlite3_column_int64(st, 1);
		if (!have || lv != level) {
			have = true;
			level = lv;
			expect = 0;
		}
		if (q < expect) {
			(*repeated)++;
			continue;
		}
		if (q > expect) {
			*missing += q - expect;
			if (fn) {
				char name[24];
				snprintf(name, sizeof name, "%llu", (unsigned long long)lv);
				struct lea_gap g = {LEA_GAP_APPLICATION, reference, name, expect, q - 1};
				rc = fn(cls, &g);
			}
		}
		expect = q + 1;
	}
	sqlite3_finalize(st);
	return rc;
}

static int att_counts(sqlite3 *db, int64_t ref, uint64_t att[LEA_ATT_NSTATES], bool *any)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, "SELECT state, n FROM ref_att WHERE ref = ?1", &st);
	if (!rc)
		rc = lx_sq_bind(st, "i", ref);
	*any = false;
	while (!rc) {
		int r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			rc = r == SQLITE_DONE ? 0 : lx_sq_err(r);
			break;
		}
		int state = sqlite3_column_int(st, 0);
		int64_t n = sqlite3_column_int64(st, 1);
		if (state >= 0 && state < LEA_ATT_NSTATES && n > 0) {
			att[state] = (uint64_t)n;
			*any = true;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int refs_prepare(sqlite3 *db, const char *ref, sqlite3_stmt **st)
{
	char sql[512];
	snprintf(sql, sizeof sql,
		 "SELECT id, reference, kind, deliveries, items, duplicates, streams, streams_ended,"
		 " seq_missing, coalesce(first_received, 0), coalesce(last_received, 0) FROM refs%s"
		 " ORDER BY reference, kind", ref ? " WHERE reference = ?1" : "");
	int rc = prepare(db, sql, st);
	if (!rc && ref)
		rc = lx_sq_bind(*st, "t", ref);
	return rc;
}

static int status_rows(sqlite3 *db, const char *ref, lea_status_fn fn, void *cls)
{
	sqlite3_stmt *st = NULL;
	int rc = refs_prepare(db, ref, &st);
	while (!rc) {
		int r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			rc = r == SQLITE_DONE ? 0 : lx_sq_err(r);
			break;
		}
		struct lea_ref_status rs = {
			.reference = lx_sq_text(st, 1),
			.ref_kind = (enum li707_ref_kind)sqlite3_column_int(st, 2),
			.deliveries = (uint64_t)sqlite3_column_int64(st, 3),
			.items = (uint64_t)sqlite3_column_int64(st, 4),
			.duplicates = (uint64_t)sqlite3_column_int64(st, 5),
			.streams = (uint64_t)sqlite3_column_int64(st, 6),
			.streams_ended = (uint64_t)sqlite3_column_int64(st, 7),
			.seq_missing = (uint64_t)sqlite3_column_int64(st, 8),
			.first_received = sqlite3_column_int64(st, 9),
			.last_received = sqlite3_column_int64(st, 10),
		};
		int64_t id = sqlite3_column_int64(st, 0);
		bool any;
		if ((rc = att_counts(db, id, rs.att, &any)) ||
		    (rc = app_walk(db, id, rs.reference, &rs.app_missing, &rs.app_repeated, NULL, NULL)))
			break;
		rc = fn(cls, &rs);
	}
	sqlite3_finalize(st);
	return rc;
}

int lea__sq_status(void *be, const char *ref, lea_status_fn fn, void *cls)
{
	struct sq_store *s = be;
	sqlite3 *db = NULL;
	int rc = lx_engine_read_get(s->eng, &db);
	/* One snapshot for every row. */
	if (!rc)
		rc = lx_sq_err(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
	if (!rc)
		rc = status_rows(db, ref, fn, cls);
	if (!rc && !ref) {
		/* Uploads that have no record (yet): ORPHAN, RECEIVING, EXPIRED. */
		struct lea_ref_status rs = {.reference = NULL};
		bool any;
		rc = att_counts(db, 0, rs.att, &any);
		if (!rc && any)
			rc = fn(cls, &rs);
	}
	if (db)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	lx_engine_read_put(s->eng, db);
	return rc;
}

/* SequenceNumbers missing in one DeliveryID, from min(first, 1) to the highest seen. */
static int seq_gaps(sqlite3 *db, const char *reference, const char *stream, int64_t lo,
		    lea_gap_fn fn, void *cls)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, "SELECT sequence FROM deliveries WHERE delivery_id = ?1"
			     " AND sequence IS NOT NULL ORDER BY sequence", &st);
	if (!rc)
		rc = lx_sq_bind(st, "t", stream);
	int64_t expect = lo < 1 ? lo : 1;
	while (!rc) {
		int r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			rc = r == SQLITE_DONE ? 0 : lx_sq_err(r);
			break;
		}
		int64_t q = sqlite3_column_int64(st, 0);
		if (q > expect) {
			struct lea_gap g = {LEA_GAP_SEQUENCE, reference, stream, (uint64_t)expect,
					    (uint64_t)(q - 1)};
			rc = fn(cls, &g);
		}
		if (q >= expect)
			expect = q + 1;
	}
	sqlite3_finalize(st);
	return rc;
}

static int ref_gaps(sqlite3 *db, int64_t ref, const char *reference, lea_gap_fn fn, void *cls)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, "SELECT delivery_id, lo FROM streams WHERE ref = ?1 AND missing > 0"
			     " ORDER BY delivery_id", &st);
	if (!rc)
		rc = lx_sq_bind(st, "i", ref);
	while (!rc) {
		int r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			rc = r == SQLITE_DONE ? 0 : lx_sq_err(r);
			break;
		}
		rc = seq_gaps(db, reference, lx_sq_text(st, 0), sqlite3_column_int64(st, 1), fn, cls);
	}
	sqlite3_finalize(st);
	uint64_t missing, repeated;
	return rc ? rc : app_walk(db, ref, reference, &missing, &repeated, fn, cls);
}

int lea__sq_gaps(void *be, const char *ref, lea_gap_fn fn, void *cls)
{
	struct sq_store *s = be;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = lx_engine_read_get(s->eng, &db);
	if (!rc)
		rc = lx_sq_err(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
	if (!rc)
		rc = refs_prepare(db, ref, &st);
	while (!rc) {
		int r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			rc = r == SQLITE_DONE ? 0 : lx_sq_err(r);
			break;
		}
		rc = ref_gaps(db, sqlite3_column_int64(st, 0), lx_sq_text(st, 1), fn, cls);
	}
	sqlite3_finalize(st);
	if (db)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	lx_engine_read_put(s->eng, db);
	return rc;
}
