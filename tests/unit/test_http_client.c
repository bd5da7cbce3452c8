/* The HTTPS client (src/common/http_client.c): the error classification table (R-TRN-3),
 * option validation, the small-first scheduling hook (R-BIN-2), the response cap, and the PSK
 * callback wiring (R-SEC-4) against a local `openssl s_server -psk` on TLS 1.2 and 1.3. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_client.h"
#include "testutil.h"

static void test_trn3_classification_table(void **state)
{
	(void)state;
	static const struct {
		int code;
		const char *detail;
		enum lx_http_err want;
	} cases[] = {
		{CURLE_OK, NULL, LX_HTTP_OK},
		{CURLE_COULDNT_RESOLVE_HOST, NULL, LX_HTTP_EDNS},
		{CURLE_COULDNT_CONNECT, NULL, LX_HTTP_ECONNECT},
		{CURLE_OPERATION_TIMEDOUT, NULL, LX_HTTP_ETIMEOUT},
		{CURLE_SSL_CONNECT_ERROR, NULL, LX_HTTP_ETLS},
		{CURLE_PEER_FAILED_VERIFICATION, NULL, LX_HTTP_ETLS},
		{CURLE_SSL_CERTPROBLEM, NULL, LX_HTTP_ETLS},
		{CURLE_SSL_CACERT_BADFILE, NULL, LX_HTTP_ETLS},
		{CURLE_SSL_CRL_BADFILE, NULL, LX_HTTP_ETLS},
		{CURLE_SSL_CIPHER, NULL, LX_HTTP_ETLS},
		{CURLE_RECV_ERROR, "Connection reset by peer", LX_HTTP_ERESET},
		{CURLE_RECV_ERROR, NULL, LX_HTTP_ERESET},
		{CURLE_RECV_ERROR,
		 "OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required",
		 LX_HTTP_ETLS},
		{CURLE_SEND_ERROR, "Broken pipe", LX_HTTP_ERESET},
		{CURLE_GOT_NOTHING, NULL, LX_HTTP_ERESET},
		{CURLE_PARTIAL_FILE, NULL, LX_HTTP_ERESET},
		{CURLE_WRITE_ERROR, NULL, LX_HTTP_ELOCAL},
		{CURLE_READ_ERROR, NULL, LX_HTTP_ELOCAL},
		{CURLE_FILESIZE_EXCEEDED, NULL, LX_HTTP_ELIMIT},
		{CURLE_URL_MALFORMAT, NULL, LX_HTTP_EURL},
		{CURLE_UNSUPPORTED_PROTOCOL, NULL, LX_HTTP_EURL},
		{CURLE_HTTP_RETURNED_ERROR, NULL, LX_HTTP_ESTATUS},
		{CURLE_RANGE_ERROR, NULL, LX_HTTP_ESTATUS},
		{CURLE_OUT_OF_MEMORY, NULL, LX_HTTP_EINTERNAL},
		{CURLE_BAD_FUNCTION_ARGUMENT, NULL, LX_HTTP_EINTERNAL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum lx_http_err got = lx_http_classify(cases[i].code, cases[i].detail);
		if (got != cases[i].want)
			fail_msg("curl code %d (%s): expected %s, got %s", cases[i].code,
				 cases[i].detail ? cases[i].detail : "-", lx_http_errname(cases[i].want),
				 lx_http_errname(got));
	}
}

static void test_trn3_names_and_exit_codes(void **state)
{
	(void)state;
	for (int e = 0; e < LX_HTTP_ERR_COUNT; e++) {
		assert_non_null(lx_http_errname(e));
		assert_non_null(lx_http_strerror(e));
		for (int f = 0; f < e; f++)
			assert_string_not_equal(lx_http_errname(e), lx_http_errname(f));
		int want = e == LX_HTTP_OK ? 0 : e == LX_HTTP_EURL ? 2 : e == LX_HTTP_EINTERNAL ? 5 : 3;
		int got = li707_exit_code(lx_http_err_code(e));
		if (got != want)
			fail_msg("%s: exit %d, expected %d", lx_http_errname(e), got, want);
	}
	assert_string_equal(lx_http_errname(LX_HTTP_ERR_COUNT), "internal");
}

static void test_opts_validation(void **state)
{
	(void)state;
	static const uint8_t key[64] = {1};
	const char *file = LI707_SOURCE_DIR "/CMakeLists.txt";
	const struct {
		const char *name;
		struct lx_http_client_opts o;
		int want;
	} cases[] = {
		{"defaults", {0}, 0},
		{"cert and key", {.cert_file = file, .key_file = file, .ca_file = file, .crl_file = file}, 0},
		{"key without cert", {.key_file = file}, LI707_EINVAL},
		{"identity without key", {.psk_identity = "x"}, LI707_EINVAL},
		{"key without identity", {.psk = key, .psk_len = 32}, LI707_EINVAL},
		/* RFC 4279 section 5.3 sets no minimum length: short keys are the caller's call. */
		{"short psk", {.psk_identity = "x", .psk = key, .psk_len = 1}, 0},
		{"empty psk", {.psk_identity = "x", .psk = key, .psk_len = 0}, LI707_EINVAL},
		{"psk over 512", {.psk_identity = "x", .psk = key, .psk_len = 513}, LI707_EINVAL},
		{"psk ok", {.psk_identity = "x", .psk = key, .psk_len = 64}, 0},
		{"empty identity", {.psk_identity = "", .psk = key, .psk_len = 32}, LI707_EINVAL},
		{"psk and cert", {.psk_identity = "x", .psk = key, .psk_len = 32, .cert_file = file},
		 LI707_EINVAL},
		{"negative timeout", {.timeout_ms = -1}, LI707_EINVAL},
		{"too many connections", {.max_host_connections = 100000}, LI707_EINVAL},
		{"missing CA", {.ca_file = "/nonexistent/ca.pem"}, -ENOENT},
		{"directory as cert", {.cert_file = "/"}, LI707_EINPUT},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[256] = "";
		int got = lx_http_client_opts_check(&cases[i].o, err, sizeof err);
		if (got != cases[i].want)
			fail_msg("%s: expected %d, got %d (%s)", cases[i].name, cases[i].want, got, err);
		if (got)
			assert_true(err[0] != '\0');
	}
	char err[256];
	assert_int_equal(lx_http_client_opts_check(NULL, err, sizeof err), LI707_EINVAL);
}

/* ---- scheduling (R-BIN-2) ---- */

struct order_log {
	int seen[16];
	size_t n;
};

struct tagged {
	struct order_log *log;
	int tag;
};

static void tagged_done(void *ud, struct lx_http_result *r)
{
	(void)r;
	struct tagged *t = ud;
	t->log->seen[t->log->n++] = t->tag;
}

static void test_bin2_small_first_order(void **state)
{
	(void)state;
	/* One transfer at a time against a closed port: completion order = start order. */
	struct lx_http_client *c = NULL;
	struct lx_http_client_opts o = {.max_active = 1, .connect_timeout_ms = 2000};
	char err[256];
	assert_int_equal(lx_http_client_new(&o, &c, err, sizeof err), 0);
	char url[64];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", tu_free_port());
	static const struct {
		int priority;
		int64_t size;
	} sub[] = {{0, 5000000}, {0, 100}, {0, -1}, {-1, 900000000}, {0, 2000}, {1, 1}};
	static const int want[] = {3, 1, 4, 0, 2, 5};
	struct lx_http_result res[6];
	struct tagged tags[6];
	struct order_log log = {0};
	for (int i = 0; i < 6; i++) {
		struct lx_http_transfer q;
		lx_http_transfer_init(&q);
		q.url = url;
		q.priority = sub[i].priority;
		q.size_hint = sub[i].size;
		tags[i] = (struct tagged){&log, i};
		q.done = tagged_done;
		q.done_ud = &tags[i];
		assert_int_equal(lx_http_submit(c, &q, &res[i]), 0);
	}
	assert_int_equal(lx_http_run(c, -1), 0);
	assert_int_equal(log.n, 6);
	for (int i = 0; i < 6; i++) {
		if (log.seen[i] != want[i])
			fail_msg("position %d: expected transfer %d, got %d", i, want[i], log.seen[i]);
		assert_int_equal(res[i].err, LX_HTTP_ECONNECT);
	}
	lx_http_client_free(c);
}

static void test_bin2_order_hook_and_free_with_queue(void **state)
{
	(void)state;
	assert_true(lx_http_order_small_first(&(struct lx_http_transfer){.size_hint = 1},
						 &(struct lx_http_transfer){.size_hint = -1}) < 0);
	assert_true(lx_http_order_small_first(&(struct lx_http_transfer){.priority = 2, .size_hint = 1},
						 &(struct lx_http_transfer){.priority = 1, .size_hint = 9}) > 0);
	/* Freeing a client with queued transfers releases them (LeakSanitizer checks). */
	struct lx_http_client *c = NULL;
	struct lx_http_client_opts o = {0};
	char err[256];
	assert_int_equal(lx_http_client_new(&o, &c, err, sizeof err), 0);
	struct lx_http_result r[3];
	struct lx_http_transfer q;
	lx_http_transfer_init(&q);
	q.url = "https://127.0.0.1:9/";
	for (int i = 0; i < 3; i++)
		assert_int_equal(lx_http_submit(c, &q, &r[i]), 0);
	lx_http_client_free(c);
	lx_http_client_free(NULL);
}

/* The pending queue grows through li707_array_grow up to LX_HTTP_MAX_PENDING: one more is
 * refused with LI707_ELIMIT and leaves the queue as it was. */
static void test_http_pending_cap(void **state)
{
	(void)state;
	struct lx_http_client *c = NULL;
	struct lx_http_client_opts o = {0};
	char err[256];
	assert_int_equal(lx_http_client_new(&o, &c, err, sizeof err), 0);
	struct lx_http_result *r = calloc(LX_HTTP_MAX_PENDING + 1, sizeof *r);
	assert_non_null(r);
	struct lx_http_transfer q;
	lx_http_transfer_init(&q);
	q.url = "https://127.0.0.1:9/";
	for (size_t i = 0; i < LX_HTTP_MAX_PENDING; i++)
		assert_int_equal(lx_http_submit(c, &q, &r[i]), 0);
	assert_int_equal(lx_http_submit(c, &q, &r[LX_HTTP_MAX_PENDING]), LI707_ELIMIT);
	lx_http_client_free(c);
	free(r);
}

static void test_sec1_http_refused(void **state)
{
	(void)state;
	struct lx_http_client *c = NULL;
	struct lx_http_client_opts o = {0};
	char err[256];
	assert_int_equal(lx_http_client_new(&o, &c, err, sizeof err), 0);
	struct lx_http_transfer q;
	lx_http_transfer_init(&q);
	q.url = "http://127.0.0.1:9/";
	struct lx_http_result r;
	assert_int_equal(lx_http_perform(c, &q, &r), 0);
	assert_int_equal(r.err, LX_HTTP_EURL);
	lx_http_result_done(&r);
	lx_http_client_free(c);
}

/* ---- PSK wiring against openssl s_server (R-SEC-4) ---- */

static pid_t start_s_server(int port, const char *hexkey, const char *version)
{
	char accept[32];
	snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept, "-nocert", "-psk", hexkey,
		       "-psk_identity", "li707", "-www", version, "-cipher",
		       "ECDHE-PSK-CHACHA20-POLY1305:DHE-PSK-AES256-GCM-SHA384", (char *)NULL);
		_exit(127);
	}
	/* Wait until it listens. */
	for (int i = 0; i < 100; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int r = connect(s, (struct sockaddr *)&a, sizeof a);
		close(s);
		if (r == 0)
			return pid;
		usleep(50000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static enum lx_http_err psk_get(int port, const uint8_t *key, size_t max_body, long *status)
{
	struct lx_http_client *c = NULL;
	struct lx_http_client_opts o = {.psk_identity = "li707", .psk = key, .psk_len = 32};
	char err[256];
	assert_int_equal(lx_http_client_new(&o, &c, err, sizeof err), 0);
	char url[64];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", port);
	struct lx_http_transfer q;
	lx_http_transfer_init(&q);
	q.url = url;
	q.max_body = max_body;
	struct lx_http_result r;
	assert_int_equal(lx_http_perform(c, &q, &r), 0);
	*status = r.status;
	if (r.err == LX_HTTP_OK)
		assert_non_null(strstr(r.body, "s_server"));
	lx_http_result_done(&r);
	lx_http_client_free(c);
	return r.err;
}

static void test_sec4_psk_callback(void **state)
{
	(void)state;
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	uint8_t key[32], wrong[32];
	char hex[65];
	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)(i * 7 + 3);
		wrong[i] = (uint8_t)(i * 5 + 1);
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	}
	static const char *const versions[] = {"-tls1_2", "-tls1_3"};
	for (size_t v = 0; v < 2; v++) {
		int port = tu_free_port();
		pid_t pid = start_s_server(port, hex, versions[v]);
		if (pid < 0)
			fail_msg("openssl s_server %s did not start", versions[v]);
		long status = 0;
		enum lx_http_err e = psk_get(port, key, 0, &status);
		if (e != LX_HTTP_OK || status != 200)
			fail_msg("%s right key: %s, status %ld", versions[v], lx_http_errname(e), status);
		e = psk_get(port, wrong, 0, &status);
		if (e != LX_HTTP_ETLS)
			fail_msg("%s wrong key: %s", versions[v], lx_http_errname(e));
		/* The memory sink's cap: the status page is larger than 64 bytes. */
		e = psk_get(port, key, 64, &status);
		if (e != LX_HTTP_ELIMIT)
			fail_msg("%s body cap: %s", versions[v], lx_http_errname(e));
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* ---- R-BIN-2: a small transfer overtakes a large one on a second connection ---- */

static void mark_done(void *ud, struct lx_http_result *r)
{
	(void)r;
	struct tagged *t = ud;
	t->log->seen[t->log->n++] = t->tag;
}

/* A slow consumer: about 1.2 s for the 20 MB object, whatever the loopback speed. */
static size_t slow_sink(void *ud, struct lx_http_result *r, const char *p, size_t n)
{
	(void)ud;
	(void)r;
	(void)p;
	usleep((useconds_t)(n / 16));
	return n;
}

static void test_bin2_small_overtakes_large(void **state)
{
	(void)state;
	if (system("command -v python3 >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1") != 0)
		skip();
	char dir[] = "/tmp/li707-test-http-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout k.pem -out c.pem -days 1 -subj /CN=localhost "
		 "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 && "
		 "head -c 20000000 /dev/zero > big.bin",
		 dir);
	assert_int_equal(system(cmd), 0);
	int port = tu_free_port();
	char ports[16], cert[128], key[128], data[128], log[128];
	snprintf(ports, sizeof ports, "%d", port);
	snprintf(cert, sizeof cert, "%s/c.pem", dir);
	snprintf(key, sizeof key, "%s/k.pem", dir);
	snprintf(data, sizeof data, "%s/big.bin", dir);
	snprintf(log, sizeof log, "%s/log", dir);
	pid_t pid = fork();
	if (pid == 0) {
		/* Dies with the test, and holds none of its output pipes. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execlp("python3", "python3", LI707_SOURCE_DIR "/tests/integration/peers/reset_server.py",
		       ports, cert, key, data, "1000000000", log, (char *)NULL);
		_exit(127);
	}
	bool up = false;
	for (int i = 0; i < 200 && !up; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		up = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
		close(s);
		if (!up)
			usleep(50000);
	}
	assert_true(up);
	struct lx_http_client *c = NULL;
	struct lx_http_client_opts o = {.ca_file = cert, .max_host_connections = 2};
	char err[256];
	assert_int_equal(lx_http_client_new(&o, &c, err, sizeof err), 0);
	char url[64];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/obj", port);
	struct order_log olog = {0};
	struct tagged tags[2] = {{&olog, 0}, {&olog, 1}};
	struct lx_http_result res[2];
	struct lx_http_transfer big;
	lx_http_transfer_init(&big);
	big.url = url;
	big.sink = slow_sink;
	big.done = mark_done;
	big.done_ud = &tags[0];
	assert_int_equal(lx_http_submit(c, &big, &res[0]), 0);
	/* Let the large transfer get going, then queue a small one. */
	assert_true(lx_http_run(c, 150) > 0);
	assert_int_equal(olog.n, 0);
	struct lx_http_transfer small;
	lx_http_transfer_init(&small);
	small.url = url;
	small.range_start = 0;
	small.range_end = 99;
	small.done = mark_done;
	small.done_ud = &tags[1];
	assert_int_equal(lx_http_submit(c, &small, &res[1]), 0);
	assert_int_equal(lx_http_run(c, -1), 0);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	assert_int_equal(res[0].err, LX_HTTP_OK);
	assert_int_equal(res[1].err, LX_HTTP_OK);
	assert_int_equal(res[1].status, 206);
	assert_int_equal(res[1].body_len, 100);
	assert_int_equal(res[0].received, 20000000);
	if (olog.n != 2 || olog.seen[0] != 1)
		fail_msg("the small transfer finished after the large one");
	lx_http_result_done(&res[1]);
	lx_http_client_free(c);
}

static int setup(void **state)
{
	(void)state;
	return lx_http_global_init();
}

static int teardown(void **state)
{
	(void)state;
	lx_http_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trn3_classification_table),
		cmocka_unit_test(test_trn3_names_and_exit_codes),
		cmocka_unit_test(test_opts_validation),
		cmocka_unit_test(test_bin2_small_first_order),
		cmocka_unit_test(test_bin2_order_hook_and_free_with_queue),
		cmocka_unit_test(test_http_pending_cap),
		cmocka_unit_test(test_sec1_http_refused),
		cmocka_unit_test(test_sec4_psk_callback),
		cmocka_unit_test(test_bin2_small_overtakes_large),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
