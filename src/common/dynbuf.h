/* li707 common - a growable byte buffer with a hard limit (the model is curl's dynbuf).
 *
 * Every buffer has a maximum size chosen by its owner when it is initialised: input that would
 * grow it past that size is refused with LI707_ELIMIT, never truncated, so no outside input can
 * make a buffer grow without bound. The contents are always NUL-terminated (the terminator is
 * not counted in the length and does count against the limit).
 *
 * On any failure (ELIMIT, ENOMEM) the buffer is freed and left empty, as curl does: a caller
 * never goes on with a partial result by mistake. lx_dynbuf_free() may be called any number of
 * times; a zeroed struct is NOT ready for use (the limit must be set by lx_dynbuf_init). */
#ifndef LX_COMMON_DYNBUF_H
#define LX_COMMON_DYNBUF_H

#include <stdarg.h>
#include <stddef.h>

struct lx_dynbuf {
	char *buf;    /* NULL until the first byte is added */
	size_t len;   /* bytes of content */
	size_t alloc; /* bytes allocated */
	size_t max;   /* content + NUL never exceed this; set by lx_dynbuf_init */
};

/* Empty buffer whose content may grow to max - 1 bytes (max >= 1). */
void lx_dynbuf_init(struct lx_dynbuf *b, size_t max);
/* Frees the memory; the buffer is empty and usable again with the same limit. */
void lx_dynbuf_free(struct lx_dynbuf *b);
/* Drops the content but keeps the memory. */
void lx_dynbuf_clear(struct lx_dynbuf *b);

int lx_dynbuf_add(struct lx_dynbuf *b, const void *p, size_t n);
int lx_dynbuf_addstr(struct lx_dynbuf *b, const char *s);
int lx_dynbuf_addf(struct lx_dynbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lx_dynbuf_vaddf(struct lx_dynbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Makes room for n more bytes without adding them (then write at ptr + len and lx_dynbuf_commit). */
int lx_dynbuf_reserve(struct lx_dynbuf *b, size_t n);
/* Counts n bytes written after the content by the caller into reserved room. */
void lx_dynbuf_commit(struct lx_dynbuf *b, size_t n);

/* The content ("" when empty, never NULL) and its length. */
const char *lx_dynbuf_ptr(const struct lx_dynbuf *b);
size_t lx_dynbuf_len(const struct lx_dynbuf *b);
/* Hands the memory to the caller (free() it; NULL when empty) and leaves the buffer empty. */
char *lx_dynbuf_take(struct lx_dynbuf *b, size_t *len);

#endif
