/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A VM's vhost workers, the threads that copy network packets into guest RX
 * buffers and so first-touch (place) guest pages.  Two kernel models:
 *   - up to Linux 6.3 a kernel thread `vhost-<tid>` (child of kthreadd, not
 *     in /proc/<qemu>/task), <tid> being the QEMU thread that called
 *     VHOST_SET_OWNER (Debian 12's 6.1);
 *   - from 6.4 (vhost_task) a thread of QEMU itself named `vhost-<tid>`.
 * Everything is read under a proc root, so tests use fake trees.
 */
#ifndef MEMHOME_VHOST_H
#define MEMHOME_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum mh_vhost_kind { MH_VHOST_KTHREAD, MH_VHOST_THREAD };

struct mh_vhost_worker {
	pid_t tid;
	pid_t owner; /* the <tid> of its name: QEMU's thread that owns the device */
	unsigned long long start_time; /* clock ticks after boot (/proc/TID/stat field 22) */
	int cpu; /* the CPU it last ran on (field 39) */
	enum mh_vhost_kind kind;
};

/* The fields of /proc/TID/stat that tell who a task is. */
struct mh_task_stat {
	char comm[32];
	pid_t ppid;
	unsigned long flags; /* PF_* */
	unsigned long long start_time;
	int cpu;
};

/* Parses one /proc/TID/stat line (comm may hold spaces and parentheses).
 * 0, or -1 when it is not one. */
int mh_task_stat_parse(const char *line, struct mh_task_stat *st);

/* True when running Linux before 6.4, where vhost workers are kernel threads
 * (release as uname -r prints it; NULL: this kernel). */
bool mh_vhost_kthread_model(const char *release);

/*
 * Every vhost kernel thread of the host: kernel threads (PF_KTHREAD, a
 * process calling itself `vhost-123` is none) whose parent is kthreadd and
 * whose name is `vhost-<digits>`.  One readdir of the proc root; shared by
 * all VMs of a scan.  *out is malloc'd (NULL when none).
 */
int mh_vhost_kthreads(const char *proc_root, struct mh_vhost_worker **out, size_t *n,
		      struct xpv_error **err);

/*
 * The vhost workers of process pid: its threads named `vhost-<tid>`, and of
 * kthreads (from mh_vhost_kthreads, may be NULL) those named after one of
 * its threads and started no earlier than that thread (a kthread of a dead
 * process whose pid was reused is not this one's).  *out is malloc'd.
 * -ESRCH when pid has no task directory.
 */
int mh_vhost_workers(const char *proc_root, int pid, const struct mh_vhost_worker *kthreads,
		     size_t n_kthreads, struct mh_vhost_worker **out, size_t *n,
		     struct xpv_error **err);

const char *mh_vhost_kind_name(enum mh_vhost_kind k);

#endif
