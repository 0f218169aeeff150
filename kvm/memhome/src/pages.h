/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The environment seam: move_pages() and the clocks. The engine never calls
 * them directly, so the unit tests can drive it with a fake page table
 * (unmovable pages, a target that exits half-way) and a fake clock.
 */
#ifndef MEMHOME_PAGES_H
#define MEMHOME_PAGES_H

#include <stdint.h>

struct mh_pages_ops {
	/* As move_pages(2): nodes NULL queries; returns -1 with errno set, or
	 * the number of pages not migrated. */
	long (*move_pages)(void *ctx, int pid, unsigned long count, void **pages, const int *nodes,
			   int *status, int flags);
	/* CLOCK_MONOTONIC and CLOCK_THREAD_CPUTIME_ID in ns; NULL = the real ones */
	uint64_t (*now_ns)(void *ctx);
	uint64_t (*cpu_ns)(void *ctx);
};

extern const struct mh_pages_ops mh_pages_syscall;

uint64_t mh_clock_now_ns(void);
uint64_t mh_clock_cpu_ns(void);

#endif
