/* li707 common - one TLS policy for both directions (TS 103 707 clause 7, R-SEC-1..5).
 *
 * An operator writes the policy once, in one vocabulary (the keys below, as they appear in
 * the daemons' INI files and the tool's options); lx_tls_gnutls_priority() maps it to a
 * GnuTLS priority string for the libmicrohttpd server, lx_tls_openssl_apply() to OpenSSL
 * settings for the libcurl client (called from CURLOPT_SSL_CTX_FUNCTION). Both ends then
 * offer exactly the same protocol versions, suites and groups.
 *
 * Defaults (RFC 9325 for TLS 1.2, R-SEC-3): TLS 1.2 minimum, TLS 1.3 on; TLS 1.2 suites AEAD
 * with ECDHE only (AES-GCM preferred: ChaCha20 is slower on AES-NI hardware); no
 * compression, no renegotiation, no session tickets across policy reloads; groups X25519,
 * P-256, P-384. PSK (RFC 4279, R-SEC-4) uses ECDHE-PSK suites with AEAD on TLS 1.2 and PSK
 * with (EC)DHE on TLS 1.3.
 *
 * Peer identities (R-SEC-2): an allow-list maps a verified certificate (by subject DN, a
 * SAN DNS name / URI, or the SHA-256 of its SubjectPublicKeyInfo) or a PSK identity to the
 * configured peer name handed to request handlers. Key material is read from files, kept
 * in memory only as long as needed and wiped when dropped. */
#ifndef LX_COMMON_TLS_H
#define LX_COMMON_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lx_tls_version { LX_TLS_1_2 = 12, LX_TLS_1_3 = 13 };

/* The TLS 1.2 suites li707 can offer, by their IANA-style names (the vocabulary of the
 * "tls12_suites" key). All are AEAD with forward secrecy (RFC 9325 section 4.2). */
#define LX_TLS12_SUITES_DEFAULT                                                          \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                          \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                          \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* PSK suites on TLS 1.2 with forward secrecy and AEAD that both OpenSSL 3.0 and GnuTLS 3.7
 * implement (neither has ECDHE-PSK with AES-GCM, RFC 8442). */
#define LX_TLS12_PSK_SUITES_DEFAULT                                                      \
	"ECDHE-PSK-CHACHA20-POLY1305:DHE-PSK-AES256-GCM-SHA384:DHE-PSK-AES128-GCM-SHA256"
#define LX_TLS_GROUPS_DEFAULT "X25519:P-256:P-384"

struct lx_tls_policy {
	enum lx_tls_version min_version;  /* tls_min = 1.2 | 1.3 [1.2] */
	bool tls13;                          /* tls13 = yes | no [yes] (no requires min 1.2) */
	char *tls12_suites;                  /* tls12_suites = A:B:... [LX_TLS12_SUITES_DEFAULT] */
	char *tls12_psk_suites;              /* tls12_psk_suites = A:B:... [PSK default] */
	char *groups;                        /* tls_groups = X25519:P-256:... [default] */
};

/* Fills *p with the defaults (owned strings). */
int lx_tls_policy_init(struct lx_tls_policy *p);
void lx_tls_policy_done(struct lx_tls_policy *p);

/* Sets one key of the vocabulary ("tls_min", "tls13", "tls12_suites", "tls12_psk_suites",
 * "tls_groups") from its
 * text form; unknown names, suites outside the table (anything not AEAD + (EC)DHE) and
 * versions below 1.2 are refused with LI707_EINPUT and a message in err. */
int lx_tls_policy_set(struct lx_tls_policy *p, const char *key, const char *value,
			 char *err, size_t errlen);

/* The GnuTLS priority string for the policy (e.g. "NONE:+VERS-TLS1.3:+VERS-TLS1.2:..."),
 * psk selects the PSK key exchanges instead of certificate ones. New string in *out.
 * GnuTLS priorities name key exchanges and ciphers separately, so the string offers their
 * cross product: every combination is still (EC)DHE + AEAD. */
int lx_tls_gnutls_priority(const struct lx_tls_policy *p, bool psk, char **out);

/* Applies the policy to an OpenSSL SSL_CTX (void * to keep OpenSSL out of this header):
 * min/max protocol, TLS 1.2 cipher list, TLS 1.3 ciphersuites, groups, no compression, no
 * renegotiation. psk as above. */
int lx_tls_openssl_apply(const struct lx_tls_policy *p, bool psk, void *ssl_ctx);

/* One configured peer and how it is recognised. */
struct lx_tls_peer {
	char *name;            /* the identity handed to handlers ("lea:bka", "csp:acme") */
	char *subject;         /* exact RFC 4514 subject DN, or NULL */
	char *san;             /* a SAN DNS name or URI that must be present, or NULL */
	uint8_t spki_sha256[32];
	bool has_spki;         /* match the SHA-256 of the SubjectPublicKeyInfo */
	char *psk_identity;    /* PSK identity, or NULL */
	uint8_t *psk;          /* the key (wiped on free), psk_len bytes */
	size_t psk_len;
};

struct lx_tls_peers {
	struct lx_tls_peer *v;
	size_t n;
};

void lx_tls_peers_clear(struct lx_tls_peers *ps); /* wipes keys */
/* A deep copy of src (keys included) in a new allocated list, for an owner that outlives the
 * configuration it came from (lx_http_server_set_peers takes it). NULL when out of memory. */
struct lx_tls_peers *lx_tls_peers_dup(const struct lx_tls_peers *src);

/* Keys shorter than this are accepted (RFC 4279 sets no minimum) but weak: daemons warn. */
#define LX_PSK_WEAK_BELOW 32
/* The longest PSK identity accepted (RFC 4279 section 5.3 requires at least 128 octets). */
#define LX_PSK_IDENTITY_MAX 128

/* Reads a PSK file: hex (an even number of hex digits, whitespace ignored) or raw bytes,
 * 1..1024 bytes of key (RFC 4279 section 5.3: up to 64 octets of any content must work);
 * refuses group/world-readable files. The key is wiped from every temporary buffer. */
int lx_tls_psk_load(const char *path, uint8_t **key, size_t *len, char *err, size_t errlen);

/* Which configured peer a verified certificate (DER) belongs to: the first whose every
 * given criterion matches. Returns the peer or NULL. */
const struct lx_tls_peer *lx_tls_peer_by_cert(const struct lx_tls_peers *ps,
						    const uint8_t *der, size_t der_len);
/* The peer owning a PSK identity, or NULL (compared in constant time over the identity). */
const struct lx_tls_peer *lx_tls_peer_by_psk(const struct lx_tls_peers *ps,
						   const char *identity);

#endif
