/* Group-commit SQLite engine: the lock, the writer thread, the deferred WAL sync, the
 * checkpointer, the statement cache and the read-connection pool (sqlite_engine.h).
 *
 * DESIGN. One writer thread owns the writer connection. A caller builds a job on its stack,
 * queues it (lx_engine_submit) and sleeps on its semaphore; the writer takes every job
 * queued (up to LX_BATCH_MAX) and runs it in its open transaction (BEGIN IMMEDIATE first
 * when none is open): a job without savepoint unless it asks for one; if one fails, the
 * whole transaction is rolled back and run again with each job inside SAVEPOINT j (the
 * failing one rolls back alone and gets its error; the others go on). The transaction is
 * committed (synchronous=NORMAL) when the sync thread is free, then handed to it: it
 * fdatasyncs the WAL and only then answers the callers, so a caller that sees 0 has its rows
 * on disk; if the COMMIT or the fdatasync fails, every job of the batch gets the error and
 * nothing of it is acknowledged. Files to delete because of a job are deleted once its batch
 * is durable. The store above is called back on the writer thread (struct lx_engine_hooks).
 * See docs/internals/store.md, "Group commit". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "li707/li707.h"
#include "sqlite_engine.h"
#include "metrics.h"

struct lx_engine {
	char *dbpath, *lock_path;
	char name[10];
	bool read_only, sync_normal;
	struct lx_metric *commit_seconds; /* or NULL */
	const struct lx_engine_hooks *hooks;
	void *cls;
	int lock_fd;                       /* flock (writable opens) */

	/* writer */
	sqlite3 *wdb;
	sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_sp, *st_rb, *st_rel;
	sqlite3_stmt **stmts;              /* every persistent statement, finalized at close */
	size_t n_stmts, cap_stmts;
	pthread_t writer;
	bool writer_running;
	pthread_mutex_t mu;
	pthread_cond_t cv_work;
	struct lx_job *head, *tail;
	bool stop;
	uint64_t n_batches, n_jobs;

	/* syncer: fdatasync of the WAL for the batches the writer committed ("Deferred sync"
	 * below); absent with sync_normal */
	int wal_fd;
	pthread_t syncer;
	bool syncer_running;
	struct lx_job *sync_head, *sync_tail; /* committed, waiting for the sync (under mu) */
	bool sync_stop;
	bool syncing;                      /* an fdatasync is under way (under mu) */
	pthread_cond_t cv_sync;
	int broken;                        /* a failed WAL sync: every later write fails */
	uint64_t n_syncs;

	/* checkpointer: its own connection, PASSIVE checkpoints off the commit path */
	sqlite3 *cdb;
	pthread_t ckpt;
	bool ckpt_running;
	bool ckpt_wanted;                  /* under mu */
	int wal_pages;                     /* after the last commit (writer thread) */
	int ckpt_frames;                   /* frames the last checkpoint copied (under mu) */
	pthread_cond_t cv_ckpt;
	uint64_t n_ckpt;

	/* reads */
	pthread_mutex_t rmu;
	sqlite3 *rpool[LX_READ_POOL];
	size_t n_rpool;
};

/* ---- SQLite helpers ---- */

int lx_sq_err(int rc)
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

int lx_sq_bind(sqlite3_stmt *st, const char *fmt, ...)
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
	return lx_sq_err(rc);
}

void lx_sq_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

const char *lx_sq_text(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

int lx_sq_exec(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : lx_sq_err(rc);
}

int lx_sq_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : lx_sq_err(rc);
	lx_sq_done(st);
	return rc;
}

int lx_sq_step_int(sqlite3_stmt *st, int64_t *v)
{
	int rc = sqlite3_step(st);
	int out = 0;
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		out = 1;
	} else if (rc != SQLITE_DONE) {
		out = lx_sq_err(rc);
	}
	lx_sq_done(st);
	return out;
}

int lx_sq_exec_sql(sqlite3 *db, const char *sql)
{
	return lx_sq_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int64_t lx_sq_query_int(sqlite3 *db, const char *sql, int64_t dflt)
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

int lx_unlinks_add(struct lx_unlinks *u, const char *dir, const char *rel)
{
	if (!rel || !rel[0])
		return 0;
	int rc = li707_array_grow((void **)&u->v, &u->cap, u->n + 1, sizeof *u->v, LX_UNLINKS_MAX);
	if (rc)
		return rc;
	size_t len = strlen(dir) + strlen(rel) + 2;
	char *p = malloc(len);
	if (!p)
		return LI707_ENOMEM;
	snprintf(p, len, "%s/%s", dir, rel);
	u->v[u->n++] = p;
	return 0;
}

void lx_unlinks_run(const struct lx_unlinks *u)
{
	for (size_t i = 0; i < u->n; i++)
		unlink(u->v[i]);
}

void lx_unlinks_free(struct lx_unlinks *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->v[i]);
	free(u->v);
	u->v = NULL;
	u->n = u->cap = 0;
}

/* ---- the writer thread ---- */

/* Runs the jobs of a batch inside its transaction. careful: each job in its own savepoint
 * (one that fails is undone alone and gets its error). Otherwise a job that does not ask for
 * a savepoint runs without one (two statements less per job) and the first failure returns
 * its error at once: the caller rolls the whole transaction back and runs the batch again
 * carefully. */
static int run_jobs(struct lx_engine *e, struct lx_job *batch, bool careful)
{
	for (struct lx_job *j = batch; j; j = j->next) {
		lx_unlinks_free(&j->unlinks);
		j->rc = 0;
		bool sp = careful || j->savepoint;
		int jrc = sp ? lx_sq_exec(e->st_sp) : 0;
		if (!jrc)
			jrc = e->hooks->run(e->cls, j);
		if (jrc && !sp)
			return jrc;
		if (jrc) {
			/* Only this job is undone; its post-commit deletions are dropped. */
			lx_sq_exec(e->st_rb);
			lx_unlinks_free(&j->unlinks);
			if (e->hooks->rollback)
				jrc = e->hooks->rollback(e->cls, j, jrc);
		}
		if (sp)
			lx_sq_exec(e->st_rel);
		j->rc = jrc;
	}
	return 0;
}

/* The transaction the writer has open: the jobs already run in it, not yet committed. */
struct lx_open {
	struct lx_job *head, *tail;
	size_t n;
	bool in_tx;
	bool hooked;                       /* batch_begin was called: rollback(NULL) follows */
	int rc;                            /* BEGIN failed: every job gets it */
};

static int begin_batch(struct lx_engine *e, struct lx_open *t)
{
	int rc = lx_sq_exec(e->st_begin);
	if (!rc && e->hooks->batch_begin) {
		t->hooked = true;
		rc = e->hooks->batch_begin(e->cls);
	}
	return rc;
}

static void whole_rollback(struct lx_engine *e, struct lx_open *t, int rc)
{
	if (!sqlite3_get_autocommit(e->wdb))
		lx_sq_exec(e->st_rollback);
	if (t->hooked && e->hooks->rollback)
		e->hooks->rollback(e->cls, NULL, rc);
}

/* Runs the queued jobs of chunk inside the open transaction (BEGIN first when none is). If
 * a job fails without its savepoint, everything of the transaction is rolled back and run
 * again, each job in its savepoint. */
static void tx_run(struct lx_engine *e, struct lx_open *t, struct lx_job *chunk,
		   struct lx_job *last, size_t n)
{
	if (!t->in_tx) {
		t->in_tx = true;
		t->rc = begin_batch(e, t);
	}
	if (t->tail)
		t->tail->next = chunk;
	else
		t->head = chunk;
	t->tail = last;
	t->n += n;
	int rc;
	if (!t->rc && (rc = run_jobs(e, chunk, false))) {
		whole_rollback(e, t, rc);
		t->rc = begin_batch(e, t);
		if (!t->rc)
			run_jobs(e, t->head, true);
	}
	if (t->rc)
		for (struct lx_job *j = t->head; j; j = j->next)
			j->rc = t->rc;
}

/* Commits the open transaction (before_commit first). If any of it fails, nothing of the
 * batch is durable and every job gets the error. */
static void tx_commit(struct lx_engine *e, struct lx_open *t)
{
	int rc = t->rc;
	if (!rc && e->hooks->before_commit)
		rc = e->hooks->before_commit(e->cls, t->head);
	if (!rc)
		rc = lx_sq_exec(e->st_commit);
	if (rc)
		whole_rollback(e, t, rc);
	if (rc)
		for (struct lx_job *j = t->head; j; j = j->next)
			j->rc = rc; /* nothing of the batch is durable: nothing is acknowledged */
	if (e->hooks->batch_end)
		e->hooks->batch_end(e->cls, t->head, rc);
}

/* The batch is durable (or failed with sync_rc): post-commit deletions, then the callers.
 * Each caller sleeps on its job's semaphore, posted without holding mu (a woken caller
 * does not then wait for the mutex the completing thread still holds). The post is the
 * last access to a job: its caller may return and its stack frame (the job) vanish at
 * once, which POSIX allows for a semaphore (no access after the post makes it available). */
static void complete_jobs(struct lx_job *jobs, int sync_rc)
{
	for (struct lx_job *j = jobs, *nx; j; j = nx) {
		nx = j->next; /* read before the post */
		if (sync_rc && !j->rc)
			j->rc = sync_rc;
		if (!j->rc)
			lx_unlinks_run(&j->unlinks);
		lx_unlinks_free(&j->unlinks);
		sem_post(&j->done);
	}
}

static void thread_name(const struct lx_engine *e, const char *suffix)
{
	char n[16];
	snprintf(n, sizeof n, "%s-%s", e->name, suffix);
	pthread_setname_np(pthread_self(), n);
}

/* ---- Deferred sync ----
 * The writer commits with synchronous=NORMAL: the WAL frames of the batch, its commit frame
 * included, are written to the WAL file but not fsync'd, and the writer goes on with the
 * next batch at once. This thread fdatasyncs the WAL file and only then answers the callers
 * of every batch committed before the fdatasync began: what they are told is stored is in
 * the WAL on disk, as with synchronous=FULL, but the fsync of one batch overlaps the work of
 * the next, and one fdatasync covers every batch committed meanwhile. (SQLite syncs a new
 * WAL header itself, and its checkpoints sync the WAL before copying it, in NORMAL mode as
 * in FULL.) If an fdatasync fails, the engine is broken: those callers and every later write
 * get the error, until it is opened again (recovery replays what is really in the WAL). */
static void *sync_main(void *arg)
{
	struct lx_engine *e = arg;
	thread_name(e, "sync");
	pthread_mutex_lock(&e->mu);
	for (;;) {
		while (!e->sync_head && !e->sync_stop)
			pthread_cond_wait(&e->cv_sync, &e->mu);
		if (!e->sync_head)
			break;
		struct lx_job *jobs = e->sync_head;
		e->sync_head = e->sync_tail = NULL;
		e->syncing = true;
		int rc = e->broken;
		pthread_mutex_unlock(&e->mu);
		if (!rc && fdatasync(e->wal_fd))
			rc = -errno;
		pthread_mutex_lock(&e->mu);
		if (rc && !e->broken)
			e->broken = rc;
		e->n_syncs++;
		e->syncing = false;
		pthread_cond_signal(&e->cv_work); /* the writer may commit what it holds */
		pthread_mutex_unlock(&e->mu);
		complete_jobs(jobs, rc);
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static void writer_checkpoint(struct lx_engine *e);

/* The writer commits its open transaction when the sync thread can take it at once (or
 * without a sync thread, or when the batch is full, or at close). While an fdatasync is
 * under way, the jobs that arrive are run into the open transaction as they come, and
 * committed together when it ends: their callers could not be answered before the next
 * fdatasync anyway, and one commit of many jobs writes the pages they share (page 1, the
 * counters, the last leaves of each table and index) once instead of once per job. */
static bool commit_now(const struct lx_engine *e, const struct lx_open *t)
{
	return t->n && (!e->syncer_running || (!e->syncing && !e->sync_head) || e->stop ||
			t->n >= LX_BATCH_MAX);
}

static void *writer_main(void *arg)
{
	struct lx_engine *e = arg;
	struct lx_open t = {0};
	thread_name(e, "w");
	pthread_mutex_lock(&e->mu);
	for (;;) {
		while (!(e->head && t.n < LX_BATCH_MAX) && !commit_now(e, &t) && !e->stop)
			pthread_cond_wait(&e->cv_work, &e->mu);
		if (!e->head && !t.n)
			break; /* stop, nothing left */
		struct lx_job *chunk = NULL, *last = NULL;
		size_t n = 0;
		if (e->head && t.n < LX_BATCH_MAX) {
			chunk = last = e->head;
			n = 1;
			while (last->next && t.n + n < LX_BATCH_MAX) {
				last = last->next;
				n++;
			}
			e->head = last->next;
			if (!e->head)
				e->tail = NULL;
			last->next = NULL;
		}
		pthread_mutex_unlock(&e->mu);
		if (chunk)
			tx_run(e, &t, chunk, last, n);
		pthread_mutex_lock(&e->mu);
		if (!commit_now(e, &t))
			continue;
		pthread_mutex_unlock(&e->mu);

		tx_commit(e, &t);
		if (e->syncer_running) {
			pthread_mutex_lock(&e->mu);
			if (e->sync_tail)
				e->sync_tail->next = t.head;
			else
				e->sync_head = t.head;
			e->sync_tail = t.tail;
			pthread_cond_signal(&e->cv_sync);
			pthread_mutex_unlock(&e->mu);
		} else {
			complete_jobs(t.head, 0);
		}
		size_t done = t.n;
		t = (struct lx_open){0};
		writer_checkpoint(e); /* between batches */
		pthread_mutex_lock(&e->mu);
		e->n_batches++;
		e->n_jobs += done;
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* ---- the checkpointer ----
 * The writer connection does not checkpoint (wal_autocheckpoint = 0): a checkpoint copies
 * pages into the database file and fsyncs it, which would hold up the commit (and so every
 * caller of the batch). After a commit that leaves LX_CKPT_PAGES or more in the WAL, the
 * writer wakes this thread, which runs a PASSIVE checkpoint on its own connection beside the
 * writer (WAL lets both run at once); the writer restarts the WAL from the beginning once a
 * checkpoint has copied everything. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct lx_engine *e = arg;
	(void)db;
	(void)name;
	e->wal_pages = pages;
	pthread_mutex_lock(&e->mu);
	if (pages < e->ckpt_frames)
		e->ckpt_frames = 0; /* the WAL started over */
	if (pages - e->ckpt_frames >= LX_CKPT_PAGES && e->ckpt_running) {
		e->ckpt_wanted = true;
		pthread_cond_signal(&e->cv_ckpt);
	}
	pthread_mutex_unlock(&e->mu);
	return SQLITE_OK;
}

/* Between two batches: a WAL this long is checkpointed to its end by the writer itself (the
 * background checkpoints cannot catch up with a writer that never pauses, and the WAL only
 * starts over once everything in it is copied). Most of it is copied already. */
static void writer_checkpoint(struct lx_engine *e)
{
	if (e->wal_pages < LX_CKPT_RESTART)
		return;
	int log = 0, done = 0;
	if (sqlite3_wal_checkpoint_v2(e->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
	    SQLITE_OK && log == done)
		e->wal_pages = 0;
}

static void *ckpt_main(void *arg)
{
	struct lx_engine *e = arg;
	thread_name(e, "ckpt");
	pthread_mutex_lock(&e->mu);
	for (;;) {
		while (!e->ckpt_wanted && !e->stop)
			pthread_cond_wait(&e->cv_ckpt, &e->mu);
		if (e->stop)
			break;
		e->ckpt_wanted = false;
		pthread_mutex_unlock(&e->mu);
		/* A failure here is not an error of anybody's job: the WAL holds every commit;
		 * the next checkpoint (or the close) copies it. */
		int log = 0, done = 0;
		sqlite3_wal_checkpoint_v2(e->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		pthread_mutex_lock(&e->mu);
		if (done > 0)
			e->ckpt_frames = done;
		e->n_ckpt++;
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int lx_engine_submit(struct lx_engine *e, struct lx_job *j)
{
	if (e->read_only || !e->writer_running)
		return -EROFS;
	j->next = NULL;
	j->rc = 0;
	if (sem_init(&j->done, 0, 0))
		return -errno;
	struct timespec t0;
	if (e->commit_seconds)
		clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&e->mu);
	if (e->stop || e->broken) {
		int rc = e->broken ? e->broken : -ESHUTDOWN;
		pthread_mutex_unlock(&e->mu);
		sem_destroy(&j->done);
		return rc;
	}
	if (e->tail)
		e->tail->next = j;
	else
		e->head = j;
	e->tail = j;
	pthread_cond_signal(&e->cv_work);
	pthread_mutex_unlock(&e->mu);
	while (sem_wait(&j->done) && errno == EINTR)
		;
	sem_destroy(&j->done);
	if (e->commit_seconds) {
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		lx_metric_observe(e->commit_seconds, (double)(t1.tv_sec - t0.tv_sec) +
							     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	return j->rc;
}

/* ---- connections ---- */

static int open_db(const char *path, bool readonly, sqlite3 **out)
{
	int flags = SQLITE_OPEN_NOMUTEX | (readonly ? SQLITE_OPEN_READONLY
						   : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close(db);
		return lx_sq_err(rc);
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 10000);
	*out = db;
	return 0;
}

int lx_engine_read_get(struct lx_engine *e, sqlite3 **out)
{
	pthread_mutex_lock(&e->rmu);
	if (e->n_rpool) {
		*out = e->rpool[--e->n_rpool];
		pthread_mutex_unlock(&e->rmu);
		return 0;
	}
	pthread_mutex_unlock(&e->rmu);
	sqlite3 *db = NULL;
	int rc = open_db(e->dbpath, true, &db);
	if (!rc && (rc = lx_sq_exec_sql(db, "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;"))) {
		sqlite3_close(db);
		return rc;
	}
	if (!rc)
		*out = db;
	return rc;
}

/* Closes a read connection with the statements lx_engine_read_prepare left on it. */
static void read_close(sqlite3 *db)
{
	sqlite3_stmt *st;
	while (db && (st = sqlite3_next_stmt(db, NULL)))
		sqlite3_finalize(st);
	sqlite3_close(db);
}

void lx_engine_read_put(struct lx_engine *e, sqlite3 *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&e->rmu);
	if (e->n_rpool < LX_READ_POOL) {
		e->rpool[e->n_rpool++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&e->rmu);
	read_close(db);
}

int lx_engine_read_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
	if (!db || !sql || !out)
		return LI707_EINVAL;
	size_t n = 0;
	for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st)) {
		n++;
		const char *t = sqlite3_sql(st);
		if (!sqlite3_stmt_busy(st) && t && strcmp(t, sql) == 0) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			*out = st;
			return 0;
		}
	}
	if (n >= LX_READ_STMTS) { /* bounded: the idle ones go, the busy ones are in use */
		sqlite3_stmt *st = sqlite3_next_stmt(db, NULL);
		while (st) {
			sqlite3_stmt *nx = sqlite3_next_stmt(db, st);
			if (!sqlite3_stmt_busy(st))
				sqlite3_finalize(st);
			st = nx;
		}
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return lx_sq_err(rc);
	}
	if (!st) /* empty SQL */
		return LI707_EINVAL;
	*out = st;
	return 0;
}

void lx_engine_read_done(sqlite3_stmt *st)
{
	if (!st)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int lx_engine_prepare(struct lx_engine *e, const char *sql, sqlite3_stmt **out)
{
	/* Prepared once per SQL text: a caller preparing the same statement in every job (the
	 * CSP store does) gets the one already prepared, reset with its bindings cleared,
	 * instead of a new one each time until LX_STMTS_MAX refuses every further job. */
	for (size_t i = 0; i < e->n_stmts; i++) {
		const char *t = sqlite3_sql(e->stmts[i]);
		if (t && strcmp(t, sql) == 0) {
			sqlite3_reset(e->stmts[i]);
			sqlite3_clear_bindings(e->stmts[i]);
			*out = e->stmts[i];
			return 0;
		}
	}
	int rc = li707_array_grow((void **)&e->stmts, &e->cap_stmts, e->n_stmts + 1,
				  sizeof *e->stmts, LX_STMTS_MAX);
	if (rc)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v3(e->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return lx_sq_err(rc);
	}
	e->stmts[e->n_stmts++] = st;
	*out = st;
	return 0;
}

sqlite3 *lx_engine_wdb(struct lx_engine *e)
{
	return e->wdb;
}

void lx_engine_stats(struct lx_engine *e, struct lx_engine_stats *out)
{
	pthread_mutex_lock(&e->mu);
	*out = (struct lx_engine_stats){.batches = e->n_batches, .jobs = e->n_jobs,
					.syncs = e->n_syncs, .checkpoints = e->n_ckpt,
					.broken = e->broken,
					.writable = !e->read_only && e->writer_running && !e->broken &&
						    !e->stop};
	pthread_mutex_unlock(&e->mu);
}

/* ---- open, start, close ---- */

static int take_lock(struct lx_engine *e, char *err, size_t errlen)
{
	int rc;
	e->lock_fd = open(e->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (e->lock_fd < 0) {
		rc = -errno;
		lx_errf(err, errlen, "store: cannot open %s: %s", e->lock_path, li707_strerror(rc));
		return rc;
	}
	if (flock(e->lock_fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		const char *slash = strrchr(e->lock_path, '/');
		int dirlen = slash ? (int)(slash - e->lock_path) : (int)strlen(e->lock_path);
		if (rc == -EBUSY) /* named by the lock file's directory: the store's */
			lx_errf(err, errlen, "store: %.*s is in use by another process", dirlen,
				    e->lock_path);
		else
			lx_errf(err, errlen, "store: cannot lock %s: %s", e->lock_path,
				    li707_strerror(rc));
		return rc;
	}
	return 0;
}

static int open_writer(struct lx_engine *e, char *err, size_t errlen)
{
	int rc = take_lock(e, err, errlen);
	if (rc)
		return rc;
	if ((rc = open_db(e->dbpath, false, &e->wdb))) {
		lx_errf(err, errlen, "store: cannot open %s: %s", e->dbpath, li707_strerror(rc));
		return rc;
	}
	char pragmas[256];
	snprintf(pragmas, sizeof pragmas,
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA cache_size = -16384;"
		 " PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0;",
		 e->sync_normal ? "NORMAL" : "FULL");
	if (!(rc = lx_sq_exec_sql(e->wdb, pragmas)) && !journal_is_wal(e->wdb))
		rc = -EIO;
	if (rc)
		lx_errf(err, errlen, "store: %s: %s", e->dbpath, sqlite3_errmsg(e->wdb));
	return rc;
}

/* Process-wide SQLite settings, before its first use (later calls are refused by SQLite,
 * harmlessly, when something else initialised it first): no memory statistics (they put a
 * global mutex around every allocation), and no mutex on each connection: every connection
 * of the engine is used by one thread at a time (the writer's by the opener until
 * lx_engine_start and by the writer thread after, the checkpointer's by its thread, a read
 * connection by whoever took it from the pool). */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
}

int lx_engine_open(const struct lx_engine_opts *o, struct lx_engine **out, char *err,
		   size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sqlite_setup);
	if (!o->dbpath || (!o->read_only && (!o->lock_path || !o->hooks || !o->hooks->run))) {
		lx_errf(err, errlen, "store: engine options incomplete");
		return LI707_EINVAL;
	}
	struct lx_engine *e = calloc(1, sizeof *e);
	if (!e) {
		lx_errf(err, errlen, "store: out of memory");
		return LI707_ENOMEM;
	}
	e->read_only = o->read_only;
	e->sync_normal = o->sync_normal;
	e->commit_seconds = o->commit_seconds;
	e->hooks = o->hooks;
	e->cls = o->cls;
	e->lock_fd = -1;
	e->wal_fd = -1;
	snprintf(e->name, sizeof e->name, "%s", o->name ? o->name : "lx");
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->rmu, NULL);
	pthread_cond_init(&e->cv_work, NULL);
	pthread_cond_init(&e->cv_ckpt, NULL);
	pthread_cond_init(&e->cv_sync, NULL);
	int rc = 0;
	e->dbpath = strdup(o->dbpath);
	if (o->lock_path && !(e->lock_path = strdup(o->lock_path)))
		rc = LI707_ENOMEM;
	if (!e->dbpath)
		rc = LI707_ENOMEM;
	if (rc)
		lx_errf(err, errlen, "store: out of memory");
	else if (!e->read_only)
		rc = open_writer(e, err, errlen);
	if (rc) {
		lx_engine_close(e);
		return rc;
	}
	*out = e;
	return 0;
}

static int start_syncer(struct lx_engine *e, char *err, size_t errlen)
{
	/* The WAL file exists once the writer connection is in WAL mode; it is never replaced
	 * while a connection is open. */
	char p[4200];
	snprintf(p, sizeof p, "%s-wal", e->dbpath);
	e->wal_fd = open(p, O_RDONLY | O_CLOEXEC);
	int rc = e->wal_fd < 0 ? -errno : lx_sq_exec_sql(e->wdb, "PRAGMA synchronous = NORMAL");
	if (!rc && (rc = -pthread_create(&e->syncer, NULL, sync_main, e)) == 0)
		e->syncer_running = true;
	if (rc)
		lx_errf(err, errlen, "store: cannot start the WAL sync: %s", li707_strerror(rc));
	return rc;
}

int lx_engine_start(struct lx_engine *e, char *err, size_t errlen)
{
	if (e->read_only || e->writer_running)
		return LI707_EINVAL;
	int rc;
	if ((rc = lx_engine_prepare(e, "BEGIN IMMEDIATE", &e->st_begin)) ||
	    (rc = lx_engine_prepare(e, "COMMIT", &e->st_commit)) ||
	    (rc = lx_engine_prepare(e, "ROLLBACK", &e->st_rollback)) ||
	    (rc = lx_engine_prepare(e, "SAVEPOINT j", &e->st_sp)) ||
	    (rc = lx_engine_prepare(e, "ROLLBACK TO j", &e->st_rb)) ||
	    (rc = lx_engine_prepare(e, "RELEASE j", &e->st_rel))) {
		lx_errf(err, errlen, "store: %s", sqlite3_errmsg(e->wdb));
		return rc;
	}
	if ((rc = open_db(e->dbpath, false, &e->cdb)) ||
	    (rc = lx_sq_exec_sql(e->cdb, e->sync_normal ? "PRAGMA synchronous = NORMAL"
							: "PRAGMA synchronous = FULL"))) {
		lx_errf(err, errlen, "store: cannot open %s: %s", e->dbpath, li707_strerror(rc));
		return rc;
	}
	if ((rc = pthread_create(&e->ckpt, NULL, ckpt_main, e))) {
		lx_errf(err, errlen, "store: cannot start the checkpoint thread");
		return -rc;
	}
	e->ckpt_running = true;
	sqlite3_wal_hook(e->wdb, wal_hook, e);
	if (!e->sync_normal && (rc = start_syncer(e, err, errlen)))
		return rc;
	if ((rc = pthread_create(&e->writer, NULL, writer_main, e))) {
		lx_errf(err, errlen, "store: cannot start the writer thread");
		return -rc;
	}
	e->writer_running = true;
	return 0;
}

void lx_engine_close(struct lx_engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	pthread_cond_signal(&e->cv_work);
	pthread_cond_signal(&e->cv_ckpt);
	pthread_mutex_unlock(&e->mu);
	if (e->writer_running)
		pthread_join(e->writer, NULL);
	pthread_mutex_lock(&e->mu);
	e->sync_stop = true;
	pthread_cond_signal(&e->cv_sync);
	pthread_mutex_unlock(&e->mu);
	if (e->syncer_running)
		pthread_join(e->syncer, NULL);
	if (e->wal_fd >= 0)
		close(e->wal_fd);
	if (e->ckpt_running)
		pthread_join(e->ckpt, NULL);
	sqlite3_close(e->cdb);
	for (size_t i = 0; i < e->n_stmts; i++)
		sqlite3_finalize(e->stmts[i]);
	free(e->stmts);
	sqlite3_close(e->wdb);
	for (size_t i = 0; i < e->n_rpool; i++)
		read_close(e->rpool[i]);
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->rmu);
	pthread_cond_destroy(&e->cv_work);
	pthread_cond_destroy(&e->cv_ckpt);
	pthread_cond_destroy(&e->cv_sync);
	free(e->dbpath);
	free(e->lock_path);
	free(e);
}
