/* li707 common - the INI configuration engine shared by the daemons (lx_config_).
 *
 * One engine, one small table per daemon (the model is OpenLI's configparser). A daemon
 * declares its sections (struct lx_config_section) and, per section, a table of keys
 * (struct lx_config_key: name, type, where the value goes, range, flags); the engine reads
 * the file, checks every line as bytes, finds sections and keys, parses and stores the values
 * of the common types and calls the daemon back for its own types and at the end of each
 * section and of the file. The engine never logs: errors go to the caller's buffer.
 *
 * Format: UTF-8 text (an initial BOM is skipped), LF or CR LF line ends, lines of at most
 * LX_CONFIG_LINE_MAX bytes, no NUL or other control character but TAB. "[section]" headers,
 * "key = value" lines, comments start with '#' or ';' at the start of a line (after blanks).
 * Values run to the end of the line with blanks trimmed; no quoting, no continuation lines, no
 * includes, no comment after a value. Every key is known: an unknown section or key, a repeated
 * key (unless LX_CFG_MULTI), an empty or bad value is an error naming the file and the line
 * ("x.conf:12: peer 'acme': unknown key 'referenecs'"). Errors never quote a value; they quote
 * key names and section names that are well-formed.
 *
 * Sections come in two kinds:
 *   singleton  [server]       at most once; LX_CFG_REQUIRED: "no [server] section" at the end
 *   named      [peer NAME]    NAME: 1-64 of [A-Za-z0-9._:-], unique per kind, at most `max`
 * Messages about a key of a named section begin with "peer 'NAME': ".
 *
 * SIZE: a decimal number with an optional K, M, G or T suffix (powers of 1024; lower case
 * accepted), no blanks or sign. Plain numbers (SECONDS, counts): decimal digits only.
 * Booleans: yes/no, true/false, on/off, 1/0 (any case). */
#ifndef LX_COMMON_CONFIG_H
#define LX_COMMON_CONFIG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls.h"

#define LX_CONFIG_FILE_MAX (16 * 1024 * 1024) /* bytes */
#define LX_CONFIG_LINE_MAX 16384              /* bytes per line */
#define LX_CONFIG_PATH_MAX 4096               /* file and directory names */

struct lx_config; /* the state of one parse, passed to every callback */

/* Where a section instance's values go: keys write at their offset in base; the identity
 * types (LX_CFG_SUBJECT ... LX_CFG_PSK_FILE) write into tls. */
struct lx_config_obj {
	void *base;
	struct lx_tls_peer *tls;
};

enum lx_config_type {
	LX_CFG_PATH,     /* char *: a file or directory name, not opened (<= LX_CONFIG_PATH_MAX) */
	LX_CFG_FILE,     /* char *: a file that must be a readable regular file (check_files) */
	LX_CFG_DIR,      /* char *: a directory that must be readable (check_files) */
	LX_CFG_BOOL,     /* bool */
	LX_CFG_SIZE,     /* uint64_t SIZE in [min, max] */
	LX_CFG_SECONDS,  /* uint64_t plain number in [min, max] */
	LX_CFG_UINT,     /* unsigned plain number in [min, max] */
	LX_CFG_ENUM,     /* int: the index of the value in names (exact match) */
	LX_CFG_LISTEN,   /* char ** at off, size_t count at off_n: ADDR:PORT, repeatable; at most
			  * max listeners over all LX_CFG_LISTEN keys of the section, no address
			  * twice (but port 0) */
	LX_CFG_ADDR,     /* char *: one ADDR:PORT (as LX_CFG_LISTEN, not counted with them) */
	LX_CFG_TLS,      /* struct lx_tls_policy at off; the key name is the policy's key */
	LX_CFG_SUBJECT,  /* tls->subject: an RFC 4514 DN */
	LX_CFG_SAN,      /* tls->san: a DNS name or URI */
	LX_CFG_SPKI,     /* tls->spki_sha256: 64 hex digits */
	LX_CFG_PSK_ID,   /* tls->psk_identity: printable ASCII */
	LX_CFG_PSK_FILE, /* tls->psk: the key file (lx_tls_psk_load), read when check_files */
	LX_CFG_CUSTOM,   /* fn parses and stores */
};

#define LX_CFG_MULTI 0x1u    /* may be given more than once (the values add up) */
#define LX_CFG_REQUIRED 0x2u /* section: must be present */

struct lx_config_key {
	const char *name;
	enum lx_config_type type;
	size_t off;               /* in obj->base */
	size_t off_n;             /* LX_CFG_LISTEN: the count */
	uint64_t min, max;        /* numbers; LX_CFG_LISTEN: max = listeners in all */
	unsigned flags;           /* LX_CFG_MULTI */
	const char *const *names; /* LX_CFG_ENUM: NULL-terminated */
	/* LX_CFG_CUSTOM: parses value (may be changed in place), reports errors with
	 * lx_config_error; 0 or the error's code. */
	int (*fn)(struct lx_config *cfg, const struct lx_config_key *k, void *user, char *value);
};

struct lx_config_section {
	const char *name;  /* "server", "peer" */
	bool named;        /* [peer NAME] */
	unsigned flags;    /* LX_CFG_REQUIRED */
	const char *note;  /* appended to "no [x] section" when REQUIRED: "at least one CSP" */
	size_t max;        /* named: at most this many ("too many peers (at most N)") */
	const struct lx_config_key *keys;
	size_t n_keys;
	/* At the header: fills *obj (name is NULL for a singleton, else checked and unique).
	 * 0 or the error's code (LI707_ENOMEM: the engine reports "out of memory"). */
	int (*begin)(struct lx_config *cfg, void *user, const char *name, struct lx_config_obj *obj);
	/* At the end of the section (next header or end of file), or NULL. */
	int (*end)(struct lx_config *cfg, void *user);
};

struct lx_config_spec {
	const struct lx_config_section *sections;
	size_t n_sections;
	/* After the last line and the last section's end: whole-file checks, or NULL. */
	int (*finish)(struct lx_config *cfg, void *user);
};

/* Parses buf (len bytes, any content: NUL bytes are an error, not an end) against spec;
 * name is used in messages. With check_files false no file named by the configuration is
 * opened (PSK keys stay empty). On error returns LI707_EINPUT with "NAME:LINE: message" in
 * err, or LI707_ENOMEM; what the callbacks stored so far is the caller's to free. */
int lx_config_parse(const struct lx_config_spec *spec, const char *name, const char *buf,
		    size_t len, bool check_files, void *user, char *err, size_t errlen);

/* Reads a whole configuration file (a regular file of at most LX_CONFIG_FILE_MAX bytes)
 * into *buf (malloc'd, *len bytes). -errno with "PATH: cannot read: reason", LI707_EINPUT
 * with "PATH: not a regular file of at most N bytes" or "PATH: changed while being read",
 * LI707_ENOMEM; *buf untouched on error. */
int lx_config_read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen);

/* ---- a daemon's configuration ---- */

/* What a daemon's parse and load entry points (csp_config_parse, lea_config_load, ...) hand
 * to lx_config_new and lx_config_load, which do the steps they share. */
struct lx_config_kind {
	const struct lx_config_spec *spec;
	size_t size;      /* of the daemon's configuration struct (zeroed before init) */
	size_t user_size; /* of the parse state the spec's callbacks get (zeroed before init) */
	/* Sets the defaults of cfg (name: the file's name, never NULL) and links user to cfg.
	 * 0 or LI707_ENOMEM. */
	int (*init)(void *cfg, void *user, const char *name);
	void (*user_done)(void *user); /* after the parse: frees what user holds, or NULL */
	void (*free)(void *cfg);       /* frees a configuration, also a partly filled one */
};

/* A new configuration of kind k from buf (len bytes; name in messages, NULL: "(config)"),
 * parsed as lx_config_parse does: 0 and *out, or LI707_EINVAL (no k or out, or no buf with
 * len), LI707_ENOMEM with "NAME:1: out of memory" when the defaults cannot be set, or the
 * parse's error with its message in err; *out is untouched on error. */
int lx_config_new(const struct lx_config_kind *k, const char *name, const char *buf, size_t len,
		  bool check_files, void **out, char *err, size_t errlen);

/* The same from the file path (lx_config_read_file and its errors; files checked). */
int lx_config_load(const struct lx_config_kind *k, const char *path, void **out, char *err,
		   size_t errlen);

/* ---- for callbacks ---- */

/* Writes "NAME:LINE: message" (line < 1 counts as 1) and returns LI707_EINPUT. */
int lx_config_error(struct lx_config *cfg, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int lx_config_verror(struct lx_config *cfg, long line, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* "out of memory" at the current line; returns LI707_ENOMEM. */
int lx_config_nomem(struct lx_config *cfg);

long lx_config_line(const struct lx_config *cfg);     /* current (at the end: last) line */
bool lx_config_check_files(const struct lx_config *cfg);

/* Lines of the header of instance idx (file order, 0-based) of section sec, and of the first
 * occurrence of key in it; 0 when there is no such instance or the key was not given. */
long lx_config_section_line(const struct lx_config *cfg, const char *sec, size_t idx);
long lx_config_key_line(const struct lx_config *cfg, const char *sec, size_t idx, const char *key);
/* The same for the section being read. */
long lx_config_cur_key_line(const struct lx_config *cfg, const char *key);
long lx_config_cur_line(const struct lx_config *cfg);

/* End of a named section carrying a peer identity (LX_CFG_PSK_ID/PSK_FILE/SUBJECT/SAN/SPKI):
 * psk_identity and psk_file go together; with need_one, at least one criterion. */
int lx_config_identity_end(struct lx_config *cfg, const struct lx_tls_peer *tp, bool need_one);

/* No two instances of section sec share a PSK identity or exactly the same certificate
 * criteria (ps->v[i] belongs to instance i). */
int lx_config_check_identities(struct lx_config *cfg, const char *sec,
			       const struct lx_tls_peers *ps);

/* ---- value helpers ---- */

/* SIZE values: lx_parse_size (size.h). */
bool lx_config_parse_bool(const char *s, bool *out);
bool lx_config_parse_u64(const char *s, uint64_t *out); /* plain decimal, fits uint64_t */

/* The next entry of a comma-separated value, split in place and trimmed; *rest moves past it
 * (NULL after the last). NULL when nothing is left. Empty entries are returned (""). */
char *lx_config_next_entry(char **rest);
/* Appends a copy of s to *v (*n entries, capacity *cap, at most max entries). 0, LI707_ELIMIT
 * when *n is max already, or LI707_ENOMEM. */
int lx_config_push_str(char ***v, size_t *n, size_t *cap, const char *s, size_t max);
/* Frees n strings and the array. */
void lx_config_free_strv(char **v, size_t n);

#endif
