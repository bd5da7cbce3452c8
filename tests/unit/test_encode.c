/* Unit tests of the encoder and the responses (src/lib/encode.c):
 * - the full model encodes to tests/data/encode/full.xml exactly (fixed UUIDs/timestamps;
 *   LI707_UPDATE_GOLDEN=1 rewrites the file after a deliberate change - review the diff);
 * - every kind of output validates with the independent oracle (xmllint + official
 *   TS 103 120 schemas + schemas/ts_103707.xsd), skipped when ../shared is absent;
 * - raw CSP content is carried byte for byte (R-CSP-2) and bad fragments are refused;
 * - invalid models are refused before anything is written;
 * - li707_response_for / li707_response_top_error (R-TRN-3);
 * - li707_item_encode: a standalone handoverItem document that validates with
 *   schemas/ts_103707.xsd and decodes back to the same item. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture_model.h"
#include "internal.h"

#define OBJ "/HI1Message/Payload/RequestPayload/ActionRequests/ActionRequest[1]/DELIVER/HI1Object"
#define ITEM OBJ "/delivery:Delivery/delivery:XMLData/handoverItem"
#define CSP1 ITEM "/payload/cspDefinedParameters/cspDefinedMetadata[1]"

static struct li707_item *item0(struct li707_message *m)
{
	return &m->actions[0].delivery->items[0];
}

/* An encoder's result, expected to be success (what names the encoder in the failure
 * message); clears d and returns out. */
static char *expect_encoded(const char *what, int rc, char *out, const size_t *len,
			    struct li707_diags *d)
{
	if (rc != 0) {
		print_error("%s: expected OK, got %s\n", what, li707_errname(rc));
		tu_print_diags(d);
	}
	li707_diags_clear(d);
	assert_int_equal(rc, 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), *len);
	return out;
}

/* Encodes m, expecting success; the caller frees the result. */
static char *encode_ok(const struct li707_message *m, size_t *len)
{
	struct li707_diags d = {0};
	char *out = NULL;
	int rc = li707_message_encode(m, &out, len, &d);
	return expect_encoded("encode", rc, out, len, &d);
}

static void oracle_ok(const char *xml, size_t len)
{
	int r = tu_xmllint_oracle(xml, len);
	if (r != 0)
		print_error("oracle rejected:\n%s\n", xml);
	assert_int_equal(r, 0);
}

static void encode_and_validate(const struct li707_message *m)
{
	size_t len;
	char *xml = encode_ok(m, &len);
	oracle_ok(xml, len);
	free(xml);
}

/* ---- golden ---- */

static void test_encode_full_golden(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	size_t len;
	char *xml = encode_ok(m, &len);
	const char *golden = tu_src("tests/data/encode/full.xml");
	if (getenv("LI707_UPDATE_GOLDEN")) {
		FILE *f = fopen(golden, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(xml, 1, len, f), len);
		fclose(f);
	}
	size_t glen;
	char *want = tu_read_file(golden, &glen);
	if (glen != len || memcmp(want, xml, len) != 0) {
		size_t i = 0, line = 1;
		while (i < len && i < glen && want[i] == xml[i])
			line += xml[i++] == '\n';
		print_error("differs from %s at line %zu (byte %zu)\n--- actual:\n%s\n", golden,
			    line, i, xml);
		fail();
	}
	free(want);
	free(xml);
	li707_message_free(m);
}

/* ---- oracle: every kind of output is valid TS 103 120 + TS 103 707 XML ---- */

static void test_encode_oracle_item(void **state)
{
	(void)state;
	TU_SKIP_IF_NO_SHARED();
	struct li707_message *m = fx_full();
	encode_and_validate(m);
	li707_message_free(m);
}

/* The oracle can say no: the same message with its mandatory Header removed is invalid
 * for the official schemas (otherwise a passing oracle would prove nothing). */
static void test_encode_oracle_rejects(void **state)
{
	(void)state;
	TU_SKIP_IF_NO_SHARED();
	struct li707_message *m = fx_full();
	size_t len;
	char *xml = encode_ok(m, &len);
	char *h = strstr(xml, "<Header>"), *e = strstr(xml, "</Header>");
	assert_non_null(h);
	assert_non_null(e);
	e += strlen("</Header>");
	memmove(h, e, strlen(e) + 1);
	assert_int_equal(tu_xmllint_oracle(xml, strlen(xml)), 1);
	free(xml);
	li707_message_free(m);
}

static void test_encode_oracle_collection_of_3(void **state)
{
	(void)state;
	TU_SKIP_IF_NO_SHARED();
	struct li707_message *m = fx_full();
	fx_make_collection(m, 3);
	size_t len;
	char *xml = encode_ok(m, &len);
	assert_non_null(strstr(xml, "<handoverItemCollection xmlns=\"" LI707_NS_707 "\">"));
	oracle_ok(xml, len);
	free(xml);
	li707_message_free(m);
}

/* TS103707 R-CORE-2: timestamp is M in V1.9.1 (Table 6), the version li707 writes. An item
 * without one (V1.1.1 form) is refused before anything is written, with the element path;
 * with a timestamp, the smallest item (no header, no parties, plain identifiers) encodes
 * and validates. Reading V1.1.1 items is tested in test_decode. */
static void test_encode_R_CORE_2_timestamp_mandatory(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	struct li707_item *it = item0(m);
	fx_make_v111(it);
	/* the smallest item: no header, no parties, nothing but coreParameters */
	it->has_correlation = false;
	for (size_t i = 0; i < it->n_attachments; i++)
		li707_binary_object_clear(&it->attachments[i]);
	it->n_attachments = 0;
	struct li707_diags d = {0};
	char marker, *out = &marker;
	size_t len = 7;
	assert_int_equal(li707_message_encode(m, &out, &len, &d), LI707_EINVALID);
	assert_ptr_equal(out, &marker);
	assert_int_equal(len, 7);
	assert_true(tu_has_error(&d, "R-CORE-2"));
	bool found = false;
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].severity == LI707_SEV_ERROR && d.v[i].path &&
		    strstr(d.v[i].path, "/handoverItem/payload/coreParameters/timestamp") &&
		    strstr(d.v[i].message, "mandatory"))
			found = true;
	assert_true(found);
	li707_diags_clear(&d);

	fx_set(&it->timestamp, "2024-02-29T23:59:59+01:00");
	char *xml = encode_ok(m, &len);
	assert_non_null(strstr(xml, "<timestamp>2024-02-29T23:59:59+01:00</timestamp>"));
	assert_null(strstr(xml, "<header>"));
	assert_null(strstr(xml, "associatedBinaryData"));
	if (tu_have_shared()) /* the refusal above needs no schemas */
		oracle_ok(xml, len);
	free(xml);
	li707_message_free(m);
}

static void test_encode_oracle_ldid_minimal_object(void **state)
{
	(void)state;
	TU_SKIP_IF_NO_SHARED();
	struct li707_message *m = fx_full();
	struct li707_delivery *d = m->actions[0].delivery;
	d->ref_kind = LI707_REF_LDID;
	fx_set(&d->reference, "DE-LEA0042-2024-0001");
	d->manifest = LI707_MANIFEST_NONE;
	d->has_sequence = false;
	d->last_sequence = LI707_ABSENT;
	d->identifier[0] = '\0'; /* Identifier written from ObjectIdentifier */
	size_t len;
	char *xml = encode_ok(m, &len);
	assert_non_null(strstr(xml, "<delivery:LDID>DE-LEA0042-2024-0001</delivery:LDID>"));
	assert_non_null(strstr(xml, "<Identifier>" FX_OBJECT_ID "</Identifier>"));
	assert_null(strstr(xml, "delivery:Manifest"));
	assert_null(strstr(xml, "delivery:SequenceNumber"));
	oracle_ok(xml, len);
	free(xml);
	li707_message_free(m);
}

/* ---- raw content (R-CSP-1, R-CSP-2) ---- */

static void test_csp2_raw_content_byte_for_byte(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	size_t len;
	char *xml = encode_ok(m, &len);
	static const char *want[] = {
		"<xmlData>" FX_CSP_XML "</xmlData>",
		"<schemaContent>" FX_SCHEMA_CONTENT "</schemaContent>",
		"<glossary>" FX_GLOSSARY "</glossary>",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (!memmem(xml, len, want[i], strlen(want[i]))) {
			print_error("raw content %zu not carried byte for byte:\n%s\n", i, xml);
			fail();
		}
	}
	free(xml);

	/* text-only schemaContent and empty glossary */
	fx_set(&item0(m)->csp[0].schema_content, "schema as text &amp; more");
	fx_set(&item0(m)->glossary, "");
	xml = encode_ok(m, &len);
	assert_non_null(strstr(xml, "<schemaContent>schema as text &amp; more</schemaContent>"));
	assert_non_null(strstr(xml, "<glossary></glossary>"));
	free(xml);
	li707_message_free(m);
}

struct rawcase {
	const char *name;
	int field; /* 0 glossary, 1 xmlData, 2 schemaContent */
	const char *content;
};

static const struct rawcase bad_raw[] = {
	{"xmlData not well-formed", 1, "<a xmlns='urn:x'><b></a>"},
	{"xmlData undeclared prefix", 1, "<p:a xmlns='urn:x'/>"},
	{"xmlData in the 707 namespace", 1, "<x xmlns='" LI707_NS_707 "'/>"},
	{"xmlData in no namespace", 1, "<a>no namespace</a>"},
	{"xmlData with a DOCTYPE", 1, "<!DOCTYPE a [<!ENTITY e 'x'>]><a xmlns='urn:x'>&e;</a>"},
	{"xmlData undefined entity", 1, "<a xmlns='urn:x'>&undefined;</a>"},
	{"xmlData closing the element", 1, "</xmlData><xmlData>"},
	{"xmlData text only", 1, "just text"},
	{"xmlData empty", 1, ""},
	{"xmlData text beside the element", 1, "text<a xmlns='urn:x'/>"},
	{"xmlData child inherits the default namespace", 1, "<a:x xmlns:a='urn:a'><y/></a:x>"},
	{"xmlData xsi:type with undeclared prefix", 1,
	 "<a xmlns='urn:x' xmlns:xsi='" LI707_NS_XSI "' xsi:type='q:T'/>"},
	{"glossary not well-formed", 0, "<g:a xmlns:g='urn:g'>"},
	{"glossary undeclared prefix", 0, "<g:a/>"},
	{"glossary in the 707 namespace", 0, "<handoverItem xmlns='" LI707_NS_707 "'/>"},
	{"schemaContent undeclared prefix", 2, "<xs:schema/>"},
	{"schemaContent stray end tag", 2, "text</schemaContent>"},
	{"schemaContent element without namespace", 2, "<schema/>"},
};

static void test_csp2_bad_fragments_refused(void **state)
{
	(void)state;
	static const char *paths[] = {ITEM "/payload/glossary", CSP1 "/xmlData",
				      CSP1 "/schemaDetails/schemaContent"};
	static const char *reqs[] = {"R-CSP-1", "R-CSP-2", "R-CSP-2"};
	int failures = 0;
	for (size_t i = 0; i < sizeof bad_raw / sizeof bad_raw[0]; i++) {
		const struct rawcase *c = &bad_raw[i];
		struct li707_message *m = fx_full();
		struct li707_item *it = item0(m);
		fx_set(c->field == 0 ? &it->glossary
		       : c->field == 1 ? &it->csp[0].xml
				       : &it->csp[0].schema_content,
		       c->content);
		struct li707_diags d = {0};
		char marker, *out = &marker;
		size_t len = 12345;
		int rc = li707_message_encode(m, &out, &len, &d);
		bool ok = rc == LI707_EINVALID && out == &marker && len == 12345 &&
			  d.n == 1 && d.v[0].severity == LI707_SEV_ERROR &&
			  strcmp(d.v[0].path, paths[c->field]) == 0 &&
			  strcmp(d.v[0].req, reqs[c->field]) == 0;
		if (!ok) {
			print_error("%s: expected EINVALID, no output, one error [%s] %s; got %s:\n",
				    c->name, reqs[c->field], paths[c->field], li707_errname(rc));
			tu_print_diags(&d);
			failures++;
		}
		if (out != &marker)
			free(out);
		li707_diags_clear(&d);
		li707_message_free(m);
	}
	assert_int_equal(failures, 0);
}

/* Fragments that are fine: empty or blank glossary, xmlns="" below a namespaced element,
 * text-only schemaContent, several top-level elements. */
static void test_csp2_good_fragments_accepted(void **state)
{
	(void)state;
	static const struct rawcase good[] = {
		{"empty glossary", 0, ""},
		{"blank glossary", 0, " \n\t"},
		{"two glossary elements", 0, "<a xmlns='urn:a'/> <b:b xmlns:b='urn:b'>t</b:b>"},
		{"xmlns='' below a namespaced element", 1, "<a:x xmlns:a='urn:a'><y xmlns=''/></a:x>"},
		{"two xmlData elements", 1, "<a xmlns='urn:a'/><a xmlns='urn:a'/>"},
		{"text schemaContent", 2, "type Event = { kind: string } &amp; &lt;x&gt;"},
		{"empty schemaContent", 2, ""},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct li707_message *m = fx_full();
		struct li707_item *it = item0(m);
		fx_set(good[i].field == 0 ? &it->glossary
		       : good[i].field == 1 ? &it->csp[0].xml
					    : &it->csp[0].schema_content,
		       good[i].content);
		print_message("%s\n", good[i].name);
		size_t len;
		char *xml = encode_ok(m, &len);
		assert_non_null(memmem(xml, len, good[i].content, strlen(good[i].content)));
		if (tu_have_shared())
			oracle_ok(xml, len);
		free(xml);
		li707_message_free(m);
	}
}

/* ---- refusal before writing ---- */

static void test_encode_invalid_model_refused(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	fx_set(&item0(m)->attachments[0].url, "http://csp.example.com/x");
	struct li707_diags d = {0};
	char marker, *out = &marker;
	size_t len = 7;
	assert_int_equal(li707_message_encode(m, &out, &len, &d), LI707_EINVALID);
	assert_ptr_equal(out, &marker);
	assert_int_equal(len, 7);
	assert_true(tu_has_error(&d, "R-BIN-1"));
	li707_diags_clear(&d);
	/* no diagnostics list: same verdict */
	assert_int_equal(li707_message_encode(m, &out, &len, NULL), LI707_EINVALID);
	assert_ptr_equal(out, &marker);
	assert_int_equal(li707_message_encode(NULL, &out, &len, NULL), LI707_EINVAL);
	assert_int_equal(li707_message_encode(m, NULL, &len, NULL), LI707_EINVAL);
	li707_message_free(m);
}

/* Text values are escaped; the writer's output parses back to the same strings. */
static void test_encode_text_escaped(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	fx_set(&item0(m)->attachments[0].original_filename, "a&b<c>\"d'\r\n\t\xe2\x82\xac.jpg");
	size_t len;
	char *xml = encode_ok(m, &len);
	assert_non_null(strstr(xml, "<identifier>bob &amp; &lt;carol&gt;"));
	xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	bool found = false;
	for (xmlNodePtr n = xmlDocGetRootElement(doc); n;) {
		if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "originalFilename")) {
			xmlChar *t = xmlNodeGetContent(n);
			assert_string_equal((const char *)t, "a&b<c>\"d'\r\n\t\xe2\x82\xac.jpg");
			xmlFree(t);
			found = true;
			break;
		}
		/* depth-first walk */
		if (n->children && n->type == XML_ELEMENT_NODE) {
			n = n->children;
			continue;
		}
		while (n && !n->next)
			n = n->parent && n->parent->type == XML_ELEMENT_NODE ? n->parent : NULL;
		if (n)
			n = n->next;
	}
	xmlFreeDoc(doc);
	assert_true(found);
	free(xml);
	li707_message_free(m);
}

/* ---- round trip through the decoder ---- */

static void same_str(const char *what, const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0)) {
		print_error("%s: encoded \"%s\", decoded \"%s\"\n", what, a ? a : "(null)",
			    b ? b : "(null)");
		fail();
	}
}

static void same_party(const struct li707_party *a, const struct li707_party *b)
{
	assert_int_equal(a->n_ids, b->n_ids);
	assert_int_equal(a->targeted, b->targeted);
	for (size_t i = 0; i < a->n_ids; i++) {
		assert_int_equal(a->ids[i].qualified, b->ids[i].qualified);
		same_str("formatOwner", a->ids[i].format_owner, b->ids[i].format_owner);
		same_str("formatName", a->ids[i].format_name, b->ids[i].format_name);
		same_str("identifier", a->ids[i].value, b->ids[i].value);
	}
}

static void same_item(const struct li707_item *a, const struct li707_item *b)
{
	assert_int_equal(a->has_correlation, b->has_correlation);
	assert_int_equal(a->app_level_id, b->app_level_id);
	assert_int_equal(a->app_seq, b->app_seq);
	assert_int_equal(a->sender == NULL, b->sender == NULL);
	if (a->sender)
		same_party(a->sender, b->sender);
	assert_int_equal(a->n_receivers, b->n_receivers);
	for (size_t i = 0; i < a->n_receivers; i++)
		same_party(&a->receivers[i], &b->receivers[i]);
	same_str("timestamp", a->timestamp, b->timestamp);
	assert_int_equal(a->n_attachments, b->n_attachments);
	for (size_t i = 0; i < a->n_attachments; i++) {
		const struct li707_binary_object *x = &a->attachments[i], *y = &b->attachments[i];
		same_str("url", x->url, y->url);
		assert_int_equal(x->has_content_length, y->has_content_length);
		assert_int_equal(x->content_length, y->content_length);
		same_str("contentType", x->content_type, y->content_type);
		same_str("expiry", x->expiry, y->expiry);
		same_str("checksum", x->checksum, y->checksum);
		same_str("originalFilename", x->original_filename, y->original_filename);
		same_str("cspDefinedIdentifier", x->csp_defined_identifier, y->csp_defined_identifier);
	}
	same_str("glossary", a->glossary, b->glossary);
	assert_int_equal(a->n_csp, b->n_csp);
	for (size_t i = 0; i < a->n_csp; i++) {
		same_str("schemaIdentifier", a->csp[i].schema_id, b->csp[i].schema_id);
		same_str("schemaURL", a->csp[i].schema_url, b->csp[i].schema_url);
		same_str("schemaContent", a->csp[i].schema_content, b->csp[i].schema_content);
		same_str("xmlData", a->csp[i].xml, b->csp[i].xml);
	}
}

static void same_header(const struct li707_header *a, const struct li707_header *b)
{
	same_str("SenderIdentifier CountryCode", a->sender_cc, b->sender_cc);
	same_str("SenderIdentifier UniqueIdentifier", a->sender_id, b->sender_id);
	same_str("ReceiverIdentifier CountryCode", a->receiver_cc, b->receiver_cc);
	same_str("ReceiverIdentifier UniqueIdentifier", a->receiver_id, b->receiver_id);
	same_str("TransactionIdentifier", a->transaction_id, b->transaction_id);
	same_str("Timestamp", a->timestamp, b->timestamp);
	same_str("ETSIVersion", a->etsi_version, b->etsi_version);
	same_str("NationalProfileOwner", a->np_owner, b->np_owner);
	same_str("NationalProfileVersion", a->np_version, b->np_version);
}

/* Encodes m, decodes the result and checks that every field came back unchanged (raw
 * content byte for byte). */
static void roundtrip(const struct li707_message *m, int want_rc)
{
	size_t len;
	char *xml = encode_ok(m, &len);
	struct li707_message *back = NULL;
	struct li707_diags d = {0};
	int rc = li707_message_decode(xml, len, NULL, &back, &d);
	if (rc != want_rc) {
		print_error("decode: expected %s, got %s\n", li707_errname(want_rc), li707_errname(rc));
		tu_print_diags(&d);
	}
	assert_int_equal(rc, want_rc);
	assert_non_null(back);
	assert_int_equal(back->kind, m->kind);
	same_header(&m->header, &back->header);
	if (m->kind == LI707_MSG_RESPONSE) {
		assert_int_equal(back->top_error, m->top_error);
		assert_int_equal(back->error_code, m->error_code);
		same_str("ErrorDescription", m->error_description, back->error_description);
		assert_int_equal(back->n_responses, m->n_responses);
		for (size_t i = 0; i < m->n_responses; i++) {
			const struct li707_action_response *x = &m->responses[i], *y = &back->responses[i];
			assert_int_equal(x->action_id, y->action_id);
			assert_int_equal(x->is_error, y->is_error);
			if (x->is_error) {
				assert_int_equal(x->error_code, y->error_code);
				same_str("ErrorDescription", x->error_description, y->error_description);
			} else {
				same_str("DELIVERResponse Identifier", x->identifier, y->identifier);
			}
		}
	} else {
		assert_int_equal(back->n_actions, m->n_actions);
		for (size_t i = 0; i < m->n_actions; i++) {
			const struct li707_delivery *a = m->actions[i].delivery;
			const struct li707_delivery *b = back->actions[i].delivery;
			assert_int_equal(back->actions[i].action_id, m->actions[i].action_id);
			assert_int_equal(back->actions[i].status, 0);
			assert_non_null(b);
			same_str("Identifier", a->identifier[0] ? a->identifier : a->object_id,
				 b->identifier[0] ? b->identifier : b->object_id);
			same_str("ObjectIdentifier", a->object_id, b->object_id);
			same_str("CountryCode", a->country_code, b->country_code);
			same_str("OwnerIdentifier", a->owner_id, b->owner_id);
			assert_int_equal(a->ref_kind, b->ref_kind);
			same_str("Reference", a->reference, b->reference);
			same_str("DeliveryID", a->delivery_id, b->delivery_id);
			assert_int_equal(a->has_sequence, b->has_sequence);
			assert_int_equal(a->sequence, b->sequence);
			assert_int_equal(a->last_sequence, b->last_sequence);
			assert_int_equal(a->manifest, b->manifest);
			if (a->manifest == LI707_MANIFEST_SPECIFICATION) {
				same_str("Manifest Owner", a->manifest_owner, b->manifest_owner);
				same_str("Manifest Name", a->manifest_name, b->manifest_name);
				same_str("Manifest Value", a->manifest_value, b->manifest_value);
			}
			assert_int_equal(a->payload, b->payload);
			assert_int_equal(a->n_items, b->n_items);
			for (size_t k = 0; k < a->n_items; k++)
				same_item(&a->items[k], &b->items[k]);
		}
	}
	li707_diags_clear(&d);
	li707_message_free(back);
	free(xml);
}

/* Encoded output decodes to the same model, raw content byte for byte. */
static void test_encode_decode_roundtrip(void **state)
{
	(void)state;
	struct li707_message *m = fx_request(2);
	fx_set(&item0(m)->attachments[0].original_filename, "a&b<c>\"d'\r\n\t\xe2\x82\xac.jpg");
	roundtrip(m, 0);
	fx_make_collection(m, 3);
	roundtrip(m, 0);
	fx_make_v111(item0(m));
	fx_set(&item0(m)->timestamp, "2024-02-29T23:59:59Z"); /* R-CORE-2: M when writing */
	m->actions[1].delivery->manifest = LI707_MANIFEST_NONE;
	m->actions[1].delivery->ref_kind = LI707_REF_LDID;
	fx_set(&m->actions[1].delivery->reference, "XX-LEA-7");
	roundtrip(m, 0);
	li707_message_free(m);
}

/* ---- responses (R-TRN-3) ---- */

static void assert_swapped_header(const struct li707_header *rsp, const struct li707_header *req)
{
	assert_string_equal(rsp->sender_cc, req->receiver_cc);
	assert_string_equal(rsp->sender_id, req->receiver_id);
	assert_string_equal(rsp->receiver_cc, req->sender_cc);
	assert_string_equal(rsp->receiver_id, req->sender_id);
	assert_string_equal(rsp->transaction_id, req->transaction_id);
	assert_string_equal(rsp->etsi_version, req->etsi_version);
	assert_string_equal(rsp->np_owner, req->np_owner);
	assert_string_equal(rsp->np_version, req->np_version);
	struct li707_time t;
	assert_true(li707_parse_qualified_usec_datetime(rsp->timestamp, &t));
	assert_string_not_equal(rsp->timestamp, req->timestamp);
}

static void test_trn3_response_for_valid_request(void **state)
{
	(void)state;
	struct li707_message *req = fx_request(2);
	fx_set(&req->header.etsi_version, "V1.17.1");
	req->actions[1].delivery->identifier[0] = '\0';
	struct li707_message *rsp = NULL;
	assert_int_equal(li707_response_for(req, NULL, &rsp), 0);
	assert_non_null(rsp);
	assert_int_equal(rsp->kind, LI707_MSG_RESPONSE);
	assert_false(rsp->top_error);
	assert_swapped_header(&rsp->header, &req->header);
	assert_int_equal(rsp->n_responses, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_false(rsp->responses[i].is_error);
		assert_int_equal(rsp->responses[i].action_id, i);
		assert_string_equal(rsp->responses[i].identifier, req->actions[i].delivery->object_id);
	}
	size_t len;
	char *xml = encode_ok(rsp, &len);
	assert_non_null(strstr(xml, "<DELIVERResponse>"));
	if (tu_have_shared())
		oracle_ok(xml, len);
	free(xml);
	roundtrip(rsp, 0);
	li707_message_free(rsp);
	li707_message_free(req);
}

/* The description an action error gets: "R-ID path: message" of its first error. */
static char *expected_description(const struct li707_diags *d, size_t action)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct li707_diag *g = &d->v[i];
		if (g->severity != LI707_SEV_ERROR || g->action != action)
			continue;
		char *s = fx_calloc(strlen(g->req) + strlen(g->path) + strlen(g->message) + 4, 1);
		sprintf(s, "%s %s: %s", g->req, g->path, g->message);
		return s;
	}
	return NULL;
}

static void test_trn3_response_for_action_errors(void **state)
{
	(void)state;
	struct li707_message *req = fx_request(4);
	fx_set(&req->actions[1].delivery->owner_id, "someone else");
	li707_delivery_free(req->actions[2].delivery);
	req->actions[2].delivery = NULL;
	req->actions[2].verb = LI707_VERB_GET;
	struct li707_delivery *d3 = req->actions[3].delivery;
	for (size_t i = 0; i < d3->n_items; i++)
		li707_item_clear(&d3->items[i]);
	d3->n_items = 0;
	d3->payload = LI707_PAYLOAD_BINARY;
	struct li707_diags d = {0};
	int st[4];
	assert_int_equal(li707__message_check(req, NULL, &d, NULL, st), LI707_EINVALID);
	for (size_t i = 0; i < 4; i++)
		req->actions[i].status = st[i];

	struct li707_message *rsp = NULL;
	assert_int_equal(li707_response_for(req, &d, &rsp), 0);
	assert_false(rsp->top_error);
	assert_int_equal(rsp->n_responses, 4);
	assert_false(rsp->responses[0].is_error);
	assert_string_equal(rsp->responses[0].identifier, req->actions[0].delivery->identifier);

	char *want = expected_description(&d, 1);
	assert_non_null(want);
	assert_true(rsp->responses[1].is_error);
	assert_int_equal(rsp->responses[1].action_id, 1);
	assert_int_equal(rsp->responses[1].error_code, li707_hi1_error_code(LI707_EINVALID, NULL));
	assert_string_equal(rsp->responses[1].error_description, want);
	assert_non_null(strstr(want, "R-DEL-4 /HI1Message/Payload/RequestPayload/ActionRequests"
				     "/ActionRequest[2]/DELIVER/HI1Object/OwnerIdentifier: "));
	free(want);

	assert_true(rsp->responses[2].is_error);
	assert_int_equal(rsp->responses[2].error_code, 3001);
	assert_true(rsp->responses[3].is_error);
	assert_int_equal(rsp->responses[3].error_code, li707_hi1_error_code(LI707_ENOT707, NULL));
	for (size_t i = 0; i < 4; i++)
		if (rsp->responses[i].is_error)
			assert_null(strstr(rsp->responses[i].error_description, "someone else"));

	size_t len;
	char *xml = encode_ok(rsp, &len);
	assert_non_null(strstr(xml, "<ErrorCode>3001</ErrorCode>"));
	if (tu_have_shared())
		oracle_ok(xml, len);
	free(xml);
	roundtrip(rsp, 0);
	li707_message_free(rsp);
	li707_diags_clear(&d);
	li707_message_free(req);
}

/* The official TS 103 120 example of an XML delivery carries another schema's XML: valid
 * HI-1, not TS 103 707. The LEA answers the action "not supported" (R-DEL-5, R-TRN-3). */
static void test_del5_official_foreign_delivery_not_supported(void **state)
{
	(void)state;
	TU_SKIP_IF_NO_SHARED();
	size_t len;
	char *buf = tu_read_file(tu_shared("103120/examples/request5-XML-Delivery.xml"), &len);
	struct li707_message *req = NULL;
	struct li707_diags d = {0};
	int rc = li707_message_decode(buf, len, NULL, &req, &d);
	assert_true(rc == LI707_ENOT707 || rc == LI707_EINVALID);
	assert_non_null(req);
	assert_int_equal(req->n_actions, 1);
	assert_int_equal(req->actions[0].status, LI707_ENOT707);
	struct li707_message *rsp = NULL;
	assert_int_equal(li707_response_for(req, &d, &rsp), 0);
	assert_false(rsp->top_error);
	assert_int_equal(rsp->n_responses, 1);
	assert_true(rsp->responses[0].is_error);
	assert_int_equal(rsp->responses[0].error_code, li707_hi1_error_code(LI707_ENOT707, NULL));
	assert_non_null(strstr(rsp->responses[0].error_description, "R-DEL-5 "));
	char *xml = encode_ok(rsp, &len);
	oracle_ok(xml, len);
	free(xml);
	li707_message_free(rsp);
	li707_diags_clear(&d);
	li707_message_free(req);
	free(buf);
}

/* A message-level error (here the header) is answered with a top-level ErrorInformation. */
static void test_trn3_response_for_header_error(void **state)
{
	(void)state;
	struct li707_message *req = fx_full();
	fx_set(&req->header.timestamp, "yesterday");
	struct li707_diags d = {0};
	int st[1];
	assert_int_equal(li707__message_check(req, NULL, &d, NULL, st), LI707_EINVALID);
	assert_int_equal(st[0], 0);
	struct li707_message *rsp = NULL;
	assert_int_equal(li707_response_for(req, &d, &rsp), 0);
	assert_true(rsp->top_error);
	assert_int_equal(rsp->n_responses, 0);
	assert_int_equal(rsp->error_code, li707_hi1_error_code(LI707_EINVALID, NULL));
	assert_non_null(strstr(rsp->error_description, "R-DEL-3 /HI1Message/Header/Timestamp: "));
	size_t len;
	char *xml = encode_ok(rsp, &len);
	if (tu_have_shared())
		oracle_ok(xml, len);
	free(xml);
	li707_message_free(rsp);
	li707_diags_clear(&d);
	li707_message_free(req);
}

static void test_trn3_response_top_error(void **state)
{
	(void)state;
	const char *generic = NULL;
	unsigned code = li707_hi1_error_code(LI707_EXML, &generic);

	/* no request header: defaults, generic description */
	struct li707_message *rsp = NULL;
	assert_int_equal(li707_response_top_error(NULL, LI707_EXML, NULL, &rsp), 0);
	assert_int_equal(rsp->kind, LI707_MSG_RESPONSE);
	assert_true(rsp->top_error);
	assert_int_equal(rsp->error_code, code);
	assert_string_equal(rsp->error_description, generic);
	assert_string_equal(rsp->header.sender_cc, LI707_COUNTRY_DEFAULT);
	assert_string_equal(rsp->header.sender_id, LI707_RECEIVER_ID_DEFAULT);
	assert_string_equal(rsp->header.receiver_cc, LI707_COUNTRY_DEFAULT);
	assert_string_equal(rsp->header.receiver_id, LI707_RECEIVER_ID_DEFAULT);
	assert_true(li707_check_uuid(rsp->header.transaction_id));
	size_t len;
	char *xml = encode_ok(rsp, &len);
	assert_non_null(strstr(xml, "<ResponsePayload>\n      <ErrorInformation>"));
	if (tu_have_shared())
		oracle_ok(xml, len);
	free(xml);
	li707_message_free(rsp);

	/* with the request's header and a description */
	struct li707_message *req = fx_full();
	assert_int_equal(li707_response_top_error(&req->header, LI707_ELIMIT, "too big", &rsp), 0);
	assert_swapped_header(&rsp->header, &req->header);
	assert_string_equal(rsp->error_description, "too big");
	assert_int_equal(rsp->error_code, li707_hi1_error_code(LI707_ELIMIT, NULL));
	xml = encode_ok(rsp, &len);
	if (tu_have_shared())
		oracle_ok(xml, len);
	free(xml);
	roundtrip(rsp, 0);
	li707_message_free(rsp);

	/* an invalid request header field falls back to its default */
	memcpy(req->header.sender_cc, "xx", 3);
	fx_set(&req->header.etsi_version, "bogus");
	assert_int_equal(li707_response_top_error(&req->header, LI707_EINVALID, NULL, &rsp), 0);
	assert_string_equal(rsp->header.receiver_cc, LI707_COUNTRY_DEFAULT);
	assert_string_equal(rsp->header.etsi_version, LI707_ETSI_VERSION_DEFAULT);
	assert_string_equal(rsp->header.transaction_id, req->header.transaction_id);
	li707_message_free(rsp);
	li707_message_free(req);

	assert_int_equal(li707_response_top_error(NULL, LI707_EXML, NULL, NULL), LI707_EINVAL);
	assert_int_equal(li707_response_for(NULL, NULL, &rsp), LI707_EINVAL);
}

/* ---- li707_item_encode: one item as a standalone document ---- */

/* Validates a standalone handoverItem document with xmllint against schemas/ts_103707.xsd.
 * That file imports the TS 103 280 namespace without a schemaLocation, so on its own it
 * does not compile: a wrapper imports it together with schemas/ts_103280_standin.xsd (the
 * official TS 103 280 file when ../shared has it). 0 valid, 1 invalid, 77 no xmllint. */
static int item_xsd_check(const char *xml, size_t len)
{
	if (system("command -v xmllint >/dev/null 2>&1") != 0)
		return 77;
	char wrapper[9000];
	snprintf(wrapper, sizeof wrapper,
		 "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n"
		 " <xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\" "
		 "schemaLocation=\"%s\"/>\n"
		 " <xs:import namespace=\"" LI707_NS_707 "\" schemaLocation=\"%s\"/>\n"
		 "</xs:schema>\n",
		 tu_have_shared() ? tu_shared("103280/TS_103_280_01.xsd")
				  : tu_src("schemas/ts_103280_standin.xsd"),
		 tu_src("schemas/ts_103707.xsd"));
	return tu_xmllint_wrapped(wrapper, xml, len);
}

static char *item_encode_ok(const struct li707_item *it, size_t *len)
{
	struct li707_diags d = {0};
	char *out = NULL;
	int rc = li707_item_encode(it, &out, len, &d);
	return expect_encoded("item encode", rc, out, len, &d);
}

/* Puts the standalone item document in place of the handoverItem of m's encoding and
 * decodes that message: the item must come back field for field (raw content byte for
 * byte). m carries a single handoverItem. */
static void item_decodes_back(struct li707_message *m, const char *item_xml)
{
	size_t len;
	/* The envelope only: its item is replaced by item_xml. A V1.1.1 item gets a timestamp
	 * for it, since messages are written in V1.9.1 form (R-CORE-2). */
	struct li707_item *it0 = &m->actions[0].delivery->items[0];
	char *saved = it0->timestamp, envelope_ts[] = "2000-01-01T00:00:00Z";
	if (!saved)
		it0->timestamp = envelope_ts;
	char *msg = encode_ok(m, &len);
	it0->timestamp = saved;
	char *a = strstr(msg, "<handoverItem xmlns=\"");
	char *b = strstr(msg, "</handoverItem>\n");
	const char *body = strstr(item_xml, "?>\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(body);
	body += 3;
	b += strlen("</handoverItem>\n");
	size_t head = (size_t)(a - msg), blen = strlen(body), tail = strlen(b);
	char *spliced = malloc(head + blen + tail + 1);
	assert_non_null(spliced);
	memcpy(spliced, msg, head);
	memcpy(spliced + head, body, blen);
	memcpy(spliced + head + blen, b, tail + 1);

	struct li707_message *back = NULL;
	struct li707_diags d = {0};
	int rc = li707_message_decode(spliced, head + blen + tail, NULL, &back, &d);
	if (rc != 0)
		tu_print_diags(&d);
	assert_int_equal(rc, 0);
	same_item(&m->actions[0].delivery->items[0], &back->actions[0].delivery->items[0]);
	li707_diags_clear(&d);
	li707_message_free(back);
	free(spliced);
	free(msg);
}

static void item_encode_check(struct li707_message *m)
{
	size_t len;
	char *xml = item_encode_ok(item0(m), &len);
	static const char root[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				   "<handoverItem xmlns=\"" LI707_NS_707 "\"";
	assert_memory_equal(xml, root, sizeof root - 1);
	assert_string_equal(xml + len - strlen("</handoverItem>\n"), "</handoverItem>\n");
	int v = item_xsd_check(xml, len);
	if (v == 77)
		print_message("SKIP: xmllint absent, schema check of the item skipped\n");
	else if (v != 0)
		print_error("not valid for schemas/ts_103707.xsd:\n%s\n", xml);
	assert_true(v == 0 || v == 77);
	item_decodes_back(m, xml);
	free(xml);
}

/* Every form of item: full (correlation, parties, attachments, glossary, CSP blocks with
 * raw content R-CSP-2), escaped text, V1.1.1 (no timestamp, plain identifiers). */
static void test_item_encode_standalone_valid_and_decodes_back(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	item_encode_check(m);
	fx_set(&item0(m)->attachments[0].original_filename, "a&b<c>\"d'\r\n\t\xe2\x82\xac.jpg");
	item_encode_check(m);
	fx_make_v111(item0(m));
	item_encode_check(m);
	li707_message_free(m);
}

/* The item written alone has the same lines as inside a message, one indentation level
 * (of the message's depth) less. */
static void test_item_encode_same_writer_as_message(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	size_t len, ilen;
	char *msg = encode_ok(m, &len);
	char *xml = item_encode_ok(item0(m), &ilen);
	const char *a = strstr(msg, "<handoverItem xmlns=\"" LI707_NS_707 "\">\n");
	assert_non_null(a);
	size_t indent = 0;
	while (a - indent > msg && a[-(ptrdiff_t)indent - 1] == ' ')
		indent++;
	const char *p = strchr(a, '\n') + 1;       /* after the message's root line */
	const char *q = strstr(xml, "?>\n") + 3;
	q = strchr(q, '\n') + 1;                    /* after the standalone root line */
	/* every following line of the standalone document, indented by `indent` more, is the
	 * next line of the message, up to and including the end tag */
	while (*q) {
		const char *qe = strchr(q, '\n');
		const char *pe = strchr(p, '\n');
		assert_non_null(qe);
		assert_non_null(pe);
		bool raw_line = (size_t)(pe - p) == (size_t)(qe - q) && memcmp(p, q, (size_t)(qe - q)) == 0;
		if (!raw_line) { /* lines inside raw content are not indented by the writer */
			assert_true((size_t)(pe - p) == (size_t)(qe - q) + indent);
			assert_memory_equal(p + indent, q, (size_t)(qe - q));
		}
		p = pe + 1;
		q = qe + 1;
	}
	free(xml);
	free(msg);
	li707_message_free(m);
}

/* An invalid item is refused before anything is written; diagnostics name the item's
 * own paths. */
static void test_item_encode_invalid_refused(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	struct li707_diags d = {0};
	char marker, *out = &marker;
	size_t len = 7;

	fx_set(&item0(m)->timestamp, "2024-13-01T00:00:00Z");
	assert_int_equal(li707_item_encode(item0(m), &out, &len, &d), LI707_EINVALID);
	assert_ptr_equal(out, &marker);
	assert_int_equal(len, 7);
	assert_true(tu_has_error(&d, "R-CORE-2"));
	bool found = false;
	for (size_t i = 0; i < d.n; i++) {
		assert_int_equal(d.v[i].action, (size_t)-1);
		if (d.v[i].path &&
		    strcmp(d.v[i].path, "/handoverItem/payload/coreParameters/timestamp") == 0)
			found = true;
	}
	assert_true(found);
	li707_diags_clear(&d);

	/* raw content: xmlData in the TS 103 707 namespace (R-CSP-2) */
	li707_message_free(m);
	m = fx_full();
	fx_set(&item0(m)->csp[0].xml, "<unprefixed>x</unprefixed>");
	assert_int_equal(li707_item_encode(item0(m), &out, &len, &d), LI707_EINVALID);
	assert_ptr_equal(out, &marker);
	assert_true(tu_has_error(&d, "R-CSP-2"));
	assert_non_null(d.v[0].path);
	assert_memory_equal(d.v[0].path, "/handoverItem/payload/cspDefinedParameters",
			    strlen("/handoverItem/payload/cspDefinedParameters"));
	li707_diags_clear(&d);
	/* no diagnostics list: the same verdict */
	assert_int_equal(li707_item_encode(item0(m), &out, &len, NULL), LI707_EINVALID);
	assert_int_equal(li707_item_encode(NULL, &out, &len, NULL), LI707_EINVAL);
	assert_int_equal(li707_item_encode(item0(m), NULL, &len, NULL), LI707_EINVAL);
	li707_message_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_full_golden),
		cmocka_unit_test(test_encode_oracle_item),
		cmocka_unit_test(test_encode_oracle_rejects),
		cmocka_unit_test(test_encode_oracle_collection_of_3),
		cmocka_unit_test(test_encode_R_CORE_2_timestamp_mandatory),
		cmocka_unit_test(test_encode_oracle_ldid_minimal_object),
		cmocka_unit_test(test_csp2_raw_content_byte_for_byte),
		cmocka_unit_test(test_csp2_bad_fragments_refused),
		cmocka_unit_test(test_csp2_good_fragments_accepted),
		cmocka_unit_test(test_encode_invalid_model_refused),
		cmocka_unit_test(test_encode_text_escaped),
		cmocka_unit_test(test_encode_decode_roundtrip),
		cmocka_unit_test(test_trn3_response_for_valid_request),
		cmocka_unit_test(test_trn3_response_for_action_errors),
		cmocka_unit_test(test_trn3_response_for_header_error),
		cmocka_unit_test(test_del5_official_foreign_delivery_not_supported),
		cmocka_unit_test(test_trn3_response_top_error),
		cmocka_unit_test(test_item_encode_standalone_valid_and_decodes_back),
		cmocka_unit_test(test_item_encode_same_writer_as_message),
		cmocka_unit_test(test_item_encode_invalid_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
