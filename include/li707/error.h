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

enum li707_error {
	LI707_OK = 0,
	LI707__ERRNO_MAX = 4095,   /* -1 .. -4095 are -errno values */
	LI707_ENOMEM = -4096,      /* allocation failed */
	LI707_EINVAL = -4097,      /* bad argument from the caller (a programming error) */
	LI707_EXML = -4098,        /* input is not well-formed XML, or uses a forbidden construct (DTD) */
	LI707_ELIMIT = -4099,      /* input exceeds a configured cap (bytes, depth, count, length) */
	LI707_EINVALID = -4100,    /* well-formed, but breaks a rule of TS 103 707 / TS 103 120 */
	LI707_ESCHEMA = -4101,     /* fails XSD validation */
	LI707_ENOTSUP = -4102,     /* valid HI-1, but not something li707 handles (e.g. a GET action) */
	LI707_ENOT707 = -4103,     /* valid HI-1 DELIVER whose payload is not a TS 103 707 delivery */
	LI707_ESCHEMASET = -4104,  /* the schema set could not be loaded or compiled */
	LI707_ECRYPTO = -4105,     /* the crypto library failed (random source, digest) */
	LI707_EMISMATCH = -4106,   /* a hash, checksum or length does not match */
	LI707_EINPUT = -4107,      /* bad event / configuration input (JSON, files) */
	LI707_ENOTFOUND = -4108,   /* a named thing does not exist */
	LI707_EDENIED = -4109,     /* the peer is not allowed to do this (e.g. deliver for a reference) */
	LI707_EDAMAGED = -4110,    /* stored data is damaged (corrupt database page or block, empty index) */
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
