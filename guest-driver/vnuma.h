/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-numa guest driver: state shared by its files.
 *
 *   vnuma_virtio.c  virtio glue: probe/remove, config window reads, update work
 *   vnuma_dev.c     /dev/xpv_numa (mmap page, read, poll) and its sysfs files
 *   vnuma_mirror.c  optional mirroring of the map into the kernel's cpu->node state
 *   vnuma_map.c     pure blob parser and page layout (also built in user space)
 */
#ifndef VNUMA_H
#define VNUMA_H

#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "vnuma_map.h"

struct virtio_device;

struct vnuma {
	struct virtio_device *vdev;
	/* probe holds one reference, each open file one; the last put frees */
	struct kref ref;

	u32 max_map_len; /* from config, checked at probe */
	u32 window_size;

	/*
	 * Update path.  config_changed (atomic context) only queues the work;
	 * @stop, under @stop_lock, keeps it from queueing during teardown.
	 * Only the work touches @blob, @next and @window.
	 */
	struct workqueue_struct *wq;
	struct delayed_work update_work;
	spinlock_t stop_lock;
	bool stop;
	bool accept_lower; /* after a device reset the version may restart at 1 */
	void *blob; /* max_map_len bytes */
	struct vnuma_map *next;
	struct vnuma_map *spare; /* becomes next when the first map is accepted */
	u16 *gnode_next; /* [VIRTIO_NUMA_MAX_VCPUS], nodes for next */
	u32 window[VIRTIO_NUMA_WINDOW_SIZE / 4];

	/* Published state; @lock serialises the writer against readers. */
	struct mutex lock;
	struct vnuma_map *cur; /* NULL until a map was accepted */
	u64 version; /* cur->version or 0; READ_ONCE for poll */
	u64 updates;
	u64 rejects;
	bool mirrored;
	u16 *gnode_of_vcpu; /* [VIRTIO_NUMA_MAX_VCPUS], the kernel node of each CPU */
	void *page; /* XPV_PAGE_SIZE, vmalloc_user, mmap()ed by readers */
	size_t page_used; /* bytes of @page the last layout used; zero beyond */
	bool dead; /* the device is gone; files only see EPOLLHUP/-ENODEV */
	wait_queue_head_t waitq;

	struct miscdevice misc;
};

/* vnuma_dev.c */
int vnuma_dev_register(struct vnuma *vn);
void vnuma_dev_unregister(struct vnuma *vn);
void vnuma_page_write(struct vnuma *vn);
void vnuma_dev_notify(struct vnuma *vn, bool new_map, u64 version);
void vnuma_release(struct kref *ref);

/* vnuma_mirror.c */
int vnuma_mirror_init(void);
void vnuma_mirror_exit(void);
/* Returns true if the kernel state now mirrors @m; fills gnode_of_vcpu[]. */
bool vnuma_mirror_apply(const struct vnuma_map *m, u16 *gnode_of_vcpu);

#endif /* VNUMA_H */
