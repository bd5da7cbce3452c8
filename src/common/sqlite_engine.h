/* Group-commit SQLite engine shared by the daemons' durable stores (internal, not public).
 *
 * Prefix: `lx_` ("li707 internal, shared"): these names are neither the public `li707_` API
 * nor a daemon's own (`lea_`, `csp_`), so that a store built on the engine (the LEA's
 * index, the CSP's durable queue) can tell at a glance what it owns and what it borrows.
 *
 * What the engine is: one SQLite database in WAL mode, one writable opener per database
 * (flock on a lock file), a writer thread that runs every write as a job inside a group
 * commit, a sync thread that fdatasyncs the WAL before any job is acknowledged, a
 * checkpointer thread, a cache of the writer's prepared statements, and a small pool of
 * read-only connections. It knows nothing of the tables: the store above it gives the
 * schema (before lx_engine_start) and the jobs, and is called back through struct
 * lx_engine_hooks on the writer thread.
 *
 * Lifetime: lx_engine_open (lock, writer connection, WAL) -> the store creates its schema,
 * prepares its statements (lx_engine_prepare) and recovers, on its own thread, with
 * lx_engine_wdb -> lx_engine_start (threads) -> lx_engine_submit from any thread ->
 * lx_engine_close (drains: every queued job is run, committed, synced and answered).
 * A read-only open starts no thread, takes no lock and only lends read connections.
 *
 * Durability: lx_engine_submit returns 0 only after the transaction that carried the job was
 * committed and an fdatasync of the WAL that began after that COMMIT returned (unless the
 * opener asked for sync_normal). See docs/internals/store.md, "Group commit". */
#ifndef LX_COMMON_SQLITE_ENGINE_H
#define LX_COMMON_SQLITE_ENGINE_H

#include <semaphore.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_READ_POOL 4        /* idle read connections kept */
#define LX_BATCH_MAX 4096     /* jobs per transaction at most */
#define LX_UNLINKS_MAX ((size_t)1 << 20) /* files one job may delete after its commit */
#define LX_STMTS_MAX 1024     /* persistent statements prepared on the writer connection */
#define LX_CKPT_PAGES 4096    /* new WAL pages that wake the checkpointer (16 MiB of 4 KiB) */
#define LX_CKPT_RESTART 16384 /* WAL pages after which the writer finishes the checkpoint
			       * itself between two batches, so that the WAL starts over */

/* Files to delete once a job's transaction is durable (and only if the job succeeded). */
struct lx_unlinks {
	char **v;
	size_t n, cap;
};

/* Adds "dir/rel" to u (nothing when rel is NULL or empty). Returns 0, LI707_ELIMIT past
 * LX_UNLINKS_MAX files or LI707_ENOMEM. */
int lx_unlinks_add(struct lx_unlinks *u, const char *dir, const char *rel);
void lx_unlinks_run(const struct lx_unlinks *u);
void lx_unlinks_free(struct lx_unlinks *u);

/* A unit of work. The store embeds it in its own job struct (on the caller's stack) and
 * finds its struct again with container_of-style arithmetic in the run hook. */
struct lx_job {
	bool savepoint;             /* always run inside its own savepoint (else only when a
				     * failure made the writer run its transaction again) */
	int rc;                     /* the answer: 0, or a negative li707 code */
	struct lx_unlinks unlinks;  /* filled by the run hook; deleted after the commit */
	/* the engine's */
	sem_t done;
	struct lx_job *next;
};

/* Called on the writer thread, with the writer connection in a transaction. */
struct lx_engine_hooks {
	/* Runs j; returns 0 or a negative code. A job may run twice (its transaction was
	 * rolled back because another job failed): the hook starts by forgetting whatever an
	 * earlier run of j left behind. Required. */
	int (*run)(void *cls, struct lx_job *j);
	/* After each BEGIN. An error is every job's answer. Optional. */
	int (*batch_begin)(void *cls);
	/* j != NULL: j was rolled back to its savepoint after run returned rc; returns the
	 * answer j gets (rc, or 0 when the job's own result says how it failed). j == NULL: the
	 * whole transaction was rolled back (run again carefully, or its COMMIT failed): state
	 * the store keeps beside the database must follow. Optional. */
	int (*rollback)(void *cls, struct lx_job *j, int rc);
	/* Just before the COMMIT; batch lists the jobs of the transaction (j->rc != 0: rolled
	 * back). An error makes the whole transaction fail. Optional. */
	int (*before_commit)(void *cls, struct lx_job *batch);
	/* After the COMMIT (rc 0) or its failure (rc, every job's answer), before the sync:
	 * per-batch state is released here. Optional. */
	void (*batch_end)(void *cls, struct lx_job *batch, int rc);
};

struct lx_metric;

struct lx_engine_opts {
	const char *dbpath;         /* the database file (created when writable) */
	const char *lock_path;      /* writable: flock()ed, created 0600; its directory exists */
	const char *name;           /* thread names NAME-w, NAME-sync, NAME-ckpt (at most 9
				     * characters of it are used) */
	bool read_only;
	bool sync_normal;           /* benchmarks: answered after the COMMIT, before any fsync */
	const struct lx_engine_hooks *hooks; /* writable opens */
	void *cls;                  /* handed to the hooks */
	/* a histogram (metrics.h) of the time each lx_engine_submit waits for its answer:
	 * queue, run, commit and fdatasync (what a caller waiting for durability sees), or NULL */
	struct lx_metric *commit_seconds;
};

struct lx_engine;
struct lx_metric; /* metrics.h */

struct lx_engine_stats {
	uint64_t batches, jobs, syncs, checkpoints;
	int broken;          /* the first commit/fdatasync error: writes fail until reopened */
	bool writable;       /* a writer is running and the engine is not broken */
};

/* Writable: takes the lock (-EBUSY when another process holds it, with a message naming
 * the lock file), opens the writer connection in WAL mode with wal_autocheckpoint off.
 * Read-only: checks the file is readable. o's strings are copied. On failure err says why. */
int lx_engine_open(const struct lx_engine_opts *o, struct lx_engine **out, char *err,
		   size_t errlen);
/* The writer connection: the opener's own until lx_engine_start, the writer thread's after. */
sqlite3 *lx_engine_wdb(struct lx_engine *e);
/* Prepares a persistent statement on the writer connection; the engine finalizes it at
 * close. For the opener before lx_engine_start (the hooks use the statements after), or on
 * the writer thread inside a job. The same SQL text again returns the statement already
 * prepared (reset, bindings cleared), so preparing in every job does not accumulate. */
int lx_engine_prepare(struct lx_engine *e, const char *sql, sqlite3_stmt **out);
/* Starts the checkpointer, the sync thread (unless sync_normal) and the writer. */
int lx_engine_start(struct lx_engine *e, char *err, size_t errlen);
/* Queues j and sleeps until it is answered. Returns j->rc: 0 when j's changes are durable;
 * -EROFS on a read-only engine, -ESHUTDOWN while closing, the first sync error for good after
 * a failed fdatasync. */
int lx_engine_submit(struct lx_engine *e, struct lx_job *j);
/* Every write job queued is answered first. Finalizes the statements, closes the
 * connections, releases the lock. NULL is a no-op. */
void lx_engine_close(struct lx_engine *e);
void lx_engine_stats(struct lx_engine *e, struct lx_engine_stats *out);

/* A read-only connection from the pool (opened when the pool is empty), and back. A
 * connection closed (pool full, engine closed) has its statements finalized first. */
int lx_engine_read_get(struct lx_engine *e, sqlite3 **out);
void lx_engine_read_put(struct lx_engine *e, sqlite3 *db);
/* A statement on read connection db (one from lx_engine_read_get), prepared once per SQL text
 * and connection: the same text again on the same connection returns the statement already
 * prepared (reset, bindings cleared) unless it is in use (busy). At most LX_READ_STMTS stay
 * prepared per connection: beyond, the idle ones are finalized first. The caller never
 * finalizes it: it gives it back with lx_engine_read_done (reset, bindings cleared, so no
 * read transaction stays open). */
#define LX_READ_STMTS 64
int lx_engine_read_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);
void lx_engine_read_done(sqlite3_stmt *st);

/* ---- SQLite helpers ---- */

/* SQLite result code to 0 or a negative li707 code (-errno for OS-like conditions). */
int lx_sq_err(int sqlite_rc);
/* Binds values to st from a format: 'i' int64_t, 'u' uint64_t (as int64), 't' const char *
 * (NULL binds NULL), 'b' const void *, size_t (blob), 'n' NULL, 'x' left as it is. */
int lx_sq_bind(sqlite3_stmt *st, const char *fmt, ...);
/* Resets and clears st. */
void lx_sq_done(sqlite3_stmt *st);
/* Column text or NULL. */
const char *lx_sq_text(sqlite3_stmt *st, int col);
/* Steps a statement whose rows are ignored, resets it (bindings kept). */
int lx_sq_exec(sqlite3_stmt *st);
/* Steps a statement whose row is ignored, resets and clears it. */
int lx_sq_step_done(sqlite3_stmt *st);
/* Steps a one-column integer query, then resets and clears it: 1 and *v when a row came,
 * 0 when none, or an error. */
int lx_sq_step_int(sqlite3_stmt *st, int64_t *v);
/* sqlite3_exec without callback. */
int lx_sq_exec_sql(sqlite3 *db, const char *sql);
/* The first column of the first row of sql, or dflt. */
int64_t lx_sq_query_int(sqlite3 *db, const char *sql, int64_t dflt);

#endif
