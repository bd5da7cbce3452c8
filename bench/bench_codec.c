/* bench_codec - encode, decode + strict check, and XSD validation throughput of libli707,
 * each against xmllint on the same files in the same run (these machines are noisy: only
 * ratios measured together mean something).
 *
 * Usage: bench_codec OUTDIR SHARED_SCHEMAS_DIR PROJECT_SCHEMAS_DIR
 * Prints name<TAB>value<TAB>unit<TAB>baseline<TAB>ratio per figure (see scripts/bench.sh). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "li707/li707.h"

#define N_SINGLE 2000     /* 1-item messages */
#define N_COLL 40         /* 100-item collections */
#define COLL_ITEMS 100

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_codec: %s: %s\n", what, li707_strerror(rc));
	exit(1);
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("strdup", LI707_ENOMEM);
	return p;
}

/* A realistic item: qualified and plain ids, two receivers, one attachment, CSP XML. */
static void fill_item(struct li707_item *it, unsigned n)
{
	char buf[128];
	memset(it, 0, sizeof *it);
	it->has_correlation = true;
	it->app_level_id = n / 10;
	it->app_seq = n % 10;
	it->sender = calloc(1, sizeof *it->sender);
	it->sender->n_ids = 2;
	it->sender->ids = calloc(2, sizeof *it->sender->ids);
	it->sender->ids[0].qualified = true;
	it->sender->ids[0].format_owner = xstrdup("ETSI");
	it->sender->ids[0].format_name = xstrdup("InternationalE164");
	snprintf(buf, sizeof buf, "4477009%05u", n % 100000);
	it->sender->ids[0].value = xstrdup(buf);
	snprintf(buf, sizeof buf, "user-%u", n);
	it->sender->ids[1].value = xstrdup(buf);
	it->sender->targeted = LI707_TRUE;
	it->n_receivers = 2;
	it->receivers = calloc(2, sizeof *it->receivers);
	for (int r = 0; r < 2; r++) {
		it->receivers[r].n_ids = 1;
		it->receivers[r].ids = calloc(1, sizeof *it->receivers[r].ids);
		snprintf(buf, sizeof buf, "peer-%u-%d", n, r);
		it->receivers[r].ids[0].value = xstrdup(buf);
		it->receivers[r].targeted = LI707_ABSENT;
	}
	it->timestamp = xstrdup("2026-11-21T10:00:00+01:00");
	it->n_attachments = 1;
	it->attachments = calloc(1, sizeof *it->attachments);
	char uuid[37];
	li707_uuid_new(uuid);
	snprintf(buf, sizeof buf, "https://csp.example/li707/binary/%s", uuid);
	it->attachments[0].url = xstrdup(buf);
	it->attachments[0].has_content_length = true;
	it->attachments[0].content_length = 1024 + n;
	it->attachments[0].content_type = xstrdup("image/jpeg");
	it->attachments[0].checksum =
		xstrdup("98ecb6a08c34a97f6edc0e97ddcd32cb139e2253825186a817ddb24997ccd68f");
	it->attachments[0].original_filename = xstrdup("photo.jpg");
	it->n_csp = 1;
	it->csp = calloc(1, sizeof *it->csp);
	it->csp->schema_id = xstrdup("urn:example:chat:1");
	it->csp->xml = xstrdup("<c:event xmlns:c=\"urn:example:chat:1\"><c:type>message</c:type>"
			       "<c:thread>t-42</c:thread></c:event>");
}

static char *make_message(unsigned first, size_t n_items, size_t *len)
{
	struct li707_message *m = li707_message_new();
	if (!m)
		die("alloc", LI707_ENOMEM);
	int rc = li707_header_init_defaults(&m->header, "XX", "csp-bench", NULL, NULL);
	if (rc)
		die("header", rc);
	m->n_actions = 1;
	m->actions = calloc(1, sizeof *m->actions);
	m->actions[0].verb = LI707_VERB_DELIVER;
	m->actions[0].delivery = calloc(1, sizeof *m->actions[0].delivery);
	struct li707_delivery *d = m->actions[0].delivery;
	if ((rc = li707_delivery_init(d, &m->header, LI707_REF_LIID, "LIID-BENCH-0001")))
		die("delivery", rc);
	li707_uuid_new(d->delivery_id);
	d->has_sequence = true;
	d->sequence = first + 1;
	d->last_sequence = LI707_FALSE;
	d->payload = n_items > 1 ? LI707_PAYLOAD_COLLECTION : LI707_PAYLOAD_ITEM;
	d->n_items = n_items;
	d->items = calloc(n_items, sizeof *d->items);
	for (size_t i = 0; i < n_items; i++)
		fill_item(&d->items[i], first * (unsigned)n_items + (unsigned)i);
	char *xml = NULL;
	struct li707_diags diags = {0};
	rc = li707_message_encode(m, &xml, len, &diags);
	if (rc) {
		for (size_t i = 0; i < diags.n; i++)
			fprintf(stderr, "  %s: %s\n", diags.v[i].path, diags.v[i].message);
		die("encode", rc);
	}
	li707_diags_clear(&diags);
	li707_message_free(m);
	return xml;
}

struct set {
	const char *name;
	size_t n_msgs, items_per_msg;
	char **xml;
	size_t *len;
	char dir[4096];
};

static void write_set(struct set *s, const char *outdir)
{
	snprintf(s->dir, sizeof s->dir, "%s/%s", outdir, s->name);
	mkdir(s->dir, 0755);
	for (size_t i = 0; i < s->n_msgs; i++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/m%05zu.xml", s->dir, i);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(s->xml[i], 1, s->len[i], f) != s->len[i] || fclose(f))
			die(path, -errno);
	}
}

/* Runs a shell command, returns wall seconds; *rss_kb gets the child's peak RSS. */
static double run_timed(const char *cmd, long *rss_kb)
{
	double t0 = now_s();
	int st = system(cmd);
	double t = now_s() - t0;
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench_codec: baseline command failed: %s\n", cmd);
		exit(1);
	}
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	if (rss_kb)
		*rss_kb = ru.ru_maxrss;
	return t;
}

static FILE *results;

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

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: bench_codec OUTDIR SHARED_SCHEMAS_DIR PROJECT_SCHEMAS_DIR\n");
		return 2;
	}
	const char *outdir = argv[1], *shared = argv[2], *project = argv[3];
	li707_global_init();
	char rpath[4200];
	snprintf(rpath, sizeof rpath, "%s/results.tsv", outdir);
	results = fopen(rpath, "a");

	struct set sets[2] = {{.name = "1item", .n_msgs = N_SINGLE, .items_per_msg = 1},
			      {.name = "100item", .n_msgs = N_COLL, .items_per_msg = COLL_ITEMS}};

	/* Encode. */
	for (int k = 0; k < 2; k++) {
		struct set *s = &sets[k];
		s->xml = calloc(s->n_msgs, sizeof *s->xml);
		s->len = calloc(s->n_msgs, sizeof *s->len);
		double t0 = now_s();
		for (size_t i = 0; i < s->n_msgs; i++)
			s->xml[i] = make_message((unsigned)i, s->items_per_msg, &s->len[i]);
		double t = now_s() - t0;
		write_set(s, outdir);
		/* Baseline: xmllint parsing and re-serialising the same files. */
		char cmd[8400];
		snprintf(cmd, sizeof cmd, "xmllint --nonet %s/*.xml > /dev/null", s->dir);
		double tb = run_timed(cmd, NULL);
		char name[64];
		double units = (double)(s->n_msgs * s->items_per_msg);
		snprintf(name, sizeof name, "encode_%s", s->name);
		figure(name, units / t, "items/s", units / tb);
	}

	/* Decode + strict check vs xmllint --schema. */
	char wrapper[4200];
	snprintf(wrapper, sizeof wrapper, "%s/all.xsd", outdir);
	FILE *w = fopen(wrapper, "w");
	if (!w)
		die(wrapper, -errno);
	fprintf(w, "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" elementFormDefault=\"qualified\">\n"
		   " <xs:include schemaLocation=\"%s/ts103120_all.xsd\"/>\n"
		   " <xs:import namespace=\"" LI707_NS_707 "\" schemaLocation=\"%s/ts_103707.xsd\"/>\n"
		   "</xs:schema>\n", shared, project);
	fclose(w);

	struct li707_schema_set *ss = NULL;
	struct li707_diags diags = {0};
	int rc = li707_schema_set_load(project, shared, &ss, &diags);
	if (rc)
		die("schema load", rc);
	long xmllint_rss = 0;
	for (int k = 0; k < 2; k++) {
		struct set *s = &sets[k];
		double units = (double)(s->n_msgs * s->items_per_msg);
		char cmd[8400];
		snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --schema %s %s/*.xml 2>/dev/null",
			 wrapper, s->dir);
		long rss = 0;
		double tb = run_timed(cmd, &rss);
		if (rss > xmllint_rss)
			xmllint_rss = rss;

		double t0 = now_s();
		for (size_t i = 0; i < s->n_msgs; i++) {
			struct li707_message *m = NULL;
			rc = li707_message_decode(s->xml[i], s->len[i], NULL, &m, NULL);
			if (rc)
				die("decode", rc);
			li707_message_free(m);
		}
		double t = now_s() - t0;
		char name[64];
		snprintf(name, sizeof name, "decode_strict_%s", s->name);
		figure(name, units / t, "items/s", units / tb);

		t0 = now_s();
		for (size_t i = 0; i < s->n_msgs; i++) {
			rc = li707_schema_validate(ss, s->xml[i], s->len[i], NULL, &diags);
			if (rc)
				die("validate", rc);
		}
		t = now_s() - t0;
		snprintf(name, sizeof name, "xsd_validate_%s", s->name);
		figure(name, units / t, "items/s", units / tb);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	figure("codec_peak_rss", (double)ru.ru_maxrss / 1024.0, "MiB", (double)xmllint_rss / 1024.0);

	li707_schema_set_free(ss);
	li707_diags_clear(&diags);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < sets[k].n_msgs; i++)
			free(sets[k].xml[i]);
		free(sets[k].xml);
		free(sets[k].len);
	}
	if (results)
		fclose(results);
	li707_global_cleanup();
	return 0;
}
