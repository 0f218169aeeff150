// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The memory-homing controller: keeps each VM's guest RAM on its home host
 * node with libmemhome (kvm/memhome, docs/memhome.md).  Per VM: find the
 * QEMU process (libvirt pid file, a configured pid file, or the process of
 * the VM's threads), its homing parameters (config, then <xpvh:homing>
 * metadata) and home nodes (config, then <numatune>), then call
 * mh_vm_tick() whenever the library asks to be called.  A VM whose process
 * exits (shut down, migrated away) is kept, marked exited, until discovery
 * drops it or a new process appears under its name.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* xpvd's error.h before libmemhome's copy of it (same guard, same struct) */
#include "controller.h"
#include "homing_cfg.h"
#include "homing_log.h"
#include "homing_proc.h"
#include "homing_vhost.h"
#include "libvirt_session.h"
#include "prom.h"
#include "xml_elem.h"
#include "util.h"

#include "audit.h"
#include "vhost.h"

#define NS 1000000000ull
/* the longest a single VM may repatriate in one period */
#define MH_SLICE_NS (50 * 1000000ull)
/* how long a new libvirt domain waits for the session to know it */
#define LIBVIRT_WAIT_NS (30 * NS)
/* how often vhost workers are looked for (a /proc scan on kernels < 6.4):
 * a new worker (device reset, hot-plug, migration) is pinned within this */
#define VHOST_SCAN_NS (1 * NS)

struct hvm {
	char *name;
	enum xpv_vm_kind kind;
	struct homing *h;
	struct homing_params p; /* resolved: config + metadata */
	const char *policy_src; /* config, libvirt, default, none */
	const char *home_src; /* config, numatune, numa_maps */
	int domid; /* libvirt's domain id, -1 for plain groups */
	char *domain; /* libvirt's name (NULL until the session knows it) */
	char uuid[XPV_UUID_LEN];
	int pid;
	int exited_pid; /* do not set up this pid again */
	struct mh_vm *mh;
	uint64_t next_ns, retry_ns;
	uint64_t last_pass_start_ns, last_pass_end_ns, last_pass_moved;
	uint64_t meta_gen; /* session generation of the XML last resolved */
	uint64_t first_seen_ns;
	int nr_memdevs; /* from <numatune> at setup */
	char *degraded;
	bool exited;
	int seen;
	struct homing_vhost vh; /* pins of its vhost workers */
	struct mh_vhost_worker *vw; /* the workers of the last scan */
	size_t n_vw;
};

struct homing {
	const struct xpv_host *host;
	struct homing_cfg cfg;
	struct libvirt_session *lv; /* shared with Kyoto; NULL without libvirt */
	struct homing_log *log; /* NULL: none */
	struct homing_budget budget;
	uint64_t budget_skips; /* periods in which the budget ran out */
	size_t n;
	struct hvm **vms;
	uint64_t ticks;
	bool vhost_kthreads; /* kernel < 6.4: workers are kernel threads */
	uint64_t vhost_next_ns;
	struct mh_vhost_worker *kthreads; /* of the last scan */
	size_t n_kthreads;
};

/* QMP runs inside the period loop: a monitor that never answers costs one
 * period (at least 100 ms, for a QEMU slowed by a busy host) once per
 * retry_s, not the 5 s a human at xpv-memhome waits. */
static int homing_qmp_timeout_ms(const struct homing *h)
{
	int ms = (int)h->host->cfg->period_ms;

	return ms < 100 ? 100 : ms;
}

static void set_degraded(struct hvm *vm, const char *what, struct xpv_error **e)
{
	char *msg = NULL;

	if (asprintf(&msg, "%s: %s%s%s", what, (*e) && (*e)->msg ? (*e)->msg : "failed",
		     (*e) && (*e)->status ? ": " : "",
		     (*e) && (*e)->status ? strerror((*e)->status) : "") < 0)
		msg = NULL;
	/* log once per kind of problem, keep it for status */
	if (msg && (!vm->degraded || strcmp(vm->degraded, msg)))
		fprintf(stderr, "xpvd: homing: vm %s: %s\n", vm->name, msg);
	free(vm->degraded);
	vm->degraded = msg;
	xpv_error_free(e);
}

static void clear_degraded(struct hvm *vm)
{
	free(vm->degraded);
	vm->degraded = NULL;
}

static void on_event(const struct mh_vm *vm, const struct mh_event *ev, void *arg)
{
	struct hvm *hv = arg;
	uint64_t now = xpv_now_ns();

	if (ev->kind == MH_EV_PASS_START)
		hv->last_pass_start_ns = now;
	if (ev->kind == MH_EV_PASS_END) {
		hv->last_pass_end_ns = now;
		hv->last_pass_moved = ev->moved_bytes;
	}
	homing_log_event(hv->h->log, hv->name, vm, ev);
}

/* ---- setting a VM up --------------------------------------------------- */

/* Original affinities back (homing of this process stops). */
static void vhost_stop(struct hvm *hv)
{
	homing_vhost_release(&hv->vh);
	free(hv->vw);
	hv->vw = NULL;
	hv->n_vw = 0;
}

static void drop_mh(struct hvm *hv)
{
	vhost_stop(hv);
	mh_vm_free(hv->mh);
	hv->mh = NULL;
	hv->exited = false;
	hv->last_pass_start_ns = hv->last_pass_end_ns = hv->last_pass_moved = 0;
}

static bool same_params(const struct homing_params *a, const struct homing_params *b)
{
	return a->policy == b->policy && a->period_ns == b->period_ns &&
	       a->threshold_bytes == b->threshold_bytes &&
	       a->scan_interval_ns == b->scan_interval_ns && a->min_gap_ns == b->min_gap_ns &&
	       a->rate_bytes_per_s == b->rate_bytes_per_s &&
	       a->cpu_budget_ppm == b->cpu_budget_ppm && a->default_home == b->default_home &&
	       a->vhost == b->vhost;
}

/*
 * Config entry, then <xpvh:homing> metadata on top; for libvirt domains also
 * the memdevs and default home from <numatune>.  On an error (libvirtd not
 * answering, a bad metadata value, a bad <numatune>) *p still holds what
 * could be used (at least the config's values) and -1 is returned so the
 * caller can report it.
 */
/* The config entry of a VM: by libvirt's domain name when it has one,
 * else by the name discovery gave it. */
static const struct homing_params *vm_config(const struct homing *h, const struct hvm *hv)
{
	const struct homing_params *c;

	if (hv->domain && (c = homing_config_vm(&h->cfg, hv->domain)) != &h->cfg.defaults)
		return c;
	return homing_config_vm(&h->cfg, hv->name);
}

/* Who the VM is for libvirt, from the session's cache (never libvirtd
 * itself); the generation of its XML, 0 when not known (yet). */
static uint64_t identify(struct homing *h, struct hvm *hv)
{
	struct lv_domain_ref r;

	if (hv->kind != XPV_VM_LIBVIRT || !h->lv ||
	    !libvirt_session_find(h->lv, hv->domid, hv->name, &r))
		return 0;
	if (!hv->domain || strcmp(hv->domain, r.name)) {
		free(hv->domain);
		hv->domain = r.name;
		r.name = NULL;
		memcpy(hv->uuid, r.uuid, sizeof(hv->uuid));
	}
	free(r.name);
	return r.has_xml ? r.gen : 0;
}

static int resolve(struct homing *h, struct hvm *hv, struct homing_params *p, struct mh_memdev **md,
		   int *nr_md, struct xpv_error **err)
{
	const struct homing_params *c = vm_config(h, hv);
	char *meta = NULL, *domxml = NULL;
	struct homing_params t;
	int ret, dflt;

	*md = NULL;
	*nr_md = 0;
	if (homing_params_copy(p, c) < 0) {
		p->policy = -1;
		return xpv_error_set(err, ENOMEM, "homing");
	}
	hv->policy_src = p->policy < 0 ? "none" : c == &h->cfg.defaults ? "default" : "config";
	hv->home_src = p->nr_specs || p->default_home >= 0 ? "config" : "numa_maps";
	if (hv->kind != XPV_VM_LIBVIRT || !h->lv || (!h->cfg.use_metadata && !h->cfg.use_numatune))
		return 0;
	hv->meta_gen = identify(h, hv);
	if (libvirt_session_xml(h->lv, hv->domid, &domxml) <= 0)
		return 0; /* not known to the session (yet) */
	if (h->cfg.use_metadata) {
		ret = xpv_xml_domain_metadata(domxml, XPV_HOMING_XMLNS, &meta, err);
		if (ret < 0) {
			free(domxml);
			return xpv_error_wrap(err, "reading libvirt metadata");
		}
	}
	if (!h->cfg.use_numatune) {
		free(domxml);
		domxml = NULL;
	}
	if (domxml && !p->qmp) {
		if (homing_numatune_parse(domxml, md, nr_md, &dflt, err) < 0) {
			xpv_error_wrap(err, "libvirt domain XML");
		} else {
			if (p->default_home < 0 && dflt >= 0)
				p->default_home = dflt;
			if (*nr_md || dflt >= 0)
				hv->home_src = "numatune";
		}
	}
	/* metadata applies to a copy, so a bad value changes nothing */
	t = *p;
	if (meta && h->cfg.use_metadata && !*err) {
		if (homing_meta_apply(meta, &t, err) < 0) {
			xpv_error_wrap(err, "libvirt metadata");
		} else {
			*p = t;
			hv->policy_src = "libvirt";
		}
	}
	free(meta);
	free(domxml);
	return *err ? -1 : 0;
}

static void setup(struct homing *h, struct hvm *hv, uint64_t now)
{
	struct xpv_error *e = NULL;
	struct homing_params p;
	struct mh_memdev *md = NULL;
	struct mh_vm_opts o;
	int nr_md = 0;
	bool resolved;

	hv->retry_ns = now + h->cfg.retry_ns;
	resolved = resolve(h, hv, &p, &md, &nr_md, &e) == 0;
	if (resolved) {
		if (hv->degraded && !strncmp(hv->degraded, "homing: ", 8))
			clear_degraded(hv);
	} else {
		/* say so, and run with what could be resolved */
		set_degraded(hv, "homing", &e);
	}
	homing_params_free(&hv->p);
	hv->p = p;
	if (hv->p.policy < 0) {
		free(md);
		return; /* not managed */
	}
	mh_vm_opts_init(&o);
	o.pid = hv->pid;
	o.name = hv->name;
	o.qmp_path = hv->p.qmp;
	o.qmp_timeout_ms = homing_qmp_timeout_ms(h);
	o.memdevs = md;
	o.nr_memdevs = nr_md;
	hv->nr_memdevs = nr_md;
	o.specs = hv->p.specs;
	o.nr_specs = hv->p.nr_specs;
	o.default_home = hv->p.default_home;
	/* Explicit ranges without "*": those ranges only, no guessing. */
	for (int i = 0; i < hv->p.nr_specs; i++)
		if (!hv->p.specs[i].memdev[0] && hv->p.default_home < 0)
			o.auto_detect = false;
	o.min_region_size = hv->p.min_region_bytes;
	o.policy.kind = hv->p.policy;
	o.policy.period_ns = hv->p.period_ns;
	o.policy.threshold_bytes = hv->p.threshold_bytes;
	o.policy.scan_interval_ns = hv->p.scan_interval_ns;
	o.policy.min_gap_ns = hv->p.min_gap_ns;
	o.rate_bytes_per_s = hv->p.rate_bytes_per_s;
	o.cpu_budget_ppm = hv->p.cpu_budget_ppm;
	if (mh_vm_new(&o, &hv->mh, &e) < 0) {
		free(md);
		hv->mh = NULL;
		xpv_error_wrap(&e, "pid %d", hv->pid);
		set_degraded(hv, "setting up", &e);
		return;
	}
	free(md);
	if (resolved)
		clear_degraded(hv);
	mh_vm_set_event_fn(hv->mh, on_event, hv);
	hv->next_ns = now;
	fprintf(stderr, "xpvd: homing: vm %s: pid %d, %d region(s), policy %s (%s)\n", hv->name,
		hv->pid, mh_vm_nr_regions(hv->mh), mh_policy_kind_name(hv->p.policy),
		hv->policy_src);
}

/* Metadata edits (`virsh metadata`) take effect: a new mh_vm if they change. */
static void recheck(struct homing *h, struct hvm *hv)
{
	struct xpv_error *e = NULL;
	struct homing_params p;
	struct mh_memdev *md = NULL;
	int nr_md = 0;
	uint64_t gen;

	/* only when the session saw the domain change (metadata-change or
	 * lifecycle event) */
	if (hv->kind != XPV_VM_LIBVIRT || !h->cfg.use_metadata)
		return;
	gen = identify(h, hv);
	if (!gen || gen == hv->meta_gen)
		return;
	if (resolve(h, hv, &p, &md, &nr_md, &e) < 0) {
		set_degraded(hv, "homing", &e);
	} else if (hv->degraded && !strncmp(hv->degraded, "homing: ", 8) &&
		   same_params(&p, &hv->p)) {
		clear_degraded(hv); /* the metadata was fixed back */
	} else if (!same_params(&p, &hv->p) || nr_md != hv->nr_memdevs) {
		fprintf(stderr, "xpvd: homing: vm %s: parameters changed, restarting\n", hv->name);
		drop_mh(hv);
		hv->retry_ns = 0;
	}
	homing_params_free(&p);
	free(md);
}

/* ---- the controller ---------------------------------------------------- */

static void homing_shutdown(void *priv);

static int homing_init(void **priv, const struct xpv_host *host, struct xpv_error **err)
{
	struct homing *h = calloc(1, sizeof(*h));

	if (!h)
		return xpv_error_set(err, ENOMEM, "homing");
	h->host = host;
	h->vhost_kthreads = mh_vhost_kthread_model(NULL);
	if (homing_config_parse(config_section(host->cfg, "homing"), &h->cfg, err) < 0 ||
	    (h->cfg.log_path &&
	     homing_log_open(h->cfg.log_path, h->cfg.log_csv, &h->log, err) < 0)) {
		homing_shutdown(h);
		return -1;
	}
	/* <xpvh:homing> metadata can turn homing on for a domain */
	if (host->cfg->libvirt && (h->cfg.use_metadata || h->cfg.use_numatune) &&
	    libvirt_session_get(h->cfg.libvirt_uri,
				json_object_get(config_section(host->cfg, "homing"), "libvirt_uri"),
				&h->lv, err) < 0) {
		xpv_error_wrap(err, "homing.libvirt_uri");
		homing_shutdown(h);
		return -1;
	}
	*priv = h;
	return 0;
}

static struct hvm *find_vm(struct homing *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->vms[i]->name, name))
			return h->vms[i];
	return NULL;
}

/* Two domains may share a mangled name: libvirt ones are told apart by id. */
static struct hvm *find_discovered(struct homing *h, const struct xpv_vm *d)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->vms[i]->domid == d->domid && !strcmp(h->vms[i]->name, d->name))
			return h->vms[i];
	return NULL;
}

static void free_vm(struct hvm *hv)
{
	vhost_stop(hv);
	mh_vm_free(hv->mh);
	homing_params_free(&hv->p);
	free(hv->degraded);
	free(hv->domain);
	free(hv->name);
	free(hv);
}

static struct hvm *add_vm(struct homing *h, const struct xpv_vm *d)
{
	struct hvm **nv = realloc(h->vms, (h->n + 1) * sizeof(*nv)), *hv;

	if (!nv)
		return NULL;
	h->vms = nv;
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return NULL;
	hv->name = strdup(d->name);
	if (!hv->name) {
		free(hv);
		return NULL;
	}
	hv->kind = d->kind;
	hv->domid = d->domid;
	hv->first_seen_ns = xpv_now_ns();
	hv->h = h;
	hv->p.policy = -1;
	hv->policy_src = "none";
	hv->home_src = "numa_maps";
	hv->vh.ops = &vhost_affinity_sched;
	h->vms[h->n++] = hv;
	return hv;
}

/* Returns false when the period's budget was spent before this VM's turn. */
static bool tick_vm(struct homing *h, struct hvm *hv, const struct xpv_vm *d, uint64_t now)
{
	uint64_t slice, t0;
	struct xpv_error *e = NULL;
	uint64_t next = 0;
	int ret;

	/* Look for the process only while there is none being managed: its
	 * exit is reported by the library (-ESRCH). */
	if (!hv->mh || hv->exited) {
		int pid;

		if (now < hv->retry_ns)
			return true;
		hv->retry_ns = now + h->cfg.retry_ns;
		identify(h, hv);
		pid = homing_find_pid(vm_config(h, hv)->pid_file, d, hv->domain);
		if (pid && pid != hv->pid) {
			if (hv->mh)
				fprintf(stderr, "xpvd: homing: vm %s: process %d replaced by %d\n",
					hv->name, hv->pid, pid);
			drop_mh(hv);
			hv->pid = pid;
		} else if (!pid && !hv->mh) {
			hv->pid = 0;
		}
		/* an exited process keeps its last status until another appears */
		if (!pid || pid == hv->exited_pid)
			return true;
		/* a domain's policy and home nodes come from libvirt: wait for
		 * the session to know it (it is running: it has a cgroup), up
		 * to LIBVIRT_WAIT_NS; with libvirtd away, go on with the config */
		if (hv->kind == XPV_VM_LIBVIRT && !hv->mh && h->lv && !identify(h, hv) &&
		    now < hv->first_seen_ns + LIBVIRT_WAIT_NS) {
			hv->retry_ns = now; /* look again next period */
			return true;
		}
		if (!hv->mh)
			setup(h, hv, now);
		if (!hv->mh)
			return true;
	}
	recheck(h, hv);
	if (!hv->mh || now < hv->next_ns)
		return true;
	/* one time budget for all VMs in a period (round robin) */
	slice = homing_budget_slice(&h->budget, MH_SLICE_NS);
	if (!slice)
		return false;
	mh_vm_set_slice(hv->mh, slice);
	t0 = xpv_now_ns();
	ret = mh_vm_tick(hv->mh, now, &next, &e);
	h->budget.spent_ns += xpv_now_ns() - t0;
	if (ret == -ESRCH) {
		/* QEMU exited (shutdown, end of a migration): keep the last
		 * numbers for status, never touch that pid again */
		fprintf(stderr, "xpvd: homing: vm %s: process %d exited\n", hv->name, hv->pid);
		xpv_error_free(&e);
		hv->exited = true;
		hv->exited_pid = hv->pid;
		return true;
	}
	if (ret < 0) {
		set_degraded(hv, "tick", &e);
		hv->next_ns = now + h->cfg.retry_ns;
		return true;
	}
	if (hv->degraded && !strncmp(hv->degraded, "tick: ", 6))
		clear_degraded(hv);
	hv->next_ns = next;
	return true;
}

/* The CPUs of the nodes the VM's regions are homed on; false when none. */
static bool home_cpus(const struct hvm *hv, cpu_set_t *set)
{
	struct bitmask *bm = numa_allocate_cpumask();
	uint64_t seen = 0;

	CPU_ZERO(set);
	if (!bm)
		return false;
	for (int i = 0; i < mh_vm_nr_regions(hv->mh); i++) {
		int node = mh_vm_region(hv->mh, i)->home;

		if (node < 0 || node >= 64 || (seen & (1ull << node)))
			continue;
		seen |= 1ull << node;
		if (numa_node_to_cpus(node, bm) < 0)
			continue;
		for (unsigned int c = 0; c < bm->size && c < CPU_SETSIZE; c++)
			if (numa_bitmask_isbitset(bm, c))
				CPU_SET(c, set);
	}
	numa_free_cpumask(bm);
	return CPU_COUNT(set) > 0;
}

/* Lists the vhost workers of a VM homing runs for, and keeps them on its
 * home CPUs with vhost_affinity "home"; otherwise puts back what it changed. */
static void vhost_tick(struct homing *h, struct hvm *hv)
{
	struct xpv_error *e = NULL;
	cpu_set_t home;

	if (!hv->mh || hv->exited || hv->p.policy < 0) {
		vhost_stop(hv);
		return;
	}
	free(hv->vw);
	hv->vw = NULL;
	hv->n_vw = 0;
	if (mh_vhost_workers("/proc", hv->pid, h->kthreads, h->n_kthreads, &hv->vw, &hv->n_vw, &e) <
	    0) {
		xpv_error_free(&e); /* exited: the library says so at its tick */
		return;
	}
	/* keep: listed (status, metrics), not pinned */
	if (hv->p.vhost != HOMING_VHOST_HOME) {
		homing_vhost_release(&hv->vh);
		return;
	}
	if (!home_cpus(hv, &home))
		return; /* no home known (yet) */
	if (homing_vhost_sync(&hv->vh, hv->vw, hv->n_vw, &home, &e) > 0)
		set_degraded(hv, "vhost", &e);
	else if (hv->degraded && !strncmp(hv->degraded, "vhost: ", 7))
		clear_degraded(hv);
	xpv_error_free(&e);
}

static void vhost_scan(struct homing *h, uint64_t now)
{
	struct xpv_error *e = NULL;

	if (now < h->vhost_next_ns)
		return;
	h->vhost_next_ns = now + VHOST_SCAN_NS;
	free(h->kthreads);
	h->kthreads = NULL;
	h->n_kthreads = 0;
	if (h->vhost_kthreads && mh_vhost_kthreads("/proc", &h->kthreads, &h->n_kthreads, &e) < 0) {
		xpv_error_wrap(&e, "homing: vhost kernel threads");
		xpv_error_report(&e, "xpvd");
	}
	for (size_t i = 0; i < h->n; i++)
		vhost_tick(h, h->vms[i]);
}

static int homing_tick(void *priv, const struct xpv_vm_list *vms, uint64_t period_ns,
		       struct xpv_error **err)
{
	struct homing *h = priv;
	uint64_t now = xpv_now_ns();

	(void)period_ns;
	(void)err;
	size_t first = vms->n ? h->budget.next % vms->n : 0, skipped = SIZE_MAX;

	h->ticks++;
	h->budget.budget_ns = h->cfg.tick_budget_ns;
	h->budget.spent_ns = 0;
	for (size_t i = 0; i < h->n; i++)
		h->vms[i]->seen = 0;
	for (size_t j = 0; j < vms->n; j++) {
		size_t i = (first + j) % vms->n;
		const struct xpv_vm *d = &vms->vms[i];
		struct hvm *hv = find_discovered(h, d);

		if (!hv && !(hv = add_vm(h, d)))
			continue;
		hv->seen = 1;
		if (!tick_vm(h, hv, d, now) && skipped == SIZE_MAX) {
			skipped = i;
			h->budget_skips++;
		}
	}
	/* who was left out goes first next period, else move on by one */
	h->budget.next = skipped != SIZE_MAX ? skipped : first + 1;
	for (size_t i = 0; i < h->n;) {
		if (h->vms[i]->seen) {
			i++;
			continue;
		}
		if (h->vms[i]->mh)
			fprintf(stderr, "xpvd: homing: vm %s: gone\n", h->vms[i]->name);
		free_vm(h->vms[i]);
		h->vms[i] = h->vms[--h->n];
	}
	vhost_scan(h, now);
	return 0;
}

static const char *vm_state(const struct hvm *hv)
{
	if (hv->p.policy < 0)
		return "unmanaged";
	if (!hv->pid)
		return "no-process";
	if (hv->exited)
		return "exited";
	if (!hv->mh)
		return "waiting";
	return mh_vm_pass_active(hv->mh) ? "repatriating" : "monitoring";
}

static json_t *region_json(const struct mh_region *r)
{
	json_t *nodes = json_object();
	char k[16];

	for (int n = 0; n < MH_MAX_NODES; n++)
		if (r->node_bytes[n] || n == r->home) {
			snprintf(k, sizeof(k), "%d", n);
			json_object_set_new(nodes, k, json_integer((json_int_t)r->node_bytes[n]));
		}
	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:b}", "region",
			 r->name, "start", "", "end", "", "home", r->home, "home_source",
			 mh_home_source_name(r->home_src), "policy", r->policy, "page_size",
			 (json_int_t)r->page_size, "resident_bytes", (json_int_t)r->resident_bytes,
			 "remote_bytes", (json_int_t)r->remote_bytes, "bytes_per_node", nodes,
			 "other_node_bytes", (json_int_t)r->other_node_bytes, "hugetlb",
			 r->hugetlb);
}

static bool pinned(const struct hvm *hv, const struct mh_vhost_worker *w)
{
	for (size_t i = 0; i < hv->vh.n; i++)
		if (hv->vh.pins[i].w.tid == w->tid && hv->vh.pins[i].held)
			return true;
	return false;
}

static json_t *vhost_status(const struct hvm *hv)
{
	json_t *ws = json_array();

	for (size_t i = 0; i < hv->n_vw; i++) {
		const struct mh_vhost_worker *w = &hv->vw[i];

		json_array_append_new(
			ws, json_pack("{s:i, s:s, s:i, s:i, s:i, s:b}", "tid", (int)w->tid, "kind",
				      mh_vhost_kind_name(w->kind), "owner", (int)w->owner, "cpu",
				      w->cpu, "node", w->cpu >= 0 ? numa_node_of_cpu(w->cpu) : -1,
				      "pinned", pinned(hv, w)));
	}
	return json_pack("{s:s, s:o, s:I, s:I, s:I, s:I}", "affinity",
			 homing_vhost_mode_name(hv->p.vhost), "workers", ws, "pins",
			 (json_int_t)hv->vh.pins_total, "repins", (json_int_t)hv->vh.repins_total,
			 "adopted", (json_int_t)hv->vh.adopted_total, "restored",
			 (json_int_t)hv->vh.restored_total);
}

static json_t *vm_status(const struct hvm *hv, uint64_t now)
{
	json_t *o, *regions = json_array(), *unmov = json_object();
	struct mh_vm_stats st = {0};
	uint64_t psz = 4096;
	char addr[32];

	if (hv->mh) {
		mh_vm_stats(hv->mh, &st);
		for (int i = 0; i < mh_vm_nr_regions(hv->mh); i++) {
			const struct mh_region *r = mh_vm_region(hv->mh, i);
			json_t *rj = region_json(r);

			snprintf(addr, sizeof(addr), "0x%" PRIx64, r->start);
			json_object_set_new(rj, "start", json_string(addr));
			snprintf(addr, sizeof(addr), "0x%" PRIx64, r->end);
			json_object_set_new(rj, "end", json_string(addr));
			json_array_append_new(regions, rj);
			if (i == 0 && r->page_size)
				psz = r->page_size;
		}
	}
	for (int u = 0; u < MH_UNMOV__COUNT; u++)
		json_object_set_new(unmov, mh_unmovable_name(u),
				    json_integer((json_int_t)st.unmovable_pages[u]));
	o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, "
		      "s:I, s:I, s:f, s:f, s:o}",
		      "vm", hv->name, "kind", hv->kind == XPV_VM_PLAIN ? "cgroup" : "libvirt",
		      "pid", hv->pid, "policy",
		      hv->p.policy < 0 ? "none" : mh_policy_kind_name(hv->p.policy),
		      "policy_source", hv->policy_src, "home_source", hv->home_src, "state",
		      vm_state(hv), "resident_bytes", (json_int_t)st.resident_bytes, "remote_bytes",
		      (json_int_t)st.remote_bytes, "passes", (json_int_t)st.passes, "moved_bytes",
		      (json_int_t)st.moved_bytes_total, "moved_pages",
		      (json_int_t)(st.moved_bytes_total / psz), "unmovable_pages", unmov,
		      "backoff_ranges", (json_int_t)st.backoff_ranges, "given_up_ranges",
		      (json_int_t)st.given_up_ranges, "given_up_bytes",
		      (json_int_t)st.given_up_bytes, "scan_seconds", st.scan_ns_total / 1e9,
		      "migrate_cpu_seconds", st.migrate_cpu_ns_total / 1e9, "regions", regions);
	if (!o)
		return json_null();
	if (hv->p.policy >= 0) {
		json_object_set_new(o, "threshold_bytes",
				    json_integer((json_int_t)hv->p.threshold_bytes));
		json_object_set_new(o, "period_s", json_real(hv->p.period_ns / 1e9));
	}
	/* seconds since the last pass ended (null: none yet) */
	json_object_set_new(o, "last_pass_s",
			    hv->last_pass_end_ns ? json_real((now - hv->last_pass_end_ns) / 1e9)
						 : json_null());
	json_object_set_new(o, "last_pass_moved_bytes",
			    json_integer((json_int_t)hv->last_pass_moved));
	if (hv->degraded)
		json_object_set_new(o, "degraded", json_string(hv->degraded));
	json_object_set_new(o, "vhost", vhost_status(hv));
	if (hv->domain) {
		json_object_set_new(o, "domain", json_string(hv->domain));
		json_object_set_new(o, "uuid", json_string(hv->uuid));
	}
	return o;
}

static json_t *homing_status(void *priv)
{
	struct homing *h = priv;
	json_t *arr = json_array();
	uint64_t now = xpv_now_ns();

	for (size_t i = 0; i < h->n; i++)
		json_array_append_new(arr, vm_status(h->vms[i], now));
	return json_pack("{s:o, s:f, s:I}", "vms", arr, "tick_budget_ms",
			 h->cfg.tick_budget_ns / 1e6, "budget_exhausted_periods",
			 (json_int_t)h->budget_skips);
}

/* ---- metrics: through the shared writer (prom.c), grouped by family ---- */

struct samples {
	struct prom_set *set;
	const char *vm;
};

static void collect(const char *name, const char *help, const char *label_key, const char *label,
		    int node, double value, void *arg)
{
	struct samples *s = arg;
	const char *labels[7] = {"vm", s->vm};
	char nodestr[16];
	size_t n = 2;

	if (label_key && label) {
		labels[n++] = label_key;
		labels[n++] = label;
	}
	if (node >= 0) {
		snprintf(nodestr, sizeof(nodestr), "%d", node);
		labels[n++] = "node";
		labels[n++] = nodestr;
	}
	labels[n] = NULL;
	prom_set_add(s->set, name, help, labels, value);
}

static void vhost_metrics(const struct hvm *hv, struct samples *s)
{
	int per_node[MH_MAX_NODES] = {0};

	if (hv->p.policy < 0)
		return;
	for (size_t i = 0; i < hv->n_vw; i++) {
		int node = hv->vw[i].cpu >= 0 ? numa_node_of_cpu(hv->vw[i].cpu) : -1;

		if (node >= 0 && node < MH_MAX_NODES)
			per_node[node]++;
	}
	for (int n = 0; n < MH_MAX_NODES; n++)
		if (per_node[n] ||
		    (n <= numa_max_node() && numa_bitmask_isbitset(numa_nodes_ptr, n)))
			collect("xpvd_homing_vhost_workers",
				"vhost workers of the VM by the node of the CPU they last ran on",
				NULL, NULL, n, per_node[n], s);
	collect("xpvd_homing_vhost_pins_total",
		"vhost workers pinned to the VM's home CPUs when first seen", NULL, NULL, -1,
		(double)hv->vh.pins_total, s);
	collect("xpvd_homing_vhost_repins_total",
		"vhost workers pinned again (affinity changed from outside, new home)", NULL, NULL,
		-1, (double)hv->vh.repins_total, s);
	collect("xpvd_homing_vhost_adopted_total",
		"vhost worker affinities changed from outside and adopted as the original", NULL,
		NULL, -1, (double)hv->vh.adopted_total, s);
}

static void homing_metrics(void *priv, FILE *f)
{
	struct homing *h = priv;
	struct samples s = {prom_set_new(), NULL};

	for (size_t i = 0; i < h->n; i++) {
		struct hvm *hv = h->vms[i];

		s.vm = hv->name;
		if (hv->mh)
			mh_vm_metrics(hv->mh, collect, &s);
		if (hv->p.policy >= 0)
			collect("xpvd_homing_degraded", "1 when the VM's homing has a problem",
				NULL, NULL, -1, hv->degraded ? 1 : 0, &s);
		vhost_metrics(hv, &s);
	}
	prom_set_write(s.set, f);
}

/* ---- xpvctl ------------------------------------------------------------ */

struct findings {
	json_t *arr;
};

static void finding(enum mh_severity sev, const char *code, const char *msg, void *arg)
{
	struct findings *fs = arg;

	json_array_append_new(fs->arr,
			      json_pack("{s:s, s:s, s:s}", "severity", mh_severity_name(sev),
					"code", code, "message", msg));
}

static int audit(struct homing *h, const char *name, json_t **reply, struct xpv_error **err)
{
	struct hvm *hv = find_vm(h, name);
	struct mh_audit_opts ao = {.proc_root = "/proc", .sys_root = "/sys"};
	struct findings fs;
	int rc;

	if (!hv)
		return xpv_error_set(err, ENOENT, "audit: no VM `%s`", name);
	if (!hv->pid || hv->exited)
		return xpv_error_set(err, ESRCH, "audit: VM `%s` has no running process", name);
	ao.pid = hv->pid;
	ao.qmp_path = hv->p.qmp;
	ao.qmp_timeout_ms = homing_qmp_timeout_ms(h);
	ao.min_region_size = hv->p.min_region_bytes ? hv->p.min_region_bytes : 64ull << 20;
	fs.arr = json_array();
	rc = mh_audit(&ao, finding, &fs, err);
	if (rc < 0) {
		json_decref(fs.arr);
		return xpv_error_wrap(err, "audit of `%s`", name);
	}
	*reply = json_pack("{s:s, s:i, s:o, s:i}", "vm", name, "pid", hv->pid, "findings", fs.arr,
			   "warnings", rc);
	return 1;
}

static int homing_command(void *priv, int argc, char **argv, json_t **reply, struct xpv_error **err)
{
	struct homing *h = priv;
	struct hvm *hv;
	uint64_t now = xpv_now_ns();

	if (!strcmp(argv[0], "audit")) {
		if (argc != 2)
			return xpv_error_set(err, EINVAL, "usage: audit VM");
		return audit(h, argv[1], reply, err);
	}
	if (strcmp(argv[0], "homing"))
		return 0;
	if (argc >= 2 && !strcmp(argv[1], "status") && argc <= 3) {
		if (argc == 2) {
			*reply = homing_status(h);
			return 1;
		}
		hv = find_vm(h, argv[2]);
		if (!hv)
			return xpv_error_set(err, ENOENT, "homing status: no VM `%s`", argv[2]);
		*reply = json_pack("{s:[o]}", "vms", vm_status(hv, now));
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "repatriate")) {
		hv = find_vm(h, argv[2]);
		if (!hv)
			return xpv_error_set(err, ENOENT, "homing repatriate: no VM `%s`", argv[2]);
		if (!hv->mh || hv->exited)
			return xpv_error_set(err, ESRCH, "homing repatriate: VM `%s` is %s",
					     argv[2], vm_state(hv));
		mh_vm_request_pass(hv->mh);
		hv->next_ns = 0;
		*reply = json_pack("{s:s, s:b}", "vm", argv[2], "requested", 1);
		return 1;
	}
	return xpv_error_set(err, EINVAL, "usage: homing status [VM] | homing repatriate VM");
}

static void homing_shutdown(void *priv)
{
	struct homing *h = priv;

	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		free_vm(h->vms[i]);
	free(h->vms);
	free(h->kthreads);
	libvirt_session_put(h->lv);
	homing_log_close(h->log);
	homing_config_free(&h->cfg);
	free(h);
}

const struct xpv_controller homing_controller = {
	.name = "homing",
	.init = homing_init,
	.tick = homing_tick,
	.status = homing_status,
	.metrics = homing_metrics,
	.command = homing_command,
	.shutdown = homing_shutdown,
};
