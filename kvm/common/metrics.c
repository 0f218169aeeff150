// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

void metrics_serve_one(int lfd, metrics_fn fn, void *data)
{
	struct timeval tv = {.tv_sec = 1};
	char req[2048], hdr[160];
	char *body = NULL;
	size_t blen = 0, len = 0;
	FILE *f;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Read the request head; whatever it asks, the answer is metrics. */
	while (len < sizeof(req) - 1) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);

		if (n <= 0)
			break;
		len += n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	f = open_memstream(&body, &blen);
	if (f) {
		fn(data, f);
		fclose(f);
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
			 "version=0.0.4\r\nContent-Length: %zu\r\n\r\n",
			 blen);
		if (write(fd, hdr, strlen(hdr)) < 0 || write(fd, body, blen) < 0) {
			/* client went away */
		}
		free(body);
	}
	close(fd);
}
