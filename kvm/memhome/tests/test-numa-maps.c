// SPDX-License-Identifier: GPL-2.0
/* numa_maps/maps parsers, region discovery and the numa_maps pass on fixtures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "numa-maps.h"
#include "regions.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif
#define MiB (1ull << 20)

static void test_fixture_lines(void **state)
{
	FILE *f = fopen(FIXTURES "/numa_maps-lines.txt", "r");
	char line[1024];
	int cases = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct mh_nm_entry e;
		char *tab = strchr(line, '\t');
		int rc;

		if (line[0] == '#' || !tab)
			continue;
		*tab = '\0';
		rc = mh_numa_maps_parse_line(tab + 1, &e);
		if (!strcmp(line, "ok") ? rc != 0 : rc != -EINVAL)
			fail_msg("expected %s for `%s` got %d", line, tab + 1, rc);
		cases++;
	}
	fclose(f);
	assert_true(cases >= 12);
}

static void test_fields(void **state)
{
	struct mh_nm_entry e;

	(void)state;
	assert_int_equal(mh_numa_maps_parse_line("7f1a40000000 bind:0 anon=60000 dirty=60000 "
						 "active=0 N0=50000 N1=10000 kernelpagesize_kB=4\n",
						 &e),
			 0);
	assert_int_equal(e.start, 0x7f1a40000000ull);
	assert_string_equal(e.policy, "bind:0");
	assert_true(e.anon);
	assert_int_equal(e.anon_pages, 60000);
	assert_int_equal(e.node_pages[0], 50000);
	assert_int_equal(e.node_pages[1], 10000);
	assert_int_equal(e.kpagesize, 4096);

	assert_int_equal(mh_numa_maps_parse_line("7f00 prefer:1 file=/dev/hugepages/x huge "
						 "dirty=8 N1=8 kernelpagesize_kB=2048",
						 &e),
			 0);
	assert_true(e.huge);
	assert_false(e.anon);
	assert_string_equal(e.file, "/dev/hugepages/x");
	assert_int_equal(e.kpagesize, 2 * MiB);
	assert_int_equal(e.node_pages[1], 8);

	/* sparse and large node ids are not array-index crashes (numad's bug) */
	assert_int_equal(mh_numa_maps_parse_line("7f00 default N63=1 N64=2 N1000=3", &e), 0);
	assert_int_equal(e.node_pages[63], 1);
	assert_int_equal(e.other_node_pages, 5);
	assert_int_equal(e.kpagesize, 4096); /* default when the field is absent */
}

static void test_policy_home(void **state)
{
	(void)state;
	assert_int_equal(mh_policy_home_node("bind:0"), 0);
	assert_int_equal(mh_policy_home_node("bind:2-3"), 2);
	assert_int_equal(mh_policy_home_node("prefer:1"), 1);
	assert_int_equal(mh_policy_home_node("preferred-many:1,3"), 1);
	assert_int_equal(mh_policy_home_node("default"), -1);
	assert_int_equal(mh_policy_home_node("interleave:0-1"), -1);
	assert_int_equal(mh_policy_home_node("local"), -1);
	assert_int_equal(mh_policy_home_node("bind:"), -1);
}

static void test_maps_line(void **state)
{
	struct mh_maps_entry m;

	(void)state;
	assert_int_equal(mh_maps_parse_line("7f1a80000000-7f1a88000000 rw-s 00000000 00:01 2049 "
					    "                      /memfd:m2 (deleted)\n",
					    &m),
			 0);
	assert_int_equal(m.start, 0x7f1a80000000ull);
	assert_int_equal(m.end - m.start, 128 * MiB);
	assert_string_equal(m.perms, "rw-s");
	assert_string_equal(m.path, "/memfd:m2 (deleted)");
	assert_int_equal(
		mh_maps_parse_line("7f1a40000000-7f1a50000000 rw-p 00000000 00:00 0 \n", &m), 0);
	assert_string_equal(m.path, "");
	assert_int_equal(mh_maps_parse_line("garbage", &m), -EINVAL);
	assert_int_equal(mh_maps_parse_line("20-10 rw-p 0 00:00 0", &m), -EINVAL);
}

static void opts(struct mh_vm_opts *o)
{
	mh_vm_opts_init(o);
	o->pid = 4242;
	o->proc_root = FIXTURES "/proc";
}

static const struct mh_region *find(const struct mh_region *r, int n, uint64_t start)
{
	for (int i = 0; i < n; i++)
		if (r[i].start == start)
			return &r[i];
	return NULL;
}

static void test_discover_auto(void **state)
{
	struct mh_vm_opts o;
	struct mh_region *r = NULL;
	const struct mh_region *a, *b, *c;
	struct xpv_error *err = NULL;
	int n = 0;

	(void)state;
	opts(&o);
	o.default_home = 0;
	assert_int_equal(mh_regions_discover(&o, NULL, 0, &r, &n, &err), 0);
	/* two bound anon backends and the memfd; not the heap, not the 2 MiB mapping */
	assert_int_equal(n, 3);
	a = find(r, n, 0x7f1a40000000ull);
	b = find(r, n, 0x7f1a60000000ull);
	c = find(r, n, 0x7f1a80000000ull);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(a->home, 0);
	assert_int_equal(a->home_src, MH_HOME_NUMA_MAPS);
	assert_int_equal(b->home, 1);
	assert_int_equal(c->home, 0);
	assert_int_equal(c->home_src, MH_HOME_DEFAULT);
	assert_true(c->shared);

	assert_int_equal(mh_regions_measure(o.proc_root, o.pid, r, n, &err), 0);
	assert_int_equal(a->node_bytes[0], 50000ull * 4096);
	assert_int_equal(a->remote_bytes, 10000ull * 4096);
	assert_int_equal(b->remote_bytes, 0);
	assert_int_equal(b->resident_bytes, 65536ull * 4096);
	assert_int_equal(c->remote_bytes, 15000ull * 4096);
	free(r);

	/* smaller threshold: the 2 MiB mapping shows up, without a home */
	opts(&o);
	o.min_region_size = 2 * MiB;
	assert_int_equal(mh_regions_discover(&o, NULL, 0, &r, &n, &err), 0);
	assert_int_equal(n, 4); /* + the 2 MiB one; [heap] is never guest RAM */
	assert_int_equal(find(r, n, 0x7f1a90000000ull)->home, -1);
	free(r);
}

static void test_discover_memdev(void **state)
{
	/* listed out of address order on purpose: matching is by size and policy */
	struct mh_memdev md[3] = {
		{.id = "m1", .size = 256 * MiB, .policy = "bind", .host_nodes = 2},
		{.id = "m0", .size = 256 * MiB, .policy = "bind", .host_nodes = 1},
		{.id = "m2", .size = 128 * MiB, .policy = "default", .share = true},
	};
	struct mh_region_spec spec = {.memdev = "m2", .home = 1};
	struct mh_vm_opts o;
	struct mh_region *r = NULL;
	struct xpv_error *err = NULL;
	int n = 0;

	(void)state;
	opts(&o);
	o.specs = &spec;
	o.nr_specs = 1;
	assert_int_equal(mh_regions_discover(&o, md, 3, &r, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(r[0].name, "m1");
	assert_int_equal(r[0].start, 0x7f1a60000000ull);
	assert_int_equal(r[0].home, 1);
	assert_int_equal(r[0].home_src, MH_HOME_MEMDEV);
	assert_string_equal(r[1].name, "m0");
	assert_int_equal(r[1].start, 0x7f1a40000000ull);
	assert_int_equal(r[1].home, 0);
	assert_string_equal(r[2].name, "m2");
	assert_int_equal(r[2].home, 1);
	assert_int_equal(r[2].home_src, MH_HOME_CONFIG);
	free(r);

	/* a default-policy memdev shows the task's policy ("bind:1" under numactl):
	 * it gets the mapping the bound memdev leaves, whatever the list order */
	{
		struct mh_memdev md2[2] = {
			{.id = "dflt", .size = 256 * MiB, .policy = "default"},
			{.id = "m0", .size = 256 * MiB, .policy = "bind", .host_nodes = 1},
		};

		o.nr_specs = 0;
		assert_int_equal(mh_regions_discover(&o, md2, 2, &r, &n, &err), 0);
		assert_int_equal(n, 2);
		assert_string_equal(r[0].name, "m0");
		assert_int_equal(r[0].start, 0x7f1a40000000ull);
		assert_string_equal(r[1].name, "dflt");
		assert_int_equal(r[1].start, 0x7f1a60000000ull);
		assert_int_equal(r[1].home, -1);
		free(r);
	}

	/* two default-policy memdevs of the same size cannot be told apart */
	strcpy(md[0].policy, "default");
	strcpy(md[1].policy, "default");
	o.nr_specs = 0;
	assert_int_equal(mh_regions_discover(&o, md, 2, &r, &n, &err), -EEXIST);
	assert_non_null(strstr(err->msg, "--region"));
	xpv_error_free(&err);

	/* a memdev whose size matches nothing */
	md[0].size = 3 * MiB;
	assert_int_equal(mh_regions_discover(&o, md, 1, &r, &n, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "m1"));
	xpv_error_free(&err);

	/* a memdev spec without QMP */
	o.specs = &spec;
	o.nr_specs = 1;
	assert_int_equal(mh_regions_discover(&o, NULL, 0, &r, &n, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "--qmp"));
	xpv_error_free(&err);
}

static void test_discover_range(void **state)
{
	struct mh_region_spec spec = {
		.start = 0x7f1a40000000ull, .end = 0x7f1a48000000ull, .home = 1};
	struct mh_vm_opts o;
	struct mh_region *r = NULL;
	struct xpv_error *err = NULL;
	int n = 0;

	(void)state;
	opts(&o);
	o.specs = &spec;
	o.nr_specs = 1;
	o.auto_detect = false;
	assert_int_equal(mh_regions_discover(&o, NULL, 0, &r, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].home, 1);
	assert_int_equal(r[0].end, 0x7f1a48000000ull);
	assert_int_equal(mh_regions_measure(o.proc_root, o.pid, r, n, &err), 0);
	/* the VMA overlapping the range counts whole: 50000 pages on node 0 are remote */
	assert_int_equal(r[0].remote_bytes, 50000ull * 4096);
	free(r);

	spec.start = 0x1000;
	spec.end = 0x2000;
	assert_int_equal(mh_regions_discover(&o, NULL, 0, &r, &n, &err), -ENOENT);
	xpv_error_free(&err);
}

static void test_gone(void **state)
{
	struct mh_region r = {.start = 0, .end = 1};
	struct xpv_error *err = NULL;

	(void)state;
	assert_true(mh_pid_alive(FIXTURES "/proc", 4242));
	assert_false(mh_pid_alive(FIXTURES "/proc", 4243)); /* zombie, ')' in its name */
	assert_false(mh_pid_alive(FIXTURES "/proc", 4244));
	assert_int_equal(mh_regions_measure(FIXTURES "/proc", 4243, &r, 1, &err), -ESRCH);
	xpv_error_free(&err);
	assert_int_equal(mh_regions_measure(FIXTURES "/proc", 4244, &r, 1, &err), -ESRCH);
	xpv_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_lines),  cmocka_unit_test(test_fields),
		cmocka_unit_test(test_policy_home),    cmocka_unit_test(test_maps_line),
		cmocka_unit_test(test_discover_auto),  cmocka_unit_test(test_discover_memdev),
		cmocka_unit_test(test_discover_range), cmocka_unit_test(test_gone),
	};
	return cmocka_run_group_tests_name("numa-maps", tests, NULL, NULL);
}
