/* SPDX-License-Identifier: GPL-2.0 */
/* Finding guest RAM in a QEMU process and measuring where it lives. */
#ifndef MEMHOME_REGIONS_H
#define MEMHOME_REGIONS_H

#include "memhome.h"
#include "qmp.h"

/*
 * Builds the region list from /proc/PID/maps + numa_maps, the memdevs (may be
 * NULL) and the configured specs. Regions without a home get home -1.
 */
int mh_regions_discover(const struct mh_vm_opts *o, const struct mh_memdev *memdevs, int nr_memdevs,
			struct mh_region **out, int *n, struct xpv_error **err);

/* numa_maps pass: fills node_bytes/resident_bytes/remote_bytes of every region. */
int mh_regions_measure(const char *proc_root, int pid, struct mh_region *r, int n,
		       struct xpv_error **err);

/* false once the process is gone or a zombie (its mm is gone) */
bool mh_pid_alive(const char *proc_root, int pid);

#endif
