/* li707-csp - the durable queue (csp_store.h): open, schema, recovery at open, and the write
 * jobs run by the group-commit engine on its writer thread.
 *
 * DESIGN. Every write is one struct cjob: a function run on the writer connection inside the
 * engine's transaction (always in its own savepoint, so a failing job never takes the
 * others of its batch with it) and answered after the commit is fdatasync'd. A job may run
 * twice (the engine reruns a batch after a failure): each run starts from its inputs and
 * rewrites its outputs. Ingest is one job per request (its lines each in a nested savepoint
 * of their own), so a batch of lines costs one fsync. States are stored as their names
 * (docs/internals/csp.md lists the columns). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csp_store_int.h"
#include "errbuf.h"
#include "fdio.h"
#include "li707/error.h"
#include "li707/util.h"

static const char SCHEMA[] =
	"CREATE TABLE refs("
	" id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ref TEXT, lea TEXT NOT NULL,"
	" until INTEGER, review INTEGER NOT NULL DEFAULT 0, field TEXT, salt TEXT, hash TEXT,"
	" state TEXT NOT NULL DEFAULT 'open', delivery_id TEXT NOT NULL UNIQUE,"
	" next_seq INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL, closed_at INTEGER);"
	"CREATE UNIQUE INDEX refs_open ON refs(ref) WHERE state = 'open';"
	"CREATE TABLE conversations("
	" ref_id INTEGER NOT NULL, key BLOB NOT NULL, app_level INTEGER NOT NULL,"
	" next_seq INTEGER NOT NULL, PRIMARY KEY(ref_id, key)) WITHOUT ROWID;"
	"CREATE TABLE events("
	" id INTEGER PRIMARY KEY, ref_id INTEGER NOT NULL, accepted_at INTEGER NOT NULL,"
	" json BLOB NOT NULL, bytes INTEGER NOT NULL, app_level INTEGER, app_seq INTEGER,"
	" state TEXT NOT NULL DEFAULT 'queued', delivery INTEGER);"
	"CREATE INDEX events_queued ON events(ref_id, id) WHERE state = 'queued';"
	"CREATE INDEX events_delivery ON events(delivery) WHERE delivery IS NOT NULL;"
	"CREATE TABLE objects("
	" id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, idx INTEGER NOT NULL,"
	" ref_id INTEGER NOT NULL, uuid TEXT NOT NULL UNIQUE, token TEXT NOT NULL UNIQUE,"
	" path TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,"
	" content_type TEXT NOT NULL, model TEXT NOT NULL, expiry INTEGER NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'stored', push_state TEXT, push_attempts INTEGER NOT NULL"
	" DEFAULT 0, push_next INTEGER NOT NULL DEFAULT 0, verdict TEXT);"
	"CREATE INDEX objects_event ON objects(event_id);"
	"CREATE INDEX objects_push ON objects(push_state) WHERE push_state IN ('pending','retry');"
	/* token: never reused (R-CORE-5): tokens of deleted objects stay here */
	"CREATE TABLE tokens_used(token TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE deliveries("
	" id INTEGER PRIMARY KEY, lea TEXT NOT NULL, ref_id INTEGER NOT NULL,"
	" seq INTEGER NOT NULL, last INTEGER NOT NULL DEFAULT 0, object_id TEXT NOT NULL UNIQUE,"
	" xml BLOB NOT NULL, items INTEGER NOT NULL, bytes INTEGER NOT NULL,"
	" state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" next_try INTEGER NOT NULL DEFAULT 0, last_error TEXT, created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL, UNIQUE(ref_id, seq));"
	"CREATE INDEX deliveries_state ON deliveries(lea, state, ref_id, seq);";

/* ---- helpers ---- */

char *csp__dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

const char *csp_store_spool(const struct csp_store *s)
{
	return s ? s->spool : NULL;
}

bool csp_store_writable(struct csp_store *s)
{
	if (!s || s->read_only)
		return false;
	struct lx_engine_stats st;
	lx_engine_stats(s->eng, &st);
	return st.writable;
}

/* A prepared-once statement on the writer connection (the engine's cache). */
static int wst(struct csp_store *s, const char *sql, sqlite3_stmt **out)
{
	return lx_engine_prepare(s->eng, sql, out);
}

/* Runs a one-off statement with bindings on the writer: rows ignored. Returns the changes
 * count through *changes (may be NULL). */
static int wexec(struct csp_store *s, int *changes, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	int rc = lx_sq_err(sqlite3_prepare_v2(s->wdb, sql, -1, &st, NULL));
	if (rc)
		return rc;
	if (fmt && *fmt) {
		va_list ap;
		va_start(ap, fmt);
		for (int i = 0; fmt[i] && !rc; i++) {
			int k = i + 1, r = SQLITE_OK;
			switch (fmt[i]) {
			case 'i': r = sqlite3_bind_int64(st, k, va_arg(ap, int64_t)); break;
			case 't': {
				const char *t = va_arg(ap, const char *);
				r = t ? sqlite3_bind_text(st, k, t, -1, SQLITE_TRANSIENT)
				      : sqlite3_bind_null(st, k);
				break;
			}
			case 'b': {
				const void *b = va_arg(ap, const void *);
				size_t n = va_arg(ap, size_t);
				r = sqlite3_bind_blob64(st, k, b, n, SQLITE_TRANSIENT);
				break;
			}
			default: r = SQLITE_MISUSE; break;
			}
			rc = lx_sq_err(r);
		}
		va_end(ap);
	}
	int r = SQLITE_ROW;
	while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (!rc && r != SQLITE_DONE)
		rc = (r & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : lx_sq_err(r);
	if (!rc && changes)
		*changes = sqlite3_changes(s->wdb);
	sqlite3_finalize(st);
	return rc;
}

/* ---- jobs ---- */

struct cjob {
	struct lx_job base;
	int (*run)(struct csp_store *s, struct cjob *j);
	void *arg;
};

static int hook_run(void *cls, struct lx_job *b)
{
	struct cjob *j = (struct cjob *)b;
	return j->run(cls, j);
}

static const struct lx_engine_hooks HOOKS = {.run = hook_run};

static int submit(struct csp_store *s, int (*run)(struct csp_store *, struct cjob *), void *arg)
{
	if (!s)
		return LI707_EINVAL;
	if (s->read_only)
		return -EROFS;
	struct cjob j = {.base = {.savepoint = true}, .run = run, .arg = arg};
	return lx_engine_submit(s->eng, &j.base);
}

/* ---- open ---- */

static int create_schema(sqlite3 *db, char *err, size_t errlen)
{
	int64_t v = lx_sq_query_int(db, "PRAGMA user_version", -1);
	if (v == CSP_STORE_SCHEMA_VERSION)
		return 0;
	if (v != 0) {
		lx_errf(err, errlen, "store: schema version %lld is not supported (this build: %d)",
			(long long)v, CSP_STORE_SCHEMA_VERSION);
		return LI707_EINVAL;
	}
	char sql[sizeof SCHEMA + 128];
	snprintf(sql, sizeof sql, "BEGIN IMMEDIATE;%sPRAGMA user_version = %d;COMMIT;", SCHEMA,
		 CSP_STORE_SCHEMA_VERSION);
	int rc = lx_sq_exec_sql(db, sql);
	if (rc) {
		lx_errf(err, errlen, "store: cannot create the schema: %s", sqlite3_errmsg(db));
		lx_sq_exec_sql(db, "ROLLBACK");
	}
	return rc;
}

static int mkdir_p(const char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

static int open_writer(struct csp_store *s, const struct csp_store_opts *o, char *err,
		       size_t errlen)
{
	char p[4200];
	int rc = mkdir_p(s->spool);
	if (!rc) {
		snprintf(p, sizeof p, "%s/objects", s->spool);
		rc = mkdir_p(p);
	}
	if (!rc) {
		snprintf(p, sizeof p, "%s/tmp", s->spool);
		rc = mkdir_p(p);
	}
	if (!rc)
		rc = lx_fsync_dir(s->spool);
	if (rc) {
		lx_errf(err, errlen, "store: cannot create the spool directories: %s",
			li707_strerror(rc));
		return rc;
	}
	snprintf(p, sizeof p, "%s/lock", s->spool);
	struct lx_engine_opts eo = {.dbpath = s->dbpath, .lock_path = p, .name = "csp-store",
				    .sync_normal = o->sync_normal, .hooks = &HOOKS, .cls = s,
				    .commit_seconds = o->commit_seconds};
	if ((rc = lx_engine_open(&eo, &s->eng, err, errlen)))
		return rc;
	s->wdb = lx_engine_wdb(s->eng);
	if ((rc = create_schema(s->wdb, err, errlen)))
		return rc;
	/* Restart: what was in flight goes back to ready (the LEA deduplicates by
	 * ObjectIdentifier, so a resend is safe). */
	rc = lx_sq_exec_sql(s->wdb, "UPDATE deliveries SET state = 'ready', next_try = 0"
				    " WHERE state = 'inflight'");
	if (rc) {
		lx_errf(err, errlen, "store: recovery at open failed: %s", sqlite3_errmsg(s->wdb));
		return rc;
	}
	return lx_engine_start(s->eng, err, errlen);
}

static int open_reader(struct csp_store *s, char *err, size_t errlen)
{
	if (access(s->dbpath, R_OK)) {
		int rc = -errno;
		lx_errf(err, errlen, "store: no store in %s: %s", s->spool, li707_strerror(rc));
		return rc;
	}
	struct lx_engine_opts eo = {.dbpath = s->dbpath, .read_only = true};
	int rc = lx_engine_open(&eo, &s->eng, err, errlen);
	if (rc)
		return rc;
	sqlite3 *db = NULL;
	if ((rc = lx_engine_read_get(s->eng, &db))) {
		lx_errf(err, errlen, "store: cannot open %s: %s", s->dbpath, li707_strerror(rc));
		return rc;
	}
	int64_t v = lx_sq_query_int(db, "PRAGMA user_version", -1);
	lx_engine_read_put(s->eng, db);
	if (v != CSP_STORE_SCHEMA_VERSION) {
		lx_errf(err, errlen, "store: %s: schema version %lld is not supported (this build: %d)",
			s->dbpath, (long long)v, CSP_STORE_SCHEMA_VERSION);
		return v <= 0 ? LI707_EDAMAGED : LI707_EINVAL;
	}
	return 0;
}

int csp_store_open(const struct csp_store_opts *o, struct csp_store **out, char *err,
		   size_t errlen)
{
	if (!o || !o->spool || !out)
		return LI707_EINVAL;
	struct csp_store *s = calloc(1, sizeof *s);
	if (!s || !(s->spool = strdup(o->spool))) {
		free(s);
		lx_errf(err, errlen, "store: out of memory");
		return LI707_ENOMEM;
	}
	s->read_only = o->read_only;
	int n = snprintf(s->dbpath, sizeof s->dbpath, "%s/%s", o->spool, CSP_STORE_DB);
	int rc = LI707_EINVAL;
	if (n < 0 || (size_t)n >= sizeof s->dbpath - 64)
		lx_errf(err, errlen, "store: spool directory name too long");
	else
		rc = s->read_only ? open_reader(s, err, errlen) : open_writer(s, o, err, errlen);
	if (rc) {
		csp_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void csp_store_close(struct csp_store *s)
{
	if (!s)
		return;
	lx_engine_close(s->eng);
	free(s->spool);
	free(s);
}

/* ---- references ---- */

static const char *kind_name(enum li707_ref_kind k)
{
	return k == LI707_REF_LDID ? "LD" : "LI";
}

struct ref_add {
	const struct csp_ref *in;
	int64_t now, id;
	char uuid[LI707_UUID_LEN + 1];
};

static int run_ref_add(struct csp_store *s, struct cjob *j)
{
	struct ref_add *a = j->arg;
	const struct csp_ref *r = a->in;
	int rc = wexec(s, NULL,
		       "INSERT INTO refs(kind, ref, lea, until, review, field, salt, hash, state,"
		       " delivery_id, next_seq, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
		       " 'open', ?9, 1, ?10)",
		       "tttiitttti", kind_name(r->kind), r->ref, r->lea, r->until,
		       (int64_t)r->review, r->field, r->salt, r->hash, a->uuid, a->now);
	if (!rc)
		a->id = sqlite3_last_insert_rowid(s->wdb);
	return rc;
}

int csp_store_ref_add(struct csp_store *s, const struct csp_ref *in, int64_t now, int64_t *id_out)
{
	if (!in || !in->ref || !in->lea)
		return LI707_EINVAL;
	struct ref_add a = {.in = in, .now = now};
	int rc = li707_uuid_new(a.uuid);
	if (!rc)
		rc = submit(s, run_ref_add, &a);
	if (!rc && id_out)
		*id_out = a.id;
	return rc;
}

struct ref_close {
	const char *ref;
	int64_t now, id;
};

static int run_ref_close(struct csp_store *s, struct cjob *j)
{
	struct ref_close *c = j->arg;
	sqlite3_stmt *st = NULL;
	int rc = wst(s, "UPDATE refs SET ref = NULL, field = NULL, salt = NULL, state = 'closed',"
			" closed_at = ?2 WHERE ref = ?1 AND state = 'open' RETURNING id", &st);
	if (rc)
		return rc;
	rc = lx_sq_bind(st, "ti", c->ref, c->now);
	if (!rc) {
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			c->id = sqlite3_column_int64(st, 0);
		else
			rc = r == SQLITE_DONE ? LI707_ENOTFOUND : lx_sq_err(r);
		if (r == SQLITE_ROW && (r = sqlite3_step(st)) != SQLITE_DONE)
			rc = lx_sq_err(r);
	}
	lx_sq_done(st);
	return rc;
}

int csp_store_ref_close(struct csp_store *s, const char *ref, int64_t now, int64_t *id_out)
{
	if (!ref)
		return LI707_EINVAL;
	struct ref_close c = {.ref = ref, .now = now};
	int rc = submit(s, run_ref_close, &c);
	if (!rc && id_out)
		*id_out = c.id;
	return rc;
}

/* ---- ingest ---- */

struct ingest {
	const struct csp_event_in *ev;
	size_t n;
	int64_t now;
	struct csp_event_out *out;
};

/* The open reference for an event: its key, or a refusal in o (R-RSP-2). */
static int ingest_ref(struct csp_store *s, const struct csp_event_in *e, int64_t now,
		      struct csp_event_out *o)
{
	sqlite3_stmt *st = NULL;
	int rc = wst(s, "SELECT id, kind, until FROM refs WHERE ref = ?1 AND state = 'open'", &st);
	if (rc)
		return rc;
	if ((rc = lx_sq_bind(st, "t", e->ref)))
		return lx_sq_done(st), rc;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		o->ref_id = sqlite3_column_int64(st, 0);
		const char *k = lx_sq_text(st, 1);
		bool ld = k && strcmp(k, "LD") == 0;
		int64_t until = sqlite3_column_type(st, 2) == SQLITE_NULL ? 0
									  : sqlite3_column_int64(st, 2);
		if (ld != (e->kind == LI707_REF_LDID)) {
			snprintf(o->err, sizeof o->err, "%s: the reference is an %s (R-RSP-2)",
				 e->kind == LI707_REF_LDID ? "ldid" : "liid", ld ? "LDID" : "LIID");
			o->rc = LI707_EDENIED;
		} else if (until && now > until) {
			snprintf(o->err, sizeof o->err,
				 "%s: the reference ended (--until) (R-RSP-2)",
				 e->kind == LI707_REF_LDID ? "ldid" : "liid");
			o->rc = LI707_EDENIED;
		}
	} else if (r == SQLITE_DONE) {
		snprintf(o->err, sizeof o->err, "%s: unknown or closed reference (R-RSP-2)",
			 e->kind == LI707_REF_LDID ? "ldid" : "liid");
		o->rc = LI707_EDENIED;
	} else {
		rc = lx_sq_err(r);
	}
	lx_sq_done(st);
	return rc;
}

/* applicationLevelID per reference in first-seen order, applicationSequenceNumber per
 * conversation, both from 0 (R-HDR-1, R-HDR-2). */
static int ingest_conversation(struct csp_store *s, const struct csp_event_in *e,
			       struct csp_event_out *o)
{
	sqlite3_stmt *st = NULL;
	int rc = wst(s, "UPDATE conversations SET next_seq = next_seq + 1"
			" WHERE ref_id = ?1 AND key = ?2 RETURNING app_level, next_seq - 1", &st);
	if (rc)
		return rc;
	size_t klen = strlen(e->conversation);
	if ((rc = lx_sq_bind(st, "ib", o->ref_id, e->conversation, klen)))
		return lx_sq_done(st), rc;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		o->app_level = sqlite3_column_int64(st, 0);
		o->app_seq = sqlite3_column_int64(st, 1);
		r = sqlite3_step(st);
	}
	lx_sq_done(st);
	if (r != SQLITE_DONE)
		return lx_sq_err(r);
	if (o->app_level >= 0)
		return 0;
	sqlite3_stmt *ins = NULL;
	if ((rc = wst(s, "INSERT INTO conversations(ref_id, key, app_level, next_seq)"
			 " SELECT ?1, ?2, coalesce(max(app_level) + 1, 0), 1 FROM conversations"
			 " WHERE ref_id = ?1"
			 " RETURNING app_level", &ins)))
		return rc;
	if ((rc = lx_sq_bind(ins, "ib", o->ref_id, e->conversation, klen)))
		return lx_sq_done(ins), rc;
	r = sqlite3_step(ins);
	if (r == SQLITE_ROW) {
		o->app_level = sqlite3_column_int64(ins, 0);
		o->app_seq = 0;
		r = sqlite3_step(ins);
	}
	lx_sq_done(ins);
	return r == SQLITE_DONE ? 0 : lx_sq_err(r);
}

/* An explicit correlation, checked as `li707 build` does (R-HDR-2): within a reference the
 * seq of a level runs 0, 1, 2 ... Levels are kept in conversations under a key no JSON string
 * can be (a NUL byte then the level), so they never collide with allocated ones. */
static int ingest_explicit(struct csp_store *s, const struct csp_event_in *e,
			   struct csp_event_out *o)
{
	unsigned char key[9] = {0};
	for (int i = 0; i < 8; i++)
		key[1 + i] = (unsigned char)((uint64_t)e->app_level >> (56 - 8 * i));
	sqlite3_stmt *st = NULL;
	int rc = wst(s, "SELECT key, next_seq FROM conversations WHERE ref_id = ?1 AND app_level = ?2",
		     &st);
	if (rc)
		return rc;
	if ((rc = lx_sq_bind(st, "ii", o->ref_id, e->app_level)))
		return lx_sq_done(st), rc;
	int r = sqlite3_step(st);
	bool found = r == SQLITE_ROW, mine = false;
	int64_t next = 0;
	if (found) {
		mine = sqlite3_column_bytes(st, 0) == 9 && memcmp(sqlite3_column_blob(st, 0), key, 9) == 0;
		next = sqlite3_column_int64(st, 1);
	}
	lx_sq_done(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return lx_sq_err(r);
	if (found && !mine) {
		snprintf(o->err, sizeof o->err,
			 "correlation.id: already allocated to a conversation of this reference (R-HDR-1)");
		o->rc = LI707_EINPUT;
		return 0;
	}
	if (e->app_seq != next) {
		snprintf(o->err, sizeof o->err,
			 "correlation.seq: must be %lld, the next of this id in this reference (R-HDR-2)",
			 (long long)next);
		o->rc = LI707_EINPUT;
		return 0;
	}
	o->app_level = e->app_level;
	o->app_seq = e->app_seq;
	return wexec(s, NULL,
		     "INSERT INTO conversations(ref_id, key, app_level, next_seq) VALUES(?1, ?2, ?3, 1)"
		     " ON CONFLICT(ref_id, key) DO UPDATE SET next_seq = next_seq + 1",
		     "ibi", o->ref_id, key, sizeof key, e->app_level);
}

static int ingest_objects(struct csp_store *s, const struct csp_event_in *e,
			  struct csp_event_out *o)
{
	sqlite3_stmt *st = NULL, *tok = NULL;
	int rc = wst(s, "INSERT INTO objects(event_id, idx, ref_id, uuid, token, path, size, sha256,"
			" content_type, model, expiry, push_state) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
			" ?8, ?9, ?10, ?11, ?12)", &st);
	if (!rc)
		rc = wst(s, "INSERT INTO tokens_used(token) VALUES(?1)", &tok);
	for (size_t i = 0; !rc && i < e->n_objects; i++) {
		const struct csp_object_in *b = &e->objects[i];
		char model[2] = {b->model, 0};
		rc = lx_sq_bind(tok, "t", b->token);
		if (!rc && (rc = lx_sq_step_done(tok)) == lx_sq_err(SQLITE_CONSTRAINT)) {
			snprintf(o->err, sizeof o->err, "attachments[%zu]: token reused", i);
			o->rc = -EEXIST; /* R-CORE-5: a URL is never reused */
			return 0;
		}
		if (rc)
			break;
		rc = lx_sq_bind(st, "iiitttutttit", o->id, (int64_t)i, o->ref_id, b->uuid, b->token,
				b->path, b->size, b->sha256, b->content_type, model, b->expiry,
				b->model == 'B' ? "pending" : NULL);
		if (!rc)
			rc = lx_sq_step_done(st);
		else
			lx_sq_done(st);
	}
	return rc;
}

static int ingest_one(struct csp_store *s, const struct csp_event_in *e, int64_t now,
		      struct csp_event_out *o)
{
	memset(o, 0, sizeof *o);
	o->app_level = o->app_seq = -1;
	int rc = ingest_ref(s, e, now, o);
	if (rc || o->rc)
		return rc;
	if (e->conversation && (rc = ingest_conversation(s, e, o)))
		return rc;
	if (!e->conversation && e->has_correlation && ((rc = ingest_explicit(s, e, o)) || o->rc))
		return rc;
	sqlite3_stmt *st = NULL;
	if ((rc = wst(s, "INSERT INTO events(ref_id, accepted_at, json, bytes, app_level, app_seq)"
			 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &st)))
		return rc;
	rc = lx_sq_bind(st, "iibutt", o->ref_id, now, e->json, e->json_len, (uint64_t)e->json_len,
			NULL, NULL);
	if (!rc && o->app_level >= 0)
		rc = lx_sq_bind(st, "xxxxii", o->app_level, o->app_seq);
	if (rc)
		return lx_sq_done(st), rc;
	if ((rc = lx_sq_step_done(st)))
		return rc;
	o->id = sqlite3_last_insert_rowid(s->wdb);
	return ingest_objects(s, e, o);
}

static int run_ingest(struct csp_store *s, struct cjob *j)
{
	struct ingest *g = j->arg;
	sqlite3_stmt *sp = NULL, *rb = NULL, *rel = NULL;
	int rc = wst(s, "SAVEPOINT ev", &sp);
	if (!rc)
		rc = wst(s, "ROLLBACK TO ev", &rb);
	if (!rc)
		rc = wst(s, "RELEASE ev", &rel);
	for (size_t i = 0; !rc && i < g->n; i++) {
		if ((rc = lx_sq_exec(sp)))
			break;
		int r = ingest_one(s, &g->ev[i], g->now, &g->out[i]);
		if (!r && !g->out[i].rc) {
			rc = lx_sq_exec(rel);
			continue;
		}
		/* this event only: back to before it */
		if (r) {
			g->out[i].rc = r;
			snprintf(g->out[i].err, sizeof g->out[i].err, "store: %s", li707_strerror(r));
		}
		g->out[i].id = 0;
		if (!(rc = lx_sq_exec(rb)))
			rc = lx_sq_exec(rel);
	}
	return rc;
}

int csp_store_ingest(struct csp_store *s, const struct csp_event_in *ev, size_t n, int64_t now,
		     struct csp_event_out *out)
{
	if ((!ev && n) || (!out && n) || n > CSP_STORE_BATCH_MAX)
		return LI707_EINVAL;
	if (!n)
		return 0;
	struct ingest g = {.ev = ev, .n = n, .now = now, .out = out};
	int rc = submit(s, run_ingest, &g);
	if (rc)
		for (size_t i = 0; i < n; i++) {
			memset(&out[i], 0, sizeof out[i]);
			out[i].rc = rc;
			out[i].app_level = out[i].app_seq = -1;
			snprintf(out[i].err, sizeof out[i].err, "store: %s", li707_strerror(rc));
		}
	return rc;
}

/* ---- packaging ---- */

/* Applies one pack on the writer (inside the caller's job): see csp_store_pack. */
static int pack_apply(struct csp_store *s, const struct csp_pack *p, int64_t now, int64_t *id)
{
	sqlite3_stmt *st = NULL;
	int rc = wst(s, "SELECT next_seq, lea, review FROM refs WHERE id = ?1", &st);
	if (rc)
		return rc;
	if ((rc = lx_sq_bind(st, "i", p->ref_id)))
		return lx_sq_done(st), rc;
	int r = sqlite3_step(st);
	if (r != SQLITE_ROW) {
		lx_sq_done(st);
		return r == SQLITE_DONE ? LI707_ENOTFOUND : lx_sq_err(r);
	}
	int64_t next = sqlite3_column_int64(st, 0);
	char lea[CSP_STORE_ERR_LEN];
	snprintf(lea, sizeof lea, "%s", lx_sq_text(st, 1) ? lx_sq_text(st, 1) : "");
	bool review = sqlite3_column_int(st, 2) != 0;
	lx_sq_done(st);
	if (next != p->seq)
		return -EAGAIN;
	sqlite3_stmt *ins = NULL;
	if ((rc = wst(s, "INSERT INTO deliveries(lea, ref_id, seq, last, object_id, xml, items,"
			 " bytes, state, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
			 " ?8, ?9, ?10, ?10)", &ins)))
		return rc;
	rc = lx_sq_bind(ins, "tiiitbiiti", lea, p->ref_id, p->seq, (int64_t)p->last, p->object_id,
			p->xml, p->xml_len, (int64_t)p->n_events, (int64_t)p->bytes,
			review ? "review" : "ready", now);
	if (rc) {
		lx_sq_done(ins);
		return rc;
	}
	r = sqlite3_step(ins);
	lx_sq_done(ins);
	if (r != SQLITE_DONE)
		return (r & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : lx_sq_err(r);
	*id = sqlite3_last_insert_rowid(s->wdb);
	sqlite3_stmt *ev = NULL;
	if ((rc = wst(s, "UPDATE events SET state = 'packed', delivery = ?3"
			 " WHERE id = ?1 AND ref_id = ?2 AND state = 'queued'", &ev)))
		return rc;
	for (size_t i = 0; !rc && i < p->n_events; i++) {
		rc = lx_sq_bind(ev, "iii", p->event_ids[i], p->ref_id, *id);
		if (!rc)
			rc = lx_sq_step_done(ev);
		else
			lx_sq_done(ev);
		if (!rc && sqlite3_changes(s->wdb) != 1)
			rc = -EALREADY;
	}
	sqlite3_stmt *nx = NULL;
	if (!rc && !(rc = wst(s, "UPDATE refs SET next_seq = next_seq + 1 WHERE id = ?1", &nx))) {
		if (!(rc = lx_sq_bind(nx, "i", p->ref_id)))
			rc = lx_sq_step_done(nx);
		else
			lx_sq_done(nx);
	}
	return rc; /* a failure rolls the whole job back to its savepoint */
}

struct pack {
	const struct csp_pack *p;
	size_t n;
	int64_t now;
	int64_t *ids;
	size_t failed;
};

static int run_pack(struct csp_store *s, struct cjob *j)
{
	struct pack *k = j->arg;
	int rc = 0;
	k->failed = 0;
	for (size_t i = 0; !rc && i < k->n; i++) {
		k->ids[i] = 0;
		rc = pack_apply(s, &k->p[i], k->now, &k->ids[i]);
		if (rc)
			k->failed = i;
	}
	return rc;
}

static bool pack_ok(const struct csp_pack *p)
{
	return p && p->object_id && p->xml && (p->event_ids || !p->n_events) && p->seq >= 1;
}

int csp_store_pack_many(struct csp_store *s, const struct csp_pack *p, size_t n, int64_t now,
			int64_t *ids_out, size_t *failed)
{
	if (failed)
		*failed = 0;
	if (!p || !n || !ids_out || n > CSP_STORE_PACK_MAX)
		return LI707_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!pack_ok(&p[i])) {
			if (failed)
				*failed = i;
			return LI707_EINVAL;
		}
	struct pack k = {.p = p, .n = n, .now = now, .ids = ids_out};
	int rc = submit(s, run_pack, &k);
	if (rc) {
		for (size_t i = 0; i < n; i++)
			ids_out[i] = 0; /* rolled back: none of them exists */
		if (failed)
			*failed = k.failed;
	}
	return rc;
}

int csp_store_pack(struct csp_store *s, const struct csp_pack *p, int64_t now, int64_t *id_out)
{
	if (!pack_ok(p))
		return LI707_EINVAL;
	int64_t id = 0;
	int rc = csp_store_pack_many(s, p, 1, now, &id, NULL);
	if (!rc && id_out)
		*id_out = id;
	return rc;
}

/* ---- delivery transitions ---- */

struct trans {
	int64_t id, now, next_try;
	const char *from;               /* SQL list of states: "'ready','inflight'" */
	const char *to;
	const char *error;              /* NULL: last_error kept */
	bool attempt;
	bool clear_next;
};

static int run_trans(struct csp_store *s, struct cjob *j)
{
	struct trans *t = j->arg;
	char sql[512];
	snprintf(sql, sizeof sql,
		 "UPDATE deliveries SET state = ?2, updated_at = ?3, attempts = attempts + ?4,"
		 " next_try = CASE WHEN ?5 THEN ?6 ELSE next_try END,"
		 " last_error = coalesce(?7, last_error) WHERE id = ?1 AND state IN (%s)",
		 t->from);
	int changes = 0;
	int rc = wexec(s, &changes, sql, "itiiiit", t->id, t->to, t->now, (int64_t)t->attempt,
		       (int64_t)(t->clear_next || t->next_try), t->next_try, t->error);
	if (rc || changes)
		return rc;
	sqlite3_stmt *st = NULL;
	if ((rc = wst(s, "SELECT 1 FROM deliveries WHERE id = ?1", &st)))
		return rc;
	int64_t v = 0;
	rc = lx_sq_bind(st, "i", t->id);
	rc = rc ? rc : lx_sq_step_int(st, &v);
	if (rc < 0)
		return rc;
	return rc == 0 ? LI707_ENOTFOUND : -EALREADY;
}

static int trans(struct csp_store *s, struct trans t)
{
	return submit(s, run_trans, &t);
}

int csp_store_d_inflight(struct csp_store *s, int64_t id, int64_t now)
{
	return trans(s, (struct trans){.id = id, .now = now, .from = "'ready'", .to = "inflight",
				       .attempt = true});
}

int csp_store_d_done(struct csp_store *s, int64_t id, int64_t now)
{
	return trans(s, (struct trans){.id = id, .now = now, .from = "'ready','inflight'",
				       .to = "done"});
}

int csp_store_d_fail(struct csp_store *s, int64_t id, int64_t next_try, const char *error,
		     int64_t now)
{
	return trans(s, (struct trans){.id = id, .now = now, .from = "'ready','inflight'",
				       .to = "ready", .next_try = next_try, .clear_next = true,
				       .error = error ? error : "failed"});
}

int csp_store_d_park(struct csp_store *s, int64_t id, const char *error, int64_t now)
{
	return trans(s, (struct trans){.id = id, .now = now, .from = "'ready','inflight'",
				       .to = "parked", .error = error ? error : "parked"});
}

int csp_store_d_retry(struct csp_store *s, int64_t id, int64_t now)
{
	return trans(s, (struct trans){.id = id, .now = now, .from = "'parked','ready'",
				       .to = "ready", .clear_next = true});
}

int csp_store_d_drop(struct csp_store *s, int64_t id, int64_t now)
{
	return trans(s, (struct trans){.id = id, .now = now, .from = "'parked','ready','review'",
				       .to = "dropped"});
}

int csp_store_d_approve(struct csp_store *s, int64_t id, int64_t now)
{
	return trans(s, (struct trans){.id = id, .now = now, .from = "'review'", .to = "ready",
				       .clear_next = true});
}

int csp_store_d_reject(struct csp_store *s, int64_t id, int64_t now)
{
	return trans(s, (struct trans){.id = id, .now = now, .from = "'review'", .to = "rejected"});
}

/* ---- batched engine outcomes (the recorder) ---- */

struct record {
	struct csp_drec *v;
	size_t n;
	int64_t now;
};

static const char *const REC_SQL[] = {
	[CSP_DREC_INFLIGHT] = "UPDATE deliveries SET state = 'inflight', updated_at = ?2,"
			      " attempts = attempts + 1 WHERE id = ?1 AND state = 'ready'",
	[CSP_DREC_DONE] = "UPDATE deliveries SET state = 'done', updated_at = ?2"
			  " WHERE id = ?1 AND state IN ('ready', 'inflight')",
	[CSP_DREC_FAIL] = "UPDATE deliveries SET state = 'ready', updated_at = ?2, next_try = ?3,"
			  " last_error = ?4 WHERE id = ?1 AND state IN ('ready', 'inflight')",
	[CSP_DREC_PARK] = "UPDATE deliveries SET state = 'parked', updated_at = ?2,"
			  " last_error = ?4 WHERE id = ?1 AND state IN ('ready', 'inflight')",
};

static int record_one(struct csp_store *s, struct csp_drec *d, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = wst(s, REC_SQL[d->kind], &st);
	if (rc)
		return rc;
	const char *err = d->error ? d->error : (d->kind == CSP_DREC_PARK ? "parked" : "failed");
	rc = lx_sq_bind(st, d->kind == CSP_DREC_INFLIGHT || d->kind == CSP_DREC_DONE ? "ii" : "iiit",
			d->id, now, d->next_try, err);
	if (rc) {
		lx_sq_done(st);
		return rc;
	}
	if ((rc = lx_sq_step_done(st)))
		return rc;
	bool changed = sqlite3_changes(s->wdb) == 1;
	sqlite3_stmt *q = NULL;
	if ((rc = wst(s, "SELECT ref_id, seq, object_id, bytes FROM deliveries WHERE id = ?1", &q)))
		return rc;
	if ((rc = lx_sq_bind(q, "i", d->id))) {
		lx_sq_done(q);
		return rc;
	}
	int r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		d->ref_id = sqlite3_column_int64(q, 0);
		d->seq = sqlite3_column_int64(q, 1);
		const char *o = lx_sq_text(q, 2);
		snprintf(d->object_id, sizeof d->object_id, "%s", o ? o : "");
		d->bytes = sqlite3_column_int64(q, 3);
		d->rc = changed ? 0 : -EALREADY;
	} else if (r == SQLITE_DONE) {
		d->rc = LI707_ENOTFOUND;
	} else {
		rc = lx_sq_err(r);
	}
	lx_sq_done(q);
	return rc;
}

static int run_record(struct csp_store *s, struct cjob *j)
{
	struct record *k = j->arg;
	int rc = 0;
	for (size_t i = 0; !rc && i < k->n; i++) {
		k->v[i].rc = 0;
		rc = record_one(s, &k->v[i], k->now);
	}
	return rc;
}

int csp_store_d_record(struct csp_store *s, struct csp_drec *v, size_t n, int64_t now)
{
	if (!v || !n || n > CSP_STORE_REC_MAX)
		return LI707_EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned)v[i].kind > CSP_DREC_PARK)
			return LI707_EINVAL;
	struct record k = {.v = v, .n = n, .now = now};
	int rc = submit(s, run_record, &k);
	if (rc)
		for (size_t i = 0; i < n; i++)
			v[i].rc = rc;
	return rc;
}

/* ---- Model B push results ---- */

struct push {
	int64_t id, next_try;
	const char *state, *verdict;
};

static int run_push(struct csp_store *s, struct cjob *j)
{
	struct push *p = j->arg;
	int changes = 0;
	int rc = wexec(s, &changes,
		       "UPDATE objects SET push_state = ?2, push_next = ?3, verdict = ?4,"
		       " push_attempts = push_attempts + 1 WHERE id = ?1 AND model = 'B'"
		       " AND push_state IN ('pending', 'retry')",
		       "itit", p->id, p->state, p->next_try, p->verdict);
	return rc ? rc : changes ? 0 : LI707_ENOTFOUND;
}

int csp_store_push_result(struct csp_store *s, int64_t object_id, const char *state,
			  int64_t next_try, const char *verdict)
{
	static const char *const ok[] = {"retry", "stored", "mismatch", "refused"};
	bool known = false;
	for (size_t i = 0; state && i < 4; i++)
		known |= strcmp(state, ok[i]) == 0;
	if (!known)
		return LI707_EINVAL;
	struct push p = {.id = object_id, .next_try = next_try, .state = state, .verdict = verdict};
	return submit(s, run_push, &p);
}

/* ---- retention ---- */

static int run_removed(struct csp_store *s, struct cjob *j)
{
	const int64_t *id = j->arg;
	int changes = 0;
	int rc = wexec(s, &changes, "UPDATE objects SET state = 'removed' WHERE id = ?1"
				    " AND state = 'stored'", "i", *id);
	return rc ? rc : changes ? 0 : LI707_ENOTFOUND;
}

int csp_store_object_removed(struct csp_store *s, int64_t object_id)
{
	return submit(s, run_removed, &object_id);
}
