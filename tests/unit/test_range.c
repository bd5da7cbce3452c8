/* HTTP Range / If-Range (src/common/http_range.c), table-driven (TS103707 R-BIN-C1, R-BIN-C2). */
#include <stdio.h>
#include <string.h>

#include "http_range.h"
#include "testutil.h"

struct rcase {
	const char *hdr;
	uint64_t size;
	enum lx_range_verdict want;
	size_t n;           /* ranges expected when PARTIAL */
	uint64_t r[4][2];   /* first/last of the first ranges */
};

static const struct rcase rcases[] = {
	{"bytes=0-99", 1000, LX_RANGE_PARTIAL, 1, {{0, 99}}},
	{"bytes=100-", 1000, LX_RANGE_PARTIAL, 1, {{100, 999}}},
	{"bytes=-100", 1000, LX_RANGE_PARTIAL, 1, {{900, 999}}},
	{"bytes=-5000", 1000, LX_RANGE_PARTIAL, 1, {{0, 999}}},
	{"bytes=900-5000", 1000, LX_RANGE_PARTIAL, 1, {{900, 999}}},
	{"BYTES = 0-0", 1000, LX_RANGE_PARTIAL, 1, {{0, 0}}},
	{"bytes=0-9,20-29, 40-49", 1000, LX_RANGE_PARTIAL, 3, {{0, 9}, {20, 29}, {40, 49}}},
	{"bytes=0-9,,20-29", 1000, LX_RANGE_PARTIAL, 2, {{0, 9}, {20, 29}}},
	{"bytes=0-9,2000-3000", 1000, LX_RANGE_PARTIAL, 1, {{0, 9}}},
	{"bytes=999-999", 1000, LX_RANGE_PARTIAL, 1, {{999, 999}}},
	{"bytes=0-99999999999999999999999", 1000, LX_RANGE_PARTIAL, 1, {{0, 999}}},
	/* unsatisfiable: 416 */
	{"bytes=1000-", 1000, LX_RANGE_UNSATISFIABLE, 0, {{0}}},
	{"bytes=1000-2000,3000-", 1000, LX_RANGE_UNSATISFIABLE, 0, {{0}}},
	{"bytes=-0", 1000, LX_RANGE_UNSATISFIABLE, 0, {{0}}},
	{"bytes=0-", 0, LX_RANGE_UNSATISFIABLE, 0, {{0}}},
	{"bytes=99999999999999999999999-", 1000, LX_RANGE_UNSATISFIABLE, 0, {{0}}},
	/* syntax errors: ignored */
	{"bytes=", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=,", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=-", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=5-1", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=0-1,5-1", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=a-b", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=1-2x", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes 0-1", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"items=0-1", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=--1", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=+1-2", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	/* abusive: ignored */
	{"bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33",
	 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=0-999,0-999,0-999", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	{"bytes=500-599,0-9,100-109,50-59", 1000, LX_RANGE_IGNORE, 0, {{0}}},
	/* a little disorder is tolerated */
	{"bytes=500-599,0-9", 1000, LX_RANGE_PARTIAL, 2, {{500, 599}, {0, 9}}},
	{"bytes=0-9,5-14", 1000, LX_RANGE_PARTIAL, 2, {{0, 9}, {5, 14}}},
};

static void test_bin_c1_range_parse_table(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof rcases / sizeof rcases[0]; i++) {
		const struct rcase *c = &rcases[i];
		struct lx_range_set set = {.n = 999};
		enum lx_range_verdict v = lx_range_parse(c->hdr, c->size, LX_RANGE_MAX_DEFAULT, &set);
		if (v != c->want) {
			print_message("case %zu '%s' size %llu: expected %d, got %d\n", i, c->hdr,
				      (unsigned long long)c->size, c->want, v);
			bad++;
			continue;
		}
		if (v != LX_RANGE_PARTIAL)
			continue;
		if (set.n != c->n) {
			print_message("case %zu '%s': expected %zu ranges, got %zu\n", i, c->hdr, c->n, set.n);
			bad++;
			continue;
		}
		for (size_t k = 0; k < c->n && k < 4; k++) {
			if (set.v[k].first != c->r[k][0] || set.v[k].last != c->r[k][1]) {
				print_message("case %zu '%s' range %zu: expected %llu-%llu, got %llu-%llu\n", i,
					      c->hdr, k, (unsigned long long)c->r[k][0],
					      (unsigned long long)c->r[k][1],
					      (unsigned long long)set.v[k].first,
					      (unsigned long long)set.v[k].last);
				bad++;
			}
		}
	}
	assert_int_equal(bad, 0);
}

static void test_bin_c1_max_ranges_configurable(void **state)
{
	(void)state;
	struct lx_range_set set;
	assert_int_equal(lx_range_parse("bytes=0-1,2-3,4-5", 100, 2, &set), LX_RANGE_IGNORE);
	assert_int_equal(lx_range_parse("bytes=0-1,2-3,4-5", 100, 3, &set), LX_RANGE_PARTIAL);
	assert_int_equal(set.n, 3);
	assert_int_equal(set.total, 6);
	assert_int_equal(lx_range_parse(NULL, 100, 3, &set), LX_RANGE_IGNORE);
}

static void test_bin_c2_if_range(void **state)
{
	(void)state;
	time_t lm = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	static const struct {
		const char *v;
		bool want;
	} cases[] = {
		{"\"abc\"", true},
		{" \"abc\" ", true},
		{"\"abd\"", false},
		{"W/\"abc\"", false},
		{"\"abc", false},
		{"Sun, 06 Nov 1994 08:49:37 GMT", true},
		{"Sun, 06 Nov 1994 08:49:38 GMT", false},
		{"Mon, 06 Nov 1994 08:49:37 GMT", false},
		{"Sunday, 06-Nov-94 08:49:37 GMT", false},
		{"garbage", false},
		{"", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = lx_range_if_range(cases[i].v, "\"abc\"", lm);
		if (got != cases[i].want)
			print_message("If-Range '%s': expected %d got %d\n", cases[i].v, cases[i].want, got);
		assert_int_equal(got, cases[i].want);
	}
	assert_true(lx_range_if_range(NULL, "\"abc\"", lm));
	assert_false(lx_range_if_range("\"abc\"", NULL, lm));
}

static void test_http_date_roundtrip(void **state)
{
	(void)state;
	char buf[30];
	assert_int_equal(lx_http_date_format(784111777, buf), 0);
	assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	time_t t;
	assert_int_equal(lx_http_date_parse(buf, &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(lx_http_date_parse("Sun, 31 Feb 1994 08:49:37 GMT", &t), -1);
	assert_int_equal(lx_http_date_parse("Sun, 06 Nov 1994 24:49:37 GMT", &t), -1);
}

static void test_bin_c1_headers(void **state)
{
	(void)state;
	char buf[256];
	struct lx_range r = {10, 19};
	assert_int_equal(lx_range_content_range(buf, sizeof buf, &r, 100), 15);
	assert_string_equal(buf, "bytes 10-19/100");
	lx_range_content_range(buf, sizeof buf, NULL, 100);
	assert_string_equal(buf, "bytes */100");
	assert_int_equal(lx_range_content_range(buf, 5, &r, 100), -1);
	lx_range_part_header(buf, sizeof buf, "B", "text/plain", &r, true, 100);
	assert_string_equal(buf, "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-19/100\r\n\r\n");
	lx_range_part_header(buf, sizeof buf, "B", NULL, &r, false, 100);
	assert_string_equal(buf, "\r\n--B\r\nContent-Range: bytes 10-19/100\r\n\r\n");
	lx_range_part_header(buf, sizeof buf, "B", NULL, NULL, false, 100);
	assert_string_equal(buf, "\r\n--B--\r\n");
	struct lx_range_set set = {.v = {{0, 9}, {10, 19}}, .n = 2};
	uint64_t want = strlen("--B\r\nContent-Range: bytes 0-9/100\r\n\r\n") + 10 +
			strlen("\r\n--B\r\nContent-Range: bytes 10-19/100\r\n\r\n") + 10 +
			strlen("\r\n--B--\r\n");
	assert_int_equal(lx_range_multipart_length(&set, "B", NULL, 100), want);
	char b1[LX_RANGE_BOUNDARY_LEN + 1], b2[LX_RANGE_BOUNDARY_LEN + 1];
	assert_int_equal(lx_range_boundary(b1), 0);
	assert_int_equal(lx_range_boundary(b2), 0);
	assert_int_equal(strlen(b1), LX_RANGE_BOUNDARY_LEN);
	assert_string_not_equal(b1, b2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bin_c1_range_parse_table),
		cmocka_unit_test(test_bin_c1_max_ranges_configurable),
		cmocka_unit_test(test_bin_c2_if_range),
		cmocka_unit_test(test_http_date_roundtrip),
		cmocka_unit_test(test_bin_c1_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
