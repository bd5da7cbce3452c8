/* li707-csp - the daemon: lifecycle on the shared skeleton, metrics, and the place where the
 * engines of wave 2 start and stop.
 *
 * DESIGN (docs/internals/csp.md)
 * - lx_daemon_run (src/common/daemon.c): foreground, logs on stderr, signals blocked before
 *   any thread exists; SIGHUP reloads the configuration (a new generation; requests already
 *   running finish under theirs), SIGTERM/SIGINT drain: the listeners stop, requests in
 *   progress finish and are acknowledged after their commit, the store is closed.
 * - start: the spool and the store (which puts deliveries found inflight back to ready), the
 *   ingest endpoints, the control socket SPOOL/control.sock (the CLI's store commands run
 *   here while the daemon holds the store), the metrics endpoint, then the engines.
 * - Every log line is free of target identifiers, conversation keys and content (R-SEC-6):
 *   LEA names, counts, ids, sizes, durations only. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csp_cli.h"
#include "csp_ingest.h"
#include "csp_run_binary.h"
#include "csp_xfer.h"
#include "csp_run_deliver.h"
#include "daemon.h"
#include "li707/error.h"
#include "li707/li707.h"
#include "li707/util.h"
#include "metrics.h"

struct csp_gen {
	struct lx_gen lx; /* first: the skeleton's */
	struct csp_config *cfg;
};

struct metrics {
	struct lx_metrics *reg;
	struct lx_metric_family *depth, *oldest, *deliveries;
	struct lx_metric *accepted, *refused, *commit_seconds, *writable, *generation;
	struct lx_metrics_server *srv;
};

struct state {
	struct lx_daemon lx;
	struct csp_store *store;
	struct csp_ingest *ingest;
	struct csp_ingest_server *ingest_srv, *control_srv;
	struct metrics m;
	bool draining;
	/* ---- wave 2: the engines (csp_deliver per LEA, csp_files, csp_push, csp_audit) ---- */
	struct csp_rd *rd; /* csp-wire-deliver: packager, delivery engines, audit log */
	struct csp_binary *binary;   /* csp_run_binary.c: Model A/C server, Model B push */
	struct lx_gen *binary_gen;   /* the generation whose peers and policy it borrows */
};

static void gen_release(struct lx_gen *x)
{
	struct csp_gen *g = (struct csp_gen *)x;
	csp_config_free(g->cfg);
	free(g);
}

/* ---- configuration in force, per request ---- */

static const struct csp_config *acquire_cfg(void *ud, void **tok)
{
	struct state *S = ud;
	struct csp_gen *g = (struct csp_gen *)lx_daemon_gen(&S->lx);
	*tok = g;
	return g->cfg;
}

static void release_cfg(void *tok)
{
	lx_gen_unref(tok);
}

static void rd_wake(void *ud)
{
	csp_rd_wake(((struct state *)ud)->rd); /* csp-wire-deliver */
}

static int binary_stats(void *ud, struct csp_binary_stats *out)
{
	if (!ud)
		return LI707_ENOTFOUND;
	csp_binary_stats(ud, out); /* csp-wire-binary */
	return 0;
}

static size_t binary_transfers(void *ud, struct csp_xfer_view *v, size_t max)
{
	return csp_xfer_list(csp_binary_transfers(ud), v, max); /* issue 11 */
}

static int control(void *ud, const char *body, size_t len, struct lx_dynbuf *out)
{
	struct state *S = ud;
	void *tok = NULL;
	struct csp_cmd_ctx x = {.cfg = acquire_cfg(S, &tok), .store = S->store,
				.notify = csp_rd_notify, .live = csp_rd_live, .hook_ud = S->rd,
				.binary = binary_stats, .binary_ud = S->binary,
				.transfers = binary_transfers};
	int rc = csp_cli_control(&x, body, len, out);
	release_cfg(tok);
	return rc;
}

/* ---- metrics ---- */

static const double commit_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					0.05,   0.1,   0.25,   0.5,   1,    2.5};

static void collect(struct lx_metrics *r, void *arg)
{
	(void)r;
	struct state *S = arg;
	lx_metric_gauge_set(S->m.writable, csp_store_writable(S->store) ? 1 : 0);
	struct csp_store_counts c;
	if (csp_store_counts(S->store, &c) != 0)
		return;
	struct li707_time t;
	li707_time_now(&t);
	for (size_t i = 0; i < c.n_leas; i++) {
		const struct csp_lea_counts *l = &c.leas[i];
		lx_metric_gauge_set(lx_metric_get(S->m.depth, l->lea), (double)csp_lea_queue_depth(l));
		lx_metric_gauge_set(lx_metric_get(S->m.oldest, l->lea),
				    l->oldest ? (double)(t.epoch - l->oldest) : 0);
		for (int s = 0; s < CSP_D_NSTATES; s++)
			lx_metric_gauge_set(lx_metric_get(S->m.deliveries, l->lea,
							  csp_dstate_name((enum csp_dstate)s)),
					    (double)l->d[s]);
	}
	csp_store_counts_clear(&c);
	csp_rd_collect(S->rd); /* csp-wire-deliver */
}

static int metrics_new(struct state *S)
{
	struct metrics *m = &S->m;
	struct lx_metrics *r = m->reg = lx_metrics_new();
	if (!r)
		return LI707_ENOMEM;
	m->depth = lx_metrics_family(r, LX_METRIC_GAUGE, "li707_csp_queue_depth",
				     "Events queued and deliveries not done (review, ready, inflight, "
				     "parked), per LEA.", "lea", NULL, 0);
	m->oldest = lx_metrics_family(r, LX_METRIC_GAUGE, "li707_csp_oldest_age_seconds",
				      "Age of the oldest event or delivery not done, per LEA.", "lea",
				      NULL, 0);
	m->deliveries = lx_metrics_family(r, LX_METRIC_GAUGE, "li707_csp_deliveries",
					  "DeliveryObjects by LEA and state.", "lea,state", NULL, 0);
	m->accepted = lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER,
						      "li707_csp_events_accepted_total",
						      "Events acknowledged (durable).", NULL, NULL, 0));
	m->refused = lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER,
						     "li707_csp_events_refused_total",
						     "Events refused (bad event, reference, attachment, "
						     "store).", NULL, NULL, 0));
	m->commit_seconds = lx_metric_get(lx_metrics_family(
		r, LX_METRIC_HISTOGRAM, "li707_csp_store_commit_seconds",
		"Time a store write waits until it is durable (queue, commit, fdatasync).", NULL,
		commit_buckets, sizeof commit_buckets / sizeof commit_buckets[0]));
	m->writable = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE, "li707_csp_store_writable",
						      "1 while the store accepts writes.", NULL, NULL, 0));
	m->generation = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE,
							"li707_csp_config_generation",
							"Configurations loaded since start.", NULL, NULL, 0));
	struct lx_metric *bi = lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE, "li707_build_info",
							       "The running build.", "program,version",
							       NULL, 0),
					     "li707-csp", LI707_VERSION);
	if (!m->depth || !m->oldest || !m->deliveries || !m->accepted || !m->refused ||
	    !m->commit_seconds || !m->writable || !m->generation || !bi)
		return LI707_ENOMEM;
	lx_metric_gauge_set(bi, 1);
	lx_metric_gauge_add(m->generation, 1);
	lx_metrics_on_collect(r, collect, S);
	return 0;
}

static bool health(void *arg, char *why, size_t whylen)
{
	struct state *S = arg;
	const char *bad = S->draining ? "draining"
			  : !csp_store_writable(S->store) ? "store not writable" : NULL;
	if (bad)
		snprintf(why, whylen, "%s", bad);
	return !bad;
}

/* ---- start, stop ---- */

static int start(void *app, struct lx_gen *lg)
{
	struct state *S = app;
	struct csp_config *c = ((struct csp_gen *)lg)->cfg;
	char err[512] = "";
	int rc;
	if (!c->sync_full)
		lx_warn("sync = normal: events are acknowledged before they are durable "
			"(benchmarks only)");
	if ((rc = metrics_new(S)))
		return rc;
	if (mkdir(c->spool, 0700) != 0 && errno != EEXIST)
		lx_warn("cannot create the spool directory: %s", strerror(errno));
	struct csp_store_opts so = {.spool = c->spool, .sync_normal = !c->sync_full,
				    .commit_seconds = S->m.commit_seconds};
	if ((rc = csp_store_open(&so, &S->store, err, sizeof err))) {
		lx_err("cannot open the store: %s", err[0] ? err : li707_strerror(rc));
		return rc;
	}
	uint64_t swept = 0;
	if ((rc = csp_store_spool_sweep(S->store, &swept)))
		lx_warn("spool sweep: %s", li707_strerror(rc));
	else if (swept)
		lx_info("spool sweep: %llu file%s no event refers to removed (left by a crash "
			"before their commit)", (unsigned long long)swept, swept == 1 ? "" : "s");
	if ((rc = csp_ingest_new(c, S->store, &S->ingest, err, sizeof err))) {
		lx_err("ingest: %s", err);
		return rc;
	}
	csp_ingest_set_config_source(S->ingest, acquire_cfg, release_cfg, S);
	csp_ingest_set_metrics(S->ingest, S->m.accepted, S->m.refused);
	/* csp-wire-deliver: audit log, packager, one delivery engine per [lea] */
	struct csp_rd_cfg_source rsrc = {.acquire = acquire_cfg, .release = release_cfg, .ud = S};
	if ((rc = csp_rd_start(S->store, c, &rsrc, S->m.reg, &S->rd, err, sizeof err))) {
		lx_err("deliveries: %s", err[0] ? err : li707_strerror(rc));
		return rc;
	}
	csp_ingest_set_on_commit(S->ingest, rd_wake, S);
	for (size_t i = 0; i < c->n_attachment_dirs; i++) {
		struct stat st;
		if (stat(c->attachment_dirs[i], &st) != 0 || !S_ISDIR(st.st_mode))
			lx_warn("attachment_dirs entry %zu is not a directory: events naming it are "
				"refused", i + 1);
	}
	char sock[4200];
	snprintf(sock, sizeof sock, "%s/%s", c->spool, CSP_CONTROL_SOCKET);
	if ((rc = csp_control_serve(sock, control, S, &S->control_srv, err, sizeof err))) {
		lx_err("control socket: %s", err[0] ? err : li707_strerror(rc));
		return rc;
	}
	if ((rc = csp_ingest_serve(S->ingest, c, &S->ingest_srv, err, sizeof err))) {
		lx_err("%s", err[0] ? err : li707_strerror(rc));
		return rc;
	}
	if (c->metrics_listen) {
		int port = 0;
		if ((rc = lx_metrics_server_start(c->metrics_listen, S->m.reg, health, S, &S->m.srv,
						  &port, err, sizeof err))) {
			lx_err("metrics_listen: %s", err[0] ? err : li707_strerror(rc));
			return rc;
		}
		const char *colon = strrchr(c->metrics_listen, ':');
		lx_info("metrics on %.*s:%d (http: /metrics, /healthz)",
			(int)(colon - c->metrics_listen), c->metrics_listen, port);
	}
	/* ---- wave 2: START the engines here ----
	 * for each [lea NAME]: csp_deliver (its thread, over the store's ready/done/fail/park
	 * functions) and csp_push (csp_store_push_due / csp_store_push_result); csp_files on
	 * files_listen (lookup: csp_store_object_by_token); csp_audit_open(SPOOL/audit.log).
	 * ---- end wave 2 ---- */
	/* binary (csp_run_binary.c): its audit records go to the deliveries' log */
	if ((rc = csp_binary_start(c, S->store, csp_rd_audit(S->rd), S->m.reg, &S->binary, err,
				   sizeof err))) {
		lx_err("binary: %s", err[0] ? err : li707_strerror(rc));
		return rc;
	}
	atomic_fetch_add(&lg->refs, 1);
	S->binary_gen = lg;
	lx_daemon_set_tick(&S->lx, 1);
	return 0;
}

static void started(void *app, struct lx_gen *lg)
{
	(void)app;
	const struct csp_config *c = ((struct csp_gen *)lg)->cfg;
	lx_info("li707-csp %s started: %zu LEA%s, spool %s", LI707_VERSION, c->n_leas,
		c->n_leas == 1 ? "" : "s", c->spool);
}

static void tick(void *app)
{
	struct state *S = app;
	csp_rd_tick(S->rd); /* csp-wire-deliver: batch_wait */
	csp_binary_tick(S->binary); /* retention sweep, binary counters */
	/* ---- wave 2: TICK: packaging when batch_wait passes, expiry and retention sweeps of
	 * the spool, the audit log's periodic flush ---- */
}

static void stop(void *app)
{
	struct state *S = app;
	S->draining = true;
	/* ---- wave 2: STOP the engines first (they finish or give back what is in flight:
	 * an inflight delivery left by a stop goes back to ready at the next open) ---- */
	csp_binary_stop(S->binary); /* pushes in flight abandoned (due again), server drained */
	S->binary = NULL;
	lx_gen_unref(S->binary_gen);
	S->binary_gen = NULL;
	/* (csp-wire-deliver: csp_rd_stop below, once nothing can call into it any more) */
	csp_ingest_server_stop(S->ingest_srv); /* requests in progress are answered first */
	S->ingest_srv = NULL;
	csp_ingest_server_stop(S->control_srv);
	S->control_srv = NULL;
	lx_metrics_server_stop(S->m.srv);
	S->m.srv = NULL;
	csp_rd_stop(S->rd); /* csp-wire-deliver: engines drain, in flight given back */
	S->rd = NULL;
	csp_ingest_free(S->ingest);
	S->ingest = NULL;
	csp_store_close(S->store);
	S->store = NULL;
	lx_metrics_free(S->m.reg);
	S->m.reg = NULL;
}

/* ---- SIGHUP ---- */

static bool strv_eq(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int prepare(void *app, struct lx_gen *cur, struct lx_gen *next)
{
	struct state *S = app;
	const struct csp_config *o = ((struct csp_gen *)cur)->cfg, *n = ((struct csp_gen *)next)->cfg;
	struct {
		bool same;
		const char *key;
	} k[] = {
		{str_eq(o->spool, n->spool), "spool"},
		{strv_eq(o->ingest_listen, o->n_ingest_listen, n->ingest_listen, n->n_ingest_listen),
		 "ingest_listen"},
		{strv_eq(o->attachment_dirs, o->n_attachment_dirs, n->attachment_dirs,
			 n->n_attachment_dirs), "attachment_dirs"},
		{str_eq(o->metrics_listen, n->metrics_listen), "metrics_listen"},
		{o->sync_full == n->sync_full, "sync"},
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
		if (!k[i].same)
			lx_warn("reload: '%s' changed: takes effect at the next restart", k[i].key);
	/* last: the file server's new listeners and certificates (taken back on failure, with
	 * one error line; the reload is then dropped and everything keeps the running one) */
	return csp_binary_reload_prepare(S->binary, n);
}

static void applied(void *app, struct lx_gen *g)
{
	struct state *S = app;
	const struct csp_config *c = ((struct csp_gen *)g)->cfg;
	lx_metric_gauge_add(S->m.generation, 1);
	csp_rd_reload(S->rd, c); /* csp-wire-deliver */
	csp_binary_reload_apply(S->binary, c); /* file server, push engines, retention */
	atomic_fetch_add(&g->refs, 1);
	lx_gen_unref(S->binary_gen);
	S->binary_gen = g;
	lx_info("configuration reloaded: %zu LEA%s", c->n_leas, c->n_leas == 1 ? "" : "s");
}

/* ---- the skeleton's callbacks and options ---- */

static int load(void *app, const char *path, struct lx_gen **out, char *err, size_t errlen)
{
	(void)app;
	struct csp_config *c = NULL;
	int rc = csp_config_load(path, &c, err, errlen);
	if (rc)
		return rc;
	struct csp_gen *g = calloc(1, sizeof *g);
	if (!g) {
		csp_config_free(c);
		return LI707_ENOMEM;
	}
	lx_gen_init(&g->lx, gen_release);
	g->cfg = c;
	*out = &g->lx;
	return 0;
}

static enum lx_log_level config_level(const struct lx_gen *g)
{
	return ((const struct csp_gen *)g)->cfg->log_level;
}

static const struct lx_daemon_ops csp_ops = {
	.name = "li707-csp",
	.load = load,
	.log_level = config_level,
	.start = start,
	.started = started,
	.prepare = prepare,
	.applied = applied,
	.tick = tick,
	.stop = stop,
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: li707-csp [--config FILE] [--check-config] [--log-level LEVEL]\n"
		"       li707-csp ref|audit|submit|status|review|retry|drop ... (COMMAND --help)\n"
		"\n"
		"The CSP side of ETSI TS 103 707: takes events (JSON Lines) from the provider's\n"
		"platform into a durable queue and delivers them to the LEAs. Runs in the\n"
		"foreground and logs to stderr.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     configuration file (default " CSP_CONFIG_DEFAULT ")\n"
		"  --check-config        read the configuration, print 'configuration OK' and exit\n"
		"  --log-level LEVEL     error, warn, info or debug (overrides log_level)\n"
		"  -h, --help            print this help and exit\n"
		"  -V, --version         print the version and exit\n"
		"\n"
		"Commands:\n"
		"  ref add|list|close    references (LIIDs/LDIDs) the agent may deliver for\n"
		"  audit verify          check an Annex D.4 field/salt pair against a kept hash\n"
		"  audit check [FILE]    verify the audit log's hash chain\n"
		"  submit [FILE|-]       queue events (through the daemon when it runs)\n"
		"  status [--json]       per LEA queue depth, oldest age, deliveries by state\n"
		"  review list|show|approve|reject   deliveries held for human review\n"
		"  retry|drop ID         a parked delivery\n"
		"\n"
		"Signals: SIGHUP reloads the configuration; SIGTERM or SIGINT finish the requests\n"
		"in progress and exit 0. Exit status: 0 ok, 1 refused/failed, 2 usage, 3 cannot\n"
		"read the configuration or cannot start, 4 bad configuration, 5 internal error.\n");
}

static int check_config(const char *path)
{
	struct csp_config *c = NULL;
	char err[512] = "";
	int rc = csp_config_load(path, &c, err, sizeof err);
	if (rc) {
		fprintf(stderr, "li707-csp: %s\n", err[0] ? err : li707_strerror(rc));
		return li707_exit_code(rc);
	}
	printf("configuration OK: %s, %zu LEA%s\n", path, c->n_leas, c->n_leas == 1 ? "" : "s");
	csp_config_free(c);
	return 0;
}

int csp_cmd_daemon(int argc, char **argv)
{
	struct lx_daemon_args a;
	int rc = lx_daemon_args_parse(argc, argv, "li707-csp", CSP_CONFIG_DEFAULT, usage, &a);
	if (rc >= 0)
		return rc;
	if (a.check_config)
		return check_config(a.config_path);
	struct state S = {0};
	S.lx = (struct lx_daemon){.ops = &csp_ops, .app = &S, .config_path = a.config_path,
				  .level_from_cli = a.level_from_cli, .cli_level = a.level};
	return lx_daemon_run(&S.lx);
}
