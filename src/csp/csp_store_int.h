/* li707-csp - what the store's files share (csp_store.c: open, schema, jobs, writes;
 * csp_store_read.c: reads on the engine's read connections). */
#ifndef LI707_CSP_STORE_INT_H
#define LI707_CSP_STORE_INT_H

#include <sqlite3.h>

#include "csp_store.h"
#include "sqlite_engine.h"

struct csp_store {
	struct lx_engine *eng;
	sqlite3 *wdb;
	char *spool;
	char dbpath[4200];
	bool read_only;
};

/* Runs sql (a read) on a pooled read connection: prepare, bind fmt (lx_sq_bind), call row
 * for each row (nonzero stops and is returned). */
int csp__read(struct csp_store *s, const char *sql, int (*row)(void *ud, sqlite3_stmt *st),
	      void *ud, const char *fmt, ...);

char *csp__dup(const char *s); /* strdup of NULL is NULL */
void csp__delivery_from_row(sqlite3_stmt *st, struct csp_delivery *d, bool with_xml);

#define CSP__DELIVERY_COLS                                                                  \
	"d.id, d.lea, d.ref_id, d.seq, d.last, d.object_id, d.items, d.bytes, d.state,"  \
	" d.attempts, d.next_try, d.last_error, d.created_at, d.updated_at, d.xml"

#endif
