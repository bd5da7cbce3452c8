/* li707 - error codes shared by the library, the tools and the daemons.
 *
 * Every fallible function returns 0 or a negative code below; OS errors are returned as
 * -errno (all errno values are below LI707__ERRNO_MAX, so the two ranges never meet).
 * The li707 tool turns a code into its exit status with li707_exit_code(). */
#ifndef LI707_ERROR_H
#define LI707_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* The one table of li707's own error codes (the model is libuv's UV_ERRNO_MAP). Each row:
 *   XX(NAME, value, exit status of the tools, HI-1 ErrorInformation class, text)
 * It generates the enum below, li707_errname(), li707_strerror(), li707_exit_code() and
 * li707_hi1_error_code() (src/lib/error.c); docs/error-codes.md and docs/exit-codes.md list
 * the same rows. HI-1 classes: OBJECT_INVALID (ErrorCode 3000), DENIED (3000, "not
 * authorised"), NOT_SUPPORTED (3001), NOT_707 (3001), REQUEST_INVALID (3007), INTERNAL (3007,
 * "could not be processed").
 * Exit statuses: 1 invalid input, 2 usage, 3 I/O or OS, 4 bad event/config input, 5 internal,
 * 6 stored data damaged (corrupt database page or block, empty index). */
#define LI707_ERROR_MAP(XX)                                                                   \
	XX(ENOMEM, -4096, 5, INTERNAL, "out of memory")                                       \
	XX(EINVAL, -4097, 2, INTERNAL, "invalid argument")                                    \
	XX(EXML, -4098, 1, REQUEST_INVALID, "not well-formed XML or forbidden XML construct") \
	XX(ELIMIT, -4099, 1, REQUEST_INVALID, "input exceeds a configured limit")             \
	XX(EINVALID, -4100, 1, OBJECT_INVALID, "input breaks a rule of TS 103 707 / TS 103 120") \
	XX(ESCHEMA, -4101, 1, REQUEST_INVALID, "input fails XML schema validation")           \
	XX(ENOTSUP, -4102, 1, NOT_SUPPORTED, "valid HI-1 but not supported by li707")         \
	XX(ENOT707, -4103, 1, NOT_707, "HI-1 delivery is not a TS 103 707 delivery")          \
	XX(ESCHEMASET, -4104, 5, INTERNAL, "schema set could not be loaded")                  \
	XX(ECRYPTO, -4105, 5, INTERNAL, "cryptographic library failure")                      \
	XX(EMISMATCH, -4106, 1, REQUEST_INVALID, "hash, checksum or length mismatch")         \
	XX(EINPUT, -4107, 4, INTERNAL, "bad event or configuration input")                    \
	XX(ENOTFOUND, -4108, 3, INTERNAL, "not found")                                        \
	XX(EDENIED, -4109, 3, DENIED, "not allowed for this peer")                            \
	XX(EDAMAGED, -4110, 6, INTERNAL, "store damaged")

enum li707_error {
	LI707_OK = 0,
	LI707__ERRNO_MAX = 4095, /* -1 .. -4095 are -errno values */
#define LI707__ERROR_ENUM(name, value, exit_status, hi1, text) LI707_##name = value,
	LI707_ERROR_MAP(LI707__ERROR_ENUM)
#undef LI707__ERROR_ENUM
};

/* Text for a code (never NULL; "unknown error" for codes not listed). Handles -errno. */
const char *li707_strerror(int code);

/* Short stable name of a code ("EINVALID", "ENOENT", ...), for logs and JSON. */
const char *li707_errname(int code);

/* Exit status for the command-line tools (docs/exit-codes.md):
 *   0 ok, 1 invalid input (EINVALID, ESCHEMA, EXML, ELIMIT, ENOT707, ENOTSUP, EMISMATCH),
 *   2 usage (EINVAL), 3 I/O or OS error (-errno, ENOTFOUND, EDENIED), 4 bad event/config input (EINPUT),
 *   5 internal (ENOMEM, ECRYPTO, ESCHEMASET), 6 store damaged (EDAMAGED). */
int li707_exit_code(int code);

/* TS 103 120 ErrorInformation for a code: the one table from internal errors to ErrorCode
 * values (docs/error-codes.md). Returns the ErrorCode; *description_out (may be NULL) gets
 * a static description. */
unsigned li707_hi1_error_code(int code, const char **description_out);

#ifdef __cplusplus
}
#endif
#endif
