/* li707-csp transfer table (src/csp/csp_xfer.c; issue 11: status shows transfers in progress
 * with bytes and rate): live bytes through the probe, the rate over the sample window and the
 * ETA, the finished list (newest first, the last CSP_XFER_KEEP), a full table, the per-LEA
 * byte counts for the metrics, the range text, and concurrent begin/end. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csp_xfer.h"
#include "testutil.h"

static int64_t clock_ms;

static int64_t fake_now(void *ud)
{
	(void)ud;
	return clock_ms;
}

struct fake {
	uint64_t bytes;
	const char *stage;
};

static uint64_t fake_probe(const void *src, const char **stage)
{
	const struct fake *f = src;
	*stage = f->stage;
	return f->bytes;
}

static uint64_t counted_push, counted_serve;

static void count(void *ud, enum csp_xfer_kind kind, const char *lea, uint64_t delta)
{
	(void)ud;
	assert_string_equal(lea, kind == CSP_XFER_PUSH ? "leaB" : "leaA");
	if (kind == CSP_XFER_PUSH)
		counted_push += delta;
	else
		counted_serve += delta;
}

static void test_xfer_progress_rate_eta(void **state)
{
	(void)state;
	clock_ms = 1000000;
	counted_push = counted_serve = 0;
	struct csp_xfer_table *t = NULL;
	assert_int_equal(csp_xfer_new(fake_now, NULL, &t), 0);
	csp_xfer_set_count(t, count, NULL);
	struct fake p = {0, "connecting"}, s = {0, "sending"};
	struct csp_xfer_start ps = {.kind = CSP_XFER_PUSH, .lea = "leaB", .object = 11, .size = 10000000,
				    .length = 10000000, .attempt = 2, .probe = fake_probe, .src = &p};
	struct csp_xfer_start ss = {.kind = CSP_XFER_SERVE, .lea = "leaA", .object = 12, .size = 5000,
				    .length = 1000, .range = "1000-1999", .probe = fake_probe, .src = &s};
	uint64_t pid = csp_xfer_begin(t, &ps);
	clock_ms += 10;
	uint64_t sid = csp_xfer_begin(t, &ss);
	assert_true(pid > 0 && sid > pid);
	assert_int_equal(csp_xfer_active(t, 0), 2);
	assert_int_equal(csp_xfer_active(t, CSP_XFER_PUSH), 1);

	struct csp_xfer_view v[CSP_XFER_ACTIVE_MAX + CSP_XFER_KEEP];
	assert_int_equal(csp_xfer_list(t, v, 10), 2);
	assert_int_equal(v[0].id, pid); /* oldest first */
	assert_string_equal(v[0].stage, "connecting");
	assert_int_equal(v[0].bytes, 0);
	assert_true(v[0].rate == 0);
	assert_int_equal(v[0].eta_s, -1);
	assert_int_equal(v[0].attempt, 2);
	assert_string_equal(v[0].lea, "leaB");
	assert_string_equal(v[1].range, "1000-1999");
	assert_int_equal(v[1].object, 12);

	/* 1 MB/s for 4 s, sampled every second: rate 1 MB/s, eta 6 s */
	p.stage = "sending";
	for (int i = 1; i <= 4; i++) {
		clock_ms += 1000;
		p.bytes = (uint64_t)i * 1000000;
		csp_xfer_sample(t);
	}
	assert_int_equal(counted_push, 4000000); /* counted as it moves */
	assert_int_equal(csp_xfer_list(t, v, 1), 1);
	assert_string_equal(v[0].stage, "sending");
	assert_int_equal(v[0].bytes, 4000000);
	assert_true(v[0].rate > 990000 && v[0].rate < 1010000);
	assert_int_equal(v[0].eta_s, 6);
	/* then it slows to 100 KB/s: after 6 more seconds the window (5 s) sees only that */
	for (int i = 1; i <= 6; i++) {
		clock_ms += 1000;
		p.bytes += 100000;
		csp_xfer_sample(t);
	}
	assert_int_equal(csp_xfer_list(t, v, 1), 1);
	assert_true(v[0].rate > 99000 && v[0].rate < 101000);
	assert_int_equal(v[0].eta_s, (10000000 - 4600000) / 100000);
	/* no sample for a while (no tick): the rate still comes from the newest sample */
	clock_ms += 20000;
	assert_int_equal(csp_xfer_list(t, v, 1), 1);
	assert_true(v[0].rate == 0);

	/* end: finished with its outcome, bytes and average rate; listed after the active */
	csp_xfer_end(t, pid, "stored", 10000000);
	assert_int_equal(counted_push, 10000000);
	s.bytes = 500;
	assert_int_equal(csp_xfer_list(t, v, 10), 2);
	assert_int_equal(v[0].id, sid);
	assert_false(v[0].finished);
	assert_int_equal(v[0].bytes, 500);
	assert_int_equal(v[1].id, pid);
	assert_true(v[1].finished);
	assert_string_equal(v[1].stage, "finished");
	assert_string_equal(v[1].outcome, "stored");
	assert_int_equal(v[1].bytes, 10000000);
	assert_true(v[1].elapsed_s > 29.9 && v[1].elapsed_s < 30.1);
	assert_int_equal(v[1].eta_s, -1);
	csp_xfer_end(t, sid, "partial", 700);
	assert_int_equal(counted_serve, 700);
	assert_int_equal(csp_xfer_active(t, 0), 0);
	csp_xfer_end(t, sid, "served", 1000); /* twice: ignored */
	csp_xfer_end(t, 0, "served", 1000);   /* untracked: ignored */
	assert_int_equal(csp_xfer_list(t, v, 10), 2);
	assert_string_equal(v[0].outcome, "partial");
	csp_xfer_free(t);
}

static void test_xfer_keeps_last_finished_and_full_table(void **state)
{
	(void)state;
	clock_ms = 0;
	struct csp_xfer_table *t = NULL;
	assert_int_equal(csp_xfer_new(fake_now, NULL, &t), 0);
	struct csp_xfer_start st = {.kind = CSP_XFER_SERVE, .lea = "leaA", .length = 10};
	for (int i = 1; i <= CSP_XFER_KEEP + 5; i++) {
		st.object = i;
		uint64_t id = csp_xfer_begin(t, &st);
		assert_true(id > 0);
		csp_xfer_end(t, id, "served", 10); /* no probe: bytes from the end */
	}
	struct csp_xfer_view *v = calloc(CSP_XFER_ACTIVE_MAX + CSP_XFER_KEEP, sizeof *v);
	assert_non_null(v);
	assert_int_equal(csp_xfer_list(t, v, CSP_XFER_ACTIVE_MAX + CSP_XFER_KEEP), CSP_XFER_KEEP);
	for (int i = 0; i < CSP_XFER_KEEP; i++)
		assert_int_equal(v[i].object, CSP_XFER_KEEP + 5 - i); /* newest first */
	/* full: the next one runs untracked (id 0), counted */
	uint64_t ids[CSP_XFER_ACTIVE_MAX];
	for (int i = 0; i < CSP_XFER_ACTIVE_MAX; i++)
		assert_true((ids[i] = csp_xfer_begin(t, &st)) > 0);
	assert_int_equal(csp_xfer_begin(t, &st), 0);
	assert_int_equal(csp_xfer_untracked(t), 1);
	assert_int_equal(csp_xfer_list(t, v, CSP_XFER_ACTIVE_MAX + CSP_XFER_KEEP),
			 CSP_XFER_ACTIVE_MAX + CSP_XFER_KEEP);
	csp_xfer_end(t, ids[7], "served", 10);
	assert_true(csp_xfer_begin(t, &st) > 0); /* room again */
	free(v);
	csp_xfer_free(t);
	/* NULL table: no-ops */
	assert_int_equal(csp_xfer_begin(NULL, &st), 0);
	csp_xfer_end(NULL, 1, "x", 0);
	csp_xfer_sample(NULL);
}

static void test_xfer_range_text(void **state)
{
	(void)state;
	char out[CSP_XFER_RANGE_MAX + 1];
	csp_xfer_range_text(NULL, 0, out);
	assert_string_equal(out, "whole");
	uint64_t one[1][2] = {{1000, 1999}};
	csp_xfer_range_text((const uint64_t(*)[2])one, 1, out);
	assert_string_equal(out, "1000-1999");
	uint64_t two[2][2] = {{0, 9}, {100, 199}};
	csp_xfer_range_text((const uint64_t(*)[2])two, 2, out);
	assert_string_equal(out, "0-9,100-199");
	/* 16 ranges of large offsets: the first ones that fit, then ",+N" for the rest */
	uint64_t many[16][2];
	for (int i = 0; i < 16; i++)
		many[i][0] = 1000000000000ull + (uint64_t)i * 1000, many[i][1] = many[i][0] + 99;
	csp_xfer_range_text((const uint64_t(*)[2])many, 16, out);
	assert_true(strlen(out) <= CSP_XFER_RANGE_MAX);
	assert_true(strncmp(out, "1000000000000-1000000000099,1000000001000-", 42) == 0);
	const char *plus = strrchr(out, '+');
	assert_non_null(plus);
	int shown = 1;
	for (const char *c = out; c < plus; c++)
		shown += *c == ',';
	shown -= 1; /* the comma before '+' */
	assert_int_equal(shown + atoi(plus + 1), 16);
	assert_int_equal(strspn(out, "0123456789,+-"), strlen(out));
}

struct race {
	struct csp_xfer_table *t;
	atomic_int bad;
};

static void *churn(void *p)
{
	struct race *r = p;
	struct fake f = {5, "sending"};
	struct csp_xfer_start st = {.kind = CSP_XFER_SERVE, .lea = "leaA", .length = 10,
				    .probe = fake_probe, .src = &f};
	for (int i = 0; i < 2000; i++) {
		uint64_t id = csp_xfer_begin(r->t, &st);
		if (!id)
			atomic_fetch_add(&r->bad, 1);
		csp_xfer_end(r->t, id, "served", 10);
	}
	return NULL;
}

static void *reader(void *p)
{
	struct race *r = p;
	struct csp_xfer_view *v = calloc(CSP_XFER_ACTIVE_MAX + CSP_XFER_KEEP, sizeof *v);
	for (int i = 0; v && i < 300; i++) {
		size_t n = csp_xfer_list(r->t, v, CSP_XFER_ACTIVE_MAX + CSP_XFER_KEEP);
		for (size_t k = 0; k < n; k++)
			if (strcmp(v[k].lea, "leaA") != 0)
				atomic_fetch_add(&r->bad, 1);
		csp_xfer_sample(r->t);
	}
	free(v);
	return NULL;
}

/* Four threads begin and end while two list and sample: nothing lost, nothing torn. */
static void test_xfer_concurrent(void **state)
{
	(void)state;
	struct race r = {0};
	assert_int_equal(csp_xfer_new(NULL, NULL, &r.t), 0);
	pthread_t th[6];
	for (int i = 0; i < 6; i++)
		assert_int_equal(pthread_create(&th[i], NULL, i < 4 ? churn : reader, &r), 0);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&r.bad), 0);
	assert_int_equal(csp_xfer_active(r.t, 0), 0);
	csp_xfer_free(r.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xfer_progress_rate_eta),
		cmocka_unit_test(test_xfer_keeps_last_finished_and_full_table),
		cmocka_unit_test(test_xfer_range_text),
		cmocka_unit_test(test_xfer_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
