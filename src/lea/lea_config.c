/* li707-lea - the configuration file (lea_config.h).
 *
 * DESIGN. The buffer is read line by line. Each line is first checked as bytes (length, NUL,
 * control characters, UTF-8) so that nothing after that sees hostile bytes; then it is a
 * section header, a "key = value" pair dispatched through the key table of its section, or a
 * blank or comment line. What needs a whole section or the whole file (mandatory keys,
 * listeners against peers, identities shared by two peers, overlapping URL paths) is checked
 * when a peer section ends and at the end of the file. Every message names the file and a
 * line. Values are never quoted (key names and valid peer names are), so a reference cannot
 * reach a log through an error message (TS103707 R-SEC-6). */
#include "lea_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "li707/error.h"
#include "li707/util.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)

#define PATH_BYTES_MAX 4096   /* file and directory names */
#define URL_PATH_MAX 256      /* delivery_path, binary_path */
#define SUBJECT_MAX 1024
#define SAN_MAX 255
#define PSK_IDENTITY_MAX LI707_PSK_IDENTITY_MAX /* RFC 4279 section 5.3 */

enum section { SEC_NONE, SEC_SERVER, SEC_PEER };

/* ---- the key tables ---- */

enum ktype {
	K_LISTEN,     /* repeatable ADDR:PORT */
	K_LISTEN_PSK,
	K_CRED,       /* const char * in creds: a PEM file */
	K_DIR,        /* char *: a directory */
	K_DELIVERY,   /* char *: the HI-1 URL path */
	K_BINARY,     /* char *: the Model B prefix */
	K_BOOL,
	K_SIZE,       /* uint64_t SIZE */
	K_SECONDS,    /* uint64_t plain number */
	K_UINT,       /* unsigned plain number */
	K_TLS,        /* li707_tls_policy_set */
	K_LOG,
	K_SYNC,
};

struct skey {
	const char *name;
	enum ktype type;
	size_t off;          /* in struct lea_config */
	uint64_t min, max;   /* numbers */
};

#define CO(f) offsetof(struct lea_config, f)
static const struct skey server_keys[] = {
	{"listen", K_LISTEN, 0, 0, 0},
	{"listen_psk", K_LISTEN_PSK, 0, 0, 0},
	{"cert", K_CRED, CO(creds.cert), 0, 0},
	{"key", K_CRED, CO(creds.key), 0, 0},
	{"cacert", K_CRED, CO(creds.cacert), 0, 0},
	{"crl", K_CRED, CO(creds.crl), 0, 0},
	{"store", K_DIR, CO(store_dir), 0, 0},
	{"delivery_path", K_DELIVERY, CO(delivery_path), 0, 0},
	{"binary_path", K_BINARY, CO(binary_path), 0, 0},
	{"schema_dir", K_DIR, CO(schema_dir), 0, 0},
	{"official_schema_dir", K_DIR, CO(official_schema_dir), 0, 0},
	{"xsd_check", K_BOOL, CO(xsd_check), 0, 0},
	{"max_message_bytes", K_SIZE, CO(max_message_bytes), KIB, GIB},
	{"max_upload_bytes", K_SIZE, CO(max_upload_bytes), KIB, 16 * TIB},
	{"orphan_timeout", K_SECONDS, CO(orphan_timeout_s), 1, 31536000},
	{"orphan_max_bytes", K_SIZE, CO(orphan_max_bytes), 1, 16 * TIB},
	{"connections", K_UINT, CO(limits.connections), 0, 100000},
	{"per_peer", K_UINT, CO(limits.per_peer), 0, 100000},
	{"per_ip", K_UINT, CO(limits.per_ip), 0, 100000},
	{"idle_timeout", K_UINT, CO(limits.idle_timeout_s), 0, 86400},
	{"header_timeout", K_UINT, CO(limits.header_timeout_s), 0, 3600},
	{"drain_timeout", K_UINT, CO(limits.drain_timeout_s), 0, 86400},
	{"tls_min", K_TLS, 0, 0, 0},
	{"tls13", K_TLS, 0, 0, 0},
	{"tls12_suites", K_TLS, 0, 0, 0},
	{"tls12_psk_suites", K_TLS, 0, 0, 0},
	{"tls_groups", K_TLS, 0, 0, 0},
	{"log_level", K_LOG, 0, 0, 0},
	{"sync", K_SYNC, 0, 0, 0},
};
#define N_SERVER_KEYS (sizeof server_keys / sizeof server_keys[0])

enum ptype { P_SUBJECT, P_SAN, P_SPKI, P_PSK_ID, P_PSK_FILE, P_REFS, P_MODELS, P_SIZE };

struct pkey {
	const char *name;
	enum ptype type;
	size_t off;          /* P_SIZE: in struct lea_peer */
	uint64_t min, max;
};

#define PO(f) offsetof(struct lea_peer, f)
static const struct pkey peer_keys[] = {
	{"subject", P_SUBJECT, 0, 0, 0},
	{"san", P_SAN, 0, 0, 0},
	{"spki_sha256", P_SPKI, 0, 0, 0},
	{"psk_identity", P_PSK_ID, 0, 0, 0},
	{"psk_file", P_PSK_FILE, 0, 0, 0},
	{"references", P_REFS, 0, 0, 0},
	{"models", P_MODELS, 0, 0, 0},
	{"max_message_bytes", P_SIZE, PO(max_message_bytes), KIB, GIB},
	{"max_upload_bytes", P_SIZE, PO(max_upload_bytes), KIB, 16 * TIB},
};
#define N_PEER_KEYS (sizeof peer_keys / sizeof peer_keys[0])
enum { PK_SUBJECT, PK_SAN, PK_SPKI, PK_PSK_ID, PK_PSK_FILE, PK_REFS };

/* ---- parse state ---- */

/* What the parse keeps of one peer besides struct lea_peer and its li707_tls_peer. */
struct px {
	long line;                       /* of the [peer NAME] header */
	long key_line[N_PEER_KEYS];      /* first line of each key, 0 = not given */
	size_t refs_cap;
};

struct parse {
	const char *name;
	bool check_files;
	struct lea_config *c;
	struct px *px;                   /* parallel to c->peers */
	size_t peers_cap;
	long line;                       /* current (at the end: last) line */
	enum section sec;
	long server_line;                /* of the [server] header, 0 = none yet */
	long key_line[N_SERVER_KEYS];    /* first line of each server key */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int perr(struct parse *p, long line, const char *fmt, ...)
{
	if (p->err && p->errlen) {
		int n = snprintf(p->err, p->errlen, "%s:%ld: ", p->name, line < 1 ? 1 : line);
		if (n >= 0 && (size_t)n < p->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return LI707_EINPUT;
}

static int pnomem(struct parse *p)
{
	perr(p, p->line, "out of memory");
	return LI707_ENOMEM;
}

static struct lea_peer *cur_peer(struct parse *p)
{
	return &p->c->peers[p->c->n_peers - 1];
}

static struct li707_tls_peer *cur_tls(struct parse *p)
{
	return &p->c->tls_peers.v[p->c->n_peers - 1];
}

static struct px *cur_px(struct parse *p)
{
	return &p->px[p->c->n_peers - 1];
}

/* ---- small lexical helpers ---- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static char *trim(char *s)
{
	while (is_blank(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* The next entry of a comma-separated value, split in place and trimmed; *rest moves past
 * it (NULL after the last). NULL when nothing is left. Empty entries are returned (""). */
static char *next_entry(char **rest)
{
	char *s = *rest;
	if (!s)
		return NULL;
	char *comma = strchr(s, ',');
	if (comma)
		*comma = '\0';
	*rest = comma ? comma + 1 : NULL;
	return trim(s);
}

/* A peer name: 1-64 of [A-Za-z0-9._:-]. Only names like this are ever quoted in messages. */
static bool name_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			  ch == '.' || ch == '_' || ch == ':' || ch == '-';
		if (!ok || n >= 64)
			return false;
	}
	return n > 0;
}

/* A key name: 1-32 of [a-z0-9_]. */
static bool key_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') || n >= 32)
			return false;
	}
	return n > 0;
}

/* A plain decimal number that fits in uint64_t. */
static bool parse_u64(const char *s, uint64_t *out)
{
	if (!*s)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool lea_parse_size(const char *s, uint64_t *out)
{
	if (!s || !out)
		return false;
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n > 20)
		return false;
	char digits[21];
	memcpy(digits, s, n);
	digits[n] = '\0';
	uint64_t v;
	if (!parse_u64(digits, &v))
		return false;
	unsigned shift = 0;
	switch (s[n]) {
	case '\0': break;
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	default: return false;
	}
	if (shift && (s[n + 1] != '\0' || v > (UINT64_MAX >> shift)))
		return false;
	*out = v << shift;
	return true;
}

bool lea_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	if (!s || !out)
		return false;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* "ADDR:PORT" with a numeric IPv4 address, "[IPv6]:PORT" or ":PORT"; port 0..65535. */
static bool listen_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	if (!colon)
		return false;
	const char *port = colon + 1;
	size_t pl = strlen(port);
	uint64_t pv;
	if (pl < 1 || pl > 5 || !parse_u64(port, &pv) || pv > 65535)
		return false;
	size_t hl = (size_t)(colon - v);
	if (hl == 0)
		return true;
	char host[INET6_ADDRSTRLEN + 2];
	unsigned char bin[16];
	if (v[0] == '[') {
		if (hl < 3 || v[hl - 1] != ']' || hl - 2 >= sizeof host)
			return false;
		memcpy(host, v + 1, hl - 2);
		host[hl - 2] = '\0';
		return inet_pton(AF_INET6, host, bin) == 1;
	}
	if (hl >= sizeof host)
		return false;
	memcpy(host, v, hl);
	host[hl] = '\0';
	return inet_pton(AF_INET, host, bin) == 1;
}

/* A URL path: '/' then RFC 3986 pchars and '/', no empty, "." or ".." segment in the middle,
 * no percent-encoding (the server compares decoded paths). */
static bool url_path_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > URL_PATH_MAX || s[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			  strchr("-._~!$&'()*+,;=:@/", ch) != NULL;
		if (!ok)
			return false;
	}
	if (strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../"))
		return false;
	const char *last = strrchr(s, '/');
	return strcmp(last, "/.") != 0 && strcmp(last, "/..") != 0;
}

/* True when path a is prefix itself or lies below it. */
static bool path_within(const char *a, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(a, prefix, n) != 0)
		return false;
	return a[n] == '\0' || prefix[n - 1] == '/' || a[n] == '/';
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* check_files: 0 when path is a regular file (a directory when dir) that can be opened for
 * reading, else an errno value. */
static int unreadable(const char *path, bool dir)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (dir ? O_DIRECTORY : 0));
	if (fd < 0)
		return errno;
	struct stat st;
	int e = 0;
	if (fstat(fd, &st) != 0)
		e = errno;
	else if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		e = dir ? ENOTDIR : EINVAL;
	close(fd);
	return e;
}

/* Appends a copy of s to the array *v (*n entries, capacity *cap). */
static int push_str(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		char **t = realloc(*v, nc * sizeof *t);
		if (!t)
			return LI707_ENOMEM;
		*v = t;
		*cap = nc;
	}
	char *d = strdup(s);
	if (!d)
		return LI707_ENOMEM;
	(*v)[(*n)++] = d;
	return 0;
}

static int replace_str(char **dst, const char *v)
{
	char *d = strdup(v);
	if (!d)
		return LI707_ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

/* ---- [server] ---- */

static int server_listen(struct parse *p, const struct skey *k, const char *v)
{
	struct lea_config *c = p->c;
	if (!listen_ok(v))
		return perr(p, p->line,
			    "%s: expected ADDR:PORT with a numeric IPv4 address, [IPv6]:PORT or :PORT "
			    "(port 0-65535)",
			    k->name);
	if (c->n_listen + c->n_listen_psk >= LEA_CONFIG_MAX_LISTEN)
		return perr(p, p->line, "%s: too many listeners (at most %d in all)", k->name,
			    LEA_CONFIG_MAX_LISTEN);
	/* The same address twice could never bind; port 0 picks a new port each time. */
	const char *port = strrchr(v, ':') + 1;
	bool any_port = strspn(port, "0") == strlen(port);
	for (size_t i = 0; i < c->n_listen + c->n_listen_psk && !any_port; i++) {
		const char *o = i < c->n_listen ? c->listen[i] : c->listen_psk[i - c->n_listen];
		if (strcmp(o, v) == 0)
			return perr(p, p->line, "%s: this address is already a listener", k->name);
	}
	bool psk = k->type == K_LISTEN_PSK;
	size_t cap = psk ? c->n_listen_psk : c->n_listen; /* arrays are grown one by one */
	char ***arr = psk ? &c->listen_psk : &c->listen;
	size_t *n = psk ? &c->n_listen_psk : &c->n_listen;
	if (push_str(arr, n, &cap, v))
		return pnomem(p);
	return 0;
}

static int server_number(struct parse *p, const struct skey *k, const char *v)
{
	uint64_t x;
	bool ok = k->type == K_SIZE ? lea_parse_size(v, &x) : parse_u64(v, &x);
	if (!ok)
		return perr(p, p->line, "%s: expected %s", k->name,
			    k->type == K_SIZE ? "a size (a number with an optional K, M, G or T suffix)"
					      : "a decimal number");
	if (x < k->min || x > k->max)
		return perr(p, p->line, "%s: out of range (%llu to %llu)", k->name,
			    (unsigned long long)k->min, (unsigned long long)k->max);
	char *field = (char *)p->c + k->off;
	if (k->type == K_UINT) {
		unsigned u = (unsigned)x;
		memcpy(field, &u, sizeof u);
	} else {
		memcpy(field, &x, sizeof x);
	}
	return 0;
}

static int server_tls(struct parse *p, const struct skey *k, const char *v)
{
	char val[LEA_CONFIG_LINE_MAX + 1];
	if (strcmp(k->name, "tls13") == 0) {
		bool b;
		if (!lea_parse_bool(v, &b))
			return perr(p, p->line, "tls13: expected yes or no");
		snprintf(val, sizeof val, "%s", b ? "yes" : "no");
	} else {
		/* Lists are A:B:C; blanks around the separators are allowed and dropped. */
		size_t o = 0;
		for (const char *s = v; *s && o < sizeof val - 1; s++)
			if (!is_blank(*s))
				val[o++] = *s;
		val[o] = '\0';
	}
	char msg[256] = "";
	int rc = li707_tls_policy_set(&p->c->policy, k->name, val, msg, sizeof msg);
	if (rc == LI707_ENOMEM)
		return pnomem(p);
	if (rc)
		return perr(p, p->line, "%s", msg[0] ? msg : "invalid TLS setting");
	return 0;
}

static int server_path(struct parse *p, const struct skey *k, const char *v)
{
	size_t n = strlen(v);
	if (k->type == K_DELIVERY && !url_path_ok(v))
		return perr(p, p->line,
			    "delivery_path: expected a URL path such as /hi1 (begins with '/', "
			    "no '%%', '?', '#', blanks, empty or dot segments; at most %d bytes)",
			    URL_PATH_MAX);
	if (k->type == K_BINARY && (!url_path_ok(v) || n < 2 || v[n - 1] != '/'))
		return perr(p, p->line,
			    "binary_path: expected a URL path prefix such as /binaryData/ (begins "
			    "and ends with '/', not '/' alone, no '%%', '?', '#', blanks, empty or "
			    "dot segments; at most %d bytes)",
			    URL_PATH_MAX);
	if (n > PATH_BYTES_MAX)
		return perr(p, p->line, "%s: longer than %d bytes", k->name, PATH_BYTES_MAX);
	/* check_files: the schema directories and the PEM files must be readable now; the store
	 * is created by the daemon when missing. */
	int e = 0;
	if (p->check_files && k->type == K_DIR && strcmp(k->name, "store") != 0 &&
	    (e = unreadable(v, true)) != 0)
		return perr(p, p->line, "%s: not a readable directory: %s", k->name, strerror(e));
	if (p->check_files && k->type == K_CRED && (e = unreadable(v, false)) != 0)
		return perr(p, p->line, "%s: cannot read the file: %s", k->name,
			    e == EINVAL ? "not a regular file" : strerror(e));
	if (k->type == K_CRED) {
		char *d = strdup(v);
		if (!d)
			return pnomem(p);
		const char **f = (const char **)(void *)((char *)p->c + k->off);
		free((char *)*f);
		*f = d;
		return 0;
	}
	if (replace_str((char **)(void *)((char *)p->c + k->off), v))
		return pnomem(p);
	return 0;
}

static int server_enum(struct parse *p, const struct skey *k, const char *v)
{
	struct lea_config *c = p->c;
	if (k->type == K_BOOL) {
		if (!lea_parse_bool(v, (bool *)(void *)((char *)c + k->off)))
			return perr(p, p->line, "%s: expected yes or no", k->name);
		return 0;
	}
	if (k->type == K_SYNC) {
		if (strcmp(v, "full") == 0)
			c->sync_full = true;
		else if (strcmp(v, "normal") == 0)
			c->sync_full = false;
		else
			return perr(p, p->line, "sync: expected full or normal");
		return 0;
	}
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(v, levels[i]) == 0) {
			c->log_level = (enum lea_log_level)i;
			return 0;
		}
	}
	return perr(p, p->line, "log_level: expected error, warn, info or debug");
}

static int server_key(struct parse *p, const char *key, const char *v)
{
	size_t i = 0;
	while (i < N_SERVER_KEYS && strcmp(server_keys[i].name, key) != 0)
		i++;
	if (i == N_SERVER_KEYS)
		return perr(p, p->line, "[server]: unknown key '%s'", key);
	const struct skey *k = &server_keys[i];
	bool list = k->type == K_LISTEN || k->type == K_LISTEN_PSK;
	if (p->key_line[i] && !list)
		return perr(p, p->line, "%s: given twice (first at line %ld)", key, p->key_line[i]);
	if (!p->key_line[i])
		p->key_line[i] = p->line;
	switch (k->type) {
	case K_LISTEN:
	case K_LISTEN_PSK: return server_listen(p, k, v);
	case K_CRED:
	case K_DIR:
	case K_DELIVERY:
	case K_BINARY: return server_path(p, k, v);
	case K_SIZE:
	case K_SECONDS:
	case K_UINT: return server_number(p, k, v);
	case K_TLS: return server_tls(p, k, v);
	case K_BOOL:
	case K_LOG:
	case K_SYNC: return server_enum(p, k, v);
	}
	return LI707_EINVAL;
}

/* ---- [peer NAME] ---- */

static int peer_references(struct parse *p, char *v)
{
	struct lea_peer *pe = cur_peer(p);
	struct px *x = cur_px(p);
	size_t idx = 0;
	for (char *e; (e = next_entry(&v)) != NULL;) {
		idx++;
		/* Entries are never quoted: they are target identifiers (R-SEC-6). */
		if (!*e)
			return perr(p, p->line, "peer '%s': references: entry %zu is empty", pe->name, idx);
		bool any = strcasecmp(e, "any") == 0;
		if ((any && pe->n_references) || (!any && pe->any_reference))
			return perr(p, p->line,
				    "peer '%s': references: 'any' cannot be combined with other references",
				    pe->name);
		if (any) {
			pe->any_reference = true;
		} else if (!li707_check_liid(e) && !li707_check_ldid(e)) {
			return perr(p, p->line,
				    "peer '%s': references: entry %zu is neither a LIID nor an LDID "
				    "(TS 103 280)",
				    pe->name, idx);
		} else if (pe->n_references >= LEA_CONFIG_MAX_REFERENCES) {
			return perr(p, p->line, "peer '%s': references: more than %d", pe->name,
				    LEA_CONFIG_MAX_REFERENCES);
		} else if (push_str(&pe->references, &pe->n_references, &x->refs_cap, e)) {
			return pnomem(p);
		}
	}
	return 0;
}

static int peer_models(struct parse *p, char *v)
{
	struct lea_peer *pe = cur_peer(p);
	size_t idx = 0;
	for (char *e; (e = next_entry(&v)) != NULL;) {
		idx++;
		if (strcasecmp(e, "A") == 0)
			pe->models |= LEA_MODEL_A;
		else if (strcasecmp(e, "B") == 0)
			pe->models |= LEA_MODEL_B;
		else if (strcasecmp(e, "C") == 0)
			pe->models |= LEA_MODEL_C;
		else
			return perr(p, p->line, "peer '%s': models: entry %zu is not A, B or C", pe->name, idx);
	}
	return 0;
}

static int peer_identity(struct parse *p, const struct pkey *k, const char *v)
{
	struct lea_peer *pe = cur_peer(p);
	struct li707_tls_peer *tp = cur_tls(p);
	size_t n = strlen(v);
	char **dst = NULL;
	switch (k->type) {
	case P_SUBJECT:
		if (n > SUBJECT_MAX || !strchr(v, '='))
			return perr(p, p->line,
				    "peer '%s': subject: expected an RFC 4514 DN such as CN=csp1,O=Example "
				    "(at most %d bytes)",
				    pe->name, SUBJECT_MAX);
		dst = &tp->subject;
		break;
	case P_SAN:
		if (n > SAN_MAX || strpbrk(v, " \t"))
			return perr(p, p->line,
				    "peer '%s': san: expected a DNS name or URI without blanks (at most %d "
				    "bytes)",
				    pe->name, SAN_MAX);
		dst = &tp->san;
		break;
	case P_PSK_ID:
		/* RFC 4279 section 5.3: identities up to 128 octets of any UTF-8 text. Only what
		 * a configuration line cannot hold unambiguously is refused: control characters
		 * (the value is trimmed, so no blanks at either end). */
		if (n == 0 || n > PSK_IDENTITY_MAX)
			return perr(p, p->line, "peer '%s': psk_identity: expected 1-%d bytes", pe->name,
				    PSK_IDENTITY_MAX);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
				return perr(p, p->line,
					    "peer '%s': psk_identity: control characters are not allowed",
					    pe->name);
		dst = &tp->psk_identity;
		break;
	case P_SPKI:
		if (n != 64 || !li707_check_sha256_hex(v))
			return perr(p, p->line, "peer '%s': spki_sha256: expected 64 hexadecimal digits",
				    pe->name);
		for (size_t i = 0; i < 32; i++)
			tp->spki_sha256[i] = (uint8_t)(hexval(v[2 * i]) << 4 | hexval(v[2 * i + 1]));
		tp->has_spki = true;
		return 0;
	default:
		return LI707_EINVAL;
	}
	if (replace_str(dst, v))
		return pnomem(p);
	return 0;
}

static int peer_psk_file(struct parse *p, const char *v)
{
	struct lea_peer *pe = cur_peer(p);
	struct li707_tls_peer *tp = cur_tls(p);
	if (strlen(v) > PATH_BYTES_MAX)
		return perr(p, p->line, "peer '%s': psk_file: longer than %d bytes", pe->name, PATH_BYTES_MAX);
	if (!p->check_files)
		return 0; /* the key stays empty (lea_config_parse) */
	char msg[256] = "";
	int rc = li707_tls_psk_load(v, &tp->psk, &tp->psk_len, msg, sizeof msg);
	if (rc == LI707_ENOMEM)
		return pnomem(p);
	if (rc)
		return perr(p, p->line, "peer '%s': psk_file: %s", pe->name, msg[0] ? msg : "cannot load");
	return 0;
}

static int peer_key(struct parse *p, const char *key, char *v)
{
	struct lea_peer *pe = cur_peer(p);
	struct px *x = cur_px(p);
	size_t i = 0;
	while (i < N_PEER_KEYS && strcmp(peer_keys[i].name, key) != 0)
		i++;
	if (i == N_PEER_KEYS)
		return perr(p, p->line, "peer '%s': unknown key '%s'", pe->name, key);
	const struct pkey *k = &peer_keys[i];
	if (x->key_line[i] && k->type != P_REFS)
		return perr(p, p->line, "peer '%s': %s: given twice (first at line %ld)", pe->name, key,
			    x->key_line[i]);
	if (!x->key_line[i])
		x->key_line[i] = p->line;
	switch (k->type) {
	case P_REFS: return peer_references(p, v);
	case P_MODELS: return peer_models(p, v);
	case P_PSK_FILE: return peer_psk_file(p, v);
	case P_SIZE: {
		uint64_t n;
		if (!lea_parse_size(v, &n))
			return perr(p, p->line,
				    "peer '%s': %s: expected a size (a number with an optional K, M, G or "
				    "T suffix)",
				    pe->name, key);
		if (n < k->min || n > k->max)
			return perr(p, p->line, "peer '%s': %s: out of range (%llu to %llu)", pe->name, key,
				    (unsigned long long)k->min, (unsigned long long)k->max);
		memcpy((char *)pe + k->off, &n, sizeof n);
		return 0;
	}
	default: return peer_identity(p, k, v);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The end of a peer section: what the section itself must hold. */
static int peer_finish(struct parse *p)
{
	struct lea_peer *pe = cur_peer(p);
	struct li707_tls_peer *tp = cur_tls(p);
	struct px *x = cur_px(p);
	if (x->key_line[PK_PSK_ID] && !x->key_line[PK_PSK_FILE])
		return perr(p, x->key_line[PK_PSK_ID], "peer '%s': psk_identity needs psk_file", pe->name);
	if (x->key_line[PK_PSK_FILE] && !x->key_line[PK_PSK_ID])
		return perr(p, x->key_line[PK_PSK_FILE], "peer '%s': psk_file needs psk_identity", pe->name);
	if (!tp->subject && !tp->san && !tp->has_spki && !tp->psk_identity)
		return perr(p, x->line, "peer '%s': needs subject, san, spki_sha256 or psk_identity",
			    pe->name);
	if (!x->key_line[PK_REFS])
		return perr(p, x->line, "peer '%s': references is mandatory ('any' or a list)", pe->name);
	/* Sorted and unique, for lea_peer_allows (R-RSP-1). */
	if (pe->n_references > 1) {
		qsort(pe->references, pe->n_references, sizeof *pe->references, cmp_str);
		size_t o = 1;
		for (size_t i = 1; i < pe->n_references; i++) {
			if (strcmp(pe->references[i], pe->references[o - 1]) == 0)
				free(pe->references[i]);
			else
				pe->references[o++] = pe->references[i];
		}
		pe->n_references = o;
	}
	return 0;
}

static int section_end(struct parse *p)
{
	int rc = p->sec == SEC_PEER ? peer_finish(p) : 0;
	p->sec = SEC_NONE;
	return rc;
}

static int grow_peers(struct parse *p)
{
	struct lea_config *c = p->c;
	if (c->n_peers < p->peers_cap)
		return 0;
	size_t nc = p->peers_cap ? p->peers_cap * 2 : 4;
	struct lea_peer *a = realloc(c->peers, nc * sizeof *a);
	if (!a)
		return LI707_ENOMEM;
	c->peers = a;
	struct li707_tls_peer *b = realloc(c->tls_peers.v, nc * sizeof *b);
	if (!b)
		return LI707_ENOMEM;
	c->tls_peers.v = b;
	struct px *x = realloc(p->px, nc * sizeof *x);
	if (!x)
		return LI707_ENOMEM;
	p->px = x;
	p->peers_cap = nc;
	return 0;
}

static int peer_begin(struct parse *p, const char *name)
{
	struct lea_config *c = p->c;
	if (!name_ok(name))
		return perr(p, p->line, "invalid peer name (1-64 of A-Z a-z 0-9 . _ : -)");
	for (size_t i = 0; i < c->n_peers; i++)
		if (strcmp(c->peers[i].name, name) == 0)
			return perr(p, p->line, "peer '%s': defined twice (first at line %ld)", name,
				    p->px[i].line);
	if (c->n_peers >= LEA_CONFIG_MAX_PEERS)
		return perr(p, p->line, "too many peers (at most %d)", LEA_CONFIG_MAX_PEERS);
	if (grow_peers(p))
		return pnomem(p);
	size_t i = c->n_peers;
	memset(&c->peers[i], 0, sizeof c->peers[i]);
	memset(&c->tls_peers.v[i], 0, sizeof c->tls_peers.v[i]);
	memset(&p->px[i], 0, sizeof p->px[i]);
	c->n_peers++;
	c->tls_peers.n++;
	p->px[i].line = p->line;
	p->sec = SEC_PEER;
	if (!(c->peers[i].name = strdup(name)) || !(c->tls_peers.v[i].name = strdup(name)))
		return pnomem(p);
	return 0;
}

/* ---- lines ---- */

static int parse_header(struct parse *p, char *s)
{
	char *close = strchr(s, ']');
	if (!close)
		return perr(p, p->line, "section header without ']'");
	if (*trim(close + 1))
		return perr(p, p->line, "text after ']' (comments go on a line of their own)");
	*close = '\0';
	char *in = trim(s + 1);
	int rc = section_end(p);
	if (rc)
		return rc;
	if (strcmp(in, "server") == 0) {
		if (p->server_line)
			return perr(p, p->line, "[server]: given twice (first at line %ld)", p->server_line);
		p->server_line = p->line;
		p->sec = SEC_SERVER;
		return 0;
	}
	if (strncmp(in, "peer", 4) == 0 && (in[4] == '\0' || is_blank(in[4]))) {
		char *name = trim(in + 4);
		if (!*name)
			return perr(p, p->line, "[peer] needs a name: [peer NAME]");
		return peer_begin(p, name);
	}
	if (name_ok(in))
		return perr(p, p->line, "unknown section '%s' (expected [server] or [peer NAME])", in);
	return perr(p, p->line, "unknown section (expected [server] or [peer NAME])");
}

static int parse_pair(struct parse *p, char *s)
{
	char *eq = strchr(s, '=');
	if (!eq)
		return perr(p, p->line, "expected 'key = value', a [section] or a comment");
	*eq = '\0';
	char *key = trim(s), *v = trim(eq + 1);
	if (!*key)
		return perr(p, p->line, "missing key before '='");
	if (!key_ok(key))
		return perr(p, p->line, "invalid key name (keys are lower case letters, digits and '_')");
	if (p->sec == SEC_NONE)
		return perr(p, p->line, "'%s' outside a section ([server] or [peer NAME] first)", key);
	if (!*v) {
		if (p->sec == SEC_PEER)
			return perr(p, p->line, "peer '%s': %s: empty value", cur_peer(p)->name, key);
		return perr(p, p->line, "%s: empty value", key);
	}
	return p->sec == SEC_SERVER ? server_key(p, key, v) : peer_key(p, key, v);
}

/* The bytes of one line (without its LF, and without the CR of a CR LF). */
static int check_bytes(struct parse *p, const char *s, size_t n)
{
	if (n > LEA_CONFIG_LINE_MAX)
		return perr(p, p->line, "line longer than %d bytes", LEA_CONFIG_LINE_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == 0)
			return perr(p, p->line, "NUL byte");
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return perr(p, p->line, "control character (the file is text: UTF-8, LF or CR LF)");
	}
	if (!li707_check_utf8(s, n))
		return perr(p, p->line, "not valid UTF-8");
	return 0;
}

static int parse_line(struct parse *p, char *s)
{
	s = trim(s);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_header(p, s);
	return parse_pair(p, s);
}

/* ---- the whole file ---- */

static int check_listeners(struct parse *p)
{
	struct lea_config *c = p->c;
	if (c->n_listen + c->n_listen_psk == 0)
		return perr(p, p->server_line, "[server]: needs at least one listen or listen_psk");
	if (c->n_listen) {
		static const char *const need[] = {"cert", "key", "cacert"};
		const char *have[] = {c->creds.cert, c->creds.key, c->creds.cacert};
		for (int i = 0; i < 3; i++)
			if (!have[i])
				return perr(p, p->server_line,
					    "[server]: %s is mandatory with a certificate listener (listen)",
					    need[i]);
	}
	bool any_psk = false;
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct li707_tls_peer *tp = &c->tls_peers.v[i];
		const struct px *x = &p->px[i];
		any_psk |= tp->psk_identity != NULL;
		if (tp->psk_identity && !c->n_listen_psk)
			return perr(p, x->key_line[PK_PSK_ID],
				    "peer '%s': psk_identity needs a PSK listener (listen_psk)", tp->name);
		if ((tp->subject || tp->san || tp->has_spki) && !c->n_listen)
			return perr(p, x->line,
				    "peer '%s': certificate criteria need a certificate listener (listen)",
				    tp->name);
	}
	if (c->n_listen_psk && !any_psk) {
		size_t k = 0;
		while (strcmp(server_keys[k].name, "listen_psk") != 0)
			k++;
		return perr(p, p->key_line[k], "listen_psk: no peer has a psk_identity");
	}
	return 0;
}

static bool same_opt(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Two peers may not be the same identity: a PSK identity or the same certificate criteria
 * would make the first one win silently. */
static int check_identities(struct parse *p)
{
	const struct li707_tls_peers *ps = &p->c->tls_peers;
	for (size_t j = 1; j < ps->n; j++) {
		const struct li707_tls_peer *b = &ps->v[j];
		bool b_cert = b->subject || b->san || b->has_spki;
		for (size_t i = 0; i < j; i++) {
			const struct li707_tls_peer *a = &ps->v[i];
			if (b->psk_identity && a->psk_identity && strcmp(a->psk_identity, b->psk_identity) == 0)
				return perr(p, p->px[j].key_line[PK_PSK_ID],
					    "peer '%s': psk_identity is also the one of peer '%s'", b->name,
					    a->name);
			if (b_cert && same_opt(a->subject, b->subject) && same_opt(a->san, b->san) &&
			    a->has_spki == b->has_spki &&
			    (!a->has_spki || memcmp(a->spki_sha256, b->spki_sha256, 32) == 0))
				return perr(p, p->px[j].line,
					    "peer '%s': the same certificate criteria as peer '%s'", b->name,
					    a->name);
		}
	}
	return 0;
}

static int check_paths(struct parse *p)
{
	struct lea_config *c = p->c;
	if (!path_within(c->delivery_path, c->binary_path) && !path_within(c->binary_path, c->delivery_path))
		return 0;
	size_t kd = 0, kb = 0;
	while (strcmp(server_keys[kd].name, "delivery_path") != 0)
		kd++;
	while (strcmp(server_keys[kb].name, "binary_path") != 0)
		kb++;
	long line = p->key_line[kb] > p->key_line[kd] ? p->key_line[kb] : p->key_line[kd];
	return perr(p, line, "delivery_path and binary_path overlap (one lies below the other)");
}

static int parse_finish(struct parse *p)
{
	struct lea_config *c = p->c;
	int rc = section_end(p);
	if (rc)
		return rc;
	if (!p->server_line)
		return perr(p, p->line, "no [server] section");
	if (!c->n_peers)
		return perr(p, p->line, "no [peer NAME] section (at least one CSP)");
	if ((rc = check_listeners(p)) || (rc = check_identities(p)) || (rc = check_paths(p)))
		return rc;
	for (size_t i = 0; i < c->n_peers; i++) {
		if (!c->peers[i].max_message_bytes)
			c->peers[i].max_message_bytes = c->max_message_bytes;
		if (!c->peers[i].max_upload_bytes)
			c->peers[i].max_upload_bytes = c->max_upload_bytes;
	}
	return 0;
}

static int parse_buf(struct parse *p, const char *buf, size_t len)
{
	if (len > LEA_CONFIG_FILE_MAX)
		return perr(p, 1, "larger than %d bytes", LEA_CONFIG_FILE_MAX);
	char *line = malloc(LEA_CONFIG_LINE_MAX + 1);
	if (!line)
		return pnomem(p);
	size_t pos = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0; /* UTF-8 BOM */
	int rc = 0;
	while (pos < len && !rc) {
		p->line++;
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n && s[n - 1] == '\r')
			n--;
		if ((rc = check_bytes(p, s, n)) == 0) {
			memcpy(line, s, n);
			line[n] = '\0';
			rc = parse_line(p, line);
		}
	}
	free(line);
	return rc ? rc : parse_finish(p);
}

static int config_defaults(struct lea_config *c, const char *name)
{
	c->max_message_bytes = 64 * MIB;
	c->max_upload_bytes = 4 * GIB;
	c->orphan_timeout_s = 86400;
	c->orphan_max_bytes = 1 * GIB;
	c->log_level = LEA_LOG_INFO;
	c->sync_full = true;
	if (li707_tls_policy_init(&c->policy))
		return LI707_ENOMEM;
	if (!(c->path = strdup(name)) || !(c->store_dir = strdup("/var/lib/li707-lea")) ||
	    !(c->delivery_path = strdup("/hi1")) || !(c->binary_path = strdup("/binaryData/")))
		return LI707_ENOMEM;
	return 0;
}

int lea_config_parse(const char *name, const char *buf, size_t len, bool check_files,
		     struct lea_config **out, char *err, size_t errlen)
{
	if (!out || (!buf && len))
		return LI707_EINVAL;
	if (!name)
		name = "(config)";
	if (err && errlen)
		err[0] = '\0';
	struct lea_config *c = calloc(1, sizeof *c);
	struct parse p = {.name = name, .check_files = check_files, .c = c, .err = err, .errlen = errlen};
	if (!c)
		return pnomem(&p);
	int rc = config_defaults(c, name);
	if (rc)
		pnomem(&p);
	else
		rc = parse_buf(&p, buf ? buf : "", len);
	free(p.px);
	if (rc) {
		lea_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int lea_config_load(const char *path, struct lea_config **out, char *err, size_t errlen)
{
	if (!path || !out)
		return LI707_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > LEA_CONFIG_FILE_MAX) {
		close(fd);
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
				 LEA_CONFIG_FILE_MAX);
		return LI707_EINPUT;
	}
	/* One byte more than allowed, to notice a file that grew since fstat. */
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return LI707_ENOMEM;
	}
	ssize_t r;
	while (n < cap && (r = read(fd, buf + n, cap - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(buf);
			if (err && errlen)
				snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
			return -e;
		}
		n += (size_t)r;
	}
	close(fd);
	int rc = n == cap ? LI707_EINPUT : lea_config_parse(path, buf, n, true, out, err, errlen);
	if (n == cap && err && errlen)
		snprintf(err, errlen, "%s: changed while being read", path);
	free(buf);
	return rc;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void lea_config_free(struct lea_config *c)
{
	if (!c)
		return;
	free(c->path);
	free_strv(c->listen, c->n_listen);
	free_strv(c->listen_psk, c->n_listen_psk);
	free((char *)c->creds.cert);
	free((char *)c->creds.key);
	free((char *)c->creds.cacert);
	free((char *)c->creds.crl);
	free(c->store_dir);
	free(c->delivery_path);
	free(c->binary_path);
	free(c->schema_dir);
	free(c->official_schema_dir);
	li707_tls_policy_done(&c->policy);
	for (size_t i = 0; i < c->n_peers; i++) {
		free(c->peers[i].name);
		free_strv(c->peers[i].references, c->peers[i].n_references);
	}
	free(c->peers);
	li707_tls_peers_clear(&c->tls_peers); /* wipes the keys */
	free(c);
}

const struct lea_peer *lea_config_peer(const struct lea_config *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_peers; i++)
		if (strcmp(c->peers[i].name, name) == 0)
			return &c->peers[i];
	return NULL;
}

bool lea_peer_allows(const struct lea_peer *p, const char *ref)
{
	/* TS103707 R-RSP-1: each reference on its own; exact match, never a prefix. */
	if (!p || !ref)
		return false;
	if (p->any_reference)
		return true;
	if (!p->n_references)
		return false;
	return bsearch(&ref, p->references, p->n_references, sizeof *p->references, cmp_str) != NULL;
}

struct li707_tls_peers *lea_config_take_tls_peers(struct lea_config *c)
{
	if (!c)
		return NULL;
	struct li707_tls_peers *t = malloc(sizeof *t);
	if (!t)
		return NULL;
	*t = c->tls_peers;
	c->tls_peers.v = NULL;
	c->tls_peers.n = 0;
	return t;
}
