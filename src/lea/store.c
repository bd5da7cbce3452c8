/* li707-lea - the store: public entry points (argument checks, dispatch to the backend) and
 * the backend-neutral helpers (Model B url rule, re-decoding for lea_store_item, state names).
 * See store.h for the contract and docs/internals/store.md for the design. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "store_int.h"

/* ---- state names ---- */

const char *lea_att_state_name(enum lea_att_state st)
{
	static const char *const names[LEA_ATT_NSTATES] = {
		"announced", "receiving", "complete", "mismatch", "expired", "to-fetch", "orphan",
		"fetching",
	};
	if ((unsigned)st >= LEA_ATT_NSTATES)
		return "unknown";
	return names[st];
}

/* ---- helpers shared by backends ---- */

bool lea__store_action_storable(const struct li707_action *a)
{
	if (a->verb != LI707_VERB_DELIVER || a->status != 0 || !a->delivery)
		return false;
	const struct li707_delivery *d = a->delivery;
	if (d->payload != LI707_PAYLOAD_ITEM && d->payload != LI707_PAYLOAD_COLLECTION)
		return false;
	return d->n_items > 0 && d->items && d->reference && d->object_id[0];
}

int64_t lea__store_item_epoch(const struct li707_item *it, int64_t received_at)
{
	struct li707_time t;
	if (it->timestamp && li707_parse_qualified_datetime(it->timestamp, &t))
		return t.epoch;
	return received_at;
}

bool lea__store_sha_lower(const char *in, char out[65])
{
	if (!in)
		return false;
	for (int i = 0; i < 64; i++) {
		if (li707_hex_value((unsigned char)in[i]) < 0)
			return false;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	if (in[64] != '\0')
		return false;
	out[64] = '\0';
	return true;
}

int lea__store_content_dir(const char *dir, const char *uuid, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/content/%.2s", dir, uuid);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int lea__store_mkdir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

/* The message holds d's item: the action is a delivery with d's ObjectIdentifier and
 * enough items. */
static bool detail_fits(const struct li707_message *m, const struct lea_item_detail *d,
			const char *object_id)
{
	if (d->action_index >= m->n_actions)
		return false;
	const struct li707_delivery *dl = m->actions[d->action_index].delivery;
	return dl && strcmp(dl->object_id, object_id) == 0 && d->item_index < dl->n_items;
}

static void free_schema_content(struct lea_item_detail *d)
{
	if (!d->schema_content)
		return;
	const struct li707_item *it = d->msg ? lea_item_detail_item(d) : NULL;
	size_t n = it ? it->n_csp : 0;
	for (size_t i = 0; i < n; i++)
		free(d->schema_content[i]);
	free(d->schema_content);
	d->schema_content = NULL;
}

int lea__store_detail_decode(struct lea_item_detail *d, const char *object_id)
{
	struct li707_limits lim = {0};
	/* The message was accepted once under the daemon's caps; decode it again without
	 * tighter ones than what it is. */
	lim.max_document_bytes = d->raw_len + 1;
	lim.max_items = SIZE_MAX / 2;
	lim.max_actions = SIZE_MAX / 2;
	lim.max_attachments = SIZE_MAX / 2;
	lim.max_identifiers = SIZE_MAX / 2;
	lim.max_raw_xml_bytes = d->raw_len + 1;
	lim.max_string_bytes = d->raw_len + 1;
	lim.max_diagnostics = 1;
	struct li707_message *m = NULL;
	int rc = li707_message_decode(d->raw, d->raw_len, &lim, &m, NULL);
	if (!m)
		return rc ? rc : LI707_EINVALID;
	if (!detail_fits(m, d, object_id)) {
		li707_message_free(m);
		return LI707_EINVALID;
	}
	d->msg = m;
	return 0;
}

int lea__store_detail_take(struct lea_item_detail *d, struct lea_item_detail *prev,
			   const char *object_id)
{
	if (!prev || !prev->msg || !prev->raw || prev->message_id != d->message_id)
		return 0;
	if (!detail_fits(prev->msg, d, object_id))
		return LI707_EINVALID;
	/* prev's schema contents are counted by its item in the message: freed while it has it */
	free_schema_content(prev);
	d->msg = prev->msg;
	d->raw = prev->raw;
	d->raw_len = prev->raw_len;
	prev->msg = NULL;
	prev->raw = NULL;
	prev->raw_len = 0;
	return 1;
}

void lea_item_detail_free(struct lea_item_detail *d)
{
	if (!d)
		return;
	free_schema_content(d);
	for (size_t i = 0; i < d->n_atts; i++) {
		free(d->atts[i].url);
		free(d->atts[i].file);
	}
	free(d->atts);
	li707_message_free(d->msg);
	free(d->peer);
	free(d->transaction_id);
	free(d->raw);
	free(d);
}

const struct li707_item *lea_item_detail_item(const struct lea_item_detail *d)
{
	if (!d || !d->msg || d->action_index >= d->msg->n_actions)
		return NULL;
	const struct li707_delivery *dl = d->msg->actions[d->action_index].delivery;
	if (!dl || d->item_index >= dl->n_items)
		return NULL;
	return &dl->items[d->item_index];
}

/* ---- open / close ---- */

static bool binary_path_ok(const char *p)
{
	size_t n = strlen(p);
	return n >= 1 && p[0] == '/' && p[n - 1] == '/' && !strpbrk(p, "?#");
}

int lea_store_open(const struct lea_store_opts *o, struct lea_store **out, char *err,
		   size_t errlen)
{
	if (!o || !out || !o->dir || !o->dir[0]) {
		lx_errf(err, errlen, "store: no directory given");
		return LI707_EINVAL;
	}
	const char *bp = o->binary_path ? o->binary_path : LEA_STORE_BINARY_PATH_DEFAULT;
	if (!binary_path_ok(bp)) {
		lx_errf(err, errlen, "store: binary_path must begin and end with '/'");
		return LI707_EINVAL;
	}
	struct lea_store *s = calloc(1, sizeof *s);
	if (!s) {
		lx_errf(err, errlen, "store: out of memory");
		return LI707_ENOMEM;
	}
	s->opts = *o;
	s->opts.dir = strdup(o->dir);
	s->opts.binary_path = strdup(bp);
	if (!s->opts.orphan_timeout_s)
		s->opts.orphan_timeout_s = LEA_STORE_ORPHAN_TIMEOUT_DEFAULT;
	if (!s->opts.orphan_max_bytes)
		s->opts.orphan_max_bytes = LEA_STORE_ORPHAN_MAX_DEFAULT;
	s->ops = &lea__store_sqlite_ops;
	int rc = LI707_ENOMEM;
	if (!s->opts.dir || !s->opts.binary_path) {
		lx_errf(err, errlen, "store: out of memory");
		goto fail;
	}
	rc = s->ops->open(&s->opts, &s->be, err, errlen);
	if (rc)
		goto fail;
	*out = s;
	return 0;
fail:
	free((char *)s->opts.dir);
	free((char *)s->opts.binary_path);
	free(s);
	return rc;
}

const char *lea_store_dir(const struct lea_store *s)
{
	return s ? s->opts.dir : NULL;
}

void lea_store_close(struct lea_store *s)
{
	if (!s)
		return;
	s->ops->close(s->be);
	free((char *)s->opts.dir);
	free((char *)s->opts.binary_path);
	free(s);
}

/* ---- dispatch ---- */

int lea_store_put(struct lea_store *s, struct lea_put *p)
{
	if (!s || !p || !p->peer || !p->raw || !p->msg || (p->msg->n_actions && !p->outcome))
		return LI707_EINVAL;
	return s->ops->put(s->be, p);
}

int lea_store_upload_begin(struct lea_store *s, struct lea_upload *u)
{
	char uuid[37];
	if (!s || !u || !u->peer || strnlen(u->uuid, sizeof uuid) != 36)
		return LI707_EINVAL;
	for (size_t i = 0; i < 36; i++) /* hex in either case, kept lower-case */
		uuid[i] = (char)tolower((unsigned char)u->uuid[i]);
	uuid[36] = '\0';
	if (!li707_check_uuid(uuid))
		return LI707_EINVAL;
	memcpy(u->uuid, uuid, sizeof uuid);
	return s->ops->upload_begin(s->be, u);
}

int lea_store_upload_finish(struct lea_store *s, int64_t upload_id, uint64_t bytes,
			    const char sha256_hex[65], enum lea_att_state *state_out)
{
	char sha[65];
	if (!s || upload_id <= 0 || !lea__store_sha_lower(sha256_hex, sha))
		return LI707_EINVAL;
	return s->ops->upload_finish(s->be, upload_id, bytes, sha, state_out);
}

int lea_store_upload_abort(struct lea_store *s, int64_t upload_id)
{
	if (!s || upload_id <= 0)
		return LI707_EINVAL;
	return s->ops->upload_abort(s->be, upload_id);
}

int lea_store_sweep(struct lea_store *s, int64_t now, uint64_t *expired)
{
	if (!s)
		return LI707_EINVAL;
	return s->ops->sweep(s->be, now, expired);
}

int lea_store_list(struct lea_store *s, const struct lea_query *q, lea_item_fn fn, void *cls)
{
	static const struct lea_query all;
	if (!s || !fn)
		return LI707_EINVAL;
	return s->ops->list(s->be, q ? q : &all, fn, cls);
}

int lea_store_item(struct lea_store *s, int64_t id, struct lea_item_detail **out)
{
	if (!s || !out)
		return LI707_EINVAL;
	return s->ops->item(s->be, id, NULL, out);
}

int lea_store_item_next(struct lea_store *s, int64_t id, struct lea_item_detail *prev,
			struct lea_item_detail **out)
{
	int rc = !s || !out ? LI707_EINVAL : s->ops->item(s->be, id, prev, out);
	lea_item_detail_free(prev);
	return rc;
}

int lea_store_status(struct lea_store *s, const char *ref, lea_status_fn fn, void *cls)
{
	if (!s || !fn)
		return LI707_EINVAL;
	return s->ops->status(s->be, ref, fn, cls);
}

int lea_store_gaps(struct lea_store *s, const char *ref, lea_gap_fn fn, void *cls)
{
	if (!s || !fn)
		return LI707_EINVAL;
	return s->ops->gaps(s->be, ref, fn, cls);
}

int lea_store_stats(struct lea_store *s, struct lea_store_stats *out)
{
	if (!s || !out)
		return LI707_EINVAL;
	*out = (struct lea_store_stats){0};
	s->ops->stats(s->be, out);
	return 0;
}

/* ---- Model A/C retrieval queue ---- */

int lea_store_fetch_queue(struct lea_store *s, int64_t now, size_t max, lea_fetch_fn fn,
			  void *cls)
{
	if (!s || !fn)
		return LI707_EINVAL;
	return s->ops->fetch_queue(s->be, now, max, fn, cls);
}

int lea_store_fetch_get(struct lea_store *s, int64_t id, struct lea_fetch_entry *out)
{
	if (!s || !out)
		return LI707_EINVAL;
	return s->ops->fetch_get(s->be, id, out);
}

int lea_store_fetch_update(struct lea_store *s, const struct lea_fetch_update *u)
{
	if (!s || !u || ((u->what & LEA_FU_STATE) && (unsigned)u->state >= LEA_ATT_NSTATES) ||
	    ((u->what & LEA_FU_FS) && !u->fs) ||
	    ((u->what & LEA_FU_MODEL) && u->model != 'A' && u->model != 'C'))
		return LI707_EINVAL;
	return s->ops->fetch_update(s->be, u);
}

int lea_store_fetch_counts(struct lea_store *s, uint64_t n[LEA_ATT_NSTATES])
{
	if (!s || !n)
		return LI707_EINVAL;
	return s->ops->fetch_counts(s->be, n);
}

void lea_store_fetch_part(int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "fetch/%lld.part", (long long)id);
}

void lea_store_fetch_dest(int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "content/%02x/fetch-%lld", (unsigned)(id & 0xff), (long long)id);
}
