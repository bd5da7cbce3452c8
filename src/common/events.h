/* li707 common - the event input format (JSON Lines), shared by `li707 build` and the CSP
 * daemon. docs/events.md describes every key; this header is the API.
 *
 * One line is one event: a JSON object describing one handover item (TS 103 707 clause 5)
 * and the Reference (LIID or LDID) it belongs to. lx_event_parse() turns a line into a
 * struct li707_item of the library model plus the data the model does not carry (reference,
 * per-attachment delivery model and file path). Attachment files are hashed (SHA-256) and
 * measured while parsing; their URLs are formed from the configured URL schemes with a fresh
 * UUID each (TS 103 707 Annex C, R-BIN-B1).
 *
 * Error texts name the offending field ("sender.ids[1].format: ...") and never contain the
 * value of a field (R-SEC-6): they may go to logs. Nothing here logs or prints.
 * Outputs are written only on success. */
#ifndef LX_COMMON_EVENTS_H
#define LX_COMMON_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "li707/li707.h"

#define LX_EVENT_CSP_URL_DEFAULT "https://csp.invalid/li707/binary/{uuid}"
#define LX_EVENT_LEA_URL_DEFAULT "https://lea.invalid/binaryData/{uuid}/"
#define LX_EVENT_EXPIRY_DEFAULT (7 * 24 * 3600)       /* seconds */
#define LX_EVENT_EXPIRY_MAX (10LL * 366 * 24 * 3600)  /* ten years */
#define LX_EVENT_LINE_MAX_DEFAULT ((size_t)16 << 20)  /* 16 MiB per line */
#define LX_EVENT_CONTENT_TYPE_DEFAULT "application/octet-stream"
#define LX_EVENT_ERR_LEN 256                          /* enough for any error text */

/* Options. Zero / NULL members mean "the default" (in brackets). */
struct lx_event_opts {
	const char *base_dir;       /* attachment paths are relative to it ["."] */
	const char *csp_url_scheme; /* models A and C: template with "{uuid}" [CSP default] */
	const char *lea_url_scheme; /* model B: the LEA's scheme, "{uuid}" [LEA default] */
	int64_t expiry_seconds;     /* expiry = now + this [7 days]; 1..LX_EVENT_EXPIRY_MAX */
	int64_t now;                /* epoch seconds used for expiry [the current time] */
	size_t max_line_bytes;      /* longest accepted line [16 MiB] */
	/* li707-csp: */
	bool conversation_ok;       /* accept "conversation" (the caller allocates the
				     * applicationCorrelation from it); else the key is refused */
	bool absolute_paths;        /* attachment paths may be absolute (the caller confines
				     * them to its allowed directories) */
	bool defer_files;           /* attachment files are not opened here (the caller takes
				     * them, measures and hashes them once): checksum and
				     * content length stay unset; "model" may be absent (0) */
};

#define LX_EVENT_CONVERSATION_MAX 256 /* bytes of a "conversation" key */

/* TS 103 707 Annex C delivery models. */
enum lx_event_model {
	LX_EVENT_MODEL_A = 'A', /* CSP hosts the URL, LEA GETs it (R-BIN-A1) */
	LX_EVENT_MODEL_B = 'B', /* CSP POSTs to the LEA's URL (R-BIN-B1..B3) */
	LX_EVENT_MODEL_C = 'C', /* CSP hosts the URL, LEA uses Range GETs (R-BIN-C1) */
};

/* What an attachment needs beyond its binaryObject record. */
struct lx_event_attachment {
	enum lx_event_model model;  /* 0: absent (only with defer_files) */
	char *path;                 /* the file: base_dir joined with the event's path */
	char uuid[LI707_UUID_LEN + 1]; /* the object identifier put into its url */
};

/* One parsed event. item.attachments[i] belongs with attachments[i]. */
struct lx_event {
	enum li707_ref_kind ref_kind;
	char *reference;            /* the LIID or LDID */
	struct li707_item item;     /* owned; may be moved out (then zero it) */
	struct lx_event_attachment *attachments; /* owned, n_attachments of them */
	size_t n_attachments;       /* = item.n_attachments as parsed */
	char *conversation;         /* "conversation" key (conversation_ok), or NULL: never logged */
};

/* Frees the members of ev and zeroes it. Accepts NULL and a zeroed event. */
void lx_event_clear(struct lx_event *ev);

/* Checks the options (URL schemes contain "{uuid}" exactly once and give an https URL,
 * expiry in range). Returns 0, or LI707_EINVAL with a message in err. */
int lx_event_opts_check(const struct lx_event_opts *o, char *err, size_t errlen);

/* Parses one line (without its newline; need not be NUL-terminated) into *out.
 * Returns 0; LI707_EINPUT with a message naming the field in err (of errlen bytes) for a bad
 * event (bad JSON, unknown key, wrong type, bad value, unreadable attachment file);
 * LI707_ENOMEM; LI707_ECRYPTO. *out is written only on success. o may be NULL. */
int lx_event_parse(const char *line, size_t len, const struct lx_event_opts *o,
		      struct lx_event *out, char *err, size_t errlen);

/* Checks a parsed event with the library's own rules (the checker behind
 * li707_message_encode: string lengths, MIME types, URLs, well-formed CSP XML, ...) by
 * encoding it as a one-item delivery. Returns 0, or LI707_EINPUT with the first finding's
 * element path and message in err (no values), or LI707_ENOMEM. */
int lx_event_check(const struct lx_event *ev, char *err, size_t errlen);

/* True for a line holding only JSON whitespace (blank lines are skipped, not events). */
bool lx_event_line_blank(const char *line, size_t len);

/* Reads JSON Lines from a stream with a cap on the line length. */
struct lx_event_reader {
	FILE *f;          /* borrowed */
	size_t max;       /* longest line accepted (bytes, without the newline) */
	long line;        /* 1-based number of the line last returned */
	char *buf;        /* owned */
	size_t cap;
};

/* Starts reading f; max 0 = LX_EVENT_LINE_MAX_DEFAULT. */
void lx_event_reader_init(struct lx_event_reader *r, FILE *f, size_t max);
void lx_event_reader_done(struct lx_event_reader *r);

/* Next line into *line (borrowed until the next call, NUL-terminated, without "\n") and
 * *len. Returns 1 for a line, 0 at the end of input, LI707_ELIMIT for a line longer than the
 * cap (r->line is its number; the rest of it was skipped, reading can go on), -errno for a
 * read error, LI707_ENOMEM. A last line without a newline counts. */
int lx_event_reader_next(struct lx_event_reader *r, const char **line, size_t *len);

#endif
