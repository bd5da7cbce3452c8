/* li707 tool - the HTTPS client options shared by send, fetch and post-binary: curl-like TLS
 * options mapped to struct lx_http_client_opts (src/common/http_client.h). */
#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "tls.h"
#include "tool.h"

const char tool_client_help[] =
	"TLS and connection options (TS 103 707 clause 7):\n"
	"  --cert FILE            client certificate (PEM) for mutual authentication\n"
	"  --key FILE             its private key (PEM; default: in the --cert file)\n"
	"  --cacert FILE          CA certificates (PEM) that sign the server (default: system)\n"
	"  --crl FILE             certificate revocation list (PEM) checked for the server\n"
	"  --psk-identity ID      pre-shared-key identity (RFC 4279), with --psk-file\n"
	"  --psk-file FILE        the key: hex or raw, 1..512 bytes (32+ advised), mode 0600\n"
	"  --tls-min 1.2|1.3      lowest TLS version offered [1.2]\n"
	"  --connect-timeout S    seconds to establish the connection [10]\n"
	"  --timeout S            seconds for the whole transfer [none]\n";

void tool_client_init(struct tool_client *tc)
{
	memset(tc, 0, sizeof *tc);
	tc->tls_min = 12;
}

bool tool_parse_seconds(const char *s, long *ms)
{
	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return false;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > 86400)
		return false;
	long r = (long)(v * 1000.0 + 0.5);
	*ms = r > 0 ? r : 1;
	return true;
}

int tool_client_option(struct tool_client *tc, const char *cmd, int c, const char *arg)
{
	switch (c) {
	case TOOL_OPT_CERT: tc->cert = arg; return 0;
	case TOOL_OPT_KEY: tc->key = arg; return 0;
	case TOOL_OPT_CACERT: tc->cacert = arg; return 0;
	case TOOL_OPT_CRL: tc->crl = arg; return 0;
	case TOOL_OPT_PSK_ID: tc->psk_identity = arg; return 0;
	case TOOL_OPT_PSK_FILE: tc->psk_file = arg; return 0;
	case TOOL_OPT_TLS_MIN:
		if (strcmp(arg, "1.2") == 0)
			tc->tls_min = 12;
		else if (strcmp(arg, "1.3") == 0)
			tc->tls_min = 13;
		else
			return tool_usage_error(cmd, "--tls-min must be 1.2 or 1.3");
		return 0;
	case TOOL_OPT_CONNECT_TIMEOUT:
		if (!tool_parse_seconds(arg, &tc->connect_timeout_ms))
			return tool_usage_error(cmd, "--connect-timeout wants seconds in (0, 86400]");
		return 0;
	case TOOL_OPT_TIMEOUT:
		if (!tool_parse_seconds(arg, &tc->timeout_ms))
			return tool_usage_error(cmd, "--timeout wants seconds in (0, 86400]");
		return 0;
	default:
		return -1;
	}
}

int tool_client_open(const struct tool_client *tc, const char *cmd, long max_host_connections,
		     struct lx_http_client **out)
{
	if (!tc->psk_identity != !tc->psk_file)
		return tool_usage_error(cmd, "--psk-identity and --psk-file go together");
	if (tc->psk_file && tc->cert)
		return tool_usage_error(cmd, "--psk-file and --cert are exclusive");
	if (tc->key && !tc->cert)
		return tool_usage_error(cmd, "--key needs --cert");
	char err[256] = "";
	struct lx_tls_policy pol;
	int rc = lx_tls_policy_init(&pol);
	if (rc) {
		fprintf(stderr, "li707 %s: %s\n", cmd, li707_strerror(rc));
		return li707_exit_code(rc);
	}
	if (tc->tls_min == 13)
		rc = lx_tls_policy_set(&pol, "tls_min", "1.3", err, sizeof err);
	uint8_t *psk = NULL;
	size_t psk_len = 0;
	if (!rc && tc->psk_file)
		rc = lx_tls_psk_load(tc->psk_file, &psk, &psk_len, err, sizeof err);
	if (rc) {
		fprintf(stderr, "li707 %s: %s\n", cmd, err[0] ? err : li707_strerror(rc));
		lx_tls_policy_done(&pol);
		return li707_exit_code(rc);
	}
	struct lx_http_client_opts o = {
		.tls = &pol,
		.cert_file = tc->cert,
		.key_file = tc->key,
		.ca_file = tc->cacert,
		.crl_file = tc->crl,
		.psk_identity = tc->psk_identity,
		.psk = psk,
		.psk_len = psk_len,
		.connect_timeout_ms = tc->connect_timeout_ms,
		.timeout_ms = tc->timeout_ms,
		.max_host_connections = max_host_connections,
	};
	rc = lx_http_client_new(&o, out, err, sizeof err);
	if (psk) {
		OPENSSL_cleanse(psk, psk_len);
		free(psk);
	}
	lx_tls_policy_done(&pol);
	if (rc) {
		fprintf(stderr, "li707 %s: %s\n", cmd, err[0] ? err : li707_strerror(rc));
		/* A bad option value is a usage error; anything else keeps its own status. */
		return rc == LI707_EINVAL ? TOOL_EXIT_USAGE : li707_exit_code(rc);
	}
	return 0;
}

int tool_client_failure(const char *cmd, const struct lx_http_result *r)
{
	fprintf(stderr, "li707 %s: transport failure (%s): %s%s%s\n", cmd, lx_http_errname(r->err),
		lx_http_strerror(r->err), r->detail[0] ? ": " : "", r->detail);
	switch (r->err) {
	case LX_HTTP_EURL: return TOOL_EXIT_USAGE;
	case LX_HTTP_EINTERNAL: return 5;
	default: return 3;
	}
}
