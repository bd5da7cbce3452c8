/* li707-lea - daemon internals shared by lea_daemon.c (start, signals, reload, drain, request
 * dispatch), lea_ingest.c (the HI-1 delivery endpoint) and lea_modelb.c (Model B uploads).
 * docs/internals/lea.md describes the request flow and the threads.
 *
 * Lifetimes:
 * - struct lea_gen: one configuration generation (the per-peer rules: references, models,
 *   caps; the delivery path; xsd_check). SIGHUP makes a new one; every request takes a
 *   reference at BEGIN and drops it in done(), so a request finishes under the rules it
 *   started with (R-RSP-1) while new requests see the new ones.
 * - struct lea_req: one HTTP request, req->user from BEGIN until done().
 * Nothing here logs except the per-request line written in done() (lea_daemon.c). */
#ifndef LI707_LEA_H
#define LI707_LEA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "daemon.h"
#include "http_server.h"
#include "lea_config.h"
#include "li707/li707.h"
#include "store.h"

#define LEA_RETRY_AFTER_S "10" /* Retry-After of 503 answers (store failure, orphans full) */

/* ---- configuration generations ---- */

struct lea_gen {
	struct lx_gen lx;       /* first: the skeleton's reference count (daemon.h) */
	struct lea_config *cfg; /* owned (its tls_peers already moved to the server) */
};

/* Wraps cfg (taken) with one reference; NULL on allocation failure (cfg untouched). */
struct lea_gen *lea_gen_new(struct lea_config *cfg);
void lea_gen_unref(struct lea_gen *g); /* NULL is a no-op; frees the config with the last */

/* ---- the daemon ---- */

struct lea_daemon {
	struct lea_store *store;
	struct li707_schema_set *schemas; /* loaded once when xsd_check is first asked for */
	char *binary_path;                /* fixed at start: the store classifies urls with it */
	struct lx_daemon *lx;             /* the skeleton: holds the current generation */
	struct lx_http_server *srv;
	_Atomic uint64_t body_mem;        /* HI-1 body bytes reserved now (body_memory) */
	struct lea_metrics *metrics;      /* lea_metrics.h; counters move in request_done */
	struct lea_fetcher *fetcher;      /* Model A/C retrieval (lea_fetch.c), NULL when off */
};

/* ---- Model A/C retrieval (lea_fetch.c) ---- */

#define LEA_FETCH_STATUS_FILE "fetch-status" /* in the store directory */

struct lea_fetcher;
/* Starts `workers` retrieval threads on d's store (d->store, d->metrics set; the current
 * generation gives each object its peer's rules). *out NULL when workers is 0. */
int lea_fetcher_start(struct lea_daemon *d, unsigned workers, struct lea_fetcher **out);
/* Wakes idle workers (new entries may be queued). */
void lea_fetcher_wake(struct lea_fetcher *f);
/* Writes DIR/fetch-status (the transfers in progress) for `li707-lea fetch-status`. */
void lea_fetcher_publish(struct lea_fetcher *f);
/* The rules of a worker's choice (unit-tested): the model of an object of this length for
 * peer p (C.4), and the connections it may take now when the peer's objects use `used`
 * connections, `used_large` of them by objects above model_c_above (R-BIN-2); 0: wait. */
char lea__fetch_model(const struct lea_peer *p, int64_t length);
unsigned lea__fetch_conns(const struct lea_peer *p, char model, int64_t length, unsigned used,
			  unsigned used_large);
/* Stops every transfer at its next body piece (what came is recorded), joins the workers,
 * removes DIR/fetch-status. NULL is a no-op. */
void lea_fetcher_stop(struct lea_fetcher *f);

/* A new reference to the current generation (never NULL while the daemon runs). */
struct lea_gen *lea_daemon_gen(struct lea_daemon *d);

/* ---- HI-1 ingestion, without HTTP (unit-tested) ---- */

struct lea_ingest_opts {
	struct lea_store *store;
	const struct li707_schema_set *schemas; /* NULL: no XSD check (xsd_check = no) */
	const struct lea_peer *peer;            /* the sending CSP's rules */
	const char *binary_path;                /* Model B url prefix; NULL: "/binaryData/" */
};

struct lea_ingest_result {
	unsigned http_status; /* 200 (body = the HI-1 response), 503 (store failure: nothing
			       * acknowledged, the CSP retries), 500 (could not answer) */
	char *body;           /* 200: the encoded HI-1 response (malloc'd), else NULL */
	size_t body_len;
	bool top_error;       /* the response is a top-level ErrorInformation */
	int error;            /* top_error: the decode error; 503: the store's code */
	size_t actions;       /* ActionRequests in the request */
	size_t stored, duplicates, failed; /* lea_store_put outcomes */
	size_t items_stored;  /* handoverItems of the stored DELIVERs */
	size_t invalid;       /* actions refused for their content (decoder, XSD, not DELIVER) */
	size_t denied;        /* DELIVERs for a reference or a binary model (A/C) not agreed
			       * with the peer */
};

/* The whole HI-1 pipeline for one POST body (R-TRN-1, R-TRN-3, R-RSP-1, R-DEL-6):
 * strict decode (a document that cannot be decoded, or is not a request, gets a top-level
 * ErrorInformation), XSD validation when o->schemas is set (failures mapped to their actions),
 * the peer's references (others get ErrorInformation EDENIED for that action only),
 * lea_store_put (durable before this returns), and the encoded response: DELIVERResponse per
 * stored or duplicate DELIVER, ErrorInformation per refused or failed action.
 * Returns 0 with *res filled (free with lea_ingest_result_clear), or LI707_ENOMEM/LI707_EINVAL
 * with *res zeroed. Thread-safe (after li707_global_init). */
int lea_ingest(const struct lea_ingest_opts *o, const char *buf, size_t len,
	       struct lea_ingest_result *res);
void lea_ingest_result_clear(struct lea_ingest_result *res);

/* True for the Content-Types of an HI-1 POST: application/xml or text/xml, any case, with
 * or without parameters ("application/xml; charset=utf-8"). */
bool lea_xml_content_type(const char *ct);

/* ---- one HTTP request ---- */

enum lea_endpoint { LEA_EP_OTHER = 0, LEA_EP_HI1 = 1, LEA_EP_BINARY = 2 };

struct lea_modelb; /* lea_modelb.c */

struct lea_req {
	struct lea_daemon *d;
	enum lea_endpoint ep;
	struct lea_gen *gen;         /* a reference, dropped in done() */
	const struct lea_peer *peer; /* in gen->cfg, NULL when the peer has no section any more */
	struct timespec t0;          /* CLOCK_MONOTONIC at BEGIN */
	unsigned status;             /* the status we answered, 0 = none (aborted, or the server's) */
	uint64_t bytes;              /* body bytes taken */
	/* HI-1 */
	char *buf;
	size_t len, alloc;
	uint64_t cap;
	uint64_t reserved;           /* of d->body_mem, given back in done() */
	struct lea_ingest_result res;
	/* Model B */
	struct lea_modelb *mb;
};

/* The Model B outcome of a request for the metrics: the attachment state when the upload
 * finished ("complete", "mismatch", "orphan"), else the refusal verdict ("busy", "too-big",
 * ...) or "aborted"; NULL when the request named no upload. *bytes gets the body bytes. */
const char *lea_modelb_outcome(const struct lea_req *r, uint64_t *bytes);

/* Answers and records the status (the per-request log line shows it). */
int lea_req_status(struct lea_req *r, struct lx_http_request *req, unsigned status);
int lea_req_buf(struct lea_req *r, struct lx_http_request *req, unsigned status,
		const char *content_type, const void *data, size_t len);

/* HI-1 endpoint (lea_ingest.c). */
int lea_hi1_begin(struct lea_req *r, struct lx_http_request *req);
int lea_hi1_end(struct lea_req *r, struct lx_http_request *req);
void lea_hi1_done(struct lea_req *r);

/* Model B endpoint (lea_modelb.c), R-BIN-B1..B4. */
int lea_modelb_begin(struct lea_req *r, struct lx_http_request *req);
int lea_modelb_end(struct lea_req *r, struct lx_http_request *req);
/* Aborts an upload that did not finish (lea_store_upload_abort) and frees the state. */
void lea_modelb_done(struct lea_req *r);
/* " uuid=... state=..." for the log line (empty before the uuid is known). */
void lea_modelb_describe(const struct lea_req *r, char *buf, size_t n);

#endif
