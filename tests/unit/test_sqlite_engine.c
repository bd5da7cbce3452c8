/* Unit tests of the group-commit SQLite engine on its own (src/common/sqlite_engine.h), with
 * a toy table and job type instead of the LEA's:
 * - jobs that arrive while the writer is busy are committed together (one batch);
 * - a caller is answered only after an fdatasync of the WAL that ended after its COMMIT;
 * - a job that fails inside a batch is rolled back alone, the others are stored once;
 * - what was committed is there after close and reopen, and the reopened engine writes;
 * - a second process cannot open the same database for writing while the lock is held, and
 *   can once it is released.
 * The writer is held inside one job (the "gate") until the other callers have queued, so
 * that the batches these tests look at are made of several jobs. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "sqlite_engine.h"

#define NCALLERS 8

struct toy_job {
	struct lx_job base;            /* first: the hooks cast it back */
	const char *v;                 /* value to insert; NULL fails (NOT NULL) */
	bool gate;                     /* holds the writer until the others are queued */
	int batch_size;                /* jobs in the batch that carried it (batch_end) */
	uint64_t syncs_at_commit;      /* fdatasyncs done when its batch was committed */
	bool committed;                /* batch_end saw its COMMIT succeed */
};

struct toy {
	char dir[64], db[128], lock[128];
	struct lx_engine *e;
	sqlite3_stmt *ins;
	atomic_int runs, job_rollbacks, tx_rollbacks, begins, before_commits;
	atomic_int arrived;            /* callers about to submit (the gate waits for them) */
	atomic_bool gate_running;
	int expect_arrived;
	int max_batch;
};

static int toy_run(void *cls, struct lx_job *b)
{
	struct toy *t = cls;
	struct toy_job *j = (struct toy_job *)b;
	t->runs++;
	if (j->gate) {
		t->gate_running = true;
		while (t->arrived < t->expect_arrived)
			usleep(1000);
		usleep(200 * 1000); /* the callers that arrived are queued by now */
	}
	int rc = lx_sq_bind(t->ins, "t", j->v);
	return rc ? (lx_sq_done(t->ins), rc) : lx_sq_step_done(t->ins);
}

static int toy_batch_begin(void *cls)
{
	struct toy *t = cls;
	t->begins++;
	return 0;
}

static int toy_rollback(void *cls, struct lx_job *b, int rc)
{
	struct toy *t = cls;
	if (b)
		t->job_rollbacks++;
	else
		t->tx_rollbacks++;
	return rc;
}

static int toy_before_commit(void *cls, struct lx_job *batch)
{
	struct toy *t = cls;
	(void)batch;
	t->before_commits++;
	return 0;
}

static void toy_batch_end(void *cls, struct lx_job *batch, int rc)
{
	struct toy *t = cls;
	struct lx_engine_stats st;
	lx_engine_stats(t->e, &st);
	int n = 0;
	for (struct lx_job *b = batch; b; b = b->next)
		n++;
	if (n > t->max_batch)
		t->max_batch = n;
	for (struct lx_job *b = batch; b; b = b->next) {
		struct toy_job *j = (struct toy_job *)b;
		j->batch_size = n;
		j->syncs_at_commit = st.syncs;
		j->committed = rc == 0;
	}
}

static const struct lx_engine_hooks TOY_HOOKS = {
	.run = toy_run,
	.batch_begin = toy_batch_begin,
	.rollback = toy_rollback,
	.before_commit = toy_before_commit,
	.batch_end = toy_batch_end,
};

static int toy_open(struct toy *t, bool sync_normal, char *err, size_t errlen)
{
	struct lx_engine_opts o = {.dbpath = t->db, .lock_path = t->lock, .name = "toy",
				   .sync_normal = sync_normal, .hooks = &TOY_HOOKS, .cls = t};
	int rc = lx_engine_open(&o, &t->e, err, errlen);
	if (rc)
		return rc;
	sqlite3 *db = lx_engine_wdb(t->e);
	assert_int_equal(lx_sq_exec_sql(db, "CREATE TABLE IF NOT EXISTS toy("
					    " id INTEGER PRIMARY KEY, v TEXT NOT NULL)"), 0);
	assert_int_equal(lx_engine_prepare(t->e, "INSERT INTO toy(v) VALUES(?1)", &t->ins), 0);
	return lx_engine_start(t->e, err, errlen);
}

static int setup(void **state)
{
	struct toy *t = calloc(1, sizeof *t);
	assert_non_null(t);
	snprintf(t->dir, sizeof t->dir, "/tmp/li707-engine-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->db, sizeof t->db, "%s/toy.sqlite", t->dir);
	snprintf(t->lock, sizeof t->lock, "%s/lock", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct toy *t = *state;
	lx_engine_close(t->e);
	tu_rm_rf(t->dir);
	free(t);
	return 0;
}

/* Rows of the toy table, read through the engine's read pool: count, distinct values, and
 * how many carry v. */
static void toy_count(struct toy *t, const char *v, int64_t *n, int64_t *distinct, int64_t *of_v)
{
	sqlite3 *db = NULL;
	assert_int_equal(lx_engine_read_get(t->e, &db), 0);
	*n = lx_sq_query_int(db, "SELECT count(*) FROM toy", -1);
	*distinct = lx_sq_query_int(db, "SELECT count(DISTINCT v) FROM toy", -1);
	if (of_v) {
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM toy WHERE v = ?1", -1, &st,
						    NULL), SQLITE_OK);
		assert_int_equal(lx_sq_bind(st, "t", v), 0);
		assert_int_equal(lx_sq_step_int(st, of_v), 1);
		sqlite3_finalize(st);
	}
	lx_engine_read_put(t->e, db);
}

struct caller {
	struct toy *t;
	struct toy_job j;
	int rc;
	uint64_t syncs_at_answer;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	if (!c->j.gate) {
		while (!c->t->gate_running)
			usleep(1000);
		c->t->arrived++;
	}
	c->rc = lx_engine_submit(c->t->e, &c->j.base);
	struct lx_engine_stats st;
	lx_engine_stats(c->t->e, &st);
	c->syncs_at_answer = st.syncs;
	return NULL;
}

/* Caller 0 submits the gate job; the others queue behind it. bad: the index of a caller
 * whose job fails (-1: none). */
static void run_callers(struct toy *t, struct caller *c, char vals[][16], int bad)
{
	pthread_t th[NCALLERS];
	t->expect_arrived = NCALLERS - 1;
	for (int i = 0; i < NCALLERS; i++) {
		snprintf(vals[i], 16, "v%d", i);
		c[i] = (struct caller){.t = t, .j = {.v = i == bad ? NULL : vals[i], .gate = i == 0}};
		assert_int_equal(pthread_create(&th[i], NULL, caller_main, &c[i]), 0);
	}
	for (int i = 0; i < NCALLERS; i++)
		pthread_join(th[i], NULL);
}

/* Jobs queued while the writer is busy go into one transaction; every caller is answered
 * after an fdatasync that ended after its batch's COMMIT. */
static void test_engine_group_commit(void **state)
{
	struct toy *t = *state;
	char err[256] = "", vals[NCALLERS][16];
	struct caller c[NCALLERS];
	assert_int_equal(toy_open(t, false, err, sizeof err), 0);
	run_callers(t, c, vals, -1);
	for (int i = 0; i < NCALLERS; i++) {
		assert_int_equal(c[i].rc, 0);
		assert_true(c[i].j.committed);
		/* answered only after a sync that the writer had not seen at COMMIT */
		assert_true(c[i].syncs_at_answer > c[i].j.syncs_at_commit);
	}
	assert_true(t->max_batch >= NCALLERS - 1);
	struct lx_engine_stats st;
	lx_engine_stats(t->e, &st);
	assert_int_equal(st.jobs, NCALLERS);
	assert_true(st.batches < st.jobs);
	assert_int_equal(t->tx_rollbacks, 0);
	assert_int_equal(t->job_rollbacks, 0);
	int64_t n, distinct;
	toy_count(t, NULL, &n, &distinct, NULL);
	assert_int_equal(n, NCALLERS);
	assert_int_equal(distinct, NCALLERS);
}

/* One caller at a time: each answer comes after its own fdatasync (durable), and with
 * sync_normal without any. */
static void test_engine_ack_after_sync(void **state)
{
	struct toy *t = *state;
	char err[256] = "";
	assert_int_equal(toy_open(t, false, err, sizeof err), 0);
	for (int i = 0; i < 5; i++) {
		struct toy_job j = {.v = "one"};
		assert_int_equal(lx_engine_submit(t->e, &j.base), 0);
		struct lx_engine_stats st;
		lx_engine_stats(t->e, &st);
		assert_int_equal(j.batch_size, 1);
		assert_true(st.syncs > j.syncs_at_commit);
		assert_true(st.syncs >= (uint64_t)i + 1);
	}
	lx_engine_close(t->e);
	t->e = NULL;
	assert_int_equal(toy_open(t, true, err, sizeof err), 0);
	struct toy_job j = {.v = "two"};
	assert_int_equal(lx_engine_submit(t->e, &j.base), 0);
	struct lx_engine_stats st;
	lx_engine_stats(t->e, &st);
	assert_int_equal(st.syncs, 0);
}

/* A job that fails in the middle of a batch: the transaction is rolled back once and run
 * again with each job in its savepoint; the failing job alone gets the error, every other
 * job of the batch is stored exactly once. */
static void test_engine_rollback_one_job(void **state)
{
	struct toy *t = *state;
	char err[256] = "", vals[NCALLERS][16];
	struct caller c[NCALLERS];
	int bad = NCALLERS / 2;
	assert_int_equal(toy_open(t, false, err, sizeof err), 0);
	run_callers(t, c, vals, bad);
	assert_true(c[bad].j.batch_size > 1); /* it failed among others */
	for (int i = 0; i < NCALLERS; i++)
		assert_int_equal(c[i].rc, i == bad ? LI707_EINVAL : 0);
	assert_int_equal(t->tx_rollbacks, 1);
	assert_int_equal(t->job_rollbacks, 1);
	int64_t n, distinct, of_v;
	toy_count(t, NULL, &n, &distinct, NULL);
	assert_int_equal(n, NCALLERS - 1);
	assert_int_equal(distinct, NCALLERS - 1);
	for (int i = 0; i < NCALLERS; i++) {
		if (i == bad)
			continue;
		toy_count(t, vals[i], &n, &distinct, &of_v);
		assert_int_equal(of_v, 1);
	}
}

/* The writer's statement list grows through li707_array_grow up to LX_STMTS_MAX distinct
 * statements: one more is refused with LI707_ELIMIT and the ones prepared stay usable (the
 * engine closes them). The same SQL text again is the statement already prepared (reset),
 * not a new one: preparing in every job never reaches the cap. */
static void test_engine_stmts_cap(void **state)
{
	struct toy *t = *state;
	char err[256] = "";
	struct lx_engine_opts o = {.dbpath = t->db, .lock_path = t->lock, .name = "toy",
				   .hooks = &TOY_HOOKS, .cls = t};
	assert_int_equal(lx_engine_open(&o, &t->e, err, sizeof err), 0);
	sqlite3_stmt *st = NULL, *first = NULL, *again = NULL;
	assert_int_equal(lx_engine_prepare(t->e, "SELECT 0", &first), 0);
	assert_int_equal(sqlite3_step(first), SQLITE_ROW); /* left mid-way: reset on reuse */
	for (size_t i = 0; i < 3 * LX_STMTS_MAX; i++) {
		assert_int_equal(lx_engine_prepare(t->e, "SELECT 0", &again), 0);
		assert_ptr_equal(again, first);
	}
	assert_int_equal(sqlite3_step(again), SQLITE_ROW);
	for (size_t i = 1; i < LX_STMTS_MAX; i++) {
		char sql[32];
		snprintf(sql, sizeof sql, "SELECT %zu", i);
		assert_int_equal(lx_engine_prepare(t->e, sql, &st), 0);
	}
	sqlite3_stmt *over = NULL;
	assert_int_equal(lx_engine_prepare(t->e, "SELECT 'one more'", &over), LI707_ELIMIT);
	assert_null(over);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	sqlite3_reset(st);
}

static size_t stmts_on(sqlite3 *db)
{
	size_t n = 0;
	for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st))
		n++;
	return n;
}

/* A read connection's statement cache (lx_engine_read_prepare): the same SQL text is the
 * statement already prepared, over many calls and across giving the connection back to the
 * pool and taking it again; it is reset with its bindings cleared and sees rows committed
 * after its last use (no read transaction left open by read_done); a statement in use is
 * never handed out twice; at most LX_READ_STMTS stay prepared (the idle ones are finalized,
 * one in use survives); the engine finalizes what is left at close (ASan: no leak). */
static void test_engine_read_stmt_cache(void **state)
{
	struct toy *t = *state;
	char err[256] = "";
	assert_int_equal(toy_open(t, false, err, sizeof err), 0);
	struct toy_job a = {.v = "a"};
	assert_int_equal(lx_engine_submit(t->e, &a.base), 0);
	static const char Q[] = "SELECT count(*) FROM toy WHERE v = ?1 OR ?1 IS NULL";
	sqlite3 *db = NULL;
	assert_int_equal(lx_engine_read_get(t->e, &db), 0);
	sqlite3_stmt *first = NULL, *st = NULL, *other = NULL;
	assert_int_equal(lx_engine_read_prepare(db, Q, &first), 0);
	assert_int_equal(lx_sq_bind(first, "t", "a"), 0);
	assert_int_equal(sqlite3_step(first), SQLITE_ROW); /* in use: not handed out again */
	assert_int_equal(lx_engine_read_prepare(db, Q, &other), 0);
	assert_ptr_not_equal(other, first);
	lx_engine_read_done(other);
	lx_engine_read_done(first);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(lx_engine_read_prepare(db, Q, &st), 0);
		assert_true(st == first || st == other);
		/* bindings cleared: ?1 is NULL, every row counts */
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(st, 0), 1);
		lx_engine_read_done(st);
	}
	assert_int_equal(stmts_on(db), 2);
	lx_engine_read_put(t->e, db);
	struct toy_job b = {.v = "b"};
	assert_int_equal(lx_engine_submit(t->e, &b.base), 0);
	sqlite3 *db2 = NULL;
	assert_int_equal(lx_engine_read_get(t->e, &db2), 0);
	assert_ptr_equal(db2, db); /* the pooled connection, its statements kept */
	assert_int_equal(lx_engine_read_prepare(db2, Q, &st), 0);
	assert_true(st == first || st == other);
	assert_int_equal(lx_sq_bind(st, "t", "b"), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 1); /* the row committed since */
	/* st stays in use while the cache overflows: it survives, the idle ones go */
	for (size_t i = 0; i < 3 * LX_READ_STMTS; i++) {
		char sql[48];
		snprintf(sql, sizeof sql, "SELECT %zu FROM toy", i);
		sqlite3_stmt *x = NULL;
		assert_int_equal(lx_engine_read_prepare(db2, sql, &x), 0);
		assert_int_equal(sqlite3_step(x), SQLITE_ROW);
		lx_engine_read_done(x);
		assert_true(stmts_on(db2) <= LX_READ_STMTS + 1);
	}
	bool kept = false;
	for (sqlite3_stmt *x = sqlite3_next_stmt(db2, NULL); x; x = sqlite3_next_stmt(db2, x))
		kept = kept || x == st;
	assert_true(kept);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	lx_engine_read_done(st);
	assert_int_equal(lx_engine_read_prepare(db2, "", &st), LI707_EINVAL);
	lx_engine_read_put(t->e, db2); /* left prepared: finalized by lx_engine_close */
}

/* Close answers what is queued and releases everything; a reopen sees every committed row
 * and writes again. */
static void test_engine_reopen(void **state)
{
	struct toy *t = *state;
	char err[256] = "";
	assert_int_equal(toy_open(t, false, err, sizeof err), 0);
	struct toy_job a = {.v = "before"};
	assert_int_equal(lx_engine_submit(t->e, &a.base), 0);
	lx_engine_close(t->e);
	t->e = NULL;
	assert_int_equal(toy_open(t, false, err, sizeof err), 0);
	struct toy_job b = {.v = "after"};
	assert_int_equal(lx_engine_submit(t->e, &b.base), 0);
	int64_t n, distinct, of_v;
	toy_count(t, "before", &n, &distinct, &of_v);
	assert_int_equal(n, 2);
	assert_int_equal(of_v, 1);
	/* a read-only engine lends read connections and refuses writes */
	struct lx_engine *ro = NULL;
	struct lx_engine_opts o = {.dbpath = t->db, .read_only = true};
	assert_int_equal(lx_engine_open(&o, &ro, err, sizeof err), 0);
	struct toy_job c = {.v = "ro"};
	assert_int_equal(lx_engine_submit(ro, &c.base), -EROFS);
	sqlite3 *db = NULL;
	assert_int_equal(lx_engine_read_get(ro, &db), 0);
	assert_int_equal(lx_sq_query_int(db, "SELECT count(*) FROM toy", -1), 2);
	lx_engine_read_put(ro, db);
	lx_engine_close(ro);
}

/* Child: waits for a byte on `go`, tries a writable open, answers rc (as one byte, negated)
 * and whether the message says the store is in use, twice (lock held, then released). */
static void lock_child(struct toy *t, int go, int out)
{
	for (int round = 0; round < 2; round++) {
		char b;
		if (read(go, &b, 1) != 1)
			_exit(3);
		struct lx_engine *e = NULL;
		char err[256] = "";
		struct lx_engine_opts o = {.dbpath = t->db, .lock_path = t->lock, .name = "toy2",
					   .hooks = &TOY_HOOKS, .cls = t};
		int rc = lx_engine_open(&o, &e, err, sizeof err);
		char ans[2] = {(char)-rc, strstr(err, "in use") != NULL};
		lx_engine_close(e);
		if (write(out, ans, 2) != 2)
			_exit(3);
	}
	_exit(0);
}

/* The flock: a second process is refused (-EBUSY, "in use") while an engine has the
 * database open for writing, and gets it once that engine is closed. The child is forked
 * before any engine thread exists. */
static void test_engine_lock_second_process(void **state)
{
	struct toy *t = *state;
	int go[2], back[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(back), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(back[0]);
		lock_child(t, go[0], back[1]);
	}
	close(go[0]);
	close(back[1]);
	char err[256] = "", ans[2];
	assert_int_equal(toy_open(t, false, err, sizeof err), 0);
	assert_int_equal(write(go[1], "1", 1), 1);
	assert_int_equal(read(back[0], ans, 2), 2);
	assert_int_equal(ans[0], EBUSY);
	assert_int_equal(ans[1], 1);
	lx_engine_close(t->e);
	t->e = NULL;
	assert_int_equal(write(go[1], "2", 1), 1);
	assert_int_equal(read(back[0], ans, 2), 2);
	assert_int_equal(ans[0], 0);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(go[1]);
	close(back[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_ack_after_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_rollback_one_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_stmts_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_read_stmt_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_lock_second_process, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
