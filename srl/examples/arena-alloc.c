// SPDX-License-Identifier: BSD-3-Clause
/*
 * The "minimal hook" for an allocator (docs: shared/notes/xpv.md §4.4):
 *
 *   fast path:  arena = table->cpu_arena[sched_getcpu()]   (no libxpv call)
 *   slow path:  if (xpv_version(x) != table->version) rebuild + swap
 *
 * The arena of a CPU is the guest node whose memory lives on the host node
 * that vCPU runs on *now* (so memory handed out is host-local even after the
 * host moved the vCPU), falling back to the CPU's own guest node. The table
 * is rebuilt from one snapshot and published by pointer swap; readers never
 * lock. Old tables are kept until exit (an allocator would free them after a
 * grace period).
 *
 * usage: arena-alloc [--dev PATH] [--sysfs ROOT] [--threads N]
 * Prints the CPU -> arena table, then allocates from N threads and reports
 * how many allocations each arena served.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xpv/xpv.h>

#define REFRESH_EVERY 256 /* allocations between version checks */

struct table {
	uint64_t version;
	int nr_cpus;
	struct table *older; /* retired tables, freed at exit */
	int cpu_arena[];
};

struct arena {
	pthread_mutex_t lock;
	unsigned long allocs;
	/* a real allocator: chunks mbind()ed to this guest node, free lists */
};

static struct xpv *xpv;
static struct table *_Atomic table;
static pthread_mutex_t rebuild_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena arenas[XPV_MAX_NODES];

static struct table *build(void)
{
	struct xpv_snapshot *s = xpv_snapshot(xpv);
	int home_of_hnode[1024], nc, ng, c, g;
	struct table *t;

	if (!s)
		return NULL;
	nc = xpv_snapshot__nr_cpus(s);
	ng = xpv_snapshot__nr_nodes(s);
	t = calloc(1, sizeof(*t) + nc * sizeof(int));
	if (!t)
		goto out;
	t->version = xpv_snapshot__version(s);
	t->nr_cpus = nc;
	/* host node -> the guest node whose RAM lives there (first wins) */
	for (c = 0; c < 1024; c++)
		home_of_hnode[c] = -1;
	for (g = ng - 1; g >= 0; g--) {
		struct xpv_node_mem m;

		if (!xpv_snapshot__node_mem(s, g, &m) && m.home >= 0)
			home_of_hnode[m.home] = g;
	}
	for (c = 0; c < nc; c++) {
		int h = xpv_snapshot__cpu_hnode(s, c);
		int own = xpv_snapshot__cpu_node(s, c);

		t->cpu_arena[c] =
			h >= 0 && home_of_hnode[h] >= 0 ? home_of_hnode[h] : (own >= 0 ? own : 0);
	}
out:
	xpv_snapshot_free(s);
	return t;
}

/* Slow path: rebuild if the map moved on. */
static void refresh(void)
{
	struct table *cur = table, *t;

	if (cur && xpv_version(xpv) == cur->version)
		return;
	pthread_mutex_lock(&rebuild_lock);
	cur = table;
	if (!cur || xpv_version(xpv) != cur->version) {
		t = build();
		if (t) {
			t->older = cur;
			table = t;
		}
	}
	pthread_mutex_unlock(&rebuild_lock);
}

static struct arena *choose_arena(unsigned long *n)
{
	struct table *t;
	int cpu;

	if (++*n % REFRESH_EVERY == 0)
		refresh();
	t = table;
	cpu = sched_getcpu();
	if (!t || cpu < 0 || cpu >= t->nr_cpus)
		return &arenas[0];
	return &arenas[t->cpu_arena[cpu]];
}

static void *xmalloc(size_t size, unsigned long *n)
{
	struct arena *a = choose_arena(n);

	pthread_mutex_lock(&a->lock);
	a->allocs++;
	pthread_mutex_unlock(&a->lock);
	return malloc(size); /* stands in for carving from the arena */
}

static void *worker(void *arg)
{
	unsigned long n = 0;

	(void)arg;
	for (int i = 0; i < 100000; i++)
		free(xmalloc(64, &n));
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"dev", 1, NULL, 'd'}, {"sysfs", 1, NULL, 's'}, {"threads", 1, NULL, 't'}, {}};
	struct xpv_open_opts opts = {.sz = sizeof(opts)};
	int nthreads = 2, opt, i;
	pthread_t th[64];
	struct table *t;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'd')
			opts.dev_path = optarg;
		else if (opt == 's')
			opts.sysfs_root = optarg;
		else if (opt == 't' && atoi(optarg) > 0 && atoi(optarg) <= 64)
			nthreads = atoi(optarg);
		else {
			fprintf(stderr, "usage: arena-alloc [--dev PATH] "
					"[--sysfs ROOT] [--threads 1..64]\n");
			return 2;
		}
	}
	xpv = xpv_open(&opts);
	if (!xpv) {
		fprintf(stderr, "arena-alloc: xpv_open: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < XPV_MAX_NODES; i++)
		pthread_mutex_init(&arenas[i].lock, NULL);
	refresh();
	t = table;
	if (!t) {
		fprintf(stderr, "arena-alloc: no usable map: %s\n", strerror(errno));
		xpv_close(xpv);
		return 1;
	}
	printf("map version %" PRIu64 "\n", t->version);
	for (i = 0; i < t->nr_cpus; i++)
		printf("cpu %d -> arena %d\n", i, t->cpu_arena[i]);
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < XPV_MAX_NODES; i++)
		if (arenas[i].allocs)
			printf("arena %d: %lu allocations\n", i, arenas[i].allocs);
	while ((t = table)) {
		table = t->older;
		free(t);
	}
	xpv_close(xpv);
	return 0;
}
