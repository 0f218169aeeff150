/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-numa map blob, format 2: parser/validator (docs/virtio-numa.md,
 * /work/coord/protocol-v2.md "Driver validation") and the
 * layout of the user-space page (docs/guest-abi.md).  Pure functions over
 * memory buffers: no allocation, no locking, no device access, so the same
 * file is unit-tested and fuzzed in user space.
 */
#ifndef VNUMA_MAP_H
#define VNUMA_MAP_H

#include "vnuma_compat.h"
#include <xpv/virtio_numa.h>

#define VNUMA_MAP_HDR_LEN VIRTIO_NUMA_MAP_HDR_LEN /* format 2 header */

struct vnuma_gnode {
	u16 home; /* host-node index or VIRTIO_NUMA_NO_NODE */
	u16 flags;
	u64 size_bytes;
	u64 unplaced_bytes;
	u64 bytes_on[VIRTIO_NUMA_MAX_HNODES]; /* first nr_hnodes valid */
};

struct vnuma_vcpu {
	u32 arch_id; /* APIC ID on x86: which guest CPU this entry is */
	u32 host_cpu;
	u16 hnode; /* host-node index or VIRTIO_NUMA_NO_NODE */
	u16 flags; /* VIRTIO_NUMA_VCPU_F_PRESENT */
};

/* A validated map in native byte order; only the first nr_* entries are valid. */
struct vnuma_map {
	u64 version;
	u16 nr_hnodes;
	u16 nr_gnodes;
	u16 nr_vcpus;
	u16 hnode_id[VIRTIO_NUMA_MAX_HNODES];
	/* row-major nr_hnodes x nr_hnodes: dist[i * nr_hnodes + j] */
	u8 dist[VIRTIO_NUMA_MAX_HNODES * VIRTIO_NUMA_MAX_HNODES];
	struct vnuma_gnode gnode[VIRTIO_NUMA_MAX_GNODES];
	struct vnuma_vcpu vcpu[VIRTIO_NUMA_MAX_VCPUS];
};

/* Why a blob was rejected; one code per rule so tests can tell them apart. */
enum vnuma_map_err {
	VNUMA_OK = 0,
	VNUMA_E_SHORT, /* used length below the 48-byte header */
	VNUMA_E_MAP_LEN, /* used length above max_map_len */
	VNUMA_E_MAGIC,
	VNUMA_E_FORMAT,
	VNUMA_E_HDR_LEN, /* hdr_len < 48 or > total_len */
	VNUMA_E_TOTAL_LEN, /* total_len != used length */
	VNUMA_E_NR_HNODES, /* outside 1..config max_hnodes */
	VNUMA_E_NR_GNODES, /* != config nr_gnodes */
	VNUMA_E_NR_VCPUS, /* != config nr_vcpus */
	VNUMA_E_STRIDE, /* gnode_stride too small or not a multiple of 8 */
	VNUMA_E_TABLE_BOUNDS, /* a table outside [hdr_len, total_len) */
	VNUMA_E_TABLE_OVERLAP,
	VNUMA_E_HNODE_ID, /* host-node id >= 1024 */
	VNUMA_E_HNODE_DUP, /* host-node id repeated */
	VNUMA_E_DIST,
	VNUMA_E_HOME, /* guest-node home index out of range */
	VNUMA_E_VCPU_HNODE, /* vCPU host-node index out of range */
	VNUMA_E_BYTES, /* byte counts overflow or exceed size_bytes */
	VNUMA_E_MEMORYLESS, /* MEMORYLESS guest node with a size */
	VNUMA_E_ARCH_ID_DUP, /* two present vCPUs with one arch_id */
	VNUMA_E_STALE, /* version lower than the map already held */
	VNUMA_E_DUPLICATE, /* version equal to the map held: dropped, not a reject */
	VNUMA_E__COUNT
};

/* Details for the log line: which rule, which entry, which value. */
struct vnuma_map_error {
	enum vnuma_map_err code;
	u32 index; /* table entry concerned, or 0 */
	u64 value; /* offending value */
};

/*
 * What the blob is checked against: the device's fixed limits (config space,
 * read once at probe and checked there) and the map the driver holds.
 */
struct vnuma_map_ctx {
	u32 max_map_len; /* config.max_map_len (<= VIRTIO_NUMA_MAX_MAP_LEN) */
	u16 max_hnodes; /* config.max_hnodes (<= VIRTIO_NUMA_MAX_HNODES) */
	u16 nr_gnodes; /* config.nr_gnodes (1..VIRTIO_NUMA_MAX_GNODES) */
	u16 nr_vcpus; /* config.nr_vcpus (1..VIRTIO_NUMA_MAX_VCPUS) */
	u64 held_version; /* version of the map currently held, 0 if none */
};

/*
 * Validate blob[0..len) (len = the used length the device returned; blob must
 * be readable up to min(len, ctx->max_map_len)) and fill *out.  Returns 0;
 * -EALREADY for a valid map of the version already held (a duplicate, not a
 * reject); or -EINVAL with *why filled.  On failure *out is undefined and must
 * not be used.
 */
int vnuma_map_parse(const void *blob, size_t len, const struct vnuma_map_ctx *ctx,
		    struct vnuma_map *out, struct vnuma_map_error *why);

const char *vnuma_map_strerror(enum vnuma_map_err code);

/* Host-node index of host node id @id, or -1. */
int vnuma_map_hnode_index(const struct vnuma_map *m, u16 id);

/*
 * Page layout (struct xpv_page_hdr and the tables it points to).  Writes the
 * header except hdr->seq, which belongs to the caller's seqcount, and the
 * tables, and zeroes the rest of page[0..max(used, prev_used)); prev_used is
 * what the previous call returned (the page beyond it must already be zero).
 * m NULL: header only, version 0.  gnode_of_vcpu[i] (NULL: all unknown) is
 * the kernel's node of CPU i.  Returns the bytes used, or 0 if the map does
 * not fit in size (the page is then untouched).
 */
struct vnuma_page_info {
	u32 flags; /* XPV_PAGE_F_* */
	u64 updates;
	u64 rejects;
};

size_t vnuma_page_fill(void *page, size_t size, size_t prev_used, const struct vnuma_map *m,
		       const u16 *gnode_of_vcpu, const struct vnuma_page_info *info);

/* Largest page a valid map can need; BUILD_BUG_ON'd against XPV_PAGE_SIZE. */
#define VNUMA_PAGE_ALIGN8(x) (((x) + 7u) & ~7u)
#define VNUMA_PAGE_MAX_USED                                                                        \
	(VNUMA_PAGE_ALIGN8(sizeof(struct xpv_page_hdr)) +                                          \
	 VNUMA_PAGE_ALIGN8(2u * VIRTIO_NUMA_MAX_HNODES) +                                          \
	 VNUMA_PAGE_ALIGN8(VIRTIO_NUMA_MAX_HNODES * VIRTIO_NUMA_MAX_HNODES) +                      \
	 VIRTIO_NUMA_MAX_GNODES * (sizeof(struct xpv_page_gnode) + 8u * VIRTIO_NUMA_MAX_HNODES) +  \
	 VIRTIO_NUMA_MAX_VCPUS * sizeof(struct xpv_page_vcpu))

#endif /* VNUMA_MAP_H */
