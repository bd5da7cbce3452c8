/* li707 - the streaming decoder's schema: one table per complex type (its children in
 * schema order, with cardinality, choices and what each one is), and what starting and
 * ending each element does to the model (ts_103120_Core.xsd, ts_103120_Delivery.xsd,
 * schemas/ts_103707.xsd; TS 103 707 clauses 5.1-5.6, Tables 1-9). The engine is decode.c;
 * docs/internals/decode.md. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "decode.h"

/* ---- the schema tables ----
 * E: an element (optional unless many); M: a mandatory one, reported missing when the cursor
 * passes it; G: the last alternative of a choice, with the message when none came. */

#define E(ns, name, grp, many, act, id) {ns, name, grp, many, act, id, NULL, NULL, NULL, NULL}
#define M(ns, name, act, id, what, leaf, req) {ns, name, 0, false, act, id, what, leaf, NULL, req}
#define G(ns, name, grp, act, id, msg, req) {ns, name, grp, false, act, id, NULL, NULL, msg, req}

static const struct child t_msg[] = {
	E(U_CORE, "Header", 0, false, F_HEADER, 0),
	E(U_CORE, "Payload", 0, false, F_PAYLOAD, 0),
	E(U_CORE, "Signature", 0, false, S_SPECIAL, 1),
	E(U_DSIG, "Signature", 0, false, S_SPECIAL, 2),
};
static const struct child t_header[] = {
	E(U_CORE, "SenderIdentifier", 0, false, F_ENDPOINT, 0),
	E(U_CORE, "ReceiverIdentifier", 0, false, F_ENDPOINT, 1),
	E(U_CORE, "TransactionIdentifier", 0, false, L_LEAF, 0),
	E(U_CORE, "Timestamp", 0, false, L_LEAF, 1),
	E(U_CORE, "Version", 0, false, F_VERSION, 0),
	E(U_CORE, "WorkflowIdentifier", 0, false, L_LEAF, 2),
};
static const struct child t_endpoint[] = {
	E(U_CORE, "CountryCode", 0, false, L_LEAF, 0),
	E(U_CORE, "UniqueIdentifier", 0, false, L_LEAF, 1),
};
static const struct child t_version[] = {
	E(U_CORE, "ETSIVersion", 0, false, L_LEAF, 0),
	E(U_CORE, "NationalProfileOwner", 0, false, L_LEAF, 1),
	E(U_CORE, "NationalProfileVersion", 0, false, L_LEAF, 2),
};
static const struct child t_payload[] = {
	E(U_CORE, "RequestPayload", 1, false, F_REQ, 0),
	E(U_CORE, "ResponsePayload", 1, false, F_RESP, 0),
};
static const struct child t_req[] = {
	M(U_CORE, "ActionRequests", F_ACTIONS, 0, "ActionRequests", "/ActionRequests", "R-DEL-1"),
};
static const struct child t_actions[] = {
	E(U_CORE, "ActionRequest", 0, true, F_ACTION, 0),
};
static const struct child t_action[] = {
	M(U_CORE, "ActionIdentifier", L_LEAF, 0, "ActionIdentifier", "/ActionIdentifier",
	  "R-DEL-1"),
	E(U_CORE, "DELIVER", 1, false, F_DELIVER, 0),
	G(U_ANY, NULL, 1, S_SPECIAL, 1, "ActionRequest holds no action (DELIVER)", "R-DEL-1"),
};
static const struct child t_deliver[] = {
	M(U_CORE, "Identifier", L_LEAF, 0, "DELIVER Identifier", "/Identifier", "R-DEL-1"),
	E(U_CORE, "HI1Object", 0, false, S_SPECIAL, 1),
};
static const struct child t_object[] = {
	E(U_CORE, "ObjectIdentifier", 0, false, L_LEAF, 0),
	E(U_CORE, "CountryCode", 0, false, L_LEAF, 1),
	E(U_CORE, "OwnerIdentifier", 0, false, L_LEAF, 2),
	E(U_CORE, "Generation", 0, false, L_LEAF, 3),
	E(U_CORE, "ExternalIdentifier", 0, false, L_LEAF, 4),
	E(U_CORE, "AssociatedObjects", 0, false, F_ASSOC, 0),
	E(U_CORE, "LastChanged", 0, false, L_LEAF, 5),
	E(U_CORE, "NationalHandlingParameters", 0, false, S_SPECIAL, 6),
	E(U_DEL, "Reference", 0, false, F_REF, 0),
	E(U_DEL, "DeliveryID", 0, false, L_LEAF, 7),
	E(U_DEL, "SequenceNumber", 0, false, L_LEAF, 8),
	E(U_DEL, "LastSequence", 0, false, L_LEAF, 9),
	E(U_DEL, "Manifest", 0, false, F_MANIFEST, 0),
	E(U_DEL, "Delivery", 0, false, F_DELIVERY, 0),
};
static const struct child t_assoc[] = {
	E(U_CORE, "AssociatedObject", 0, true, L_LEAF, 0),
};
static const struct child t_ref[] = {
	E(U_DEL, "LDID", 1, false, L_LEAF, 0),
	E(U_DEL, "LIID", 1, false, L_LEAF, 1),
};
static const struct child t_manifest[] = {
	E(U_DEL, "Specification", 1, false, F_SPEC, 0),
	G(U_DEL, "ExternalSchema", 1, S_SPECIAL, 1,
	  "Manifest holds neither Specification nor ExternalSchema", "R-DEL-5"),
};
static const struct child t_spec[] = {
	E(U_COMMON, "Owner", 0, false, L_LEAF, 0),
	E(U_COMMON, "Name", 0, false, L_LEAF, 1),
	E(U_COMMON, "Value", 0, false, L_LEAF, 2),
};
static const struct child t_delivery[] = {
	E(U_DEL, "XMLData", 1, false, F_XMLDATA, 0),
	G(U_DEL, "BinaryData", 1, S_SPECIAL, 1, "Delivery holds neither XMLData nor BinaryData",
	  "R-DEL-5"),
};
static const struct child t_coll[] = {
	E(U_707, "handoverItem", 0, true, F_ITEM, 0),
};
static const struct child t_item[] = {
	E(U_707, "header", 0, false, F_IHEADER, 0),
	M(U_707, "payload", S_SPECIAL, 1, "payload", "/payload", "R-DEL-5"),
};
static const struct child t_iheader[] = {
	E(U_707, "applicationCorrelation", 0, false, F_CORR, 0),
};
static const struct child t_corr[] = {
	M(U_707, "applicationLevelID", L_LEAF, 0, "applicationLevelID", "/applicationLevelID",
	  "R-HDR-1"),
	M(U_707, "applicationSequenceNumber", L_LEAF, 1, "applicationSequenceNumber",
	  "/applicationSequenceNumber", "R-HDR-2"),
};
static const struct child t_mpayload[] = {
	M(U_707, "coreParameters", F_CORE, 0, "coreParameters", "/coreParameters", "R-CORE-1"),
	E(U_707, "glossary", 0, false, R_RAW, 0),
	E(U_707, "cspDefinedParameters", 0, false, F_CSPP, 0),
};
static const struct child t_core[] = {
	E(U_707, "messageSender", 0, false, F_PARTY, 0),
	E(U_707, "messageReceivers", 0, false, F_RECV, 0),
	E(U_707, "timestamp", 0, false, L_LEAF, 0),
	E(U_707, "associatedBinaryData", 0, false, F_ABD, 0),
};
static const struct child t_party[] = {
	E(U_707, "identifiers", 0, false, F_IDS, 0),
	E(U_707, "isTargetedParty", 0, false, L_LEAF, 0),
};
static const struct child t_ids[] = {
	E(U_707, "identifier", 0, true, L_LEAF, 0),
	E(U_707, "qualifiedPartyIdentifier", 0, true, F_QID, 0),
};
static const struct child t_qid[] = {
	E(U_707, "formatType", 0, false, F_FMT, 0),
	E(U_707, "value", 0, false, L_LEAF, 0),
};
static const struct child t_fmt[] = {
	E(U_707, "formatOwner", 0, false, L_LEAF, 0),
	E(U_707, "formatName", 0, false, L_LEAF, 1),
};
static const struct child t_recv[] = {
	E(U_707, "recipient", 0, true, F_PARTY, 1),
};
static const struct child t_abd[] = {
	E(U_707, "binaryObject", 0, true, F_BO, 0),
};
static const struct child t_bo[] = {
	E(U_707, "url", 0, false, L_LEAF, 0),
	E(U_707, "contentLength", 0, false, L_LEAF, 1),
	E(U_707, "contentType", 0, false, L_LEAF, 2),
	E(U_707, "expiry", 0, false, L_LEAF, 3),
	E(U_707, "checksum", 0, false, L_LEAF, 4),
	E(U_707, "originalFilename", 0, false, L_LEAF, 5),
	E(U_707, "cspDefinedIdentifier", 0, false, L_LEAF, 6),
};
static const struct child t_cspp[] = {
	E(U_707, "cspDefinedMetadata", 0, true, F_CSPM, 0),
};
static const struct child t_cspm[] = {
	E(U_707, "schemaDetails", 0, false, F_SDET, 0),
	E(U_707, "xmlData", 0, false, R_RAW, 1),
};
static const struct child t_sdet[] = {
	E(U_707, "schemaIdentifier", 0, false, L_LEAF, 0),
	E(U_707, "schemaURL", 0, false, L_LEAF, 1),
	E(U_707, "schemaContent", 0, false, R_RAW, 2),
};
static const struct child t_resp[] = {
	E(U_CORE, "ActionResponses", 1, false, F_ARESPS, 0),
	G(U_CORE, "ErrorInformation", 1, F_ERRINFO, 1,
	  "ResponsePayload holds neither ActionResponses nor ErrorInformation", "R-TRN-3"),
};
static const struct child t_aresps[] = {
	E(U_CORE, "ActionResponse", 0, true, F_ARESP, 0),
};
static const struct child t_aresp[] = {
	M(U_CORE, "ActionIdentifier", L_LEAF, 0, "ActionIdentifier", "/ActionIdentifier",
	  "R-TRN-3"),
	E(U_CORE, "DELIVERResponse", 1, false, F_DRESP, 0),
	E(U_CORE, "ErrorInformation", 1, false, F_ERRINFO, 2),
	G(U_ANY, NULL, 1, S_SPECIAL, 1, "ActionResponse holds no response", "R-TRN-3"),
};
static const struct child t_dresp[] = {
	E(U_CORE, "Identifier", 0, false, L_LEAF, 0),
};
static const struct child t_errinfo[] = {
	M(U_CORE, "ErrorCode", L_LEAF, 0, "ErrorCode", "/ErrorCode", "R-TRN-3"),
	E(U_CORE, "ErrorDescription", 0, false, L_LEAF, 1),
};

_Static_assert(sizeof t_object / sizeof t_object[0] <= TAB_MAX, "the largest table fits");

#define T(tab, req) {tab, sizeof tab / sizeof tab[0], req, false}
const struct type li707__dec_types[LI707__DEC_N_TYPES] = {
	[F_MSG] = T(t_msg, "R-DEL-1"),
	[F_HEADER] = T(t_header, "R-DEL-3"),
	[F_ENDPOINT] = T(t_endpoint, "R-DEL-3"),
	[F_VERSION] = T(t_version, "R-DEL-3"),
	[F_PAYLOAD] = T(t_payload, "R-DEL-1"),
	[F_REQ] = T(t_req, "R-DEL-1"),
	[F_ACTIONS] = T(t_actions, "R-DEL-1"),
	[F_ACTION] = T(t_action, "R-DEL-1"),
	[F_DELIVER] = T(t_deliver, "R-DEL-1"),
	[F_OBJECT] = T(t_object, "R-DEL-5"),
	[F_ASSOC] = T(t_assoc, "R-DEL-4"),
	[F_REF] = T(t_ref, "R-DEL-5"),
	[F_MANIFEST] = T(t_manifest, "R-DEL-5"),
	[F_SPEC] = T(t_spec, "R-DEL-5"),
	[F_DELIVERY] = T(t_delivery, "R-DEL-5"),
	[F_XMLDATA] = {NULL, 0, "R-DEL-5", false},
	[F_COLL] = T(t_coll, "R-DEL-2"),
	[F_ITEM] = T(t_item, "R-DEL-5"),
	[F_IHEADER] = T(t_iheader, "R-HDR-1"),
	[F_CORR] = T(t_corr, "R-HDR-1"),
	[F_MPAYLOAD] = T(t_mpayload, "R-DEL-5"),
	[F_CORE] = T(t_core, "R-CORE-1"),
	[F_PARTY] = T(t_party, "R-CORE-3"),
	[F_IDS] = {t_ids, 2, "R-CORE-3", true},
	[F_QID] = T(t_qid, "R-CORE-3"),
	[F_FMT] = T(t_fmt, "R-CORE-3"),
	[F_RECV] = T(t_recv, "R-CORE-1"),
	[F_ABD] = T(t_abd, "R-CORE-5"),
	[F_BO] = T(t_bo, "R-CORE-5"),
	[F_CSPP] = T(t_cspp, "R-CSP-2"),
	[F_CSPM] = T(t_cspm, "R-CSP-2"),
	[F_SDET] = T(t_sdet, "R-CSP-2"),
	[F_RESP] = T(t_resp, "R-TRN-3"),
	[F_ARESPS] = T(t_aresps, "R-TRN-3"),
	[F_ARESP] = T(t_aresp, "R-TRN-3"),
	[F_DRESP] = T(t_dresp, "R-TRN-3"),
	[F_ERRINFO] = T(t_errinfo, "R-TRN-3"),
};

/* ---- starting a known child ---- */



#define LEAF(kind, trim, req, dst)                                                            \
	li707__dec_leaf_begin(c, kind, trim, req, dst, e->line, e->local, e->prefix, e->uri, e->nb_attrs, \
		   e->attrs)

static void leaf_fixed(struct dc *c, const struct el *e, const char *req, char *dst,
		       size_t size, const char *what, bool mark_it)
{
	LEAF(LK_FIXED, true, req, dst);
	c->leaf.size = size;
	c->leaf.what = what;
	c->leaf.mark_it = mark_it;
	li707__dec_leaf_go(c);
}

static void leaf_str(struct dc *c, const struct el *e, const char *req, char **dst, bool trim)
{
	LEAF(LK_STR, trim, req, dst);
	li707__dec_leaf_go(c);
}

static void leaf_uint(struct dc *c, const struct el *e, const char *req, uint64_t *dst,
		      bool *ok)
{
	LEAF(LK_UINT, true, req, dst);
	c->leaf.ok = ok;
	li707__dec_leaf_go(c);
}

static void leaf_bool(struct dc *c, const struct el *e, const char *req,
		      enum li707_tristate *tri)
{
	LEAF(LK_BOOL, true, req, NULL);
	c->leaf.tri = tri;
	li707__dec_leaf_go(c);
}

static void leaf_unkept(struct dc *c, const struct el *e, const char *what, const char *seg,
			size_t index)
{
	LEAF(LK_UNKEPT, true, "R-DEL-4", NULL);
	c->leaf.what = what;
	li707__dec_leaf_seg(c, seg, index);
	li707__dec_leaf_go(c);
}

static const struct {
	const char *name;
	enum li707_verb verb;
} verbs[] = {
	{"GET", LI707_VERB_GET},
	{"CREATE", LI707_VERB_CREATE},
	{"UPDATE", LI707_VERB_UPDATE},
	{"LIST", LI707_VERB_LIST},
};

/* Over its cap, a list is dropped whole, with the findings about its elements: the cap is
 * a rule about the list, and none of its elements is kept or reported. */
static void list_discard(struct dc *c, struct frame *f)
{
	struct garr *a = &f->arr;
	char *v = *a->v;
	for (size_t i = 0; i < *a->n; i++) {
		void *e = v + i * a->size;
		switch (f->type) {
		case F_COLL:
			li707_item_clear(e);
			break;
		case F_IDS:
			li707_party_id_clear(e);
			break;
		case F_RECV:
			li707_party_clear(e);
			break;
		case F_ABD:
			li707_binary_object_clear(e);
			break;
		case F_CSPP:
			li707_csp_data_clear(e);
			break;
		default:
			break;
		}
	}
	free(v);
	*a->v = NULL;
	*a->n = 0;
	a->cap = a->cap_lines = a->cap_lines2 = 0;
	free(a->lines);
	free(a->lines2);
	a->lines = a->lines2 = NULL;
	size_t keep = f->dmark + f->dins;
	for (size_t i = keep; i < c->own.n; i++) {
		struct li707_diag *g = &c->own.v[i];
		if (g->severity == LI707_SEV_ERROR && c->own.n_errors)
			c->own.n_errors--;
		free(g->path);
		free(g->req);
		free(g->message);
	}
	if (keep < c->own.n)
		c->own.n = keep;
}

/* A repeated child of a list frame f: its model struct, or NULL when the cap is reached
 * (reported once; this and later ones are skipped). */
static void *list_push(struct dc *c, struct frame *f, const struct el *e, size_t cap,
		       const char *req, const char *what, bool whole_doc)
{
	if (f->capped)
		return NULL;
	if (*f->arr.n >= cap) {
		c->ins = f; /* a finding about the list itself */
		LIMIT(c, f->line, NULL, req, "%s holds more than the configured limit of %zu", what,
		      cap);
		c->ins = NULL;
		f->capped = true;
		if (!whole_doc)
			list_discard(c, f);
		if (whole_doc) {
			/* Too many actions, a whole-document error: no action's findings are kept. */
			li707__dec_own_filter(c, li707__dec_keep_not_action);
			li707__dec_fatal(c, LI707_ELIMIT);
		}
		return NULL;
	}
	return li707__dec_garr_push(c, &f->arr, e->line, 0, cap);
}

/* HI1Message (ts_103120_Core.xsd) */
static int start_HI1Message(struct dc *c, struct frame *f, const struct child *ch,
			    const struct el *e)
{
	struct li707_message *m = c->m;
	if (ch->act == F_HEADER) {
		c->have_header = true;
		li707__dec_mark(c, &m->header, e->line);
		li707__dec_frame_push(c, F_HEADER, "/Header", 0, e->line, &m->header, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	if (ch->act == F_PAYLOAD) {
		c->have_payload = true;
		li707__dec_frame_push(c, F_PAYLOAD, "/Payload", 0, e->line, NULL, e->nb_attrs, e->attrs);
		return 0;
	}
	if (ch->id == 1)
		f->l1 = e->line;
	else
		f->l2 = e->line;
	return 1;
}

/* MessageHeader (ts_103120_Core.xsd) */
static int start_MessageHeader(struct dc *c, struct frame *f, const struct child *ch,
			       const struct el *e)
{
	struct frame *nf;
	struct li707_header *h = f->obj;
	if (ch->act == F_VERSION) {
		li707__dec_frame_push(c, F_VERSION, "/Version", 0, e->line, h, e->nb_attrs, e->attrs);
		return 0;
	}
	if (ch->act == F_ENDPOINT) {
		nf = li707__dec_frame_push(c, F_ENDPOINT,
				ch->id ? "/ReceiverIdentifier" : "/SenderIdentifier", 0,
				e->line, h, e->nb_attrs, e->attrs);
		if (nf)
			nf->n1 = ch->id;
		return 0;
	}
	if (ch->id == 0) {
		leaf_fixed(c, e, "R-DEL-3", h->transaction_id, sizeof h->transaction_id,
			   "TransactionIdentifier", true);
	} else if (ch->id == 1) {
		leaf_str(c, e, "R-DEL-3", &h->timestamp, true);
	} else {
		/* Newer TS 103 120 versions add it; li707 follows V1.12.1 and ignores it. */
		LEAF(LK_WORKFLOW, false, "R-DEL-3", NULL);
		li707__dec_leaf_go(c);
	}
	return 0;
}

/* EndpointID (ts_103120_Core.xsd) */
static int start_EndpointID(struct dc *c, struct frame *f, const struct child *ch,
			    const struct el *e)
{
	struct li707_header *h = f->obj;
	if (ch->id == 0)
		leaf_fixed(c, e, "R-DEL-3", f->n1 ? h->receiver_cc : h->sender_cc, 3,
			   "CountryCode", true);
	else
		leaf_str(c, e, "R-DEL-3", f->n1 ? &h->receiver_id : &h->sender_id, false);
	return 0;
}

/* Version (ts_103120_Core.xsd) */
static int start_Version(struct dc *c, struct frame *f, const struct child *ch,
			 const struct el *e)
{
	struct li707_header *h = f->obj;
	char **dst[] = {&h->etsi_version, &h->np_owner, &h->np_version};
	leaf_str(c, e, "R-DEL-3", dst[ch->id], false);
	return 0;
}

/* MessagePayload (ts_103120_Core.xsd) */
static int start_MessagePayload(struct dc *c, struct frame *f, const struct child *ch,
				const struct el *e)
{
	struct li707_message *m = c->m;
	if (ch->act == F_REQ) {
		m->kind = LI707_MSG_REQUEST;
		li707__dec_frame_push(c, F_REQ, "/RequestPayload", 0, e->line, NULL, e->nb_attrs,
			   e->attrs);
	} else {
		m->kind = LI707_MSG_RESPONSE;
		li707__dec_mark(c, m, e->line);
		li707__dec_frame_push(c, F_RESP, "/ResponsePayload", 0, e->line, NULL, e->nb_attrs,
			   e->attrs);
	}
	c->have_payload_kind = true;
	return 0;
}

/* RequestPayload (ts_103120_Core.xsd) */
static int start_RequestPayload(struct dc *c, struct frame *f, const struct child *ch,
				const struct el *e)
{
	struct li707_message *m = c->m;
	struct frame *nf;
	li707__dec_mark(c, m, e->line);
	nf = li707__dec_frame_push(c, F_ACTIONS, "/ActionRequests", 0, e->line, NULL, e->nb_attrs,
			e->attrs);
	if (nf)
		li707__dec_garr_init(&nf->arr, &m->actions, &m->n_actions, sizeof *m->actions, true,
			  offsetof(struct li707_action, action_id));
	return 0;
}

/* ActionRequests (ts_103120_Core.xsd) */
static int start_ActionRequests(struct dc *c, struct frame *f, const struct child *ch,
				const struct el *e)
{
	struct li707_message *m = c->m;
	struct frame *nf;
	struct li707_action *a = list_push(c, f, e, c->lim.max_actions, "R-DEL-1",
					   "ActionRequests", true);
	if (!a)
		return 1;
	size_t i = m->n_actions - 1;
	/* list_push has checked max_actions */
	int rc = li707_array_grow((void **)&c->status, &c->cap_status, m->n_actions,
				  sizeof *c->status, c->lim.max_actions);
	if (rc) {
		if (rc == LI707_ENOMEM)
			c->nomem = true;
		li707__dec_fatal(c, rc);
		return 1;
	}
	c->status[i] = 0;
	c->n_status = m->n_actions;
	c->action = i;
	a->verb = LI707_VERB_OTHER;
	nf = li707__dec_frame_push(c, F_ACTION, "/ActionRequest", i + 1, e->line, a, e->nb_attrs,
			e->attrs);
	if (nf)
		nf->n1 = i;
	return 0;
}

/* ActionRequest (ts_103120_Core.xsd) */
static int start_ActionRequest(struct dc *c, struct frame *f, const struct child *ch,
			       const struct el *e)
{
	struct li707_action *a = f->obj;
	if (ch->act == L_LEAF) {
		c->fr[c->top - 1].arr.lines2[f->n1] = e->line;
		leaf_uint(c, e, "R-DEL-1", &a->action_id, NULL);
		return 0;
	}
	if (ch->act == F_DELIVER) {
		a->verb = LI707_VERB_DELIVER;
		li707__dec_frame_push(c, F_DELIVER, "/DELIVER", 0, e->line, a, e->nb_attrs, e->attrs);
		return 0;
	}
	/* Another verb (GET, CREATE, UPDATE, LIST or a newer one): the checker reports
	 * it as not supported (ENOTSUP); its content is not read. */
	if (li707__dec_uri_is(c, e->uri, U_CORE))
		for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
			if (strcmp((const char *)e->local, verbs[i].name) == 0)
				a->verb = verbs[i].verb;
	return 1;
}

/* DELIVERRequest (ts_103120_Core.xsd) */
static int start_DELIVERRequest(struct dc *c, struct frame *f, const struct child *ch,
				const struct el *e)
{
	struct li707_action *a = f->obj;
	if (ch->act == L_LEAF) {
		f->ident_line = e->line;
		leaf_fixed(c, e, "R-DEL-1", f->ident, sizeof f->ident, "Identifier", false);
		return 0;
	}
	if (li707__dec_xsi_type_is(c, e->nb_attrs, e->attrs, U_DEL, "DeliveryObject") != 1) {
		/* TS103707 R-DEL-1: only DeliveryObjects are delivered. */
		li707__dec_report(c, LI707_SEV_ERROR, LI707_ENOTSUP, e->line, "/HI1Object", "R-DEL-1",
		       "HI1Object is not a delivery:DeliveryObject (xsi:type); only "
		       "deliveries are handled");
		return 1;
	}
	struct li707_delivery *d = calloc(1, sizeof *d);
	if (!d) {
		c->nomem = true;
		li707__dec_fatal(c, LI707_ENOMEM);
		return 1;
	}
	d->last_sequence = LI707_ABSENT;
	d->payload = LI707_PAYLOAD_NONE;
	d->manifest = LI707_MANIFEST_NONE;
	memcpy(d->identifier, f->ident, sizeof f->ident);
	if (f->ident_line)
		li707__dec_mark(c, d->identifier, f->ident_line);
	a->delivery = d;
	li707__dec_mark(c, d, e->line);
	li707__dec_frame_push(c, F_OBJECT, "/HI1Object", 0, e->line, d, e->nb_attrs, e->attrs);
	return 0;
}

/* DeliveryObject (ts_103120_Delivery.xsd) */
static int start_DeliveryObject(struct dc *c, struct frame *f, const struct child *ch,
				const struct el *e)
{
	struct li707_delivery *d = f->obj;
	if (ch->act == F_ASSOC) {
		li707__dec_frame_push(c, F_ASSOC, "/AssociatedObjects", 0, e->line, d, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	if (ch->act == F_REF) {
		li707__dec_frame_push(c, F_REF, "/delivery:Reference", 0, e->line, d, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	if (ch->act == F_MANIFEST) {
		li707__dec_frame_push(c, F_MANIFEST, "/delivery:Manifest", 0, e->line, d, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	if (ch->act == F_DELIVERY) {
		li707__dec_frame_push(c, F_DELIVERY, "/delivery:Delivery", 0, e->line, d, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	switch (ch->id) {
	case 0:
		leaf_fixed(c, e, "R-DEL-1", d->object_id, sizeof d->object_id,
			   "ObjectIdentifier", true);
		return 0;
	case 1:
		leaf_fixed(c, e, "R-DEL-4", d->country_code, sizeof d->country_code,
			   "CountryCode", true);
		return 0;
	case 2:
		leaf_str(c, e, "R-DEL-4", &d->owner_id, false);
		return 0;
	case 3:
		leaf_unkept(c, e, "Generation", "/Generation", 0);
		return 0;
	case 4:
		LEAF(LK_EXTID, false, "R-DEL-4", NULL);
		li707__dec_leaf_go(c);
		return 0;
	case 5:
		leaf_unkept(c, e, "LastChanged", "/LastChanged", 0);
		return 0;
	case 6: /* TS103707 R-DEL-4 (Table 2) */
		ERR(c, e->line, "/NationalHandlingParameters", "R-DEL-4",
		    "NationalHandlingParameters shall not be used in a TS 103 707 delivery");
		return 1;
	case 7:
		leaf_fixed(c, e, "R-DEL-6", d->delivery_id, sizeof d->delivery_id,
			   "DeliveryID", true);
		return 0;
	case 8:
		leaf_uint(c, e, "R-DEL-6", &d->sequence, &d->has_sequence);
		return 0;
	default:
		leaf_bool(c, e, "R-DEL-6", &d->last_sequence);
		return 0;
	}
}

/* AssociatedObjects (ts_103120_Core.xsd) */
static int start_AssociatedObjects(struct dc *c, struct frame *f, const struct child *ch,
				   const struct el *e)
{
	leaf_unkept(c, e, "AssociatedObject", "/AssociatedObject", ++f->n1);
	return 0;
}

/* Reference (ts_103120_Delivery.xsd) */
static int start_Reference(struct dc *c, struct frame *f, const struct child *ch,
			   const struct el *e)
{
	/* LIID is an xs:normalizedString, LDID an xs:string: both kept exactly. */
	struct li707_delivery *d = f->obj;
	d->ref_kind = ch->id == 0 ? LI707_REF_LDID : LI707_REF_LIID;
	leaf_str(c, e, "R-DEL-5", &d->reference, false);
	return 0;
}

/* Manifest (ts_103120_Delivery.xsd) */
static int start_Manifest(struct dc *c, struct frame *f, const struct child *ch,
			  const struct el *e)
{
	struct li707_delivery *d = f->obj;
	if (ch->act == F_SPEC) {
		d->manifest = LI707_MANIFEST_SPECIFICATION;
		li707__dec_frame_push(c, F_SPEC, "/delivery:Specification", 0, e->line, d, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	/* Not a TS 103 707 manifest; its content (a foreign schema) is not read. */
	d->manifest = LI707_MANIFEST_EXTERNAL;
	return 1;
}

/* DictionaryEntry (ts_103120_Common.xsd) */
static int start_DictionaryEntry(struct dc *c, struct frame *f, const struct child *ch,
				 const struct el *e)
{
	struct li707_delivery *d = f->obj;
	char **dst[] = {&d->manifest_owner, &d->manifest_name, &d->manifest_value};
	leaf_str(c, e, "R-DEL-5", dst[ch->id], false);
	return 0;
}

/* Delivery (ts_103120_Delivery.xsd) */
static int start_Delivery(struct dc *c, struct frame *f, const struct child *ch,
			  const struct el *e)
{
	struct li707_delivery *d = f->obj;
	if (ch->act == F_XMLDATA) {
		li707__dec_frame_push(c, F_XMLDATA, "/delivery:XMLData", 0, e->line, d, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	/* Not a TS 103 707 delivery (the checker says so); content not read. */
	d->payload = LI707_PAYLOAD_BINARY;
	return 1;
}

/* HandoverItemCollection (ts_103707.xsd) */
static int start_HandoverItemCollection(struct dc *c, struct frame *f, const struct child *ch,
					const struct el *e)
{
	struct li707_delivery *d = f->obj;
	struct li707_item *it = list_push(c, f, e, c->lim.max_items, "R-DEL-2",
					  "handoverItemCollection", false);
	if (!it)
		return 1;
	li707__dec_frame_push(c, F_ITEM, "/handoverItem", d->n_items, e->line, it, e->nb_attrs,
		   e->attrs);
	return 0;
}

/* HandoverItem (ts_103707.xsd) */
static int start_HandoverItem(struct dc *c, struct frame *f, const struct child *ch,
			      const struct el *e)
{
	struct li707_item *it = f->obj;
	if (ch->act == F_IHEADER) {
		li707__dec_frame_push(c, F_IHEADER, "/header", 0, e->line, it, e->nb_attrs, e->attrs);
		return 0;
	}
	int t = li707__dec_xsi_type_is(c, e->nb_attrs, e->attrs, U_707, "MessagingPayload");
	size_t pm = c->plen;
	li707__dec_path_adds(c, "/payload");
	/* TS103707 R-CORE-1: messaging is the only service with core parameters. */
	if (t < 0)
		WARN(c, e->line, NULL, "R-CORE-1",
		     "payload has no xsi:type; read as MessagingPayload (TS 103 707 V1.1.1 "
		     "peers may omit it)");
	if (t == 0) {
		ERR(c, e->line, NULL, "R-CORE-1",
		    "payload xsi:type is not the TS 103 707 MessagingPayload");
		li707__dec_path_pop(c, pm);
		return 1;
	}
	li707__dec_path_pop(c, pm);
	li707__dec_frame_push(c, F_MPAYLOAD, "/payload", 0, e->line, it, e->nb_attrs, e->attrs);
	return 0;
}

/* ApplicationLevelHeader (ts_103707.xsd) */
static int start_ApplicationLevelHeader(struct dc *c, struct frame *f, const struct child *ch,
					const struct el *e)
{
	/* TS103707 R-HDR-1, R-HDR-2 */
	li707__dec_frame_push(c, F_CORR, "/applicationCorrelation", 0, e->line, f->obj, e->nb_attrs,
		   e->attrs);
	return 0;
}

/* ApplicationCorrelation (ts_103707.xsd) */
static int start_ApplicationCorrelation(struct dc *c, struct frame *f, const struct child *ch,
					const struct el *e)
{
	struct li707_item *it = f->obj;
	if (ch->id == 0)
		leaf_uint(c, e, "R-HDR-1", &it->app_level_id, &f->ok1);
	else
		leaf_uint(c, e, "R-HDR-2", &it->app_seq, &f->ok2);
	return 0;
}

/* MessagingPayload (ts_103707.xsd) */
static int start_MessagingPayload(struct dc *c, struct frame *f, const struct child *ch,
				  const struct el *e)
{
	struct frame *nf;
	struct li707_item *it = f->obj;
	if (ch->act == F_CORE) {
		li707__dec_frame_push(c, F_CORE, "/coreParameters", 0, e->line, it, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	if (ch->act == F_CSPP) {
		nf = li707__dec_frame_push(c, F_CSPP, "/cspDefinedParameters", 0, e->line, it,
				e->nb_attrs, e->attrs);
		if (nf)
			li707__dec_garr_init(&nf->arr, &it->csp, &it->n_csp, sizeof *it->csp, false, 0);
		return 0;
	}
	/* glossary: TS103707 R-CSP-1: no parameters defined; carried byte for byte */
	size_t pm = c->plen;
	li707__dec_path_adds(c, "/glossary");
	li707__dec_check_attrs(c, e->nb_attrs, e->attrs, "R-CSP-1", e->line);
	li707__dec_raw_begin(c, 0, &it->glossary, e->line, e->local, e->prefix, e->uri, e->nb_ns,
		  e->ns, e->nb_attrs, e->attrs);
	c->raw.pmark = pm;
	return 0;
}

/* MessagingCoreParameters (ts_103707.xsd) */
static int start_MessagingCoreParameters(struct dc *c, struct frame *f, const struct child *ch,
					 const struct el *e)
{
	struct frame *nf;
	struct li707_item *it = f->obj;
	switch (ch->act) {
	case F_PARTY:
		it->sender = calloc(1, sizeof *it->sender);
		if (!it->sender) {
			c->nomem = true;
			li707__dec_fatal(c, LI707_ENOMEM);
			return 1;
		}
		it->sender->targeted = LI707_ABSENT;
		li707__dec_mark(c, it->sender, e->line);
		li707__dec_frame_push(c, F_PARTY, "/messageSender", 0, e->line, it->sender,
			   e->nb_attrs, e->attrs);
		return 0;
	case F_RECV:
		nf = li707__dec_frame_push(c, F_RECV, "/messageReceivers", 0, e->line, it, e->nb_attrs,
				e->attrs);
		if (nf)
			li707__dec_garr_init(&nf->arr, &it->receivers, &it->n_receivers,
				  sizeof *it->receivers, false, 0);
		return 0;
	case F_ABD:
		nf = li707__dec_frame_push(c, F_ABD, "/associatedBinaryData", 0, e->line, it,
				e->nb_attrs, e->attrs);
		if (nf)
			li707__dec_garr_init(&nf->arr, &it->attachments, &it->n_attachments,
				  sizeof *it->attachments, false, 0);
		return 0;
	default:
		leaf_str(c, e, "R-CORE-2", &it->timestamp, true);
		return 0;
	}
}

/* MessagingParty (ts_103707.xsd) */
static int start_MessagingParty(struct dc *c, struct frame *f, const struct child *ch,
				const struct el *e)
{
	struct frame *nf;
	struct li707_party *p = f->obj;
	if (ch->act == F_IDS) {
		nf = li707__dec_frame_push(c, F_IDS, "/identifiers", 0, e->line, p, e->nb_attrs,
				e->attrs);
		if (nf)
			li707__dec_garr_init(&nf->arr, &p->ids, &p->n_ids, sizeof *p->ids, false, 0);
		return 0;
	}
	leaf_bool(c, e, "R-CORE-4", &p->targeted);
	return 0;
}

/* ListOfPartyIdentifiers (ts_103707.xsd) */
static int start_ListOfPartyIdentifiers(struct dc *c, struct frame *f, const struct child *ch,
					const struct el *e)
{
	struct li707_party_id *id = list_push(c, f, e, c->lim.max_identifiers, "R-CORE-3",
					      "identifiers", false);
	if (!id)
		return 1;
	if (ch->act == L_LEAF) {
		LEAF(LK_STR, false, "R-CORE-3", &id->value);
		li707__dec_leaf_seg(c, "/identifier", ++f->n1);
		li707__dec_leaf_go(c);
		return 0;
	}
	id->qualified = true;
	li707__dec_frame_push(c, F_QID, "/qualifiedPartyIdentifier", ++f->n2, e->line, id, e->nb_attrs,
		   e->attrs);
	return 0;
}

/* QualifiedPartyIdentifier (ts_103707.xsd) */
static int start_QualifiedPartyIdentifier(struct dc *c, struct frame *f, const struct child *ch,
					  const struct el *e)
{
	struct li707_party_id *id = f->obj;
	if (ch->act == F_FMT) {
		li707__dec_frame_push(c, F_FMT, "/formatType", 0, e->line, id, e->nb_attrs, e->attrs);
		return 0;
	}
	leaf_str(c, e, "R-CORE-3", &id->value, false);
	return 0;
}

/* FormatType (ts_103707.xsd) */
static int start_FormatType(struct dc *c, struct frame *f, const struct child *ch,
			    const struct el *e)
{
	struct li707_party_id *id = f->obj;
	leaf_str(c, e, "R-CORE-3", ch->id ? &id->format_name : &id->format_owner, false);
	return 0;
}

/* ListOfMessagingParties (ts_103707.xsd) */
static int start_ListOfMessagingParties(struct dc *c, struct frame *f, const struct child *ch,
					const struct el *e)
{
	struct li707_party *p = list_push(c, f, e, c->lim.max_identifiers, "R-CORE-1",
					  "messageReceivers", false);
	if (!p)
		return 1;
	p->targeted = LI707_ABSENT;
	li707__dec_frame_push(c, F_PARTY, "/recipient", *f->arr.n, e->line, p, e->nb_attrs, e->attrs);
	return 0;
}

/* AssociatedBinaryData (ts_103707.xsd) */
static int start_AssociatedBinaryData(struct dc *c, struct frame *f, const struct child *ch,
				      const struct el *e)
{
	struct li707_binary_object *b = list_push(c, f, e, c->lim.max_attachments,
						  "R-CORE-5", "associatedBinaryData", false);
	if (!b)
		return 1;
	li707__dec_frame_push(c, F_BO, "/binaryObject", *f->arr.n, e->line, b, e->nb_attrs, e->attrs);
	return 0;
}

/* BinaryObject (ts_103707.xsd) */
static int start_BinaryObject(struct dc *c, struct frame *f, const struct child *ch,
			      const struct el *e)
{
	struct li707_binary_object *b = f->obj;
	switch (ch->id) {
	case 0:
		leaf_str(c, e, "R-CORE-5", &b->url, true);
		return 0;
	case 1:
		leaf_uint(c, e, "R-CORE-5", &b->content_length, &b->has_content_length);
		return 0;
	case 2:
		leaf_str(c, e, "R-CORE-5", &b->content_type, false);
		return 0;
	case 3:
		leaf_str(c, e, "R-CORE-5", &b->expiry, true);
		return 0;
	case 4:
		leaf_str(c, e, "R-CORE-5", &b->checksum, false);
		return 0;
	case 5:
		leaf_str(c, e, "R-CORE-5", &b->original_filename, false);
		return 0;
	default:
		leaf_str(c, e, "R-CORE-5", &b->csp_defined_identifier, false);
		return 0;
	}
}

/* CSPDefinedParameters (ts_103707.xsd) */
static int start_CSPDefinedParameters(struct dc *c, struct frame *f, const struct child *ch,
				      const struct el *e)
{
	struct li707_csp_data *cd = list_push(c, f, e, c->lim.max_attachments, "R-CSP-2",
					      "cspDefinedParameters", false);
	if (!cd)
		return 1;
	li707__dec_frame_push(c, F_CSPM, "/cspDefinedMetadata", *f->arr.n, e->line, cd, e->nb_attrs,
		   e->attrs);
	return 0;
}

/* CSPDefinedMetadata (ts_103707.xsd) */
static int start_CSPDefinedMetadata(struct dc *c, struct frame *f, const struct child *ch,
				    const struct el *e)
{
	struct li707_csp_data *cd = f->obj;
	if (ch->act == F_SDET) {
		li707__dec_frame_push(c, F_SDET, "/schemaDetails", 0, e->line, cd, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	size_t pm = c->plen;
	li707__dec_path_adds(c, "/xmlData");
	li707__dec_check_attrs(c, e->nb_attrs, e->attrs, "R-CSP-2", e->line);
	li707__dec_raw_begin(c, 1, &cd->xml, e->line, e->local, e->prefix, e->uri, e->nb_ns, e->ns,
		  e->nb_attrs, e->attrs);
	c->raw.pmark = pm;
	return 0;
}

/* SchemaDetails (ts_103707.xsd) */
static int start_SchemaDetails(struct dc *c, struct frame *f, const struct child *ch,
			       const struct el *e)
{
	struct li707_csp_data *cd = f->obj;
	if (ch->id == 0) {
		leaf_str(c, e, "R-CSP-2", &cd->schema_id, false);
		return 0;
	}
	if (ch->id == 1) {
		leaf_str(c, e, "R-CSP-2", &cd->schema_url, true);
		return 0;
	}
	size_t pm = c->plen;
	li707__dec_path_adds(c, "/schemaContent");
	li707__dec_check_attrs(c, e->nb_attrs, e->attrs, "R-CSP-2", e->line);
	li707__dec_raw_begin(c, 2, &cd->schema_content, e->line, e->local, e->prefix, e->uri,
		  e->nb_ns, e->ns, e->nb_attrs, e->attrs);
	c->raw.pmark = pm;
	return 0;
}

/* ResponsePayload (ts_103120_Core.xsd) */
static int start_ResponsePayload(struct dc *c, struct frame *f, const struct child *ch,
				 const struct el *e)
{
	struct li707_message *m = c->m;
	struct frame *nf;
	if (ch->act == F_ARESPS) {
		nf = li707__dec_frame_push(c, F_ARESPS, "/ActionResponses", 0, e->line, NULL,
				e->nb_attrs, e->attrs);
		if (nf)
			li707__dec_garr_init(&nf->arr, &m->responses, &m->n_responses,
				  sizeof *m->responses, false, 0);
		return 0;
	}
	m->top_error = true;
	nf = li707__dec_frame_push(c, F_ERRINFO, "/ErrorInformation", 0, e->line, NULL, e->nb_attrs,
			e->attrs);
	if (nf) {
		nf->obj = &m->error_code;
		nf->arr.v = (void **)&m->error_description; /* the description's field */
	}
	return 0;
}

/* ActionResponses (ts_103120_Core.xsd) */
static int start_ActionResponses(struct dc *c, struct frame *f, const struct child *ch,
				 const struct el *e)
{
	struct li707_message *m = c->m;
	struct li707_action_response *r = list_push(c, f, e, c->lim.max_actions, "R-DEL-1",
						    "ActionResponses", true);
	if (!r)
		return 1;
	size_t i = m->n_responses - 1;
	c->action = i;
	r->verb = LI707_VERB_OTHER;
	li707__dec_frame_push(c, F_ARESP, "/ActionResponse", i + 1, e->line, r, e->nb_attrs,
		   e->attrs);
	return 0;
}

/* ActionResponse (ts_103120_Core.xsd) */
static int start_ActionResponse(struct dc *c, struct frame *f, const struct child *ch,
				const struct el *e)
{
	struct frame *nf;
	struct li707_action_response *r = f->obj;
	if (ch->act == L_LEAF) {
		leaf_uint(c, e, "R-TRN-3", &r->action_id, NULL);
		return 0;
	}
	if (ch->act == F_DRESP) {
		r->verb = LI707_VERB_DELIVER;
		li707__dec_frame_push(c, F_DRESP, "/DELIVERResponse", 0, e->line, r, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	if (ch->act == F_ERRINFO) {
		/* Which verb failed is not said; verb stays OTHER. */
		r->is_error = true;
		nf = li707__dec_frame_push(c, F_ERRINFO, "/ErrorInformation", 0, e->line, NULL,
				e->nb_attrs, e->attrs);
		if (nf) {
			nf->obj = &r->error_code;
			nf->arr.v = (void **)&r->error_description;
		}
		return 0;
	}
	/* GETResponse and the other verbs: verb OTHER, content not read. */
	return 1;
}

/* DELIVERResponse (ts_103120_Core.xsd) */
static int start_DELIVERResponse(struct dc *c, struct frame *f, const struct child *ch,
				 const struct el *e)
{
	struct li707_action_response *r = f->obj;
	leaf_fixed(c, e, "R-TRN-3", r->identifier, sizeof r->identifier, "Identifier",
		   true);
	return 0;
}

/* ActionUnsuccesfulInformation (ts_103120_Core.xsd) */
static int start_ActionUnsuccesfulInformation(struct dc *c, struct frame *f, const struct child *ch,
					      const struct el *e)
{
	if (ch->id == 0) {
		LEAF(LK_ERRCODE, true, "R-TRN-3", f->obj);
		li707__dec_leaf_go(c);
	} else {
		leaf_str(c, e, "R-TRN-3", (char **)f->arr.v, false);
	}
	return 0;
}

typedef int (*child_start_fn)(struct dc *c, struct frame *f, const struct child *ch,
			       const struct el *e);

/* The handler of each complex type's children; none: the children are skipped (XMLData has
 * li707__dec_xmldata_child). */
static const child_start_fn child_starts[LI707__DEC_N_TYPES] = {
	[F_MSG] = start_HI1Message,
	[F_HEADER] = start_MessageHeader,
	[F_ENDPOINT] = start_EndpointID,
	[F_VERSION] = start_Version,
	[F_PAYLOAD] = start_MessagePayload,
	[F_REQ] = start_RequestPayload,
	[F_ACTIONS] = start_ActionRequests,
	[F_ACTION] = start_ActionRequest,
	[F_DELIVER] = start_DELIVERRequest,
	[F_OBJECT] = start_DeliveryObject,
	[F_ASSOC] = start_AssociatedObjects,
	[F_REF] = start_Reference,
	[F_MANIFEST] = start_Manifest,
	[F_SPEC] = start_DictionaryEntry,
	[F_DELIVERY] = start_Delivery,
	[F_COLL] = start_HandoverItemCollection,
	[F_ITEM] = start_HandoverItem,
	[F_IHEADER] = start_ApplicationLevelHeader,
	[F_CORR] = start_ApplicationCorrelation,
	[F_MPAYLOAD] = start_MessagingPayload,
	[F_CORE] = start_MessagingCoreParameters,
	[F_PARTY] = start_MessagingParty,
	[F_IDS] = start_ListOfPartyIdentifiers,
	[F_QID] = start_QualifiedPartyIdentifier,
	[F_FMT] = start_FormatType,
	[F_RECV] = start_ListOfMessagingParties,
	[F_ABD] = start_AssociatedBinaryData,
	[F_BO] = start_BinaryObject,
	[F_CSPP] = start_CSPDefinedParameters,
	[F_CSPM] = start_CSPDefinedMetadata,
	[F_SDET] = start_SchemaDetails,
	[F_RESP] = start_ResponsePayload,
	[F_ARESPS] = start_ActionResponses,
	[F_ARESP] = start_ActionResponse,
	[F_DRESP] = start_DELIVERResponse,
	[F_ERRINFO] = start_ActionUnsuccesfulInformation,
};

/* 0: the child is handled (frame, leaf, raw); 1: skip its subtree. */
int li707__dec_child_start(struct dc *c, struct frame *f, const struct child *ch,
			   const struct el *e)
{
	if ((size_t)f->type >= LI707__DEC_N_TYPES || !child_starts[f->type])
		return 1;
	return child_starts[f->type](c, f, ch, e);
}

/* handoverItem or handoverItemCollection in XMLData (clause 5.2.1; R-DEL-2). 0: handled,
 * 1: skip. */
int li707__dec_xmldata_child(struct dc *c, struct frame *f, const struct el *e)
{
	struct li707_delivery *d = f->obj;
	if (f->n_elems == 2) {
		c->ins = f; /* reported before the root was read */
		ERR(c, e->line, NULL, "R-DEL-2",
		    "XMLData holds more than one element (several items go in one "
		    "handoverItemCollection)");
		c->ins = NULL;
		return 1;
	}
	if (f->n_elems > 2)
		return 1;
	if (!li707__dec_uri_is(c, e->uri, U_707)) {
		char buf[512];
		snprintf(buf, sizeof buf, "{%.300s}%.150s", e->uri ? (const char *)e->uri : "",
			 (const char *)e->local);
		d->payload = LI707_PAYLOAD_FOREIGN_XML;
		d->foreign_root = li707__strdup(buf);
		if (!d->foreign_root) {
			c->nomem = true;
			li707__dec_fatal(c, LI707_ENOMEM);
		}
		return 1;
	}
	if (strcmp((const char *)e->local, "handoverItem") == 0) {
		d->payload = LI707_PAYLOAD_ITEM;
		d->items = calloc(1, sizeof *d->items);
		if (!d->items) {
			c->nomem = true;
			li707__dec_fatal(c, LI707_ENOMEM);
			return 1;
		}
		d->n_items = 1;
		li707__dec_mark(c, d->items, e->line);
		li707__dec_frame_push(c, F_ITEM, "/handoverItem", 0, e->line, d->items, e->nb_attrs,
			   e->attrs);
		return 0;
	}
	if (strcmp((const char *)e->local, "handoverItemCollection") == 0) {
		d->payload = LI707_PAYLOAD_COLLECTION;
		struct frame *nf = li707__dec_frame_push(c, F_COLL, "/handoverItemCollection", 0, e->line, d,
					      e->nb_attrs, e->attrs);
		if (nf)
			li707__dec_garr_init(&nf->arr, &d->items, &d->n_items, sizeof *d->items, false, 0);
		return 0;
	}
	char name[112];
	li707__dec_disp(c, e->local, e->prefix, e->uri, name, sizeof name);
	ERR(c, e->line, NULL, "R-DEL-2",
	    "XMLData root %s is not a TS 103 707 handoverItem or handoverItemCollection", name);
	return 1;
}

/* ---- ending a frame: what the model cannot show by itself ---- */

/* HI1Message's own findings (attributes, text, unknown elements) go before those of Header
 * and Payload. */
static void msg_first(struct dc *c)
{
	size_t n = c->n_msg_diags, k = 0;
	for (size_t i = 1; i < n; i++) /* (insertions may have recorded them out of order) */
		for (size_t j = i; j > 0 && c->msg_diags[j - 1] > c->msg_diags[j]; j--) {
			size_t t = c->msg_diags[j];
			c->msg_diags[j] = c->msg_diags[j - 1];
			c->msg_diags[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		size_t at = c->msg_diags[i];
		if (at < k || at >= c->own.n)
			continue;
		struct li707_diag g = c->own.v[at];
		memmove(&c->own.v[k + 1], &c->own.v[k], (at - k) * sizeof g);
		c->own.v[k++] = g;
	}
	c->n_msg_diags = 0;
}

static void missing(struct dc *c, const struct frame *f, const char *leaf, const char *req,
		    const char *what)
{
	ERR(c, f->line, leaf, req, "%s is missing", what);
}

void li707__dec_frame_end(struct dc *c, struct frame *f)
{
	struct li707_message *m = c->m;
	if (f->type != F_MSG && f->type != F_PAYLOAD && f->type != F_XMLDATA && !f->broken)
		li707__dec_pass_entries(c, f, li707__dec_types[f->type].n);
	switch (f->type) {
	case F_MSG:
		if (!c->have_header || !c->have_payload) {
			if (!c->have_header)
				missing(c, f, "/Header", "R-DEL-3", "Header");
			if (!c->have_payload)
				missing(c, f, "/Payload", "R-DEL-1", "Payload");
			/* Header or Payload missing: only HI1Message's own findings are kept. */
			li707__dec_own_filter(c, li707__dec_keep_msg_level);
			li707__dec_fatal(c, LI707_EINVALID);
			break;
		}
		if (c->fatal)
			break;
		msg_first(c);
		if (f->l1)
			NOTE(c, f->l1, "/Signature", NULL, "Signature is accepted but not verified");
		if (f->l2)
			NOTE(c, f->l2, "/digsig:Signature", NULL,
			     "digsig:Signature is accepted but not verified");
		break;
	case F_PAYLOAD:
		if (!c->have_payload_kind) {
			ERR(c, f->line, NULL, "R-DEL-1",
			    "Payload holds neither RequestPayload nor ResponsePayload");
			if (!c->fatal) /* not dead: HI1Message's later children are still checked */
				c->fatal = LI707_EINVALID;
		}
		break;
	case F_ACTIONS:
	case F_COLL:
	case F_IDS:
	case F_ARESPS:
		li707__dec_garr_flush(c, &f->arr);
		break;
	case F_ACTION:
		c->action = LI707__NO_ACTION;
		break;
	case F_XMLDATA:
		if (!f->n_elems)
			ERR(c, f->line, NULL, "R-DEL-5",
			    "XMLData holds no element (it shall carry a handoverItem or "
			    "handoverItemCollection)");
		break;
	case F_CORR: {
		struct li707_item *it = f->obj;
		it->has_correlation = f->ok1 && f->ok2;
		break;
	}
	case F_RECV:
		li707__dec_garr_flush(c, &f->arr);
		if (!f->n_elems)
			ERR(c, f->line, NULL, "R-CORE-1", "messageReceivers holds no recipient");
		break;
	case F_ABD:
		li707__dec_garr_flush(c, &f->arr);
		if (!f->n_elems)
			ERR(c, f->line, NULL, "R-CORE-5", "associatedBinaryData holds no binaryObject");
		break;
	case F_CSPP:
		li707__dec_garr_flush(c, &f->arr);
		if (!f->n_elems)
			ERR(c, f->line, NULL, "R-CSP-2",
			    "cspDefinedParameters holds no cspDefinedMetadata");
		break;
	case F_ARESP:
		c->action = LI707__NO_ACTION;
		break;
	default:
		break;
	}
	(void)m;
}

