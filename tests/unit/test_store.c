/* Unit tests of the LEA store (src/lea/store.h, SQLite backend): deliveries, duplicates,
 * sequences, queries, Model B uploads, crash recovery, durability under kill -9, threads.
 * Each test works in its own mkdtemp directory, removed afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "testutil.h"

#include "store.h"

#define PEER "acme"
#define PEER2 "globex"
#define REF_A "LIID-A"
#define REF_B "LIID-B"

/* ---------------------------------------------------------------- fixtures */

struct fx {
	char dir[64];
	struct lea_store *s;
};

static void fx_open_opts(struct fx *f, const struct lea_store_opts *o)
{
	char err[256] = "";
	int rc = lea_store_open(o, &f->s, err, sizeof err);
	if (rc)
		print_error("lea_store_open: %s (%s)\n", err, li707_strerror(rc));
	assert_int_equal(rc, 0);
}

static void fx_open(struct fx *f)
{
	struct lea_store_opts o = {.dir = f->dir};
	fx_open_opts(f, &o);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/li707-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	fx_open(f);
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

static void fx_reopen(struct fx *f)
{
	lea_store_close(f->s);
	f->s = NULL;
	fx_open(f);
}

/* A request with fresh header (TS 103 707 Table 1 defaults). */
static struct li707_message *msg_new(void)
{
	struct li707_message *m = li707_message_new();
	assert_non_null(m);
	assert_int_equal(li707_header_init_defaults(&m->header, "XX", "CSP-1", "DE", "LEA-1"), 0);
	m->kind = LI707_MSG_REQUEST;
	return m;
}

static void party_one(struct li707_party *p, const char *value)
{
	p->n_ids = 1;
	p->ids = calloc(1, sizeof *p->ids);
	assert_non_null(p->ids);
	p->ids[0].value = tu_xstrdup(value);
	p->targeted = LI707_ABSENT;
}

/* An item with a sender "sender-N", one receiver "rcpt-N" and a timestamp. */
static void item_fill(struct li707_item *it, size_t n)
{
	char buf[64];
	memset(it, 0, sizeof *it);
	it->sender = calloc(1, sizeof *it->sender);
	assert_non_null(it->sender);
	snprintf(buf, sizeof buf, "sender-%zu", n);
	party_one(it->sender, buf);
	it->n_receivers = 1;
	it->receivers = calloc(1, sizeof *it->receivers);
	assert_non_null(it->receivers);
	snprintf(buf, sizeof buf, "rcpt-%zu", n);
	party_one(&it->receivers[0], buf);
	it->timestamp = tu_xstrdup("2024-05-01T12:00:00Z");
}

/* Appends a DELIVER action for ref with n items (a collection when n > 1). */
static struct li707_delivery *msg_add(struct li707_message *m, const char *ref, size_t n)
{
	struct li707_action *a = realloc(m->actions, (m->n_actions + 1) * sizeof *a);
	assert_non_null(a);
	m->actions = a;
	a = &m->actions[m->n_actions];
	memset(a, 0, sizeof *a);
	a->action_id = m->n_actions;
	a->verb = LI707_VERB_DELIVER;
	a->delivery = calloc(1, sizeof *a->delivery);
	assert_non_null(a->delivery);
	struct li707_delivery *d = a->delivery;
	assert_int_equal(li707_delivery_init(d, &m->header, LI707_REF_LIID, ref), 0);
	memcpy(d->identifier, d->object_id, sizeof d->identifier);
	d->payload = n > 1 ? LI707_PAYLOAD_COLLECTION : LI707_PAYLOAD_ITEM;
	d->n_items = n;
	d->items = calloc(n, sizeof *d->items);
	assert_non_null(d->items);
	for (size_t i = 0; i < n; i++)
		item_fill(&d->items[i], i);
	m->n_actions++;
	return d;
}

static void set_seq(struct li707_delivery *d, const char *did, uint64_t seq, bool last)
{
	snprintf(d->delivery_id, sizeof d->delivery_id, "%s", did);
	d->has_sequence = true;
	d->sequence = seq;
	d->last_sequence = last ? LI707_TRUE : LI707_FALSE;
}

static void att_add(struct li707_item *it, const char *url, bool has_len, uint64_t len,
		    const char *checksum)
{
	struct li707_binary_object *b = realloc(it->attachments, (it->n_attachments + 1) * sizeof *b);
	assert_non_null(b);
	it->attachments = b;
	b = &it->attachments[it->n_attachments++];
	memset(b, 0, sizeof *b);
	b->url = tu_xstrdup(url);
	b->has_content_length = has_len;
	b->content_length = len;
	b->checksum = checksum ? tu_xstrdup(checksum) : NULL;
	b->content_type = tu_xstrdup("application/octet-stream");
}

static void modelb_url(char *buf, size_t len, const char *uuid)
{
	snprintf(buf, len, "https://lea.example/binaryData/%s/", uuid);
}

/* Encodes m (the raw as received) and puts it; returns lea_store_put's result. */
static int put_msg_rc(struct lea_store *s, const char *peer, const struct li707_message *m,
		      enum lea_put_outcome *out, int64_t *msg_id)
{
	char *raw = NULL;
	size_t len = 0;
	struct li707_diags dg = {0};
	int rc = li707_message_encode(m, &raw, &len, &dg);
	if (rc)
		tu_print_diags(&dg);
	li707_diags_clear(&dg);
	assert_int_equal(rc, 0);
	struct lea_put p = {.peer = peer, .raw = raw, .raw_len = len, .msg = m, .outcome = out};
	rc = lea_store_put(s, &p);
	if (msg_id)
		*msg_id = p.message_id;
	free(raw);
	return rc;
}

/* Puts m and checks the one outcome of a single-action message. */
static void put1(struct lea_store *s, const char *peer, const struct li707_message *m,
		 enum lea_put_outcome want)
{
	enum lea_put_outcome out[8];
	assert_int_equal(put_msg_rc(s, peer, m, out, NULL), 0);
	assert_int_equal(out[0], want);
}

/* A single-item message for ref, put by peer; returns the message (caller frees). */
static struct li707_message *put_item(struct lea_store *s, const char *peer, const char *ref)
{
	struct li707_message *m = msg_new();
	msg_add(m, ref, 1);
	put1(s, peer, m, LEA_PUT_STORED);
	return m;
}

/* ---- collecting query results ---- */

#define MAXROWS 512
struct rows {
	size_t n;
	int64_t id[MAXROWS];
	char ref[MAXROWS][32];
	char peer[MAXROWS][16];
	char object_id[MAXROWS][40];
	char sender[MAXROWS][32];
	size_t item_index[MAXROWS];
	size_t n_att[MAXROWS], n_complete[MAXROWS];
	int64_t received_at[MAXROWS];
	bool has_ts[MAXROWS];
};

static int rows_cb(void *cls, const struct lea_item_row *r)
{
	struct rows *v = cls;
	assert_true(v->n < MAXROWS);
	size_t i = v->n++;
	v->id[i] = r->id;
	snprintf(v->ref[i], sizeof v->ref[i], "%s", r->reference);
	snprintf(v->peer[i], sizeof v->peer[i], "%s", r->peer);
	snprintf(v->object_id[i], sizeof v->object_id[i], "%s", r->object_id);
	snprintf(v->sender[i], sizeof v->sender[i], "%s", r->sender ? r->sender : "");
	v->item_index[i] = r->item_index;
	v->n_att[i] = r->n_attachments;
	v->n_complete[i] = r->n_attachments_complete;
	v->received_at[i] = r->received_at;
	v->has_ts[i] = r->timestamp != NULL;
	return 0;
}

static struct rows *list(struct lea_store *s, const struct lea_query *q)
{
	struct rows *v = calloc(1, sizeof *v);
	assert_non_null(v);
	assert_int_equal(lea_store_list(s, q, rows_cb, v), 0);
	return v;
}

#define MAXST 16
struct stats {
	size_t n;
	struct lea_ref_status st[MAXST];
	char ref[MAXST][32];
	bool null_ref[MAXST];
};

static int stats_cb(void *cls, const struct lea_ref_status *r)
{
	struct stats *v = cls;
	assert_true(v->n < MAXST);
	v->st[v->n] = *r;
	v->null_ref[v->n] = r->reference == NULL;
	snprintf(v->ref[v->n], sizeof v->ref[v->n], "%s", r->reference ? r->reference : "");
	v->st[v->n].reference = v->ref[v->n];
	v->n++;
	return 0;
}

static void status(struct lea_store *s, const char *ref, struct stats *v)
{
	memset(v, 0, sizeof *v);
	assert_int_equal(lea_store_status(s, ref, stats_cb, v), 0);
}

/* The status row of ref (fails when absent); NULL ref = the orphans row. */
static const struct lea_ref_status *stat_of(const struct stats *v, const char *ref)
{
	for (size_t i = 0; i < v->n; i++)
		if (ref ? !v->null_ref[i] && !strcmp(v->ref[i], ref) : v->null_ref[i])
			return &v->st[i];
	fail_msg("no status row for %s", ref ? ref : "(orphans)");
	return NULL;
}

#define MAXGAPS 32
struct gaps {
	size_t n;
	struct lea_gap g[MAXGAPS];
	char stream[MAXGAPS][40];
};

static int gaps_cb(void *cls, const struct lea_gap *g)
{
	struct gaps *v = cls;
	assert_true(v->n < MAXGAPS);
	v->g[v->n] = *g;
	snprintf(v->stream[v->n], sizeof v->stream[v->n], "%s", g->stream);
	v->g[v->n].stream = v->stream[v->n];
	v->g[v->n].reference = NULL;
	v->n++;
	return 0;
}

/* ---------------------------------------------------------------- deliveries */

static void test_store_put_list(void **state)
{
	struct fx *f = *state;
	struct li707_message *m = msg_new();
	msg_add(m, REF_A, 1);
	enum lea_put_outcome out[1];
	int64_t mid = 0;
	assert_int_equal(put_msg_rc(f->s, PEER, m, out, &mid), 0);
	assert_int_equal(out[0], LEA_PUT_STORED);
	assert_true(mid > 0);

	struct rows *r = list(f->s, NULL);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->ref[0], REF_A);
	assert_string_equal(r->peer[0], PEER);
	assert_string_equal(r->object_id[0], m->actions[0].delivery->object_id);
	assert_string_equal(r->sender[0], "sender-0");
	assert_int_equal(r->item_index[0], 0);
	assert_true(r->has_ts[0]);
	assert_true(r->received_at[0] > 1600000000);
	free(r);
	li707_message_free(m);
}

static void test_del6_duplicate_object_id(void **state)
{
	struct fx *f = *state;
	struct li707_message *m = put_item(f->s, PEER, REF_A);
	enum lea_put_outcome out[1];
	int64_t mid = -1;
	assert_int_equal(put_msg_rc(f->s, PEER, m, out, &mid), 0);
	assert_int_equal(out[0], LEA_PUT_DUPLICATE);
	assert_int_equal(mid, 0); /* nothing new: the message is not stored again */
	assert_int_equal(put_msg_rc(f->s, PEER, m, out, &mid), 0);
	assert_int_equal(out[0], LEA_PUT_DUPLICATE);

	struct rows *r = list(f->s, NULL);
	assert_int_equal(r->n, 1);
	free(r);
	struct stats st;
	status(f->s, NULL, &st);
	assert_int_equal(st.n, 1);
	assert_int_equal(stat_of(&st, REF_A)->deliveries, 1);
	assert_int_equal(stat_of(&st, REF_A)->duplicates, 2);
	li707_message_free(m);
}

static void test_del6_duplicate_delivery_sequence(void **state)
{
	struct fx *f = *state;
	const char *did = "11111111-2222-4333-8444-555555555555";
	struct li707_message *m = msg_new();
	set_seq(msg_add(m, REF_A, 1), did, 1, false);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	/* Same DeliveryID + SequenceNumber, a new ObjectIdentifier: a retransmission. */
	struct li707_message *m2 = msg_new();
	set_seq(msg_add(m2, REF_A, 1), did, 1, false);
	assert_string_not_equal(m->actions[0].delivery->object_id, m2->actions[0].delivery->object_id);
	put1(f->s, PEER, m2, LEA_PUT_DUPLICATE);
	/* The next number of the stream is new. */
	struct li707_message *m3 = msg_new();
	set_seq(msg_add(m3, REF_A, 1), did, 2, false);
	put1(f->s, PEER, m3, LEA_PUT_STORED);

	struct stats st;
	status(f->s, REF_A, &st);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.st[0].deliveries, 2);
	assert_int_equal(st.st[0].duplicates, 1);
	assert_int_equal(st.st[0].streams, 1);
	assert_int_equal(st.st[0].seq_missing, 0);
	li707_message_free(m);
	li707_message_free(m2);
	li707_message_free(m3);
}

static void test_del6_duplicate_in_one_message(void **state)
{
	struct fx *f = *state;
	struct li707_message *m = msg_new();
	msg_add(m, REF_A, 1);
	char *raw = NULL;
	size_t len = 0;
	assert_int_equal(li707_message_encode(m, &raw, &len, NULL), 0);
	/* The decoded form of a message repeating its action (the checker would refuse to
	 * encode it; the store must still count it once). */
	struct li707_message *m2 = NULL;
	assert_int_equal(li707_message_decode(raw, len, NULL, &m2, NULL), 0);
	struct li707_action *a = realloc(m2->actions, 3 * sizeof *a);
	assert_non_null(a);
	m2->actions = a;
	m2->n_actions = 3;
	for (size_t i = 1; i < 3; i++) {
		a[i] = a[0];
		a[i].action_id = i;
		a[i].delivery = NULL;
	}
	a[1].delivery = a[0].delivery; /* shared: freed once below */
	a[2].verb = LI707_VERB_GET;      /* not a DELIVER: skipped */
	enum lea_put_outcome out[3];
	struct lea_put p = {.peer = PEER, .raw = raw, .raw_len = len, .msg = m2, .outcome = out};
	assert_int_equal(lea_store_put(f->s, &p), 0);
	assert_int_equal(out[0], LEA_PUT_STORED);
	assert_int_equal(out[1], LEA_PUT_DUPLICATE);
	assert_int_equal(out[2], LEA_PUT_SKIPPED);
	assert_true(p.message_id > 0);
	a[1].delivery = NULL;

	struct stats st;
	status(f->s, NULL, &st);
	assert_int_equal(stat_of(&st, REF_A)->deliveries, 1);
	assert_int_equal(stat_of(&st, REF_A)->duplicates, 1);
	free(raw);
	li707_message_free(m2);
	li707_message_free(m);
}

static void test_store_skip_failed_action(void **state)
{
	struct fx *f = *state;
	struct li707_message *m = msg_new();
	msg_add(m, REF_A, 1);
	msg_add(m, REF_B, 1);
	char *raw = NULL;
	size_t len = 0;
	assert_int_equal(li707_message_encode(m, &raw, &len, NULL), 0);
	m->actions[0].status = LI707_EINVALID; /* as the decoder reports a failed action */
	enum lea_put_outcome out[2];
	struct lea_put p = {.peer = PEER, .raw = raw, .raw_len = len, .msg = m, .outcome = out};
	assert_int_equal(lea_store_put(f->s, &p), 0);
	assert_int_equal(out[0], LEA_PUT_SKIPPED);
	assert_int_equal(out[1], LEA_PUT_STORED);
	struct rows *r = list(f->s, NULL);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->ref[0], REF_B);
	free(r);

	/* Every action failed: nothing stored, no message row. */
	struct li707_message *m2 = msg_new();
	msg_add(m2, REF_A, 1);
	free(raw);
	assert_int_equal(li707_message_encode(m2, &raw, &len, NULL), 0);
	m2->actions[0].status = LI707_EINVALID;
	p = (struct lea_put){.peer = PEER, .raw = raw, .raw_len = len, .msg = m2, .outcome = out};
	assert_int_equal(lea_store_put(f->s, &p), 0);
	assert_int_equal(out[0], LEA_PUT_SKIPPED);
	assert_int_equal(p.message_id, 0);
	free(raw);
	li707_message_free(m);
	li707_message_free(m2);
}

/* A 100-item collection: items go in SQ_ITEM_ROWS (16) per INSERT with ids the writer gives,
 * their parties per 16 items, attachments with consecutive ids: every item must keep its
 * own index, sender, parties and attachments across the chunk boundaries. */
static void test_del2_collection_100(void **state)
{
	struct fx *f = *state;
	struct li707_message *m = msg_new();
	struct li707_delivery *d = msg_add(m, REF_A, 100);
	static const size_t with_att[] = {0, 15, 16, 17, 31, 32, 99};
	char url[128];
	for (size_t k = 0; k < sizeof with_att / sizeof with_att[0]; k++)
		for (size_t a = 0; a <= k % 3; a++) {
			snprintf(url, sizeof url, "https://csp.example/x/%zu/%zu", with_att[k], a);
			att_add(&d->items[with_att[k]], url, true, 10 + a, NULL);
		}
	put1(f->s, PEER, m, LEA_PUT_STORED);
	struct rows *r = list(f->s, NULL);
	assert_int_equal(r->n, 100);
	char want[64];
	for (size_t i = 0; i < 100; i++) {
		assert_int_equal(r->item_index[i], i);
		assert_string_equal(r->object_id[i], m->actions[0].delivery->object_id);
		snprintf(want, sizeof want, "sender-%zu", i);
		assert_string_equal(r->sender[i], want);
		assert_int_equal(r->n_att[i], d->items[i].n_attachments);
		if (i)
			assert_true(r->id[i] > r->id[i - 1]);
	}
	/* Parties: each sender and receiver finds exactly its item. */
	for (size_t i = 0; i < 100; i += 7) {
		for (int role = 0; role < 2; role++) {
			snprintf(want, sizeof want, role ? "rcpt-%zu" : "sender-%zu", i);
			struct lea_query q = {.party = want};
			struct rows *p = list(f->s, &q);
			assert_int_equal(p->n, 1);
			assert_int_equal(p->id[0], r->id[i]);
			free(p);
		}
	}
	/* Attachments: each item's own, in order. */
	for (size_t k = 0; k < sizeof with_att / sizeof with_att[0]; k++) {
		struct lea_item_detail *det = NULL;
		assert_int_equal(lea_store_item(f->s, r->id[with_att[k]], &det), 0);
		assert_int_equal(det->n_atts, k % 3 + 1);
		for (size_t a = 0; a < det->n_atts; a++) {
			snprintf(url, sizeof url, "https://csp.example/x/%zu/%zu", with_att[k], a);
			assert_string_equal(det->atts[a].url, url);
			assert_int_equal(det->atts[a].index, a);
		}
		lea_item_detail_free(det);
	}
	free(r);
	struct stats st;
	status(f->s, NULL, &st);
	assert_int_equal(stat_of(&st, REF_A)->deliveries, 1);
	assert_int_equal(stat_of(&st, REF_A)->items, 100);
	li707_message_free(m);
	/* Item ids go on after a reopen (the writer takes them from the table). */
	int64_t last = 0;
	r = list(f->s, NULL);
	last = r->id[99];
	free(r);
	fx_reopen(f);
	struct li707_message *m2 = put_item(f->s, PEER, REF_B);
	struct lea_query qb = {.ref = REF_B};
	r = list(f->s, &qb);
	assert_int_equal(r->n, 1);
	assert_true(r->id[0] > last);
	free(r);
	li707_message_free(m2);
}

static void put_seq(struct lea_store *s, const char *ref, const char *did, uint64_t seq, bool last)
{
	struct li707_message *m = msg_new();
	set_seq(msg_add(m, ref, 1), did, seq, last);
	put1(s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);
}

static void test_del6_sequence_gaps(void **state)
{
	struct fx *f = *state;
	const char *d1 = "aaaaaaaa-0000-4000-8000-000000000001";
	const char *d2 = "aaaaaaaa-0000-4000-8000-000000000002";
	/* d1: 3, 4, 7 (last) -> missing 1..2 (first above 1) and 5..6 */
	put_seq(f->s, REF_A, d1, 3, false);
	put_seq(f->s, REF_A, d1, 7, true);
	put_seq(f->s, REF_A, d1, 4, false);
	/* d2: 1, 2 complete, not ended */
	put_seq(f->s, REF_A, d2, 1, false);
	put_seq(f->s, REF_A, d2, 2, false);

	struct stats st;
	status(f->s, REF_A, &st);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.st[0].streams, 2);
	assert_int_equal(st.st[0].streams_ended, 1);
	assert_int_equal(st.st[0].seq_missing, 4);
	assert_int_equal(st.st[0].app_missing, 0);

	struct gaps g = {0};
	assert_int_equal(lea_store_gaps(f->s, REF_A, gaps_cb, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.g[0].kind, LEA_GAP_SEQUENCE);
	assert_string_equal(g.stream[0], d1);
	assert_int_equal(g.g[0].from, 1);
	assert_int_equal(g.g[0].to, 2);
	assert_int_equal(g.g[1].from, 5);
	assert_int_equal(g.g[1].to, 6);

	/* Filling the gaps clears them. */
	for (uint64_t q = 1; q <= 6; q++)
		if (q != 3 && q != 4)
			put_seq(f->s, REF_A, d1, q, false);
	status(f->s, REF_A, &st);
	assert_int_equal(st.st[0].seq_missing, 0);
	memset(&g, 0, sizeof g);
	assert_int_equal(lea_store_gaps(f->s, NULL, gaps_cb, &g), 0);
	assert_int_equal(g.n, 0);
}

static void put_app(struct lea_store *s, const char *ref, uint64_t level, uint64_t seq)
{
	struct li707_message *m = msg_new();
	struct li707_delivery *d = msg_add(m, ref, 1);
	d->items[0].has_correlation = true;
	d->items[0].app_level_id = level;
	d->items[0].app_seq = seq;
	put1(s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);
}

static void test_hdr2_application_gaps_repeats(void **state)
{
	struct fx *f = *state;
	/* level 5: 0, 1, 1, 4 -> missing 2..3, one repeat; level 9: 2 -> missing 0..1 */
	put_app(f->s, REF_A, 5, 0);
	put_app(f->s, REF_A, 5, 1);
	put_app(f->s, REF_A, 5, 1);
	put_app(f->s, REF_A, 5, 4);
	put_app(f->s, REF_A, 9, 2);
	put_app(f->s, REF_B, 5, 0); /* another reference: its own counter */

	struct stats st;
	status(f->s, NULL, &st);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.ref[0], REF_A); /* sorted */
	assert_int_equal(st.st[0].app_missing, 4);
	assert_int_equal(st.st[0].app_repeated, 1);
	assert_int_equal(st.st[1].app_missing, 0);
	assert_int_equal(st.st[1].app_repeated, 0);

	struct gaps g = {0};
	assert_int_equal(lea_store_gaps(f->s, REF_A, gaps_cb, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.g[0].kind, LEA_GAP_APPLICATION);
	assert_string_equal(g.stream[0], "5");
	assert_int_equal(g.g[0].from, 2);
	assert_int_equal(g.g[0].to, 3);
	assert_string_equal(g.stream[1], "9");
	assert_int_equal(g.g[1].from, 0);
	assert_int_equal(g.g[1].to, 1);
}

static void test_store_status_counts(void **state)
{
	struct fx *f = *state;
	char url[128];
	struct li707_message *m = msg_new();
	struct li707_delivery *d = msg_add(m, REF_B, 2);
	modelb_url(url, sizeof url, "0b0b0b0b-0000-4000-8000-000000000001");
	att_add(&d->items[0], url, false, 0, NULL);
	att_add(&d->items[1], "https://csp.example/files/1", false, 0, NULL);
	att_add(&d->items[1], "https://csp.example/files/2", false, 0, NULL);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	li707_message_free(put_item(f->s, PEER, REF_A));
	li707_message_free(put_item(f->s, PEER, REF_A));
	li707_message_free(m);

	struct stats st;
	status(f->s, NULL, &st);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.ref[0], REF_A);
	assert_string_equal(st.ref[1], REF_B);
	assert_int_equal(st.st[0].deliveries, 2);
	assert_int_equal(st.st[0].items, 2);
	assert_int_equal(st.st[1].deliveries, 1);
	assert_int_equal(st.st[1].items, 2);
	assert_int_equal(st.st[1].att[LEA_ATT_ANNOUNCED], 1);
	assert_int_equal(st.st[1].att[LEA_ATT_TO_FETCH], 2);
	assert_int_equal(st.st[0].att[LEA_ATT_TO_FETCH], 0);
	assert_true(st.st[0].first_received > 0);
	assert_true(st.st[0].last_received >= st.st[0].first_received);
	assert_int_equal(st.st[0].ref_kind, LI707_REF_LIID);

	status(f->s, "nonexistent", &st);
	assert_int_equal(st.n, 0);
}

static void test_store_list_filters(void **state)
{
	struct fx *f = *state;
	/* 3 items of A by PEER (one collection of 2), 1 of B by PEER2 with an old timestamp. */
	struct li707_message *m = msg_new();
	msg_add(m, REF_A, 2);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);
	li707_message_free(put_item(f->s, PEER, REF_A));
	m = msg_new();
	struct li707_delivery *d = msg_add(m, REF_B, 1);
	free(d->items[0].timestamp);
	d->items[0].timestamp = tu_xstrdup("2001-01-01T00:00:00+01:00");
	free(d->items[0].receivers[0].ids[0].value);
	d->items[0].receivers[0].ids[0].value = tu_xstrdup("+4917012345");
	put1(f->s, PEER2, m, LEA_PUT_STORED);
	li707_message_free(m);

	struct lea_query q = {.ref = REF_A};
	struct rows *r = list(f->s, &q);
	assert_int_equal(r->n, 3);
	free(r);

	q = (struct lea_query){.peer = PEER2};
	r = list(f->s, &q);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->ref[0], REF_B);
	free(r);

	q = (struct lea_query){.party = "+4917012345"};
	r = list(f->s, &q);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->ref[0], REF_B);
	free(r);
	q = (struct lea_query){.party = "sender-1"}; /* the second item of the collection */
	r = list(f->s, &q);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->item_index[0], 1);
	free(r);
	q = (struct lea_query){.party = "rcpt-0", .ref = REF_A};
	r = list(f->s, &q);
	assert_int_equal(r->n, 2);
	free(r);

	/* 2024-05-01T12:00:00Z = 1714564800; the B item is from 2000-12-31T23:00:00Z */
	q = (struct lea_query){.has_since = true, .since = 1714564800};
	r = list(f->s, &q);
	assert_int_equal(r->n, 3);
	free(r);
	q = (struct lea_query){.has_since = true, .since = 1714564801};
	r = list(f->s, &q);
	assert_int_equal(r->n, 0);
	free(r);
	q = (struct lea_query){.has_since = true, .since = 978303600};
	r = list(f->s, &q);
	assert_int_equal(r->n, 4);
	free(r);

	/* paging */
	r = list(f->s, NULL);
	assert_int_equal(r->n, 4);
	int64_t second = r->id[1];
	free(r);
	q = (struct lea_query){.limit = 2};
	r = list(f->s, &q);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->id[1], second);
	free(r);
	q = (struct lea_query){.after_id = second, .limit = 10};
	r = list(f->s, &q);
	assert_int_equal(r->n, 2);
	assert_true(r->id[0] > second);
	free(r);
	q = (struct lea_query){.ref = REF_A, .peer = PEER2};
	r = list(f->s, &q);
	assert_int_equal(r->n, 0);
	free(r);
}

/* The party index is split in buckets of item ids: a value found in every bucket. */
static void test_store_list_party_across_buckets(void **state)
{
	struct fx *f = *state;
	for (int k = 0; k < 45; k++) { /* 4,500 items: ids cross 4096 */
		struct li707_message *m = msg_new();
		msg_add(m, k % 2 ? REF_A : REF_B, 100);
		put1(f->s, PEER, m, LEA_PUT_STORED);
		li707_message_free(m);
	}
	struct lea_query q = {.party = "rcpt-7"};
	struct rows *r = list(f->s, &q);
	assert_int_equal(r->n, 45);
	for (size_t i = 0; i < r->n; i++)
		assert_int_equal(r->item_index[i], 7);
	assert_true(r->id[44] > 4096);
	int64_t mid = r->id[40];
	free(r);
	q = (struct lea_query){.party = "rcpt-7", .after_id = mid};
	r = list(f->s, &q);
	assert_int_equal(r->n, 4);
	free(r);
	q = (struct lea_query){.party = "sender-99", .ref = REF_A, .limit = 3};
	r = list(f->s, &q);
	assert_int_equal(r->n, 3);
	assert_string_equal(r->ref[2], REF_A);
	free(r);
}

static int stop_cb(void *cls, const struct lea_item_row *r)
{
	(void)r;
	int *n = cls;
	return ++*n == 2 ? 42 : 0;
}

static void test_store_list_callback_stops(void **state)
{
	struct fx *f = *state;
	struct li707_message *m = msg_new();
	msg_add(m, REF_A, 5);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);
	int n = 0;
	assert_int_equal(lea_store_list(f->s, NULL, stop_cb, &n), 42);
	assert_int_equal(n, 2);
}

/* ---------------------------------------------------------------- item detail */

static void test_store_item_detail(void **state)
{
	struct fx *f = *state;
	char url[128];
	struct li707_message *m = msg_new();
	msg_add(m, REF_B, 1);
	struct li707_delivery *d = msg_add(m, REF_A, 3);
	modelb_url(url, sizeof url, "0C0C0C0C-0000-4000-8000-00000000000A"); /* upper case hex */
	att_add(&d->items[2], "https://csp.example/x/1", true, 10, NULL);
	att_add(&d->items[2], url, true, 3, NULL);
	char *raw = NULL;
	size_t len = 0;
	assert_int_equal(li707_message_encode(m, &raw, &len, NULL), 0);
	enum lea_put_outcome out[2];
	struct lea_put p = {.peer = PEER, .raw = raw, .raw_len = len, .msg = m, .outcome = out};
	assert_int_equal(lea_store_put(f->s, &p), 0);

	struct lea_query q = {.ref = REF_A};
	struct rows *r = list(f->s, &q);
	assert_int_equal(r->n, 3);
	int64_t id = r->id[2];
	assert_int_equal(r->n_att[2], 2);
	assert_int_equal(r->n_complete[2], 0);
	free(r);

	struct lea_item_detail *det = NULL;
	assert_int_equal(lea_store_item(f->s, id, &det), 0);
	assert_int_equal(det->id, id);
	assert_string_equal(det->peer, PEER);
	assert_string_equal(det->transaction_id, m->header.transaction_id);
	assert_int_equal(det->raw_len, len);
	assert_memory_equal(det->raw, raw, len);
	assert_int_equal(det->action_index, 1);
	assert_int_equal(det->item_index, 2);
	const struct li707_item *it = lea_item_detail_item(det);
	assert_non_null(it);
	assert_string_equal(it->sender->ids[0].value, "sender-2");
	assert_string_equal(det->msg->actions[1].delivery->object_id, d->object_id);
	assert_int_equal(det->n_atts, 2);
	assert_int_equal(det->atts[0].index, 0);
	assert_int_equal(det->atts[0].state, LEA_ATT_TO_FETCH);
	assert_int_equal(det->atts[0].model, '?');
	assert_string_equal(det->atts[0].uuid, "");
	assert_null(det->atts[0].file);
	assert_int_equal(det->atts[1].state, LEA_ATT_ANNOUNCED);
	assert_int_equal(det->atts[1].model, 'B');
	assert_string_equal(det->atts[1].uuid, "0c0c0c0c-0000-4000-8000-00000000000a");
	assert_string_equal(det->atts[1].url, url);
	lea_item_detail_free(det);

	assert_int_equal(lea_store_item(f->s, id + 1000, &det), LI707_ENOTFOUND);
	lea_item_detail_free(NULL);
	free(raw);
	li707_message_free(m);
}

static void csp_block(struct li707_item *it, const char *id, const char *content)
{
	struct li707_csp_data *c = realloc(it->csp, (it->n_csp + 1) * sizeof *c);
	assert_non_null(c);
	it->csp = c;
	c = &it->csp[it->n_csp++];
	memset(c, 0, sizeof *c);
	c->schema_id = tu_xstrdup(id);
	c->schema_content = content ? tu_xstrdup(content) : NULL;
	c->xml = tu_xstrdup("<e:ev xmlns:e=\"urn:example:ev\">x</e:ev>");
}

static void test_csp2_schema_reused_by_identifier(void **state)
{
	struct fx *f = *state;
	const char *s1 = "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"/>";
	const char *s2 = "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" version=\"2\"/>";
	struct li707_message *m = msg_new();
	csp_block(&msg_add(m, REF_A, 1)->items[0], "urn:ev:1", s1);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);
	/* later: the identifier alone; another peer's identical identifier; a new content
	 * under the old identifier (the first one stays) */
	m = msg_new();
	struct li707_item *it = &msg_add(m, REF_A, 1)->items[0];
	csp_block(it, "urn:ev:1", NULL);
	csp_block(it, "urn:ev:unknown", NULL);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);
	m = msg_new();
	csp_block(&msg_add(m, REF_A, 1)->items[0], "urn:ev:1", NULL);
	put1(f->s, PEER2, m, LEA_PUT_STORED);
	li707_message_free(m);
	m = msg_new();
	csp_block(&msg_add(m, REF_A, 1)->items[0], "urn:ev:1", s2);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);
	m = msg_new();
	csp_block(&msg_add(m, REF_A, 1)->items[0], "urn:ev:1", NULL);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);

	struct rows *r = list(f->s, NULL);
	assert_int_equal(r->n, 5);
	struct lea_item_detail *d = NULL;
	assert_int_equal(lea_store_item(f->s, r->id[1], &d), 0);
	assert_string_equal(d->schema_content[0], s1);
	assert_null(d->schema_content[1]);
	lea_item_detail_free(d);
	assert_int_equal(lea_store_item(f->s, r->id[2], &d), 0);
	assert_null(d->schema_content[0]); /* PEER2 never sent it */
	lea_item_detail_free(d);
	assert_int_equal(lea_store_item(f->s, r->id[3], &d), 0);
	assert_string_equal(d->schema_content[0], s2); /* its own content */
	lea_item_detail_free(d);
	assert_int_equal(lea_store_item(f->s, r->id[4], &d), 0);
	assert_string_equal(d->schema_content[0], s1); /* the first one kept */
	lea_item_detail_free(d);
	free(r);
}

/* Walking items with lea_store_item_next: the items of one message share its decoded
 * message (taken over from the previous item, not decoded again), every item still gets
 * its own sender, raw, attachments and schema contents; a new message is read afresh; an
 * unknown id frees prev and fails. Run under ASan, this also checks nothing leaks when a
 * message changes hands. */
static void test_store_item_next_walk(void **state)
{
	struct fx *f = *state;
	const char *sc = "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"/>";
	struct li707_message *m = msg_new();
	struct li707_delivery *d = msg_add(m, REF_A, 5);
	for (size_t i = 0; i < 5; i++)
		csp_block(&d->items[i], i % 2 ? "urn:ev:odd" : "urn:ev:even", i < 2 ? sc : NULL);
	att_add(&d->items[3], "https://csp.example/walk/3", true, 3, NULL);
	char *raw1 = NULL, *raw2 = NULL;
	size_t len1 = 0, len2 = 0;
	assert_int_equal(li707_message_encode(m, &raw1, &len1, NULL), 0);
	enum lea_put_outcome out[1];
	struct lea_put p = {.peer = PEER, .raw = raw1, .raw_len = len1, .msg = m, .outcome = out};
	assert_int_equal(lea_store_put(f->s, &p), 0);
	struct li707_message *m2 = msg_new();
	msg_add(m2, REF_A, 2);
	assert_int_equal(li707_message_encode(m2, &raw2, &len2, NULL), 0);
	p = (struct lea_put){.peer = PEER, .raw = raw2, .raw_len = len2, .msg = m2, .outcome = out};
	assert_int_equal(lea_store_put(f->s, &p), 0);

	struct rows *r = list(f->s, NULL);
	assert_int_equal(r->n, 7);
	struct lea_item_detail *det = NULL, *prev = NULL;
	const struct li707_message *shared = NULL;
	int64_t first_msg = 0;
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(lea_store_item_next(f->s, r->id[i], prev, &det), 0);
		const struct li707_item *it = lea_item_detail_item(det);
		char want[32];
		snprintf(want, sizeof want, "sender-%zu", i < 5 ? i : i - 5);
		assert_string_equal(it->sender->ids[0].value, want);
		assert_int_equal(det->item_index, i < 5 ? i : i - 5);
		if (i < 5) {
			assert_int_equal(det->raw_len, len1);
			assert_memory_equal(det->raw, raw1, len1);
			if (i == 0) {
				shared = det->msg;
				first_msg = det->message_id;
			}
			assert_ptr_equal(det->msg, shared); /* decoded once for the 5 items */
			assert_int_equal(det->message_id, first_msg);
			assert_string_equal(det->schema_content[0], sc); /* own or reused (R-CSP-2) */
			assert_int_equal(det->n_atts, i == 3 ? 1 : 0);
		} else {
			assert_int_equal(det->raw_len, len2);
			assert_memory_equal(det->raw, raw2, len2);
			assert_true(det->message_id != first_msg);
		}
		prev = det;
	}
	/* An unknown id: an error, and prev is freed all the same. */
	assert_int_equal(lea_store_item_next(f->s, r->id[6] + 100, prev, &det), LI707_ENOTFOUND);
	assert_int_equal(lea_store_item_next(f->s, r->id[0], NULL, &det), 0);
	lea_item_detail_free(det);
	free(r);
	free(raw1);
	free(raw2);
	li707_message_free(m);
	li707_message_free(m2);
}

/* ---------------------------------------------------------------- Model B */

#define UUID1 "b1b1b1b1-0000-4000-8000-000000000001"
#define UUID2 "b1b1b1b1-0000-4000-8000-000000000002"

static void sha_of(const char *data, char out[65])
{
	assert_int_equal(li707_sha256_hex(data, strlen(data), out), 0);
}

/* Puts an item of ref with one Model B record for uuid; returns the item id. */
static int64_t put_record(struct lea_store *s, const char *peer, const char *uuid, bool has_len,
			  uint64_t len, const char *checksum)
{
	char url[128];
	struct li707_message *m = msg_new();
	modelb_url(url, sizeof url, uuid);
	att_add(&msg_add(m, REF_A, 1)->items[0], url, has_len, len, checksum);
	put1(s, peer, m, LEA_PUT_STORED);
	li707_message_free(m);
	struct lea_query q = {.peer = peer};
	struct rows *r = list(s, &q);
	assert_true(r->n > 0);
	int64_t id = r->id[r->n - 1];
	free(r);
	return id;
}

static enum lea_upload_verdict begin(struct lea_store *s, const char *peer, const char *uuid,
				     bool has_len, uint64_t len, uint64_t cap, struct lea_upload *u)
{
	memset(u, 0, sizeof *u);
	u->peer = peer;
	snprintf(u->uuid, sizeof u->uuid, "%s", uuid);
	u->has_length = has_len;
	u->length = len;
	u->cap = cap;
	assert_int_equal(lea_store_upload_begin(s, u), 0);
	if (u->verdict == LEA_UPLOAD_OK) {
		assert_true(u->upload_id > 0);
		assert_non_null(strstr(u->tmp_path, "/tmp/"));
	}
	return u->verdict;
}

static void write_tmp(const struct lea_upload *u, const char *data)
{
	int fd = open(u->tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	size_t n = strlen(data);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

/* A whole upload (begin OK, write, finish); returns the resulting state. */
static enum lea_att_state upload(struct lea_store *s, const char *peer, const char *uuid,
				 const char *data)
{
	struct lea_upload u;
	assert_int_equal(begin(s, peer, uuid, true, strlen(data), 1 << 20, &u), LEA_UPLOAD_OK);
	write_tmp(&u, data);
	char sha[65];
	sha_of(data, sha);
	enum lea_att_state st = LEA_ATT_NSTATES;
	assert_int_equal(lea_store_upload_finish(s, u.upload_id, strlen(data), sha, &st), 0);
	return st;
}

/* The one attachment of item id. */
static struct lea_item_detail *att_of(struct lea_store *s, int64_t id)
{
	struct lea_item_detail *d = NULL;
	assert_int_equal(lea_store_item(s, id, &d), 0);
	assert_int_equal(d->n_atts, 1);
	return d;
}

static char *read_all(const char *path)
{
	size_t n = 0;
	return tu_read_file(path, &n);
}

static size_t count_dir(const char *dir, const char *sub)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, sub);
	size_t n = 0;
	DIR *d = opendir(p);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_bin_b2_record_then_upload(void **state)
{
	struct fx *f = *state;
	const char *data = "hello model B";
	char sha[65], upper[65];
	sha_of(data, sha);
	for (int i = 0; i < 64; i++)
		upper[i] = (char)(sha[i] >= 'a' ? sha[i] - 32 : sha[i]);
	upper[64] = '\0';
	int64_t id = put_record(f->s, PEER, UUID1, true, strlen(data), upper);
	assert_int_equal(upload(f->s, PEER, UUID1, data), LEA_ATT_COMPLETE);

	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_COMPLETE);
	assert_int_equal(d->atts[0].bytes, strlen(data));
	assert_string_equal(d->atts[0].sha256, sha);
	assert_non_null(d->atts[0].file);
	assert_non_null(strstr(d->atts[0].file, "/content/b1/" UUID1));
	char *got = read_all(d->atts[0].file);
	assert_string_equal(got, data);
	free(got);
	lea_item_detail_free(d);

	struct rows *r = list(f->s, NULL);
	assert_int_equal(r->n_complete[0], 1);
	free(r);
	struct stats st;
	status(f->s, NULL, &st);
	assert_int_equal(st.n, 1); /* no orphans row */
	assert_int_equal(stat_of(&st, REF_A)->att[LEA_ATT_COMPLETE], 1);
	assert_int_equal(stat_of(&st, REF_A)->att[LEA_ATT_ANNOUNCED], 0);

	/* DONE: complete already */
	struct lea_upload u;
	assert_int_equal(begin(f->s, PEER, UUID1, true, strlen(data), 1 << 20, &u), LEA_UPLOAD_DONE);
	assert_true(u.has_record);
}

static void test_bin_b4_upload_before_record(void **state)
{
	struct fx *f = *state;
	const char *data = "early bird";
	char sha[65];
	sha_of(data, sha);
	struct lea_upload u;
	assert_int_equal(begin(f->s, PEER, UUID1, true, strlen(data), 1 << 20, &u), LEA_UPLOAD_OK);
	assert_false(u.has_record);
	write_tmp(&u, data);
	enum lea_att_state st;
	assert_int_equal(lea_store_upload_finish(f->s, u.upload_id, strlen(data), sha, &st), 0);
	assert_int_equal(st, LEA_ATT_ORPHAN);

	struct stats s;
	status(f->s, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(stat_of(&s, NULL)->att[LEA_ATT_ORPHAN], 1);

	/* The record arrives: linked in the same transaction, complete. */
	int64_t id = put_record(f->s, PEER, UUID1, true, strlen(data), sha);
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_COMPLETE);
	char *got = read_all(d->atts[0].file);
	assert_string_equal(got, data);
	free(got);
	lea_item_detail_free(d);
	status(f->s, NULL, &s);
	assert_int_equal(s.n, 1); /* no upload without record left: no orphans row */
	assert_int_equal(stat_of(&s, REF_A)->att[LEA_ATT_COMPLETE], 1);
	assert_int_equal(count_dir(f->dir, "content/b1"), 1);
}

static void test_bin_b4_orphan_then_record_mismatch(void **state)
{
	struct fx *f = *state;
	assert_int_equal(upload(f->s, PEER, UUID1, "12345"), LEA_ATT_ORPHAN);
	int64_t id = put_record(f->s, PEER, UUID1, true, 6, NULL); /* the record says 6 octets */
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_MISMATCH);
	lea_item_detail_free(d);
}

static void test_bin_b4_record_during_upload(void **state)
{
	struct fx *f = *state;
	const char *data = "in flight";
	struct lea_upload u;
	assert_int_equal(begin(f->s, PEER, UUID1, false, 0, 1 << 20, &u), LEA_UPLOAD_OK);
	int64_t id = put_record(f->s, PEER, UUID1, true, strlen(data), NULL);
	struct lea_upload u2;
	assert_int_equal(begin(f->s, PEER, UUID1, false, 0, 1 << 20, &u2), LEA_UPLOAD_BUSY);
	write_tmp(&u, data);
	char sha[65];
	sha_of(data, sha);
	enum lea_att_state st;
	assert_int_equal(lea_store_upload_finish(f->s, u.upload_id, strlen(data), sha, &st), 0);
	assert_int_equal(st, LEA_ATT_COMPLETE);
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_COMPLETE);
	lea_item_detail_free(d);
	struct stats s;
	status(f->s, NULL, &s);
	assert_int_equal(s.n, 1); /* the orphan entry is gone */
}

static void test_bin_mismatch_length_then_replaced(void **state)
{
	struct fx *f = *state;
	const char *good = "exactly this";
	char sha[65];
	sha_of(good, sha);
	int64_t id = put_record(f->s, PEER, UUID1, true, strlen(good), sha);
	/* No Content-Length given, so only the finished data shows the difference. */
	struct lea_upload u;
	assert_int_equal(begin(f->s, PEER, UUID1, false, 0, 1 << 20, &u), LEA_UPLOAD_OK);
	write_tmp(&u, "short");
	char bad_sha[65];
	sha_of("short", bad_sha);
	enum lea_att_state st;
	assert_int_equal(lea_store_upload_finish(f->s, u.upload_id, 5, bad_sha, &st), 0);
	assert_int_equal(st, LEA_ATT_MISMATCH);
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_MISMATCH);
	char *old_file = tu_xstrdup(d->atts[0].file);
	lea_item_detail_free(d);

	/* A mismatch may be uploaded again; the new data replaces the old. */
	assert_int_equal(upload(f->s, PEER, UUID1, good), LEA_ATT_COMPLETE);
	d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_COMPLETE);
	assert_string_equal(d->atts[0].sha256, sha);
	char *got = read_all(d->atts[0].file);
	assert_string_equal(got, good);
	free(got);
	assert_string_not_equal(d->atts[0].file, old_file);
	assert_int_equal(access(old_file, F_OK), -1); /* the replaced data is deleted */
	free(old_file);
	lea_item_detail_free(d);
	struct stats s;
	status(f->s, NULL, &s);
	assert_int_equal(stat_of(&s, REF_A)->att[LEA_ATT_MISMATCH], 0);
	assert_int_equal(stat_of(&s, REF_A)->att[LEA_ATT_COMPLETE], 1);
}

static void test_bin_mismatch_sha256(void **state)
{
	struct fx *f = *state;
	char sha[65];
	sha_of("the real data", sha);
	int64_t id = put_record(f->s, PEER, UUID1, true, 13, sha);
	assert_int_equal(upload(f->s, PEER, UUID1, "the fake data"), LEA_ATT_MISMATCH);
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_MISMATCH);
	assert_int_equal(d->atts[0].bytes, 13);
	lea_item_detail_free(d);
	struct rows *r = list(f->s, NULL);
	assert_int_equal(r->n_complete[0], 0);
	free(r);
}

static void test_bin_b3_verdicts(void **state)
{
	struct fx *f = *state;
	struct lea_upload u, u2;
	put_record(f->s, PEER, UUID1, true, 100, NULL);
	/* TOO_BIG: over the cap */
	assert_int_equal(begin(f->s, PEER, UUID1, true, 100, 99, &u), LEA_UPLOAD_TOO_BIG);
	assert_int_equal(begin(f->s, PEER, UUID2, true, 1001, 1000, &u), LEA_UPLOAD_TOO_BIG);
	/* LENGTH: within the cap, but not the record's length (shorter or longer) */
	assert_int_equal(begin(f->s, PEER, UUID1, true, 101, 1000, &u), LEA_UPLOAD_LENGTH);
	assert_int_equal(u.record_length, 100);
	assert_int_equal(begin(f->s, PEER, UUID1, true, 10, 1000, &u), LEA_UPLOAD_LENGTH);
	assert_int_equal(u.record_length, 100);
	/* BUSY while another upload of the uuid is in flight */
	assert_int_equal(begin(f->s, PEER, UUID1, true, 100, 1000, &u), LEA_UPLOAD_OK);
	assert_true(u.has_record);
	assert_int_equal(begin(f->s, PEER, UUID1, true, 100, 1000, &u2), LEA_UPLOAD_BUSY);
	/* UNKNOWN: the record is another peer's */
	assert_int_equal(begin(f->s, PEER2, UUID1, true, 100, 1000, &u2), LEA_UPLOAD_UNKNOWN);
	assert_int_equal(lea_store_upload_abort(f->s, u.upload_id), 0);
	/* an orphan of another peer is left alone, the record stays announced */
	assert_int_equal(upload(f->s, PEER2, UUID2, "x"), LEA_ATT_ORPHAN);
	int64_t id = put_record(f->s, PEER, UUID2, true, 1, NULL);
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_ANNOUNCED);
	lea_item_detail_free(d);
	assert_int_equal(upload(f->s, PEER, UUID2, "y"), LEA_ATT_COMPLETE);
	struct stats s;
	status(f->s, NULL, &s);
	assert_int_equal(stat_of(&s, NULL)->att[LEA_ATT_ORPHAN], 1);
	/* bad arguments */
	memset(&u, 0, sizeof u);
	u.peer = PEER;
	snprintf(u.uuid, sizeof u.uuid, "not-a-uuid");
	assert_int_equal(lea_store_upload_begin(f->s, &u), LI707_EINVAL);
	char short_sha[65] = "00";
	assert_int_equal(lea_store_upload_finish(f->s, 999999, 1, short_sha, NULL), LI707_EINVAL);
	char sha[65];
	sha_of("z", sha);
	assert_int_equal(lea_store_upload_finish(f->s, 999999, 1, sha, NULL), LI707_ENOTFOUND);
}

static void test_bin_b4_orphans_full(void **state)
{
	struct fx *f = *state;
	struct lea_store_opts o = {.dir = f->dir, .orphan_max_bytes = 10};
	lea_store_close(f->s);
	fx_open_opts(f, &o);
	struct lea_upload u, u2;
	assert_int_equal(upload(f->s, PEER, UUID1, "123456"), LEA_ATT_ORPHAN); /* 6 of 10 used */
	assert_int_equal(begin(f->s, PEER, UUID2, true, 5, 1000, &u), LEA_UPLOAD_ORPHANS_FULL);
	assert_int_equal(begin(f->s, PEER, UUID2, true, 4, 1000, &u), LEA_UPLOAD_OK);
	/* in flight counts with its Content-Length; without one, with the cap */
	assert_int_equal(begin(f->s, PEER, "b1b1b1b1-0000-4000-8000-000000000003", true, 1, 1000, &u2),
			 LEA_UPLOAD_ORPHANS_FULL);
	assert_int_equal(lea_store_upload_abort(f->s, u.upload_id), 0);
	assert_int_equal(begin(f->s, PEER, UUID2, false, 0, 5, &u), LEA_UPLOAD_ORPHANS_FULL);
	assert_int_equal(begin(f->s, PEER, UUID2, false, 0, 4, &u), LEA_UPLOAD_OK);
	assert_int_equal(lea_store_upload_abort(f->s, u.upload_id), 0);
	/* with its record, an upload is not an orphan: no budget */
	put_record(f->s, PEER, UUID2, true, 50, NULL);
	assert_int_equal(begin(f->s, PEER, UUID2, true, 50, 1000, &u), LEA_UPLOAD_OK);
	assert_int_equal(lea_store_upload_abort(f->s, u.upload_id), 0);
}

static void test_bin_upload_abort(void **state)
{
	struct fx *f = *state;
	int64_t id = put_record(f->s, PEER, UUID1, false, 0, NULL);
	struct lea_upload u;
	assert_int_equal(begin(f->s, PEER, UUID1, false, 0, 1000, &u), LEA_UPLOAD_OK);
	write_tmp(&u, "partial");
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_RECEIVING);
	lea_item_detail_free(d);
	assert_int_equal(lea_store_upload_abort(f->s, u.upload_id), 0);
	assert_int_equal(access(u.tmp_path, F_OK), -1);
	d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_ANNOUNCED);
	lea_item_detail_free(d);
	assert_int_equal(lea_store_upload_abort(f->s, u.upload_id), LI707_ENOTFOUND);
	/* an orphan upload aborted leaves nothing */
	assert_int_equal(begin(f->s, PEER, UUID2, false, 0, 1000, &u), LEA_UPLOAD_OK);
	write_tmp(&u, "partial");
	assert_int_equal(lea_store_upload_abort(f->s, u.upload_id), 0);
	struct stats s;
	status(f->s, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(stat_of(&s, REF_A)->att[LEA_ATT_ANNOUNCED], 1);
	assert_int_equal(stat_of(&s, REF_A)->att[LEA_ATT_RECEIVING], 0);
	assert_int_equal(count_dir(f->dir, "tmp"), 0);
}

static void test_bin_b4_sweep_expiry(void **state)
{
	struct fx *f = *state;
	struct lea_store_opts o = {.dir = f->dir, .orphan_timeout_s = 100};
	lea_store_close(f->s);
	fx_open_opts(f, &o);
	assert_int_equal(upload(f->s, PEER, UUID1, "lost"), LEA_ATT_ORPHAN);
	uint64_t n = 99;
	assert_int_equal(lea_store_sweep(f->s, (int64_t)time(NULL), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(count_dir(f->dir, "content/b1"), 1);
	assert_int_equal(lea_store_sweep(f->s, (int64_t)time(NULL) + 101, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(count_dir(f->dir, "content/b1"), 0);
	struct stats s;
	status(f->s, NULL, &s);
	assert_int_equal(stat_of(&s, NULL)->att[LEA_ATT_EXPIRED], 1);
	assert_int_equal(stat_of(&s, NULL)->att[LEA_ATT_ORPHAN], 0);
	/* the expired uuid is refused; once its record comes, it can be uploaded */
	struct lea_upload u;
	assert_int_equal(begin(f->s, PEER, UUID1, true, 4, 1000, &u), LEA_UPLOAD_UNKNOWN);
	int64_t id = put_record(f->s, PEER, UUID1, true, 4, NULL);
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_ANNOUNCED);
	lea_item_detail_free(d);
	assert_int_equal(upload(f->s, PEER, UUID1, "late"), LEA_ATT_COMPLETE);
	assert_int_equal(lea_store_sweep(f->s, (int64_t)time(NULL) + 1000, NULL), 0);
}

static void test_store_crash_recovery(void **state)
{
	struct fx *f = *state;
	int64_t id = put_record(f->s, PEER, UUID1, false, 0, NULL);
	struct lea_upload u, u2;
	assert_int_equal(begin(f->s, PEER, UUID1, false, 0, 1000, &u), LEA_UPLOAD_OK);
	write_tmp(&u, "half");
	assert_int_equal(begin(f->s, PEER, UUID2, false, 0, 1000, &u2), LEA_UPLOAD_OK);
	write_tmp(&u2, "orphan half");
	/* a leftover of a crash (closing without finish acts the same on the database) */
	char stray[256];
	snprintf(stray, sizeof stray, "%s/tmp/stray", f->dir);
	int fd = open(stray, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	fx_reopen(f);
	assert_int_equal(count_dir(f->dir, "tmp"), 0);
	struct lea_item_detail *d = att_of(f->s, id);
	assert_int_equal(d->atts[0].state, LEA_ATT_ANNOUNCED);
	lea_item_detail_free(d);
	struct stats s;
	status(f->s, NULL, &s);
	assert_int_equal(s.n, 1); /* the unfinished orphan was dropped */
	assert_int_equal(stat_of(&s, REF_A)->att[LEA_ATT_RECEIVING], 0);
	assert_int_equal(stat_of(&s, REF_A)->att[LEA_ATT_ANNOUNCED], 1);
	/* and the uploads can be made again */
	assert_int_equal(upload(f->s, PEER, UUID1, "whole"), LEA_ATT_COMPLETE);
	assert_int_equal(upload(f->s, PEER, UUID2, "whole orphan"), LEA_ATT_ORPHAN);
}

/* ---------------------------------------------------------------- durability, threads */

/* Child: puts single-item deliveries as fast as it can from 4 threads; after each
 * acknowledgement writes the ObjectIdentifier to the pipe. */
struct child_ctx {
	struct lea_store *s;
	int fd;
	pthread_mutex_t *mu;
};

static void *child_thread(void *arg)
{
	struct child_ctx *c = arg;
	for (;;) {
		struct li707_message *m = msg_new();
		struct li707_delivery *d = msg_add(m, REF_A, 1);
		char *raw = NULL;
		size_t len = 0;
		if (li707_message_encode(m, &raw, &len, NULL))
			_exit(3);
		enum lea_put_outcome out[1];
		struct lea_put p = {.peer = PEER, .raw = raw, .raw_len = len, .msg = m, .outcome = out};
		if (lea_store_put(c->s, &p) || out[0] != LEA_PUT_STORED)
			_exit(4);
		char line[40];
		snprintf(line, sizeof line, "%s\n", d->object_id);
		pthread_mutex_lock(c->mu);
		if (write(c->fd, line, 37) != 37)
			_exit(5);
		pthread_mutex_unlock(c->mu);
		free(raw);
		li707_message_free(m);
	}
	return NULL;
}

static void child_main(const char *dir, int fd)
{
	struct lea_store *s = NULL;
	struct lea_store_opts o = {.dir = dir};
	if (lea_store_open(&o, &s, NULL, 0))
		_exit(2);
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct child_ctx c = {s, fd, &mu};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, child_thread, &c);
	for (;;)
		pause();
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_store_durability_kill9(void **state)
{
	struct fx *f = *state;
	lea_store_close(f->s);
	f->s = NULL;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		child_main(f->dir, pfd[1]);
	}
	close(pfd[1]);
	/* Let it acknowledge some, then kill it mid-burst. */
	size_t cap = 4096, n = 0;
	char **acked = calloc(cap, sizeof *acked);
	assert_non_null(acked);
	FILE *in = fdopen(pfd[0], "r");
	assert_non_null(in);
	char line[64];
	while (n < 150 && fgets(line, sizeof line, in)) {
		line[strcspn(line, "\n")] = '\0';
		acked[n++] = tu_xstrdup(line);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	int wst;
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFSIGNALED(wst));
	while (n < cap && fgets(line, sizeof line, in)) { /* acknowledged before it died */
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line) == 36)
			acked[n++] = tu_xstrdup(line);
	}
	fclose(in);
	assert_true(n >= 150);

	fx_open(f);
	struct lea_query q = {0};
	struct rows *r = calloc(1, sizeof *r);
	size_t total = 0;
	char **stored = NULL;
	for (;;) { /* page through everything */
		r->n = 0;
		q.limit = MAXROWS;
		assert_int_equal(lea_store_list(f->s, &q, rows_cb, r), 0);
		if (!r->n)
			break;
		stored = realloc(stored, (total + r->n) * sizeof *stored);
		assert_non_null(stored);
		for (size_t i = 0; i < r->n; i++)
			stored[total++] = tu_xstrdup(r->object_id[i]);
		q.after_id = r->id[r->n - 1];
	}
	free(r);
	qsort(stored, total, sizeof *stored, cmp_str);
	for (size_t i = 1; i < total; i++)
		assert_string_not_equal(stored[i], stored[i - 1]); /* never stored twice */
	for (size_t i = 0; i < n; i++) {
		assert_non_null(bsearch(&acked[i], stored, total, sizeof *stored, cmp_str));
		free(acked[i]);
	}
	assert_true(total >= n);
	print_message("durability: %zu acknowledged, %zu stored, all acknowledged present\n", n,
		      total);
	for (size_t i = 0; i < total; i++)
		free(stored[i]);
	free(stored);
	free(acked);
	struct stats st;
	status(f->s, NULL, &st);
	assert_int_equal(stat_of(&st, REF_A)->deliveries, total);
}

#define NTHREADS 8
#define PER_THREAD 40
struct thr {
	struct lea_store *s;
	int idx;
	int stored, failed;
};

static void *put_thread(void *arg)
{
	struct thr *t = arg;
	char ref[32];
	snprintf(ref, sizeof ref, "LIID-T%d", t->idx % 2);
	for (int i = 0; i < PER_THREAD; i++) {
		struct li707_message *m = msg_new();
		msg_add(m, ref, 1 + (size_t)(i % 3));
		char *raw = NULL;
		size_t len = 0;
		enum lea_put_outcome out[1];
		if (li707_message_encode(m, &raw, &len, NULL) == 0) {
			struct lea_put p = {.peer = PEER, .raw = raw, .raw_len = len, .msg = m,
					    .outcome = out};
			if (lea_store_put(t->s, &p) == 0 && out[0] == LEA_PUT_STORED)
				t->stored++;
			else
				t->failed++;
		} else {
			t->failed++;
		}
		free(raw);
		li707_message_free(m);
	}
	return NULL;
}

static void test_store_threads_group_commit(void **state)
{
	struct fx *f = *state;
	pthread_t th[NTHREADS];
	struct thr t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		t[i] = (struct thr){.s = f->s, .idx = i};
		assert_int_equal(pthread_create(&th[i], NULL, put_thread, &t[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].stored, PER_THREAD);
		assert_int_equal(t[i].failed, 0);
	}
	struct stats st;
	status(f->s, NULL, &st);
	assert_int_equal(st.n, 2);
	uint64_t items_per = 0;
	for (int i = 0; i < PER_THREAD; i++)
		items_per += 1 + (uint64_t)(i % 3);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(st.st[i].deliveries, NTHREADS / 2 * PER_THREAD);
		assert_int_equal(st.st[i].items, NTHREADS / 2 * items_per);
	}
}

static void test_store_read_only_beside_writer(void **state)
{
	struct fx *f = *state;
	li707_message_free(put_item(f->s, PEER, REF_A));
	struct lea_store *ro = NULL;
	struct lea_store_opts o = {.dir = f->dir, .read_only = true};
	char err[256];
	assert_int_equal(lea_store_open(&o, &ro, err, sizeof err), 0);
	struct rows *r = list(ro, NULL);
	assert_int_equal(r->n, 1);
	free(r);
	/* a commit of the writer is seen by the reader */
	li707_message_free(put_item(f->s, PEER, REF_B));
	r = list(ro, NULL);
	assert_int_equal(r->n, 2);
	free(r);
	struct li707_message *m = msg_new();
	msg_add(m, REF_A, 1);
	enum lea_put_outcome out[1];
	assert_int_equal(put_msg_rc(ro, PEER, m, out, NULL), -EROFS);
	li707_message_free(m);
	lea_store_close(ro);
}

static void test_store_open_errors(void **state)
{
	struct fx *f = *state;
	struct lea_store *s = NULL;
	char err[256] = "";
	char missing[128];
	snprintf(missing, sizeof missing, "%s/none", f->dir);
	struct lea_store_opts o = {.dir = missing, .read_only = true};
	assert_true(lea_store_open(&o, &s, err, sizeof err) < 0);
	assert_non_null(strstr(err, "no store"));
	assert_null(s);
	/* a second writer on the same directory */
	o = (struct lea_store_opts){.dir = f->dir};
	err[0] = '\0';
	assert_int_equal(lea_store_open(&o, &s, err, sizeof err), -EBUSY);
	assert_non_null(strstr(err, "in use"));
	o = (struct lea_store_opts){.dir = missing, .binary_path = "binaryData"};
	assert_int_equal(lea_store_open(&o, &s, err, sizeof err), LI707_EINVAL);
	o = (struct lea_store_opts){0};
	assert_int_equal(lea_store_open(&o, &s, err, sizeof err), LI707_EINVAL);
	lea_store_close(NULL);
	assert_string_equal(lea_att_state_name(LEA_ATT_TO_FETCH), "to-fetch");
	assert_string_equal(lea_att_state_name(LEA_ATT_ORPHAN), "orphan");
	assert_string_equal(lea_att_state_name(LEA_ATT_NSTATES), "unknown");
}

/* ---------------------------------------------------------------- raw messages as stored */

/* Runs sql on DIR/index.sqlite with the store closed; binds blob (if any) as ?1. */
static void db_exec(const char *dir, const char *sql, const void *blob, size_t blen)
{
	char path[128];
	snprintf(path, sizeof path, "%s/index.sqlite", dir);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	const char *tail = sql;
	while (tail && *tail) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
		if (rc != SQLITE_OK)
			print_error("%s: %s\n", tail, sqlite3_errmsg(db));
		assert_int_equal(rc, SQLITE_OK);
		if (!st)
			break;
		if (blob && sqlite3_bind_parameter_count(st) > 0)
			assert_int_equal(sqlite3_bind_blob(st, 1, blob, (int)blen, SQLITE_TRANSIENT), SQLITE_OK);
		rc = sqlite3_step(st);
		assert_true(rc == SQLITE_DONE || rc == SQLITE_ROW);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

static int64_t db_int(const char *dir, const char *sql)
{
	char path[128];
	snprintf(path, sizeof path, "%s/index.sqlite", dir);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Puts a 100-item collection; returns its raw (caller frees) and the first item's id. */
static char *put_collection(struct lea_store *s, size_t *len, int64_t *item)
{
	struct li707_message *m = msg_new();
	msg_add(m, REF_A, 100);
	char *raw = NULL;
	assert_int_equal(li707_message_encode(m, &raw, len, NULL), 0);
	enum lea_put_outcome out[1];
	struct lea_put p = {.peer = PEER, .raw = raw, .raw_len = *len, .msg = m, .outcome = out};
	assert_int_equal(lea_store_put(s, &p), 0);
	assert_int_equal(out[0], LEA_PUT_STORED);
	li707_message_free(m);
	struct rows *r = list(s, NULL);
	assert_true(r->n >= 1);
	*item = r->id[r->n - 1];
	free(r);
	return raw;
}

static void expect_raw(struct lea_store *s, int64_t item, const char *raw, size_t len)
{
	struct lea_item_detail *d = NULL;
	assert_int_equal(lea_store_item(s, item, &d), 0);
	assert_int_equal(d->raw_len, len);
	assert_memory_equal(d->raw, raw, len);
	assert_int_equal(d->raw[len], '\0');
	lea_item_detail_free(d);
}

/* The message as received is kept as an LZ4 block when that is smaller, and comes back
 * byte for byte; a damaged block is an error, never other bytes. */
static void test_store_raw_compressed(void **state)
{
	struct fx *f = *state;
	size_t len = 0;
	int64_t item = 0;
	char *raw = put_collection(f->s, &len, &item);
	expect_raw(f->s, item, raw, len);
	lea_store_close(f->s);
	f->s = NULL;
	assert_int_equal(db_int(f->dir, "SELECT raw_codec FROM messages"), 1);
	assert_int_equal(db_int(f->dir, "SELECT raw_size FROM messages"), (int64_t)len);
	int64_t stored = db_int(f->dir, "SELECT length(raw) FROM messages");
	assert_true(stored * 4 < (int64_t)len); /* 100 similar items shrink well */

	/* Damaged: a truncated block, then a size that does not match. */
	db_exec(f->dir, "UPDATE messages SET raw = substr(raw, 1, length(raw) / 2)", NULL, 0);
	fx_open(f);
	struct lea_item_detail *d = NULL;
	assert_int_equal(lea_store_item(f->s, item, &d), LI707_EDAMAGED);
	assert_null(d);
	lea_store_close(f->s);
	f->s = NULL;
	db_exec(f->dir, "UPDATE messages SET raw = ?1, raw_size = raw_size + 1", "\x10x", 2);
	fx_open(f);
	assert_int_equal(lea_store_item(f->s, item, &d), LI707_EDAMAGED);
	lea_store_close(f->s);
	f->s = NULL;
	db_exec(f->dir, "UPDATE messages SET raw_size = 1099511627776", NULL, 0);
	fx_open(f);
	assert_int_equal(lea_store_item(f->s, item, &d), LI707_EDAMAGED);
	free(raw);
}

#define DROP_FETCH_COLS                                                                       \
	"DROP INDEX attachments_fetch;"                                                       \
	"ALTER TABLE attachments DROP COLUMN fetch_priority;"                                 \
	"ALTER TABLE attachments DROP COLUMN fetch_attempts;"                                 \
	"ALTER TABLE attachments DROP COLUMN fetch_mismatches;"                               \
	"ALTER TABLE attachments DROP COLUMN fetch_next;"                                     \
	"ALTER TABLE attachments DROP COLUMN fetch_total;"                                    \
	"ALTER TABLE attachments DROP COLUMN fetch_etag;"                                     \
	"ALTER TABLE attachments DROP COLUMN fetch_chunk;"                                    \
	"ALTER TABLE attachments DROP COLUMN fetch_held;"                                     \
	"ALTER TABLE attachments DROP COLUMN served_type;"                                    \
	"ALTER TABLE attachments DROP COLUMN fetch_error;"

/* A store of schema version 1 (raw always plain, no codec columns): refused read-only with
 * a clear message, upgraded by a writable open, its old messages read as before and new
 * ones compressed. */
static void test_store_schema_v1_upgrade(void **state)
{
	struct fx *f = *state;
	size_t len = 0;
	int64_t item = 0;
	char *raw = put_collection(f->s, &len, &item);
	lea_store_close(f->s);
	f->s = NULL;
	db_exec(f->dir,
		"UPDATE messages SET raw = ?1, raw_codec = 0, raw_size = NULL;"
		"ALTER TABLE messages DROP COLUMN raw_size;"
		"ALTER TABLE messages DROP COLUMN raw_codec;" DROP_FETCH_COLS
		"PRAGMA user_version = 1;",
		raw, len);
	assert_int_equal(db_int(f->dir, "PRAGMA user_version"), 1);

	struct lea_store *ro = NULL;
	struct lea_store_opts o = {.dir = f->dir, .read_only = true};
	char err[256] = "";
	assert_int_equal(lea_store_open(&o, &ro, err, sizeof err), LI707_EINVAL);
	assert_non_null(strstr(err, "schema version 1"));
	assert_non_null(strstr(err, "upgrade"));

	fx_open(f);
	assert_int_equal(db_int(f->dir, "PRAGMA user_version"), 3);
	expect_raw(f->s, item, raw, len);
	size_t len2 = 0;
	int64_t item2 = 0;
	char *raw2 = put_collection(f->s, &len2, &item2);
	expect_raw(f->s, item2, raw2, len2);
	expect_raw(f->s, item, raw, len);
	lea_store_close(f->s);
	f->s = NULL;
	assert_int_equal(db_int(f->dir, "SELECT raw_codec FROM messages ORDER BY id LIMIT 1"), 0);
	assert_int_equal(db_int(f->dir, "SELECT count(*) FROM messages WHERE raw_codec = 1"), 1);
	assert_int_equal(lea_store_open(&o, &ro, err, sizeof err), 0);
	expect_raw(ro, item, raw, len);
	lea_store_close(ro);
	fx_open(f);
	free(raw);
	free(raw2);
}


/* ---------------------------------------------------------------- Model A/C retrieval queue */

struct fq {
	int64_t id[16];
	char model[16];
	size_t n;
};

static int fq_cb(void *cls, const struct lea_fetch_entry *e)
{
	struct fq *q = cls;
	if (q->n < 16) {
		q->model[q->n] = e->model;
		q->id[q->n++] = e->id;
	}
	return 0;
}

/* Queues three CSP-hosted objects of REF_A (sizes 300, unknown, 10) and one of REF_B (10,
 * a later item); returns the attachment ids in that order. */
static void fetch_fixture(struct fx *f, int64_t ids[4])
{
	struct li707_message *m = msg_new();
	struct li707_delivery *d = msg_add(m, REF_A, 1);
	att_add(&d->items[0], "https://csp.example/o/1", true, 300, NULL);
	att_add(&d->items[0], "https://csp.example/o/2", false, 0, NULL);
	att_add(&d->items[0], "https://csp.example/o/3", true, 10, NULL);
	put1(f->s, PEER, m, LEA_PUT_STORED);
	li707_message_free(m);
	m = msg_new();
	d = msg_add(m, REF_B, 1);
	free(d->items[0].timestamp);
	d->items[0].timestamp = tu_xstrdup("2024-06-01T12:00:00Z"); /* more recent */
	att_add(&d->items[0], "https://csp.example/o/4", true, 10, NULL);
	put1(f->s, PEER2, m, LEA_PUT_STORED);
	li707_message_free(m);
	struct fq q = {0};
	assert_int_equal(lea_store_fetch_queue(f->s, 0, 0, fq_cb, &q), 0);
	assert_int_equal(q.n, 4);
	/* R-BIN-2: small first (10, 10: the recent item first), then 300, unknown size last */
	struct lea_fetch_entry e;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(lea_store_fetch_get(f->s, q.id[i], &e), 0);
		assert_int_equal(e.state, LEA_ATT_TO_FETCH);
		assert_int_equal(e.model, '?');
		ids[i] = 0;
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(lea_store_fetch_get(f->s, q.id[i], &e), 0);
		int k = e.url[strlen(e.url) - 1] - '1';
		ids[k] = e.id;
	}
	assert_int_equal(q.id[0], ids[3]);
	assert_int_equal(q.id[1], ids[2]);
	assert_int_equal(q.id[2], ids[0]);
	assert_int_equal(q.id[3], ids[1]);
}

/* R-BIN-2: queue order (priority, then small objects, then recent items); fetch-priority
 * raises every retrieval of a reference, beside an open writer. */
static void test_bin_2_fetch_queue_order(void **state)
{
	struct fx *f = *state;
	int64_t ids[4];
	fetch_fixture(f, ids);
	uint64_t n = 0;
	char err[256] = "";
	assert_int_equal(lea_store_fetch_priority(f->dir, REF_A, 5, &n, err, sizeof err), 0);
	assert_int_equal(n, 3);
	struct fq q = {0};
	assert_int_equal(lea_store_fetch_queue(f->s, 0, 0, fq_cb, &q), 0);
	assert_int_equal(q.n, 4);
	assert_int_equal(q.id[0], ids[2]); /* REF_A's first, small first among them */
	assert_int_equal(q.id[1], ids[0]);
	assert_int_equal(q.id[2], ids[1]);
	assert_int_equal(q.id[3], ids[3]);
	assert_int_equal(lea_store_fetch_priority(f->dir, "LIID-NONE", 5, &n, err, sizeof err), 0);
	assert_int_equal(n, 0);
	/* max, and next_try: an entry waiting for its backoff is not offered */
	struct lea_fetch_update u = {.id = ids[2], .what = LEA_FU_RETRY, .attempts = 1,
				     .next_try = 1000, .error = "x", .now = 1};
	assert_int_equal(lea_store_fetch_update(f->s, &u), 0);
	memset(&q, 0, sizeof q);
	assert_int_equal(lea_store_fetch_queue(f->s, 999, 2, fq_cb, &q), 0);
	assert_int_equal(q.n, 2);
	assert_int_equal(q.id[0], ids[0]);
	memset(&q, 0, sizeof q);
	assert_int_equal(lea_store_fetch_queue(f->s, 1000, 1, fq_cb, &q), 0);
	assert_int_equal(q.id[0], ids[2]);
}

/* The model the LEA chose, the verified ranges and the state are durable; a restart (here
 * a reopen) keeps a partly fetched object as it was; counters follow the states. */
static void test_bin_c2_fetch_state_survives_restart(void **state)
{
	struct fx *f = *state;
	int64_t ids[4];
	fetch_fixture(f, ids);
	struct lx_fetch_state fs;
	lx_fetch_state_init(&fs, 1 << 20);
	fs.total = 300;
	snprintf(fs.etag, sizeof fs.etag, "\"v1\"");
	assert_true(lx_fetch_state_add(&fs, 0, 100));
	assert_true(lx_fetch_state_add(&fs, 200, 250));
	struct lea_fetch_update u = {.id = ids[0], .what = LEA_FU_STATE | LEA_FU_MODEL | LEA_FU_FS,
				     .state = LEA_ATT_FETCHING, .model = 'C', .fs = &fs,
				     .from_states = 1u << LEA_ATT_TO_FETCH, .now = 5};
	assert_int_equal(lea_store_fetch_update(f->s, &u), 0);
	/* the same transition again: not from TO_FETCH any more */
	assert_int_equal(lea_store_fetch_update(f->s, &u), LI707_ENOTFOUND);
	uint64_t cnt[LEA_ATT_NSTATES];
	assert_int_equal(lea_store_fetch_counts(f->s, cnt), 0);
	assert_int_equal(cnt[LEA_ATT_TO_FETCH], 3);
	assert_int_equal(cnt[LEA_ATT_FETCHING], 1);
	fx_reopen(f);
	struct lea_fetch_entry e;
	assert_int_equal(lea_store_fetch_get(f->s, ids[0], &e), 0);
	assert_int_equal(e.state, LEA_ATT_FETCHING);
	assert_int_equal(e.model, 'C');
	assert_int_equal(e.fs.total, 300);
	assert_string_equal(e.fs.etag, "\"v1\"");
	assert_int_equal(e.fs.chunk, 1 << 20);
	assert_int_equal(e.fs.n_held, 2);
	assert_int_equal(e.fs.held[1].start, 200);
	assert_int_equal(e.fs.held[1].end, 250);
	assert_int_equal(lx_fetch_state_held(&e.fs), 150);
	struct stats st;
	status(f->s, REF_A, &st);
	assert_int_equal(st.st[0].att[LEA_ATT_FETCHING], 1);
	assert_int_equal(st.st[0].att[LEA_ATT_TO_FETCH], 2);
	/* complete, with the served type beside the record's */
	u = (struct lea_fetch_update){.id = ids[0], .what = LEA_FU_STATE | LEA_FU_DONE,
				      .state = LEA_ATT_COMPLETE, .bytes = 300,
				      .sha256 = "ab", .file = "content/01/fetch-1",
				      .served_type = "text/plain", .now = 6};
	assert_int_equal(lea_store_fetch_update(f->s, &u), 0);
	assert_int_equal(lea_store_fetch_get(f->s, ids[0], &e), 0);
	assert_int_equal(e.state, LEA_ATT_COMPLETE);
	assert_string_equal(e.served_type, "text/plain");
	assert_string_equal(e.content_type, "application/octet-stream");
	status(f->s, REF_A, &st);
	assert_int_equal(st.st[0].att[LEA_ATT_FETCHING], 0);
	assert_int_equal(st.st[0].att[LEA_ATT_COMPLETE], 1);
	/* a Model B attachment is no retrieval */
	assert_int_equal(lea_store_fetch_get(f->s, 999999, &e), LI707_ENOTFOUND);
}

/* fetch-retry: mismatch/expired start again from zero; complete is refused; unknown ids
 * are not found; counters follow. */
static void test_bin_fetch_retry_command(void **state)
{
	struct fx *f = *state;
	int64_t ids[4];
	fetch_fixture(f, ids);
	struct lx_fetch_state fs;
	lx_fetch_state_init(&fs, 0);
	fs.total = 10;
	assert_true(lx_fetch_state_add(&fs, 0, 10));
	struct lea_fetch_update u = {.id = ids[2], .what = LEA_FU_STATE | LEA_FU_FS | LEA_FU_RETRY,
				     .state = LEA_ATT_MISMATCH, .fs = &fs, .mismatches = 2,
				     .attempts = 3, .next_try = 99999999999, .error = "mismatch"};
	assert_int_equal(lea_store_fetch_update(f->s, &u), 0);
	u.id = ids[3];
	u.state = LEA_ATT_COMPLETE;
	assert_int_equal(lea_store_fetch_update(f->s, &u), 0);
	char err[256] = "";
	assert_int_equal(lea_store_fetch_retry(f->dir, ids[2], err, sizeof err), 0);
	assert_int_equal(lea_store_fetch_retry(f->dir, ids[3], err, sizeof err), LI707_EINVAL);
	assert_non_null(strstr(err, "complete"));
	assert_int_equal(lea_store_fetch_retry(f->dir, 424242, err, sizeof err), LI707_ENOTFOUND);
	struct lea_fetch_entry e;
	assert_int_equal(lea_store_fetch_get(f->s, ids[2], &e), 0);
	assert_int_equal(e.state, LEA_ATT_TO_FETCH);
	assert_int_equal(e.fs.n_held, 0);
	assert_int_equal(e.fs.total, -1);
	assert_int_equal(e.attempts, 0);
	assert_int_equal(e.mismatches, 0);
	assert_int_equal(e.next_try, 0);
	struct stats st;
	status(f->s, REF_A, &st);
	assert_int_equal(st.st[0].att[LEA_ATT_MISMATCH], 0);
	assert_int_equal(st.st[0].att[LEA_ATT_TO_FETCH], 3);
	uint64_t cnt[LEA_ATT_NSTATES];
	assert_int_equal(lea_store_fetch_counts(f->s, cnt), 0);
	assert_int_equal(cnt[LEA_ATT_TO_FETCH], 3);
	assert_int_equal(cnt[LEA_ATT_COMPLETE], 1);
	/* a held entry waiting for its backoff: tried now, its ranges kept */
	u = (struct lea_fetch_update){.id = ids[0], .what = LEA_FU_STATE | LEA_FU_FS | LEA_FU_RETRY,
				      .state = LEA_ATT_FETCHING, .fs = &fs, .attempts = 2,
				      .next_try = 99999999999};
	assert_int_equal(lea_store_fetch_update(f->s, &u), 0);
	assert_int_equal(lea_store_fetch_retry(f->dir, ids[0], err, sizeof err), 0);
	assert_int_equal(lea_store_fetch_get(f->s, ids[0], &e), 0);
	assert_int_equal(e.state, LEA_ATT_FETCHING);
	assert_int_equal(e.fs.n_held, 1);
	assert_int_equal(e.next_try, 0);
}

/* A version 2 store (before retrieval): refused read-only with a clear message, upgraded by
 * a writable open; its to-fetch attachments are queued. */
static void test_store_schema_v2_upgrade(void **state)
{
	struct fx *f = *state;
	int64_t ids[4];
	fetch_fixture(f, ids);
	lea_store_close(f->s);
	f->s = NULL;
	db_exec(f->dir, DROP_FETCH_COLS "PRAGMA user_version = 2;", NULL, 0);
	struct lea_store *ro = NULL;
	struct lea_store_opts o = {.dir = f->dir, .read_only = true};
	char err[256] = "";
	assert_int_equal(lea_store_open(&o, &ro, err, sizeof err), LI707_EINVAL);
	assert_non_null(strstr(err, "schema version 2"));
	fx_open(f);
	assert_int_equal(db_int(f->dir, "PRAGMA user_version"), 3);
	struct fq q = {0};
	assert_int_equal(lea_store_fetch_queue(f->s, 0, 0, fq_cb, &q), 0);
	assert_int_equal(q.n, 4);
	assert_int_equal(q.id[0], ids[3]);
}

/* ---------------------------------------------------------------- Model B url rule */

static void test_bin_b1_modelb_uuid(void **state)
{
	(void)state;
	static const struct {
		const char *url, *prefix, *want; /* want NULL: not Model B */
	} cases[] = {
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/", "/binaryData/",
		 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "/binaryData/",
		 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
		{"https://lea.example:8443/binaryData/0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D/",
		 "/binaryData/", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
		{"https://lea.example/li/b/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/", "/li/b/",
		 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
		{"https://lea.example/other/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/", "/binaryData/", NULL},
		{"https://lea.example/binarydata/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/", "/binaryData/",
		 NULL},
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/?x=1",
		 "/binaryData/", NULL},
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d?x=1",
		 "/binaryData/", NULL},
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d#f", "/binaryData/",
		 NULL},
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d//", "/binaryData/",
		 NULL},
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/x", "/binaryData/",
		 NULL},
		{"https://lea.example/binaryData/../0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/",
		 "/binaryData/", NULL},
		{"https://lea.example/x/../binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/",
		 "/binaryData/", NULL},
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4/", "/binaryData/",
		 NULL},
		{"https://lea.example/binaryData/0a1b2c3d4e5f-4a6b-8c7d-9e0f1a2b3c4d0/", "/binaryData/",
		 NULL},
		{"https://lea.example/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4g/", "/binaryData/",
		 NULL},
		{"https://lea.example/binaryData/%30a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/", "/binaryData/",
		 NULL},
		{"https://lea.example?/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/", "/binaryData/",
		 NULL},
		{"/binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/", "/binaryData/", NULL},
		{"https:///binaryData/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/", "/binaryData/", NULL},
		{"", "/binaryData/", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[37] = "unchanged";
		bool ok = li707_binary_url_uuid(cases[i].url, cases[i].prefix, out);
		if (ok != (cases[i].want != NULL))
			fail_msg("case %zu (%s): got %d", i, cases[i].url, ok);
		if (cases[i].want)
			assert_string_equal(out, cases[i].want);
		else
			assert_string_equal(out, "unchanged");
	}
	char out[37];
	assert_false(li707_binary_url_uuid(NULL, "/binaryData/", out));
}

int main(void)
{
	li707_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_put_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_raw_compressed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_item_next_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_schema_v1_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del6_duplicate_object_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del6_duplicate_delivery_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del6_duplicate_in_one_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_skip_failed_action, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del2_collection_100, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del6_sequence_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hdr2_application_gaps_repeats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_status_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_list_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_list_callback_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_list_party_across_buckets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_item_detail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csp2_schema_reused_by_identifier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_b2_record_then_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_b4_upload_before_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_b4_orphan_then_record_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_b4_record_during_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_mismatch_length_then_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_mismatch_sha256, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_b3_verdicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_b4_orphans_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_upload_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_b4_sweep_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_crash_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_durability_kill9, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_threads_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_read_only_beside_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_open_errors, setup, teardown),
		cmocka_unit_test(test_bin_b1_modelb_uuid),
		cmocka_unit_test_setup_teardown(test_bin_2_fetch_queue_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bin_c2_fetch_state_survives_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bin_fetch_retry_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_schema_v2_upgrade, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	li707_global_cleanup();
	return rc;
}
