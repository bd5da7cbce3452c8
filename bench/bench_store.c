/* bench_store - throughput of the LEA store (src/lea/store.h, SQLite backend) on the real
 * disk, with synchronous=FULL (every acknowledgement durable) unless said otherwise:
 *
 *   put1_tN        single-item deliveries/s from N threads (group commit)
 *   coll100_tN     items/s delivered as 100-item collections from N threads
 *   *_nosync       the same with sync_normal (CPU cost of the store, no fsync wait)
 *   list_all, list_party, status, gaps, item_detail   queries on the store just written
 *
 * With "big", it also fills a store to 1,000,000 items (sync_normal, to save time) and
 * times the queries on it. With "cpu", only one caller without fsync (put1_t1_nosync,
 * coll100_t1_nosync): the store's own cost.
 *
 * Usage: bench_store OUTDIR [big|cpu]
 * The stores are made under OUTDIR (put it on the disk you mean to measure) and removed.
 * Prints name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio per figure and appends the lines to
 * OUTDIR/results.tsv (see scripts/bench.sh). The baseline column of the throughput figures
 * is the target the daemon must reach end to end (20,000 deliveries/s, 200,000 items/s). */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "li707/li707.h"
#include "store.h"

#define TARGET_DELIVERIES 20000.0
#define TARGET_ITEMS 200000.0

static FILE *results;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, li707_strerror(rc));
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		die("calloc", LI707_ENOMEM);
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("strdup", LI707_ENOMEM);
	return p;
}

static void figure(const char *name, double value, const char *unit, double baseline)
{
	char b[64] = "-", r[64] = "-";
	if (baseline > 0) {
		snprintf(b, sizeof b, "%.1f", baseline);
		snprintf(r, sizeof r, "%.2f", value / baseline);
	}
	printf("%s\t%.1f\t%s\t%s\t%s\n", name, value, unit, b, r);
	if (results)
		fprintf(results, "%s\t%.1f\t%s\t%s\t%s\n", name, value, unit, b, r);
	fflush(stdout);
}

/* ---- messages (realistic items, as bench_codec) ---- */

static void party(struct li707_party *p, const char *v1, const char *v2)
{
	p->n_ids = v2 ? 2 : 1;
	p->ids = xcalloc(p->n_ids, sizeof *p->ids);
	p->ids[0].value = xstrdup(v1);
	if (v2) {
		p->ids[1].qualified = true;
		p->ids[1].format_owner = xstrdup("ETSI");
		p->ids[1].format_name = xstrdup("InternationalE164");
		p->ids[1].value = xstrdup(v2);
	}
	p->targeted = LI707_ABSENT;
}

static void fill_item(struct li707_item *it, unsigned n)
{
	char a[128], b[64];
	memset(it, 0, sizeof *it);
	it->has_correlation = true;
	it->app_level_id = n / 10;
	it->app_seq = n % 10;
	it->sender = xcalloc(1, sizeof *it->sender);
	snprintf(a, sizeof a, "user-%u", n % 5000);
	snprintf(b, sizeof b, "4477009%05u", n % 100000);
	party(it->sender, a, b);
	it->sender->targeted = LI707_TRUE;
	it->n_receivers = 2;
	it->receivers = xcalloc(2, sizeof *it->receivers);
	for (int r = 0; r < 2; r++) {
		snprintf(a, sizeof a, "peer-%u-%d", n % 7000, r);
		party(&it->receivers[r], a, NULL);
	}
	it->timestamp = xstrdup("2026-11-21T10:00:00+01:00");
	it->n_attachments = 1;
	it->attachments = xcalloc(1, sizeof *it->attachments);
	char uuid[37];
	li707_uuid_new(uuid);
	snprintf(a, sizeof a, "https://csp.example/li707/binary/%s", uuid);
	it->attachments[0].url = xstrdup(a);
	it->attachments[0].has_content_length = true;
	it->attachments[0].content_length = 1024 + n;
	it->attachments[0].content_type = xstrdup("image/jpeg");
	it->attachments[0].checksum =
		xstrdup("98ecb6a08c34a97f6edc0e97ddcd32cb139e2253825186a817ddb24997ccd68f");
	it->n_csp = 1;
	it->csp = xcalloc(1, sizeof *it->csp);
	it->csp->schema_id = xstrdup("urn:example:chat:1");
	it->csp->xml = xstrdup("<c:event xmlns:c=\"urn:example:chat:1\"><c:type>message</c:type>"
			       "<c:thread>t-42</c:thread></c:event>");
}

struct prepared {
	struct li707_message *m;
	char *raw;
	size_t len;
};

static void prepare(struct prepared *p, const char *ref, const char *did, unsigned seq,
		    size_t n_items)
{
	struct li707_message *m = li707_message_new();
	if (!m)
		die("alloc", LI707_ENOMEM);
	int rc = li707_header_init_defaults(&m->header, "XX", "csp-bench", NULL, NULL);
	if (rc)
		die("header", rc);
	m->n_actions = 1;
	m->actions = xcalloc(1, sizeof *m->actions);
	m->actions[0].verb = LI707_VERB_DELIVER;
	m->actions[0].delivery = xcalloc(1, sizeof *m->actions[0].delivery);
	struct li707_delivery *d = m->actions[0].delivery;
	if ((rc = li707_delivery_init(d, &m->header, LI707_REF_LIID, ref)))
		die("delivery", rc);
	memcpy(d->identifier, d->object_id, sizeof d->identifier);
	snprintf(d->delivery_id, sizeof d->delivery_id, "%s", did);
	d->has_sequence = true;
	d->sequence = seq;
	d->last_sequence = LI707_FALSE;
	d->payload = n_items > 1 ? LI707_PAYLOAD_COLLECTION : LI707_PAYLOAD_ITEM;
	d->n_items = n_items;
	d->items = xcalloc(n_items, sizeof *d->items);
	for (size_t i = 0; i < n_items; i++)
		fill_item(&d->items[i], seq * (unsigned)n_items + (unsigned)i);
	if ((rc = li707_message_encode(m, &p->raw, &p->len, NULL)))
		die("encode", rc);
	p->m = m;
}

static void release(struct prepared *p)
{
	li707_message_free(p->m);
	free(p->raw);
}

/* ---- a run: N threads putting prepared messages ---- */

struct worker {
	struct lea_store *s;
	struct prepared *msgs;
	size_t n;
	pthread_barrier_t *go;
	int failed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	pthread_barrier_wait(w->go);
	for (size_t i = 0; i < w->n; i++) {
		enum lea_put_outcome out[1];
		struct lea_put p = {.peer = "bench", .raw = w->msgs[i].raw, .raw_len = w->msgs[i].len,
				    .msg = w->msgs[i].m, .outcome = out};
		if (lea_store_put(w->s, &p) || out[0] != LEA_PUT_STORED)
			w->failed++;
	}
	return NULL;
}

/* Puts n_threads * per_thread messages of n_items items; returns the seconds taken. */
static double run_puts(struct lea_store *s, unsigned n_threads, size_t per_thread, size_t n_items,
		       unsigned *ref_counter)
{
	struct worker *w = xcalloc(n_threads, sizeof *w);
	pthread_t *th = xcalloc(n_threads, sizeof *th);
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, n_threads + 1);
	for (unsigned t = 0; t < n_threads; t++) {
		char ref[32], did[37];
		snprintf(ref, sizeof ref, "LIID-BENCH-%04u", (*ref_counter)++ % 16);
		li707_uuid_new(did);
		w[t] = (struct worker){.s = s, .n = per_thread, .go = &go};
		w[t].msgs = xcalloc(per_thread, sizeof *w[t].msgs);
		for (size_t i = 0; i < per_thread; i++)
			prepare(&w[t].msgs[i], ref, did, (unsigned)i + 1, n_items);
		pthread_create(&th[t], NULL, worker_main, &w[t]);
	}
	pthread_barrier_wait(&go);
	double t0 = now_s();
	int failed = 0;
	for (unsigned t = 0; t < n_threads; t++) {
		pthread_join(th[t], NULL);
		failed += w[t].failed;
	}
	double dt = now_s() - t0;
	if (failed)
		die("put failed", LI707_EINVAL);
	for (unsigned t = 0; t < n_threads; t++) {
		for (size_t i = 0; i < per_thread; i++)
			release(&w[t].msgs[i]);
		free(w[t].msgs);
	}
	pthread_barrier_destroy(&go);
	free(w);
	free(th);
	return dt;
}

/* ---- stores ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct lea_store *store_new(const char *outdir, const char *name, bool nosync, char *dir,
				   size_t dirlen)
{
	snprintf(dir, dirlen, "%s/%s", outdir, name);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	struct lea_store_opts o = {.dir = dir, .sync_normal = nosync};
	struct lea_store *s = NULL;
	char err[512];
	int rc = lea_store_open(&o, &s, err, sizeof err);
	if (rc) {
		fprintf(stderr, "bench_store: %s\n", err);
		exit(1);
	}
	return s;
}

static void store_drop(struct lea_store *s, const char *dir)
{
	lea_store_close(s);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- queries ---- */

struct counter {
	uint64_t n;
	int64_t last;
};

static int count_row(void *cls, const struct lea_item_row *r)
{
	struct counter *c = cls;
	c->n++;
	c->last = r->id;
	return 0;
}

static int count_status(void *cls, const struct lea_ref_status *st)
{
	struct counter *c = cls;
	c->n += st->items;
	return 0;
}

static int count_gap(void *cls, const struct lea_gap *g)
{
	struct counter *c = cls;
	c->n++;
	(void)g;
	return 0;
}

static void bench_queries(struct lea_store *s, const char *prefix)
{
	char name[64];
	struct counter c = {0};
	double t0 = now_s();
	if (lea_store_list(s, NULL, count_row, &c))
		die("list", LI707_EINVAL);
	double dt = now_s() - t0;
	snprintf(name, sizeof name, "%slist_all", prefix);
	figure(name, (double)c.n / dt, "items/s", 0);
	uint64_t items = c.n;
	int64_t last = c.last;

	struct lea_query q = {.party = "user-42"};
	c = (struct counter){0};
	t0 = now_s();
	for (int i = 0; i < 100; i++)
		if (lea_store_list(s, &q, count_row, &c))
			die("list party", LI707_EINVAL);
	dt = now_s() - t0;
	snprintf(name, sizeof name, "%slist_party", prefix);
	figure(name, 100 / dt, "queries/s", 0);

	/* paging as the CLI does: 100 rows at a time from a point in the middle */
	q = (struct lea_query){.ref = "LIID-BENCH-0003", .limit = 100, .after_id = last / 2};
	c = (struct counter){0};
	t0 = now_s();
	for (int i = 0; i < 100; i++)
		if (lea_store_list(s, &q, count_row, &c))
			die("list page", LI707_EINVAL);
	dt = now_s() - t0;
	snprintf(name, sizeof name, "%slist_page100", prefix);
	figure(name, 100 / dt, "pages/s", 0);

	c = (struct counter){0};
	t0 = now_s();
	if (lea_store_status(s, NULL, count_status, &c))
		die("status", LI707_EINVAL);
	dt = now_s() - t0;
	if (c.n != items)
		fprintf(stderr, "bench_store: status counts %llu items, list %llu\n",
			(unsigned long long)c.n, (unsigned long long)items);
	snprintf(name, sizeof name, "%sstatus", prefix);
	figure(name, dt * 1000, "ms", 0);

	c = (struct counter){0};
	t0 = now_s();
	if (lea_store_gaps(s, NULL, count_gap, &c))
		die("gaps", LI707_EINVAL);
	dt = now_s() - t0;
	snprintf(name, sizeof name, "%sgaps", prefix);
	figure(name, dt * 1000, "ms", 0);

	int n_detail = 200;
	t0 = now_s();
	for (int i = 0; i < n_detail; i++) {
		struct lea_item_detail *d = NULL;
		int64_t id = 1 + (int64_t)((uint64_t)i * 7919u % (uint64_t)(last ? last : 1));
		if (lea_store_item(s, id, &d))
			die("item", LI707_EINVAL);
		lea_item_detail_free(d);
	}
	dt = now_s() - t0;
	snprintf(name, sizeof name, "%sitem_detail", prefix);
	figure(name, n_detail / dt, "items/s", 0);
}

/* ---- main ---- */

static void bench_put1(const char *outdir, unsigned threads, size_t per_thread, bool nosync,
		       unsigned *refc, bool queries)
{
	char dir[4096], name[64];
	struct lea_store *s = store_new(outdir, "store-put1", nosync, dir, sizeof dir);
	double dt = run_puts(s, threads, per_thread, 1, refc);
	snprintf(name, sizeof name, "store_put1_t%u%s", threads, nosync ? "_nosync" : "");
	figure(name, (double)threads * (double)per_thread / dt, "deliv/s", TARGET_DELIVERIES);
	if (queries)
		bench_queries(s, "store_q1_");
	store_drop(s, dir);
}

static void bench_coll(const char *outdir, unsigned threads, size_t per_thread, bool nosync,
		       unsigned *refc, bool queries)
{
	char dir[4096], name[64];
	struct lea_store *s = store_new(outdir, "store-coll", nosync, dir, sizeof dir);
	double dt = run_puts(s, threads, per_thread, 100, refc);
	snprintf(name, sizeof name, "store_coll100_t%u%s", threads, nosync ? "_nosync" : "");
	figure(name, (double)threads * (double)per_thread * 100 / dt, "items/s", TARGET_ITEMS);
	if (queries)
		bench_queries(s, "store_q100_");
	store_drop(s, dir);
}

static void bench_big(const char *outdir, unsigned *refc)
{
	char dir[4096];
	struct lea_store *s = store_new(outdir, "store-big", true, dir, sizeof dir);
	double dt = 0;
	for (int round = 0; round < 10; round++)
		dt += run_puts(s, 4, 250, 100, refc); /* 10 x 4 x 250 x 100 = 1,000,000 items */
	figure("store_big_fill_nosync", 1e6 / dt, "items/s", TARGET_ITEMS);
	bench_queries(s, "store_1M_");
	store_drop(s, dir);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3 ||
	    (argc == 3 && strcmp(argv[2], "big") != 0 && strcmp(argv[2], "cpu") != 0)) {
		fprintf(stderr, "usage: bench_store OUTDIR [big|cpu]\n");
		return 2;
	}
	const char *outdir = argv[1];
	mkdir(outdir, 0755);
	char rpath[4096];
	snprintf(rpath, sizeof rpath, "%s/results.tsv", outdir);
	results = fopen(rpath, "a");
	li707_global_init();
	unsigned refc = 0;

	if (argc == 3 && !strcmp(argv[2], "cpu")) {
		/* one caller, no fsync: what the store itself costs per delivery / item */
		bench_put1(outdir, 1, 4000, true, &refc, false);
		bench_coll(outdir, 1, 100, true, &refc, false);
		li707_global_cleanup();
		return 0;
	}
	bench_put1(outdir, 8, 400, false, &refc, true);
	bench_put1(outdir, 64, 100, false, &refc, false);
	bench_put1(outdir, 256, 40, false, &refc, false);
	bench_put1(outdir, 8, 2000, true, &refc, false);
	bench_coll(outdir, 4, 40, false, &refc, true);
	bench_coll(outdir, 16, 10, false, &refc, false);
	bench_coll(outdir, 4, 100, true, &refc, false);
	if (argc == 3)
		bench_big(outdir, &refc);

	li707_global_cleanup();
	if (results)
		fclose(results);
	return 0;
}
