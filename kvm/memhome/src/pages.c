// SPDX-License-Identifier: GPL-2.0
#include <numaif.h>
#include <time.h>

#include "pages.h"

static long syscall_move_pages(void *ctx, int pid, unsigned long count, void **pages,
			       const int *nodes, int *status, int flags)
{
	(void)ctx;
	return move_pages(pid, count, pages, nodes, status, flags);
}

static uint64_t ts_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t mh_clock_now_ns(void)
{
	return ts_ns(CLOCK_MONOTONIC);
}

uint64_t mh_clock_cpu_ns(void)
{
	return ts_ns(CLOCK_THREAD_CPUTIME_ID);
}

const struct mh_pages_ops mh_pages_syscall = {
	.move_pages = syscall_move_pages,
};
