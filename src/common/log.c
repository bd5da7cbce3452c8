/* li707 common - daemon logging, see log.h (moved from src/lea/lea_log.c). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

static atomic_int level = LX_LOG_INFO;
static const char *program = "li707"; /* set once, before any thread */

static const char *const names[] = {"error", "warn", "info", "debug"};

void lx_log_set_program(const char *name)
{
	if (name && *name)
		program = name;
}

void lx_log_set_level(enum lx_log_level l)
{
	if (l >= LX_LOG_ERROR && l <= LX_LOG_DEBUG)
		atomic_store(&level, (int)l);
}

enum lx_log_level lx_log_get_level(void)
{
	return (enum lx_log_level)atomic_load(&level);
}

bool lx_log_enabled(enum lx_log_level l)
{
	return (int)l <= atomic_load(&level);
}

bool lx_log_parse_level(const char *s, enum lx_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (s && strcmp(s, names[i]) == 0) {
			*out = (enum lx_log_level)i;
			return true;
		}
	}
	if (s && strcmp(s, "warning") == 0) {
		*out = LX_LOG_WARN;
		return true;
	}
	return false;
}

const char *lx_log_level_name(enum lx_log_level l)
{
	return l >= LX_LOG_ERROR && l <= LX_LOG_DEBUG ? names[l] : "?";
}

void lx_log(enum lx_log_level l, const char *fmt, ...)
{
	if (!lx_log_enabled(l))
		return;
	char line[LX_LOG_LINE_MAX + 1];
	int n = snprintf(line, sizeof line, "%s: %s: ", program, lx_log_level_name(l));
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > LX_LOG_LINE_MAX - 1)
		len = LX_LOG_LINE_MAX - 1;
	/* Control characters would let a value forge a line: shown as '?'. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[len++] = '\n';
	(void)lx_write_all(STDERR_FILENO, line, len);
}
