/* li707-lea - SQLite backend of the store: open/close, schema, recovery at open, and the
 * hooks through which the group-commit engine (src/common/sqlite_engine.h) runs the LEA's
 * jobs on its writer thread.
 *
 * DESIGN. The engine owns the lock on DIR/lock, the writer connection and its thread, the
 * deferred WAL sync, the checkpointer and the read-connection pool; it commits every queued
 * job in one transaction and answers the callers only after an fdatasync of the WAL. This
 * file gives it the LEA's part: the schema and statements (prepared through the engine's
 * cache before its threads start), the recovery of uploads cut by a crash, and the hooks:
 * run (dispatch to the put and Model B jobs), batch_begin (remember the writer-given ids,
 * look once for waiting orphans), rollback (forget remembered reference ids, give the ids
 * back), before_commit (the counters summed over the batch). A put runs without savepoint
 * (the engine runs the transaction again, each job in its savepoint, when one fails); the
 * Model B jobs always have theirs. See docs/internals/store.md. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "fdio.h"
#include "store_sqlite_int.h"

/* ---- schema (see docs/internals/store.md for what each column means) ---- */

/* Model A/C retrieval (version 3): the queue is the attachments table (store_sqlite_fetch.c). */
#define FETCH_COLS                                                                          \
	", fetch_priority INTEGER NOT NULL DEFAULT 0, fetch_attempts INTEGER NOT NULL DEFAULT 0," \
	" fetch_mismatches INTEGER NOT NULL DEFAULT 0, fetch_next INTEGER NOT NULL DEFAULT 0,"   \
	" fetch_total INTEGER, fetch_etag TEXT, fetch_chunk INTEGER, fetch_held TEXT,"          \
	" served_type TEXT, fetch_error TEXT"
#define FETCH_INDEX "CREATE INDEX attachments_fetch ON attachments(state) WHERE model <> 'B';"

static const char SCHEMA[] =
	"CREATE TABLE messages("
	" id INTEGER PRIMARY KEY, peer TEXT NOT NULL, received_at INTEGER NOT NULL,"
	" transaction_id TEXT NOT NULL, sender_cc TEXT, sender_id TEXT, receiver_cc TEXT,"
	" receiver_id TEXT, timestamp TEXT, etsi_version TEXT, raw BLOB NOT NULL,"
	" raw_codec INTEGER NOT NULL DEFAULT 0, raw_size INTEGER);"
	"CREATE TABLE refs("
	" id INTEGER PRIMARY KEY, reference TEXT NOT NULL, kind INTEGER NOT NULL,"
	" deliveries INTEGER NOT NULL DEFAULT 0, items INTEGER NOT NULL DEFAULT 0,"
	" duplicates INTEGER NOT NULL DEFAULT 0, streams INTEGER NOT NULL DEFAULT 0,"
	" streams_ended INTEGER NOT NULL DEFAULT 0, seq_missing INTEGER NOT NULL DEFAULT 0,"
	" first_received INTEGER, last_received INTEGER, UNIQUE(reference, kind));"
	"CREATE TABLE deliveries("
	" id INTEGER PRIMARY KEY, message INTEGER NOT NULL, action INTEGER NOT NULL,"
	" object_id TEXT NOT NULL UNIQUE, identifier TEXT NOT NULL, ref INTEGER NOT NULL,"
	" peer TEXT NOT NULL, delivery_id TEXT, sequence INTEGER, last_sequence INTEGER,"
	" n_items INTEGER NOT NULL, duplicates INTEGER NOT NULL DEFAULT 0,"
	" received_at INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX deliveries_seq ON deliveries(delivery_id, sequence)"
	" WHERE delivery_id IS NOT NULL;"
	"CREATE TABLE streams("
	" delivery_id TEXT PRIMARY KEY, ref INTEGER NOT NULL, lo INTEGER NOT NULL,"
	" hi INTEGER NOT NULL, n INTEGER NOT NULL, ended INTEGER NOT NULL,"
	" missing INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX streams_gaps ON streams(ref) WHERE missing > 0;"
	"CREATE TABLE items("
	" id INTEGER PRIMARY KEY, delivery INTEGER NOT NULL, idx INTEGER NOT NULL,"
	" ref INTEGER NOT NULL, timestamp TEXT, epoch INTEGER NOT NULL, app_level INTEGER,"
	" app_seq INTEGER, sender TEXT, n_receivers INTEGER NOT NULL,"
	" n_attachments INTEGER NOT NULL, att_first INTEGER NOT NULL);"
	"CREATE INDEX items_ref ON items(ref);"
	"CREATE INDEX items_app ON items(ref, app_level, app_seq) WHERE app_level IS NOT NULL;"
	"CREATE TABLE parties("
	" bucket INTEGER NOT NULL, value TEXT NOT NULL, item INTEGER NOT NULL,"
	" role INTEGER NOT NULL, PRIMARY KEY(bucket, value, item, role)) WITHOUT ROWID;"
	"CREATE TABLE csp_schemas("
	" peer TEXT NOT NULL, schema_id TEXT NOT NULL, url TEXT, content BLOB NOT NULL,"
	" item INTEGER NOT NULL, PRIMARY KEY(peer, schema_id)) WITHOUT ROWID;"
	"CREATE TABLE attachments("
	" id INTEGER PRIMARY KEY, item INTEGER, idx INTEGER NOT NULL, ref INTEGER NOT NULL,"
	" peer TEXT NOT NULL, url TEXT, uuid TEXT, model TEXT NOT NULL,"
	" content_length INTEGER, content_type TEXT, expiry TEXT, checksum TEXT,"
	" original_filename TEXT, csp_defined_identifier TEXT,"
	" state INTEGER NOT NULL, prev_state INTEGER, bytes INTEGER NOT NULL DEFAULT 0,"
	" sha256 TEXT, file TEXT, dest TEXT, reserved INTEGER NOT NULL DEFAULT 0,"
	" updated_at INTEGER NOT NULL" FETCH_COLS ");"
	"CREATE INDEX attachments_uuid ON attachments(uuid) WHERE uuid IS NOT NULL;"
	"CREATE INDEX attachments_orphans ON attachments(state) WHERE item IS NULL;"
	FETCH_INDEX
	"CREATE TABLE ref_att("
	" ref INTEGER NOT NULL, state INTEGER NOT NULL, n INTEGER NOT NULL,"
	" PRIMARY KEY(ref, state)) WITHOUT ROWID;";

/* Writer statements, indexed by enum sq_stmt. */
static const char *const STMTS[SQ_NSTMT] = {
	[SQ_SP_ACT] = "SAVEPOINT a",
	[SQ_RB_ACT] = "ROLLBACK TO a",
	[SQ_REL_ACT] = "RELEASE a",
	[SQ_DUP_FIND] = "SELECT id FROM deliveries WHERE object_id = ?1 UNION ALL"
			" SELECT id FROM deliveries WHERE delivery_id = ?2 AND sequence = ?3 LIMIT 1",
	[SQ_DUP_INC] = "UPDATE deliveries SET duplicates = duplicates + 1 WHERE id = ?1 RETURNING ref",
	[SQ_MSG_INS] = "INSERT INTO messages(peer, received_at, transaction_id, sender_cc, sender_id,"
		       " receiver_cc, receiver_id, timestamp, etsi_version, raw, raw_codec, raw_size)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[SQ_MSG_DEL] = "DELETE FROM messages WHERE id = ?1",
	[SQ_REF_GET] = "SELECT id FROM refs WHERE reference = ?1 AND kind = ?2",
	[SQ_REF_INS] = "INSERT INTO refs(reference, kind) VALUES(?1, ?2)",
	[SQ_DEL_INS] = "INSERT INTO deliveries(message, action, object_id, identifier, ref, peer,"
		       " delivery_id, sequence, last_sequence, n_items, received_at)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[SQ_REF_ADD] = "UPDATE refs SET deliveries = deliveries + ?2, items = items + ?3,"
		       " duplicates = duplicates + ?4, streams = streams + ?5,"
		       " streams_ended = streams_ended + ?6, seq_missing = seq_missing + ?7,"
		       " first_received = CASE WHEN ?8 IS NULL THEN first_received"
		       "  ELSE min(coalesce(first_received, ?8), ?8) END,"
		       " last_received = CASE WHEN ?9 IS NULL THEN last_received"
		       "  ELSE max(coalesce(last_received, ?9), ?9) END WHERE id = ?1",
	[SQ_STREAM_GET] = "SELECT lo, hi, n, ended, missing FROM streams WHERE delivery_id = ?1",
	[SQ_STREAM_FIRST] = "SELECT sequence, coalesce(last_sequence, 0) FROM deliveries"
			    " WHERE delivery_id = ?1 AND id < ?2 LIMIT 2",
	[SQ_STREAM_AGG] = "SELECT count(*), min(sequence), max(sequence), count(sequence),"
			  " coalesce(max(last_sequence), 0) FROM deliveries"
			  " WHERE delivery_id = ?1 AND id < ?2",
	[SQ_STREAM_PUT] = "INSERT INTO streams(delivery_id, ref, lo, hi, n, ended, missing)"
			  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(delivery_id) DO UPDATE"
			  " SET lo = ?3, hi = ?4, n = ?5, ended = ?6, missing = ?7",
	[SQ_ATT_INS] = "INSERT INTO attachments(id, item, idx, ref, peer, url, uuid, model,"
		       " content_length, content_type, expiry, checksum, original_filename,"
		       " csp_defined_identifier, state, bytes, sha256, file, updated_at)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
		       " ?16, ?17, ?18, ?19)",
	[SQ_CSP_INS] = "INSERT OR IGNORE INTO csp_schemas(peer, schema_id, url, content, item)"
		       " VALUES(?1, ?2, ?3, ?4, ?5)",
	[SQ_REFATT_ADD] = "INSERT INTO ref_att(ref, state, n) VALUES(?1, ?2, ?3)"
			  " ON CONFLICT(ref, state) DO UPDATE SET n = n + excluded.n",
	[SQ_ORPHAN_FIND] = "SELECT id, bytes, sha256, file FROM attachments"
			   " WHERE uuid = ?1 AND item IS NULL AND peer = ?2 AND state = 6 LIMIT 1",
	[SQ_ATT_DEL] = "DELETE FROM attachments WHERE id = ?1",
	[SQ_UUID_ROWS] = "SELECT id, item, peer, state, content_length, bytes, file, dest,"
			 " ref FROM attachments WHERE uuid = ?1 ORDER BY id",
	[SQ_ATT_GET] = "SELECT item, peer, state, prev_state, content_length, checksum, file,"
		       " dest, ref, uuid FROM attachments WHERE id = ?1",
	[SQ_ORPHAN_USED] = "SELECT coalesce(sum(CASE state WHEN 6 THEN bytes ELSE reserved END), 0)"
			   " FROM attachments WHERE item IS NULL AND state IN (1, 6)",
	[SQ_ATT_BEGIN] = "UPDATE attachments SET prev_state = state, state = 1, dest = ?2,"
			 " reserved = ?3, updated_at = ?4 WHERE id = ?1",
	[SQ_ORPHAN_INS] = "INSERT INTO attachments(id, item, idx, ref, peer, uuid, model, state,"
			  " prev_state, dest, reserved, updated_at)"
			  " VALUES(?1, NULL, 0, 0, ?2, ?3, 'B', 1, NULL, ?4, ?5, ?6)",
	[SQ_ATT_FINISH] = "UPDATE attachments SET state = ?2, prev_state = NULL, bytes = ?3,"
			  " sha256 = ?4, file = ?5, dest = NULL, reserved = 0, updated_at = ?6"
			  " WHERE id = ?1",
	[SQ_ATT_RESTORE] = "UPDATE attachments SET state = prev_state, prev_state = NULL,"
			   " dest = NULL, reserved = 0 WHERE id = ?1",
	[SQ_RECORD_FIND] = "SELECT id, ref, content_length, checksum, file FROM attachments"
			   " WHERE uuid = ?1 AND peer = ?2 AND item IS NOT NULL AND state = 0"
			   " ORDER BY id LIMIT 1",
	[SQ_SWEEP_SEL] = "SELECT id, file FROM attachments"
			 " WHERE item IS NULL AND state = 6 AND updated_at < ?1",
	[SQ_ORPHAN_ANY] = "SELECT 1 FROM attachments WHERE item IS NULL AND state = 6 LIMIT 1",
	[SQ_ATT_EXPIRE] = "UPDATE attachments SET state = 4, file = NULL, updated_at = ?2"
			  " WHERE id = ?1",
	[SQ_FETCH_GET] = "SELECT state, ref FROM attachments WHERE id = ?1 AND model <> 'B'"
			 " AND item IS NOT NULL",
	[SQ_FETCH_SET] = "UPDATE attachments SET state = CASE WHEN ?2 THEN ?3 ELSE state END,"
			 " model = CASE WHEN ?4 THEN ?5 ELSE model END,"
			 " fetch_total = CASE WHEN ?6 THEN nullif(?7, -1) ELSE fetch_total END,"
			 " fetch_etag = CASE WHEN ?6 THEN nullif(?8, '') ELSE fetch_etag END,"
			 " fetch_chunk = CASE WHEN ?6 THEN ?9 ELSE fetch_chunk END,"
			 " fetch_held = CASE WHEN ?6 THEN nullif(?10, '') ELSE fetch_held END,"
			 " fetch_attempts = CASE WHEN ?11 THEN ?12 ELSE fetch_attempts END,"
			 " fetch_mismatches = CASE WHEN ?11 THEN ?13 ELSE fetch_mismatches END,"
			 " fetch_next = CASE WHEN ?11 THEN ?14 ELSE fetch_next END,"
			 " fetch_error = CASE WHEN ?11 THEN ?15 ELSE fetch_error END,"
			 " bytes = CASE WHEN ?16 THEN ?17 ELSE bytes END,"
			 " sha256 = CASE WHEN ?16 THEN ?18 ELSE sha256 END,"
			 " file = CASE WHEN ?16 THEN ?19 ELSE file END,"
			 " served_type = CASE WHEN ?16 THEN ?20 ELSE served_type END,"
			 " updated_at = ?21 WHERE id = ?1",
};

/* ---- uploads in flight ---- */

/* Each upload in flight holds one HTTP connection: far more than a server accepts at once. */
#define SQ_UPLOADS_MAX 65536

int lea__sq_upload_add(struct sq_store *s, int64_t id, const char *dest)
{
	pthread_mutex_lock(&s->umu);
	int rc = li707_array_grow((void **)&s->ups, &s->cap_ups, s->n_ups + 1, sizeof *s->ups,
				  SQ_UPLOADS_MAX);
	if (rc)
		goto out;
	struct sq_upload *u = &s->ups[s->n_ups++];
	u->id = id;
	u->finishing = false;
	snprintf(u->dest, sizeof u->dest, "%s", dest);
out:
	pthread_mutex_unlock(&s->umu);
	return rc;
}

void lea__sq_upload_remove(struct sq_store *s, int64_t id)
{
	pthread_mutex_lock(&s->umu);
	for (size_t i = 0; i < s->n_ups; i++)
		if (s->ups[i].id == id) {
			s->ups[i] = s->ups[--s->n_ups];
			break;
		}
	pthread_mutex_unlock(&s->umu);
}

/* ---- open ---- */

static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char p[4200];
	int rc = lea__store_mkdir(dir);
	if (!rc) {
		snprintf(p, sizeof p, "%s/tmp", dir);
		rc = lea__store_mkdir(p);
	}
	if (!rc) { /* Model A/C part files: kept across restarts (never emptied at open) */
		snprintf(p, sizeof p, "%s/fetch", dir);
		rc = lea__store_mkdir(p);
	}
	if (!rc) {
		snprintf(p, sizeof p, "%s/content", dir);
		rc = lea__store_mkdir(p);
	}
	for (unsigned i = 0; !rc && i < 256; i++) {
		snprintf(p, sizeof p, "%s/content/%02x", dir, i);
		rc = lea__store_mkdir(p);
	}
	if (!rc) {
		snprintf(p, sizeof p, "%s/content", dir);
		rc = lx_fsync_dir(p);
	}
	if (!rc)
		rc = lx_fsync_dir(dir);
	if (rc)
		lx_errf(err, errlen, "store: cannot create %s: %s", p, li707_strerror(rc));
	return rc;
}

/* Uploads in flight at a crash left their data in DIR/tmp: never acknowledged, deleted. */
static int empty_tmp(const char *dir)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/tmp", dir);
	DIR *d = opendir(p);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	return lx_fsync_dir(p);
}

/* Version 1 -> 2: the raw codec columns (existing rows are plain). */
static const char UPGRADE_1_2[] =
	"BEGIN IMMEDIATE;"
	"ALTER TABLE messages ADD COLUMN raw_codec INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN raw_size INTEGER;"
	"PRAGMA user_version = 2;"
	"COMMIT;";

/* Version 2 -> 3: the Model A/C retrieval columns and index. Rows keep their state: a
 * TO_FETCH attachment stays queued, with nothing held yet. */
static const char UPGRADE_2_3[] =
	"BEGIN IMMEDIATE;"
	"ALTER TABLE attachments ADD COLUMN fetch_priority INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE attachments ADD COLUMN fetch_attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE attachments ADD COLUMN fetch_mismatches INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE attachments ADD COLUMN fetch_next INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE attachments ADD COLUMN fetch_total INTEGER;"
	"ALTER TABLE attachments ADD COLUMN fetch_etag TEXT;"
	"ALTER TABLE attachments ADD COLUMN fetch_chunk INTEGER;"
	"ALTER TABLE attachments ADD COLUMN fetch_held TEXT;"
	"ALTER TABLE attachments ADD COLUMN served_type TEXT;"
	"ALTER TABLE attachments ADD COLUMN fetch_error TEXT;"
	FETCH_INDEX
	"PRAGMA user_version = 3;"
	"COMMIT;";

static int create_schema(sqlite3 *db, char *err, size_t errlen)
{
	int64_t v = lx_sq_query_int(db, "PRAGMA user_version", -1);
	if (v == SQ_SCHEMA_VERSION)
		return 0;
	if (v == 1 || v == 2) {
		int rc = v == 1 ? lx_sq_exec_sql(db, UPGRADE_1_2) : 0;
		if (!rc)
			rc = lx_sq_exec_sql(db, UPGRADE_2_3);
		if (rc) {
			lx_errf(err, errlen, "store: cannot upgrade the schema from version %lld: %s",
				    (long long)v, sqlite3_errmsg(db));
			lx_sq_exec_sql(db, "ROLLBACK");
		}
		return rc;
	}
	if (v != 0) {
		lx_errf(err, errlen, "store: schema version %lld is not supported (this build: %d)",
			    (long long)v, SQ_SCHEMA_VERSION);
		return LI707_EINVAL;
	}
	char sql[sizeof SCHEMA + 128];
	snprintf(sql, sizeof sql, "BEGIN IMMEDIATE;%sPRAGMA user_version = %d;COMMIT;", SCHEMA,
		 SQ_SCHEMA_VERSION);
	int rc = lx_sq_exec_sql(db, sql);
	if (rc) {
		lx_errf(err, errlen, "store: cannot create the schema: %s", sqlite3_errmsg(db));
		lx_sq_exec_sql(db, "ROLLBACK");
	}
	return rc;
}

/* Uploads left RECEIVING by a crash go back to their previous state; a data file renamed
 * into place whose commit never happened is deleted; an orphan that never finished is
 * dropped. Counters follow. */
static int recover(struct sq_store *s)
{
	sqlite3_stmt *st = NULL;
	struct lx_unlinks un = {0};
	int rc = lx_sq_exec_sql(s->wdb, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	rc = lx_sq_err(sqlite3_prepare_v2(s->wdb,
		"SELECT id, ref, prev_state, dest FROM attachments WHERE state = 1", -1, &st, NULL));
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), ref = sqlite3_column_int64(st, 1);
		bool orphan_new = sqlite3_column_type(st, 2) == SQLITE_NULL;
		int prev = sqlite3_column_int(st, 2);
		rc = lx_unlinks_add(&un, s->o->dir, lx_sq_text(st, 3));
		if (!rc)
			rc = lea__sq_att_count(s, ref, LEA_ATT_RECEIVING, -1);
		if (!rc && !orphan_new)
			rc = lea__sq_att_count(s, ref, prev, +1);
		if (!rc) {
			sqlite3_stmt *u = s->st[orphan_new ? SQ_ATT_DEL : SQ_ATT_RESTORE];
			rc = lx_sq_bind(u, "i", id);
			if (!rc && sqlite3_step(u) != SQLITE_DONE)
				rc = lx_sq_err(sqlite3_errcode(s->wdb));
			lx_sq_done(u);
		}
	}
	sqlite3_finalize(st);
	rc = rc ? rc : lx_sq_exec_sql(s->wdb, "COMMIT");
	if (rc)
		lx_sq_exec_sql(s->wdb, "ROLLBACK");
	else
		lx_unlinks_run(&un);
	lx_unlinks_free(&un);
	return rc;
}

/* Prepares "HEAD (?,..,?),(?,..,?)..." with 1..n rows of `cols` parameters into st[0..n-1]. */
static int prepare_multirow(struct sq_store *s, const char *head, int cols, int n,
			    sqlite3_stmt **st)
{
	size_t cap = strlen(head) + (size_t)n * ((size_t)cols * 2 + 3) + 1;
	char *sql = malloc(cap);
	if (!sql)
		return LI707_ENOMEM;
	int rc = 0;
	for (int rows = 1; rows <= n && !rc; rows++) {
		size_t len = (size_t)snprintf(sql, cap, "%s", head);
		for (int r = 0; r < rows; r++)
			for (int c = 0; c < cols; c++)
				len += (size_t)snprintf(sql + len, cap - len, "%s%s%s",
							c ? "" : r ? ",(" : "(", c ? ",?" : "?",
							c == cols - 1 ? ")" : "");
		rc = lx_engine_prepare(s->eng, sql, &st[rows - 1]);
	}
	free(sql);
	return rc;
}

static int prepare_multirows(struct sq_store *s)
{
	int rc = prepare_multirow(s, "INSERT OR IGNORE INTO parties(bucket, value, item, role) VALUES",
				  4, SQ_PARTY_ROWS, s->party_st);
	if (!rc)
		rc = prepare_multirow(s, "INSERT INTO items(id, delivery, idx, ref, timestamp, epoch,"
				      " app_level, app_seq, sender, n_receivers, n_attachments,"
				      " att_first) VALUES",
				      SQ_ITEM_COLS, SQ_ITEM_ROWS, s->item_st);
	return rc;
}

static int prepare_all(struct sq_store *s, char *err, size_t errlen)
{
	for (int i = 0; i < SQ_NSTMT; i++) {
		int rc = lx_engine_prepare(s->eng, STMTS[i], &s->st[i]);
		if (rc) {
			lx_errf(err, errlen, "store: statement %d: %s", i, sqlite3_errmsg(s->wdb));
			return rc;
		}
	}
	int rc = prepare_multirows(s);
	if (rc)
		lx_errf(err, errlen, "store: parties statement: %s", sqlite3_errmsg(s->wdb));
	return rc;
}

/* ---- the engine's hooks (writer thread) ---- */

int lea__sq_att_count(struct sq_store *s, int64_t ref, int state, int64_t delta)
{
	sqlite3_stmt *st = s->st[SQ_REFATT_ADD];
	int rc = lx_sq_bind(st, "iii", ref, (int64_t)state, delta);
	return rc ? (lx_sq_done(st), rc) : lx_sq_step_done(st);
}

/* COMPLETE when the data matches every value the record gives (length, SHA-256 with the
 * record's checksum lower-cased), MISMATCH otherwise. */
enum lea_att_state lea__sq_compare_record(bool has_len, uint64_t len, const char *checksum,
						uint64_t bytes, const char *sha)
{
	if (has_len && len != bytes)
		return LEA_ATT_MISMATCH;
	if (checksum) {
		char want[65];
		if (!lea__store_sha_lower(checksum, want) || !sha || strcmp(want, sha) != 0)
			return LEA_ATT_MISMATCH;
	}
	return LEA_ATT_COMPLETE;
}

/* What a job's run leaves behind beside the database, forgotten before it runs (again). */
static void job_forget(struct sq_job *j)
{
	free(j->deltas.v);
	j->deltas = (struct sq_deltas){0};
	j->single_failed = false;
}

static int hook_run(void *cls, struct lx_job *b)
{
	struct sq_store *s = cls;
	struct sq_job *j = (struct sq_job *)b;
	job_forget(j);
	switch (j->kind) {
	case SQ_JOB_PUT:
		return lea__sq_run_put(s, j);
	case SQ_JOB_BEGIN:
		return lea__sq_run_begin(s, j);
	case SQ_JOB_FINISH:
		return lea__sq_run_finish(s, j);
	case SQ_JOB_ABORT:
		return lea__sq_run_abort(s, j);
	case SQ_JOB_SWEEP:
		return lea__sq_run_sweep(s, j);
	case SQ_JOB_FETCH:
		return lea__sq_run_fetch(s, j);
	}
	return LI707_EINVAL;
}

/* After BEGIN: the ids the writer gives are remembered (a rollback gives them back), and
 * whether some orphan upload waits for its record is looked up once per batch instead of
 * one SELECT per Model B record. */
static int hook_batch_begin(void *cls)
{
	struct sq_store *s = cls;
	s->tx_next_att_id = s->next_att_id;
	s->tx_next_item_id = s->next_item_id;
	if (s->orphans_maybe) {
		sqlite3_stmt *st = s->st[SQ_ORPHAN_ANY];
		int r = sqlite3_step(st);
		s->orphans_maybe = r != SQLITE_DONE;
		sqlite3_reset(st);
	}
	return 0;
}

/* A job rolled back to its savepoint takes its counter deltas with it; a put whose one new
 * action failed still succeeds (its outcome says LEA_PUT_FAILED). A whole transaction rolled
 * back gives the writer-given ids back. Either way a remembered reference id may be gone. */
static int hook_rollback(void *cls, struct lx_job *b, int rc)
{
	struct sq_store *s = cls;
	lea__sq_refcache_clear(s, false);
	if (!b) {
		s->next_att_id = s->tx_next_att_id;
		s->next_item_id = s->tx_next_item_id;
		s->orphans_maybe = true;
		return rc;
	}
	struct sq_job *j = (struct sq_job *)b;
	bool single_failed = j->single_failed;
	job_forget(j);
	return single_failed ? 0 : rc;
}

static int hook_before_commit(void *cls, struct lx_job *batch)
{
	return lea__sq_deltas_write(cls, batch);
}

static void hook_batch_end(void *cls, struct lx_job *batch, int rc)
{
	(void)cls;
	(void)rc;
	for (struct lx_job *b = batch; b; b = b->next)
		job_forget((struct sq_job *)b);
}

static const struct lx_engine_hooks HOOKS = {
	.run = hook_run,
	.batch_begin = hook_batch_begin,
	.rollback = hook_rollback,
	.before_commit = hook_before_commit,
	.batch_end = hook_batch_end,
};

int lea__sq_submit(struct sq_store *s, struct sq_job *j)
{
	if (s->read_only)
		return -EROFS;
	/* a put runs without savepoint of its own; the Model B jobs always in theirs */
	j->base.savepoint = j->kind != SQ_JOB_PUT;
	return lx_engine_submit(s->eng, &j->base);
}

/* ---- open, close ---- */

static int open_writer(struct sq_store *s, char *err, size_t errlen)
{
	char lock[4200];
	snprintf(lock, sizeof lock, "%s/lock", s->o->dir);
	int rc = lea__store_mkdir(s->o->dir);
	if (rc) {
		lx_errf(err, errlen, "store: cannot create %s: %s", s->o->dir, li707_strerror(rc));
		return rc;
	}
	struct lx_engine_opts eo = {.dbpath = s->dbpath, .lock_path = lock, .name = "lea-store",
				    .sync_normal = s->o->sync_normal, .hooks = &HOOKS, .cls = s,
				    .commit_seconds = s->o->commit_seconds};
	if ((rc = lx_engine_open(&eo, &s->eng, err, errlen)))
		return rc;
	s->wdb = lx_engine_wdb(s->eng);
	if ((rc = make_dirs(s->o->dir, err, errlen)))
		return rc;
	if ((rc = empty_tmp(s->o->dir))) {
		lx_errf(err, errlen, "store: cannot empty %s/tmp: %s", s->o->dir, li707_strerror(rc));
		return rc;
	}
	if ((rc = create_schema(s->wdb, err, errlen)) || (rc = prepare_all(s, err, errlen)))
		return rc;
	if ((rc = recover(s))) {
		lx_errf(err, errlen, "store: recovery at open failed: %s", li707_strerror(rc));
		return rc;
	}
	s->next_att_id = lx_sq_query_int(s->wdb, "SELECT coalesce(max(id), 0) + 1 FROM attachments", 1);
	s->next_item_id = lx_sq_query_int(s->wdb, "SELECT coalesce(max(id), 0) + 1 FROM items", 1);
	s->orphans_maybe = true;
	return lx_engine_start(s->eng, err, errlen);
}

static int open_reader(struct sq_store *s, char *err, size_t errlen)
{
	if (access(s->dbpath, R_OK)) {
		int rc = -errno;
		lx_errf(err, errlen, "store: no store at %s: %s", s->o->dir, li707_strerror(rc));
		return rc;
	}
	struct lx_engine_opts eo = {.dbpath = s->dbpath, .read_only = true};
	int rc = lx_engine_open(&eo, &s->eng, err, errlen);
	if (rc)
		return rc;
	sqlite3 *db = NULL;
	if ((rc = lx_engine_read_get(s->eng, &db))) {
		lx_errf(err, errlen, "store: cannot open %s: %s", s->dbpath, li707_strerror(rc));
		return rc;
	}
	int64_t v = lx_sq_query_int(db, "PRAGMA user_version", -1);
	lx_engine_read_put(s->eng, db);
	if (v == 1 || v == 2) {
		lx_errf(err, errlen, "store: %s has schema version %lld: start li707-lea on it once "
			    "to upgrade it to version %d", s->dbpath, (long long)v, SQ_SCHEMA_VERSION);
		return LI707_EINVAL;
	}
	if (v <= 0) { /* an empty index, or one without li707's schema */
		lx_errf(err, errlen, "store: %s: %s (no schema version)", s->dbpath,
			    li707_strerror(LI707_EDAMAGED));
		return LI707_EDAMAGED;
	}
	if (v != SQ_SCHEMA_VERSION) {
		lx_errf(err, errlen, "store: %s: schema version %lld is not supported (this build: %d)",
			    s->dbpath, (long long)v, SQ_SCHEMA_VERSION);
		return LI707_EINVAL;
	}
	return 0;
}

static void sq_close(void *be);

static int sq_open(const struct lea_store_opts *o, void **be, char *err, size_t errlen)
{
	struct sq_store *s = calloc(1, sizeof *s);
	if (!s) {
		lx_errf(err, errlen, "store: out of memory");
		return LI707_ENOMEM;
	}
	s->o = o;
	s->read_only = o->read_only;
	pthread_mutex_init(&s->umu, NULL);
	int n = snprintf(s->dbpath, sizeof s->dbpath, "%s/index.sqlite", o->dir);
	int rc = LI707_EINVAL;
	if (n < 0 || (size_t)n >= sizeof s->dbpath)
		lx_errf(err, errlen, "store: directory name too long");
	else
		rc = s->read_only ? open_reader(s, err, errlen) : open_writer(s, err, errlen);
	if (rc) {
		sq_close(s);
		return rc;
	}
	*be = s;
	return 0;
}

/* The engine answers every queued job first; it finalizes the statements (st[], party_st[],
 * item_st[] are in its cache) and closes the connections. */
static void sq_close(void *be)
{
	struct sq_store *s = be;
	if (!s)
		return;
	lx_engine_close(s->eng);
	lea__sq_refcache_clear(s, true);
	free(s->ups);
	pthread_mutex_destroy(&s->umu);
	free(s);
}

static void sq_stats(void *be, struct lea_store_stats *out)
{
	struct sq_store *s = be;
	struct lx_engine_stats st;
	lx_engine_stats(s->eng, &st);
	out->commits = st.batches;
	out->fsyncs = st.syncs;
	out->writable = st.writable;
}

const struct lea_store_ops lea__store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.put = lea__sq_put,
	.upload_begin = lea__sq_upload_begin,
	.upload_finish = lea__sq_upload_finish,
	.upload_abort = lea__sq_upload_abort,
	.sweep = lea__sq_sweep,
	.list = lea__sq_list,
	.item = lea__sq_item,
	.status = lea__sq_status,
	.gaps = lea__sq_gaps,
	.stats = sq_stats,
	.fetch_queue = lea__sq_fetch_queue,
	.fetch_get = lea__sq_fetch_get,
	.fetch_update = lea__sq_fetch_update,
	.fetch_counts = lea__sq_fetch_counts,
};
