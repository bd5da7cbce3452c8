/* li707 common - Model B push of one binary object (Annex C.3; R-BIN-B2, R-BIN-B3). push.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "continue_timeout.h"
#include "li707/li707.h"
#include "push.h"

#define PUSH_MAX_ANSWER ((size_t)64 << 10) /* the LEA's answer body kept for the reason */

const char *lx_push_verdict_name(enum lx_push_verdict v)
{
	switch (v) {
	case LX_PUSH_STORED: return "stored";
	case LX_PUSH_MISMATCH: return "mismatch";
	case LX_PUSH_REFUSED: return "refused";
	case LX_PUSH_RETRY: return "retry";
	}
	return "retry";
}

static void set_reason(struct lx_push *p, enum lx_push_verdict v, const char *what)
{
	p->verdict = v;
	snprintf(p->reason, sizeof p->reason, "%s", what);
}

int lx_push_prepare(struct lx_push *p, const struct lx_push_req *req, int64_t now_epoch,
		    uint32_t now_usec)
{
	if (!p || !req || !req->url || !req->path || !req->content_type || !*req->content_type ||
	    strpbrk(req->content_type, "\r\n") || strlen(req->content_type) > 255 ||
	    req->expect_max_ms < 0)
		return LI707_EINVAL;
	p->fd = -1;
	p->retry_after = -1;
	p->reason[0] = '\0';
	memset(&p->res, 0, sizeof p->res);
	long max = req->expect_max_ms ? req->expect_max_ms : LX_CONTINUE_TIMEOUT_MAX_MS_DEFAULT;
	long ms = 0;
	/* TS103707 R-BIN-B3, Annex C.3: the continue timeout follows the record's expiry. */
	int rc = lx_continue_timeout_ms(req->expiry, now_epoch, now_usec, max, &ms);
	if (rc == -ETIME) {
		set_reason(p, LX_PUSH_REFUSED, "the record's expiry has passed: not uploaded");
		return rc;
	}
	if (rc)
		return rc;
	int fd = open(req->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (req->size >= 0 && st.st_size != req->size) {
		snprintf(p->reason, sizeof p->reason,
			 "the file has %lld bytes, its record %lld: not uploaded",
			 (long long)st.st_size, (long long)req->size);
		p->verdict = LX_PUSH_MISMATCH;
		close(fd);
		return LI707_EMISMATCH;
	}
	p->fd = fd;
	p->size = st.st_size;
	p->expect_ms = ms;
	lx_http_transfer_init(&p->xfer);
	p->xfer.url = req->url;
	p->xfer.post = true;
	p->xfer.content_type = req->content_type;
	p->xfer.body_fd = fd;
	p->xfer.body_size = st.st_size;
	p->xfer.expect_continue = true; /* TS103707 R-BIN-B3 */
	p->xfer.expect_timeout_ms = ms;
	p->xfer.max_body = PUSH_MAX_ANSWER;
	p->xfer.priority = req->priority;
	p->xfer.size_hint = st.st_size; /* small first (R-BIN-2) */
	p->xfer.progress = req->progress;
	return 0;
}

/* The first line of the LEA's answer, printable ASCII only, for the reason. */
static void answer_line(const struct lx_http_result *r, char *out, size_t n)
{
	size_t k = 0;
	if (r->body)
		for (size_t i = 0; i < r->body_len && k + 1 < n; i++) {
			char c = r->body[i];
			if (c == '\n' || c == '\r')
				break;
			out[k++] = c >= 0x20 && c < 0x7f ? c : '?';
		}
	out[k] = '\0';
}

void lx_push_classify(struct lx_push *p)
{
	const struct lx_http_result *r = &p->res;
	char ans[160], t[256];
	answer_line(r, ans, sizeof ans);
	p->retry_after = -1;
	if (r->err == LX_HTTP_OK) {
		snprintf(t, sizeof t, "HTTP %ld%s", r->status, r->got_100 ? " after 100 Continue" : "");
		set_reason(p, LX_PUSH_STORED, t);
		return;
	}
	if (r->err != LX_HTTP_ESTATUS) {
		/* A transport failure: the LEA may not have seen the request at all. */
		enum lx_push_verdict v = r->err == LX_HTTP_EURL ? LX_PUSH_REFUSED : LX_PUSH_RETRY;
		bool no100 = !r->got_100 && r->status == 0 && r->err == LX_HTTP_ETIMEOUT;
		snprintf(t, sizeof t, "%s%s%s%.120s", lx_http_errname(r->err),
			 no100 ? " (no 100 Continue within the continue timeout, then no answer)" : "",
			 r->detail[0] ? ": " : "", r->detail);
		set_reason(p, v, t);
		return;
	}
	long st = r->status;
	enum lx_push_verdict v;
	if (st == 409 || st == 422)
		v = LX_PUSH_MISMATCH;
	else if (st == 408 || st == 429 || st >= 500)
		v = LX_PUSH_RETRY;
	else
		v = LX_PUSH_REFUSED;
	if (v == LX_PUSH_RETRY)
		p->retry_after = r->retry_after;
	const char *what = "";
	if (st == 409 && !strstr(ans, "differs"))
		what = " (the LEA holds this object complete already, or an upload of it is in progress)";
	snprintf(t, sizeof t, "HTTP %ld%s%.120s%s", st, ans[0] ? ": " : "", ans, what);
	set_reason(p, v, t);
}

void lx_push_done(struct lx_push *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	lx_http_result_done(&p->res);
}

static void push_finished(void *ud, struct lx_http_result *r)
{
	(void)r;
	struct lx_push *p = ud;
	lx_push_classify(p);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->done)
		p->done(p->ud, p);
}

int lx_push_start(struct lx_http_client *c, struct lx_push *p, const struct lx_push_req *req)
{
	struct li707_time now;
	int rc = li707_time_now(&now);
	if (rc)
		return rc;
	rc = lx_push_prepare(p, req, now.epoch, now.usec);
	if (rc)
		return rc;
	p->xfer.done = push_finished;
	p->xfer.done_ud = p;
	rc = lx_http_submit(c, &p->xfer, &p->res);
	if (rc)
		lx_push_done(p);
	return rc;
}
