/* Unit tests of src/lib/hash.c: TS 103 707 Annex D.4 salted hashes (R-SEC-7). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char FIELD[] = "+447700900123";

static void test_sec7_create_verify_round_trip(void **state)
{
	static const size_t salt_lens[] = {1, 16, LI707_SALT_DEFAULT_LEN, LI707_SALT_MAX_LEN};
	for (size_t i = 0; i < sizeof salt_lens / sizeof salt_lens[0]; i++) {
		char *rec = NULL;
		assert_int_equal(li707_hash_create((const uint8_t *)FIELD, strlen(FIELD),
						   salt_lens[i], &rec), 0);
		assert_non_null(rec);
		size_t want_len = 3 + 2 * salt_lens[i] + 1 + 64;
		if (strlen(rec) != want_len)
			fail_msg("record length: expected %zu, got %zu", want_len, strlen(rec));
		assert_memory_equal(rec, "v1$", 3);
		assert_int_equal(rec[3 + 2 * salt_lens[i]], '$');
		assert_int_equal(li707_hash_verify(rec, (const uint8_t *)FIELD, strlen(FIELD)), 0);
		li707_secret_free(rec);
	}
	/* Empty field is allowed. */
	char *rec = NULL;
	assert_int_equal(li707_hash_create(NULL, 0, 32, &rec), 0);
	assert_int_equal(li707_hash_verify(rec, NULL, 0), 0);
	assert_int_equal(li707_hash_verify(rec, (const uint8_t *)"x", 1), LI707_EMISMATCH);
	li707_secret_free(rec);
	li707_secret_free(NULL);
}

static void test_sec7_fresh_salt_each_time(void **state)
{
	char *a = NULL, *b = NULL;
	assert_int_equal(li707_hash_create((const uint8_t *)FIELD, strlen(FIELD), 32, &a), 0);
	assert_int_equal(li707_hash_create((const uint8_t *)FIELD, strlen(FIELD), 32, &b), 0);
	assert_string_not_equal(a, b);
	li707_secret_free(a);
	li707_secret_free(b);
}

static void test_sec7_wrong_field(void **state)
{
	char *rec = NULL;
	assert_int_equal(li707_hash_create((const uint8_t *)FIELD, strlen(FIELD), 32, &rec), 0);
	static const char *const wrong[] = {"+447700900124", "+44770090012", "+4477009001230",
					    "447700900123", ""};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		int rc = li707_hash_verify(rec, (const uint8_t *)wrong[i], strlen(wrong[i]));
		if (rc != LI707_EMISMATCH)
			fail_msg("field \"%s\": expected EMISMATCH, got %s", wrong[i],
				 li707_errname(rc));
	}
	li707_secret_free(rec);
}

static void test_sec7_wrong_salt(void **state)
{
	char *rec = NULL;
	assert_int_equal(li707_hash_create((const uint8_t *)FIELD, strlen(FIELD), 32, &rec), 0);
	/* Flip one salt digit: same hash, other salt -> mismatch. */
	rec[3] = rec[3] == '0' ? '1' : '0';
	assert_int_equal(li707_hash_verify(rec, (const uint8_t *)FIELD, strlen(FIELD)),
			 LI707_EMISMATCH);
	rec[3] = rec[3] == '0' ? '1' : '0';
	/* Flip one hash digit. */
	size_t n = strlen(rec);
	rec[n - 1] = rec[n - 1] == '0' ? '1' : '0';
	assert_int_equal(li707_hash_verify(rec, (const uint8_t *)FIELD, strlen(FIELD)),
			 LI707_EMISMATCH);
	li707_secret_free(rec);
}

static void test_sec7_verify_parts(void **state)
{
	char *rec = NULL;
	assert_int_equal(li707_hash_create((const uint8_t *)FIELD, strlen(FIELD), 32, &rec), 0);
	char *salt = strdup(rec + 3);
	char *dollar = strchr(salt, '$');
	assert_non_null(dollar);
	*dollar = '\0';
	const char *hash = dollar + 1;
	assert_int_equal(li707_hash_verify_parts(salt, hash, (const uint8_t *)FIELD, strlen(FIELD)), 0);
	assert_int_equal(li707_hash_verify_parts(salt, hash, (const uint8_t *)"x", 1), LI707_EMISMATCH);
	/* Upper-case hex is accepted. */
	for (char *p = salt; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(li707_hash_verify_parts(salt, hash, (const uint8_t *)FIELD, strlen(FIELD)), 0);
	assert_int_equal(li707_hash_verify_parts("", hash, (const uint8_t *)FIELD, 1), LI707_EINPUT);
	assert_int_equal(li707_hash_verify_parts(salt, "00", (const uint8_t *)FIELD, 1), LI707_EINPUT);
	assert_int_equal(li707_hash_verify_parts(NULL, hash, (const uint8_t *)FIELD, 1), LI707_EINVAL);
	li707_wipe(salt, strlen(salt));
	free(salt);
	li707_secret_free(rec);
}

static void test_sec7_malformed_records(void **state)
{
	static const char H[] = "0000000000000000000000000000000000000000000000000000000000000000";
	char big_salt[2 * LI707_SALT_MAX_LEN + 3 + 64 + 8];
	static const char *const bad[] = {
		"",
		"v1",
		"v1$",
		"v1$$",
		"v2$00$0000000000000000000000000000000000000000000000000000000000000000",
		"V1$00$0000000000000000000000000000000000000000000000000000000000000000",
		"v1$$0000000000000000000000000000000000000000000000000000000000000000",   /* no salt */
		"v1$0$0000000000000000000000000000000000000000000000000000000000000000",  /* odd */
		"v1$0g$0000000000000000000000000000000000000000000000000000000000000000", /* not hex */
		"v1$00$000000000000000000000000000000000000000000000000000000000000000",  /* 63 */
		"v1$00$00000000000000000000000000000000000000000000000000000000000000000",/* 65 */
		"v1$00$000000000000000000000000000000000000000000000000000000000000000g",
		"v1$00$0000000000000000000000000000000000000000000000000000000000000000\n",
		"v1$00$0000000000000000000000000000000000000000000000000000000000000000$",
		" v1$00$0000000000000000000000000000000000000000000000000000000000000000",
		"v1$00 $0000000000000000000000000000000000000000000000000000000000000000",
		"v1$00",
		"v1$00$",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = li707_hash_verify(bad[i], (const uint8_t *)"x", 1);
		if (rc != LI707_EINPUT)
			fail_msg("record \"%s\": expected EINPUT, got %s", bad[i], li707_errname(rc));
	}
	/* Salt of LI707_SALT_MAX_LEN bytes is the longest accepted; one more byte is malformed. */
	strcpy(big_salt, "v1$");
	memset(big_salt + 3, 'a', 2 * LI707_SALT_MAX_LEN);
	sprintf(big_salt + 3 + 2 * LI707_SALT_MAX_LEN, "$%s", H);
	assert_int_equal(li707_hash_verify(big_salt, (const uint8_t *)"x", 1), LI707_EMISMATCH);
	char *longer = malloc(strlen(big_salt) + 3);
	assert_non_null(longer);
	strcpy(longer, "v1$aa");
	strcat(longer, big_salt + 3);
	assert_int_equal(li707_hash_verify(longer, (const uint8_t *)"x", 1), LI707_EINPUT);
	free(longer);
	assert_int_equal(li707_hash_verify(NULL, (const uint8_t *)"x", 1), LI707_EINVAL);
}

static void test_sec7_bad_arguments(void **state)
{
	char *rec = (char *)"untouched";
	assert_int_equal(li707_hash_create((const uint8_t *)"x", 1, 0, &rec), LI707_EINVAL);
	assert_int_equal(li707_hash_create((const uint8_t *)"x", 1, LI707_SALT_MAX_LEN + 1, &rec),
			 LI707_EINVAL);
	assert_int_equal(li707_hash_create(NULL, 1, 32, &rec), LI707_EINVAL);
	assert_string_equal(rec, "untouched");
	uint8_t out[LI707_HASH_LEN];
	assert_int_equal(li707_hash_compute(NULL, 1, NULL, 0, out), LI707_EINVAL);
}

/* The byte encoding built by hand, independently of hash.c:
 * "li707-annexD4-v1" 0x00 u32be(salt_len) salt u32be(field_len) field */
static size_t encode(const uint8_t *salt, size_t sl, const uint8_t *field, size_t fl,
		     uint8_t *buf)
{
	size_t o = 0;
	memcpy(buf, "li707-annexD4-v1", 16);
	o += 16;
	buf[o++] = 0;
	buf[o++] = (uint8_t)(sl >> 24), buf[o++] = (uint8_t)(sl >> 16);
	buf[o++] = (uint8_t)(sl >> 8), buf[o++] = (uint8_t)sl;
	memcpy(buf + o, salt, sl);
	o += sl;
	buf[o++] = (uint8_t)(fl >> 24), buf[o++] = (uint8_t)(fl >> 16);
	buf[o++] = (uint8_t)(fl >> 8), buf[o++] = (uint8_t)fl;
	memcpy(buf + o, field, fl);
	return o + fl;
}

/* SHA-256 of buf computed by the openssl command-line tool; 0 ok, 77 when unavailable. */
static int openssl_cli_sha256(const uint8_t *buf, size_t len, uint8_t out[32])
{
	char path[] = "/tmp/li707-d4-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 77;
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "openssl dgst -sha256 -binary '%s' 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(out, 1, 32, p) : 0;
	int st = p ? pclose(p) : -1;
	unlink(path);
	return (n == 32 && st == 0) ? 0 : 77;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* Test vectors of docs/annex-d-hash.md. */
static const struct {
	const char *salt_hex;
	const char *field;
	const char *hash_hex;
} vectors[] = {
	{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "+447700900123",
	 "f3f7cab736ea3065b0ff015382d0e15c12b2d7c39d002364d119f3058ccc2355"},
	{"01", "", "17de4f1ca9b32dd738974711e194688ef77f6d5128d231adf8bdb60ba930642b"},
	{"73616c74", "test", "6195c80a9be4149b82419a2e6bc969a09ed77b3f891773e8178995df8fbe41d5"},
};

static void test_sec7_vectors_match_openssl_cli(void **state)
{
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		uint8_t salt[64], lib[32], cli[32], buf[256];
		size_t sl = strlen(vectors[i].salt_hex) / 2;
		for (size_t k = 0; k < sl; k++) {
			unsigned v;
			sscanf(vectors[i].salt_hex + 2 * k, "%2x", &v);
			salt[k] = (uint8_t)v;
		}
		const uint8_t *field = (const uint8_t *)vectors[i].field;
		size_t fl = strlen(vectors[i].field);
		assert_int_equal(li707_hash_compute(salt, sl, field, fl, lib), 0);
		size_t n = encode(salt, sl, field, fl, buf);
		if (openssl_cli_sha256(buf, n, cli) != 0) {
			print_message("SKIP: openssl command not available\n");
			skip();
		}
		char lib_hex[65], cli_hex[65];
		to_hex(lib, 32, lib_hex);
		to_hex(cli, 32, cli_hex);
		if (strcmp(lib_hex, cli_hex) != 0)
			fail_msg("vector %zu: library %s, openssl CLI %s", i, lib_hex, cli_hex);
		if (strcmp(lib_hex, vectors[i].hash_hex) != 0)
			fail_msg("vector %zu: expected (docs) %s, got %s", i, vectors[i].hash_hex,
				 lib_hex);
		/* The record of the vector verifies. */
		char rec[3 + 128 + 1 + 64 + 1];
		snprintf(rec, sizeof rec, "v1$%s$%s", vectors[i].salt_hex, vectors[i].hash_hex);
		assert_int_equal(li707_hash_verify(rec, field, fl), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sec7_create_verify_round_trip),
		cmocka_unit_test(test_sec7_fresh_salt_each_time),
		cmocka_unit_test(test_sec7_wrong_field),
		cmocka_unit_test(test_sec7_wrong_salt),
		cmocka_unit_test(test_sec7_verify_parts),
		cmocka_unit_test(test_sec7_malformed_records),
		cmocka_unit_test(test_sec7_bad_arguments),
		cmocka_unit_test(test_sec7_vectors_match_openssl_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
