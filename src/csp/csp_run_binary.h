/* li707-csp - binary content in the daemon (wave 2): the Model A/C file server on
 * files_listen / files_listen_psk (csp_files over the store), the Model B push engine (one
 * thread and one lx_http_client per LEA with Model B, apart from the deliveries' client,
 * R-BIN-2) and the retention sweep of the spool. docs/internals/csp-files.md, csp-push.md.
 *
 * URLs: an A/C object is served at files_url + token (files_url ends in '/'; the token is
 * csp_files' 22 base64url characters, given at ingest); the server answers the path
 * `/<P>/<token>`, P being the last path segment of files_url ("https://csp.example/o/" ->
 * /o/TOKEN; a reverse proxy may map another public path to it). B objects get the LEA's
 * scheme (modelb_url) with their UUID. */
#ifndef LI707_CSP_RUN_BINARY_H
#define LI707_CSP_RUN_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "csp.h"
#include "csp_store.h"
#include "li707/li707.h"

struct csp_audit;
struct lx_metrics;
struct csp_binary;
struct csp_xfer_table;

/* Starts what c asks for: the file server when files_listen or files_listen_psk is set, a
 * push thread per [lea] with Model B and a modelb_url. c (its peers and TLS policy) must
 * outlive the engine (the daemon keeps a reference on its generation). audit and reg may be
 * NULL. 0, or an error with a message in err (nothing left running). */
int csp_binary_start(const struct csp_config *c, struct csp_store *s, struct csp_audit *audit,
		     struct lx_metrics *reg, struct csp_binary **out, char *err, size_t errlen);
/* Once a second from the daemon's tick: the retention sweep (objects past expiry +
 * retention: files removed, rows marked removed) and the counters into the metrics. */
void csp_binary_tick(struct csp_binary *b);
/* Stops the push threads (a push in flight is abandoned: its object stays due and is pushed
 * again after the restart, which the LEA answers idempotently), drains the file server.
 * NULL is a no-op. */
void csp_binary_stop(struct csp_binary *b);

/* SIGHUP, in two steps around the daemon's swap of generations.
 * prepare (before): what can fail is done now and taken back on failure: the new files_url's
 * handler; the file server's added files_listen / files_listen_psk addresses bound (before the
 * old ones close); its certificate, key, CA and TLS policy reloaded on the open sockets
 * (lx_server_reload_tls, as li707-lea); a copy of the LEAs' identities; or a whole server when
 * none ran. On failure one error line is logged ("reload: ...; keeping the running
 * configuration") and nothing changed: the caller drops the reload.
 * apply (after): the new identities (lx_http_server_set_peers: the next request of an open
 * connection too), the new handler, the addresses no longer configured closed (their open
 * connections finish), the server stopped when no address is left; retention from n; then
 * per [lea] the push engine: the same fingerprint (push_fp: modelb_url, CA, client
 * certificate/key and their files' mtime and size, PSK, expect_timeout, connections,
 * retry_min/max, TLS policy) keeps running, a changed one is stopped and started again, a
 * removed one (or one without Model B) stops, an added one starts. A push cut by a restart
 * is recorded as a retry (audited) and sent again from its first byte after the backoff.
 * n must outlive b (the daemon holds a reference to its generation). */
int csp_binary_reload_prepare(struct csp_binary *b, const struct csp_config *n);
void csp_binary_reload_apply(struct csp_binary *b, const struct csp_config *n);

/* Totals for status. */
struct csp_binary_stats {
	uint64_t served, served_bytes, refused, pushes_active, pushed, push_retries,
		push_failed, removed;
};
void csp_binary_stats(const struct csp_binary *b, struct csp_binary_stats *st);
/* The table of transfers in progress (pushes and served answers, csp_xfer.h), or NULL. Lives
 * until csp_binary_stop. */
struct csp_xfer_table *csp_binary_transfers(struct csp_binary *b);

/* The server path segment of files_url (see above) into out. 0 or LI707_EINVAL/ELIMIT. */
int csp_binary_prefix(const char *files_url, char *out, size_t n);
/* The URL of object o: A/C from files_url and its token, B from the LEA's modelb_url.
 * 0; LI707_EINVAL (no files_url / modelb_url, a bad token); LI707_ELIMIT. */
int csp_binary_object_url(const struct csp_config *c, const struct csp_object *o, char *out,
			  size_t n);

#endif
