/* li707-csp - deliveries end to end: the packager (queued events -> DeliveryObjects) and one
 * csp_deliver engine per [lea NAME] on the store, with the audit log of their outcomes.
 * docs/internals/csp-delivery.md ("Wiring") describes it.
 *
 * The daemon starts it after the store (csp_rd_start), wakes it when ingest commits
 * (csp_rd_wake), ticks it once a second (batch_wait), reloads it on SIGHUP (csp_rd_reload:
 * a changed [lea] restarts its engine, an added one starts, a removed one stops; deliveries
 * in flight are finished or given back as ready, never lost) and stops it first
 * (csp_rd_stop). The operator's commands reach it through struct csp_cmd_ctx's hooks
 * (csp_cli.h): csp_rd_notify after a transition, csp_rd_live for status. */
#ifndef LI707_CSP_RUN_DELIVER_H
#define LI707_CSP_RUN_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csp.h"
#include "csp_cli.h"
#include "csp_store.h"

#define CSP_AUDIT_FILE "audit.log" /* in the spool */

struct lx_metrics;
struct csp_rd;

/* Where the configuration in force comes from (the daemon's generations). */
struct csp_rd_cfg_source {
	const struct csp_config *(*acquire)(void *ud, void **tok);
	void (*release)(void *tok);
	void *ud;
};

/* Opens SPOOL/audit.log (a torn tail is cut and recorded), starts the packager thread and
 * one engine per [lea]. Metric families are registered on reg (may be NULL). */
int csp_rd_start(struct csp_store *s, const struct csp_config *c,
		 const struct csp_rd_cfg_source *src, struct lx_metrics *reg, struct csp_rd **out,
		 char *err, size_t errlen);
/* Events were committed, or a delivery became ready: package and send now. NULL: no-op. */
void csp_rd_wake(struct csp_rd *r);
/* Once a second: packaging of references whose batch_wait has passed. */
void csp_rd_tick(struct csp_rd *r);
/* SIGHUP: c is the new configuration (in force from now). */
void csp_rd_reload(struct csp_rd *r, const struct csp_config *c);
/* Engines first (drain: in flight finished or given back), then the packager, the audit log. */
void csp_rd_stop(struct csp_rd *r);
/* The audit log (csp-wire-binary: Model B push records go to the same chain), or NULL. */
struct csp_audit *csp_rd_audit(struct csp_rd *r);
/* Sets the per-LEA metric values (call from the metrics collector). */
void csp_rd_collect(struct csp_rd *r);

/* struct csp_cmd_ctx hooks; ud is the struct csp_rd (daemon) or NULL (the CLI's own
 * process: the audit log is opened for the record). */
void csp_rd_notify(void *ud, struct csp_cmd_ctx *x, enum csp_cmd_event ev, int64_t id);
int csp_rd_live(void *ud, const char *lea, struct csp_lea_live *out);

/* `ref close`: the queued events are packaged (the final DeliveryObject with LastSequence
 * true) around the store's close, so that the identifier, gone from the store after the
 * close, is still at hand for them. Same results as csp_store_ref_close. */
int csp_rd_ref_close(struct csp_store *s, const struct csp_config *c, const char *ref,
		     int64_t now, int64_t *id_out);

#endif
