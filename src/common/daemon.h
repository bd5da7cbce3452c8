/* li707 common - the daemon lifecycle skeleton (lx_daemon_), shared by li707-lea and the
 * daemons to come. docs/internals/daemon.md describes it; in short:
 *
 *   lx_daemon_run
 *     block SIGHUP, SIGTERM, SIGINT (before any thread: every thread inherits the mask),
 *     ignore SIGPIPE, li707_global_init
 *     load(path)                  -> error: log it, exit li707_exit_code (3 unreadable, 4 bad)
 *     log level (--log-level, else the configuration's)
 *     the first generation becomes current (requests may come as soon as a listener opens)
 *     start(first generation)     -> error: stop(), exit 5 (memory, schemas) or 3 (store,
 *                                    listener: the configuration was valid)
 *     started(generation), tick()
 *     signal loop on this thread (sigtimedwait; tick() every tick seconds):
 *       SIGHUP   "SIGHUP: reloading PATH"; load(path) -> error: "reload: ...; keeping the
 *                running configuration"; prepare(current, next) -> error: next dropped;
 *                else next becomes current, the log level follows it (unless --log-level),
 *                applied(next)
 *       SIGTERM, SIGINT  "SIGTERM: draining" and leave the loop
 *     stop() (drain and free), drop the generation, "stopped", exit 0
 *
 * Generations: the configuration in force is a refcounted struct lx_gen embedded first in the
 * daemon's own generation struct; lx_daemon_gen() hands out a reference (a request takes one
 * when it begins and drops it when done), a reload swaps the pointer, so in-flight requests
 * finish under the rules they started with and the old generation is freed by its last user.
 *
 * lx_server: an HTTPS server with its listeners, the TLS policy it borrows and its first
 * allow-list, and the certificate reload of SIGHUP. */
#ifndef LX_COMMON_DAEMON_H
#define LX_COMMON_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http_server.h"
#include "log.h"
#include "tls.h"

/* ---- configuration generations ---- */

struct lx_gen {
	atomic_int refs;
	void (*release)(struct lx_gen *g); /* frees the whole generation at the last unref */
};

/* One reference. */
void lx_gen_init(struct lx_gen *g, void (*release)(struct lx_gen *g));
void lx_gen_unref(struct lx_gen *g); /* NULL is a no-op */

/* ---- the lifecycle ---- */

struct lx_daemon;

struct lx_daemon_ops {
	const char *name; /* the program name of log lines: "li707-lea" */
	/* Reads and checks the configuration file: 0 and a generation holding one reference,
	 * or an error code with the message in err ("FILE:LINE: ..."). */
	int (*load)(void *app, const char *path, struct lx_gen **out, char *err, size_t errlen);
	enum lx_log_level (*log_level)(const struct lx_gen *g);
	/* Opens everything with the first generation (already current). Logs its own errors. */
	int (*start)(void *app, struct lx_gen *g);
	void (*started)(void *app, struct lx_gen *g); /* the "started" line, or NULL */
	/* SIGHUP: makes next ready (certificates ...) while cur is in force. 0: next becomes
	 * current; else it is dropped (the callback logged why). NULL: always 0. */
	int (*prepare)(void *app, struct lx_gen *cur, struct lx_gen *next);
	void (*applied)(void *app, struct lx_gen *g); /* after the swap, or NULL */
	void (*tick)(void *app);                      /* periodic work, or NULL */
	/* Drains and frees what start opened; also after a failed start (anything may be
	 * missing). The current generation is dropped by the skeleton after it. */
	void (*stop)(void *app);
};

struct lx_daemon {
	const struct lx_daemon_ops *ops;
	void *app;                /* handed to every callback */
	const char *config_path;
	bool level_from_cli;      /* --log-level given: reloads keep it */
	enum lx_log_level cli_level;
	uint64_t tick_s;          /* 0: no tick; start() may set it (lx_daemon_set_tick) */
	pthread_mutex_t mu;       /* gen (the pointer) */
	struct lx_gen *gen;
};

/* Runs the daemon to its end; returns the exit status. d: ops, app, config_path and the
 * level fields set, the rest zero. */
int lx_daemon_run(struct lx_daemon *d);

/* A new reference to the current generation (never NULL while the daemon runs). */
struct lx_gen *lx_daemon_gen(struct lx_daemon *d);

void lx_daemon_set_tick(struct lx_daemon *d, uint64_t seconds);

/* The command line every daemon takes: -c/--config FILE, --check-config, --log-level L,
 * -h/--help, -V/--version. */
struct lx_daemon_args {
	const char *config_path;  /* default_path unless --config */
	bool check_config;
	bool level_from_cli;      /* --log-level given */
	enum lx_log_level level;
};

/* Parses argv into a (name: "li707-lea"; usage prints the --help text). Returns -1 when the
 * daemon should go on (run or check its configuration), else the exit status: 0 after
 * --help or --version (printed), 2 after a usage error ("NAME: ... (try 'NAME --help')" on
 * stderr). */
int lx_daemon_args_parse(int argc, char **argv, const char *name, const char *default_path,
			 void (*usage)(FILE *f), struct lx_daemon_args *a);

/* ---- an HTTPS server and its listeners ---- */

struct lx_server {
	struct lx_http_server *srv;
	struct lx_tls_policy policy;      /* the server borrows it (read at new and reload) */
	bool has_policy;
	struct lx_tls_peers *first_peers; /* the server borrows it until set_peers; freed last */
	size_t n_cert_listeners;
	/* lx_server_stop: called after the drain, before the server is freed (its stats are
	 * still readable), or NULL */
	void (*drained)(void *cls);
	void *drained_cls;
};

/* Creates the server from hc (policy and peers are replaced by s's copy of *policy and by
 * peers, which s takes) and opens the certificate then the PSK listeners, logging
 * "listening on ADDR:PORT (mtls|psk)" for each. Logs and returns the error otherwise. */
int lx_server_start(struct lx_server *s, struct lx_http_config hc,
		    const struct lx_tls_policy *policy, struct lx_tls_peers *peers,
		    char **listen, size_t n_listen, char **listen_psk, size_t n_listen_psk);

/* SIGHUP: applies the new certificates and TLS policy; on failure nothing changed (logged). */
int lx_server_reload_tls(struct lx_server *s, const struct lx_tls_policy *policy,
			 const struct lx_http_creds *creds);

/* Drains (a warning when requests were cut) and frees everything; s may be partly set up. */
void lx_server_stop(struct lx_server *s);

#endif
