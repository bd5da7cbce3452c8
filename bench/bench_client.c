/* bench_client - 2 KB POST rate through the li707 HTTPS client (R-BIN-2, R-TRN-1): N POSTs
 * over one multi handle with K parallel keep-alive connections and a client certificate.
 *
 * usage: bench_client URL N K CERT KEY CACERT
 * Prints "requests_per_second FAILED" on stdout. Each completed transfer submits the next one
 * from its done callback, so at most K are in flight (the daemon's pattern). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"

struct bench {
	struct lx_http_client *c;
	struct lx_http_transfer req;
	struct lx_http_result *res;
	long next, n, failed;
};

static void done(void *ud, struct lx_http_result *r);

static void submit_next(struct bench *b)
{
	if (b->next >= b->n)
		return;
	long i = b->next++;
	if (lx_http_submit(b->c, &b->req, &b->res[i]) != 0)
		b->failed++;
}

static void done(void *ud, struct lx_http_result *r)
{
	struct bench *b = ud;
	if (r->err != LX_HTTP_OK) {
		if (b->failed++ == 0)
			fprintf(stderr, "bench_client: %s: %s\n", lx_http_errname(r->err), r->detail);
	}
	lx_http_result_done(r);
	submit_next(b);
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: bench_client URL N K CERT KEY CACERT\n");
		return 2;
	}
	long n = atol(argv[2]), k = atol(argv[3]);
	if (n <= 0 || k <= 0 || k > 256)
		return 2;
	lx_http_global_init();
	struct lx_http_client_opts o = {.cert_file = argv[4], .key_file = argv[5],
					   .ca_file = argv[6], .max_host_connections = k,
					   .max_active = k};
	struct bench b = {.n = n};
	char err[256];
	if (lx_http_client_new(&o, &b.c, err, sizeof err) != 0) {
		fprintf(stderr, "bench_client: %s\n", err);
		return 1;
	}
	static char body[2048];
	memset(body, 'x', sizeof body);
	lx_http_transfer_init(&b.req);
	b.req.url = argv[1];
	b.req.post = true;
	b.req.content_type = "application/xml";
	b.req.body = body;
	b.req.body_len = sizeof body;
	b.req.done = done;
	b.req.done_ud = &b;
	b.res = calloc((size_t)n, sizeof *b.res);
	if (!b.res)
		return 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < k; i++)
		submit_next(&b);
	lx_http_run(b.c, -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.1f %ld\n", (double)n / s, b.failed);
	lx_http_client_free(b.c);
	free(b.res);
	lx_http_global_cleanup();
	return b.failed ? 1 : 0;
}
