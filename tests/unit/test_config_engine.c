/* The INI configuration engine alone (src/common/config.c), with a toy daemon that is not the
 * LEA: a singleton [daemon] section, a named [thing NAME] section that carries a peer
 * identity, an optional singleton [extra]; one key of every type; a custom key; section end
 * and whole-file callbacks that use the engine's line accessors. Table-driven: each bad file
 * with the line its error must name and a piece of the message; no value is ever quoted. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "size.h"
#include "testutil.h"

#define ERRLEN 512
#define MAX_THINGS 3

struct thing {
	char *name;
	uint64_t size;
	char **tags;
	size_t n_tags, tags_cap;
	struct lx_tls_peer id;
	long end_line; /* the header line, as the end callback saw it */
};

struct toy {
	char **listen, **listen_psk;
	size_t n_listen, n_listen_psk;
	char *file, *dir, *path;
	bool flag;
	uint64_t size, seconds;
	unsigned count;
	int level;
	struct lx_tls_policy policy;
	char *color;
	struct thing things[MAX_THINGS];
	size_t n_things;
	bool extra;
	long finish_tag_line; /* what finish found through lx_config_key_line */
};

static int color_key(struct lx_config *x, const struct lx_config_key *k, void *user, char *v)
{
	struct toy *t = user;
	if (strcmp(v, "red") != 0 && strcmp(v, "blue") != 0)
		return lx_config_error(x, lx_config_line(x), "%s: expected red or blue", k->name);
	free(t->color);
	t->color = strdup(v);
	return t->color ? 0 : lx_config_nomem(x);
}

#define TAGS_MAX 4 /* lx_config_push_str's cap */

static int tags_key(struct lx_config *x, const struct lx_config_key *k, void *user, char *v)
{
	struct toy *t = user;
	struct thing *th = &t->things[t->n_things - 1];
	for (char *e; (e = lx_config_next_entry(&v)) != NULL;) {
		if (!*e)
			return lx_config_error(x, lx_config_line(x), "thing '%s': %s: empty entry",
					       th->name, k->name);
		int rc = lx_config_push_str(&th->tags, &th->n_tags, &th->tags_cap, e, TAGS_MAX);
		if (rc == LI707_ELIMIT)
			return lx_config_error(x, lx_config_line(x), "thing '%s': %s: more than %d",
					       th->name, k->name, TAGS_MAX);
		if (rc)
			return lx_config_nomem(x);
	}
	return 0;
}

static const char *const levels[] = {"low", "mid", "high", NULL};

#define TO(f) offsetof(struct toy, f)
static const struct lx_config_key daemon_keys[] = {
	{.name = "listen", .type = LX_CFG_LISTEN, .off = TO(listen), .off_n = TO(n_listen), .max = 3},
	{.name = "listen_psk", .type = LX_CFG_LISTEN, .off = TO(listen_psk), .off_n = TO(n_listen_psk),
	 .max = 3},
	{.name = "file", .type = LX_CFG_FILE, .off = TO(file)},
	{.name = "dir", .type = LX_CFG_DIR, .off = TO(dir)},
	{.name = "path", .type = LX_CFG_PATH, .off = TO(path)},
	{.name = "flag", .type = LX_CFG_BOOL, .off = TO(flag)},
	{.name = "size", .type = LX_CFG_SIZE, .off = TO(size), .min = 1024, .max = 1024 * 1024},
	{.name = "seconds", .type = LX_CFG_SECONDS, .off = TO(seconds), .min = 1, .max = 60},
	{.name = "count", .type = LX_CFG_UINT, .off = TO(count), .max = 10},
	{.name = "level", .type = LX_CFG_ENUM, .off = TO(level), .names = levels},
	{.name = "tls_min", .type = LX_CFG_TLS, .off = TO(policy)},
	{.name = "tls13", .type = LX_CFG_TLS, .off = TO(policy)},
	{.name = "color", .type = LX_CFG_CUSTOM, .fn = color_key},
};

#define HO(f) offsetof(struct thing, f)
static const struct lx_config_key thing_keys[] = {
	{.name = "size", .type = LX_CFG_SIZE, .off = HO(size), .min = 1, .max = 100},
	{.name = "tags", .type = LX_CFG_CUSTOM, .flags = LX_CFG_MULTI, .fn = tags_key},
	{.name = "subject", .type = LX_CFG_SUBJECT},
	{.name = "san", .type = LX_CFG_SAN},
	{.name = "spki_sha256", .type = LX_CFG_SPKI},
	{.name = "psk_identity", .type = LX_CFG_PSK_ID},
	{.name = "psk_file", .type = LX_CFG_PSK_FILE},
};

static int daemon_begin(struct lx_config *x, void *user, const char *name, struct lx_config_obj *o)
{
	assert_null(name);
	o->base = user;
	return 0;
}

static int extra_begin(struct lx_config *x, void *user, const char *name, struct lx_config_obj *o)
{
	((struct toy *)user)->extra = true;
	return 0;
}

static int thing_begin(struct lx_config *x, void *user, const char *name, struct lx_config_obj *o)
{
	struct toy *t = user;
	assert_true(t->n_things < MAX_THINGS); /* the engine enforces .max */
	struct thing *th = &t->things[t->n_things++];
	if (!(th->name = strdup(name)) || !(th->id.name = strdup(name)))
		return LI707_ENOMEM;
	o->base = th;
	o->tls = &th->id;
	return 0;
}

static int thing_end(struct lx_config *x, void *user)
{
	struct toy *t = user;
	struct thing *th = &t->things[t->n_things - 1];
	th->end_line = lx_config_cur_line(x);
	return lx_config_identity_end(x, &th->id, true);
}

static int toy_finish(struct lx_config *x, void *user)
{
	struct toy *t = user;
	struct lx_tls_peers ps = {0};
	struct lx_tls_peer v[MAX_THINGS];
	for (size_t i = 0; i < t->n_things; i++)
		v[i] = t->things[i].id;
	ps.v = v;
	ps.n = t->n_things;
	t->finish_tag_line = lx_config_key_line(x, "thing", 0, "tags");
	return lx_config_check_identities(x, "thing", &ps);
}

static const struct lx_config_section sections[] = {
	{.name = "daemon", .flags = LX_CFG_REQUIRED, .keys = daemon_keys,
	 .n_keys = sizeof daemon_keys / sizeof daemon_keys[0], .begin = daemon_begin},
	{.name = "thing", .named = true, .flags = LX_CFG_REQUIRED, .note = "one at least",
	 .max = MAX_THINGS, .keys = thing_keys, .n_keys = sizeof thing_keys / sizeof thing_keys[0],
	 .begin = thing_begin, .end = thing_end},
	{.name = "extra", .begin = extra_begin},
};

static const struct lx_config_spec spec = {
	.sections = sections,
	.n_sections = sizeof sections / sizeof sections[0],
	.finish = toy_finish,
};

static void toy_free(struct toy *t)
{
	lx_config_free_strv(t->listen, t->n_listen);
	lx_config_free_strv(t->listen_psk, t->n_listen_psk);
	free(t->file);
	free(t->dir);
	free(t->path);
	free(t->color);
	lx_tls_policy_done(&t->policy);
	for (size_t i = 0; i < t->n_things; i++) {
		struct lx_tls_peer *id = &t->things[i].id;
		free(t->things[i].name);
		lx_config_free_strv(t->things[i].tags, t->things[i].n_tags);
		free(id->name);
		free(id->subject);
		free(id->san);
		free(id->psk_identity);
		free(id->psk);
	}
}

static int toy_parse(struct toy *t, const char *text, bool check_files, char *err)
{
	memset(t, 0, sizeof *t);
	assert_int_equal(lx_tls_policy_init(&t->policy), 0);
	err[0] = '\0';
	return lx_config_parse(&spec, "toy.conf", text, strlen(text), check_files, t, err, ERRLEN);
}

static void engine_good_file(void **state)
{
	(void)state;
	static const char text[] =
		"\xef\xbb\xbf# a comment\r\n"
		"; another\n"
		"[daemon]\n"
		"listen = 127.0.0.1:0\n"
		"listen = :8443\n"
		"listen_psk = [::1]:9000\n"
		"path = /nowhere/at/all\n"
		"flag = On\n"
		"size = 64k\n"
		"seconds = 60\n"
		"count = 10\n"
		"level = mid\n"
		"tls_min = 1.3\n"
		"tls13 = yes\n"
		"color = blue\n"
		"\n"
		"[ thing alpha ]\n"
		"\tsize = 7\n"
		"tags = a, b\n"
		"tags = c\n"
		"subject = CN=alpha,O=Example\n"
		"[thing beta]\n"
		"psk_identity = beta-id\n"
		"psk_file = /nonexistent/psk\n"
		"[extra]\n";
	struct toy t;
	char err[ERRLEN];
	int rc = toy_parse(&t, text, false, err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(t.n_listen, 2);
	assert_string_equal(t.listen[1], ":8443");
	assert_int_equal(t.n_listen_psk, 1);
	assert_string_equal(t.path, "/nowhere/at/all");
	assert_true(t.flag);
	assert_int_equal(t.size, 64 * 1024);
	assert_int_equal(t.seconds, 60);
	assert_int_equal(t.count, 10);
	assert_int_equal(t.level, 1);
	assert_int_equal(t.policy.min_version, LX_TLS_1_3);
	assert_string_equal(t.color, "blue");
	assert_int_equal(t.n_things, 2);
	assert_string_equal(t.things[0].name, "alpha");
	assert_int_equal(t.things[0].size, 7);
	assert_int_equal(t.things[0].n_tags, 3);
	assert_string_equal(t.things[0].tags[2], "c");
	assert_string_equal(t.things[0].id.subject, "CN=alpha,O=Example");
	assert_int_equal(t.things[0].end_line, 17);
	assert_int_equal(t.things[1].end_line, 22);
	assert_string_equal(t.things[1].id.psk_identity, "beta-id");
	assert_null(t.things[1].id.psk); /* check_files false: not read */
	assert_int_equal(t.finish_tag_line, 19);
	assert_true(t.extra);
	toy_free(&t);
}

/* Bad files: the line named and a piece of the message. "SECRET" is in every value that
 * must not be repeated. */
static void engine_bad_files(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		long line;
		const char *needle;
	} t[] = {
		{"", 1, "no [daemon] section"},
		{"[daemon]\nlisten = :1\n", 2, "no [thing NAME] section (one at least)"},
		{"[daemon]\n[thing a]\nsubject=CN=a\n[daemon]\n", 4, "[daemon]: given twice (first at line 1)"},
		{"[daemon]\n[thing a]\nsubject=CN=a\n[thing a]\n", 4, "thing 'a': defined twice (first at line 2)"},
		{"[thing]\n", 1, "[thing] needs a name: [thing NAME]"},
		{"[thing b@d]\n", 1, "invalid thing name"},
		{"[things]\n", 1, "unknown section 'things' (expected [daemon], [thing NAME] or [extra])"},
		{"[SECRET x]\n", 1, "unknown section (expected [daemon], [thing NAME] or [extra])"},
		{"[daemon\n", 1, "section header without ']'"},
		{"[daemon] x\n", 1, "text after ']'"},
		{"flag = yes\n", 1, "'flag' outside a section ([daemon], [thing NAME] or [extra] first)"},
		{"[daemon]\nSECRET\n", 2, "expected 'key = value'"},
		{"[daemon]\n= SECRET\n", 2, "missing key before '='"},
		{"[daemon]\nFlag = SECRET\n", 2, "invalid key name"},
		{"[daemon]\nflag =\n", 2, "flag: empty value"},
		{"[daemon]\nnope = SECRET\n", 2, "[daemon]: unknown key 'nope'"},
		{"[daemon]\nflag = SECRET\n", 2, "flag: expected yes or no"},
		{"[daemon]\nflag = yes\nflag = no\n", 3, "flag: given twice (first at line 2)"},
		{"[daemon]\nsize = 1SECRET\n", 2, "size: expected a size"},
		{"[daemon]\nsize = 1023\n", 2, "size: out of range (1024 to 1048576)"},
		{"[daemon]\nseconds = 1k\n", 2, "seconds: expected a decimal number"},
		{"[daemon]\ncount = 11\n", 2, "count: out of range (0 to 10)"},
		{"[daemon]\nlevel = SECRET\n", 2, "level: expected low, mid or high"},
		{"[daemon]\nlisten = SECRET\n", 2, "listen: expected ADDR:PORT"},
		{"[daemon]\nlisten = :1\nlisten_psk = :1\n", 3, "listen_psk: this address is already a listener"},
		{"[daemon]\nlisten = :0\nlisten = :0\nlisten_psk = :2\nlisten_psk = :3\n", 5,
		 "listen_psk: too many listeners (at most 3 in all)"},
		{"[daemon]\ntls13 = SECRET\n", 2, "tls13: expected yes or no"},
		{"[daemon]\ntls_min = 9\n", 2, "tls_min"},
		{"[daemon]\ncolor = SECRET\n", 2, "color: expected red or blue"},
		{"[daemon]\n[thing a]\nsize = 0\n", 3, "thing 'a': size: out of range (1 to 100)"},
		{"[daemon]\n[thing a]\nsize =\n", 3, "thing 'a': size: empty value"},
		{"[daemon]\n[thing a]\nsize = 1\nsize = 2\n", 4, "thing 'a': size: given twice (first at line 3)"},
		{"[daemon]\n[thing a]\nnope = 1\n", 3, "thing 'a': unknown key 'nope'"},
		{"[daemon]\n[thing a]\ntags = x,,SECRET\n", 3, "thing 'a': tags: empty entry"},
		{"[daemon]\n[thing a]\ntags = a, b\ntags = c, d, e\n", 4, "thing 'a': tags: more than 4"},
		{"[daemon]\n[thing a]\nsubject = SECRET\n", 3, "thing 'a': subject: expected an RFC 4514 DN"},
		{"[daemon]\n[thing a]\nsan = SECRET x\n", 3, "thing 'a': san: expected a DNS name"},
		{"[daemon]\n[thing a]\nspki_sha256 = SECRET\n", 3, "thing 'a': spki_sha256: expected 64"},
		/* RFC 4279 section 5.3: any text of 1-128 octets (blanks included), not more */
		{"[daemon]\n[thing a]\npsk_identity = SECRET "
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
		 3, "thing 'a': psk_identity: expected 1-128 bytes"},
		{"[daemon]\n[thing a]\nsize = 1\n", 2, "thing 'a': needs subject, san, spki_sha256 or psk_identity"},
		{"[daemon]\n[thing a]\n\npsk_identity = x\n", 4, "thing 'a': psk_identity needs psk_file"},
		{"[daemon]\n[thing a]\npsk_file = /x\n[extra]\n", 3, "thing 'a': psk_file needs psk_identity"},
		{"[daemon]\n[thing a]\nsubject=CN=a\n[thing b]\nsubject=CN=b\n[thing c]\nsubject=CN=c\n[thing d]\n",
		 8, "too many things (at most 3)"},
		{"[daemon]\n[thing a]\nsubject=CN=a\n[thing b]\nsubject=CN=a\n", 4,
		 "thing 'b': the same certificate criteria as thing 'a'"},
		{"[daemon]\n[thing a]\npsk_identity=p\npsk_file=/x\n[thing b]\nsan=x\n\npsk_identity=p\npsk_file=/y\n", 8,
		 "thing 'b': psk_identity is also the one of thing 'a'"},
		{"[daemon]\nflag = yes\x01\n", 2, "control character"},
		{"[daemon]\nflag = \xff\n", 2, "not valid UTF-8"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct toy toy;
		char err[ERRLEN], want[64];
		int rc = toy_parse(&toy, t[i].text, false, err);
		snprintf(want, sizeof want, "toy.conf:%ld: ", t[i].line);
		bool ok = rc == LI707_EINPUT && strncmp(err, want, strlen(want)) == 0 &&
			  strstr(err, t[i].needle) && !strstr(err, "SECRET");
		if (!ok)
			print_error("case %zu: want EINPUT \"%s...%s\", got %d \"%s\"\n", i, want,
				    t[i].needle, rc, err);
		toy_free(&toy);
		assert_true(ok);
	}
}

static void engine_nul_and_long_line(void **state)
{
	(void)state;
	struct toy t;
	char err[ERRLEN] = "";
	static const char nul[] = "[daemon]\nflag = y\0es\n";
	memset(&t, 0, sizeof t);
	assert_int_equal(lx_tls_policy_init(&t.policy), 0);
	assert_int_equal(lx_config_parse(&spec, "toy.conf", nul, sizeof nul - 1, false, &t, err, ERRLEN),
			 LI707_EINPUT);
	assert_string_equal(err, "toy.conf:2: NUL byte");
	toy_free(&t);

	size_t n = LX_CONFIG_LINE_MAX + 32;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memcpy(big, "[daemon]\n", 9);
	memset(big + 9, 'x', n - 9);
	big[n] = '\0';
	assert_int_equal(toy_parse(&t, big, false, err), LI707_EINPUT);
	assert_non_null(strstr(err, "toy.conf:2: line longer than"));
	toy_free(&t);
	free(big);
}

/* check_files: LX_CFG_FILE and LX_CFG_DIR are opened, LX_CFG_PATH is not. */
static void engine_check_files(void **state)
{
	(void)state;
	struct toy t;
	char err[ERRLEN];
	assert_int_equal(toy_parse(&t, "[daemon]\npath = /nonexistent\n[thing a]\nsan=x\n", true, err), 0);
	toy_free(&t);
	assert_int_equal(toy_parse(&t, "[daemon]\nfile = /nonexistent/f\n", true, err), LI707_EINPUT);
	assert_non_null(strstr(err, "toy.conf:2: file: cannot read the file: "));
	toy_free(&t);
	assert_int_equal(toy_parse(&t, "[daemon]\nfile = /\n", true, err), LI707_EINPUT);
	assert_non_null(strstr(err, "toy.conf:2: file: cannot read the file: not a regular file"));
	toy_free(&t);
	assert_int_equal(toy_parse(&t, "[daemon]\ndir = /nonexistent/d\n", true, err), LI707_EINPUT);
	assert_non_null(strstr(err, "toy.conf:2: dir: not a readable directory: "));
	toy_free(&t);
	assert_int_equal(toy_parse(&t, "[daemon]\n[thing a]\npsk_identity = a\npsk_file = /nonexistent/k\n",
				   true, err),
			 LI707_EINPUT);
	assert_non_null(strstr(err, "toy.conf:4: thing 'a': psk_file: "));
	toy_free(&t);
}

static void engine_read_file(void **state)
{
	(void)state;
	char err[ERRLEN] = "", *buf = (char *)(uintptr_t)0x1;
	size_t len = 7;
	int rc = lx_config_read_file("/nonexistent/toy.conf", &buf, &len, err, sizeof err);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/toy.conf: cannot read: "));
	assert_true(buf == (char *)(uintptr_t)0x1 && len == 7); /* untouched */
	rc = lx_config_read_file("/", &buf, &len, err, sizeof err);
	assert_int_equal(rc, LI707_EINPUT);
	assert_non_null(strstr(err, "/: not a regular file of at most"));

	char path[] = "/tmp/toy-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[daemon]\n", 9), 9);
	close(fd);
	rc = lx_config_read_file(path, &buf, &len, err, sizeof err);
	unlink(path);
	assert_int_equal(rc, 0);
	assert_int_equal(len, 9);
	assert_memory_equal(buf, "[daemon]\n", 9);
	free(buf);
}

static void engine_value_syntax(void **state)
{
	(void)state;
	uint64_t v = 0;
	bool b = false;
	assert_true(lx_parse_size("2G", &v) && v == 2ull << 30);
	assert_false(lx_parse_size("2 G", &v));
	assert_false(lx_parse_size("-1", &v));
	assert_false(lx_parse_size("17179869184T", &v)); /* overflows */
	assert_true(lx_config_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
	assert_false(lx_config_parse_u64("18446744073709551616", &v));
	assert_true(lx_config_parse_bool("OFF", &b) && !b);
	assert_false(lx_config_parse_bool("nope", &b));
	char s[] = " a ,, b", *rest = s;
	assert_string_equal(lx_config_next_entry(&rest), "a");
	assert_string_equal(lx_config_next_entry(&rest), "");
	assert_string_equal(lx_config_next_entry(&rest), "b");
	assert_null(lx_config_next_entry(&rest));
}

/* lx_config_new / lx_config_load: the frame a daemon's parse and load entry points share
 * (allocation, defaults, "out of memory", the parse state's life, freeing on error). */
struct box {
	char *name;
	unsigned count;
};
struct box_parse {
	struct box *b;
};
static int box_user_done, box_freed, box_fail_init;

static int box_begin(struct lx_config *x, void *user, const char *name, struct lx_config_obj *o)
{
	(void)x;
	(void)name;
	o->base = ((struct box_parse *)user)->b; /* the parse state links to the object */
	return 0;
}

static const struct lx_config_key box_keys[] = {
	{.name = "count", .type = LX_CFG_UINT, .off = offsetof(struct box, count), .max = 10},
};
static const struct lx_config_section box_sections[] = {
	{.name = "box", .flags = LX_CFG_REQUIRED, .keys = box_keys, .n_keys = 1,
	 .begin = box_begin},
};
static const struct lx_config_spec box_spec = {.sections = box_sections, .n_sections = 1};

static int box_init(void *cfg, void *user, const char *name)
{
	struct box *b = cfg;
	((struct box_parse *)user)->b = b;
	b->count = 7; /* a default */
	if (box_fail_init || !(b->name = strdup(name)))
		return LI707_ENOMEM;
	return 0;
}
static void box_done(void *user)
{
	assert_non_null(((struct box_parse *)user)->b);
	box_user_done++;
}
static void box_free(void *cfg)
{
	free(((struct box *)cfg)->name);
	free(cfg);
	box_freed++;
}
static const struct lx_config_kind box_kind = {
	.spec = &box_spec,
	.size = sizeof(struct box),
	.user_size = sizeof(struct box_parse),
	.init = box_init,
	.user_done = box_done,
	.free = box_free,
};

static int box_new(const char *name, const char *text, void **out, char *err)
{
	return lx_config_new(&box_kind, name, text, strlen(text), false, out, err, ERRLEN);
}

static void engine_config_new(void **state)
{
	(void)state;
	char err[ERRLEN] = "stale";
	void *out = NULL;
	static const char good[] = "[box]\ncount = 3\n";
	assert_int_equal(box_new(NULL, good, &out, err), 0);
	struct box *b = out;
	assert_string_equal(err, "");
	assert_string_equal(b->name, "(config)");
	assert_int_equal(b->count, 3);
	assert_int_equal(box_user_done, 1);
	box_free(b);

	out = (void *)(uintptr_t)0x1;
	static const char defaults[] = "[box]\n";
	assert_int_equal(box_new("b.conf", defaults, &out, err), 0);
	assert_int_equal(((struct box *)out)->count, 7);
	assert_string_equal(((struct box *)out)->name, "b.conf");
	box_free(out);

	/* a bad value: the parse's error, the object freed, *out untouched */
	box_freed = 0;
	out = (void *)(uintptr_t)0x1;
	static const char bad[] = "[box]\ncount = 11\n";
	assert_int_equal(box_new("b.conf", bad, &out, err), LI707_EINPUT);
	assert_true(strncmp(err, "b.conf:2: ", 10) == 0);
	assert_true(out == (void *)(uintptr_t)0x1);
	assert_int_equal(box_freed, 1);
	assert_int_equal(box_user_done, 3);

	/* the defaults cannot be set: "NAME:1: out of memory", nothing parsed */
	box_fail_init = 1;
	assert_int_equal(box_new("b.conf", good, &out, err), LI707_ENOMEM);
	box_fail_init = 0;
	assert_string_equal(err, "b.conf:1: out of memory");
	assert_true(out == (void *)(uintptr_t)0x1);
	assert_int_equal(box_freed, 2);

	assert_int_equal(box_new("b.conf", good, NULL, err), LI707_EINVAL);
	assert_int_equal(lx_config_new(&box_kind, "b.conf", NULL, 3, false, &out, err, sizeof err),
			 LI707_EINVAL);

	/* from a file: read errors as lx_config_read_file's; the path names the messages */
	assert_int_equal(lx_config_load(&box_kind, "/nonexistent/b.conf", &out, err, sizeof err),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/b.conf: cannot read: "));
	char path[] = "/tmp/box-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	assert_int_equal(lx_config_load(&box_kind, path, &out, err, sizeof err), LI707_EINPUT);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_true(strncmp(err + strlen(path), ":2: ", 4) == 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	assert_int_equal(lx_config_load(&box_kind, path, &out, err, sizeof err), 0);
	unlink(path);
	assert_string_equal(((struct box *)out)->name, path);
	assert_int_equal(((struct box *)out)->count, 3);
	box_free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(engine_good_file),
		cmocka_unit_test(engine_bad_files),
		cmocka_unit_test(engine_nul_and_long_line),
		cmocka_unit_test(engine_check_files),
		cmocka_unit_test(engine_read_file),
		cmocka_unit_test(engine_value_syntax),
		cmocka_unit_test(engine_config_new),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
