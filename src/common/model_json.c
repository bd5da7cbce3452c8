/* li707 - the data model as JSON (model_json.h): the builders of `li707 show --json`, shared
 * with the LEA's analyst commands. Keys and value conventions are in model_json.h. */
#include "model_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *lx_verb_name(enum li707_verb v)
{
	switch (v) {
	case LI707_VERB_DELIVER: return "DELIVER";
	case LI707_VERB_GET: return "GET";
	case LI707_VERB_CREATE: return "CREATE";
	case LI707_VERB_UPDATE: return "UPDATE";
	case LI707_VERB_LIST: return "LIST";
	case LI707_VERB_OTHER: return "OTHER";
	}
	return "OTHER";
}

const char *lx_payload_name(enum li707_payload_kind p)
{
	switch (p) {
	case LI707_PAYLOAD_ITEM: return "handoverItem";
	case LI707_PAYLOAD_COLLECTION: return "handoverItemCollection";
	case LI707_PAYLOAD_FOREIGN_XML: return "foreign XML";
	case LI707_PAYLOAD_BINARY: return "binary data";
	case LI707_PAYLOAD_NONE: return "none";
	}
	return "none";
}

const char *lx_ref_kind_name(enum li707_ref_kind k)
{
	return k == LI707_REF_LDID ? "LDID" : "LIID";
}

/* json_string() of NULL is NULL, which json_object_set_new() refuses: absent -> null. */
json_t *lx_json_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* A uint64_t: a JSON integer, or a decimal string above what JSON integers hold here
 * (2^63 - 1), so no value is ever changed. */
json_t *lx_json_u64(uint64_t v)
{
	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	char b[24];
	snprintf(b, sizeof b, "%" PRIu64, v);
	return json_string(b);
}

json_t *lx_json_tristate(enum li707_tristate t)
{
	return t == LI707_ABSENT ? json_null() : json_boolean(t == LI707_TRUE);
}

json_t *lx_json_party(const struct li707_party *p)
{
	json_t *ids = json_array();
	for (size_t i = 0; i < p->n_ids; i++) {
		const struct li707_party_id *id = &p->ids[i];
		json_t *o = json_object();
		json_object_set_new(o, "qualified", json_boolean(id->qualified));
		json_object_set_new(o, "format_owner", lx_json_str(id->format_owner));
		json_object_set_new(o, "format_name", lx_json_str(id->format_name));
		json_object_set_new(o, "value", lx_json_str(id->value));
		json_array_append_new(ids, o);
	}
	return json_pack("{s:o, s:o}", "ids", ids, "target", lx_json_tristate(p->targeted));
}

json_t *lx_json_item(const struct li707_item *it)
{
	json_t *o = json_object();
	json_object_set_new(o, "timestamp", lx_json_str(it->timestamp));
	json_object_set_new(o, "correlation",
			    it->has_correlation ? json_pack("{s:o, s:o}", "id", lx_json_u64(it->app_level_id),
							    "seq", lx_json_u64(it->app_seq))
						: json_null());
	json_object_set_new(o, "sender", it->sender ? lx_json_party(it->sender) : json_null());
	json_t *rs = json_array();
	for (size_t i = 0; i < it->n_receivers; i++)
		json_array_append_new(rs, lx_json_party(&it->receivers[i]));
	json_object_set_new(o, "receivers", rs);
	json_t *as = json_array();
	for (size_t i = 0; i < it->n_attachments; i++) {
		const struct li707_binary_object *b = &it->attachments[i];
		json_t *a = json_object();
		json_object_set_new(a, "filename", lx_json_str(b->original_filename));
		json_object_set_new(a, "content_type", lx_json_str(b->content_type));
		json_object_set_new(a, "size", b->has_content_length ? lx_json_u64(b->content_length)
								     : json_null());
		json_object_set_new(a, "sha256", lx_json_str(b->checksum));
		json_object_set_new(a, "url", lx_json_str(b->url));
		json_object_set_new(a, "expiry", lx_json_str(b->expiry));
		json_object_set_new(a, "csp_id", lx_json_str(b->csp_defined_identifier));
		json_array_append_new(as, a);
	}
	json_object_set_new(o, "attachments", as);
	json_object_set_new(o, "glossary_bytes",
			    it->glossary ? json_integer((json_int_t)strlen(it->glossary))
					 : json_null());
	json_t *cs = json_array();
	for (size_t i = 0; i < it->n_csp; i++) {
		const struct li707_csp_data *c = &it->csp[i];
		json_t *b = json_object();
		json_object_set_new(b, "schema", lx_json_str(c->schema_id));
		json_object_set_new(b, "schema_url", lx_json_str(c->schema_url));
		json_object_set_new(b, "schema_content_bytes",
				    c->schema_content
					    ? json_integer((json_int_t)strlen(c->schema_content))
					    : json_null());
		json_object_set_new(b, "xml_bytes",
				    json_integer(c->xml ? (json_int_t)strlen(c->xml) : 0));
		json_array_append_new(cs, b);
	}
	json_object_set_new(o, "csp", cs);
	return o;
}

json_t *lx_json_delivery(const struct li707_delivery *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "identifier", json_string(d->identifier[0] ? d->identifier
									     : d->object_id));
	json_object_set_new(o, "object_id", json_string(d->object_id));
	json_object_set_new(o, "country_code", json_string(d->country_code));
	json_object_set_new(o, "owner_id", lx_json_str(d->owner_id));
	json_object_set_new(o, "reference",
			    json_pack("{s:s, s:o}", "kind", lx_ref_kind_name(d->ref_kind), "value",
				      lx_json_str(d->reference)));
	json_object_set_new(o, "delivery_id", d->delivery_id[0] ? json_string(d->delivery_id)
								: json_null());
	json_object_set_new(o, "sequence", d->has_sequence ? lx_json_u64(d->sequence) : json_null());
	json_object_set_new(o, "last_sequence", lx_json_tristate(d->last_sequence));
	json_object_set_new(o, "manifest",
			    d->manifest == LI707_MANIFEST_SPECIFICATION
				    ? json_pack("{s:o, s:o, s:o}", "owner", lx_json_str(d->manifest_owner),
						"name", lx_json_str(d->manifest_name), "value",
						lx_json_str(d->manifest_value))
			    : d->manifest == LI707_MANIFEST_EXTERNAL ? json_string("external")
								     : json_null());
	json_object_set_new(o, "payload", json_string(lx_payload_name(d->payload)));
	json_object_set_new(o, "foreign_root", lx_json_str(d->foreign_root));
	json_t *items = json_array();
	for (size_t i = 0; i < d->n_items; i++)
		json_array_append_new(items, lx_json_item(&d->items[i]));
	json_object_set_new(o, "items", items);
	return o;
}

static json_t *json_endpoint(const char *cc, const char *id)
{
	return json_pack("{s:o, s:o}", "country_code", lx_json_str(cc), "id", lx_json_str(id));
}

json_t *lx_json_message(const struct li707_message *m)
{
	const struct li707_header *h = &m->header;
	json_t *o = json_object();
	json_object_set_new(o, "kind",
			    json_string(m->kind == LI707_MSG_RESPONSE ? "response" : "request"));
	json_t *hd = json_object();
	json_object_set_new(hd, "sender", json_endpoint(h->sender_cc, h->sender_id));
	json_object_set_new(hd, "receiver", json_endpoint(h->receiver_cc, h->receiver_id));
	json_object_set_new(hd, "transaction_id", json_string(h->transaction_id));
	json_object_set_new(hd, "timestamp", lx_json_str(h->timestamp));
	json_object_set_new(hd, "etsi_version", lx_json_str(h->etsi_version));
	json_object_set_new(hd, "national_profile_owner", lx_json_str(h->np_owner));
	json_object_set_new(hd, "national_profile_version", lx_json_str(h->np_version));
	json_object_set_new(o, "header", hd);
	json_t *acts = json_array();
	for (size_t i = 0; i < m->n_actions; i++) {
		const struct li707_action *a = &m->actions[i];
		json_t *ao = json_object();
		json_object_set_new(ao, "action_id", lx_json_u64(a->action_id));
		json_object_set_new(ao, "verb", json_string(lx_verb_name(a->verb)));
		json_object_set_new(ao, "status", json_string(a->status ? li707_errname(a->status)
									: "OK"));
		json_object_set_new(ao, "delivery",
				    a->delivery ? lx_json_delivery(a->delivery) : json_null());
		json_array_append_new(acts, ao);
	}
	json_object_set_new(o, "actions", acts);
	json_t *resps = json_array();
	for (size_t i = 0; i < m->n_responses; i++) {
		const struct li707_action_response *r = &m->responses[i];
		json_t *ro = json_object();
		json_object_set_new(ro, "action_id", lx_json_u64(r->action_id));
		json_object_set_new(ro, "verb", json_string(lx_verb_name(r->verb)));
		json_object_set_new(ro, "identifier", r->identifier[0] ? json_string(r->identifier)
								       : json_null());
		json_object_set_new(ro, "error",
				    r->is_error ? json_pack("{s:i, s:o}", "code", (int)r->error_code,
							    "description",
							    lx_json_str(r->error_description))
						: json_null());
		json_array_append_new(resps, ro);
	}
	json_object_set_new(o, "responses", resps);
	json_object_set_new(o, "error",
			    m->top_error ? json_pack("{s:i, s:o}", "code", (int)m->error_code,
						     "description", lx_json_str(m->error_description))
					 : json_null());
	return o;
}

