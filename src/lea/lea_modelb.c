/* li707-lea - Model B uploads (TS 103 707 Annex C.3, R-BIN-B1..B4):
 * POST binary_path{uuid}/ with the object as the body.
 *
 * DESIGN
 * - Everything is decided at BEGIN, before any byte of body and before any 100 Continue
 *   (R-BIN-B3): a peer without Model B or a path that is no Model B URL gets the unknown-URL
 *   404; lea_store_upload_begin() gives the store's verdict (complete already 409, in flight
 *   409, too big 413, orphan budget used up 503 + Retry-After, not this peer's / expired 404).
 * - An accepted body goes to the store's tmp_path (O_CREAT|O_EXCL, 0600) in blocks of
 *   LI707_HTTP_BLOCK while SHA-256 is computed on the way (OpenSSL EVP); at END the file is
 *   fsync'd and lea_store_upload_finish() moves it into place and commits before the 201
 *   (durable before acknowledged). The state goes back in "X-Li707-State".
 * - A request that ends any other way (connection lost, over the cap, write error) is
 *   aborted in done(): lea_store_upload_abort() deletes the temporary file. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lea.h"

struct lea_modelb {
	struct lea_upload up;
	bool has_uuid;
	bool begun;     /* upload_begin said OK: finish or abort is owed */
	bool finished;  /* upload_finish committed */
	bool has_verdict;
	enum lea_att_state state;
	int fd;
	EVP_MD_CTX *md;
	char *wbuf;     /* LI707_HTTP_BLOCK bytes */
	size_t wlen;
	uint64_t bytes;
};

static bool hexdig(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* TS103707 R-BIN-B1: PREFIX{uuid}/, the trailing slash optional, hex in either case. */
bool lea_modelb_path_uuid(const char *path, const char *prefix, char out[37])
{
	size_t pl = strlen(prefix);
	if (!path || strncmp(path, prefix, pl) != 0)
		return false;
	const char *u = path + pl;
	size_t n = strlen(u);
	if (!(n == 36 || (n == 37 && u[36] == '/')))
		return false;
	char v[37];
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? u[i] != '-' : !hexdig(u[i]))
			return false;
		v[i] = (u[i] >= 'A' && u[i] <= 'F') ? (char)(u[i] - 'A' + 'a') : u[i];
	}
	v[36] = '\0';
	memcpy(out, v, sizeof v);
	return true;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int mb_body(void *cls, struct li707_http_req *req, const void *data, size_t n)
{
	struct lea_req *r = cls;
	struct lea_modelb *mb = r->mb;
	if (EVP_DigestUpdate(mb->md, data, n) != 1)
		return -1;
	const char *p = data;
	while (n > 0) {
		size_t k = LI707_HTTP_BLOCK - mb->wlen < n ? LI707_HTTP_BLOCK - mb->wlen : n;
		memcpy(mb->wbuf + mb->wlen, p, k);
		mb->wlen += k;
		p += k;
		n -= k;
		mb->bytes += k;
		if (mb->wlen == LI707_HTTP_BLOCK) {
			if (write_all(mb->fd, mb->wbuf, mb->wlen) != 0)
				return -1;
			mb->wlen = 0;
		}
	}
	r->bytes = mb->bytes;
	return 0;
}

static int unavailable(struct lea_req *r, struct li707_http_req *req)
{
	li707_http_add_header(req, "Retry-After", LEA_RETRY_AFTER_S);
	return lea_req_status(r, req, 503);
}

/* The store's verdict as an HTTP status; 0 for OK. */
static unsigned verdict_status(enum lea_upload_verdict v)
{
	switch (v) {
	case LEA_UPLOAD_OK: return 0;
	case LEA_UPLOAD_DONE: return 409;
	case LEA_UPLOAD_BUSY: return 409;
	case LEA_UPLOAD_TOO_BIG: return 413;
	case LEA_UPLOAD_ORPHANS_FULL: return 503;
	case LEA_UPLOAD_UNKNOWN: return 404;
	}
	return 404;
}

/* Opens the temporary file and the digest; false on failure. */
static bool open_sink(struct lea_modelb *mb)
{
	mb->fd = open(mb->up.tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (mb->fd < 0)
		return false;
	mb->wbuf = malloc(LI707_HTTP_BLOCK);
	mb->md = EVP_MD_CTX_new();
	return mb->wbuf && mb->md && EVP_DigestInit_ex(mb->md, EVP_sha256(), NULL) == 1;
}

int lea_modelb_begin(struct lea_req *r, struct li707_http_req *req)
{
	char uuid[37];
	/* A peer without Model B sees no Model B URL at all: the unknown-URL answer. */
	if (!(r->peer->models & LEA_MODEL_B) ||
	    !lea_modelb_path_uuid(req->path, r->d->binary_path, uuid))
		return lea_req_status(r, req, 404);
	struct lea_modelb *mb = calloc(1, sizeof *mb);
	if (!mb)
		return unavailable(r, req);
	mb->fd = -1;
	r->mb = mb;
	memcpy(mb->up.uuid, uuid, sizeof uuid);
	mb->has_uuid = true;
	if (strcmp(req->method, "POST") != 0) {
		li707_http_add_header(req, "Allow", "POST");
		return lea_req_status(r, req, 405);
	}
	struct lea_upload *up = &mb->up;
	up->peer = r->peer->name;
	up->has_length = req->has_length;
	up->length = req->content_length;
	up->cap = r->peer->max_upload_bytes ? r->peer->max_upload_bytes
					    : r->gen->cfg->max_upload_bytes;
	up->content_type = li707_http_header(req, "Content-Type");
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
	if (st == 503)
		return unavailable(r, req);
	if (st != 0)
		return lea_req_status(r, req, st);
	mb->begun = true;
	if (!open_sink(mb))
		return unavailable(r, req);
	return li707_http_body_to_cb(req, mb_body, r, up->cap);
}

int lea_modelb_end(struct lea_req *r, struct li707_http_req *req)
{
	struct lea_modelb *mb = r->mb;
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	char hex[65];
	if (!mb || !mb->begun)
		return lea_req_status(r, req, 500);
	if ((mb->wlen && write_all(mb->fd, mb->wbuf, mb->wlen) != 0) || fsync(mb->fd) != 0 ||
	    EVP_DigestFinal_ex(mb->md, dg, &dl) != 1 || dl != 32)
		return unavailable(r, req);
	mb->wlen = 0;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", dg[i]);
	close(mb->fd);
	mb->fd = -1;
	enum lea_att_state st = LEA_ATT_RECEIVING;
	if (lea_store_upload_finish(r->d->store, mb->up.upload_id, mb->bytes, hex, &st) != 0)
		return unavailable(r, req);
	mb->finished = true;
	mb->state = st;
	li707_http_add_header(req, "X-Li707-State", lea_att_state_name(st));
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
	if (mb->fd >= 0)
		close(mb->fd);
	if (mb->begun && !mb->finished)
		(void)lea_store_upload_abort(r->d->store, mb->up.upload_id);
	EVP_MD_CTX_free(mb->md);
	free(mb->wbuf);
	free(mb);
	r->mb = NULL;
}

void lea_modelb_describe(const struct lea_req *r, char *buf, size_t n)
{
	static const char *const verdicts[] = {"ok", "done", "busy", "too-big", "orphans-full",
					       "unknown"};
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
