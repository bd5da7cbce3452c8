/* li707-csp - packaging (csp_package.h): events of one reference -> one DeliveryObject.
 *
 * DESIGN
 * The message skeleton (header, DELIVER action, DeliveryObject fields, numbering) comes from
 * lx_delivery_message_new (src/common/delivery_msg.c), the same code `li707 build` uses. The
 * caller's items are borrowed: they are copied shallowly into the message for the encoder and
 * taken out again before the message is freed, so nothing of the caller's is changed or freed
 * and no deep copy is made. The numbering is the caller's (docs/internals/csp-delivery.md). */
#include <stdlib.h>
#include <string.h>

#include "csp_package.h"
#include "delivery_msg.h"

int csp_package_build(const struct csp_package_ref *r, const struct li707_item *items, size_t n,
		      struct csp_package_out *out, struct li707_diags *diags)
{
	if (!r || !out || !items || n == 0 || r->seq == 0 || !r->delivery_id || !*r->delivery_id)
		return LI707_EINVAL;
	const struct lx_delivery_params p = {
		.kind = r->kind,
		.reference = r->reference,
		.delivery_id = r->delivery_id,
		.seq = r->seq,
		.last = r->last,
		.sender_cc = r->sender_cc,
		.sender_id = r->sender_id,
		.receiver_cc = r->receiver_cc,
		.receiver_id = r->receiver_id,
		.etsi_version = r->etsi_version,
	};
	struct li707_message *m = NULL;
	int rc = lx_delivery_message_new(&p, n, &m);
	if (rc)
		return rc;
	struct li707_delivery *d = lx_delivery_of(m);
	memcpy(d->items, items, n * sizeof *items); /* borrowed, taken out below */
	char *xml = NULL;
	size_t len = 0;
	rc = li707_message_encode(m, &xml, &len, diags);
	memset(d->items, 0, n * sizeof *items);
	if (!rc) {
		memcpy(out->object_id, d->object_id, sizeof out->object_id);
		out->xml = xml;
		out->len = len;
	}
	li707_message_free(m);
	return rc;
}

void csp_package_out_done(struct csp_package_out *out)
{
	if (!out)
		return;
	free(out->xml);
	memset(out, 0, sizeof *out);
}

size_t csp_package_batch_count(const uint64_t *sizes, size_t n, size_t batch_items,
			       uint64_t batch_bytes)
{
	if (n == 0 || !sizes)
		return 0;
	if (batch_items == 0)
		batch_items = 1;
	size_t k = 1;
	uint64_t total = sizes[0];
	while (k < n && k < batch_items) {
		if (batch_bytes && (total >= batch_bytes || sizes[k] > batch_bytes - total))
			break;
		total += sizes[k];
		k++;
	}
	return k;
}

bool csp_package_batch_due(size_t n, uint64_t total_bytes, int64_t oldest_age_ms,
			   size_t batch_items, uint64_t batch_bytes, int64_t batch_wait_ms,
			   bool closing)
{
	if (n == 0)
		return false;
	if (closing || batch_wait_ms <= 0)
		return true;
	if (n >= (batch_items ? batch_items : 1))
		return true;
	if (batch_bytes && total_bytes >= batch_bytes)
		return true;
	return oldest_age_ms >= batch_wait_ms;
}
