/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libnuma adaptation: libnuma caches the CPU-to-node map it read from sysfs
 * (numa_node_of_cpu(), numa_node_to_cpus()) and never re-reads it by itself.
 * When the xpv driver mirrors the map into the guest kernel
 * (XPV_SNAP_F_MIRRORED), sysfs changes with each new map; call
 * xpv_numa_refresh() from a slow path (or after xpv_wait() returned 1) so
 * libnuma follows. Header-only, so libxpv itself does not depend on libnuma:
 * the program links -lnuma.
 */
#ifndef _XPV_XPV_NUMA_H
#define _XPV_XPV_NUMA_H

#include <numa.h>
#include <xpv/xpv.h>

#if LIBNUMA_API_VERSION < 2
#error "xpv-numa.h needs libnuma API version 2 (numa_node_to_cpu_update)"
#endif

/* Returns 1 if the map changed since *seen (then updated) and libnuma was
 * told to re-read its CPU-to-node map, else 0. Cheap when nothing changed. */
static inline int xpv_numa_refresh(const struct xpv *x, uint64_t *seen)
{
	uint64_t v = xpv_version(x);

	if (v == *seen)
		return 0;
	*seen = v;
	numa_node_to_cpu_update();
	return 1;
}

#endif /* _XPV_XPV_NUMA_H */
