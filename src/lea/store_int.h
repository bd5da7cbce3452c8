/* li707-lea - the store's backend interface (internal).
 *
 * store.c holds the public entry points of store.h: it checks arguments, then dispatches to
 * a backend through struct lea_store_ops. A backend implements every operation with the
 * semantics written in store.h (durability, duplicates, Model B verdicts and states, query
 * order); what does not depend on the database (the Model B url rule, re-decoding a raw
 * message for lea_store_item, epoch of an item, file layout helpers) lives in store.c as
 * lea__store_* helpers so that a second backend (PostgreSQL) shares it.
 *
 * A backend gets the resolved options (defaults filled in, dir and binary_path copied and
 * valid for the store's lifetime). See docs/internals/store.md, "Adding a backend". */
#ifndef LI707_LEA_STORE_INT_H
#define LI707_LEA_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define LEA_STORE_ORPHAN_TIMEOUT_DEFAULT 86400u
#define LEA_STORE_ORPHAN_MAX_DEFAULT (1024ull * 1024 * 1024)
#define LEA_STORE_BINARY_PATH_DEFAULT "/binaryData/"

struct lea_store_ops {
	const char *name;
	/* *be gets the backend's state; err a message on failure. */
	int (*open)(const struct lea_store_opts *o, void **be, char *err, size_t errlen);
	void (*close)(void *be);
	int (*put)(void *be, struct lea_put *p);
	int (*upload_begin)(void *be, struct lea_upload *u);
	int (*upload_finish)(void *be, int64_t upload_id, uint64_t bytes, const char sha256_hex[65],
			     enum lea_att_state *state_out);
	int (*upload_abort)(void *be, int64_t upload_id);
	int (*sweep)(void *be, int64_t now, uint64_t *expired);
	int (*list)(void *be, const struct lea_query *q, lea_item_fn fn, void *cls);
	/* prev: an earlier item whose message may be taken over (lea__store_detail_take) */
	int (*item)(void *be, int64_t id, struct lea_item_detail *prev, struct lea_item_detail **out);
	int (*status)(void *be, const char *ref, lea_status_fn fn, void *cls);
	int (*gaps)(void *be, const char *ref, lea_gap_fn fn, void *cls);
	void (*stats)(void *be, struct lea_store_stats *out);
	int (*fetch_queue)(void *be, int64_t now, size_t max, lea_fetch_fn fn, void *cls);
	int (*fetch_get)(void *be, int64_t id, struct lea_fetch_entry *out);
	int (*fetch_update)(void *be, const struct lea_fetch_update *u);
	int (*fetch_counts)(void *be, uint64_t n[LEA_ATT_NSTATES]);
};

struct lea_store {
	const struct lea_store_ops *ops;
	void *be;
	struct lea_store_opts opts; /* resolved; dir and binary_path owned */
};

extern const struct lea_store_ops lea__store_sqlite_ops;

/* True when the action is one the store keeps: DELIVER, status 0, a delivery whose payload
 * is a TS 103 707 ITEM or COLLECTION with at least one item. */
bool lea__store_action_storable(const struct li707_action *a);

/* Epoch seconds of an item for --since: its timestamp, else received_at. */
int64_t lea__store_item_epoch(const struct li707_item *it, int64_t received_at);

/* Fills d->msg by decoding raw (d->raw, d->raw_len already set) and checks that
 * actions[action_index] is a delivery with object_id and at least item_index + 1 items.
 * Returns 0 or a negative code (LI707_EINVALID when the stored message no longer matches). */
int lea__store_detail_decode(struct lea_item_detail *d, const char *object_id);
/* When prev is an item of d->message_id with its message decoded: moves prev's raw and
 * message into d (prev keeps the rest, to be freed) and checks them as decode does;
 * returns 1 when taken, 0 when d must read its own, or a negative error. */
int lea__store_detail_take(struct lea_item_detail *d, struct lea_item_detail *prev,
			   const char *object_id);

/* "DIR/content/XX" for a uuid (XX = its first two hex digits) into buf. */
int lea__store_content_dir(const char *dir, const char *uuid, char *buf, size_t len);

/* Creates path (0700) when missing; -errno on failure. */
int lea__store_mkdir(const char *path);

/* Lower-cases a SHA-256 hex string into out (65 bytes); false when not 64 hex digits. */
bool lea__store_sha_lower(const char *in, char out[65]);

#endif
