/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost workers kept on the CPUs of their VM's home node(s): a worker
 * first-touches the RX buffers the guest has not touched yet, so its node is
 * where those guest pages land (docs/xpvd.md, "vhost workers").
 *
 * Per worker (tid + start time, so a reused tid is another thread) the
 * original affinity is kept in memory before the first write; it is put
 * back when the worker leaves the VM's list, when homing stops for the VM
 * and when xpvd exits.  An affinity found different from what was written
 * was changed from outside (an operator, a cpuset change): it is adopted as
 * the original, as Kyoto adopts CPU limits, and the worker is pinned again.
 * Pure apart from the affinity calls, which go through ops (tests fake them).
 */
#ifndef XPV_HOMING_VHOST_H
#define XPV_HOMING_VHOST_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "vhost.h"

struct vhost_affinity_ops {
	int (*get)(pid_t tid, cpu_set_t *set); /* 0 or -errno */
	int (*set)(pid_t tid, const cpu_set_t *set);
	/* the start time of tid now, 0 when it is gone */
	unsigned long long (*start_time)(pid_t tid);
};

/* sched_{get,set}affinity, /proc/TID/stat */
extern const struct vhost_affinity_ops vhost_affinity_sched;

struct vhost_pin {
	struct mh_vhost_worker w;
	cpu_set_t orig; /* restored when released */
	cpu_set_t asked; /* the home CPUs of our last write */
	cpu_set_t wrote; /* what the kernel made of it (cpuset intersection) */
	bool held; /* orig is saved and wrote is ours; else refused, retried
		    * when the affinity changes */
};

struct homing_vhost {
	const struct vhost_affinity_ops *ops;
	size_t n;
	struct vhost_pin *pins;
	uint64_t pins_total; /* first pin of a worker */
	uint64_t repins_total; /* pinned again: outside change or new home */
	uint64_t adopted_total; /* outside changes adopted as the original */
	uint64_t restored_total; /* originals put back */
};

/*
 * Pins the current workers (w, n) to home; releases the pins of workers no
 * longer listed.  Returns the number of workers that could not be pinned
 * (err says why for the first), 0 when all are.
 */
int homing_vhost_sync(struct homing_vhost *v, const struct mh_vhost_worker *w, size_t n,
		      const cpu_set_t *home, struct xpv_error **err);

/* Restores every held worker that is still the same thread and still has
 * the affinity written (else the outside value stays); forgets all pins. */
void homing_vhost_release(struct homing_vhost *v);

#endif
