/* li707 common - li707's own schema directory relative to the executable (schema_dir.h). */
#include "schema_dir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies s into buf; -ENAMETOOLONG when it does not fit. */
static int put(char *buf, size_t cap, const char *s)
{
	int n = snprintf(buf, cap, "%s", s);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* True when DIR/ts_103707.xsd is a readable file. */
static int has_schema(const char *dir)
{
	char p[PATH_MAX];
	int n = snprintf(p, sizeof p, "%s/ts_103707.xsd", dir);
	return n > 0 && (size_t)n < sizeof p && access(p, R_OK) == 0;
}

int lx_schema_dir_find(const char *exe, const char *installed, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return -EINVAL;
	buf[0] = '\0';
	const char *env = getenv("LI707_SCHEMA_DIR");
	if (env && *env)
		return put(buf, cap, env);

	char *real = realpath(exe ? exe : "/proc/self/exe", NULL);
	if (real) {
		char *slash = strrchr(real, '/');
		if (slash) {
			*slash = '\0'; /* real is now the executable's directory */
			static const char *const rel[] = {"/../" LX_SCHEMA_SUBDIR,
							  "/" LX_SCHEMA_SUBDIR};
			for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
				char cand[PATH_MAX];
				int n = snprintf(cand, sizeof cand, "%s%s", real, rel[i]);
				if (n <= 0 || (size_t)n >= sizeof cand || !has_schema(cand))
					continue;
				char *canon = realpath(cand, NULL);
				int rc = put(buf, cap, canon ? canon : cand);
				free(canon);
				free(real);
				return rc;
			}
		}
		free(real);
	}
	if (installed && *installed) {
		int rc = put(buf, cap, installed);
		if (rc)
			return rc;
		return has_schema(installed) ? 0 : -ENOENT;
	}
	return -ENOENT;
}
