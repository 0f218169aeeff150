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

void account_add_vcpu(struct acct_vm *vm, const struct acct_sample *s, uint64_t period_ns)
{
	double act = account_llc_cap_act(s);
	double share;

	if (!period_ns || s->unmeasured)
		return;
	share = (double)s->run_ns / (double)period_ns;
	if (share > 1)
		share = 1;
	vm->llc_cap_act += act;
	vm->charged += act * share;
	vm->cpus_used += share;
	if (s->cycles)
		vm->ipc = (double)s->instructions / (double)s->cycles;
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
