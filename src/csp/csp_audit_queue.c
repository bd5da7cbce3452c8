/* li707-csp - audit records appended off the caller's thread. See csp_audit_queue.h.
 *
 * DESIGN. A ring of CSP_AUDIT_QUEUE_MAX copies (the strings of a record live in its slot),
 * one mutex, two condition variables (work for the writer, room/progress for putters). The
 * writer takes everything queued, writes it with one csp_audit_append_batch outside the
 * mutex, then frees the slots. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csp_audit_queue.h"
#include "li707/error.h"
#include "li707/li707.h"

#define BATCH 256 /* records per append_batch */

struct qrec {
	struct csp_audit_record r;
	char lea[CSP_AUDIT_LEA_MAX + 1];
	char object[LI707_UUID_LEN + 1];
	char range[CSP_AUDIT_RANGE_MAX + 1];
};

struct csp_audit_queue {
	struct csp_audit *a;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t work, room;
	bool stop;
	uint64_t put, written, failed; /* put: sequence of the last record queued */
	size_t head, n, busy;          /* head: the oldest; busy: taken by the writer */
	struct qrec v[CSP_AUDIT_QUEUE_MAX];
};

static void *writer(void *arg)
{
	struct csp_audit_queue *q = arg;
	struct csp_audit_record b[BATCH];
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->n && !q->stop)
			pthread_cond_wait(&q->work, &q->mu);
		if (!q->n && q->stop)
			break;
		size_t k = q->n < BATCH ? q->n : BATCH;
		for (size_t i = 0; i < k; i++)
			b[i] = q->v[(q->head + i) % CSP_AUDIT_QUEUE_MAX].r; /* pointers into the slots */
		q->busy = k;
		pthread_mutex_unlock(&q->mu);
		int rc = csp_audit_append_batch(q->a, b, k);
		pthread_mutex_lock(&q->mu);
		q->head = (q->head + k) % CSP_AUDIT_QUEUE_MAX;
		q->n -= k;
		q->busy = 0;
		if (rc)
			q->failed += k;
		else
			q->written += k;
		pthread_cond_broadcast(&q->room);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int csp_audit_queue_new(struct csp_audit *a, struct csp_audit_queue **out)
{
	if (!a || !out)
		return LI707_EINVAL;
	struct csp_audit_queue *q = calloc(1, sizeof *q);
	if (!q)
		return LI707_ENOMEM;
	q->a = a;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->room, NULL);
	if (pthread_create(&q->th, NULL, writer, q) != 0) {
		pthread_cond_destroy(&q->room);
		pthread_cond_destroy(&q->work);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return LI707_ENOMEM;
	}
	*out = q;
	return 0;
}

int csp_audit_queue_put(struct csp_audit_queue *q, const struct csp_audit_record *r)
{
	if (!q || csp_audit_record_check(r) != 0)
		return LI707_EINVAL;
	pthread_mutex_lock(&q->mu);
	while (q->n == CSP_AUDIT_QUEUE_MAX && !q->stop)
		pthread_cond_wait(&q->room, &q->mu); /* never dropped: wait for the disk */
	if (q->stop) {
		pthread_mutex_unlock(&q->mu);
		return -ESHUTDOWN;
	}
	struct qrec *s = &q->v[(q->head + q->n) % CSP_AUDIT_QUEUE_MAX];
	s->r = *r;
	if (r->lea) {
		snprintf(s->lea, sizeof s->lea, "%s", r->lea);
		s->r.lea = s->lea;
	}
	if (r->object) {
		snprintf(s->object, sizeof s->object, "%s", r->object);
		s->r.object = s->object;
	}
	if (r->range) {
		snprintf(s->range, sizeof s->range, "%s", r->range);
		s->r.range = s->range;
	}
	q->n++;
	q->put++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void csp_audit_queue_flush(struct csp_audit_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	uint64_t target = q->put;
	while (q->written + q->failed < target)
		pthread_cond_wait(&q->room, &q->mu);
	pthread_mutex_unlock(&q->mu);
}

void csp_audit_queue_stats(struct csp_audit_queue *q, uint64_t *written, uint64_t *failed)
{
	uint64_t w = 0, f = 0;
	if (q) {
		pthread_mutex_lock(&q->mu);
		w = q->written;
		f = q->failed;
		pthread_mutex_unlock(&q->mu);
	}
	if (written)
		*written = w;
	if (failed)
		*failed = f;
}

void csp_audit_queue_free(struct csp_audit_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true; /* the writer empties the queue first */
	pthread_cond_broadcast(&q->work);
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->th, NULL);
	pthread_cond_destroy(&q->room);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
