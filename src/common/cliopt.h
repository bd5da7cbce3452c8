/* li707 common - usage errors of the command-line programs (li707, li707-lea's query
 * commands): one line on stderr, exit status 2 (docs/exit-codes.md). */
#ifndef LX_COMMON_CLIOPT_H
#define LX_COMMON_CLIOPT_H

#include <stdarg.h>
#include <stddef.h>

#define LX_EXIT_USAGE 2
#define LX_OPTWORD_MAX 64 /* bytes of the option word shown, NUL included */

/* Prints "PROG CMD: message (try 'PROG CMD --help')" (no CMD part when cmd is NULL or "")
 * and returns LX_EXIT_USAGE. */
int lx_usage_error(const char *prog, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int lx_usage_verror(const char *prog, const char *cmd, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* The word getopt_long just refused (it leaves it at optind - 1), as a usage error shows
 * it: "-x" for a short option, else the word up to any '=' (a value may be a target
 * identifier, so it is never shown), cut to LX_OPTWORD_MAX - 1 bytes. */
void lx_bad_option_word(int argc, char **argv, int optind_now, int optopt_now,
			char out[LX_OPTWORD_MAX]);

/* After getopt_long returned '?' or ':': "bad option or missing argument 'WORD'" as a usage
 * error; returns LX_EXIT_USAGE. */
int lx_bad_option(const char *prog, const char *cmd, int argc, char **argv);

#endif
