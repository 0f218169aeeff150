/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xpv RX page pool for virtio_net (virtio_net_xpvpool.ko).
 *
 * Every page a receive queue posts comes from a per-queue pool of order-0
 * pages allocated with __GFP_THISNODE on the queue's node and written once by
 * the guest (pre-touch), so the host backs them where a vCPU, not the vhost
 * worker, first wrote them.  The pool keeps one reference on each of its
 * pages for as long as the page is in the pool, so when the stack frees an
 * skb the page's count drops back to that reference instead of reaching the
 * buddy allocator: a page is free for reuse when its count is 1.  Pages leave
 * the pool only through a shrink (Algorithm 1, xpv_rxpool_alg.h) or when the
 * device goes away, and both are counted ("released").  Free page reporting
 * and the balloon only see free buddy pages, so they can't discard pool pages.
 *
 * Locking: the refill path (NAPI or the refill work with NAPI disabled) and
 * the sizing work take pool->lock with BHs off.
 */
#ifndef XPV_RXPOOL_H
#define XPV_RXPOOL_H

#include <linux/kobject.h>
#include <linux/mm_types.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "xpv_rxpool_alg.h"

#define XPV_RXPOOL_HISTORY 64

/* one Algorithm 1 decision that changed the size */
struct xpv_rxpool_event {
	unsigned long size; /* pages before */
	unsigned long used; /* pages in use at the evaluation */
	unsigned long wanted; /* xpv_rxpool_next_size() */
	unsigned long result; /* pages after (less than wanted if allocation failed) */
};

struct xpv_rxpool {
	spinlock_t lock;
	struct page **pages; /* [0, nr) in the pool, each holding one reference */
	unsigned long nr;
	unsigned long cap; /* sizing.max_pages */
	unsigned long hand; /* next slot the refill looks at */
	int node;
	struct xpv_rxpool_sizing sizing;
	struct delayed_work work;
	bool stopping;

	/* counters, under lock */
	u64 hits; /* page taken from the pool */
	u64 misses; /* no free pool page: fell back to the buddy allocator */
	u64 grows, shrinks; /* Algorithm 1 decisions applied */
	u64 released; /* pool pages given back (shrink or teardown) */
	u64 shrunk; /* of which by shrinks: released == shrunk until teardown */
	u64 alloc_failures; /* pages a grow could not get on the node */
	u64 off_node; /* pool pages found off the node (must stay 0) */
	u64 drops; /* malformed/oversized frames dropped on this queue */
	unsigned long last_used;
	unsigned int nr_events; /* total; the ring keeps the last XPV_RXPOOL_HISTORY */
	struct xpv_rxpool_event events[XPV_RXPOOL_HISTORY];
};

struct xpv_rxpool_set {
	struct kobject kobj; /* <virtio device>/xpv_rxpool */
	struct dentry *dbg; /* debugfs xpv_rxpool/<virtio device> */
	unsigned int nr;
	struct xpv_rxpool pools[];
};

/*
 * The node RX queue @index of @vdev's pool lives on: the pool_node module
 * parameter if set, else the node of the first CPU the queue's interrupt is
 * affine to, else the device's node, else the local node.
 */
struct virtio_device;
int xpv_rxpool_pick_node(struct virtio_device *vdev, int vq_index);

struct xpv_rxpool_set *xpv_rxpool_set_create(struct device *parent, unsigned int nr,
					     const int *nodes);
void xpv_rxpool_set_destroy(struct xpv_rxpool_set *set);

/* a page with one reference for the caller; pool page if one is free */
struct page *xpv_rxpool_get_page(struct xpv_rxpool *pool, gfp_t gfp);
/* skb_page_frag_refill() backed by the pool */
bool xpv_rxpool_frag_refill(struct xpv_rxpool *pool, unsigned int sz, struct page_frag *pfrag,
			    gfp_t gfp);
void xpv_rxpool_count_drop(struct xpv_rxpool *pool);

void xpv_rxpool_module_init(void);
void xpv_rxpool_module_exit(void);

#endif /* XPV_RXPOOL_H */
