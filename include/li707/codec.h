/* li707 - XML encoding and strict decoding of HI1Messages.
 *
 * Decoding never loads a DTD, never expands an entity, never touches the network, and
 * refuses any document with a DOCTYPE; every input size is capped by struct li707_limits.
 * Functions here do not log; details of a failure go to the optional diagnostics list. */
#ifndef LI707_CODEC_H
#define LI707_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "li707/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caps on decoded input. Zero in a field means "use the default" (in brackets). */
struct li707_limits {
	size_t max_document_bytes;   /* whole message [64 MiB] */
	unsigned max_depth;          /* element nesting [64] */
	size_t max_actions;          /* ActionRequests per message [1000] */
	size_t max_items;            /* handoverItems per collection [100000] */
	size_t max_attachments;      /* binaryObjects per item [1000] */
	size_t max_identifiers;      /* identifiers per party and receivers per item [1000] */
	size_t max_string_bytes;     /* any text field [65535 = TS 103 280 LongString] */
	size_t max_raw_xml_bytes;    /* glossary / CSP xml / schemaContent, each [4 MiB] */
	size_t max_diagnostics;      /* diagnostics kept; more are counted, not stored [100] */
	size_t max_attributes;       /* attributes of one element, namespace declarations
				      * not counted [256] */
	size_t max_namespace_decls;  /* namespace declarations (xmlns, xmlns:p) of one
				      * element [64] */
	size_t max_namespaces_in_scope; /* namespace declarations in scope at any element,
					 * its own and its ancestors' [128] */
};

/* Fills every zero field of *lim with its default. */
void li707_limits_resolve(struct li707_limits *lim);

enum li707_severity { LI707_SEV_ERROR = 0, LI707_SEV_WARNING = 1, LI707_SEV_NOTE = 2 };

/* One finding of the decoder or validator. */
struct li707_diag {
	enum li707_severity severity;
	int code;         /* li707 error code of an error (EINVALID, ELIMIT, ...), 0 for notes */
	long line;        /* input line, 0 when unknown */
	char *path;       /* element path, e.g. /HI1Message/Payload/.../handoverItem[2]/payload */
	char *req;        /* requirement ID from REQUIREMENTS.md ("R-CORE-2"), or NULL */
	char *message;    /* human text; never contains field values of identifiers/content */
	size_t action;    /* index of the action it concerns, (size_t)-1 for the whole message */
};

struct li707_diags {
	struct li707_diag *v;
	size_t n;
	size_t dropped;   /* findings beyond max_diagnostics, counted only */
	size_t n_errors;  /* errors seen (including dropped ones) */
};

void li707_diags_clear(struct li707_diags *d);
/* Appends a finding (copies strings). Used by the decoder, the validator and the tools. */
int li707_diags_add(struct li707_diags *d, size_t cap, enum li707_severity sev, int code,
		    long line, const char *path, const char *req, size_t action,
		    const char *fmt, ...) __attribute__((format(printf, 9, 10)));

/* Decodes an HI1Message (request or response) with every strict check of docs/checks.md.
 *
 * Returns 0 when the message is valid (every action status 0); LI707_EINVALID or another
 * negative code of the first error otherwise. *out is set whenever the envelope could be
 * read (even if some actions failed: their status says so), so a receiver can answer per
 * action; on EXML/ELIMIT of the whole document *out is NULL. diags may be NULL.
 * lim may be NULL (defaults). Thread-safe after li707_global_init(). */
int li707_message_decode(const char *buf, size_t len, const struct li707_limits *lim,
			 struct li707_message **out, struct li707_diags *diags);

/* Encodes a message as UTF-8 XML into a new malloc'd buffer (*out, *out_len; NUL-terminated).
 * The model is checked first with the same rules as decoding: an invalid model is not
 * encoded (returns LI707_EINVALID with diagnostics). Output is TS 103 707 V1.9.1: an item
 * without timestamp (V1.1.1 form, which decoding accepts with a note) is refused
 * (R-CORE-2). CSP xml, glossary and schemaContent
 * are written byte for byte as given (they must be well-formed and namespace-complete). */
int li707_message_encode(const struct li707_message *m, char **out, size_t *out_len,
			 struct li707_diags *diags);

/* Encodes one handover item as a standalone UTF-8 XML document (*out, *out_len; a new
 * malloc'd, NUL-terminated buffer): the XML declaration and a root
 * <handoverItem xmlns="http://uri.etsi.org/03707/2020/02"> (also declaring the xsi prefix
 * its payload's xsi:type uses) holding the item's content exactly as
 * li707_message_encode() writes it inside a DeliveryObject (same element order, same raw
 * content byte for byte). handoverItem is a global element of schemas/ts_103707.xsd, so the
 * document validates on its own. Unlike li707_message_encode(), it writes items as they were
 * received, so a V1.1.1 item without timestamp is accepted (with a note). The item is checked first with the same rules (an invalid
 * item is not encoded: LI707_EINVALID with diagnostics whose paths begin at /handoverItem).
 * Used to export what an LEA received, item by item. */
int li707_item_encode(const struct li707_item *it, char **out, size_t *out_len,
		      struct li707_diags *diags);

/* Builds the HI-1 response an LEA returns for a decoded request (R-TRN-3): same header with
 * sender and receiver swapped, a new timestamp, the request's TransactionIdentifier; one
 * ActionResponse per action: DELIVERResponse echoing the DELIVER Identifier when the
 * action's status is 0, else ErrorInformation from li707_hi1_error_code(status) with the
 * first diagnostic of that action as description. */
int li707_response_for(const struct li707_message *req, const struct li707_diags *diags,
		       struct li707_message **out);

/* A response with a top-level ErrorInformation, for a message that could not be decoded.
 * req_header may be NULL (then a header with defaults is made). */
int li707_response_top_error(const struct li707_header *req_header, int code,
			     const char *description, struct li707_message **out);

/* How the receiver answered one action of a request (TS103707 R-RSP-1: every action is
 * answered on its own; a sender may consider a DELIVER delivered only when the response holds
 * a DELIVERResponse for it). */
enum li707_outcome {
	LI707_OUTCOME_ACKED = 0, /* DELIVERResponse for a DELIVER (Identifier echoed when given) */
	LI707_OUTCOME_ERROR,     /* ErrorInformation for the action, or a top-level one */
	LI707_OUTCOME_MISSING,   /* no ActionResponse carries its ActionIdentifier */
	LI707_OUTCOME_MISMATCH,  /* answered with another verb, another Identifier, or twice */
};

struct li707_action_outcome {
	uint64_t action_id;
	enum li707_outcome outcome;
	unsigned error_code;           /* ERROR: ErrorCode */
	const char *error_description; /* ERROR: points into the response (may be NULL) */
};

/* Matches a decoded response to the request it answers: out[i] (the caller provides
 * req->n_actions entries) for req->actions[i]. *n_unmatched (may be NULL) gets the number
 * of ActionResponses that answer no action of the request. Returns 0 when every action is
 * ACKED and nothing is unmatched, LI707_EINVALID otherwise (out says which), LI707_EINVAL
 * on bad arguments (resp not a response, req not a request). */
int li707_response_match(const struct li707_message *req, const struct li707_message *resp,
			 struct li707_action_outcome *out, size_t *n_unmatched);
/* "acked", "error", "missing", "mismatch". */
const char *li707_outcome_name(enum li707_outcome o);

/* Must be called once, before any thread uses the library (initialises libxml2). */
void li707_global_init(void);
void li707_global_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif
