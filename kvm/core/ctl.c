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

char *ctl_handle(char *req, size_t len, ctl_fn fn, void *data, size_t *reply_len)
{
	char *nl = memchr(req, '\n', len), *argv[CTL_MAX_ARGS], *reply;
	struct xpv_error *err = NULL;
	json_t *result = NULL;
	int argc, ret;

	if (!nl && len >= CTL_MAX_LINE) {
		ret = xpv_error_set(&err, EMSGSIZE, "request longer than %d bytes", CTL_MAX_LINE);
	} else {
		size_t line_len = nl ? (size_t)(nl - req) : len;

		if (nl)
			*nl = '\0';
		/* a NUL inside the line would hide the rest of it */
		argc = strlen(req) == line_len ? ctl_split(req, argv, CTL_MAX_ARGS) : -1;
		if (argc <= 0)
			ret = xpv_error_set(&err, EINVAL, "empty or malformed request");
		else
			ret = fn(data, argc, argv, &result, &err);
	}
	reply = ctl_reply(ret, result, err);
	if (result)
		json_decref(result);
	xpv_error_free(&err);
	if (!reply)
		return NULL;
	*reply_len = strlen(reply);
	/* json_dumps' buffer has room for its NUL: reuse it for the newline. */
	reply[(*reply_len)++] = '\n';
	return reply;
}
