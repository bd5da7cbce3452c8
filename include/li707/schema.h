/* li707 - XSD validation.
 *
 * A schema set is compiled once (li707_schema_set_load) and is immutable afterwards: any
 * number of threads may call li707_schema_validate() on the same set at once (each call
 * uses its own libxml2 validation context). Loading reads local files only (no network). */
#ifndef LI707_SCHEMA_H
#define LI707_SCHEMA_H

#include <stddef.h>

#include "li707/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

struct li707_schema_set; /* opaque */

/* project_dir: the directory with li707's own schemas (ts_103707.xsd, ts_103280_standin.xsd);
 * NULL = the installed default (LI707_SCHEMA_DIR, or the LI707_SCHEMA_DIR environment
 * variable). official_dir: NULL, or a directory holding the official ETSI schemas laid out as
 * in ../shared/schemas (103120/schema/ts_103120_NAME.xsd, 103280/FILE.xsd,
 * w3c/xmldsig-core-schema.xsd) - then whole HI1Messages are validated; a file in official_dir
 * whose targetNamespace is the TS 103 707 namespace replaces the reconstructed one. Without
 * official_dir, only each DELIVER's XMLData payload (the handoverItem /
 * handoverItemCollection) is validated. */
int li707_schema_set_load(const char *project_dir, const char *official_dir,
			  struct li707_schema_set **out, struct li707_diags *diags);
void li707_schema_set_free(struct li707_schema_set *s);

/* True when the set validates whole HI1Messages (official TS 103 120 schemas loaded). */
int li707_schema_set_is_full(const struct li707_schema_set *s);
/* Path of the TS 103 707 schema in use (reconstructed or official). */
const char *li707_schema_set_707_path(const struct li707_schema_set *s);

/* Validates a document (parsed with the same hostile-input rules as the decoder).
 * Returns 0 when valid, LI707_ESCHEMA with one diagnostic per schema error otherwise,
 * LI707_EXML / LI707_ELIMIT when it could not be parsed. */
int li707_schema_validate(const struct li707_schema_set *s, const char *buf, size_t len,
			  const struct li707_limits *lim, struct li707_diags *diags);

#ifdef __cplusplus
}
#endif
#endif
