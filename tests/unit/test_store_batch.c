/* Unit tests of the LEA store's write path as tuned for speed (src/lea/store_sqlite*.c):
 * - streams of one delivery keep no `streams` row, and their counters and gaps stay right
 *   as they grow (R-DEL-6 SequenceNumber per DeliveryID);
 * - puts run without savepoints: a put that fails inside a batch makes the writer roll the
 *   batch back and run it again, each job in its savepoint; the other puts of the batch are
 *   stored once, the failed one is reported FAILED (nothing acknowledged that is not on
 *   disk), attachment ids stay consecutive.
 * A failure is injected with a trigger that refuses items with a given timestamp. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

#include "store.h"

#define PEER "acme"
#define REF_A "LIID-A"
#define POISON "1999-01-01T00:00:00Z"

struct fx {
	char dir[64];
	struct lea_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/li707-storeb-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	struct lea_store_opts o = {.dir = f->dir};
	char err[256] = "";
	assert_int_equal(lea_store_open(&o, &f->s, err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	lea_store_close(f->s);
	tu_rm_rf(f->dir);
	free(f);
	return 0;
}

static struct li707_message *msg_new(void)
{
	struct li707_message *m = li707_message_new();
	assert_non_null(m);
	assert_int_equal(li707_header_init_defaults(&m->header, "XX", "CSP-1", "DE", "LEA-1"), 0);
	m->kind = LI707_MSG_REQUEST;
	return m;
}

/* A DELIVER of one item (sender "s-N", one receiver, a Model A attachment), timestamp ts. */
static struct li707_delivery *msg_add(struct li707_message *m, const char *ts, size_t n)
{
	struct li707_action *a = realloc(m->actions, (m->n_actions + 1) * sizeof *a);
	assert_non_null(a);
	m->actions = a;
	a = &m->actions[m->n_actions];
	memset(a, 0, sizeof *a);
	a->action_id = m->n_actions++;
	a->verb = LI707_VERB_DELIVER;
	struct li707_delivery *d = a->delivery = calloc(1, sizeof *d);
	assert_non_null(d);
	assert_int_equal(li707_delivery_init(d, &m->header, LI707_REF_LIID, REF_A), 0);
	memcpy(d->identifier, d->object_id, sizeof d->identifier);
	d->payload = LI707_PAYLOAD_ITEM;
	d->n_items = 1;
	struct li707_item *it = d->items = calloc(1, sizeof *it);
	assert_non_null(it);
	char buf[64];
	it->sender = calloc(1, sizeof *it->sender);
	assert_non_null(it->sender);
	it->sender->n_ids = 1;
	it->sender->ids = calloc(1, sizeof *it->sender->ids);
	assert_non_null(it->sender->ids);
	snprintf(buf, sizeof buf, "s-%zu", n);
	it->sender->ids[0].value = tu_xstrdup(buf);
	it->timestamp = tu_xstrdup(ts);
	it->n_attachments = 2;
	it->attachments = calloc(2, sizeof *it->attachments);
	assert_non_null(it->attachments);
	for (int k = 0; k < 2; k++) {
		snprintf(buf, sizeof buf, "https://csp.example/a/%zu/%d", n, k);
		it->attachments[k].url = tu_xstrdup(buf);
	}
	return d;
}

static int put(struct lea_store *s, const struct li707_message *m, enum lea_put_outcome *out)
{
	char *raw = NULL;
	size_t len = 0;
	assert_int_equal(li707_message_encode(m, &raw, &len, NULL), 0);
	struct lea_put p = {.peer = PEER, .raw = raw, .raw_len = len, .msg = m, .outcome = out};
	int rc = lea_store_put(s, &p);
	free(raw);
	return rc;
}

static void put_seq(struct lea_store *s, const char *did, bool has_seq, uint64_t seq, bool last)
{
	struct li707_message *m = msg_new();
	struct li707_delivery *d = msg_add(m, "2024-05-01T12:00:00Z", seq);
	snprintf(d->delivery_id, sizeof d->delivery_id, "%s", did);
	d->has_sequence = has_seq;
	d->sequence = seq;
	d->last_sequence = last ? LI707_TRUE : LI707_FALSE;
	enum lea_put_outcome out[1];
	assert_int_equal(put(s, m, out), 0);
	assert_int_equal(out[0], LEA_PUT_STORED);
	li707_message_free(m);
}

static int status_cb(void *cls, const struct lea_ref_status *st)
{
	if (st->reference)
		*(struct lea_ref_status *)cls = *st;
	return 0;
}

static struct lea_ref_status status(struct lea_store *s)
{
	struct lea_ref_status st;
	memset(&st, 0, sizeof st);
	assert_int_equal(lea_store_status(s, REF_A, status_cb, &st), 0);
	return st;
}

struct gaps {
	size_t n;
	char stream[8][40];
	uint64_t from[8], to[8];
};

static int gaps_cb(void *cls, const struct lea_gap *g)
{
	struct gaps *v = cls;
	if (g->kind != LEA_GAP_SEQUENCE || v->n == 8)
		return 0;
	snprintf(v->stream[v->n], sizeof v->stream[0], "%s", g->stream);
	v->from[v->n] = g->from;
	v->to[v->n++] = g->to;
	return 0;
}

static struct gaps gaps(struct lea_store *s)
{
	struct gaps g;
	memset(&g, 0, sizeof g);
	assert_int_equal(lea_store_gaps(s, REF_A, gaps_cb, &g), 0);
	return g;
}

/* R-DEL-6: single-delivery streams (no `streams` row) counted like any other, and right
 * again once a second delivery of the same DeliveryID comes. */
static void test_del6_single_delivery_streams(void **state)
{
	struct fx *f = *state;
	const char *d1 = "bbbbbbbb-0000-4000-8000-000000000001";
	const char *d2 = "bbbbbbbb-0000-4000-8000-000000000002";
	const char *d3 = "bbbbbbbb-0000-4000-8000-000000000003";

	put_seq(f->s, d1, true, 1, true); /* the usual delivery: 1 of 1 */
	struct lea_ref_status st = status(f->s);
	assert_int_equal(st.streams, 1);
	assert_int_equal(st.streams_ended, 1);
	assert_int_equal(st.seq_missing, 0);

	/* LastSequence again on a second number: still one stream, ended once. */
	put_seq(f->s, d1, true, 2, true);
	st = status(f->s);
	assert_int_equal(st.streams, 1);
	assert_int_equal(st.streams_ended, 1);
	assert_int_equal(st.seq_missing, 0);
	assert_int_equal(gaps(f->s).n, 0);

	/* A stream whose only delivery is number 4: 1..3 missing, listed. */
	put_seq(f->s, d2, true, 4, false);
	st = status(f->s);
	assert_int_equal(st.streams, 2);
	assert_int_equal(st.streams_ended, 1);
	assert_int_equal(st.seq_missing, 3);
	struct gaps g = gaps(f->s);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.stream[0], d2);
	assert_int_equal(g.from[0], 1);
	assert_int_equal(g.to[0], 3);

	/* A DeliveryID first without a SequenceNumber, then 1 (last): one stream, no gap. */
	put_seq(f->s, d3, false, 0, false);
	st = status(f->s);
	assert_int_equal(st.streams, 3);
	put_seq(f->s, d3, true, 1, true);
	put_seq(f->s, d2, true, 2, false); /* d2: 2, 4 -> 1 and 3 missing */
	st = status(f->s);
	assert_int_equal(st.streams, 3);
	assert_int_equal(st.streams_ended, 2);
	assert_int_equal(st.seq_missing, 2);
	assert_int_equal(st.deliveries, 6);
	g = gaps(f->s);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.from[0], 1);
	assert_int_equal(g.to[0], 1);
	assert_int_equal(g.from[1], 3);
	assert_int_equal(g.to[1], 3);

	/* A duplicate of a single-delivery stream's (DeliveryID, SequenceNumber). */
	struct li707_message *m = msg_new();
	struct li707_delivery *d = msg_add(m, "2024-05-01T12:00:00Z", 99);
	snprintf(d->delivery_id, sizeof d->delivery_id, "%s", d3);
	d->has_sequence = true;
	d->sequence = 1;
	enum lea_put_outcome out[1];
	assert_int_equal(put(f->s, m, out), 0);
	assert_int_equal(out[0], LEA_PUT_DUPLICATE);
	li707_message_free(m);
	st = status(f->s);
	assert_int_equal(st.deliveries, 6);
	assert_int_equal(st.duplicates, 1);
}

/* ---- a failure inside a batch ---- */

static void poison_items(const char *dir)
{
	char db[128];
	snprintf(db, sizeof db, "%s/index.sqlite", dir);
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	assert_int_equal(sqlite3_exec(h,
				      "CREATE TRIGGER poison BEFORE INSERT ON items WHEN NEW.timestamp"
				      " = '" POISON "' BEGIN SELECT RAISE(ABORT, 'poison'); END;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
}

#define NTHREADS 6
#define PER_THREAD 30

struct thr {
	struct lea_store *s;
	int idx;
	int stored, failed, errors;
	char stored_ids[PER_THREAD * 2][40];
};

/* Thread 0 sends every third message poisoned, and every fifth as two actions of which
 * the second is poisoned; the others send good ones. */
static void *put_thread(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		bool bad = t->idx == 0 && i % 3 == 0;
		bool pair = t->idx == 0 && i % 5 == 1;
		struct li707_message *m = msg_new();
		msg_add(m, bad ? POISON : "2024-05-01T12:00:00Z", (size_t)(t->idx * 1000 + i));
		if (pair)
			msg_add(m, POISON, (size_t)(t->idx * 1000 + i + 500));
		enum lea_put_outcome out[2] = {0};
		if (put(t->s, m, out) != 0) {
			t->errors++;
		} else {
			for (size_t k = 0; k < m->n_actions; k++) {
				if (out[k] == LEA_PUT_STORED)
					snprintf(t->stored_ids[t->stored++], 40, "%s",
						 m->actions[k].delivery->object_id);
				else if (out[k] == LEA_PUT_FAILED)
					t->failed++;
			}
		}
		li707_message_free(m);
	}
	return NULL;
}

struct seen {
	size_t n, n_att;
	char ids[NTHREADS * PER_THREAD * 2][40];
};

static int list_cb(void *cls, const struct lea_item_row *r)
{
	struct seen *v = cls;
	assert_true(v->n < NTHREADS * PER_THREAD * 2);
	snprintf(v->ids[v->n++], 40, "%s", r->object_id);
	v->n_att += r->n_attachments;
	return 0;
}

static void test_store_failed_put_in_batch(void **state)
{
	struct fx *f = *state;
	poison_items(f->dir);
	pthread_t th[NTHREADS];
	struct thr *t = calloc(NTHREADS, sizeof *t);
	assert_non_null(t);
	for (int i = 0; i < NTHREADS; i++) {
		t[i].s = f->s;
		t[i].idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, put_thread, &t[i]), 0);
	}
	int stored = 0, failed = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].errors, 0);
		stored += t[i].stored;
		failed += t[i].failed;
	}
	int bad = 0, pairs = 0;
	for (int i = 0; i < PER_THREAD; i++) {
		bad += i % 3 == 0;
		pairs += i % 5 == 1;
	}
	assert_int_equal(failed, bad + pairs);
	assert_int_equal(stored, NTHREADS * PER_THREAD - bad);

	/* Every acknowledged delivery is there exactly once, with its two attachments (their
	 * ids consecutive, or the item would not list them), nothing else is. */
	struct seen *v = calloc(1, sizeof *v);
	assert_non_null(v);
	assert_int_equal(lea_store_list(f->s, NULL, list_cb, v), 0);
	assert_int_equal(v->n, (size_t)stored);
	assert_int_equal(v->n_att, (size_t)stored * 2);
	for (int i = 0; i < NTHREADS; i++)
		for (int k = 0; k < t[i].stored; k++) {
			size_t hits = 0;
			for (size_t j = 0; j < v->n; j++)
				hits += strcmp(v->ids[j], t[i].stored_ids[k]) == 0;
			assert_int_equal(hits, 1);
		}
	struct lea_ref_status st = status(f->s);
	assert_int_equal(st.deliveries, (uint64_t)stored);
	assert_int_equal(st.items, (uint64_t)stored);
	assert_int_equal(st.att[LEA_ATT_TO_FETCH], (uint64_t)stored * 2);
	free(v);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_del6_single_delivery_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_failed_put_in_batch, setup, teardown),
	};
	li707_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
