/* li707 common - the INI configuration engine (config.h).
 *
 * DESIGN. The buffer is read line by line. Each line is first checked as bytes (length, NUL,
 * control characters, UTF-8) so that nothing after that sees hostile bytes; then it is a
 * section header, a "key = value" pair dispatched through the key table of its section, or a
 * blank or comment line. The engine keeps, per section instance, the line of its header and
 * the first line of each key, so that checks made later (at the end of a section, at the end
 * of the file, by the daemon's callbacks) can name the line that is wrong. Every message names
 * the file and a line. Values are never quoted (key names and valid section names are), so a
 * target identifier cannot reach a log through an error message (TS103707 R-SEC-6).
 *
 * Moved from src/lea/lea_config.c (the functions keep their bodies; names of the LEA's
 * [server]/[peer] became the section's). */
#include "config.h"
#include "size.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "li707/error.h"
#include "li707/util.h"

#define SUBJECT_MAX 1024
#define SAN_MAX 255
#define PSK_IDENTITY_MAX LX_PSK_IDENTITY_MAX /* RFC 4279 section 5.3 */
#define NAME_MAX_BYTES 64     /* section names */
#define CONFIG_INST_MAX 65536 /* sections in one file; each named kind has its own lower max */

/* One section instance: [server] or one [peer NAME]. */
struct inst {
	size_t sec;       /* index in spec->sections */
	char *name;       /* NULL for a singleton */
	long line;        /* of the header */
	long *key_line;   /* first line of each key of the section, 0 = not given */
};

struct lx_config {
	const struct lx_config_spec *spec;
	const char *name;
	bool check_files;
	void *user;
	long line;                       /* current (at the end: last) line */
	struct inst *inst;               /* file order */
	size_t n_inst, inst_cap;
	bool in_section;                 /* inst[n_inst - 1] is being read */
	struct lx_config_obj obj;        /* of the section being read */
	char prefix[NAME_MAX_BYTES + 32]; /* "peer 'NAME': " in a named section, else "" */
	char *err;
	size_t errlen;
};

int lx_config_verror(struct lx_config *p, long line, const char *fmt, va_list ap)
{
	if (p->err && p->errlen) {
		int n = snprintf(p->err, p->errlen, "%s:%ld: ", p->name, line < 1 ? 1 : line);
		if (n >= 0 && (size_t)n < p->errlen)
			vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	}
	return LI707_EINPUT;
}

int lx_config_error(struct lx_config *p, long line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = lx_config_verror(p, line, fmt, ap);
	va_end(ap);
	return rc;
}

#define perr lx_config_error

int lx_config_nomem(struct lx_config *p)
{
	perr(p, p->line, "out of memory");
	return LI707_ENOMEM;
}

#define pnomem lx_config_nomem

long lx_config_line(const struct lx_config *p)
{
	return p->line;
}

bool lx_config_check_files(const struct lx_config *p)
{
	return p->check_files;
}

static const struct lx_config_section *sec_of(const struct lx_config *p, const struct inst *in)
{
	return &p->spec->sections[in->sec];
}

static long key_line_in(const struct lx_config *p, const struct inst *in, const char *key)
{
	const struct lx_config_section *s = sec_of(p, in);
	for (size_t i = 0; i < s->n_keys; i++)
		if (strcmp(s->keys[i].name, key) == 0)
			return in->key_line[i];
	return 0;
}

static const struct inst *find_inst(const struct lx_config *p, const char *sec, size_t idx)
{
	for (size_t i = 0; i < p->n_inst; i++)
		if (strcmp(sec_of(p, &p->inst[i])->name, sec) == 0 && idx-- == 0)
			return &p->inst[i];
	return NULL;
}

long lx_config_section_line(const struct lx_config *p, const char *sec, size_t idx)
{
	const struct inst *in = find_inst(p, sec, idx);
	return in ? in->line : 0;
}

long lx_config_key_line(const struct lx_config *p, const char *sec, size_t idx, const char *key)
{
	const struct inst *in = find_inst(p, sec, idx);
	return in ? key_line_in(p, in, key) : 0;
}

long lx_config_cur_key_line(const struct lx_config *p, const char *key)
{
	return p->in_section ? key_line_in(p, &p->inst[p->n_inst - 1], key) : 0;
}

long lx_config_cur_line(const struct lx_config *p)
{
	return p->in_section ? p->inst[p->n_inst - 1].line : 0;
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

char *lx_config_next_entry(char **rest)
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

/* A section name: 1-64 of [A-Za-z0-9._:-]. Only names like this are ever quoted in messages. */
static bool name_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			  ch == '.' || ch == '_' || ch == ':' || ch == '-';
		if (!ok || n >= NAME_MAX_BYTES)
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
bool lx_config_parse_u64(const char *s, uint64_t *out)
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

#define parse_u64 lx_config_parse_u64

bool lx_config_parse_bool(const char *s, bool *out)
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

int lx_config_push_str(char ***v, size_t *n, size_t *cap, const char *s, size_t max)
{
	int rc = li707_array_grow((void **)v, cap, *n + 1, sizeof **v, max);
	if (rc)
		return rc;
	char *d = strdup(s);
	if (!d)
		return LI707_ENOMEM;
	(*v)[(*n)++] = d;
	return 0;
}

#define push_str lx_config_push_str

void lx_config_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
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

static void *field(struct lx_config *p, const struct lx_config_key *k)
{
	return (char *)p->obj.base + k->off;
}

/* ---- the common key types ---- */

static int key_listen(struct lx_config *p, const struct lx_config_key *k, const char *v)
{
	const struct lx_config_section *s = sec_of(p, &p->inst[p->n_inst - 1]);
	if (!listen_ok(v))
		return perr(p, p->line,
			    "%s%s: expected ADDR:PORT with a numeric IPv4 address, [IPv6]:PORT or :PORT "
			    "(port 0-65535)",
			    p->prefix, k->name);
	/* Every listener of the section, whatever its key. */
	size_t total = 0;
	for (size_t j = 0; j < s->n_keys; j++)
		if (s->keys[j].type == LX_CFG_LISTEN)
			total += *(size_t *)(void *)((char *)p->obj.base + s->keys[j].off_n);
	if (total >= k->max)
		return perr(p, p->line, "%s%s: too many listeners (at most %d in all)", p->prefix,
			    k->name, (int)k->max);
	/* The same address twice could never bind; port 0 picks a new port each time. */
	const char *port = strrchr(v, ':') + 1;
	bool any_port = strspn(port, "0") == strlen(port);
	for (size_t j = 0; j < s->n_keys && !any_port; j++) {
		if (s->keys[j].type != LX_CFG_LISTEN)
			continue;
		char **o = *(char ***)(void *)((char *)p->obj.base + s->keys[j].off);
		size_t on = *(size_t *)(void *)((char *)p->obj.base + s->keys[j].off_n);
		for (size_t i = 0; i < on; i++)
			if (strcmp(o[i], v) == 0)
				return perr(p, p->line, "%s%s: this address is already a listener",
					    p->prefix, k->name);
	}
	size_t *n = (size_t *)(void *)((char *)p->obj.base + k->off_n);
	size_t cap = *n; /* arrays are grown one by one */
	if (push_str((char ***)field(p, k), n, &cap, v, k->max)) /* total < k->max: checked above */
		return pnomem(p);
	return 0;
}

static int key_number(struct lx_config *p, const struct lx_config_key *k, const char *v)
{
	uint64_t x;
	bool ok = k->type == LX_CFG_SIZE ? lx_parse_size(v, &x) : parse_u64(v, &x);
	if (!ok)
		return perr(p, p->line, "%s%s: expected %s", p->prefix, k->name,
			    k->type == LX_CFG_SIZE ? "a size (a number with an optional K, M, G or T suffix)"
						   : "a decimal number");
	if (x < k->min || x > k->max)
		return perr(p, p->line, "%s%s: out of range (%llu to %llu)", p->prefix, k->name,
			    (unsigned long long)k->min, (unsigned long long)k->max);
	if (k->type == LX_CFG_UINT) {
		unsigned u = (unsigned)x;
		memcpy(field(p, k), &u, sizeof u);
	} else {
		memcpy(field(p, k), &x, sizeof x);
	}
	return 0;
}

static int key_tls(struct lx_config *p, const struct lx_config_key *k, const char *v)
{
	char val[LX_CONFIG_LINE_MAX + 1];
	if (strcmp(k->name, "tls13") == 0) {
		bool b;
		if (!lx_config_parse_bool(v, &b))
			return perr(p, p->line, "%stls13: expected yes or no", p->prefix);
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
	int rc = lx_tls_policy_set(field(p, k), k->name, val, msg, sizeof msg);
	if (rc == LI707_ENOMEM)
		return pnomem(p);
	if (rc)
		return perr(p, p->line, "%s%s", p->prefix, msg[0] ? msg : "invalid TLS setting");
	return 0;
}

static int key_path(struct lx_config *p, const struct lx_config_key *k, const char *v)
{
	size_t n = strlen(v);
	if (n > LX_CONFIG_PATH_MAX)
		return perr(p, p->line, "%s%s: longer than %d bytes", p->prefix, k->name,
			    LX_CONFIG_PATH_MAX);
	/* check_files: directories and files must be readable now (an LX_CFG_PATH, such as a
	 * store the daemon creates, is not opened). */
	int e = 0;
	if (p->check_files && k->type == LX_CFG_DIR && (e = unreadable(v, true)) != 0)
		return perr(p, p->line, "%s%s: not a readable directory: %s", p->prefix, k->name,
			    strerror(e));
	if (p->check_files && k->type == LX_CFG_FILE && (e = unreadable(v, false)) != 0)
		return perr(p, p->line, "%s%s: cannot read the file: %s", p->prefix, k->name,
			    e == EINVAL ? "not a regular file" : strerror(e));
	if (replace_str((char **)field(p, k), v))
		return pnomem(p);
	return 0;
}

static int key_enum(struct lx_config *p, const struct lx_config_key *k, const char *v)
{
	if (k->type == LX_CFG_BOOL) {
		if (!lx_config_parse_bool(v, (bool *)field(p, k)))
			return perr(p, p->line, "%s%s: expected yes or no", p->prefix, k->name);
		return 0;
	}
	size_t n = 0;
	for (; k->names[n]; n++) {
		if (strcmp(v, k->names[n]) == 0) {
			int i = (int)n;
			memcpy(field(p, k), &i, sizeof i);
			return 0;
		}
	}
	/* "expected a, b, c or d" */
	char list[256] = "";
	size_t o = 0;
	for (size_t i = 0; i < n && o < sizeof list; i++) {
		int w = snprintf(list + o, sizeof list - o, "%s%s",
				 i == 0 ? "" : i + 1 == n ? " or " : ", ", k->names[i]);
		o += w > 0 ? (size_t)w : 0;
	}
	return perr(p, p->line, "%s%s: expected %s", p->prefix, k->name, list);
}

static int key_identity(struct lx_config *p, const struct lx_config_key *k, const char *v)
{
	struct lx_tls_peer *tp = p->obj.tls;
	size_t n = strlen(v);
	char **dst = NULL;
	switch (k->type) {
	case LX_CFG_SUBJECT:
		if (n > SUBJECT_MAX || !strchr(v, '='))
			return perr(p, p->line,
				    "%ssubject: expected an RFC 4514 DN such as CN=csp1,O=Example "
				    "(at most %d bytes)",
				    p->prefix, SUBJECT_MAX);
		dst = &tp->subject;
		break;
	case LX_CFG_SAN:
		if (n > SAN_MAX || strpbrk(v, " \t"))
			return perr(p, p->line,
				    "%ssan: expected a DNS name or URI without blanks (at most %d "
				    "bytes)",
				    p->prefix, SAN_MAX);
		dst = &tp->san;
		break;
	case LX_CFG_PSK_ID:
		/* RFC 4279 section 5.3: identities up to 128 octets of any UTF-8 text. Only what
		 * a configuration line cannot hold unambiguously is refused: control characters
		 * (the value is trimmed, so no blanks at either end). */
		if (n == 0 || n > PSK_IDENTITY_MAX)
			return perr(p, p->line, "%spsk_identity: expected 1-%d bytes", p->prefix,
				    PSK_IDENTITY_MAX);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
				return perr(p, p->line, "%spsk_identity: control characters are not allowed",
					    p->prefix);
		dst = &tp->psk_identity;
		break;
	case LX_CFG_SPKI:
		if (n != 64 || !li707_check_sha256_hex(v))
			return perr(p, p->line, "%sspki_sha256: expected 64 hexadecimal digits",
				    p->prefix);
		for (size_t i = 0; i < 32; i++)
			tp->spki_sha256[i] = (uint8_t)(li707_hex_value(v[2 * i]) << 4 | li707_hex_value(v[2 * i + 1]));
		tp->has_spki = true;
		return 0;
	default:
		return LI707_EINVAL;
	}
	if (replace_str(dst, v))
		return pnomem(p);
	return 0;
}

static int key_psk_file(struct lx_config *p, const char *v)
{
	struct lx_tls_peer *tp = p->obj.tls;
	if (strlen(v) > LX_CONFIG_PATH_MAX)
		return perr(p, p->line, "%spsk_file: longer than %d bytes", p->prefix, LX_CONFIG_PATH_MAX);
	if (!p->check_files)
		return 0; /* the key stays empty (lx_config_parse) */
	char msg[256] = "";
	int rc = lx_tls_psk_load(v, &tp->psk, &tp->psk_len, msg, sizeof msg);
	if (rc == LI707_ENOMEM)
		return pnomem(p);
	if (rc)
		return perr(p, p->line, "%spsk_file: %s", p->prefix, msg[0] ? msg : "cannot load");
	return 0;
}

static int section_key(struct lx_config *p, const char *key, char *v)
{
	struct inst *in = &p->inst[p->n_inst - 1];
	const struct lx_config_section *s = sec_of(p, in);
	size_t i = 0;
	while (i < s->n_keys && strcmp(s->keys[i].name, key) != 0)
		i++;
	if (i == s->n_keys) {
		if (s->named)
			return perr(p, p->line, "%sunknown key '%s'", p->prefix, key);
		return perr(p, p->line, "[%s]: unknown key '%s'", s->name, key);
	}
	const struct lx_config_key *k = &s->keys[i];
	bool list = (k->flags & LX_CFG_MULTI) || k->type == LX_CFG_LISTEN;
	if (in->key_line[i] && !list)
		return perr(p, p->line, "%s%s: given twice (first at line %ld)", p->prefix, key,
			    in->key_line[i]);
	if (!in->key_line[i])
		in->key_line[i] = p->line;
	switch (k->type) {
	case LX_CFG_LISTEN: return key_listen(p, k, v);
	case LX_CFG_ADDR:
		if (!listen_ok(v))
			return perr(p, p->line,
				    "%s%s: expected ADDR:PORT with a numeric IPv4 address, [IPv6]:PORT or "
				    ":PORT (port 0-65535)",
				    p->prefix, k->name);
		return replace_str((char **)field(p, k), v) ? pnomem(p) : 0;
	case LX_CFG_PATH:
	case LX_CFG_FILE:
	case LX_CFG_DIR: return key_path(p, k, v);
	case LX_CFG_SIZE:
	case LX_CFG_SECONDS:
	case LX_CFG_UINT: return key_number(p, k, v);
	case LX_CFG_TLS: return key_tls(p, k, v);
	case LX_CFG_BOOL:
	case LX_CFG_ENUM: return key_enum(p, k, v);
	case LX_CFG_SUBJECT:
	case LX_CFG_SAN:
	case LX_CFG_SPKI:
	case LX_CFG_PSK_ID: return key_identity(p, k, v);
	case LX_CFG_PSK_FILE: return key_psk_file(p, v);
	case LX_CFG_CUSTOM: return k->fn(p, k, p->user, v);
	}
	return LI707_EINVAL;
}

/* ---- identities ---- */

int lx_config_identity_end(struct lx_config *p, const struct lx_tls_peer *tp, bool need_one)
{
	long id_line = lx_config_cur_key_line(p, "psk_identity");
	long file_line = lx_config_cur_key_line(p, "psk_file");
	if (id_line && !file_line)
		return perr(p, id_line, "%spsk_identity needs psk_file", p->prefix);
	if (file_line && !id_line)
		return perr(p, file_line, "%spsk_file needs psk_identity", p->prefix);
	if (need_one && !tp->subject && !tp->san && !tp->has_spki && !tp->psk_identity)
		return perr(p, lx_config_cur_line(p), "%sneeds subject, san, spki_sha256 or psk_identity",
			    p->prefix);
	return 0;
}

static bool same_opt(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Two peers may not be the same identity: a PSK identity or the same certificate criteria
 * would make the first one win silently. */
int lx_config_check_identities(struct lx_config *p, const char *sec, const struct lx_tls_peers *ps)
{
	for (size_t j = 1; j < ps->n; j++) {
		const struct lx_tls_peer *b = &ps->v[j];
		bool b_cert = b->subject || b->san || b->has_spki;
		for (size_t i = 0; i < j; i++) {
			const struct lx_tls_peer *a = &ps->v[i];
			if (b->psk_identity && a->psk_identity && strcmp(a->psk_identity, b->psk_identity) == 0)
				return perr(p, lx_config_key_line(p, sec, j, "psk_identity"),
					    "%s '%s': psk_identity is also the one of %s '%s'", sec, b->name,
					    sec, a->name);
			if (b_cert && same_opt(a->subject, b->subject) && same_opt(a->san, b->san) &&
			    a->has_spki == b->has_spki &&
			    (!a->has_spki || memcmp(a->spki_sha256, b->spki_sha256, 32) == 0))
				return perr(p, lx_config_section_line(p, sec, j),
					    "%s '%s': the same certificate criteria as %s '%s'", sec, b->name,
					    sec, a->name);
		}
	}
	return 0;
}

/* ---- sections ---- */

static int section_end(struct lx_config *p)
{
	if (!p->in_section)
		return 0;
	const struct lx_config_section *s = sec_of(p, &p->inst[p->n_inst - 1]);
	int rc = s->end ? s->end(p, p->user) : 0;
	p->in_section = false;
	p->prefix[0] = '\0';
	return rc;
}

/* "[server] or [peer NAME]" */
static void section_list(const struct lx_config *p, char *out, size_t n)
{
	size_t o = 0, ns = p->spec->n_sections;
	out[0] = '\0';
	for (size_t i = 0; i < ns && o < n; i++) {
		const struct lx_config_section *s = &p->spec->sections[i];
		int w = snprintf(out + o, n - o, "%s[%s%s]", i == 0 ? "" : i + 1 == ns ? " or " : ", ",
				 s->name, s->named ? " NAME" : "");
		o += w > 0 ? (size_t)w : 0;
	}
}

static int section_begin(struct lx_config *p, size_t si, const char *name)
{
	const struct lx_config_section *s = &p->spec->sections[si];
	size_t count = 0;
	if (s->named && !name_ok(name))
		return perr(p, p->line, "invalid %s name (1-64 of A-Z a-z 0-9 . _ : -)", s->name);
	for (size_t i = 0; i < p->n_inst; i++) {
		if (p->inst[i].sec != si)
			continue;
		count++;
		if (!s->named)
			return perr(p, p->line, "[%s]: given twice (first at line %ld)", s->name,
				    p->inst[i].line);
		if (strcmp(p->inst[i].name, name) == 0)
			return perr(p, p->line, "%s '%s': defined twice (first at line %ld)", s->name, name,
				    p->inst[i].line);
	}
	if (s->named && count >= s->max)
		return perr(p, p->line, "too many %ss (at most %zu)", s->name, s->max);
	int grc = li707_array_grow((void **)&p->inst, &p->inst_cap, p->n_inst + 1,
				   sizeof *p->inst, CONFIG_INST_MAX);
	if (grc == LI707_ELIMIT)
		return perr(p, p->line, "too many sections (at most %d)", CONFIG_INST_MAX);
	if (grc)
		return pnomem(p);
	struct inst *in = &p->inst[p->n_inst];
	memset(in, 0, sizeof *in);
	in->sec = si;
	in->line = p->line;
	if (!(in->key_line = calloc(s->n_keys ? s->n_keys : 1, sizeof *in->key_line)) ||
	    (name && !(in->name = strdup(name)))) {
		free(in->key_line);
		return pnomem(p);
	}
	p->n_inst++;
	if (s->named)
		snprintf(p->prefix, sizeof p->prefix, "%s '%s': ", s->name, name);
	memset(&p->obj, 0, sizeof p->obj);
	int rc = s->begin ? s->begin(p, p->user, s->named ? name : NULL, &p->obj) : 0;
	if (rc == LI707_ENOMEM)
		return pnomem(p);
	if (rc)
		return rc;
	p->in_section = true;
	return 0;
}

/* ---- lines ---- */

static int parse_header(struct lx_config *p, char *s)
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
	for (size_t i = 0; i < p->spec->n_sections; i++) {
		const struct lx_config_section *sc = &p->spec->sections[i];
		size_t n = strlen(sc->name);
		if (!sc->named && strcmp(in, sc->name) == 0)
			return section_begin(p, i, NULL);
		if (sc->named && strncmp(in, sc->name, n) == 0 && (in[n] == '\0' || is_blank(in[n]))) {
			char *name = trim(in + n);
			if (!*name)
				return perr(p, p->line, "[%s] needs a name: [%s NAME]", sc->name, sc->name);
			return section_begin(p, i, name);
		}
	}
	char list[256];
	section_list(p, list, sizeof list);
	if (name_ok(in))
		return perr(p, p->line, "unknown section '%s' (expected %s)", in, list);
	return perr(p, p->line, "unknown section (expected %s)", list);
}

static int parse_pair(struct lx_config *p, char *s)
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
	if (!p->in_section) {
		char list[256];
		section_list(p, list, sizeof list);
		return perr(p, p->line, "'%s' outside a section (%s first)", key, list);
	}
	if (!*v)
		return perr(p, p->line, "%s%s: empty value", p->prefix, key);
	return section_key(p, key, v);
}

/* The bytes of one line (without its LF, and without the CR of a CR LF). */
static int check_bytes(struct lx_config *p, const char *s, size_t n)
{
	if (n > LX_CONFIG_LINE_MAX)
		return perr(p, p->line, "line longer than %d bytes", LX_CONFIG_LINE_MAX);
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

static int parse_line(struct lx_config *p, char *s)
{
	s = trim(s);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_header(p, s);
	return parse_pair(p, s);
}

/* ---- the whole file ---- */

static int parse_finish(struct lx_config *p)
{
	int rc = section_end(p);
	if (rc)
		return rc;
	for (size_t i = 0; i < p->spec->n_sections; i++) {
		const struct lx_config_section *s = &p->spec->sections[i];
		if (!(s->flags & LX_CFG_REQUIRED) || find_inst(p, s->name, 0))
			continue;
		return perr(p, p->line, "no [%s%s] section%s%s%s", s->name, s->named ? " NAME" : "",
			    s->note ? " (" : "", s->note ? s->note : "", s->note ? ")" : "");
	}
	return p->spec->finish ? p->spec->finish(p, p->user) : 0;
}

static int parse_buf(struct lx_config *p, const char *buf, size_t len)
{
	if (len > LX_CONFIG_FILE_MAX)
		return perr(p, 1, "larger than %d bytes", LX_CONFIG_FILE_MAX);
	char *line = malloc(LX_CONFIG_LINE_MAX + 1);
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

int lx_config_parse(const struct lx_config_spec *spec, const char *name, const char *buf,
		    size_t len, bool check_files, void *user, char *err, size_t errlen)
{
	if (!spec || (!buf && len))
		return LI707_EINVAL;
	struct lx_config p = {
		.spec = spec,
		.name = name ? name : "(config)",
		.check_files = check_files,
		.user = user,
		.err = err,
		.errlen = errlen,
	};
	int rc = parse_buf(&p, buf ? buf : "", len);
	for (size_t i = 0; i < p.n_inst; i++) {
		free(p.inst[i].name);
		free(p.inst[i].key_line);
	}
	free(p.inst);
	return rc;
}

int lx_config_read_file(const char *path, char **out, size_t *out_len, char *err, size_t errlen)
{
	if (!path || !out || !out_len)
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
	if (!S_ISREG(st.st_mode) || st.st_size > LX_CONFIG_FILE_MAX) {
		close(fd);
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
				 LX_CONFIG_FILE_MAX);
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
	if (n == cap) {
		if (err && errlen)
			snprintf(err, errlen, "%s: changed while being read", path);
		free(buf);
		return LI707_EINPUT;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

int lx_config_new(const struct lx_config_kind *k, const char *name, const char *buf, size_t len,
		  bool check_files, void **out, char *err, size_t errlen)
{
	if (!k || !out || (!buf && len))
		return LI707_EINVAL;
	if (!name)
		name = "(config)";
	if (err && errlen)
		err[0] = '\0';
	void *cfg = calloc(1, k->size);
	void *user = calloc(1, k->user_size ? k->user_size : 1);
	int rc = cfg && user ? k->init(cfg, user, name) : LI707_ENOMEM;
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s:1: out of memory", name);
	} else {
		rc = lx_config_parse(k->spec, name, buf, len, check_files, user, err, errlen);
	}
	if (user && k->user_done)
		k->user_done(user);
	free(user);
	if (rc) {
		if (cfg)
			k->free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

int lx_config_load(const struct lx_config_kind *k, const char *path, void **out, char *err,
		   size_t errlen)
{
	if (!k || !path || !out)
		return LI707_EINVAL;
	char *buf = NULL;
	size_t n = 0;
	int rc = lx_config_read_file(path, &buf, &n, err, errlen);
	if (!rc)
		rc = lx_config_new(k, path, buf, n, true, out, err, errlen);
	free(buf);
	return rc;
}
