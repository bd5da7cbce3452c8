/* li707-csp - the delivery engines' queue on the store, with the recorder: the engines'
 * outcomes are recorded in batches, off the engines' threads (docs/internals/csp-delivery.md,
 * "Wiring").
 *
 * An engine hands its outcomes (done, retry, park) and the deliveries it takes (inflight) to
 * csp_rec_put, which only queues them: the transfer thread never waits for an fsync. The
 * recorder (its own thread) takes everything queued, records it in ONE store job
 * (csp_store_d_record: one transaction, one fsync, shared by the group commit with ingest and
 * packaging) and appends the audit records of the done and parked ones with ONE fdatasync
 * (csp_audit_append_batch).
 *
 * Order rule: csp_rec_next never hands out a delivery of a reference that has an outcome or
 * an inflight mark queued or being recorded. So a reference's next delivery goes only once
 * its predecessor's done is in the store (the store then blocks nothing, or shows the
 * predecessor done), and an acknowledged delivery whose inflight mark and done are still in
 * memory (the store says ready) is never sent again because of that.
 *
 * In-flight marks are recorded but not awaited before the POST: after a crash the store turns
 * inflight back into ready anyway (csp_store.h), so the mark is never needed for correctness;
 * it keeps `status` and the operator's `drop` (refused while in flight) right once recorded. */
#ifndef LI707_CSP_STORE_REC_H
#define LI707_CSP_STORE_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csp_deliver.h"
#include "csp_store.h"

struct csp_audit;
struct csp_rec;

struct csp_rec_opts {
	struct csp_store *s;
	struct csp_audit *audit;          /* done/parked delivery records, or NULL */
	bool manual;                      /* no thread: the caller runs csp_rec_run (tests) */
	/* called on the recorder's thread after a batch that recorded an outcome (the engines
	 * may have work again), or NULL */
	void (*recorded)(void *ud);
	void *ud;
};

int csp_rec_new(const struct csp_rec_opts *o, struct csp_rec **out);
/* Records everything queued, stops the thread, frees. NULL is a no-op. */
void csp_rec_free(struct csp_rec *r);

/* Queues one transition of delivery id (of reference ref_id, engine lea) for the recorder.
 * next_try (FAIL, epoch ms), code (PARK: the ErrorInformation code, for the audit record)
 * and error (FAIL, PARK; copied, at most CSP_DELIVER_ERR_LEN - 1 bytes) as csp_store_d_record
 * takes them. Never blocks on the disk. Returns 0 or LI707_ENOMEM (not queued: the store
 * keeps the delivery where it was, it is sent again later and the LEA deduplicates it). */
int csp_rec_put(struct csp_rec *r, const char *lea, enum csp_drec_kind kind, int64_t id,
		int64_t ref_id, int64_t next_try, unsigned code, const char *error);

/* Records one batch of what is queued (all of it, up to CSP_STORE_REC_MAX) now, on the
 * caller's thread. Returns how many transitions were taken. For manual mode and tests. */
size_t csp_rec_run(struct csp_rec *r);

/* Queued or being recorded: how many transitions. */
size_t csp_rec_pending(struct csp_rec *r);

/* The csp_deliver_queue.next of engine lea: up to max ready deliveries that are due (next_try
 * <= now_ms), at most one per reference — its lowest SequenceNumber not finished, and only
 * when no earlier one is in review or in flight — leaving out the references in skip and those
 * with a transition queued here (the order rule above). Each one handed out gets an INFLIGHT
 * mark queued. */
int csp_rec_next(struct csp_rec *r, const char *lea, int64_t now_ms, const int64_t *skip,
		 size_t n_skip, struct csp_post *out, size_t max, size_t *n);

#endif
