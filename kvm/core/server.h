/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request/reply servers behind the control socket and the metrics
 * endpoint, run inside xpvd's period loop without ever blocking it.
 *
 * Every socket is non-blocking; a connection is a small state machine
 * (read the request, then write the reply) advanced only when poll() says
 * it can move.  Each connection has one deadline for the whole exchange
 * (SRV_DEADLINE_MS from accept to the last byte of the reply), requests
 * have a size limit, and each server holds at most SRV_MAX_CONNS clients:
 * beyond that a new connection is accepted and closed at once.  So an
 * idle, slow (a byte a second), flooding or hostile client costs the loop
 * a few syscalls, never a wait.
 */
#ifndef XPV_SERVER_H
#define XPV_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_MAX_CONNS 16
#define SRV_DEADLINE_MS 2000

enum srv_proto {
	SRV_LINE, /* the request ends at the first '\n' (xpvctl) */
	SRV_HTTP, /* the request head ends at an empty line (Prometheus) */
};

/* Build the whole reply (bytes to send, malloc'd) for a complete request
 * (NUL-terminated, terminator included); NULL closes without a reply. */
typedef char *(*srv_respond_fn)(void *data, char *req, size_t len, size_t *reply_len);

struct srv_conn {
	int fd;
	uint64_t deadline_ns;
	char *in;
	size_t in_len;
	char *out; /* NULL while still reading */
	size_t out_len, out_off;
};

struct srv {
	int lfd;
	enum srv_proto proto;
	size_t max_request;
	srv_respond_fn respond;
	void *data;
	size_t n;
	struct srv_conn conns[SRV_MAX_CONNS];
	/* for the metrics: clients turned away, and dropped at their deadline */
	uint64_t refused, expired;
};

/* Take over a listening socket (made non-blocking here). */
void srv_init(struct srv *s, int lfd, enum srv_proto proto, size_t max_request,
	      srv_respond_fn respond, void *data);
/* Close every connection and the listening socket. */
void srv_close(struct srv *s);
/* Append the listening socket and the clients to p (room for
 * 1 + SRV_MAX_CONNS entries); returns how many were added. */
size_t srv_pollfds(const struct srv *s, struct pollfd *p);
/* Act on the poll() results for the entries srv_pollfds() added, then drop
 * the connections past their deadline. */
void srv_dispatch(struct srv *s, const struct pollfd *p, size_t n, uint64_t now_ns);
/* Milliseconds until the next deadline (-1: none), for poll()'s timeout. */
int srv_timeout_ms(const struct srv *s, uint64_t now_ns);

#endif
