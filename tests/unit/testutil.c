#include "testutil.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_read_file(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		print_error("cannot open %s\n", path);
		fail();
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len_out)
		*len_out = (size_t)n;
	return buf;
}

static const char *join(const char *base, const char *rel)
{
	static char slots[8][4096];
	static int next;
	char *p = slots[next++ % 8];
	snprintf(p, 4096, "%s/%s", base, rel);
	return p;
}

const char *tu_src(const char *rel) { return join(LI707_SOURCE_DIR, rel); }
const char *tu_shared(const char *rel) { return join(LI707_SHARED_SCHEMAS, rel); }

int tu_have_shared(void)
{
	struct stat st;
	return stat(tu_shared("ts103120_all.xsd"), &st) == 0;
}

long tu_line_of(const char *buf, const char *needle)
{
	const char *p = strstr(buf, needle);
	assert_non_null(p);
	long line = 1;
	for (const char *q = buf; q < p; q++)
		line += *q == '\n';
	return line;
}

void tu_print_diags(const struct li707_diags *d)
{
	static const char *sev[] = {"error", "warning", "note"};
	for (size_t i = 0; i < d->n; i++)
		print_message("  %s line %ld %s [%s] %s\n", sev[d->v[i].severity], d->v[i].line,
			      d->v[i].path ? d->v[i].path : "-", d->v[i].req ? d->v[i].req : "-",
			      d->v[i].message);
}

int tu_has_error(const struct li707_diags *d, const char *req)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].severity != LI707_SEV_ERROR)
			continue;
		if (!req || (d->v[i].req && strcmp(d->v[i].req, req) == 0))
			return 1;
	}
	return 0;
}

int tu_xmllint_wrapped(const char *wrapper, const char *buf, size_t len)
{
	char dir[] = "/tmp/li707-xmllint-XXXXXX";
	if (!mkdtemp(dir))
		return 77;
	char xsd[64], xml[64], cmd[256];
	snprintf(xsd, sizeof xsd, "%s/all.xsd", dir);
	snprintf(xml, sizeof xml, "%s/doc.xml", dir);
	FILE *f = fopen(xsd, "w");
	assert_non_null(f);
	fputs(wrapper, f);
	fclose(f);
	f = fopen(xml, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --schema '%s' '%s' 2>&1", xsd, xml);
	FILE *p = popen(cmd, "r");
	char line[1024];
	while (p && fgets(line, sizeof line, p))
		if (!strstr(line, " validates"))
			print_message("xmllint: %s", line);
	int st = p ? pclose(p) : -1;
	unlink(xsd);
	unlink(xml);
	rmdir(dir);
	return (WIFEXITED(st) && WEXITSTATUS(st) == 0) ? 0 : 1;
}

int tu_xmllint_oracle(const char *buf, size_t len)
{
	if (!tu_have_shared())
		return 77;
	char wrapper[9000];
	snprintf(wrapper, sizeof wrapper,
		 "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" elementFormDefault=\"qualified\">\n"
		 " <xs:include schemaLocation=\"%s\"/>\n"
		 " <xs:import namespace=\"" LI707_NS_707 "\" schemaLocation=\"%s\"/>\n"
		 "</xs:schema>\n",
		 tu_shared("ts103120_all.xsd"), tu_src("schemas/ts_103707.xsd"));
	return tu_xmllint_wrapped(wrapper, buf, len);
}

static int tu_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rm_rf(const char *dir)
{
	assert_int_equal(nftw(dir, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

char *tu_xstrdup(const char *s)
{
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

int tu_free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &l) != 0) {
		perror("tu_free_port");
		abort();
	}
	close(s);
	return ntohs(a.sin_port);
}
