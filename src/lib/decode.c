/* li707 - strict decoding of HI1Messages into the model (include/li707/codec.h).
 *
 * DESIGN
 * Bytes go through xmlsafe.c (no DTD, no entities, no network, caps), which also records the
 * byte offsets of every element below a TS 103 707 element so that glossary, xmlData and
 * schemaContent can be carried byte for byte. The DOM is then walked once, one function per
 * schema type, in schema order (ts_103120_Core.xsd, ts_103120_Delivery.xsd,
 * schemas/ts_103707.xsd). The decoder enforces structure only: which elements exist, their
 * order and cardinality, no stray text or attributes, leaf syntax where the model cannot
 * carry the value (numbers, booleans, fields it does not keep). Every value rule (UUID form,
 * country codes, LIID/LDID, dates, MIME, URLs, lengths, Table 1/2 consistency) is check.c's,
 * run on the finished model, so encoder and decoder share it. Where the model shows a missing
 * mandatory element by itself (a NULL string, an empty list) the checker reports it; the
 * decoder reports what the model cannot show (a missing ActionIdentifier, an empty
 * messageReceivers, an element in the wrong place).
 *
 * Each model field's input line goes into a line map (keys: string pointers, fixed arrays,
 * struct addresses), so the checker's findings carry lines too. Arrays are counted and
 * capped first and allocated once, so the addresses used as keys stay valid.
 *
 * An action's status is its first error: a structural one found here, else the checker's. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "internal.h"

#define NS_CORE LI707_NS_CORE
#define NS_DEL LI707_NS_DELIVERY
#define NS_COMMON LI707_NS_COMMON
#define NS_707 LI707_NS_707
#define NS_XSI LI707_NS_XSI
#define NS_DSIG "http://www.w3.org/2000/09/xmldsig#"

#define PATH_RESPONSES "/HI1Message/Payload/ResponsePayload/ActionResponses"

struct dc {
	const struct li707__xmldoc *x;
	struct li707_limits lim;
	struct li707_diags *diags;
	struct li707__linemap *map;
	struct li707_message *m;
	int *status;      /* structural status per action (requests) */
	size_t n_status;
	size_t action;    /* action/response the findings concern, or LI707__NO_ACTION */
	int first_msg;    /* first message-level structural error */
	bool nomem;
	size_t plen;
	char path[1024];
};

/* ---- names and paths ---- */

static bool is_ns(const xmlNode *n, const char *ns)
{
	return n->ns && n->ns->href && strcmp((const char *)n->ns->href, ns) == 0;
}

static bool is_el(const xmlNode *n, const char *ns, const char *local)
{
	return n && n->type == XML_ELEMENT_NODE && is_ns(n, ns) &&
	       strcmp((const char *)n->name, local) == 0;
}

/* The name used in paths and messages: the fixed prefixes of the paths check.c reports
 * (none for TS 103 120 Core and TS 103 707, delivery:, common:), else the input's prefix.
 * Element names are markup, never field content, so they may appear in messages. */
static void disp(const xmlNode *n, char *out, size_t cap)
{
	const char *pfx = NULL;
	if (!n->ns || is_ns(n, NS_CORE) || is_ns(n, NS_707))
		pfx = NULL;
	else if (is_ns(n, NS_DEL))
		pfx = "delivery";
	else if (is_ns(n, NS_COMMON))
		pfx = "common";
	else if (is_ns(n, NS_DSIG))
		pfx = "digsig";
	else if (n->ns->prefix)
		pfx = (const char *)n->ns->prefix;
	snprintf(out, cap, "%.40s%s%.64s", pfx ? pfx : "", pfx ? ":" : "", (const char *)n->name);
}

static size_t path_push(struct dc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(struct dc *c, const char *fmt, ...)
{
	size_t mark = c->plen;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->path + c->plen, sizeof c->path - c->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen += (size_t)n < sizeof c->path - c->plen ? (size_t)n
								 : sizeof c->path - c->plen - 1;
	return mark;
}

static void path_pop(struct dc *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = '\0';
}

static void path_set(struct dc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_set(struct dc *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->path, sizeof c->path, fmt, ap);
	va_end(ap);
	c->plen = n < 0 ? 0 : ((size_t)n >= sizeof c->path ? sizeof c->path - 1 : (size_t)n);
}

/* ---- findings ---- */

static long line_of(const xmlNode *n)
{
	return n ? xmlGetLineNo(n) : 0;
}

/* A finding at the current path plus leaf (may be NULL). */
static void report(struct dc *c, enum li707_severity sev, int code, const xmlNode *at,
		   const char *leaf, const char *req, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static void report(struct dc *c, enum li707_severity sev, int code, const xmlNode *at,
		   const char *leaf, const char *req, const char *fmt, ...)
{
	if (sev == LI707_SEV_ERROR) {
		if (c->status && c->action < c->n_status) {
			if (!c->status[c->action])
				c->status[c->action] = code;
		} else if (!c->first_msg) {
			c->first_msg = code;
		}
	}
	if (!c->diags)
		return;
	char msg[512], path[sizeof c->path + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(path, sizeof path, "%s%s", c->path, leaf ? leaf : "");
	if (li707_diags_add(c->diags, c->lim.max_diagnostics, sev, code, line_of(at), path, req,
			    c->action, "%s", msg) == LI707_ENOMEM)
		c->nomem = true;
}

#define ERR(c, at, leaf, req, ...) report(c, LI707_SEV_ERROR, LI707_EINVALID, at, leaf, req, __VA_ARGS__)
#define LIMIT(c, at, leaf, req, ...) report(c, LI707_SEV_ERROR, LI707_ELIMIT, at, leaf, req, __VA_ARGS__)
#define WARN(c, at, leaf, req, ...) report(c, LI707_SEV_WARNING, 0, at, leaf, req, __VA_ARGS__)
#define NOTE(c, at, leaf, req, ...) report(c, LI707_SEV_NOTE, 0, at, leaf, req, __VA_ARGS__)

static void mark(struct dc *c, const void *key, const xmlNode *n)
{
	if (key && li707__linemap_put(c->map, key, line_of(n)) != 0)
		c->nomem = true;
}

/* ---- element-only content ---- */

static bool all_space(const xmlChar *t)
{
	for (; t && *t; t++)
		if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r')
			return false;
	return true;
}

/* Attributes other than xsi:* (xmlns declarations are not attributes in the DOM). */
static void check_attrs(struct dc *c, const xmlNode *n, const char *req)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (a->ns && a->ns->href && strcmp((const char *)a->ns->href, NS_XSI) == 0)
			continue;
		char name[64];
		snprintf(name, sizeof name, "%.60s", (const char *)a->name);
		ERR(c, n, NULL, req, "attribute %s is not allowed here", name);
		return;
	}
}

/* Non-whitespace text in element-only content (reported; false when found). */
static bool check_no_text(struct dc *c, const xmlNode *n, const char *req)
{
	for (const xmlNode *k = n->children; k; k = k->next)
		if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) &&
		    !all_space(k->content)) {
			ERR(c, k, NULL, req, "text is not allowed here (element-only content)");
			return false;
		}
	return true;
}

static xmlNodePtr next_elem(xmlNodePtr n)
{
	while (n && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

/* A cursor over the element children of one element, matched in schema order. */
struct seq {
	struct dc *c;
	xmlNodePtr parent;
	xmlNodePtr cur;
	const char *req;
	const xmlChar *taken[32];
	size_t n_taken;
};

static void seq_init(struct seq *s, struct dc *c, xmlNodePtr parent, const char *req)
{
	s->c = c;
	s->parent = parent;
	s->cur = next_elem(parent->children);
	s->req = req;
	s->n_taken = 0;
	check_attrs(c, parent, req);
	check_no_text(c, parent, req);
}

/* Takes the next element when it is {ns}local. */
static xmlNodePtr seq_take(struct seq *s, const char *ns, const char *local)
{
	if (!is_el(s->cur, ns, local))
		return NULL;
	xmlNodePtr n = s->cur;
	if (s->n_taken < sizeof s->taken / sizeof s->taken[0])
		s->taken[s->n_taken++] = n->name;
	s->cur = next_elem(n->next);
	return n;
}

/* Takes the next element whatever it is. */
static xmlNodePtr seq_any(struct seq *s)
{
	xmlNodePtr n = s->cur;
	if (n) {
		if (s->n_taken < sizeof s->taken / sizeof s->taken[0])
			s->taken[s->n_taken++] = n->name;
		s->cur = next_elem(n->next);
	}
	return n;
}

/* Number of consecutive {ns}local elements from the cursor on. */
static size_t seq_count(const struct seq *s, const char *ns, const char *local)
{
	size_t n = 0;
	for (xmlNodePtr k = s->cur; is_el(k, ns, local); k = next_elem(k->next))
		n++;
	return n;
}

/* Whatever is left is unknown, misplaced or repeated. */
static void seq_end(struct seq *s)
{
	for (xmlNodePtr k = s->cur; k; k = next_elem(k->next)) {
		char name[112];
		disp(k, name, sizeof name);
		bool seen = false;
		for (size_t i = 0; i < s->n_taken; i++)
			if (xmlStrEqual(s->taken[i], k->name))
				seen = true;
		size_t m = path_push(s->c, "/%s", name);
		if (seen)
			ERR(s->c, k, NULL, s->req,
			    "element %s is repeated or out of schema order", name);
		else
			ERR(s->c, k, NULL, s->req, "element %s is not expected here", name);
		path_pop(s->c, m);
	}
	s->cur = NULL;
}

/* ---- leaves ---- */

/* Text of a simple-typed element (text and CDATA; comments ignored). trim: XML whitespace
 * removed at both ends (token-like types: UUID, country, numbers, booleans, dates, URIs);
 * otherwise kept exactly (ShortString, LongString and types derived from xs:string).
 * Returns a new string, NULL only on ENOMEM (then c->nomem is set). */
static char *leaf_text(struct dc *c, xmlNodePtr n, bool trim, const char *req)
{
	check_attrs(c, n, req);
	size_t len = 0;
	for (xmlNodePtr k = n->children; k; k = k->next) {
		if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
			len += k->content ? strlen((const char *)k->content) : 0;
		} else if (k->type == XML_ELEMENT_NODE) {
			char name[112];
			disp(k, name, sizeof name);
			ERR(c, k, NULL, req, "element %s is not allowed inside a simple value", name);
		}
	}
	char *s = malloc(len + 1);
	if (!s) {
		c->nomem = true;
		return NULL;
	}
	size_t off = 0;
	for (xmlNodePtr k = n->children; k; k = k->next)
		if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) && k->content) {
			size_t l = strlen((const char *)k->content);
			memcpy(s + off, k->content, l);
			off += l;
		}
	s[off] = '\0';
	if (trim) {
		size_t b = 0, e = off;
		while (b < e && strchr(" \t\r\n", s[b]))
			b++;
		while (e > b && strchr(" \t\r\n", s[e - 1]))
			e--;
		memmove(s, s + b, e - b);
		s[e - b] = '\0';
	}
	return s;
}

/* A kept string field; the line map learns where it came from. */
static void take_str(struct dc *c, xmlNodePtr n, bool trim, const char *req, char **dst)
{
	char *s = leaf_text(c, n, trim, req);
	if (!s)
		return;
	free(*dst);
	*dst = s;
	mark(c, s, n);
}

/* A fixed-size field (UUID, country code): the trimmed value must fit, else it is reported
 * here (the model cannot carry it for the checker) and the field stays empty. */
static void take_fixed(struct dc *c, xmlNodePtr n, const char *req, char *dst, size_t size,
		       const char *what)
{
	char *s = leaf_text(c, n, true, req);
	if (!s)
		return;
	size_t l = strlen(s);
	if (l >= size) {
		char name[112];
		disp(n, name, sizeof name);
		size_t m = path_push(c, "/%s", name);
		ERR(c, n, NULL, req, "%s is longer than %zu characters", what, size - 1);
		path_pop(c, m);
		dst[0] = '\0';
	} else {
		memcpy(dst, s, l + 1);
	}
	mark(c, dst, n);
	free(s);
}

static bool take_uint(struct dc *c, xmlNodePtr n, const char *req, uint64_t *out)
{
	char *s = leaf_text(c, n, true, req);
	if (!s)
		return false;
	bool ok = li707_parse_uint(s, out);
	free(s);
	if (!ok) {
		char name[112];
		disp(n, name, sizeof name);
		size_t m = path_push(c, "/%s", name);
		ERR(c, n, NULL, req, "%s is not a non-negative integer that fits in 64 bits", name);
		path_pop(c, m);
	}
	return ok;
}

static bool take_bool(struct dc *c, xmlNodePtr n, const char *req, bool *out)
{
	char *s = leaf_text(c, n, true, req);
	if (!s)
		return false;
	bool ok = li707_parse_bool(s, out);
	free(s);
	if (!ok) {
		char name[112];
		disp(n, name, sizeof name);
		size_t m = path_push(c, "/%s", name);
		ERR(c, n, NULL, req, "%s is not an xs:boolean (true, false, 1 or 0)", name);
		path_pop(c, m);
	}
	return ok;
}

static void missing(struct dc *c, xmlNodePtr parent, const char *leaf, const char *req,
		    const char *what)
{
	ERR(c, parent, leaf, req, "%s is missing", what);
}

/* xsi:type of n resolved against the namespaces in scope: 1 when it names {ns}local,
 * 0 when it names something else, -1 when n has no xsi:type. */
static int xsi_type_is(xmlNodePtr n, const char *ns, const char *local)
{
	xmlChar *v = xmlGetNsProp(n, BAD_CAST "type", BAD_CAST NS_XSI);
	if (!v)
		return -1;
	const char *s = (const char *)v;
	while (*s && strchr(" \t\r\n", *s))
		s++;
	size_t len = strlen(s);
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	const char *colon = memchr(s, ':', len);
	char prefix[128];
	const char *lname = s;
	size_t llen = len;
	xmlNsPtr bound;
	int r = 0;
	if (colon) {
		size_t pl = (size_t)(colon - s);
		if (pl == 0 || pl >= sizeof prefix)
			goto out;
		memcpy(prefix, s, pl);
		prefix[pl] = '\0';
		bound = xmlSearchNs(n->doc, n, BAD_CAST prefix);
		lname = colon + 1;
		llen = len - pl - 1;
	} else {
		bound = xmlSearchNs(n->doc, n, NULL);
	}
	r = bound && bound->href && strcmp((const char *)bound->href, ns) == 0 &&
	    llen == strlen(local) && memcmp(lname, local, llen) == 0;
out:
	xmlFree(v);
	return r;
}

/* ---- TS 103 707 items (schemas/ts_103707.xsd) ---- */

/* QualifiedPartyIdentifier (Table 7A). */
static void decode_qualified_id(struct dc *c, xmlNodePtr n, struct li707_party_id *id)
{
	struct seq s;
	seq_init(&s, c, n, "R-CORE-3");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_707, "formatType"))) {
		size_t m = path_push(c, "/formatType");
		struct seq f;
		seq_init(&f, c, k, "R-CORE-3");
		xmlNodePtr e;
		if ((e = seq_take(&f, NS_707, "formatOwner")))
			take_str(c, e, false, "R-CORE-3", &id->format_owner);
		if ((e = seq_take(&f, NS_707, "formatName")))
			take_str(c, e, false, "R-CORE-3", &id->format_name);
		if (!id->format_owner && !id->format_name)
			missing(c, k, NULL, "R-CORE-3", "formatOwner/formatName");
		seq_end(&f);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_707, "value")))
		take_str(c, k, false, "R-CORE-3", &id->value);
	seq_end(&s);
}

/* MessagingParty (Table 7; R-CORE-3, R-CORE-4). The path is the party element's. */
static void decode_party(struct dc *c, xmlNodePtr n, struct li707_party *p)
{
	p->targeted = LI707_ABSENT;
	mark(c, p, n);
	struct seq s;
	seq_init(&s, c, n, "R-CORE-3");
	xmlNodePtr ids = seq_take(&s, NS_707, "identifiers");
	if (ids) {
		size_t m = path_push(c, "/identifiers");
		struct seq is;
		seq_init(&is, c, ids, "R-CORE-3");
		size_t count = 0;
		for (xmlNodePtr k = is.cur; k; k = next_elem(k->next))
			if (is_el(k, NS_707, "identifier") ||
			    is_el(k, NS_707, "qualifiedPartyIdentifier"))
				count++;
		if (count > c->lim.max_identifiers) {
			LIMIT(c, ids, NULL, "R-CORE-3",
			      "identifiers holds more than the configured limit of %zu",
			      c->lim.max_identifiers);
			is.cur = NULL;
		} else if (count) {
			p->ids = calloc(count, sizeof *p->ids);
			if (!p->ids) {
				c->nomem = true;
				path_pop(c, m);
				return;
			}
			p->n_ids = count;
		}
		size_t i = 0, n_plain = 0, n_qual = 0;
		while (i < p->n_ids) {
			xmlNodePtr k;
			struct li707_party_id *id = &p->ids[i];
			if ((k = seq_take(&is, NS_707, "identifier"))) {
				size_t m2 = path_push(c, "/identifier[%zu]", ++n_plain);
				mark(c, id, k);
				take_str(c, k, false, "R-CORE-3", &id->value);
				path_pop(c, m2);
			} else if ((k = seq_take(&is, NS_707, "qualifiedPartyIdentifier"))) {
				size_t m2 = path_push(c, "/qualifiedPartyIdentifier[%zu]", ++n_qual);
				mark(c, id, k);
				id->qualified = true;
				decode_qualified_id(c, k, id);
				path_pop(c, m2);
			} else {
				break; /* an unknown element first: seq_end reports it */
			}
			i++;
		}
		p->n_ids = i;
		seq_end(&is);
		path_pop(c, m);
	}
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_707, "isTargetedParty"))) {
		bool b;
		if (take_bool(c, k, "R-CORE-4", &b))
			p->targeted = b ? LI707_TRUE : LI707_FALSE;
	}
	seq_end(&s);
}

/* binaryObject (Table 8; R-CORE-5). */
static void decode_binary_object(struct dc *c, xmlNodePtr n, struct li707_binary_object *b)
{
	mark(c, b, n);
	struct seq s;
	seq_init(&s, c, n, "R-CORE-5");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_707, "url")))
		take_str(c, k, true, "R-CORE-5", &b->url);
	if ((k = seq_take(&s, NS_707, "contentLength")))
		b->has_content_length = take_uint(c, k, "R-CORE-5", &b->content_length);
	if ((k = seq_take(&s, NS_707, "contentType")))
		take_str(c, k, false, "R-CORE-5", &b->content_type);
	if ((k = seq_take(&s, NS_707, "expiry")))
		take_str(c, k, true, "R-CORE-5", &b->expiry);
	if ((k = seq_take(&s, NS_707, "checksum")))
		take_str(c, k, false, "R-CORE-5", &b->checksum);
	if ((k = seq_take(&s, NS_707, "originalFilename")))
		take_str(c, k, false, "R-CORE-5", &b->original_filename);
	if ((k = seq_take(&s, NS_707, "cspDefinedIdentifier")))
		take_str(c, k, false, "R-CORE-5", &b->csp_defined_identifier);
	seq_end(&s);
}

/* Raw content of glossary / xmlData / schemaContent into *dst. The content must be what the
 * encoder accepts back (li707__xml_check_fragment, the same flags): a well-formed fragment
 * whose namespaces (xsi:type prefixes included) are all declared, with only elements of
 * namespaces other than TS 103 707's where other_ns. may_be_empty: whitespace-only content
 * needs no check. */
static void take_raw(struct dc *c, xmlNodePtr n, const char *req, char **dst, bool other_ns,
		     bool may_be_empty, bool check)
{
	char *s = NULL;
	int rc = li707__xml_raw_content(c->x, n, c->lim.max_raw_xml_bytes, &s);
	if (rc == LI707_ELIMIT) {
		LIMIT(c, n, NULL, req, "content exceeds the configured limit of %zu bytes",
		      c->lim.max_raw_xml_bytes);
		return;
	}
	if (rc) {
		c->nomem = true;
		return;
	}
	size_t len = strlen(s);
	if (check && !(may_be_empty && len == strspn(s, " \t\r\n"))) {
		rc = li707__xml_check_fragment(s, len, &c->lim, other_ns);
		if (rc == LI707_ENOMEM) {
			c->nomem = true;
		} else if (rc == LI707_ELIMIT) {
			LIMIT(c, n, NULL, req, "content is nested deeper than the configured limit");
		} else if (rc) {
			char name[112];
			disp(n, name, sizeof name);
			if (other_ns)
				ERR(c, n, NULL, req,
				    "%s content is not a fragment of elements in declared namespaces "
				    "other than TS 103 707's",
				    name);
			else
				ERR(c, n, NULL, req,
				    "%s content uses a namespace prefix (xsi:type included) that is "
				    "not declared",
				    name);
		}
	}
	free(*dst);
	*dst = s;
	mark(c, s, n);
}

/* xmlData: the CSP's own XML, elements of other namespaces (R-CSP-2). */
static void decode_xml_data(struct dc *c, xmlNodePtr n, struct li707_csp_data *cd)
{
	check_attrs(c, n, "R-CSP-2");
	bool ok = check_no_text(c, n, "R-CSP-2");
	size_t count = 0;
	for (xmlNodePtr k = next_elem(n->children); k; k = next_elem(k->next)) {
		count++;
		if (!k->ns || !k->ns->href || !*k->ns->href || is_ns(k, NS_707)) {
			ok = false;
			char name[112];
			disp(k, name, sizeof name);
			ERR(c, k, NULL, "R-CSP-2",
			    "element %s in xmlData is not in a namespace of the CSP's own schema "
			    "(neither TS 103 707 nor none)",
			    name);
		}
	}
	if (!count) {
		ERR(c, n, NULL, "R-CSP-2", "xmlData holds no element");
		ok = false;
	}
	take_raw(c, n, "R-CSP-2", &cd->xml, true, false, ok);
}

/* cspDefinedMetadata (clause 5.6, Table 9; R-CSP-2). */
static void decode_csp(struct dc *c, xmlNodePtr n, struct li707_csp_data *cd)
{
	mark(c, cd, n);
	struct seq s;
	seq_init(&s, c, n, "R-CSP-2");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_707, "schemaDetails"))) {
		size_t m = path_push(c, "/schemaDetails");
		struct seq d;
		seq_init(&d, c, k, "R-CSP-2");
		xmlNodePtr e;
		if ((e = seq_take(&d, NS_707, "schemaIdentifier")))
			take_str(c, e, false, "R-CSP-2", &cd->schema_id);
		if ((e = seq_take(&d, NS_707, "schemaURL")))
			take_str(c, e, true, "R-CSP-2", &cd->schema_url);
		if ((e = seq_take(&d, NS_707, "schemaContent"))) {
			size_t m2 = path_push(c, "/schemaContent");
			check_attrs(c, e, "R-CSP-2");
			take_raw(c, e, "R-CSP-2", &cd->schema_content, false, true, true);
			path_pop(c, m2);
		}
		seq_end(&d);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_707, "xmlData"))) {
		size_t m = path_push(c, "/xmlData");
		decode_xml_data(c, k, cd);
		path_pop(c, m);
	}
	seq_end(&s);
}

/* Counts the run of {707}local at the cursor against cap; allocates it. Returns the count
 * (0 when over the cap, reported, or on ENOMEM). */
static size_t alloc_run(struct dc *c, struct seq *s, xmlNodePtr list, const char *local,
			size_t cap, size_t size, void **out, const char *req, const char *what)
{
	size_t n = seq_count(s, NS_707, local);
	*out = NULL;
	if (n > cap) {
		LIMIT(c, list, NULL, req, "%s holds more than the configured limit of %zu", what,
		      cap);
		/* skip the run without decoding it */
		while (seq_take(s, NS_707, local))
			;
		return 0;
	}
	if (!n)
		return 0;
	*out = calloc(n, size);
	if (!*out) {
		c->nomem = true;
		return 0;
	}
	return n;
}

static void decode_core(struct dc *c, xmlNodePtr n, struct li707_item *it)
{
	struct seq s;
	seq_init(&s, c, n, "R-CORE-1");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_707, "messageSender"))) {
		size_t m = path_push(c, "/messageSender");
		it->sender = calloc(1, sizeof *it->sender);
		if (!it->sender)
			c->nomem = true;
		else
			decode_party(c, k, it->sender);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_707, "messageReceivers"))) {
		size_t m = path_push(c, "/messageReceivers");
		struct seq r;
		seq_init(&r, c, k, "R-CORE-1");
		void *arr;
		size_t cnt = alloc_run(c, &r, k, "recipient", c->lim.max_identifiers,
				       sizeof *it->receivers, &arr, "R-CORE-1", "messageReceivers");
		it->receivers = arr;
		it->n_receivers = cnt;
		if (!cnt && !c->nomem && !next_elem(k->children))
			ERR(c, k, NULL, "R-CORE-1", "messageReceivers holds no recipient");
		for (size_t i = 0; i < cnt; i++) {
			xmlNodePtr e = seq_take(&r, NS_707, "recipient");
			size_t m2 = path_push(c, "/recipient[%zu]", i + 1);
			decode_party(c, e, &it->receivers[i]);
			path_pop(c, m2);
		}
		seq_end(&r);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_707, "timestamp")))
		take_str(c, k, true, "R-CORE-2", &it->timestamp);
	if ((k = seq_take(&s, NS_707, "associatedBinaryData"))) {
		size_t m = path_push(c, "/associatedBinaryData");
		struct seq r;
		seq_init(&r, c, k, "R-CORE-5");
		void *arr;
		size_t cnt = alloc_run(c, &r, k, "binaryObject", c->lim.max_attachments,
				       sizeof *it->attachments, &arr, "R-CORE-5",
				       "associatedBinaryData");
		it->attachments = arr;
		it->n_attachments = cnt;
		if (!cnt && !c->nomem && !next_elem(k->children))
			ERR(c, k, NULL, "R-CORE-5", "associatedBinaryData holds no binaryObject");
		for (size_t i = 0; i < cnt; i++) {
			xmlNodePtr e = seq_take(&r, NS_707, "binaryObject");
			size_t m2 = path_push(c, "/binaryObject[%zu]", i + 1);
			decode_binary_object(c, e, &it->attachments[i]);
			path_pop(c, m2);
		}
		seq_end(&r);
		path_pop(c, m);
	}
	seq_end(&s);
}

/* MessagingPayload content: coreParameters, glossary?, cspDefinedParameters?. */
static void decode_messaging_payload(struct dc *c, xmlNodePtr n, struct li707_item *it)
{
	struct seq s;
	seq_init(&s, c, n, "R-DEL-5");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_707, "coreParameters"))) {
		size_t m = path_push(c, "/coreParameters");
		decode_core(c, k, it);
		path_pop(c, m);
	} else {
		missing(c, n, "/coreParameters", "R-CORE-1", "coreParameters");
	}
	if ((k = seq_take(&s, NS_707, "glossary"))) {
		/* TS103707 R-CSP-1: no parameters defined; carried through byte for byte. */
		size_t m = path_push(c, "/glossary");
		check_attrs(c, k, "R-CSP-1");
		bool ok = check_no_text(c, k, "R-CSP-1");
		take_raw(c, k, "R-CSP-1", &it->glossary, true, true, ok);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_707, "cspDefinedParameters"))) {
		size_t m = path_push(c, "/cspDefinedParameters");
		struct seq r;
		seq_init(&r, c, k, "R-CSP-2");
		void *arr;
		/* No cap of its own: blocks per item share max_attachments. */
		size_t cnt = alloc_run(c, &r, k, "cspDefinedMetadata", c->lim.max_attachments,
				       sizeof *it->csp, &arr, "R-CSP-2", "cspDefinedParameters");
		it->csp = arr;
		it->n_csp = cnt;
		if (!cnt && !c->nomem && !next_elem(k->children))
			ERR(c, k, NULL, "R-CSP-2", "cspDefinedParameters holds no cspDefinedMetadata");
		for (size_t i = 0; i < cnt; i++) {
			xmlNodePtr e = seq_take(&r, NS_707, "cspDefinedMetadata");
			size_t m2 = path_push(c, "/cspDefinedMetadata[%zu]", i + 1);
			decode_csp(c, e, &it->csp[i]);
			path_pop(c, m2);
		}
		seq_end(&r);
		path_pop(c, m);
	}
	seq_end(&s);
}

/* handoverItem (clause 5.1). The path is the item's. */
static void decode_item(struct dc *c, xmlNodePtr n, struct li707_item *it)
{
	mark(c, it, n);
	struct seq s;
	seq_init(&s, c, n, "R-DEL-5");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_707, "header"))) {
		size_t m = path_push(c, "/header");
		struct seq h;
		seq_init(&h, c, k, "R-HDR-1");
		xmlNodePtr ac;
		if ((ac = seq_take(&h, NS_707, "applicationCorrelation"))) {
			/* TS103707 R-HDR-1, R-HDR-2 */
			size_t m2 = path_push(c, "/applicationCorrelation");
			struct seq a;
			seq_init(&a, c, ac, "R-HDR-1");
			xmlNodePtr e;
			bool ok_id = false, ok_seq = false;
			if ((e = seq_take(&a, NS_707, "applicationLevelID")))
				ok_id = take_uint(c, e, "R-HDR-1", &it->app_level_id);
			else
				missing(c, ac, "/applicationLevelID", "R-HDR-1",
					"applicationLevelID");
			if ((e = seq_take(&a, NS_707, "applicationSequenceNumber")))
				ok_seq = take_uint(c, e, "R-HDR-2", &it->app_seq);
			else
				missing(c, ac, "/applicationSequenceNumber", "R-HDR-2",
					"applicationSequenceNumber");
			it->has_correlation = ok_id && ok_seq;
			seq_end(&a);
			path_pop(c, m2);
		}
		seq_end(&h);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_707, "payload"))) {
		size_t m = path_push(c, "/payload");
		int t = xsi_type_is(k, NS_707, "MessagingPayload");
		/* TS103707 R-CORE-1: messaging is the only service with core parameters. */
		if (t < 0)
			WARN(c, k, NULL, "R-CORE-1",
			     "payload has no xsi:type; read as MessagingPayload (TS 103 707 V1.1.1 "
			     "peers may omit it)");
		if (t == 0)
			ERR(c, k, NULL, "R-CORE-1",
			    "payload xsi:type is not the TS 103 707 MessagingPayload");
		else
			decode_messaging_payload(c, k, it);
		path_pop(c, m);
	} else {
		missing(c, n, "/payload", "R-DEL-5", "payload");
	}
	seq_end(&s);
}

/* handoverItem or handoverItemCollection in XMLData (clause 5.2.1; R-DEL-2). */
static void decode_xmldata(struct dc *c, xmlNodePtr n, struct li707_delivery *d, size_t ai)
{
	check_attrs(c, n, "R-DEL-5");
	check_no_text(c, n, "R-DEL-5");
	xmlNodePtr root = next_elem(n->children);
	if (!root) {
		ERR(c, n, NULL, "R-DEL-5",
		    "XMLData holds no element (it shall carry a handoverItem or "
		    "handoverItemCollection)");
		return;
	}
	xmlNodePtr extra = next_elem(root->next);
	if (extra)
		ERR(c, extra, NULL, "R-DEL-2",
		    "XMLData holds more than one element (several items go in one "
		    "handoverItemCollection)");
	if (!is_ns(root, NS_707)) {
		char buf[512];
		snprintf(buf, sizeof buf, "{%.300s}%.150s",
			 root->ns && root->ns->href ? (const char *)root->ns->href : "",
			 (const char *)root->name);
		d->payload = LI707_PAYLOAD_FOREIGN_XML;
		d->foreign_root = li707__strdup(buf);
		if (!d->foreign_root)
			c->nomem = true;
		return;
	}
	if (is_el(root, NS_707, "handoverItem")) {
		d->payload = LI707_PAYLOAD_ITEM;
		d->items = calloc(1, sizeof *d->items);
		if (!d->items) {
			c->nomem = true;
			return;
		}
		d->n_items = 1;
		size_t m = path_push(c, "/handoverItem");
		decode_item(c, root, &d->items[0]);
		path_pop(c, m);
		return;
	}
	if (!is_el(root, NS_707, "handoverItemCollection")) {
		char name[112];
		disp(root, name, sizeof name);
		ERR(c, root, NULL, "R-DEL-2",
		    "XMLData root %s is not a TS 103 707 handoverItem or handoverItemCollection",
		    name);
		return;
	}
	d->payload = LI707_PAYLOAD_COLLECTION;
	size_t m = path_push(c, "/handoverItemCollection");
	struct seq s;
	seq_init(&s, c, root, "R-DEL-2");
	void *arr;
	size_t cnt = alloc_run(c, &s, root, "handoverItem", c->lim.max_items, sizeof *d->items,
			       &arr, "R-DEL-2", "handoverItemCollection");
	d->items = arr;
	d->n_items = cnt;
	for (size_t i = 0; i < cnt; i++) {
		xmlNodePtr e = seq_take(&s, NS_707, "handoverItem");
		path_set(c, LI707__PATH_XMLDATA "/handoverItemCollection/handoverItem[%zu]", ai + 1,
			 i + 1);
		decode_item(c, e, &d->items[i]);
	}
	path_set(c, LI707__PATH_XMLDATA "/handoverItemCollection", ai + 1);
	seq_end(&s);
	path_pop(c, m);
}

/* ---- DeliveryObject (TS 103 120 clause 10, TS 103 707 Tables 2, 3) ---- */

static void decode_manifest(struct dc *c, xmlNodePtr n, struct li707_delivery *d)
{
	struct seq s;
	seq_init(&s, c, n, "R-DEL-5");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_DEL, "Specification"))) {
		d->manifest = LI707_MANIFEST_SPECIFICATION;
		size_t m = path_push(c, "/delivery:Specification");
		struct seq e;
		seq_init(&e, c, k, "R-DEL-5");
		xmlNodePtr v;
		if ((v = seq_take(&e, NS_COMMON, "Owner")))
			take_str(c, v, false, "R-DEL-5", &d->manifest_owner);
		if ((v = seq_take(&e, NS_COMMON, "Name")))
			take_str(c, v, false, "R-DEL-5", &d->manifest_name);
		if ((v = seq_take(&e, NS_COMMON, "Value")))
			take_str(c, v, false, "R-DEL-5", &d->manifest_value);
		seq_end(&e);
		path_pop(c, m);
	} else if ((k = seq_take(&s, NS_DEL, "ExternalSchema"))) {
		/* Not a TS 103 707 manifest; its content (a foreign schema) is not read. */
		d->manifest = LI707_MANIFEST_EXTERNAL;
	} else {
		ERR(c, n, NULL, "R-DEL-5", "Manifest holds neither Specification nor ExternalSchema");
	}
	seq_end(&s);
}

static void decode_reference(struct dc *c, xmlNodePtr n, struct li707_delivery *d)
{
	struct seq s;
	seq_init(&s, c, n, "R-DEL-5");
	xmlNodePtr k;
	/* LIID is an xs:normalizedString, LDID an xs:string: both kept exactly. */
	if ((k = seq_take(&s, NS_DEL, "LDID"))) {
		d->ref_kind = LI707_REF_LDID;
		take_str(c, k, false, "R-DEL-5", &d->reference);
	} else if ((k = seq_take(&s, NS_DEL, "LIID"))) {
		d->ref_kind = LI707_REF_LIID;
		take_str(c, k, false, "R-DEL-5", &d->reference);
	}
	seq_end(&s);
}

/* A leaf decoded only to check its syntax (HI1Object fields li707 does not keep). */
static void check_unkept(struct dc *c, xmlNodePtr n, const char *what)
{
	char *s = leaf_text(c, n, true, "R-DEL-4");
	if (!s)
		return;
	struct li707_time t;
	uint64_t u;
	bool ok = true;
	const char *rule = "";
	if (strcmp(what, "Generation") == 0) {
		ok = li707_parse_uint(s, &u);
		rule = "a non-negative integer";
	} else if (strcmp(what, "AssociatedObject") == 0) {
		ok = li707_check_uuid(s);
		rule = "a canonical lower-case UUID";
	} else if (strcmp(what, "LastChanged") == 0) {
		ok = li707_parse_qualified_datetime(s, &t);
		rule = "a TS 103 280 QualifiedDateTime";
	}
	free(s);
	if (!ok)
		ERR(c, n, NULL, "R-DEL-4", "%s is not %s", what, rule);
}

static void decode_object(struct dc *c, xmlNodePtr n, struct li707_delivery *d, size_t ai)
{
	mark(c, d, n);
	path_set(c, LI707__PATH_OBJECT, ai + 1);
	struct seq s;
	seq_init(&s, c, n, "R-DEL-5");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_CORE, "ObjectIdentifier")))
		take_fixed(c, k, "R-DEL-1", d->object_id, sizeof d->object_id, "ObjectIdentifier");
	if ((k = seq_take(&s, NS_CORE, "CountryCode")))
		take_fixed(c, k, "R-DEL-4", d->country_code, sizeof d->country_code, "CountryCode");
	if ((k = seq_take(&s, NS_CORE, "OwnerIdentifier")))
		take_str(c, k, false, "R-DEL-4", &d->owner_id);
	if ((k = seq_take(&s, NS_CORE, "Generation"))) {
		size_t m = path_push(c, "/Generation");
		check_unkept(c, k, "Generation");
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_CORE, "ExternalIdentifier"))) {
		char *v = leaf_text(c, k, false, "R-DEL-4");
		if (v && strlen(v) > 65535) {
			size_t m = path_push(c, "/ExternalIdentifier");
			ERR(c, k, NULL, "R-DEL-4",
			    "ExternalIdentifier is longer than 65535 bytes (TS 103 280 LongString)");
			path_pop(c, m);
		}
		free(v);
	}
	if ((k = seq_take(&s, NS_CORE, "AssociatedObjects"))) {
		size_t m = path_push(c, "/AssociatedObjects");
		struct seq a;
		seq_init(&a, c, k, "R-DEL-4");
		xmlNodePtr e;
		for (size_t i = 1; (e = seq_take(&a, NS_CORE, "AssociatedObject")); i++) {
			size_t m2 = path_push(c, "/AssociatedObject[%zu]", i);
			check_unkept(c, e, "AssociatedObject");
			path_pop(c, m2);
		}
		seq_end(&a);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_CORE, "LastChanged"))) {
		size_t m = path_push(c, "/LastChanged");
		check_unkept(c, k, "LastChanged");
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_CORE, "NationalHandlingParameters")))
		/* TS103707 R-DEL-4 (Table 2) */
		ERR(c, k, "/NationalHandlingParameters", "R-DEL-4",
		    "NationalHandlingParameters shall not be used in a TS 103 707 delivery");
	if ((k = seq_take(&s, NS_DEL, "Reference"))) {
		size_t m = path_push(c, "/delivery:Reference");
		decode_reference(c, k, d);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_DEL, "DeliveryID")))
		take_fixed(c, k, "R-DEL-6", d->delivery_id, sizeof d->delivery_id, "DeliveryID");
	if ((k = seq_take(&s, NS_DEL, "SequenceNumber")))
		d->has_sequence = take_uint(c, k, "R-DEL-6", &d->sequence);
	if ((k = seq_take(&s, NS_DEL, "LastSequence"))) {
		bool b;
		if (take_bool(c, k, "R-DEL-6", &b))
			d->last_sequence = b ? LI707_TRUE : LI707_FALSE;
	}
	if ((k = seq_take(&s, NS_DEL, "Manifest"))) {
		size_t m = path_push(c, "/delivery:Manifest");
		decode_manifest(c, k, d);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_DEL, "Delivery"))) {
		size_t m = path_push(c, "/delivery:Delivery");
		struct seq p;
		seq_init(&p, c, k, "R-DEL-5");
		xmlNodePtr e;
		if ((e = seq_take(&p, NS_DEL, "XMLData"))) {
			path_set(c, LI707__PATH_XMLDATA, ai + 1);
			decode_xmldata(c, e, d, ai);
			path_set(c, LI707__PATH_OBJECT "/delivery:Delivery", ai + 1);
		} else if ((e = seq_take(&p, NS_DEL, "BinaryData"))) {
			/* Not a TS 103 707 delivery (the checker says so); content not read. */
			d->payload = LI707_PAYLOAD_BINARY;
		} else {
			ERR(c, k, NULL, "R-DEL-5", "Delivery holds neither XMLData nor BinaryData");
		}
		seq_end(&p);
		path_pop(c, m);
	}
	seq_end(&s);
}

/* ---- actions ---- */

static void decode_deliver(struct dc *c, xmlNodePtr n, struct li707_action *a, size_t ai)
{
	size_t m = path_push(c, "/DELIVER");
	struct seq s;
	seq_init(&s, c, n, "R-DEL-1");
	char ident[LI707_UUID_LEN + 1] = "";
	xmlNodePtr k, idn = NULL;
	if ((idn = seq_take(&s, NS_CORE, "Identifier")))
		take_fixed(c, idn, "R-DEL-1", ident, sizeof ident, "Identifier");
	else
		missing(c, n, "/Identifier", "R-DEL-1", "DELIVER Identifier");
	if ((k = seq_take(&s, NS_CORE, "HI1Object"))) {
		if (xsi_type_is(k, NS_DEL, "DeliveryObject") != 1) {
			/* TS103707 R-DEL-1: only DeliveryObjects are delivered. */
			report(c, LI707_SEV_ERROR, LI707_ENOTSUP, k, "/HI1Object", "R-DEL-1",
			       "HI1Object is not a delivery:DeliveryObject (xsi:type); only "
			       "deliveries are handled");
		} else {
			struct li707_delivery *d = calloc(1, sizeof *d);
			if (!d) {
				c->nomem = true;
			} else {
				d->last_sequence = LI707_ABSENT;
				d->payload = LI707_PAYLOAD_NONE;
				d->manifest = LI707_MANIFEST_NONE;
				memcpy(d->identifier, ident, sizeof ident);
				if (idn)
					mark(c, d->identifier, idn);
				a->delivery = d;
				decode_object(c, k, d, ai);
				path_set(c, LI707__PATH_ACTION "/DELIVER", ai + 1);
			}
		}
	}
	seq_end(&s);
	path_pop(c, m);
}

static const struct {
	const char *name;
	enum li707_verb verb;
} verbs[] = {
	{"GET", LI707_VERB_GET},
	{"CREATE", LI707_VERB_CREATE},
	{"UPDATE", LI707_VERB_UPDATE},
	{"LIST", LI707_VERB_LIST},
};

static void decode_action(struct dc *c, xmlNodePtr n, size_t ai)
{
	struct li707_action *a = &c->m->actions[ai];
	c->action = ai;
	path_set(c, LI707__PATH_ACTION, ai + 1);
	mark(c, a, n);
	struct seq s;
	seq_init(&s, c, n, "R-DEL-1");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_CORE, "ActionIdentifier"))) {
		take_uint(c, k, "R-DEL-1", &a->action_id);
		mark(c, &a->action_id, k);
	} else {
		missing(c, n, "/ActionIdentifier", "R-DEL-1", "ActionIdentifier");
	}
	a->verb = LI707_VERB_OTHER;
	if ((k = seq_take(&s, NS_CORE, "DELIVER"))) {
		a->verb = LI707_VERB_DELIVER;
		decode_deliver(c, k, a, ai);
	} else if ((k = seq_any(&s))) {
		/* Another verb (GET, CREATE, UPDATE, LIST or a newer one): the checker reports it
		 * as not supported (ENOTSUP); its content is not read. */
		for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
			if (is_el(k, NS_CORE, verbs[i].name))
				a->verb = verbs[i].verb;
	} else {
		ERR(c, n, NULL, "R-DEL-1", "ActionRequest holds no action (DELIVER)");
	}
	seq_end(&s);
	c->action = LI707__NO_ACTION;
}

/* Counts the run of {core}local at the cursor; ELIMIT for the whole document over cap. */
static int count_run(struct dc *c, struct seq *s, xmlNodePtr list, const char *local, size_t *n)
{
	size_t cnt = 0;
	for (xmlNodePtr k = s->cur; is_el(k, NS_CORE, local); k = next_elem(k->next))
		cnt++;
	if (cnt > c->lim.max_actions) {
		LIMIT(c, list, NULL, "R-DEL-1", "%s holds more than the configured limit of %zu",
		      (const char *)list->name, c->lim.max_actions);
		return LI707_ELIMIT;
	}
	*n = cnt;
	return 0;
}

static int decode_request(struct dc *c, xmlNodePtr n)
{
	struct li707_message *m = c->m;
	m->kind = LI707_MSG_REQUEST;
	struct seq s;
	seq_init(&s, c, n, "R-DEL-1");
	xmlNodePtr list = seq_take(&s, NS_CORE, "ActionRequests");
	if (!list) {
		missing(c, n, "/ActionRequests", "R-DEL-1", "ActionRequests");
		seq_end(&s);
		return 0;
	}
	path_set(c, "/HI1Message/Payload/RequestPayload/ActionRequests");
	mark(c, m, list);
	struct seq r;
	seq_init(&r, c, list, "R-DEL-1");
	size_t cnt = 0;
	int rc = count_run(c, &r, list, "ActionRequest", &cnt);
	if (rc)
		return rc;
	if (cnt) {
		m->actions = calloc(cnt, sizeof *m->actions);
		c->status = calloc(cnt, sizeof *c->status);
		if (!m->actions || !c->status)
			return LI707_ENOMEM;
		m->n_actions = cnt;
		c->n_status = cnt;
	}
	for (size_t i = 0; i < cnt && !c->nomem; i++)
		decode_action(c, seq_take(&r, NS_CORE, "ActionRequest"), i);
	path_set(c, "/HI1Message/Payload/RequestPayload/ActionRequests");
	seq_end(&r);
	path_set(c, "/HI1Message/Payload/RequestPayload");
	seq_end(&s);
	return 0;
}

/* ErrorInformation (ActionUnsuccesfulInformation). The path is the element's. */
static void decode_error_info(struct dc *c, xmlNodePtr n, unsigned *code, char **desc)
{
	struct seq s;
	seq_init(&s, c, n, "R-TRN-3");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_CORE, "ErrorCode"))) {
		uint64_t v;
		if (take_uint(c, k, "R-TRN-3", &v)) {
			if (v > UINT_MAX)
				ERR(c, k, "/ErrorCode", "R-TRN-3",
				    "ErrorCode is larger than li707 can hold");
			else
				*code = (unsigned)v;
		}
	} else {
		missing(c, n, "/ErrorCode", "R-TRN-3", "ErrorCode");
	}
	if ((k = seq_take(&s, NS_CORE, "ErrorDescription")))
		take_str(c, k, false, "R-TRN-3", desc);
	seq_end(&s);
}

static void decode_response(struct dc *c, xmlNodePtr n, size_t i)
{
	struct li707_action_response *r = &c->m->responses[i];
	c->action = i;
	path_set(c, PATH_RESPONSES "/ActionResponse[%zu]", i + 1);
	mark(c, r, n);
	r->verb = LI707_VERB_OTHER;
	struct seq s;
	seq_init(&s, c, n, "R-TRN-3");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_CORE, "ActionIdentifier"))) {
		take_uint(c, k, "R-TRN-3", &r->action_id);
	} else {
		missing(c, n, "/ActionIdentifier", "R-TRN-3", "ActionIdentifier");
	}
	if ((k = seq_take(&s, NS_CORE, "DELIVERResponse"))) {
		r->verb = LI707_VERB_DELIVER;
		size_t m = path_push(c, "/DELIVERResponse");
		struct seq d;
		seq_init(&d, c, k, "R-TRN-3");
		xmlNodePtr e;
		if ((e = seq_take(&d, NS_CORE, "Identifier")))
			take_fixed(c, e, "R-TRN-3", r->identifier, sizeof r->identifier,
				   "Identifier");
		seq_end(&d);
		path_pop(c, m);
	} else if ((k = seq_take(&s, NS_CORE, "ErrorInformation"))) {
		/* Which verb failed is not said; verb stays OTHER. */
		r->is_error = true;
		size_t m = path_push(c, "/ErrorInformation");
		decode_error_info(c, k, &r->error_code, &r->error_description);
		path_pop(c, m);
	} else if (!seq_any(&s)) {
		/* GETResponse and the other verbs: verb OTHER, content not read. */
		ERR(c, n, NULL, "R-TRN-3", "ActionResponse holds no response");
	}
	seq_end(&s);
	c->action = LI707__NO_ACTION;
}

static int decode_response_payload(struct dc *c, xmlNodePtr n)
{
	struct li707_message *m = c->m;
	m->kind = LI707_MSG_RESPONSE;
	struct seq s;
	seq_init(&s, c, n, "R-TRN-3");
	mark(c, m, n);
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_CORE, "ActionResponses"))) {
		path_set(c, PATH_RESPONSES);
		struct seq r;
		seq_init(&r, c, k, "R-TRN-3");
		size_t cnt = 0;
		int rc = count_run(c, &r, k, "ActionResponse", &cnt);
		if (rc)
			return rc;
		if (cnt) {
			m->responses = calloc(cnt, sizeof *m->responses);
			if (!m->responses)
				return LI707_ENOMEM;
			m->n_responses = cnt;
		}
		for (size_t i = 0; i < cnt && !c->nomem; i++)
			decode_response(c, seq_take(&r, NS_CORE, "ActionResponse"), i);
		path_set(c, PATH_RESPONSES);
		seq_end(&r);
	} else if ((k = seq_take(&s, NS_CORE, "ErrorInformation"))) {
		m->top_error = true;
		path_set(c, "/HI1Message/Payload/ResponsePayload/ErrorInformation");
		decode_error_info(c, k, &m->error_code, &m->error_description);
	} else {
		ERR(c, n, NULL, "R-TRN-3",
		    "ResponsePayload holds neither ActionResponses nor ErrorInformation");
	}
	path_set(c, "/HI1Message/Payload/ResponsePayload");
	seq_end(&s);
	return 0;
}

/* ---- header (TS 103 120 clause 6.2, TS 103 707 Table 1; R-DEL-3) ---- */

static void decode_endpoint(struct dc *c, xmlNodePtr n, char cc[3], char **id)
{
	struct seq s;
	seq_init(&s, c, n, "R-DEL-3");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_CORE, "CountryCode")))
		take_fixed(c, k, "R-DEL-3", cc, 3, "CountryCode");
	if ((k = seq_take(&s, NS_CORE, "UniqueIdentifier")))
		take_str(c, k, false, "R-DEL-3", id);
	seq_end(&s);
}

/* Missing header fields show as NULL/empty in the model: the checker reports them. */
static void decode_header(struct dc *c, xmlNodePtr n)
{
	struct li707_header *h = &c->m->header;
	path_set(c, "/HI1Message/Header");
	mark(c, h, n);
	struct seq s;
	seq_init(&s, c, n, "R-DEL-3");
	xmlNodePtr k;
	if ((k = seq_take(&s, NS_CORE, "SenderIdentifier"))) {
		size_t m = path_push(c, "/SenderIdentifier");
		decode_endpoint(c, k, h->sender_cc, &h->sender_id);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_CORE, "ReceiverIdentifier"))) {
		size_t m = path_push(c, "/ReceiverIdentifier");
		decode_endpoint(c, k, h->receiver_cc, &h->receiver_id);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_CORE, "TransactionIdentifier")))
		take_fixed(c, k, "R-DEL-3", h->transaction_id, sizeof h->transaction_id,
			   "TransactionIdentifier");
	if ((k = seq_take(&s, NS_CORE, "Timestamp")))
		take_str(c, k, true, "R-DEL-3", &h->timestamp);
	if ((k = seq_take(&s, NS_CORE, "Version"))) {
		size_t m = path_push(c, "/Version");
		struct seq v;
		seq_init(&v, c, k, "R-DEL-3");
		xmlNodePtr e;
		if ((e = seq_take(&v, NS_CORE, "ETSIVersion")))
			take_str(c, e, false, "R-DEL-3", &h->etsi_version);
		if ((e = seq_take(&v, NS_CORE, "NationalProfileOwner")))
			take_str(c, e, false, "R-DEL-3", &h->np_owner);
		if ((e = seq_take(&v, NS_CORE, "NationalProfileVersion")))
			take_str(c, e, false, "R-DEL-3", &h->np_version);
		seq_end(&v);
		path_pop(c, m);
	}
	if ((k = seq_take(&s, NS_CORE, "WorkflowIdentifier"))) {
		/* Newer TS 103 120 versions add it; li707 follows V1.12.1 and ignores it. */
		char *v = leaf_text(c, k, false, "R-DEL-3");
		free(v);
		NOTE(c, k, "/WorkflowIdentifier", "R-DEL-3",
		     "WorkflowIdentifier (newer TS 103 120) is accepted and ignored");
	}
	seq_end(&s);
}

/* ---- message ---- */

/* 0 when the envelope (HI1Message, Header, a Request- or ResponsePayload) was read, else the
 * whole-document error code. */
static int decode_message(struct dc *c, xmlNodePtr root)
{
	path_set(c, "/HI1Message");
	if (!is_el(root, NS_CORE, "HI1Message")) {
		path_set(c, "/");
		ERR(c, root, NULL, "R-DEL-1",
		    "root element is not a TS 103 120 HI1Message (namespace %s)", NS_CORE);
		return LI707_EINVALID;
	}
	struct seq s;
	seq_init(&s, c, root, "R-DEL-1");
	xmlNodePtr header = seq_take(&s, NS_CORE, "Header");
	xmlNodePtr payload = seq_take(&s, NS_CORE, "Payload");
	xmlNodePtr sig1 = seq_take(&s, NS_CORE, "Signature");
	xmlNodePtr sig2 = seq_take(&s, NS_DSIG, "Signature");
	seq_end(&s);
	if (!header || !payload) {
		if (!header)
			missing(c, root, "/Header", "R-DEL-3", "Header");
		if (!payload)
			missing(c, root, "/Payload", "R-DEL-1", "Payload");
		return LI707_EINVALID;
	}
	decode_header(c, header);

	path_set(c, "/HI1Message/Payload");
	struct seq p;
	seq_init(&p, c, payload, "R-DEL-1");
	xmlNodePtr k;
	int rc = 0;
	if ((k = seq_take(&p, NS_CORE, "RequestPayload"))) {
		path_set(c, "/HI1Message/Payload/RequestPayload");
		rc = decode_request(c, k);
	} else if ((k = seq_take(&p, NS_CORE, "ResponsePayload"))) {
		path_set(c, "/HI1Message/Payload/ResponsePayload");
		rc = decode_response_payload(c, k);
	} else {
		ERR(c, payload, NULL, "R-DEL-1",
		    "Payload holds neither RequestPayload nor ResponsePayload");
		return LI707_EINVALID;
	}
	if (rc)
		return rc;
	path_set(c, "/HI1Message/Payload");
	seq_end(&p);

	path_set(c, "/HI1Message");
	if (sig1)
		NOTE(c, sig1, "/Signature", NULL, "Signature is accepted but not verified");
	if (sig2)
		NOTE(c, sig2, "/digsig:Signature", NULL,
		     "digsig:Signature is accepted but not verified");
	return 0;
}

/* Runs the checker into a private list, so that its message-level errors (action
 * LI707__NO_ACTION: the header) can be told from action errors even when the caller wants
 * no diagnostics; then appends that list to the caller's. *msg_err: the code of the first
 * message-level error, 0 if none (the checker reports the header first, so a capped list
 * still holds it). */
static int run_checker(struct dc *c, int *ck, int *msg_err)
{
	struct li707_diags own = {0};
	int rc = li707__message_check(c->m, &c->lim, &own, c->map, ck);
	size_t stored_errors = 0;
	*msg_err = 0;
	for (size_t i = 0; i < own.n; i++) {
		const struct li707_diag *g = &own.v[i];
		if (g->severity == LI707_SEV_ERROR) {
			stored_errors++;
			if (!*msg_err && g->action == LI707__NO_ACTION)
				*msg_err = g->code ? g->code : LI707_EINVALID;
		}
		if (c->diags && li707_diags_add(c->diags, c->lim.max_diagnostics, g->severity,
						g->code, g->line, g->path, g->req, g->action, "%s",
						g->message) == LI707_ENOMEM)
			c->nomem = true;
	}
	if (c->diags) {
		c->diags->n_errors += own.n_errors - stored_errors;
		c->diags->dropped += own.dropped;
	}
	li707_diags_clear(&own);
	return rc;
}

int li707_message_decode(const char *buf, size_t len, const struct li707_limits *lim,
			 struct li707_message **out, struct li707_diags *diags)
{
	if (!out || (!buf && len))
		return LI707_EINVAL;
	*out = NULL;
	struct dc *c = calloc(1, sizeof *c);
	if (!c)
		return LI707_ENOMEM;
	if (lim)
		c->lim = *lim;
	li707_limits_resolve(&c->lim);
	c->diags = diags;
	c->action = LI707__NO_ACTION;

	struct li707__xmldoc x;
	int rc = li707__xml_parse(buf, len, &c->lim, NS_707, &x, diags);
	if (rc)
		goto free_c;
	c->x = &x;
	int *ck = NULL;
	rc = LI707_ENOMEM;
	c->m = li707_message_new();
	c->map = li707__linemap_new();
	if (!c->m || !c->map)
		goto fail;

	rc = decode_message(c, xmlDocGetRootElement(x.doc));
	if (!rc && c->nomem)
		rc = LI707_ENOMEM;
	if (rc)
		goto fail;

	struct li707_message *m = c->m;
	if (m->n_actions) {
		ck = calloc(m->n_actions, sizeof *ck);
		if (!ck) {
			rc = LI707_ENOMEM;
			goto fail;
		}
	}
	int msg_err = 0;
	int rc_ck = run_checker(c, ck, &msg_err);
	if (rc_ck == LI707_ENOMEM || c->nomem) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	if (c->first_msg)
		msg_err = c->first_msg;
	/* An action's status is its own first error: structural (found here) or the checker's.
	 * A well-formed DELIVER whose payload is not a TS 103 707 one is ENOT707 whatever else
	 * the checker found: its 707 rules (Manifest, Table 2) are consequences of that. An
	 * action without an error of its own still fails when the message as a whole does
	 * (header, envelope): a receiver answering per action never accepts it. */
	int first_action = 0;
	for (size_t i = 0; i < m->n_actions; i++) {
		const struct li707_delivery *d = m->actions[i].delivery;
		int st = c->status[i] ? c->status[i] : ck[i];
		if (!c->status[i] && d &&
		    (d->payload == LI707_PAYLOAD_FOREIGN_XML || d->payload == LI707_PAYLOAD_BINARY))
			st = LI707_ENOT707;
		if (!st)
			st = msg_err;
		m->actions[i].status = st;
		if (!first_action)
			first_action = st;
	}
	rc = msg_err ? msg_err : first_action ? first_action : rc_ck;
	*out = m;
	c->m = NULL;

fail:
	free(ck);
	li707_message_free(c->m);
	li707__linemap_free(c->map);
	li707__xml_done(&x);
free_c:
	free(c->status);
	free(c);
	return rc;
}

void li707_global_init(void)
{
	xmlInitParser();
}

void li707_global_cleanup(void)
{
	xmlCleanupParser();
}
