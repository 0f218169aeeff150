/* SPDX-License-Identifier: BSD-3-Clause */
/* libxpv internals shared by its source files; nothing here is exported. */
#ifndef _XPV_INTERNAL_H
#define _XPV_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>
#include "uapi/xpv/virtio_numa.h"
#include "xpv/xpv.h"

#ifndef offsetofend
#define offsetofend(TYPE, FIELD) (offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))
#endif

#define XPV_DEFAULT_DEV "/dev/xpv_numa"
#define XPV_DEFAULT_SYSFS "/sys"

struct xpv {
	const struct xpv_page_hdr *page; /* XPV_PAGE_SIZE bytes */
	bool live; /* page is mmap()ed from dev_path */
	bool is_chardev; /* else a regular file (fixtures) */
	char *dev_path;
};

/* The validated, decoded copy behind struct xpv_snapshot. */
struct xpv_snapshot {
	uint64_t version;
	uint64_t updates;
	uint64_t rejects;
	uint32_t flags;
	unsigned int nr_hnodes;
	unsigned int nr_gnodes;
	unsigned int nr_vcpus;
	uint16_t hnode_id[VIRTIO_NUMA_MAX_HNODES];
	uint8_t dist[VIRTIO_NUMA_MAX_HNODES * VIRTIO_NUMA_MAX_HNODES];
	struct snap_gnode {
		uint16_t home;
		uint16_t flags;
		uint64_t size_bytes;
		uint64_t unplaced_bytes;
		uint64_t bytes_on[VIRTIO_NUMA_MAX_HNODES];
	} gnode[VIRTIO_NUMA_MAX_GNODES];
	struct xpv_page_vcpu vcpu[VIRTIO_NUMA_MAX_VCPUS];
};

/* Return a negative errno, setting errno too (libbpf_err()). */
static inline int xpv_err(int ret)
{
	if (ret < 0)
		errno = -ret;
	return ret;
}

static inline void *xpv_err_ptr(int err)
{
	errno = -err;
	return NULL;
}

__attribute__((format(printf, 2, 3))) void xpv_pr(enum xpv_print_level level, const char *fmt, ...);
#define pr_warn(fmt, ...) xpv_pr(XPV_WARN, "libxpv: " fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) xpv_pr(XPV_INFO, "libxpv: " fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) xpv_pr(XPV_DEBUG, "libxpv: " fmt, ##__VA_ARGS__)

/* page.c */
/* xpv_version() that tells a stuck writer (-EAGAIN) from version 0 */
int xpv_version_read(const struct xpv *x, uint64_t *version);
int xpv_snap_take(const struct xpv *x, struct xpv_snapshot *s);
int xpv_hdr_check(const struct xpv_page_hdr *h, bool verbose);

/* sysfs.c: build a static page (seq 0, version 0) from sysfs in buf. */
int xpv_sysfs_page(const char *sysfs_root, void *buf);

#endif /* _XPV_INTERNAL_H */
