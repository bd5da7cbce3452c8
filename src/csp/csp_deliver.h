/* li707-csp - the delivery engine of one LEA (TS 103 707 clause 7, TS 103 120 clause 9).
 *
 * One engine per LEA, each with its own thread and its own struct lx_http_client (kept-alive
 * connections, mutual TLS or PSK per the TLS policy), so that a slow or dead LEA never stalls
 * another (R-RSP-1). The engine knows nothing of the store: it takes ready deliveries from a
 * queue through callbacks and reports each outcome through callbacks, all called on the
 * engine's thread. docs/internals/csp-delivery.md describes it.
 *
 * Order: per reference, a delivery is sent only when every earlier one of that reference is
 * acknowledged (or parked): at most one delivery of a reference is in flight, and a reference
 * whose delivery waits for a retry is left out of next() until then. Up to `inflight`
 * deliveries of different references are in flight at once.
 *
 * Outcome (one per POST; R-TRN-3, R-RSP-1):
 *   done   HTTP 2xx with an HI-1 response holding a DELIVERResponse for the DELIVER
 *          (li707_response_match ACKED);
 *   park   an HI-1 response with ErrorInformation for it (or a top-level one): the LEA has
 *          seen and refused it; the operator decides (retry or drop);
 *   retry  everything else: transport failure (connect, TLS, reset, timeout), HTTP status
 *          other than 2xx (503 with Retry-After honoured), a 2xx body that is no HI-1
 *          response or does not answer the DELIVER. Capped exponential backoff with full
 *          jitter: next try after max(retry_min, uniform(0, min(retry_max,
 *          retry_min * 2^attempts))), and never before Retry-After.
 * Error texts handed to the callbacks name the class and the HTTP status or ErrorCode; an
 * LEA's ErrorDescription is included reduced to printable ASCII (at most 160 bytes). They
 * never contain the delivery's content or reference (R-SEC-6). */
#ifndef LI707_CSP_DELIVER_H
#define LI707_CSP_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_client.h"
#include "li707/li707.h"

#define CSP_DELIVER_ERR_LEN 256
#define CSP_DELIVER_INFLIGHT_MAX 1024

/* One ready delivery as the queue hands it out. */
struct csp_post {
	int64_t id;                          /* the queue's delivery id */
	int64_t ref_id;                      /* the reference's key: the unit of ordering */
	uint64_t seq;                        /* its SequenceNumber (order within ref_id) */
	char object_id[LI707_UUID_LEN + 1];  /* the DeliveryObject's ObjectIdentifier */
	char *xml;                           /* the HI1Message body, malloc'd: the engine takes it */
	size_t len;
	uint32_t attempts;                   /* POSTs made for it before (backoff exponent) */
};

/* The queue interface. Every callback runs on the engine's thread and must not call
 * csp_deliver_stop(). */
struct csp_deliver_queue {
	/* Up to max ready deliveries (due now), ordered by reference then seq, leaving out the
	 * references in skip[0..n_skip) (in flight or waiting for a retry here). Each reference
	 * should appear with its lowest unacknowledged delivery first; the engine sends one per
	 * reference and hands the rest back (frees them; they come again later). Writes *n;
	 * returns 0 or a negative code (the engine tries again later). */
	int (*next)(void *ud, const int64_t *skip, size_t n_skip, struct csp_post *out,
		    size_t max, size_t *n);
	/* The LEA acknowledged it (DELIVERResponse). */
	void (*done)(void *ud, int64_t id);
	/* Try again at next_try (epoch milliseconds, wall clock); error says why it failed. */
	void (*retry)(void *ud, int64_t id, int64_t next_try_ms, const char *error);
	/* The LEA answered ErrorInformation (code, text in error): hold it for the operator. */
	void (*park)(void *ud, int64_t id, unsigned error_code, const char *error);
	void *ud;
};

/* Engine settings (the [lea NAME] section, as plain values). */
struct csp_deliver_opts {
	const char *name;           /* the LEA's name (for the caller's logs), copied */
	const char *url;            /* HI-1 delivery URL, https (R-TRN-2), copied */
	struct lx_http_client_opts http; /* TLS credentials, timeouts, connections */
	unsigned inflight;          /* deliveries in flight at once [4], 1..CSP_DELIVER_INFLIGHT_MAX */
	int64_t retry_min_ms;       /* first backoff [1000] */
	int64_t retry_max_ms;       /* backoff cap [300000] */
	int64_t poll_ms;            /* look at the queue this often without a wake-up [1000] */
	size_t max_response;        /* response body cap [1 MiB] */
};

/* Counters for status and metrics (a snapshot). Times are epoch seconds, 0 = never. */
struct csp_deliver_stats {
	unsigned in_flight;
	uint64_t sent;              /* POSTs completed (any outcome) */
	uint64_t done, retried, parked;
	int64_t last_success, last_error;
	char last_error_text[CSP_DELIVER_ERR_LEN];
};

struct csp_deliver;

/* Checks the options and creates the engine with its HTTP client (not started). Copies
 * what it needs. Returns 0, LI707_EINVAL/-errno with a message in err. */
int csp_deliver_new(const struct csp_deliver_opts *o, const struct csp_deliver_queue *q,
		    struct csp_deliver **out, char *err, size_t errlen);
/* Starts the engine's thread. */
int csp_deliver_start(struct csp_deliver *e);
/* New work may be ready (a delivery packaged, retried or approved): look now. Thread-safe. */
void csp_deliver_wake(struct csp_deliver *e);
/* Clean stop: no new POST is started; those in flight may finish for up to drain_ms, then
 * they are cut and handed back with retry(next_try = now). Joins the thread. Returns 0, or
 * LI707_ELIMIT when the deadline cut some short. Callable once, from another thread. */
int csp_deliver_stop(struct csp_deliver *e, long drain_ms);
/* Stops (drain 0) if running and frees. NULL is a no-op. */
void csp_deliver_free(struct csp_deliver *e);
/* A consistent snapshot of the counters. Thread-safe. */
void csp_deliver_stats(struct csp_deliver *e, struct csp_deliver_stats *st);

/* The backoff before attempt number attempts + 1 (attempts >= 1 failures so far), in ms:
 * max(retry_min, uniform(0, min(retry_max, retry_min * 2^attempts))) with r in [0, 1) the
 * uniform draw; exposed for tests. */
int64_t csp_deliver_backoff_ms(int64_t retry_min, int64_t retry_max, uint32_t attempts,
			       double r);

#endif
