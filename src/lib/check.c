/* li707 - the checker: every value and consistency rule of docs/checks.md, run on a model.
 *
 * DESIGN
 * The decoder turns XML into a model and checks only structure (which elements exist, in
 * which order); the encoder takes a model from the caller. Both then call
 * li707__message_check(), so a value rule lives in exactly one place and a message li707
 * encodes is one li707 accepts. The walk mirrors the schema: header, actions, DeliveryObject,
 * items, parties, binary objects, CSP blocks; responses have their own short walk. Two rules
 * look across the message and run after the walk on sorted index arrays: ActionIdentifier
 * uniqueness (R-DEL-1) and url uniqueness (R-CORE-5); R-HDR-2 runs per collection.
 *
 * Every finding carries the element path the decoder would report (repeatable elements
 * always with their 1-based position among same-name siblings), the input line when a line
 * map is given, the requirement ID and a message that names the field and the rule but never
 * the field's value (identifiers and content are sensitive, R-SEC-6).
 *
 * Severity: an ERROR sets the status of the action it concerns (first error wins) and makes
 * the call fail; WARNING and NOTE are information only. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SHORTSTRING_MAX 255u  /* TS 103 280 ShortString */
#define LONGSTRING_MAX 65535u /* TS 103 280 LongString */

#define PATH_HEADER "/HI1Message/Header"
#define PATH_REQUESTS "/HI1Message/Payload/RequestPayload/ActionRequests"
#define PATH_RESPONSE "/HI1Message/Payload/ResponsePayload"
#define PATH_CORE "/payload/coreParameters"
#define CK_PATH_DEPTH 16   /* path components kept (deeper pushes are not shown) */
#define CK_PATH_MAX 1024   /* bytes of a formatted path */

struct ck {
	const struct li707_message *m;
	struct li707_limits lim;
	struct li707_diags *diags;
	const struct li707__linemap *lines;
	int *status;      /* per action, may be NULL */
	size_t n_status;
	size_t action;    /* action the current findings concern, or LI707__NO_ACTION */
	int first;        /* code of the first error */
	bool oom;         /* a diagnostic or an index array could not be allocated */
	bool sending;     /* checking a message li707 is about to send (V1.9.1 rules only) */
	/* Path of the element being checked, kept as its components (a format and its one
	 * argument) and formatted only when a finding needs it: the walk visits every element
	 * of every item, and formatting each path cost ≈ 8% of a collection's decode. */
	size_t ncomp;
	struct path_comp {
		const char *fmt;  /* at most one conversion: %zu or %s */
		size_t zu;
		const char *s;
	} comp[CK_PATH_DEPTH];
};

/* ---- paths ---- */

/* vsnprintf() for the only conversion paths use, %zu, without the cost of stdio (paths are
 * built for every element the walk visits); any other format goes to vsnprintf(). Same
 * result, truncation included: returns the full length, writes at most size - 1 bytes and a
 * NUL. */
static int path_format(char *dst, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int path_format(char *dst, size_t size, const char *fmt, va_list ap)
{
	for (const char *f = strchr(fmt, '%'); f; f = strchr(f + 3, '%'))
		if (f[1] != 'z' || f[2] != 'u')
			return vsnprintf(dst, size, fmt, ap);
	size_t n = 0;
	for (const char *f = fmt;;) {
		const char *pct = strchr(f, '%');
		size_t run = pct ? (size_t)(pct - f) : strlen(f);
		char num[24];
		char *digits = num + sizeof num;
		if (pct) {
			size_t v = va_arg(ap, size_t);
			do {
				*--digits = (char)('0' + v % 10);
				v /= 10;
			} while (v);
		}
		size_t dn = (size_t)(num + sizeof num - digits);
		if (n < size) {
			size_t k = run < size - 1 - n ? run : size - 1 - n;
			memcpy(dst + n, f, k);
			if (n + k < size - 1) {
				size_t kd = dn < size - 1 - n - k ? dn : size - 1 - n - k;
				memcpy(dst + n + k, digits, kd);
			}
		}
		n += run + dn;
		if (!pct)
			break;
		f = pct + 3; /* past "%zu" */
	}
	if (size)
		dst[n < size ? n : size - 1] = '\0';
	return n > INT_MAX ? -1 : (int)n;
}

/* Appends a component; returns the depth to restore with path_pop(). The argument (if the
 * format has a conversion) is read now; a %s string must live until the pop. */
static size_t path_vpush(struct ck *c, const char *fmt, va_list ap)
{
	size_t mark = c->ncomp;
	if (c->ncomp == CK_PATH_DEPTH)
		return mark;
	struct path_comp *p = &c->comp[c->ncomp++];
	*p = (struct path_comp){.fmt = fmt};
	const char *pct = strchr(fmt, '%');
	if (pct && pct[1] == 's')
		p->s = va_arg(ap, const char *);
	else if (pct)
		p->zu = va_arg(ap, size_t);
	return mark;
}

static size_t path_push(struct ck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(struct ck *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t mark = path_vpush(c, fmt, ap);
	va_end(ap);
	return mark;
}

static void path_set(struct ck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_set(struct ck *c, const char *fmt, ...)
{
	c->ncomp = 0;
	va_list ap;
	va_start(ap, fmt);
	path_vpush(c, fmt, ap);
	va_end(ap);
}

static void path_pop(struct ck *c, size_t mark)
{
	c->ncomp = mark;
}

/* Formats one component (path_format's rules, truncation included). */
static int comp_format(char *dst, size_t size, const struct path_comp *p, ...)
{
	va_list ap;
	va_start(ap, p);
	int n = path_format(dst, size, p->fmt, ap);
	va_end(ap);
	return n;
}

/* The current path, formatted into dst (CK_PATH_MAX bytes). */
static void path_string(const struct ck *c, char *dst)
{
	size_t len = 0;
	dst[0] = '\0';
	for (size_t i = 0; i < c->ncomp && len < CK_PATH_MAX - 1; i++) {
		const struct path_comp *p = &c->comp[i];
		const char *pct = strchr(p->fmt, '%');
		int n = !pct ? comp_format(dst + len, CK_PATH_MAX - len, p)
		      : pct[1] == 's' ? comp_format(dst + len, CK_PATH_MAX - len, p, p->s)
				      : comp_format(dst + len, CK_PATH_MAX - len, p, p->zu);
		if (n < 0)
			break;
		len += (size_t)n < CK_PATH_MAX - len ? (size_t)n : CK_PATH_MAX - len - 1;
	}
}

/* Path of item idx of action ai's DeliveryObject (the same form decode.c reports). */
static void path_item(struct ck *c, size_t ai, const struct li707_delivery *d, size_t idx)
{
	path_set(c, LI707__PATH_XMLDATA, ai + 1);
	if (d->payload == LI707_PAYLOAD_COLLECTION)
		path_push(c, "/handoverItemCollection/handoverItem[%zu]", idx + 1);
	else if (idx == 0)
		path_push(c, "/handoverItem");
	else
		path_push(c, "/handoverItem[%zu]", idx + 1);
}

/* ---- findings ---- */

/* Records a finding at the current path plus leaf (may be NULL). key: model pointer whose
 * input line the line map knows (NULL: no line). */
static void report(struct ck *c, enum li707_severity sev, int code, const void *key,
		   const char *leaf, const char *req, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static void report(struct ck *c, enum li707_severity sev, int code, const void *key,
		   const char *leaf, const char *req, const char *fmt, ...)
{
	if (sev == LI707_SEV_ERROR) {
		if (!c->first)
			c->first = code;
		if (c->status && c->action < c->n_status && c->status[c->action] == 0)
			c->status[c->action] = code;
	}
	if (!c->diags)
		return;
	char msg[512], base[CK_PATH_MAX], path[CK_PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	path_string(c, base);
	snprintf(path, sizeof path, "%s%s", base, leaf ? leaf : "");
	long line = (c->lines && key) ? li707__linemap_get(c->lines, key) : 0;
	if (li707_diags_add(c->diags, c->lim.max_diagnostics, sev, code, line, path, req,
			    c->action, "%s", msg) == LI707_ENOMEM)
		c->oom = true;
}

#define ERR(c, key, leaf, req, ...) \
	report(c, LI707_SEV_ERROR, LI707_EINVALID, key, leaf, req, __VA_ARGS__)
#define LIMIT(c, key, leaf, req, ...) \
	report(c, LI707_SEV_ERROR, LI707_ELIMIT, key, leaf, req, __VA_ARGS__)
#define WARN(c, key, leaf, req, ...) report(c, LI707_SEV_WARNING, 0, key, leaf, req, __VA_ARGS__)
#define NOTE(c, key, leaf, req, ...) report(c, LI707_SEV_NOTE, 0, key, leaf, req, __VA_ARGS__)

/* ---- value helpers ---- */

/* A fixed char array holds a C string (callers are expected to, but a model is input). */
static const char *arr_str(const char *a, size_t size)
{
	return memchr(a, '\0', size) ? a : NULL;
}

/* Length and encoding of one text value: the type's maximum (type_max, 0 = none; EINVALID),
 * the configured cap (max_raw_xml_bytes for raw content, else max_string_bytes; ELIMIT) and
 * UTF-8 without XML-forbidden characters (EINVALID). True when all hold. */
static bool text_ok(struct ck *c, const char *s, const void *key, const char *leaf,
		    const char *req, const char *what, size_t type_max, bool raw)
{
	size_t len = strlen(s);
	size_t cap = raw ? c->lim.max_raw_xml_bytes : c->lim.max_string_bytes;
	if (!key)
		key = s;
	if (type_max && len > type_max) {
		ERR(c, key, leaf, req, "%s is longer than %zu bytes (TS 103 280 %s)", what,
		    type_max, type_max == SHORTSTRING_MAX ? "ShortString" : "LongString");
		return false;
	}
	if (len > cap) {
		LIMIT(c, key, leaf, req, "%s exceeds the configured limit of %zu bytes", what, cap);
		return false;
	}
	if (!li707_check_utf8(s, len)) {
		ERR(c, key, leaf, req, "%s is not valid UTF-8 or contains characters XML forbids",
		    what);
		return false;
	}
	return true;
}

/* A mandatory text value: present (and non-empty when nonempty), then text_ok(). parent is
 * the line-map key used when the value is missing. */
static bool text_required(struct ck *c, const char *s, const void *parent, const char *leaf,
			  const char *req, const char *what, size_t type_max, bool nonempty)
{
	if (!s) {
		ERR(c, parent, leaf, req, "%s is missing", what);
		return false;
	}
	if (nonempty && !*s) {
		ERR(c, s, leaf, req, "%s is empty", what);
		return false;
	}
	return text_ok(c, s, s, leaf, req, what, type_max, false);
}

/* TS 103 280 QualifiedDateTime: no fraction of a second (R-CORE-2, R-CORE-5). */
static void check_qualified_datetime(struct ck *c, const char *s, const char *leaf,
				     const char *req, const char *what)
{
	struct li707_time t;
	if (li707_parse_qualified_datetime(s, &t))
		return;
	if (strchr(s, '.'))
		ERR(c, s, leaf, req,
		    "%s has a fraction of a second; a TS 103 280 QualifiedDateTime has none", what);
	else
		ERR(c, s, leaf, req,
		    "%s is not a TS 103 280 QualifiedDateTime (YYYY-MM-DDThh:mm:ss with Z or "
		    "+hh:mm/-hh:mm, a real date and time)", what);
}

/* ---- header (TS 103 707 Table 1, R-DEL-3) ---- */

static void check_endpoint(struct ck *c, const struct li707_header *h, const char *cc,
			   const char *id, const char *elem)
{
	size_t mark = path_push(c, "/%s", elem);
	const char *ccs = arr_str(cc, 3);
	if (!ccs || !*ccs)
		ERR(c, h, "/CountryCode", "R-DEL-3", "%s CountryCode is missing", elem);
	else if (!li707_check_country(ccs))
		ERR(c, cc, "/CountryCode", "R-DEL-3",
		    "%s CountryCode is not an ISO 3166-1 alpha-2 or user-assigned code", elem);
	text_required(c, id, h, "/UniqueIdentifier", "R-DEL-3", "UniqueIdentifier",
		      LONGSTRING_MAX, true);
	path_pop(c, mark);
}

static void check_header(struct ck *c, const struct li707_header *h)
{
	c->action = LI707__NO_ACTION;
	path_set(c, PATH_HEADER);
	check_endpoint(c, h, h->sender_cc, h->sender_id, "SenderIdentifier");
	check_endpoint(c, h, h->receiver_cc, h->receiver_id, "ReceiverIdentifier");

	const char *tid = arr_str(h->transaction_id, sizeof h->transaction_id);
	if (!tid || !*tid)
		ERR(c, h, "/TransactionIdentifier", "R-DEL-3", "TransactionIdentifier is missing");
	else if (!li707_check_uuid(tid))
		ERR(c, h->transaction_id, "/TransactionIdentifier", "R-DEL-3",
		    "TransactionIdentifier is not a canonical lower-case UUID");

	struct li707_time t;
	if (!h->timestamp)
		ERR(c, h, "/Timestamp", "R-DEL-3", "Timestamp is missing");
	else if (li707_parse_qualified_usec_datetime(h->timestamp, &t))
		;
	else if (li707_parse_qualified_datetime(h->timestamp, &t))
		WARN(c, h->timestamp, "/Timestamp", "R-DEL-3",
		     "Timestamp has no microseconds (QualifiedDateTime of older TS 103 120 "
		     "versions; V1.12.1 uses QualifiedMicrosecondDateTime)");
	else
		ERR(c, h->timestamp, "/Timestamp", "R-DEL-3",
		    "Timestamp is not a QualifiedMicrosecondDateTime "
		    "(YYYY-MM-DDThh:mm:ss.ffffff with Z or +hh:mm/-hh:mm)");

	if (!h->etsi_version)
		ERR(c, h, "/Version/ETSIVersion", "R-DEL-3", "ETSIVersion is missing");
	else if (!li707_check_etsi_version(h->etsi_version))
		ERR(c, h->etsi_version, "/Version/ETSIVersion", "R-DEL-3",
		    "ETSIVersion is not of the form V<n>.<n>.<n>");
	text_required(c, h->np_owner, h, "/Version/NationalProfileOwner", "R-DEL-3",
		      "NationalProfileOwner", SHORTSTRING_MAX, false);
	text_required(c, h->np_version, h, "/Version/NationalProfileVersion", "R-DEL-3",
		      "NationalProfileVersion", SHORTSTRING_MAX, false);
}

/* ---- parties (Tables 7, 7A; R-CORE-3) ---- */

/* The current path is the MessagingParty element. Returns true when some identifier is
 * qualified (a post-V1.1.1 feature, see R-CORE-2). */
static bool check_party(struct ck *c, const struct li707_party *p)
{
	bool qualified = false;
	size_t n = p->ids ? p->n_ids : 0;
	if (n == 0) {
		ERR(c, p, "/identifiers", "R-CORE-3",
		    "identifiers must hold at least one identifier");
		return false;
	}
	if (n > c->lim.max_identifiers)
		LIMIT(c, p, "/identifiers", "R-CORE-3",
		      "identifiers holds more than the configured limit of %zu",
		      c->lim.max_identifiers);
	size_t n_plain = 0, n_qual = 0;
	for (size_t i = 0; i < n; i++) {
		const struct li707_party_id *id = &p->ids[i];
		size_t mark;
		if (!id->qualified) {
			mark = path_push(c, "/identifiers/identifier[%zu]", ++n_plain);
			text_required(c, id->value, id, NULL, "R-CORE-3", "identifier",
				      LONGSTRING_MAX, true);
			if (id->format_owner || id->format_name)
				ERR(c, id, NULL, "R-CORE-3",
				    "a plain identifier has no formatType (use a "
				    "qualifiedPartyIdentifier)");
			path_pop(c, mark);
			continue;
		}
		qualified = true;
		mark = path_push(c, "/identifiers/qualifiedPartyIdentifier[%zu]", ++n_qual);
		if (!id->format_owner != !id->format_name) {
			ERR(c, id, "/formatType", "R-CORE-3",
			    "formatType needs both formatOwner and formatName");
		} else if (id->format_owner) {
			text_ok(c, id->format_owner, NULL, "/formatType/formatOwner", "R-CORE-3",
				"formatOwner", SHORTSTRING_MAX, false);
			text_ok(c, id->format_name, NULL, "/formatType/formatName", "R-CORE-3",
				"formatName", SHORTSTRING_MAX, false);
		}
		text_required(c, id->value, id, "/value", "R-CORE-3", "identifier value",
			      LONGSTRING_MAX, true);
		path_pop(c, mark);
	}
	return qualified;
}

/* ---- binary objects (Table 8; R-CORE-5, R-BIN-1) ---- */

static void check_binary_object(struct ck *c, const struct li707_binary_object *b)
{
	if (!b->url)
		ERR(c, b, "/url", "R-CORE-5", "url is missing");
	else if (text_ok(c, b->url, NULL, "/url", "R-CORE-5", "url", 0, false) &&
		 !li707_check_https_url(b->url))
		ERR(c, b->url, "/url", "R-BIN-1",
		    "url is not an absolute https URL with a host (binary data is delivered "
		    "over HTTPS only)");
	if (b->content_type &&
	    text_ok(c, b->content_type, NULL, "/contentType", "R-CORE-5", "contentType",
		    SHORTSTRING_MAX, false) &&
	    !li707_check_mime_type(b->content_type))
		ERR(c, b->content_type, "/contentType", "R-CORE-5",
		    "contentType is not an RFC 6838 type/subtype with optional parameters");
	if (b->expiry)
		check_qualified_datetime(c, b->expiry, "/expiry", "R-CORE-5", "expiry");
	if (b->checksum && !li707_check_sha256_hex(b->checksum))
		ERR(c, b->checksum, "/checksum", "R-CORE-5",
		    "checksum is not a SHA-256 digest of 64 hexadecimal digits");
	if (b->original_filename)
		text_ok(c, b->original_filename, NULL, "/originalFilename", "R-CORE-5",
			"originalFilename", LONGSTRING_MAX, false);
	if (b->csp_defined_identifier)
		text_ok(c, b->csp_defined_identifier, NULL, "/cspDefinedIdentifier", "R-CORE-5",
			"cspDefinedIdentifier", LONGSTRING_MAX, false);
}

/* ---- CSP-defined information (clause 5.6, Table 9; R-CSP-2) ---- */

static void check_csp(struct ck *c, const struct li707_csp_data *cd)
{
	text_required(c, cd->schema_id, cd, "/schemaDetails/schemaIdentifier", "R-CSP-2",
		      "schemaIdentifier", LONGSTRING_MAX, true);
	if (cd->schema_url &&
	    text_ok(c, cd->schema_url, NULL, "/schemaDetails/schemaURL", "R-CSP-2", "schemaURL",
		    0, false) &&
	    !li707_check_uri(cd->schema_url))
		ERR(c, cd->schema_url, "/schemaDetails/schemaURL", "R-CSP-2",
		    "schemaURL is not an absolute URI");
	if (cd->schema_content)
		text_ok(c, cd->schema_content, NULL, "/schemaDetails/schemaContent", "R-CSP-2",
			"schemaContent", 0, true);
	if (cd->xml)
		text_ok(c, cd->xml, NULL, "/xmlData", "R-CSP-2", "xmlData", 0, true);
}

/* ---- items (clauses 5.3-5.6) ---- */

static void check_item(struct ck *c, const struct li707_item *it)
{
	bool post_v111 = false;
	size_t mark;

	if (it->sender) {
		mark = path_push(c, PATH_CORE "/messageSender");
		post_v111 |= check_party(c, it->sender);
		path_pop(c, mark);
	}
	size_t n = it->receivers ? it->n_receivers : 0;
	if (n > c->lim.max_identifiers)
		LIMIT(c, it, PATH_CORE "/messageReceivers", "R-CORE-3",
		      "messageReceivers holds more than the configured limit of %zu",
		      c->lim.max_identifiers);
	if (it->n_receivers && !it->receivers)
		ERR(c, it, PATH_CORE "/messageReceivers", "R-CORE-1",
		    "messageReceivers count is set but the list is missing");
	for (size_t i = 0; i < n; i++) {
		mark = path_push(c, PATH_CORE "/messageReceivers/recipient[%zu]", i + 1);
		post_v111 |= check_party(c, &it->receivers[i]);
		path_pop(c, mark);
	}

	/* TS103707 R-CORE-2: M in V1.9.1, O in V1.1.1; qualified identifiers came later.
	 * li707 writes V1.9.1: only items it reads (or exports as read) may lack it. */
	if (it->timestamp)
		check_qualified_datetime(c, it->timestamp, PATH_CORE "/timestamp", "R-CORE-2",
					 "timestamp");
	else if (c->sending)
		ERR(c, it, PATH_CORE "/timestamp", "R-CORE-2",
		    "timestamp is missing: it is mandatory in TS 103 707 V1.9.1 (Table 6), "
		    "the version li707 writes");
	else if (post_v111)
		ERR(c, it, PATH_CORE "/timestamp", "R-CORE-2",
		    "timestamp is missing: it is mandatory since V1.9.1 and this item uses "
		    "qualified identifiers (not V1.1.1 form)");
	else
		NOTE(c, it, PATH_CORE "/timestamp", "R-CORE-2",
		     "item in TS 103 707 V1.1.1 form (no timestamp)");

	n = it->attachments ? it->n_attachments : 0;
	if (it->n_attachments && !it->attachments)
		ERR(c, it, PATH_CORE "/associatedBinaryData", "R-CORE-5",
		    "associatedBinaryData count is set but the list is missing");
	if (n > c->lim.max_attachments)
		LIMIT(c, it, PATH_CORE "/associatedBinaryData", "R-CORE-5",
		      "associatedBinaryData holds more than the configured limit of %zu",
		      c->lim.max_attachments);
	for (size_t i = 0; i < n; i++) {
		mark = path_push(c, PATH_CORE "/associatedBinaryData/binaryObject[%zu]", i + 1);
		check_binary_object(c, &it->attachments[i]);
		path_pop(c, mark);
	}

	if (it->glossary)
		text_ok(c, it->glossary, NULL, "/payload/glossary", "R-CSP-1", "glossary", 0, true);

	n = it->csp ? it->n_csp : 0;
	if (it->n_csp && !it->csp)
		ERR(c, it, "/payload/cspDefinedParameters", "R-CSP-2",
		    "cspDefinedParameters count is set but the list is missing");
	for (size_t i = 0; i < n; i++) {
		mark = path_push(c, "/payload/cspDefinedParameters/cspDefinedMetadata[%zu]", i + 1);
		check_csp(c, &it->csp[i]);
		path_pop(c, mark);
	}
}

/* ---- R-HDR-2 within one collection ---- */

struct seqref {
	uint64_t level, seq;
	size_t idx;
};

static int seqref_cmp(const void *a, const void *b)
{
	const struct seqref *x = a, *y = b;
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* TS103707 R-HDR-2: no repeats of (applicationLevelID, applicationSequenceNumber) in one
 * collection (error); gaps are only noted, as a level's items may span messages. */
static void check_sequences(struct ck *c, size_t ai, const struct li707_delivery *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n_items; i++)
		n += d->items[i].has_correlation;
	if (n < 2)
		return;
	struct seqref *v = malloc(n * sizeof *v);
	if (!v) {
		c->oom = true;
		return;
	}
	n = 0;
	for (size_t i = 0; i < d->n_items; i++)
		if (d->items[i].has_correlation)
			v[n++] = (struct seqref){d->items[i].app_level_id, d->items[i].app_seq, i};
	qsort(v, n, sizeof *v, seqref_cmp);

	bool gaps = false;
	for (size_t i = 1; i < n; i++) {
		if (v[i].level != v[i - 1].level)
			continue;
		if (v[i].seq == v[i - 1].seq) {
			path_item(c, ai, d, v[i].idx);
			ERR(c, &d->items[v[i].idx], "/header/applicationCorrelation", "R-HDR-2",
			    "applicationSequenceNumber repeats that of handoverItem[%zu] for the "
			    "same applicationLevelID",
			    v[i - 1].idx + 1);
		} else if (v[i].seq != v[i - 1].seq + 1) {
			gaps = true;
		}
	}
	if (gaps) {
		path_set(c, LI707__PATH_XMLDATA "/handoverItemCollection", ai + 1);
		NOTE(c, d, NULL, "R-HDR-2",
		     "applicationSequenceNumber values of an applicationLevelID have gaps in this "
		     "collection (the missing items may be in other messages)");
	}
	free(v);
}

/* ---- DeliveryObject (Tables 2, 3; TS 103 120 clause 10) ---- */

/* TS103707 R-DEL-5 (Table 3): a Manifest, if present, names TS 103 707 through the
 * ManifestSpecification dictionary entry (TS 103 120 V1.14.1 and later). */
static void check_manifest(struct ck *c, const struct li707_delivery *d)
{
	static const char *const leaf[3] = {
		"/delivery:Manifest/delivery:Specification/common:Owner",
		"/delivery:Manifest/delivery:Specification/common:Name",
		"/delivery:Manifest/delivery:Specification/common:Value",
	};
	static const char *const what[3] = {"Owner", "Name", "Value"};
	static const char *const want[3] = {LI707_MANIFEST_OWNER, LI707_MANIFEST_NAME,
					    LI707_MANIFEST_VALUE};
	const char *got[3] = {d->manifest_owner, d->manifest_name, d->manifest_value};

	switch (d->manifest) {
	case LI707_MANIFEST_NONE:
		return;
	case LI707_MANIFEST_EXTERNAL:
		ERR(c, d, "/delivery:Manifest/delivery:ExternalSchema", "R-DEL-5",
		    "Manifest is an ExternalSchema; if present it shall name TS 103 707 "
		    "(Specification ETSI/ManifestSpecification/TS103707)");
		return;
	case LI707_MANIFEST_SPECIFICATION:
		for (size_t i = 0; i < 3; i++)
			if (!got[i] || strcmp(got[i], want[i]) != 0)
				ERR(c, got[i] ? (const void *)got[i] : (const void *)d, leaf[i],
				    "R-DEL-5", "Manifest Specification %s shall be \"%s\" to name "
				    "TS 103 707", what[i], want[i]);
		return;
	}
	ERR(c, d, "/delivery:Manifest", "R-DEL-5", "Manifest kind is unknown");
}

static void check_delivery(struct ck *c, size_t ai, const struct li707_delivery *d)
{
	const struct li707_header *h = &c->m->header;

	/* TS103707 R-DEL-5: a DELIVER of something else than a 707 object is valid HI-1 but not
	 * ours. Reported first, so that it is the action's status (ENOT707, answered "not
	 * supported"); its Manifest and payload are not looked at. */
	path_set(c, LI707__PATH_OBJECT, ai + 1);
	bool not707 = d->payload == LI707_PAYLOAD_FOREIGN_XML || d->payload == LI707_PAYLOAD_BINARY;
	if (d->payload == LI707_PAYLOAD_FOREIGN_XML)
		report(c, LI707_SEV_ERROR, LI707_ENOT707, d, "/delivery:Delivery/delivery:XMLData",
		       "R-DEL-5",
		       "payload is not a TS 103 707 delivery (XMLData root of another schema)");
	else if (d->payload == LI707_PAYLOAD_BINARY)
		report(c, LI707_SEV_ERROR, LI707_ENOT707, d,
		       "/delivery:Delivery/delivery:BinaryData", "R-DEL-5",
		       "payload is not a TS 103 707 delivery (BinaryData)");

	path_set(c, LI707__PATH_ACTION "/DELIVER", ai + 1);

	const char *ident = arr_str(d->identifier, sizeof d->identifier);
	const char *oid = arr_str(d->object_id, sizeof d->object_id);
	if (!ident)
		ERR(c, d, "/Identifier", "R-DEL-1", "Identifier is not a terminated string");
	else if (*ident && !li707_check_uuid(ident))
		ERR(c, d->identifier, "/Identifier", "R-DEL-1",
		    "Identifier is not a canonical lower-case UUID");
	else if (*ident && oid && strcmp(ident, oid) != 0)
		WARN(c, d->identifier, "/Identifier", "R-DEL-1",
		     "DELIVER Identifier differs from the ObjectIdentifier (TS 103 120 examples "
		     "use the same value)");

	path_set(c, LI707__PATH_OBJECT, ai + 1);
	if (!oid || !*oid)
		ERR(c, d, "/ObjectIdentifier", "R-DEL-1", "ObjectIdentifier is missing");
	else if (!li707_check_uuid(oid))
		ERR(c, d->object_id, "/ObjectIdentifier", "R-DEL-1",
		    "ObjectIdentifier is not a canonical lower-case UUID");

	/* TS103707 R-DEL-4 (Table 2): the object belongs to the receiver. Table 2 is TS 103 707's
	 * rule: a DELIVER of another kind (already reported ENOT707) is only held to the TS 103 120
	 * syntax of the fields it has. */
	const char *cc = arr_str(d->country_code, sizeof d->country_code);
	const char *rcc = arr_str(h->receiver_cc, sizeof h->receiver_cc);
	if (not707) {
		if (cc && *cc && !li707_check_country(cc))
			ERR(c, d->country_code, "/CountryCode", "R-DEL-4",
			    "CountryCode is not an ISO 3166-1 alpha-2 or user-assigned code");
		if (d->owner_id)
			text_ok(c, d->owner_id, NULL, "/OwnerIdentifier", "R-DEL-4", "OwnerIdentifier",
				SHORTSTRING_MAX, false);
	} else if (!cc || !*cc)
		ERR(c, d, "/CountryCode", "R-DEL-4", "CountryCode is missing");
	else if (!li707_check_country(cc))
		ERR(c, d->country_code, "/CountryCode", "R-DEL-4",
		    "CountryCode is not an ISO 3166-1 alpha-2 or user-assigned code");
	else if (!rcc || strcmp(cc, rcc) != 0)
		ERR(c, d->country_code, "/CountryCode", "R-DEL-4",
		    "CountryCode differs from the header's ReceiverIdentifier CountryCode");
	if (!not707 &&
	    text_required(c, d->owner_id, d, "/OwnerIdentifier", "R-DEL-4", "OwnerIdentifier",
			  SHORTSTRING_MAX, false) &&
	    (!h->receiver_id || strcmp(d->owner_id, h->receiver_id) != 0))
		ERR(c, d->owner_id, "/OwnerIdentifier", "R-DEL-4",
		    "OwnerIdentifier differs from the header's ReceiverIdentifier "
		    "UniqueIdentifier");

	/* TS103707 R-DEL-5 (Table 3): Reference. */
	const char *rleaf = d->ref_kind == LI707_REF_LDID ? "/delivery:Reference/delivery:LDID"
							  : "/delivery:Reference/delivery:LIID";
	if (d->ref_kind != LI707_REF_LIID && d->ref_kind != LI707_REF_LDID)
		ERR(c, d, "/delivery:Reference", "R-DEL-5", "Reference kind is unknown");
	else if (!d->reference)
		ERR(c, d, "/delivery:Reference", "R-DEL-5", "Reference (LIID or LDID) is missing");
	else if (!text_ok(c, d->reference, NULL, rleaf, "R-DEL-5", "Reference", 0, false))
		;
	else if (d->ref_kind == LI707_REF_LIID && !li707_check_liid(d->reference))
		ERR(c, d->reference, rleaf, "R-DEL-5",
		    "LIID is not a TS 103 280 LIID (1-25 printable ASCII characters or 26-50 "
		    "lower-case hexadecimal digits)");
	else if (d->ref_kind == LI707_REF_LDID && !li707_check_ldid(d->reference))
		ERR(c, d->reference, rleaf, "R-DEL-5",
		    "LDID is not a TS 103 280 LDID (country code, '-', issuer, '-', number)");

	/* TS103707 R-DEL-6: DeliveryID / SequenceNumber / LastSequence. */
	const char *did = arr_str(d->delivery_id, sizeof d->delivery_id);
	if (!did)
		ERR(c, d, "/delivery:DeliveryID", "R-DEL-6", "DeliveryID is not a terminated string");
	else if (!*did)
		WARN(c, d, "/delivery:DeliveryID", "R-DEL-6",
		     "DeliveryID is absent: the receiver cannot detect gaps or duplicates");
	else if (!li707_check_uuid(did))
		ERR(c, d->delivery_id, "/delivery:DeliveryID", "R-DEL-6",
		    "DeliveryID is not a canonical lower-case UUID");
	if ((d->has_sequence || d->last_sequence != LI707_ABSENT) && did && !*did)
		WARN(c, d, d->has_sequence ? "/delivery:SequenceNumber" : "/delivery:LastSequence",
		     "R-DEL-6", "SequenceNumber/LastSequence without a DeliveryID they belong to");
	if (d->last_sequence != LI707_ABSENT && !d->has_sequence)
		WARN(c, d, "/delivery:LastSequence", "R-DEL-6",
		     "LastSequence without a SequenceNumber");
	if (d->last_sequence != LI707_ABSENT && d->last_sequence != LI707_FALSE &&
	    d->last_sequence != LI707_TRUE)
		ERR(c, d, "/delivery:LastSequence", "R-DEL-6", "LastSequence value is unknown");

	if (!not707)
		check_manifest(c, d);

	/* TS103707 R-DEL-5 (Table 3 Delivery) and R-DEL-2. */
	size_t n = d->items ? d->n_items : 0;
	switch (d->payload) {
	case LI707_PAYLOAD_ITEM:
		if (n != 1)
			ERR(c, d, "/delivery:Delivery/delivery:XMLData/handoverItem", "R-DEL-2",
			    "a handoverItem delivery carries exactly one item");
		break;
	case LI707_PAYLOAD_COLLECTION:
		if (n == 0)
			ERR(c, d, "/delivery:Delivery/delivery:XMLData/handoverItemCollection",
			    "R-DEL-2", "handoverItemCollection holds no handoverItem");
		else if (n > c->lim.max_items)
			LIMIT(c, d, "/delivery:Delivery/delivery:XMLData/handoverItemCollection",
			      "R-DEL-2",
			      "handoverItemCollection holds more than the configured limit of %zu "
			      "items",
			      c->lim.max_items);
		break;
	case LI707_PAYLOAD_FOREIGN_XML:
	case LI707_PAYLOAD_BINARY:
		return; /* reported first, above */
	case LI707_PAYLOAD_NONE:
		ERR(c, d, "/delivery:Delivery", "R-DEL-5",
		    "Delivery is missing: it shall carry a TS 103 707 handoverItem or "
		    "handoverItemCollection");
		return;
	default:
		ERR(c, d, "/delivery:Delivery", "R-DEL-5", "Delivery kind is unknown");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		path_item(c, ai, d, i);
		check_item(c, &d->items[i]);
	}
	if (d->payload == LI707_PAYLOAD_COLLECTION && n)
		check_sequences(c, ai, d);
}

/* ---- cross-message uniqueness ---- */

struct idref {
	uint64_t id;
	size_t idx;
};

static int idref_cmp(const void *a, const void *b)
{
	const struct idref *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* ActionIdentifiers are unique in a request (R-DEL-1) and in a response (R-TRN-3). */
static void check_unique_ids(struct ck *c, bool response)
{
	const struct li707_message *m = c->m;
	size_t n = response ? m->n_responses : m->n_actions;
	if (n < 2)
		return;
	struct idref *v = malloc(n * sizeof *v);
	if (!v) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (struct idref){response ? m->responses[i].action_id
					       : m->actions[i].action_id, i};
	qsort(v, n, sizeof *v, idref_cmp);
	for (size_t i = 1; i < n; i++) {
		if (v[i].id != v[i - 1].id)
			continue;
		size_t j = v[i].idx;
		c->action = j;
		if (response)
			path_set(c, PATH_RESPONSE "/ActionResponses/ActionResponse[%zu]", j + 1);
		else
			path_set(c, LI707__PATH_ACTION, j + 1);
		ERR(c, response ? (const void *)&m->responses[j] : (const void *)&m->actions[j],
		    "/ActionIdentifier", response ? "R-TRN-3" : "R-DEL-1",
		    "ActionIdentifier repeats that of entry %zu of this message (identifiers are "
		    "unique per message)",
		    v[i - 1].idx + 1);
	}
	c->action = LI707__NO_ACTION;
	free(v);
}

struct urlref {
	const char *url;
	size_t a, it, ob;
};

static int urlref_cmp(const void *pa, const void *pb)
{
	const struct urlref *x = pa, *y = pb;
	int r = strcmp(x->url, y->url);
	if (r)
		return r;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	if (x->it != y->it)
		return x->it < y->it ? -1 : 1;
	return x->ob < y->ob ? -1 : x->ob > y->ob;
}

/* Lists (out != NULL) or counts every binaryObject url of the request's 707 deliveries. */
static size_t collect_urls(const struct li707_message *m, struct urlref *out)
{
	size_t n = 0;
	for (size_t a = 0; a < m->n_actions; a++) {
		const struct li707_delivery *d = m->actions[a].delivery;
		if (m->actions[a].verb != LI707_VERB_DELIVER || !d || !d->items ||
		    (d->payload != LI707_PAYLOAD_ITEM && d->payload != LI707_PAYLOAD_COLLECTION))
			continue;
		for (size_t i = 0; i < d->n_items; i++) {
			const struct li707_item *it = &d->items[i];
			if (!it->attachments)
				continue;
			for (size_t k = 0; k < it->n_attachments; k++) {
				if (!it->attachments[k].url)
					continue;
				if (out)
					out[n] = (struct urlref){it->attachments[k].url, a, i, k};
				n++;
			}
		}
	}
	return n;
}

/* TS103707 R-CORE-5: a url identifies one binary object; within a message, two binaryObjects
 * with the same url are an error (reuse across messages is the sender's bookkeeping). */
static void check_unique_urls(struct ck *c)
{
	size_t n = collect_urls(c->m, NULL);
	if (n < 2)
		return;
	struct urlref *v = malloc(n * sizeof *v);
	if (!v) {
		c->oom = true;
		return;
	}
	collect_urls(c->m, v);
	qsort(v, n, sizeof *v, urlref_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i].url, v[i - 1].url) != 0)
			continue;
		const struct li707_delivery *d = c->m->actions[v[i].a].delivery;
		c->action = v[i].a;
		path_item(c, v[i].a, d, v[i].it);
		path_push(c, PATH_CORE "/associatedBinaryData/binaryObject[%zu]", v[i].ob + 1);
		ERR(c, v[i].url, "/url", "R-CORE-5",
		    "url is used by another binaryObject of this message (a url identifies one "
		    "binary object and is never reused)");
	}
	c->action = LI707__NO_ACTION;
	free(v);
}

/* ---- messages ---- */

static void check_request(struct ck *c)
{
	const struct li707_message *m = c->m;
	size_t n = m->actions ? m->n_actions : 0;
	c->action = LI707__NO_ACTION;
	path_set(c, PATH_REQUESTS);
	if (n == 0) {
		ERR(c, m, NULL, "R-DEL-1", "ActionRequests holds no ActionRequest");
		return;
	}
	if (n > c->lim.max_actions)
		LIMIT(c, m, NULL, "R-DEL-1",
		      "ActionRequests holds more than the configured limit of %zu actions",
		      c->lim.max_actions);
	for (size_t i = 0; i < n; i++) {
		const struct li707_action *a = &m->actions[i];
		c->action = i;
		path_set(c, LI707__PATH_ACTION, i + 1);
		if (a->verb != LI707_VERB_DELIVER)
			report(c, LI707_SEV_ERROR, LI707_ENOTSUP, a, NULL, "R-DEL-1",
			       "only DELIVER actions are handled (TS 103 707 delivers with "
			       "DELIVER)");
		else if (!a->delivery)
			ERR(c, a, "/DELIVER", "R-DEL-1", "DELIVER carries no DeliveryObject");
		else
			check_delivery(c, i, a->delivery);
	}
	c->action = LI707__NO_ACTION;
	check_unique_ids(c, false);
	check_unique_urls(c);
}

static void check_response(struct ck *c)
{
	const struct li707_message *m = c->m;
	size_t n = m->responses ? m->n_responses : 0;
	c->action = LI707__NO_ACTION;
	path_set(c, PATH_RESPONSE);
	if (m->top_error) {
		if (n)
			ERR(c, m, "/ActionResponses", "R-TRN-3",
			    "a ResponsePayload holds either ActionResponses or one ErrorInformation");
		text_required(c, m->error_description, m, "/ErrorInformation/ErrorDescription",
			      "R-TRN-3", "ErrorDescription", LONGSTRING_MAX, false);
		return;
	}
	if (n == 0) {
		ERR(c, m, "/ActionResponses", "R-TRN-3", "ActionResponses holds no ActionResponse");
		return;
	}
	if (n > c->lim.max_actions)
		LIMIT(c, m, "/ActionResponses", "R-TRN-3",
		      "ActionResponses holds more than the configured limit of %zu",
		      c->lim.max_actions);
	for (size_t i = 0; i < n; i++) {
		const struct li707_action_response *r = &m->responses[i];
		c->action = i;
		path_set(c, PATH_RESPONSE "/ActionResponses/ActionResponse[%zu]", i + 1);
		if (r->is_error) {
			text_required(c, r->error_description, r,
				      "/ErrorInformation/ErrorDescription", "R-TRN-3",
				      "ErrorDescription", LONGSTRING_MAX, false);
			continue;
		}
		if (r->verb != LI707_VERB_DELIVER) {
			report(c, LI707_SEV_ERROR, LI707_ENOTSUP, r, NULL, "R-TRN-3",
			       "only DELIVERResponse and ErrorInformation responses are handled");
			continue;
		}
		const char *id = arr_str(r->identifier, sizeof r->identifier);
		if (!id || !li707_check_uuid(id))
			ERR(c, id ? (const void *)id : (const void *)r, "/DELIVERResponse/Identifier",
			    "R-TRN-3", "DELIVERResponse Identifier is not a canonical lower-case UUID");
	}
	c->action = LI707__NO_ACTION;
	check_unique_ids(c, true);
}

static int message_check(const struct li707_message *m, const struct li707_limits *lim,
			 struct li707_diags *diags, const struct li707__linemap *lines,
			 int *action_status, bool sending)
{
	if (!m)
		return LI707_EINVAL;
	struct ck *c = calloc(1, sizeof *c);
	if (!c)
		return LI707_ENOMEM;
	c->m = m;
	c->sending = sending;
	if (lim)
		c->lim = *lim;
	li707_limits_resolve(&c->lim);
	c->diags = diags;
	c->lines = lines;
	c->status = action_status;
	c->n_status = m->n_actions;
	c->action = LI707__NO_ACTION;
	if (action_status)
		for (size_t i = 0; i < m->n_actions; i++)
			action_status[i] = 0;

	check_header(c, &m->header);
	if (m->kind == LI707_MSG_REQUEST) {
		check_request(c);
	} else if (m->kind == LI707_MSG_RESPONSE) {
		check_response(c);
	} else {
		path_set(c, "/HI1Message/Payload");
		ERR(c, m, NULL, "R-DEL-1", "message kind is unknown");
	}

	int rc = 0;
	if (c->oom)
		rc = LI707_ENOMEM;
	else if (c->first)
		rc = c->first == LI707_ELIMIT ? LI707_ELIMIT : LI707_EINVALID;
	free(c);
	return rc;
}

int li707__message_check(const struct li707_message *m, const struct li707_limits *lim,
			 struct li707_diags *diags, const struct li707__linemap *lines,
			 int *action_status)
{
	return message_check(m, lim, diags, lines, action_status, false);
}

int li707__message_check_outgoing(const struct li707_message *m, const struct li707_limits *lim,
				  struct li707_diags *diags)
{
	return message_check(m, lim, diags, NULL, NULL, true);
}
