/* li707-csp - packaging: the events of one reference -> one encoded DeliveryObject.
 *
 * Pure functions (no I/O, no logging, no clock but the message's own creation time): the
 * caller (the store's packaging transaction, wave 2) supplies the reference data and the
 * numbering (docs/internals/csp-delivery.md, "Numbering") and keeps the result: the XML and
 * the ObjectIdentifier are fixed at packaging, so a resend is byte-identical and the LEA can
 * recognise it as a duplicate. */
#ifndef LI707_CSP_PACKAGE_H
#define LI707_CSP_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "li707/li707.h"

/* Reference data of one DeliveryObject. Strings are borrowed. */
struct csp_package_ref {
	enum li707_ref_kind kind;   /* LIID (interception) or LDID (disclosure), R-DEL-5 */
	const char *reference;      /* the LIID / LDID */
	const char *delivery_id;    /* DeliveryID: the reference's UUID (R-DEL-6) */
	uint64_t seq;               /* SequenceNumber, 1, 2, 3 ... per reference (R-DEL-6) */
	bool last;                  /* LastSequence: true on the reference's final object only */
	const char *sender_cc;      /* SenderIdentifier = the CSP (R-DEL-3); NULL cc = "XX" */
	const char *sender_id;      /*   its UniqueIdentifier (M) */
	const char *receiver_cc;    /* ReceiverIdentifier the LEA supplied (R-DEL-3) */
	const char *receiver_id;    /*   NULL = "Not specified" */
	const char *etsi_version;   /* the LEA's ETSIVersion; NULL = LI707_ETSI_VERSION_DEFAULT */
};

/* The result: the HI1Message body to POST and its DeliveryObject's ObjectIdentifier. */
struct csp_package_out {
	char object_id[LI707_UUID_LEN + 1];
	char *xml;                  /* owned, NUL-terminated */
	size_t len;
};

/* Encodes one HI1Message: one DELIVER action (ActionIdentifier 0) whose DeliveryObject holds
 * items[0..n) of this one reference in the given order (R-DEL-2): a handoverItem when n is 1,
 * a handoverItemCollection otherwise. The items are borrowed (not changed, not freed).
 * Header and object fields per TS 103 707 Tables 1-3 (R-DEL-3, R-DEL-4, R-DEL-5); a fresh
 * TransactionIdentifier and ObjectIdentifier. The model is checked by the library's encoder
 * (the same rules the LEA decodes with). Returns 0; LI707_EINVAL for bad arguments (n 0,
 * seq 0, no reference/sender/delivery_id); LI707_EINVALID with diagnostics in diags (may be
 * NULL) when an item breaks a rule; LI707_ENOMEM. *out written only on success. */
int csp_package_build(const struct csp_package_ref *r, const struct li707_item *items, size_t n,
		      struct csp_package_out *out, struct li707_diags *diags);

/* Frees out's XML and zeroes it. NULL is a no-op. */
void csp_package_out_done(struct csp_package_out *out);

/* The batching decision: given the sizes (bytes) of the items queued for a reference, in
 * order, how many go into the next DeliveryObject: as many as fit in batch_items and
 * batch_bytes (0 = no byte limit), never fewer than one when n > 0 (an item larger than
 * batch_bytes travels alone rather than never). batch_items 0 counts as 1. */
size_t csp_package_batch_count(const uint64_t *sizes, size_t n, size_t batch_items,
			       uint64_t batch_bytes);

/* Whether the items queued for a reference should be packaged now, or wait for more to fill
 * a bigger collection: now when nothing is to wait for (batch_wait_ms 0, the default that
 * favours latency), when the reference is closing, when a full batch is queued (n >=
 * batch_items, or total_bytes >= batch_bytes when that is set), or when the oldest queued
 * item has waited batch_wait_ms. False when n is 0. */
bool csp_package_batch_due(size_t n, uint64_t total_bytes, int64_t oldest_age_ms,
			   size_t batch_items, uint64_t batch_bytes, int64_t batch_wait_ms,
			   bool closing);

#endif
