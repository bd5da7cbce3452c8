/* Unit tests of src/lib/model.c (defaults of TS 103 707 Tables 1-3), src/lib/diag.c and
 * src/lib/linemap.c. Run under ASan to catch leaks in the partial-struct frees. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void test_del3_header_defaults(void **state)
{
	struct li707_header h;
	memset(&h, 0, sizeof h);
	assert_int_equal(li707_header_init_defaults(&h, NULL, "CSP-1", NULL, NULL), 0);
	assert_string_equal(h.sender_cc, "XX");
	assert_string_equal(h.sender_id, "CSP-1");
	assert_string_equal(h.receiver_cc, LI707_COUNTRY_DEFAULT);
	assert_string_equal(h.receiver_id, "Not specified");
	assert_true(li707_check_uuid(h.transaction_id));
	assert_non_null(h.timestamp);
	struct li707_time t;
	if (!li707_parse_qualified_usec_datetime(h.timestamp, &t))
		fail_msg("timestamp \"%s\" is not a QualifiedMicrosecondDateTime", h.timestamp);
	assert_int_equal(t.offset_min, 0);
	assert_int_equal(h.timestamp[strlen(h.timestamp) - 1], 'Z');
	struct li707_time now;
	assert_int_equal(li707_time_now(&now), 0);
	assert_true(now.epoch - t.epoch >= 0 && now.epoch - t.epoch < 5);
	assert_string_equal(h.etsi_version, "V1.14.1"); /* names TS103707 (docs/schemas.md) */
	assert_true(li707_check_etsi_version(h.etsi_version));
	assert_string_equal(h.np_owner, "N/A");
	assert_string_equal(h.np_version, "N/A");

	struct li707_header h2;
	memset(&h2, 0, sizeof h2);
	assert_int_equal(li707_header_init_defaults(&h2, "GB", "CSP-1", "FR", "LEA-7"), 0);
	assert_string_equal(h2.sender_cc, "GB");
	assert_string_equal(h2.receiver_cc, "FR");
	assert_string_equal(h2.receiver_id, "LEA-7");
	assert_string_not_equal(h.transaction_id, h2.transaction_id); /* fresh per message */
	li707_header_clear(&h);
	li707_header_clear(&h2);
	assert_null(h.sender_id);
	assert_int_equal(h.transaction_id[0], '\0');
}

static void test_del3_header_bad_args(void **state)
{
	struct li707_header h;
	memset(&h, 0x5a, sizeof h);
	/* SenderIdentifier has no default. */
	assert_int_equal(li707_header_init_defaults(&h, "GB", NULL, NULL, NULL), LI707_EINVAL);
	assert_int_equal(li707_header_init_defaults(&h, "GBR", "CSP", NULL, NULL), LI707_EINVAL);
	assert_int_equal(li707_header_init_defaults(&h, "GB", "CSP", "F", NULL), LI707_EINVAL);
	assert_int_equal(li707_header_init_defaults(NULL, "GB", "CSP", NULL, NULL), LI707_EINVAL);
	/* Outputs written only on success. */
	for (size_t i = 0; i < sizeof h; i++)
		assert_int_equal(((unsigned char *)&h)[i], 0x5a);
}

static void test_del4_delivery_init(void **state)
{
	struct li707_header h;
	memset(&h, 0, sizeof h);
	assert_int_equal(li707_header_init_defaults(&h, "GB", "CSP-1", "FR", "LEA-7"), 0);
	struct li707_delivery *d = calloc(1, sizeof *d);
	assert_non_null(d);
	assert_int_equal(li707_delivery_init(d, &h, LI707_REF_LIID, "LIID-42"), 0);
	/* R-DEL-4: CountryCode and OwnerIdentifier are the receiver's. */
	assert_string_equal(d->country_code, "FR");
	assert_string_equal(d->owner_id, "LEA-7");
	assert_true(li707_check_uuid(d->object_id));
	assert_string_equal(d->identifier, d->object_id);
	assert_int_equal(d->ref_kind, LI707_REF_LIID);
	assert_string_equal(d->reference, "LIID-42");
	assert_string_equal(d->delivery_id, "");
	assert_false(d->has_sequence);
	assert_int_equal(d->last_sequence, LI707_ABSENT);
	/* R-DEL-5: the Manifest names TS 103 707. */
	assert_int_equal(d->manifest, LI707_MANIFEST_SPECIFICATION);
	assert_string_equal(d->manifest_owner, "ETSI");
	assert_string_equal(d->manifest_name, "ManifestSpecification");
	assert_string_equal(d->manifest_value, "TS103707");
	assert_int_equal(d->payload, LI707_PAYLOAD_ITEM);
	assert_null(d->items);
	assert_null(d->foreign_root);
	li707_delivery_free(d);

	d = calloc(1, sizeof *d);
	assert_non_null(d);
	assert_int_equal(li707_delivery_init(d, &h, LI707_REF_LDID, "GB-csp-1"), 0);
	assert_int_equal(d->ref_kind, LI707_REF_LDID);
	assert_int_equal(li707_delivery_init(d, &h, LI707_REF_LDID, NULL), LI707_EINVAL);
	li707_delivery_free(d);
	li707_header_clear(&h);
}

/* ETSIVersion and Manifest agree: the ManifestSpecification value TS103707 exists from
 * TS 103 120 V1.14.1 on, so a delivery for an older version carries no Manifest (Table 3:
 * O), a newer one does; a malformed version gets none. */
static void test_del5_manifest_follows_etsi_version(void **state)
{
	static const struct {
		const char *version;
		bool manifest;
	} t[] = {
		{"V1.12.1", false}, {"V1.13.9", false}, {"V1.9.20", false}, {"V1.14.1", true},
		{"V1.14.0", false}, {"V1.17.1", true}, {"V1.100.1", true}, {"V2.0.0", true},
		{"1.14.1", false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct li707_header h;
		assert_int_equal(li707_header_init_defaults(&h, "GB", "CSP-1", NULL, NULL), 0);
		free(h.etsi_version);
		h.etsi_version = strdup(t[i].version);
		struct li707_delivery *d = calloc(1, sizeof *d);
		assert_non_null(d);
		assert_int_equal(li707_delivery_init(d, &h, LI707_REF_LIID, "LIID-42"), 0);
		if ((d->manifest == LI707_MANIFEST_SPECIFICATION) != t[i].manifest)
			fail_msg("%s: manifest %d", t[i].version, (int)d->manifest);
		if (t[i].manifest)
			assert_string_equal(d->manifest_value, LI707_MANIFEST_VALUE);
		else
			assert_null(d->manifest_value);
		li707_delivery_free(d);
		li707_header_clear(&h);
	}
}

/* Builds an item with a bit of everything, some arrays only partly filled. */
static void fill_item(struct li707_item *it)
{
	it->timestamp = strdup("2024-01-01T00:00:00Z");
	it->sender = calloc(1, sizeof *it->sender);
	it->sender->n_ids = 2;
	it->sender->ids = calloc(2, sizeof *it->sender->ids);
	it->sender->ids[0].value = strdup("a");
	it->sender->ids[0].format_owner = strdup("ETSI");
	/* ids[1] left empty */
	it->n_receivers = 3;
	it->receivers = calloc(3, sizeof *it->receivers);
	it->receivers[1].n_ids = 1;
	it->receivers[1].ids = calloc(1, sizeof *it->receivers[1].ids);
	it->receivers[1].ids[0].value = strdup("b");
	it->n_attachments = 2;
	it->attachments = calloc(2, sizeof *it->attachments);
	it->attachments[0].url = strdup("https://x/1");
	it->attachments[1].checksum = strdup("00");
	it->glossary = strdup("<g/>");
	it->n_csp = 1;
	it->csp = calloc(1, sizeof *it->csp);
	it->csp[0].schema_id = strdup("s");
	it->csp[0].xml = strdup("<x/>");
}

static void test_model_free_partial(void **state)
{
	/* NULLs everywhere are accepted. */
	li707_message_free(NULL);
	li707_delivery_free(NULL);
	li707_header_clear(NULL);
	li707_item_clear(NULL);
	li707_party_clear(NULL);
	li707_party_id_clear(NULL);
	li707_binary_object_clear(NULL);
	li707_csp_data_clear(NULL);
	li707_action_response_clear(NULL);

	struct li707_message *m = li707_message_new();
	assert_non_null(m);
	assert_int_equal(m->kind, LI707_MSG_REQUEST);
	m->header.sender_id = strdup("csp");
	m->n_actions = 3;
	m->actions = calloc(3, sizeof *m->actions);
	m->actions[0].delivery = calloc(1, sizeof *m->actions[0].delivery);
	struct li707_delivery *d = m->actions[0].delivery;
	d->reference = strdup("L");
	d->n_items = 2;
	d->items = calloc(2, sizeof *d->items);
	fill_item(&d->items[0]);
	/* action 1 has no delivery, action 2 a delivery with a count but no array */
	m->actions[2].delivery = calloc(1, sizeof *m->actions[2].delivery);
	m->actions[2].delivery->n_items = 5;
	m->n_responses = 2;
	m->responses = calloc(2, sizeof *m->responses);
	m->responses[0].error_description = strdup("bad");
	m->error_description = strdup("top");
	li707_message_free(m);

	/* Counts without arrays. */
	struct li707_item it = {.n_receivers = 4, .n_attachments = 2, .n_csp = 1};
	li707_item_clear(&it);
	struct li707_party p = {.n_ids = 9};
	li707_party_clear(&p);
	struct li707_message *m2 = li707_message_new();
	m2->n_actions = 2;
	m2->n_responses = 2;
	li707_message_free(m2);

	/* _clear leaves the struct zeroed. */
	struct li707_item it2;
	memset(&it2, 0, sizeof it2);
	fill_item(&it2);
	li707_item_clear(&it2);
	struct li707_item zero;
	memset(&zero, 0, sizeof zero);
	assert_memory_equal(&it2, &zero, sizeof zero);
}

static void test_diags_cap(void **state)
{
	struct li707_diags d;
	memset(&d, 0, sizeof d);
	for (int i = 0; i < 10; i++)
		assert_int_equal(li707_diags_add(&d, 4, i % 2 ? LI707_SEV_NOTE : LI707_SEV_ERROR,
						 i % 2 ? 0 : LI707_EINVALID, i, "/a/b", "R-CORE-2",
						 LI707__NO_ACTION, "finding %d of %s", i, "ten"), 0);
	assert_int_equal(d.n, 4);
	assert_int_equal(d.dropped, 6);
	assert_int_equal(d.n_errors, 5);
	assert_string_equal(d.v[3].message, "finding 3 of ten");
	assert_string_equal(d.v[0].path, "/a/b");
	assert_string_equal(d.v[0].req, "R-CORE-2");
	assert_int_equal(d.v[2].line, 2);
	assert_int_equal(d.v[0].code, LI707_EINVALID);
	li707_diags_clear(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.v);

	/* cap 0 means 100; NULL path/req are kept as NULL. */
	for (int i = 0; i < 150; i++)
		li707_diags_add(&d, 0, LI707_SEV_WARNING, 0, 0, NULL, NULL, 3, "w");
	assert_int_equal(d.n, 100);
	assert_int_equal(d.dropped, 50);
	assert_int_equal(d.n_errors, 0);
	assert_null(d.v[99].path);
	assert_int_equal(d.v[99].action, 3);
	li707_diags_clear(&d);
	li707_diags_clear(NULL);
	assert_int_equal(li707_diags_add(NULL, 0, LI707_SEV_ERROR, 0, 0, NULL, NULL, 0, "x"), 0);
}

static void test_limits_resolve(void **state)
{
	struct li707_limits l;
	memset(&l, 0, sizeof l);
	l.max_depth = 7;
	li707_limits_resolve(&l);
	assert_int_equal(l.max_document_bytes, 64u << 20);
	assert_int_equal(l.max_depth, 7);
	assert_int_equal(l.max_actions, 1000);
	assert_int_equal(l.max_items, 100000);
	assert_int_equal(l.max_attachments, 1000);
	assert_int_equal(l.max_identifiers, 1000);
	assert_int_equal(l.max_string_bytes, 65535);
	assert_int_equal(l.max_raw_xml_bytes, 4u << 20);
	assert_int_equal(l.max_diagnostics, 100);
	li707_limits_resolve(NULL);
}

static void test_linemap(void **state)
{
	enum { N = 5000 };
	struct li707__linemap *m = li707__linemap_new(N + 1); /* N puts and one replace */
	assert_non_null(m);
	char *keys = malloc(N);
	assert_non_null(keys);
	for (long i = 0; i < N; i++)
		assert_int_equal(li707__linemap_put(m, keys + i, i + 1), 0);
	for (long i = 0; i < N; i++) {
		long got = li707__linemap_get(m, keys + i);
		if (got != i + 1)
			fail_msg("key %ld: expected line %ld, got %ld", i, i + 1, got);
	}
	assert_int_equal(li707__linemap_put(m, keys + 7, 99), 0); /* replace */
	assert_int_equal(li707__linemap_get(m, keys + 7), 99);
	/* the cap set at creation: one more put is refused, what is there stays */
	assert_int_equal(li707__linemap_put(m, keys + 8, 5), LI707_ELIMIT);
	assert_int_equal(li707__linemap_get(m, keys + 8), 9);
	int other;
	assert_int_equal(li707__linemap_get(m, &other), 0);
	assert_int_equal(li707__linemap_get(m, NULL), 0);
	assert_int_equal(li707__linemap_get(NULL, keys), 0);
	assert_int_equal(li707__linemap_put(m, NULL, 1), LI707_EINVAL);
	li707__linemap_free(m);
	li707__linemap_free(NULL);
	free(keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_del3_header_defaults),
		cmocka_unit_test(test_del3_header_bad_args),
		cmocka_unit_test(test_del4_delivery_init),
		cmocka_unit_test(test_del5_manifest_follows_etsi_version),
		cmocka_unit_test(test_model_free_partial),
		cmocka_unit_test(test_diags_cap),
		cmocka_unit_test(test_limits_resolve),
		cmocka_unit_test(test_linemap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
