/* li707 - the encoder: model -> HI1Message XML, and the responses an LEA returns.
 *
 * DESIGN
 * li707_message_encode() refuses before it writes: the model first passes the checker
 * (check.c, the same rules the decoder applies), then every piece of raw content (glossary,
 * CSP xmlData, schemaContent) must be a well-formed, namespace-complete fragment
 * (xmlsafe.c). Only then is the document streamed with libxml2's xmlTextWriter into an
 * xmlBuffer, one writer function per schema type, in the element order of the official
 * TS 103 120 examples and of schemas/ts_103707.xsd.
 *
 * Raw content is written byte for byte (xmlTextWriterWriteRaw) straight after the start tag
 * and followed by the end tag: the writer's indentation never adds whitespace inside those
 * elements (it indents only before start tags that follow an end tag and before end tags of
 * elements holding child elements it wrote itself), so a decoder slicing the content of
 * <xmlData> gets the CSP's exact bytes (TS103707 R-CSP-2). test_encode checks this.
 *
 * Responses (R-TRN-3) are built as models and encoded by the same code. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "internal.h"

#define LONGSTRING_MAX 65535u /* TS 103 280 LongString */

/* ---- writer helpers: every call is a no-op once an error was seen ---- */

struct enc {
	xmlTextWriterPtr w;
	int rc;
};

static void w_check(struct enc *e, int r)
{
	if (r < 0 && !e->rc)
		e->rc = LI707_ENOMEM; /* the memory writer fails only on allocation */
}

static void w_start(struct enc *e, const char *name)
{
	if (!e->rc)
		w_check(e, xmlTextWriterStartElement(e->w, BAD_CAST name));
}

static void w_end(struct enc *e)
{
	if (!e->rc)
		w_check(e, xmlTextWriterEndElement(e->w));
}

static void w_attr(struct enc *e, const char *name, const char *value)
{
	if (!e->rc)
		w_check(e, xmlTextWriterWriteAttribute(e->w, BAD_CAST name, BAD_CAST value));
}

/* <name>text</name>, text escaped by the writer. */
static void w_text(struct enc *e, const char *name, const char *text)
{
	w_start(e, name);
	if (!e->rc && *text)
		w_check(e, xmlTextWriterWriteString(e->w, BAD_CAST text));
	w_end(e);
}

static void w_uint(struct enc *e, const char *name, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	w_text(e, name, buf);
}

static void w_bool(struct enc *e, const char *name, bool v)
{
	w_text(e, name, v ? "true" : "false");
}

/* <name>raw</name> with raw copied byte for byte (checked beforehand by
 * li707__xml_check_fragment). The empty string gives <name></name>. */
static void w_raw(struct enc *e, const char *name, const char *raw)
{
	w_start(e, name);
	size_t len = strlen(raw);
	if (!e->rc && len == 0) /* "<name></name>" rather than "<name/>" */
		w_check(e, xmlTextWriterWriteRaw(e->w, BAD_CAST ""));
	/* xmlTextWriterWriteRawLen takes an int; the checker caps raw content at
	 * max_raw_xml_bytes (4 MiB by default), but slice anyway rather than truncate. */
	while (!e->rc && len) {
		int n = len > (1u << 30) ? (1 << 30) : (int)len;
		w_check(e, xmlTextWriterWriteRawLen(e->w, BAD_CAST raw, n));
		raw += n;
		len -= (size_t)n;
	}
	w_end(e);
}

/* ---- TS 103 120 Core: header ---- */

static void write_endpoint(struct enc *e, const char *name, const char *cc, const char *id)
{
	w_start(e, name);
	w_text(e, "CountryCode", cc);
	w_text(e, "UniqueIdentifier", id);
	w_end(e);
}

static void write_header(struct enc *e, const struct li707_header *h)
{
	w_start(e, "Header");
	write_endpoint(e, "SenderIdentifier", h->sender_cc, h->sender_id);
	write_endpoint(e, "ReceiverIdentifier", h->receiver_cc, h->receiver_id);
	w_text(e, "TransactionIdentifier", h->transaction_id);
	w_text(e, "Timestamp", h->timestamp);
	w_start(e, "Version");
	w_text(e, "ETSIVersion", h->etsi_version);
	w_text(e, "NationalProfileOwner", h->np_owner);
	w_text(e, "NationalProfileVersion", h->np_version);
	w_end(e);
	w_end(e);
}

/* ---- TS 103 707 types (schemas/ts_103707.xsd), unprefixed in the default namespace ---- */

static void write_party(struct enc *e, const char *name, const struct li707_party *p)
{
	w_start(e, name);
	w_start(e, "identifiers");
	for (size_t i = 0; i < p->n_ids; i++) {
		const struct li707_party_id *id = &p->ids[i];
		if (!id->qualified) {
			w_text(e, "identifier", id->value);
			continue;
		}
		w_start(e, "qualifiedPartyIdentifier");
		if (id->format_owner) {
			w_start(e, "formatType");
			w_text(e, "formatOwner", id->format_owner);
			w_text(e, "formatName", id->format_name);
			w_end(e);
		}
		w_text(e, "value", id->value);
		w_end(e);
	}
	w_end(e);
	if (p->targeted != LI707_ABSENT)
		w_bool(e, "isTargetedParty", p->targeted == LI707_TRUE);
	w_end(e);
}

static void write_binary_object(struct enc *e, const struct li707_binary_object *b)
{
	w_start(e, "binaryObject");
	w_text(e, "url", b->url);
	if (b->has_content_length)
		w_uint(e, "contentLength", b->content_length);
	if (b->content_type)
		w_text(e, "contentType", b->content_type);
	if (b->expiry)
		w_text(e, "expiry", b->expiry);
	if (b->checksum)
		w_text(e, "checksum", b->checksum);
	if (b->original_filename)
		w_text(e, "originalFilename", b->original_filename);
	if (b->csp_defined_identifier)
		w_text(e, "cspDefinedIdentifier", b->csp_defined_identifier);
	w_end(e);
}

static void write_core_parameters(struct enc *e, const struct li707_item *it)
{
	w_start(e, "coreParameters");
	if (it->sender)
		write_party(e, "messageSender", it->sender);
	if (it->n_receivers) {
		w_start(e, "messageReceivers");
		for (size_t i = 0; i < it->n_receivers; i++)
			write_party(e, "recipient", &it->receivers[i]);
		w_end(e);
	}
	if (it->timestamp)
		w_text(e, "timestamp", it->timestamp);
	if (it->n_attachments) {
		w_start(e, "associatedBinaryData");
		for (size_t i = 0; i < it->n_attachments; i++)
			write_binary_object(e, &it->attachments[i]);
		w_end(e);
	}
	w_end(e);
}

static void write_csp_metadata(struct enc *e, const struct li707_csp_data *c)
{
	w_start(e, "cspDefinedMetadata");
	w_start(e, "schemaDetails");
	w_text(e, "schemaIdentifier", c->schema_id);
	if (c->schema_url)
		w_text(e, "schemaURL", c->schema_url);
	if (c->schema_content)
		w_raw(e, "schemaContent", c->schema_content);
	w_end(e);
	if (c->xml)
		w_raw(e, "xmlData", c->xml);
	w_end(e);
}

/* HandoverItem: the caller has started the element (and declared the namespace). */
static void write_handover_item_content(struct enc *e, const struct li707_item *it)
{
	if (it->has_correlation) {
		w_start(e, "header");
		w_start(e, "applicationCorrelation");
		w_uint(e, "applicationLevelID", it->app_level_id);
		w_uint(e, "applicationSequenceNumber", it->app_seq);
		w_end(e);
		w_end(e);
	}
	w_start(e, "payload");
	w_attr(e, "xsi:type", "MessagingPayload");
	write_core_parameters(e, it);
	if (it->glossary)
		w_raw(e, "glossary", it->glossary);
	if (it->n_csp) {
		w_start(e, "cspDefinedParameters");
		for (size_t i = 0; i < it->n_csp; i++)
			write_csp_metadata(e, &it->csp[i]);
		w_end(e);
	}
	w_end(e);
}

static void write_707_payload(struct enc *e, const struct li707_delivery *d)
{
	if (d->payload == LI707_PAYLOAD_ITEM) {
		w_start(e, "handoverItem");
		w_attr(e, "xmlns", LI707_NS_707);
		write_handover_item_content(e, &d->items[0]);
		w_end(e);
		return;
	}
	w_start(e, "handoverItemCollection");
	w_attr(e, "xmlns", LI707_NS_707);
	for (size_t i = 0; i < d->n_items; i++) {
		w_start(e, "handoverItem");
		write_handover_item_content(e, &d->items[i]);
		w_end(e);
	}
	w_end(e);
}

/* ---- TS 103 120 Delivery: DeliveryObject (clause 10; TS 103 707 Tables 2, 3) ---- */

static void write_delivery_object(struct enc *e, const struct li707_delivery *d)
{
	w_start(e, "HI1Object");
	w_attr(e, "xsi:type", "delivery:DeliveryObject");
	w_text(e, "ObjectIdentifier", d->object_id);
	w_text(e, "CountryCode", d->country_code);
	w_text(e, "OwnerIdentifier", d->owner_id);
	w_start(e, "delivery:Reference");
	w_text(e, d->ref_kind == LI707_REF_LDID ? "delivery:LDID" : "delivery:LIID", d->reference);
	w_end(e);
	if (d->delivery_id[0])
		w_text(e, "delivery:DeliveryID", d->delivery_id);
	if (d->has_sequence)
		w_uint(e, "delivery:SequenceNumber", d->sequence);
	if (d->last_sequence != LI707_ABSENT)
		w_bool(e, "delivery:LastSequence", d->last_sequence == LI707_TRUE);
	if (d->manifest == LI707_MANIFEST_SPECIFICATION) {
		w_start(e, "delivery:Manifest");
		w_start(e, "delivery:Specification");
		w_text(e, "common:Owner", d->manifest_owner);
		w_text(e, "common:Name", d->manifest_name);
		w_text(e, "common:Value", d->manifest_value);
		w_end(e);
		w_end(e);
	}
	w_start(e, "delivery:Delivery");
	w_start(e, "delivery:XMLData");
	write_707_payload(e, d);
	w_end(e);
	w_end(e);
	w_end(e);
}

static void write_request_payload(struct enc *e, const struct li707_message *m)
{
	w_start(e, "RequestPayload");
	w_start(e, "ActionRequests");
	for (size_t i = 0; i < m->n_actions; i++) {
		const struct li707_action *a = &m->actions[i];
		const struct li707_delivery *d = a->delivery;
		w_start(e, "ActionRequest");
		w_uint(e, "ActionIdentifier", a->action_id);
		w_start(e, "DELIVER");
		w_text(e, "Identifier", d->identifier[0] ? d->identifier : d->object_id);
		write_delivery_object(e, d);
		w_end(e);
		w_end(e);
	}
	w_end(e);
	w_end(e);
}

static void write_error_information(struct enc *e, unsigned code, const char *description)
{
	w_start(e, "ErrorInformation");
	w_uint(e, "ErrorCode", code);
	w_text(e, "ErrorDescription", description);
	w_end(e);
}

static void write_response_payload(struct enc *e, const struct li707_message *m)
{
	w_start(e, "ResponsePayload");
	if (m->top_error) {
		write_error_information(e, m->error_code, m->error_description);
		w_end(e);
		return;
	}
	w_start(e, "ActionResponses");
	for (size_t i = 0; i < m->n_responses; i++) {
		const struct li707_action_response *r = &m->responses[i];
		w_start(e, "ActionResponse");
		w_uint(e, "ActionIdentifier", r->action_id);
		if (r->is_error) {
			write_error_information(e, r->error_code, r->error_description);
		} else {
			w_start(e, "DELIVERResponse");
			w_text(e, "Identifier", r->identifier);
			w_end(e);
		}
		w_end(e);
	}
	w_end(e);
	w_end(e);
}

static void write_message(struct enc *e, const struct li707_message *m)
{
	w_check(e, xmlTextWriterSetIndent(e->w, 1));
	w_check(e, xmlTextWriterSetIndentString(e->w, BAD_CAST "  "));
	if (!e->rc)
		w_check(e, xmlTextWriterStartDocument(e->w, "1.0", "UTF-8", NULL));
	w_start(e, "HI1Message");
	w_attr(e, "xmlns", LI707_NS_CORE);
	w_attr(e, "xmlns:common", LI707_NS_COMMON);
	w_attr(e, "xmlns:delivery", LI707_NS_DELIVERY);
	w_attr(e, "xmlns:xsi", LI707_NS_XSI);
	write_header(e, &m->header);
	w_start(e, "Payload");
	if (m->kind == LI707_MSG_REQUEST)
		write_request_payload(e, m);
	else
		write_response_payload(e, m);
	w_end(e);
	w_end(e);
	if (!e->rc)
		w_check(e, xmlTextWriterEndDocument(e->w));
}

/* ---- raw content checks (R-CSP-1, R-CSP-2) ---- */

struct rawck {
	const struct li707_limits *lim;
	struct li707_diags *diags;
	int first;
};

#define SENTINEL_NS "urn:li707:no-default-namespace"

/* Cheap pre-scan: could some start tag be unprefixed? ("<name" whose name has no ':'; text
 * in comments or CDATA may give a false "yes", which only costs the parse below.) */
static bool has_unprefixed_tag(const char *s, size_t len)
{
	for (const char *p = memchr(s, '<', len); p; p = memchr(p, '<', len - (size_t)(p - s))) {
		p++;
		if (p == s + len)
			break;
		if (*p == '/' || *p == '!' || *p == '?')
			continue;
		const char *q = p;
		while (q < s + len && !strchr(" \t\r\n/>:", *q))
			q++;
		if (q == s + len || *q != ':')
			return true;
	}
	return false;
}

/* EINVALID when some element of the fragment is unprefixed without a default namespace
 * declared inside the fragment (0 otherwise, or the parse error). Written into <glossary>,
 * <xmlData> or <schemaContent>, which are in the TS 103 707 default namespace, such an
 * element would silently move into that namespace: the bytes would survive but not their
 * meaning. The fragment is parsed (hardened parser) inside a wrapper whose default namespace
 * is a sentinel; an element that ends up in the sentinel namespace is one of those.
 * (xmlns="" is fine: the element stays in no namespace.) */
static int inherits_default_ns(const char *s, size_t len, const struct li707_limits *lim)
{
	if (!has_unprefixed_tag(s, len))
		return 0; /* every start tag has a prefix: nothing can inherit the default */
	static const char open[] = "<w xmlns=\"" SENTINEL_NS "\">", close[] = "</w>";
	size_t n = sizeof open - 1 + len + sizeof close - 1;
	char *buf = malloc(n);
	if (!buf)
		return LI707_ENOMEM;
	memcpy(buf, open, sizeof open - 1);
	memcpy(buf + sizeof open - 1, s, len);
	memcpy(buf + sizeof open - 1 + len, close, sizeof close - 1);
	struct li707_limits plim = *lim;
	plim.max_document_bytes = n;
	plim.max_depth = lim->max_depth + 1;
	struct li707__xmldoc x;
	int rc = li707__xml_parse(buf, n, &plim, NULL, &x, NULL);
	free(buf);
	if (rc != 0)
		return rc;
	xmlNodePtr top = xmlDocGetRootElement(x.doc);
	for (xmlNodePtr c = top ? top->children : NULL; c && !rc;) {
		if (c->type == XML_ELEMENT_NODE) {
			if (c->ns && xmlStrEqual(c->ns->href, BAD_CAST SENTINEL_NS)) {
				rc = LI707_EINVALID;
				break;
			}
			if (c->children) {
				c = c->children;
				continue;
			}
		}
		while (c != top && !c->next)
			c = c->parent;
		c = c == top ? NULL : c->next;
	}
	li707__xml_done(&x);
	return rc;
}

/* One raw field: a well-formed, namespace-complete fragment (no element inheriting the
 * TS 103 707 default namespace); glossary and xmlData hold only elements, of namespaces
 * other than TS 103 707's (xmlData is xs:any ##other; Glossary is element-only and may be
 * empty). */
static void raw_check(struct rawck *r, size_t ai, const char *item_path, const char *leaf,
		      const char *req, const char *what, const char *s, bool other_ns,
		      bool may_be_empty)
{
	size_t len = strlen(s);
	if (may_be_empty && len == strspn(s, " \t\r\n"))
		return;
	int rc = li707__xml_check_fragment(s, len, r->lim, other_ns);
	if (rc == 0)
		rc = inherits_default_ns(s, len, r->lim);
	if (rc == 0)
		return;
	if (rc != LI707_ENOMEM && rc != LI707_ELIMIT)
		rc = LI707_EINVALID;
	if (!r->first)
		r->first = rc;
	if (rc == LI707_ENOMEM)
		return;
	char path[1200];
	snprintf(path, sizeof path, "%s%s", item_path, leaf);
	const char *rule =
		rc == LI707_ELIMIT ? "exceeds a configured limit (size or nesting depth)"
		: other_ns	   ? "is not a well-formed XML fragment of elements that are all in "
				     "declared namespaces other than TS 103 707's"
				   : "is not a well-formed XML fragment whose elements are all in "
				     "namespaces it declares itself";
	if (li707_diags_add(r->diags, r->lim->max_diagnostics, LI707_SEV_ERROR, rc, 0, path, req,
			    ai, "%s content %s", what, rule) == LI707_ENOMEM)
		r->first = LI707_ENOMEM;
}

static int check_raw_content(const struct li707_message *m, const struct li707_limits *lim,
			     struct li707_diags *diags)
{
	struct rawck r = {lim, diags, 0};
	char path[1024];
	if (m->kind != LI707_MSG_REQUEST)
		return 0;
	for (size_t a = 0; a < m->n_actions; a++) {
		const struct li707_delivery *d = m->actions[a].delivery;
		for (size_t i = 0; i < d->n_items; i++) {
			const struct li707_item *it = &d->items[i];
			int n = snprintf(path, sizeof path, LI707__PATH_XMLDATA, a + 1);
			if (n < 0 || (size_t)n >= sizeof path)
				return LI707_EINVAL;
			if (d->payload == LI707_PAYLOAD_COLLECTION)
				snprintf(path + n, sizeof path - (size_t)n,
					 "/handoverItemCollection/handoverItem[%zu]", i + 1);
			else
				snprintf(path + n, sizeof path - (size_t)n, "/handoverItem");
			if (it->glossary)
				raw_check(&r, a, path, "/payload/glossary", "R-CSP-1", "glossary",
					  it->glossary, true, true);
			for (size_t k = 0; k < it->n_csp; k++) {
				char leaf[128];
				const struct li707_csp_data *c = &it->csp[k];
				if (c->schema_content) {
					snprintf(leaf, sizeof leaf,
						 "/payload/cspDefinedParameters/cspDefinedMetadata[%zu]"
						 "/schemaDetails/schemaContent",
						 k + 1);
					raw_check(&r, a, path, leaf, "R-CSP-2", "schemaContent",
						  c->schema_content, false, true);
				}
				if (c->xml) {
					snprintf(leaf, sizeof leaf,
						 "/payload/cspDefinedParameters/cspDefinedMetadata[%zu]"
						 "/xmlData",
						 k + 1);
					raw_check(&r, a, path, leaf, "R-CSP-2", "xmlData", c->xml, true,
						  false);
				}
				if (r.first == LI707_ENOMEM)
					return LI707_ENOMEM;
			}
			if (r.first == LI707_ENOMEM)
				return LI707_ENOMEM;
		}
	}
	return r.first;
}

/* ---- public ---- */

int li707_message_encode(const struct li707_message *m, char **out, size_t *out_len,
			 struct li707_diags *diags)
{
	if (!m || !out || !out_len)
		return LI707_EINVAL;
	struct li707_limits lim = {0};
	li707_limits_resolve(&lim);

	int rc = li707__message_check(m, &lim, diags, NULL, NULL);
	if (rc != 0)
		return rc;
	rc = check_raw_content(m, &lim, diags);
	if (rc != 0)
		return rc;

	xmlBufferPtr buf = xmlBufferCreateSize(8192);
	if (!buf)
		return LI707_ENOMEM;
	/* The default (exact) scheme regrows by a few bytes: quadratic on large messages. */
	xmlBufferSetAllocationScheme(buf, XML_BUFFER_ALLOC_DOUBLEIT);
	struct enc e = {xmlNewTextWriterMemory(buf, 0), 0};
	if (!e.w) {
		xmlBufferFree(buf);
		return LI707_ENOMEM;
	}
	write_message(&e, m);
	xmlFreeTextWriter(e.w); /* flushes into buf */
	if (e.rc) {
		xmlBufferFree(buf);
		return e.rc;
	}
	size_t len = (size_t)xmlBufferLength(buf);
	char *s = malloc(len + 1);
	if (!s) {
		xmlBufferFree(buf);
		return LI707_ENOMEM;
	}
	memcpy(s, xmlBufferContent(buf), len);
	s[len] = '\0';
	xmlBufferFree(buf);
	*out = s;
	*out_len = len;
	return 0;
}

/* ---- responses (R-TRN-3) ---- */

/* Copy of s cut to at most max bytes on a UTF-8 character boundary. */
static char *dup_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return li707__strndup(s, n);
}

static bool short_ok(const char *s)
{
	return s && strlen(s) <= 255 && li707_check_utf8(s, strlen(s));
}

static bool long_ok(const char *s)
{
	return s && *s && strlen(s) <= LONGSTRING_MAX && li707_check_utf8(s, strlen(s));
}

/* Header of a response to req (NULL: defaults): sender and receiver swapped, the request's
 * TransactionIdentifier, a fresh QualifiedMicrosecondDateTime, the same Version. A field of
 * the request that is itself invalid is replaced by its default, so that a response can be
 * encoded for any request whose envelope could be read. */
static int response_header(struct li707_header *h, const struct li707_header *req)
{
	if (!req)
		return li707_header_init_defaults(h, LI707_COUNTRY_DEFAULT,
						  LI707_RECEIVER_ID_DEFAULT, NULL, NULL);
	const char *scc = memchr(req->receiver_cc, 0, 3) && li707_check_country(req->receiver_cc)
				  ? req->receiver_cc
				  : LI707_COUNTRY_DEFAULT;
	const char *rcc = memchr(req->sender_cc, 0, 3) && li707_check_country(req->sender_cc)
				  ? req->sender_cc
				  : LI707_COUNTRY_DEFAULT;
	const char *sid = long_ok(req->receiver_id) ? req->receiver_id : LI707_RECEIVER_ID_DEFAULT;
	const char *rid = long_ok(req->sender_id) ? req->sender_id : LI707_RECEIVER_ID_DEFAULT;
	struct li707_header t;
	int rc = li707_header_init_defaults(&t, scc, sid, rcc, rid);
	if (rc != 0)
		return rc;
	if (memchr(req->transaction_id, 0, sizeof req->transaction_id) &&
	    li707_check_uuid(req->transaction_id))
		memcpy(t.transaction_id, req->transaction_id, sizeof t.transaction_id);
	if (req->etsi_version && li707_check_etsi_version(req->etsi_version))
		rc = li707__set_str(&t.etsi_version, req->etsi_version);
	if (rc == 0 && short_ok(req->np_owner))
		rc = li707__set_str(&t.np_owner, req->np_owner);
	if (rc == 0 && short_ok(req->np_version))
		rc = li707__set_str(&t.np_version, req->np_version);
	if (rc != 0) {
		li707_header_clear(&t);
		return rc;
	}
	*h = t;
	return 0;
}

/* The first error about action (LI707__NO_ACTION: about the message), or NULL. */
static const struct li707_diag *first_error(const struct li707_diags *d, size_t action)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].severity == LI707_SEV_ERROR && d->v[i].action == action)
			return &d->v[i];
	return NULL;
}

/* An ErrorDescription: "R-ID path: message" of g (diagnostics never hold values), or the
 * generic text of the error code when there is no diagnostic; at most a LongString. */
static char *describe(const struct li707_diag *g, const char *generic)
{
	if (!g)
		return dup_cut(generic, LONGSTRING_MAX);
	const char *req = g->req ? g->req : "";
	const char *path = g->path ? g->path : "";
	const char *msg = g->message ? g->message : generic;
	size_t n = strlen(req) + strlen(path) + strlen(msg) + 4;
	char *s = malloc(n);
	if (!s)
		return NULL;
	snprintf(s, n, "%s%s%s: %s", req, *req && *path ? " " : "", path, msg);
	if (!*req && !*path)
		memmove(s, s + 2, strlen(s + 2) + 1); /* drop the leading ": " */
	if (strlen(s) > LONGSTRING_MAX) {
		char *c = dup_cut(s, LONGSTRING_MAX);
		free(s);
		return c;
	}
	return s;
}

/* Turns *m into a top-level ErrorInformation response for code. */
static int set_top_error(struct li707_message *m, int code, const struct li707_diag *g,
			 const char *description)
{
	const char *generic = NULL;
	m->top_error = true;
	m->error_code = li707_hi1_error_code(code, &generic);
	if (!generic)
		generic = li707_strerror(code);
	m->error_description = description ? dup_cut(description, LONGSTRING_MAX)
					   : describe(g, generic);
	return m->error_description ? 0 : LI707_ENOMEM;
}

int li707_response_for(const struct li707_message *req, const struct li707_diags *diags,
		       struct li707_message **out)
{
	if (!req || !out || req->kind != LI707_MSG_REQUEST)
		return LI707_EINVAL;
	struct li707_message *m = li707_message_new();
	if (!m)
		return LI707_ENOMEM;
	m->kind = LI707_MSG_RESPONSE;
	int rc = response_header(&m->header, &req->header);
	if (rc != 0)
		goto fail;

	/* A message-level error (header, empty request) concerns no single action: the whole
	 * request is answered with a top-level ErrorInformation. */
	const struct li707_diag *g = first_error(diags, LI707__NO_ACTION);
	size_t n = req->actions ? req->n_actions : 0;
	if (g || n == 0) {
		rc = set_top_error(m, g && g->code ? g->code : LI707_EINVALID, g, NULL);
		if (rc != 0)
			goto fail;
		*out = m;
		return 0;
	}

	m->responses = calloc(n, sizeof *m->responses);
	if (!m->responses) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	m->n_responses = n;
	for (size_t i = 0; i < n; i++) {
		const struct li707_action *a = &req->actions[i];
		struct li707_action_response *r = &m->responses[i];
		const struct li707_delivery *d = a->delivery;
		int status = a->status;
		r->action_id = a->action_id;
		r->verb = a->verb == LI707_VERB_DELIVER ? LI707_VERB_DELIVER : LI707_VERB_OTHER;
		if (a->verb != LI707_VERB_DELIVER) {
			status = LI707_ENOTSUP;
		} else if (status == 0) {
			const char *id = !d ? NULL : d->identifier[0] ? d->identifier : d->object_id;
			if (id && memchr(id, 0, LI707_UUID_LEN + 1) && li707_check_uuid(id)) {
				memcpy(r->identifier, id, LI707_UUID_LEN + 1);
				continue;
			}
			status = LI707_EINVALID; /* cannot echo what is not there */
		}
		const char *generic = NULL;
		r->is_error = true;
		r->error_code = li707_hi1_error_code(status, &generic);
		if (!generic)
			generic = li707_strerror(status);
		r->error_description = describe(first_error(diags, i), generic);
		if (!r->error_description) {
			rc = LI707_ENOMEM;
			goto fail;
		}
	}
	*out = m;
	return 0;
fail:
	li707_message_free(m);
	return rc;
}

int li707_response_top_error(const struct li707_header *req_header, int code,
			     const char *description, struct li707_message **out)
{
	if (!out)
		return LI707_EINVAL;
	struct li707_message *m = li707_message_new();
	if (!m)
		return LI707_ENOMEM;
	m->kind = LI707_MSG_RESPONSE;
	int rc = response_header(&m->header, req_header);
	if (rc == 0)
		rc = set_top_error(m, code, NULL, description);
	if (rc != 0) {
		li707_message_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
