/* Helpers for the cmocka unit tests. */
#ifndef LI707_TESTUTIL_H
#define LI707_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "li707/li707.h"

/* Reads a whole file (NUL-terminated); fails the test when it cannot. */
char *tu_read_file(const char *path, size_t *len_out);
/* Path below the source tree / the shared schemas directory, in a static buffer per call slot. */
const char *tu_src(const char *rel);
const char *tu_shared(const char *rel);
/* True when ../shared/schemas is present (tests that need it skip with a message otherwise). */
int tu_have_shared(void);
/* 1-based line of the first occurrence of needle in buf (fails the test when absent). */
long tu_line_of(const char *buf, const char *needle);
/* Prints the diagnostics (for failing tests). */
void tu_print_diags(const struct li707_diags *d);
/* True when some diagnostic is an error whose req equals req (NULL: any). */
int tu_has_error(const struct li707_diags *d, const char *req);
/* Validates buf with xmllint --noout --nonet --schema against the official TS 103 120 set plus
 * schemas/ts_103707.xsd (the independent oracle). Returns 0 valid, 1 invalid, 77 skipped. */
int tu_xmllint_oracle(const char *buf, size_t len);
/* Validates buf with xmllint --noout --nonet against the schema document `wrapper` (its
 * text: includes/imports with absolute schemaLocations). 0 valid, 1 invalid (or no
 * xmllint to run), 77 no temporary directory. */
int tu_xmllint_wrapped(const char *wrapper, const char *buf, size_t len);

/* Removes a directory tree (no symlinks followed); asserts it worked. */
void tu_rm_rf(const char *dir);

/* An unused loopback TCP port (bound, read, closed); aborts the test program when the
 * system cannot give one. */
int tu_free_port(void);
/* strdup that asserts success. */
char *tu_xstrdup(const char *s);

#define TU_SKIP_IF_NO_SHARED()                                                              \
	do {                                                                                \
		if (!tu_have_shared()) {                                                    \
			print_message("SKIP: %s absent, oracle test skipped\n", LI707_SHARED_SCHEMAS); \
			skip();                                                             \
		}                                                                           \
	} while (0)

#endif
