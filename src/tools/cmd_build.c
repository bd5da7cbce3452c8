/* li707 build - events (JSON Lines, docs/events.md) on stdin -> TS 103 707 HI1Messages.
 *
 * DESIGN
 * 1. Read every line, parse it (src/common/events.c) and check it with the library's rules
 *    (lx_event_check), so a bad event is reported with its line number before anything is
 *    written. Bad lines are all reported; without --skip-bad nothing is built (exit 4); with it
 *    the good ones are built and the exit status is still 4 (nothing is dropped silently).
 * 2. Group events per Reference (kind + value) in order of first appearance; a message never
 *    mixes references (R-DEL-2). Each group gets one DeliveryID for the run, its messages
 *    SequenceNumber 1..n and LastSequence true on the last only (R-DEL-6). Up to --collection
 *    items per message: one item is a handoverItem, more a handoverItemCollection.
 * 3. Encode every message (li707_message_encode checks the model first). With --out-dir each
 *    goes to a temporary file in DIR (written, fsynced); only when all were encoded are they
 *    renamed to DIR/NNNN-KIND-OBJECTID.xml (then the directory is fsynced). On any failure the
 *    temporary files are removed: either all messages are written or none.
 * stderr gets line-numbered errors and a summary of counts; never identifiers or content
 * (R-SEC-6). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery_msg.h"
#include "events.h"
#include "fdio.h"
#include "tool.h"

#define COLLECTION_MAX 100000 /* = default struct li707_limits.max_items */
#define DEFAULT_SENDER_ID "li707-csp"

static const char help_text[] =
	"Usage: li707 build [OPTIONS] < EVENTS.jsonl\n"
	"\n"
	"Read events (JSON Lines, one handover item per line, see docs/events.md) on standard\n"
	"input and build TS 103 707 deliveries: one DELIVER per message, events grouped per LIID\n"
	"or LDID (never mixed), numbered per reference with one DeliveryID, SequenceNumber from 1\n"
	"and LastSequence on the last message. A single message goes to standard output unless\n"
	"--out-dir is given; several need --out-dir (files NNNN-liid|ldid-OBJECTID.xml).\n"
	"\n"
	"Options:\n"
	"  --collection N        up to N items per message (default 1; 2+ items make a\n"
	"                        handoverItemCollection)\n"
	"  --out-dir DIR         write the messages as files into DIR (created if missing)\n"
	"  --sender-cc CC        SenderIdentifier CountryCode (default XX)\n"
	"  --sender-id ID        SenderIdentifier UniqueIdentifier (default " DEFAULT_SENDER_ID ")\n"
	"  --receiver-cc CC      ReceiverIdentifier CountryCode (default XX)\n"
	"  --receiver-id ID      ReceiverIdentifier UniqueIdentifier (default Not specified)\n"
	"  --etsi-version V      ETSIVersion (TS 103 120) the destination expects (default\n"
	"                        " LI707_ETSI_VERSION_DEFAULT "); before V1.14.1 no Manifest is written\n"
	"  --csp-url-scheme T    URL template of models A and C, with {uuid}\n"
	"                        (default " LX_EVENT_CSP_URL_DEFAULT ")\n"
	"  --lea-url-scheme T    the LEA's model B URL scheme, with {uuid}\n"
	"                        (default " LX_EVENT_LEA_URL_DEFAULT ")\n"
	"  --expiry-seconds S    attachment expiry = now + S (default 604800, 7 days)\n"
	"  --base-dir DIR        attachment paths are relative to DIR (default .)\n"
	"  --skip-bad            build the good events even if some are bad (exit 4 anyway)\n"
	"  --continue-correlation  a correlation id's first seq may be above 0 (it continues\n"
	"                        an earlier run); without it every id starts at seq 0\n"
	"  -h, --help            print this help and exit\n"
	"\n"
	"Exit status: 0 built, 2 usage, 3 I/O error, 4 bad events (nothing written without\n"
	"--skip-bad), 5 internal error.\n";

struct group {
	enum li707_ref_kind kind;
	const char *reference;      /* borrowed from its first event */
	size_t *events;             /* indexes into the event list */
	size_t n, cap;
	char delivery_id[LI707_UUID_LEN + 1];
};

struct build {
	/* options */
	size_t collection;
	const char *out_dir;
	const char *sender_cc, *sender_id, *receiver_cc, *receiver_id;
	bool skip_bad;
	bool continue_corr;         /* --continue-correlation */
	const char *etsi_version;   /* --etsi-version, NULL = LI707_ETSI_VERSION_DEFAULT */
	struct lx_event_opts eo;
	/* input */
	struct lx_event *ev;
	size_t n_ev, cap_ev;
	struct group *groups;
	size_t n_groups, cap_groups;
	json_t *index;              /* "kind:reference" -> group index */
	json_t *corr;               /* "kind:reference id" -> last seq seen (R-HDR-2) */
	size_t bad;
	size_t att[3];              /* attachments of model A, B, C */
	/* output */
	char **tmp;                 /* temporary files written so far */
	char **final;
	size_t n_out, cap_tmp, cap_final;
};

/* Events read at most: every group, group member and output file is one of them or fewer. */
#define BUILD_EVENTS_MAX ((size_t)1 << 24)

/* Room for element n (0-based). */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	return li707_array_grow(v, cap, n + 1, size, BUILD_EVENTS_MAX);
}

/* Appends ev (moved) to its reference's group. */
static int add_event(struct build *b, struct lx_event *ev)
{
	int rc;
	if ((rc = grow((void **)&b->ev, &b->cap_ev, b->n_ev, sizeof *b->ev)))
		return rc;
	size_t ei = b->n_ev++;
	b->ev[ei] = *ev;
	memset(ev, 0, sizeof *ev);
	struct lx_event *e = &b->ev[ei];

	size_t klen = strlen(e->reference) + 3;
	char *key = malloc(klen);
	if (!key)
		return LI707_ENOMEM;
	snprintf(key, klen, "%c:%s", e->ref_kind == LI707_REF_LDID ? 'D' : 'I', e->reference);
	json_t *gi = json_object_get(b->index, key);
	size_t g;
	if (gi) {
		g = (size_t)json_integer_value(gi);
	} else {
		if ((rc = grow((void **)&b->groups, &b->cap_groups, b->n_groups, sizeof *b->groups))) {
			free(key);
			return rc;
		}
		g = b->n_groups++;
		struct group *ng = &b->groups[g];
		memset(ng, 0, sizeof *ng);
		ng->kind = e->ref_kind;
		ng->reference = e->reference;
		if ((rc = li707_uuid_new(ng->delivery_id)) ||
		    (rc = json_object_set_new(b->index, key, json_integer((json_int_t)g)) ? LI707_ENOMEM
											 : 0)) {
			free(key);
			return rc;
		}
	}
	free(key);
	struct group *gr = &b->groups[g];
	if ((rc = grow((void **)&gr->events, &gr->cap, gr->n, sizeof *gr->events)))
		return rc;
	gr->events[gr->n++] = ei;
	for (size_t i = 0; i < e->n_attachments; i++)
		b->att[e->attachments[i].model - 'A']++;
	return 0;
}

/* TS103707 R-HDR-2 (clause 5.3.2): within a reference, the items of one applicationLevelID
 * are numbered 0, 1, 2, ... in the order they are sent: no repeat, no gap, and a new
 * applicationLevelID starts at zero. With --continue-correlation an applicationLevelID may
 * continue a sequence begun in an earlier run (its first seq here is taken as given), the
 * rest of the run must still follow on. Returns 0 when ev is next (and remembers it), 1
 * when it repeats an earlier seq, 2 when it is not the next one (*expect says which is). */
static int correlation_check(struct build *b, const struct lx_event *ev, uint64_t *expect)
{
	if (!ev->item.has_correlation)
		return 0;
	size_t n = strlen(ev->reference) + 32;
	char *key = malloc(n);
	if (!key)
		return LI707_ENOMEM;
	snprintf(key, n, "%c:%s %llu", ev->ref_kind == LI707_REF_LDID ? 'D' : 'I',
		 ev->reference, (unsigned long long)ev->item.app_level_id);
	/* seq values are at most INT64_MAX (events.c): a json integer holds the last one. */
	const json_t *last = json_object_get(b->corr, key);
	uint64_t seq = ev->item.app_seq;
	int rc = 0;
	if (last) {
		uint64_t l = (uint64_t)json_integer_value(last);
		*expect = l + 1;
		rc = seq <= l ? 1 : seq != l + 1 ? 2 : 0;
	} else if (seq != 0 && !b->continue_corr) {
		*expect = 0;
		rc = 2;
	}
	if (rc == 0 && json_object_set_new(b->corr, key, json_integer((json_int_t)seq)))
		rc = LI707_ENOMEM;
	free(key);
	return rc;
}

/* Reads stdin. Returns 0 (bad lines counted in b->bad) or a fatal code. */
static int read_events(struct build *b)
{
	struct lx_event_reader r;
	const char *line;
	size_t len;
	char err[LX_EVENT_ERR_LEN];
	int rc;
	lx_event_reader_init(&r, stdin, b->eo.max_line_bytes);
	while ((rc = lx_event_reader_next(&r, &line, &len)) != 0) {
		if (rc == LI707_ELIMIT) {
			fprintf(stderr, "stdin:%ld: error: line: longer than %zu bytes\n", r.line, r.max);
			b->bad++;
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "li707 build: cannot read standard input: %s\n",
				li707_strerror(rc));
			goto out;
		}
		if (lx_event_line_blank(line, len))
			continue;
		struct lx_event ev;
		rc = lx_event_parse(line, len, &b->eo, &ev, err, sizeof err);
		if (rc == 0) {
			rc = lx_event_check(&ev, err, sizeof err);
			if (rc)
				lx_event_clear(&ev);
		}
		uint64_t expect = 0;
		if (rc == 0 && (rc = correlation_check(b, &ev, &expect)) != 0) {
			lx_event_clear(&ev);
			if (rc == 1) {
				snprintf(err, sizeof err, "correlation: id and seq repeat those of an "
					 "earlier event of the same reference [R-HDR-2]");
				rc = LI707_EINPUT;
			} else if (rc == 2) {
				snprintf(err, sizeof err, "correlation.seq: must be %llu, the next of "
					 "this id in this reference (zero-based, no gaps; see "
					 "--continue-correlation) [R-HDR-2]",
					 (unsigned long long)expect);
				rc = LI707_EINPUT;
			}
		}
		if (rc == LI707_EINPUT) {
			fprintf(stderr, "stdin:%ld: error: %s\n", r.line, err);
			b->bad++;
			continue;
		}
		if (rc) {
			fprintf(stderr, "stdin:%ld: error: %s\n", r.line, li707_strerror(rc));
			goto out;
		}
		if ((rc = add_event(b, &ev))) {
			lx_event_clear(&ev);
			goto out;
		}
	}
out:
	lx_event_reader_done(&r);
	return rc;
}

/* Builds message k (0-based) of group g with events [first, first + n). */
static int make_message(const struct build *b, struct group *g, size_t seq, size_t first,
			size_t n, bool last, struct li707_message **out)
{
	/* Tables 1-3 (R-DEL-3..5) and R-DEL-6: one DeliveryID per reference, SequenceNumber
	 * from 1, LastSequence on the last; filled as the CSP agent fills them. */
	const struct lx_delivery_params p = {
		.kind = g->kind,
		.reference = g->reference,
		.delivery_id = g->delivery_id,
		.seq = seq,
		.last = last,
		.sender_cc = b->sender_cc,
		.sender_id = b->sender_id ? b->sender_id : DEFAULT_SENDER_ID,
		.receiver_cc = b->receiver_cc,
		.receiver_id = b->receiver_id,
		.etsi_version = b->etsi_version, /* per destination; checked in parse_options */
	};
	struct li707_message *m = NULL;
	int rc = lx_delivery_message_new(&p, n, &m);
	if (rc)
		return rc;
	struct li707_delivery *d = lx_delivery_of(m);
	for (size_t i = 0; i < n; i++) {
		struct lx_event *e = &b->ev[g->events[first + i]];
		d->items[i] = e->item; /* moved */
		memset(&e->item, 0, sizeof e->item);
	}
	*out = m;
	return 0;
}

/* Writes one encoded message to a new temporary file in the output directory. */
static int write_temp(struct build *b, const char *xml, size_t len, const char *final)
{
	int rc;
	size_t n = strlen(b->out_dir) + 32;
	char *t = malloc(n);
	char *f = strdup(final);
	rc = !t || !f ? LI707_ENOMEM : grow((void **)&b->tmp, &b->cap_tmp, b->n_out, sizeof *b->tmp);
	if (!rc)
		rc = grow((void **)&b->final, &b->cap_final, b->n_out, sizeof *b->final);
	if (rc) {
		free(t);
		free(f);
		return rc;
	}
	snprintf(t, n, "%s/.li707-build-XXXXXX", b->out_dir);
	int fd = mkostemp(t, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		free(t);
		free(f);
		return rc;
	}
	b->tmp[b->n_out] = t;
	b->final[b->n_out] = f;
	b->n_out++;
	rc = lx_write_all(fd, xml, len);
	if (!rc && (len == 0 || xml[len - 1] != '\n'))
		rc = lx_write_all(fd, "\n", 1);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

static void remove_temps(struct build *b)
{
	for (size_t i = 0; i < b->n_out; i++)
		if (b->tmp[i])
			unlink(b->tmp[i]);
}

static int commit_files(struct build *b)
{
	for (size_t i = 0; i < b->n_out; i++) {
		if (rename(b->tmp[i], b->final[i]) != 0) {
			int rc = -errno;
			fprintf(stderr, "li707 build: cannot rename into %s: %s\n", b->out_dir,
				li707_strerror(rc));
			return rc;
		}
		free(b->tmp[i]);
		b->tmp[i] = NULL;
	}
	(void)lx_fsync_dir(b->out_dir); /* best effort: some file systems refuse it */
	for (size_t i = 0; i < b->n_out; i++)
		printf("%s\n", b->final[i]);
	return 0;
}

static void print_diags(const struct li707_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		tool_print_diag(stderr, "message", &d->v[i]);
}

/* Encodes and writes every message. */
static int emit(struct build *b)
{
	size_t number = 0;
	int rc = 0;
	for (size_t gi = 0; gi < b->n_groups; gi++) {
		struct group *g = &b->groups[gi];
		size_t nmsg = (g->n + b->collection - 1) / b->collection;
		for (size_t k = 0; k < nmsg; k++) {
			size_t first = k * b->collection;
			size_t n = g->n - first < b->collection ? g->n - first : b->collection;
			struct li707_message *m = NULL;
			struct li707_diags d = {0};
			char *xml = NULL;
			size_t len = 0;
			number++;
			rc = make_message(b, g, k + 1, first, n, k + 1 == nmsg, &m);
			if (!rc)
				rc = li707_message_encode(m, &xml, &len, &d);
			if (rc) {
				fprintf(stderr, "li707 build: message %zu could not be built: %s\n",
					number, li707_strerror(rc));
				print_diags(&d);
			} else if (!b->out_dir) {
				fwrite(xml, 1, len, stdout);
				if (len == 0 || xml[len - 1] != '\n')
					putchar('\n');
			} else {
				char final[4096];
				int fl = snprintf(final, sizeof final, "%s/%04zu-%s-%s.xml", b->out_dir,
						  number, g->kind == LI707_REF_LDID ? "ldid" : "liid",
						  m->actions[0].delivery->object_id);
				if (fl < 0 || (size_t)fl >= sizeof final)
					rc = -ENAMETOOLONG;
				else
					rc = write_temp(b, xml, len, final);
				if (rc)
					fprintf(stderr, "li707 build: cannot write into %s: %s\n",
						b->out_dir, li707_strerror(rc));
			}
			free(xml);
			li707_diags_clear(&d);
			li707_message_free(m);
			if (rc)
				return rc;
		}
	}
	return b->out_dir ? commit_files(b) : 0;
}

static int parse_options(struct build *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{"collection", required_argument, NULL, 'n'},
		{"out-dir", required_argument, NULL, 'o'},
		{"sender-cc", required_argument, NULL, 'S'},
		{"sender-id", required_argument, NULL, 's'},
		{"receiver-cc", required_argument, NULL, 'R'},
		{"receiver-id", required_argument, NULL, 'r'},
		{"csp-url-scheme", required_argument, NULL, 'c'},
		{"lea-url-scheme", required_argument, NULL, 'l'},
		{"expiry-seconds", required_argument, NULL, 'e'},
		{"base-dir", required_argument, NULL, 'b'},
		{"skip-bad", no_argument, NULL, 'k'},
		{"continue-correlation", no_argument, NULL, 'C'},
		{"etsi-version", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long long v;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!tool_parse_ulong(optarg, 1, COLLECTION_MAX, &v))
				return tool_usage_error("build", "--collection needs a number from 1 to %d",
							COLLECTION_MAX);
			b->collection = (size_t)v;
			break;
		case 'o': b->out_dir = optarg; break;
		case 'S': b->sender_cc = optarg; break;
		case 's': b->sender_id = optarg; break;
		case 'R': b->receiver_cc = optarg; break;
		case 'r': b->receiver_id = optarg; break;
		case 'c': b->eo.csp_url_scheme = optarg; break;
		case 'l': b->eo.lea_url_scheme = optarg; break;
		case 'e':
			if (!tool_parse_ulong(optarg, 1, LX_EVENT_EXPIRY_MAX, &v))
				return tool_usage_error("build",
							"--expiry-seconds needs a number from 1 to %lld",
							(long long)LX_EVENT_EXPIRY_MAX);
			b->eo.expiry_seconds = (int64_t)v;
			break;
		case 'b': b->eo.base_dir = optarg; break;
		case 'k': b->skip_bad = true; break;
		case 'C': b->continue_corr = true; break;
		case 'E':
			if (!li707_check_etsi_version(optarg))
				return tool_usage_error("build", "--etsi-version needs the form "
							"V<n>.<n>.<n>, e.g. V1.14.1");
			b->etsi_version = optarg;
			break;
		case 'h': fputs(help_text, stdout); return -1;
		default: return tool_bad_option("build", argc, argv);
		}
	}
	if (optind < argc)
		return tool_usage_error("build", "no arguments expected (events are read on stdin)");
	if (b->sender_cc && !li707_check_country(b->sender_cc))
		return tool_usage_error("build", "--sender-cc needs an ISO 3166-1 alpha-2 code");
	if (b->receiver_cc && !li707_check_country(b->receiver_cc))
		return tool_usage_error("build", "--receiver-cc needs an ISO 3166-1 alpha-2 code");
	if (b->sender_id && !*b->sender_id)
		return tool_usage_error("build", "--sender-id must not be empty");
	if (b->receiver_id && !*b->receiver_id)
		return tool_usage_error("build", "--receiver-id must not be empty");
	char err[LX_EVENT_ERR_LEN];
	if (lx_event_opts_check(&b->eo, err, sizeof err))
		return tool_usage_error("build", "%s", err);
	if (b->eo.base_dir) {
		struct stat st;
		if (stat(b->eo.base_dir, &st) != 0 || !S_ISDIR(st.st_mode))
			return tool_usage_error("build", "--base-dir is not a directory");
	}
	return 0;
}

static void build_done(struct build *b)
{
	for (size_t i = 0; i < b->n_ev; i++)
		lx_event_clear(&b->ev[i]);
	free(b->ev);
	for (size_t i = 0; i < b->n_groups; i++)
		free(b->groups[i].events);
	free(b->groups);
	json_decref(b->index);
	json_decref(b->corr);
	for (size_t i = 0; i < b->n_out; i++) {
		free(b->tmp[i]);
		free(b->final[i]);
	}
	free(b->tmp);
	free(b->final);
}

int tool_cmd_build(int argc, char **argv)
{
	struct build b = {.collection = 1};
	int rc = parse_options(&b, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	int status = 0;
	if (!(b.index = json_object()) || !(b.corr = json_object())) {
		status = li707_exit_code(LI707_ENOMEM);
		goto out;
	}
	if ((rc = read_events(&b))) {
		status = li707_exit_code(rc);
		goto out;
	}
	if (b.bad && !b.skip_bad) {
		fprintf(stderr, "li707 build: %zu bad event%s, nothing written (see --skip-bad)\n",
			b.bad, b.bad == 1 ? "" : "s");
		status = li707_exit_code(LI707_EINPUT);
		goto out;
	}
	if (b.n_ev == 0) {
		fprintf(stderr, "li707 build: no events on standard input, nothing written\n");
		status = li707_exit_code(LI707_EINPUT);
		goto out;
	}
	size_t n_messages = 0;
	for (size_t i = 0; i < b.n_groups; i++)
		n_messages += (b.groups[i].n + b.collection - 1) / b.collection;
	if (n_messages > 1 && !b.out_dir) {
		status = tool_usage_error("build", "the events make %zu messages: --out-dir is needed",
					  n_messages);
		goto out;
	}
	if (b.out_dir && mkdir(b.out_dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		fprintf(stderr, "li707 build: cannot create the output directory: %s\n",
			li707_strerror(rc));
		status = li707_exit_code(rc);
		goto out;
	}
	if ((rc = emit(&b))) {
		remove_temps(&b);
		/* Every event passed the library's checks alone: a model the encoder refuses
		 * now is our fault, not the input's. */
		status = rc == LI707_EINVALID ? 5 : li707_exit_code(rc);
		goto out;
	}
	fprintf(stderr,
		"li707 build: %zu event%s, %zu reference%s, %zu message%s; attachments %zu "
		"(model A %zu, B %zu, C %zu)",
		b.n_ev, b.n_ev == 1 ? "" : "s", b.n_groups, b.n_groups == 1 ? "" : "s", n_messages,
		n_messages == 1 ? "" : "s", b.att[0] + b.att[1] + b.att[2], b.att[0], b.att[1],
		b.att[2]);
	if (b.bad)
		fprintf(stderr, "; %zu bad event%s skipped", b.bad, b.bad == 1 ? "" : "s");
	fputc('\n', stderr);
	status = b.bad ? li707_exit_code(LI707_EINPUT) : 0;
out:
	build_done(&b);
	return status;
}
