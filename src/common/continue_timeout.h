/* li707 common - the continue timeout of a Model B upload (TS 103 707 Annex C.3, R-BIN-B3).
 *
 * Annex C.3 recommends that the CSP's continue timeout (how long the POST waits for the
 * LEA's "100 Continue" before it sends the body anyway) be set according to the expiry of the
 * binaryData record (Table 8) and be long enough for the LEA to process the DeliveryObject
 * first. li707 waits until that expiry, but never longer than a configured maximum (an
 * expiry is typically days away). Used by `li707 post-binary` and meant for the CSP daemon. */
#ifndef LX_COMMON_CONTINUE_TIMEOUT_H
#define LX_COMMON_CONTINUE_TIMEOUT_H

#include <stdint.h>

/* Default maximum of the continue timeout, in milliseconds. */
#define LX_CONTINUE_TIMEOUT_MAX_MS_DEFAULT 30000L

/* The continue timeout for a record whose expiry is `expiry` (a TS 103 280
 * QualifiedDateTime or QualifiedMicrosecondDateTime, as in binaryData/expiry; NULL or "":
 * the record has none), at `now_epoch` seconds + `now_usec` microseconds (UTC):
 * min(expiry - now, max_ms), at least 1 ms; max_ms without an expiry.
 * Returns 0 and sets *out_ms; LI707_EINVAL for max_ms <= 0 or out_ms NULL (nothing set),
 * LI707_EINVALID for an expiry that is not a QualifiedDateTime, -ETIME when the expiry has
 * passed (the URL is no longer valid for the upload). */
int lx_continue_timeout_ms(const char *expiry, int64_t now_epoch, uint32_t now_usec,
			      long max_ms, long *out_ms);

#endif
