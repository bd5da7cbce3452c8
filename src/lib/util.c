/* li707 - value checks, time, UUIDs, SHA-256 and wiping (include/li707/util.h), plus the
 * string helpers of internal.h.
 *
 * DESIGN: every check is a hand-written scanner over the exact lexical form the schema
 * (TS 103 280 / TS 103 120) or the RFC allows; none allocates, none depends on the locale
 * (ASCII classes are spelled out) or on the TZ environment (times are converted with
 * days-from-civil arithmetic, not timegm/mktime). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- strings (internal.h) ---- */

char *li707__strdup(const char *s)
{
	if (!s)
		return NULL;
	return li707__strndup(s, strlen(s));
}

char *li707__strndup(const char *s, size_t n)
{
	if (!s)
		return NULL;
	size_t len = strnlen(s, n);
	char *p = malloc(len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

int li707__set_str(char **dst, const char *src)
{
	char *copy = NULL;
	if (src) {
		copy = li707__strdup(src);
		if (!copy)
			return LI707_ENOMEM;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

/* ---- ASCII classes (locale independent) ---- */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alpha(unsigned char c) { return is_upper(c) || (c >= 'a' && c <= 'z'); }
static bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static bool is_lhex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
static bool is_hex(unsigned char c) { return is_lhex(c) || (c >= 'A' && c <= 'F'); }

/* ---- hexadecimal ---- */

int li707_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void li707_hex_encode(const void *bytes, size_t n, char *out)
{
	static const char hexd[] = "0123456789abcdef";
	const unsigned char *b = bytes;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[b[i] >> 4];
		out[2 * i + 1] = hexd[b[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

bool li707_hex_decode(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = li707_hex_value((unsigned char)s[2 * i]);
		int lo = hi < 0 ? -1 : li707_hex_value((unsigned char)s[2 * i + 1]);
		if (lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* ---- UUID (TS 103 280 UUID: lower-case 8-4-4-4-12) ---- */

int li707_uuid_new(char out[37])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char b[16];
	if (!out)
		return LI707_EINVAL;
	if (RAND_bytes(b, sizeof b) != 1)
		return LI707_ECRYPTO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	char tmp[37];
	size_t o = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			tmp[o++] = '-';
		tmp[o++] = hexd[b[i] >> 4];
		tmp[o++] = hexd[b[i] & 0x0f];
	}
	tmp[o] = '\0';
	memcpy(out, tmp, sizeof tmp);
	return 0;
}

bool li707_check_uuid(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < 36; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!is_lhex(c)) {
			return false; /* also stops at NUL */
		}
	}
	return s[36] == '\0';
}

/* ---- Model B URL rule (TS103707 R-BIN-B1) ---- */

bool li707_binary_path_uuid(const char *path, const char *prefix, char out[37])
{
	if (!path || !prefix || !out)
		return false;
	size_t pl = strlen(prefix);
	if (pl == 0 || strncmp(path, prefix, pl) != 0)
		return false;
	const char *u = path + pl;
	size_t n = strlen(u);
	/* exactly the UUID and an optional '/': no further segment, query or fragment */
	if (!(n == 36 || (n == 37 && u[36] == '/')))
		return false;
	char v[37];
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? u[i] != '-' : li707_hex_value((unsigned char)u[i]) < 0)
			return false;
		v[i] = (u[i] >= 'A' && u[i] <= 'F') ? (char)(u[i] - 'A' + 'a') : u[i];
	}
	v[36] = '\0';
	memcpy(out, v, sizeof v);
	return true;
}

bool li707_binary_url_uuid(const char *url, const char *prefix, char out[37])
{
	if (!url)
		return false;
	/* the path of "scheme://authority/path": scheme letters then [a-zA-Z+-.] */
	const char *p = strstr(url, "://");
	if (!p || p == url)
		return false;
	for (const char *q = url; q < p; q++)
		if (!is_alpha((unsigned char)*q) && !(q > url && (is_digit((unsigned char)*q) || strchr("+-.", *q))))
			return false;
	p += 3;
	size_t auth = strcspn(p, "/?#");
	if (auth == 0 || p[auth] != '/')
		return false;
	return li707_binary_path_uuid(p + auth, prefix, out);
}

/* ---- country codes (ISO 3166-1 alpha-2, as TS 103 280 ISOCountryCode) ---- */

/* The 249 officially assigned ISO 3166-1 alpha-2 codes, sorted (checked against Debian's
 * iso-codes 3166-1 list). Reserved codes (EU, UK, ...) are not in it. */
static const char countries[][3] = {
	"AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW",
	"AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN",
	"BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG",
	"CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ",
	"DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI",
	"FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL",
	"GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR",
	"HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
	"JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA",
	"LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME",
	"MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU",
	"MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP",
	"NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR",
	"PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD",
	"SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV",
	"SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
	"TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE",
	"VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
};

static int country_cmp(const void *key, const void *elem)
{
	const char *k = key, *e = elem;
	return memcmp(k, e, 2);
}

bool li707_check_country(const char *s)
{
	if (!s || !is_upper((unsigned char)s[0]) || !is_upper((unsigned char)s[1]) || s[2] != '\0')
		return false;
	/* ISO 3166-1 user-assigned: AA, QM-QZ, XA-XZ, ZZ. */
	if ((s[0] == 'A' && s[1] == 'A') || (s[0] == 'Q' && s[1] >= 'M') || s[0] == 'X' ||
	    (s[0] == 'Z' && s[1] == 'Z'))
		return true;
	return bsearch(s, countries, sizeof countries / sizeof countries[0], sizeof countries[0],
		       country_cmp) != NULL;
}

/* ---- TS 103 280 identifiers ---- */

bool li707_check_liid(const char *s)
{
	/* TS 103 280 LIID: ([!-~]{1,25})|([0-9a-f]{26,50}) */
	if (!s)
		return false;
	size_t n = 0;
	bool all_lhex = true;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (c < '!' || c > '~' || n >= 50)
			return false;
		if (!is_lhex(c))
			all_lhex = false;
	}
	if (n >= 1 && n <= 25)
		return true;
	return n >= 26 && all_lhex;
}

bool li707_check_ldid(const char *s)
{
	/* TS 103 280 LDID: [A-Z]{2}-.+-.+ ; XSD '.' is any character except LF and CR. */
	if (!s || !is_upper((unsigned char)s[0]) || !is_upper((unsigned char)s[1]))
		return false;
	char cc[3] = {s[0], s[1], '\0'};
	if (!li707_check_country(cc) || s[2] != '-')
		return false;
	const char *rest = s + 3;
	size_t n = strlen(rest);
	if (strpbrk(rest, "\r\n"))
		return false;
	/* some '-' with at least one character on each side */
	for (size_t i = 1; i + 1 < n; i++)
		if (rest[i] == '-')
			return true;
	return false;
}

/* Skips 1..9 ASCII digits; returns the new position or NULL. */
static const char *skip_digits(const char *p, size_t min, size_t max)
{
	size_t n = 0;
	while (is_digit((unsigned char)p[n]))
		n++;
	if (n < min || n > max)
		return NULL;
	return p + n;
}

bool li707_check_etsi_version(const char *s)
{
	/* TS 103 120 ETSIVersion: V\d+\.\d+\.\d+ (each number 1..9 digits here) */
	if (!s || s[0] != 'V')
		return false;
	const char *p = s + 1;
	for (int i = 0; i < 3; i++) {
		p = skip_digits(p, 1, 9);
		if (!p)
			return false;
		if (i < 2) {
			if (*p != '.')
				return false;
			p++;
		}
	}
	return *p == '\0';
}

bool li707_check_sha256_hex(const char *s)
{
	/* TS 103 707 Table 8 checksum, R-CORE-5 */
	if (!s)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!is_hex((unsigned char)s[i]))
			return false;
	return s[64] == '\0';
}

/* ---- MIME type (RFC 6838 4.2, RFC 9110 8.3.1) ---- */

static bool is_restricted_name_char(unsigned char c)
{
	return is_alnum(c) || (c && strchr("!#$&-^_.+", c));
}

static bool is_tchar(unsigned char c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* restricted-name = restricted-name-first *126restricted-name-chars */
static const char *skip_restricted_name(const char *p)
{
	if (!is_alnum((unsigned char)*p))
		return NULL;
	size_t n = 1;
	while (is_restricted_name_char((unsigned char)p[n]))
		n++;
	return n <= 127 ? p + n : NULL;
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *skip_token(const char *p)
{
	const char *q = p;
	while (is_tchar((unsigned char)*q))
		q++;
	return q > p ? q : NULL;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, ASCII only */
static const char *skip_quoted_string(const char *p)
{
	if (*p != '"')
		return NULL;
	for (p++;; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c == '\\') {
			unsigned char e = (unsigned char)p[1];
			if (!(e == '\t' || (e >= 0x20 && e <= 0x7e)))
				return NULL;
			p++;
		} else if (!(c == '\t' || (c >= 0x20 && c <= 0x7e))) {
			return NULL; /* includes NUL: unterminated */
		}
	}
}

bool li707_check_mime_type(const char *s)
{
	/* R-CORE-5: contentType is an RFC 6838 MIME type */
	if (!s)
		return false;
	const char *p = skip_restricted_name(s);
	if (!p || *p != '/')
		return false;
	p = skip_restricted_name(p + 1);
	if (!p)
		return false;
	while (*p) {
		p = skip_ows(p);
		if (*p != ';')
			return false;
		p = skip_ows(p + 1);
		p = skip_token(p);
		if (!p || *p != '=')
			return false;
		p++;
		const char *v = *p == '"' ? skip_quoted_string(p) : skip_token(p);
		if (!v)
			return false;
		p = v;
	}
	return true;
}

/* ---- URIs (RFC 3986) ---- */

#define URL_MAX 8192

static bool is_unreserved(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(unsigned char c)
{
	return c && strchr("!$&'()*+,;=", c) != NULL;
}

/* Checks a pct-encoded triplet at p (p[0] == '%'). */
static bool pct_ok(const char *p)
{
	return is_hex((unsigned char)p[1]) && is_hex((unsigned char)p[2]);
}

/* RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); returns the ':' or NULL. */
static const char *skip_scheme(const char *s)
{
	if (!is_alpha((unsigned char)s[0]))
		return NULL;
	const char *p = s + 1;
	while (is_alnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	return *p == ':' ? p : NULL;
}

/* Host of an https URL: IP-literal "[...]" (IPv6 characters) or reg-name / IPv4 address.
 * Returns the end of the host or NULL. */
static const char *skip_host(const char *p)
{
	const char *q = p;
	if (*q == '[') {
		q++;
		const char *start = q;
		while (is_hex((unsigned char)*q) || *q == ':' || *q == '.')
			q++;
		if (q == start || *q != ']')
			return NULL;
		return q + 1;
	}
	while (*q) {
		unsigned char c = (unsigned char)*q;
		if (c == '%') {
			if (!pct_ok(q))
				return NULL;
			q += 3;
		} else if (is_unreserved(c) || is_sub_delim(c)) {
			q++;
		} else {
			break;
		}
	}
	return q > p ? q : NULL;
}

bool li707_check_https_url(const char *s)
{
	/* R-SEC-1, R-CORE-5: binaryObject url is an absolute https URL */
	if (!s)
		return false;
	size_t len = strnlen(s, URL_MAX + 1);
	if (len > URL_MAX || len < 9)
		return false;
	if (strncasecmp(s, "https://", 8) != 0)
		return false;
	const char *p = skip_host(s + 8);
	if (!p)
		return false;
	if (*p == ':') {
		const char *e = skip_digits(p + 1, 1, 5);
		if (!e)
			return false;
		unsigned long port = strtoul(p + 1, NULL, 10);
		if (port < 1 || port > 65535)
			return false;
		p = e;
	}
	if (*p && *p != '/' && *p != '?')
		return false; /* '@' (user info) or another character after the host */
	/* path-abempty [ "?" query ]: pchar / "/" / "?" ; no fragment */
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '%') {
			if (!pct_ok(p))
				return false;
			p += 2;
		} else if (!(is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' ||
			     c == '/' || c == '?')) {
			return false;
		}
	}
	return true;
}

bool li707_check_uri(const char *s)
{
	/* Absolute URI (RFC 3986 scheme ":" ...), for schemaURL; non-ASCII (IRI) allowed. */
	if (!s)
		return false;
	size_t len = strnlen(s, URL_MAX + 1);
	if (len > URL_MAX)
		return false;
	const char *p = skip_scheme(s);
	if (!p || p[1] == '\0')
		return false;
	for (p++; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' ||
		    c == '^' || c == '`' || c == '{' || c == '|' || c == '}')
			return false;
		if (c == '%') {
			if (!pct_ok(p))
				return false;
			p += 2;
		}
	}
	return true;
}

/* ---- xs:nonNegativeInteger, xs:boolean ---- */

bool li707_parse_uint(const char *s, uint64_t *out)
{
	/* xs:nonNegativeInteger: [+]?[0-9]+ ; "-0" (all zeros) is also in its lexical space. */
	if (!s)
		return false;
	const char *p = s;
	bool neg = false;
	if (*p == '+') {
		p++;
	} else if (*p == '-') {
		neg = true;
		p++;
	}
	if (!is_digit((unsigned char)*p))
		return false;
	uint64_t v = 0;
	for (; *p; p++) {
		if (!is_digit((unsigned char)*p))
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg && v != 0)
		return false;
	if (out)
		*out = v;
	return true;
}

bool li707_parse_bool(const char *s, bool *out)
{
	bool v;
	if (!s)
		return false;
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		v = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		v = false;
	else
		return false;
	if (out)
		*out = v;
	return true;
}

/* ---- UTF-8 ---- */

bool li707_check_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!s && len)
		return false;
	size_t i = 0;
	while (i < len) {
		unsigned char c = p[i];
		if (c < 0x80) {
			/* XML 1.0 Char: no NUL, no C0 control except TAB LF CR */
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return false;
			i++;
			continue;
		}
		size_t n;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false; /* continuation byte, overlong lead C0/C1, or F5..FF */
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe ||
		    cp == 0xffff)
			return false;
		i += n;
	}
	return true;
}

/* ---- time ---- */

bool li707__is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && li707__is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly n digits at *p into *v. */
static bool read_num(const char **p, size_t n, int *v)
{
	int x = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)(*p)[i];
		if (!is_digit(c))
			return false;
		x = x * 10 + (c - '0');
	}
	*p += n;
	*v = x;
	return true;
}

enum dt_form { DT_QUALIFIED, DT_QUALIFIED_USEC, DT_RFC3339 };

static bool parse_datetime(const char *s, enum dt_form form, struct li707_time *out)
{
	if (!s)
		return false;
	const char *p = s;
	int y, mo, d, h, mi, se, oh = 0, om = 0;
	uint32_t usec = 0;
	bool rfc = form == DT_RFC3339;
	if (!read_num(&p, 4, &y) || *p++ != '-' || !read_num(&p, 2, &mo) || *p++ != '-' ||
	    !read_num(&p, 2, &d))
		return false;
	if (!(*p == 'T' || (rfc && *p == 't')))
		return false;
	p++;
	if (!read_num(&p, 2, &h) || *p++ != ':' || !read_num(&p, 2, &mi) || *p++ != ':' ||
	    !read_num(&p, 2, &se))
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || se > 59)
		return false;
	if (*p == '.') {
		if (form == DT_QUALIFIED)
			return false;
		p++;
		size_t nd = 0;
		uint32_t frac = 0;
		while (is_digit((unsigned char)p[nd])) {
			if (nd < 6)
				frac = frac * 10 + (uint32_t)(p[nd] - '0');
			nd++;
		}
		if (nd == 0 || (form == DT_QUALIFIED_USEC && nd != 6) || nd > 9)
			return false;
		for (size_t k = nd; k < 6; k++)
			frac *= 10;
		usec = frac; /* digits beyond the sixth are truncated */
		p += nd;
	} else if (form == DT_QUALIFIED_USEC) {
		return false;
	}
	int sign = 0;
	if (*p == 'Z' || (rfc && *p == 'z')) {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (!read_num(&p, 2, &oh) || *p++ != ':' || !read_num(&p, 2, &om))
			return false;
		if (om > 59)
			return false;
		/* XSD dateTime: |offset| <= 14:00; RFC 3339 allows any hh 00-23. */
		if (rfc ? oh > 23 : (oh > 14 || (oh == 14 && om != 0)))
			return false;
	} else {
		return false;
	}
	if (*p != '\0')
		return false;
	int off = sign * (oh * 60 + om);
	if (out) {
		int64_t days = days_from_civil(y, mo, d);
		out->epoch = days * 86400 + h * 3600 + mi * 60 + se - (int64_t)off * 60;
		out->usec = usec;
		out->offset_min = off;
	}
	return true;
}

bool li707_parse_qualified_datetime(const char *s, struct li707_time *out)
{
	/* TS 103 280 QualifiedDateTime, R-CORE-2 */
	return parse_datetime(s, DT_QUALIFIED, out);
}

bool li707_parse_qualified_usec_datetime(const char *s, struct li707_time *out)
{
	/* TS 103 280 QualifiedMicrosecondDateTime (TS 103 120 header Timestamp, R-DEL-3) */
	return parse_datetime(s, DT_QUALIFIED_USEC, out);
}

bool li707_parse_rfc3339(const char *s, struct li707_time *out)
{
	return parse_datetime(s, DT_RFC3339, out);
}

int li707_time_format(const struct li707_time *t, bool usec, char out[33])
{
	if (!t || !out || t->usec >= 1000000 || t->offset_min > 14 * 60 ||
	    t->offset_min < -14 * 60)
		return LI707_EINVAL;
	/* Guard the arithmetic: any epoch outside years 1..9999 is refused below. */
	if (t->epoch < -70000000000LL || t->epoch > 300000000000LL)
		return LI707_EINVAL;
	int64_t local = t->epoch + (int64_t)t->offset_min * 60;
	int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	int64_t secs = local - days * 86400;
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 1 || y > 9999)
		return LI707_EINVAL;
	char buf[40];
	int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, m, d,
			 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	if (usec)
		n += snprintf(buf + n, sizeof buf - (size_t)n, ".%06u", (unsigned)t->usec);
	if (t->offset_min == 0) {
		snprintf(buf + n, sizeof buf - (size_t)n, "Z");
	} else {
		int a = t->offset_min < 0 ? -t->offset_min : t->offset_min;
		snprintf(buf + n, sizeof buf - (size_t)n, "%c%02d:%02d",
			 t->offset_min < 0 ? '-' : '+', a / 60, a % 60);
	}
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

int li707_time_now(struct li707_time *out)
{
	struct timespec ts;
	if (!out)
		return LI707_EINVAL;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -errno;
	out->epoch = (int64_t)ts.tv_sec;
	out->usec = (uint32_t)(ts.tv_nsec / 1000);
	out->offset_min = 0;
	return 0;
}

/* ---- SHA-256 ---- */


#define SHA_FILE_BUF (1u << 20)

int li707_sha256_file(const char *path, char hex_out[65], uint64_t *size_out)
{
	if (!path || !hex_out)
		return LI707_EINVAL;
	int rc = 0;
	uint64_t total = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char *buf = NULL;
	EVP_MD_CTX *ctx = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(SHA_FILE_BUF);
	if (!buf) {
		rc = LI707_ENOMEM;
		goto out_close;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		rc = LI707_ENOMEM;
		goto out_free;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = LI707_ECRYPTO;
		goto out_ctx;
	}
	for (;;) {
		ssize_t n = read(fd, buf, SHA_FILE_BUF);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out_ctx;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			rc = LI707_ECRYPTO;
			goto out_ctx;
		}
		total += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		rc = LI707_ECRYPTO;
		goto out_ctx;
	}
	li707_hex_encode(md, 32, hex_out);
	if (size_out)
		*size_out = total;
out_ctx:
	EVP_MD_CTX_free(ctx);
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

int li707_sha256_hex(const void *buf, size_t len, char hex_out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if ((!buf && len) || !hex_out)
		return LI707_EINVAL;
	if (EVP_Digest(buf ? buf : "", len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return LI707_ECRYPTO;
	li707_hex_encode(md, 32, hex_out);
	return 0;
}

/* ---- growth (util.h) ---- */

#define ARRAY_FIRST_BYTES 64

int li707_array_grow(void **arr, size_t *cap, size_t need, size_t elem_size, size_t max_elems)
{
	if (!arr || !cap || !elem_size)
		return LI707_EINVAL;
	if (need <= *cap)
		return 0;
	if (need > max_elems)
		return LI707_ELIMIT;
	size_t fit = SIZE_MAX / elem_size; /* most elements whose size fits in size_t */
	if (need > fit)
		return LI707_ENOMEM;
	size_t top = max_elems < fit ? max_elems : fit;
	size_t nc = *cap;
	if (!nc) {
		nc = ARRAY_FIRST_BYTES / elem_size;
		if (!nc)
			nc = 1;
	}
	while (nc < need)
		nc = nc > top / 2 ? top : nc * 2;
	if (nc > top)
		nc = top;
	/* The caller's pointer may be of any object type: it is read and written as bytes so
	 * that no pointer type is accessed through another. */
	void *old;
	memcpy(&old, arr, sizeof old);
	void *p = realloc(old, nc * elem_size);
	if (!p)
		return LI707_ENOMEM;
	memcpy(arr, &p, sizeof p);
	*cap = nc;
	return 0;
}

void li707_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}
