/* li707 - XSD schema sets and validation (include/li707/schema.h, docs/schemas.md).
 *
 * DESIGN
 * A set is compiled once from an in-memory wrapper schema that imports each namespace from
 * an absolute local path, dependencies first (libxml2 resolves an import without
 * schemaLocation only against namespaces it has already loaded):
 *   full set (official_dir given): XML Signature, TS 103 280, TS 103 120 Common, Core, Task,
 *     Authorisation, Document, Delivery, Notification, TrafficPolicy (those present), then
 *     TS 103 707 (an official file found in official_dir, else ours);
 *   plain set: our TS 103 280 stand-in and our reconstructed TS 103 707 schema.
 *
 * No network, and no global libxml2 state: libxml2 2.9 has no per-context entity loader,
 * and its schema parser reads files with entity substitution on. So before compiling, every
 * schema file is read by xmlsafe.c (a DOCTYPE is refused, so no entity can exist) and every
 * xs:import / xs:include / xs:redefine in it is checked, recursively: a schemaLocation must
 * be a local file that exists, unless it imports a namespace the wrapper has already
 * loaded (libxml2 then skips it without reading it). A schemaLocation with a URI scheme is
 * refused, so libxml2 never gets to fetch anything.
 *
 * The compiled xmlSchemaPtr is never modified afterwards; each li707_schema_validate() call
 * has its own parser and validation contexts, so one set serves many threads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/globals.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "internal.h"

#ifndef LI707_SCHEMA_DIR
#define LI707_SCHEMA_DIR "/usr/local/share/li707/schemas"
#endif

#define NS_XS "http://www.w3.org/2001/XMLSchema"
#define NS_DSIG "http://www.w3.org/2000/09/xmldsig#"
#define NS_280 "http://uri.etsi.org/03280/common/2017/07"

#define SCHEMA_FILE_MAX ((size_t)16 << 20) /* one schema file */
#define SCAN_DEPTH 3                        /* official_dir scan for a TS 103 707 file */
#define INCLUDE_DEPTH 16                    /* nested include/import chains */
#define MAX_FILES 256                       /* files scanned or checked per load */

struct li707_schema_set {
	xmlSchemaPtr schema;
	bool full;
	char *path_707;
};

/* One namespace of the wrapper. */
struct entry {
	const char *ns;
	char *path; /* absolute */
};

struct loader {
	struct li707_diags *diags;
	size_t cap;
	struct entry e[16];
	size_t n;
	char *seen[MAX_FILES]; /* files already checked (real paths) */
	size_t n_seen;
};

static void diag(struct loader *l, int code, long line, const char *path, const char *msg)
{
	(void)li707_diags_add(l->diags, l->cap, LI707_SEV_ERROR, code, line, path, NULL,
			      LI707__NO_ACTION, "%s", msg);
}

/* ---- files ---- */

static int read_file(const char *path, size_t cap, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > cap) {
		close(fd);
		return LI707_ELIMIT;
	}
	size_t n = (size_t)st.st_size;
	char *buf = malloc(n + 1);
	if (!buf) {
		close(fd);
		return LI707_ENOMEM;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

/* Parses a schema file with the hostile-input rules. */
static int parse_schema_file(struct loader *l, const char *path, struct li707__xmldoc *x)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = read_file(path, SCHEMA_FILE_MAX, &buf, &len);
	if (rc) {
		char msg[160];
		snprintf(msg, sizeof msg, "schema file cannot be read (%s)", li707_strerror(rc));
		diag(l, LI707_ESCHEMASET, 0, path, msg);
		return LI707_ESCHEMASET;
	}
	struct li707_limits lim = {.max_document_bytes = SCHEMA_FILE_MAX,
				   .max_diagnostics = l->cap};
	rc = li707__xml_parse(buf, len, &lim, NULL, x, l->diags);
	if (rc) {
		free(buf);
		diag(l, LI707_ESCHEMASET, 0, path,
		     "schema file is not well-formed or has a DOCTYPE (refused: no DTDs)");
		return LI707_ESCHEMASET;
	}
	/* The DOM does not point into buf once parsed (raw offsets are not used here). */
	x->buf = NULL;
	x->len = 0;
	free(buf);
	return 0;
}

/* targetNamespace of a schema file's root element (new string), NULL if none/unreadable. */
static char *target_ns(struct loader *l, const char *path)
{
	struct li707__xmldoc x;
	struct li707_diags *saved = l->diags;
	l->diags = NULL; /* scanning: files that are not schemas are simply skipped */
	int rc = parse_schema_file(l, path, &x);
	l->diags = saved;
	if (rc)
		return NULL;
	char *ns = NULL;
	xmlNodePtr root = xmlDocGetRootElement(x.doc);
	if (root && root->ns && xmlStrEqual(root->ns->href, BAD_CAST NS_XS) &&
	    xmlStrEqual(root->name, BAD_CAST "schema")) {
		xmlChar *v = xmlGetNoNsProp(root, BAD_CAST "targetNamespace");
		if (v) {
			ns = li707__strdup((const char *)v);
			xmlFree(v);
		}
	}
	li707__xml_done(&x);
	return ns;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects *.xsd paths below dir (depth levels), sorted within each directory. */
static void list_xsd(const char *dir, int depth, char **out, size_t *n, size_t cap)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	char *names[MAX_FILES];
	size_t nn = 0;
	struct dirent *de;
	while ((de = readdir(d)) && nn < MAX_FILES) {
		if (de->d_name[0] == '.')
			continue;
		names[nn] = li707__strdup(de->d_name);
		if (names[nn])
			nn++;
	}
	closedir(d);
	qsort(names, nn, sizeof names[0], cmp_str);
	for (size_t i = 0; i < nn; i++) {
		char p[PATH_MAX];
		int w = snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		struct stat st;
		if (w > 0 && (size_t)w < sizeof p && lstat(p, &st) == 0) {
			size_t l = strlen(names[i]);
			if (S_ISDIR(st.st_mode) && depth > 1) {
				list_xsd(p, depth - 1, out, n, cap);
			} else if (S_ISREG(st.st_mode) && l > 4 &&
				   strcmp(names[i] + l - 4, ".xsd") == 0 && *n < cap) {
				out[*n] = li707__strdup(p);
				if (out[*n])
					(*n)++;
			}
		}
		free(names[i]);
	}
}

/* First file below dir (depth levels) whose targetNamespace is ns, as a real path. */
static char *find_by_ns(struct loader *l, const char *dir, int depth, const char *ns)
{
	char *files[MAX_FILES];
	size_t n = 0;
	list_xsd(dir, depth, files, &n, MAX_FILES);
	char *found = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!found) {
			char *t = target_ns(l, files[i]);
			if (t && strcmp(t, ns) == 0)
				found = realpath(files[i], NULL);
			free(t);
		}
		free(files[i]);
	}
	return found;
}

/* Real path of dir/rel when it is a readable file, else NULL. */
static char *existing(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	int w = snprintf(p, sizeof p, "%s/%s", dir, rel);
	if (w < 0 || (size_t)w >= sizeof p || access(p, R_OK) != 0)
		return NULL;
	return realpath(p, NULL);
}

/* ---- schemaLocation checks ---- */

static bool has_scheme(const char *loc)
{
	for (const char *p = loc; *p && *p != '/'; p++)
		if (*p == ':')
			return true;
	return false;
}

static bool loaded_before(const struct loader *l, size_t upto, const char *ns)
{
	for (size_t i = 0; i < upto; i++)
		if (strcmp(l->e[i].ns, ns) == 0)
			return true;
	return false;
}

static int check_file(struct loader *l, const char *path, size_t entry, int depth);

/* One xs:import / xs:include / xs:redefine of file (directory dir). */
static int check_ref(struct loader *l, xmlNodePtr el, const char *file, const char *dir,
		     size_t entry, int depth)
{
	bool import = xmlStrEqual(el->name, BAD_CAST "import");
	xmlChar *loc = xmlGetNoNsProp(el, BAD_CAST "schemaLocation");
	xmlChar *ns = import ? xmlGetNoNsProp(el, BAD_CAST "namespace") : NULL;
	int rc = 0;
	char msg[256];
	if (!loc)
		goto out; /* an import by namespace only: nothing is read */
	if (import && ns && loaded_before(l, entry, (const char *)ns))
		goto out; /* libxml2 skips it: that namespace is already loaded */
	if (has_scheme((const char *)loc) || !*loc) {
		snprintf(msg, sizeof msg,
			 "schemaLocation is not a local file path (li707 never loads schemas "
			 "from the network)");
		diag(l, LI707_ESCHEMASET, xmlGetLineNo(el), file, msg);
		rc = LI707_ESCHEMASET;
		goto out;
	}
	char *target = loc[0] == '/' ? realpath((const char *)loc, NULL)
				     : existing(dir, (const char *)loc);
	if (!target || access(target, R_OK) != 0) {
		diag(l, LI707_ESCHEMASET, xmlGetLineNo(el), file,
		     "schemaLocation names a file that does not exist");
		free(target);
		rc = LI707_ESCHEMASET;
		goto out;
	}
	rc = check_file(l, target, entry, depth + 1);
	free(target);
out:
	xmlFree(loc);
	xmlFree(ns);
	return rc;
}

/* Checks a schema file and, recursively, what it references. path is a real path. */
static int check_file(struct loader *l, const char *path, size_t entry, int depth)
{
	for (size_t i = 0; i < l->n_seen; i++)
		if (strcmp(l->seen[i], path) == 0)
			return 0;
	if (depth > INCLUDE_DEPTH || l->n_seen >= MAX_FILES) {
		diag(l, LI707_ESCHEMASET, 0, path, "schema includes nest too deeply");
		return LI707_ESCHEMASET;
	}
	l->seen[l->n_seen] = li707__strdup(path);
	if (!l->seen[l->n_seen])
		return LI707_ENOMEM;
	l->n_seen++;

	struct li707__xmldoc x;
	int rc = parse_schema_file(l, path, &x);
	if (rc)
		return rc;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	/* Every element of the document, in order. */
	xmlNodePtr top = xmlDocGetRootElement(x.doc), n = top;
	while (n && !rc) {
		if (n->type == XML_ELEMENT_NODE && n->ns &&
		    xmlStrEqual(n->ns->href, BAD_CAST NS_XS) &&
		    (xmlStrEqual(n->name, BAD_CAST "import") ||
		     xmlStrEqual(n->name, BAD_CAST "include") ||
		     xmlStrEqual(n->name, BAD_CAST "redefine") ||
		     xmlStrEqual(n->name, BAD_CAST "override")))
			rc = check_ref(l, n, path, dir, entry, depth);
		if (n->type == XML_ELEMENT_NODE && n->children) {
			n = n->children;
			continue;
		}
		while (n != top && !n->next)
			n = n->parent;
		n = n == top ? NULL : n->next;
	}
	li707__xml_done(&x);
	return rc;
}

/* ---- compile ---- */

struct errctx {
	struct li707_diags *diags;
	size_t cap;
	int code;
	size_t n;
	const char *prefix_path; /* validation of a subtree: path of its parent, or NULL */
};

/* Copies a libxml2 message: first line, controls and non-ASCII replaced, and every value
 * quoted from the instance replaced by "(value)" (R-SEC-6: diagnostics never carry field
 * content). libxml2 quotes values after "value " (The value 'x' ...), at the start of a
 * description ("Element 'e': 'x' is not a valid value ...") and in key sequences ['x']. */
static void redact(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = in ? in : "";
	while (*p && *p != '\n' && o + 1 < cap) {
		if (*p == '\'') {
			size_t back = (size_t)(p - (in ? in : ""));
			bool value = (back >= 6 && strncmp(p - 6, "value ", 6) == 0) ||
				     (back >= 2 && strncmp(p - 2, ": ", 2) == 0) ||
				     (back >= 1 && p[-1] == '[');
			if (value) {
				const char *end = NULL;
				static const char *const stops[] = {"' is ", "' has ", "']", "' of "};
				for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
					const char *e = strstr(p + 1, stops[i]);
					if (e && (!end || e < end))
						end = e;
				}
				static const char rep[] = "(value)";
				for (size_t i = 0; rep[i] && o + 1 < cap; i++)
					out[o++] = rep[i];
				if (!end)
					break;
				p = end + 1;
				continue;
			}
		}
		unsigned char ch = (unsigned char)*p++;
		out[o++] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static void on_schema_error(void *ud, xmlErrorPtr e);

/* Path of an element in the form decode.c and check.c use: fixed prefixes, repeatable
 * elements with their position among same-name siblings. */
static const char *const repeatable[] = {
	"ActionRequest", "ActionResponse", "AssociatedObject", "recipient", "identifier",
	"qualifiedPartyIdentifier", "binaryObject", "cspDefinedMetadata", NULL,
};

static void node_name(xmlNodePtr n, char *out, size_t cap)
{
	const char *pfx = NULL;
	const char *ns = n->ns && n->ns->href ? (const char *)n->ns->href : "";
	if (!*ns || !strcmp(ns, LI707_NS_CORE) || !strcmp(ns, LI707_NS_707))
		pfx = NULL;
	else if (!strcmp(ns, LI707_NS_DELIVERY))
		pfx = "delivery";
	else if (!strcmp(ns, LI707_NS_COMMON))
		pfx = "common";
	else if (!strcmp(ns, NS_DSIG))
		pfx = "digsig";
	else
		pfx = n->ns->prefix ? (const char *)n->ns->prefix : NULL;
	snprintf(out, cap, "%.40s%s%.64s", pfx ? pfx : "", pfx ? ":" : "", (const char *)n->name);
}

static void node_path(xmlNodePtr n, char *out, size_t cap)
{
	xmlNodePtr chain[128];
	size_t depth = 0;
	for (; n && n->type == XML_ELEMENT_NODE && depth < sizeof chain / sizeof chain[0];
	     n = n->parent)
		chain[depth++] = n;
	size_t o = 0;
	out[0] = '\0';
	while (depth-- > 0 && o + 1 < cap) {
		xmlNodePtr e = chain[depth];
		char name[128];
		node_name(e, name, sizeof name);
		size_t pos = 0, total = 0;
		for (xmlNodePtr s = e->parent ? e->parent->children : e; s; s = s->next) {
			if (s->type != XML_ELEMENT_NODE || !xmlStrEqual(s->name, e->name) ||
			    (s->ns == NULL) != (e->ns == NULL) ||
			    (s->ns && !xmlStrEqual(s->ns->href, e->ns->href)))
				continue;
			total++;
			if (s == e)
				pos = total;
		}
		bool rep = total > 1;
		for (size_t i = 0; repeatable[i]; i++)
			if (xmlStrEqual(e->name, BAD_CAST repeatable[i]))
				rep = true;
		if (xmlStrEqual(e->name, BAD_CAST "handoverItem") && e->parent &&
		    xmlStrEqual(e->parent->name, BAD_CAST "handoverItemCollection"))
			rep = true;
		int w = rep ? snprintf(out + o, cap - o, "/%s[%zu]", name, pos)
			    : snprintf(out + o, cap - o, "/%s", name);
		if (w < 0)
			break;
		o += (size_t)w < cap - o ? (size_t)w : cap - o - 1;
	}
}

static void on_schema_error(void *ud, xmlErrorPtr e)
{
	struct errctx *ec = ud;
	if (!e || e->level == XML_ERR_WARNING)
		return; /* e.g. "skipping import, namespace already loaded" */
	ec->n++;
	char msg[512];
	redact(e->message, msg, sizeof msg);
	char path[1024];
	const char *p = NULL;
	if (ec->code == LI707_ESCHEMA && e->node &&
	    ((xmlNodePtr)e->node)->type == XML_ELEMENT_NODE) {
		node_path(e->node, path, sizeof path);
		p = path;
	} else if (ec->code == LI707_ESCHEMASET && e->file) {
		snprintf(path, sizeof path, "%s", e->file);
		p = path;
	}
	(void)li707_diags_add(ec->diags, ec->cap, LI707_SEV_ERROR, ec->code, e->line, p, NULL,
			      LI707__NO_ACTION, "%s", msg);
}

/* libxml2 reports a few errors without a context (they would be printed by the thread's
 * default handler): while compiling or validating, this thread's handler swallows them;
 * the per-context handlers above get everything that matters. libxml2 keeps this handler
 * per thread, and the caller's is restored afterwards. */
struct quiet {
	xmlStructuredErrorFunc fn;
	void *ctx;
};

static void swallow(void *ud, xmlErrorPtr e)
{
	(void)ud;
	(void)e;
}

static void quiet_begin(struct quiet *q)
{
	q->fn = xmlStructuredError;
	q->ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(NULL, swallow);
}

static void quiet_end(const struct quiet *q)
{
	xmlSetStructuredErrorFunc(q->ctx, q->fn);
}

/* Appends s to the growing wrapper text with XML attribute escaping. */
static bool put_escaped(char *buf, size_t cap, size_t *len, const char *s)
{
	for (; *s; s++) {
		const char *r = NULL;
		char one[2] = {*s, 0};
		switch (*s) {
		case '&': r = "&amp;"; break;
		case '<': r = "&lt;"; break;
		case '"': r = "&quot;"; break;
		case '%': r = "%25"; break; /* schemaLocation is a URI reference */
		case ' ': r = "%20"; break;
		case '#': r = "%23"; break;
		case '?': r = "%3F"; break;
		default: r = one; break;
		}
		size_t l = strlen(r);
		if (*len + l >= cap)
			return false;
		memcpy(buf + *len, r, l);
		*len += l;
	}
	buf[*len] = '\0';
	return true;
}

static bool put(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t l = strlen(s);
	if (*len + l >= cap)
		return false;
	memcpy(buf + *len, s, l + 1);
	*len += l;
	return true;
}

static int compile(struct loader *l, xmlSchemaPtr *out)
{
	size_t cap = 1024 + l->n * (PATH_MAX * 3 + 200), len = 0;
	char *text = malloc(cap);
	if (!text)
		return LI707_ENOMEM;
	bool ok = put(text, cap, &len,
		      "<xs:schema xmlns:xs=\"" NS_XS "\" elementFormDefault=\"qualified\">\n");
	for (size_t i = 0; i < l->n && ok; i++) {
		ok = put(text, cap, &len, " <xs:import namespace=\"") &&
		     put_escaped(text, cap, &len, l->e[i].ns) &&
		     put(text, cap, &len, "\" schemaLocation=\"") &&
		     put_escaped(text, cap, &len, l->e[i].path) && put(text, cap, &len, "\"/>\n");
	}
	ok = ok && put(text, cap, &len, "</xs:schema>\n");
	if (!ok) {
		free(text);
		return LI707_ENOMEM;
	}
	int rc = LI707_ENOMEM;
	struct errctx ec = {.diags = l->diags, .cap = l->cap, .code = LI707_ESCHEMASET};
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewMemParserCtxt(text, (int)len);
	if (!pc)
		goto free_text;
	xmlSchemaSetParserStructuredErrors(pc, on_schema_error, &ec);
	struct quiet q;
	quiet_begin(&q);
	xmlSchemaPtr s = xmlSchemaParse(pc);
	quiet_end(&q);
	if (!s) {
		if (!ec.n)
			diag(l, LI707_ESCHEMASET, 0, NULL, "the schema set could not be compiled");
		rc = LI707_ESCHEMASET;
	} else {
		*out = s;
		rc = 0;
	}
	xmlSchemaFreeParserCtxt(pc);
free_text:
	free(text);
	return rc;
}

/* ---- load ---- */

static int add_entry(struct loader *l, const char *ns, char *path)
{
	if (!path)
		return LI707_ENOMEM;
	if (l->n >= sizeof l->e / sizeof l->e[0]) {
		free(path);
		return LI707_EINVAL;
	}
	l->e[l->n].ns = ns;
	l->e[l->n].path = path;
	l->n++;
	return 0;
}

static int need(struct loader *l, const char *dir, const char *rel, const char *ns,
		const char *what)
{
	char *p = existing(dir, rel);
	if (!p) {
		char msg[200];
		snprintf(msg, sizeof msg, "%s not found or not readable", what);
		diag(l, LI707_ESCHEMASET, 0, rel, msg);
		return LI707_ESCHEMASET;
	}
	return add_entry(l, ns, p);
}

static const struct {
	const char *file, *ns;
	bool required;
} ts103120[] = {
	{"ts_103120_Common.xsd", LI707_NS_COMMON, true},
	{"ts_103120_Core.xsd", LI707_NS_CORE, true},
	{"ts_103120_Task.xsd", "http://uri.etsi.org/03120/common/2020/09/Task", false},
	{"ts_103120_Authorisation.xsd", "http://uri.etsi.org/03120/common/2020/09/Authorisation",
	 false},
	{"ts_103120_Document.xsd", "http://uri.etsi.org/03120/common/2020/09/Document", false},
	{"ts_103120_Delivery.xsd", LI707_NS_DELIVERY, true},
	{"ts_103120_Notification.xsd", "http://uri.etsi.org/03120/common/2016/02/Notification",
	 false},
	{"ts_103120_TrafficPolicy.xsd", "http://uri.etsi.org/03120/common/2022/07/TrafficPolicy",
	 false},
};

static int collect(struct loader *l, const char *project, const char *official)
{
	int rc;
	if (official) {
		if ((rc = need(l, official, "w3c/xmldsig-core-schema.xsd", NS_DSIG,
			       "W3C XML Signature schema (w3c/xmldsig-core-schema.xsd)")))
			return rc;
		char sub[PATH_MAX];
		snprintf(sub, sizeof sub, "%s/103280", official);
		char *p280 = find_by_ns(l, sub, 1, NS_280);
		if (!p280) {
			diag(l, LI707_ESCHEMASET, 0, sub,
			     "no TS 103 280 schema (targetNamespace " NS_280 ") in 103280/");
			return LI707_ESCHEMASET;
		}
		if ((rc = add_entry(l, NS_280, p280)))
			return rc;
		for (size_t i = 0; i < sizeof ts103120 / sizeof ts103120[0]; i++) {
			char rel[128];
			snprintf(rel, sizeof rel, "103120/schema/%s", ts103120[i].file);
			char *p = existing(official, rel);
			if (!p && ts103120[i].required) {
				diag(l, LI707_ESCHEMASET, 0, rel,
				     "required TS 103 120 schema not found or not readable");
				return LI707_ESCHEMASET;
			}
			if (p && (rc = add_entry(l, ts103120[i].ns, p)))
				return rc;
		}
		char *p707 = find_by_ns(l, official, SCAN_DEPTH, LI707_NS_707);
		if (p707)
			return add_entry(l, LI707_NS_707, p707);
	} else {
		if ((rc = need(l, project, "ts_103280_standin.xsd", NS_280,
			       "TS 103 280 stand-in schema (ts_103280_standin.xsd)")))
			return rc;
	}
	return need(l, project, "ts_103707.xsd", LI707_NS_707,
		    "TS 103 707 schema (ts_103707.xsd)");
}

static void loader_done(struct loader *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].path);
	for (size_t i = 0; i < l->n_seen; i++)
		free(l->seen[i]);
}

int li707_schema_set_load(const char *project_dir, const char *official_dir,
			  struct li707_schema_set **out, struct li707_diags *diags)
{
	if (!out)
		return LI707_EINVAL;
	if (!project_dir || !*project_dir) {
		const char *env = getenv("LI707_SCHEMA_DIR");
		project_dir = env && *env ? env : LI707_SCHEMA_DIR;
	}
	struct li707_limits lim = {0};
	li707_limits_resolve(&lim);
	struct loader *l = calloc(1, sizeof *l);
	if (!l)
		return LI707_ENOMEM;
	l->diags = diags;
	l->cap = lim.max_diagnostics;

	int rc = LI707_ENOMEM;
	struct li707_schema_set *s = NULL;
	char *proj = realpath(project_dir, NULL);
	char *off = official_dir ? realpath(official_dir, NULL) : NULL;
	if (!proj || (official_dir && !off)) {
		diag(l, LI707_ESCHEMASET, 0, !proj ? project_dir : official_dir,
		     "schema directory not found");
		rc = LI707_ESCHEMASET;
		goto done;
	}
	if ((rc = collect(l, proj, off)))
		goto done;
	for (size_t i = 0; i < l->n; i++)
		if ((rc = check_file(l, l->e[i].path, i, 0)))
			goto done;
	s = calloc(1, sizeof *s);
	if (!s) {
		rc = LI707_ENOMEM;
		goto done;
	}
	s->full = off != NULL;
	s->path_707 = li707__strdup(l->e[l->n - 1].path);
	if (!s->path_707) {
		rc = LI707_ENOMEM;
		goto done;
	}
	if ((rc = compile(l, &s->schema)))
		goto done;
	*out = s;
	s = NULL;
done:
	li707_schema_set_free(s);
	free(proj);
	free(off);
	loader_done(l);
	free(l);
	return rc;
}

void li707_schema_set_free(struct li707_schema_set *s)
{
	if (!s)
		return;
	if (s->schema)
		xmlSchemaFree(s->schema);
	free(s->path_707);
	free(s);
}

int li707_schema_set_is_full(const struct li707_schema_set *s)
{
	return s && s->full;
}

const char *li707_schema_set_707_path(const struct li707_schema_set *s)
{
	return s ? s->path_707 : NULL;
}

/* ---- validate ---- */

/* The DELIVER XMLData elements of an HI1Message, in document order. */
static size_t find_xmldata(xmlNodePtr root, xmlNodePtr *out, size_t cap)
{
	static const struct {
		const char *ns, *name;
	} steps[] = {
		{LI707_NS_CORE, "Payload"},	   {LI707_NS_CORE, "RequestPayload"},
		{LI707_NS_CORE, "ActionRequests"}, {LI707_NS_CORE, "ActionRequest"},
		{LI707_NS_CORE, "DELIVER"},	   {LI707_NS_CORE, "HI1Object"},
		{LI707_NS_DELIVERY, "Delivery"},   {LI707_NS_DELIVERY, "XMLData"},
	};
	size_t n = 0;
	/* Depth-first over exactly these steps. */
	xmlNodePtr stack[sizeof steps / sizeof steps[0] + 1];
	size_t depth = 0;
	stack[0] = root->children;
	while (true) {
		xmlNodePtr k = stack[depth];
		if (!k) {
			if (depth == 0)
				break;
			depth--;
			stack[depth] = stack[depth]->next;
			continue;
		}
		bool match = k->type == XML_ELEMENT_NODE && k->ns &&
			     xmlStrEqual(k->ns->href, BAD_CAST steps[depth].ns) &&
			     xmlStrEqual(k->name, BAD_CAST steps[depth].name);
		if (!match) {
			stack[depth] = k->next;
			continue;
		}
		if (depth + 1 == sizeof steps / sizeof steps[0]) {
			if (out && n < cap)
				out[n] = k;
			n++;
			stack[depth] = k->next;
			continue;
		}
		stack[++depth] = k->children;
	}
	return n;
}

static int validate_elem(const struct li707_schema_set *s, xmlDocPtr doc, xmlNodePtr elem,
			 struct errctx *ec)
{
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(s->schema);
	if (!vc)
		return LI707_ENOMEM;
	xmlSchemaSetValidStructuredErrors(vc, on_schema_error, ec);
	size_t before = ec->n;
	struct quiet q;
	quiet_begin(&q);
	int r = elem ? xmlSchemaValidateOneElement(vc, elem) : xmlSchemaValidateDoc(vc, doc);
	quiet_end(&q);
	xmlSchemaFreeValidCtxt(vc);
	if (r == 0)
		return 0;
	if (ec->n == before)
		(void)li707_diags_add(ec->diags, ec->cap, LI707_SEV_ERROR, LI707_ESCHEMA,
				      elem ? xmlGetLineNo(elem) : 0, NULL, NULL, LI707__NO_ACTION,
				      "%s", r < 0 ? "schema validation failed internally"
						  : "document is not valid against the schema");
	return LI707_ESCHEMA;
}

int li707_schema_validate(const struct li707_schema_set *s, const char *buf, size_t len,
			  const struct li707_limits *lim_in, struct li707_diags *diags)
{
	if (!s || !s->schema || (!buf && len))
		return LI707_EINVAL;
	struct li707_limits lim = {0};
	if (lim_in)
		lim = *lim_in;
	li707_limits_resolve(&lim);
	struct li707__xmldoc x;
	int rc = li707__xml_parse(buf, len, &lim, NULL, &x, diags);
	if (rc)
		return rc;
	struct errctx ec = {.diags = diags, .cap = lim.max_diagnostics, .code = LI707_ESCHEMA};
	xmlNodePtr root = xmlDocGetRootElement(x.doc);
	bool hi1 = root && root->ns && xmlStrEqual(root->ns->href, BAD_CAST LI707_NS_CORE) &&
		   xmlStrEqual(root->name, BAD_CAST "HI1Message");
	if (s->full || !hi1) {
		rc = validate_elem(s, x.doc, NULL, &ec);
		goto done;
	}
	/* Plain set: each DELIVER's XMLData element(s) on their own (the envelope needs the
	 * official TS 103 120 schemas). Validated in place, so lines and in-scope namespaces
	 * (xsi:type prefixes) are those of the message. */
	size_t n = find_xmldata(root, NULL, 0);
	xmlNodePtr *found = n ? calloc(n, sizeof *found) : NULL;
	if (n && !found) {
		rc = LI707_ENOMEM;
		goto done;
	}
	find_xmldata(root, found, n);
	size_t n_elems = 0;
	for (size_t i = 0; i < n; i++) {
		for (xmlNodePtr k = found[i]->children; k; k = k->next) {
			if (k->type != XML_ELEMENT_NODE)
				continue;
			n_elems++;
			int r = validate_elem(s, x.doc, k, &ec);
			if (r && (!rc || r == LI707_ENOMEM))
				rc = r;
		}
	}
	free(found);
	if (!n_elems)
		(void)li707_diags_add(diags, lim.max_diagnostics, LI707_SEV_NOTE, 0,
				      xmlGetLineNo(root), "/HI1Message", NULL, LI707__NO_ACTION,
				      "%s", "no DELIVER XMLData payload to validate; the TS 103 120 "
					    "envelope is only validated with the official schemas "
					    "(--schemas DIR)");
done:
	li707__xml_done(&x);
	return rc;
}
