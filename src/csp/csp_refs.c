/* li707-csp - references (task data, not configuration) and the Annex D.4 check:
 *
 *   ref add REF --lea NAME [--until TIME] [--review] [--ld|--li]
 *               [--field F --salt S --hash H]
 *   ref list [--json]
 *   ref close REF
 *   audit verify REF|--key N --field F --salt S
 *
 * R-RSP-2: events are accepted only for an open reference before its --until. R-SEC-7: the
 * LEA's triple (field, salt, hash; Annex D.4, include/li707/hash.h) is verified at add and a
 * mismatch refused; close deletes field and salt and keeps the hash, so that `audit verify`
 * can check a pair the LEA supplies again later. The reference itself is printed only by
 * `ref list` (the operator's console), never logged. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csp_cli.h"
#include "csp_run_deliver.h"
#include "li707/error.h"
#include "li707/hash.h"
#include "li707/util.h"

static int usage(struct csp_cmd_ctx *x)
{
	fprintf(x->out,
		"Usage: li707-csp ref add REF --lea NAME [--until TIME] [--review] [--li|--ld]\n"
		"                     [--field F --salt S --hash H] [--config FILE]\n"
		"       li707-csp ref list [--json] [--config FILE]\n"
		"       li707-csp ref close REF [--config FILE]\n"
		"       li707-csp audit verify REF|--key N --field F --salt S [--config FILE]\n"
		"       li707-csp audit check [--json] [FILE] [--config FILE]\n"
		"\n"
		"REF is a LIID or an LDID (TS 103 280); its kind is taken from its form (an LDID\n"
		"looks like CC-x-y) unless --li or --ld says. TIME: RFC 3339 (2026-12-31T23:59:59Z).\n"
		"--field/--salt/--hash: the LEA's Annex D.4 triple (salt and hash in hex), verified\n"
		"at add (R-SEC-7); close keeps only the hash.\n");
	return 0;
}

static bool hex_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (!n || n % 2 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (li707_hex_value((unsigned char)s[i]) < 0)
			return false;
	return true;
}

/* R-SEC-7: hash(salt, field) == hash. 0, or 1 with the message on err. */
static int check_triple(struct csp_cmd_ctx *x, const char *cmd, const char *field,
			const char *salt, const char *hash)
{
	if (!hex_ok(salt, 2 * LI707_SALT_MAX_LEN) || !hex_ok(hash, 2 * LI707_HASH_LEN) ||
	    strlen(hash) != 2 * LI707_HASH_LEN) {
		fprintf(x->err, "li707-csp %s: --salt and --hash must be hex (hash: %d bytes)\n", cmd,
			LI707_HASH_LEN);
		return 2;
	}
	int rc = li707_hash_verify_parts(salt, hash, (const uint8_t *)field, strlen(field));
	if (rc == LI707_EMISMATCH) {
		fprintf(x->err, "li707-csp %s: the hash does not match field and salt (Annex D.4, "
				"R-SEC-7)\n", cmd);
		return 1;
	}
	if (rc) {
		fprintf(x->err, "li707-csp %s: %s\n", cmd, li707_strerror(rc));
		return li707_exit_code(rc);
	}
	return 0;
}

static int ref_add(struct csp_cmd_ctx *x, int argc, char **argv)
{
	enum { O_LEA = 256, O_UNTIL, O_REVIEW, O_FIELD, O_SALT, O_HASH, O_LI, O_LD };
	static const struct option lo[] = {
		{"lea", required_argument, NULL, O_LEA},     {"until", required_argument, NULL, O_UNTIL},
		{"review", no_argument, NULL, O_REVIEW},     {"field", required_argument, NULL, O_FIELD},
		{"salt", required_argument, NULL, O_SALT},   {"hash", required_argument, NULL, O_HASH},
		{"li", no_argument, NULL, O_LI},             {"ld", no_argument, NULL, O_LD},
		{"config", required_argument, NULL, 'c'},    {NULL, 0, NULL, 0}};
	struct csp_ref r = {0};
	int kind = 0, o;
	const char *until = NULL;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		switch (o) {
		case O_LEA: r.lea = optarg; break;
		case O_UNTIL: until = optarg; break;
		case O_REVIEW: r.review = true; break;
		case O_FIELD: r.field = optarg; break;
		case O_SALT: r.salt = optarg; break;
		case O_HASH: r.hash = optarg; break;
		case O_LI: kind = 'I'; break;
		case O_LD: kind = 'D'; break;
		case 'c': break;
		default: return csp_cli_usage_error(x->err, "ref", "unknown option or missing argument");
		}
	}
	if (optind + 1 != argc)
		return csp_cli_usage_error(x->err, "ref", "ref add takes one REF");
	r.ref = argv[optind];
	if (!r.lea)
		return csp_cli_usage_error(x->err, "ref", "--lea NAME is mandatory");
	if (!csp_config_lea(x->cfg, r.lea)) {
		fprintf(x->err, "li707-csp ref: no [lea %s] in the configuration\n", r.lea);
		return 1;
	}
	bool ld = li707_check_ldid(r.ref), li = li707_check_liid(r.ref);
	if (kind == 'D' ? !ld : kind == 'I' ? !li : !ld && !li) {
		fprintf(x->err, "li707-csp ref: REF is not a %s (TS 103 280)\n",
			kind == 'D' ? "LDID" : kind == 'I' ? "LIID" : "LIID or LDID");
		return 1;
	}
	r.kind = kind == 'D' || (!kind && ld) ? LI707_REF_LDID : LI707_REF_LIID;
	if (until) {
		struct li707_time t;
		if (!li707_parse_rfc3339(until, &t))
			return csp_cli_usage_error(x->err, "ref", "--until: RFC 3339 date-time expected");
		r.until = t.epoch;
	}
	int n3 = (r.field != NULL) + (r.salt != NULL) + (r.hash != NULL);
	if (n3 && n3 != 3)
		return csp_cli_usage_error(x->err, "ref", "--field, --salt and --hash go together");
	if (n3) {
		int rc = check_triple(x, "ref", r.field, r.salt, r.hash);
		if (rc)
			return rc;
	}
	int64_t id = 0;
	int rc = csp_store_ref_add(x->store, &r, x->now, &id);
	if (rc == -EEXIST) {
		fprintf(x->err, "li707-csp ref: the reference is already open\n");
		return 1;
	}
	if (rc) {
		fprintf(x->err, "li707-csp ref: %s\n", li707_strerror(rc));
		return li707_exit_code(rc);
	}
	if (x->notify)
		x->notify(x->hook_ud, x, CSP_CMD_REF_ADD, id); /* csp-wire-deliver: audit */
	struct csp_ref got;
	if (csp_store_ref_get(x->store, id, &got) == 0) {
		fprintf(x->out, "reference added: key %lld, %s, lea %s, DeliveryID %s%s\n",
			(long long)id, got.kind == LI707_REF_LDID ? "LD" : "LI", got.lea,
			got.delivery_id, got.review ? ", review" : "");
		csp_ref_clear(&got);
	}
	return 0;
}

static int list_text(void *ud, const struct csp_ref *r)
{
	FILE *f = ud;
	char until[40] = "-";
	if (r->until) {
		struct li707_time t = {.epoch = r->until};
		char q[33];
		if (li707_time_format(&t, false, q) == 0)
			snprintf(until, sizeof until, "%s", q);
	}
	fprintf(f, "%-6lld %-2s %-6s %-16s %-20s %-6s next_seq=%-6lld %s %s\n", (long long)r->id,
		r->kind == LI707_REF_LDID ? "LD" : "LI", r->open ? "open" : "closed", r->lea, until,
		r->review ? "review" : "-", (long long)r->next_seq, r->delivery_id,
		r->ref ? r->ref : "-");
	return 0;
}

static int list_json(void *ud, const struct csp_ref *r)
{
	json_t *a = ud;
	json_array_append_new(a, json_pack("{s:I, s:s, s:s?, s:s, s:s, s:I, s:b, s:s, s:I, s:s?, s:b}",
					   "key", (json_int_t)r->id, "kind",
					   r->kind == LI707_REF_LDID ? "LD" : "LI", "ref", r->ref,
					   "lea", r->lea, "state", r->open ? "open" : "closed",
					   "until", (json_int_t)r->until, "review", r->review,
					   "delivery_id", r->delivery_id, "next_seq",
					   (json_int_t)r->next_seq, "hash", r->hash, "has_salt",
					   r->salt != NULL));
	return 0;
}

static int ref_list(struct csp_cmd_ctx *x, int argc, char **argv)
{
	bool json = false;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c"))
			i++;
		else if (strncmp(argv[i], "--config=", 9))
			return csp_cli_usage_error(x->err, "ref", "ref list takes --json only");
	}
	int rc;
	if (json) {
		json_t *a = json_array();
		rc = csp_store_ref_list(x->store, list_json, a);
		char *s = rc ? NULL : json_dumps(a, JSON_INDENT(2));
		if (s)
			fprintf(x->out, "%s\n", s);
		free(s);
		json_decref(a);
	} else {
		fprintf(x->out, "%-6s %-2s %-6s %-16s %-20s %-6s %-15s %-36s %s\n", "KEY", "K", "STATE",
			"LEA", "UNTIL", "REVIEW", "SEQ", "DELIVERYID", "REF");
		rc = csp_store_ref_list(x->store, list_text, x->out);
	}
	if (rc) {
		fprintf(x->err, "li707-csp ref: %s\n", li707_strerror(rc));
		return li707_exit_code(rc);
	}
	return 0;
}

static int ref_close(struct csp_cmd_ctx *x, int argc, char **argv)
{
	const char *ref = NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c"))
			i++;
		else if (!strncmp(argv[i], "--config=", 9))
			continue;
		else if (ref)
			return csp_cli_usage_error(x->err, "ref", "ref close takes one REF");
		else
			ref = argv[i];
	}
	if (!ref)
		return csp_cli_usage_error(x->err, "ref", "ref close takes one REF");
	int64_t id = 0;
	/* csp-wire-deliver: what is queued is packaged, the last with LastSequence */
	int rc = csp_rd_ref_close(x->store, x->cfg, ref, x->now, &id);
	if (rc == LI707_ENOTFOUND) {
		fprintf(x->err, "li707-csp ref: no open reference of that name\n");
		return 1;
	}
	if (rc) {
		fprintf(x->err, "li707-csp ref: %s\n", li707_strerror(rc));
		return li707_exit_code(rc);
	}
	if (x->notify)
		x->notify(x->hook_ud, x, CSP_CMD_REF_CLOSE, id); /* csp-wire-deliver: audit */
	fprintf(x->out, "reference closed: key %lld (field and salt deleted, hash kept)\n",
		(long long)id);
	return 0;
}

int csp_cmd_ref(struct csp_cmd_ctx *x, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? csp_cli_usage_error(x->err, "ref", "add, list or close expected")
				: usage(x);
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(x);
	if (!strcmp(argv[1], "add"))
		return ref_add(x, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return ref_list(x, argc, argv);
	if (!strcmp(argv[1], "close"))
		return ref_close(x, argc, argv);
	return csp_cli_usage_error(x->err, "ref", "add, list or close expected");
}

int csp_cmd_audit(struct csp_cmd_ctx *x, int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage(x);
	if (argc < 2 || strcmp(argv[1], "verify"))
		return csp_cli_usage_error(x->err, "audit", "verify or check expected");
	enum { O_FIELD = 256, O_SALT, O_KEY };
	static const struct option lo[] = {{"field", required_argument, NULL, O_FIELD},
					   {"salt", required_argument, NULL, O_SALT},
					   {"key", required_argument, NULL, O_KEY},
					   {"config", required_argument, NULL, 'c'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	const char *field = NULL, *salt = NULL, *key = NULL;
	int o;
	opterr = 0;
	optind = 1;
	argc--;
	argv++;
	while ((o = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (o) {
		case O_FIELD: field = optarg; break;
		case O_SALT: salt = optarg; break;
		case O_KEY: key = optarg; break;
		case 'c': break;
		case 'h': return usage(x);
		default: return csp_cli_usage_error(x->err, "audit", "unknown option or missing argument");
		}
	}
	const char *ref = optind < argc ? argv[optind] : NULL;
	if ((ref != NULL) == (key != NULL) || optind + (ref ? 1 : 0) != argc)
		return csp_cli_usage_error(x->err, "audit", "one REF or --key N");
	if (!field || !salt)
		return csp_cli_usage_error(x->err, "audit", "--field and --salt are mandatory");
	struct csp_ref r;
	int rc;
	uint64_t k = 0;
	if (key) {
		if (!li707_parse_uint(key, &k) || k > INT64_MAX)
			return csp_cli_usage_error(x->err, "audit", "--key: a reference key expected");
		rc = csp_store_ref_get(x->store, (int64_t)k, &r);
	} else {
		rc = csp_store_ref_find(x->store, ref, &r);
	}
	if (rc == LI707_ENOTFOUND) {
		fprintf(x->err, "li707-csp audit: no such reference%s\n",
			key ? "" : " open (a closed one: --key N)");
		return 1;
	}
	if (rc) {
		fprintf(x->err, "li707-csp audit: %s\n", li707_strerror(rc));
		return li707_exit_code(rc);
	}
	if (!r.hash) {
		fprintf(x->err, "li707-csp audit: reference %lld has no Annex D.4 hash\n",
			(long long)r.id);
		csp_ref_clear(&r);
		return 1;
	}
	rc = check_triple(x, "audit", field, salt, r.hash);
	if (!rc)
		fprintf(x->out, "reference %lld: field and salt match the kept hash (Annex D.4)\n",
			(long long)r.id);
	csp_ref_clear(&r);
	return rc;
}
