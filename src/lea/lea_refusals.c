/* li707-lea - refused connections by reason in the store directory (lea_refusals.h). */
#include "lea_refusals.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "li707/error.h"

#define FILE_MAX 4096 /* the file is about 400 bytes */

int lea_refusals_write(const char *dir, const struct lea_refusals *r)
{
	char path[4200], tmp[4220], buf[FILE_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, LEA_REFUSALS_FILE) >= (int)sizeof path ||
	    snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	size_t len = 0;
	int n = snprintf(buf, sizeof buf, "started %lld\n", (long long)r->started);
	len = (size_t)n;
	for (size_t i = 0; i < LX_REFUSED_N && len < sizeof buf; i++) {
		n = snprintf(buf + len, sizeof buf - len, "%s %llu\n", lx_http_refusal_name((enum lx_http_refusal)i),
			     (unsigned long long)r->n[i]);
		len += (size_t)n;
	}
	if (len >= sizeof buf)
		return LI707_ELIMIT;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, buf, len);
	int e = w == (ssize_t)len ? 0 : w < 0 ? errno : EIO;
	if (close(fd) != 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) != 0)
		e = errno;
	if (e)
		unlink(tmp);
	return -e;
}

int lea_refusals_read(const char *dir, struct lea_refusals *r)
{
	char path[4200], buf[FILE_MAX + 1];
	if (snprintf(path, sizeof path, "%s/%s", dir, LEA_REFUSALS_FILE) >= (int)sizeof path)
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t got = read(fd, buf, FILE_MAX);
	int e = got < 0 ? errno : 0;
	close(fd);
	if (e)
		return -e;
	buf[got] = '\0';
	struct lea_refusals t = {0};
	char *save = NULL;
	bool started = false;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		unsigned long long v;
		if (sscanf(line, "%63s %llu", name, &v) != 2)
			return LI707_EINPUT;
		if (strcmp(name, "started") == 0) {
			t.started = (time_t)v;
			started = true;
			continue;
		}
		for (size_t i = 0; i < LX_REFUSED_N; i++)
			if (strcmp(name, lx_http_refusal_name((enum lx_http_refusal)i)) == 0)
				t.n[i] = v;
	}
	if (!started)
		return LI707_EINPUT;
	*r = t;
	return 0;
}
