// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int ctl_listen(const char *path, struct xpv_error **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	cleanup_free char *dir = strdup(path);
	int fd;

	if (!dir || strlen(path) >= sizeof(sa.sun_path))
		return xpv_error_set(err, ENAMETOOLONG, "socket `%s`", path);
	mkdir(dirname(dir), 0755);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return xpv_error_set(err, errno, "socket");
	/* A stale socket from a crashed xpvd would block the bind. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int e = errno;

		close(fd);
		return xpv_error_set(err, e, "listening on `%s`", path);
	}
	return fd;
}

int ctl_split(char *line, char **argv, int max)
{
	int argc = 0;
	char *save = NULL, *w;

	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
			return -1;
	for (w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == max)
			return -1;
		argv[argc++] = w;
	}
	return argc;
}

char *ctl_reply(int ret, json_t *result, struct xpv_error *err)
{
	json_t *o;
	char *s;

	if (ret < 0)
		o = json_pack("{s:b, s:s}", "ok", 0, "error",
			      err && err->msg ? err->msg : "failed");
	else
		o = json_pack("{s:b, s:O}", "ok", 1, "result", result ? result : json_null());
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (o)
		json_decref(o);
	return s;
}

void ctl_serve_one(int lfd, ctl_fn fn, void *data)
{
	struct timeval tv = {.tv_sec = 1};
	char line[CTL_MAX_LINE + 1], *argv[CTL_MAX_ARGS];
	struct xpv_error *err = NULL;
	json_t *result = NULL;
	size_t len = 0;
	char *reply;
	int fd, argc, ret;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* One slow client must not stall the control loop for long. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < CTL_MAX_LINE) {
		ssize_t n = read(fd, line + len, CTL_MAX_LINE - len);

		if (n <= 0)
			break;
		len += n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	if (strchr(line, '\n'))
		*strchr(line, '\n') = '\0';
	argc = ctl_split(line, argv, CTL_MAX_ARGS);
	if (argc <= 0)
		ret = xpv_error_set(&err, EINVAL, "empty or malformed request");
	else
		ret = fn(data, argc, argv, &result, &err);
	reply = ctl_reply(ret, result, err);
	if (reply) {
		size_t rl = strlen(reply);

		reply[rl] = '\n';
		if (write(fd, reply, rl + 1) < 0) {
			/* client went away; nothing to do */
		}
		free(reply);
	}
	if (result)
		json_decref(result);
	xpv_error_free(&err);
	close(fd);
}
