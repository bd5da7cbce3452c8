/* li707-lea - the store: what the LEA keeps of every delivery, and the queries over it.
 *
 * The interface is backend-neutral (a PostgreSQL backend can implement it later, see
 * store_int.h); the default backend is SQLite in WAL mode plus content files:
 *
 *   DIR/index.sqlite      the index (messages with their raw XML as received, deliveries,
 *                         items, parties, CSP schemas, attachments, uploads)
 *   DIR/content/XX/UUID   Model B content, XX = the UUID's first two hex digits
 *   DIR/tmp/              uploads in flight (emptied at open: a crash leaves nothing half
 *                         done behind)
 *
 * Durability (the brief: acknowledge only what is on disk): lea_store_put() and
 * lea_store_upload_finish() return only after their transaction is committed and synced
 * (WAL mode, the WAL fdatasync'd after the commit and before the answer: what
 * synchronous=FULL guarantees, see docs/internals/store.md; content files are fsync'd and
 * renamed, and their directory fsync'd, before the commit that marks them complete). Writers
 * from many threads are served by one writer thread that commits everything queued in one
 * transaction (group commit); a request that fails is rolled back alone (savepoints) and
 * does not undo another.
 *
 * Duplicates (R-DEL-6): a DELIVER whose ObjectIdentifier is already stored, or whose
 * DeliveryID + SequenceNumber pair is, is a duplicate: acknowledged again (outcome
 * LEA_PUT_DUPLICATE), counted, never stored twice. Gaps in SequenceNumber per DeliveryID
 * and in applicationSequenceNumber per applicationLevelID (R-HDR-2) are recorded, reported
 * by lea_store_status()/lea_store_gaps(), never a reason to refuse.
 *
 * Model B (R-BIN-B1..B4): an attachment whose url path is binary_path + UUID + "/" is a
 * Model B object, announced until its upload arrives; any other url is "to fetch" (Model
 * A/C, fetched by a later component). An upload may come before its record (R-BIN-B4): it
 * is kept as an orphan for orphan_timeout_s, within orphan_max_bytes in total, and linked
 * when the record arrives. Length and SHA-256 are compared whenever both sides are known;
 * a difference makes the attachment MISMATCH, never complete.
 *
 * Nothing here logs. Strings returned in rows are valid only during the callback. */
#ifndef LI707_LEA_STORE_H
#define LI707_LEA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch.h"
#include "li707/li707.h"

struct lea_store;
struct lx_metric; /* metrics.h */

struct lea_store_opts {
	const char *dir;             /* created (0700) when missing, unless read_only */
	const char *binary_path;     /* Model B prefix, begins and ends with '/' ["/binaryData/"] */
	bool read_only;              /* analyst tools: no writer thread, no recovery at open */
	bool sync_normal;            /* benchmarks only: answered before the WAL is synced
				      * (not durable across a power loss) */
	uint64_t orphan_timeout_s;   /* [86400] */
	uint64_t orphan_max_bytes;   /* [1 GiB] */
	struct lx_metric *commit_seconds; /* histogram of the wait for a durable commit, or NULL */
};

/* What the daemon's metrics and health check read. */
struct lea_store_stats {
	uint64_t commits;  /* transactions committed (each a batch of puts and upload jobs) */
	uint64_t fsyncs;   /* fdatasyncs of the WAL */
	bool writable;     /* writes are possible (a writer runs; no commit or fsync failed) */
};
int lea_store_stats(struct lea_store *s, struct lea_store_stats *out);

/* Opens (creating/migrating the schema when writable) the store. On a writable open it
 * removes DIR/tmp leftovers and turns uploads left RECEIVING by a crash back into
 * ANNOUNCED (or drops orphans that never finished). err gets a message on failure. */
int lea_store_open(const struct lea_store_opts *o, struct lea_store **out, char *err,
		   size_t errlen);
/* Finishes queued work, stops the writer, closes. NULL is a no-op. */
void lea_store_close(struct lea_store *s);
/* The store's directory (as opened). */
const char *lea_store_dir(const struct lea_store *s);

/* ---- deliveries ---- */

enum lea_put_outcome {
	LEA_PUT_SKIPPED = 0,   /* not stored: not a DELIVER, or its status was not 0 */
	LEA_PUT_STORED = 1,    /* stored now */
	LEA_PUT_DUPLICATE = 2, /* stored before (same ObjectIdentifier, or DeliveryID+Sequence) */
	LEA_PUT_FAILED = 3,    /* this action could not be stored (its savepoint rolled back) */
};

struct lea_put {
	const char *peer;                 /* configured peer name */
	const char *raw;                  /* the message exactly as received */
	size_t raw_len;
	const struct li707_message *msg;  /* the decoded request; the DELIVER actions whose
					   * status is 0 are stored */
	enum lea_put_outcome *outcome;    /* out: msg->n_actions entries */
	int64_t message_id;               /* out: row of the message, 0 when nothing new */
};

/* Stores the message's DELIVER actions with status 0 and waits until durable. Returns 0
 * with every outcome set (the caller answers per action), or a negative code when nothing
 * could be committed (disk full, I/O error: the caller answers 503 and the CSP retries;
 * -EROFS on a read_only store). Thread-safe: concurrent calls share one commit. */
int lea_store_put(struct lea_store *s, struct lea_put *p);

/* ---- Model B uploads ---- */

enum lea_upload_verdict {
	LEA_UPLOAD_OK = 0,          /* go ahead: write to tmp_path */
	LEA_UPLOAD_DONE = 1,        /* this uuid is already complete: 409. (A MISMATCH may be
				     * uploaded again: the new data replaces the old when it
				     * completes.) */
	LEA_UPLOAD_BUSY = 2,        /* another upload of this uuid is in flight: 503 + Retry-After */
	LEA_UPLOAD_TOO_BIG = 3,     /* Content-Length over cap: 413 */
	LEA_UPLOAD_ORPHANS_FULL = 4,/* no record yet and the orphan budget is used up: 503 */
	LEA_UPLOAD_UNKNOWN = 5,     /* the record belongs to another peer, or is expired: 404 */
	LEA_UPLOAD_LENGTH = 6,      /* Content-Length (within the cap) differs from the size in
				     * the binaryData record (record_length): 409 */
};

struct lea_upload {
	const char *peer;
	char uuid[37];               /* canonical lower case */
	bool has_length;             /* Content-Length given */
	uint64_t length;
	uint64_t cap;                /* the peer's max_upload_bytes */
	const char *content_type;    /* may be NULL */
	/* out of lea_store_upload_begin: */
	enum lea_upload_verdict verdict;
	int64_t upload_id;           /* pass to finish/abort */
	char tmp_path[4096];         /* create it with O_CREAT|O_EXCL|O_WRONLY, 0600 */
	bool has_record;             /* its binaryObject record is already stored */
	uint64_t record_length;      /* LEA_UPLOAD_LENGTH, LEA_UPLOAD_DONE: the size the record
				      * gives */
	bool record_has_length;      /* LEA_UPLOAD_DONE: the record gives a size */
};

/* The Model B decision before the body (R-BIN-B3): sets u->verdict and, when OK, marks the
 * uuid RECEIVING and fills upload_id and tmp_path. Returns 0 or a negative store error. */
int lea_store_upload_begin(struct lea_store *s, struct lea_upload *u);

enum lea_att_state {
	LEA_ATT_ANNOUNCED = 0, /* Model B record stored, no data yet */
	LEA_ATT_RECEIVING = 1, /* upload in flight */
	LEA_ATT_COMPLETE = 2,  /* data stored; length and SHA-256 match what the record gives */
	LEA_ATT_MISMATCH = 3,  /* data stored, but length or SHA-256 differ from the record */
	LEA_ATT_EXPIRED = 4,   /* an orphan upload whose record never came (data deleted) */
	LEA_ATT_TO_FETCH = 5,  /* Model A/C: the LEA has to fetch it */
	LEA_ATT_ORPHAN = 6,    /* data received before its record (R-BIN-B4) */
	LEA_ATT_FETCHING = 7,  /* Model A/C: partly fetched (verified ranges recorded) */
	LEA_ATT_NSTATES = 8
};
/* Model A/C retrieval uses TO_FETCH, FETCHING, then COMPLETE, MISMATCH or EXPIRED (the
 * attachment's model, 'A' or 'C', tells them from Model B's); Model B uses ANNOUNCED,
 * RECEIVING, ORPHAN, COMPLETE, MISMATCH, EXPIRED. */
/* "announced", "receiving", "complete", "mismatch", "expired", "to-fetch", "orphan",
 * "fetching". */
const char *lea_att_state_name(enum lea_att_state st);

/* The upload's data is in tmp_path (written, fsync'd and closed by the caller: bytes long,
 * SHA-256 sha256_hex, either case). Moves it into place and commits its state: COMPLETE or
 * MISMATCH when the record is known, ORPHAN otherwise. *state_out (may be NULL) gets the
 * state. LI707_ENOTFOUND when upload_id is not an upload of this process in flight. On an
 * error the upload stays in flight (tmp_path in place): call abort. */
int lea_store_upload_finish(struct lea_store *s, int64_t upload_id, uint64_t bytes,
			    const char sha256_hex[65], enum lea_att_state *state_out);
/* The upload failed (connection lost, over cap): deletes tmp_path, back to ANNOUNCED (or
 * the orphan entry is dropped). */
int lea_store_upload_abort(struct lea_store *s, int64_t upload_id);

/* Expires orphans older than orphan_timeout_s at time now (epoch seconds): their files are
 * deleted, their state becomes EXPIRED. *expired (may be NULL) gets how many. */
int lea_store_sweep(struct lea_store *s, int64_t now, uint64_t *expired);

/* ---- queries (analyst tools; also usable on a writable store) ---- */

struct lea_query {
	const char *ref;        /* only this LIID/LDID, or NULL */
	const char *party;      /* only items where a sender/receiver identifier equals this */
	const char *peer;       /* only items delivered by this peer, or NULL */
	bool has_since;
	int64_t since;          /* item timestamp (reception time when it has none) >= since */
	int64_t after_id;       /* only ids > after_id (paging), 0 = from the start */
	size_t limit;           /* 0 = no limit */
};

struct lea_item_row {
	int64_t id;             /* the ITEM of `li707-lea show ITEM` */
	const char *reference;
	enum li707_ref_kind ref_kind;
	const char *peer;
	const char *timestamp;  /* as on the wire, NULL for a V1.1.1 item without one */
	int64_t received_at;    /* epoch seconds */
	const char *object_id;  /* the DeliveryObject's ObjectIdentifier */
	size_t item_index;      /* position in its collection (0 for a single item) */
	const char *sender;     /* the sender's first identifier, or NULL */
	size_t n_receivers;
	size_t n_attachments;
	size_t n_attachments_complete;
};
typedef int (*lea_item_fn)(void *cls, const struct lea_item_row *r);

/* Calls fn for every matching item in id order (all filters combined); a non-zero return
 * from fn stops and is returned. q may be NULL (everything). */
int lea_store_list(struct lea_store *s, const struct lea_query *q, lea_item_fn fn, void *cls);

struct lea_attachment {
	int64_t id;
	size_t index;                /* position in the item's associatedBinaryData */
	char *url;
	char uuid[37];               /* Model B uuid, "" otherwise */
	char model;                  /* 'B'; 'A' or 'C' as the LEA chose for retrieval; '?' not
				      * chosen yet */
	enum lea_att_state state;
	uint64_t bytes;              /* bytes stored */
	char sha256[65];             /* SHA-256 of the stored data, "" when none */
	char *file;                  /* absolute path of the stored content, or NULL */
	char served_type[128];       /* Model A/C: the Content-Type the CSP served, "" unknown */
};

struct lea_item_detail {
	int64_t id;
	int64_t message_id;          /* the stored message it came in (one per HI1Message) */
	char *peer;
	int64_t received_at;
	char *transaction_id;
	struct li707_message *msg;   /* the whole message, decoded again from raw */
	size_t action_index;         /* msg->actions[action_index].delivery is this item's */
	size_t item_index;           /* ...->items[item_index] is the item */
	char *raw;                   /* the message exactly as received */
	size_t raw_len;
	struct lea_attachment *atts; /* in item order */
	size_t n_atts;
	/* R-CSP-2: for each of the item's cspDefinedMetadata blocks (n = item's n_csp), the
	 * schemaContent in effect: the block's own, or the one this peer sent earlier under
	 * the same schemaIdentifier; NULL when never provided. Borrowed/owned: owned copies. */
	char **schema_content;
};
/* LI707_ENOTFOUND when there is no item id. Free *out with lea_item_detail_free(). */
int lea_store_item(struct lea_store *s, int64_t id, struct lea_item_detail **out);
/* lea_store_item for walking many items in a row (export): when prev (may be NULL) is an
 * item of the same stored message, its raw bytes and decoded message are taken over
 * instead of being read and decoded again (a 100-item collection is decoded once, not 100
 * times). prev is freed in every case, also on error. */
int lea_store_item_next(struct lea_store *s, int64_t id, struct lea_item_detail *prev,
			struct lea_item_detail **out);
void lea_item_detail_free(struct lea_item_detail *d);

/* The item's own handoverItem in msg (shorthand). */
const struct li707_item *lea_item_detail_item(const struct lea_item_detail *d);

struct lea_ref_status {
	const char *reference;        /* NULL: uploads not linked to any record yet (orphans) */
	enum li707_ref_kind ref_kind;
	uint64_t deliveries;          /* DeliveryObjects stored */
	uint64_t items;
	uint64_t duplicates;          /* repeated deliveries acknowledged, not stored */
	uint64_t streams;             /* distinct DeliveryIDs */
	uint64_t streams_ended;       /* ... of which LastSequence=true was seen */
	uint64_t seq_missing;         /* SequenceNumbers missing inside the seen range */
	uint64_t app_missing;         /* applicationSequenceNumbers missing (R-HDR-2) */
	uint64_t app_repeated;        /* applicationSequenceNumbers seen more than once */
	uint64_t att[LEA_ATT_NSTATES];
	int64_t first_received, last_received;
};
typedef int (*lea_status_fn)(void *cls, const struct lea_ref_status *st);
/* One call per reference (sorted by reference, then kind), ref = NULL for all; with ref =
 * NULL a last row with reference NULL counts the uploads without record (orphan, receiving,
 * expired), only when there are any. */
int lea_store_status(struct lea_store *s, const char *ref, lea_status_fn fn, void *cls);

/* ---- Model A/C retrieval queue (lea_fetch.c; docs/internals/lea.md "Retrieval") ----
 * The queue is the attachments table itself: every binaryObject record whose url is not a
 * Model B one is stored TO_FETCH (model '?'); the daemon's fetch workers take entries in
 * queue order, record the model they chose ('A' or 'C'), the verified ranges as they land
 * (struct lx_fetch_state: size, validator, range size, ranges held), and the outcome. A
 * restart finds FETCHING entries with their ranges and resumes them; nothing resets them. */


struct lea_fetch_entry {
	int64_t id;                  /* the attachment (`li707-lea show`, fetch-retry ID) */
	int64_t item;
	char peer[128];
	char url[4096];
	char model;                  /* 'A', 'C', or '?' not chosen yet */
	enum lea_att_state state;
	int64_t length;              /* the record's contentLength, -1 none */
	char checksum[65];           /* the record's SHA-256, lower case, "" none */
	char content_type[256];      /* the record's contentType, "" none */
	char expiry[64];             /* the record's expiry (TS 103 280), "" none */
	int64_t priority;            /* higher first (fetch-priority) */
	int64_t epoch;               /* the item's time (recent first) */
	unsigned attempts;           /* failed attempts in a row */
	unsigned mismatches;         /* complete objects that did not verify */
	int64_t next_try;            /* epoch seconds: not before */
	struct lx_fetch_state fs;    /* what the part file holds */
	char served_type[256];       /* Content-Type the CSP served, "" unknown */
	char error[256];             /* the last failure, "" none */
};

/* Entries in state TO_FETCH or FETCHING whose next_try <= now, in queue order: priority
 * (higher first), then size (smaller first, unknown last), then item time (recent first),
 * then id; at most max (0: all). fn's nonzero return stops and is returned. */
typedef int (*lea_fetch_fn)(void *cls, const struct lea_fetch_entry *e);
int lea_store_fetch_queue(struct lea_store *s, int64_t now, size_t max, lea_fetch_fn fn,
			  void *cls);
/* One entry (any state, any model but B): LI707_ENOTFOUND when there is no such
 * retrieval. */
int lea_store_fetch_get(struct lea_store *s, int64_t id, struct lea_fetch_entry *out);

/* What a fetch worker changes about an entry; only fields with their flag set. */
#define LEA_FU_STATE 0x1u    /* state (counters follow) */
#define LEA_FU_MODEL 0x2u    /* model */
#define LEA_FU_FS 0x4u       /* fs (size, validator, range size, verified ranges) */
#define LEA_FU_RETRY 0x8u    /* attempts, mismatches, next_try, error */
#define LEA_FU_DONE 0x10u    /* bytes, sha256, file, served_type (with state) */
struct lea_fetch_update {
	int64_t id;
	unsigned what;
	unsigned from_states;        /* nonzero: only when the state is one of these (bit =
				      * 1 << state), else LI707_ENOTFOUND */
	enum lea_att_state state;
	char model;
	const struct lx_fetch_state *fs;
	unsigned attempts, mismatches;
	int64_t next_try;
	const char *error;
	uint64_t bytes;
	const char *sha256;          /* lower case */
	const char *file;            /* relative to the store directory, NULL none */
	const char *served_type;
	int64_t now;
};
/* Durable when it returns 0 (a verified range recorded this way is never fetched again). */
int lea_store_fetch_update(struct lea_store *s, const struct lea_fetch_update *u);

/* Attachments of Model A/C retrievals (model not 'B') per state, all references. */
int lea_store_fetch_counts(struct lea_store *s, uint64_t n[LEA_ATT_NSTATES]);

/* Operator commands on the store directory dir while the daemon may run (the daemon's
 * workers read the queue again before each object):
 *   retry: an entry in MISMATCH or EXPIRED, or TO_FETCH/FETCHING waiting for its backoff,
 *          is queued again at once (attempts and mismatches forgotten; a MISMATCH or
 *          EXPIRED one starts from zero). LI707_ENOTFOUND: no such retrieval;
 *          LI707_EINVAL: it is complete.
 *   priority: sets the priority of every retrieval of the reference ref (higher first);
 *          *n gets how many. */
int lea_store_fetch_retry(const char *dir, int64_t id, char *err, size_t errlen);
int lea_store_fetch_priority(const char *dir, const char *ref, int64_t priority, uint64_t *n,
			     char *err, size_t errlen);

/* The part file of a retrieval, relative to the store directory: "fetch/ID.part"; its
 * place once complete: "content/XX/fetch-ID" (XX = the id's low byte in hex). */
void lea_store_fetch_part(int64_t id, char *buf, size_t len);
void lea_store_fetch_dest(int64_t id, char *buf, size_t len);

enum lea_gap_kind { LEA_GAP_SEQUENCE = 0, LEA_GAP_APPLICATION = 1 };
struct lea_gap {
	enum lea_gap_kind kind;
	const char *reference;
	const char *stream;           /* the DeliveryID, or the applicationLevelID in decimal */
	uint64_t from, to;            /* missing numbers, inclusive */
};
typedef int (*lea_gap_fn)(void *cls, const struct lea_gap *g);
/* Per reference (sorted): the SequenceNumber gaps of each DeliveryID (counted from 1, or from
 * 0 when 0 was seen, up to the highest seen), then the applicationSequenceNumber gaps of each
 * applicationLevelID (from 0). See docs/internals/store.md. */
int lea_store_gaps(struct lea_store *s, const char *ref, lea_gap_fn fn, void *cls);

#endif
