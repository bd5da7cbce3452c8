/* li707 - value checks and helpers shared by the codec, the tools and the daemons.
 * Each check returns true when the value is valid; none of them allocate. */
#ifndef LI707_UTIL_H
#define LI707_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a fresh random (version 4) UUID, lower case, into out[37]. */
int li707_uuid_new(char out[37]);
/* Canonical UUID text: 8-4-4-4-12 lower-case hex (TS 103 280 UUID). */
bool li707_check_uuid(const char *s);
/* Two upper-case letters that are an ISO 3166-1 alpha-2 code or a user-assigned code
 * (AA, QM-QZ, XA-XZ, ZZ; "XX" is what TS 103 707 Table 1 uses for "not given"). */
bool li707_check_country(const char *s);
/* TS 103 280 LIID: 1-25 printable ASCII (0x21-0x7e), or 26-50 lower-case hex digits. */
bool li707_check_liid(const char *s);
/* TS 103 280 LDID: "CC-x-y": ISO country code, '-', one or more chars, '-', one or more. */
bool li707_check_ldid(const char *s);
/* TS 103 120 ETSIVersion: V<digits>.<digits>.<digits>. */
bool li707_check_etsi_version(const char *s);
/* 64 hexadecimal digits (either case). */
bool li707_check_sha256_hex(const char *s);
/* RFC 6838 type/subtype with optional ;name=value parameters. */
bool li707_check_mime_type(const char *s);
/* Absolute https URL with a host, no user info, no fragment, no spaces or controls. */
bool li707_check_https_url(const char *s);
/* Absolute URI of any scheme (for schemaURL). */
bool li707_check_uri(const char *s);
/* xs:nonNegativeInteger lexical form that fits in uint64_t; stores the value. */
bool li707_parse_uint(const char *s, uint64_t *out);
/* xs:boolean: true/false/1/0. */
bool li707_parse_bool(const char *s, bool *out);
/* Valid UTF-8 without NUL or XML-forbidden controls. */
bool li707_check_utf8(const char *s, size_t len);

/* Time in TS 103 280 forms. A parsed time: seconds since the epoch (UTC), microseconds,
 * and the offset in minutes that was written. */
struct li707_time {
	int64_t epoch;
	uint32_t usec;
	int offset_min;
};
/* QualifiedDateTime: YYYY-MM-DDThh:mm:ss(Z|+hh:mm|-hh:mm), a real calendar date and time. */
bool li707_parse_qualified_datetime(const char *s, struct li707_time *out);
/* QualifiedMicrosecondDateTime: as above with exactly six fraction digits. */
bool li707_parse_qualified_usec_datetime(const char *s, struct li707_time *out);
/* RFC 3339 date-time with offset (any number of fraction digits), for event input. */
bool li707_parse_rfc3339(const char *s, struct li707_time *out);
/* Formats t as QualifiedDateTime (usec=false) or QualifiedMicrosecondDateTime, keeping the
 * offset ("Z" for 0). out must hold 33 bytes. */
int li707_time_format(const struct li707_time *t, bool usec, char out[33]);
/* The current time with microseconds in UTC. */
int li707_time_now(struct li707_time *out);

/* SHA-256 of a file, as 64 lower-case hex digits; *size_out gets its length. */
int li707_sha256_file(const char *path, char hex_out[65], uint64_t *size_out);
/* SHA-256 of a buffer. */
int li707_sha256_hex(const void *buf, size_t len, char hex_out[65]);

/* Hexadecimal: the value of one digit (either case), or -1; n bytes as 2n lower-case digits
 * and a NUL; exactly 2n digits (either case) into n bytes, false on any other character. */
int li707_hex_value(int c);
void li707_hex_encode(const void *bytes, size_t n, char *out);
bool li707_hex_decode(const char *s, size_t n, uint8_t *out);

/* TS103707 R-BIN-B1, Model B: the object's UUID in a path "PREFIX{uuid}" or "PREFIX{uuid}/"
 * (nothing else after it; hex in either case), lower-cased into out. The _url form takes an
 * absolute URL ("scheme://authority/path") and applies the rule to its path. */
bool li707_binary_path_uuid(const char *path, const char *prefix, char out[37]);
bool li707_binary_url_uuid(const char *url, const char *prefix, char out[37]);

/* The one growth rule for arrays (and for lx_dynbuf's bytes): makes room for at least need
 * elements of elem_size bytes in *arr, whose capacity is *cap elements. Nothing happens when
 * need <= *cap. Otherwise the capacity doubles (the first allocation holds 64 bytes' worth of
 * elements, at least one) until it holds need, and never passes max_elems. Returns 0,
 * LI707_ELIMIT when need > max_elems, LI707_ENOMEM when the size does not fit in size_t or
 * realloc fails, LI707_EINVAL on a NULL pointer or elem_size 0. On failure *arr and *cap are
 * unchanged (the old array stays valid and is still the caller's). Every caller sets a real
 * max_elems: there is no "unlimited". */
int li707_array_grow(void **arr, size_t *cap, size_t need, size_t elem_size, size_t max_elems);

/* Wipes len bytes in a way the compiler cannot drop. */
void li707_wipe(void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
