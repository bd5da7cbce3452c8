/* Daemon logging (src/common/log.c): the program name of each line is the daemon's
 * (lx_log_set_program), levels filter, control characters cannot forge a line, long lines
 * are cut to LX_LOG_LINE_MAX. stderr is redirected to a temporary file and read back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

/* Runs the logging calls of fn with stderr going to a file; returns what was written. */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/test-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(fd);
	size_t len;
	char *out = tu_read_file(path, &len);
	unlink(path);
	return out;
}

static void lines_toyd(void)
{
	lx_log_set_program("toyd");
	lx_log_set_level(LX_LOG_WARN);
	lx_info("not shown");
	lx_warn("peer=%s\nfake: error: forged", "a");
	lx_err("%d", 42);
}

static void log_program_name_and_levels(void **state)
{
	(void)state;
	char *out = capture(lines_toyd);
	assert_string_equal(out, "toyd: warn: peer=a?fake: error: forged\ntoyd: error: 42\n");
	free(out);
}

static void lines_long(void)
{
	lx_log_set_program("li707-lea");
	lx_log_set_level(LX_LOG_DEBUG);
	char big[3 * LX_LOG_LINE_MAX];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	lx_debug("%s", big);
}

static void log_long_line_cut(void **state)
{
	(void)state;
	char *out = capture(lines_long);
	size_t n = strlen(out);
	assert_int_equal(n, LX_LOG_LINE_MAX);
	assert_true(strncmp(out, "li707-lea: debug: xxx", 21) == 0);
	assert_int_equal(out[n - 1], '\n');
	free(out);
}

static void log_level_names(void **state)
{
	(void)state;
	enum lx_log_level l = LX_LOG_ERROR;
	assert_true(lx_log_parse_level("warning", &l) && l == LX_LOG_WARN);
	assert_true(lx_log_parse_level("debug", &l) && l == LX_LOG_DEBUG);
	assert_false(lx_log_parse_level("DEBUG", &l));
	assert_false(lx_log_parse_level(NULL, &l));
	assert_string_equal(lx_log_level_name(LX_LOG_INFO), "info");
	assert_string_equal(lx_log_level_name((enum lx_log_level)9), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(log_program_name_and_levels),
		cmocka_unit_test(log_long_line_cut),
		cmocka_unit_test(log_level_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
