/* li707 common - retrieval of one binary object by HTTP Range requests (fetch.h): TS 103 707
 * Annex C.2 (Model A), C.4 (Model C) and Annex E; R-BIN-C1, R-BIN-C2.
 *
 * DESIGN
 * The engine works in rounds. A round plans the requests (the first gaps of the state, one
 * range each, of the current range size; several only once the object's size and validator
 * are known), submits them on the caller's client (one reused connection per range in
 * flight), runs them to the end, and then records what came: every byte received is kept,
 * also from a range that failed half-way. A round with a transient failure shrinks the range
 * size (16 MiB after an open-ended request, then half, not below 64 KiB) and waits a little
 * longer each time; a round without one doubles it up to chunk_max, or without chunk_max up
 * to 1 GiB and then open-ended again (Annex E).
 *
 * Every request after the first carries If-Range with the validator, so a changed object is
 * never spliced: the server then answers 200 with the whole new object, which replaces the
 * file's content when it is the only request in flight; with several in flight the round is
 * dropped and the next one starts the new object. A 206 that does not start where asked, or
 * whose validator or size differs from the state's, is refused before any byte is written.
 *
 * Speed (docs/internals/http_client.md, bench/bench_client.sh): every body piece libcurl
 * hands over (one TLS record, 16 KiB) is written at once. Gathering 1 MiB per write, and
 * starting the writeback during the transfer (sync_file_range), were both measured for
 * `li707 fetch` (one fsync at the end): faster on an idle disk, much slower on a busy one (a
 * long write stalls the socket; appends then wait for ext4 journal commits that carry our own
 * data), so neither is done by default. A caller with `verified` pays an fdatasync per round
 * while the connection waits; it may set opts->writeback (li707-lea does) so that little is
 * left for it. */
#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "fdio.h"
#include "li707/error.h"
#include "li707/util.h"

/* ---- the state ---- */

void lx_fetch_state_init(struct lx_fetch_state *s, int64_t chunk_max)
{
	memset(s, 0, sizeof *s);
	s->total = -1;
	s->chunk = chunk_max;
}

bool lx_fetch_state_add(struct lx_fetch_state *s, int64_t start, int64_t end)
{
	if (end <= start)
		return true;
	size_t i = 0;
	while (i < s->n_held && s->held[i].end < start)
		i++;
	size_t j = i;
	int64_t a = start, b = end;
	for (; j < s->n_held && s->held[j].start <= end; j++) {
		if (s->held[j].start < a)
			a = s->held[j].start;
		if (s->held[j].end > b)
			b = s->held[j].end;
	}
	if (j == i) {
		if (s->n_held >= LX_FETCH_RANGES_MAX)
			return false;
		memmove(&s->held[i + 1], &s->held[i], (s->n_held - i) * sizeof s->held[0]);
		s->n_held++;
	} else if (j > i + 1) {
		memmove(&s->held[i + 1], &s->held[j], (s->n_held - j) * sizeof s->held[0]);
		s->n_held -= j - i - 1;
	}
	s->held[i].start = a;
	s->held[i].end = b;
	return true;
}

int64_t lx_fetch_state_held(const struct lx_fetch_state *s)
{
	int64_t n = 0;
	for (size_t i = 0; i < s->n_held; i++)
		n += s->held[i].end - s->held[i].start;
	return n;
}

bool lx_fetch_state_complete(const struct lx_fetch_state *s)
{
	if (s->total < 0)
		return false;
	return s->total == 0 ||
	       (s->n_held > 0 && s->held[0].start == 0 && s->held[0].end >= s->total);
}

/* A new object: nothing held, size and validator unknown. */
static void state_forget(struct lx_fetch_state *s)
{
	s->n_held = 0;
	s->total = -1;
	s->etag[0] = '\0';
}

/* ---- one round ---- */

struct run;

struct slot {
	struct run *run;
	int64_t start;   /* first byte asked for (0 once a 200 replaced the object) */
	int64_t end;     /* one past the last, -1: open-ended */
	int64_t wpos;    /* bytes written from this response */
	int64_t wb;      /* of them, handed to the writeback (opts writeback) */
	struct lx_http_transfer req;
	struct lx_http_result res;
};

struct run {
	const struct lx_fetch_opts *o;
	struct lx_fetch_state *s;
	struct slot slot[LX_FETCH_PARALLEL_MAX];
	unsigned n;
	bool changed;    /* the object changed under a round of several ranges */
	int fail;        /* a local failure or a callback's code: the round stops */
	char *err;
	size_t errlen;
};

static bool cancelled(const struct run *r)
{
	return r->o->cancel && *r->o->cancel;
}

static void report_progress(struct run *r)
{
	if (!r->o->progress)
		return;
	int64_t have = lx_fetch_state_held(r->s);
	for (unsigned i = 0; i < r->n; i++)
		have += r->slot[i].wpos;
	r->o->progress(r->o->ud, have, r->s->total);
}

/* The response's first bytes: is it what was asked for, and is it a new object? */
static bool response_accept(struct slot *sl, struct lx_http_result *res)
{
	struct run *r = sl->run;
	struct lx_fetch_state *s = r->s;
	bool fresh = false;
	if (res->status == 206) {
		if (res->range_start != sl->start)
			return false; /* not the range asked for */
		if ((s->total >= 0 && res->range_total >= 0 && res->range_total != s->total) ||
		    (s->etag[0] && res->etag[0] && strcmp(res->etag, s->etag) != 0)) {
			r->changed = true; /* a validator that If-Range should have caught */
			return false;
		}
		if (s->total < 0 && res->range_total >= 0) {
			s->total = res->range_total;
			fresh = true;
		}
	} else if (res->status == 200) {
		/* Range ignored or If-Range did not match: the whole (maybe new) object. */
		if (r->n > 1) {
			r->changed = true;
			return false;
		}
		if (ftruncate(r->o->fd, 0) != 0) {
			r->fail = -errno;
			lx_errf(r->err, r->errlen, "cannot truncate the data file: %s",
				    strerror(errno));
			return false;
		}
		state_forget(s);
		s->total = res->content_length;
		sl->start = 0;
		fresh = true;
	} else {
		return false;
	}
	if (res->content_type[0])
		memcpy(s->content_type, res->content_type, sizeof s->content_type);
	/* The first strong validator is kept before any byte lands, so that an interrupted
	 * transfer resumes with If-Range. */
	if (!s->etag[0] && res->etag[0] == '"' && strlen(res->etag) < sizeof s->etag) {
		memcpy(s->etag, res->etag, strlen(res->etag) + 1);
		fresh = true;
	}
	if (fresh && r->o->validator) {
		int rc = r->o->validator(r->o->ud, s);
		if (rc) {
			r->fail = rc;
			lx_errf(r->err, r->errlen, "cannot record the object's validator: %s",
				    li707_strerror(rc));
			return false;
		}
	}
	return true;
}

/* The body of one response: checked against the request before anything is written. */
static size_t sink(void *ud, struct lx_http_result *res, const char *p, size_t n)
{
	struct slot *sl = ud;
	struct run *r = sl->run;
	if (cancelled(r) || r->fail || r->changed)
		return 0;
	if (sl->wpos == 0 && res->received == 0 && !response_accept(sl, res))
		return 0;
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(r->o->fd, p + done, n - done, (off_t)(sl->start + sl->wpos));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r->fail = w < 0 ? -errno : -EIO;
			lx_errf(r->err, r->errlen, "cannot write the data file: %s",
				    li707_strerror(r->fail));
			return 0;
		}
		done += (size_t)w;
		sl->wpos += w;
	}
	if (r->o->data)
		r->o->data(r->o->ud, sl->start + sl->wpos - (int64_t)n, p, n);
	if (r->o->writeback > 0 && sl->wpos - sl->wb >= r->o->writeback) {
		/* a hint: an I/O error is reported by the fdatasync of the round */
		(void)sync_file_range(r->o->fd, (off_t)(sl->start + sl->wb), (off_t)(sl->wpos - sl->wb),
				      SYNC_FILE_RANGE_WRITE);
		sl->wb = sl->wpos;
	}
	report_progress(r);
	return n;
}

/* The requests of the next round: the first gaps of the state, one range of the current
 * size each; several only once the size and validator are known (parallel). */
static void plan(struct run *r)
{
	const struct lx_fetch_state *s = r->s;
	unsigned max = r->o->parallel > 1 && s->total >= 0 && s->etag[0] ? r->o->parallel : 1;
	if (max > LX_FETCH_PARALLEL_MAX)
		max = LX_FETCH_PARALLEL_MAX;
	int64_t size = s->chunk;
	if (size == 0 && max > 1) /* open-ended ranges cannot run side by side */
		size = r->o->chunk_max ? r->o->chunk_max : LX_FETCH_CHUNK_DEFAULT;
	r->n = 0;
	int64_t pos = 0;
	for (size_t h = 0; h <= s->n_held && r->n < max; h++) {
		int64_t gap_end = h < s->n_held ? s->held[h].start : s->total; /* -1: unknown */
		while (r->n < max && (gap_end < 0 || pos < gap_end)) {
			int64_t end = size ? pos + size : -1;
			if (gap_end >= 0 && (end < 0 || end > gap_end))
				end = gap_end;
			struct slot *sl = &r->slot[r->n++];
			memset(sl, 0, sizeof *sl);
			sl->run = r;
			sl->start = pos;
			sl->end = end;
			if (end < 0)
				break;
			pos = end;
		}
		if (r->n && r->slot[r->n - 1].end < 0)
			break;
		if (h < s->n_held)
			pos = s->held[h].end;
	}
}

static bool transient(const struct lx_http_result *r)
{
	switch (r->err) {
	case LX_HTTP_ERESET:
	case LX_HTTP_ETIMEOUT:
	case LX_HTTP_ECONNECT:
		return true;
	case LX_HTTP_ESTATUS:
		return r->status >= 500 || r->status == 408 || r->status == 429;
	default:
		return false;
	}
}

/* TS103707 R-BIN-C2 (Annex E): the range size after a success - doubled, up to chunk_max;
 * without chunk_max up to LX_FETCH_CHUNK_MAX, and beyond that open-ended again. */
static void grow(struct lx_fetch_state *s, int64_t chunk_max)
{
	if (s->chunk == 0)
		return;
	int64_t cap = chunk_max ? chunk_max : LX_FETCH_CHUNK_MAX;
	if (s->chunk >= cap)
		s->chunk = chunk_max ? chunk_max : 0;
	else
		s->chunk = s->chunk * 2 < cap ? s->chunk * 2 : cap;
}

/* ... and after a failure: LX_FETCH_CHUNK_DEFAULT (or chunk_max if smaller) after an
 * open-ended request, else half, not below LX_FETCH_CHUNK_MIN. */
static void shrink(struct lx_fetch_state *s, int64_t chunk_max)
{
	if (s->chunk == 0)
		s->chunk = chunk_max && chunk_max < LX_FETCH_CHUNK_DEFAULT ? chunk_max
									: LX_FETCH_CHUNK_DEFAULT;
	else
		s->chunk = s->chunk / 2 > LX_FETCH_CHUNK_MIN ? s->chunk / 2 : LX_FETCH_CHUNK_MIN;
}

static int transport_failure(struct run *r, const struct lx_http_result *res)
{
	lx_errf(r->err, r->errlen, "transport failure (%s): %s%s%s", lx_http_errname(res->err),
		    lx_http_strerror(res->err), res->detail[0] ? ": " : "", res->detail);
	return lx_http_err_code(res->err);
}

/* A new object replaces the file's content. */
static int restart(struct run *r)
{
	if (ftruncate(r->o->fd, 0) != 0) {
		int rc = -errno;
		lx_errf(r->err, r->errlen, "cannot truncate the data file: %s", strerror(-rc));
		return rc;
	}
	state_forget(r->s);
	return 0;
}

enum outcome { ROUND_OK, ROUND_TRANSIENT, ROUND_AGAIN };

/* What one finished response means. Returns 0 or a code that ends the run; *out says how the
 * round went for this range. */
static int settle(struct run *r, struct slot *sl, enum outcome *out)
{
	struct lx_fetch_state *s = r->s;
	struct lx_http_result *res = &sl->res;
	*out = ROUND_OK;
	if (res->err == LX_HTTP_ESTATUS && res->status == 416 && res->range_total >= 0) {
		int64_t top = s->n_held ? s->held[s->n_held - 1].end : 0;
		if (top > res->range_total) { /* a stale, longer file: start again */
			*out = ROUND_AGAIN;
			return restart(r);
		}
		s->total = res->range_total;
		if (lx_fetch_state_complete(s)) {
			*out = ROUND_AGAIN;
			return 0;
		}
		lx_errf(r->err, r->errlen, "the server refused the range (HTTP 416)");
		return -EPROTO;
	}
	if (res->err == LX_HTTP_OK && res->status == 206 && s->total < 0)
		s->total = res->range_total;
	if (res->err == LX_HTTP_OK && res->status == 200) {
		if (res->content_length >= 0 && sl->wpos != res->content_length) {
			res->err = LX_HTTP_ERESET;
			snprintf(res->detail, sizeof res->detail, "short response");
		} else {
			s->total = sl->wpos;
		}
	}
	if (res->err == LX_HTTP_OK)
		return 0;
	if (!transient(res))
		return transport_failure(r, res);
	*out = ROUND_TRANSIENT;
	return 0;
}

static void sleep_ms(const struct run *r, long ms)
{
	for (; ms > 0 && !cancelled(r); ms -= 50) {
		struct timespec ts = {0, (ms < 50 ? ms : 50) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* One round: plan, run, record. Returns 0 or a code that ends the run; *failed: a range
 * failed in a way worth another try. */
static int round_run(struct lx_http_client *cl, struct run *r, bool *failed,
		     struct lx_http_result *last)
{
	static const long ok_status[] = {200, 206, 0};
	struct lx_fetch_state *s = r->s;
	*failed = false;
	plan(r);
	unsigned submitted = 0;
	int rc = 0;
	for (unsigned i = 0; i < r->n && !rc; i++) {
		struct slot *sl = &r->slot[i];
		lx_http_transfer_init(&sl->req);
		sl->req.url = r->o->url;
		sl->req.range_start = sl->start; /* TS103707 R-BIN-C1: Range requests */
		sl->req.range_end = sl->end < 0 ? -1 : sl->end - 1; /* -1: open-ended */
		sl->req.if_range = s->etag[0] ? s->etag : NULL;
		sl->req.sink = sink;
		sl->req.sink_ud = sl;
		sl->req.ok_status = ok_status;
		sl->req.size_hint = sl->end < 0 ? -1 : sl->end - sl->start;
		rc = lx_http_submit(cl, &sl->req, &sl->res);
		if (!rc)
			submitted++;
	}
	if (submitted) {
		int left = lx_http_run(cl, -1);
		if (left < 0 && !rc)
			rc = left;
	}
	if (rc) {
		lx_errf(r->err, r->errlen, "HTTP client: %s", li707_strerror(rc));
		r->n = submitted;
	}
	/* The ranges received, also from responses that failed half-way. */
	struct lx_fetch_range got[LX_FETCH_PARALLEL_MAX];
	unsigned n_got = 0;
	if (!r->changed && !r->fail) {
		for (unsigned i = 0; i < submitted; i++)
			if (r->slot[i].wpos > 0 &&
			    lx_fetch_state_add(s, r->slot[i].start,
						  r->slot[i].start + r->slot[i].wpos))
				got[n_got++] = (struct lx_fetch_range){
					r->slot[i].start, r->slot[i].start + r->slot[i].wpos};
	}
	bool stop = cancelled(r);
	for (unsigned i = 0; i < submitted && !rc && !r->fail && !stop; i++) {
		enum outcome out;
		rc = r->changed ? 0 : settle(r, &r->slot[i], &out);
		if (!rc && !r->changed && out == ROUND_TRANSIENT) {
			*failed = true;
			lx_http_result_done(last);
			*last = r->slot[i].res;
			last->body = NULL; /* a sink transfer has none; never freed twice */
		}
	}
	for (unsigned i = 0; i < submitted; i++)
		lx_http_result_done(&r->slot[i].res);
	if (!rc && r->fail)
		rc = r->fail;
	if (!rc && cancelled(r)) {
		lx_errf(r->err, r->errlen, "cancelled");
		rc = -ECANCELED;
	}
	if (!rc && r->changed) {
		rc = restart(r);
		*failed = false;
		return rc;
	}
	if (n_got && r->o->verified && (!rc || rc == -ECANCELED)) {
		if (fdatasync(r->o->fd) != 0) {
			int e = -errno;
			lx_errf(r->err, r->errlen, "cannot sync the data file: %s", strerror(-e));
			return e;
		}
		for (unsigned i = 0; i < n_got; i++) {
			int v = r->o->verified(r->o->ud, s, got[i].start, got[i].end);
			if (v) {
				lx_errf(r->err, r->errlen, "cannot record a received range: %s",
					    li707_strerror(v));
				return v;
			}
		}
	}
	return rc;
}

int lx_fetch_run(struct lx_http_client *cl, const struct lx_fetch_opts *o,
		    struct lx_fetch_state *s, char *err, size_t errlen)
{
	if (!cl || !o || !o->url || o->fd < 0 || !s || o->chunk_max < 0)
		return LI707_EINVAL;
	struct run *r = calloc(1, sizeof *r);
	if (!r)
		return LI707_ENOMEM;
	r->o = o;
	r->s = s;
	r->err = err;
	r->errlen = errlen;
	unsigned max_failures = o->max_failures ? o->max_failures : LX_FETCH_FAILURES_DEFAULT;
	unsigned failures = 0;
	struct lx_http_result last = {0};
	int rc = 0;
	for (;;) {
		if (cancelled(r)) {
			lx_errf(err, errlen, "cancelled");
			rc = -ECANCELED;
			break;
		}
		if (lx_fetch_state_complete(s))
			break;
		bool failed;
		r->changed = false;
		r->fail = 0;
		rc = round_run(cl, r, &failed, &last);
		if (rc)
			break;
		if (!failed) {
			failures = 0;
			grow(s, o->chunk_max); /* TS103707 R-BIN-C2 (Annex E): grow back after success. */
			continue;
		}
		if (++failures > max_failures) {
			rc = transport_failure(r, &last);
			break;
		}
		shrink(s, o->chunk_max); /* TS103707 R-BIN-C2 (Annex E): a smaller range after a failure. */
		sleep_ms(r, 100L * failures);
	}
	lx_http_result_done(&last);
	free(r);
	return rc;
}

int lx_fetch_check_sha256(const char *path, const char *hex, char got_hex[65])
{
	if (!path || !hex || !got_hex)
		return LI707_EINVAL;
	int rc = li707_sha256_file(path, got_hex, NULL);
	if (rc)
		return rc;
	return strcasecmp(got_hex, hex) == 0 ? 0 : LI707_EMISMATCH;
}

/* ---- the FILE.part convention ---- */

struct file_ctx {
	const struct lx_fetch_file_opts *o;
	char meta[4200];
};

/* The validator beside the part file, so that --resume can send If-Range. */
static int write_meta(void *ud, const struct lx_fetch_state *s)
{
	const struct file_ctx *f = ud;
	int fd = open(f->meta, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = lx_write_all(fd, s->etag, strlen(s->etag));
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

static void read_meta(const struct file_ctx *f, struct lx_fetch_state *s)
{
	int fd = open(f->meta, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, s->etag, sizeof s->etag - 1);
	close(fd);
	s->etag[n > 0 ? n : 0] = '\0';
	if (strpbrk(s->etag, "\r\n"))
		s->etag[0] = '\0';
}

static void file_progress(void *ud, int64_t have, int64_t total)
{
	const struct file_ctx *f = ud;
	f->o->progress(f->o->ud, have, total);
}

int lx_fetch_file(struct lx_http_client *cl, const struct lx_fetch_file_opts *o,
		     char *err, size_t errlen)
{
	if (!cl || !o || !o->url || !o->path || !*o->path)
		return LI707_EINVAL;
	if (strlen(o->path) > 4000) {
		lx_errf(err, errlen, "the output path is too long");
		return -ENAMETOOLONG;
	}
	struct file_ctx f = {.o = o};
	char part[4200];
	snprintf(part, sizeof part, "%s.part", o->path);
	snprintf(f.meta, sizeof f.meta, "%s.part.etag", o->path);
	int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | (o->resume ? 0 : O_TRUNC), 0600);
	if (fd < 0) {
		int rc = -errno;
		lx_errf(err, errlen, "%s: %s", part, strerror(-rc));
		return rc;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		lx_errf(err, errlen, "%s: not a regular file", part);
		close(fd);
		return -EINVAL;
	}
	struct lx_fetch_state s;
	lx_fetch_state_init(&s, o->chunk_max);
	if (o->resume) {
		lx_fetch_state_add(&s, 0, st.st_size);
		read_meta(&f, &s);
	} else {
		unlink(f.meta);
	}
	struct lx_fetch_opts ro = {
		.url = o->url,
		.fd = fd,
		.chunk_max = o->chunk_max,
		.parallel = o->parallel,
		.cancel = o->cancel,
		.ud = &f,
		.progress = o->progress ? file_progress : NULL,
		.validator = write_meta,
	};
	int rc = lx_fetch_run(cl, &ro, &s, err, errlen);
	if (!rc && fsync(fd) != 0) {
		rc = -errno;
		lx_errf(err, errlen, "%s: %s", part, strerror(-rc));
	}
	if (!rc && o->sha256) {
		char hex[65];
		rc = lx_fetch_check_sha256(part, o->sha256, hex);
		if (rc == LI707_EMISMATCH) {
			lx_errf(err, errlen, "SHA-256 mismatch (got %s); the data is removed", hex);
			unlink(part);
			unlink(f.meta);
		} else if (rc) {
			lx_errf(err, errlen, "%s: %s", part, li707_strerror(rc));
		}
	}
	if (!rc && rename(part, o->path) != 0) {
		rc = -errno;
		lx_errf(err, errlen, "%s: %s", o->path, strerror(-rc));
	}
	if (!rc) {
		unlink(f.meta);
		rc = lx_fsync_parent(o->path);
		if (rc)
			lx_errf(err, errlen, "cannot fsync the directory of %s: %s", o->path,
				    strerror(-rc));
	}
	/* Nothing received and nothing to resume: leave no empty part file behind. */
	if (rc && rc != LI707_EMISMATCH && s.n_held == 0 && fstat(fd, &st) == 0 && st.st_size == 0) {
		unlink(part);
		unlink(f.meta);
	}
	close(fd);
	return rc;
}
