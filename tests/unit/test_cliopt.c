/* lx_bad_option_word (src/common/cliopt.h): the one copy of "which word did getopt_long
 * refuse" shared by li707 and li707-lea's query commands. Table-driven. */
#include <string.h>

#include "cliopt.h"
#include "testutil.h"

static void test_cliopt_bad_option_word(void **state)
{
	(void)state;
	static const struct {
		const char *arg; /* the refused word, at optind - 1 */
		int optopt;
		const char *want;
	} t[] = {
		{"-x", 'x', "-x"},                      /* unknown short option */
		{"-vq", 'q', "-q"},                     /* bundled: only the refused letter */
		{"--bogus", 0, "--bogus"},              /* unknown long option */
		{"--liid=SECRET-LIID", 0, "--liid"},    /* a value given with '=' is never shown */
		{"--since", 0, "--since"},              /* missing argument */
		{"--" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0,
		 "--" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, /* cut to 63 */
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *argv[] = {"prog", (char *)t[i].arg, NULL};
		char out[LX_OPTWORD_MAX];
		lx_bad_option_word(2, argv, 2, t[i].optopt, out);
		if (strcmp(out, t[i].want) != 0)
			fail_msg("case %zu: expected '%s', got '%s'", i, t[i].want, out);
	}
	/* optind out of range: no word to show */
	char *argv[] = {"prog", NULL};
	char out[LX_OPTWORD_MAX];
	lx_bad_option_word(1, argv, 5, 0, out);
	assert_string_equal(out, "?");
	lx_bad_option_word(1, argv, 0, 0, out);
	assert_string_equal(out, "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cliopt_bad_option_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
