/* li707 common - HTTP Range requests (RFC 9110), see http_range.h.
 *
 * DESIGN: the parser makes one pass over the header, collecting range-specs into a fixed
 * array (no allocation), with saturating arithmetic (a 30-digit position is "huge", not an
 * overflow). It only decides; the server does all I/O. TS103707 R-BIN-C1, R-BIN-C2. */
#include "http_range.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "li707/util.h"

static bool is_ows(char c) { return c == ' ' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Reads 1*DIGIT at *p, saturating at UINT64_MAX. false when there is no digit. */
static bool read_num(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (!is_digit(*s))
		return false;
	while (is_digit(*s)) {
		unsigned d = (unsigned)(*s - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

enum lx_range_verdict lx_range_parse(const char *value, uint64_t size, size_t max_ranges,
					   struct lx_range_set *set)
{
	if (!value || !set)
		return LX_RANGE_IGNORE;
	if (max_ranges < 1)
		max_ranges = 1;
	if (max_ranges > LX_RANGE_CAP)
		max_ranges = LX_RANGE_CAP;
	if (strnlen(value, LX_RANGE_HEADER_MAX + 1) > LX_RANGE_HEADER_MAX)
		return LX_RANGE_IGNORE;
	const char *p = value;
	while (is_ows(*p))
		p++;
	if (strncasecmp(p, "bytes", 5) != 0)
		return LX_RANGE_IGNORE; /* other range units: ignore (RFC 9110 14.2) */
	p += 5;
	while (is_ows(*p))
		p++;
	if (*p != '=')
		return LX_RANGE_IGNORE;
	p++;

	struct lx_range v[LX_RANGE_CAP];
	size_t n = 0, specs = 0, disorder = 0;
	uint64_t total = 0;
	bool any_spec = false;
	for (;;) {
		while (is_ows(*p))
			p++;
		if (*p == ',') { /* empty list elements are allowed (RFC 9110 5.6.1) */
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		uint64_t a = 0, b = 0;
		bool has_a = read_num(&p, &a);
		if (*p != '-')
			return LX_RANGE_IGNORE;
		p++;
		bool has_b = read_num(&p, &b);
		if (!has_a && !has_b)
			return LX_RANGE_IGNORE;
		if (has_a && has_b && b < a)
			return LX_RANGE_IGNORE; /* invalid range-spec: the whole header is invalid */
		while (is_ows(*p))
			p++;
		if (*p != ',' && *p != '\0')
			return LX_RANGE_IGNORE;
		any_spec = true;
		if (++specs > max_ranges)
			return LX_RANGE_IGNORE; /* abusive: too many ranges */

		struct lx_range r;
		if (has_a) {
			if (a >= size)
				continue; /* unsatisfiable spec: dropped */
			r.first = a;
			r.last = (!has_b || b >= size) ? size - 1 : b;
		} else {
			if (b == 0 || size == 0)
				continue; /* suffix of zero bytes: unsatisfiable */
			r.first = b >= size ? 0 : size - b;
			r.last = size - 1;
		}
		/* Overlapping or out of order with any earlier range. */
		for (size_t i = 0; i < n; i++) {
			if (r.first <= v[i].last) {
				disorder++;
				break;
			}
		}
		if (disorder > LX_RANGE_MAX_DISORDER)
			return LX_RANGE_IGNORE;
		total += r.last - r.first + 1; /* <= 64 ranges of < 2^64: checked below per step */
		if (total > size * 2 && size <= UINT64_MAX / 2)
			return LX_RANGE_IGNORE; /* abusive: more than twice the resource */
		v[n++] = r;
	}
	if (!any_spec)
		return LX_RANGE_IGNORE;
	if (n == 0)
		return LX_RANGE_UNSATISFIABLE;
	memcpy(set->v, v, n * sizeof v[0]);
	set->n = n;
	set->total = total;
	return LX_RANGE_PARTIAL;
}

static const char *const wkday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int lx_http_date_format(time_t t, char out[30])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 9999 - 1900)
		return -1;
	char b[64];
	int n = snprintf(b, sizeof b, "%s, %02d %s %04d %02d:%02d:%02d GMT", wkday[tm.tm_wday],
			 tm.tm_mday, month[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n != 29)
		return -1;
	memcpy(out, b, 30);
	return 0;
}

static int two(const char *s)
{
	return is_digit(s[0]) && is_digit(s[1]) ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

int lx_http_date_parse(const char *s, time_t *t)
{
	/* "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 characters. */
	if (!s || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || strcmp(s + 26, "GMT") != 0)
		return -1;
	int wd = -1, mon = -1;
	for (int i = 0; i < 7; i++)
		if (strncmp(s, wkday[i], 3) == 0)
			wd = i;
	for (int i = 0; i < 12; i++)
		if (strncmp(s + 8, month[i], 3) == 0)
			mon = i;
	int day = two(s + 5), y1 = two(s + 12), y2 = two(s + 14), h = two(s + 17), mi = two(s + 20),
	    sec = two(s + 23);
	if (wd < 0 || mon < 0 || day < 1 || day > 31 || y1 < 0 || y2 < 0 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return -1;
	struct tm tm = {.tm_year = y1 * 100 + y2 - 1900, .tm_mon = mon, .tm_mday = day,
			.tm_hour = h, .tm_min = mi, .tm_sec = sec};
	time_t r = timegm(&tm);
	if (r == (time_t)-1)
		return -1;
	/* Reject dates that timegm normalised (31 Feb) or with the wrong weekday. */
	struct tm back;
	if (!gmtime_r(&r, &back) || back.tm_mday != day || back.tm_wday != wd)
		return -1;
	*t = r;
	return 0;
}

bool lx_range_if_range(const char *value, const char *etag, time_t last_modified)
{
	if (!value)
		return true; /* no If-Range: the Range applies */
	while (is_ows(*value))
		value++;
	size_t len = strlen(value);
	while (len > 0 && is_ows(value[len - 1]))
		len--;
	if (len >= 2 && value[0] == 'W' && value[1] == '/')
		return false; /* weak tags never match (strong comparison) */
	if (len >= 1 && value[0] == '"') {
		if (!etag || len < 2 || value[len - 1] != '"')
			return false;
		return strlen(etag) == len && memcmp(etag, value, len) == 0;
	}
	char buf[32];
	if (len >= sizeof buf)
		return false;
	memcpy(buf, value, len);
	buf[len] = '\0';
	time_t t;
	if (lx_http_date_parse(buf, &t) != 0)
		return false;
	return t == last_modified;
}

int lx_range_content_range(char *buf, size_t len, const struct lx_range *r, uint64_t size)
{
	int n = r ? snprintf(buf, len, "bytes %llu-%llu/%llu", (unsigned long long)r->first,
			     (unsigned long long)r->last, (unsigned long long)size)
		  : snprintf(buf, len, "bytes */%llu", (unsigned long long)size);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int lx_range_part_header(char *buf, size_t len, const char *boundary, const char *content_type,
			    const struct lx_range *r, bool first, uint64_t size)
{
	int n;
	if (!r)
		n = snprintf(buf, len, "\r\n--%s--\r\n", boundary);
	else if (content_type)
		n = snprintf(buf, len, "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
			     first ? "" : "\r\n", boundary, content_type, (unsigned long long)r->first,
			     (unsigned long long)r->last, (unsigned long long)size);
	else
		n = snprintf(buf, len, "%s--%s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
			     first ? "" : "\r\n", boundary, (unsigned long long)r->first,
			     (unsigned long long)r->last, (unsigned long long)size);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

uint64_t lx_range_multipart_length(const struct lx_range_set *set, const char *boundary,
				      const char *content_type, uint64_t size)
{
	char tmp[512];
	uint64_t total = 0;
	for (size_t i = 0; i < set->n; i++) {
		int n = lx_range_part_header(tmp, sizeof tmp, boundary, content_type, &set->v[i],
						i == 0, size);
		if (n < 0)
			return UINT64_MAX;
		total += (uint64_t)n + (set->v[i].last - set->v[i].first + 1);
	}
	int n = lx_range_part_header(tmp, sizeof tmp, boundary, NULL, NULL, false, size);
	return n < 0 ? UINT64_MAX : total + (uint64_t)n;
}

int lx_range_boundary(char out[LX_RANGE_BOUNDARY_LEN + 1])
{
	unsigned char rnd[LX_RANGE_BOUNDARY_LEN / 2];
	size_t got = 0;
	while (got < sizeof rnd) {
		ssize_t r = getrandom(rnd + got, sizeof rnd - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	li707_hex_encode(rnd, sizeof rnd, out); /* LX_RANGE_BOUNDARY_LEN digits and a NUL */
	return 0;
}
