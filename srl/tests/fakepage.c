// SPDX-License-Identifier: BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakepage.h"

#define ALIGN8(x) (((x) + 7u) & ~7u)

void fp_layout(struct fp_desc *d)
{
	uint32_t off = d->base ? d->base : ALIGN8(sizeof(struct xpv_page_hdr));

	d->hdr_len = sizeof(struct xpv_page_hdr);
	d->gnode_stride = sizeof(struct xpv_page_gnode) + 8 * d->nr_hnodes;
	d->off_hnode_ids = off;
	off = ALIGN8(off + 2 * d->nr_hnodes);
	d->off_dist = off;
	off = ALIGN8(off + d->nr_hnodes * d->nr_hnodes);
	d->off_gnodes = off;
	off += d->gnode_stride * d->nr_gnodes;
	d->off_vcpus = off;
}

/* Bounded writes: a corrupted layout must not make the encoder overrun. */
static void put(void *page, uint64_t off, const void *src, size_t n)
{
	if (off < XPV_PAGE_SIZE && n <= XPV_PAGE_SIZE - off)
		memcpy((char *)page + off, src, n);
}

static void encode_body(const struct fp_desc *d, char *p)
{
	struct xpv_page_hdr *h = (struct xpv_page_hdr *)p;
	unsigned int i;

	h->magic = XPV_PAGE_MAGIC;
	h->abi = XPV_PAGE_ABI;
	h->hdr_len = d->hdr_len;
	h->flags = d->flags;
	h->version = d->version;
	h->nr_hnodes = d->nr_hnodes;
	h->nr_gnodes = d->nr_gnodes;
	h->nr_vcpus = d->nr_vcpus;
	h->gnode_stride = d->gnode_stride;
	h->off_hnode_ids = d->off_hnode_ids;
	h->off_dist = d->off_dist;
	h->off_gnodes = d->off_gnodes;
	h->off_vcpus = d->off_vcpus;
	h->updates = d->updates;
	h->rejects = d->rejects;
	for (i = 0; i < d->nr_hnodes && i < VIRTIO_NUMA_MAX_HNODES; i++)
		put(p, d->off_hnode_ids + 2ull * i, &d->hnode_id[i], 2);
	if (d->nr_hnodes <= VIRTIO_NUMA_MAX_HNODES)
		put(p, d->off_dist, d->dist, d->nr_hnodes * d->nr_hnodes);
	for (i = 0; i < d->nr_gnodes && i < VIRTIO_NUMA_MAX_GNODES; i++) {
		uint64_t o = d->off_gnodes + (uint64_t)d->gnode_stride * i;
		struct xpv_page_gnode g = {
			.home = d->gnode[i].home,
			.flags = d->gnode[i].flags,
			.size_bytes = d->gnode[i].size,
			.unplaced_bytes = d->gnode[i].unplaced,
		};

		put(p, o, &g, sizeof(g));
		if (d->nr_hnodes <= VIRTIO_NUMA_MAX_HNODES)
			put(p, o + sizeof(g), d->gnode[i].bytes_on, 8 * d->nr_hnodes);
	}
	for (i = 0; i < d->nr_vcpus && i < VIRTIO_NUMA_MAX_VCPUS; i++) {
		struct xpv_page_vcpu v = {
			.hnode = d->vcpu[i].hnode,
			.gnode = d->vcpu[i].gnode,
			.host_cpu = d->vcpu[i].host_cpu,
		};

		put(p, d->off_vcpus + 8ull * i, &v, sizeof(v));
	}
}

void fp_encode(const struct fp_desc *d, void *page)
{
	uint32_t seq = ((struct xpv_page_hdr *)page)->seq;

	memset(page, 0, XPV_PAGE_SIZE);
	encode_body(d, page);
	((struct xpv_page_hdr *)page)->seq = seq;
}

void fp_example(struct fp_desc *d)
{
	static const uint8_t dist[4] = {10, 21, 21, 10};
	unsigned int i;

	memset(d, 0, sizeof(*d));
	d->version = 7;
	d->flags = XPV_PAGE_F_MIRRORED;
	d->updates = 3;
	d->rejects = 1;
	d->nr_hnodes = 2;
	d->hnode_id[0] = 0;
	d->hnode_id[1] = 2; /* sparse host ids */
	memcpy(d->dist, dist, sizeof(dist));
	d->nr_gnodes = 2;
	d->gnode[0] = (struct fp_gnode){.home = 1,
					.flags = VIRTIO_NUMA_GNODE_F_BOUND,
					.size = 1ull << 30,
					.unplaced = 0,
					.bytes_on = {0, 1ull << 30}};
	d->gnode[1] = (struct fp_gnode){.home = 0,
					.flags = VIRTIO_NUMA_GNODE_F_MAJORITY,
					.size = 1ull << 30,
					.unplaced = 128ull << 20,
					.bytes_on = {768ull << 20, 128ull << 20}};
	d->nr_vcpus = 4;
	/* cpu: gnode, host index, host cpu */
	for (i = 0; i < 4; i++)
		d->vcpu[i] =
			(struct fp_vcpu){.gnode = i / 2, .hnode = i < 2 ? 1 : 0, .host_cpu = 8 + i};
	d->vcpu[3].hnode = 1; /* vCPU 3 drifted to host node 2 */
	d->vcpu[3].host_cpu = 14;
	fp_layout(d);
}

void fp_publish(void *page, const struct fp_desc *d, bool scribble)
{
	struct xpv_page_hdr *h = page;
	uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
	const size_t s_off = offsetof(struct xpv_page_hdr, seq);
	const size_t f_off = offsetof(struct xpv_page_hdr, flags);
	char *tmp = calloc(1, XPV_PAGE_SIZE);

	if (!tmp)
		abort();
	encode_body(d, tmp);
	__atomic_store_n(&h->seq, seq | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	/* A reader that ignored the seqcount would see this garbage: bad
	 * magic, huge counts and offsets, out-of-range indices. */
	if (scribble) {
		memset(page, 0xa5, s_off);
		memset((char *)page + f_off, 0xa5, XPV_PAGE_SIZE - f_off);
	}
	memcpy(page, tmp, s_off);
	memcpy((char *)page + f_off, tmp + f_off, XPV_PAGE_SIZE - f_off);
	__atomic_store_n(&h->seq, (seq | 1) + 1, __ATOMIC_RELEASE);
	free(tmp);
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, buf, n, off);

		if (w < 0)
			return -errno;
		buf = (const char *)buf + w;
		n -= w;
		off += w;
	}
	return 0;
}

int fp_publish_fd(int fd, const struct fp_desc *d)
{
	char *tmp = calloc(1, XPV_PAGE_SIZE);
	uint32_t seq;
	int err;

	if (!tmp)
		return -ENOMEM;
	if (pread(fd, &seq, 4, offsetof(struct xpv_page_hdr, seq)) != 4)
		seq = 0;
	seq |= 1;
	err = pwrite_all(fd, &seq, 4, offsetof(struct xpv_page_hdr, seq));
	encode_body(d, tmp);
	((struct xpv_page_hdr *)tmp)->seq = seq;
	err = err ?: pwrite_all(fd, tmp, XPV_PAGE_SIZE, 0);
	seq++;
	err = err ?: pwrite_all(fd, &seq, 4, offsetof(struct xpv_page_hdr, seq));
	free(tmp);
	return err;
}

int fp_write_file(const char *path, const struct fp_desc *d)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int err;

	if (fd < 0)
		return -errno;
	err = ftruncate(fd, XPV_PAGE_SIZE) ? -errno : fp_publish_fd(fd, d);
	close(fd);
	return err;
}
