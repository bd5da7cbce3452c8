/* li707-csp - ingest: events (docs/events.md JSON Lines) into the durable queue, attachments
 * into the spool, through `li707-csp submit` and the ingest_listen endpoints (csp_ingest.c).
 *
 * One request (a buffer of JSON Lines) is one store job: its lines are parsed, their
 * attachments taken into the spool (hard link on the same file system, else a copy; fsync'd;
 * measured and SHA-256'd once), then every line is queued in one transaction and each gets
 * its own result: accepted with its queue id, or an error naming the line and the field.
 * Nothing is acknowledged before the commit is fsync'd. */
#ifndef LI707_CSP_INGEST_H
#define LI707_CSP_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csp.h"
#include "csp_store.h"
#include "dynbuf.h"

#define CSP_INGEST_PATH "/events"         /* POST JSON Lines here */
#define CSP_INGEST_CONNECTIONS 64         /* concurrent connections per daemon */
#define CSP_INGEST_HEADER_MAX 16384       /* request line + headers */
#define CSP_INGEST_TIMEOUT_S 30           /* idle socket timeout */

struct lx_metric;
struct csp_ingest;

/* Creates the ingest of configuration c (borrowed: it must outlive the ingest) on store s:
 * resolves attachment_dirs (realpath) and creates the spool's object directories. */
int csp_ingest_new(const struct csp_config *c, struct csp_store *s, struct csp_ingest **out,
		   char *err, size_t errlen);
void csp_ingest_free(struct csp_ingest *g);
/* Where each request reads the configuration in force (the daemon: the current generation,
 * so a SIGHUP applies to the next request); without it, the one given to csp_ingest_new.
 * acquire returns the configuration and a token handed to release when the request ends. */
void csp_ingest_set_config_source(struct csp_ingest *g,
				  const struct csp_config *(*acquire)(void *ud, void **tok),
				  void (*release)(void *tok), void *ud);
/* Counters moved per line (may be NULL). */
void csp_ingest_set_metrics(struct csp_ingest *g, struct lx_metric *accepted,
			    struct lx_metric *refused);
/* csp-wire-deliver: called after a commit that accepted events (the packager's wake-up). */
void csp_ingest_set_on_commit(struct csp_ingest *g, void (*fn)(void *ud), void *ud);

struct csp_ingest_stats {
	size_t lines, accepted, refused;
	bool store_failed;              /* the commit failed: nothing was accepted */
};

/* Ingests the JSON Lines of buf (len bytes; blank lines skipped) and appends one JSON Lines
 * result per non-blank line to out: {"line":N,"status":"accepted","id":Q} or
 * {"line":N,"status":"refused","error":"FIELD: message"}. first_line numbers the first line
 * of buf. Returns 0 (results written; st says what happened), or an error writing out. */
int csp_ingest_lines(struct csp_ingest *g, const char *buf, size_t len, long first_line,
		     struct lx_dynbuf *out, struct csp_ingest_stats *st);

/* ---- the endpoint ---- */

struct csp_ingest_server;

/* Opens every ingest_listen of c ("unix:/path": a socket file, mode 0660, a stale one
 * replaced; loopback ADDR:PORT) and serves POST /events on each (plain HTTP/1.1,
 * Content-Length bodies of at most max_request_bytes, one request per connection). Logs
 * "ingest on ..." per listener. */
int csp_ingest_serve(struct csp_ingest *g, const struct csp_config *c,
		     struct csp_ingest_server **out, char *err, size_t errlen);
/* ---- the control socket (SPOOL/control.sock, mode 0600) ----
 * The CLI's store commands reach the running daemon (which holds the store's only writer)
 * through it: POST /control, the body and the answer are JSON (csp_cli.c). */
#define CSP_CONTROL_PATH "/control"
#define CSP_CONTROL_SOCKET "control.sock"
/* Returns the HTTP status and writes the answer to out. */
typedef int (*csp_local_handler)(void *ud, const char *body, size_t len, struct lx_dynbuf *out);
int csp_control_serve(const char *path, csp_local_handler h, void *ud,
		      struct csp_ingest_server **out, char *err, size_t errlen);

/* The TCP port of listener i (0 for a Unix socket), for tests using port 0. */
int csp_ingest_server_port(const struct csp_ingest_server *s, size_t i);
/* Stops accepting, finishes the requests in progress, closes and unlinks the sockets. */
void csp_ingest_server_stop(struct csp_ingest_server *s);

#endif
