/* li707 - the encoder: model -> HI1Message XML, and the responses an LEA returns.
 *
 * DESIGN
 * li707_message_encode() refuses before it writes: the model first passes the checker
 * (check.c, the same rules the decoder applies), then every piece of raw content (glossary,
 * CSP xmlData, schemaContent) must be a well-formed, namespace-complete fragment
 * (xmlsafe.c) in which no unprefixed element would inherit the TS 103 707 default namespace
 * (a tag scan over the already-parsed fragment; the hardened parser when the scan is
 * unsure). Only then is the document written, one writer function per schema type, in the
 * element order of the official TS 103 120 examples and of schemas/ts_103707.xsd.
 *
 * The writer is our own: a growable buffer (doubling, overflow-checked, ENOMEM on failure,
 * every call a no-op after an error) into which each call copies a whole start tag, end tag
 * or leaf element at once. Output is exactly what libxml2's xmlTextWriter gave with
 * two-space indentation (the golden files pin it down byte for byte): one element per line,
 * <name/> for empty text, text escaped as & < > " and CR (&#13;), attribute values also tab
 * and LF. xmlTextWriter cost ~80% of encoding (a linked-list stack, a string write per
 * token, an identity UTF-8 "conversion", a copy out of its buffer); the checker already
 * guarantees UTF-8 without forbidden characters, so nothing is left for it to do.
 * docs/internals/encode.md has the details.
 *
 * Raw content is copied byte for byte straight after the start tag and followed by the end
 * tag on the same line: no whitespace is ever added inside those elements, so a decoder
 * slicing the content of <xmlData> gets the CSP's exact bytes (TS103707 R-CSP-2); an empty
 * one is <name></name>. test_encode checks this.
 *
 * Responses (R-TRN-3) are built as models and encoded by the same code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LONGSTRING_MAX 65535u /* TS 103 280 LongString */
#define ENC_MAX_DEPTH 32      /* our schema nests at most 19 elements deep */
#define ENC_INITIAL 8192
/* The largest document the encoder writes: li707-lea takes at most 1 GiB per message
 * (max_message_bytes' upper bound), so nothing larger could be delivered. */
#define ENC_MAX ((size_t)1 << 30)

/* ---- output buffer and writer: every call is a no-op once an error was seen ----
 *
 * The layout is the one libxml2's xmlTextWriter produced with indentation on (two spaces),
 * which the golden files pin down: each element on its own line, indented by its depth; a
 * leaf with text is <name>text</name>, a leaf with empty text <name/>, raw content goes
 * straight after the start tag and its end tag follows on the same line. Each call reserves
 * what it writes at once and then copies into the buffer. */

struct enc_name {
	const char *s; /* a string literal */
	size_t len;
};

struct enc {
	char *buf;
	size_t len, cap; /* cap > len always leaves room for the final NUL */
	int rc;
	unsigned depth;
	bool open; /* the start tag of names[depth - 1] still lacks its '>' */
	struct enc_name names[ENC_MAX_DEPTH];
};

/* Room for n more bytes and the final NUL; false (and rc set) when there is none. */
static bool reserve(struct enc *e, size_t n)
{
	if (e->rc)
		return false;
	if (n < e->cap - e->len)
		return true;
	if (n >= ENC_MAX - e->len) {
		e->rc = LI707_ELIMIT;
		return false;
	}
	size_t need = e->len + n + 1;
	if (!e->cap && need < ENC_INITIAL)
		need = ENC_INITIAL; /* one allocation for a typical message */
	int rc = li707_array_grow((void **)&e->buf, &e->cap, need, 1, ENC_MAX);
	if (rc)
		e->rc = rc;
	return rc == 0;
}

static char *cpy(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* Escapes. Text content gets what libxml2's xmlEncodeSpecialChars gave: & < > " and CR (as
 * a reference, so that the CR survives a parser's end-of-line normalisation); attribute
 * values also tab and LF (attribute-value normalisation would turn them into spaces). Every
 * other byte, UTF-8 included, is copied: the checker made sure each text value is UTF-8
 * without characters XML forbids. */
struct esc {
	const char *rep[256];
	unsigned char extra[256]; /* strlen(rep[c]) - 1, 0 for bytes copied as they are */
};

static const struct esc esc_text = {
	.rep = {['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;",
		['\r'] = "&#13;"},
	.extra = {['&'] = 4, ['<'] = 3, ['>'] = 3, ['"'] = 5, ['\r'] = 4},
};

static const struct esc esc_attr = {
	.rep = {['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;",
		['\r'] = "&#13;", ['\t'] = "&#9;", ['\n'] = "&#10;"},
	.extra = {['&'] = 4, ['<'] = 3, ['>'] = 3, ['"'] = 5, ['\r'] = 4, ['\t'] = 3, ['\n'] = 4},
};

/* Length of s once escaped; SIZE_MAX if that cannot be represented. */
static size_t escaped_len(const char *s, size_t n, const struct esc *t)
{
	if (n > SIZE_MAX / 8)
		return SIZE_MAX;
	size_t r = n;
	for (size_t i = 0; i < n; i++)
		r += t->extra[(unsigned char)s[i]];
	return r;
}

static char *cpy_escaped(char *p, const char *s, size_t n, size_t escaped, const struct esc *t)
{
	if (escaped == n)
		return cpy(p, s, n);
	for (size_t i = 0; i < n; i++) {
		const char *rep = t->rep[(unsigned char)s[i]];
		if (rep)
			p = cpy(p, rep, (size_t)t->extra[(unsigned char)s[i]] + 1);
		else
			*p++ = s[i];
	}
	return p;
}

#define INDENT_MAX (2 * ENC_MAX_DEPTH)
static const char spaces[INDENT_MAX + 1] = "                                "
					   "                                ";

/* The bytes that end a pending start tag before an element: ">\n". */
static char *close_start(struct enc *e, char *p)
{
	if (e->open) {
		*p++ = '>';
		*p++ = '\n';
		e->open = false;
	}
	return p;
}

/* <name (the '>' comes with the first child, or "/>" with w_end). name must stay valid until
 * the matching w_end(): the writer uses literals. */
static void w_start(struct enc *e, const char *name)
{
	if (e->rc)
		return;
	if (e->depth == ENC_MAX_DEPTH) { /* a bug in this file, not an input error */
		e->rc = LI707_EINVAL;
		return;
	}
	size_t n = strlen(name), ind = 2 * (size_t)e->depth;
	if (!reserve(e, 2 + ind + 1 + n))
		return;
	char *p = close_start(e, e->buf + e->len);
	p = cpy(p, spaces, ind);
	*p++ = '<';
	p = cpy(p, name, n);
	e->len = (size_t)(p - e->buf);
	e->names[e->depth++] = (struct enc_name){name, n};
	e->open = true;
}

/* "/>" when the element got no child; else the end tag on its own line, indented. */
static void w_end(struct enc *e)
{
	if (e->rc)
		return;
	struct enc_name nm = e->names[--e->depth];
	size_t ind = 2 * (size_t)e->depth;
	if (!reserve(e, ind + 2 + nm.len + 2))
		return;
	char *p = e->buf + e->len;
	if (e->open) {
		p = cpy(p, "/>\n", 3);
		e->open = false;
	} else {
		p = cpy(p, spaces, ind);
		p = cpy(p, "</", 2);
		p = cpy(p, nm.s, nm.len);
		p = cpy(p, ">\n", 2);
	}
	e->len = (size_t)(p - e->buf);
}

/* An attribute of the element just started, before anything else is written into it. */
static void w_attr(struct enc *e, const char *name, const char *value)
{
	if (e->rc)
		return;
	size_t n = strlen(name), vn = strlen(value), ve = escaped_len(value, vn, &esc_attr);
	if (!e->open || ve == SIZE_MAX || ve > SIZE_MAX - n - 4) {
		e->rc = e->open ? LI707_ENOMEM : LI707_EINVAL;
		return;
	}
	if (!reserve(e, 1 + n + 2 + ve + 1))
		return;
	char *p = e->buf + e->len;
	*p++ = ' ';
	p = cpy(p, name, n);
	p = cpy(p, "=\"", 2);
	p = cpy_escaped(p, value, vn, ve, &esc_attr);
	*p++ = '"';
	e->len = (size_t)(p - e->buf);
}

/* A whole leaf element on its own line: <name>content</name>, content escaped (escape) or
 * copied byte for byte (NULL). Empty content gives <name/> when escaped (a text value),
 * <name></name> when raw (what libxml2's writer gave, and tests pin). */
static void w_leaf(struct enc *e, const char *name, const char *content, const struct esc *escape)
{
	if (e->rc)
		return;
	size_t n = strlen(name), ind = 2 * (size_t)e->depth, cn = strlen(content);
	size_t ce = escape ? escaped_len(content, cn, escape) : cn;
	if (ce == SIZE_MAX || ce > SIZE_MAX - 2 * n - INDENT_MAX - 16) {
		e->rc = LI707_ENOMEM;
		return;
	}
	if (!reserve(e, 2 + ind + 1 + n + 1 + ce + 2 + n + 2))
		return;
	char *p = close_start(e, e->buf + e->len);
	p = cpy(p, spaces, ind);
	*p++ = '<';
	p = cpy(p, name, n);
	if (escape && cn == 0) {
		p = cpy(p, "/>\n", 3);
	} else {
		*p++ = '>';
		p = escape ? cpy_escaped(p, content, cn, ce, escape) : cpy(p, content, cn);
		p = cpy(p, "</", 2);
		p = cpy(p, name, n);
		p = cpy(p, ">\n", 2);
	}
	e->len = (size_t)(p - e->buf);
}

/* <name>text</name> with text escaped; <name/> for "". */
static void w_text(struct enc *e, const char *name, const char *text)
{
	w_leaf(e, name, text, &esc_text);
}

static void w_uint(struct enc *e, const char *name, uint64_t v)
{
	char buf[24];
	char *p = buf + sizeof buf;
	*--p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	w_leaf(e, name, p, &esc_text);
}

static void w_bool(struct enc *e, const char *name, bool v)
{
	w_leaf(e, name, v ? "true" : "false", &esc_text);
}

/* <name>raw</name> with raw copied byte for byte (checked beforehand by
 * li707__xml_check_fragment and the checker's UTF-8 rule). "" gives <name></name>. */
static void w_raw(struct enc *e, const char *name, const char *raw)
{
	w_leaf(e, name, raw, NULL);
}

/* The XML declaration, first thing in the buffer. */
static void w_declaration(struct enc *e)
{
	static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
	if (!reserve(e, sizeof decl - 1))
		return;
	memcpy(e->buf + e->len, decl, sizeof decl - 1);
	e->len += sizeof decl - 1;
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
	w_declaration(e);
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

/* The end of the first occurrence of lit in [p, end), or NULL. */
static const char *skip_past(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	for (; (size_t)(end - p) >= n; p++)
		if (*p == *lit && memcmp(p, lit, n) == 0)
			return p + n;
	return NULL;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The namespace rule of inherits_default_ns() by scanning tags, for a fragment that
 * li707__xml_check_fragment() accepted (so well-formed, no DOCTYPE): 1 when some unprefixed
 * element has no xmlns="..." (or xmlns="") on itself or an ancestor inside the fragment,
 * 0 when none, -1 on anything it does not expect (the caller then parses). The default
 * namespace in scope is declared by the outermost declaring ancestor onwards, so the depth
 * of that ancestor is all the state the scan needs. */
static int scan_default_ns(const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	size_t depth = 0, decl_at = 0; /* decl_at: depth of the outermost xmlns=, 0 = none */
	while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		p++;
		if (p == end)
			return -1;
		if (*p == '!' || *p == '?') {
			const char *q = end - p >= 3 && memcmp(p, "!--", 3) == 0 ? skip_past(p + 3, end, "-->")
					: end - p >= 8 && memcmp(p, "![CDATA[", 8) == 0
						? skip_past(p + 8, end, "]]>")
					: *p == '?' ? skip_past(p + 1, end, "?>")
						    : NULL;
			if (!q)
				return -1;
			p = q;
			continue;
		}
		if (*p == '/') { /* end tag */
			if (depth == 0)
				return -1;
			if (decl_at == depth)
				decl_at = 0;
			depth--;
			continue;
		}
		/* start tag: name, then attributes up to '>' or "/>" */
		const char *name = p;
		while (p < end && !is_space(*p) && *p != '/' && *p != '>')
			p++;
		bool prefixed = memchr(name, ':', (size_t)(p - name)) != NULL;
		bool declares = false, empty = false;
		for (;;) {
			while (p < end && is_space(*p))
				p++;
			if (p == end)
				return -1;
			if (*p == '>')
				break;
			if (*p == '/') {
				if (end - p < 2 || p[1] != '>')
					return -1;
				empty = true;
				p++;
				break;
			}
			const char *an = p;
			while (p < end && !is_space(*p) && *p != '=')
				p++;
			bool is_xmlns = p - an == 5 && memcmp(an, "xmlns", 5) == 0;
			while (p < end && is_space(*p))
				p++;
			if (p == end || *p != '=')
				return -1;
			p++;
			while (p < end && is_space(*p))
				p++;
			if (p == end || (*p != '"' && *p != '\''))
				return -1;
			const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
			if (!close)
				return -1;
			p = close + 1;
			declares |= is_xmlns;
		}
		p++; /* past '>' */
		depth++;
		if (!decl_at && declares)
			decl_at = depth;
		if (!decl_at && !prefixed)
			return 1;
		if (empty) {
			if (decl_at == depth)
				decl_at = 0;
			depth--;
		}
	}
	return depth == 0 ? 0 : -1;
}

/* EINVALID when some element of the fragment is unprefixed without a default namespace
 * declared inside the fragment (0 otherwise, or the parse error). Written into <glossary>,
 * <xmlData> or <schemaContent>, which are in the TS 103 707 default namespace, such an
 * element would silently move into that namespace: the bytes would survive but not their
 * meaning. Called only after li707__xml_check_fragment() accepted the fragment; the tag
 * scan above decides; should it meet anything it does not expect, the fragment is parsed
 * (hardened parser) inside a wrapper whose default namespace is a sentinel, and an element
 * that ends up in the sentinel namespace is one of those. (xmlns="" is fine: the element
 * stays in no namespace.) */
static int inherits_default_ns(const char *s, size_t len, const struct li707_limits *lim)
{
	if (!has_unprefixed_tag(s, len))
		return 0; /* every start tag has a prefix: nothing can inherit the default */
	int scan = scan_default_ns(s, len);
	if (scan >= 0)
		return scan ? LI707_EINVALID : 0;
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

/* Ends an encoding: *out and *out_len get the document (NUL-terminated), or the writer's error
 * is returned and the buffer freed. */
static int enc_finish(struct enc *e, char **out, size_t *out_len)
{
	if (!e->rc && (e->depth != 0 || !e->buf))
		e->rc = LI707_EINVAL; /* unbalanced writer calls: a bug in this file */
	if (e->rc) {
		free(e->buf);
		return e->rc;
	}
	e->buf[e->len] = '\0'; /* reserve() always keeps room for it */
	/* Give back the slack of the last doubling (shrinking in place is cheap). */
	char *s = e->cap - e->len > e->len / 4 ? realloc(e->buf, e->len + 1) : NULL;
	*out = s ? s : e->buf;
	*out_len = e->len;
	return 0;
}

/* ---- public ---- */

int li707_message_encode(const struct li707_message *m, char **out, size_t *out_len,
			 struct li707_diags *diags)
{
	if (!m || !out || !out_len)
		return LI707_EINVAL;
	struct li707_limits lim = {0};
	li707_limits_resolve(&lim);

	int rc = li707__message_check_outgoing(m, &lim, diags); /* V1.9.1: R-CORE-2 */
	if (rc != 0)
		return rc;
	rc = check_raw_content(m, &lim, diags);
	if (rc != 0)
		return rc;

	struct enc e = {0};
	write_message(&e, m);
	return enc_finish(&e, out, out_len);
}

/* ---- one item on its own ---- */

/* The fixed, valid envelope li707_item_encode() puts around the caller's item so that the
 * checker (which walks messages) applies exactly the rules of a delivery to it. */
#define SHELL_UUID_TX "00000000-0000-4000-8000-000000000001"
#define SHELL_UUID_OBJ "00000000-0000-4000-8000-000000000002"
#define SHELL_UUID_DID "00000000-0000-4000-8000-000000000003"

/* The diagnostics from first on describe the item inside the envelope: their paths lose
 * the envelope's prefix (".../delivery:XMLData/handoverItem/x" -> "/handoverItem/x") and
 * they concern no action. */
static int unwrap_diag_paths(struct li707_diags *diags, size_t first)
{
	char prefix[512];
	int n = snprintf(prefix, sizeof prefix, LI707__PATH_XMLDATA, (size_t)1);
	if (!diags || n < 0 || (size_t)n >= sizeof prefix)
		return 0;
	for (size_t i = first; i < diags->n; i++) {
		struct li707_diag *g = &diags->v[i];
		g->action = LI707__NO_ACTION;
		if (g->path && strncmp(g->path, prefix, (size_t)n) == 0)
			memmove(g->path, g->path + n, strlen(g->path + n) + 1);
	}
	return 0;
}

int li707_item_encode(const struct li707_item *it, char **out, size_t *out_len,
		      struct li707_diags *diags)
{
	if (!it || !out || !out_len)
		return LI707_EINVAL;
	struct li707_limits lim = {0};
	li707_limits_resolve(&lim);

	/* The checker only reads the model: the envelope borrows the caller's item (a shallow
	 * copy, never freed) and literals. */
	struct li707_item item = *it;
	struct li707_delivery d = {
		.object_id = SHELL_UUID_OBJ, .country_code = "XX", .owner_id = "li707",
		.ref_kind = LI707_REF_LIID, .reference = "li707", .delivery_id = SHELL_UUID_DID,
		.has_sequence = true, .sequence = 1, .last_sequence = LI707_ABSENT,
		.manifest = LI707_MANIFEST_NONE, .payload = LI707_PAYLOAD_ITEM, .items = &item,
		.n_items = 1,
	};
	struct li707_action a = {.action_id = 0, .verb = LI707_VERB_DELIVER, .delivery = &d};
	struct li707_message m = {
		.header = {.sender_cc = "XX", .sender_id = "li707", .receiver_cc = "XX",
			   .receiver_id = "li707", .transaction_id = SHELL_UUID_TX,
			   .timestamp = "2000-01-01T00:00:00.000000Z",
			   .etsi_version = LI707_ETSI_VERSION_DEFAULT,
			   .np_owner = "N/A", .np_version = "N/A"},
		.kind = LI707_MSG_REQUEST, .actions = &a, .n_actions = 1,
	};
	size_t first = diags ? diags->n : 0;
	int rc = li707__message_check(&m, &lim, diags, NULL, NULL);
	if (rc == 0)
		rc = check_raw_content(&m, &lim, diags);
	unwrap_diag_paths(diags, first);
	if (rc != 0)
		return rc;

	struct enc e = {0};
	w_declaration(&e);
	w_start(&e, "handoverItem");
	w_attr(&e, "xmlns", LI707_NS_707);
	w_attr(&e, "xmlns:xsi", LI707_NS_XSI); /* payload's xsi:type */
	write_handover_item_content(&e, it);
	w_end(&e);
	return enc_finish(&e, out, out_len);
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
