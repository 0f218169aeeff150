/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libxpv: the live NUMA placement of this VM, as published by the xpv guest
 * driver in /dev/xpv_numa, for applications, allocators and runtimes.
 *
 * Conventions (libbpf's):
 * - functions returning int give a value >= 0 on success and a negative
 *   errno on failure (errno is set too); functions returning a pointer give
 *   NULL with errno set;
 * - handles are opaque; option structs carry their size in `sz` (use
 *   LIBXPV_OPTS());
 * - "node" is a guest NUMA node (what the guest kernel, libnuma and
 *   numactl call node N); "hnode" is a host NUMA node id (as numbered on the
 *   host, possibly sparse); "cpu" is a guest CPU (= vCPU index).
 *
 * Every lookup on a struct xpv reads the shared page under its seqcount,
 * without a lock and without a system call, and is safe from any thread.
 * Common errors: -ENODATA (the device has published no map yet), -EINVAL
 * (argument outside the map), -ENOENT (the map says "unknown" for it),
 * -EBADMSG (the page failed validation), -EAGAIN (the writer held the page
 * for too long; retry later).
 *
 * Without the device (no /dev/xpv_numa), xpv_open() falls back to the static
 * topology in sysfs and reports version 0: the guest nodes are the nodes of
 * this machine, each its own host node, and nothing ever changes.
 */
#ifndef _XPV_XPV_H
#define _XPV_XPV_H

#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBXPV_API __attribute__((visibility("default")))

#define LIBXPV_MAJOR_VERSION 1
#define LIBXPV_MINOR_VERSION 0

#define XPV_MAX_HNODES 64
#define XPV_MAX_NODES 64
#define XPV_MAX_CPUS 1024

/* Declare and zero-initialise an opts struct with its size set. */
#define LIBXPV_OPTS(TYPE, NAME, ...)                                                               \
	struct TYPE NAME = ({                                                                      \
		memset(&NAME, 0, sizeof(struct TYPE));                                             \
		(struct TYPE){.sz = sizeof(struct TYPE), __VA_ARGS__};                             \
	})

/* xpv_open_opts.flags */
enum {
	XPV_OPEN_NO_FALLBACK = 1u << 0, /* fail with ENOENT, no sysfs */
	XPV_OPEN_FORCE_FALLBACK = 1u << 1, /* ignore the device, use sysfs */
};

struct xpv_open_opts {
	size_t sz; /* sizeof(struct xpv_open_opts) */
	/* the page to map; default "/dev/xpv_numa" (a regular file of at least
	 * 64 KiB, written with the same seqcount protocol, also works) */
	const char *dev_path;
	/* root of sysfs for the fallback; default "/sys" */
	const char *sysfs_root;
	unsigned int flags; /* XPV_OPEN_* */
	size_t : 0;
};
#define xpv_open_opts__last_field flags

struct xpv;
struct xpv_snapshot;

/* Open the map; opts may be NULL. NULL with errno set on failure. */
LIBXPV_API struct xpv *xpv_open(const struct xpv_open_opts *opts);
/* Accepts NULL. Snapshots taken from x stay valid after it. */
LIBXPV_API void xpv_close(struct xpv *x);

/* 1: live map from the device; 0: static sysfs fallback. */
LIBXPV_API int xpv_is_live(const struct xpv *x);

/*
 * Version of the published map: 0 in the fallback or before the first map.
 * Cheap (a few loads): check it on slow paths and rebuild derived tables
 * when it changed. Never fails (returns 0 if the page cannot be read).
 */
LIBXPV_API uint64_t xpv_version(const struct xpv *x);

/* Fast lookups: no lock, no system call. */
LIBXPV_API int xpv_cpu_node(const struct xpv *x, int cpu); /* guest node */
LIBXPV_API int xpv_cpu_hnode(const struct xpv *x, int cpu); /* host node id */
/* host CPU the vCPU last ran on; -ENOENT if the device does not know */
LIBXPV_API long xpv_cpu_host_cpu(const struct xpv *x, int cpu);
/* the same for the calling thread's current CPU (sched_getcpu via rseq or
 * the vDSO) */
LIBXPV_API int xpv_current_node(const struct xpv *x);
LIBXPV_API int xpv_current_hnode(const struct xpv *x);

/* Table sizes of the current map (CPU indices are 0..nr_cpus-1). */
LIBXPV_API int xpv_nr_cpus(const struct xpv *x);
LIBXPV_API int xpv_nr_nodes(const struct xpv *x);
LIBXPV_API int xpv_nr_hnodes(const struct xpv *x);

/*
 * CPUs the guest kernel currently maps to guest node `node`, into *set
 * (setsize bytes, as for CPU_SET_S). Returns how many; -ERANGE if a CPU
 * does not fit in the set.
 */
LIBXPV_API int xpv_node_cpus(const struct xpv *x, int node, cpu_set_t *set, size_t setsize);
/* CPUs currently running on host node id `hnode`. */
LIBXPV_API int xpv_hnode_cpus(const struct xpv *x, int hnode, cpu_set_t *set, size_t setsize);

/* SLIT distance between two host node ids (10 local, 255 unreachable). */
LIBXPV_API int xpv_hnode_distance(const struct xpv *x, int hnode_a, int hnode_b);
/* Distance between the homes of two guest nodes, as the host sees it now;
 * -ENOENT if either has no home. */
LIBXPV_API int xpv_node_distance(const struct xpv *x, int node_a, int node_b);

/* xpv_node_mem.flags */
enum {
	XPV_NODE_F_BOUND = 1u << 0, /* home comes from a bind policy */
	XPV_NODE_F_MAJORITY = 1u << 1, /* home is where most pages are */
};

/* Where the memory of one guest node lives on the host. */
struct xpv_node_mem {
	int home; /* host node id, or -1 if unknown */
	unsigned int flags; /* XPV_NODE_F_* */
	uint64_t size_bytes;
	uint64_t unplaced_bytes; /* not resident or on an unlisted node */
	unsigned int nr_hnodes; /* entries used in the arrays below */
	int hnode[XPV_MAX_HNODES]; /* host node id of entry i */
	uint64_t bytes_on[XPV_MAX_HNODES]; /* estimated bytes on hnode[i] */
};

/* -ENOENT if the map has no entry for the guest node. */
LIBXPV_API int xpv_node_mem(const struct xpv *x, int node, struct xpv_node_mem *mem);

/*
 * Block until the map version differs from *version or timeout_ms passes
 * (-1: forever, 0: just check). Returns 1 and stores the new version in
 * *version if it changed, 0 on timeout, -EINTR on a signal, -ENODEV if the
 * device went away, -EAGAIN if the writer held the page. Blocks in poll() on
 * the device (on a regular page file: inotify, so rewrite it with write());
 * in the fallback nothing ever changes, so it only times out. Safe to call
 * from several threads at once.
 */
LIBXPV_API int xpv_wait(const struct xpv *x, uint64_t *version, int timeout_ms);

/*
 * A consistent copy of the whole map, taken under the seqcount and fully
 * validated. Accessors take host node ids and guest node/CPU numbers like
 * the live calls; xpv_snapshot__hnode_id() enumerates the host nodes.
 */
LIBXPV_API struct xpv_snapshot *xpv_snapshot(const struct xpv *x);
LIBXPV_API void xpv_snapshot_free(struct xpv_snapshot *s);

/* xpv_snapshot__flags() */
enum {
	XPV_SNAP_F_MIRRORED = 1u << 0, /* guest kernel cpu-to-node follows */
	XPV_SNAP_F_FALLBACK = 1u << 31, /* built from sysfs, not the device */
};

LIBXPV_API uint64_t xpv_snapshot__version(const struct xpv_snapshot *s);
LIBXPV_API unsigned int xpv_snapshot__flags(const struct xpv_snapshot *s);
/* maps accepted / rejected by the driver since it loaded */
LIBXPV_API uint64_t xpv_snapshot__updates(const struct xpv_snapshot *s);
LIBXPV_API uint64_t xpv_snapshot__rejects(const struct xpv_snapshot *s);
LIBXPV_API int xpv_snapshot__nr_cpus(const struct xpv_snapshot *s);
LIBXPV_API int xpv_snapshot__nr_nodes(const struct xpv_snapshot *s);
LIBXPV_API int xpv_snapshot__nr_hnodes(const struct xpv_snapshot *s);
/* host node id of index 0..nr_hnodes-1 */
LIBXPV_API int xpv_snapshot__hnode_id(const struct xpv_snapshot *s, int idx);
LIBXPV_API int xpv_snapshot__hnode_distance(const struct xpv_snapshot *s, int hnode_a, int hnode_b);
LIBXPV_API int xpv_snapshot__node_distance(const struct xpv_snapshot *s, int node_a, int node_b);
LIBXPV_API int xpv_snapshot__cpu_node(const struct xpv_snapshot *s, int cpu);
LIBXPV_API int xpv_snapshot__cpu_hnode(const struct xpv_snapshot *s, int cpu);
LIBXPV_API long xpv_snapshot__cpu_host_cpu(const struct xpv_snapshot *s, int cpu);
LIBXPV_API int xpv_snapshot__node_cpus(const struct xpv_snapshot *s, int node, cpu_set_t *set,
				       size_t setsize);
LIBXPV_API int xpv_snapshot__hnode_cpus(const struct xpv_snapshot *s, int hnode, cpu_set_t *set,
					size_t setsize);
LIBXPV_API int xpv_snapshot__node_mem(const struct xpv_snapshot *s, int node,
				      struct xpv_node_mem *mem);

/*
 * Diagnostics (why a page was rejected, why the fallback was used).
 * Default: warnings to stderr. Returns the previous function; NULL silences.
 */
enum xpv_print_level {
	XPV_WARN,
	XPV_INFO,
	XPV_DEBUG,
};
typedef int (*xpv_print_fn_t)(enum xpv_print_level level, const char *fmt, va_list ap);
LIBXPV_API xpv_print_fn_t xpv_set_print(xpv_print_fn_t fn);

#ifdef __cplusplus
}
#endif
#endif /* _XPV_XPV_H */
