/* li707-lea - SQLite backend of the store, shared by store_sqlite*.c (internal).
 *
 * The group commit itself (lock, writer thread, deferred WAL sync, checkpointer, statement
 * cache, read-connection pool) is the engine of src/common/sqlite_engine.h; this backend
 * gives it the LEA's schema and jobs:
 *
 * store_sqlite.c        open/close, schema, recovery at open, the engine's hooks (job
 *                       dispatch, batch begin, rollback, counters before the commit),
 *                       attachment-state counters, the Model B record comparison,
 *                       uploads in flight (what the put and Model B jobs share)
 * store_sqlite_put.c    the put job (deliveries, items, parties, attachments, CSP schemas,
 *                       counters summed per batch) and its caller's side
 * store_sqlite_modelb.c the Model B jobs (upload begin/finish/abort, sweep) and their
 *                       callers' side
 * store_sqlite_query.c  list, item, status, gaps (read connections from the engine's pool)
 *
 * Threads: every write runs on the engine's writer thread, on the writer connection (wdb)
 * and the statements prepared on it (st[]); callers submit a struct sq_job and sleep until
 * the batch that carried it is durable. Reads take a connection from the engine's pool. */
#ifndef LI707_LEA_STORE_SQLITE_INT_H
#define LI707_LEA_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "sqlite_engine.h"
#include "store_int.h"

/* Schema versions: 1 kept messages.raw as received; 2 adds raw_codec and raw_size (raw may
 * be an LZ4 block); 3 adds the Model A/C retrieval columns of attachments (fetch_*,
 * served_type) and the index attachments_fetch. An older store is upgraded by its first
 * writable open. */
#define SQ_SCHEMA_VERSION 3

/* messages.raw_codec: how messages.raw holds the message as received. */
enum sq_raw_codec {
	SQ_RAW_PLAIN = 0, /* the bytes themselves (raw_size NULL) */
	SQ_RAW_LZ4 = 1,   /* one LZ4 block (LZ4_compress_default) of raw_size bytes */
};
#define SQ_RAW_MAX_SIZE ((int64_t)1 << 31) /* raw_size above this is corrupt (LZ4 blocks
					    * hold less than 2 GiB) */
#define SQ_PARTY_ROWS 32      /* parties inserted by one statement at most */
#define SQ_ITEM_ROWS 16       /* items inserted by one statement at most */
#define SQ_ITEM_COLS 12       /* columns of an items row given by the writer */
#define SQ_PARTY_BUCKET_BITS 12 /* parties are keyed by (item id >> 12, value, ...): see
				 * docs/internals/store.md */
#define SQ_REFCACHE 1024      /* references whose row id the writer remembers */

/* Statements of the writer connection, prepared once through the engine's statement cache
 * (BEGIN, COMMIT and the job savepoint are the engine's own). */
enum sq_stmt {
	SQ_SP_ACT, SQ_RB_ACT, SQ_REL_ACT,
	SQ_DUP_FIND, SQ_DUP_INC,
	SQ_MSG_INS, SQ_MSG_DEL, SQ_REF_GET, SQ_REF_INS, SQ_DEL_INS, SQ_REF_ADD,
	SQ_STREAM_FIRST, SQ_STREAM_GET, SQ_STREAM_AGG, SQ_STREAM_PUT,
	SQ_ATT_INS, SQ_CSP_INS, SQ_REFATT_ADD,
	SQ_ORPHAN_FIND, SQ_ATT_DEL, SQ_UUID_ROWS, SQ_ATT_GET, SQ_ORPHAN_USED,
	SQ_ATT_BEGIN, SQ_ORPHAN_INS, SQ_ATT_FINISH, SQ_ATT_RESTORE, SQ_RECORD_FIND,
	SQ_SWEEP_SEL, SQ_ATT_EXPIRE, SQ_ORPHAN_ANY,
	SQ_FETCH_GET, SQ_FETCH_SET,
	SQ_NSTMT
};

enum sq_job_kind { SQ_JOB_PUT, SQ_JOB_BEGIN, SQ_JOB_FINISH, SQ_JOB_ABORT, SQ_JOB_SWEEP, SQ_JOB_FETCH };

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

/* A write job: the engine's part first (answer, savepoint flag, files to delete after the
 * commit: replaced or expired content, tmp files), then the LEA's. */
struct sq_job {
	struct lx_job base;                /* first: the hooks cast it back */
	enum sq_job_kind kind;
	bool single_failed;                /* PUT: its one new action failed (rolled back with
					    * the job's savepoint; the put itself succeeds) */
	struct sq_deltas deltas;
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
	const struct lea_fetch_update *fu; /* FETCH */
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
	struct lx_engine *eng;

	/* used on the writer connection only (the opener's thread, then the writer thread) */
	sqlite3 *wdb;                      /* lx_engine_wdb(eng) */
	sqlite3_stmt *st[SQ_NSTMT];        /* owned by the engine's statement cache */
	int64_t next_att_id;               /* attachment ids are given by the writer */
	int64_t next_item_id;              /* so are item ids (several items per INSERT) */
	int64_t tx_next_att_id;            /* both at the transaction's BEGIN (restored when it
					    * is rolled back) */
	int64_t tx_next_item_id;
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

	/* uploads in flight */
	pthread_mutex_t umu;
	struct sq_upload *ups;
	size_t n_ups, cap_ups;
};

/* Submits a job to the engine and waits until it is answered. Returns its rc. */
int lea__sq_submit(struct sq_store *s, struct sq_job *j);
/* COMPLETE when the data matches what the record gives, MISMATCH otherwise. */
enum lea_att_state lea__sq_compare_record(bool has_len, uint64_t len, const char *checksum,
					  uint64_t bytes, const char *sha);

/* The jobs, run on the writer thread inside the engine's transaction: the put
 * (store_sqlite_put.c), the Model B ones (store_sqlite_modelb.c). */
int lea__sq_run_put(struct sq_store *s, struct sq_job *j);
int lea__sq_run_begin(struct sq_store *s, struct sq_job *j);
int lea__sq_run_finish(struct sq_store *s, struct sq_job *j);
int lea__sq_run_abort(struct sq_store *s, struct sq_job *j);
int lea__sq_run_sweep(struct sq_store *s, struct sq_job *j);
int lea__sq_run_fetch(struct sq_store *s, struct sq_job *j); /* store_sqlite_fetch.c */

/* Adds delta to the attachment-state counter of ref (0 = uploads without a record), at
 * once (Model B jobs, recovery). */
int lea__sq_att_count(struct sq_store *s, int64_t ref, int state, int64_t delta);
/* Writes the summed deltas of the batch's successful jobs (before its COMMIT). */
int lea__sq_deltas_write(struct sq_store *s, struct lx_job *batch);
/* Forgets remembered reference ids (after any rollback), and frees the cache at close. */
void lea__sq_refcache_clear(struct sq_store *s, bool free_all);

/* Uploads in flight. */
int lea__sq_upload_add(struct sq_store *s, int64_t id, const char *dest);
void lea__sq_upload_remove(struct sq_store *s, int64_t id);

/* Backend operations (store_sqlite_put.c, store_sqlite_modelb.c, store_sqlite_query.c). */
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
int lea__sq_fetch_queue(void *be, int64_t now, size_t max, lea_fetch_fn fn, void *cls);
int lea__sq_fetch_get(void *be, int64_t id, struct lea_fetch_entry *out);
int lea__sq_fetch_update(void *be, const struct lea_fetch_update *u);
int lea__sq_fetch_counts(void *be, uint64_t n[LEA_ATT_NSTATES]);

#endif
