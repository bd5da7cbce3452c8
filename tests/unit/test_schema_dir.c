/* Unit tests of lx_schema_dir_find (src/common/schema_dir.c): li707's own schemas found
 * from $LI707_SCHEMA_DIR, relative to the executable (an installed tree under any prefix, the
 * build tree's copy), or the compiled-in installed directory, in that order. Each test makes
 * its own tree in a temporary directory; "the executable" is an empty file there. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema_dir.h"
#include "testutil.h"

static char root[64];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof root, "/tmp/li707-test-schema-dir-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	char *canon = realpath(root, NULL); /* /tmp may be a symlink */
	if (!canon)
		return -1;
	snprintf(root, sizeof root, "%s", canon);
	free(canon);
	return unsetenv("LI707_SCHEMA_DIR");
}

static int teardown(void **state)
{
	(void)state;
	tu_rm_rf(root);
	return 0;
}

/* mkdir -p ROOT/rel; with_xsd: and an (empty) ts_103707.xsd in it. */
static void make_dir(const char *rel, int with_xsd)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			assert_true(mkdir(p, 0700) == 0 || errno == EEXIST);
			*s = '/';
		}
	}
	assert_true(mkdir(p, 0700) == 0 || errno == EEXIST);
	if (with_xsd) {
		strncat(p, "/ts_103707.xsd", sizeof p - strlen(p) - 1);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fclose(f);
	}
}

static const char *at(const char *rel)
{
	static char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	return p;
}

static void make_exe(const char *rel)
{
	FILE *f = fopen(at(rel), "w");
	assert_non_null(f);
	fclose(f);
}

static void expect_found(const char *exe_rel, const char *installed, int want_rc,
			 const char *want_dir)
{
	char exe[PATH_MAX], buf[PATH_MAX];
	snprintf(exe, sizeof exe, "%s", at(exe_rel));
	int rc = lx_schema_dir_find(exe, installed, buf, sizeof buf);
	if (rc != want_rc || strcmp(buf, want_dir) != 0)
		print_error("exe %s: got %d \"%s\", expected %d \"%s\"\n", exe_rel, rc, buf, want_rc,
			    want_dir);
	assert_int_equal(rc, want_rc);
	assert_string_equal(buf, want_dir);
}

/* An installed tree under another prefix: PREFIX/bin/li707 finds PREFIX/share/li707/schemas. */
static void test_schema_dir_installed_prefix(void **state)
{
	(void)state;
	make_dir("prefix/bin", 0);
	make_dir("prefix/share/li707/schemas", 1);
	make_exe("prefix/bin/li707");
	char want[PATH_MAX];
	snprintf(want, sizeof want, "%s", at("prefix/share/li707/schemas"));
	expect_found("prefix/bin/li707", NULL, 0, want);
}

/* The build tree: BUILD/li707 finds the copy in BUILD/share/li707/schemas. */
static void test_schema_dir_build_tree(void **state)
{
	(void)state;
	make_dir("build/share/li707/schemas", 1);
	make_exe("build/li707");
	char want[PATH_MAX];
	snprintf(want, sizeof want, "%s", at("build/share/li707/schemas"));
	expect_found("build/li707", "/nonexistent/li707/schemas", 0, want);
}

/* A directory without ts_103707.xsd does not count; the installed directory is next. */
static void test_schema_dir_installed_fallback(void **state)
{
	(void)state;
	make_dir("b2/share/li707/schemas", 0);
	make_dir("inst", 1);
	make_exe("b2/li707");
	char inst[PATH_MAX];
	snprintf(inst, sizeof inst, "%s", at("inst"));
	expect_found("b2/li707", inst, 0, inst);
}

/* Nothing anywhere: -ENOENT, naming the installed directory for the caller's message. */
static void test_schema_dir_none(void **state)
{
	(void)state;
	make_dir("b3", 0);
	make_exe("b3/li707");
	expect_found("b3/li707", "/nonexistent/li707/schemas", -ENOENT,
		     "/nonexistent/li707/schemas");
	expect_found("b3/li707", NULL, -ENOENT, "");
}

/* $LI707_SCHEMA_DIR wins over everything, as given. */
static void test_schema_dir_env_first(void **state)
{
	(void)state;
	make_dir("b4/share/li707/schemas", 1);
	make_exe("b4/li707");
	assert_int_equal(setenv("LI707_SCHEMA_DIR", "/from/env", 1), 0);
	expect_found("b4/li707", NULL, 0, "/from/env");
	assert_int_equal(setenv("LI707_SCHEMA_DIR", "", 1), 0); /* empty: not set */
	char want[PATH_MAX];
	snprintf(want, sizeof want, "%s", at("b4/share/li707/schemas"));
	expect_found("b4/li707", NULL, 0, want);
	assert_int_equal(unsetenv("LI707_SCHEMA_DIR"), 0);
}

/* A buffer too small is an error, not a truncated path. */
static void test_schema_dir_cap(void **state)
{
	(void)state;
	make_dir("b5/share/li707/schemas", 1);
	make_exe("b5/li707");
	char buf[8];
	assert_int_equal(lx_schema_dir_find(at("b5/li707"), NULL, buf, sizeof buf),
			 -ENAMETOOLONG);
	assert_int_equal(lx_schema_dir_find(at("b5/li707"), NULL, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema_dir_installed_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_dir_build_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_dir_installed_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_dir_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_dir_env_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_dir_cap, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
