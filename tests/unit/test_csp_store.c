/* Unit tests of the li707-csp store (src/csp/csp_store.h): references (R-RSP-2), ingest with
 * conversation numbering (R-HDR-1, R-HDR-2), packing events into a delivery atomically,
 * numbering across reopen (R-DEL-6), inflight -> ready at open, the delivery transitions
 * (retry, drop, review), objects by token (R-CORE-5) and Model B push after done (R-BIN-B2).
 * Each test works in its own mkdtemp directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "csp_audit.h"
#include "csp_store.h"
#include "csp_store_rec.h"

#define NOW 1800000000

struct fx {
	char dir[64];
	struct csp_store *s;
};

static void fx_open(struct fx *f)
{
	char err[256] = "";
	struct csp_store_opts o = {.spool = f->dir};
	int rc = csp_store_open(&o, &f->s, err, sizeof err);
	if (rc)
		print_error("csp_store_open: %s (%s)\n", err, li707_strerror(rc));
	assert_int_equal(rc, 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/csp-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	fx_open(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	csp_store_close(f->s);
	tu_rm_rf(f->dir);
	free(f);
	return 0;
}

static int64_t add_ref(struct fx *f, const char *ref, const char *lea, bool review, int64_t until)
{
	struct csp_ref r = {.kind = LI707_REF_LIID, .ref = (char *)ref, .lea = (char *)lea,
			    .review = review, .until = until};
	int64_t id = 0;
	assert_int_equal(csp_store_ref_add(f->s, &r, NOW, &id), 0);
	assert_true(id > 0);
	return id;
}

/* Queues one event per conversation key (NULL: none); returns out[i] in res. */
static void ingest(struct fx *f, const char *ref, const char *const *conv, size_t n,
		   struct csp_event_out *res)
{
	struct csp_event_in in[16];
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		in[i] = (struct csp_event_in){.kind = LI707_REF_LIID, .ref = ref,
					      .conversation = conv ? conv[i] : NULL,
					      .json = "{}", .json_len = 2};
	assert_int_equal(csp_store_ingest(f->s, in, n, NOW, res), 0);
}

static int64_t count(struct fx *f, const char *what)
{
	/* through the public reads only */
	struct csp_store_counts c;
	assert_int_equal(csp_store_counts(f->s, &c), 0);
	int64_t v = 0;
	for (size_t i = 0; i < c.n_leas; i++) {
		if (!strcmp(what, "queued"))
			v += (int64_t)c.leas[i].events_queued;
		else if (!strcmp(what, "ready"))
			v += (int64_t)c.leas[i].d[CSP_D_READY];
		else if (!strcmp(what, "review"))
			v += (int64_t)c.leas[i].d[CSP_D_REVIEW];
	}
	csp_store_counts_clear(&c);
	return v;
}

/* R-RSP-2: events of an unknown, closed or expired reference are refused, each on its own. */
static void test_R_RSP_2_refused_references(void **state)
{
	struct fx *f = *state;
	add_ref(f, "LIID-OPEN", "bka", false, 0);
	add_ref(f, "LIID-ENDED", "bka", false, NOW - 1);
	add_ref(f, "LIID-CLOSED", "bka", false, 0);
	int64_t key = 0;
	assert_int_equal(csp_store_ref_close(f->s, "LIID-CLOSED", NOW, &key), 0);
	const char *refs[] = {"LIID-OPEN", "LIID-NONE", "LIID-ENDED", "LIID-CLOSED", "LIID-OPEN"};
	struct csp_event_in in[5];
	struct csp_event_out out[5];
	for (int i = 0; i < 5; i++)
		in[i] = (struct csp_event_in){.kind = LI707_REF_LIID, .ref = refs[i], .json = "{}",
					      .json_len = 2};
	assert_int_equal(csp_store_ingest(f->s, in, 5, NOW, out), 0);
	assert_int_equal(out[0].rc, 0);
	assert_true(out[0].id > 0);
	assert_int_equal(out[1].rc, LI707_EDENIED);
	assert_non_null(strstr(out[1].err, "R-RSP-2"));
	assert_null(strstr(out[1].err, "LIID-NONE")); /* R-SEC-6: no value in errors */
	assert_int_equal(out[2].rc, LI707_EDENIED);
	assert_int_equal(out[3].rc, LI707_EDENIED);
	assert_int_equal(out[4].rc, 0);
	assert_int_equal(out[4].id, out[0].id + 1);
	assert_int_equal(count(f, "queued"), 2);
	/* a duplicate open reference is refused; a closed one's identifier may come again */
	struct csp_ref dup = {.ref = "LIID-OPEN", .lea = "bka"};
	assert_int_equal(csp_store_ref_add(f->s, &dup, NOW, NULL), -EEXIST);
	add_ref(f, "LIID-CLOSED", "bka", false, 0);
}

/* R-HDR-1, R-HDR-2: applicationLevelID per reference in first-seen order, seq per conversation. */
static void test_R_HDR_1_conversation_numbering(void **state)
{
	struct fx *f = *state;
	add_ref(f, "LIID-A", "bka", false, 0);
	add_ref(f, "LIID-B", "bka", false, 0);
	const char *conv[] = {"x", "y", "x", NULL, "x", "y"};
	struct csp_event_out out[6];
	ingest(f, "LIID-A", conv, 6, out);
	const int64_t lvl[] = {0, 1, 0, -1, 0, 1}, seq[] = {0, 0, 1, -1, 2, 1};
	for (int i = 0; i < 6; i++) {
		assert_int_equal(out[i].rc, 0);
		assert_int_equal(out[i].app_level, lvl[i]);
		assert_int_equal(out[i].app_seq, seq[i]);
	}
	/* another reference starts again from 0, the same key is unrelated there */
	const char *conv2[] = {"y"};
	ingest(f, "LIID-B", conv2, 1, out);
	assert_int_equal(out[0].app_level, 0);
	assert_int_equal(out[0].app_seq, 0);
	/* and the numbering survives a reopen */
	csp_store_close(f->s);
	fx_open(f);
	const char *conv3[] = {"z", "x"};
	ingest(f, "LIID-A", conv3, 2, out);
	assert_int_equal(out[0].app_level, 2);
	assert_int_equal(out[0].app_seq, 0);
	assert_int_equal(out[1].app_level, 0);
	assert_int_equal(out[1].app_seq, 3);
}

/* R-HDR-2: an explicit correlation must continue its level; a level held by a conversation is
 * refused. */
static void test_R_HDR_2_explicit_correlation(void **state)
{
	struct fx *f = *state;
	add_ref(f, "LIID-A", "bka", false, 0);
	struct csp_event_out out[4];
	const char *conv[] = {"x"};
	ingest(f, "LIID-A", conv, 1, out); /* level 0 */
	struct csp_event_in in[4] = {
		{.kind = LI707_REF_LIID, .ref = "LIID-A", .has_correlation = true, .app_level = 5,
		 .app_seq = 0, .json = "{}", .json_len = 2},
		{.kind = LI707_REF_LIID, .ref = "LIID-A", .has_correlation = true, .app_level = 5,
		 .app_seq = 2, .json = "{}", .json_len = 2},
		{.kind = LI707_REF_LIID, .ref = "LIID-A", .has_correlation = true, .app_level = 5,
		 .app_seq = 1, .json = "{}", .json_len = 2},
		{.kind = LI707_REF_LIID, .ref = "LIID-A", .has_correlation = true, .app_level = 0,
		 .app_seq = 1, .json = "{}", .json_len = 2},
	};
	assert_int_equal(csp_store_ingest(f->s, in, 4, NOW, out), 0);
	assert_int_equal(out[0].rc, 0);
	assert_int_equal(out[1].rc, LI707_EINPUT);
	assert_non_null(strstr(out[1].err, "must be 1"));
	assert_int_equal(out[2].rc, 0);
	assert_int_equal(out[3].rc, LI707_EINPUT);
	/* a new conversation gets a level above every level in use */
	const char *conv2[] = {"new"};
	ingest(f, "LIID-A", conv2, 1, out);
	assert_int_equal(out[0].app_level, 6);
}

static int pack(struct fx *f, int64_t ref, int64_t seq, const int64_t *ev, size_t n, bool last,
		int64_t *id)
{
	char oid[LI707_UUID_LEN + 1];
	assert_int_equal(li707_uuid_new(oid), 0);
	struct csp_pack p = {.ref_id = ref, .seq = seq, .last = last, .event_ids = ev,
			     .n_events = n, .object_id = oid, .xml = "<x/>", .xml_len = 4,
			     .bytes = 4};
	return csp_store_pack(f->s, &p, NOW, id);
}


/* The packager's window of queued events (csp_store_events_window): min_items are taken
 * whatever their size, then more up to max_items while within max_bytes; *more tells whether
 * a queued event was left out; after skips what is built. The same read many times over (its
 * statement cached on the read connections) keeps answering the same. */
static void test_events_window(void **state)
{
	struct fx *f = *state;
	int64_t ref = add_ref(f, "LIID-W", "bka", false, 0);
	struct csp_event_out out[10];
	ingest(f, "LIID-W", NULL, 10, out);
	struct csp_event_row *rows = NULL;
	size_t n = 0;
	bool more = false;
	for (int k = 0; k < 500; k++) {
		assert_int_equal(csp_store_events_window(f->s, ref, 0, 3, 5, 1, &rows, &n, &more), 0);
		assert_int_equal(n, 3); /* the minimum, though 1 byte holds none */
		assert_true(more);
		assert_int_equal(rows[0].id, out[0].id);
		assert_int_equal(rows[2].id, out[2].id);
		csp_event_rows_free(rows, n);
	}
	assert_int_equal(csp_store_events_window(f->s, ref, 0, 3, 5, 0, &rows, &n, &more), 0);
	assert_int_equal(n, 5);
	assert_true(more);
	csp_event_rows_free(rows, n);
	assert_int_equal(csp_store_events_window(f->s, ref, 0, 3, 20, 0, &rows, &n, &more), 0);
	assert_int_equal(n, 10);
	assert_false(more);
	assert_int_equal(rows[9].id, out[9].id);
	csp_event_rows_free(rows, n);
	assert_int_equal(csp_store_events_window(f->s, ref, out[7].id, 3, 5, 1, &rows, &n, &more),
			 0);
	assert_int_equal(n, 2);
	assert_false(more);
	assert_int_equal(rows[0].id, out[8].id);
	csp_event_rows_free(rows, n);
	/* no minimum: at least one, then what fits */
	uint64_t one = 2; /* "{}" */
	assert_int_equal(csp_store_events_window(f->s, ref, 0, 0, 5, one + 1, &rows, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_true(more);
	csp_event_rows_free(rows, n);
	assert_int_equal(csp_store_events_window(f->s, ref, out[9].id, 1, 5, 0, &rows, &n, &more),
			 0);
	assert_int_equal(n, 0);
	assert_false(more);
	csp_event_rows_free(rows, n);
	assert_int_equal(csp_store_events_window(f->s, ref, 0, 6, 5, 0, &rows, &n, &more),
			 LI707_EINVAL);
}
/* R-DEL-6: packing takes the events, writes the delivery and advances next_seq in one
 * transaction; a stale seq or an event not queued changes nothing. */
static void test_R_DEL_6_pack_atomic(void **state)
{
	struct fx *f = *state;
	int64_t ref = add_ref(f, "LIID-A", "bka", false, 0);
	int64_t other = add_ref(f, "LIID-B", "bka", false, 0);
	struct csp_event_out out[3], ob[1];
	ingest(f, "LIID-A", NULL, 3, out);
	ingest(f, "LIID-B", NULL, 1, ob);
	struct csp_event_row *rows = NULL;
	size_t n = 0;
	bool more = false;
	assert_int_equal(csp_store_events_window(f->s, ref, 0, 1, 2, 0, &rows, &n, &more), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, out[0].id);
	assert_int_equal(rows[1].id, out[1].id);
	int64_t ids[2] = {rows[0].id, rows[1].id};
	csp_event_rows_free(rows, n);

	/* wrong seq: nothing changes */
	assert_int_equal(pack(f, ref, 2, ids, 2, false, NULL), -EAGAIN);
	/* an event of another reference: nothing changes, not even the delivery row */
	int64_t mixed[2] = {ids[0], ob[0].id};
	assert_int_equal(pack(f, ref, 1, mixed, 2, false, NULL), -EALREADY);
	assert_int_equal(count(f, "queued"), 4);
	assert_int_equal(count(f, "ready"), 0);
	struct csp_ref r;
	assert_int_equal(csp_store_ref_get(f->s, ref, &r), 0);
	assert_int_equal(r.next_seq, 1);
	csp_ref_clear(&r);

	int64_t d1 = 0;
	assert_int_equal(pack(f, ref, 1, ids, 2, false, &d1), 0);
	assert_int_equal(count(f, "queued"), 2);
	assert_int_equal(count(f, "ready"), 1);
	/* packing the same events again is refused */
	assert_int_equal(pack(f, ref, 2, ids, 1, false, NULL), -EALREADY);
	assert_int_equal(csp_store_ref_get(f->s, ref, &r), 0);
	assert_int_equal(r.next_seq, 2);
	char did[LI707_UUID_LEN + 1];
	snprintf(did, sizeof did, "%s", r.delivery_id);
	csp_ref_clear(&r);

	/* numbering survives a reopen: next_seq and the DeliveryID */
	csp_store_close(f->s);
	fx_open(f);
	assert_int_equal(csp_store_ref_get(f->s, ref, &r), 0);
	assert_int_equal(r.next_seq, 2);
	assert_string_equal(r.delivery_id, did);
	csp_ref_clear(&r);
	int64_t third = out[2].id, d2 = 0;
	assert_int_equal(pack(f, ref, 2, &third, 1, true, &d2), 0);
	struct csp_delivery d;
	assert_int_equal(csp_store_delivery_get(f->s, d2, true, &d), 0);
	assert_int_equal(d.seq, 2);
	assert_true(d.last);
	assert_string_equal(d.xml, "<x/>");
	assert_int_equal(d.state, CSP_D_READY);
	csp_delivery_clear(&d);
	(void)other;
}

/* Restart: a delivery found inflight goes back to ready (the LEA deduplicates by
 * ObjectIdentifier); ready lists follow reference then seq. */
static void test_inflight_ready_at_open(void **state)
{
	struct fx *f = *state;
	int64_t ra = add_ref(f, "LIID-A", "bka", false, 0);
	int64_t rb = add_ref(f, "LIID-B", "bka", false, 0);
	struct csp_event_out oa[2], ob[1];
	ingest(f, "LIID-A", NULL, 2, oa);
	ingest(f, "LIID-B", NULL, 1, ob);
	int64_t d_b = 0, d_a1 = 0, d_a2 = 0;
	assert_int_equal(pack(f, rb, 1, &ob[0].id, 1, false, &d_b), 0);
	assert_int_equal(pack(f, ra, 1, &oa[0].id, 1, false, &d_a1), 0);
	assert_int_equal(pack(f, ra, 2, &oa[1].id, 1, false, &d_a2), 0);
	assert_int_equal(csp_store_d_inflight(f->s, d_a1, NOW), 0);
	assert_int_equal(csp_store_d_inflight(f->s, d_a1, NOW), -EALREADY);
	struct csp_delivery *v = NULL;
	size_t n = 0;
	assert_int_equal(csp_store_ready(f->s, "bka", NOW, 10, &v, &n), 0);
	assert_int_equal(n, 2); /* a1 is in flight */
	csp_deliveries_free(v, n);
	csp_store_close(f->s);
	fx_open(f);
	assert_int_equal(csp_store_ready(f->s, "bka", NOW, 10, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, d_a1);
	assert_int_equal(v[0].attempts, 1);
	assert_int_equal(v[1].id, d_a2);
	assert_int_equal(v[2].id, d_b);
	assert_non_null(v[0].xml);
	csp_deliveries_free(v, n);
	assert_int_equal(csp_store_ready(f->s, "other", NOW, 10, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
}

/* retry / drop / park / fail / done, and review approve / reject (clause 4.2, R-RSP-2). */
static void test_transitions(void **state)
{
	struct fx *f = *state;
	int64_t ra = add_ref(f, "LIID-A", "bka", false, 0);
	int64_t rr = add_ref(f, "LIID-R", "bka", true, 0);
	struct csp_event_out oa[4], orv[2];
	ingest(f, "LIID-A", NULL, 4, oa);
	ingest(f, "LIID-R", NULL, 2, orv);
	int64_t d[4], r1, r2;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pack(f, ra, i + 1, &oa[i].id, 1, false, &d[i]), 0);
	assert_int_equal(pack(f, rr, 1, &orv[0].id, 1, false, &r1), 0);
	assert_int_equal(pack(f, rr, 2, &orv[1].id, 1, false, &r2), 0);
	assert_int_equal(count(f, "review"), 2);

	/* failure with backoff: not ready before next_try; retry makes it due now */
	assert_int_equal(csp_store_d_fail(f->s, d[0], NOW + 100, "HTTP 503", NOW), 0);
	struct csp_delivery *v = NULL;
	size_t n = 0;
	assert_int_equal(csp_store_ready(f->s, "bka", NOW, 10, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(v[i].id, d[0]);
	csp_deliveries_free(v, n);
	assert_int_equal(csp_store_d_retry(f->s, d[0], NOW), 0);
	assert_int_equal(csp_store_ready(f->s, "bka", NOW, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, d[0]);
	assert_string_equal(v[0].last_error, "HTTP 503");
	csp_deliveries_free(v, n);

	/* parked: not retried until the operator says */
	assert_int_equal(csp_store_d_park(f->s, d[1], "ErrorInformation 3000", NOW), 0);
	assert_int_equal(csp_store_d_done(f->s, d[1], NOW), -EALREADY);
	assert_int_equal(csp_store_deliveries(f->s, NULL, CSP_D_PARKED, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	csp_deliveries_free(v, n);
	assert_int_equal(csp_store_d_retry(f->s, d[1], NOW), 0);
	assert_int_equal(csp_store_d_done(f->s, d[1], NOW), 0);
	assert_int_equal(csp_store_d_retry(f->s, d[1], NOW), -EALREADY); /* done stays done */
	assert_int_equal(csp_store_d_drop(f->s, d[1], NOW), -EALREADY);
	assert_int_equal(csp_store_d_park(f->s, d[2], "x", NOW), 0);
	assert_int_equal(csp_store_d_drop(f->s, d[2], NOW), 0);
	assert_int_equal(csp_store_d_retry(f->s, d[2], NOW), -EALREADY);

	/* review */
	assert_int_equal(csp_store_d_inflight(f->s, r1, NOW), -EALREADY); /* held */
	assert_int_equal(csp_store_d_approve(f->s, r1, NOW), 0);
	assert_int_equal(csp_store_d_approve(f->s, r1, NOW), -EALREADY);
	assert_int_equal(csp_store_d_reject(f->s, r2, NOW), 0);
	assert_int_equal(csp_store_d_approve(f->s, r2, NOW), -EALREADY);
	assert_int_equal(csp_store_d_retry(f->s, 999999, NOW), LI707_ENOTFOUND);

	struct csp_store_counts c;
	assert_int_equal(csp_store_counts(f->s, &c), 0);
	assert_int_equal(c.n_leas, 1);
	assert_int_equal(c.leas[0].d[CSP_D_DONE], 1);
	assert_int_equal(c.leas[0].d[CSP_D_DROPPED], 1);
	assert_int_equal(c.leas[0].d[CSP_D_REJECTED], 1);
	assert_int_equal(c.leas[0].d[CSP_D_READY], 3); /* d0, d3, r1 */
	assert_int_equal(csp_lea_queue_depth(&c.leas[0]), 3);
	assert_int_equal(c.refs_open, 2);
	csp_store_counts_clear(&c);
}

/* R-CORE-5: objects by their random token, a token never reused; R-BIN-B2: Model B content
 * is due only after the delivery carrying its record is done. */
static void test_R_CORE_5_objects(void **state)
{
	struct fx *f = *state;
	int64_t ra = add_ref(f, "LIID-A", "bka", false, 0);
	struct csp_object_in ob[2] = {
		{.uuid = "11111111-1111-4111-8111-111111111111", .token = "0123456789abcdef0123456789abcdef",
		 .path = "objects/11/x", .size = 5, .sha256 = "00", .content_type = "text/plain",
		 .model = 'A', .expiry = NOW + 60},
		{.uuid = "22222222-2222-4222-8222-222222222222", .token = "fedcba9876543210fedcba9876543210",
		 .path = "objects/22/y", .size = 7, .sha256 = "00", .content_type = "image/png",
		 .model = 'B', .expiry = NOW + 60},
	};
	struct csp_event_in in = {.kind = LI707_REF_LIID, .ref = "LIID-A", .json = "{}", .json_len = 2,
				  .objects = ob, .n_objects = 2};
	struct csp_event_out out;
	assert_int_equal(csp_store_ingest(f->s, &in, 1, NOW, &out), 0);
	assert_int_equal(out.rc, 0);
	struct csp_object o;
	assert_int_equal(csp_store_object_by_token(f->s, ob[0].token, &o), 0);
	assert_string_equal(o.uuid, ob[0].uuid);
	assert_string_equal(o.lea, "bka");
	assert_int_equal(o.model, 'A');
	assert_null(o.push_state);
	csp_object_clear(&o);
	assert_int_equal(csp_store_object_by_token(f->s, "00000000000000000000000000000000", &o),
			 LI707_ENOTFOUND);
	/* the same token again: this event is refused, nothing of it stored */
	struct csp_object_in again = ob[0];
	memcpy(again.uuid, "33333333-3333-4333-8333-333333333333", 37);
	in.objects = &again;
	in.n_objects = 1;
	assert_int_equal(csp_store_ingest(f->s, &in, 1, NOW, &out), 0);
	assert_int_equal(out.rc, -EEXIST);
	assert_int_equal(count(f, "queued"), 1);

	struct csp_object *v = NULL;
	size_t n = 0;
	assert_int_equal(csp_store_push_due(f->s, "bka", NOW, 10, &v, &n), 0);
	assert_int_equal(n, 0); /* not before its record is delivered */
	free(v);
	struct csp_event_row *rows = NULL;
	size_t nr = 0;
	bool more = false;
	assert_int_equal(csp_store_events_window(f->s, ra, 0, 1, 10, 0, &rows, &nr, &more), 0);
	int64_t ev = rows[0].id, d = 0;
	csp_event_rows_free(rows, nr);
	assert_int_equal(pack(f, ra, 1, &ev, 1, false, &d), 0);
	assert_int_equal(csp_store_d_done(f->s, d, NOW), 0);
	assert_int_equal(csp_store_push_due(f->s, "bka", NOW, 10, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].uuid, ob[1].uuid);
	assert_string_equal(v[0].push_state, "pending");
	int64_t oid = v[0].id;
	csp_objects_free(v, n);
	assert_int_equal(csp_store_push_result(f->s, oid, "retry", NOW + 30, "HTTP 503"), 0);
	assert_int_equal(csp_store_push_due(f->s, "bka", NOW, 10, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(csp_store_push_due(f->s, "bka", NOW + 30, 10, &v, &n), 0);
	assert_int_equal(n, 1);
	csp_objects_free(v, n);
	assert_int_equal(csp_store_push_result(f->s, oid, "stored", 0, "201"), 0);
	assert_int_equal(csp_store_push_result(f->s, oid, "stored", 0, "201"), LI707_ENOTFOUND);
	assert_int_equal(csp_store_push_result(f->s, oid, "bogus", 0, NULL), LI707_EINVAL);
}

/* ref close forgets the identifier, field and salt, keeps the hash (R-SEC-7, Annex D.4). */
static void test_R_SEC_7_close_keeps_hash(void **state)
{
	struct fx *f = *state;
	struct csp_ref in = {.kind = LI707_REF_LIID, .ref = "LIID-H", .lea = "bka",
			     .field = "f", .salt = "00", .hash = "ab"};
	int64_t id = 0;
	assert_int_equal(csp_store_ref_add(f->s, &in, NOW, &id), 0);
	int64_t closed = 0;
	assert_int_equal(csp_store_ref_close(f->s, "LIID-H", NOW + 1, &closed), 0);
	assert_int_equal(closed, id);
	assert_int_equal(csp_store_ref_close(f->s, "LIID-H", NOW + 1, NULL), LI707_ENOTFOUND);
	struct csp_ref r;
	assert_int_equal(csp_store_ref_get(f->s, id, &r), 0);
	assert_false(r.open);
	assert_null(r.ref);
	assert_null(r.field);
	assert_null(r.salt);
	assert_string_equal(r.hash, "ab");
	assert_int_equal(r.closed_at, NOW + 1);
	csp_ref_clear(&r);
	assert_int_equal(csp_store_ref_find(f->s, "LIID-H", &r), LI707_ENOTFOUND);
}

/* A read-only open refuses writes; a second writer is refused by the lock. */
static void test_read_only_and_lock(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct csp_store *ro = NULL, *w2 = NULL;
	struct csp_store_opts o = {.spool = f->dir, .read_only = true};
	assert_int_equal(csp_store_open(&o, &ro, err, sizeof err), 0);
	struct csp_ref r = {.ref = "LIID-X", .lea = "bka"};
	assert_int_equal(csp_store_ref_add(ro, &r, NOW, NULL), -EROFS);
	csp_store_close(ro);
	o.read_only = false;
	assert_int_equal(csp_store_open(&o, &w2, err, sizeof err), -EBUSY);
}


static struct csp_pack mkpack(char oid[LI707_UUID_LEN + 1], int64_t ref, int64_t seq,
			      const int64_t *ev, size_t n)
{
	assert_int_equal(li707_uuid_new(oid), 0);
	return (struct csp_pack){.ref_id = ref, .seq = seq, .event_ids = ev, .n_events = n,
				 .object_id = oid, .xml = "<x/>", .xml_len = 4, .bytes = 4};
}

static int64_t next_seq(struct fx *f, int64_t ref)
{
	struct csp_ref r;
	assert_int_equal(csp_store_ref_get(f->s, ref, &r), 0);
	int64_t v = r.next_seq;
	csp_ref_clear(&r);
	return v;
}

/* R-DEL-6 in batches: several references' objects and several of one reference commit in
 * ONE job; a failure anywhere in the batch (first, middle, last) rolls the whole job back —
 * no delivery, no event packed, no SequenceNumber used — so the same numbers are committed
 * by the next try, none skipped and none given twice; a crash between building and committing
 * (close and reopen without the commit) leaves the numbers where they were. */
static void test_R_DEL_6_pack_many_atomic(void **state)
{
	struct fx *f = *state;
	int64_t ra = add_ref(f, "LIID-A", "bka", false, 0);
	int64_t rb = add_ref(f, "LIID-B", "bka", false, 0);
	struct csp_event_out oa[4], ob[2];
	ingest(f, "LIID-A", NULL, 4, oa);
	ingest(f, "LIID-B", NULL, 2, ob);
	char o1[LI707_UUID_LEN + 1], o2[LI707_UUID_LEN + 1], o3[LI707_UUID_LEN + 1],
		o4[LI707_UUID_LEN + 1];
	int64_t ids[4] = {0};
	size_t failed = 99;
	/* A 1, B 1, A 2 in one job */
	struct csp_pack p[4] = {mkpack(o1, ra, 1, &oa[0].id, 1), mkpack(o2, rb, 1, &ob[0].id, 1),
				mkpack(o3, ra, 2, &oa[1].id, 1)};
	assert_int_equal(csp_store_pack_many(f->s, p, 3, NOW, ids, &failed), 0);
	assert_true(ids[0] > 0 && ids[1] > 0 && ids[2] > 0);
	assert_int_equal(next_seq(f, ra), 3);
	assert_int_equal(next_seq(f, rb), 2);
	assert_int_equal(count(f, "ready"), 3);
	assert_int_equal(count(f, "queued"), 3);

	/* the last one fails (B 3 while B's next is 2): A 3 and B's events are not taken */
	p[0] = mkpack(o1, ra, 3, &oa[2].id, 1);
	p[1] = mkpack(o2, ra, 4, &oa[3].id, 1);
	p[2] = mkpack(o3, rb, 3, &ob[1].id, 1);
	assert_int_equal(csp_store_pack_many(f->s, p, 3, NOW, ids, &failed), -EAGAIN);
	assert_int_equal(failed, 2);
	assert_int_equal(ids[0], 0);
	assert_int_equal(next_seq(f, ra), 3);
	assert_int_equal(next_seq(f, rb), 2);
	assert_int_equal(count(f, "ready"), 3);
	assert_int_equal(count(f, "queued"), 3);
	/* the middle one fails (an event of B in A's pack): nothing either */
	p[1] = mkpack(o2, ra, 4, &ob[1].id, 1);
	p[2] = mkpack(o3, rb, 2, &ob[1].id, 1);
	assert_int_equal(csp_store_pack_many(f->s, p, 3, NOW, ids, &failed), -EALREADY);
	assert_int_equal(failed, 1);
	assert_int_equal(next_seq(f, ra), 3);
	assert_int_equal(count(f, "queued"), 3);
	/* the same number twice in one job: the second is refused, the first rolled back */
	p[0] = mkpack(o1, ra, 3, &oa[2].id, 1);
	p[1] = mkpack(o2, ra, 3, &oa[3].id, 1);
	assert_int_equal(csp_store_pack_many(f->s, p, 2, NOW, ids, &failed), -EAGAIN);
	assert_int_equal(failed, 1);
	assert_int_equal(next_seq(f, ra), 3);
	/* an ObjectIdentifier used twice: refused, rolled back */
	p[1] = mkpack(o2, ra, 4, &oa[3].id, 1);
	p[1].object_id = o1;
	assert_int_equal(csp_store_pack_many(f->s, p, 2, NOW, ids, &failed), -EEXIST);
	assert_int_equal(next_seq(f, ra), 3);

	/* "crash" after building A 3, A 4 and B 2, before their commit: the numbers stay */
	csp_store_close(f->s);
	fx_open(f);
	assert_int_equal(next_seq(f, ra), 3);
	assert_int_equal(next_seq(f, rb), 2);
	p[0] = mkpack(o1, ra, 3, &oa[2].id, 1);
	p[1] = mkpack(o2, rb, 2, &ob[1].id, 1);
	p[2] = mkpack(o3, ra, 4, &oa[3].id, 1);
	assert_int_equal(csp_store_pack_many(f->s, p, 3, NOW, ids, &failed), 0);
	assert_int_equal(next_seq(f, ra), 5);
	assert_int_equal(next_seq(f, rb), 3);
	assert_int_equal(count(f, "queued"), 0);
	/* every seq of A 1..4 and B 1..2 exactly once */
	struct csp_delivery *v = NULL;
	size_t n = 0;
	assert_int_equal(csp_store_ready(f->s, "bka", NOW, 100, &v, &n), 0);
	assert_int_equal(n, 6);
	int64_t want_ref[6] = {ra, ra, ra, ra, rb, rb}, want_seq[6] = {1, 2, 3, 4, 1, 2};
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].ref_id, want_ref[i]);
		assert_int_equal(v[i].seq, want_seq[i]);
	}
	csp_deliveries_free(v, n);
	(void)o4;
	assert_int_equal(csp_store_pack_many(f->s, p, 0, NOW, ids, &failed), LI707_EINVAL);
}

/* The recorder's batch: several transitions in one job, each with its own answer, and the
 * facts the audit record needs. */
static void test_d_record_batch(void **state)
{
	struct fx *f = *state;
	int64_t ra = add_ref(f, "LIID-A", "bka", false, 0);
	struct csp_event_out oa[3];
	ingest(f, "LIID-A", NULL, 3, oa);
	int64_t d[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pack(f, ra, i + 1, &oa[i].id, 1, false, &d[i]), 0);
	struct csp_drec v[6] = {
		{.kind = CSP_DREC_INFLIGHT, .id = d[0]},
		{.kind = CSP_DREC_DONE, .id = d[0]},
		{.kind = CSP_DREC_FAIL, .id = d[1], .next_try = (int64_t)NOW * 1000 + 5000, .error = "HTTP 503"},
		{.kind = CSP_DREC_PARK, .id = d[2], .error = "ErrorInformation 1"},
		{.kind = CSP_DREC_DONE, .id = d[0]},      /* again: from done */
		{.kind = CSP_DREC_DONE, .id = d[2] + 100}, /* unknown */
	};
	assert_int_equal(csp_store_d_record(f->s, v, 6, NOW), 0);
	assert_int_equal(v[0].rc, 0);
	assert_int_equal(v[1].rc, 0);
	assert_int_equal(v[1].ref_id, ra);
	assert_int_equal(v[1].seq, 1);
	assert_int_equal(v[1].bytes, 4);
	assert_true(strlen(v[1].object_id) == LI707_UUID_LEN);
	assert_int_equal(v[2].rc, 0);
	assert_int_equal(v[3].rc, 0);
	assert_int_equal(v[3].seq, 3);
	assert_int_equal(v[4].rc, -EALREADY);
	assert_int_equal(v[5].rc, LI707_ENOTFOUND);
	struct csp_delivery x;
	assert_int_equal(csp_store_delivery_get(f->s, d[0], false, &x), 0);
	assert_int_equal(x.state, CSP_D_DONE);
	assert_int_equal(x.attempts, 1);
	csp_delivery_clear(&x);
	assert_int_equal(csp_store_delivery_get(f->s, d[1], false, &x), 0);
	assert_int_equal(x.state, CSP_D_READY);
	assert_int_equal(x.next_try, (int64_t)NOW * 1000 + 5000);
	assert_string_equal(x.last_error, "HTTP 503");
	csp_delivery_clear(&x);
	assert_int_equal(csp_store_delivery_get(f->s, d[2], false, &x), 0);
	assert_int_equal(x.state, CSP_D_PARKED);
	csp_delivery_clear(&x);
}

static size_t rec_next(struct csp_rec *r, struct csp_post *out, size_t max)
{
	size_t n = 0;
	assert_int_equal(csp_rec_next(r, "bka", (int64_t)NOW * 1000, NULL, 0, out, max, &n), 0);
	return n;
}

static void posts_free(struct csp_post *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].xml);
}

/* The recorder's order rule: a reference's next delivery is handed out only once its
 * predecessor's outcome is recorded in the store, and an acknowledged delivery is never handed
 * out again because its done (and its inflight mark) are still in memory. The recorder runs
 * by hand here (manual), so "not recorded yet" is a state the test holds. */
static void test_rec_order_until_recorded(void **state)
{
	struct fx *f = *state;
	int64_t ra = add_ref(f, "LIID-A", "bka", false, 0);
	int64_t rb = add_ref(f, "LIID-B", "bka", false, 0);
	struct csp_event_out oa[3], ob[1];
	ingest(f, "LIID-A", NULL, 3, oa);
	ingest(f, "LIID-B", NULL, 1, ob);
	int64_t a[3], b1;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pack(f, ra, i + 1, &oa[i].id, 1, false, &a[i]), 0);
	assert_int_equal(pack(f, rb, 1, &ob[0].id, 1, false, &b1), 0);
	char path[128];
	snprintf(path, sizeof path, "%s/audit.log", f->dir);
	struct csp_audit *au = NULL;
	assert_int_equal(csp_audit_open(path, 0, &au, NULL), 0);
	struct csp_rec *r = NULL;
	struct csp_rec_opts o = {.s = f->s, .audit = au, .manual = true};
	assert_int_equal(csp_rec_new(&o, &r), 0);

	struct csp_post p[8];
	size_t n = rec_next(r, p, 8);
	assert_int_equal(n, 2); /* A 1 and B 1: one per reference */
	assert_int_equal(p[0].id, a[0]);
	assert_int_equal(p[1].id, b1);
	posts_free(p, n);
	assert_int_equal(csp_rec_pending(r), 2); /* the inflight marks, not recorded yet */
	/* A 1 acknowledged, nothing recorded: the store still says A 1 is ready, yet neither A 1
	 * (a duplicate send) nor A 2 (ahead of its predecessor's record) may go */
	assert_int_equal(csp_rec_put(r, "bka", CSP_DREC_DONE, a[0], ra, 0, 0, NULL), 0);
	assert_int_equal(rec_next(r, p, 8), 0);
	/* recorded: A 2 goes; B (in flight, recorded) still not */
	assert_int_equal(csp_rec_run(r), 3);
	assert_int_equal(csp_rec_pending(r), 0);
	n = rec_next(r, p, 8);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].id, a[1]);
	assert_int_equal(p[0].seq, 2);
	posts_free(p, n);
	/* its inflight mark recorded, then done queued: still A 3 waits for that record */
	assert_int_equal(csp_rec_run(r), 1);
	assert_int_equal(csp_rec_put(r, "bka", CSP_DREC_DONE, a[1], ra, 0, 0, NULL), 0);
	assert_int_equal(rec_next(r, p, 8), 0);
	/* a retry queued for B: B stays out until recorded, and then until its next_try */
	assert_int_equal(csp_rec_put(r, "bka", CSP_DREC_FAIL, b1, rb, (int64_t)NOW * 1000 + 60000,
				     0, "HTTP 503"),
			 0);
	assert_int_equal(csp_rec_run(r), 2);
	n = rec_next(r, p, 8);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].id, a[2]);
	posts_free(p, n);
	assert_int_equal(csp_rec_put(r, "bka", CSP_DREC_PARK, a[2], ra, 0, 7, "ErrorInformation 7"),
			 0);
	csp_rec_free(r); /* records what is queued */
	struct csp_delivery x;
	assert_int_equal(csp_store_delivery_get(f->s, a[2], false, &x), 0);
	assert_int_equal(x.state, CSP_D_PARKED);
	assert_int_equal(x.attempts, 1);
	csp_delivery_clear(&x);
	assert_int_equal(csp_store_delivery_get(f->s, a[0], false, &x), 0);
	assert_int_equal(x.state, CSP_D_DONE);
	csp_delivery_clear(&x);
	/* the audit log: one record per done or parked delivery (A 1, A 2 done, A 3 parked) */
	char hash[CSP_AUDIT_HASH_HEX];
	assert_int_equal(csp_audit_last(au, hash), 3);
	csp_audit_close(au);
	struct csp_audit_report rep;
	assert_int_equal(csp_audit_check(path, &rep), 0);
	assert_int_equal(rep.records, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_R_RSP_2_refused_references, setup, teardown),
		cmocka_unit_test_setup_teardown(test_R_HDR_1_conversation_numbering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_R_HDR_2_explicit_correlation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_R_DEL_6_pack_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_R_DEL_6_pack_many_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_d_record_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rec_order_until_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflight_ready_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_R_CORE_5_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_R_SEC_7_close_keeps_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_and_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_window, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
