/* The daemon skeleton (src/common/daemon.c) with a toy daemon that is not the LEA: a child
 * process runs lx_daemon_run; the test sends it real signals and reads the callbacks' trace
 * from a pipe and the log lines from its stderr. Checks the order of the lifecycle (load,
 * start, started, tick, SIGHUP: load, prepare, swap, applied; SIGTERM: stop), that a failed
 * reload keeps the running generation, that generations are freed, and the exit statuses. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "li707/error.h"
#include "testutil.h"

static int trace_fd = -1;

struct toy_gen {
	struct lx_gen lx;
	int version;
};

__attribute__((format(printf, 1, 2))) static void trace(const char *fmt, ...)
{
	char line[64];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (write(trace_fd, line, (size_t)len) != len)
		_exit(99);
}

static void toy_release(struct lx_gen *g)
{
	trace("free %d\n", ((struct toy_gen *)g)->version);
	free(g);
}

/* The file holds a number: the version; "bad" is a syntax error; 99 fails prepare; 98
 * fails start. */
static int toy_load(void *app, const char *path, struct lx_gen **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot read", path);
		return -ENOENT;
	}
	int v = 0;
	int ok = fscanf(f, "%d", &v);
	fclose(f);
	if (ok != 1) {
		snprintf(err, errlen, "toy.conf:1: not a number");
		return LI707_EINPUT;
	}
	struct toy_gen *g = calloc(1, sizeof *g);
	if (!g)
		return LI707_ENOMEM;
	lx_gen_init(&g->lx, toy_release);
	g->version = v;
	*out = &g->lx;
	trace("load %d\n", v);
	return 0;
}

static enum lx_log_level toy_level(const struct lx_gen *g)
{
	return LX_LOG_INFO;
}

static int toy_start(void *app, struct lx_gen *g)
{
	int v = ((struct toy_gen *)g)->version;
	trace("start %d\n", v);
	lx_daemon_set_tick(app, 3600);
	return v == 98 ? -EADDRINUSE : 0; /* as a listener that cannot bind */
}

static void toy_started(void *app, struct lx_gen *g)
{
	trace("started %d\n", ((struct toy_gen *)g)->version);
}

static int toy_prepare(void *app, struct lx_gen *cur, struct lx_gen *next)
{
	int v = ((struct toy_gen *)next)->version;
	trace("prepare %d\n", v);
	/* A reference of our own to what is current must work while preparing. */
	struct lx_gen *c = lx_daemon_gen(app);
	if (c != cur)
		_exit(98);
	lx_gen_unref(c);
	return v == 99 ? LI707_EINPUT : 0;
}

static void toy_applied(void *app, struct lx_gen *g)
{
	struct lx_gen *c = lx_daemon_gen(app);
	trace("applied %d\n", ((struct toy_gen *)c)->version);
	lx_gen_unref(c);
}

static void toy_tick(void *app)
{
	trace("tick\n");
}

static void toy_stop(void *app)
{
	trace("stop\n");
}

static const struct lx_daemon_ops ops = {
	.name = "toyd",
	.load = toy_load,
	.log_level = toy_level,
	.start = toy_start,
	.started = toy_started,
	.prepare = toy_prepare,
	.applied = toy_applied,
	.tick = toy_tick,
	.stop = toy_stop,
};

static void write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

struct child {
	pid_t pid;
	int rd;           /* trace */
	char log[64];     /* stderr file */
	char got[4096];
	size_t n;
};

static void spawn(struct child *c, const char *conf)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	snprintf(c->log, sizeof c->log, "/tmp/test-daemon-log-XXXXXX");
	int lfd = mkstemp(c->log);
	assert_true(lfd >= 0);
	c->n = 0;
	c->got[0] = '\0';
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		close(p[0]);
		trace_fd = p[1];
		dup2(lfd, STDERR_FILENO);
		struct lx_daemon d = {.ops = &ops, .config_path = conf};
		d.app = &d;
		_exit(lx_daemon_run(&d));
	}
	close(lfd);
	close(p[1]);
	c->rd = p[0];
}

/* Reads the trace until it contains want (or EOF); fails the test if it never does. */
static void wait_for(struct child *c, const char *want)
{
	while (!strstr(c->got, want)) {
		ssize_t r = read(c->rd, c->got + c->n, sizeof c->got - 1 - c->n);
		if (r <= 0) {
			print_error("trace ended without \"%s\":\n%s", want, c->got);
			fail();
		}
		c->n += (size_t)r;
		c->got[c->n] = '\0';
	}
}

static int reap(struct child *c)
{
	int st = 0;
	ssize_t r;
	while ((r = read(c->rd, c->got + c->n, sizeof c->got - 1 - c->n)) > 0) {
		c->n += (size_t)r;
		c->got[c->n] = '\0';
	}
	close(c->rd);
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void daemon_reload_and_drain(void **state)
{
	(void)state;
	char conf[] = "/tmp/test-daemon-conf-XXXXXX";
	int fd = mkstemp(conf);
	assert_true(fd >= 0);
	close(fd);
	write_conf(conf, "1\n");
	struct child c;
	spawn(&c, conf);
	wait_for(&c, "tick\n");
	write_conf(conf, "2\n");
	kill(c.pid, SIGHUP);
	wait_for(&c, "applied 2\n");
	write_conf(conf, "99\n"); /* prepare refuses it: 2 stays */
	kill(c.pid, SIGHUP);
	wait_for(&c, "free 99\n");
	write_conf(conf, "bad\n"); /* load refuses it */
	kill(c.pid, SIGHUP);
	kill(c.pid, SIGTERM);
	assert_int_equal(reap(&c), 0);
	static const char want[] = "load 1\nstart 1\nstarted 1\ntick\n"
				   "load 2\nprepare 2\nfree 1\napplied 2\n"
				   "load 99\nprepare 99\nfree 99\n"
				   "stop\nfree 2\n";
	assert_string_equal(c.got, want);
	size_t len;
	char *log = tu_read_file(c.log, &len);
	unlink(c.log);
	unlink(conf);
	char line[256];
	snprintf(line, sizeof line, "toyd: info: SIGHUP: reloading %s\n", conf);
	assert_non_null(strstr(log, line));
	assert_non_null(strstr(log, "toyd: error: reload: toy.conf:1: not a number; keeping the running "
				    "configuration\n"));
	assert_non_null(strstr(log, "toyd: info: SIGTERM: draining\ntoyd: info: stopped\n"));
	free(log);
}

/* A configuration that cannot be read or is bad exits 3 or 4 without starting; a start that
 * fails stops and exits 3. */
static void daemon_exit_statuses(void **state)
{
	(void)state;
	struct child c;
	spawn(&c, "/nonexistent/toy.conf");
	assert_int_equal(reap(&c), 3);
	assert_string_equal(c.got, "");
	unlink(c.log);

	char conf[] = "/tmp/test-daemon-conf-XXXXXX";
	int fd = mkstemp(conf);
	assert_true(fd >= 0);
	close(fd);
	write_conf(conf, "bad\n");
	spawn(&c, conf);
	assert_int_equal(reap(&c), 4);
	size_t len;
	char *log = tu_read_file(c.log, &len);
	assert_string_equal(log, "toyd: error: toy.conf:1: not a number\n");
	free(log);
	unlink(c.log);

	write_conf(conf, "98\n");
	spawn(&c, conf);
	assert_int_equal(reap(&c), 3);
	assert_string_equal(c.got, "load 98\nstart 98\nstop\nfree 98\n");
	unlink(c.log);
	unlink(conf);
}

static void toy_usage(FILE *f)
{
	fputs("Usage: toyd [--config FILE]\n", f);
}

/* The command line both daemons share (lx_daemon_args_parse): options into the struct, -1 to
 * go on, 0 after --help/--version, 2 for a usage error. */
static void daemon_args(void **state)
{
	(void)state;
	struct lx_daemon_args a;
	char *v1[] = {"toyd", NULL};
	assert_int_equal(lx_daemon_args_parse(1, v1, "toyd", "/etc/toy.conf", toy_usage, &a), -1);
	assert_string_equal(a.config_path, "/etc/toy.conf");
	assert_false(a.check_config);
	assert_false(a.level_from_cli);
	assert_int_equal(a.level, LX_LOG_INFO);

	char *v2[] = {"toyd", "-c", "x.conf", "--check-config", "--log-level", "debug", NULL};
	assert_int_equal(lx_daemon_args_parse(6, v2, "toyd", "/etc/toy.conf", toy_usage, &a), -1);
	assert_string_equal(a.config_path, "x.conf");
	assert_true(a.check_config);
	assert_true(a.level_from_cli);
	assert_int_equal(a.level, LX_LOG_DEBUG);

	char *v3[] = {"toyd", "--config=y.conf", NULL};
	assert_int_equal(lx_daemon_args_parse(2, v3, "toyd", "/etc/toy.conf", toy_usage, &a), -1);
	assert_string_equal(a.config_path, "y.conf");

	char *bad_level[] = {"toyd", "--log-level", "loud", NULL};
	char *unknown[] = {"toyd", "--bogus", NULL};
	char *missing[] = {"toyd", "--config", NULL};
	char *extra[] = {"toyd", "extra", NULL};
	assert_int_equal(lx_daemon_args_parse(3, bad_level, "toyd", "d", toy_usage, &a), 2);
	assert_int_equal(lx_daemon_args_parse(2, unknown, "toyd", "d", toy_usage, &a), 2);
	assert_int_equal(lx_daemon_args_parse(2, missing, "toyd", "d", toy_usage, &a), 2);
	assert_int_equal(lx_daemon_args_parse(2, extra, "toyd", "d", toy_usage, &a), 2);

	char *help[] = {"toyd", "--help", NULL};
	char *version[] = {"toyd", "-V", NULL};
	assert_int_equal(lx_daemon_args_parse(2, help, "toyd", "d", toy_usage, &a), 0);
	assert_int_equal(lx_daemon_args_parse(2, version, "toyd", "d", toy_usage, &a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(daemon_reload_and_drain),
		cmocka_unit_test(daemon_exit_statuses),
		cmocka_unit_test(daemon_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
