/* Unit tests of src/lib/error.c: names, texts, exit codes, the HI-1 ErrorCode table. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	int code;
	const char *name;
	int exit_status;
	unsigned hi1;
} codes[] = {
	{LI707_OK, "OK", 0, 3007},
	{LI707_ENOMEM, "ENOMEM", 5, 3007},
	{LI707_EINVAL, "EINVAL", 2, 3007},
	{LI707_EXML, "EXML", 1, 3007},
	{LI707_ELIMIT, "ELIMIT", 1, 3007},
	{LI707_EINVALID, "EINVALID", 1, 3000},
	{LI707_ESCHEMA, "ESCHEMA", 1, 3007},
	{LI707_ENOTSUP, "ENOTSUP", 1, 3001},
	{LI707_ENOT707, "ENOT707", 1, 3001},
	{LI707_ESCHEMASET, "ESCHEMASET", 5, 3007},
	{LI707_ECRYPTO, "ECRYPTO", 5, 3007},
	{LI707_EMISMATCH, "EMISMATCH", 1, 3007},
	{LI707_EINPUT, "EINPUT", 4, 3007},
	{LI707_ENOTFOUND, "ENOTFOUND", 3, 3007},
	{LI707_EDENIED, "EDENIED", 3, 3000},
	{LI707_EDAMAGED, "EDAMAGED", 6, 3007},
};
#define N_CODES (sizeof codes / sizeof codes[0])

static void test_error_names_and_texts_distinct(void **state)
{
	/* Every code from LI707_ENOMEM down to LI707_EDAMAGED is in the table above. */
	assert_int_equal(N_CODES, 1 + (size_t)(LI707_ENOMEM - LI707_EDAMAGED) + 1);
	for (size_t i = 0; i < N_CODES; i++) {
		const char *name = li707_errname(codes[i].code);
		const char *text = li707_strerror(codes[i].code);
		assert_non_null(name);
		assert_non_null(text);
		if (strcmp(name, codes[i].name) != 0)
			fail_msg("errname(%d): expected %s, got %s", codes[i].code, codes[i].name, name);
		if (strcmp(text, "unknown error") == 0)
			fail_msg("strerror(%d) has no text", codes[i].code);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(name, li707_errname(codes[j].code)) == 0)
				fail_msg("codes %d and %d share the name %s", codes[i].code,
					 codes[j].code, name);
			if (strcmp(text, li707_strerror(codes[j].code)) == 0)
				fail_msg("codes %d and %d share the text \"%s\"", codes[i].code,
					 codes[j].code, text);
		}
	}
}

static void test_error_errno(void **state)
{
	assert_string_equal(li707_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(li707_errname(-ENOENT), "ENOENT");
	assert_string_equal(li707_errname(-EACCES), "EACCES");
	assert_int_equal(li707_exit_code(-ENOENT), 3);
	assert_int_equal(li707_exit_code(-EIO), 3);
	/* Codes outside both ranges. */
	assert_string_equal(li707_strerror(-5000), "unknown error");
	assert_string_equal(li707_strerror(1), "unknown error");
	assert_string_equal(li707_errname(-5000), "EUNKNOWN");
	assert_int_equal(li707_exit_code(-5000), 5);
}

static void test_error_exit_codes(void **state)
{
	for (size_t i = 0; i < N_CODES; i++) {
		int got = li707_exit_code(codes[i].code);
		if (got != codes[i].exit_status)
			fail_msg("exit_code(%s): expected %d, got %d", codes[i].name,
				 codes[i].exit_status, got);
	}
}

/* R-TRN-3: content errors go into the HI-1 response as ErrorInformation. */
static void test_trn3_hi1_error_table(void **state)
{
	for (size_t i = 0; i < N_CODES; i++) {
		const char *desc = NULL;
		unsigned got = li707_hi1_error_code(codes[i].code, &desc);
		if (got != codes[i].hi1)
			fail_msg("hi1_error_code(%s): expected %u, got %u", codes[i].name,
				 codes[i].hi1, got);
		assert_non_null(desc);
		assert_true(desc[0] != '\0');
	}
	assert_int_equal(li707_hi1_error_code(-ENOENT, NULL), 3007);
	assert_int_equal(li707_hi1_error_code(-9999, NULL), 3007);
	const char *d = NULL;
	li707_hi1_error_code(LI707_EDENIED, &d);
	assert_non_null(strstr(d, "not authorised"));
}

/* Every row of LI707_ERROR_MAP is in the docs with its exit status (docs/exit-codes.md) and in
 * the HI-1 table or its catch-all row (docs/error-codes.md): the table and the docs agree. */
static void test_error_map_documented(void **state)
{
	char *exitdoc = tu_read_file(tu_src("docs/exit-codes.md"), NULL);
	char *hi1doc = tu_read_file(tu_src("docs/error-codes.md"), NULL);
#define CHECK_DOC(name, value, exit_status, hi1, text)                                      \
	{                                                                                   \
		char row[16];                                                               \
		snprintf(row, sizeof row, "| %d |", exit_status);                          \
		const char *line = strstr(exitdoc, row);                                    \
		const char *eol = line ? strchr(line, '\n') : NULL;                         \
		const char *hit = line ? strstr(line, #name) : NULL;                        \
		if (!hit || (eol && hit > eol))                                             \
			fail_msg("docs/exit-codes.md: %s is not in the row of status %d", #name, \
				 exit_status);                                              \
		if (!strstr(hi1doc, #name))                                                 \
			fail_msg("docs/error-codes.md does not mention %s", #name);        \
	}
	LI707_ERROR_MAP(CHECK_DOC)
#undef CHECK_DOC
	free(exitdoc);
	free(hi1doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_map_documented),
		cmocka_unit_test(test_error_names_and_texts_distinct),
		cmocka_unit_test(test_error_errno),
		cmocka_unit_test(test_error_exit_codes),
		cmocka_unit_test(test_trn3_hi1_error_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
