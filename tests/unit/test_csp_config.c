/* Unit tests of li707-csp's configuration (src/csp/csp_config.c): the commented example
 * parses, mandatory keys and rules give an error naming file and line without quoting values,
 * plain-HTTP ingest only on loopback or a Unix socket, the default model rule (R-BIN-1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "csp.h"

static struct csp_config *parse_ok(const char *text)
{
	struct csp_config *c = NULL;
	char err[512] = "";
	int rc = csp_config_parse("t.conf", text, strlen(text), false, &c, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	return c;
}

static void parse_err(const char *text, const char *want)
{
	struct csp_config *c = NULL;
	char err[512] = "";
	int rc = csp_config_parse("t.conf", text, strlen(text), false, &c, err, sizeof err);
	if (rc == 0 || !strstr(err, want))
		print_error("want error containing \"%s\", got rc %d \"%s\"\n", want, rc, err);
	assert_int_equal(rc, LI707_EINPUT);
	assert_non_null(strstr(err, want));
	assert_null(c);
}

#define CSP "[csp]\ncountry_code = XX\nunique_identifier = csp1\nattachment_dirs = /tmp\n"
#define LEA "[lea bka]\nurl = https://lea.example/hi1\nreceiver_country = DE\nreceiver_id = bka\n"

static void test_example_parses(void **state)
{
	(void)state;
	size_t len = 0;
	char *text = tu_read_file(tu_src("docs/examples/li707-csp.conf"), &len);
	struct csp_config *c = NULL;
	char err[512] = "";
	int rc = csp_config_parse("li707-csp.conf", text, len, false, &c, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->country_code, "XX");
	assert_int_equal(c->n_ingest_listen, 2);
	assert_int_equal(c->n_leas, 1);
	const struct csp_lea *l = csp_config_lea(c, "bka");
	assert_non_null(l);
	assert_int_equal(l->models, CSP_MODEL_A | CSP_MODEL_B | CSP_MODEL_C);
	assert_string_equal(l->modelb_url, "https://lea.example/binaryData/{id}/");
	assert_int_equal(l->batch_wait_ms, 0);
	assert_string_equal(c->tls_peers.v[0].subject, "CN=lea.example,O=LEA");
	csp_config_free(c);
	free(text);
}

static void test_R_BIN_1_default_model(void **state)
{
	(void)state;
	struct csp_config *c = parse_ok(CSP "files_url = https://csp.example/o/\n" LEA
					"models = A, B, C\nmodelb_url = https://lea.example/b/{id}\n"
					"subject = CN=x\nmodel_a_max = 1K\nmodel_c_above = 1M\n");
	const struct csp_lea *l = &c->leas[0];
	assert_string_equal(c->spool, "/var/lib/li707-csp");
	assert_int_equal(c->max_event_bytes, 1 << 20);
	assert_int_equal(l->batch_items, 1000);
	assert_string_equal(l->etsi_version, "V1.9.1");
	assert_int_equal(csp_lea_default_model(l, 1024), 'A');
	assert_int_equal(csp_lea_default_model(l, 1025), 'B');
	assert_int_equal(csp_lea_default_model(l, (1 << 20) + 1), 'C');
	struct csp_lea only_b = *l;
	only_b.models = CSP_MODEL_B;
	assert_int_equal(csp_lea_default_model(&only_b, 1), 'B');
	only_b.models = 0;
	assert_int_equal(csp_lea_default_model(&only_b, 1), 0);
	assert_int_equal(l->push_rate, 0);
	assert_int_equal(l->push_nice, 0);
	csp_config_free(c);
}

/* push_rate and push_nice (a large Model B push beside small deliveries, issue 11) */
static void test_push_rate_nice(void **state)
{
	(void)state;
	struct csp_config *c = parse_ok(CSP LEA "models = B\nmodelb_url = https://l/b/{id}\n"
					"push_rate = 20M\npush_nice = 10\n");
	assert_int_equal(c->leas[0].push_rate, 20 << 20);
	assert_int_equal(c->leas[0].push_nice, 10);
	csp_config_free(c);
	parse_err(CSP LEA "models = B\nmodelb_url = https://l/b/{id}\npush_nice = 20\n",
		  "push_nice");
	parse_err(CSP LEA "models = B\nmodelb_url = https://l/b/{id}\npush_rate = fast\n",
		  "push_rate");
}

static void test_errors(void **state)
{
	(void)state;
	parse_err(LEA "models = B\nmodelb_url = https://l/b/\n", "no [csp] section");
	parse_err(CSP, "no [lea NAME] section");
	parse_err(CSP "[lea bka]\nreceiver_country = DE\nreceiver_id = x\nmodels = B\n",
		  "lea 'bka': url is mandatory");
	parse_err(CSP LEA "models = B\n", "modelb_url is mandatory (R-BIN-B1)");
	parse_err(CSP LEA "models = A\nsubject = CN=x\n", "files_url is mandatory");
	parse_err(CSP "files_url = https://csp.example/o/\n" LEA "models = A\n",
		  "the LEA's identity when it fetches");
	parse_err(CSP LEA "models = B, D\nmodelb_url = https://l/b/\n", "entry 2 is not A, B or C");
	parse_err(CSP "ingest_listen = 0.0.0.0:8080\n" LEA, "ingest_listen: expected");
	parse_err(CSP "ingest_listen = 10.0.0.1:8080\n" LEA, "ingest_listen: expected");
	parse_err(CSP "ingest_listen = unix:relative.sock\n" LEA, "ingest_listen: expected");
	parse_err(CSP "attachment_dirs = /a/../b\n" LEA, "attachment_dirs: entry 1");
	parse_err(CSP LEA "url = http://lea.example/hi1\n", "url");
	parse_err(CSP "[lea bka]\nreceiver_country = Germany\n", "receiver_country: expected");
	parse_err("[csp]\ncountry_code = XX\nattachment_dirs = /tmp\n" LEA
		  "models = B\nmodelb_url = https://l/b/\n", "unique_identifier is mandatory");
	parse_err(CSP LEA "models = B\nmodelb_url = https://l/b/\nretry_min = 10\nretry_max = 5\n",
		  "retry_min is above retry_max");
	parse_err(CSP LEA "models = B\nmodelb_url = https://l/b/\nclient_cert = /etc/hostname\n",
		  "client_cert and client_key go together");
	parse_err(CSP LEA "modelz = B\n", "unknown key 'modelz'");
	/* values are never quoted */
	struct csp_config *c = NULL;
	char err[512] = "";
	const char *t = CSP "[lea bka]\nurl = http://secret-value.example/\n";
	assert_int_equal(csp_config_parse("t.conf", t, strlen(t), false, &c, err, sizeof err),
			 LI707_EINPUT);
	assert_null(strstr(err, "secret-value"));
	/* a good one with loopback and unix ingest */
	c = parse_ok(CSP "ingest_listen = unix:/run/x.sock\ningest_listen = 127.0.0.1:0\n"
			 "ingest_listen = [::1]:8707\n" LEA "models = B\nmodelb_url = https://l/b/\n");
	assert_int_equal(c->n_ingest_listen, 3);
	csp_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_parses),
		cmocka_unit_test(test_R_BIN_1_default_model),
		cmocka_unit_test(test_push_rate_nice),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
