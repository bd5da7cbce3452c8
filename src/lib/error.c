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

/* The HI-1 classes of LI707_ERROR_MAP: ErrorCode and description. */
#define HI1_CLASS_OBJECT_INVALID HI1_OBJECT_INVALID, "Object invalid"
#define HI1_CLASS_DENIED HI1_OBJECT_INVALID, "Object invalid: not authorised for this reference"
#define HI1_CLASS_NOT_SUPPORTED HI1_NOT_SUPPORTED, "Not supported"
#define HI1_CLASS_NOT_707 HI1_NOT_SUPPORTED, "Not supported: delivery is not a TS 103 707 delivery"
#define HI1_CLASS_REQUEST_INVALID                                                            \
	HI1_REQUEST_INVALID, "Request invalid (not well-formed, over a limit or failed schema validation)"
#define HI1_CLASS_INTERNAL HI1_REQUEST_INVALID, "Request could not be processed"

struct code_row {
	int code;
	const char *name;
	const char *text;
	int exit_status;
	unsigned hi1;
	const char *hi1_desc;
};

#define ROW_HI1(cls) HI1_CLASS_##cls
#define ROW(name, value, exit_status, hi1, text) {value, #name, text, exit_status, ROW_HI1(hi1)},
static const struct code_row rows[] = {
	{LI707_OK, "OK", "success", 0, 0, NULL},
	LI707_ERROR_MAP(ROW)
};
#undef ROW

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
	const char *d = "Request could not be processed";
	if (r && r->hi1 != 0) {
		v = r->hi1;
		d = r->hi1_desc;
	}
	if (description_out)
		*description_out = d;
	return v;
}
