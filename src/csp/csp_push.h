/* li707-csp - Model B push of one object to its LEA (TS 103 707 Annex C.3; R-BIN-B1..B3,
 * R-BIN-2). docs/internals/csp-push.md.
 *
 * After the DeliveryObject carrying an object's binaryData record was acknowledged, the
 * agent POSTs the object to the LEA's URL scheme (R-BIN-B1): `modelb_url` of the [lea NAME]
 * section, either a template with one "{id}" (or "{uuid}", the spelling of `li707 build
 * --lea-url-scheme`) put in place of by the object's UUID, or a base ending in "/" to which
 * "UUID/" is appended (the form of clause C.3, https://lea.example/binaryData/UUID/). The
 * POST itself (Content-Type, Content-Length, Expect: 100-continue, the continue timeout from
 * the record's expiry bounded by expect_timeout, the body streamed from the spool file) and
 * the verdict (stored / mismatch / refused / retry with the reason) are src/common/push.h's,
 * shared with `li707 post-binary`.
 *
 * This module takes plain values (no store, no configuration): wave 2 feeds it the objects
 * the store says are due and writes the verdict back (objects.push_state, verdict).
 *
 * No head-of-line blocking (R-BIN-2): pushes are asynchronous transfers on a struct
 * lx_http_client; each runs on its own connection and waiting ones start smallest first, a
 * body above CSP_PUSH_LARGE also at a lower priority. The caller gives pushes a client of
 * their own (not the one DeliveryObjects go on) and starts at most max_active - 1 large
 * pushes at once, so one slot is always there for a small one.
 *
 * Thread model: that of the client (one thread). Nothing is logged; the reason never holds
 * a target identifier (the URL holds the object's UUID only). */
#ifndef LI707_CSP_PUSH_H
#define LI707_CSP_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_client.h"
#include "push.h"

#define CSP_PUSH_URL_MAX 2048
#define CSP_PUSH_LARGE ((int64_t)8 << 20) /* bodies above this run at priority 1 */

/* The object to push (borrowed until the push is done). */
struct csp_push_object {
	const char *uuid;          /* the binaryObject's UUID (the {id} of the scheme) */
	const char *path;          /* its file in the spool */
	int64_t size;              /* its size as in the record; -1: the file's */
	const char *content_type;  /* as in the record */
	const char *expiry;        /* the record's expiry (QualifiedDateTime) or NULL */
};

/* The LEA's verdict on one push. */
struct csp_push_result {
	enum lx_push_verdict verdict; /* stored, mismatch, refused, retry */
	long http_status;             /* final status, 0 when there was none */
	bool got_100;                 /* the LEA answered 100 Continue */
	long expect_ms;               /* the continue timeout used */
	long retry_after;             /* retry: the LEA's Retry-After in seconds, -1 none */
	uint64_t bytes;               /* body bytes of the object */
	char reason[256];             /* why, for the log and the store (no target identifier) */
};

/* The object's URL from the LEA's scheme. 0; LI707_EINVAL (scheme without exactly one
 * placeholder and not ending in "/", not https, uuid not a UUID); LI707_ELIMIT (longer than
 * n - 1). out is written only on success. */
int csp_push_url(const char *scheme, const char *uuid, char *out, size_t n);

/* One push in flight (caller-allocated; stays put until done ran). */
struct csp_push {
	struct lx_push p;
	char url[CSP_PUSH_URL_MAX];
	struct csp_push_result result;
	void (*done)(void *ud, struct csp_push *cp); /* result is filled */
	void *ud;
	struct lx_http_progress *progress; /* stage and bytes sent while it runs, or NULL (set
				* before csp_push_start; stays put until done ran) */
};

/* Starts a push on c: the transfer runs when the caller drives c (lx_http_run), and done is
 * called from there with cp->result filled. expect_timeout_ms bounds the continue timeout
 * (0: LX_CONTINUE_TIMEOUT_MAX_MS_DEFAULT). Returns 0 (started), or an error with done not
 * called: -ETIME (the record expired: result refused) and LI707_EMISMATCH (the spool file
 * has another size than its record: result mismatch) with cp->result filled; LI707_EINVAL,
 * LI707_EINVALID (bad expiry), LI707_ELIMIT (client queue full), -errno (file). */
int csp_push_start(struct lx_http_client *c, struct csp_push *cp, const char *scheme,
		   const struct csp_push_object *o, long expect_timeout_ms);

/* Synchronous convenience: csp_push_start, then drives c until it is done. Returns 0 with
 * *out filled (whatever the verdict), or the csp_push_start error (with *out filled for
 * -ETIME and LI707_EMISMATCH). */
int csp_push_one(struct lx_http_client *c, const char *scheme, const struct csp_push_object *o,
		 long expect_timeout_ms, struct csp_push_result *out);

#endif
