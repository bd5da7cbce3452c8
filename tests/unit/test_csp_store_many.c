/* The li707-csp store over a daemon's lifetime: many write jobs one after another. Every
 * ingest and every packing runs statements prepared on the writer connection; they must be
 * prepared once and reused, not prepared again per job until the engine's statement limit
 * refuses every further event ("input exceeds a configured limit" after ~250 events). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "csp_store.h"

#define NOW 1800000000
#define JOBS 3000 /* > LX_STMTS_MAX (1024) write jobs */

static void test_many_ingest_jobs(void **state)
{
	(void)state;
	char dir[64];
	snprintf(dir, sizeof dir, "/tmp/csp-store-many-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char err[256] = "";
	struct csp_store_opts o = {.spool = dir, .sync_normal = true};
	struct csp_store *s = NULL;
	assert_int_equal(csp_store_open(&o, &s, err, sizeof err), 0);
	struct csp_ref r = {.kind = LI707_REF_LIID, .ref = "LIID-MANY", .lea = "bka"};
	int64_t ref = 0;
	assert_int_equal(csp_store_ref_add(s, &r, NOW, &ref), 0);
	int64_t last = 0;
	for (int i = 0; i < JOBS; i++) {
		/* one event per job, half of them in a conversation (more statements) */
		struct csp_event_in in = {.kind = LI707_REF_LIID, .ref = "LIID-MANY", .json = "{}",
					  .json_len = 2, .conversation = i % 2 ? "conv" : NULL};
		struct csp_event_out out = {0};
		int rc = csp_store_ingest(s, &in, 1, NOW, &out);
		if (rc || out.rc)
			print_error("job %d: %s / %s\n", i, li707_strerror(rc), out.err);
		assert_int_equal(rc, 0);
		assert_int_equal(out.rc, 0);
		assert_true(out.id > last);
		last = out.id;
	}
	struct csp_store_counts c;
	assert_int_equal(csp_store_counts(s, &c), 0);
	assert_int_equal(c.n_leas, 1);
	assert_int_equal(c.leas[0].events_queued, JOBS);
	csp_store_counts_clear(&c);
	csp_store_close(s);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_ingest_jobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
