/* li707 - the one hardened libxml2 entry point for outside input.
 *
 * DESIGN
 * Every byte that comes from a peer is parsed here, with these rules:
 *   - no network (XML_PARSE_NONET), no entity substitution, no DTD loading, no DTD
 *     attribute defaults, no XInclude;
 *   - any DOCTYPE is refused: the internalSubset/externalSubset SAX callbacks (and every
 *     declaration callback, belt and braces) record an error and stop the parser, so no
 *     entity can ever be declared (no XXE, no "billion laughs", no parameter entities);
 *   - the document size, and the attributes and namespace declarations of each start tag,
 *     are capped before parsing (a linear pre-scan of the bytes, see prescan_tags), the
 *     element depth while parsing;
 *   - libxml2's errors are collected per parser context (ctxt->sax->serror); the few it
 *     raises without a context (encoding conversion) are caught by a per-thread handler
 *     installed for the duration of the parse, so nothing is ever printed and parsing is
 *     thread-safe after xmlInitParser().
 *
 * Two entry points share those rules (install_hardening, precheck, read_memory):
 *   - li707__xml_sax_parse streams: the caller's callbacks get the SAX2 events and no
 *     document is built (the decoder). It runs on a parser context kept per thread and
 *     reset between documents, which saves most of the set-up of a small parse; the
 *     context's dictionary, which keeps every name and namespace URI ever seen, is bounded:
 *     past DICT_MAX names the context is replaced. li707__xml_check_fragment uses the same
 *     cached context (its document is freed before it returns);
 *   - li707__xml_parse builds a DOM (schema validation) on a context of its own, since its
 *     document may outlive the call and move between threads.
 *
 * Raw content. TS 103 707 carries foreign XML (glossary, cspDefinedMetadata/xmlData,
 * schemaContent) that must reach the application byte for byte. The SAX wrappers record the
 * absolute byte offsets of every element whose parent is in a chosen namespace (the streaming
 * decoder asks for them, li707__sax_tag_start / li707__sax_pos, when a raw element starts
 * and ends):
 *   start: when startElementNs is called, input->cur points at the '>' or "/>" that ends
 *          the start tag, and a '<' cannot occur inside a start tag, so scanning back to the
 *          nearest '<' finds the tag's first byte; its absolute offset is
 *          input->consumed + (position - input->base) ('consumed' counts what libxml2
 *          discarded when it shrank its buffer, which it does on inputs over 64 KiB);
 *   end:   when endElementNs is called, input->cur is just past the closing '>'.
 * Each recorded start tag is compared with the caller's bytes at the computed offset; any
 * mismatch, and any encoding conversion (UTF-16, ISO-8859-x: libxml2 then parses converted
 * bytes), marks the offsets unusable and raw content falls back to serialisation.
 * The offsets are stored in an array; an element's slot index + 1 is kept in its _private
 * pointer (libxml2 never uses _private of nodes it builds).
 *
 * A raw slice is only returned when it is namespace-complete and context-free: every
 * prefix used by an element, attribute or xsi:type value inside it is declared inside it,
 * and so is the default namespace (possibly xmlns="") of every unprefixed element. Such
 * bytes mean the same wherever they are written (an encoder puts them inside an element of
 * the TS 103 707 default namespace). Otherwise the children are copied into a fresh
 * document with every namespace in scope declared (xmlns="" when no default is in scope),
 * and serialised. */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/SAX2.h>
#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/globals.h>
#include <libxml/xmlerror.h>

#include "internal.h"

struct span {
	size_t start; /* offset of the start tag's '<' */
	size_t end;   /* offset just past the end tag's '>' (0 = not seen) */
};

struct li707__offsets {
	struct span *v;
	size_t n, cap;
};

/* Per-parse state, reached from the parser context's _private. */
struct pstate {
	xmlParserCtxtPtr ctxt;
	const struct li707_limits *lim;
	struct li707_diags *diags;
	const char *record_ns;
	const char *buf;
	size_t len;
	struct li707__offsets *offs;
	unsigned depth;
	int err;          /* first error code */
	bool stopped;     /* we stopped the parser: later libxml2 errors are consequences */
	bool offsets_bad; /* some offset could not be verified */
	bool ctxfree_seen; /* a context-free error was recorded (one is enough) */
	startElementNsSAX2Func sax_start;
	endElementNsSAX2Func sax_end;
	const struct li707__sax_handler *h; /* streaming parse: the caller's callbacks */
	void *uctx;
	bool user_stop;   /* the caller stopped the parse (li707__sax_halt) */
};

static const char xsi_ns[] = LI707_NS_XSI;

/* ---- diagnostics ---- */

/* Copies a libxml2 message into out: first line only (libxml2 appends input bytes on a
 * second line for encoding errors), controls and non-ASCII replaced, so that no input
 * content ends up in a diagnostic. */
static void sanitise(const char *msg, char *out, size_t cap)
{
	size_t i = 0;
	if (msg)
		for (; msg[i] && msg[i] != '\n' && i + 1 < cap; i++) {
			unsigned char ch = (unsigned char)msg[i];
			out[i] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
		}
	out[i] = '\0';
}

static void add_diag(struct pstate *s, enum li707_severity sev, int code, long line,
		     const char *msg)
{
	if (!s->diags)
		return;
	/* A failed append (ENOMEM) loses only the diagnostic; the parse result stands. */
	(void)li707_diags_add(s->diags, s->lim->max_diagnostics, sev, code, line, NULL, NULL,
			      LI707__NO_ACTION, "%s", msg);
}

static long cur_line(xmlParserCtxtPtr ctxt)
{
	return ctxt->input ? (long)ctxt->input->line : 0;
}

static void stop(struct pstate *s, int code, const char *msg)
{
	if (s->stopped)
		return;
	if (!s->err)
		s->err = code;
	add_diag(s, LI707_SEV_ERROR, code, cur_line(s->ctxt), msg);
	s->stopped = true;
	xmlStopParser(s->ctxt);
}

static void on_serror(void *ud, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt ? ctxt->_private : NULL;
	if (!s || !e || s->stopped)
		return;
	char text[256], msg[300];
	sanitise(e->message, text, sizeof text);
	if (e->level == XML_ERR_WARNING) {
		snprintf(msg, sizeof msg, "XML: %s", text);
		add_diag(s, LI707_SEV_WARNING, 0, e->line, msg);
		return;
	}
	if (!s->err)
		s->err = LI707_EXML;
	snprintf(msg, sizeof msg, "%s: %s",
		 e->domain == XML_FROM_NAMESPACE ? "XML namespace error" : "XML not well-formed",
		 text);
	add_diag(s, LI707_SEV_ERROR, LI707_EXML, e->line, msg);
}

/* Errors libxml2 raises without a parser context (encoding conversion, I18N): they would go
 * to the thread's global handlers, which print to stderr by default. Their text quotes input
 * bytes, so a fixed message is recorded instead. */
static void on_context_free_error(void *ud, xmlErrorPtr e)
{
	struct pstate *s = ud;
	if (!s || !e || s->stopped || e->level == XML_ERR_WARNING || s->ctxfree_seen)
		return;
	s->ctxfree_seen = true;
	if (!s->err)
		s->err = LI707_EXML;
	add_diag(s, LI707_SEV_ERROR, LI707_EXML, s->ctxt ? cur_line(s->ctxt) : 0,
		 e->domain == XML_FROM_I18N
			 ? "XML not well-formed: the input does not match its declared encoding"
			 : "XML not well-formed");
}

/* The non-structured channels must not print either; everything arrives via serror. */
static void on_quiet(void *ud, const char *msg, ...)
{
	(void)ud;
	(void)msg;
}

/* ---- DTD refusal ---- */

static struct pstate *state_of(void *ud)
{
	xmlParserCtxtPtr ctxt = ud;
	return ctxt ? ctxt->_private : NULL;
}

static void refuse_dtd(void *ud)
{
	struct pstate *s = state_of(ud);
	if (s)
		stop(s, LI707_EXML, "a DOCTYPE is not allowed (no DTD, no entity declarations)");
}

static void on_subset(void *ud, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
	(void)name;
	(void)eid;
	(void)sid;
	refuse_dtd(ud);
}

static void on_entity_decl(void *ud, const xmlChar *name, int type, const xmlChar *pid,
			   const xmlChar *sid, xmlChar *content)
{
	(void)name;
	(void)type;
	(void)pid;
	(void)sid;
	(void)content;
	refuse_dtd(ud);
}

static void on_notation_decl(void *ud, const xmlChar *name, const xmlChar *pid,
			     const xmlChar *sid)
{
	(void)name;
	(void)pid;
	(void)sid;
	refuse_dtd(ud);
}

static void on_attribute_decl(void *ud, const xmlChar *elem, const xmlChar *fullname, int type,
			      int def, const xmlChar *defaultValue, xmlEnumerationPtr tree)
{
	(void)elem;
	(void)fullname;
	(void)type;
	(void)def;
	(void)defaultValue;
	refuse_dtd(ud);
	xmlFreeEnumeration(tree); /* the callback owns it */
}

static void on_element_decl(void *ud, const xmlChar *name, int type, xmlElementContentPtr content)
{
	(void)name;
	(void)type;
	(void)content;
	refuse_dtd(ud);
}

static void on_unparsed_decl(void *ud, const xmlChar *name, const xmlChar *pid,
			     const xmlChar *sid, const xmlChar *notation)
{
	(void)name;
	(void)pid;
	(void)sid;
	(void)notation;
	refuse_dtd(ud);
}

/* Only the five predefined entities exist. */
static xmlEntityPtr on_get_entity(void *ud, const xmlChar *name)
{
	(void)ud;
	return xmlGetPredefinedEntity(name);
}

static xmlEntityPtr on_get_pentity(void *ud, const xmlChar *name)
{
	(void)name;
	refuse_dtd(ud);
	return NULL;
}

static xmlParserInputPtr on_resolve_entity(void *ud, const xmlChar *pid, const xmlChar *sid)
{
	(void)pid;
	(void)sid;
	refuse_dtd(ud);
	return NULL;
}

/* ---- element callbacks: depth cap and offsets ---- */

/* max: the most elements a document of that many bytes can hold ("<a/>" is 4 bytes). */
static bool offs_push(struct li707__offsets *o, size_t start, size_t max, size_t *idx)
{
	if (li707_array_grow((void **)&o->v, &o->cap, o->n + 1, sizeof *o->v, max))
		return false;
	o->v[o->n].start = start;
	o->v[o->n].end = 0;
	*idx = o->n++;
	return true;
}

static bool input_is_plain(xmlParserCtxtPtr ctxt)
{
	xmlParserInputPtr in = ctxt->input;
	return in && in->buf && !in->buf->encoder && ctxt->inputNr == 1 && in->base && in->cur &&
	       in->cur >= in->base;
}

/* Absolute offset of the '<' of the start tag being reported, verified against the
 * caller's bytes. */
static bool locate_start_in(xmlParserCtxtPtr ctxt, const char *buf, size_t len, size_t *out)
{
	if (!input_is_plain(ctxt))
		return false;
	xmlParserInputPtr in = ctxt->input;
	const xmlChar *q = in->cur;
	while (q > in->base && *q != '<')
		q--;
	if (*q != '<')
		return false;
	size_t abs = (size_t)in->consumed + (size_t)(q - in->base);
	size_t taglen = (size_t)(in->cur - q);
	if (abs >= len || taglen > len - abs || memcmp(buf + abs, q, taglen) != 0)
		return false;
	*out = abs;
	return true;
}

static bool locate_start(struct pstate *s, size_t *out)
{
	return locate_start_in(s->ctxt, s->buf, s->len, out);
}

static void on_start(void *ud, const xmlChar *localname, const xmlChar *prefix,
		     const xmlChar *uri, int nb_ns, const xmlChar **namespaces, int nb_attrs,
		     int nb_defaulted, const xmlChar **attrs)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt->_private;
	if (s->stopped)
		return;
	if (++s->depth > s->lim->max_depth) {
		char msg[96];
		snprintf(msg, sizeof msg, "elements nested deeper than %u", s->lim->max_depth);
		stop(s, LI707_ELIMIT, msg);
		return;
	}
	xmlNodePtr parent = ctxt->node;
	bool rec = s->offs && !s->offsets_bad && parent && parent->type == XML_ELEMENT_NODE &&
		   parent->ns && xmlStrEqual(parent->ns->href, BAD_CAST s->record_ns);
	size_t start = 0;
	if (rec && !locate_start(s, &start)) {
		s->offsets_bad = true;
		rec = false;
	}
	s->sax_start(ud, localname, prefix, uri, nb_ns, namespaces, nb_attrs, nb_defaulted,
		     attrs);
	xmlNodePtr n = ctxt->node;
	if (rec && n && n != parent && n->type == XML_ELEMENT_NODE) {
		size_t idx;
		if (!offs_push(s->offs, start, s->len / 4 + 1, &idx)) {
			s->offsets_bad = true; /* ENOMEM here only costs exactness */
			return;
		}
		n->_private = (void *)(uintptr_t)(idx + 1);
	}
}

static void on_end(void *ud, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt->_private;
	if (s->stopped)
		return;
	xmlNodePtr n = ctxt->node;
	if (n && n->_private && s->offs && !s->offsets_bad) {
		size_t idx = (size_t)(uintptr_t)n->_private - 1;
		xmlParserInputPtr in = ctxt->input;
		size_t abs = input_is_plain(ctxt)
				     ? (size_t)in->consumed + (size_t)(in->cur - in->base)
				     : 0;
		if (idx < s->offs->n && abs > s->offs->v[idx].start && abs <= s->len &&
		    s->buf[abs - 1] == '>')
			s->offs->v[idx].end = abs;
		else
			s->offsets_bad = true;
	}
	if (s->depth)
		s->depth--;
	s->sax_end(ud, localname, prefix, uri);
}

/* The hardening shared by every parse: DTD refusal, predefined entities only, errors
 * collected (never printed). */
static void install_hardening(xmlSAXHandlerPtr sax)
{
	sax->internalSubset = on_subset;
	sax->externalSubset = on_subset;
	sax->entityDecl = on_entity_decl;
	sax->notationDecl = on_notation_decl;
	sax->attributeDecl = on_attribute_decl;
	sax->elementDecl = on_element_decl;
	sax->unparsedEntityDecl = on_unparsed_decl;
	sax->getEntity = on_get_entity;
	sax->getParameterEntity = on_get_pentity;
	sax->resolveEntity = on_resolve_entity;
	sax->serror = on_serror;
	sax->error = on_quiet;
	sax->warning = on_quiet;
	sax->fatalError = on_quiet;
}

/* Not set on purpose: NOENT, DTDLOAD, DTDATTR, DTDVALID, XINCLUDE, HUGE, RECOVER, NOBLANKS
 * and NOCDATA (raw content must stay exact). */
#define PARSE_OPTS                                                                            \
	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_COMPACT |      \
	 XML_PARSE_BIG_LINES)

static xmlDocPtr read_memory(xmlParserCtxtPtr ctxt, struct pstate *s, const char *buf,
			     size_t len)
{
	/* libxml2's "global" error handler is per thread (it is built with threads), so this
	 * scoped override is seen by this parse only; the caller's handler is put back. */
	xmlStructuredErrorFunc saved_fn = xmlStructuredError;
	void *saved_ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(s, on_context_free_error);
	xmlDocPtr doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL, PARSE_OPTS);
	xmlSetStructuredErrorFunc(saved_ctx, saved_fn);
	return doc;
}

/* ---- start-tag pre-scan ----
 *
 * libxml2 compares every attribute of a start tag with every earlier one (duplicates) and
 * every namespace declaration with every earlier one of the same tag, before any SAX
 * callback runs: one tag with 400,000 attributes costs minutes of CPU. So the caller's
 * bytes are scanned once, before libxml2 sees them, and a start tag with more than
 * max_attributes attributes or max_namespace_decls namespace declarations refuses the
 * document (ELIMIT). The scan is linear and never under-counts a tag libxml2 would read:
 *   - it works on code units (1, 2 or 4 bytes, detected as libxml2 does from the first
 *     bytes), where markup characters are the ASCII ones;
 *   - comments, CDATA sections and processing instructions are skipped as libxml2 skips
 *     them; any other '<' not followed by '/' or '!' starts a start tag, which ends at a
 *     '>' outside quotes or at the next '<' (never inside a start tag); each '=' outside
 *     quotes in it is one attribute, a namespace declaration when its name is xmlns or
 *     xmlns:*. On a well-formed prefix this is exactly what libxml2 reads, and libxml2
 *     stops at the first error;
 *   - the declarations in scope (max_namespaces_in_scope) are followed too: libxml2 looks
 *     each element's prefix up through all of them;
 *   - this only holds when every markup character is its own ASCII unit, so a declared
 *     encoding that re-encodes ASCII (UTF-7, ISO-2022-*, EBCDIC, ...) is refused. */

struct units {
	const unsigned char *p;
	size_t n;       /* units */
	unsigned w;     /* bytes per unit: 1, 2 or 4 */
	bool be;        /* big-endian (w > 1) */
};

static uint32_t unit_at(const struct units *u, size_t i)
{
	const unsigned char *q = u->p + i * u->w;
	if (u->w == 1)
		return q[0];
	if (u->w == 2)
		return u->be ? (uint32_t)q[0] << 8 | q[1] : (uint32_t)q[1] << 8 | q[0];
	return u->be ? (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3]
		     : (uint32_t)q[3] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[1] << 8 | q[0];
}

static bool unit_space(uint32_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Unit width and byte order from the first bytes (XML 1.0 Appendix F). false for EBCDIC
 * (4C 6F A7 94: its markup characters are not ASCII) and the unusual UCS-4 orders. */
static bool detect_units(const unsigned char *b, size_t len, struct units *u)
{
	static const unsigned char ebcdic[] = {0x4c, 0x6f, 0xa7, 0x94};
	*u = (struct units){.p = b, .n = len, .w = 1};
	if (len >= 4) {
		uint32_t be = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		if (be == 0x0000feff || be == 0x0000003c)
			*u = (struct units){.p = b, .n = len / 4, .w = 4, .be = true};
		else if (be == 0xfffe0000 || be == 0x3c000000)
			*u = (struct units){.p = b, .n = len / 4, .w = 4};
		else if (be == 0x0000fffe || be == 0xfeff0000 || be == 0x00003c00 ||
			 be == 0x003c0000 || memcmp(b, ebcdic, 4) == 0)
			return false;
		if (u->w == 4)
			return true;
	}
	if (len >= 2 && ((b[0] == 0xfe && b[1] == 0xff) ||
			 (len >= 4 && b[0] == 0 && b[1] == '<' && b[2] == 0 && b[3] == '?')))
		*u = (struct units){.p = b, .n = len / 2, .w = 2, .be = true};
	else if (len >= 2 && ((b[0] == 0xff && b[1] == 0xfe) ||
			      (len >= 4 && b[0] == '<' && b[1] == 0 && b[2] == '?' && b[3] == 0)))
		*u = (struct units){.p = b, .n = len / 2, .w = 2};
	return true;
}

/* The encoding named by the XML declaration, as ASCII in out ("" when none). false when
 * the declaration names one that is too long to be real. */
static bool declared_encoding(const struct units *u, char *out, size_t cap)
{
	out[0] = '\0';
	size_t i = 0, n = u->n < 512 ? u->n : 512; /* the declaration comes first and is short */
	if (n && unit_at(u, 0) == 0xfeff)
		i = 1;
	else if (u->w == 1 && n >= 3 && u->p[0] == 0xef && u->p[1] == 0xbb && u->p[2] == 0xbf)
		i = 3;
	static const char xml[] = "<?xml";
	for (size_t k = 0; k < 5; k++)
		if (i + k >= n || unit_at(u, i + k) != (uint32_t)xml[k])
			return true;
	static const char key[] = "encoding";
	for (i += 5; i + 1 < n; i++) {
		uint32_t c = unit_at(u, i);
		if (c == '?' && unit_at(u, i + 1) == '>')
			return true;
		size_t k = 0;
		while (k < 8 && i + k < n && unit_at(u, i + k) == (uint32_t)key[k])
			k++;
		if (k < 8)
			continue;
		i += 8;
		while (i < n && unit_space(unit_at(u, i)))
			i++;
		if (i >= n || unit_at(u, i) != '=')
			return true;
		for (i++; i < n && unit_space(unit_at(u, i)); i++)
			;
		if (i >= n || (unit_at(u, i) != '"' && unit_at(u, i) != '\''))
			return true;
		uint32_t q = unit_at(u, i++);
		size_t o = 0;
		for (; i < n && unit_at(u, i) != q; i++) {
			uint32_t ch = unit_at(u, i);
			if (o + 1 >= cap)
				return false;
			out[o++] = ch < 0x80 ? (char)ch : '?';
		}
		out[o] = '\0';
		return true;
	}
	return true;
}

/* Encodings in which every ASCII character is its own unit, so that the scan sees the
 * markup libxml2 will see (the multi-byte ones use only bytes >= 0x40 after a lead byte).
 * A UTF-16/UCS-4 label on single-byte input is ignored by libxml2; its scan stays right. */
static bool encoding_scannable(const char *e)
{
	static const char *const ok[] = {
		"UTF-8", "UTF8", "US-ASCII", "ASCII", "ISO-8859-", "ISO8859-", "ISO_8859-",
		"ISO-LATIN-", "LATIN", "WINDOWS-", "CP125", "EUC-", "EUCJP", "EUCKR",
		"SHIFT_JIS", "SHIFT-JIS", "SJIS", "CP932", "GBK", "GB2312", "GB18030", "BIG5",
		"KOI8-", "TIS-620", "UTF-16", "UTF16", "UCS-2", "UCS2", "UCS-4", "UCS4",
		"UTF-32", "ISO-10646-UCS-"};
	if (!*e)
		return true;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strncasecmp(e, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

/* Is the name ending at unit e (inclusive), after the tag's '<' at unit lt, xmlns or
 * xmlns:*? */
static bool name_is_xmlns(const struct units *u, size_t lt, size_t e)
{
	size_t s = e + 1;
	while (s > lt + 1) {
		uint32_t c = unit_at(u, s - 1);
		if (unit_space(c) || c == '"' || c == '\'')
			break;
		s--;
	}
	static const char x[] = "xmlns";
	size_t len = e + 1 - s;
	if (len < 5 || (len > 5 && (len == 6 || unit_at(u, s + 5) != ':')))
		return false;
	for (size_t k = 0; k < 5; k++)
		if (unit_at(u, s + k) != (uint32_t)x[k])
			return false;
	return true;
}

static int prescan_refuse(struct pstate *s, int code, long line, const char *msg)
{
	add_diag(s, LI707_SEV_ERROR, code, line, msg);
	return code;
}

static bool units_start(const struct units *u, size_t i, const char *a)
{
	for (size_t k = 0; a[k]; k++)
		if (i + k >= u->n || unit_at(u, i + k) != (uint32_t)(unsigned char)a[k])
			return false;
	return true;
}

/* The index just past the first term (ASCII, no newline) at or after i, u->n when there is
 * none; counts the lines it passes. */
static size_t skip_past(const struct units *u, size_t i, const char *term, long *line)
{
	for (; i < u->n; i++) {
		if (units_start(u, i, term))
			return i + strlen(term);
		if (unit_at(u, i) == '\n')
			(*line)++;
	}
	return u->n;
}

/* One start tag from its '<' at lt: counts its attributes and namespace declarations up to
 * the '>' outside quotes (or the next '<'), returns that index; *empty for "/>". */
static size_t scan_start_tag(const struct units *u, size_t lt, long *line, size_t *attrs,
			     size_t *ns, bool *empty)
{
	size_t j = lt + 1;
	uint32_t q = 0, last = 0;
	*attrs = *ns = 0;
	*empty = false;
	for (; j < u->n; j++) {
		uint32_t c = unit_at(u, j);
		if (c == '<')
			break;
		if (c == '\n')
			(*line)++;
		if (q) {
			if (c == q)
				q = 0;
			continue;
		}
		if (c == '"' || c == '\'') {
			q = c;
		} else if (c == '>') {
			*empty = last == '/';
			break;
		} else if (c == '=') {
			size_t e = j - 1;
			while (e > lt && unit_space(unit_at(u, e)))
				e--;
			if (name_is_xmlns(u, lt, e))
				(*ns)++;
			else
				(*attrs)++;
		}
		if (!unit_space(c))
			last = c;
	}
	return j;
}

#define SCOPE_DEPTH_MAX 4096 /* nesting tracked for namespace scope (max_depth stops the
			      * parser long before in practice) */

/* 0, or the code of the first refusal (with a diagnostic). Comments, CDATA sections and
 * processing instructions are skipped as libxml2 skips them; a DOCTYPE ends the scan (the
 * parser refuses it before reading anything after it). Namespace declarations in scope
 * are followed through start and end tags (libxml2 looks every prefix up through all of
 * them, so their number multiplies the cost of every element). */
static int prescan_tags(struct pstate *s)
{
	struct units u;
	char enc[48];
	if (!detect_units((const unsigned char *)s->buf, s->len, &u) ||
	    !declared_encoding(&u, enc, sizeof enc) || !encoding_scannable(enc))
		return prescan_refuse(s, LI707_EXML, 1,
				      "XML encoding not supported: use UTF-8, UTF-16, UCS-4 or "
				      "an ASCII-compatible one (ISO-8859-x, windows-125x, ...)");
	size_t cap = s->lim->max_depth < SCOPE_DEPTH_MAX ? s->lim->max_depth : SCOPE_DEPTH_MAX;
	size_t *scope = malloc((cap + 1) * sizeof *scope); /* declarations per open element */
	if (!scope)
		return prescan_refuse(s, LI707_ENOMEM, 0, "out of memory");
	size_t depth = 0, in_scope = 0;
	bool track = true; /* false once nesting is deeper than tracked or malformed */
	long line = 1;
	int rc = 0;
	char msg[96];
	for (size_t i = 0; i < u.n && !rc;) {
		uint32_t c = unit_at(&u, i);
		if (c != '<') {
			line += c == '\n';
			i++;
			continue;
		}
		if (units_start(&u, i, "<!--")) {
			i = skip_past(&u, i + 4, "-->", &line);
			continue;
		}
		if (units_start(&u, i, "<![CDATA[")) {
			i = skip_past(&u, i + 9, "]]>", &line);
			continue;
		}
		if (units_start(&u, i, "<?")) {
			i = skip_past(&u, i + 2, "?>", &line);
			continue;
		}
		if (units_start(&u, i, "<!"))
			break;
		if (units_start(&u, i, "</")) {
			if (track && depth == 0)
				track = false;
			else if (track)
				in_scope -= scope[--depth];
			i += 2;
			continue;
		}
		size_t attrs, ns;
		bool empty;
		long tag_line = line;
		i = scan_start_tag(&u, i, &line, &attrs, &ns, &empty);
		if (attrs > s->lim->max_attributes) {
			snprintf(msg, sizeof msg, "an element has more than %zu attributes",
				 s->lim->max_attributes);
			rc = prescan_refuse(s, LI707_ELIMIT, tag_line, msg);
		} else if (ns > s->lim->max_namespace_decls) {
			snprintf(msg, sizeof msg, "an element declares more than %zu namespaces",
				 s->lim->max_namespace_decls);
			rc = prescan_refuse(s, LI707_ELIMIT, tag_line, msg);
		} else if (track && in_scope + ns > s->lim->max_namespaces_in_scope) {
			snprintf(msg, sizeof msg, "more than %zu namespace declarations in scope",
				 s->lim->max_namespaces_in_scope);
			rc = prescan_refuse(s, LI707_ELIMIT, tag_line, msg);
		} else if (track && !empty) {
			if (depth >= cap) {
				track = false;
			} else {
				scope[depth++] = ns;
				in_scope += ns;
			}
		}
	}
	free(scope);
	return rc;
}

/* Checks shared by both entry points, before libxml2 sees the bytes: size, encoding,
 * attributes and namespace declarations per start tag. 0 or the code (with a diagnostic). */
static int precheck(struct pstate *s, size_t len)
{
	if (len > s->lim->max_document_bytes || len > (size_t)INT_MAX) {
		char msg[96];
		snprintf(msg, sizeof msg, "document larger than %zu bytes",
			 s->lim->max_document_bytes);
		add_diag(s, LI707_SEV_ERROR, LI707_ELIMIT, 0, msg);
		return LI707_ELIMIT;
	}
	if (len == 0) {
		add_diag(s, LI707_SEV_ERROR, LI707_EXML, 0, "empty document");
		return LI707_EXML;
	}
	return prescan_tags(s);
}

/* ---- parse ---- */

static xmlParserCtxtPtr ctxt_acquire(bool *cached);
static void ctxt_release(xmlParserCtxtPtr ctxt, bool cached);

/* reuse: parse with the thread's cached context; the document must then be freed on this
 * thread before the next parse (it shares the context's dictionary). */
static int parse_dom(const char *buf, size_t len, const struct li707_limits *lim_in,
		     const char *record_parents_ns, struct li707__xmldoc *out,
		     struct li707_diags *diags, bool reuse)
{
	struct li707_limits lim = {0};
	if (lim_in)
		lim = *lim_in;
	li707_limits_resolve(&lim);
	if (!out || (!buf && len))
		return LI707_EINVAL;
	memset(out, 0, sizeof *out);

	struct pstate s = {.lim = &lim, .diags = diags, .record_ns = record_parents_ns,
			   .buf = buf, .len = len};
	int prc = precheck(&s, len);
	if (prc)
		return prc;

	int rc = LI707_ENOMEM;
	xmlDocPtr doc = NULL;
	bool cached = false;
	xmlParserCtxtPtr ctxt = reuse ? ctxt_acquire(&cached) : xmlNewParserCtxt();
	if (!ctxt)
		goto fail_diag;
	if (cached)
		xmlSAXVersion(ctxt->sax, 2); /* a streaming parse may have changed it */
	if (record_parents_ns) {
		s.offs = calloc(1, sizeof *s.offs);
		if (!s.offs)
			goto free_ctxt;
	}
	s.ctxt = ctxt;
	ctxt->_private = &s;

	xmlSAXHandlerPtr sax = ctxt->sax;
	s.sax_start = sax->startElementNs;
	s.sax_end = sax->endElementNs;
	sax->startElementNs = on_start;
	sax->endElementNs = on_end;
	install_hardening(sax);

	doc = read_memory(ctxt, &s, buf, len);

	if (s.err || !doc || !ctxt->wellFormed || !ctxt->nsWellFormed) {
		rc = s.err ? s.err : LI707_EXML;
		if (!s.err)
			add_diag(&s, LI707_SEV_ERROR, rc, cur_line(ctxt), "XML not well-formed");
		goto free_doc;
	}
	out->doc = doc;
	out->buf = buf;
	out->len = len;
	out->offsets = s.offs;
	out->offsets_ok = s.offs && !s.offsets_bad && input_is_plain(ctxt);
	ctxt_release(ctxt, cached);
	return 0;

free_doc:
	xmlFreeDoc(doc);
free_ctxt:
	ctxt_release(ctxt, cached);
	if (s.offs) {
		free(s.offs->v);
		free(s.offs);
	}
	return rc;
fail_diag:
	add_diag(&s, LI707_SEV_ERROR, LI707_ENOMEM, 0, "out of memory");
	return rc;
}

int li707__xml_parse(const char *buf, size_t len, const struct li707_limits *lim,
		     const char *record_parents_ns, struct li707__xmldoc *out,
		     struct li707_diags *diags)
{
	/* Its documents may outlive the call or move to other threads (schema.c): a context of
	 * its own, so the dictionary is theirs. */
	return parse_dom(buf, len, lim, record_parents_ns, out, diags, false);
}

void li707__xml_done(struct li707__xmldoc *x)
{
	if (!x)
		return;
	xmlFreeDoc(x->doc);
	if (x->offsets) {
		free(x->offsets->v);
		free(x->offsets);
	}
	memset(x, 0, sizeof *x);
}

/* ---- streaming parse ----
 *
 * One parser context per thread is kept and reused (xmlCtxtReadMemory resets it, keeping its
 * dictionary, which saves most of the cost of a small parse). The dictionary only grows, with
 * every distinct name and namespace URI of every document parsed: a peer could grow it at
 * will, so the context is replaced once the dictionary holds more than DICT_MAX names. A
 * nested parse on the same thread (a callback that parses) gets a fresh context. The cached
 * context is freed when its thread exits (a pthread key destructor) or by
 * li707__xml_thread_cleanup(). */

#define DICT_MAX 10000

struct ctxt_cache {
	xmlParserCtxtPtr ctxt;
	bool busy;
	unsigned long gen; /* changes whenever ctxt (and so its dictionary) is replaced */
};

static __thread struct ctxt_cache tl_cache;
static unsigned long gen_counter; /* only ever compared per thread; races are harmless */
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;
static bool tl_key_ok;

static void tl_destroy(void *p)
{
	xmlFreeParserCtxt(p);
}

static void tl_init(void)
{
	tl_key_ok = pthread_key_create(&tl_key, tl_destroy) == 0;
}

static xmlParserCtxtPtr ctxt_acquire(bool *cached)
{
	*cached = false;
	if (tl_cache.busy)
		return xmlNewParserCtxt();
	if (!tl_cache.ctxt) {
		pthread_once(&tl_once, tl_init);
		xmlParserCtxtPtr c = xmlNewParserCtxt();
		if (!c)
			return NULL;
		if (!tl_key_ok || pthread_setspecific(tl_key, c) != 0)
			return c; /* not cacheable: used once */
		tl_cache.ctxt = c;
		tl_cache.gen = __atomic_add_fetch(&gen_counter, 1, __ATOMIC_RELAXED);
	}
	tl_cache.busy = true;
	*cached = true;
	return tl_cache.ctxt;
}

static void ctxt_release(xmlParserCtxtPtr ctxt, bool cached)
{
	ctxt->_private = NULL;
	if (!cached) {
		xmlFreeParserCtxt(ctxt);
		return;
	}
	tl_cache.busy = false;
	/* Drop the input (it points into the caller's buffer) and bound the dictionary. */
	xmlCtxtReset(ctxt);
	if (!ctxt->dict || xmlDictSize(ctxt->dict) > DICT_MAX) {
		(void)pthread_setspecific(tl_key, NULL);
		xmlFreeParserCtxt(ctxt);
		tl_cache.ctxt = NULL;
	}
}

void li707__xml_thread_cleanup(void)
{
	if (tl_cache.ctxt && !tl_cache.busy) {
		if (tl_key_ok)
			(void)pthread_setspecific(tl_key, NULL);
		xmlFreeParserCtxt(tl_cache.ctxt);
		tl_cache.ctxt = NULL;
	}
}

unsigned long li707__sax_generation(xmlParserCtxtPtr ctxt)
{
	return ctxt == tl_cache.ctxt ? tl_cache.gen : 0;
}

bool li707__sax_tag_start(xmlParserCtxtPtr ctxt, size_t *abs)
{
	struct pstate *s = ctxt->_private;
	return s && locate_start_in(ctxt, s->buf, s->len, abs);
}

bool li707__sax_pos(xmlParserCtxtPtr ctxt, size_t *abs)
{
	xmlParserInputPtr in = ctxt->input;
	if (!in || !in->base || !in->cur || in->cur < in->base)
		return false;
	*abs = (size_t)in->consumed + (size_t)(in->cur - in->base);
	return input_is_plain(ctxt);
}

void li707__sax_halt(xmlParserCtxtPtr ctxt)
{
	struct pstate *s = ctxt->_private;
	if (s && !s->stopped) {
		s->stopped = true;
		s->user_stop = true;
		xmlStopParser(ctxt);
	}
}

static void sax_start(void *ud, const xmlChar *localname, const xmlChar *prefix,
		      const xmlChar *uri, int nb_ns, const xmlChar **namespaces, int nb_attrs,
		      int nb_defaulted, const xmlChar **attrs)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt->_private;
	(void)nb_defaulted; /* no DTD: nothing is defaulted */
	if (s->stopped)
		return;
	if (++s->depth > s->lim->max_depth) {
		char msg[96];
		snprintf(msg, sizeof msg, "elements nested deeper than %u", s->lim->max_depth);
		stop(s, LI707_ELIMIT, msg);
		return;
	}
	s->h->start(s->uctx, ctxt, localname, prefix, uri, nb_ns, namespaces, nb_attrs, attrs);
}

static void sax_end(void *ud, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt->_private;
	if (s->stopped)
		return;
	if (s->depth)
		s->depth--;
	s->h->end(s->uctx, ctxt, localname, prefix, uri);
}

static void sax_chars(void *ud, const xmlChar *ch, int len)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt->_private;
	if (!s->stopped && s->h->text)
		s->h->text(s->uctx, ctxt, ch, len, false);
}

static void sax_cdata(void *ud, const xmlChar *ch, int len)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt->_private;
	if (!s->stopped && s->h->text)
		s->h->text(s->uctx, ctxt, ch, len, true);
}

static void sax_comment(void *ud, const xmlChar *v)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt->_private;
	if (!s->stopped && s->h->comment)
		s->h->comment(s->uctx, ctxt, v);
}

static void sax_pi(void *ud, const xmlChar *target, const xmlChar *data)
{
	xmlParserCtxtPtr ctxt = ud;
	struct pstate *s = ctxt->_private;
	if (!s->stopped && s->h->pi)
		s->h->pi(s->uctx, ctxt, target, data);
}

int li707__xml_sax_parse(const char *buf, size_t len, const struct li707_limits *lim,
			 const struct li707__sax_handler *h, void *uctx,
			 struct li707_diags *diags)
{
	if (!lim || !h || !h->start || !h->end || (!buf && len))
		return LI707_EINVAL;
	struct pstate s = {.lim = lim, .diags = diags, .buf = buf, .len = len, .h = h,
			   .uctx = uctx};
	int rc = precheck(&s, len);
	if (rc)
		return rc;
	bool cached;
	xmlParserCtxtPtr ctxt = ctxt_acquire(&cached);
	if (!ctxt) {
		add_diag(&s, LI707_SEV_ERROR, LI707_ENOMEM, 0, "out of memory");
		return LI707_ENOMEM;
	}
	s.ctxt = ctxt;
	ctxt->_private = &s;
	xmlSAXHandlerPtr sax = ctxt->sax;
	xmlSAXVersion(sax, 2);
	sax->startDocument = NULL; /* no document is built */
	sax->endDocument = NULL;
	sax->startElementNs = sax_start;
	sax->endElementNs = sax_end;
	sax->characters = sax_chars;
	sax->ignorableWhitespace = sax_chars;
	sax->cdataBlock = sax_cdata;
	sax->comment = sax_comment;
	sax->processingInstruction = sax_pi;
	sax->reference = NULL;
	install_hardening(sax);

	xmlDocPtr doc = read_memory(ctxt, &s, buf, len);
	xmlFreeDoc(doc); /* none is built; belt and braces */
	if (s.err) {
		rc = s.err;
	} else if (!s.user_stop && (!ctxt->wellFormed || !ctxt->nsWellFormed)) {
		rc = LI707_EXML;
		add_diag(&s, LI707_SEV_ERROR, rc, cur_line(ctxt), "XML not well-formed");
	}
	ctxt_release(ctxt, cached);
	return rc;
}

/* ---- copies with every namespace in scope ---- */

static bool declares(xmlNodePtr n, const xmlChar *prefix)
{
	for (xmlNsPtr ns = n->nsDef; ns; ns = ns->next)
		if (xmlStrEqual(ns->prefix, prefix))
			return true;
	return false;
}

xmlDocPtr li707__xml_copy_subtree(xmlNodePtr node)
{
	if (!node || node->type != XML_ELEMENT_NODE)
		return NULL;
	xmlDocPtr d = xmlNewDoc(BAD_CAST "1.0");
	if (!d)
		return NULL;
	xmlNodePtr cp = xmlDocCopyNode(node, d, 1);
	if (!cp)
		goto fail;
	xmlDocSetRootElement(d, cp);
	xmlNsPtr *l = xmlGetNsList(node->doc, node);
	bool has_default = false;
	for (size_t i = 0; l && l[i]; i++) {
		const xmlChar *p = l[i]->prefix, *h = l[i]->href;
		if (!p && h && *h)
			has_default = true;
		if (xmlStrEqual(p, BAD_CAST "xml") || (!p && (!h || !*h)) || declares(cp, p))
			continue;
		if (!xmlNewNs(cp, h, p)) {
			xmlFree(l);
			goto fail;
		}
	}
	xmlFree(l);
	/* No default namespace in scope: say so (xmlns=""), so that unprefixed elements stay
	 * in no namespace wherever the copy is written. */
	if (!has_default && !declares(cp, NULL) && !xmlNewNs(cp, BAD_CAST "", NULL))
		goto fail;
	return d;
fail:
	xmlFreeDoc(d);
	return NULL;
}

/* ---- raw content ---- */

/* True when the namespace bound to prefix at n is declared at or below n but above top. */
static bool declared_inside(xmlNodePtr n, xmlNodePtr top, const xmlChar *prefix)
{
	for (; n && n != top; n = n->parent)
		if (n->type == XML_ELEMENT_NODE && declares(n, prefix))
			return true;
	return false;
}

/* A use of prefix at n is self-contained in top's content when it needs no declaration
 * from top or above (the xml prefix is always bound). An unprefixed element is
 * self-contained only when its default namespace (possibly xmlns="") is declared inside:
 * otherwise it would take the default namespace of wherever the content is written. */
static bool use_ok(xmlNodePtr n, xmlNodePtr top, const xmlChar *prefix)
{
	return xmlStrEqual(prefix, BAD_CAST "xml") || declared_inside(n, top, prefix);
}

/* Prefix of a QName value (xsi:type) into buf; NULL when unprefixed. */
static const xmlChar *qname_prefix(const xmlChar *v, xmlChar *buf, size_t cap)
{
	while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
		v++;
	const xmlChar *c = (const xmlChar *)strchr((const char *)v, ':');
	if (!c || (size_t)(c - v) >= cap)
		return NULL;
	memcpy(buf, v, (size_t)(c - v));
	buf[c - v] = '\0';
	return buf;
}

static bool element_self_contained(xmlNodePtr d, xmlNodePtr top)
{
	if (!use_ok(d, top, d->ns ? d->ns->prefix : NULL))
		return false;
	for (xmlAttrPtr a = d->properties; a; a = a->next) {
		if (a->ns && !use_ok(d, top, a->ns->prefix))
			return false;
		if (a->ns && xmlStrEqual(a->ns->href, BAD_CAST xsi_ns) &&
		    xmlStrEqual(a->name, BAD_CAST "type") && a->children &&
		    a->children->type == XML_TEXT_NODE && a->children->content) {
			xmlChar pbuf[256];
			const xmlChar *p = qname_prefix(a->children->content, pbuf, sizeof pbuf);
			if (!use_ok(d, top, p))
				return false;
		}
	}
	return true;
}

/* Every element below top uses only namespaces declared below top. */
static bool subtree_self_contained(xmlNodePtr top)
{
	xmlNodePtr n = top->children;
	while (n && n != top) {
		if (n->type == XML_ELEMENT_NODE) {
			if (!element_self_contained(n, top))
				return false;
			if (n->children) {
				n = n->children;
				continue;
			}
		}
		while (n != top && !n->next)
			n = n->parent;
		if (n != top)
			n = n->next;
	}
	return true;
}

/* [*cs, *ce) = bytes between the end of the start tag at s and the start of the end tag that
 * ends just before e. */
static bool span_slice(const char *buf, size_t len, size_t s, size_t e, size_t *cs, size_t *ce)
{
	if (!buf || !e || e > len || s >= e || buf[s] != '<' || buf[e - 1] != '>')
		return false;
	char quote = 0;
	size_t gt = s + 1;
	for (; gt < e; gt++) {
		char ch = buf[gt];
		if (quote) {
			if (ch == quote)
				quote = 0;
		} else if (ch == '"' || ch == '\'') {
			quote = ch;
		} else if (ch == '>') {
			break;
		}
	}
	if (gt >= e)
		return false;
	if (buf[gt - 1] == '/') { /* <elem/> */
		*cs = *ce = gt + 1;
		return gt + 1 == e;
	}
	size_t lt = e - 1;
	while (lt > gt && buf[lt] != '<')
		lt--;
	if (lt <= gt || buf[lt + 1] != '/')
		return false;
	*cs = gt + 1;
	*ce = lt;
	return true;
}

/* [*cs, *ce) = bytes between the end of elem's start tag and the start of its end tag. */
static bool raw_slice(const struct li707__xmldoc *x, xmlNodePtr elem, size_t *cs, size_t *ce)
{
	if (!x->offsets_ok || !x->offsets || !elem->_private || !x->buf)
		return false;
	size_t idx = (size_t)(uintptr_t)elem->_private - 1;
	if (idx >= x->offsets->n)
		return false;
	return span_slice(x->buf, x->len, x->offsets->v[idx].start, x->offsets->v[idx].end, cs,
			  ce);
}

static int serialise_children(xmlNodePtr elem, size_t cap, char **out)
{
	xmlBufferPtr b = xmlBufferCreate();
	if (!b)
		return LI707_ENOMEM;
	int rc = 0;
	for (xmlNodePtr c = elem->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			xmlDocPtr d = li707__xml_copy_subtree(c);
			if (!d) {
				rc = LI707_ENOMEM;
				break;
			}
			int w = xmlNodeDump(b, d, xmlDocGetRootElement(d), 0, 0);
			xmlFreeDoc(d);
			if (w < 0) {
				rc = LI707_ENOMEM;
				break;
			}
		} else if (xmlNodeDump(b, elem->doc, c, 0, 0) < 0) {
			rc = LI707_ENOMEM;
			break;
		}
		if ((size_t)xmlBufferLength(b) > cap) {
			rc = LI707_ELIMIT;
			break;
		}
	}
	if (!rc) {
		char *s = li707__strndup((const char *)xmlBufferContent(b),
					 (size_t)xmlBufferLength(b));
		if (!s)
			rc = LI707_ENOMEM;
		else
			*out = s;
	}
	xmlBufferFree(b);
	return rc;
}

int li707__xml_raw_content(const struct li707__xmldoc *x, xmlNodePtr elem, size_t cap,
			   char **out)
{
	if (!x || !elem || !out || elem->type != XML_ELEMENT_NODE)
		return LI707_EINVAL;
	char *s;
	size_t cs, ce;
	if (!elem->children) {
		s = li707__strdup("");
	} else if (raw_slice(x, elem, &cs, &ce) && subtree_self_contained(elem)) {
		if (ce - cs > cap)
			return LI707_ELIMIT;
		s = li707__strndup(x->buf + cs, ce - cs);
	} else {
		return serialise_children(elem, cap, out);
	}
	if (!s)
		return LI707_ENOMEM;
	*out = s;
	return 0;
}

int li707__xml_slice_content(const char *buf, size_t len, size_t start, size_t end, size_t cap,
			     char **out)
{
	size_t cs, ce;
	if (!span_slice(buf, len, start, end, &cs, &ce))
		return LI707_EXML;
	if (ce - cs > cap)
		return LI707_ELIMIT;
	char *s = li707__strndup(buf + cs, ce - cs);
	if (!s)
		return LI707_ENOMEM;
	*out = s;
	return 0;
}

int li707__xml_raw_content_span(const char *buf, size_t len, size_t start, size_t end,
				xmlNodePtr elem, size_t cap, char **out, bool *sliced)
{
	if (!elem || !out || elem->type != XML_ELEMENT_NODE)
		return LI707_EINVAL;
	char *s;
	size_t cs, ce;
	*sliced = false;
	if (!elem->children) {
		s = li707__strdup("");
	} else if (span_slice(buf, len, start, end, &cs, &ce) && subtree_self_contained(elem)) {
		if (ce - cs > cap)
			return LI707_ELIMIT;
		s = li707__strndup(buf + cs, ce - cs);
		*sliced = true;
	} else {
		return serialise_children(elem, cap, out);
	}
	if (!s)
		return LI707_ENOMEM;
	*out = s;
	return 0;
}

/* ---- fragments ---- */

static bool all_space(const xmlChar *t)
{
	for (; t && *t; t++)
		if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r')
			return false;
	return true;
}

/* Every xsi:type QName below top resolves to a declared namespace. */
static bool qnames_resolve(xmlNodePtr top)
{
	xmlNodePtr n = top;
	while (n) {
		if (n->type == XML_ELEMENT_NODE) {
			for (xmlAttrPtr a = n->properties; a; a = a->next) {
				if (!a->ns || !xmlStrEqual(a->ns->href, BAD_CAST xsi_ns) ||
				    !xmlStrEqual(a->name, BAD_CAST "type") || !a->children ||
				    !a->children->content)
					continue;
				xmlChar pbuf[256];
				const xmlChar *p =
					qname_prefix(a->children->content, pbuf, sizeof pbuf);
				if (p && !xmlSearchNs(n->doc, n, p))
					return false;
			}
			if (n->children) {
				n = n->children;
				continue;
			}
		}
		while (n != top && !n->next)
			n = n->parent;
		if (n == top)
			break;
		n = n->next;
	}
	return true;
}

int li707__xml_check_fragment(const char *s, size_t len, const struct li707_limits *lim_in,
			      bool require_other_ns)
{
	struct li707_limits lim = {0};
	if (lim_in)
		lim = *lim_in;
	li707_limits_resolve(&lim);
	if (!s && len)
		return LI707_EINVAL;
	if (len > lim.max_raw_xml_bytes)
		return LI707_ELIMIT;
	/* The wrapper binds no namespace, so the fragment must declare every prefix it uses. */
	static const char open[] = "<w>", close[] = "</w>";
	size_t n = sizeof open - 1 + len + sizeof close - 1;
	char *buf = malloc(n);
	if (!buf)
		return LI707_ENOMEM;
	memcpy(buf, open, sizeof open - 1);
	if (len)
		memcpy(buf + sizeof open - 1, s, len);
	memcpy(buf + sizeof open - 1 + len, close, sizeof close - 1);

	struct li707_limits plim = lim;
	plim.max_document_bytes = n;
	plim.max_depth = lim.max_depth < UINT_MAX ? lim.max_depth + 1 : lim.max_depth;
	struct li707__xmldoc x;
	int rc = parse_dom(buf, n, &plim, NULL, &x, NULL, true); /* freed below, same thread */
	if (rc)
		goto free_buf;
	xmlNodePtr root = xmlDocGetRootElement(x.doc);
	if (!root || root->ns || !xmlStrEqual(root->name, BAD_CAST "w")) {
		rc = LI707_EXML;
		goto done;
	}
	if (!qnames_resolve(root)) {
		rc = LI707_EXML;
		goto done;
	}
	size_t n_elems = 0;
	for (xmlNodePtr c = root->children; c && require_other_ns; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			n_elems++;
			if (!c->ns || !c->ns->href || !*c->ns->href ||
			    xmlStrEqual(c->ns->href, BAD_CAST LI707_NS_707))
				rc = LI707_EINVALID;
		} else if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
			   !all_space(c->content)) {
			rc = LI707_EINVALID;
		}
	}
	if (!rc && require_other_ns && n_elems == 0)
		rc = LI707_EINVALID;
done:
	li707__xml_done(&x);
free_buf:
	free(buf);
	return rc;
}
