// SPDX-License-Identifier: GPL-2.0-or-later
#include "account.h"

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void account_params_default(struct acct_params *p)
{
	p->floor = 0.05;
	p->payback_periods = 10;
	p->burst_periods = 10;
	p->exempt_below = 0;
}

const char *account_state_name(enum acct_state s)
{
	switch (s) {
	case ACCT_UNDER:
		return "UNDER";
	case ACCT_OVER:
		return "OVER";
	default:
		return "UNGOVERNED";
	}
}

double account_llc_cap_act(const struct acct_sample *s)
{
	if (!s->base_cycles || s->freq_khz <= 0)
		return 0;
	return (double)s->llc_misses * s->freq_khz / (double)s->base_cycles;
}

void account_begin(struct acct_vm *vm)
{
	vm->llc_cap_act = 0;
	vm->charged = 0;
	vm->cpus_used = 0;
	vm->ipc = 0;
}

static double run_share(const struct acct_sample *s, uint64_t period_ns)
{
	double share = (double)s->run_ns / (double)period_ns;

	return share > 1 ? 1 : share;
}

double account_charge(const struct acct_sample *s, uint64_t period_ns)
{
	/*
	 * Not capped at 1: a sample's interval (between two reads) can be
	 * longer than period_ns (measured between two tick starts) when the
	 * tick is late or preempted mid-way.  Capping would drop the misses
	 * of that extra time from the charge, and a busy vCPU or cgroup would
	 * be undercharged on a loaded host.  Uncapped, the charges of
	 * successive periods add up to the misses counted.
	 */
	return period_ns ? account_llc_cap_act(s) * (double)s->run_ns / (double)period_ns : 0;
}

void account_add_vcpu(struct acct_vm *vm, const struct acct_sample *s, uint64_t period_ns)
{
	/* An unmeasured sample (ran, never on the PMU) is skipped whole: its
	 * CPU time must not count without its misses. */
	if (!period_ns || s->unmeasured)
		return;
	vm->llc_cap_act += account_llc_cap_act(s);
	vm->charged += account_charge(s, period_ns);
	vm->cpus_used += run_share(s, period_ns);
	if (s->cycles)
		vm->ipc = (double)s->instructions / (double)s->cycles;
}

void account_add_group(struct acct_vm *vm, const struct acct_sample *per_cpu, size_t n,
		       uint64_t period_ns)
{
	struct acct_sample sum = {0};
	double used = 0;

	if (!period_ns)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct acct_sample *s = &per_cpu[i];

		if (s->unmeasured)
			continue;
		vm->charged += account_charge(s, period_ns);
		used += run_share(s, period_ns);
		sum.llc_misses += s->llc_misses;
		sum.cycles += s->cycles;
		sum.instructions += s->instructions;
		/* base_cycles of different CPUs share one rate: summing them
		 * is the group's time base. */
		sum.base_cycles += s->base_cycles;
		if (s->freq_khz > 0)
			sum.freq_khz = s->freq_khz;
	}
	vm->cpus_used += used;
	vm->llc_cap_act += account_llc_cap_act(&sum) * (used > 1 ? used : 1);
	if (sum.cycles)
		vm->ipc = (double)sum.instructions / (double)sum.cycles;
}

double account_split_domains(const struct acct_sample *per_cpu, const int *domain, size_t n,
			     uint64_t period_ns, double *out, size_t ndom)
{
	double total = 0;

	for (size_t i = 0; i < n; i++) {
		double c = account_charge(&per_cpu[i], period_ns);

		total += c;
		if (domain[i] >= 0 && (size_t)domain[i] < ndom)
			out[domain[i]] += c;
	}
	return total;
}

void account_end(struct acct_vm *vm, const struct acct_params *p, unsigned nvcpus)
{
	double target, used;

	if (vm->permit < 0) {
		vm->state = ACCT_UNGOVERNED;
		vm->quota = 0;
		vm->cap = 1;
		return;
	}
	if (vm->llc_cap_act < p->exempt_below)
		vm->charged = 0;
	vm->quota += vm->permit - vm->charged;
	if (vm->quota > vm->permit * p->burst_periods)
		vm->quota = vm->permit * p->burst_periods;

	if (vm->quota >= 0) {
		vm->state = ACCT_UNDER;
		vm->cap = 1;
		return;
	}
	if (vm->state != ACCT_OVER)
		vm->punished++;
	vm->state = ACCT_OVER;
	vm->over_periods++;
	if (vm->charged <= 0 || !nvcpus)
		return; /* did not run: nothing to learn, keep the cap */
	/*
	 * Pollution scales with CPU time, so scale the CPU share by the
	 * ratio between what the VM may pollute this period (its permit
	 * minus a slice of its debt) and what it did pollute.
	 */
	target = vm->permit + vm->quota / p->payback_periods;
	if (target < 0)
		target = 0;
	used = vm->cpus_used / nvcpus;
	vm->cap = clamp(used * target / vm->charged, p->floor, 1);
}
