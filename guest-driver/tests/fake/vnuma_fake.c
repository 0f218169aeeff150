// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEST ONLY: a virtio transport that presents one virtio-numa device whose
 * configuration space is fed from debugfs, so the guest driver can be tested
 * in a VM with any QEMU.  /sys/kernel/debug/vnuma_fake/:
 *   blob         write: the whole map blob in one write(); map_len becomes its
 *                length and map_version the header's version (or cfg_version
 *                if set), then a config change is notified
 *   cfg_version  if non-zero, published as map_version instead of the header's
 *   notify       write: a config change notification without any change
 *   present      write 1/0: register/unregister the virtio device; read: state
 *   max_map_len, window_size   config values seen by the next probe
 *   flip_every   if non-zero, every N-th window read bumps map_version (a map
 *                that changes under the reader)
 *   narrow_reads window reads that were not 32-bit (the spec asks for 32-bit)
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <asm/unaligned.h>
#include <xpv/virtio_numa.h>

#define WIN_OFF offsetof(struct virtio_numa_config, window)

static DEFINE_SPINLOCK(fake_lock); /* everything below; config reads come from any context */
static u8 *blob;
static u32 blob_len;
static u64 cfg_version;
static u64 map_version;
static u32 window_page;
static u32 max_map_len = VIRTIO_NUMA_MAX_MAP_LEN;
static u32 window_size = VIRTIO_NUMA_WINDOW_SIZE;
static u32 flip_every;
static u64 window_reads;
static u64 narrow_reads;
static u32 generation;

static DEFINE_MUTEX(fake_mutex); /* present/fake_vdev */
static struct virtio_device *fake_vdev;
static u8 fake_status;
static struct device *fake_root;
static struct dentry *fake_dir;

static u8 cfg_byte(unsigned int off)
{
	struct virtio_numa_config c = {
		.map_version = cpu_to_le64(map_version),
		.map_len = cpu_to_le32(blob_len),
		.window_page = cpu_to_le32(window_page),
		.window_size = cpu_to_le32(window_size),
		.max_map_len = cpu_to_le32(max_map_len),
	};
	u64 pos;

	if (off < WIN_OFF)
		return ((u8 *)&c)[off];
	off -= WIN_OFF;
	if (off >= window_size)
		return 0;
	pos = (u64)window_page * window_size + off;
	return pos < blob_len ? blob[pos] : 0;
}

static void fake_get(struct virtio_device *vdev, unsigned int offset, void *buf, unsigned int len)
{
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&fake_lock, flags);
	if (offset >= WIN_OFF) {
		if (len != 4)
			narrow_reads++;
		if (flip_every && ++window_reads % flip_every == 0)
			map_version++;
	}
	for (i = 0; i < len; i++)
		((u8 *)buf)[i] = cfg_byte(offset + i);
	spin_unlock_irqrestore(&fake_lock, flags);
}

static void fake_set(struct virtio_device *vdev, unsigned int offset, const void *buf,
		     unsigned int len)
{
	__le32 v;

	if (offset != offsetof(struct virtio_numa_config, window_page) || len != 4)
		return; /* read-only fields */
	memcpy(&v, buf, 4);
	spin_lock_irq(&fake_lock);
	window_page = le32_to_cpu(v);
	spin_unlock_irq(&fake_lock);
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
	WRITE_ONCE(fake_status, 0);
}

static int fake_find_vqs(struct virtio_device *vdev, unsigned int nvqs, struct virtqueue *vqs[],
			 vq_callback_t *callbacks[], const char *const names[], const bool *ctx,
			 struct irq_affinity *desc)
{
	return nvqs ? -EINVAL : 0;
}

static void fake_del_vqs(struct virtio_device *vdev)
{
}

static u64 fake_get_features(struct virtio_device *vdev)
{
	return BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NUMA_F_MEM_PLACEMENT) |
	       BIT_ULL(VIRTIO_NUMA_F_HOST_CPU);
}

static int fake_finalize_features(struct virtio_device *vdev)
{
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
	old = blob;
	blob = nb;
	blob_len = count;
	if (cfg_version)
		map_version = cfg_version;
	else if (count >= 16)
		map_version = get_unaligned_le64(nb + 8);
	generation++;
	spin_unlock_irq(&fake_lock);
	kvfree(old);
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

/*
 * Not __init: the leak scan of the e2e test looks for allocation stacks with
 * unresolvable module addresses, and freed init code would be one.
 */
static int fake_init(void)
{
	fake_root = root_device_register("vnuma_fake");
	if (IS_ERR(fake_root))
		return PTR_ERR(fake_root);
	fake_dir = debugfs_create_dir("vnuma_fake", NULL);
	debugfs_create_file("blob", 0200, fake_dir, NULL, &blob_fops);
	debugfs_create_file("notify", 0200, fake_dir, NULL, &notify_fops);
	debugfs_create_file_unsafe("present", 0600, fake_dir, NULL, &present_fops);
	debugfs_create_u64("cfg_version", 0600, fake_dir, &cfg_version);
	debugfs_create_u32("max_map_len", 0600, fake_dir, &max_map_len);
	debugfs_create_u32("window_size", 0600, fake_dir, &window_size);
	debugfs_create_u32("flip_every", 0600, fake_dir, &flip_every);
	debugfs_create_u64("narrow_reads", 0400, fake_dir, &narrow_reads);
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
}

module_init(fake_init);
module_exit(fake_exit);
MODULE_DESCRIPTION("TEST ONLY: fake virtio-numa device fed from debugfs");
MODULE_LICENSE("GPL");
