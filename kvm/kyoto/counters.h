/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-thread hardware counters: one perf event group per vCPU thread
 * (pid = TID, cpu = -1): LLC misses (leader), unhalted core cycles,
 * reference cycles when the CPU has them, instructions.  Events are encoded
 * with libpfm4 when it has a table for the CPU, from raw encodings when it
 * does not (AMD Zen 5 with libpfm 4.13), else with the kernel's generic
 * events.  exclude_guest and exclude_host are forced to 0 after encoding:
 * libpfm excludes guest mode by default, which would hide everything a
 * vCPU does inside the guest.
 *
 * Two ways to attach them (kyoto.counters.mode):
 *  - "thread": one group per vCPU thread, read once per thread and period;
 *  - "cgroup": one group per (VM cgroup, online CPU), opened with
 *    PERF_FLAG_PID_CGROUP.  File descriptors and reads scale with
 *    cgroups x CPUs instead of threads, and the per-CPU counts give the
 *    split by LLC domain for free.  The kernel counts a cgroup's event only
 *    while one of its tasks runs on that CPU, so time_enabled is again the
 *    run time and the accounting is the same.
 * "auto" (the default) lets kyoto.c choose per VM, the cheaper of the two
 * where perf_event has a cgroup hierarchy (v2, v1 perf_event, or the
 * unified one of a hybrid v1 host), per thread where it has none.
 *
 * The "synthetic" source replaces the LLC-miss counter by a per-VM rate
 * read from a file (misses per ms of CPU time) and takes CPU time from
 * /proc/TID/schedstat; it lets the controller run on real threads and
 * cgroups where the machine has no PMU (tests, CI).
 */
#ifndef XPV_COUNTERS_H
#define XPV_COUNTERS_H

#include <jansson.h>
#include <sys/types.h>

#include "account.h"
#include "error.h"

/* CTR_SOFTWARE: the perf plumbing (groups, reads, scaling) with software
 * events standing in (page faults as "misses", task-clock as time base);
 * for testing it on machines without a PMU, meaningless for Kyoto. */
enum counters_source { CTR_PERF, CTR_SYNTHETIC, CTR_SOFTWARE };

enum counters_mode { CTR_MODE_AUTO, CTR_MODE_THREAD, CTR_MODE_CGROUP };

struct counters_opts {
	enum counters_source source;
	const char *synthetic_dir;
	double freq_khz; /* 0: detect (TSC rate) */
	enum counters_mode mode;
	const char *cg_mount; /* cpu controller directory, for mode cgroup */
};

struct counters;
struct thread_ctr;
struct cgroup_ctr;

int counters_init(struct counters **c, const struct counters_opts *o, struct xpv_error **err);
void counters_free(struct counters *c);
int counters_open(struct counters *c, pid_t tid, const char *vm, struct thread_ctr **t,
		  struct xpv_error **err);
/* Counts since the previous read (or the open). */
int counters_read(struct counters *c, struct thread_ctr *t, struct acct_sample *delta,
		  struct xpv_error **err);
void counters_close(struct thread_ctr *t);
/* The mode in effect (auto resolved): CTR_MODE_THREAD or CTR_MODE_CGROUP. */
enum counters_mode counters_mode(const struct counters *c);
/* Mode cgroup: the online CPUs a cgroup group counts on. */
unsigned counters_n_cpus(const struct counters *c);
/* Mode cgroup: one group per online CPU on the cgroup directory dir (under
 * the cpu controller's mount). */
int counters_open_cgroup(struct counters *c, const char *dir, struct cgroup_ctr **g,
			 struct xpv_error **err);
/* Counts since the previous read, one sample per CPU: delta[i] on CPU
 * cpu[i], at most max.  Returns the number of samples or -1. */
int counters_read_cgroup(struct counters *c, struct cgroup_ctr *g, struct acct_sample *delta,
			 unsigned *cpu, unsigned max, struct xpv_error **err);
void counters_close_cgroup(struct cgroup_ctr *g);
/* {"source":..., "pmu":..., "time_base":..., "events":[{role,name,type,config,exclude_guest}]} */
json_t *counters_describe(const struct counters *c);
/* CPU time of a thread, from /proc/TID/schedstat. */
int counters_run_ns(pid_t tid, uint64_t *ns, struct xpv_error **err);
/* An event table entry chosen for a libpfm PMU name, NULL if none. */
const char *counters_llc_event_for_pmu(const char *pmu);

#endif
