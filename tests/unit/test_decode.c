/* Unit tests of src/lib/decode.c: the hand-written messages in tests/data/decode (each also
 * checked against the official schemas by the xmllint oracle), the official TS 103 120
 * examples, one negative test per structural rule (named after its requirement ID), limits,
 * lines and paths, and a decode -> encode -> decode round trip. */
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DATA "tests/data/decode/"
#define NS707 "http://uri.etsi.org/03707/2020/02"
#define PATH_OBJ "/HI1Message/Payload/RequestPayload/ActionRequests/ActionRequest[1]/DELIVER/HI1Object"
#define PATH_ITEM PATH_OBJ "/delivery:Delivery/delivery:XMLData/handoverItem"

static int setup(void **state)
{
	li707_global_init();
	return 0;
}

/* ---- helpers ---- */

static char *data(const char *name, size_t *len)
{
	char rel[256];
	snprintf(rel, sizeof rel, "%s%s", DATA, name);
	return tu_read_file(tu_src(rel), len);
}

/* buf with every occurrence of from replaced by to (at least one must exist). */
static char *replace(const char *buf, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	for (const char *p = buf; (p = strstr(p, from)); p += fl)
		n++;
	if (!n) {
		print_error("test bug: \"%s\" not found in the input\n", from);
		fail();
	}
	char *out = malloc(strlen(buf) + n * tl + 1);
	assert_non_null(out);
	char *o = out;
	for (const char *p = buf, *q; ; p = q + fl) {
		q = strstr(p, from);
		if (!q) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
	}
	return out;
}

/* The bytes between the first open and the following close (raw content). */
static char *between(const char *buf, const char *open, const char *close)
{
	const char *a = strstr(buf, open);
	assert_non_null(a);
	a += strlen(open);
	const char *b = strstr(a, close);
	assert_non_null(b);
	char *s = strndup(a, (size_t)(b - a));
	assert_non_null(s);
	return s;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t l = s ? strlen(s) : 0, k = strlen(suffix);
	return l >= k && strcmp(s + l - k, suffix) == 0;
}

/* The first error citing req (with code and a path ending in path when those are given). */
static const struct li707_diag *find_error_at(const struct li707_diags *d, const char *req,
					      int code, const char *path)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].severity == LI707_SEV_ERROR && d->v[i].req &&
		    strcmp(d->v[i].req, req) == 0 && (!code || d->v[i].code == code) &&
		    (!path || ends_with(d->v[i].path, path)))
			return &d->v[i];
	return NULL;
}

static const struct li707_diag *find_error(const struct li707_diags *d, const char *req)
{
	return find_error_at(d, req, 0, NULL);
}

static int has_severity(const struct li707_diags *d, enum li707_severity sev, const char *req)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].severity == sev && (!req || (d->v[i].req && !strcmp(d->v[i].req, req))))
			return 1;
	return 0;
}

/* Identifier values of the test messages that must never appear in a diagnostic. */
static const char *const secrets[] = {"LIID-0001", "CSP-EXAMPLE", "alice@example.com",
				      "447700900123", "001010123456789", "LEA-EXAMPLE"};

static int leaks_values(const struct li707_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		for (size_t k = 0; k < sizeof secrets / sizeof secrets[0]; k++)
			if (strstr(d->v[i].message, secrets[k]) ||
			    (d->v[i].path && strstr(d->v[i].path, secrets[k]))) {
				print_error("diagnostic quotes a field value: %s\n", d->v[i].message);
				return 1;
			}
	return 0;
}

static int decode(const char *buf, const struct li707_limits *lim, struct li707_message **m,
		  struct li707_diags *d)
{
	return li707_message_decode(buf, strlen(buf), lim, m, d);
}

/* ---- valid messages ---- */

/* Every file in tests/data/decode is valid for the independent oracle (xmllint with the
 * official TS 103 120 schemas and schemas/ts_103707.xsd) and decodes without errors
 * (get-and-deliver.xml: only its GET action fails, with ENOTSUP). */
static void test_valid_files(void **state)
{
	DIR *dir = opendir(tu_src(DATA));
	assert_non_null(dir);
	struct dirent *de;
	int n = 0, bad = 0, oracle_skipped = 0;
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".xml") != 0)
			continue;
		n++;
		size_t len;
		char *buf = data(de->d_name, &len);
		int o = tu_xmllint_oracle(buf, len);
		if (o == 77)
			oracle_skipped++;
		else if (o != 0) {
			print_error("%s: not valid for the oracle\n", de->d_name);
			bad++;
		}
		int want = strcmp(de->d_name, "get-and-deliver.xml") == 0 ? LI707_ENOTSUP : 0;
		struct li707_message *m = NULL;
		struct li707_diags d = {0};
		int rc = li707_message_decode(buf, len, NULL, &m, &d);
		if (rc != want || !m) {
			print_error("%s: expected %s, got %s\n", de->d_name, li707_errname(want),
				    li707_errname(rc));
			tu_print_diags(&d);
			bad++;
		}
		li707_message_free(m);
		li707_diags_clear(&d);
		free(buf);
	}
	closedir(dir);
	if (oracle_skipped)
		print_message("SKIP: oracle unavailable (%s absent) for %d files\n",
			      LI707_SHARED_SCHEMAS, oracle_skipped);
	assert_true(n >= 7);
	assert_int_equal(bad, 0);
}

static void test_item_full_fields(void **state)
{
	size_t len;
	char *buf = data("item-full.xml", &len);
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	int rc = li707_message_decode(buf, len, NULL, &m, &d);
	if (rc)
		tu_print_diags(&d);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n_errors, 0);

	const struct li707_header *h = &m->header;
	assert_int_equal(m->kind, LI707_MSG_REQUEST);
	assert_string_equal(h->sender_cc, "XX");
	assert_string_equal(h->sender_id, "CSP-EXAMPLE");
	assert_string_equal(h->receiver_cc, "FR");
	assert_string_equal(h->receiver_id, "LEA-EXAMPLE");
	assert_string_equal(h->transaction_id, "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
	assert_string_equal(h->timestamp, "2024-05-01T10:00:00.123456+02:00");
	assert_string_equal(h->etsi_version, "V1.12.1");
	assert_string_equal(h->np_owner, "N/A");
	assert_string_equal(h->np_version, "N/A");

	assert_int_equal(m->n_actions, 1);
	const struct li707_action *a = &m->actions[0];
	assert_int_equal(a->action_id, 0);
	assert_int_equal(a->verb, LI707_VERB_DELIVER);
	assert_int_equal(a->status, 0);
	const struct li707_delivery *dl = a->delivery;
	assert_non_null(dl);
	assert_string_equal(dl->identifier, "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b");
	assert_string_equal(dl->object_id, "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b");
	assert_string_equal(dl->country_code, "FR");
	assert_string_equal(dl->owner_id, "LEA-EXAMPLE");
	assert_int_equal(dl->ref_kind, LI707_REF_LIID);
	assert_string_equal(dl->reference, "LIID-0002");
	assert_string_equal(dl->delivery_id, "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
	assert_true(dl->has_sequence);
	assert_int_equal(dl->sequence, 1);
	assert_int_equal(dl->last_sequence, LI707_TRUE);
	assert_int_equal(dl->manifest, LI707_MANIFEST_SPECIFICATION);
	assert_string_equal(dl->manifest_owner, "ETSI");
	assert_string_equal(dl->manifest_name, "ManifestSpecification");
	assert_string_equal(dl->manifest_value, "TS103707");
	assert_int_equal(dl->payload, LI707_PAYLOAD_ITEM);
	assert_int_equal(dl->n_items, 1);

	const struct li707_item *it = &dl->items[0];
	assert_true(it->has_correlation);
	assert_int_equal(it->app_level_id, 42);
	assert_int_equal(it->app_seq, 0);
	assert_non_null(it->sender);
	assert_int_equal(it->sender->n_ids, 2);
	assert_true(it->sender->ids[0].qualified);
	assert_string_equal(it->sender->ids[0].format_owner, "ETSI");
	assert_string_equal(it->sender->ids[0].format_name, "InternationalE164");
	assert_string_equal(it->sender->ids[0].value, "447700900123");
	assert_false(it->sender->ids[1].qualified);
	assert_string_equal(it->sender->ids[1].value, "alice@example.com");
	assert_int_equal(it->sender->targeted, LI707_TRUE);
	assert_int_equal(it->n_receivers, 2);
	assert_string_equal(it->receivers[0].ids[0].value, "bob@example.com");
	assert_int_equal(it->receivers[0].targeted, LI707_FALSE);
	assert_int_equal(it->receivers[1].targeted, LI707_ABSENT);
	assert_true(it->receivers[1].ids[0].qualified);
	assert_null(it->receivers[1].ids[0].format_owner);
	assert_string_equal(it->receivers[1].ids[0].value, "  carol  "); /* LongString: exact */
	assert_string_equal(it->timestamp, "2024-05-01T09:59:58+02:00");
	assert_int_equal(it->n_attachments, 2);
	const struct li707_binary_object *b = &it->attachments[0];
	assert_string_equal(b->url,
			    "https://csp.example.com/binaryData/5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e");
	assert_true(b->has_content_length);
	assert_int_equal(b->content_length, 1024);
	assert_string_equal(b->content_type, "image/jpeg");
	assert_string_equal(b->expiry, "2024-06-01T00:00:00Z");
	assert_string_equal(b->checksum,
			    "98ecb6a08c34a97f6edc0e97ddcd32cb139e2253825186a817ddb24997ccd68f");
	assert_string_equal(b->original_filename, "holiday photo.jpg");
	assert_string_equal(b->csp_defined_identifier, "att-1");
	assert_false(it->attachments[1].has_content_length);
	assert_null(it->attachments[1].content_type);

	/* Raw content byte for byte (R-CSP-1, R-CSP-2). */
	char *want = between(buf, "<h:glossary>", "</h:glossary>");
	assert_string_equal(it->glossary, want);
	free(want);
	assert_int_equal(it->n_csp, 2);
	assert_string_equal(it->csp[0].schema_id, "urn:example:csp:v1");
	assert_string_equal(it->csp[0].schema_url, "https://csp.example.com/schemas/v1.xsd");
	want = between(buf, "<h:schemaContent>", "</h:schemaContent>");
	assert_string_equal(it->csp[0].schema_content, want);
	free(want);
	want = between(buf, "<h:xmlData>", "</h:xmlData>");
	assert_string_equal(it->csp[0].xml, want);
	free(want);
	assert_null(it->csp[1].xml);
	assert_null(it->csp[1].schema_url);

	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
}

static void test_del2_collection(void **state)
{
	size_t len;
	char *buf = data("collection.xml", &len);
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	assert_int_equal(li707_message_decode(buf, len, NULL, &m, &d), 0);
	const struct li707_delivery *dl = m->actions[0].delivery;
	assert_int_equal(m->actions[0].action_id, 1);
	assert_int_equal(dl->payload, LI707_PAYLOAD_COLLECTION);
	assert_int_equal(dl->ref_kind, LI707_REF_LDID);
	assert_string_equal(dl->reference, "DE-LEA1-2024-0001");
	assert_int_equal(dl->n_items, 3);
	assert_int_equal(dl->items[1].app_seq, 1);
	assert_string_equal(dl->items[1].timestamp, "2024-05-01T09:00:05Z");
	assert_false(dl->items[2].has_correlation);
	assert_int_equal(dl->items[2].n_attachments, 1);
	assert_int_equal(dl->sequence, 2);
	assert_int_equal(dl->last_sequence, LI707_FALSE);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
}

/* TS103707 R-CORE-2 / R-CORE-3: V1.1.1 items (plain identifiers, no timestamp; some peers
 * also leave out the payload's xsi:type) are accepted with a note / warning. */
static void test_core2_v111_item_accepted(void **state)
{
	size_t len;
	char *buf = data("v111-item.xml", &len);
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	assert_int_equal(li707_message_decode(buf, len, NULL, &m, &d), 0);
	assert_null(m->actions[0].delivery->items[0].timestamp);
	assert_true(has_severity(&d, LI707_SEV_NOTE, "R-CORE-2"));
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);

	buf = tu_read_file(tu_src("tests/data/decode-lenient/v111-no-xsitype.xml"), &len);
	m = NULL;
	int rc = li707_message_decode(buf, len, NULL, &m, &d);
	if (rc)
		tu_print_diags(&d);
	assert_int_equal(rc, 0);
	assert_true(has_severity(&d, LI707_SEV_WARNING, "R-CORE-1"));
	const struct li707_item *it = &m->actions[0].delivery->items[0];
	assert_int_equal(it->sender->n_ids, 1);
	assert_string_equal(it->sender->ids[0].value, "alice");
	assert_int_equal(it->receivers[0].n_ids, 2);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
}

/* A GET next to DELIVERs: only the GET fails (ENOTSUP); the DELIVERs are fine. */
static void test_del1_get_action_not_supported(void **state)
{
	size_t len;
	char *buf = data("get-and-deliver.xml", &len);
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	assert_int_equal(li707_message_decode(buf, len, NULL, &m, &d), LI707_ENOTSUP);
	assert_non_null(m);
	assert_int_equal(m->n_actions, 3);
	assert_int_equal(m->actions[0].status, 0);
	assert_int_equal(m->actions[1].verb, LI707_VERB_GET);
	assert_int_equal(m->actions[1].status, LI707_ENOTSUP);
	assert_null(m->actions[1].delivery);
	assert_int_equal(m->actions[2].status, 0);
	assert_int_equal(m->actions[2].action_id, 2);
	const struct li707_diag *e = find_error(&d, "R-DEL-1");
	assert_non_null(e);
	assert_int_equal(e->code, LI707_ENOTSUP);
	assert_int_equal(e->action, 1);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
}

static void test_trn3_responses(void **state)
{
	size_t len;
	char *buf = data("response-mixed.xml", &len);
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	assert_int_equal(li707_message_decode(buf, len, NULL, &m, &d), 0);
	assert_int_equal(m->kind, LI707_MSG_RESPONSE);
	assert_int_equal(m->n_responses, 2);
	assert_int_equal(m->responses[0].verb, LI707_VERB_DELIVER);
	assert_false(m->responses[0].is_error);
	assert_string_equal(m->responses[0].identifier, "4e5f6a7b-8c9d-4e0f-8a1b-2c3d4e5f6a7b");
	assert_true(m->responses[1].is_error);
	assert_int_equal(m->responses[1].action_id, 1);
	assert_int_equal(m->responses[1].error_code, 3001);
	assert_string_equal(m->responses[1].error_description, "action type not supported");
	li707_message_free(m);
	free(buf);

	buf = data("response-top-error.xml", &len);
	assert_int_equal(li707_message_decode(buf, len, NULL, &m, &d), 0);
	assert_true(m->top_error);
	assert_int_equal(m->error_code, 3007);
	assert_string_equal(m->error_description, "request could not be parsed");
	assert_int_equal(m->n_responses, 0);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
}

/* ---- the official TS 103 120 examples ---- */

static void test_official_examples(void **state)
{
	TU_SKIP_IF_NO_SHARED();
	static const struct {
		const char *file;
		int rc;
		enum li707_payload_kind payload;
		enum li707_manifest_kind manifest;
		const char *sender, *receiver;
	} t[] = {
		{"103120/examples/request5-Binary-Delivery.xml", LI707_ENOT707, LI707_PAYLOAD_BINARY,
		 LI707_MANIFEST_SPECIFICATION, "ACTOR2", "ACTOR1"},
		{"103120/examples/request5-XML-Delivery.xml", LI707_ENOT707, LI707_PAYLOAD_FOREIGN_XML,
		 LI707_MANIFEST_EXTERNAL, "ACTOR02", "ACTOR01"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t len;
		char *buf = tu_read_file(tu_shared(t[i].file), &len);
		struct li707_message *m = NULL;
		struct li707_diags d = {0};
		int rc = li707_message_decode(buf, len, NULL, &m, &d);
		if (rc != t[i].rc) {
			print_error("%s: expected %s, got %s\n", t[i].file, li707_errname(t[i].rc),
				    li707_errname(rc));
			tu_print_diags(&d);
		}
		assert_int_equal(rc, t[i].rc);
		assert_non_null(m);
		assert_string_equal(m->header.sender_cc, "XX");
		assert_string_equal(m->header.sender_id, t[i].sender);
		assert_string_equal(m->header.receiver_id, t[i].receiver);
		assert_string_equal(m->header.transaction_id, "8854cfad-44ac-43b8-99ae-530b690b43da");
		assert_string_equal(m->header.timestamp, "2019-09-30T13:37:37.000000Z");
		assert_string_equal(m->header.etsi_version, "V1.12.1");
		assert_string_equal(m->header.np_owner, "XX");
		assert_string_equal(m->header.np_version, "v1.0");
		assert_int_equal(m->n_actions, 1);
		assert_int_equal(m->actions[0].status, LI707_ENOT707);
		const struct li707_delivery *dl = m->actions[0].delivery;
		assert_non_null(dl);
		assert_string_equal(dl->identifier, "71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e");
		assert_string_equal(dl->object_id, "71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e");
		assert_int_equal(dl->ref_kind, LI707_REF_LDID);
		assert_string_equal(dl->reference, "XX-ACTOR01-1234");
		assert_string_equal(dl->delivery_id, "d1079830-8e9a-4731-8fb7-36b9b961eb72");
		assert_int_equal(dl->sequence, 1);
		assert_int_equal(dl->last_sequence, LI707_TRUE);
		assert_int_equal(dl->manifest, t[i].manifest);
		assert_int_equal(dl->payload, t[i].payload);
		if (dl->payload == LI707_PAYLOAD_FOREIGN_XML)
			assert_string_equal(dl->foreign_root,
					    "{http://FooServiceSchema.example.com/schema/v1.1.1/}FooItem");
		else
			assert_string_equal(dl->manifest_value, "TS102657-XML");
		li707_message_free(m);
		li707_diags_clear(&d);
		free(buf);
	}

	size_t len;
	char *buf = tu_read_file(tu_shared("103120/examples/response5.xml"), &len);
	struct li707_message *m = NULL;
	assert_int_equal(li707_message_decode(buf, len, NULL, &m, NULL), 0);
	assert_int_equal(m->kind, LI707_MSG_RESPONSE);
	assert_int_equal(m->n_responses, 1);
	assert_int_equal(m->responses[0].verb, LI707_VERB_DELIVER);
	assert_string_equal(m->responses[0].identifier, "71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e");
	li707_message_free(m);
	free(buf);
}

/* ---- negative structural tests ---- */

struct neg {
	const char *file;
	const char *from, *to; /* mutation of the file */
	int rc;                /* expected return */
	bool out;              /* *out expected non-NULL */
	const char *req;       /* an error citing this requirement */
	int code;              /* ... with this code (0: any) */
	const char *path;      /* ... whose path ends with this (NULL: any) */
	const char *line_at;   /* ... on the line of this text (NULL: any) */
};

static void run_neg(const struct neg *t, const char *name)
{
	size_t len;
	char *base = data(t->file ? t->file : "item-minimal.xml", &len);
	char *buf = replace(base, t->from, t->to);
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	int rc = decode(buf, NULL, &m, &d);
	const struct li707_diag *e = find_error_at(&d, t->req, t->code, t->path);
	bool ok = rc == t->rc && (m != NULL) == t->out && e;
	if (ok && t->line_at)
		ok = e->line == tu_line_of(buf, t->line_at);
	if (ok && m && m->n_actions && t->rc != 0)
		ok = m->actions[0].status != 0;
	if (!ok) {
		print_error("%s: expected %s, out %s, an error [%s]%s%s on line %ld; got %s, out %s\n",
			    name, li707_errname(t->rc), t->out ? "set" : "NULL", t->req,
			    t->path ? " at ..." : "", t->path ? t->path : "",
			    t->line_at ? tu_line_of(buf, t->line_at) : 0L, li707_errname(rc),
			    m ? "set" : "NULL");
		tu_print_diags(&d);
	}
	int leaked = leaks_values(&d);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
	free(base);
	assert_true(ok);
	assert_false(leaked);
}

#define NEG(name, ...)                                                                        \
	static void name(void **state)                                                      \
	{                                                                                   \
		static const struct neg t = __VA_ARGS__;                                    \
		run_neg(&t, #name);                                                         \
	}

#define INV LI707_EINVALID
#define ACTION_ID "<ActionIdentifier>0</ActionIdentifier>"
#define REFERENCE                                                                           \
	"<delivery:Reference>\n                <delivery:LIID>LIID-0001</delivery:LIID>\n     " \
	"         </delivery:Reference>"
#define CORE_OPEN "<coreParameters>"
#define TIMESTAMP "<timestamp>2024-05-01T09:59:58Z</timestamp>"
#define PAYLOAD_OPEN "<payload xsi:type=\"MessagingPayload\">"
#define OWNER "<OwnerIdentifier>Not specified</OwnerIdentifier>"
#define VERSION_END "</Version>"
#define XMLDATA_OPEN "<delivery:XMLData>"
#define ITEM                                                                                \
	"<handoverItem xmlns=\"http://uri.etsi.org/03707/2020/02\">\n                    "    \
	"<payload xsi:type=\"MessagingPayload\">\n                      <coreParameters>\n " \
	"                       <timestamp>2024-05-01T09:59:58Z</timestamp>\n              " \
	"        </coreParameters>\n                    </payload>\n                  "   \
	"</handoverItem>"

/* R-DEL-1: envelope and actions */
NEG(test_del1_root_not_hi1message, {NULL, "HI1Message", "HI2Message", INV, false, "R-DEL-1", INV,
				    "/", NULL})
NEG(test_del1_payload_neither_request_nor_response,
    {NULL, "RequestPayload", "OtherPayload", INV, false, "R-DEL-1", INV, "/HI1Message/Payload",
     NULL})
NEG(test_del1_action_identifier_missing, {NULL, ACTION_ID, "", INV, true, "R-DEL-1", INV,
					  "/ActionRequest[1]/ActionIdentifier", NULL})
NEG(test_del1_action_identifier_not_integer,
    {NULL, ACTION_ID, "<ActionIdentifier>-1</ActionIdentifier>", INV, true, "R-DEL-1", INV,
     "/ActionIdentifier", "<ActionIdentifier>"})
NEG(test_del1_not_a_delivery_object,
    {NULL, "delivery:DeliveryObject", "delivery:OtherObject", LI707_ENOTSUP, true, "R-DEL-1",
     LI707_ENOTSUP, "/DELIVER/HI1Object", "<HI1Object"})
NEG(test_del1_unknown_verb, {NULL, "DELIVER>", "TRANSFER>", LI707_ENOTSUP, true, "R-DEL-1",
			     LI707_ENOTSUP, "/ActionRequest[1]", NULL})
NEG(test_del1_deliver_identifier_missing,
    {NULL, "<Identifier>0d5e1f6a-7b8c-4d9e-8f01-23456789abcd</Identifier>", "", INV, true,
     "R-DEL-1", INV, "/DELIVER/Identifier", NULL})

/* R-DEL-3: header */
NEG(test_del3_header_out_of_order,
    {NULL, "<TransactionIdentifier>4b0f7c3e-2a51-4d1e-9f0a-6c1d2e3f4a5b</TransactionIdentifier>",
     "<Version/><TransactionIdentifier>4b0f7c3e-2a51-4d1e-9f0a-6c1d2e3f4a5b</TransactionIdentifier>",
     INV, true, "R-DEL-3", INV, "/HI1Message/Header/Version", "<Version>"})
NEG(test_del3_header_unknown_element, {NULL, VERSION_END, "</Version><Foo/>", INV, true,
				       "R-DEL-3", INV, "/HI1Message/Header/Foo", "<Foo/>"})
NEG(test_del3_header_text, {NULL, VERSION_END, "</Version>stray", INV, true, "R-DEL-3", INV,
			    "/HI1Message/Header", NULL})
NEG(test_del3_header_attribute, {NULL, "<Header>", "<Header id='x'>", INV, true, "R-DEL-3", INV,
				 "/HI1Message/Header", NULL})
NEG(test_del3_header_missing, {NULL, "Header>", "Headline>", INV, false, "R-DEL-3", INV,
			       "/HI1Message/Header", NULL})
NEG(test_del3_country_code_too_long,
    {NULL, "<CountryCode>XX</CountryCode>\n      <UniqueIdentifier>CSP",
     "<CountryCode>XXX</CountryCode>\n      <UniqueIdentifier>CSP", INV, true, "R-DEL-3", INV,
     "/SenderIdentifier/CountryCode", "<CountryCode>XXX"})
NEG(test_del3_unique_identifier_missing,
    {NULL, "<UniqueIdentifier>CSP-EXAMPLE</UniqueIdentifier>", "", INV, true, "R-DEL-3", INV,
     "/SenderIdentifier/UniqueIdentifier", NULL})

/* R-DEL-4: object fields */
NEG(test_del4_national_handling_parameters,
    {NULL, OWNER,
     OWNER "<NationalHandlingParameters><CountryCode>XX</CountryCode></NationalHandlingParameters>",
     INV, true, "R-DEL-4", INV, "/HI1Object/NationalHandlingParameters",
     "<NationalHandlingParameters>"})
NEG(test_del4_generation_not_integer, {NULL, OWNER, OWNER "<Generation>one</Generation>", INV,
				       true, "R-DEL-4", INV, "/HI1Object/Generation",
				       "<Generation>"})
NEG(test_del4_associated_object_not_uuid,
    {NULL, OWNER,
     OWNER "<AssociatedObjects><AssociatedObject>nope</AssociatedObject></AssociatedObjects>", INV,
     true, "R-DEL-4", INV, "/AssociatedObjects/AssociatedObject[1]", NULL})
NEG(test_del4_last_changed_not_datetime,
    {NULL, OWNER, OWNER "<LastChanged>2024-05-01</LastChanged>", INV, true, "R-DEL-4", INV,
     "/HI1Object/LastChanged", NULL})
NEG(test_del4_country_code_missing, {NULL, "<CountryCode>XX</CountryCode>\n              <Owner",
				     "<Owner", INV, true, "R-DEL-4", INV, "/HI1Object/CountryCode",
				     NULL})

/* R-DEL-5: DeliveryObject */
NEG(test_del5_reference_missing, {NULL, REFERENCE, "", INV, true, "R-DEL-5", INV,
				  "/HI1Object/delivery:Reference", NULL})
NEG(test_del5_reference_empty, {NULL, REFERENCE, "<delivery:Reference/>", INV, true, "R-DEL-5",
				INV, "/HI1Object/delivery:Reference", NULL})
NEG(test_del5_object_element_out_of_order,
    {NULL, OWNER, REFERENCE OWNER, INV, true, "R-DEL-5", INV, "/HI1Object/OwnerIdentifier",
     OWNER})
NEG(test_del5_manifest_empty, {NULL, REFERENCE, REFERENCE "<delivery:Manifest/>", INV, true,
			       "R-DEL-5", INV, "/delivery:Manifest", "<delivery:Manifest/>"})
NEG(test_del5_delivery_missing, {NULL, "delivery:Delivery>", "delivery:Manifest>", INV, true,
				 "R-DEL-5", INV, "/HI1Object/delivery:Delivery", NULL})
NEG(test_del5_delivery_empty, {NULL, ITEM, "", INV, true, "R-DEL-5", INV,
			       "/delivery:Delivery/delivery:XMLData", XMLDATA_OPEN})
NEG(test_del5_xmldata_text, {NULL, ITEM, ITEM "text", INV, true, "R-DEL-5", INV,
			     "/delivery:XMLData", NULL})
NEG(test_del5_payload_missing, {NULL, ITEM, "<handoverItem xmlns='" NS707 "'/>", INV, true,
				"R-DEL-5", INV, "/handoverItem/payload", NULL})
NEG(test_core1_payload_wrong_xsi_type,
    {NULL, PAYLOAD_OPEN, "<payload xsi:type=\"OtherPayload\">", INV, true, "R-CORE-1", INV,
     "/handoverItem/payload", "<payload"})
NEG(test_del5_item_unknown_element, {NULL, "</payload>", "</payload><trailer/>", INV, true,
				     "R-DEL-5", INV, "/handoverItem/trailer", "<trailer/>"})

/* R-DEL-2: handoverItem / handoverItemCollection */
NEG(test_del2_two_roots_in_xmldata, {NULL, ITEM, ITEM ITEM, INV, true, "R-DEL-2", INV, NULL,
				     NULL})
NEG(test_del2_empty_collection,
    {NULL, ITEM, "<handoverItemCollection xmlns='" NS707 "'/>", INV, true, "R-DEL-2", INV,
     "/handoverItemCollection", NULL})
NEG(test_del2_unknown_707_root, {NULL, ITEM, "<handoverThing xmlns='" NS707 "'/>", INV, true,
				 "R-DEL-2", INV, "/delivery:XMLData", NULL})
NEG(test_del2_collection_foreign_child,
    {NULL, ITEM, "<handoverItemCollection xmlns='" NS707 "'>" ITEM "<x:y xmlns:x='urn:x'/>"
		 "</handoverItemCollection>",
     INV, true, "R-DEL-2", INV, "/handoverItemCollection/x:y", NULL})

/* R-DEL-6: DeliveryID / SequenceNumber / LastSequence */
NEG(test_del6_sequence_number_not_integer,
    {NULL, REFERENCE, REFERENCE "<delivery:SequenceNumber>-1</delivery:SequenceNumber>", INV, true,
     "R-DEL-6", INV, "/delivery:SequenceNumber", "<delivery:SequenceNumber>"})
NEG(test_del6_last_sequence_not_boolean,
    {NULL, REFERENCE, REFERENCE "<delivery:LastSequence>yes</delivery:LastSequence>", INV, true,
     "R-DEL-6", INV, "/delivery:LastSequence", NULL})
NEG(test_del6_delivery_id_too_long,
    {NULL, REFERENCE,
     REFERENCE "<delivery:DeliveryID>d1079830-8e9a-4731-8fb7-36b9b961eb72-0</delivery:DeliveryID>",
     INV, true, "R-DEL-6", INV, "/delivery:DeliveryID", NULL})

/* R-HDR-1 / R-HDR-2: application level header */
NEG(test_hdr1_application_level_id_missing,
    {NULL, PAYLOAD_OPEN,
     "<header><applicationCorrelation><applicationSequenceNumber>0</applicationSequenceNumber>"
     "</applicationCorrelation></header>" PAYLOAD_OPEN,
     INV, true, "R-HDR-1", INV, "/header/applicationCorrelation/applicationLevelID", NULL})
NEG(test_hdr2_sequence_number_missing,
    {NULL, PAYLOAD_OPEN,
     "<header><applicationCorrelation><applicationLevelID>1</applicationLevelID>"
     "</applicationCorrelation></header>" PAYLOAD_OPEN,
     INV, true, "R-HDR-2", INV, "/applicationCorrelation/applicationSequenceNumber", NULL})
NEG(test_hdr2_sequence_number_not_integer,
    {NULL, PAYLOAD_OPEN,
     "<header><applicationCorrelation><applicationLevelID>1</applicationLevelID>"
     "<applicationSequenceNumber>first</applicationSequenceNumber>"
     "</applicationCorrelation></header>" PAYLOAD_OPEN,
     INV, true, "R-HDR-2", INV, "/applicationSequenceNumber", NULL})
NEG(test_hdr1_header_unknown_element, {NULL, PAYLOAD_OPEN, "<header><x/></header>" PAYLOAD_OPEN,
				       INV, true, "R-HDR-1", INV, "/handoverItem/header/x", NULL})

/* R-CORE-1..5: core parameters */
NEG(test_core1_core_parameters_missing,
    {NULL, "<coreParameters>\n                        " TIMESTAMP "\n                      "
	   "</coreParameters>",
     "", INV, true, "R-CORE-1", INV, "/payload/coreParameters", NULL})
NEG(test_core1_receivers_empty, {NULL, TIMESTAMP, "<messageReceivers/>" TIMESTAMP, INV, true,
				 "R-CORE-1", INV, "/coreParameters/messageReceivers", NULL})
NEG(test_core1_timestamp_repeated, {NULL, TIMESTAMP, TIMESTAMP TIMESTAMP, INV, true, "R-CORE-1",
				    INV, "/coreParameters/timestamp", NULL})
NEG(test_core1_sender_after_timestamp,
    {NULL, TIMESTAMP,
     TIMESTAMP "<messageSender><identifiers><identifier>a</identifier></identifiers>"
	       "</messageSender>",
     INV, true, "R-CORE-1", INV, "/coreParameters/messageSender", NULL})
NEG(test_core2_timestamp_not_datetime,
    {NULL, TIMESTAMP, "<timestamp>yesterday</timestamp>", INV, true, "R-CORE-2", INV,
     "/coreParameters/timestamp", "<timestamp>"})
NEG(test_core3_identifiers_missing,
    {NULL, TIMESTAMP,
     "<messageSender><isTargetedParty>true</isTargetedParty></messageSender>" TIMESTAMP, INV, true,
     "R-CORE-3", INV, "/messageSender/identifiers", NULL})
NEG(test_core3_identifiers_empty,
    {NULL, TIMESTAMP, "<messageSender><identifiers/></messageSender>" TIMESTAMP, INV, true,
     "R-CORE-3", INV, "/messageSender/identifiers", NULL})
NEG(test_core3_identifier_with_element,
    {NULL, TIMESTAMP,
     "<messageSender><identifiers><identifier><b/></identifier></identifiers></messageSender>"
     TIMESTAMP,
     INV, true, "R-CORE-3", INV, NULL, NULL})
NEG(test_core3_unknown_identifier_kind,
    {NULL, TIMESTAMP,
     "<messageSender><identifiers><identifier>a</identifier><uri>b</uri></identifiers>"
     "</messageSender>" TIMESTAMP,
     INV, true, "R-CORE-3", INV, "/identifiers/uri", NULL})
NEG(test_core4_targeted_not_boolean,
    {NULL, TIMESTAMP,
     "<messageSender><identifiers><identifier>a</identifier></identifiers>"
     "<isTargetedParty>maybe</isTargetedParty></messageSender>" TIMESTAMP,
     INV, true, "R-CORE-4", INV, "/messageSender/isTargetedParty", NULL})
NEG(test_core5_url_missing,
    {NULL, TIMESTAMP,
     TIMESTAMP "<associatedBinaryData><binaryObject><contentLength>1</contentLength>"
	       "</binaryObject></associatedBinaryData>",
     INV, true, "R-CORE-5", INV, "/binaryObject[1]/url", NULL})
NEG(test_core5_associated_binary_data_empty,
    {NULL, TIMESTAMP, TIMESTAMP "<associatedBinaryData/>", INV, true, "R-CORE-5", INV,
     "/coreParameters/associatedBinaryData", NULL})
NEG(test_core5_content_length_not_integer,
    {NULL, TIMESTAMP,
     TIMESTAMP "<associatedBinaryData><binaryObject><url>https://a.example/1</url>"
	       "<contentLength>1k</contentLength></binaryObject></associatedBinaryData>",
     INV, true, "R-CORE-5", INV, "/binaryObject[1]/contentLength", NULL})
NEG(test_core5_binary_object_fields_out_of_order,
    {NULL, TIMESTAMP,
     TIMESTAMP "<associatedBinaryData><binaryObject><contentType>a/b</contentType>"
	       "<url>https://a.example/1</url></binaryObject></associatedBinaryData>",
     INV, true, "R-CORE-5", INV, NULL, NULL})

/* R-CSP-1 / R-CSP-2 */
NEG(test_csp1_glossary_text, {NULL, "</coreParameters>",
			      "</coreParameters><glossary>free text</glossary>", INV, true,
			      "R-CSP-1", INV, "/payload/glossary", NULL})
NEG(test_csp1_glossary_707_element,
    {NULL, "</coreParameters>", "</coreParameters><glossary><timestamp/></glossary>", INV, true,
     "R-CSP-1", INV, "/payload/glossary", NULL})
NEG(test_csp1_glossary_no_namespace,
    {NULL, "</coreParameters>", "</coreParameters><glossary><t xmlns=''/></glossary>", INV, true,
     "R-CSP-1", INV, "/payload/glossary", NULL})
NEG(test_csp1_glossary_unresolvable_xsi_type,
    {NULL, "</coreParameters>",
     "</coreParameters><glossary><g:t xmlns:g='urn:g' xsi:type='nope:T'/></glossary>", INV, true,
     "R-CSP-1", INV, "/payload/glossary", NULL})
NEG(test_csp2_schema_details_missing,
    {NULL, "</coreParameters>",
     "</coreParameters><cspDefinedParameters><cspDefinedMetadata/></cspDefinedParameters>", INV,
     true, "R-CSP-2", INV, "/cspDefinedMetadata[1]/schemaDetails/schemaIdentifier", NULL})
NEG(test_csp2_parameters_empty,
    {NULL, "</coreParameters>", "</coreParameters><cspDefinedParameters/>", INV, true, "R-CSP-2",
     INV, "/payload/cspDefinedParameters", NULL})
NEG(test_csp2_xmldata_in_707_namespace,
    {NULL, "</coreParameters>",
     "</coreParameters><cspDefinedParameters><cspDefinedMetadata><schemaDetails>"
     "<schemaIdentifier>s</schemaIdentifier></schemaDetails><xmlData><timestamp/></xmlData>"
     "</cspDefinedMetadata></cspDefinedParameters>",
     INV, true, "R-CSP-2", INV, "/cspDefinedMetadata[1]/xmlData", NULL})
NEG(test_csp2_xmldata_empty,
    {NULL, "</coreParameters>",
     "</coreParameters><cspDefinedParameters><cspDefinedMetadata><schemaDetails>"
     "<schemaIdentifier>s</schemaIdentifier></schemaDetails><xmlData> </xmlData>"
     "</cspDefinedMetadata></cspDefinedParameters>",
     INV, true, "R-CSP-2", INV, "/cspDefinedMetadata[1]/xmlData", NULL})

/* R-TRN-3: responses */
NEG(test_trn3_error_code_missing, {"response-top-error.xml", "<ErrorCode>3007</ErrorCode>", "",
				   INV, true, "R-TRN-3", INV, "/ErrorInformation/ErrorCode", NULL})
NEG(test_trn3_response_without_response,
    {"response-mixed.xml",
     "<DELIVERResponse>\n            <Identifier>4e5f6a7b-8c9d-4e0f-8a1b-2c3d4e5f6a7b</Identifier>\n"
     "          </DELIVERResponse>",
     "", INV, true, "R-TRN-3", INV, "/ActionResponse[1]", NULL})

/* ---- notes ---- */

static void test_del3_workflow_identifier_and_signature_noted(void **state)
{
	size_t len;
	char *base = data("item-minimal.xml", &len);
	char *b1 = replace(base, VERSION_END, "</Version><WorkflowIdentifier>wf</WorkflowIdentifier>");
	char *b2 = replace(b1, "</Payload>",
			   "</Payload><Signature/><ds:Signature xmlns:ds='http://www.w3.org/2000/"
			   "09/xmldsig#'/>");
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	int rc = decode(b2, NULL, &m, &d);
	if (rc)
		tu_print_diags(&d);
	assert_int_equal(rc, 0);
	assert_true(has_severity(&d, LI707_SEV_NOTE, "R-DEL-3"));
	int sig_notes = 0;
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].severity == LI707_SEV_NOTE && strstr(d.v[i].message, "not verified"))
			sig_notes++;
	assert_int_equal(sig_notes, 2);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(b2);
	free(b1);
	free(base);
}

/* Value errors found by the checker carry the input line of the field (line map). */
static void test_checker_findings_have_lines(void **state)
{
	size_t len;
	char *base = data("item-minimal.xml", &len);
	char *buf = replace(base, "<delivery:LIID>LIID-0001</delivery:LIID>",
			    "<delivery:LIID>LIID 0001 with spaces</delivery:LIID>");
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	assert_int_equal(decode(buf, NULL, &m, &d), LI707_EINVALID);
	const struct li707_diag *e = find_error(&d, "R-DEL-5");
	assert_non_null(e);
	assert_int_equal(e->line, tu_line_of(buf, "<delivery:LIID>"));
	assert_int_equal(m->actions[0].status, LI707_EINVALID);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
	free(base);
}

/* Raw content that uses namespaces declared outside it (here on HI1Message) comes back
 * namespace-complete and context-free, and re-encodes. */
static void test_csp2_raw_content_from_ancestor_namespaces(void **state)
{
	size_t len;
	char *base = data("item-minimal.xml", &len);
	char *b1 = replace(base, "<HI1Message ", "<HI1Message xmlns:c=\"urn:csp\" ");
	char *buf = replace(b1, "</coreParameters>",
			    "</coreParameters><glossary><c:g>1</c:g></glossary><cspDefinedParameters>"
			    "<cspDefinedMetadata><schemaDetails><schemaIdentifier>s</schemaIdentifier>"
			    "<schemaContent>text <c:q/><plain/></schemaContent></schemaDetails>"
			    "<xmlData><c:r xsi:type='c:T'/></xmlData></cspDefinedMetadata>"
			    "</cspDefinedParameters>");
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	int rc = decode(buf, NULL, &m, &d);
	if (rc)
		tu_print_diags(&d);
	assert_int_equal(rc, 0);
	const struct li707_item *it = &m->actions[0].delivery->items[0];
	assert_non_null(strstr(it->glossary, "xmlns:c=\"urn:csp\""));
	assert_non_null(strstr(it->csp[0].xml, "xmlns:c=\"urn:csp\""));
	assert_non_null(strstr(it->csp[0].xml, "xmlns:xsi="));
	/* <plain/> is in the TS 103 707 default namespace: declared on the copy */
	assert_non_null(strstr(it->csp[0].schema_content,
			       "<plain xmlns=\"http://uri.etsi.org/03707/2020/02\""));
	char *out = NULL;
	size_t out_len;
	assert_int_equal(li707_message_encode(m, &out, &out_len, NULL), 0);
	struct li707_message *m2 = NULL;
	assert_int_equal(li707_message_decode(out, out_len, NULL, &m2, NULL), 0);
	const struct li707_item *it2 = &m2->actions[0].delivery->items[0];
	assert_string_equal(it->glossary, it2->glossary);
	assert_string_equal(it->csp[0].xml, it2->csp[0].xml);
	assert_string_equal(it->csp[0].schema_content, it2->csp[0].schema_content);
	li707_message_free(m2);
	free(out);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
	free(b1);
	free(base);
}

/* ---- whole-document failures ---- */

static void test_exml_not_well_formed(void **state)
{
	static const char *const docs[] = {
		"<HI1Message xmlns='" LI707_NS_CORE "'><Header></HI1Message>",
		"<!DOCTYPE HI1Message [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
		"<HI1Message xmlns='" LI707_NS_CORE "'>&x;</HI1Message>",
		"",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		struct li707_message *m = (void *)1;
		struct li707_diags d = {0};
		assert_int_equal(decode(docs[i], NULL, &m, &d), LI707_EXML);
		assert_null(m);
		assert_true(tu_has_error(&d, NULL));
		li707_diags_clear(&d);
	}
	assert_int_equal(li707_message_decode(NULL, 1, NULL, NULL, NULL), LI707_EINVAL);
}

/* ---- limits ---- */

struct limit_case {
	const char *name, *file;
	struct li707_limits lim;
	bool out;      /* message still returned (the cap hit one action) */
	const char *req;
};

static void test_limits(void **state)
{
	static const struct limit_case t[] = {
		{"document bytes", "item-full.xml", {.max_document_bytes = 1000}, false, NULL},
		{"depth", "item-full.xml", {.max_depth = 8}, false, NULL},
		{"actions", "get-and-deliver.xml", {.max_actions = 2}, false, "R-DEL-1"},
		{"responses", "response-mixed.xml", {.max_actions = 1}, false, "R-DEL-1"},
		{"items", "collection.xml", {.max_items = 2}, true, "R-DEL-2"},
		{"attachments", "item-full.xml", {.max_attachments = 1}, true, "R-CORE-5"},
		{"identifiers", "item-full.xml", {.max_identifiers = 1}, true, "R-CORE-3"},
		{"receivers", "item-full.xml", {.max_identifiers = 1}, true, "R-CORE-1"},
		{"csp blocks", "item-full.xml", {.max_attachments = 1}, true, "R-CSP-2"},
		{"raw xml", "item-full.xml", {.max_raw_xml_bytes = 40}, true, "R-CSP-1"},
		{"string bytes", "item-full.xml", {.max_string_bytes = 8}, true, NULL},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t len;
		char *buf = data(t[i].file, &len);
		struct li707_message *m = NULL;
		struct li707_diags d = {0};
		int rc = li707_message_decode(buf, len, &t[i].lim, &m, &d);
		bool ok = rc == LI707_ELIMIT && (m != NULL) == t[i].out;
		bool found = false;
		for (size_t k = 0; k < d.n; k++)
			if (d.v[k].code == LI707_ELIMIT &&
			    (!t[i].req || (d.v[k].req && !strcmp(d.v[k].req, t[i].req))))
				found = true;
		if (m && m->n_actions && m->actions[0].status != LI707_ELIMIT)
			ok = false;
		if (!ok || !found) {
			print_error("%s: expected ELIMIT [%s], out %s; got %s, out %s\n", t[i].name,
				    t[i].req ? t[i].req : "-", t[i].out ? "set" : "NULL",
				    li707_errname(rc), m ? "set" : "NULL");
			tu_print_diags(&d);
			bad++;
		}
		li707_message_free(m);
		li707_diags_clear(&d);
		free(buf);
	}
	assert_int_equal(bad, 0);
}

/* ---- round trip ---- */

static void test_round_trip(void **state)
{
	static const char *const files[] = {"item-full.xml", "collection.xml", "item-minimal.xml",
					    "response-mixed.xml"};
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		char *buf = data(files[f], &len);
		struct li707_message *m1 = NULL, *m2 = NULL;
		struct li707_diags d = {0};
		assert_int_equal(li707_message_decode(buf, len, NULL, &m1, &d), 0);
		char *out = NULL;
		size_t out_len = 0;
		int rc = li707_message_encode(m1, &out, &out_len, &d);
		if (rc) {
			print_error("%s: encode failed: %s\n", files[f], li707_errname(rc));
			tu_print_diags(&d);
		}
		assert_int_equal(rc, 0);
		rc = li707_message_decode(out, out_len, NULL, &m2, &d);
		if (rc) {
			print_error("%s: re-decode failed: %s\n%s\n", files[f], li707_errname(rc),
				    out);
			tu_print_diags(&d);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(tu_xmllint_oracle(out, out_len) == 1, 0);
		assert_int_equal(m1->n_actions, m2->n_actions);
		assert_string_equal(m1->header.transaction_id, m2->header.transaction_id);
		for (size_t a = 0; a < m1->n_actions; a++) {
			const struct li707_delivery *x = m1->actions[a].delivery,
						    *y = m2->actions[a].delivery;
			assert_int_equal(x->n_items, y->n_items);
			assert_string_equal(x->reference, y->reference);
			for (size_t i = 0; i < x->n_items; i++) {
				const struct li707_item *p = &x->items[i], *q = &y->items[i];
				assert_int_equal(p->n_csp, q->n_csp);
				if (p->glossary)
					assert_string_equal(p->glossary, q->glossary);
				for (size_t k = 0; k < p->n_csp; k++) {
					if (p->csp[k].xml)
						assert_string_equal(p->csp[k].xml, q->csp[k].xml);
					if (p->csp[k].schema_content)
						assert_string_equal(p->csp[k].schema_content,
								    q->csp[k].schema_content);
				}
			}
		}
		li707_message_free(m1);
		li707_message_free(m2);
		li707_diags_clear(&d);
		free(out);
		free(buf);
	}
}

/* ---- threads ---- */

struct worker {
	const char *good, *bad;
	size_t good_len, bad_len;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 300; i++) {
		struct li707_message *m = NULL;
		struct li707_diags d = {0};
		if (li707_message_decode(w->good, w->good_len, NULL, &m, &d) != 0 || !m ||
		    strcmp(m->actions[0].delivery->items[0].csp[0].schema_id, "urn:example:csp:v1"))
			w->failures++;
		li707_message_free(m);
		m = NULL;
		/* an encoding error is raised by libxml2 without a parser context */
		if (li707_message_decode(w->bad, w->bad_len, NULL, &m, &d) != LI707_EXML || m)
			w->failures++;
		li707_diags_clear(&d);
	}
	return NULL;
}

/* Decoding is thread-safe after li707_global_init(). */
static void test_decode_two_threads(void **state)
{
	size_t len;
	char *good = data("item-full.xml", &len);
	static const char bad[] = "<?xml version='1.0' encoding='EUC-JP'?><HI1Message>\xff\xfe"
				  "</HI1Message>";
	struct worker w[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){good, bad, len, sizeof bad - 1, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (w[i].failures)
			print_error("thread %d: %d unexpected results\n", i, w[i].failures);
		assert_int_equal(w[i].failures, 0);
	}
	free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_files),
		cmocka_unit_test(test_item_full_fields),
		cmocka_unit_test(test_del2_collection),
		cmocka_unit_test(test_core2_v111_item_accepted),
		cmocka_unit_test(test_del1_get_action_not_supported),
		cmocka_unit_test(test_trn3_responses),
		cmocka_unit_test(test_official_examples),
		cmocka_unit_test(test_del1_root_not_hi1message),
		cmocka_unit_test(test_del1_payload_neither_request_nor_response),
		cmocka_unit_test(test_del1_action_identifier_missing),
		cmocka_unit_test(test_del1_action_identifier_not_integer),
		cmocka_unit_test(test_del1_not_a_delivery_object),
		cmocka_unit_test(test_del1_unknown_verb),
		cmocka_unit_test(test_del1_deliver_identifier_missing),
		cmocka_unit_test(test_del3_header_out_of_order),
		cmocka_unit_test(test_del3_header_unknown_element),
		cmocka_unit_test(test_del3_header_text),
		cmocka_unit_test(test_del3_header_attribute),
		cmocka_unit_test(test_del3_header_missing),
		cmocka_unit_test(test_del3_country_code_too_long),
		cmocka_unit_test(test_del3_unique_identifier_missing),
		cmocka_unit_test(test_del4_national_handling_parameters),
		cmocka_unit_test(test_del4_generation_not_integer),
		cmocka_unit_test(test_del4_associated_object_not_uuid),
		cmocka_unit_test(test_del4_last_changed_not_datetime),
		cmocka_unit_test(test_del4_country_code_missing),
		cmocka_unit_test(test_del5_reference_missing),
		cmocka_unit_test(test_del5_reference_empty),
		cmocka_unit_test(test_del5_object_element_out_of_order),
		cmocka_unit_test(test_del5_manifest_empty),
		cmocka_unit_test(test_del5_delivery_missing),
		cmocka_unit_test(test_del5_delivery_empty),
		cmocka_unit_test(test_del5_xmldata_text),
		cmocka_unit_test(test_del5_payload_missing),
		cmocka_unit_test(test_core1_payload_wrong_xsi_type),
		cmocka_unit_test(test_del5_item_unknown_element),
		cmocka_unit_test(test_del2_two_roots_in_xmldata),
		cmocka_unit_test(test_del2_empty_collection),
		cmocka_unit_test(test_del2_unknown_707_root),
		cmocka_unit_test(test_del2_collection_foreign_child),
		cmocka_unit_test(test_del6_sequence_number_not_integer),
		cmocka_unit_test(test_del6_last_sequence_not_boolean),
		cmocka_unit_test(test_del6_delivery_id_too_long),
		cmocka_unit_test(test_hdr1_application_level_id_missing),
		cmocka_unit_test(test_hdr2_sequence_number_missing),
		cmocka_unit_test(test_hdr2_sequence_number_not_integer),
		cmocka_unit_test(test_hdr1_header_unknown_element),
		cmocka_unit_test(test_core1_core_parameters_missing),
		cmocka_unit_test(test_core1_receivers_empty),
		cmocka_unit_test(test_core1_timestamp_repeated),
		cmocka_unit_test(test_core1_sender_after_timestamp),
		cmocka_unit_test(test_core2_timestamp_not_datetime),
		cmocka_unit_test(test_core3_identifiers_missing),
		cmocka_unit_test(test_core3_identifiers_empty),
		cmocka_unit_test(test_core3_identifier_with_element),
		cmocka_unit_test(test_core3_unknown_identifier_kind),
		cmocka_unit_test(test_core4_targeted_not_boolean),
		cmocka_unit_test(test_core5_url_missing),
		cmocka_unit_test(test_core5_associated_binary_data_empty),
		cmocka_unit_test(test_core5_content_length_not_integer),
		cmocka_unit_test(test_core5_binary_object_fields_out_of_order),
		cmocka_unit_test(test_csp1_glossary_text),
		cmocka_unit_test(test_csp1_glossary_707_element),
		cmocka_unit_test(test_csp1_glossary_no_namespace),
		cmocka_unit_test(test_csp1_glossary_unresolvable_xsi_type),
		cmocka_unit_test(test_csp2_schema_details_missing),
		cmocka_unit_test(test_csp2_parameters_empty),
		cmocka_unit_test(test_csp2_xmldata_in_707_namespace),
		cmocka_unit_test(test_csp2_xmldata_empty),
		cmocka_unit_test(test_trn3_error_code_missing),
		cmocka_unit_test(test_trn3_response_without_response),
		cmocka_unit_test(test_del3_workflow_identifier_and_signature_noted),
		cmocka_unit_test(test_checker_findings_have_lines),
		cmocka_unit_test(test_csp2_raw_content_from_ancestor_namespaces),
		cmocka_unit_test(test_exml_not_well_formed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_two_threads),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
