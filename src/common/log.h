/* li707 common - daemon logging: one line per event on stderr, "PROGRAM: LEVEL: text" (journald
 * reads the level from the prefix's wording; no timestamps: the journal adds its own). PROGRAM
 * is the daemon's name (lx_log_set_program, "li707-lea"), set once before any thread starts.
 * Moved from src/lea/lea_log.h; the lea_ names remain as aliases in lea_log.h.
 *
 * Thread-safe: each line is formatted into a buffer and written with one write(2), so lines
 * from concurrent requests never interleave. Lines longer than LX_LOG_LINE_MAX are cut;
 * control characters are written as '?'.
 *
 * R-SEC-6: callers never pass target identifiers (LIIDs/LDIDs, party identifiers), URLs of
 * requests, or message content. Peer names, ObjectIdentifiers, upload UUIDs, HTTP statuses,
 * counts, byte sizes and durations are fine. Library code never logs. */
#ifndef LX_COMMON_LOG_H
#define LX_COMMON_LOG_H

#include <stdbool.h>

enum lx_log_level { LX_LOG_ERROR = 0, LX_LOG_WARN = 1, LX_LOG_INFO = 2, LX_LOG_DEBUG = 3 };

#define LX_LOG_LINE_MAX 1024

/* The program name of every line (the string is borrowed; default "li707"). Not
 * thread-safe: call it before starting threads. */
void lx_log_set_program(const char *name);

/* The level in force (atomic; SIGHUP may change it while requests log). */
void lx_log_set_level(enum lx_log_level l);
enum lx_log_level lx_log_get_level(void);
bool lx_log_enabled(enum lx_log_level l);

/* "error", "warn", "info", "debug" <-> level ("warning" is accepted too); false for unknown
 * names. */
bool lx_log_parse_level(const char *s, enum lx_log_level *out);
const char *lx_log_level_name(enum lx_log_level l);

/* Writes one line when l is enabled. */
void lx_log(enum lx_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lx_err(...) lx_log(LX_LOG_ERROR, __VA_ARGS__)
#define lx_warn(...) lx_log(LX_LOG_WARN, __VA_ARGS__)
#define lx_info(...) lx_log(LX_LOG_INFO, __VA_ARGS__)
#define lx_debug(...) lx_log(LX_LOG_DEBUG, __VA_ARGS__)

#endif
