/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libxpv-jemalloc: Debian's unmodified jemalloc 5.3 following the VM's live
 * NUMA map (srl/README.md "Allocators").
 *
 * One jemalloc arena per guest node, created with arenas.create and extent
 * hooks that mbind() every new extent to that node before it is touched. A
 * thread whose vCPU moved (libxpv's map version changed, or the thread runs
 * on another CPU) switches to the arena of the guest node whose memory lives
 * on the host node its vCPU runs on now (thread.arena) and flushes its tcache
 * (thread.tcache.flush), so even small sizes served from the tcache come
 * from local memory afterwards.
 *
 * Enable it by linking (-lxpv-jemalloc before -ljemalloc) or with
 * LD_PRELOAD=libxpv-jemalloc.so.1 (it pulls libjemalloc.so.2 in): it
 * interposes malloc() and calloc(), checks on each call (a sched_getcpu()
 * and xpv_version(), a few ns) and forwards to jemalloc's mallocx(). Without
 * a live map (no /dev/xpv_numa, fewer than 2 guest nodes) or with
 * XPV_JEMALLOC=0 it does nothing but forward.
 *
 * Environment: XPV_JEMALLOC=0 turns it off; XPV_JEMALLOC_DEV=PATH maps
 * another page (tests: a fake page written as the driver does);
 * XPV_JEMALLOC_DEBUG=1 lets libxpv's diagnostics through to stderr.
 */
#ifndef _XPV_JEMALLOC_H
#define _XPV_JEMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XPV_JEMALLOC_API __attribute__((visibility("default")))
#define XPV_JEMALLOC_MAX_NODES 64

struct xpv_jemalloc_stats {
	int active; /* 1: arenas created and following the map */
	int nr_nodes; /* guest nodes, one arena each */
	unsigned long switches; /* arena switches (all threads) */
	struct {
		unsigned arena; /* jemalloc arena index */
		unsigned long extents; /* extents this node's hooks allocated */
		unsigned long bind_failed; /* of which mbind() failed (left unbound) */
	} node[XPV_JEMALLOC_MAX_NODES];
};

/*
 * Check now (what malloc() does on each call): initialise on first use,
 * switch the calling thread's arena and flush its tcache if its node
 * changed. Returns the guest node whose arena the thread uses, -ENODATA
 * while none is known (no map published yet, CPU not in the map: the thread
 * stays in jemalloc's automatic arena), -ENODEV when inactive (no live map,
 * one guest node, turned off), -errno on a jemalloc error.
 */
XPV_JEMALLOC_API int xpv_jemalloc_follow(void);

/* Copy the counters; 0 or -EINVAL (NULL). */
XPV_JEMALLOC_API int xpv_jemalloc_stats(struct xpv_jemalloc_stats *st);

#ifdef __cplusplus
}
#endif

#endif
