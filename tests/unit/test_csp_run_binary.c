/* csp_run_binary: the URL an object's binaryObject record carries is the URL the daemon's file
 * server answers (R-BIN-A1, R-CORE-5: files_url + the 22-character token; the server's path
 * segment from files_url) and the LEA's scheme for Model B (R-BIN-B1). The serving, pushing and
 * retention run in tests/integration/test_csp_binary.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "csp_files.h"
#include "csp_run_binary.h"
#include "li707/error.h"

static void test_R_BIN_A1_prefix(void **st)
{
	(void)st;
	char p[CSP_FILES_PREFIX_MAX + 1];
	assert_int_equal(csp_binary_prefix("https://csp.example/o/", p, sizeof p), 0);
	assert_string_equal(p, "o");
	assert_int_equal(csp_binary_prefix("https://csp.example:8443/a/objects/", p, sizeof p), 0);
	assert_string_equal(p, "objects");
	assert_int_equal(csp_binary_prefix("https://csp.example/", p, sizeof p), LI707_EINVAL);
	assert_int_equal(csp_binary_prefix("https://csp.example", p, sizeof p), LI707_EINVAL);
	assert_int_equal(csp_binary_prefix(NULL, p, sizeof p), LI707_EINVAL);
	assert_int_equal(csp_binary_prefix("https://h/abcdef/", p, 4), LI707_ELIMIT);
}

static void test_R_CORE_5_object_urls(void **st)
{
	(void)st;
	struct csp_lea lea = {.name = "bka", .modelb_url = "https://lea.example/binaryData/{id}/"};
	struct csp_config c = {.files_url = "https://csp.example:8443/o/", .leas = &lea, .n_leas = 1};
	struct csp_object o = {.model = 'A', .lea = "bka",
			       .uuid = "11111111-1111-4111-8111-111111111111"};
	char tok[CSP_FILES_TOKEN_LEN + 1], url[512], want[512];
	assert_int_equal(csp_files_token_new(tok), 0);
	memcpy(o.token, tok, sizeof tok);
	assert_int_equal(csp_binary_object_url(&c, &o, url, sizeof url), 0);
	snprintf(want, sizeof want, "https://csp.example:8443/o/%s", tok);
	assert_string_equal(url, want);
	/* the same URL the file server's helper builds for its prefix */
	char p[CSP_FILES_PREFIX_MAX + 1], srv[512];
	assert_int_equal(csp_binary_prefix(c.files_url, p, sizeof p), 0);
	assert_int_equal(csp_files_url("https://csp.example:8443", p, tok, srv, sizeof srv), 0);
	assert_string_equal(url, srv);
	o.model = 'C';
	assert_int_equal(csp_binary_object_url(&c, &o, url, sizeof url), 0);
	assert_string_equal(url, want);
	/* a token not of csp_files' form (the old 32 hex digits) is no URL */
	strcpy(o.token, "0123456789abcdef0123456789abcdef");
	assert_int_equal(csp_binary_object_url(&c, &o, url, sizeof url), LI707_EINVAL);
	/* Model B: the LEA's scheme with the UUID (R-BIN-B1) */
	o.model = 'B';
	assert_int_equal(csp_binary_object_url(&c, &o, url, sizeof url), 0);
	assert_string_equal(url, "https://lea.example/binaryData/11111111-1111-4111-8111-111111111111/");
	lea.modelb_url = NULL;
	assert_int_equal(csp_binary_object_url(&c, &o, url, sizeof url), LI707_EINVAL);
	/* too small */
	o.model = 'A';
	memcpy(o.token, tok, sizeof tok);
	assert_int_equal(csp_binary_object_url(&c, &o, url, 10), LI707_ELIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_R_BIN_A1_prefix),
		cmocka_unit_test(test_R_CORE_5_object_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
