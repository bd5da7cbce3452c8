/* li707 common - Prometheus metrics and the /metrics + /healthz endpoint, see metrics.h.
 *
 * DESIGN
 * - Values are doubles kept as their bit pattern in one atomic 64-bit word; updates are a
 *   compare-and-swap loop, so counters and gauges need no lock on the hot path.
 * - A family's series are created under its mutex and never removed before the registry is
 *   freed, so a pointer handed out by lx_metric_get stays valid for the registry's lifetime.
 * - Rendering takes the registry's render mutex (the collect hook runs once per scrape) and
 *   each family's mutex while it walks that family's series. */
#include "metrics.h"

#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "li707/error.h"
#include "netlisten.h"

#define RENDER_MAX (16u * 1024 * 1024)
#define NAME_MAX_LEN 128

struct lx_metric {
	struct lx_metric_family *f;
	char *labels;                 /* a="x",b="y" (escaped), "" for none */
	_Atomic uint64_t v;           /* double bits: counter or gauge value, histogram sum */
	_Atomic uint64_t count;       /* histogram: observations */
	_Atomic uint64_t *buckets;    /* histogram: per-bucket (not cumulative) counts, +Inf last */
};

struct lx_metric_family {
	struct lx_metric_family *next;
	enum lx_metric_type type;
	char *name, *help;
	size_t n_labels;
	char *label_names[LX_METRICS_MAX_LABELS];
	double bounds[LX_METRICS_MAX_BUCKETS];
	size_t n_bounds;
	pthread_mutex_t mu;
	struct lx_metric *series[LX_METRICS_MAX_SERIES];
	size_t n_series;
};

struct lx_metrics {
	pthread_mutex_t mu;           /* families list and rendering */
	struct lx_metric_family *head, **tail;
	lx_metrics_collect_fn collect;
	void *collect_arg;
};

static uint64_t dbits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static double bitsd(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

static void atomic_dadd(_Atomic uint64_t *a, double v)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(a, &old, dbits(bitsd(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

static bool valid_name(const char *s, bool label)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (!label && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return !(label && n >= 2 && s[0] == '_' && s[1] == '_'); /* __ is reserved */
}

struct lx_metrics *lx_metrics_new(void)
{
	struct lx_metrics *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	r->tail = &r->head;
	return r;
}

static void family_free(struct lx_metric_family *f)
{
	for (size_t i = 0; i < f->n_series; i++) {
		free(f->series[i]->labels);
		free(f->series[i]->buckets);
		free(f->series[i]);
	}
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->label_names[i]);
	pthread_mutex_destroy(&f->mu);
	free(f->name);
	free(f->help);
	free(f);
}

void lx_metrics_free(struct lx_metrics *r)
{
	if (!r)
		return;
	for (struct lx_metric_family *f = r->head, *n; f; f = n) {
		n = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static int split_labels(struct lx_metric_family *f, const char *labels)
{
	if (!labels || !*labels)
		return 0;
	const char *p = labels;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (f->n_labels == LX_METRICS_MAX_LABELS || n == 0 || n > NAME_MAX_LEN)
			return LI707_EINVAL;
		char *nm = strndup(p, n);
		if (!nm)
			return LI707_ENOMEM;
		f->label_names[f->n_labels++] = nm;
		if (!valid_name(nm, true) || strcmp(nm, "le") == 0)
			return LI707_EINVAL;
		if (!e)
			return 0;
		p = e + 1;
	}
}

struct lx_metric_family *lx_metrics_family(struct lx_metrics *r, enum lx_metric_type type,
					   const char *name, const char *help, const char *labels,
					   const double *buckets, size_t n_buckets)
{
	if (!r || !name || !valid_name(name, false) ||
	    (type == LX_METRIC_HISTOGRAM && (n_buckets == 0 || n_buckets > LX_METRICS_MAX_BUCKETS)))
		return NULL;
	struct lx_metric_family *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help || split_labels(f, labels) != 0)
		goto fail;
	if (type == LX_METRIC_HISTOGRAM) {
		for (size_t i = 0; i < n_buckets; i++) {
			if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
				goto fail;
			f->bounds[i] = buckets[i];
		}
		f->n_bounds = n_buckets;
	}
	pthread_mutex_lock(&r->mu);
	for (struct lx_metric_family *g = r->head; g; g = g->next)
		if (strcmp(g->name, name) == 0) {
			pthread_mutex_unlock(&r->mu);
			goto fail;
		}
	*r->tail = f;
	r->tail = &f->next;
	pthread_mutex_unlock(&r->mu);
	return f;
fail:
	family_free(f);
	return NULL;
}

/* label="value" pairs with the exposition format's escapes (\\, \", \n). */
static char *format_labels(const struct lx_metric_family *f, const char *const *values)
{
	struct lx_dynbuf b;
	lx_dynbuf_init(&b, 64 * 1024);
	if (lx_dynbuf_addstr(&b, "") != 0)
		return NULL;
	for (size_t i = 0; i < f->n_labels; i++) {
		const char *v = values[i] ? values[i] : "";
		if (lx_dynbuf_addf(&b, "%s%s=\"", i ? "," : "", f->label_names[i]) != 0)
			return NULL;
		for (; *v; v++) {
			const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
			int rc = esc ? lx_dynbuf_addstr(&b, esc) : lx_dynbuf_add(&b, v, 1);
			if (rc)
				return NULL;
		}
		if (lx_dynbuf_addstr(&b, "\"") != 0)
			return NULL;
	}
	return lx_dynbuf_take(&b, NULL);
}

struct lx_metric *lx_metric_getv(struct lx_metric_family *f, const char *const *values)
{
	if (!f)
		return NULL;
	char *labels = format_labels(f, values);
	if (!labels)
		return NULL;
	struct lx_metric *m = NULL;
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n_series; i++)
		if (strcmp(f->series[i]->labels, labels) == 0) {
			m = f->series[i];
			goto out;
		}
	if (f->n_series == LX_METRICS_MAX_SERIES || !(m = calloc(1, sizeof *m)))
		goto out;
	m->f = f;
	m->labels = labels;
	labels = NULL;
	atomic_init(&m->v, dbits(0.0));
	if (f->type == LX_METRIC_HISTOGRAM) {
		m->buckets = calloc(f->n_bounds + 1, sizeof *m->buckets);
		if (!m->buckets) {
			free(m->labels);
			free(m);
			m = NULL;
			goto out;
		}
	}
	f->series[f->n_series++] = m;
out:
	pthread_mutex_unlock(&f->mu);
	free(labels);
	return m;
}

struct lx_metric *lx_metric_get(struct lx_metric_family *f, ...)
{
	if (!f)
		return NULL;
	const char *v[LX_METRICS_MAX_LABELS] = {0};
	va_list ap;
	va_start(ap, f);
	for (size_t i = 0; i < f->n_labels; i++)
		v[i] = va_arg(ap, const char *);
	va_end(ap);
	return lx_metric_getv(f, v);
}

void lx_metric_add(struct lx_metric *m, uint64_t n)
{
	if (m && m->f->type != LX_METRIC_HISTOGRAM)
		atomic_dadd(&m->v, (double)n);
}

void lx_metric_inc(struct lx_metric *m)
{
	lx_metric_add(m, 1);
}

void lx_metric_gauge_set(struct lx_metric *m, double v)
{
	if (m && m->f->type == LX_METRIC_GAUGE)
		atomic_store_explicit(&m->v, dbits(v), memory_order_relaxed);
}

void lx_metric_set(struct lx_metric *m, double v)
{
	if (m && m->f->type != LX_METRIC_HISTOGRAM)
		atomic_store_explicit(&m->v, dbits(v), memory_order_relaxed);
}

void lx_metric_gauge_add(struct lx_metric *m, double v)
{
	if (m && m->f->type == LX_METRIC_GAUGE)
		atomic_dadd(&m->v, v);
}

void lx_metric_observe(struct lx_metric *m, double v)
{
	if (!m || m->f->type != LX_METRIC_HISTOGRAM || isnan(v))
		return;
	size_t i = 0;
	while (i < m->f->n_bounds && v > m->f->bounds[i])
		i++;
	atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
	atomic_dadd(&m->v, v);
}

double lx_metric_value(const struct lx_metric *m)
{
	return m ? bitsd(atomic_load_explicit(&((struct lx_metric *)m)->v, memory_order_relaxed)) : 0.0;
}

void lx_metrics_on_collect(struct lx_metrics *r, lx_metrics_collect_fn fn, void *arg)
{
	pthread_mutex_lock(&r->mu);
	r->collect = fn;
	r->collect_arg = arg;
	pthread_mutex_unlock(&r->mu);
}

/* Shortest text that reads back as the same double; +Inf, -Inf and NaN as the format spells them. */
static void fmt_double(char *buf, size_t len, double d)
{
	if (isnan(d)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, len, d > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (d == floor(d) && fabs(d) < 1e15) { /* counts read as integers, not 4e+05 */
		snprintf(buf, len, "%.0f", d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static int render_series(struct lx_dynbuf *out, const struct lx_metric_family *f,
			 const struct lx_metric *m)
{
	char num[40];
	const char *lb = m->labels;
	const char *sep = *lb ? "," : "";
	if (f->type != LX_METRIC_HISTOGRAM) {
		fmt_double(num, sizeof num, lx_metric_value(m));
		return *lb ? lx_dynbuf_addf(out, "%s{%s} %s\n", f->name, lb, num)
			   : lx_dynbuf_addf(out, "%s %s\n", f->name, num);
	}
	uint64_t cum = 0;
	for (size_t i = 0; i <= f->n_bounds; i++) {
		cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
		if (i < f->n_bounds)
			fmt_double(num, sizeof num, f->bounds[i]);
		else
			snprintf(num, sizeof num, "+Inf");
		int rc = lx_dynbuf_addf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, lb, sep, num,
					(unsigned long long)cum);
		if (rc)
			return rc;
	}
	fmt_double(num, sizeof num, lx_metric_value(m));
	/* the count is the +Inf bucket's: a concurrent observation cannot make them disagree */
	int rc = *lb ? lx_dynbuf_addf(out, "%s_sum{%s} %s\n%s_count{%s} %llu\n", f->name, lb, num,
				      f->name, lb, (unsigned long long)cum)
		     : lx_dynbuf_addf(out, "%s_sum %s\n%s_count %llu\n", f->name, num, f->name,
				      (unsigned long long)cum);
	return rc;
}

static const char *type_name(enum lx_metric_type t)
{
	return t == LX_METRIC_COUNTER ? "counter" : t == LX_METRIC_GAUGE ? "gauge" : "histogram";
}

static int render_help(struct lx_dynbuf *out, const char *help)
{
	/* HELP text escapes only \ and newline */
	for (; *help; help++) {
		int rc = *help == '\\'  ? lx_dynbuf_addstr(out, "\\\\")
			 : *help == '\n' ? lx_dynbuf_addstr(out, "\\n")
					 : lx_dynbuf_add(out, help, 1);
		if (rc)
			return rc;
	}
	return 0;
}

int lx_metrics_render(struct lx_metrics *r, struct lx_dynbuf *out)
{
	if (!r || !out)
		return LI707_EINVAL;
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	if (r->collect)
		r->collect(r, r->collect_arg);
	for (struct lx_metric_family *f = r->head; f && !rc; f = f->next) {
		pthread_mutex_lock(&f->mu);
		if (f->n_series) {
			rc = lx_dynbuf_addf(out, "# HELP %s ", f->name);
			if (!rc)
				rc = render_help(out, f->help);
			if (!rc)
				rc = lx_dynbuf_addf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
			for (size_t i = 0; i < f->n_series && !rc; i++)
				rc = render_series(out, f, f->series[i]);
		}
		pthread_mutex_unlock(&f->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* ---- the endpoint ---- */

struct lx_metrics_server {
	struct MHD_Daemon *d;
	int fd;
	struct lx_metrics *r;
	lx_health_fn health;
	void *health_arg;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     const char *body, size_t len, bool copy, const char *allow)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, (void *)body, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (allow)
		MHD_add_response_header(resp, "Allow", allow);
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	struct lx_metrics_server *s = cls;
	static const char text[] = "text/plain; charset=utf-8";
	if (!*con_cls) {
		*con_cls = s; /* wait for the whole request before answering */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a body on GET is ignored; other methods are refused below */
		return MHD_YES;
	}
	bool is_metrics = strcmp(url, "/metrics") == 0, is_health = strcmp(url, "/healthz") == 0;
	if (!is_metrics && !is_health)
		return reply(c, 404, text, "not found\n", 10, true, NULL);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, 405, text, "method not allowed\n", 19, true, "GET, HEAD");
	if (is_health) {
		char why[128] = "";
		bool ok = !s->health || s->health(s->health_arg, why, sizeof why);
		char body[160];
		int n = snprintf(body, sizeof body, ok ? "ok\n" : "unavailable: %s\n",
				 why[0] ? why : "unhealthy");
		return reply(c, ok ? 200 : 503, text, body, (size_t)n, true, NULL);
	}
	struct lx_dynbuf b;
	lx_dynbuf_init(&b, RENDER_MAX);
	if (lx_metrics_render(s->r, &b) != 0) {
		lx_dynbuf_free(&b);
		return reply(c, 500, text, "cannot render the metrics\n", 26, true, NULL);
	}
	size_t len;
	char *body = lx_dynbuf_take(&b, &len);
	if (!body)
		return reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", "", 0, true, NULL);
	return reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, false, NULL);
}

int lx_metrics_server_start(const char *addr, struct lx_metrics *r, lx_health_fn health,
			    void *health_arg, struct lx_metrics_server **out, int *port_out,
			    char *err, size_t errlen)
{
	if (!addr || !r || !out)
		return LI707_EINVAL;
	struct lx_metrics_server *s = calloc(1, sizeof *s);
	if (!s)
		return LI707_ENOMEM;
	s->r = r;
	s->health = health;
	s->health_arg = health_arg;
	int port = 0;
	s->fd = lx_listen_socket(addr, &port, err, errlen);
	if (s->fd < 0) {
		int rc = s->fd;
		free(s);
		return rc;
	}
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
				handle, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_END);
	if (!s->d) {
		lx_errf(err, errlen, "metrics listener %s: cannot start the HTTP server", addr);
		close(s->fd);
		free(s);
		return LI707_EINPUT;
	}
	if (port_out)
		*port_out = port;
	*out = s;
	return 0;
}

void lx_metrics_server_stop(struct lx_metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d); /* closes the listening socket it was given */
	free(s);
}
