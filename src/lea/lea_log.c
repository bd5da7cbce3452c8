/* li707-lea - logging, see lea_log.h. */
#include "lea_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

static atomic_int level = LEA_LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

void lea_log_set_level(enum lea_log_level l)
{
	if (l >= LEA_LOG_ERROR && l <= LEA_LOG_DEBUG)
		atomic_store(&level, (int)l);
}

enum lea_log_level lea_log_get_level(void)
{
	return (enum lea_log_level)atomic_load(&level);
}

bool lea_log_enabled(enum lea_log_level l)
{
	return (int)l <= atomic_load(&level);
}

bool lea_log_parse_level(const char *s, enum lea_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (s && strcmp(s, names[i]) == 0) {
			*out = (enum lea_log_level)i;
			return true;
		}
	}
	if (s && strcmp(s, "warning") == 0) {
		*out = LEA_LOG_WARN;
		return true;
	}
	return false;
}

const char *lea_log_level_name(enum lea_log_level l)
{
	return l >= LEA_LOG_ERROR && l <= LEA_LOG_DEBUG ? names[l] : "?";
}

void lea_log(enum lea_log_level l, const char *fmt, ...)
{
	if (!lea_log_enabled(l))
		return;
	char line[LEA_LOG_LINE_MAX + 1];
	int n = snprintf(line, sizeof line, "li707-lea: %s: ", lea_log_level_name(l));
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > LEA_LOG_LINE_MAX - 1)
		len = LEA_LOG_LINE_MAX - 1;
	/* Control characters would let a value forge a line: shown as '?'. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[len++] = '\n';
	(void)li707_write_all(STDERR_FILENO, line, len);
}
