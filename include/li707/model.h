/* li707 - data model of a TS 103 120 HI1Message carrying TS 103 707 deliveries.
 *
 * The model structs are plain data: every pointer member is owned by its parent and freed
 * by li707_message_free() (or the matching _free/_clear below). Strings are NUL-terminated
 * UTF-8, copied in and out; NULL means "absent". Timestamps are kept in their lexical form
 * (exactly as on the wire) and checked/converted with the helpers in li707/util.h.
 * Optional numbers carry a has_ flag; optional booleans are enum li707_tristate.
 *
 * Field comments give the XML element and the spec table. */
#ifndef LI707_MODEL_H
#define LI707_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LI707_NS_707 "http://uri.etsi.org/03707/2020/02"
#define LI707_NS_CORE "http://uri.etsi.org/03120/common/2019/10/Core"
#define LI707_NS_COMMON "http://uri.etsi.org/03120/common/2016/02/Common"
#define LI707_NS_DELIVERY "http://uri.etsi.org/03120/common/2019/10/Delivery"
#define LI707_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"

#define LI707_UUID_LEN 36          /* canonical lower-case text form, without NUL */
/* ETSIVersion li707 writes by default: V1.14.1, the first TS 103 120 version whose
 * ManifestSpecification dictionary lists TS103707 (CR0042), so that it and the Manifest
 * agree; li707 uses no element newer than V1.12.1, whose XSDs its messages also validate
 * against. Settable per message (struct li707_header.etsi_version, li707 build
 * --etsi-version); see docs/schemas.md. */
#define LI707_ETSI_VERSION_DEFAULT "V1.14.1"
#define LI707_ETSI_VERSION_MANIFEST_707 "V1.14.1" /* first version that names TS103707 */
#define LI707_COUNTRY_DEFAULT "XX"            /* TS 103 707 Table 1 */
#define LI707_RECEIVER_ID_DEFAULT "Not specified"  /* TS 103 707 Table 1 */
#define LI707_NATIONAL_PROFILE_NONE "N/A"     /* TS 103 707 Table 1 */

enum li707_tristate { LI707_ABSENT = -1, LI707_FALSE = 0, LI707_TRUE = 1 };

/* TS 103 707 Table 7 / 7A: one identifier of a MessagingParty. */
struct li707_party_id {
	bool qualified;        /* true: <qualifiedPartyIdentifier>; false: plain <identifier> */
	char *format_owner;    /* formatType/formatOwner (qualified only; NULL = no formatType) */
	char *format_name;     /* formatType/formatName  (set together with format_owner) */
	char *value;           /* <identifier> text or qualifiedPartyIdentifier/<value> (M) */
};

/* TS 103 707 Table 7: MessagingParty. */
struct li707_party {
	struct li707_party_id *ids;   /* <identifiers>, at least one (M) */
	size_t n_ids;
	enum li707_tristate targeted; /* <isTargetedParty> (C) */
};

/* TS 103 707 Table 8: binaryObject. */
struct li707_binary_object {
	char *url;                    /* (M) unique per object, https */
	bool has_content_length;
	uint64_t content_length;      /* octets (O) */
	char *content_type;           /* RFC 6838 (O) */
	char *expiry;                 /* QualifiedDateTime (C, Model A) */
	char *checksum;               /* 64 hex digits, SHA-256 (O) */
	char *original_filename;      /* (C) */
	char *csp_defined_identifier; /* (C) */
};

/* TS 103 707 clause 5.6 / Table 9: one cspDefinedMetadata block. */
struct li707_csp_data {
	char *schema_id;      /* schemaDetails/schemaIdentifier (M) */
	char *schema_url;     /* schemaDetails/schemaURL (O) */
	char *schema_content; /* schemaDetails/schemaContent: raw content bytes (text or XML) (O) */
	char *xml;            /* xmlData content: the CSP's own XML, byte-faithful (O) */
};

/* TS 103 707 clauses 5.3-5.6: one handoverItem. */
struct li707_item {
	bool has_correlation;          /* header/applicationCorrelation (O), R-HDR-1 */
	uint64_t app_level_id;         /* applicationLevelID */
	uint64_t app_seq;              /* applicationSequenceNumber, zero-based (R-HDR-2) */
	struct li707_party *sender;    /* coreParameters/messageSender (O), NULL = absent */
	struct li707_party *receivers; /* coreParameters/messageReceivers/recipient* (O) */
	size_t n_receivers;
	char *timestamp;               /* QualifiedDateTime (M in V1.9.1; NULL only in V1.1.1 form) */
	struct li707_binary_object *attachments; /* associatedBinaryData/binaryObject* (O) */
	size_t n_attachments;
	char *glossary;                /* raw content of <glossary> (R-CSP-1), NULL = absent */
	struct li707_csp_data *csp;    /* cspDefinedParameters/cspDefinedMetadata* (O) */
	size_t n_csp;
};

enum li707_ref_kind { LI707_REF_LIID = 0, LI707_REF_LDID = 1 };

/* What a DeliveryObject's Delivery carries. */
enum li707_payload_kind {
	LI707_PAYLOAD_ITEM = 0,       /* XMLData/handoverItem */
	LI707_PAYLOAD_COLLECTION = 1, /* XMLData/handoverItemCollection */
	LI707_PAYLOAD_FOREIGN_XML = 2,/* XMLData with another schema's root (not a 707 delivery) */
	LI707_PAYLOAD_BINARY = 3,     /* BinaryData (not a 707 delivery) */
	LI707_PAYLOAD_NONE = 4,       /* Delivery absent (decode only; invalid for 707) */
};

enum li707_manifest_kind {
	LI707_MANIFEST_NONE = 0,          /* Manifest absent (allowed, Table 3) */
	LI707_MANIFEST_SPECIFICATION = 1, /* Manifest/Specification dictionary entry */
	LI707_MANIFEST_EXTERNAL = 2,      /* Manifest/ExternalSchema (not a 707 manifest) */
};

/* The ManifestSpecification dictionary entry naming TS 103 707 (TS 103 120 V1.14.1 on). */
#define LI707_MANIFEST_OWNER "ETSI"
#define LI707_MANIFEST_NAME "ManifestSpecification"
#define LI707_MANIFEST_VALUE "TS103707"

/* A DELIVER action and its DeliveryObject (TS 103 120 clause 10, TS 103 707 Tables 2-3). */
struct li707_delivery {
	char identifier[LI707_UUID_LEN + 1];  /* DELIVER/Identifier; "" = same as object_id */
	char object_id[LI707_UUID_LEN + 1];   /* HI1Object/ObjectIdentifier (M) */
	char country_code[3];                 /* HI1Object/CountryCode (= receiver's, Table 2) */
	char *owner_id;                       /* HI1Object/OwnerIdentifier (= receiver's, Table 2) */
	enum li707_ref_kind ref_kind;
	char *reference;                      /* Reference/LIID or Reference/LDID (M, Table 3) */
	char delivery_id[LI707_UUID_LEN + 1]; /* DeliveryID, "" = absent (R-DEL-6) */
	bool has_sequence;
	uint64_t sequence;                    /* SequenceNumber, ETSI examples start at 1 */
	enum li707_tristate last_sequence;    /* LastSequence */
	enum li707_manifest_kind manifest;
	char *manifest_owner, *manifest_name, *manifest_value; /* Specification entry */
	enum li707_payload_kind payload;
	char *foreign_root;                   /* "{namespace}localName" for FOREIGN_XML */
	struct li707_item *items;             /* one for ITEM, 1..n for COLLECTION */
	size_t n_items;
};

/* TS 103 120 clause 6.2 header (TS 103 707 Table 1). */
struct li707_header {
	char sender_cc[3];
	char *sender_id;
	char receiver_cc[3];
	char *receiver_id;
	char transaction_id[LI707_UUID_LEN + 1];
	char *timestamp;       /* QualifiedMicrosecondDateTime */
	char *etsi_version;    /* "V<n>.<n>.<n>" */
	char *np_owner;        /* NationalProfileOwner, "N/A" when none */
	char *np_version;      /* NationalProfileVersion, "N/A" when none */
};

enum li707_verb { LI707_VERB_DELIVER = 0, LI707_VERB_GET, LI707_VERB_CREATE, LI707_VERB_UPDATE,
	LI707_VERB_LIST, LI707_VERB_OTHER };

/* One ActionRequest. Only DELIVER carries a delivery. status is 0 when the action decoded
 * and passed every check, else the negative code of its first error (the diagnostics say
 * which); a failed action still has whatever fields could be read. */
struct li707_action {
	uint64_t action_id;
	enum li707_verb verb;
	int status;
	struct li707_delivery *delivery; /* DELIVER only, NULL otherwise */
};

/* One ActionResponse. */
struct li707_action_response {
	uint64_t action_id;
	bool is_error;
	char identifier[LI707_UUID_LEN + 1]; /* DELIVERResponse/Identifier (echoes the DELIVER) */
	unsigned error_code;                 /* ErrorInformation/ErrorCode */
	char *error_description;             /* ErrorInformation/ErrorDescription */
	enum li707_verb verb;                /* DELIVER for DELIVERResponse; OTHER for other verbs */
};

enum li707_message_kind { LI707_MSG_REQUEST = 0, LI707_MSG_RESPONSE = 1 };

struct li707_message {
	struct li707_header header;
	enum li707_message_kind kind;
	struct li707_action *actions;            /* REQUEST: ActionRequests */
	size_t n_actions;
	struct li707_action_response *responses; /* RESPONSE: ActionResponses */
	size_t n_responses;
	bool top_error;                          /* RESPONSE: top-level ErrorInformation */
	unsigned error_code;
	char *error_description;
};

/* Allocation helpers. All _free accept NULL. _clear frees members, leaves the struct zeroed. */
struct li707_message *li707_message_new(void);
void li707_message_free(struct li707_message *m);
void li707_header_clear(struct li707_header *h);
void li707_delivery_free(struct li707_delivery *d);
void li707_item_clear(struct li707_item *it);
void li707_party_clear(struct li707_party *p);
void li707_party_id_clear(struct li707_party_id *id);
void li707_binary_object_clear(struct li707_binary_object *b);
void li707_csp_data_clear(struct li707_csp_data *c);
void li707_action_response_clear(struct li707_action_response *r);

/* Fill a header per TS 103 707 Table 1 (R-DEL-3): fresh TransactionIdentifier, the current
 * time with microseconds and offset, ETSIVersion LI707_ETSI_VERSION_DEFAULT, national profile
 * "N/A"; receiver "XX"/"Not specified" and sender country "XX" when NULL is passed. The
 * sender's UniqueIdentifier has no default (the CSP's own, or the LEA's): NULL -> LI707_EINVAL.
 * *h is treated as uninitialised and written only on success. Copies strings. */
int li707_header_init_defaults(struct li707_header *h, const char *sender_cc,
			       const char *sender_id, const char *receiver_cc,
			       const char *receiver_id);

/* Fill a DeliveryObject's Table 2 fields from the header (CountryCode and OwnerIdentifier =
 * the receiver's, R-DEL-4), a fresh ObjectIdentifier, and the 707 Manifest (Table 3, O) when
 * the header's ETSIVersion is LI707_ETSI_VERSION_MANIFEST_707 or later: an older TS 103 120
 * has no TS103707 ManifestSpecification value, so its deliveries carry no Manifest. */
int li707_delivery_init(struct li707_delivery *d, const struct li707_header *h,
			enum li707_ref_kind kind, const char *reference);

#ifdef __cplusplus
}
#endif
#endif
