/* li707-lea show ITEM - one stored item: as text for a person, as JSON (the store's fields
 * plus lx_json_item(), the same document `export` writes as items/ITEM.json), as a
 * standalone XML handoverItem (li707_item_encode), or the whole message exactly as received.
 *
 * The text shows what the analyst needs to judge the item: where and when it came from,
 * its reference and delivery stream, the parties with their targeted flags and identifier
 * formats, each attachment's record next to what the store holds (state, size, whether the
 * SHA-256 of the stored data matches the record's checksum), and the CSP-defined blocks
 * with their schema identifier and whether the schema content is known (given in the item
 * or earlier by the same peer, TS103707 R-CSP-2). Values are escaped for the terminal
 * (lq_escape). */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lea_cli.h"
#include "lea_query_int.h"
#include "model_json.h"

static const char show_help[] =
	"Usage: li707-lea show [--store DIR | --config FILE] [--json | --xml | --raw] ITEM\n"
	"\n"
	"Print the stored item ITEM (the id `li707-lea list` shows): reception, reference,\n"
	"delivery stream, parties, timestamp, attachments with their state and checksums, and\n"
	"the CSP-defined blocks.\n"
	"\n"
	"Options:\n"
	"  --json           a JSON document: the store's fields and \"item\" as in\n"
	"                   `li707 show --json`\n"
	"  --xml            the item as a standalone TS 103 707 handoverItem document\n"
	"  --raw            the whole HI1Message exactly as received (byte for byte)\n"
	"%s"
	"\n"
	"Exit status: 0 ok, 2 usage, 3 store not readable or ITEM unknown, 4 bad configuration,\n"
	"6 store damaged.\n";

enum li707_tristate lq_sha256_match(const char *stored, const char *record)
{
	if (!stored || !*stored || !record || !*record)
		return LI707_ABSENT;
	return strcasecmp(stored, record) == 0 ? LI707_TRUE : LI707_FALSE;
}

static const struct lea_attachment *att_at(const struct lea_item_detail *d, size_t index)
{
	for (size_t i = 0; i < d->n_atts; i++)
		if (d->atts[i].index == index)
			return &d->atts[i];
	return NULL;
}

/* ---- JSON ---- */

static json_t *att_json(const struct li707_binary_object *b, const struct lea_attachment *a)
{
	if (!a)
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "url", lx_json_str(a->url));
	char model[2] = {a->model, '\0'};
	json_object_set_new(o, "model", json_string(model));
	json_object_set_new(o, "uuid", a->uuid[0] ? json_string(a->uuid) : json_null());
	json_object_set_new(o, "state", json_string(lea_att_state_name(a->state)));
	json_object_set_new(o, "bytes", lx_json_u64(a->bytes));
	json_object_set_new(o, "sha256", a->sha256[0] ? json_string(a->sha256) : json_null());
	json_object_set_new(o, "sha256_match",
			    lx_json_tristate(lq_sha256_match(a->sha256, b ? b->checksum : NULL)));
	json_object_set_new(o, "file", lx_json_str(a->file));
	json_object_set_new(o, "served_type", a->served_type[0] ? json_string(a->served_type)
								 : json_null());
	return o;
}

static json_t *csp_json(const struct lea_item_detail *d, const struct li707_item *it)
{
	json_t *cs = json_array();
	for (size_t i = 0; i < it->n_csp; i++) {
		const struct li707_csp_data *c = &it->csp[i];
		const char *known = d->schema_content ? d->schema_content[i] : NULL;
		json_t *o = json_object();
		json_object_set_new(o, "schema", lx_json_str(c->schema_id));
		json_object_set_new(o, "schema_content_known", json_boolean(known != NULL));
		json_object_set_new(o, "schema_content_source",
				    c->schema_content ? json_string("item")
				    : known	      ? json_string("earlier")
						      : json_null());
		json_object_set_new(o, "schema_content", lx_json_str(known));
		json_object_set_new(o, "xml", lx_json_str(c->xml));
		json_array_append_new(cs, o);
	}
	return cs;
}

json_t *lq_item_json(const struct lea_item_detail *d)
{
	const struct li707_message *m = d->msg;
	const struct li707_header *h = &m->header;
	const struct li707_delivery *dl = m->actions[d->action_index].delivery;
	const struct li707_item *it = lea_item_detail_item(d);
	char t[32];
	lq_time_utc(d->received_at, t);

	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(d->id));
	json_object_set_new(o, "received", json_string(t));
	json_object_set_new(o, "received_epoch", json_integer(d->received_at));
	json_object_set_new(o, "peer", lx_json_str(d->peer));
	json_object_set_new(o, "transaction_id", lx_json_str(d->transaction_id));
	json_object_set_new(o, "message",
			    json_pack("{s:{s:s, s:o}, s:{s:s, s:o}, s:o}", "sender", "country_code",
				      h->sender_cc, "id", lx_json_str(h->sender_id), "receiver",
				      "country_code", h->receiver_cc, "id",
				      lx_json_str(h->receiver_id), "timestamp",
				      lx_json_str(h->timestamp)));
	json_t *dj = json_object();
	json_object_set_new(dj, "identifier",
			    json_string(dl->identifier[0] ? dl->identifier : dl->object_id));
	json_object_set_new(dj, "object_id", json_string(dl->object_id));
	json_object_set_new(dj, "reference",
			    json_pack("{s:s, s:o}", "kind", lx_ref_kind_name(dl->ref_kind),
				      "value", lx_json_str(dl->reference)));
	json_object_set_new(dj, "delivery_id", dl->delivery_id[0] ? json_string(dl->delivery_id)
								  : json_null());
	json_object_set_new(dj, "sequence", dl->has_sequence ? lx_json_u64(dl->sequence)
							     : json_null());
	json_object_set_new(dj, "last_sequence", lx_json_tristate(dl->last_sequence));
	json_object_set_new(dj, "payload", json_string(lx_payload_name(dl->payload)));
	json_object_set_new(dj, "items", json_integer((json_int_t)dl->n_items));
	json_object_set_new(o, "delivery", dj);
	json_object_set_new(o, "item_index", json_integer((json_int_t)d->item_index));
	json_object_set_new(o, "item", lx_json_item(it));
	json_t *as = json_array();
	for (size_t i = 0; i < it->n_attachments; i++)
		json_array_append_new(as, att_json(&it->attachments[i], att_at(d, i)));
	json_object_set_new(o, "stored_attachments", as);
	json_object_set_new(o, "glossary", lx_json_str(it->glossary));
	json_object_set_new(o, "csp", csp_json(d, it));
	return o;
}

/* ---- text ---- */

#define LABEL_WIDTH 17

static void line(int indent, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "Label: value" with the value escaped for the terminal; values of every indent level start
 * in the same column. */
static void line(int indent, const char *label, const char *fmt, ...)
{
	va_list ap;
	char lab[64], *val = NULL;
	snprintf(lab, sizeof lab, "%s:", label);
	va_start(ap, fmt);
	int n = vasprintf(&val, fmt, ap);
	va_end(ap);
	char *safe = n > 0 ? lq_escape(val, false) : NULL;
	if (!safe)
		printf("%*s%s\n", indent, "", lab);
	else
		printf("%*s%-*s %s\n", indent, "", indent < LABEL_WIDTH ? LABEL_WIDTH - indent : 1,
		       lab, safe);
	free(safe);
	if (n >= 0)
		free(val);
}

/* Multi-line raw content (XML), each line indented. */
static void block(int indent, const char *text)
{
	char *safe = lq_escape(text, true);
	if (!safe)
		return;
	for (char *p = safe, *e; *p; p = e) {
		e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		printf("%*s%.*s\n", indent, "", (int)n, p);
		e = e ? e + 1 : p + n;
	}
	free(safe);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void text_party(int indent, const char *label, const struct li707_party *p)
{
	line(indent, label, "%s", p->targeted == LI707_TRUE    ? "[target]"
				  : p->targeted == LI707_FALSE ? "[not target]"
							       : "[target: not said]");
	for (size_t i = 0; i < p->n_ids; i++) {
		const struct li707_party_id *id = &p->ids[i];
		if (id->qualified && id->format_owner)
			line(indent + 2, "Id", "%s (format %s:%s)", or_dash(id->value),
			     id->format_owner, or_dash(id->format_name));
		else if (id->qualified)
			line(indent + 2, "Id", "%s (qualified, no format)", or_dash(id->value));
		else
			line(indent + 2, "Id", "%s", or_dash(id->value));
	}
}

static void text_stored(const struct li707_binary_object *b, const struct lea_attachment *a)
{
	if (!a) {
		line(2, "State", "not in the store's index");
		return;
	}
	if (a->model == 'B')
		line(2, "Model", "B (upload %s)", or_dash(a->uuid));
	else if (a->model == 'A' || a->model == 'C')
		line(2, "Model", "%c (fetched by the LEA, retrieval %" PRId64 ")", a->model, a->id);
	else
		line(2, "Model", "A or C (the LEA fetches it, retrieval %" PRId64 ")", a->id);
	line(2, "State", "%s", lea_att_state_name(a->state));
	if (a->served_type[0]) {
		char *t = lq_escape(a->served_type, false);
		line(2, "Served type", "%s", t ? t : "?");
		free(t);
	}
	if (!a->sha256[0]) {
		line(2, "Stored", "no data");
		return;
	}
	enum li707_tristate m = lq_sha256_match(a->sha256, b->checksum);
	line(2, "Stored", "%" PRIu64 " bytes, SHA-256 %s", a->bytes, a->sha256);
	line(2, "SHA-256 match", "%s", m == LI707_TRUE    ? "yes, the record's checksum"
				       : m == LI707_FALSE ? "NO: differs from the record's checksum"
							  : "unknown: the record has no checksum");
	if (b->has_content_length && b->content_length != a->bytes)
		line(2, "Size match", "NO: the record says %" PRIu64 " bytes", b->content_length);
}

static void text_attachments(const struct lea_item_detail *d, const struct li707_item *it)
{
	for (size_t i = 0; i < it->n_attachments; i++) {
		const struct li707_binary_object *b = &it->attachments[i];
		char lab[32];
		snprintf(lab, sizeof lab, "Attachment %zu", i + 1);
		line(0, lab, "%s", or_dash(b->original_filename));
		line(2, "Type", "%s", or_dash(b->content_type));
		if (b->has_content_length)
			line(2, "Size", "%" PRIu64 " bytes", b->content_length);
		else
			line(2, "Size", "-");
		line(2, "SHA-256", "%s", or_dash(b->checksum));
		line(2, "URL", "%s", or_dash(b->url));
		if (b->expiry)
			line(2, "Expiry", "%s", b->expiry);
		if (b->csp_defined_identifier)
			line(2, "CSP id", "%s", b->csp_defined_identifier);
		text_stored(b, att_at(d, i));
	}
}

static void text_csp(const struct lea_item_detail *d, const struct li707_item *it)
{
	if (it->glossary) {
		line(0, "Glossary", "%zu bytes", strlen(it->glossary));
		block(4, it->glossary);
	}
	for (size_t i = 0; i < it->n_csp; i++) {
		const struct li707_csp_data *c = &it->csp[i];
		const char *known = d->schema_content ? d->schema_content[i] : NULL;
		char lab[32];
		snprintf(lab, sizeof lab, "CSP block %zu", i + 1);
		line(0, lab, "schema %s", or_dash(c->schema_id));
		if (c->schema_url)
			line(2, "Schema URL", "%s", c->schema_url);
		if (c->schema_content)
			line(2, "Schema", "known (%zu bytes, in this item)", strlen(c->schema_content));
		else if (known)
			line(2, "Schema", "known (%zu bytes, sent earlier by this peer)",
			     strlen(known));
		else
			line(2, "Schema", "unknown (never provided by this peer)");
		if (!c->xml) {
			line(2, "XML", "none");
			continue;
		}
		line(2, "XML", "%zu bytes", strlen(c->xml));
		block(4, c->xml);
	}
}

static void show_text(const struct lea_item_detail *d)
{
	const struct li707_message *m = d->msg;
	const struct li707_header *h = &m->header;
	const struct li707_delivery *dl = m->actions[d->action_index].delivery;
	const struct li707_item *it = lea_item_detail_item(d);
	char t[32];
	lq_time_utc(d->received_at, t);

	line(0, "Item", "%" PRId64, d->id);
	line(0, "Received", "%s from peer %s", t, or_dash(d->peer));
	line(0, "Transaction", "%s", or_dash(d->transaction_id));
	line(0, "Message", "from %s / %s to %s / %s, sent %s", h->sender_cc, or_dash(h->sender_id),
	     h->receiver_cc, or_dash(h->receiver_id), or_dash(h->timestamp));
	line(0, "Reference", "%s %s", lx_ref_kind_name(dl->ref_kind), or_dash(dl->reference));
	line(0, "Object", "%s", dl->object_id);
	if (dl->has_sequence)
		line(0, "Delivery", "%s, sequence %" PRIu64 "%s", or_dash(dl->delivery_id),
		     dl->sequence, dl->last_sequence == LI707_TRUE ? ", last" : "");
	else
		line(0, "Delivery", "%s, no sequence number", or_dash(dl->delivery_id));
	if (dl->payload == LI707_PAYLOAD_COLLECTION)
		line(0, "Position", "item %zu of %zu in a handoverItemCollection",
		     d->item_index + 1, dl->n_items);
	line(0, "Time", "%s", it->timestamp ? it->timestamp : "- (TS 103 707 V1.1.1 item)");
	if (it->has_correlation)
		line(0, "Correlation", "id %" PRIu64 ", seq %" PRIu64, it->app_level_id,
		     it->app_seq);
	if (it->sender)
		text_party(0, "Sender", it->sender);
	for (size_t i = 0; i < it->n_receivers; i++) {
		char lab[32];
		snprintf(lab, sizeof lab, "Receiver %zu", i + 1);
		text_party(0, lab, &it->receivers[i]);
	}
	text_attachments(d, it);
	text_csp(d, it);
}

/* ---- the command ---- */

/* Writes the item as a standalone handoverItem document. A stored item passed the decoder's
 * checks, so a refusal here means the store holds something li707 would not send. */
static int show_xml(const char *cmd, const struct lea_item_detail *d)
{
	struct li707_diags dg = {0};
	char *xml = NULL;
	size_t len = 0;
	int rc = li707_item_encode(lea_item_detail_item(d), &xml, &len, &dg);
	if (rc) {
		lq_fail(cmd, rc, "item %" PRId64 " cannot be written as XML: %s (%zu finding%s)",
			d->id, li707_strerror(rc), dg.n, dg.n == 1 ? "" : "s");
		li707_diags_clear(&dg);
		return li707_exit_code(rc);
	}
	fwrite(xml, 1, len, stdout); /* errors: lq_flush_stdout */
	free(xml);
	return lq_flush_stdout(cmd);
}

int lea_cmd_show(int argc, char **argv)
{
	static const char cmd[] = "show";
	enum { O_JSON = LQ_OPT_CMD_BASE, O_XML, O_RAW };
	static const struct option opts[] = {
		LQ_STORE_LONGOPTS,
		{"json", no_argument, NULL, O_JSON},
		{"xml", no_argument, NULL, O_XML},
		{"raw", no_argument, NULL, O_RAW},
		{NULL, 0, NULL, 0},
	};
	struct lq_store_opt so = {0};
	int form = 0, c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = lq_store_option(&so, cmd, c, optarg);
		if (r >= 0) {
			if (r)
				return r;
			continue;
		}
		switch (c) {
		case 'h': printf(show_help, lq_store_help); return 0;
		case O_JSON:
		case O_XML:
		case O_RAW:
			if (form && form != c)
				return lq_usage_error(cmd, "give only one of --json, --xml, --raw");
			form = c;
			break;
		default: return lq_bad_option(cmd, argc, argv);
		}
	}
	if (optind >= argc)
		return lq_usage_error(cmd, "an ITEM (store id) is required");
	if (optind + 1 < argc)
		return lq_usage_error(cmd, "only one ITEM is accepted");
	int64_t id;
	if (!lq_parse_id(argv[optind], &id))
		return lq_usage_error(cmd, "ITEM is a store id: a number from 1 (see li707-lea list)");

	struct lea_store *s = NULL;
	int rc = lq_store_open(&so, cmd, &s);
	if (rc)
		return rc;
	struct lea_item_detail *d = NULL;
	rc = lea_store_item(s, id, &d);
	lea_store_close(s);
	if (rc == LI707_ENOTFOUND || (rc == 0 && !d))
		return lq_fail(cmd, LI707_ENOTFOUND, "item %" PRId64 " not found in the store", id);
	if (rc)
		return lq_fail(cmd, rc, "cannot read item %" PRId64 ": %s", id, li707_strerror(rc));

	if (form == O_RAW) {
		fwrite(d->raw, 1, d->raw_len, stdout); /* errors: lq_flush_stdout */
		rc = lq_flush_stdout(cmd);
	} else if (form == O_XML) {
		rc = show_xml(cmd, d);
	} else if (form == O_JSON) {
		json_t *j = lq_item_json(d);
		rc = lq_json_dump(j, stdout);
		json_decref(j);
		rc = rc ? lq_fail(cmd, rc, "%s", li707_strerror(rc)) : lq_flush_stdout(cmd);
	} else {
		show_text(d);
		rc = lq_flush_stdout(cmd);
	}
	lea_item_detail_free(d);
	return rc;
}
