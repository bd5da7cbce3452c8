/* li707-csp - the table of binary transfers in progress (issue 11: `li707-csp status` shows
 * transfers with bytes and rate). docs/internals/csp-files.md, csp-push.md.
 *
 * One small mutex-protected table per daemon: every Model B push and every Model A/C answer
 * with a body registers here when it starts and leaves when it ends. The movers never write
 * into the table while bytes move: they keep their own counter (an atomic: the client's
 * lx_http_progress, the server's lx_http_sent) and the table reads it through the probe
 * callback when it is asked (status) or sampled (the daemon's tick, once a second), so the
 * serving path pays one lock at its start and one at its end, nothing per byte. The rate is
 * bytes per second over the samples of the last CSP_XFER_RATE_WINDOW_MS. The last
 * CSP_XFER_KEEP finished transfers are kept with their outcome.
 *
 * Nothing in the table is a target identifier: LEA names, objects.id keys, sizes, byte
 * ranges, stage and outcome names. Thread safety: every function may be called from any
 * thread; a probe is called with the table's mutex held and must only load atomics. */
#ifndef LI707_CSP_XFER_H
#define LI707_CSP_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CSP_XFER_ACTIVE_MAX 512     /* transfers shown at once (more run untracked, counted) */
#define CSP_XFER_KEEP 16            /* finished transfers kept */
#define CSP_XFER_SAMPLES 8          /* rate samples per transfer */
#define CSP_XFER_RATE_WINDOW_MS 5000
#define CSP_XFER_NAME_MAX 64        /* an [lea NAME] */
#define CSP_XFER_RANGE_MAX 95       /* "whole" or "F-L[,F-L...]" (",+N" when cut) */
#define CSP_XFER_WORD_MAX 23        /* a stage or outcome name */

enum csp_xfer_kind { CSP_XFER_PUSH = 1, CSP_XFER_SERVE };
const char *csp_xfer_kind_name(enum csp_xfer_kind k); /* "push", "serve" */

/* Bytes moved so far and the stage name (a static string) of the transfer behind src. */
typedef uint64_t (*csp_xfer_probe_fn)(const void *src, const char **stage);

struct csp_xfer_start {
	enum csp_xfer_kind kind;
	const char *lea;          /* push: the LEA; serve: the peer that fetches */
	int64_t object;           /* objects.id (the store's key, never a file name or token) */
	uint64_t size;            /* the object's size */
	uint64_t length;          /* bytes this transfer moves (push: size; serve: body length) */
	const char *range;        /* serve: "whole", "F-L" or "F-L,F-L,..."; NULL: none */
	int attempt;              /* push: 1, 2, ...; 0: none */
	csp_xfer_probe_fn probe;  /* NULL: bytes stay 0 until the end */
	const void *src;          /* the probe's argument, valid until csp_xfer_end */
};

/* One transfer as status shows it. */
struct csp_xfer_view {
	uint64_t id;
	enum csp_xfer_kind kind;
	char lea[CSP_XFER_NAME_MAX + 1];
	int64_t object;
	uint64_t size, length, bytes;
	char range[CSP_XFER_RANGE_MAX + 1];
	int attempt;
	bool finished;
	char stage[CSP_XFER_WORD_MAX + 1];   /* active: its stage; finished: "finished" */
	char outcome[CSP_XFER_WORD_MAX + 1]; /* finished: its outcome; "" while active */
	double rate;        /* bytes/s: over the last few seconds (active), on average (finished) */
	int64_t eta_s;      /* seconds left at the current rate, -1 unknown or finished */
	int64_t started;    /* epoch seconds */
	double elapsed_s;   /* since the start (until the end when finished) */
};

/* Per-LEA byte counts for the metrics: delta bytes moved by a transfer of kind for lea since
 * the last call (at each sample and at the end). Called with the table's mutex held. */
typedef void (*csp_xfer_count_fn)(void *ud, enum csp_xfer_kind kind, const char *lea,
				  uint64_t delta);

struct csp_xfer_table;

/* now_ms: a monotonic clock in milliseconds (NULL: CLOCK_MONOTONIC; tests inject one).
 * 0 or LI707_ENOMEM. */
int csp_xfer_new(int64_t (*now_ms)(void *ud), void *ud, struct csp_xfer_table **out);
void csp_xfer_free(struct csp_xfer_table *t); /* NULL is a no-op */
void csp_xfer_set_count(struct csp_xfer_table *t, csp_xfer_count_fn fn, void *ud);

/* Registers a transfer; returns its id (> 0), or 0 when t is NULL or the table is full (the
 * transfer runs untracked: csp_xfer_untracked counts them). */
uint64_t csp_xfer_begin(struct csp_xfer_table *t, const struct csp_xfer_start *s);
/* Ends transfer id with its outcome (a short word: "stored", "served", "partial", ...) and the
 * bytes it moved; it moves to the finished list. id 0 is a no-op. */
void csp_xfer_end(struct csp_xfer_table *t, uint64_t id, const char *outcome, uint64_t bytes);
/* Takes a rate sample of every active transfer (the daemon's tick). */
void csp_xfer_sample(struct csp_xfer_table *t);
/* The active transfers (oldest first), then the finished ones (newest first), at most max.
 * Returns how many were written. */
size_t csp_xfer_list(struct csp_xfer_table *t, struct csp_xfer_view *v, size_t max);
/* Active transfers of kind (0: all), and transfers that found the table full. */
size_t csp_xfer_active(struct csp_xfer_table *t, enum csp_xfer_kind kind);
uint64_t csp_xfer_untracked(struct csp_xfer_table *t);

/* The "range" text of an answer: "whole" for n == 0, else "F-L" joined by ',' (cut to
 * form: the ranges that fit, then ",+N" for the N left out). out has CSP_XFER_RANGE_MAX + 1
 * bytes. */
void csp_xfer_range_text(const uint64_t (*ranges)[2], size_t n, char *out);

#endif
