/* li707-lea - the daemon: options, start, request dispatch, signals, reload, drain.
 *
 * DESIGN (docs/internals/lea.md)
 * - The lifecycle is the shared skeleton's (src/common/daemon.c, docs/internals/daemon.md):
 *   foreground, logs on stderr, signals blocked before any thread exists, the main thread is
 *   the signal thread (SIGHUP reload, SIGTERM/SIGINT drain). This file gives it the LEA's
 *   callbacks: load (lea_config_load), start (store, schemas, HTTPS server), reload steps,
 *   the orphan sweep as the periodic tick, stop.
 * - Requests run on the HTTP server's connection threads (one per connection). Each takes a
 *   reference to the current configuration generation at BEGIN; SIGHUP builds a new one and
 *   swaps the pointer, so in-flight requests finish under the rules they started with.
 * - Settings that shape what was opened at start (listeners, store, Model B prefix, schema
 *   directories, connection limits) need a restart; a reload that changes them says so. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon.h"
#include "lea.h"
#include "lea_cli.h"
#include "lea_log.h"
#include "lea_metrics.h"
#include "lea_refusals.h"

#define SWEEP_MAX_S 60

/* ---- configuration generations ---- */

static void gen_release(struct lx_gen *x)
{
	struct lea_gen *g = (struct lea_gen *)x; /* lx is its first member */
	lea_config_free(g->cfg);
	free(g);
}

struct lea_gen *lea_gen_new(struct lea_config *cfg)
{
	struct lea_gen *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	lx_gen_init(&g->lx, gen_release);
	g->cfg = cfg;
	return g;
}

void lea_gen_unref(struct lea_gen *g)
{
	if (g)
		lx_gen_unref(&g->lx);
}

struct lea_gen *lea_daemon_gen(struct lea_daemon *d)
{
	return (struct lea_gen *)lx_daemon_gen(d->lx);
}

/* ---- requests ---- */

int lea_req_status(struct lea_req *r, struct lx_http_request *req, unsigned status)
{
	r->status = status;
	return lx_http_respond_status(req, status);
}

int lea_req_buf(struct lea_req *r, struct lx_http_request *req, unsigned status,
		const char *content_type, const void *data, size_t len)
{
	r->status = status;
	return lx_http_respond_buf(req, status, content_type, data, len);
}

static int handle_begin(struct lea_daemon *d, struct lx_http_request *req)
{
	struct lea_req *r = calloc(1, sizeof *r);
	if (!r)
		return lx_http_respond_status(req, 503);
	req->user = r;
	r->d = d;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->gen = lea_daemon_gen(d);
	r->peer = lea_config_peer(r->gen->cfg, req->peer);
	if (!r->peer) /* removed by a reload while its connection was open */
		return lea_req_status(r, req, 404);
	if (strcmp(req->path, r->gen->cfg->delivery_path) == 0) {
		r->ep = LEA_EP_HI1;
		return lea_hi1_begin(r, req);
	}
	if (strncmp(req->path, d->binary_path, strlen(d->binary_path)) == 0) {
		r->ep = LEA_EP_BINARY;
		return lea_modelb_begin(r, req);
	}
	return lea_req_status(r, req, 404);
}

static int handler(void *cls, struct lx_http_request *req, enum lx_http_phase ph)
{
	struct lea_daemon *d = cls;
	if (ph == LX_HTTP_BEGIN)
		return handle_begin(d, req);
	struct lea_req *r = req->user;
	if (!r)
		return lx_http_respond_status(req, 500);
	switch (r->ep) {
	case LEA_EP_HI1: return lea_hi1_end(r, req);
	case LEA_EP_BINARY: return lea_modelb_end(r, req);
	default: return lea_req_status(r, req, 404);
	}
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The level of the request's line. */
static enum lea_log_level request_level(const struct lea_req *r, bool ok)
{
	return r->status >= 500 || (!ok && r->status) ? LEA_LOG_WARN : LEA_LOG_INFO;
}

/* The answer's status for the log line and the metrics: the code, or "server" (answered by
 * the HTTP layer) or "aborted". */
static void status_word(const struct lea_req *r, const struct lx_http_request *req, bool ok,
			char st[16])
{
	if (r->status)
		snprintf(st, 16, "%u", r->status);
	else if (req->server_status) /* answered by the server mid-body (413, 408, ...) */
		snprintf(st, 16, "%u", req->server_status);
	else
		snprintf(st, 16, "%s", ok ? "server" : "aborted");
}

/* The request's line into line (R-SEC-6: no path, no reference, no content - the peer name,
 * counts, sizes, ObjectIdentifiers and upload uuids only). */
static void format_request(const struct lea_req *r, const struct lx_http_request *req, bool ok,
			   char *line, size_t n)
{
	static const char *const eps[] = {"other", "hi1", "binary"};
	char st[16], extra[256] = "";
	status_word(r, req, ok, st);
	const struct lea_ingest_result *x = &r->res;
	if (r->ep == LEA_EP_HI1 && x->http_status == 200 && x->top_error)
		snprintf(extra, sizeof extra, " top-error=%s", li707_errname(x->error));
	else if (r->ep == LEA_EP_HI1 && x->http_status == 200)
		snprintf(extra, sizeof extra,
			 " actions=%zu stored=%zu duplicate=%zu failed=%zu invalid=%zu denied=%zu",
			 x->actions, x->stored, x->duplicates, x->failed, x->invalid, x->denied);
	else if (r->ep == LEA_EP_HI1 && x->http_status == 503)
		snprintf(extra, sizeof extra, " store-error=%s", li707_errname(x->error));
	else if (r->ep == LEA_EP_BINARY)
		lea_modelb_describe(r, extra, sizeof extra);
	snprintf(line, n, "peer=%s method=%.16s endpoint=%s status=%s%s%s bytes=%llu ms=%.1f",
		 req->peer, req->method, eps[r->ep], st, extra, ok || !r->status ? "" : " send-failed",
		 (unsigned long long)r->bytes, ms_since(&r->t0));
}

static void request_done(void *cls, struct lx_http_request *req, bool ok)
{
	struct lea_req *r = req->user;
	if (!r)
		return;
	/* Formatted first (it describes the upload), written last (after an abort is done);
	 * not formatted at all when its level is off (a busy daemon logs at warn). */
	char line[LEA_LOG_LINE_MAX];
	enum lea_log_level lv = request_level(r, ok);
	bool on = lea_log_enabled(lv);
	if (on)
		format_request(r, req, ok, line, sizeof line);
	if (r->d->metrics) {
		char st[16];
		status_word(r, req, ok, st);
		lea_metrics_request(r->d->metrics, r, st);
	}
	if (r->ep == LEA_EP_HI1 && r->res.stored)
		lea_fetcher_wake(r->d->fetcher); /* new records may be queued for retrieval */
	lea_hi1_done(r);
	lea_modelb_done(r);
	lea_gen_unref(r->gen);
	free(r);
	req->user = NULL;
	if (on)
		lea_log(lv, "%s", line);
}

/* ---- start ---- */

/* debug: each peer's rules, without the references themselves (R-SEC-6). */
static void log_peers(const struct lea_config *c)
{
	if (!lea_log_enabled(LEA_LOG_DEBUG))
		return;
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct lea_peer *p = &c->peers[i];
		char refs[32];
		if (p->any_reference)
			snprintf(refs, sizeof refs, "any reference");
		else
			snprintf(refs, sizeof refs, "%zu reference%s", p->n_references,
				 p->n_references == 1 ? "" : "s");
		lea_debug("peer %s: %s, models%s%s%s%s, max_message_bytes %llu, max_upload_bytes %llu",
			  p->name, refs, p->models & LEA_MODEL_A ? " A" : "",
			  p->models & LEA_MODEL_B ? " B" : "", p->models & LEA_MODEL_C ? " C" : "",
			  p->models ? "" : " none",
			  (unsigned long long)p->max_message_bytes,
			  (unsigned long long)p->max_upload_bytes);
	}
}

struct state {
	struct lea_daemon d;
	struct lx_daemon lx;                 /* the skeleton: generations, signals */
	struct lx_server https;              /* the server, its listeners and TLS settings */
	struct lx_tls_peers *next_peers;  /* reload: taken in prepare, handed over in applied */
	uint64_t sweep_s;
	time_t next_sweep;
	struct lea_refusals refusals; /* as last written to the store directory */
};

/* ---- refused connections: one log line each, rate-limited ----
 * At most REFUSAL_LINES lines per REFUSAL_WINDOW_S seconds, so a flood of refused connections
 * cannot fill the disk; what was left out is counted in one line when the next window opens
 * (and at stop). Every refusal is counted in any case (lx_http_server_stats, `status`).
 * The line names the reason, the client's address and the listener: never a key, a
 * reference or anything from the client's certificate. */
#define REFUSAL_LINES 20
#define REFUSAL_WINDOW_S 10.0

static struct {
	pthread_mutex_t mu;
	double window_start;
	unsigned lines;
	uint64_t left_out;
} refusal_log = {.mu = PTHREAD_MUTEX_INITIALIZER};

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void refusal_flush_left_out(void)
{
	if (refusal_log.left_out)
		lea_warn("%llu more refused connections not logged (at most %d lines per %.0f s)",
			 (unsigned long long)refusal_log.left_out, REFUSAL_LINES, REFUSAL_WINDOW_S);
	refusal_log.left_out = 0;
}

static void on_refused(void *cls, const struct lx_http_refused *r)
{
	(void)cls;
	pthread_mutex_lock(&refusal_log.mu);
	double now = mono_now();
	if (now - refusal_log.window_start >= REFUSAL_WINDOW_S) {
		refusal_flush_left_out();
		refusal_log.window_start = now;
		refusal_log.lines = 0;
	}
	if (refusal_log.lines < REFUSAL_LINES) {
		refusal_log.lines++;
		lea_warn("refused connection: reason=%s%s%s%s client=%s listener=%d (%s)",
			 lx_http_refusal_name(r->reason), r->alert ? " alert=\"" : "",
			 r->alert ? r->alert : "", r->alert ? "\"" : "", r->addr, r->port,
			 r->psk ? "psk" : "mtls");
	} else {
		refusal_log.left_out++;
	}
	pthread_mutex_unlock(&refusal_log.mu);
}

/* Writes the refusal counts to the store directory when they changed (`status` reads them). */
static void refusals_save(struct state *S)
{
	if (!S->d.srv || !S->d.store)
		return;
	struct lx_http_stats st = {0};
	lx_http_server_stats(S->d.srv, &st);
	if (memcmp(st.refused, S->refusals.n, sizeof st.refused) == 0 && S->refusals.started)
		return;
	struct lea_refusals r = S->refusals;
	if (!r.started)
		r.started = time(NULL);
	memcpy(r.n, st.refused, sizeof r.n);
	int rc = lea_refusals_write(lea_store_dir(S->d.store), &r);
	if (rc != 0) {
		lea_warn("cannot write %s: %s", LEA_REFUSALS_FILE, li707_strerror(rc));
		r.started = 0; /* try again next time */
	}
	S->refusals = r;
}

static int load_schemas(struct state *S, const struct lea_config *c)
{
	struct li707_diags dg = {0};
	int rc = li707_schema_set_load(c->schema_dir, c->official_schema_dir, &S->d.schemas, &dg);
	if (rc != 0) {
		const char *m = dg.n && dg.v[0].message ? dg.v[0].message : li707_strerror(rc);
		lea_err("cannot load the schemas for xsd_check: %s", m);
	}
	li707_diags_clear(&dg);
	return rc;
}

static int start_server(struct state *S, struct lea_config *c)
{
	struct lx_http_config hc = {
		.creds = c->creds,
		.limits = c->limits,
		.handler = handler,
		.done = request_done,
		.refused = on_refused,
		.cls = &S->d,
	};
	int rc = lx_server_start(&S->https, hc, &c->policy, lea_config_take_tls_peers(c), c->listen,
				 c->n_listen, c->listen_psk, c->n_listen_psk);
	S->d.srv = S->https.srv;
	return rc;
}

static int start(struct state *S, struct lea_config *c)
{
	char err[512] = "";
	if (!c->sync_full)
		lea_warn("sync = normal: deliveries are acknowledged before they are durable "
			 "(benchmarks only)");
	/* The counters exist whether or not they are served (request_done moves them). */
	if (!(S->d.metrics = lea_metrics_new()))
		return LI707_ENOMEM;
	lea_metrics_generation(S->d.metrics);
	struct lea_store_opts so = {
		.commit_seconds = lea_metrics_commit_seconds(S->d.metrics),
		.dir = c->store_dir,
		.binary_path = c->binary_path,
		.sync_normal = !c->sync_full,
		.orphan_timeout_s = c->orphan_timeout_s,
		.orphan_max_bytes = c->orphan_max_bytes,
	};
	/* The store creates its directory, but takes its lock file in it first: make sure
	 * the directory itself exists (its parent must). */
	if (mkdir(c->store_dir, 0700) != 0 && errno != EEXIST)
		lea_warn("cannot create the store directory: %s", strerror(errno));
	int rc = lea_store_open(&so, &S->d.store, err, sizeof err);
	if (rc != 0) {
		lea_err("cannot open the store: %s", err[0] ? err : li707_strerror(rc));
		return rc;
	}
	if (!(S->d.binary_path = strdup(c->binary_path)))
		return LI707_ENOMEM;
	if (c->xsd_check && load_schemas(S, c) != 0)
		return LI707_ESCHEMASET; /* exit status 5, whatever the loader's reason */
	if ((rc = start_server(S, c)) != 0)
		return rc;
	if (c->metrics_listen) {
		int port = 0;
		if ((rc = lea_metrics_serve(S->d.metrics, c->metrics_listen, &S->d, &port, err,
					    sizeof err)) != 0) {
			lea_err("metrics_listen: %s", err[0] ? err : li707_strerror(rc));
			return rc;
		}
		const char *colon = strrchr(c->metrics_listen, ':');
		int hl = (int)(colon - c->metrics_listen);
		lea_info("metrics on %.*s:%d (http: /metrics, /healthz)", hl, c->metrics_listen, port);
	}
	if (c->fetch_workers) {
		if (!c->client_cert)
			for (size_t i = 0; i < c->n_peers; i++)
				if ((c->peers[i].models & (LEA_MODEL_A | LEA_MODEL_C)) &&
				    !c->peers[i].psk_identity)
					lea_warn("peer '%s' agrees Model A/C but [server] has no "
						 "client_cert: retrievals present no client certificate "
						 "(R-BIN-A1)", c->peers[i].name);
		if ((rc = lea_fetcher_start(&S->d, c->fetch_workers, &S->d.fetcher)) != 0) {
			lea_err("cannot start the fetch workers: %s", li707_strerror(rc));
			return rc;
		}
	}
	uint64_t t = c->orphan_timeout_s / 4;
	S->sweep_s = t == 0 ? 1 : t > SWEEP_MAX_S ? SWEEP_MAX_S : t;
	S->next_sweep = time(NULL); /* the first tick sweeps */
	/* every second: the refusal counts reach `status` within a second; sweeps every sweep_s */
	lx_daemon_set_tick(&S->lx, 1);
	return 0;
}

/* ---- SIGHUP ---- */

static bool strv_eq(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool limits_eq(const struct lx_http_limits *a, const struct lx_http_limits *b)
{
	return a->connections == b->connections && a->per_peer == b->per_peer &&
	       a->per_ip == b->per_ip && a->header_bytes == b->header_bytes &&
	       a->body_bytes == b->body_bytes && a->idle_timeout_s == b->idle_timeout_s &&
	       a->header_timeout_s == b->header_timeout_s && a->max_ranges == b->max_ranges &&
	       a->drain_timeout_s == b->drain_timeout_s && a->body_min_rate == b->body_min_rate &&
	       a->body_rate_window_s == b->body_rate_window_s;
}

/* Settings read only at start: a reload that changes them warns (they stay as they were). */
static void warn_restart_needed(const struct lea_config *o, const struct lea_config *n)
{
	struct {
		bool same;
		const char *key;
	} k[] = {
		{strv_eq(o->listen, o->n_listen, n->listen, n->n_listen), "listen"},
		{strv_eq(o->listen_psk, o->n_listen_psk, n->listen_psk, n->n_listen_psk), "listen_psk"},
		{str_eq(o->store_dir, n->store_dir), "store"},
		{str_eq(o->binary_path, n->binary_path), "binary_path"},
		{str_eq(o->schema_dir, n->schema_dir), "schema_dir"},
		{str_eq(o->official_schema_dir, n->official_schema_dir), "official_schema_dir"},
		{o->orphan_timeout_s == n->orphan_timeout_s, "orphan_timeout"},
		{o->orphan_max_bytes == n->orphan_max_bytes, "orphan_max_bytes"},
		{o->sync_full == n->sync_full, "sync"},
		{limits_eq(&o->limits, &n->limits), "connection limits"},
		{o->fetch_workers == n->fetch_workers, "fetch_workers"},
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
		if (!k[i].same)
			lea_warn("reload: '%s' changed: takes effect at the next restart", k[i].key);
}

/* Reload, before the swap: what cannot be taken back is checked first; on failure the
 * running configuration stays. */
static int reload_prepare(void *app, struct lx_gen *cur_lx, struct lx_gen *next)
{
	struct state *S = app;
	struct lea_gen *cur = (struct lea_gen *)cur_lx;
	struct lea_config *n = ((struct lea_gen *)next)->cfg;
	warn_restart_needed(cur->cfg, n);
	if (n->xsd_check && !S->d.schemas && load_schemas(S, n) != 0) {
		lea_err("reload: xsd_check needs the schemas; keeping the running configuration");
		return LI707_ESCHEMASET;
	}
	int rc = lx_server_reload_tls(&S->https, &n->policy, &n->creds);
	if (rc != 0)
		return rc;
	struct lx_tls_peers *peers = lea_config_take_tls_peers(n);
	if (!peers) {
		lea_err("reload: out of memory; peers unchanged (certificates were reloaded)");
		return LI707_ENOMEM;
	}
	S->next_peers = peers;
	return 0;
}

/* RFC 4279 accepts keys of any length; short ones are weak: say so (start, reload,
 * --check-config). Names the peer, never the key. */
static void warn_weak_psks(const struct lea_config *c, bool to_stderr)
{
	for (size_t i = 0; i < c->tls_peers.n; i++) {
		const struct lx_tls_peer *tp = &c->tls_peers.v[i];
		if (!tp->psk_identity || !tp->psk || tp->psk_len >= LX_PSK_WEAK_BELOW)
			continue;
		if (to_stderr)
			fprintf(stderr,
				"li707-lea: warn: peer '%s': psk_file: the key is %zu bytes; %d or more "
				"are advised\n",
				tp->name, tp->psk_len, LX_PSK_WEAK_BELOW);
		else
			lea_warn("peer '%s': psk_file: the key is %zu bytes; %d or more are advised",
				 tp->name, tp->psk_len, LX_PSK_WEAK_BELOW);
	}
}

/* Reload, after the swap: rules first, then the allow-list: a removed peer's last requests
 * find no rules (404), an added peer cannot connect before its rules exist. */
static void reload_applied(void *app, struct lx_gen *g)
{
	struct state *S = app;
	struct lea_config *n = ((struct lea_gen *)g)->cfg;
	struct lx_tls_peers *peers = S->next_peers;
	S->next_peers = NULL;
	if (lx_http_server_set_peers(S->https.srv, peers) != 0) {
		lea_err("reload: out of memory: the TLS allow-list is unchanged");
		lx_tls_peers_clear(peers);
		free(peers);
	}
	log_peers(n);
	lea_metrics_generation(S->d.metrics);
	lea_info("configuration reloaded: %zu peer%s", n->n_peers, n->n_peers == 1 ? "" : "s");
}

/* ---- the signal loop ---- */

static void sweep(void *app)
{
	struct state *S = app;
	uint64_t n = 0;
	int rc = lea_store_sweep(S->d.store, (int64_t)time(NULL), &n);
	if (rc != 0)
		lea_err("orphan sweep: %s", li707_strerror(rc));
	else if (n)
		lea_info("orphan sweep: %llu upload%s expired (R-BIN-B4)", (unsigned long long)n,
			 n == 1 ? "" : "s");
}

/* The skeleton's tick, every second: the refusal counts, and the orphan sweep when due. */
static void tick(void *app)
{
	struct state *S = app;
	refusals_save(S);
	lea_fetcher_publish(S->d.fetcher);
	time_t now = time(NULL);
	if (now >= S->next_sweep) {
		sweep(S);
		S->next_sweep = now + (time_t)S->sweep_s;
	}
}

/* After the drain, before the server is freed: the last refusal counts and log lines. */
static void drained(void *app)
{
	struct state *S = app;
	lea_metrics_stop_serving(S->d.metrics); /* scrapes read the server, which goes next */
	refusals_save(S);
	pthread_mutex_lock(&refusal_log.mu);
	refusal_flush_left_out();
	pthread_mutex_unlock(&refusal_log.mu);
}

/* Drains the server, then closes the store (the skeleton drops the generation after). */
static void stop(void *app)
{
	struct state *S = app;
	lea_metrics_draining(S->d.metrics); /* /healthz: 503 while the requests finish */
	/* retrievals stop first: each records what it received (the store is still open) */
	lea_fetcher_stop(S->d.fetcher);
	S->d.fetcher = NULL;
	S->https.drained = drained;
	S->https.drained_cls = S;
	lx_server_stop(&S->https);
	S->d.srv = NULL;
	/* no request moves a counter any more; the listener stops before the store it reads */
	lea_metrics_free(S->d.metrics);
	S->d.metrics = NULL;
	lea_store_close(S->d.store);
	S->d.store = NULL;
	li707_schema_set_free(S->d.schemas);
	free(S->d.binary_path);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: li707-lea [--config FILE] [--check-config] [--log-level LEVEL]\n"
		"       li707-lea list|show|export|status ... (li707-lea COMMAND --help)\n"
		"       li707-lea fetch-status|fetch-retry|fetch-priority ... (Model A/C)\n"
		"\n"
		"The LEA side of ETSI TS 103 707: receives HI-1 deliveries (HTTPS POST of\n"
		"HI1Messages) and Model B uploads from the configured CSPs, stores them durably and\n"
		"answers with the HI-1 response; fetches Model A/C content from the CSPs\n"
		"(fetch_workers). Runs in the foreground and logs to stderr.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     configuration file (default " LEA_CONFIG_DEFAULT ")\n"
		"  --check-config        read the configuration, print 'configuration OK' and the\n"
		"                        number of peers, and exit\n"
		"  --log-level LEVEL     error, warn, info or debug (overrides log_level)\n"
		"  -h, --help            print this help and exit\n"
		"  -V, --version         print the version and exit\n"
		"\n"
		"Signals: SIGHUP reloads the configuration (peers, references, models, caps, log\n"
		"level, certificates); SIGTERM or SIGINT finish the requests in flight and exit 0.\n"
		"Exit status: 0 stopped by a signal (or configuration OK), 2 usage, 3 cannot read the\n"
		"configuration or cannot start (store, listener), 4 bad configuration, 5 internal\n"
		"error (memory, schemas).\n");
}

/* ---- the skeleton's callbacks ---- */

static int load(void *app, const char *path, struct lx_gen **out, char *err, size_t errlen)
{
	struct lea_config *c = NULL;
	int rc = lea_config_load(path, &c, err, errlen);
	if (rc != 0)
		return rc;
	warn_weak_psks(c, false); /* at start and at every reload */
	struct lea_gen *g = lea_gen_new(c);
	if (!g) {
		lea_config_free(c);
		return LI707_ENOMEM;
	}
	*out = &g->lx;
	return 0;
}

static enum lea_log_level config_level(const struct lx_gen *g)
{
	return ((const struct lea_gen *)g)->cfg->log_level;
}

static int start_cb(void *app, struct lx_gen *g)
{
	return start(app, ((struct lea_gen *)g)->cfg);
}

static void started(void *app, struct lx_gen *g)
{
	const struct lea_config *c = ((struct lea_gen *)g)->cfg;
	lea_info("li707-lea %s started: %zu peer%s, store %s", LI707_VERSION, c->n_peers,
		 c->n_peers == 1 ? "" : "s", c->store_dir);
	log_peers(c);
}

static const struct lx_daemon_ops lea_ops = {
	.name = "li707-lea",
	.load = load,
	.log_level = config_level,
	.start = start_cb,
	.started = started,
	.prepare = reload_prepare,
	.applied = reload_applied,
	.tick = tick,
	.stop = stop,
};

static int run_daemon(const char *path, bool has_level, enum lea_log_level level)
{
	struct state S = {0};
	S.lx = (struct lx_daemon){
		.ops = &lea_ops,
		.app = &S,
		.config_path = path,
		.level_from_cli = has_level,
		.cli_level = level,
	};
	S.d.lx = &S.lx;
	return lx_daemon_run(&S.lx);
}

static int check_config(const char *path)
{
	struct lea_config *c = NULL;
	char err[512] = "";
	int rc = lea_config_load(path, &c, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "li707-lea: %s\n", err[0] ? err : li707_strerror(rc));
		return li707_exit_code(rc); /* 3 unreadable, 4 not valid */
	}
	warn_weak_psks(c, true);
	printf("configuration OK: %s, %zu peer%s\n", path, c->n_peers, c->n_peers == 1 ? "" : "s");
	lea_config_free(c);
	return 0;
}

int lea_cmd_daemon(int argc, char **argv)
{
	struct lx_daemon_args a;
	int rc = lx_daemon_args_parse(argc, argv, "li707-lea", LEA_CONFIG_DEFAULT, usage, &a);
	if (rc >= 0)
		return rc;
	if (a.check_config)
		return check_config(a.config_path);
	return run_daemon(a.config_path, a.level_from_cli, a.level);
}
