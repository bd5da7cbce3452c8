/* li707 send - POST an HI1Message over HTTPS and read the HI-1 response (R-TRN-1, R-TRN-3).
 *
 * The message goes as Content-Type application/xml; the answer (capped at 16 MiB) is
 * decoded with li707_message_decode. Standard output gets one line per ActionResponse (and
 * the raw XML with --xml); standard error only transport failures and generic decoding
 * failures, never message content (R-SEC-6). An answer with an HTTP error status is still
 * decoded: when it is an HI-1 response (some LEAs answer 500 with ErrorInformation), its
 * summary (and XML with --xml) is printed before the transport failure is reported.
 * Exit status: 0 every action got a DELIVERResponse, 1 the response carries ErrorInformation
 * or is not an HI-1 response, 2 usage, 3 transport failure (classified; also an HTTP error
 * status that came with an HI-1 response), 5 internal. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "tool.h"

static const char help_text[] =
	"Usage: li707 send [OPTIONS] URL FILE\n"
	"\n"
	"POST the HI1Message in FILE ('-' for standard input) to URL (https://) with\n"
	"Content-Type application/xml, decode the HI-1 response and print one line per\n"
	"ActionResponse: 'action ID: DELIVERResponse' or 'action ID: ErrorInformation CODE:\n"
	"DESCRIPTION'. An HI-1 response that comes with an HTTP error status is printed\n"
	"the same way before the transport failure is reported.\n"
	"\n"
	"Options:\n"
	"  -x, --xml              also print the response XML (before the summary)\n"
	"  -h, --help             print this help and exit\n";

static const char help_tail[] =
	"\n"
	"Exit status: 0 every action got a DELIVERResponse, 1 the response carries\n"
	"ErrorInformation (or is not an HI-1 response), 2 usage, 3 transport failure (TLS,\n"
	"HTTP status even with an HI-1 response, timeout, reset, DNS/connect; the reason is\n"
	"printed), 5 internal error.\n";

static const char *verb_name(enum li707_verb v)
{
	return v == LI707_VERB_DELIVER ? "DELIVERResponse" : "response to another action";
}

/* Prints the summary; returns the exit status the response calls for. req is the request as
 * sent, when it decodes: then every action must be answered (li707_response_match, R-RSP-1). */
static int summarise(const struct li707_message *req, const struct li707_message *m)
{
	int status = 0;
	if (m->top_error) {
		printf("ErrorInformation %u: %s\n", m->error_code,
		       m->error_description ? m->error_description : "");
		status = 1;
	}
	for (size_t i = 0; i < m->n_responses; i++) {
		const struct li707_action_response *r = &m->responses[i];
		if (r->is_error) {
			printf("action %llu: ErrorInformation %u: %s\n", (unsigned long long)r->action_id,
			       r->error_code, r->error_description ? r->error_description : "");
			status = 1;
		} else {
			printf("action %llu: %s\n", (unsigned long long)r->action_id, verb_name(r->verb));
			if (r->verb != LI707_VERB_DELIVER)
				status = 1;
		}
	}
	if (!m->top_error && m->n_responses == 0) {
		printf("no ActionResponse\n");
		status = 1;
	}
	if (!req || req->kind != LI707_MSG_REQUEST || req->n_actions == 0)
		return status;
	struct li707_action_outcome *o = calloc(req->n_actions, sizeof *o);
	if (!o)
		return 5;
	size_t extra = 0;
	if (li707_response_match(req, m, o, &extra) != 0)
		status = 1;
	for (size_t i = 0; i < req->n_actions && !m->top_error; i++) {
		if (o[i].outcome == LI707_OUTCOME_MISSING)
			printf("action %llu: no ActionResponse\n", (unsigned long long)o[i].action_id);
		else if (o[i].outcome == LI707_OUTCOME_MISMATCH)
			printf("action %llu: the answer does not match the request\n",
			       (unsigned long long)o[i].action_id);
	}
	if (extra)
		printf("%zu ActionResponse%s answer%s no action of the request\n", extra,
		       extra == 1 ? "" : "s", extra == 1 ? "s" : "");
	free(o);
	return status;
}

static void print_body(const struct lx_http_result *res)
{
	fwrite(res->body, 1, res->body_len, stdout);
	if (res->body[res->body_len - 1] != '\n')
		putchar('\n');
}

/* The body of an answer with an HTTP error status: printed (summary, and the XML with --xml)
 * only when it decodes as an HI-1 response; anything else (an HTML error page) is dropped. */
static void show_error_answer(const struct lx_http_result *res, const struct li707_limits *lim,
			      bool print_xml)
{
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	(void)li707_message_decode(res->body, res->body_len, lim, &m, &d);
	if (m && m->kind == LI707_MSG_RESPONSE) {
		if (print_xml)
			print_body(res);
		(void)summarise(NULL, m);
		fflush(stdout);
	}
	li707_message_free(m);
	li707_diags_clear(&d);
}

int tool_cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"xml", no_argument, NULL, 'x'},
		TOOL_CLIENT_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct tool_client tc;
	tool_client_init(&tc);
	bool print_xml = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hx", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help_text, stdout);
			fputs(tool_client_help, stdout);
			fputs(help_tail, stdout);
			return 0;
		}
		if (c == 'x') {
			print_xml = true;
			continue;
		}
		int r = tool_client_option(&tc, "send", c, optarg);
		if (r >= 0) {
			if (r)
				return r;
			continue;
		}
		return tool_bad_option("send", argc, argv);
	}
	if (argc - optind != 2)
		return tool_usage_error("send", "a URL and a FILE are required");
	const char *url = argv[optind], *file = argv[optind + 1];

	struct li707_limits lim = {0};
	li707_limits_resolve(&lim);
	char *msg = NULL;
	size_t msg_len = 0;
	int rc = tool_read_file(file, lim.max_document_bytes, &msg, &msg_len);
	if (rc) {
		fprintf(stderr, "li707 send: %s: %s\n", file, li707_strerror(rc));
		return li707_exit_code(rc);
	}
	int status = 5;
	struct lx_http_client *cl = NULL;
	struct lx_http_result res = {0};
	struct li707_message *resp = NULL, *sent = NULL;
	struct li707_diags d = {0};
	if (lx_http_global_init() != 0) {
		fprintf(stderr, "li707 send: cannot initialise libcurl\n");
		free(msg);
		return 5;
	}
	status = tool_client_open(&tc, "send", 0, &cl);
	if (status)
		goto out;
	struct lx_http_transfer req;
	lx_http_transfer_init(&req);
	req.url = url;
	req.post = true;
	req.content_type = "application/xml";
	req.body = msg;
	req.body_len = msg_len;
	req.max_body = LX_HTTP_MAX_BODY_DEFAULT;
	rc = lx_http_perform(cl, &req, &res);
	if (rc) {
		fprintf(stderr, "li707 send: %s\n", li707_strerror(rc));
		status = li707_exit_code(rc);
		goto out;
	}
	if (res.err) {
		/* An error status may still carry the LEA's HI-1 answer: show it, then fail. */
		if (res.err == LX_HTTP_ESTATUS && res.body_len)
			show_error_answer(&res, &lim, print_xml);
		status = tool_client_failure("send", &res);
		goto out;
	}
	if (print_xml && res.body_len)
		print_body(&res);
	rc = li707_message_decode(res.body ? res.body : "", res.body_len, &lim, &resp, &d);
	if (!resp || resp->kind != LI707_MSG_RESPONSE) {
		/* Details of the decoder could quote the content: only the verdict here. */
		fprintf(stderr, "li707 send: the answer (HTTP %ld, %zu bytes) is not an HI-1 response: %s\n",
			res.status, res.body_len, li707_strerror(rc ? rc : LI707_EINVALID));
		status = 1;
		goto out;
	}
	/* the request as sent, to match the answers to its actions; one that does not decode
	 * (li707 send also sends test input) is summarised from the response alone */
	struct li707_diags rd = {0};
	li707_message_decode(msg, msg_len, &lim, &sent, &rd);
	li707_diags_clear(&rd);
	status = summarise(sent, resp);
out:
	li707_message_free(sent);
	li707_message_free(resp);
	li707_diags_clear(&d);
	lx_http_result_done(&res);
	lx_http_client_free(cl);
	lx_http_global_cleanup();
	free(msg);
	return status;
}
