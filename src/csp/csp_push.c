/* li707-csp - Model B push of one object (Annex C.3; R-BIN-B1..B3, R-BIN-2). csp_push.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "csp_push.h"
#include "li707/li707.h"

/* TS103707 R-BIN-B1: the LEA's scheme with the object's UUID. */
int csp_push_url(const char *scheme, const char *uuid, char *out, size_t n)
{
	if (!scheme || !uuid || !out || !li707_check_uuid(uuid) ||
	    strncmp(scheme, "https://", 8) != 0 || strpbrk(scheme, " \t\r\n"))
		return LI707_EINVAL;
	static const char *const ph[] = {"{id}", "{uuid}"};
	const char *at = NULL;
	size_t plen = 0;
	for (size_t i = 0; i < 2; i++) {
		const char *p = strstr(scheme, ph[i]);
		if (!p)
			continue;
		if (at || strstr(p + 1, ph[i]))
			return LI707_EINVAL; /* more than one placeholder */
		at = p;
		plen = strlen(ph[i]);
	}
	int m;
	size_t sl = strlen(scheme);
	if (at)
		m = snprintf(out, n, "%.*s%s%s", (int)(at - scheme), scheme, uuid, at + plen);
	else if (sl > 8 && scheme[sl - 1] == '/')
		m = snprintf(out, n, "%s%s/", scheme, uuid);
	else
		return LI707_EINVAL;
	if (m < 0 || (size_t)m >= n) {
		if (n)
			out[0] = '\0';
		return LI707_ELIMIT;
	}
	return 0;
}

static void fill_result(struct csp_push *cp)
{
	struct csp_push_result *r = &cp->result;
	r->verdict = cp->p.verdict;
	r->http_status = cp->p.res.status;
	r->got_100 = cp->p.res.got_100;
	r->expect_ms = cp->p.expect_ms;
	r->retry_after = cp->p.retry_after;
	r->bytes = cp->p.size > 0 ? (uint64_t)cp->p.size : 0;
	snprintf(r->reason, sizeof r->reason, "%s", cp->p.reason);
}

static void push_done(void *ud, struct lx_push *p)
{
	struct csp_push *cp = ud;
	fill_result(cp);
	lx_push_done(p); /* the answer's body is not needed any more */
	if (cp->done)
		cp->done(cp->ud, cp);
}

int csp_push_start(struct lx_http_client *c, struct csp_push *cp, const char *scheme,
		   const struct csp_push_object *o, long expect_timeout_ms)
{
	if (!c || !cp || !o || expect_timeout_ms < 0)
		return LI707_EINVAL;
	memset(&cp->result, 0, sizeof cp->result);
	cp->result.retry_after = -1;
	int rc = csp_push_url(scheme, o->uuid, cp->url, sizeof cp->url);
	if (rc)
		return rc;
	memset(&cp->p, 0, sizeof cp->p);
	cp->p.fd = -1;
	cp->p.done = push_done;
	cp->p.ud = cp;
	struct lx_push_req req = {
		.url = cp->url,
		.path = o->path,
		.size = o->size,
		.content_type = o->content_type,
		.expiry = o->expiry,
		.expect_max_ms = expect_timeout_ms,
		/* R-BIN-2: large bodies start after every waiting small one. */
		.priority = o->size > CSP_PUSH_LARGE ? 1 : 0,
		.progress = cp->progress,
	};
	rc = lx_push_start(c, &cp->p, &req);
	if (rc == -ETIME || rc == LI707_EMISMATCH)
		fill_result(cp);
	return rc;
}

struct one {
	bool done;
};

static void one_done(void *ud, struct csp_push *cp)
{
	(void)cp;
	((struct one *)ud)->done = true;
}

int csp_push_one(struct lx_http_client *c, const char *scheme, const struct csp_push_object *o,
		 long expect_timeout_ms, struct csp_push_result *out)
{
	if (!out)
		return LI707_EINVAL;
	struct csp_push cp;
	struct one st = {false};
	memset(&cp, 0, sizeof cp);
	cp.done = one_done;
	cp.ud = &st;
	int rc = csp_push_start(c, &cp, scheme, o, expect_timeout_ms);
	if (rc) {
		if (rc == -ETIME || rc == LI707_EMISMATCH)
			*out = cp.result;
		return rc;
	}
	while (!st.done) {
		int n = lx_http_run(c, 1000);
		if (n < 0)
			return n;
		if (n == 0 && !st.done)
			return LI707_EINVAL; /* cannot happen: the transfer finished without done */
	}
	*out = cp.result;
	return 0;
}
