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
int tool_cmd_send(int argc, char **argv);
int tool_cmd_fetch(int argc, char **argv);
int tool_cmd_post_binary(int argc, char **argv);

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


/* ---- HTTPS client options shared by send, fetch and post-binary (tool_client.c) ---- */

struct lx_http_client;
struct lx_http_result;

/* getopt_long values of the client options (outside the char range). */
enum {
	TOOL_OPT_CERT = 0x200, TOOL_OPT_KEY, TOOL_OPT_CACERT, TOOL_OPT_CRL, TOOL_OPT_PSK_ID,
	TOOL_OPT_PSK_FILE, TOOL_OPT_TLS_MIN, TOOL_OPT_CONNECT_TIMEOUT, TOOL_OPT_TIMEOUT,
	TOOL_OPT_CMD_BASE = 0x280 /* first free value for a command's own long options */
};

#define TOOL_CLIENT_LONGOPTS                                                                \
	{"cert", required_argument, NULL, TOOL_OPT_CERT},                                   \
	{"key", required_argument, NULL, TOOL_OPT_KEY},                                     \
	{"cacert", required_argument, NULL, TOOL_OPT_CACERT},                               \
	{"crl", required_argument, NULL, TOOL_OPT_CRL},                                     \
	{"psk-identity", required_argument, NULL, TOOL_OPT_PSK_ID},                         \
	{"psk-file", required_argument, NULL, TOOL_OPT_PSK_FILE},                           \
	{"tls-min", required_argument, NULL, TOOL_OPT_TLS_MIN},                             \
	{"connect-timeout", required_argument, NULL, TOOL_OPT_CONNECT_TIMEOUT},             \
	{"timeout", required_argument, NULL, TOOL_OPT_TIMEOUT}

/* The help lines of the client options. */
extern const char tool_client_help[];

struct tool_client {
	const char *cert, *key, *cacert, *crl, *psk_identity, *psk_file;
	int tls_min;                /* 12 or 13 */
	long connect_timeout_ms, timeout_ms;
};

void tool_client_init(struct tool_client *tc);
/* Handles one client option: 0 taken, 2 usage error (printed), -1 not a client option. */
int tool_client_option(struct tool_client *tc, const char *cmd, int c, const char *arg);
/* Seconds ("10", "0.5") in (0, 86400] as milliseconds; false when not one. */
bool tool_parse_seconds(const char *s, long *ms);
/* Makes the client (loads and wipes the PSK file). 0 or the exit status (message printed). */
int tool_client_open(const struct tool_client *tc, const char *cmd, long max_host_connections,
		     struct lx_http_client **out);
/* Prints "li707 CMD: transport failure (CLASS): detail" and returns the exit status
 * (3 transport, 2 bad URL, 5 internal). */
int tool_client_failure(const char *cmd, const struct lx_http_result *r);

#endif
