/* Unit tests of the checker (src/lib/check.c, docs/checks.md): the full valid model passes
 * without a single finding; then one case per rule, named after its requirement ID, that
 * breaks exactly that rule and expects one finding with the exact severity, code,
 * requirement ID and element path, plus the action status and the return value. */
#include "fixture_model.h"
#include "internal.h"

#define ACT1 "/HI1Message/Payload/RequestPayload/ActionRequests/ActionRequest[1]"
#define ACT2 "/HI1Message/Payload/RequestPayload/ActionRequests/ActionRequest[2]"
#define OBJ ACT1 "/DELIVER/HI1Object"
#define XMLDATA OBJ "/delivery:Delivery/delivery:XMLData"
#define ITEM XMLDATA "/handoverItem"
#define COLL XMLDATA "/handoverItemCollection"
#define CORE ITEM "/payload/coreParameters"
#define RSP1 "/HI1Message/Payload/ResponsePayload/ActionResponses/ActionResponse[1]"
#define RSP2 "/HI1Message/Payload/ResponsePayload/ActionResponses/ActionResponse[2]"

#define E LI707_SEV_ERROR
#define W LI707_SEV_WARNING
#define N LI707_SEV_NOTE

static const char *sev_name(enum li707_severity s)
{
	return s == E ? "error" : s == W ? "warning" : "note";
}

/* Finds a finding with exactly this severity, code, requirement ID and path. */
static const struct li707_diag *find(const struct li707_diags *d, enum li707_severity sev,
				     int code, const char *req, const char *path)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct li707_diag *g = &d->v[i];
		if (g->severity == sev && g->code == code && g->req && strcmp(g->req, req) == 0 &&
		    g->path && strcmp(g->path, path) == 0)
			return g;
	}
	return NULL;
}

static struct li707_item *item0(struct li707_message *m)
{
	return &m->actions[0].delivery->items[0];
}

static struct li707_delivery *dlv(struct li707_message *m)
{
	return m->actions[0].delivery;
}

/* ---- one mutation per rule ---- */

static void mut_none(struct li707_message *m) { (void)m; }
static void del3_bad_sender_country(struct li707_message *m)
{
	memcpy(m->header.sender_cc, "de", 3);
}
static void del3_unknown_country(struct li707_message *m) { memcpy(m->header.sender_cc, "UK", 3); }
static void del3_empty_sender_id(struct li707_message *m) { fx_set(&m->header.sender_id, ""); }
static void del3_missing_sender_id(struct li707_message *m) { fx_set(&m->header.sender_id, NULL); }
static void del3_sender_id_too_long(struct li707_message *m)
{
	free(m->header.sender_id);
	m->header.sender_id = fx_repeat('a', 65536);
}
static void del3_bad_transaction_id(struct li707_message *m)
{
	memcpy(m->header.transaction_id, "3F1C2A9E-7B44-4D2C-9A51-0C8E6F1D2B7A", 37);
}
static void del3_timestamp_without_usec(struct li707_message *m)
{
	fx_set(&m->header.timestamp, "2024-05-01T12:00:00Z");
}
static void del3_timestamp_invalid(struct li707_message *m)
{
	fx_set(&m->header.timestamp, "2024-02-30T12:00:00.000000Z");
}
static void del3_timestamp_missing(struct li707_message *m) { fx_set(&m->header.timestamp, NULL); }
static void del3_other_etsi_version(struct li707_message *m)
{
	fx_set(&m->header.etsi_version, "V1.17.1");
}
static void del3_bad_etsi_version(struct li707_message *m)
{
	fx_set(&m->header.etsi_version, "1.12.1");
}
static void del3_np_owner_missing(struct li707_message *m) { fx_set(&m->header.np_owner, NULL); }
static void del3_np_version_too_long(struct li707_message *m)
{
	free(m->header.np_version);
	m->header.np_version = fx_repeat('v', 256);
}
static void del1_no_actions(struct li707_message *m)
{
	li707_delivery_free(m->actions[0].delivery);
	free(m->actions);
	m->actions = NULL;
	m->n_actions = 0;
}
static void del1_identifier_not_uuid(struct li707_message *m)
{
	memcpy(dlv(m)->identifier, "not-a-uuid", 11);
}
static void del1_identifier_differs(struct li707_message *m)
{
	memcpy(dlv(m)->identifier, FX_OBJECT_ID2, 37);
}
static void del1_identifier_empty(struct li707_message *m) { dlv(m)->identifier[0] = '\0'; }
static void del1_object_id_missing(struct li707_message *m) { dlv(m)->object_id[0] = '\0'; }
static void del1_get_action(struct li707_message *m)
{
	li707_delivery_free(m->actions[0].delivery);
	m->actions[0].delivery = NULL;
	m->actions[0].verb = LI707_VERB_GET;
}
static void del1_deliver_without_object(struct li707_message *m)
{
	li707_delivery_free(m->actions[0].delivery);
	m->actions[0].delivery = NULL;
}
static void del4_owner_differs(struct li707_message *m) { fx_set(&dlv(m)->owner_id, "LEA-0043"); }
static void del4_owner_missing(struct li707_message *m) { fx_set(&dlv(m)->owner_id, NULL); }
static void del4_owner_too_long(struct li707_message *m)
{
	free(m->header.receiver_id);
	free(dlv(m)->owner_id);
	m->header.receiver_id = fx_repeat('o', 256);
	dlv(m)->owner_id = fx_repeat('o', 256);
}
static void del4_country_differs(struct li707_message *m) { memcpy(dlv(m)->country_code, "FR", 3); }
static void del4_country_missing(struct li707_message *m) { dlv(m)->country_code[0] = '\0'; }
static void del5_reference_missing(struct li707_message *m) { fx_set(&dlv(m)->reference, NULL); }
static void del5_bad_liid(struct li707_message *m)
{
	fx_set(&dlv(m)->reference, "LIID WITH SPACE");
}
static void del5_bad_ldid(struct li707_message *m)
{
	dlv(m)->ref_kind = LI707_REF_LDID;
	fx_set(&dlv(m)->reference, "no-country");
}
static void del5_ldid_ok(struct li707_message *m)
{
	dlv(m)->ref_kind = LI707_REF_LDID;
	fx_set(&dlv(m)->reference, "DE-LEA0042-2024-0001");
}
static void del5_manifest_wrong_value(struct li707_message *m)
{
	fx_set(&dlv(m)->manifest_value, "TS102657-XML");
}
static void del5_manifest_wrong_owner(struct li707_message *m)
{
	fx_set(&dlv(m)->manifest_owner, "XX");
}
static void del5_manifest_name_missing(struct li707_message *m)
{
	fx_set(&dlv(m)->manifest_name, NULL);
}
static void del5_manifest_external(struct li707_message *m)
{
	dlv(m)->manifest = LI707_MANIFEST_EXTERNAL;
}
static void del5_manifest_absent(struct li707_message *m)
{
	dlv(m)->manifest = LI707_MANIFEST_NONE;
}
static void drop_items(struct li707_delivery *d)
{
	for (size_t i = 0; i < d->n_items; i++)
		li707_item_clear(&d->items[i]);
	free(d->items);
	d->items = NULL;
	d->n_items = 0;
}
static void del5_foreign_xml(struct li707_message *m)
{
	drop_items(dlv(m));
	dlv(m)->payload = LI707_PAYLOAD_FOREIGN_XML;
	dlv(m)->foreign_root = fx_strdup("{urn:foo}FooItem");
}
/* as the official request5-XML-Delivery.xml: foreign XML named by an ExternalSchema */
static void del5_foreign_xml_external_manifest(struct li707_message *m)
{
	del5_foreign_xml(m);
	dlv(m)->manifest = LI707_MANIFEST_EXTERNAL;
	fx_set(&dlv(m)->owner_id, "LEA-0043");
}
static void del5_binary(struct li707_message *m)
{
	drop_items(dlv(m));
	dlv(m)->payload = LI707_PAYLOAD_BINARY;
}
static void del5_delivery_missing(struct li707_message *m)
{
	drop_items(dlv(m));
	dlv(m)->payload = LI707_PAYLOAD_NONE;
}
static void del6_delivery_id_not_uuid(struct li707_message *m)
{
	memcpy(dlv(m)->delivery_id, "d1079830-8e9a-4731-8fb7-36b9b961eb7", 36);
}
static void del6_delivery_id_absent(struct li707_message *m)
{
	dlv(m)->delivery_id[0] = '\0';
	dlv(m)->has_sequence = false;
	dlv(m)->last_sequence = LI707_ABSENT;
}
static void del6_sequence_without_delivery_id(struct li707_message *m)
{
	dlv(m)->delivery_id[0] = '\0';
}
static void del6_last_sequence_without_sequence(struct li707_message *m)
{
	dlv(m)->has_sequence = false;
}
static void del2_two_items_in_item(struct li707_message *m)
{
	fx_make_collection(m, 2);
	dlv(m)->payload = LI707_PAYLOAD_ITEM;
}
static void del2_empty_collection(struct li707_message *m)
{
	drop_items(dlv(m));
	dlv(m)->payload = LI707_PAYLOAD_COLLECTION;
}
static void del2_collection_of_3(struct li707_message *m) { fx_make_collection(m, 3); }
static void hdr2_duplicate_sequence(struct li707_message *m)
{
	fx_make_collection(m, 3);
	dlv(m)->items[2].app_seq = 0; /* same (7, 0) as item 1 */
}
static void hdr2_gap(struct li707_message *m)
{
	fx_make_collection(m, 3);
	dlv(m)->items[1].app_seq = 5; /* 0, 5, 2 */
}
static void hdr2_other_level_same_seq(struct li707_message *m)
{
	fx_make_collection(m, 2);
	dlv(m)->items[1].app_level_id = 8;
	dlv(m)->items[1].app_seq = 0;
}
static void core2_timestamp_with_fraction(struct li707_message *m)
{
	fx_set(&item0(m)->timestamp, "2024-05-01T11:59:58.5+02:00");
}
static void core2_timestamp_invalid(struct li707_message *m)
{
	fx_set(&item0(m)->timestamp, "2024-05-01 11:59:58Z");
}
static void core2_timestamp_no_offset(struct li707_message *m)
{
	fx_set(&item0(m)->timestamp, "2024-05-01T11:59:58");
}
static void core2_v111(struct li707_message *m) { fx_make_v111(item0(m)); }
static void core2_missing_with_qualified(struct li707_message *m)
{
	fx_set(&item0(m)->timestamp, NULL);
}
static void core3_empty_identifier(struct li707_message *m)
{
	fx_set(&item0(m)->sender->ids[0].value, "");
}
static void core3_empty_qualified_value(struct li707_message *m)
{
	fx_set(&item0(m)->sender->ids[1].value, "");
}
static void core3_no_identifiers(struct li707_message *m)
{
	struct li707_party *p = &item0(m)->receivers[1];
	li707_party_id_clear(&p->ids[0]);
	p->n_ids = 0;
}
static void core3_format_owner_only(struct li707_message *m)
{
	fx_set(&item0(m)->sender->ids[1].format_name, NULL);
}
static void core3_format_name_too_long(struct li707_message *m)
{
	free(item0(m)->sender->ids[1].format_name);
	item0(m)->sender->ids[1].format_name = fx_repeat('n', 256);
}
static void core3_plain_with_format(struct li707_message *m)
{
	fx_set(&item0(m)->sender->ids[0].format_owner, "ETSI");
}
static void core3_bad_utf8(struct li707_message *m)
{
	fx_set(&item0(m)->receivers[0].ids[0].value, "bad \xff utf8");
}
static void core3_identifier_too_long(struct li707_message *m)
{
	free(item0(m)->receivers[1].ids[0].value);
	item0(m)->receivers[1].ids[0].value = fx_repeat('i', 65536);
}
static void core5_url_missing(struct li707_message *m)
{
	fx_set(&item0(m)->attachments[1].url, NULL);
}
static void bin1_http_url(struct li707_message *m)
{
	fx_set(&item0(m)->attachments[1].url, "http://csp.example.com/binaryData/1");
}
static void core5_duplicate_url(struct li707_message *m)
{
	fx_set(&item0(m)->attachments[2].url, item0(m)->attachments[0].url);
}
static void core5_duplicate_url_in_collection(struct li707_message *m)
{
	fx_make_collection(m, 3);
	fx_set(&dlv(m)->items[2].attachments[1].url, dlv(m)->items[0].attachments[0].url);
}
static void core5_bad_mime(struct li707_message *m)
{
	fx_set(&item0(m)->attachments[0].content_type, "jpeg");
}
static void core5_expiry_fraction(struct li707_message *m)
{
	fx_set(&item0(m)->attachments[0].expiry, "2024-05-08T12:00:00.000000Z");
}
static void core5_bad_checksum(struct li707_message *m)
{
	fx_set(&item0(m)->attachments[0].checksum, "9f86d081");
}
static void core5_filename_too_long(struct li707_message *m)
{
	free(item0(m)->attachments[0].original_filename);
	item0(m)->attachments[0].original_filename = fx_repeat('f', 65536);
}
static void core5_csp_identifier_bad_utf8(struct li707_message *m)
{
	fx_set(&item0(m)->attachments[0].csp_defined_identifier, "\xc3");
}
static void csp2_schema_id_missing(struct li707_message *m)
{
	fx_set(&item0(m)->csp[1].schema_id, NULL);
}
static void csp2_schema_id_empty(struct li707_message *m)
{
	fx_set(&item0(m)->csp[0].schema_id, "");
}
static void csp2_bad_schema_url(struct li707_message *m)
{
	fx_set(&item0(m)->csp[0].schema_url, "schemas/events.xsd");
}
static void csp2_xml_bad_utf8(struct li707_message *m)
{
	fx_set(&item0(m)->csp[0].xml, "<a xmlns='urn:x'>\xed\xa0\x80</a>");
}
static void csp1_glossary_bad_utf8(struct li707_message *m) { fx_set(&item0(m)->glossary, "\xfe"); }

/* Limits cases (run with small caps). */
static void lim_many_identifiers(struct li707_message *m) { (void)m; }

struct ckcase {
	const char *name;
	void (*mutate)(struct li707_message *m);
	size_t max_small; /* when non-zero: every count cap and raw cap set to this */
	enum li707_severity sev;
	int code;         /* diagnostic code (0 for warnings/notes) */
	const char *req;
	const char *path;
	int rc;           /* expected return */
	int status;       /* expected status of action 0 */
};

#define OK_(name, fn, sev, req, path) {name, fn, 0, sev, 0, req, path, 0, 0}
#define BAD(name, fn, req, path) \
	{name, fn, 0, E, LI707_EINVALID, req, path, LI707_EINVALID, LI707_EINVALID}
/* A message-level error: the action itself stays valid. */
#define BADMSG(name, fn, req, path) {name, fn, 0, E, LI707_EINVALID, req, path, LI707_EINVALID, 0}

static const struct ckcase cases[] = {
	BADMSG("test_del3_bad_sender_country", del3_bad_sender_country, "R-DEL-3",
	       "/HI1Message/Header/SenderIdentifier/CountryCode"),
	BADMSG("test_del3_unassigned_sender_country", del3_unknown_country, "R-DEL-3",
	       "/HI1Message/Header/SenderIdentifier/CountryCode"),
	BADMSG("test_del3_empty_sender_id", del3_empty_sender_id, "R-DEL-3",
	       "/HI1Message/Header/SenderIdentifier/UniqueIdentifier"),
	BADMSG("test_del3_missing_sender_id", del3_missing_sender_id, "R-DEL-3",
	       "/HI1Message/Header/SenderIdentifier/UniqueIdentifier"),
	BADMSG("test_del3_sender_id_too_long", del3_sender_id_too_long, "R-DEL-3",
	       "/HI1Message/Header/SenderIdentifier/UniqueIdentifier"),
	BADMSG("test_del3_bad_transaction_id", del3_bad_transaction_id, "R-DEL-3",
	       "/HI1Message/Header/TransactionIdentifier"),
	OK_("test_del3_timestamp_without_usec_warns", del3_timestamp_without_usec, W, "R-DEL-3",
	    "/HI1Message/Header/Timestamp"),
	BADMSG("test_del3_timestamp_invalid", del3_timestamp_invalid, "R-DEL-3",
	       "/HI1Message/Header/Timestamp"),
	BADMSG("test_del3_timestamp_missing", del3_timestamp_missing, "R-DEL-3",
	       "/HI1Message/Header/Timestamp"),
	OK_("test_del3_other_etsi_version_accepted", del3_other_etsi_version, E, NULL, NULL),
	BADMSG("test_del3_bad_etsi_version", del3_bad_etsi_version, "R-DEL-3",
	       "/HI1Message/Header/Version/ETSIVersion"),
	BADMSG("test_del3_np_owner_missing", del3_np_owner_missing, "R-DEL-3",
	       "/HI1Message/Header/Version/NationalProfileOwner"),
	BADMSG("test_del3_np_version_too_long", del3_np_version_too_long, "R-DEL-3",
	       "/HI1Message/Header/Version/NationalProfileVersion"),
	BADMSG("test_del1_no_actions", del1_no_actions, "R-DEL-1",
	       "/HI1Message/Payload/RequestPayload/ActionRequests"),
	BAD("test_del1_identifier_not_uuid", del1_identifier_not_uuid, "R-DEL-1",
	    ACT1 "/DELIVER/Identifier"),
	OK_("test_del1_identifier_differs_warns", del1_identifier_differs, W, "R-DEL-1",
	    ACT1 "/DELIVER/Identifier"),
	OK_("test_del1_identifier_empty_means_object_id", del1_identifier_empty, E, NULL, NULL),
	BAD("test_del1_object_id_missing", del1_object_id_missing, "R-DEL-1",
	    OBJ "/ObjectIdentifier"),
	{"test_del1_get_action_not_supported", del1_get_action, 0, E, LI707_ENOTSUP, "R-DEL-1",
	 ACT1, LI707_EINVALID, LI707_ENOTSUP},
	BAD("test_del1_deliver_without_object", del1_deliver_without_object, "R-DEL-1",
	    ACT1 "/DELIVER"),
	BAD("test_del4_owner_differs_from_receiver", del4_owner_differs, "R-DEL-4",
	    OBJ "/OwnerIdentifier"),
	BAD("test_del4_owner_missing", del4_owner_missing, "R-DEL-4", OBJ "/OwnerIdentifier"),
	BAD("test_del4_owner_too_long", del4_owner_too_long, "R-DEL-4", OBJ "/OwnerIdentifier"),
	BAD("test_del4_country_differs_from_receiver", del4_country_differs, "R-DEL-4",
	    OBJ "/CountryCode"),
	BAD("test_del4_country_missing", del4_country_missing, "R-DEL-4", OBJ "/CountryCode"),
	BAD("test_del5_reference_missing", del5_reference_missing, "R-DEL-5",
	    OBJ "/delivery:Reference"),
	BAD("test_del5_bad_liid", del5_bad_liid, "R-DEL-5",
	    OBJ "/delivery:Reference/delivery:LIID"),
	BAD("test_del5_bad_ldid", del5_bad_ldid, "R-DEL-5",
	    OBJ "/delivery:Reference/delivery:LDID"),
	OK_("test_del5_ldid_accepted", del5_ldid_ok, E, NULL, NULL),
	BAD("test_del5_manifest_wrong_value", del5_manifest_wrong_value, "R-DEL-5",
	    OBJ "/delivery:Manifest/delivery:Specification/common:Value"),
	BAD("test_del5_manifest_wrong_owner", del5_manifest_wrong_owner, "R-DEL-5",
	    OBJ "/delivery:Manifest/delivery:Specification/common:Owner"),
	BAD("test_del5_manifest_name_missing", del5_manifest_name_missing, "R-DEL-5",
	    OBJ "/delivery:Manifest/delivery:Specification/common:Name"),
	BAD("test_del5_manifest_external_schema", del5_manifest_external, "R-DEL-5",
	    OBJ "/delivery:Manifest/delivery:ExternalSchema"),
	OK_("test_del5_manifest_absent_accepted", del5_manifest_absent, E, NULL, NULL),
	{"test_del5_foreign_xml_not707", del5_foreign_xml, 0, E, LI707_ENOT707, "R-DEL-5",
	 XMLDATA, LI707_EINVALID, LI707_ENOT707},
	{"test_del5_foreign_xml_external_manifest_not707", del5_foreign_xml_external_manifest, 0,
	 E, LI707_ENOT707, "R-DEL-5", XMLDATA, LI707_EINVALID, LI707_ENOT707},
	{"test_del5_binary_not707", del5_binary, 0, E, LI707_ENOT707, "R-DEL-5",
	 OBJ "/delivery:Delivery/delivery:BinaryData", LI707_EINVALID, LI707_ENOT707},
	BAD("test_del5_delivery_missing", del5_delivery_missing, "R-DEL-5",
	    OBJ "/delivery:Delivery"),
	BAD("test_del6_delivery_id_not_uuid", del6_delivery_id_not_uuid, "R-DEL-6",
	    OBJ "/delivery:DeliveryID"),
	OK_("test_del6_delivery_id_absent_warns", del6_delivery_id_absent, W, "R-DEL-6",
	    OBJ "/delivery:DeliveryID"),
	OK_("test_del6_sequence_without_delivery_id_warns", del6_sequence_without_delivery_id, W,
	    "R-DEL-6", OBJ "/delivery:SequenceNumber"),
	OK_("test_del6_last_sequence_without_sequence_warns", del6_last_sequence_without_sequence,
	    W, "R-DEL-6", OBJ "/delivery:LastSequence"),
	BAD("test_del2_item_delivery_with_two_items", del2_two_items_in_item, "R-DEL-2",
	    XMLDATA "/handoverItem"),
	BAD("test_del2_empty_collection", del2_empty_collection, "R-DEL-2", COLL),
	OK_("test_del2_collection_of_3_accepted", del2_collection_of_3, E, NULL, NULL),
	{"test_del2_collection_over_limit", del2_collection_of_3, 2, E, LI707_ELIMIT, "R-DEL-2",
	 COLL, LI707_ELIMIT, LI707_ELIMIT},
	BAD("test_hdr2_duplicate_sequence_in_collection", hdr2_duplicate_sequence, "R-HDR-2",
	    COLL "/handoverItem[3]/header/applicationCorrelation"),
	OK_("test_hdr2_gap_in_collection_note", hdr2_gap, N, "R-HDR-2", COLL),
	OK_("test_hdr2_same_sequence_other_level_accepted", hdr2_other_level_same_seq, E, NULL,
	    NULL),
	BAD("test_core2_timestamp_with_fraction", core2_timestamp_with_fraction, "R-CORE-2",
	    CORE "/timestamp"),
	BAD("test_core2_timestamp_invalid", core2_timestamp_invalid, "R-CORE-2",
	    CORE "/timestamp"),
	BAD("test_core2_timestamp_without_offset", core2_timestamp_no_offset, "R-CORE-2",
	    CORE "/timestamp"),
	OK_("test_core2_v111_item_note", core2_v111, N, "R-CORE-2", CORE "/timestamp"),
	BAD("test_core2_timestamp_missing_with_qualified_ids", core2_missing_with_qualified,
	    "R-CORE-2", CORE "/timestamp"),
	BAD("test_core3_empty_identifier", core3_empty_identifier, "R-CORE-3",
	    CORE "/messageSender/identifiers/identifier[1]"),
	BAD("test_core3_empty_qualified_value", core3_empty_qualified_value, "R-CORE-3",
	    CORE "/messageSender/identifiers/qualifiedPartyIdentifier[1]/value"),
	BAD("test_core3_no_identifiers", core3_no_identifiers, "R-CORE-3",
	    CORE "/messageReceivers/recipient[2]/identifiers"),
	BAD("test_core3_format_owner_without_name", core3_format_owner_only, "R-CORE-3",
	    CORE "/messageSender/identifiers/qualifiedPartyIdentifier[1]/formatType"),
	BAD("test_core3_format_name_too_long", core3_format_name_too_long, "R-CORE-3",
	    CORE "/messageSender/identifiers/qualifiedPartyIdentifier[1]/formatType/formatName"),
	BAD("test_core3_plain_identifier_with_format", core3_plain_with_format, "R-CORE-3",
	    CORE "/messageSender/identifiers/identifier[1]"),
	BAD("test_core3_identifier_bad_utf8", core3_bad_utf8, "R-CORE-3",
	    CORE "/messageReceivers/recipient[1]/identifiers/identifier[1]"),
	BAD("test_core3_identifier_too_long", core3_identifier_too_long, "R-CORE-3",
	    CORE "/messageReceivers/recipient[2]/identifiers/qualifiedPartyIdentifier[1]/value"),
	{"test_core3_too_many_identifiers", lim_many_identifiers, 1, E, LI707_ELIMIT, "R-CORE-3",
	 CORE "/messageSender/identifiers", LI707_ELIMIT, LI707_ELIMIT},
	{"test_core3_too_many_receivers", lim_many_identifiers, 1, E, LI707_ELIMIT, "R-CORE-3",
	 CORE "/messageReceivers", LI707_ELIMIT, LI707_ELIMIT},
	BAD("test_core5_url_missing", core5_url_missing, "R-CORE-5",
	    CORE "/associatedBinaryData/binaryObject[2]/url"),
	BAD("test_bin1_http_url_refused", bin1_http_url, "R-BIN-1",
	    CORE "/associatedBinaryData/binaryObject[2]/url"),
	BAD("test_core5_duplicate_url", core5_duplicate_url, "R-CORE-5",
	    CORE "/associatedBinaryData/binaryObject[3]/url"),
	BAD("test_core5_duplicate_url_in_collection", core5_duplicate_url_in_collection,
	    "R-CORE-5",
	    COLL "/handoverItem[3]/payload/coreParameters/associatedBinaryData/binaryObject[2]/url"),
	BAD("test_core5_bad_content_type", core5_bad_mime, "R-CORE-5",
	    CORE "/associatedBinaryData/binaryObject[1]/contentType"),
	BAD("test_core5_expiry_with_fraction", core5_expiry_fraction, "R-CORE-5",
	    CORE "/associatedBinaryData/binaryObject[1]/expiry"),
	BAD("test_core5_bad_checksum", core5_bad_checksum, "R-CORE-5",
	    CORE "/associatedBinaryData/binaryObject[1]/checksum"),
	BAD("test_core5_filename_too_long", core5_filename_too_long, "R-CORE-5",
	    CORE "/associatedBinaryData/binaryObject[1]/originalFilename"),
	BAD("test_core5_csp_identifier_bad_utf8", core5_csp_identifier_bad_utf8, "R-CORE-5",
	    CORE "/associatedBinaryData/binaryObject[1]/cspDefinedIdentifier"),
	{"test_core5_too_many_attachments", lim_many_identifiers, 2, E, LI707_ELIMIT, "R-CORE-5",
	 CORE "/associatedBinaryData", LI707_ELIMIT, LI707_ELIMIT},
	BAD("test_csp2_schema_id_missing", csp2_schema_id_missing, "R-CSP-2",
	    ITEM "/payload/cspDefinedParameters/cspDefinedMetadata[2]/schemaDetails/schemaIdentifier"),
	BAD("test_csp2_schema_id_empty", csp2_schema_id_empty, "R-CSP-2",
	    ITEM "/payload/cspDefinedParameters/cspDefinedMetadata[1]/schemaDetails/schemaIdentifier"),
	BAD("test_csp2_bad_schema_url", csp2_bad_schema_url, "R-CSP-2",
	    ITEM "/payload/cspDefinedParameters/cspDefinedMetadata[1]/schemaDetails/schemaURL"),
	BAD("test_csp2_xml_bad_utf8", csp2_xml_bad_utf8, "R-CSP-2",
	    ITEM "/payload/cspDefinedParameters/cspDefinedMetadata[1]/xmlData"),
	{"test_csp2_raw_over_limit", lim_many_identifiers, 64, E, LI707_ELIMIT, "R-CSP-2",
	 ITEM "/payload/cspDefinedParameters/cspDefinedMetadata[1]/xmlData", LI707_ELIMIT,
	 LI707_ELIMIT},
	BAD("test_csp1_glossary_bad_utf8", csp1_glossary_bad_utf8, "R-CSP-1",
	    ITEM "/payload/glossary"),
	OK_("test_check_full_model_valid", mut_none, E, NULL, NULL),
};

static void run_case(void **state)
{
	const struct ckcase *c = *state;
	struct li707_message *m = fx_full();
	c->mutate(m);
	struct li707_limits lim = {0};
	if (c->max_small) {
		lim.max_items = lim.max_attachments = lim.max_identifiers = c->max_small;
		lim.max_raw_xml_bytes = c->max_small;
	}
	struct li707_diags d = {0};
	int st[4] = {-1, -1, -1, -1};
	int rc = li707__message_check(m, &lim, &d, NULL, m->n_actions ? st : NULL);
	bool ok = rc == c->rc && (m->n_actions == 0 || st[0] == c->status);
	const struct li707_diag *g = NULL;
	if (c->req) {
		g = find(&d, c->sev, c->code, c->req, c->path);
		ok = ok && g;
	} else {
		ok = ok && d.n_errors == 0 && (c->mutate != mut_none || d.n == 0);
	}
	if (!ok) {
		print_error("%s: expected rc %s status %s and %s %s [%s] %s\n", c->name,
			    li707_errname(c->rc), li707_errname(c->status), sev_name(c->sev),
			    li707_errname(c->code), c->req ? c->req : "(no finding)",
			    c->path ? c->path : "");
		print_error("  actual rc %s status %s, findings:\n", li707_errname(rc),
			    m->n_actions ? li707_errname(st[0]) : "-");
		tu_print_diags(&d);
	}
	li707_diags_clear(&d);
	li707_message_free(m);
	assert_true(ok);
}

/* ---- tests that need more than one mutation ---- */

/* Per-action status: the first error of each action; other actions stay 0. */
static void test_del1_action_status_per_action(void **state)
{
	(void)state;
	struct li707_message *m = fx_request(3);
	fx_set(&m->actions[1].delivery->reference, NULL);     /* R-DEL-5 first */
	fx_set(&m->actions[1].delivery->owner_id, "other"); /* R-DEL-4 earlier in walk order */
	struct li707_diags d = {0};
	int st[3] = {-1, -1, -1};
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, st), LI707_EINVALID);
	assert_int_equal(st[0], 0);
	assert_int_equal(st[1], LI707_EINVALID);
	assert_int_equal(st[2], 0);
	assert_non_null(find(&d, E, LI707_EINVALID, "R-DEL-4",
			     ACT2 "/DELIVER/HI1Object/OwnerIdentifier"));
	assert_int_equal(d.v[0].action, 1);
	li707_diags_clear(&d);
	li707_message_free(m);
}

/* TS103707 R-DEL-4: Table 2 is TS 103 707's rule; a DELIVER of another kind (as the official
 * request5 examples, which carry no CountryCode/OwnerIdentifier) gets ENOT707 and nothing from
 * Table 2, while a malformed CountryCode is still a TS 103 120 syntax error. */
static void test_del4_table2_not_applied_to_non707(void **state)
{
	(void)state;
	struct li707_message *m = fx_request(1);
	struct li707_delivery *d = m->actions[0].delivery;
	drop_items(d);
	d->payload = LI707_PAYLOAD_BINARY;
	d->country_code[0] = '\0';
	fx_set(&d->owner_id, NULL);
	struct li707_diags diags = {0};
	int st[1] = {-1};
	assert_int_equal(li707__message_check(m, NULL, &diags, NULL, st), LI707_EINVALID);
	assert_int_equal(st[0], LI707_ENOT707);
	assert_int_equal(diags.n_errors, 1);
	assert_null(find(&diags, E, LI707_EINVALID, "R-DEL-4", OBJ "/CountryCode"));
	li707_diags_clear(&diags);

	memcpy(d->country_code, "xx", 3);
	assert_int_equal(li707__message_check(m, NULL, &diags, NULL, st), LI707_EINVALID);
	assert_int_equal(st[0], LI707_ENOT707);
	assert_non_null(find(&diags, E, LI707_EINVALID, "R-DEL-4", OBJ "/CountryCode"));
	li707_diags_clear(&diags);
	li707_message_free(m);
}

static void test_del1_duplicate_action_id(void **state)
{
	(void)state;
	struct li707_message *m = fx_request(3);
	m->actions[2].action_id = 0;
	struct li707_diags d = {0};
	int st[3] = {-1, -1, -1};
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, st), LI707_EINVALID);
	assert_int_equal(st[0], 0);
	assert_int_equal(st[1], 0);
	assert_int_equal(st[2], LI707_EINVALID);
	const struct li707_diag *g =
		find(&d, E, LI707_EINVALID, "R-DEL-1",
		     "/HI1Message/Payload/RequestPayload/ActionRequests/ActionRequest[3]"
		     "/ActionIdentifier");
	if (!g)
		tu_print_diags(&d);
	assert_non_null(g);
	assert_int_equal(g->action, 2);
	li707_diags_clear(&d);
	li707_message_free(m);
}

/* R-CORE-5: urls are unique across all the actions of a message. */
static void test_core5_duplicate_url_across_actions(void **state)
{
	(void)state;
	struct li707_message *m = fx_request(2);
	fx_set(&m->actions[1].delivery->items[0].attachments[0].url,
	       m->actions[0].delivery->items[0].attachments[2].url);
	struct li707_diags d = {0};
	int st[2] = {-1, -1};
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, st), LI707_EINVALID);
	assert_int_equal(st[0], 0);
	assert_int_equal(st[1], LI707_EINVALID);
	assert_non_null(find(&d, E, LI707_EINVALID, "R-CORE-5",
			     ACT2 "/DELIVER/HI1Object/delivery:Delivery/delivery:XMLData"
				  "/handoverItem/payload/coreParameters/associatedBinaryData"
				  "/binaryObject[1]/url"));
	li707_diags_clear(&d);
	li707_message_free(m);
}

/* The line map gives each finding the input line of its field. */
static void test_check_lines_from_linemap(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	fx_set(&dlv(m)->owner_id, "LEA-9");
	fx_set(&item0(m)->attachments[1].url, NULL); /* missing: the line of the object */
	struct li707__linemap *lm = li707__linemap_new(100);
	assert_non_null(lm);
	assert_int_equal(li707__linemap_put(lm, dlv(m)->owner_id, 42), 0);
	assert_int_equal(li707__linemap_put(lm, &item0(m)->attachments[1], 77), 0);
	struct li707_diags d = {0};
	assert_int_equal(li707__message_check(m, NULL, &d, lm, NULL), LI707_EINVALID);
	const struct li707_diag *g = find(&d, E, LI707_EINVALID, "R-DEL-4", OBJ "/OwnerIdentifier");
	assert_non_null(g);
	assert_int_equal(g->line, 42);
	g = find(&d, E, LI707_EINVALID, "R-CORE-5",
		 CORE "/associatedBinaryData/binaryObject[2]/url");
	assert_non_null(g);
	assert_int_equal(g->line, 77);
	li707_diags_clear(&d);
	li707__linemap_free(lm);
	li707_message_free(m);
}

/* Diagnostics never carry identifier values, references or content (R-SEC-6). */
static void test_check_messages_never_quote_values(void **state)
{
	(void)state;
	static const char marker[] = "SECRETMARKER";
	struct li707_message *m = fx_full();
	fx_set(&m->header.sender_id, "");
	fx_set(&dlv(m)->owner_id, "SECRETMARKER-owner");
	fx_set(&dlv(m)->reference, "SECRETMARKER LIID with spaces");
	fx_set(&item0(m)->sender->ids[0].value, "SECRETMARKER \xff");
	fx_set(&item0(m)->attachments[0].url, "http://SECRETMARKER.example/x");
	fx_set(&item0(m)->attachments[0].content_type, "SECRETMARKER");
	fx_set(&item0(m)->timestamp, "SECRETMARKER");
	fx_set(&item0(m)->csp[0].schema_url, "SECRETMARKER");
	struct li707_diags d = {0};
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, NULL), LI707_EINVALID);
	assert_true(d.n >= 7);
	for (size_t i = 0; i < d.n; i++) {
		if (strstr(d.v[i].message, marker) || strstr(d.v[i].path, marker)) {
			tu_print_diags(&d);
			fail_msg("finding %zu quotes a value", i);
		}
	}
	li707_diags_clear(&d);
	li707_message_free(m);
}

/* Without a diagnostics list or a status array the verdict is the same. */
static void test_check_without_diags(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	assert_int_equal(li707__message_check(m, NULL, NULL, NULL, NULL), 0);
	fx_set(&item0(m)->attachments[0].checksum, "x");
	assert_int_equal(li707__message_check(m, NULL, NULL, NULL, NULL), LI707_EINVALID);
	assert_int_equal(li707__message_check(NULL, NULL, NULL, NULL, NULL), LI707_EINVAL);
	li707_message_free(m);
}

/* ---- responses (R-TRN-3) ---- */

static struct li707_message *response2(void)
{
	struct li707_message *m = li707_message_new();
	assert_non_null(m);
	fx_header(&m->header);
	m->kind = LI707_MSG_RESPONSE;
	m->n_responses = 2;
	m->responses = fx_calloc(2, sizeof *m->responses);
	m->responses[0].action_id = 0;
	m->responses[0].verb = LI707_VERB_DELIVER;
	memcpy(m->responses[0].identifier, FX_OBJECT_ID, 37);
	m->responses[1].action_id = 1;
	m->responses[1].is_error = true;
	m->responses[1].error_code = 3000;
	m->responses[1].error_description = fx_strdup("Object invalid");
	return m;
}

static void test_trn3_response_valid(void **state)
{
	(void)state;
	struct li707_message *m = response2();
	struct li707_diags d = {0};
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, NULL), 0);
	assert_int_equal(d.n, 0);
	m->top_error = true;
	m->error_code = 3007;
	m->error_description = fx_strdup("Request invalid");
	free(m->responses[1].error_description);
	free(m->responses);
	m->responses = NULL;
	m->n_responses = 0;
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, NULL), 0);
	li707_diags_clear(&d);
	li707_message_free(m);
}

static void test_trn3_response_errors(void **state)
{
	(void)state;
	struct li707_message *m = response2();
	m->responses[1].action_id = 0;
	memcpy(m->responses[0].identifier, "nope", 5);
	struct li707_diags d = {0};
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, NULL), LI707_EINVALID);
	assert_non_null(find(&d, E, LI707_EINVALID, "R-TRN-3", RSP1 "/DELIVERResponse/Identifier"));
	assert_non_null(find(&d, E, LI707_EINVALID, "R-TRN-3", RSP2 "/ActionIdentifier"));
	li707_diags_clear(&d);

	free(m->responses[1].error_description);
	m->responses[1].error_description = fx_repeat('e', 65536);
	memcpy(m->responses[0].identifier, FX_OBJECT_ID, 37);
	m->responses[1].action_id = 1;
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, NULL), LI707_EINVALID);
	assert_non_null(find(&d, E, LI707_EINVALID, "R-TRN-3",
			     RSP2 "/ErrorInformation/ErrorDescription"));
	li707_diags_clear(&d);

	for (size_t i = 0; i < m->n_responses; i++)
		li707_action_response_clear(&m->responses[i]);
	m->n_responses = 0;
	assert_int_equal(li707__message_check(m, NULL, &d, NULL, NULL), LI707_EINVALID);
	assert_non_null(find(&d, E, LI707_EINVALID, "R-TRN-3",
			     "/HI1Message/Payload/ResponsePayload/ActionResponses"));
	li707_diags_clear(&d);
	li707_message_free(m);
}

int main(void)
{
	const size_t n_cases = sizeof cases / sizeof cases[0];
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_del1_action_status_per_action),
		cmocka_unit_test(test_del1_duplicate_action_id),
		cmocka_unit_test(test_del4_table2_not_applied_to_non707),
		cmocka_unit_test(test_core5_duplicate_url_across_actions),
		cmocka_unit_test(test_check_lines_from_linemap),
		cmocka_unit_test(test_check_messages_never_quote_values),
		cmocka_unit_test(test_check_without_diags),
		cmocka_unit_test(test_trn3_response_valid),
		cmocka_unit_test(test_trn3_response_errors),
	};
	const size_t n_fixed = sizeof fixed / sizeof fixed[0];
	struct CMUnitTest *tests = calloc(n_cases + n_fixed, sizeof *tests);
	assert_non_null(tests);
	for (size_t i = 0; i < n_cases; i++)
		tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL,
					       (void *)&cases[i]};
	for (size_t i = 0; i < n_fixed; i++)
		tests[n_cases + i] = fixed[i];
	int rc = _cmocka_run_group_tests("test_check", tests, n_cases + n_fixed, NULL, NULL);
	free(tests);
	return rc;
}
