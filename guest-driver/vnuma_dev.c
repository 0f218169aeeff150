// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/xpv_numa and /sys/class/misc/xpv_numa/: the driver's user-space ABI
 * (docs/guest-abi.md).  The page is a seqcount-protected copy of the map in
 * native byte order that readers mmap read-only; read() returns the same
 * bytes; poll() says whether a map newer than the file last read() exists.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/virtio.h>

#include "vnuma.h"

/* Worst case of the largest text file (gnodes: 64 lines of 67 numbers) is ~90 KiB. */
#define VNUMA_TEXT_MAX (128 * 1024)

struct vnuma_file {
	struct vnuma *vn;
	u64 seen; /* version returned by this file's last read() */
};

void vnuma_release(struct kref *ref)
{
	struct vnuma *vn = container_of(ref, struct vnuma, ref);

	vnuma_vfree(vn->page);
	vnuma_kvfree(vn->gnode_of_vcpu);
	vnuma_kvfree(vn->gnode_next);
	vnuma_kvfree(vn->spare);
	vnuma_kvfree(vn->next);
	vnuma_kvfree(vn->cur);
	vnuma_kvfree(vn->sg);
	vnuma_kvfree(vn->buf);
	vnuma_kvfree(vn);
}

/*
 * Seqcount writer: readers retry while seq is odd or changed (docs/guest-abi.md).
 * Called with vn->lock held, in the same critical section that changes the
 * state it shows, so read() never pairs a new version with an old page.
 */
void vnuma_page_write(struct vnuma *vn)
{
	struct xpv_page_hdr *h = vn->page;
	struct vnuma_page_info info = {
		.flags = vn->mirrored ? XPV_PAGE_F_MIRRORED : 0,
		.updates = vn->updates,
		.rejects = vn->rejects,
	};
	u32 seq = h->seq;
	size_t used;

	lockdep_assert_held(&vn->lock);
	WRITE_ONCE(h->seq, seq + 1);
	smp_wmb();
	used = vnuma_page_fill(vn->page, XPV_PAGE_SIZE, vn->page_used, vn->cur, vn->gnode_of_vcpu,
			       &info);
	if (!WARN_ON_ONCE(!used))
		vn->page_used = used;
	smp_wmb();
	WRITE_ONCE(h->seq, seq + 2);
}

/* After vnuma_page_write(), outside the lock: wake pollers, sysfs and udev. */
void vnuma_dev_notify(struct vnuma *vn, bool new_map, u64 version)
{
	struct kobject *kobj = &vn->misc.this_device->kobj;
	char env_version[40];
	char *envp[] = {env_version, NULL};

	if (!new_map) {
		sysfs_notify(kobj, NULL, "rejects");
		return;
	}
	wake_up_interruptible_poll(&vn->waitq, EPOLLIN | EPOLLRDNORM);
	sysfs_notify(kobj, NULL, "version");
	snprintf(env_version, sizeof(env_version), "XPV_NUMA_VERSION=%llu", version);
	kobject_uevent_env(kobj, KOBJ_CHANGE, envp);
}

static int vnuma_open(struct inode *inode, struct file *file)
{
	/* misc_open() put our miscdevice here and holds misc_mtx, so vn is alive. */
	struct vnuma *vn = container_of(file->private_data, struct vnuma, misc);
	struct vnuma_file *f;

	if (file->f_mode & FMODE_WRITE)
		return -EPERM;
	f = vnuma_kvzalloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	kref_get(&vn->ref);
	f->vn = vn;
	file->private_data = f;
	return 0;
}

static int vnuma_file_release(struct inode *inode, struct file *file)
{
	struct vnuma_file *f = file->private_data;

	kref_put(&f->vn->ref, vnuma_release);
	vnuma_kvfree(f);
	return 0;
}

static ssize_t vnuma_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct vnuma_file *f = file->private_data;
	struct vnuma *vn = f->vn;
	loff_t pos = *ppos;
	u64 version;
	void *copy;
	size_t n;

	if (pos < 0)
		return -EINVAL;
	if (pos >= XPV_PAGE_SIZE || !count)
		return 0;
	n = min_t(size_t, count, XPV_PAGE_SIZE - pos);
	/*
	 * Copy under the writer's lock (the page is never half written there),
	 * then to user space without it: a user buffer that faults slowly must
	 * not stall the update work.
	 */
	copy = vnuma_kvzalloc(n);
	if (!copy)
		return -ENOMEM;
	if (mutex_lock_interruptible(&vn->lock)) {
		vnuma_kvfree(copy);
		return -ERESTARTSYS;
	}
	if (vn->dead) {
		mutex_unlock(&vn->lock);
		vnuma_kvfree(copy);
		return -ENODEV;
	}
	memcpy(copy, (u8 *)vn->page + pos, n);
	version = vn->version;
	mutex_unlock(&vn->lock);

	if (copy_to_user(buf, copy, n)) {
		vnuma_kvfree(copy);
		return -EFAULT;
	}
	vnuma_kvfree(copy);
	f->seen = version;
	*ppos = pos + n;
	return n;
}

static loff_t vnuma_llseek(struct file *file, loff_t offset, int whence)
{
	return fixed_size_llseek(file, offset, whence, XPV_PAGE_SIZE);
}

static __poll_t vnuma_poll(struct file *file, poll_table *wait)
{
	struct vnuma_file *f = file->private_data;
	struct vnuma *vn = f->vn;

	poll_wait(file, &vn->waitq, wait);
	if (READ_ONCE(vn->dead))
		return EPOLLHUP | EPOLLERR;
	if (READ_ONCE(vn->version) != f->seen)
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static int vnuma_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vnuma_file *f = file->private_data;
	struct vnuma *vn = f->vn;
	int ret;

	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > XPV_PAGE_SIZE)
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	/* and no mprotect(PROT_WRITE) later */
	vm_flags_clear(vma, VM_MAYWRITE);

	mutex_lock(&vn->lock);
	ret = vn->dead ? -ENODEV : remap_vmalloc_range(vma, vn->page, 0);
	mutex_unlock(&vn->lock);
	return ret;
}

static const struct file_operations vnuma_fops = {
	.owner = THIS_MODULE,
	.open = vnuma_open,
	.release = vnuma_file_release,
	.read = vnuma_read,
	.llseek = vnuma_llseek,
	.poll = vnuma_poll,
	.mmap = vnuma_mmap,
};

/* ---- sysfs, on the misc device: /sys/class/misc/xpv_numa/ ---- */

static struct vnuma *dev_to_vnuma(struct device *dev)
{
	struct miscdevice *misc = dev_get_drvdata(dev);

	return container_of(misc, struct vnuma, misc);
}

static int hnode_id_or_neg(const struct vnuma_map *m, u16 index)
{
	return index < m->nr_hnodes ? m->hnode_id[index] : -1;
}

/* Counters read under the lock so that a value never tears on 32-bit. */
#define VNUMA_U64_ATTR(field)                                                                      \
	static ssize_t field##_show(struct device *dev, struct device_attribute *attr, char *buf)  \
	{                                                                                          \
		struct vnuma *vn = dev_to_vnuma(dev);                                              \
		ssize_t ret;                                                                       \
                                                                                                   \
		mutex_lock(&vn->lock);                                                             \
		ret = sysfs_emit(buf, "%llu\n", vn->field);                                        \
		mutex_unlock(&vn->lock);                                                           \
		return ret;                                                                        \
	}                                                                                          \
	static DEVICE_ATTR_RO(field)

VNUMA_U64_ATTR(version);
VNUMA_U64_ATTR(updates);
VNUMA_U64_ATTR(rejects);

static ssize_t mirrored_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct vnuma *vn = dev_to_vnuma(dev);
	ssize_t ret;

	mutex_lock(&vn->lock);
	ret = sysfs_emit(buf, "%d\n", vn->mirrored);
	mutex_unlock(&vn->lock);
	return ret;
}
static DEVICE_ATTR_RO(mirrored);

static ssize_t host_nodes_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct vnuma *vn = dev_to_vnuma(dev);
	const struct vnuma_map *m;
	unsigned int i;
	int n = 0;

	mutex_lock(&vn->lock);
	m = vn->cur;
	for (i = 0; m && i < m->nr_hnodes; i++)
		n += sysfs_emit_at(buf, n, "%s%u", i ? " " : "", m->hnode_id[i]);
	n += sysfs_emit_at(buf, n, "\n");
	mutex_unlock(&vn->lock);
	return n;
}
static DEVICE_ATTR_RO(host_nodes);

/* "cpu host_node_id host_cpu guest_node", -1 for unknown */
static size_t render_vcpus(struct vnuma *vn, char *buf, size_t cap)
{
	const struct vnuma_map *m = vn->cur;
	size_t n = 0;
	unsigned int i;

	for (i = 0; m && i < m->nr_vcpus; i++) {
		const struct vnuma_vcpu *v = &m->vcpu[i];
		u16 g = vn->gnode_of_vcpu[i];

		n += scnprintf(buf + n, cap - n, "%u %d %lld %d\n", i, hnode_id_or_neg(m, v->hnode),
			       v->host_cpu == VIRTIO_NUMA_NO_CPU ? -1LL : (long long)v->host_cpu,
			       g == VIRTIO_NUMA_NO_NODE ? -1 : g);
	}
	return n;
}

/* "node home_host_node_id size_bytes unplaced_bytes bytes_on[0] ... bytes_on[n-1]" */
static size_t render_gnodes(struct vnuma *vn, char *buf, size_t cap)
{
	const struct vnuma_map *m = vn->cur;
	size_t n = 0;
	unsigned int i, j;

	for (i = 0; m && i < m->nr_gnodes; i++) {
		const struct vnuma_gnode *g = &m->gnode[i];

		n += scnprintf(buf + n, cap - n, "%u %d %llu %llu", i, hnode_id_or_neg(m, g->home),
			       g->size_bytes, g->unplaced_bytes);
		for (j = 0; j < m->nr_hnodes; j++)
			n += scnprintf(buf + n, cap - n, " %llu", g->bytes_on[j]);
		n += scnprintf(buf + n, cap - n, "\n");
	}
	return n;
}

/* one row per host node, in host_nodes order */
static size_t render_distances(struct vnuma *vn, char *buf, size_t cap)
{
	const struct vnuma_map *m = vn->cur;
	size_t n = 0;
	unsigned int i, j;

	for (i = 0; m && i < m->nr_hnodes; i++) {
		for (j = 0; j < m->nr_hnodes; j++)
			n += scnprintf(buf + n, cap - n, "%s%u", j ? " " : "",
				       m->dist[i * m->nr_hnodes + j]);
		n += scnprintf(buf + n, cap - n, "\n");
	}
	return n;
}

/*
 * Bigger than a sysfs page, so binary attributes rendered whole on each
 * read() and sliced at @off; docs/guest-abi.md tells readers to compare
 * version before and after when they need one snapshot.
 */
static ssize_t vnuma_text_read(struct kobject *kobj, char *buf, loff_t off, size_t count,
			       size_t (*render)(struct vnuma *, char *, size_t))
{
	struct vnuma *vn = dev_to_vnuma(kobj_to_dev(kobj));
	char *text;
	size_t len;
	ssize_t ret = 0;

	text = vnuma_kvzalloc(VNUMA_TEXT_MAX);
	if (!text)
		return -ENOMEM;
	mutex_lock(&vn->lock);
	len = render(vn, text, VNUMA_TEXT_MAX);
	mutex_unlock(&vn->lock);
	if (off >= 0 && off < len) {
		ret = min_t(size_t, count, len - off);
		memcpy(buf, text + off, ret);
	}
	vnuma_kvfree(text);
	return ret;
}

static ssize_t vcpus_read(struct file *file, struct kobject *kobj, struct bin_attribute *attr,
			  char *buf, loff_t off, size_t count)
{
	return vnuma_text_read(kobj, buf, off, count, render_vcpus);
}
static BIN_ATTR_RO(vcpus, 0);

static ssize_t gnodes_read(struct file *file, struct kobject *kobj, struct bin_attribute *attr,
			   char *buf, loff_t off, size_t count)
{
	return vnuma_text_read(kobj, buf, off, count, render_gnodes);
}
static BIN_ATTR_RO(gnodes, 0);

static ssize_t distances_read(struct file *file, struct kobject *kobj, struct bin_attribute *attr,
			      char *buf, loff_t off, size_t count)
{
	return vnuma_text_read(kobj, buf, off, count, render_distances);
}
static BIN_ATTR_RO(distances, 0);

static struct attribute *vnuma_attrs[] = {
	&dev_attr_version.attr,	 &dev_attr_updates.attr,    &dev_attr_rejects.attr,
	&dev_attr_mirrored.attr, &dev_attr_host_nodes.attr, NULL,
};

static struct bin_attribute *vnuma_bin_attrs[] = {
	&bin_attr_vcpus,
	&bin_attr_gnodes,
	&bin_attr_distances,
	NULL,
};

static const struct attribute_group vnuma_group = {
	.attrs = vnuma_attrs,
	.bin_attrs = vnuma_bin_attrs,
};

static const struct attribute_group *vnuma_groups[] = {
	&vnuma_group,
	NULL,
};

int vnuma_dev_register(struct vnuma *vn)
{
	mutex_lock(&vn->lock);
	vnuma_page_write(vn); /* magic and abi, version 0: no map yet */
	mutex_unlock(&vn->lock);

	vn->misc.minor = MISC_DYNAMIC_MINOR;
	vn->misc.name = "xpv_numa";
	vn->misc.fops = &vnuma_fops;
	vn->misc.parent = &vn->vdev->dev;
	vn->misc.groups = vnuma_groups;
	vn->misc.mode = 0444;
	return misc_register(&vn->misc);
}

void vnuma_dev_unregister(struct vnuma *vn)
{
	/* No new opens and no sysfs callers after this; open files stay. */
	misc_deregister(&vn->misc);
	mutex_lock(&vn->lock);
	WRITE_ONCE(vn->dead, true);
	mutex_unlock(&vn->lock);
	wake_up_interruptible_poll(&vn->waitq, EPOLLHUP | EPOLLERR);
}
