/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building /dev/xpv_numa pages for tests and fixtures, written with the
 * driver's seqcount protocol into a file the library maps.
 */
#ifndef _XPV_FAKEPAGE_H
#define _XPV_FAKEPAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>
#include <uapi/xpv/virtio_numa.h>

struct fp_gnode {
	uint16_t home; /* index, or VIRTIO_NUMA_NO_NODE */
	uint16_t flags;
	uint64_t size;
	uint64_t unplaced;
	uint64_t bytes_on[VIRTIO_NUMA_MAX_HNODES]; /* by host index */
};

struct fp_vcpu {
	uint16_t hnode; /* index */
	uint16_t gnode;
	uint32_t host_cpu;
};

/* What a page says; fp_layout() then places the tables. */
struct fp_desc {
	uint64_t version;
	uint32_t flags;
	uint64_t updates, rejects;
	unsigned int nr_hnodes, nr_gnodes, nr_vcpus;
	uint16_t hnode_id[VIRTIO_NUMA_MAX_HNODES];
	uint8_t dist[VIRTIO_NUMA_MAX_HNODES * VIRTIO_NUMA_MAX_HNODES];
	struct fp_gnode gnode[VIRTIO_NUMA_MAX_GNODES];
	struct fp_vcpu vcpu[VIRTIO_NUMA_MAX_VCPUS];
	/* layout; fp_layout() fills these, tests may then corrupt them */
	uint32_t base; /* where the tables start (move them around) */
	uint16_t hdr_len, gnode_stride;
	uint32_t off_hnode_ids, off_dist, off_gnodes, off_vcpus;
};

/* Fill the layout fields: tables packed from d->base (0 = after header). */
void fp_layout(struct fp_desc *d);
/* Encode d into page (XPV_PAGE_SIZE bytes), seq field left as it is. */
void fp_encode(const struct fp_desc *d, void *page);
/* A regular 2-host-node, 2-guest-node, 4-vCPU map (see fakepage.c). */
void fp_example(struct fp_desc *d);

/*
 * Publish d into the mapped page the way the driver does: seq odd, write,
 * seq even. Safe against concurrent readers of the same mapping. With
 * scribble, the page is first filled with garbage while seq is odd.
 */
void fp_publish(void *page, const struct fp_desc *d, bool scribble);
/* Publish with write() to fd (file at offset 0), so inotify sees it. */
int fp_publish_fd(int fd, const struct fp_desc *d);

/* Create path as a XPV_PAGE_SIZE file holding d (seq 0). 0 or -errno. */
int fp_write_file(const char *path, const struct fp_desc *d);

#endif
