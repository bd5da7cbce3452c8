/* li707 common - the daemon lifecycle skeleton (daemon.h, docs/internals/daemon.md).
 *
 * DESIGN. Moved from src/lea/lea_daemon.c (run_daemon, the signal loop, reload, the
 * configuration generations, the listeners and the TLS reload); what differs per daemon comes
 * through struct lx_daemon_ops. Foreground, logs on stderr (log.h). SIGHUP, SIGTERM and SIGINT
 * are blocked before any thread exists, so every thread inherits the mask; the thread that
 * calls lx_daemon_run is the signal thread: it waits in sigtimedwait() and runs the daemon's
 * tick between signals. */
#include "daemon.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "li707/li707.h"

/* ---- configuration generations ---- */

void lx_gen_init(struct lx_gen *g, void (*release)(struct lx_gen *g))
{
	atomic_init(&g->refs, 1);
	g->release = release;
}

void lx_gen_unref(struct lx_gen *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	g->release(g);
}

struct lx_gen *lx_daemon_gen(struct lx_daemon *d)
{
	pthread_mutex_lock(&d->mu);
	struct lx_gen *g = d->gen;
	atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&d->mu);
	return g;
}

void lx_daemon_set_tick(struct lx_daemon *d, uint64_t seconds)
{
	d->tick_s = seconds;
}

/* ---- the HTTPS server ---- */

static int policy_copy(struct lx_tls_policy *dst, const struct lx_tls_policy *src)
{
	struct lx_tls_policy p = *src;
	p.tls12_suites = src->tls12_suites ? strdup(src->tls12_suites) : NULL;
	p.tls12_psk_suites = src->tls12_psk_suites ? strdup(src->tls12_psk_suites) : NULL;
	p.groups = src->groups ? strdup(src->groups) : NULL;
	if ((src->tls12_suites && !p.tls12_suites) || (src->tls12_psk_suites && !p.tls12_psk_suites) ||
	    (src->groups && !p.groups)) {
		lx_tls_policy_done(&p);
		return LI707_ENOMEM;
	}
	*dst = p;
	return 0;
}

static void log_listener(const char *addr, int port, bool psk)
{
	const char *colon = strrchr(addr, ':');
	int hl = colon ? (int)(colon - addr) : (int)strlen(addr);
	lx_info("listening on %.*s:%d (%s)", hl, addr, port, psk ? "psk" : "mtls");
}

static int open_listeners(struct lx_server *S, char **listen, size_t n_listen, char **listen_psk,
			  size_t n_listen_psk)
{
	char err[512];
	size_t k = 0;
	for (size_t pass = 0; pass < 2; pass++) {
		bool psk = pass == 1;
		char **v = psk ? listen_psk : listen;
		size_t n = psk ? n_listen_psk : n_listen;
		for (size_t i = 0; i < n; i++, k++) {
			err[0] = '\0';
			int rc = lx_http_server_listen(S->srv, v[i], psk, err, sizeof err);
			if (rc != 0) {
				lx_err("listen %s: %s", v[i], err[0] ? err : li707_strerror(rc));
				return rc;
			}
			log_listener(v[i], lx_http_server_port(S->srv, k), psk);
		}
	}
	S->n_cert_listeners = n_listen;
	return 0;
}

int lx_server_start(struct lx_server *S, struct lx_http_config hc,
		    const struct lx_tls_policy *policy, struct lx_tls_peers *peers,
		    char **listen, size_t n_listen, char **listen_psk, size_t n_listen_psk)
{
	char err[512] = "";
	S->first_peers = peers;
	if (!S->first_peers || policy_copy(&S->policy, policy) != 0)
		return LI707_ENOMEM;
	S->has_policy = true;
	hc.policy = &S->policy;
	hc.peers = S->first_peers;
	int rc = lx_http_server_new(&hc, &S->srv, err, sizeof err);
	if (rc != 0) {
		lx_err("cannot start the HTTPS server: %s", err[0] ? err : li707_strerror(rc));
		return rc;
	}
	return open_listeners(S, listen, n_listen, listen_psk, n_listen_psk);
}

/* Applies the new certificates and TLS policy; on failure nothing changed. */
int lx_server_reload_tls(struct lx_server *S, const struct lx_tls_policy *policy,
			 const struct lx_http_creds *creds)
{
	struct lx_tls_policy np, op = S->policy;
	if (policy_copy(&np, policy) != 0)
		return LI707_ENOMEM;
	if (S->n_cert_listeners == 0) {
		S->policy = np; /* PSK listeners keep the policy they started with */
		lx_tls_policy_done(&op);
		return 0;
	}
	char err[512] = "";
	S->policy = np;
	int rc = lx_http_server_reload(S->srv, creds, err, sizeof err);
	if (rc != 0) {
		S->policy = op;
		lx_tls_policy_done(&np);
		lx_err("reload: certificates: %s; keeping the running configuration",
		       err[0] ? err : li707_strerror(rc));
		return rc;
	}
	lx_tls_policy_done(&op);
	return 0;
}

void lx_server_stop(struct lx_server *S)
{
	if (S->srv) {
		if (lx_http_server_drain(S->srv) == LI707_ELIMIT)
			lx_warn("drain timeout: requests still in flight were cut (not acknowledged)");
		if (S->drained)
			S->drained(S->drained_cls);
		lx_http_server_free(S->srv);
		S->srv = NULL;
	}
	if (S->first_peers)
		lx_tls_peers_clear(S->first_peers);
	free(S->first_peers);
	S->first_peers = NULL;
	if (S->has_policy)
		lx_tls_policy_done(&S->policy);
	S->has_policy = false;
}

/* ---- SIGHUP ---- */

static void reload(struct lx_daemon *d)
{
	struct lx_gen *n = NULL;
	char err[512] = "";
	int rc = d->ops->load(d->app, d->config_path, &n, err, sizeof err);
	if (rc != 0) {
		lx_err("reload: %s; keeping the running configuration",
		       err[0] ? err : li707_strerror(rc));
		return;
	}
	struct lx_gen *cur = lx_daemon_gen(d);
	rc = d->ops->prepare ? d->ops->prepare(d->app, cur, n) : 0;
	lx_gen_unref(cur);
	if (rc != 0) {
		lx_gen_unref(n);
		return;
	}
	pthread_mutex_lock(&d->mu);
	struct lx_gen *old = d->gen;
	d->gen = n;
	pthread_mutex_unlock(&d->mu);
	lx_gen_unref(old);
	if (!d->level_from_cli)
		lx_log_set_level(d->ops->log_level(n));
	if (d->ops->applied)
		d->ops->applied(d->app, n);
}

/* ---- the signal loop ---- */

static double mono_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void tick(struct lx_daemon *d)
{
	if (d->ops->tick)
		d->ops->tick(d->app);
}

/* Waits for signals; returns at SIGTERM/SIGINT. */
static void signal_loop(struct lx_daemon *d, const sigset_t *set)
{
	/* Without a tick, wake up once a day for nothing. */
	double period = d->tick_s ? (double)d->tick_s : 86400.0;
	double next = mono_s() + period;
	for (;;) {
		double left = next - mono_s();
		if (left <= 0) {
			if (d->tick_s)
				tick(d);
			next = mono_s() + period;
			continue;
		}
		struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
		int sig = sigtimedwait(set, NULL, &ts);
		if (sig == SIGHUP) {
			lx_info("SIGHUP: reloading %s", d->config_path);
			reload(d);
		} else if (sig == SIGTERM || sig == SIGINT) {
			lx_info("%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
	}
}

static void stop(struct lx_daemon *d)
{
	d->ops->stop(d->app);
	lx_gen_unref(d->gen);
	d->gen = NULL;
	pthread_mutex_destroy(&d->mu);
}

int lx_daemon_run(struct lx_daemon *d)
{
	lx_log_set_program(d->ops->name);
	pthread_mutex_init(&d->mu, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Before any thread exists (store writer, HTTP server): they all inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	li707_global_init();

	struct lx_gen *g = NULL;
	char err[512] = "";
	int rc = d->ops->load(d->app, d->config_path, &g, err, sizeof err);
	if (rc != 0) {
		lx_err("%s", err[0] ? err : li707_strerror(rc));
		pthread_mutex_destroy(&d->mu);
		li707_global_cleanup();
		return li707_exit_code(rc); /* 3 unreadable, 4 not valid */
	}
	lx_log_set_level(d->level_from_cli ? d->cli_level : d->ops->log_level(g));
	/* The generation exists before the first listener: requests may come at once. */
	d->gen = g;
	rc = d->ops->start(d->app, g);
	if (rc != 0) {
		stop(d);
		li707_global_cleanup();
		/* 5 internal (memory, schemas), else 3: the configuration was valid, so what
		 * failed is the environment (store, listener) */
		return li707_exit_code(rc) == 5 ? 5 : 3;
	}
	if (d->ops->started)
		d->ops->started(d->app, g);
	tick(d);
	signal_loop(d, &set);
	stop(d);
	lx_info("stopped");
	li707_global_cleanup();
	return 0;
}

/* ---- the command line ---- */

static int args_error(const char *name, const char *msg)
{
	fprintf(stderr, "%s: %s (try '%s --help')\n", name, msg, name);
	return 2;
}

int lx_daemon_args_parse(int argc, char **argv, const char *name, const char *default_path,
			 void (*usage)(FILE *f), struct lx_daemon_args *a)
{
	enum { O_CHECK = 256, O_LEVEL };
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, O_CHECK},
		{"log-level", required_argument, NULL, O_LEVEL}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	*a = (struct lx_daemon_args){.config_path = default_path, .level = LX_LOG_INFO};
	int o;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:hV", lo, NULL)) != -1) {
		switch (o) {
		case 'c': a->config_path = optarg; break;
		case O_CHECK: a->check_config = true; break;
		case O_LEVEL:
			if (!lx_log_parse_level(optarg, &a->level))
				return args_error(name, "--log-level must be error, warn, info or debug");
			a->level_from_cli = true;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("%s %s\n", name, LI707_VERSION); return 0;
		default: return args_error(name, "unknown option or missing argument");
		}
	}
	if (optind < argc)
		return args_error(name, "unexpected argument");
	return -1;
}
