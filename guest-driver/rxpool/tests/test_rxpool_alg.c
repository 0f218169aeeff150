// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of Algorithm 1 (xpv_rxpool_alg.h), the pool sizing that
 * virtio_net_xpvpool.ko runs: the paper's examples, the strict thresholds,
 * bounds, rounding of the step, overflow safety, invalid parameters, and an
 * exhaustive sweep against a reference written with 128-bit arithmetic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "xpv_rxpool_alg.h"

/* the paper's parameters, bounds wide enough not to matter */
static const struct xpv_rxpool_sizing paper = {
	.min_pages = 1,
	.max_pages = XPV_RXPOOL_MAX_PAGES,
	.grow_above_pct = 90,
	.shrink_below_pct = 20,
	.step_pct = 10,
};

static void paper_examples(void **state)
{
	(void)state;
	assert_int_equal(xpv_rxpool_next_size(&paper, 100, 91), 110);
	assert_int_equal(xpv_rxpool_next_size(&paper, 100, 10), 90);
	assert_int_equal(xpv_rxpool_next_size(&paper, 100, 100), 110);
	assert_int_equal(xpv_rxpool_next_size(&paper, 100, 0), 90);
	/* 500 MB of 4 KiB pages, the paper's start */
	assert_int_equal(xpv_rxpool_next_size(&paper, 128000, 128000), 140800);
	assert_int_equal(xpv_rxpool_next_size(&paper, 128000, 0), 115200);
}

static void thresholds_are_strict(void **state)
{
	xpv_rxpool_u64 used;

	(void)state;
	for (used = 20; used <= 90; used++)
		assert_int_equal(xpv_rxpool_next_size(&paper, 100, used), 100);
	assert_int_equal(xpv_rxpool_next_size(&paper, 100, 19), 90);
	assert_int_equal(xpv_rxpool_next_size(&paper, 100, 91), 110);
	/* 90 % of 1000 is 900: 900 stays, 901 grows */
	assert_int_equal(xpv_rxpool_next_size(&paper, 1000, 900), 1000);
	assert_int_equal(xpv_rxpool_next_size(&paper, 1000, 901), 1100);
	assert_int_equal(xpv_rxpool_next_size(&paper, 1000, 200), 1000);
	assert_int_equal(xpv_rxpool_next_size(&paper, 1000, 199), 900);
}

static void step_rounds_up(void **state)
{
	(void)state;
	/* 10 % of 5 is 0.5: the pool still moves by one page */
	assert_int_equal(xpv_rxpool_next_size(&paper, 5, 5), 6);
	assert_int_equal(xpv_rxpool_next_size(&paper, 5, 0), 4);
	assert_int_equal(xpv_rxpool_next_size(&paper, 101, 101), 112); /* ceil(10.1) = 11 */
	assert_int_equal(xpv_rxpool_next_size(&paper, 101, 0), 90);
	assert_int_equal(xpv_rxpool_next_size(&paper, 1, 1), 2);
	assert_int_equal(xpv_rxpool_next_size(&paper, 1, 0), 1); /* min */
}

static void bounds(void **state)
{
	struct xpv_rxpool_sizing s = paper;

	(void)state;
	s.min_pages = 95;
	s.max_pages = 105;
	assert_int_equal(xpv_rxpool_next_size(&s, 100, 100), 105);
	assert_int_equal(xpv_rxpool_next_size(&s, 100, 0), 95);
	assert_int_equal(xpv_rxpool_next_size(&s, 105, 105), 105);
	assert_int_equal(xpv_rxpool_next_size(&s, 95, 0), 95);
	/* a size outside the bounds is brought back first */
	assert_int_equal(xpv_rxpool_next_size(&s, 1000, 500), 105);
	assert_int_equal(xpv_rxpool_next_size(&s, 3, 2), 95);
	assert_int_equal(xpv_rxpool_next_size(&s, 0, 0), 95);
}

static void overflow_safe(void **state)
{
	xpv_rxpool_u64 max = XPV_RXPOOL_MAX_PAGES;

	(void)state;
	assert_int_equal(xpv_rxpool_next_size(&paper, max, max), max);
	assert_int_equal(xpv_rxpool_next_size(&paper, max, UINT64_MAX), max);
	assert_int_equal(xpv_rxpool_next_size(&paper, UINT64_MAX, UINT64_MAX), max);
	assert_int_equal(xpv_rxpool_next_size(&paper, UINT64_MAX, 0), max - (max + 9) / 10);
	assert_int_equal(xpv_rxpool_next_size(&paper, 100, UINT64_MAX), 110);
	assert_true(xpv_rxpool_next_size(&paper, max - 1, max - 1) <= max);
}

static void invalid_parameters_keep_size(void **state)
{
	struct xpv_rxpool_sizing s;

	(void)state;
	s = paper;
	s.min_pages = 0;
	assert_false(xpv_rxpool_sizing_valid(&s));
	assert_int_equal(xpv_rxpool_next_size(&s, 100, 100), 100);
	s = paper;
	s.min_pages = 200;
	s.max_pages = 100;
	assert_false(xpv_rxpool_sizing_valid(&s));
	s = paper;
	s.max_pages = XPV_RXPOOL_MAX_PAGES + 1;
	assert_false(xpv_rxpool_sizing_valid(&s));
	s = paper;
	s.shrink_below_pct = 90;
	assert_false(xpv_rxpool_sizing_valid(&s));
	s = paper;
	s.grow_above_pct = 101;
	assert_false(xpv_rxpool_sizing_valid(&s));
	s = paper;
	s.step_pct = 0;
	assert_false(xpv_rxpool_sizing_valid(&s));
	assert_int_equal(xpv_rxpool_next_size(&s, 100, 100), 100);
	s = paper;
	s.step_pct = 101;
	assert_false(xpv_rxpool_sizing_valid(&s));
	assert_true(xpv_rxpool_sizing_valid(&paper));
}

/* the rule restated with exact arithmetic, for the sweep */
static uint64_t reference(const struct xpv_rxpool_sizing *s, uint64_t size, uint64_t used)
{
	unsigned __int128 sz = size < s->min_pages   ? s->min_pages
			       : size > s->max_pages ? s->max_pages
						     : size;
	unsigned __int128 step = (sz * s->step_pct + 99) / 100, next = sz;

	if ((unsigned __int128)used * 100 > sz * s->grow_above_pct)
		next = sz + step;
	else if ((unsigned __int128)used * 100 < sz * s->shrink_below_pct)
		next = sz - step;
	if (next < s->min_pages)
		next = s->min_pages;
	if (next > s->max_pages)
		next = s->max_pages;
	return (uint64_t)next;
}

static void sweep_against_reference(void **state)
{
	struct xpv_rxpool_sizing s = paper;
	uint64_t size, used;

	(void)state;
	s.min_pages = 3;
	s.max_pages = 700;
	for (size = 0; size <= 720; size++)
		for (used = 0; used <= size + 2; used++)
			if (xpv_rxpool_next_size(&s, size, used) != reference(&s, size, used))
				fail_msg("size %lu used %lu: %lu, expected %lu",
					 (unsigned long)size, (unsigned long)used,
					 (unsigned long)xpv_rxpool_next_size(&s, size, used),
					 (unsigned long)reference(&s, size, used));
}

/* repeated evaluation converges: a constant load ends between the thresholds */
static void converges(void **state)
{
	uint64_t size = 10, used = 900;
	int i;

	(void)state;
	for (i = 0; i < 200; i++)
		size = xpv_rxpool_next_size(&paper, size, used);
	assert_true(used * 100 <= size * 90 && used * 100 >= size * 20);
	used = 1;
	for (i = 0; i < 200; i++)
		size = xpv_rxpool_next_size(&paper, size, used);
	assert_true(size <= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paper_examples),
		cmocka_unit_test(thresholds_are_strict),
		cmocka_unit_test(step_rounds_up),
		cmocka_unit_test(bounds),
		cmocka_unit_test(overflow_safe),
		cmocka_unit_test(invalid_parameters_keep_size),
		cmocka_unit_test(sweep_against_reference),
		cmocka_unit_test(converges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
