/* li707 common - the event input format: JSON Lines -> struct li707_item (docs/events.md).
 *
 * DESIGN
 * Each line is parsed by jansson (duplicate keys rejected, UTF-8 checked, whole line must be
 * one JSON object) and then walked by one function per object kind of the format (event,
 * party, identifier, attachment, correlation, csp block). Every object has a fixed key list:
 * an unknown key is an error, so a typo can never drop data silently. Errors are written as
 * "FIELD: message" where FIELD is the path of the key in the event ("receivers[1].ids[0]");
 * values are never quoted (R-SEC-6). Key names are quoted only when they look like key names
 * (a letter or '_', then letters, digits, '_', at most 32 bytes), so an identifier mistakenly
 * used as a key does not end up in a log.
 *
 * The item is assembled in a local struct and moved to the caller only when everything
 * succeeded; on failure it is freed with the library's li707_item_clear(). */
#include "events.h"
#include "li707/util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LONG_STRING_MAX 65535u           /* TS 103 280 LongString */
#define SHORT_STRING_MAX 255u            /* TS 103 280 ShortString */
#define RAW_XML_MAX ((size_t)4 << 20)    /* as struct li707_limits.max_raw_xml_bytes */
#define PATH_BYTES_MAX 4096u             /* attachment path, joined */
#define LIST_MAX 1000u                   /* ids, receivers, attachments, csp blocks */
#define FIELD_LEN 96                     /* longest field path we build */

/* ---- errors ---- */

static void seterr(char *err, size_t errlen, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void seterr(char *err, size_t errlen, const char *field, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	int n = snprintf(err, errlen, "%s: ", field);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Writes a field path into dst[FIELD_LEN] (truncated if it had to be). */
static void fieldf(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fieldf(char *dst, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, FIELD_LEN, fmt, ap);
	va_end(ap);
	(void)n;
}

/* True when s may be quoted in an error: it looks like a key of this format. */
static bool key_showable(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* Rejects keys of obj that are not in allowed (NULL-terminated). */
static int check_keys(const json_t *obj, const char *const *allowed, const char *field,
		      char *err, size_t errlen)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val) {
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = true;
		if (ok)
			continue;
		if (key_showable(key))
			seterr(err, errlen, field, "unknown key \"%s\"", key);
		else
			seterr(err, errlen, field, "unknown key (name not shown)");
		return LI707_EINPUT;
	}
	return 0;
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* ---- typed getters ---- */

/* Checks that v is a string of 1..max bytes, valid for XML (no controls). */
static int str_check(const json_t *v, size_t max, const char *field, char *err, size_t errlen,
		     const char **out)
{
	if (!json_is_string(v)) {
		seterr(err, errlen, field, "must be a string, not %s", json_type_name(v));
		return LI707_EINPUT;
	}
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n == 0) {
		seterr(err, errlen, field, "must not be empty");
		return LI707_EINPUT;
	}
	if (n > max) {
		seterr(err, errlen, field, "too long (%zu bytes, at most %zu)", n, max);
		return LI707_EINPUT;
	}
	if (strlen(s) != n || !li707_check_utf8(s, n)) {
		seterr(err, errlen, field, "contains a character not allowed in XML");
		return LI707_EINPUT;
	}
	*out = s;
	return 0;
}

/* Copies the optional string member key of obj into *dst (NULL when absent). */
static int get_str(const json_t *obj, const char *key, bool required, size_t max,
		   const char *parent, char *err, size_t errlen, char **dst)
{
	char field[FIELD_LEN];
	if (parent && *parent)
		fieldf(field, "%s.%s", parent, key);
	else
		fieldf(field, "%s", key);
	const json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required) {
			seterr(err, errlen, field, "missing (required)");
			return LI707_EINPUT;
		}
		return 0;
	}
	const char *s;
	int rc = str_check(v, max, field, err, errlen, &s);
	if (rc)
		return rc;
	char *c = strdup(s);
	if (!c)
		return LI707_ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

/* A JSON array member: returns its size, 0 when absent; error when not an array or too big. */
static int get_array(const json_t *obj, const char *key, const char *field, char *err,
		     size_t errlen, const json_t **arr)
{
	const json_t *v = json_object_get(obj, key);
	*arr = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v)) {
		seterr(err, errlen, field, "must be an array, not %s", json_type_name(v));
		return LI707_EINPUT;
	}
	if (json_array_size(v) > LIST_MAX) {
		seterr(err, errlen, field, "too many entries (at most %u)", LIST_MAX);
		return LI707_EINPUT;
	}
	*arr = v;
	return 0;
}

/* ---- parties (TS 103 707 Tables 7, 7A) ---- */

/* "NAME" -> ETSI/NAME (TS 103 120 Annex C); "OWNER:NAME" split at the first ':'. */
static int parse_format(const char *s, const char *field, char *err, size_t errlen,
			struct li707_party_id *id)
{
	const char *colon = strchr(s, ':');
	const char *owner = "ETSI";
	size_t owner_len = 4;
	const char *name = s;
	if (colon) {
		owner = s;
		owner_len = (size_t)(colon - s);
		name = colon + 1;
	}
	if (owner_len == 0 || *name == '\0') {
		seterr(err, errlen, field, "must be \"NAME\" or \"OWNER:NAME\" with both parts non-empty");
		return LI707_EINPUT;
	}
	if (owner_len > SHORT_STRING_MAX || strlen(name) > SHORT_STRING_MAX) {
		seterr(err, errlen, field, "owner and name are at most %u bytes each", SHORT_STRING_MAX);
		return LI707_EINPUT;
	}
	id->format_owner = strndup(owner, owner_len);
	id->format_name = strdup(name);
	if (!id->format_owner || !id->format_name)
		return LI707_ENOMEM;
	return 0;
}

static int parse_party_id(const json_t *v, const char *field, char *err, size_t errlen,
			  struct li707_party_id *id)
{
	static const char *const keys[] = {"format", "value", NULL};
	const char *s;
	int rc;
	if (json_is_string(v)) { /* plain identifier (the V1.1.1 form) */
		rc = str_check(v, LONG_STRING_MAX, field, err, errlen, &s);
		if (rc)
			return rc;
		id->qualified = false;
		id->value = strdup(s);
		return id->value ? 0 : LI707_ENOMEM;
	}
	if (!json_is_object(v)) {
		seterr(err, errlen, field, "must be a string or an object, not %s",
		       json_type_name(v));
		return LI707_EINPUT;
	}
	rc = check_keys(v, keys, field, err, errlen);
	if (rc)
		return rc;
	id->qualified = true;
	rc = get_str(v, "value", true, LONG_STRING_MAX, field, err, errlen, &id->value);
	if (rc)
		return rc;
	const json_t *f = json_object_get(v, "format");
	if (f) {
		char ff[FIELD_LEN];
		fieldf(ff, "%s.format", field);
		rc = str_check(f, 2 * SHORT_STRING_MAX + 1, ff, err, errlen, &s);
		if (rc)
			return rc;
		rc = parse_format(s, ff, err, errlen, id);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_party(const json_t *v, const char *field, char *err, size_t errlen,
		       struct li707_party *p)
{
	static const char *const keys[] = {"ids", "target", NULL};
	char f[FIELD_LEN];
	if (!json_is_object(v)) {
		seterr(err, errlen, field, "must be an object, not %s", json_type_name(v));
		return LI707_EINPUT;
	}
	int rc = check_keys(v, keys, field, err, errlen);
	if (rc)
		return rc;
	const json_t *ids;
	fieldf(f, "%s.ids", field);
	rc = get_array(v, "ids", f, err, errlen, &ids);
	if (rc)
		return rc;
	if (!ids) {
		seterr(err, errlen, f, "missing (required)");
		return LI707_EINPUT;
	}
	if (json_array_size(ids) == 0) {
		seterr(err, errlen, f, "must hold at least one identifier");
		return LI707_EINPUT;
	}
	p->ids = calloc(json_array_size(ids), sizeof *p->ids);
	if (!p->ids)
		return LI707_ENOMEM;
	size_t i;
	const json_t *e;
	json_array_foreach(ids, i, e) {
		fieldf(f, "%s.ids[%zu]", field, i);
		p->n_ids = i + 1;
		rc = parse_party_id(e, f, err, errlen, &p->ids[i]);
		if (rc)
			return rc;
	}
	p->targeted = LI707_ABSENT;
	const json_t *t = json_object_get(v, "target");
	if (t) {
		if (!json_is_boolean(t)) {
			fieldf(f, "%s.target", field);
			seterr(err, errlen, f, "must be true or false, not %s", json_type_name(t));
			return LI707_EINPUT;
		}
		p->targeted = json_is_true(t) ? LI707_TRUE : LI707_FALSE;
	}
	return 0;
}

/* ---- attachments (TS 103 707 Table 8, Annex C) ---- */

/* Replaces the one "{uuid}" of tmpl with uuid. */
static char *url_from_scheme(const char *tmpl, const char *uuid)
{
	const char *p = strstr(tmpl, "{uuid}");
	if (!p)
		return NULL;
	size_t n = strlen(tmpl) - 6 + LI707_UUID_LEN + 1;
	char *u = malloc(n);
	if (!u)
		return NULL;
	snprintf(u, n, "%.*s%s%s", (int)(p - tmpl), tmpl, uuid, p + 6);
	return u;
}

static int check_scheme(const char *tmpl, const char *what, char *err, size_t errlen)
{
	const char *p = strstr(tmpl, "{uuid}");
	if (!p || strstr(p + 1, "{uuid}")) {
		seterr(err, errlen, what, "must contain \"{uuid}\" exactly once");
		return LI707_EINVAL;
	}
	char *u = url_from_scheme(tmpl, "00000000-0000-4000-8000-000000000000");
	if (!u)
		return LI707_ENOMEM;
	bool ok = li707_check_https_url(u) && strlen(u) <= LONG_STRING_MAX;
	free(u);
	if (!ok) {
		seterr(err, errlen, what, "does not form an absolute https URL");
		return LI707_EINVAL;
	}
	return 0;
}

int lx_event_opts_check(const struct lx_event_opts *o, char *err, size_t errlen)
{
	if (!o)
		return 0;
	int rc;
	if (o->csp_url_scheme &&
	    (rc = check_scheme(o->csp_url_scheme, "CSP URL scheme", err, errlen)))
		return rc;
	if (o->lea_url_scheme &&
	    (rc = check_scheme(o->lea_url_scheme, "LEA URL scheme", err, errlen)))
		return rc;
	if (o->expiry_seconds < 0 || o->expiry_seconds > LX_EVENT_EXPIRY_MAX) {
		seterr(err, errlen, "expiry", "must be 1 to %lld seconds",
		       (long long)LX_EVENT_EXPIRY_MAX);
		return LI707_EINVAL;
	}
	return 0;
}

/* Joins base and a relative path that stays below base (no "..", not absolute). */
static int join_path(const char *base, const char *rel, bool absolute_ok, const char *field,
		     char *err, size_t errlen, char **out)
{
	if (rel[0] == '/' && !absolute_ok) {
		seterr(err, errlen, field, "must be relative to the base directory");
		return LI707_EINPUT;
	}
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			seterr(err, errlen, field, "must not contain \"..\"");
			return LI707_EINPUT;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (rel[0] == '/')
		base = "";
	size_t n = strlen(base) + 1 + strlen(rel) + 1;
	if (n > PATH_BYTES_MAX) {
		seterr(err, errlen, field, "too long");
		return LI707_EINPUT;
	}
	char *s = malloc(n);
	if (!s)
		return LI707_ENOMEM;
	if (rel[0] == '/') {
		memcpy(s, rel, strlen(rel) + 1);
		*out = s;
		return 0;
	}
	memcpy(s, base, strlen(base));
	s[strlen(base)] = '/';
	memcpy(s + strlen(base) + 1, rel, strlen(rel) + 1);
	*out = s;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *end = path + strlen(path);
	while (end > path && end[-1] == '/')
		end--;
	const char *b = end;
	while (b > path && b[-1] != '/')
		b--;
	return b;
}

struct ctx {
	const char *base_dir;
	bool absolute_paths;
	bool defer_files;
	const char *csp_scheme;
	const char *lea_scheme;
	int64_t expiry_epoch;
};

/* The attachment file: a regular file, measured and hashed (Table 8 contentLength,
 * checksum). */
static int measure_file(const char *path, const char *f, char *err, size_t errlen,
			struct li707_binary_object *b)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		seterr(err, errlen, f, "cannot open the file: %s", strerror(errno));
		return LI707_EINPUT;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, errlen, f, "not a regular file");
		return LI707_EINPUT;
	}
	char hex[65];
	uint64_t size = 0;
	int rc = li707_sha256_file(path, hex, &size);
	if (rc == LI707_ENOMEM || rc == LI707_ECRYPTO)
		return rc;
	if (rc) {
		seterr(err, errlen, f, "cannot read the file: %s", li707_strerror(rc));
		return LI707_EINPUT;
	}
	if (!(b->checksum = strdup(hex)))
		return LI707_ENOMEM;
	b->has_content_length = true;
	b->content_length = size;
	return 0;
}

static int parse_attachment(const json_t *v, const char *field, const struct ctx *cx,
			    char *err, size_t errlen, struct li707_binary_object *b,
			    struct lx_event_attachment *a)
{
	static const char *const keys[] = {"path", "content_type", "filename", "model", "csp_id",
					   NULL};
	char f[FIELD_LEN];
	char *rel = NULL, *model = NULL;
	int rc;
	if (!json_is_object(v)) {
		seterr(err, errlen, field, "must be an object, not %s", json_type_name(v));
		return LI707_EINPUT;
	}
	if ((rc = check_keys(v, keys, field, err, errlen)))
		return rc;
	if ((rc = get_str(v, "model", !cx->defer_files, SHORT_STRING_MAX, field, err, errlen,
			  &model)))
		goto out;
	if (model && strcmp(model, "A") && strcmp(model, "B") && strcmp(model, "C")) {
		fieldf(f, "%s.model", field);
		seterr(err, errlen, f, "must be \"A\", \"B\" or \"C\"");
		rc = LI707_EINPUT;
		goto out;
	}
	a->model = model ? (enum lx_event_model)model[0] : 0;
	if ((rc = get_str(v, "path", true, PATH_BYTES_MAX, field, err, errlen, &rel)))
		goto out;
	fieldf(f, "%s.path", field);
	if ((rc = join_path(cx->base_dir, rel, cx->absolute_paths, f, err, errlen, &a->path)))
		goto out;
	if ((rc = get_str(v, "content_type", false, SHORT_STRING_MAX, field, err, errlen,
			  &b->content_type)))
		goto out;
	if (b->content_type && !li707_check_mime_type(b->content_type)) {
		fieldf(f, "%s.content_type", field);
		seterr(err, errlen, f, "not a MIME type (type/subtype[;param=value])");
		rc = LI707_EINPUT;
		goto out;
	}
	if (!b->content_type && !(b->content_type = strdup(LX_EVENT_CONTENT_TYPE_DEFAULT))) {
		rc = LI707_ENOMEM;
		goto out;
	}
	if ((rc = get_str(v, "filename", false, LONG_STRING_MAX, field, err, errlen,
			  &b->original_filename)))
		goto out;
	if (!b->original_filename) {
		const char *bn = base_name(rel);
		if (!*bn) {
			seterr(err, errlen, f, "names no file");
			rc = LI707_EINPUT;
			goto out;
		}
		if (!(b->original_filename = strdup(bn))) {
			rc = LI707_ENOMEM;
			goto out;
		}
	}
	if ((rc = get_str(v, "csp_id", false, LONG_STRING_MAX, field, err, errlen,
			  &b->csp_defined_identifier)))
		goto out;

	/* The file: a regular file, measured and hashed (Table 8 contentLength, checksum);
	 * with defer_files the caller takes the file and does it once. */
	if (!cx->defer_files && (rc = measure_file(a->path, f, err, errlen, b)))
		goto out;

	/* The URL: models A and C on the CSP's scheme, model B on the LEA's (R-BIN-B1); a fresh
	 * UUID per object, so a URL is never reused (Table 8). */
	if ((rc = li707_uuid_new(a->uuid)))
		goto out;
	b->url = url_from_scheme(a->model == LX_EVENT_MODEL_B ? cx->lea_scheme
								 : cx->csp_scheme,
				 a->uuid);
	if (!b->url) {
		rc = LI707_ENOMEM;
		goto out;
	}
	/* Expiry for every model: Model A/C the URL lifetime (R-BIN-A3), Model B the continue
	 * timeout of the POST (R-BIN-B3: lx_continue_timeout_ms, continue_timeout.h). */
	struct li707_time t = {.epoch = cx->expiry_epoch, .usec = 0, .offset_min = 0};
	char when[33];
	if ((rc = li707_time_format(&t, false, when)))
		goto out;
	if (!(b->expiry = strdup(when)))
		rc = LI707_ENOMEM;
out:
	free(rel);
	free(model);
	return rc;
}

/* ---- CSP-defined information (clause 5.6, Table 9) ---- */

static int parse_csp_block(const json_t *v, const char *field, char *err, size_t errlen,
			   struct li707_csp_data *c)
{
	static const char *const keys[] = {"schema", "schema_url", "schema_content", "xml", NULL};
	char f[FIELD_LEN];
	int rc;
	if (!json_is_object(v)) {
		seterr(err, errlen, field, "must be an object, not %s", json_type_name(v));
		return LI707_EINPUT;
	}
	if ((rc = check_keys(v, keys, field, err, errlen)))
		return rc;
	if ((rc = get_str(v, "schema", true, LONG_STRING_MAX, field, err, errlen, &c->schema_id)))
		return rc;
	if ((rc = get_str(v, "schema_url", false, LONG_STRING_MAX, field, err, errlen,
			  &c->schema_url)))
		return rc;
	if (c->schema_url && !li707_check_uri(c->schema_url)) {
		fieldf(f, "%s.schema_url", field);
		seterr(err, errlen, f, "not an absolute URI");
		return LI707_EINPUT;
	}
	if ((rc = get_str(v, "schema_content", false, RAW_XML_MAX, field, err, errlen,
			  &c->schema_content)))
		return rc;
	return get_str(v, "xml", false, RAW_XML_MAX, field, err, errlen, &c->xml);
}

static int parse_csp(const json_t *v, char *err, size_t errlen, struct li707_item *it)
{
	char f[FIELD_LEN];
	if (json_is_object(v)) {
		if (!(it->csp = calloc(1, sizeof *it->csp)))
			return LI707_ENOMEM;
		it->n_csp = 1;
		return parse_csp_block(v, "csp", err, errlen, &it->csp[0]);
	}
	if (!json_is_array(v)) {
		seterr(err, errlen, "csp", "must be an object or an array, not %s",
		       json_type_name(v));
		return LI707_EINPUT;
	}
	if (json_array_size(v) > LIST_MAX) {
		seterr(err, errlen, "csp", "too many entries (at most %u)", LIST_MAX);
		return LI707_EINPUT;
	}
	if (json_array_size(v) == 0)
		return 0;
	if (!(it->csp = calloc(json_array_size(v), sizeof *it->csp)))
		return LI707_ENOMEM;
	size_t i;
	const json_t *e;
	json_array_foreach(v, i, e) {
		fieldf(f, "csp[%zu]", i);
		it->n_csp = i + 1;
		int rc = parse_csp_block(e, f, err, errlen, &it->csp[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the event ---- */

static int parse_reference(const json_t *root, char *err, size_t errlen,
			   enum li707_ref_kind *kind, char **ref)
{
	const json_t *liid = json_object_get(root, "liid");
	const json_t *ldid = json_object_get(root, "ldid");
	if (liid && ldid) {
		seterr(err, errlen, "liid/ldid", "give exactly one of liid and ldid, not both");
		return LI707_EINPUT;
	}
	if (!liid && !ldid) {
		seterr(err, errlen, "liid/ldid", "missing: the event needs a liid or an ldid");
		return LI707_EINPUT;
	}
	const char *name = liid ? "liid" : "ldid";
	const char *s;
	int rc = str_check(liid ? liid : ldid, LONG_STRING_MAX, name, err, errlen, &s);
	if (rc)
		return rc;
	/* TS 103 280 LIID / LDID forms (Table 3: Reference). */
	if (liid && !li707_check_liid(s)) {
		seterr(err, errlen, name,
		       "not a TS 103 280 LIID (1-25 printable ASCII, or 26-50 lower-case hex)");
		return LI707_EINPUT;
	}
	if (ldid && !li707_check_ldid(s)) {
		seterr(err, errlen, name, "not a TS 103 280 LDID (\"CC-x-y\", CC a country code)");
		return LI707_EINPUT;
	}
	*kind = liid ? LI707_REF_LIID : LI707_REF_LDID;
	*ref = strdup(s);
	return *ref ? 0 : LI707_ENOMEM;
}

/* RFC 3339 with an offset -> QualifiedDateTime keeping the written offset; a fraction of a
 * second is truncated (QualifiedDateTime has none: TS 103 280). */
static int parse_timestamp(const json_t *root, char *err, size_t errlen, char **out)
{
	const json_t *v = json_object_get(root, "timestamp");
	const char *s;
	if (!v) {
		seterr(err, errlen, "timestamp", "missing (required, TS 103 707 V1.9.1 Table 6)");
		return LI707_EINPUT;
	}
	int rc = str_check(v, 64, "timestamp", err, errlen, &s);
	if (rc)
		return rc;
	struct li707_time t;
	if (!li707_parse_rfc3339(s, &t)) {
		seterr(err, errlen, "timestamp",
		       "not an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00+01:00)");
		return LI707_EINPUT;
	}
	t.usec = 0;
	char q[33];
	if (li707_time_format(&t, false, q) != 0) {
		seterr(err, errlen, "timestamp", "cannot be written as a QualifiedDateTime");
		return LI707_EINPUT;
	}
	*out = strdup(q);
	return *out ? 0 : LI707_ENOMEM;
}

static int parse_correlation(const json_t *v, char *err, size_t errlen, struct li707_item *it)
{
	static const char *const keys[] = {"id", "seq", NULL};
	static const char *const fields[] = {"correlation.id", "correlation.seq"};
	if (!json_is_object(v)) {
		seterr(err, errlen, "correlation", "must be an object, not %s", json_type_name(v));
		return LI707_EINPUT;
	}
	int rc = check_keys(v, keys, "correlation", err, errlen);
	if (rc)
		return rc;
	uint64_t vals[2];
	for (int i = 0; i < 2; i++) {
		const json_t *n = json_object_get(v, keys[i]);
		if (!n) {
			seterr(err, errlen, fields[i], "missing (required)");
			return LI707_EINPUT;
		}
		if (!json_is_integer(n) || json_integer_value(n) < 0) {
			seterr(err, errlen, fields[i], "must be a non-negative integer");
			return LI707_EINPUT;
		}
		vals[i] = (uint64_t)json_integer_value(n);
	}
	it->has_correlation = true; /* R-HDR-1, R-HDR-2 */
	it->app_level_id = vals[0];
	it->app_seq = vals[1];
	return 0;
}

static int parse_json_line(const char *line, size_t len, char *err, size_t errlen,
			   json_t **out)
{
	json_error_t je;
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		/* jansson's own text quotes input: only its code and column are used. */
		const char *what;
		switch (json_error_code(&je)) {
		case json_error_out_of_memory: return LI707_ENOMEM;
		case json_error_invalid_utf8: what = "invalid UTF-8"; break;
		case json_error_premature_end_of_input: what = "incomplete JSON"; break;
		case json_error_end_of_input_expected: what = "text after the JSON object"; break;
		case json_error_null_character:
		case json_error_null_byte_in_key: what = "NUL character (\\u0000)"; break;
		case json_error_numeric_overflow: what = "number too large"; break;
		case json_error_stack_overflow: what = "nested too deeply"; break;
		case json_error_duplicate_key: {
			/* "duplicate object key near '"KEY"'": name the key if it looks like one. */
			const char *q = strstr(je.text, "near '\"");
			char key[40] = "";
			if (q) {
				q += 7;
				size_t n = strcspn(q, "\"");
				if (n < sizeof key) {
					memcpy(key, q, n);
					key[n] = '\0';
				}
			}
			if (key_showable(key))
				seterr(err, errlen, "json", "duplicate key \"%s\" (column %d)", key,
				       je.column);
			else
				seterr(err, errlen, "json", "duplicate key (column %d)", je.column);
			return LI707_EINPUT;
		}
		default: what = "invalid JSON"; break;
		}
		seterr(err, errlen, "json", "%s (column %d)", what, je.column);
		return LI707_EINPUT;
	}
	if (!json_is_object(root)) {
		seterr(err, errlen, "json", "an event must be a JSON object, not %s",
		       json_type_name(root));
		json_decref(root);
		return LI707_EINPUT;
	}
	*out = root;
	return 0;
}

void lx_event_clear(struct lx_event *ev)
{
	if (!ev)
		return;
	free(ev->reference);
	free(ev->conversation);
	if (ev->attachments) {
		for (size_t i = 0; i < ev->n_attachments; i++)
			free(ev->attachments[i].path);
		free(ev->attachments);
	}
	li707_item_clear(&ev->item);
	memset(ev, 0, sizeof *ev);
}

int lx_event_parse(const char *line, size_t len, const struct lx_event_opts *o,
		      struct lx_event *out, char *err, size_t errlen)
{
	static const char *const keys[] = {"liid", "ldid", "timestamp", "sender", "receivers",
					   "attachments", "correlation", "conversation", "csp",
					   NULL};
	struct lx_event_opts dflt = {0};
	struct lx_event ev = {0};
	struct ctx cx;
	json_t *root = NULL;
	const json_t *v;
	char f[FIELD_LEN];
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!line || !out)
		return LI707_EINVAL;
	if (!o)
		o = &dflt;
	size_t max = o->max_line_bytes ? o->max_line_bytes : LX_EVENT_LINE_MAX_DEFAULT;
	if (len > max) {
		seterr(err, errlen, "line", "longer than %zu bytes", max);
		return LI707_EINPUT;
	}
	cx.base_dir = o->base_dir ? o->base_dir : ".";
	cx.absolute_paths = o->absolute_paths;
	cx.defer_files = o->defer_files;
	cx.csp_scheme = o->csp_url_scheme ? o->csp_url_scheme : LX_EVENT_CSP_URL_DEFAULT;
	cx.lea_scheme = o->lea_url_scheme ? o->lea_url_scheme : LX_EVENT_LEA_URL_DEFAULT;
	if (!strstr(cx.csp_scheme, "{uuid}") || !strstr(cx.lea_scheme, "{uuid}"))
		return LI707_EINVAL; /* lx_event_opts_check() was not called */
	int64_t now = o->now;
	if (!now) {
		struct li707_time t;
		if ((rc = li707_time_now(&t)))
			return rc;
		now = t.epoch;
	}
	int64_t exp = o->expiry_seconds ? o->expiry_seconds : LX_EVENT_EXPIRY_DEFAULT;
	if (exp < 0 || exp > LX_EVENT_EXPIRY_MAX)
		return LI707_EINVAL;
	cx.expiry_epoch = now + exp;

	if ((rc = parse_json_line(line, len, err, errlen, &root)))
		return rc;
	if ((rc = check_keys(root, keys, "event", err, errlen)))
		goto fail;
	if ((rc = parse_reference(root, err, errlen, &ev.ref_kind, &ev.reference)))
		goto fail;
	if ((rc = parse_timestamp(root, err, errlen, &ev.item.timestamp)))
		goto fail;

	/* coreParameters/messageSender (Table 6, 7). */
	if ((v = json_object_get(root, "sender"))) {
		if (!(ev.item.sender = calloc(1, sizeof *ev.item.sender))) {
			rc = LI707_ENOMEM;
			goto fail;
		}
		if ((rc = parse_party(v, "sender", err, errlen, ev.item.sender)))
			goto fail;
	}

	/* coreParameters/messageReceivers (Table 6). An empty array means none. */
	if ((rc = get_array(root, "receivers", "receivers", err, errlen, &v)))
		goto fail;
	if (v && json_array_size(v) > 0) {
		if (!(ev.item.receivers = calloc(json_array_size(v), sizeof *ev.item.receivers))) {
			rc = LI707_ENOMEM;
			goto fail;
		}
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e) {
			fieldf(f, "receivers[%zu]", i);
			ev.item.n_receivers = i + 1;
			if ((rc = parse_party(e, f, err, errlen, &ev.item.receivers[i])))
				goto fail;
		}
	}

	/* coreParameters/associatedBinaryData (clause 5.4.3, Table 8). */
	if ((rc = get_array(root, "attachments", "attachments", err, errlen, &v)))
		goto fail;
	if (v && json_array_size(v) > 0) {
		size_t n = json_array_size(v);
		ev.item.attachments = calloc(n, sizeof *ev.item.attachments);
		ev.attachments = calloc(n, sizeof *ev.attachments);
		if (!ev.item.attachments || !ev.attachments) {
			rc = LI707_ENOMEM;
			goto fail;
		}
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e) {
			fieldf(f, "attachments[%zu]", i);
			ev.item.n_attachments = i + 1;
			ev.n_attachments = i + 1;
			if ((rc = parse_attachment(e, f, &cx, err, errlen, &ev.item.attachments[i],
						   &ev.attachments[i])))
				goto fail;
		}
	}

	/* header/applicationCorrelation (clause 5.3, Tables 4, 5). */
	if ((v = json_object_get(root, "correlation")) &&
	    (rc = parse_correlation(v, err, errlen, &ev.item)))
		goto fail;

	/* "conversation": li707-csp allocates the applicationCorrelation from it (R-HDR-1,
	 * R-HDR-2); an explicit correlation is checked by the caller. Never quoted. */
	if (json_object_get(root, "conversation")) {
		if (!o->conversation_ok) {
			seterr(err, errlen, "conversation",
			       "not accepted here (li707-csp allocates the correlation from it; "
			       "give \"correlation\" instead)");
			rc = LI707_EINPUT;
			goto fail;
		}
		if (json_object_get(root, "correlation")) {
			seterr(err, errlen, "conversation", "cannot be combined with correlation");
			rc = LI707_EINPUT;
			goto fail;
		}
		if ((rc = get_str(root, "conversation", true, LX_EVENT_CONVERSATION_MAX, NULL, err,
				  errlen, &ev.conversation)))
			goto fail;
		if (!ev.conversation[0]) {
			seterr(err, errlen, "conversation", "must not be empty");
			rc = LI707_EINPUT;
			goto fail;
		}
	}

	/* cspDefinedParameters (clause 5.6). */
	if ((v = json_object_get(root, "csp")) && (rc = parse_csp(v, err, errlen, &ev.item)))
		goto fail;

	json_decref(root);
	*out = ev;
	return 0;
fail:
	json_decref(root);
	lx_event_clear(&ev);
	if (rc == LI707_ENOMEM && err && errlen)
		seterr(err, errlen, "event", "out of memory");
	return rc;
}

/* ---- the library's checks on one event ---- */

int lx_event_check(const struct lx_event *ev, char *err, size_t errlen)
{
	struct li707_message *m = li707_message_new();
	struct li707_diags d = {0};
	char *xml = NULL;
	size_t xml_len = 0;
	int rc;
	if (err && errlen)
		err[0] = '\0';
	if (!m)
		return LI707_ENOMEM;
	if ((rc = li707_header_init_defaults(&m->header, NULL, "li707-csp", NULL, NULL)))
		goto out;
	m->kind = LI707_MSG_REQUEST;
	if (!(m->actions = calloc(1, sizeof *m->actions)) ||
	    !(m->actions[0].delivery = calloc(1, sizeof *m->actions[0].delivery))) {
		rc = LI707_ENOMEM;
		goto out;
	}
	m->n_actions = 1;
	m->actions[0].verb = LI707_VERB_DELIVER;
	struct li707_delivery *dl = m->actions[0].delivery;
	if ((rc = li707_delivery_init(dl, &m->header, ev->ref_kind, ev->reference)))
		goto out;
	dl->payload = LI707_PAYLOAD_ITEM;
	/* Borrowed for the encoder only: detached again before the message is freed. */
	dl->items = (struct li707_item *)&ev->item;
	dl->n_items = 1;
	rc = li707_message_encode(m, &xml, &xml_len, &d);
	dl->items = NULL;
	dl->n_items = 0;
	if (rc == LI707_ENOMEM)
		goto out;
	if (rc) {
		const struct li707_diag *first = NULL;
		for (size_t i = 0; i < d.n && !first; i++)
			if (d.v[i].severity == LI707_SEV_ERROR)
				first = &d.v[i];
		const char *path = first && first->path ? first->path : "";
		/* Shorten the path to the part from the item on. */
		const char *in = strstr(path, "handoverItem");
		if (in)
			path = in;
		seterr(err, errlen, *path ? path : "event", "%s%s%s%s",
		       first ? first->message : li707_strerror(rc),
		       first && first->req ? " [" : "", first && first->req ? first->req : "",
		       first && first->req ? "]" : "");
		rc = LI707_EINPUT;
	}
out:
	free(xml);
	li707_diags_clear(&d);
	li707_message_free(m);
	return rc;
}

/* ---- reading lines ---- */

bool lx_event_line_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
			return false;
	return true;
}

void lx_event_reader_init(struct lx_event_reader *r, FILE *f, size_t max)
{
	memset(r, 0, sizeof *r);
	r->f = f;
	r->max = max ? max : LX_EVENT_LINE_MAX_DEFAULT;
}

void lx_event_reader_done(struct lx_event_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

int lx_event_reader_next(struct lx_event_reader *r, const char **line, size_t *len)
{
	size_t n = 0;
	bool any = false, over = false;
	int c;
	for (;;) {
		c = getc_unlocked(r->f);
		if (c == EOF) {
			if (ferror(r->f))
				return errno ? -errno : -EIO;
			if (!any)
				return 0;
			break;
		}
		any = true;
		if (c == '\n')
			break;
		if (over)
			continue;
		if (n >= r->max) {
			over = true;
			continue;
		}
		/* n < max here, so only ENOMEM can fail */
		if (li707_array_grow((void **)&r->buf, &r->cap, n + 2, 1, r->max + 2))
			return LI707_ENOMEM;
		r->buf[n++] = (char)c;
	}
	r->line++;
	if (over)
		return LI707_ELIMIT;
	if (!r->buf) {
		if (!(r->buf = malloc(1)))
			return LI707_ENOMEM;
		r->cap = 1;
	}
	r->buf[n] = '\0';
	*line = r->buf;
	*len = n;
	return 1;
}
