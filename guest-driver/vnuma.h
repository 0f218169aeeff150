/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-numa guest driver: state shared by its files.
 *
 *   vnuma_virtio.c  virtio glue: probe/remove, the map virtqueue, update work
 *   vnuma_dev.c     /dev/xpv_numa (mmap page, read, poll) and its sysfs files
 *   vnuma_mirror.c  mirroring of the map into the kernel's cpu->node state
 *   vnuma_mem.c     counted allocations (the unload leak check)
 *   vnuma_map.c     pure blob parser and page layout (also built in user space)
 */
#ifndef VNUMA_H
#define VNUMA_H

#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "vnuma_map.h"

struct virtio_device;
struct virtqueue;

struct vnuma {
	struct virtio_device *vdev;
	/* probe holds one reference, each open file one; the last put frees */
	struct kref ref;

	/* Fixed for the device's lifetime (config space, checked at probe). */
	struct vnuma_map_ctx limits; /* held_version unused here */

	/*
	 * Update path.  The queue callback and config_changed (atomic
	 * context) only queue the work; @stop, under @stop_lock, keeps them
	 * from queueing during teardown.  Only the work touches @vq, @buf,
	 * @sg, @posted and @next (and probe/remove/freeze/restore once the
	 * work is stopped).
	 */
	struct virtqueue *vq;
	struct workqueue_struct *wq;
	struct delayed_work update_work;
	spinlock_t stop_lock;
	bool stop;
	bool posted; /* @buf is in the virtqueue, the device may write it */
	void *buf; /* max_map_len bytes, kvmalloc'd: what the device fills */
	struct scatterlist *sg; /* [nr_sg] pages of @buf */
	unsigned int nr_sg;
	unsigned int bad_streak; /* rejects and duplicates since the last accepted map: backoff */
	struct vnuma_map *next;
	struct vnuma_map *spare; /* becomes next when the first map is accepted */
	u16 *gnode_next; /* [VIRTIO_NUMA_MAX_VCPUS], nodes for next */

	/* Published state; @lock serialises the writer against readers. */
	struct mutex lock;
	struct vnuma_map *cur; /* NULL until a map was accepted */
	u64 version; /* cur->version or 0; READ_ONCE for poll */
	u64 updates;
	u64 rejects;
	bool mirrored;
	u16 *gnode_of_vcpu; /* [VIRTIO_NUMA_MAX_VCPUS], the kernel node of each entry's CPU */
	void *page; /* XPV_PAGE_SIZE, vmalloc_user, mmap()ed by readers */
	size_t page_used; /* bytes of @page the last layout used; zero beyond */
	bool dead; /* the device is gone; files only see EPOLLHUP/-ENODEV */
	wait_queue_head_t waitq;

	struct miscdevice misc;
};

/* vnuma_mem.c */
void *vnuma_kvzalloc(size_t size);
void vnuma_kvfree(const void *p);
void *vnuma_vmalloc_user(size_t size);
void vnuma_vfree(const void *p);
void vnuma_mem_report(void);

/* vnuma_dev.c */
int vnuma_dev_register(struct vnuma *vn);
void vnuma_dev_unregister(struct vnuma *vn);
void vnuma_page_write(struct vnuma *vn);
void vnuma_dev_notify(struct vnuma *vn, bool new_map, u64 version);
void vnuma_release(struct kref *ref);

/* vnuma_mirror.c */
int vnuma_mirror_init(void);
void vnuma_mirror_exit(void);
/* Returns true if the kernel state now mirrors @m; fills gnode_of_vcpu[]
 * (the node of the guest CPU each vCPU entry names, by arch_id). */
bool vnuma_mirror_apply(const struct vnuma_map *m, u16 *gnode_of_vcpu);

#endif /* VNUMA_H */
