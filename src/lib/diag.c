/* li707 - the diagnostics list (include/li707/codec.h) and limit defaults.
 *
 * A list never grows beyond its cap: findings past it are counted in dropped, errors are
 * always counted in n_errors, so a caller knows a message failed even when the list is full.
 * An allocation failure while adding loses that one finding (counted as dropped) and
 * returns LI707_ENOMEM; the list stays consistent. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DIAGS_CAP_DEFAULT 100

void li707_limits_resolve(struct li707_limits *lim)
{
	if (!lim)
		return;
	if (!lim->max_document_bytes)
		lim->max_document_bytes = (size_t)64 << 20;
	if (!lim->max_depth)
		lim->max_depth = 64;
	if (!lim->max_actions)
		lim->max_actions = 1000;
	if (!lim->max_items)
		lim->max_items = 100000;
	if (!lim->max_attachments)
		lim->max_attachments = 1000;
	if (!lim->max_identifiers)
		lim->max_identifiers = 1000;
	if (!lim->max_string_bytes)
		lim->max_string_bytes = 65535; /* TS 103 280 LongString */
	if (!lim->max_raw_xml_bytes)
		lim->max_raw_xml_bytes = (size_t)4 << 20;
	if (!lim->max_diagnostics)
		lim->max_diagnostics = DIAGS_CAP_DEFAULT;
	if (!lim->max_attributes)
		lim->max_attributes = 256;
	if (!lim->max_namespace_decls)
		lim->max_namespace_decls = 64;
	if (!lim->max_namespaces_in_scope)
		lim->max_namespaces_in_scope = 128;
}

void li707_diags_clear(struct li707_diags *d)
{
	if (!d)
		return;
	if (d->v) {
		for (size_t i = 0; i < d->n; i++) {
			free(d->v[i].path);
			free(d->v[i].req);
			free(d->v[i].message);
		}
	}
	free(d->v);
	memset(d, 0, sizeof *d);
}

__attribute__((format(printf, 1, 0)))
static char *vformat(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return li707__strdup("(unformattable message)");
	char *s = malloc((size_t)n + 1);
	if (s)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

int li707_diags_add(struct li707_diags *d, size_t cap, enum li707_severity sev, int code,
		    long line, const char *path, const char *req, size_t action,
		    const char *fmt, ...)
{
	if (!d)
		return 0; /* diagnostics are optional everywhere */
	if (!fmt)
		return LI707_EINVAL;
	if (cap == 0)
		cap = DIAGS_CAP_DEFAULT;
	if (sev == LI707_SEV_ERROR)
		d->n_errors++;
	if (d->n >= cap) {
		d->dropped++;
		return 0;
	}
	/* Capacity is implied by n (0, 1, 2, 4, 8, ...), so the list needs no extra field:
	 * the array is reallocated exactly when n is 0 or a power of two. */
	if (d->n == 0 || (d->n & (d->n - 1)) == 0) {
		/* At least n is allocated; the limit 2 * cap lets it double to 2n (n < cap), so
		 * the implied capacity stays right even if a later call passes a larger cap. */
		size_t alloc = d->n;
		size_t max = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		if (li707_array_grow((void **)&d->v, &alloc, d->n + 1, sizeof *d->v, max)) {
			d->dropped++;
			return LI707_ENOMEM; /* d->n < cap: only ENOMEM */
		}
	}
	struct li707_diag g;
	memset(&g, 0, sizeof g);
	g.severity = sev;
	g.code = code;
	g.line = line;
	g.action = action;
	g.path = path ? li707__strdup(path) : NULL;
	g.req = req ? li707__strdup(req) : NULL;
	va_list ap;
	va_start(ap, fmt);
	g.message = vformat(fmt, ap);
	va_end(ap);
	if ((path && !g.path) || (req && !g.req) || !g.message) {
		free(g.path);
		free(g.req);
		free(g.message);
		d->dropped++;
		return LI707_ENOMEM;
	}
	d->v[d->n++] = g;
	return 0;
}
