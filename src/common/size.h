/* li707 common - sizes written by people: "4096", "64K", "16M", "1G", "2T". */
#ifndef LX_COMMON_SIZE_H
#define LX_COMMON_SIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal digits with an optional suffix K, M, G or T (either case; powers of 1024) into
 * *out. false (and *out untouched) on anything else: no sign, no space, no overflow. */
bool lx_parse_size(const char *s, uint64_t *out);

#endif
