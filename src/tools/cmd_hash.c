/* li707 hash - salted hashes of sensitive fields, TS 103 707 Annex D.4 (R-SEC-7).
 *
 *   li707 hash create [--salt-bytes N] [--field-file F]
 *   li707 hash verify RECORD [--field-file F]
 *   li707 hash verify --salt HEX --hash HEX [--field-file F]
 *
 * The field is read from stdin or from F, never from the command line (argv is visible to
 * every user of the machine). One trailing newline ("\n" or "\r\n") is stripped from stdin,
 * so `echo FIELD | li707 hash create` hashes FIELD; a --field-file is taken byte for byte.
 * The field buffer is wiped after use. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

#define FIELD_MAX ((size_t)1 << 20) /* 1 MiB: a field is an identifier, not a document */

static const char help_text[] =
	"Usage: li707 hash create [--salt-bytes N] [--field-file F]\n"
	"       li707 hash verify RECORD [--field-file F]\n"
	"       li707 hash verify --salt HEX --hash HEX [--field-file F]\n"
	"\n"
	"Salted hashes of sensitive fields (TS 103 707 Annex D.4). The field is read from\n"
	"standard input (one trailing newline removed) or from F (taken byte for byte); it is\n"
	"never given on the command line. 'create' prints a record v1$<salt hex>$<hash hex>;\n"
	"'verify' checks a field against a record, or against a salt and a hash supplied by\n"
	"the LEA, and prints 'match' or 'mismatch'.\n"
	"\n"
	"Options:\n"
	"  --salt-bytes N    salt length in bytes, 1-1024 (default 32)\n"
	"  --field-file F    read the field from F instead of standard input\n"
	"  --salt HEX        the salt (verify, with --hash)\n"
	"  --hash HEX        the hash (verify, with --salt)\n"
	"  -h, --help        print this help and exit\n"
	"\n"
	"Exit status: 0 created / match, 1 mismatch, 2 usage, 3 I/O error,\n"
	"4 malformed record, salt or hash, 5 internal error.\n";

/* Reads the field into one buffer of FIELD_MAX + 1 bytes (never reallocated, so no copy of
 * the field is left behind in freed memory); the caller wipes and frees it. */
static int read_field(const char *file, char **buf, size_t *len)
{
	int fd = file ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0)
		return -errno;
	char *b = malloc(FIELD_MAX + 2);
	size_t n = 0;
	int rc = 0;
	if (!b) {
		rc = LI707_ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, b + n, FIELD_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > FIELD_MAX) {
			rc = LI707_ELIMIT;
			break;
		}
	}
	if (rc) {
		li707_wipe(b, n);
		free(b);
		b = NULL;
		goto out;
	}
	if (!file && n > 0 && b[n - 1] == '\n') {
		b[--n] = '\0';
		if (n > 0 && b[n - 1] == '\r')
			b[--n] = '\0';
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

static void field_free(char *buf, size_t len)
{
	if (!buf)
		return;
	li707_wipe(buf, len + 1);
	free(buf);
}

static int report_read_error(const char *file, int rc)
{
	if (rc == LI707_ELIMIT)
		fprintf(stderr, "li707 hash: the field is longer than %zu bytes\n", FIELD_MAX);
	else
		fprintf(stderr, "li707 hash: cannot read the field from %s: %s\n",
			file ? file : "standard input", li707_strerror(rc));
	return li707_exit_code(rc == LI707_ELIMIT ? LI707_EINPUT : rc);
}

int tool_cmd_hash(int argc, char **argv)
{
	static const struct option opts[] = {
		{"salt-bytes", required_argument, NULL, 's'},
		{"field-file", required_argument, NULL, 'f'},
		{"salt", required_argument, NULL, 'S'},
		{"hash", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *field_file = NULL, *salt = NULL, *hash = NULL;
	unsigned long long salt_bytes = LI707_SALT_DEFAULT_LEN;
	bool have_salt_bytes = false;
	int c;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(help_text, stdout);
		return 0;
	}
	if (argc < 2)
		return tool_usage_error("hash", "a subcommand is required (create or verify)");
	const char *sub = argv[1];
	bool create = strcmp(sub, "create") == 0;
	if (!create && strcmp(sub, "verify") != 0)
		return tool_usage_error("hash", "unknown subcommand '%.40s'", sub);
	argc--;
	argv++;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!tool_parse_ulong(optarg, 1, LI707_SALT_MAX_LEN, &salt_bytes))
				return tool_usage_error("hash", "--salt-bytes needs a number from 1 to %d",
							LI707_SALT_MAX_LEN);
			have_salt_bytes = true;
			break;
		case 'f': field_file = optarg; break;
		case 'S': salt = optarg; break;
		case 'H': hash = optarg; break;
		case 'h': fputs(help_text, stdout); return 0;
		default: return tool_bad_option("hash", argc, argv);
		}
	}
	const char *record = NULL;
	if (create) {
		if (salt || hash)
			return tool_usage_error("hash", "--salt and --hash belong to 'verify'");
		if (optind < argc)
			return tool_usage_error("hash", "'create' takes no arguments");
	} else {
		if (have_salt_bytes)
			return tool_usage_error("hash", "--salt-bytes belongs to 'create'");
		if (!!salt != !!hash)
			return tool_usage_error("hash", "--salt and --hash go together");
		if (salt) {
			if (optind < argc)
				return tool_usage_error("hash", "give a RECORD or --salt/--hash, not both");
		} else {
			if (optind >= argc)
				return tool_usage_error("hash", "'verify' needs a RECORD or --salt and --hash");
			if (optind + 1 < argc)
				return tool_usage_error("hash", "'verify' takes one RECORD");
			record = argv[optind];
		}
	}

	char *field = NULL;
	size_t field_len = 0;
	int rc = read_field(field_file, &field, &field_len);
	if (rc)
		return report_read_error(field_file, rc);

	if (create) {
		char *out = NULL;
		rc = li707_hash_create((const uint8_t *)field, field_len, (size_t)salt_bytes, &out);
		field_free(field, field_len);
		if (rc) {
			fprintf(stderr, "li707 hash: cannot create the hash: %s\n", li707_strerror(rc));
			return li707_exit_code(rc);
		}
		printf("%s\n", out);
		li707_secret_free(out);
		return 0;
	}

	if (record)
		rc = li707_hash_verify(record, (const uint8_t *)field, field_len);
	else
		rc = li707_hash_verify_parts(salt, hash, (const uint8_t *)field, field_len);
	field_free(field, field_len);
	if (rc == 0) {
		puts("match");
		return 0;
	}
	if (rc == LI707_EMISMATCH) {
		puts("mismatch");
		return li707_exit_code(rc);
	}
	if (rc == LI707_EINPUT)
		fprintf(stderr, "li707 hash: malformed %s\n", record ? "record" : "salt or hash");
	else
		fprintf(stderr, "li707 hash: cannot verify: %s\n", li707_strerror(rc));
	return li707_exit_code(rc);
}
