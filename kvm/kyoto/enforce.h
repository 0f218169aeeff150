/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CFS bandwidth control behind a small vtable: cgroup v1
 * (cpu.cfs_quota_us + cpu.cfs_period_us) and v2 (cpu.max).  Paths are
 * absolute cgroup directories.  quota_us < 0 means "no limit".
 */
#ifndef XPV_ENFORCE_H
#define XPV_ENFORCE_H

#include <stdint.h>

#include "error.h"

#define CFS_MIN_US 1000 /* kernel min_cfs_quota_period */
#define CFS_MAX_PERIOD_US 1000000

struct cfs_bw {
	int64_t quota_us; /* -1: max */
	int64_t period_us;
};

struct cg_ops {
	int version;
	int (*read_bw)(const char *dir, struct cfs_bw *bw, struct xpv_error **err);
	int (*write_bw)(const char *dir, const struct cfs_bw *bw, struct xpv_error **err);
	/* cpu.stat nr_throttled */
	int (*read_throttled)(const char *dir, uint64_t *n, struct xpv_error **err);
	/* file listing the threads of the group */
	const char *threads_file;
};

extern const struct cg_ops cg_v1_ops, cg_v2_ops;

/*
 * Find the cpu controller under root: v2 if root has cgroup.controllers
 * listing "cpu", v1 if root/cpu (or root/cpu,cpuacct) has
 * cpu.cfs_quota_us.  version forces one (0: auto).  *mount gets the
 * directory the cgroup paths are relative to.
 */
int enforce_detect(const char *root, int version, const struct cg_ops **ops, char **mount,
		   struct xpv_error **err);

/*
 * The quota to write for a CPU cap of `cpus` CPUs on a group whose
 * original setting is orig: never above the original, at least 1 ms (the
 * kernel's minimum CFS quota), on v1 never above the tightest ancestor
 * ratio between dir and mount (the kernel would refuse it with EINVAL),
 * and on v1 never below the largest ratio of a descendant group (the
 * kernel refuses a parent quota below a child's, EINVAL too).  Returns 0,
 * or a mask of ENFORCE_AT_* saying which bound raised the quota above the
 * cap asked for (the caller reports it), or < 0 on error.
 */
#define ENFORCE_AT_MIN 1 /* period x cap < 1 ms */
#define ENFORCE_AT_CHILD 2 /* v1: a descendant has a higher ratio */
int enforce_quota_for(const struct cg_ops *ops, const char *mount, const char *dir,
		      const struct cfs_bw *orig, double cpus, struct cfs_bw *out,
		      struct xpv_error **err);
/* v1: the largest quota/period ratio set on a group below dir (0: none). */
int enforce_v1_descendants_ratio(const struct cg_ops *ops, const char *dir, double *ratio,
				 struct xpv_error **err);

#endif
