/* li707 common - usage errors of the command-line programs, see cliopt.h. */
#include "cliopt.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int lx_usage_verror(const char *prog, const char *cmd, const char *fmt, va_list ap)
{
	bool has_cmd = cmd && *cmd;
	fprintf(stderr, "%s%s%s: ", prog, has_cmd ? " " : "", has_cmd ? cmd : "");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (try '%s%s%s --help')\n", prog, has_cmd ? " " : "", has_cmd ? cmd : "");
	return LX_EXIT_USAGE;
}

int lx_usage_error(const char *prog, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = lx_usage_verror(prog, cmd, fmt, ap);
	va_end(ap);
	return rc;
}

void lx_bad_option_word(int argc, char **argv, int optind_now, int optopt_now,
			char out[LX_OPTWORD_MAX])
{
	const char *word = (optind_now >= 1 && optind_now - 1 < argc && argv[optind_now - 1])
				   ? argv[optind_now - 1]
				   : "?";
	if (optopt_now && word[0] == '-' && word[1] != '-') {
		snprintf(out, LX_OPTWORD_MAX, "-%c", (char)optopt_now);
		return;
	}
	size_t n = strcspn(word, "=");
	if (n > LX_OPTWORD_MAX - 1)
		n = LX_OPTWORD_MAX - 1;
	memcpy(out, word, n);
	out[n] = '\0';
}

int lx_bad_option(const char *prog, const char *cmd, int argc, char **argv)
{
	char w[LX_OPTWORD_MAX];
	lx_bad_option_word(argc, argv, optind, optopt, w);
	return lx_usage_error(prog, cmd, "bad option or missing argument '%s'", w);
}
