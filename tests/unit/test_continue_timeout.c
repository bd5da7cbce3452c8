/* Unit tests of lx_continue_timeout_ms (src/common/continue_timeout.c): the continue
 * timeout of a Model B upload follows the binaryData record's expiry, bounded by a maximum
 * (TS 103 707 Annex C.3, R-BIN-B3). Table-driven; "now" is fixed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "continue_timeout.h"
#include "testutil.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static const struct {
	const char *name, *expiry;
	uint32_t now_usec;
	long max_ms;
	int rc;
	long want_ms;
} cases[] = {
	{"no expiry: the maximum", NULL, 0, 30000, 0, 30000},
	{"empty expiry: the maximum", "", 0, 5000, 0, 5000},
	{"expiry 2 s away, max 30 s: 2 s", "2026-01-01T00:00:02Z", 0, 30000, 0, 2000},
	{"expiry 7 days away: bounded by the maximum", "2026-01-08T00:00:00Z", 0, 30000, 0, 30000},
	{"offset form: same instant as 00:00:10Z", "2026-01-01T01:00:10+01:00", 0, 60000, 0, 10000},
	{"microsecond form", "2026-01-01T00:00:01.250000Z", 0, 30000, 0, 1250},
	{"now has microseconds", "2026-01-01T00:00:01Z", 400000, 30000, 0, 600},
	{"less than 1 ms left: 1 ms", "2026-01-01T00:00:01Z", 999500, 30000, 0, 1},
	{"expiry now: passed", "2026-01-01T00:00:00Z", 0, 30000, -ETIME, -1},
	{"expiry in the past: passed", "2025-12-31T23:59:59Z", 0, 30000, -ETIME, -1},
	{"far future: the maximum", "9999-12-31T23:59:59Z", 0, 30000, 0, 30000},
	{"not a QualifiedDateTime (no offset)", "2026-01-02T00:00:00", 0, 30000, LI707_EINVALID, -1},
	{"not a date", "tomorrow", 0, 30000, LI707_EINVALID, -1},
	{"max 0 is a caller error", "2026-01-01T00:00:02Z", 0, 0, LI707_EINVAL, -1},
};

static void test_bin_b3_continue_timeout_follows_expiry(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long got = -1;
		int rc = lx_continue_timeout_ms(cases[i].expiry, NOW, cases[i].now_usec,
						   cases[i].max_ms, &got);
		if (rc != cases[i].rc || got != cases[i].want_ms)
			print_error("%s: got rc %d, %ld ms; expected rc %d, %ld ms\n", cases[i].name,
				    rc, got, cases[i].rc, cases[i].want_ms);
		assert_int_equal(rc, cases[i].rc);
		assert_int_equal(got, cases[i].want_ms); /* -1: nothing written on failure */
	}
}

static void test_bin_b3_continue_timeout_extreme_now(void **state)
{
	(void)state;
	long got = -1;
	assert_int_equal(lx_continue_timeout_ms("2026-01-01T00:00:02Z", INT64_MAX, 0, 1000, &got),
			 -ETIME);
	assert_int_equal(lx_continue_timeout_ms("2026-01-01T00:00:02Z", INT64_MIN, 0, 1000, &got),
			 0);
	assert_int_equal(got, 1000);
	assert_int_equal(lx_continue_timeout_ms(NULL, NOW, 0, 1000, NULL), LI707_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bin_b3_continue_timeout_follows_expiry),
		cmocka_unit_test(test_bin_b3_continue_timeout_extreme_now),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
