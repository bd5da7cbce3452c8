/* li707-lea - the daemon: options, start, request dispatch, signals, reload, drain.
 *
 * DESIGN (docs/internals/lea.md)
 * - Foreground, logs on stderr (lea_log.h). SIGHUP, SIGTERM and SIGINT are blocked before
 *   any thread exists, so every thread inherits the mask; the main thread is the signal
 *   thread: it waits in sigtimedwait() and runs the orphan sweep between signals.
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

#include "lea.h"
#include "lea_cli.h"
#include "lea_log.h"
#include "lea_refusals.h"

#define SWEEP_MAX_S 60

/* ---- configuration generations ---- */

struct lea_gen *lea_gen_new(struct lea_config *cfg)
{
	struct lea_gen *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	atomic_init(&g->refs, 1);
	g->cfg = cfg;
	return g;
}

void lea_gen_unref(struct lea_gen *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	lea_config_free(g->cfg);
	free(g);
}

struct lea_gen *lea_daemon_gen(struct lea_daemon *d)
{
	pthread_mutex_lock(&d->mu);
	struct lea_gen *g = d->gen;
	atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&d->mu);
	return g;
}

/* ---- requests ---- */

int lea_req_status(struct lea_req *r, struct li707_http_req *req, unsigned status)
{
	r->status = status;
	return li707_http_respond_status(req, status);
}

int lea_req_buf(struct lea_req *r, struct li707_http_req *req, unsigned status,
		const char *content_type, const void *data, size_t len)
{
	r->status = status;
	return li707_http_respond_buf(req, status, content_type, data, len);
}

static int handle_begin(struct lea_daemon *d, struct li707_http_req *req)
{
	struct lea_req *r = calloc(1, sizeof *r);
	if (!r)
		return li707_http_respond_status(req, 503);
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

static int handler(void *cls, struct li707_http_req *req, enum li707_http_phase ph)
{
	struct lea_daemon *d = cls;
	if (ph == LI707_HTTP_BEGIN)
		return handle_begin(d, req);
	struct lea_req *r = req->user;
	if (!r)
		return li707_http_respond_status(req, 500);
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

/* The request's line into line (R-SEC-6: no path, no reference, no content - the peer name,
 * counts, sizes, ObjectIdentifiers and upload uuids only). */
static void format_request(const struct lea_req *r, const struct li707_http_req *req, bool ok,
			   char *line, size_t n)
{
	static const char *const eps[] = {"other", "hi1", "binary"};
	char st[16], extra[256] = "";
	if (r->status)
		snprintf(st, sizeof st, "%u", r->status);
	else
		snprintf(st, sizeof st, "%s", ok ? "server" : "aborted");
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

static void request_done(void *cls, struct li707_http_req *req, bool ok)
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

static int policy_copy(struct li707_tls_policy *dst, const struct li707_tls_policy *src)
{
	struct li707_tls_policy p = *src;
	p.tls12_suites = src->tls12_suites ? strdup(src->tls12_suites) : NULL;
	p.tls12_psk_suites = src->tls12_psk_suites ? strdup(src->tls12_psk_suites) : NULL;
	p.groups = src->groups ? strdup(src->groups) : NULL;
	if ((src->tls12_suites && !p.tls12_suites) || (src->tls12_psk_suites && !p.tls12_psk_suites) ||
	    (src->groups && !p.groups)) {
		li707_tls_policy_done(&p);
		return LI707_ENOMEM;
	}
	*dst = p;
	return 0;
}

struct state {
	struct lea_daemon d;
	const char *config_path;
	bool level_from_cli;
	struct li707_tls_policy policy;     /* the server borrows it (read at new and reload) */
	bool has_policy;
	struct li707_tls_peers *first_peers; /* the server borrows it until set_peers; freed last */
	size_t n_cert_listeners;
	uint64_t sweep_s;
	struct lea_refusals refusals; /* as last written to the store directory */
};

/* ---- refused connections: one log line each, rate-limited ----
 * At most REFUSAL_LINES lines per REFUSAL_WINDOW_S seconds, so a flood of refused connections
 * cannot fill the disk; what was left out is counted in one line when the next window opens
 * (and at stop). Every refusal is counted in any case (li707_http_server_stats, `status`).
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

static void on_refused(void *cls, const struct li707_http_refused *r)
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
			 li707_http_refusal_name(r->reason), r->alert ? " alert=\"" : "",
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
	struct li707_http_stats st = {0};
	li707_http_server_stats(S->d.srv, &st);
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

static void log_listener(const char *addr, int port, bool psk)
{
	const char *colon = strrchr(addr, ':');
	int hl = colon ? (int)(colon - addr) : (int)strlen(addr);
	lea_info("listening on %.*s:%d (%s)", hl, addr, port, psk ? "psk" : "mtls");
}

static int open_listeners(struct state *S, const struct lea_config *c)
{
	char err[512];
	size_t k = 0;
	for (size_t pass = 0; pass < 2; pass++) {
		bool psk = pass == 1;
		char **v = psk ? c->listen_psk : c->listen;
		size_t n = psk ? c->n_listen_psk : c->n_listen;
		for (size_t i = 0; i < n; i++, k++) {
			err[0] = '\0';
			int rc = li707_http_server_listen(S->d.srv, v[i], psk, err, sizeof err);
			if (rc != 0) {
				lea_err("listen %s: %s", v[i], err[0] ? err : li707_strerror(rc));
				return rc;
			}
			log_listener(v[i], li707_http_server_port(S->d.srv, k), psk);
		}
	}
	S->n_cert_listeners = c->n_listen;
	return 0;
}

static int start_server(struct state *S, struct lea_config *c)
{
	char err[512] = "";
	S->first_peers = lea_config_take_tls_peers(c);
	if (!S->first_peers || policy_copy(&S->policy, &c->policy) != 0)
		return LI707_ENOMEM;
	S->has_policy = true;
	struct li707_http_config hc = {
		.policy = &S->policy,
		.peers = S->first_peers,
		.creds = c->creds,
		.limits = c->limits,
		.handler = handler,
		.done = request_done,
		.refused = on_refused,
		.cls = &S->d,
	};
	int rc = li707_http_server_new(&hc, &S->d.srv, err, sizeof err);
	if (rc != 0) {
		lea_err("cannot start the HTTPS server: %s", err[0] ? err : li707_strerror(rc));
		return rc;
	}
	return open_listeners(S, c);
}

static int start(struct state *S, struct lea_config *c)
{
	char err[512] = "";
	if (!c->sync_full)
		lea_warn("sync = normal: deliveries are acknowledged before they are durable "
			 "(benchmarks only)");
	struct lea_store_opts so = {
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
	if (c->xsd_check && (rc = load_schemas(S, c)) != 0)
		return rc;
	if ((rc = start_server(S, c)) != 0)
		return rc;
	uint64_t t = c->orphan_timeout_s / 4;
	S->sweep_s = t == 0 ? 1 : t > SWEEP_MAX_S ? SWEEP_MAX_S : t;
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

static bool limits_eq(const struct li707_http_limits *a, const struct li707_http_limits *b)
{
	return a->connections == b->connections && a->per_peer == b->per_peer &&
	       a->per_ip == b->per_ip && a->header_bytes == b->header_bytes &&
	       a->body_bytes == b->body_bytes && a->idle_timeout_s == b->idle_timeout_s &&
	       a->header_timeout_s == b->header_timeout_s && a->max_ranges == b->max_ranges &&
	       a->drain_timeout_s == b->drain_timeout_s;
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
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
		if (!k[i].same)
			lea_warn("reload: '%s' changed: takes effect at the next restart", k[i].key);
}

/* Applies the new certificates and TLS policy; on failure nothing changed. */
static int reload_tls(struct state *S, const struct lea_config *n)
{
	struct li707_tls_policy np, op = S->policy;
	if (policy_copy(&np, &n->policy) != 0)
		return LI707_ENOMEM;
	if (S->n_cert_listeners == 0) {
		S->policy = np; /* PSK listeners keep the policy they started with */
		li707_tls_policy_done(&op);
		return 0;
	}
	char err[512] = "";
	S->policy = np;
	int rc = li707_http_server_reload(S->d.srv, &n->creds, err, sizeof err);
	if (rc != 0) {
		S->policy = op;
		li707_tls_policy_done(&np);
		lea_err("reload: certificates: %s; keeping the running configuration",
			err[0] ? err : li707_strerror(rc));
		return rc;
	}
	li707_tls_policy_done(&op);
	return 0;
}

/* RFC 4279 accepts keys of any length; short ones are weak: say so (start, reload,
 * --check-config). Names the peer, never the key. */
static void warn_weak_psks(const struct lea_config *c, bool to_stderr)
{
	for (size_t i = 0; i < c->tls_peers.n; i++) {
		const struct li707_tls_peer *tp = &c->tls_peers.v[i];
		if (!tp->psk_identity || !tp->psk || tp->psk_len >= LI707_PSK_WEAK_BELOW)
			continue;
		if (to_stderr)
			fprintf(stderr,
				"li707-lea: warn: peer '%s': psk_file: the key is %zu bytes; %d or more "
				"are advised\n",
				tp->name, tp->psk_len, LI707_PSK_WEAK_BELOW);
		else
			lea_warn("peer '%s': psk_file: the key is %zu bytes; %d or more are advised",
				 tp->name, tp->psk_len, LI707_PSK_WEAK_BELOW);
	}
}

static void reload(struct state *S)
{
	struct lea_config *n = NULL;
	char err[512] = "";
	int rc = lea_config_load(S->config_path, &n, err, sizeof err);
	if (rc != 0) {
		lea_err("reload: %s; keeping the running configuration",
			err[0] ? err : li707_strerror(rc));
		return;
	}
	warn_weak_psks(n, false);
	struct lea_gen *cur = lea_daemon_gen(&S->d);
	warn_restart_needed(cur->cfg, n);
	lea_gen_unref(cur);
	if (n->xsd_check && !S->d.schemas && load_schemas(S, n) != 0) {
		lea_err("reload: xsd_check needs the schemas; keeping the running configuration");
		lea_config_free(n);
		return;
	}
	if (reload_tls(S, n) != 0) {
		lea_config_free(n);
		return;
	}
	struct li707_tls_peers *peers = lea_config_take_tls_peers(n);
	struct lea_gen *g = peers ? lea_gen_new(n) : NULL;
	if (!g) {
		lea_err("reload: out of memory; peers unchanged (certificates were reloaded)");
		if (peers)
			li707_tls_peers_clear(peers);
		free(peers);
		lea_config_free(n);
		return;
	}
	/* Rules first, then the allow-list: a removed peer's last requests find no rules
	 * (404), an added peer cannot connect before its rules exist. */
	pthread_mutex_lock(&S->d.mu);
	struct lea_gen *old = S->d.gen;
	S->d.gen = g;
	pthread_mutex_unlock(&S->d.mu);
	lea_gen_unref(old);
	if (li707_http_server_set_peers(S->d.srv, peers) != 0) {
		lea_err("reload: out of memory: the TLS allow-list is unchanged");
		li707_tls_peers_clear(peers);
		free(peers);
	}
	if (!S->level_from_cli)
		lea_log_set_level(n->log_level);
	log_peers(n);
	lea_info("configuration reloaded: %zu peer%s", n->n_peers, n->n_peers == 1 ? "" : "s");
}

/* ---- the signal loop ---- */

static void sweep(struct state *S)
{
	uint64_t n = 0;
	int rc = lea_store_sweep(S->d.store, (int64_t)time(NULL), &n);
	if (rc != 0)
		lea_err("orphan sweep: %s", li707_strerror(rc));
	else if (n)
		lea_info("orphan sweep: %llu upload%s expired (R-BIN-B4)", (unsigned long long)n,
			 n == 1 ? "" : "s");
}

static double mono_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits for signals; returns at SIGTERM/SIGINT. */
static void signal_loop(struct state *S, const sigset_t *set)
{
	double next = mono_s() + (double)S->sweep_s;
	for (;;) {
		refusals_save(S);
		double left = next - mono_s();
		if (left <= 0) {
			sweep(S);
			next = mono_s() + (double)S->sweep_s;
			continue;
		}
		if (left > 1.0)
			left = 1.0; /* the refusal counts reach `status` within a second */
		struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
		int sig = sigtimedwait(set, NULL, &ts);
		if (sig == SIGHUP) {
			lea_info("SIGHUP: reloading %s", S->config_path);
			reload(S);
		} else if (sig == SIGTERM || sig == SIGINT) {
			lea_info("%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
	}
}

static void stop(struct state *S)
{
	if (S->d.srv) {
		if (li707_http_server_drain(S->d.srv) == LI707_ELIMIT)
			lea_warn("drain timeout: requests still in flight were cut (not acknowledged)");
		refusals_save(S);
		pthread_mutex_lock(&refusal_log.mu);
		refusal_flush_left_out();
		pthread_mutex_unlock(&refusal_log.mu);
		li707_http_server_free(S->d.srv);
		S->d.srv = NULL;
	}
	lea_store_close(S->d.store);
	S->d.store = NULL;
	lea_gen_unref(S->d.gen);
	S->d.gen = NULL;
	li707_schema_set_free(S->d.schemas);
	free(S->d.binary_path);
	if (S->first_peers)
		li707_tls_peers_clear(S->first_peers);
	free(S->first_peers);
	if (S->has_policy)
		li707_tls_policy_done(&S->policy);
	pthread_mutex_destroy(&S->d.mu);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: li707-lea [--config FILE] [--check-config] [--log-level LEVEL]\n"
		"       li707-lea list|show|export|status ... (li707-lea COMMAND --help)\n"
		"\n"
		"The LEA side of ETSI TS 103 707: receives HI-1 deliveries (HTTPS POST of\n"
		"HI1Messages) and Model B uploads from the configured CSPs, stores them durably and\n"
		"answers with the HI-1 response. Runs in the foreground and logs to stderr.\n"
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
		"Exit status: 0 stopped by a signal (or configuration OK), 2 usage, 3 cannot start\n"
		"(store, listener), 4 bad configuration, 5 internal error.\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "li707-lea: %s (try 'li707-lea --help')\n", msg);
	return 2;
}

static int run_daemon(const char *path, bool has_level, enum lea_log_level level)
{
	struct state S = {.config_path = path, .level_from_cli = has_level};
	pthread_mutex_init(&S.d.mu, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Before any thread exists (store writer, HTTP server): they all inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	li707_global_init();

	struct lea_config *c = NULL;
	char err[512] = "";
	int rc = lea_config_load(path, &c, err, sizeof err);
	if (rc != 0) {
		lea_err("%s", err[0] ? err : li707_strerror(rc));
		pthread_mutex_destroy(&S.d.mu);
		li707_global_cleanup();
		return 4;
	}
	lea_log_set_level(has_level ? level : c->log_level);
	warn_weak_psks(c, false);
	size_t npeers = c->n_peers;
	/* The generation exists before the first listener: requests may come at once. */
	if (!(S.d.gen = lea_gen_new(c))) {
		lea_config_free(c);
		rc = LI707_ENOMEM;
	} else {
		rc = start(&S, c);
	}
	if (rc != 0) {
		stop(&S);
		li707_global_cleanup();
		return rc == LI707_ENOMEM ? 5 : rc == LI707_ESCHEMASET ? 4 : 3;
	}
	lea_info("li707-lea %s started: %zu peer%s, store %s", LI707_VERSION, npeers,
		 npeers == 1 ? "" : "s", S.d.gen->cfg->store_dir);
	log_peers(S.d.gen->cfg);
	sweep(&S);
	signal_loop(&S, &set);
	stop(&S);
	lea_info("stopped");
	li707_global_cleanup();
	return 0;
}

static int check_config(const char *path)
{
	struct lea_config *c = NULL;
	char err[512] = "";
	int rc = lea_config_load(path, &c, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "li707-lea: %s\n", err[0] ? err : li707_strerror(rc));
		return 4;
	}
	warn_weak_psks(c, true);
	printf("configuration OK: %s, %zu peer%s\n", path, c->n_peers, c->n_peers == 1 ? "" : "s");
	lea_config_free(c);
	return 0;
}

int lea_cmd_daemon(int argc, char **argv)
{
	enum { O_CHECK = 256, O_LEVEL };
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, O_CHECK},
		{"log-level", required_argument, NULL, O_LEVEL}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	const char *path = LEA_CONFIG_DEFAULT;
	bool check = false, has_level = false;
	enum lea_log_level level = LEA_LOG_INFO;
	int o;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:hV", lo, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case O_CHECK: check = true; break;
		case O_LEVEL:
			if (!lea_log_parse_level(optarg, &level))
				return usage_error("--log-level must be error, warn, info or debug");
			has_level = true;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("li707-lea %s\n", LI707_VERSION); return 0;
		default: return usage_error("unknown option or missing argument");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument");
	if (check)
		return check_config(path);
	return run_daemon(path, has_level, level);
}
