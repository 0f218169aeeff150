// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the virtio-numa map parser and page layout (vnuma_map.c),
 * built in user space.  Each rule of docs/virtio-numa.md §6.6 has a case that
 * must be rejected with that rule's code; the mutation loop at the end checks
 * that no input crashes the parser (run under ASan/UBSan by the suite).
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

static int parse_ex(const struct blob *b, uint32_t max_map_len, uint64_t cfg_version, uint64_t held,
		    struct vnuma_map_error *why)
{
	struct vnuma_map_ctx ctx = {
		.max_map_len = max_map_len,
		.map_version = cfg_version,
		.held_version = held,
	};
	/* An exact-size heap copy, so ASan sees any read past map_len. */
	void *copy = malloc(b->len ? b->len : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, b->buf, b->len);
	ret = vnuma_map_parse(copy, b->len, &ctx, &map, why);
	free(copy);
	return ret;
}

static int parse(const struct blob *b, struct vnuma_map_error *why)
{
	return parse_ex(b, 1u << 20, b->version, 0, why);
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
	memcpy(moved.buf + off, bl.buf + bl.off_vcpus, 8u * bl.nv);
	off += 8u * bl.nv;
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
	memcpy(wide.buf + wide.off_vcpus, bl.buf + bl.off_vcpus, 8u * bl.nv);
	wide.len = wide.off_vcpus + 8u * bl.nv;
	blob_sync_hdr(&wide);
	bl = wide;
	assert_accepts();
	check_map_equals_built(&bl);
}

static void valid_unknown_and_unreachable(void **state)
{
	(void)state;
	put16(bl.buf + bl.off_gnodes, 0xffff); /* home unknown */
	put16(bl.buf + bl.off_vcpus, 0xffff); /* vcpu 0 unknown */
	bl.buf[bl.off_dist + 1] = 255; /* unreachable */
	put32(bl.buf + bl.off_vcpus + 4, 0xffffffffu); /* host cpu unknown */
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

static void valid_equal_version_held(void **state)
{
	struct vnuma_map_error why;

	(void)state;
	assert_int_equal(parse_ex(&bl, 1u << 20, 7, 7, &why), 0);
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
	assert_int_equal(parse_ex(&bl, bl.len - 1, bl.version, 0, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_MAP_LEN);
	assert_int_equal(parse_ex(&bl, bl.len, bl.version, 0, &why), 0);
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
	put16(bl.buf + H_FORMAT, 2);
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
	(void)state;
	put16(bl.buf + H_NR_HNODES, 0);
	assert_rejects(VNUMA_E_NR_HNODES);
	put16(bl.buf + H_NR_HNODES, 65);
	assert_rejects(VNUMA_E_NR_HNODES);
	put16(bl.buf + H_NR_HNODES, 0xffff);
	assert_rejects(VNUMA_E_NR_HNODES);
	put16(bl.buf + H_NR_HNODES, bl.nh);

	put16(bl.buf + H_NR_GNODES, 0);
	assert_rejects(VNUMA_E_NR_GNODES);
	put16(bl.buf + H_NR_GNODES, 65);
	assert_rejects(VNUMA_E_NR_GNODES);
	put16(bl.buf + H_NR_GNODES, bl.ng);

	put16(bl.buf + H_NR_VCPUS, 0);
	assert_rejects(VNUMA_E_NR_VCPUS);
	put16(bl.buf + H_NR_VCPUS, 1025);
	assert_rejects(VNUMA_E_NR_VCPUS);
	put16(bl.buf + H_NR_VCPUS, bl.nv);
	assert_accepts();
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
	put16(bl.buf + bl.off_vcpus + 8 * 2, bl.nh);
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

/* ---- rule 8: versions ---- */

static void rej_version_mismatch(void **state)
{
	struct vnuma_map_error why;

	(void)state;
	assert_int_equal(parse_ex(&bl, 1u << 20, bl.version + 1, 0, &why), -EINVAL);
	assert_int_equal(why.code, VNUMA_E_VERSION);
}

static void rej_version_lower(void **state)
{
	struct vnuma_map_error why;

	(void)state;
	assert_int_equal(parse_ex(&bl, 1u << 20, bl.version, bl.version + 1, &why), -ESTALE);
	assert_int_equal(why.code, VNUMA_E_STALE);
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
	for (i = 0; i < m->nr_vcpus; i++)
		assert_true(m->vcpu[i].hnode < m->nr_hnodes || m->vcpu[i].hnode == 0xffff);
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
		uint64_t cfg_version;
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
		cfg_version = rnd() % 8 ? 7 : rnd() % 16;
		ret = parse_ex(&bl, 1u << 20, cfg_version, rnd() % 4 ? 0 : rnd() % 16, &why);
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
		cmocka_unit_test_setup(valid_equal_version_held, setup_small),
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
		cmocka_unit_test_setup(rej_version_mismatch, setup_small),
		cmocka_unit_test_setup(rej_version_lower, setup_small),
		cmocka_unit_test_setup(rej_leaves_reason_text, setup_small),
		cmocka_unit_test_setup(page_layout_roundtrip, setup_small),
		cmocka_unit_test_setup(page_layout_no_map_and_max, setup_small),
		cmocka_unit_test_setup(page_layout_shrink_clears_tail, setup_small),
		cmocka_unit_test_setup(fuzz_mutations, setup_small),
	};

	return cmocka_run_group_tests_name("vnuma_map " VARIANT, tests, NULL, NULL);
}
