/* li707 - allocation, release and defaults of the data model (include/li707/model.h).
 *
 * Every _free/_clear accepts NULL and partially filled structs (NULL arrays with a count,
 * NULL strings), so decoders can bail out at any point and release what they built.
 * The two init functions treat their output as uninitialised (they never free what was in
 * it) and write it only on success: they build into a local struct and move it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct li707_message *li707_message_new(void)
{
	struct li707_message *m = calloc(1, sizeof *m);
	if (m)
		m->kind = LI707_MSG_REQUEST;
	return m;
}

void li707_header_clear(struct li707_header *h)
{
	if (!h)
		return;
	free(h->sender_id);
	free(h->receiver_id);
	free(h->timestamp);
	free(h->etsi_version);
	free(h->np_owner);
	free(h->np_version);
	memset(h, 0, sizeof *h);
}

void li707_party_id_clear(struct li707_party_id *id)
{
	if (!id)
		return;
	free(id->format_owner);
	free(id->format_name);
	free(id->value);
	memset(id, 0, sizeof *id);
}

void li707_party_clear(struct li707_party *p)
{
	if (!p)
		return;
	if (p->ids)
		for (size_t i = 0; i < p->n_ids; i++)
			li707_party_id_clear(&p->ids[i]);
	free(p->ids);
	memset(p, 0, sizeof *p);
}

void li707_binary_object_clear(struct li707_binary_object *b)
{
	if (!b)
		return;
	free(b->url);
	free(b->content_type);
	free(b->expiry);
	free(b->checksum);
	free(b->original_filename);
	free(b->csp_defined_identifier);
	memset(b, 0, sizeof *b);
}

void li707_csp_data_clear(struct li707_csp_data *c)
{
	if (!c)
		return;
	free(c->schema_id);
	free(c->schema_url);
	free(c->schema_content);
	free(c->xml);
	memset(c, 0, sizeof *c);
}

void li707_item_clear(struct li707_item *it)
{
	if (!it)
		return;
	if (it->sender) {
		li707_party_clear(it->sender);
		free(it->sender);
	}
	if (it->receivers)
		for (size_t i = 0; i < it->n_receivers; i++)
			li707_party_clear(&it->receivers[i]);
	free(it->receivers);
	free(it->timestamp);
	if (it->attachments)
		for (size_t i = 0; i < it->n_attachments; i++)
			li707_binary_object_clear(&it->attachments[i]);
	free(it->attachments);
	free(it->glossary);
	if (it->csp)
		for (size_t i = 0; i < it->n_csp; i++)
			li707_csp_data_clear(&it->csp[i]);
	free(it->csp);
	memset(it, 0, sizeof *it);
}

void li707_delivery_free(struct li707_delivery *d)
{
	if (!d)
		return;
	free(d->owner_id);
	free(d->reference);
	free(d->manifest_owner);
	free(d->manifest_name);
	free(d->manifest_value);
	free(d->foreign_root);
	if (d->items)
		for (size_t i = 0; i < d->n_items; i++)
			li707_item_clear(&d->items[i]);
	free(d->items);
	free(d);
}

void li707_action_response_clear(struct li707_action_response *r)
{
	if (!r)
		return;
	free(r->error_description);
	memset(r, 0, sizeof *r);
}

void li707_message_free(struct li707_message *m)
{
	if (!m)
		return;
	li707_header_clear(&m->header);
	if (m->actions)
		for (size_t i = 0; i < m->n_actions; i++)
			li707_delivery_free(m->actions[i].delivery);
	free(m->actions);
	if (m->responses)
		for (size_t i = 0; i < m->n_responses; i++)
			li707_action_response_clear(&m->responses[i]);
	free(m->responses);
	free(m->error_description);
	free(m);
}

/* Copies a two-letter country code into a char[3]; EINVAL when it is not two bytes.
 * Whether it is a real ISO code is the checker's business (R-DEL-3 allows "XX"). */
static int set_cc(char dst[3], const char *cc)
{
	if (strlen(cc) != 2)
		return LI707_EINVAL;
	dst[0] = cc[0];
	dst[1] = cc[1];
	dst[2] = '\0';
	return 0;
}

/* TS103707 Table 1, R-DEL-3 */
int li707_header_init_defaults(struct li707_header *h, const char *sender_cc,
			       const char *sender_id, const char *receiver_cc,
			       const char *receiver_id)
{
	if (!h || !sender_id)
		return LI707_EINVAL; /* SenderIdentifier/UniqueIdentifier has no default */
	struct li707_header t;
	memset(&t, 0, sizeof t);
	int rc = set_cc(t.sender_cc, sender_cc ? sender_cc : LI707_COUNTRY_DEFAULT);
	if (rc == 0)
		rc = set_cc(t.receiver_cc, receiver_cc ? receiver_cc : LI707_COUNTRY_DEFAULT);
	if (rc != 0)
		return rc;
	/* TransactionIdentifier: a fresh UUID per message (TS 103 120 clause 6.2) */
	rc = li707_uuid_new(t.transaction_id);
	if (rc != 0)
		return rc;
	struct li707_time now;
	char ts[33];
	rc = li707_time_now(&now);
	if (rc == 0)
		rc = li707_time_format(&now, true, ts);
	if (rc != 0)
		return rc;
	t.sender_id = li707__strdup(sender_id);
	t.receiver_id = li707__strdup(receiver_id ? receiver_id : LI707_RECEIVER_ID_DEFAULT);
	t.timestamp = li707__strdup(ts);
	t.etsi_version = li707__strdup(LI707_ETSI_VERSION_DEFAULT);
	t.np_owner = li707__strdup(LI707_NATIONAL_PROFILE_NONE);
	t.np_version = li707__strdup(LI707_NATIONAL_PROFILE_NONE);
	if (!t.sender_id || !t.receiver_id || !t.timestamp || !t.etsi_version || !t.np_owner ||
	    !t.np_version) {
		li707_header_clear(&t);
		return LI707_ENOMEM;
	}
	*h = t;
	return 0;
}

/* True when ETSIVersion v ("V<n>.<n>.<n>") is at least min; false for a malformed v. */
static bool version_at_least(const char *v, const char *min)
{
	unsigned long a[3], b[3];
	if (!v || sscanf(v, "V%lu.%lu.%lu", &a[0], &a[1], &a[2]) != 3 ||
	    sscanf(min, "V%lu.%lu.%lu", &b[0], &b[1], &b[2]) != 3)
		return false;
	for (int i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return true;
}

/* TS103707 Table 2 (R-DEL-4) and Table 3 (R-DEL-5) */
int li707_delivery_init(struct li707_delivery *d, const struct li707_header *h,
			enum li707_ref_kind kind, const char *reference)
{
	if (!d || !h || !h->receiver_id || !reference ||
	    (kind != LI707_REF_LIID && kind != LI707_REF_LDID))
		return LI707_EINVAL;
	struct li707_delivery t;
	memset(&t, 0, sizeof t);
	int rc = set_cc(t.country_code, h->receiver_cc);
	if (rc != 0)
		return rc;
	rc = li707_uuid_new(t.object_id);
	if (rc != 0)
		return rc;
	memcpy(t.identifier, t.object_id, sizeof t.identifier); /* DELIVER Identifier */
	t.ref_kind = kind;
	t.delivery_id[0] = '\0';
	t.has_sequence = false;
	t.last_sequence = LI707_ABSENT;
	/* The Manifest value TS103707 exists from TS 103 120 V1.14.1 on: the pair stays
	 * consistent with whatever ETSIVersion the header claims. */
	bool manifest = version_at_least(h->etsi_version, LI707_ETSI_VERSION_MANIFEST_707);
	t.manifest = manifest ? LI707_MANIFEST_SPECIFICATION : LI707_MANIFEST_NONE;
	t.payload = LI707_PAYLOAD_ITEM;
	t.owner_id = li707__strdup(h->receiver_id);
	t.reference = li707__strdup(reference);
	if (manifest) {
		t.manifest_owner = li707__strdup(LI707_MANIFEST_OWNER);
		t.manifest_name = li707__strdup(LI707_MANIFEST_NAME);
		t.manifest_value = li707__strdup(LI707_MANIFEST_VALUE);
	}
	if (!t.owner_id || !t.reference ||
	    (manifest && (!t.manifest_owner || !t.manifest_name || !t.manifest_value))) {
		free(t.owner_id);
		free(t.reference);
		free(t.manifest_owner);
		free(t.manifest_name);
		free(t.manifest_value);
		return LI707_ENOMEM;
	}
	*d = t;
	return 0;
}
