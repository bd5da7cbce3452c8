/* li707_response_match (src/lib/response.c): an action is done only when the response holds a
 * DELIVERResponse for it (TS103707 R-RSP-1); errors, missing and mismatched answers, answers to
 * nothing and top-level errors are each reported for what they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *const ids[] = {"6a3b9a4c-57b7-4a4e-8b9b-0f8d2c1e6a01",
				   "6a3b9a4c-57b7-4a4e-8b9b-0f8d2c1e6a02",
				   "6a3b9a4c-57b7-4a4e-8b9b-0f8d2c1e6a03"};

static struct li707_message *request(size_t n)
{
	struct li707_message *m = li707_message_new();
	assert_non_null(m);
	m->kind = LI707_MSG_REQUEST;
	m->actions = calloc(n, sizeof *m->actions);
	assert_non_null(m->actions);
	m->n_actions = n;
	for (size_t i = 0; i < n; i++) {
		m->actions[i].action_id = i;
		m->actions[i].verb = LI707_VERB_DELIVER;
		m->actions[i].delivery = calloc(1, sizeof *m->actions[i].delivery);
		assert_non_null(m->actions[i].delivery);
		snprintf(m->actions[i].delivery->object_id, sizeof m->actions[i].delivery->object_id,
			 "%s", ids[i]);
	}
	return m;
}

/* A response; each spec is "A" (DELIVERResponse echoing the action's id), "E" (error 3000),
 * "X" (DELIVERResponse with another Identifier), "G" (a GET's response); id = index. */
static struct li707_message *response(const char *const *spec, const uint64_t *action_ids,
				      size_t n)
{
	struct li707_message *m = li707_message_new();
	assert_non_null(m);
	m->kind = LI707_MSG_RESPONSE;
	m->responses = calloc(n ? n : 1, sizeof *m->responses);
	assert_non_null(m->responses);
	m->n_responses = n;
	for (size_t i = 0; i < n; i++) {
		struct li707_action_response *r = &m->responses[i];
		r->action_id = action_ids[i];
		r->verb = spec[i][0] == 'G' ? LI707_VERB_OTHER : LI707_VERB_DELIVER;
		if (spec[i][0] == 'E') {
			r->is_error = true;
			r->error_code = 3000;
			r->error_description = tu_xstrdup("Object invalid");
		}
		const char *id = spec[i][0] == 'X' ? ids[2] : ids[action_ids[i] % 3];
		if (spec[i][0] != 'E')
			snprintf(r->identifier, sizeof r->identifier, "%s", id);
	}
	return m;
}

static void rsp1_every_action_acked(void **state)
{
	(void)state;
	struct li707_message *req = request(2);
	const char *spec[] = {"A", "A"};
	const uint64_t aid[] = {1, 0}; /* order does not matter */
	struct li707_message *resp = response(spec, aid, 2);
	struct li707_action_outcome o[2];
	size_t extra = 9;
	assert_int_equal(li707_response_match(req, resp, o, &extra), 0);
	assert_int_equal(extra, 0);
	assert_int_equal(o[0].outcome, LI707_OUTCOME_ACKED);
	assert_int_equal(o[1].outcome, LI707_OUTCOME_ACKED);
	assert_int_equal(o[1].action_id, 1);
	/* the Identifier may be left out of the echo; an empty one is not a mismatch */
	resp->responses[0].identifier[0] = '\0';
	assert_int_equal(li707_response_match(req, resp, o, &extra), 0);
	li707_message_free(req);
	li707_message_free(resp);
}

static void rsp1_error_missing_mismatch(void **state)
{
	(void)state;
	struct li707_message *req = request(3);
	const char *spec[] = {"E", "X"};
	const uint64_t aid[] = {0, 1};
	struct li707_message *resp = response(spec, aid, 2);
	struct li707_action_outcome o[3];
	assert_int_equal(li707_response_match(req, resp, o, NULL), LI707_EINVALID);
	assert_int_equal(o[0].outcome, LI707_OUTCOME_ERROR);
	assert_int_equal(o[0].error_code, 3000);
	assert_string_equal(o[0].error_description, "Object invalid");
	assert_int_equal(o[1].outcome, LI707_OUTCOME_MISMATCH);
	assert_int_equal(o[2].outcome, LI707_OUTCOME_MISSING);
	assert_string_equal(li707_outcome_name(o[2].outcome), "missing");
	li707_message_free(resp);
	const char *spec2[] = {"G", "A", "A"};
	const uint64_t aid2[] = {0, 1, 2};
	resp = response(spec2, aid2, 3);
	assert_int_equal(li707_response_match(req, resp, o, NULL), LI707_EINVALID);
	assert_int_equal(o[0].outcome, LI707_OUTCOME_MISMATCH); /* another verb */
	assert_int_equal(o[1].outcome, LI707_OUTCOME_ACKED);
	assert_int_equal(o[2].outcome, LI707_OUTCOME_ACKED);
	li707_message_free(req);
	li707_message_free(resp);
}

static void rsp1_top_error_and_unmatched(void **state)
{
	(void)state;
	struct li707_message *req = request(2);
	struct li707_message *resp = response(NULL, NULL, 0);
	resp->top_error = true;
	resp->error_code = 3007;
	resp->error_description = tu_xstrdup("Request invalid");
	struct li707_action_outcome o[2];
	assert_int_equal(li707_response_match(req, resp, o, NULL), LI707_EINVALID);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(o[i].outcome, LI707_OUTCOME_ERROR);
		assert_int_equal(o[i].error_code, 3007);
	}
	li707_message_free(resp);
	const char *spec[] = {"A", "A", "A"};
	const uint64_t aid[] = {0, 1, 7};
	resp = response(spec, aid, 3);
	size_t extra = 0;
	assert_int_equal(li707_response_match(req, resp, o, &extra), LI707_EINVALID);
	assert_int_equal(extra, 1);
	assert_int_equal(o[0].outcome, LI707_OUTCOME_ACKED);
	assert_int_equal(o[1].outcome, LI707_OUTCOME_ACKED);
	li707_message_free(req);
	li707_message_free(resp);
}

static void rsp1_two_answers_to_one_action(void **state)
{
	(void)state;
	struct li707_message *req = request(1);
	struct li707_action_outcome o[1];
	const char *twice[] = {"A", "A"}, *ack_then_error[] = {"A", "E"};
	const uint64_t aid[] = {0, 0};
	struct li707_message *resp = response(twice, aid, 2);
	assert_int_equal(li707_response_match(req, resp, o, NULL), LI707_EINVALID);
	assert_int_equal(o[0].outcome, LI707_OUTCOME_MISMATCH);
	li707_message_free(resp);
	resp = response(ack_then_error, aid, 2);
	assert_int_equal(li707_response_match(req, resp, o, NULL), LI707_EINVALID);
	assert_int_equal(o[0].outcome, LI707_OUTCOME_ERROR); /* an error among them wins */
	li707_message_free(resp);
	li707_message_free(req);
}

static void rsp1_bad_arguments(void **state)
{
	(void)state;
	struct li707_message *req = request(1);
	struct li707_action_outcome o[1];
	assert_int_equal(li707_response_match(NULL, req, o, NULL), LI707_EINVAL);
	assert_int_equal(li707_response_match(req, req, o, NULL), LI707_EINVAL); /* not a response */
	struct li707_message *resp = response(NULL, NULL, 0);
	assert_int_equal(li707_response_match(req, resp, NULL, NULL), LI707_EINVAL);
	assert_int_equal(li707_response_match(req, resp, o, NULL), LI707_EINVALID); /* nothing answered */
	assert_int_equal(o[0].outcome, LI707_OUTCOME_MISSING);
	li707_message_free(resp);
	li707_message_free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rsp1_every_action_acked),
		cmocka_unit_test(rsp1_error_missing_mismatch),
		cmocka_unit_test(rsp1_top_error_and_unmatched),
		cmocka_unit_test(rsp1_two_answers_to_one_action),
		cmocka_unit_test(rsp1_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
