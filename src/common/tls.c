/* li707 common - the TLS policy and peer identities (tls.h).
 *
 * DESIGN
 * The vocabulary is a fixed table of TLS 1.2 suites, each known to OpenSSL by its name and
 * to GnuTLS by a key exchange and a cipher. A policy lists suites by name; anything outside
 * the table (so anything without (EC)DHE and an AEAD cipher) is refused when the policy is
 * set, not when a handshake fails later. TLS 1.3 suites are all AEAD and always use
 * (EC)DHE in li707 (PSK-only key exchange is not offered), so they are not configurable.
 * OpenSSL gets the list as is; GnuTLS gets the union of key exchanges and of ciphers. */
#include "tls.h"
#include "dynbuf.h"
#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "li707/li707.h"

struct suite {
	const char *name;   /* OpenSSL / IANA-style name */
	const char *kx;     /* GnuTLS key exchange */
	const char *cipher; /* GnuTLS cipher */
	bool psk;
};

/* RFC 9325 section 4.2: AEAD with (EC)DHE only. */
static const struct suite suites[] = {
	{"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA", "AES-256-GCM", false},
	{"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA", "AES-256-GCM", false},
	{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA", "AES-128-GCM", false},
	{"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA", "AES-128-GCM", false},
	{"ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA", "CHACHA20-POLY1305", false},
	{"ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA", "CHACHA20-POLY1305", false},
	{"ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-PSK", "CHACHA20-POLY1305", true},
	{"DHE-PSK-AES256-GCM-SHA384", "DHE-PSK", "AES-256-GCM", true},
	{"DHE-PSK-AES128-GCM-SHA256", "DHE-PSK", "AES-128-GCM", true},
	{"DHE-PSK-CHACHA20-POLY1305", "DHE-PSK", "CHACHA20-POLY1305", true},
};

struct group {
	const char *name;   /* vocabulary and OpenSSL name */
	const char *gnutls; /* GnuTLS priority token */
};

static const struct group groups[] = {
	{"X25519", "GROUP-X25519"},   {"P-256", "GROUP-SECP256R1"},
	{"P-384", "GROUP-SECP384R1"}, {"P-521", "GROUP-SECP521R1"},
	{"X448", "GROUP-X448"},       {"ffdhe2048", "GROUP-FFDHE2048"},
	{"ffdhe3072", "GROUP-FFDHE3072"},
};

static const struct suite *suite_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
		if (strlen(suites[i].name) == len && strncmp(suites[i].name, name, len) == 0)
			return &suites[i];
	return NULL;
}

static const struct group *group_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
		if (strlen(groups[i].name) == len && strncmp(groups[i].name, name, len) == 0)
			return &groups[i];
	return NULL;
}

/* Calls fn for every ':'-separated element; returns its first non-zero result. */
static int each_item(const char *list, int (*fn)(const char *s, size_t len, void *arg), void *arg)
{
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ':');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		int rc = fn(p, len, arg);
		if (rc)
			return rc;
		if (!e)
			return 0;
		p = e + 1;
	}
}

struct list_check {
	bool want_psk;
	bool is_groups;
	size_t n;
	char *err;
	size_t errlen;
};

static int check_one(const char *s, size_t len, void *arg)
{
	struct list_check *lc = arg;
	lc->n++;
	if (lc->is_groups) {
		if (!group_find(s, len)) {
			lx_errf(lc->err, lc->errlen, "tls_groups: element %zu is not a supported group", lc->n);
			return LI707_EINPUT;
		}
		return 0;
	}
	const struct suite *st = suite_find(s, len);
	if (!st || st->psk != lc->want_psk) {
		lx_errf(lc->err, lc->errlen,
		     "%s: element %zu is not an allowed %sTLS 1.2 suite (AEAD with (EC)DHE only, "
		     "RFC 9325)",
		     lc->want_psk ? "tls12_psk_suites" : "tls12_suites", lc->n,
		     lc->want_psk ? "PSK " : "");
		return LI707_EINPUT;
	}
	return 0;
}

static int check_list(const char *v, bool psk, bool is_groups, char *err, size_t errlen)
{
	if (!v || !*v) {
		lx_errf(err, errlen, "empty list");
		return LI707_EINPUT;
	}
	struct list_check lc = {.want_psk = psk, .is_groups = is_groups, .err = err, .errlen = errlen};
	return each_item(v, check_one, &lc);
}

int lx_tls_policy_init(struct lx_tls_policy *p)
{
	if (!p)
		return LI707_EINVAL;
	struct lx_tls_policy t = {.min_version = LX_TLS_1_2, .tls13 = true};
	t.tls12_suites = strdup(LX_TLS12_SUITES_DEFAULT);
	t.tls12_psk_suites = strdup(LX_TLS12_PSK_SUITES_DEFAULT);
	t.groups = strdup(LX_TLS_GROUPS_DEFAULT);
	if (!t.tls12_suites || !t.tls12_psk_suites || !t.groups) {
		lx_tls_policy_done(&t);
		return LI707_ENOMEM;
	}
	*p = t;
	return 0;
}

void lx_tls_policy_done(struct lx_tls_policy *p)
{
	if (!p)
		return;
	free(p->tls12_suites);
	free(p->tls12_psk_suites);
	free(p->groups);
	memset(p, 0, sizeof *p);
}

static int replace(char **dst, const char *v)
{
	char *c = strdup(v);
	if (!c)
		return LI707_ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

int lx_tls_policy_set(struct lx_tls_policy *p, const char *key, const char *value,
			 char *err, size_t errlen)
{
	if (!p || !key || !value)
		return LI707_EINVAL;
	int rc;
	if (strcmp(key, "tls_min") == 0) {
		/* TS103707 R-SEC-1: at least TLS 1.2. */
		if (strcmp(value, "1.2") == 0)
			p->min_version = LX_TLS_1_2;
		else if (strcmp(value, "1.3") == 0)
			p->min_version = LX_TLS_1_3;
		else {
			lx_errf(err, errlen, "tls_min: must be 1.2 or 1.3 (TLS below 1.2 is not allowed)");
			return LI707_EINPUT;
		}
	} else if (strcmp(key, "tls13") == 0) {
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			p->tls13 = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
			p->tls13 = false;
		else {
			lx_errf(err, errlen, "tls13: must be yes or no");
			return LI707_EINPUT;
		}
	} else if (strcmp(key, "tls12_suites") == 0 || strcmp(key, "tls12_psk_suites") == 0) {
		bool psk = strcmp(key, "tls12_psk_suites") == 0;
		if ((rc = check_list(value, psk, false, err, errlen)))
			return rc;
		return replace(psk ? &p->tls12_psk_suites : &p->tls12_suites, value);
	} else if (strcmp(key, "tls_groups") == 0) {
		if ((rc = check_list(value, false, true, err, errlen)))
			return rc;
		return replace(&p->groups, value);
	} else {
		lx_errf(err, errlen, "unknown TLS key");
		return LI707_EINPUT;
	}
	if (p->min_version == LX_TLS_1_3 && !p->tls13) {
		lx_errf(err, errlen, "tls_min 1.3 with tls13 no leaves no protocol version");
		return LI707_EINPUT;
	}
	return 0;
}

/* A growing string with a sticky error. The priority string holds each token of the fixed
 * tables below at most once, far less than this cap. */
#define GNUTLS_PRIORITY_MAX 4096

struct sb {
	struct lx_dynbuf d;
	int err;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (!b->err)
		b->err = lx_dynbuf_add(&b->d, s, n);
}

static void sb_str(struct sb *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Adds ":+TOKEN" unless the string has it already. */
static void sb_token(struct sb *b, const char *tok)
{
	if (b->err)
		return;
	size_t n = strlen(tok);
	const char *s0 = lx_dynbuf_ptr(&b->d);
	for (const char *p = s0; (p = strstr(p, tok)); p += n)
		if (p > s0 + 1 && p[-1] == '+' && p[-2] == ':' && (p[n] == ':' || p[n] == '\0'))
			return;
	sb_str(b, ":+");
	sb_str(b, tok);
}

struct gn {
	struct sb *b;
	bool want_kx; /* pass 1: key exchanges; pass 2: ciphers */
};

static int gnutls_suite(const char *s, size_t len, void *arg)
{
	struct gn *g = arg;
	const struct suite *st = suite_find(s, len);
	if (st)
		sb_token(g->b, g->want_kx ? st->kx : st->cipher);
	return 0;
}

static int gnutls_group(const char *s, size_t len, void *arg)
{
	const struct group *gr = group_find(s, len);
	if (gr)
		sb_token(arg, gr->gnutls);
	return 0;
}

int lx_tls_gnutls_priority(const struct lx_tls_policy *p, bool psk, char **out)
{
	if (!p || !out)
		return LI707_EINVAL;
	struct sb b = {.err = 0};
	lx_dynbuf_init(&b.d, GNUTLS_PRIORITY_MAX);
	sb_str(&b, "NONE");
	if (p->tls13)
		sb_token(&b, "VERS-TLS1.3");
	if (p->min_version == LX_TLS_1_2)
		sb_token(&b, "VERS-TLS1.2");
	const char *list = psk ? p->tls12_psk_suites : p->tls12_suites;
	/* Ciphers first, in the order given (AES-GCM first by default: ChaCha20 is the slower
	 * one on AES-NI machines), then key exchanges. */
	struct gn g = {.b = &b, .want_kx = false};
	each_item(list, gnutls_suite, &g);
	g.want_kx = true;
	each_item(list, gnutls_suite, &g);
	if (psk && p->tls13) {
		/* TLS 1.3 external PSK with (EC)DHE. */
		sb_token(&b, "ECDHE-PSK");
		sb_token(&b, "DHE-PSK");
	}
	if (p->tls13) {
		/* TLS 1.3 suites are AEAD; they need their cipher tokens too. */
		sb_token(&b, "AES-256-GCM");
		sb_token(&b, "AES-128-GCM");
		sb_token(&b, "CHACHA20-POLY1305");
	}
	sb_token(&b, "AEAD");
	sb_token(&b, "SIGN-ALL");
	sb_token(&b, "COMP-NULL");
	sb_token(&b, "CTYPE-X509");
	each_item(p->groups, gnutls_group, &b);
	if (psk)
		sb_token(&b, "GROUP-FFDHE2048"); /* DHE-PSK needs a finite-field group */
	if (b.err) {
		lx_dynbuf_free(&b.d);
		return b.err;
	}
	*out = lx_dynbuf_take(&b.d, NULL);
	return 0;
}

int lx_tls_openssl_apply(const struct lx_tls_policy *p, bool psk, void *ssl_ctx)
{
	SSL_CTX *ctx = ssl_ctx;
	if (!p || !ctx)
		return LI707_EINVAL;
	int min = p->min_version == LX_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
	int max = p->tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
	if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, max) != 1)
		return LI707_ECRYPTO;
	const char *list = psk ? p->tls12_psk_suites : p->tls12_suites;
	if (SSL_CTX_set_cipher_list(ctx, list) != 1)
		return LI707_ECRYPTO;
	if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:"
					  "TLS_CHACHA20_POLY1305_SHA256") != 1)
		return LI707_ECRYPTO;
	if (SSL_CTX_set1_groups_list(ctx, p->groups) != 1)
		return LI707_ECRYPTO;
	/* TS103707 R-SEC-3 (RFC 9325): no compression, no renegotiation. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	return 0;
}

void lx_tls_peers_clear(struct lx_tls_peers *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		struct lx_tls_peer *pe = &ps->v[i];
		free(pe->name);
		free(pe->subject);
		free(pe->san);
		free(pe->psk_identity);
		if (pe->psk) {
			li707_wipe(pe->psk, pe->psk_len);
			free(pe->psk);
		}
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

static char *dup_opt(const char *s, bool *bad)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*bad = true;
	return d;
}

struct lx_tls_peers *lx_tls_peers_dup(const struct lx_tls_peers *src)
{
	struct lx_tls_peers *t = calloc(1, sizeof *t);
	if (!t || !src || !src->n)
		return t;
	if (!(t->v = calloc(src->n, sizeof *t->v))) {
		free(t);
		return NULL;
	}
	bool bad = false;
	for (size_t i = 0; i < src->n; i++, t->n++) {
		const struct lx_tls_peer *a = &src->v[i];
		struct lx_tls_peer *b = &t->v[i];
		*b = (struct lx_tls_peer){.has_spki = a->has_spki, .psk_len = a->psk_len};
		memcpy(b->spki_sha256, a->spki_sha256, sizeof b->spki_sha256);
		b->name = dup_opt(a->name, &bad);
		b->subject = dup_opt(a->subject, &bad);
		b->san = dup_opt(a->san, &bad);
		b->psk_identity = dup_opt(a->psk_identity, &bad);
		if (a->psk && a->psk_len) {
			if ((b->psk = malloc(a->psk_len)))
				memcpy(b->psk, a->psk, a->psk_len);
			else
				bad = true;
		}
	}
	if (bad) {
		lx_tls_peers_clear(t);
		free(t);
		return NULL;
	}
	return t;
}

#define PSK_FILE_MAX 4096
/* RFC 4279 section 5.3: keys of up to 64 octets of any content must be accepted; it sets no
 * minimum (one octet is a key). Keys shorter than LX_PSK_WEAK_BELOW are accepted and the
 * daemons warn about them. */
#define PSK_MIN 1
#define PSK_MAX 1024

int lx_tls_psk_load(const char *path, uint8_t **key, size_t *len, char *err, size_t errlen)
{
	if (!path || !key || !len)
		return LI707_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		lx_errf(err, errlen, "PSK file cannot be opened: %s", strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		lx_errf(err, errlen, "PSK file is not a regular file");
		return LI707_EINPUT;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		lx_errf(err, errlen, "PSK file is readable by group or others (chmod 600)");
		return LI707_EINPUT;
	}
	uint8_t raw[PSK_FILE_MAX + 1];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof raw && (r = read(fd, raw + n, sizeof raw - n)) > 0)
		n += (size_t)r;
	close(fd);
	int rc = 0;
	uint8_t *k = NULL;
	size_t klen = 0;
	if (n > PSK_FILE_MAX) {
		lx_errf(err, errlen, "PSK file is larger than %d bytes", PSK_FILE_MAX);
		rc = LI707_EINPUT;
		goto wipe_raw;
	}
	/* Hex when every byte is a hex digit or white space, raw bytes otherwise. */
	size_t digits = 0;
	bool is_hex = n > 0;
	for (size_t i = 0; i < n && is_hex; i++) {
		if (li707_hex_value(raw[i]) >= 0)
			digits++;
		else if (raw[i] != ' ' && raw[i] != '\n' && raw[i] != '\r' && raw[i] != '\t')
			is_hex = false;
	}
	if (is_hex && digits % 2 == 0) {
		klen = digits / 2;
		if (klen < PSK_MIN || klen > PSK_MAX)
			goto bad_len;
		if (!(k = malloc(klen))) {
			rc = LI707_ENOMEM;
			goto wipe_raw;
		}
		size_t o = 0;
		int hi = -1;
		for (size_t i = 0; i < n; i++) {
			int v = li707_hex_value(raw[i]);
			if (v < 0)
				continue;
			if (hi < 0)
				hi = v;
			else {
				k[o++] = (uint8_t)(hi << 4 | v);
				hi = -1;
			}
		}
	} else {
		klen = n;
		if (klen < PSK_MIN || klen > PSK_MAX)
			goto bad_len;
		if (!(k = malloc(klen))) {
			rc = LI707_ENOMEM;
			goto wipe_raw;
		}
		memcpy(k, raw, klen);
	}
	*key = k;
	*len = klen;
	goto wipe_raw;
bad_len:
	lx_errf(err, errlen, "PSK must be %d to %d bytes", PSK_MIN, PSK_MAX);
	rc = LI707_EINPUT;
wipe_raw:
	li707_wipe(raw, sizeof raw);
	return rc;
}

/* True when the certificate has san among its DNS names or URIs. */
static bool has_san(X509 *x, const char *san)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const ASN1_IA5STRING *s = NULL;
		if (g->type == GEN_DNS)
			s = g->d.dNSName;
		else if (g->type == GEN_URI)
			s = g->d.uniformResourceIdentifier;
		if (s && (size_t)s->length == strlen(san) &&
		    memcmp(s->data, san, (size_t)s->length) == 0)
			found = true;
	}
	GENERAL_NAMES_free(names);
	return found;
}

static bool subject_is(X509 *x, const char *want)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return false;
	bool ok = false;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		char *data = NULL;
		long n = BIO_get_mem_data(b, &data);
		ok = n >= 0 && (size_t)n == strlen(want) && memcmp(data, want, (size_t)n) == 0;
	}
	BIO_free(b);
	return ok;
}

static bool spki_is(X509 *x, const uint8_t want[32])
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (n <= 0)
		return false;
	uint8_t md[32];
	unsigned int mdlen = 0;
	bool ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32 &&
		  CRYPTO_memcmp(md, want, 32) == 0;
	OPENSSL_free(der);
	return ok;
}

const struct lx_tls_peer *lx_tls_peer_by_cert(const struct lx_tls_peers *ps,
						    const uint8_t *der, size_t der_len)
{
	if (!ps || !der || !der_len || der_len > LONG_MAX)
		return NULL;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)der_len);
	if (!x)
		return NULL;
	const struct lx_tls_peer *found = NULL;
	for (size_t i = 0; i < ps->n && !found; i++) {
		const struct lx_tls_peer *pe = &ps->v[i];
		if (!pe->subject && !pe->san && !pe->has_spki)
			continue; /* a PSK-only peer */
		if (pe->subject && !subject_is(x, pe->subject))
			continue;
		if (pe->san && !has_san(x, pe->san))
			continue;
		if (pe->has_spki && !spki_is(x, pe->spki_sha256))
			continue;
		found = pe;
	}
	X509_free(x);
	return found;
}

const struct lx_tls_peer *lx_tls_peer_by_psk(const struct lx_tls_peers *ps,
						   const char *identity)
{
	if (!ps || !identity)
		return NULL;
	size_t ilen = strlen(identity);
	const struct lx_tls_peer *found = NULL;
	for (size_t i = 0; i < ps->n; i++) {
		const struct lx_tls_peer *pe = &ps->v[i];
		if (!pe->psk_identity)
			continue;
		size_t plen = strlen(pe->psk_identity);
		/* Equal lengths compared in constant time; no early exit over the table. */
		bool eq = plen == ilen && CRYPTO_memcmp(pe->psk_identity, identity, ilen) == 0;
		if (eq && !found)
			found = pe;
	}
	return found;
}
