/* li707 - matching an HI-1 response to the request it answers (TS103707 R-RSP-1,
 * TS 103 120 ActionResponse per ActionRequest). The sending side (li707 send, the CSP's
 * delivery agent) considers an action done only when this says ACKED. */
#include <string.h>

#include "internal.h"

const char *li707_outcome_name(enum li707_outcome o)
{
	switch (o) {
	case LI707_OUTCOME_ACKED: return "acked";
	case LI707_OUTCOME_ERROR: return "error";
	case LI707_OUTCOME_MISSING: return "missing";
	case LI707_OUTCOME_MISMATCH: return "mismatch";
	}
	return "unknown";
}

/* The outcome one ActionResponse gives the request action a. */
static enum li707_outcome judge(const struct li707_action *a,
				const struct li707_action_response *r)
{
	if (r->is_error)
		return LI707_OUTCOME_ERROR;
	if (r->verb != a->verb || a->verb != LI707_VERB_DELIVER)
		return LI707_OUTCOME_MISMATCH;
	const struct li707_delivery *d = a->delivery;
	const char *want = !d ? "" : d->identifier[0] ? d->identifier : d->object_id;
	/* an Identifier echoed by the receiver must be the one sent */
	if (want[0] && r->identifier[0] && strcmp(want, r->identifier) != 0)
		return LI707_OUTCOME_MISMATCH;
	return LI707_OUTCOME_ACKED;
}

int li707_response_match(const struct li707_message *req, const struct li707_message *resp,
			 struct li707_action_outcome *out, size_t *n_unmatched)
{
	if (!req || !resp || (req->n_actions && !out) || req->kind != LI707_MSG_REQUEST ||
	    resp->kind != LI707_MSG_RESPONSE)
		return LI707_EINVAL;
	bool all_acked = true;
	for (size_t i = 0; i < req->n_actions; i++) {
		const struct li707_action *a = &req->actions[i];
		struct li707_action_outcome *o = &out[i];
		memset(o, 0, sizeof *o);
		o->action_id = a->action_id;
		o->outcome = LI707_OUTCOME_MISSING;
		if (resp->top_error) {
			o->outcome = LI707_OUTCOME_ERROR;
			o->error_code = resp->error_code;
			o->error_description = resp->error_description;
		} else {
			size_t seen = 0;
			for (size_t k = 0; k < resp->n_responses; k++) {
				const struct li707_action_response *r = &resp->responses[k];
				if (r->action_id != a->action_id)
					continue;
				enum li707_outcome v = judge(a, r);
				if (seen++ == 0 || v == LI707_OUTCOME_ERROR) {
					o->outcome = v;
					if (v == LI707_OUTCOME_ERROR) {
						o->error_code = r->error_code;
						o->error_description = r->error_description;
					}
				}
			}
			/* two answers to one action: an error among them wins, else it is suspect */
			if (seen > 1 && o->outcome != LI707_OUTCOME_ERROR)
				o->outcome = LI707_OUTCOME_MISMATCH;
		}
		all_acked &= o->outcome == LI707_OUTCOME_ACKED;
	}
	size_t extra = 0;
	for (size_t k = 0; k < resp->n_responses; k++) {
		bool found = false;
		for (size_t i = 0; i < req->n_actions && !found; i++)
			found = req->actions[i].action_id == resp->responses[k].action_id;
		extra += !found;
	}
	if (n_unmatched)
		*n_unmatched = extra;
	return all_acked && extra == 0 && (req->n_actions > 0 || !resp->top_error) ? 0 : LI707_EINVALID;
}
