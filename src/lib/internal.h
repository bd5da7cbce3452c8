/* li707 - library internals shared between src/lib modules (not installed).
 *
 * Module map (docs/ARCHITECTURE.md):
 *   error.c   codes, texts, exit codes, the HI-1 ErrorCode table
 *   util.c    value checks, time, UUIDs, SHA-256, wiping
 *   model.c   allocation and defaults of the data model
 *   diag.c    diagnostics list
 *   linemap.c pointer -> input line map (decoder to checker)
 *   xmlsafe.c the hardened libxml2 entry points, streaming and DOM (no DTD, no entities,
 *             no network, caps, byte offsets for raw content, per-thread parser context)
 *   check.c   every value/consistency rule on a model, shared by encoder and decoder
 *   decode.c  streaming (SAX) -> model (structure), then check.c; with decode_schema.c
 *             (the schema tables) and decode_raw.c (raw content), private decode.h
 *   encode.c  model -> XML (xmlTextWriter), after check.c; responses
 *   schema.c  XSD sets and validation
 *   hash.c    Annex D.4 */
#ifndef LI707_INTERNAL_H
#define LI707_INTERNAL_H

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#include "li707/li707.h"

#define LI707__NO_ACTION ((size_t)-1)

/* ---- strings ---- */
/* strdup/strndup that return NULL only for NULL input or ENOMEM (callers check). */
char *li707__strdup(const char *s);
char *li707__strndup(const char *s, size_t n);
/* Replaces *dst with a copy of src (NULL allowed). Returns 0 or LI707_ENOMEM. */
int li707__set_str(char **dst, const char *src);

/* ---- line map: where in the input a model field came from ---- */
struct li707__linemap; /* opaque; open addressing, keys are pointers */
/* max_entries caps the puts (LI707_ELIMIT past it); the decoder passes the input length:
 * every put is for an element or attribute of the input, each several bytes long. */
struct li707__linemap *li707__linemap_new(size_t max_entries);
void li707__linemap_free(struct li707__linemap *m);
int li707__linemap_put(struct li707__linemap *m, const void *key, long line);
/* 0 when key is unknown or m is NULL. */
long li707__linemap_get(const struct li707__linemap *m, const void *key);

/* ---- the checker (check.c) ----
 * Runs every value and consistency rule of docs/checks.md on a model: UUID forms, country
 * codes, LIID/LDID, QualifiedDateTime / QualifiedMicrosecondDateTime, ETSIVersion, MIME type,
 * https URLs, SHA-256 hex, string lengths (lim->max_string_bytes), counts, UTF-8, Table 1/2
 * rules, Manifest naming TS 103 707, item/reference consistency, V1.1.1 forms (reported as
 * notes), duplicate urls in one message, R-HDR-2 sequence duplicates in one collection.
 * Diagnostics get element paths built from the model's position (the same paths the decoder
 * reports) and, when lines is given, the input line of the field (keys: the string pointer
 * for string fields; the struct address for items, parties, identifiers, binary objects,
 * csp blocks, deliveries, actions). action_status (may be NULL) has m->n_actions slots and
 * receives 0 or the first error code per action. Returns 0 if no error, else LI707_EINVALID
 * (or LI707_ELIMIT if a cap was the first problem). */
int li707__message_check(const struct li707_message *m, const struct li707_limits *lim,
			 struct li707_diags *diags, const struct li707__linemap *lines,
			 int *action_status);
/* The same rules for a message li707 is about to send: only the V1.9.1 forms are accepted
 * (an item without timestamp, which reading accepts in V1.1.1 form, is an error). */
int li707__message_check_outgoing(const struct li707_message *m, const struct li707_limits *lim,
				  struct li707_diags *diags);

/* Paths used in diagnostics, shared by check.c and decode.c so both name elements alike. */
#define LI707__PATH_ACTION "/HI1Message/Payload/RequestPayload/ActionRequests/ActionRequest[%zu]"
#define LI707__PATH_OBJECT LI707__PATH_ACTION "/DELIVER/HI1Object"
#define LI707__PATH_XMLDATA LI707__PATH_OBJECT "/delivery:Delivery/delivery:XMLData"

/* ---- hardened parsing (xmlsafe.c) ---- */
struct li707__xmldoc {
	xmlDocPtr doc;
	const char *buf;   /* the caller's input, borrowed: raw content is sliced from it */
	size_t len;
	bool offsets_ok;   /* input was UTF-8 (no conversion), so byte offsets are valid */
	struct li707__offsets *offsets; /* element -> [start of '<', end after '>'] */
};

/* Parses buf with: XML_PARSE_NONET, no entity substitution, no DTD loading/validation, any
 * DOCTYPE refused (LI707_EXML), depth capped (lim->max_depth, LI707_ELIMIT), size capped
 * (lim->max_document_bytes, LI707_ELIMIT), non-UTF-8/UTF-16 encodings converted by libxml2.
 * Records byte offsets of every element whose parent is in record_parents_ns (may be NULL:
 * then no offsets are kept), so raw content can be sliced byte for byte.
 * lim must be resolved. On error *out is zeroed and a diagnostic (with line) is added. */
int li707__xml_parse(const char *buf, size_t len, const struct li707_limits *lim,
		     const char *record_parents_ns, struct li707__xmldoc *out,
		     struct li707_diags *diags);
void li707__xml_done(struct li707__xmldoc *x);

/* The exact bytes of an element's content (everything between its start tag and its end
 * tag) when its offsets are known and the slice is namespace-complete and context-free
 * (every prefix it uses, xsi:type values included, and the default namespace of every
 * unprefixed element, possibly xmlns="", is declared inside it); otherwise a serialisation
 * of the children with every namespace in scope declared on each top-level element
 * (xmlns="" when no default is in scope), which means the same wherever it is written.
 * Empty content gives "". cap: LI707_ELIMIT beyond it. *out is a new string. */
int li707__xml_raw_content(const struct li707__xmldoc *x, xmlNodePtr elem, size_t cap,
			   char **out);

/* Checks that s is a well-formed, namespace-complete XML fragment (content: elements, text)
 * under the same hostile-input rules: every prefix it uses, xsi:type values included, is
 * declared inside it. Used by the encoder before writing raw content and by the decoder on
 * the raw content it returns (so it only accepts what can be sent on). If require_other_ns
 * (xs:any ##other): at least one element, every top-level element in a namespace other than
 * TS 103 707's and not in none, no text beside them. Returns 0, LI707_EXML (not well-formed
 * or a prefix undeclared), LI707_EINVALID (the ##other rule), LI707_ELIMIT (longer than
 * lim->max_raw_xml_bytes or deeper than lim->max_depth) or LI707_ENOMEM. lim may be NULL. */
int li707__xml_check_fragment(const char *s, size_t len, const struct li707_limits *lim,
			      bool require_other_ns);

/* Streaming parse (the decoder): the same hardening as li707__xml_parse (no DTD, no
 * entities, no network, size and depth caps, errors into diags, never printed), but no
 * document is built: the callbacks receive the SAX2 events (names and namespace URIs are
 * interned in ctxt->dict). text gets character data and CDATA sections (cdata true).
 * A callback may stop the parse with li707__sax_halt() (the result is then 0 unless
 * libxml2 found an error first). lim must be resolved. Uses a per-thread cached parser
 * context (see xmlsafe.c). */
struct li707__sax_handler {
	void (*start)(void *u, xmlParserCtxtPtr ctxt, const xmlChar *localname,
		      const xmlChar *prefix, const xmlChar *uri, int nb_ns, const xmlChar **ns,
		      int nb_attrs, const xmlChar **attrs);
	void (*end)(void *u, xmlParserCtxtPtr ctxt, const xmlChar *localname,
		    const xmlChar *prefix, const xmlChar *uri);
	void (*text)(void *u, xmlParserCtxtPtr ctxt, const xmlChar *s, int len, bool cdata);
	void (*comment)(void *u, xmlParserCtxtPtr ctxt, const xmlChar *v);
	void (*pi)(void *u, xmlParserCtxtPtr ctxt, const xmlChar *target, const xmlChar *data);
};
int li707__xml_sax_parse(const char *buf, size_t len, const struct li707_limits *lim,
			 const struct li707__sax_handler *h, void *u, struct li707_diags *diags);
void li707__sax_halt(xmlParserCtxtPtr ctxt);
/* Offset of the '<' of the start tag being reported (verified against the input). */
bool li707__sax_tag_start(xmlParserCtxtPtr ctxt, size_t *abs);
/* Offset of the parser's position (just past the tag being reported); false when the input
 * is converted (offsets are then not those of the caller's bytes). */
bool li707__sax_pos(xmlParserCtxtPtr ctxt, size_t *abs);
/* Nonzero and stable while ctxt (and its dictionary) is the thread's cached one. */
unsigned long li707__sax_generation(xmlParserCtxtPtr ctxt);
void li707__xml_thread_cleanup(void);

/* The bytes between the start tag at start and the end tag ending at end (the element's
 * span in buf): 0 with *out a new string, LI707_ELIMIT over cap, LI707_EXML when the span
 * is not an element's, LI707_ENOMEM. */
int li707__xml_slice_content(const char *buf, size_t len, size_t start, size_t end, size_t cap,
			     char **out);

/* li707__xml_raw_content for an element of a partial document built while streaming:
 * [start, end) is the element's span in buf (start at '<', end past '>'), when known.
 * *sliced: the exact bytes were returned (namespace-complete); else a serialisation. */
int li707__xml_raw_content_span(const char *buf, size_t len, size_t start, size_t end,
				xmlNodePtr elem, size_t cap, char **out, bool *sliced);

/* A new document whose root element is a deep copy of node, with every namespace in scope
 * at node declared on the root (xmlns="" when no default namespace is in scope), so the copy
 * means the same on its own, QName values such as xsi:type included. NULL for a non-element
 * or on ENOMEM. The raw-content fallback serialises these. */
xmlDocPtr li707__xml_copy_subtree(xmlNodePtr node);

/* ---- time ---- */
bool li707__is_leap(int64_t y);

#endif
