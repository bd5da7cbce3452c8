/* li707-lea - the configuration file (lea_config.h).
 *
 * DESIGN. The INI engine (src/common/config.c) reads the file, checks every line as bytes,
 * finds sections and keys and parses the common value types (listeners, PEM files, TLS
 * policy, peer identities, sizes, numbers, booleans). What is the LEA's own is here: its two
 * key tables ([server] and [peer NAME]), the values only it knows (URL paths, sync,
 * references, models) and what needs a whole section or the whole file (mandatory keys,
 * listeners against peers, identities shared by two peers, overlapping URL paths), checked
 * when a peer section ends and at the end of the file. Every message names the file and a
 * line. Values are never quoted (key names and valid peer names are), so a reference cannot
 * reach a log through an error message (TS103707 R-SEC-6). */
#include "lea_config.h"
#include "size.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "li707/error.h"
#include "li707/util.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)

#define URL_PATH_MAX 256      /* delivery_path, binary_path */

/* ---- parse state ---- */

/* What the parse keeps of one peer besides struct lea_peer and its lx_tls_peer. */
struct px {
	size_t refs_cap;
};

struct parse {
	struct lx_config *x;             /* the engine's state (set by every callback) */
	struct lea_config *c;
	struct px *px;                   /* parallel to c->peers */
	size_t peers_cap;
};

__attribute__((format(printf, 3, 4))) static int perr(struct parse *p, long line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = lx_config_verror(p->x, line, fmt, ap);
	va_end(ap);
	return rc;
}

static int pnomem(struct parse *p)
{
	return lx_config_nomem(p->x);
}

static long cur_line(const struct parse *p)
{
	return lx_config_line(p->x);
}

static struct lea_peer *cur_peer(struct parse *p)
{
	return &p->c->peers[p->c->n_peers - 1];
}

static struct lx_tls_peer *cur_tls(struct parse *p)
{
	return &p->c->tls_peers.v[p->c->n_peers - 1];
}

static struct px *cur_px(struct parse *p)
{
	return &p->px[p->c->n_peers - 1];
}

#define next_entry lx_config_next_entry
#define push_str lx_config_push_str

bool lea_parse_bool(const char *s, bool *out)
{
	return lx_config_parse_bool(s, out);
}

/* A URL path: '/' then RFC 3986 pchars and '/', no empty, "." or ".." segment in the middle,
 * no percent-encoding (the server compares decoded paths). */
static bool url_path_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > URL_PATH_MAX || s[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			  strchr("-._~!$&'()*+,;=:@/", ch) != NULL;
		if (!ok)
			return false;
	}
	if (strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../"))
		return false;
	const char *last = strrchr(s, '/');
	return strcmp(last, "/.") != 0 && strcmp(last, "/..") != 0;
}

/* True when path a is prefix itself or lies below it. */
static bool path_within(const char *a, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(a, prefix, n) != 0)
		return false;
	return a[n] == '\0' || prefix[n - 1] == '/' || a[n] == '/';
}

/* ---- [server] ---- */

static int server_url_path(struct lx_config *x, const struct lx_config_key *k, void *user, char *v)
{
	struct parse *p = user;
	p->x = x;
	size_t n = strlen(v);
	bool binary = strcmp(k->name, "binary_path") == 0;
	if (!binary && !url_path_ok(v))
		return perr(p, cur_line(p),
			    "delivery_path: expected a URL path such as /hi1 (begins with '/', "
			    "no '%%', '?', '#', blanks, empty or dot segments; at most %d bytes)",
			    URL_PATH_MAX);
	if (binary && (!url_path_ok(v) || n < 2 || v[n - 1] != '/'))
		return perr(p, cur_line(p),
			    "binary_path: expected a URL path prefix such as /binaryData/ (begins "
			    "and ends with '/', not '/' alone, no '%%', '?', '#', blanks, empty or "
			    "dot segments; at most %d bytes)",
			    URL_PATH_MAX);
	char *d = strdup(v);
	if (!d)
		return pnomem(p);
	char **dst = (char **)(void *)((char *)p->c + k->off);
	free(*dst);
	*dst = d;
	return 0;
}

static int server_sync(struct lx_config *x, const struct lx_config_key *k, void *user, char *v)
{
	struct parse *p = user;
	p->x = x;
	if (strcmp(v, "full") == 0)
		p->c->sync_full = true;
	else if (strcmp(v, "normal") == 0)
		p->c->sync_full = false;
	else
		return perr(p, cur_line(p), "sync: expected full or normal");
	return 0;
}

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

#define CO(f) offsetof(struct lea_config, f)
static const struct lx_config_key server_keys[] = {
	{.name = "listen", .type = LX_CFG_LISTEN, .off = CO(listen), .off_n = CO(n_listen),
	 .max = LEA_CONFIG_MAX_LISTEN},
	{.name = "listen_psk", .type = LX_CFG_LISTEN, .off = CO(listen_psk), .off_n = CO(n_listen_psk),
	 .max = LEA_CONFIG_MAX_LISTEN},
	{.name = "cert", .type = LX_CFG_FILE, .off = CO(creds.cert)},
	{.name = "key", .type = LX_CFG_FILE, .off = CO(creds.key)},
	{.name = "cacert", .type = LX_CFG_FILE, .off = CO(creds.cacert)},
	{.name = "crl", .type = LX_CFG_FILE, .off = CO(creds.crl)},
	{.name = "store", .type = LX_CFG_PATH, .off = CO(store_dir)}, /* created by the daemon */
	{.name = "delivery_path", .type = LX_CFG_CUSTOM, .off = CO(delivery_path), .fn = server_url_path},
	{.name = "binary_path", .type = LX_CFG_CUSTOM, .off = CO(binary_path), .fn = server_url_path},
	{.name = "schema_dir", .type = LX_CFG_DIR, .off = CO(schema_dir)},
	{.name = "official_schema_dir", .type = LX_CFG_DIR, .off = CO(official_schema_dir)},
	{.name = "xsd_check", .type = LX_CFG_BOOL, .off = CO(xsd_check)},
	{.name = "max_message_bytes", .type = LX_CFG_SIZE, .off = CO(max_message_bytes), .min = KIB, .max = GIB},
	{.name = "max_upload_bytes", .type = LX_CFG_SIZE, .off = CO(max_upload_bytes), .min = KIB,
	 .max = 16 * TIB},
	{.name = "orphan_timeout", .type = LX_CFG_SECONDS, .off = CO(orphan_timeout_s), .min = 1,
	 .max = 31536000},
	{.name = "orphan_max_bytes", .type = LX_CFG_SIZE, .off = CO(orphan_max_bytes), .min = 1,
	 .max = 16 * TIB},
	{.name = "connections", .type = LX_CFG_UINT, .off = CO(limits.connections), .max = 100000},
	{.name = "per_peer", .type = LX_CFG_UINT, .off = CO(limits.per_peer), .max = 100000},
	{.name = "per_ip", .type = LX_CFG_UINT, .off = CO(limits.per_ip), .max = 100000},
	{.name = "idle_timeout", .type = LX_CFG_UINT, .off = CO(limits.idle_timeout_s), .max = 86400},
	{.name = "header_timeout", .type = LX_CFG_UINT, .off = CO(limits.header_timeout_s), .max = 3600},
	{.name = "drain_timeout", .type = LX_CFG_UINT, .off = CO(limits.drain_timeout_s), .max = 86400},
	{.name = "body_min_rate", .type = LX_CFG_UINT, .off = CO(limits.body_min_rate), .max = 1073741824},
	{.name = "body_rate_window", .type = LX_CFG_UINT, .off = CO(limits.body_rate_window_s), .max = 3600},
	{.name = "body_memory", .type = LX_CFG_SIZE, .off = CO(body_memory_bytes), .min = MIB, .max = TIB},
	{.name = "tls_min", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "tls13", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "tls12_suites", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "tls12_psk_suites", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "tls_groups", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "log_level", .type = LX_CFG_ENUM, .off = CO(log_level), .names = log_levels},
	{.name = "sync", .type = LX_CFG_CUSTOM, .fn = server_sync},
	{.name = "metrics_listen", .type = LX_CFG_ADDR, .off = CO(metrics_listen)},
	{.name = "client_cert", .type = LX_CFG_FILE, .off = CO(client_cert)},
	{.name = "client_key", .type = LX_CFG_FILE, .off = CO(client_key)},
	{.name = "fetch_workers", .type = LX_CFG_UINT, .off = CO(fetch_workers), .max = 64},
};
#define N_SERVER_KEYS (sizeof server_keys / sizeof server_keys[0])

static int server_begin(struct lx_config *x, void *user, const char *name, struct lx_config_obj *obj)
{
	struct parse *p = user;
	p->x = x;
	obj->base = p->c;
	return 0;
}

/* ---- [peer NAME] ---- */

static int peer_references(struct parse *p, char *v)
{
	struct lea_peer *pe = cur_peer(p);
	struct px *x = cur_px(p);
	size_t idx = 0;
	for (char *e; (e = next_entry(&v)) != NULL;) {
		idx++;
		/* Entries are never quoted: they are target identifiers (R-SEC-6). */
		if (!*e)
			return perr(p, cur_line(p), "peer '%s': references: entry %zu is empty", pe->name, idx);
		bool any = strcasecmp(e, "any") == 0;
		if ((any && pe->n_references) || (!any && pe->any_reference))
			return perr(p, cur_line(p),
				    "peer '%s': references: 'any' cannot be combined with other references",
				    pe->name);
		if (any) {
			pe->any_reference = true;
		} else if (!li707_check_liid(e) && !li707_check_ldid(e)) {
			return perr(p, cur_line(p),
				    "peer '%s': references: entry %zu is neither a LIID nor an LDID "
				    "(TS 103 280)",
				    pe->name, idx);
		} else if (pe->n_references >= LEA_CONFIG_MAX_REFERENCES) {
			return perr(p, cur_line(p), "peer '%s': references: more than %d", pe->name,
				    LEA_CONFIG_MAX_REFERENCES);
		} else if (push_str(&pe->references, &pe->n_references, &x->refs_cap, e,
				    LEA_CONFIG_MAX_REFERENCES)) {
			return pnomem(p);
		}
	}
	return 0;
}

static int peer_models(struct parse *p, char *v)
{
	struct lea_peer *pe = cur_peer(p);
	size_t idx = 0;
	for (char *e; (e = next_entry(&v)) != NULL;) {
		idx++;
		if (strcasecmp(e, "A") == 0)
			pe->models |= LEA_MODEL_A;
		else if (strcasecmp(e, "B") == 0)
			pe->models |= LEA_MODEL_B;
		else if (strcasecmp(e, "C") == 0)
			pe->models |= LEA_MODEL_C;
		else
			return perr(p, cur_line(p), "peer '%s': models: entry %zu is not A, B or C", pe->name, idx);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}


static int peer_refs_key(struct lx_config *x, const struct lx_config_key *k, void *user, char *v)
{
	struct parse *p = user;
	p->x = x;
	return strcmp(k->name, "references") == 0 ? peer_references(p, v) : peer_models(p, v);
}

#define PO(f) offsetof(struct lea_peer, f)
static const struct lx_config_key peer_keys[] = {
	{.name = "subject", .type = LX_CFG_SUBJECT},
	{.name = "san", .type = LX_CFG_SAN},
	{.name = "spki_sha256", .type = LX_CFG_SPKI},
	{.name = "psk_identity", .type = LX_CFG_PSK_ID},
	{.name = "psk_file", .type = LX_CFG_PSK_FILE},
	{.name = "references", .type = LX_CFG_CUSTOM, .flags = LX_CFG_MULTI, .fn = peer_refs_key},
	{.name = "models", .type = LX_CFG_CUSTOM, .fn = peer_refs_key},
	{.name = "max_message_bytes", .type = LX_CFG_SIZE, .off = PO(max_message_bytes), .min = KIB,
	 .max = GIB},
	{.name = "max_upload_bytes", .type = LX_CFG_SIZE, .off = PO(max_upload_bytes), .min = KIB,
	 .max = 16 * TIB},
	{.name = "fetch_ca", .type = LX_CFG_FILE, .off = PO(fetch_ca)},
	{.name = "model_c_above", .type = LX_CFG_SIZE, .off = PO(model_c_above), .max = 16 * TIB},
	{.name = "fetch_connections", .type = LX_CFG_UINT, .off = PO(fetch_connections), .min = 1,
	 .max = 64},
	{.name = "fetch_parallel", .type = LX_CFG_UINT, .off = PO(fetch_parallel), .min = 1,
	 .max = 16},
	{.name = "fetch_range", .type = LX_CFG_SIZE, .off = PO(fetch_range), .min = 64 * KIB,
	 .max = GIB},
	{.name = "fetch_range_max", .type = LX_CFG_SIZE, .off = PO(fetch_range_max), .min = 64 * KIB,
	 .max = GIB},
	{.name = "fetch_retries", .type = LX_CFG_UINT, .off = PO(fetch_retries), .min = 1, .max = 1000},
	{.name = "fetch_backoff", .type = LX_CFG_SECONDS, .off = PO(fetch_backoff_s), .min = 1,
	 .max = 86400},
	{.name = "fetch_backoff_max", .type = LX_CFG_SECONDS, .off = PO(fetch_backoff_max_s),
	 .min = 1, .max = 86400},
};
#define N_PEER_KEYS (sizeof peer_keys / sizeof peer_keys[0])


/* The end of a peer section: what the section itself must hold. */
static int peer_finish(struct lx_config *x, void *user)
{
	struct parse *p = user;
	p->x = x;
	struct lea_peer *pe = cur_peer(p);
	struct lx_tls_peer *tp = cur_tls(p);
	int rc = lx_config_identity_end(x, tp, true);
	if (rc)
		return rc;
	if (!lx_config_cur_key_line(x, "references"))
		return perr(p, lx_config_cur_line(x), "peer '%s': references is mandatory ('any' or a list)",
			    pe->name);
	/* Sorted and unique, for lea_peer_allows (R-RSP-1). */
	if (pe->n_references > 1) {
		qsort(pe->references, pe->n_references, sizeof *pe->references, cmp_str);
		size_t o = 1;
		for (size_t i = 1; i < pe->n_references; i++) {
			if (strcmp(pe->references[i], pe->references[o - 1]) == 0)
				free(pe->references[i]);
			else
				pe->references[o++] = pe->references[i];
		}
		pe->n_references = o;
	}
	return 0;
}

static int grow_peers(struct parse *p)
{
	struct lea_config *c = p->c;
	/* Three parallel arrays: each grows from the same capacity to the same new one, which
	 * is recorded only when all three have it (a failure leaves the old one, still valid). */
	size_t need = c->n_peers + 1, ca = p->peers_cap, cb = p->peers_cap, cx = p->peers_cap;
	int rc = li707_array_grow((void **)&c->peers, &ca, need, sizeof *c->peers,
				  LEA_CONFIG_MAX_PEERS);
	if (!rc)
		rc = li707_array_grow((void **)&c->tls_peers.v, &cb, need, sizeof *c->tls_peers.v,
				      LEA_CONFIG_MAX_PEERS);
	if (!rc)
		rc = li707_array_grow((void **)&p->px, &cx, need, sizeof *p->px, LEA_CONFIG_MAX_PEERS);
	if (rc)
		return rc;
	p->peers_cap = ca;
	return 0;
}

/* The engine checked the name (well-formed, unique) and the number of peers. */
static int peer_begin(struct lx_config *x, void *user, const char *name, struct lx_config_obj *obj)
{
	struct parse *p = user;
	p->x = x;
	struct lea_config *c = p->c;
	if (grow_peers(p))
		return LI707_ENOMEM;
	size_t i = c->n_peers;
	memset(&c->peers[i], 0, sizeof c->peers[i]);
	memset(&c->tls_peers.v[i], 0, sizeof c->tls_peers.v[i]);
	memset(&p->px[i], 0, sizeof p->px[i]);
	c->n_peers++;
	c->tls_peers.n++;
	if (!(c->peers[i].name = strdup(name)) || !(c->tls_peers.v[i].name = strdup(name)))
		return LI707_ENOMEM;
	obj->base = &c->peers[i];
	obj->tls = &c->tls_peers.v[i];
	return 0;
}

static const struct lx_config_section sections[] = {
	{.name = "server", .flags = LX_CFG_REQUIRED, .keys = server_keys, .n_keys = N_SERVER_KEYS,
	 .begin = server_begin},
	{.name = "peer", .named = true, .flags = LX_CFG_REQUIRED, .note = "at least one CSP",
	 .max = LEA_CONFIG_MAX_PEERS, .keys = peer_keys, .n_keys = N_PEER_KEYS, .begin = peer_begin,
	 .end = peer_finish},
};

/* ---- the whole file ---- */

static int check_listeners(struct parse *p)
{
	struct lea_config *c = p->c;
	long server_line = lx_config_section_line(p->x, "server", 0);
	if (c->n_listen + c->n_listen_psk == 0)
		return perr(p, server_line, "[server]: needs at least one listen or listen_psk");
	if (c->n_listen) {
		static const char *const need[] = {"cert", "key", "cacert"};
		const char *have[] = {c->creds.cert, c->creds.key, c->creds.cacert};
		for (int i = 0; i < 3; i++)
			if (!have[i])
				return perr(p, server_line,
					    "[server]: %s is mandatory with a certificate listener (listen)",
					    need[i]);
	}
	bool any_psk = false;
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct lx_tls_peer *tp = &c->tls_peers.v[i];
		any_psk |= tp->psk_identity != NULL;
		if (tp->psk_identity && !c->n_listen_psk)
			return perr(p, lx_config_key_line(p->x, "peer", i, "psk_identity"),
				    "peer '%s': psk_identity needs a PSK listener (listen_psk)", tp->name);
		if ((tp->subject || tp->san || tp->has_spki) && !c->n_listen)
			return perr(p, lx_config_section_line(p->x, "peer", i),
				    "peer '%s': certificate criteria need a certificate listener (listen)",
				    tp->name);
	}
	if (c->n_listen_psk && !any_psk)
		return perr(p, lx_config_key_line(p->x, "server", 0, "listen_psk"),
			    "listen_psk: no peer has a psk_identity");
	return 0;
}

static int check_paths(struct parse *p)
{
	struct lea_config *c = p->c;
	if (!path_within(c->delivery_path, c->binary_path) && !path_within(c->binary_path, c->delivery_path))
		return 0;
	long kd = lx_config_key_line(p->x, "server", 0, "delivery_path");
	long kb = lx_config_key_line(p->x, "server", 0, "binary_path");
	long line = kb > kd ? kb : kd;
	return perr(p, line, "delivery_path and binary_path overlap (one lies below the other)");
}

/* The retrieval settings of peer i: defaults for what is not given, the PSK copied (the
 * allow-list holding it goes to the server). */
static int peer_fetch_defaults(struct parse *p, size_t i)
{
	struct lea_peer *pe = &p->c->peers[i];
	const struct lx_tls_peer *tp = &p->c->tls_peers.v[i];
	if (!lx_config_key_line(p->x, "peer", i, "model_c_above"))
		pe->model_c_above = LEA_MODEL_C_ABOVE_DEFAULT;
	if (!pe->fetch_connections)
		pe->fetch_connections = 4;
	if (!pe->fetch_parallel)
		pe->fetch_parallel = 2;
	if (!pe->fetch_range)
		pe->fetch_range = 8 * MIB;
	if (!pe->fetch_range_max)
		pe->fetch_range_max = pe->fetch_range > 64 * MIB ? pe->fetch_range : 64 * MIB;
	if (pe->fetch_range_max < pe->fetch_range)
		return perr(p, lx_config_key_line(p->x, "peer", i, "fetch_range_max"),
			    "peer '%s': fetch_range_max is smaller than fetch_range", pe->name);
	if (!pe->fetch_retries)
		pe->fetch_retries = 8;
	if (!pe->fetch_backoff_s)
		pe->fetch_backoff_s = 10;
	if (!pe->fetch_backoff_max_s)
		pe->fetch_backoff_max_s = 600;
	if (pe->fetch_backoff_max_s < pe->fetch_backoff_s)
		pe->fetch_backoff_max_s = pe->fetch_backoff_s;
	if (tp->psk_identity && !(pe->psk_identity = strdup(tp->psk_identity)))
		return pnomem(p);
	if (tp->psk && tp->psk_len) {
		if (!(pe->psk = malloc(tp->psk_len)))
			return pnomem(p);
		memcpy(pe->psk, tp->psk, tp->psk_len);
		pe->psk_len = tp->psk_len;
	}
	return 0;
}

static int parse_finish(struct lx_config *x, void *user)
{
	struct parse *p = user;
	p->x = x;
	struct lea_config *c = p->c;
	int rc;
	if ((rc = check_listeners(p)) || (rc = lx_config_check_identities(x, "peer", &c->tls_peers)) ||
	    (rc = check_paths(p)))
		return rc;
	if (c->client_key && !c->client_cert)
		return perr(p, lx_config_key_line(x, "server", 0, "client_key"),
			    "client_key needs client_cert");
	for (size_t i = 0; i < c->n_peers; i++) {
		if ((rc = peer_fetch_defaults(p, i)))
			return rc;
		if (!c->peers[i].max_message_bytes)
			c->peers[i].max_message_bytes = c->max_message_bytes;
		if (!c->peers[i].max_upload_bytes)
			c->peers[i].max_upload_bytes = c->max_upload_bytes;
	}
	return 0;
}

static const struct lx_config_spec spec = {
	.sections = sections,
	.n_sections = sizeof sections / sizeof sections[0],
	.finish = parse_finish,
};

static int config_init(void *cfg, void *user, const char *name)
{
	struct lea_config *c = cfg;
	((struct parse *)user)->c = c;
	c->max_message_bytes = 64 * MIB;
	c->max_upload_bytes = 4 * GIB;
	c->orphan_timeout_s = 86400;
	c->orphan_max_bytes = 1 * GIB;
	c->body_memory_bytes = 256 * MIB;
	c->log_level = LEA_LOG_INFO;
	c->sync_full = true;
	c->fetch_workers = 4;
	if (lx_tls_policy_init(&c->policy))
		return LI707_ENOMEM;
	if (!(c->path = strdup(name)) || !(c->store_dir = strdup("/var/lib/li707-lea")) ||
	    !(c->delivery_path = strdup("/hi1")) || !(c->binary_path = strdup("/binaryData/")))
		return LI707_ENOMEM;
	return 0;
}

static void parse_done(void *user)
{
	free(((struct parse *)user)->px);
}

static void config_free(void *cfg)
{
	lea_config_free(cfg);
}

static const struct lx_config_kind kind = {
	.spec = &spec,
	.size = sizeof(struct lea_config),
	.user_size = sizeof(struct parse),
	.init = config_init,
	.user_done = parse_done,
	.free = config_free,
};

int lea_config_parse(const char *name, const char *buf, size_t len, bool check_files,
		     struct lea_config **out, char *err, size_t errlen)
{
	void *c = NULL;
	int rc = lx_config_new(&kind, name, buf, len, check_files, out ? &c : NULL, err, errlen);
	if (rc == 0)
		*out = c;
	return rc;
}

int lea_config_load(const char *path, struct lea_config **out, char *err, size_t errlen)
{
	void *c = NULL;
	int rc = lx_config_load(&kind, path, out ? &c : NULL, err, errlen);
	if (rc == 0)
		*out = c;
	return rc;
}

#define free_strv lx_config_free_strv

void lea_config_free(struct lea_config *c)
{
	if (!c)
		return;
	free(c->path);
	free_strv(c->listen, c->n_listen);
	free_strv(c->listen_psk, c->n_listen_psk);
	free((char *)c->creds.cert);
	free((char *)c->creds.key);
	free((char *)c->creds.cacert);
	free((char *)c->creds.crl);
	free(c->store_dir);
	free(c->metrics_listen);
	free(c->client_cert);
	free(c->client_key);
	free(c->delivery_path);
	free(c->binary_path);
	free(c->schema_dir);
	free(c->official_schema_dir);
	lx_tls_policy_done(&c->policy);
	for (size_t i = 0; i < c->n_peers; i++) {
		struct lea_peer *pe = &c->peers[i];
		free(pe->name);
		free_strv(pe->references, pe->n_references);
		free(pe->fetch_ca);
		free(pe->psk_identity);
		if (pe->psk)
			li707_wipe(pe->psk, pe->psk_len);
		free(pe->psk);
	}
	free(c->peers);
	lx_tls_peers_clear(&c->tls_peers); /* wipes the keys */
	free(c);
}

const struct lea_peer *lea_config_peer(const struct lea_config *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_peers; i++)
		if (strcmp(c->peers[i].name, name) == 0)
			return &c->peers[i];
	return NULL;
}

bool lea_peer_allows(const struct lea_peer *p, const char *ref)
{
	/* TS103707 R-RSP-1: each reference on its own; exact match, never a prefix. */
	if (!p || !ref)
		return false;
	if (p->any_reference)
		return true;
	if (!p->n_references)
		return false;
	return bsearch(&ref, p->references, p->n_references, sizeof *p->references, cmp_str) != NULL;
}

struct lx_tls_peers *lea_config_take_tls_peers(struct lea_config *c)
{
	if (!c)
		return NULL;
	struct lx_tls_peers *t = malloc(sizeof *t);
	if (!t)
		return NULL;
	*t = c->tls_peers;
	c->tls_peers.v = NULL;
	c->tls_peers.n = 0;
	return t;
}
