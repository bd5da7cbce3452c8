/* libFuzzer target: Range and If-Range parsers (src/common/http_range.c). Input: one byte
 * selecting the resource size class, then the header text. Checks the invariants the
 * server relies on: every range inside the resource, total within twice its size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const uint64_t sizes[] = {0, 1, 100, 1000, 1u << 30, UINT64_MAX / 4};
	uint64_t rsize = sizes[data[0] % 6];
	char *s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	struct lx_range_set set;
	enum lx_range_verdict v = lx_range_parse(s, rsize, LX_RANGE_MAX_DEFAULT, &set);
	if (v == LX_RANGE_PARTIAL) {
		uint64_t total = 0;
		if (set.n == 0 || set.n > LX_RANGE_MAX_DEFAULT)
			abort();
		for (size_t i = 0; i < set.n; i++) {
			if (set.v[i].first > set.v[i].last || set.v[i].last >= rsize)
				abort();
			total += set.v[i].last - set.v[i].first + 1;
		}
		if (total != set.total || total > 2 * rsize)
			abort();
		char buf[512];
		if (lx_range_content_range(buf, sizeof buf, &set.v[0], rsize) < 0)
			abort();
		(void)lx_range_multipart_length(&set, "0123456789abcdef0123456789abcdef", "a/b", rsize);
	}
	(void)lx_range_if_range(s, "\"1-2-3\"", 784111777);
	time_t t;
	(void)lx_http_date_parse(s, &t);
	free(s);
	return 0;
}
