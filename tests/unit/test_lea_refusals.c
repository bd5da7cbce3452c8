/* li707-lea refused-connection counts (src/lea/lea_refusals.c): what the daemon writes to the
 * store directory is what `status` reads back; every reason has a distinct name; a file that
 * is not the daemon's is refused, not half-read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lea_refusals.h"
#include "li707/error.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/li707-refusals-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, LEA_REFUSALS_FILE);
	unlink(p);
	return rmdir(dir);
}

static void test_names_distinct(void **state)
{
	(void)state;
	for (int i = 0; i < LX_REFUSED_N; i++) {
		const char *a = lx_http_refusal_name((enum lx_http_refusal)i);
		assert_non_null(a);
		assert_string_not_equal(a, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a, lx_http_refusal_name((enum lx_http_refusal)j));
	}
	assert_string_equal(lx_http_refusal_name(LX_REFUSED_N), "unknown");
}

static void test_round_trip(void **state)
{
	(void)state;
	struct lea_refusals w = {.started = 1796468340};
	for (int i = 0; i < LX_REFUSED_N; i++)
		w.n[i] = (uint64_t)i * 1000003u + (i == 3 ? UINT64_MAX / 2 : 0);
	assert_int_equal(lea_refusals_write(dir, &w), 0);
	struct lea_refusals r;
	memset(&r, 0xee, sizeof r);
	assert_int_equal(lea_refusals_read(dir, &r), 0);
	assert_int_equal(r.started, w.started);
	assert_memory_equal(r.n, w.n, sizeof w.n);
	/* mode 0600: it sits next to the store */
	char p[128];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, LEA_REFUSALS_FILE);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_missing_and_foreign(void **state)
{
	(void)state;
	struct lea_refusals r = {.started = 7};
	assert_int_equal(lea_refusals_read(dir, &r), -ENOENT);
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, LEA_REFUSALS_FILE);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("no-cert 3\n", f); /* no "started" line */
	fclose(f);
	assert_int_equal(lea_refusals_read(dir, &r), LI707_EINPUT);
	f = fopen(p, "w");
	fputs("started 5\nno-cert three\n", f);
	fclose(f);
	assert_int_equal(lea_refusals_read(dir, &r), LI707_EINPUT);
	assert_int_equal(r.started, 7); /* untouched on error */
	f = fopen(p, "w");
	fputs("started 5\nfrom-a-newer-daemon 9\nno-cert 3\n", f);
	fclose(f);
	assert_int_equal(lea_refusals_read(dir, &r), 0);
	assert_int_equal(r.started, 5);
	assert_int_equal(r.n[LX_REFUSED_NO_CERT], 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_distinct),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_foreign, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
