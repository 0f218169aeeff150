// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-numa guest driver (xpv): receives the host's live NUMA placement map
 * through the device's map virtqueue (docs/virtio-numa.md, format 2) and
 * publishes it to user space (docs/guest-abi.md).
 *
 * One device-writable buffer of config.max_map_len bytes is kept posted; the
 * device fills it with a complete map when it has a newer one and returns it.
 * The work validates the map into a spare struct and swaps it in only if it
 * is accepted, so a bad map changes nothing but the reject counter, then
 * posts the buffer again.  max_map_len is fixed for the device's lifetime
 * (migration included), so the buffer never has to grow.
 */
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

#include "vnuma.h"

/*
 * A conforming device delivers each version once (a duplicate only right
 * after a reset).  One that keeps returning maps the driver rejects or
 * already holds (a storm) gets its buffer back after a delay that doubles
 * with every further such map, so it cannot keep a CPU busy.
 */
#define VNUMA_BAD_BURST 8
#define VNUMA_BACKOFF_MS 100
#define VNUMA_BACKOFF_MAX_SHIFT 6 /* 6.4 s */

/* /dev/xpv_numa has one name, so one device is served. */
static DEFINE_MUTEX(vnuma_instance_lock);
static struct vnuma *vnuma_instance;

/* Atomic context (the transport's interrupt): only defer to the work. */
static void vnuma_kick_work(struct vnuma *vn)
{
	unsigned long flags;

	spin_lock_irqsave(&vn->stop_lock, flags);
	if (!vn->stop) /* leaves a pending backoff delay alone */
		queue_delayed_work(vn->wq, &vn->update_work, 0);
	spin_unlock_irqrestore(&vn->stop_lock, flags);
}

static void vnuma_vq_done(struct virtqueue *vq)
{
	vnuma_kick_work(vq->vdev->priv);
}

/*
 * A config change says a newer map exists; the device delivers it into the
 * posted buffer by itself, so the work only matters if none is posted (a
 * failed post).  Spurious or repeated notifications just run the work,
 * which finds nothing to do.
 */
static void vnuma_config_changed(struct virtio_device *vdev)
{
	vnuma_kick_work(vdev->priv);
}

/* The pages of the (possibly vmalloc'd) buffer as a device-writable sg list. */
static int vnuma_buf_init(struct vnuma *vn)
{
	u32 len = vn->limits.max_map_len, done = 0;
	unsigned int i = 0;

	vn->buf = vnuma_kvzalloc(len);
	if (!vn->buf)
		return -ENOMEM;
	vn->nr_sg = is_vmalloc_addr(vn->buf)
			    ? DIV_ROUND_UP(offset_in_page(vn->buf) + len, PAGE_SIZE)
			    : 1;
	vn->sg = vnuma_kvzalloc(vn->nr_sg * sizeof(*vn->sg));
	if (!vn->sg)
		return -ENOMEM;
	sg_init_table(vn->sg, vn->nr_sg);
	if (vn->nr_sg == 1) {
		sg_set_buf(vn->sg, vn->buf, len);
		return 0;
	}
	while (done < len) {
		void *p = (u8 *)vn->buf + done;
		u32 chunk = min_t(u32, len - done, PAGE_SIZE - offset_in_page(p));

		sg_set_page(&vn->sg[i++], vmalloc_to_page(p), chunk, offset_in_page(p));
		done += chunk;
	}
	return 0;
}

/* Work context; false if the buffer could not be posted (retried on the next config change). */
static bool vnuma_post(struct vnuma *vn)
{
	int err;

	if (vn->posted)
		return true;
	err = virtqueue_add_inbuf(vn->vq, vn->sg, vn->nr_sg, vn->buf, GFP_KERNEL);
	if (err) {
		dev_warn_ratelimited(&vn->vdev->dev, "cannot post the map buffer: %d\n", err);
		return false;
	}
	vn->posted = true;
	virtqueue_kick(vn->vq);
	return true;
}

/* What was not negotiated is not valid, whatever the device wrote (§ features). */
static void vnuma_mask_features(struct vnuma *vn, struct vnuma_map *m)
{
	unsigned int i;

	if (!virtio_has_feature(vn->vdev, VIRTIO_NUMA_F_MEM_PLACEMENT)) {
		for (i = 0; i < m->nr_gnodes; i++) {
			memset(m->gnode[i].bytes_on, 0, sizeof(m->gnode[i].bytes_on));
			m->gnode[i].unplaced_bytes = m->gnode[i].size_bytes;
		}
	}
	if (!virtio_has_feature(vn->vdev, VIRTIO_NUMA_F_HOST_CPU)) {
		for (i = 0; i < m->nr_vcpus; i++)
			m->vcpu[i].host_cpu = VIRTIO_NUMA_NO_CPU;
	}
}

static void vnuma_reject(struct vnuma *vn, u32 len, const struct vnuma_map_error *why)
{
	dev_warn_ratelimited(
		&vn->vdev->dev,
		"map (%u bytes) rejected, keeping version %llu: %s (entry %u, value %llu)\n", len,
		vn->version, vnuma_map_strerror(why->code), why->index, why->value);
	mutex_lock(&vn->lock);
	vn->rejects++;
	vnuma_page_write(vn);
	mutex_unlock(&vn->lock);
	vnuma_dev_notify(vn, false, 0);
}

static void vnuma_accept(struct vnuma *vn)
{
	struct vnuma_map *accepted;
	bool mirrored;

	/* Kernel state first, so the page reports the nodes now in effect. */
	mirrored = vnuma_mirror_apply(vn->next, vn->gnode_next);

	mutex_lock(&vn->lock);
	accepted = vn->next;
	if (vn->cur) {
		vn->next = vn->cur;
	} else {
		vn->next = vn->spare;
		vn->spare = NULL;
	}
	vn->cur = accepted;
	memcpy(vn->gnode_of_vcpu, vn->gnode_next, accepted->nr_vcpus * sizeof(u16));
	WRITE_ONCE(vn->version, accepted->version);
	vn->updates++;
	vn->mirrored = mirrored;
	vnuma_page_write(vn);
	mutex_unlock(&vn->lock);
	vnuma_dev_notify(vn, true, accepted->version);
}

/* One used buffer: validate, then accept, drop (duplicate) or reject. */
static void vnuma_consume(struct vnuma *vn, u32 len)
{
	struct vnuma_map_ctx ctx = vn->limits;
	struct vnuma_map_error why;
	int ret;

	/* only this work changes cur, so no lock is needed to read it */
	ctx.held_version = vn->cur ? vn->cur->version : 0;
	/* the parser checks len against max_map_len (the buffer's size) before reading */
	ret = vnuma_map_parse(vn->buf, len, &ctx, vn->next, &why);
	if (ret) {
		vn->bad_streak++;
		/* a duplicate (e.g. the current map again after a reset) is not a reject */
		if (ret != -EALREADY)
			vnuma_reject(vn, len, &why);
		return;
	}
	vn->bad_streak = 0;
	vnuma_mask_features(vn, vn->next);
	vnuma_accept(vn);
}

/* Re-post later; true if backing off.  Work context. */
static bool vnuma_backoff(struct vnuma *vn)
{
	unsigned int shift;

	if (vn->bad_streak < VNUMA_BAD_BURST)
		return false;
	shift = min(vn->bad_streak - VNUMA_BAD_BURST, VNUMA_BACKOFF_MAX_SHIFT);
	spin_lock_irq(&vn->stop_lock);
	if (!vn->stop)
		mod_delayed_work(vn->wq, &vn->update_work,
				 msecs_to_jiffies(VNUMA_BACKOFF_MS << shift));
	spin_unlock_irq(&vn->stop_lock);
	return true;
}

static void vnuma_update_work(struct work_struct *work)
{
	struct vnuma *vn = container_of(to_delayed_work(work), struct vnuma, update_work);
	unsigned int len;
	void *token;

	/* A spurious callback finds no used buffer. */
	while ((token = virtqueue_get_buf(vn->vq, &len))) {
		if (WARN_ON_ONCE(token != vn->buf))
			continue;
		vn->posted = false;
		vnuma_consume(vn, len);
		if (vnuma_backoff(vn))
			return;
		vnuma_post(vn);
	}
	vnuma_post(vn);
}

static int vnuma_read_limits(struct vnuma *vn)
{
	struct virtio_device *vdev = vn->vdev;
	struct vnuma_map_ctx *l = &vn->limits;
	u32 min_len;

	virtio_cread_le(vdev, struct virtio_numa_config, max_map_len, &l->max_map_len);
	virtio_cread_le(vdev, struct virtio_numa_config, max_hnodes, &l->max_hnodes);
	virtio_cread_le(vdev, struct virtio_numa_config, nr_gnodes, &l->nr_gnodes);
	virtio_cread_le(vdev, struct virtio_numa_config, nr_vcpus, &l->nr_vcpus);
	if (!l->max_hnodes || l->max_hnodes > VIRTIO_NUMA_MAX_HNODES || !l->nr_gnodes ||
	    l->nr_gnodes > VIRTIO_NUMA_MAX_GNODES || !l->nr_vcpus ||
	    l->nr_vcpus > VIRTIO_NUMA_MAX_VCPUS) {
		dev_err(&vdev->dev, "limits out of range: max_hnodes %u nr_gnodes %u nr_vcpus %u\n",
			l->max_hnodes, l->nr_gnodes, l->nr_vcpus);
		return -EINVAL;
	}
	/* the smallest valid map (one host node) must fit, or none ever will */
	min_len = VIRTIO_NUMA_MAP_HDR_LEN + 8 + 8 +
		  l->nr_gnodes * (sizeof(struct virtio_numa_gnode) + 8) +
		  l->nr_vcpus * sizeof(struct virtio_numa_vcpu);
	if (l->max_map_len < min_len || l->max_map_len > VIRTIO_NUMA_MAX_MAP_LEN) {
		dev_err(&vdev->dev, "max_map_len %u outside [%u, %u]\n", l->max_map_len, min_len,
			VIRTIO_NUMA_MAX_MAP_LEN);
		return -EINVAL;
	}
	return 0;
}

static int vnuma_init_vq(struct vnuma *vn)
{
	struct virtqueue *vq = virtio_find_single_vq(vn->vdev, vnuma_vq_done, "mapq");

	if (IS_ERR(vq))
		return PTR_ERR(vq);
	vn->vq = vq;
	vn->posted = false;
	return 0;
}

static void vnuma_start(struct vnuma *vn)
{
	spin_lock_irq(&vn->stop_lock);
	vn->stop = false;
	mod_delayed_work(vn->wq, &vn->update_work, 0);
	spin_unlock_irq(&vn->stop_lock);
}

/*
 * virtio_balloon's order: no new work, the running one finished, then the
 * device reset (it cannot use the buffer any more), then the queue deleted.
 * The work takes no lock that CPU or device hot-unplug holds while waiting
 * for us (cpus_read_lock only, and never device_hotplug_lock), so waiting
 * for it here cannot deadlock with ACPI eject.
 */
static void vnuma_stop_and_reset(struct vnuma *vn)
{
	spin_lock_irq(&vn->stop_lock);
	vn->stop = true;
	spin_unlock_irq(&vn->stop_lock);
	cancel_delayed_work_sync(&vn->update_work);
	virtio_reset_device(vn->vdev);
	vn->vdev->config->del_vqs(vn->vdev);
	vn->vq = NULL;
	vn->posted = false;
}

static int vnuma_probe(struct virtio_device *vdev)
{
	struct vnuma *vn;
	int err;

	BUILD_BUG_ON(VNUMA_PAGE_MAX_USED > XPV_PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct virtio_numa_config) != 24);
	BUILD_BUG_ON(sizeof(struct virtio_numa_vcpu) != 16);
	BUILD_BUG_ON(sizeof(struct virtio_numa_map_hdr) != VIRTIO_NUMA_MAP_HDR_LEN);

	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		dev_err(&vdev->dev, "VIRTIO_F_VERSION_1 not negotiated\n");
		return -ENODEV;
	}

	mutex_lock(&vnuma_instance_lock);
	if (vnuma_instance) {
		dev_err(&vdev->dev,
			"only one virtio-numa device is supported; %s has /dev/xpv_numa\n",
			dev_name(&vnuma_instance->vdev->dev));
		err = -EBUSY;
		goto err_unlock;
	}

	vn = vnuma_kvzalloc(sizeof(*vn));
	if (!vn) {
		err = -ENOMEM;
		goto err_unlock;
	}
	kref_init(&vn->ref);
	vn->vdev = vdev;
	vdev->priv = vn;
	spin_lock_init(&vn->stop_lock);
	vn->stop = true;
	mutex_init(&vn->lock);
	init_waitqueue_head(&vn->waitq);
	INIT_DELAYED_WORK(&vn->update_work, vnuma_update_work);

	err = vnuma_read_limits(vn);
	if (err)
		goto err_put;

	/* Freed by vnuma_release(), which copes with NULLs. */
	err = vnuma_buf_init(vn);
	vn->next = vnuma_kvzalloc(sizeof(*vn->next));
	vn->spare = vnuma_kvzalloc(sizeof(*vn->spare));
	vn->gnode_of_vcpu = vnuma_kvzalloc(VIRTIO_NUMA_MAX_VCPUS * sizeof(u16));
	vn->gnode_next = vnuma_kvzalloc(VIRTIO_NUMA_MAX_VCPUS * sizeof(u16));
	vn->page = vnuma_vmalloc_user(XPV_PAGE_SIZE);
	if (err || !vn->next || !vn->spare || !vn->gnode_of_vcpu || !vn->gnode_next || !vn->page) {
		err = -ENOMEM;
		goto err_put;
	}

	vn->wq = alloc_ordered_workqueue("xpv_numa", WQ_FREEZABLE);
	if (!vn->wq) {
		err = -ENOMEM;
		goto err_put;
	}

	err = vnuma_init_vq(vn);
	if (err)
		goto err_wq;

	err = vnuma_mirror_init();
	if (err)
		goto err_vqs;

	err = vnuma_dev_register(vn);
	if (err)
		goto err_mirror;

	virtio_device_ready(vdev);
	vnuma_start(vn);
	/* Posts the buffer; the device answers asynchronously. */
	flush_delayed_work(&vn->update_work);

	vnuma_instance = vn;
	mutex_unlock(&vnuma_instance_lock);
	return 0;

err_mirror:
	vnuma_mirror_exit();
err_vqs:
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
err_wq:
	destroy_workqueue(vn->wq);
err_put:
	kref_put(&vn->ref, vnuma_release);
err_unlock:
	mutex_unlock(&vnuma_instance_lock);
	return err;
}

static void vnuma_remove(struct virtio_device *vdev)
{
	struct vnuma *vn = vdev->priv;

	mutex_lock(&vnuma_instance_lock);
	vnuma_stop_and_reset(vn);
	vnuma_dev_unregister(vn);
	vnuma_mirror_exit();
	destroy_workqueue(vn->wq);
	vnuma_instance = NULL;
	mutex_unlock(&vnuma_instance_lock);
	/* Open files keep the page and the last map until they are closed. */
	kref_put(&vn->ref, vnuma_release);
}

#ifdef CONFIG_PM_SLEEP
static int vnuma_freeze(struct virtio_device *vdev)
{
	vnuma_stop_and_reset(vdev->priv);
	return 0;
}

static int vnuma_restore(struct virtio_device *vdev)
{
	struct vnuma *vn = vdev->priv;
	int err;

	err = vnuma_init_vq(vn);
	if (err)
		return err;
	virtio_device_ready(vdev);
	/*
	 * The device's version never decreases, reset included; it delivers
	 * its current map again, which is a duplicate unless it changed.
	 */
	vnuma_start(vn);
	return 0;
}
#endif

static unsigned int vnuma_features[] = {
	VIRTIO_NUMA_F_MEM_PLACEMENT,
	VIRTIO_NUMA_F_HOST_CPU,
};

static const struct virtio_device_id vnuma_id_table[] = {
	{VIRTIO_ID_NUMA_XPV, VIRTIO_DEV_ANY_ID},
	{0},
};
MODULE_DEVICE_TABLE(virtio, vnuma_id_table);

static struct virtio_driver vnuma_driver = {
	.feature_table = vnuma_features,
	.feature_table_size = ARRAY_SIZE(vnuma_features),
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = vnuma_id_table,
	.probe = vnuma_probe,
	.remove = vnuma_remove,
	.config_changed = vnuma_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = vnuma_freeze,
	.restore = vnuma_restore,
#endif
};

static int __init vnuma_init(void)
{
	return register_virtio_driver(&vnuma_driver);
}

static void __exit vnuma_exit(void)
{
	unregister_virtio_driver(&vnuma_driver);
	vnuma_mem_report();
}

module_init(vnuma_init);
module_exit(vnuma_exit);

MODULE_DESCRIPTION("xpv virtio-numa: live host NUMA placement for the guest");
MODULE_LICENSE("GPL");
