/* li707-csp - the configuration file (csp.h): the key tables of [csp] and [lea NAME] for the
 * shared INI engine (src/common/config.c), and what needs a section or the whole file.
 *
 * DESIGN. As lea_config.c: the engine parses the common types; this file adds the CSP's own
 * values (ingest listeners "unix:/path" or loopback ADDR:PORT, attachment directories,
 * models, URL schemes, country codes) and the checks at the end of a section and of the
 * file. Messages name file and line and never quote a value (R-SEC-6). */
#include "csp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "li707/error.h"
#include "li707/util.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)
#define DAY 86400ull

struct parse {
	struct lx_config *x;
	struct csp_config *c;
	size_t leas_cap, ingest_cap, dirs_cap;
};

__attribute__((format(printf, 3, 4))) static int perr(struct parse *p, long line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = lx_config_verror(p->x, line, fmt, ap);
	va_end(ap);
	return rc;
}

static struct csp_lea *cur_lea(struct parse *p)
{
	return &p->c->leas[p->c->n_leas - 1];
}

static int store_str(struct parse *p, char **dst, const char *v)
{
	char *d = strdup(v);
	if (!d)
		return lx_config_nomem(p->x);
	free(*dst);
	*dst = d;
	return 0;
}

/* ---- [csp] ---- */

/* "unix:/abs/path" or a loopback ADDR:PORT (127.0.0.0/8 or [::1]): plain HTTP, local only. */
static bool ingest_addr_ok(const char *v)
{
	if (strncmp(v, "unix:", 5) == 0) {
		const char *path = v + 5;
		return path[0] == '/' && strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path);
	}
	const char *colon = strrchr(v, ':');
	if (!colon || !colon[1] || strlen(colon + 1) > 5)
		return false;
	for (const char *q = colon + 1; *q; q++)
		if (*q < '0' || *q > '9')
			return false;
	if (atoi(colon + 1) > 65535)
		return false;
	size_t hl = (size_t)(colon - v);
	if (hl == 5 && strncmp(v, "[::1]", 5) == 0)
		return true;
	if (hl < 9 || hl > 15 || strncmp(v, "127.", 4) != 0)
		return false;
	int dots = 0;
	for (size_t i = 0; i < hl; i++) {
		if (v[i] == '.')
			dots++;
		else if (v[i] < '0' || v[i] > '9')
			return false;
	}
	return dots == 3;
}

static int csp_custom(struct lx_config *x, const struct lx_config_key *k, void *user, char *v)
{
	struct parse *p = user;
	p->x = x;
	struct csp_config *c = p->c;
	long line = lx_config_line(x);
	if (strcmp(k->name, "country_code") == 0) {
		if (!li707_check_country(v))
			return perr(p, line, "country_code: expected an ISO 3166-1 alpha-2 code (TS 103 707 Table 1)");
		return store_str(p, &c->country_code, v);
	}
	if (strcmp(k->name, "unique_identifier") == 0) {
		if (strlen(v) > 256 || !li707_check_utf8(v, strlen(v)))
			return perr(p, line, "unique_identifier: 1-256 bytes of UTF-8 expected");
		return store_str(p, &c->unique_identifier, v);
	}
	if (strcmp(k->name, "ingest_listen") == 0) {
		if (!ingest_addr_ok(v))
			return perr(p, line, "ingest_listen: expected unix:/absolute/path or a loopback "
					     "ADDR:PORT (127.x.y.z:PORT or [::1]:PORT): plain HTTP "
					     "is never offered beyond this host");
		for (size_t i = 0; i < c->n_ingest_listen; i++)
			if (strcmp(c->ingest_listen[i], v) == 0 && !strstr(v, ":0"))
				return perr(p, line, "ingest_listen: the same listener twice");
		int rc = lx_config_push_str(&c->ingest_listen, &c->n_ingest_listen, &p->ingest_cap, v,
					    CSP_CONFIG_MAX_INGEST);
		if (rc == LI707_ELIMIT)
			return perr(p, line, "ingest_listen: at most %d", CSP_CONFIG_MAX_INGEST);
		return rc ? lx_config_nomem(x) : 0;
	}
	if (strcmp(k->name, "attachment_dirs") == 0) {
		size_t idx = 0;
		for (char *e; (e = lx_config_next_entry(&v)) != NULL;) {
			idx++;
			if (e[0] != '/' || strstr(e, "/../") || strstr(e, "/./") ||
			    (strlen(e) >= 3 && strcmp(e + strlen(e) - 3, "/..") == 0))
				return perr(p, line, "attachment_dirs: entry %zu: an absolute directory "
						     "without '.' or '..' components expected", idx);
			int rc = lx_config_push_str(&c->attachment_dirs, &c->n_attachment_dirs,
						    &p->dirs_cap, e, CSP_CONFIG_MAX_DIRS);
			if (rc == LI707_ELIMIT)
				return perr(p, line, "attachment_dirs: at most %d", CSP_CONFIG_MAX_DIRS);
			if (rc)
				return lx_config_nomem(x);
		}
		return 0;
	}
	if (strcmp(k->name, "files_url") == 0) {
		size_t n = strlen(v);
		if (!li707_check_https_url(v) || v[n - 1] != '/' || strchr(v, '?'))
			return perr(p, line, "files_url: expected an https URL ending in '/' (object URLs "
					     "are files_url + token)");
		return store_str(p, &c->files_url, v);
	}
	if (strcmp(k->name, "sync") == 0) {
		if (strcmp(v, "full") && strcmp(v, "normal"))
			return perr(p, line, "sync: expected full or normal");
		c->sync_full = strcmp(v, "full") == 0;
		return 0;
	}
	return perr(p, line, "%s: unexpected", k->name);
}

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

#define CO(f) offsetof(struct csp_config, f)
static const struct lx_config_key csp_keys[] = {
	{.name = "country_code", .type = LX_CFG_CUSTOM, .fn = csp_custom},
	{.name = "unique_identifier", .type = LX_CFG_CUSTOM, .fn = csp_custom},
	{.name = "spool", .type = LX_CFG_PATH, .off = CO(spool)},
	{.name = "ingest_listen", .type = LX_CFG_CUSTOM, .flags = LX_CFG_MULTI, .fn = csp_custom},
	{.name = "attachment_dirs", .type = LX_CFG_CUSTOM, .flags = LX_CFG_MULTI, .fn = csp_custom},
	{.name = "max_event_bytes", .type = LX_CFG_SIZE, .off = CO(max_event_bytes), .min = KIB,
	 .max = 64 * MIB},
	{.name = "max_attachment_bytes", .type = LX_CFG_SIZE, .off = CO(max_attachment_bytes),
	 .min = 1, .max = 16 * TIB},
	{.name = "max_request_bytes", .type = LX_CFG_SIZE, .off = CO(max_request_bytes), .min = KIB,
	 .max = GIB},
	{.name = "files_listen", .type = LX_CFG_LISTEN, .off = CO(files_listen),
	 .off_n = CO(n_files_listen), .max = 16},
	{.name = "files_listen_psk", .type = LX_CFG_LISTEN, .off = CO(files_listen_psk),
	 .off_n = CO(n_files_listen_psk), .max = 16},
	{.name = "files_url", .type = LX_CFG_CUSTOM, .fn = csp_custom},
	{.name = "cert", .type = LX_CFG_FILE, .off = CO(creds.cert)},
	{.name = "key", .type = LX_CFG_FILE, .off = CO(creds.key)},
	{.name = "ca", .type = LX_CFG_FILE, .off = CO(creds.cacert)},
	{.name = "crl", .type = LX_CFG_FILE, .off = CO(creds.crl)},
	{.name = "tls_min", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "tls13", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "tls12_suites", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "tls12_psk_suites", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "tls_groups", .type = LX_CFG_TLS, .off = CO(policy)},
	{.name = "object_lifetime", .type = LX_CFG_SECONDS, .off = CO(object_lifetime_s), .min = 60,
	 .max = 3660 * DAY},
	{.name = "retention", .type = LX_CFG_SECONDS, .off = CO(retention_s), .max = 3660 * DAY},
	{.name = "metrics_listen", .type = LX_CFG_ADDR, .off = CO(metrics_listen)},
	{.name = "log_level", .type = LX_CFG_ENUM, .off = CO(log_level), .names = log_levels},
	{.name = "sync", .type = LX_CFG_CUSTOM, .fn = csp_custom},
};

static int csp_begin(struct lx_config *x, void *user, const char *name, struct lx_config_obj *obj)
{
	(void)name;
	struct parse *p = user;
	p->x = x;
	obj->base = p->c;
	return 0;
}

/* ---- [lea NAME] ---- */

static int lea_custom(struct lx_config *x, const struct lx_config_key *k, void *user, char *v)
{
	struct parse *p = user;
	p->x = x;
	struct csp_lea *l = cur_lea(p);
	long line = lx_config_line(x);
	if (strcmp(k->name, "url") == 0) {
		if (!li707_check_https_url(v))
			return perr(p, line, "lea '%s': url: expected an https URL (R-TRN-2)", l->name);
		return store_str(p, &l->url, v);
	}
	if (strcmp(k->name, "modelb_url") == 0) {
		const char *id = strstr(v, "{id}");
		size_t n = strlen(v);
		bool ok = li707_check_https_url(v) || (id && n < 1024 && strncmp(v, "https://", 8) == 0);
		if (!ok || (id && strstr(id + 4, "{id}")) || (!id && v[n - 1] != '/'))
			return perr(p, line, "lea '%s': modelb_url: expected an https URL with one {id} "
					     "or ending in '/' (R-BIN-B1)", l->name);
		return store_str(p, &l->modelb_url, v);
	}
	if (strcmp(k->name, "receiver_country") == 0) {
		if (!li707_check_country(v))
			return perr(p, line, "lea '%s': receiver_country: expected an ISO 3166-1 "
					     "alpha-2 code (R-DEL-3)", l->name);
		return store_str(p, &l->receiver_country, v);
	}
	if (strcmp(k->name, "receiver_id") == 0) {
		if (strlen(v) > 256 || !li707_check_utf8(v, strlen(v)))
			return perr(p, line, "lea '%s': receiver_id: 1-256 bytes of UTF-8 expected",
				    l->name);
		return store_str(p, &l->receiver_id, v);
	}
	if (strcmp(k->name, "etsi_version") == 0) {
		if (!li707_check_etsi_version(v))
			return perr(p, line, "lea '%s': etsi_version: expected V<n>.<n>.<n>", l->name);
		return store_str(p, &l->etsi_version, v);
	}
	if (strcmp(k->name, "models") == 0) {
		size_t idx = 0;
		l->models = 0;
		for (char *e; (e = lx_config_next_entry(&v)) != NULL;) {
			idx++;
			if (strcasecmp(e, "A") == 0)
				l->models |= CSP_MODEL_A;
			else if (strcasecmp(e, "B") == 0)
				l->models |= CSP_MODEL_B;
			else if (strcasecmp(e, "C") == 0)
				l->models |= CSP_MODEL_C;
			else
				return perr(p, line, "lea '%s': models: entry %zu is not A, B or C",
					    l->name, idx);
		}
		return 0;
	}
	return perr(p, line, "%s: unexpected", k->name);
}

#define LO(f) offsetof(struct csp_lea, f)
static const struct lx_config_key lea_keys[] = {
	{.name = "url", .type = LX_CFG_CUSTOM, .fn = lea_custom},
	{.name = "ca", .type = LX_CFG_FILE, .off = LO(ca)},
	{.name = "client_cert", .type = LX_CFG_FILE, .off = LO(client_cert)},
	{.name = "client_key", .type = LX_CFG_FILE, .off = LO(client_key)},
	{.name = "subject", .type = LX_CFG_SUBJECT},
	{.name = "san", .type = LX_CFG_SAN},
	{.name = "spki_sha256", .type = LX_CFG_SPKI},
	{.name = "psk_identity", .type = LX_CFG_PSK_ID},
	{.name = "psk_file", .type = LX_CFG_PSK_FILE},
	{.name = "receiver_country", .type = LX_CFG_CUSTOM, .fn = lea_custom},
	{.name = "receiver_id", .type = LX_CFG_CUSTOM, .fn = lea_custom},
	{.name = "etsi_version", .type = LX_CFG_CUSTOM, .fn = lea_custom},
	{.name = "models", .type = LX_CFG_CUSTOM, .fn = lea_custom},
	{.name = "modelb_url", .type = LX_CFG_CUSTOM, .fn = lea_custom},
	{.name = "batch_items", .type = LX_CFG_SECONDS, .off = LO(batch_items), .min = 1, .max = 100000},
	{.name = "batch_bytes", .type = LX_CFG_SIZE, .off = LO(batch_bytes), .min = KIB, .max = GIB},
	{.name = "batch_wait", .type = LX_CFG_SECONDS, .off = LO(batch_wait_ms), .max = 60000},
	{.name = "inflight", .type = LX_CFG_SECONDS, .off = LO(inflight), .min = 1, .max = 256},
	{.name = "connections", .type = LX_CFG_SECONDS, .off = LO(connections), .min = 1, .max = 64},
	{.name = "retry_min", .type = LX_CFG_SECONDS, .off = LO(retry_min_s), .min = 1, .max = 3600},
	{.name = "retry_max", .type = LX_CFG_SECONDS, .off = LO(retry_max_s), .min = 1, .max = 86400},
	{.name = "expect_timeout", .type = LX_CFG_SECONDS, .off = LO(expect_timeout_s), .min = 1,
	 .max = 3600},
	{.name = "model_a_max", .type = LX_CFG_SIZE, .off = LO(model_a_max), .max = 16 * TIB},
	{.name = "model_c_above", .type = LX_CFG_SIZE, .off = LO(model_c_above), .max = 16 * TIB},
	{.name = "push_rate", .type = LX_CFG_SIZE, .off = LO(push_rate), .max = 100 * GIB},
	{.name = "push_nice", .type = LX_CFG_UINT, .off = LO(push_nice), .max = 19},
};

static int grow_leas(struct parse *p)
{
	struct csp_config *c = p->c;
	size_t need = c->n_leas + 1, ca = p->leas_cap, cb = p->leas_cap;
	int rc = li707_array_grow((void **)&c->leas, &ca, need, sizeof *c->leas, CSP_CONFIG_MAX_LEAS);
	if (!rc)
		rc = li707_array_grow((void **)&c->tls_peers.v, &cb, need, sizeof *c->tls_peers.v,
				      CSP_CONFIG_MAX_LEAS);
	if (!rc)
		p->leas_cap = ca;
	return rc;
}

static int lea_begin(struct lx_config *x, void *user, const char *name, struct lx_config_obj *obj)
{
	struct parse *p = user;
	p->x = x;
	struct csp_config *c = p->c;
	if (grow_leas(p))
		return LI707_ENOMEM;
	size_t i = c->n_leas;
	struct csp_lea *l = &c->leas[i];
	memset(l, 0, sizeof *l);
	memset(&c->tls_peers.v[i], 0, sizeof c->tls_peers.v[i]);
	c->n_leas++;
	c->tls_peers.n++;
	if (!(l->name = strdup(name)) || !(c->tls_peers.v[i].name = strdup(name)) ||
	    !(l->etsi_version = strdup("V1.9.1")))
		return LI707_ENOMEM;
	l->batch_items = 1000;
	l->batch_bytes = 8 * MIB;
	l->inflight = 4;
	l->connections = 2;
	l->retry_min_s = 1;
	l->retry_max_s = 300;
	l->expect_timeout_s = 30;
	l->model_a_max = 16 * MIB;
	l->model_c_above = 16 * MIB;
	obj->base = l;
	obj->tls = &c->tls_peers.v[i];
	return 0;
}

static int lea_end(struct lx_config *x, void *user)
{
	struct parse *p = user;
	p->x = x;
	struct csp_lea *l = cur_lea(p);
	long hdr = lx_config_cur_line(x);
	int rc = lx_config_identity_end(x, &p->c->tls_peers.v[p->c->n_leas - 1], false);
	if (rc)
		return rc;
	static const char *const need[] = {"url", "receiver_country", "receiver_id", "models"};
	const bool have[] = {l->url != NULL, l->receiver_country != NULL, l->receiver_id != NULL,
			     l->models != 0};
	for (int i = 0; i < 4; i++)
		if (!have[i])
			return perr(p, hdr, "lea '%s': %s is mandatory", l->name, need[i]);
	if ((l->client_cert != NULL) != (l->client_key != NULL))
		return perr(p, hdr, "lea '%s': client_cert and client_key go together", l->name);
	if ((l->models & CSP_MODEL_B) && !l->modelb_url)
		return perr(p, hdr, "lea '%s': models has B: modelb_url is mandatory (R-BIN-B1)",
			    l->name);
	if (l->retry_min_s > l->retry_max_s)
		return perr(p, hdr, "lea '%s': retry_min is above retry_max", l->name);
	return 0;
}

static const struct lx_config_section sections[] = {
	{.name = "csp", .flags = LX_CFG_REQUIRED, .keys = csp_keys,
	 .n_keys = sizeof csp_keys / sizeof csp_keys[0], .begin = csp_begin},
	{.name = "lea", .named = true, .flags = LX_CFG_REQUIRED, .note = "at least one LEA",
	 .max = CSP_CONFIG_MAX_LEAS, .keys = lea_keys, .n_keys = sizeof lea_keys / sizeof lea_keys[0],
	 .begin = lea_begin, .end = lea_end},
};

static int parse_finish(struct lx_config *x, void *user)
{
	struct parse *p = user;
	p->x = x;
	struct csp_config *c = p->c;
	long csp_line = lx_config_section_line(x, "csp", 0);
	if (!c->country_code)
		return perr(p, csp_line, "[csp]: country_code is mandatory");
	if (!c->unique_identifier)
		return perr(p, csp_line, "[csp]: unique_identifier is mandatory");
	bool hosted = false, any_psk = false, any_cert = false;
	for (size_t i = 0; i < c->n_leas; i++) {
		hosted |= (c->leas[i].models & (CSP_MODEL_A | CSP_MODEL_C)) != 0;
		const struct lx_tls_peer *tp = &c->tls_peers.v[i];
		any_psk |= tp->psk_identity != NULL;
		any_cert |= tp->subject || tp->san || tp->has_spki;
		if ((c->leas[i].models & (CSP_MODEL_A | CSP_MODEL_C)) && !tp->psk_identity &&
		    !tp->subject && !tp->san && !tp->has_spki)
			return perr(p, lx_config_section_line(x, "lea", i),
				    "lea '%s': models A or C: the LEA's identity when it fetches "
				    "(subject, san, spki_sha256 or psk_identity) is mandatory (R-BIN-A2)",
				    c->leas[i].name);
	}
	if (hosted && !c->files_url)
		return perr(p, csp_line, "[csp]: files_url is mandatory when an LEA has model A or C");
	if (c->n_files_listen && (!c->creds.cert || !c->creds.key || !c->creds.cacert))
		return perr(p, lx_config_key_line(x, "csp", 0, "files_listen"),
			    "files_listen: cert, key and ca are mandatory");
	(void)any_psk;
	(void)any_cert;
	if (c->n_attachment_dirs == 0)
		return perr(p, csp_line, "[csp]: attachment_dirs is mandatory (where event "
					 "attachment paths may point)");
	return lx_config_check_identities(x, "lea", &c->tls_peers);
}

static const struct lx_config_spec spec = {
	.sections = sections,
	.n_sections = sizeof sections / sizeof sections[0],
	.finish = parse_finish,
};

static int config_init(void *cfg, void *user, const char *name)
{
	struct csp_config *c = cfg;
	((struct parse *)user)->c = c;
	c->max_event_bytes = 1 * MIB;
	c->max_attachment_bytes = 4 * GIB;
	c->max_request_bytes = 64 * MIB;
	c->object_lifetime_s = 7 * DAY;
	c->retention_s = 1 * DAY;
	c->log_level = LX_LOG_INFO;
	c->sync_full = true;
	if (lx_tls_policy_init(&c->policy) || !(c->path = strdup(name)) ||
	    !(c->spool = strdup("/var/lib/li707-csp")))
		return LI707_ENOMEM;
	return 0;
}

static void config_free(void *cfg)
{
	csp_config_free(cfg);
}

static const struct lx_config_kind kind = {
	.spec = &spec,
	.size = sizeof(struct csp_config),
	.user_size = sizeof(struct parse),
	.init = config_init,
	.free = config_free,
};

int csp_config_parse(const char *name, const char *buf, size_t len, bool check_files,
		     struct csp_config **out, char *err, size_t errlen)
{
	void *c = NULL;
	int rc = lx_config_new(&kind, name, buf, len, check_files, out ? &c : NULL, err, errlen);
	if (!rc)
		*out = c;
	return rc;
}

int csp_config_load(const char *path, struct csp_config **out, char *err, size_t errlen)
{
	void *c = NULL;
	int rc = lx_config_load(&kind, path, out ? &c : NULL, err, errlen);
	if (!rc)
		*out = c;
	return rc;
}

void csp_config_free(struct csp_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->country_code);
	free(c->unique_identifier);
	free(c->spool);
	lx_config_free_strv(c->ingest_listen, c->n_ingest_listen);
	lx_config_free_strv(c->attachment_dirs, c->n_attachment_dirs);
	lx_config_free_strv(c->files_listen, c->n_files_listen);
	lx_config_free_strv(c->files_listen_psk, c->n_files_listen_psk);
	free(c->files_url);
	free((char *)c->creds.cert);
	free((char *)c->creds.key);
	free((char *)c->creds.cacert);
	free((char *)c->creds.crl);
	lx_tls_policy_done(&c->policy);
	free(c->metrics_listen);
	for (size_t i = 0; i < c->n_leas; i++) {
		struct csp_lea *l = &c->leas[i];
		free(l->name);
		free(l->url);
		free(l->ca);
		free(l->client_cert);
		free(l->client_key);
		free(l->receiver_country);
		free(l->receiver_id);
		free(l->etsi_version);
		free(l->modelb_url);
	}
	free(c->leas);
	lx_tls_peers_clear(&c->tls_peers);
	free(c);
}

const struct csp_lea *csp_config_lea(const struct csp_config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_leas; i++)
		if (strcmp(c->leas[i].name, name) == 0)
			return &c->leas[i];
	return NULL;
}

char csp_lea_default_model(const struct csp_lea *l, uint64_t size)
{
	unsigned m = l->models;
	if ((m & CSP_MODEL_A) && size <= l->model_a_max)
		return 'A';
	if ((m & CSP_MODEL_C) && size > l->model_c_above)
		return 'C';
	if (m & CSP_MODEL_B)
		return 'B';
	if (m & CSP_MODEL_C)
		return 'C';
	if (m & CSP_MODEL_A)
		return 'A';
	return 0;
}
