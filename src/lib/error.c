/* li707 - error codes: texts, names, tool exit statuses and the one table from internal
 * errors to TS 103 120 ErrorInformation/ErrorCode values (docs/error-codes.md).
 *
 * DESIGN: one static table holds everything per project code (name, text, exit status,
 * HI-1 ErrorCode), so that adding a code means adding one row. -errno values are handed to
 * the C library (strerror, strerrorname_np); they all map to exit status 3 and to the
 * default HI-1 code. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "li707/error.h"

/* TS 103 120 ErrorCode values (see docs/error-codes.md for the sources; the TS 103 120
 * error table itself was not available, so these follow ETSI's own examples and test code). */
#define HI1_OBJECT_INVALID 3000u /* official example response2.xml (InvalidReason) */
#define HI1_NOT_SUPPORTED 3001u  /* ETSI RPS test code: action/object type not supported */
#define HI1_REQUEST_INVALID 3007u /* ETSI RPS test code: invalid request / schema failure */

static const char DESC_OBJECT_INVALID[] = "Object invalid";
static const char DESC_DENIED[] = "Object invalid: not authorised for this reference";
static const char DESC_NOT_SUPPORTED[] = "Not supported";
static const char DESC_NOT_707[] = "Not supported: delivery is not a TS 103 707 delivery";
static const char DESC_REQUEST_INVALID[] =
	"Request invalid (not well-formed, over a limit or failed schema validation)";
static const char DESC_INTERNAL[] = "Request could not be processed";

struct code_row {
	int code;
	const char *name;
	const char *text;
	int exit_status;
	unsigned hi1;
	const char *hi1_desc;
};

static const struct code_row rows[] = {
	{LI707_OK, "OK", "success", 0, 0, NULL},
	{LI707_ENOMEM, "ENOMEM", "out of memory", 5, HI1_REQUEST_INVALID, DESC_INTERNAL},
	{LI707_EINVAL, "EINVAL", "invalid argument", 2, HI1_REQUEST_INVALID, DESC_INTERNAL},
	{LI707_EXML, "EXML", "not well-formed XML or forbidden XML construct", 1,
	 HI1_REQUEST_INVALID, DESC_REQUEST_INVALID},
	{LI707_ELIMIT, "ELIMIT", "input exceeds a configured limit", 1, HI1_REQUEST_INVALID,
	 DESC_REQUEST_INVALID},
	{LI707_EINVALID, "EINVALID", "input breaks a rule of TS 103 707 / TS 103 120", 1,
	 HI1_OBJECT_INVALID, DESC_OBJECT_INVALID},
	{LI707_ESCHEMA, "ESCHEMA", "input fails XML schema validation", 1, HI1_REQUEST_INVALID,
	 DESC_REQUEST_INVALID},
	{LI707_ENOTSUP, "ENOTSUP", "valid HI-1 but not supported by li707", 1, HI1_NOT_SUPPORTED,
	 DESC_NOT_SUPPORTED},
	{LI707_ENOT707, "ENOT707", "HI-1 delivery is not a TS 103 707 delivery", 1,
	 HI1_NOT_SUPPORTED, DESC_NOT_707},
	{LI707_ESCHEMASET, "ESCHEMASET", "schema set could not be loaded", 5, HI1_REQUEST_INVALID,
	 DESC_INTERNAL},
	{LI707_ECRYPTO, "ECRYPTO", "cryptographic library failure", 5, HI1_REQUEST_INVALID,
	 DESC_INTERNAL},
	{LI707_EMISMATCH, "EMISMATCH", "hash, checksum or length mismatch", 1,
	 HI1_REQUEST_INVALID, DESC_REQUEST_INVALID},
	{LI707_EINPUT, "EINPUT", "bad event or configuration input", 4, HI1_REQUEST_INVALID,
	 DESC_INTERNAL},
	{LI707_ENOTFOUND, "ENOTFOUND", "not found", 3, HI1_REQUEST_INVALID, DESC_INTERNAL},
	{LI707_EDENIED, "EDENIED", "not allowed for this peer", 3, HI1_OBJECT_INVALID,
	 DESC_DENIED},
	{LI707_EDAMAGED, "EDAMAGED", "store damaged", 6, HI1_REQUEST_INVALID, DESC_INTERNAL},
};

static const struct code_row *row_for(int code)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (rows[i].code == code)
			return &rows[i];
	return NULL;
}

static bool is_errno(int code)
{
	return code < 0 && code >= -LI707__ERRNO_MAX;
}

const char *li707_strerror(int code)
{
	const struct code_row *r = row_for(code);
	if (r)
		return r->text;
	if (is_errno(code)) {
		/* glibc's strerror returns static text for every known errno value. */
		const char *s = strerror(-code);
		return s ? s : "unknown error";
	}
	return "unknown error";
}

const char *li707_errname(int code)
{
	const struct code_row *r = row_for(code);
	if (r)
		return r->name;
	if (is_errno(code)) {
		const char *s = strerrorname_np(-code);
		return s ? s : "ERRNO";
	}
	return "EUNKNOWN";
}

int li707_exit_code(int code)
{
	const struct code_row *r = row_for(code);
	if (r)
		return r->exit_status;
	if (is_errno(code))
		return 3;
	return 5; /* a code the table does not know is an internal error */
}

unsigned li707_hi1_error_code(int code, const char **description_out)
{
	const struct code_row *r = row_for(code);
	unsigned v = HI1_REQUEST_INVALID;
	const char *d = DESC_INTERNAL;
	if (r && r->hi1 != 0) {
		v = r->hi1;
		d = r->hi1_desc;
	}
	if (description_out)
		*description_out = d;
	return v;
}
