/* li707 common - file responses of the HTTPS server: Range, If-Range, ETag, multipart/byteranges
 * (RFC 9110; TS103707 R-BIN-A1, R-BIN-C1, R-BIN-C2), produced by an MHD callback in blocks of
 * LI707_HTTP_BLOCK bytes so concurrent transfers interleave (R-BIN-2). See http_server.h. */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_range.h"
#include "http_server_int.h"
#include "li707/error.h"

#define CTYPE_MAX 128

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
};

static void fresp_free(void *cls)
{
	struct fresp *f = cls;
	if (!f)
		return;
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
	return out ? (ssize_t)out : MHD_CONTENT_READER_END_WITH_ERROR;
}

static int seg_add(struct fresp *f, size_t *cap, uint64_t *at, uint64_t len, uint64_t foff, char *mem)
{
	if (f->nseg == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct seg *ns = realloc(f->seg, nc * sizeof *ns);
		if (!ns) {
			free(mem);
			return LI707_ENOMEM;
		}
		f->seg = ns;
		*cap = nc;
	}
	f->seg[f->nseg++] = (struct seg){.start = *at, .len = len, .foff = foff, .mem = mem};
	*at += len;
	return 0;
}

int li707_http_respond_file(struct li707_http_req *req, int fd, const char *content_type)
{
	struct li707__http_rq *r = req ? req->impl : NULL;
	if (!r || r->responded || fd < 0) {
		if (fd >= 0)
			close(fd);
		return LI707_EINVAL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return li707__http_respond_page(r, 404);
	}
	if (!content_type || strlen(content_type) > CTYPE_MAX || strpbrk(content_type, "\r\n"))
		content_type = "application/octet-stream";
	uint64_t size = (uint64_t)st.st_size;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* larger readahead, a hint only */
	char etag[80], lm[30], cr[96];
	snprintf(etag, sizeof etag, "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
		 (unsigned long long)size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
	bool have_lm = li707_http_date_format(st.st_mtim.tv_sec, lm) == 0;

	struct fresp *f = calloc(1, sizeof *f);
	if (!f) {
		close(fd);
		return LI707_ENOMEM;
	}
	f->fd = fd;
	size_t cap = 0;
	uint64_t total = 0;
	unsigned status = 200;
	struct li707_range_set set;
	enum li707_range_verdict v = LI707_RANGE_IGNORE;
	const char *range = li707_http_header(req, "Range");
	char ctype_mp[96];
	if (range && strcmp(req->method, "GET") == 0 &&
	    li707_range_if_range(li707_http_header(req, "If-Range"), etag, st.st_mtim.tv_sec))
		v = li707_range_parse(range, size, r->max_ranges, &set);
	int rc = 0;
	if (v == LI707_RANGE_UNSATISFIABLE) {
		fresp_free(f);
		li707_range_content_range(cr, sizeof cr, NULL, size);
		if ((rc = li707_http_add_header(req, MHD_HTTP_HEADER_CONTENT_RANGE, cr)) != 0)
			return rc;
		return li707__http_respond_page(r, 416);
	}
	if (v == LI707_RANGE_PARTIAL && set.n == 1) {
		status = 206;
		rc = seg_add(f, &cap, &total, set.v[0].last - set.v[0].first + 1, set.v[0].first, NULL);
		li707_range_content_range(cr, sizeof cr, &set.v[0], size);
	} else if (v == LI707_RANGE_PARTIAL) {
		status = 206;
		char b[LI707_RANGE_BOUNDARY_LEN + 1];
		if (li707_range_boundary(b) != 0) {
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
			int n = li707_range_part_header(h, CTYPE_MAX + 256, b, content_type,
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
	struct MHD_Response *resp;
	if (total == 0) {
		fresp_free(f);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_callback(total, LI707_HTTP_BLOCK, fresp_read, f, fresp_free);
		if (!resp)
			fresp_free(f);
	}
	if (!resp)
		return LI707_ENOMEM;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (have_lm)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
	if (v == LI707_RANGE_PARTIAL && set.n > 1) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype_mp);
	} else {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
		if (status == 206)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	return li707__http_queue(r, status, resp);
}

