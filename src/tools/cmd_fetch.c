/* li707 fetch - Model A/C retrieval of a binary object (TS 103 707 Annex C.2 (Model A), C.4
 * (Model C) and Annex E; R-BIN-C1, R-BIN-C2): GET with Range requests into FILE.part,
 * resumable. The engine is src/common/fetch.c (lx_fetch_file); this command parses its
 * options and draws the progress bar when stderr is a terminal. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "http_client.h"
#include "size.h"
#include "tool.h"

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

/* The progress bar: stderr is a terminal (and only then), at most five updates a second. */
struct bar {
	struct timespec started, last;
	int64_t started_have; /* bytes held when the run started (--resume) */
	int64_t have, total;  /* the latest figures */
	bool begun;
	bool drawn;
};

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void bar_draw(struct bar *b, int64_t have, int64_t total, bool final)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!b->begun) {
		b->begun = true;
		b->started = now;
		b->started_have = have;
	} else if (!final && elapsed(&b->last, &now) < 0.2) {
		return;
	}
	b->last = now;
	b->drawn = true;
	double t = elapsed(&b->started, &now);
	double rate = t > 0 ? (double)(have - b->started_have) / t / 1048576.0 : 0;
	if (total > 0)
		fprintf(stderr, "\r%5.1f%%  %.1f / %.1f MiB  %.1f MiB/s   ",
			100.0 * (double)have / (double)total, (double)have / 1048576.0,
			(double)total / 1048576.0, rate);
	else
		fprintf(stderr, "\r%.1f MiB  %.1f MiB/s   ", (double)have / 1048576.0, rate);
}

static void on_progress(void *ud, int64_t have, int64_t total)
{
	struct bar *b = ud;
	b->have = have;
	b->total = total;
	bar_draw(b, have, total, false);
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
	uint64_t chunk = 0; /* open-ended */
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
			if (!lx_parse_size(optarg, &chunk) || chunk < 4096 ||
			    chunk > (uint64_t)LX_FETCH_CHUNK_MAX)
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

	if (lx_http_global_init() != 0)
		return 5;
	struct lx_http_client *cl = NULL;
	int status = tool_client_open(&tc, "fetch", 1, &cl);
	if (status) {
		lx_http_global_cleanup();
		return status;
	}
	struct bar bar = {.have = 0, .total = -1};
	struct lx_fetch_file_opts fo = {
		.url = url,
		.path = out,
		.sha256 = sha,
		.resume = resume,
		.chunk_max = (int64_t)chunk,
		.ud = &bar,
		.progress = isatty(STDERR_FILENO) == 1 ? on_progress : NULL,
	};
	char err[512] = "";
	int rc = lx_fetch_file(cl, &fo, err, sizeof err);
	if (!rc && fo.progress)
		bar_draw(&bar, bar.total >= 0 ? bar.total : bar.have, bar.total, true);
	if (bar.drawn)
		fputc('\n', stderr);
	if (rc)
		fprintf(stderr, "li707 fetch: %s\n", err[0] ? err : li707_strerror(rc));
	lx_http_client_free(cl);
	lx_http_global_cleanup();
	return rc ? li707_exit_code(rc) : 0;
}
