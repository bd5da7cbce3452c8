/* libFuzzer target: Annex D.4 hash records (R-SEC-7) from untrusted input.
 *
 * The input is used three ways: as a whole record string for li707_hash_verify (with a
 * fixed field), split at the first 0x0a into a record and a field, and split at the first
 * two '\n' into salt hex / hash hex / field for li707_hash_verify_parts. Every call must
 * return 0, LI707_EMISMATCH, LI707_EINPUT (never crash, never read past the copy). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "li707/li707.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rc(int rc)
{
	if (rc != 0 && rc != LI707_EMISMATCH && rc != LI707_EINPUT)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* 1. the whole input as a record */
	check_rc(li707_hash_verify(s, (const uint8_t *)"field", 5));

	/* 2. record '\n' field (the field may contain NULs: use the byte length) */
	char *nl = memchr(s, '\n', size);
	if (nl) {
		*nl = '\0';
		const uint8_t *field = (const uint8_t *)nl + 1;
		size_t field_len = size - (size_t)(nl + 1 - s);
		check_rc(li707_hash_verify(s, field, field_len));

		/* 3. salt hex '\n' hash hex '\n' field */
		char *nl2 = memchr(nl + 1, '\n', field_len);
		if (nl2) {
			*nl2 = '\0';
			field = (const uint8_t *)nl2 + 1;
			field_len = size - (size_t)(nl2 + 1 - s);
			check_rc(li707_hash_verify_parts(s, nl + 1, field, field_len));
		}
	}
	free(s);
	return 0;
}
