/* Unit tests of src/lib/schema.c: loading the plain and the full (official) schema sets,
 * validation results and diagnostics (lines, paths, no field values), the no-network
 * guarantees of loading, the official TS 103 707 file taking precedence, and one set shared
 * by two threads. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int setup(void **state)
{
	li707_global_init();
	return 0;
}

static char *data(const char *name, size_t *len)
{
	char rel[256];
	snprintf(rel, sizeof rel, "tests/data/decode/%s", name);
	return tu_read_file(tu_src(rel), len);
}

static struct li707_schema_set *load(const char *official)
{
	struct li707_schema_set *s = NULL;
	struct li707_diags d = {0};
	int rc = li707_schema_set_load(tu_src("schemas"), official, &s, &d);
	if (rc)
		tu_print_diags(&d);
	assert_int_equal(rc, 0);
	assert_non_null(s);
	li707_diags_clear(&d);
	return s;
}

static char *replace1(const char *buf, const char *from, const char *to)
{
	const char *p = strstr(buf, from);
	assert_non_null(p);
	size_t fl = strlen(from), tl = strlen(to), n = strlen(buf);
	char *out = malloc(n - fl + tl + 1);
	assert_non_null(out);
	memcpy(out, buf, (size_t)(p - buf));
	memcpy(out + (p - buf), to, tl);
	strcpy(out + (p - buf) + tl, p + fl);
	return out;
}

static const char *const valid_files[] = {
	"item-minimal.xml", "item-full.xml",	    "collection.xml",	       "v111-item.xml",
	"get-and-deliver.xml", "response-mixed.xml", "response-top-error.xml",
};

static void validate_all(const struct li707_schema_set *s, const char *what)
{
	int bad = 0;
	for (size_t i = 0; i < sizeof valid_files / sizeof valid_files[0]; i++) {
		size_t len;
		char *buf = data(valid_files[i], &len);
		struct li707_diags d = {0};
		int rc = li707_schema_validate(s, buf, len, NULL, &d);
		if (rc) {
			print_error("%s set, %s: expected valid, got %s\n", what, valid_files[i],
				    li707_errname(rc));
			tu_print_diags(&d);
			bad++;
		}
		li707_diags_clear(&d);
		free(buf);
	}
	assert_int_equal(bad, 0);
}

/* ---- loading ---- */

static void test_schema_plain_set(void **state)
{
	struct li707_schema_set *s = load(NULL);
	assert_false(li707_schema_set_is_full(s));
	const char *p = li707_schema_set_707_path(s);
	assert_non_null(p);
	assert_non_null(strstr(p, "/schemas/ts_103707.xsd"));
	validate_all(s, "plain");
	li707_schema_set_free(s);
	li707_schema_set_free(NULL);
}

/* project_dir NULL: the LI707_SCHEMA_DIR environment variable (set by CTest) is used. */
static void test_schema_default_dir(void **state)
{
	setenv("LI707_SCHEMA_DIR", tu_src("schemas"), 1);
	struct li707_schema_set *s = NULL;
	assert_int_equal(li707_schema_set_load(NULL, NULL, &s, NULL), 0);
	li707_schema_set_free(s);
}

static void test_schema_full_set(void **state)
{
	TU_SKIP_IF_NO_SHARED();
	struct li707_schema_set *s = load(LI707_SHARED_SCHEMAS);
	assert_true(li707_schema_set_is_full(s));
	assert_non_null(strstr(li707_schema_set_707_path(s), "/schemas/ts_103707.xsd"));
	validate_all(s, "full");

	size_t len;
	char *buf = tu_read_file(tu_shared("103120/examples/request5-Binary-Delivery.xml"), &len);
	assert_int_equal(li707_schema_validate(s, buf, len, NULL, NULL), 0);
	free(buf);
	li707_schema_set_free(s);
}

static void test_schema_load_errors(void **state)
{
	struct li707_schema_set *s = (void *)1;
	struct li707_diags d = {0};
	assert_int_equal(li707_schema_set_load("/nonexistent/li707", NULL, &s, &d),
			 LI707_ESCHEMASET);
	assert_true(tu_has_error(&d, NULL));
	li707_diags_clear(&d);
	/* an official dir without the TS 103 120 files */
	assert_int_equal(li707_schema_set_load(tu_src("schemas"), tu_src("schemas"), &s, &d),
			 LI707_ESCHEMASET);
	assert_true(tu_has_error(&d, NULL));
	li707_diags_clear(&d);
	assert_int_equal(li707_schema_set_load(NULL, NULL, NULL, NULL), LI707_EINVAL);
}

/* ---- loading never touches the network and never expands entities ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A copy of schemas/ in a temporary directory, with ts_103707.xsd changed by from -> to. */
static void make_project(char *dir, const char *from, const char *to)
{
	strcpy(dir, "/tmp/li707-schema-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char p[512];
	size_t len;
	char *s280 = tu_read_file(tu_src("schemas/ts_103280_standin.xsd"), &len);
	snprintf(p, sizeof p, "%s/ts_103280_standin.xsd", dir);
	write_file(p, s280);
	free(s280);
	char *s707 = tu_read_file(tu_src("schemas/ts_103707.xsd"), &len);
	char *m = replace1(s707, from, to);
	snprintf(p, sizeof p, "%s/ts_103707.xsd", dir);
	write_file(p, m);
	free(m);
	free(s707);
}

static void remove_project(const char *dir)
{
	char p[512];
	static const char *const files[] = {"ts_103280_standin.xsd", "ts_103707.xsd", "extra.xsd"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void test_schema_load_refuses_unsafe_files(void **state)
{
	static const struct {
		const char *name, *from, *to;
		int rc;
	} t[] = {
		{"DOCTYPE in a schema", "<xs:schema ",
		 "<!DOCTYPE xs:schema [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><xs:schema ",
		 LI707_ESCHEMASET},
		{"include from the network", "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>",
		 "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>"
		 "<xs:include schemaLocation=\"http://127.0.0.1:9/x.xsd\"/>",
		 LI707_ESCHEMASET},
		{"include of a missing file", "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>",
		 "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>"
		 "<xs:include schemaLocation=\"missing.xsd\"/>",
		 LI707_ESCHEMASET},
		{"import of an unloaded namespace from the network",
		 "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>",
		 "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>"
		 "<xs:import namespace=\"urn:other\" schemaLocation=\"https://127.0.0.1:9/o.xsd\"/>",
		 LI707_ESCHEMASET},
		/* libxml2 skips an import of a namespace it has loaded already: allowed */
		{"import of a loaded namespace with a URL",
		 "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>",
		 "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\" "
		 "schemaLocation=\"http://127.0.0.1:9/x.xsd\"/>",
		 0},
		{"not a schema at all", "<xs:schema ", "<xs:schema><broken ", LI707_ESCHEMASET},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char dir[64];
		make_project(dir, t[i].from, t[i].to);
		struct li707_schema_set *s = NULL;
		struct li707_diags d = {0};
		int rc = li707_schema_set_load(dir, NULL, &s, &d);
		if (rc != t[i].rc) {
			print_error("%s: expected %s, got %s\n", t[i].name, li707_errname(t[i].rc),
				    li707_errname(rc));
			tu_print_diags(&d);
			bad++;
		}
		li707_schema_set_free(s);
		li707_diags_clear(&d);
		remove_project(dir);
	}
	assert_int_equal(bad, 0);
}

/* A local relative include is followed (and checked) like the files themselves. */
static void test_schema_local_include(void **state)
{
	char dir[64];
	make_project(dir, "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>",
		     "<xs:import namespace=\"http://uri.etsi.org/03280/common/2017/07\"/>"
		     "<xs:include schemaLocation=\"extra.xsd\"/>");
	char p[512];
	snprintf(p, sizeof p, "%s/extra.xsd", dir);
	write_file(p, "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' "
		      "targetNamespace='http://uri.etsi.org/03707/2020/02'>"
		      "<xs:element name='extraElement' type='xs:string'/></xs:schema>");
	struct li707_schema_set *s = NULL;
	struct li707_diags d = {0};
	int rc = li707_schema_set_load(dir, NULL, &s, &d);
	if (rc)
		tu_print_diags(&d);
	assert_int_equal(rc, 0);
	static const char doc[] = "<extraElement xmlns='http://uri.etsi.org/03707/2020/02'>x"
				  "</extraElement>";
	assert_int_equal(li707_schema_validate(s, doc, sizeof doc - 1, NULL, NULL), 0);
	li707_schema_set_free(s);
	li707_diags_clear(&d);
	remove_project(dir);
}

/* A file in official_dir whose targetNamespace is TS 103 707's replaces ours. */
static void test_schema_official_707_preferred(void **state)
{
	TU_SKIP_IF_NO_SHARED();
	char dir[] = "/tmp/li707-official-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char p[512], q[512];
	static const char *const links[] = {"103120", "103280", "w3c"};
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, links[i]);
		snprintf(q, sizeof q, "%s/%s", LI707_SHARED_SCHEMAS, links[i]);
		assert_int_equal(symlink(q, p), 0);
	}
	snprintf(p, sizeof p, "%s/103707", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	size_t len;
	char *s707 = tu_read_file(tu_src("schemas/ts_103707.xsd"), &len);
	snprintf(p, sizeof p, "%s/103707/ts_103707_official.xsd", dir);
	write_file(p, s707);
	free(s707);

	struct li707_schema_set *s = load(dir);
	assert_true(li707_schema_set_is_full(s));
	assert_non_null(strstr(li707_schema_set_707_path(s), "/103707/ts_103707_official.xsd"));
	validate_all(s, "official-707");
	li707_schema_set_free(s);

	unlink(p);
	snprintf(p, sizeof p, "%s/103707", dir);
	rmdir(p);
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, links[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* ---- validation results ---- */

struct invalid_case {
	const char *name, *from, *to;
	const char *line_at; /* the first error is on the line of this text */
	const char *path;    /* ... and its path ends with this */
	const char *secret;  /* a value that must not appear in any message */
};

static void check_invalid(const struct li707_schema_set *s, const char *what)
{
	static const struct invalid_case t[] = {
		{"bad timestamp", "<timestamp>2024-05-01T09:59:58Z</timestamp>",
		 "<timestamp>2024-13-01T09:59:58Z</timestamp>", "<timestamp>",
		 "/coreParameters/timestamp", "2024-13-01"},
		{"unknown element", "</coreParameters>", "<extra/></coreParameters>", "<extra/>",
		 "/coreParameters/extra", NULL},
		{"missing payload",
		 "<payload xsi:type=\"MessagingPayload\">\n                      <coreParameters>\n"
		 "                        <timestamp>2024-05-01T09:59:58Z</timestamp>\n"
		 "                      </coreParameters>\n                    </payload>",
		 "", "<handoverItem", "/delivery:XMLData/handoverItem", NULL},
		{"pattern", "<timestamp>2024-05-01T09:59:58Z</timestamp>",
		 "<timestamp>2024-05-01T09:59:58Z</timestamp><associatedBinaryData><binaryObject>"
		 "<url>https://a.example/1</url><checksum>secret-not-hex</checksum></binaryObject>"
		 "</associatedBinaryData>",
		 "<timestamp>", "/binaryObject[1]/checksum", "secret-not-hex"},
	};
	int bad = 0;
	size_t len;
	char *base = data("item-minimal.xml", &len);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *buf = replace1(base, t[i].from, t[i].to);
		struct li707_diags d = {0};
		int rc = li707_schema_validate(s, buf, strlen(buf), NULL, &d);
		const struct li707_diag *e = d.n ? &d.v[0] : NULL;
		size_t pl = strlen(t[i].path);
		bool ok = rc == LI707_ESCHEMA && e && e->code == LI707_ESCHEMA &&
			  e->line == tu_line_of(buf, t[i].line_at) && e->path &&
			  strlen(e->path) >= pl && !strcmp(e->path + strlen(e->path) - pl, t[i].path);
		for (size_t k = 0; k < d.n && t[i].secret; k++)
			if (strstr(d.v[k].message, t[i].secret)) {
				print_error("message quotes a value: %s\n", d.v[k].message);
				ok = false;
			}
		if (!ok) {
			print_error("%s set, %s: expected ESCHEMA on line %ld at ...%s, got %s\n",
				    what, t[i].name, tu_line_of(buf, t[i].line_at), t[i].path,
				    li707_errname(rc));
			tu_print_diags(&d);
			bad++;
		}
		li707_diags_clear(&d);
		free(buf);
	}
	free(base);
	assert_int_equal(bad, 0);
}

static void test_schema_invalid_plain(void **state)
{
	struct li707_schema_set *s = load(NULL);
	check_invalid(s, "plain");
	li707_schema_set_free(s);
}

static void test_schema_invalid_full(void **state)
{
	TU_SKIP_IF_NO_SHARED();
	struct li707_schema_set *s = load(LI707_SHARED_SCHEMAS);
	check_invalid(s, "full");
	/* the envelope too: a header element out of order */
	size_t len;
	char *base = data("item-minimal.xml", &len);
	char *buf = replace1(base, "<Header>", "<Header><Foo/>");
	struct li707_diags d = {0};
	assert_int_equal(li707_schema_validate(s, buf, strlen(buf), NULL, &d), LI707_ESCHEMA);
	assert_int_equal(d.v[0].line, tu_line_of(buf, "<Header>"));
	li707_diags_clear(&d);
	free(buf);
	free(base);
	li707_schema_set_free(s);
}

/* The official XML delivery example carries a Foo payload whose schema is not loaded: the
 * strict XMLData wildcard (full set) and the payload check (plain set) both reject it. */
static void test_schema_official_xml_delivery_fails(void **state)
{
	TU_SKIP_IF_NO_SHARED();
	size_t len;
	char *buf = tu_read_file(tu_shared("103120/examples/request5-XML-Delivery.xml"), &len);
	const char *dirs[] = {NULL, LI707_SHARED_SCHEMAS};
	for (size_t i = 0; i < 2; i++) {
		struct li707_schema_set *s = load(dirs[i]);
		struct li707_diags d = {0};
		assert_int_equal(li707_schema_validate(s, buf, len, NULL, &d), LI707_ESCHEMA);
		assert_true(d.n > 0);
		assert_true(d.v[0].line > 0);
		li707_diags_clear(&d);
		li707_schema_set_free(s);
	}
	free(buf);
}

static void test_schema_hostile_input(void **state)
{
	struct li707_schema_set *s = load(NULL);
	static const char doctype[] = "<!DOCTYPE a [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><a>&x;</a>";
	struct li707_diags d = {0};
	assert_int_equal(li707_schema_validate(s, doctype, sizeof doctype - 1, NULL, &d),
			 LI707_EXML);
	li707_diags_clear(&d);
	static const char small[] = "<a/>";
	struct li707_limits lim = {.max_document_bytes = 2};
	assert_int_equal(li707_schema_validate(s, small, sizeof small - 1, &lim, NULL),
			 LI707_ELIMIT);
	/* a document that is not an HI1Message is validated as a whole */
	static const char item[] = "<handoverItem xmlns='http://uri.etsi.org/03707/2020/02'/>";
	assert_int_equal(li707_schema_validate(s, item, sizeof item - 1, NULL, NULL),
			 LI707_ESCHEMA);
	assert_int_equal(li707_schema_validate(NULL, item, 1, NULL, NULL), LI707_EINVAL);
	li707_schema_set_free(s);
}

/* ---- threads ---- */

struct worker {
	const struct li707_schema_set *s;
	const char *good, *bad;
	size_t good_len, bad_len;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 300; i++) {
		struct li707_diags d = {0};
		if (li707_schema_validate(w->s, w->good, w->good_len, NULL, &d) != 0)
			w->failures++;
		if (li707_schema_validate(w->s, w->bad, w->bad_len, NULL, &d) != LI707_ESCHEMA)
			w->failures++;
		li707_diags_clear(&d);
	}
	return NULL;
}

static void run_threads(const struct li707_schema_set *s)
{
	size_t len;
	char *good = data("item-full.xml", &len);
	char *bad = replace1(good, "<h:timestamp>2024-05-01T09:59:58+02:00</h:timestamp>",
			     "<h:timestamp>late</h:timestamp>");
	struct worker w[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){s, good, bad, len, strlen(bad), 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (w[i].failures)
			print_error("thread %d: %d unexpected results\n", i, w[i].failures);
		assert_int_equal(w[i].failures, 0);
	}
	free(bad);
	free(good);
}

static void test_schema_two_threads(void **state)
{
	struct li707_schema_set *s = load(NULL);
	run_threads(s);
	li707_schema_set_free(s);
	if (tu_have_shared()) {
		s = load(LI707_SHARED_SCHEMAS);
		run_threads(s);
		li707_schema_set_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_plain_set),
		cmocka_unit_test(test_schema_default_dir),
		cmocka_unit_test(test_schema_full_set),
		cmocka_unit_test(test_schema_load_errors),
		cmocka_unit_test(test_schema_load_refuses_unsafe_files),
		cmocka_unit_test(test_schema_local_include),
		cmocka_unit_test(test_schema_official_707_preferred),
		cmocka_unit_test(test_schema_invalid_plain),
		cmocka_unit_test(test_schema_invalid_full),
		cmocka_unit_test(test_schema_official_xml_delivery_fails),
		cmocka_unit_test(test_schema_hostile_input),
		cmocka_unit_test(test_schema_two_threads),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
