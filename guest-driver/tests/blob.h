/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test helper: builds virtio-numa map blobs byte by byte (little-endian, as
 * the device writes them), independently of the parser's own structs, so a
 * parser bug cannot cancel out in the test.
 */
#ifndef VNUMA_TEST_BLOB_H
#define VNUMA_TEST_BLOB_H

#include <stdint.h>
#include <string.h>

#define BLOB_MAX (64 * 1024)

/* Header field offsets of format 2, spelled out from docs/virtio-numa.md. */
enum {
	H_MAGIC = 0,
	H_FORMAT = 4,
	H_HDR_LEN = 6,
	H_VERSION = 8,
	H_TOTAL_LEN = 16,
	H_NR_HNODES = 20,
	H_NR_GNODES = 22,
	H_NR_VCPUS = 24,
	H_STRIDE = 26,
	H_OFF_HNODES = 28,
	H_OFF_DIST = 32,
	H_OFF_GNODES = 36,
	H_OFF_VCPUS = 40,
	H_RESERVED = 44,
};

struct blob {
	uint8_t buf[BLOB_MAX];
	uint32_t len;
	uint16_t nh, ng, nv, stride;
	uint32_t off_hnodes, off_dist, off_gnodes, off_vcpus;
	uint64_t version;
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

/* The expected content of a built blob, as functions of the indices. */
static inline uint16_t exp_hnode_id(unsigned int i)
{
	return i * 3; /* sparse: 0, 3, 6, ... */
}

static inline uint8_t exp_dist(unsigned int i, unsigned int j)
{
	if (i == j)
		return 10;
	return 20 + (i > j ? i - j : j - i);
}

static inline uint16_t exp_home(unsigned int g, unsigned int nh)
{
	return g % nh;
}

static inline uint64_t exp_size(unsigned int g)
{
	return (1ull << 30) + ((uint64_t)g << 21);
}

static inline uint64_t exp_unplaced(unsigned int g)
{
	return 4096ull * g;
}

static inline uint64_t exp_bytes_on(unsigned int g, unsigned int j, unsigned int nh)
{
	return j == exp_home(g, nh) ? exp_size(g) / 2 : 8192ull * j;
}

static inline uint16_t exp_vcpu_hnode(unsigned int c, unsigned int nh, unsigned int nv)
{
	return nv > 1 && c == nv - 1u ? 0xffff : c % nh;
}

static inline uint32_t exp_host_cpu(unsigned int c)
{
	return 100 + c;
}

/* Not the index: a parser that used the index instead would show. */
static inline uint32_t exp_arch_id(unsigned int c)
{
	return 2 * c + 1;
}

/* vCPU entry: arch_id le32, host_cpu le32, hnode le16, flags le16, reserved le32 */
#define VCPU_SIZE 16u
enum { V_ARCH_ID = 0, V_HOST_CPU = 4, V_HNODE = 8, V_FLAGS = 10, V_RESERVED = 12 };

#define ALIGN8(x) (((x) + 7u) & ~7u)

/* Tables in the order hnodes, dist, gnodes, vcpus right after a 48-byte header. */
static inline void blob_build(struct blob *b, uint16_t nh, uint16_t ng, uint16_t nv,
			      uint64_t version)
{
	unsigned int i, j;
	uint32_t off = 48;

	memset(b, 0, sizeof(*b));
	b->nh = nh;
	b->ng = ng;
	b->nv = nv;
	b->version = version;
	b->stride = 24 + 8 * nh;
	b->off_hnodes = off;
	off += ALIGN8(2u * nh);
	b->off_dist = off;
	off += ALIGN8((uint32_t)nh * nh);
	b->off_gnodes = off;
	off += (uint32_t)ng * b->stride;
	b->off_vcpus = off;
	off += VCPU_SIZE * nv;
	b->len = off;

	put32(b->buf + H_MAGIC, 0x4d4e5658);
	put16(b->buf + H_FORMAT, 2);
	put16(b->buf + H_HDR_LEN, 48);
	put64(b->buf + H_VERSION, version);
	put32(b->buf + H_TOTAL_LEN, b->len);
	put16(b->buf + H_NR_HNODES, nh);
	put16(b->buf + H_NR_GNODES, ng);
	put16(b->buf + H_NR_VCPUS, nv);
	put16(b->buf + H_STRIDE, b->stride);
	put32(b->buf + H_OFF_HNODES, b->off_hnodes);
	put32(b->buf + H_OFF_DIST, b->off_dist);
	put32(b->buf + H_OFF_GNODES, b->off_gnodes);
	put32(b->buf + H_OFF_VCPUS, b->off_vcpus);
	put32(b->buf + H_RESERVED, 0xdeadbeef); /* must be ignored */

	for (i = 0; i < nh; i++)
		put16(b->buf + b->off_hnodes + 2 * i, exp_hnode_id(i));
	for (i = 0; i < nh; i++)
		for (j = 0; j < nh; j++)
			b->buf[b->off_dist + i * nh + j] = exp_dist(i, j);
	for (i = 0; i < ng; i++) {
		uint8_t *e = b->buf + b->off_gnodes + i * b->stride;

		put16(e, exp_home(i, nh));
		put16(e + 2, 1);
		put64(e + 8, exp_size(i));
		put64(e + 16, exp_unplaced(i));
		for (j = 0; j < nh; j++)
			put64(e + 24 + 8 * j, exp_bytes_on(i, j, nh));
	}
	for (i = 0; i < nv; i++) {
		uint8_t *e = b->buf + b->off_vcpus + VCPU_SIZE * i;

		put32(e + V_ARCH_ID, exp_arch_id(i));
		put32(e + V_HOST_CPU, exp_host_cpu(i));
		put16(e + V_HNODE, exp_vcpu_hnode(i, nh, nv));
		put16(e + V_FLAGS, 1);
		put32(e + V_RESERVED, 0xfeedface); /* must be ignored */
	}
}

/* Rewrites the header after a test moved tables or changed the length. */
static inline void blob_sync_hdr(struct blob *b)
{
	put32(b->buf + H_TOTAL_LEN, b->len);
	put16(b->buf + H_STRIDE, b->stride);
	put32(b->buf + H_OFF_HNODES, b->off_hnodes);
	put32(b->buf + H_OFF_DIST, b->off_dist);
	put32(b->buf + H_OFF_GNODES, b->off_gnodes);
	put32(b->buf + H_OFF_VCPUS, b->off_vcpus);
}

#endif /* VNUMA_TEST_BLOB_H */
