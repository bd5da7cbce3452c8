/* li707 common - the continue timeout of a Model B upload (continue_timeout.h). */
#include "continue_timeout.h"

#include <errno.h>
#include <stdint.h>

#include "li707/li707.h"

int lx_continue_timeout_ms(const char *expiry, int64_t now_epoch, uint32_t now_usec,
			      long max_ms, long *out_ms)
{
	if (max_ms <= 0 || !out_ms)
		return LI707_EINVAL;
	if (!expiry || !*expiry) {
		*out_ms = max_ms;
		return 0;
	}
	struct li707_time t;
	if (!li707_parse_qualified_datetime(expiry, &t) &&
	    !li707_parse_qualified_usec_datetime(expiry, &t))
		return LI707_EINVALID;
	/* TS103707 R-BIN-B3: the timeout follows the record's expiry. Microseconds left (a
	 * clamp keeps the product in range). */
	if (now_epoch > t.epoch)
		return -ETIME;
	uint64_t d = (uint64_t)t.epoch - (uint64_t)now_epoch; /* no signed overflow */
	int64_t secs = d > INT64_MAX / 1000000 - 1 ? INT64_MAX / 1000000 - 1 : (int64_t)d;
	int64_t left_us = secs * 1000000 + (int64_t)t.usec - (int64_t)now_usec;
	if (left_us <= 0)
		return -ETIME;
	int64_t left_ms = left_us < 1000 ? 1 : left_us / 1000;
	*out_ms = left_ms < max_ms ? (long)left_ms : max_ms;
	return 0;
}
