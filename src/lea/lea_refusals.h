/* li707-lea - refused connections by reason, shared between the daemon (writes) and
 * `li707-lea status` (reads) through a small file in the store directory.
 *
 * The daemon counts refusals in the HTTPS server (lx_http_server_stats) and writes the
 * counts to DIR/refused-connections when they changed, at most once a second and at stop
 * (write to a temporary file, then rename: a reader never sees half a file). The counts are
 * since the daemon's start. One line per reason, "NAME COUNT", after a "started TIME" line.
 * The same struct will feed a metrics endpoint. */
#ifndef LI707_LEA_REFUSALS_H
#define LI707_LEA_REFUSALS_H

#include <stdint.h>
#include <time.h>

#include "http_server.h"

#define LEA_REFUSALS_FILE "refused-connections"

struct lea_refusals {
	time_t started;                   /* the daemon's start (UTC seconds) */
	uint64_t n[LX_REFUSED_N];      /* by enum lx_http_refusal */
};

/* Writes r to DIR/refused-connections (mode 0600), atomically. 0 or -errno. */
int lea_refusals_write(const char *dir, const struct lea_refusals *r);
/* Reads DIR/refused-connections into *r. 0; -ENOENT when there is none (no daemon has run
 * with this store since this version); LI707_EINPUT when it is not what the daemon writes.
 * Unknown reason names are skipped (a newer daemon). */
int lea_refusals_read(const char *dir, struct lea_refusals *r);

#endif
