/* li707 common - the skeleton of one TS 103 707 delivery message (see delivery_msg.h). */
#include <stdlib.h>
#include <string.h>

#include "delivery_msg.h"

struct li707_delivery *lx_delivery_of(struct li707_message *m)
{
	return m && m->n_actions ? m->actions[0].delivery : NULL;
}

int lx_delivery_message_new(const struct lx_delivery_params *p, size_t n_items,
			    struct li707_message **out)
{
	if (!p || !out || !p->reference || !p->sender_id || n_items == 0)
		return LI707_EINVAL;
	if (p->delivery_id && *p->delivery_id &&
	    (strlen(p->delivery_id) != LI707_UUID_LEN || !li707_check_uuid(p->delivery_id)))
		return LI707_EINVAL;
	struct li707_message *m = li707_message_new();
	int rc;
	if (!m)
		return LI707_ENOMEM;
	/* Table 1 (R-DEL-3): fresh TransactionIdentifier and creation time per message. */
	rc = li707_header_init_defaults(&m->header, p->sender_cc, p->sender_id, p->receiver_cc,
					p->receiver_id);
	if (rc)
		goto fail;
	if (p->etsi_version) { /* per destination */
		char *v = strdup(p->etsi_version);
		if (!v) {
			rc = LI707_ENOMEM;
			goto fail;
		}
		free(m->header.etsi_version);
		m->header.etsi_version = v;
	}
	m->kind = LI707_MSG_REQUEST;
	if (!(m->actions = calloc(1, sizeof *m->actions))) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	m->n_actions = 1;
	struct li707_action *a = &m->actions[0];
	a->action_id = 0;
	a->verb = LI707_VERB_DELIVER;
	if (!(a->delivery = calloc(1, sizeof *a->delivery))) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	struct li707_delivery *d = a->delivery;
	/* Tables 2 and 3 (R-DEL-4, R-DEL-5). */
	if ((rc = li707_delivery_init(d, &m->header, p->kind, p->reference)))
		goto fail;
	/* R-DEL-6: DeliveryID, SequenceNumber, LastSequence. */
	if (p->delivery_id)
		memcpy(d->delivery_id, p->delivery_id, strlen(p->delivery_id) + 1);
	d->has_sequence = true;
	d->sequence = p->seq;
	d->last_sequence = p->last ? LI707_TRUE : LI707_FALSE;
	/* R-DEL-2: one handoverItem, or a collection of items of this one reference. */
	d->payload = n_items == 1 ? LI707_PAYLOAD_ITEM : LI707_PAYLOAD_COLLECTION;
	if (!(d->items = calloc(n_items, sizeof *d->items))) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	d->n_items = n_items;
	*out = m;
	return 0;
fail:
	li707_message_free(m);
	return rc;
}
