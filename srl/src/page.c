// SPDX-License-Identifier: BSD-3-Clause
/*
 * Reading the shared page: seqcount-protected lookups (the fast path) and
 * the validated snapshot copy.
 *
 * The page belongs to another party (the driver, or whatever file the caller
 * named), so every read is bounds-checked against XPV_PAGE_SIZE before it is
 * made, and a result is only returned once the seqcount confirms the values
 * it was computed from were not being rewritten.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* A single racy-but-atomic read of a page field (the writer runs
 * concurrently; the seqcount tells whether what we read was consistent). */
#define RD(f) __atomic_load_n(&(f), __ATOMIC_RELAXED)

/* Internal page flag marking the synthetic sysfs page (version 0 but valid). */
#define PAGE_F_FALLBACK XPV_SNAP_F_FALLBACK

/*
 * How long a reader waits for a writer: spin briefly (a writer holds the seq
 * odd for microseconds), then yield so a preempted writer can finish, and
 * give up with -EAGAIN after WRITER_TIMEOUT_NS, so a page stuck odd (a dead
 * or hostile writer) cannot hang the caller. clock_gettime() is a vDSO call.
 */
#define SPIN_PAUSES 256
#define WRITER_TIMEOUT_NS (20 * 1000 * 1000ull)

struct backoff {
	unsigned int tries;
	uint64_t deadline;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static __attribute__((noinline, cold)) bool seq_backoff(struct backoff *b)
{
	unsigned int t = ++b->tries;

	if (t < SPIN_PAUSES) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
		return true;
	}
	if (t == SPIN_PAUSES)
		b->deadline = mono_ns() + WRITER_TIMEOUT_NS;
	else if (t % 16 == 0 && mono_ns() > b->deadline)
		return false;
	sched_yield();
	return true;
}

static inline uint32_t seq_begin(const struct xpv_page_hdr *h)
{
	return __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
}

static inline bool seq_retry(const struct xpv_page_hdr *h, uint32_t seq)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return RD(h->seq) != seq;
}

/* Guards a section that reads the page: evaluates `expr` (into `ret`) until
 * it was computed from a stable, even seq, or gives up with -EAGAIN. The
 * first attempt is kept free of the backoff state so the fast path is a few
 * loads and compares. */
#define SEQ_READ(h, ret, expr)                                                                     \
	do {                                                                                       \
		uint32_t __seq = seq_begin(h);                                                     \
		if (likely(!(__seq & 1))) {                                                        \
			ret = (expr);                                                              \
			if (likely(!seq_retry(h, __seq)))                                          \
				break;                                                             \
		}                                                                                  \
		struct backoff __b = {0};                                                          \
		for (;;) {                                                                         \
			if (!seq_backoff(&__b)) {                                                  \
				ret = -EAGAIN;                                                     \
				break;                                                             \
			}                                                                          \
			__seq = seq_begin(h);                                                      \
			if (__seq & 1)                                                             \
				continue;                                                          \
			ret = (expr);                                                              \
			if (!seq_retry(h, __seq))                                                  \
				break;                                                             \
		}                                                                                  \
	} while (0)

enum want { W_NODE, W_HNODE, W_HCPU };

static inline bool range_ok(uint64_t off, uint64_t len, unsigned int align)
{
	return !(off & (align - 1)) && off + len <= XPV_PAGE_SIZE;
}

static inline long vcpu_lookup(const struct xpv_page_hdr *h, int cpu, enum want want)
{
	const struct xpv_page_vcpu *v;
	unsigned int n, hn, nh;
	uint64_t off;

	if (unlikely(RD(h->magic) != XPV_PAGE_MAGIC))
		return -EBADMSG;
	if (unlikely(!RD(h->version)) && !(RD(h->flags) & PAGE_F_FALLBACK))
		return -ENODATA;
	n = RD(h->nr_vcpus);
	off = RD(h->off_vcpus);
	if (unlikely((unsigned int)cpu >= n))
		return -EINVAL;
	if (unlikely(!range_ok(off, (uint64_t)n * sizeof(*v), 4)))
		return -EBADMSG;
	v = (const struct xpv_page_vcpu *)((const char *)h + off) + cpu;

	if (want == W_NODE) {
		unsigned int g = RD(v->gnode);

		if (g == VIRTIO_NUMA_NO_NODE)
			return -ENOENT;
		return likely(g < XPV_MAX_NODES) ? (long)g : -EBADMSG;
	}
	if (want == W_HCPU) {
		uint32_t c = RD(v->host_cpu);

		return c == VIRTIO_NUMA_NO_CPU ? -ENOENT : (long)c;
	}
	hn = RD(v->hnode);
	if (hn == VIRTIO_NUMA_NO_NODE)
		return -ENOENT;
	nh = RD(h->nr_hnodes);
	off = RD(h->off_hnode_ids);
	if (unlikely(hn >= nh || nh > XPV_MAX_HNODES || !range_ok(off, nh * sizeof(__u16), 2)))
		return -EBADMSG;
	hn = RD(((const __u16 *)((const char *)h + off))[hn]);
	return likely(hn < VIRTIO_NUMA_MAX_NODE_ID) ? (long)hn : -EBADMSG;
}

/* The retry loop, out of line so the fast path needs no stack frame. */
static __attribute__((noinline, cold)) long vcpu_lookup_slow(const struct xpv_page_hdr *h, int cpu,
							     enum want want)
{
	long ret;

	SEQ_READ(h, ret, vcpu_lookup(h, cpu, want));
	return ret;
}

static inline long vcpu_lookup_fast(const struct xpv_page_hdr *h, int cpu, enum want want)
{
	uint32_t seq = seq_begin(h);
	long ret;

	if (likely(!(seq & 1))) {
		ret = vcpu_lookup(h, cpu, want);
		if (likely(!seq_retry(h, seq)))
			return ret;
	}
	return vcpu_lookup_slow(h, cpu, want);
}

int xpv_cpu_node(const struct xpv *x, int cpu)
{
	long ret = vcpu_lookup_fast(x->page, cpu, W_NODE);

	return likely(ret >= 0) ? ret : xpv_err(ret);
}

int xpv_cpu_hnode(const struct xpv *x, int cpu)
{
	long ret = vcpu_lookup_fast(x->page, cpu, W_HNODE);

	return likely(ret >= 0) ? ret : xpv_err(ret);
}

long xpv_cpu_host_cpu(const struct xpv *x, int cpu)
{
	long ret = vcpu_lookup_fast(x->page, cpu, W_HCPU);

	if (ret < 0)
		errno = -ret;
	return ret;
}

int xpv_current_node(const struct xpv *x)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? xpv_err(-errno) : xpv_cpu_node(x, cpu);
}

int xpv_current_hnode(const struct xpv *x)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? xpv_err(-errno) : xpv_cpu_hnode(x, cpu);
}

static inline uint64_t version_read(const struct xpv_page_hdr *h)
{
	return RD(h->magic) == XPV_PAGE_MAGIC ? RD(h->version) : 0;
}

int xpv_version_read(const struct xpv *x, uint64_t *version)
{
	uint64_t v = 0;
	long ret = 0;

	SEQ_READ(x->page, ret, (v = version_read(x->page), 0));
	*version = ret ? 0 : v;
	return ret;
}

uint64_t xpv_version(const struct xpv *x)
{
	uint64_t v;

	xpv_version_read(x, &v);
	return v;
}

static inline long count_read(const struct xpv_page_hdr *h, const __u16 *f, unsigned int max)
{
	unsigned int n;

	if (RD(h->magic) != XPV_PAGE_MAGIC)
		return -EBADMSG;
	if (!RD(h->version) && !(RD(h->flags) & PAGE_F_FALLBACK))
		return -ENODATA;
	n = __atomic_load_n(f, __ATOMIC_RELAXED);
	return n && n <= max ? (long)n : -EBADMSG;
}

int xpv_nr_cpus(const struct xpv *x)
{
	long ret;

	SEQ_READ(x->page, ret, count_read(x->page, &x->page->nr_vcpus, XPV_MAX_CPUS));
	return xpv_err(ret);
}

int xpv_nr_nodes(const struct xpv *x)
{
	long ret;

	SEQ_READ(x->page, ret, count_read(x->page, &x->page->nr_gnodes, XPV_MAX_NODES));
	return xpv_err(ret);
}

int xpv_nr_hnodes(const struct xpv *x)
{
	long ret;

	SEQ_READ(x->page, ret, count_read(x->page, &x->page->nr_hnodes, XPV_MAX_HNODES));
	return xpv_err(ret);
}

/* ---- snapshot: copy under the seqcount, then validate the copy ---- */

struct extent {
	const char *name;
	uint64_t off, len;
};

static int bad(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/*
 * Copy the header and tables of the page into s, checking only what is
 * needed to copy safely. The result is meaningful only if the seqcount did
 * not move meanwhile; *why says what was wrong.
 */
static int snap_copy(const struct xpv_page_hdr *h, struct xpv_snapshot *s, char *why, size_t wn,
		     bool live)
{
	unsigned int nh, ng, nv, stride, hdr_len, i, j;
	struct extent e[4];
	const char *base = (const char *)h;

	if (RD(h->magic) != XPV_PAGE_MAGIC)
		return bad(why, wn, "bad magic 0x%08x (want 0x%08x)", RD(h->magic), XPV_PAGE_MAGIC);
	if (RD(h->abi) != XPV_PAGE_ABI)
		return bad(why, wn, "unsupported abi %u (want %u)", RD(h->abi), XPV_PAGE_ABI);
	hdr_len = RD(h->hdr_len);
	if (hdr_len < sizeof(*h))
		return bad(why, wn, "hdr_len %u < %zu", hdr_len, sizeof(*h));
	s->version = RD(h->version);
	s->flags = RD(h->flags);
	if (live) /* the fallback marker is ours; a device cannot claim it */
		s->flags &= ~PAGE_F_FALLBACK;
	s->updates = RD(h->updates);
	s->rejects = RD(h->rejects);
	if (!s->version && !(s->flags & PAGE_F_FALLBACK))
		return -ENODATA;
	s->nr_hnodes = nh = RD(h->nr_hnodes);
	s->nr_gnodes = ng = RD(h->nr_gnodes);
	s->nr_vcpus = nv = RD(h->nr_vcpus);
	stride = RD(h->gnode_stride);
	if (nh < 1 || nh > VIRTIO_NUMA_MAX_HNODES)
		return bad(why, wn, "nr_hnodes %u not in 1..%u", nh, VIRTIO_NUMA_MAX_HNODES);
	if (ng < 1 || ng > VIRTIO_NUMA_MAX_GNODES)
		return bad(why, wn, "nr_gnodes %u not in 1..%u", ng, VIRTIO_NUMA_MAX_GNODES);
	if (nv < 1 || nv > VIRTIO_NUMA_MAX_VCPUS)
		return bad(why, wn, "nr_vcpus %u not in 1..%u", nv, VIRTIO_NUMA_MAX_VCPUS);
	if (stride < sizeof(struct xpv_page_gnode) + 8 * nh || stride % 8)
		return bad(why, wn, "gnode_stride %u: need a multiple of 8 >= %zu", stride,
			   sizeof(struct xpv_page_gnode) + 8 * nh);

	e[0] = (struct extent){"off_hnode_ids", RD(h->off_hnode_ids), 2 * nh};
	e[1] = (struct extent){"off_dist", RD(h->off_dist), nh * nh};
	e[2] = (struct extent){"off_gnodes", RD(h->off_gnodes), (uint64_t)stride * ng};
	e[3] = (struct extent){"off_vcpus", RD(h->off_vcpus), sizeof(struct xpv_page_vcpu) * nv};
	for (i = 0; i < 4; i++) {
		static const unsigned int align[4] = {2, 1, 8, 4};

		if (e[i].off < hdr_len || e[i].off + e[i].len > XPV_PAGE_SIZE)
			return bad(why, wn,
				   "%s %llu: table of %llu bytes not inside "
				   "[hdr_len %u, %u)",
				   e[i].name, (unsigned long long)e[i].off,
				   (unsigned long long)e[i].len, hdr_len, XPV_PAGE_SIZE);
		if (e[i].off % align[i])
			return bad(why, wn, "%s %llu not %u-byte aligned", e[i].name,
				   (unsigned long long)e[i].off, align[i]);
		for (j = 0; j < i; j++)
			if (e[i].off < e[j].off + e[j].len && e[j].off < e[i].off + e[i].len)
				return bad(why, wn, "%s overlaps %s", e[i].name, e[j].name);
	}

	memcpy(s->hnode_id, base + e[0].off, e[0].len);
	memcpy(s->dist, base + e[1].off, e[1].len);
	for (i = 0; i < ng; i++) {
		const struct xpv_page_gnode *g =
			(const void *)(base + e[2].off + (uint64_t)stride * i);

		s->gnode[i].home = g->home;
		s->gnode[i].flags = g->flags;
		s->gnode[i].size_bytes = g->size_bytes;
		s->gnode[i].unplaced_bytes = g->unplaced_bytes;
		memcpy(s->gnode[i].bytes_on, g->bytes_on, 8 * nh);
	}
	memcpy(s->vcpu, base + e[3].off, e[3].len);
	return 0;
}

/* Checks of the values themselves, on the stable copy (docs/virtio-numa.md
 * §6.6 items 5-7, and the guest-node field the driver adds). */
static int snap_validate(const struct xpv_snapshot *s, char *why, size_t wn)
{
	unsigned int nh = s->nr_hnodes, i, j;

	for (i = 0; i < nh; i++) {
		if (s->hnode_id[i] >= VIRTIO_NUMA_MAX_NODE_ID)
			return bad(why, wn, "host node index %u: id %u >= %u", i, s->hnode_id[i],
				   VIRTIO_NUMA_MAX_NODE_ID);
		for (j = 0; j < i; j++)
			if (s->hnode_id[i] == s->hnode_id[j])
				return bad(why, wn, "host node id %u listed twice", s->hnode_id[i]);
		for (j = 0; j < nh; j++) {
			unsigned int d = s->dist[i * nh + j];

			if (i == j ? d != VIRTIO_NUMA_LOCAL_DISTANCE
				   : d <= VIRTIO_NUMA_LOCAL_DISTANCE)
				return bad(why, wn,
					   "distance %u -> %u is %u (local must "
					   "be 10, remote 11..255)",
					   s->hnode_id[i], s->hnode_id[j], d);
		}
	}
	for (i = 0; i < s->nr_gnodes; i++) {
		const struct snap_gnode *g = &s->gnode[i];
		uint64_t sum = g->unplaced_bytes;

		if (g->home != VIRTIO_NUMA_NO_NODE && g->home >= nh)
			return bad(why, wn,
				   "guest node %u: home index %u >= "
				   "nr_hnodes %u",
				   i, g->home, nh);
		for (j = 0; j < nh; j++)
			if (__builtin_add_overflow(sum, g->bytes_on[j], &sum))
				break;
		if (j < nh || sum > g->size_bytes)
			return bad(why, wn,
				   "guest node %u: placed + unplaced bytes "
				   "exceed size_bytes %llu",
				   i, (unsigned long long)g->size_bytes);
	}
	for (i = 0; i < s->nr_vcpus; i++) {
		const struct xpv_page_vcpu *v = &s->vcpu[i];

		if (v->hnode != VIRTIO_NUMA_NO_NODE && v->hnode >= nh)
			return bad(why, wn,
				   "vcpu %u: hnode index %u >= "
				   "nr_hnodes %u",
				   i, v->hnode, nh);
		if (v->gnode != VIRTIO_NUMA_NO_NODE && v->gnode >= XPV_MAX_NODES)
			return bad(why, wn, "vcpu %u: guest node %u >= %u", i, v->gnode,
				   XPV_MAX_NODES);
	}
	return 0;
}

int xpv_snap_take(const struct xpv *x, struct xpv_snapshot *s)
{
	char why[200] = "";
	int ret;

	SEQ_READ(x->page, ret, snap_copy(x->page, s, why, sizeof(why), x->live));
	if (!ret)
		ret = snap_validate(s, why, sizeof(why));
	if (ret == -EBADMSG)
		pr_warn("%s: page rejected: %s\n", x->dev_path ? x->dev_path : "sysfs fallback",
			why);
	else if (ret == -EAGAIN)
		pr_warn("%s: seq stayed odd, writer did not finish\n",
			x->dev_path ? x->dev_path : "sysfs fallback");
	return ret;
}
