/* src/common/fetch.c: the Range/resume engine (TS 103 707 Annex C.2, C.4, Annex E; R-BIN-C1,
 * R-BIN-C2) against real servers on loopback: tests/helpers/li707_test_server (Range, If-Range,
 * ETag from src/common/http_server_file.c) and tests/integration/peers/reset_server.py (resets
 * every response longer than a limit, logs each request as "START-END sent|reset"). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "testutil.h"

#include "fdio.h"
#include "fetch.h"
#include "http_client.h"
#include "li707/error.h"
#include "li707/util.h"

#define OBJ_SIZE 1500000

struct env {
	char dir[64];
	char cert[128], key[128];
	char root[128];     /* served by li707_test_server */
	char obj[160];      /* root/obj.bin */
	char sha[65];
	int port;           /* li707_test_server */
	pid_t srv;
	struct lx_http_client *cl;
};

static struct env E;

static bool port_up(int port)
{
	for (int i = 0; i < 200; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		bool up = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
		close(s);
		if (up)
			return true;
		usleep(50000);
	}
	return false;
}

/* A child that dies with the test and holds none of its output pipes (stdout to out). */
static pid_t spawn(const char *out, char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		int o = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : devnull;
		dup2(devnull, 0);
		dup2(o, 1);
		dup2(devnull, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* n pseudo-random bytes (seed) into path, replacing it (a new inode: a new ETag). */
static void write_object(const char *path, size_t n, unsigned seed)
{
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unsigned char *b = malloc(n);
	assert_non_null(b);
	srand(seed);
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)rand();
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(lx_write_all(fd, b, n), 0);
	close(fd);
	free(b);
	assert_int_equal(rename(tmp, path), 0);
}

static bool same_file(const char *a, const char *b)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static bool file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[256];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static int setup(void **state)
{
	(void)state;
	snprintf(E.dir, sizeof E.dir, "/tmp/li707-test-fetch-XXXXXX");
	if (!mkdtemp(E.dir))
		return -1;
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "cd %s && mkdir root dl && openssl req -x509 -newkey ec "
		 "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem -days 1 "
		 "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
		 E.dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(E.cert, sizeof E.cert, "%s/c.pem", E.dir);
	snprintf(E.key, sizeof E.key, "%s/k.pem", E.dir);
	snprintf(E.root, sizeof E.root, "%s/root", E.dir);
	snprintf(E.obj, sizeof E.obj, "%s/obj.bin", E.root);
	write_object(E.obj, OBJ_SIZE, 1);
	if (li707_sha256_file(E.obj, E.sha, NULL) != 0)
		return -1;
	char out[160];
	snprintf(out, sizeof out, "%s/srv.out", E.dir);
	char *argv[] = {LI707_BUILD_DIR "/tests/li707_test_server", "--cert", E.cert, "--key", E.key,
			"--cacert", E.cert, "--no-client-cert", "--listen", "127.0.0.1:0",
			"--root", E.root, NULL};
	E.srv = spawn(out, argv);
	for (int i = 0; i < 100 && E.port <= 0; i++) {
		FILE *f = fopen(out, "r");
		if (f) {
			if (fscanf(f, "listen cert %d", &E.port) != 1)
				E.port = 0;
			fclose(f);
		}
		if (E.port <= 0)
			usleep(50000);
	}
	if (E.port <= 0 || lx_http_global_init() != 0)
		return -1;
	struct lx_http_client_opts o = {.ca_file = E.cert, .max_host_connections = 4};
	char err[256];
	return lx_http_client_new(&o, &E.cl, err, sizeof err) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	lx_http_client_free(E.cl);
	lx_http_global_cleanup();
	stop(E.srv);
	if (E.dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", E.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", E.dir);
	}
	return 0;
}

static void url_of(char *buf, size_t n, int port, const char *name)
{
	snprintf(buf, n, "https://127.0.0.1:%d/%s", port, name);
}

/* ---- the state ---- */

static void test_state_ranges_merge(void **state)
{
	(void)state;
	struct lx_fetch_state s;
	lx_fetch_state_init(&s, 0);
	assert_int_equal(s.total, -1);
	assert_false(lx_fetch_state_complete(&s));
	static const struct {
		int64_t a, b;
		size_t n_held;
		int64_t held;
	} t[] = {
		{100, 200, 1, 100}, {300, 400, 2, 200}, {200, 300, 1, 300}, /* joins both */
		{50, 120, 1, 350},  {500, 600, 2, 450}, {0, 700, 1, 700},   /* swallows all */
		{10, 10, 1, 700},                                           /* empty: no change */
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		assert_true(lx_fetch_state_add(&s, t[i].a, t[i].b));
		if (s.n_held != t[i].n_held || lx_fetch_state_held(&s) != t[i].held)
			fail_msg("add [%lld, %lld): want %zu ranges / %lld bytes, got %zu / %lld",
				 (long long)t[i].a, (long long)t[i].b, t[i].n_held,
				 (long long)t[i].held, s.n_held, (long long)lx_fetch_state_held(&s));
	}
	s.total = 700;
	assert_true(lx_fetch_state_complete(&s));
	/* Full: a range that merges with nothing is refused (and fetched again later). */
	lx_fetch_state_init(&s, 0);
	for (int i = 0; i < LX_FETCH_RANGES_MAX; i++)
		assert_true(lx_fetch_state_add(&s, 10 * i, 10 * i + 5));
	assert_false(lx_fetch_state_add(&s, 100000, 100001));
	assert_true(lx_fetch_state_add(&s, 5, 10)); /* merges: fits */
	assert_int_equal(s.n_held, LX_FETCH_RANGES_MAX - 1);
}

/* ---- against li707_test_server ---- */

/* R-BIN-C1: the whole object, FILE appears complete, nothing left beside it. */
static void test_bin_c1_whole_fetch(void **state)
{
	(void)state;
	char url[128], path[160], part[176], meta[192];
	url_of(url, sizeof url, E.port, "obj.bin");
	snprintf(path, sizeof path, "%s/dl/whole", E.dir);
	snprintf(part, sizeof part, "%s.part", path);
	snprintf(meta, sizeof meta, "%s.part.etag", path);
	struct lx_fetch_file_opts o = {.url = url, .path = path, .sha256 = E.sha};
	char err[256] = "";
	int rc = lx_fetch_file(E.cl, &o, err, sizeof err);
	if (rc)
		fail_msg("fetch: %s (%s)", li707_errname(rc), err);
	assert_true(same_file(E.obj, path));
	assert_false(exists(part));
	assert_false(exists(meta));
}

/* R-BIN-C1: a known SHA-256 that does not match: EMISMATCH, no FILE, no part file. */
static void test_bin_c1_sha256_mismatch(void **state)
{
	(void)state;
	char url[128], path[160], part[176], meta[192];
	url_of(url, sizeof url, E.port, "obj.bin");
	snprintf(path, sizeof path, "%s/dl/bad", E.dir);
	snprintf(part, sizeof part, "%s.part", path);
	snprintf(meta, sizeof meta, "%s.part.etag", path);
	char wrong[65];
	memcpy(wrong, E.sha, sizeof wrong);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	struct lx_fetch_file_opts o = {.url = url, .path = path, .sha256 = wrong};
	char err[256] = "";
	assert_int_equal(lx_fetch_file(E.cl, &o, err, sizeof err), LI707_EMISMATCH);
	assert_non_null(strstr(err, E.sha)); /* the message says what was got */
	assert_false(exists(path));
	assert_false(exists(part));
	assert_false(exists(meta));
}

struct watch {
	volatile sig_atomic_t cancel;
	int64_t cancel_at;  /* raise the flag once this many bytes are held; 0: never */
	int validators;
	char etag[128];
	int64_t verified;   /* bytes reported verified */
	unsigned n_verified;
};

static void watch_progress(void *ud, int64_t have, int64_t total)
{
	(void)total;
	struct watch *w = ud;
	if (w->cancel_at && have >= w->cancel_at)
		w->cancel = 1;
}

static int watch_validator(void *ud, const struct lx_fetch_state *s)
{
	struct watch *w = ud;
	w->validators++;
	snprintf(w->etag, sizeof w->etag, "%s", s->etag);
	return 0;
}

static int watch_verified(void *ud, const struct lx_fetch_state *s, int64_t a, int64_t b)
{
	struct watch *w = ud;
	assert_true(b > a);
	assert_true(lx_fetch_state_held(s) >= b - a);
	w->verified += b - a;
	w->n_verified++;
	return 0;
}

/* R-BIN-C2: a run cancelled half-way keeps what it got and its validator; when the object
 * changes on the server meanwhile, If-Range makes the server send the whole new object, which
 * replaces the old bytes (never spliced). */
static void test_bin_c2_if_range_change(void **state)
{
	(void)state;
	char url[128], path[160], obj2[160];
	snprintf(obj2, sizeof obj2, "%s/obj2.bin", E.root);
	write_object(obj2, OBJ_SIZE, 2);
	url_of(url, sizeof url, E.port, "obj2.bin");
	snprintf(path, sizeof path, "%s/dl/chg", E.dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	struct watch w = {.cancel_at = 100000};
	struct lx_fetch_opts o = {.url = url, .fd = fd, .cancel = &w.cancel, .ud = &w,
				     .progress = watch_progress, .validator = watch_validator,
				     .verified = watch_verified};
	struct lx_fetch_state s;
	lx_fetch_state_init(&s, 0);
	char err[256] = "";
	assert_int_equal(lx_fetch_run(E.cl, &o, &s, err, sizeof err), -ECANCELED);
	assert_int_equal(w.validators, 1);
	assert_true(s.etag[0] == '"');
	assert_string_equal(w.etag, s.etag);
	int64_t held = lx_fetch_state_held(&s);
	assert_true(held >= 100000 && held < OBJ_SIZE);
	assert_true(w.verified == held); /* the bytes kept were reported, after an fsync */
	char old_etag[128];
	snprintf(old_etag, sizeof old_etag, "%s", s.etag);

	write_object(obj2, OBJ_SIZE, 3); /* changed: same size, new inode: a new ETag only */
	w.cancel = 0;
	w.cancel_at = 0;
	w.verified = 0;
	int rc = lx_fetch_run(E.cl, &o, &s, err, sizeof err);
	if (rc)
		fail_msg("resume: %s (%s)", li707_errname(rc), err);
	assert_int_equal(w.validators, 2); /* the new object was announced */
	assert_string_not_equal(s.etag, old_etag);
	assert_int_equal(s.total, OBJ_SIZE);
	assert_true(lx_fetch_state_complete(&s));
	assert_true(w.verified == OBJ_SIZE);
	close(fd);
	assert_true(same_file(obj2, path));
}

/* R-BIN-C1: several ranges of one object in flight at once, reassembled in order. */
static void test_bin_c1_parallel_ranges(void **state)
{
	(void)state;
	char url[128], path[160];
	url_of(url, sizeof url, E.port, "obj.bin");
	snprintf(path, sizeof path, "%s/dl/par", E.dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	struct watch w = {0};
	struct lx_fetch_opts o = {.url = url, .fd = fd, .chunk_max = 128 << 10, .parallel = 4,
				     .ud = &w, .verified = watch_verified};
	struct lx_fetch_state s;
	lx_fetch_state_init(&s, o.chunk_max);
	char err[256] = "";
	int rc = lx_fetch_run(E.cl, &o, &s, err, sizeof err);
	if (rc)
		fail_msg("fetch: %s (%s)", li707_errname(rc), err);
	close(fd);
	assert_true(same_file(E.obj, path));
	assert_true(w.verified == OBJ_SIZE);
	/* 1.5 MB in 128 KiB ranges: 12 of them, in 3 rounds of 4 after the first one. */
	assert_true(w.n_verified >= 12);
}

struct pieces {
	unsigned char *buf; /* the object as the data callback saw it */
	int64_t bytes;
	unsigned n;
};

static void pieces_data(void *ud, int64_t off, const char *p, size_t n)
{
	struct pieces *w = ud;
	assert_true(off >= 0 && off + (int64_t)n <= OBJ_SIZE);
	memcpy(w->buf + off, p, n);
	w->bytes += (int64_t)n;
	w->n++;
}

/* The data callback (li707-lea hashes the object as it comes) sees every body piece once,
 * at its offset, also with ranges in parallel and the writeback hint on. */
static void test_bin_c1_data_pieces(void **state)
{
	(void)state;
	char url[128], path[160];
	url_of(url, sizeof url, E.port, "obj.bin");
	snprintf(path, sizeof path, "%s/dl/pieces", E.dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	struct pieces w = {.buf = calloc(1, OBJ_SIZE)};
	assert_non_null(w.buf);
	struct lx_fetch_opts o = {.url = url, .fd = fd, .chunk_max = 128 << 10, .parallel = 4,
				     .ud = &w, .data = pieces_data, .writeback = 64 << 10};
	struct lx_fetch_state s;
	lx_fetch_state_init(&s, o.chunk_max);
	char err[256] = "";
	int rc = lx_fetch_run(E.cl, &o, &s, err, sizeof err);
	if (rc)
		fail_msg("fetch: %s (%s)", li707_errname(rc), err);
	close(fd);
	assert_true(same_file(E.obj, path));
	assert_true(w.bytes == OBJ_SIZE);
	assert_true(w.n >= 12);
	char hex[65];
	assert_int_equal(li707_sha256_hex(w.buf, OBJ_SIZE, hex), 0);
	assert_string_equal(hex, E.sha);
	free(w.buf);
}

/* ---- against reset_server.py ---- */

struct peer {
	pid_t pid;
	int port;
	char log[160];
};

static void peer_start(struct peer *p, const char *name, const char *limit)
{
	p->port = tu_free_port();
	assert_true(p->port > 0);
	char ports[16];
	snprintf(ports, sizeof ports, "%d", p->port);
	snprintf(p->log, sizeof p->log, "%s/%s.log", E.dir, name);
	char *argv[] = {"python3", LI707_SOURCE_DIR "/tests/integration/peers/reset_server.py",
			ports, E.cert, E.key, E.obj, (char *)limit, p->log, NULL};
	p->pid = spawn(NULL, argv);
	assert_true(port_up(p->port));
}

/* R-BIN-C2: FILE.part and its validator from an interrupted run: the next asks only for
 * the rest (Range: bytes=N-, If-Range), and FILE is the whole object. */
static void test_bin_c2_resume_from_part(void **state)
{
	(void)state;
	struct peer p;
	peer_start(&p, "resume", "1000000000");
	char url[128], path[160], part[176], meta[192], cmd[1024];
	url_of(url, sizeof url, p.port, "obj");
	snprintf(path, sizeof path, "%s/dl/res", E.dir);
	snprintf(part, sizeof part, "%s.part", path);
	snprintf(meta, sizeof meta, "%s.part.etag", path);
	snprintf(cmd, sizeof cmd, "head -c 300000 '%s' > '%s' && printf '\"li707-%d\"' > '%s'",
		 E.obj, part, OBJ_SIZE, meta);
	assert_int_equal(system(cmd), 0);
	struct lx_fetch_file_opts o = {.url = url, .path = path, .sha256 = E.sha,
					  .resume = true};
	char err[256] = "";
	int rc = lx_fetch_file(E.cl, &o, err, sizeof err);
	stop(p.pid);
	if (rc)
		fail_msg("resume: %s (%s)", li707_errname(rc), err);
	assert_true(same_file(E.obj, path));
	snprintf(cmd, sizeof cmd, "300000-%d sent", OBJ_SIZE - 1);
	if (!file_has(p.log, cmd))
		fail_msg("the server was not asked for the rest only (%s)", cmd);
	assert_false(exists(part));
	assert_false(exists(meta));
}

/* R-BIN-C2 (Annex E): every response longer than 256 KiB is cut by a reset; the engine keeps
 * what came, shrinks the range until ranges get through, and grows it again after a success. */
static void test_bin_c2_shrink_after_cut(void **state)
{
	(void)state;
	struct peer p;
	peer_start(&p, "shrink", "262144");
	char url[128], path[160];
	url_of(url, sizeof url, p.port, "obj");
	snprintf(path, sizeof path, "%s/dl/shrink", E.dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	struct watch w = {0};
	struct lx_fetch_opts o = {.url = url, .fd = fd, .chunk_max = 1 << 20, .ud = &w,
				     .verified = watch_verified, .max_failures = 20};
	struct lx_fetch_state s;
	lx_fetch_state_init(&s, o.chunk_max);
	char err[256] = "";
	int rc = lx_fetch_run(E.cl, &o, &s, err, sizeof err);
	stop(p.pid);
	close(fd);
	if (rc)
		fail_msg("fetch: %s (%s)", li707_errname(rc), err);
	assert_true(same_file(E.obj, path));
	assert_true(w.verified == OBJ_SIZE);
	/* The log: a 1 MiB range reset, then smaller ones sent, and after a success a larger
	 * range than the one that succeeded tried again. */
	FILE *f = fopen(p.log, "r");
	assert_non_null(f);
	long long a, b, last_sent = 0;
	char what[16];
	bool reset_big = false, sent = false, grew = false;
	while (fscanf(f, "%lld-%lld %15s", &a, &b, what) == 3) {
		long long len = b - a + 1;
		if (strcmp(what, "reset") == 0) {
			reset_big = reset_big || len == 1 << 20;
			grew = grew || (last_sent && len > last_sent);
		} else {
			sent = true;
			grew = grew || (last_sent && len > last_sent);
			last_sent = len;
		}
	}
	fclose(f);
	assert_true(reset_big);
	assert_true(sent);
	assert_true(grew);
}

static void test_fsync_parent(void **state)
{
	(void)state;
	char p[160];
	snprintf(p, sizeof p, "%s/dl/whatever", E.dir);
	assert_int_equal(lx_fsync_parent(p), 0);
	snprintf(p, sizeof p, "%s/dl///", E.dir);
	assert_int_equal(lx_fsync_parent(p), 0);
	assert_int_equal(lx_fsync_parent("bare-name"), 0);
	assert_int_equal(lx_fsync_parent("/x"), 0);
	snprintf(p, sizeof p, "%s/no-such-dir/x", E.dir);
	assert_int_equal(lx_fsync_parent(p), -ENOENT);
	assert_int_equal(lx_fsync_dir(E.obj), -ENOTDIR);
}

int main(void)
{
	if (system("command -v python3 >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && "
		   "command -v cmp >/dev/null 2>&1") != 0) {
		printf("SKIP: python3, openssl or cmp missing\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_ranges_merge),
		cmocka_unit_test(test_bin_c1_whole_fetch),
		cmocka_unit_test(test_bin_c1_sha256_mismatch),
		cmocka_unit_test(test_bin_c2_if_range_change),
		cmocka_unit_test(test_bin_c1_parallel_ranges),
		cmocka_unit_test(test_bin_c1_data_pieces),
		cmocka_unit_test(test_bin_c2_resume_from_part),
		cmocka_unit_test(test_bin_c2_shrink_after_cut),
		cmocka_unit_test(test_fsync_parent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
