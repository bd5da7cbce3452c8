/* li707-csp packaging (src/csp/csp_package.c): events of one reference -> one encoded
 * DeliveryObject, checked by decoding it again (li707_message_decode, the LEA's strict decoder)
 * and, independently, by xmllint against the official TS 103 120 V1.12.1 XSDs plus
 * schemas/ts_103707.xsd (skipped with a message when ../shared/schemas is absent); and the
 * batching decision (batch_items, batch_bytes, batch_wait). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csp_package.h"
#include "events.h"
#include "testutil.h"

#define DELIVERY_ID "7c0d5b4e-2f7a-4a51-9a55-6f0c1d2e3f40"

/* Events as the CSP agent receives them (docs/events.md), parsed by src/common/events.c. */
static const char *const events_li[] = {
	"{\"liid\":\"ACME-LI-0042\",\"timestamp\":\"2026-03-01T10:15:30+01:00\","
	"\"sender\":{\"ids\":[{\"format\":\"InternationalE164\",\"value\":\"447700900123\"}],"
	"\"target\":true},\"correlation\":{\"id\":0,\"seq\":0}}",
	"{\"liid\":\"ACME-LI-0042\",\"timestamp\":\"2026-03-01T10:15:31+01:00\","
	"\"correlation\":{\"id\":0,\"seq\":1}}",
	"{\"liid\":\"ACME-LI-0042\",\"timestamp\":\"2026-03-01T10:15:32+01:00\","
	"\"correlation\":{\"id\":1,\"seq\":0},"
	"\"csp\":{\"schema\":\"urn:example:csp:chat:1\",\"xml\":\"<x:m xmlns:x='urn:example:csp:chat:1'>t</x:m>\"}}",
};

struct items {
	struct lx_event ev[8];
	struct li707_item it[8];
	size_t n;
};

static void items_parse(struct items *s, const char *const *lines, size_t n)
{
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < n; i++) {
		char err[LX_EVENT_ERR_LEN] = "";
		int rc = lx_event_parse(lines[i], strlen(lines[i]), NULL, &s->ev[i], err, sizeof err);
		if (rc)
			fail_msg("event %zu: %s", i, err);
		s->it[i] = s->ev[i].item; /* the event keeps ownership */
	}
	s->n = n;
}

static void items_done(struct items *s)
{
	for (size_t i = 0; i < s->n; i++)
		lx_event_clear(&s->ev[i]);
}

static struct csp_package_ref ref_li(uint64_t seq, bool last)
{
	return (struct csp_package_ref){
		.kind = LI707_REF_LIID, .reference = "ACME-LI-0042", .delivery_id = DELIVERY_ID,
		.seq = seq, .last = last, .sender_cc = "GB", .sender_id = "acme-csp",
		.receiver_cc = "FR", .receiver_id = "lea-paris", .etsi_version = NULL,
	};
}

/* Decodes xml strictly and checks it with xmllint; returns the decoded message. */
static struct li707_message *decode_and_oracle(const struct csp_package_out *o)
{
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	int rc = li707_message_decode(o->xml, o->len, NULL, &m, &d);
	if (rc) {
		tu_print_diags(&d);
		fail_msg("decode: %s", li707_strerror(rc));
	}
	li707_diags_clear(&d);
	int v = tu_xmllint_oracle(o->xml, o->len);
	if (v == 77)
		print_message("SKIP: %s absent, xmllint oracle not run\n", LI707_SHARED_SCHEMAS);
	else if (v != 0)
		fail_msg("xmllint: the DeliveryObject does not validate:\n%s", o->xml);
	return m;
}

/* TS103707 R-DEL-3 (Table 1), R-DEL-4 (Table 2), R-DEL-5 (Table 3), R-DEL-6: one item. */
static void test_R_DEL_3_4_5_6_single_item(void **state)
{
	(void)state;
	struct items s;
	items_parse(&s, events_li, 1);
	struct csp_package_ref r = ref_li(1, false);
	struct csp_package_out o = {0};
	assert_int_equal(csp_package_build(&r, s.it, 1, &o, NULL), 0);
	assert_true(li707_check_uuid(o.object_id));
	struct li707_message *m = decode_and_oracle(&o);
	/* R-DEL-3: SenderIdentifier = the CSP, ReceiverIdentifier = the LEA's. */
	assert_string_equal(m->header.sender_cc, "GB");
	assert_string_equal(m->header.sender_id, "acme-csp");
	assert_string_equal(m->header.receiver_cc, "FR");
	assert_string_equal(m->header.receiver_id, "lea-paris");
	assert_string_equal(m->header.etsi_version, LI707_ETSI_VERSION_DEFAULT);
	assert_int_equal(m->n_actions, 1);
	assert_int_equal(m->actions[0].verb, LI707_VERB_DELIVER);
	const struct li707_delivery *d = m->actions[0].delivery;
	/* R-DEL-4: CountryCode and OwnerIdentifier are the receiver's. */
	assert_string_equal(d->country_code, "FR");
	assert_string_equal(d->owner_id, "lea-paris");
	assert_string_equal(d->object_id, o.object_id);
	/* R-DEL-5: Reference/LIID; R-DEL-6 numbering as given. */
	assert_int_equal(d->ref_kind, LI707_REF_LIID);
	assert_string_equal(d->reference, "ACME-LI-0042");
	assert_string_equal(d->delivery_id, DELIVERY_ID);
	assert_true(d->has_sequence);
	assert_int_equal(d->sequence, 1);
	assert_int_equal(d->last_sequence, LI707_FALSE);
	assert_int_equal(d->payload, LI707_PAYLOAD_ITEM);
	assert_int_equal(d->n_items, 1);
	assert_non_null(strstr(o.xml, "<handoverItem"));
	assert_null(strstr(o.xml, "handoverItemCollection"));
	li707_message_free(m);
	csp_package_out_done(&o);
	items_done(&s);
}

/* TS103707 R-DEL-6 (and R-DEL-2): several items become one handoverItemCollection in the
 * given order; SequenceNumber and LastSequence as the caller numbered them. */
static void test_R_DEL_6_collection_in_order_last_sequence(void **state)
{
	(void)state;
	struct items s;
	items_parse(&s, events_li, 3);
	struct csp_package_ref r = ref_li(7, true);
	struct csp_package_out o = {0};
	assert_int_equal(csp_package_build(&r, s.it, 3, &o, NULL), 0);
	struct li707_message *m = decode_and_oracle(&o);
	const struct li707_delivery *d = m->actions[0].delivery;
	assert_int_equal(d->payload, LI707_PAYLOAD_COLLECTION);
	assert_int_equal(d->n_items, 3);
	assert_string_equal(d->items[0].timestamp, "2026-03-01T10:15:30+01:00");
	assert_string_equal(d->items[1].timestamp, "2026-03-01T10:15:31+01:00");
	assert_string_equal(d->items[2].timestamp, "2026-03-01T10:15:32+01:00");
	assert_int_equal(d->sequence, 7);
	assert_int_equal(d->last_sequence, LI707_TRUE);
	assert_non_null(strstr(o.xml, "handoverItemCollection"));
	li707_message_free(m);
	csp_package_out_done(&o);
	items_done(&s);
}

/* TS103707 R-HDR-1, R-HDR-2: the applicationCorrelation the agent allocated (applicationLevelID
 * per conversation, zero-based applicationSequenceNumber) reaches the LEA unchanged. */
static void test_R_HDR_1_2_correlation_carried(void **state)
{
	(void)state;
	struct items s;
	items_parse(&s, events_li, 3);
	struct csp_package_ref r = ref_li(2, false);
	struct csp_package_out o = {0};
	assert_int_equal(csp_package_build(&r, s.it, 3, &o, NULL), 0);
	struct li707_message *m = decode_and_oracle(&o);
	const struct li707_delivery *d = m->actions[0].delivery;
	static const uint64_t want[3][2] = {{0, 0}, {0, 1}, {1, 0}};
	for (size_t i = 0; i < 3; i++) {
		assert_true(d->items[i].has_correlation);
		assert_int_equal(d->items[i].app_level_id, want[i][0]);
		assert_int_equal(d->items[i].app_seq, want[i][1]);
	}
	li707_message_free(m);
	csp_package_out_done(&o);
	items_done(&s);
}

/* TS103707 R-DEL-5: an LDID reference; R-DEL-3: a destination on ETSIVersion V1.12.1 gets no
 * Manifest (its dictionary has no TS103707 value) and still validates. */
static void test_R_DEL_5_ldid_older_etsi_version(void **state)
{
	(void)state;
	static const char *const ld[] = {
		"{\"ldid\":\"FR-12-34\",\"timestamp\":\"2026-03-01T10:15:30Z\"}",
	};
	struct items s;
	items_parse(&s, ld, 1);
	struct csp_package_ref r = ref_li(1, true);
	r.kind = LI707_REF_LDID;
	r.reference = "FR-12-34";
	r.etsi_version = "V1.12.1";
	struct csp_package_out o = {0};
	assert_int_equal(csp_package_build(&r, s.it, 1, &o, NULL), 0);
	struct li707_message *m = decode_and_oracle(&o);
	const struct li707_delivery *d = m->actions[0].delivery;
	assert_int_equal(d->ref_kind, LI707_REF_LDID);
	assert_string_equal(d->reference, "FR-12-34");
	assert_int_equal(d->manifest, LI707_MANIFEST_NONE);
	assert_string_equal(m->header.etsi_version, "V1.12.1");
	li707_message_free(m);
	csp_package_out_done(&o);
	items_done(&s);
}

/* The items are borrowed: packaging twice from the same items works (ASan would see a double
 * free otherwise) and gives two ObjectIdentifiers; bad arguments and a bad item are refused
 * without output, and the caller's items survive the failure. */
static void test_items_borrowed_and_refusals(void **state)
{
	(void)state;
	struct items s;
	items_parse(&s, events_li, 2);
	struct csp_package_ref r = ref_li(1, false);
	struct csp_package_out a = {0}, b = {0};
	assert_int_equal(csp_package_build(&r, s.it, 2, &a, NULL), 0);
	assert_int_equal(csp_package_build(&r, s.it, 2, &b, NULL), 0);
	assert_string_not_equal(a.object_id, b.object_id);
	assert_non_null(s.ev[0].item.timestamp);

	struct csp_package_out z = {0};
	assert_int_equal(csp_package_build(&r, s.it, 0, &z, NULL), LI707_EINVAL);
	struct csp_package_ref bad = r;
	bad.seq = 0;
	assert_int_equal(csp_package_build(&bad, s.it, 1, &z, NULL), LI707_EINVAL);
	bad = r;
	bad.delivery_id = "not-a-uuid";
	assert_int_equal(csp_package_build(&bad, s.it, 1, &z, NULL), LI707_EINVAL);
	bad = r;
	bad.sender_id = NULL;
	assert_int_equal(csp_package_build(&bad, s.it, 1, &z, NULL), LI707_EINVAL);
	/* An item the encoder refuses (no timestamp, R-CORE-2): diagnostics, no output. */
	struct li707_item broken = s.it[1];
	broken.timestamp = NULL;
	struct li707_diags d = {0};
	assert_int_equal(csp_package_build(&r, &broken, 1, &z, &d), LI707_EINVALID);
	assert_true(d.n_errors > 0);
	assert_null(z.xml);
	li707_diags_clear(&d);
	assert_non_null(s.ev[1].item.timestamp);
	csp_package_out_done(&a);
	csp_package_out_done(&b);
	csp_package_out_done(NULL);
	items_done(&s);
}

/* The batching decision: count and byte limits, an oversize item alone, never zero. */
static void test_batch_count_table(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint64_t sizes[6];
		size_t n, items;
		uint64_t bytes;
		size_t want;
	} cases[] = {
		{"empty", {0}, 0, 10, 0, 0},
		{"one per object", {5, 5, 5}, 3, 1, 0, 1},
		{"items 0 is 1", {5, 5, 5}, 3, 0, 0, 1},
		{"count limit", {5, 5, 5, 5, 5}, 5, 3, 0, 3},
		{"all fit", {5, 5, 5}, 3, 100, 0, 3},
		{"byte limit exact", {5, 5, 5, 5}, 4, 100, 10, 2},
		{"byte limit below", {5, 5, 5, 5}, 4, 100, 14, 2},
		{"oversize first travels alone", {50, 1, 1}, 3, 100, 10, 1},
		{"oversize second waits", {1, 50, 1}, 3, 100, 10, 1},
		{"huge sizes do not wrap", {UINT64_MAX - 1, UINT64_MAX - 1}, 2, 100, UINT64_MAX, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t got = csp_package_batch_count(cases[i].sizes, cases[i].n, cases[i].items,
						     cases[i].bytes);
		if (got != cases[i].want)
			fail_msg("%s: expected %zu, got %zu", cases[i].name, cases[i].want, got);
	}
}

static void test_batch_due_table(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		size_t n;
		uint64_t total;
		int64_t age, wait;
		size_t items;
		uint64_t bytes;
		bool closing, want;
	} cases[] = {
		{"nothing queued", 0, 0, 0, 0, 10, 0, true, false},
		{"no wait: now", 1, 10, 0, 0, 10, 0, false, true},
		{"waiting for more", 1, 10, 5, 100, 10, 0, false, false},
		{"full by count", 10, 10, 5, 100, 10, 0, false, true},
		{"full by bytes", 2, 1000, 5, 100, 10, 1000, false, true},
		{"waited long enough", 1, 10, 100, 100, 10, 0, false, true},
		{"closing", 1, 10, 0, 100, 10, 0, true, true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = csp_package_batch_due(cases[i].n, cases[i].total, cases[i].age,
						 cases[i].items, cases[i].bytes, cases[i].wait,
						 cases[i].closing);
		if (got != cases[i].want)
			fail_msg("%s: expected %d, got %d", cases[i].name, cases[i].want, got);
	}
}

int main(void)
{
	li707_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_R_DEL_3_4_5_6_single_item),
		cmocka_unit_test(test_R_DEL_6_collection_in_order_last_sequence),
		cmocka_unit_test(test_R_HDR_1_2_correlation_carried),
		cmocka_unit_test(test_R_DEL_5_ldid_older_etsi_version),
		cmocka_unit_test(test_items_borrowed_and_refusals),
		cmocka_unit_test(test_batch_count_table),
		cmocka_unit_test(test_batch_due_table),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	li707_global_cleanup();
	return rc;
}
