/* Golden round trip over the sample events (tests/data/golden/):
 *   event lines -> model -> encode == golden file (byte for byte)
 *   golden -> decode -> the same model -> encode -> the same bytes
 * and every golden file passes the independent xmllint oracle (official TS 103 120 set +
 * schemas/ts_103707.xsd). Volatile values (UUIDs, times) are replaced by fixed ones so the
 * goldens are stable. LI707_UPDATE_GOLDEN=1 rewrites the golden files. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "testutil.h"

#define FIXED_NOW 1795255200 /* 2026-11-21T10:00:00Z */

static void fixed_uuid(char out[37], unsigned kind, unsigned n)
{
	snprintf(out, 37, "%08x-0000-4000-8000-%012x", kind, n);
}

/* Builds one message per reference group of `per_msg` events, deterministic throughout. */
static struct li707_message *build(struct lx_event *ev, size_t n, unsigned msgno)
{
	struct li707_message *m = li707_message_new();
	assert_non_null(m);
	assert_int_equal(li707_header_init_defaults(&m->header, "XX", "li707-csp", "XX", NULL), 0);
	fixed_uuid(m->header.transaction_id, 1, msgno);
	free(m->header.timestamp);
	m->header.timestamp = strdup("2026-11-21T10:00:00.000000Z");
	m->n_actions = 1;
	m->actions = calloc(1, sizeof *m->actions);
	m->actions[0].verb = LI707_VERB_DELIVER;
	m->actions[0].delivery = calloc(1, sizeof *m->actions[0].delivery);
	struct li707_delivery *d = m->actions[0].delivery;
	assert_int_equal(li707_delivery_init(d, &m->header, ev[0].ref_kind, ev[0].reference), 0);
	fixed_uuid(d->object_id, 2, msgno);
	strcpy(d->identifier, d->object_id);
	fixed_uuid(d->delivery_id, 3, 0);
	d->has_sequence = true;
	d->sequence = msgno;
	d->last_sequence = LI707_FALSE;
	d->payload = n > 1 ? LI707_PAYLOAD_COLLECTION : LI707_PAYLOAD_ITEM;
	d->n_items = n;
	d->items = calloc(n, sizeof *d->items);
	for (size_t i = 0; i < n; i++) {
		d->items[i] = ev[i].item; /* moved */
		memset(&ev[i].item, 0, sizeof ev[i].item);
		for (size_t a = 0; a < d->items[i].n_attachments; a++) {
			struct li707_binary_object *b = &d->items[i].attachments[a];
			char u[37], url[128];
			fixed_uuid(u, 4, msgno * 100 + (unsigned)(i * 10 + a));
			snprintf(url, sizeof url, "https://csp.invalid/li707/binary/%s", u);
			free(b->url);
			b->url = strdup(url);
			if (b->expiry) {
				free(b->expiry);
				b->expiry = strdup("2026-11-28T10:00:00Z");
			}
		}
	}
	return m;
}

#define EQ_STR(a, b) assert_true(((a) == NULL && (b) == NULL) || ((a) && (b) && strcmp((a), (b)) == 0))

static void party_equal(const struct li707_party *a, const struct li707_party *b)
{
	assert_int_equal(a->n_ids, b->n_ids);
	assert_int_equal(a->targeted, b->targeted);
	for (size_t i = 0; i < a->n_ids; i++) {
		assert_int_equal(a->ids[i].qualified, b->ids[i].qualified);
		EQ_STR(a->ids[i].format_owner, b->ids[i].format_owner);
		EQ_STR(a->ids[i].format_name, b->ids[i].format_name);
		EQ_STR(a->ids[i].value, b->ids[i].value);
	}
}

static void item_equal(const struct li707_item *a, const struct li707_item *b)
{
	assert_int_equal(a->has_correlation, b->has_correlation);
	assert_int_equal(a->app_level_id, b->app_level_id);
	assert_int_equal(a->app_seq, b->app_seq);
	assert_int_equal(a->sender == NULL, b->sender == NULL);
	if (a->sender)
		party_equal(a->sender, b->sender);
	assert_int_equal(a->n_receivers, b->n_receivers);
	for (size_t i = 0; i < a->n_receivers; i++)
		party_equal(&a->receivers[i], &b->receivers[i]);
	EQ_STR(a->timestamp, b->timestamp);
	assert_int_equal(a->n_attachments, b->n_attachments);
	for (size_t i = 0; i < a->n_attachments; i++) {
		const struct li707_binary_object *x = &a->attachments[i], *y = &b->attachments[i];
		EQ_STR(x->url, y->url);
		assert_int_equal(x->has_content_length, y->has_content_length);
		assert_int_equal(x->content_length, y->content_length);
		EQ_STR(x->content_type, y->content_type);
		EQ_STR(x->expiry, y->expiry);
		EQ_STR(x->checksum, y->checksum);
		EQ_STR(x->original_filename, y->original_filename);
		EQ_STR(x->csp_defined_identifier, y->csp_defined_identifier);
	}
	EQ_STR(a->glossary, b->glossary);
	assert_int_equal(a->n_csp, b->n_csp);
	for (size_t i = 0; i < a->n_csp; i++) {
		EQ_STR(a->csp[i].schema_id, b->csp[i].schema_id);
		EQ_STR(a->csp[i].schema_url, b->csp[i].schema_url);
		EQ_STR(a->csp[i].schema_content, b->csp[i].schema_content);
		EQ_STR(a->csp[i].xml, b->csp[i].xml); /* R-CSP-2: byte-faithful carriage */
	}
}

static void message_equal(const struct li707_message *a, const struct li707_message *b)
{
	EQ_STR(a->header.sender_cc, b->header.sender_cc);
	EQ_STR(a->header.sender_id, b->header.sender_id);
	EQ_STR(a->header.receiver_cc, b->header.receiver_cc);
	EQ_STR(a->header.receiver_id, b->header.receiver_id);
	EQ_STR(a->header.transaction_id, b->header.transaction_id);
	EQ_STR(a->header.timestamp, b->header.timestamp);
	EQ_STR(a->header.etsi_version, b->header.etsi_version);
	EQ_STR(a->header.np_owner, b->header.np_owner);
	EQ_STR(a->header.np_version, b->header.np_version);
	assert_int_equal(a->n_actions, b->n_actions);
	const struct li707_delivery *x = a->actions[0].delivery, *y = b->actions[0].delivery;
	EQ_STR(x->object_id, y->object_id);
	EQ_STR(x->country_code, y->country_code);
	EQ_STR(x->owner_id, y->owner_id);
	assert_int_equal(x->ref_kind, y->ref_kind);
	EQ_STR(x->reference, y->reference);
	EQ_STR(x->delivery_id, y->delivery_id);
	assert_int_equal(x->sequence, y->sequence);
	assert_int_equal(x->last_sequence, y->last_sequence);
	assert_int_equal(x->manifest, y->manifest);
	EQ_STR(x->manifest_value, y->manifest_value);
	assert_int_equal(x->payload, y->payload);
	assert_int_equal(x->n_items, y->n_items);
	for (size_t i = 0; i < x->n_items; i++)
		item_equal(&x->items[i], &y->items[i]);
}

static void round_trip(const char *events_rel, const char *golden_prefix, size_t per_msg)
{
	size_t len;
	char *text = tu_read_file(tu_src(events_rel), &len);
	struct lx_event_opts o = {.base_dir = tu_src("samples"), .now = FIXED_NOW};
	struct lx_event ev[64];
	size_t n = 0;
	char err[LX_EVENT_ERR_LEN];
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (lx_event_line_blank(line, strlen(line)))
			continue;
		assert_true(n < 64);
		int rc = lx_event_parse(line, strlen(line), &o, &ev[n], err, sizeof err);
		if (rc)
			print_error("%s: event %zu: %s\n", events_rel, n + 1, err);
		assert_int_equal(rc, 0);
		n++;
	}
	free(text);
	assert_true(n > 0);

	/* Group per reference in order of first appearance (as `li707 build` does: messages never
	 * mix references, R-DEL-2), at most per_msg events per message. */
	struct lx_event order[64];
	size_t n_order = 0;
	bool taken[64] = {0};
	for (size_t i = 0; i < n; i++) {
		if (taken[i])
			continue;
		for (size_t j = i; j < n; j++) {
			if (!taken[j] && ev[j].ref_kind == ev[i].ref_kind &&
			    strcmp(ev[j].reference, ev[i].reference) == 0) {
				order[n_order++] = ev[j];
				taken[j] = true;
			}
		}
	}
	memcpy(ev, order, n * sizeof *ev);

	unsigned msgno = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && j - i < per_msg && ev[j].ref_kind == ev[i].ref_kind &&
		       strcmp(ev[j].reference, ev[i].reference) == 0)
			j++;
		msgno++;
		struct li707_message *m = build(&ev[i], j - i, msgno);
		char *xml = NULL;
		size_t xlen = 0;
		struct li707_diags diags = {0};
		int rc = li707_message_encode(m, &xml, &xlen, &diags);
		if (rc)
			tu_print_diags(&diags);
		assert_int_equal(rc, 0);
		li707_diags_clear(&diags);

		char golden[256];
		snprintf(golden, sizeof golden, "tests/data/golden/%s-%02u.xml", golden_prefix, msgno);
		if (getenv("LI707_UPDATE_GOLDEN")) {
			FILE *f = fopen(tu_src(golden), "wb");
			assert_non_null(f);
			fwrite(xml, 1, xlen, f);
			fclose(f);
		}
		size_t glen;
		char *g = tu_read_file(tu_src(golden), &glen);
		if (glen != xlen || memcmp(g, xml, xlen) != 0) {
			print_error("%s differs from the encoder output (LI707_UPDATE_GOLDEN=1 rewrites)\n", golden);
			fail();
		}

		/* Decode the golden: the same model; encode again: the same bytes. */
		struct li707_message *back = NULL;
		rc = li707_message_decode(g, glen, NULL, &back, &diags);
		if (rc)
			tu_print_diags(&diags);
		assert_int_equal(rc, 0);
		message_equal(m, back);
		char *xml2 = NULL;
		size_t xlen2 = 0;
		assert_int_equal(li707_message_encode(back, &xml2, &xlen2, NULL), 0);
		assert_int_equal(xlen2, glen);
		assert_memory_equal(xml2, g, glen);

		int oracle = tu_xmllint_oracle(g, glen);
		if (oracle != 77)
			assert_int_equal(oracle, 0);

		li707_diags_clear(&diags);
		li707_message_free(back);
		li707_message_free(m);
		free(xml);
		free(xml2);
		free(g);
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		lx_event_clear(&ev[i]);
}

static void test_del2_golden_li_items(void **state) { round_trip("samples/li-events.jsonl", "li-item", 1); }
static void test_del2_golden_li_collections(void **state) { round_trip("samples/li-events.jsonl", "li-coll", 3); }
static void test_del5_golden_ld_items(void **state) { round_trip("samples/ld-events.jsonl", "ld-item", 1); }

int main(void)
{
	li707_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_del2_golden_li_items),
		cmocka_unit_test(test_del2_golden_li_collections),
		cmocka_unit_test(test_del5_golden_ld_items),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	li707_global_cleanup();
	return rc;
}
