/* li707-lea - SQLite backend of the store: the Model A/C retrieval queue.
 *
 * DESIGN. The queue is the attachments table (docs/internals/lea.md, "Retrieval"): a row
 * whose model is not 'B' is a retrieval; its state is TO_FETCH, FETCHING, COMPLETE,
 * MISMATCH or EXPIRED; the fetch_* columns (schema version 3) hold what a worker needs to
 * resume: the object's size, validator, range size and the verified ranges ("S-E,S-E", at
 * most LX_FETCH_RANGES_MAX), the failed attempts, the time of the next one, the priority.
 * Reads use the engine's read pool; every change is one job on the writer thread (group
 * commit, durable when answered), moving the attachment-state counters with the state.
 * The operator commands (retry, priority) run while the daemon holds the store: they open
 * the index with a connection of their own and one short IMMEDIATE transaction (SQLite's
 * locking orders it with the writer's; the writer keeps nothing of these columns in
 * memory). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errbuf.h"
#include "store_sqlite_int.h"

#define SEL_COLS                                                                          \
	"a.id, a.item, a.peer, a.url, a.model, a.state, a.content_length, a.checksum,"    \
	" a.content_type, a.expiry, a.fetch_priority, coalesce(i.epoch, 0),"              \
	" a.fetch_attempts, a.fetch_mismatches, a.fetch_next, a.fetch_total, a.fetch_etag," \
	" a.fetch_chunk, a.fetch_held, a.served_type, a.fetch_error"

/* "S-E,S-E" -> ranges; a malformed text leaves what was parsed before it (fetched again). */
static void held_parse(const char *t, struct lx_fetch_state *fs)
{
	while (t && *t) {
		char *e;
		long long a = strtoll(t, &e, 10);
		if (*e != '-')
			return;
		long long b = strtoll(e + 1, &e, 10);
		if (a < 0 || b <= a || (fs->total >= 0 && b > fs->total) ||
		    !lx_fetch_state_add(fs, a, b))
			return;
		if (*e != ',')
			return;
		t = e + 1;
	}
}

/* The ranges as text into buf (LX_FETCH_RANGES_MAX pairs of 20-digit numbers fit in 3K). */
static void held_format(const struct lx_fetch_state *fs, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < fs->n_held && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%" PRId64 "-%" PRId64, i ? "," : "",
				      fs->held[i].start, fs->held[i].end);
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t len)
{
	const char *t = lx_sq_text(st, col);
	snprintf(dst, len, "%s", t ? t : "");
}

static void entry_read(sqlite3_stmt *st, struct lea_fetch_entry *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(st, 0);
	e->item = sqlite3_column_int64(st, 1);
	copy_col(st, 2, e->peer, sizeof e->peer);
	copy_col(st, 3, e->url, sizeof e->url);
	const char *m = lx_sq_text(st, 4);
	e->model = m && (m[0] == 'A' || m[0] == 'C') ? m[0] : '?';
	e->state = (enum lea_att_state)sqlite3_column_int(st, 5);
	e->length = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6);
	if (!lea__store_sha_lower(lx_sq_text(st, 7), e->checksum))
		e->checksum[0] = '\0';
	copy_col(st, 8, e->content_type, sizeof e->content_type);
	copy_col(st, 9, e->expiry, sizeof e->expiry);
	e->priority = sqlite3_column_int64(st, 10);
	e->epoch = sqlite3_column_int64(st, 11);
	e->attempts = (unsigned)sqlite3_column_int(st, 12);
	e->mismatches = (unsigned)sqlite3_column_int(st, 13);
	e->next_try = sqlite3_column_int64(st, 14);
	lx_fetch_state_init(&e->fs, sqlite3_column_int64(st, 17));
	e->fs.total = sqlite3_column_type(st, 15) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 15);
	const char *etag = lx_sq_text(st, 16);
	if (etag && strlen(etag) < sizeof e->fs.etag)
		memcpy(e->fs.etag, etag, strlen(etag) + 1);
	held_parse(lx_sq_text(st, 18), &e->fs);
	copy_col(st, 19, e->served_type, sizeof e->served_type);
	copy_col(st, 20, e->error, sizeof e->error);
}

int lea__sq_fetch_queue(void *be, int64_t now, size_t max, lea_fetch_fn fn, void *cls)
{
	struct sq_store *s = be;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = lx_engine_read_get(s->eng, &db);
	if (rc)
		return rc;
	/* the partial index attachments_fetch holds the retrievals only */
	rc = lx_sq_err(sqlite3_prepare_v2(db,
		"SELECT " SEL_COLS " FROM attachments a LEFT JOIN items i ON i.id = a.item"
		" WHERE a.model <> 'B' AND a.state IN (5, 7) AND a.item IS NOT NULL"
		" AND a.fetch_next <= ?1 ORDER BY a.fetch_priority DESC,"
		" coalesce(a.content_length, 9223372036854775807), coalesce(i.epoch, 0) DESC, a.id"
		" LIMIT ?2", -1, &st, NULL));
	if (!rc)
		rc = lx_sq_bind(st, "ii", now, max ? (int64_t)max : (int64_t)-1);
	struct lea_fetch_entry *e = rc ? NULL : malloc(sizeof *e);
	if (!rc && !e)
		rc = LI707_ENOMEM;
	while (!rc) {
		int r = sqlite3_step(st);
		if (r == SQLITE_DONE)
			break;
		if (r != SQLITE_ROW) {
			rc = lx_sq_err(r);
			break;
		}
		entry_read(st, e);
		rc = fn(cls, e);
	}
	free(e);
	sqlite3_finalize(st);
	lx_engine_read_put(s->eng, db);
	return rc;
}

int lea__sq_fetch_get(void *be, int64_t id, struct lea_fetch_entry *out)
{
	struct sq_store *s = be;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = lx_engine_read_get(s->eng, &db);
	if (rc)
		return rc;
	rc = lx_sq_err(sqlite3_prepare_v2(db,
		"SELECT " SEL_COLS " FROM attachments a LEFT JOIN items i ON i.id = a.item"
		" WHERE a.id = ?1 AND a.model <> 'B' AND a.item IS NOT NULL", -1, &st, NULL));
	if (!rc)
		rc = lx_sq_bind(st, "i", id);
	if (!rc) {
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			entry_read(st, out);
		else
			rc = r == SQLITE_DONE ? LI707_ENOTFOUND : lx_sq_err(r);
	}
	sqlite3_finalize(st);
	lx_engine_read_put(s->eng, db);
	return rc;
}

/* The writer's part of an update (inside the engine's transaction, in the job's savepoint). */
int lea__sq_run_fetch(struct sq_store *s, struct sq_job *j)
{
	const struct lea_fetch_update *u = j->fu;
	sqlite3_stmt *g = s->st[SQ_FETCH_GET];
	int rc = lx_sq_bind(g, "i", u->id);
	int64_t ref = 0;
	int state = -1;
	if (!rc) {
		int r = sqlite3_step(g);
		if (r == SQLITE_ROW) {
			state = sqlite3_column_int(g, 0);
			ref = sqlite3_column_int64(g, 1);
		} else {
			rc = r == SQLITE_DONE ? LI707_ENOTFOUND : lx_sq_err(r);
		}
	}
	lx_sq_done(g);
	if (rc)
		return rc;
	if (u->from_states && !(u->from_states & (1u << state)))
		return LI707_ENOTFOUND;
	char held[LX_FETCH_RANGES_MAX * 44 + 1] = "";
	char model[2] = {u->model, '\0'};
	if (u->what & LEA_FU_FS)
		held_format(u->fs, held, sizeof held);
	sqlite3_stmt *st = s->st[SQ_FETCH_SET];
	bool fs = u->what & LEA_FU_FS, rt = u->what & LEA_FU_RETRY, dn = u->what & LEA_FU_DONE;
	rc = lx_sq_bind(st, "iiiitiititiiiitiuttti", u->id,
			(int64_t)!!(u->what & LEA_FU_STATE), (int64_t)u->state,
			(int64_t)!!(u->what & LEA_FU_MODEL), model,
			(int64_t)fs, fs ? u->fs->total : (int64_t)-1, fs ? u->fs->etag : NULL,
			fs ? u->fs->chunk : (int64_t)0, held,
			(int64_t)rt, (int64_t)u->attempts, (int64_t)u->mismatches, u->next_try,
			u->error, (int64_t)dn, u->bytes, u->sha256, u->file, u->served_type, u->now);
	if (rc) {
		lx_sq_done(st);
		return rc;
	}
	if ((rc = lx_sq_step_done(st)))
		return rc;
	if ((u->what & LEA_FU_STATE) && (int)u->state != state) {
		rc = lea__sq_att_count(s, ref, state, -1);
		if (!rc)
			rc = lea__sq_att_count(s, ref, u->state, +1);
	}
	return rc;
}

int lea__sq_fetch_update(void *be, const struct lea_fetch_update *u)
{
	struct sq_job j = {.kind = SQ_JOB_FETCH, .fu = u, .now = u->now};
	return lea__sq_submit(be, &j);
}

int lea__sq_fetch_counts(void *be, uint64_t n[LEA_ATT_NSTATES])
{
	struct sq_store *s = be;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = lx_engine_read_get(s->eng, &db);
	if (rc)
		return rc;
	memset(n, 0, sizeof(uint64_t) * LEA_ATT_NSTATES);
	rc = lx_sq_err(sqlite3_prepare_v2(db,
		"SELECT state, count(*) FROM attachments WHERE model <> 'B' AND item IS NOT NULL"
		" GROUP BY state", -1, &st, NULL));
	while (!rc) {
		int r = sqlite3_step(st);
		if (r == SQLITE_DONE)
			break;
		if (r != SQLITE_ROW) {
			rc = lx_sq_err(r);
			break;
		}
		int k = sqlite3_column_int(st, 0);
		if (k >= 0 && k < LEA_ATT_NSTATES)
			n[k] = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	lx_engine_read_put(s->eng, db);
	return rc;
}

/* ---- operator commands (own connection, the daemon may be running) ---- */

static int cmd_open(const char *dir, sqlite3 **db, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/index.sqlite", dir);
	int r = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL);
	if (r != SQLITE_OK) {
		lx_errf(err, errlen, "store: cannot open %s: %s", path,
			*db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return r == SQLITE_CANTOPEN ? -ENOENT : lx_sq_err(r);
	}
	sqlite3_busy_timeout(*db, 10000);
	int64_t v = lx_sq_query_int(*db, "PRAGMA user_version", -1);
	if (v != SQ_SCHEMA_VERSION) {
		lx_errf(err, errlen, "store: %s: schema version %lld (this build: %d): start "
			"li707-lea on it once", path, (long long)v, SQ_SCHEMA_VERSION);
		sqlite3_close(*db);
		*db = NULL;
		return LI707_EINVAL;
	}
	return lx_sq_exec_sql(*db, "BEGIN IMMEDIATE");
}

static int cmd_close(sqlite3 *db, int rc, char *err, size_t errlen)
{
	if (!rc && (rc = lx_sq_exec_sql(db, "COMMIT")))
		lx_errf(err, errlen, "store: cannot commit: %s", sqlite3_errmsg(db));
	if (rc)
		lx_sq_exec_sql(db, "ROLLBACK");
	sqlite3_close(db);
	return rc;
}

static int cmd_step(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc = lx_sq_err(sqlite3_prepare_v2(db, sql, -1, &st, NULL));
	if (!rc)
		rc = lx_sq_step_done(st);
	sqlite3_finalize(st);
	return rc;
}

int lea_store_fetch_retry(const char *dir, int64_t id, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc = dir ? cmd_open(dir, &db, err, errlen) : LI707_EINVAL;
	if (rc)
		return rc;
	sqlite3_stmt *st = NULL;
	int state = -1;
	int64_t ref = 0;
	rc = lx_sq_err(sqlite3_prepare_v2(db, "SELECT state, ref FROM attachments WHERE id = ?1"
					  " AND model <> 'B' AND item IS NOT NULL", -1, &st, NULL));
	if (!rc && !(rc = lx_sq_bind(st, "i", id))) {
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			state = sqlite3_column_int(st, 0);
			ref = sqlite3_column_int64(st, 1);
		} else {
			rc = r == SQLITE_DONE ? LI707_ENOTFOUND : lx_sq_err(r);
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == LI707_ENOTFOUND)
		lx_errf(err, errlen, "no Model A/C retrieval with id %lld", (long long)id);
	else if (!rc && state == LEA_ATT_COMPLETE) {
		lx_errf(err, errlen, "retrieval %lld is complete", (long long)id);
		rc = LI707_EINVAL;
	}
	if (!rc) {
		/* mismatch, expired: from zero (their part file is gone); waiting: at once */
		bool restart = state == LEA_ATT_MISMATCH || state == LEA_ATT_EXPIRED;
		char sql[512];
		snprintf(sql, sizeof sql,
			 "UPDATE attachments SET fetch_attempts = 0, fetch_next = 0, fetch_error = NULL"
			 "%s WHERE id = %lld",
			 restart ? ", state = 5, fetch_mismatches = 0, fetch_total = NULL,"
				   " fetch_etag = NULL, fetch_held = NULL, fetch_chunk = NULL,"
				   " bytes = 0, sha256 = NULL, file = NULL" : "",
			 (long long)id);
		rc = cmd_step(db, sql);
		if (!rc && restart) {
			snprintf(sql, sizeof sql,
				 "INSERT INTO ref_att(ref, state, n) VALUES(%lld, %d, -1), (%lld, %d, 1)"
				 " ON CONFLICT(ref, state) DO UPDATE SET n = n + excluded.n",
				 (long long)ref, state, (long long)ref, LEA_ATT_TO_FETCH);
			rc = cmd_step(db, sql);
		}
		if (rc)
			lx_errf(err, errlen, "store: %s", sqlite3_errmsg(db));
	}
	return cmd_close(db, rc, err, errlen);
}

int lea_store_fetch_priority(const char *dir, const char *ref, int64_t priority, uint64_t *n,
			     char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc = dir && ref ? cmd_open(dir, &db, err, errlen) : LI707_EINVAL;
	if (rc)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = lx_sq_err(sqlite3_prepare_v2(db,
		"UPDATE attachments SET fetch_priority = ?2 WHERE model <> 'B' AND item IS NOT NULL"
		" AND ref IN (SELECT id FROM refs WHERE reference = ?1)", -1, &st, NULL));
	if (!rc)
		rc = lx_sq_bind(st, "ti", ref, priority);
	if (!rc)
		rc = lx_sq_step_done(st);
	sqlite3_finalize(st);
	if (rc)
		lx_errf(err, errlen, "store: %s", sqlite3_errmsg(db));
	else if (n)
		*n = (uint64_t)sqlite3_changes(db);
	return cmd_close(db, rc, err, errlen);
}
