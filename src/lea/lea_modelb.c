/* li707-lea - Model B uploads (TS 103 707 Annex C.3, R-BIN-B1..B4):
 * POST binary_path{uuid}/ with the object as the body.
 *
 * DESIGN
 * - Everything is decided at BEGIN, before any byte of body and before any 100 Continue
 *   (R-BIN-B3): a peer without Model B or a path that is no Model B URL gets the unknown-URL
 *   404; lea_store_upload_begin() gives the store's verdict (complete already: 200
 *   "already stored" when the Content-Length, if given, is the record's - idempotent, else 409;
 *   in flight 503 + Retry-After (X-Li707-State: receiving), too big 413, a Content-Length other than the record's size 409 with a text saying
 *   so, orphan budget used up 503 + Retry-After, not this peer's / expired 404).
 * - An accepted body goes to the store's tmp_path (O_CREAT|O_EXCL, 0600) through a
 *   hashsink (hashsink.h): the connection's thread only copies, a worker thread computes
 *   SHA-256 and writes; at END the file is fdatasync'd and lea_store_upload_finish() moves
 *   it into place and commits before the 201 (durable before acknowledged). The state goes
 *   back in "X-Li707-State".
 * - A request that ends any other way (connection lost, over the cap, write error) is
 *   aborted in done(): lea_store_upload_abort() deletes the temporary file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashsink.h"
#include "lea.h"

struct lea_modelb {
	struct lea_upload up;
	bool has_uuid;
	bool begun;     /* upload_begin said OK: finish or abort is owed */
	bool finished;  /* upload_finish committed */
	bool has_verdict;
	enum lea_att_state state;
	int fd;
	struct lx_hashsink *sink;
	uint64_t bytes;
};


static int mb_body(void *cls, struct lx_http_request *req, const void *data, size_t n)
{
	struct lea_req *r = cls;
	struct lea_modelb *mb = r->mb;
	if (lx_hashsink_write(mb->sink, data, n) != 0)
		return -1;
	mb->bytes += n;
	r->bytes = mb->bytes;
	return 0;
}

static int unavailable(struct lea_req *r, struct lx_http_request *req)
{
	lx_http_add_header(req, "Retry-After", LEA_RETRY_AFTER_S);
	return lea_req_status(r, req, 503);
}

/* The store's verdict as an HTTP status; 0 for OK. */
static unsigned verdict_status(enum lea_upload_verdict v)
{
	switch (v) {
	case LEA_UPLOAD_OK: return 0;
	case LEA_UPLOAD_DONE: return 409;
	case LEA_UPLOAD_BUSY: return 503;
	case LEA_UPLOAD_TOO_BIG: return 413;
	case LEA_UPLOAD_ORPHANS_FULL: return 503;
	case LEA_UPLOAD_UNKNOWN: return 404;
	case LEA_UPLOAD_LENGTH: return 409;
	}
	return 404;
}

/* Opens the temporary file and its sink; false on failure. */
static bool open_sink(struct lea_modelb *mb)
{
	mb->fd = open(mb->up.tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	return mb->fd >= 0 && lx_hashsink_new(mb->fd, &mb->sink) == 0;
}

int lea_modelb_begin(struct lea_req *r, struct lx_http_request *req)
{
	char uuid[37];
	/* A peer without Model B sees no Model B URL at all: the unknown-URL answer. */
	if (!(r->peer->models & LEA_MODEL_B) ||
	    !li707_binary_path_uuid(req->path, r->d->binary_path, uuid))
		return lea_req_status(r, req, 404);
	struct lea_modelb *mb = calloc(1, sizeof *mb);
	if (!mb)
		return unavailable(r, req);
	mb->fd = -1;
	r->mb = mb;
	memcpy(mb->up.uuid, uuid, sizeof uuid);
	mb->has_uuid = true;
	if (strcmp(req->method, "POST") != 0) {
		lx_http_add_header(req, "Allow", "POST");
		return lea_req_status(r, req, 405);
	}
	struct lea_upload *up = &mb->up;
	up->peer = r->peer->name;
	up->has_length = req->has_length;
	up->length = req->content_length;
	up->cap = r->peer->max_upload_bytes ? r->peer->max_upload_bytes
					    : r->gen->cfg->max_upload_bytes;
	up->content_type = lx_http_header(req, "Content-Type");
	if (up->has_length && up->cap && up->length > up->cap) {
		mb->has_verdict = true;
		up->verdict = LEA_UPLOAD_TOO_BIG;
		return lea_req_status(r, req, 413);
	}
	/* TS103707 R-BIN-B3, R-BIN-B4: the decision before the body. */
	if (lea_store_upload_begin(r->d->store, up) != 0)
		return unavailable(r, req);
	mb->has_verdict = true;
	unsigned st = verdict_status(up->verdict);
	if (up->verdict == LEA_UPLOAD_BUSY) {
		/* Another upload of it is in flight (e.g. the one a crashed CSP started, still
		 * arriving): not a verdict on this object - try again later. */
		lx_http_add_header(req, "X-Li707-State", "receiving");
		return unavailable(r, req);
	}
	if (st == 503)
		return unavailable(r, req);
	if (up->verdict == LEA_UPLOAD_LENGTH) {
		/* Not too large: not the object its record announced (a truncated or wrong file). */
		char t[160];
		int n = snprintf(t, sizeof t,
				 "Content-Length %llu differs from the %llu bytes of the binaryData record\n",
				 (unsigned long long)up->length, (unsigned long long)up->record_length);
		return lea_req_buf(r, req, 409, "text/plain", t, n > 0 ? (size_t)n : 0);
	}
	if (up->verdict == LEA_UPLOAD_DONE &&
	    (!up->has_length || !up->record_has_length || up->length == up->record_length)) {
		/* A push again of what is stored complete and verified against its record (length
		 * and SHA-256): the same object, so the answer the first push got (a CSP that died
		 * before recording it records "stored" now, not a mismatch). Nothing is read. */
		lx_http_add_header(req, "X-Li707-State", "complete");
		static const char t[] = "already stored: complete, verified against its record\n";
		return lea_req_buf(r, req, 200, "text/plain", t, sizeof t - 1);
	}
	if (st != 0)
		return lea_req_status(r, req, st);
	mb->begun = true;
	if (!open_sink(mb))
		return unavailable(r, req);
	return lx_http_body_to_cb(req, mb_body, r, up->cap);
}

int lea_modelb_end(struct lea_req *r, struct lx_http_request *req)
{
	struct lea_modelb *mb = r->mb;
	unsigned char dg[32];
	uint64_t n = 0;
	char hex[65];
	if (!mb || !mb->begun)
		return lea_req_status(r, req, 500);
	/* Written, hashed and fdatasync'd (the file's length with it). */
	if (lx_hashsink_finish(mb->sink, dg, &n) != 0 || n != mb->bytes)
		return unavailable(r, req);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", dg[i]);
	close(mb->fd);
	mb->fd = -1;
	enum lea_att_state st = LEA_ATT_RECEIVING;
	if (lea_store_upload_finish(r->d->store, mb->up.upload_id, mb->bytes, hex, &st) != 0)
		return unavailable(r, req);
	mb->finished = true;
	mb->state = st;
	lx_http_add_header(req, "X-Li707-State", lea_att_state_name(st));
	if (st == LEA_ATT_MISMATCH) {
		static const char t[] = "stored, but its length or SHA-256 differ from its record\n";
		return lea_req_buf(r, req, 422, "text/plain", t, sizeof t - 1);
	}
	return lea_req_buf(r, req, 201, "text/plain", "stored\n", 7);
}

void lea_modelb_done(struct lea_req *r)
{
	struct lea_modelb *mb = r->mb;
	if (!mb)
		return;
	lx_hashsink_free(mb->sink); /* stops its worker before the file goes */
	if (mb->fd >= 0)
		close(mb->fd);
	if (mb->begun && !mb->finished)
		(void)lea_store_upload_abort(r->d->store, mb->up.upload_id);
	free(mb);
	r->mb = NULL;
}

static const char *const verdicts[] = {"ok", "done", "busy", "too-big", "orphans-full",
				       "unknown", "length-differs"};

const char *lea_modelb_outcome(const struct lea_req *r, uint64_t *bytes)
{
	const struct lea_modelb *mb = r->mb;
	*bytes = mb ? mb->bytes : 0;
	if (!mb || !mb->has_uuid)
		return NULL;
	if (mb->finished)
		return lea_att_state_name(mb->state);
	if (mb->has_verdict && mb->up.verdict != LEA_UPLOAD_OK &&
	    (unsigned)mb->up.verdict < sizeof verdicts / sizeof verdicts[0])
		return verdicts[mb->up.verdict];
	return "aborted";
}

void lea_modelb_describe(const struct lea_req *r, char *buf, size_t n)
{
	const struct lea_modelb *mb = r->mb;
	if (!mb || !mb->has_uuid) {
		snprintf(buf, n, "%s", "");
		return;
	}
	if (mb->finished)
		snprintf(buf, n, " uuid=%s state=%s", mb->up.uuid, lea_att_state_name(mb->state));
	else if (mb->has_verdict && (unsigned)mb->up.verdict < sizeof verdicts / sizeof verdicts[0])
		snprintf(buf, n, " uuid=%s verdict=%s%s", mb->up.uuid, verdicts[mb->up.verdict],
			 mb->begun ? " aborted" : "");
	else
		snprintf(buf, n, " uuid=%s", mb->up.uuid);
}
