/* li707-csp - the append-only, hash-chained audit log (Annex D.3.1, D.4). See csp_audit.h and
 * docs/internals/csp-audit.md.
 *
 * DESIGN
 * - A line is the compact JSON object of its fields in a fixed order, "prev" last, with
 *   ,"hash":"<64 hex>"} put in place of its closing brace: hash = SHA-256 of the line's text
 *   without that hash field (the object as it was before the hash was added, closing brace
 *   included). check recomputes it from the bytes on disk and also re-encodes the parsed
 *   object, so a line that says the same thing with other bytes (spaces, escapes, key order)
 *   is refused as well.
 * - Appends hold the mutex from building the line until fdatasync returned, so the chain is
 *   linear whatever the number of threads; a batch pays one fdatasync for all its lines.
 * - The anchor (PATH.anchor) is one fixed-width line written in place after the log's sync. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csp_audit.h"
#include "fdio.h"
#include "li707/error.h"
#include "li707/util.h"

#define ANCHOR_LEN 86 /* "%020" PRIu64 " " + 64 hex + "\n" */
#define HASH_SUFFIX_LEN 75 /* ,"hash":" + 64 hex + "} */
#define BATCH_MAX 4096

struct csp_audit {
	pthread_mutex_t mu;
	int fd, afd;
	uint64_t rec;                       /* last record number, 0: empty */
	char hash[CSP_AUDIT_HASH_HEX];      /* hash of the last record (genesis when empty) */
	bool broken;                        /* an I/O error left the tail unknown */
};

static const char *const event_names[CSP_AUDIT_EVENT_END] = {
	[CSP_AUDIT_OPENED] = "opened",       [CSP_AUDIT_RECOVERED] = "recovered",
	[CSP_AUDIT_REF_ADD] = "ref-add",     [CSP_AUDIT_REF_CLOSE] = "ref-close",
	[CSP_AUDIT_REVIEW] = "review",       [CSP_AUDIT_DELIVERY] = "delivery",
	[CSP_AUDIT_PUSH] = "push",           [CSP_AUDIT_FETCH] = "fetch",
};

static const char *const outcome_names[CSP_AUDIT_OUTCOME_END] = {
	[CSP_AUDIT_NONE] = "",          [CSP_AUDIT_DONE] = "done",
	[CSP_AUDIT_RETRY] = "retry",    [CSP_AUDIT_PARKED] = "parked",
	[CSP_AUDIT_DROPPED] = "dropped", [CSP_AUDIT_APPROVED] = "approved",
	[CSP_AUDIT_REJECTED] = "rejected", [CSP_AUDIT_STORED] = "stored",
	[CSP_AUDIT_MISMATCH] = "mismatch", [CSP_AUDIT_REFUSED] = "refused",
	[CSP_AUDIT_PARTIAL] = "partial", [CSP_AUDIT_SERVED] = "served",
	[CSP_AUDIT_REFUSED_PEER] = "refused-wrong-client",
	[CSP_AUDIT_REFUSED_EXPIRED] = "refused-expired", [CSP_AUDIT_FAILED] = "failed",
};

const char *csp_audit_event_name(enum csp_audit_event e)
{
	if ((unsigned)e >= CSP_AUDIT_EVENT_END || !event_names[e])
		return "?";
	return event_names[e];
}

const char *csp_audit_outcome_name(enum csp_audit_outcome o)
{
	if ((unsigned)o >= CSP_AUDIT_OUTCOME_END)
		return "?";
	return outcome_names[o];
}

void csp_audit_record_init(struct csp_audit_record *r, enum csp_audit_event ev)
{
	memset(r, 0, sizeof *r);
	r->event = ev;
	r->bytes = -1;
}

/* An [lea NAME]: the configuration's section names, nothing that could be free text. */
static bool lea_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CSP_AUDIT_LEA_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* A fetch's range: "whole" or digits and ",+-" (byte positions), nothing else. */
static bool range_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CSP_AUDIT_RANGE_MAX)
		return false;
	if (strcmp(s, "whole") == 0)
		return true;
	return strspn(s, "0123456789,+-") == n;
}

int csp_audit_record_check(const struct csp_audit_record *r)
{
	if (!r || r->event <= 0 || r->event >= CSP_AUDIT_EVENT_END ||
	    (unsigned)r->outcome >= CSP_AUDIT_OUTCOME_END)
		return LI707_EINVAL;
	if (r->ref < 0 || r->delivery < 0 || r->seq < 0 || r->bytes < -1 || r->http_status < 0 ||
	    r->http_status > 999)
		return LI707_EINVAL;
	if (r->lea && !lea_name_ok(r->lea))
		return LI707_EINVAL;
	/* R-SEC-6: an object is named by its UUID only. */
	if (r->object && !li707_check_uuid(r->object))
		return LI707_EINVAL;
	if (r->obj < 0 || (r->range && !range_ok(r->range)))
		return LI707_EINVAL;
	return 0;
}

static void sha256_hex(const void *p, size_t n, char out[CSP_AUDIT_HASH_HEX])
{
	unsigned char d[32];
	unsigned dl = 0;
	if (EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
		memset(d, 0, sizeof d); /* cannot happen with a working libcrypto; breaks the chain */
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The JSON object of a record without its hash, in the documented field order. */
static json_t *record_json(const struct csp_audit_record *r, uint64_t rec, const char *time,
			   const char *prev)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = 0;
	bad |= json_object_set_new(o, "v", json_integer(1));
	bad |= json_object_set_new(o, "rec", json_integer((json_int_t)rec));
	bad |= json_object_set_new(o, "time", json_string(time));
	bad |= json_object_set_new(o, "event", json_string(csp_audit_event_name(r->event)));
	if (r->outcome != CSP_AUDIT_NONE)
		bad |= json_object_set_new(o, "outcome", json_string(csp_audit_outcome_name(r->outcome)));
	if (r->ref)
		bad |= json_object_set_new(o, "ref", json_integer(r->ref));
	if (r->lea)
		bad |= json_object_set_new(o, "lea", json_string(r->lea));
	if (r->delivery)
		bad |= json_object_set_new(o, "delivery", json_integer(r->delivery));
	if (r->seq)
		bad |= json_object_set_new(o, "seq", json_integer(r->seq));
	if (r->object)
		bad |= json_object_set_new(o, "object", json_string(r->object));
	if (r->obj)
		bad |= json_object_set_new(o, "obj", json_integer(r->obj));
	if (r->range)
		bad |= json_object_set_new(o, "range", json_string(r->range));
	if (r->bytes >= 0)
		bad |= json_object_set_new(o, "bytes", json_integer(r->bytes));
	if (r->http_status)
		bad |= json_object_set_new(o, "http", json_integer(r->http_status));
	if (r->error_code)
		bad |= json_object_set_new(o, "error", json_integer(r->error_code));
	bad |= json_object_set_new(o, "prev", json_string(prev));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)

/* Writes the line of a record into out (at most CSP_AUDIT_LINE_MAX bytes) and its hash.
 * Returns the line's length, or a negative code. */
static int record_line(const struct csp_audit_record *r, uint64_t rec, const char *time,
		       const char *prev, char *out, char hash[CSP_AUDIT_HASH_HEX])
{
	json_t *o = record_json(r, rec, time, prev);
	if (!o)
		return LI707_ENOMEM;
	char *body = json_dumps(o, DUMP_FLAGS);
	json_decref(o);
	if (!body)
		return LI707_ENOMEM;
	size_t n = strlen(body);
	if (n < 2 || n - 1 + HASH_SUFFIX_LEN + 1 > CSP_AUDIT_LINE_MAX) {
		free(body);
		return LI707_ELIMIT;
	}
	sha256_hex(body, n, hash);
	memcpy(out, body, n - 1); /* without the closing brace */
	free(body);
	int m = snprintf(out + n - 1, CSP_AUDIT_LINE_MAX - (n - 1), ",\"hash\":\"%s\"}\n", hash);
	return (int)(n - 1) + m;
}

static int write_anchor(int afd, uint64_t rec, const char *hash)
{
	char b[ANCHOR_LEN + 1];
	snprintf(b, sizeof b, "%020" PRIu64 " %s\n", rec, hash);
	if (pwrite(afd, b, ANCHOR_LEN, 0) != ANCHOR_LEN)
		return errno ? -errno : -EIO;
	if (fdatasync(afd) != 0)
		return -errno;
	return 0;
}

/* Parses an anchor's text. */
static bool parse_anchor(const char *b, size_t n, uint64_t *rec, char hash[CSP_AUDIT_HASH_HEX])
{
	if (n != ANCHOR_LEN || b[20] != ' ' || b[ANCHOR_LEN - 1] != '\n')
		return false;
	uint64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (b[i] < '0' || b[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(b[i] - '0');
	}
	for (int i = 0; i < 64; i++) {
		char c = b[21 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	*rec = v;
	memcpy(hash, b + 21, 64);
	hash[64] = '\0';
	return true;
}

/* ---- verifying one line (shared by open and check) ---- */

struct line_facts {
	uint64_t rec;
	char prev[CSP_AUDIT_HASH_HEX];
	char hash[CSP_AUDIT_HASH_HEX];
};

/* Verifies one complete line (without its newline): its own hash and form. why gets the
 * reason on failure. */
static bool line_verify(const char *p, size_t n, struct line_facts *f, char *why, size_t wl)
{
	if (n + 1 > CSP_AUDIT_LINE_MAX) {
		snprintf(why, wl, "line longer than %d bytes", CSP_AUDIT_LINE_MAX);
		return false;
	}
	static const char key[] = ",\"hash\":\"";
	if (n < HASH_SUFFIX_LEN + 2 || memcmp(p + n - HASH_SUFFIX_LEN, key, sizeof key - 1) != 0 ||
	    p[n - 2] != '"' || p[n - 1] != '}') {
		snprintf(why, wl, "no hash field at the end of the line");
		return false;
	}
	char body[CSP_AUDIT_LINE_MAX + 1];
	size_t bl = n - HASH_SUFFIX_LEN;
	memcpy(body, p, bl);
	body[bl++] = '}';
	char h[CSP_AUDIT_HASH_HEX];
	sha256_hex(body, bl, h);
	if (memcmp(h, p + n - 66, 64) != 0) {
		snprintf(why, wl, "hash does not match the line's content (edited)");
		return false;
	}
	json_error_t je;
	json_t *o = json_loadb(body, bl, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		snprintf(why, wl, "not a JSON object");
		json_decref(o);
		return false;
	}
	char *again = json_dumps(o, DUMP_FLAGS);
	bool canon = again && strlen(again) == bl && memcmp(again, body, bl) == 0;
	free(again);
	json_t *v = json_object_get(o, "v"), *rec = json_object_get(o, "rec"),
	       *prev = json_object_get(o, "prev"), *ev = json_object_get(o, "event"),
	       *tm = json_object_get(o, "time");
	bool ok = false;
	if (!canon)
		snprintf(why, wl, "not in the canonical form");
	else if (!json_is_integer(v) || json_integer_value(v) != 1)
		snprintf(why, wl, "unknown record version");
	else if (!json_is_integer(rec) || json_integer_value(rec) < 1)
		snprintf(why, wl, "no record number");
	else if (!json_is_string(prev) || json_string_length(prev) != 64)
		snprintf(why, wl, "no prev hash");
	else if (!json_is_string(ev) || !json_is_string(tm))
		snprintf(why, wl, "no event or time");
	else
		ok = true;
	if (ok) {
		f->rec = (uint64_t)json_integer_value(rec);
		memcpy(f->prev, json_string_value(prev), 65);
		memcpy(f->hash, h, sizeof h);
	}
	json_decref(o);
	return ok;
}

/* ---- open ---- */

static int read_at(int fd, char *buf, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		got += (size_t)r;
	}
	return 0;
}

/* Finds the last complete line and a torn tail. */
static int scan_tail(int fd, off_t size, struct line_facts *last, bool *has_last, uint64_t *torn)
{
	*has_last = false;
	*torn = 0;
	if (size == 0)
		return 0;
	size_t want = (size_t)(size < 2 * CSP_AUDIT_LINE_MAX ? size : 2 * CSP_AUDIT_LINE_MAX);
	char buf[2 * CSP_AUDIT_LINE_MAX];
	off_t base = size - (off_t)want;
	int rc = read_at(fd, buf, want, base);
	if (rc)
		return rc;
	ssize_t nl = -1;
	for (ssize_t i = (ssize_t)want - 1; i >= 0; i--)
		if (buf[i] == '\n') {
			nl = i;
			break;
		}
	if (nl < 0)
		return base == 0 ? (*torn = want, 0) : LI707_EDAMAGED;
	*torn = want - (size_t)nl - 1;
	if (*torn >= CSP_AUDIT_LINE_MAX)
		return LI707_EDAMAGED; /* no append writes that much without a newline */
	ssize_t start = nl - 1;
	while (start >= 0 && buf[start] != '\n')
		start--;
	if (start < 0 && base > 0)
		return LI707_EDAMAGED; /* a line longer than the cap */
	char why[160];
	if (!line_verify(buf + start + 1, (size_t)(nl - start - 1), last, why, sizeof why))
		return LI707_EDAMAGED;
	*has_last = true;
	return 0;
}

static int append_locked(struct csp_audit *a, const struct csp_audit_record *r, size_t n);

int csp_audit_open(const char *path, unsigned flags, struct csp_audit **out,
		   struct csp_audit_info *info)
{
	if (!path || !out || (flags & ~CSP_AUDIT_RECOVER))
		return LI707_EINVAL;
	char apath[4096];
	if ((size_t)snprintf(apath, sizeof apath, "%s.anchor", path) >= sizeof apath)
		return LI707_EINVAL;
	struct csp_audit *a = calloc(1, sizeof *a);
	if (!a)
		return LI707_ENOMEM;
	a->fd = a->afd = -1;
	int rc = 0;
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a);
		return LI707_ENOMEM;
	}
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	a->afd = a->fd < 0 ? -1 : open(apath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (a->fd < 0 || a->afd < 0 || fstat(a->fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	struct line_facts last;
	bool has_last;
	uint64_t torn;
	rc = scan_tail(a->fd, st.st_size, &last, &has_last, &torn);
	if (rc)
		goto fail;
	if (torn && !(flags & CSP_AUDIT_RECOVER)) {
		rc = LI707_EDAMAGED;
		goto fail;
	}
	if (has_last) {
		a->rec = last.rec;
		memcpy(a->hash, last.hash, sizeof a->hash);
	} else {
		memcpy(a->hash, CSP_AUDIT_GENESIS, sizeof a->hash);
	}
	/* The anchor must not be ahead of the log: that means lines were lost. */
	char ab[ANCHOR_LEN];
	ssize_t an = pread(a->afd, ab, sizeof ab, 0);
	uint64_t arec;
	char ahash[CSP_AUDIT_HASH_HEX];
	if (an > 0 && (!parse_anchor(ab, (size_t)an, &arec, ahash) || arec > a->rec ||
		       (arec == a->rec && strcmp(ahash, a->hash) != 0))) {
		rc = LI707_EDAMAGED;
		goto fail;
	}
	if (torn) {
		/* Never acknowledged (the append did not return): cut it, sync, record that. */
		if (ftruncate(a->fd, st.st_size - (off_t)torn) != 0 || fsync(a->fd) != 0) {
			rc = -errno;
			goto fail;
		}
		struct csp_audit_record r;
		csp_audit_record_init(&r, CSP_AUDIT_RECOVERED);
		r.bytes = (int64_t)torn;
		rc = append_locked(a, &r, 1);
		if (rc)
			goto fail;
	}
	if (info) {
		info->records = a->rec;
		info->torn_bytes = torn;
		info->recovered = torn != 0;
	}
	*out = a;
	return 0;
fail:
	csp_audit_close(a);
	return rc;
}

void csp_audit_close(struct csp_audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	if (a->afd >= 0)
		close(a->afd);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

uint64_t csp_audit_last(struct csp_audit *a, char hash[CSP_AUDIT_HASH_HEX])
{
	pthread_mutex_lock(&a->mu);
	uint64_t rec = a->rec;
	if (hash)
		memcpy(hash, rec ? a->hash : "", rec ? CSP_AUDIT_HASH_HEX : 1);
	pthread_mutex_unlock(&a->mu);
	return rec;
}

/* Builds, writes and syncs n lines; the state moves on only when all is durable. */
static int append_locked(struct csp_audit *a, const struct csp_audit_record *r, size_t n)
{
	if (a->broken)
		return -EIO;
	struct li707_time now;
	char tm[33];
	int rc = li707_time_now(&now);
	if (rc == 0)
		rc = li707_time_format(&now, true, tm);
	if (rc)
		return rc;
	char *buf = malloc(n * CSP_AUDIT_LINE_MAX);
	if (!buf)
		return LI707_ENOMEM;
	size_t len = 0;
	uint64_t rec = a->rec;
	char hash[CSP_AUDIT_HASH_HEX];
	memcpy(hash, a->hash, sizeof hash);
	for (size_t i = 0; i < n; i++) {
		char prev[CSP_AUDIT_HASH_HEX];
		memcpy(prev, hash, sizeof prev);
		int m = record_line(&r[i], ++rec, tm, prev, buf + len, hash);
		if (m < 0) {
			free(buf);
			return m;
		}
		len += (size_t)m;
	}
	rc = lx_write_all(a->fd, buf, len);
	free(buf);
	if (rc == 0 && fdatasync(a->fd) != 0)
		rc = -errno;
	if (rc == 0)
		rc = write_anchor(a->afd, rec, hash);
	if (rc) {
		a->broken = true; /* the tail is unknown: reopen (recovery) before going on */
		return rc;
	}
	a->rec = rec;
	memcpy(a->hash, hash, sizeof hash);
	return 0;
}

int csp_audit_append_batch(struct csp_audit *a, const struct csp_audit_record *r, size_t n)
{
	if (!a || !r || n == 0 || n > BATCH_MAX)
		return LI707_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (csp_audit_record_check(&r[i]) != 0)
			return LI707_EINVAL;
	pthread_mutex_lock(&a->mu);
	int rc = append_locked(a, r, n);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int csp_audit_append(struct csp_audit *a, const struct csp_audit_record *r)
{
	return csp_audit_append_batch(a, r, 1);
}

/* ---- check ---- */

static void report_bad(struct csp_audit_report *rep, uint64_t line, const char *s)
{
	rep->line = line;
	snprintf(rep->why, sizeof rep->why, "%s", s);
}

int csp_audit_check(const char *path, struct csp_audit_report *rep)
{
	if (!path || !rep)
		return LI707_EINVAL;
	memset(rep, 0, sizeof *rep);
	memcpy(rep->last_hash, CSP_AUDIT_GENESIS, sizeof rep->last_hash);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[CSP_AUDIT_LINE_MAX + 2];
	uint64_t lineno = 0, rec = 0;
	int rc = 0;
	char why[160];
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == 0 || line[n - 1] != '\n') {
			if (n > CSP_AUDIT_LINE_MAX) {
				report_bad(rep, lineno, "line longer than 1024 bytes");
			} else if (!feof(f)) {
				report_bad(rep, lineno, "NUL byte in the line");
			} else {
				rep->torn = true;
				report_bad(rep, lineno,
					   "torn last line (incomplete write, e.g. a crash): "
					   "the daemon cuts it at start");
			}
			rc = LI707_EMISMATCH;
			break;
		}
		struct line_facts lf;
		if (!line_verify(line, n - 1, &lf, why, sizeof why)) {
			report_bad(rep, lineno, why);
			rc = LI707_EMISMATCH;
			break;
		}
		if (lf.rec != rec + 1) {
			char t[128];
			snprintf(t, sizeof t,
				 "record number %" PRIu64 " where %" PRIu64
				 " was due (a line deleted, inserted or moved)",
				 lf.rec, rec + 1);
			report_bad(rep, lineno, t);
			rc = LI707_EMISMATCH;
			break;
		}
		if (strcmp(lf.prev, rep->last_hash) != 0) {
			report_bad(rep, lineno,
				   "prev is not the hash of the line before (a line deleted, "
				   "inserted or moved)");
			rc = LI707_EMISMATCH;
			break;
		}
		rec = lf.rec;
		memcpy(rep->last_hash, lf.hash, sizeof rep->last_hash);
		rep->records++;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc)
		return rc;
	/* Lines cut off the end at a line boundary: only the anchor can show it. */
	char apath[4096];
	if ((size_t)snprintf(apath, sizeof apath, "%s.anchor", path) >= sizeof apath)
		return 0;
	int afd = open(apath, O_RDONLY | O_CLOEXEC);
	if (afd < 0)
		return errno == ENOENT ? 0 : -errno;
	char ab[ANCHOR_LEN + 1];
	ssize_t an = read(afd, ab, sizeof ab);
	close(afd);
	uint64_t arec = 0;
	char ahash[CSP_AUDIT_HASH_HEX];
	if (an == 0)
		return 0; /* created, never written: a crash before the first anchor write */
	if (an < 0 || !parse_anchor(ab, (size_t)an, &arec, ahash)) {
		report_bad(rep, lineno + 1, "the anchor file is malformed");
		return LI707_EMISMATCH;
	}
	if (arec > rec) {
		char t[140];
		snprintf(t, sizeof t,
			 "the log ends at record %" PRIu64 " but its anchor names record %" PRIu64
			 " (lines cut off the end)",
			 rec, arec);
		report_bad(rep, lineno + 1, t);
		return LI707_EMISMATCH;
	}
	/* The anchor's record must be in the chain (it may lag behind the log after a crash). */
	if (arec > 0) {
		f = fopen(path, "re");
		if (!f)
			return -errno;
		uint64_t l = 0;
		bool found = false;
		while (fgets(line, sizeof line, f)) {
			if (++l == arec) {
				struct line_facts lf;
				size_t n = strlen(line);
				found = n > 0 && line_verify(line, n - 1, &lf, why, sizeof why) &&
					strcmp(lf.hash, ahash) == 0;
				break;
			}
		}
		fclose(f);
		if (!found) {
			report_bad(rep, arec, "the record named by the anchor has another hash");
			return LI707_EMISMATCH;
		}
	}
	rep->anchored = true;
	return 0;
}

/* ---- li707-csp audit check ---- */

static const char check_help[] =
	"Usage: li707-csp audit check [--json] [FILE]\n"
	"\n"
	"Verify the hash chain of the audit log FILE (default: audit.log in the spool):\n"
	"each record's hash, its link to the record before, the record numbers, and the\n"
	"anchor file FILE.anchor. Reports the first broken line.\n"
	"\n"
	"  --json      print the result as one JSON object\n"
	"  -h, --help  print this help and exit\n"
	"\n"
	"Exit status: 0 intact, 1 broken chain or torn last line, 2 usage, 3 cannot read.\n";

int csp_audit_cmd_check(int argc, char **argv, const char *default_path)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	bool as_json = false;
	int c;
	opterr = 0;
	optind = 0; /* glibc: a full restart of the scan (the caller may have used getopt) */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(check_help, stdout);
			return 0;
		}
		if (c == 'j') {
			as_json = true;
			continue;
		}
		fprintf(stderr, "li707-csp audit check: unknown option (see --help)\n");
		return 2;
	}
	if (argc - optind > 1 || (argc - optind == 0 && !default_path)) {
		fprintf(stderr, "li707-csp audit check: one FILE expected\n");
		return 2;
	}
	const char *path = argc - optind == 1 ? argv[optind] : default_path;
	struct csp_audit_report rep;
	int rc = csp_audit_check(path, &rep);
	if (rc != 0 && rc != LI707_EMISMATCH) {
		fprintf(stderr, "li707-csp audit check: %s: %s\n", path, li707_strerror(rc));
		return li707_exit_code(rc);
	}
	if (as_json) {
		json_t *o = json_pack("{s:b,s:I,s:s,s:b}", "ok", rc == 0, "records",
				      (json_int_t)rep.records, "last_hash", rep.last_hash,
				      "anchored", rep.anchored);
		if (o && rc) {
			json_object_set_new(o, "line", json_integer((json_int_t)rep.line));
			json_object_set_new(o, "error", json_string(rep.why));
			json_object_set_new(o, "torn", json_boolean(rep.torn));
		}
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!s)
			return 5;
		puts(s);
		free(s);
	} else if (rc == 0) {
		printf("%s: intact, %" PRIu64 " records, last hash %s%s\n", path, rep.records,
		       rep.last_hash, rep.anchored ? "" : " (no anchor)");
	} else {
		printf("%s:%" PRIu64 ": %s (%" PRIu64 " records verified before it)\n", path,
		       rep.line, rep.why, rep.records);
	}
	return rc == 0 ? 0 : li707_exit_code(rc);
}
