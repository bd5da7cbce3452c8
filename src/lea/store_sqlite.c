/* li707-lea - SQLite backend of the store: open/close, schema, recovery, the writer thread
 * (group commit), the statement cache and the read-connection pool.
 *
 * DESIGN. One writer thread owns the writer connection. lea_store_put() and the Model B
 * calls build a job on the caller's stack, queue it and sleep on its semaphore; the writer
 * takes every job queued (up to SQ_BATCH_MAX) and runs it in its open transaction (BEGIN
 * IMMEDIATE first when none is open): a put without savepoint; if one fails, the whole
 * transaction is rolled back and run again with each job inside SAVEPOINT j (the failing one
 * rolls back alone and gets its error; the others go on). The transaction is committed
 * (synchronous=NORMAL) when the sync thread is free, then handed to it: it fdatasyncs the
 * WAL and only then answers the callers, so a caller that sees 0 has its rows on disk; if
 * the COMMIT or the fdatasync fails, every job of the batch gets the error and nothing of it
 * is acknowledged. Files to delete because of the batch (replaced content, expired orphans,
 * aborted uploads) are deleted once it is durable.
 * See docs/internals/store.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "fdio.h"
#include "store_sqlite_int.h"

/* ---- schema (see docs/internals/store.md for what each column means) ---- */

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
	" updated_at INTEGER NOT NULL);"
	"CREATE INDEX attachments_uuid ON attachments(uuid) WHERE uuid IS NOT NULL;"
	"CREATE INDEX attachments_orphans ON attachments(state) WHERE item IS NULL;"
	"CREATE TABLE ref_att("
	" ref INTEGER NOT NULL, state INTEGER NOT NULL, n INTEGER NOT NULL,"
	" PRIMARY KEY(ref, state)) WITHOUT ROWID;";

/* Writer statements, indexed by enum sq_stmt. */
static const char *const STMTS[SQ_NSTMT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_SP_JOB] = "SAVEPOINT j",
	[SQ_RB_JOB] = "ROLLBACK TO j",
	[SQ_REL_JOB] = "RELEASE j",
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
};

/* ---- small helpers ---- */

int lea__sq_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return LI707_ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return LI707_EDAMAGED;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
		return LI707_EINVAL;
	default:
		return -EIO;
	}
}

int lea__sq_bind(sqlite3_stmt *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = SQLITE_OK;
	for (int i = 1; *fmt && rc == SQLITE_OK; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'u':
			rc = sqlite3_bind_int64(st, i, (int64_t)va_arg(ap, uint64_t));
			break;
		case 't': {
			const char *t = va_arg(ap, const char *);
			rc = t ? sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
			break;
		}
		case 'b': {
			const void *b = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(st, i, b, n, SQLITE_STATIC);
			break;
		}
		case 'x': /* leave this parameter as it is */
			break;
		default:
			rc = sqlite3_bind_null(st, i);
			break;
		}
	}
	va_end(ap);
	return lea__sq_err(rc);
}

void lea__sq_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

const char *lea__sq_text(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

int lea__sq_exec(struct sq_store *s, enum sq_stmt id)
{
	sqlite3_stmt *st = s->st[id];
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : lea__sq_err(rc);
}

/* Steps a statement that returns no row (or whose row is ignored) and resets it. */
int lea__sq_step_done(struct sq_store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : lea__sq_err(rc);
	lea__sq_done(st);
	return rc;
}

/* Steps a one-column integer query: 1 and *v when a row came, 0 when none, or an error. */
int lea__sq_step_int(struct sq_store *s, sqlite3_stmt *st, int64_t *v)
{
	int rc = sqlite3_step(st);
	int out = 0;
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		out = 1;
	} else if (rc != SQLITE_DONE) {
		out = lea__sq_err(rc);
	}
	lea__sq_done(st);
	return out;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	return lea__sq_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static int64_t query_int(sqlite3 *db, const char *sql, int64_t dflt)
{
	sqlite3_stmt *st = NULL;
	int64_t v = dflt;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static bool journal_is_wal(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	bool wal = false;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		wal = !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	return wal;
}

/* ---- post-commit file deletions ---- */

int lea__sq_unlink_add(struct sq_unlinks *u, const char *dir, const char *rel)
{
	if (!rel || !rel[0])
		return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 4;
		char **v = realloc(u->v, cap * sizeof *v);
		if (!v)
			return LI707_ENOMEM;
		u->v = v;
		u->cap = cap;
	}
	size_t len = strlen(dir) + strlen(rel) + 2;
	char *p = malloc(len);
	if (!p)
		return LI707_ENOMEM;
	snprintf(p, len, "%s/%s", dir, rel);
	u->v[u->n++] = p;
	return 0;
}

void lea__sq_unlinks_run(struct sq_unlinks *u)
{
	for (size_t i = 0; i < u->n; i++)
		unlink(u->v[i]);
}

void lea__sq_unlinks_free(struct sq_unlinks *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->v[i]);
	free(u->v);
	u->v = NULL;
	u->n = u->cap = 0;
}

/* ---- the writer thread ---- */

/* What a job's run leaves behind, forgotten before it runs (again). */
static void job_reset(struct sq_job *j)
{
	lea__sq_unlinks_free(&j->unlinks);
	free(j->deltas.v);
	j->deltas = (struct sq_deltas){0};
	j->single_failed = false;
	j->rc = 0;
}

/* Runs the jobs of a batch inside its transaction. careful: each job in its own savepoint
 * (one that fails is undone alone and gets its error). Otherwise a put runs without one
 * (two statements less per delivery) and the first failure returns its error at once: the
 * caller rolls the whole transaction back and runs the batch again carefully. The other
 * jobs (Model B) always have their savepoint. */
static int run_jobs(struct sq_store *s, struct sq_job *batch, bool careful)
{
	for (struct sq_job *j = batch; j; j = j->next) {
		job_reset(j);
		bool sp = careful || j->kind != SQ_JOB_PUT;
		int jrc = sp ? lea__sq_exec(s, SQ_SP_JOB) : 0;
		if (!jrc)
			jrc = lea__sq_run_job(s, j);
		if (jrc && !sp)
			return jrc;
		if (jrc) {
			/* Only this job is undone; its post-commit deletions and counter
			 * deltas are dropped. */
			lea__sq_exec(s, SQ_RB_JOB);
			bool single_failed = j->single_failed;
			job_reset(j);
			lea__sq_refcache_clear(s, false);
			if (single_failed)
				jrc = 0; /* its outcome says LEA_PUT_FAILED */
		}
		if (sp)
			lea__sq_exec(s, SQ_REL_JOB);
		j->rc = jrc;
	}
	return 0;
}

static int begin_batch(struct sq_store *s)
{
	int rc = lea__sq_exec(s, SQ_BEGIN);
	if (!rc && s->orphans_maybe) {
		/* once per batch instead of one SELECT per Model B record */
		sqlite3_stmt *st = s->st[SQ_ORPHAN_ANY];
		int r = sqlite3_step(st);
		s->orphans_maybe = r != SQLITE_DONE;
		sqlite3_reset(st);
	}
	return rc;
}

/* The transaction the writer has open: the jobs already run in it, not yet committed. */
struct sq_open {
	struct sq_job *head, *tail;
	size_t n;
	bool in_tx;
	int rc;                            /* BEGIN failed: every job gets it */
	int64_t next_att_id;               /* at BEGIN (restored by a rollback) */
	int64_t next_item_id;
};

/* Runs the queued jobs of chunk inside the open transaction (BEGIN first when none is). If
 * a put fails without its savepoint, everything of the transaction is rolled back and run
 * again, each job in its savepoint. */
static void tx_run(struct sq_store *s, struct sq_open *t, struct sq_job *chunk, struct sq_job *last,
		   size_t n)
{
	if (!t->in_tx) {
		t->in_tx = true;
		t->next_att_id = s->next_att_id;
		t->next_item_id = s->next_item_id;
		t->rc = begin_batch(s);
	}
	if (t->tail)
		t->tail->next = chunk;
	else
		t->head = chunk;
	t->tail = last;
	t->n += n;
	if (!t->rc && run_jobs(s, chunk, false)) {
		lea__sq_exec(s, SQ_ROLLBACK);
		lea__sq_refcache_clear(s, false);
		s->next_att_id = t->next_att_id;
		s->next_item_id = t->next_item_id;
		s->orphans_maybe = true;
		t->rc = begin_batch(s);
		if (!t->rc)
			run_jobs(s, t->head, true);
	}
	if (t->rc)
		for (struct sq_job *j = t->head; j; j = j->next)
			j->rc = t->rc;
}

/* Commits the open transaction: the counters summed over its jobs, then COMMIT. If any of
 * it fails, nothing of the batch is durable and every job gets the error. */
static void tx_commit(struct sq_store *s, struct sq_open *t)
{
	int rc = t->rc;
	if (!rc)
		rc = lea__sq_batch_end(s, t->head);
	if (!rc)
		rc = lea__sq_exec(s, SQ_COMMIT);
	if (rc) {
		if (!sqlite3_get_autocommit(s->wdb))
			lea__sq_exec(s, SQ_ROLLBACK);
		lea__sq_refcache_clear(s, false);
		s->next_att_id = t->next_att_id;
		s->next_item_id = t->next_item_id;
	}
	for (struct sq_job *j = t->head; j; j = j->next) {
		if (rc)
			j->rc = rc; /* nothing of the batch is durable: nothing is acknowledged */
		free(j->deltas.v);
		j->deltas = (struct sq_deltas){0};
	}
}

/* The batch is durable (or failed with sync_rc): post-commit deletions, then the callers.
 * Each caller sleeps on its job's semaphore, posted without holding mu (a woken caller
 * does not then wait for the mutex the completing thread still holds). The post is the
 * last access to a job: its caller may return and its stack frame (the job) vanish at
 * once, which POSIX allows for a semaphore (no access after the post makes it available). */
static void complete_jobs(struct sq_store *s, struct sq_job *jobs, int sync_rc)
{
	(void)s;
	for (struct sq_job *j = jobs, *nx; j; j = nx) {
		nx = j->next; /* read before the post */
		if (sync_rc && !j->rc)
			j->rc = sync_rc;
		if (!j->rc)
			lea__sq_unlinks_run(&j->unlinks);
		lea__sq_unlinks_free(&j->unlinks);
		sem_post(&j->done);
	}
}

/* ---- Deferred sync ----
 * The writer commits with synchronous=NORMAL: the WAL frames of the batch, its commit frame
 * included, are written to the WAL file but not fsync'd, and the writer goes on with the
 * next batch at once. This thread fdatasyncs the WAL file and only then answers the callers
 * of every batch committed before the fdatasync began: what they are told is stored is in
 * the WAL on disk, as with synchronous=FULL, but the fsync of one batch overlaps the work of
 * the next, and one fdatasync covers every batch committed meanwhile. (SQLite syncs a new
 * WAL header itself, and its checkpoints sync the WAL before copying it, in NORMAL mode as
 * in FULL.) If an fdatasync fails, the store is broken: those callers and every later write
 * get the error, until it is opened again (recovery replays what is really in the WAL). */
static void *sync_main(void *arg)
{
	struct sq_store *s = arg;
	pthread_setname_np(pthread_self(), "lea-store-sync");
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->sync_head && !s->sync_stop)
			pthread_cond_wait(&s->cv_sync, &s->mu);
		if (!s->sync_head)
			break;
		struct sq_job *jobs = s->sync_head;
		s->sync_head = s->sync_tail = NULL;
		s->syncing = true;
		int rc = s->broken;
		pthread_mutex_unlock(&s->mu);
		if (!rc && fdatasync(s->wal_fd))
			rc = -errno;
		pthread_mutex_lock(&s->mu);
		if (rc && !s->broken)
			s->broken = rc;
		s->n_syncs++;
		s->syncing = false;
		pthread_cond_signal(&s->cv_work); /* the writer may commit what it holds */
		pthread_mutex_unlock(&s->mu);
		complete_jobs(s, jobs, rc);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void writer_checkpoint(struct sq_store *s);

/* The writer commits its open transaction when the sync thread can take it at once (or
 * without a sync thread, or when the batch is full, or at close). While an fdatasync is
 * under way, the jobs that arrive are run into the open transaction as they come, and
 * committed together when it ends: their callers could not be answered before the next
 * fdatasync anyway, and one commit of many jobs writes the pages they share (page 1, the
 * counters, the last leaves of each table and index) once instead of once per job. */
static bool commit_now(const struct sq_store *s, const struct sq_open *t)
{
	return t->n && (!s->syncer_running || (!s->syncing && !s->sync_head) || s->stop ||
			t->n >= SQ_BATCH_MAX);
}

static void *writer_main(void *arg)
{
	struct sq_store *s = arg;
	struct sq_open t = {0};
	pthread_setname_np(pthread_self(), "lea-store-w");
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!(s->head && t.n < SQ_BATCH_MAX) && !commit_now(s, &t) && !s->stop)
			pthread_cond_wait(&s->cv_work, &s->mu);
		if (!s->head && !t.n)
			break; /* stop, nothing left */
		struct sq_job *chunk = NULL, *last = NULL;
		size_t n = 0;
		if (s->head && t.n < SQ_BATCH_MAX) {
			chunk = last = s->head;
			n = 1;
			while (last->next && t.n + n < SQ_BATCH_MAX) {
				last = last->next;
				n++;
			}
			s->head = last->next;
			if (!s->head)
				s->tail = NULL;
			last->next = NULL;
		}
		pthread_mutex_unlock(&s->mu);
		if (chunk)
			tx_run(s, &t, chunk, last, n);
		pthread_mutex_lock(&s->mu);
		if (!commit_now(s, &t))
			continue;
		pthread_mutex_unlock(&s->mu);

		tx_commit(s, &t);
		if (s->syncer_running) {
			pthread_mutex_lock(&s->mu);
			if (s->sync_tail)
				s->sync_tail->next = t.head;
			else
				s->sync_head = t.head;
			s->sync_tail = t.tail;
			pthread_cond_signal(&s->cv_sync);
			pthread_mutex_unlock(&s->mu);
		} else {
			complete_jobs(s, t.head, 0);
		}
		size_t done = t.n;
		t = (struct sq_open){0};
		writer_checkpoint(s); /* between batches */
		pthread_mutex_lock(&s->mu);
		s->n_batches++;
		s->n_jobs += done;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- the checkpointer ----
 * The writer connection does not checkpoint (wal_autocheckpoint = 0): a checkpoint copies
 * pages into the database file and fsyncs it, which would hold up the commit (and so every
 * caller of the batch). After a commit that leaves SQ_CKPT_PAGES or more in the WAL, the
 * writer wakes this thread, which runs a PASSIVE checkpoint on its own connection beside the
 * writer (WAL lets both run at once); the writer restarts the WAL from the beginning once a
 * checkpoint has copied everything. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_store *s = arg;
	(void)db;
	(void)name;
	s->wal_pages = pages;
	pthread_mutex_lock(&s->mu);
	if (pages < s->ckpt_frames)
		s->ckpt_frames = 0; /* the WAL started over */
	if (pages - s->ckpt_frames >= SQ_CKPT_PAGES && s->ckpt_running) {
		s->ckpt_wanted = true;
		pthread_cond_signal(&s->cv_ckpt);
	}
	pthread_mutex_unlock(&s->mu);
	return SQLITE_OK;
}

/* Between two batches: a WAL this long is checkpointed to its end by the writer itself (the
 * background checkpoints cannot catch up with a writer that never pauses, and the WAL only
 * starts over once everything in it is copied). Most of it is copied already. */
static void writer_checkpoint(struct sq_store *s)
{
	if (s->wal_pages < SQ_CKPT_RESTART)
		return;
	int log = 0, done = 0;
	if (sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
	    SQLITE_OK && log == done)
		s->wal_pages = 0;
}

static void *ckpt_main(void *arg)
{
	struct sq_store *s = arg;
	pthread_setname_np(pthread_self(), "lea-store-ckpt");
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->ckpt_wanted && !s->stop)
			pthread_cond_wait(&s->cv_ckpt, &s->mu);
		if (s->stop)
			break;
		s->ckpt_wanted = false;
		pthread_mutex_unlock(&s->mu);
		/* A failure here is not an error of anybody's delivery: the WAL holds every
		 * commit; the next checkpoint (or the close) copies it. */
		int log = 0, done = 0;
		sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		pthread_mutex_lock(&s->mu);
		if (done > 0)
			s->ckpt_frames = done;
		s->n_ckpt++;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int lea__sq_submit(struct sq_store *s, struct sq_job *j)
{
	if (s->read_only)
		return -EROFS;
	j->next = NULL;
	j->rc = 0;
	if (sem_init(&j->done, 0, 0))
		return -errno;
	pthread_mutex_lock(&s->mu);
	if (s->stop || s->broken) {
		int rc = s->broken ? s->broken : -ESHUTDOWN;
		pthread_mutex_unlock(&s->mu);
		sem_destroy(&j->done);
		return rc;
	}
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->cv_work);
	pthread_mutex_unlock(&s->mu);
	while (sem_wait(&j->done) && errno == EINTR)
		;
	sem_destroy(&j->done);
	return j->rc;
}

/* ---- read connections ---- */

static int open_db(const char *path, bool readonly, sqlite3 **out)
{
	int flags = SQLITE_OPEN_NOMUTEX | (readonly ? SQLITE_OPEN_READONLY
						   : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close(db);
		return lea__sq_err(rc);
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 10000);
	*out = db;
	return 0;
}

int lea__sq_read_get(struct sq_store *s, sqlite3 **out)
{
	pthread_mutex_lock(&s->rmu);
	if (s->n_rpool) {
		*out = s->rpool[--s->n_rpool];
		pthread_mutex_unlock(&s->rmu);
		return 0;
	}
	pthread_mutex_unlock(&s->rmu);
	int rc = open_db(s->dbpath, true, out);
	if (!rc &&
	    (rc = exec_sql(*out, "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;")) != 0) {
		sqlite3_close(*out); /* a damaged file fails here: the handle is not handed out */
		*out = NULL;
	}
	return rc;
}

void lea__sq_read_put(struct sq_store *s, sqlite3 *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&s->rmu);
	if (s->n_rpool < SQ_READ_POOL) {
		s->rpool[s->n_rpool++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&s->rmu);
	sqlite3_close(db);
}

/* ---- uploads in flight ---- */

int lea__sq_upload_add(struct sq_store *s, int64_t id, const char *dest)
{
	pthread_mutex_lock(&s->umu);
	int rc = 0;
	if (s->n_ups == s->cap_ups) {
		size_t cap = s->cap_ups ? s->cap_ups * 2 : 16;
		struct sq_upload *v = realloc(s->ups, cap * sizeof *v);
		if (!v) {
			rc = LI707_ENOMEM;
			goto out;
		}
		s->ups = v;
		s->cap_ups = cap;
	}
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
		rc = li707_fsync_dir(p);
	}
	if (!rc)
		rc = li707_fsync_dir(dir);
	if (rc)
		li707__errf(err, errlen, "store: cannot create %s: %s", p, li707_strerror(rc));
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
	return li707_fsync_dir(p);
}

static int take_lock(struct sq_store *s, char *err, size_t errlen)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/lock", s->o->dir);
	int rc = lea__store_mkdir(s->o->dir);
	if (rc) {
		li707__errf(err, errlen, "store: cannot create %s: %s", s->o->dir, li707_strerror(rc));
		return rc;
	}
	s->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		rc = -errno;
		li707__errf(err, errlen, "store: cannot open %s: %s", p, li707_strerror(rc));
		return rc;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		li707__errf(err, errlen, "store: %s is in use by another process", s->o->dir);
		return rc;
	}
	return 0;
}

/* Version 1 -> 2: the raw codec columns (existing rows are plain). */
static const char UPGRADE_1_2[] =
	"BEGIN IMMEDIATE;"
	"ALTER TABLE messages ADD COLUMN raw_codec INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN raw_size INTEGER;"
	"PRAGMA user_version = 2;"
	"COMMIT;";

static int create_schema(sqlite3 *db, char *err, size_t errlen)
{
	int64_t v = query_int(db, "PRAGMA user_version", -1);
	if (v == SQ_SCHEMA_VERSION)
		return 0;
	if (v == 1) {
		int rc = exec_sql(db, UPGRADE_1_2);
		if (rc) {
			li707__errf(err, errlen, "store: cannot upgrade the schema from version 1: %s",
				    sqlite3_errmsg(db));
			exec_sql(db, "ROLLBACK");
		}
		return rc;
	}
	if (v != 0) {
		li707__errf(err, errlen, "store: schema version %lld is not supported (this build: %d)",
			    (long long)v, SQ_SCHEMA_VERSION);
		return LI707_EINVAL;
	}
	char sql[sizeof SCHEMA + 128];
	snprintf(sql, sizeof sql, "BEGIN IMMEDIATE;%sPRAGMA user_version = %d;COMMIT;", SCHEMA,
		 SQ_SCHEMA_VERSION);
	int rc = exec_sql(db, sql);
	if (rc) {
		li707__errf(err, errlen, "store: cannot create the schema: %s", sqlite3_errmsg(db));
		exec_sql(db, "ROLLBACK");
	}
	return rc;
}

/* Uploads left RECEIVING by a crash go back to their previous state; a data file renamed
 * into place whose commit never happened is deleted; an orphan that never finished is
 * dropped. Counters follow. */
static int recover(struct sq_store *s)
{
	sqlite3_stmt *st = NULL;
	struct sq_unlinks un = {0};
	int rc = exec_sql(s->wdb, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	rc = lea__sq_err(sqlite3_prepare_v2(s->wdb,
		"SELECT id, ref, prev_state, dest FROM attachments WHERE state = 1", -1, &st, NULL));
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), ref = sqlite3_column_int64(st, 1);
		bool orphan_new = sqlite3_column_type(st, 2) == SQLITE_NULL;
		int prev = sqlite3_column_int(st, 2);
		rc = lea__sq_unlink_add(&un, s->o->dir, lea__sq_text(st, 3));
		if (!rc)
			rc = lea__sq_att_count(s, ref, LEA_ATT_RECEIVING, -1);
		if (!rc && !orphan_new)
			rc = lea__sq_att_count(s, ref, prev, +1);
		if (!rc) {
			sqlite3_stmt *u = s->st[orphan_new ? SQ_ATT_DEL : SQ_ATT_RESTORE];
			rc = lea__sq_bind(u, "i", id);
			if (!rc && sqlite3_step(u) != SQLITE_DONE)
				rc = lea__sq_err(sqlite3_errcode(s->wdb));
			lea__sq_done(u);
		}
	}
	sqlite3_finalize(st);
	rc = rc ? rc : exec_sql(s->wdb, "COMMIT");
	if (rc)
		exec_sql(s->wdb, "ROLLBACK");
	else
		lea__sq_unlinks_run(&un);
	lea__sq_unlinks_free(&un);
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
		rc = lea__sq_err(sqlite3_prepare_v3(s->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT,
						    &st[rows - 1], NULL));
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
		int rc = sqlite3_prepare_v3(s->wdb, STMTS[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
					    NULL);
		if (rc != SQLITE_OK) {
			li707__errf(err, errlen, "store: statement %d: %s", i, sqlite3_errmsg(s->wdb));
			return lea__sq_err(rc);
		}
	}
	int rc = prepare_multirows(s);
	if (rc)
		li707__errf(err, errlen, "store: parties statement: %s", sqlite3_errmsg(s->wdb));
	return rc;
}

/* Deferred sync (above): the WAL file exists once the writer has opened the database in
 * WAL mode; it is never replaced while a connection is open. */
static int start_syncer(struct sq_store *s, char *err, size_t errlen)
{
	char p[4200];
	snprintf(p, sizeof p, "%s-wal", s->dbpath);
	s->wal_fd = open(p, O_RDONLY | O_CLOEXEC);
	int rc = s->wal_fd < 0 ? -errno : exec_sql(s->wdb, "PRAGMA synchronous = NORMAL");
	if (!rc && (rc = -pthread_create(&s->syncer, NULL, sync_main, s)) == 0)
		s->syncer_running = true;
	if (rc)
		li707__errf(err, errlen, "store: cannot start the WAL sync: %s", li707_strerror(rc));
	return rc;
}

static int open_writer(struct sq_store *s, char *err, size_t errlen)
{
	int rc = take_lock(s, err, errlen);
	if (!rc)
		rc = make_dirs(s->o->dir, err, errlen);
	if (!rc && (rc = empty_tmp(s->o->dir)))
		li707__errf(err, errlen, "store: cannot empty %s/tmp: %s", s->o->dir, li707_strerror(rc));
	if (rc)
		return rc;
	if ((rc = open_db(s->dbpath, false, &s->wdb))) {
		li707__errf(err, errlen, "store: cannot open %s: %s", s->dbpath, li707_strerror(rc));
		return rc;
	}
	char pragmas[256];
	snprintf(pragmas, sizeof pragmas,
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA cache_size = -16384;"
		 " PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0;",
		 s->o->sync_normal ? "NORMAL" : "FULL");
	if (!(rc = exec_sql(s->wdb, pragmas)) && !journal_is_wal(s->wdb))
		rc = -EIO;
	if (rc) {
		li707__errf(err, errlen, "store: %s: %s", s->dbpath, sqlite3_errmsg(s->wdb));
		return rc;
	}
	if ((rc = create_schema(s->wdb, err, errlen)) || (rc = prepare_all(s, err, errlen)))
		return rc;
	if ((rc = recover(s))) {
		li707__errf(err, errlen, "store: recovery at open failed: %s", li707_strerror(rc));
		return rc;
	}
	s->next_att_id = query_int(s->wdb, "SELECT coalesce(max(id), 0) + 1 FROM attachments", 1);
	s->next_item_id = query_int(s->wdb, "SELECT coalesce(max(id), 0) + 1 FROM items", 1);
	s->orphans_maybe = true;
	if ((rc = open_db(s->dbpath, false, &s->cdb)) ||
	    (rc = exec_sql(s->cdb, s->o->sync_normal ? "PRAGMA synchronous = NORMAL"
						     : "PRAGMA synchronous = FULL"))) {
		li707__errf(err, errlen, "store: cannot open %s: %s", s->dbpath, li707_strerror(rc));
		return rc;
	}
	if ((rc = pthread_create(&s->ckpt, NULL, ckpt_main, s))) {
		li707__errf(err, errlen, "store: cannot start the checkpoint thread");
		return -rc;
	}
	s->ckpt_running = true;
	sqlite3_wal_hook(s->wdb, wal_hook, s);
	if (!s->o->sync_normal && (rc = start_syncer(s, err, errlen)))
		return rc;
	if ((rc = pthread_create(&s->writer, NULL, writer_main, s))) {
		li707__errf(err, errlen, "store: cannot start the writer thread");
		return -rc;
	}
	s->writer_running = true;
	return 0;
}

static int open_reader(struct sq_store *s, char *err, size_t errlen)
{
	if (access(s->dbpath, R_OK)) {
		int rc = -errno;
		li707__errf(err, errlen, "store: no store at %s: %s", s->o->dir, li707_strerror(rc));
		return rc;
	}
	sqlite3 *db = NULL;
	int rc = lea__sq_read_get(s, &db);
	if (rc) {
		li707__errf(err, errlen, "store: cannot open %s: %s", s->dbpath, li707_strerror(rc));
		return rc;
	}
	int64_t v = query_int(db, "PRAGMA user_version", -1);
	lea__sq_read_put(s, db);
	if (v == 1) {
		li707__errf(err, errlen, "store: %s has schema version 1: start li707-lea on it once "
			    "to upgrade it to version %d", s->dbpath, SQ_SCHEMA_VERSION);
		return LI707_EINVAL;
	}
	if (v <= 0) { /* an empty index, or one without li707's schema */
		li707__errf(err, errlen, "store: %s: %s (no schema version)", s->dbpath,
			    li707_strerror(LI707_EDAMAGED));
		return LI707_EDAMAGED;
	}
	if (v != SQ_SCHEMA_VERSION) {
		li707__errf(err, errlen, "store: %s: schema version %lld is not supported (this build: %d)",
			    s->dbpath, (long long)v, SQ_SCHEMA_VERSION);
		return LI707_EINVAL;
	}
	return 0;
}

static void sq_close(void *be);

/* Process-wide SQLite settings, before its first use (later calls are refused by SQLite,
 * harmlessly, when something else initialised it first): no memory statistics (they put a
 * global mutex around every allocation), and no mutex on each connection: every connection
 * of the store is used by one thread at a time (the writer's by the thread leading the
 * batch, a read connection by whoever took it from the pool). */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
}

static int sq_open(const struct lea_store_opts *o, void **be, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sqlite_setup);
	struct sq_store *s = calloc(1, sizeof *s);
	if (!s) {
		li707__errf(err, errlen, "store: out of memory");
		return LI707_ENOMEM;
	}
	s->o = o;
	s->read_only = o->read_only;
	s->lock_fd = -1;
	s->wal_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->rmu, NULL);
	pthread_mutex_init(&s->umu, NULL);
	pthread_cond_init(&s->cv_work, NULL);
	pthread_cond_init(&s->cv_ckpt, NULL);
	pthread_cond_init(&s->cv_sync, NULL);
	int n = snprintf(s->dbpath, sizeof s->dbpath, "%s/index.sqlite", o->dir);
	int rc = LI707_EINVAL;
	if (n < 0 || (size_t)n >= sizeof s->dbpath)
		li707__errf(err, errlen, "store: directory name too long");
	else
		rc = s->read_only ? open_reader(s, err, errlen) : open_writer(s, err, errlen);
	if (rc) {
		sq_close(s);
		return rc;
	}
	*be = s;
	return 0;
}

static void sq_close(void *be)
{
	struct sq_store *s = be;
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv_work);
	pthread_cond_signal(&s->cv_ckpt);
	pthread_mutex_unlock(&s->mu);
	if (s->writer_running)
		pthread_join(s->writer, NULL);
	pthread_mutex_lock(&s->mu);
	s->sync_stop = true;
	pthread_cond_signal(&s->cv_sync);
	pthread_mutex_unlock(&s->mu);
	if (s->syncer_running)
		pthread_join(s->syncer, NULL);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	if (s->ckpt_running)
		pthread_join(s->ckpt, NULL);
	sqlite3_close(s->cdb);
	for (int i = 0; i < SQ_NSTMT; i++)
		sqlite3_finalize(s->st[i]);
	for (int i = 0; i < SQ_PARTY_ROWS; i++)
		sqlite3_finalize(s->party_st[i]);
	for (int i = 0; i < SQ_ITEM_ROWS; i++)
		sqlite3_finalize(s->item_st[i]);
	lea__sq_refcache_clear(s, true);
	sqlite3_close(s->wdb);
	for (size_t i = 0; i < s->n_rpool; i++)
		sqlite3_close(s->rpool[i]);
	free(s->ups);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->rmu);
	pthread_mutex_destroy(&s->umu);
	pthread_cond_destroy(&s->cv_work);
	pthread_cond_destroy(&s->cv_ckpt);
	pthread_cond_destroy(&s->cv_sync);
	free(s);
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
};
