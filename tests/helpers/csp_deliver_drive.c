/* csp_deliver_drive - runs li707-csp delivery engines (src/csp/csp_deliver.c) over
 * deliveries read from directories, for the integration test tests/integration/
 * test_csp_deliver.sh.
 *
 *   csp_deliver_drive [GLOBAL...] --lea NAME --url URL --dir DIR [--lea ...]
 *
 * GLOBAL (apply to every LEA): --cacert F, --cert F --key F (mutual TLS) or
 * --psk-identity ID --psk-file F, --inflight N [4], --retry-min MS [100], --retry-max MS
 * [2000], --timeout-ms MS [0 = none], --run-ms MS (give up after this long) [20000].
 * Each DIR holds HI1Messages (*.xml, as `li707 build --out-dir` writes them), taken in name
 * order: each is one delivery, its reference and SequenceNumber read from the message. The
 * queue is a simple in-memory one (what the store gives wave 2): next() hands out due
 * deliveries ordered by reference then sequence, leaving out the references the engine says.
 *
 * Output, one line per outcome, in the order they happen (FILE = the file's base name):
 *   NAME done FILE ref=R seq=S
 *   NAME retry FILE ref=R seq=S delay_ms=D error=TEXT
 *   NAME park FILE ref=R seq=S code=C error=TEXT
 * and at the end, per LEA: "NAME stats sent=.. done=.. retried=.. parked=.. pending=..".
 * Exit status: 0 when every delivery of every LEA is done or parked, 1 when some are still
 * pending at --run-ms, 2 usage, 3 setup error. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csp_deliver.h"
#include "li707/li707.h"
#include "tls.h"

#define LEAS_MAX 8
#define ITEMS_MAX 4096

enum st { S_READY, S_OUT, S_DONE, S_PARKED };

struct item {
	char *file;
	char *xml;
	size_t len;
	int64_t ref_id;
	uint64_t seq;
	char object_id[LI707_UUID_LEN + 1];
	enum st st;
	int64_t next_try;
	uint32_t attempts;
};

struct lea {
	const char *name, *url, *dir;
	struct item *it;
	size_t n;
	char refs[64][128]; /* distinct references -> ref_id (index + 1) */
	size_t n_refs;
	pthread_mutex_t mu;
	struct csp_deliver *e;
};

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(const char *m)
{
	fprintf(stderr, "csp_deliver_drive: %s\n", m);
	return 2;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->file, ((const struct item *)b)->file);
}

static int load(struct lea *l)
{
	DIR *d = opendir(l->dir);
	if (!d)
		return -1;
	l->it = calloc(ITEMS_MAX, sizeof *l->it);
	struct dirent *de;
	while ((de = readdir(d)) && l->n < ITEMS_MAX) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".xml") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", l->dir, de->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		struct item *it = &l->it[l->n];
		fseek(f, 0, SEEK_END);
		long sz = ftell(f);
		rewind(f);
		it->xml = malloc((size_t)sz + 1);
		it->len = fread(it->xml, 1, (size_t)sz, f);
		it->xml[it->len] = '\0';
		fclose(f);
		it->file = strdup(de->d_name);
		l->n++;
	}
	closedir(d);
	qsort(l->it, l->n, sizeof *l->it, by_name);
	for (size_t i = 0; i < l->n; i++) {
		struct item *it = &l->it[i];
		struct li707_message *m = NULL;
		if (li707_message_decode(it->xml, it->len, NULL, &m, NULL) || !m || !m->n_actions ||
		    !m->actions[0].delivery) {
			fprintf(stderr, "csp_deliver_drive: %s is no delivery\n", it->file);
			li707_message_free(m);
			return -1;
		}
		const struct li707_delivery *dl = m->actions[0].delivery;
		size_t r = 0;
		while (r < l->n_refs && strcmp(l->refs[r], dl->reference) != 0)
			r++;
		if (r == l->n_refs && l->n_refs < 64)
			snprintf(l->refs[l->n_refs++], sizeof l->refs[0], "%s", dl->reference);
		it->ref_id = (int64_t)r + 1;
		it->seq = dl->sequence;
		memcpy(it->object_id, dl->object_id, sizeof it->object_id);
		li707_message_free(m);
	}
	return 0;
}

static int q_next(void *ud, const int64_t *skip, size_t n_skip, struct csp_post *out,
		  size_t max, size_t *n)
{
	struct lea *l = ud;
	pthread_mutex_lock(&l->mu);
	int64_t now = now_ms();
	size_t k = 0;
	/* ordered by reference, then seq: the engine sends the first of each */
	for (size_t r = 1; r <= l->n_refs && k < max; r++) {
		bool sk = false;
		for (size_t s = 0; s < n_skip; s++)
			sk |= skip[s] == (int64_t)r;
		if (sk)
			continue;
		struct item *first = NULL;
		for (size_t i = 0; i < l->n; i++) {
			struct item *it = &l->it[i];
			if (it->ref_id != (int64_t)r || it->st == S_DONE || it->st == S_PARKED)
				continue;
			if (!first || it->seq < first->seq)
				first = it;
		}
		if (!first || first->st != S_READY || first->next_try > now)
			continue;
		out[k] = (struct csp_post){.id = (int64_t)(first - l->it), .ref_id = r,
					       .seq = first->seq, .len = first->len,
					       .attempts = first->attempts};
		memcpy(out[k].object_id, first->object_id, sizeof out[k].object_id);
		out[k].xml = malloc(first->len + 1);
		memcpy(out[k].xml, first->xml, first->len + 1);
		first->st = S_OUT;
		k++;
	}
	*n = k;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

static void q_done(void *ud, int64_t id)
{
	struct lea *l = ud;
	pthread_mutex_lock(&l->mu);
	struct item *it = &l->it[id];
	it->st = S_DONE;
	pthread_mutex_unlock(&l->mu);
	pthread_mutex_lock(&out_mu);
	printf("%s done %s ref=%lld seq=%llu\n", l->name, it->file, (long long)it->ref_id,
	       (unsigned long long)it->seq);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static void q_retry(void *ud, int64_t id, int64_t next_try, const char *error)
{
	struct lea *l = ud;
	pthread_mutex_lock(&l->mu);
	struct item *it = &l->it[id];
	it->st = S_READY;
	it->next_try = next_try;
	it->attempts++;
	pthread_mutex_unlock(&l->mu);
	pthread_mutex_lock(&out_mu);
	printf("%s retry %s ref=%lld seq=%llu delay_ms=%lld error=%s\n", l->name, it->file,
	       (long long)it->ref_id, (unsigned long long)it->seq,
	       (long long)(next_try - now_ms()), error);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static void q_park(void *ud, int64_t id, unsigned code, const char *error)
{
	struct lea *l = ud;
	pthread_mutex_lock(&l->mu);
	struct item *it = &l->it[id];
	it->st = S_PARKED;
	pthread_mutex_unlock(&l->mu);
	pthread_mutex_lock(&out_mu);
	printf("%s park %s ref=%lld seq=%llu code=%u error=%s\n", l->name, it->file,
	       (long long)it->ref_id, (unsigned long long)it->seq, code, error);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static size_t pending(struct lea *l)
{
	pthread_mutex_lock(&l->mu);
	size_t p = 0;
	for (size_t i = 0; i < l->n; i++)
		p += l->it[i].st != S_DONE && l->it[i].st != S_PARKED;
	pthread_mutex_unlock(&l->mu);
	return p;
}

int main(int argc, char **argv)
{
	struct lea leas[LEAS_MAX];
	size_t n_leas = 0;
	struct csp_deliver_opts base = {.inflight = 4, .retry_min_ms = 100, .retry_max_ms = 2000};
	const char *psk_file = NULL;
	long run_ms = 20000;
	memset(leas, 0, sizeof leas);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage("option without value");
		i++;
		if (!strcmp(a, "--lea")) {
			if (n_leas == LEAS_MAX)
				return usage("too many LEAs");
			leas[n_leas++].name = v;
		} else if (!strcmp(a, "--url") && n_leas) {
			leas[n_leas - 1].url = v;
		} else if (!strcmp(a, "--dir") && n_leas) {
			leas[n_leas - 1].dir = v;
		} else if (!strcmp(a, "--cacert")) {
			base.http.ca_file = v;
		} else if (!strcmp(a, "--cert")) {
			base.http.cert_file = v;
		} else if (!strcmp(a, "--key")) {
			base.http.key_file = v;
		} else if (!strcmp(a, "--psk-identity")) {
			base.http.psk_identity = v;
		} else if (!strcmp(a, "--psk-file")) {
			psk_file = v;
		} else if (!strcmp(a, "--inflight")) {
			base.inflight = (unsigned)atoi(v);
		} else if (!strcmp(a, "--retry-min")) {
			base.retry_min_ms = atoll(v);
		} else if (!strcmp(a, "--retry-max")) {
			base.retry_max_ms = atoll(v);
		} else if (!strcmp(a, "--timeout-ms")) {
			base.http.timeout_ms = atol(v);
		} else if (!strcmp(a, "--run-ms")) {
			run_ms = atol(v);
		} else {
			return usage("unknown option (or --url/--dir before --lea)");
		}
	}
	if (!n_leas)
		return usage("no --lea");
	uint8_t *psk = NULL;
	size_t psk_len = 0;
	char err[256] = "";
	if (psk_file) {
		if (lx_tls_psk_load(psk_file, &psk, &psk_len, err, sizeof err)) {
			fprintf(stderr, "csp_deliver_drive: %s\n", err);
			return 3;
		}
		base.http.psk = psk;
		base.http.psk_len = psk_len;
	}
	li707_global_init();
	lx_http_global_init();
	int status = 0;
	for (size_t i = 0; i < n_leas; i++) {
		struct lea *l = &leas[i];
		if (!l->url || !l->dir)
			return usage("every --lea needs --url and --dir");
		pthread_mutex_init(&l->mu, NULL);
		if (load(l)) {
			fprintf(stderr, "csp_deliver_drive: cannot read %s\n", l->dir);
			return 3;
		}
		struct csp_deliver_opts o = base;
		o.name = l->name;
		o.url = l->url;
		struct csp_deliver_queue q = {q_next, q_done, q_retry, q_park, l};
		if (csp_deliver_new(&o, &q, &l->e, err, sizeof err) || csp_deliver_start(l->e)) {
			fprintf(stderr, "csp_deliver_drive: %s: %s\n", l->name, err);
			return 3;
		}
	}
	int64_t end = now_ms() + run_ms;
	for (;;) {
		size_t p = 0;
		for (size_t i = 0; i < n_leas; i++)
			p += pending(&leas[i]);
		if (p == 0 || now_ms() >= end)
			break;
		usleep(20 * 1000);
	}
	for (size_t i = 0; i < n_leas; i++) {
		struct lea *l = &leas[i];
		(void)csp_deliver_stop(l->e, 500);
		struct csp_deliver_stats st;
		csp_deliver_stats(l->e, &st);
		size_t p = pending(l);
		printf("%s stats sent=%llu done=%llu retried=%llu parked=%llu pending=%zu\n", l->name,
		       (unsigned long long)st.sent, (unsigned long long)st.done,
		       (unsigned long long)st.retried, (unsigned long long)st.parked, p);
		if (p)
			status = 1;
		csp_deliver_free(l->e);
		for (size_t k = 0; k < l->n; k++) {
			free(l->it[k].file);
			free(l->it[k].xml);
		}
		free(l->it);
		pthread_mutex_destroy(&l->mu);
	}
	if (psk) {
		explicit_bzero(psk, psk_len);
		free(psk);
	}
	lx_http_global_cleanup();
	li707_global_cleanup();
	return status;
}
