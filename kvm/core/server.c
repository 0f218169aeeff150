// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Accepting is cheap but not free: bound the work one flood can cause in a
 * single loop iteration (the rest waits in the backlog for the next). */
#define SRV_ACCEPT_BURST 64

void srv_init(struct srv *s, int lfd, enum srv_proto proto, size_t max_request,
	      srv_respond_fn respond, void *data)
{
	memset(s, 0, sizeof(*s));
	s->lfd = lfd;
	s->proto = proto;
	s->max_request = max_request;
	s->respond = respond;
	s->data = data;
	if (lfd >= 0)
		fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
}

static void conn_close(struct srv_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void srv_close(struct srv *s)
{
	for (size_t i = 0; i < s->n; i++)
		conn_close(&s->conns[i]);
	s->n = 0;
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
}

size_t srv_pollfds(const struct srv *s, struct pollfd *p)
{
	size_t k = 0;

	if (s->lfd < 0)
		return 0;
	p[k++] = (struct pollfd){s->lfd, POLLIN, 0};
	for (size_t i = 0; i < s->n; i++)
		p[k++] = (struct pollfd){s->conns[i].fd, s->conns[i].out ? POLLOUT : POLLIN, 0};
	return k;
}

static bool request_complete(const struct srv *s, const struct srv_conn *c)
{
	if (s->proto == SRV_LINE)
		return memchr(c->in, '\n', c->in_len) != NULL;
	return strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n");
}

/* Returns false when the connection is finished (closed or to close). */
static bool conn_read(struct srv *s, struct srv_conn *c)
{
	for (;;) {
		ssize_t n;

		if (!c->in) {
			c->in = malloc(s->max_request + 1);
			if (!c->in)
				return false;
		}
		n = recv(c->fd, c->in + c->in_len, s->max_request - c->in_len, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			break; /* EOF: answer what we have (the protocol says "a line") */
		c->in_len += n;
		c->in[c->in_len] = '\0';
		if (request_complete(s, c) || c->in_len == s->max_request)
			break;
	}
	if (!c->in_len)
		return false;
	c->in[c->in_len] = '\0';
	/* An over-long request is answered (with an error) by respond(),
	 * which sees no terminator; the rest of it is never read. */
	c->out = s->respond(s->data, c->in, c->in_len, &c->out_len);
	free(c->in);
	c->in = NULL;
	c->in_len = 0;
	return c->out != NULL;
}

static bool conn_write(struct srv_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += n;
	}
	return false;
}

static void accept_new(struct srv *s, uint64_t now_ns)
{
	for (int i = 0; i < SRV_ACCEPT_BURST; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		if (s->n == SRV_MAX_CONNS) {
			s->refused++;
			close(fd);
			continue;
		}
		s->conns[s->n++] = (struct srv_conn){
			.fd = fd, .deadline_ns = now_ns + SRV_DEADLINE_MS * 1000000ull};
	}
}

void srv_dispatch(struct srv *s, const struct pollfd *p, size_t n, uint64_t now_ns)
{
	size_t kept = 0;

	if (s->lfd < 0 || !n)
		return;
	for (size_t i = 0; i < s->n && i + 1 < n; i++) {
		struct srv_conn *c = &s->conns[i];
		bool alive = true;

		if (p[i + 1].revents & (POLLERR | POLLNVAL))
			alive = false;
		else if (!c->out && (p[i + 1].revents & (POLLIN | POLLHUP)))
			alive = conn_read(s, c) && conn_write(c);
		else if (c->out && (p[i + 1].revents & (POLLOUT | POLLHUP)))
			alive = conn_write(c);
		if (!alive)
			conn_close(c);
	}
	for (size_t i = 0; i < s->n; i++) {
		struct srv_conn *c = &s->conns[i];

		if (c->fd >= 0 && now_ns >= c->deadline_ns) {
			s->expired++;
			conn_close(c);
		}
		if (c->fd >= 0)
			s->conns[kept++] = *c;
	}
	s->n = kept;
	if (p[0].revents & POLLIN)
		accept_new(s, now_ns);
}

int srv_timeout_ms(const struct srv *s, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < s->n; i++)
		if (s->conns[i].deadline_ns < next)
			next = s->conns[i].deadline_ns;
	if (next == UINT64_MAX)
		return -1;
	return next <= now_ns ? 0 : (int)((next - now_ns + 999999) / 1000000);
}
