/* li707-lea export --ref R --out DIR - everything stored for one reference, as files an
 * analyst can hand on:
 *
 *   DIR/items/ITEM.xml          each item as a standalone handoverItem (li707_item_encode)
 *   DIR/items/ITEM.json         the document of `li707-lea show --json ITEM`
 *   DIR/messages/TXID.xml       every message that carried one of them, exactly as received,
 *                               once each (TXID = its TransactionIdentifier)
 *   DIR/attachments/ITEM-N-NAME every attachment whose data is stored (N = its position in
 *                               the item, NAME = its originalFilename made safe)
 *   DIR/manifest.json           reference, export time, item count, each file's relative
 *                               path, size and SHA-256 (computed while writing), each
 *                               attachment's state and whether its SHA-256 matches the
 *                               record's checksum, and the problems met
 *
 * Safety: DIR must not exist (it is created 0700) or be an empty directory, never a symbolic
 * link; everything below it is created relative to directory descriptors opened with
 * O_NOFOLLOW, files with O_CREAT|O_EXCL|O_NOFOLLOW (0600, the content is sensitive), as
 * ".tmp-NAME" renamed into place with RENAME_NOREPLACE, so nothing outside DIR is ever
 * written or replaced whatever the names in the messages say. NAME keeps only the
 * basename, without leading dots, of [A-Za-z0-9._-] (anything else becomes '_'), at most
 * 100 bytes, "attachment" when nothing is left.
 *
 * Durability: at the end every file and directory is fsync'd, then the manifest is written,
 * fsync'd and renamed, and DIR (and its parent) fsync'd: a DIR with a manifest.json is a
 * complete export. Any failure is reported on stderr (by item id and attachment position,
 * never by name or reference: R-SEC-6), recorded in the manifest, and makes the exit status
 * non-zero; the export goes on with the rest. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "lea_cli.h"
#include "lea_query_int.h"
#include "model_json.h"

#define NAME_MAX_BYTES 100
#define COPY_BLOCK (256u * 1024u)
#define PROBLEMS_KEPT 1000

static const char export_help[] =
	"Usage: li707-lea export [--store DIR | --config FILE] --ref R --out DIR\n"
	"\n"
	"Write everything stored for reference R into DIR (which must not exist, or be an\n"
	"empty directory; never a symbolic link):\n"
	"  items/ITEM.xml, items/ITEM.json    each item as XML (handoverItem) and as JSON\n"
	"  messages/TXID.xml                  each message, exactly as received\n"
	"  attachments/ITEM-N-NAME            each stored attachment (NAME: its file name made\n"
	"                                     safe: [A-Za-z0-9._-], at most 100 bytes)\n"
	"  manifest.json                      sizes and SHA-256 of every file, attachment\n"
	"                                     states and checksum matches, problems met\n"
	"Files are synced to disk; manifest.json is written last.\n"
	"\n"
	"Options:\n"
	"  --ref R          the LIID or LDID to export (required)\n"
	"  --out DIR        where to write (required)\n"
	"%s"
	"\n"
	"Exit status: 0 ok, 1 stored data no longer matches its recorded SHA-256, 2 usage,\n"
	"3 DIR refused, nothing stored for R, or an I/O error, 4 bad configuration, 6 store\n"
	"damaged.\n";

enum { D_TOP, D_ITEMS, D_MESSAGES, D_ATTACHMENTS, ND };
static const char *const dir_name[ND] = {"", "items", "messages", "attachments"};

struct file_rec {
	int dir;
	char *name;
	uint64_t size;
	char sha256[65];
};

struct msg_seen {
	char *txid;
	char sha256[65];
};

struct export {
	const char *cmd;
	struct lea_store *s;
	int fd[ND];
	int first_rc;             /* first failure, 0 when none */
	struct file_rec *files;
	size_t n_files, cap_files;
	struct msg_seen *msgs;
	size_t n_msgs, cap_msgs;
	json_t *atts;             /* manifest "attachments" */
	json_t *problems;         /* manifest "problems" */
	size_t n_problems;
	enum li707_ref_kind ref_kind;
	int64_t *ids;
	size_t n_ids, cap_ids;
	bool progress;
	struct lea_item_detail *prev; /* the last item exported: the next item of its message
				       * takes its decoded message over (lea_store_item_next) */
};

/* ---- problems ---- */

static void problem(struct export *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records a failure: stderr, the manifest, the exit status. The text must not carry target
 * identifiers or names from messages. */
static void problem(struct export *x, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (x->progress)
		fputc('\n', stderr);
	fprintf(stderr, "li707-lea %s: %s\n", x->cmd, msg);
	if (!x->first_rc)
		x->first_rc = rc ? rc : LI707_ENOMEM;
	if (x->n_problems++ < PROBLEMS_KEPT)
		json_array_append_new(x->problems, json_string(msg));
}

/* ---- names ---- */

/* The originalFilename made safe for attachments/ITEM-N-NAME (see the top of this file). */
static void safe_name(const char *orig, char out[NAME_MAX_BYTES + 1])
{
	size_t n = 0;
	if (orig) {
		const char *base = orig;
		for (const char *p = orig; *p; p++)
			if (*p == '/' || *p == '\\')
				base = p + 1;
		while (*base == '.')
			base++;
		for (const unsigned char *p = (const unsigned char *)base; *p && n < NAME_MAX_BYTES;) {
			unsigned c = *p++;
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '.' || c == '_' || c == '-') {
				out[n++] = (char)c;
				continue;
			}
			out[n++] = '_'; /* one '_' per character: skip a UTF-8 sequence's tail */
			if (c >= 0xc0)
				while ((*p & 0xc0) == 0x80)
					p++;
		}
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, NAME_MAX_BYTES + 1, "attachment");
}

/* ---- writing files ---- */

/* Moves DIR/sub/.tmp-NAME to NAME, never replacing anything. */
static int put_in_place(int dfd, const char *tmp, const char *name)
{
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	int rc = -errno;
	if (rc == -EINVAL || rc == -ENOSYS) { /* no RENAME_NOREPLACE here: link never replaces */
		if (linkat(dfd, tmp, dfd, name, 0) != 0)
			rc = -errno;
		else
			rc = 0;
	}
	unlinkat(dfd, tmp, 0);
	return rc;
}

/* Writes one file from a source: buf/len, or the file at src_path (copied in blocks). The
 * SHA-256 and size of what was written go into a new file record. */
static int write_file(struct export *x, int dir, const char *name, const char *buf, size_t len,
		      const char *src_path, struct file_rec **rec_out)
{
	char tmp[NAME_MAX_BYTES + 64];
	snprintf(tmp, sizeof tmp, ".tmp-%s", name);
	int grc = lq_grow((void **)&x->files, &x->cap_files, x->n_files, sizeof *x->files);
	if (grc)
		return grc;
	int src = -1, rc = 0;
	if (src_path && (src = open(src_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	int fd = openat(x->fd[dir], tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *block = src_path ? malloc(COPY_BLOCK) : NULL;
	if (fd < 0)
		rc = -errno;
	else if (!md || (src_path && !block))
		rc = LI707_ENOMEM;
	else if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		rc = LI707_ECRYPTO;
	uint64_t total = 0;
	for (bool more = true; rc == 0 && more;) {
		const char *p = buf;
		size_t n = len;
		if (src_path) {
			ssize_t r = read(src, block, COPY_BLOCK);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				rc = -errno;
				break;
			}
			p = block;
			n = (size_t)r;
			more = r > 0;
		} else {
			more = false;
		}
		if (EVP_DigestUpdate(md, p, n) != 1)
			rc = LI707_ECRYPTO;
		if (rc == 0)
			rc = lx_write_all(fd, p, n);
		total += n;
	}
	unsigned char dg[32];
	unsigned dglen = 0;
	if (rc == 0 && EVP_DigestFinal_ex(md, dg, &dglen) != 1)
		rc = LI707_ECRYPTO;
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		rc = put_in_place(x->fd[dir], tmp, name);
	else if (fd >= 0)
		unlinkat(x->fd[dir], tmp, 0);
	struct file_rec *f = &x->files[x->n_files];
	if (rc == 0 && !(f->name = strdup(name)))
		rc = LI707_ENOMEM;
	if (rc == 0) {
		f->dir = dir;
		f->size = total;
		for (unsigned i = 0; i < dglen && i < 32; i++)
			snprintf(f->sha256 + 2 * i, 3, "%02x", dg[i]);
		x->n_files++;
		if (rec_out)
			*rec_out = f;
	}
	free(block);
	EVP_MD_CTX_free(md);
	if (src >= 0)
		close(src);
	return rc;
}

/* ---- DIR ---- */

/* True when the directory open at fd holds nothing. */
static int dir_empty(int fd, bool *empty)
{
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int rc = -errno;
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	*empty = true;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			*empty = false;
			break;
		}
	closedir(d);
	return 0;
}

/* Opens DIR, creating it when missing; refuses a symbolic link, a non-directory, or a
 * directory that is not empty. */
static int open_out(struct export *x, const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			return lq_fail(x->cmd, -errno, "%s: %s", path, strerror(errno));
		if (mkdir(path, 0700) != 0)
			return lq_fail(x->cmd, -errno, "cannot create %s: %s", path, strerror(errno));
	} else if (S_ISLNK(st.st_mode)) {
		return lq_fail(x->cmd, LI707_EDENIED, "%s is a symbolic link: refused", path);
	} else if (!S_ISDIR(st.st_mode)) {
		return lq_fail(x->cmd, LI707_EDENIED, "%s exists and is not a directory: refused",
			       path);
	}
	x->fd[D_TOP] = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (x->fd[D_TOP] < 0)
		return lq_fail(x->cmd, -errno, "%s: %s", path, strerror(errno));
	bool empty = false;
	int rc = dir_empty(x->fd[D_TOP], &empty);
	if (rc)
		return lq_fail(x->cmd, rc, "%s: %s", path, li707_strerror(rc));
	if (!empty)
		return lq_fail(x->cmd, LI707_EDENIED, "%s is not empty: refused", path);
	for (int i = D_ITEMS; i < ND; i++) {
		if (mkdirat(x->fd[D_TOP], dir_name[i], 0700) != 0)
			return lq_fail(x->cmd, -errno, "cannot create %s/%s: %s", path, dir_name[i],
				       strerror(errno));
		x->fd[i] = openat(x->fd[D_TOP], dir_name[i],
				  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (x->fd[i] < 0)
			return lq_fail(x->cmd, -errno, "%s/%s: %s", path, dir_name[i],
				       strerror(errno));
	}
	return 0;
}

/* fsync of every file written (reopened by name, relative to its directory), then of the
 * directories. */
static void sync_all(struct export *x)
{
	for (size_t i = 0; i < x->n_files; i++) {
		const struct file_rec *f = &x->files[i];
		int fd = openat(x->fd[f->dir], f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0)
			problem(x, -errno, "cannot sync %s/%s: %s", dir_name[f->dir],
				f->dir == D_ATTACHMENTS ? "(attachment)" : f->name, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	for (int i = D_ITEMS; i < ND; i++)
		if (fsync(x->fd[i]) != 0)
			problem(x, -errno, "cannot sync %s/: %s", dir_name[i], strerror(errno));
}

/* ---- one item ---- */

static void export_message(struct export *x, const struct lea_item_detail *d)
{
	char sha[65], name[64];
	if (li707_sha256_hex(d->raw, d->raw_len, sha) != 0) {
		problem(x, LI707_ECRYPTO, "item %" PRId64 ": cannot hash its message", d->id);
		return;
	}
	const char *tx = d->transaction_id && li707_check_uuid(d->transaction_id)
				 ? d->transaction_id
				 : "message";
	unsigned same_tx = 0;
	for (size_t i = 0; i < x->n_msgs; i++) {
		if (strcmp(x->msgs[i].txid, tx) != 0)
			continue;
		if (strcmp(x->msgs[i].sha256, sha) == 0)
			return; /* written already */
		same_tx++;
	}
	if (same_tx)
		snprintf(name, sizeof name, "%s-%u.xml", tx, same_tx + 1);
	else
		snprintf(name, sizeof name, "%s.xml", tx);
	int rc = lq_grow((void **)&x->msgs, &x->cap_msgs, x->n_msgs, sizeof *x->msgs);
	if (rc == 0)
		rc = write_file(x, D_MESSAGES, name, d->raw, d->raw_len, NULL, NULL);
	if (rc) {
		problem(x, rc, "item %" PRId64 ": cannot write its message: %s", d->id,
			li707_strerror(rc));
		return;
	}
	x->msgs[x->n_msgs].txid = strdup(tx);
	memcpy(x->msgs[x->n_msgs].sha256, sha, sizeof sha);
	if (x->msgs[x->n_msgs].txid)
		x->n_msgs++;
}

/* One attachment: the data when stored, and its manifest entry in any case. */
static void export_attachment(struct export *x, const struct lea_item_detail *d, size_t i,
			      const struct li707_binary_object *b,
			      const struct lea_attachment *a)
{
	char safe[NAME_MAX_BYTES + 1], name[NAME_MAX_BYTES + 64], path[NAME_MAX_BYTES + 80];
	struct file_rec *f = NULL;
	json_t *o = json_object();
	json_object_set_new(o, "item", json_integer(d->id));
	json_object_set_new(o, "index", json_integer((json_int_t)i + 1));
	json_object_set_new(o, "state", a ? json_string(lea_att_state_name(a->state))
					  : json_null());
	json_object_set_new(o, "record_sha256", lx_json_str(b->checksum));
	if (a && a->file) {
		safe_name(b->original_filename, safe);
		snprintf(name, sizeof name, "%" PRId64 "-%zu-%s", d->id, i + 1, safe);
		int rc = write_file(x, D_ATTACHMENTS, name, NULL, 0, a->file, &f);
		if (rc)
			problem(x, rc, "item %" PRId64 " attachment %zu: cannot copy: %s", d->id, i + 1,
				li707_strerror(rc));
		else if (a->sha256[0] && strcasecmp(f->sha256, a->sha256) != 0)
			problem(x, LI707_EMISMATCH,
				"item %" PRId64 " attachment %zu: the stored data no longer matches "
				"the SHA-256 recorded when it was received",
				d->id, i + 1);
	}
	if (f) {
		snprintf(path, sizeof path, "attachments/%s", f->name);
		json_object_set_new(o, "path", json_string(path));
		json_object_set_new(o, "size", lx_json_u64(f->size));
		json_object_set_new(o, "sha256", json_string(f->sha256));
		json_object_set_new(o, "sha256_match",
				    lx_json_tristate(lq_sha256_match(f->sha256, b->checksum)));
	} else {
		json_object_set_new(o, "path", json_null());
		json_object_set_new(o, "size", json_null());
		json_object_set_new(o, "sha256", json_null());
		json_object_set_new(o, "sha256_match", json_null());
	}
	json_array_append_new(x->atts, o);
}

static void export_item(struct export *x, int64_t id)
{
	struct lea_item_detail *d = NULL;
	int rc = lea_store_item_next(x->s, id, x->prev, &d);
	x->prev = NULL;
	if (rc || !d) {
		problem(x, rc ? rc : LI707_ENOTFOUND, "item %" PRId64 ": cannot read it: %s", id,
			li707_strerror(rc ? rc : LI707_ENOTFOUND));
		return;
	}
	const struct li707_item *it = lea_item_detail_item(d);
	char name[64], *buf = NULL;
	size_t len = 0;

	snprintf(name, sizeof name, "%" PRId64 ".xml", id);
	rc = li707_item_encode(it, &buf, &len, NULL);
	if (rc == 0)
		rc = write_file(x, D_ITEMS, name, buf, len, NULL, NULL);
	if (rc)
		problem(x, rc, "item %" PRId64 ": cannot write items/%s: %s", id, name,
			li707_strerror(rc));
	free(buf);

	json_t *j = lq_item_json(d);
	/* The store's own file paths stay in the store: the manifest names the exported copies. */
	json_t *sa = j ? json_object_get(j, "stored_attachments") : NULL;
	for (size_t i = 0; i < json_array_size(sa); i++)
		json_object_del(json_array_get(sa, i), "file");
	buf = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	snprintf(name, sizeof name, "%" PRId64 ".json", id);
	rc = buf ? 0 : LI707_ENOMEM;
	if (rc == 0) {
		len = strlen(buf);
		buf[len] = '\n'; /* json_dumps' NUL becomes the final newline */
		rc = write_file(x, D_ITEMS, name, buf, len + 1, NULL, NULL);
	}
	if (rc)
		problem(x, rc, "item %" PRId64 ": cannot write items/%s: %s", id, name,
			li707_strerror(rc));
	free(buf);

	export_message(x, d);
	for (size_t i = 0; i < it->n_attachments; i++) {
		const struct lea_attachment *a = NULL;
		for (size_t k = 0; k < d->n_atts; k++)
			if (d->atts[k].index == i)
				a = &d->atts[k];
		export_attachment(x, d, i, &it->attachments[i], a);
	}
	x->prev = d;
}

/* ---- the manifest ---- */

static int write_manifest(struct export *x, const char *ref)
{
	char now[32];
	lq_time_utc((int64_t)time(NULL), now);
	json_t *files = json_array();
	for (size_t i = 0; i < x->n_files; i++) {
		const struct file_rec *f = &x->files[i];
		char path[NAME_MAX_BYTES + 80];
		snprintf(path, sizeof path, "%s/%s", dir_name[f->dir], f->name);
		json_array_append_new(files, json_pack("{s:s, s:o, s:s}", "path", path, "size",
						       lx_json_u64(f->size), "sha256",
						       f->sha256));
	}
	json_t *m = json_object();
	json_object_set_new(m, "reference", json_string(ref));
	json_object_set_new(m, "reference_kind", json_string(lx_ref_kind_name(x->ref_kind)));
	json_object_set_new(m, "exported_at", json_string(now));
	json_object_set_new(m, "items", json_integer((json_int_t)x->n_ids));
	json_object_set_new(m, "complete", json_boolean(x->first_rc == 0));
	json_object_set_new(m, "files", files);
	json_object_set_new(m, "attachments", json_incref(x->atts));
	json_object_set_new(m, "problems", json_incref(x->problems));
	json_object_set_new(m, "problems_not_listed",
			    json_integer((json_int_t)(x->n_problems > PROBLEMS_KEPT
							      ? x->n_problems - PROBLEMS_KEPT
							      : 0)));
	char *buf = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	if (!buf)
		return LI707_ENOMEM;
	size_t len = strlen(buf);
	buf[len] = '\n';
	int rc = write_file(x, D_TOP, "manifest.json", buf, len + 1, NULL, NULL);
	free(buf);
	if (rc)
		return rc;
	int fd = openat(x->fd[D_TOP], "manifest.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0 || fsync(x->fd[D_TOP]) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- the command ---- */

static int collect_id(void *cls, const struct lea_item_row *r)
{
	struct export *x = cls;
	int grc = lq_grow((void **)&x->ids, &x->cap_ids, x->n_ids, sizeof *x->ids);
	if (grc)
		return grc;
	x->ids[x->n_ids++] = r->id;
	x->ref_kind = r->ref_kind;
	return 0;
}

/* The directory holding path, fsync'd so that DIR's own entry is durable. */
static void sync_parent(struct export *x, const char *path)
{
	int rc = lx_fsync_parent(path);
	if (rc)
		problem(x, rc, "cannot sync the directory holding the export: %s", strerror(-rc));
}

static void export_free(struct export *x)
{
	for (int i = 0; i < ND; i++)
		if (x->fd[i] >= 0)
			close(x->fd[i]);
	for (size_t i = 0; i < x->n_files; i++)
		free(x->files[i].name);
	for (size_t i = 0; i < x->n_msgs; i++)
		free(x->msgs[i].txid);
	free(x->files);
	free(x->msgs);
	free(x->ids);
	json_decref(x->atts);
	json_decref(x->problems);
}

static int run_export(struct export *x, const char *ref, const char *out)
{
	struct lea_query q = {.ref = ref};
	int rc = lea_store_list(x->s, &q, collect_id, x);
	if (rc)
		return lq_fail(x->cmd, rc, "cannot read the store: %s", li707_strerror(rc));
	if (x->n_ids == 0)
		return lq_fail(x->cmd, LI707_ENOTFOUND, "nothing is stored for the given reference");
	if ((rc = open_out(x, out)) != 0)
		return rc;
	x->progress = isatty(STDERR_FILENO);
	for (size_t i = 0; i < x->n_ids; i++) {
		if (x->progress)
			fprintf(stderr, "\rexporting item %zu of %zu", i + 1, x->n_ids);
		export_item(x, x->ids[i]);
	}
	lea_item_detail_free(x->prev);
	x->prev = NULL;
	if (x->progress)
		fputc('\n', stderr);
	sync_all(x);
	rc = write_manifest(x, ref);
	if (rc)
		problem(x, rc, "cannot write manifest.json: %s", li707_strerror(rc));
	sync_parent(x, out);
	if (x->first_rc) {
		fprintf(stderr, "li707-lea %s: %zu problem%s: the export in %s is incomplete\n",
			x->cmd, x->n_problems, x->n_problems == 1 ? "" : "s", out);
		return li707_exit_code(x->first_rc);
	}
	printf("exported %zu item%s, %zu file%s to %s\n", x->n_ids, x->n_ids == 1 ? "" : "s",
	       x->n_files, x->n_files == 1 ? "" : "s", out);
	return lq_flush_stdout(x->cmd);
}

int lea_cmd_export(int argc, char **argv)
{
	static const char cmd[] = "export";
	enum { O_REF = LQ_OPT_CMD_BASE, O_OUT };
	static const struct option opts[] = {
		LQ_STORE_LONGOPTS,
		{"ref", required_argument, NULL, O_REF},
		{"out", required_argument, NULL, O_OUT},
		{NULL, 0, NULL, 0},
	};
	struct lq_store_opt so = {0};
	const char *ref = NULL, *out = NULL;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = lq_store_option(&so, cmd, c, optarg);
		if (r >= 0) {
			if (r)
				return r;
			continue;
		}
		switch (c) {
		case 'h': printf(export_help, lq_store_help); return 0;
		case O_REF: ref = optarg; break;
		case O_OUT: out = optarg; break;
		default: return lq_bad_option(cmd, argc, argv);
		}
	}
	if (optind < argc)
		return lq_usage_error(cmd, "unexpected argument after the options");
	if (!ref || !*ref)
		return lq_usage_error(cmd, "--ref R is required");
	if (!out || !*out)
		return lq_usage_error(cmd, "--out DIR is required");

	/* "DIR/" would make lstat() and O_NOFOLLOW follow a symbolic link DIR */
	char *dir = strdup(out);
	for (size_t n = dir ? strlen(dir) : 0; n > 1 && dir[n - 1] == '/';)
		dir[--n] = '\0';
	struct export x = {.cmd = cmd, .fd = {-1, -1, -1, -1}, .atts = json_array(),
			   .problems = json_array()};
	int rc = dir && x.atts && x.problems ? 0 : lq_fail(cmd, LI707_ENOMEM, "out of memory");
	if (rc == 0)
		rc = lq_store_open(&so, cmd, &x.s);
	if (rc == 0)
		rc = run_export(&x, ref, dir);
	lea_store_close(x.s);
	export_free(&x);
	free(dir);
	return rc;
}
