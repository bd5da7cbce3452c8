/* li707-lea configuration (src/lea/lea_config.c): the commented example file, defaults, every
 * key, a table of bad files (each with the line its error must name, and no reference value
 * in any message: R-SEC-6), SIZE and boolean syntax, reference matching (R-RSP-1), PSK files
 * (R-SEC-4) and the TLS allow-list handed to the server (R-SEC-2). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lea_config.h"
#include "size.h"
#include "testutil.h"

#define ERRLEN 512

/* Parses text (check_files false) and fails the test with the message when it is refused. */
static struct lea_config *parse_ok(const char *text)
{
	struct lea_config *c = NULL;
	char err[ERRLEN] = "";
	int rc = lea_config_parse("t.conf", text, strlen(text), false, &c, err, sizeof err);
	if (rc != 0)
		print_error("unexpected error %d: %s\n", rc, err);
	assert_int_equal(rc, 0);
	assert_non_null(c);
	return c;
}

/* Asserts the error names file t.conf and line; returns the message part. */
static void parse_bad(const char *text, size_t len, bool check_files, long line, const char *needle)
{
	struct lea_config *c = (struct lea_config *)(uintptr_t)0x1;
	char err[ERRLEN] = "";
	int rc = lea_config_parse("t.conf", text, len, check_files, &c, err, sizeof err);
	char want[64];
	snprintf(want, sizeof want, "t.conf:%ld: ", line);
	if (rc != LI707_EINPUT || strncmp(err, want, strlen(want)) != 0 || !strstr(err, needle))
		print_error("want EINPUT \"%s...%s\", got %d \"%s\"\n", want, needle, rc, err);
	assert_int_equal(rc, LI707_EINPUT);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_non_null(strstr(err, needle));
	/* R-SEC-6: every reference in these files contains SECRET; none may be repeated. */
	assert_null(strstr(err, "SECRET"));
	assert_true(c == (struct lea_config *)(uintptr_t)0x1); /* *out untouched */
}

/* ---- the example file ---- */

/* Every key the daemon knows, so that the example cannot leave one out. */
static const char *const all_keys[] = {
	"listen", "listen_psk", "cert", "key", "cacert", "crl", "store", "delivery_path",
	"binary_path", "schema_dir", "official_schema_dir", "xsd_check", "max_message_bytes",
	"max_upload_bytes", "orphan_timeout", "orphan_max_bytes", "connections", "per_peer",
	"per_ip", "idle_timeout", "header_timeout", "drain_timeout", "body_min_rate",
	"body_rate_window", "body_memory", "tls_min", "tls13",
	"tls12_suites", "tls12_psk_suites", "tls_groups", "log_level", "sync",
	"subject", "san", "spki_sha256", "psk_identity", "psk_file", "references", "models",
	"client_cert", "client_key", "fetch_workers", "fetch_ca", "model_c_above",
	"fetch_connections", "fetch_parallel", "fetch_range", "fetch_range_max", "fetch_retries",
	"fetch_backoff", "fetch_backoff_max",
};

/* True when some line of text, without its leading '#' and blanks, begins with "key = ". */
static bool documents_key(const char *text, const char *key)
{
	char want[64];
	snprintf(want, sizeof want, "%s = ", key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *s = l;
		while (*s == '#' || *s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, want, strlen(want)) == 0)
			return true;
	}
	return false;
}

static void test_example_file_documents_every_key(void **state)
{
	(void)state;
	size_t len;
	char *text = tu_read_file(tu_src("docs/examples/li707-lea.conf"), &len);
	for (size_t i = 0; i < sizeof all_keys / sizeof all_keys[0]; i++) {
		if (!documents_key(text, all_keys[i]))
			print_error("docs/examples/li707-lea.conf does not document %s\n", all_keys[i]);
		assert_true(documents_key(text, all_keys[i]));
	}
	free(text);
}

static void test_example_file_values(void **state)
{
	(void)state;
	size_t len;
	char *text = tu_read_file(tu_src("docs/examples/li707-lea.conf"), &len);
	struct lea_config *c = NULL;
	char err[ERRLEN] = "";
	int rc = lea_config_parse("li707-lea.conf", text, len, false, &c, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->path, "li707-lea.conf");
	assert_int_equal(c->n_listen, 2);
	assert_string_equal(c->listen[0], "192.0.2.10:8443");
	assert_string_equal(c->listen[1], "[2001:db8::10]:8443");
	assert_int_equal(c->n_listen_psk, 1);
	assert_string_equal(c->listen_psk[0], "192.0.2.10:8444");
	assert_string_equal(c->creds.cert, "/etc/li707/tls/lea.pem");
	assert_string_equal(c->creds.key, "/etc/li707/tls/lea.key");
	assert_string_equal(c->creds.cacert, "/etc/li707/tls/csp-ca.pem");
	assert_string_equal(c->creds.crl, "/etc/li707/tls/csp-ca.crl");
	assert_string_equal(c->store_dir, "/var/lib/li707-lea");
	assert_true(c->sync_full);
	assert_string_equal(c->delivery_path, "/hi1");
	assert_string_equal(c->binary_path, "/binaryData/");
	assert_string_equal(c->schema_dir, "/usr/local/share/li707/schemas");
	assert_null(c->official_schema_dir);
	assert_false(c->xsd_check);
	assert_true(c->max_message_bytes == 64ull << 20);
	assert_true(c->max_upload_bytes == 4ull << 30);
	assert_true(c->orphan_timeout_s == 86400);
	assert_true(c->orphan_max_bytes == 1ull << 30);
	assert_int_equal(c->limits.connections, 256);
	assert_int_equal(c->limits.per_peer, 32);
	assert_int_equal(c->limits.per_ip, 64);
	assert_int_equal(c->limits.idle_timeout_s, 30);
	assert_int_equal(c->limits.header_timeout_s, 10);
	assert_int_equal(c->limits.drain_timeout_s, 30);
	assert_int_equal(c->limits.body_min_rate, 1024);
	assert_int_equal(c->limits.body_rate_window_s, 10);
	assert_true(c->body_memory_bytes == 256ull << 20);
	assert_int_equal(c->policy.min_version, LX_TLS_1_2);
	assert_true(c->policy.tls13);
	assert_string_equal(c->policy.tls12_suites, LX_TLS12_SUITES_DEFAULT);
	assert_string_equal(c->policy.tls12_psk_suites, LX_TLS12_PSK_SUITES_DEFAULT);
	assert_string_equal(c->policy.groups, LX_TLS_GROUPS_DEFAULT);
	assert_int_equal(c->log_level, LEA_LOG_INFO);

	assert_int_equal(c->n_peers, 2);
	const struct lea_peer *a = &c->peers[0], *g = &c->peers[1];
	assert_string_equal(a->name, "csp-acme");
	assert_false(a->any_reference);
	assert_int_equal(a->n_references, 3); /* two lines add up, sorted */
	assert_string_equal(a->references[0], "GB-ACME-2026-0042");
	assert_string_equal(a->references[1], "LIID-2026-0001");
	assert_string_equal(a->references[2], "LIID-2026-0002");
	assert_int_equal(a->models, LEA_MODEL_A | LEA_MODEL_B | LEA_MODEL_C);
	assert_true(a->max_message_bytes == 64ull << 20); /* the [server] value */
	assert_true(a->max_upload_bytes == 16ull << 30);
	assert_string_equal(g->name, "csp-globex");
	assert_int_equal(g->n_references, 1);
	assert_string_equal(g->references[0], "LIID-2026-0003");
	assert_int_equal(g->models, LEA_MODEL_B);
	assert_true(g->max_message_bytes == 8ull << 20);
	assert_true(g->max_upload_bytes == 4ull << 30);
	/* Model A/C retrieval (R-BIN-A1, C.4, Annex E) */
	assert_string_equal(c->client_cert, "/etc/li707/lea-client.pem");
	assert_string_equal(c->client_key, "/etc/li707/lea-client.key");
	assert_int_equal(c->fetch_workers, 4);
	assert_string_equal(a->fetch_ca, "/etc/li707/csp-acme-server-ca.pem");
	assert_true(a->model_c_above == 16ull << 20);
	assert_int_equal(a->fetch_connections, 6);
	assert_int_equal(a->fetch_parallel, 4);
	assert_true(a->fetch_range == 8ull << 20);
	assert_true(a->fetch_range_max == 256ull << 20);
	assert_int_equal(a->fetch_retries, 8);
	assert_true(a->fetch_backoff_s == 10 && a->fetch_backoff_max_s == 600);
	/* the defaults */
	assert_null(g->fetch_ca);
	assert_true(g->model_c_above == LEA_MODEL_C_ABOVE_DEFAULT);
	assert_int_equal(g->fetch_connections, 4);
	assert_int_equal(g->fetch_parallel, 2);
	assert_true(g->fetch_range == 8ull << 20 && g->fetch_range_max == 64ull << 20);
	assert_null(g->psk); /* check_files false: no key to copy */

	assert_int_equal(c->tls_peers.n, 2);
	const struct lx_tls_peer *ta = &c->tls_peers.v[0], *tg = &c->tls_peers.v[1];
	assert_string_equal(ta->name, "csp-acme");
	assert_true(ta->name != a->name); /* separate copies */
	assert_string_equal(ta->subject, "CN=li-gateway.acme.example,O=ACME Telecom Ltd,C=GB");
	assert_string_equal(ta->san, "li-gateway.acme.example");
	assert_false(ta->has_spki);
	assert_null(ta->psk_identity);
	assert_string_equal(tg->name, "csp-globex");
	assert_null(tg->subject);
	assert_null(tg->san);
	assert_string_equal(tg->psk_identity, "globex-li-1");
	assert_null(tg->psk); /* check_files false: nothing opened */
	assert_int_equal(tg->psk_len, 0);
	lea_config_free(c);
	free(text);
}

/* Model A/C retrieval keys: ranges, and a PSK peer's key copied for its retrievals. */
static void test_bin_fetch_keys(void **state)
{
	(void)state;
	char err[ERRLEN] = "";
	struct lea_config *c = NULL;
	static const char bad_range[] = "[server]\nlisten = :8443\ncert = c\nkey = k\ncacert = a\n"
					"[peer p]\nsan = p.example\nreferences = any\nmodels = C\n"
					"fetch_range = 2M\nfetch_range_max = 1M\n";
	assert_int_equal(lea_config_parse("t.conf", bad_range, sizeof bad_range - 1, false, &c, err,
					  sizeof err), LI707_EINPUT);
	assert_non_null(strstr(err, "t.conf:11: peer 'p': fetch_range_max is smaller than fetch_range"));
	static const char no_cert[] = "[server]\nlisten = :8443\ncert = c\nkey = k\ncacert = a\n"
				      "client_key = k\n[peer p]\nsan = p.example\nreferences = any\n";
	assert_int_equal(lea_config_parse("t.conf", no_cert, sizeof no_cert - 1, false, &c, err,
					  sizeof err), LI707_EINPUT);
	assert_non_null(strstr(err, "client_key needs client_cert"));
	static const char zero[] = "[server]\nlisten = :8443\ncert = c\nkey = k\ncacert = a\n"
				   "fetch_workers = 0\n[peer p]\nsan = p.example\nreferences = any\n"
				   "model_c_above = 0\nfetch_range = 128M\n";
	assert_int_equal(lea_config_parse("t.conf", zero, sizeof zero - 1, false, &c, err,
					  sizeof err), 0);
	assert_int_equal(c->fetch_workers, 0);
	assert_true(c->peers[0].model_c_above == 0); /* given: 0 is kept */
	assert_true(c->peers[0].fetch_range_max == 128ull << 20); /* follows a larger start */
	lea_config_free(c);
}

/* The example with its commented-out keys switched on is valid too. */
static void test_example_file_optional_keys(void **state)
{
	(void)state;
	size_t len;
	char *text = tu_read_file(tu_src("docs/examples/li707-lea.conf"), &len);
	char *p = strstr(text, "\n#official_schema_dir = ");
	assert_non_null(p);
	p[1] = ' ';
	struct lea_config *c = parse_ok(text);
	assert_string_equal(c->official_schema_dir, "/usr/local/share/li707/etsi");
	lea_config_free(c);
	free(text);
}

/* ---- minimal, defaults, every key ---- */

static void test_minimal_and_defaults(void **state)
{
	(void)state;
	struct lea_config *c = parse_ok("[peer csp1]\npsk_identity = csp1\npsk_file = k\nreferences = any\n"
					"[server]\nlisten_psk = :8444\n");
	assert_int_equal(c->n_listen, 0);
	assert_int_equal(c->n_listen_psk, 1);
	assert_null(c->creds.cert);
	assert_null(c->creds.key);
	assert_null(c->creds.cacert);
	assert_null(c->creds.crl);
	assert_string_equal(c->store_dir, "/var/lib/li707-lea");
	assert_string_equal(c->delivery_path, "/hi1");
	assert_string_equal(c->binary_path, "/binaryData/");
	assert_null(c->schema_dir);
	assert_null(c->official_schema_dir);
	assert_false(c->xsd_check);
	assert_true(c->max_message_bytes == 64ull << 20);
	assert_true(c->max_upload_bytes == 4ull << 30);
	assert_true(c->orphan_timeout_s == 86400);
	assert_true(c->orphan_max_bytes == 1ull << 30);
	assert_int_equal(c->limits.connections, 0);
	assert_int_equal(c->limits.per_peer, 0);
	assert_int_equal(c->limits.per_ip, 0);
	assert_int_equal(c->limits.idle_timeout_s, 0);
	assert_int_equal(c->limits.header_timeout_s, 0);
	assert_int_equal(c->limits.drain_timeout_s, 0);
	assert_int_equal(c->limits.body_min_rate, 0);
	assert_int_equal(c->limits.body_rate_window_s, 0);
	assert_true(c->body_memory_bytes == 256ull << 20);
	assert_int_equal(c->policy.min_version, LX_TLS_1_2);
	assert_true(c->policy.tls13);
	assert_string_equal(c->policy.tls12_suites, LX_TLS12_SUITES_DEFAULT);
	assert_int_equal(c->log_level, LEA_LOG_INFO);
	assert_true(c->sync_full);
	assert_int_equal(c->n_peers, 1);
	assert_true(c->peers[0].any_reference);
	assert_null(c->peers[0].references);
	assert_int_equal(c->peers[0].models, 0);
	assert_true(c->peers[0].max_message_bytes == c->max_message_bytes);
	assert_true(c->peers[0].max_upload_bytes == c->max_upload_bytes);
	lea_config_free(c);
	lea_config_free(NULL);
}

static void test_every_key(void **state)
{
	(void)state;
	static const char text[] =
		"\xef\xbb\xbf# BOM, CR LF and no final newline\r\n"
		"[server]\r\n"
		"  listen   =   127.0.0.1:0  \r\n"
		"listen = [::1]:443\r\n"
		"listen_psk = :8444\r\n"
		"cert = /c.pem\r\nkey = /k.pem\r\ncacert = /ca.pem\r\ncrl = /crl.pem\r\n"
		"store = /srv/lea store\r\n"
		"delivery_path = /api/hi1\r\n"
		"binary_path = /api/bin/\r\n"
		"schema_dir = /s\r\nofficial_schema_dir = /o\r\n"
		"xsd_check = On\r\n"
		"max_message_bytes = 2048K\r\nmax_upload_bytes = 1T\r\n"
		"orphan_timeout = 60\r\norphan_max_bytes = 5M\r\n"
		"connections = 10\r\nper_peer = 2\r\nper_ip = 3\r\nidle_timeout = 4\r\n"
		"header_timeout = 5\r\ndrain_timeout = 6\r\n"
		"body_min_rate = 7\r\nbody_rate_window = 8\r\nbody_memory = 9M\r\n"
		"tls_min = 1.3\r\ntls13 = true\r\n"
		"tls12_suites = ECDHE-RSA-AES128-GCM-SHA256 : ECDHE-ECDSA-AES128-GCM-SHA256\r\n"
		"tls12_psk_suites = DHE-PSK-AES128-GCM-SHA256\r\n"
		"tls_groups = P-256\r\n"
		"log_level = debug\r\nsync = normal\r\n"
		"; semicolon comment\r\n"
		"[ peer x.y_z:1-2 ]\r\n"
		"subject = CN=x,O=Y # not a comment\r\n"
		"san = https://x.example/li\r\n"
		"spki_sha256 = 00112233445566778899aabbccddeeffAABBCCDDEEFF00112233445566778899\r\n"
		"psk_identity = x!id\r\npsk_file = relative.key\r\n"
		"references = XX-a-b,LI-2 , LI-1\r\nreferences = LI-2\r\n"
		"models = c, A\r\n"
		"max_message_bytes = 1K\r\nmax_upload_bytes = 1025";
	struct lea_config *c = parse_ok(text);
	assert_int_equal(c->n_listen, 2);
	assert_string_equal(c->listen[0], "127.0.0.1:0");
	assert_string_equal(c->listen[1], "[::1]:443");
	assert_string_equal(c->listen_psk[0], ":8444");
	assert_string_equal(c->creds.cert, "/c.pem");
	assert_string_equal(c->creds.key, "/k.pem");
	assert_string_equal(c->creds.cacert, "/ca.pem");
	assert_string_equal(c->creds.crl, "/crl.pem");
	assert_string_equal(c->store_dir, "/srv/lea store");
	assert_string_equal(c->delivery_path, "/api/hi1");
	assert_string_equal(c->binary_path, "/api/bin/");
	assert_string_equal(c->schema_dir, "/s");
	assert_string_equal(c->official_schema_dir, "/o");
	assert_true(c->xsd_check);
	assert_true(c->max_message_bytes == 2048ull * 1024);
	assert_true(c->max_upload_bytes == 1ull << 40);
	assert_true(c->orphan_timeout_s == 60);
	assert_true(c->orphan_max_bytes == 5ull << 20);
	assert_int_equal(c->limits.connections, 10);
	assert_int_equal(c->limits.per_peer, 2);
	assert_int_equal(c->limits.per_ip, 3);
	assert_int_equal(c->limits.idle_timeout_s, 4);
	assert_int_equal(c->limits.header_timeout_s, 5);
	assert_int_equal(c->limits.drain_timeout_s, 6);
	assert_int_equal(c->limits.body_min_rate, 7);
	assert_int_equal(c->limits.body_rate_window_s, 8);
	assert_true(c->body_memory_bytes == 9ull << 20);
	assert_int_equal(c->policy.min_version, LX_TLS_1_3);
	assert_true(c->policy.tls13);
	assert_string_equal(c->policy.tls12_suites,
			    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256");
	assert_string_equal(c->policy.tls12_psk_suites, "DHE-PSK-AES128-GCM-SHA256");
	assert_string_equal(c->policy.groups, "P-256");
	assert_int_equal(c->log_level, LEA_LOG_DEBUG);
	assert_false(c->sync_full);
	assert_int_equal(c->n_peers, 1);
	const struct lea_peer *pe = &c->peers[0];
	assert_string_equal(pe->name, "x.y_z:1-2");
	assert_int_equal(pe->n_references, 3); /* LI-2 twice is merged */
	assert_string_equal(pe->references[0], "LI-1");
	assert_string_equal(pe->references[1], "LI-2");
	assert_string_equal(pe->references[2], "XX-a-b");
	assert_int_equal(pe->models, LEA_MODEL_A | LEA_MODEL_C);
	assert_true(pe->max_message_bytes == 1024);
	assert_true(pe->max_upload_bytes == 1025);
	const struct lx_tls_peer *tp = &c->tls_peers.v[0];
	assert_string_equal(tp->subject, "CN=x,O=Y # not a comment");
	assert_string_equal(tp->san, "https://x.example/li");
	assert_true(tp->has_spki);
	static const uint8_t spki[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
					 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
					 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99};
	assert_memory_equal(tp->spki_sha256, spki, 32);
	assert_string_equal(tp->psk_identity, "x!id");
	lea_config_free(c);
}

/* ---- bad files ---- */

#define SRV "[server]\nlisten = 127.0.0.1:8443\ncert = c.pem\nkey = k.pem\ncacert = ca.pem\n" /* 5 */
#define SRVP SRV "listen_psk = 127.0.0.1:8444\n"                                      /* 6 */
#define PA "[peer a]\nsubject = CN=a\nreferences = SECRET-LIID-77\n"                 /* 3 */
#define PB "[peer b]\npsk_identity = b-id\npsk_file = b.key\nreferences = SECRET-LIID-78\n" /* 4 */
#define PX "[peer a]\nsubject = CN=a\n"                                            /* 2 */

static const struct bad {
	const char *text;
	size_t len; /* 0: strlen */
	long line;
	const char *needle;
} bad[] = {
	/* structure */
	{"", 0, 1, "no [server] section"},
	{SRV, 0, 5, "no [peer NAME] section"},
	{PA, 0, 3, "no [server] section"},
	{"[server]\n" PA, 0, 1, "needs at least one listen"},
	{"[server]\nlisten = 127.0.0.1:8443\n" PA, 0, 1, "cert is mandatory"},
	{"[server]\nlisten = :1\ncert = c\ncacert = a\n" PA, 0, 1, "key is mandatory"},
	{"listen = :1\n" SRV PA, 0, 1, "outside a section"},
	{"[server\n", 0, 1, "without ']'"},
	{"[server] # x\n", 0, 1, "text after ']'"},
	{SRV "[clients]\n" PA, 0, 6, "unknown section 'clients'"},
	{SRV "[SECRET-LIID-77 x]\n" PA, 0, 6, "unknown section"},
	{SRV "[peer]\n", 0, 6, "needs a name"},
	{SRV "[peer a b]\n", 0, 6, "invalid peer name"},
	{SRV "[peer SECRET/77]\n", 0, 6, "invalid peer name"},
	{SRV PA PA, 0, 9, "defined twice (first at line 6)"},
	{SRV PA "[server]\n", 0, 9, "given twice (first at line 1)"},
	{SRV PA "SECRET-LIID-99\n", 0, 9, "expected 'key = value'"},
	{SRV PA "SECRET-LIID-77 = x\n", 0, 9, "invalid key name"},
	{SRV "Cert = x\n" PA, 0, 6, "invalid key name"},
	{SRV "= x\n" PA, 0, 6, "missing key"},
	{SRV "bogus = 1\n" PA, 0, 6, "[server]: unknown key 'bogus'"},
	{SRV PA "referenecs = SECRET-LIID-77\n", 0, 9, "peer 'a': unknown key 'referenecs'"},
	{SRV "cert = d.pem\n" PA, 0, 6, "cert: given twice (first at line 3)"},
	{SRV PA "subject = CN=b\n", 0, 9, "subject: given twice"},
	{SRV "crl =\n" PA, 0, 6, "crl: empty value"},
	{SRV PX "references =\n", 0, 8, "references: empty value"},
	/* bytes */
	{SRV "crl = a\0b\n" PA, sizeof(SRV "crl = a\0b\n" PA) - 1, 6, "NUL byte"},
	{SRV "crl = a\001b\n" PA, 0, 6, "control character"},
	{SRV "crl = a\rb\n" PA, 0, 6, "control character"},
	{SRV "crl = \xff\xfe\n" PA, 0, 6, "not valid UTF-8"},
	{SRV "crl = \xc0\xaf\n" PA, 0, 6, "not valid UTF-8"},
	/* listeners */
	{SRV "listen = localhost:8443\n" PA, 0, 6, "listen: expected ADDR:PORT"},
	{SRV "listen = 127.0.0.1:65536\n" PA, 0, 6, "port 0-65535"},
	{SRV "listen = 127.0.0.1:\n" PA, 0, 6, "listen: expected"},
	{SRV "listen = 127.0.0.1\n" PA, 0, 6, "listen: expected"},
	{SRV "listen = ::1:8443\n" PA, 0, 6, "listen: expected"},
	{SRV "listen = [::1:8443\n" PA, 0, 6, "listen: expected"},
	{SRV "listen = 256.0.0.1:8443\n" PA, 0, 6, "listen: expected"},
	{SRV "listen_psk = 127.0.0.1:+80\n" PA, 0, 6, "listen_psk: expected"},
	{SRV "listen_psk = 127.0.0.1:8443\n" PA, 0, 6, "already a listener"},
	{SRVP PA, 0, 6, "listen_psk: no peer has a psk_identity"},
	{SRV PA PB, 0, 10, "peer 'b': psk_identity needs a PSK listener"},
	{"[server]\nlisten_psk = :8444\n" PB "[peer c]\nsan = c.example\nreferences = any\n", 0, 7,
	 "peer 'c': certificate criteria need a certificate listener"},
	/* paths */
	{SRV "delivery_path = hi1\n" PA, 0, 6, "delivery_path: expected a URL path"},
	{SRV "delivery_path = /a/../hi1\n" PA, 0, 6, "delivery_path: expected"},
	{SRV "delivery_path = /hi1?x\n" PA, 0, 6, "delivery_path: expected"},
	{SRV "delivery_path = /a%20b\n" PA, 0, 6, "delivery_path: expected"},
	{SRV "binary_path = /bin\n" PA, 0, 6, "binary_path: expected"},
	{SRV "binary_path = /\n" PA, 0, 6, "binary_path: expected"},
	{SRV "binary_path = //\n" PA, 0, 6, "binary_path: expected"},
	{SRV "delivery_path = /binaryData/hi1\n" PA, 0, 6, "overlap"},
	{SRV "binary_path = /hi1/\n" PA, 0, 6, "overlap"},
	{SRV "binary_path = /x/\ndelivery_path = /x\n" PA, 0, 7, "overlap"},
	/* numbers */
	{SRV "max_message_bytes = 64X\n" PA, 0, 6, "max_message_bytes: expected a size"},
	{SRV "max_message_bytes = 64 M\n" PA, 0, 6, "expected a size"},
	{SRV "max_message_bytes = 2G\n" PA, 0, 6, "out of range (1024 to 1073741824)"},
	{SRV "max_message_bytes = 1023\n" PA, 0, 6, "out of range"},
	{SRV "max_upload_bytes = 99999999999999999999T\n" PA, 0, 6, "expected a size"},
	{SRV "orphan_timeout = 0\n" PA, 0, 6, "orphan_timeout: out of range"},
	{SRV "orphan_timeout = 1h\n" PA, 0, 6, "orphan_timeout: expected a decimal number"},
	{SRV "connections = -1\n" PA, 0, 6, "connections: expected a decimal number"},
	{SRV "connections = 4294967297\n" PA, 0, 6, "connections: out of range"},
	{SRV "header_timeout = 3601\n" PA, 0, 6, "header_timeout: out of range"},
	{SRV "body_rate_window = 3601\n" PA, 0, 6, "body_rate_window: out of range"},
	{SRV "body_memory = 1K\n" PA, 0, 6, "body_memory: out of range"},
	{SRV PX "references = any\nmax_upload_bytes = 1\n", 0, 9, "peer 'a': max_upload_bytes: out of range"},
	{SRV PX "references = any\nmax_message_bytes = x\n", 0, 9, "max_message_bytes: expected a size"},
	/* enums */
	{SRV "xsd_check = maybe\n" PA, 0, 6, "xsd_check: expected yes or no"},
	{SRV "log_level = trace\n" PA, 0, 6, "log_level: expected"},
	{SRV "sync = off\n" PA, 0, 6, "sync: expected full or normal"},
	{SRV "tls_min = 1.1\n" PA, 0, 6, "tls_min"},
	{SRV "tls13 = perhaps\n" PA, 0, 6, "tls13: expected yes or no"},
	{SRV "tls12_suites = ECDHE-RSA-AES128-SHA256\n" PA, 0, 6, "tls12_suites: element 1"},
	{SRV "tls12_psk_suites = PSK-AES128-GCM-SHA256\n" PA, 0, 6, "tls12_psk_suites"},
	{SRV "tls_groups = P-192\n" PA, 0, 6, "tls_groups"},
	{SRV "tls_min = 1.3\ntls13 = no\n" PA, 0, 7, "no protocol version"},
	/* peers */
	{SRV "[peer a]\nreferences = SECRET-LIID-77\n", 0, 6, "peer 'a': needs subject, san"},
	{SRV PX, 0, 6, "peer 'a': references is mandatory"},
	{SRV PX "references = SECRET-LIID-77, ,SECRET-LIID-78\n", 0, 8, "references: entry 2 is empty"},
	{SRV PX "references = SECRET-LIID-77,\n", 0, 8, "references: entry 2 is empty"},
	{SRV PX "references = any, SECRET-LIID-77\n", 0, 8, "'any' cannot be combined"},
	{SRV PX "references = SECRET-LIID-77\nreferences = ANY\n", 0, 9, "'any' cannot be combined"},
	{SRV PX "references = SECRET LIID 77\n", 0, 8, "entry 1 is neither a LIID nor an LDID"},
	{SRV PX "references = XX-SECRET-1, SECRET-LIID-000000000000000000000\n", 0, 8,
	 "entry 2 is neither a LIID nor an LDID"},
	{SRV PX "references = SECRET-\xc3\xa9\n", 0, 8, "entry 1 is neither"},
	{SRV PA "models = A, D\n", 0, 9, "models: entry 2 is not A, B or C"},
	{SRV PA "models = A,,B\n", 0, 9, "models: entry 2"},
	{SRV "[peer a]\nspki_sha256 = abcd\nreferences = any\n", 0, 7, "spki_sha256: expected 64"},
	{SRV "[peer a]\nsubject = acme\nreferences = any\n", 0, 7, "subject: expected an RFC 4514 DN"},
	{SRV "[peer a]\nsan = a b\nreferences = any\n", 0, 7, "san: expected a DNS name"},
	{SRVP PA "[peer b]\npsk_identity = b-id\nreferences = SECRET-LIID-78\n", 0, 11,
	 "peer 'b': psk_identity needs psk_file"},
	{SRVP PA "[peer b]\npsk_file = b.key\nreferences = SECRET-LIID-78\n", 0, 11,
	 "peer 'b': psk_file needs psk_identity"},
	{SRVP PA "[peer b]\npsk_identity = b\tid\n", 0, 11, "psk_identity: control characters"},
	{SRVP PB "[peer c]\npsk_identity = b-id\npsk_file = c.key\nreferences = SECRET-LIID-80\n", 0, 12,
	 "peer 'c': psk_identity is also the one of peer 'b'"},
	{SRV PA "[peer c]\nsubject = CN=a\nreferences = SECRET-LIID-80\n", 0, 9,
	 "peer 'c': the same certificate criteria as peer 'a'"},
};

static void test_bad_configs_name_line_never_value(void **state)
{
	(void)state;
	size_t n = sizeof bad / sizeof bad[0];
	assert_true(n >= 40);
	for (size_t i = 0; i < n; i++) {
		const char *t = bad[i].text;
		size_t len = bad[i].len ? bad[i].len : strlen(t);
		print_message("case %zu: %s\n", i, bad[i].needle);
		parse_bad(t, len, false, bad[i].line, bad[i].needle);
	}
}

static void test_hostile_lines(void **state)
{
	(void)state;
	/* A line over the cap, at line 2; one of exactly the cap is fine (a comment). */
	size_t n = LEA_CONFIG_LINE_MAX + 64;
	char *t = malloc(n + 256);
	assert_non_null(t);
	strcpy(t, "[server]\n#");
	size_t o = strlen(t);
	memset(t + o, 'x', LEA_CONFIG_LINE_MAX + 1);
	t[o + LEA_CONFIG_LINE_MAX + 1] = '\0';
	parse_bad(t, strlen(t), false, 2, "line longer than");
	t[o + LEA_CONFIG_LINE_MAX - 1] = '\0';
	strcat(t, "\nlisten_psk = :1\n" PB);
	struct lea_config *c = parse_ok(t);
	lea_config_free(c);

	/* 17 listeners. */
	strcpy(t, "[server]\n");
	for (int i = 0; i < 17; i++)
		sprintf(t + strlen(t), "listen_psk = :%d\n", 1000 + i);
	strcat(t, PB);
	parse_bad(t, strlen(t), false, 18, "too many listeners");
	free(t);

	/* Missing ']' at the very end, no newline; a lone CR. */
	parse_bad(SRV PA "[peer", strlen(SRV PA "[peer"), false, 9, "without ']'");
	parse_bad("\r", 1, false, 1, "no [server]");
	parse_bad("\n\n\n", 3, false, 3, "no [server]");

	/* A buffer of every byte value does not crash and names line 1. */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)(255 - i);
	parse_bad(all, sizeof all, false, 1, "");
}

/* ---- SIZE and booleans ---- */

static void test_parse_size_table(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok;
		uint64_t v;
	} t[] = {
		{"0", true, 0},
		{"1", true, 1},
		{"1024", true, 1024},
		{"1K", true, 1024},
		{"1k", true, 1024},
		{"64M", true, 64ull << 20},
		{"4G", true, 4ull << 30},
		{"2T", true, 2ull << 40},
		{"007", true, 7},
		{"18446744073709551615", true, UINT64_MAX},
		{"16777215T", true, 16777215ull << 40},
		{"16777216T", false, 0}, /* 2^64 */
		{"18446744073709551616", false, 0},
		{"", false, 0},
		{"K", false, 0},
		{"1KB", false, 0},
		{"1KiB", false, 0},
		{"1P", false, 0},
		{" 1", false, 0},
		{"1 ", false, 0},
		{"1 K", false, 0},
		{"+1", false, 0},
		{"-1", false, 0},
		{"1.5G", false, 0},
		{"0x10", false, 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		uint64_t v = 12345;
		bool ok = lx_parse_size(t[i].s, &v);
		if (ok != t[i].ok || (ok && v != t[i].v))
			print_error("\"%s\": want %d %llu, got %d %llu\n", t[i].s, t[i].ok,
				    (unsigned long long)t[i].v, ok, (unsigned long long)v);
		assert_int_equal(ok, t[i].ok);
		if (ok)
			assert_true(v == t[i].v);
		else
			assert_true(v == 12345); /* untouched */
	}
	uint64_t v;
	assert_false(lx_parse_size(NULL, &v));
}

static void test_parse_bool_table(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok, v;
	} t[] = {
		{"yes", true, true},  {"no", true, false},   {"true", true, true}, {"false", true, false},
		{"on", true, true},   {"off", true, false},  {"1", true, true},    {"0", true, false},
		{"YES", true, true},  {"False", true, false}, {"", false, false},  {"y", false, false},
		{"2", false, false},  {"yes ", false, false}, {"enable", false, false},
		{"nope", false, false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		bool v = !t[i].v;
		bool ok = lea_parse_bool(t[i].s, &v);
		if (ok != t[i].ok)
			print_error("\"%s\": want %d, got %d\n", t[i].s, t[i].ok, ok);
		assert_int_equal(ok, t[i].ok);
		if (ok)
			assert_int_equal(v, t[i].v);
	}
	bool b;
	assert_false(lea_parse_bool(NULL, &b));
}

/* ---- references and peers ---- */

static void test_rsp1_peer_allows(void **state)
{
	(void)state;
	struct lea_config *c = parse_ok(SRV "[peer any]\nsan = any.example\nreferences = Any\n"
					"[peer list]\nsan = list.example\n"
					"references = LI-12, GB-x-y\nreferences = LI-3,LI-120\n");
	const struct lea_peer *any = lea_config_peer(c, "any");
	const struct lea_peer *list = lea_config_peer(c, "list");
	assert_non_null(any);
	assert_non_null(list);
	assert_null(lea_config_peer(c, "nobody"));
	assert_null(lea_config_peer(c, "lis"));
	assert_null(lea_config_peer(NULL, "any"));
	assert_true(any->any_reference);
	assert_true(lea_peer_allows(any, "LI-12"));
	assert_true(lea_peer_allows(any, "whatever"));
	assert_false(lea_peer_allows(any, NULL));
	static const struct {
		const char *ref;
		bool ok;
	} t[] = {
		{"LI-12", true}, {"LI-3", true},  {"LI-120", true}, {"GB-x-y", true}, /* listed */
		{"LI-1", false}, {"LI-1200", false}, {"LI-", false}, {"li-12", false}, /* prefixes, case */
		{"LI-4", false}, {"", false},     {"GB-x-y ", false}, {"any", false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (lea_peer_allows(list, t[i].ref) != t[i].ok)
			print_error("%s: want %d\n", t[i].ref, t[i].ok);
		assert_int_equal(lea_peer_allows(list, t[i].ref), t[i].ok);
	}
	assert_false(lea_peer_allows(NULL, "LI-12"));
	lea_config_free(c);
}

static void test_take_tls_peers(void **state)
{
	(void)state;
	struct lea_config *c = parse_ok(SRVP PA PB);
	assert_int_equal(c->tls_peers.n, 2);
	struct lx_tls_peers *t = lea_config_take_tls_peers(c);
	assert_non_null(t);
	assert_int_equal(c->tls_peers.n, 0);
	assert_null(c->tls_peers.v);
	assert_int_equal(t->n, 2);
	assert_string_equal(t->v[0].name, "a");
	assert_string_equal(t->v[0].subject, "CN=a");
	assert_string_equal(t->v[1].name, "b");
	assert_string_equal(t->v[1].psk_identity, "b-id");
	/* The peers stay in the configuration; the table lives on without it. */
	assert_string_equal(c->peers[1].name, "b");
	lea_config_free(c);
	assert_non_null(lx_tls_peer_by_psk(t, "b-id"));
	assert_null(lx_tls_peer_by_psk(t, "a"));
	lx_tls_peers_clear(t);
	free(t);
	assert_null(lea_config_take_tls_peers(NULL));
}

/* ---- files (check_files = true) ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *content, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int files_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/li707-test-lea-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int files_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A configuration text with %s replaced by the temporary directory (several times). */
static char *with_dir(const char *fmt)
{
	size_t n = strlen(fmt) + 16 * strlen(tmpdir) + 1;
	char *s = malloc(n);
	assert_non_null(s);
	char *o = s;
	for (const char *p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			o += sprintf(o, "%s", tmpdir);
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return s;
}

static const char psk_conf[] = "[server]\n"
			       "listen_psk = 127.0.0.1:0\n"
			       "[peer b]\n"
			       "psk_identity = b-id\n"
			       "psk_file = %s/b.key\n"
			       "references = SECRET-LIID-1\n";

static void test_sec4_psk_file_loaded(void **state)
{
	(void)state;
	write_file("b.key", "000102030405060708090a0b0c0d0e0f\n101112131415161718191a1b1c1d1e1f\n", 0600);
	char *text = with_dir(psk_conf);
	struct lea_config *c = NULL;
	char err[ERRLEN] = "";
	int rc = lea_config_parse("t.conf", text, strlen(text), true, &c, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(c->tls_peers.v[0].psk_len, 32);
	for (int i = 0; i < 32; i++)
		assert_int_equal(c->tls_peers.v[0].psk[i], i);
	struct lx_tls_peers *t = lea_config_take_tls_peers(c);
	assert_int_equal(t->v[0].psk_len, 32);
	assert_int_equal(t->v[0].psk[31], 31);
	lea_config_free(c);
	lx_tls_peers_clear(t);
	free(t);

	free(text);
}

static void test_sec4_psk_file_refused(void **state)
{
	(void)state;
	char *text = with_dir(psk_conf);
	/* Group/world-readable key: refused at the psk_file line. */
	write_file("b.key", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0644);
	parse_bad(text, strlen(text), true, 5, "readable by group or others");
	/* Empty. */
	write_file("b.key", "", 0600);
	parse_bad(text, strlen(text), true, 5, "PSK must be");
	/* Missing. */
	char path[256];
	snprintf(path, sizeof path, "%s/b.key", tmpdir);
	unlink(path);
	parse_bad(text, strlen(text), true, 5, "peer 'b': psk_file: PSK file cannot be opened");
	/* ... which check_files = false never looks at. */
	struct lea_config *c = NULL;
	char err[ERRLEN];
	assert_int_equal(lea_config_parse("t.conf", text, strlen(text), false, &c, err, sizeof err), 0);
	assert_null(c->tls_peers.v[0].psk);
	lea_config_free(c);
	free(text);
}

/* R-SEC-4, RFC 4279 section 5.3: identities of up to 128 octets of any UTF-8 text (blanks
 * inside included) and short keys are accepted; 129 octets are not. */
static void test_sec4_psk_rfc4279_identity_and_key(void **state)
{
	(void)state;
	write_file("b.key", "0001020304\n", 0600); /* 5 bytes: accepted (the daemon warns) */
	char id[129];
	memset(id, 'x', sizeof id - 1);
	memcpy(id, "CSP \xc3\xa9", 6); /* a blank and a UTF-8 letter */
	id[128] = '\0';
	char conf[512];
	snprintf(conf, sizeof conf,
		 "[server]\nlisten_psk = 127.0.0.1:0\n[peer b]\npsk_identity = %s\npsk_file = %%s/b.key\n"
		 "references = SECRET-LIID-1\n", id);
	char *text = with_dir(conf);
	struct lea_config *c = NULL;
	char err[ERRLEN] = "";
	int rc = lea_config_parse("t.conf", text, strlen(text), true, &c, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->tls_peers.v[0].psk_identity, id);
	assert_int_equal(c->tls_peers.v[0].psk_len, 5);
	assert_int_equal(c->tls_peers.v[0].psk[4], 4);
	lea_config_free(c);
	free(text);
	/* One octet more: refused, at the identity's line. */
	snprintf(conf, sizeof conf,
		 "[server]\nlisten_psk = 127.0.0.1:0\n[peer b]\npsk_identity = %sy\npsk_file = %%s/b.key\n"
		 "references = SECRET-LIID-1\n", id);
	text = with_dir(conf);
	parse_bad(text, strlen(text), true, 4, "psk_identity: expected 1-128 bytes");
	free(text);
}

static void test_check_files_certificates_and_dirs(void **state)
{
	(void)state;
	static const char conf[] = "[server]\n"
				   "listen = 127.0.0.1:0\n"
				   "cert = %s/c.pem\n"
				   "key = %s/k.pem\n"
				   "cacert = %s/ca.pem\n"
				   "crl = %s/crl.pem\n"
				   "schema_dir = %s\n"
				   "store = %s/not-yet\n"
				   "[peer a]\nsubject = CN=a\nreferences = any\n";
	write_file("c.pem", "x", 0644);
	write_file("k.pem", "x", 0600);
	write_file("ca.pem", "x", 0644);
	write_file("crl.pem", "x", 0644);
	char *text = with_dir(conf);
	struct lea_config *c = NULL;
	char err[ERRLEN] = "";
	int rc = lea_config_parse("t.conf", text, strlen(text), true, &c, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	lea_config_free(c);

	char path[256];
	snprintf(path, sizeof path, "%s/ca.pem", tmpdir);
	unlink(path);
	parse_bad(text, strlen(text), true, 5, "cacert: cannot read the file");
	assert_int_equal(mkdir(path, 0700), 0); /* a directory is not a file */
	parse_bad(text, strlen(text), true, 5, "cacert: cannot read the file: not a regular file");
	rmdir(path);
	write_file("ca.pem", "x", 0644);
	free(text);

	text = with_dir("[server]\nlisten_psk = :1\nschema_dir = %s/c.pem\n" PB);
	parse_bad(text, strlen(text), true, 3, "schema_dir: not a readable directory");
	free(text);
}

static void test_load_file(void **state)
{
	(void)state;
	write_file("lea.conf", SRV PA, 0640);
	char path[256];
	snprintf(path, sizeof path, "%s/lea.conf", tmpdir);
	write_file("c.pem", "x", 0644);
	/* The certificate files are relative: load from inside the directory. */
	char cwd[1024];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(tmpdir), 0);
	write_file("k.pem", "x", 0600);
	write_file("ca.pem", "x", 0644);
	struct lea_config *c = NULL;
	char err[ERRLEN] = "";
	int rc = lea_config_load(path, &c, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->path, path);
	assert_int_equal(c->n_peers, 1);
	lea_config_free(c);
	unlink("k.pem");
	c = NULL;
	rc = lea_config_load(path, &c, err, sizeof err);
	assert_int_equal(rc, LI707_EINPUT);
	assert_null(c);
	char want[300];
	snprintf(want, sizeof want, "%s:4: key: cannot read the file", path);
	assert_non_null(strstr(err, want));
	assert_int_equal(chdir(cwd), 0);

	snprintf(path, sizeof path, "%s/none.conf", tmpdir);
	rc = lea_config_load(path, &c, err, sizeof err);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
	assert_null(c);
	rc = lea_config_load(tmpdir, &c, err, sizeof err); /* a directory */
	assert_int_equal(rc, LI707_EINPUT);
	assert_null(c);
	assert_int_equal(lea_config_load(NULL, &c, err, sizeof err), LI707_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_file_documents_every_key),
		cmocka_unit_test(test_example_file_values),
		cmocka_unit_test(test_example_file_optional_keys),
		cmocka_unit_test(test_bin_fetch_keys),
		cmocka_unit_test(test_minimal_and_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bad_configs_name_line_never_value),
		cmocka_unit_test(test_hostile_lines),
		cmocka_unit_test(test_parse_size_table),
		cmocka_unit_test(test_parse_bool_table),
		cmocka_unit_test(test_rsp1_peer_allows),
		cmocka_unit_test(test_take_tls_peers),
		cmocka_unit_test_setup_teardown(test_sec4_psk_file_loaded, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_sec4_psk_file_refused, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_sec4_psk_rfc4279_identity_and_key, files_setup,
						files_teardown),
		cmocka_unit_test_setup_teardown(test_check_files_certificates_and_dirs, files_setup,
						files_teardown),
		cmocka_unit_test_setup_teardown(test_load_file, files_setup, files_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
