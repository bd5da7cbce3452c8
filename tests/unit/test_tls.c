/* The TLS policy (src/common/tls.c): one vocabulary for GnuTLS and OpenSSL (R-SEC-1..5). The
 * GnuTLS priority strings are judged by gnutls-cli itself, the OpenSSL settings by a real
 * SSL_CTX; peer matching uses certificates made here with OpenSSL. */
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tls.h"

static int gnutls_cli_accepts(const char *prio)
{
	if (system("command -v gnutls-cli >/dev/null 2>&1") != 0)
		return 77;
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "gnutls-cli -l --priority '%s' >/dev/null 2>&1", prio);
	return system(cmd) == 0 ? 0 : 1;
}

static void test_sec1_defaults(void **state)
{
	(void)state;
	struct lx_tls_policy p;
	assert_int_equal(lx_tls_policy_init(&p), 0);
	assert_int_equal(p.min_version, LX_TLS_1_2);
	assert_true(p.tls13);
	assert_string_equal(p.tls12_suites, LX_TLS12_SUITES_DEFAULT);
	lx_tls_policy_done(&p);
}

static void test_sec1_sec3_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *key, *value;
	} bad[] = {
		{"tls_min", "1.1"},	/* R-SEC-1 */
		{"tls_min", "1.0"},
		{"tls_min", ""},
		{"tls13", "maybe"},
		{"tls12_suites", "AES128-SHA"},		/* no forward secrecy, no AEAD (R-SEC-3) */
		{"tls12_suites", "ECDHE-RSA-AES128-SHA256"}, /* CBC */
		{"tls12_suites", "ECDHE-RSA-AES128-GCM-SHA256:RC4-SHA"},
		{"tls12_suites", "ECDHE-PSK-CHACHA20-POLY1305"}, /* PSK suite in the cert list */
		{"tls12_psk_suites", "PSK-AES128-GCM-SHA256"},  /* PSK without (EC)DHE */
		{"tls12_psk_suites", "ECDHE-RSA-AES128-GCM-SHA256"},
		{"tls12_suites", ""},
		{"tls_groups", "P-192"},
		{"tls_ciphers", "x"}, /* unknown key */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct lx_tls_policy p;
		assert_int_equal(lx_tls_policy_init(&p), 0);
		char err[256] = "";
		int rc = lx_tls_policy_set(&p, bad[i].key, bad[i].value, err, sizeof err);
		if (rc != LI707_EINPUT)
			print_error("%s=%s: expected EINPUT, got %d\n", bad[i].key, bad[i].value, rc);
		assert_int_equal(rc, LI707_EINPUT);
		assert_true(err[0] != '\0');
		lx_tls_policy_done(&p);
	}
	struct lx_tls_policy p;
	assert_int_equal(lx_tls_policy_init(&p), 0);
	char err[256];
	assert_int_equal(lx_tls_policy_set(&p, "tls_min", "1.3", err, sizeof err), 0);
	assert_int_equal(lx_tls_policy_set(&p, "tls13", "no", err, sizeof err), LI707_EINPUT);
	lx_tls_policy_done(&p);
}

static void check_priority(struct lx_tls_policy *p, bool psk, const char *must, const char *mustnot)
{
	char *prio = NULL;
	assert_int_equal(lx_tls_gnutls_priority(p, psk, &prio), 0);
	if (must && !strstr(prio, must))
		print_error("priority %s lacks %s\n", prio, must);
	assert_true(!must || strstr(prio, must));
	assert_true(!mustnot || !strstr(prio, mustnot));
	int rc = gnutls_cli_accepts(prio);
	if (rc == 1)
		print_error("gnutls-cli refuses priority %s\n", prio);
	if (rc != 77)
		assert_int_equal(rc, 0);
	free(prio);
}

static void test_sec3_gnutls_priority_accepted_by_gnutls(void **state)
{
	(void)state;
	struct lx_tls_policy p;
	assert_int_equal(lx_tls_policy_init(&p), 0);
	check_priority(&p, false, "+VERS-TLS1.2", "PSK");
	check_priority(&p, true, "+ECDHE-PSK", "ECDHE-RSA");
	char err[256];
	assert_int_equal(lx_tls_policy_set(&p, "tls_min", "1.3", err, sizeof err), 0);
	check_priority(&p, false, "+VERS-TLS1.3", "VERS-TLS1.2");
	assert_int_equal(lx_tls_policy_set(&p, "tls_min", "1.2", err, sizeof err), 0);
	assert_int_equal(lx_tls_policy_set(&p, "tls13", "no", err, sizeof err), 0);
	assert_int_equal(lx_tls_policy_set(&p, "tls12_suites", "ECDHE-RSA-AES128-GCM-SHA256", err, sizeof err), 0);
	check_priority(&p, false, "+AES-128-GCM", "VERS-TLS1.3");
	lx_tls_policy_done(&p);
}

static void test_sec3_openssl_apply(void **state)
{
	(void)state;
	struct lx_tls_policy p;
	assert_int_equal(lx_tls_policy_init(&p), 0);
	for (int psk = 0; psk < 2; psk++) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
		assert_non_null(ctx);
		assert_int_equal(lx_tls_openssl_apply(&p, psk, ctx), 0);
		assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
		assert_int_equal(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
		assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
		assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
		/* Every TLS 1.2 suite OpenSSL will offer is one of ours. */
		STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
		for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
			const char *name = SSL_CIPHER_get_name(c);
			if (strncmp(name, "TLS_", 4) == 0)
				continue; /* a TLS 1.3 suite */
			assert_non_null(strstr(psk ? p.tls12_psk_suites : p.tls12_suites, name));
		}
		SSL_CTX_free(ctx);
	}
	lx_tls_policy_done(&p);
}

static const char *write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof path, "/tmp/li707-tls-test-%d-%s", (int)getpid(), name);
	unlink(path);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(data, 1, len, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static void test_sec4_psk_files(void **state)
{
	(void)state;
	uint8_t *key = NULL;
	size_t len = 0;
	char err[256];
	const char *hex = "00112233445566778899aabbccddeeff\n00112233445566778899AABBCCDDEEFF\n";
	const char *p = write_file("hex", hex, strlen(hex), 0600);
	assert_int_equal(lx_tls_psk_load(p, &key, &len, err, sizeof err), 0);
	assert_int_equal(len, 32);
	assert_int_equal(key[0], 0x00);
	assert_int_equal(key[31], 0xff);
	li707_wipe(key, len);
	free(key);
	unlink(p);

	uint8_t raw[48];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (uint8_t)(0xf0 ^ i);
	p = write_file("raw", raw, sizeof raw, 0400);
	assert_int_equal(lx_tls_psk_load(p, &key, &len, err, sizeof err), 0);
	assert_int_equal(len, 48);
	assert_memory_equal(key, raw, 48);
	free(key);
	unlink(p);

	p = write_file("open", hex, strlen(hex), 0644); /* readable by others */
	assert_int_equal(lx_tls_psk_load(p, &key, &len, err, sizeof err), LI707_EINPUT);
	unlink(p);
	p = write_file("empty", "", 0, 0600);
	assert_int_equal(lx_tls_psk_load(p, &key, &len, err, sizeof err), LI707_EINPUT);
	unlink(p);
	assert_true(lx_tls_psk_load("/nonexistent/psk", &key, &len, err, sizeof err) < 0);
}

/* R-SEC-4, RFC 4279 section 5.3: keys up to 64 octets of any content are accepted, short
 * ones included (RFC 4279 sets no minimum); over 1024 bytes is refused. */
static void test_sec4_psk_rfc4279_key_lengths(void **state)
{
	(void)state;
	uint8_t *key = NULL;
	size_t len = 0;
	char err[256] = "";
	static const struct {
		const char *data;
		size_t n;
		size_t want; /* key length, 0: refused */
	} t[] = {
		{"\x07", 1, 1},                       /* one raw octet */
		{"0011223344556677", 16, 8},          /* 8 bytes of hex */
		{"ab", 2, 1},                         /* one byte of hex */
		{"\x00\n\xff zq\x01\x02", 8, 8},      /* raw, with NUL, newline, blank */
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const char *p = write_file("k", t[i].data, t[i].n, 0600);
		int rc = lx_tls_psk_load(p, &key, &len, err, sizeof err);
		if (rc)
			print_error("case %zu: %s\n", i, err);
		assert_int_equal(rc, 0);
		assert_int_equal(len, t[i].want);
		if (t[i].want == t[i].n)
			assert_memory_equal(key, t[i].data, len);
		free(key);
		unlink(p);
	}
	/* 64 octets of every value 0x80..0xbf (binary, not hex). */
	uint8_t raw[64];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (uint8_t)(0x80 + i);
	const char *p = write_file("k64", raw, sizeof raw, 0600);
	assert_int_equal(lx_tls_psk_load(p, &key, &len, err, sizeof err), 0);
	assert_int_equal(len, 64);
	assert_memory_equal(key, raw, 64);
	free(key);
	unlink(p);
	/* 1025 raw bytes: over the cap. */
	uint8_t big[1025];
	memset(big, 0xa5, sizeof big);
	p = write_file("kbig", big, sizeof big, 0600);
	assert_int_equal(lx_tls_psk_load(p, &key, &len, err, sizeof err), LI707_EINPUT);
	assert_non_null(strstr(err, "1 to 1024 bytes"));
	unlink(p);
}

/* A self-signed certificate made in memory: subject O=ACME,CN=name, SAN DNS name.example. */
static unsigned char *make_cert(const char *cn, size_t *der_len, EVP_PKEY **key_out)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"ACME", -1, -1, 0);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, nm);
	char san[128];
	snprintf(san, sizeof san, "DNS:%s.example", cn);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	assert_true(n > 0);
	*der_len = (size_t)n;
	X509_free(x);
	if (key_out)
		*key_out = k;
	else
		EVP_PKEY_free(k);
	return der;
}

static void test_sec2_peer_by_cert(void **state)
{
	(void)state;
	size_t l1, l2;
	EVP_PKEY *k1 = NULL;
	unsigned char *c1 = make_cert("csp1", &l1, &k1);
	unsigned char *c2 = make_cert("csp2", &l2, NULL);
	/* SPKI hash of csp1's key. */
	unsigned char *spki = NULL;
	int sn = i2d_PUBKEY(k1, &spki);
	uint8_t h[32];
	unsigned int hl = 0;
	assert_int_equal(EVP_Digest(spki, (size_t)sn, h, &hl, EVP_sha256(), NULL), 1);
	OPENSSL_free(spki);
	EVP_PKEY_free(k1);

	struct lx_tls_peer v[3] = {
		{.name = strdup("by-subject"), .subject = strdup("CN=csp1,O=ACME")},
		{.name = strdup("by-san"), .san = strdup("csp2.example")},
		{.name = strdup("by-spki"), .has_spki = true},
	};
	memcpy(v[2].spki_sha256, h, 32);
	struct lx_tls_peers ps = {.v = malloc(sizeof v), .n = 3};
	memcpy(ps.v, v, sizeof v);

	const struct lx_tls_peer *pe = lx_tls_peer_by_cert(&ps, c1, l1);
	assert_non_null(pe);
	assert_string_equal(pe->name, "by-subject");
	pe = lx_tls_peer_by_cert(&ps, c2, l2);
	assert_non_null(pe);
	assert_string_equal(pe->name, "by-san");
	/* Only the SPKI peer: csp1 matches it once the subject peer is gone. */
	free(ps.v[0].subject);
	ps.v[0].subject = strdup("CN=csp9,O=ACME");
	pe = lx_tls_peer_by_cert(&ps, c1, l1);
	assert_non_null(pe);
	assert_string_equal(pe->name, "by-spki");
	/* Garbage is nobody. */
	assert_null(lx_tls_peer_by_cert(&ps, (const uint8_t *)"\x30\x03\x02\x01\x01", 5));
	lx_tls_peers_clear(&ps);
	OPENSSL_free(c1);
	OPENSSL_free(c2);
}

static void test_sec4_peer_by_psk(void **state)
{
	(void)state;
	struct lx_tls_peers ps = {.v = calloc(2, sizeof(struct lx_tls_peer)), .n = 2};
	ps.v[0].name = strdup("csp-a");
	ps.v[0].psk_identity = strdup("acme-1");
	ps.v[1].name = strdup("csp-b");
	ps.v[1].psk_identity = strdup("acme-12");
	assert_string_equal(lx_tls_peer_by_psk(&ps, "acme-1")->name, "csp-a");
	assert_string_equal(lx_tls_peer_by_psk(&ps, "acme-12")->name, "csp-b");
	assert_null(lx_tls_peer_by_psk(&ps, "acme-"));
	assert_null(lx_tls_peer_by_psk(&ps, ""));
	lx_tls_peers_clear(&ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sec1_defaults),
		cmocka_unit_test(test_sec1_sec3_refusals),
		cmocka_unit_test(test_sec3_gnutls_priority_accepted_by_gnutls),
		cmocka_unit_test(test_sec3_openssl_apply),
		cmocka_unit_test(test_sec4_psk_files),
		cmocka_unit_test(test_sec4_psk_rfc4279_key_lengths),
		cmocka_unit_test(test_sec2_peer_by_cert),
		cmocka_unit_test(test_sec4_peer_by_psk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
