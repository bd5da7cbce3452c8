/* li707 - TS 103 707 Annex D.4 salted hashes of sensitive fields (R-SEC-7).
 *
 * DESIGN (docs/annex-d-hash.md): the digest is computed incrementally over
 *   "li707-annexD4-v1" 0x00 u32be(len(salt)) salt u32be(len(field)) field
 * so the field and the salt are never copied into a concatenation buffer; the digest
 * context is cleansed by OpenSSL when it is freed. The only buffers of ours that hold
 * secret bytes are the decoded salt, the expected and the computed hash: each is wiped
 * with li707_wipe() on every path before returning. Records are parsed strictly: no
 * whitespace, exact hex lengths, either case of hex digits. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char DOMAIN_TAG[] = "li707-annexD4-v1"; /* followed by one 0x00 byte */
static const char RECORD_PREFIX[] = "v1$";

static void put_u32be(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* TS103707 R-SEC-7 (D.4.2): hash based on the sensitive field and the salt */
int li707_hash_compute(const uint8_t *salt, size_t salt_len, const uint8_t *field,
		       size_t field_len, uint8_t out[LI707_HASH_LEN])
{
	if (!out || (!salt && salt_len) || (!field && field_len) || salt_len > UINT32_MAX ||
	    field_len > UINT32_MAX)
		return LI707_EINVAL;
	uint8_t len_salt[4], len_field[4], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = LI707_ECRYPTO;
	put_u32be(len_salt, (uint32_t)salt_len);
	put_u32be(len_field, (uint32_t)field_len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return LI707_ENOMEM;
	/* sizeof DOMAIN_TAG includes the terminating NUL: that is the 0x00 separator. */
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, DOMAIN_TAG, sizeof DOMAIN_TAG) == 1 &&
	    EVP_DigestUpdate(ctx, len_salt, 4) == 1 &&
	    (salt_len == 0 || EVP_DigestUpdate(ctx, salt, salt_len) == 1) &&
	    EVP_DigestUpdate(ctx, len_field, 4) == 1 &&
	    (field_len == 0 || EVP_DigestUpdate(ctx, field, field_len) == 1) &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == LI707_HASH_LEN) {
		memcpy(out, md, LI707_HASH_LEN);
		rc = 0;
	}
	EVP_MD_CTX_free(ctx); /* cleanses the digest state */
	li707_wipe(md, sizeof md);
	return rc;
}

int li707_hash_create(const uint8_t *field, size_t field_len, size_t salt_len,
		      char **record_out)
{
	if (!record_out || (!field && field_len) || salt_len < 1 || salt_len > LI707_SALT_MAX_LEN)
		return LI707_EINVAL;
	uint8_t salt[LI707_SALT_MAX_LEN], hash[LI707_HASH_LEN];
	char *rec = NULL;
	int rc;
	if (RAND_bytes(salt, (int)salt_len) != 1) {
		rc = LI707_ECRYPTO;
		goto out_wipe;
	}
	rc = li707_hash_compute(salt, salt_len, field, field_len, hash);
	if (rc != 0)
		goto out_wipe;
	size_t plen = sizeof RECORD_PREFIX - 1;
	size_t len = plen + 2 * salt_len + 1 + 2 * LI707_HASH_LEN;
	rec = malloc(len + 1);
	if (!rec) {
		rc = LI707_ENOMEM;
		goto out_wipe;
	}
	memcpy(rec, RECORD_PREFIX, plen);
	li707_hex_encode(salt, salt_len, rec + plen);
	rec[plen + 2 * salt_len] = '$';
	li707_hex_encode(hash, LI707_HASH_LEN, rec + plen + 2 * salt_len + 1);
	rec[len] = '\0';
	*record_out = rec;
out_wipe:
	li707_wipe(salt, sizeof salt);
	li707_wipe(hash, sizeof hash);
	return rc;
}

/* Verifies field against salt_hex[salt_hex_len] and hash_hex[hash_hex_len] (not
 * NUL-terminated here). LI707_EINPUT for malformed hex or lengths. */
static int verify_hex(const char *salt_hex, size_t salt_hex_len, const char *hash_hex,
		      size_t hash_hex_len, const uint8_t *field, size_t field_len)
{
	if (!field && field_len)
		return LI707_EINVAL;
	if (salt_hex_len == 0 || salt_hex_len % 2 != 0 ||
	    salt_hex_len > 2 * (size_t)LI707_SALT_MAX_LEN || hash_hex_len != 2 * LI707_HASH_LEN)
		return LI707_EINPUT;
	uint8_t salt[LI707_SALT_MAX_LEN], want[LI707_HASH_LEN], got[LI707_HASH_LEN];
	size_t salt_len = salt_hex_len / 2;
	int rc;
	if (!li707_hex_decode(salt_hex, salt_len, salt) ||
	    !li707_hex_decode(hash_hex, LI707_HASH_LEN, want)) {
		rc = LI707_EINPUT;
		goto out_wipe;
	}
	rc = li707_hash_compute(salt, salt_len, field, field_len, got);
	if (rc != 0)
		goto out_wipe;
	/* constant time with respect to the hash bytes */
	rc = CRYPTO_memcmp(want, got, LI707_HASH_LEN) == 0 ? 0 : LI707_EMISMATCH;
out_wipe:
	li707_wipe(salt, sizeof salt);
	li707_wipe(want, sizeof want);
	li707_wipe(got, sizeof got);
	return rc;
}

/* TS103707 R-SEC-7: the CSP checks the hash of field and salt (at tasking and at audit) */
int li707_hash_verify(const char *record, const uint8_t *field, size_t field_len)
{
	if (!record)
		return LI707_EINVAL;
	size_t plen = sizeof RECORD_PREFIX - 1;
	size_t max = plen + 2 * (size_t)LI707_SALT_MAX_LEN + 1 + 2 * LI707_HASH_LEN;
	size_t len = strnlen(record, max + 1);
	if (len > max || strncmp(record, RECORD_PREFIX, plen) != 0)
		return LI707_EINPUT;
	const char *salt_hex = record + plen;
	const char *sep = memchr(salt_hex, '$', len - plen);
	if (!sep)
		return LI707_EINPUT;
	const char *hash_hex = sep + 1;
	return verify_hex(salt_hex, (size_t)(sep - salt_hex), hash_hex,
			  len - (size_t)(hash_hex - record), field, field_len);
}

int li707_hash_verify_parts(const char *salt_hex, const char *hash_hex, const uint8_t *field,
			    size_t field_len)
{
	if (!salt_hex || !hash_hex)
		return LI707_EINVAL;
	size_t sl = strnlen(salt_hex, 2 * (size_t)LI707_SALT_MAX_LEN + 1);
	size_t hl = strnlen(hash_hex, 2 * LI707_HASH_LEN + 1);
	return verify_hex(salt_hex, sl, hash_hex, hl, field, field_len);
}

void li707_secret_free(char *s)
{
	if (!s)
		return;
	li707_wipe(s, strlen(s));
	free(s);
}
