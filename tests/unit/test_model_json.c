/* Unit tests of the shared JSON builders (src/common/model_json.c): the value conventions
 * of model_json.h (absent -> null, uint64_t above 2^63 - 1 -> decimal string, tristate ->
 * true/false/null), the keys of an item, and that raw content is given as byte counts. The
 * whole `li707 show --json` document is pinned byte for byte by tests/integration/
 * test_tool.sh. */
#include <jansson.h>

#include "fixture_model.h"
#include "model_json.h"

static void test_json_value_conventions(void **state)
{
	(void)state;
	json_t *j = lx_json_str(NULL);
	assert_true(json_is_null(j));
	json_decref(j);
	j = lx_json_u64((uint64_t)INT64_MAX);
	assert_true(json_is_integer(j));
	assert_int_equal(json_integer_value(j), INT64_MAX);
	json_decref(j);
	j = lx_json_u64(UINT64_MAX);
	assert_true(json_is_string(j));
	assert_string_equal(json_string_value(j), "18446744073709551615");
	json_decref(j);
	j = lx_json_tristate(LI707_ABSENT);
	assert_true(json_is_null(j));
	json_decref(j);
	j = lx_json_tristate(LI707_FALSE);
	assert_true(json_is_false(j));
	json_decref(j);
	assert_string_equal(lx_ref_kind_name(LI707_REF_LDID), "LDID");
	assert_string_equal(lx_payload_name(LI707_PAYLOAD_COLLECTION), "handoverItemCollection");
	assert_string_equal(lx_verb_name(LI707_VERB_DELIVER), "DELIVER");
}

static void test_json_item_keys_in_order(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	struct li707_item *it = &m->actions[0].delivery->items[0];
	it->app_level_id = UINT64_MAX;
	json_t *o = lx_json_item(it);
	assert_non_null(o);
	static const char *const keys[] = {"timestamp", "correlation", "sender", "receivers",
					   "attachments", "glossary_bytes", "csp"};
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		assert_true(i < sizeof keys / sizeof keys[0]);
		assert_string_equal(k, keys[i++]);
	}
	assert_int_equal(i, sizeof keys / sizeof keys[0]);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "correlation"), "id")),
			    "18446744073709551615");
	assert_int_equal(json_integer_value(json_object_get(o, "glossary_bytes")),
			 (json_int_t)strlen(FX_GLOSSARY));
	json_t *c0 = json_array_get(json_object_get(o, "csp"), 0);
	assert_int_equal(json_integer_value(json_object_get(c0, "xml_bytes")),
			 (json_int_t)strlen(FX_CSP_XML));
	json_t *s = json_object_get(o, "sender");
	assert_true(json_is_true(json_object_get(s, "target")));
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(s, "ids"), 1),
						  "format_name")),
		"InternationalE164");
	json_decref(o);

	/* absent parts: null, empty arrays */
	struct li707_item bare = {.timestamp = NULL};
	o = lx_json_item(&bare);
	assert_true(json_is_null(json_object_get(o, "timestamp")));
	assert_true(json_is_null(json_object_get(o, "correlation")));
	assert_true(json_is_null(json_object_get(o, "sender")));
	assert_int_equal(json_array_size(json_object_get(o, "attachments")), 0);
	json_decref(o);
	li707_message_free(m);
}

static void test_json_message_has_delivery_and_items(void **state)
{
	(void)state;
	struct li707_message *m = fx_full();
	fx_make_collection(m, 3);
	json_t *o = lx_json_message(m);
	assert_non_null(o);
	json_t *d = json_object_get(json_array_get(json_object_get(o, "actions"), 0), "delivery");
	assert_string_equal(json_string_value(json_object_get(d, "payload")),
			    "handoverItemCollection");
	assert_int_equal(json_array_size(json_object_get(d, "items")), 3);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(d, "reference"), "value")),
		FX_LIID);
	json_decref(o);
	li707_message_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_value_conventions),
		cmocka_unit_test(test_json_item_keys_in_order),
		cmocka_unit_test(test_json_message_has_delivery_and_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
