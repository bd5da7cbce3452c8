/* hashsink (src/common/hashsink.h): the SHA-256 + write pipeline of Model B uploads
 * (TS103707 R-BIN-B2). Every byte written must reach the file in order, and the digest and
 * length must be those of the whole object, whatever the sizes of the pieces; errors must
 * be reported, never turned into a short file with a digest. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hashsink.h"
#include "testutil.h"

static char dir[] = "/tmp/li707-hashsink-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tu_rm_rf(dir);
	return 0;
}

/* Deterministic bytes that differ from block to block (a shifted block would be seen). */
static unsigned char *pattern(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	assert_non_null(p);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* Writes n bytes in pieces of `piece` (0: pieces of varying sizes), then checks the
 * digest, the length and the file against the data. */
static void roundtrip(size_t n, size_t piece)
{
	char path[256];
	snprintf(path, sizeof path, "%s/obj-%zu-%zu", dir, n, piece);
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	unsigned char *data = pattern(n);
	struct lx_hashsink *s = NULL;
	assert_int_equal(lx_hashsink_new(fd, &s), 0);
	size_t off = 0, k = 1;
	while (off < n) {
		size_t len = piece ? piece : (k = k * 7 % 300007 + 1);
		if (len > n - off)
			len = n - off;
		assert_int_equal(lx_hashsink_write(s, data + off, len), 0);
		off += len;
	}
	unsigned char dg[32], want[32];
	uint64_t bytes = 1234;
	assert_int_equal(lx_hashsink_finish(s, dg, &bytes), 0);
	lx_hashsink_free(s);
	close(fd);
	SHA256(data, n, want);
	assert_memory_equal(dg, want, 32);
	assert_int_equal(bytes, n);
	size_t got_len = 0;
	char *got = tu_read_file(path, &got_len);
	assert_int_equal(got_len, n);
	assert_true(n == 0 || memcmp(got, data, n) == 0);
	free(got);
	free(data);
	unlink(path);
}

static void test_sizes_inline(void **state)
{
	(void)state;
	roundtrip(0, 1);
	roundtrip(1, 1);
	roundtrip(4096, 100);
	roundtrip(LX_HASHSINK_BLOCK - 1, 0);
	roundtrip(LX_HASHSINK_BLOCK, LX_HASHSINK_BLOCK); /* one full block: no thread */
}

static void test_sizes_worker(void **state)
{
	(void)state;
	roundtrip(LX_HASHSINK_BLOCK + 1, LX_HASHSINK_BLOCK);
	roundtrip(2 * LX_HASHSINK_BLOCK, 0);
	/* More blocks than the ring holds, and past the writeback step. */
	size_t big = (size_t)LX_HASHSINK_WRITEBACK + 3 * LX_HASHSINK_BLOCK + 17;
	roundtrip(big, 0);
	roundtrip(big, 65536);
	roundtrip(LX_HASHSINK_BLOCKS * LX_HASHSINK_BLOCK, 3 * LX_HASHSINK_BLOCK);
}

/* A file the sink cannot write (opened read-only): the error comes back, no digest. */
static void test_write_error(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof path, "%s/ro", dir);
	int fd = open(path, O_CREAT | O_RDONLY, 0600);
	assert_true(fd >= 0);
	unsigned char *data = pattern(3 * LX_HASHSINK_BLOCKS * LX_HASHSINK_BLOCK);
	struct lx_hashsink *s = NULL;
	assert_int_equal(lx_hashsink_new(fd, &s), 0);
	int rc = 0;
	for (size_t off = 0; rc == 0 && off < 3 * LX_HASHSINK_BLOCKS * LX_HASHSINK_BLOCK;
	     off += LX_HASHSINK_BLOCK)
		rc = lx_hashsink_write(s, data + off, LX_HASHSINK_BLOCK);
	unsigned char dg[32];
	uint64_t bytes = 99;
	int frc = lx_hashsink_finish(s, dg, &bytes);
	assert_true(frc < 0);
	assert_int_equal(bytes, 99);
	/* Every later call is refused too. */
	assert_true(lx_hashsink_write(s, data, 1) < 0);
	assert_int_equal(lx_hashsink_finish(s, dg, &bytes), -EINVAL);
	lx_hashsink_free(s);
	close(fd);
	/* A small object (inline path) fails the same way. */
	fd = open(path, O_RDONLY);
	assert_int_equal(lx_hashsink_new(fd, &s), 0);
	assert_int_equal(lx_hashsink_write(s, data, 10), 0);
	assert_true(lx_hashsink_finish(s, dg, &bytes) < 0);
	lx_hashsink_free(s);
	close(fd);
	free(data);
	(void)rc;
}

/* free() without finish(): an abort while the worker is busy; no leak, no hang. */
static void test_abort(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof path, "%s/abort", dir);
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	unsigned char *data = pattern(LX_HASHSINK_BLOCK);
	struct lx_hashsink *s = NULL;
	assert_int_equal(lx_hashsink_new(fd, &s), 0);
	for (int i = 0; i < 3 * LX_HASHSINK_BLOCKS; i++)
		assert_int_equal(lx_hashsink_write(s, data, LX_HASHSINK_BLOCK), 0);
	lx_hashsink_free(s);
	/* A sink never written to, freed at once. */
	assert_int_equal(lx_hashsink_new(fd, &s), 0);
	lx_hashsink_free(s);
	lx_hashsink_free(NULL);
	close(fd);
	free(data);
}

static void test_bad_args(void **state)
{
	(void)state;
	struct lx_hashsink *s = NULL;
	assert_int_equal(lx_hashsink_new(-1, &s), 0);
	assert_int_equal(lx_hashsink_write(NULL, "x", 1), -EINVAL);
	assert_int_equal(lx_hashsink_write(s, NULL, 1), -EINVAL);
	assert_int_equal(lx_hashsink_write(s, NULL, 0), 0);
	unsigned char dg[32];
	uint64_t b;
	assert_int_equal(lx_hashsink_finish(s, NULL, &b), -EINVAL);
	assert_true(lx_hashsink_finish(s, dg, &b) < 0); /* fdatasync(-1) */
	lx_hashsink_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_inline), cmocka_unit_test(test_sizes_worker),
		cmocka_unit_test(test_write_error), cmocka_unit_test(test_abort),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
