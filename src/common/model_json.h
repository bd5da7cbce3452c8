/* li707 - the data model as JSON (jansson), shared by `li707 show --json` and the LEA's
 * analyst commands (`li707-lea show/list --json`), so both render a message, a delivery and
 * an item alike.
 *
 * The keys are documented in docs/man/li707.1 (li707 show --json) and change only by
 * addition. Conventions: an absent optional value is null; a uint64_t is a JSON integer, or a
 * decimal string above 2^63 - 1 (never altered); an li707_tristate is true/false/null.
 * Raw XML content (glossary, CSP xmlData, schemaContent) is given as its length in bytes,
 * not its text.
 *
 * Every builder returns a new reference (the caller json_decref()s it), or NULL when jansson
 * could not allocate. The builders never log. */
#ifndef LX_MODEL_JSON_H
#define LX_MODEL_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "li707/li707.h"

/* Value helpers: a string or null (s NULL), a uint64_t, a tristate. */
json_t *lx_json_str(const char *s);
json_t *lx_json_u64(uint64_t v);
json_t *lx_json_tristate(enum li707_tristate t);

/* Stable names used in the JSON and the text output. */
const char *lx_verb_name(enum li707_verb v);          /* "DELIVER", "GET", ... "OTHER" */
const char *lx_payload_name(enum li707_payload_kind p); /* "handoverItem", ..., "none" */
const char *lx_ref_kind_name(enum li707_ref_kind k);  /* "LIID" or "LDID" */

/* {"ids": [{"qualified", "format_owner", "format_name", "value"}...], "target"} */
json_t *lx_json_party(const struct li707_party *p);
/* {"timestamp", "correlation": {"id", "seq"} | null, "sender", "receivers": [...],
 *  "attachments": [{"filename", "content_type", "size", "sha256", "url", "expiry",
 *  "csp_id"}...], "glossary_bytes", "csp": [{"schema", "schema_url",
 *  "schema_content_bytes", "xml_bytes"}...]} */
json_t *lx_json_item(const struct li707_item *it);
/* {"identifier", "object_id", "country_code", "owner_id", "reference": {"kind", "value"},
 *  "delivery_id", "sequence", "last_sequence", "manifest", "payload", "foreign_root",
 *  "items": [...]} */
json_t *lx_json_delivery(const struct li707_delivery *d);
/* {"kind", "header": {...}, "actions": [...], "responses": [...], "error"} */
json_t *lx_json_message(const struct li707_message *m);

#endif
