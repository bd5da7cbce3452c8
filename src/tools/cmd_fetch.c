/* li707 fetch - Model A/C retrieval of a binary object (TS 103 707 clause 6.3.2/6.3.4 and
 * Annex E; R-BIN-C1, R-BIN-C2): GET with Range requests into FILE.part, resumable.
 *
 * The object is fetched with Range requests over one reused connection: by default one
 * open-ended range (Range: bytes=OFF-, the whole rest of the object in one response), or
 * chunks of --chunk-size (Range: bytes=a-b). The first strong ETag seen is kept in
 * FILE.part.etag and sent as If-Range on every later request (also after --resume), so a
 * changed object is never spliced: the server then answers 200 with the whole new object and
 * the part file starts again. A failed request keeps the bytes it did receive, and the next
 * one asks for a smaller range: 16 MiB after a failed open-ended request, then half the
 * previous size (not below 64 KiB); a success doubles the size back up to --chunk-size, or
 * without --chunk-size up to 1 GiB and then open-ended again (Annex E). FILE appears only
 * when the object is complete, fsync'ed and (with --sha256) verified: rename from FILE.part,
 * then fsync of the directory. A checksum mismatch removes the part file.
 *
 * Speed (docs/internals/http_client.md, bench/bench_client.sh): every body piece libcurl
 * hands over (one TLS record, 16 KiB) is written at once. Gathering 1 MiB per write, and
 * starting the writeback during the transfer (sync_file_range), were both measured: faster on
 * an idle disk, much slower on a busy one (a long write stalls the socket; appends then wait
 * for ext4 journal commits that carry our own data), so neither is done. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "tool.h"

#define CHUNK_DEFAULT ((int64_t)16 << 20) /* first range size after a failed open-ended one */
#define CHUNK_MIN ((int64_t)64 << 10)
#define CHUNK_MAX ((int64_t)1 << 30)
#define MAX_FAILURES 8 /* consecutive failed chunks before giving up */

static const char help_text[] =
	"Usage: li707 fetch [OPTIONS] URL -o FILE\n"
	"\n"
	"Download the binary object at URL (TS 103 707 Models A and C) into FILE with HTTP\n"
	"Range requests. Data goes to FILE.part; FILE appears only when the object is complete\n"
	"(and matches --sha256). An interrupted download continues with --resume.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE      where to store the object (required)\n"
	"  --sha256 HEX           expected SHA-256 of the object; a mismatch removes the data\n"
	"  --chunk-size N         bytes per Range request, suffix K, M or G [default: the whole\n"
	"                         rest of the object in one request]; after a failure the range\n"
	"                         shrinks (16M, then halves) and grows back on success (Annex E)\n"
	"  --resume               continue from an existing FILE.part\n"
	"  -h, --help             print this help and exit\n";

static const char help_tail[] =
	"\n"
	"Exit status: 0 FILE is complete, 1 checksum mismatch, 2 usage, 3 transport or I/O\n"
	"failure (FILE.part is kept for --resume), 5 internal error.\n";

enum { OPT_SHA256 = TOOL_OPT_CMD_BASE, OPT_CHUNK, OPT_RESUME };

struct fetch {
	int fd;
	int64_t off;       /* bytes of the object in the part file */
	int64_t wpos;      /* write position within the current response */
	int64_t total;     /* object size, -1 unknown */
	char etag[128];    /* strong validator, "" none */
	bool restarted;    /* a 200 replaced the part file's content */
	bool tty;
	int64_t chunk;     /* the next range size; 0: open-ended (the whole rest) */
	int64_t chunk_max; /* --chunk-size; 0: none given */
	struct timespec last_progress, started;
	int64_t started_off;
	char meta_path[4096];
};

static bool parse_size(const char *s, int64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1ULL << 10, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1ULL << 20, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1ULL << 30, end++;
	if (errno || *end || v == 0 || v > (unsigned long long)CHUNK_MAX / mul)
		return false;
	*out = (int64_t)(v * mul);
	return *out >= 4096;
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress(struct fetch *f, bool final)
{
	if (!f->tty)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && elapsed(&f->last_progress, &now) < 0.2)
		return;
	f->last_progress = now;
	int64_t have = f->off + f->wpos;
	double t = elapsed(&f->started, &now);
	double rate = t > 0 ? (double)(have - f->started_off) / t / 1048576.0 : 0;
	if (f->total > 0)
		fprintf(stderr, "\r%5.1f%%  %.1f / %.1f MiB  %.1f MiB/s   ",
			100.0 * (double)have / (double)f->total, (double)have / 1048576.0,
			(double)f->total / 1048576.0, rate);
	else
		fprintf(stderr, "\r%.1f MiB  %.1f MiB/s   ", (double)have / 1048576.0, rate);
	if (final)
		fputc('\n', stderr);
}

static int write_meta(const struct fetch *f)
{
	int fd = open(f->meta_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t n = strlen(f->etag);
	int rc = write(fd, f->etag, n) == (ssize_t)n ? 0 : -EIO;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

/* The body of one response: checked against the request before anything is written. */
static size_t sink(void *ud, struct li707_http_result *r, const char *p, size_t n)
{
	struct fetch *f = ud;
	if (f->wpos == 0 && r->received == 0) {
		if (r->status == 206) {
			if (r->range_start != f->off)
				return 0; /* not the range we asked for */
			f->total = r->range_total;
		} else if (r->status == 200) {
			/* Range ignored or If-Range did not match: the whole (maybe new) object. */
			if (ftruncate(f->fd, 0) != 0)
				return 0;
			f->off = 0;
			f->restarted = true;
			f->etag[0] = '\0'; /* the new object's validator replaces the old one */
			f->total = r->content_length;
		} else {
			return 0;
		}
		/* Keep the first strong validator before any byte lands, so that an interrupted
		 * transfer can resume with If-Range. */
		if (!f->etag[0] && r->etag[0] == '"') {
			snprintf(f->etag, sizeof f->etag, "%s", r->etag);
			if (write_meta(f) != 0)
				return 0;
		}
	}
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(f->fd, p + done, n - done, (off_t)(f->off + f->wpos));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		done += (size_t)w;
		f->wpos += w;
	}
	progress(f, false);
	return n;
}

static void read_meta(struct fetch *f)
{
	int fd = open(f->meta_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, f->etag, sizeof f->etag - 1);
	close(fd);
	f->etag[n > 0 ? n : 0] = '\0';
	if (strpbrk(f->etag, "\r\n"))
		f->etag[0] = '\0';
}

static int sha256_file(int fd, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *buf = malloc(1 << 20);
	int rc = LI707_ECRYPTO;
	if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	off_t pos = 0;
	for (;;) {
		ssize_t r = pread(fd, buf, 1 << 20, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
			goto out;
		pos += r;
	}
	unsigned char md[32];
	unsigned int mdl = 0;
	if (EVP_DigestFinal_ex(ctx, md, &mdl) != 1 || mdl != 32)
		goto out;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int fsync_dir_of(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static bool transient(const struct li707_http_result *r)
{
	switch (r->err) {
	case LI707_HTTP_ERESET:
	case LI707_HTTP_ETIMEOUT:
	case LI707_HTTP_ECONNECT:
		return true;
	case LI707_HTTP_ESTATUS:
		return r->status >= 500 || r->status == 408 || r->status == 429;
	default:
		return false;
	}
}

/* TS103707 R-BIN-C2 (Annex E): the range size after a success - doubled, up to --chunk-size;
 * without --chunk-size up to CHUNK_MAX, and beyond that open-ended again. */
static void grow(struct fetch *f)
{
	if (f->chunk == 0)
		return;
	int64_t cap = f->chunk_max ? f->chunk_max : CHUNK_MAX;
	if (f->chunk >= cap)
		f->chunk = f->chunk_max ? f->chunk_max : 0;
	else
		f->chunk = f->chunk * 2 < cap ? f->chunk * 2 : cap;
}

/* ... and after a failure: CHUNK_DEFAULT (or --chunk-size if smaller) after an open-ended
 * request, else half, not below CHUNK_MIN. */
static void shrink(struct fetch *f)
{
	if (f->chunk == 0)
		f->chunk = f->chunk_max && f->chunk_max < CHUNK_DEFAULT ? f->chunk_max : CHUNK_DEFAULT;
	else
		f->chunk = f->chunk / 2 > CHUNK_MIN ? f->chunk / 2 : CHUNK_MIN;
}

/* Fetches until complete. Returns 0 or the exit status (message printed). */
static int fetch_loop(struct li707_http_client *cl, const char *url, struct fetch *f)
{
	static const long ok206[] = {200, 206, 0};
	int failures = 0;
	for (;;) {
		if (f->total >= 0 && f->off >= f->total)
			return 0;
		struct li707_http_req req;
		li707_http_req_init(&req);
		req.url = url;
		req.range_start = f->off; /* TS103707 R-BIN-C1: Range requests */
		req.range_end = f->chunk ? f->off + f->chunk - 1 : -1; /* -1: open-ended */
		if (f->total >= 0 && req.range_end >= f->total)
			req.range_end = f->total - 1;
		req.if_range = f->etag[0] ? f->etag : NULL;
		req.sink = sink;
		req.sink_ud = f;
		req.ok_status = ok206;
		struct li707_http_result res;
		f->wpos = 0;
		f->restarted = false;
		int rc = li707_http_perform(cl, &req, &res);
		if (rc) {
			fprintf(stderr, "li707 fetch: %s\n", li707_strerror(rc));
			return li707_exit_code(rc);
		}
		f->off += f->wpos; /* bytes received are good even when the chunk failed */
		f->wpos = 0;
		if (res.err == LI707_HTTP_ESTATUS && res.status == 416 && res.range_total >= 0) {
			li707_http_result_done(&res);
			if (f->off == res.range_total) {
				f->total = f->off; /* already complete */
				continue;
			}
			if (f->off > res.range_total && ftruncate(f->fd, 0) == 0) {
				f->off = 0; /* a stale, longer part file: start again */
				f->total = -1;
				continue;
			}
			fprintf(stderr, "li707 fetch: the server refused the range (HTTP 416)\n");
			return 3;
		}
		if (res.err == LI707_HTTP_OK) {
			if (res.status == 206) {
				f->total = res.range_total;
			} else { /* 200: the whole object in one response */
				if (res.content_length >= 0 && f->off != res.content_length) {
					res.err = LI707_HTTP_ERESET;
					snprintf(res.detail, sizeof res.detail, "short response");
				} else {
					f->total = f->off;
				}
			}
		}
		if (res.err == LI707_HTTP_OK) {
			failures = 0;
			grow(f); /* TS103707 R-BIN-C2 (Annex E): grow back after success. */
			li707_http_result_done(&res);
			continue;
		}
		if (!transient(&res) || ++failures > MAX_FAILURES) {
			if (f->tty)
				fputc('\n', stderr);
			int st = tool_client_failure("fetch", &res);
			li707_http_result_done(&res);
			return st;
		}
		shrink(f); /* TS103707 R-BIN-C2 (Annex E): a smaller range after a failure. */
		li707_http_result_done(&res);
		struct timespec ts = {0, 100000000L * failures};
		nanosleep(&ts, NULL);
	}
}

int tool_cmd_fetch(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"output", required_argument, NULL, 'o'},
		{"sha256", required_argument, NULL, OPT_SHA256},
		{"chunk-size", required_argument, NULL, OPT_CHUNK},
		{"resume", no_argument, NULL, OPT_RESUME},
		TOOL_CLIENT_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct tool_client tc;
	tool_client_init(&tc);
	const char *out = NULL, *sha = NULL;
	int64_t chunk = 0; /* open-ended */
	bool resume = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(help_text, stdout);
			fputs(tool_client_help, stdout);
			fputs(help_tail, stdout);
			return 0;
		case 'o':
			out = optarg;
			continue;
		case OPT_SHA256:
			if (strlen(optarg) != 64 || strspn(optarg, "0123456789abcdefABCDEF") != 64)
				return tool_usage_error("fetch", "--sha256 wants 64 hex digits");
			sha = optarg;
			continue;
		case OPT_CHUNK:
			if (!parse_size(optarg, &chunk))
				return tool_usage_error("fetch", "--chunk-size wants 4096..1G bytes");
			continue;
		case OPT_RESUME:
			resume = true;
			continue;
		default: {
			int r = tool_client_option(&tc, "fetch", c, optarg);
			if (r >= 0) {
				if (r)
					return r;
				continue;
			}
			return tool_bad_option("fetch", argc, argv);
		}
		}
	}
	if (argc - optind != 1)
		return tool_usage_error("fetch", "one URL is required");
	if (!out || !*out)
		return tool_usage_error("fetch", "-o FILE is required");
	if (strlen(out) > 4000)
		return tool_usage_error("fetch", "the output path is too long");
	const char *url = argv[optind];

	char part[4096];
	struct fetch f = {.fd = -1, .total = -1, .chunk = chunk, .chunk_max = chunk};
	snprintf(part, sizeof part, "%s.part", out);
	snprintf(f.meta_path, sizeof f.meta_path, "%s.part.etag", out);
	f.tty = isatty(STDERR_FILENO) == 1;
	f.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0600);
	if (f.fd < 0) {
		fprintf(stderr, "li707 fetch: %s: %s\n", part, strerror(errno));
		return 3;
	}
	struct stat st;
	if (fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "li707 fetch: %s: not a regular file\n", part);
		close(f.fd);
		return 3;
	}
	if (resume) {
		f.off = st.st_size;
		read_meta(&f);
	} else {
		unlink(f.meta_path);
	}
	clock_gettime(CLOCK_MONOTONIC, &f.started);
	f.started_off = f.off;
	if (li707_http_global_init() != 0) {
		close(f.fd);
		return 5;
	}
	struct li707_http_client *cl = NULL;
	int status = tool_client_open(&tc, "fetch", 1, &cl);
	if (status)
		goto out;
	status = fetch_loop(cl, url, &f);
	if (status)
		goto out;
	progress(&f, true);
	if (fsync(f.fd) != 0) {
		fprintf(stderr, "li707 fetch: %s: %s\n", part, strerror(errno));
		status = 3;
		goto out;
	}
	if (sha) {
		char hex[65];
		int rc = sha256_file(f.fd, hex);
		if (rc) {
			fprintf(stderr, "li707 fetch: %s: %s\n", part, li707_strerror(rc));
			status = li707_exit_code(rc);
			goto out;
		}
		if (strcasecmp(hex, sha) != 0) {
			fprintf(stderr, "li707 fetch: SHA-256 mismatch (got %s); the data is removed\n", hex);
			unlink(part);
			unlink(f.meta_path);
			status = 1;
			goto out;
		}
	}
	if (rename(part, out) != 0) {
		fprintf(stderr, "li707 fetch: %s: %s\n", out, strerror(errno));
		status = 3;
		goto out;
	}
	unlink(f.meta_path);
	if (fsync_dir_of(out) != 0) {
		fprintf(stderr, "li707 fetch: cannot fsync the directory of %s\n", out);
		status = 3;
	}
out:
	/* Nothing received and nothing to resume: leave no empty part file behind. */
	if (status && status != 1 && f.off == 0 && fstat(f.fd, &st) == 0 && st.st_size == 0) {
		unlink(part);
		unlink(f.meta_path);
	}
	li707_http_client_free(cl);
	li707_http_global_cleanup();
	close(f.fd);
	return status;
}
