// SPDX-License-Identifier: GPL-2.0
/* The pure repatriation policy on synthetic inputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy.h"

#define S 1000000000ull
#define MiB (1ull << 20)

static const struct mh_policy periodic = {
	.kind = MH_POLICY_PERIODIC,
	.period_ns = 900 * S,
	.scan_interval_ns = 10 * S,
	.min_gap_ns = 60 * S,
};
static const struct mh_policy threshold = {
	.kind = MH_POLICY_THRESHOLD,
	.threshold_bytes = 500 * MiB,
	.scan_interval_ns = 10 * S,
	.min_gap_ns = 60 * S,
};

/* a fresh measurement at `now` showing `remote` bytes */
static struct mh_policy_input fresh(uint64_t now, uint64_t remote)
{
	struct mh_policy_input in = {
		.now_ns = now,
		.start_ns = 1000 * S,
		.measured = true,
		.measured_ns = now,
		.remote_bytes = remote,
	};
	return in;
}

static void test_measure_first(void **state)
{
	struct mh_policy_input in = fresh(1000 * S, 0);
	struct mh_decision d;

	(void)state;
	in.measured = false;
	d = mh_policy_decide(&threshold, &in);
	assert_int_equal(d.action, MH_ACT_MEASURE);
	d = mh_policy_decide(&periodic, &in);
	assert_int_equal(d.action, MH_ACT_MEASURE);
	/* stale after scan_interval */
	in = fresh(1000 * S, 0);
	in.measured_ns = 990 * S;
	assert_int_equal(mh_policy_decide(&threshold, &in).action, MH_ACT_MEASURE);
	in.measured_ns = 990 * S + 1;
	assert_int_equal(mh_policy_decide(&threshold, &in).action, MH_ACT_NONE);
}

static void test_periodic(void **state)
{
	struct mh_policy_input in;
	struct mh_decision d;

	(void)state;
	/* before the first period: nothing, whatever is remote; wake for the next scan */
	in = fresh(1000 * S + 500 * S, 10000 * MiB);
	d = mh_policy_decide(&periodic, &in);
	assert_int_equal(d.action, MH_ACT_NONE);
	assert_int_equal(d.next_ns, in.now_ns + 10 * S);
	/* wake-up time is the due time when it comes before the next scan */
	in = fresh(1000 * S + 895 * S, 1);
	d = mh_policy_decide(&periodic, &in);
	assert_int_equal(d.next_ns, 1900 * S);
	/* due, with a measurement taken after the due time */
	in = fresh(1900 * S, 1 * MiB);
	d = mh_policy_decide(&periodic, &in);
	assert_int_equal(d.action, MH_ACT_REPATRIATE);
	/* due, but the measurement predates the due time: measure first */
	in = fresh(1905 * S, 1 * MiB);
	in.measured_ns = 1899 * S;
	assert_int_equal(mh_policy_decide(&periodic, &in).action, MH_ACT_MEASURE);
	/* due, nothing remote: no pass; the period restarts */
	in = fresh(1900 * S, 0);
	d = mh_policy_decide(&periodic, &in);
	assert_int_equal(d.action, MH_ACT_NONE);
	assert_true(d.next_ns > in.now_ns);
	/* after a pass, the next is due a period after that pass started */
	in = fresh(2799 * S, 100 * MiB);
	in.last_pass_ns = 1900 * S;
	assert_int_equal(mh_policy_decide(&periodic, &in).action, MH_ACT_NONE);
	in = fresh(2800 * S, 100 * MiB);
	in.last_pass_ns = 1900 * S;
	assert_int_equal(mh_policy_decide(&periodic, &in).action, MH_ACT_REPATRIATE);
	/* remote bytes that are all unmovable do not start a pass */
	in.unmovable_bytes = 100 * MiB;
	assert_int_equal(mh_policy_decide(&periodic, &in).action, MH_ACT_NONE);
}

static void test_threshold(void **state)
{
	struct mh_policy_input in;
	struct mh_decision d;

	(void)state;
	in = fresh(5000 * S, 500 * MiB);
	d = mh_policy_decide(&threshold, &in);
	assert_int_equal(d.action, MH_ACT_NONE); /* at the threshold: not above */
	assert_int_equal(d.next_ns, in.now_ns + 10 * S);
	in.remote_bytes = 500 * MiB + 4096;
	assert_int_equal(mh_policy_decide(&threshold, &in).action, MH_ACT_REPATRIATE);
	/* unmovable bytes are not counted toward the threshold */
	in.unmovable_bytes = 8192;
	assert_int_equal(mh_policy_decide(&threshold, &in).action, MH_ACT_NONE);
	in.unmovable_bytes = 600 * MiB; /* more unmovable than remote: no underflow */
	assert_int_equal(mh_policy_decide(&threshold, &in).action, MH_ACT_NONE);
	/* minimum gap between passes */
	in = fresh(5000 * S, 900 * MiB);
	in.last_pass_ns = 4950 * S;
	d = mh_policy_decide(&threshold, &in);
	assert_int_equal(d.action, MH_ACT_NONE);
	assert_int_equal(d.next_ns, 5010 * S);
	in.last_pass_ns = 4940 * S;
	assert_int_equal(mh_policy_decide(&threshold, &in).action, MH_ACT_REPATRIATE);
	/* the first pass is not held back by the gap */
	in = fresh(10 * S, 900 * MiB);
	in.start_ns = 5 * S;
	assert_int_equal(mh_policy_decide(&threshold, &in).action, MH_ACT_REPATRIATE);
}

static void test_active_and_requested(void **state)
{
	struct mh_policy_input in;
	struct mh_policy off = threshold;

	(void)state;
	/* an active pass continues even on a stale measurement or below threshold */
	in = fresh(5000 * S, 0);
	in.pass_active = true;
	in.measured = false;
	assert_int_equal(mh_policy_decide(&threshold, &in).action, MH_ACT_REPATRIATE);
	/* a request starts a pass on a fresh measurement, whatever the policy */
	off.kind = MH_POLICY_OFF;
	in = fresh(5000 * S, 0);
	in.pass_requested = true;
	assert_int_equal(mh_policy_decide(&off, &in).action, MH_ACT_REPATRIATE);
	in.measured = false;
	assert_int_equal(mh_policy_decide(&off, &in).action, MH_ACT_MEASURE);
	/* off: never repatriates by itself */
	in = fresh(5000 * S, 100000 * MiB);
	assert_int_equal(mh_policy_decide(&off, &in).action, MH_ACT_NONE);
}

static void test_saturation(void **state)
{
	struct mh_policy p = periodic;
	struct mh_policy_input in = fresh(UINT64_MAX - 5, 1);
	struct mh_decision d;

	(void)state;
	p.period_ns = UINT64_MAX;
	p.scan_interval_ns = UINT64_MAX;
	d = mh_policy_decide(&p, &in);
	assert_int_equal(d.action, MH_ACT_NONE);
	assert_int_equal(d.next_ns, UINT64_MAX);
}

static void test_parsers(void **state)
{
	uint64_t v;
	enum mh_policy_kind k;

	(void)state;
	assert_int_equal(mh_parse_duration_ns("900", &v), 0);
	assert_int_equal(v, 900 * S);
	assert_int_equal(mh_parse_duration_ns("15m", &v), 0);
	assert_int_equal(v, 900 * S);
	assert_int_equal(mh_parse_duration_ns("250ms", &v), 0);
	assert_int_equal(v, 250000000ull);
	assert_int_equal(mh_parse_duration_ns("2h", &v), 0);
	assert_int_equal(v, 7200 * S);
	assert_int_equal(mh_parse_bytes("500M", &v), 0);
	assert_int_equal(v, 500 * MiB);
	assert_int_equal(mh_parse_bytes("1GiB", &v), 0);
	assert_int_equal(v, 1024 * MiB);
	assert_int_equal(mh_parse_bytes("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(mh_parse_bytes("-1", &v), -EINVAL);
	assert_int_equal(mh_parse_bytes("5X", &v), -EINVAL);
	assert_int_equal(mh_parse_bytes("", &v), -EINVAL);
	assert_int_equal(mh_parse_bytes("99999999999T", &v), -EINVAL);
	assert_int_equal(mh_parse_duration_ns("1d", &v), -EINVAL);
	assert_int_equal(mh_parse_duration_ns("m", &v), -EINVAL);
	assert_int_equal(mh_parse_policy_kind("threshold", &k), 0);
	assert_int_equal(k, MH_POLICY_THRESHOLD);
	assert_int_equal(mh_parse_policy_kind("periodic", &k), 0);
	assert_int_equal(k, MH_POLICY_PERIODIC);
	assert_int_equal(mh_parse_policy_kind("Periodic", &k), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_measure_first), cmocka_unit_test(test_periodic),
		cmocka_unit_test(test_threshold),     cmocka_unit_test(test_active_and_requested),
		cmocka_unit_test(test_saturation),    cmocka_unit_test(test_parsers),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
