/* li707-lea - SQLite backend: the Model B jobs (TS103707 R-BIN-B1..B4: upload begin,
 * finish, abort, orphan sweep), run by the writer thread inside the batch transaction, and
 * their callers' side (rename into place before the commit, uploads in flight). The state
 * machine is drawn in docs/internals/store.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "store_sqlite_int.h"

/* ================= Model B ================= */

/* What lea_store_upload_begin learns about the rows of a uuid. */
struct uuid_rows {
	int64_t rec_id, rec_ref;        /* this peer's record (first), 0 = none */
	int rec_state;
	bool rec_has_len;
	uint64_t rec_len;
	int64_t orphan_id;              /* this peer's upload without record, 0 = none */
	int orphan_state;
	uint64_t orphan_bytes;
	bool busy;                      /* some row of this peer is RECEIVING */
	bool other_peer;                /* some row belongs to another peer */
	bool base_used;                 /* content/XX/UUID is some row's file or dest */
};

static int read_uuid_rows(struct sq_store *s, const struct lea_upload *u, const char *base,
			  struct uuid_rows *r)
{
	sqlite3_stmt *st = s->st[SQ_UUID_ROWS];
	memset(r, 0, sizeof *r);
	int rc = lx_sq_bind(st, "t", u->uuid);
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		bool has_item = sqlite3_column_type(st, 1) != SQLITE_NULL;
		const char *peer = lx_sq_text(st, 2);
		int state = sqlite3_column_int(st, 3);
		const char *file = lx_sq_text(st, 6), *dest = lx_sq_text(st, 7);
		if ((file && !strcmp(file, base)) || (dest && !strcmp(dest, base)))
			r->base_used = true;
		if (!peer || strcmp(peer, u->peer) != 0) {
			r->other_peer = true;
			continue;
		}
		if (state == LEA_ATT_RECEIVING)
			r->busy = true;
		if (has_item && !r->rec_id) {
			r->rec_id = id;
			r->rec_ref = sqlite3_column_int64(st, 8);
			r->rec_state = state;
			r->rec_has_len = sqlite3_column_type(st, 4) != SQLITE_NULL;
			r->rec_len = (uint64_t)sqlite3_column_int64(st, 4);
		} else if (!has_item) {
			r->orphan_id = id;
			r->orphan_state = state;
			r->orphan_bytes = (uint64_t)sqlite3_column_int64(st, 5);
		}
	}
	lx_sq_done(st);
	return rc == SQLITE_DONE ? 0 : lx_sq_err(rc);
}

static int orphan_bytes_used(struct sq_store *s, uint64_t *used)
{
	int64_t v = 0;
	int rc = lx_sq_step_int(s->st[SQ_ORPHAN_USED], &v);
	*used = v > 0 ? (uint64_t)v : 0;
	return rc < 0 ? rc : 0;
}

/* TS103707 R-BIN-B3: the decision before the body, in the order documented in store.h. */
static int decide_begin(struct sq_store *s, struct lea_upload *u, const struct uuid_rows *r,
			uint64_t *need)
{
	uint64_t cap = u->cap ? u->cap : UINT64_MAX;
	*need = u->has_length ? u->length : cap;
	if (r->busy) {
		u->verdict = LEA_UPLOAD_BUSY;
	} else if (r->rec_id) {
		if (r->rec_state == LEA_ATT_COMPLETE) {
			u->verdict = LEA_UPLOAD_DONE;
			u->record_length = r->rec_len; /* what the stored, verified object holds */
			u->record_has_length = r->rec_has_len;
		}
		else if (u->has_length && u->length > cap)
			u->verdict = LEA_UPLOAD_TOO_BIG;
		else if (u->has_length && r->rec_has_len && u->length != r->rec_len) {
			u->verdict = LEA_UPLOAD_LENGTH; /* not the object the record describes */
			u->record_length = r->rec_len;
		} else
			u->verdict = LEA_UPLOAD_OK;
		return 0;
	} else if ((r->orphan_id && r->orphan_state != LEA_ATT_ORPHAN) ||
		   (!r->orphan_id && r->other_peer)) {
		u->verdict = LEA_UPLOAD_UNKNOWN; /* expired orphan, or another peer's uuid */
	} else if (u->has_length && u->length > cap) {
		u->verdict = LEA_UPLOAD_TOO_BIG;
	} else {
		/* R-BIN-B4: an upload before its record is kept within orphan_max_bytes. */
		uint64_t used, max = s->o->orphan_max_bytes;
		int rc = orphan_bytes_used(s, &used);
		if (rc)
			return rc;
		used -= r->orphan_id && used >= r->orphan_bytes ? r->orphan_bytes : 0;
		bool full = *need > max || used > max - *need;
		u->verdict = full ? LEA_UPLOAD_ORPHANS_FULL : LEA_UPLOAD_OK;
	}
	return 0;
}

int lea__sq_run_begin(struct sq_store *s, struct sq_job *j)
{
	struct lea_upload *u = j->up;
	char base[64];
	struct uuid_rows r;
	uint64_t need;
	snprintf(base, sizeof base, "content/%.2s/%s", u->uuid, u->uuid);
	u->has_record = false;
	u->upload_id = 0;
	u->tmp_path[0] = '\0';
	int rc = read_uuid_rows(s, u, base, &r);
	if (!rc)
		rc = decide_begin(s, u, &r, &need);
	u->has_record = r.rec_id != 0;
	if (rc || u->verdict != LEA_UPLOAD_OK)
		return rc;
	int64_t id = r.rec_id ? r.rec_id : r.orphan_id ? r.orphan_id : s->next_att_id++;
	int64_t ref = r.rec_id ? r.rec_ref : 0;
	int old = r.rec_id ? r.rec_state : r.orphan_id ? r.orphan_state : -1;
	if (r.base_used)
		snprintf(j->dest_out, sizeof j->dest_out, "%s.%lld", base, (long long)id);
	else
		snprintf(j->dest_out, sizeof j->dest_out, "%s", base);
	uint64_t reserved = r.rec_id ? 0 : need;
	sqlite3_stmt *st;
	if (old < 0) {
		st = s->st[SQ_ORPHAN_INS];
		rc = lx_sq_bind(st, "itttui", id, u->peer, u->uuid, j->dest_out, reserved, j->now);
	} else {
		st = s->st[SQ_ATT_BEGIN];
		rc = lx_sq_bind(st, "itui", id, j->dest_out, reserved, j->now);
	}
	rc = rc ? (lx_sq_done(st), rc) : lx_sq_step_done(st);
	if (!rc && old >= 0)
		rc = lea__sq_att_count(s, ref, old, -1);
	if (!rc)
		rc = lea__sq_att_count(s, ref, LEA_ATT_RECEIVING, +1);
	if (rc)
		return rc;
	u->upload_id = id;
	int n = snprintf(u->tmp_path, sizeof u->tmp_path, "%s/tmp/%lld", s->o->dir, (long long)id);
	return n < 0 || (size_t)n >= sizeof u->tmp_path ? -ENAMETOOLONG : 0;
}

/* An attachment row as finish and abort need it. */
struct att_row {
	int64_t id, ref;
	bool has_item, has_prev, has_len;
	int state, prev;
	uint64_t len;
	char checksum[80];
	bool has_checksum;
	char file[4096], dest[4096], uuid[37];
	char peer[256];
};

static int read_att(struct sq_store *s, int64_t id, struct att_row *a)
{
	sqlite3_stmt *st = s->st[SQ_ATT_GET];
	memset(a, 0, sizeof *a);
	int rc = lx_sq_bind(st, "i", id);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		a->id = id;
		a->has_item = sqlite3_column_type(st, 0) != SQLITE_NULL;
		snprintf(a->peer, sizeof a->peer, "%s", lx_sq_text(st, 1) ? lx_sq_text(st, 1) : "");
		a->state = sqlite3_column_int(st, 2);
		a->has_prev = sqlite3_column_type(st, 3) != SQLITE_NULL;
		a->prev = sqlite3_column_int(st, 3);
		a->has_len = sqlite3_column_type(st, 4) != SQLITE_NULL;
		a->len = (uint64_t)sqlite3_column_int64(st, 4);
		a->has_checksum = lx_sq_text(st, 5) != NULL;
		snprintf(a->checksum, sizeof a->checksum, "%s", a->has_checksum ? lx_sq_text(st, 5) : "");
		snprintf(a->file, sizeof a->file, "%s", lx_sq_text(st, 6) ? lx_sq_text(st, 6) : "");
		snprintf(a->dest, sizeof a->dest, "%s", lx_sq_text(st, 7) ? lx_sq_text(st, 7) : "");
		a->ref = sqlite3_column_int64(st, 8);
		snprintf(a->uuid, sizeof a->uuid, "%s", lx_sq_text(st, 9) ? lx_sq_text(st, 9) : "");
		rc = SQLITE_DONE;
	} else if (rc == SQLITE_DONE) {
		rc = LI707_ENOTFOUND;
	}
	lx_sq_done(st);
	if (rc == LI707_ENOTFOUND)
		return rc;
	if (rc != SQLITE_DONE)
		return lx_sq_err(rc);
	return a->state == LEA_ATT_RECEIVING ? 0 : LI707_ENOTFOUND;
}

/* The record of this peer announced for the uuid of an orphan upload, if it came meanwhile. */
static int find_record(struct sq_store *s, const struct att_row *o, struct att_row *rec)
{
	sqlite3_stmt *st = s->st[SQ_RECORD_FIND];
	memset(rec, 0, sizeof *rec);
	int rc = lx_sq_bind(st, "tt", o->uuid, o->peer);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rec->id = sqlite3_column_int64(st, 0);
		rec->ref = sqlite3_column_int64(st, 1);
		rec->has_len = sqlite3_column_type(st, 2) != SQLITE_NULL;
		rec->len = (uint64_t)sqlite3_column_int64(st, 2);
		rec->has_checksum = lx_sq_text(st, 3) != NULL;
		snprintf(rec->checksum, sizeof rec->checksum, "%s",
			 rec->has_checksum ? lx_sq_text(st, 3) : "");
		snprintf(rec->file, sizeof rec->file, "%s", lx_sq_text(st, 4) ? lx_sq_text(st, 4) : "");
		rec->state = LEA_ATT_ANNOUNCED;
		rc = SQLITE_DONE;
	}
	lx_sq_done(st);
	return rc == SQLITE_DONE ? 0 : lx_sq_err(rc);
}

static int set_finished(struct sq_store *s, struct sq_job *j, int64_t id, enum lea_att_state st)
{
	sqlite3_stmt *q = s->st[SQ_ATT_FINISH];
	int rc = lx_sq_bind(q, "iiutti", id, (int64_t)st, j->bytes, j->sha, j->dest, j->now);
	return rc ? (lx_sq_done(q), rc) : lx_sq_step_done(q);
}

int lea__sq_run_finish(struct sq_store *s, struct sq_job *j)
{
	struct att_row a, rec;
	int rc = read_att(s, j->id, &a);
	if (rc)
		return rc;
	if (strcmp(a.dest, j->dest) != 0)
		return LI707_EINVAL;
	if (!a.has_item && (rc = find_record(s, &a, &rec)))
		return rc;
	const struct att_row *target = a.has_item ? &a : rec.id ? &rec : NULL;
	enum lea_att_state st = LEA_ATT_ORPHAN;
	if (target)
		st = lea__sq_compare_record(target->has_len, target->len,
				    target->has_checksum ? target->checksum : NULL, j->bytes, j->sha);
	if ((rc = set_finished(s, j, target ? target->id : a.id, st)) ||
	    (rc = lea__sq_att_count(s, a.ref, LEA_ATT_RECEIVING, -1)))
		return rc;
	if (target == &rec) {
		/* R-BIN-B4: the record arrived while its data was uploading: link them. */
		sqlite3_stmt *q = s->st[SQ_ATT_DEL];
		if ((rc = lx_sq_bind(q, "i", a.id)) || (rc = lx_sq_step_done(q)) ||
		    (rc = lea__sq_att_count(s, rec.ref, LEA_ATT_ANNOUNCED, -1)))
			return rc;
	}
	if ((rc = lea__sq_att_count(s, target ? target->ref : a.ref, st, +1)))
		return rc;
	/* The data this upload replaces (a MISMATCH or ORPHAN uploaded again). */
	if (a.file[0] && strcmp(a.file, j->dest) != 0 &&
	    (rc = lx_unlinks_add(&j->base.unlinks, s->o->dir, a.file)))
		return rc;
	if (st == LEA_ATT_ORPHAN)
		s->orphans_maybe = true;
	j->state = st;
	return 0;
}

int lea__sq_run_abort(struct sq_store *s, struct sq_job *j)
{
	struct att_row a;
	char tmp[64];
	int rc = read_att(s, j->id, &a);
	if (rc)
		return rc;
	sqlite3_stmt *q = s->st[a.has_prev ? SQ_ATT_RESTORE : SQ_ATT_DEL];
	if ((rc = lx_sq_bind(q, "i", a.id)) || (rc = lx_sq_step_done(q)) ||
	    (rc = lea__sq_att_count(s, a.ref, LEA_ATT_RECEIVING, -1)))
		return rc;
	if (a.has_prev && (rc = lea__sq_att_count(s, a.ref, a.prev, +1)))
		return rc;
	snprintf(tmp, sizeof tmp, "tmp/%lld", (long long)a.id);
	if ((rc = lx_unlinks_add(&j->base.unlinks, s->o->dir, tmp)))
		return rc;
	return lx_unlinks_add(&j->base.unlinks, s->o->dir, a.dest);
}

int lea__sq_run_sweep(struct sq_store *s, struct sq_job *j)
{
	sqlite3_stmt *st = s->st[SQ_SWEEP_SEL];
	int64_t limit = j->now - (int64_t)s->o->orphan_timeout_s;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc = lx_sq_bind(st, "i", limit);
	while (!rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* one file to delete per id: the same cap as the job's unlinks */
		if ((rc = li707_array_grow((void **)&ids, &cap, n + 1, sizeof *ids, LX_UNLINKS_MAX)))
			break;
		ids[n++] = sqlite3_column_int64(st, 0);
		rc = lx_unlinks_add(&j->base.unlinks, s->o->dir, lx_sq_text(st, 1));
	}
	rc = (rc == SQLITE_DONE || rc == 0) ? 0 : rc > 0 ? lx_sq_err(rc) : rc;
	lx_sq_done(st);
	for (size_t i = 0; i < n && !rc; i++) {
		st = s->st[SQ_ATT_EXPIRE];
		if (!(rc = lx_sq_bind(st, "ii", ids[i], j->now)))
			rc = lx_sq_step_done(st);
	}
	if (!rc && n && !(rc = lea__sq_att_count(s, 0, LEA_ATT_ORPHAN, -(int64_t)n)))
		rc = lea__sq_att_count(s, 0, LEA_ATT_EXPIRED, (int64_t)n);
	j->expired = n;
	free(ids);
	return rc;
}

/* ================= the callers' side ================= */

int lea__sq_upload_begin(void *be, struct lea_upload *u)
{
	struct sq_store *s = be;
	struct sq_job j = {.kind = SQ_JOB_BEGIN, .up = u, .now = (int64_t)time(NULL)};
	int rc = lea__sq_submit(s, &j);
	if (rc || u->verdict != LEA_UPLOAD_OK)
		return rc;
	if ((rc = lea__sq_upload_add(s, u->upload_id, j.dest_out))) {
		struct sq_job ab = {.kind = SQ_JOB_ABORT, .id = u->upload_id, .now = j.now};
		lea__sq_submit(s, &ab);
	}
	return rc;
}

/* Takes the in-flight entry of an upload (marks it finishing); copies its destination. */
static int upload_claim(struct sq_store *s, int64_t id, char *dest, size_t len)
{
	int rc = LI707_ENOTFOUND;
	pthread_mutex_lock(&s->umu);
	for (size_t i = 0; i < s->n_ups; i++)
		if (s->ups[i].id == id && !s->ups[i].finishing) {
			s->ups[i].finishing = true;
			snprintf(dest, len, "%s", s->ups[i].dest);
			rc = 0;
		}
	pthread_mutex_unlock(&s->umu);
	return rc;
}

static void upload_release(struct sq_store *s, int64_t id)
{
	pthread_mutex_lock(&s->umu);
	for (size_t i = 0; i < s->n_ups; i++)
		if (s->ups[i].id == id)
			s->ups[i].finishing = false;
	pthread_mutex_unlock(&s->umu);
}

int lea__sq_upload_finish(void *be, int64_t id, uint64_t bytes, const char sha[65],
			  enum lea_att_state *state_out)
{
	struct sq_store *s = be;
	char dest[4096], tmp[4200], dst[8300], ddir[4200];
	int rc = upload_claim(s, id, dest, sizeof dest);
	if (rc)
		return rc;
	snprintf(tmp, sizeof tmp, "%s/tmp/%lld", s->o->dir, (long long)id);
	snprintf(dst, sizeof dst, "%s/%s", s->o->dir, dest);
	snprintf(ddir, sizeof ddir, "%s/%.10s", s->o->dir, dest); /* "content/XX" */
	/* The data is in place and its directory synced before the commit that says so. */
	if (rename(tmp, dst)) {
		rc = -errno;
		upload_release(s, id);
		return rc;
	}
	if ((rc = lx_fsync_dir(ddir))) {
		rename(dst, tmp);
		upload_release(s, id);
		return rc;
	}
	struct sq_job j = {.kind = SQ_JOB_FINISH, .id = id, .bytes = bytes, .sha = sha,
			   .dest = dest, .now = (int64_t)time(NULL)};
	rc = lea__sq_submit(s, &j);
	if (rc) {
		rename(dst, tmp); /* back where abort (or a new finish) expects it */
		upload_release(s, id);
		return rc;
	}
	lea__sq_upload_remove(s, id);
	if (state_out)
		*state_out = j.state;
	return 0;
}

int lea__sq_upload_abort(void *be, int64_t id)
{
	struct sq_store *s = be;
	char dest[4096];
	int rc = upload_claim(s, id, dest, sizeof dest);
	if (rc)
		return rc;
	struct sq_job j = {.kind = SQ_JOB_ABORT, .id = id, .now = (int64_t)time(NULL)};
	rc = lea__sq_submit(s, &j);
	if (rc) {
		upload_release(s, id);
		return rc;
	}
	lea__sq_upload_remove(s, id);
	return 0;
}

int lea__sq_sweep(void *be, int64_t now, uint64_t *expired)
{
	struct sq_job j = {.kind = SQ_JOB_SWEEP, .now = now};
	int rc = lea__sq_submit(be, &j);
	if (!rc && expired)
		*expired = j.expired;
	return rc;
}
