/* li707 post-binary - Model B upload of a binary object (TS 103 707 Annex C.3; R-BIN-B2,
 * R-BIN-B3): POST FILE with its MIME type, Content-Length from the file size and always
 * `Expect: 100-continue`, waiting up to the continue timeout for the LEA's 100 before the
 * body is sent anyway. The continue timeout follows the record's expiry (--expiry), bounded
 * by --expect-timeout (lx_continue_timeout_ms, src/common/continue_timeout.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "continue_timeout.h"
#include "http_client.h"
#include "push.h"
#include "tool.h"

static const char help_text[] =
	"Usage: li707 post-binary [OPTIONS] URL FILE --content-type TYPE\n"
	"\n"
	"POST the binary object in FILE to URL (Model B, TS 103 707 Annex C.3) with\n"
	"Content-Type TYPE, Content-Length from the file size and 'Expect: 100-continue'.\n"
	"Prints the final HTTP status on standard output.\n"
	"\n"
	"Options:\n"
	"  -t, --content-type T   MIME type of the object (required)\n"
	"  --expiry T             the binaryData record's expiry (QualifiedDateTime, e.g.\n"
	"                         2026-03-01T10:00:00Z): the continue timeout lasts until then,\n"
	"                         at most --expect-timeout; refused once it has passed\n"
	"  --expect-timeout S     longest wait for '100 Continue' before the body is sent\n"
	"                         anyway [30]\n"
	"  -h, --help             print this help and exit\n";

static const char help_tail[] =
	"\n"
	"The LEA's answer is given as a verdict (stored, mismatch, refused, retry) with its\n"
	"reason.\n"
	"\n"
	"Exit status: 0 the LEA answered 2xx, 2 usage, 3 transport failure, another HTTP\n"
	"status or the expiry has passed (the reason is printed), 5 internal error.\n";

enum { OPT_EXPECT_TIMEOUT = TOOL_OPT_CMD_BASE, OPT_EXPIRY };

int tool_cmd_post_binary(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"content-type", required_argument, NULL, 't'},
		{"expect-timeout", required_argument, NULL, OPT_EXPECT_TIMEOUT},
		{"expiry", required_argument, NULL, OPT_EXPIRY},
		TOOL_CLIENT_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct tool_client tc;
	tool_client_init(&tc);
	const char *ctype = NULL, *expiry = NULL;
	long expect_max_ms = LX_CONTINUE_TIMEOUT_MAX_MS_DEFAULT;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ht:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(help_text, stdout);
			fputs(tool_client_help, stdout);
			fputs(help_tail, stdout);
			return 0;
		case 't':
			if (!*optarg || strpbrk(optarg, "\r\n") || strlen(optarg) > 255)
				return tool_usage_error("post-binary", "bad --content-type");
			ctype = optarg;
			continue;
		case OPT_EXPECT_TIMEOUT:
			if (!tool_parse_seconds(optarg, &expect_max_ms))
				return tool_usage_error("post-binary",
							"--expect-timeout wants seconds in (0, 86400]");
			continue;
		case OPT_EXPIRY:
			expiry = optarg;
			continue;
		default: {
			int r = tool_client_option(&tc, "post-binary", c, optarg);
			if (r >= 0) {
				if (r)
					return r;
				continue;
			}
			return tool_bad_option("post-binary", argc, argv);
		}
		}
	}
	if (argc - optind != 2)
		return tool_usage_error("post-binary", "a URL and a FILE are required");
	if (!ctype)
		return tool_usage_error("post-binary", "--content-type is required");
	const char *url = argv[optind], *file = argv[optind + 1];
	/* The push itself is src/common/push.c, shared with li707-csp (csp_push.c): the
	 * continue timeout follows the record's expiry (TS103707 R-BIN-B3), the body is
	 * streamed from the file, the LEA's answer gets a verdict. */
	struct lx_push p = {.fd = -1};
	struct lx_push_req preq = {.url = url, .path = file, .size = -1, .content_type = ctype,
				   .expiry = expiry, .expect_max_ms = expect_max_ms};
	struct li707_time now;
	int trc = li707_time_now(&now);
	if (trc == 0)
		trc = lx_push_prepare(&p, &preq, now.epoch, now.usec);
	if (trc == LI707_EINVALID)
		return tool_usage_error("post-binary", "--expiry wants a QualifiedDateTime such as "
						       "2026-03-01T10:00:00Z");
	if (trc == -ETIME) {
		fprintf(stderr, "li707 post-binary: %s\n", p.reason);
		return li707_exit_code(trc);
	}
	if (trc < 0 && trc > LI707_ENOMEM) { /* -errno: the file */
		fprintf(stderr, "li707 post-binary: %s: %s\n", file,
			trc == -EINVAL ? "not a regular file" : strerror(-trc));
		return 3;
	}
	if (trc) {
		fprintf(stderr, "li707 post-binary: %s\n", li707_strerror(trc));
		return li707_exit_code(trc);
	}
	int status = 5;
	struct lx_http_client *cl = NULL;
	if (lx_http_global_init() != 0) {
		lx_push_done(&p);
		return 5;
	}
	status = tool_client_open(&tc, "post-binary", 0, &cl);
	if (status)
		goto out;
	int rc = lx_http_perform(cl, &p.xfer, &p.res);
	if (rc) {
		fprintf(stderr, "li707 post-binary: %s\n", li707_strerror(rc));
		status = li707_exit_code(rc);
		goto out;
	}
	lx_push_classify(&p);
	if (p.res.err) {
		/* One line for an answer of the LEA (its verdict and status), two for a
		 * transport failure (what failed, then the verdict: retry). */
		status = p.res.err == LX_HTTP_ESTATUS ? 3 : tool_client_failure("post-binary", &p.res);
		fprintf(stderr, "li707 post-binary: %s: %s\n", lx_push_verdict_name(p.verdict),
			p.reason);
		goto out;
	}
	printf("HTTP %ld%s: %s\n", p.res.status, p.res.got_100 ? " (after 100 Continue)" : "",
	       lx_push_verdict_name(p.verdict));
	status = 0;
out:
	lx_push_done(&p);
	lx_http_client_free(cl);
	lx_http_global_cleanup();
	return status;
}
