// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Kyoto controller: LLC pollution permits paid with CPU time.
 * Measures every vCPU thread, or every VM cgroup on every CPU (counters.c;
 * the per-CPU counts are also split by LLC domain, topology.c), runs the
 * thesis' accounting
 * (account.c) per VM and turns the resulting CPU cap into CFS bandwidth
 * limits on the VM's cgroups (enforce.c), saving the original values in
 * the state file before the first write (state.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "account.h"
#include "controller.h"
#include "counters.h"
#include "libvirt_meta.h"
#include "libvirt_session.h"
#include "prom.h"
#include "topology.h"
#include "util.h"

struct kthread {
	pid_t tid;
	uint64_t start; /* start time: the tid alone may be reused */
	struct thread_ctr *ctr;
	int seen;
};

/*
 * One cgroup xpvd may throttle.  Each period it is reconciled: desired
 * (from the accounting), actual (read back) and original (the state file).
 * An actual value other than the one xpvd wrote is an outside change
 * (virsh schedinfo, systemd): it becomes the new original, so restoring
 * never brings back a stale value.
 */
struct kgroup {
	char *dir;
	bool held; /* xpvd's value is in the cgroup, the original in the state */
	struct cfs_bw wrote; /* what xpvd last wrote, while held */
	struct cgroup_ctr *ctr; /* counters mode cgroup */
};

struct kvm {
	char *name;
	enum xpv_vm_kind kind;
	struct acct_vm acct;
	const char *permit_src;
	size_t n_threads;
	struct kthread *threads;
	size_t n_groups;
	struct kgroup *groups;
	unsigned nvcpus;
	char *degraded;
	int domid; /* libvirt's domain id, -1 for plain groups */
	char *domain; /* libvirt's name for it (NULL until the session knows) */
	char uuid[XPV_UUID_LEN];
	uint64_t meta_gen; /* session generation of the metadata last read */
	double meta_permit; /* < 0: none */
	int seen;
	size_t n_tids; /* threads in its groups, as discovered */
	double events_total; /* charged x period: events charged since start */
	double *dom_charged; /* [n_dom] last period, counters mode cgroup */
	double *dom_events; /* [n_dom] events charged since start */
	bool by_group; /* counted per (cgroup, CPU), else per thread */
	bool groups_failed; /* mode auto: perf cannot see its cgroups */
};

struct kyoto {
	const struct xpv_host *host;
	bool enabled; /* "kyoto": {"enabled": false} turns the controller off */
	struct counters *ctr;
	struct acct_params params;
	double default_permit; /* < 0: none */
	json_t *cfg_permits; /* name -> number */
	json_t *live_permits; /* name -> number (or null = no permit) */
	int64_t throttle_period_us; /* 0: keep the group's CFS period */
	bool use_metadata;
	char *libvirt_uri;
	struct libvirt_session *lv; /* shared with homing; NULL without libvirt */
	size_t n;
	struct kvm *vms;
	uint64_t ticks;
	uint64_t adopted; /* outside changes adopted as the original */
	/* CPU time (this thread's, not wall) spent in kyoto_tick: what
	 * monitoring and accounting cost, without discovery and wake-ups */
	uint64_t tick_cpu_ns;
	/* mode auto with per-cgroup counting available: choose per VM */
	bool adaptive;
	struct topology *topo;
	size_t n_dom;
	double *dom_charged; /* [n_dom] all VMs, last period */
	/* counters mode cgroup: per-CPU samples of one group, and the LLC
	 * domain of each of the counters' CPUs */
	struct acct_sample *cpu_sample;
	unsigned *cpu_id;
	int *cpu_dom;
};

static void vlog(struct kvm *vm, const char *what, struct xpv_error **e)
{
	/* Log a VM's error once per kind of problem, keep it for status. */
	char *msg = NULL;

	if (asprintf(&msg, "%s: %s%s%s", what, (*e)->msg, (*e)->status ? ": " : "",
		     (*e)->status ? strerror((*e)->status) : "") < 0)
		msg = NULL;
	if (msg && (!vm->degraded || strcmp(vm->degraded, msg)))
		fprintf(stderr, "xpvd: kyoto: vm %s: %s\n", vm->name, msg);
	free(vm->degraded);
	vm->degraded = msg;
	xpv_error_free(e);
}

/* The LLC domain of each CPU the counters count on, and the buffers of
 * one group's per-CPU read. */
static int setup_domains(struct kyoto *k, struct xpv_error **err)
{
	unsigned n = counters_n_cpus(k->ctr);
	k->n_dom = topology_n_domains(k->topo);
	k->dom_charged = calloc(k->n_dom, sizeof(*k->dom_charged));
	if (!k->dom_charged)
		return xpv_error_set(err, ENOMEM, "kyoto");
	if (!n)
		return 0;
	k->cpu_sample = calloc(n, sizeof(*k->cpu_sample));
	k->cpu_id = calloc(n, sizeof(*k->cpu_id));
	k->cpu_dom = calloc(n, sizeof(*k->cpu_dom));
	if (!k->cpu_sample || !k->cpu_id || !k->cpu_dom)
		return xpv_error_set(err, ENOMEM, "kyoto");
	return 0;
}

static int parse_config(struct kyoto *k, json_t *sec, struct xpv_error **err)
{
	static const struct cfg_key keys[] = {
		{"enabled", CFG_BOOL, 0, 0},
		{"default_permit", CFG_NUM, 0, 1e12},
		{"permits", CFG_OBJ, 0, 0},
		{"floor", CFG_NUM, 0.01, 1},
		{"payback_periods", CFG_NUM, 1, 1e6},
		{"burst_periods", CFG_NUM, 0, 1e6},
		{"exempt_below", CFG_NUM, 0, 1e12},
		{"libvirt_metadata", CFG_BOOL, 0, 0},
		{"libvirt_uri", CFG_STR, 0, 0},
		{"throttle_period_us", CFG_INT, 0, CFS_MAX_PERIOD_US},
		{"counters", CFG_OBJ, 0, 0},
		{"test_topology_xml", CFG_STR, 0, 0},
		{NULL, 0, 0, 0},
	};
	static const struct cfg_key ckeys[] = {
		{"source", CFG_STR, 0, 0},
		{"synthetic_dir", CFG_STR, 0, 0},
		{"freq_khz", CFG_NUM, 0, 1e8},
		{"mode", CFG_STR, 0, 0},
		{NULL, 0, 0, 0},
	};
	struct counters_opts co = {CTR_PERF, NULL, 0, CTR_MODE_AUTO, k->host->mount};
	const char *xml = NULL;
	json_t *v, *c;
	const char *key;
	int ret;

	account_params_default(&k->params);
	k->enabled = true;
	k->default_permit = -1;
	k->use_metadata = true;
	k->cfg_permits = json_object();
	k->live_permits = json_object();
	if (sec) {
		ret = config_check(sec, "kyoto", keys, err);
		if (ret < 0)
			return ret;
		if ((v = json_object_get(sec, "enabled")))
			k->enabled = json_is_true(v);
		if ((v = json_object_get(sec, "default_permit")))
			k->default_permit = json_number_value(v);
		if ((v = json_object_get(sec, "floor")))
			k->params.floor = json_number_value(v);
		if ((v = json_object_get(sec, "payback_periods")))
			k->params.payback_periods = json_number_value(v);
		if ((v = json_object_get(sec, "burst_periods")))
			k->params.burst_periods = json_number_value(v);
		if ((v = json_object_get(sec, "exempt_below")))
			k->params.exempt_below = json_number_value(v);
		if ((v = json_object_get(sec, "throttle_period_us"))) {
			k->throttle_period_us = json_integer_value(v);
			if (k->throttle_period_us && k->throttle_period_us < CFS_MIN_US)
				return xpv_error_set(
					err, 0,
					"kyoto.throttle_period_us: %lld is below the "
					"kernel's 1000 us minimum (0 keeps the group's period)",
					(long long)k->throttle_period_us);
		}
		/* Proportional reduction needs room below the floor: a cap of
		 * `floor` CPUs must still be a quota the kernel accepts. */
		if (k->throttle_period_us &&
		    k->params.floor * (double)k->throttle_period_us < CFS_MIN_US)
			return xpv_error_set(
				err, 0,
				"kyoto.floor x kyoto.throttle_period_us = %g x %lld us = %.0f us "
				"is "
				"below the kernel's 1000 us minimum CFS quota; raise "
				"kyoto.floor to >= %g or kyoto.throttle_period_us to >= %.0f",
				k->params.floor, (long long)k->throttle_period_us,
				k->params.floor * (double)k->throttle_period_us,
				(double)CFS_MIN_US / (double)k->throttle_period_us,
				ceil(CFS_MIN_US / k->params.floor));
		if ((v = json_object_get(sec, "libvirt_metadata")))
			k->use_metadata = json_is_true(v);
		if ((v = json_object_get(sec, "libvirt_uri")))
			k->libvirt_uri = strdup(json_string_value(v));
		json_object_foreach (json_object_get(sec, "permits"), key, v) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    !isfinite(json_number_value(v)))
				return xpv_error_set(err, 0,
						     "kyoto.permits.%s: must be a number >= 0 "
						     "(LLC misses per ms)",
						     key);
			json_object_set(k->cfg_permits, key, v);
		}
		c = json_object_get(sec, "counters");
		if (c) {
			const char *src;

			ret = config_check(c, "kyoto.counters", ckeys, err);
			if (ret < 0)
				return ret;
			src = json_string_value(json_object_get(c, "source"));
			if (src && !strcmp(src, "synthetic"))
				co.source = CTR_SYNTHETIC;
			else if (src && !strcmp(src, "software"))
				co.source = CTR_SOFTWARE;
			else if (src && strcmp(src, "perf"))
				return xpv_error_set(err, 0,
						     "kyoto.counters.source: `%s` is not "
						     "\"perf\", \"synthetic\" or \"software\"",
						     src);
			/* A made-up miss rate makes every VM look UNDER and
			 * healthy: never one config key away in production. */
			if (co.source != CTR_PERF && !xpv_test_mode())
				return xpv_error_set(
					err, 0,
					"kyoto.counters.source: \"%s\" is a test-only "
					"source (it does not measure LLC misses); it is "
					"accepted only when xpvd runs with %s=1",
					src, XPV_TEST_MODE_ENV);
			co.synthetic_dir = json_string_value(json_object_get(c, "synthetic_dir"));
			if (co.synthetic_dir && co.synthetic_dir[0] != '/')
				return xpv_error_set(err, 0,
						     "kyoto.counters.synthetic_dir: must be "
						     "an absolute path");
			if ((v = json_object_get(c, "freq_khz")))
				co.freq_khz = json_number_value(v);
			src = json_string_value(json_object_get(c, "mode"));
			if (src && !strcmp(src, "thread"))
				co.mode = CTR_MODE_THREAD;
			else if (src && !strcmp(src, "cgroup"))
				co.mode = CTR_MODE_CGROUP;
			else if (src && strcmp(src, "auto"))
				return xpv_error_set(err, 0,
						     "kyoto.counters.mode: `%s` is not "
						     "\"auto\", \"cgroup\" or \"thread\"",
						     src);
		}
		xml = json_string_value(json_object_get(sec, "test_topology_xml"));
	}
	if (xml) {
		if (xml[0] != '/')
			return xpv_error_set(err, 0,
					     "kyoto.test_topology_xml: must be an absolute path");
		/* Test-only: the LLC domains of another machine. */
		fprintf(stderr,
			"xpvd: kyoto: TEST ONLY: LLC domains from topology XML `%s`, "
			"not from this host (kyoto.test_topology_xml)\n",
			xml);
	}
	ret = topology_load(&k->topo, xml, err);
	if (ret < 0)
		return xpv_error_wrap(err, "kyoto: host topology");
	if (!k->libvirt_uri)
		k->libvirt_uri = strdup("qemu:///system");
	if (!k->enabled)
		return 0; /* no counters, no cgroup writes */
	if (counters_init(&k->ctr, &co, err) < 0)
		return -1;
	k->adaptive = co.mode == CTR_MODE_AUTO && counters_mode(k->ctr) == CTR_MODE_CGROUP;
	return setup_domains(k, err);
}

static void kyoto_shutdown(void *priv);

static int kyoto_init(void **priv, const struct xpv_host *host, struct xpv_error **err)
{
	struct kyoto *k = calloc(1, sizeof(*k));

	if (!k)
		return xpv_error_set(err, ENOMEM, "kyoto");
	k->host = host;
	if (xpv_test_mode())
		fprintf(stderr,
			"xpvd: *** TEST MODE (%s=1): test-only counter sources are "
			"accepted; never run this on a production host ***\n",
			XPV_TEST_MODE_ENV);
	if (parse_config(k, config_section(host->cfg, "kyoto"), err) < 0) {
		kyoto_shutdown(k);
		return -1;
	}
	if (k->enabled && k->use_metadata && host->cfg->libvirt &&
	    libvirt_session_get(k->libvirt_uri,
				json_object_get(config_section(host->cfg, "kyoto"), "libvirt_uri"),
				&k->lv, err) < 0) {
		xpv_error_wrap(err, "kyoto.libvirt_uri");
		kyoto_shutdown(k);
		return -1;
	}
	*priv = k;
	return 0;
}

static bool same_bw(const struct cfs_bw *a, const struct cfs_bw *b)
{
	return a->quota_us == b->quota_us && a->period_us == b->period_us;
}

/*
 * A held group whose value is no longer the one xpvd wrote was changed by
 * someone else: adopt that value as the new original.  Returns 1 when it
 * did, 0 when the value is xpvd's, < 0 when it could not tell.
 */
static int adopt_outside_change(struct kyoto *k, struct kvm *vm, struct kgroup *g)
{
	const struct xpv_host *h = k->host;
	struct xpv_error *e = NULL;
	struct cfs_bw cur;

	if (!g->held)
		return 0;
	if (h->ops->read_bw(g->dir, &cur, &e) < 0) {
		vlog(vm, "reading CPU bandwidth", &e);
		return -1;
	}
	if (same_bw(&cur, &g->wrote))
		return 0;
	fprintf(stderr,
		"xpvd: kyoto: vm %s: `%s` changed from outside (quota %lld, period %lld us): "
		"adopted as the original value\n",
		vm->name, g->dir, (long long)cur.quota_us, (long long)cur.period_us);
	if (state_save(h->state, g->dir, h->ops->version, &cur, &e) < 0) {
		vlog(vm, "saving CPU bandwidth", &e);
		return -1;
	}
	g->wrote = cur; /* what is there now is the operator's, not ours */
	k->adopted++;
	return 1;
}

/* Two domains may share a mangled name: libvirt ones are told apart by id. */
static struct kvm *find_discovered(struct kyoto *k, const struct xpv_vm *d)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->vms[i].domid == d->domid && !strcmp(k->vms[i].name, d->name))
			return &k->vms[i];
	return NULL;
}

static void restore_group(struct kyoto *k, struct kvm *vm, struct kgroup *g)
{
	struct xpv_error *e = NULL;

	if (!g->held)
		return;
	if (adopt_outside_change(k, vm, g) > 0) {
		/* the operator's value stays where it is */
		if (state_forget(k->host->state, g->dir, &e) < 0)
			vlog(vm, "forgetting CPU bandwidth", &e);
		g->held = false;
		return;
	}
	if (state_restore(k->host->state, g->dir, &e) < 0)
		vlog(vm, "restoring CPU bandwidth", &e);
	else
		g->held = false;
}

static void free_vm(struct kyoto *k, struct kvm *vm, bool restore)
{
	for (size_t i = 0; i < vm->n_groups; i++) {
		if (restore)
			restore_group(k, vm, &vm->groups[i]);
		counters_close_cgroup(vm->groups[i].ctr);
		free(vm->groups[i].dir);
	}
	for (size_t i = 0; i < vm->n_threads; i++)
		counters_close(vm->threads[i].ctr);
	free(vm->dom_charged);
	free(vm->dom_events);
	free(vm->groups);
	free(vm->threads);
	free(vm->degraded);
	free(vm->domain);
	free(vm->name);
}

static double resolve_permit(struct kyoto *k, struct kvm *vm)
{
	json_t *v = json_object_get(k->live_permits, vm->name);

	if (v) {
		vm->permit_src = "xpvctl";
		return json_is_number(v) ? json_number_value(v) : -1;
	}
	if (vm->meta_permit >= 0) {
		vm->permit_src = "libvirt";
		return vm->meta_permit;
	}
	/* config permits name the domain as libvirt does, or the VM as
	 * discovery does (plain groups, or before the session knows it) */
	if ((vm->domain && (v = json_object_get(k->cfg_permits, vm->domain))) ||
	    (v = json_object_get(k->cfg_permits, vm->name))) {
		vm->permit_src = "config";
		return json_number_value(v);
	}
	vm->permit_src = k->default_permit >= 0 ? "default" : "none";
	return k->default_permit;
}

static void sync_groups(struct kyoto *k, struct kvm *vm, const struct xpv_vm *d)
{
	/* Groups that vanished (vCPU unplug) are gone from the kernel too:
	 * forget their saved value, or a vCPU plugged back under the same
	 * name would get the old one "restored". */
	for (size_t i = 0; i < vm->n_groups;) {
		bool found = false;

		for (size_t j = 0; j < d->n_groups; j++)
			if (!strcmp(d->groups[j].dir, vm->groups[i].dir))
				found = true;
		if (found) {
			i++;
			continue;
		}
		if (vm->groups[i].held) {
			struct xpv_error *e = NULL;

			/* still there (no longer a vCPU group): give it back */
			if (xpv_path_exists(vm->groups[i].dir))
				restore_group(k, vm, &vm->groups[i]);
			else if (state_forget(k->host->state, vm->groups[i].dir, &e) < 0)
				vlog(vm, "forgetting CPU bandwidth", &e);
		}
		counters_close_cgroup(vm->groups[i].ctr);
		free(vm->groups[i].dir);
		vm->groups[i] = vm->groups[--vm->n_groups];
	}
	for (size_t j = 0; j < d->n_groups; j++) {
		bool found = false;
		struct kgroup *ng;

		for (size_t i = 0; i < vm->n_groups; i++)
			if (!strcmp(d->groups[j].dir, vm->groups[i].dir))
				found = true;
		if (found)
			continue;
		ng = realloc(vm->groups, (vm->n_groups + 1) * sizeof(*ng));
		if (!ng)
			continue;
		vm->groups = ng;
		ng[vm->n_groups].dir = strdup(d->groups[j].dir);
		ng[vm->n_groups].held = false;
		ng[vm->n_groups].ctr = NULL;
		if (ng[vm->n_groups].dir)
			vm->n_groups++;
	}
}

static void sync_threads(struct kyoto *k, struct kvm *vm, const struct xpv_vm *d)
{
	for (size_t i = 0; i < vm->n_threads; i++)
		vm->threads[i].seen = 0;
	for (size_t g = 0; g < d->n_groups; g++) {
		for (size_t t = 0; t < d->groups[g].n_tids; t++) {
			pid_t tid = d->groups[g].tids[t];
			struct xpv_error *e = NULL;
			struct kthread *nt;
			bool found = false;

			for (size_t i = 0; i < vm->n_threads; i++)
				if (vm->threads[i].tid == tid) {
					vm->threads[i].seen = 1;
					found = true;
				}
			if (found)
				continue;
			nt = realloc(vm->threads, (vm->n_threads + 1) * sizeof(*nt));
			if (!nt)
				continue;
			vm->threads = nt;
			nt = &vm->threads[vm->n_threads];
			nt->tid = tid;
			nt->seen = 1;
			if (xpv_task_start_time(tid, &nt->start) < 0)
				continue; /* exited meanwhile */
			if (counters_open(k->ctr, tid, vm->name, &nt->ctr, &e) < 0) {
				/* The thread may just have exited. */
				if (counters_run_ns(tid, &(uint64_t){0}, NULL) == 0)
					vlog(vm, "opening counters", &e);
				xpv_error_free(&e);
				continue;
			}
			/* Prime now: the next read covers everything since the
			 * open, so a new thread's first period is charged. */
			counters_read(k->ctr, nt->ctr, &(struct acct_sample){0}, &e);
			xpv_error_free(&e);
			vm->n_threads++;
		}
	}
	for (size_t i = 0; i < vm->n_threads;) {
		if (vm->threads[i].seen) {
			i++;
			continue;
		}
		counters_close(vm->threads[i].ctr);
		vm->threads[i] = vm->threads[--vm->n_threads];
	}
}

/* A thread that did not run may be dead, its tid taken by a new thread the
 * old counters do not follow.  Checked only then: a running thread is alive. */
static bool thread_replaced(const struct kthread *t)
{
	uint64_t start;

	return xpv_task_start_time(t->tid, &start) < 0 || start != t->start;
}

static void enforce_vm(struct kyoto *k, struct kvm *vm)
{
	const struct xpv_host *h = k->host;

	for (size_t i = 0; i < vm->n_groups; i++) {
		struct kgroup *g = &vm->groups[i];
		struct xpv_error *e = NULL;
		struct cfs_bw orig, want, base;
		double cpus;
		int at;

		if (vm->acct.cap < 1 && adopt_outside_change(k, vm, g) < 0)
			continue;
		if (vm->acct.cap >= 1) {
			restore_group(k, vm, g);
			continue;
		}
		if (!state_lookup(h->state, g->dir, &orig) &&
		    h->ops->read_bw(g->dir, &orig, &e) < 0) {
			vlog(vm, "reading CPU bandwidth", &e);
			continue;
		}
		/* libvirt: one group per vCPU; plain: one group for all. */
		cpus = vm->acct.cap * (vm->kind == XPV_VM_PLAIN ? vm->nvcpus : 1);
		base = orig;
		if (k->throttle_period_us) {
			/* A short period spreads the VM's CPU time, so it
			 * cannot sweep the whole LLC in one long burst. */
			if (orig.quota_us >= 0)
				base.quota_us =
					orig.quota_us * k->throttle_period_us / orig.period_us;
			base.period_us = k->throttle_period_us;
		}
		at = enforce_quota_for(h->ops, h->mount, g->dir, &base, cpus, &want, &e);
		if (at < 0) {
			vlog(vm, "computing CPU bandwidth", &e);
			continue;
		}
		if (at & ENFORCE_AT_MIN) {
			xpv_error_set(&e, 0,
				      "`%s`: CFS period %lld us x cap %.3g CPUs is below the "
				      "kernel's 1 ms minimum quota; throttled to 1 ms only "
				      "(raise the group's period or kyoto.throttle_period_us)",
				      g->dir, (long long)base.period_us, cpus);
			vlog(vm, "limit", &e);
		}
		if (at & ENFORCE_AT_CHILD) {
			xpv_error_set(&e, 0,
				      "`%s`: a group below it has a higher CPU limit, and cgroup "
				      "v1 refuses a parent limit below a child's; throttled to "
				      "that limit only",
				      g->dir);
			vlog(vm, "limit", &e);
		}
		if (g->held && same_bw(&want, &g->wrote))
			continue;
		if (!g->held && !state_lookup(h->state, g->dir, &(struct cfs_bw){0}) &&
		    state_save(h->state, g->dir, h->ops->version, &orig, &e) < 0) {
			/* Never write what we could not save. */
			vlog(vm, "saving CPU bandwidth", &e);
			continue;
		}
		if (h->ops->write_bw(g->dir, &want, &e) < 0) {
			vlog(vm, "throttling", &e);
			/* the original is saved: restore it, or adopt what is there */
			g->held = true;
			g->wrote = want;
			continue;
		}
		g->held = true;
		g->wrote = want;
	}
}

/* Identity and permit of a libvirt domain, from the session's cache only:
 * a hung libvirtd cannot stall the tick.  Metadata is parsed again only
 * when the session saw it change (lifecycle or metadata-change event). */
static void refresh_metadata(struct kyoto *k, struct kvm *vm)
{
	struct xpv_error *e = NULL;
	struct lv_domain_ref r;
	char *xml = NULL;
	double p = -1;
	int ret;

	if (vm->kind != XPV_VM_LIBVIRT || !k->lv ||
	    !libvirt_session_find(k->lv, vm->domid, vm->name, &r))
		return; /* not known (yet): keep what we have */
	if (!vm->domain || strcmp(vm->domain, r.name)) {
		free(vm->domain);
		vm->domain = r.name;
		r.name = NULL;
		memcpy(vm->uuid, r.uuid, sizeof(vm->uuid));
	}
	free(r.name);
	if (r.gen == vm->meta_gen)
		return;
	if (libvirt_session_xml(k->lv, vm->domid, &xml) <= 0)
		return;
	vm->meta_gen = r.gen;
	ret = libvirt_meta_permit(xml, &p, &e);
	free(xml);
	if (ret < 0) {
		vlog(vm, "reading libvirt metadata", &e);
		return;
	}
	vm->meta_permit = ret ? p : -1;
}

static void measure_threads(struct kyoto *k, struct kvm *vm, uint64_t period_ns)
{
	for (size_t t = 0; t < vm->n_threads; t++) {
		struct acct_sample s;
		struct xpv_error *e = NULL;

		if (counters_read(k->ctr, vm->threads[t].ctr, &s, &e) < 0) {
			xpv_error_free(&e); /* thread exited */
			continue;
		}
		if (!s.run_ns && thread_replaced(&vm->threads[t])) {
			/* dead, its tid maybe reused: reopened next period */
			counters_close(vm->threads[t].ctr);
			vm->threads[t--] = vm->threads[--vm->n_threads];
			continue;
		}
		account_add_vcpu(&vm->acct, &s, period_ns);
	}
}

/*
 * Counters per (cgroup, CPU): one read per group and CPU, whatever the
 * number of threads.  The per-CPU charges are also summed per LLC domain.
 */
static int measure_groups(struct kyoto *k, struct kvm *vm, uint64_t period_ns)
{
	unsigned ncpu = counters_n_cpus(k->ctr);
	int ret = 0;

	if (!vm->dom_charged) {
		vm->dom_charged = calloc(k->n_dom, sizeof(*vm->dom_charged));
		vm->dom_events = calloc(k->n_dom, sizeof(*vm->dom_events));
		if (!vm->dom_charged || !vm->dom_events) {
			free(vm->dom_charged);
			free(vm->dom_events);
			vm->dom_charged = vm->dom_events = NULL;
			return 0;
		}
	}
	for (size_t d = 0; d < k->n_dom; d++)
		vm->dom_charged[d] = 0;
	for (size_t i = 0; i < vm->n_groups; i++) {
		struct kgroup *g = &vm->groups[i];
		struct xpv_error *e = NULL;
		int n;

		/* Opened here, so a group that failed (EMFILE, a cgroup not
		 * yet in perf_event's hierarchy) is retried every period. */
		if (!g->ctr && counters_open_cgroup(k->ctr, g->dir, &g->ctr, &e) < 0) {
			if (k->adaptive) {
				/* e.g. libvirt's vcpuN, absent from the
				 * unified hierarchy of a hybrid host */
				if (!vm->groups_failed)
					fprintf(stderr,
						"xpvd: kyoto: vm %s: counting per thread: %s: "
						"%s\n",
						vm->name, e->msg, strerror(e->status));
				xpv_error_free(&e);
				vm->groups_failed = true;
				ret = -1;
				continue;
			}
			vlog(vm, "opening counters", &e);
			continue;
		}
		n = counters_read_cgroup(k->ctr, g->ctr, k->cpu_sample, k->cpu_id, ncpu, &e);
		if (n < 0) {
			/* The cgroup went away; sync_groups drops it next. */
			vlog(vm, "reading counters", &e);
			counters_close_cgroup(g->ctr);
			g->ctr = NULL;
			continue;
		}
		for (int c = 0; c < n; c++)
			k->cpu_dom[c] = topology_cpu_domain(k->topo, k->cpu_id[c]);
		account_add_group(&vm->acct, k->cpu_sample, (size_t)n, period_ns);
		account_split_domains(k->cpu_sample, k->cpu_dom, (size_t)n, period_ns,
				      vm->dom_charged, k->n_dom);
	}
	return ret;
}

static void close_thread_counters(struct kvm *vm)
{
	for (size_t i = 0; i < vm->n_threads; i++)
		counters_close(vm->threads[i].ctr);
	vm->n_threads = 0;
}

static void close_group_counters(struct kvm *vm)
{
	for (size_t i = 0; i < vm->n_groups; i++) {
		counters_close_cgroup(vm->groups[i].ctr);
		vm->groups[i].ctr = NULL;
	}
}

/*
 * Per (cgroup, CPU) costs groups x CPUs reads a period, per thread one
 * read a thread: in mode auto each VM gets the cheaper one (a VM of few
 * vCPUs on a host of many CPUs is cheaper per thread; per-thread counting
 * has no LLC-domain split).  Hysteresis keeps a VM whose thread count
 * wobbles from switching back and forth.
 */
static bool want_groups(struct kyoto *k, struct kvm *vm)
{
	size_t reads = vm->n_groups * counters_n_cpus(k->ctr);

	if (counters_mode(k->ctr) != CTR_MODE_CGROUP || vm->groups_failed)
		return false;
	if (!k->adaptive)
		return true;
	return vm->by_group ? reads <= 2 * vm->n_tids : reads <= vm->n_tids;
}

/*
 * Measure a VM in its method; on a switch, the old method is read one last
 * time before the new one is opened and primed, so the events of the
 * period are charged once and none is lost.
 */
static void measure_vm(struct kyoto *k, struct kvm *vm, const struct xpv_vm *d, uint64_t period_ns)
{
	bool groups = want_groups(k, vm);

	if (groups && !vm->by_group) {
		if (vm->n_threads) {
			sync_threads(k, vm, d);
			measure_threads(k, vm, period_ns);
			close_thread_counters(vm);
		}
		vm->by_group = true;
		if (measure_groups(k, vm, period_ns) < 0) {
			/* nothing was counted per group: back to threads */
			close_group_counters(vm);
			vm->by_group = false;
			sync_threads(k, vm, d);
		}
	} else if (!groups && vm->by_group) {
		measure_groups(k, vm, period_ns);
		close_group_counters(vm);
		vm->by_group = false;
		sync_threads(k, vm, d);
	} else if (groups) {
		measure_groups(k, vm, period_ns);
	} else {
		sync_threads(k, vm, d);
		measure_threads(k, vm, period_ns);
	}
}

/* After account_end (which may exempt a VM): the domain figures follow
 * what was actually charged. */
static void close_domains(struct kyoto *k, struct kvm *vm, uint64_t period_ns)
{
	if (!vm->dom_charged)
		return;
	for (size_t d = 0; d < k->n_dom; d++) {
		if (vm->acct.charged <= 0 || !vm->by_group)
			vm->dom_charged[d] = 0;
		vm->dom_events[d] += vm->dom_charged[d] * (double)period_ns / 1e6;
		k->dom_charged[d] += vm->dom_charged[d];
	}
}

static int kyoto_tick(void *priv, const struct xpv_vm_list *vms, uint64_t period_ns,
		      struct xpv_error **err)
{
	struct kyoto *k = priv;
	struct timespec t0, t1;

	(void)err;
	if (!k->enabled)
		return 0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	k->ticks++;
	for (size_t i = 0; i < k->n; i++)
		k->vms[i].seen = 0;
	for (size_t d = 0; d < k->n_dom; d++)
		k->dom_charged[d] = 0;
	for (size_t i = 0; i < vms->n; i++) {
		const struct xpv_vm *d = &vms->vms[i];
		struct kvm *vm = find_discovered(k, d);

		if (!vm) {
			struct kvm *nv = realloc(k->vms, (k->n + 1) * sizeof(*nv));

			if (!nv)
				continue;
			k->vms = nv;
			vm = &k->vms[k->n];
			memset(vm, 0, sizeof(*vm));
			vm->name = strdup(d->name);
			vm->kind = d->kind;
			vm->domid = d->domid;
			vm->acct.cap = 1;
			vm->acct.state = ACCT_UNGOVERNED;
			vm->meta_permit = -1;
			if (!vm->name)
				continue;
			k->n++;
			fprintf(stderr, "xpvd: kyoto: vm %s: discovered (%u vCPUs)\n", vm->name,
				d->nvcpus);
		}
		vm->seen = 1;
		vm->nvcpus = d->nvcpus;
		vm->n_tids = 0;
		for (size_t g = 0; g < d->n_groups; g++)
			vm->n_tids += d->groups[g].n_tids;
		sync_groups(k, vm, d);
		refresh_metadata(k, vm);

		account_begin(&vm->acct);
		measure_vm(k, vm, d, period_ns);
		vm->acct.permit = resolve_permit(k, vm);
		account_end(&vm->acct, &k->params, vm->nvcpus);
		vm->events_total += vm->acct.charged * (double)period_ns / 1e6;
		close_domains(k, vm, period_ns);
		enforce_vm(k, vm);
	}
	for (size_t i = 0; i < k->n;) {
		if (k->vms[i].seen) {
			i++;
			continue;
		}
		fprintf(stderr, "xpvd: kyoto: vm %s: gone\n", k->vms[i].name);
		free_vm(k, &k->vms[i], true);
		k->vms[i] = k->vms[--k->n];
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	k->tick_cpu_ns +=
		(uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
	return 0;
}

static json_t *vm_status(struct kyoto *k, struct kvm *vm)
{
	json_t *o, *groups = json_array();
	double cpus = vm->acct.cap * (vm->kind == XPV_VM_PLAIN ? vm->nvcpus : vm->n_groups);

	for (size_t i = 0; i < vm->n_groups; i++) {
		struct cfs_bw bw = {-1, 0};
		uint64_t thr = 0;
		struct xpv_error *e = NULL;

		if (k->host->ops->read_bw(vm->groups[i].dir, &bw, &e) < 0)
			xpv_error_free(&e);
		if (k->host->ops->read_throttled(vm->groups[i].dir, &thr, &e) < 0)
			xpv_error_free(&e);
		json_array_append_new(
			groups, json_pack("{s:s, s:I, s:I, s:I, s:b}", "cgroup", vm->groups[i].dir,
					  "quota_us", (json_int_t)bw.quota_us, "period_us",
					  (json_int_t)bw.period_us, "nr_throttled", (json_int_t)thr,
					  "throttled_by_xpvd", vm->groups[i].held));
	}
	o = json_pack("{s:s, s:s, s:o, s:s, s:f, s:f, s:f, s:s, s:I, s:I, "
		      "s:f, s:f, s:i, s:i, s:f, s:o}",
		      "vm", vm->name, "kind", vm->kind == XPV_VM_PLAIN ? "cgroup" : "libvirt",
		      "permit", vm->acct.permit >= 0 ? json_real(vm->acct.permit) : json_null(),
		      "permit_source", vm->permit_src ? vm->permit_src : "none", "llc_cap_act",
		      vm->acct.llc_cap_act, "charged", vm->acct.charged, "quota", vm->acct.quota,
		      "state", account_state_name(vm->acct.state), "punished",
		      (json_int_t)vm->acct.punished, "over_periods",
		      (json_int_t)vm->acct.over_periods, "cpu_cap", cpus, "cpus_used",
		      vm->acct.cpus_used, "vcpus", vm->nvcpus, "threads",
		      (int)(vm->by_group ? vm->n_tids : vm->n_threads), "ipc", vm->acct.ipc,
		      "groups", groups);
	if (o && vm->degraded)
		json_object_set_new(o, "degraded", json_string(vm->degraded));
	if (o && vm->domain) {
		json_object_set_new(o, "domain", json_string(vm->domain));
		json_object_set_new(o, "uuid", json_string(vm->uuid));
	}
	if (o) {
		json_object_set_new(o, "charged_events_total", json_real(vm->events_total));
		json_object_set_new(o, "counting", json_string(vm->by_group ? "cgroup" : "thread"));
	}
	if (o && vm->dom_charged) {
		json_t *doms = json_array();

		for (size_t d = 0; d < k->n_dom; d++)
			json_array_append_new(doms,
					      json_pack("{s:i, s:f, s:f}", "domain", (int)d,
							"charged", vm->dom_charged[d],
							"charged_events_total", vm->dom_events[d]));
		json_object_set_new(o, "domains", doms);
	}
	return o;
}

static json_t *kyoto_status(void *priv)
{
	struct kyoto *k = priv;
	json_t *arr = json_array();

	json_t *topo = topology_describe(k->topo);
	json_t *doms = json_object_get(topo, "llc_domains");
	size_t d;
	json_t *dom;

	for (size_t i = 0; i < k->n; i++)
		json_array_append_new(arr, vm_status(k, &k->vms[i]));
	/* Per domain, what all VMs charged: what that LLC's tenants suffer.
	 * Known only when counting per cgroup and CPU. */
	json_array_foreach (doms, d, dom)
		json_object_set_new(dom, "charged",
				    k->ctr && counters_mode(k->ctr) == CTR_MODE_CGROUP
					    ? json_real(k->dom_charged[d])
					    : json_null());
	return json_pack("{s:b, s:o, s:o, s:b, s:I, s:o, s:o, s:f}", "enabled", k->enabled, "vms",
			 arr, "counters", k->ctr ? counters_describe(k->ctr) : json_null(),
			 "test_mode", xpv_test_mode(), "adopted_outside_changes",
			 (json_int_t)k->adopted, "libvirt", libvirt_session_status(k->lv),
			 "topology", topo, "tick_cpu_seconds", (double)k->tick_cpu_ns / 1e9);
}

/* Per-LLC-domain figures (the split needs counters per cgroup and CPU). */
static void domain_metrics(struct kyoto *k, struct prom_set *set)
{
	char dom[24];

	prom_set_add(set, "xpvd_kyoto_tick_cpu_seconds_total",
		     "CPU time of Kyoto's periods (counters, accounting, enforcement)", NULL,
		     (double)k->tick_cpu_ns / 1e9);
	for (size_t i = 0; i < k->n; i++) {
		const char *labels[] = {"vm", k->vms[i].name, NULL};

		prom_set_add(set, "xpvd_kyoto_charged_events_total",
			     "Events (LLC misses) charged since start", labels,
			     k->vms[i].events_total);
	}
	for (size_t d = 0; d < k->n_dom; d++) {
		const char *labels[] = {"domain", dom,
					"cpus",	  topology_domain_cpus(k->topo, (unsigned)d),
					"nodes",  topology_domain_nodes(k->topo, (unsigned)d),
					NULL};

		snprintf(dom, sizeof(dom), "%zu", d);
		prom_set_add(set, "xpvd_llc_domain_info",
			     "LLC domains (CPUs sharing a last-level cache)", labels, 1);
	}
	if (!k->ctr || counters_mode(k->ctr) != CTR_MODE_CGROUP)
		return;
	for (size_t d = 0; d < k->n_dom; d++) {
		const char *labels[] = {"domain", dom, NULL};

		snprintf(dom, sizeof(dom), "%zu", d);
		prom_set_add(set, "xpvd_kyoto_domain_pollution",
			     "Pollution charged in the LLC domain last period, all VMs (misses/ms)",
			     labels, k->dom_charged[d]);
	}
	for (size_t i = 0; i < k->n; i++)
		for (size_t d = 0; k->vms[i].dom_charged && d < k->n_dom; d++) {
			const char *labels[] = {"vm", k->vms[i].name, "domain", dom, NULL};

			snprintf(dom, sizeof(dom), "%zu", d);
			prom_set_add(set, "xpvd_kyoto_domain_charged",
				     "Pollution charged to the VM in the LLC domain last period "
				     "(misses/ms)",
				     labels, k->vms[i].dom_charged[d]);
			prom_set_add(set, "xpvd_kyoto_domain_charged_events_total",
				     "Events charged to the VM in the LLC domain since start",
				     labels, k->vms[i].dom_events[d]);
		}
}

static void kyoto_metrics(void *priv, FILE *f)
{
	struct kyoto *k = priv;
	static const char *const help[][2] = {
		{"xpvd_kyoto_permit", "Booked LLC pollution permit (misses/ms), -1 none"},
		{"xpvd_kyoto_llc_cap_act", "Measured pollution, eq. 3.1 (misses/ms)"},
		{"xpvd_kyoto_charged", "Pollution debited last period (misses/ms)"},
		{"xpvd_kyoto_quota", "Pollution quota"},
		{"xpvd_kyoto_over", "1 when the VM is OVER its permit"},
		{"xpvd_kyoto_punished_total", "Times the VM went OVER"},
		{"xpvd_kyoto_cpu_cap", "CPU cap in CPUs"},
		{"xpvd_kyoto_cpus_used", "CPUs used last period"},
	};
	struct prom_set *set = prom_set_new();

	prom_family(f, "xpvd_test_mode", "gauge",
		    "1 when xpvd runs with XPVD_TEST_MODE=1 (test-only counter sources allowed)");
	prom_sample(f, "xpvd_test_mode", NULL, xpv_test_mode());
	for (size_t i = 0; i < k->n; i++) {
		struct kvm *vm = &k->vms[i];
		const char *labels[] = {"vm", vm->name, NULL};
		double v[8] = {
			vm->acct.permit,
			vm->acct.llc_cap_act,
			vm->acct.charged,
			vm->acct.quota,
			vm->acct.state == ACCT_OVER,
			(double)vm->acct.punished,
			vm->acct.cap * (vm->kind == XPV_VM_PLAIN ? vm->nvcpus : vm->n_groups),
			vm->acct.cpus_used,
		};

		for (size_t m = 0; m < 8; m++)
			prom_set_add(set, help[m][0], help[m][1], labels, v[m]);
	}
	domain_metrics(k, set);
	prom_set_write(set, f);
}

static int kyoto_command(void *priv, int argc, char **argv, json_t **reply, struct xpv_error **err)
{
	struct kyoto *k = priv;
	char *end;
	double v;

	if (argc >= 1 && !strcmp(argv[0], "events")) {
		if (!k->ctr)
			return xpv_error_set(err, 0, "events: the kyoto controller is disabled");
		*reply = counters_describe(k->ctr);
		return 1;
	}
	if (argc < 1 || strcmp(argv[0], "permit"))
		return 0;
	if (argc == 4 && !strcmp(argv[1], "set")) {
		if (!strcmp(argv[3], "none")) {
			json_object_set_new(k->live_permits, argv[2], json_null());
		} else {
			errno = 0;
			v = strtod(argv[3], &end);
			if (errno || *end || end == argv[3] || !isfinite(v) || v < 0)
				return xpv_error_set(err, 0,
						     "permit: `%s` is not a number >= 0 "
						     "(LLC misses per ms) or \"none\"",
						     argv[3]);
			json_object_set_new(k->live_permits, argv[2], json_real(v));
		}
		*reply = json_pack("{s:s, s:s}", "vm", argv[2], "permit", argv[3]);
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "clear")) {
		json_object_del(k->live_permits, argv[2]);
		*reply = json_pack("{s:s, s:b}", "vm", argv[2], "cleared", 1);
		return 1;
	}
	return xpv_error_set(err, 0, "usage: permit set VM VALUE|none | permit clear VM");
}

/* `xpvctl permit set` overrides outlive a reload: an operator who lifted a
 * VM's permit by hand does not expect a SIGHUP to throttle it again. */
static void kyoto_adopt(void *priv, const void *old_priv)
{
	struct kyoto *k = priv;
	const struct kyoto *old = old_priv;

	if (k && old)
		json_object_update(k->live_permits, old->live_permits);
}

static void kyoto_shutdown(void *priv)
{
	struct kyoto *k = priv;

	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free_vm(k, &k->vms[i], true);
	free(k->vms);
	counters_free(k->ctr);
	libvirt_session_put(k->lv);
	topology_free(k->topo);
	free(k->dom_charged);
	free(k->cpu_sample);
	free(k->cpu_id);
	free(k->cpu_dom);
	if (k->cfg_permits)
		json_decref(k->cfg_permits);
	if (k->live_permits)
		json_decref(k->live_permits);
	free(k->libvirt_uri);
	free(k);
}

const struct xpv_controller kyoto_controller = {
	.name = "kyoto",
	.init = kyoto_init,
	.tick = kyoto_tick,
	.status = kyoto_status,
	.metrics = kyoto_metrics,
	.command = kyoto_command,
	.adopt = kyoto_adopt,
	.shutdown = kyoto_shutdown,
};
