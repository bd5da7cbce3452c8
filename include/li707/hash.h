/* li707 - TS 103 707 Annex D.4 salted hashes of sensitive fields (R-SEC-7).
 *
 * Construction (docs/annex-d-hash.md): hash = SHA-256( "li707-annexD4-v1" || 0x00 ||
 * u32be(len(salt)) || salt || u32be(len(field)) || field ). The length prefixes make the
 * encoding unambiguous (no two (salt, field) pairs hash the same input). Text form of a
 * record: "v1$" hex(salt) "$" hex(hash). The salt is 32 random bytes by default. */
#ifndef LI707_HASH_H
#define LI707_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LI707_HASH_LEN 32
#define LI707_SALT_DEFAULT_LEN 32
#define LI707_SALT_MAX_LEN 1024

/* Hash of field with salt into out[32]. */
int li707_hash_compute(const uint8_t *salt, size_t salt_len, const uint8_t *field,
		       size_t field_len, uint8_t out[LI707_HASH_LEN]);

/* New random salt of salt_len bytes (1..LI707_SALT_MAX_LEN) and the hash of field with it.
 * The record text is written to a new string *record_out ("v1$<salt hex>$<hash hex>"). */
int li707_hash_create(const uint8_t *field, size_t field_len, size_t salt_len,
		      char **record_out);

/* Checks field against a record, in constant time with respect to the hash bytes.
 * Returns 0 on match, LI707_EMISMATCH on mismatch, LI707_EINPUT for a malformed record. */
int li707_hash_verify(const char *record, const uint8_t *field, size_t field_len);

/* Checks field + salt (hex) against a bare hash (hex): the LEA supplies all three (D.4.2). */
int li707_hash_verify_parts(const char *salt_hex, const char *hash_hex, const uint8_t *field,
			    size_t field_len);

/* Wipes and frees a record or any other secret string. Accepts NULL. */
void li707_secret_free(char *s);

#ifdef __cplusplus
}
#endif
#endif
