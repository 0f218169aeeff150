// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-numa guest driver (xpv): reads the host's live NUMA placement map
 * through the device's paged configuration window (docs/virtio-numa.md) and
 * publishes it to user space (docs/guest-abi.md).
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

#include "vnuma.h"

/* A map that changes under the reader this often is treated as transient. */
#define VNUMA_READ_TRIES 8
#define VNUMA_RETRY_DELAY_MS 200

/* /dev/xpv_numa has one name, so one device is served. */
static DEFINE_MUTEX(vnuma_instance_lock);
static struct vnuma *vnuma_instance;

static void vnuma_config_changed(struct virtio_device *vdev)
{
	struct vnuma *vn = vdev->priv;
	unsigned long flags;

	/* Atomic context (the transport's config interrupt): defer the reads. */
	spin_lock_irqsave(&vn->stop_lock, flags);
	if (!vn->stop)
		mod_delayed_work(vn->wq, &vn->update_work, 0);
	spin_unlock_irqrestore(&vn->stop_lock, flags);
}

static void vnuma_retry_later(struct vnuma *vn)
{
	spin_lock_irq(&vn->stop_lock);
	if (!vn->stop)
		queue_delayed_work(vn->wq, &vn->update_work,
				   msecs_to_jiffies(VNUMA_RETRY_DELAY_MS));
	spin_unlock_irq(&vn->stop_lock);
}

/*
 * One consistent snapshot of the blob (§5): map_version, then every window
 * page, then map_version again.  Returns 0 with *len and *version set,
 * -EINVAL if map_len itself is out of range (a stable, bad value), or
 * -EAGAIN if the map kept changing.
 */
static int vnuma_read_blob(struct vnuma *vn, u32 *len, u64 *version)
{
	struct virtio_device *vdev = vn->vdev;
	unsigned int try;
	u64 v1, v2;
	u32 l, page, done;

	for (try = 0; try < VNUMA_READ_TRIES; try++) {
		virtio_cread_le(vdev, struct virtio_numa_config, map_version, &v1);
		virtio_cread_le(vdev, struct virtio_numa_config, map_len, &l);
		if (l >= VNUMA_MAP_HDR_LEN && l <= vn->max_map_len) {
			for (page = 0, done = 0; done < l; page++, done += vn->window_size) {
				virtio_cwrite_le(vdev, struct virtio_numa_config, window_page,
						 &page);
				/* 32-bit accesses, as the spec asks (§5.2) */
				__virtio_cread_many(vdev,
						    offsetof(struct virtio_numa_config, window),
						    vn->window, vn->window_size / 4, 4);
				memcpy((u8 *)vn->blob + done, vn->window,
				       min(vn->window_size, l - done));
			}
		}
		virtio_cread_le(vdev, struct virtio_numa_config, map_version, &v2);
		if (v1 != v2)
			continue;
		*len = l;
		*version = v1;
		if (l < VNUMA_MAP_HDR_LEN || l > vn->max_map_len)
			return -EINVAL;
		return 0;
	}
	return -EAGAIN;
}

static void vnuma_update_work(struct work_struct *work)
{
	struct vnuma *vn = container_of(to_delayed_work(work), struct vnuma, update_work);
	struct device *dev = &vn->vdev->dev;
	struct vnuma_map_error why = {.code = VNUMA_E_MAP_LEN};
	struct vnuma_map_ctx ctx = {.max_map_len = vn->max_map_len};
	struct vnuma_map *accepted;
	bool mirrored;
	u32 len = 0;
	int ret;

	ret = vnuma_read_blob(vn, &len, &ctx.map_version);
	if (ret == -EAGAIN) {
		dev_warn_ratelimited(dev, "map kept changing during %d reads; retrying later\n",
				     VNUMA_READ_TRIES);
		vnuma_retry_later(vn);
		return;
	}
	if (!ret) {
		/* only this work changes cur, so no lock is needed to read it */
		ctx.held_version = vn->cur && !vn->accept_lower ? vn->cur->version : 0;
		ret = vnuma_map_parse(vn->blob, len, &ctx, vn->next, &why);
	} else if (len < VNUMA_MAP_HDR_LEN) {
		why.code = VNUMA_E_SHORT;
	}
	if (ret) {
		dev_warn_ratelimited(dev,
				     "map version %llu (%u bytes) rejected, keeping version %llu: "
				     "%s (entry %u, value %llu)\n",
				     ctx.map_version, len, vn->version,
				     vnuma_map_strerror(why.code), why.index, why.value);
		mutex_lock(&vn->lock);
		vn->rejects++;
		vnuma_page_write(vn);
		mutex_unlock(&vn->lock);
		vnuma_dev_notify(vn, false, 0);
		return;
	}
	if (vn->cur && vn->cur->version == vn->next->version && !vn->accept_lower)
		return; /* a notification for the map we already hold */

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
	vn->accept_lower = false;
	vnuma_page_write(vn);
	mutex_unlock(&vn->lock);
	vnuma_dev_notify(vn, true, accepted->version);
}

static int vnuma_read_limits(struct vnuma *vn)
{
	struct virtio_device *vdev = vn->vdev;

	virtio_cread_le(vdev, struct virtio_numa_config, max_map_len, &vn->max_map_len);
	virtio_cread_le(vdev, struct virtio_numa_config, window_size, &vn->window_size);
	if (vn->max_map_len < VNUMA_MAP_HDR_LEN || vn->max_map_len > VIRTIO_NUMA_MAX_MAP_LEN) {
		dev_err(&vdev->dev, "max_map_len %u outside [%u, %u]\n", vn->max_map_len,
			VNUMA_MAP_HDR_LEN, VIRTIO_NUMA_MAX_MAP_LEN);
		return -EINVAL;
	}
	if (!vn->window_size || vn->window_size > VIRTIO_NUMA_WINDOW_SIZE || vn->window_size % 4) {
		dev_err(&vdev->dev, "window_size %u is not a multiple of 4 in [4, %u]\n",
			vn->window_size, VIRTIO_NUMA_WINDOW_SIZE);
		return -EINVAL;
	}
	return 0;
}

/* The config interrupt is only wired up by find_vqs, even with no queues. */
static int vnuma_init_vqs(struct vnuma *vn)
{
	return virtio_find_vqs(vn->vdev, 0, NULL, NULL, NULL, NULL);
}

static void vnuma_start(struct vnuma *vn)
{
	spin_lock_irq(&vn->stop_lock);
	vn->stop = false;
	mod_delayed_work(vn->wq, &vn->update_work, 0);
	spin_unlock_irq(&vn->stop_lock);
}

static void vnuma_stop(struct vnuma *vn)
{
	spin_lock_irq(&vn->stop_lock);
	vn->stop = true;
	spin_unlock_irq(&vn->stop_lock);
	cancel_delayed_work_sync(&vn->update_work);
}

static int vnuma_probe(struct virtio_device *vdev)
{
	struct vnuma *vn;
	int err;

	BUILD_BUG_ON(VNUMA_PAGE_MAX_USED > XPV_PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct virtio_numa_config) != 0x418);

	mutex_lock(&vnuma_instance_lock);
	if (vnuma_instance) {
		dev_err(&vdev->dev,
			"only one virtio-numa device is supported; %s has /dev/xpv_numa\n",
			dev_name(&vnuma_instance->vdev->dev));
		err = -EBUSY;
		goto err_unlock;
	}

	vn = kzalloc(sizeof(*vn), GFP_KERNEL);
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
	vn->blob = kvmalloc(vn->max_map_len, GFP_KERNEL);
	vn->next = kvmalloc(sizeof(*vn->next), GFP_KERNEL);
	vn->spare = kvmalloc(sizeof(*vn->spare), GFP_KERNEL);
	vn->gnode_of_vcpu = kcalloc(VIRTIO_NUMA_MAX_VCPUS, sizeof(u16), GFP_KERNEL);
	vn->gnode_next = kcalloc(VIRTIO_NUMA_MAX_VCPUS, sizeof(u16), GFP_KERNEL);
	vn->page = vmalloc_user(XPV_PAGE_SIZE);
	if (!vn->blob || !vn->next || !vn->spare || !vn->gnode_of_vcpu || !vn->gnode_next ||
	    !vn->page) {
		err = -ENOMEM;
		goto err_put;
	}

	/* Unbound: the rehome option takes CPUs offline from this work. */
	vn->wq = alloc_ordered_workqueue("xpv_numa", WQ_FREEZABLE);
	if (!vn->wq) {
		err = -ENOMEM;
		goto err_put;
	}

	err = vnuma_init_vqs(vn);
	if (err)
		goto err_wq;

	err = vnuma_mirror_init();
	if (err)
		goto err_vqs;

	virtio_device_ready(vdev);

	err = vnuma_dev_register(vn);
	if (err)
		goto err_reset;

	vnuma_start(vn);
	/* So that the map is there when modprobe returns. */
	flush_delayed_work(&vn->update_work);

	vnuma_instance = vn;
	mutex_unlock(&vnuma_instance_lock);
	return 0;

err_reset:
	virtio_reset_device(vdev);
	vnuma_mirror_exit();
err_vqs:
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
	vnuma_stop(vn);
	vnuma_dev_unregister(vn);
	virtio_reset_device(vdev);
	vnuma_mirror_exit();
	vdev->config->del_vqs(vdev);
	destroy_workqueue(vn->wq);
	vnuma_instance = NULL;
	mutex_unlock(&vnuma_instance_lock);
	/* Open files keep the page and the last map until they are closed. */
	kref_put(&vn->ref, vnuma_release);
}

#ifdef CONFIG_PM_SLEEP
static int vnuma_freeze(struct virtio_device *vdev)
{
	struct vnuma *vn = vdev->priv;

	vnuma_stop(vn);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	return 0;
}

static int vnuma_restore(struct virtio_device *vdev)
{
	struct vnuma *vn = vdev->priv;
	int err;

	err = vnuma_init_vqs(vn);
	if (err)
		return err;
	virtio_device_ready(vdev);
	/* The reset may have restarted the device's version at 1 (§5.1). */
	vn->accept_lower = true;
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
module_virtio_driver(vnuma_driver);

MODULE_DESCRIPTION("xpv virtio-numa: live host NUMA placement for the guest");
MODULE_LICENSE("GPL");
