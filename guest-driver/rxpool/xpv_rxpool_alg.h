/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Algorithm 1 of Mvondo et al., "Memory flipping: a threat to NUMA virtual
 * machines in the Cloud" (INFOCOM 2019): the dynamic pool size.  At each
 * evaluation the share of the pool in use is computed; above grow_above_pct
 * (paper: 90 %) the pool grows by step_pct (10 %) of its size, below
 * shrink_below_pct (20 %) it shrinks by step_pct, otherwise it stays.
 *
 * A pure function on page counts, shared by virtio_net_xpvpool.ko and the
 * user-space unit test (guest-driver/rxpool/tests), so the test checks the
 * code the module runs.  Choices the paper leaves open:
 *  - the thresholds are strict ("greater than 90 %", "less than 20 %");
 *  - the step is rounded up, so a small pool still moves by at least one
 *    page (10 % of 5 pages would otherwise be 0 and the pool could never
 *    grow);
 *  - the result is clamped to [min_pages, max_pages];
 *  - no intermediate product can overflow: sizes are limited to
 *    XPV_RXPOOL_MAX_PAGES, so size * 100 fits in 64 bits.
 */
#ifndef XPV_RXPOOL_ALG_H
#define XPV_RXPOOL_ALG_H

#ifdef __KERNEL__
#include <linux/types.h>
typedef u64 xpv_rxpool_u64;
#else
#include <stdbool.h>
#include <stdint.h>
typedef uint64_t xpv_rxpool_u64;
#endif

/* 2^40 pages of 4 KiB = 4 PiB: far above any guest, far below U64_MAX / 100 */
#define XPV_RXPOOL_MAX_PAGES ((xpv_rxpool_u64)1 << 40)

struct xpv_rxpool_sizing {
	xpv_rxpool_u64 min_pages; /* never below (>= 1) */
	xpv_rxpool_u64 max_pages; /* never above (<= XPV_RXPOOL_MAX_PAGES) */
	unsigned int grow_above_pct; /* paper: 90 */
	unsigned int shrink_below_pct; /* paper: 20 */
	unsigned int step_pct; /* paper: 10 */
};

/* The parameters make sense: bounds ordered, thresholds 0..100 and ordered. */
static inline bool xpv_rxpool_sizing_valid(const struct xpv_rxpool_sizing *s)
{
	return s->min_pages >= 1 && s->min_pages <= s->max_pages &&
	       s->max_pages <= XPV_RXPOOL_MAX_PAGES && s->shrink_below_pct < s->grow_above_pct &&
	       s->grow_above_pct <= 100 && s->step_pct >= 1 && s->step_pct <= 100;
}

static inline xpv_rxpool_u64 xpv_rxpool_clamp(const struct xpv_rxpool_sizing *s,
					      xpv_rxpool_u64 pages)
{
	if (pages < s->min_pages)
		return s->min_pages;
	if (pages > s->max_pages)
		return s->max_pages;
	return pages;
}

/*
 * The next pool size for a pool of @size pages of which @used are in use.
 * @used may exceed @size (pages handed out before a shrink came back late):
 * that counts as more than full.  Invalid parameters leave the size as it is.
 */
static inline xpv_rxpool_u64 xpv_rxpool_next_size(const struct xpv_rxpool_sizing *s,
						  xpv_rxpool_u64 size, xpv_rxpool_u64 used)
{
	xpv_rxpool_u64 step;

	if (!xpv_rxpool_sizing_valid(s))
		return size;
	size = xpv_rxpool_clamp(s, size);
	if (used > size)
		used = size + 1; /* keeps used * 100 in range */
	step = (size * s->step_pct + 99) / 100;
	if (used * 100 > size * s->grow_above_pct)
		return xpv_rxpool_clamp(s, size + step);
	if (used * 100 < size * s->shrink_below_pct)
		return xpv_rxpool_clamp(s, size - step);
	return size;
}

#endif /* XPV_RXPOOL_ALG_H */
