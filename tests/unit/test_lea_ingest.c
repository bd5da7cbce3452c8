/* Unit tests of src/lea/lea_ingest.c: the HI-1 pipeline without HTTP (lea_ingest) on a real
 * store in a temporary directory - DELIVERResponse per stored action, duplicates acknowledged
 * but not stored twice (R-DEL-6), ErrorInformation for an invalid action or a reference the
 * peer may not deliver for while the others are stored (R-TRN-3, R-RSP-1), top-level
 * ErrorInformation for documents that are not requests, XSD failures mapped to actions - plus
 * the Content-Type and Model B path rules. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lea.h"

struct fx {
	char dir[64];
	struct lea_store *store;
	struct lea_peer peer;
	char *refs[4];
};

/* A peer "csp1" allowed for refs (sorted, NULL-terminated), or for any reference. */
static void set_refs(struct fx *f, const char *const *refs)
{
	f->peer.any_reference = refs == NULL;
	f->peer.n_references = 0;
	for (size_t i = 0; refs && refs[i]; i++)
		f->refs[f->peer.n_references++] = (char *)refs[i];
	f->peer.references = refs ? f->refs : NULL;
}

static int setup(void **state)
{
	li707_global_init();
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/li707-test-ingest-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char sdir[96];
	snprintf(sdir, sizeof sdir, "%s/store", f->dir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	struct lea_store_opts o = {.dir = sdir, .binary_path = "/binaryData/"};
	char err[256] = "";
	int rc = lea_store_open(&o, &f->store, err, sizeof err);
	if (rc)
		print_message("lea_store_open: %s\n", err);
	assert_int_equal(rc, 0);
	f->peer.name = "csp1";
	f->peer.models = LEA_MODEL_A | LEA_MODEL_B | LEA_MODEL_C;
	f->peer.max_message_bytes = 64u << 20;
	f->peer.max_upload_bytes = 1u << 30;
	set_refs(f, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	lea_store_close(f->store);
	tu_rm_rf(f->dir);
	free(f);
	return 0;
}

static char *data(const char *rel, size_t *len)
{
	return tu_read_file(tu_src(rel), len);
}

/* Replaces the n-th (1-based) occurrence of from by to. */
static char *replace_nth(const char *buf, const char *from, const char *to, int nth)
{
	const char *p = buf;
	for (int i = 0; i < nth; i++) {
		p = strstr(i ? p + 1 : p, from);
		assert_non_null(p);
	}
	size_t fl = strlen(from), tl = strlen(to), n = strlen(buf);
	char *out = malloc(n - fl + tl + 1);
	assert_non_null(out);
	memcpy(out, buf, (size_t)(p - buf));
	memcpy(out + (p - buf), to, tl);
	strcpy(out + (p - buf) + tl, p + fl);
	return out;
}

/* Runs lea_ingest and decodes the response (must be an HI-1 response). */
static struct li707_message *ingest(struct fx *f, const struct li707_schema_set *xs, const char *buf,
				    size_t len, struct lea_ingest_result *res)
{
	struct lea_ingest_opts o = {.store = f->store, .schemas = xs, .peer = &f->peer};
	assert_int_equal(lea_ingest(&o, buf, len, res), 0);
	if (res->http_status != 200)
		return NULL;
	assert_non_null(res->body);
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	int rc = li707_message_decode(res->body, res->body_len, NULL, &m, &d);
	if (rc)
		tu_print_diags(&d);
	assert_int_equal(rc, 0);
	li707_diags_clear(&d);
	assert_int_equal(m->kind, LI707_MSG_RESPONSE);
	return m;
}

static int count_cb(void *cls, const struct lea_item_row *r)
{
	(void)r;
	(*(size_t *)cls)++;
	return 0;
}

/* Items stored for ref (NULL: all). */
static size_t count_items(struct fx *f, const char *ref)
{
	size_t n = 0;
	struct lea_query q = {.ref = ref};
	assert_int_equal(lea_store_list(f->store, &q, count_cb, &n), 0);
	return n;
}

/* R-TRN-1, R-TRN-3: a good delivery is stored and answered with its DELIVERResponse. */
static void test_trn1_delivery_stored_and_acknowledged(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *buf = data("tests/data/golden/li-item-01.xml", &len);
	struct lea_ingest_result res;
	struct li707_message *r = ingest(f, NULL, buf, len, &res);
	assert_int_equal(res.http_status, 200);
	assert_false(res.top_error);
	assert_int_equal(res.actions, 1);
	assert_int_equal(res.stored, 1);
	assert_int_equal(res.duplicates + res.failed + res.invalid + res.denied, 0);
	assert_false(r->top_error);
	assert_int_equal(r->n_responses, 1);
	assert_false(r->responses[0].is_error);
	assert_string_equal(r->responses[0].identifier, "00000002-0000-4000-8000-000000000001");
	/* The response answers the request: its TransactionIdentifier, sender and receiver swapped. */
	assert_string_equal(r->header.transaction_id, "00000001-0000-4000-8000-000000000001");
	assert_string_equal(r->header.receiver_id, "li707-csp");
	assert_int_equal(count_items(f, "ACME-LI-0042"), 1);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	free(buf);
}

/* R-DEL-6: the same delivery again is acknowledged again but not stored twice. */
static void test_del6_duplicate_acknowledged_not_stored(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *buf = data("tests/data/golden/li-item-01.xml", &len);
	for (int round = 0; round < 3; round++) {
		struct lea_ingest_result res;
		struct li707_message *r = ingest(f, NULL, buf, len, &res);
		assert_int_equal(res.stored, round == 0 ? 1 : 0);
		assert_int_equal(res.duplicates, round == 0 ? 0 : 1);
		assert_int_equal(r->n_responses, 1);
		assert_false(r->responses[0].is_error);
		li707_message_free(r);
		lea_ingest_result_clear(&res);
	}
	assert_int_equal(count_items(f, "ACME-LI-0042"), 1);
	free(buf);
}

/* R-RSP-1, R-TRN-3: GET (not handled), DELIVER LIID-A (allowed), DELIVER LIID-B (not allowed):
 * only LIID-A is stored; the others get ErrorInformation; the refused reference is not quoted. */
static void test_rsp1_reference_refused_per_action(void **state)
{
	struct fx *f = *state;
	static const char *const refs[] = {"LIID-A", NULL};
	set_refs(f, refs);
	size_t len;
	char *buf = data("tests/data/decode/get-and-deliver.xml", &len);
	struct lea_ingest_result res;
	struct li707_message *r = ingest(f, NULL, buf, len, &res);
	assert_int_equal(res.actions, 3);
	assert_int_equal(res.stored, 1);
	assert_int_equal(res.invalid, 1);
	assert_int_equal(res.denied, 1);
	assert_int_equal(r->n_responses, 3);
	assert_false(r->responses[0].is_error);
	assert_string_equal(r->responses[0].identifier, "4e5f6a7b-8c9d-4e0f-8a1b-2c3d4e5f6a7b");
	assert_true(r->responses[1].is_error);
	assert_int_equal(r->responses[1].error_code, 3001);
	assert_true(r->responses[2].is_error);
	assert_int_equal(r->responses[2].error_code, 3000);
	assert_non_null(strstr(r->responses[2].error_description, "R-RSP-1"));
	assert_null(strstr(r->responses[2].error_description, "LIID-B"));
	assert_null(strstr(res.body, "LIID-B"));
	assert_int_equal(count_items(f, "LIID-A"), 1);
	assert_int_equal(count_items(f, "LIID-B"), 0);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	free(buf);
}

static int to_fetch_cb(void *cls, const struct lea_ref_status *st)
{
	*(uint64_t *)cls += st->att[LEA_ATT_TO_FETCH];
	return 0;
}

static uint64_t count_to_fetch(struct fx *f)
{
	uint64_t n = 0;
	assert_int_equal(lea_store_status(f->store, NULL, to_fetch_cb, &n), 0);
	return n;
}

/* R-BIN-1: the models are agreed per CSP. A binaryObject hosted by the CSP (Model A or C)
 * from a peer whose models have neither A nor C fails its DELIVER with ErrorInformation
 * (url not quoted) and nothing is stored; with A, or with C, it is stored as to-fetch; a
 * Model B url from a B-only peer is stored. */
static void test_bin1_models_per_peer(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *buf = data("tests/data/golden/li-item-01.xml", &len);
	struct lea_ingest_result res;

	f->peer.models = LEA_MODEL_B;
	struct li707_message *r = ingest(f, NULL, buf, len, &res);
	assert_int_equal(res.http_status, 200);
	assert_false(res.top_error);
	assert_int_equal(res.stored, 0);
	assert_int_equal(res.denied, 1);
	assert_int_equal(r->n_responses, 1);
	assert_true(r->responses[0].is_error);
	assert_int_equal(r->responses[0].error_code, 3000);
	assert_non_null(strstr(r->responses[0].error_description, "R-BIN-1"));
	assert_non_null(strstr(r->responses[0].error_description, "Model A or C"));
	assert_null(strstr(res.body, "csp.invalid"));
	assert_int_equal(count_items(f, NULL), 0);
	li707_message_free(r);
	lea_ingest_result_clear(&res);

	static const unsigned agreed[] = {LEA_MODEL_A, LEA_MODEL_C};
	static const char *const docs[] = {"tests/data/golden/li-item-01.xml",
					   "tests/data/golden/li-item-02.xml"};
	for (size_t i = 0; i < 2; i++) {
		f->peer.models = agreed[i];
		char *b = data(docs[i], &len);
		r = ingest(f, NULL, b, len, &res);
		assert_int_equal(res.stored, 1);
		assert_int_equal(res.denied, 0);
		assert_false(r->responses[0].is_error);
		assert_int_equal(count_to_fetch(f), i + 1);
		li707_message_free(r);
		lea_ingest_result_clear(&res);
		free(b);
	}

	f->peer.models = LEA_MODEL_B;
	char *b3 = data("tests/data/golden/li-item-03.xml", &len);
	char *modelb = replace_nth(b3, "https://csp.invalid/li707/binary/",
				   "https://lea.example/binaryData/", 1);
	/* Model B urls are binary_path + UUID + "/" */
	char *modelb2 = replace_nth(modelb, "</url>", "/</url>", 1);
	r = ingest(f, NULL, modelb2, strlen(modelb2), &res);
	assert_int_equal(res.stored, 1);
	assert_int_equal(res.denied, 0);
	assert_false(r->responses[0].is_error);
	assert_int_equal(count_to_fetch(f), 2);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	free(modelb2);
	free(modelb);
	free(b3);
	free(buf);
}

/* R-TRN-3: one invalid DELIVER beside a good one: the good one is stored. */
static void test_trn3_invalid_action_beside_good_one(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *orig = data("tests/data/decode/get-and-deliver.xml", &len);
	/* Action 3's ObjectIdentifier is no UUID. */
	char *buf = replace_nth(orig, "<ObjectIdentifier>5f6a7b8c", "<ObjectIdentifier>zz6a7b8c", 1);
	struct lea_ingest_result res;
	struct li707_message *r = ingest(f, NULL, buf, strlen(buf), &res);
	assert_int_equal(res.stored, 1);
	assert_int_equal(res.invalid, 2);
	assert_int_equal(r->n_responses, 3);
	assert_false(r->responses[0].is_error);
	assert_true(r->responses[2].is_error);
	assert_int_equal(count_items(f, "LIID-A"), 1);
	assert_int_equal(count_items(f, "LIID-B"), 0);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	free(buf);
	free(orig);
}

/* R-TRN-3: documents that are no decodable request get one top-level ErrorInformation, and
 * nothing is stored. */
static void test_trn3_top_level_errors(void **state)
{
	struct fx *f = *state;
	size_t glen;
	char *good = data("tests/data/golden/li-item-02.xml", &glen);
	char *doctype = replace_nth(good, "<HI1Message",
				    "<!DOCTYPE HI1Message [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><HI1Message", 1);
	size_t rlen;
	char *response = data("tests/data/decode/response-mixed.xml", &rlen);
	static const char nul[] = "<?xml version=\"1.0\"?><HI1Message>\0</HI1Message>";
	const struct {
		const char *name;
		const char *buf;
		size_t len;
		unsigned code; /* ErrorCode (docs/error-codes.md) */
	} cases[] = {
		{"empty", "", 0, 3007},
		{"not XML", "hello, world", 12, 3007},
		{"truncated", good, glen / 2, 3007},
		{"DOCTYPE", doctype, strlen(doctype), 3007},
		{"NUL byte", nul, sizeof nul - 1, 3007},
		{"a response", response, rlen, 3000},
		{"bad UTF-8", "<?xml version=\"1.0\"?><HI1Message>\xff\xfe</HI1Message>", 45, 3007},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lea_ingest_result res;
		struct li707_message *r = ingest(f, NULL, cases[i].buf, cases[i].len, &res);
		if (!res.top_error || !r->top_error)
			fail_msg("%s: expected a top-level ErrorInformation", cases[i].name);
		assert_int_equal(r->n_responses, 0);
		assert_int_equal(r->error_code, cases[i].code);
		assert_int_equal(res.stored + res.duplicates, 0);
		li707_message_free(r);
		lea_ingest_result_clear(&res);
	}
	assert_int_equal(count_items(f, NULL), 0);
	free(good);
	free(doctype);
	free(response);
}

/* A message-level error (no action at all) is a top-level ErrorInformation that still
 * answers the request's TransactionIdentifier. */
static void test_trn3_top_error_keeps_transaction(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *good = data("tests/data/golden/li-item-03.xml", &len);
	const char *a = strstr(good, "<ActionRequest>"), *b = strstr(good, "</ActionRequests>");
	assert_true(a && b && a < b);
	char *bad = malloc(len + 1);
	assert_non_null(bad);
	memcpy(bad, good, (size_t)(a - good));
	strcpy(bad + (a - good), b);
	struct lea_ingest_result res;
	struct li707_message *r = ingest(f, NULL, bad, strlen(bad), &res);
	assert_true(r->top_error);
	assert_true(res.top_error);
	assert_int_equal(res.stored, 0);
	assert_string_equal(r->header.transaction_id, "00000001-0000-4000-8000-000000000003");
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	free(bad);
	free(good);
}

/* XSD check: the decoder accepts a V1.1.1 payload without xsi:type (warning); the schema
 * refuses it: the action gets ErrorInformation, nothing is stored. Without the check, stored. */
static void test_xsd_failure_mapped_to_action(void **state)
{
	struct fx *f = *state;
	struct li707_schema_set *xs = NULL;
	struct li707_diags d = {0};
	assert_int_equal(li707_schema_set_load(tu_src("schemas"), NULL, &xs, &d), 0);
	li707_diags_clear(&d);
	size_t len;
	char *buf = data("tests/data/decode-lenient/v111-no-xsitype.xml", &len);
	struct lea_ingest_result res;
	struct li707_message *r = ingest(f, xs, buf, len, &res);
	assert_false(res.top_error);
	assert_int_equal(res.invalid, 1);
	assert_int_equal(res.stored, 0);
	assert_int_equal(r->n_responses, 1);
	assert_true(r->responses[0].is_error);
	assert_int_equal(r->responses[0].error_code, 3007);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	/* A valid message passes the XSD check and is stored. */
	char *good = data("tests/data/golden/li-coll-01.xml", &len);
	r = ingest(f, xs, good, len, &res);
	assert_int_equal(res.stored, 1);
	assert_false(r->responses[0].is_error);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	/* Without xsd_check the lenient decoder's verdict stands. */
	r = ingest(f, NULL, buf, strlen(buf), &res);
	assert_int_equal(res.stored, 1);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	li707_schema_set_free(xs);
	free(buf);
	free(good);
}

/* A body over the peer's cap is refused by the decoder's document limit too (defence in
 * depth behind the HTTP 413). */
static void test_cap_applies_to_decoder(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *buf = data("tests/data/golden/li-item-04.xml", &len);
	f->peer.max_message_bytes = len / 2;
	struct lea_ingest_result res;
	struct li707_message *r = ingest(f, NULL, buf, len, &res);
	assert_true(res.top_error);
	assert_int_equal(res.error, LI707_ELIMIT);
	assert_int_equal(count_items(f, NULL), 0);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	free(buf);
}

static void test_v111_item_accepted(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *buf = data("tests/data/decode/v111-item.xml", &len);
	struct lea_ingest_result res;
	struct li707_message *r = ingest(f, NULL, buf, len, &res);
	assert_int_equal(res.stored, 1);
	assert_false(r->responses[0].is_error);
	assert_int_equal(count_items(f, "LIID-V111"), 1);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	free(buf);
}

/* A store that cannot commit anything (its database locked by another writer beyond the
 * store's busy timeout): 503, no HI-1 body - nothing is acknowledged; once the store works
 * again the CSP's retry is stored. */
static void test_store_failure_is_503(void **state)
{
	struct fx *f = *state;
	char db[128];
	snprintf(db, sizeof db, "%s/store/index.sqlite", f->dir);
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	size_t len;
	char *buf = data("tests/data/golden/li-item-05.xml", &len);
	struct lea_ingest_result res;
	struct li707_message *r = ingest(f, NULL, buf, len, &res);
	assert_null(r);
	assert_int_equal(res.http_status, 503);
	assert_null(res.body);
	assert_int_not_equal(res.error, 0);
	lea_ingest_result_clear(&res);
	assert_int_equal(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	r = ingest(f, NULL, buf, len, &res);
	assert_int_equal(res.http_status, 200);
	assert_int_equal(res.stored, 1);
	li707_message_free(r);
	lea_ingest_result_clear(&res);
	free(buf);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct lea_ingest_result res;
	struct lea_ingest_opts o = {.store = f->store, .peer = NULL};
	assert_int_equal(lea_ingest(&o, "x", 1, &res), LI707_EINVAL);
	o.peer = &f->peer;
	assert_int_equal(lea_ingest(&o, NULL, 1, &res), LI707_EINVAL);
}

/* R-TRN-1: the Content-Types of an HI-1 POST. */
static void test_trn1_content_types(void **state)
{
	(void)state;
	static const struct {
		const char *ct;
		bool ok;
	} t[] = {
		{"application/xml", true},
		{"application/xml; charset=utf-8", true},
		{"Application/XML;charset=UTF-8", true},
		{" text/xml", true},
		{"text/xml ; charset=utf-8", true},
		{"application/xmlx", false},
		{"application/json", false},
		{"text/plain", false},
		{"application/soap+xml", false},
		{"", false},
		{NULL, false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (lea_xml_content_type(t[i].ct) != t[i].ok)
			fail_msg("Content-Type '%s': expected %s", t[i].ct ? t[i].ct : "(none)",
				 t[i].ok ? "accepted" : "refused");
}

/* R-BIN-B1: binary_path{uuid}/, slash optional, any case -> lower case. */
static void test_bin_b1_upload_paths(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		const char *uuid; /* NULL: refused */
	} t[] = {
		{"/binaryData/123e4567-e89b-12d3-a456-426614174000/", "123e4567-e89b-12d3-a456-426614174000"},
		{"/binaryData/123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},
		{"/binaryData/123E4567-E89B-12D3-A456-426614174ABC/", "123e4567-e89b-12d3-a456-426614174abc"},
		{"/binaryData/123e4567-e89b-12d3-a456-426614174000//", NULL},
		{"/binaryData/123e4567-e89b-12d3-a456-42661417400/", NULL},
		{"/binaryData/123e4567e89b-12d3-a456-4266141740000/", NULL},
		{"/binaryData/123e4567-e89b-12d3-a456-42661417400g/", NULL},
		{"/binaryData/", NULL},
		{"/binarydata/123e4567-e89b-12d3-a456-426614174000/", NULL},
		{"/binaryData/123e4567-e89b-12d3-a456-426614174000/x", NULL},
		{"/binaryData/../123e4567-e89b-12d3-a456-426614174000/", NULL},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char out[37] = "";
		bool ok = li707_binary_path_uuid(t[i].path, "/binaryData/", out);
		if (ok != (t[i].uuid != NULL))
			fail_msg("%s: expected %s", t[i].path, t[i].uuid ? "accepted" : "refused");
		if (ok)
			assert_string_equal(out, t[i].uuid);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trn1_delivery_stored_and_acknowledged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del6_duplicate_acknowledged_not_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsp1_reference_refused_per_action, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin1_models_per_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trn3_invalid_action_beside_good_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trn3_top_level_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trn3_top_error_keeps_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xsd_failure_mapped_to_action, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_applies_to_decoder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v111_item_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_failure_is_503, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test(test_trn1_content_types),
		cmocka_unit_test(test_bin_b1_upload_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
