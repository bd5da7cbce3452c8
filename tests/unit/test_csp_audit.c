/* li707-csp audit log (src/csp/csp_audit.c; Annex D.3.1, D.4, R-SEC-6): append and check,
 * every kind of tampering found at the right line, a torn tail refused then recovered, a
 * process killed while appending, concurrent appenders chained, and no field that can take
 * a target identifier. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csp_audit.h"
#include "csp_audit_queue.h"
#include "testutil.h"

/* R-SEC-6: a reference is an integer key; the record has no string that could be an LIID
 * (object is checked as a UUID, lea as a section name). Compile-time: */
_Static_assert(_Generic(((struct csp_audit_record *)0)->ref, int64_t: 1, default: 0),
	       "an audit record names a reference by its integer key");

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/li707-test-audit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/audit.log", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tu_rm_rf(f->dir);
	free(f);
	return 0;
}

static const char *const UUIDS[] = {
	"6f1c0d5e-8d3a-4a7b-9c2e-1f0a2b3c4d5e",
	"0b8e6a2c-3d4f-4e5a-8b6c-7d8e9f0a1b2c",
};

/* Writes n records of assorted kinds (half in one batch). */
static void fill(const char *path, int n)
{
	struct csp_audit *a = NULL;
	assert_int_equal(csp_audit_open(path, 0, &a, NULL), 0);
	uint64_t start = csp_audit_last(a, NULL);
	struct csp_audit_record r[64];
	assert_true(n <= 64);
	for (int i = 0; i < n; i++) {
		csp_audit_record_init(&r[i], (enum csp_audit_event)(CSP_AUDIT_DELIVERY + i % 3));
		r[i].outcome = i % 3 == 0 ? CSP_AUDIT_DONE : i % 3 == 1 ? CSP_AUDIT_STORED : CSP_AUDIT_DONE;
		r[i].ref = 1 + i % 4;
		r[i].lea = "lea-1";
		r[i].delivery = 100 + i;
		r[i].seq = i + 1;
		r[i].object = UUIDS[i % 2];
		r[i].bytes = 1000 * i;
		r[i].http_status = 200;
	}
	int half = n / 2;
	for (int i = 0; i < half; i++)
		assert_int_equal(csp_audit_append(a, &r[i]), 0);
	if (n > half)
		assert_int_equal(csp_audit_append_batch(a, r + half, (size_t)(n - half)), 0);
	char h[CSP_AUDIT_HASH_HEX];
	assert_int_equal(csp_audit_last(a, h), start + (uint64_t)n);
	assert_int_equal(strlen(h), 64);
	csp_audit_close(a);
}

static void check_ok(const char *path, uint64_t records)
{
	struct csp_audit_report rep;
	int rc = csp_audit_check(path, &rep);
	if (rc != 0)
		fail_msg("check: %d, line %llu: %s", rc, (unsigned long long)rep.line, rep.why);
	assert_int_equal(rep.records, records);
	assert_true(rep.anchored);
}

static void test_audit_append_and_reopen(void **state)
{
	struct fx *f = *state;
	struct csp_audit_report rep;
	assert_int_equal(csp_audit_check(f->path, &rep), -ENOENT);
	fill(f->path, 10);
	check_ok(f->path, 10);
	/* Reopen: the chain goes on from the last record. */
	fill(f->path, 6);
	check_ok(f->path, 16);
	/* Each line is one JSON object with the documented fields; the first chains genesis. */
	size_t len;
	char *buf = tu_read_file(f->path, &len);
	char *nl = strchr(buf, '\n');
	json_t *o = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "prev")), CSP_AUDIT_GENESIS);
	assert_int_equal(json_integer_value(json_object_get(o, "rec")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "ref")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "delivery");
	assert_string_equal(json_string_value(json_object_get(o, "outcome")), "done");
	assert_string_equal(json_string_value(json_object_get(o, "object")), UUIDS[0]);
	assert_non_null(json_string_value(json_object_get(o, "time")));
	assert_int_equal(strlen(json_string_value(json_object_get(o, "hash"))), 64);
	json_decref(o);
	free(buf);
}

/* ---- tampering ---- */

struct lines {
	char *l[64];
	size_t n;
};

static void lines_read(const char *path, struct lines *ls)
{
	size_t len;
	char *buf = tu_read_file(path, &len);
	ls->n = 0;
	for (char *p = buf, *e; *p; p = e + 1) {
		e = strchr(p, '\n');
		assert_non_null(e);
		ls->l[ls->n++] = strndup(p, (size_t)(e - p + 1));
	}
	free(buf);
}

static void lines_write(const char *path, struct lines *ls)
{
	FILE *fp = fopen(path, "we");
	assert_non_null(fp);
	for (size_t i = 0; i < ls->n; i++)
		fputs(ls->l[i], fp);
	assert_int_equal(fclose(fp), 0);
}

static void lines_free(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i]);
}

enum tamper { T_EDIT, T_EDIT_LAST, T_EDIT_DIGIT, T_DELETE, T_SWAP, T_INSERT, T_TRUNC_MID, T_TRUNC_LINE,
	      T_DELETE_FIRST, T_SPACES };

static void tamper(const char *path, enum tamper t)
{
	struct lines ls;
	lines_read(path, &ls);
	assert_int_equal(ls.n, 8);
	switch (t) {
	case T_EDIT: { /* one byte of line 3's lea name */
		char *p = strstr(ls.l[2], "lea-1");
		p[4] = '2';
		break;
	}
	case T_EDIT_LAST: {
		char *p = strstr(ls.l[7], "\"ref\":4");
		p[6] = '5';
		break;
	}
	case T_EDIT_DIGIT: { /* line 4's byte count: 3000 -> 9000 */
		char *p = strstr(ls.l[3], "\"bytes\":3000");
		p[8] = '9';
		break;
	}
	case T_DELETE:
		free(ls.l[2]);
		memmove(&ls.l[2], &ls.l[3], (ls.n - 3) * sizeof ls.l[0]);
		ls.n--;
		break;
	case T_SWAP: {
		char *x = ls.l[1];
		ls.l[1] = ls.l[2];
		ls.l[2] = x;
		break;
	}
	case T_INSERT: /* line 5 again after line 5 */
		memmove(&ls.l[6], &ls.l[5], (ls.n - 5) * sizeof ls.l[0]);
		ls.l[5] = strdup(ls.l[4]);
		ls.n++;
		break;
	case T_TRUNC_MID: /* line 6 cut in the middle, the rest gone */
		ls.l[5][20] = '\0';
		for (size_t i = 6; i < ls.n; i++)
			free(ls.l[i]);
		ls.n = 6;
		break;
	case T_TRUNC_LINE: /* the last two lines gone, at a line boundary */
		free(ls.l[7]);
		free(ls.l[6]);
		ls.n = 6;
		break;
	case T_DELETE_FIRST:
		free(ls.l[0]);
		memmove(&ls.l[0], &ls.l[1], (ls.n - 1) * sizeof ls.l[0]);
		ls.n--;
		break;
	case T_SPACES: { /* same content, other bytes: a space after the first comma of line 2 */
		char *p = strchr(ls.l[1], ',');
		char *n = malloc(strlen(ls.l[1]) + 2);
		size_t k = (size_t)(p - ls.l[1]) + 1;
		memcpy(n, ls.l[1], k);
		n[k] = ' ';
		strcpy(n + k + 1, p + 1);
		free(ls.l[1]);
		ls.l[1] = n;
		break;
	}
	}
	lines_write(path, &ls);
	lines_free(&ls);
}

static void test_audit_tamper_detected(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *name;
		enum tamper t;
		uint64_t line;
		const char *why;
		bool open_refused; /* open sees it too (last line or anchor) */
	} cases[] = {
		{"edit a byte", T_EDIT, 3, "hash does not match", false},
		{"edit the last line", T_EDIT_LAST, 8, "hash does not match", true},
		{"edit a number", T_EDIT_DIGIT, 4, "hash does not match", false},
		{"delete a line", T_DELETE, 3, "record number 4 where 3 was due", false},
		{"swap two lines", T_SWAP, 2, "record number 3 where 2 was due", false},
		{"insert a copy", T_INSERT, 6, "record number 5 where 6 was due", false},
		{"truncate mid-line", T_TRUNC_MID, 6, "torn last line", true},
		{"truncate at a line end", T_TRUNC_LINE, 7, "anchor names record 8", true},
		{"delete the first line", T_DELETE_FIRST, 1, "record number 2 where 1 was due", false},
		{"re-encode a line", T_SPACES, 2, "hash does not match", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unlink(f->path);
		char a[160];
		snprintf(a, sizeof a, "%s.anchor", f->path);
		unlink(a);
		fill(f->path, 8);
		check_ok(f->path, 8);
		tamper(f->path, cases[i].t);
		struct csp_audit_report rep;
		int rc = csp_audit_check(f->path, &rep);
		if (rc != LI707_EMISMATCH || rep.line != cases[i].line || !strstr(rep.why, cases[i].why))
			fail_msg("%s: expected line %llu \"%s\", got rc %d line %llu \"%s\"",
				 cases[i].name, (unsigned long long)cases[i].line, cases[i].why, rc,
				 (unsigned long long)rep.line, rep.why);
		assert_int_equal(rep.records, cases[i].line - 1);
		assert_int_equal(rep.torn, cases[i].t == T_TRUNC_MID);
		/* open verifies the last line and the anchor (a full check is `audit check`'s):
		 * damage there is never repaired, not even with RECOVER (a torn tail with
		 * records lost before it is not a plain torn append). */
		struct csp_audit *au = NULL;
		int orc = csp_audit_open(f->path, CSP_AUDIT_RECOVER, &au, NULL);
		if (cases[i].open_refused != (orc == LI707_EDAMAGED))
			fail_msg("%s: open gave %d", cases[i].name, orc);
		csp_audit_close(au);
	}
}

/* ---- torn tail and kill -9 ---- */

static void test_audit_torn_tail_recovered(void **state)
{
	struct fx *f = *state;
	fill(f->path, 4);
	int fd = open(f->path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	static const char torn[] = "{\"v\":1,\"rec\":5,\"time\":\"2026";
	assert_int_equal(write(fd, torn, sizeof torn - 1), (ssize_t)(sizeof torn - 1));
	close(fd);
	struct csp_audit_report rep;
	assert_int_equal(csp_audit_check(f->path, &rep), LI707_EMISMATCH);
	assert_true(rep.torn);
	assert_int_equal(rep.line, 5);
	/* Without RECOVER the daemon refuses to go on over it. */
	struct csp_audit *a = NULL;
	assert_int_equal(csp_audit_open(f->path, 0, &a, NULL), LI707_EDAMAGED);
	assert_null(a);
	struct csp_audit_info info;
	assert_int_equal(csp_audit_open(f->path, CSP_AUDIT_RECOVER, &a, &info), 0);
	assert_true(info.recovered);
	assert_int_equal(info.torn_bytes, sizeof torn - 1);
	assert_int_equal(info.records, 5);
	struct csp_audit_record r;
	csp_audit_record_init(&r, CSP_AUDIT_OPENED);
	assert_int_equal(csp_audit_append(a, &r), 0);
	csp_audit_close(a);
	check_ok(f->path, 6);
	struct lines ls;
	lines_read(f->path, &ls);
	assert_non_null(strstr(ls.l[4], "\"event\":\"recovered\""));
	char want[32];
	snprintf(want, sizeof want, "\"bytes\":%zu", sizeof torn - 1);
	assert_non_null(strstr(ls.l[4], want));
	lines_free(&ls);
}

static void test_audit_kill9_while_appending(void **state)
{
	struct fx *f = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct csp_audit *a = NULL;
		if (csp_audit_open(f->path, 0, &a, NULL) != 0)
			_exit(1);
		struct csp_audit_record r[8];
		for (int i = 0; i < 8; i++) {
			csp_audit_record_init(&r[i], CSP_AUDIT_DELIVERY);
			r[i].ref = 7;
			r[i].outcome = CSP_AUDIT_DONE;
		}
		for (;;)
			if (csp_audit_append_batch(a, r, 1 + (size_t)(rand() % 8)) != 0)
				_exit(2);
	}
	usleep(300000);
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	struct csp_audit *a = NULL;
	struct csp_audit_info info;
	assert_int_equal(csp_audit_open(f->path, CSP_AUDIT_RECOVER, &a, &info), 0);
	assert_true(info.records > 0);
	csp_audit_close(a);
	struct csp_audit_report rep;
	int rc = csp_audit_check(f->path, &rep);
	if (rc != 0)
		fail_msg("after kill -9: %d line %llu %s", rc, (unsigned long long)rep.line, rep.why);
	assert_int_equal(rep.records, info.records);
}

/* A crash after the first record's log sync, before its anchor write: the anchor file is
 * empty. That is no anchor, not damage. */
static void test_audit_empty_anchor_is_no_anchor(void **state)
{
	struct fx *f = *state;
	fill(f->path, 1);
	char a[160];
	snprintf(a, sizeof a, "%s.anchor", f->path);
	assert_int_equal(truncate(a, 0), 0);
	struct csp_audit_report rep;
	assert_int_equal(csp_audit_check(f->path, &rep), 0);
	assert_false(rep.anchored);
	assert_int_equal(rep.records, 1);
	struct csp_audit *au = NULL;
	assert_int_equal(csp_audit_open(f->path, 0, &au, NULL), 0);
	csp_audit_close(au);
}

/* ---- threads ---- */

struct thr {
	struct csp_audit *a;
	int id;
	int failures;
};

static void *appender(void *p)
{
	struct thr *t = p;
	for (int i = 0; i < 40; i++) {
		struct csp_audit_record r[2];
		csp_audit_record_init(&r[0], CSP_AUDIT_PUSH);
		r[0].ref = t->id;
		r[0].outcome = CSP_AUDIT_STORED;
		r[1] = r[0];
		r[1].delivery = i + 1;
		int rc = i % 4 == 0 ? csp_audit_append_batch(t->a, r, 2) : csp_audit_append(t->a, r);
		if (rc)
			t->failures++;
	}
	return NULL;
}

static void test_audit_concurrent_appenders_chained(void **state)
{
	struct fx *f = *state;
	struct csp_audit *a = NULL;
	assert_int_equal(csp_audit_open(f->path, 0, &a, NULL), 0);
	pthread_t th[4];
	struct thr t[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){a, i + 1, 0};
		assert_int_equal(pthread_create(&th[i], NULL, appender, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].failures, 0);
	}
	assert_int_equal(csp_audit_last(a, NULL), 4 * (40 + 10));
	csp_audit_close(a);
	check_ok(f->path, 4 * (40 + 10));
}

/* ---- R-SEC-6: no target identifier can be written ---- */

static void test_sec6_audit_takes_no_target_identifier(void **state)
{
	struct fx *f = *state;
	struct csp_audit *a = NULL;
	assert_int_equal(csp_audit_open(f->path, 0, &a, NULL), 0);
	static const char *const liid = "ACME-LI-0042";
	struct csp_audit_record r;
	csp_audit_record_init(&r, CSP_AUDIT_DELIVERY);
	r.object = liid; /* not a UUID */
	assert_int_equal(csp_audit_append(a, &r), LI707_EINVAL);
	csp_audit_record_init(&r, CSP_AUDIT_DELIVERY);
	r.lea = "LIID ACME/LI/0042"; /* not a section name */
	assert_int_equal(csp_audit_append(a, &r), LI707_EINVAL);
	csp_audit_record_init(&r, CSP_AUDIT_DELIVERY);
	r.lea = "a-name-longer-than-sixty-four-bytes-is-not-an-lea-section-name-xx";
	assert_int_equal(csp_audit_append(a, &r), LI707_EINVAL);
	csp_audit_record_init(&r, CSP_AUDIT_DELIVERY);
	r.ref = -1;
	assert_int_equal(csp_audit_append(a, &r), LI707_EINVAL);
	csp_audit_record_init(&r, (enum csp_audit_event)99);
	assert_int_equal(csp_audit_append(a, &r), LI707_EINVAL);
	/* A batch with one bad record writes nothing. */
	struct csp_audit_record b[2];
	csp_audit_record_init(&b[0], CSP_AUDIT_REF_ADD);
	b[0].ref = 42;
	csp_audit_record_init(&b[1], CSP_AUDIT_DELIVERY);
	b[1].object = liid;
	assert_int_equal(csp_audit_append_batch(a, b, 2), LI707_EINVAL);
	assert_int_equal(csp_audit_last(a, NULL), 0);
	assert_int_equal(csp_audit_append(a, &b[0]), 0);
	csp_audit_close(a);
	size_t len;
	char *buf = tu_read_file(f->path, &len);
	assert_null(strstr(buf, "ACME"));
	assert_non_null(strstr(buf, "\"ref\":42"));
	free(buf);
	check_ok(f->path, 1);
}

/* ---- fetch records (issue 11) ---- */

/* The fetch record's encoding: its fields in the documented order, the new outcome names, the
 * object key and the range; the chain checks out. */
static void test_audit_fetch_record_encoding(void **state)
{
	struct fx *f = *state;
	struct csp_audit *a = NULL;
	assert_int_equal(csp_audit_open(f->path, 0, &a, NULL), 0);
	struct csp_audit_record r[5];
	static const struct {
		enum csp_audit_outcome oc;
		const char *range;
		int64_t bytes;
		int http;
	} v[5] = {
		{CSP_AUDIT_SERVED, "0-9,100-199", 345, 206},
		{CSP_AUDIT_PARTIAL, "whole", 1048576, 200},
		{CSP_AUDIT_REFUSED_PEER, NULL, 0, 404},
		{CSP_AUDIT_REFUSED_EXPIRED, NULL, 0, 404},
		{CSP_AUDIT_FAILED, NULL, 0, 500},
	};
	for (int i = 0; i < 5; i++) {
		csp_audit_record_init(&r[i], CSP_AUDIT_FETCH);
		r[i].outcome = v[i].oc;
		r[i].ref = 7;
		r[i].lea = "leaA";
		r[i].obj = 42;
		r[i].range = v[i].range;
		r[i].bytes = v[i].bytes;
		r[i].http_status = v[i].http;
	}
	assert_int_equal(csp_audit_append_batch(a, r, 5), 0);
	csp_audit_close(a);
	size_t len;
	char *buf = tu_read_file(f->path, &len);
	static const char *const want[] = {
		"\"event\":\"fetch\",\"outcome\":\"served\",\"ref\":7,\"lea\":\"leaA\",\"obj\":42,"
		"\"range\":\"0-9,100-199\",\"bytes\":345,\"http\":206,\"prev\":\"",
		"\"event\":\"fetch\",\"outcome\":\"partial\",\"ref\":7,\"lea\":\"leaA\",\"obj\":42,"
		"\"range\":\"whole\",\"bytes\":1048576,\"http\":200,\"prev\":\"",
		"\"event\":\"fetch\",\"outcome\":\"refused-wrong-client\",\"ref\":7,\"lea\":\"leaA\","
		"\"obj\":42,\"bytes\":0,\"http\":404,\"prev\":\"",
		"\"event\":\"fetch\",\"outcome\":\"refused-expired\",\"ref\":7,\"lea\":\"leaA\","
		"\"obj\":42,\"bytes\":0,\"http\":404,\"prev\":\"",
		"\"event\":\"fetch\",\"outcome\":\"failed\",\"ref\":7,\"lea\":\"leaA\",\"obj\":42,"
		"\"bytes\":0,\"http\":500,\"prev\":\"",
	};
	long last = 0;
	for (int i = 0; i < 5; i++) {
		long at = tu_line_of(buf, want[i]);
		if (at <= last)
			fail_msg("record %d not found after line %ld:\n%s", i, last, buf);
		last = at;
	}
	free(buf);
	check_ok(f->path, 5);
	/* No free text: a range is "whole" or digits and ",+-" */
	assert_int_equal(csp_audit_open(f->path, 0, &a, NULL), 0);
	csp_audit_record_init(&r[0], CSP_AUDIT_FETCH);
	r[0].range = "ACME-LI-0042";
	assert_int_equal(csp_audit_append(a, &r[0]), LI707_EINVAL);
	r[0].range = "";
	assert_int_equal(csp_audit_append(a, &r[0]), LI707_EINVAL);
	r[0].range = "0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33,34-35";
	assert_int_equal(csp_audit_append(a, &r[0]), LI707_EINVAL); /* > CSP_AUDIT_RANGE_MAX */
	r[0].range = "0-1,+3";
	r[0].obj = -1;
	assert_int_equal(csp_audit_append(a, &r[0]), LI707_EINVAL);
	r[0].obj = 1;
	assert_int_equal(csp_audit_append(a, &r[0]), 0);
	csp_audit_close(a);
	check_ok(f->path, 6);
}

struct qarg {
	struct csp_audit_queue *q;
	int base;
};

static void *queue_putter(void *p)
{
	struct qarg *qa = p;
	for (int i = 0; i < 500; i++) {
		struct csp_audit_record r;
		csp_audit_record_init(&r, CSP_AUDIT_FETCH);
		r.outcome = CSP_AUDIT_SERVED;
		r.obj = qa->base + i + 1;
		r.lea = "leaA";
		r.range = "whole";
		r.bytes = i;
		if (csp_audit_queue_put(qa->q, &r) != 0)
			return (void *)1;
	}
	return NULL;
}

/* The audit queue: four threads put 500 records each (their strings are copied); flush and
 * free write all of them, chained, each object key once; a bad record is refused at put. */
static void test_audit_queue_writes_everything(void **state)
{
	struct fx *f = *state;
	struct csp_audit *a = NULL;
	assert_int_equal(csp_audit_open(f->path, 0, &a, NULL), 0);
	struct csp_audit_queue *q = NULL;
	assert_int_equal(csp_audit_queue_new(a, &q), 0);
	struct csp_audit_record bad;
	csp_audit_record_init(&bad, CSP_AUDIT_FETCH);
	bad.range = "LIID";
	assert_int_equal(csp_audit_queue_put(q, &bad), LI707_EINVAL);
	pthread_t th[4];
	struct qarg qa[4];
	for (int i = 0; i < 4; i++) {
		qa[i] = (struct qarg){q, i * 1000};
		assert_int_equal(pthread_create(&th[i], NULL, queue_putter, &qa[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *ret = NULL;
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	csp_audit_queue_flush(q);
	uint64_t written = 0, failed = 0;
	csp_audit_queue_stats(q, &written, &failed);
	assert_int_equal(written, 2000);
	assert_int_equal(failed, 0);
	/* put then free at once: free writes what is queued */
	struct qarg last = {q, 9000};
	assert_null(queue_putter(&last));
	csp_audit_queue_free(q);
	assert_int_equal(csp_audit_last(a, NULL), 2500);
	csp_audit_close(a);
	check_ok(f->path, 2500);
	size_t len;
	char *buf = tu_read_file(f->path, &len);
	for (int k = 0; k < 4; k++)
		for (int i = 1; i <= 500; i += 99) {
			char needle[64];
			snprintf(needle, sizeof needle, "\"obj\":%d,", k * 1000 + i);
			assert_true(tu_line_of(buf, needle) > 0);
		}
	free(buf);
}

/* ---- li707-csp audit check ---- */

static int run_cmd(const char *out, int argc, char **argv, const char *dflt)
{
	fflush(stdout);
	int saved = dup(1);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 1);
	close(fd);
	int rc = csp_audit_cmd_check(argc, argv, dflt);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return rc;
}

static void test_audit_cmd_check_exit_codes(void **state)
{
	struct fx *f = *state;
	char out[160];
	snprintf(out, sizeof out, "%s/out", f->dir);
	fill(f->path, 8);
	char *a1[] = {"check", f->path, NULL};
	assert_int_equal(run_cmd(out, 2, a1, NULL), 0);
	size_t len;
	char *s = tu_read_file(out, &len);
	assert_non_null(strstr(s, "intact, 8 records"));
	free(s);
	char *a2[] = {"check", "--json", NULL};
	assert_int_equal(run_cmd(out, 2, a2, f->path), 0);
	s = tu_read_file(out, &len);
	json_t *o = json_loads(s, 0, NULL);
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_int_equal(json_integer_value(json_object_get(o, "records")), 8);
	json_decref(o);
	free(s);
	tamper(f->path, T_EDIT);
	assert_int_equal(run_cmd(out, 2, a1, NULL), 1);
	s = tu_read_file(out, &len);
	assert_non_null(strstr(s, "audit.log:3: hash does not match"));
	free(s);
	char *a3[] = {"check", "--json", f->path, NULL};
	assert_int_equal(run_cmd(out, 3, a3, NULL), 1);
	s = tu_read_file(out, &len);
	o = json_loads(s, 0, NULL);
	assert_true(json_is_false(json_object_get(o, "ok")));
	assert_int_equal(json_integer_value(json_object_get(o, "line")), 3);
	json_decref(o);
	free(s);
	char *a4[] = {"check", NULL};
	assert_int_equal(run_cmd(out, 1, a4, NULL), 2);
	char *a5[] = {"check", "--bogus", f->path, NULL};
	assert_int_equal(run_cmd(out, 3, a5, NULL), 2);
	char *a6[] = {"check", "/nonexistent/audit.log", NULL};
	assert_int_equal(run_cmd(out, 2, a6, NULL), 3);
	char *a7[] = {"check", "--help", NULL};
	assert_int_equal(run_cmd(out, 2, a7, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_audit_append_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_tamper_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_torn_tail_recovered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_kill9_while_appending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_empty_anchor_is_no_anchor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_concurrent_appenders_chained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sec6_audit_takes_no_target_identifier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_cmd_check_exit_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_fetch_record_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_queue_writes_everything, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
