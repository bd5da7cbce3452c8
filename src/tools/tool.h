/* li707 tool - shared declarations of the command files (src/tools/cmd_*.c).
 *
 * main.c only dispatches: `li707 [--version] [--help] COMMAND ARGS...`. Each command is
 * tool_cmd_NAME(argc, argv) with argv[0] = the command name, and returns the process exit
 * status (docs/exit-codes.md, li707_exit_code()). The tool uses the public API only. */
#ifndef LI707_TOOL_H
#define LI707_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "li707/li707.h"

#define TOOL_EXIT_USAGE 2

int tool_cmd_build(int argc, char **argv);
int tool_cmd_validate(int argc, char **argv);
int tool_cmd_show(int argc, char **argv);
int tool_cmd_respond(int argc, char **argv);
int tool_cmd_hash(int argc, char **argv);

/* Prints "li707 CMD: message (try 'li707 CMD --help')" as one line on stderr; returns 2. */
int tool_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The one-line text for a getopt_long '?' result (unknown option or missing argument). */
int tool_bad_option(const char *cmd, int argc, char **argv);

/* Reads a whole file ("-" = stdin) into a new NUL-terminated buffer, refusing more than max
 * bytes (LI707_ELIMIT). Returns 0 or a negative code (-errno, LI707_ENOMEM). */
int tool_read_file(const char *path, size_t max, char **buf, size_t *len);

/* Prints one diagnostic as "  FILE:LINE: SEVERITY [R-ID] PATH: message". */
void tool_print_diag(FILE *f, const char *file, const struct li707_diag *d);

/* Name of a severity ("error", "warning", "note"). */
const char *tool_severity_name(enum li707_severity s);

/* Parses a decimal unsigned number in [min, max]; false when it is not one. */
bool tool_parse_ulong(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out);

#endif
