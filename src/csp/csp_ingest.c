/* li707-csp - ingest (csp_ingest.h): lines -> parsed events -> attachments into the spool ->
 * one store job per request -> one result per line.
 *
 * DESIGN
 * - Attachment paths come from the provider's platform and are hostile until proven
 *   otherwise: an event may name a file only inside attachment_dirs. The joined path is
 *   resolved (realpath: symbolic links followed), must lie below a resolved attachment dir,
 *   is opened O_NOFOLLOW, and the opened file's own path (/proc/self/fd) is checked again, so
 *   a link swapped in between cannot escape. `..` components are refused by the parser.
 * - Taking a file: a hard link into SPOOL/tmp (same file system; checked to be the inode
 *   that was opened) and its data fsync'd, else a copy through lx_hashsink (hash, write,
 *   fdatasync in one pass). Either way the SHA-256 and size are computed once, from the
 *   spool's bytes. Then renamed to SPOOL/objects/XX/UUID and the directory fsync'd, all
 *   before the store commit that acknowledges the event. A refused or failed event's
 *   files are unlinked again.
 * - The canonical event JSON kept in the store is the line with each attachment's path
 *   replaced by its spool path and its model made explicit, without "conversation" (the
 *   allocated applicationCorrelation is in the events row).
 * - Error texts name the line and the field, never a value (R-SEC-6); they may be logged. */
#include "csp_ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csp_files.h"
#include "events.h"
#include "fdio.h"
#include "hashsink.h"
#include "li707/error.h"
#include "li707/util.h"
#include "metrics.h"

#define ERR_LEN 256

struct csp_ingest {
	const struct csp_config *c;
	struct csp_store *s;
	char **dirs;                    /* attachment_dirs, resolved */
	size_t n_dirs;
	struct lx_metric *accepted, *refused;
	const struct csp_config *(*acquire)(void *ud, void **tok);
	void (*release)(void *tok);
	void *src_ud;
	void (*on_commit)(void *ud); /* csp-wire-deliver */
	void *commit_ud;
};

void csp_ingest_set_on_commit(struct csp_ingest *g, void (*fn)(void *ud), void *ud)
{
	g->on_commit = fn;
	g->commit_ud = ud;
}

void csp_ingest_set_config_source(struct csp_ingest *g,
				  const struct csp_config *(*acquire)(void *ud, void **tok),
				  void (*release)(void *tok), void *ud)
{
	g->acquire = acquire;
	g->release = release;
	g->src_ud = ud;
}

/* ---- setup ---- */

int csp_ingest_new(const struct csp_config *c, struct csp_store *s, struct csp_ingest **out,
		   char *err, size_t errlen)
{
	struct csp_ingest *g = calloc(1, sizeof *g);
	if (!g || !(g->dirs = calloc(c->n_attachment_dirs ? c->n_attachment_dirs : 1, sizeof *g->dirs))) {
		free(g);
		snprintf(err, errlen, "out of memory");
		return LI707_ENOMEM;
	}
	g->c = c;
	g->s = s;
	for (size_t i = 0; i < c->n_attachment_dirs; i++) {
		char real[PATH_MAX];
		if (!realpath(c->attachment_dirs[i], real)) {
			/* a missing directory is not fatal: events naming it are refused */
			continue;
		}
		if (!(g->dirs[g->n_dirs] = strdup(real))) {
			csp_ingest_free(g);
			snprintf(err, errlen, "out of memory");
			return LI707_ENOMEM;
		}
		g->n_dirs++;
	}
	const char *spool = csp_store_spool(s);
	char p[PATH_MAX];
	for (unsigned i = 0; i < 256; i++) {
		snprintf(p, sizeof p, "%s/objects/%02x", spool, i);
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			int rc = -errno;
			snprintf(err, errlen, "cannot create the spool's object directories: %s",
				 strerror(errno));
			csp_ingest_free(g);
			return rc;
		}
	}
	snprintf(p, sizeof p, "%s/objects", spool);
	lx_fsync_dir(p);
	*out = g;
	return 0;
}

void csp_ingest_free(struct csp_ingest *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_dirs; i++)
		free(g->dirs[i]);
	free(g->dirs);
	free(g);
}

void csp_ingest_set_metrics(struct csp_ingest *g, struct lx_metric *accepted,
			    struct lx_metric *refused)
{
	g->accepted = accepted;
	g->refused = refused;
}

/* ---- one line ---- */

struct att {
	char rel[64];                   /* objects/XX/UUID */
	bool spooled;
	struct csp_object_in o;
};

struct line {
	long no;
	int rc;                         /* 0 ok so far */
	char err[ERR_LEN];
	struct lx_event ev;
	struct att *att;
	size_t n_att;
	char *json;
	size_t json_len;
	struct csp_object_in *objs;     /* copies of att[i].o for the store */
	struct csp_event_in in;
};

__attribute__((format(printf, 2, 3))) static void refuse(struct line *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err, sizeof l->err, fmt, ap);
	va_end(ap);
	if (!l->rc)
		l->rc = LI707_EINPUT;
}

static bool within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strncmp(path, dir, n) != 0)
		return false;
	return path[n] == '/' || (n == 1 && dir[0] == '/');
}

static bool allowed(const struct csp_ingest *g, const char *real)
{
	for (size_t i = 0; i < g->n_dirs; i++)
		if (within(real, g->dirs[i]))
			return true;
	return false;
}

/* The object's URL token: csp_files' form (128 bits of getrandom() in unpadded base64url,
 * 22 characters, R-CORE-5), so that files_url + token is the URL the file server answers. */
static int random_token(char out[33])
{
	return csp_files_token_new(out);
}

/* Copies fd into dst through a hashing sink: hash, write and fdatasync in one pass. */
static int copy_hash(int fd, const char *dst, uint64_t max, unsigned char sha[32], uint64_t *size)
{
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	struct lx_hashsink *hs = NULL;
	int rc = lx_hashsink_new(out, &hs);
	static __thread char buf[1 << 16];
	uint64_t total = 0;
	while (!rc) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		total += (uint64_t)r;
		if (total > max) {
			rc = LI707_ELIMIT;
			break;
		}
		rc = lx_hashsink_write(hs, buf, (size_t)r);
	}
	if (!rc)
		rc = lx_hashsink_finish(hs, sha, size);
	lx_hashsink_free(hs);
	close(out);
	if (rc)
		unlink(dst);
	return rc;
}

/* Takes attachment i of l into the spool (see DESIGN). */
static void take_attachment(struct csp_ingest *g, const struct csp_config *c, struct line *l,
			    size_t i, const struct csp_lea *lea, int64_t now)
{
	const struct lx_event_attachment *ea = &l->ev.attachments[i];
	struct li707_binary_object *b = &l->ev.item.attachments[i];
	struct att *a = &l->att[i];
	const char *spool = csp_store_spool(g->s);
	char real[PATH_MAX], fdpath[64], again[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX];
	if (!realpath(ea->path, real))
		return refuse(l, "attachments[%zu].path: cannot open the file: %s", i, strerror(errno));
	if (!allowed(g, real))
		return refuse(l, "attachments[%zu].path: outside attachment_dirs", i);
	int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return refuse(l, "attachments[%zu].path: cannot open the file: %s", i, strerror(errno));
	struct stat st, lst;
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(fdpath, again, sizeof again - 1);
	if (n > 0)
		again[n] = '\0';
	if (n <= 0 || (size_t)n >= sizeof again - 1 || !allowed(g, again)) {
		close(fd);
		return refuse(l, "attachments[%zu].path: outside attachment_dirs", i);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(l, "attachments[%zu].path: not a regular file", i);
	}
	if ((uint64_t)st.st_size > c->max_attachment_bytes) {
		close(fd);
		return refuse(l, "attachments[%zu]: larger than max_attachment_bytes (%llu)", i,
			      (unsigned long long)c->max_attachment_bytes);
	}
	int rc = li707_uuid_new(a->o.uuid);
	if (!rc)
		rc = random_token(a->o.token);
	if (rc) {
		close(fd);
		l->rc = rc;
		snprintf(l->err, sizeof l->err, "attachments[%zu]: %s", i, li707_strerror(rc));
		return;
	}
	snprintf(tmp, sizeof tmp, "%s/tmp/%s", spool, a->o.uuid);
	snprintf(a->rel, sizeof a->rel, "objects/%.2s/%s", a->o.uuid, a->o.uuid);
	snprintf(dst, sizeof dst, "%s/%s", spool, a->rel);
	unsigned char sha[32];
	uint64_t size = 0;
	bool linked = link(real, tmp) == 0;
	if (linked && (stat(tmp, &lst) != 0 || lst.st_ino != st.st_ino || lst.st_dev != st.st_dev)) {
		unlink(tmp); /* not the inode that was checked: copy from the open file instead */
		linked = false;
	}
	if (linked) {
		/* the linked inode (checked above) read once: size and SHA-256 */
		char hex[65];
		rc = li707_sha256_file(tmp, hex, &size);
		if (!rc && size > c->max_attachment_bytes)
			rc = LI707_ELIMIT;
		if (!rc && !li707_hex_decode(hex, 32, sha))
			rc = LI707_ECRYPTO;
		if (!rc && fsync(fd) != 0)
			rc = -errno;
		if (rc)
			unlink(tmp);
	} else {
		rc = copy_hash(fd, tmp, c->max_attachment_bytes, sha, &size);
	}
	close(fd);
	if (rc == LI707_ELIMIT)
		return refuse(l, "attachments[%zu]: larger than max_attachment_bytes (%llu)", i,
			      (unsigned long long)c->max_attachment_bytes);
	if (rc) {
		l->rc = rc;
		snprintf(l->err, sizeof l->err, "attachments[%zu]: cannot take the file into the spool: %s",
			 i, li707_strerror(rc));
		return;
	}
	if (rename(tmp, dst) != 0) {
		rc = -errno;
		unlink(tmp);
		l->rc = rc;
		snprintf(l->err, sizeof l->err, "attachments[%zu]: cannot take the file into the spool: %s",
			 i, strerror(-rc));
		return;
	}
	a->spooled = true;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/objects/%.2s", spool, a->o.uuid);
	if ((rc = lx_fsync_dir(dir))) {
		l->rc = rc;
		snprintf(l->err, sizeof l->err, "attachments[%zu]: spool: %s", i, li707_strerror(rc));
		return;
	}
	li707_hex_encode(sha, 32, a->o.sha256);
	a->o.size = size;
	a->o.path = a->rel;
	a->o.content_type = b->content_type;
	a->o.expiry = now + (int64_t)c->object_lifetime_s;
	char model = (char)ea->model;
	if (!model)
		model = csp_lea_default_model(lea, size);
	unsigned bit = model == 'A' ? CSP_MODEL_A : model == 'B' ? CSP_MODEL_B
			: model == 'C' ? CSP_MODEL_C : 0;
	if (!bit || !(lea->models & bit))
		return refuse(l, "attachments[%zu].model: not agreed with the reference's LEA (R-BIN-1)", i);
	a->o.model = model;
	/* for the library's checks (lx_event_check): what the record will say */
	free(b->checksum);
	b->checksum = strdup(a->o.sha256);
	b->has_content_length = true;
	b->content_length = size;
	if (!b->checksum) {
		l->rc = LI707_ENOMEM;
		snprintf(l->err, sizeof l->err, "out of memory");
	}
}

/* The canonical JSON (see DESIGN). */
static void canonical_json(struct line *l, const char *text, size_t len)
{
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!root) {
		refuse(l, "json: cannot be read again");
		return;
	}
	json_object_del(root, "conversation");
	json_t *arr = json_object_get(root, "attachments");
	for (size_t i = 0; i < l->n_att && arr; i++) {
		json_t *a = json_array_get(arr, i);
		char m[2] = {l->att[i].o.model, 0};
		if (!a || json_object_set_new(a, "path", json_string(l->att[i].rel)) ||
		    json_object_set_new(a, "model", json_string(m))) {
			l->rc = LI707_ENOMEM;
			snprintf(l->err, sizeof l->err, "out of memory");
			break;
		}
	}
	if (!l->rc && !(l->json = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII))) {
		l->rc = LI707_ENOMEM;
		snprintf(l->err, sizeof l->err, "out of memory");
	}
	if (l->json)
		l->json_len = strlen(l->json);
	json_decref(root);
}

static void prepare_line(struct csp_ingest *g, const struct csp_config *c, struct line *l,
			 const char *text, size_t len, int64_t now)
{
	struct lx_event_opts eo = {
		.base_dir = c->n_attachment_dirs ? c->attachment_dirs[0] : "/nonexistent",
		.now = now,
		.max_line_bytes = c->max_event_bytes,
		.conversation_ok = true,
		.absolute_paths = true,
		.defer_files = true,
	};
	int rc = lx_event_parse(text, len, &eo, &l->ev, l->err, sizeof l->err);
	if (rc) {
		l->rc = rc;
		if (!l->err[0])
			snprintf(l->err, sizeof l->err, "event: %s", li707_strerror(rc));
		return;
	}
	/* R-RSP-2: an unknown or closed reference is refused before anything is spooled (the
	 * store checks again in the transaction) */
	struct csp_ref ref;
	rc = csp_store_ref_find(g->s, l->ev.reference, &ref);
	const char *rk = l->ev.ref_kind == LI707_REF_LDID ? "ldid" : "liid";
	if (rc == LI707_ENOTFOUND)
		return refuse(l, "%s: unknown or closed reference (R-RSP-2)", rk);
	if (rc) {
		l->rc = rc;
		snprintf(l->err, sizeof l->err, "store: %s", li707_strerror(rc));
		return;
	}
	if (ref.until && now > ref.until) {
		csp_ref_clear(&ref);
		return refuse(l, "%s: the reference ended (--until) (R-RSP-2)", rk);
	}
	const struct csp_lea *lea = csp_config_lea(c, ref.lea);
	csp_ref_clear(&ref);
	if (!lea)
		return refuse(l, "%s: the reference's LEA is not in the configuration", rk);
	if (l->ev.n_attachments && !(l->att = calloc(l->ev.n_attachments, sizeof *l->att))) {
		l->rc = LI707_ENOMEM;
		snprintf(l->err, sizeof l->err, "out of memory");
		return;
	}
	l->n_att = l->ev.n_attachments;
	for (size_t i = 0; i < l->n_att && !l->rc; i++)
		take_attachment(g, c, l, i, lea, now);
	if (l->rc)
		return;
	/* the library's own rules on the item (lengths, MIME types, CSP XML) */
	if ((rc = lx_event_check(&l->ev, l->err, sizeof l->err))) {
		l->rc = rc;
		return;
	}
	canonical_json(l, text, len);
	if (l->rc)
		return;
	if (l->n_att && !(l->objs = calloc(l->n_att, sizeof *l->objs))) {
		l->rc = LI707_ENOMEM;
		snprintf(l->err, sizeof l->err, "out of memory");
		return;
	}
	for (size_t i = 0; i < l->n_att; i++)
		l->objs[i] = l->att[i].o;
	l->in = (struct csp_event_in){
		.objects = l->objs,
		.n_objects = l->n_att,
		.kind = l->ev.ref_kind,
		.ref = l->ev.reference,
		.conversation = l->ev.conversation,
		.has_correlation = l->ev.item.has_correlation,
		.app_level = (int64_t)l->ev.item.app_level_id,
		.app_seq = (int64_t)l->ev.item.app_seq,
		.json = l->json,
		.json_len = l->json_len,
	};
}

static void line_unspool(struct csp_ingest *g, struct line *l)
{
	char p[PATH_MAX];
	for (size_t i = 0; i < l->n_att; i++)
		if (l->att[i].spooled) {
			snprintf(p, sizeof p, "%s/%s", csp_store_spool(g->s), l->att[i].rel);
			unlink(p);
			l->att[i].spooled = false;
		}
}

static void line_clear(struct line *l)
{
	lx_event_clear(&l->ev);
	free(l->att);
	free(l->objs);
	free(l->json);
}

/* ---- a request ---- */

static int result_line(struct lx_dynbuf *out, long no, const struct line *l,
		       const struct csp_event_out *o)
{
	if (o && !o->rc)
		return lx_dynbuf_addf(out, "{\"line\":%ld,\"status\":\"accepted\",\"id\":%lld}\n", no,
				      (long long)o->id);
	const char *e = o && o->rc ? o->err : l->err;
	json_t *s = json_string(e[0] ? e : "refused");
	char *q = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
	json_decref(s);
	int rc = q ? lx_dynbuf_addf(out, "{\"line\":%ld,\"status\":\"refused\",\"error\":%s}\n", no, q)
		   : LI707_ENOMEM;
	free(q);
	return rc;
}

int csp_ingest_lines(struct csp_ingest *g, const char *buf, size_t len, long first_line,
		     struct lx_dynbuf *out, struct csp_ingest_stats *st)
{
	memset(st, 0, sizeof *st);
	/* count the lines first: one array of them */
	size_t n = 0;
	for (size_t i = 0, s = 0; i <= len; i++)
		if (i == len || buf[i] == '\n') {
			if (!lx_event_line_blank(buf + s, i - s))
				n++;
			s = i + 1;
		}
	if (!n)
		return 0;
	void *tok = NULL;
	const struct csp_config *c = g->acquire ? g->acquire(g->src_ud, &tok) : g->c;
	struct line *ls = calloc(n, sizeof *ls);
	struct csp_event_in *ins = calloc(n, sizeof *ins);
	struct csp_event_out *outs = calloc(n, sizeof *outs);
	size_t *map = calloc(n, sizeof *map);
	struct csp_event_out **res = calloc(n, sizeof *res);
	int rc = 0;
	if (!ls || !ins || !outs || !map || !res) {
		rc = LI707_ENOMEM;
		goto free_all;
	}
	struct li707_time now_t;
	li707_time_now(&now_t);
	int64_t now = now_t.epoch;
	size_t k = 0, m = 0;
	long no = first_line;
	for (size_t i = 0, s = 0; i <= len; i++) {
		if (i != len && buf[i] != '\n')
			continue;
		size_t l = i - s;
		if (!lx_event_line_blank(buf + s, l)) {
			struct line *ln = &ls[k++];
			ln->no = no;
			if (k > CSP_STORE_BATCH_MAX)
				refuse(ln, "request: more than %d events", CSP_STORE_BATCH_MAX);
			else if (l > c->max_event_bytes)
				refuse(ln, "line: longer than max_event_bytes (%llu)",
				       (unsigned long long)c->max_event_bytes);
			else
				prepare_line(g, c, ln, buf + s, l, now);
			if (!ln->rc) {
				map[m] = k - 1;
				ins[m++] = ln->in;
			}
		}
		no++;
		s = i + 1;
	}
	if (m) {
		int src = csp_store_ingest(g->s, ins, m, now, outs);
		st->store_failed = src != 0;
		if (!src && g->on_commit)
			g->on_commit(g->commit_ud); /* csp-wire-deliver */
	}
	for (size_t j = 0; j < m; j++)
		res[map[j]] = &outs[j];
	for (size_t j = 0; j < n; j++) {
		struct line *ln = &ls[j];
		bool ok = res[j] && res[j]->rc == 0;
		if (!ok)
			line_unspool(g, ln);
		if (ok) {
			st->accepted++;
			lx_metric_inc(g->accepted);
		} else {
			st->refused++;
			lx_metric_inc(g->refused);
		}
		st->lines++;
		if (!rc)
			rc = result_line(out, ln->no, ln, res[j]);
	}
free_all:
	free(res);
	for (size_t j = 0; ls && j < n; j++)
		line_clear(&ls[j]);
	free(ls);
	free(ins);
	free(outs);
	free(map);
	if (g->release)
		g->release(tok);
	return rc;
}
