/* li707 common - error text for callers' buffers.
 * Functions in src/common that can fail on outside input (configuration, files, peers) take
 * a (char *err, size_t errlen) pair and write one line of text there; they never print. */
#ifndef LX_COMMON_ERRBUF_H
#define LX_COMMON_ERRBUF_H

#include <stddef.h>

/* vsnprintf into err (truncated, NUL-terminated); does nothing when err is NULL or errlen 0. */
void lx_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
