/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libmemhome: keep a QEMU process's guest RAM on its home host node.
 *
 * A VM (struct mh_vm) is a target pid plus its guest-RAM regions, each with a
 * home node. mh_vm_tick() measures placement (cheap numa_maps pass), asks the
 * pure policy (policy.h) whether to repatriate, and runs a bounded slice of a
 * batched move_pages() pass under a byte-rate limit and a CPU budget. It is
 * written to be an xpvd controller: init (mh_vm_new), tick, status, metrics,
 * shutdown (mh_vm_free). Nothing here exits or sleeps.
 */
#ifndef MEMHOME_H
#define MEMHOME_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "policy.h"
#include "pages.h"

/* Node ids are used as array indices up to this bound; larger ids are counted apart. */
#define MH_MAX_NODES 64
#define MH_NAME_MAX 64

enum mh_home_source {
	MH_HOME_NONE = 0,
	MH_HOME_CONFIG, /* --region / config file */
	MH_HOME_MEMDEV, /* QMP query-memdev host-nodes */
	MH_HOME_NUMA_MAPS, /* effective VMA policy bind:/prefer: */
	MH_HOME_DEFAULT, /* --home for regions with no better source */
};

enum mh_unmovable {
	MH_UNMOV_BUSY, /* -EBUSY: pinned (VFIO, zero-copy in flight), isolation failed */
	MH_UNMOV_ACCESS, /* -EACCES: mapped by several processes (vhost-user, KSM) */
	MH_UNMOV_FAULT, /* -EFAULT: zero page or gone */
	MH_UNMOV_NOMEM, /* -ENOMEM: home node full */
	MH_UNMOV_OTHER,
	MH_UNMOV__COUNT,
};

struct mh_region {
	char name[MH_NAME_MAX]; /* memdev id, or "anon@0x..." */
	uint64_t start, end; /* target's virtual addresses */
	int home; /* host node, -1 unknown */
	enum mh_home_source home_src;
	char policy[32]; /* effective VMA policy, from numa_maps */
	uint64_t page_size; /* kernelpagesize_kB * 1024 */
	uint64_t node_bytes[MH_MAX_NODES];
	uint64_t other_node_bytes; /* on nodes >= MH_MAX_NODES */
	uint64_t resident_bytes;
	uint64_t remote_bytes;
	bool hugetlb;
	bool shared; /* memfd/file backed: pages may be shared with other processes */
};

/* Configured home for an address range or a memdev id. */
struct mh_region_spec {
	char memdev[MH_NAME_MAX]; /* empty: use start/end */
	uint64_t start, end;
	int home;
};

struct mh_memdev; /* qmp.h */

struct mh_vm_opts {
	int pid;
	const char *name; /* label for metrics; default "pid<N>" */
	const char *qmp_path; /* optional QMP socket */
	int qmp_timeout_ms; /* budget of each QMP exchange; 0: 5000 */
	/* Memory backends known without QMP (xpvd: from libvirt's domain XML,
	 * whose QMP monitor belongs to libvirtd); used when qmp_path is NULL. */
	const struct mh_memdev *memdevs;
	int nr_memdevs;
	const struct mh_region_spec *specs;
	int nr_specs;
	int default_home; /* -1: none; applies to auto-detected regions */
	uint64_t min_region_size; /* auto-detection: smallest mapping taken as guest RAM */
	bool auto_detect; /* take large anonymous/memfd mappings as guest RAM */
	struct mh_policy policy;
	uint64_t rate_bytes_per_s; /* 0: unlimited */
	uint32_t cpu_budget_ppm; /* share of one CPU for migration, 0: unlimited */
	uint32_t batch_pages; /* pages per move_pages call */
	uint64_t slice_ns; /* longest run of one tick */
	uint64_t backoff_base_ns; /* first back-off of a failing range */
	uint32_t backoff_max_fails; /* after this many failed passes a range is given up */
	const struct mh_pages_ops *ops; /* NULL: the real move_pages */
	void *ops_ctx;
	const char *proc_root; /* "/proc" unless testing */
};

void mh_vm_opts_init(struct mh_vm_opts *o);

enum mh_event_kind {
	MH_EV_SAMPLE, /* a placement measurement */
	MH_EV_PASS_START, /* a repatriation pass begins */
	MH_EV_PROGRESS, /* one tick's worth of migration */
	MH_EV_PASS_END, /* pass complete */
	MH_EV_EXITED, /* target process gone */
};

struct mh_event {
	enum mh_event_kind kind;
	uint64_t t_ns; /* since mh_vm_new */
	const char *reason; /* policy's reason for a pass */
	uint64_t moved_bytes; /* in this tick (PROGRESS) or pass (PASS_END) */
	uint64_t failed_pages;
};

struct mh_vm;
typedef void (*mh_event_fn)(const struct mh_vm *vm, const struct mh_event *ev, void *arg);

struct mh_vm_stats {
	uint64_t passes;
	uint64_t moved_bytes_total;
	uint64_t unmovable_pages[MH_UNMOV__COUNT]; /* failures seen, per reason */
	uint64_t backoff_ranges; /* ranges currently waiting */
	uint64_t given_up_ranges; /* ranges no longer retried */
	uint64_t given_up_bytes; /* remote bytes in given-up ranges */
	uint64_t scan_ns_total; /* time in numa_maps passes */
	uint64_t migrate_cpu_ns_total; /* CPU time in move_pages */
	uint64_t remote_bytes; /* sum over regions, last measurement */
	uint64_t resident_bytes;
	bool exited;
};

int mh_vm_new(const struct mh_vm_opts *opts, struct mh_vm **out, struct xpv_error **err);
void mh_vm_free(struct mh_vm *vm);
void mh_vm_set_event_fn(struct mh_vm *vm, mh_event_fn fn, void *arg);

/*
 * Do what is due at now_ns (CLOCK_MONOTONIC) and set *next_ns to when the VM
 * wants its next tick. Returns 0, or -ESRCH once the target has exited (then
 * stats.exited is set and further ticks return -ESRCH), or another -errno.
 */
int mh_vm_tick(struct mh_vm *vm, uint64_t now_ns, uint64_t *next_ns, struct xpv_error **err);
/* The longest run of the next ticks (opts.slice_ns until changed): a caller
 * sharing one time budget among VMs hands each what is left. */
void mh_vm_set_slice(struct mh_vm *vm, uint64_t slice_ns);

/* Fresh numa_maps measurement of every region. */
int mh_vm_measure(struct mh_vm *vm, struct xpv_error **err);
/* Exact per-page placement (move_pages query) of every stride-th page. */
int mh_vm_measure_exact(struct mh_vm *vm, uint32_t stride, struct xpv_error **err);
/* Force a repatriation pass at the next tick (e.g. xpvctl). */
void mh_vm_request_pass(struct mh_vm *vm);
bool mh_vm_pass_active(const struct mh_vm *vm);

int mh_vm_nr_regions(const struct mh_vm *vm);
const struct mh_region *mh_vm_region(const struct mh_vm *vm, int i);
const char *mh_vm_name(const struct mh_vm *vm);
int mh_vm_pid(const struct mh_vm *vm);
void mh_vm_stats(const struct mh_vm *vm, struct mh_vm_stats *st);

/* Metrics for xpvd: one call per sample; label may be NULL. */
typedef void (*mh_metric_fn)(const char *name, const char *help, const char *label_key,
			     const char *label, int node, double value, void *arg);
void mh_vm_metrics(const struct mh_vm *vm, mh_metric_fn fn, void *arg);

const char *mh_unmovable_name(enum mh_unmovable r);
const char *mh_home_source_name(enum mh_home_source s);

#endif
