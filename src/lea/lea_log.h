/* li707-lea - logging: one line per event on stderr, "li707-lea: LEVEL: text" (journald reads
 * the level from the prefix's wording; no timestamps: the journal adds its own).
 *
 * Thread-safe: each line is formatted into a buffer and written with one write(2), so lines
 * from concurrent requests never interleave. Lines longer than LEA_LOG_LINE_MAX are cut.
 *
 * R-SEC-6: callers never pass target identifiers (LIIDs/LDIDs, party identifiers), URLs of
 * requests, or message content. The peer name, ObjectIdentifiers, upload UUIDs, HTTP statuses,
 * counts, byte sizes and durations are fine. */
#ifndef LI707_LEA_LOG_H
#define LI707_LEA_LOG_H

#include <stdbool.h>

#include "lea_config.h"

#define LEA_LOG_LINE_MAX 1024

/* The level in force (atomic; SIGHUP may change it while requests log). */
void lea_log_set_level(enum lea_log_level l);
enum lea_log_level lea_log_get_level(void);
bool lea_log_enabled(enum lea_log_level l);

/* "error", "warn", "info", "debug" <-> level; false for unknown names. */
bool lea_log_parse_level(const char *s, enum lea_log_level *out);
const char *lea_log_level_name(enum lea_log_level l);

/* Writes one line when l is enabled. */
void lea_log(enum lea_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lea_err(...) lea_log(LEA_LOG_ERROR, __VA_ARGS__)
#define lea_warn(...) lea_log(LEA_LOG_WARN, __VA_ARGS__)
#define lea_info(...) lea_log(LEA_LOG_INFO, __VA_ARGS__)
#define lea_debug(...) lea_log(LEA_LOG_DEBUG, __VA_ARGS__)

#endif
