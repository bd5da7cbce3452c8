/* li707 common - metrics in the Prometheus text exposition format (version 0.0.4) and the
 * plain-HTTP endpoint that serves them with a health check (GET /metrics, GET /healthz).
 *
 * A registry holds families (counter, gauge, histogram), each with fixed label names given at
 * registration; a series is one set of label values. Hot paths look a series up once and keep
 * the pointer; updates are lock-free atomics. Lookups of new series take the family's mutex.
 * Each family holds at most LX_METRICS_MAX_SERIES series: further label sets get NULL, and
 * every update function ignores NULL, so no input can grow the registry without bound.
 *
 * Label values come from the code (endpoint names, HTTP statuses, reason categories), never
 * from a message or a reference: no target identifier or content is ever a label (R-SEC-6).
 *
 * Lifetime: registry new -> families -> series ... free (after the server is stopped). */
#ifndef LX_COMMON_METRICS_H
#define LX_COMMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define LX_METRICS_MAX_SERIES 256
#define LX_METRICS_MAX_LABELS 4
#define LX_METRICS_MAX_BUCKETS 24

enum lx_metric_type { LX_METRIC_COUNTER, LX_METRIC_GAUGE, LX_METRIC_HISTOGRAM };

struct lx_metrics;
struct lx_metric_family;
struct lx_metric;

struct lx_metrics *lx_metrics_new(void);
void lx_metrics_free(struct lx_metrics *r);

/* Registers a family. name: [a-zA-Z_:][a-zA-Z0-9_:]* (counters should end in _total);
 * labels: comma-separated label names or NULL/"" for none; buckets: the histogram's upper
 * bounds in increasing order (+Inf is implied), ignored for other types. Returns NULL on a
 * bad name, too many labels or buckets, or no memory. */
struct lx_metric_family *lx_metrics_family(struct lx_metrics *r, enum lx_metric_type type,
					   const char *name, const char *help, const char *labels,
					   const double *buckets, size_t n_buckets);

/* The series with these label values (as many as the family has labels), created at 0 when
 * new. NULL when the family is full or on no memory. */
struct lx_metric *lx_metric_get(struct lx_metric_family *f, ...);
struct lx_metric *lx_metric_getv(struct lx_metric_family *f, const char *const *values);

/* Counters: add. Gauges: add (may be negative through lx_metric_gauge_add) or set. */
void lx_metric_add(struct lx_metric *m, uint64_t n);
void lx_metric_inc(struct lx_metric *m);
void lx_metric_gauge_set(struct lx_metric *m, double v);
void lx_metric_gauge_add(struct lx_metric *m, double v);
/* Counters read from a monotonic source kept elsewhere (an fsync count): the new total;
 * gauges: the value. */
void lx_metric_set(struct lx_metric *m, double v);
/* Histograms: one observation. */
void lx_metric_observe(struct lx_metric *m, double v);
/* The current value of a counter or gauge (for tests and status output). */
double lx_metric_value(const struct lx_metric *m);

/* Called at the start of every render, before any family is written: the place to set
 * gauges that are read from elsewhere (store counts, queue depths). One hook per registry. */
typedef void (*lx_metrics_collect_fn)(struct lx_metrics *r, void *arg);
void lx_metrics_on_collect(struct lx_metrics *r, lx_metrics_collect_fn fn, void *arg);

/* Appends the exposition text of every family to out. */
int lx_metrics_render(struct lx_metrics *r, struct lx_dynbuf *out);

/* The endpoint. health returns true when healthy; otherwise it may write a short reason
 * (no identifiers) to why. */
typedef bool (*lx_health_fn)(void *arg, char *why, size_t whylen);
struct lx_metrics_server;

/* Serves GET /metrics and GET /healthz on plain HTTP at "ADDR:PORT" (one internal thread,
 * at most 16 connections, 10 s idle timeout; any other path 404, any other method 405).
 * *port_out (may be NULL) gets the bound port. */
int lx_metrics_server_start(const char *addr, struct lx_metrics *r, lx_health_fn health,
			    void *health_arg, struct lx_metrics_server **out, int *port_out,
			    char *err, size_t errlen);
void lx_metrics_server_stop(struct lx_metrics_server *s);

#endif
