/* li707 common - retrieval of one binary object by HTTP Range requests: TS 103 707 Annex C.2
 * (Model A), C.4 (Model C) and Annex E (R-BIN-C1, R-BIN-C2). docs/internals/fetch.md.
 *
 * Two layers:
 *   - lx_fetch_run: the engine. It fills the gaps of one object's state (struct
 *     lx_fetch_state: size, validator, range size, ranges held) into a file descriptor,
 *     one or several ranges at a time, with If-Range on every request, the range size shrunk
 *     after a failure and grown after a success. The state is plain data the caller may
 *     persist (the validator callback runs before any byte of a new object lands, the
 *     verified callback after a range is written and fsync'd), so that a process killed at
 *     any point resumes without fetching again what it recorded.
 *   - lx_fetch_file: the FILE.part convention of `li707 fetch` on top of it: FILE.part
 *     holds the object's first bytes, FILE.part.etag its validator; FILE appears only when the
 *     object is complete, fsync'd and (optionally) matches its SHA-256.
 *
 * Neither prints nor exits: errors are negative li707 codes (transport classes through
 * lx_http_err_code, -errno for local I/O, LI707_EMISMATCH for a checksum mismatch,
 * -ECANCELED when the cancel flag was raised) with one line of text in the caller's buffer. */
#ifndef LX_COMMON_FETCH_H
#define LX_COMMON_FETCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_client.h"

#define LX_FETCH_CHUNK_DEFAULT ((int64_t)16 << 20) /* range size after a failed open-ended one */
#define LX_FETCH_CHUNK_MIN ((int64_t)64 << 10)     /* ranges never shrink below this */
#define LX_FETCH_CHUNK_MAX ((int64_t)1 << 30)      /* nor grow beyond it (then open-ended) */
#define LX_FETCH_RANGES_MAX 64     /* ranges a state holds; beyond, bytes are fetched again */
#define LX_FETCH_PARALLEL_MAX 16   /* ranges of one object in flight at once */
#define LX_FETCH_FAILURES_DEFAULT 8 /* consecutive failed rounds before giving up */

/* Bytes [start, end) of the object. */
struct lx_fetch_range {
	int64_t start, end;
};

/* What is known of one object. Plain data: copy it, store it, load it back. */
struct lx_fetch_state {
	int64_t total;    /* the object's size, -1 unknown */
	char etag[128];   /* strong validator of the bytes held ("\"...\""), "" none */
	int64_t chunk;    /* the next range size; 0: open-ended (the whole rest in one request) */
	size_t n_held;
	struct lx_fetch_range held[LX_FETCH_RANGES_MAX]; /* in the file: sorted, disjoint,
								 * not adjacent */
	char content_type[128];  /* Content-Type of the last 200/206 response, "" none (not
				  * a validator: a caller may record it beside its own) */
};

/* An empty state: nothing held, size and validator unknown, range size chunk_max (0:
 * open-ended). */
void lx_fetch_state_init(struct lx_fetch_state *s, int64_t chunk_max);

/* Records [start, end) as held (merged with its neighbours). Returns false when the state is
 * full (LX_FETCH_RANGES_MAX): the bytes are then simply fetched again. */
bool lx_fetch_state_add(struct lx_fetch_state *s, int64_t start, int64_t end);

/* Bytes held, and whether the whole object is (its size known and every byte held). */
int64_t lx_fetch_state_held(const struct lx_fetch_state *s);
bool lx_fetch_state_complete(const struct lx_fetch_state *s);

struct lx_fetch_opts {
	const char *url;      /* https:// (borrowed) */
	int fd;               /* the object's bytes at their own offsets; read and write */
	int64_t chunk_max;    /* cap of the range size; 0: none (open-ended while nothing fails) */
	unsigned parallel;    /* ranges in flight at once once the size and validator are known;
			       * 0 or 1: one; at most LX_FETCH_PARALLEL_MAX */
	unsigned max_failures; /* consecutive failed rounds before giving up; 0: the default */
	const volatile sig_atomic_t *cancel; /* nonzero: stop soon with -ECANCELED (may be NULL) */
	/* All optional; ud is passed to each. */
	void *ud;
	/* Bytes held so far (written, not yet fsync'd) and the size (-1 unknown), as they come. */
	void (*progress)(void *ud, int64_t have, int64_t total);
	/* The validator or size changed (s->etag, s->total); a new object starts: every held
	 * range was dropped. Runs before any byte of it is written. Nonzero aborts the run with
	 * that code. */
	int (*validator)(void *ud, const struct lx_fetch_state *s);
	/* [start, end) is written and fsync'd (s already holds it). Nonzero aborts the run with
	 * that code. With this callback set, the file is fsync'd after each round of ranges. */
	int (*verified)(void *ud, const struct lx_fetch_state *s, int64_t start, int64_t end);
	/* Each body piece once it is written at offset off (pieces of parallel ranges come
	 * interleaved; after a 200 that replaces the object, off starts again at 0). */
	void (*data)(void *ud, int64_t off, const char *p, size_t n);
	/* Nonzero: the kernel is asked to start writing back every this many bytes of a
	 * response (sync_file_range WRITE, a hint), so that the fsync of a round (verified) has
	 * little left to do while the network waits. 0: never. */
	int64_t writeback;
};

/* Fetches what s does not hold, until the object is complete (returns 0, s complete; the
 * file is not fsync'd unless verified is set). On failure s still says what the file holds
 * (ranges received before the failure included), so a later call resumes. */
int lx_fetch_run(struct lx_http_client *cl, const struct lx_fetch_opts *o,
		    struct lx_fetch_state *s, char *err, size_t errlen);

/* SHA-256 of the file at path against hex (64 hex digits, either case): 0, LI707_EMISMATCH
 * (got_hex holds the actual value), or the error of reading it. */
int lx_fetch_check_sha256(const char *path, const char *hex, char got_hex[65]);

struct lx_fetch_file_opts {
	const char *url;      /* https:// */
	const char *path;     /* FILE (at most 4000 bytes); FILE.part and FILE.part.etag beside */
	const char *sha256;   /* expected SHA-256 (64 hex digits) or NULL */
	bool resume;          /* go on from an existing FILE.part (else it starts empty) */
	int64_t chunk_max;    /* as lx_fetch_opts */
	unsigned parallel;
	const volatile sig_atomic_t *cancel;
	void *ud;
	void (*progress)(void *ud, int64_t have, int64_t total);
};

/* Fetches the object into FILE.part and, once complete, fsync'd and matching sha256, renames
 * it to FILE and fsyncs the directory. A checksum mismatch removes FILE.part (LI707_EMISMATCH);
 * any other failure keeps what was received for a later resume (an empty FILE.part and its
 * sidecar are removed). */
int lx_fetch_file(struct lx_http_client *cl, const struct lx_fetch_file_opts *o,
		     char *err, size_t errlen);

#endif
