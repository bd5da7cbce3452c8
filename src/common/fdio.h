/* li707 common - whole writes to a file descriptor. */
#ifndef LI707_COMMON_FDIO_H
#define LI707_COMMON_FDIO_H

#include <stddef.h>

/* Writes all n bytes of buf to fd, again after EINTR and short writes. Returns 0, or a
 * negative errno (-EIO when write() wrote nothing without an error). */
int li707_write_all(int fd, const void *buf, size_t n);

#endif
