/* Unit tests of li707-csp's reference commands (src/csp/csp_refs.c) on a real store:
 * ref add/list/close, R-SEC-7 (the LEA's Annex D.4 triple verified at add, a mismatch refused
 * and nothing stored; close keeps only the hash), audit verify, R-RSP-2 (--until, the LEA
 * must be configured), and that nothing printed to the log side names the reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"

#include "csp_cli.h"
#include "li707/hash.h"

#define NOW 1800000000

struct fx {
	char dir[64];
	struct csp_config *cfg;
	struct csp_store *s;
	char *out, *err;
	size_t outn, errn;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/csp-refs-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	const char *t = "[csp]\ncountry_code = XX\nunique_identifier = c\nattachment_dirs = /tmp\n"
			"[lea bka]\nurl = https://l/hi1\nreceiver_country = DE\nreceiver_id = b\n"
			"models = B\nmodelb_url = https://l/b/\n";
	char err[256];
	assert_int_equal(csp_config_parse("t", t, strlen(t), false, &f->cfg, err, sizeof err), 0);
	struct csp_store_opts o = {.spool = f->dir};
	assert_int_equal(csp_store_open(&o, &f->s, err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	csp_store_close(f->s);
	csp_config_free(f->cfg);
	free(f->out);
	free(f->err);
	tu_rm_rf(f->dir);
	free(f);
	return 0;
}

/* Runs a store command given as NULL-terminated words; out/err captured. */
static int run(struct fx *f, const char *cmd, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, cmd);
	for (const char *a = cmd; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	free(f->out);
	free(f->err);
	f->out = f->err = NULL;
	struct csp_cmd_ctx x = {.cfg = f->cfg, .store = f->s, .now = NOW};
	x.out = open_memstream(&f->out, &f->outn);
	x.err = open_memstream(&f->err, &f->errn);
	int rc = csp_cli_store_command(&x, argc, argv);
	fclose(x.out);
	fclose(x.err);
	return rc;
}

static void triple(const char *field, char salt_hex[65], char hash_hex[65])
{
	uint8_t salt[32], h[LI707_HASH_LEN];
	for (int i = 0; i < 32; i++)
		salt[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(li707_hash_compute(salt, 32, (const uint8_t *)field, strlen(field), h), 0);
	li707_hex_encode(salt, 32, salt_hex);
	li707_hex_encode(h, 32, hash_hex);
}

static void test_R_SEC_7_triple_at_add(void **state)
{
	struct fx *f = *state;
	char salt[65], hash[65];
	triple("+491701234567", salt, hash);
	/* a mismatching triple: refused, nothing stored */
	assert_int_equal(run(f, "ref", "add", "LIID-1", "--lea", "bka", "--field", "+491701234568",
			     "--salt", salt, "--hash", hash, NULL), 1);
	assert_non_null(strstr(f->err, "R-SEC-7"));
	struct csp_ref r;
	assert_int_equal(csp_store_ref_find(f->s, "LIID-1", &r), LI707_ENOTFOUND);
	/* not all three */
	assert_int_equal(run(f, "ref", "add", "LIID-1", "--lea", "bka", "--field", "x", NULL), 2);
	/* the good one */
	assert_int_equal(run(f, "ref", "add", "LIID-1", "--lea", "bka", "--field", "+491701234567",
			     "--salt", salt, "--hash", hash, NULL), 0);
	assert_non_null(strstr(f->out, "reference added: key 1"));
	assert_null(strstr(f->out, "LIID-1")); /* the identifier is not echoed */
	assert_int_equal(csp_store_ref_find(f->s, "LIID-1", &r), 0);
	assert_string_equal(r.field, "+491701234567");
	assert_string_equal(r.hash, hash);
	assert_int_equal(r.kind, LI707_REF_LIID);
	csp_ref_clear(&r);
	/* audit verify on the open reference, then close, then by key */
	assert_int_equal(run(f, "audit", "verify", "LIID-1", "--field", "+491701234567", "--salt",
			     salt, NULL), 0);
	assert_int_equal(run(f, "ref", "close", "LIID-1", NULL), 0);
	assert_non_null(strstr(f->out, "hash kept"));
	assert_int_equal(csp_store_ref_get(f->s, 1, &r), 0);
	assert_null(r.field);
	assert_null(r.salt);
	assert_null(r.ref);
	assert_string_equal(r.hash, hash);
	csp_ref_clear(&r);
	assert_int_equal(run(f, "audit", "verify", "LIID-1", "--field", "+491701234567", "--salt",
			     salt, NULL), 1); /* closed: only by key */
	assert_int_equal(run(f, "audit", "verify", "--key", "1", "--field", "+491701234567",
			     "--salt", salt, NULL), 0);
	assert_non_null(strstr(f->out, "match"));
	assert_int_equal(run(f, "audit", "verify", "--key", "1", "--field", "+4917000", "--salt",
			     salt, NULL), 1);
	assert_non_null(strstr(f->err, "does not match"));
	assert_null(strstr(f->err, "+4917000"));
	assert_int_equal(run(f, "ref", "close", "LIID-1", NULL), 1);
}

static void test_R_RSP_2_add_rules(void **state)
{
	struct fx *f = *state;
	assert_int_equal(run(f, "ref", "add", "LIID-2", "--lea", "nope", NULL), 1);
	assert_int_equal(run(f, "ref", "add", "LIID-2", NULL), 2);
	assert_int_equal(run(f, "ref", "add", "LIID 2", "--lea", "bka", NULL), 1);
	assert_int_equal(run(f, "ref", "add", "LIID-2", "--lea", "bka", "--until", "tomorrow", NULL), 2);
	assert_int_equal(run(f, "ref", "add", "LIID-2", "--lea", "bka", "--until",
			     "2027-01-01T00:00:00Z", "--review", NULL), 0);
	assert_int_equal(run(f, "ref", "add", "LIID-2", "--lea", "bka", NULL), 1); /* open already */
	assert_int_equal(run(f, "ref", "add", "DE-abc-1", "--lea", "bka", NULL), 0);
	assert_int_equal(run(f, "ref", "add", "DE-abc-2", "--lea", "bka", "--li", NULL), 0);
	assert_int_equal(run(f, "ref", "list", "--json", NULL), 0);
	json_t *a = json_loads(f->out, 0, NULL);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "kind")), "LI");
	assert_true(json_is_true(json_object_get(json_array_get(a, 0), "review")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "until")),
			 1798761600);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "kind")), "LD");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "kind")), "LI");
	json_decref(a);
	assert_int_equal(run(f, "ref", "list", NULL), 0);
	assert_non_null(strstr(f->out, "DE-abc-1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_R_SEC_7_triple_at_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_R_RSP_2_add_rules, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
