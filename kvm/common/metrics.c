// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

int metrics_listen(const char *spec, struct xpv_error **err)
{
	int fd, one = 1;

	if (!strncmp(spec, "unix:", 5)) {
		fd = ctl_listen(spec + 5, err);
		return fd < 0 ? xpv_error_wrap(err, "metrics") : fd;
	} else {
		struct sockaddr_in sa = {.sin_family = AF_INET};

		sa.sin_port = htons(atoi(strrchr(spec, ':') + 1));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return xpv_error_set(err, errno, "metrics socket");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
			int e = errno;

			close(fd);
			return xpv_error_set(err, e, "metrics: listening on `%s`", spec);
		}
	}
	return fd;
}

char *metrics_http_reply(const char *req, metrics_fn fn, void *data, size_t *reply_len)
{
	char *body = NULL, *reply = NULL;
	size_t blen = 0;
	FILE *f;
	int n;

	/* Whatever path a GET asks for, the answer is the metrics. */
	if (strncmp(req, "GET ", 4)) {
		static const char bad[] = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

		reply = strdup(bad);
		*reply_len = reply ? strlen(bad) : 0;
		return reply;
	}
	f = open_memstream(&body, &blen);
	if (!f)
		return NULL;
	fn(data, f);
	if (fclose(f)) {
		free(body);
		return NULL;
	}
	n = asprintf(&reply,
		     "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
		     "Content-Length: %zu\r\n\r\n%s",
		     blen, body);
	free(body);
	if (n < 0)
		return NULL;
	*reply_len = n;
	return reply;
}
