/* lea_store_fill - puts deliveries and Model B uploads into an li707-lea store, the way the
 * daemon would, so the analyst's commands can be tested without a server.
 *
 *   lea_store_fill --store DIR [--binary-path /binaryData/] ARG...
 *
 * ARGs are done in order:
 *   --peer NAME          the peer the following deliveries and uploads come from [csp]
 *   FILE.xml             an HI1Message: decoded and stored (lea_store_put); one line
 *                        "FILE: stored S duplicate D skipped K failed F"
 *   --upload UUID FILE   a Model B upload of FILE's bytes for UUID (upload_begin, the data
 *                        written to tmp_path and fsync'd, upload_finish); one line
 *                        "upload UUID: STATE" or "upload UUID: refused VERDICT"
 *   --sweep EPOCH        lea_store_sweep at time EPOCH; "swept N"
 *
 * Exit status: 0 when everything was done, 1 when a file did not decode or was not stored,
 * or an upload was refused, 2 usage, 3 store error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "li707/li707.h"
#include "store.h"

static int usage(const char *msg)
{
	fprintf(stderr, "lea_store_fill: %s\n"
			"usage: lea_store_fill --store DIR [--binary-path P] "
			"[--peer NAME | FILE.xml | --upload UUID FILE | --sweep EPOCH]...\n",
		msg);
	return 2;
}

static int read_all(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap + 1);
	for (size_t r; b && (r = fread(b + n, 1, cap - n, f)) > 0;) {
		n += r;
		if (n == cap) {
			char *nb = realloc(b, cap * 2 + 1);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	int err = ferror(f);
	fclose(f);
	if (!b || err) {
		free(b);
		return b ? -EIO : LI707_ENOMEM;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int put_file(struct lea_store *s, const char *peer, const char *path)
{
	char *raw = NULL;
	size_t len = 0;
	int rc = read_all(path, &raw, &len);
	if (rc) {
		fprintf(stderr, "%s: %s\n", path, li707_strerror(rc));
		return 1;
	}
	struct li707_message *m = NULL;
	struct li707_diags d = {0};
	rc = li707_message_decode(raw, len, NULL, &m, &d);
	li707_diags_clear(&d);
	if (!m || m->kind != LI707_MSG_REQUEST) {
		fprintf(stderr, "%s: not a request: %s\n", path, li707_strerror(rc));
		li707_message_free(m);
		free(raw);
		return 1;
	}
	enum lea_put_outcome *out = calloc(m->n_actions ? m->n_actions : 1, sizeof *out);
	struct lea_put p = {.peer = peer, .raw = raw, .raw_len = len, .msg = m, .outcome = out};
	rc = out ? lea_store_put(s, &p) : LI707_ENOMEM;
	size_t n[4] = {0};
	for (size_t i = 0; rc == 0 && i < m->n_actions; i++)
		n[out[i] <= LEA_PUT_FAILED ? out[i] : LEA_PUT_FAILED]++;
	if (rc)
		fprintf(stderr, "%s: put failed: %s\n", path, li707_strerror(rc));
	else
		printf("%s: stored %zu duplicate %zu skipped %zu failed %zu\n", path,
		       n[LEA_PUT_STORED], n[LEA_PUT_DUPLICATE], n[LEA_PUT_SKIPPED],
		       n[LEA_PUT_FAILED]);
	free(out);
	li707_message_free(m);
	free(raw);
	return rc || n[LEA_PUT_FAILED] ? 1 : 0;
}

/* Copies path to the upload's tmp_path, fsync'd; size and SHA-256 out. */
static int write_tmp(const char *path, const char *tmp, uint64_t *bytes, char hex[65])
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	int out = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (out < 0) {
		int rc = -errno;
		close(in);
		return rc;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : LI707_ECRYPTO;
	char buf[65536];
	*bytes = 0;
	for (ssize_t r; rc == 0 && (r = read(in, buf, sizeof buf)) != 0;) {
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (write(out, buf, (size_t)r) != r)
			rc = -EIO;
		EVP_DigestUpdate(md, buf, (size_t)r);
		*bytes += (uint64_t)r;
	}
	unsigned char dg[32];
	unsigned n = 0;
	if (rc == 0 && EVP_DigestFinal_ex(md, dg, &n) != 1)
		rc = LI707_ECRYPTO;
	for (unsigned i = 0; rc == 0 && i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", dg[i]);
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	close(out);
	close(in);
	EVP_MD_CTX_free(md);
	return rc;
}

static int upload(struct lea_store *s, const char *peer, const char *uuid, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || strlen(uuid) != 36) {
		fprintf(stderr, "upload %s: bad uuid or file\n", uuid);
		return 1;
	}
	struct lea_upload u = {.peer = peer, .has_length = true, .length = (uint64_t)st.st_size,
			       .cap = UINT64_MAX, .content_type = "application/octet-stream"};
	memcpy(u.uuid, uuid, 37);
	int rc = lea_store_upload_begin(s, &u);
	if (rc) {
		fprintf(stderr, "upload %s: begin failed: %s\n", uuid, li707_strerror(rc));
		return 1;
	}
	if (u.verdict != LEA_UPLOAD_OK) {
		printf("upload %s: refused %d\n", uuid, (int)u.verdict);
		return 1;
	}
	uint64_t bytes = 0;
	char hex[65] = "";
	rc = write_tmp(path, u.tmp_path, &bytes, hex);
	if (rc) {
		fprintf(stderr, "upload %s: %s\n", uuid, li707_strerror(rc));
		lea_store_upload_abort(s, u.upload_id);
		return 1;
	}
	enum lea_att_state state = LEA_ATT_NSTATES;
	rc = lea_store_upload_finish(s, u.upload_id, bytes, hex, &state);
	if (rc) {
		fprintf(stderr, "upload %s: finish failed: %s\n", uuid, li707_strerror(rc));
		return 1;
	}
	printf("upload %s: %s\n", uuid, lea_att_state_name(state));
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *bpath = NULL, *peer = "csp";
	int i = 1;
	for (; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--store") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--binary-path") == 0)
			bpath = argv[i + 1];
		else
			break;
	}
	if (!dir)
		return usage("--store DIR is required (first)");
	li707_global_init();
	struct lea_store_opts o = {.dir = dir, .binary_path = bpath};
	struct lea_store *s = NULL;
	char err[512] = "";
	int rc = lea_store_open(&o, &s, err, sizeof err);
	if (rc) {
		fprintf(stderr, "lea_store_fill: cannot open %s: %s\n", dir, err);
		return 3;
	}
	int status = 0;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc) {
			peer = argv[++i];
		} else if (strcmp(argv[i], "--upload") == 0 && i + 2 < argc) {
			status |= upload(s, peer, argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (strcmp(argv[i], "--sweep") == 0 && i + 1 < argc) {
			uint64_t n = 0;
			if (lea_store_sweep(s, strtoll(argv[++i], NULL, 10), &n) != 0)
				status = 1;
			printf("swept %" PRIu64 "\n", n);
		} else if (argv[i][0] == '-') {
			lea_store_close(s);
			return usage("unknown option");
		} else {
			status |= put_file(s, peer, argv[i]);
		}
	}
	lea_store_close(s);
	li707_global_cleanup();
	return status;
}
