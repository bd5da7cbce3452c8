/* li707-csp - the append-only, hash-chained audit log (TS 103 707 Annex D.3.1, D.4;
 * R-SEC-6, R-SEC-7). docs/internals/csp-audit.md.
 *
 * What was delivered to whom, when, with what outcome: one JSON object per line, each line
 * carrying the SHA-256 of the line before it ("prev") and of itself ("hash"), so that an
 * edited, deleted, inserted or reordered line breaks the chain at a line `csp_audit_check`
 * names. Records never hold a target identifier: a reference is named by its integer ref key
 * (the store's refs.id); the store maps the key to the LIID/LDID while the reference is open
 * and to the LEA-supplied Annex D.4 hash after it is closed, so closing never rewrites the
 * chain. Every field of a record is an integer, an enum, a UUID or a configuration name
 * checked against a narrow alphabet: there is no free-text field that could carry an LIID,
 * a party identifier, an ErrorInformation text or content.
 *
 * Durability: csp_audit_append() writes the line and fdatasync()s the log (then the anchor
 * file, below) before it returns; csp_audit_append_batch() writes several lines with one
 * write and one fdatasync (group fsync: all of them are durable when it returns, none is
 * acknowledged before). Appends from several threads are serialised by the log's mutex, so
 * the chain stays linear.
 *
 * Anchor: PATH.anchor holds the sequence number and hash of the last durable record, written
 * in place after the log's fdatasync. It lets `check` see lines cut off the end at a line
 * boundary, which the chain alone cannot show. It may lag one append behind the log after a
 * crash (the log is synced first): records after the anchor are accepted, a log that ends
 * before the anchor is not.
 *
 * Crash safety: a torn last line (a write cut by kill -9 or power loss: the append never
 * returned, so nobody was told it was recorded) is found at open. csp_audit_open() refuses it
 * (LI707_EDAMAGED) unless CSP_AUDIT_RECOVER is given: then the torn bytes are cut off, the
 * file is synced, and a "recovered" record with the number of bytes cut is appended, so the
 * repair itself is in the chain; the caller logs a warning with csp_audit_info. Damage other
 * than a torn tail (a complete line that does not verify) is never repaired: open fails with
 * LI707_EDAMAGED and `li707-csp audit check` names the line.
 *
 * Thread safety: one struct csp_audit may be shared by threads. The library never logs. */
#ifndef LI707_CSP_AUDIT_H
#define LI707_CSP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CSP_AUDIT_LINE_MAX 1024 /* bytes of one record line, newline included */
#define CSP_AUDIT_LEA_MAX 64    /* bytes of an [lea NAME] */
#define CSP_AUDIT_HASH_HEX 65   /* 64 hex digits + NUL */
/* The "prev" of the first record (documented in docs/internals/csp-audit.md). */
#define CSP_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* What happened. The names (csp_audit_event_name) are the "event" field. */
enum csp_audit_event {
	CSP_AUDIT_OPENED = 1,   /* the daemon opened the log (start) */
	CSP_AUDIT_RECOVERED,    /* a torn tail was cut at open (bytes = bytes cut) */
	CSP_AUDIT_REF_ADD,      /* a reference was added (ref) */
	CSP_AUDIT_REF_CLOSE,    /* a reference was closed: its LIID/LDID is gone from the store */
	CSP_AUDIT_REVIEW,       /* a delivery was approved or rejected by a person */
	CSP_AUDIT_DELIVERY,     /* a DeliveryObject was sent to a LEA (outcome below) */
	CSP_AUDIT_PUSH,         /* a Model B object was pushed (outcome = the LEA's verdict) */
	CSP_AUDIT_FETCH,        /* the file server answered a request for a known Model A/C
				 * object token (outcome: served, partial, refused-wrong-client,
				 * refused-expired, failed), written after the bytes went out */
	CSP_AUDIT_EVENT_END
};

/* The outcome. Names (csp_audit_outcome_name) are the "outcome" field. */
enum csp_audit_outcome {
	CSP_AUDIT_NONE = 0,      /* no outcome (opened, ref add/close) */
	CSP_AUDIT_DONE,          /* delivery acknowledged (DELIVERResponse) */
	CSP_AUDIT_RETRY,         /* transient failure, will be retried */
	CSP_AUDIT_PARKED,        /* ErrorInformation: parked for the operator */
	CSP_AUDIT_DROPPED,       /* dropped by the operator */
	CSP_AUDIT_APPROVED,      /* review */
	CSP_AUDIT_REJECTED,      /* review */
	CSP_AUDIT_STORED,        /* Model B verdicts (csp_push.h) */
	CSP_AUDIT_MISMATCH,
	CSP_AUDIT_REFUSED,
	CSP_AUDIT_PARTIAL,       /* fetch: the client went away before the whole answer left */
	CSP_AUDIT_SERVED,        /* fetch: the whole answer (object, ranges, HEAD, 416) went out */
	CSP_AUDIT_REFUSED_PEER,  /* fetch: another LEA asked (it got the one 404, R-BIN-A2) */
	CSP_AUDIT_REFUSED_EXPIRED, /* fetch: the object had expired (the one 404, R-BIN-A3) */
	CSP_AUDIT_FAILED,        /* fetch: the allowed LEA got 500 (the spool file is missing or
				  * has another size) */
	CSP_AUDIT_OUTCOME_END
};

/* One record. No field can hold a target identifier (see above): ref is the integer key,
 * object a UUID, lea a configuration section name ([A-Za-z0-9._-], 1..64 bytes). */
struct csp_audit_record {
	enum csp_audit_event event;
	enum csp_audit_outcome outcome;
	int64_t ref;            /* refs.id (ref key); 0: none */
	const char *lea;        /* [lea NAME] or NULL */
	int64_t delivery;       /* deliveries.id; 0: none */
	int64_t seq;            /* the DeliveryObject's SequenceNumber; 0: none */
	const char *object;     /* ObjectIdentifier or binaryObject UUID, or NULL */
	int64_t bytes;          /* bytes moved (or cut, for RECOVERED); -1: none */
	int http_status;        /* final HTTP status, 0: none */
	int error_code;         /* HI-1 ErrorInformation code, or a li707 error code; 0: none */
	int64_t obj;            /* objects.id (the store's object key) ; 0: none */
	const char *range;      /* fetch: "whole" or "F-L[,F-L...][,+N]" (csp_xfer_range_text;
				 * digits and ",+-" only, at most CSP_AUDIT_RANGE_MAX), or NULL */
};
#define CSP_AUDIT_RANGE_MAX 95

/* Fills a record with "none" in every field (bytes -1). */
void csp_audit_record_init(struct csp_audit_record *r, enum csp_audit_event ev);

/* Checks a record (what append refuses): 0 or LI707_EINVAL. */
int csp_audit_record_check(const struct csp_audit_record *r);

const char *csp_audit_event_name(enum csp_audit_event e);     /* "?" when unknown */
const char *csp_audit_outcome_name(enum csp_audit_outcome o); /* "" for NONE */

struct csp_audit;

/* What open found. */
struct csp_audit_info {
	uint64_t records;      /* records in the log after open (recovered record included) */
	uint64_t torn_bytes;   /* bytes of a torn tail (cut when CSP_AUDIT_RECOVER) */
	bool recovered;        /* a torn tail was cut and a RECOVERED record appended */
};

#define CSP_AUDIT_RECOVER 1u /* cut a torn tail instead of refusing to open */

/* Opens (creates, mode 0600, O_APPEND) the log at path and its anchor PATH.anchor, reads the
 * last record to continue the chain. flags: CSP_AUDIT_RECOVER. info may be NULL.
 * Returns 0; LI707_EDAMAGED when the last line does not verify or a torn tail is found
 * without CSP_AUDIT_RECOVER; -errno for I/O; LI707_ENOMEM. *out is set only on success. */
int csp_audit_open(const char *path, unsigned flags, struct csp_audit **out,
		   struct csp_audit_info *info);

/* Appends one record and makes it durable (fdatasync) before returning. The time is now.
 * 0, LI707_EINVAL (bad record: nothing written), -errno (I/O: the log is then refused for
 * further appends until reopened, as its tail is unknown). */
int csp_audit_append(struct csp_audit *a, const struct csp_audit_record *r);

/* Appends n records with one write and one fdatasync (group fsync). All are checked first:
 * one bad record and nothing is written. */
int csp_audit_append_batch(struct csp_audit *a, const struct csp_audit_record *r, size_t n);

/* Sequence number and hash of the last record ("" and 0 for an empty log). */
uint64_t csp_audit_last(struct csp_audit *a, char hash[CSP_AUDIT_HASH_HEX]);

/* Closes. NULL is a no-op. */
void csp_audit_close(struct csp_audit *a);

/* The result of a check. */
struct csp_audit_report {
	uint64_t records;          /* records that verified */
	uint64_t line;             /* first bad line (1-based), 0 when all is well */
	char why[160];             /* what is wrong with it, "" when all is well */
	char last_hash[CSP_AUDIT_HASH_HEX]; /* hash of the last good record */
	bool torn;                 /* the file ends in a torn (incomplete) line */
	bool anchored;             /* PATH.anchor was found and agrees */
};

/* Verifies the whole chain of the log at path (and its anchor when present): each line a
 * JSON object of the documented fields, its hash the SHA-256 of its text without the hash,
 * its prev the hash of the line before (the genesis value for the first), its seq one more
 * than the line before. Stops at the first bad line. Returns 0 (all good), LI707_EMISMATCH
 * (rep says the line and why), -errno (the file cannot be read), LI707_EINVAL. */
int csp_audit_check(const char *path, struct csp_audit_report *rep);

/* `li707-csp audit check [--json] [FILE]`: argv[0] is "check"; FILE defaults to
 * default_path (the spool's audit.log; NULL: FILE is required). Prints the result (stdout)
 * or the error (stderr); returns the exit status of docs/exit-codes.md: 0 intact, 1 broken
 * chain or torn tail, 2 usage, 3 cannot read. */
int csp_audit_cmd_check(int argc, char **argv, const char *default_path);

#endif
