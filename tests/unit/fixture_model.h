/* A complete, valid model of a TS 103 707 delivery for the unit tests (test_check,
 * test_encode): every field set, fixed UUIDs and timestamps so that encoded output is
 * reproducible byte for byte (tests/data/encode/full.xml).
 *
 * Functions are static inline so that a test using only some of them compiles cleanly. */
#ifndef LI707_FIXTURE_MODEL_H
#define LI707_FIXTURE_MODEL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define FX_TRANSACTION_ID "3f1c2a9e-7b44-4d2c-9a51-0c8e6f1d2b7a"
#define FX_TIMESTAMP "2024-05-01T12:00:00.123456Z"
#define FX_OBJECT_ID "5d0a4c3e-2f61-4b8a-8e7d-1a2b3c4d5e6f"
#define FX_OBJECT_ID2 "6e1b5d4f-3072-4c9b-9f8e-2b3c4d5e6f70"
#define FX_DELIVERY_ID "9b8c7d6e-5f40-4a31-b2c3-d4e5f6a7b8c9"
#define FX_ITEM_TIME "2024-05-01T11:59:58+02:00"
#define FX_LIID "LIID-0001"

/* CSP XML exercising what must survive byte for byte: single-quoted attributes, its own
 * default namespace, a prefixed namespace, a comment, CDATA, a character reference, an
 * empty element and odd whitespace. */
#define FX_CSP_XML                                                                          \
	"<ev:event xmlns:ev='urn:example:csp:events:1' xmlns='urn:example:csp:plain'>"      \
	"<!-- csp comment --><ev:type  kind='read' >message-read</ev:type>"                 \
	"<thread><![CDATA[a <b> & c]]></thread><n>&#233;t&#xE9;</n><empty/>\n"              \
	"\t</ev:event>"
#define FX_SCHEMA_CONTENT                                                                   \
	"<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "                         \
	"targetNamespace=\"urn:example:csp:events:1\"><xs:element name=\"event\"/>"         \
	"</xs:schema>"
#define FX_GLOSSARY "<g:term xmlns:g=\"urn:example:glossary\" g:lang=\"en\">chat</g:term>"

static inline char *fx_strdup(const char *s)
{
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

static inline void *fx_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	assert_non_null(p);
	return p;
}

/* A UUID that differs per (variant, n), deterministic. */
static inline void fx_uuid(char out[37], unsigned variant, unsigned n)
{
	snprintf(out, 37, "%08x-0000-4000-8000-%012x", 0xa0000000u + variant, n);
}

static inline void fx_id(struct li707_party_id *id, bool qualified, const char *owner,
			 const char *name, const char *value)
{
	id->qualified = qualified;
	id->format_owner = owner ? fx_strdup(owner) : NULL;
	id->format_name = name ? fx_strdup(name) : NULL;
	id->value = fx_strdup(value);
}

/* An item with every field; variant/idx make urls unique across items and actions. */
static inline void fx_fill_item(struct li707_item *it, unsigned variant, unsigned idx)
{
	char buf[160], uuid[37];
	memset(it, 0, sizeof *it);
	it->has_correlation = true;
	it->app_level_id = 7;
	it->app_seq = idx;

	it->sender = fx_calloc(1, sizeof *it->sender);
	it->sender->n_ids = 2;
	it->sender->ids = fx_calloc(2, sizeof *it->sender->ids);
	fx_id(&it->sender->ids[0], false, NULL, NULL, "alice@example.com");
	fx_id(&it->sender->ids[1], true, "ETSI", "InternationalE164", "491701234567");
	it->sender->targeted = LI707_TRUE;

	it->n_receivers = 2;
	it->receivers = fx_calloc(2, sizeof *it->receivers);
	it->receivers[0].n_ids = 1;
	it->receivers[0].ids = fx_calloc(1, sizeof *it->receivers[0].ids);
	fx_id(&it->receivers[0].ids[0], false, NULL, NULL, "bob & <carol> \"quoted\" \xc3\xa9");
	it->receivers[0].targeted = LI707_ABSENT;
	it->receivers[1].n_ids = 1;
	it->receivers[1].ids = fx_calloc(1, sizeof *it->receivers[1].ids);
	fx_id(&it->receivers[1].ids[0], true, NULL, NULL, "dave-1234");
	it->receivers[1].targeted = LI707_FALSE;

	it->timestamp = fx_strdup(FX_ITEM_TIME);

	it->n_attachments = 3;
	it->attachments = fx_calloc(3, sizeof *it->attachments);
	for (unsigned k = 0; k < 3; k++) {
		fx_uuid(uuid, variant, idx * 10 + k);
		snprintf(buf, sizeof buf, "https://csp.example.com/binaryData/%s", uuid);
		it->attachments[k].url = fx_strdup(buf);
	}
	struct li707_binary_object *b = &it->attachments[0];
	b->has_content_length = true;
	b->content_length = 123456;
	b->content_type = fx_strdup("image/jpeg");
	b->expiry = fx_strdup("2024-05-08T12:00:00Z");
	b->checksum = fx_strdup("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	b->original_filename = fx_strdup("holiday photo.jpg");
	b->csp_defined_identifier = fx_strdup("att-1");
	it->attachments[2].content_type = fx_strdup("text/plain; charset=utf-8");
	it->attachments[2].has_content_length = true;
	it->attachments[2].content_length = 0;

	it->glossary = fx_strdup(FX_GLOSSARY);

	it->n_csp = 2;
	it->csp = fx_calloc(2, sizeof *it->csp);
	it->csp[0].schema_id = fx_strdup("urn:example:csp:events:1");
	it->csp[0].schema_url = fx_strdup("https://csp.example.com/schemas/events-1.xsd");
	it->csp[0].schema_content = fx_strdup(FX_SCHEMA_CONTENT);
	it->csp[0].xml = fx_strdup(FX_CSP_XML);
	it->csp[1].schema_id = fx_strdup("urn:example:csp:events:1");
}

/* A DeliveryObject for h with n items (ITEM when n == 1 and !collection). */
static inline struct li707_delivery *fx_delivery(const struct li707_header *h, unsigned variant,
						 size_t n, bool collection)
{
	struct li707_delivery *d = fx_calloc(1, sizeof *d);
	assert_int_equal(li707_delivery_init(d, h, LI707_REF_LIID, FX_LIID), 0);
	if (variant == 0) {
		memcpy(d->object_id, FX_OBJECT_ID, sizeof d->object_id);
	} else {
		fx_uuid(d->object_id, variant, 999);
	}
	memcpy(d->identifier, d->object_id, sizeof d->identifier);
	memcpy(d->delivery_id, FX_DELIVERY_ID, sizeof d->delivery_id);
	d->has_sequence = true;
	d->sequence = 1 + variant;
	d->last_sequence = LI707_TRUE;
	d->payload = collection ? LI707_PAYLOAD_COLLECTION : LI707_PAYLOAD_ITEM;
	d->n_items = n;
	d->items = fx_calloc(n, sizeof *d->items);
	for (size_t i = 0; i < n; i++)
		fx_fill_item(&d->items[i], variant, (unsigned)i);
	return d;
}

static inline void fx_header(struct li707_header *h)
{
	assert_int_equal(li707_header_init_defaults(h, "DE", "CSP-0001", "DE", "LEA-0042"), 0);
	memcpy(h->transaction_id, FX_TRANSACTION_ID, sizeof h->transaction_id);
	free(h->timestamp);
	h->timestamp = fx_strdup(FX_TIMESTAMP);
}

/* A request with n_actions DELIVER actions (ids 0..n-1), each a single handoverItem. */
static inline struct li707_message *fx_request(size_t n_actions)
{
	struct li707_message *m = li707_message_new();
	assert_non_null(m);
	fx_header(&m->header);
	m->kind = LI707_MSG_REQUEST;
	m->n_actions = n_actions;
	m->actions = fx_calloc(n_actions, sizeof *m->actions);
	for (size_t i = 0; i < n_actions; i++) {
		m->actions[i].action_id = i;
		m->actions[i].verb = LI707_VERB_DELIVER;
		m->actions[i].delivery = fx_delivery(&m->header, (unsigned)i, 1, false);
	}
	return m;
}

/* The full message: one action, one item with every field. */
static inline struct li707_message *fx_full(void)
{
	return fx_request(1);
}

/* Replaces the delivery of action 0 by a collection of n items. */
static inline void fx_make_collection(struct li707_message *m, size_t n)
{
	li707_delivery_free(m->actions[0].delivery);
	m->actions[0].delivery = fx_delivery(&m->header, 0, n, true);
}

/* Drops every post-V1.1.1 feature of an item: no timestamp, plain identifiers only. */
static inline void fx_make_v111(struct li707_item *it)
{
	free(it->timestamp);
	it->timestamp = NULL;
	struct li707_party *parties[3] = {it->sender, &it->receivers[0], &it->receivers[1]};
	for (size_t p = 0; p < 3; p++)
		for (size_t i = 0; i < parties[p]->n_ids; i++) {
			struct li707_party_id *id = &parties[p]->ids[i];
			id->qualified = false;
			free(id->format_owner);
			free(id->format_name);
			id->format_owner = id->format_name = NULL;
		}
}

static inline void fx_set(char **field, const char *value)
{
	free(*field);
	*field = value ? fx_strdup(value) : NULL;
}

/* A string of n copies of c (caller frees). */
static inline char *fx_repeat(char c, size_t n)
{
	char *s = fx_calloc(n + 1, 1);
	memset(s, c, n);
	return s;
}

#endif
