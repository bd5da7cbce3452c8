/* li707-lea - Model A/C retrieval: the fetch workers (TS 103 707 Annex C.2, C.4, Annex E;
 * R-BIN-A1, R-BIN-A3, R-BIN-C1, R-BIN-C2, R-BIN-2).
 *
 * DESIGN (docs/internals/lea.md, "Retrieval")
 * - The queue is the store's (lea_store_fetch_queue): TO_FETCH and FETCHING attachments in
 *   order of operator priority, size (small first) and item time (recent first). Each of
 *   fetch_workers threads takes the first entry that no worker holds and whose peer has a
 *   connection free, fetches it on the shared engine (src/common/fetch.c, lx_fetch_run) into
 *   DIR/fetch/ID.part, verifies it, and records the outcome. Nothing is kept in memory that
 *   the store does not also have: a worker (or a node, Annex E) could take any entry.
 * - Per-peer connections (fetch_connections): every object uses one connection per range in
 *   flight; objects above model_c_above (or of unknown size) share at most
 *   fetch_connections - 1 of them, so a small object always finds one (R-BIN-2).
 * - The model (C.4: the LEA chooses): both agreed -> C above model_c_above, else A; one
 *   agreed -> that one. Recorded with the first update. Model A: one open-ended GET streamed
 *   to disk; Model C: ranges of fetch_range growing to fetch_range_max, fetch_parallel at
 *   once. Both resume from the verified ranges the store holds.
 * - Durability: the engine's verified callback runs after each range is written and
 *   fdatasync'd; it records the ranges in the store (a durable commit) before the next round,
 *   so a kill -9 never fetches a recorded range again. At start nothing is reset: FETCHING
 *   entries resume from their ranges (ranges beyond the part file's size are dropped).
 * - Speed: the engine starts the writeback every 8 MiB of a response, so each round's
 *   fdatasync (while the connection waits) has little left; the SHA-256 of the bytes in
 *   order from 0 is computed as they come (on_data), and finish reads only the rest.
 * - Verification: length and SHA-256 against the record. A mismatch is fetched once more
 *   from zero; a second one is MISMATCH, its data removed, never accepted.
 * - Expiry (R-BIN-A3): an entry not complete by its record's expiry becomes EXPIRED, its
 *   part file removed, with one log line without identifiers (R-SEC-6).
 * - Logs name the attachment id and the peer, never the url, reference or content.
 * - Stop (SIGTERM): the cancel flag stops each transfer at its next body piece; what came is
 *   recorded; the entry stays FETCHING. SIGHUP: each object is fetched under the
 *   configuration generation it started with; the next one sees the new rules. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fdio.h"
#include "fetch.h"
#include "http_client.h"
#include "lea.h"
#include "lea_log.h"
#include "lea_metrics.h"

#define QUEUE_LOOK 256 /* entries looked at per pick */
#define WRITEBACK ((int64_t)8 << 20) /* writeback started every 8 MiB of a response */
#define HASH_BUF ((size_t)1 << 20)   /* read buffer for the part of the hash done at the end */

struct slot {
	bool busy;
	int64_t id;
	char peer[128];
	char model;
	unsigned conns;
	bool large;
	int64_t have, total, have0;
	double t0;
};

struct lea_fetcher {
	struct lea_daemon *d;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	volatile sig_atomic_t stop;
	unsigned n;
	pthread_t *th;
	bool *started;
	struct slot *slots; /* one per worker, under mu */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- choosing ---- */

/* C.4: the LEA chooses the model for the type and size. */
char lea__fetch_model(const struct lea_peer *p, int64_t length)
{
	bool a = p->models & LEA_MODEL_A, c = p->models & LEA_MODEL_C;
	if (a && c)
		return length >= 0 && (uint64_t)length <= p->model_c_above ? 'A' : 'C';
	return c ? 'C' : 'A';
}

static bool is_large(const struct lea_peer *p, int64_t length)
{
	return length < 0 || (uint64_t)length > p->model_c_above;
}

/* R-BIN-2: connections an object of this size and model may take now, given what the
 * peer's objects use (all, and the large ones); 0: none free for it. Objects above
 * model_c_above (or of unknown size) share at most fetch_connections - 1. */
unsigned lea__fetch_conns(const struct lea_peer *p, char model, int64_t length, unsigned used,
			  unsigned used_large)
{
	if (used >= p->fetch_connections)
		return 0;
	unsigned free_n = p->fetch_connections - used;
	if (is_large(p, length) && p->fetch_connections > 1) {
		unsigned cap = p->fetch_connections - 1;
		if (used_large >= cap)
			return 0;
		if (free_n > cap - used_large)
			free_n = cap - used_large;
	}
	unsigned want = model == 'C' ? p->fetch_parallel : 1;
	return want < free_n ? want : free_n;
}

struct pick {
	struct lea_fetcher *f;
	const struct lea_config *cfg;
	struct lea_fetch_entry *out;
	unsigned conns;
	bool found;
};

/* Connections of peer in use (all, and by large objects). */
static void peer_use(const struct lea_fetcher *f, const char *peer, unsigned *all,
		     unsigned *large)
{
	*all = *large = 0;
	for (unsigned i = 0; i < f->n; i++)
		if (f->slots[i].busy && strcmp(f->slots[i].peer, peer) == 0) {
			*all += f->slots[i].conns;
			if (f->slots[i].large)
				*large += f->slots[i].conns;
		}
}

static int pick_one(void *cls, const struct lea_fetch_entry *e)
{
	struct pick *pk = cls;
	struct lea_fetcher *f = pk->f;
	for (unsigned i = 0; i < f->n; i++)
		if (f->slots[i].busy && f->slots[i].id == e->id)
			return 0;
	const struct lea_peer *p = lea_config_peer(pk->cfg, e->peer);
	if (!p || !(p->models & (LEA_MODEL_A | LEA_MODEL_C)))
		return 0; /* the peer is gone or no longer agrees A/C: left queued */
	unsigned all, large;
	peer_use(f, e->peer, &all, &large);
	char model = e->model == '?' ? lea__fetch_model(p, e->length) : e->model;
	pk->conns = lea__fetch_conns(p, model, e->length, all, large);
	if (!pk->conns)
		return 0;
	*pk->out = *e;
	pk->found = true;
	return 1; /* stop the walk */
}

/* ---- one object ---- */

struct job {
	struct lea_fetcher *f;
	struct slot *slot;
	const struct lea_peer *p;
	struct lea_fetch_entry *e;
	int64_t reported; /* bytes counted in the metrics */
	EVP_MD_CTX *md;   /* SHA-256 of the file's bytes [0, hashed) as they were written */
	int64_t hashed;
};

static int update(struct lea_fetcher *f, struct lea_fetch_update *u)
{
	u->now = (int64_t)time(NULL);
	return lea_store_fetch_update(f->d->store, u);
}

/* The ranges (and size, validator) as they are now; the entry is FETCHING from its first
 * response on. */
static int record(struct job *j, const struct lx_fetch_state *s)
{
	struct lea_fetch_update u = {.id = j->e->id, .what = LEA_FU_FS | LEA_FU_STATE, .fs = s,
				     .state = LEA_ATT_FETCHING};
	return update(j->f, &u);
}

static int on_validator(void *ud, const struct lx_fetch_state *s)
{
	return record(ud, s);
}

static int on_verified(void *ud, const struct lx_fetch_state *s, int64_t start, int64_t end)
{
	(void)start;
	(void)end;
	struct job *j = ud;
	lea_metrics_fetch_range(j->f->d->metrics, s->chunk);
	return record(j, s);
}

static void on_progress(void *ud, int64_t have, int64_t total)
{
	struct job *j = ud;
	pthread_mutex_lock(&j->f->mu);
	j->slot->have = have;
	j->slot->total = total;
	pthread_mutex_unlock(&j->f->mu);
	if (have > j->reported) {
		lea_metrics_fetch_bytes(j->f->d->metrics, (uint64_t)(have - j->reported));
		j->reported = have;
	} else if (have < j->reported) {
		j->reported = have; /* a 200 replaced the content */
	}
}

/* The bytes in order from 0 are hashed as they are written (a piece elsewhere is left to
 * finish, which reads the file from `hashed` on; a piece before it means the object was
 * replaced: start again). */
static void on_data(void *ud, int64_t off, const char *p, size_t n)
{
	struct job *j = ud;
	if (!j->md)
		return;
	if (off < j->hashed) {
		j->hashed = 0;
		if (EVP_DigestInit_ex(j->md, EVP_sha256(), NULL) != 1) {
			EVP_MD_CTX_free(j->md);
			j->md = NULL;
			return;
		}
	}
	if (off != j->hashed)
		return;
	if (EVP_DigestUpdate(j->md, p, n) != 1) {
		EVP_MD_CTX_free(j->md);
		j->md = NULL;
		return;
	}
	j->hashed += (int64_t)n;
}

/* SHA-256 (hex) and size of the complete part file: the hash of what on_data saw, continued
 * with the file's bytes from there (all of them when nothing was seen in order). */
static int part_sha256(struct job *j, int fd, const char *part, char sha[65], uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!j->md || j->hashed <= 0 || j->hashed > (int64_t)st.st_size)
		return li707_sha256_file(part, sha, size);
	char *buf = malloc(HASH_BUF);
	if (!buf)
		return LI707_ENOMEM;
	int rc = 0;
	off_t pos = (off_t)j->hashed;
	for (;;) {
		ssize_t n = pread(fd, buf, HASH_BUF, pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(j->md, buf, (size_t)n) != 1) {
			rc = LI707_ECRYPTO;
			break;
		}
		pos += n;
	}
	free(buf);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!rc && (EVP_DigestFinal_ex(j->md, md, &mdlen) != 1 || mdlen != 32))
		rc = LI707_ECRYPTO;
	if (rc)
		return rc;
	for (unsigned i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
	*size = (uint64_t)pos;
	return 0;
}

static bool expired(const struct lea_fetch_entry *e, int64_t now)
{
	struct li707_time t;
	if (!e->expiry[0] || (!li707_parse_qualified_datetime(e->expiry, &t) &&
			      !li707_parse_qualified_usec_datetime(e->expiry, &t)))
		return false;
	return t.epoch <= now;
}

static void path_of(const struct lea_fetcher *f, const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", lea_store_dir(f->d->store), rel);
}

/* R-BIN-A3: past its expiry and not complete: EXPIRED, data removed, one line without
 * identifiers (R-SEC-6). */
static void expire(struct lea_fetcher *f, const struct lea_fetch_entry *e, const char *part)
{
	struct lea_fetch_update u = {.id = e->id, .what = LEA_FU_STATE | LEA_FU_RETRY,
				     .state = LEA_ATT_EXPIRED,
				     .from_states = 1u << LEA_ATT_TO_FETCH | 1u << LEA_ATT_FETCHING,
				     .error = "expired before it was complete"};
	if (update(f, &u) == 0) {
		unlink(part);
		lea_metrics_fetch_outcome(f->d->metrics, "expired");
		lea_warn("a Model A/C object expired before it was complete (R-BIN-A3)");
	}
}

/* A failed attempt: queued again after the backoff (doubled per attempt, capped). */
static void failed(struct job *j, const struct lx_fetch_state *fs, int rc, const char *why)
{
	struct lea_fetcher *f = j->f;
	const struct lea_peer *p = j->p;
	unsigned attempts = j->e->attempts + 1;
	uint64_t wait = p->fetch_backoff_s;
	for (unsigned i = 1; i < attempts && wait < p->fetch_backoff_max_s; i++)
		wait *= 2;
	if (wait > p->fetch_backoff_max_s)
		wait = p->fetch_backoff_max_s;
	char err[256];
	snprintf(err, sizeof err, "%s", why[0] ? why : li707_strerror(rc));
	struct lea_fetch_update u = {
		.id = j->e->id, .what = LEA_FU_STATE | LEA_FU_RETRY | LEA_FU_FS,
		.state = lx_fetch_state_held(fs) > 0 ? LEA_ATT_FETCHING : LEA_ATT_TO_FETCH,
		.fs = fs, .attempts = attempts, .mismatches = j->e->mismatches,
		.next_try = (int64_t)time(NULL) + (int64_t)wait, .error = err};
	int urc = update(f, &u);
	lea_metrics_fetch_outcome(f->d->metrics, "failed");
	lea_metrics_fetch_retry(f->d->metrics);
	lea_warn("fetch id=%lld peer=%s: attempt %u failed: %s; next in %llu s%s",
		 (long long)j->e->id, j->e->peer, attempts, err, (unsigned long long)wait,
		 urc ? " (not recorded: store error)" : "");
}

/* The object is complete in part (fd): length and SHA-256 against the record. */
static void finish(struct job *j, int fd, const char *part, struct lx_fetch_state *fs)
{
	struct lea_fetcher *f = j->f;
	struct lea_fetch_entry *e = j->e;
	char sha[65] = "";
	uint64_t size = 0;
	int rc = fdatasync(fd) ? -errno : part_sha256(j, fd, part, sha, &size);
	if (rc) {
		failed(j, fs, rc, "cannot read back the data");
		return;
	}
	bool ok = (e->length < 0 || (uint64_t)e->length == size) &&
		  (!e->checksum[0] || strcmp(e->checksum, sha) == 0);
	if (!ok && e->mismatches == 0) {
		/* once more from zero */
		struct lx_fetch_state z;
		lx_fetch_state_init(&z, fs->chunk);
		if (ftruncate(fd, 0) != 0) {
			failed(j, fs, -errno, "cannot truncate the data file");
			return;
		}
		struct lea_fetch_update u = {.id = e->id, .what = LEA_FU_STATE | LEA_FU_RETRY | LEA_FU_FS,
					     .state = LEA_ATT_TO_FETCH, .fs = &z, .mismatches = 1,
					     .error = "length or SHA-256 differ from the record"};
		update(f, &u);
		lea_metrics_fetch_retry(f->d->metrics);
		lea_warn("fetch id=%lld peer=%s: length or SHA-256 differ from the record; "
			 "fetching it once more from zero", (long long)e->id, e->peer);
		return;
	}
	char served[256];
	snprintf(served, sizeof served, "%s", fs->content_type);
	if (!ok) {
		struct lea_fetch_update u = {.id = e->id,
					     .what = LEA_FU_STATE | LEA_FU_RETRY | LEA_FU_DONE,
					     .state = LEA_ATT_MISMATCH, .mismatches = e->mismatches + 1,
					     .error = "length or SHA-256 differ from the record",
					     .bytes = size, .sha256 = sha, .served_type = served};
		if (update(f, &u) == 0)
			unlink(part); /* never accepted */
		lea_metrics_fetch_outcome(f->d->metrics, "mismatch");
		lea_warn("fetch id=%lld peer=%s: mismatch again (length or SHA-256 differ from the "
			 "record): marked mismatch, data not kept", (long long)e->id, e->peer);
		return;
	}
	char rel[64], dst[4200], ddir[4200];
	lea_store_fetch_dest(e->id, rel, sizeof rel);
	path_of(f, rel, dst, sizeof dst);
	snprintf(ddir, sizeof ddir, "%s/%.10s", lea_store_dir(f->d->store), rel);
	if (rename(part, dst) != 0 || lx_fsync_dir(ddir) != 0) {
		rc = -errno;
		rename(dst, part);
		failed(j, fs, rc, "cannot move the data into place");
		return;
	}
	struct lea_fetch_update u = {.id = e->id, .what = LEA_FU_STATE | LEA_FU_RETRY | LEA_FU_DONE,
				     .state = LEA_ATT_COMPLETE, .mismatches = e->mismatches,
				     .bytes = size, .sha256 = sha, .file = rel,
				     .served_type = served};
	if ((rc = update(f, &u)) != 0) {
		rename(dst, part);
		failed(j, fs, rc, "cannot record the outcome");
		return;
	}
	lea_metrics_fetch_outcome(f->d->metrics, "complete");
	double secs = now_s() - j->slot->t0;
	lea_info("fetch id=%lld peer=%s model=%c complete bytes=%llu s=%.1f", (long long)e->id,
		 e->peer, e->model, (unsigned long long)size, secs);
}

/* Drops ranges the part file does not hold (a file cut short behind our back). */
static void trim_to_file(struct lx_fetch_state *fs, int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return;
	int64_t size = (int64_t)st.st_size;
	size_t o = 0;
	for (size_t i = 0; i < fs->n_held; i++) {
		if (fs->held[i].start >= size)
			continue;
		fs->held[o] = fs->held[i];
		if (fs->held[o].end > size)
			fs->held[o].end = size;
		o++;
	}
	fs->n_held = o;
}

static int client_new(const struct lea_config *c, const struct lea_peer *p, unsigned conns,
		      struct lx_http_client **out, char *err, size_t errlen)
{
	struct lx_http_client_opts o = {
		.tls = &c->policy,
		.ca_file = p->fetch_ca,
		.max_host_connections = conns,
		.connect_timeout_ms = 30000,
		.low_speed_limit = 1,
		.low_speed_time = 60,
	};
	if (p->psk_identity && p->psk) { /* R-BIN-A1: as the delivery's: this peer's PSK */
		o.psk_identity = p->psk_identity;
		o.psk = p->psk;
		o.psk_len = p->psk_len;
	} else {
		o.cert_file = c->client_cert;
		o.key_file = c->client_key;
	}
	return lx_http_client_new(&o, out, err, errlen);
}

static void fetch_one(struct lea_fetcher *f, struct slot *sl, const struct lea_config *c,
		      const struct lea_peer *p, struct lea_fetch_entry *e)
{
	char rel[64], part[4200];
	lea_store_fetch_part(e->id, rel, sizeof rel);
	path_of(f, rel, part, sizeof part);
	if (expired(e, (int64_t)time(NULL))) {
		expire(f, e, part);
		return;
	}
	struct job j = {.f = f, .slot = sl, .p = p, .e = e};
	if (e->model == '?') { /* C.4: recorded once; the state moves with the first byte */
		char m = lea__fetch_model(p, e->length);
		struct lea_fetch_update u = {.id = e->id, .what = LEA_FU_MODEL, .model = m,
					     .from_states = 1u << LEA_ATT_TO_FETCH |
							    1u << LEA_ATT_FETCHING};
		int rc = update(f, &u);
		if (rc) {
			lea_warn("fetch id=%lld: cannot record its model: %s", (long long)e->id,
				 li707_strerror(rc));
			return;
		}
		e->model = m;
		pthread_mutex_lock(&f->mu);
		sl->model = m;
		pthread_mutex_unlock(&f->mu);
	}
	int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		failed(&j, &e->fs, -errno, "cannot open the part file");
		return;
	}
	struct lx_fetch_state *fs = &e->fs;
	trim_to_file(fs, fd);
	if (e->model == 'C' && fs->chunk == 0)
		fs->chunk = (int64_t)p->fetch_range;
	if (e->model == 'A')
		fs->chunk = 0; /* one open-ended GET */
	struct lx_http_client *cl = NULL;
	char err[512] = "";
	int rc = client_new(c, p, sl->conns, &cl, err, sizeof err);
	if (rc) {
		close(fd);
		failed(&j, fs, rc, err);
		return;
	}
	j.reported = lx_fetch_state_held(fs);
	pthread_mutex_lock(&f->mu);
	sl->have = sl->have0 = j.reported;
	sl->total = fs->total;
	pthread_mutex_unlock(&f->mu);
	j.md = EVP_MD_CTX_new(); /* none: finish reads the whole file */
	if (j.md && EVP_DigestInit_ex(j.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(j.md);
		j.md = NULL;
	}
	struct lx_fetch_opts o = {
		.url = e->url,
		.fd = fd,
		.chunk_max = e->model == 'C' ? (int64_t)p->fetch_range_max : 0,
		.parallel = e->model == 'C' ? sl->conns : 1,
		.max_failures = p->fetch_retries,
		.cancel = &f->stop,
		.ud = &j,
		.progress = on_progress,
		.validator = on_validator,
		.verified = on_verified,
		.data = on_data,
		.writeback = WRITEBACK,
	};
	rc = lx_fetch_run(cl, &o, fs, err, sizeof err);
	lx_http_client_free(cl);
	if (rc == -ECANCELED) {
		lea_info("fetch id=%lld peer=%s: stopped at %lld bytes (resumes at the next start)",
			 (long long)e->id, e->peer, (long long)lx_fetch_state_held(fs));
	} else if (rc) {
		failed(&j, fs, rc, err);
	} else {
		finish(&j, fd, part, fs);
	}
	EVP_MD_CTX_free(j.md);
	close(fd);
}

/* ---- the workers ---- */

struct warg {
	struct lea_fetcher *f;
	unsigned i;
};

static void *worker_main(void *arg)
{
	struct warg *wa = arg;
	struct lea_fetcher *f = wa->f;
	struct slot *sl = &f->slots[wa->i];
	free(wa);
	struct lea_fetch_entry *e = malloc(sizeof *e);
	if (!e) {
		lea_err("fetch worker: out of memory");
		return NULL;
	}
	while (!f->stop) {
		struct lea_gen *g = lea_daemon_gen(f->d);
		struct pick pk = {.f = f, .cfg = g->cfg, .out = e};
		pthread_mutex_lock(&f->mu);
		int rc = lea_store_fetch_queue(f->d->store, (int64_t)time(NULL), QUEUE_LOOK, pick_one,
					       &pk);
		if (rc < 0)
			lea_warn("fetch queue: %s", li707_strerror(rc));
		const struct lea_peer *p = pk.found ? lea_config_peer(g->cfg, e->peer) : NULL;
		if (p) {
			*sl = (struct slot){.busy = true, .id = e->id, .model = e->model,
					    .conns = pk.conns ? pk.conns : 1,
					    .large = is_large(p, e->length), .total = e->fs.total,
					    .t0 = now_s()};
			snprintf(sl->peer, sizeof sl->peer, "%s", e->peer);
		} else if (!f->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		}
		pthread_mutex_unlock(&f->mu);
		if (p) {
			lea_metrics_fetch_active(f->d->metrics, +1);
			fetch_one(f, sl, g->cfg, p, e);
			lea_metrics_fetch_active(f->d->metrics, -1);
			pthread_mutex_lock(&f->mu);
			sl->busy = false;
			pthread_cond_broadcast(&f->cv); /* its connections are free again */
			pthread_mutex_unlock(&f->mu);
		}
		lea_gen_unref(g);
	}
	free(e);
	return NULL;
}

int lea_fetcher_start(struct lea_daemon *d, unsigned workers, struct lea_fetcher **out)
{
	*out = NULL;
	if (!workers)
		return 0;
	struct lea_fetcher *f = calloc(1, sizeof *f);
	if (!f)
		return LI707_ENOMEM;
	f->d = d;
	f->n = workers;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->th = calloc(workers, sizeof *f->th);
	f->started = calloc(workers, sizeof *f->started);
	f->slots = calloc(workers, sizeof *f->slots);
	if (!f->th || !f->started || !f->slots) {
		lea_fetcher_stop(f);
		return LI707_ENOMEM;
	}
	for (unsigned i = 0; i < workers; i++) {
		struct warg *wa = malloc(sizeof *wa);
		if (!wa) {
			lea_fetcher_stop(f);
			return LI707_ENOMEM;
		}
		*wa = (struct warg){f, i};
		int e = pthread_create(&f->th[i], NULL, worker_main, wa);
		if (e) {
			free(wa);
			lea_fetcher_stop(f);
			return -e;
		}
		f->started[i] = true;
	}
	*out = f;
	return 0;
}

void lea_fetcher_wake(struct lea_fetcher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void lea_fetcher_stop(struct lea_fetcher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	for (unsigned i = 0; i < f->n; i++)
		if (f->started && f->started[i])
			pthread_join(f->th[i], NULL);
	if (f->d && f->d->store) {
		char p[4200];
		path_of(f, LEA_FETCH_STATUS_FILE, p, sizeof p);
		unlink(p); /* nothing in progress any more */
	}
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f->th);
	free(f->started);
	free(f->slots);
	free(f);
}

/* DIR/fetch-status: the transfers in progress, for `li707-lea fetch-status` (temporary file
 * + rename: a reader sees the old or the new one). Line 1: "li707-lea-fetch-status 1 EPOCH";
 * then per transfer: "ID PEER MODEL HAVE TOTAL RATE ETA CONNS" (RATE bytes/s over the
 * transfer, ETA seconds or -1). Peer names are words of the configuration. */
void lea_fetcher_publish(struct lea_fetcher *f)
{
	if (!f)
		return;
	char path[4200], tmp[4300];
	path_of(f, LEA_FETCH_STATUS_FILE, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *o = fopen(tmp, "we");
	if (!o)
		return;
	fprintf(o, "li707-lea-fetch-status 1 %lld\n", (long long)time(NULL));
	double t = now_s();
	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < f->n; i++) {
		const struct slot *s = &f->slots[i];
		if (!s->busy)
			continue;
		double dt = t - s->t0;
		double rate = dt > 0.5 ? (double)(s->have - s->have0) / dt : 0;
		long long eta = s->total >= 0 && rate > 0 ? (long long)((double)(s->total - s->have) / rate) : -1;
		fprintf(o, "%lld %s %c %lld %lld %.0f %lld %u\n", (long long)s->id, s->peer,
			s->model == '?' ? '-' : s->model, (long long)s->have, (long long)s->total,
			rate, eta, s->conns);
	}
	pthread_mutex_unlock(&f->mu);
	if (fclose(o) != 0 || rename(tmp, path) != 0)
		unlink(tmp);
}
