/* li707 - the streaming decoder's raw content: glossary, cspDefinedMetadata/xmlData and
 * schemaContent are carried byte for byte (R-CSP-1, R-CSP-2).
 *
 * DESIGN
 * UTF-8 input (the rule): nothing is built. While the raw element streams by, the decoder
 * checks its children (text among them, the namespaces of xmlData's children) and whether
 * the content is namespace-complete (every prefix used inside, xsi:type values included,
 * and the default namespace of every unprefixed element, declared inside; the namespace
 * stack says where each binding was declared). At its end:
 *   - namespace-complete: the content is the exact bytes between its tags, sliced from the
 *     input by their absolute offsets (xmlsafe.c);
 *   - not: the element's bytes are parsed again inside a wrapper that declares every
 *     namespace in scope, nearest declaration first (as xmlGetNsList lists them), so that
 *     the small tree built from them has every binding of the document, and its children
 *     are serialised with every namespace in scope declared.
 * Converted input (UTF-16, ISO-8859-x: no offsets into the caller's bytes): the subtree is
 * built as it streams, with libxml2's own SAX2 tree builder under that wrapper, and the same
 * checks run on the tree.
 * docs/internals/decode.md. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "decode.h"

/* ---- raw content ---- */

/* The namespaces in scope at the raw element's parent as prefix/URI pairs, nearest
 * declaration first and each prefix once (the order xmlGetNsList gives). *n: pairs. */
static const xmlChar **in_scope(struct dc *c, size_t *n)
{
	size_t below = c->nsmark[c->depth - 1]; /* entries of the raw element's ancestors */
	const xmlChar **w = NULL;
	size_t nw = 0;
	*n = 0;
	if (below) {
		w = malloc(2 * below * sizeof *w);
		if (!w) {
			*n = 1; /* ENOMEM */
			return NULL;
		}
	}
	for (size_t d = c->depth - 1; d-- > 0;) {
		size_t from = c->nsmark[d], to = c->nsmark[d + 1];
		for (size_t i = from; i < to; i++) {
			bool dup = false;
			for (size_t k = 0; k < nw && !dup; k++)
				dup = xmlStrEqual(w[2 * k], c->ns[i].prefix);
			if (dup)
				continue;
			w[2 * nw] = c->ns[i].prefix;
			w[2 * nw + 1] = c->ns[i].uri;
			nw++;
		}
	}
	*n = nw;
	return w;
}

/* A raw element starts. UTF-8 input: streaming. Converted input: the small tree starts, a
 * wrapper declaring every namespace in scope at the parent, then the element. */
void li707__dec_raw_begin(struct dc *c, int which, char **dst, long line, const xmlChar *local,
			  const xmlChar *prefix, const xmlChar *uri, int nb_ns, const xmlChar **ns,
			  int nb_attrs, const xmlChar **attrs)
{
	struct rawst *r = &c->raw;
	xmlParserCtxtPtr ctxt = c->ctxt;
	memset(r, 0, sizeof *r);
	r->active = true;
	r->depth = 1;
	r->node_nr = ctxt->nodeNr;
	r->which = which;
	r->dst = dst;
	r->line = line;
	r->start_ok = li707__sax_tag_start(ctxt, &r->start);
	size_t pos = 0, cap = c->lim.max_raw_xml_bytes;
	(void)li707__sax_pos(ctxt, &pos);
	/* Serialising never makes content more than a few times shorter than its source: far
	 * beyond the cap, stop building (the content is over the cap, reported as such). */
	size_t slack = cap > (SIZE_MAX - 65536) / 4 ? SIZE_MAX / 2 : cap * 4 + 65536;
	r->limit = pos > SIZE_MAX - slack ? SIZE_MAX : pos + slack;
	r->local = local;
	r->prefix = prefix;
	r->uri = uri;
	r->inside_from = c->n_ns; /* the raw element's own declarations are below */
	r->contained = true;
	r->dmark = c->own.n;
	r->dom = !r->start_ok;
	if (!r->dom)
		return;

	size_t nw = 0;
	const xmlChar **w = in_scope(c, &nw);
	if (!w && nw)
		goto nomem;
	r->doc = xmlNewDoc(BAD_CAST "1.0");
	if (!r->doc) {
		free(w);
		goto nomem;
	}
	if (ctxt->dict) {
		r->doc->dict = ctxt->dict;
		xmlDictReference(ctxt->dict);
	}
	const xmlChar *wname = ctxt->dict ? xmlDictLookup(ctxt->dict, BAD_CAST "w", 1)
					  : xmlStrdup(BAD_CAST "w");
	ctxt->myDoc = r->doc;
	ctxt->node = NULL;
	xmlSAX2StartElementNs(ctxt, wname, NULL, NULL, (int)nw, w, 0, 0, NULL);
	xmlSAX2StartElementNs(ctxt, local, prefix, uri, nb_ns, ns, nb_attrs, 0, attrs);
	r->node = ctxt->node;
	ctxt->myDoc = NULL;
	ctxt->node = NULL;
	free(w);
	if (!r->node || !r->node->parent) {
		xmlFreeDoc(r->doc);
		r->doc = NULL;
		ctxt->nodeNr = r->node_nr;
		goto nomem;
	}
	return;
nomem:
	c->nomem = true;
	r->over = true; /* nothing is built; the subtree is skipped */
	li707__dec_fatal(c, LI707_ENOMEM);
}

static bool raw_building(struct dc *c)
{
	struct rawst *r = &c->raw;
	if (r->over || !r->doc)
		return false;
	size_t pos = 0;
	(void)li707__sax_pos(c->ctxt, &pos);
	if (pos > r->limit) {
		r->over = true;
		return false;
	}
	c->ctxt->myDoc = r->doc;
	c->ctxt->node = r->node;
	return true;
}

static void raw_built(struct dc *c)
{
	c->raw.node = c->ctxt->node;
	c->ctxt->myDoc = NULL;
	c->ctxt->node = NULL;
}

static bool dom_all_space(const xmlChar *t)
{
	for (; t && *t; t++)
		if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r')
			return false;
	return true;
}

/* Non-whitespace text in element-only content (reported; false when found). */
static bool dom_no_text(struct dc *c, const xmlNode *n, const char *req)
{
	for (const xmlNode *k = n->children; k; k = k->next)
		if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) &&
		    !dom_all_space(k->content)) {
			ERR(c, xmlGetLineNo(k), NULL, req,
			    "text is not allowed here (element-only content)");
			return false;
		}
	return true;
}

static void dom_disp(struct dc *c, const xmlNode *n, char *out, size_t cap)
{
	const xmlChar *uri = n->ns ? n->ns->href : NULL;
	/* the mini tree's hrefs are copies: compare by content */
	const char *pfx = NULL;
	if (!uri || xmlStrEqual(uri, BAD_CAST LI707_NS_CORE) || xmlStrEqual(uri, BAD_CAST LI707_NS_707))
		pfx = NULL;
	else if (xmlStrEqual(uri, BAD_CAST LI707_NS_DELIVERY))
		pfx = "delivery";
	else if (xmlStrEqual(uri, BAD_CAST LI707_NS_COMMON))
		pfx = "common";
	else if (xmlStrEqual(uri, BAD_CAST NS_DSIG))
		pfx = "digsig";
	else if (n->ns->prefix)
		pfx = (const char *)n->ns->prefix;
	(void)c;
	snprintf(out, cap, "%.40s%s%.64s", pfx ? pfx : "", pfx ? ":" : "", (const char *)n->name);
}

/* li707__xml_check_fragment's ##other rule on content already known to be well-formed and
 * namespace-complete (a slice of this document): 0 or LI707_EINVALID. */
static int other_ns_rule(const xmlNode *elem)
{
	size_t n_elems = 0;
	for (const xmlNode *k = elem->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			n_elems++;
			if (!k->ns || !k->ns->href || !*k->ns->href ||
			    xmlStrEqual(k->ns->href, BAD_CAST LI707_NS_707))
				return LI707_EINVALID;
		} else if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) &&
			   !dom_all_space(k->content)) {
			return LI707_EINVALID;
		}
	}
	return n_elems ? 0 : LI707_EINVALID;
}

/* Raw content into *dst: what the encoder accepts back. */
static void take_raw(struct dc *c, xmlNodePtr n, size_t end, const char *req, char **dst,
		     bool other_ns, bool may_be_empty, bool check)
{
	struct rawst *r = &c->raw;
	char *s = NULL;
	bool sliced = false;
	int rc = li707__xml_raw_content_span(c->buf, c->len, r->start_ok ? r->start : 0, end, n,
					     c->lim.max_raw_xml_bytes, &s, &sliced);
	if (rc == LI707_ELIMIT) {
		LIMIT(c, r->line, NULL, req, "content exceeds the configured limit of %zu bytes",
		      c->lim.max_raw_xml_bytes);
		return;
	}
	if (rc) {
		c->nomem = true;
		return;
	}
	size_t len = strlen(s);
	if (check && !(may_be_empty && len == strspn(s, " \t\r\n"))) {
		/* A namespace-complete slice of a well-formed document is a well-formed,
		 * namespace-complete fragment: only the ##other rule is left to check. A
		 * serialisation is checked in full, as before. */
		if (sliced)
			rc = other_ns ? other_ns_rule(n) : 0;
		else
			rc = li707__xml_check_fragment(s, len, &c->lim, other_ns);
		if (rc == LI707_ENOMEM) {
			c->nomem = true;
		} else if (rc == LI707_ELIMIT) {
			LIMIT(c, r->line, NULL, req,
			      "content is nested deeper than the configured limit");
		} else if (rc) {
			char name[112];
			dom_disp(c, n, name, sizeof name);
			if (other_ns)
				ERR(c, r->line, NULL, req,
				    "%s content is not a fragment of elements in declared namespaces "
				    "other than TS 103 707's",
				    name);
			else
				ERR(c, r->line, NULL, req,
				    "%s content uses a namespace prefix (xsi:type included) that is "
				    "not declared",
				    name);
		}
	}
	free(*dst);
	*dst = s;
	li707__dec_mark(c, s, r->line);
}

/* The raw element ended: the checks on its children, then the content. */
static void raw_finish(struct dc *c)
{
	struct rawst *r = &c->raw;
	size_t end = 0;
	if (!li707__sax_pos(c->ctxt, &end))
		end = 0;
	static const char *const reqs[] = {"R-CSP-1", "R-CSP-2", "R-CSP-2"};
	const char *req = reqs[r->which];
	if (r->over) {
		if (!c->nomem)
			LIMIT(c, r->line, NULL, req,
			      "content exceeds the configured limit of %zu bytes",
			      c->lim.max_raw_xml_bytes);
		goto done;
	}
	xmlNodePtr w = xmlDocGetRootElement(r->doc);
	xmlNodePtr n = w ? w->children : NULL;
	while (n && n->type != XML_ELEMENT_NODE)
		n = n->next;
	if (!n) {
		c->nomem = true;
		goto done;
	}
	if (r->which == 0) { /* glossary: TS103707 R-CSP-1, carried byte for byte */
		bool ok = dom_no_text(c, n, req);
		take_raw(c, n, end, req, r->dst, true, true, ok);
	} else if (r->which == 1) { /* xmlData: the CSP's own XML (R-CSP-2) */
		bool ok = dom_no_text(c, n, req);
		size_t count = 0;
		for (xmlNodePtr k = n->children; k; k = k->next) {
			if (k->type != XML_ELEMENT_NODE)
				continue;
			count++;
			if (!k->ns || !k->ns->href || !*k->ns->href ||
			    xmlStrEqual(k->ns->href, BAD_CAST LI707_NS_707)) {
				ok = false;
				char name[112];
				dom_disp(c, k, name, sizeof name);
				ERR(c, xmlGetLineNo(k), NULL, req,
				    "element %s in xmlData is not in a namespace of the CSP's own "
				    "schema (neither TS 103 707 nor none)",
				    name);
			}
		}
		if (!count) {
			ERR(c, r->line, NULL, req, "xmlData holds no element");
			ok = false;
		}
		take_raw(c, n, end, req, r->dst, true, false, ok);
	} else { /* schemaContent */
		take_raw(c, n, end, req, r->dst, false, true, true);
	}
done:
	/* libxml2's node stack back to where it was (the wrapper, and whatever a build that
	 * went over the cap left open), so that it never grows across raw elements. */
	if (c->ctxt->nodeNr > r->node_nr)
		c->ctxt->nodeNr = r->node_nr;
	c->ctxt->node = NULL;
	xmlFreeDoc(r->doc);
	r->doc = NULL;
	r->active = false;
}


/* ---- streaming (UTF-8 input) ---- */

/* A use of prefix (NULL: the default namespace) is declared inside the raw element: bound by
 * a declaration below it, i.e. at or after inside_from on the namespace stack. The xml
 * prefix is always bound. */
static bool declared_inside(const struct dc *c, const xmlChar *prefix, size_t len)
{
	if (prefix && len == 3 && memcmp(prefix, "xml", 3) == 0)
		return true;
	for (size_t i = c->n_ns; i-- > 0;) {
		const xmlChar *p = c->ns[i].prefix;
		if (!prefix ? !p
			    : (p && strlen((const char *)p) == len && memcmp(p, prefix, len) == 0))
			return i >= c->raw.inside_from;
	}
	return false;
}

/* What xmlsafe.c's element_self_contained checks on a tree, for the element being started. */
static bool uses_declared(const struct dc *c, const xmlChar *prefix, int nb_attrs,
			  const xmlChar **attrs)
{
	if (!declared_inside(c, prefix, prefix ? strlen((const char *)prefix) : 0))
		return false;
	for (int i = 0; i < nb_attrs; i++) {
		const xmlChar **a = attrs + 5 * i;
		if (a[1] && !declared_inside(c, a[1], strlen((const char *)a[1])))
			return false;
		if (!a[2] || !li707__dec_uri_is(c, a[2], U_XSI) ||
		    strcmp((const char *)a[0], "type") != 0)
			continue;
		/* xsi:type: the prefix of its QName value (qname_prefix: leading whitespace
		 * skipped, up to the first ':'; none, or a longer one, means unprefixed) */
		const xmlChar *v = a[3], *e = a[4];
		while (v < e && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'))
			v++;
		const xmlChar *colon = memchr(v, ':', (size_t)(e - v));
		if (colon && (size_t)(colon - v) < 256) {
			if (!declared_inside(c, v, (size_t)(colon - v)))
				return false;
		} else if (!declared_inside(c, NULL, 0)) {
			return false;
		}
	}
	return true;
}

static const char *raw_req(const struct rawst *r)
{
	return r->which == 0 ? "R-CSP-1" : "R-CSP-2";
}

void li707__dec_raw_start(struct dc *c, const xmlChar *local, const xmlChar *prefix,
			  const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb_attrs,
			  const xmlChar **attrs)
{
	struct rawst *r = &c->raw;
	if (r->dom) {
		r->depth++;
		if (raw_building(c)) {
			xmlSAX2StartElementNs(c->ctxt, local, prefix, uri, nb_ns, ns, nb_attrs, 0,
					      attrs);
			raw_built(c);
		}
		return;
	}
	if (r->depth == 1) { /* a child of the raw element */
		long line = li707__dec_line_now(c->ctxt);
		r->n_elems++;
		r->prev_line = line;
		r->in_text = false;
		if (!uri || !*uri || li707__dec_uri_is(c, uri, U_707)) {
			r->other_bad = true;
			if (r->which == 1) {
				char name[112];
				li707__dec_disp(c, local, prefix, uri, name, sizeof name);
				r->bad_elem = true;
				ERR(c, line, NULL, "R-CSP-2",
				    "element %s in xmlData is not in a namespace of the CSP's own "
				    "schema (neither TS 103 707 nor none)",
				    name);
			}
		}
	}
	if (r->contained && !uses_declared(c, prefix, nb_attrs, attrs))
		r->contained = false;
	r->depth++;
}

void li707__dec_raw_text(struct dc *c, const xmlChar *s, int len, bool cdata)
{
	struct rawst *r = &c->raw;
	if (r->dom) {
		if (raw_building(c)) {
			if (cdata)
				xmlSAX2CDataBlock(c->ctxt, s, len);
			else
				xmlSAX2Characters(c->ctxt, s, len);
			raw_built(c);
		}
		return;
	}
	if (r->depth != 1)
		return;
	r->n_nodes++;
	/* the line of a finding about it (see the frames' text in decode.c) */
	long line;
	if (cdata) {
		line = r->prev_line ? r->prev_line : r->line;
		r->in_text = false;
	} else {
		if (!r->in_text) {
			r->in_text = true;
			r->text_line = li707__dec_line_now(c->ctxt);
		}
		line = r->prev_line = r->text_line;
	}
	if (li707__dec_all_space_n(s, len))
		return;
	r->other_bad = true;
	if (r->which != 2 && !r->text_seen) {
		r->text_seen = true;
		c->ins_raw = true; /* found before xmlData's elements were looked at */
		ERR(c, line, NULL, raw_req(r), "text is not allowed here (element-only content)");
		c->ins_raw = false;
	}
}

void li707__dec_raw_other(struct dc *c, const xmlChar *v, const xmlChar *target,
			  const xmlChar *data)
{
	struct rawst *r = &c->raw;
	if (r->dom) {
		if (raw_building(c)) {
			if (v)
				xmlSAX2Comment(c->ctxt, v);
			else
				xmlSAX2ProcessingInstruction(c->ctxt, target, data);
			raw_built(c);
		}
		return;
	}
	if (r->depth != 1)
		return;
	r->n_nodes++;
	r->in_text = false;
	r->prev_line = li707__dec_line_now(c->ctxt);
}

/* put's output: escaping makes a byte at most 6 ("&quot;"), and no document li707 reads is
 * over 1 GiB (li707-lea's max_message_bytes bound). */
#define RAW_ESCAPED_MAX ((size_t)6 << 30)

/* Appends s to b (grown), escaped for an attribute value when esc. */
static bool put(char **b, size_t *n, size_t *cap, const char *s, size_t len, bool esc)
{
	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;
		if (esc)
			switch (s[i]) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '"': rep = "&quot;"; break;
			case '\t': rep = "&#9;"; break;
			case '\n': rep = "&#10;"; break;
			case '\r': rep = "&#13;"; break;
			default: break;
			}
		size_t k = rep ? strlen(rep) : 1;
		/* the escaped text of a raw element is at most 6 times its bytes (&quot;) */
		if (*n + k + 1 > *cap && li707_array_grow((void **)b, cap, *n + k + 1, 1, RAW_ESCAPED_MAX))
			return false;
		memcpy(*b + *n, rep ? rep : s + i, k);
		*n += k;
	}
	return true;
}

/* The tree of the raw element at [start, end): its bytes parsed again inside a wrapper that
 * declares the namespaces in scope. NULL on ENOMEM (or if the
 * bytes do not parse, which they always do: they are part of a well-formed document). */
static xmlDocPtr reparse(struct dc *c, size_t start, size_t end)
{
	size_t nw = 0;
	const xmlChar **w = in_scope(c, &nw);
	if (!w && nw)
		return NULL;
	char *b = NULL;
	size_t n = 0, cap = 0;
	bool ok = put(&b, &n, &cap, "<w", 2, false);
	for (size_t i = 0; ok && i < nw; i++) {
		const char *p = (const char *)w[2 * i], *u = (const char *)w[2 * i + 1];
		ok = put(&b, &n, &cap, p ? " xmlns:" : " xmlns", p ? 7 : 6, false) &&
		     (!p || put(&b, &n, &cap, p, strlen(p), false)) &&
		     put(&b, &n, &cap, "=\"", 2, false) &&
		     put(&b, &n, &cap, u ? u : "", u ? strlen(u) : 0, true) &&
		     put(&b, &n, &cap, "\"", 1, false);
	}
	ok = ok && put(&b, &n, &cap, ">", 1, false) &&
	     put(&b, &n, &cap, c->buf + start, end - start, false) &&
	     put(&b, &n, &cap, "</w>", 4, false);
	free(w);
	xmlDocPtr doc = NULL;
	if (ok) {
		struct li707_limits plim = c->lim;
		plim.max_document_bytes = n;
		plim.max_depth = c->lim.max_depth < UINT_MAX ? c->lim.max_depth + 1 : UINT_MAX;
		struct li707__xmldoc x;
		if (li707__xml_parse(b, n, &plim, NULL, &x, NULL) == 0) {
			doc = x.doc; /* the tree does not point into b */
			x.doc = NULL;
			li707__xml_done(&x);
		}
	}
	free(b);
	return doc;
}

/* The raw element ended (streaming): its content, then the checks on it. */
static void raw_finish_streamed(struct dc *c)
{
	struct rawst *r = &c->raw;
	const char *req = raw_req(r);
	size_t end = 0;
	bool end_ok = li707__sax_pos(c->ctxt, &end);
	if (r->which == 1 && !r->n_elems)
		ERR(c, r->line, NULL, req, "xmlData holds no element");
	bool ok = r->which == 2 || (!r->text_seen && (r->which == 0 || (!r->bad_elem && r->n_elems)));
	if (end_ok && end > r->limit) {
		LIMIT(c, r->line, NULL, req, "content exceeds the configured limit of %zu bytes",
		      c->lim.max_raw_xml_bytes);
		return;
	}
	char *s = NULL;
	int rc = LI707_EXML;
	if (!r->n_elems && !r->n_nodes) {
		s = li707__strdup("");
		rc = s ? 0 : LI707_ENOMEM;
	} else if (r->contained && end_ok) {
		rc = li707__xml_slice_content(c->buf, c->len, r->start, end,
					      c->lim.max_raw_xml_bytes, &s);
	}
	if (rc == LI707_ELIMIT) {
		LIMIT(c, r->line, NULL, req, "content exceeds the configured limit of %zu bytes",
		      c->lim.max_raw_xml_bytes);
		return;
	}
	if (rc == LI707_ENOMEM) {
		c->nomem = true;
		return;
	}
	if (rc == 0) { /* the exact bytes, namespace-complete: only the ##other rule is left */
		size_t len = strlen(s);
		bool empty = len == strspn(s, " \t\r\n");
		if (ok && !(r->which != 1 && empty) && r->which != 2 &&
		    (r->other_bad || !r->n_elems)) {
			char name[112];
			li707__dec_disp(c, r->local, r->prefix, r->uri, name, sizeof name);
			ERR(c, r->line, NULL, req,
			    "%s content is not a fragment of elements in declared namespaces "
			    "other than TS 103 707's",
			    name);
		}
		free(*r->dst);
		*r->dst = s;
		li707__dec_mark(c, s, r->line);
		return;
	}
	/* Not namespace-complete: serialised from the reparsed tree. */
	xmlDocPtr doc = end_ok ? reparse(c, r->start, end) : NULL;
	xmlNodePtr w = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNodePtr n = w ? w->children : NULL;
	while (n && n->type != XML_ELEMENT_NODE)
		n = n->next;
	if (!n)
		c->nomem = true;
	else
		take_raw(c, n, 0, req, r->dst, r->which != 2, r->which != 1, ok);
	xmlFreeDoc(doc);
}

bool li707__dec_raw_end(struct dc *c, const xmlChar *local, const xmlChar *prefix,
			const xmlChar *uri)
{
	struct rawst *r = &c->raw;
	if (r->dom) {
		bool build = raw_building(c);
		if (build) {
			xmlSAX2EndElementNs(c->ctxt, local, prefix, uri);
			raw_built(c);
		}
		if (--r->depth)
			return false;
		raw_finish(c);
		return true;
	}
	if (--r->depth)
		return false;
	raw_finish_streamed(c);
	r->active = false;
	return true;
}
