/* li707-lea - SQLite backend of the store, shared by store_sqlite*.c (internal).
 *
 * store_sqlite.c        open/close, schema, recovery at open, the writer thread (group
 *                       commit), statement cache, read-connection pool
 * store_sqlite_put.c    the put job (deliveries, items, parties, attachments, CSP schemas,
 *                       counters summed per batch), the job dispatch
 * store_sqlite_modelb.c the Model B jobs (upload begin/finish/abort, sweep) and their
 *                       callers' side
 * store_sqlite_query.c  list, item, status, gaps (read connections)
 *
 * Threads: every write runs on the writer thread, on the writer connection (wdb) and its
 * prepared statements (st[]); callers enqueue a struct sq_job and sleep until the batch that
 * carried it is committed. Reads take a connection from the pool (sq_read_get/put). */
#ifndef LI707_LEA_STORE_SQLITE_INT_H
#define LI707_LEA_STORE_SQLITE_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store_int.h"

/* Schema versions: 1 kept messages.raw as received; 2 adds raw_codec and raw_size (raw may
 * be an LZ4 block). A version 1 store is upgraded by its first writable open. */
#define SQ_SCHEMA_VERSION 2

/* messages.raw_codec: how messages.raw holds the message as received. */
enum sq_raw_codec {
	SQ_RAW_PLAIN = 0, /* the bytes themselves (raw_size NULL) */
	SQ_RAW_LZ4 = 1,   /* one LZ4 block (LZ4_compress_default) of raw_size bytes */
};
#define SQ_RAW_MAX_SIZE ((int64_t)1 << 31) /* raw_size above this is corrupt (LZ4 blocks
					    * hold less than 2 GiB) */
#define SQ_READ_POOL 4        /* idle read connections kept */
#define SQ_BATCH_MAX 4096     /* jobs per transaction at most */
#define SQ_PARTY_ROWS 32      /* parties inserted by one statement at most */
#define SQ_ITEM_ROWS 16       /* items inserted by one statement at most */
#define SQ_ITEM_COLS 12       /* columns of an items row given by the writer */
#define SQ_PARTY_BUCKET_BITS 12 /* parties are keyed by (item id >> 12, value, ...): see
				 * docs/internals/store.md */
#define SQ_REFCACHE 1024      /* references whose row id the writer remembers */
#define SQ_CKPT_PAGES 4096    /* new WAL pages that wake the checkpointer (16 MiB of 4 KiB) */
#define SQ_CKPT_RESTART 16384 /* WAL pages after which the writer finishes the checkpoint
			       * itself between two batches, so that the WAL starts over */

/* Statements of the writer connection, prepared once (SQLITE_PREPARE_PERSISTENT). */
enum sq_stmt {
	SQ_BEGIN, SQ_COMMIT, SQ_ROLLBACK,
	SQ_SP_JOB, SQ_RB_JOB, SQ_REL_JOB,
	SQ_SP_ACT, SQ_RB_ACT, SQ_REL_ACT,
	SQ_DUP_FIND, SQ_DUP_INC,
	SQ_MSG_INS, SQ_MSG_DEL, SQ_REF_GET, SQ_REF_INS, SQ_DEL_INS, SQ_REF_ADD,
	SQ_STREAM_FIRST, SQ_STREAM_GET, SQ_STREAM_AGG, SQ_STREAM_PUT,
	SQ_ATT_INS, SQ_CSP_INS, SQ_REFATT_ADD,
	SQ_ORPHAN_FIND, SQ_ATT_DEL, SQ_UUID_ROWS, SQ_ATT_GET, SQ_ORPHAN_USED,
	SQ_ATT_BEGIN, SQ_ORPHAN_INS, SQ_ATT_FINISH, SQ_ATT_RESTORE, SQ_RECORD_FIND,
	SQ_SWEEP_SEL, SQ_ATT_EXPIRE, SQ_ORPHAN_ANY,
	SQ_NSTMT
};

enum sq_job_kind { SQ_JOB_PUT, SQ_JOB_BEGIN, SQ_JOB_FINISH, SQ_JOB_ABORT, SQ_JOB_SWEEP };

/* Files to delete once the batch is committed (replaced or expired content, tmp files). */
struct sq_unlinks {
	char **v;
	size_t n, cap;
};

/* Changes to a reference's counters (refs row, ref_att) made by a job. They are summed over
 * the batch and written once per reference just before the COMMIT (fewer statements per
 * delivery); a job rolled back takes its deltas with it. ref 0 = uploads without record. */
struct sq_delta {
	int64_t ref;
	int64_t deliveries, items, duplicates, streams, ended, missing;
	int64_t received;                  /* 0 = none (first/last received untouched) */
	int64_t att[LEA_ATT_NSTATES];
};

struct sq_deltas {
	struct sq_delta *v;
	size_t n, cap;
};

struct sq_job {
	enum sq_job_kind kind;
	int rc;
	sem_t done;                        /* posted once, when answered (its caller waits) */
	bool single_failed;                /* PUT: its one new action failed (rolled back with
					    * the job's savepoint; the put itself succeeds) */
	struct sq_deltas deltas;
	struct sq_job *next;
	int64_t now;                       /* epoch seconds when the caller asked */
	struct lea_put *put;               /* PUT */
	const void *raw;                   /* PUT: put->raw as stored (see raw_codec) */
	size_t raw_len;
	int raw_codec;                     /* PUT: SQ_RAW_PLAIN or SQ_RAW_LZ4 */
	struct lea_upload *up;             /* BEGIN */
	int64_t id;                        /* FINISH, ABORT: the upload (attachment row) */
	uint64_t bytes;                    /* FINISH */
	const char *sha;                   /* FINISH (lower case) */
	const char *dest;                  /* FINISH: relative path the data was renamed to */
	enum lea_att_state state;          /* FINISH out */
	uint64_t expired;                  /* SWEEP out */
	char dest_out[4096];               /* BEGIN out: relative destination chosen */
	struct sq_unlinks unlinks;         /* after commit */
};

/* An upload between begin and finish/abort (only the process that began it can finish). */
struct sq_upload {
	int64_t id;
	char dest[4096];                   /* relative to dir: content/XX/UUID[.ID] */
	bool finishing;
};

struct sq_store {
	const struct lea_store_opts *o;    /* resolved, owned by struct lea_store */
	char dbpath[4096];
	bool read_only;
	int lock_fd;                       /* flock on DIR/lock (writable opens) */

	/* writer */
	sqlite3 *wdb;
	sqlite3_stmt *st[SQ_NSTMT];
	pthread_t writer;
	bool writer_running;
	pthread_mutex_t mu;
	pthread_cond_t cv_work;
	struct sq_job *head, *tail;
	bool stop;
	int64_t next_att_id;               /* attachment ids are given by the writer */
	int64_t next_item_id;              /* so are item ids (several items per INSERT) */
	bool orphans_maybe;                /* some ORPHAN upload may wait for its record: a
					    * Model B record looks for it (else no SELECT) */
	sqlite3_stmt *party_st[SQ_PARTY_ROWS]; /* INSERT of 1..SQ_PARTY_ROWS parties */
	sqlite3_stmt *item_st[SQ_ITEM_ROWS];   /* INSERT of 1..SQ_ITEM_ROWS items */
	struct sq_refent {
		char *reference;
		int kind;
		int64_t id;
	} *refcache;                       /* open addressing, SQ_REFCACHE slots; cleared on
					    * every rollback (an id may be gone) */
	size_t n_refcache;
	uint64_t n_batches, n_jobs;        /* for benchmarks */

	/* syncer: fdatasync of the WAL for the batches the writer committed (see
	 * store_sqlite.c, "Deferred sync"); absent with sync_normal */
	int wal_fd;
	pthread_t syncer;
	bool syncer_running;
	struct sq_job *sync_head, *sync_tail; /* committed, waiting for the sync (under mu) */
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
	sqlite3 *rpool[SQ_READ_POOL];
	size_t n_rpool;

	/* uploads in flight */
	pthread_mutex_t umu;
	struct sq_upload *ups;
	size_t n_ups, cap_ups;
};

/* SQLite result code to a negative li707 code. */
int lea__sq_err(int sqlite_rc);
/* Runs a cached statement that returns no row (reset afterwards). */
int lea__sq_exec(struct sq_store *s, enum sq_stmt id);
/* Binds values to st from a format: 'i' int64_t, 'u' uint64_t (as int64), 't' const char *
 * (NULL binds NULL), 'b' const void *, size_t (blob), 'n' NULL, 'x' left as it is. Returns 0 or an error. */
int lea__sq_bind(sqlite3_stmt *st, const char *fmt, ...);
/* Resets and clears st. */
void lea__sq_done(sqlite3_stmt *st);
/* Column text or NULL. */
const char *lea__sq_text(sqlite3_stmt *st, int col);

/* Steps a statement that returns no row (or whose row is ignored) and resets it. */
int lea__sq_step_done(struct sq_store *s, sqlite3_stmt *st);
/* Steps a one-column integer query: 1 and *v when a row came, 0 when none, or an error. */
int lea__sq_step_int(struct sq_store *s, sqlite3_stmt *st, int64_t *v);
/* COMPLETE when the data matches what the record gives, MISMATCH otherwise. */
enum lea_att_state lea__sq_compare_record(bool has_len, uint64_t len, const char *checksum,
					  uint64_t bytes, const char *sha);

/* Queues a job and waits for its batch to commit. Returns job->rc. */
int lea__sq_submit(struct sq_store *s, struct sq_job *j);
/* Runs one job inside the writer's transaction (store_sqlite_put.c), the Model B ones in
 * store_sqlite_modelb.c. */
int lea__sq_run_job(struct sq_store *s, struct sq_job *j);
int lea__sq_run_begin(struct sq_store *s, struct sq_job *j);
int lea__sq_run_finish(struct sq_store *s, struct sq_job *j);
int lea__sq_run_abort(struct sq_store *s, struct sq_job *j);
int lea__sq_run_sweep(struct sq_store *s, struct sq_job *j);
/* Post-commit list helpers. */
int lea__sq_unlink_add(struct sq_unlinks *u, const char *dir, const char *rel);
void lea__sq_unlinks_run(struct sq_unlinks *u);
void lea__sq_unlinks_free(struct sq_unlinks *u);

/* Adds delta to the attachment-state counter of ref (0 = uploads without a record), at
 * once (Model B jobs, recovery). */
int lea__sq_att_count(struct sq_store *s, int64_t ref, int state, int64_t delta);
/* Writes the summed deltas of the batch's successful jobs (before its COMMIT). */
int lea__sq_batch_end(struct sq_store *s, struct sq_job *batch);
/* Forgets remembered reference ids (after any rollback), and frees the cache at close. */
void lea__sq_refcache_clear(struct sq_store *s, bool free_all);

/* Read connections. */
int lea__sq_read_get(struct sq_store *s, sqlite3 **out);
void lea__sq_read_put(struct sq_store *s, sqlite3 *db);

/* Uploads in flight. */
int lea__sq_upload_add(struct sq_store *s, int64_t id, const char *dest);
void lea__sq_upload_remove(struct sq_store *s, int64_t id);

/* Backend operations (store_sqlite_put.c / store_sqlite_query.c). */
int lea__sq_put(void *be, struct lea_put *p);
int lea__sq_upload_begin(void *be, struct lea_upload *u);
int lea__sq_upload_finish(void *be, int64_t upload_id, uint64_t bytes, const char sha256_hex[65],
		     enum lea_att_state *state_out);
int lea__sq_upload_abort(void *be, int64_t upload_id);
int lea__sq_sweep(void *be, int64_t now, uint64_t *expired);
int lea__sq_list(void *be, const struct lea_query *q, lea_item_fn fn, void *cls);
int lea__sq_item(void *be, int64_t id, struct lea_item_detail *prev,
		 struct lea_item_detail **out);
int lea__sq_status(void *be, const char *ref, lea_status_fn fn, void *cls);
int lea__sq_gaps(void *be, const char *ref, lea_gap_fn fn, void *cls);

#endif
