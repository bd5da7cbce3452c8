/* csp_files_serve - the Model A/C file server of li707-csp (src/csp/csp_files.c) on the shared
 * HTTPS server, serving objects described by a manifest, for tests/integration/test_csp_files.sh.
 *
 *   csp_files_serve --token                  prints a fresh token (csp_files_token_new), exits
 *   csp_files_serve [options]
 *   --cert F --key F --cacert F [--crl F]    certificate credentials (mutual TLS)
 *   --allow NAME=SUBJECT-or-SAN              a certificate peer named NAME (after the first '=':
 *                                            an RFC 4514 subject DN when it contains '=', else a
 *                                            SAN)
 *   --psk NAME:IDENTITY:KEYFILE              a PSK peer named NAME
 *   --listen ADDR:PORT  --psk-listen ADDR:PORT  listeners (port 0: pick one)
 *   --root DIR                               the objects directory (files must lie in it)
 *   --prefix P                               URL segment [objects]
 *   --manifest F                             one object per line, blank and '#' lines skipped:
 *                                            TOKEN FILE CONTENT-TYPE EXPIRY PEER
 *                                            FILE relative to --root (or absolute), EXPIRY Unix
 *                                            time or +N / -N seconds from the start; the SHA-256
 *                                            and size are taken from the file at start
 * Prints "listen cert|psk PORT" per listener on stdout, serves until SIGTERM/SIGINT (drain),
 * then prints the counters on stderr ("served N refused_peer N ..."). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csp_files.h"
#include "http_server.h"
#include "li707/error.h"
#include "li707/util.h"
#include "tls.h"

#define OBJ_MAX 256

struct entry {
	char token[CSP_FILES_TOKEN_LEN + 1];
	struct csp_files_object o;
};
static struct entry objs[OBJ_MAX];
static size_t nobjs;

static void die(const char *msg)
{
	fprintf(stderr, "csp_files_serve: %s\n", msg);
	exit(2);
}

static int lookup(void *ud, const char *token, struct csp_files_object *out)
{
	(void)ud;
	for (size_t i = 0; i < nobjs; i++)
		if (strcmp(objs[i].token, token) == 0) {
			*out = objs[i].o;
			out->fd = -1;
			return 0;
		}
	return LI707_ENOTFOUND;
}

static void load_manifest(const char *path, const char *root)
{
	FILE *f = fopen(path, "re");
	if (!f)
		die("cannot open the manifest");
	char line[8192], tok[CSP_FILES_TOKEN_LEN + 1], file[4096], ct[CSP_FILES_CTYPE_MAX + 1], exp[32],
		peer[CSP_FILES_PEER_MAX + 1];
	time_t t0 = time(NULL);
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, "%22s %4095s %127s %31s %255s", tok, file, ct, exp, peer) != 5)
			die("manifest line: TOKEN FILE CONTENT-TYPE EXPIRY PEER");
		if (nobjs >= OBJ_MAX)
			die("too many objects");
		struct entry *e = &objs[nobjs++];
		memcpy(e->token, tok, sizeof tok);
		memcpy(e->o.path, file, sizeof file);
		memcpy(e->o.content_type, ct, sizeof ct);
		memcpy(e->o.peer, peer, sizeof peer);
		long long x = strtoll(exp, NULL, 10);
		e->o.expiry = (exp[0] == '+' || exp[0] == '-') ? (int64_t)t0 + x : x;
		char full[8300];
		snprintf(full, sizeof full, "%s/%s", root, file);
		if (li707_sha256_file(file[0] == '/' ? file : full, e->o.sha256, &e->o.size) != 0) {
			/* A missing file stays in the manifest (the 500 test): size 0, no hash. */
			e->o.size = 0;
			memset(e->o.sha256, '0', 64);
		}
	}
	fclose(f);
}

static void add_peer(struct lx_tls_peers *ps, const char *name, struct lx_tls_peer **out)
{
	struct lx_tls_peer *v = realloc(ps->v, (ps->n + 1) * sizeof *v);
	if (!v)
		die("out of memory");
	ps->v = v;
	*out = &v[ps->n++];
	memset(*out, 0, sizeof **out);
	(*out)->name = strdup(name);
}

int main(int argc, char **argv)
{
	enum { O_TOKEN = 256, O_CERT, O_KEY, O_CACERT, O_CRL, O_ALLOW, O_PSK, O_LISTEN, O_PSKLISTEN,
	       O_ROOT, O_PREFIX, O_MANIFEST };
	static const struct option lo[] = {
		{"token", 0, 0, O_TOKEN}, {"cert", 1, 0, O_CERT}, {"key", 1, 0, O_KEY},
		{"cacert", 1, 0, O_CACERT}, {"crl", 1, 0, O_CRL}, {"allow", 1, 0, O_ALLOW},
		{"psk", 1, 0, O_PSK}, {"listen", 1, 0, O_LISTEN}, {"psk-listen", 1, 0, O_PSKLISTEN},
		{"root", 1, 0, O_ROOT}, {"prefix", 1, 0, O_PREFIX}, {"manifest", 1, 0, O_MANIFEST},
		{0, 0, 0, 0}};
	struct lx_tls_policy pol;
	struct lx_tls_peers peers = {0};
	struct lx_http_config cfg = {0};
	const char *listen_cert[4], *listen_psk[4], *root = NULL, *prefix = "objects", *manifest = NULL;
	size_t nlc = 0, nlp = 0;
	char err[512];
	if (lx_tls_policy_init(&pol) != 0)
		return 1;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_TOKEN: {
			char t[CSP_FILES_TOKEN_LEN + 1];
			if (csp_files_token_new(t) != 0)
				die("getrandom failed");
			puts(t);
			lx_tls_policy_done(&pol);
			return 0;
		}
		case O_CERT: cfg.creds.cert = optarg; break;
		case O_KEY: cfg.creds.key = optarg; break;
		case O_CACERT: cfg.creds.cacert = optarg; break;
		case O_CRL: cfg.creds.crl = optarg; break;
		case O_ALLOW: {
			char *eq = strchr(optarg, '=');
			if (!eq)
				die("--allow NAME=SUBJECT-or-SAN");
			*eq = '\0';
			struct lx_tls_peer *pe;
			add_peer(&peers, optarg, &pe);
			if (strchr(eq + 1, '='))
				pe->subject = strdup(eq + 1);
			else
				pe->san = strdup(eq + 1);
			break;
		}
		case O_PSK: {
			char *a = strchr(optarg, ':'), *b = a ? strchr(a + 1, ':') : NULL;
			if (!b)
				die("--psk NAME:IDENTITY:KEYFILE");
			*a = *b = '\0';
			struct lx_tls_peer *pe;
			add_peer(&peers, optarg, &pe);
			pe->psk_identity = strdup(a + 1);
			if (lx_tls_psk_load(b + 1, &pe->psk, &pe->psk_len, err, sizeof err) != 0)
				die(err);
			break;
		}
		case O_LISTEN: if (nlc < 4) listen_cert[nlc++] = optarg; break;
		case O_PSKLISTEN: if (nlp < 4) listen_psk[nlp++] = optarg; break;
		case O_ROOT: root = optarg; break;
		case O_PREFIX: prefix = optarg; break;
		case O_MANIFEST: manifest = optarg; break;
		default: die("bad option (see the comment atop tests/helpers/csp_files_serve.c)");
		}
	}
	if (nlc + nlp == 0 || !root || !manifest)
		die("--listen/--psk-listen, --root and --manifest are required");
	load_manifest(manifest, root);
	struct csp_files *files;
	struct csp_files_config fc = {.prefix = prefix, .root = root, .lookup = lookup};
	if (csp_files_new(&fc, &files, err, sizeof err) != 0)
		die(err);
	cfg.policy = &pol;
	cfg.peers = &peers;
	cfg.handler = csp_files_handler;
	cfg.cls = files;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct lx_http_server *srv;
	if (lx_http_server_new(&cfg, &srv, err, sizeof err) != 0)
		die(err);
	for (size_t i = 0; i < nlc + nlp; i++) {
		bool psk = i >= nlc;
		if (lx_http_server_listen(srv, psk ? listen_psk[i - nlc] : listen_cert[i], psk, err,
					  sizeof err) != 0)
			die(err);
		printf("listen %s %d\n", psk ? "psk" : "cert", lx_http_server_port(srv, i));
	}
	fflush(stdout);
	int sig;
	while (sigwait(&set, &sig) != 0)
		;
	int rc = lx_http_server_drain(srv) == 0 ? 0 : 3;
	lx_http_server_free(srv);
	struct csp_files_stats st;
	csp_files_stats(files, &st);
	fprintf(stderr,
		"served %llu refused_malformed %llu refused_unknown %llu refused_expired %llu "
		"refused_peer %llu lookup_errors %llu file_errors %llu bad_method %llu\n",
		(unsigned long long)st.served, (unsigned long long)st.refused_malformed,
		(unsigned long long)st.refused_unknown, (unsigned long long)st.refused_expired,
		(unsigned long long)st.refused_peer, (unsigned long long)st.lookup_errors,
		(unsigned long long)st.file_errors, (unsigned long long)st.bad_method);
	csp_files_free(files);
	lx_tls_peers_clear(&peers);
	lx_tls_policy_done(&pol);
	return rc;
}
