/* Unit tests of src/lib/util.c: value checks (tables of valid and invalid values), time
 * parsing/formatting, UUIDs, SHA-256, and the string helpers. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct check_case {
	const char *s;
	bool ok;
};

typedef bool (*check_fn)(const char *);

/* Runs a table; prints every case that disagrees, then fails if any did. */
static void run_table(const char *what, check_fn fn, const struct check_case *t, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		bool got = fn(t[i].s);
		if (got != t[i].ok) {
			print_error("%s(\"%s\"): expected %s, got %s\n", what,
				    t[i].s ? t[i].s : "(null)", t[i].ok ? "valid" : "invalid",
				    got ? "valid" : "invalid");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

#define RUN(fn, table) run_table(#fn, fn, table, sizeof(table) / sizeof(table[0]))

/* ---- identifiers ---- */

static void test_core_uuid_form(void **state)
{
	static const struct check_case t[] = {
		{"123e4567-e89b-42d3-a456-426614174000", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"123E4567-e89b-42d3-a456-426614174000", false}, /* upper case: TS 103 280 */
		{"123e4567e89b42d3a456426614174000", false},
		{"123e4567-e89b-42d3-a456-42661417400", false},
		{"123e4567-e89b-42d3-a456-4266141740000", false},
		{"123e4567-e89b-42d3-a456_426614174000", false},
		{"{123e4567-e89b-42d3-a456-426614174000}", false},
		{"123e4567-e89b-42d3-a456-42661417400g", false},
		{" 123e4567-e89b-42d3-a456-426614174000", false},
		{"", false},
		{NULL, false},
	};
	RUN(li707_check_uuid, t);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_core_uuid_new(void **state)
{
	enum { N = 1000 };
	char (*v)[37] = calloc(N, 37);
	assert_non_null(v);
	for (int i = 0; i < N; i++) {
		assert_int_equal(li707_uuid_new(v[i]), 0);
		if (!li707_check_uuid(v[i]))
			fail_msg("uuid_new produced \"%s\"", v[i]);
		if (v[i][14] != '4')
			fail_msg("version nibble of \"%s\" is %c, expected 4", v[i], v[i][14]);
		if (!strchr("89ab", v[i][19]))
			fail_msg("variant nibble of \"%s\" is %c, expected 8/9/a/b", v[i], v[i][19]);
	}
	qsort(v, N, 37, cmp_str);
	for (int i = 1; i < N; i++)
		if (strcmp(v[i - 1], v[i]) == 0)
			fail_msg("duplicate uuid \"%s\"", v[i]);
	free(v);
}

static void test_del3_country_codes(void **state)
{
	static const struct check_case t[] = {
		{"GB", true}, {"FR", true}, {"DE", true}, {"US", true}, {"AD", true},
		{"ZW", true}, {"AX", true}, {"SS", true}, {"BQ", true}, {"CW", true},
		{"XX", true}, /* TS 103 707 Table 1 "not given" (user-assigned) */
		{"AA", true}, {"QM", true}, {"QZ", true}, {"XA", true}, {"XZ", true}, {"ZZ", true},
		{"QL", false}, {"QA", true}, {"AB", false}, {"ZY", false}, {"UK", false},
		{"EU", false}, {"YU", false}, {"gb", false}, {"Gb", false}, {"G", false},
		{"GBR", false}, {"", false}, {"G1", false}, {NULL, false},
	};
	RUN(li707_check_country, t);
}

static void test_del3_country_table_complete(void **state)
{
	/* Every pair of letters: 249 assigned + 1 (AA) + 14 (QM-QZ) + 26 (X?) + 1 (ZZ) */
	int n = 0;
	char cc[3] = {0};
	for (cc[0] = 'A'; cc[0] <= 'Z'; cc[0]++)
		for (cc[1] = 'A'; cc[1] <= 'Z'; cc[1]++)
			n += li707_check_country(cc);
	assert_int_equal(n, 249 + 1 + 14 + 26 + 1);
}

static void test_del5_liid(void **state)
{
	static const struct check_case t[] = {
		{"L", true},
		{"LIID-0001", true},
		{"!~", true},
		{"ABCDEFGHIJKLMNOPQRSTUVWXY", true},   /* 25 printable */
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", false}, /* 26, not lower-case hex */
		{"0123456789abcdef0123456789", true},  /* 26 lower hex */
		{"0123456789abcdef0123456789abcdef0123456789abcdef01", true}, /* 50 */
		{"0123456789abcdef0123456789abcdef0123456789abcdef012", false}, /* 51 */
		{"0123456789ABCDEF0123456789", false},
		{"has space", false},
		{"tab\there", false},
		{"caf\xc3\xa9", false},
		{"", false},
		{NULL, false},
	};
	RUN(li707_check_liid, t);
}

static void test_del5_ldid(void **state)
{
	static const struct check_case t[] = {
		{"GB-csp-1", true},
		{"XX-a-b", true},
		{"FR-a-b-c", true},
		{"GB-a--", true},
		{"GB--a-b", true}, /* first ".+" is "-a" */
		{"GB-ab", false},
		{"GB-a-", false},
		{"GB--a", false},
		{"GB-", false},
		{"gb-a-b", false},
		{"UK-a-b", false}, /* not an ISO code */
		{"GBR-a-b", false},
		{"GB-a\n-b", false},
		{"GB-a-b\r", false},
		{"", false},
		{NULL, false},
	};
	RUN(li707_check_ldid, t);
}

static void test_del3_etsi_version(void **state)
{
	static const struct check_case t[] = {
		{"V1.12.1", true}, {"V1.9.1", true}, {"V0.0.0", true}, {"V123456789.1.1", true},
		{"V1234567890.1.1", false}, {"v1.12.1", false}, {"1.12.1", false},
		{"V1.12", false}, {"V1.12.1.", false}, {"V1..1", false}, {"V1.12.1 ", false},
		{"V1.a.1", false}, {"V", false}, {"", false}, {NULL, false},
	};
	RUN(li707_check_etsi_version, t);
}

static void test_core5_checksum_hex(void **state)
{
	static const struct check_case t[] = {
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", true},
		{"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", true},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", false},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555", false},
		{"g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false},
		{"", false},
		{NULL, false},
	};
	RUN(li707_check_sha256_hex, t);
}

static void test_core5_mime_type(void **state)
{
	static const struct check_case t[] = {
		{"image/jpeg", true},
		{"application/octet-stream", true},
		{"application/vnd.etsi.li+xml", true},
		{"text/plain;charset=utf-8", true},
		{"text/plain; charset=utf-8", true},
		{"text/plain ; charset=\"utf-8\"", true},
		{"text/plain;a=b;c=d", true},
		{"text/plain;a=\"q\\\"uote\"", true},
		{"x-a/y!#$&-^_.+", true},
		{"image", false},
		{"image/", false},
		{"/jpeg", false},
		{"image/jpeg/x", false},
		{"-image/jpeg", false},
		{"image/.jpeg", false},
		{"image /jpeg", false},
		{"image/jpeg;", false},
		{"image/jpeg;a", false},
		{"image/jpeg;a=", false},
		{"image/jpeg;=b", false},
		{"image/jpeg;a=\"b", false},
		{"image/jpeg ", false},
		{"image/j{peg", false},
		{"", false},
		{NULL, false},
	};
	RUN(li707_check_mime_type, t);
}

static void test_core5_mime_type_lengths(void **state)
{
	char s[300];
	memset(s, 'a', 127);
	strcpy(s + 127, "/b");
	assert_true(li707_check_mime_type(s));
	memset(s, 'a', 128);
	strcpy(s + 128, "/b");
	assert_false(li707_check_mime_type(s));
}

static void test_core5_https_url(void **state)
{
	static const struct check_case t[] = {
		{"https://csp.example.com/binaryData/123", true},
		{"HTTPS://csp.example.com/", true},
		{"https://csp.example.com", true},
		{"https://csp.example.com:8443/x?y=1&z=%20", true},
		{"https://192.0.2.1/a", true},
		{"https://[2001:db8::1]:443/a", true},
		{"https://csp.example.com/a:b@c", true},
		{"http://csp.example.com/", false},
		{"https:/csp.example.com/", false},
		{"https://", false},
		{"https:///path", false},
		{"https://user:pw@csp.example.com/", false},
		{"https://user@csp.example.com/", false},
		{"https://csp.example.com/#frag", false},
		{"https://csp.example.com/a b", false},
		{"https://csp.example.com/a\tb", false},
		{"https://csp.example.com:0/", false},
		{"https://csp.example.com:65536/", false},
		{"https://csp.example.com:65535/", true},
		{"https://csp.example.com:/", false},
		{"https://csp.example.com:123456/", false},
		{"https://csp.example.com/%zz", false},
		{"https://csp.example.com/%4", false},
		{"https://[]/", false},
		{"https://[::1/", false},
		{"https://csp.example.com/{id}", false},
		{"https://csp.example.com/caf\xc3\xa9", false},
		{" https://csp.example.com/", false},
		{"", false},
		{NULL, false},
	};
	RUN(li707_check_https_url, t);
}

static void test_core5_https_url_length(void **state)
{
	size_t max = 8192;
	char *s = malloc(max + 2);
	assert_non_null(s);
	strcpy(s, "https://h/");
	memset(s + 10, 'a', max - 10);
	s[max] = '\0';
	assert_true(li707_check_https_url(s));
	s[max] = 'a';
	s[max + 1] = '\0';
	assert_false(li707_check_https_url(s));
	free(s);
}

static void test_csp2_schema_uri(void **state)
{
	static const struct check_case t[] = {
		{"https://csp.example.com/schema/v1.xsd", true},
		{"urn:example:csp:schema:1", true},
		{"http://x/y#frag", true},
		{"a+b-c.d:x", true},
		{"relative/path", false},
		{"/abs/path", false},
		{"1abc:x", false},
		{"urn:", false},
		{":x", false},
		{"urn:a b", false},
		{"urn:a\nb", false},
		{"urn:a%zz", false},
		{"urn:<x>", false},
		{"", false},
		{NULL, false},
	};
	RUN(li707_check_uri, t);
}

/* ---- numbers and booleans ---- */

static void test_hdr1_parse_uint(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		uint64_t v;
	} t[] = {
		{"0", true, 0},
		{"42", true, 42},
		{"+7", true, 7},
		{"007", true, 7},
		{"-0", true, 0},  /* in xs:nonNegativeInteger's lexical space */
		{"-000", true, 0},
		{"18446744073709551615", true, UINT64_MAX},
		{"18446744073709551616", false, 0},
		{"99999999999999999999", false, 0},
		{"-1", false, 0},
		{"+", false, 0},
		{"", false, 0},
		{" 1", false, 0},
		{"1 ", false, 0},
		{"1.0", false, 0},
		{"0x10", false, 0},
		{"++1", false, 0},
		{NULL, false, 0},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		uint64_t v = 12345;
		bool ok = li707_parse_uint(t[i].s, &v);
		if (ok != t[i].ok || (ok && v != t[i].v)) {
			print_error("parse_uint(\"%s\"): expected %d/%llu, got %d/%llu\n",
				    t[i].s ? t[i].s : "(null)", t[i].ok,
				    (unsigned long long)t[i].v, ok, (unsigned long long)v);
			bad++;
		}
		if (!ok && v != 12345) {
			print_error("parse_uint(\"%s\") wrote its output on failure\n", t[i].s);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_core4_parse_bool(void **state)
{
	static const struct {
		const char *s;
		bool ok, v;
	} t[] = {
		{"true", true, true}, {"1", true, true}, {"false", true, false}, {"0", true, false},
		{"True", false, false}, {"TRUE", false, false}, {"yes", false, false},
		{" true", false, false}, {"true ", false, false}, {"01", false, false},
		{"", false, false}, {NULL, false, false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		bool v = !t[i].v;
		bool ok = li707_parse_bool(t[i].s, &v);
		if (ok != t[i].ok || (ok && v != t[i].v))
			fail_msg("parse_bool(\"%s\"): expected %d/%d, got %d/%d",
				 t[i].s ? t[i].s : "(null)", t[i].ok, t[i].v, ok, v);
	}
}

/* ---- UTF-8 ---- */

static void test_core3_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} t[] = {
		{"plain ascii", 11, true},
		{"tab\tlf\ncr\r", 10, true},
		{"caf\xc3\xa9", 5, true},
		{"\xe2\x82\xac", 3, true},         /* U+20AC */
		{"\xf0\x9f\x98\x80", 4, true},     /* U+1F600 */
		{"\xf4\x8f\xbf\xbf", 4, true},     /* U+10FFFF */
		{"\xef\xbf\xbd", 3, true},         /* U+FFFD */
		{"\x7f", 1, true},
		{"", 0, true},
		{"a\0b", 3, false},                /* NUL */
		{"\x01", 1, false},
		{"\x1f", 1, false},
		{"\xc0\xaf", 2, false},            /* overlong '/' */
		{"\xc1\xbf", 2, false},
		{"\xe0\x80\xaf", 3, false},        /* overlong */
		{"\xf0\x80\x80\xaf", 4, false},    /* overlong */
		{"\xed\xa0\x80", 3, false},        /* U+D800 surrogate */
		{"\xed\xbf\xbf", 3, false},        /* U+DFFF */
		{"\xf4\x90\x80\x80", 4, false},    /* U+110000 */
		{"\xf5\x80\x80\x80", 4, false},
		{"\xef\xbf\xbe", 3, false},        /* U+FFFE */
		{"\xef\xbf\xbf", 3, false},        /* U+FFFF */
		{"\x80", 1, false},                /* lone continuation */
		{"\xc3", 1, false},                /* truncated */
		{"\xe2\x82", 2, false},
		{"\xc3\x28", 2, false},            /* bad continuation */
		{"\xff", 1, false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		bool got = li707_check_utf8(t[i].s, t[i].len);
		if (got != t[i].ok)
			fail_msg("check_utf8 case %zu: expected %d, got %d", i, t[i].ok, got);
	}
}

/* ---- time ---- */

static void test_core2_qualified_datetime(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		int64_t epoch;
		int off;
	} t[] = {
		{"1970-01-01T00:00:00Z", true, 0, 0},
		{"2024-05-17T12:34:56Z", true, 1715949296, 0},
		{"2024-05-17T13:34:56+01:00", true, 1715949296, 60},
		{"2024-05-17T07:04:56-05:30", true, 1715949296, -330},
		{"2000-02-29T00:00:00Z", true, 951782400, 0},
		{"2024-02-29T23:59:59Z", true, 1709251199, 0},
		{"0001-01-01T00:00:00Z", true, -62135596800LL, 0},
		{"9999-12-31T23:59:59Z", true, 253402300799LL, 0},
		{"2024-01-01T00:00:00+14:00", true, 1704016800, 840},
		{"2024-01-01T00:00:00-14:00", true, 1704117600, -840},
		{"1900-02-29T00:00:00Z", false, 0, 0}, /* 1900 not a leap year */
		{"2023-02-29T00:00:00Z", false, 0, 0},
		{"2024-04-31T00:00:00Z", false, 0, 0},
		{"2024-13-01T00:00:00Z", false, 0, 0},
		{"2024-00-01T00:00:00Z", false, 0, 0},
		{"2024-01-00T00:00:00Z", false, 0, 0},
		{"2024-01-01T24:00:00Z", false, 0, 0},
		{"2024-01-01T00:60:00Z", false, 0, 0},
		{"2024-01-01T00:00:60Z", false, 0, 0},
		{"2024-01-01T00:00:00+14:01", false, 0, 0},
		{"2024-01-01T00:00:00+15:00", false, 0, 0},
		{"2024-01-01T00:00:00+01:60", false, 0, 0},
		{"0000-01-01T00:00:00Z", false, 0, 0},
		{"2024-01-01T00:00:00", false, 0, 0},   /* no zone */
		{"2024-01-01T00:00:00.000000Z", false, 0, 0}, /* fraction not allowed */
		{"2024-01-01t00:00:00Z", false, 0, 0},
		{"2024-01-01T00:00:00z", false, 0, 0},
		{"2024-01-01 00:00:00Z", false, 0, 0},
		{"2024-1-01T00:00:00Z", false, 0, 0},
		{"24-01-01T00:00:00Z", false, 0, 0},
		{"2024-01-01T00:00:00+0100", false, 0, 0},
		{"2024-01-01T00:00:00+01", false, 0, 0},
		{"2024-01-01T00:00:00Z ", false, 0, 0},
		{"", false, 0, 0},
		{NULL, false, 0, 0},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct li707_time tm = {0};
		bool ok = li707_parse_qualified_datetime(t[i].s, &tm);
		if (ok != t[i].ok || (ok && (tm.epoch != t[i].epoch || tm.offset_min != t[i].off ||
					      tm.usec != 0))) {
			print_error("qualified_datetime(\"%s\"): expected %d epoch %lld off %d, "
				    "got %d epoch %lld off %d\n", t[i].s ? t[i].s : "(null)",
				    t[i].ok, (long long)t[i].epoch, t[i].off, ok,
				    (long long)tm.epoch, tm.offset_min);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_del3_qualified_usec_datetime(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		int64_t epoch;
		uint32_t usec;
	} t[] = {
		{"2024-05-17T12:34:56.123456Z", true, 1715949296, 123456},
		{"2024-05-17T14:34:56.000001+02:00", true, 1715949296, 1},
		{"2024-05-17T12:34:56.999999Z", true, 1715949296, 999999},
		{"2024-05-17T12:34:56Z", false, 0, 0},
		{"2024-05-17T12:34:56.12345Z", false, 0, 0},
		{"2024-05-17T12:34:56.1234567Z", false, 0, 0},
		{"2024-05-17T12:34:56.Z", false, 0, 0},
		{"2024-05-17T12:34:56,123456Z", false, 0, 0},
		{"2024-02-30T12:34:56.123456Z", false, 0, 0},
		{NULL, false, 0, 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct li707_time tm = {0};
		bool ok = li707_parse_qualified_usec_datetime(t[i].s, &tm);
		if (ok != t[i].ok || (ok && (tm.epoch != t[i].epoch || tm.usec != t[i].usec)))
			fail_msg("usec_datetime(\"%s\"): expected %d %lld.%06u, got %d %lld.%06u",
				 t[i].s ? t[i].s : "(null)", t[i].ok, (long long)t[i].epoch,
				 t[i].usec, ok, (long long)tm.epoch, tm.usec);
	}
}

static void test_rfc3339(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		int64_t epoch;
		uint32_t usec;
		int off;
	} t[] = {
		{"2024-05-17T12:34:56Z", true, 1715949296, 0, 0},
		{"2024-05-17t12:34:56z", true, 1715949296, 0, 0},
		{"2024-05-17T12:34:56.5Z", true, 1715949296, 500000, 0},
		{"2024-05-17T12:34:56.123456789Z", true, 1715949296, 123456, 0}, /* truncated */
		{"2024-05-17T12:34:56.999999999Z", true, 1715949296, 999999, 0},
		{"2024-05-17T12:34:56.1234567+00:00", true, 1715949296, 123456, 0},
		{"2024-05-17T13:34:56.0+01:00", true, 1715949296, 0, 60},
		{"2024-05-17T12:34:56-00:00", true, 1715949296, 0, 0},
		{"2024-05-17T12:34:56.1234567890Z", false, 0, 0, 0}, /* 10 digits */
		{"2024-05-17T12:34:56.Z", false, 0, 0, 0},
		{"2024-05-17T12:34:56", false, 0, 0, 0},
		{"2024-05-17 12:34:56Z", false, 0, 0, 0},
		{"2024-02-30T12:34:56Z", false, 0, 0, 0},
		{NULL, false, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct li707_time tm = {0};
		bool ok = li707_parse_rfc3339(t[i].s, &tm);
		if (ok != t[i].ok ||
		    (ok && (tm.epoch != t[i].epoch || tm.usec != t[i].usec || tm.offset_min != t[i].off)))
			fail_msg("rfc3339(\"%s\"): expected %d %lld.%06u off %d, got %d %lld.%06u off %d",
				 t[i].s ? t[i].s : "(null)", t[i].ok, (long long)t[i].epoch,
				 t[i].usec, t[i].off, ok, (long long)tm.epoch, tm.usec,
				 tm.offset_min);
	}
}

static void test_core2_time_round_trip(void **state)
{
	static const char *const q[] = {
		"1970-01-01T00:00:00Z", "2024-05-17T13:34:56+01:00", "2024-05-17T07:04:56-05:30",
		"2000-02-29T23:59:59+14:00", "2000-03-01T00:00:00-14:00", "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "2100-02-28T12:00:00+09:45",
	};
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		struct li707_time tm;
		char out[33];
		assert_true(li707_parse_qualified_datetime(q[i], &tm));
		assert_int_equal(li707_time_format(&tm, false, out), 0);
		assert_string_equal(out, q[i]);
	}
	static const char *const u[] = {
		"2024-05-17T12:34:56.123456Z", "2024-05-17T14:34:56.000001+02:00",
		"1960-06-30T23:59:59.999999-03:00",
	};
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		struct li707_time tm;
		char out[33];
		assert_true(li707_parse_qualified_usec_datetime(u[i], &tm));
		assert_int_equal(li707_time_format(&tm, true, out), 0);
		assert_string_equal(out, u[i]);
	}
	/* Offsets change the written wall time, not the instant. */
	struct li707_time tm = {.epoch = 0, .usec = 5, .offset_min = 60};
	char out[33];
	assert_int_equal(li707_time_format(&tm, true, out), 0);
	assert_string_equal(out, "1970-01-01T01:00:00.000005+01:00");
	tm.offset_min = -90;
	assert_int_equal(li707_time_format(&tm, false, out), 0);
	assert_string_equal(out, "1969-12-31T22:30:00-01:30");
	/* Refused: bad usec, offset beyond 14:00, year beyond 9999. */
	tm = (struct li707_time){.epoch = 0, .usec = 1000000};
	assert_int_equal(li707_time_format(&tm, true, out), LI707_EINVAL);
	tm = (struct li707_time){.epoch = 0, .offset_min = 841};
	assert_int_equal(li707_time_format(&tm, true, out), LI707_EINVAL);
	tm = (struct li707_time){.epoch = 253402300800LL};
	assert_int_equal(li707_time_format(&tm, true, out), LI707_EINVAL);
	tm = (struct li707_time){.epoch = INT64_MIN};
	assert_int_equal(li707_time_format(&tm, true, out), LI707_EINVAL);
}

static void test_core2_leap_years(void **state)
{
	static const struct {
		int64_t y;
		bool leap;
	} t[] = {
		{2000, true}, {1900, false}, {2024, true}, {2023, false}, {2100, false},
		{2400, true}, {1600, true}, {4, true}, {1, false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (li707__is_leap(t[i].y) != t[i].leap)
			fail_msg("is_leap(%lld): expected %d", (long long)t[i].y, t[i].leap);
	/* Every day of 400 years round-trips through parse and format. */
	struct li707_time tm;
	char s[33], out[33];
	int64_t prev = 0;
	bool first = true;
	for (int y = 1999; y <= 2401; y += 1) {
		for (int m = 1; m <= 12; m++) {
			for (int d = 1; d <= 31; d++) {
				snprintf(s, sizeof s, "%04d-%02d-%02dT00:00:00Z", y, m, d);
				bool ok = li707_parse_qualified_datetime(s, &tm);
				static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
				int last = dim[m - 1] + (m == 2 && li707__is_leap(y));
				if (ok != (d <= last))
					fail_msg("%s: expected %d", s, d <= last);
				if (!ok)
					continue;
				if (!first && tm.epoch != prev + 86400)
					fail_msg("%s: epoch %lld not the day after %lld", s,
						 (long long)tm.epoch, (long long)prev);
				first = false;
				prev = tm.epoch;
				assert_int_equal(li707_time_format(&tm, false, out), 0);
				assert_string_equal(out, s);
			}
		}
	}
}

static void test_del3_time_now(void **state)
{
	struct li707_time tm;
	char out[33];
	assert_int_equal(li707_time_now(&tm), 0);
	assert_int_equal(tm.offset_min, 0);
	assert_true(tm.usec < 1000000);
	assert_true(tm.epoch > 1700000000);
	assert_int_equal(li707_time_format(&tm, true, out), 0);
	assert_int_equal(strlen(out), 27);
	assert_true(li707_parse_qualified_usec_datetime(out, NULL));
}

/* ---- SHA-256 ---- */

static void test_core5_sha256(void **state)
{
	char hex[65];
	assert_int_equal(li707_sha256_hex("", 0, hex), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(li707_sha256_hex("abc", 3, hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	char path[] = "/tmp/li707-sha-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	/* 3 MiB + 3 bytes: crosses the 1 MiB read buffer */
	size_t n = (3u << 20) + 3;
	char *buf = malloc(n);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(i * 31 + 7);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	char want[65];
	uint64_t size = 0;
	assert_int_equal(li707_sha256_hex(buf, n, want), 0);
	assert_int_equal(li707_sha256_file(path, hex, &size), 0);
	assert_string_equal(hex, want);
	assert_int_equal(size, n);
	unlink(path);
	free(buf);
	assert_int_equal(li707_sha256_file(path, hex, &size), -ENOENT);
	assert_int_equal(li707_sha256_file("/", hex, &size), -EISDIR);
}

/* ---- strings and wipe ---- */

static void test_strings(void **state)
{
	char *s = li707__strdup("abc");
	assert_string_equal(s, "abc");
	free(s);
	assert_null(li707__strdup(NULL));
	s = li707__strndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = li707__strndup("ab", 10);
	assert_string_equal(s, "ab");
	free(s);
	char *d = NULL;
	assert_int_equal(li707__set_str(&d, "x"), 0);
	assert_string_equal(d, "x");
	assert_int_equal(li707__set_str(&d, "yz"), 0);
	assert_string_equal(d, "yz");
	assert_int_equal(li707__set_str(&d, NULL), 0);
	assert_null(d);
	char w[8] = "secret!";
	li707_wipe(w, sizeof w);
	for (size_t i = 0; i < sizeof w; i++)
		assert_int_equal(w[i], 0);
	li707_wipe(NULL, 5);
}

/* The one set of hex helpers (used by the Annex D.4 records, SHA-256 text, SPKI pins, PSK
 * files, multipart boundaries and the Model B path rule). */
static void test_util_hex(void **state)
{
	(void)state;
	static const char digits[] = "0123456789abcdefABCDEF";
	for (int c = 0; c < 256; c++) {
		const char *p = c ? strchr(digits, c) : NULL;
		int want = !p ? -1 : (int)(p - digits) < 16 ? (int)(p - digits) : (int)(p - digits) - 6;
		assert_int_equal(li707_hex_value(c), want);
	}
	const uint8_t b[] = {0x00, 0x7f, 0x80, 0xff, 0x5a};
	char out[11];
	memset(out, 'x', sizeof out);
	li707_hex_encode(b, sizeof b, out);
	assert_string_equal(out, "007f80ff5a");
	uint8_t back[5];
	assert_true(li707_hex_decode("007F80fF5a", 5, back));
	assert_memory_equal(back, b, 5);
	assert_false(li707_hex_decode("007g", 2, back));
	assert_false(li707_hex_decode("0 7f", 2, back));
	assert_false(li707_hex_decode("0", 1, back)); /* odd: the NUL is no digit */
}

/* li707_array_grow: the one growth rule for arrays. Doubling from 64 bytes' worth, never
 * past max_elems, refusals leave the array as it was. */
static void test_util_array_grow(void **state)
{
	(void)state;
	int *v = NULL;
	size_t cap = 0;
	/* first allocation: 64 bytes' worth of ints, then doubling; contents kept */
	assert_int_equal(li707_array_grow((void **)&v, &cap, 1, sizeof *v, 1000), 0);
	assert_non_null(v);
	assert_int_equal(cap, 64 / sizeof *v);
	for (size_t i = 0; i < cap; i++)
		v[i] = (int)i;
	size_t old = cap;
	assert_int_equal(li707_array_grow((void **)&v, &cap, old + 1, sizeof *v, 1000), 0);
	assert_int_equal(cap, old * 2);
	for (size_t i = 0; i < old; i++)
		assert_int_equal(v[i], (int)i);
	/* need within the capacity: nothing moves */
	int *same = v;
	assert_int_equal(li707_array_grow((void **)&v, &cap, cap, sizeof *v, 1000), 0);
	assert_ptr_equal(v, same);
	assert_int_equal(cap, old * 2);
	/* a jump past the next doubling goes straight to a power-of-two multiple */
	assert_int_equal(li707_array_grow((void **)&v, &cap, 5 * old, sizeof *v, 1000), 0);
	assert_int_equal(cap, 8 * old);
	free(v);

	/* big elements start with one; bytes start with 64 */
	struct big {
		char b[100];
	} *bv = NULL;
	cap = 0;
	assert_int_equal(li707_array_grow((void **)&bv, &cap, 1, sizeof *bv, 10), 0);
	assert_int_equal(cap, 1);
	assert_int_equal(li707_array_grow((void **)&bv, &cap, 2, sizeof *bv, 10), 0);
	assert_int_equal(cap, 2);
	free(bv);
	char *cv = NULL;
	cap = 0;
	assert_int_equal(li707_array_grow((void **)&cv, &cap, 1, 1, 1 << 20), 0);
	assert_int_equal(cap, 64);
	free(cv);
}

static void test_util_array_grow_limit(void **state)
{
	(void)state;
	int *v = NULL;
	size_t cap = 0;
	/* the capacity is clamped to the limit, exactly the limit is accepted */
	assert_int_equal(li707_array_grow((void **)&v, &cap, 3, sizeof *v, 10), 0);
	assert_int_equal(cap, 10);
	assert_int_equal(li707_array_grow((void **)&v, &cap, 10, sizeof *v, 10), 0);
	assert_int_equal(cap, 10);
	v[9] = 42;
	/* one past the limit is refused and nothing changes */
	int *was = v;
	assert_int_equal(li707_array_grow((void **)&v, &cap, 11, sizeof *v, 10), LI707_ELIMIT);
	assert_ptr_equal(v, was);
	assert_int_equal(cap, 10);
	assert_int_equal(v[9], 42);
	/* doubling stops at the limit: 7 -> 14 would pass 12 */
	free(v);
	v = NULL;
	cap = 0;
	assert_int_equal(li707_array_grow((void **)&v, &cap, 7, sizeof *v, 7), 0);
	assert_int_equal(cap, 7);
	assert_int_equal(li707_array_grow((void **)&v, &cap, 8, sizeof *v, 12), 0);
	assert_int_equal(cap, 12);
	/* a limit of 0 refuses everything */
	free(v);
	v = NULL;
	cap = 0;
	assert_int_equal(li707_array_grow((void **)&v, &cap, 1, sizeof *v, 0), LI707_ELIMIT);
	assert_null(v);
	assert_int_equal(cap, 0);
}

/* Sizes that do not fit in size_t are refused before any allocation, whatever the limit. */
static void test_util_array_grow_overflow(void **state)
{
	(void)state;
	int64_t *v = NULL;
	size_t cap = 0;
	assert_int_equal(li707_array_grow((void **)&v, &cap, SIZE_MAX / 4, sizeof *v, SIZE_MAX),
			 LI707_ENOMEM);
	assert_int_equal(li707_array_grow((void **)&v, &cap, SIZE_MAX, sizeof *v, SIZE_MAX),
			 LI707_ENOMEM);
	assert_int_equal(li707_array_grow((void **)&v, &cap, 3, SIZE_MAX / 2, SIZE_MAX),
			 LI707_ENOMEM);
	assert_null(v);
	assert_int_equal(cap, 0);
	/* past the limit is ELIMIT even when the size would also overflow */
	assert_int_equal(li707_array_grow((void **)&v, &cap, SIZE_MAX, sizeof *v, 100),
			 LI707_ELIMIT);
	/* bad arguments */
	assert_int_equal(li707_array_grow((void **)&v, &cap, 1, 0, 100), LI707_EINVAL);
	assert_int_equal(li707_array_grow(NULL, &cap, 1, 1, 100), LI707_EINVAL);
	assert_int_equal(li707_array_grow((void **)&v, NULL, 1, 1, 100), LI707_EINVAL);
	assert_null(v);
	/* a huge limit with a small need grows normally (the clamp is on what fits) */
	assert_int_equal(li707_array_grow((void **)&v, &cap, 1, sizeof *v, SIZE_MAX), 0);
	assert_int_equal(cap, 64 / sizeof *v);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_hex),
		cmocka_unit_test(test_util_array_grow),
		cmocka_unit_test(test_util_array_grow_limit),
		cmocka_unit_test(test_util_array_grow_overflow),
		cmocka_unit_test(test_core_uuid_form),
		cmocka_unit_test(test_core_uuid_new),
		cmocka_unit_test(test_del3_country_codes),
		cmocka_unit_test(test_del3_country_table_complete),
		cmocka_unit_test(test_del5_liid),
		cmocka_unit_test(test_del5_ldid),
		cmocka_unit_test(test_del3_etsi_version),
		cmocka_unit_test(test_core5_checksum_hex),
		cmocka_unit_test(test_core5_mime_type),
		cmocka_unit_test(test_core5_mime_type_lengths),
		cmocka_unit_test(test_core5_https_url),
		cmocka_unit_test(test_core5_https_url_length),
		cmocka_unit_test(test_csp2_schema_uri),
		cmocka_unit_test(test_hdr1_parse_uint),
		cmocka_unit_test(test_core4_parse_bool),
		cmocka_unit_test(test_core3_utf8),
		cmocka_unit_test(test_core2_qualified_datetime),
		cmocka_unit_test(test_del3_qualified_usec_datetime),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_core2_time_round_trip),
		cmocka_unit_test(test_core2_leap_years),
		cmocka_unit_test(test_del3_time_now),
		cmocka_unit_test(test_core5_sha256),
		cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
