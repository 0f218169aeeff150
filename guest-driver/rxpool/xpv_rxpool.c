// SPDX-License-Identifier: GPL-2.0-only
/*
 * xpv RX page pool for virtio_net: allocation, recycling, Algorithm 1 sizing,
 * counters in sysfs and the page list in debugfs.  See xpv_rxpool.h for the
 * design and docs/flipping.md for why.
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/topology.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

#include "xpv_rxpool.h"

/* The paper's parameters (start 500 MB, +10 % above 90 % used, -10 % below 20 %), per RX queue. */
static unsigned long pool_init_kb = 500 * 1024;
module_param(pool_init_kb, ulong, 0444);
MODULE_PARM_DESC(pool_init_kb, "Initial RX pool size per queue in KiB (paper: 500 MB)");
static unsigned long pool_min_kb = 64;
module_param(pool_min_kb, ulong, 0444);
MODULE_PARM_DESC(pool_min_kb, "Smallest RX pool per queue in KiB");
static unsigned long pool_max_kb = 1024 * 1024;
module_param(pool_max_kb, ulong, 0444);
MODULE_PARM_DESC(pool_max_kb, "Largest RX pool per queue in KiB");
static unsigned int grow_above_pct = 90;
module_param(grow_above_pct, uint, 0444);
MODULE_PARM_DESC(grow_above_pct, "Grow the pool when more than this % is in use (paper: 90)");
static unsigned int shrink_below_pct = 20;
module_param(shrink_below_pct, uint, 0444);
MODULE_PARM_DESC(shrink_below_pct, "Shrink the pool when less than this % is in use (paper: 20)");
static unsigned int step_pct = 10;
module_param(step_pct, uint, 0444);
MODULE_PARM_DESC(step_pct, "Grow/shrink step in % of the pool size (paper: 10)");
static unsigned int eval_ms = 100;
module_param(eval_ms, uint, 0444);
MODULE_PARM_DESC(eval_ms, "Period of the Algorithm 1 evaluation in ms (and at once after a miss)");
static int pool_node = NUMA_NO_NODE;
module_param(pool_node, int, 0444);
MODULE_PARM_DESC(pool_node, "Node of every RX pool (-1: the node of the queue's IRQ affinity)");

/* how many pool slots a refill looks at before falling back to the buddy allocator */
#define XPV_RXPOOL_PROBES 64

static struct dentry *xpv_rxpool_debugfs;

int xpv_rxpool_pick_node(struct virtio_device *vdev, int vq_index)
{
	const struct cpumask *mask = NULL;

	if (pool_node != NUMA_NO_NODE && pool_node >= 0 && pool_node < MAX_NUMNODES &&
	    node_online(pool_node))
		return pool_node;
	if (vdev->config->get_vq_affinity)
		mask = vdev->config->get_vq_affinity(vdev, vq_index);
	if (mask && cpumask_first(mask) < nr_cpu_ids)
		return cpu_to_node(cpumask_first(mask));
	if (dev_to_node(&vdev->dev) != NUMA_NO_NODE)
		return dev_to_node(&vdev->dev);
	return numa_mem_id();
}

/* An order-0 page on @node, written by this vCPU so the host backs it from here. */
static struct page *xpv_rxpool_alloc_touched(int node, gfp_t gfp)
{
	struct page *page = alloc_pages_node(node, gfp | __GFP_THISNODE | __GFP_NOWARN, 0);

	if (page)
		clear_highpage(page);
	return page;
}

static bool xpv_rxpool_page_free(struct page *page)
{
	return page_ref_count(page) == 1;
}

struct page *xpv_rxpool_get_page(struct xpv_rxpool *pool, gfp_t gfp)
{
	struct page *page;
	unsigned long probe, probes;

	spin_lock_bh(&pool->lock);
	probes = min_t(unsigned long, pool->nr, XPV_RXPOOL_PROBES);
	for (probe = 0; probe < probes; probe++) {
		if (pool->hand >= pool->nr)
			pool->hand = 0;
		page = pool->pages[pool->hand++];
		if (xpv_rxpool_page_free(page)) {
			get_page(page);
			pool->hits++;
			spin_unlock_bh(&pool->lock);
			return page;
		}
	}
	pool->misses++;
	/*
	 * Let Algorithm 1 see the pressure now rather than at the next
	 * period; under the lock, so that no work is queued once
	 * xpv_rxpool_fini() has set stopping.
	 */
	if (!pool->stopping)
		mod_delayed_work(system_wq, &pool->work, 0);
	spin_unlock_bh(&pool->lock);
	/* not a pool page: it goes back to the buddy allocator when the stack frees it */
	return xpv_rxpool_alloc_touched(pool->node, gfp);
}

bool xpv_rxpool_frag_refill(struct xpv_rxpool *pool, unsigned int sz, struct page_frag *pfrag,
			    gfp_t gfp)
{
	if (WARN_ON_ONCE(sz > PAGE_SIZE))
		return false;
	if (pfrag->page) {
		if (pfrag->offset + sz <= pfrag->size)
			return true;
		put_page(pfrag->page);
		pfrag->page = NULL;
	}
	pfrag->page = xpv_rxpool_get_page(pool, gfp);
	if (!pfrag->page)
		return false;
	pfrag->offset = 0;
	pfrag->size = PAGE_SIZE;
	return true;
}

void xpv_rxpool_count_drop(struct xpv_rxpool *pool)
{
	spin_lock_bh(&pool->lock);
	pool->drops++;
	spin_unlock_bh(&pool->lock);
}

static void xpv_rxpool_record(struct xpv_rxpool *pool, unsigned long size, unsigned long used,
			      unsigned long wanted, unsigned long result)
{
	struct xpv_rxpool_event *ev = &pool->events[pool->nr_events % XPV_RXPOOL_HISTORY];

	ev->size = size;
	ev->used = used;
	ev->wanted = wanted;
	ev->result = result;
	pool->nr_events++;
	if (result > size)
		pool->grows++;
	else if (result < size)
		pool->shrinks++;
}

/* Give back up to @count free pages; caller holds the lock.  The only way pool pages leave. */
static unsigned long xpv_rxpool_release_free(struct xpv_rxpool *pool, unsigned long count)
{
	unsigned long i = pool->nr, done = 0;

	while (i > 0 && done < count) {
		struct page *page = pool->pages[--i];

		if (!xpv_rxpool_page_free(page))
			continue;
		pool->pages[i] = pool->pages[--pool->nr];
		put_page(page);
		pool->released++;
		done++;
	}
	return done;
}

/* Add up to @count pages; called without the lock (allocation may sleep). */
static unsigned long xpv_rxpool_add(struct xpv_rxpool *pool, unsigned long count)
{
	unsigned long done = 0;

	while (done < count) {
		struct page *page =
			xpv_rxpool_alloc_touched(pool->node, GFP_KERNEL | __GFP_NORETRY);

		if (!page) {
			spin_lock_bh(&pool->lock);
			pool->alloc_failures++;
			spin_unlock_bh(&pool->lock);
			break;
		}
		spin_lock_bh(&pool->lock);
		if (pool->nr >= pool->cap) {
			spin_unlock_bh(&pool->lock);
			put_page(page);
			break;
		}
		if (page_to_nid(page) != pool->node)
			pool->off_node++;
		pool->pages[pool->nr++] = page;
		spin_unlock_bh(&pool->lock);
		done++;
	}
	return done;
}

/* Algorithm 1, once per eval_ms (and right after a miss). */
static void xpv_rxpool_resize(struct work_struct *work)
{
	struct xpv_rxpool *pool = container_of(to_delayed_work(work), struct xpv_rxpool, work);
	unsigned long i, size, used = 0, wanted;

	spin_lock_bh(&pool->lock);
	size = pool->nr;
	for (i = 0; i < pool->nr; i++)
		if (!xpv_rxpool_page_free(pool->pages[i]))
			used++;
	pool->last_used = used;
	wanted = xpv_rxpool_next_size(&pool->sizing, size, used);
	if (wanted < size)
		pool->shrunk += xpv_rxpool_release_free(pool, size - wanted);
	spin_unlock_bh(&pool->lock);

	if (wanted > size)
		xpv_rxpool_add(pool, wanted - size);

	spin_lock_bh(&pool->lock);
	if (wanted != size)
		xpv_rxpool_record(pool, size, used, wanted, pool->nr);
	if (!pool->stopping)
		schedule_delayed_work(&pool->work, msecs_to_jiffies(eval_ms));
	spin_unlock_bh(&pool->lock);
}

static int xpv_rxpool_init(struct xpv_rxpool *pool, int node)
{
	unsigned long init;

	spin_lock_init(&pool->lock);
	INIT_DELAYED_WORK(&pool->work, xpv_rxpool_resize);
	pool->node = node;
	pool->sizing.min_pages = max(1UL, pool_min_kb / (PAGE_SIZE / 1024));
	pool->sizing.max_pages = min_t(u64, pool_max_kb / (PAGE_SIZE / 1024), XPV_RXPOOL_MAX_PAGES);
	pool->sizing.grow_above_pct = grow_above_pct;
	pool->sizing.shrink_below_pct = shrink_below_pct;
	pool->sizing.step_pct = step_pct;
	if (!xpv_rxpool_sizing_valid(&pool->sizing) || !eval_ms) {
		/* 1 <= min <= max pages, shrink < grow <= 100, step 1..100, eval_ms > 0 */
		pr_err("xpv_rxpool: inconsistent pool_*_kb, *_pct or eval_ms parameters\n");
		return -EINVAL;
	}
	pool->cap = pool->sizing.max_pages;
	pool->pages = kvcalloc(pool->cap, sizeof(*pool->pages), GFP_KERNEL);
	if (!pool->pages)
		return -ENOMEM;
	init = xpv_rxpool_clamp(&pool->sizing, pool_init_kb / (PAGE_SIZE / 1024));
	/* a short pool is not fatal: misses fall back and Algorithm 1 grows it */
	xpv_rxpool_add(pool, init);
	schedule_delayed_work(&pool->work, msecs_to_jiffies(eval_ms));
	return 0;
}

static void xpv_rxpool_fini(struct xpv_rxpool *pool)
{
	if (!pool->pages)
		return;
	spin_lock_bh(&pool->lock);
	pool->stopping = true;
	spin_unlock_bh(&pool->lock);
	cancel_delayed_work_sync(&pool->work);
	/* pages still held by skbs go to the buddy allocator when those are freed */
	while (pool->nr) {
		put_page(pool->pages[--pool->nr]);
		pool->released++;
	}
	kvfree(pool->pages);
	pool->pages = NULL;
}

/* sysfs: <virtio device>/xpv_rxpool/<counter>, summed over the queues */

#define to_set(k) container_of(k, struct xpv_rxpool_set, kobj)

static u64 xpv_rxpool_sum(struct xpv_rxpool_set *set, size_t off, bool is_ulong)
{
	unsigned int q;
	u64 sum = 0;

	for (q = 0; q < set->nr; q++) {
		struct xpv_rxpool *pool = &set->pools[q];

		spin_lock_bh(&pool->lock);
		sum += is_ulong ? *(unsigned long *)((char *)pool + off)
				: *(u64 *)((char *)pool + off);
		spin_unlock_bh(&pool->lock);
	}
	return sum;
}

#define XPV_RXPOOL_ATTR(name, field, is_ulong)                                                     \
	static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)   \
	{                                                                                          \
		return sysfs_emit(buf, "%llu\n",                                                   \
				  xpv_rxpool_sum(to_set(kobj), offsetof(struct xpv_rxpool, field), \
						 is_ulong));                                       \
	}                                                                                          \
	static struct kobj_attribute name##_attr = __ATTR_RO(name)

XPV_RXPOOL_ATTR(size, nr, true);
XPV_RXPOOL_ATTR(used, last_used, true);
XPV_RXPOOL_ATTR(hits, hits, false);
XPV_RXPOOL_ATTR(misses, misses, false);
XPV_RXPOOL_ATTR(grows, grows, false);
XPV_RXPOOL_ATTR(shrinks, shrinks, false);
XPV_RXPOOL_ATTR(released, released, false);
XPV_RXPOOL_ATTR(shrunk, shrunk, false);
XPV_RXPOOL_ATTR(alloc_failures, alloc_failures, false);
XPV_RXPOOL_ATTR(off_node, off_node, false);
XPV_RXPOOL_ATTR(drops, drops, false);

/* the node of each queue's pool, in queue order */
static ssize_t nodes_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct xpv_rxpool_set *set = to_set(kobj);
	unsigned int q;
	int len = 0;

	for (q = 0; q < set->nr; q++)
		len += sysfs_emit_at(buf, len, "%s%d", q ? " " : "", set->pools[q].node);
	return len + sysfs_emit_at(buf, len, "\n");
}
static struct kobj_attribute nodes_attr = __ATTR_RO(nodes);

/* "queue size used wanted result" per size change, oldest first, as much as fits */
static ssize_t history_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct xpv_rxpool_set *set = to_set(kobj);
	unsigned int q, i, first;
	int len = 0;

	for (q = 0; q < set->nr; q++) {
		struct xpv_rxpool *pool = &set->pools[q];

		spin_lock_bh(&pool->lock);
		first = pool->nr_events > XPV_RXPOOL_HISTORY ? pool->nr_events - XPV_RXPOOL_HISTORY
							     : 0;
		for (i = first; i < pool->nr_events && len < PAGE_SIZE - 100; i++) {
			struct xpv_rxpool_event *ev = &pool->events[i % XPV_RXPOOL_HISTORY];

			len += sysfs_emit_at(buf, len, "%u %lu %lu %lu %lu\n", q, ev->size,
					     ev->used, ev->wanted, ev->result);
		}
		spin_unlock_bh(&pool->lock);
	}
	return len;
}
static struct kobj_attribute history_attr = __ATTR_RO(history);

static struct attribute *xpv_rxpool_attrs[] = {
	&size_attr.attr,     &used_attr.attr,
	&hits_attr.attr,     &misses_attr.attr,
	&grows_attr.attr,    &shrinks_attr.attr,
	&released_attr.attr, &alloc_failures_attr.attr,
	&off_node_attr.attr, &drops_attr.attr,
	&nodes_attr.attr,    &history_attr.attr,
	&shrunk_attr.attr,   NULL,
};
ATTRIBUTE_GROUPS(xpv_rxpool);

static void xpv_rxpool_set_release(struct kobject *kobj)
{
	kfree(to_set(kobj));
}

static struct kobj_type xpv_rxpool_ktype = {
	.release = xpv_rxpool_set_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = xpv_rxpool_groups,
};

/* debugfs: xpv_rxpool/<device>/pfns, "queue pfn" per pool page, for tests */
static int xpv_rxpool_pfns_show(struct seq_file *m, void *v)
{
	struct xpv_rxpool_set *set = m->private;
	unsigned int q;
	unsigned long i;

	for (q = 0; q < set->nr; q++) {
		struct xpv_rxpool *pool = &set->pools[q];

		spin_lock_bh(&pool->lock);
		for (i = 0; i < pool->nr; i++)
			seq_printf(m, "%u %lu\n", q, page_to_pfn(pool->pages[i]));
		spin_unlock_bh(&pool->lock);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(xpv_rxpool_pfns);

struct xpv_rxpool_set *xpv_rxpool_set_create(struct device *parent, unsigned int nr,
					     const int *nodes)
{
	struct xpv_rxpool_set *set;
	unsigned int q;
	int err;

	set = kzalloc(struct_size(set, pools, nr), GFP_KERNEL);
	if (!set)
		return ERR_PTR(-ENOMEM);
	set->nr = nr;
	for (q = 0; q < nr; q++) {
		err = xpv_rxpool_init(&set->pools[q], nodes[q]);
		if (err)
			goto err_pools;
	}
	kobject_init(&set->kobj, &xpv_rxpool_ktype);
	err = kobject_add(&set->kobj, &parent->kobj, "xpv_rxpool");
	if (err) {
		for (q = 0; q < nr; q++)
			xpv_rxpool_fini(&set->pools[q]);
		kobject_put(&set->kobj); /* frees set */
		return ERR_PTR(err);
	}
	if (xpv_rxpool_debugfs) {
		set->dbg = debugfs_create_dir(dev_name(parent), xpv_rxpool_debugfs);
		debugfs_create_file("pfns", 0400, set->dbg, set, &xpv_rxpool_pfns_fops);
	}
	return set;

err_pools:
	/* the pool that failed has no pages yet */
	while (q--)
		xpv_rxpool_fini(&set->pools[q]);
	kfree(set);
	return ERR_PTR(err);
}

void xpv_rxpool_set_destroy(struct xpv_rxpool_set *set)
{
	unsigned int q;

	if (IS_ERR_OR_NULL(set))
		return;
	debugfs_remove(set->dbg);
	for (q = 0; q < set->nr; q++)
		xpv_rxpool_fini(&set->pools[q]);
	kobject_del(&set->kobj);
	kobject_put(&set->kobj);
}

void xpv_rxpool_module_init(void)
{
	xpv_rxpool_debugfs = debugfs_create_dir("xpv_rxpool", NULL);
	if (IS_ERR(xpv_rxpool_debugfs))
		xpv_rxpool_debugfs = NULL;
}

void xpv_rxpool_module_exit(void)
{
	debugfs_remove(xpv_rxpool_debugfs);
}
