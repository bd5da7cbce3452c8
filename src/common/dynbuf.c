/* li707 common - growable byte buffer with a hard limit, see dynbuf.h. */
#include "dynbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "li707/error.h"
#include "li707/util.h"

void lx_dynbuf_init(struct lx_dynbuf *b, size_t max)
{
	b->buf = NULL;
	b->len = b->alloc = 0;
	b->max = max ? max : 1;
}

void lx_dynbuf_free(struct lx_dynbuf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->alloc = 0;
}

void lx_dynbuf_clear(struct lx_dynbuf *b)
{
	b->len = 0;
	if (b->buf)
		b->buf[0] = '\0';
}

int lx_dynbuf_reserve(struct lx_dynbuf *b, size_t n)
{
	/* room for len + n bytes and the terminator, within max */
	if (n >= b->max || b->len >= b->max - n) {
		lx_dynbuf_free(b);
		return LI707_ELIMIT;
	}
	int rc = li707_array_grow((void **)&b->buf, &b->alloc, b->len + n + 1, 1, b->max);
	if (rc) {
		lx_dynbuf_free(b);
		return rc;
	}
	return 0;
}

void lx_dynbuf_commit(struct lx_dynbuf *b, size_t n)
{
	b->len += n;
	b->buf[b->len] = '\0';
}

int lx_dynbuf_add(struct lx_dynbuf *b, const void *p, size_t n)
{
	int rc = lx_dynbuf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->buf + b->len, p, n);
	lx_dynbuf_commit(b, n);
	return 0;
}

int lx_dynbuf_addstr(struct lx_dynbuf *b, const char *s)
{
	return lx_dynbuf_add(b, s, strlen(s));
}

int lx_dynbuf_vaddf(struct lx_dynbuf *b, const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0) {
		lx_dynbuf_free(b);
		return LI707_EINVAL;
	}
	int rc = lx_dynbuf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	lx_dynbuf_commit(b, (size_t)n);
	return 0;
}

int lx_dynbuf_addf(struct lx_dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = lx_dynbuf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *lx_dynbuf_ptr(const struct lx_dynbuf *b)
{
	return b->buf ? b->buf : "";
}

size_t lx_dynbuf_len(const struct lx_dynbuf *b)
{
	return b->len;
}

char *lx_dynbuf_take(struct lx_dynbuf *b, size_t *len)
{
	char *p = b->buf;
	if (len)
		*len = b->len;
	b->buf = NULL;
	b->len = b->alloc = 0;
	return p;
}
