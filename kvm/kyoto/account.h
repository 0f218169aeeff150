/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kyoto accounting (thesis ch. 3.2), pure: no I/O, no clocks.
 *
 * Per vCPU and period:  llc_cap_act = llc_misses * freq_khz / base_cycles
 * (eq. 3.1), i.e. LLC misses per millisecond of unhalted time, where
 * base_cycles ticks at freq_khz (reference cycles at the TSC rate, or
 * nanoseconds of counted time with freq_khz = 1e6).  A VM's llc_cap_act is
 * the sum over its vCPUs.
 *
 * The quota is credited the permit (llc_cap) and debited what the VM
 * actually polluted in the period: each vCPU's llc_cap_act weighted by the
 * share of the period it ran.  A vCPU that is throttled half of the time
 * therefore pays half - the same thing KS4Xen gets by not scheduling an
 * OVER VM at all.  Without that weighting CPU throttling could never pay a
 * debt back.
 */
#ifndef XPV_ACCOUNT_H
#define XPV_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acct_sample {
	uint64_t llc_misses; /* scaled for multiplexing */
	uint64_t base_cycles; /* frequency-independent unhalted time base */
	double freq_khz; /* rate of base_cycles */
	uint64_t cycles; /* unhalted core cycles (informational) */
	uint64_t instructions;
	uint64_t run_ns; /* on-CPU time in the period */
	/* The thread ran but its counters never did (multiplexed out for the
	 * whole period, time_running == 0): the counts are unknown, not 0, so
	 * the sample is left out of the accounting (no charge, no CPU). */
	bool unmeasured;
};

struct acct_params {
	double floor; /* minimum CPU cap per vCPU, fraction of a CPU */
	double payback_periods; /* periods over which a debt is paid back */
	double burst_periods; /* credit saved is capped at permit * this */
	double exempt_below; /* llc_cap_act below this is not charged */
};

enum acct_state { ACCT_UNGOVERNED, ACCT_UNDER, ACCT_OVER };

struct acct_vm {
	double permit; /* llc_cap; < 0: no permit, measured only */
	double quota; /* pollution_quota */
	double cap; /* CPU cap per vCPU, fraction of one CPU; 1 = none */
	enum acct_state state;
	uint64_t punished; /* transitions to OVER */
	uint64_t over_periods;
	/* last period */
	double llc_cap_act; /* sum of per-vCPU eq. 3.1 */
	double charged; /* what was debited */
	double cpus_used; /* average CPUs used in the period */
	double ipc;
};

/* eq. 3.1 for one vCPU; 0 when it did not run. */
double account_llc_cap_act(const struct acct_sample *s);
/* Fold one vCPU sample of a period of period_ns into the VM sums. */
void account_add_vcpu(struct acct_vm *vm, const struct acct_sample *s, uint64_t period_ns);
/* What one sample costs its VM in a period: eq. 3.1 weighted by the share
 * of the period it ran, i.e. misses per ms of the period (not capped at one
 * period: see account.c). */
double account_charge(const struct acct_sample *s, uint64_t period_ns);
/*
 * Fold one cgroup's per-CPU samples of a period (counters per cgroup and
 * CPU) into the VM sums.  charged and cpus_used are the exact sums over
 * the CPUs, the same as over the group's threads.  llc_cap_act is the
 * group's misses per ms of its CPU time times max(1, CPUs it used): the
 * per-thread sum of eq. 3.1 when its threads ran alike (always for
 * libvirt's one-vCPU groups).
 */
void account_add_group(struct acct_vm *vm, const struct acct_sample *per_cpu, size_t n,
		       uint64_t period_ns);
/*
 * Split a period's charge by LLC domain: out[domain[i]] += the charge of
 * per_cpu[i].  Pollution only hurts VMs sharing the LLC, so this is what a
 * domain's neighbours suffer.  Samples whose domain is < 0 or >= ndom (a
 * CPU the topology does not have) are left out of out but still counted in
 * the returned total, so the caller can tell.
 */
double account_split_domains(const struct acct_sample *per_cpu, const int *domain, size_t n,
			     uint64_t period_ns, double *out, size_t ndom);
/* Reset the per-period sums before adding vCPUs. */
void account_begin(struct acct_vm *vm);
/* Close the period: update quota, state and cap. */
void account_end(struct acct_vm *vm, const struct acct_params *p, unsigned nvcpus);
void account_params_default(struct acct_params *p);
const char *account_state_name(enum acct_state s);

#endif
