// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int xpv_read_file(const char *path, char **out, struct xpv_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 256;
	char *buf;

	if (fd < 0)
		return xpv_error_set(err, errno, "opening `%s`", path);
	buf = malloc(cap);
	if (!buf)
		return xpv_error_set(err, ENOMEM, "reading `%s`", path);
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return xpv_error_set(err, ENOMEM, "reading `%s`", path);
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return xpv_error_set(err, e, "reading `%s`", path);
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*out = buf;
	return (int)len;
}

int xpv_write_file(const char *path, const char *s, struct xpv_error **err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(s);
	ssize_t n;

	if (fd < 0)
		return xpv_error_set(err, errno, "opening `%s`", path);
	n = write(fd, s, len);
	if (n < 0)
		return xpv_error_set(err, errno, "writing `%s` to `%s`", s, path);
	if ((size_t)n != len)
		return xpv_error_set(err, EIO, "short write to `%s`", path);
	return 0;
}

int xpv_write_atomic(const char *path, const char *s, struct xpv_error **err)
{
	cleanup_free char *tmp = NULL;
	size_t len = strlen(s);
	int fd;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return xpv_error_set(err, ENOMEM, "writing `%s`", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return xpv_error_set(err, errno, "creating `%s`", tmp);
	if (write(fd, s, len) != (ssize_t)len || fsync(fd) < 0) {
		int e = errno ? errno : EIO;

		close(fd);
		unlink(tmp);
		return xpv_error_set(err, e, "writing `%s`", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return xpv_error_set(err, e, "renaming `%s` to `%s`", tmp, path);
	}
	/* The rename is durable only once the directory is on disk. */
	{
		cleanup_free char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		int dfd;

		if (!dir)
			return xpv_error_set(err, ENOMEM, "writing `%s`", path);
		if (slash)
			*slash = '\0';
		dfd = open(slash ? (slash == dir ? "/" : dir) : ".",
			   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0) {
			int e = errno;

			if (dfd >= 0)
				close(dfd);
			return xpv_error_set(err, e, "syncing the directory of `%s`", path);
		}
		close(dfd);
	}
	return 0;
}

int xpv_path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

uint64_t xpv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

bool xpv_test_mode(void)
{
	const char *v = getenv(XPV_TEST_MODE_ENV);

	return v && !strcmp(v, "1");
}

/* Field `field` (1-based, as in proc(5)) of /proc/ID/stat, from field 3 on. */
static int task_stat_field(int id, int field, uint64_t *val)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* p + 1 is the space before field 3 */
	for (int f = 3; f <= field; f++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -1;
	}
	if (sscanf(p + 1, "%" SCNu64, val) != 1)
		return -1;
	return 0;
}

int xpv_task_start_time(int id, uint64_t *start)
{
	return task_stat_field(id, 22, start);
}

int xpv_task_last_cpu(int id)
{
	uint64_t cpu;

	return task_stat_field(id, 39, &cpu) < 0 || cpu > INT32_MAX ? -1 : (int)cpu;
}

bool xpv_name_valid(const char *s)
{
	if (!*s || strlen(s) > 128 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (!(s[0] >= 'a' && s[0] <= 'z') && !(s[0] >= 'A' && s[0] <= 'Z') &&
		    !(s[0] >= '0' && s[0] <= '9') && !strchr("-_.+", *s))
			return false;
	return true;
}

char *xpv_log_escape(const char *s)
{
	char *out = malloc(strlen(s) * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += sprintf(o, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}
