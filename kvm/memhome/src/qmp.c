// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp.h"

#define QMP_LINE_MAX (4 << 20)

/* Every exchange (the open: connect, greeting and capabilities; then each
 * command: request and reply) must finish within timeout_ms of its start.
 * The deadline is absolute, so a monitor that trickles bytes, or accepts
 * and never answers, costs at most timeout_ms: xpvd calls this from its
 * period loop. */
struct mh_qmp {
	int fd;
	int timeout_ms;
	uint64_t deadline_ns;
	char *buf;
	size_t len, cap;
	int next_id;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void start_exchange(struct mh_qmp *q)
{
	q->deadline_ns = now_ns() + (uint64_t)q->timeout_ms * 1000000ull;
}

/* Wait for events on the socket until the exchange's deadline. */
static int wait_fd(struct mh_qmp *q, short events, struct xpv_error **err)
{
	for (;;) {
		struct pollfd pfd = {.fd = q->fd, .events = events};
		uint64_t now = now_ns();
		int pr;

		if (now >= q->deadline_ns)
			return xpv_error_set(err, ETIMEDOUT, "QMP: no reply within %d ms",
					     q->timeout_ms);
		pr = poll(&pfd, 1, (int)((q->deadline_ns - now + 999999) / 1000000));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return xpv_error_set(err, errno, "QMP: poll");
		if (pr > 0)
			return 0;
	}
}

/* Reads one JSON message (QMP ends each with "\r\n"). */
static int qmp_read(struct mh_qmp *q, json_t **out, struct xpv_error **err)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		json_error_t jerr;
		ssize_t r;
		int rc;

		if (nl) {
			size_t line = nl - q->buf + 1;
			json_t *j = json_loadb(q->buf, line, 0, &jerr);

			memmove(q->buf, q->buf + line, q->len - line);
			q->len -= line;
			if (!j)
				return xpv_error_set(err, EPROTO, "QMP: bad JSON: %s", jerr.text);
			*out = j;
			return 0;
		}
		if (q->len + 4096 > q->cap) {
			char *nb;

			if (q->cap >= QMP_LINE_MAX)
				return xpv_error_set(err, EMSGSIZE,
						     "QMP: reply longer than %d bytes",
						     QMP_LINE_MAX);
			nb = realloc(q->buf, q->cap ? q->cap * 2 : 65536);
			if (!nb)
				return xpv_error_set(err, ENOMEM, "QMP: buffer");
			q->buf = nb;
			q->cap = q->cap ? q->cap * 2 : 65536;
		}
		rc = wait_fd(q, POLLIN, err);
		if (rc)
			return rc;
		r = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return xpv_error_set(err, errno, "QMP: read");
		if (r == 0)
			return xpv_error_set(err, ECONNRESET, "QMP: connection closed");
		q->len += r;
	}
}

static int qmp_write(struct mh_qmp *q, json_t *msg, struct xpv_error **err)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;

	if (!s)
		return xpv_error_set(err, ENOMEM, "QMP: encoding");
	len = strlen(s);
	while (off < len) {
		ssize_t w = send(q->fd, s + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EAGAIN) {
			int rc = wait_fd(q, POLLOUT, err);

			if (rc) {
				free(s);
				return rc;
			}
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			free(s);
			return xpv_error_set(err, errno, "QMP: write");
		}
		off += w;
	}
	free(s);
	return 0;
}

/* One command within the deadline already running. */
static int mh_qmp_execute_until(struct mh_qmp *q, const char *cmd, json_t *args, json_t **ret,
				struct xpv_error **err);

int mh_qmp_execute(struct mh_qmp *q, const char *cmd, json_t *args, json_t **ret,
		   struct xpv_error **err)
{
	start_exchange(q);
	return mh_qmp_execute_until(q, cmd, args, ret, err);
}

static int mh_qmp_execute_until(struct mh_qmp *q, const char *cmd, json_t *args, json_t **ret,
				struct xpv_error **err)
{
	json_t *msg, *reply = NULL, *id;
	int rc, my_id = ++q->next_id;

	msg = json_pack("{s:s, s:i}", "execute", cmd, "id", my_id);
	if (!msg)
		return xpv_error_set(err, ENOMEM, "QMP: %s", cmd);
	if (args)
		json_object_set(msg, "arguments", args);
	rc = qmp_write(q, msg, err);
	json_decref(msg);
	if (rc)
		return rc;
	for (;;) {
		rc = qmp_read(q, &reply, err);
		if (rc) {
			xpv_error_wrap(err, "%s", cmd);
			return rc;
		}
		id = json_object_get(reply, "id");
		if (json_object_get(reply, "event") || !json_is_integer(id) ||
		    json_integer_value(id) != my_id) {
			json_decref(reply);
			continue;
		}
		break;
	}
	if (json_object_get(reply, "error")) {
		const char *desc =
			json_string_value(json_object_get(json_object_get(reply, "error"), "desc"));

		rc = xpv_error_set(err, EREMOTEIO, "QMP %s: %s", cmd, desc ? desc : "error");
		json_decref(reply);
		return rc;
	}
	if (ret) {
		*ret = json_object_get(reply, "return");
		json_incref(*ret);
	}
	json_decref(reply);
	return 0;
}

int mh_qmp_open(const char *path, int timeout_ms, struct mh_qmp **out, struct xpv_error **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct mh_qmp *q;
	json_t *greeting = NULL;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return xpv_error_set(err, ENAMETOOLONG, "QMP socket path `%s` too long", path);
	strcpy(sa.sun_path, path);
	q = calloc(1, sizeof(*q));
	if (!q)
		return xpv_error_set(err, ENOMEM, "QMP");
	q->timeout_ms = timeout_ms;
	start_exchange(q);
	/* Non-blocking: a monitor whose backlog is full is an error, not a
	 * wait (connect on a UNIX socket then fails with EAGAIN). */
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0) {
		rc = xpv_error_set(err, errno, "QMP socket");
		goto fail;
	}
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = xpv_error_set(err, errno, "connecting to QMP socket `%s`", path);
		goto fail;
	}
	rc = qmp_read(q, &greeting, err);
	if (rc)
		goto fail;
	if (!json_object_get(greeting, "QMP")) {
		json_decref(greeting);
		rc = xpv_error_set(err, EPROTO, "`%s` did not greet with QMP", path);
		goto fail;
	}
	json_decref(greeting);
	/* the capabilities negotiation is part of the open's budget */
	rc = mh_qmp_execute_until(q, "qmp_capabilities", NULL, NULL, err);
	if (rc)
		goto fail;
	*out = q;
	return 0;
fail:
	mh_qmp_close(q);
	return rc;
}

void mh_qmp_close(struct mh_qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	free(q);
}

static int get_bool(json_t *o, const char *key, bool *out, int i, struct xpv_error **err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return xpv_error_set(err, EPROTO, "query-memdev[%d]: `%s` missing or not a bool", i,
				     key);
	*out = json_is_true(v);
	return 0;
}

int mh_memdev_parse(json_t *ret, struct mh_memdev **out, int *n, struct xpv_error **err)
{
	struct mh_memdev *m;
	size_t i, count;
	int rc;

	if (!json_is_array(ret))
		return xpv_error_set(err, EPROTO, "query-memdev: not a list");
	count = json_array_size(ret);
	m = calloc(count ? count : 1, sizeof(*m));
	if (!m)
		return xpv_error_set(err, ENOMEM, "query-memdev");
	for (i = 0; i < count; i++) {
		json_t *o = json_array_get(ret, i), *v, *node;
		const char *s;
		size_t k;

		if (!json_is_object(o)) {
			rc = xpv_error_set(err, EPROTO, "query-memdev[%zu]: not an object", i);
			goto fail;
		}
		v = json_object_get(o, "id");
		s = json_string_value(v);
		if (v && (!s || strlen(s) >= sizeof(m[i].id))) {
			rc = xpv_error_set(err, EPROTO, "query-memdev[%zu]: bad `id`", i);
			goto fail;
		}
		snprintf(m[i].id, sizeof(m[i].id), "%s", s ? s : "");
		v = json_object_get(o, "size");
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			rc = xpv_error_set(err, EPROTO, "query-memdev[%zu]: bad `size`", i);
			goto fail;
		}
		m[i].size = json_integer_value(v);
		rc = get_bool(o, "merge", &m[i].merge, i, err);
		rc = rc ?: get_bool(o, "share", &m[i].share, i, err);
		rc = rc ?: get_bool(o, "prealloc", &m[i].prealloc, i, err);
		if (rc)
			goto fail;
		s = json_string_value(json_object_get(o, "policy"));
		if (!s || (strcmp(s, "default") && strcmp(s, "preferred") && strcmp(s, "bind") &&
			   strcmp(s, "interleave"))) {
			rc = xpv_error_set(err, EPROTO, "query-memdev[%zu]: bad `policy`", i);
			goto fail;
		}
		snprintf(m[i].policy, sizeof(m[i].policy), "%s", s);
		v = json_object_get(o, "host-nodes");
		if (!json_is_array(v)) {
			rc = xpv_error_set(err, EPROTO, "query-memdev[%zu]: bad `host-nodes`", i);
			goto fail;
		}
		json_array_foreach (v, k, node) {
			json_int_t nn = json_integer_value(node);

			if (!json_is_integer(node) || nn < 0 || nn >= 64) {
				rc = xpv_error_set(
					err, EPROTO,
					"query-memdev[%zu]: host-nodes[%zu] out of range", i, k);
				goto fail;
			}
			m[i].host_nodes |= 1ull << nn;
		}
	}
	*out = m;
	*n = (int)count;
	return 0;
fail:
	free(m);
	return rc;
}

int mh_memdev_home(const struct mh_memdev *m)
{
	return m->host_nodes ? __builtin_ctzll(m->host_nodes) : -1;
}
