/* li707-csp - the commands (dispatched by csp_main.c). Each takes argv with argv[0] the
 * command name and returns the process exit status (docs/exit-codes.md).
 *
 *   li707-csp --config FILE [--check-config] [--log-level L]   the daemon (csp_daemon.c)
 *   li707-csp ref add|list|close ...                           csp_refs.c
 *   li707-csp audit verify REF --field F --salt S              csp_refs.c
 *   li707-csp submit [FILE|-]                                  csp_ingest.c
 *   li707-csp status [--json]                                  csp_cli.c
 *   li707-csp review list|show|approve|reject ...              csp_cli.c
 *   li707-csp retry|drop ID                                    csp_cli.c
 *
 * Every command but the daemon takes --config FILE (default CSP_CONFIG_DEFAULT) for the
 * spool and the LEA names. */
#ifndef LI707_CSP_CLI_H
#define LI707_CSP_CLI_H

#include <stdbool.h>

#include "csp.h"
#include "csp_store.h"
#include "dynbuf.h"
#include <stdio.h>
#include <stdint.h>

/* What a store command runs with: in the CLI's own process (the daemon is not running: the
 * CLI opened the store) or in the daemon's (forwarded through the control socket: its
 * configuration and store; out and err are sent back). */
/* ---- csp-wire-deliver: hooks of the delivery wiring (csp_run_deliver.c) ---- */
enum csp_cmd_event {
	CSP_CMD_REF_ADD, CSP_CMD_REF_CLOSE,          /* id: the ref key */
	CSP_CMD_RETRY, CSP_CMD_DROP, CSP_CMD_APPROVE, CSP_CMD_REJECT /* id: the delivery */
};
/* What the running engine of an LEA says (status). */
struct csp_lea_live {
	bool running;
	unsigned in_flight;
	uint64_t sent, done, retried, parked;
	int64_t last_success, last_error; /* epoch seconds, 0: never */
	char last_error_text[256];
};
struct csp_cmd_ctx;
typedef void (*csp_cmd_notify_fn)(void *ud, struct csp_cmd_ctx *x, enum csp_cmd_event ev,
				  int64_t id);
typedef int (*csp_cmd_live_fn)(void *ud, const char *lea, struct csp_lea_live *out);
/* ---- end csp-wire-deliver ---- */
/* csp-wire-binary: the binary engines' totals for status (csp_run_binary.h), or nonzero. */
struct csp_binary_stats;
typedef int (*csp_cmd_binary_fn)(void *ud, struct csp_binary_stats *out);
/* issue 11: binary transfers in progress and recently finished (csp_xfer_list), at most max. */
struct csp_xfer_view;
typedef size_t (*csp_cmd_transfers_fn)(void *ud, struct csp_xfer_view *v, size_t max);

struct csp_cmd_ctx {
	const struct csp_config *cfg;
	struct csp_store *store;
	FILE *out, *err;
	int64_t now;
	csp_cmd_notify_fn notify;       /* after a successful transition (audit, wake-up) */
	csp_cmd_live_fn live;           /* engine counters for status, or NULL */
	void *hook_ud;
	csp_cmd_binary_fn binary;       /* csp-wire-binary: file server and push totals, or NULL */
	void *binary_ud;
	csp_cmd_transfers_fn transfers; /* transfers in progress (binary_ud), or NULL */
};

int csp_cmd_daemon(int argc, char **argv);   /* csp_daemon.c */
int csp_cmd_submit(int argc, char **argv);   /* csp_ingest_cli.c */

/* Store commands: argv[0] is the command name. Return the exit status. */
int csp_cmd_ref(struct csp_cmd_ctx *x, int argc, char **argv);     /* csp_refs.c */
int csp_cmd_audit(struct csp_cmd_ctx *x, int argc, char **argv);   /* csp_refs.c */
int csp_cmd_status(struct csp_cmd_ctx *x, int argc, char **argv);  /* csp_cli.c */
int csp_cmd_review(struct csp_cmd_ctx *x, int argc, char **argv);
int csp_cmd_retry_drop(struct csp_cmd_ctx *x, int argc, char **argv);

/* Runs the command named by argv[0]; -1 when there is none of that name. */
int csp_cli_command(int argc, char **argv);

/* The store command named by argv[0] in context x (the daemon's control socket calls it
 * too, under a lock: getopt is not reentrant); -1 when there is none of that name. */
int csp_cli_store_command(struct csp_cmd_ctx *x, int argc, char **argv);

/* The control socket's handler (csp_ingest.h csp_local_handler): ud is a
 * struct csp_cmd_ctx whose out/err are replaced per request. */
int csp_cli_control(void *ud, const char *body, size_t len, struct lx_dynbuf *out);

/* An HTTP POST to "unix:/path" or a numeric "ADDR:PORT" (the control socket, submit's
 * ingest endpoint): the status and the answer's body. */
int csp_cli_http_post(const char *where, const char *path, const char *body, size_t len,
		      int *status, struct lx_dynbuf *ans);

/* "--config FILE" / "--config=FILE" / "-c FILE" anywhere in argv, else the default. */
const char *csp_cli_config_path(int argc, char **argv);
int csp_cli_usage_error(FILE *err, const char *cmd, const char *msg);

#endif
