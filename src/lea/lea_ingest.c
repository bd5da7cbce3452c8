/* li707-lea - the HI-1 delivery endpoint (TS 103 707 clause 6, TS 103 120 clause 9):
 * lea_ingest(), the pipeline from POST body to HI-1 response, and its HTTP glue.
 *
 * DESIGN
 * - Transport-level failures only are HTTP statuses (R-TRN-3): wrong method 405, wrong
 *   Content-Type 415, body over the peer's cap 413, store failure or the daemon's
 *   body_memory budget used up 503 + Retry-After. Everything about the content is a 200
 *   carrying the HI-1 response: a top-level ErrorInformation when the document cannot be
 *   decoded as a request, else one ActionResponse per action.
 * - Per-action independence (R-RSP-1): an action refused for its content, its reference or a
 *   store failure gets ErrorInformation; the other actions of the message are stored and
 *   acknowledged as usual.
 * - Durability: the response is built only after lea_store_put() returned (committed and
 *   synced); when the store fails for the whole message nothing is acknowledged (503).
 * - The ErrorDescriptions come from diagnostics, which never hold field values; a refused
 *   reference is never quoted (R-SEC-6). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lea.h"
#include "li707/util.h"

#define NO_ACTION ((size_t)-1)
#define RESP_DIAGS_CAP 4096   /* decoder diagnostics plus ours (one per action at most) */
#define TOP_DESC_MAX 1000     /* ErrorDescription of a top-level error */
#define PREALLOC_MAX (4u << 20) /* body buffer allocated from Content-Length at most */

bool lea_xml_content_type(const char *ct)
{
	static const char *const ok[] = {"application/xml", "text/xml"};
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		size_t n = strlen(ok[i]);
		if (strncasecmp(ct, ok[i], n) != 0)
			continue;
		const char *p = ct + n;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == ';')
			return true;
	}
	return false;
}

void lea_ingest_result_clear(struct lea_ingest_result *res)
{
	if (!res)
		return;
	free(res->body);
	memset(res, 0, sizeof *res);
}

/* ---- the pipeline ---- */

static const struct li707_diag *first_error(const struct li707_diags *d, size_t action)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].severity == LI707_SEV_ERROR && d->v[i].action == action)
			return &d->v[i];
	return NULL;
}

/* True when the request as a whole is refused (li707_response_for then answers with a
 * top-level ErrorInformation): a message-level error, or a failed decode that no action
 * accounts for (its diagnostic dropped over the cap). */
static bool message_error(const struct li707_message *m, const struct li707_diags *d, int rc)
{
	if (first_error(d, NO_ACTION) || m->n_actions == 0)
		return true;
	if (rc == 0)
		return false;
	for (size_t i = 0; i < m->n_actions; i++)
		if (m->actions[i].status != 0)
			return false;
	return true;
}

static char *action_path(size_t i, const char *tail)
{
	char *p = NULL;
	if (asprintf(&p, "/HI1Message/Payload/RequestPayload/ActionRequests/ActionRequest[%zu]%s",
		     i + 1, tail) < 0)
		return NULL;
	return p;
}

/* Sets action i's status to code with a diagnostic (copied from g, or made of msg). */
static int fail_action(struct li707_message *m, struct li707_diags *rd, size_t i, int code,
		       const struct li707_diag *g, const char *req, const char *tail, const char *msg)
{
	m->actions[i].status = code;
	if (g)
		return li707_diags_add(rd, RESP_DIAGS_CAP, LI707_SEV_ERROR, code, g->line, g->path,
				       g->req, i, "%s", g->message ? g->message : msg);
	char *path = action_path(i, tail);
	if (!path)
		return LI707_ENOMEM;
	int rc = li707_diags_add(rd, RESP_DIAGS_CAP, LI707_SEV_ERROR, code, 0, path, req, i, "%s", msg);
	free(path);
	return rc;
}

/* XSD validation (xsd_check): schema errors fail their action, or every DELIVER when the
 * error concerns no single action. A document the validator cannot read at all is a
 * message-level error. */
static int apply_schema(const struct lea_ingest_opts *o, const char *buf, size_t len,
			const struct li707_limits *lim, struct li707_message *m, struct li707_diags *rd)
{
	struct li707_diags sd = {0};
	int vrc = li707_schema_validate(o->schemas, buf, len, lim, &sd);
	int rc = 0;
	if (vrc != 0 && vrc != LI707_ESCHEMA) {
		rc = li707_diags_add(rd, RESP_DIAGS_CAP, LI707_SEV_ERROR, vrc, 0, "/HI1Message", NULL,
				     NO_ACTION, "the document could not be validated against the schemas");
		goto out;
	}
	for (size_t k = 0; k < sd.n && rc == 0; k++) {
		const struct li707_diag *g = &sd.v[k];
		if (g->severity != LI707_SEV_ERROR)
			continue;
		for (size_t i = 0; i < m->n_actions && rc == 0; i++) {
			bool hit = g->action == NO_ACTION ? m->actions[i].verb == LI707_VERB_DELIVER
							  : g->action == i;
			if (hit && m->actions[i].status == 0)
				rc = fail_action(m, rd, i, LI707_ESCHEMA, g, NULL, "", "schema validation failed");
		}
	}
	/* Errors beyond the validator's diagnostics cap: the document is invalid although no
	 * kept diagnostic says where. Every DELIVER still unfailed fails with a generic text. */
	if (rc == 0 && vrc == LI707_ESCHEMA && sd.n == 0)
		for (size_t i = 0; i < m->n_actions && rc == 0; i++)
			if (m->actions[i].status == 0 && m->actions[i].verb == LI707_VERB_DELIVER)
				rc = fail_action(m, rd, i, LI707_ESCHEMA, NULL, NULL, "",
						 "schema validation failed");
out:
	li707_diags_clear(&sd);
	return rc;
}

/* TS103707 R-RSP-1: a CSP delivers only for the references agreed with it; a DELIVER for
 * another reference fails alone. The diagnostic never quotes the reference (R-SEC-6). */
static int apply_references(const struct lea_peer *peer, struct li707_message *m,
			    struct li707_diags *rd, struct lea_ingest_result *res)
{
	for (size_t i = 0; i < m->n_actions; i++) {
		struct li707_action *a = &m->actions[i];
		if (a->status != 0 || a->verb != LI707_VERB_DELIVER || !a->delivery ||
		    !a->delivery->reference || lea_peer_allows(peer, a->delivery->reference))
			continue;
		int rc = fail_action(m, rd, i, LI707_EDENIED, NULL, "R-RSP-1",
				     "/DELIVER/HI1Object/Reference",
				     "this sender is not authorised to deliver for this reference");
		if (rc != 0)
			return rc;
		res->denied++;
	}
	return 0;
}

/* TS103707 R-BIN-1: the delivery models are agreed per CSP. A binaryObject whose url is not
 * the LEA's Model B form is hosted by the CSP (Model A or C: the LEA has to fetch it); from
 * a peer whose `models` has neither A nor C its DELIVER fails alone, before anything is
 * stored. The diagnostic never quotes the url. (Without B, a Model B record is accepted: its
 * upload is what lea_modelb.c refuses.) */
static int apply_models(const struct lea_ingest_opts *o, struct li707_message *m,
			struct li707_diags *rd, struct lea_ingest_result *res)
{
	if (o->peer->models & (LEA_MODEL_A | LEA_MODEL_C))
		return 0;
	const char *bp = o->binary_path ? o->binary_path : "/binaryData/";
	for (size_t i = 0; i < m->n_actions; i++) {
		struct li707_action *a = &m->actions[i];
		if (a->status != 0 || a->verb != LI707_VERB_DELIVER || !a->delivery)
			continue;
		const struct li707_delivery *d = a->delivery;
		size_t hosted = 0;
		for (size_t k = 0; k < d->n_items && !hosted; k++)
			for (size_t j = 0; j < d->items[k].n_attachments; j++) {
				const struct li707_binary_object *b = &d->items[k].attachments[j];
				char uuid[37];
				if (b->url && !li707_binary_url_uuid(b->url, bp, uuid)) {
					hosted = k + 1;
					break;
				}
			}
		if (!hosted)
			continue;
		char msg[200];
		snprintf(msg, sizeof msg, "handoverItem %zu announces a binaryObject hosted by the "
			 "CSP (Model A or C), and no such model is agreed with this sender", hosted);
		int rc = fail_action(m, rd, i, LI707_EDENIED, NULL, "R-BIN-1",
				     "/DELIVER/HI1Object/delivery:Delivery", msg);
		if (rc != 0)
			return rc;
		res->denied++;
	}
	return 0;
}

/* lea_store_put for the DELIVERs still standing; per-action failures become ErrorInformation.
 * When nothing could be committed, sets res->http_status = 503 (and res->error) and returns 0. */
static int store_actions(const struct lea_ingest_opts *o, const char *buf, size_t len,
			 struct li707_message *m, struct li707_diags *rd, struct lea_ingest_result *res)
{
	size_t todo = 0;
	for (size_t i = 0; i < m->n_actions; i++)
		todo += m->actions[i].status == 0 && m->actions[i].verb == LI707_VERB_DELIVER;
	if (todo == 0)
		return 0;
	enum lea_put_outcome *oc = calloc(m->n_actions, sizeof *oc);
	if (!oc)
		return LI707_ENOMEM;
	struct lea_put p = {.peer = o->peer->name, .raw = buf, .raw_len = len, .msg = m, .outcome = oc};
	int rc = lea_store_put(o->store, &p);
	if (rc != 0) {
		/* Nothing committed: 503, the CSP sends the message again. */
		free(oc);
		res->http_status = 503;
		res->error = rc;
		return 0;
	}
	for (size_t i = 0; i < m->n_actions && rc == 0; i++) {
		if (m->actions[i].status != 0 || m->actions[i].verb != LI707_VERB_DELIVER)
			continue;
		if (oc[i] == LEA_PUT_STORED) {
			res->stored++;
			res->items_stored += m->actions[i].delivery ? m->actions[i].delivery->n_items : 0;
		} else if (oc[i] == LEA_PUT_DUPLICATE) {
			res->duplicates++; /* R-DEL-6: acknowledged again, not stored twice */
		} else {
			/* FAILED (or SKIPPED, which a standing DELIVER must never get): nothing is
			 * acknowledged that is not on disk. */
			res->failed++;
			rc = fail_action(m, rd, i, -EIO, NULL, NULL, "/DELIVER",
					 "the delivery could not be stored; send it again");
		}
	}
	free(oc);
	return rc;
}

/* A top-level ErrorInformation for a document that is not a decodable request. */
static int top_error(const struct li707_message *m, int code, const struct li707_diags *d,
		     struct li707_message **resp)
{
	const char *generic = NULL;
	li707_hi1_error_code(code, &generic);
	char desc[TOP_DESC_MAX + 1];
	const struct li707_diag *g = NULL;
	for (size_t i = 0; i < d->n && !g; i++)
		if (d->v[i].severity == LI707_SEV_ERROR)
			g = &d->v[i];
	if (m && m->kind != LI707_MSG_REQUEST)
		snprintf(desc, sizeof desc, "R-TRN-1: not an HI-1 request");
	else if (g && g->message && g->line > 0)
		snprintf(desc, sizeof desc, "line %ld: %s", g->line, g->message);
	else if (g && g->message)
		snprintf(desc, sizeof desc, "%s", g->message);
	else
		snprintf(desc, sizeof desc, "%s", generic ? generic : li707_strerror(code));
	return li707_response_top_error(m ? &m->header : NULL, code, desc, resp);
}

static void count_refused(const struct li707_message *m, struct lea_ingest_result *res)
{
	for (size_t i = 0; i < m->n_actions; i++) {
		const struct li707_action *a = &m->actions[i];
		if (a->verb != LI707_VERB_DELIVER || (a->status != 0 && a->status != LI707_EDENIED &&
						      a->status != -EIO))
			res->invalid++;
	}
}

/* The response model for a decoded request (or NULL with *resp left for a top error). */
static int answer_request(const struct lea_ingest_opts *o, const char *buf, size_t len,
			  const struct li707_limits *lim, int drc, struct li707_message *m,
			  struct li707_diags *rd, struct lea_ingest_result *res,
			  struct li707_message **resp)
{
	res->actions = m->n_actions;
	int rc = 0;
	if (message_error(m, rd, drc)) {
		res->top_error = true;
		res->error = drc ? drc : LI707_EINVALID;
		return li707_response_for(m, rd, resp);
	}
	if (o->schemas && (rc = apply_schema(o, buf, len, lim, m, rd)) != 0)
		return rc;
	if (first_error(rd, NO_ACTION)) { /* the validator could not read the document */
		res->top_error = true;
		res->error = LI707_EXML;
		return li707_response_for(m, rd, resp);
	}
	if ((rc = apply_references(o->peer, m, rd, res)) != 0 ||
	    (rc = apply_models(o, m, rd, res)) != 0)
		return rc;
	if ((rc = store_actions(o, buf, len, m, rd, res)) != 0 || res->http_status == 503)
		return rc;
	count_refused(m, res);
	return li707_response_for(m, rd, resp);
}

int lea_ingest(const struct lea_ingest_opts *o, const char *buf, size_t len,
	       struct lea_ingest_result *res)
{
	if (!o || !o->store || !o->peer || !res || (!buf && len))
		return LI707_EINVAL;
	memset(res, 0, sizeof *res);
	struct li707_limits lim = {0};
	uint64_t cap = o->peer->max_message_bytes;
	lim.max_document_bytes = cap == 0 || cap > SIZE_MAX ? 0 : (size_t)cap;
	struct li707_message *m = NULL, *resp = NULL;
	struct li707_diags rd = {0};
	int drc = li707_message_decode(buf ? buf : "", len, &lim, &m, &rd);
	int rc;
	if (!m || m->kind != LI707_MSG_REQUEST) {
		res->top_error = true;
		res->error = m ? LI707_EINVALID : drc;
		rc = top_error(m, res->error, &rd, &resp);
	} else {
		rc = answer_request(o, buf, len, &lim, drc, m, &rd, res, &resp);
	}
	if (rc != 0)
		goto fail;
	if (res->http_status == 503)
		goto out;
	rc = li707_message_encode(resp, &res->body, &res->body_len, NULL);
	if (rc != 0) {
		/* The request's header could not be echoed: answer with default header values. */
		li707_message_free(resp);
		resp = NULL;
		if ((rc = li707_response_top_error(NULL, LI707_EINVALID, "request header unusable",
						   &resp)) != 0 ||
		    (rc = li707_message_encode(resp, &res->body, &res->body_len, NULL)) != 0)
			goto fail;
		res->top_error = true;
	}
	res->top_error = res->top_error || resp->top_error;
	res->http_status = 200;
out:
	li707_message_free(resp);
	li707_message_free(m);
	li707_diags_clear(&rd);
	return 0;
fail:
	li707_message_free(resp);
	li707_message_free(m);
	li707_diags_clear(&rd);
	lea_ingest_result_clear(res);
	return rc == LI707_EINVAL ? LI707_EINVAL : LI707_ENOMEM;
}

/* ---- HTTP glue (R-TRN-1) ---- */

/* The body budget (body_memory): HI-1 bodies are held in memory until decoded, so all of
 * them together stay within the configured size. Reserves n more bytes for r; false when
 * they do not fit. */
static bool mem_reserve(struct lea_req *r, uint64_t n)
{
	uint64_t max = r->gen->cfg->body_memory_bytes;
	uint64_t cur = atomic_load(&r->d->body_mem);
	do {
		if (n > max || cur > max - n)
			return false;
	} while (!atomic_compare_exchange_weak(&r->d->body_mem, &cur, cur + n));
	r->reserved += n;
	return true;
}

static int busy(struct lea_req *r, struct lx_http_request *req)
{
	lx_http_add_header(req, "Retry-After", LEA_RETRY_AFTER_S);
	return lea_req_status(r, req, 503);
}

static int hi1_body(void *cls, struct lx_http_request *req, const void *data, size_t n)
{
	struct lea_req *r = cls;
	if (n > r->alloc - r->len) {
		/* The server keeps the body within r->cap before calling us. */
		size_t want = r->alloc ? r->alloc * 2 : 64 * 1024;
		if (want < r->len + n)
			want = r->len + n;
		if (req->has_length && want > req->content_length && r->len + n <= req->content_length)
			want = (size_t)req->content_length;
		if (want > r->cap)
			want = r->len + n > r->cap ? r->len + n : (size_t)r->cap;
		if (want > r->reserved && !mem_reserve(r, want - r->reserved)) {
			/* A chunked body outgrew what is left of the budget: 503 now (the server
			 * answers it in the middle of the body and closes the connection). */
			lx_http_add_header(req, "Retry-After", LEA_RETRY_AFTER_S);
			return 503;
		}
		char *b = realloc(r->buf, want);
		if (!b)
			return -1;
		r->buf = b;
		r->alloc = want;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	r->bytes = r->len;
	return 0;
}

int lea_hi1_begin(struct lea_req *r, struct lx_http_request *req)
{
	if (strcmp(req->method, "POST") != 0) {
		lx_http_add_header(req, "Allow", "POST");
		return lea_req_status(r, req, 405);
	}
	if (!lea_xml_content_type(lx_http_header(req, "Content-Type")))
		return lea_req_status(r, req, 415);
	uint64_t cap = r->peer->max_message_bytes ? r->peer->max_message_bytes
						  : r->gen->cfg->max_message_bytes;
	if (cap == 0 || cap > SIZE_MAX / 2)
		cap = SIZE_MAX / 2;
	/* Decided before the body when the length is announced (no 100 Continue is sent). */
	if (req->has_length && req->content_length > cap)
		return lea_req_status(r, req, 413);
	r->cap = cap;
	/* The whole announced body is reserved before it is read: over the budget, 503 without
	 * a 100 Continue. */
	if (req->has_length && req->content_length > 0 && !mem_reserve(r, req->content_length))
		return busy(r, req);
	if (req->has_length && req->content_length > 0) {
		/* Announced lengths are believed up to PREALLOC_MAX; beyond, the buffer grows with
		 * the bytes that really arrive. */
		size_t want = req->content_length < PREALLOC_MAX ? (size_t)req->content_length : PREALLOC_MAX;
		r->buf = malloc(want);
		if (!r->buf)
			return busy(r, req);
		r->alloc = want;
	}
	return lx_http_body_to_cb(req, hi1_body, r, cap);
}

int lea_hi1_end(struct lea_req *r, struct lx_http_request *req)
{
	struct lea_daemon *d = r->d;
	struct lea_ingest_opts o = {
		.store = d->store,
		.schemas = r->gen->cfg->xsd_check ? d->schemas : NULL,
		.peer = r->peer,
		.binary_path = d->binary_path,
	};
	int rc = lea_ingest(&o, r->buf, r->len, &r->res);
	free(r->buf);
	r->buf = NULL;
	r->alloc = 0;
	if (rc != 0)
		return lea_req_status(r, req, 500);
	if (r->res.http_status == 200)
		return lea_req_buf(r, req, 200, "application/xml", r->res.body, r->res.body_len);
	if (r->res.http_status == 503)
		lx_http_add_header(req, "Retry-After", LEA_RETRY_AFTER_S);
	return lea_req_status(r, req, r->res.http_status);
}

void lea_hi1_done(struct lea_req *r)
{
	free(r->buf);
	r->buf = NULL;
	atomic_fetch_sub(&r->d->body_mem, r->reserved);
	r->reserved = 0;
	lea_ingest_result_clear(&r->res);
}
