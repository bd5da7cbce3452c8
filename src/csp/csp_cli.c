/* li707-csp - the operator's store commands and how they reach the store (csp_cli.h).
 *
 * DESIGN. The store has one writer per database (the engine's lock). When the daemon is not
 * running, a command opens the store itself. When it is (the lock is taken), the command
 * is forwarded with its arguments to the daemon's control socket (SPOOL/control.sock, mode
 * 0600: whoever may run the daemon's commands may use it) and runs there, in the daemon,
 * with the daemon's store and configuration; its output comes back. Either way the same
 * code runs, and every write is one durable store job. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "csp_cli.h"
#include "csp_audit.h"
#include "csp_ingest.h"
#include "csp_run_binary.h"
#include "csp_xfer.h"
#include "csp_run_deliver.h"
#include "fdio.h"
#include "li707/error.h"
#include "li707/util.h"

int csp_cli_usage_error(FILE *err, const char *cmd, const char *msg)
{
	fprintf(err, "li707-csp %s: %s (try 'li707-csp %s --help')\n", cmd, msg, cmd);
	return 2;
}

const char *csp_cli_config_path(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return CSP_CONFIG_DEFAULT;
}

/* ---- status ---- */

/* "12s" ("-" when t is 0, never happened); with ago: "12s ago" or "never". */
static void age_text_ago(int64_t now, int64_t t, bool ago, char *b, size_t n)
{
	if (!t)
		snprintf(b, n, "%s", ago ? "never" : "-");
	else
		snprintf(b, n, "%llds%s", (long long)(now > t ? now - t : 0), ago ? " ago" : "");
}

static void age_text(int64_t now, int64_t t, char *b, size_t n)
{
	age_text_ago(now, t, false, b, n);
}

/* csp-wire-deliver: the running engines' counters (csp_deliver_stats). */
static void live_json(struct csp_cmd_ctx *x, json_t *lj, const char *lea)
{
	struct csp_lea_live v;
	if (!lj || !x->live || x->live(x->hook_ud, lea, &v) != 0)
		return;
	json_object_set_new(lj, "engine", json_pack("{s:b, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
						     "running", v.running, "in_flight",
						     (int)v.in_flight, "sent", (json_int_t)v.sent,
						     "done", (json_int_t)v.done, "retried",
						     (json_int_t)v.retried, "parked",
						     (json_int_t)v.parked, "last_success",
						     (json_int_t)v.last_success, "last_error",
						     (json_int_t)v.last_error, "last_error_text",
						     v.last_error_text));
}

/* csp-wire-binary: the file server's and the pushes' totals (the server reports served
 * totals, not transfers in progress). */
static json_t *binary_json(struct csp_cmd_ctx *x)
{
	struct csp_binary_stats b;
	if (!x->binary || x->binary(x->binary_ud, &b) != 0)
		return NULL;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "served", (json_int_t)b.served,
			 "served_bytes", (json_int_t)b.served_bytes, "refused", (json_int_t)b.refused,
			 "pushes_active", (json_int_t)b.pushes_active, "pushed", (json_int_t)b.pushed,
			 "push_retries", (json_int_t)b.push_retries, "push_failed",
			 (json_int_t)b.push_failed, "removed", (json_int_t)b.removed);
}

static void binary_text(struct csp_cmd_ctx *x)
{
	struct csp_binary_stats b;
	if (!x->binary || x->binary(x->binary_ud, &b) != 0)
		return;
	fprintf(x->out,
		"binary: Model A/C served %llu (%llu bytes), refused %llu; Model B pushes in "
		"progress %llu, stored %llu, retried %llu, failed %llu; removed after retention "
		"%llu\n",
		(unsigned long long)b.served, (unsigned long long)b.served_bytes,
		(unsigned long long)b.refused, (unsigned long long)b.pushes_active,
		(unsigned long long)b.pushed, (unsigned long long)b.push_retries,
		(unsigned long long)b.push_failed, (unsigned long long)b.removed);
}

/* issue 11: binary transfers in progress and recently finished. NULL list: none to show
 * (no hook: the CLI's own process, or the daemon has no binary engines). */
static struct csp_xfer_view *transfers_get(struct csp_cmd_ctx *x, size_t *n)
{
	*n = 0;
	if (!x->transfers || !x->binary_ud)
		return NULL;
	size_t max = CSP_XFER_ACTIVE_MAX + CSP_XFER_KEEP;
	struct csp_xfer_view *v = calloc(max, sizeof *v);
	if (v)
		*n = x->transfers(x->binary_ud, v, max);
	return v;
}

static json_t *transfers_json(struct csp_cmd_ctx *x)
{
	size_t n = 0;
	struct csp_xfer_view *v = transfers_get(x, &n);
	if (!v)
		return NULL;
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		const struct csp_xfer_view *t = &v[i];
		json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:b, s:f, s:I, s:I, s:f}",
				      "kind", csp_xfer_kind_name(t->kind), "lea", t->lea, "object",
				      (json_int_t)t->object, "size", (json_int_t)t->size, "length",
				      (json_int_t)t->length, "bytes", (json_int_t)t->bytes, "state",
				      t->stage, "finished", t->finished, "rate", t->rate, "eta_s",
				      (json_int_t)t->eta_s, "started", (json_int_t)t->started,
				      "elapsed_s", t->elapsed_s);
		if (!o)
			continue;
		if (t->range[0])
			json_object_set_new(o, "range", json_string(t->range));
		if (t->attempt)
			json_object_set_new(o, "attempt", json_integer(t->attempt));
		if (t->finished)
			json_object_set_new(o, "outcome", json_string(t->outcome));
		json_array_append_new(a, o);
	}
	free(v);
	return a;
}

/* 1536 -> "1.5 KiB" */
static void bytes_text(double b, char *out, size_t n)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4)
		b /= 1024, i++;
	snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void transfers_text(struct csp_cmd_ctx *x)
{
	size_t n = 0;
	struct csp_xfer_view *v = transfers_get(x, &n);
	if (!v)
		return;
	size_t act = 0;
	for (size_t i = 0; i < n; i++)
		act += !v[i].finished;
	fprintf(x->out, "transfers: %zu in progress, %zu finished recently\n", act, n - act);
	for (size_t i = 0; i < n; i++) {
		const struct csp_xfer_view *t = &v[i];
		char rate[32], att[24] = "", rng[CSP_XFER_RANGE_MAX + 8] = "", eta[32] = "";
		bytes_text(t->rate, rate, sizeof rate);
		if (t->attempt)
			snprintf(att, sizeof att, " attempt %d", t->attempt);
		if (t->range[0])
			snprintf(rng, sizeof rng, " range %s", t->range);
		if (!t->finished && t->eta_s >= 0)
			snprintf(eta, sizeof eta, ", eta %llds", (long long)t->eta_s);
		fprintf(x->out, "  %-5s lea %s object %lld%s%s: %s %llu/%llu bytes, %s/s%s, %.1fs%s%s\n",
			csp_xfer_kind_name(t->kind), t->lea, (long long)t->object, rng, att,
			t->finished ? "finished" : t->stage, (unsigned long long)t->bytes,
			(unsigned long long)t->length, rate, eta, t->elapsed_s,
			t->finished ? ", " : "", t->finished ? t->outcome : "");
	}
	free(v);
}

static void live_text(struct csp_cmd_ctx *x)
{
	for (size_t i = 0; x->live && x->cfg && i < x->cfg->n_leas; i++) {
		struct csp_lea_live v;
		const char *n = x->cfg->leas[i].name;
		if (x->live(x->hook_ud, n, &v) != 0) {
			fprintf(x->out, "engine %s: not running\n", n);
			continue;
		}
		char ok[32], bad[32];
		age_text_ago(x->now, v.last_success, true, ok, sizeof ok);
		age_text_ago(x->now, v.last_error, true, bad, sizeof bad);
		fprintf(x->out, "engine %s: in flight %u, sent %llu, done %llu, retried %llu, parked "
				"%llu, last success %s, last error %s%s%s\n",
			n, v.in_flight, (unsigned long long)v.sent, (unsigned long long)v.done,
			(unsigned long long)v.retried, (unsigned long long)v.parked, ok, bad,
			v.last_error_text[0] ? ": " : "", v.last_error_text);
	}
}

int csp_cmd_status(struct csp_cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
					   {"config", required_argument, NULL, 'c'},
					   {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	bool json = false;
	int o;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (o) {
		case 'j': json = true; break;
		case 'c': break;
		case 'h':
			fprintf(x->out, "Usage: li707-csp status [--config FILE] [--json]\n"
					"Per LEA: queue depth, oldest age, deliveries by state, last success\n"
					"and last error; references by state; binary transfers in progress\n"
					"(bytes, rate, eta) and the last ones finished.\n");
			return 0;
		default: return csp_cli_usage_error(x->err, "status", "unknown option");
		}
	}
	if (optind < argc)
		return csp_cli_usage_error(x->err, "status", "unexpected argument");
	struct csp_store_counts c;
	int rc = csp_store_counts(x->store, &c);
	if (rc) {
		fprintf(x->err, "li707-csp status: %s\n", li707_strerror(rc));
		return li707_exit_code(rc);
	}
	if (json) {
		json_t *root = json_object(), *leas = json_array();
		for (size_t i = 0; i < c.n_leas; i++) {
			const struct csp_lea_counts *l = &c.leas[i];
			json_t *d = json_object();
			for (int s = 0; s < CSP_D_NSTATES; s++)
				json_object_set_new(d, csp_dstate_name((enum csp_dstate)s),
						    json_integer((json_int_t)l->d[s]));
			json_t *lj = json_pack("{s:s, s:b, s:I, s:I, s:I, s:o, s:I, s:s?}", "lea", l->lea,
					       "configured", csp_config_lea(x->cfg, l->lea) != NULL,
					       "queue_depth", (json_int_t)csp_lea_queue_depth(l),
					       "events_queued", (json_int_t)l->events_queued,
					       "oldest_age_s",
					       (json_int_t)(l->oldest ? x->now - l->oldest : 0),
					       "deliveries", d, "last_success", (json_int_t)l->last_done,
					       "last_error", l->last_error);
			live_json(x, lj, l->lea); /* csp-wire-deliver */
			json_array_append_new(leas, lj);
		}
		for (size_t i = 0; x->cfg && i < x->cfg->n_leas; i++) {
			bool seen = false;
			for (size_t j = 0; j < c.n_leas; j++)
				seen |= strcmp(c.leas[j].lea, x->cfg->leas[i].name) == 0;
			if (!seen) {
				json_t *lj = json_pack("{s:s, s:b, s:i}", "lea", x->cfg->leas[i].name,
						       "configured", 1, "queue_depth", 0);
				live_json(x, lj, x->cfg->leas[i].name); /* csp-wire-deliver */
				json_array_append_new(leas, lj);
			}
		}
		json_object_set_new(root, "leas", leas);
		json_t *bj = binary_json(x); /* csp-wire-binary */
		if (bj)
			json_object_set_new(root, "binary", bj);
		json_t *tj = transfers_json(x); /* issue 11 */
		if (tj)
			json_object_set_new(root, "transfers", tj);
		json_object_set_new(root, "refs", json_pack("{s:I, s:I}", "open", (json_int_t)c.refs_open,
							    "closed", (json_int_t)c.refs_closed));
		char *s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
		fprintf(x->out, "%s\n", s ? s : "{}");
		free(s);
		json_decref(root);
	} else {
		fprintf(x->out, "references: %llu open, %llu closed\n",
			(unsigned long long)c.refs_open, (unsigned long long)c.refs_closed);
		fprintf(x->out, "%-16s %8s %8s %6s %6s %8s %6s %6s %8s %s\n", "LEA", "depth",
			"oldest", "review", "ready", "inflight", "parked", "done", "success", "last error");
		for (size_t i = 0; i < c.n_leas; i++) {
			const struct csp_lea_counts *l = &c.leas[i];
			char age[32], ok[32];
			age_text(x->now, l->oldest, age, sizeof age);
			age_text(x->now, l->last_done, ok, sizeof ok);
			fprintf(x->out, "%-16s %8llu %8s %6llu %6llu %8llu %6llu %6llu %8s %s\n", l->lea,
				(unsigned long long)csp_lea_queue_depth(l), age,
				(unsigned long long)l->d[CSP_D_REVIEW],
				(unsigned long long)l->d[CSP_D_READY],
				(unsigned long long)l->d[CSP_D_INFLIGHT],
				(unsigned long long)l->d[CSP_D_PARKED],
				(unsigned long long)l->d[CSP_D_DONE], ok,
				l->last_error ? l->last_error : "-");
		}
		live_text(x); /* csp-wire-deliver */
		binary_text(x); /* csp-wire-binary */
		transfers_text(x); /* issue 11 */
		struct csp_delivery *v = NULL;
		size_t n = 0;
		if (csp_store_deliveries(x->store, NULL, CSP_D_PARKED, 100, &v, &n) == 0 && n) {
			fprintf(x->out, "parked deliveries (li707-csp retry|drop ID):\n");
			for (size_t i = 0; i < n; i++)
				fprintf(x->out, "  %lld lea=%s ref=%lld seq=%lld items=%lld error=%s\n",
					(long long)v[i].id, v[i].lea, (long long)v[i].ref_id,
					(long long)v[i].seq, (long long)v[i].items,
					v[i].last_error ? v[i].last_error : "-");
		}
		csp_deliveries_free(v, n);
	}
	csp_store_counts_clear(&c);
	return 0;
}

/* ---- review, retry, drop ---- */

static bool parse_id(const char *s, int64_t *out)
{
	uint64_t v;
	if (!li707_parse_uint(s, &v) || v == 0 || v > INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static int transition_result(struct csp_cmd_ctx *x, const char *what, int64_t id, int rc)
{
	if (!rc) {
		fprintf(x->out, "delivery %lld: %s\n", (long long)id, what);
		/* csp-wire-deliver: audit record, wake the engine */
		static const struct {
			const char *w;
			enum csp_cmd_event ev;
		} m[] = {{"approve", CSP_CMD_APPROVE}, {"reject", CSP_CMD_REJECT},
			 {"retry", CSP_CMD_RETRY}, {"drop", CSP_CMD_DROP}};
		for (size_t i = 0; x->notify && i < sizeof m / sizeof m[0]; i++)
			if (!strcmp(what, m[i].w))
				x->notify(x->hook_ud, x, m[i].ev, id);
		return 0;
	}
	struct csp_delivery d = {0};
	if (rc == -EALREADY && csp_store_delivery_get(x->store, id, false, &d) == 0) {
		fprintf(x->err, "li707-csp: delivery %lld is %s: cannot %s it\n", (long long)id,
			csp_dstate_name(d.state), what);
		csp_delivery_clear(&d);
		return 1;
	}
	if (rc == LI707_ENOTFOUND) {
		fprintf(x->err, "li707-csp: no delivery %lld\n", (long long)id);
		return 1;
	}
	fprintf(x->err, "li707-csp: delivery %lld: %s\n", (long long)id, li707_strerror(rc));
	return li707_exit_code(rc);
}

static void print_delivery(FILE *f, const struct csp_delivery *d)
{
	fprintf(f, "%lld lea=%s ref=%lld seq=%lld%s items=%lld bytes=%llu state=%s attempts=%lld\n",
		(long long)d->id, d->lea, (long long)d->ref_id, (long long)d->seq,
		d->last ? " last" : "", (long long)d->items, (unsigned long long)d->bytes,
		csp_dstate_name(d->state), (long long)d->attempts);
}

int csp_cmd_review(struct csp_cmd_ctx *x, int argc, char **argv)
{
	/* li707-csp review list | show ID | approve ID | reject ID */
	int first = 1;
	while (first < argc && argv[first][0] == '-') {
		if (!strcmp(argv[first], "--help") || !strcmp(argv[first], "-h")) {
			fprintf(x->out, "Usage: li707-csp review list|show ID|approve ID|reject ID "
					"[--config FILE]\nDeliveries of references added with --review "
					"wait for a person (clause 4.2, R-RSP-2).\n");
			return 0;
		}
		first += (!strcmp(argv[first], "--config") || !strcmp(argv[first], "-c")) ? 2 : 1;
	}
	if (first >= argc)
		return csp_cli_usage_error(x->err, "review", "list, show, approve or reject expected");
	const char *sub = argv[first];
	const char *arg = NULL;
	for (int i = first + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9))
			continue;
		if (arg)
			return csp_cli_usage_error(x->err, "review", "unexpected argument");
		arg = argv[i];
	}
	if (!strcmp(sub, "list")) {
		if (arg)
			return csp_cli_usage_error(x->err, "review", "list takes no argument");
		struct csp_delivery *v = NULL;
		size_t n = 0;
		int rc = csp_store_deliveries(x->store, NULL, CSP_D_REVIEW, 0, &v, &n);
		if (rc) {
			fprintf(x->err, "li707-csp review: %s\n", li707_strerror(rc));
			return li707_exit_code(rc);
		}
		for (size_t i = 0; i < n; i++)
			print_delivery(x->out, &v[i]);
		if (!n)
			fprintf(x->out, "nothing waits for review\n");
		csp_deliveries_free(v, n);
		return 0;
	}
	int64_t id;
	if (!arg || !parse_id(arg, &id))
		return csp_cli_usage_error(x->err, "review", "a delivery ID expected");
	if (!strcmp(sub, "show")) {
		struct csp_delivery d;
		int rc = csp_store_delivery_get(x->store, id, true, &d);
		if (rc)
			return transition_result(x, "show", id, rc);
		print_delivery(x->out, &d);
		/* the HI1Message as it will be sent: the reviewer's to read */
		fwrite(d.xml, 1, d.xml_len, x->out);
		fputc('\n', x->out);
		csp_delivery_clear(&d);
		return 0;
	}
	if (!strcmp(sub, "approve"))
		return transition_result(x, "approve", id, csp_store_d_approve(x->store, id, x->now));
	if (!strcmp(sub, "reject"))
		return transition_result(x, "reject", id, csp_store_d_reject(x->store, id, x->now));
	return csp_cli_usage_error(x->err, "review", "list, show, approve or reject expected");
}

int csp_cmd_retry_drop(struct csp_cmd_ctx *x, int argc, char **argv)
{
	const char *cmd = argv[0];
	const char *arg = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fprintf(x->out, "Usage: li707-csp %s ID [--config FILE]\n%s\n", cmd,
				!strcmp(cmd, "retry") ? "A parked (or backing-off) delivery is sent again now."
						      : "A parked, ready or reviewed delivery is given up.");
			return 0;
		}
		if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9))
			continue;
		if (arg)
			return csp_cli_usage_error(x->err, cmd, "unexpected argument");
		arg = argv[i];
	}
	int64_t id;
	if (!arg || !parse_id(arg, &id))
		return csp_cli_usage_error(x->err, cmd, "a delivery ID expected");
	if (!strcmp(cmd, "retry"))
		return transition_result(x, "retry", id, csp_store_d_retry(x->store, id, x->now));
	return transition_result(x, "drop", id, csp_store_d_drop(x->store, id, x->now));
}

/* ---- dispatch ---- */

int csp_cli_store_command(struct csp_cmd_ctx *x, int argc, char **argv)
{
	const char *c = argv[0];
	if (!strcmp(c, "ref"))
		return csp_cmd_ref(x, argc, argv);
	if (!strcmp(c, "audit"))
		return csp_cmd_audit(x, argc, argv);
	if (!strcmp(c, "status"))
		return csp_cmd_status(x, argc, argv);
	if (!strcmp(c, "review"))
		return csp_cmd_review(x, argc, argv);
	if (!strcmp(c, "retry") || !strcmp(c, "drop"))
		return csp_cmd_retry_drop(x, argc, argv);
	return -1;
}

static bool is_store_command(const char *c)
{
	static const char *const v[] = {"ref", "audit", "status", "review", "retry", "drop", NULL};
	for (int i = 0; v[i]; i++)
		if (!strcmp(c, v[i]))
			return true;
	return false;
}

/* The daemon's side of the control socket. */
static pthread_mutex_t control_mu = PTHREAD_MUTEX_INITIALIZER;

int csp_cli_control(void *ud, const char *body, size_t len, struct lx_dynbuf *out)
{
	struct csp_cmd_ctx base = *(struct csp_cmd_ctx *)ud;
	json_t *req = json_loadb(body, len, 0, NULL);
	json_t *av = req ? json_object_get(req, "argv") : NULL;
	size_t n = json_is_array(av) ? json_array_size(av) : 0;
	if (!n || n > 64) {
		json_decref(req);
		lx_dynbuf_addstr(out, "{\"rc\":2,\"out\":\"\",\"err\":\"bad control request\\n\"}");
		return 400;
	}
	char *argv[65] = {0};
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(av, i));
		argv[i] = (char *)(s ? s : "");
	}
	char *ob = NULL, *eb = NULL;
	size_t ol = 0, el = 0;
	base.out = open_memstream(&ob, &ol);
	base.err = open_memstream(&eb, &el);
	struct li707_time t;
	li707_time_now(&t);
	base.now = t.epoch;
	int rc = 5;
	if (base.out && base.err) {
		pthread_mutex_lock(&control_mu); /* getopt's globals */
		rc = is_store_command(argv[0]) ? csp_cli_store_command(&base, (int)n, argv) : 2;
		pthread_mutex_unlock(&control_mu);
	}
	if (base.out)
		fclose(base.out);
	if (base.err)
		fclose(base.err);
	json_t *ans = json_pack("{s:i, s:s#, s:s#}", "rc", rc, "out", ob ? ob : "", ob ? ol : 0,
				"err", eb ? eb : "", eb ? el : 0);
	char *s = ans ? json_dumps(ans, JSON_COMPACT) : NULL;
	if (s)
		lx_dynbuf_addstr(out, s);
	free(s);
	json_decref(ans);
	json_decref(req);
	free(ob);
	free(eb);
	return 200;
}

/* Sends an HTTP POST over a Unix socket and reads the whole answer (status, body). */
static int connect_to(const char *where)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fam;
	if (!strncmp(where, "unix:", 5)) {
		struct sockaddr_un *a = (struct sockaddr_un *)&ss;
		a->sun_family = AF_UNIX;
		snprintf(a->sun_path, sizeof a->sun_path, "%s", where + 5);
		sl = sizeof *a;
		fam = AF_UNIX;
	} else {
		const char *colon = strrchr(where, ':');
		if (!colon)
			return LI707_EINVAL;
		char host[64];
		size_t hl = (size_t)(colon - where);
		if (hl >= sizeof host)
			return LI707_EINVAL;
		memcpy(host, where, hl);
		host[hl] = '\0';
		int port = atoi(colon + 1);
		if (host[0] == '[') {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			host[hl - 1] = '\0';
			a->sin6_family = AF_INET6;
			a->sin6_port = htons((uint16_t)port);
			if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
				return LI707_EINVAL;
			sl = sizeof *a;
			fam = AF_INET6;
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			a->sin_family = AF_INET;
			a->sin_port = htons((uint16_t)port);
			if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
				return LI707_EINVAL;
			sl = sizeof *a;
			fam = AF_INET;
		}
	}
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int csp_cli_http_post(const char *where, const char *path, const char *body, size_t len,
		      int *status, struct lx_dynbuf *ans)
{
	int fd = connect_to(where);
	if (fd < 0)
		return fd;
	char h[256];
	int hn = snprintf(h, sizeof h,
			  "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n"
			  "Connection: close\r\n\r\n", path, len);
	int rc = lx_write_all(fd, h, (size_t)hn);
	if (!rc && len)
		rc = lx_write_all(fd, body, len);
	struct lx_dynbuf raw;
	lx_dynbuf_init(&raw, 256u << 20);
	char buf[65536];
	while (!rc) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		if (r <= 0)
			break;
		rc = lx_dynbuf_add(&raw, buf, (size_t)r);
	}
	close(fd);
	const char *sep = raw.buf ? strstr(raw.buf, "\r\n\r\n") : NULL;
	if (!rc && (!sep || sscanf(raw.buf, "HTTP/1.%*d %d", status) != 1))
		rc = -EPROTO;
	if (!rc)
		rc = lx_dynbuf_add(ans, sep + 4, raw.len - (size_t)(sep + 4 - raw.buf));
	lx_dynbuf_free(&raw);
	return rc;
}

static int forward(const struct csp_config *c, int argc, char **argv)
{
	char sock[4200];
	snprintf(sock, sizeof sock, "%s/%s", c->spool, CSP_CONTROL_SOCKET);
	json_t *av = json_array();
	for (int i = 0; i < argc; i++)
		json_array_append_new(av, json_string(argv[i]));
	json_t *req = json_pack("{s:o}", "argv", av);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		fprintf(stderr, "li707-csp: out of memory\n");
		return 5;
	}
	struct lx_dynbuf ans;
	lx_dynbuf_init(&ans, 256u << 20);
	int status = 0;
	char where[4300];
	snprintf(where, sizeof where, "unix:%s", sock);
	int rc = csp_cli_http_post(where, CSP_CONTROL_PATH, body, strlen(body), &status, &ans);
	free(body);
	if (rc) {
		fprintf(stderr, "li707-csp: the store is in use (the daemon runs?) and its control "
				"socket %s does not answer: %s\n", sock, li707_strerror(rc));
		lx_dynbuf_free(&ans);
		return 3;
	}
	json_t *r = json_loadb(ans.buf ? ans.buf : "", ans.len, 0, NULL);
	lx_dynbuf_free(&ans);
	if (!r) {
		fprintf(stderr, "li707-csp: bad answer from the daemon (HTTP %d)\n", status);
		return 3;
	}
	const char *o = json_string_value(json_object_get(r, "out"));
	const char *e = json_string_value(json_object_get(r, "err"));
	int code = (int)json_integer_value(json_object_get(r, "rc"));
	if (o)
		fwrite(o, 1, json_string_length(json_object_get(r, "out")), stdout);
	if (e)
		fwrite(e, 1, json_string_length(json_object_get(r, "err")), stderr);
	json_decref(r);
	return code;
}

/* csp-wire-deliver: `li707-csp audit check [--json] [FILE] [--config FILE]` (csp_audit.h). */
static int audit_check(int argc, char **argv)
{
	char *av[8];
	int n = 0;
	bool has_config = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) {
			i++;
			has_config = true;
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9)) {
			has_config = true;
			continue;
		}
		if (n == 7)
			return csp_cli_usage_error(stderr, "audit", "too many arguments");
		av[n++] = argv[i];
	}
	av[n] = NULL;
	char path[4200];
	const char *def = NULL;
	bool has_file = false;
	for (int i = 1; i < n; i++)
		has_file |= av[i][0] != '-';
	if (!has_file || has_config) {
		struct csp_config *c = NULL;
		char err[512] = "";
		int rc = csp_config_load(csp_cli_config_path(argc, argv), &c, err, sizeof err);
		if (rc && !has_file) {
			fprintf(stderr, "li707-csp: %s\n", err[0] ? err : li707_strerror(rc));
			return li707_exit_code(rc);
		}
		if (!rc) {
			snprintf(path, sizeof path, "%s/%s", c->spool, CSP_AUDIT_FILE);
			def = path;
		}
		csp_config_free(c);
	}
	optind = 1;
	return csp_audit_cmd_check(n, av, def);
}

int csp_cli_command(int argc, char **argv)
{
	if (!strcmp(argv[0], "submit"))
		return csp_cmd_submit(argc, argv);
	if (!is_store_command(argv[0]))
		return -1;
	if (!strcmp(argv[0], "audit") && argc >= 2 && !strcmp(argv[1], "check"))
		return audit_check(argc, argv); /* csp-wire-deliver: reads the file, no store */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			struct csp_cmd_ctx x = {.out = stdout, .err = stderr};
			return csp_cli_store_command(&x, argc, argv);
		}
	const char *path = csp_cli_config_path(argc, argv);
	struct csp_config *c = NULL;
	char err[512] = "";
	int rc = csp_config_load(path, &c, err, sizeof err);
	if (rc) {
		fprintf(stderr, "li707-csp: %s\n", err[0] ? err : li707_strerror(rc));
		return li707_exit_code(rc);
	}
	struct csp_store *s = NULL;
	struct csp_store_opts so = {.spool = c->spool, .sync_normal = !c->sync_full};
	rc = csp_store_open(&so, &s, err, sizeof err);
	if (rc == -EBUSY) {
		rc = forward(c, argc, argv);
		csp_config_free(c);
		return rc;
	}
	if (rc) {
		fprintf(stderr, "li707-csp: %s\n", err[0] ? err : li707_strerror(rc));
		csp_config_free(c);
		return 3;
	}
	struct li707_time t;
	li707_time_now(&t);
	struct csp_cmd_ctx x = {.cfg = c, .store = s, .out = stdout, .err = stderr, .now = t.epoch,
				.notify = csp_rd_notify}; /* csp-wire-deliver: audit records */
	rc = csp_cli_store_command(&x, argc, argv);
	csp_store_close(s);
	csp_config_free(c);
	return rc;
}
