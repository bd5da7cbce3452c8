/* li707-csp - `li707-csp submit [FILE|-] [--config FILE]`: events into the queue.
 *
 * How submit reaches the store: the store has one writer (its lock). When the daemon runs
 * (the lock is taken), submit sends the events to the daemon's first ingest_listen (a Unix
 * socket, else the loopback address), so the daemon stays the only writer; when it does not,
 * submit opens the store and ingests itself, with the same code. Input is sent in requests of
 * at most max_request_bytes and CSP_STORE_BATCH_MAX lines; each line gets its result on
 * stdout ({"line":N,"status":"accepted","id":Q} or "refused" with the error), numbered in
 * the whole input. Exit status: 0 every event accepted, 1 some refused, 3 the daemon or the
 * store could not take them (the results printed so far stand; the rest were not accepted). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csp_cli.h"
#include "csp_ingest.h"
#include "events.h"
#include "li707/error.h"

struct sub {
	const struct csp_config *c;
	struct csp_store *store;        /* direct */
	struct csp_ingest *ingest;
	const char *where;              /* through the daemon */
	size_t accepted, refused;
	bool failed;
};

/* Prints the results of a request, renumbered from first (the daemon numbers from 1). */
static void print_results(struct sub *s, const char *buf, size_t len, long first, bool renumber)
{
	for (size_t i = 0, st = 0; i <= len; i++) {
		if (i != len && buf[i] != '\n')
			continue;
		if (i > st) {
			json_t *r = json_loadb(buf + st, i - st, 0, NULL);
			if (r) {
				if (renumber)
					json_object_set_new(
						r, "line",
						json_integer(json_integer_value(json_object_get(r, "line")) +
							     first - 1));
				const char *status = json_string_value(json_object_get(r, "status"));
				if (status && !strcmp(status, "accepted"))
					s->accepted++;
				else
					s->refused++;
				char *t = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
				if (t)
					printf("%s\n", t);
				free(t);
				json_decref(r);
			}
		}
		st = i + 1;
	}
}

static int flush(struct sub *s, struct lx_dynbuf *req, long first)
{
	if (!req->len)
		return 0;
	struct lx_dynbuf ans;
	lx_dynbuf_init(&ans, 256u << 20);
	int rc;
	if (s->ingest) {
		struct csp_ingest_stats st;
		rc = csp_ingest_lines(s->ingest, req->buf, req->len, first, &ans, &st);
		if (!rc && st.store_failed)
			rc = -EIO;
		if (!rc)
			print_results(s, ans.buf ? ans.buf : "", ans.len, first, false);
	} else {
		int status = 0;
		rc = csp_cli_http_post(s->where, CSP_INGEST_PATH, req->buf, req->len, &status, &ans);
		if (!rc && status != 200) {
			fprintf(stderr, "li707-csp submit: the daemon answered %d: %.*s", status,
				(int)(ans.len > 200 ? 200 : ans.len), ans.buf ? ans.buf : "");
			rc = -EIO;
		}
		if (!rc)
			print_results(s, ans.buf ? ans.buf : "", ans.len, first, true);
	}
	lx_dynbuf_free(&ans);
	lx_dynbuf_clear(req);
	if (rc) {
		fprintf(stderr, "li707-csp submit: lines from %ld on were not accepted: %s\n", first,
			li707_strerror(rc));
		s->failed = true;
	}
	return rc;
}

static int run(struct sub *s, FILE *in)
{
	struct lx_event_reader r;
	lx_event_reader_init(&r, in, s->c->max_event_bytes);
	struct lx_dynbuf req;
	lx_dynbuf_init(&req, s->c->max_request_bytes + 1);
	long first = 1, lines = 0;
	int rc = 0;
	for (;;) {
		const char *line;
		size_t len;
		int n = lx_event_reader_next(&r, &line, &len);
		if (n == 0)
			break;
		if (n == LI707_ELIMIT) {
			/* refused here (the daemon would too): numbered in the input */
			if ((rc = flush(s, &req, first)))
				break;
			printf("{\"line\":%ld,\"status\":\"refused\",\"error\":\"line: longer than "
			       "max_event_bytes (%llu)\"}\n",
			       r.line, (unsigned long long)s->c->max_event_bytes);
			s->refused++;
			first = r.line + 1;
			lines = 0;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "li707-csp submit: cannot read the input: %s\n", li707_strerror(n));
			rc = n;
			break;
		}
		if (req.len + len + 1 > s->c->max_request_bytes || lines >= CSP_STORE_BATCH_MAX) {
			if ((rc = flush(s, &req, first)))
				break;
			first = r.line;
			lines = 0;
		}
		if (!req.len)
			first = r.line;
		if ((rc = lx_dynbuf_add(&req, line, len)) || (rc = lx_dynbuf_add(&req, "\n", 1)))
			break;
		lines++;
	}
	if (!rc)
		rc = flush(s, &req, first);
	lx_dynbuf_free(&req);
	lx_event_reader_done(&r);
	return rc;
}

int csp_cmd_submit(int argc, char **argv)
{
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("Usage: li707-csp submit [FILE|-] [--config FILE]\n"
			       "Queues the events of FILE (JSON Lines, docs/events.md; default stdin):\n"
			       "through the running daemon's ingest_listen, or into the store directly\n"
			       "when the daemon does not run. One result line per event on stdout.\n");
			return 0;
		}
		if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9))
			continue;
		if (argv[i][0] == '-' && argv[i][1])
			return csp_cli_usage_error(stderr, "submit", "unknown option");
		if (file)
			return csp_cli_usage_error(stderr, "submit", "one FILE at most");
		file = argv[i];
	}
	const char *path = csp_cli_config_path(argc, argv);
	struct csp_config *c = NULL;
	char err[512] = "";
	int rc = csp_config_load(path, &c, err, sizeof err);
	if (rc) {
		fprintf(stderr, "li707-csp: %s\n", err[0] ? err : li707_strerror(rc));
		return li707_exit_code(rc);
	}
	FILE *in = stdin;
	if (file && strcmp(file, "-") && !(in = fopen(file, "r"))) {
		fprintf(stderr, "li707-csp submit: cannot open the input: %s\n", strerror(errno));
		csp_config_free(c);
		return 3;
	}
	struct sub s = {.c = c};
	struct csp_store_opts so = {.spool = c->spool, .sync_normal = !c->sync_full};
	rc = csp_store_open(&so, &s.store, err, sizeof err);
	if (rc == -EBUSY) {
		/* the daemon runs: through its ingest endpoint (a Unix socket first) */
		for (size_t i = 0; i < c->n_ingest_listen && !s.where; i++)
			if (!strncmp(c->ingest_listen[i], "unix:", 5))
				s.where = c->ingest_listen[i];
		if (!s.where && c->n_ingest_listen)
			s.where = c->ingest_listen[0];
		if (!s.where) {
			fprintf(stderr, "li707-csp submit: the daemon runs (the store is locked) and has "
					"no ingest_listen\n");
			rc = 3;
			goto out;
		}
		rc = 0;
	} else if (rc) {
		fprintf(stderr, "li707-csp: %s\n", err[0] ? err : li707_strerror(rc));
		rc = 3;
		goto out;
	} else if ((rc = csp_ingest_new(c, s.store, &s.ingest, err, sizeof err))) {
		fprintf(stderr, "li707-csp submit: %s\n", err);
		rc = 3;
		goto out;
	}
	rc = run(&s, in);
	rc = s.failed || rc ? 3 : s.refused ? 1 : 0;
	fprintf(stderr, "li707-csp submit: %zu accepted, %zu refused\n", s.accepted, s.refused);
out:
	csp_ingest_free(s.ingest);
	csp_store_close(s.store);
	if (in != stdin)
		fclose(in);
	csp_config_free(c);
	return rc;
}
