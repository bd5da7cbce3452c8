/* li707 common - the skeleton of one TS 103 707 delivery message: an HI1Message request with
 * one DELIVER action and its DeliveryObject, numbered per reference. Shared by `li707 build`
 * (src/tools/cmd_build.c) and the CSP agent's packaging (src/csp/csp_package.c) so that both
 * fill Tables 1-3 the same way. Nothing here logs or does I/O. */
#ifndef LX_COMMON_DELIVERY_MSG_H
#define LX_COMMON_DELIVERY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "li707/li707.h"

/* What a delivery message is about. Strings are borrowed (copied into the message). */
struct lx_delivery_params {
	enum li707_ref_kind kind;  /* LIID or LDID (R-DEL-5) */
	const char *reference;     /* the LIID / LDID value (M) */
	const char *delivery_id;   /* DeliveryID, a UUID; NULL or "" = absent (R-DEL-6) */
	uint64_t seq;              /* SequenceNumber (from 1 in ETSI's examples) */
	bool last;                 /* LastSequence true (else false) */
	const char *sender_cc;     /* SenderIdentifier CountryCode; NULL = "XX" (R-DEL-3) */
	const char *sender_id;     /* SenderIdentifier UniqueIdentifier (M) */
	const char *receiver_cc;   /* ReceiverIdentifier; NULL = "XX" */
	const char *receiver_id;   /* NULL = "Not specified" */
	const char *etsi_version;  /* NULL = LI707_ETSI_VERSION_DEFAULT */
};

/* A new request message (*out) with one DELIVER action (ActionIdentifier 0) whose
 * DeliveryObject has the Table 1-3 fields from p (fresh TransactionIdentifier, creation time
 * and ObjectIdentifier), payload ITEM when n_items is 1 and COLLECTION otherwise, and
 * n_items zeroed items for the caller to fill (move items in: the message owns them).
 * n_items 0 is refused (TS 103 707 Table 3: Delivery is mandatory). Returns 0, LI707_EINVAL
 * (bad arguments: no reference or sender, bad UUID), LI707_ENOMEM. *out written only on
 * success. */
int lx_delivery_message_new(const struct lx_delivery_params *p, size_t n_items,
			    struct li707_message **out);

/* The DELIVER's DeliveryObject of a message made by lx_delivery_message_new(). */
struct li707_delivery *lx_delivery_of(struct li707_message *m);

#endif
