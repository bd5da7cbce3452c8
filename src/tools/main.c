/* li707 tool - entry point: option parsing of `li707 [--version] [--help] COMMAND ...` and
 * dispatch to the command files, plus the few helpers every command uses. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cliopt.h"
#include "dynbuf.h"
#include "tool.h"

static const char usage_text[] =
	"Usage: li707 [--version] [--help] COMMAND [ARGS...]\n"
	"\n"
	"Build, check and inspect ETSI TS 103 707 handover messages (TS 103 120 HI-1 over\n"
	"HTTPS/XML).\n"
	"\n"
	"Commands:\n"
	"  build      read events (JSON Lines) on stdin, write HI1Messages\n"
	"  validate   strict decode (and XSD validation) of message files\n"
	"  show       print a message for a person, or as JSON\n"
	"  respond    print the HI-1 response an LEA would return for a message\n"
	"  hash       salted hashes of sensitive fields (TS 103 707 Annex D.4)\n"
	"  send       POST an HI1Message over HTTPS and decode the HI-1 response\n"
	"  fetch      download a binary object with Range requests and resume\n"
	"  post-binary  upload a binary object (Model B, Expect: 100-continue)\n"
	"\n"
	"Options:\n"
	"  -h, --help      print this help and exit\n"
	"  -V, --version   print the version and exit\n"
	"\n"
	"'li707 COMMAND --help' describes a command. Exit status: 0 ok, 1 invalid input,\n"
	"2 usage, 3 I/O error, 4 bad event input, 5 internal error (man li707).\n";

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{"build", tool_cmd_build},
	{"validate", tool_cmd_validate},
	{"show", tool_cmd_show},
	{"respond", tool_cmd_respond},
	{"hash", tool_cmd_hash},
	{"send", tool_cmd_send},
	{"fetch", tool_cmd_fetch},
	{"post-binary", tool_cmd_post_binary},
};

int tool_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lx_usage_verror("li707", cmd, fmt, ap);
	va_end(ap);
	return TOOL_EXIT_USAGE;
}

int tool_bad_option(const char *cmd, int argc, char **argv)
{
	lx_bad_option("li707", cmd, argc, argv);
	return TOOL_EXIT_USAGE;
}

int tool_read_file(const char *path, size_t max, char **buf, size_t *len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t chunk = 65536;
	struct stat st;
	if (fstat(fd, &st) != 0)
		memset(&st, 0, sizeof st);
	if (S_ISDIR(st.st_mode) ||
	    (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max)) {
		if (fd != STDIN_FILENO)
			close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : LI707_ELIMIT;
	}
	if (S_ISREG(st.st_mode))
		chunk = (size_t)st.st_size + 1; /* one read and the EOF: no realloc for a regular file */
	/* max bytes, one more to see that the input goes on, and the NUL */
	struct lx_dynbuf d;
	lx_dynbuf_init(&d, max < SIZE_MAX - 2 ? max + 2 : SIZE_MAX);
	int rc = 0;
	for (;;) {
		size_t room = d.max - 1 - d.len; /* >= 1: d.len <= max here */
		if (d.alloc <= d.len + 1 &&
		    (rc = lx_dynbuf_reserve(&d, chunk < room ? chunk : room)))
			goto out;
		size_t want = d.alloc - d.len - 1;
		ssize_t r = read(fd, d.buf + d.len, want < room ? want : room);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		lx_dynbuf_commit(&d, (size_t)r);
		if (d.len > max) {
			rc = LI707_ELIMIT;
			goto out;
		}
	}
	lx_dynbuf_commit(&d, 0); /* the NUL, also for an empty input */
	*buf = lx_dynbuf_take(&d, len);
out:
	lx_dynbuf_free(&d);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

const char *tool_severity_name(enum li707_severity s)
{
	switch (s) {
	case LI707_SEV_ERROR: return "error";
	case LI707_SEV_WARNING: return "warning";
	case LI707_SEV_NOTE: return "note";
	}
	return "error";
}

void tool_print_diag(FILE *f, const char *file, const struct li707_diag *d)
{
	if (d->line > 0)
		fprintf(f, "  %s:%ld: %s", file, d->line, tool_severity_name(d->severity));
	else
		fprintf(f, "  %s: %s", file, tool_severity_name(d->severity));
	if (d->req)
		fprintf(f, " [%s]", d->req);
	if (d->path && *d->path)
		fprintf(f, " %s", d->path);
	fprintf(f, ": %s\n", d->message ? d->message : "");
}

bool tool_parse_ulong(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	/* '+': stop at the command name; its options belong to the command. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("li707 %s\n", LI707_VERSION);
			return 0;
		default:
			return tool_bad_option("", argc, argv);
		}
	}
	if (optind >= argc)
		return tool_usage_error("", "a command is required");
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(name, commands[i].name) != 0)
			continue;
		li707_global_init();
		int cargc = argc - optind;
		char **cargv = argv + optind;
		optind = 0; /* glibc: full re-initialisation of getopt for the command */
		int rc = commands[i].run(cargc, cargv);
		li707_global_cleanup();
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "li707 %s: cannot write the output: %s\n", name,
				strerror(errno));
			if (rc == 0)
				rc = li707_exit_code(-EIO);
		}
		return rc;
	}
	return tool_usage_error("", "unknown command '%.40s'", name);
}
