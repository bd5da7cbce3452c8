/* li707 common - error text for callers' buffers (errbuf.h). */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

void lx_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
