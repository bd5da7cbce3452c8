/* Unit tests of the event format (src/common/events.c, docs/events.md).
 *
 * Table-driven: every valid shape with a check of the item it gives; every invalid shape with
 * the field its error must name. Identifier values in the tables contain "SECRET" so the tests
 * can assert that no error text ever quotes a value (R-SEC-6). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "testutil.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */
#define EXPIRY_DEFAULT_TEXT "2026-01-08T00:00:00Z"
/* SHA-256("hello\n") */
#define HELLO_SHA "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

static char base[64];

static int setup_dir(void **state)
{
	(void)state;
	li707_global_init();
	snprintf(base, sizeof base, "/tmp/li707-test-events-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	char p[128];
	snprintf(p, sizeof p, "%s/a.txt", base);
	FILE *f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("hello\n", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/sub", base);
	if (mkdir(p, 0700) != 0)
		return -1;
	snprintf(p, sizeof p, "%s/sub/b.bin", base);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fclose(f);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	char p[128];
	snprintf(p, sizeof p, "%s/sub/b.bin", base);
	unlink(p);
	snprintf(p, sizeof p, "%s/sub", base);
	rmdir(p);
	snprintf(p, sizeof p, "%s/a.txt", base);
	unlink(p);
	rmdir(base);
	li707_global_cleanup();
	return 0;
}

static struct lx_event_opts opts(void)
{
	struct lx_event_opts o = {.base_dir = base, .now = NOW};
	return o;
}

#define EV "\"liid\": \"LI-1\", \"timestamp\": \"2026-03-01T10:15:30Z\""
#define LD "\"ldid\": \"XX-ACME-2026-0001\", \"timestamp\": \"2026-03-01T10:15:30Z\""

/* ---- valid shapes ---- */

static void chk_minimal(const struct lx_event *e)
{
	assert_int_equal(e->ref_kind, LI707_REF_LIID);
	assert_string_equal(e->reference, "LI-1");
	assert_string_equal(e->item.timestamp, "2026-03-01T10:15:30Z");
	assert_null(e->item.sender);
	assert_int_equal(e->item.n_receivers, 0);
	assert_int_equal(e->item.n_attachments, 0);
	assert_int_equal(e->item.n_csp, 0);
	assert_false(e->item.has_correlation);
}

static void chk_ldid(const struct lx_event *e)
{
	assert_int_equal(e->ref_kind, LI707_REF_LDID);
	assert_string_equal(e->reference, "XX-ACME-2026-0001");
}

static void chk_time_offset(const struct lx_event *e)
{
	/* fraction truncated, the written offset kept */
	assert_string_equal(e->item.timestamp, "2026-03-01T11:16:00+01:00");
}

static void chk_time_negative(const struct lx_event *e)
{
	assert_string_equal(e->item.timestamp, "2026-03-01T05:17:45-05:00");
}

static void chk_time_zero_offset(const struct lx_event *e)
{
	assert_string_equal(e->item.timestamp, "2026-03-01T10:16:02Z");
}

static void chk_sender_formats(const struct lx_event *e)
{
	const struct li707_party *p = e->item.sender;
	assert_non_null(p);
	assert_int_equal(p->targeted, LI707_TRUE);
	assert_int_equal(p->n_ids, 4);
	assert_true(p->ids[0].qualified);
	assert_string_equal(p->ids[0].format_owner, "ETSI");
	assert_string_equal(p->ids[0].format_name, "InternationalE164");
	assert_string_equal(p->ids[0].value, "447700900123");
	assert_true(p->ids[1].qualified);
	assert_string_equal(p->ids[1].format_owner, "XX");
	assert_string_equal(p->ids[1].format_name, "Chat:Handle");
	assert_true(p->ids[2].qualified);
	assert_null(p->ids[2].format_owner);
	assert_null(p->ids[2].format_name);
	assert_string_equal(p->ids[2].value, "room:lobby");
	assert_false(p->ids[3].qualified);
	assert_string_equal(p->ids[3].value, "alice");
}

static void chk_receivers(const struct lx_event *e)
{
	assert_int_equal(e->item.n_receivers, 2);
	assert_int_equal(e->item.receivers[0].targeted, LI707_FALSE);
	assert_int_equal(e->item.receivers[1].targeted, LI707_ABSENT);
	assert_string_equal(e->item.receivers[1].ids[0].value, "erin");
	assert_string_equal(e->item.receivers[0].ids[0].format_owner, "ETSI");
	assert_string_equal(e->item.receivers[0].ids[0].format_name, "EmailAddress");
}

static void chk_empty_lists(const struct lx_event *e)
{
	assert_int_equal(e->item.n_receivers, 0);
	assert_null(e->item.receivers);
	assert_int_equal(e->item.n_attachments, 0);
	assert_int_equal(e->item.n_csp, 0);
}

static void chk_attachments(const struct lx_event *e)
{
	assert_int_equal(e->item.n_attachments, 3);
	assert_int_equal(e->n_attachments, 3);
	const struct li707_binary_object *b = e->item.attachments;
	/* model A: CSP-hosted default scheme, defaults for type and name (Table 8) */
	assert_int_equal(e->attachments[0].model, LX_EVENT_MODEL_A);
	assert_true(li707_check_uuid(e->attachments[0].uuid));
	char want[128];
	snprintf(want, sizeof want, "https://csp.invalid/li707/binary/%s", e->attachments[0].uuid);
	assert_string_equal(b[0].url, want);
	assert_string_equal(b[0].content_type, "application/octet-stream");
	assert_string_equal(b[0].original_filename, "a.txt");
	assert_true(b[0].has_content_length);
	assert_int_equal(b[0].content_length, 6);
	assert_string_equal(b[0].checksum, HELLO_SHA);
	assert_string_equal(b[0].expiry, EXPIRY_DEFAULT_TEXT);
	assert_null(b[0].csp_defined_identifier);
	assert_non_null(strstr(e->attachments[0].path, "a.txt"));
	/* model B: the LEA's scheme (R-BIN-B1), trailing slash kept */
	assert_int_equal(e->attachments[1].model, LX_EVENT_MODEL_B);
	snprintf(want, sizeof want, "https://lea.invalid/binaryData/%s/", e->attachments[1].uuid);
	assert_string_equal(b[1].url, want);
	assert_string_equal(b[1].content_type, "text/plain; charset=utf-8");
	assert_string_equal(b[1].original_filename, "hello.txt");
	assert_string_equal(b[1].expiry, EXPIRY_DEFAULT_TEXT); /* R-BIN-B3 */
	/* model C: CSP-hosted, empty file in a subdirectory, csp_id */
	assert_int_equal(e->attachments[2].model, LX_EVENT_MODEL_C);
	assert_non_null(strstr(b[2].url, "https://csp.invalid/li707/binary/"));
	assert_string_equal(b[2].original_filename, "b.bin");
	assert_int_equal(b[2].content_length, 0);
	assert_string_equal(b[2].checksum,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(b[2].csp_defined_identifier, "media-1");
	/* URLs are never reused (Table 8) */
	assert_string_not_equal(b[0].url, b[2].url);
}

static void chk_correlation(const struct lx_event *e)
{
	assert_true(e->item.has_correlation);
	assert_int_equal(e->item.app_level_id, 7);
	assert_int_equal(e->item.app_seq, 0);
}

static void chk_csp_object(const struct lx_event *e)
{
	assert_int_equal(e->item.n_csp, 1);
	assert_string_equal(e->item.csp[0].schema_id, "urn:example:csp:chat:1");
	assert_string_equal(e->item.csp[0].schema_url, "https://csp.example.com/chat-1.xsd");
	assert_null(e->item.csp[0].schema_content);
	assert_string_equal(e->item.csp[0].xml,
			    "<x:m xmlns:x='urn:example:csp:chat:1'><x:t>1</x:t></x:m>");
}

static void chk_csp_array(const struct lx_event *e)
{
	assert_int_equal(e->item.n_csp, 2);
	assert_string_equal(e->item.csp[1].schema_id, "s2");
	assert_string_equal(e->item.csp[1].schema_content, "text schema");
	assert_null(e->item.csp[1].xml);
}

struct valid_case {
	const char *name;
	const char *line;
	void (*check)(const struct lx_event *e);
};

static const struct valid_case valid_cases[] = {
	{"minimal", "{" EV "}", chk_minimal},
	{"whitespace and CR", "  {" EV "}  \r", chk_minimal},
	{"ldid", "{" LD "}", chk_ldid},
	{"timestamp offset + fraction",
	 "{\"liid\": \"LI-1\", \"timestamp\": \"2026-03-01T11:16:00.999999+01:00\"}",
	 chk_time_offset},
	{"timestamp negative offset",
	 "{\"liid\": \"LI-1\", \"timestamp\": \"2026-03-01T05:17:45.5-05:00\"}", chk_time_negative},
	{"timestamp +00:00", "{\"liid\": \"LI-1\", \"timestamp\": \"2026-03-01T10:16:02+00:00\"}",
	 chk_time_zero_offset},
	{"sender id shapes",
	 "{" EV ", \"sender\": {\"ids\": [{\"format\": \"InternationalE164\", \"value\": "
	 "\"447700900123\"}, {\"format\": \"XX:Chat:Handle\", \"value\": \"h\"}, {\"value\": "
	 "\"room:lobby\"}, \"alice\"], \"target\": true}}",
	 chk_sender_formats},
	{"receivers",
	 "{" EV ", \"receivers\": [{\"ids\": [{\"format\": \"ETSI:EmailAddress\", \"value\": "
	 "\"bob@example.com\"}], \"target\": false}, {\"ids\": [\"erin\"]}]}",
	 chk_receivers},
	{"empty lists", "{" EV ", \"receivers\": [], \"attachments\": [], \"csp\": []}",
	 chk_empty_lists},
	{"attachments A B C",
	 "{" EV ", \"attachments\": [{\"path\": \"a.txt\", \"model\": \"A\"}, {\"path\": "
	 "\"./a.txt\", \"model\": \"B\", \"content_type\": \"text/plain; charset=utf-8\", "
	 "\"filename\": \"hello.txt\"}, {\"path\": \"sub//b.bin\", \"model\": \"C\", "
	 "\"csp_id\": \"media-1\"}]}",
	 chk_attachments},
	{"correlation", "{" EV ", \"correlation\": {\"id\": 7, \"seq\": 0}}", chk_correlation},
	{"csp object",
	 "{" EV ", \"csp\": {\"schema\": \"urn:example:csp:chat:1\", \"schema_url\": "
	 "\"https://csp.example.com/chat-1.xsd\", \"xml\": \"<x:m "
	 "xmlns:x='urn:example:csp:chat:1'><x:t>1</x:t></x:m>\"}}",
	 chk_csp_object},
	{"csp array",
	 "{" EV ", \"csp\": [{\"schema\": \"s1\"}, {\"schema\": \"s2\", \"schema_content\": "
	 "\"text schema\"}]}",
	 chk_csp_array},
};

static void test_events_valid(void **state)
{
	(void)state;
	struct lx_event_opts o = opts();
	for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
		const struct valid_case *c = &valid_cases[i];
		struct lx_event ev;
		char err[LX_EVENT_ERR_LEN];
		int rc = lx_event_parse(c->line, strlen(c->line), &o, &ev, err, sizeof err);
		if (rc != 0)
			print_error("case '%s': rc %d, error '%s'\n", c->name, rc, err);
		assert_int_equal(rc, 0);
		c->check(&ev);
		rc = lx_event_check(&ev, err, sizeof err);
		if (rc != 0)
			print_error("case '%s': check rc %d, error '%s'\n", c->name, rc, err);
		assert_int_equal(rc, 0);
		lx_event_clear(&ev);
		lx_event_clear(&ev); /* idempotent on a cleared event */
	}
}

/* ---- invalid shapes ---- */

struct invalid_case {
	const char *name;
	const char *line;
	const char *field; /* the error starts with "FIELD:" */
	const char *also;  /* and contains this, when not NULL */
};

static const struct invalid_case invalid_cases[] = {
	{"not JSON", "SECRET-1 is not json", "json", "invalid JSON"},
	{"truncated", "{\"liid\": \"SECRET-1\"", "json", "incomplete"},
	{"trailing text", "{" EV "} SECRET", "json", "text after"},
	{"array", "[1, 2]", "json", "must be a JSON object"},
	{"invalid UTF-8", "{\"liid\": \"SECRET\xff\", \"timestamp\": \"2026-03-01T10:15:30Z\"}",
	 "json", "UTF-8"},
	{"NUL escape", "{\"liid\": \"SECRET\\u0000\", \"timestamp\": \"2026-03-01T10:15:30Z\"}",
	 "json", NULL},
	{"duplicate key", "{" EV ", \"liid\": \"SECRET-2\"}", "json", "duplicate key \"liid\""},
	{"duplicate nested key",
	 "{" EV ", \"sender\": {\"ids\": [\"SECRET\"], \"ids\": [\"SECRET\"]}}", "json",
	 "duplicate key \"ids\""},
	{"missing reference", "{\"timestamp\": \"2026-03-01T10:15:30Z\"}", "liid/ldid", "missing"},
	{"both references",
	 "{\"liid\": \"SECRET-1\", \"ldid\": \"XX-SECRET-1\", \"timestamp\": "
	 "\"2026-03-01T10:15:30Z\"}",
	 "liid/ldid", "not both"},
	{"liid not a string", "{\"liid\": 42, \"timestamp\": \"2026-03-01T10:15:30Z\"}", "liid",
	 "must be a string"},
	{"liid empty", "{\"liid\": \"\", \"timestamp\": \"2026-03-01T10:15:30Z\"}", "liid",
	 "empty"},
	{"liid too long",
	 "{\"liid\": \"SECRET-SECRET-SECRET-SECRET-SECRET\", \"timestamp\": "
	 "\"2026-03-01T10:15:30Z\"}",
	 "liid", "LIID"},
	{"ldid bad", "{\"ldid\": \"SECRET\", \"timestamp\": \"2026-03-01T10:15:30Z\"}", "ldid",
	 "LDID"},
	{"missing timestamp", "{\"liid\": \"SECRET\"}", "timestamp", "missing"},
	{"timestamp without offset", "{\"liid\": \"SECRET\", \"timestamp\": \"2026-03-01T10:15:30\"}",
	 "timestamp", "RFC 3339"},
	{"timestamp bad date", "{\"liid\": \"SECRET\", \"timestamp\": \"2026-02-30T10:15:30Z\"}",
	 "timestamp", NULL},
	{"timestamp not a string", "{\"liid\": \"SECRET\", \"timestamp\": 1767225600}", "timestamp",
	 "must be a string"},
	{"unknown key", "{" EV ", \"tiemstamp\": \"SECRET\"}", "event", "unknown key \"tiemstamp\""},
	{"unknown key not shown", "{" EV ", \"+SECRET-447700\": 1}", "event", "not shown"},
	{"sender not object", "{" EV ", \"sender\": [\"SECRET\"]}", "sender", "must be an object"},
	{"sender ids missing", "{" EV ", \"sender\": {\"target\": true}}", "sender.ids", "missing"},
	{"sender ids empty", "{" EV ", \"sender\": {\"ids\": []}}", "sender.ids", "at least one"},
	{"sender ids not array", "{" EV ", \"sender\": {\"ids\": \"SECRET\"}}", "sender.ids",
	 "must be an array"},
	{"id of wrong type", "{" EV ", \"sender\": {\"ids\": [\"SECRET\", 447700]}}",
	 "sender.ids[1]", "string or an object"},
	{"target not boolean", "{" EV ", \"sender\": {\"ids\": [\"SECRET\"], \"target\": \"yes\"}}",
	 "sender.target", "true or false"},
	{"sender unknown key", "{" EV ", \"sender\": {\"ids\": [\"SECRET\"], \"targeted\": true}}",
	 "sender", "unknown key \"targeted\""},
	{"id value missing", "{" EV ", \"sender\": {\"ids\": [{\"format\": \"EmailAddress\"}]}}",
	 "sender.ids[0].value", "missing"},
	{"id value empty", "{" EV ", \"sender\": {\"ids\": [{\"value\": \"\"}]}}",
	 "sender.ids[0].value", "empty"},
	{"id value control char", "{" EV ", \"sender\": {\"ids\": [\"SECRET\\u0001\"]}}",
	 "sender.ids[0]", "not allowed"},
	{"format without owner",
	 "{" EV ", \"sender\": {\"ids\": [{\"format\": \":X\", \"value\": \"SECRET\"}]}}",
	 "sender.ids[0].format", "OWNER:NAME"},
	{"format without name",
	 "{" EV ", \"sender\": {\"ids\": [{\"format\": \"XX:\", \"value\": \"SECRET\"}]}}",
	 "sender.ids[0].format", NULL},
	{"format not string",
	 "{" EV ", \"sender\": {\"ids\": [{\"format\": 1, \"value\": \"SECRET\"}]}}",
	 "sender.ids[0].format", "must be a string"},
	{"id object unknown key",
	 "{" EV ", \"sender\": {\"ids\": [{\"fromat\": \"X\", \"value\": \"SECRET\"}]}}",
	 "sender.ids[0]", "unknown key \"fromat\""},
	{"receivers not array", "{" EV ", \"receivers\": {\"ids\": [\"SECRET\"]}}", "receivers",
	 "must be an array"},
	{"receiver without ids", "{" EV ", \"receivers\": [{\"ids\": [\"SECRET\"]}, {}]}",
	 "receivers[1].ids", "missing"},
	{"attachments not array", "{" EV ", \"attachments\": {\"path\": \"a.txt\"}}", "attachments",
	 "must be an array"},
	{"attachment not object", "{" EV ", \"attachments\": [\"a.txt\"]}", "attachments[0]",
	 "must be an object"},
	{"model missing", "{" EV ", \"attachments\": [{\"path\": \"a.txt\"}]}",
	 "attachments[0].model", "missing"},
	{"model bad", "{" EV ", \"attachments\": [{\"path\": \"a.txt\", \"model\": \"D\"}]}",
	 "attachments[0].model", "\"A\", \"B\" or \"C\""},
	{"model lower case", "{" EV ", \"attachments\": [{\"path\": \"a.txt\", \"model\": \"a\"}]}",
	 "attachments[0].model", NULL},
	{"path missing", "{" EV ", \"attachments\": [{\"model\": \"A\"}]}", "attachments[0].path",
	 "missing"},
	{"file missing",
	 "{" EV ", \"attachments\": [{\"path\": \"a.txt\", \"model\": \"A\"}, {\"path\": "
	 "\"SECRET.txt\", \"model\": \"A\"}]}",
	 "attachments[1].path", "No such file"},
	{"path absolute", "{" EV ", \"attachments\": [{\"path\": \"/etc/passwd\", \"model\": \"A\"}]}",
	 "attachments[0].path", "relative"},
	{"path dotdot", "{" EV ", \"attachments\": [{\"path\": \"sub/../../x\", \"model\": \"A\"}]}",
	 "attachments[0].path", "\"..\""},
	{"path directory", "{" EV ", \"attachments\": [{\"path\": \"sub\", \"model\": \"A\"}]}",
	 "attachments[0].path", "regular file"},
	{"content type bad",
	 "{" EV ", \"attachments\": [{\"path\": \"a.txt\", \"model\": \"A\", \"content_type\": "
	 "\"SECRET\"}]}",
	 "attachments[0].content_type", "MIME"},
	{"attachment unknown key",
	 "{" EV ", \"attachments\": [{\"path\": \"a.txt\", \"model\": \"A\", \"size\": 6}]}",
	 "attachments[0]", "unknown key \"size\""},
	{"correlation not object", "{" EV ", \"correlation\": 7}", "correlation", "must be an object"},
	{"correlation negative", "{" EV ", \"correlation\": {\"id\": -1, \"seq\": 0}}",
	 "correlation.id", "non-negative"},
	{"correlation real", "{" EV ", \"correlation\": {\"id\": 1, \"seq\": 0.5}}", "correlation.seq",
	 "non-negative integer"},
	{"correlation string", "{" EV ", \"correlation\": {\"id\": \"1\", \"seq\": 0}}",
	 "correlation.id", NULL},
	{"correlation seq missing", "{" EV ", \"correlation\": {\"id\": 1}}", "correlation.seq",
	 "missing"},
	{"correlation overflow", "{" EV ", \"correlation\": {\"id\": 99999999999999999999, \"seq\": 0}}",
	 "json", "too large"},
	{"csp wrong type", "{" EV ", \"csp\": \"SECRET\"}", "csp", "object or an array"},
	{"csp schema missing", "{" EV ", \"csp\": {\"xml\": \"<a:b xmlns:a='urn:a'/>\"}}",
	 "csp.schema", "missing"},
	{"csp array entry", "{" EV ", \"csp\": [{\"schema\": \"s\"}, 5]}", "csp[1]",
	 "must be an object"},
	{"csp schema_url", "{" EV ", \"csp\": {\"schema\": \"s\", \"schema_url\": \"not a uri\"}}",
	 "csp.schema_url", "URI"},
	{"csp unknown key", "{" EV ", \"csp\": {\"schema\": \"s\", \"data\": \"SECRET\"}}", "csp",
	 "unknown key \"data\""},
};

static void test_events_invalid(void **state)
{
	(void)state;
	struct lx_event_opts o = opts();
	for (size_t i = 0; i < sizeof invalid_cases / sizeof invalid_cases[0]; i++) {
		const struct invalid_case *c = &invalid_cases[i];
		struct lx_event ev, before;
		memset(&ev, 0x5a, sizeof ev);
		before = ev;
		char err[LX_EVENT_ERR_LEN];
		int rc = lx_event_parse(c->line, strlen(c->line), &o, &ev, err, sizeof err);
		char want[128];
		snprintf(want, sizeof want, "%s: ", c->field);
		bool ok = rc == LI707_EINPUT && strncmp(err, want, strlen(want)) == 0 &&
			  (!c->also || strstr(err, c->also)) && !strstr(err, "SECRET");
		if (!ok)
			print_error("case '%s': rc %d, error '%s'; expected EINPUT, '%s...'%s%s\n",
				    c->name, rc, err, want, c->also ? " containing " : "",
				    c->also ? c->also : "");
		assert_true(ok);
		/* outputs are written only on success */
		assert_memory_equal(&ev, &before, sizeof ev);
	}
}

/* A line over the configured cap is refused before JSON parsing. */
static void test_events_line_cap(void **state)
{
	(void)state;
	struct lx_event_opts o = opts();
	o.max_line_bytes = 16;
	struct lx_event ev;
	char err[LX_EVENT_ERR_LEN];
	const char *line = "{" EV "}";
	assert_int_equal(lx_event_parse(line, strlen(line), &o, &ev, err, sizeof err),
			 LI707_EINPUT);
	assert_non_null(strstr(err, "line: "));
}

/* Error text fits any buffer, even a tiny one, and NULL err is allowed. */
static void test_events_small_err_buffer(void **state)
{
	(void)state;
	struct lx_event_opts o = opts();
	struct lx_event ev;
	char err[8];
	const char *line = "{\"timestamp\": \"2026-03-01T10:15:30Z\"}";
	assert_int_equal(lx_event_parse(line, strlen(line), &o, &ev, err, sizeof err),
			 LI707_EINPUT);
	assert_true(strlen(err) < sizeof err);
	assert_int_equal(lx_event_parse(line, strlen(line), &o, &ev, NULL, 0), LI707_EINPUT);
	/* not NUL-terminated input: only len bytes are read */
	char buf[64];
	memset(buf, 'x', sizeof buf);
	memcpy(buf, "{" EV "}", strlen("{" EV "}"));
	assert_int_equal(lx_event_parse(buf, strlen("{" EV "}"), &o, &ev, err, sizeof err), 0);
	lx_event_clear(&ev);
}

static void test_events_url_schemes(void **state)
{
	(void)state;
	struct lx_event_opts o = opts();
	o.csp_url_scheme = "https://media.csp.example/v1/{uuid}?dl=1";
	o.lea_url_scheme = "https://lea.example.com/binaryData/{uuid}/";
	o.expiry_seconds = 3600;
	char err[LX_EVENT_ERR_LEN];
	assert_int_equal(lx_event_opts_check(&o, err, sizeof err), 0);
	const char *line = "{" EV ", \"attachments\": [{\"path\": \"a.txt\", \"model\": \"C\"}, "
			   "{\"path\": \"a.txt\", \"model\": \"B\"}]}";
	struct lx_event ev;
	assert_int_equal(lx_event_parse(line, strlen(line), &o, &ev, err, sizeof err), 0);
	char want[160];
	snprintf(want, sizeof want, "https://media.csp.example/v1/%s?dl=1", ev.attachments[0].uuid);
	assert_string_equal(ev.item.attachments[0].url, want);
	snprintf(want, sizeof want, "https://lea.example.com/binaryData/%s/", ev.attachments[1].uuid);
	assert_string_equal(ev.item.attachments[1].url, want);
	assert_string_equal(ev.item.attachments[0].expiry, "2026-01-01T01:00:00Z");
	assert_string_not_equal(ev.attachments[0].uuid, ev.attachments[1].uuid);
	lx_event_clear(&ev);
}

static void test_events_opts_check(void **state)
{
	(void)state;
	static const struct {
		const char *csp, *lea;
		int64_t expiry;
	} bad[] = {
		{"https://csp.example/binary/", NULL, 0},
		{"http://csp.example/{uuid}", NULL, 0},
		{"https://csp.example/{uuid}/{uuid}", NULL, 0},
		{NULL, "lea.example.com/{uuid}", 0},
		{NULL, NULL, -1},
		{NULL, NULL, LX_EVENT_EXPIRY_MAX + 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct lx_event_opts o = {.csp_url_scheme = bad[i].csp,
					     .lea_url_scheme = bad[i].lea,
					     .expiry_seconds = bad[i].expiry};
		char err[LX_EVENT_ERR_LEN] = "";
		int rc = lx_event_opts_check(&o, err, sizeof err);
		if (rc != LI707_EINVAL)
			print_error("bad option set %zu accepted\n", i);
		assert_int_equal(rc, LI707_EINVAL);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(lx_event_opts_check(NULL, NULL, 0), 0);
	struct lx_event_opts ok = {0};
	assert_int_equal(lx_event_opts_check(&ok, NULL, 0), 0);
}

/* lx_event_check applies the library's rules the parser does not know (CSP XML). */
static void test_events_check(void **state)
{
	(void)state;
	struct lx_event_opts o = opts();
	static const struct {
		const char *line;
		int rc;
	} cases[] = {
		{"{" EV ", \"csp\": {\"schema\": \"s\", \"xml\": \"<x:a xmlns:x='urn:x'>t</x:a>\"}}", 0},
		{"{" EV ", \"csp\": {\"schema\": \"s\", \"xml\": \"<x:a xmlns:x='urn:x'>SECRET\"}}",
		 LI707_EINPUT},
		{"{" EV ", \"csp\": {\"schema\": \"s\", \"xml\": \"<x:a>SECRET</x:a>\"}}", LI707_EINPUT},
		{"{" EV ", \"csp\": {\"schema\": \"s\", \"xml\": \"<!DOCTYPE x><x/>\"}}", LI707_EINPUT},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lx_event ev;
		char err[LX_EVENT_ERR_LEN];
		assert_int_equal(
			lx_event_parse(cases[i].line, strlen(cases[i].line), &o, &ev, err, sizeof err),
			0);
		int rc = lx_event_check(&ev, err, sizeof err);
		if (rc != cases[i].rc)
			print_error("check case %zu: rc %d, error '%s'\n", i, rc, err);
		assert_int_equal(rc, cases[i].rc);
		if (rc) {
			assert_true(err[0] != '\0');
			assert_null(strstr(err, "SECRET"));
		}
		lx_event_clear(&ev);
	}
}

static void test_events_reader(void **state)
{
	(void)state;
	static const char input[] = "{\"a\":1}\n\n  \r\n0123456789abcdefXYZ\nlast";
	FILE *f = fmemopen((void *)input, sizeof input - 1, "r");
	assert_non_null(f);
	struct lx_event_reader r;
	const char *line;
	size_t len;
	lx_event_reader_init(&r, f, 16);
	assert_int_equal(lx_event_reader_next(&r, &line, &len), 1);
	assert_int_equal(r.line, 1);
	assert_string_equal(line, "{\"a\":1}");
	assert_int_equal(lx_event_reader_next(&r, &line, &len), 1);
	assert_int_equal(len, 0);
	assert_true(lx_event_line_blank(line, len));
	assert_int_equal(lx_event_reader_next(&r, &line, &len), 1);
	assert_int_equal(r.line, 3);
	assert_true(lx_event_line_blank(line, len));
	/* 19 bytes > 16: refused, numbered, skipped */
	assert_int_equal(lx_event_reader_next(&r, &line, &len), LI707_ELIMIT);
	assert_int_equal(r.line, 4);
	assert_int_equal(lx_event_reader_next(&r, &line, &len), 1);
	assert_int_equal(r.line, 5);
	assert_string_equal(line, "last");
	assert_int_equal(lx_event_reader_next(&r, &line, &len), 0);
	lx_event_reader_done(&r);
	lx_event_reader_done(&r);
	fclose(f);
}

/* Every line of the shipped samples parses and passes the library's checks. */
static void test_events_samples(void **state)
{
	(void)state;
	static const char *files[] = {"samples/li-events.jsonl", "samples/ld-events.jsonl"};
	struct lx_event_opts o = {.base_dir = tu_src("samples")};
	for (size_t k = 0; k < 2; k++) {
		FILE *f = fopen(tu_src(files[k]), "r");
		assert_non_null(f);
		struct lx_event_reader r;
		const char *line;
		size_t len;
		int rc;
		size_t n = 0;
		lx_event_reader_init(&r, f, 0);
		while ((rc = lx_event_reader_next(&r, &line, &len)) == 1) {
			struct lx_event ev;
			char err[LX_EVENT_ERR_LEN];
			rc = lx_event_parse(line, len, &o, &ev, err, sizeof err);
			if (rc == 0) {
				rc = lx_event_check(&ev, err, sizeof err);
				lx_event_clear(&ev);
			}
			if (rc)
				print_error("%s:%ld: %s\n", files[k], r.line, err);
			assert_int_equal(rc, 0);
			n++;
		}
		assert_int_equal(rc, 0);
		assert_true(n >= 3);
		lx_event_reader_done(&r);
		fclose(f);
	}
}

/* li707-csp's options: "conversation" (R-HDR-1) only when the caller allocates from it, never
 * with "correlation"; absolute paths and files left to the caller (no model needed). */
static void test_events_csp_options(void **state)
{
	(void)state;
	struct lx_event_opts o = opts();
	struct lx_event ev;
	char err[LX_EVENT_ERR_LEN];
	const char *conv = "{" EV ", \"conversation\": \"chat-secret-7\"}";
	assert_int_equal(lx_event_parse(conv, strlen(conv), &o, &ev, err, sizeof err), LI707_EINPUT);
	assert_non_null(strstr(err, "conversation: not accepted here"));
	assert_null(strstr(err, "chat-secret-7"));
	o.conversation_ok = true;
	assert_int_equal(lx_event_parse(conv, strlen(conv), &o, &ev, err, sizeof err), 0);
	assert_string_equal(ev.conversation, "chat-secret-7");
	assert_false(ev.item.has_correlation);
	lx_event_clear(&ev);
	const char *both = "{" EV ", \"conversation\": \"c\", \"correlation\": {\"id\": 0, \"seq\": 0}}";
	assert_int_equal(lx_event_parse(both, strlen(both), &o, &ev, err, sizeof err), LI707_EINPUT);
	assert_non_null(strstr(err, "cannot be combined with correlation"));
	const char *empty = "{" EV ", \"conversation\": \"\"}";
	assert_int_equal(lx_event_parse(empty, strlen(empty), &o, &ev, err, sizeof err), LI707_EINPUT);
	char longc[400];
	snprintf(longc, sizeof longc, "{" EV ", \"conversation\": \"%0257d\"}", 0);
	assert_int_equal(lx_event_parse(longc, strlen(longc), &o, &ev, err, sizeof err), LI707_EINPUT);
	assert_non_null(strstr(err, "too long"));

	/* absolute path, no model, nothing opened: only with the options */
	char line[256];
	snprintf(line, sizeof line, "{" EV ", \"attachments\": [{\"path\": \"%s/nonexistent\"}]}", base);
	o = opts();
	assert_int_equal(lx_event_parse(line, strlen(line), &o, &ev, err, sizeof err), LI707_EINPUT);
	o.absolute_paths = true;
	o.defer_files = true;
	assert_int_equal(lx_event_parse(line, strlen(line), &o, &ev, err, sizeof err), 0);
	assert_int_equal(ev.attachments[0].model, 0);
	assert_null(ev.item.attachments[0].checksum);
	assert_false(ev.item.attachments[0].has_content_length);
	char want[128];
	snprintf(want, sizeof want, "%s/nonexistent", base);
	assert_string_equal(ev.attachments[0].path, want);
	lx_event_clear(&ev);
	const char *dots = "{" EV ", \"attachments\": [{\"path\": \"/tmp/../etc/passwd\"}]}";
	assert_int_equal(lx_event_parse(dots, strlen(dots), &o, &ev, err, sizeof err), LI707_EINPUT);
	assert_non_null(strstr(err, "\"..\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_valid),
		cmocka_unit_test(test_events_invalid),
		cmocka_unit_test(test_events_line_cap),
		cmocka_unit_test(test_events_small_err_buffer),
		cmocka_unit_test(test_events_url_schemes),
		cmocka_unit_test(test_events_opts_check),
		cmocka_unit_test(test_events_check),
		cmocka_unit_test(test_events_reader),
		cmocka_unit_test(test_events_samples),
		cmocka_unit_test(test_events_csp_options),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
