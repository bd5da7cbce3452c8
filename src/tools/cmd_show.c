/* li707 show - a message as a person wants to read it, or as a stable JSON document.
 *
 * The text layout is the same on a terminal and in a pipe: one "Label: value" per line,
 * values aligned, nesting by indentation. The JSON document (--json) carries the same
 * content; its keys are listed in docs/man/li707.1 and do not change between releases
 * except by addition. A file that does not decode cleanly is shown as far as it could be
 * read, followed by its diagnostics; the exit status is the decoder's (li707_exit_code). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_json.h"
#include "tool.h"

static const char help_text[] =
	"Usage: li707 show [--json] FILE\n"
	"\n"
	"Print the content of FILE (an HI1Message; '-' for standard input): header, every\n"
	"DELIVER with its reference, delivery id and sequence, and every handover item with\n"
	"its time, correlation, parties, attachments and CSP-defined blocks. A message that is\n"
	"not valid is shown as far as it could be decoded, followed by the diagnostics.\n"
	"\n"
	"Options:\n"
	"  --json       print a JSON document with the same content\n"
	"  -h, --help   print this help and exit\n"
	"\n"
	"Exit status: 0 valid, 1 invalid (still shown), 2 usage, 3 I/O error.\n";

static const char *tristate_name(enum li707_tristate t)
{
	return t == LI707_TRUE ? "true" : t == LI707_FALSE ? "false" : "absent";
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* ---- text ---- */

#define LABEL_WIDTH 14

static void line(int indent, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void line(int indent, const char *label, const char *fmt, ...)
{
	va_list ap;
	char lab[64];
	char *val = NULL;
	snprintf(lab, sizeof lab, "%s:", label);
	va_start(ap, fmt);
	int n = vasprintf(&val, fmt, ap);
	va_end(ap);
	if (n <= 0) /* nothing to show (or no memory): the label alone, no trailing blanks */
		printf("%*s%s\n", indent, "", lab);
	else
		printf("%*s%-*s %s\n", indent, "", LABEL_WIDTH, lab, val);
	if (n >= 0)
		free(val);
}

static void text_party_id(int indent, const char *label, const struct li707_party_id *id)
{
	if (id->qualified && id->format_owner)
		line(indent, label, "%s (%s:%s)", or_dash(id->value), id->format_owner,
		     or_dash(id->format_name));
	else if (id->qualified)
		line(indent, label, "%s (qualified, no format)", or_dash(id->value));
	else
		line(indent, label, "%s", or_dash(id->value));
}

static void text_party(int indent, const char *label, const struct li707_party *p)
{
	line(indent, label, "%s", p->targeted == LI707_TRUE    ? "[target]"
				  : p->targeted == LI707_FALSE ? "[not target]"
							       : "");
	for (size_t i = 0; i < p->n_ids; i++)
		text_party_id(indent + 2, "Id", &p->ids[i]);
}

static void text_item(int indent, const struct li707_item *it)
{
	line(indent, "Time", "%s", or_dash(it->timestamp));
	if (it->has_correlation)
		line(indent, "Correlation", "id %" PRIu64 ", seq %" PRIu64, it->app_level_id,
		     it->app_seq);
	if (it->sender)
		text_party(indent, "Sender", it->sender);
	for (size_t i = 0; i < it->n_receivers; i++) {
		char lab[32];
		snprintf(lab, sizeof lab, "Receiver %zu", i + 1);
		text_party(indent, lab, &it->receivers[i]);
	}
	for (size_t i = 0; i < it->n_attachments; i++) {
		const struct li707_binary_object *b = &it->attachments[i];
		char lab[32];
		snprintf(lab, sizeof lab, "Attachment %zu", i + 1);
		line(indent, lab, "%s", or_dash(b->original_filename));
		line(indent + 2, "Type", "%s", or_dash(b->content_type));
		if (b->has_content_length)
			line(indent + 2, "Size", "%" PRIu64 " bytes", b->content_length);
		else
			line(indent + 2, "Size", "-");
		line(indent + 2, "SHA-256", "%s", or_dash(b->checksum));
		line(indent + 2, "URL", "%s", or_dash(b->url));
		line(indent + 2, "Expiry", "%s", or_dash(b->expiry));
		if (b->csp_defined_identifier)
			line(indent + 2, "CSP id", "%s", b->csp_defined_identifier);
	}
	if (it->glossary)
		line(indent, "Glossary", "%zu bytes of XML", strlen(it->glossary));
	for (size_t i = 0; i < it->n_csp; i++) {
		const struct li707_csp_data *c = &it->csp[i];
		char lab[32];
		snprintf(lab, sizeof lab, "CSP block %zu", i + 1);
		line(indent, lab, "schema %s", or_dash(c->schema_id));
		if (c->schema_url)
			line(indent + 2, "Schema URL", "%s", c->schema_url);
		if (c->schema_content)
			line(indent + 2, "Schema", "%zu bytes inline", strlen(c->schema_content));
		line(indent + 2, "XML", "%zu bytes", c->xml ? strlen(c->xml) : (size_t)0);
	}
}

static void text_delivery(const struct li707_delivery *d)
{
	line(2, "Identifier", "%s", d->identifier[0] ? d->identifier : d->object_id);
	line(2, "Object", "%s", or_dash(d->object_id));
	line(2, "Owner", "%s / %s", or_dash(d->country_code), or_dash(d->owner_id));
	line(2, "Reference", "%s %s", lx_ref_kind_name(d->ref_kind), or_dash(d->reference));
	if (d->has_sequence)
		line(2, "Delivery", "%s, sequence %" PRIu64 ", last %s", or_dash(d->delivery_id),
		     d->sequence, tristate_name(d->last_sequence));
	else
		line(2, "Delivery", "%s, no sequence, last %s", or_dash(d->delivery_id),
		     tristate_name(d->last_sequence));
	if (d->manifest == LI707_MANIFEST_SPECIFICATION)
		line(2, "Manifest", "%s %s %s", or_dash(d->manifest_owner), or_dash(d->manifest_name),
		     or_dash(d->manifest_value));
	else if (d->manifest == LI707_MANIFEST_EXTERNAL)
		line(2, "Manifest", "external schema");
	else
		line(2, "Manifest", "none");
	if (d->payload == LI707_PAYLOAD_FOREIGN_XML)
		line(2, "Payload", "foreign XML %s", or_dash(d->foreign_root));
	else if (d->payload == LI707_PAYLOAD_COLLECTION)
		line(2, "Payload", "handoverItemCollection, %zu items", d->n_items);
	else
		line(2, "Payload", "%s", lx_payload_name(d->payload));
	for (size_t i = 0; i < d->n_items; i++) {
		printf("  Item %zu\n", i + 1);
		text_item(4, &d->items[i]);
	}
}

static void text_message(const char *file, const struct li707_message *m)
{
	const struct li707_header *h = &m->header;
	line(0, "File", "%s", file);
	line(0, "Message", "%s", m->kind == LI707_MSG_RESPONSE ? "response" : "request");
	line(0, "Sender", "%s / %s", or_dash(h->sender_cc), or_dash(h->sender_id));
	line(0, "Receiver", "%s / %s", or_dash(h->receiver_cc), or_dash(h->receiver_id));
	line(0, "Transaction", "%s", or_dash(h->transaction_id));
	line(0, "Time", "%s", or_dash(h->timestamp));
	line(0, "Version", "%s, national profile %s %s", or_dash(h->etsi_version),
	     or_dash(h->np_owner), or_dash(h->np_version));
	for (size_t i = 0; i < m->n_actions; i++) {
		const struct li707_action *a = &m->actions[i];
		printf("\nAction %" PRIu64 ": %s%s%s\n", a->action_id, lx_verb_name(a->verb),
		       a->status ? " - INVALID: " : "", a->status ? li707_errname(a->status) : "");
		if (a->delivery)
			text_delivery(a->delivery);
	}
	for (size_t i = 0; i < m->n_responses; i++) {
		const struct li707_action_response *r = &m->responses[i];
		if (r->is_error)
			printf("\nAction %" PRIu64 ": ErrorInformation %u: %s\n", r->action_id,
			       r->error_code, or_dash(r->error_description));
		else
			printf("\nAction %" PRIu64 ": %sResponse %s\n", r->action_id,
			       lx_verb_name(r->verb), or_dash(r->identifier));
	}
	if (m->top_error)
		printf("\nErrorInformation %u: %s\n", m->error_code, or_dash(m->error_description));
}

/* ---- JSON ---- */

static json_t *json_diags(const struct li707_diags *d)
{
	json_t *a = json_array();
	for (size_t i = 0; i < d->n; i++) {
		const struct li707_diag *g = &d->v[i];
		json_t *o = json_object();
		json_object_set_new(o, "severity", json_string(tool_severity_name(g->severity)));
		json_object_set_new(o, "code", g->code ? json_string(li707_errname(g->code))
						       : json_null());
		json_object_set_new(o, "line", g->line > 0 ? json_integer(g->line) : json_null());
		json_object_set_new(o, "path", lx_json_str(g->path));
		json_object_set_new(o, "requirement", lx_json_str(g->req));
		json_object_set_new(o, "message", lx_json_str(g->message));
		json_array_append_new(a, o);
	}
	return a;
}

static int show_json(const char *file, int rc, const struct li707_message *m,
		     const struct li707_diags *d)
{
	json_t *root = json_object();
	json_object_set_new(root, "file", json_string(file));
	json_object_set_new(root, "status", json_string(rc ? li707_errname(rc) : "OK"));
	json_object_set_new(root, "message", m ? lx_json_message(m) : json_null());
	json_object_set_new(root, "diagnostics", json_diags(d));
	json_object_set_new(root, "diagnostics_dropped", json_integer((json_int_t)d->dropped));
	int err = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	putchar('\n');
	return err ? LI707_ENOMEM : 0;
}

int tool_cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool as_json = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = true; break;
		case 'h': fputs(help_text, stdout); return 0;
		default: return tool_bad_option("show", argc, argv);
		}
	}
	if (optind >= argc)
		return tool_usage_error("show", "a FILE is required");
	if (optind + 1 < argc)
		return tool_usage_error("show", "only one FILE is accepted");
	const char *file = argv[optind];

	struct li707_limits lim = {0};
	li707_limits_resolve(&lim);
	char *buf = NULL;
	size_t len = 0;
	int rc = tool_read_file(file, lim.max_document_bytes, &buf, &len);
	if (rc) {
		fprintf(stderr, "li707 show: %s: %s\n", file, li707_strerror(rc));
		return li707_exit_code(rc);
	}
	struct li707_diags d = {0};
	struct li707_message *m = NULL;
	rc = li707_message_decode(buf, len, &lim, &m, &d);
	if (as_json) {
		int jrc = show_json(file, rc, m, &d);
		if (jrc && !rc)
			rc = jrc;
	} else {
		if (m)
			text_message(file, m);
		else
			line(0, "File", "%s (could not be decoded)", file);
		if (d.n) {
			printf("\nDiagnostics (%zu error%s):\n", d.n_errors, d.n_errors == 1 ? "" : "s");
			for (size_t i = 0; i < d.n; i++)
				tool_print_diag(stdout, file, &d.v[i]);
			if (d.dropped)
				printf("  %zu more not shown\n", d.dropped);
		}
	}
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
	return li707_exit_code(rc);
}
