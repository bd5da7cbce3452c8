/* li707-lea - internals shared by the analyst's commands (lea_query*.c, lea_cli.h):
 *
 *   lea_query.c         options shared by every command, opening the store, output helpers,
 *                       `list` and `status`
 *   lea_query_show.c    `show`, and the JSON document of one stored item (also exported)
 *   lea_query_export.c  `export`
 *
 * Output policy: these commands print what the LEA's own store holds, target identifiers
 * included (that is what the analyst asked for), on stdout. Messages on stderr never quote a
 * reference, a party identifier, a file name taken from a message, or message content
 * (R-SEC-6): they name items by their store id and attachments by their position. */
#ifndef LI707_LEA_QUERY_INT_H
#define LI707_LEA_QUERY_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "li707/util.h"
#include "store.h"

#define LQ_EXIT_USAGE 2

/* The most rows one query collects in memory (status rows, gaps, exported files, messages
 * and items): past it the query fails with LI707_ELIMIT instead of growing without bound. */
#define LQ_ROWS_MAX ((size_t)1 << 24)

/* Room for element n (0-based) of a collected array: li707_array_grow capped at LQ_ROWS_MAX. */
static inline int lq_grow(void **v, size_t *cap, size_t n, size_t size)
{
	return li707_array_grow(v, cap, n + 1, size, LQ_ROWS_MAX);
}

/* The store options every command takes (--config FILE | --store DIR). */
struct lq_store_opt {
	const char *config;
	const char *store;
};

/* getopt_long values of the shared options (outside the char range). */
enum { LQ_OPT_CONFIG = 0x300, LQ_OPT_STORE, LQ_OPT_CMD_BASE = 0x310 };

#define LQ_STORE_LONGOPTS                                       \
	{"config", required_argument, NULL, LQ_OPT_CONFIG},     \
	{"store", required_argument, NULL, LQ_OPT_STORE},       \
	{"help", no_argument, NULL, 'h'}

/* The help lines of the shared options. */
extern const char lq_store_help[];

/* Handles a shared option: 0 taken, 2 usage error (printed), -1 not a shared option. */
int lq_store_option(struct lq_store_opt *o, const char *cmd, int c, const char *arg);

/* Opens the store read-only: --store DIR, else the `store` of --config FILE, else the one of
 * LEA_CONFIG_DEFAULT. Prints the reason and returns the exit status on failure, 0 on
 * success. The configuration is parsed without opening the files it names (an analyst needs
 * no TLS keys). */
int lq_store_open(const struct lq_store_opt *o, const char *cmd, struct lea_store **out);

/* Prints "li707-lea CMD: message (try 'li707-lea CMD --help')" as one line; returns 2. */
int lq_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one-line text for a getopt_long '?' result; never quotes a value given with '='. */
int lq_bad_option(const char *cmd, int argc, char **argv);
/* Prints "li707-lea CMD: message" and returns li707_exit_code(code). */
int lq_fail(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses a store item id (decimal, 1 .. INT64_MAX). */
bool lq_parse_id(const char *s, int64_t *out);

/* epoch seconds as "YYYY-MM-DDThh:mm:ssZ" (out[32]). */
void lq_time_utc(int64_t t, char out[32]);

/* A copy of s safe to print in a table, a tab-separated line or a terminal: backslash, tab,
 * LF and CR become \\ \t \n \r, other C0 controls and DEL \xHH, C1 controls (U+0080-U+009F,
 * which some terminals obey) \u00HH, bidi embedding, override and isolate controls
 * (U+202A-U+202E, U+2066-U+2069) \u20HH, bytes that are not UTF-8 \xHH. keep_layout: backslash,
 * tab and LF are left as they are (multi-line text for a person). NULL for NULL or ENOMEM. */
char *lq_escape(const char *s, bool keep_layout);

/* Writes the output, checking stdout at the end: 0, or 3 with a message when it failed. */
int lq_flush_stdout(const char *cmd);

/* ---- one stored item (lea_query_show.c) ---- */

/* Whether the SHA-256 of stored data (hex) matches the record's checksum (hex, any case):
 * LI707_ABSENT when either is unknown. */
enum li707_tristate lq_sha256_match(const char *stored, const char *record);

/* The JSON document of `show --json` and of export's items/ITEM.json: the store's fields
 * (id, received, peer, transaction, delivery, item position, attachments with their state,
 * the CSP schema content in effect, R-CSP-2) and "item": lx_json_item(). NULL on ENOMEM. */
json_t *lq_item_json(const struct lea_item_detail *d);

/* ---- Model A/C retrievals (lea_query_fetch.c) ---- */

/* The counts of the retrieval states (to-fetch, fetching, complete, mismatch, expired):
 * a JSON object, or one "  retrievals  ..." line on stdout. */
json_t *lq_fetch_counts_json(const uint64_t n[LEA_ATT_NSTATES]);
void lq_fetch_counts_text(const uint64_t n[LEA_ATT_NSTATES]);

/* Dumps a JSON document (indented, keys in order, final newline) to f: 0 or LI707_ENOMEM. */
int lq_json_dump(json_t *j, FILE *f);

#endif
