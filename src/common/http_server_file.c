/* li707 common - file responses of the HTTPS server: Range, If-Range, ETag, multipart/byteranges
 * (RFC 9110; TS103707 R-BIN-A1, R-BIN-C1, R-BIN-C2). See http_server.h and
 * docs/internals/http_server.md.
 *
 * DESIGN. Two ways to send a file body, both one TLS record per MHD write, so concurrent
 * transfers interleave (R-BIN-2):
 *  - mapped (bodies of one range - the whole file or a single Range - of at least MAP_MIN
 *    bytes, not HEAD): an MHD iovec response over a read-only shared mapping of the file, so
 *    GnuTLS encrypts straight from the page cache. This saves the copy of a read() into a
 *    buffer, a fifth of the server's CPU in a 2 GiB GET (profile in the internals doc). A
 *    mapping brings two problems, handled below: resident memory (pages read through a
 *    mapping count in the RSS until dropped: the connection's GnuTLS push function counts the
 *    bytes sent, populates the next MAP_STEP ahead and drops the pages behind, so the RSS of a
 *    transfer stays about 4 MAP_STEP whatever the file size), and a file truncated while it is
 *    sent (a read past the new end raises SIGBUS: see "truncation" below).
 *  - callback (everything else: small bodies, multipart/byteranges, HEAD, or when a mapping
 *    cannot be set up): an MHD callback response reading LX_HTTP_BLOCK bytes per call.
 *
 * Truncation. MADV_POPULATE_READ reports the pages ahead that no longer exist (EFAULT). For a
 * truncation between populate and read, a process-wide SIGBUS handler (installed with the
 * first mapping, chaining to the previous handler for every fault outside our mappings) maps a
 * zero page over the faulting page and marks the transfer broken. The push function checks
 * the mark before every send, so nothing encrypted after it (the zeros included) leaves: the
 * client sees a cut transfer, as after a short read on the callback path, and the process
 * lives on. Mappings are registered in a fixed lock-free table the handler can read. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http_range.h"
#include "http_server_int.h"
#include "li707/error.h"
#include "li707/util.h"

#define CTYPE_MAX 128
#define ETAG_MAX 80 /* a quoted strong entity-tag given by the caller */

/* A file response: segments of memory (multipart heads) and file ranges. */
struct seg {
	uint64_t start; /* offset in the response body */
	uint64_t len;
	uint64_t foff;  /* file offset, when mem == NULL */
	char *mem;
};

struct fresp {
	int fd;
	size_t nseg, cur;
	struct seg *seg;
	struct lx__meter *meter; /* the request's byte counter (a reference), or NULL */
};

void lx__meter_release(struct lx__meter *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		free(m);
}

static struct lx__meter *meter_ref(struct lx__meter *m)
{
	if (m)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

int lx_http_file_answer(const struct lx_http_request *req, struct lx_http_file_answer *out)
{
	const struct lx__http_rq *r = req ? req->impl : NULL;
	if (!r || !r->ans || !out)
		return LI707_ENOTFOUND;
	*out = *r->ans;
	return 0;
}

uint64_t lx_http_sent(const struct lx_http_request *req)
{
	const struct lx__http_rq *r = req ? req->impl : NULL;
	return r && r->meter ? atomic_load_explicit(&r->meter->sent, memory_order_relaxed) : 0;
}

static void fresp_free(void *cls)
{
	struct fresp *f = cls;
	if (!f)
		return;
	lx__meter_release(f->meter);
	if (f->fd >= 0)
		close(f->fd);
	for (size_t i = 0; i < f->nseg; i++)
		free(f->seg[i].mem);
	free(f->seg);
	free(f);
}

static ssize_t fresp_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct fresp *f = cls;
	size_t out = 0;
	while (out < max) {
		while (f->cur < f->nseg && pos >= f->seg[f->cur].start + f->seg[f->cur].len)
			f->cur++;
		if (f->cur >= f->nseg || pos < f->seg[f->cur].start) {
			/* MHD never seeks backwards; anything else is a bug. */
			break;
		}
		struct seg *s = &f->seg[f->cur];
		uint64_t in = pos - s->start;
		size_t n = (size_t)((s->len - in) < (max - out) ? (s->len - in) : (max - out));
		if (s->mem) {
			memcpy(buf + out, s->mem + in, n);
		} else {
			ssize_t r = pread(f->fd, buf + out, n, (off_t)(s->foff + in));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return out ? (ssize_t)out : MHD_CONTENT_READER_END_WITH_ERROR;
			n = (size_t)r;
		}
		out += n;
		pos += n;
	}
	if (out && f->meter) /* one relaxed store per block: what was read for the connection */
		atomic_store_explicit(&f->meter->sent, pos, memory_order_relaxed);
	return out ? (ssize_t)out : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* A multipart answer has a header and a body per range and the closing boundary. */
#define SEG_MAX (2 * LX_RANGE_CAP + 1)
_Static_assert(LX_HTTP_ANSWER_RANGES == LX_RANGE_CAP, "lx_http_file_answer holds every range");

static int seg_add(struct fresp *f, size_t *cap, uint64_t *at, uint64_t len, uint64_t foff, char *mem)
{
	int rc = li707_array_grow((void **)&f->seg, cap, f->nseg + 1, sizeof *f->seg, SEG_MAX);
	if (rc) {
		free(mem);
		return rc;
	}
	f->seg[f->nseg++] = (struct seg){.start = *at, .len = len, .foff = foff, .mem = mem};
	*at += len;
	return 0;
}


/* ---- mapped bodies ---- */

#define MAP_MIN ((uint64_t)1 << 20)   /* smaller bodies take the callback path */
#define MAP_STEP ((size_t)4 << 20)    /* populate ahead / drop behind in steps of this */
#define MAP_SLOTS 1024                /* mappings at once; beyond, the callback path */

/* The registry the SIGBUS handler reads: claim with `used`, publish len then base. */
struct mslot {
	atomic_bool used, broken;
	_Atomic size_t len;
	_Atomic uintptr_t base;
};
static struct mslot mslots[MAP_SLOTS];
static struct sigaction bus_old;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;
static atomic_bool bus_ok;
static size_t pagesz;

/* Per connection, from its first mapped body until the connection is gone: the state of the
 * replacement GnuTLS push function. refs: the connection's (lx__tx_release) and one per
 * mapped response that points at it. */
struct lx__tx {
	atomic_int refs;
	int sock;
	struct fmap *_Atomic m; /* the mapped body being sent, or NULL */
	atomic_bool dead;       /* a body was cut (truncated file): nothing more is sent, not even
				 * the record GnuTLS keeps queued after a refused push */
};

struct fmap {
	struct lx__tx *tx;
	int fd, slot;
	char *map;             /* the mapping, from the page holding the first body byte */
	size_t maplen;
	size_t body_off;       /* the first body byte in the mapping */
	uint64_t body_len;
	uint64_t sent;         /* bytes pushed since the response was queued (headers included) */
	struct lx__meter *meter; /* the request's byte counter (a reference), or NULL */
	size_t pop_to, trim_to; /* populated up to, dropped up to (mapping offsets, pages) */
	bool populate;         /* MADV_POPULATE_READ works here */
};

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	for (size_t i = 0; i < MAP_SLOTS; i++) {
		uintptr_t b = atomic_load_explicit(&mslots[i].base, memory_order_acquire);
		size_t n = atomic_load_explicit(&mslots[i].len, memory_order_relaxed);
		if (!b || a < b || a - b >= n)
			continue;
		/* Ours: the file shrank under the mapping. Zeros instead, and the transfer ends
		 * before they are sent (tx_push). */
		atomic_store(&mslots[i].broken, true);
		void *pg = (void *)(a & ~(uintptr_t)(pagesz - 1));
		if (mmap(pg, pagesz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
			return;
		break;
	}
	/* Not ours (or no way around it): what would have happened without us. */
	if ((bus_old.sa_flags & SA_SIGINFO) && bus_old.sa_sigaction) {
		bus_old.sa_sigaction(sig, si, uc);
		return;
	}
	if (!(bus_old.sa_flags & SA_SIGINFO) && bus_old.sa_handler != SIG_DFL &&
	    bus_old.sa_handler != SIG_IGN) {
		bus_old.sa_handler(sig);
		return;
	}
	signal(SIGBUS, SIG_DFL); /* the access faults again and ends the process as before */
}

static void bus_install(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	pagesz = ps > 0 ? (size_t)ps : 4096;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = bus_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	atomic_store(&bus_ok, sigaction(SIGBUS, &sa, &bus_old) == 0);
}

static int mslot_claim(uintptr_t base, size_t len)
{
	for (int i = 0; i < MAP_SLOTS; i++) {
		bool f = false;
		if (!atomic_compare_exchange_strong(&mslots[i].used, &f, true))
			continue;
		atomic_store(&mslots[i].broken, false);
		atomic_store_explicit(&mslots[i].len, len, memory_order_relaxed);
		atomic_store_explicit(&mslots[i].base, base, memory_order_release);
		return i;
	}
	return -1;
}

static void mslot_release(int i)
{
	atomic_store_explicit(&mslots[i].base, 0, memory_order_release);
	atomic_store(&mslots[i].len, 0);
	atomic_store(&mslots[i].used, false);
}

void lx__tx_release(struct lx__tx *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		free(t);
}

/* Populates [pop_to, pop_to + MAP_STEP) when the sender gets within a step of it; EFAULT means
 * pages past the end of a truncated file: the transfer is broken. */
static void fmap_populate(struct fmap *m, size_t upto)
{
	while (m->populate && m->pop_to < m->maplen && m->pop_to < upto) {
		size_t n = m->maplen - m->pop_to < MAP_STEP ? m->maplen - m->pop_to : MAP_STEP;
		if (madvise(m->map + m->pop_to, n, MADV_POPULATE_READ) != 0) {
			if (errno == EFAULT)
				atomic_store(&mslots[m->slot].broken, true);
			else if (errno != EINTR && errno != EAGAIN)
				m->populate = false; /* not supported: plain faults then */
			return;
		}
		m->pop_to += n;
	}
}

/* After n more bytes went out: keep the pages ahead populated and drop those behind. The bytes
 * sent include the response headers and 22 bytes per TLS record, so the estimate runs a little
 * ahead of the reader; the margin behind covers that (a page dropped too early is only read in
 * again). */
static void fmap_advance(struct fmap *m, size_t n)
{
	m->sent += n;
	uint64_t done = m->sent < m->body_len ? m->sent : m->body_len;
	if (m->meter)
		atomic_store_explicit(&m->meter->sent, done, memory_order_relaxed);
	size_t at = m->body_off + (size_t)done;
	fmap_populate(m, at + MAP_STEP);
	size_t margin = MAP_STEP / 4 + (size_t)(m->sent / 512); /* 22 / 16384 is 0.13 % */
	if (at > m->trim_to + MAP_STEP + margin) {
		size_t to = (at - margin) & ~(pagesz - 1);
		(void)madvise(m->map + m->trim_to, to - m->trim_to, MADV_DONTNEED);
		m->trim_to = to;
	}
}

/* The connection's GnuTLS push: what GnuTLS does itself (sendmsg, MSG_NOSIGNAL), plus the
 * bookkeeping of the mapped body being sent. Runs on the connection's thread. */
static ssize_t tx_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct lx__tx *t = ptr;
	struct fmap *m = atomic_load_explicit(&t->m, memory_order_acquire);
	if (m && atomic_load(&mslots[m->slot].broken))
		atomic_store(&t->dead, true);
	if (atomic_load(&t->dead)) {
		errno = EIO; /* the file was truncated: nothing more goes out */
		return -1;
	}
	struct msghdr h = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n = sendmsg(t->sock, &h, MSG_NOSIGNAL);
	if (n > 0 && m)
		fmap_advance(m, (size_t)n);
	return n;
}

/* The connection's push state, installed on its TLS session the first time. NULL if none. */
static struct lx__tx *tx_get(struct MHD_Connection *conn)
{
	struct lx__tx **slot = lx__conn_tx(conn);
	if (!slot)
		return NULL;
	if (*slot)
		return *slot;
	const union MHD_ConnectionInfo *si = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const union MHD_ConnectionInfo *fi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!si || !si->tls_session || !fi || fi->connect_fd < 0)
		return NULL;
	struct lx__tx *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->sock = fi->connect_fd;
	gnutls_session_t sess = (gnutls_session_t)si->tls_session;
	/* MHD set the socket as both transport pointers; reads keep it, writes get our state. */
	gnutls_transport_set_ptr2(sess, (gnutls_transport_ptr_t)(intptr_t)t->sock, t);
	gnutls_transport_set_vec_push_function(sess, tx_push);
	*slot = t;
	return t;
}

static void fmap_free(void *cls)
{
	struct fmap *m = cls;
	struct fmap *cur = m;
	if (atomic_load(&mslots[m->slot].broken))
		atomic_store(&m->tx->dead, true);
	atomic_compare_exchange_strong(&m->tx->m, &cur, NULL);
	mslot_release(m->slot);
	munmap(m->map, m->maplen);
	close(m->fd);
	lx__tx_release(m->tx);
	lx__meter_release(m->meter);
	free(m);
}

/* An iovec response over a mapping of the body [foff, foff + len) of fd; NULL to use the
 * callback path instead (nothing taken then). On success fd belongs to the response. */
static struct MHD_Response *map_response(struct lx__http_rq *r, int fd, uint64_t foff, uint64_t len)
{
	pthread_once(&bus_once, bus_install);
	if (!atomic_load(&bus_ok) || len > SIZE_MAX - pagesz)
		return NULL;
	struct lx__tx *t = tx_get(r->conn);
	if (!t)
		return NULL;
	struct fmap *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	uint64_t start = foff & ~(uint64_t)(pagesz - 1);
	m->body_off = (size_t)(foff - start);
	m->body_len = len;
	m->maplen = m->body_off + (size_t)len;
	m->map = mmap(NULL, m->maplen, PROT_READ, MAP_SHARED, fd, (off_t)start);
	if (m->map == MAP_FAILED) {
		free(m);
		return NULL;
	}
	(void)madvise(m->map, m->maplen, MADV_SEQUENTIAL);
	m->slot = mslot_claim((uintptr_t)m->map, m->maplen);
	if (m->slot < 0) {
		munmap(m->map, m->maplen);
		free(m);
		return NULL;
	}
	m->populate = true;
	fmap_populate(m, 2 * MAP_STEP);
	struct MHD_IoVec v = {m->map + m->body_off, (size_t)len};
	struct MHD_Response *resp = NULL;
	if (!atomic_load(&mslots[m->slot].broken))
		resp = MHD_create_response_from_iovec(&v, 1, fmap_free, m);
	if (!resp) { /* truncated already, or no memory: the callback path decides */
		mslot_release(m->slot);
		munmap(m->map, m->maplen);
		free(m);
		return NULL;
	}
	m->fd = fd;
	m->tx = t;
	m->meter = meter_ref(r->meter);
	atomic_fetch_add(&t->refs, 1);
	atomic_store_explicit(&t->m, m, memory_order_release);
	return resp;
}

/* ---- responses ---- */

/* A strong entity-tag as RFC 9110 8.8.3 writes it: DQUOTE *etagc DQUOTE, no W/. */
static bool etag_ok(const char *e)
{
	size_t n = strlen(e);
	if (n < 2 || n > ETAG_MAX || e[0] != '"' || e[n - 1] != '"')
		return false;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)e[i];
		if (c < 0x21 || c == '"' || c == 0x7f)
			return false;
	}
	return true;
}

/* Notes what a file response answers (lx_http_file_answer) and gives the request its byte
 * counter (lx_http_sent). */
static int answer_note(struct lx__http_rq *r, unsigned status, bool head, uint64_t size,
		       uint64_t length, const struct lx_range_set *set)
{
	if (!r->ans && !(r->ans = calloc(1, sizeof *r->ans)))
		return LI707_ENOMEM;
	if (!r->meter) {
		if (!(r->meter = calloc(1, sizeof *r->meter)))
			return LI707_ENOMEM;
		atomic_init(&r->meter->refs, 1);
	}
	struct lx_http_file_answer *a = r->ans;
	memset(a, 0, sizeof *a);
	a->status = status;
	a->head = head;
	a->size = size;
	a->length = length;
	for (size_t i = 0; set && i < set->n && i < LX_HTTP_ANSWER_RANGES; i++) {
		a->ranges[i].first = set->v[i].first;
		a->ranges[i].last = set->v[i].last;
		a->n_ranges = i + 1;
	}
	return 0;
}

int lx_http_respond_file(struct lx_http_request *req, int fd, const char *content_type)
{
	return lx_http_respond_file_etag(req, fd, content_type, NULL);
}

int lx_http_respond_file_etag(struct lx_http_request *req, int fd, const char *content_type,
				 const char *etag_in)
{
	struct lx__http_rq *r = req ? req->impl : NULL;
	if (!r || r->responded || fd < 0) {
		if (fd >= 0)
			close(fd);
		return LI707_EINVAL;
	}
	if (etag_in && !etag_ok(etag_in)) {
		close(fd);
		return LI707_EINVAL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return lx__http_respond_page(r, 404);
	}
	if (!content_type || strlen(content_type) > CTYPE_MAX || strpbrk(content_type, "\r\n"))
		content_type = "application/octet-stream";
	uint64_t size = (uint64_t)st.st_size;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* larger readahead, a hint only */
	char etag[ETAG_MAX + 1], lm[30], cr[96];
	if (etag_in)
		snprintf(etag, sizeof etag, "%s", etag_in);
	else
		snprintf(etag, sizeof etag, "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
			 (unsigned long long)size,
			 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
				 (unsigned long long)st.st_mtim.tv_nsec);
	bool have_lm = lx_http_date_format(st.st_mtim.tv_sec, lm) == 0;

	struct fresp *f = calloc(1, sizeof *f);
	if (!f) {
		close(fd);
		return LI707_ENOMEM;
	}
	f->fd = fd;
	size_t cap = 0;
	uint64_t total = 0;
	unsigned status = 200;
	struct lx_range_set set;
	enum lx_range_verdict v = LX_RANGE_IGNORE;
	const char *range = lx_http_header(req, "Range");
	char ctype_mp[96];
	if (range && strcmp(req->method, "GET") == 0 &&
	    lx_range_if_range(lx_http_header(req, "If-Range"), etag, st.st_mtim.tv_sec))
		v = lx_range_parse(range, size, r->max_ranges, &set);
	int rc = 0;
	if (v == LX_RANGE_UNSATISFIABLE) {
		fresp_free(f);
		if ((rc = answer_note(r, 416, false, size, 0, NULL)) != 0)
			return rc;
		lx_range_content_range(cr, sizeof cr, NULL, size);
		if ((rc = lx_http_add_header(req, MHD_HTTP_HEADER_CONTENT_RANGE, cr)) != 0)
			return rc;
		return lx__http_respond_page(r, 416);
	}
	if (v == LX_RANGE_PARTIAL && set.n == 1) {
		status = 206;
		rc = seg_add(f, &cap, &total, set.v[0].last - set.v[0].first + 1, set.v[0].first, NULL);
		lx_range_content_range(cr, sizeof cr, &set.v[0], size);
	} else if (v == LX_RANGE_PARTIAL) {
		status = 206;
		char b[LX_RANGE_BOUNDARY_LEN + 1];
		if (lx_range_boundary(b) != 0) {
			fresp_free(f);
			return LI707_ECRYPTO;
		}
		snprintf(ctype_mp, sizeof ctype_mp, "multipart/byteranges; boundary=%s", b);
		for (size_t i = 0; i <= set.n && rc == 0; i++) {
			char *h = malloc(CTYPE_MAX + 256);
			if (!h) {
				rc = LI707_ENOMEM;
				break;
			}
			int n = lx_range_part_header(h, CTYPE_MAX + 256, b, content_type,
							i < set.n ? &set.v[i] : NULL, i == 0, size);
			if (n < 0) {
				free(h);
				rc = LI707_EINVAL;
				break;
			}
			rc = seg_add(f, &cap, &total, (uint64_t)n, 0, h);
			if (rc == 0 && i < set.n)
				rc = seg_add(f, &cap, &total, set.v[i].last - set.v[i].first + 1,
					     set.v[i].first, NULL);
		}
	} else {
		rc = seg_add(f, &cap, &total, size, 0, NULL);
	}
	if (rc != 0) {
		fresp_free(f);
		return rc;
	}
	bool head = strcmp(req->method, "HEAD") == 0;
	if ((rc = answer_note(r, status, head, size, head ? 0 : total,
			      v == LX_RANGE_PARTIAL ? &set : NULL)) != 0) {
		fresp_free(f);
		return rc;
	}
	f->meter = meter_ref(r->meter);
	struct MHD_Response *resp = NULL;
	if (total >= MAP_MIN && f->nseg == 1 && strcmp(req->method, "HEAD") != 0 &&
	    (resp = map_response(r, f->fd, f->seg[0].foff, total)) != NULL) {
		f->fd = -1; /* the mapping's now */
		fresp_free(f);
	} else if (total == 0) {
		fresp_free(f);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_callback(total, LX_HTTP_BLOCK, fresp_read, f, fresp_free);
		if (!resp)
			fresp_free(f);
	}
	if (!resp)
		return LI707_ENOMEM;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (have_lm)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
	if (v == LX_RANGE_PARTIAL && set.n > 1) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype_mp);
	} else {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
		if (status == 206)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	return lx__http_queue(r, status, resp);
}

