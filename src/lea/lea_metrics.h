/* li707-lea - the daemon's metrics (Prometheus text on metrics_listen, with /healthz), on
 * the shared lx_metrics registry. Every label value is a fixed word of the code (endpoint,
 * status, outcome, state, reason): no reference, peer content or message text (R-SEC-6). */
#ifndef LI707_LEA_METRICS_H
#define LI707_LEA_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lea.h"
#include "metrics.h"

struct lea_metrics;

/* The registry and its families (no listener yet). NULL on no memory. */
struct lea_metrics *lea_metrics_new(void);
/* The store's commit-latency histogram (handed to lea_store_open). */
struct lx_metric *lea_metrics_commit_seconds(struct lea_metrics *m);
/* Serves /metrics and /healthz on addr; d is read at every scrape (store, server). */
int lea_metrics_serve(struct lea_metrics *m, const char *addr, struct lea_daemon *d,
		      int *port_out, char *err, size_t errlen);
/* One finished request (request_done): requests, actions, items, Model B. */
void lea_metrics_request(struct lea_metrics *m, const struct lea_req *r, const char *status);
/* A configuration was loaded (start, SIGHUP). */
void lea_metrics_generation(struct lea_metrics *m);
/* Draining: /healthz answers 503 from now on. */
void lea_metrics_draining(struct lea_metrics *m);
/* Stops the listener (scrapes read the server and the store: call it before either goes). */
void lea_metrics_stop_serving(struct lea_metrics *m);
/* Model A/C retrieval: bytes written, one attempt's outcome ("complete", "mismatch",
 * "expired", "failed"), an attempt to be retried, the current range size, objects in
 * progress. NULL m is a no-op. */
void lea_metrics_fetch_bytes(struct lea_metrics *m, uint64_t n);
void lea_metrics_fetch_outcome(struct lea_metrics *m, const char *outcome);
void lea_metrics_fetch_retry(struct lea_metrics *m);
void lea_metrics_fetch_range(struct lea_metrics *m, int64_t bytes);
void lea_metrics_fetch_active(struct lea_metrics *m, int delta);
/* Stops the listener (if any) and frees everything; NULL is a no-op. */
void lea_metrics_free(struct lea_metrics *m);

#endif
