/* bench_lea_load - HI-1 delivery load for li707-lea (bench/bench_lea.sh): N POSTs of fresh
 * deliveries over K parallel keep-alive connections with a client certificate (R-TRN-1,
 * R-SEC-2), through the li707 HTTPS client.
 *
 * usage: bench_lea_load [--any-200] URL TEMPLATE N K CERT KEY CACERT
 *
 * TEMPLATE is one HI1Message. Every request is a copy in which each distinct UUID of the
 * template (TransactionIdentifier, ObjectIdentifier, DELIVER Identifier, DeliveryID) is
 * replaced by a fresh one, consistently within the copy, so the LEA stores N new deliveries
 * instead of acknowledging duplicates. A request counts as good when the status is 200 and,
 * unless --any-200 (the nginx baseline, which answers a fixed page), the HI-1 response has a
 * DELIVERResponse and no ErrorInformation.
 *
 * Prints "requests_per_second failed" on stdout; exit 1 when any request failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "li707/li707.h"

#define MAX_UUIDS 16

struct load {
	struct lx_http_client *c;
	const char *url;
	const char *tpl;
	size_t tpl_len;
	size_t uuid_at[MAX_UUIDS * 8]; /* offsets of UUIDs in the template */
	int uuid_class[MAX_UUIDS * 8]; /* which distinct UUID each is */
	size_t n_at, n_class;
	bool any_200;
	long next, n, failed;
};

struct one {
	struct load *l;
	char *body;
	struct lx_http_result res;
};

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

static bool uuid_at(const char *p, const char *end)
{
	static const int dash[] = {8, 13, 18, 23};
	if (end - p < 36)
		return false;
	for (int i = 0, d = 0; i < 36; i++) {
		if (d < 4 && i == dash[d]) {
			if (p[i] != '-')
				return false;
			d++;
		} else if (!is_hex(p[i])) {
			return false;
		}
	}
	return true;
}

/* Finds the UUIDs of the template and groups equal ones. */
static int scan_template(struct load *l)
{
	const char *p = l->tpl, *end = l->tpl + l->tpl_len;
	while (p < end) {
		if (!uuid_at(p, end)) {
			p++;
			continue;
		}
		if (l->n_at == sizeof l->uuid_at / sizeof l->uuid_at[0])
			return -1;
		size_t cls = 0;
		while (cls < l->n_at && memcmp(l->tpl + l->uuid_at[cls], p, 36) != 0)
			cls++;
		int c = cls < l->n_at ? l->uuid_class[cls] : (int)l->n_class++;
		if (l->n_class > MAX_UUIDS)
			return -1;
		l->uuid_at[l->n_at] = (size_t)(p - l->tpl);
		l->uuid_class[l->n_at++] = c;
		p += 36;
	}
	return l->n_class ? 0 : -1;
}

static void done(void *ud, struct lx_http_result *r);

static void submit_next(struct load *l)
{
	if (l->next >= l->n)
		return;
	l->next++;
	struct one *o = calloc(1, sizeof *o);
	char fresh[MAX_UUIDS][37];
	if (!o || !(o->body = malloc(l->tpl_len))) {
		free(o);
		l->failed++;
		return;
	}
	o->l = l;
	memcpy(o->body, l->tpl, l->tpl_len);
	for (size_t i = 0; i < l->n_class; i++)
		li707_uuid_new(fresh[i]);
	for (size_t i = 0; i < l->n_at; i++)
		memcpy(o->body + l->uuid_at[i], fresh[l->uuid_class[i]], 36);
	struct lx_http_transfer req;
	lx_http_transfer_init(&req);
	req.url = l->url;
	req.post = true;
	req.content_type = "application/xml";
	req.body = o->body;
	req.body_len = l->tpl_len;
	req.done = done;
	req.done_ud = o;
	if (lx_http_submit(l->c, &req, &o->res) != 0) {
		l->failed++;
		free(o->body);
		free(o);
	}
}

static void done(void *ud, struct lx_http_result *r)
{
	struct one *o = ud;
	struct load *l = o->l;
	bool ok = r->err == LX_HTTP_OK && r->status == 200;
	if (ok && !l->any_200)
		ok = r->body && strstr(r->body, "DELIVERResponse") &&
		     !strstr(r->body, "ErrorInformation");
	if (!ok && l->failed++ == 0)
		fprintf(stderr, "bench_lea_load: first failure: %s, HTTP %ld: %.300s\n",
			lx_http_errname(r->err), r->status, r->body ? r->body : r->detail);
	lx_http_result_done(r);
	free(o->body);
	free(o);
	submit_next(l);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	do {
		if (n == cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	struct load l = {0};
	int a = 1;
	if (argc > 1 && strcmp(argv[1], "--any-200") == 0) {
		l.any_200 = true;
		a++;
	}
	if (argc - a != 7) {
		fprintf(stderr, "usage: bench_lea_load [--any-200] URL TEMPLATE N K CERT KEY CACERT\n");
		return 2;
	}
	l.url = argv[a];
	l.n = atol(argv[a + 2]);
	long k = atol(argv[a + 3]);
	if (l.n <= 0 || k <= 0 || k > 256)
		return 2;
	char *tpl = slurp(argv[a + 1], &l.tpl_len);
	if (!tpl) {
		fprintf(stderr, "bench_lea_load: cannot read %s\n", argv[a + 1]);
		return 1;
	}
	l.tpl = tpl;
	if (scan_template(&l) != 0) {
		fprintf(stderr, "bench_lea_load: the template has no UUID, or too many\n");
		return 1;
	}
	li707_global_init();
	lx_http_global_init();
	struct lx_http_client_opts o = {.cert_file = argv[a + 4], .key_file = argv[a + 5],
					   .ca_file = argv[a + 6], .max_host_connections = k,
					   .max_active = k};
	char err[256];
	if (lx_http_client_new(&o, &l.c, err, sizeof err) != 0) {
		fprintf(stderr, "bench_lea_load: %s\n", err);
		return 1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < k; i++)
		submit_next(&l);
	lx_http_run(l.c, -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.1f %ld\n", (double)l.n / s, l.failed);
	lx_http_client_free(l.c);
	lx_http_global_cleanup();
	li707_global_cleanup();
	free(tpl);
	return l.failed ? 1 : 0;
}
