/* li707 - strict decoding of HI1Messages into the model (include/li707/codec.h).
 *
 * DESIGN
 * The decoder streams: xmlsafe.c parses the bytes with libxml2's SAX2 parser (no DTD, no
 * entities, no network, caps) and no DOM is built; the callbacks here drive a state machine
 * that mirrors the schemas (ts_103120_Core.xsd, ts_103120_Delivery.xsd, schemas/ts_103707.xsd)
 * and write the model directly. Three files: this one is the engine (callbacks, frames,
 * leaves, findings, the driver); decode_schema.c has the tables and what each element does;
 * decode_raw.c carries raw content. docs/internals/decode.md has the whole picture.
 *
 *   - A stack of frames, one per open element that has structure (HI1Message ... formatType);
 *     its depth is bounded by the tables (FRAMES_MAX), whatever the input.
 *   - Each complex type has a table of its children in schema order (struct child): name,
 *     namespace, whether it repeats, its choice group, what it is (a type to descend into, a
 *     leaf into a model field, raw content, something to skip) and what to report when it is
 *     missing. A child that matches no entry at or after the cursor is reported (unknown, or
 *     repeated / out of order) and every later sibling too.
 *   - Leaves (simple values) collect their text in one reusable buffer, trimmed on the fly
 *     where the type is token-like, capped (text_cap) so that no value grows without bound.
 *   - Skipped subtrees (unknown elements, other verbs, foreign payloads) cost a counter.
 *   - Element names and namespace URIs are compared as pointers: SAX2 passes them interned
 *     in the parser's dictionary, where ours are interned once per parser context.
 *   - Arrays (actions, items, parties, ...) grow; the line map is keyed by struct addresses,
 *     so the lines of array elements are kept aside and put into the map when the array is
 *     final (at the end of its parent).
 *
 * Findings come in a fixed order that does not depend on how the input is cut into SAX
 * events: the findings about an element itself (attributes, text, a count over its cap, a
 * second XMLData root) are inserted at its frame's mark, before those about its children; an
 * absent element is reported when the cursor passes it; HI1Message's own findings go first;
 * after a whole-document error or a list over its cap, the findings about what is not kept
 * are dropped. They are collected privately and appended to the caller's list only once the
 * document is known to be well-formed, so a document that is not gets the XML error alone.
 *
 * The decoder enforces structure only (which elements exist, their order and cardinality,
 * no stray text or attributes, leaf syntax where the model cannot carry the value); every
 * value rule is check.c's, run on the finished model. An action's status is its first error:
 * a structural one found here, else the checker's. */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/dict.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "internal.h"
#include "decode.h"

/* ---- names ---- */


bool li707__dec_uri_is(const struct dc *c, const xmlChar *uri, enum ns_id id)
{
	if (id == U_ANY)
		return true;
	if (id == U_NONE)
		return !uri || !*uri;
	if (!uri)
		return false;
	if (c->ctxt->dict)
		return uri == c->uri[id];
	return strcmp((const char *)uri, (const char *)c->uri[id]) == 0;
}

/* The name used in paths and messages. */
void li707__dec_disp(const struct dc *c, const xmlChar *local, const xmlChar *prefix,
		     const xmlChar *uri, char *out, size_t cap)
{
	const char *pfx = NULL;
	if (!uri || li707__dec_uri_is(c, uri, U_CORE) || li707__dec_uri_is(c, uri, U_707))
		pfx = NULL;
	else if (li707__dec_uri_is(c, uri, U_DEL))
		pfx = "delivery";
	else if (li707__dec_uri_is(c, uri, U_COMMON))
		pfx = "common";
	else if (li707__dec_uri_is(c, uri, U_DSIG))
		pfx = "digsig";
	else if (prefix)
		pfx = (const char *)prefix;
	snprintf(out, cap, "%.40s%s%.64s", pfx ? pfx : "", pfx ? ":" : "", (const char *)local);
}

/* ---- paths ---- */

static void path_add(struct dc *c, const char *s, size_t n)
{
	if (n > sizeof c->path - 1 - c->plen)
		n = sizeof c->path - 1 - c->plen;
	memcpy(c->path + c->plen, s, n);
	c->plen += n;
	c->path[c->plen] = '\0';
}

void li707__dec_path_adds(struct dc *c, const char *s)
{
	path_add(c, s, strlen(s));
}

static void path_index(struct dc *c, size_t i)
{
	char b[24];
	size_t k = sizeof b;
	b[--k] = ']';
	do {
		b[--k] = (char)('0' + i % 10);
		i /= 10;
	} while (i);
	b[--k] = '[';
	path_add(c, b + k, sizeof b - k);
}

void li707__dec_path_pop(struct dc *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = '\0';
}

/* ---- findings ---- */

void li707__dec_report(struct dc *c, enum li707_severity sev, int code, long line, const char *leaf,
		       const char *req, const char *fmt, ...)
{
	/* An inserted error (c->ins) is the action's first when no error of the same action
	 * precedes its place: it then sets the action's status. */
	bool first = false;
	char msg[512], path[sizeof c->path + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(path, sizeof path, "%s%s", c->path, leaf ? leaf : "");
	size_t at = c->own.n;
	if (li707_diags_add(&c->own, c->lim.max_diagnostics, sev, code, line, path, req,
			    c->action, "%s", msg) == LI707_ENOMEM)
		c->nomem = true;
	if (c->own.n > at && (c->ins || c->ins_raw)) {
		/* a finding about the element itself: before those about its children */
		size_t *dmark = c->ins ? &c->ins->dmark : &c->raw.dmark;
		size_t *dins = c->ins ? &c->ins->dins : &c->raw.dins;
		size_t p = *dmark + *dins;
		if (p < at) {
			struct li707_diag g = c->own.v[at];
			memmove(&c->own.v[p + 1], &c->own.v[p], (at - p) * sizeof g);
			c->own.v[p] = g;
			for (size_t k = 0; k < c->n_msg_diags; k++)
				if (c->msg_diags[k] >= p)
					c->msg_diags[k]++;
			if (c->ins) /* the frames above it had their mark after p */
				for (struct frame *q = c->ins + 1; q <= &c->fr[c->top]; q++)
					if (q->dmark >= p)
						q->dmark++;
			at = p;
		}
		(*dins)++;
		first = true;
		for (size_t k = 0; k < at && first; k++)
			if (c->own.v[k].severity == LI707_SEV_ERROR && c->own.v[k].action == c->action)
				first = false;
	}
	if (sev == LI707_SEV_ERROR) {
		if (c->status && c->action < c->n_status) {
			if (!c->status[c->action] || first)
				c->status[c->action] = code;
		} else if (!c->first_msg || first) {
			c->first_msg = code;
		}
	}
	if (c->own.n > at && c->top == 0 && !c->leaf.active && !c->raw.active &&
	    c->n_msg_diags < sizeof c->msg_diags / sizeof c->msg_diags[0])
		c->msg_diags[c->n_msg_diags++] = at;
}



void li707__dec_mark(struct dc *c, const void *key, long line)
{
	int rc = key ? li707__linemap_put(c->map, key, line) : 0;
	if (rc == LI707_ENOMEM)
		c->nomem = true;
	else if (rc)
		li707__dec_fatal(c, rc);
}

/* A whole-document error. ENOMEM stops the parse; the others stop the decoding (dead) but
 * let libxml2 read on, so a document that is also not well-formed gets its XML error. */
void li707__dec_fatal(struct dc *c, int code)
{
	if (!c->fatal)
		c->fatal = code;
	if (code == LI707_ENOMEM)
		li707__sax_halt(c->ctxt);
	else
		c->dead = true;
}

/* Keeps only the findings for which keep() is true (counts follow). */
void li707__dec_own_filter(struct dc *c, bool (*keep)(const struct dc *, size_t))
{
	size_t j = 0, errors = 0;
	for (size_t i = 0; i < c->own.n; i++) {
		struct li707_diag *g = &c->own.v[i];
		if (keep(c, i)) {
			if (g->severity == LI707_SEV_ERROR)
				errors++;
			c->own.v[j++] = *g;
			continue;
		}
		free(g->path);
		free(g->req);
		free(g->message);
	}
	c->own.n = j;
	c->own.n_errors = errors;
	c->own.dropped = 0;
}

bool li707__dec_keep_msg_level(const struct dc *c, size_t i)
{
	for (size_t k = 0; k < c->n_msg_diags; k++)
		if (c->msg_diags[k] == i)
			return true;
	return false;
}

bool li707__dec_keep_not_action(const struct dc *c, size_t i)
{
	return c->own.v[i].action == LI707__NO_ACTION;
}

/* ---- growable arrays ---- */

/* A new zeroed element at the end of the array; NULL on ENOMEM. Addresses move as it grows:
 * lines are kept aside (li707__dec_garr_flush puts them into the line map). */
void *li707__dec_garr_push(struct dc *c, struct garr *a, long line, long line2, size_t max)
{
	size_t n = *a->n;
	int rc = li707_array_grow(a->v, &a->cap, n + 1, a->size, max);
	if (!rc)
		rc = li707_array_grow((void **)&a->lines, &a->cap_lines, n + 1, sizeof *a->lines,
				      max);
	if (!rc && a->two)
		rc = li707_array_grow((void **)&a->lines2, &a->cap_lines2, n + 1,
				      sizeof *a->lines2, max);
	if (rc) {
		if (rc == LI707_ENOMEM)
			c->nomem = true;
		else
			li707__dec_fatal(c, rc); /* not reached: list_push checks max first */
		return NULL;
	}
	char *e = (char *)*a->v + n * a->size;
	memset(e, 0, a->size);
	a->lines[n] = line;
	if (a->two)
		a->lines2[n] = line2;
	*a->n = n + 1;
	return e;
}

void li707__dec_garr_flush(struct dc *c, struct garr *a)
{
	if (a->v && a->lines) {
		for (size_t i = 0; i < *a->n; i++) {
			char *e = (char *)*a->v + i * a->size;
			li707__dec_mark(c, e, a->lines[i]);
			if (a->two && a->lines2[i])
				li707__dec_mark(c, e + a->off2, a->lines2[i]);
		}
	}
	free(a->lines);
	free(a->lines2);
	a->lines = a->lines2 = NULL;
	a->cap_lines = a->cap_lines2 = 0;
}

void li707__dec_garr_init(struct garr *a, void *v, size_t *n, size_t size, bool two, size_t off2)
{
	memset(a, 0, sizeof *a);
	a->v = v;
	a->n = n;
	a->size = size;
	a->two = two;
	a->off2 = off2;
}

/* ---- namespace stack ---- */

/* The parser stops past max_depth and refuses an element with more than
 * max_namespace_decls declarations, so these bounds are never reached by what it passes on. */
static size_t ns_depth_max(const struct dc *c)
{
	return (size_t)c->lim.max_depth + 1;
}

static size_t ns_scope_max(const struct dc *c)
{
	size_t d = ns_depth_max(c), per = c->lim.max_namespace_decls;
	return per && d > SIZE_MAX / per ? SIZE_MAX : d * per;
}

static int ns_push(struct dc *c, int nb_ns, const xmlChar **ns)
{
	int rc = li707_array_grow((void **)&c->nsmark, &c->cap_depth, c->depth + 1,
				  sizeof *c->nsmark, ns_depth_max(c));
	if (rc)
		return rc;
	c->nsmark[c->depth++] = c->n_ns;
	for (int i = 0; i < nb_ns; i++) {
		rc = li707_array_grow((void **)&c->ns, &c->cap_ns, c->n_ns + 1, sizeof *c->ns,
				      ns_scope_max(c));
		if (rc)
			return rc;
		c->ns[c->n_ns].prefix = ns[2 * i];
		c->ns[c->n_ns].uri = ns[2 * i + 1];
		c->n_ns++;
	}
	return 0;
}

static void ns_pop(struct dc *c)
{
	if (c->depth)
		c->n_ns = c->nsmark[--c->depth];
}

/* The namespace bound to prefix (NULL: the default) where the stack stands; NULL if none. */
static const xmlChar *ns_lookup(const struct dc *c, const xmlChar *prefix, size_t len)
{
	for (size_t i = c->n_ns; i-- > 0;) {
		const xmlChar *p = c->ns[i].prefix;
		if (!prefix ? !p
			    : (p && strlen((const char *)p) == len && memcmp(p, prefix, len) == 0))
			return c->ns[i].uri;
	}
	return NULL;
}

/* xsi:type of the element being started, against the namespaces in scope: 1 when it names
 * {ns}local, 0 when something else, -1 when there is none. */
int li707__dec_xsi_type_is(struct dc *c, int nb_attrs, const xmlChar **attrs, enum ns_id ns,
			   const char *local)
{
	for (int i = 0; i < nb_attrs; i++) {
		const xmlChar **a = attrs + 5 * i;
		if (!li707__dec_uri_is(c, a[2], U_XSI) || strcmp((const char *)a[0], "type") != 0)
			continue;
		const char *s = (const char *)a[3], *e = (const char *)a[4];
		while (s < e && strchr(" \t\r\n", *s))
			s++;
		while (e > s && strchr(" \t\r\n", e[-1]))
			e--;
		const char *colon = memchr(s, ':', (size_t)(e - s));
		const xmlChar *bound;
		const char *lname = s;
		if (colon) {
			size_t pl = (size_t)(colon - s);
			if (pl == 0 || pl >= 128)
				return 0;
			bound = ns_lookup(c, (const xmlChar *)s, pl);
			lname = colon + 1;
		} else {
			bound = ns_lookup(c, NULL, 0);
		}
		size_t ll = (size_t)(e - lname);
		return bound && strcmp((const char *)bound, (const char *)c->uri[ns]) == 0 &&
		       ll == strlen(local) && memcmp(lname, local, ll) == 0;
	}
	return -1;
}

/* ---- checks on the element being started ---- */

/* Attributes other than xsi:* (the first is reported). */
void li707__dec_check_attrs(struct dc *c, int nb_attrs, const xmlChar **attrs, const char *req,
			    long line)
{
	for (int i = 0; i < nb_attrs; i++) {
		if (li707__dec_uri_is(c, attrs[5 * i + 2], U_XSI))
			continue;
		ERR(c, line, NULL, req, "attribute %.60s is not allowed here",
		    (const char *)attrs[5 * i]);
		return;
	}
}

/* Whitespace only? Called for every run of indentation between elements: runs of eight
 * spaces are skipped a word at a time. */
bool li707__dec_all_space_n(const xmlChar *t, int len)
{
	static const uint64_t spaces = 0x2020202020202020ULL;
	size_t i = 0, n = (size_t)len;
	while (i < n) {
		uint64_t w;
		if (n - i >= 8) {
			memcpy(&w, t + i, 8);
			if (w == spaces) {
				i += 8;
				continue;
			}
		}
		xmlChar ch = t[i++];
		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
			return false;
	}
	return true;
}


/* ---- frames ---- */

static const char *type_req(enum act t)
{
	return li707__dec_types[t].req;
}

/* Pushes a frame for an element whose path segment is seg (plus [index] when index). */
struct frame *li707__dec_frame_push(struct dc *c, enum act type, const char *seg, size_t index,
				    long line, void *obj, int nb_attrs, const xmlChar **attrs)
{
	if (c->top + 1 >= FRAMES_MAX) { /* cannot happen: the tables nest less deep */
		li707__dec_fatal(c, LI707_EINVALID);
		return NULL;
	}
	struct frame *f = &c->fr[++c->top];
	memset(f, 0, offsetof(struct frame, taken));
	f->type = type;
	f->last = -1;
	f->line = line;
	f->obj = obj;
	f->pmark = c->plen;
	if (seg) {
		li707__dec_path_adds(c, seg);
		if (index)
			path_index(c, index);
	}
	li707__dec_check_attrs(c, nb_attrs, attrs, type_req(type), line);
	f->dmark = c->own.n;
	return f;
}

/* The tables' local names interned in the thread's cached parser dictionary, so that a
 * name is matched by comparing pointers (SAX2 passes interned names); refreshed whenever
 * xmlsafe.c replaces that context (its generation changes). */
static __thread const xmlChar *tl_names[F_ERRINFO + 1][TAB_MAX];
static __thread unsigned long tl_names_gen;

static void names_refresh(struct dc *c)
{
	unsigned long gen = li707__sax_generation(c->ctxt);
	c->names = NULL;
	if (!gen || !c->ctxt->dict)
		return; /* a nested or uncached context: compare strings */
	if (gen != tl_names_gen) {
		for (size_t t = 0; t < LI707__DEC_N_TYPES; t++)
			for (unsigned j = 0; j < li707__dec_types[t].n && j < TAB_MAX; j++) {
				const char *nm = li707__dec_types[t].tab[j].name;
				tl_names[t][j] = nm ? xmlDictLookup(c->ctxt->dict, BAD_CAST nm, -1)
						    : NULL;
				if (nm && !tl_names[t][j])
					return; /* ENOMEM: compare strings */
			}
		tl_names_gen = gen;
	}
	c->names = tl_names;
}

static bool entry_matches(const struct dc *c, enum act type, int j, const xmlChar *local,
			  const xmlChar *uri)
{
	const struct child *e = &li707__dec_types[type].tab[j];
	if (!li707__dec_uri_is(c, uri, e->ns))
		return false;
	if (!e->name)
		return true;
	if (c->names)
		return c->names[type][j] == local;
	return strcmp((const char *)local, e->name) == 0;
}

/* The cursor passes entries [f->pos, upto): the mandatory ones and the choices without an
 * alternative are reported missing. */
void li707__dec_pass_entries(struct dc *c, struct frame *f, int upto)
{
	const struct type *t = &li707__dec_types[f->type];
	for (int k = f->pos; k < upto; k++) {
		const struct child *e = &t->tab[k];
		if (e->miss && !(f->seen & (1u << k)))
			ERR(c, f->line, e->miss_leaf, e->miss_req, "%s is missing", e->miss);
		if (e->neither) {
			bool any = false;
			for (int g = k; g >= 0 && t->tab[g].grp == e->grp; g--)
				any = any || (f->seen & (1u << g));
			if (!any)
				ERR(c, f->line, NULL, e->miss_req, "%s", e->neither);
		}
	}
	if (upto == t->n && f->type == F_FMT && f->pos < upto) {
		const struct li707_party_id *id = f->obj;
		if (!id->format_owner && !id->format_name)
			ERR(c, f->line, NULL, "R-CORE-3", "formatOwner/formatName is missing");
	}
	if (upto > f->pos)
		f->pos = upto;
}

/* The table entry the child matches at the cursor (docs/internals/decode.md), or NULL:
 * then the child and every later sibling are out of place. */
static const struct child *seq_match(struct dc *c, struct frame *f, const xmlChar *local,
				     const xmlChar *uri)
{
	const struct type *t = &li707__dec_types[f->type];
	if (f->broken)
		return NULL;
	if (t->free_order) {
		for (int j = 0; j < t->n; j++)
			if (entry_matches(c, f->type, j, local, uri)) {
				f->seen |= 1u << j;
				return &t->tab[j];
			}
		f->broken = true;
		return NULL;
	}
	if (f->last >= 0 && t->tab[f->last].many && entry_matches(c, f->type, f->last, local, uri))
		return &t->tab[f->last];
	for (int j = f->pos; j < t->n; j++) {
		if (!entry_matches(c, f->type, j, local, uri))
			continue;
		f->seen |= 1u << j;
		li707__dec_pass_entries(c, f, j);
		f->last = j;
		f->pos = j + 1;
		if (t->tab[j].grp)
			while (f->pos < t->n && t->tab[f->pos].grp == t->tab[j].grp)
				f->pos++;
		return &t->tab[j];
	}
	f->broken = true;
	if (f->type != F_MSG && f->type != F_PAYLOAD)
		li707__dec_pass_entries(c, f, t->n);
	return NULL;
}

/* An element that is unknown, misplaced or repeated. */
static void leftover(struct dc *c, struct frame *f, const xmlChar *local, const xmlChar *prefix,
		     const xmlChar *uri, long line)
{
	char name[112];
	li707__dec_disp(c, local, prefix, uri, name, sizeof name);
	bool seen = false;
	for (unsigned i = 0; i < f->n_taken; i++)
		if (xmlStrEqual(f->taken[i], local))
			seen = true;
	size_t m = c->plen;
	li707__dec_path_adds(c, "/");
	li707__dec_path_adds(c, name);
	if (seen)
		ERR(c, line, NULL, type_req(f->type),
		    "element %s is repeated or out of schema order", name);
	else
		ERR(c, line, NULL, type_req(f->type), "element %s is not expected here", name);
	li707__dec_path_pop(c, m);
}

/* ---- leaves ---- */

static size_t text_cap(const struct dc *c)
{
	size_t cap = c->lim.max_string_bytes > 65535 ? c->lim.max_string_bytes : 65535;
	return cap + 1; /* one more than any rule allows: the checker still sees "too long" */
}

void li707__dec_leaf_begin(struct dc *c, enum leaf_kind kind, bool trim, const char *req, void *dst,
			   long line, const xmlChar *local, const xmlChar *prefix,
			   const xmlChar *uri, int nb_attrs, const xmlChar **attrs)
{
	struct leaf *l = &c->leaf;
	memset(l, 0, sizeof *l);
	l->active = true;
	l->kind = kind;
	l->trim = trim;
	l->req = req;
	l->dst = dst;
	l->line = line;
	l->local = local;
	l->prefix = prefix;
	l->uri = uri;
	l->pmark = c->plen;
	c->tlen = 0;
	c->ttrunc = false;
	l->nb_attrs = nb_attrs;
	l->attrs = attrs;
}

/* After the optional li707__dec_leaf_seg: the leaf's attributes are checked at its path. */
void li707__dec_leaf_go(struct dc *c)
{
	li707__dec_check_attrs(c, c->leaf.nb_attrs, c->leaf.attrs, c->leaf.req, c->leaf.line);
}

/* The leaf pushes its own path segment (identifier[n], AssociatedObject[n], Generation...). */
void li707__dec_leaf_seg(struct dc *c, const char *seg, size_t index)
{
	li707__dec_path_adds(c, seg);
	if (index)
		path_index(c, index);
}

static void leaf_text(struct dc *c, const xmlChar *s, int len)
{
	size_t n = (size_t)len;
	if (c->leaf.trim && c->tlen == 0)
		while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
			s++;
			n--;
		}
	size_t cap = text_cap(c);
	if (c->tlen + n > cap) {
		/* Cut. The value stays longer than any rule allows unless all that is cut is
		 * whitespace a trim removes anyway: then trimming what is kept is exact. */
		size_t keep = cap - c->tlen;
		if (!c->ttrunc && !li707__dec_all_space_n(s + keep, (int)(n - keep)))
			c->ttrunc = true;
		n = keep;
	}
	if (!n)
		return;
	/* text_cap(c) + 1: the cut above keeps tlen + n within text_cap */
	int rc = li707_array_grow((void **)&c->text, &c->tcap, c->tlen + n + 1, 1, cap + 1);
	if (rc) {
		c->nomem = true; /* only ENOMEM can happen: the text was cut to cap */
		li707__dec_fatal(c, LI707_ENOMEM);
		return;
	}
	memcpy(c->text + c->tlen, s, n);
	c->tlen += n;
}

/* The leaf's value (NUL-terminated in c->text, trimmed if asked). */
static const char *leaf_value(struct dc *c)
{
	if (!c->text) {
		c->text = malloc(256);
		if (!c->text) {
			c->nomem = true;
			return NULL;
		}
		c->tcap = 256;
	}
	if (c->leaf.trim && !c->ttrunc)
		while (c->tlen && (c->text[c->tlen - 1] == ' ' || c->text[c->tlen - 1] == '\t' ||
				   c->text[c->tlen - 1] == '\r' || c->text[c->tlen - 1] == '\n'))
			c->tlen--;
	c->text[c->tlen] = '\0';
	return c->text;
}

static void leaf_name_err(struct dc *c, const char *fmt_what)
{
	struct leaf *l = &c->leaf;
	char name[112];
	li707__dec_disp(c, l->local, l->prefix, l->uri, name, sizeof name);
	size_t m = c->plen;
	li707__dec_path_adds(c, "/");
	li707__dec_path_adds(c, name);
	if (fmt_what)
		ERR(c, l->line, NULL, l->req, "%s is longer than %zu characters", fmt_what,
		    l->size - 1);
	li707__dec_path_pop(c, m);
}

static void leaf_end(struct dc *c)
{
	struct leaf *l = &c->leaf;
	const char *v = leaf_value(c);
	l->active = false;
	if (!v)
		goto done;
	switch (l->kind) {
	case LK_STR: {
		char *s = li707__strndup(v, c->tlen);
		if (!s) {
			c->nomem = true;
			break;
		}
		char **dst = l->dst;
		free(*dst);
		*dst = s;
		li707__dec_mark(c, s, l->line);
		break;
	}
	case LK_FIXED: {
		char *dst = l->dst;
		if (c->tlen >= l->size) {
			leaf_name_err(c, l->what);
			dst[0] = '\0';
		} else {
			memcpy(dst, v, c->tlen + 1);
		}
		if (l->mark_it) /* mark the field, except DELIVER/Identifier (copied later) */
			li707__dec_mark(c, dst, l->line);
		break;
	}
	case LK_UINT:
	case LK_ERRCODE: {
		uint64_t u;
		bool ok = li707_parse_uint(v, &u);
		if (!ok) {
			char name[112];
			li707__dec_disp(c, l->local, l->prefix, l->uri, name, sizeof name);
			size_t m = c->plen;
			li707__dec_path_adds(c, "/");
			li707__dec_path_adds(c, name);
			ERR(c, l->line, NULL, l->req,
			    "%s is not a non-negative integer that fits in 64 bits", name);
			li707__dec_path_pop(c, m);
		} else if (l->kind == LK_ERRCODE) {
			if (u > UINT_MAX)
				ERR(c, l->line, "/ErrorCode", "R-TRN-3",
				    "ErrorCode is larger than li707 can hold");
			else
				*(unsigned *)l->dst = (unsigned)u;
		} else {
			*(uint64_t *)l->dst = u;
		}
		if (l->ok && l->kind == LK_UINT)
			*l->ok = ok;
		break;
	}
	case LK_BOOL: {
		bool b;
		if (li707_parse_bool(v, &b)) {
			*l->tri = b ? LI707_TRUE : LI707_FALSE;
		} else {
			char name[112];
			li707__dec_disp(c, l->local, l->prefix, l->uri, name, sizeof name);
			size_t m = c->plen;
			li707__dec_path_adds(c, "/");
			li707__dec_path_adds(c, name);
			ERR(c, l->line, NULL, l->req, "%s is not an xs:boolean (true, false, 1 or 0)",
			    name);
			li707__dec_path_pop(c, m);
		}
		break;
	}
	case LK_UNKEPT: {
		struct li707_time t;
		uint64_t u;
		bool ok = true;
		const char *rule = "";
		if (strcmp(l->what, "Generation") == 0) {
			ok = li707_parse_uint(v, &u);
			rule = "a non-negative integer";
		} else if (strcmp(l->what, "AssociatedObject") == 0) {
			ok = li707_check_uuid(v);
			rule = "a canonical lower-case UUID";
		} else if (strcmp(l->what, "LastChanged") == 0) {
			ok = li707_parse_qualified_datetime(v, &t);
			rule = "a TS 103 280 QualifiedDateTime";
		}
		if (!ok)
			ERR(c, l->line, NULL, "R-DEL-4", "%s is not %s", l->what, rule);
		break;
	}
	case LK_EXTID:
		if (c->tlen > 65535) {
			size_t m = c->plen;
			li707__dec_path_adds(c, "/ExternalIdentifier");
			ERR(c, l->line, NULL, "R-DEL-4",
			    "ExternalIdentifier is longer than 65535 bytes (TS 103 280 LongString)");
			li707__dec_path_pop(c, m);
		}
		break;
	case LK_WORKFLOW:
		NOTE(c, l->line, "/WorkflowIdentifier", "R-DEL-3",
		     "WorkflowIdentifier (newer TS 103 120) is accepted and ignored");
		break;
	}
done:
	li707__dec_path_pop(c, l->pmark);
}

/* ---- SAX callbacks ---- */

static void intern_names(struct dc *c, xmlParserCtxtPtr ctxt)
{
	static const char *const uris[U__N] = {
		[U_CORE] = LI707_NS_CORE, [U_DEL] = LI707_NS_DELIVERY,
		[U_COMMON] = LI707_NS_COMMON, [U_707] = LI707_NS_707,
		[U_XSI] = LI707_NS_XSI, [U_DSIG] = NS_DSIG,
	};
	c->ctxt = ctxt;
	for (int i = 0; i < U__N; i++) {
		if (!uris[i])
			continue;
		const xmlChar *u = ctxt->dict ? xmlDictLookup(ctxt->dict, BAD_CAST uris[i], -1)
					      : NULL;
		c->uri[i] = u ? u : BAD_CAST uris[i];
	}
	names_refresh(c);
}

static void on_start(void *u, xmlParserCtxtPtr ctxt, const xmlChar *local,
		     const xmlChar *prefix, const xmlChar *uri, int nb_ns, const xmlChar **ns,
		     int nb_attrs, const xmlChar **attrs)
{
	struct dc *c = u;
	if (!c->ctxt)
		intern_names(c, ctxt);
	if (c->dead)
		return;
	int nrc = ns_push(c, nb_ns, ns);
	if (nrc) {
		if (nrc == LI707_ENOMEM)
			c->nomem = true;
		li707__dec_fatal(c, nrc);
		return;
	}
	if (c->raw.active) {
		li707__dec_raw_start(c, local, prefix, uri, nb_ns, ns, nb_attrs, attrs);
		return;
	}
	if (c->skip) {
		c->skip++;
		return;
	}
	struct el e = {local, prefix, uri, nb_ns, ns, nb_attrs, attrs, li707__dec_line_now(ctxt)};
	if (c->leaf.active) {
		if (!c->leaf.sub_depth++) {
			char name[112];
			li707__dec_disp(c, local, prefix, uri, name, sizeof name);
			ERR(c, e.line, NULL, c->leaf.req,
			    "element %s is not allowed inside a simple value", name);
		}
		return;
	}
	if (c->top < 0) {
		if (li707__dec_uri_is(c, uri, U_CORE) && strcmp((const char *)local, "HI1Message") == 0) {
			li707__dec_frame_push(c, F_MSG, "/HI1Message", 0, e.line, NULL, nb_attrs, attrs);
			return;
		}
		li707__dec_path_adds(c, "/");
		ERR(c, e.line, NULL, "R-DEL-1",
		    "root element is not a TS 103 120 HI1Message (namespace %s)", LI707_NS_CORE);
		li707__dec_fatal(c, LI707_EINVALID);
		return;
	}
	struct frame *f = &c->fr[c->top];
	f->n_elems++;
	f->prev_line = e.line;
	f->in_text = false;
	int skip;
	if (f->type == F_XMLDATA) {
		skip = li707__dec_xmldata_child(c, f, &e);
	} else {
		const struct child *ch = seq_match(c, f, local, uri);
		if (!ch) {
			/* (a Payload without a known payload is reported once, at its end) */
			if (!(f->capped && f->type == F_IDS) &&
			    !(f->type == F_PAYLOAD && !c->have_payload_kind))
				leftover(c, f, local, prefix, uri, e.line);
			skip = 1;
		} else {
			if (f->n_taken < TAKEN_MAX)
				f->taken[f->n_taken++] = local;
			skip = li707__dec_child_start(c, f, ch, &e);
		}
	}
	if (skip)
		c->skip = 1;
}

static void on_end(void *u, xmlParserCtxtPtr ctxt, const xmlChar *local, const xmlChar *prefix,
		   const xmlChar *uri)
{
	struct dc *c = u;
	if (c->dead)
		return;
	ns_pop(c);
	if (c->raw.active) {
		if (li707__dec_raw_end(c, local, prefix, uri))
			li707__dec_path_pop(c, c->raw.pmark);
		return;
	}
	if (c->skip) {
		c->skip--;
		return;
	}
	if (c->leaf.active) {
		if (c->leaf.sub_depth) {
			c->leaf.sub_depth--;
			return;
		}
		leaf_end(c);
		return;
	}
	if (c->top < 0)
		return;
	struct frame *f = &c->fr[c->top];
	li707__dec_frame_end(c, f);
	li707__dec_path_pop(c, f->pmark);
	c->top--;
}

static void on_text(void *u, xmlParserCtxtPtr ctxt, const xmlChar *s, int len, bool cdata)
{
	struct dc *c = u;
	if (c->dead)
		return;
	if (c->raw.active) {
		li707__dec_raw_text(c, s, len, cdata);
		return;
	}
	if (c->skip)
		return;
	if (c->leaf.active) {
		if (!c->leaf.sub_depth)
			leaf_text(c, s, len);
		return;
	}
	if (c->top < 0)
		return;
	struct frame *f = &c->fr[c->top];
	/* The line of a finding about text: a text run's first chunk's; a CDATA section has no
	 * line of its own and takes its previous sibling's, or its parent's (the lines libxml2
	 * gives the same nodes in a tree, so schema validation agrees). */
	long line;
	if (cdata) {
		line = f->prev_line ? f->prev_line : f->line;
		f->in_text = false;
	} else {
		if (!f->in_text) {
			f->in_text = true;
			f->text_line = li707__dec_line_now(ctxt);
		}
		line = f->prev_line = f->text_line;
	}
	if (!f->text_seen && !li707__dec_all_space_n(s, len)) {
		f->text_seen = true;
		c->ins = f; /* text is a finding about the element itself */
		ERR(c, line, NULL, type_req(f->type),
		    "text is not allowed here (element-only content)");
		c->ins = NULL;
	}
}

/* A comment or PI among a frame's children (a node with a line of its own). */
static void frame_other_node(struct dc *c, xmlParserCtxtPtr ctxt)
{
	if (c->skip || c->leaf.active || c->top < 0)
		return;
	struct frame *f = &c->fr[c->top];
	f->in_text = false;
	f->prev_line = li707__dec_line_now(ctxt);
}

static void on_comment(void *u, xmlParserCtxtPtr ctxt, const xmlChar *v)
{
	struct dc *c = u;
	if (c->dead)
		return;
	if (!c->raw.active)
		frame_other_node(c, ctxt);
	else
		li707__dec_raw_other(c, v, NULL, NULL);
}

static void on_pi(void *u, xmlParserCtxtPtr ctxt, const xmlChar *target, const xmlChar *data)
{
	struct dc *c = u;
	if (c->dead)
		return;
	if (!c->raw.active)
		frame_other_node(c, ctxt);
	else
		li707__dec_raw_other(c, NULL, target, data);
}

static const struct li707__sax_handler handler = {
	.start = on_start,
	.end = on_end,
	.text = on_text,
	.comment = on_comment,
	.pi = on_pi,
};
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

/* Appends src's findings to the caller's list (dst may be NULL), keeping the counts. */
static void append_diags(struct dc *c, struct li707_diags *dst, const struct li707_diags *src)
{
	if (!dst)
		return;
	size_t stored_errors = 0;
	for (size_t i = 0; i < src->n; i++) {
		const struct li707_diag *g = &src->v[i];
		if (g->severity == LI707_SEV_ERROR)
			stored_errors++;
		if (li707_diags_add(dst, c->lim.max_diagnostics, g->severity, g->code, g->line,
				    g->path, g->req, g->action, "%s", g->message) == LI707_ENOMEM)
			c->nomem = true;
	}
	dst->n_errors += src->n_errors - stored_errors;
	dst->dropped += src->dropped;
}

/* Frees what an interrupted parse left open (side arrays of lines, a raw tree). */
static void dc_done(struct dc *c)
{
	for (int i = 0; i <= c->top; i++) {
		free(c->fr[i].arr.lines);
		free(c->fr[i].arr.lines2);
	}
	c->top = -1;
	if (c->raw.doc)
		xmlFreeDoc(c->raw.doc);
	c->raw.doc = NULL;
	li707_diags_clear(&c->own);
	free(c->ns);
	free(c->nsmark);
	free(c->text);
	free(c->status);
	li707__linemap_free(c->map);
	li707_message_free(c->m);
	free(c);
}

int li707_message_decode(const char *buf, size_t len, const struct li707_limits *lim,
			 struct li707_message **out, struct li707_diags *diags)
{
	if (!out || (!buf && len))
		return LI707_EINVAL;
	*out = NULL;
	/* The frames (about 10 KiB) are initialised when pushed, the path as it grows. */
	struct dc *c = malloc(sizeof *c);
	if (!c)
		return LI707_ENOMEM;
	memset(c, 0, offsetof(struct dc, path));
	c->path[0] = '\0';
	if (lim)
		c->lim = *lim;
	li707_limits_resolve(&c->lim);
	c->buf = buf;
	c->len = len;
	c->action = LI707__NO_ACTION;
	c->top = -1;
	int *ck = NULL;
	int rc = LI707_ENOMEM;
	c->m = li707_message_new();
	c->map = li707__linemap_new(len + 64); /* fewer puts than input bytes, see internal.h */
	if (!c->m || !c->map)
		goto fail;

	rc = li707__xml_sax_parse(buf, len, &c->lim, &handler, c, diags);
	if (rc)
		goto fail; /* not well-formed or over a cap: the XML diagnostic alone */
	if (!c->ctxt) { /* no element at all: libxml2 says so; belt and braces */
		rc = LI707_EXML;
		goto fail;
	}
	append_diags(c, diags, &c->own);
	if (c->nomem) {
		rc = LI707_ENOMEM;
		goto fail;
	}
	if (c->fatal) {
		rc = c->fatal;
		goto fail;
	}

	struct li707_message *m = c->m;
	if (m->n_actions) {
		ck = calloc(m->n_actions, sizeof *ck);
		if (!ck) {
			rc = LI707_ENOMEM;
			goto fail;
		}
	}
	c->diags = diags;
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
	dc_done(c);
	return rc;
}

void li707_global_init(void)
{
	xmlInitParser();
}

void li707_global_cleanup(void)
{
	li707__xml_thread_cleanup();
	xmlCleanupParser();
}
