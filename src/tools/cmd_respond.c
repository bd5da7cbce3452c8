/* li707 respond - the HI-1 response an LEA would return for a message (R-TRN-3).
 *
 * A request that decodes gets li707_response_for(): one ActionResponse per action,
 * DELIVERResponse or ErrorInformation. A file that cannot be decoded at all (not XML, over a
 * cap) or that is itself a response gets a top-level ErrorInformation. The XML goes to
 * stdout; the exit status is 0 whenever a response was produced, whatever it says. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char help_text[] =
	"Usage: li707 respond FILE\n"
	"\n"
	"Decode FILE (an HI1Message; '-' for standard input) and print, as XML, the HI-1\n"
	"response an LEA would return: a DELIVERResponse for every DELIVER that is valid, an\n"
	"ErrorInformation for every action that is not, or a top-level ErrorInformation when\n"
	"the message could not be decoded. Diagnostics of the request go to standard error.\n"
	"\n"
	"Options:\n"
	"  -h, --help   print this help and exit\n"
	"\n"
	"Exit status: 0 a response was produced (whatever it says), 2 usage, 3 I/O error,\n"
	"5 internal error.\n";

/* The first error diagnostic's message, for a top-level ErrorDescription. */
static const char *first_error(const struct li707_diags *d, int rc)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].severity == LI707_SEV_ERROR && d->v[i].message)
			return d->v[i].message;
	return li707_strerror(rc);
}

int tool_cmd_respond(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help_text, stdout);
			return 0;
		}
		return tool_bad_option("respond", argc, argv);
	}
	if (optind >= argc)
		return tool_usage_error("respond", "a FILE is required");
	if (optind + 1 < argc)
		return tool_usage_error("respond", "only one FILE is accepted");
	const char *file = argv[optind];

	struct li707_limits lim = {0};
	li707_limits_resolve(&lim);
	char *buf = NULL;
	size_t len = 0;
	int rc = tool_read_file(file, lim.max_document_bytes, &buf, &len);
	struct li707_diags d = {0};
	struct li707_message *req = NULL, *resp = NULL;
	char *xml = NULL;
	size_t xml_len = 0;
	int status;

	if (rc && rc != LI707_ELIMIT) {
		fprintf(stderr, "li707 respond: %s: %s\n", file, li707_strerror(rc));
		return li707_exit_code(rc);
	}
	if (rc == LI707_ELIMIT) {
		/* Too big to read: the LEA would refuse it at the top level. */
		rc = li707_response_top_error(NULL, LI707_ELIMIT, "the message exceeds the size limit",
					      &resp);
	} else {
		int drc = li707_message_decode(buf, len, &lim, &req, &d);
		for (size_t i = 0; i < d.n; i++)
			tool_print_diag(stderr, file, &d.v[i]);
		if (req && req->kind == LI707_MSG_REQUEST)
			rc = li707_response_for(req, &d, &resp);
		else if (req)
			rc = li707_response_top_error(&req->header, LI707_ENOTSUP,
						      "a response is not a request", &resp);
		else
			rc = li707_response_top_error(NULL, drc ? drc : LI707_EXML,
						      first_error(&d, drc), &resp);
	}
	if (rc) {
		fprintf(stderr, "li707 respond: cannot build the response: %s\n", li707_strerror(rc));
		status = li707_exit_code(rc);
		goto out;
	}
	struct li707_diags ed = {0};
	rc = li707_message_encode(resp, &xml, &xml_len, &ed);
	if (rc) {
		fprintf(stderr, "li707 respond: cannot encode the response: %s\n", li707_strerror(rc));
		for (size_t i = 0; i < ed.n; i++)
			tool_print_diag(stderr, "response", &ed.v[i]);
		li707_diags_clear(&ed);
		/* Our own response failed our own checks: that is an internal error. */
		status = rc == LI707_ENOMEM ? li707_exit_code(rc) : 5;
		goto out;
	}
	li707_diags_clear(&ed);
	fwrite(xml, 1, xml_len, stdout);
	if (xml_len == 0 || xml[xml_len - 1] != '\n')
		putchar('\n');
	status = 0;
out:
	free(xml);
	li707_message_free(resp);
	li707_message_free(req);
	li707_diags_clear(&d);
	free(buf);
	return status;
}
