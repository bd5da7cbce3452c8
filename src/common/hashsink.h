/* li707 common - a file sink that computes SHA-256 and writes on a thread of its own.
 *
 * Model B uploads (TS103707 R-BIN-B2: the LEA checks length and SHA-256 against the
 * binaryObject record) receive, hash and write every byte of a possibly huge object. Done
 * in the receiving thread, the hash alone took about 40% of it and the connection ran at
 * one core's pace. With a sink the receiving thread only copies into blocks; a worker
 * thread hashes each block and writes it, and starts the kernel's writeback as it goes, so
 * the fdatasync at the end has little left to do.
 *
 *   lx_hashsink_new()     a sink writing to fd (the caller's; the sink never closes it)
 *   lx_hashsink_write()   appends bytes (blocks while every block is in use)
 *   lx_hashsink_finish()  writes the rest, fdatasyncs fd, returns SHA-256 and length
 *   lx_hashsink_free()    stops the worker (what it did not write yet is dropped)
 *
 * Objects that fit in one block never start the thread: finish hashes and writes it in
 * the caller's thread. A write error of the worker is kept and returned by every later
 * write and by finish (the sink is unusable after it). One thread uses a sink at a time. */
#ifndef LX_COMMON_HASHSINK_H
#define LX_COMMON_HASHSINK_H

#include <stddef.h>
#include <stdint.h>

#define LX_HASHSINK_BLOCK (256u * 1024u)  /* bytes per block (1 MiB blocks: slower, the
                                                 worker read them back from memory, not cache) */
#define LX_HASHSINK_BLOCKS 8               /* blocks per sink (memory: 2 MiB) */
#define LX_HASHSINK_WRITEBACK (8u << 20)   /* writeback started every 8 MiB written */

struct lx_hashsink;

/* Returns 0, or -ENOMEM. */
int lx_hashsink_new(int fd, struct lx_hashsink **out);
/* Returns 0, or a negative errno (the worker's write error, or -EINVAL after a failure). */
int lx_hashsink_write(struct lx_hashsink *s, const void *data, size_t n);
/* Writes what is left, waits for the worker, fdatasyncs fd. sha256 and bytes are set only
 * when it returns 0; otherwise a negative errno. Call once, then free. */
int lx_hashsink_finish(struct lx_hashsink *s, unsigned char sha256[32], uint64_t *bytes);
/* NULL is fine. */
void lx_hashsink_free(struct lx_hashsink *s);

#endif
