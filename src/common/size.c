/* li707 common - sizes written by people (size.h). */
#include "size.h"

#include <stddef.h>

bool lx_parse_size(const char *s, uint64_t *out)
{
	if (!s || !out || *s < '0' || *s > '9')
		return false;
	uint64_t v = 0;
	size_t n = 0;
	for (; s[n] >= '0' && s[n] <= '9'; n++) {
		unsigned d = (unsigned)(s[n] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	unsigned shift = 0;
	switch (s[n]) {
	case '\0': break;
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	default: return false;
	}
	if (shift && (s[n + 1] != '\0' || v > (UINT64_MAX >> shift)))
		return false;
	*out = v << shift;
	return true;
}
