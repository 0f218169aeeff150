// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LLC domains from hwloc and the per-domain split of Kyoto's charge:
 * synthetic hwloc XML topologies in an Intel shape (2 sockets, one L3
 * each) and an AMD shape (2 sockets of 4 CCXs), since the machines here
 * have one LLC; and the per-cgroup accounting against the per-thread one.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "account.h"
#include "topology.h"

#define MS 1000000ull

static struct topology *load(const char *name)
{
	struct topology *t = NULL;
	struct xpv_error *e = NULL;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", TOPOLOGIES, name);
	if (topology_load(&t, path, &e) < 0)
		fail_msg("%s: %s", path, e->msg);
	return t;
}

static void intel_two_sockets(void **state)
{
	struct topology *t = load("intel-2socket-16cpu.xml");
	json_t *d;

	(void)state;
	assert_int_equal(topology_n_domains(t), 2);
	assert_int_equal(topology_n_nodes(t), 2);
	assert_int_equal(topology_cpu_limit(t), 16);
	for (unsigned c = 0; c < 16; c++)
		assert_int_equal(topology_cpu_domain(t, c), c < 8 ? 0 : 1);
	assert_int_equal(topology_cpu_domain(t, 16), -1);
	assert_string_equal(topology_domain_cpus(t, 0), "0-7");
	assert_string_equal(topology_domain_cpus(t, 1), "8-15");
	assert_string_equal(topology_domain_nodes(t, 1), "1");
	assert_string_equal(topology_domain_cpus(t, 2), "");
	d = topology_describe(t);
	assert_int_equal(json_integer_value(json_object_get(d, "llc_level")), 3);
	assert_int_equal(json_array_size(json_object_get(d, "llc_domains")), 2);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_array_get(json_object_get(d, "llc_domains"), 1), "cache_kib")),
		16384);
	json_decref(d);
	topology_free(t);
}

static void amd_ccxs(void **state)
{
	struct topology *t = load("amd-2socket-8ccx.xml");

	(void)state;
	/* A CCX is the LLC domain, not the socket nor the NUMA node. */
	assert_int_equal(topology_n_domains(t), 8);
	assert_int_equal(topology_n_nodes(t), 2);
	for (unsigned c = 0; c < 16; c++)
		assert_int_equal(topology_cpu_domain(t, c), (int)c / 2);
	assert_string_equal(topology_domain_cpus(t, 5), "10-11");
	assert_string_equal(topology_domain_nodes(t, 3), "0");
	assert_string_equal(topology_domain_nodes(t, 4), "1");
	topology_free(t);
}

static void small_shapes(void **state)
{
	/* The 2-CPU shapes the integration test runs xpvd with. */
	struct topology *i = load("intel-2socket-2cpu.xml"), *a = load("amd-2ccx-2cpu.xml");

	(void)state;
	assert_int_equal(topology_n_domains(i), 2);
	assert_int_equal(topology_n_nodes(i), 2);
	assert_int_equal(topology_n_domains(a), 2);
	assert_int_equal(topology_n_nodes(a), 1);
	for (unsigned c = 0; c < 2; c++) {
		assert_int_equal(topology_cpu_domain(i, c), (int)c);
		assert_int_equal(topology_cpu_domain(a, c), (int)c);
	}
	topology_free(i);
	topology_free(a);
}

static void this_host(void **state)
{
	struct topology *t = NULL;
	struct xpv_error *e = NULL;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	assert_int_equal(topology_load(&t, NULL, &e), 0);
	assert_true(topology_n_domains(t) >= 1);
	assert_true(topology_cpu_limit(t) >= (unsigned)n);
	/* every online CPU is in exactly one domain */
	for (long c = 0; c < n; c++)
		assert_true(topology_cpu_domain(t, (unsigned)c) >= 0);
	topology_free(t);
}

static void bad_xml(void **state)
{
	char path[] = "/tmp/xpv-topo-XXXXXX";
	struct topology *t = NULL;
	struct xpv_error *e = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "<topology>not hwloc", 19), 19);
	close(fd);
	assert_true(topology_load(&t, path, &e) < 0);
	assert_non_null(strstr(e->msg, path));
	xpv_error_free(&e);
	unlink(path);
	assert_true(topology_load(&t, "/nonexistent/topo.xml", &e) < 0);
	assert_non_null(strstr(e->msg, "/nonexistent/topo.xml"));
	xpv_error_free(&e);
	assert_null(t);
}

/* A per-CPU sample: misses in a period where the group ran run_ms there
 * (software-clock time base: ns at 1 GHz). */
static struct acct_sample on_cpu(uint64_t misses, uint64_t run_ms)
{
	struct acct_sample s = {0};

	s.llc_misses = misses;
	s.base_cycles = run_ms * MS;
	s.run_ns = run_ms * MS;
	s.freq_khz = 1e6;
	return s;
}

static void domain_split(void **state)
{
	/* AMD shape: CPUs 2k, 2k+1 share CCX k.  A 100 ms period. */
	struct topology *t = load("amd-2socket-8ccx.xml");
	unsigned cpus[] = {0, 1, 2, 9, 15, 99};
	struct acct_sample s[6] = {on_cpu(1000, 50), on_cpu(3000, 100), on_cpu(500, 10),
				   on_cpu(200, 20),  on_cpu(0, 100),	on_cpu(700, 70)};
	int dom[6];
	double out[8] = {0}, total, sum = 0;

	(void)state;
	for (int i = 0; i < 6; i++)
		dom[i] = topology_cpu_domain(t, cpus[i]);
	assert_int_equal(dom[5], -1); /* CPU 99: not in the topology */
	total = account_split_domains(s, dom, 6, 100 * MS, out, 8);
	/* charge = misses per ms of the period, whatever the run time */
	assert_float_equal(out[0], (1000 + 3000) / 100.0, 1e-9);
	assert_float_equal(out[1], 500 / 100.0, 1e-9);
	assert_float_equal(out[4], 200 / 100.0, 1e-9);
	assert_float_equal(out[7], 0, 1e-12);
	for (int d = 0; d < 8; d++)
		sum += out[d];
	assert_float_equal(total, sum + 700 / 100.0, 1e-9);
	topology_free(t);
}

static void group_equals_threads(void **state)
{
	/*
	 * Two vCPU threads of one cgroup in a 100 ms period: A ran 60 ms on
	 * CPU 0 (600 misses) and 40 ms on CPU 1 (400), B 60 ms on CPU 1
	 * (1200).  Per thread: A {1000, 100 ms}, B {1200, 60 ms}; per CPU:
	 * CPU 0 {600, 60 ms}, CPU 1 {1600, 100 ms}.
	 */
	struct acct_sample a = on_cpu(1000, 100), b = on_cpu(1200, 60);
	struct acct_sample per_cpu[2] = {on_cpu(600, 60), on_cpu(400 + 1200, 40 + 60)};
	struct acct_vm vt = {0}, vg = {0};

	(void)state;
	account_begin(&vt);
	account_add_vcpu(&vt, &a, 100 * MS);
	account_add_vcpu(&vt, &b, 100 * MS);
	account_begin(&vg);
	account_add_group(&vg, per_cpu, 2, 100 * MS);
	/* what is charged and the CPU used do not depend on the method */
	assert_float_equal(vg.charged, vt.charged, 1e-9);
	assert_float_equal(vg.charged, (1000 + 1200) / 100.0, 1e-9);
	assert_float_equal(vg.cpus_used, vt.cpus_used, 1e-9);
	/* eq. 3.1 per ms of the group's CPU time, x CPUs used (1.6) */
	assert_float_equal(vg.llc_cap_act, 2200.0 / 160 * 1.6, 1e-9);
	/* ...which is the per-thread sum when the threads run alike */
	b = on_cpu(1000, 100);
	per_cpu[0] = on_cpu(1000, 100);
	per_cpu[1] = on_cpu(1000, 100);
	account_begin(&vt);
	account_add_vcpu(&vt, &a, 100 * MS);
	account_add_vcpu(&vt, &b, 100 * MS);
	account_begin(&vg);
	account_add_group(&vg, per_cpu, 2, 100 * MS);
	assert_float_equal(vg.llc_cap_act, vt.llc_cap_act, 1e-9);
}

static void group_multiplexed(void **state)
{
	/* A multiplexed CPU: counted 25 of 100 ms; the sample arrives
	 * already scaled by counters.c, so the charge is the scaled one. */
	struct acct_sample s = on_cpu(4 * 250, 100);
	struct acct_vm v = {0};

	(void)state;
	s.base_cycles = 100 * MS; /* scaled time_running */
	account_begin(&v);
	account_add_group(&v, &s, 1, 100 * MS);
	assert_float_equal(v.charged, 1000 / 100.0, 1e-9);
}

static void late_read_loses_nothing(void **state)
{
	/*
	 * A busy cgroup (or vCPU) read 150 ms after its previous read while
	 * the tick measured a 100 ms period (a late or preempted tick): the
	 * 1500 misses are all charged, over the following period's length;
	 * the CPU used stays at most one per sample.
	 */
	struct acct_sample s = on_cpu(1500, 150);
	struct acct_vm v = {0};

	(void)state;
	assert_float_equal(account_charge(&s, 100 * MS), 15.0, 1e-9);
	account_begin(&v);
	account_add_group(&v, &s, 1, 100 * MS);
	assert_float_equal(v.charged, 15.0, 1e-9);
	assert_float_equal(v.cpus_used, 1.0, 1e-9);
	account_begin(&v);
	account_add_vcpu(&v, &s, 100 * MS);
	assert_float_equal(v.charged, 15.0, 1e-9);
	assert_float_equal(v.cpus_used, 1.0, 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(intel_two_sockets),
		cmocka_unit_test(amd_ccxs),
		cmocka_unit_test(small_shapes),
		cmocka_unit_test(this_host),
		cmocka_unit_test(bad_xml),
		cmocka_unit_test(domain_split),
		cmocka_unit_test(group_equals_threads),
		cmocka_unit_test(group_multiplexed),
		cmocka_unit_test(late_read_loses_nothing),
	};

	return cmocka_run_group_tests_name("xpvd-topology", tests, NULL, NULL);
}
