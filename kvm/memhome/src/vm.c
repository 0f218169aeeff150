// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "memhome.h"
#include "qmp.h"
#include "ratelimit.h"
#include "regions.h"

struct mh_vm {
	struct mh_vm_opts o;
	char name[MH_NAME_MAX];
	struct mh_region *regions;
	struct mh_region_state *rstate;
	int nr_regions;
	struct mh_engine eng;
	struct mh_bucket bucket;
	mh_event_fn ev_fn;
	void *ev_arg;

	uint64_t start_ns, last_pass_ns, measured_ns;
	bool measured, requested, exited;

	/* the pass under way */
	bool active;
	int cur_region;
	uint64_t cursor;
	uint64_t pass_moved, pass_failed, cpu_window_ns, cpu_used_ns;

	struct mh_vm_stats st;
};

void mh_vm_opts_init(struct mh_vm_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->default_home = -1;
	o->min_region_size = 64ull << 20;
	o->auto_detect = true;
	o->policy.kind = MH_POLICY_OFF;
	o->policy.period_ns = 900ull * 1000000000ull;
	o->policy.threshold_bytes = 500ull << 20;
	o->policy.scan_interval_ns = 10ull * 1000000000ull;
	o->policy.min_gap_ns = 60ull * 1000000000ull;
	o->rate_bytes_per_s = 256ull << 20;
	o->cpu_budget_ppm = 250000;
	o->batch_pages = 1024;
	o->slice_ns = 50ull * 1000000;
	o->backoff_base_ns = 60ull * 1000000000ull;
	o->backoff_max_fails = 4;
	o->proc_root = "/proc";
}

static uint64_t now_ns(const struct mh_vm *vm)
{
	return vm->o.ops->now_ns ? vm->o.ops->now_ns(vm->o.ops_ctx) : mh_clock_now_ns();
}

static uint64_t cpu_ns(const struct mh_vm *vm)
{
	return vm->o.ops->cpu_ns ? vm->o.ops->cpu_ns(vm->o.ops_ctx) : mh_clock_cpu_ns();
}

static void emit(struct mh_vm *vm, enum mh_event_kind kind, uint64_t t, const char *reason,
		 uint64_t moved, uint64_t failed)
{
	struct mh_event ev = {
		.kind = kind,
		.t_ns = t > vm->start_ns ? t - vm->start_ns : 0,
		.reason = reason,
		.moved_bytes = moved,
		.failed_pages = failed,
	};

	if (vm->ev_fn)
		vm->ev_fn(vm, &ev, vm->ev_arg);
}

static int validate(const struct mh_vm_opts *o, struct xpv_error **err)
{
	if (o->pid <= 0)
		return xpv_error_set(err, EINVAL, "pid %d: must be positive", o->pid);
	if (o->batch_pages == 0 || o->batch_pages > 65536)
		return xpv_error_set(err, EINVAL, "batch %u: must be 1..65536 pages",
				     o->batch_pages);
	if (o->policy.kind == MH_POLICY_PERIODIC && o->policy.period_ns == 0)
		return xpv_error_set(err, EINVAL, "period: must be positive");
	if (o->policy.scan_interval_ns == 0)
		return xpv_error_set(err, EINVAL, "scan interval: must be positive");
	if (o->cpu_budget_ppm > 1000000)
		return xpv_error_set(err, EINVAL, "cpu budget %u ppm: at most one CPU",
				     o->cpu_budget_ppm);
	if (o->slice_ns == 0)
		return xpv_error_set(err, EINVAL, "slice: must be positive");
	for (int i = 0; i < o->nr_specs; i++) {
		const struct mh_region_spec *s = &o->specs[i];

		if (s->home < 0 || s->home >= MH_MAX_NODES)
			return xpv_error_set(err, EINVAL, "region %d: home node %d out of range", i,
					     s->home);
		if (!s->memdev[0] && s->end <= s->start)
			return xpv_error_set(err, EINVAL, "region %d: empty address range", i);
	}
	if (o->default_home >= MH_MAX_NODES)
		return xpv_error_set(err, EINVAL, "home node %d out of range", o->default_home);
	return 0;
}

static int load_memdevs(const char *path, int timeout_ms, struct mh_memdev **md, int *n,
			struct xpv_error **err)
{
	struct mh_qmp *q;
	json_t *ret = NULL;
	int rc;

	rc = mh_qmp_open(path, timeout_ms ? timeout_ms : 5000, &q, err);
	if (rc)
		return rc;
	rc = mh_qmp_execute(q, "query-memdev", NULL, &ret, err);
	mh_qmp_close(q);
	if (rc)
		return rc;
	rc = mh_memdev_parse(ret, md, n, err);
	json_decref(ret);
	return rc;
}

int mh_vm_new(const struct mh_vm_opts *opts, struct mh_vm **out, struct xpv_error **err)
{
	struct mh_memdev *md = NULL;
	int nr_md = 0, rc;
	uint64_t max_ps = 4096;
	struct mh_vm *vm;

	rc = validate(opts, err);
	if (rc)
		return rc;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return xpv_error_set(err, ENOMEM, "vm");
	vm->o = *opts;
	if (!vm->o.ops)
		vm->o.ops = &mh_pages_syscall;
	if (!vm->o.proc_root)
		vm->o.proc_root = "/proc";
	snprintf(vm->name, sizeof(vm->name), "%s", opts->name ? opts->name : "");
	if (!vm->name[0])
		snprintf(vm->name, sizeof(vm->name), "pid%d", opts->pid);
	vm->o.name = vm->name;
	if (opts->qmp_path) {
		rc = load_memdevs(opts->qmp_path, opts->qmp_timeout_ms, &md, &nr_md, err);
		if (rc)
			goto fail;
	}
	rc = mh_regions_discover(&vm->o, md ? md : opts->memdevs, md ? nr_md : opts->nr_memdevs,
				 &vm->regions, &vm->nr_regions, err);
	free(md);
	/* not owned past this point */
	vm->o.specs = NULL;
	vm->o.nr_specs = 0;
	vm->o.qmp_path = NULL;
	vm->o.memdevs = NULL;
	vm->o.nr_memdevs = 0;
	if (rc)
		goto fail;
	if (vm->nr_regions == 0) {
		rc = xpv_error_set(err, ENOENT,
				   "no guest RAM found in pid %d (give --qmp, --region, or a "
				   "smaller --min-size than %" PRIu64 ")",
				   opts->pid, opts->min_region_size);
		goto fail;
	}
	for (int i = 0; i < vm->nr_regions; i++) {
		struct mh_region *r = &vm->regions[i];

		if (r->home < 0 && opts->policy.kind != MH_POLICY_OFF) {
			rc = xpv_error_set(err, EINVAL,
					   "region %s (policy %s) has no home node: give --home or "
					   "--region",
					   r->name, r->policy);
			goto fail;
		}
		if (r->home >= 0 && vm->o.ops == &mh_pages_syscall && numa_available() >= 0 &&
		    !numa_bitmask_isbitset(numa_all_nodes_ptr, r->home)) {
			rc = xpv_error_set(err, EINVAL, "region %s: home node %d is not online",
					   r->name, r->home);
			goto fail;
		}
		if (r->page_size > max_ps)
			max_ps = r->page_size;
	}
	vm->rstate = calloc(vm->nr_regions, sizeof(*vm->rstate));
	if (!vm->rstate) {
		rc = xpv_error_set(err, ENOMEM, "vm");
		goto fail;
	}
	for (int i = 0; i < vm->nr_regions; i++) {
		rc = mh_region_state_init(&vm->rstate[i], &vm->regions[i], err);
		if (rc)
			goto fail;
	}
	rc = mh_engine_init(&vm->eng, vm->o.ops, vm->o.ops_ctx, opts->pid, vm->o.proc_root,
			    opts->batch_pages, err);
	if (rc)
		goto fail;
	vm->eng.backoff_base_ns = opts->backoff_base_ns;
	vm->eng.max_fails = opts->backoff_max_fails;
	vm->start_ns = now_ns(vm);
	/* a quarter second of rate as burst, but never less than one page */
	mh_bucket_init(&vm->bucket, opts->rate_bytes_per_s,
		       opts->rate_bytes_per_s / 4 > max_ps ? opts->rate_bytes_per_s / 4 : max_ps,
		       vm->start_ns);
	*out = vm;
	return 0;
fail:
	xpv_error_wrap(err, "vm pid %d", opts->pid);
	mh_vm_free(vm);
	return rc;
}

void mh_vm_free(struct mh_vm *vm)
{
	if (!vm)
		return;
	for (int i = 0; vm->rstate && i < vm->nr_regions; i++)
		mh_region_state_fini(&vm->rstate[i]);
	free(vm->rstate);
	free(vm->regions);
	mh_engine_fini(&vm->eng);
	free(vm);
}

void mh_vm_set_event_fn(struct mh_vm *vm, mh_event_fn fn, void *arg)
{
	vm->ev_fn = fn;
	vm->ev_arg = arg;
}

static int gone(struct mh_vm *vm, uint64_t t)
{
	if (!vm->exited) {
		vm->exited = true;
		vm->active = false;
		emit(vm, MH_EV_EXITED, t, "process exited", vm->pass_moved, vm->pass_failed);
	}
	return -ESRCH;
}

int mh_vm_measure(struct mh_vm *vm, struct xpv_error **err)
{
	uint64_t t0 = now_ns(vm), t1;
	int rc;

	if (vm->exited)
		return xpv_error_set(err, ESRCH, "process %d exited", vm->o.pid);
	rc = mh_regions_measure(vm->o.proc_root, vm->o.pid, vm->regions, vm->nr_regions, err);
	t1 = now_ns(vm);
	vm->st.scan_ns_total += t1 - t0;
	if (rc == -ESRCH)
		return gone(vm, t1);
	if (rc)
		return rc;
	vm->measured = true;
	vm->measured_ns = t1;
	emit(vm, MH_EV_SAMPLE, t1, NULL, 0, 0);
	return 0;
}

int mh_vm_measure_exact(struct mh_vm *vm, uint32_t stride, struct xpv_error **err)
{
	for (int i = 0; i < vm->nr_regions; i++) {
		struct mh_region *r = &vm->regions[i];
		uint64_t nb[MH_MAX_NODES] = {0}, other = 0;
		int rc = mh_engine_query(&vm->eng, r, stride, nb, &other, err);

		if (rc == -ESRCH)
			return gone(vm, now_ns(vm));
		if (rc)
			return xpv_error_wrap(err, "region %s", r->name);
		memcpy(r->node_bytes, nb, sizeof(nb));
		r->other_node_bytes = other;
		r->resident_bytes = other;
		for (int k = 0; k < MH_MAX_NODES; k++)
			r->resident_bytes += nb[k];
		r->remote_bytes = r->home >= 0 ? r->resident_bytes - nb[r->home] : 0;
	}
	vm->measured = true;
	vm->measured_ns = now_ns(vm);
	return 0;
}

static uint64_t unmovable_bytes(struct mh_vm *vm, uint64_t now)
{
	uint64_t b = 0, bo = 0, gu = 0, gub = 0;

	for (int i = 0; i < vm->nr_regions; i++)
		b += mh_region_state_unmovable_bytes(&vm->rstate[i], &vm->regions[i], now, &bo, &gu,
						     &gub);
	vm->st.backoff_ranges = bo;
	vm->st.given_up_ranges = gu;
	vm->st.given_up_bytes = gub;
	return b;
}

static uint64_t total_remote(const struct mh_vm *vm)
{
	uint64_t s = 0;

	for (int i = 0; i < vm->nr_regions; i++)
		s += vm->regions[i].remote_bytes;
	return s;
}

static void start_pass(struct mh_vm *vm, uint64_t t, const char *reason)
{
	vm->active = true;
	vm->requested = false;
	vm->eng.pass_id++;
	vm->cur_region = 0;
	vm->cursor = vm->regions[0].start;
	vm->pass_moved = vm->pass_failed = 0;
	vm->cpu_window_ns = t;
	vm->cpu_used_ns = 0;
	vm->last_pass_ns = t;
	emit(vm, MH_EV_PASS_START, t, reason, 0, 0);
}

/* Runs batches until the pass ends or a limit says stop; *next_ns = when to resume. */
static int run_slice(struct mh_vm *vm, uint64_t *next_ns, struct xpv_error **err)
{
	uint64_t t0 = now_ns(vm), t = t0, moved0 = vm->pass_moved, failed0 = vm->pass_failed;

	while (vm->active) {
		struct mh_region *r = &vm->regions[vm->cur_region];
		struct mh_batch_result res;
		uint64_t avail, c0, na, maxmove;
		int rc;

		t = now_ns(vm);
		if (t - t0 >= vm->o.slice_ns) {
			*next_ns = t;
			break;
		}
		na = mh_cpu_next_allowed(vm->cpu_window_ns, vm->cpu_used_ns, vm->o.cpu_budget_ppm);
		if (na > t) {
			*next_ns = na;
			break;
		}
		avail = mh_bucket_avail(&vm->bucket, t);
		maxmove = avail / r->page_size;
		if (maxmove == 0) {
			*next_ns =
				mh_bucket_ready_at(&vm->bucket, r->page_size * vm->o.batch_pages);
			break;
		}
		if (r->home < 0) {
			res.region_done = true;
			res.next_cursor = r->end;
			res.moved_pages = res.failed_pages = 0;
		} else {
			c0 = cpu_ns(vm);
			rc = mh_engine_batch(&vm->eng, r, &vm->rstate[vm->cur_region], vm->cursor,
					     t, maxmove, &res, err);
			vm->cpu_used_ns += cpu_ns(vm) - c0;
			vm->st.migrate_cpu_ns_total += cpu_ns(vm) - c0;
			if (rc == -ESRCH)
				return gone(vm, now_ns(vm));
			if (rc)
				return xpv_error_wrap(err, "region %s", r->name);
		}
		mh_bucket_spend(&vm->bucket, res.moved_pages * r->page_size);
		vm->pass_moved += res.moved_pages * r->page_size;
		vm->pass_failed += res.failed_pages;
		vm->st.moved_bytes_total += res.moved_pages * r->page_size;
		vm->cursor = res.next_cursor;
		if (res.region_done) {
			if (++vm->cur_region == vm->nr_regions) {
				vm->active = false;
				break;
			}
			vm->cursor = vm->regions[vm->cur_region].start;
		}
	}
	if (vm->pass_moved != moved0 || vm->pass_failed != failed0)
		emit(vm, MH_EV_PROGRESS, now_ns(vm), NULL, vm->pass_moved - moved0,
		     vm->pass_failed - failed0);
	if (!vm->active) {
		vm->st.passes++;
		emit(vm, MH_EV_PASS_END, now_ns(vm), NULL, vm->pass_moved, vm->pass_failed);
		*next_ns = now_ns(vm);
		/* measure again so the next decision sees the repaired layout */
		vm->measured = false;
	}
	return 0;
}

int mh_vm_tick(struct mh_vm *vm, uint64_t now, uint64_t *next_ns, struct xpv_error **err)
{
	if (vm->exited)
		return xpv_error_set(err, ESRCH, "process %d exited", vm->o.pid);
	/* measure → decide → act, at most a few rounds per tick */
	for (int round = 0; round < 4; round++) {
		struct mh_policy_input in = {
			.now_ns = now,
			.start_ns = vm->start_ns,
			.last_pass_ns = vm->last_pass_ns,
			.measured = vm->measured,
			.measured_ns = vm->measured_ns,
			.remote_bytes = total_remote(vm),
			.unmovable_bytes = unmovable_bytes(vm, now),
			.pass_active = vm->active,
			.pass_requested = vm->requested,
		};
		struct mh_decision d = mh_policy_decide(&vm->o.policy, &in);
		int rc;

		switch (d.action) {
		case MH_ACT_NONE:
			*next_ns = d.next_ns;
			return 0;
		case MH_ACT_MEASURE:
			rc = mh_vm_measure(vm, err);
			if (rc)
				return rc;
			now = vm->measured_ns > now ? vm->measured_ns : now;
			break;
		case MH_ACT_REPATRIATE:
			if (!vm->active)
				start_pass(vm, now, d.reason);
			rc = run_slice(vm, next_ns, err);
			if (rc)
				return rc;
			if (vm->active)
				return 0;
			now = now_ns(vm);
			break;
		}
	}
	*next_ns = now;
	return 0;
}

void mh_vm_request_pass(struct mh_vm *vm)
{
	vm->requested = true;
}

bool mh_vm_pass_active(const struct mh_vm *vm)
{
	return vm->active;
}

int mh_vm_nr_regions(const struct mh_vm *vm)
{
	return vm->nr_regions;
}

const struct mh_region *mh_vm_region(const struct mh_vm *vm, int i)
{
	return i >= 0 && i < vm->nr_regions ? &vm->regions[i] : NULL;
}

const char *mh_vm_name(const struct mh_vm *vm)
{
	return vm->name;
}

int mh_vm_pid(const struct mh_vm *vm)
{
	return vm->o.pid;
}

void mh_vm_stats(const struct mh_vm *vm, struct mh_vm_stats *st)
{
	*st = vm->st;
	memcpy(st->unmovable_pages, vm->eng.unmovable, sizeof(st->unmovable_pages));
	st->remote_bytes = total_remote(vm);
	st->resident_bytes = 0;
	for (int i = 0; i < vm->nr_regions; i++)
		st->resident_bytes += vm->regions[i].resident_bytes;
	st->exited = vm->exited;
}

const char *mh_unmovable_name(enum mh_unmovable r)
{
	static const char *const names[] = {"busy", "shared", "fault", "nomem", "other"};

	return r < MH_UNMOV__COUNT ? names[r] : "?";
}

const char *mh_home_source_name(enum mh_home_source s)
{
	static const char *const names[] = {"none", "config", "memdev", "numa_maps", "default"};

	return s <= MH_HOME_DEFAULT ? names[s] : "?";
}

void mh_vm_metrics(const struct mh_vm *vm, mh_metric_fn fn, void *arg)
{
	struct mh_vm_stats st;

	mh_vm_stats(vm, &st);
	for (int i = 0; i < vm->nr_regions; i++) {
		const struct mh_region *r = &vm->regions[i];

		for (int k = 0; k < MH_MAX_NODES; k++)
			if (r->node_bytes[k] || k == r->home)
				fn("xpv_memhome_region_bytes", "guest RAM bytes per host node",
				   "region", r->name, k, (double)r->node_bytes[k], arg);
		fn("xpv_memhome_region_remote_bytes", "guest RAM bytes off the home node", "region",
		   r->name, -1, (double)r->remote_bytes, arg);
		fn("xpv_memhome_region_home_node", "home host node", "region", r->name, -1,
		   (double)r->home, arg);
	}
	fn("xpv_memhome_remote_bytes", "guest RAM bytes off their home node", NULL, NULL, -1,
	   (double)st.remote_bytes, arg);
	fn("xpv_memhome_moved_bytes_total", "bytes repatriated", NULL, NULL, -1,
	   (double)st.moved_bytes_total, arg);
	fn("xpv_memhome_passes_total", "repatriation passes completed", NULL, NULL, -1,
	   (double)st.passes, arg);
	for (int u = 0; u < MH_UNMOV__COUNT; u++)
		fn("xpv_memhome_unmovable_pages_total", "pages that would not move", "reason",
		   mh_unmovable_name(u), -1, (double)st.unmovable_pages[u], arg);
	fn("xpv_memhome_backoff_ranges", "page ranges waiting before a retry", NULL, NULL, -1,
	   (double)st.backoff_ranges, arg);
	fn("xpv_memhome_given_up_ranges", "page ranges no longer retried", NULL, NULL, -1,
	   (double)st.given_up_ranges, arg);
	fn("xpv_memhome_given_up_bytes", "remote bytes in ranges no longer retried", NULL, NULL, -1,
	   (double)st.given_up_bytes, arg);
	fn("xpv_memhome_scan_seconds_total", "time in numa_maps passes", NULL, NULL, -1,
	   st.scan_ns_total / 1e9, arg);
	fn("xpv_memhome_migrate_cpu_seconds_total", "CPU time in move_pages", NULL, NULL, -1,
	   st.migrate_cpu_ns_total / 1e9, arg);
	fn("xpv_memhome_exited", "1 once the process has exited", NULL, NULL, -1, st.exited ? 1 : 0,
	   arg);
}

void mh_vm_set_slice(struct mh_vm *vm, uint64_t slice_ns)
{
	vm->o.slice_ns = slice_ns ? slice_ns : 1;
}
