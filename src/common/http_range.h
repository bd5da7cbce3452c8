/* li707 common - HTTP Range requests (RFC 9110 sections 13.1.5, 14), pure functions.
 *
 * Model C (TS103707 R-BIN-C1, R-BIN-C2) retrieves a binary object by one or more Range
 * requests and resumes interrupted retrievals; libmicrohttpd has no Range support, so the
 * server (http_server.c) asks this module what to send:
 *
 *   lx_range_parse()        Range header against the resource size -> ignore / 206 / 416
 *   lx_range_if_range()     If-Range against the strong ETag and Last-Modified
 *   lx_range_content_range() "bytes F-L/SIZE" or "bytes STAR/SIZE"
 *   lx_range_part_header()   the head of one multipart/byteranges part
 *
 * Rules (docs/internals/http_server.md, "Range rules"): a header that is not valid
 * `bytes=` syntax is ignored (full 200, RFC 9110 14.2); abusive sets are ignored as well
 * (more than max_ranges specs, more than LX_RANGE_MAX_DISORDER overlapping or unsorted
 * specs, or more than twice the resource size in total) - the client gets the whole object
 * once instead of amplification; a valid set none of whose ranges is satisfiable is 416.
 * Ranges are not coalesced (like nginx), so parts come back in the order asked. */
#ifndef LX_COMMON_HTTP_RANGE_H
#define LX_COMMON_HTTP_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LX_RANGE_MAX_DEFAULT 16   /* specs per header, the server's default cap */
#define LX_RANGE_CAP 64           /* hard upper bound of max_ranges */
#define LX_RANGE_MAX_DISORDER 2   /* overlapping/unsorted specs tolerated per header */
#define LX_RANGE_HEADER_MAX 4096  /* longer Range headers are ignored */
#define LX_RANGE_BOUNDARY_LEN 32  /* hex characters of a multipart boundary */

struct lx_range {
	uint64_t first, last; /* inclusive, both < size */
};

struct lx_range_set {
	struct lx_range v[LX_RANGE_CAP];
	size_t n;
	uint64_t total; /* sum of the lengths */
};

enum lx_range_verdict {
	LX_RANGE_IGNORE = 0,        /* send the whole resource, 200 */
	LX_RANGE_PARTIAL = 206,     /* send set->v[0..n) */
	LX_RANGE_UNSATISFIABLE = 416,
};

/* Parses a Range header value (without the name) for a resource of `size` bytes. max_ranges
 * is clamped to 1..LX_RANGE_CAP. *set is written only when PARTIAL is returned. */
enum lx_range_verdict lx_range_parse(const char *value, uint64_t size, size_t max_ranges,
					   struct lx_range_set *set);

/* If-Range (RFC 9110 13.1.5): true when the Range header may be honoured. An entity-tag
 * matches only by strong comparison with etag (a weak one never does); an HTTP-date only when
 * it equals last_modified exactly. Anything unparsable is false (send the whole resource). */
bool lx_range_if_range(const char *value, const char *etag, time_t last_modified);

/* "bytes F-L/SIZE" (r != NULL) or "bytes * /SIZE" (r == NULL, for 416, without the space).
 * Returns the length written, or -1 when buf is too small. */
int lx_range_content_range(char *buf, size_t len, const struct lx_range *r, uint64_t size);

/* The text before part i of a multipart/byteranges body:
 * "\r\n--BOUNDARY\r\nContent-Type: CT\r\nContent-Range: bytes F-L/SIZE\r\n\r\n"
 * (the first part starts without the leading CRLF); lx_range_part_header(..., NULL, ...)
 * gives the closing "\r\n--BOUNDARY--\r\n". content_type may be NULL (no Content-Type line).
 * Returns the length written, or -1 when buf is too small (256 + strlen(content_type) always
 * suffices). */
int lx_range_part_header(char *buf, size_t len, const char *boundary, const char *content_type,
			    const struct lx_range *r, bool first, uint64_t size);

/* The total length of the multipart/byteranges body for set. */
uint64_t lx_range_multipart_length(const struct lx_range_set *set, const char *boundary,
				      const char *content_type, uint64_t size);

/* A fresh random boundary of LX_RANGE_BOUNDARY_LEN hex characters + NUL. 0 or -errno. */
int lx_range_boundary(char out[LX_RANGE_BOUNDARY_LEN + 1]);

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") <-> time_t. format returns 0 or -1; parse
 * returns 0 and sets *t, or -1 (only IMF-fixdate is accepted). */
int lx_http_date_format(time_t t, char out[30]);
int lx_http_date_parse(const char *s, time_t *t);

#endif
