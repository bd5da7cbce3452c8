/* li707-lea - the operator's commands for Model A/C retrieval (lea_cli.h):
 *   fetch-status [--json]    transfers in progress (the daemon's DIR/fetch-status, written
 *                            every second) and the queue as the store has it
 *   fetch-retry ID           queue a retrieval again now (mismatch, expired, or waiting for
 *                            its backoff)
 *   fetch-priority REF N     retrievals of the reference REF go before those of lower N
 * fetch-status reads the store read-only; the other two write to it beside the running
 * daemon (lea_store_fetch_retry/_priority: one short transaction of their own). References
 * given on the command line are never printed back (R-SEC-6). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lea.h"
#include "lea_cli.h"
#include "lea_query_int.h"
#include "model_json.h"

#define RUN_MAX 256 /* transfers read from the status file */

struct running {
	int64_t id;
	char peer[128];
	char model;
	long long have, total, eta;
	double rate;
	unsigned conns;
};

struct status_file {
	bool have;
	int64_t as_of;
	struct running v[RUN_MAX];
	size_t n;
};

/* DIR/fetch-status (lea_fetcher_publish): absent when no daemon runs with workers. */
static void read_status_file(const char *dir, struct status_file *sf)
{
	char path[4200], line[512];
	snprintf(path, sizeof path, "%s/%s", dir, LEA_FETCH_STATUS_FILE);
	memset(sf, 0, sizeof *sf);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	long long t;
	if (fgets(line, sizeof line, f) && sscanf(line, "li707-lea-fetch-status 1 %lld", &t) == 1) {
		sf->have = true;
		sf->as_of = t;
		while (sf->n < RUN_MAX && fgets(line, sizeof line, f)) {
			struct running *r = &sf->v[sf->n];
			long long id;
			char m;
			if (sscanf(line, "%lld %127s %c %lld %lld %lf %lld %u", &id, r->peer, &m,
				   &r->have, &r->total, &r->rate, &r->eta, &r->conns) == 8) {
				r->id = id;
				r->model = m;
				sf->n++;
			}
		}
	}
	fclose(f);
}

static const struct running *running_of(const struct status_file *sf, int64_t id)
{
	for (size_t i = 0; i < sf->n; i++)
		if (sf->v[i].id == id)
			return &sf->v[i];
	return NULL;
}

struct qrows {
	struct lea_fetch_entry *v;
	size_t n, cap;
};

static int collect(void *cls, const struct lea_fetch_entry *e)
{
	struct qrows *q = cls;
	if (lq_grow((void **)&q->v, &q->cap, q->n, sizeof *q->v))
		return LI707_ENOMEM;
	q->v[q->n++] = *e;
	return 0;
}

static const char fetch_status_help[] =
	"Usage: li707-lea fetch-status [--store DIR | --config FILE] [--json]\n"
	"\n"
	"Model A/C retrievals: the transfers the running daemon has in progress (bytes, total,\n"
	"rate, ETA, connections; from DIR/fetch-status, rewritten every second), then every\n"
	"retrieval queued or partly fetched as the store records it (verified bytes, size,\n"
	"failed attempts, next attempt, last error), then the counts by state.\n"
	"\n"
	"Options:\n"
	"  --json           {\"as_of\": T|null, \"running\": [...], \"queue\": [...],\n"
	"                   \"counts\": {\"to-fetch\": N, \"fetching\": N, \"complete\": N,\n"
	"                   \"mismatch\": N, \"expired\": N}}\n"
	"%s"
	"\n"
	"Exit status: 0 ok, 2 usage, 3 store not readable, 4 bad configuration, 6 store damaged.\n";

static const enum lea_att_state retrieval_states[] = {LEA_ATT_TO_FETCH, LEA_ATT_FETCHING,
						       LEA_ATT_COMPLETE, LEA_ATT_MISMATCH,
						       LEA_ATT_EXPIRED};
#define N_RSTATES (sizeof retrieval_states / sizeof retrieval_states[0])

json_t *lq_fetch_counts_json(const uint64_t n[LEA_ATT_NSTATES])
{
	json_t *o = json_object();
	for (size_t i = 0; i < N_RSTATES; i++)
		json_object_set_new(o, lea_att_state_name(retrieval_states[i]),
				    lx_json_u64(n[retrieval_states[i]]));
	return o;
}

void lq_fetch_counts_text(const uint64_t n[LEA_ATT_NSTATES])
{
	printf("  %-16s", "retrievals");
	for (size_t i = 0; i < N_RSTATES; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", lea_att_state_name(retrieval_states[i]),
		       n[retrieval_states[i]]);
	putchar('\n');
}

static json_t *fetch_status_json(const struct status_file *sf, const struct qrows *q,
				 const uint64_t counts[LEA_ATT_NSTATES])
{
	json_t *root = json_object(), *run = json_array(), *queue = json_array();
	char t[32];
	lq_time_utc(sf->as_of, t);
	json_object_set_new(root, "as_of", sf->have ? json_string(t) : json_null());
	for (size_t i = 0; i < sf->n; i++) {
		const struct running *r = &sf->v[i];
		char m[2] = {r->model, '\0'};
		json_array_append_new(run, json_pack("{s:I, s:s, s:s, s:I, s:I, s:f, s:I, s:i}",
						     "id", (json_int_t)r->id, "peer", r->peer,
						     "model", m, "bytes", (json_int_t)r->have,
						     "total", (json_int_t)r->total, "rate", r->rate,
						     "eta", (json_int_t)r->eta, "connections",
						     (int)r->conns));
	}
	for (size_t i = 0; i < q->n; i++) {
		const struct lea_fetch_entry *e = &q->v[i];
		char m[2] = {e->model, '\0'};
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:I}", "id",
				      (json_int_t)e->id, "peer", e->peer, "model", m, "state",
				      lea_att_state_name(e->state), "verified_bytes",
				      (json_int_t)lx_fetch_state_held(&e->fs), "total",
				      (json_int_t)e->fs.total, "priority", (json_int_t)e->priority,
				      "attempts", (int)e->attempts, "next_try",
				      (json_int_t)e->next_try);
		json_object_set_new(o, "error", e->error[0] ? json_string(e->error) : json_null());
		json_array_append_new(queue, o);
	}
	json_object_set_new(root, "running", run);
	json_object_set_new(root, "queue", queue);
	json_object_set_new(root, "counts", lq_fetch_counts_json(counts));
	return root;
}

static void human_rate(double r, char out[32])
{
	if (r >= 1e6)
		snprintf(out, 32, "%.1f MB/s", r / 1e6);
	else if (r >= 1e3)
		snprintf(out, 32, "%.1f kB/s", r / 1e3);
	else
		snprintf(out, 32, "%.0f B/s", r);
}

static void fetch_status_text(const struct status_file *sf, const struct qrows *q,
			      const uint64_t counts[LEA_ATT_NSTATES])
{
	if (sf->have) {
		char t[32];
		lq_time_utc(sf->as_of, t);
		int64_t age = (int64_t)time(NULL) - sf->as_of;
		printf("Transfers in progress (as of %s%s)\n", t,
		       age > 10 ? "; stale: is li707-lea running?" : "");
		if (!sf->n)
			puts("  none");
		else
			printf("  %-10s %-16s %-5s %-27s %-12s %-8s %s\n", "ID", "PEER", "MODEL",
			       "BYTES/TOTAL", "RATE", "ETA", "CONNS");
		for (size_t i = 0; i < sf->n; i++) {
			const struct running *r = &sf->v[i];
			char bt[64], rate[32], eta[32];
			snprintf(bt, sizeof bt, "%lld/%lld", r->have, r->total);
			human_rate(r->rate, rate);
			if (r->eta >= 0)
				snprintf(eta, sizeof eta, "%llds", r->eta);
			else
				snprintf(eta, sizeof eta, "-");
			printf("  %-10" PRId64 " %-16s %-5c %-27s %-12s %-8s %u\n", r->id, r->peer,
			       r->model, bt, rate, eta, r->conns);
		}
	} else {
		puts("Transfers in progress: unknown (no daemon with fetch workers is running)");
	}
	puts("\nQueued or partly fetched");
	if (!q->n)
		puts("  none");
	else
		printf("  %-10s %-16s %-5s %-9s %-27s %-4s %-8s %s\n", "ID", "PEER", "MODEL", "STATE",
		       "VERIFIED/TOTAL", "PRIO", "ATTEMPTS", "LAST ERROR");
	for (size_t i = 0; i < q->n; i++) {
		const struct lea_fetch_entry *e = &q->v[i];
		char bt[64];
		snprintf(bt, sizeof bt, "%" PRId64 "/%" PRId64, lx_fetch_state_held(&e->fs),
			 e->fs.total);
		char *err = lq_escape(e->error, false);
		printf("  %-10" PRId64 " %-16s %-5c %-9s %-27s %-4" PRId64 " %-8u %s%s\n", e->id,
		       e->peer, e->model, lea_att_state_name(e->state), bt, e->priority,
		       e->attempts, err && err[0] ? err : "-",
		       running_of(sf, e->id) ? " (running)" : "");
		free(err);
	}
	putchar('\n');
	lq_fetch_counts_text(counts);
}

int lea_cmd_fetch_status(int argc, char **argv)
{
	static const char cmd[] = "fetch-status";
	enum { O_JSON = LQ_OPT_CMD_BASE };
	static const struct option opts[] = {
		LQ_STORE_LONGOPTS,
		{"json", no_argument, NULL, O_JSON},
		{NULL, 0, NULL, 0},
	};
	struct lq_store_opt so = {0};
	bool json = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = lq_store_option(&so, cmd, c, optarg);
		if (r >= 0) {
			if (r)
				return r;
			continue;
		}
		switch (c) {
		case 'h': printf(fetch_status_help, lq_store_help); return 0;
		case O_JSON: json = true; break;
		default: return lq_bad_option(cmd, argc, argv);
		}
	}
	if (optind < argc)
		return lq_usage_error(cmd, "unexpected argument after the options");
	struct lea_store *s = NULL;
	int rc = lq_store_open(&so, cmd, &s);
	if (rc)
		return rc;
	struct status_file *sf = malloc(sizeof *sf);
	struct qrows q = {0};
	uint64_t counts[LEA_ATT_NSTATES] = {0};
	rc = sf ? 0 : LI707_ENOMEM;
	if (!rc) {
		read_status_file(lea_store_dir(s), sf);
		rc = lea_store_fetch_queue(s, INT64_MAX, 0, collect, &q);
	}
	if (!rc)
		rc = lea_store_fetch_counts(s, counts);
	lea_store_close(s);
	if (rc) {
		rc = lq_fail(cmd, rc, "cannot read the store: %s", li707_strerror(rc));
	} else if (json) {
		json_t *j = fetch_status_json(sf, &q, counts);
		rc = lq_json_dump(j, stdout);
		json_decref(j);
		rc = rc ? lq_fail(cmd, rc, "%s", li707_strerror(rc)) : lq_flush_stdout(cmd);
	} else {
		fetch_status_text(sf, &q, counts);
		rc = lq_flush_stdout(cmd);
	}
	free(q.v);
	free(sf);
	return rc;
}

/* The store directory of --store / --config (the store is opened once read-only, which also
 * checks that it is one). */
static int store_dir(const struct lq_store_opt *so, const char *cmd, char *dir, size_t len)
{
	struct lea_store *s = NULL;
	int rc = lq_store_open(so, cmd, &s);
	if (rc)
		return rc;
	snprintf(dir, len, "%s", lea_store_dir(s));
	lea_store_close(s);
	return 0;
}

static const char fetch_retry_help[] =
	"Usage: li707-lea fetch-retry [--store DIR | --config FILE] ID\n"
	"\n"
	"Queues the Model A/C retrieval ID (the attachment id of `li707-lea show` and\n"
	"`fetch-status`) again at once: one in state mismatch or expired starts from zero, one\n"
	"waiting for its next attempt is tried now. Works while li707-lea runs.\n"
	"\n"
	"Options:\n"
	"%s"
	"\n"
	"Exit status: 0 queued, 2 usage or the retrieval is complete, 3 no such retrieval or\n"
	"store not writable, 4 bad configuration.\n";

static const char fetch_priority_help[] =
	"Usage: li707-lea fetch-priority [--store DIR | --config FILE] REF N\n"
	"\n"
	"Gives the Model A/C retrievals of the reference REF (LIID/LDID) the priority N (an\n"
	"integer, default 0): the fetch workers take higher priorities first, then small\n"
	"objects, then those of recent items. Applies to what is stored now, complete or not.\n"
	"Works while li707-lea runs.\n"
	"\n"
	"Options:\n"
	"%s"
	"\n"
	"Exit status: 0 done, 2 usage, 3 nothing to fetch for REF or store not writable,\n"
	"4 bad configuration.\n";

static int fetch_write_cmd(int argc, char **argv, bool retry)
{
	const char *cmd = retry ? "fetch-retry" : "fetch-priority";
	static const struct option opts[] = {LQ_STORE_LONGOPTS, {NULL, 0, NULL, 0}};
	struct lq_store_opt so = {0};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = lq_store_option(&so, cmd, c, optarg);
		if (r >= 0) {
			if (r)
				return r;
			continue;
		}
		if (c == 'h') {
			printf(retry ? fetch_retry_help : fetch_priority_help, lq_store_help);
			return 0;
		}
		return lq_bad_option(cmd, argc, argv);
	}
	int64_t id = 0, prio = 0;
	if (retry) {
		if (argc - optind != 1)
			return lq_usage_error(cmd, "expected one retrieval ID");
		if (!lq_parse_id(argv[optind], &id))
			return lq_usage_error(cmd, "ID must be a positive decimal number");
	} else {
		if (argc - optind != 2)
			return lq_usage_error(cmd, "expected a reference and a priority");
		char *end;
		errno = 0;
		long long v = strtoll(argv[optind + 1], &end, 10);
		if (errno || end == argv[optind + 1] || *end || v < -1000000 || v > 1000000)
			return lq_usage_error(cmd, "N must be an integer from -1000000 to 1000000");
		prio = v;
	}
	char dir[4096], err[512] = "";
	int rc = store_dir(&so, cmd, dir, sizeof dir);
	if (rc)
		return rc;
	if (retry) {
		rc = lea_store_fetch_retry(dir, id, err, sizeof err);
		if (rc)
			return lq_fail(cmd, rc, "%s", err[0] ? err : li707_strerror(rc));
		printf("retrieval %" PRId64 " queued\n", id);
	} else {
		uint64_t n = 0;
		rc = lea_store_fetch_priority(dir, argv[optind], prio, &n, err, sizeof err);
		if (rc)
			return lq_fail(cmd, rc, "%s", err[0] ? err : li707_strerror(rc));
		if (n == 0)
			return lq_fail(cmd, LI707_ENOTFOUND,
				       "no Model A/C retrieval stored for the given reference");
		printf("priority %" PRId64 " set on %" PRIu64 " retrieval%s\n", prio, n,
		       n == 1 ? "" : "s");
	}
	return lq_flush_stdout(cmd);
}

int lea_cmd_fetch_retry(int argc, char **argv)
{
	return fetch_write_cmd(argc, argv, true);
}

int lea_cmd_fetch_priority(int argc, char **argv)
{
	return fetch_write_cmd(argc, argv, false);
}
