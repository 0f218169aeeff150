// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests of libxpv-jemalloc (cmocka, TAP) against a fake map: a page
 * file written with the driver's seqcount protocol (srl/tests/fakepage.c)
 * that the add-on maps through XPV_JEMALLOC_DEV. The test thread is pinned
 * to CPU 0 (and 1), so the fake map decides its node; moves are new pages
 * published into the same file.
 *
 * The add-on initialises on the first malloc, which glibc may do before
 * main(): main() therefore writes the page and re-executes itself with
 * XPV_JEMALLOC_DEV set. Built twice: the shared library with its malloc
 * interposer, and (XPV_JEMALLOC_NO_INTERPOSE) the source compiled in under
 * ASan/UBSan, where ASan owns malloc and the tests call follow + mallocx.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jemalloc/jemalloc.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tests/fakepage.h"
#include "../xpv-jemalloc.h"

#ifdef XPV_JEMALLOC_NO_INTERPOSE
static void *xalloc(size_t n)
{
	xpv_jemalloc_follow();
	return mallocx(n, 0);
}
#define xfree(p) dallocx(p, 0)
#else
#define xalloc malloc
#define xfree free
#endif

#define SMALL 64
#define NSMALL 64

static const char *page_path;
static struct fp_desc *desc;

/* vCPU 0 and 1 on host index h0/h1; guest node 0 is homed on index 1, node 1 on 0 */
static void publish(uint64_t version, int h0, int h1)
{
	int fd = open(page_path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	desc->version = version;
	desc->vcpu[0].hnode = h0;
	desc->vcpu[1].hnode = h1;
	assert_int_equal(fp_publish_fd(fd, desc), 0);
	close(fd);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
	assert_int_equal(sched_getcpu(), cpu);
}

static unsigned thread_arena(void)
{
	unsigned ind;
	size_t sz = sizeof(ind);

	assert_int_equal(mallctl("thread.arena", &ind, &sz, NULL, 0), 0);
	return ind;
}

static unsigned arena_of(void *p)
{
	unsigned ind;
	size_t sz = sizeof(ind);

	assert_int_equal(mallctl("arenas.lookup", &ind, &sz, &p, sizeof(p)), 0);
	return ind;
}

static unsigned node_arena(int node)
{
	struct xpv_jemalloc_stats st;

	assert_int_equal(xpv_jemalloc_stats(&st), 0);
	assert_true(st.active);
	assert_int_not_equal(st.node[node].arena, 0);
	return st.node[node].arena;
}

static int setup(void **state)
{
	(void)state;
	pin(0);
	publish(10, 1, 1); /* both vCPUs on host index 1, where node 0 lives */
	return 0;
}

static void test_first_malloc_takes_node_arena(void **state)
{
	void *p;

	(void)state;
	p = xalloc(SMALL);
	assert_non_null(p);
	assert_int_equal(xpv_jemalloc_follow(), 0);
	assert_int_equal(thread_arena(), node_arena(0));
	assert_int_equal(arena_of(p), node_arena(0));
	xfree(p);
}

/* The point of the flush: small objects freed before a move sit in the tcache. */
static void test_move_switches_arena_and_flushes_tcache(void **state)
{
	void *old[NSMALL], *p;
	unsigned long switches;
	struct xpv_jemalloc_stats st;
	int i, j;

	(void)state;
	for (i = 0; i < NSMALL; i++)
		assert_non_null(old[i] = xalloc(SMALL));
	for (i = 0; i < NSMALL; i++)
		xfree(old[i]); /* into the tcache */
	assert_int_equal(xpv_jemalloc_stats(&st), 0);
	switches = st.switches;

	publish(11, 0, 1); /* vCPU 0 moves to host index 0, node 1's home */
	for (i = 0; i < NSMALL; i++) {
		p = xalloc(SMALL);
		assert_non_null(p);
		assert_int_equal(arena_of(p), node_arena(1));
		for (j = 0; j < NSMALL; j++)
			assert_ptr_not_equal(p, old[j]);
		old[i] = p;
	}
	assert_int_equal(thread_arena(), node_arena(1));
	assert_int_equal(xpv_jemalloc_stats(&st), 0);
	assert_int_equal(st.switches, switches + 1);
	for (i = 0; i < NSMALL; i++)
		xfree(old[i]);

	publish(12, 1, 1); /* and back */
	p = xalloc(SMALL);
	assert_int_equal(arena_of(p), node_arena(0));
	xfree(p);
}

/* A new version that does not move this vCPU changes nothing. */
static void test_unrelated_change_keeps_arena(void **state)
{
	struct xpv_jemalloc_stats st;
	unsigned long switches;
	void *p;

	(void)state;
	xfree(xalloc(SMALL));
	assert_int_equal(xpv_jemalloc_stats(&st), 0);
	switches = st.switches;
	publish(13, 1, 0); /* vCPU 1 moved, not us */
	p = xalloc(SMALL);
	assert_int_equal(arena_of(p), node_arena(0));
	assert_int_equal(xpv_jemalloc_stats(&st), 0);
	assert_int_equal(st.switches, switches);
	xfree(p);
}

/* The thread itself migrating to a vCPU of another node also switches. */
static void test_cpu_change_switches(void **state)
{
	void *p;

	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	publish(14, 1, 0); /* CPU 0 -> node 0, CPU 1 -> node 1 */
	p = xalloc(SMALL);
	assert_int_equal(arena_of(p), node_arena(0));
	xfree(p);
	pin(1);
	p = xalloc(SMALL);
	assert_int_equal(arena_of(p), node_arena(1));
	xfree(p);
	pin(0);
	p = xalloc(SMALL);
	assert_int_equal(arena_of(p), node_arena(0));
	xfree(p);
}

static bool node_online(int node)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", node);
	return access(path, F_OK) == 0;
}

/* Every extent a node arena gets is mbind()ed there before its first touch. */
static void check_extent_policy(int node, size_t size)
{
	struct xpv_jemalloc_stats st;
	unsigned long before, failed, mask[2] = {0, 0};
	int mode = -1;
	char *p;

	assert_int_equal(xpv_jemalloc_stats(&st), 0);
	before = st.node[node].extents;
	failed = st.node[node].bind_failed;
	p = xalloc(size);
	assert_non_null(p);
	assert_int_equal(arena_of(p), node_arena(node));
	assert_int_equal(xpv_jemalloc_stats(&st), 0);
	assert_true(st.node[node].extents > before);
	if (node_online(node)) {
		assert_int_equal(st.node[node].bind_failed, failed);
		assert_int_equal(get_mempolicy(&mode, mask, sizeof(mask) * 8 + 1, p, MPOL_F_ADDR),
				 0);
		assert_int_equal(mode, MPOL_PREFERRED);
		assert_int_equal(mask[0], 1ul << node);
	} else {
		/* this host lacks the node: the memory is still handed out, unbound */
		assert_true(st.node[node].bind_failed > failed);
	}
	memset(p, 1, size);
	xfree(p);
}

static void test_extents_bound_to_node(void **state)
{
	(void)state;
	publish(15, 1, 1);
	check_extent_policy(0, 4 << 20);
	check_extent_policy(0, 64 << 20); /* above jemalloc's oversize threshold */
	publish(16, 0, 1);
	check_extent_policy(1, 4 << 20);
	check_extent_policy(1, 64 << 20);
	publish(17, 1, 1);
}

#ifndef XPV_JEMALLOC_NO_INTERPOSE
static void test_calloc_zeroes_and_overflows(void **state)
{
	unsigned char *p;
	volatile size_t n;
	size_t i;

	(void)state;
	p = calloc(1000, 3);
	assert_non_null(p);
	for (i = 0; i < 3000; i++)
		assert_int_equal(p[i], 0);
	free(p);
	errno = 0;
	n = SIZE_MAX / 2; /* through a volatile: the compiler must not see the overflow */
	assert_null(calloc(n, 3));
	assert_int_equal(errno, ENOMEM);
	p = malloc(0);
	assert_non_null(p);
	free(p);
}
#endif

/* Threads allocating while the map flips: no crash, every object usable. */
static void *churn(void *arg)
{
	void *p[32];

	(void)arg;
	for (int r = 0; r < 2000; r++) {
		for (int i = 0; i < 32; i++) {
			p[i] = xalloc(16 << (i % 8));
			assert_non_null(p[i]);
			memset(p[i], r, 16);
		}
		for (int i = 0; i < 32; i++)
			xfree(p[i]);
	}
	return NULL;
}

static void test_threads_while_map_changes(void **state)
{
	pthread_t th[3];
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn, NULL), 0);
	for (i = 0; i < 200; i++)
		publish(100 + i, i % 2, (i / 2) % 2);
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	publish(1000, 1, 1);
}

/* fork() while other threads take the slow path: the child can allocate. */
static void test_fork_while_switching(void **state)
{
	pthread_t th[2];
	int i, status;

	(void)state;
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn, NULL), 0);
	for (i = 0; i < 40; i++) {
		pid_t pid;

		publish(2000 + i, i % 2, 1);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			void *p = xalloc(SMALL);

			xfree(p);
			_exit(p ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	publish(3000, 1, 1);
}

/* Without a live map the add-on only forwards (checked in a child process). */
static int inactive_child(void)
{
	struct xpv_jemalloc_stats st;
	unsigned before = thread_arena();
	void *p = xalloc(SMALL);

	if (!p || xpv_jemalloc_follow() != -ENODEV || xpv_jemalloc_stats(&st) || st.active ||
	    thread_arena() != before)
		return 1;
	xfree(p);
	return 0;
}

/* Started before the driver published a map: follows once it appears. */
static int late_map_child(const char *path)
{
	struct xpv_jemalloc_stats st;
	void *p = xalloc(SMALL);

	if (!p || xpv_jemalloc_follow() != -ENODATA || xpv_jemalloc_stats(&st) || !st.active)
		return 1;
	xfree(p);
	page_path = path;
	pin(0);
	publish(20, 1, 1);
	p = xalloc(SMALL);
	if (xpv_jemalloc_follow() != 0 || arena_of(p) != node_arena(0))
		return 1;
	xfree(p);
	return 0;
}

/* Run this binary with XPV_JEMALLOC_DEV=dev as --inactive (XPV_JEMALLOC=onoff) or --late */
static void run_child(const char *dev, const char *onoff)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("XPV_JEMALLOC_DEV", dev, 1);
		if (onoff && strcmp(onoff, "late"))
			setenv("XPV_JEMALLOC", onoff, 1);
		execl("/proc/self/exe", "test_xpv_jemalloc",
		      onoff && !strcmp(onoff, "late") ? "--late" : "--inactive", dev, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_inactive_without_map(void **state)
{
	(void)state;
	run_child("/nonexistent/xpv_numa", NULL);
}

static void test_inactive_when_turned_off(void **state)
{
	(void)state;
	run_child(page_path, "0");
}

static void test_inactive_with_one_node(void **state)
{
	struct fp_desc *one = calloc(1, sizeof(*one));
	char path[4096];

	(void)state;
	assert_non_null(one);
	fp_example(one);
	one->nr_gnodes = 1;
	for (unsigned int i = 0; i < one->nr_vcpus; i++)
		one->vcpu[i].gnode = 0;
	fp_layout(one);
	snprintf(path, sizeof(path), "%s.one", page_path);
	assert_int_equal(fp_write_file(path, one), 0);
	run_child(path, NULL);
	unlink(path);
	free(one);
}

static void test_map_published_after_start(void **state)
{
	struct fp_desc *none = calloc(1, sizeof(*none));
	char path[4096];

	(void)state;
	assert_non_null(none);
	fp_layout(none); /* version 0, no tables: what a driver shows at load */
	snprintf(path, sizeof(path), "%s.late", page_path);
	assert_int_equal(fp_write_file(path, none), 0);
	run_child(path, "late");
	unlink(path);
	free(none);
}

int main(int argc, char **argv)
{
	static char dir[] = "/tmp/test_xpv_jemalloc.XXXXXX";
	static char path[sizeof(dir) + 16];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_malloc_takes_node_arena),
		cmocka_unit_test(test_move_switches_arena_and_flushes_tcache),
		cmocka_unit_test(test_unrelated_change_keeps_arena),
		cmocka_unit_test(test_cpu_change_switches),
		cmocka_unit_test(test_extents_bound_to_node),
#ifndef XPV_JEMALLOC_NO_INTERPOSE
		cmocka_unit_test(test_calloc_zeroes_and_overflows),
#endif
		cmocka_unit_test(test_threads_while_map_changes),
		cmocka_unit_test(test_fork_while_switching),
		cmocka_unit_test(test_inactive_without_map),
		cmocka_unit_test(test_inactive_when_turned_off),
		cmocka_unit_test(test_inactive_with_one_node),
		cmocka_unit_test(test_map_published_after_start),
	};
	const char *dev = getenv("XPV_JEMALLOC_DEV");
	int rc;

	if (argc > 1 && !strcmp(argv[1], "--inactive"))
		return inactive_child();
	desc = calloc(1, sizeof(*desc));
	if (!desc)
		return 2;
	fp_example(desc);
	if (argc > 2 && !strcmp(argv[1], "--late"))
		return late_map_child(argv[2]);
	if (!dev) {
		/* first run: make the page, then start over with the add-on pointed at it */
		if (!mkdtemp(dir))
			return 2;
		snprintf(path, sizeof(path), "%s/page", dir);
		if (fp_write_file(path, desc))
			return 2;
		setenv("XPV_JEMALLOC_DEV", path, 1);
		execv("/proc/self/exe", argv);
		return 2;
	}
	page_path = dev;
	rc = cmocka_run_group_tests(tests, setup, NULL);
	unlink(page_path);
	{
		char d[4096];

		snprintf(d, sizeof(d), "%s", page_path);
		*strrchr(d, '/') = 0;
		rmdir(d);
	}
	free(desc);
	return rc;
}
