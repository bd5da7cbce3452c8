/* li707-csp - the table of binary transfers in progress. See csp_xfer.h.
 *
 * DESIGN. A fixed array of CSP_XFER_ACTIVE_MAX slots (a free slot has id 0) and a ring of the
 * last CSP_XFER_KEEP finished views, under one mutex. begin/end are O(slots) scans of a small
 * array; nothing is allocated after new. Rate samples: (time, bytes) pairs, the first at
 * begin, one more per csp_xfer_sample at least 500 ms after the previous; the rate is taken
 * from the oldest sample still inside the window to the bytes now. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csp_xfer.h"
#include "li707/error.h"

#define SAMPLE_EVERY_MS 500

struct sample {
	int64_t t_ms;
	uint64_t bytes;
};

struct entry {
	uint64_t id; /* 0: free */
	struct csp_xfer_view v;
	csp_xfer_probe_fn probe;
	const void *src;
	int64_t start_ms;
	uint64_t counted; /* bytes already handed to the count callback */
	struct sample s[CSP_XFER_SAMPLES];
	size_t ns, head; /* samples held, the next one's index */
};

struct csp_xfer_table {
	pthread_mutex_t mu;
	int64_t (*now_ms)(void *ud);
	void *ud;
	csp_xfer_count_fn count;
	void *count_ud;
	uint64_t next_id, untracked;
	size_t n_active;
	struct entry e[CSP_XFER_ACTIVE_MAX];
	struct csp_xfer_view done[CSP_XFER_KEEP];
	size_t n_done, done_head; /* done_head: where the next finished one goes */
};

const char *csp_xfer_kind_name(enum csp_xfer_kind k)
{
	return k == CSP_XFER_PUSH ? "push" : k == CSP_XFER_SERVE ? "serve" : "?";
}

static int64_t mono_ms(void *ud)
{
	(void)ud;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int csp_xfer_new(int64_t (*now_ms)(void *ud), void *ud, struct csp_xfer_table **out)
{
	struct csp_xfer_table *t = calloc(1, sizeof *t);
	if (!t)
		return LI707_ENOMEM;
	pthread_mutex_init(&t->mu, NULL);
	t->now_ms = now_ms ? now_ms : mono_ms;
	t->ud = ud;
	t->next_id = 1;
	*out = t;
	return 0;
}

void csp_xfer_free(struct csp_xfer_table *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void csp_xfer_set_count(struct csp_xfer_table *t, csp_xfer_count_fn fn, void *ud)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->count = fn;
	t->count_ud = ud;
	pthread_mutex_unlock(&t->mu);
}

static void copy_word(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

uint64_t csp_xfer_begin(struct csp_xfer_table *t, const struct csp_xfer_start *s)
{
	if (!t || !s)
		return 0;
	pthread_mutex_lock(&t->mu);
	struct entry *e = NULL;
	for (size_t i = 0; i < CSP_XFER_ACTIVE_MAX && !e; i++)
		if (!t->e[i].id)
			e = &t->e[i];
	if (!e) {
		t->untracked++;
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	memset(e, 0, sizeof *e);
	e->id = t->next_id++;
	e->probe = s->probe;
	e->src = s->src;
	e->start_ms = t->now_ms(t->ud);
	e->s[0] = (struct sample){e->start_ms, 0};
	e->ns = 1;
	e->head = 1;
	struct csp_xfer_view *v = &e->v;
	v->id = e->id;
	v->kind = s->kind;
	copy_word(v->lea, sizeof v->lea, s->lea);
	v->object = s->object;
	v->size = s->size;
	v->length = s->length;
	copy_word(v->range, sizeof v->range, s->range);
	v->attempt = s->attempt;
	v->started = (int64_t)time(NULL);
	v->eta_s = -1;
	t->n_active++;
	uint64_t id = e->id;
	pthread_mutex_unlock(&t->mu);
	return id;
}

/* Bytes and stage now (mutex held). */
static uint64_t probe(struct entry *e)
{
	const char *stage = NULL;
	uint64_t b = e->probe ? e->probe(e->src, &stage) : e->v.bytes;
	copy_word(e->v.stage, sizeof e->v.stage, stage ? stage : "running");
	return b;
}

static void count(struct csp_xfer_table *t, struct entry *e, uint64_t bytes)
{
	if (bytes > e->counted) {
		if (t->count)
			t->count(t->count_ud, e->v.kind, e->v.lea, bytes - e->counted);
		e->counted = bytes;
	}
}

static struct entry *find(struct csp_xfer_table *t, uint64_t id)
{
	for (size_t i = 0; id && i < CSP_XFER_ACTIVE_MAX; i++)
		if (t->e[i].id == id)
			return &t->e[i];
	return NULL;
}

void csp_xfer_end(struct csp_xfer_table *t, uint64_t id, const char *outcome, uint64_t bytes)
{
	if (!t || !id)
		return;
	pthread_mutex_lock(&t->mu);
	struct entry *e = find(t, id);
	if (e) {
		int64_t now = t->now_ms(t->ud);
		count(t, e, bytes);
		struct csp_xfer_view *v = &e->v;
		v->bytes = bytes;
		v->finished = true;
		copy_word(v->stage, sizeof v->stage, "finished");
		copy_word(v->outcome, sizeof v->outcome, outcome);
		v->elapsed_s = (double)(now - e->start_ms) / 1000.0;
		v->rate = v->elapsed_s > 0 ? (double)bytes / v->elapsed_s : 0;
		v->eta_s = -1;
		t->done[t->done_head] = *v;
		t->done_head = (t->done_head + 1) % CSP_XFER_KEEP;
		if (t->n_done < CSP_XFER_KEEP)
			t->n_done++;
		e->id = 0;
		t->n_active--;
	}
	pthread_mutex_unlock(&t->mu);
}

static void sample_add(struct entry *e, int64_t now, uint64_t bytes)
{
	e->s[e->head] = (struct sample){now, bytes};
	e->head = (e->head + 1) % CSP_XFER_SAMPLES;
	if (e->ns < CSP_XFER_SAMPLES)
		e->ns++;
}

void csp_xfer_sample(struct csp_xfer_table *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	int64_t now = t->now_ms(t->ud);
	for (size_t i = 0; i < CSP_XFER_ACTIVE_MAX; i++) {
		struct entry *e = &t->e[i];
		if (!e->id)
			continue;
		uint64_t b = probe(e);
		count(t, e, b);
		const struct sample *last = &e->s[(e->head + CSP_XFER_SAMPLES - 1) % CSP_XFER_SAMPLES];
		if (now - last->t_ms >= SAMPLE_EVERY_MS)
			sample_add(e, now, b);
	}
	pthread_mutex_unlock(&t->mu);
}

/* The live view of an active entry (mutex held). */
static void live_view(struct entry *e, int64_t now, struct csp_xfer_view *out)
{
	uint64_t b = probe(e);
	e->v.bytes = b;
	e->v.elapsed_s = (double)(now - e->start_ms) / 1000.0;
	/* the oldest sample inside the window; the newest one when all are older */
	const struct sample *ref = NULL;
	for (size_t k = 0; k < e->ns; k++) {
		const struct sample *s = &e->s[(e->head + CSP_XFER_SAMPLES - e->ns + k) % CSP_XFER_SAMPLES];
		if (now - s->t_ms <= CSP_XFER_RATE_WINDOW_MS) {
			ref = s;
			break;
		}
	}
	if (!ref)
		ref = &e->s[(e->head + CSP_XFER_SAMPLES - 1) % CSP_XFER_SAMPLES];
	int64_t dt = now - ref->t_ms;
	e->v.rate = dt > 0 && b >= ref->bytes ? (double)(b - ref->bytes) * 1000.0 / (double)dt : 0;
	e->v.eta_s = -1;
	if (e->v.rate > 0 && e->v.length >= b)
		e->v.eta_s = (int64_t)((double)(e->v.length - b) / e->v.rate + 0.5);
	*out = e->v;
}

size_t csp_xfer_list(struct csp_xfer_table *t, struct csp_xfer_view *v, size_t max)
{
	if (!t || !v)
		return 0;
	pthread_mutex_lock(&t->mu);
	int64_t now = t->now_ms(t->ud);
	/* active ones oldest first: ids grow with time */
	struct entry *act[CSP_XFER_ACTIVE_MAX];
	size_t na = 0;
	for (size_t i = 0; i < CSP_XFER_ACTIVE_MAX; i++)
		if (t->e[i].id) {
			size_t k = na++;
			while (k > 0 && act[k - 1]->id > t->e[i].id) {
				act[k] = act[k - 1];
				k--;
			}
			act[k] = &t->e[i];
		}
	size_t n = 0;
	for (size_t i = 0; i < na && n < max; i++)
		live_view(act[i], now, &v[n++]);
	for (size_t i = 0; i < t->n_done && n < max; i++)
		v[n++] = t->done[(t->done_head + CSP_XFER_KEEP - 1 - i) % CSP_XFER_KEEP];
	pthread_mutex_unlock(&t->mu);
	return n;
}

size_t csp_xfer_active(struct csp_xfer_table *t, enum csp_xfer_kind kind)
{
	if (!t)
		return 0;
	pthread_mutex_lock(&t->mu);
	size_t n = 0;
	for (size_t i = 0; i < CSP_XFER_ACTIVE_MAX; i++)
		n += t->e[i].id && (!kind || t->e[i].v.kind == kind);
	pthread_mutex_unlock(&t->mu);
	return n;
}

uint64_t csp_xfer_untracked(struct csp_xfer_table *t)
{
	if (!t)
		return 0;
	pthread_mutex_lock(&t->mu);
	uint64_t n = t->untracked;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void csp_xfer_range_text(const uint64_t (*ranges)[2], size_t n, char *out)
{
	const size_t cap = CSP_XFER_RANGE_MAX + 1;
	if (!n || !ranges) {
		snprintf(out, cap, "whole");
		return;
	}
	size_t at = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char one[48], more[24];
		int m = snprintf(one, sizeof one, "%s%" PRIu64 "-%" PRIu64, i ? "," : "", ranges[i][0],
				 ranges[i][1]);
		int r = snprintf(more, sizeof more, ",+%zu", n - i - 1);
		/* this range fits and leaves room for the ",+N" of what may still follow */
		size_t need = (size_t)m + (i + 1 < n ? (size_t)r : 0);
		if (at + need >= cap) {
			snprintf(out + at, cap - at, ",+%zu", n - i);
			return;
		}
		memcpy(out + at, one, (size_t)m + 1);
		at += (size_t)m;
	}
}
