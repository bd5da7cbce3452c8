/* Unit tests of src/lib/xmlsafe.c: DOCTYPE refusal (XXE, entity expansion, parameter
 * entities, no network), caps, encodings, byte-exact raw content (also past libxml2's
 * 64 KiB input shrinking), the namespace-complete fallback, and fragment checks. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "internal.h"

#define NS_R "urn:li707:test:r"

static int setup(void **state)
{
	li707_global_init();
	return 0;
}

static struct li707_limits lim_default(void)
{
	struct li707_limits l = {0};
	li707_limits_resolve(&l);
	return l;
}

static int diags_mention(const struct li707_diags *d, const char *what)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].message && strstr(d->v[i].message, what))
			return 1;
	return 0;
}

/* ---- a loopback listener that must never see a connection ---- */

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 8), 0);
	socklen_t l = sizeof a;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int connections(int fd)
{
	int n = 0, c;
	while ((c = accept(fd, NULL, NULL)) >= 0) {
		close(c);
		n++;
	}
	return n;
}

/* ---- DOCTYPE refusal ---- */

struct dtd_case {
	const char *name;
	const char *tmpl; /* PORT: port of the loopback listener */
};

/* tmpl with every "PORT" replaced by port. */
static void subst_port(const char *tmpl, int port, char *out, size_t cap)
{
	size_t o = 0;
	while (*tmpl && o + 8 < cap) {
		if (strncmp(tmpl, "PORT", 4) == 0) {
			o += (size_t)snprintf(out + o, cap - o, "%d", port);
			tmpl += 4;
		} else {
			out[o++] = *tmpl++;
		}
	}
	out[o] = '\0';
}

static void test_xml_doctype_refused(void **state)
{
	static const struct dtd_case t[] = {
		{"plain DOCTYPE", "<!DOCTYPE r><r/>"},
		{"XXE file", "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "
			     "\"file:///etc/passwd\">]>\n<r>&x;</r>"},
		{"XXE http", "<!DOCTYPE r [<!ENTITY x SYSTEM \"http://127.0.0.1:PORT/x\">]><r>&x;</r>"},
		{"external DTD", "<!DOCTYPE r SYSTEM \"http://127.0.0.1:PORT/r.dtd\"><r/>"},
		{"public DTD", "<!DOCTYPE r PUBLIC \"-//X//Y\" \"http://127.0.0.1:PORT/r.dtd\"><r/>"},
		{"parameter entity", "<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:PORT/p\"> "
				     "%p;]><r/>"},
		{"billion laughs",
		 "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;"
		 "&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;"
		 "&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\"><!ENTITY f "
		 "\"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;"
		 "&f;\">]><r>&g;</r>"},
		{"attribute default", "<!DOCTYPE r [<!ATTLIST r a CDATA \"x\">]><r/>"},
		{"element decl", "<!DOCTYPE r [<!ELEMENT r ANY>]><r/>"},
		{"DOCTYPE after a comment", "<!-- c --><!DOCTYPE r []><r/>"},
	};
	int port;
	int lfd = listen_loopback(&port);
	struct li707_limits lim = lim_default();
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char doc[2048];
		subst_port(t[i].tmpl, port, doc, sizeof doc);
		struct li707_diags d = {0};
		struct li707__xmldoc x;
		int rc = li707__xml_parse(doc, strlen(doc), &lim, NULL, &x, &d);
		if (rc != LI707_EXML || x.doc || !diags_mention(&d, "DOCTYPE")) {
			print_error("%s: expected EXML with a DOCTYPE diagnostic, got %s\n",
				    t[i].name, li707_errname(rc));
			tu_print_diags(&d);
			bad++;
		}
		if (!rc)
			li707__xml_done(&x);
		li707_diags_clear(&d);
	}
	int conns = connections(lfd);
	close(lfd);
	if (conns)
		print_error("expected no network connection, got %d\n", conns);
	assert_int_equal(conns, 0);
	assert_int_equal(bad, 0);
}

/* An entity reference without a DTD is an undeclared entity: not well-formed. */
static void test_xml_undeclared_entity(void **state)
{
	static const char doc[] = "<r>&passwd;</r>";
	struct li707_limits lim = lim_default();
	struct li707_diags d = {0};
	struct li707__xmldoc x;
	assert_int_equal(li707__xml_parse(doc, sizeof doc - 1, &lim, NULL, &x, &d), LI707_EXML);
	assert_true(tu_has_error(&d, NULL));
	li707_diags_clear(&d);
}

/* ---- caps ---- */

static char *nested(unsigned depth)
{
	char *s = malloc((size_t)depth * 7 + 1);
	assert_non_null(s);
	size_t o = 0;
	for (unsigned i = 0; i < depth; i++)
		o += (size_t)sprintf(s + o, "<a>");
	for (unsigned i = 0; i < depth; i++)
		o += (size_t)sprintf(s + o, "</a>");
	s[o] = '\0';
	return s;
}

static void test_xml_depth_cap(void **state)
{
	static const struct {
		unsigned depth, cap;
		int rc;
	} t[] = {
		{10000, 0, LI707_ELIMIT}, {64, 0, 0}, {65, 0, LI707_ELIMIT}, {5, 4, LI707_ELIMIT},
		{4, 4, 0},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *s = nested(t[i].depth);
		struct li707_limits lim = {.max_depth = t[i].cap};
		li707_limits_resolve(&lim);
		struct li707_diags d = {0};
		struct li707__xmldoc x;
		int rc = li707__xml_parse(s, strlen(s), &lim, NULL, &x, &d);
		if (rc != t[i].rc) {
			print_error("depth %u cap %u: expected %s, got %s\n", t[i].depth, t[i].cap,
				    li707_errname(t[i].rc), li707_errname(rc));
			bad++;
		}
		if (rc == LI707_ELIMIT && !tu_has_error(&d, NULL))
			bad++;
		if (!rc)
			li707__xml_done(&x);
		li707_diags_clear(&d);
		free(s);
	}
	assert_int_equal(bad, 0);
}

static void test_xml_size_cap(void **state)
{
	static const char doc[] = "<r>0123456789</r>";
	struct li707_limits lim = {.max_document_bytes = sizeof doc - 2};
	li707_limits_resolve(&lim);
	struct li707_diags d = {0};
	struct li707__xmldoc x;
	assert_int_equal(li707__xml_parse(doc, sizeof doc - 1, &lim, NULL, &x, &d), LI707_ELIMIT);
	assert_int_equal(d.v[0].code, LI707_ELIMIT);
	li707_diags_clear(&d);
	lim.max_document_bytes = sizeof doc - 1;
	assert_int_equal(li707__xml_parse(doc, sizeof doc - 1, &lim, NULL, &x, NULL), 0);
	li707__xml_done(&x);
	/* empty input */
	assert_int_equal(li707__xml_parse("", 0, &lim, NULL, &x, NULL), LI707_EXML);
}

/* ---- well-formedness, encodings, lines ---- */

struct wf_case {
	const char *name;
	const char *doc;
	size_t len; /* 0: strlen */
	int rc;
	long line; /* expected line of the first diagnostic, 0: any */
};

static void test_xml_wellformedness(void **state)
{
	static const struct wf_case t[] = {
		{"ok", "<r/>", 0, 0, 0},
		{"bad UTF-8", "<r>\n\xff\xfe</r>", 0, LI707_EXML, 2},
		{"overlong UTF-8", "<r>\xc0\xaf</r>", 0, LI707_EXML, 1},
		{"NUL byte", "<r>a\0b</r>", 9, LI707_EXML, 1},
		{"tag mismatch on line 3", "<r>\n<a>\n</b></r>", 0, LI707_EXML, 3},
		{"undeclared prefix", "<r>\n<p:a/></r>", 0, LI707_EXML, 2},
		{"two roots", "<r/><r/>", 0, LI707_EXML, 1},
		{"text only", "hello", 0, LI707_EXML, 1},
		{"truncated", "<r><a>", 0, LI707_EXML, 0},
		{"control char", "<r>\x01</r>", 0, LI707_EXML, 1},
		{"bad char ref", "<r>&#0;</r>", 0, LI707_EXML, 1},
		{"xml decl later", "<r/><?xml version='1.0'?>", 0, LI707_EXML, 1},
	};
	struct li707_limits lim = lim_default();
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].doc);
		struct li707_diags d = {0};
		struct li707__xmldoc x;
		int rc = li707__xml_parse(t[i].doc, len, &lim, NULL, &x, &d);
		if (rc != t[i].rc) {
			print_error("%s: expected %s, got %s\n", t[i].name, li707_errname(t[i].rc),
				    li707_errname(rc));
			tu_print_diags(&d);
			bad++;
		} else if (rc && t[i].line && (d.n == 0 || d.v[0].line != t[i].line)) {
			print_error("%s: expected the first diagnostic on line %ld, got %ld\n",
				    t[i].name, t[i].line, d.n ? d.v[0].line : -1L);
			bad++;
		}
		/* Messages never carry input bytes. */
		for (size_t k = 0; k < d.n; k++)
			for (const char *p = d.v[k].message; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
					print_error("%s: diagnostic has a raw byte\n", t[i].name);
					bad++;
					break;
				}
		if (!rc)
			li707__xml_done(&x);
		li707_diags_clear(&d);
	}
	assert_int_equal(bad, 0);
}

/* Libraries never log: no input, however broken, makes libxml2 print anything. */
static void test_xml_never_prints(void **state)
{
	static const char *const docs[] = {
		"<?xml version='1.0' encoding='EUC-JP'?><r>\xff\xfe\xfd</r>",
		"<?xml version='1.0' encoding='UTF-16'?><r/>",
		"<?xml version='1.0' encoding='no-such-charset'?><r/>",
		"<r>\xc3\x28</r>",
		"<!DOCTYPE r [<!ENTITY e 'x'>]><r>&e;</r>",
		"<r xmlns:p=''><p:a/></r>",
		"<r xmlns='not a uri'/>",
		"<r><a></b></r>",
	};
	fflush(stderr);
	int saved = dup(2);
	char path[] = "/tmp/li707-stderr-XXXXXX";
	int fd = mkstemp(path);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	struct li707_limits lim = lim_default();
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		struct li707__xmldoc x;
		if (li707__xml_parse(docs[i], strlen(docs[i]), &lim, NULL, &x, NULL) == 0)
			li707__xml_done(&x);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t size = lseek(fd, 0, SEEK_END);
	close(fd);
	unlink(path);
	if (size)
		print_error("libxml2 printed %ld bytes to stderr\n", (long)size);
	assert_int_equal(size, 0);
}

/* Parses a document whose root (in NS_R) holds one <g>; returns g. */
static xmlNodePtr parse_g(const char *doc, size_t len, struct li707__xmldoc *x)
{
	struct li707_limits lim = lim_default();
	struct li707_diags d = {0};
	int rc = li707__xml_parse(doc, len, &lim, NS_R, x, &d);
	if (rc)
		tu_print_diags(&d);
	li707_diags_clear(&d);
	assert_int_equal(rc, 0);
	xmlNodePtr g = xmlDocGetRootElement(x->doc)->children;
	while (g && g->type != XML_ELEMENT_NODE)
		g = g->next;
	assert_non_null(g);
	return g;
}

static char *utf16le(const char *ascii, size_t *len)
{
	size_t n = strlen(ascii);
	char *s = malloc(2 * n + 2);
	assert_non_null(s);
	s[0] = (char)0xff;
	s[1] = (char)0xfe;
	for (size_t i = 0; i < n; i++) {
		s[2 + 2 * i] = ascii[i];
		s[3 + 2 * i] = 0;
	}
	*len = 2 * n + 2;
	return s;
}

/* A UTF-16 document is decoded (libxml2 converts it) but its byte offsets are not those of
 * the input: raw content then comes from the serialising fallback. */
static void test_xml_utf16_offsets_not_trusted(void **state)
{
	char doc[256];
	snprintf(doc, sizeof doc,
		 "<?xml version='1.0' encoding='UTF-16'?><r xmlns='" NS_R "'><g><x:a xmlns:x='urn:x'"
		 " k='v'>t</x:a></g></r>");
	size_t len;
	char *s = utf16le(doc, &len);
	struct li707__xmldoc x;
	xmlNodePtr g = parse_g(s, len, &x);
	assert_false(x.offsets_ok);
	char *raw = NULL;
	assert_int_equal(li707__xml_raw_content(&x, g, 1 << 20, &raw), 0);
	assert_string_equal(raw, "<x:a xmlns:x=\"urn:x\" xmlns=\"" NS_R "\" k=\"v\">t</x:a>");
	assert_int_equal(li707__xml_check_fragment(raw, strlen(raw), NULL, true), 0);
	free(raw);
	li707__xml_done(&x);
	free(s);

	/* ISO-8859-1 too. */
	static const char latin1[] = "<?xml version='1.0' encoding='ISO-8859-1'?><r xmlns='" NS_R
				     "'><g><x:a xmlns:x='urn:x'>\xe9</x:a></g></r>";
	g = parse_g(latin1, sizeof latin1 - 1, &x);
	assert_false(x.offsets_ok);
	assert_int_equal(li707__xml_raw_content(&x, g, 1 << 20, &raw), 0);
	assert_string_equal(raw, "<x:a xmlns:x=\"urn:x\" xmlns=\"" NS_R "\">\xc3\xa9</x:a>");
	free(raw);
	li707__xml_done(&x);
}

/* ---- attributes and namespace declarations per element ---- */

/* "<r a0='v' a1='v' ...>" with n attributes (prefix "xmlns:p" for declarations), closed. */
static char *wide_tag(size_t n, bool ns)
{
	size_t cap = 64 + n * 40;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t o = (size_t)snprintf(s, cap, "<r");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, ns ? " xmlns:p%zu='urn:p%zu'" : " a%zu='%zu'",
				      i, i);
	o += (size_t)snprintf(s + o, cap - o, "/>");
	return s;
}

/* The first error diagnostic says the cap was hit, and is ELIMIT on line 1. */
static int refused_for(const struct li707_diags *d, const char *why)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].severity == LI707_SEV_ERROR)
			return d->v[i].code == LI707_ELIMIT && d->v[i].line == 1 &&
			       strstr(d->v[i].message, why) != NULL;
	return 0;
}

/* 60 nested elements declaring 64 namespaces each, then 300,000 elements whose prefix is
 * bound at the root: libxml2 looks each prefix up through every declaration in scope
 * (seconds of CPU for 2 MB). Refused by the in-scope cap. */
static void test_xml_namespace_scope_explosion_refused(void **state)
{
	size_t cap = 4u << 20, o = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	for (int d = 0; d < 60; d++) {
		o += (size_t)snprintf(s + o, cap - o, d ? "<e%d" : "<r xmlns:a='urn:a'", d);
		for (int i = 0; i < (d ? 64 : 63); i++)
			o += (size_t)snprintf(s + o, cap - o, " xmlns:q%d_%d='urn:q%d_%d'", d, i, d, i);
		o += (size_t)snprintf(s + o, cap - o, ">");
	}
	for (int k = 0; k < 300000; k++)
		o += (size_t)snprintf(s + o, cap - o, "<a:x/>");
	for (int d = 59; d >= 0; d--)
		o += d ? (size_t)snprintf(s + o, cap - o, "</e%d>", d)
		       : (size_t)snprintf(s + o, cap - o, "</r>");
	struct li707_diags d = {0};
	struct li707_limits lim = lim_default();
	struct li707__xmldoc x;
	assert_int_equal(li707__xml_parse(s, o, &lim, NULL, &x, &d), LI707_ELIMIT);
	assert_true(refused_for(&d, "more than 128 namespace declarations in scope"));
	li707_diags_clear(&d);
	free(s);
}

/* 400,000 attributes (a 4.7 MB body) and 200,000 xmlns declarations in one start tag:
 * libxml2 would spend minutes in its start-tag parsing; the pre-scan refuses both before
 * libxml2 sees them, naming the cap, through the public decoder and both xmlsafe entries. */
static void test_xml_attribute_explosion_refused(void **state)
{
	static const struct {
		size_t n;
		bool ns;
		const char *why;
	} t[] = {
		{400000, false, "more than 256 attributes"},
		{200000, true, "declares more than 64 namespaces"},
	};
	struct li707_limits lim = lim_default();
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *s = wide_tag(t[i].n, t[i].ns);
		size_t len = strlen(s);
		if (!t[i].ns)
			assert_true(len > 4500000);
		struct li707_diags d = {0};
		struct li707_message *m = NULL;
		assert_int_equal(li707_message_decode(s, len, NULL, &m, &d), LI707_ELIMIT);
		assert_null(m);
		assert_true(refused_for(&d, t[i].why));
		li707_diags_clear(&d);
		struct li707__xmldoc x;
		assert_int_equal(li707__xml_parse(s, len, &lim, NULL, &x, &d), LI707_ELIMIT);
		assert_true(refused_for(&d, t[i].why));
		li707_diags_clear(&d);
		free(s);
	}
}

/* Exactly at the caps is accepted, one more refused; declarations and attributes are
 * counted apart; '=' and '>' inside quoted values, in text, comments, CDATA and PIs are not
 * attributes; the caps are per element; UTF-16 is scanned by code units. */
static void test_xml_attribute_caps(void **state)
{
	struct li707_limits lim = {.max_attributes = 3, .max_namespace_decls = 2,
				   .max_namespaces_in_scope = 3};
	li707_limits_resolve(&lim);
	static const struct {
		const char *doc;
		int rc;
	} t[] = {
		{"<r a='1' b='2' c='3'/>", 0},
		{"<r a='1' b='2' c='3' d='4'/>", LI707_ELIMIT},
		{"<r a = '1'\n b\t=\"2\" c='3' d ='4'></r>", LI707_ELIMIT},
		{"<r xmlns='urn:a' xmlns:b='urn:b' a='1' b='2' c='3'/>", 0},
		{"<r xmlns='urn:a' xmlns:b='urn:b' xmlns:c='urn:c'/>", LI707_ELIMIT},
		{"<r xmlnsx='1' xmlns-y='2' xmlns='urn:a'/>", 0},
		{"<r a='=>=' b=\"'='\" c='3'>x=1 y=2 z=3 w=4</r>", 0},
		{"<r a='1' b='2' c='3'><!-- a=1 b=2 c=3 d=4 --><![CDATA[a=1 b=2 c=3 d=4]]>"
		 "<?pi a=1 b=2 c=3 d=4?></r>", 0},
		{"<r a='1' b='2' c='3'><s a='1' b='2' c='3'/><s a='1' b='2' c='3'/></r>", 0},
		{"<r><s a='1' b='2' c='3'/><s a='1' b='2' c='3' d='4'/></r>", LI707_ELIMIT},
		{"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?><r a='1' b='2' c='3' d='4'/>",
		 LI707_ELIMIT},
		/* markup inside comments, CDATA and PIs is not markup */
		{"<r><!-- <x a='1' b='2' c='3' d='4'> --><![CDATA[<x a='1' b='2' c='3' d='4'>]]>"
		 "<?pi <x a='1' b='2' c='3' d='4'>?></r>", 0},
		/* declarations in scope: own plus ancestors', released at the end tag */
		{"<r xmlns:a='urn:a' xmlns:b='urn:b'><s xmlns:c='urn:c'/></r>", 0},
		{"<r xmlns:a='urn:a' xmlns:b='urn:b'><s xmlns:c='urn:c'/><s xmlns:d='urn:d'>"
		 "</s><s xmlns:e='urn:e'/></r>", 0},
		{"<r xmlns:a='urn:a' xmlns:b='urn:b'><s xmlns:c='urn:c'><t xmlns:d='urn:d'/></s></r>",
		 LI707_ELIMIT},
		{"<r xmlns:a='urn:a'><s xmlns:b='urn:b'><t xmlns:c='urn:c'><u xmlns:d='urn:d'/>"
		 "</t></s></r>", LI707_ELIMIT},
		{"<r xmlns:a='urn:a'><s xmlns:b='urn:b'><t xmlns:c='urn:c'></t></s><s xmlns:b='urn:b'>"
		 "<t xmlns:c='urn:c'/></s></r>", 0},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct li707_diags d = {0};
		struct li707__xmldoc x;
		int rc = li707__xml_parse(t[i].doc, strlen(t[i].doc), &lim, NULL, &x, &d);
		if (rc != t[i].rc) {
			print_error("case %zu: expected %s, got %s\n", i, li707_errname(t[i].rc),
				    li707_errname(rc));
			bad++;
		}
		if (!rc)
			li707__xml_done(&x);
		li707_diags_clear(&d);
	}
	/* UTF-16 (both byte orders): counted by code units. */
	for (int be = 0; be < 2; be++)
		for (int n = 3; n <= 4; n++) {
			char doc[128];
			snprintf(doc, sizeof doc, "<?xml version='1.0' encoding='UTF-16'?><r a='1' "
				 "b='2' c='3'%s/>", n == 4 ? " d='4'" : "");
			size_t len;
			char *s = utf16le(doc, &len);
			for (size_t k = 0; be && k + 1 < len; k += 2) {
				char c = s[k];
				s[k] = s[k + 1];
				s[k + 1] = c;
			}
			struct li707__xmldoc x;
			int rc = li707__xml_parse(s, len, &lim, NULL, &x, NULL);
			if (rc != (n == 4 ? LI707_ELIMIT : 0)) {
				print_error("UTF-16%s, %d attributes: got %s\n", be ? "BE" : "LE", n,
					    li707_errname(rc));
				bad++;
			}
			if (!rc)
				li707__xml_done(&x);
			free(s);
		}
	assert_int_equal(bad, 0);
}

/* An encoding in which markup is not plain ASCII would hide tags from the pre-scan: UTF-7
 * (which libxml2 reads through iconv) and EBCDIC are refused with a clear reason. */
static void test_xml_unscannable_encoding_refused(void **state)
{
	static const char utf7[] = "<?xml version=\"1.0\" encoding=\"UTF-7\"?>\n"
				   "+ADw-r a+AD0AIg-1+ACIAPg-hi+ADw-/r+AD4-\n";
	static const char ebcdic[] = "\x4c\x6f\xa7\x94\x93\x40\xa5\x85\x99\xa2\x89\x96\x95\x7e"
				     "\x7f\xf1\x4b\xf0\x7f\x6f\x6e\x4c\x99\x61\x6e";
	const struct {
		const char *doc;
		size_t len;
	} t[] = {{utf7, sizeof utf7 - 1}, {ebcdic, sizeof ebcdic - 1}};
	struct li707_limits lim = lim_default();
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct li707_diags d = {0};
		struct li707__xmldoc x;
		assert_int_equal(li707__xml_parse(t[i].doc, t[i].len, &lim, NULL, &x, &d),
				 LI707_EXML);
		assert_true(diags_mention(&d, "encoding not supported"));
		li707_diags_clear(&d);
	}
}

/* ---- raw content ---- */

struct raw_case {
	const char *name;
	const char *content; /* placed verbatim inside <g>; must come back byte for byte */
};

static const struct raw_case raw_cases[] = {
	{"empty", ""},
	{"text", "plain text"},
	{"entities stay escaped", "a &amp; b &lt;c&gt; &#233;&#x20AC; &quot;"},
	{"CDATA", "<![CDATA[<not> a & tag ]]>"},
	{"comment", "<!-- <g> </g> -->"},
	{"PI", "<?pi <x> ?>"},
	{"attribute with >", "<x:a xmlns:x='urn:x' k='>' l=\">>\"/>"},
	{"single quotes and double quotes", "<x:a xmlns:x=\"urn:x\" k='a\"b>' l=\"c'd\"></x:a>"},
	{"own default namespace", "<a xmlns='urn:a'><b>1</b><c/></a>"},
	{"xsi:type with own prefix",
	 "<x:a xmlns:x='urn:x' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' "
	 "xsi:type='x:T'/>"},
	{"xml: attributes", "<x:a xmlns:x='urn:x' xml:lang='en'/>"},
	{"whitespace and newlines", "\n  <x:a xmlns:x='urn:x'>\n\t</x:a  >\n"},
	{"end tag with spaces", "<x:a xmlns:x='urn:x'></x:a\n>"},
	{"nested same name", "<x:g xmlns:x='urn:x'><x:g/></x:g>"},
	{"UTF-8", "<x:a xmlns:x='urn:x'>\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80</x:a>"},
};

static void check_raw_cases(const char *prefix_doc)
{
	int bad = 0;
	for (size_t i = 0; i < sizeof raw_cases / sizeof raw_cases[0]; i++) {
		size_t cap = strlen(prefix_doc) + strlen(raw_cases[i].content) + 128;
		char *doc = malloc(cap);
		assert_non_null(doc);
		snprintf(doc, cap, "%s<r xmlns='" NS_R "'><g>%s</g></r>", prefix_doc,
			 raw_cases[i].content);
		struct li707__xmldoc x;
		xmlNodePtr g = parse_g(doc, strlen(doc), &x);
		char *raw = NULL;
		int rc = li707__xml_raw_content(&x, g, 1 << 20, &raw);
		if (rc || !x.offsets_ok || strcmp(raw, raw_cases[i].content) != 0) {
			print_error("%s: expected \"%s\", got %s \"%s\" (offsets_ok %d)\n",
				    raw_cases[i].name, raw_cases[i].content, li707_errname(rc),
				    raw ? raw : "(null)", x.offsets_ok);
			bad++;
		}
		free(raw);
		li707__xml_done(&x);
		free(doc);
	}
	assert_int_equal(bad, 0);
}

static void test_xml_raw_exact(void **state)
{
	check_raw_cases("");
	check_raw_cases("<?xml version='1.0' encoding='UTF-8'?>\n");
	check_raw_cases("\xef\xbb\xbf"); /* UTF-8 byte order mark */
}

/* Empty elements give "" (not NULL), whether written <g/> or <g></g>. */
static void test_xml_raw_empty(void **state)
{
	static const char *const docs[] = {"<r xmlns='" NS_R "'><g/></r>",
					   "<r xmlns='" NS_R "'><g></g></r>",
					   "<r xmlns='" NS_R "'><g a='/>'/></r>"};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		struct li707__xmldoc x;
		xmlNodePtr g = parse_g(docs[i], strlen(docs[i]), &x);
		char *raw = NULL;
		assert_int_equal(li707__xml_raw_content(&x, g, 16, &raw), 0);
		assert_non_null(raw);
		assert_string_equal(raw, "");
		free(raw);
		li707__xml_done(&x);
	}
}

/* Documents far larger than libxml2's 64 KiB input window: every element's raw content is
 * still sliced exactly (input->consumed accounts for the shrinking). */
static void test_xml_raw_large_documents(void **state)
{
	enum { N = 3000 };
	size_t cap = (size_t)N * 700 + 1024;
	char *doc = malloc(cap);
	assert_non_null(doc);
	size_t o = (size_t)sprintf(doc, "<r xmlns='" NS_R "'>");
	for (int i = 0; i < N; i++) {
		/* varied sizes, attributes with '>' and a long start tag now and then */
		o += (size_t)sprintf(doc + o, "<g n='%d' k='>%.*s'>", i, (i * 37) % 300,
				     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		o += (size_t)sprintf(doc + o, "<x:v xmlns:x='urn:x'>%d<![CDATA[<%d>]]></x:v>%s</g>",
				     i, i, i % 7 ? "" : "<!-- c -->");
		if (i % 11 == 0)
			o += (size_t)sprintf(doc + o, "<g/>");
	}
	o += (size_t)sprintf(doc + o, "</r>");
	assert_true(o > 512 * 1024);

	struct li707_limits lim = lim_default();
	struct li707__xmldoc x;
	assert_int_equal(li707__xml_parse(doc, o, &lim, NS_R, &x, NULL), 0);
	assert_true(x.offsets_ok);
	int i = 0, bad = 0;
	for (xmlNodePtr g = xmlDocGetRootElement(x.doc)->children; g; g = g->next) {
		if (g->type != XML_ELEMENT_NODE)
			continue;
		char want[128];
		if (!g->children) {
			snprintf(want, sizeof want, "%s", "");
		} else {
			snprintf(want, sizeof want, "<x:v xmlns:x='urn:x'>%d<![CDATA[<%d>]]></x:v>%s",
				 i, i, i % 7 ? "" : "<!-- c -->");
			i++;
		}
		char *raw = NULL;
		if (li707__xml_raw_content(&x, g, 1 << 20, &raw) != 0 || strcmp(raw, want) != 0) {
			if (bad++ < 5)
				print_error("element %d: expected \"%s\", got \"%s\"\n", i, want,
					    raw ? raw : "(null)");
		}
		free(raw);
	}
	assert_int_equal(i, N);
	assert_int_equal(bad, 0);
	li707__xml_done(&x);
	free(doc);
}

/* Content that relies on a namespace declared on an ancestor cannot be sliced: the fallback
 * serialises it with every namespace in scope declared, so it means the same on its own. */
static void test_xml_raw_ancestor_prefix_fallback(void **state)
{
	static const struct {
		const char *name, *doc, *want;
	} t[] = {
		{"prefix from ancestor",
		 "<r xmlns='" NS_R "' xmlns:p='urn:p'><g><p:a>1</p:a></g></r>",
		 "<p:a xmlns:p=\"urn:p\" xmlns=\"" NS_R "\">1</p:a>"},
		{"default namespace from ancestor", "<r xmlns='" NS_R "'><g><a/></g></r>",
		 "<a xmlns=\"" NS_R "\"/>"},
		{"xsi:type prefix from ancestor",
		 "<r xmlns='" NS_R "' xmlns:t='urn:t' xmlns:xsi='http://www.w3.org/2001/"
		 "XMLSchema-instance'><g><a xmlns='urn:a' xsi:type='t:T'/></g></r>",
		 "<a xmlns=\"urn:a\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
		 "xmlns:t=\"urn:t\" xsi:type=\"t:T\"/>"},
		{"no default namespace in scope",
		 "<q:r xmlns:q='" NS_R "'><q:g><a>1<b/></a></q:g></q:r>",
		 "<a xmlns:q=\"" NS_R "\" xmlns=\"\">1<b/></a>"},
		{"attribute prefix from ancestor",
		 "<r xmlns='" NS_R "' xmlns:p='urn:p'><g><a xmlns='urn:a' p:k='v'>x<!--c--></a>"
		 "</g></r>",
		 "<a xmlns=\"urn:a\" xmlns:p=\"urn:p\" p:k=\"v\">x<!--c--></a>"},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct li707__xmldoc x;
		xmlNodePtr g = parse_g(t[i].doc, strlen(t[i].doc), &x);
		assert_true(x.offsets_ok);
		char *raw = NULL;
		int rc = li707__xml_raw_content(&x, g, 1 << 20, &raw);
		if (rc || strcmp(raw, t[i].want) != 0) {
			print_error("%s: expected \"%s\", got %s \"%s\"\n", t[i].name, t[i].want,
				    li707_errname(rc), raw ? raw : "(null)");
			bad++;
		} else if (li707__xml_check_fragment(raw, strlen(raw), NULL, false) != 0) {
			print_error("%s: fallback output is not a namespace-complete fragment\n",
				    t[i].name);
			bad++;
		}
		free(raw);
		li707__xml_done(&x);
	}
	assert_int_equal(bad, 0);
}

static void test_xml_raw_cap(void **state)
{
	static const char doc[] = "<r xmlns='" NS_R "' xmlns:p='urn:p'><g>0123456789</g>"
				  "<g><p:a>0123456789</p:a></g></r>";
	struct li707__xmldoc x;
	xmlNodePtr g = parse_g(doc, sizeof doc - 1, &x);
	char *raw = NULL;
	assert_int_equal(li707__xml_raw_content(&x, g, 9, &raw), LI707_ELIMIT);
	assert_null(raw);
	assert_int_equal(li707__xml_raw_content(&x, g, 10, &raw), 0);
	assert_string_equal(raw, "0123456789");
	free(raw);
	raw = NULL;
	xmlNodePtr g2 = g->next; /* fallback path is capped too */
	assert_int_equal(li707__xml_raw_content(&x, g2, 20, &raw), LI707_ELIMIT);
	assert_null(raw);
	li707__xml_done(&x);
}

/* Raw content of an element outside the recorded namespace falls back to serialising. */
static void test_xml_raw_unrecorded(void **state)
{
	static const char doc[] = "<r xmlns='urn:other'><g><a xmlns='urn:a'>1</a></g></r>";
	struct li707_limits lim = lim_default();
	struct li707__xmldoc x;
	assert_int_equal(li707__xml_parse(doc, sizeof doc - 1, &lim, NS_R, &x, NULL), 0);
	xmlNodePtr g = xmlDocGetRootElement(x.doc)->children;
	char *raw = NULL;
	assert_int_equal(li707__xml_raw_content(&x, g, 100, &raw), 0);
	assert_string_equal(raw, "<a xmlns=\"urn:a\">1</a>");
	free(raw);
	li707__xml_done(&x);
}

/* ---- fragments ---- */

static void test_xml_check_fragment(void **state)
{
	static const struct {
		const char *name, *s;
		bool other;
		int rc;
	} t[] = {
		{"empty, any", "", false, 0},
		{"empty, other ns needs an element", "", true, LI707_EINVALID},
		{"text, any", "some text &amp; more", false, 0},
		{"text, other ns", "text", true, LI707_EINVALID},
		{"element in own ns", "<a xmlns='urn:a'/>", true, 0},
		{"two elements, whitespace", " <a xmlns='urn:a'/>\n<p:b xmlns:p='urn:b'/> ", true, 0},
		{"no namespace", "<a/>", true, LI707_EINVALID},
		{"no namespace, any", "<a/>", false, 0},
		{"TS 103 707 namespace", "<a xmlns='" LI707_NS_707 "'/>", true, LI707_EINVALID},
		{"undeclared prefix", "<p:a/>", false, LI707_EXML},
		{"undeclared attribute prefix", "<a xmlns='urn:a' p:k='v'/>", false, LI707_EXML},
		{"undeclared xsi:type prefix",
		 "<a xmlns='urn:a' xmlns:xsi='" LI707_NS_XSI "' xsi:type='t:T'/>", false, LI707_EXML},
		{"declared xsi:type prefix",
		 "<a xmlns='urn:a' xmlns:t='urn:t' xmlns:xsi='" LI707_NS_XSI "' xsi:type='t:T'/>",
		 true, 0},
		{"not well-formed", "<a xmlns='urn:a'>", false, LI707_EXML},
		{"wrapper escape", "</w><w>", false, LI707_EXML},
		{"wrapper escape 2", "</w><x xmlns='urn:x'/><w>", true, LI707_EXML},
		{"DOCTYPE", "<!DOCTYPE a [<!ENTITY e 'x'>]><a/>", false, LI707_EXML},
		{"entity", "&e;", false, LI707_EXML},
		{"XML declaration", "<?xml version='1.0'?><a/>", false, LI707_EXML},
		{"CDATA, comment, PI", "<![CDATA[x]]><!--c--><?p d?>", false, 0},
		{"CDATA text, other ns", "<![CDATA[x]]>", true, LI707_EINVALID},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int rc = li707__xml_check_fragment(t[i].s, strlen(t[i].s), NULL, t[i].other);
		if (rc != t[i].rc) {
			print_error("%s: expected %s, got %s\n", t[i].name, li707_errname(t[i].rc),
				    li707_errname(rc));
			bad++;
		}
	}
	/* caps */
	struct li707_limits lim = {.max_raw_xml_bytes = 4};
	li707_limits_resolve(&lim);
	if (li707__xml_check_fragment("<a/>x", 5, &lim, false) != LI707_ELIMIT)
		bad++;
	char *deep = nested(100);
	if (li707__xml_check_fragment(deep, strlen(deep), NULL, false) != LI707_ELIMIT)
		bad++;
	free(deep);
	assert_int_equal(bad, 0);
}

/* ---- a subtree copied on its own keeps its meaning ---- */

static void test_xml_copy_subtree(void **state)
{
	static const char doc[] = "<r xmlns='" NS_R "' xmlns:t='urn:t' xmlns:xsi='" LI707_NS_XSI
				  "'><g xsi:type='t:T'><a/></g></r>";
	struct li707__xmldoc x;
	xmlNodePtr g = parse_g(doc, sizeof doc - 1, &x);
	xmlDocPtr c = li707__xml_copy_subtree(g);
	assert_non_null(c);
	xmlNodePtr root = xmlDocGetRootElement(c);
	assert_non_null(root->ns);
	assert_string_equal((const char *)root->ns->href, NS_R);
	xmlNsPtr t = xmlSearchNs(c, root, BAD_CAST "t");
	assert_non_null(t);
	assert_string_equal((const char *)t->href, "urn:t");
	assert_string_equal((const char *)root->children->ns->href, NS_R);
	xmlFreeDoc(c);
	assert_null(li707__xml_copy_subtree(NULL));
	li707__xml_done(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_doctype_refused),
		cmocka_unit_test(test_xml_undeclared_entity),
		cmocka_unit_test(test_xml_depth_cap),
		cmocka_unit_test(test_xml_size_cap),
		cmocka_unit_test(test_xml_wellformedness),
		cmocka_unit_test(test_xml_never_prints),
		cmocka_unit_test(test_xml_utf16_offsets_not_trusted),
		cmocka_unit_test(test_xml_attribute_explosion_refused),
		cmocka_unit_test(test_xml_attribute_caps),
		cmocka_unit_test(test_xml_namespace_scope_explosion_refused),
		cmocka_unit_test(test_xml_unscannable_encoding_refused),
		cmocka_unit_test(test_xml_raw_exact),
		cmocka_unit_test(test_xml_raw_empty),
		cmocka_unit_test(test_xml_raw_large_documents),
		cmocka_unit_test(test_xml_raw_ancestor_prefix_fallback),
		cmocka_unit_test(test_xml_raw_cap),
		cmocka_unit_test(test_xml_raw_unrecorded),
		cmocka_unit_test(test_xml_check_fragment),
		cmocka_unit_test(test_xml_copy_subtree),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
