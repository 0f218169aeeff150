/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause */
/*
 * virtio-numa: the device map format (docs/virtio-numa.md) and the guest
 * driver's user-space ABI (docs/guest-abi.md).
 *
 * Shared, unchanged, by the guest driver (kernel), libxpv and the tests, so it
 * only uses <linux/types.h>.  QEMU carries its own copy of the device part in
 * the patch series (include/hw/virtio/virtio-numa-map.h).
 */
#ifndef _UAPI_XPV_VIRTIO_NUMA_H
#define _UAPI_XPV_VIRTIO_NUMA_H

#include <linux/types.h>

/* ---- device side (docs/virtio-numa.md, format 2) ---- */

#define VIRTIO_ID_NUMA_XPV 63

/* Feature bits; their meaning applies only once negotiated. */
#define VIRTIO_NUMA_F_MEM_PLACEMENT 0 /* bytes_on[] of guest nodes are valid */
#define VIRTIO_NUMA_F_HOST_CPU 1 /* host_cpu of vCPU entries is valid */

/* The one virtqueue: the driver posts device-writable buffers, the device
 * fills each with one complete map (docs/virtio-numa.md section 5). */
#define VIRTIO_NUMA_VQ_MAP 0

/*
 * Device configuration.  Everything but map_version and map_len is fixed for
 * the lifetime of the device, across reset and live migration included.
 */
struct virtio_numa_config {
	__le64 map_version; /* 0x00 version of the map the device publishes now */
	__le32 map_len; /* 0x08 its length in bytes */
	__le32 max_map_len; /* 0x0c fixed: bound of map_len, minimum buffer size */
	__le16 max_hnodes; /* 0x10 fixed: bound of nr_hnodes (64) */
	__le16 nr_gnodes; /* 0x12 fixed: guest nodes in every map */
	__le16 nr_vcpus; /* 0x14 fixed: vCPU entries in every map (max_cpus) */
	__le16 reserved; /* 0x16 0 */
};

#define VIRTIO_NUMA_MAP_MAGIC 0x4d4e5658u /* "XVNM" */
#define VIRTIO_NUMA_MAP_FORMAT 2
#define VIRTIO_NUMA_MAP_HDR_LEN 48
#define VIRTIO_NUMA_MAX_HNODES 64
#define VIRTIO_NUMA_MAX_GNODES 64
#define VIRTIO_NUMA_MAX_VCPUS 1024
#define VIRTIO_NUMA_MAX_NODE_ID 1024
#define VIRTIO_NUMA_MAX_MAP_LEN (1u << 20)
#define VIRTIO_NUMA_NO_NODE 0xffff
#define VIRTIO_NUMA_NO_CPU 0xffffffffu
#define VIRTIO_NUMA_LOCAL_DISTANCE 10
#define VIRTIO_NUMA_UNREACHABLE 255

struct virtio_numa_map_hdr {
	__le32 magic;
	__le16 format; /* 2 */
	__le16 hdr_len; /* >= 48; more is an extension to skip */
	__le64 version;
	__le32 total_len;
	__le16 nr_hnodes; /* 1..max_hnodes; may differ between maps */
	__le16 nr_gnodes; /* == config nr_gnodes */
	__le16 nr_vcpus; /* == config nr_vcpus */
	__le16 gnode_stride; /* >= 24 + 8 * nr_hnodes, multiple of 8 */
	__le32 off_hnodes;
	__le32 off_dist;
	__le32 off_gnodes;
	__le32 off_vcpus;
	__le32 reserved;
};

#define VIRTIO_NUMA_GNODE_F_BOUND (1u << 0) /* home from a bind policy */
#define VIRTIO_NUMA_GNODE_F_MAJORITY (1u << 1) /* home is where most RAM is */
#define VIRTIO_NUMA_GNODE_F_MEMORYLESS (1u << 2) /* no RAM: size 0, home 0xffff */

struct virtio_numa_gnode {
	__le16 home;
	__le16 flags;
	__le32 reserved;
	__le64 size_bytes;
	__le64 unplaced_bytes;
	__le64 bytes_on[]; /* nr_hnodes */
};

#define VIRTIO_NUMA_VCPU_F_PRESENT (1u << 0) /* the vCPU exists (plugged) */

/* Entry i describes the vCPU with QEMU cpu-index i; arch_id is its stable
 * identity in the guest (the APIC ID on x86). */
struct virtio_numa_vcpu {
	__le32 arch_id;
	__le32 host_cpu; /* or 0xffffffff */
	__le16 hnode; /* host-node index or 0xffff */
	__le16 flags;
	__le32 reserved;
};

/* ---- guest user-space ABI (docs/guest-abi.md) ---- */

/*
 * /dev/xpv_numa, mmap()ed read-only, XPV_PAGE_SIZE bytes.  The writer (the
 * driver) makes seq odd, writes, then makes it even again; a reader copies
 * what it needs between two equal even reads of seq.  Values in the page
 * are in the CPU's native byte order (the driver converts the device's
 * little-endian map), so readers need no conversion.
 */
#define XPV_PAGE_MAGIC 0x4e565058u /* "XPVN" */
#define XPV_PAGE_ABI 1
#define XPV_PAGE_SIZE (64u * 1024u)

struct xpv_page_hdr {
	__u32 magic;
	__u16 abi;
	__u16 hdr_len;
	__u32 seq; /* seqcount: odd while the driver writes */
	__u32 flags; /* XPV_PAGE_F_* */
	__u64 version; /* device map version; 0 = no map yet */
	__u16 nr_hnodes;
	__u16 nr_gnodes;
	__u16 nr_vcpus; /* entries in the vCPU tables */
	__u16 gnode_stride; /* bytes per struct xpv_page_gnode */
	__u32 off_hnode_ids; /* __u16[nr_hnodes]: host node id of each index */
	__u32 off_dist; /* __u8[nr_hnodes * nr_hnodes] */
	__u32 off_gnodes; /* struct xpv_page_gnode[nr_gnodes] */
	__u32 off_vcpus; /* struct xpv_page_vcpu[nr_vcpus] */
	__u64 updates; /* maps accepted since load */
	__u64 rejects; /* maps rejected since load */
};

#define XPV_PAGE_F_MIRRORED (1u << 0) /* kernel cpu-to-node follows the map */

struct xpv_page_gnode {
	__u16 home; /* host-node index or VIRTIO_NUMA_NO_NODE */
	__u16 flags; /* VIRTIO_NUMA_GNODE_F_* */
	__u32 reserved;
	__u64 size_bytes;
	__u64 unplaced_bytes;
	__u64 bytes_on[]; /* nr_hnodes */
};

struct xpv_page_vcpu {
	__u16 hnode; /* host-node index or VIRTIO_NUMA_NO_NODE */
	__u16 gnode; /* guest node the kernel maps this CPU to now, or NO_NODE */
	__u32 host_cpu; /* or VIRTIO_NUMA_NO_CPU */
};

#endif /* _UAPI_XPV_VIRTIO_NUMA_H */
