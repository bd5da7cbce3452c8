/* li707-csp - the durable queue: one SQLite database (SPOOL/csp.db) on the shared group-commit
 * engine (src/common/sqlite_engine.h), with the tables of the design contract: refs,
 * conversations, events, objects, deliveries (docs/internals/csp.md, "Store").
 *
 * Every write is a job of the engine: the call returns 0 only after the transaction that
 * carried it is committed and the WAL fdatasync'd (sync_full). Reads use the engine's read
 * pool and may run from any thread. A read-only open (CLI commands while the daemon runs)
 * starts no thread and takes no lock; writes on it return -EROFS.
 *
 * Ownership: structs filled by the store own their strings (csp_*_clear frees them);
 * inputs are borrowed for the call. Errors: 0 or a negative li707 code; LI707_ENOTFOUND for
 * an unknown id or reference, -EALREADY for a transition from the wrong state (nothing
 * changed), -EEXIST for a duplicate (an open reference, a token). Nothing here logs. */
#ifndef LI707_CSP_STORE_H
#define LI707_CSP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "li707/li707.h"

#define CSP_STORE_DB "csp.db"
#define CSP_STORE_SCHEMA_VERSION 1
#define CSP_STORE_BATCH_MAX 10000   /* events per csp_store_ingest call */
#define CSP_STORE_ERR_LEN 256

struct lx_metric;
struct csp_store;

struct csp_store_opts {
	const char *spool;          /* the directory (created 0700 when writable) */
	bool read_only;
	bool sync_normal;           /* benchmarks only: answered before the fsync */
	struct lx_metric *commit_seconds; /* histogram, or NULL */
};

int csp_store_open(const struct csp_store_opts *o, struct csp_store **out, char *err,
		   size_t errlen);
void csp_store_close(struct csp_store *s); /* drains queued writes; NULL is a no-op */
const char *csp_store_spool(const struct csp_store *s);
bool csp_store_writable(struct csp_store *s);

/* ---- references (R-RSP-2, R-SEC-7) ---- */

struct csp_ref {
	int64_t id;                 /* the ref key (audit records name it, never the LIID) */
	enum li707_ref_kind kind;
	char *ref;                  /* LIID/LDID; NULL once closed */
	char *lea;
	int64_t until;              /* epoch seconds; 0: no end */
	bool review;                /* deliveries wait for a person (clause 4.2) */
	char *field, *salt, *hash;  /* Annex D.4 triple (hex salt and hash); field, salt NULL
				     * once closed, hash kept */
	bool open;
	char delivery_id[LI707_UUID_LEN + 1]; /* DeliveryID, one per reference */
	int64_t next_seq;           /* next SequenceNumber (from 1) */
	int64_t created_at, closed_at;
};
void csp_ref_clear(struct csp_ref *r);

/* Adds an open reference (in->id, delivery_id, next_seq, open, timestamps are set by the
 * store: a fresh DeliveryID, next_seq 1). -EEXIST when an open reference with the same
 * identifier exists. *id_out (may be NULL): the new ref key. */
int csp_store_ref_add(struct csp_store *s, const struct csp_ref *in, int64_t now, int64_t *id_out);
/* Closes the open reference with this identifier: ref, field and salt are set to NULL (the
 * hash stays), state closed. Queued events stay queued for the final DeliveryObject. */
int csp_store_ref_close(struct csp_store *s, const char *ref, int64_t now, int64_t *id_out);
/* The open reference with this identifier (any kind), or LI707_ENOTFOUND. */
int csp_store_ref_find(struct csp_store *s, const char *ref, struct csp_ref *out);
/* The reference with this key, open or closed. */
int csp_store_ref_get(struct csp_store *s, int64_t id, struct csp_ref *out);
/* Every reference in key order; cb returns nonzero to stop (that value is returned). */
int csp_store_ref_list(struct csp_store *s, int (*cb)(void *ud, const struct csp_ref *r),
		       void *ud);

/* ---- ingest ---- */

/* One attachment taken into the spool. */
struct csp_object_in {
	char uuid[LI707_UUID_LEN + 1];  /* binaryObject identifier, Model B {id} */
	char token[33];                 /* 128 random bits, hex: the Model A/C URL component */
	const char *path;               /* relative to the spool ("objects/ab/<uuid>") */
	uint64_t size;
	char sha256[65];
	const char *content_type;
	char model;                     /* 'A', 'B' or 'C' */
	int64_t expiry;                 /* epoch seconds */
};

struct csp_event_in {
	enum li707_ref_kind kind;
	const char *ref;                /* the LIID/LDID the event names */
	const char *conversation;       /* NULL, or the key (<= CSP_CONVERSATION_MAX bytes) */
	bool has_correlation;           /* an explicit "correlation" (not with conversation):
					 * app_seq must be the next of app_level in this reference
					 * (0 for a new level, which no conversation may hold) */
	int64_t app_level, app_seq;
	const char *json;               /* canonical event JSON (spool paths) */
	size_t json_len;
	const struct csp_object_in *objects;
	size_t n_objects;
};

struct csp_event_out {
	int rc;                         /* 0 accepted; else why (err) */
	int64_t id;                     /* queue id when accepted */
	int64_t ref_id;
	int64_t app_level, app_seq;     /* allocated from conversation or the explicit one, else -1 */
	char err[CSP_STORE_ERR_LEN];    /* "reference: unknown or closed (R-RSP-2)"; no values */
};

/* Queues n events in one durable transaction (group commit), each on its own: one refused
 * (unknown, closed or expired reference, R-RSP-2; duplicate token) does not refuse the
 * others. Returns 0 when the batch was committed (out[i].rc says what became of each), or
 * the engine's error (nothing was stored, every out[i].rc is that error). */
int csp_store_ingest(struct csp_store *s, const struct csp_event_in *ev, size_t n, int64_t now,
		     struct csp_event_out *out);

/* ---- packaging (for csp_deliver, wave 2) ---- */

struct csp_event_row {
	int64_t id, ref_id, accepted_at;
	char *json;
	size_t json_len;
	int64_t app_level, app_seq;     /* -1 when none allocated */
	uint64_t bytes;
};
void csp_event_rows_free(struct csp_event_row *v, size_t n);

/* A window of the queued events of ref_id, in acceptance order, for the packager (it reads
 * on past the batches it has built but not committed yet): events with id > after, at least
 * min_items (when that many are queued, whatever their size), then more up to max_items
 * while they fit in max_bytes. *more: a further queued event exists beyond the window (it was cut). */
int csp_store_events_window(struct csp_store *s, int64_t ref_id, int64_t after,
			    size_t min_items, size_t max_items, uint64_t max_bytes,
			    struct csp_event_row **v, size_t *n, bool *more);
/* References (keys) of lea with queued events, by key. */
int csp_store_refs_pending(struct csp_store *s, const char *lea, int64_t **ids, size_t *n);

struct csp_pack {
	int64_t ref_id;
	int64_t seq;                    /* must equal the reference's next_seq */
	bool last;                      /* LastSequence: the reference is closed and this is its
					 * final DeliveryObject */
	const int64_t *event_ids;       /* queued events of ref_id, all of them exist */
	size_t n_events;
	const char *object_id;          /* ObjectIdentifier, fixed here */
	const char *xml;                /* the encoded HI1Message, fixed here */
	size_t xml_len;
	uint64_t bytes;
};
/* In ONE transaction: checks seq is next_seq and every event is queued for ref_id, writes
 * the delivery (state ready, or review when the reference has --review), marks the events
 * packed into it and advances next_seq. -EAGAIN when seq is not next_seq, -EALREADY when an
 * event is not queued for this reference (nothing changed either way). *id_out: the
 * delivery's id. */
int csp_store_pack(struct csp_store *s, const struct csp_pack *p, int64_t now, int64_t *id_out);

/* Several packs in ONE job (one transaction, one fsync shared with whatever else the group
 * commit carries), applied in order exactly as csp_store_pack applies one: packs of the same
 * reference must carry consecutive seqs (the first = next_seq). All or nothing: the first
 * failure rolls the whole job back — no delivery written, no event packed, next_seq of
 * every reference unchanged, so no SequenceNumber is used, skipped or used twice — and is
 * returned with its index in *failed (may be NULL). ids_out[0..n): the deliveries' ids (0
 * on failure). n <= CSP_STORE_PACK_MAX. */
#define CSP_STORE_PACK_MAX 4096
int csp_store_pack_many(struct csp_store *s, const struct csp_pack *p, size_t n, int64_t now,
			int64_t *ids_out, size_t *failed);

/* ---- deliveries ---- */

enum csp_dstate {
	CSP_D_REVIEW, CSP_D_READY, CSP_D_INFLIGHT, CSP_D_DONE, CSP_D_PARKED, CSP_D_REJECTED,
	CSP_D_DROPPED, CSP_D_NSTATES
};
const char *csp_dstate_name(enum csp_dstate s);   /* "review", "ready", ... */
bool csp_dstate_parse(const char *name, enum csp_dstate *out);

struct csp_delivery {
	int64_t id;
	char *lea;
	int64_t ref_id, seq;
	bool last;
	char object_id[LI707_UUID_LEN + 1];
	char *xml;                      /* NULL in lists that do not ask for it */
	size_t xml_len;
	int64_t items;
	uint64_t bytes;
	enum csp_dstate state;
	int64_t attempts, next_try;
	char *last_error;
	int64_t created_at, updated_at;
};
void csp_delivery_clear(struct csp_delivery *d);
void csp_deliveries_free(struct csp_delivery *v, size_t n);

/* Ready deliveries of lea with next_try <= now, by reference then seq, at most max, with
 * their XML. */
int csp_store_ready(struct csp_store *s, const char *lea, int64_t now, size_t max,
		    struct csp_delivery **v, size_t *n);
/* Deliveries in a state (lea NULL: every LEA), by id, at most max, without XML. */
int csp_store_deliveries(struct csp_store *s, const char *lea, enum csp_dstate st, size_t max,
			 struct csp_delivery **v, size_t *n);
int csp_store_delivery_get(struct csp_store *s, int64_t id, bool with_xml,
			   struct csp_delivery *out);

/* Transitions (each one durable job; -EALREADY from any other state):
 *   inflight   ready -> inflight, attempts + 1          (the engine took it)
 *   done       ready|inflight -> done
 *   fail       ready|inflight -> ready, next_try, last_error   (retry later)
 *   park       ready|inflight -> parked, last_error     (ErrorInformation: the operator decides)
 *   retry      parked|ready -> ready, next_try 0        (li707-csp retry ID)
 *   drop       parked|ready|review -> dropped           (li707-csp drop ID)
 *   approve    review -> ready                          (li707-csp review approve ID)
 *   reject     review -> rejected                       (li707-csp review reject ID)
 * At open, deliveries found inflight go back to ready (the LEA deduplicates by
 * ObjectIdentifier, so a resend is safe). */
int csp_store_d_inflight(struct csp_store *s, int64_t id, int64_t now);
int csp_store_d_done(struct csp_store *s, int64_t id, int64_t now);
int csp_store_d_fail(struct csp_store *s, int64_t id, int64_t next_try, const char *error,
		     int64_t now);
int csp_store_d_park(struct csp_store *s, int64_t id, const char *error, int64_t now);
int csp_store_d_retry(struct csp_store *s, int64_t id, int64_t now);
int csp_store_d_drop(struct csp_store *s, int64_t id, int64_t now);
int csp_store_d_approve(struct csp_store *s, int64_t id, int64_t now);
int csp_store_d_reject(struct csp_store *s, int64_t id, int64_t now);

/* Outcomes of the delivery engines recorded in ONE job (the recorder in csp_run_deliver.c:
 * a whole batch of transitions shares one transaction and one fsync), applied in order:
 *   INFLIGHT  ready -> inflight, attempts + 1
 *   DONE      ready|inflight -> done
 *   FAIL      ready|inflight -> ready, next_try, last_error (error, "failed" when NULL)
 *   PARK      ready|inflight -> parked, last_error (error, "parked" when NULL)
 * Each entry gets its own answer in rc (0, -EALREADY from another state, LI707_ENOTFOUND)
 * and, when the delivery exists, its ref_id, seq, object_id and bytes (for the audit
 * record). Returns 0 when the job committed, else the engine's error (nothing changed, every
 * rc is that error). n <= CSP_STORE_REC_MAX. */
#define CSP_STORE_REC_MAX 4096
enum csp_drec_kind { CSP_DREC_INFLIGHT, CSP_DREC_DONE, CSP_DREC_FAIL, CSP_DREC_PARK };
struct csp_drec {
	enum csp_drec_kind kind;
	int64_t id;
	int64_t next_try;               /* FAIL: epoch ms */
	const char *error;              /* FAIL, PARK */
	/* answers */
	int rc;
	int64_t ref_id, seq, bytes;
	char object_id[LI707_UUID_LEN + 1];
};
int csp_store_d_record(struct csp_store *s, struct csp_drec *v, size_t n, int64_t now);

/* ---- objects (Model A/C lookup, Model B push) ---- */

struct csp_object {
	int64_t id, event_id, ref_id;
	char uuid[LI707_UUID_LEN + 1];
	char token[33];
	char *path;                     /* relative to the spool */
	uint64_t size;
	char sha256[65];
	char *content_type;
	char model;
	int64_t expiry;
	char *lea;                      /* the LEA of the object's reference */
	char *push_state;               /* Model B: "pending", "retry", "stored", "mismatch",
					 * "refused"; NULL for A/C */
	int64_t push_attempts, push_next;
	char *verdict;
};
void csp_object_clear(struct csp_object *o);
void csp_objects_free(struct csp_object *v, size_t n);

/* The object with this URL token (R-CORE-5), or LI707_ENOTFOUND. */
int csp_store_object_by_token(struct csp_store *s, const char *token, struct csp_object *out);
/* Model B objects of lea whose event's delivery is done, push_state pending or retry,
 * push_next <= now, by id, at most max (R-BIN-B2: content only after its record). */
int csp_store_push_due(struct csp_store *s, const char *lea, int64_t now, size_t max,
		       struct csp_object **v, size_t *n);
/* Records a push outcome: state "stored"/"mismatch"/"refused" (final) or "retry" with
 * next_try; attempts + 1; verdict text (no values). */
int csp_store_push_result(struct csp_store *s, int64_t object_id, const char *state,
			  int64_t next_try, const char *verdict);

/* Objects still in the spool (state stored) whose expiry <= before, oldest first, at most
 * max: the retention sweep's candidates. */
int csp_store_objects_expired(struct csp_store *s, int64_t before, size_t max,
			      struct csp_object **v, size_t *n);
/* Marks an object removed from the spool (stored -> removed): never served again, its token
 * stays used (R-CORE-5). LI707_ENOTFOUND when it is not (or no longer) stored. */
int csp_store_object_removed(struct csp_store *s, int64_t object_id);

/* Spool files no row refers to: SPOOL/tmp/ emptied, SPOOL/objects/XX/NAME deleted when no
 * object has NAME as its uuid (left by a crash between the spool and the commit, never
 * acknowledged). Only for the writer (the lock holder), before ingest starts. *removed (may
 * be NULL) counts the files deleted. */
int csp_store_spool_sweep(struct csp_store *s, uint64_t *removed);

/* ---- counts (status, metrics) ---- */

struct csp_lea_counts {
	char *lea;
	uint64_t events_queued;         /* accepted, not yet packed */
	uint64_t d[CSP_D_NSTATES];      /* deliveries by state */
	int64_t oldest;                 /* accepted_at/created_at of the oldest event queued or
					 * delivery not done (review, ready, inflight, parked);
					 * 0 when none */
	int64_t last_done;              /* updated_at of the last done delivery, 0: none */
	char *last_error;               /* of the most recent failure, or NULL */
};
struct csp_store_counts {
	struct csp_lea_counts *leas;    /* every LEA that has references */
	size_t n_leas;
	uint64_t refs_open, refs_closed;
};
int csp_store_counts(struct csp_store *s, struct csp_store_counts *out);
void csp_store_counts_clear(struct csp_store_counts *c);

/* Queue depth as status and metrics show it: events queued + deliveries ready, inflight,
 * review and parked. */
uint64_t csp_lea_queue_depth(const struct csp_lea_counts *c);

#endif
