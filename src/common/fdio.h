/* li707 common - whole writes to a file descriptor; fsync of a directory. */
#ifndef LX_COMMON_FDIO_H
#define LX_COMMON_FDIO_H

#include <stddef.h>

/* Writes all n bytes of buf to fd, again after EINTR and short writes. Returns 0, or a
 * negative errno (-EIO when write() wrote nothing without an error). */
int lx_write_all(int fd, const void *buf, size_t n);

/* fsync of the directory dir, so that a rename, link or unlink in it is durable. Returns 0 or
 * a negative errno. */
int lx_fsync_dir(const char *dir);

/* fsync of the directory holding path ("." for a bare name, "/" for "/x"; trailing slashes of
 * path are ignored). Returns 0 or a negative errno (-ENAMETOOLONG beyond PATH_MAX). */
int lx_fsync_parent(const char *path);

#endif
