/* li707 common - a file sink that computes SHA-256 and writes on a thread of its own
 * (hashsink.h).
 *
 * DESIGN
 * - A ring of LX_HASHSINK_BLOCKS blocks. The caller fills block `fill`; a full block is
 *   queued when the next byte arrives (so an object of at most one block never queues
 *   anything and finish() handles it inline, without a thread). The worker takes the
 *   queued blocks in order (`next`, `queued` of them), hashes and writes each, and only then
 *   gives it back: the caller waits while every block is queued.
 * - Every LX_HASHSINK_WRITEBACK bytes written, the worker asks the kernel to start
 *   writing them back (sync_file_range WRITE, a hint: its errors are left to the fdatasync
 *   at the end, which reports any I/O error of the file).
 * - The first write error is kept in `err`; the worker then drains the queue without
 *   writing (the caller is never left waiting) and every later call returns the error.
 * - free() without finish() is an abort: the worker stops after the block in hand. */
#include "hashsink.h"

#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lx_hashsink {
	int fd;
	EVP_MD_CTX *md;
	char *buf[LX_HASHSINK_BLOCKS];
	size_t len[LX_HASHSINK_BLOCKS];
	unsigned fill;   /* the caller's block */
	unsigned next;   /* the worker's next block */
	unsigned queued; /* blocks from next on waiting for or in the worker */
	bool started, joined, eof, stop, finished;
	int err;         /* first error, negative errno (under mu once started) */
	int perr;        /* the error the caller was given (the caller's own copy) */
	uint64_t bytes;  /* accepted from the caller */
	uint64_t written, wb_from;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t work, room;
};

/* Hashes and writes one block; starts writeback of what is written since the last start.
 * Touches only the block, md, fd and the writeback counters: no lock needed. */
static int consume(struct lx_hashsink *s, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (EVP_DigestUpdate(s->md, p, n) != 1)
		return -EIO;
	int rc = lx_write_all(s->fd, p, n);
	if (rc)
		return rc;
	s->written += n;
	if (s->written - s->wb_from >= LX_HASHSINK_WRITEBACK) {
		(void)sync_file_range(s->fd, (off_t)s->wb_from, (off_t)(s->written - s->wb_from),
				      SYNC_FILE_RANGE_WRITE);
		s->wb_from = s->written;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct lx_hashsink *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->queued == 0 && !s->eof && !s->stop)
			pthread_cond_wait(&s->work, &s->mu);
		if (s->stop || s->queued == 0)
			break;
		unsigned b = s->next;
		bool skip = s->err != 0;
		pthread_mutex_unlock(&s->mu);
		int rc = skip ? 0 : consume(s, s->buf[b], s->len[b]);
		pthread_mutex_lock(&s->mu);
		if (rc && !s->err)
			s->err = rc;
		s->len[b] = 0;
		s->next = (s->next + 1) % LX_HASHSINK_BLOCKS;
		s->queued--;
		pthread_cond_signal(&s->room);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int lx_hashsink_new(int fd, struct lx_hashsink **out)
{
	struct lx_hashsink *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->md = EVP_MD_CTX_new();
	bool ok = s->md && EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) == 1;
	for (unsigned i = 0; ok && i < LX_HASHSINK_BLOCKS; i++)
		ok = (s->buf[i] = malloc(LX_HASHSINK_BLOCK)) != NULL;
	bool sync_ok = ok && pthread_mutex_init(&s->mu, NULL) == 0;
	if (sync_ok && pthread_cond_init(&s->work, NULL) != 0) {
		pthread_mutex_destroy(&s->mu);
		sync_ok = false;
	}
	if (sync_ok && pthread_cond_init(&s->room, NULL) != 0) {
		pthread_cond_destroy(&s->work);
		pthread_mutex_destroy(&s->mu);
		sync_ok = false;
	}
	if (!sync_ok) {
		for (unsigned i = 0; i < LX_HASHSINK_BLOCKS; i++)
			free(s->buf[i]);
		EVP_MD_CTX_free(s->md);
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

/* Queues the caller's full block and takes the next free one (starting the worker the
 * first time). Returns the kept error, if any. */
static int rotate(struct lx_hashsink *s)
{
	pthread_mutex_lock(&s->mu);
	if (!s->started) {
		if (pthread_create(&s->th, NULL, worker, s) != 0) {
			pthread_mutex_unlock(&s->mu);
			/* No thread: do it in the caller's thread. */
			int rc = consume(s, s->buf[s->fill], s->len[s->fill]);
			s->len[s->fill] = 0;
			return rc;
		}
		s->started = true;
	}
	s->queued++;
	s->fill = (s->fill + 1) % LX_HASHSINK_BLOCKS;
	pthread_cond_signal(&s->work);
	while (s->queued == LX_HASHSINK_BLOCKS)
		pthread_cond_wait(&s->room, &s->mu);
	int rc = s->err;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int lx_hashsink_write(struct lx_hashsink *s, const void *data, size_t n)
{
	if (!s || (!data && n) || s->finished)
		return -EINVAL;
	if (s->perr)
		return s->perr;
	const char *p = data;
	while (n > 0) {
		size_t *len = &s->len[s->fill];
		if (*len == LX_HASHSINK_BLOCK) {
			int rc = rotate(s);
			if (rc) {
				s->perr = rc;
				return rc;
			}
			continue;
		}
		size_t k = LX_HASHSINK_BLOCK - *len < n ? LX_HASHSINK_BLOCK - *len : n;
		memcpy(s->buf[s->fill] + *len, p, k);
		*len += k;
		p += k;
		n -= k;
		s->bytes += k;
	}
	return 0;
}

/* Waits for the worker to end (after the queue, or at once when stop is set). */
static void join(struct lx_hashsink *s, bool stop)
{
	if (!s->started || s->joined)
		return;
	pthread_mutex_lock(&s->mu);
	s->eof = true;
	s->stop = stop;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	s->joined = true;
}

int lx_hashsink_finish(struct lx_hashsink *s, unsigned char sha256[32], uint64_t *bytes)
{
	if (!s || !sha256 || !bytes || s->finished)
		return -EINVAL;
	s->finished = true;
	int rc = s->perr;
	if (!rc && s->started) {
		/* The last block goes through the worker too, so blocks stay in order. */
		pthread_mutex_lock(&s->mu);
		if (s->len[s->fill])
			s->queued++; /* never queued before: at most BLOCKS - 1 were */
		pthread_mutex_unlock(&s->mu);
		join(s, false);
		rc = s->err;
	} else if (!rc) {
		rc = consume(s, s->buf[s->fill], s->len[s->fill]); /* no worker: nothing else ran */
	}
	unsigned dl = 0;
	if (!rc && (EVP_DigestFinal_ex(s->md, sha256, &dl) != 1 || dl != 32))
		rc = -EIO;
	if (!rc && fdatasync(s->fd) != 0)
		rc = -errno;
	if (!rc)
		*bytes = s->bytes;
	return rc;
}

void lx_hashsink_free(struct lx_hashsink *s)
{
	if (!s)
		return;
	join(s, true);
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->mu);
	for (unsigned i = 0; i < LX_HASHSINK_BLOCKS; i++)
		free(s->buf[i]);
	EVP_MD_CTX_free(s->md);
	free(s);
}
