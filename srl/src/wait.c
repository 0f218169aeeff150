// SPDX-License-Identifier: BSD-3-Clause
/*
 * Waiting for a new map. Each call arms its own wakeup source before it
 * compares versions, so a map published between the comparison and poll()
 * still wakes it, and concurrent waiters cannot steal each other's wakeups:
 * - the device: a fresh open file, read once (marks the current map seen);
 *   poll() then reports POLLIN when a newer map is published;
 * - a regular file (test fixtures, replayed pages): inotify IN_MODIFY, which
 *   write()s to the file trigger.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* a page header, or a batch of inotify events */
#define DRAIN_BUF 4096

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Consume what made the fd readable. The device: a read() of any length
 * marks the current map seen (docs/guest-abi.md §3.3); pread at offset 0, as
 * read() at the file offset would reach EOF and mark nothing. inotify: drain
 * the queued events.
 */
static int drain(const struct xpv *x, int fd, void *buf)
{
	ssize_t n = x->is_chardev ? pread(fd, buf, sizeof(struct xpv_page_hdr), 0)
				  : read(fd, buf, DRAIN_BUF);

	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		int err = -errno;

		pr_warn("%s: read: %s\n", x->dev_path, strerror(-err));
		return err;
	}
	return 0;
}

static int arm(const struct xpv *x, void *buf)
{
	int fd, err;

	if (x->is_chardev) {
		fd = open(x->dev_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		err = drain(x, fd, buf);
	} else {
		fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (fd < 0)
			return -errno;
		err = inotify_add_watch(fd, x->dev_path, IN_MODIFY | IN_CLOSE_WRITE) < 0 ? -errno
											 : 0;
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int sleep_only(int timeout_ms)
{
	if (poll(NULL, 0, timeout_ms) < 0)
		return -errno;
	return 0;
}

int xpv_wait(const struct xpv *x, uint64_t *version, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct pollfd pfd = {.events = POLLIN};
	void *buf = NULL;
	uint64_t v;
	int ret;

	if (!x || !version)
		return xpv_err(-EINVAL);
	if (!x->live) {
		v = xpv_version(x);
		if (v != *version) {
			*version = v;
			return 1;
		}
		return xpv_err(sleep_only(timeout_ms));
	}
	buf = malloc(DRAIN_BUF);
	if (!buf)
		return xpv_err(-ENOMEM);
	pfd.fd = ret = arm(x, buf);
	if (ret < 0) {
		pr_warn("%s: cannot wait for changes: %s\n", x->dev_path, strerror(-ret));
		goto out;
	}
	for (;;) {
		int64_t left = deadline - now_ms();

		ret = xpv_version_read(x, &v);
		if (ret)
			break;
		if (v != *version) {
			*version = v;
			ret = 1;
			break;
		}
		if (timeout_ms >= 0 && left <= 0) {
			ret = 0;
			break;
		}
		ret = poll(&pfd, 1, timeout_ms < 0 ? -1 : (int)left);
		if (ret < 0) {
			ret = -errno;
			break;
		}
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
			pr_warn("%s: device went away\n", x->dev_path);
			ret = -ENODEV;
			break;
		}
		if (ret > 0) {
			ret = drain(x, pfd.fd, buf);
			if (ret)
				break;
		}
	}
	close(pfd.fd);
out:
	free(buf);
	return xpv_err(ret);
}
