/* libFuzzer target: the event format (src/common/events.c, docs/events.md).
 *
 * The input is one event line (arbitrary bytes). Attachment paths are resolved under a
 * private temporary directory holding one small file, "f.bin", so both the hashing path and
 * the file errors are reached without touching anything else. A parsed event is also run
 * through lx_event_check (the library's encoder checks, including the CSP XML fragment
 * parser). The same bytes are then fed to the line reader with a small cap. Every call must
 * return one of the documented codes; anything else aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];
static char file[128];

static void cleanup(void)
{
	unlink(file);
	rmdir(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	li707_global_init();
	snprintf(base, sizeof base, "/tmp/li707-fuzz-events-XXXXXX");
	if (!mkdtemp(base))
		abort();
	snprintf(file, sizeof file, "%s/f.bin", base);
	FILE *f = fopen(file, "wb");
	if (!f)
		abort();
	fputs("attachment\n", f);
	fclose(f);
	atexit(cleanup);
	return 0;
}

static void parse_one(const char *line, size_t len, const struct lx_event_opts *o)
{
	struct lx_event ev;
	char err[LX_EVENT_ERR_LEN];
	int rc = lx_event_parse(line, len, o, &ev, err, sizeof err);
	if (rc == LI707_EINPUT) {
		if (!err[0])
			abort(); /* every input error names a field */
		return;
	}
	if (rc == LI707_ENOMEM)
		return;
	if (rc != 0)
		abort();
	rc = lx_event_check(&ev, err, sizeof err);
	if (rc != 0 && rc != LI707_EINPUT && rc != LI707_ENOMEM)
		abort();
	lx_event_clear(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lx_event_opts o = {.base_dir = base, .now = 1767225600};

	/* 1. the whole input as one line */
	parse_one((const char *)data, size, &o);

	/* 2. the line reader over the same bytes, lines capped at 256 bytes */
	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	struct lx_event_reader r;
	const char *line;
	size_t len;
	int rc;
	lx_event_reader_init(&r, f, 256);
	while ((rc = lx_event_reader_next(&r, &line, &len)) != 0) {
		if (rc == LI707_ELIMIT)
			continue;
		if (rc < 0)
			break;
		if (len > 256 || line[len] != '\0')
			abort();
		if (!lx_event_line_blank(line, len))
			parse_one(line, len, &o);
	}
	lx_event_reader_done(&r);
	fclose(f);
	return 0;
}
