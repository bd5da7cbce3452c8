/* csp_push_drive - pushes one object through csp_push (src/csp/csp_push.c) the way li707-csp
 * will, for tests/integration/test_csp_push.sh. Prints the result as one JSON object:
 *   {"rc":0,"verdict":"stored","http":201,"got_100":true,"expect_ms":5000,
 *    "retry_after":-1,"bytes":11,"reason":"HTTP 201 after 100 Continue"}
 * Exit status: 0 the push ran (whatever the verdict) or ended before sending with a verdict
 * (expired record, size mismatch), 2 usage, 3 anything else.
 * Usage: csp_push_drive --scheme S --uuid U --file F --content-type T [--size N] [--expiry E]
 *        [--expect-timeout MS] [--timeout MS] [--cacert F] [--cert F --key F] */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csp_push.h"
#include "li707/li707.h"

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"scheme", required_argument, NULL, 's'}, {"uuid", required_argument, NULL, 'u'},
		{"file", required_argument, NULL, 'f'},   {"content-type", required_argument, NULL, 't'},
		{"size", required_argument, NULL, 'n'},   {"expiry", required_argument, NULL, 'e'},
		{"expect-timeout", required_argument, NULL, 'x'},
		{"timeout", required_argument, NULL, 'T'}, {"cacert", required_argument, NULL, 'C'},
		{"cert", required_argument, NULL, 'c'},   {"key", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	const char *scheme = NULL;
	struct csp_push_object o = {.size = -1};
	struct lx_http_client_opts co = {0};
	long expect = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': scheme = optarg; break;
		case 'u': o.uuid = optarg; break;
		case 'f': o.path = optarg; break;
		case 't': o.content_type = optarg; break;
		case 'n': o.size = strtoll(optarg, NULL, 10); break;
		case 'e': o.expiry = optarg; break;
		case 'x': expect = strtol(optarg, NULL, 10); break;
		case 'T': co.timeout_ms = strtol(optarg, NULL, 10); break;
		case 'C': co.ca_file = optarg; break;
		case 'c': co.cert_file = optarg; break;
		case 'k': co.key_file = optarg; break;
		default: fprintf(stderr, "csp_push_drive: bad option\n"); return 2;
		}
	}
	if (!scheme || !o.uuid || !o.path || !o.content_type || optind != argc) {
		fprintf(stderr, "csp_push_drive: --scheme, --uuid, --file, --content-type required\n");
		return 2;
	}
	if (lx_http_global_init() != 0)
		return 3;
	struct lx_http_client *cl = NULL;
	char err[256];
	if (lx_http_client_new(&co, &cl, err, sizeof err) != 0) {
		fprintf(stderr, "csp_push_drive: %s\n", err);
		return 3;
	}
	struct csp_push_result r;
	memset(&r, 0, sizeof r);
	int rc = csp_push_one(cl, scheme, &o, expect, &r);
	lx_http_client_free(cl);
	lx_http_global_cleanup();
	bool have = rc == 0 || rc == LI707_EMISMATCH || rc == -ETIME;
	if (!have) {
		fprintf(stderr, "csp_push_drive: %s\n", li707_strerror(rc));
		return 3;
	}
	json_t *j = json_pack("{s:i,s:s,s:I,s:b,s:I,s:I,s:I,s:s}", "rc", rc, "verdict",
			      lx_push_verdict_name(r.verdict), "http", (json_int_t)r.http_status,
			      "got_100", r.got_100,
			      "expect_ms", (json_int_t)r.expect_ms, "retry_after",
			      (json_int_t)r.retry_after, "bytes", (json_int_t)r.bytes, "reason", r.reason);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!s)
		return 3;
	puts(s);
	free(s);
	return 0;
}
