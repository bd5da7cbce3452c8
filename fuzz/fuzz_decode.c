/* libFuzzer target: the decoder (src/lib/decode.c, src/lib/xmlsafe.c, src/lib/check.c).
 *
 * Arbitrary bytes are decoded with small limits. Every call must return one of the documented
 * codes, with *out NULL exactly when the envelope could not be read. A message that decodes
 * without error must encode (li707_message_encode: the decoder may only accept what li707
 * can send on), and the encoded bytes must decode again without error, to the same shape,
 * with raw content (glossary, xmlData, schemaContent) byte for byte unchanged. The one thing
 * the decoder takes that the encoder does not write is a V1.1.1-style item without its
 * timestamp (R-CORE-2, mandatory in V1.9.1 Table 6, accepted on reading with a note): such an
 * item is given one before encoding. Anything else aborts: it is a bug. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "li707/li707.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	li707_global_init();
	return 0;
}

static const struct li707_limits small = {
	.max_document_bytes = 256 * 1024,
	.max_depth = 40,
	.max_actions = 8,
	.max_items = 16,
	.max_attachments = 8,
	.max_identifiers = 8,
	.max_string_bytes = 4096,
	.max_raw_xml_bytes = 64 * 1024,
	.max_diagnostics = 16,
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_decode: %s (%s)\n", what, li707_errname(rc));
	abort();
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The decoded shape that must survive encode + decode. */
static void compare(const struct li707_message *x, const struct li707_message *y)
{
	if (x->kind != y->kind || x->n_actions != y->n_actions ||
	    x->n_responses != y->n_responses || x->top_error != y->top_error ||
	    strcmp(x->header.transaction_id, y->header.transaction_id) != 0 ||
	    !same(x->header.sender_id, y->header.sender_id))
		die("re-decoded message differs (envelope)", 0);
	for (size_t a = 0; a < x->n_actions; a++) {
		const struct li707_delivery *p = x->actions[a].delivery, *q = y->actions[a].delivery;
		if (!p || !q || p->n_items != q->n_items || p->payload != q->payload ||
		    !same(p->reference, q->reference))
			die("re-decoded message differs (delivery)", 0);
		for (size_t i = 0; i < p->n_items; i++) {
			const struct li707_item *u = &p->items[i], *v = &q->items[i];
			if (!same(u->glossary, v->glossary) || u->n_csp != v->n_csp ||
			    u->n_attachments != v->n_attachments ||
			    u->n_receivers != v->n_receivers || !same(u->timestamp, v->timestamp))
				die("re-decoded item differs", 0);
			for (size_t k = 0; k < u->n_csp; k++)
				if (!same(u->csp[k].xml, v->csp[k].xml) ||
				    !same(u->csp[k].schema_content, v->csp[k].schema_content) ||
				    !same(u->csp[k].schema_id, v->csp[k].schema_id))
					die("re-decoded CSP block differs", 0);
		}
	}
}

/* What a sender on V1.9.1 must add to an item read from a V1.1.1 delivery (R-CORE-2). */
static void give_timestamps(struct li707_message *m)
{
	for (size_t i = 0; i < m->n_actions; i++) {
		struct li707_delivery *dl = m->actions[i].delivery;
		for (size_t k = 0; dl && k < dl->n_items; k++)
			if (!dl->items[k].timestamp && !(dl->items[k].timestamp = strdup("2026-01-01T00:00:00Z")))
				die("out of memory", LI707_ENOMEM);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	int rc = li707_message_decode((const char *)data, size, &small, &m, &d);
	switch (rc) {
	case 0:
	case LI707_EINVALID:
	case LI707_ENOTSUP:
	case LI707_ENOT707:
	case LI707_ELIMIT:
		break;
	case LI707_EXML:
	case LI707_ENOMEM:
		if (m)
			die("message returned with EXML/ENOMEM", rc);
		break;
	default:
		die("undocumented return code", rc);
	}
	if (rc == 0 && !m)
		die("success without a message", rc);
	if (rc == 0 && d.n_errors)
		die("success with error diagnostics", rc);
	for (size_t i = 0; i < d.n; i++)
		if (!d.v[i].message)
			die("diagnostic without a message", 0);
	li707_diags_clear(&d);

	if (rc == 0) {
		give_timestamps(m);
		char *out = NULL;
		size_t out_len = 0;
		int erc = li707_message_encode(m, &out, &out_len, &d);
		if (erc) {
			for (size_t i = 0; i < d.n; i++)
				fprintf(stderr, "  %s: %s\n", d.v[i].path ? d.v[i].path : "-",
					d.v[i].message);
			die("a message that decoded cleanly does not encode", erc);
		}
		li707_diags_clear(&d);
		/* The encoder's layout may be larger than the input: only the size cap grows. */
		struct li707_limits lim = small;
		lim.max_document_bytes = out_len + 1;
		struct li707_message *m2 = NULL;
		int rc2 = li707_message_decode(out, out_len, &lim, &m2, &d);
		if (rc2) {
			for (size_t i = 0; i < d.n; i++)
				fprintf(stderr, "  %s: %s\n", d.v[i].path ? d.v[i].path : "-",
					d.v[i].message);
			die("encoded output does not decode", rc2);
		}
		compare(m, m2);
		li707_message_free(m2);
		li707_diags_clear(&d);
		free(out);
	}
	li707_message_free(m);
	return 0;
}
