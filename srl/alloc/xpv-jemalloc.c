// SPDX-License-Identifier: BSD-3-Clause
/*
 * libxpv-jemalloc: per-guest-node jemalloc arenas that follow libxpv's live
 * map (see xpv-jemalloc.h for the interface, srl/README.md for trade-offs).
 *
 * Only jemalloc's public API is used (mallctl, mallocx), so Debian's
 * unmodified libjemalloc2 works. The fast path is one sched_getcpu() (rseq)
 * and one xpv_version() (a seqcount read of the mapped page); the slow path
 * (version or CPU changed) looks the CPU up in a table built from one
 * snapshot per map version and, if the node changed, switches arena and
 * flushes the tcache. Memory that the add-on itself needs while it runs
 * (libxpv's snapshot) is allocated with a per-thread "busy" guard that sends
 * those nested calls straight to jemalloc.
 *
 * Errors: internal helpers return 0 or a negative errno; the public
 * follow() returns it, malloc() never fails because of the add-on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xpv/xpv.h>

#include "xpv-jemalloc.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define TLS __thread __attribute__((tls_model("initial-exec")))

enum { UNINIT, INITIALIZING, ACTIVE, INACTIVE };

/* One per guest node. hooks comes first: jemalloc hands &hooks back to us. */
struct node_arena {
	extent_hooks_t hooks;
	int node;
	unsigned arena; /* 0: not created yet (arena 0 is jemalloc's own) */
	atomic_ulong extents, bind_failed;
};

/* CPU -> guest node whose memory lives on the host node the vCPU runs on. */
struct cpu_table {
	uint64_t version;
	int nr_cpus;
	struct cpu_table *older; /* retired tables: readers may still hold them */
	int16_t node[];
};

static atomic_int state = UNINIT;
static struct xpv *xpv;
static extent_hooks_t *default_hooks; /* arena 0's, which ours chain to */
static size_t mib_thread_arena[2], mib_tcache_flush[3];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* table rebuild, arena creation */
static struct cpu_table *_Atomic table;
static struct node_arena arenas[XPV_JEMALLOC_MAX_NODES];
static atomic_ulong switches;

/* The calling thread's view. cpu -2: never checked. */
static TLS struct {
	bool busy;
	int cpu, node;
	uint64_t version;
} me = {.cpu = -2, .node = -1};

static void *node_extent_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment,
			       bool *zero, bool *commit, unsigned arena_ind)
{
	struct node_arena *na = (struct node_arena *)h;
	unsigned long mask[2] = {0, 0};
	void *p;

	p = default_hooks->alloc(default_hooks, new_addr, size, alignment, zero, commit, arena_ind);
	if (!p)
		return NULL;
	/*
	 * Fresh address space, not touched yet: the policy decides where its
	 * pages fault in, now and after a purge. PREFERRED, not BIND: a full
	 * node spills over instead of failing the allocation.
	 */
	mask[na->node / 64] = 1ul << (na->node % 64);
	atomic_fetch_add_explicit(&na->extents, 1, memory_order_relaxed);
	if (mbind(p, size, MPOL_PREFERRED, mask, sizeof(mask) * 8 + 1, 0))
		atomic_fetch_add_explicit(&na->bind_failed, 1, memory_order_relaxed);
	return p;
}

/* Arena index of node's arena, created on first use; 0 on failure. Under lock. */
static unsigned node_arena_get(int node)
{
	struct node_arena *na = &arenas[node];
	extent_hooks_t *hp = &na->hooks;
	unsigned ind;
	size_t sz = sizeof(ind);

	if (na->arena)
		return na->arena;
	na->hooks = *default_hooks;
	na->hooks.alloc = node_extent_alloc;
	na->node = node;
	if (mallctl("arenas.create", &ind, &sz, &hp, sizeof(hp)))
		return 0;
	na->arena = ind;
	return ind;
}

static struct cpu_table *table_build(void)
{
	struct xpv_snapshot *s = xpv_snapshot(xpv);
	int16_t home_of[1024]; /* host node id -> guest node homed there */
	struct cpu_table *t = NULL;
	int nc, ng, c, g;

	if (!s)
		return NULL;
	nc = xpv_snapshot__nr_cpus(s);
	ng = xpv_snapshot__nr_nodes(s);
	if (nc <= 0 || ng <= 0)
		goto out;
	t = malloc(sizeof(*t) + nc * sizeof(t->node[0]));
	if (!t)
		goto out;
	t->version = xpv_snapshot__version(s);
	t->nr_cpus = nc;
	for (c = 0; c < 1024; c++)
		home_of[c] = -1;
	for (g = ng - 1; g >= 0; g--) { /* the lowest guest node wins a shared home */
		struct xpv_node_mem m;

		if (!xpv_snapshot__node_mem(s, g, &m) && m.home >= 0 && m.home < 1024)
			home_of[m.home] = g;
	}
	for (c = 0; c < nc; c++) {
		int h = xpv_snapshot__cpu_hnode(s, c), own = xpv_snapshot__cpu_node(s, c);

		g = h >= 0 && h < 1024 && home_of[h] >= 0 ? home_of[h] : own;
		t->node[c] = g >= 0 && g < XPV_JEMALLOC_MAX_NODES ? g : -1;
	}
out:
	xpv_snapshot_free(s);
	return t;
}

/* The table for map version v (rebuilt if older). Under lock. */
static struct cpu_table *table_for(uint64_t v)
{
	struct cpu_table *t = table, *n;

	if (t && t->version == v)
		return t;
	n = table_build();
	if (!n)
		return t;
	n->older = t;
	table = n;
	return n;
}

/* The calling thread's version or CPU changed: move it to its node's arena. */
static int follow_slow(int cpu, uint64_t v)
{
	struct cpu_table *t;
	unsigned ind = 0;
	int node = -1, err = 0;

	me.busy = true;
	pthread_mutex_lock(&lock);
	t = table_for(v);
	if (t && cpu >= 0 && cpu < t->nr_cpus)
		node = t->node[cpu];
	if (node >= 0 && node != me.node)
		ind = node_arena_get(node);
	pthread_mutex_unlock(&lock);
	if (ind) {
		err = mallctlbymib(mib_thread_arena, 2, NULL, NULL, &ind, sizeof(ind));
		if (!err) {
			/* cached objects came from the old node's arena; fails only without a tcache */
			mallctlbymib(mib_tcache_flush, 3, NULL, NULL, NULL, 0);
			me.node = node;
			atomic_fetch_add_explicit(&switches, 1, memory_order_relaxed);
		}
	} else if (node >= 0 && node != me.node) {
		err = ENOMEM;
	}
	me.cpu = cpu;
	me.version = v;
	me.busy = false;
	return err ? -err : me.node >= 0 ? me.node : -ENODATA;
}

static int setup(void)
{
	struct xpv_open_opts o = {.sz = sizeof(o), .flags = XPV_OPEN_NO_FALLBACK};
	const char *env = secure_getenv("XPV_JEMALLOC");
	size_t len = 2, sz = sizeof(default_hooks);
	int nodes;

	if (env && !strcmp(env, "0"))
		return -ECANCELED;
	/* preloaded into every process of a plain host, a missing device is no news */
	env = secure_getenv("XPV_JEMALLOC_DEBUG");
	if (!env || strcmp(env, "1"))
		xpv_set_print(NULL);
	o.dev_path = secure_getenv("XPV_JEMALLOC_DEV");
	xpv = xpv_open(&o);
	if (!xpv)
		return -errno;
	/*
	 * A process may start before the driver published its first map
	 * (-ENODATA): stay on, the first version change builds the table.
	 */
	nodes = xpv_nr_nodes(xpv);
	if (!xpv_is_live(xpv) || (nodes >= 0 && nodes < 2) || nodes > XPV_JEMALLOC_MAX_NODES)
		goto off;
	if (mallctl("arena.0.extent_hooks", &default_hooks, &sz, NULL, 0) ||
	    mallctlnametomib("thread.arena", mib_thread_arena, &len))
		goto off;
	len = 3;
	if (mallctlnametomib("thread.tcache.flush", mib_tcache_flush, &len))
		goto off;
	return 0;
off:
	xpv_close(xpv);
	xpv = NULL;
	return -ENODEV;
}

static void resolve_jemalloc(void);

/*
 * fork() while another thread holds the lock would leave the child's copy
 * locked. Registered after jemalloc's own handlers, ours run first in
 * prepare: the same order (ours, then jemalloc's) as in follow_slow().
 */
static void fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void fork_parent_or_child(void)
{
	pthread_mutex_unlock(&lock);
}

static void init(void)
{
	int expected = UNINIT;

	/* one thread sets up; others pass through until it is done */
	if (!atomic_compare_exchange_strong(&state, &expected, INITIALIZING))
		return;
	me.busy = true;
	resolve_jemalloc();
	if (setup() || pthread_atfork(fork_prepare, fork_parent_or_child, fork_parent_or_child))
		atomic_store_explicit(&state, INACTIVE, memory_order_release);
	else
		atomic_store_explicit(&state, ACTIVE, memory_order_release);
	me.busy = false;
}

static inline int follow(void)
{
	int s = atomic_load_explicit(&state, memory_order_acquire);
	int cpu;
	uint64_t v;

	if (unlikely(s != ACTIVE)) {
		if (s != UNINIT || me.busy)
			return -ENODEV;
		init();
		if (atomic_load_explicit(&state, memory_order_acquire) != ACTIVE)
			return -ENODEV;
	}
	if (unlikely(me.busy))
		return me.node >= 0 ? me.node : -ENODATA;
	cpu = sched_getcpu();
	v = xpv_version(xpv);
	if (likely(cpu == me.cpu && v == me.version))
		return me.node >= 0 ? me.node : -ENODATA;
	return follow_slow(cpu, v);
}

int xpv_jemalloc_follow(void)
{
	return follow();
}

int xpv_jemalloc_stats(struct xpv_jemalloc_stats *st)
{
	int i;

	if (!st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->active = atomic_load(&state) == ACTIVE;
	st->nr_nodes = st->active ? xpv_nr_nodes(xpv) : 0; /* -ENODATA: no map yet */
	st->switches = atomic_load(&switches);
	pthread_mutex_lock(&lock);
	for (i = 0; i < XPV_JEMALLOC_MAX_NODES; i++) {
		st->node[i].arena = arenas[i].arena;
		st->node[i].extents = atomic_load(&arenas[i].extents);
		st->node[i].bind_failed = atomic_load(&arenas[i].bind_failed);
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

#ifdef XPV_JEMALLOC_NO_INTERPOSE
static void resolve_jemalloc(void)
{
}
#else
/*
 * The whole malloc family, defined here and not left to jemalloc, so that
 * LD_PRELOAD of this library alone (jemalloc then loads after libc, as our
 * dependency) never pairs our malloc with glibc's free. The allocating
 * calls are the check points; then jemalloc's own entry points do the work
 * (its malloc and free have fast paths that mallocx/dallocx lack: 5x on a
 * malloc/free pair). They are found once, in jemalloc's own scope; until
 * then (and if that fails) the *allocx API stands in. jemalloc's C++
 * operator new, which it defines itself, is not a check point: it uses the
 * arena the thread's last check chose.
 */
static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	size_t (*malloc_usable_size)(void *);
} je;

#define JE(fn) __atomic_load_n(&je.fn, __ATOMIC_RELAXED)

/* In init(), busy: dlopen's own allocations take the *allocx path. */
static void resolve_jemalloc(void)
{
	void *h = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD);

	if (!h)
		return; /* linked statically or renamed: *allocx only */
#define RESOLVE(fn) *(void **)&je.fn = dlsym(h, #fn)
	RESOLVE(calloc);
	RESOLVE(realloc);
	RESOLVE(posix_memalign);
	RESOLVE(aligned_alloc);
	RESOLVE(memalign);
	RESOLVE(valloc);
	RESOLVE(malloc_usable_size);
	RESOLVE(free);
	RESOLVE(malloc);
#undef RESOLVE
	/* the handle stays open: jemalloc cannot go away under the process's malloc */
}

static inline void *nomem(void *p)
{
	if (unlikely(!p))
		errno = ENOMEM;
	return p;
}

XPV_JEMALLOC_API void *malloc(size_t size)
{
	void *(*fn)(size_t);

	follow();
	fn = JE(malloc);
	if (likely(fn))
		return fn(size);
	return nomem(mallocx(size ? size : 1, 0)); /* malloc(0): a unique pointer, as jemalloc */
}

XPV_JEMALLOC_API void *calloc(size_t n, size_t size)
{
	void *(*fn)(size_t, size_t);
	size_t total;

	follow();
	fn = JE(calloc);
	if (likely(fn))
		return fn(n, size);
	if (__builtin_mul_overflow(n, size, &total))
		return nomem(NULL);
	return nomem(mallocx(total ? total : 1, MALLOCX_ZERO));
}

XPV_JEMALLOC_API void free(void *p)
{
	void (*fn)(void *) = JE(free);

	if (likely(fn))
		fn(p);
	else if (p)
		dallocx(p, 0);
}

XPV_JEMALLOC_API void *realloc(void *p, size_t size)
{
	void *(*fn)(void *, size_t);

	follow();
	fn = JE(realloc);
	if (likely(fn))
		return fn(p, size);
	if (!p)
		return nomem(mallocx(size ? size : 1, 0));
	if (!size) { /* glibc's and jemalloc 5.3's default: free, return NULL */
		dallocx(p, 0);
		return NULL;
	}
	return nomem(rallocx(p, size, 0));
}

static void *aligned(size_t align, size_t size)
{
	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return nomem(mallocx(size ? size : 1, MALLOCX_ALIGN(align)));
}

XPV_JEMALLOC_API int posix_memalign(void **out, size_t align, size_t size)
{
	int (*fn)(void **, size_t, size_t);
	void *p;

	follow();
	fn = JE(posix_memalign);
	if (likely(fn))
		return fn(out, align, size);
	if (align < sizeof(void *))
		return EINVAL;
	p = aligned(align, size);
	if (!p)
		return errno;
	*out = p;
	return 0;
}

XPV_JEMALLOC_API void *aligned_alloc(size_t align, size_t size)
{
	void *(*fn)(size_t, size_t);

	follow();
	fn = JE(aligned_alloc);
	return likely(fn) ? fn(align, size) : aligned(align, size);
}

XPV_JEMALLOC_API void *memalign(size_t align, size_t size)
{
	void *(*fn)(size_t, size_t);

	follow();
	fn = JE(memalign);
	return likely(fn) ? fn(align, size) : aligned(align, size);
}

XPV_JEMALLOC_API void *valloc(size_t size)
{
	void *(*fn)(size_t);

	follow();
	fn = JE(valloc);
	return likely(fn) ? fn(size) : aligned(sysconf(_SC_PAGESIZE), size);
}

XPV_JEMALLOC_API size_t malloc_usable_size(void *p)
{
	size_t (*fn)(void *) = JE(malloc_usable_size);

	if (likely(fn))
		return fn(p);
	return p ? sallocx(p, 0) : 0;
}
#endif
