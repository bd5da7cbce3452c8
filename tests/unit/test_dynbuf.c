/* lx_dynbuf (src/common/dynbuf.h): the one growable buffer with a hard limit. Content past the
 * limit is refused (never truncated), and any failure leaves the buffer empty. */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "testutil.h"

static void dynbuf_grows_and_terminates(void **state)
{
	(void)state;
	struct lx_dynbuf b;
	lx_dynbuf_init(&b, 1 << 20);
	assert_string_equal(lx_dynbuf_ptr(&b), "");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(lx_dynbuf_addf(&b, "%03d,", i % 1000), 0);
	assert_int_equal(lx_dynbuf_len(&b), 4000);
	assert_int_equal(strncmp(lx_dynbuf_ptr(&b), "000,001,002,", 12), 0);
	assert_int_equal(lx_dynbuf_ptr(&b)[4000], '\0');
	assert_int_equal(lx_dynbuf_add(&b, "\0x", 2), 0); /* binary content is kept */
	assert_int_equal(lx_dynbuf_len(&b), 4002);
	assert_int_equal(lx_dynbuf_ptr(&b)[4001], 'x');
	lx_dynbuf_clear(&b);
	assert_int_equal(lx_dynbuf_len(&b), 0);
	assert_string_equal(lx_dynbuf_ptr(&b), "");
	lx_dynbuf_free(&b);
	lx_dynbuf_free(&b); /* twice is fine */
}

/* The limit counts the terminator: max 8 holds 7 bytes of content, and the 8th is refused. */
static void dynbuf_limit_refuses_and_empties(void **state)
{
	(void)state;
	struct lx_dynbuf b;
	lx_dynbuf_init(&b, 8);
	assert_int_equal(lx_dynbuf_addstr(&b, "1234567"), 0);
	assert_int_equal(lx_dynbuf_len(&b), 7);
	assert_int_equal(lx_dynbuf_addstr(&b, "8"), LI707_ELIMIT);
	assert_int_equal(lx_dynbuf_len(&b), 0);
	assert_string_equal(lx_dynbuf_ptr(&b), "");
	/* usable again, same limit */
	assert_int_equal(lx_dynbuf_addf(&b, "%s", "abc"), 0);
	assert_int_equal(lx_dynbuf_addf(&b, "%d", 12345), LI707_ELIMIT);
	assert_int_equal(lx_dynbuf_len(&b), 0);
	/* a huge length cannot wrap the arithmetic */
	assert_int_equal(lx_dynbuf_reserve(&b, SIZE_MAX), LI707_ELIMIT);
	assert_int_equal(lx_dynbuf_reserve(&b, SIZE_MAX - 1), LI707_ELIMIT);
	lx_dynbuf_free(&b);
}

static void dynbuf_take_and_reserve(void **state)
{
	(void)state;
	struct lx_dynbuf b;
	lx_dynbuf_init(&b, 100);
	size_t len = 99;
	assert_null(lx_dynbuf_take(&b, &len));
	assert_int_equal(len, 0);
	assert_int_equal(lx_dynbuf_reserve(&b, 10), 0);
	memcpy((char *)lx_dynbuf_ptr(&b), "hello", 5);
	lx_dynbuf_commit(&b, 5);
	char *p = lx_dynbuf_take(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 5);
	assert_string_equal(p, "hello");
	free(p);
	assert_int_equal(lx_dynbuf_len(&b), 0);
	lx_dynbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dynbuf_grows_and_terminates),
		cmocka_unit_test(dynbuf_limit_refuses_and_empties),
		cmocka_unit_test(dynbuf_take_and_reserve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
