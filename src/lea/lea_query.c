/* li707-lea - the analyst's commands (lea_cli.h): the options they share, opening the store
 * read-only, output helpers, and `list` and `status`. `show` is in lea_query_show.c,
 * `export` in lea_query_export.c; lea_query_int.h has the output policy (what may be
 * printed where, R-SEC-6).
 *
 * `list` prints one row per item. On a terminal: an aligned table with a header, cells
 * wider than their column cut with "…". Otherwise (a pipe, a file): the same columns
 * separated by tabs after a header line, every value whole, with \t \n \r \\ escaped - a
 * format scripts can rely on. --json: one JSON array of objects with every field. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cliopt.h"
#include "lea_cli.h"
#include "lea_config.h"
#include "lea_query_int.h"
#include "lea_refusals.h"
#include "model_json.h"

#define CONFIG_MAX_BYTES (1u << 20)

const char lq_store_help[] =
	"  --store DIR      the store directory\n"
	"  --config FILE    take the store directory from this li707-lea configuration\n"
	"                   (default: the `store` of " LEA_CONFIG_DEFAULT ")\n"
	"  -h, --help       print this help and exit\n";

/* ---- messages ---- */

int lq_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lx_usage_verror("li707-lea", cmd, fmt, ap);
	va_end(ap);
	return LQ_EXIT_USAGE;
}

int lq_bad_option(const char *cmd, int argc, char **argv)
{
	lx_bad_option("li707-lea", cmd, argc, argv);
	return LQ_EXIT_USAGE;
}

int lq_fail(const char *cmd, int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "li707-lea %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return li707_exit_code(code);
}

int lq_flush_stdout(const char *cmd)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return lq_fail(cmd, errno ? -errno : -EIO, "cannot write the output: %s",
			       strerror(errno ? errno : EIO));
	return 0;
}

/* ---- values ---- */

bool lq_parse_id(const char *s, int64_t *out)
{
	uint64_t v;
	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19 ||
	    !li707_parse_uint(s, &v) || v == 0 || v > (uint64_t)INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool parse_limit(const char *s, size_t *out)
{
	uint64_t v;
	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19 ||
	    !li707_parse_uint(s, &v) || v == 0 || v > SIZE_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

/* --since: an RFC 3339 date-time, or a date YYYY-MM-DD meaning its midnight UTC. */
static bool parse_since(const char *s, int64_t *out)
{
	struct li707_time t;
	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
	    strspn(s, "0123456789-") == 10) {
		char full[32];
		snprintf(full, sizeof full, "%sT00:00:00Z", s);
		if (!li707_parse_rfc3339(full, &t))
			return false;
	} else if (!li707_parse_rfc3339(s, &t)) {
		return false;
	}
	*out = t.epoch;
	return true;
}

void lq_time_utc(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "@%" PRId64, t);
}

/* Length of the UTF-8 sequence starting at p (1..4), 0 when it is not a valid one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
				: (c & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* U+202A..U+202E (LRE RLE PDF LRO RLO) and U+2066..U+2069 (LRI RLI FSI PDI): E2 80 AA..AE,
 * E2 81 A6..A9 in UTF-8. */
static bool is_bidi_control(const unsigned char *p, size_t n)
{
	return n == 3 && p[0] == 0xe2 &&
	       ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
		(p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
}

char *lq_escape(const char *s, bool keep_layout)
{
	if (!s)
		return NULL;
	size_t len = strlen(s);
	if (len > (SIZE_MAX - 1) / 6)
		return NULL;
	char *out = malloc(len * 6 + 1), *o = out;
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = utf8_len(p);
		if (n == 0) {
			o += sprintf(o, "\\x%02x", *p++);
		} else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
			o += sprintf(o, "\\u%04x", (unsigned)p[1]);
			p += 2;
		} else if (is_bidi_control(p, n)) {
			/* Bidi embeddings, overrides and isolates reorder what follows on a terminal. */
			o += sprintf(o, "\\u%04x", ((unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f)) +
							 0x2000u);
			p += 3;
		} else if (n > 1) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			unsigned c = *p++;
			const char *e = c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\n' ? "\\n"
				      : c == '\r' ? "\\r" : NULL;
			if (keep_layout && (c == '\\' || c == '\t' || c == '\n'))
				*o++ = (char)c;
			else if (e)
				o += sprintf(o, "%s", e);
			else if (c < 0x20 || c == 0x7f)
				o += sprintf(o, "\\x%02x", c);
			else
				*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

int lq_json_dump(json_t *j, FILE *f)
{
	if (!j || json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
		return LI707_ENOMEM;
	fputc('\n', f);
	return 0;
}

/* ---- the store ---- */

int lq_store_option(struct lq_store_opt *o, const char *cmd, int c, const char *arg)
{
	switch (c) {
	case LQ_OPT_CONFIG:
		if (o->config || o->store)
			return lq_usage_error(cmd, "give one --config or --store");
		o->config = arg;
		return 0;
	case LQ_OPT_STORE:
		if (o->config || o->store)
			return lq_usage_error(cmd, "give one --config or --store");
		if (!*arg)
			return lq_usage_error(cmd, "--store needs a directory");
		o->store = arg;
		return 0;
	default:
		return -1;
	}
}

static int read_config(const char *path, struct lea_config **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rbe");
	if (!f) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	char *buf = malloc(CONFIG_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, CONFIG_MAX_BYTES + 1, f) : 0;
	int rc = !buf ? LI707_ENOMEM : ferror(f) ? -EIO : n > CONFIG_MAX_BYTES ? LI707_EINPUT : 0;
	fclose(f);
	if (rc == 0) {
		buf[n] = '\0';
		rc = lea_config_parse(path, buf, n, false, out, err, errlen);
	} else {
		snprintf(err, errlen, "%s: %s", path,
			 rc == LI707_EINPUT ? "larger than 1 MiB" : li707_strerror(rc));
	}
	free(buf);
	return rc;
}

int lq_store_open(const struct lq_store_opt *o, const char *cmd, struct lea_store **out)
{
	char err[512] = "";
	struct lea_config *cfg = NULL;
	struct lea_store_opts so = {.dir = o->store, .read_only = true};
	int rc;

	li707_global_init();
	if (!so.dir) {
		rc = read_config(o->config ? o->config : LEA_CONFIG_DEFAULT, &cfg, err, sizeof err);
		if (rc)
			return lq_fail(cmd, rc, "%s%s", err,
				       o->config ? "" : " (use --store DIR or --config FILE)");
		so.dir = cfg->store_dir;
		so.binary_path = cfg->binary_path;
	}
	/* Anyone who can write the directory can replace the index the analyst reads. */
	struct stat st;
	if (stat(so.dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & S_IWOTH))
		fprintf(stderr, "li707-lea %s: warning: the store directory %s is writable by "
			"others (mode %04o): its contents cannot be trusted\n", cmd, so.dir,
			(unsigned)(st.st_mode & 07777));
	rc = lea_store_open(&so, out, err, sizeof err);
	if (rc == LI707_EDAMAGED)
		rc = lq_fail(cmd, rc, "%s%s (restore the store from a backup)",
			     *err ? "" : "store damaged: ", *err ? err : so.dir);
	else if (rc)
		rc = lq_fail(cmd, rc, "cannot open the store %s: %s", so.dir,
			     *err ? err : li707_strerror(rc));
	lea_config_free(cfg);
	return rc;
}

/* ---- list ---- */

static const char list_help[] =
	"Usage: li707-lea list [--store DIR | --config FILE] [--ref R] [--since T] [--party ID]\n"
	"                      [--peer P] [--limit N] [--json]\n"
	"\n"
	"List the stored handover items, oldest first: store id (the ITEM of `show`), time\n"
	"received (UTC), reference, peer, the item's timestamp, its sender (first identifier),\n"
	"number of receivers, and attachments complete/total.\n"
	"\n"
	"On a terminal the table is aligned and wide cells are cut with '…'; otherwise the same\n"
	"columns are tab-separated after a header line, values whole, with \\t \\n \\r \\\\\n"
	"escaped; an absent value is an empty field.\n"
	"\n"
	"Options:\n"
	"  --ref R          only items of this LIID/LDID\n"
	"  --since T        only items whose timestamp (reception time when it has none) is T\n"
	"                   or later: RFC 3339 (2026-03-01T10:00:00Z) or a date (2026-03-01,\n"
	"                   midnight UTC)\n"
	"  --party ID       only items where a sender or receiver identifier equals ID\n"
	"  --peer P         only items delivered by peer P\n"
	"  --limit N        at most N items\n"
	"  --json           one JSON array of objects with every field (nothing is printed\n"
	"                   when the store cannot be read to the end)\n"
	"%s"
	"\n"
	"Exit status: 0 ok, 2 usage, 3 store not readable, 4 bad configuration, 6 store\n"
	"damaged.\n";

enum { COL_ID, COL_RECEIVED, COL_REF, COL_PEER, COL_TIME, COL_SENDER, COL_RCPT, COL_ATT, NCOL };

static const char *const col_head[NCOL] = {"ID", "RECEIVED", "REFERENCE", "PEER",
					   "TIMESTAMP", "SENDER", "RCPT", "ATTACH"};
static const char *const col_key[NCOL] = {"id", "received", "reference", "peer",
					  "timestamp", "sender", "receivers", "attachments"};
/* Widest cell shown on a terminal, in characters. */
static const size_t col_max[NCOL] = {12, 20, 26, 16, 32, 28, 6, 11};
static const bool col_right[NCOL] = {true, false, false, false, false, false, true, true};

struct list_out {
	int mode;              /* 0 tab-separated, 1 table, 2 JSON */
	size_t n;
	char *(*rows)[NCOL];   /* table: cells kept until the widths are known */
	size_t cap;
	int rc;
};

/* The row's cells, escaped; absent values are NULL. */
static int row_cells(const struct lea_item_row *r, char *c[NCOL])
{
	char b[3][48];
	snprintf(b[0], sizeof b[0], "%" PRId64, r->id);
	lq_time_utc(r->received_at, b[1]);
	snprintf(b[2], sizeof b[2], "%zu/%zu", r->n_attachments_complete, r->n_attachments);
	const char *v[NCOL] = {b[0], b[1], r->reference, r->peer, r->timestamp, r->sender, NULL,
			       b[2]};
	char rc[24];
	snprintf(rc, sizeof rc, "%zu", r->n_receivers);
	v[COL_RCPT] = rc;
	for (int i = 0; i < NCOL; i++) {
		c[i] = v[i] ? lq_escape(v[i], false) : NULL;
		if (v[i] && !c[i]) {
			while (i-- > 0)
				free(c[i]);
			return LI707_ENOMEM;
		}
	}
	return 0;
}

static json_t *row_json(const struct lea_item_row *r)
{
	char t[32];
	lq_time_utc(r->received_at, t);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "received", json_string(t));
	json_object_set_new(o, "received_epoch", json_integer(r->received_at));
	json_object_set_new(o, "reference", lx_json_str(r->reference));
	json_object_set_new(o, "reference_kind", json_string(lx_ref_kind_name(r->ref_kind)));
	json_object_set_new(o, "peer", lx_json_str(r->peer));
	json_object_set_new(o, "timestamp", lx_json_str(r->timestamp));
	json_object_set_new(o, "object_id", lx_json_str(r->object_id));
	json_object_set_new(o, "item_index", json_integer((json_int_t)r->item_index));
	json_object_set_new(o, "sender", lx_json_str(r->sender));
	json_object_set_new(o, "receivers", json_integer((json_int_t)r->n_receivers));
	json_object_set_new(o, "attachments", json_integer((json_int_t)r->n_attachments));
	json_object_set_new(o, "attachments_complete",
			    json_integer((json_int_t)r->n_attachments_complete));
	return o;
}

static int list_row(void *cls, const struct lea_item_row *r)
{
	struct list_out *lo = cls;
	if (lo->mode == 2) {
		json_t *o = row_json(r);
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!s)
			return LI707_ENOMEM;
		printf("%s\n  %s", lo->n ? "," : "", s);
		free(s);
		lo->n++;
		return 0;
	}
	char *c[NCOL];
	int rc = row_cells(r, c);
	if (rc)
		return rc;
	if (lo->mode == 0) {
		for (int i = 0; i < NCOL; i++) {
			fputs(c[i] ? c[i] : "", stdout);
			putchar(i + 1 < NCOL ? '\t' : '\n');
			free(c[i]);
		}
		lo->n++;
		return 0;
	}
	rc = lq_grow((void **)&lo->rows, &lo->cap, lo->n, sizeof *lo->rows);
	if (rc) {
		for (int i = 0; i < NCOL; i++)
			free(c[i]);
		return rc;
	}
	memcpy(lo->rows[lo->n++], c, sizeof c);
	return 0;
}

/* Characters (code points) in a UTF-8 string. */
static size_t u8_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Prints s in a cell of width w: cut to w - 1 characters and "…" when wider. */
static void print_cell(const char *s, size_t w, bool right, bool last)
{
	size_t sw = u8_width(s);
	if (sw > w) {
		size_t keep = w - 1, chars = 0;
		const char *p = s;
		while (*p && chars < keep) { /* whole characters only */
			p++;
			while (((unsigned char)*p & 0xc0) == 0x80)
				p++;
			chars++;
		}
		fwrite(s, 1, (size_t)(p - s), stdout);
		fputs("…", stdout);
		sw = w;
	} else {
		if (right)
			printf("%*s", (int)(w - sw), "");
		fputs(s, stdout);
	}
	if (!right && !last)
		printf("%*s", (int)(w - sw), "");
}

static void print_table(struct list_out *lo)
{
	size_t w[NCOL];
	for (int i = 0; i < NCOL; i++) {
		w[i] = strlen(col_head[i]);
		for (size_t r = 0; r < lo->n; r++) {
			size_t cw = lo->rows[r][i] ? u8_width(lo->rows[r][i]) : 1;
			if (cw > w[i])
				w[i] = cw;
		}
		if (w[i] > col_max[i])
			w[i] = col_max[i];
	}
	for (int i = 0; i < NCOL; i++) {
		print_cell(col_head[i], w[i], col_right[i], i + 1 == NCOL);
		fputs(i + 1 < NCOL ? "  " : "\n", stdout);
	}
	for (size_t r = 0; r < lo->n; r++)
		for (int i = 0; i < NCOL; i++) {
			const char *s = lo->rows[r][i];
			print_cell(s ? s : "-", w[i], col_right[i], i + 1 == NCOL);
			fputs(i + 1 < NCOL ? "  " : "\n", stdout);
		}
}

static void free_rows(struct list_out *lo)
{
	for (size_t r = 0; r < lo->n && lo->mode == 1; r++)
		for (int i = 0; i < NCOL; i++)
			free(lo->rows[r][i]);
	free(lo->rows);
}

static int count_row(void *cls, const struct lea_item_row *r)
{
	(void)r;
	(*(size_t *)cls)++;
	return 0;
}

int lea_cmd_list(int argc, char **argv)
{
	static const char cmd[] = "list";
	enum { O_REF = LQ_OPT_CMD_BASE, O_SINCE, O_PARTY, O_PEER, O_LIMIT, O_JSON };
	static const struct option opts[] = {
		LQ_STORE_LONGOPTS,
		{"ref", required_argument, NULL, O_REF},
		{"since", required_argument, NULL, O_SINCE},
		{"party", required_argument, NULL, O_PARTY},
		{"peer", required_argument, NULL, O_PEER},
		{"limit", required_argument, NULL, O_LIMIT},
		{"json", no_argument, NULL, O_JSON},
		{NULL, 0, NULL, 0},
	};
	struct lq_store_opt so = {0};
	struct lea_query q = {0};
	bool json = false;
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
		case 'h': printf(list_help, lq_store_help); return 0;
		case O_REF: q.ref = optarg; break;
		case O_PARTY: q.party = optarg; break;
		case O_PEER: q.peer = optarg; break;
		case O_JSON: json = true; break;
		case O_SINCE:
			if (!parse_since(optarg, &q.since))
				return lq_usage_error(cmd, "--since needs an RFC 3339 date-time or a "
							   "date YYYY-MM-DD");
			q.has_since = true;
			break;
		case O_LIMIT:
			if (!parse_limit(optarg, &q.limit))
				return lq_usage_error(cmd, "--limit needs a number of items (1 or more)");
			break;
		default: return lq_bad_option(cmd, argc, argv);
		}
	}
	if (optind < argc)
		return lq_usage_error(cmd, "unexpected argument after the options");

	struct lea_store *s = NULL;
	int rc = lq_store_open(&so, cmd, &s);
	if (rc)
		return rc;
	struct list_out lo = {.mode = json ? 2 : isatty(STDOUT_FILENO) ? 1 : 0};
	/* JSON is one document or nothing: read every row once before printing any, so a
	 * store that fails half-way (damaged) leaves no partial document on stdout. */
	size_t n_check = 0;
	if (lo.mode == 2 && (rc = lea_store_list(s, &q, count_row, &n_check)) != 0) {
		lea_store_close(s);
		return lq_fail(cmd, rc, "cannot read the store: %s", li707_strerror(rc));
	}
	if (lo.mode == 2)
		fputs("[", stdout);
	else if (lo.mode == 0)
		for (int i = 0; i < NCOL; i++)
			printf("%s%c", col_key[i], i + 1 < NCOL ? '\t' : '\n');
	rc = lea_store_list(s, &q, list_row, &lo);
	if (rc == 0 && lo.mode == 2)
		fputs(lo.n ? "\n]\n" : "]\n", stdout);
	else if (rc == 0 && lo.mode == 1)
		print_table(&lo);
	free_rows(&lo);
	lea_store_close(s);
	if (rc)
		return lq_fail(cmd, rc, "cannot read the store: %s", li707_strerror(rc));
	return lq_flush_stdout(cmd);
}

/* ---- status ---- */

static const char status_help[] =
	"Usage: li707-lea status [--store DIR | --config FILE] [--ref R] [--gaps] [--json]\n"
	"\n"
	"Per reference (LIID/LDID): DeliveryObjects and items stored, duplicates acknowledged\n"
	"again, delivery streams (DeliveryIDs) and how many ended (LastSequence), SequenceNumbers\n"
	"missing inside the range seen, applicationSequenceNumbers missing or repeated (R-HDR-2),\n"
	"attachments by state; then the uploads still waiting for their record (orphans); then\n"
	"the Model A/C retrievals by state (to-fetch, fetching, complete, mismatch, expired);\n"
	"then the connections the running (or last) daemon refused since its start, by reason.\n"
	"\n"
	"Options:\n"
	"  --ref R          only this reference (exit 3 when nothing is stored for it)\n"
	"  --gaps           list every gap: kind, stream, first and last number missing\n"
	"  --json           a JSON document: {\"references\": [...], \"orphans\": {...} | null,\n"
	"                   \"refused_connections\": {\"since\": T, \"by_reason\": {...}} | null,\n"
	"                   \"retrievals\": {\"to-fetch\": N, ...} | null (with --ref)}\n"
	"%s"
	"\n"
	"Exit status: 0 ok, 2 usage, 3 store not readable or reference unknown, 4 bad\n"
	"configuration, 6 store damaged.\n";

struct st_rows {
	struct lea_ref_status *v; /* reference strings owned */
	size_t n, cap;
	struct lea_gap *g;        /* reference and stream owned */
	size_t ng, gcap;
};

static char *dup_or_null(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = true;
	return d;
}

static int status_row(void *cls, const struct lea_ref_status *st)
{
	struct st_rows *t = cls;
	bool oom = false;
	int grc = lq_grow((void **)&t->v, &t->cap, t->n, sizeof *t->v);
	if (grc)
		return grc;
	t->v[t->n] = *st;
	t->v[t->n].reference = dup_or_null(st->reference, &oom);
	if (oom)
		return LI707_ENOMEM;
	t->n++;
	return 0;
}

static int gap_row(void *cls, const struct lea_gap *g)
{
	struct st_rows *t = cls;
	bool oom = false;
	int grc = lq_grow((void **)&t->g, &t->gcap, t->ng, sizeof *t->g);
	if (grc)
		return grc;
	struct lea_gap c = *g;
	c.reference = dup_or_null(g->reference, &oom);
	c.stream = dup_or_null(g->stream, &oom);
	if (oom) {
		free((char *)c.reference);
		free((char *)c.stream);
		return LI707_ENOMEM;
	}
	t->g[t->ng++] = c;
	return 0;
}

static void st_rows_free(struct st_rows *t)
{
	for (size_t i = 0; i < t->n; i++)
		free((char *)t->v[i].reference);
	for (size_t i = 0; i < t->ng; i++) {
		free((char *)t->g[i].reference);
		free((char *)t->g[i].stream);
	}
	free(t->v);
	free(t->g);
}

static const char *gap_kind(enum lea_gap_kind k)
{
	return k == LEA_GAP_APPLICATION ? "application" : "sequence";
}

static bool same_ref(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static json_t *att_states_json(const uint64_t att[LEA_ATT_NSTATES])
{
	json_t *o = json_object();
	for (int k = 0; k < LEA_ATT_NSTATES; k++)
		json_object_set_new(o, lea_att_state_name((enum lea_att_state)k),
				    lx_json_u64(att[k]));
	return o;
}

static json_t *status_json(const struct st_rows *t, bool gaps)
{
	json_t *root = json_object(), *refs = json_array(), *orphans = json_null();
	for (size_t i = 0; i < t->n; i++) {
		const struct lea_ref_status *st = &t->v[i];
		json_t *o = json_object();
		if (st->reference) {
			json_object_set_new(o, "reference", json_string(st->reference));
			json_object_set_new(o, "reference_kind",
					    json_string(lx_ref_kind_name(st->ref_kind)));
			json_object_set_new(o, "deliveries", lx_json_u64(st->deliveries));
			json_object_set_new(o, "items", lx_json_u64(st->items));
			json_object_set_new(o, "duplicates", lx_json_u64(st->duplicates));
			json_object_set_new(o, "streams", lx_json_u64(st->streams));
			json_object_set_new(o, "streams_ended", lx_json_u64(st->streams_ended));
			json_object_set_new(o, "sequence_missing", lx_json_u64(st->seq_missing));
			json_object_set_new(o, "application_missing", lx_json_u64(st->app_missing));
			json_object_set_new(o, "application_repeated",
					    lx_json_u64(st->app_repeated));
		}
		json_object_set_new(o, "attachments", att_states_json(st->att));
		char a[32], b[32];
		lq_time_utc(st->first_received, a);
		lq_time_utc(st->last_received, b);
		json_object_set_new(o, "first_received", st->first_received ? json_string(a)
									    : json_null());
		json_object_set_new(o, "last_received", st->last_received ? json_string(b)
									  : json_null());
		if (gaps && st->reference) {
			json_t *ga = json_array();
			for (size_t k = 0; k < t->ng; k++) {
				const struct lea_gap *g = &t->g[k];
				if (!same_ref(g->reference, st->reference))
					continue;
				json_array_append_new(ga, json_pack("{s:s, s:o, s:o, s:o}", "kind",
								    gap_kind(g->kind), "stream",
								    lx_json_str(g->stream), "from",
								    lx_json_u64(g->from), "to",
								    lx_json_u64(g->to)));
			}
			json_object_set_new(o, "gaps", ga);
		}
		if (st->reference) {
			json_array_append_new(refs, o);
		} else {
			json_decref(orphans);
			orphans = o;
		}
	}
	json_object_set_new(root, "references", refs);
	json_object_set_new(root, "orphans", orphans);
	return root;
}

static void print_att_states(const uint64_t att[LEA_ATT_NSTATES])
{
	bool any = false;
	printf("  %-16s", "attachments");
	for (int k = 0; k < LEA_ATT_NSTATES; k++) {
		if (!att[k])
			continue;
		printf("%s%s %" PRIu64, any ? ", " : "", lea_att_state_name((enum lea_att_state)k),
		       att[k]);
		any = true;
	}
	puts(any ? "" : "none");
}

static void print_ref_status(const struct st_rows *t, const struct lea_ref_status *st,
			     bool gaps)
{
	char a[32], b[32];
	char *ref = lq_escape(st->reference, false);
	printf("%s %s\n", lx_ref_kind_name(st->ref_kind), ref ? ref : "?");
	free(ref);
	printf("  %-16s%" PRIu64 "\n", "deliveries", st->deliveries);
	printf("  %-16s%" PRIu64 "\n", "items", st->items);
	printf("  %-16s%" PRIu64 "\n", "duplicates", st->duplicates);
	printf("  %-16s%" PRIu64 " (%" PRIu64 " ended)\n", "streams", st->streams,
	       st->streams_ended);
	printf("  %-16s%" PRIu64 "\n", "seq missing", st->seq_missing);
	printf("  %-16s%" PRIu64 " missing, %" PRIu64 " repeated\n", "app sequence",
	       st->app_missing, st->app_repeated);
	print_att_states(st->att);
	lq_time_utc(st->first_received, a);
	lq_time_utc(st->last_received, b);
	printf("  %-16s%s .. %s\n", "received", a, b);
	if (!gaps)
		return;
	size_t n = 0;
	for (size_t k = 0; k < t->ng; k++) {
		const struct lea_gap *g = &t->g[k];
		if (!same_ref(g->reference, st->reference))
			continue;
		char *stream = lq_escape(g->stream, false);
		if (g->from == g->to)
			printf("  gap %-12s%s  %" PRIu64 "\n", gap_kind(g->kind),
			       stream ? stream : "-", g->from);
		else
			printf("  gap %-12s%s  %" PRIu64 "-%" PRIu64 "\n", gap_kind(g->kind),
			       stream ? stream : "-", g->from, g->to);
		free(stream);
		n++;
	}
	if (n == 0)
		printf("  %-16s%s\n", "gaps", "none");
}

static void status_text(const struct st_rows *t, bool gaps)
{
	const struct lea_ref_status *orph = NULL;
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (!t->v[i].reference) {
			orph = &t->v[i];
			continue;
		}
		if (n++)
			putchar('\n');
		print_ref_status(t, &t->v[i], gaps);
	}
	if (n == 0)
		puts("No delivery stored.");
	if (orph) {
		puts("\nUploads without their record (orphans)");
		print_att_states(orph->att);
	}
}

/* The daemon's refused connections (lea_refusals.h): text, or JSON (null when unknown). */
static void refusals_text(const struct lea_refusals *r, bool have)
{
	if (!have)
		return;
	char since[32];
	lq_time_utc((int64_t)r->started, since);
	printf("\nRefused connections since %s (daemon start)\n", since);
	bool any = false;
	for (size_t i = 0; i < LX_REFUSED_N; i++) {
		if (!r->n[i])
			continue;
		printf("  %-28s %llu\n", lx_http_refusal_name((enum lx_http_refusal)i),
		       (unsigned long long)r->n[i]);
		any = true;
	}
	if (!any)
		puts("  none");
}

static json_t *refusals_json(const struct lea_refusals *r, bool have)
{
	if (!have)
		return json_null();
	char since[32];
	lq_time_utc((int64_t)r->started, since);
	json_t *o = json_object(), *by = json_object();
	for (size_t i = 0; i < LX_REFUSED_N; i++)
		json_object_set_new(by, lx_http_refusal_name((enum lx_http_refusal)i),
				    lx_json_u64(r->n[i]));
	json_object_set_new(o, "since", json_string(since));
	json_object_set_new(o, "by_reason", by);
	return o;
}

int lea_cmd_status(int argc, char **argv)
{
	static const char cmd[] = "status";
	enum { O_REF = LQ_OPT_CMD_BASE, O_GAPS, O_JSON };
	static const struct option opts[] = {
		LQ_STORE_LONGOPTS,
		{"ref", required_argument, NULL, O_REF},
		{"gaps", no_argument, NULL, O_GAPS},
		{"json", no_argument, NULL, O_JSON},
		{NULL, 0, NULL, 0},
	};
	struct lq_store_opt so = {0};
	const char *ref = NULL;
	bool gaps = false, json = false;
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
		case 'h': printf(status_help, lq_store_help); return 0;
		case O_REF: ref = optarg; break;
		case O_GAPS: gaps = true; break;
		case O_JSON: json = true; break;
		default: return lq_bad_option(cmd, argc, argv);
		}
	}
	if (optind < argc)
		return lq_usage_error(cmd, "unexpected argument after the options");

	struct lea_store *s = NULL;
	int rc = lq_store_open(&so, cmd, &s);
	if (rc)
		return rc;
	struct st_rows t = {0};
	rc = lea_store_status(s, ref, status_row, &t);
	if (rc == 0 && gaps)
		rc = lea_store_gaps(s, ref, gap_row, &t);
	uint64_t fetch_n[LEA_ATT_NSTATES] = {0};
	if (rc == 0 && !ref)
		rc = lea_store_fetch_counts(s, fetch_n);
	struct lea_refusals rf;
	bool have_rf = lea_refusals_read(lea_store_dir(s), &rf) == 0;
	lea_store_close(s);
	size_t nref = 0;
	for (size_t i = 0; i < t.n; i++)
		nref += t.v[i].reference != NULL;
	if (rc) {
		rc = lq_fail(cmd, rc, "cannot read the store: %s", li707_strerror(rc));
	} else if (ref && nref == 0) {
		rc = lq_fail(cmd, LI707_ENOTFOUND, "nothing is stored for the given reference");
	} else if (json) {
		json_t *j = status_json(&t, gaps);
		json_object_set_new(j, "refused_connections", refusals_json(&rf, have_rf));
		json_object_set_new(j, "retrievals", ref ? json_null() : lq_fetch_counts_json(fetch_n));
		rc = lq_json_dump(j, stdout);
		json_decref(j);
		rc = rc ? lq_fail(cmd, rc, "%s", li707_strerror(rc)) : lq_flush_stdout(cmd);
	} else {
		status_text(&t, gaps);
		if (!ref) {
			puts("\nModel A/C retrievals (all references)");
			lq_fetch_counts_text(fetch_n);
		}
		refusals_text(&rf, have_rf && !ref);
		rc = lq_flush_stdout(cmd);
	}
	st_rows_free(&t);
	return rc;
}

int lea_cli_command(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"list", lea_cmd_list}, {"show", lea_cmd_show}, {"export", lea_cmd_export},
		    {"status", lea_cmd_status}, {"fetch-status", lea_cmd_fetch_status},
		    {"fetch-retry", lea_cmd_fetch_retry},
		    {"fetch-priority", lea_cmd_fetch_priority}};
	for (size_t i = 0; argc > 0 && i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			return cmds[i].fn(argc, argv);
	return -1;
}
