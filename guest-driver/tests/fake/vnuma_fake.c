// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEST ONLY: a virtio transport that presents one virtio-numa device (format
 * 2, docs/virtio-numa.md) fed from debugfs, so the guest driver can be
 * tested in a VM with any QEMU.  It owns the map virtqueue's split ring
 * (vring_create_virtqueue) and plays the device side on it: it reads the
 * avail ring, checks the posted buffer like the real device does, copies the
 * map into it and returns it through the used ring, then raises the queue
 * "interrupt" (vring_interrupt).  /sys/kernel/debug/vnuma_fake/:
 *   blob         write: publish a map blob (one write()); map_version becomes
 *                the header's version (or cfg_version if set); delivered into
 *                a posted buffer if newer than the last delivered, then a
 *                config change is notified
 *   cfg_version  if non-zero, published as map_version instead of the header's
 *   notify       write: a config change notification without any change
 *   spurious     write: a queue interrupt with no used buffer
 *   present      write 1/0: register/unregister the virtio device; read: state
 *   max_map_len, max_hnodes, nr_gnodes, nr_vcpus   config limits for the next
 *                probe (max_map_len 0: computed as the protocol says)
 *   hostile modes, for the next deliveries:
 *     used_len   if non-zero, the used length returned instead of map_len
 *     torn       1: the second half of the buffer keeps the previous map
 *     min_buf    if non-zero, buffers shorter than this are a protocol
 *                violation (as if the device expected more than max_map_len)
 *     redeliver  1: the device forgets what it delivered at each publish,
 *                so an old or duplicate version reaches the driver once;
 *                2: a storm: every posted buffer is filled with the map
 *   violations, delivered, posted   read: counters of the device side
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif
#include <xpv/virtio_numa.h>

#define FAKE_QUEUE_SIZE 8 /* as QEMU's device */
#define FAKE_MAX_SEGS 64

static DEFINE_SPINLOCK(fake_lock); /* everything below; the device side runs in any context */
static u8 *blob, *prev_blob;
static u32 blob_len, prev_len;
static u64 cfg_version;
static u64 map_version;
static u64 delivered_version;
static u32 max_map_len; /* 0: computed */
static u16 max_hnodes = VIRTIO_NUMA_MAX_HNODES;
static u16 nr_gnodes = 2;
static u16 nr_vcpus = 4;
static u32 used_len;
static u32 torn;
static u32 min_buf;
static u32 redeliver;
static u64 violations;
static u64 delivered;
static u64 posted;
static u32 generation;
static struct virtqueue *fake_vq;
static u16 last_avail, used_idx;

static DEFINE_MUTEX(fake_mutex); /* present/fake_vdev */
static struct virtio_device *fake_vdev;
static u8 fake_status;
static struct device *fake_root;
static struct dentry *fake_dir;

static u32 cur_max_map_len(void)
{
	if (max_map_len)
		return max_map_len;
	return 48 + ALIGN(2 * 64, 8) + ALIGN(64 * 64, 8) +
	       nr_gnodes * (sizeof(struct virtio_numa_gnode) + 8 * 64) +
	       nr_vcpus * sizeof(struct virtio_numa_vcpu);
}

static void fake_get(struct virtio_device *vdev, unsigned int offset, void *buf, unsigned int len)
{
	struct virtio_numa_config c;
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	c = (struct virtio_numa_config){
		.map_version = cpu_to_le64(map_version),
		.map_len = cpu_to_le32(blob_len),
		.max_map_len = cpu_to_le32(cur_max_map_len()),
		.max_hnodes = cpu_to_le16(max_hnodes),
		.nr_gnodes = cpu_to_le16(nr_gnodes),
		.nr_vcpus = cpu_to_le16(nr_vcpus),
	};
	spin_unlock_irqrestore(&fake_lock, flags);
	if (offset > sizeof(c) || len > sizeof(c) - offset) {
		memset(buf, 0, len);
		return;
	}
	memcpy(buf, (u8 *)&c + offset, len);
}

static void fake_set(struct virtio_device *vdev, unsigned int offset, const void *buf,
		     unsigned int len)
{
	/* read-only configuration */
}

static u32 fake_generation(struct virtio_device *vdev)
{
	return READ_ONCE(generation);
}

static u8 fake_get_status(struct virtio_device *vdev)
{
	return READ_ONCE(fake_status);
}

static void fake_set_status(struct virtio_device *vdev, u8 status)
{
	WRITE_ONCE(fake_status, status);
}

static void fake_reset(struct virtio_device *vdev)
{
	spin_lock_irq(&fake_lock);
	WRITE_ONCE(fake_status, 0);
	delivered_version = 0;
	last_avail = 0;
	used_idx = 0;
	spin_unlock_irq(&fake_lock);
}

struct seg {
	void *p;
	u32 len;
};

/* One descriptor chain (direct or one indirect table); false on a violation. */
static bool walk_chain(const struct vring *vr, u16 head, struct seg *segs, unsigned int *nsegs,
		       u64 *total)
{
	const struct vring_desc *table = vr->desc;
	unsigned int max = vr->num, i = head, n = 0, hops = 0;

	*total = 0;
	for (;;) {
		const struct vring_desc *d;
		u16 flags;

		if (i >= max || ++hops > max)
			return false;
		d = &table[i];
		flags = le16_to_cpu(d->flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (table != vr->desc || n)
				return false; /* nested or mixed */
			max = le32_to_cpu(d->len) / sizeof(*d);
			if (!max)
				return false;
			table = phys_to_virt(le64_to_cpu(d->addr));
			i = 0;
			hops = 0;
			continue;
		}
		if (!(flags & VRING_DESC_F_WRITE) || n == FAKE_MAX_SEGS)
			return false; /* a driver-readable descriptor */
		segs[n].p = phys_to_virt(le64_to_cpu(d->addr));
		segs[n].len = le32_to_cpu(d->len);
		*total += segs[n].len;
		n++;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16_to_cpu(d->next);
	}
	*nsegs = n;
	return true;
}

static void copy_to_segs(const struct seg *segs, unsigned int nsegs, u32 off, const u8 *src,
			 u32 len)
{
	unsigned int s;
	u32 pos = 0;

	for (s = 0; s < nsegs && len; s++) {
		u32 a, n;

		if (off >= pos + segs[s].len) {
			pos += segs[s].len;
			continue;
		}
		a = off - pos;
		n = min(len, segs[s].len - a);
		memcpy((u8 *)segs[s].p + a, src, n);
		src += n;
		off += n;
		len -= n;
		pos += segs[s].len;
	}
}

/*
 * The device's delivery rule: with DRIVER_OK, a posted buffer and a map
 * newer than the last delivered, fill one buffer.  Under fake_lock; true if
 * a buffer was returned (the caller raises the interrupt).
 */
static bool fake_deliver_locked(void)
{
	static struct seg segs[FAKE_MAX_SEGS];
	const struct vring *vr;
	unsigned int nsegs;
	u16 avail, head;
	u64 total;
	u32 need;

	if (!fake_vq || !(fake_status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (fake_status & VIRTIO_CONFIG_S_NEEDS_RESET) || !blob ||
	    (map_version <= delivered_version && redeliver != 2))
		return false;
	vr = virtqueue_get_vring(fake_vq);
	avail = le16_to_cpu(READ_ONCE(vr->avail->idx));
	if (avail == last_avail)
		return false;
	virt_rmb();
	head = le16_to_cpu(vr->avail->ring[last_avail % vr->num]);
	last_avail++;
	posted++;
	need = max(cur_max_map_len(), min_buf);
	if (!walk_chain(vr, head, segs, &nsegs, &total) || total < need) {
		/* QEMU: virtio_error(), DEVICE_NEEDS_RESET, nothing returned */
		violations++;
		fake_status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		pr_warn("vnuma_fake: protocol violation: buffer of %llu bytes, need %u\n", total,
			need);
		return false;
	}
	copy_to_segs(segs, nsegs, 0, blob, min_t(u64, blob_len, total));
	if (torn && prev_blob && blob_len / 2 < prev_len)
		copy_to_segs(segs, nsegs, blob_len / 2, prev_blob + blob_len / 2,
			     min(prev_len, blob_len) - blob_len / 2);
	vr->used->ring[used_idx % vr->num].id = cpu_to_le32(head);
	vr->used->ring[used_idx % vr->num].len = cpu_to_le32(used_len ? used_len : blob_len);
	virt_wmb();
	used_idx++;
	WRITE_ONCE(vr->used->idx, cpu_to_le16(used_idx));
	delivered_version = map_version;
	delivered++;
	return true;
}

static void fake_deliver(void)
{
	struct virtqueue *vq = NULL;

	spin_lock_irq(&fake_lock);
	if (fake_deliver_locked())
		vq = fake_vq;
	spin_unlock_irq(&fake_lock);
	if (vq) {
		local_irq_disable(); /* as from a real interrupt handler */
		vring_interrupt(0, vq);
		local_irq_enable();
	}
}

/* The driver kicked: buffers were posted. */
static bool fake_vq_notify(struct virtqueue *vq)
{
	fake_deliver();
	return true;
}

static struct virtqueue *fake_create_vq(struct virtio_device *vdev, vq_callback_t *cb,
					const char *name)
{
	struct virtqueue *vq;

	vq = vring_create_virtqueue(0, FAKE_QUEUE_SIZE, SMP_CACHE_BYTES, vdev, true, false, false,
				    fake_vq_notify, cb, name);
	if (!vq)
		return ERR_PTR(-ENOMEM);
	spin_lock_irq(&fake_lock);
	fake_vq = vq;
	last_avail = 0;
	used_idx = 0;
	spin_unlock_irq(&fake_lock);
	return vq;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static int fake_find_vqs(struct virtio_device *vdev, unsigned int nvqs, struct virtqueue *vqs[],
			 struct virtqueue_info vqs_info[], struct irq_affinity *desc)
{
	if (nvqs != 1)
		return -EINVAL;
	vqs[0] = fake_create_vq(vdev, vqs_info[0].callback, vqs_info[0].name);
	return PTR_ERR_OR_ZERO(vqs[0]);
}
#else
static int fake_find_vqs(struct virtio_device *vdev, unsigned int nvqs, struct virtqueue *vqs[],
			 vq_callback_t *callbacks[], const char *const names[], const bool *ctx,
			 struct irq_affinity *desc)
{
	if (nvqs != 1)
		return -EINVAL;
	vqs[0] = fake_create_vq(vdev, callbacks[0], names[0]);
	return PTR_ERR_OR_ZERO(vqs[0]);
}
#endif

static void fake_del_vqs(struct virtio_device *vdev)
{
	struct virtqueue *vq, *n;

	spin_lock_irq(&fake_lock);
	fake_vq = NULL;
	spin_unlock_irq(&fake_lock);
	list_for_each_entry_safe (vq, n, &vdev->vqs, list)
		vring_del_virtqueue(vq);
}

static u64 fake_get_features(struct virtio_device *vdev)
{
	return BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |
	       BIT_ULL(VIRTIO_NUMA_F_MEM_PLACEMENT) | BIT_ULL(VIRTIO_NUMA_F_HOST_CPU);
}

static int fake_finalize_features(struct virtio_device *vdev)
{
	vring_transport_features(vdev);
	return 0;
}

static const char *fake_bus_name(struct virtio_device *vdev)
{
	return "vnuma-fake";
}

static const struct virtio_config_ops fake_ops = {
	.get = fake_get,
	.set = fake_set,
	.generation = fake_generation,
	.get_status = fake_get_status,
	.set_status = fake_set_status,
	.reset = fake_reset,
	.find_vqs = fake_find_vqs,
	.del_vqs = fake_del_vqs,
	.get_features = fake_get_features,
	.finalize_features = fake_finalize_features,
	.bus_name = fake_bus_name,
};

static void fake_release(struct device *dev)
{
	kfree(dev_to_virtio(dev));
}

static int fake_add(void)
{
	struct virtio_device *vdev;
	int err;

	if (fake_vdev)
		return -EEXIST;
	vdev = kzalloc(sizeof(*vdev), GFP_KERNEL);
	if (!vdev)
		return -ENOMEM;
	vdev->dev.parent = fake_root;
	vdev->dev.release = fake_release;
	vdev->config = &fake_ops;
	vdev->id.device = VIRTIO_ID_NUMA_XPV;
	vdev->id.vendor = 0x1af4;
	fake_status = 0;
	err = register_virtio_device(vdev);
	if (err) {
		put_device(&vdev->dev);
		return err;
	}
	fake_vdev = vdev;
	return 0;
}

static void fake_remove(void)
{
	if (!fake_vdev)
		return;
	unregister_virtio_device(fake_vdev);
	fake_vdev = NULL;
}

static void fake_notify(void)
{
	mutex_lock(&fake_mutex);
	if (fake_vdev)
		virtio_config_changed(fake_vdev);
	mutex_unlock(&fake_mutex);
}

static ssize_t blob_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	u8 *nb, *old;

	if (count > VIRTIO_NUMA_MAX_MAP_LEN)
		return -EFBIG;
	nb = kvmalloc(count ? count : 1, GFP_KERNEL);
	if (!nb)
		return -ENOMEM;
	if (copy_from_user(nb, ubuf, count)) {
		kvfree(nb);
		return -EFAULT;
	}
	spin_lock_irq(&fake_lock);
	old = prev_blob;
	prev_blob = blob;
	prev_len = blob_len;
	blob = nb;
	blob_len = count;
	if (cfg_version)
		map_version = cfg_version;
	else if (count >= 16)
		map_version = get_unaligned_le64(nb + 8);
	if (redeliver)
		delivered_version = 0;
	generation++;
	spin_unlock_irq(&fake_lock);
	kvfree(old);
	fake_deliver();
	fake_notify();
	return count;
}

static const struct file_operations blob_fops = {
	.owner = THIS_MODULE,
	.write = blob_write,
};

static ssize_t notify_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	fake_notify();
	return count;
}

static const struct file_operations notify_fops = {
	.owner = THIS_MODULE,
	.write = notify_write,
};

static ssize_t spurious_write(struct file *file, const char __user *ubuf, size_t count,
			      loff_t *ppos)
{
	mutex_lock(&fake_mutex);
	if (fake_vdev && fake_vq) {
		local_irq_disable();
		vring_interrupt(0, fake_vq);
		local_irq_enable();
	}
	mutex_unlock(&fake_mutex);
	return count;
}

static const struct file_operations spurious_fops = {
	.owner = THIS_MODULE,
	.write = spurious_write,
};

static int present_get(void *data, u64 *val)
{
	mutex_lock(&fake_mutex);
	*val = fake_vdev != NULL;
	mutex_unlock(&fake_mutex);
	return 0;
}

static int present_set(void *data, u64 val)
{
	int err = 0;

	mutex_lock(&fake_mutex);
	if (val)
		err = fake_add();
	else
		fake_remove();
	mutex_unlock(&fake_mutex);
	return err;
}
DEFINE_DEBUGFS_ATTRIBUTE(present_fops, present_get, present_set, "%llu\n");

static int __init fake_init(void)
{
	fake_root = root_device_register("vnuma_fake");
	if (IS_ERR(fake_root))
		return PTR_ERR(fake_root);
	fake_dir = debugfs_create_dir("vnuma_fake", NULL);
	debugfs_create_file("blob", 0200, fake_dir, NULL, &blob_fops);
	debugfs_create_file("notify", 0200, fake_dir, NULL, &notify_fops);
	debugfs_create_file("spurious", 0200, fake_dir, NULL, &spurious_fops);
	debugfs_create_file_unsafe("present", 0600, fake_dir, NULL, &present_fops);
	debugfs_create_u64("cfg_version", 0600, fake_dir, &cfg_version);
	debugfs_create_u32("max_map_len", 0600, fake_dir, &max_map_len);
	debugfs_create_u16("max_hnodes", 0600, fake_dir, &max_hnodes);
	debugfs_create_u16("nr_gnodes", 0600, fake_dir, &nr_gnodes);
	debugfs_create_u16("nr_vcpus", 0600, fake_dir, &nr_vcpus);
	debugfs_create_u32("used_len", 0600, fake_dir, &used_len);
	debugfs_create_u32("torn", 0600, fake_dir, &torn);
	debugfs_create_u32("min_buf", 0600, fake_dir, &min_buf);
	debugfs_create_u32("redeliver", 0600, fake_dir, &redeliver);
	debugfs_create_u64("violations", 0400, fake_dir, &violations);
	debugfs_create_u64("delivered", 0400, fake_dir, &delivered);
	debugfs_create_u64("posted", 0400, fake_dir, &posted);
	return 0;
}

static void __exit fake_exit(void)
{
	debugfs_remove_recursive(fake_dir);
	mutex_lock(&fake_mutex);
	fake_remove();
	mutex_unlock(&fake_mutex);
	root_device_unregister(fake_root);
	kvfree(blob);
	kvfree(prev_blob);
}

module_init(fake_init);
module_exit(fake_exit);
MODULE_DESCRIPTION("TEST ONLY: fake virtio-numa device fed from debugfs");
MODULE_LICENSE("GPL");
