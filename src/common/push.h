/* li707 common - Model B push of one binary object (TS 103 707 Annex C.3; R-BIN-B2, R-BIN-B3),
 * shared by `li707 post-binary` and li707-csp's csp_push (docs/internals/csp-push.md).
 *
 * One push = one POST on a struct lx_http_client: the object's Content-Type, Content-Length
 * from the file (which must have the size its binaryData record announced) and always
 * `Expect: 100-continue`, with the continue timeout following the record's expiry bounded by
 * a maximum (lx_continue_timeout_ms); the body is streamed from the file, never held in
 * memory. The LEA's answer is classified into a verdict (lx_push_classify):
 *
 *   stored    2xx
 *   mismatch  409 (the LEA's "Content-Length differs from the record", or a conflict with
 *             what it holds: complete already or an upload in progress) and 422 (stored, but
 *             its length or SHA-256 differ from the record) - li707-lea's answers, docs/lea.md
 *   refused   other 4xx but 408 and 429 (404 unknown or expired URL, refused peer, 403, 405,
 *             411, 413 too big, ...), a 1xx/3xx final status, a malformed URL, an expiry that
 *             has passed before the push started (the URL is no longer valid)
 *   retry     transport failures (TLS, connect, DNS, reset, timeout - including a peer that
 *             never sent 100 Continue and then never answered), 408, 429, 5xx (503 with its
 *             Retry-After), a response over the cap, a local read error
 *
 * Concurrency: a push only submits a transfer; several pushes run in parallel on one client
 * (lx_http_run drives them). Each has its own connection (HTTP/1.1, no pipelining) and the
 * client starts waiting transfers small first, so a small push is never queued behind a large
 * one (R-BIN-2) as long as the client has a free slot: see docs/internals/csp-push.md.
 *
 * The module never prints. */
#ifndef LX_COMMON_PUSH_H
#define LX_COMMON_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "http_client.h"

enum lx_push_verdict {
	LX_PUSH_STORED = 0,
	LX_PUSH_MISMATCH,
	LX_PUSH_REFUSED,
	LX_PUSH_RETRY,
};

/* "stored", "mismatch", "refused", "retry". */
const char *lx_push_verdict_name(enum lx_push_verdict v);

/* What to push. Strings are borrowed until the push is done. */
struct lx_push_req {
	const char *url;          /* https URL of the object (the LEA's scheme filled in) */
	const char *path;         /* the file to send */
	int64_t size;             /* the size the record announced; -1: whatever the file has */
	const char *content_type; /* the object's MIME type (no CR/LF, <= 255 bytes) */
	const char *expiry;       /* the binaryData record's expiry (QualifiedDateTime), or NULL */
	long expect_max_ms;       /* longest continue timeout; 0: LX_CONTINUE_TIMEOUT_MAX_MS_DEFAULT */
	int priority;             /* lx_http_transfer.priority (lower first) */
	struct lx_http_progress *progress; /* lx_http_transfer.progress, or NULL */
};

/* One push in flight. Caller-allocated; must stay put from lx_push_start until done ran. */
struct lx_push {
	struct lx_http_transfer xfer;
	struct lx_http_result res;  /* the transfer's result (res.body: the LEA's answer) */
	int fd;
	int64_t size;               /* bytes of the body */
	long expect_ms;             /* the continue timeout used */
	enum lx_push_verdict verdict;
	char reason[256];           /* why (the status and what the LEA said, or the failure) */
	long retry_after;           /* retry: seconds the LEA asked to wait, -1 none */
	void (*done)(void *ud, struct lx_push *p); /* called once the verdict is set */
	void *ud;
};

/* Opens the file, checks its size against req->size, computes the continue timeout at now
 * (epoch seconds + microseconds) and fills p->xfer (p->done / p->ud are kept). Nothing is
 * sent. Returns 0; LI707_EINVAL (bad request: a content type with CR/LF or too long, no URL,
 * max <= 0); LI707_EINVALID (expiry not a QualifiedDateTime); -ETIME (the expiry has
 * passed: p->verdict = refused, p->reason says so); LI707_EMISMATCH (the file's size is not
 * the record's: p->reason says both); -errno (the file cannot be opened, not a regular file:
 * -EINVAL). On error nothing is left open. */
int lx_push_prepare(struct lx_push *p, const struct lx_push_req *req, int64_t now_epoch,
		    uint32_t now_usec);

/* lx_push_prepare with the clock, then lx_http_submit on c. When the transfer is over,
 * the verdict is classified, the file closed and p->done called (from lx_http_run). Returns
 * 0 (submitted) or the prepare/submit error (done is not called then; p->verdict/reason are
 * set for -ETIME and LI707_EMISMATCH). */
int lx_push_start(struct lx_http_client *c, struct lx_push *p, const struct lx_push_req *req);

/* Classifies a finished transfer (table above) into p->verdict, p->reason, p->retry_after. */
void lx_push_classify(struct lx_push *p);

/* Closes the file and frees the result's body. Safe to call twice. */
void lx_push_done(struct lx_push *p);

#endif
