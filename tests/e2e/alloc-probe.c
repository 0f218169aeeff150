// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEST ONLY: guest side of tests/suites/66-e2e-allocators and
 * bench/srl/alloc-locality. Measures where an allocator's memory lands
 * before and after the host moves this thread's vCPU; the allocator is
 * whatever malloc the process has (glibc, or one given with LD_PRELOAD).
 *
 *   alloc-probe NAME CPU OLD_HNODE NEW_HNODE READYFILE TIMEOUT_MS
 *
 * 1. Pin to vCPU CPU; wait (libxpv map + getcpu(2), deadline) until the map
 *    shows it on host node OLD_HNODE and the kernel agrees on its node.
 * 2. Phase 1: allocate and touch 4096 x 64 B and 64 x 16 KiB, free them all
 *    (they go back to the thread cache / free lists), write READYFILE.
 * 3. Block in xpv_wait() until the map shows vCPU CPU on NEW_HNODE, then
 *    poll getcpu(2) until the kernel's node for the CPU changed (the driver
 *    mirrored the map; deadline).
 * 4. Phase 2: allocate again and touch: "small" 4096 x 64 B and "medium"
 *    64 x 16 KiB (the sizes freed in phase 1: served from reused memory
 *    unless the allocator switched), "fresh" 32768 x 64 B (more than was
 *    ever freed: new heap memory) and "large" one 8 MiB block.
 * Prints one line: runtime=NAME old=G new=G CAT=L/T ... (L pages of the
 * category on the new node, T pages in all; CAT_old= pages on the old
 * node), addon=active|none switches=N for libxpv-jemalloc, and other=S,S,S,S:
 * per category the first move_pages status that is neither node (0: none). Exit 0 when
 * measured (the host judges), 2 on errors or timeouts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <xpv/xpv.h>

#include "../../srl/alloc/xpv-jemalloc.h"

#define NSMALL 4096
#define NMEDIUM 64
#define MEDIUM (16 << 10)
#define NFRESH 32768
#define LARGE (8 << 20)

static long page_size;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int die(const char *what)
{
	fprintf(stderr, "alloc-probe: %s: %s\n", what, strerror(errno));
	return 2;
}

/* the kernel's node for the calling thread: the syscall, the vDSO node may be stale */
static int kernel_node(void)
{
	unsigned int cpu, node;

	if (syscall(SYS_getcpu, &cpu, &node, NULL))
		return -1;
	return node;
}

/* Block until the map shows vCPU cpu on host node hnode; 0 or -1 on timeout. */
static int wait_hnode(struct xpv *x, int cpu, int hnode, uint64_t deadline)
{
	uint64_t v = xpv_version(x);

	while (xpv_cpu_hnode(x, cpu) != hnode) {
		uint64_t t = now_ms();

		if (t >= deadline || xpv_wait(x, &v, (int)(deadline - t)) < 0)
			return -1;
	}
	return 0;
}

/* Poll (deadline) until the kernel maps the thread's CPU to another node than old. */
static int wait_kernel_node(int old, uint64_t deadline)
{
	int n;

	while ((n = kernel_node()) == old || n < 0) {
		if (now_ms() >= deadline)
			return -1;
		sched_yield();
	}
	return n;
}

struct count {
	unsigned long new_node, old_node, total;
	int other; /* a status that is neither node (a negative errno), 0 if none */
};

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* Where the pages under the objects live (each page counted once). */
static int count_pages(void **obj, size_t nobj, size_t size, int old, int new, struct count *c)
{
	size_t max = nobj * ((size + page_size - 1) / page_size + 1), n = 0, u = 0, i;
	void **pages = malloc(max * sizeof(*pages));
	int *status = malloc(max * sizeof(*status));
	int err = -1;

	if (!pages || !status)
		goto out;
	for (i = 0; i < nobj; i++) {
		uintptr_t a = (uintptr_t)obj[i] & ~(page_size - 1);

		for (; a < (uintptr_t)obj[i] + size; a += page_size)
			pages[n++] = (void *)a;
	}
	qsort(pages, n, sizeof(*pages), cmp_ptr);
	for (i = 0; i < n; i++)
		if (!u || pages[u - 1] != pages[i])
			pages[u++] = pages[i];
	if (syscall(SYS_move_pages, 0, u, pages, NULL, status, 0))
		goto out;
	memset(c, 0, sizeof(*c));
	for (i = 0; i < u; i++) {
		c->total++;
		c->new_node += status[i] == new;
		c->old_node += status[i] == old;
		if (status[i] != new &&status[i] != old && !c->other)
			c->other = status[i] ? status[i] : -1000;
	}
	err = 0;
out:
	free(pages);
	free(status);
	return err;
}

static int alloc_touch(void **obj, size_t nobj, size_t size)
{
	for (size_t i = 0; i < nobj; i++) {
		obj[i] = malloc(size);
		if (!obj[i])
			return -1;
		memset(obj[i], 0x5a, size);
	}
	return 0;
}

static void free_all(void **obj, size_t nobj)
{
	for (size_t i = 0; i < nobj; i++)
		free(obj[i]);
}

int main(int argc, char **argv)
{
	static void *small[NSMALL], *medium[NMEDIUM], *fresh[NFRESH], *large[1];
	int (*stats)(struct xpv_jemalloc_stats *);
	struct xpv_jemalloc_stats st = {0};
	struct count cs, cm, cf, cl;
	int cpu, old_h, new_h, old, new;
	uint64_t deadline;
	struct xpv *x;
	cpu_set_t set;
	FILE *f;

	if (argc != 7) {
		fprintf(stderr,
			"usage: alloc-probe NAME CPU OLD_HNODE NEW_HNODE READYFILE TIMEOUT_MS\n");
		return 2;
	}
	cpu = atoi(argv[2]);
	old_h = atoi(argv[3]);
	new_h = atoi(argv[4]);
	deadline = now_ms() + strtoull(argv[6], NULL, 10);
	page_size = sysconf(_SC_PAGESIZE);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return die("sched_setaffinity");
	x = xpv_open(NULL);
	if (!x || !xpv_is_live(x))
		return die("xpv_open: no live map");
	if (wait_hnode(x, cpu, old_h, deadline))
		return die("timeout waiting for the baseline map");
	old = kernel_node();

	/* phase 1 */
	if (alloc_touch(small, NSMALL, 64) || alloc_touch(medium, NMEDIUM, MEDIUM))
		return die("phase 1 malloc");
	free_all(small, NSMALL);
	free_all(medium, NMEDIUM);
	f = fopen(argv[5], "w");
	if (!f || fprintf(f, "%d\n", old) < 0 || fclose(f))
		return die(argv[5]);

	if (wait_hnode(x, cpu, new_h, deadline))
		return die("timeout waiting for the move in the map");
	new = wait_kernel_node(old, deadline);
	if (new < 0)
		return die("timeout waiting for the kernel's node to change");

	/* phase 2 */
	if (alloc_touch(small, NSMALL, 64) || alloc_touch(medium, NMEDIUM, MEDIUM) ||
	    alloc_touch(fresh, NFRESH, 64) || alloc_touch(large, 1, LARGE))
		return die("phase 2 malloc");
	if (count_pages(small, NSMALL, 64, old, new, &cs) ||
	    count_pages(medium, NMEDIUM, MEDIUM, old, new, &cm) ||
	    count_pages(fresh, NFRESH, 64, old, new, &cf) ||
	    count_pages(large, 1, LARGE, old, new, &cl))
		return die("move_pages");
	*(void **)&stats = dlsym(RTLD_DEFAULT, "xpv_jemalloc_stats");
	if (stats)
		stats(&st);
	printf("runtime=%s cpu=%d old=%d new=%d small=%lu/%lu medium=%lu/%lu fresh=%lu/%lu "
	       "large=%lu/%lu small_old=%lu medium_old=%lu fresh_old=%lu large_old=%lu "
	       "addon=%s switches=%lu other=%d,%d,%d,%d\n",
	       argv[1], cpu, old, new, cs.new_node, cs.total, cm.new_node, cm.total, cf.new_node,
	       cf.total, cl.new_node, cl.total, cs.old_node, cm.old_node, cf.old_node, cl.old_node,
	       !stats	   ? "none"
	       : st.active ? "active"
			   : "inactive",
	       st.switches, cs.other, cm.other, cf.other, cl.other);
	free_all(small, NSMALL);
	free_all(medium, NMEDIUM);
	free_all(fresh, NFRESH);
	free_all(large, 1);
	xpv_close(x);
	return 0;
}
