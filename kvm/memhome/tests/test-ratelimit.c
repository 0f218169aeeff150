// SPDX-License-Identifier: GPL-2.0
/* Batching, rate-limit, CPU-budget and back-off arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

#define S 1000000000ull
#define MiB (1ull << 20)

static void test_bucket(void **state)
{
	struct mh_bucket b;

	(void)state;
	mh_bucket_init(&b, 100 * MiB, 25 * MiB, 0);
	assert_int_equal(mh_bucket_avail(&b, 0), 25 * MiB); /* starts full */
	mh_bucket_spend(&b, 25 * MiB);
	assert_int_equal(mh_bucket_avail(&b, 0), 0);
	/* 100 ms at 100 MiB/s refills 10 MiB */
	assert_int_equal(mh_bucket_avail(&b, S / 10), 10 * MiB);
	/* never beyond the burst */
	assert_int_equal(mh_bucket_avail(&b, 10 * S), 25 * MiB);
	/* overspending clamps at zero */
	mh_bucket_spend(&b, 100 * MiB);
	assert_int_equal(mh_bucket_avail(&b, 10 * S), 0);
	/* ready_at: 4 MiB needs 40 ms (+1 ns rounding), and then really is there */
	{
		uint64_t t = mh_bucket_ready_at(&b, 4 * MiB);

		assert_true(t >= 10 * S + 40000000ull && t <= 10 * S + 40000001ull);
		assert_true(mh_bucket_avail(&b, t) >= 4 * MiB);
	}
	/* requests beyond the burst wait only for the burst */
	mh_bucket_spend(&b, UINT64_MAX);
	assert_true(mh_bucket_ready_at(&b, 1000 * MiB) <= b.last_ns + S / 4 + 1);
}

static void test_bucket_long_run(void **state)
{
	struct mh_bucket b;
	uint64_t spent = 0;

	(void)state;
	/* many small refills must not lose the remainders: 10 s at 1 MiB/s, 1 ms steps */
	mh_bucket_init(&b, 1 * MiB, 64 * 1024, 0);
	mh_bucket_spend(&b, 64 * 1024);
	for (uint64_t t = 1000000; t <= 10 * S; t += 1000000) {
		uint64_t a = mh_bucket_avail(&b, t);

		spent += a;
		mh_bucket_spend(&b, a);
	}
	assert_true(spent >= 10 * MiB - 4096 && spent <= 10 * MiB);
}

static void test_unlimited(void **state)
{
	struct mh_bucket b;

	(void)state;
	mh_bucket_init(&b, 0, 0, 5);
	assert_int_equal(mh_bucket_avail(&b, 5), UINT64_MAX);
	mh_bucket_spend(&b, 1ull << 40);
	assert_int_equal(mh_bucket_avail(&b, 5), UINT64_MAX);
	assert_int_equal(mh_cpu_next_allowed(0, 5 * S, 0), 0);
}

static void test_batch(void **state)
{
	(void)state;
	assert_int_equal(mh_batch_pages(1024, UINT64_MAX, 4096, 100000), 1024);
	assert_int_equal(mh_batch_pages(1024, 40960, 4096, 100000), 10);
	assert_int_equal(mh_batch_pages(1024, 4095, 4096, 100000), 0);
	assert_int_equal(mh_batch_pages(1024, UINT64_MAX, 4096, 7), 7);
	assert_int_equal(mh_batch_pages(1024, 4 * MiB, 2 * MiB, 100), 2);
	assert_int_equal(mh_batch_pages(1024, 4 * MiB, 0, 100), 0);
}

static void test_cpu_budget(void **state)
{
	(void)state;
	/* 25 % of a CPU: 10 ms of CPU allows the next batch 40 ms after the window start */
	assert_int_equal(mh_cpu_next_allowed(1000, 10000000ull, 250000), 1000 + 40000000ull);
	/* a full CPU: no waiting beyond the CPU time itself */
	assert_int_equal(mh_cpu_next_allowed(0, 7, 1000000), 7);
	/* no overflow on large CPU times */
	assert_int_equal(mh_cpu_next_allowed(0, 3600 * S, 1), 3600 * S * 1000000ull);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(mh_backoff_ns(60 * S, 0), 60 * S);
	assert_int_equal(mh_backoff_ns(60 * S, 1), 60 * S);
	assert_int_equal(mh_backoff_ns(60 * S, 2), 120 * S);
	assert_int_equal(mh_backoff_ns(60 * S, 4), 480 * S);
	assert_int_equal(mh_backoff_ns(60 * S, 100), 60 * S << 16); /* capped */
	assert_int_equal(mh_backoff_ns(UINT64_MAX / 2, 3), UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket),	   cmocka_unit_test(test_bucket_long_run),
		cmocka_unit_test(test_unlimited),  cmocka_unit_test(test_batch),
		cmocka_unit_test(test_cpu_budget), cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
