// SPDX-License-Identifier: BSD-3-Clause
/*
 * libxpv unit tests (cmocka): fake pages in temporary files that the library
 * maps through xpv_open_opts.dev_path, and a fake sysfs tree for the
 * fallback. Expected values come from the descriptions the tests build
 * (fakepage.c), never from the library.
 * XPV_TEST_ITERS scales the concurrency tests (default 200000 reads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xpv/xpv.h>

#include "fakepage.h"

static char tmpdir[256];
static char page_path[300];
static long iters = 200000;

/* ---- diagnostics capture ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[8192];

static int capture(enum xpv_print_level level, const char *fmt, va_list ap)
{
	size_t len;

	(void)level;
	pthread_mutex_lock(&log_lock);
	len = strlen(log_buf);
	if (len < sizeof(log_buf) - 1)
		vsnprintf(log_buf + len, sizeof(log_buf) - len, fmt, ap);
	pthread_mutex_unlock(&log_lock);
	return 0;
}

static void log_clear(void)
{
	pthread_mutex_lock(&log_lock);
	log_buf[0] = 0;
	pthread_mutex_unlock(&log_lock);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fixtures ---- */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/xpv-test.XXXXXX", t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(page_path, sizeof(page_path), "%s/page", tmpdir);
	log_clear();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static struct fp_desc *example(void)
{
	struct fp_desc *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	fp_example(d);
	return d;
}

static struct xpv *open_page(const char *path)
{
	struct xpv_open_opts o = {.sz = sizeof(o), .dev_path = path, .flags = XPV_OPEN_NO_FALLBACK};

	return xpv_open(&o);
}

static struct xpv *open_desc(const struct fp_desc *d)
{
	struct xpv *x;

	assert_int_equal(fp_write_file(page_path, d), 0);
	x = open_page(page_path);
	assert_non_null(x);
	return x;
}

/* Map the page file read-write, as the "driver" of a test. */
static void *map_rw(void)
{
	int fd = open(page_path, O_RDWR);
	void *p;

	assert_true(fd >= 0);
	p = mmap(NULL, XPV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(p != MAP_FAILED);
	return p;
}

static int cpus_in(const cpu_set_t *set, size_t size, int *out, int max)
{
	int n = 0;

	for (int c = 0; c < (int)(size * 8) && n < max; c++)
		if (CPU_ISSET_S(c, size, set))
			out[n++] = c;
	return n;
}

/* ---- options ---- */

static void test_opts_rejected(void **state)
{
	struct {
		struct xpv_open_opts o;
		long extra;
	} big = {.o = {.sz = sizeof(big)}, .extra = 1};
	struct xpv_open_opts o = {.sz = 4};

	(void)state;
	errno = 0;
	assert_null(xpv_open(&o));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(xpv_open(&big.o));
	assert_int_equal(errno, EINVAL);
	o = (struct xpv_open_opts){.sz = sizeof(o), .flags = 1u << 7};
	assert_null(xpv_open(&o));
	assert_int_equal(errno, EINVAL);
	o.flags = XPV_OPEN_NO_FALLBACK | XPV_OPEN_FORCE_FALLBACK;
	assert_null(xpv_open(&o));
	assert_int_equal(errno, EINVAL);
	/* a larger struct whose extra bytes are zero is fine */
	big.extra = 0;
	big.o.dev_path = "/nonexistent/xpv";
	big.o.flags = XPV_OPEN_NO_FALLBACK;
	assert_null(xpv_open(&big.o));
	assert_int_equal(errno, ENOENT);
}

/* ---- exact lookups ---- */

static void test_lookups(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x = open_desc(d);
	unsigned int c;

	(void)state;
	assert_int_equal(xpv_is_live(x), 1);
	assert_int_equal(xpv_version(x), d->version);
	assert_int_equal(xpv_nr_cpus(x), d->nr_vcpus);
	assert_int_equal(xpv_nr_nodes(x), d->nr_gnodes);
	assert_int_equal(xpv_nr_hnodes(x), d->nr_hnodes);
	for (c = 0; c < d->nr_vcpus; c++) {
		assert_int_equal(xpv_cpu_node(x, c), d->vcpu[c].gnode);
		assert_int_equal(xpv_cpu_hnode(x, c), d->hnode_id[d->vcpu[c].hnode]);
		assert_int_equal(xpv_cpu_host_cpu(x, c), d->vcpu[c].host_cpu);
	}
	/* spelled out once, so a wrong fp_example cannot hide a bug */
	assert_int_equal(xpv_cpu_hnode(x, 2), 0);
	assert_int_equal(xpv_cpu_hnode(x, 3), 2);
	errno = 0;
	assert_int_equal(xpv_cpu_node(x, d->nr_vcpus), -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xpv_cpu_node(x, -1), -EINVAL);
	assert_int_equal(xpv_cpu_hnode(x, 1 << 20), -EINVAL);
	xpv_close(x);

	/* "unknown" entries */
	d->vcpu[1] = (struct fp_vcpu){VIRTIO_NUMA_NO_NODE, VIRTIO_NUMA_NO_NODE, VIRTIO_NUMA_NO_CPU};
	x = open_desc(d);
	assert_int_equal(xpv_cpu_node(x, 1), -ENOENT);
	assert_int_equal(xpv_cpu_hnode(x, 1), -ENOENT);
	assert_int_equal(xpv_cpu_host_cpu(x, 1), -ENOENT);
	assert_int_equal(xpv_cpu_node(x, 0), 0);
	xpv_close(x);
	free(d);
}

static void test_node_cpus(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x;
	cpu_set_t *set = CPU_ALLOC(1024);
	size_t sz = CPU_ALLOC_SIZE(1024);
	int got[16];

	(void)state;
	d->nr_vcpus = 101;
	for (int c = 4; c < 101; c++)
		d->vcpu[c] = (struct fp_vcpu){VIRTIO_NUMA_NO_NODE, VIRTIO_NUMA_NO_NODE,
					      VIRTIO_NUMA_NO_CPU};
	d->vcpu[100] = (struct fp_vcpu){.hnode = 0, .gnode = 5, .host_cpu = 1};
	fp_layout(d);
	x = open_desc(d);
	assert_int_equal(xpv_node_cpus(x, 0, set, sz), 2);
	assert_int_equal(cpus_in(set, sz, got, 16), 2);
	assert_int_equal(got[0], 0);
	assert_int_equal(got[1], 1);
	assert_int_equal(xpv_node_cpus(x, 1, set, sz), 2);
	assert_int_equal(cpus_in(set, sz, got, 16), 2);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[1], 3);
	/* a guest node the map has no entry for can still have CPUs */
	assert_int_equal(xpv_node_cpus(x, 5, set, sz), 1);
	assert_true(CPU_ISSET_S(100, sz, set));
	assert_int_equal(xpv_node_cpus(x, 5, set, 8), -ERANGE);
	assert_int_equal(xpv_node_cpus(x, 64, set, sz), -EINVAL);
	assert_int_equal(xpv_node_cpus(x, 3, set, sz), 0);
	/* host node 2 runs vCPUs 0, 1 and 3 */
	assert_int_equal(xpv_hnode_cpus(x, 2, set, sz), 3);
	assert_int_equal(cpus_in(set, sz, got, 16), 3);
	assert_int_equal(got[2], 3);
	assert_int_equal(xpv_hnode_cpus(x, 0, set, sz), 2); /* 2 and 100 */
	assert_int_equal(xpv_hnode_cpus(x, 1, set, sz), -EINVAL);
	xpv_close(x);
	CPU_FREE(set);
	free(d);
}

static void test_distances_and_mem(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x = open_desc(d);
	struct xpv_node_mem m;

	(void)state;
	assert_int_equal(xpv_hnode_distance(x, 0, 2), 21);
	assert_int_equal(xpv_hnode_distance(x, 2, 0), 21);
	assert_int_equal(xpv_hnode_distance(x, 2, 2), 10);
	assert_int_equal(xpv_hnode_distance(x, 0, 1), -EINVAL);
	/* guest node 0 lives on host node 2, node 1 on host node 0 */
	assert_int_equal(xpv_node_distance(x, 0, 1), 21);
	assert_int_equal(xpv_node_distance(x, 1, 1), 10);
	assert_int_equal(xpv_node_distance(x, 0, 2), -EINVAL);

	assert_int_equal(xpv_node_mem(x, 1, &m), 0);
	assert_int_equal(m.home, 0);
	assert_int_equal(m.flags, XPV_NODE_F_MAJORITY);
	assert_int_equal(m.size_bytes, 1ull << 30);
	assert_int_equal(m.unplaced_bytes, 128ull << 20);
	assert_int_equal(m.nr_hnodes, 2);
	assert_int_equal(m.hnode[0], 0);
	assert_int_equal(m.hnode[1], 2);
	assert_int_equal(m.bytes_on[0], 768ull << 20);
	assert_int_equal(m.bytes_on[1], 128ull << 20);
	assert_int_equal(xpv_node_mem(x, 0, &m), 0);
	assert_int_equal(m.home, 2);
	assert_int_equal(m.flags, XPV_NODE_F_BOUND);
	assert_int_equal(xpv_node_mem(x, 2, &m), -ENOENT);
	xpv_close(x);

	d->gnode[1].home = VIRTIO_NUMA_NO_NODE;
	x = open_desc(d);
	assert_int_equal(xpv_node_mem(x, 1, &m), 0);
	assert_int_equal(m.home, -1);
	assert_int_equal(xpv_node_distance(x, 0, 1), -ENOENT);
	xpv_close(x);
	free(d);
}

static void test_snapshot(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x = open_desc(d);
	struct xpv_snapshot *s = xpv_snapshot(x), *s2;
	void *page = map_rw();

	(void)state;
	assert_non_null(s);
	assert_int_equal(xpv_snapshot__version(s), 7);
	assert_int_equal(xpv_snapshot__flags(s), XPV_SNAP_F_MIRRORED);
	assert_int_equal(xpv_snapshot__updates(s), 3);
	assert_int_equal(xpv_snapshot__rejects(s), 1);
	assert_int_equal(xpv_snapshot__nr_hnodes(s), 2);
	assert_int_equal(xpv_snapshot__hnode_id(s, 1), 2);
	assert_int_equal(xpv_snapshot__hnode_id(s, 2), -EINVAL);
	assert_int_equal(xpv_snapshot__cpu_hnode(s, 3), 2);

	/* a new map: the old snapshot keeps the old one */
	d->version = 8;
	d->vcpu[3].hnode = 0;
	d->vcpu[3].gnode = 0;
	fp_publish(page, d, true);
	assert_int_equal(xpv_version(x), 8);
	assert_int_equal(xpv_cpu_hnode(x, 3), 0);
	assert_int_equal(xpv_snapshot__version(s), 7);
	assert_int_equal(xpv_snapshot__cpu_hnode(s, 3), 2);
	assert_int_equal(xpv_snapshot__cpu_node(s, 3), 1);
	s2 = xpv_snapshot(x);
	assert_non_null(s2);
	assert_int_equal(xpv_snapshot__version(s2), 8);
	assert_int_equal(xpv_snapshot__cpu_node(s2, 3), 0);
	xpv_close(x); /* snapshots outlive the handle */
	assert_int_equal(xpv_snapshot__cpu_hnode(s2, 3), 0);
	xpv_snapshot_free(s);
	xpv_snapshot_free(s2);
	munmap(page, XPV_PAGE_SIZE);
	free(d);
}

static void test_current_node(void **state)
{
	struct fp_desc *d = example();
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	cpu_set_t old, one;
	struct xpv *x;
	int cpu;

	(void)state;
	if (ncpu > 64)
		ncpu = 64;
	d->nr_vcpus = ncpu;
	for (int c = 0; c < ncpu; c++)
		d->vcpu[c] = (struct fp_vcpu){.hnode = (c + 1) % 2, .gnode = c % 2, .host_cpu = c};
	fp_layout(d);
	x = open_desc(d);
	/* pin, so the CPU cannot change between our check and the lookup */
	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	for (cpu = 0; cpu < ncpu && !CPU_ISSET(cpu, &old); cpu++)
		;
	assert_true(cpu < ncpu);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(sched_getcpu(), cpu);
	assert_int_equal(xpv_current_node(x), cpu % 2);
	assert_int_equal(xpv_current_hnode(x), d->hnode_id[(cpu + 1) % 2]);
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	xpv_close(x);
	free(d);
}

static void test_no_map_yet(void **state)
{
	struct fp_desc *d = calloc(1, sizeof(*d));
	struct xpv *x;

	(void)state;
	fp_layout(d); /* version 0, no tables: what a driver shows at load */
	x = open_desc(d);
	assert_int_equal(xpv_version(x), 0);
	assert_int_equal(xpv_cpu_node(x, 0), -ENODATA);
	assert_int_equal(xpv_nr_cpus(x), -ENODATA);
	errno = 0;
	assert_null(xpv_snapshot(x));
	assert_int_equal(errno, ENODATA);
	xpv_close(x);
	free(d);
}

/* ---- waiting ---- */

struct bump {
	struct fp_desc *d;
	int delay_ms;
	int err;
};

static void *bumper(void *arg)
{
	struct bump *b = arg;
	int64_t until = now_ms() + b->delay_ms;
	int fd;

	/* not a synchronisation sleep: the waiter must handle a change at
	 * any time; the delay just makes it likely to be blocked already */
	while (now_ms() < until)
		poll(NULL, 0, until - now_ms());
	fd = open(page_path, O_RDWR);
	b->err = fd < 0 ? -errno : fp_publish_fd(fd, b->d);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void test_wait_change(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x = open_desc(d);
	struct bump b = {.d = d, .delay_ms = 100};
	uint64_t v = xpv_version(x);
	pthread_t t;
	int64_t t0;

	(void)state;
	assert_int_equal(v, 7);
	/* already behind: returns at once, even with timeout 0 */
	v = 3;
	assert_int_equal(xpv_wait(x, &v, 0), 1);
	assert_int_equal(v, 7);

	d->version = 9;
	t0 = now_ms();
	assert_int_equal(pthread_create(&t, NULL, bumper, &b), 0);
	assert_int_equal(xpv_wait(x, &v, 10000), 1);
	assert_true(now_ms() - t0 < 10000);
	pthread_join(t, NULL);
	assert_int_equal(b.err, 0);
	assert_int_equal(v, 9);
	assert_int_equal(xpv_version(x), 9);
	xpv_close(x);
	free(d);
}

struct waiter {
	struct xpv *x;
	uint64_t v;
	int ret;
};

static void *waiter(void *arg)
{
	struct waiter *w = arg;

	w->ret = xpv_wait(w->x, &w->v, 10000);
	return NULL;
}

/* Several threads waiting on one handle all see the change. */
static void test_wait_concurrent(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x = open_desc(d);
	struct bump b = {.d = d, .delay_ms = 100};
	struct waiter w[3];
	pthread_t t[3], bt;

	(void)state;
	for (int i = 0; i < 3; i++) {
		w[i] = (struct waiter){.x = x, .v = 7, .ret = -1};
		assert_int_equal(pthread_create(&t[i], NULL, waiter, &w[i]), 0);
	}
	d->version = 8;
	assert_int_equal(pthread_create(&bt, NULL, bumper, &b), 0);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ret, 1);
		assert_int_equal(w[i].v, 8);
	}
	pthread_join(bt, NULL);
	assert_int_equal(b.err, 0);
	xpv_close(x);
	free(d);
}

static void test_wait_timeout(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x = open_desc(d);
	uint64_t v = xpv_version(x);
	int fd = open(page_path, O_RDWR);
	struct fp_desc same = *d;
	int64_t t0 = now_ms(), dt;

	(void)state;
	assert_int_equal(xpv_wait(x, &v, 0), 0);
	assert_int_equal(xpv_wait(x, &v, 300), 0);
	dt = now_ms() - t0;
	assert_true(dt >= 290);
	assert_true(dt < 5000);
	assert_int_equal(v, 7);
	/* a rewrite with the same version wakes poll but is not a change */
	assert_int_equal(fp_publish_fd(fd, &same), 0);
	assert_int_equal(xpv_wait(x, &v, 100), 0);
	close(fd);
	xpv_close(x);
	free(d);
}

/* ---- torn reads ---- */

/*
 * Two maps the writer alternates between, with different layouts: map A
 * (even versions) has 8 vCPUs on host ids {0, 2}; map B (odd versions) has
 * 16 vCPUs on host ids {5, 9, 11} and its tables elsewhere in the page.
 */
static void map_ab(struct fp_desc *d, uint64_t version)
{
	int b = version & 1;

	memset(d, 0, sizeof(*d));
	d->version = version;
	d->nr_hnodes = b ? 3 : 2;
	for (unsigned int i = 0; i < d->nr_hnodes; i++) {
		static const uint16_t ida[] = {0, 2}, idb[] = {5, 9, 11};

		d->hnode_id[i] = b ? idb[i] : ida[i];
		for (unsigned int j = 0; j < d->nr_hnodes; j++)
			d->dist[i * d->nr_hnodes + j] = i == j ? 10 : 20 + b;
	}
	d->nr_gnodes = 2;
	for (int g = 0; g < 2; g++) {
		d->gnode[g] = (struct fp_gnode){.home = g, .size = 4096};
		d->gnode[g].bytes_on[g] = 4096;
	}
	d->nr_vcpus = b ? 16 : 8;
	for (unsigned int c = 0; c < d->nr_vcpus; c++)
		d->vcpu[c] = (struct fp_vcpu){.hnode = c % d->nr_hnodes,
					      .gnode = (c + b) % 2,
					      .host_cpu = (b ? 2000 : 1000) + c};
	d->base = b ? 40000 : 0;
	fp_layout(d);
}

static long exp_host_cpu(int b, int c)
{
	return (b ? 16 : 8) > c ? (b ? 2000 : 1000) + c : -EINVAL;
}

static long exp_hnode(int b, int c)
{
	static const int ida[] = {0, 2}, idb[] = {5, 9, 11};

	if (c >= (b ? 16 : 8))
		return -EINVAL;
	return b ? idb[c % 3] : ida[c % 2];
}

struct torn {
	struct xpv *x;
	volatile int stop;
	long reads, eagain, bad, snaps, versions_backwards;
	char first_bad[200];
};

static void torn_bad(struct torn *t, const char *what, int c, long got)
{
	__atomic_fetch_add(&t->bad, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&log_lock);
	if (!t->first_bad[0])
		snprintf(t->first_bad, sizeof(t->first_bad), "%s cpu %d: got %ld", what, c, got);
	pthread_mutex_unlock(&log_lock);
}

static void *torn_writer(void *arg)
{
	struct torn *t = arg;
	struct fp_desc *d = malloc(sizeof(*d));
	void *page = map_rw();
	uint64_t v = 2;

	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		map_ab(d, v++);
		fp_publish(page, d, true);
	}
	munmap(page, XPV_PAGE_SIZE);
	free(d);
	return NULL;
}

static void *torn_reader(void *arg)
{
	struct torn *t = arg;
	uint64_t last = 0;

	for (long i = 0; i < iters; i++) {
		int c = i % 17; /* 16 is never valid */
		long hc = xpv_cpu_host_cpu(t->x, c);
		long hn = xpv_cpu_hnode(t->x, c);
		long n = xpv_cpu_node(t->x, c);
		uint64_t v = xpv_version(t->x);

		/* xpv_version() says 0 when the writer held the page */
		if (hc == -EAGAIN || hn == -EAGAIN || n == -EAGAIN || !v) {
			__atomic_fetch_add(&t->eagain, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (hc != exp_host_cpu(0, c) && hc != exp_host_cpu(1, c))
			torn_bad(t, "host_cpu", c, hc);
		if (hn != exp_hnode(0, c) && hn != exp_hnode(1, c))
			torn_bad(t, "hnode", c, hn);
		if (n != (c + 0) % 2 && n != (c + 1) % 2 && !(n == -EINVAL && c >= 8))
			torn_bad(t, "node", c, n);
		if (v < last)
			__atomic_fetch_add(&t->versions_backwards, 1, __ATOMIC_RELAXED);
		last = v;
		if (i % 64 == 0) {
			/* a snapshot must be exactly map A or map B */
			struct xpv_snapshot *s = xpv_snapshot(t->x);
			int b;

			if (!s) {
				if (errno == EAGAIN)
					__atomic_fetch_add(&t->eagain, 1, __ATOMIC_RELAXED);
				else
					torn_bad(t, "snapshot errno", 0, errno);
				continue;
			}
			b = xpv_snapshot__version(s) & 1;
			if (xpv_snapshot__nr_cpus(s) != (b ? 16 : 8) ||
			    xpv_snapshot__nr_hnodes(s) != (b ? 3 : 2))
				torn_bad(t, "snapshot sizes", 0, xpv_snapshot__nr_cpus(s));
			for (int k = 0; k < xpv_snapshot__nr_cpus(s); k++)
				if (xpv_snapshot__cpu_host_cpu(s, k) != exp_host_cpu(b, k) ||
				    xpv_snapshot__cpu_hnode(s, k) != exp_hnode(b, k) ||
				    xpv_snapshot__cpu_node(s, k) != (k + b) % 2)
					torn_bad(t, "snapshot cpu", k,
						 xpv_snapshot__cpu_host_cpu(s, k));
			if (xpv_snapshot__hnode_distance(s, exp_hnode(b, 0), exp_hnode(b, 1)) !=
			    20 + b)
				torn_bad(t, "snapshot distance", 0, b);
			xpv_snapshot_free(s);
			__atomic_fetch_add(&t->snaps, 1, __ATOMIC_RELAXED);
		}
		__atomic_fetch_add(&t->reads, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_torn_reads(void **state)
{
	struct fp_desc *d = malloc(sizeof(*d));
	struct torn t = {0};
	pthread_t w, r[2];

	(void)state;
	map_ab(d, 1);
	t.x = open_desc(d);
	assert_int_equal(pthread_create(&w, NULL, torn_writer, &t), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&r[i], NULL, torn_reader, &t), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	t.stop = 1;
	pthread_join(w, NULL);
	print_message("torn: %ld reads, %ld snapshots, %ld EAGAIN, final "
		      "version %llu\n",
		      t.reads, t.snaps, t.eagain, (unsigned long long)xpv_version(t.x));
	if (t.bad)
		fail_msg("%ld inconsistent reads, first: %s", t.bad, t.first_bad);
	assert_int_equal(t.versions_backwards, 0);
	/* the writer really did race with the readers */
	assert_true(xpv_version(t.x) > 10);
	assert_true(t.reads > iters); /* EAGAIN is the rare exception */
	xpv_close(t.x);
	free(d);
}

static void test_stuck_writer(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x = open_desc(d);
	struct xpv_page_hdr *h = map_rw();
	int64_t t0;

	(void)state;
	h->seq = 1; /* a writer that never finishes */
	t0 = now_ms();
	assert_int_equal(xpv_cpu_node(x, 0), -EAGAIN);
	assert_null(xpv_snapshot(x));
	assert_int_equal(errno, EAGAIN);
	assert_true(now_ms() - t0 < 5000);
	h->seq = 2;
	assert_int_equal(xpv_cpu_node(x, 0), 0);
	munmap(h, XPV_PAGE_SIZE);
	xpv_close(x);
	free(d);
}

/* ---- hostile pages ---- */

enum patch { P_NONE, P_MAGIC, P_ABI };

struct hostile {
	const char *name;
	void (*edit)(struct fp_desc *d);
	enum patch patch;
	const char *msg; /* must appear in the diagnostic */
};

#define EDIT(n, body)                                                                              \
	static void n(struct fp_desc *d)                                                           \
	{                                                                                          \
		body;                                                                              \
	}
EDIT(e_none, (void)d)
EDIT(e_hdr_len, d->hdr_len = 32)
EDIT(e_nh0, d->nr_hnodes = 0)
EDIT(e_nh65, d->nr_hnodes = 65)
EDIT(e_ng0, d->nr_gnodes = 0)
EDIT(e_nv0, d->nr_vcpus = 0)
EDIT(e_nv2000, d->nr_vcpus = 2000)
EDIT(e_stride_small, d->gnode_stride = 24)
EDIT(e_stride_odd, d->gnode_stride += 4)
EDIT(e_off_past, d->off_vcpus = XPV_PAGE_SIZE - 8)
EDIT(e_off_huge, d->off_vcpus = 0xfffffff8u)
EDIT(e_off_hdr, d->off_dist = 8)
EDIT(e_overlap, d->off_vcpus = d->off_gnodes + 8)
EDIT(e_misaligned, d->off_gnodes += 4)
EDIT(e_vcpu_hnode, d->vcpu[2].hnode = 2)
EDIT(e_vcpu_gnode, d->vcpu[1].gnode = 64)
EDIT(e_home, d->gnode[1].home = 7)
EDIT(e_dup_id, d->hnode_id[1] = 0)
EDIT(e_big_id, d->hnode_id[1] = 1024)
EDIT(e_diag, d->dist[0] = 11)
EDIT(e_remote, d->dist[1] = 10)
EDIT(e_bytes, d->gnode[0].bytes_on[0] = 1)
EDIT(e_overflow, d->gnode[1].bytes_on[0] = ~0ull; d->gnode[1].size = ~0ull)

static const struct hostile hostile[] = {
	{"bad magic", e_none, P_MAGIC, "magic"},
	{"bad abi", e_none, P_ABI, "abi"},
	{"short header", e_hdr_len, P_NONE, "hdr_len"},
	{"no host nodes", e_nh0, P_NONE, "nr_hnodes"},
	{"65 host nodes", e_nh65, P_NONE, "nr_hnodes"},
	{"no guest nodes", e_ng0, P_NONE, "nr_gnodes"},
	{"no vcpus", e_nv0, P_NONE, "nr_vcpus"},
	{"2000 vcpus", e_nv2000, P_NONE, "nr_vcpus"},
	{"stride too small", e_stride_small, P_NONE, "gnode_stride"},
	{"stride not 8-aligned", e_stride_odd, P_NONE, "gnode_stride"},
	{"vcpus past the page", e_off_past, P_NONE, "off_vcpus"},
	{"vcpus offset wraps", e_off_huge, P_NONE, "off_vcpus"},
	{"table inside header", e_off_hdr, P_NONE, "off_dist"},
	{"tables overlap", e_overlap, P_NONE, "overlaps"},
	{"misaligned table", e_misaligned, P_NONE, "aligned"},
	{"vcpu host index", e_vcpu_hnode, P_NONE, "vcpu 2: hnode index 2"},
	{"vcpu guest node", e_vcpu_gnode, P_NONE, "vcpu 1: guest node 64"},
	{"home index", e_home, P_NONE, "guest node 1: home index 7"},
	{"duplicate host id", e_dup_id, P_NONE, "listed twice"},
	{"host id too big", e_big_id, P_NONE, "id 1024"},
	{"local distance", e_diag, P_NONE, "distance 0 -> 0 is 11"},
	{"remote distance", e_remote, P_NONE, "distance 0 -> 2 is 10"},
	{"bytes exceed size", e_bytes, P_NONE, "guest node 0: placed"},
	{"byte sum overflows", e_overflow, P_NONE, "guest node 1: placed"},
};

static void write_hostile(const struct hostile *h, void *page)
{
	struct fp_desc *d = example();

	h->edit(d);
	fp_encode(d, page);
	if (h->patch == P_MAGIC)
		((struct xpv_page_hdr *)page)->magic = VIRTIO_NUMA_MAP_MAGIC;
	if (h->patch == P_ABI)
		((struct xpv_page_hdr *)page)->abi = 2;
	free(d);
}

static void test_hostile_open(void **state)
{
	void *page = calloc(1, XPV_PAGE_SIZE);
	xpv_print_fn_t old = xpv_set_print(capture);

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *h = &hostile[i];
		struct xpv *x;
		int fd;

		write_hostile(h, page);
		fd = open(page_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, page, XPV_PAGE_SIZE), XPV_PAGE_SIZE);
		close(fd);
		log_clear();
		errno = 0;
		x = open_page(page_path);
		if (x || errno != EBADMSG || !strstr(log_buf, h->msg)) {
			xpv_close(x);
			fail_msg("%s: open %s, errno %d, log '%s' lacks '%s'", h->name,
				 x ? "succeeded" : "failed", errno, log_buf, h->msg);
		}
	}
	xpv_set_print(old);
	free(page);
}

/* A page that turns hostile after a good open: lookups fail, never crash. */
static void test_hostile_live(void **state)
{
	struct fp_desc *d = example();
	struct xpv *x = open_desc(d);
	void *page = map_rw();
	xpv_print_fn_t old = xpv_set_print(capture);
	cpu_set_t set;

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *h = &hostile[i];
		struct xpv_node_mem m;
		long r[4];

		write_hostile(h, page);
		r[0] = xpv_cpu_node(x, 2);
		r[1] = xpv_cpu_hnode(x, 2);
		r[2] = xpv_cpu_host_cpu(x, 1);
		r[3] = xpv_node_mem(x, 0, &m);
		/* whatever the fast path could still read safely must be the
		 * truth; everything else is an error */
		for (int k = 0; k < 4; k++)
			if (r[k] < 0 && r[k] != -EBADMSG && r[k] != -EINVAL && r[k] != -ENODATA)
				fail_msg("%s: call %d returned %ld", h->name, k, r[k]);
		if (r[0] >= 0 && r[0] != d->vcpu[2].gnode)
			fail_msg("%s: node %ld", h->name, r[0]);
		if (r[1] >= 0 && r[1] != 0)
			fail_msg("%s: hnode %ld", h->name, r[1]);
		if (r[2] >= 0 && r[2] != 9)
			fail_msg("%s: host cpu %ld", h->name, r[2]);
		assert_int_equal(r[3], -EBADMSG);
		assert_null(xpv_snapshot(x));
		assert_int_equal(errno, EBADMSG);
		assert_true(xpv_node_cpus(x, 0, &set, sizeof(set)) < 0);
	}
	xpv_set_print(old);
	munmap(page, XPV_PAGE_SIZE);
	xpv_close(x);
	free(d);
}

/*
 * Random corruption of a valid page (fixed seed): whatever the bytes, every
 * call returns a value or an errno and never reads outside the page (the
 * ASan build and valgrind check the "never"). A snapshot that is accepted
 * must satisfy the documented invariants.
 */
static void test_random_pages(void **state)
{
	struct fp_desc *d = example();
	char *page = calloc(1, XPV_PAGE_SIZE);
	xpv_print_fn_t old = xpv_set_print(NULL);
	unsigned int seed = 12345, accepted = 0;
	cpu_set_t set;
	long rounds = iters / 100 > 200 ? iters / 100 : 200;

	(void)state;
	for (long r = 0; r < rounds; r++) {
		struct xpv_snapshot *s;
		struct xpv_node_mem m;
		struct xpv *x;
		int fd, nflip = 1 + rand_r(&seed) % 4;

		fp_encode(d, page);
		for (int k = 0; k < nflip; k++) {
			/* mostly the header and the start of the tables */
			unsigned int at = rand_r(&seed) % (k ? 512 : 96);

			page[at] = rand_r(&seed);
		}
		((struct xpv_page_hdr *)page)->seq &= ~1u;
		fd = open(page_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, page, XPV_PAGE_SIZE), XPV_PAGE_SIZE);
		close(fd);
		x = open_page(page_path);
		if (!x) {
			assert_true(errno == EBADMSG || errno == EINVAL);
			continue;
		}
		for (int c = -1; c < 70; c++) {
			long a = xpv_cpu_node(x, c), b = xpv_cpu_hnode(x, c);

			assert_true(a < XPV_MAX_NODES && b < 1024);
			xpv_cpu_host_cpu(x, c);
		}
		xpv_node_cpus(x, 0, &set, sizeof(set));
		xpv_node_mem(x, 1, &m);
		xpv_hnode_distance(x, 0, 2);
		s = xpv_snapshot(x);
		if (s) {
			accepted++;
			for (int i = 0; i < xpv_snapshot__nr_nodes(s); i++) {
				uint64_t sum;

				assert_int_equal(xpv_snapshot__node_mem(s, i, &m), 0);
				sum = m.unplaced_bytes;
				for (unsigned int j = 0; j < m.nr_hnodes; j++)
					sum += m.bytes_on[j];
				assert_true(sum <= m.size_bytes);
			}
			for (int i = 0; i < xpv_snapshot__nr_hnodes(s); i++) {
				int id = xpv_snapshot__hnode_id(s, i);

				assert_int_equal(xpv_snapshot__hnode_distance(s, id, id), 10);
			}
			xpv_snapshot_free(s);
		}
		xpv_close(x);
	}
	print_message("random pages: %ld rounds, %u accepted\n", rounds, accepted);
	/* both outcomes must have happened, or the test tested nothing */
	assert_true(accepted > 0 && accepted < rounds);
	xpv_set_print(old);
	free(page);
	free(d);
}

static void test_bad_files(void **state)
{
	int fd = open(page_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	xpv_print_fn_t old = xpv_set_print(capture);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0); /* mmap would SIGBUS */
	close(fd);
	log_clear();
	assert_null(open_page(page_path));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(log_buf, "a page file needs 65536"));
	assert_null(open_page(tmpdir)); /* a directory */
	assert_int_equal(errno, EINVAL);
	xpv_set_print(old);
}

/* ---- sysfs fallback ---- */

static void put_file(const char *rel, const char *text)
{
	char path[600], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (p = strchr(path + strlen(tmpdir) + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define NODE "sys/devices/system/node/"

static struct xpv *open_sysfs(const char *dev)
{
	char root[300];
	struct xpv_open_opts o = {.sz = sizeof(o), .dev_path = dev};

	snprintf(root, sizeof(root), "%s/sys", tmpdir);
	o.sysfs_root = root;
	return xpv_open(&o);
}

static void test_sysfs_fallback(void **state)
{
	cpu_set_t *set = CPU_ALLOC(1024);
	size_t sz = CPU_ALLOC_SIZE(1024);
	struct xpv_snapshot *s;
	struct xpv_node_mem m;
	struct xpv *x;
	uint64_t v = 0;
	int got[8];

	(void)state;
	/* sparse node ids 0, 1, 3, like a machine with a node offline */
	put_file(NODE "node0/cpulist", "0-1,4\n");
	put_file(NODE "node0/distance", "10 20 30\n");
	put_file(NODE "node0/meminfo", "Node 0 MemTotal:        1024 kB\nNode 0 MemFree: 5 kB\n");
	put_file(NODE "node1/cpulist", "2-3\n");
	put_file(NODE "node1/distance", "20 10 25\n");
	put_file(NODE "node3/cpulist", "5\n");
	put_file(NODE "node3/distance", "30 25 10\n");
	put_file(NODE "possible", "0-3\n"); /* not a node directory */
	x = open_sysfs("/nonexistent/xpv_numa");
	assert_non_null(x);
	assert_int_equal(xpv_is_live(x), 0);
	assert_int_equal(xpv_version(x), 0);
	assert_int_equal(xpv_nr_cpus(x), 6);
	assert_int_equal(xpv_nr_hnodes(x), 3);
	assert_int_equal(xpv_nr_nodes(x), 4);
	assert_int_equal(xpv_cpu_node(x, 0), 0);
	assert_int_equal(xpv_cpu_node(x, 4), 0);
	assert_int_equal(xpv_cpu_node(x, 3), 1);
	assert_int_equal(xpv_cpu_node(x, 5), 3);
	assert_int_equal(xpv_cpu_hnode(x, 5), 3);
	assert_int_equal(xpv_cpu_host_cpu(x, 5), 5);
	assert_int_equal(xpv_cpu_node(x, 6), -EINVAL);
	assert_int_equal(xpv_hnode_distance(x, 0, 3), 30);
	assert_int_equal(xpv_hnode_distance(x, 3, 1), 25);
	assert_int_equal(xpv_hnode_distance(x, 1, 1), 10);
	assert_int_equal(xpv_node_distance(x, 1, 0), 20);
	assert_int_equal(xpv_node_cpus(x, 0, set, sz), 3);
	assert_int_equal(cpus_in(set, sz, got, 8), 3);
	assert_int_equal(got[2], 4);
	assert_int_equal(xpv_node_cpus(x, 2, set, sz), 0);
	assert_int_equal(xpv_node_mem(x, 0, &m), 0);
	assert_int_equal(m.home, 0);
	assert_int_equal(m.size_bytes, 1024 * 1024);
	assert_int_equal(m.bytes_on[0], 1024 * 1024);
	assert_int_equal(xpv_node_mem(x, 2, &m), 0); /* absent node */
	assert_int_equal(m.home, -1);
	assert_int_equal(m.size_bytes, 0);
	s = xpv_snapshot(x);
	assert_non_null(s);
	assert_int_equal(xpv_snapshot__flags(s), XPV_SNAP_F_FALLBACK);
	assert_int_equal(xpv_snapshot__version(s), 0);
	xpv_snapshot_free(s);
	/* nothing changes: waiting only times out */
	assert_int_equal(xpv_wait(x, &v, 50), 0);
	xpv_close(x);

	/* the device wins when it is there */
	{
		struct fp_desc *d = example();

		assert_int_equal(fp_write_file(page_path, d), 0);
		x = open_sysfs(page_path);
		assert_non_null(x);
		assert_int_equal(xpv_is_live(x), 1);
		assert_int_equal(xpv_version(x), 7);
		xpv_close(x);
		free(d);
	}
	CPU_FREE(set);
}

static void test_sysfs_errors(void **state)
{
	xpv_print_fn_t old = xpv_set_print(capture);
	struct xpv *x;

	(void)state;
	/* no node directory: a non-NUMA kernel, one node with every CPU */
	put_file("sys/devices/system/cpu/online", "0-2\n");
	x = open_sysfs("/nonexistent/xpv_numa");
	assert_non_null(x);
	assert_int_equal(xpv_nr_cpus(x), 3);
	assert_int_equal(xpv_cpu_node(x, 2), 0);
	assert_int_equal(xpv_hnode_distance(x, 0, 0), 10);
	xpv_close(x);

	put_file(NODE "node0/cpulist", "0-1,x\n");
	log_clear();
	assert_null(open_sysfs("/nonexistent/xpv_numa"));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(log_buf, "malformed cpulist"));

	put_file(NODE "node0/cpulist", "0-1\n");
	put_file(NODE "node1/cpulist", "1-2\n");
	log_clear();
	assert_null(open_sysfs("/nonexistent/xpv_numa"));
	assert_non_null(strstr(log_buf, "CPU 1 is in two nodes"));

	put_file(NODE "node1/cpulist", "2\n");
	put_file(NODE "node0/distance", "10 9\n");
	log_clear();
	assert_null(open_sysfs("/nonexistent/xpv_numa"));
	assert_non_null(strstr(log_buf, "distance 2 of 2"));
	xpv_set_print(old);
}

int main(void)
{
	const char *it = getenv("XPV_TEST_ITERS");
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_opts_rejected),	   T(test_lookups),	   T(test_node_cpus),
		T(test_distances_and_mem), T(test_snapshot),	   T(test_current_node),
		T(test_no_map_yet),	   T(test_wait_change),	   T(test_wait_concurrent),
		T(test_wait_timeout),	   T(test_torn_reads),	   T(test_stuck_writer),
		T(test_hostile_open),	   T(test_hostile_live),   T(test_random_pages),
		T(test_bad_files),	   T(test_sysfs_fallback), T(test_sysfs_errors),
	};

	if (it)
		iters = atol(it);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
