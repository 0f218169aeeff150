// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the virtio-numa map parser and page layout (vnuma_map.c),
 * built in user space.  Each rule of the format-2 driver validation
 * (docs/virtio-numa.md) has a case that must be rejected with that rule's
 * code, a hostile-device corpus covers what a device can do on the virtqueue
 * path (torn, short and oversized buffers, used length != total_len, counts
 * != config, duplicate arch_ids, non-monotonic versions); the mutation loop
 * at the end checks that no input crashes the parser (run under ASan/UBSan by
 * the suite).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "vnuma_map.h"
#include "blob.h"

#ifndef VARIANT
#define VARIANT "plain"
#endif

static struct blob bl;
static struct vnuma_map map;

static void check_invariants(const struct vnuma_map *m);

/* max_map_len as the device computes it (protocol: fixed, max_hnodes = 64) */
static uint32_t cfg_max_map_len(unsigned int ng, unsigned int nv)
{
	return 48 + ALIGN8(2 * 64) + ALIGN8(64 * 64) + ng * (24 + 8 * 64) + nv * VCPU_SIZE;
}

static int parse_cfg(const struct blob *b, uint32_t used_len, const struct vnuma_map_ctx *ctx,
		     struct vnuma_map_error *why)
{
	/* An exact-size heap copy of what the device wrote, so ASan sees any
	 * read past the used length. */
	size_t n = used_len < sizeof(b->buf) ? used_len : sizeof(b->buf);
	void *copy = malloc(n ? n : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, b->buf, n);
	ret = vnuma_map_parse(copy, used_len <= n ? used_len : n, ctx, &map, why);
	free(copy);
	return ret;
}

/* b as the device's map, with the configuration matching it, against held */
static int parse_ex(const struct blob *b, uint32_t max_map_len, uint64_t held,
		    struct vnuma_map_error *why)
{
	struct vnuma_map_ctx ctx = {
		.max_map_len = max_map_len,
		.max_hnodes = 64,
		.nr_gnodes = b->ng,
		.nr_vcpus = b->nv,
		.held_version = held,
	};

	return parse_cfg(b, b->len, &ctx, why);
}

static int parse(const struct blob *b, struct vnuma_map_error *why)
{
	return parse_ex(b, cfg_max_map_len(b->ng, b->nv), 0, why);
}

#define assert_rejects(code_)                                                                      \
	do {                                                                                       \
		struct vnuma_map_error why_;                                                       \
		int ret_ = parse(&bl, &why_);                                                      \
		if (why_.code != (code_))                                                          \
			print_error("expected '%s', got '%s' (index %u value %llu)\n",             \
				    vnuma_map_strerror(code_), vnuma_map_strerror(why_.code),      \
				    why_.index, (unsigned long long)why_.value);                   \
		assert_int_equal(why_.code, (code_));                                              \
		assert_int_equal(ret_, -EINVAL);                                                   \
	} while (0)

#define assert_accepts()                                                                           \
	do {                                                                                       \
		struct vnuma_map_error why_;                                                       \
		int ret_ = parse(&bl, &why_);                                                      \
		if (ret_)                                                                          \
			print_error("rejected: %s (index %u value %llu)\n",                        \
				    vnuma_map_strerror(why_.code), why_.index,                     \
				    (unsigned long long)why_.value);                               \
		assert_int_equal(ret_, 0);                                                         \
		assert_int_equal(why_.code, VNUMA_OK);                                             \
	} while (0)

static void check_map_equals_built(const struct blob *b)
{
	unsigned int i, j;

	assert_int_equal(map.version, b->version);
	assert_int_equal(map.nr_hnodes, b->nh);
	assert_int_equal(map.nr_gnodes, b->ng);
	assert_int_equal(map.nr_vcpus, b->nv);
	for (i = 0; i < b->nh; i++) {
		assert_int_equal(map.hnode_id[i], exp_hnode_id(i));
		for (j = 0; j < b->nh; j++)
			assert_int_equal(map.dist[i * b->nh + j], exp_dist(i, j));
	}
	for (i = 0; i < b->ng; i++) {
		assert_int_equal(map.gnode[i].home, exp_home(i, b->nh));
		assert_int_equal(map.gnode[i].flags, 1);
		assert_int_equal(map.gnode[i].size_bytes, exp_size(i));
		assert_int_equal(map.gnode[i].unplaced_bytes, exp_unplaced(i));
		for (j = 0; j < b->nh; j++)
			assert_int_equal(map.gnode[i].bytes_on[j], exp_bytes_on(i, j, b->nh));
	}
	for (i = 0; i < b->nv; i++) {
		assert_int_equal(map.vcpu[i].arch_id, exp_arch_id(i));
		assert_int_equal(map.vcpu[i].hnode, exp_vcpu_hnode(i, b->nh, b->nv));
		assert_int_equal(map.vcpu[i].flags, 1);
		assert_int_equal(map.vcpu[i].host_cpu, exp_host_cpu(i));
	}
}

static int setup_small(void **state)
{
	(void)state;
	blob_build(&bl, 3, 2, 4, 7);
	memset(&map, 0xa5, sizeof(map));
	return 0;
}

/* ---- accepted maps ---- */

static void valid_small_exact(void **state)
{
	(void)state;
	assert_accepts();
	check_map_equals_built(&bl);
	/* spot checks against literal values, in case blob.h and the parser agree on a bug */
	assert_int_equal(map.hnode_id[2], 6);
	assert_int_equal(map.dist[0 * 3 + 2], 22);
	assert_int_equal(map.gnode[1].home, 1);
	assert_int_equal(map.gnode[1].bytes_on[1], ((1ull << 30) + (1ull << 21)) / 2);
	assert_int_equal(map.vcpu[3].hnode, 0xffff);
	assert_int_equal(map.vcpu[2].host_cpu, 102);
	assert_int_equal(map.vcpu[2].arch_id, 5);
}

static void valid_max_counts(void **state)
{
	(void)state;
	blob_build(&bl, 64, 64, 1024, 1ull << 40);
	assert_accepts();
	check_map_equals_built(&bl);
}

static void valid_min_counts(void **state)
{
	(void)state;
	blob_build(&bl, 1, 1, 1, 1);
	assert_accepts();
	check_map_equals_built(&bl);
}

static void valid_tables_reordered_and_long_header(void **state)
{
	struct blob moved;
	uint32_t hdr = 64, off;

	(void)state;
	/* vcpus, gnodes, dist, hnodes after a 64-byte (extended) header */
	moved = bl;
	memset(moved.buf + 48, 0, sizeof(moved.buf) - 48);
	off = hdr;
	moved.off_vcpus = off;
	memcpy(moved.buf + off, bl.buf + bl.off_vcpus, VCPU_SIZE * bl.nv);
	off += VCPU_SIZE * bl.nv;
	moved.off_gnodes = off;
	memcpy(moved.buf + off, bl.buf + bl.off_gnodes, (size_t)bl.ng * bl.stride);
	off += bl.ng * bl.stride;
	moved.off_dist = off;
	memcpy(moved.buf + off, bl.buf + bl.off_dist, bl.nh * bl.nh);
	off += ALIGN8(bl.nh * bl.nh);
	moved.off_hnodes = off;
	memcpy(moved.buf + off, bl.buf + bl.off_hnodes, 2u * bl.nh);
	off += ALIGN8(2u * bl.nh);
	moved.len = off;
	blob_sync_hdr(&moved);
	put16(moved.buf + H_HDR_LEN, hdr);
	bl = moved;
	assert_accepts();
	check_map_equals_built(&bl);
}

static void valid_larger_stride(void **state)
{
	struct blob wide;
	unsigned int i;

	(void)state;
	/* a device extension: 16 more bytes per guest node, to be skipped */
	wide = bl;
	wide.stride = bl.stride + 16;
	memset(wide.buf + bl.off_gnodes, 0, sizeof(wide.buf) - bl.off_gnodes);
	for (i = 0; i < bl.ng; i++)
		memcpy(wide.buf + bl.off_gnodes + i * wide.stride,
		       bl.buf + bl.off_gnodes + i * bl.stride, bl.stride);
	wide.off_vcpus = bl.off_gnodes + bl.ng * wide.stride;
	memcpy(wide.buf + wide.off_vcpus, bl.buf + bl.off_vcpus, VCPU_SIZE * bl.nv);
	wide.len = wide.off_vcpus + VCPU_SIZE * bl.nv;
	blob_sync_hdr(&wide);
	bl = wide;
	assert_accepts();
	check_map_equals_built(&bl);
}

static void valid_unknown_and_unreachable(void **state)
{
	(void)state;
	put16(bl.buf + bl.off_gnodes, 0xffff); /* home unknown */
	put16(bl.buf + bl.off_vcpus + V_HNODE, 0xffff); /* vcpu 0 unknown */
	bl.buf[bl.off_dist + 1] = 255; /* unreachable */
	put32(bl.buf + bl.off_vcpus + V_HOST_CPU, 0xffffffffu); /* host cpu unknown */
	assert_accepts();
	assert_int_equal(map.gnode[0].home, 0xffff);
	assert_int_equal(map.vcpu[0].hnode, 0xffff);
	assert_int_equal(map.dist[1], 255);
	assert_int_equal(map.vcpu[0].host_cpu, 0xffffffffu);
}

static void valid_bytes_exactly_size(void **state)
{
	uint8_t *e;

	(void)state;
	e = bl.buf + bl.off_gnodes;
	/* unplaced + sum(bytes_on) == size is allowed */
	put64(e + 8, 1000);
	put64(e + 16, 100);
	put64(e + 24, 400);
	put64(e + 32, 500);
	put64(e + 40, 0);
	assert_accepts();
	assert_int_equal(map.gnode[0].size_bytes, 1000);
}

static void dup_version_is_dropped_not_rejected(void **state)
{
	struct vnuma_map_error why;

	(void)state;
	assert_int_equal(parse_ex(&bl, 1u << 20, 7, &why), -EALREADY);
	assert_int_equal(why.code, VNUMA_E_DUPLICATE);
	assert_int_equal(parse_ex(&bl, 1u << 20, 6, &why), 0);
}

static void valid_memoryless_node(void **state)
{
	uint8_t *e;
	unsigned int j;

	(void)state;
	/* guest node 1: no RAM, no home, nothing placed */
	e = bl.buf + bl.off_gnodes + bl.stride;
	put16(e, 0xffff);
	put16(e + 2, 4);
	put64(e + 8, 0);
	put64(e + 16, 0);
	for (j = 0; j < bl.nh; j++)
		put64(e + 24 + 8 * j, 0);
	assert_accepts();
	assert_int_equal(map.gnode[1].flags, 4);
	assert_int_equal(map.gnode[1].home, 0xffff);
	assert_int_equal(map.gnode[1].size_bytes, 0);
}

static void valid_nonpresent_vcpus(void **state)
{
	uint8_t *e = bl.buf + bl.off_vcpus + VCPU_SIZE * 2;

	(void)state;
	/* not plugged: no host node, no host cpu, arch_id still valid; a
	 * non-present entry may repeat a present one's arch_id */
	put16(e + V_FLAGS, 0);
	put16(e + V_HNODE, 0xffff);
	put32(e + V_HOST_CPU, 0xffffffffu);
	put32(e + V_ARCH_ID, exp_arch_id(0));
	assert_accepts();
	assert_int_equal(map.vcpu[2].flags, 0);
	assert_int_equal(map.vcpu[2].arch_id, exp_arch_id(0));
}

/* Undefined flag bits and reserved fields are ignored (and passed through). */
static void valid_reserved_and_undefined_bits(void **state)
{
	(void)state;
	put16(bl.buf + bl.off_vcpus + V_FLAGS, 0xfffe | 1);
	put32(bl.buf + bl.off_gnodes + 4, 0x12345678); /* gnode reserved */
	put16(bl.buf + bl.off_gnodes + 2, 0xfff8 | 1); /* undefined gnode flags */
	assert_accepts();
}

/* Migration: the same device (fixed config) publishes 2, then 64, then 1
 * host nodes; every map fits max_map_len and is accepted. */
static void valid_nr_hnodes_changes(void **state)
{
	static const uint16_t seq[] = {2, 4, 64, 1, 3};
	struct vnuma_map_error why;
	uint64_t held = 0;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		blob_build(&bl, seq[i], 3, 8, 10 + i);
		assert_true(bl.len <= cfg_max_map_len(3, 8));
		assert_int_equal(parse_ex(&bl, cfg_max_map_len(3, 8), held, &why), 0);
		check_map_equals_built(&bl);
		held = map.version;
	}
}

/* ---- rule 1: magic, format, lengths ---- */

static void rej_short(void **state)
{
	(void)state;
	bl.len = 47;
	assert_rejects(VNUMA_E_SHORT);
	bl.len = 0;
	assert_rejects(VNUMA_E_SHORT);
}

static void rej_above_max_map_len(void **state)
{
	struct vnuma_map_error why;

	(void)state;
	assert_int_equal(parse_ex(&bl, bl.len - 1, 0, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_MAP_LEN);
	assert_int_equal(parse_ex(&bl, bl.len, 0, &why), 0);
}

static void rej_magic(void **state)
{
	(void)state;
	put32(bl.buf + H_MAGIC, 0x58564e4d); /* byte-swapped */
	assert_rejects(VNUMA_E_MAGIC);
}

static void rej_format(void **state)
{
	(void)state;
	put16(bl.buf + H_FORMAT, 1); /* the config-window format */
	assert_rejects(VNUMA_E_FORMAT);
	put16(bl.buf + H_FORMAT, 3);
	assert_rejects(VNUMA_E_FORMAT);
	put16(bl.buf + H_FORMAT, 0);
	assert_rejects(VNUMA_E_FORMAT);
}

static void rej_hdr_len(void **state)
{
	(void)state;
	put16(bl.buf + H_HDR_LEN, 47);
	assert_rejects(VNUMA_E_HDR_LEN);
	put16(bl.buf + H_HDR_LEN, bl.len + 1);
	assert_rejects(VNUMA_E_HDR_LEN);
}

static void rej_total_len(void **state)
{
	(void)state;
	put32(bl.buf + H_TOTAL_LEN, bl.len + 8);
	assert_rejects(VNUMA_E_TOTAL_LEN);
	put32(bl.buf + H_TOTAL_LEN, bl.len - 8);
	assert_rejects(VNUMA_E_TOTAL_LEN);
}

/* ---- rule 2: counts ---- */

static void rej_counts(void **state)
{
	struct vnuma_map_ctx ctx = {
		.max_map_len = 1u << 20, .max_hnodes = 3, .nr_gnodes = 2, .nr_vcpus = 4};
	struct vnuma_map_error why;

	(void)state;
	put16(bl.buf + H_NR_HNODES, 0);
	assert_rejects(VNUMA_E_NR_HNODES);
	put16(bl.buf + H_NR_HNODES, 65);
	assert_rejects(VNUMA_E_NR_HNODES);
	put16(bl.buf + H_NR_HNODES, 0xffff);
	assert_rejects(VNUMA_E_NR_HNODES);
	put16(bl.buf + H_NR_HNODES, bl.nh);

	/* guest nodes and vCPUs must be the configuration's, not just in range */
	put16(bl.buf + H_NR_GNODES, 0);
	assert_rejects(VNUMA_E_NR_GNODES);
	put16(bl.buf + H_NR_GNODES, 1);
	assert_rejects(VNUMA_E_NR_GNODES);
	put16(bl.buf + H_NR_GNODES, 3);
	assert_rejects(VNUMA_E_NR_GNODES);
	put16(bl.buf + H_NR_GNODES, bl.ng);

	put16(bl.buf + H_NR_VCPUS, 0);
	assert_rejects(VNUMA_E_NR_VCPUS);
	put16(bl.buf + H_NR_VCPUS, 3);
	assert_rejects(VNUMA_E_NR_VCPUS);
	put16(bl.buf + H_NR_VCPUS, 1025);
	assert_rejects(VNUMA_E_NR_VCPUS);
	put16(bl.buf + H_NR_VCPUS, bl.nv);
	assert_accepts();

	/* nr_hnodes is bounded by the configuration's max_hnodes */
	assert_int_equal(parse_cfg(&bl, bl.len, &ctx, &why), 0);
	ctx.max_hnodes = 2;
	assert_int_equal(parse_cfg(&bl, bl.len, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_NR_HNODES);
	/* and a configuration with other counts rejects this map */
	ctx.max_hnodes = 64;
	ctx.nr_vcpus = 5;
	assert_int_equal(parse_cfg(&bl, bl.len, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_NR_VCPUS);
	ctx.nr_vcpus = 4;
	ctx.nr_gnodes = 3;
	assert_int_equal(parse_cfg(&bl, bl.len, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_NR_GNODES);
}

/* ---- rule 3: stride ---- */

static void rej_stride(void **state)
{
	(void)state;
	put16(bl.buf + H_STRIDE, bl.stride - 8);
	assert_rejects(VNUMA_E_STRIDE);
	put16(bl.buf + H_STRIDE, bl.stride + 4);
	assert_rejects(VNUMA_E_STRIDE);
	put16(bl.buf + H_STRIDE, 0);
	assert_rejects(VNUMA_E_STRIDE);
}

/* ---- rule 4: table bounds and overlap ---- */

static void rej_table_bounds(void **state)
{
	(void)state;
	put32(bl.buf + H_OFF_VCPUS, bl.len - 8); /* last entries past the end */
	assert_rejects(VNUMA_E_TABLE_BOUNDS);
	put32(bl.buf + H_OFF_VCPUS, bl.len); /* starts at the end */
	assert_rejects(VNUMA_E_TABLE_BOUNDS);
	put32(bl.buf + H_OFF_VCPUS, bl.off_vcpus);

	put32(bl.buf + H_OFF_HNODES, 0); /* inside the header */
	assert_rejects(VNUMA_E_TABLE_BOUNDS);
	put32(bl.buf + H_OFF_HNODES, 46); /* straddles the header end */
	assert_rejects(VNUMA_E_TABLE_BOUNDS);
	put32(bl.buf + H_OFF_HNODES, bl.off_hnodes);

	/* offsets whose end would wrap in 32-bit arithmetic */
	put32(bl.buf + H_OFF_GNODES, 0xfffffff8u);
	assert_rejects(VNUMA_E_TABLE_BOUNDS);
	put32(bl.buf + H_OFF_GNODES, 0xffffffffu);
	assert_rejects(VNUMA_E_TABLE_BOUNDS);
	put32(bl.buf + H_OFF_GNODES, bl.off_gnodes);

	/* a header extension that swallows a table */
	put16(bl.buf + H_HDR_LEN, bl.off_hnodes + 8);
	assert_rejects(VNUMA_E_TABLE_BOUNDS);
}

static void rej_table_overlap(void **state)
{
	(void)state;
	put32(bl.buf + H_OFF_DIST, bl.off_hnodes);
	assert_rejects(VNUMA_E_TABLE_OVERLAP);
	put32(bl.buf + H_OFF_DIST, bl.off_dist);
	/* gnodes start in the middle of dist */
	put32(bl.buf + H_OFF_GNODES, bl.off_dist + 4);
	assert_rejects(VNUMA_E_TABLE_OVERLAP);
	put32(bl.buf + H_OFF_GNODES, bl.off_gnodes);
	/* vcpus overlap the last guest node by one byte */
	put32(bl.buf + H_OFF_VCPUS, bl.off_vcpus - 1);
	assert_rejects(VNUMA_E_TABLE_OVERLAP);
}

/* ---- rule 5: host node ids and distances ---- */

static void rej_hnode_id(void **state)
{
	(void)state;
	put16(bl.buf + bl.off_hnodes + 2, 1024);
	assert_rejects(VNUMA_E_HNODE_ID);
	put16(bl.buf + bl.off_hnodes + 2, 1023);
	assert_accepts();
}

static void rej_hnode_dup(void **state)
{
	(void)state;
	put16(bl.buf + bl.off_hnodes + 4, exp_hnode_id(0));
	assert_rejects(VNUMA_E_HNODE_DUP);
}

static void rej_dist(void **state)
{
	(void)state;
	bl.buf[bl.off_dist + 1 * 3 + 1] = 11; /* diagonal must be 10 */
	assert_rejects(VNUMA_E_DIST);
	bl.buf[bl.off_dist + 1 * 3 + 1] = 10;
	bl.buf[bl.off_dist + 0 * 3 + 2] = 10; /* off-diagonal must be > 10 */
	assert_rejects(VNUMA_E_DIST);
	bl.buf[bl.off_dist + 0 * 3 + 2] = 0;
	assert_rejects(VNUMA_E_DIST);
	bl.buf[bl.off_dist + 0 * 3 + 2] = 11;
	assert_accepts();
}

/* ---- rule 6: indices ---- */

static void rej_home(void **state)
{
	(void)state;
	put16(bl.buf + bl.off_gnodes + bl.stride, bl.nh); /* gnode 1 */
	assert_rejects(VNUMA_E_HOME);
	put16(bl.buf + bl.off_gnodes + bl.stride, 0xfffe);
	assert_rejects(VNUMA_E_HOME);
}

static void rej_vcpu_hnode(void **state)
{
	(void)state;
	put16(bl.buf + bl.off_vcpus + VCPU_SIZE * 2 + V_HNODE, bl.nh);
	assert_rejects(VNUMA_E_VCPU_HNODE);
}

/* ---- rule 7: byte sums ---- */

static void rej_bytes_exceed(void **state)
{
	uint8_t *e;

	(void)state;
	e = bl.buf + bl.off_gnodes + bl.stride;
	put64(e + 8, 1000);
	put64(e + 16, 100);
	put64(e + 24, 400);
	put64(e + 32, 501);
	put64(e + 40, 0);
	assert_rejects(VNUMA_E_BYTES);
	put64(e + 16, 1001); /* unplaced alone exceeds */
	put64(e + 24, 0);
	put64(e + 32, 0);
	assert_rejects(VNUMA_E_BYTES);
}

static void rej_bytes_overflow(void **state)
{
	uint8_t *e;

	(void)state;
	e = bl.buf + bl.off_gnodes;
	/* wraps to a small sum: a naive adder would accept */
	put64(e + 8, UINT64_MAX);
	put64(e + 16, 2);
	put64(e + 24, UINT64_MAX);
	put64(e + 32, 0);
	put64(e + 40, 0);
	assert_rejects(VNUMA_E_BYTES);
	put64(e + 16, 0);
	put64(e + 24, UINT64_MAX - 1);
	put64(e + 32, 1);
	put64(e + 40, 1);
	assert_rejects(VNUMA_E_BYTES);
}

static void rej_memoryless_with_size(void **state)
{
	(void)state;
	put16(bl.buf + bl.off_gnodes + 2, 4); /* MEMORYLESS, but 1 GiB */
	assert_rejects(VNUMA_E_MEMORYLESS);
}

static void rej_arch_id_dup(void **state)
{
	(void)state;
	put32(bl.buf + bl.off_vcpus + VCPU_SIZE * 3 + V_ARCH_ID, exp_arch_id(1));
	assert_rejects(VNUMA_E_ARCH_ID_DUP);
	/* unplugging one of the two makes it legal */
	put16(bl.buf + bl.off_vcpus + VCPU_SIZE * 1 + V_FLAGS, 0);
	assert_accepts();
}

/* ---- versions: strictly newer than the map held ---- */

static void rej_version_lower(void **state)
{
	struct vnuma_map_error why;

	(void)state;
	assert_int_equal(parse_ex(&bl, 1u << 20, bl.version + 1, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_STALE);
}

static void rej_version_zero(void **state)
{
	(void)state;
	put64(bl.buf + H_VERSION, 0);
	assert_rejects(VNUMA_E_STALE);
}

/* ---- a hostile device on the virtqueue path ---- */

/* The used length the device claims differs from what the map says. */
static void hostile_used_len(void **state)
{
	struct vnuma_map_ctx ctx = {.max_map_len = cfg_max_map_len(2, 4),
				    .max_hnodes = 64,
				    .nr_gnodes = 2,
				    .nr_vcpus = 4};
	struct vnuma_map_error why;

	(void)state;
	assert_int_equal(parse_cfg(&bl, bl.len, &ctx, &why), 0);
	/* short: the tail of the map was not written */
	assert_int_equal(parse_cfg(&bl, bl.len - 16, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_TOTAL_LEN);
	/* long: claims more than the map, within the buffer */
	assert_int_equal(parse_cfg(&bl, bl.len + 8, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_TOTAL_LEN);
	/* oversized: more than the buffer the driver posted */
	assert_int_equal(parse_cfg(&bl, ctx.max_map_len + 1, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_MAP_LEN);
	/* nothing written at all, or a header only */
	assert_int_equal(parse_cfg(&bl, 0, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_SHORT);
	assert_int_equal(parse_cfg(&bl, 47, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_SHORT);
	assert_int_equal(parse_cfg(&bl, 48, &ctx, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_TOTAL_LEN);
}

/* Oversized claims inside the blob: total_len past max_map_len, counts too
 * big for the buffer. */
static void hostile_oversized_claims(void **state)
{
	struct vnuma_map_error why;

	(void)state;
	put32(bl.buf + H_TOTAL_LEN, 1u << 20);
	assert_rejects(VNUMA_E_TOTAL_LEN);
	put32(bl.buf + H_TOTAL_LEN, bl.len);
	assert_int_equal(parse_ex(&bl, bl.len - 1, 0, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_MAP_LEN);
	/* 64 host nodes claimed in a map laid out for 3 */
	put16(bl.buf + H_NR_HNODES, 64);
	put16(bl.buf + H_STRIDE, 24 + 8 * 64);
	assert_rejects(VNUMA_E_TABLE_BOUNDS);
}

/* A torn buffer: the first half of a new map over the second half of an
 * older one (a device that wrote while the driver read, or two writers). */
static void hostile_torn_buffers(void **state)
{
	static struct blob old, nw;
	struct vnuma_map_error why;
	uint32_t cut;
	unsigned int accepted = 0;

	(void)state;
	blob_build(&old, 2, 2, 4, 5);
	blob_build(&nw, 4, 2, 4, 6);
	for (cut = 0; cut <= nw.len; cut += 4) {
		bl = nw;
		memcpy(bl.buf + cut, old.buf + cut, nw.len - cut);
		if (parse_ex(&bl, cfg_max_map_len(2, 4), 5, &why) == 0) {
			/* only if the torn part happened to change nothing checked */
			accepted++;
			check_invariants(&map);
		} else {
			assert_true(why.code > VNUMA_OK && why.code < VNUMA_E__COUNT);
		}
	}
	/* the full new map (cut == len) is accepted */
	assert_true(accepted >= 1);
	assert_int_equal(map.nr_hnodes, 4);
}

/* The driver's rule over a sequence of deliveries: keep the newest, drop
 * duplicates silently, reject older ones, never go back. */
static void hostile_version_sequence(void **state)
{
	static const uint64_t seq[] = {5, 7, 6, 7, 1, 9, 9, 8, 10};
	static const int expect[] = {0, 0, -EINVAL, -EALREADY, -EINVAL, 0, -EALREADY, -EINVAL, 0};
	struct vnuma_map_error why;
	uint64_t held = 0;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		int ret;

		blob_build(&bl, 1 + i % 3, 2, 4, seq[i]);
		ret = parse_ex(&bl, cfg_max_map_len(2, 4), held, &why);
		assert_int_equal(ret, expect[i]);
		if (!ret)
			held = map.version;
	}
	assert_int_equal(held, 10);
}

static void rej_leaves_reason_text(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < VNUMA_E__COUNT; i++) {
		assert_non_null(vnuma_map_strerror(i));
		assert_string_not_equal(vnuma_map_strerror(i), "unknown");
	}
	assert_string_equal(vnuma_map_strerror(VNUMA_E__COUNT), "unknown");
}

/* ---- page layout ---- */

static void page_layout_roundtrip(void **state)
{
	static uint64_t page[XPV_PAGE_SIZE / 8];
	const struct xpv_page_hdr *h = (const void *)page;
	const uint8_t *p = (const void *)page;
	struct vnuma_page_info info = {.flags = XPV_PAGE_F_MIRRORED, .updates = 5, .rejects = 2};
	uint16_t gnode_of[4] = {0, 1, 0xffff, 1};
	unsigned int i, j;
	size_t used;

	(void)state;
	assert_accepts();
	memset(page, 0xee, sizeof(page));
	used = vnuma_page_fill(page, sizeof(page), sizeof(page), &map, gnode_of, &info);
	assert_true(used > sizeof(*h));
	assert_int_equal(h->magic, XPV_PAGE_MAGIC);
	assert_int_equal(h->abi, XPV_PAGE_ABI);
	assert_int_equal(h->hdr_len, sizeof(*h));
	assert_int_equal(h->flags, XPV_PAGE_F_MIRRORED);
	assert_int_equal(h->version, 7);
	assert_int_equal(h->updates, 5);
	assert_int_equal(h->rejects, 2);
	assert_int_equal(h->nr_hnodes, 3);
	assert_int_equal(h->nr_gnodes, 2);
	assert_int_equal(h->nr_vcpus, 4);
	assert_int_equal(h->gnode_stride, 24 + 8 * 3);
	assert_int_equal(h->off_hnode_ids % 8, 0);
	assert_int_equal(h->off_dist % 8, 0);
	assert_int_equal(h->off_gnodes % 8, 0);
	assert_int_equal(h->off_vcpus % 8, 0);
	assert_true(h->off_vcpus + 4 * sizeof(struct xpv_page_vcpu) <= used);
	for (i = 0; i < 3; i++) {
		assert_int_equal(((const uint16_t *)(p + h->off_hnode_ids))[i], exp_hnode_id(i));
		for (j = 0; j < 3; j++)
			assert_int_equal(p[h->off_dist + i * 3 + j], exp_dist(i, j));
	}
	for (i = 0; i < 2; i++) {
		const struct xpv_page_gnode *g =
			(const void *)(p + h->off_gnodes + i * h->gnode_stride);

		assert_int_equal(g->home, exp_home(i, 3));
		assert_int_equal(g->size_bytes, exp_size(i));
		assert_int_equal(g->unplaced_bytes, exp_unplaced(i));
		for (j = 0; j < 3; j++)
			assert_int_equal(g->bytes_on[j], exp_bytes_on(i, j, 3));
	}
	for (i = 0; i < 4; i++) {
		const struct xpv_page_vcpu *v = (const void *)(p + h->off_vcpus);

		assert_int_equal(v[i].hnode, exp_vcpu_hnode(i, 3, 4));
		assert_int_equal(v[i].gnode, gnode_of[i]);
		assert_int_equal(v[i].host_cpu, exp_host_cpu(i));
	}
	/* the rest of the page is zero, not left over from before */
	for (i = used; i < sizeof(page); i++)
		assert_int_equal(p[i], 0);
	/* seq belongs to the caller */
	assert_int_equal(h->seq, 0xeeeeeeee);
	/* too small a page is refused, not overrun */
	assert_int_equal(vnuma_page_fill(page, used - 1, used - 1, &map, gnode_of, &info), 0);
	assert_int_equal(h->version, 7); /* untouched */
}

static void page_layout_no_map_and_max(void **state)
{
	static uint64_t page[XPV_PAGE_SIZE / 8];
	const struct xpv_page_hdr *h = (const void *)page;
	struct vnuma_page_info info = {0};
	size_t used;

	(void)state;
	used = vnuma_page_fill(page, sizeof(page), sizeof(page), NULL, NULL, &info);
	assert_int_equal(used, 64);
	assert_int_equal(h->version, 0);
	assert_int_equal(h->nr_vcpus, 0);
	assert_int_equal(h->off_vcpus, 0);

	assert_true(VNUMA_PAGE_MAX_USED <= XPV_PAGE_SIZE);
	blob_build(&bl, 64, 64, 1024, 3);
	assert_accepts();
	used = vnuma_page_fill(page, sizeof(page), used, &map, NULL, &info);
	assert_int_equal(used, VNUMA_PAGE_MAX_USED);
	assert_int_equal(
		((const struct xpv_page_vcpu *)((const uint8_t *)page + h->off_vcpus))[1023].gnode,
		0xffff);
}

static void page_layout_shrink_clears_tail(void **state)
{
	static uint64_t page[XPV_PAGE_SIZE / 8];
	const uint8_t *p = (const void *)page;
	struct vnuma_page_info info = {0};
	size_t big, small, i;

	(void)state;
	memset(page, 0xee, sizeof(page));
	blob_build(&bl, 64, 64, 1024, 3);
	assert_accepts();
	big = vnuma_page_fill(page, sizeof(page), sizeof(page), &map, NULL, &info);
	assert_true(big > 0);
	blob_build(&bl, 2, 1, 2, 4);
	assert_accepts();
	small = vnuma_page_fill(page, sizeof(page), big, &map, NULL, &info);
	assert_true(small > 0 && small < big);
	/* nothing of the big layout survives past the small one */
	for (i = small; i < sizeof(page); i++)
		assert_int_equal(p[i], 0);
}

/* ---- robustness: bounded random mutation, fixed seed ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic across libcs, unlike rand() */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void check_invariants(const struct vnuma_map *m)
{
	unsigned int i, j;

	assert_true(m->nr_hnodes >= 1 && m->nr_hnodes <= 64);
	assert_true(m->nr_gnodes >= 1 && m->nr_gnodes <= 64);
	assert_true(m->nr_vcpus >= 1 && m->nr_vcpus <= 1024);
	for (i = 0; i < m->nr_gnodes; i++) {
		uint64_t sum = m->gnode[i].unplaced_bytes;

		assert_true(m->gnode[i].home < m->nr_hnodes || m->gnode[i].home == 0xffff);
		for (j = 0; j < m->nr_hnodes; j++) {
			assert_true(sum + m->gnode[i].bytes_on[j] >= sum);
			sum += m->gnode[i].bytes_on[j];
		}
		assert_true(sum <= m->gnode[i].size_bytes);
	}
	for (i = 0; i < m->nr_vcpus; i++) {
		assert_true(m->vcpu[i].hnode < m->nr_hnodes || m->vcpu[i].hnode == 0xffff);
		for (j = 0; j < i && (m->vcpu[i].flags & 1); j++)
			assert_true(!(m->vcpu[j].flags & 1) ||
				    m->vcpu[j].arch_id != m->vcpu[i].arch_id);
	}
	for (i = 0; i < m->nr_gnodes; i++)
		assert_true(!(m->gnode[i].flags & 4) || m->gnode[i].size_bytes == 0);
	for (i = 0; i < m->nr_hnodes; i++)
		assert_int_equal(m->dist[i * m->nr_hnodes + i], 10);
}

static void fuzz_mutations(void **state)
{
	static uint64_t page[XPV_PAGE_SIZE / 8];
	struct vnuma_page_info info = {0};
	const char *env = getenv("VNUMA_FUZZ_ITERS");
	unsigned long iters = env ? strtoul(env, NULL, 10) : 200000;
	unsigned long i, accepted = 0, rejected = 0;
	struct blob base;

	(void)state;
	blob_build(&base, 3, 2, 4, 7);
	for (i = 0; i < iters; i++) {
		struct vnuma_map_error why;
		unsigned int k, n = 1 + rnd() % 8;
		int ret;

		bl = base;
		for (k = 0; k < n; k++) {
			/* half the hits on the header, where one byte changes the most */
			uint32_t pos = rnd() % 2 ? rnd() % 48 : rnd() % bl.len;
			uint8_t val =
				rnd() % 4 ? rnd() : (uint8_t[]){0, 0xff, 0x40, 0x80}[rnd() % 4];

			bl.buf[pos] = val;
		}
		if (rnd() % 16 == 0)
			bl.len = rnd() % (bl.len + 64);
		ret = parse_ex(&bl, cfg_max_map_len(2, 4), rnd() % 4 ? 0 : rnd() % 16, &why);
		if (ret == 0) {
			accepted++;
			check_invariants(&map);
			assert_true(vnuma_page_fill(page, sizeof(page), sizeof(page), &map, NULL,
						    &info) > 0);
		} else {
			rejected++;
			assert_true(why.code > VNUMA_OK && why.code < VNUMA_E__COUNT);
		}
	}
	/* the loop must exercise both outcomes to mean anything */
	if (iters >= 1000) {
		assert_true(accepted > 0);
		assert_true(rejected > 0);
	}
	printf("# fuzz: %lu iterations, %lu accepted, %lu rejected\n", iters, accepted, rejected);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(valid_small_exact, setup_small),
		cmocka_unit_test_setup(valid_max_counts, setup_small),
		cmocka_unit_test_setup(valid_min_counts, setup_small),
		cmocka_unit_test_setup(valid_tables_reordered_and_long_header, setup_small),
		cmocka_unit_test_setup(valid_larger_stride, setup_small),
		cmocka_unit_test_setup(valid_unknown_and_unreachable, setup_small),
		cmocka_unit_test_setup(valid_bytes_exactly_size, setup_small),
		cmocka_unit_test_setup(dup_version_is_dropped_not_rejected, setup_small),
		cmocka_unit_test_setup(valid_memoryless_node, setup_small),
		cmocka_unit_test_setup(valid_nonpresent_vcpus, setup_small),
		cmocka_unit_test_setup(valid_reserved_and_undefined_bits, setup_small),
		cmocka_unit_test_setup(valid_nr_hnodes_changes, setup_small),
		cmocka_unit_test_setup(rej_short, setup_small),
		cmocka_unit_test_setup(rej_above_max_map_len, setup_small),
		cmocka_unit_test_setup(rej_magic, setup_small),
		cmocka_unit_test_setup(rej_format, setup_small),
		cmocka_unit_test_setup(rej_hdr_len, setup_small),
		cmocka_unit_test_setup(rej_total_len, setup_small),
		cmocka_unit_test_setup(rej_counts, setup_small),
		cmocka_unit_test_setup(rej_stride, setup_small),
		cmocka_unit_test_setup(rej_table_bounds, setup_small),
		cmocka_unit_test_setup(rej_table_overlap, setup_small),
		cmocka_unit_test_setup(rej_hnode_id, setup_small),
		cmocka_unit_test_setup(rej_hnode_dup, setup_small),
		cmocka_unit_test_setup(rej_dist, setup_small),
		cmocka_unit_test_setup(rej_home, setup_small),
		cmocka_unit_test_setup(rej_vcpu_hnode, setup_small),
		cmocka_unit_test_setup(rej_bytes_exceed, setup_small),
		cmocka_unit_test_setup(rej_bytes_overflow, setup_small),
		cmocka_unit_test_setup(rej_memoryless_with_size, setup_small),
		cmocka_unit_test_setup(rej_arch_id_dup, setup_small),
		cmocka_unit_test_setup(rej_version_lower, setup_small),
		cmocka_unit_test_setup(rej_version_zero, setup_small),
		cmocka_unit_test_setup(hostile_used_len, setup_small),
		cmocka_unit_test_setup(hostile_oversized_claims, setup_small),
		cmocka_unit_test_setup(hostile_torn_buffers, setup_small),
		cmocka_unit_test_setup(hostile_version_sequence, setup_small),
		cmocka_unit_test_setup(rej_leaves_reason_text, setup_small),
		cmocka_unit_test_setup(page_layout_roundtrip, setup_small),
		cmocka_unit_test_setup(page_layout_no_map_and_max, setup_small),
		cmocka_unit_test_setup(page_layout_shrink_clears_tail, setup_small),
		cmocka_unit_test_setup(fuzz_mutations, setup_small),
	};

	return cmocka_run_group_tests_name("vnuma_map " VARIANT, tests, NULL, NULL);
}
