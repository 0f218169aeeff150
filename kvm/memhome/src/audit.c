// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "memhome.h"
#include "numa-maps.h"
#include "qmp.h"
#include "regions.h"
#include "vhost.h"

struct ctx {
	mh_finding_fn fn;
	void *arg;
	int warnings;
	bool numa_balancing;
	bool unbound_ram;
	uint64_t home_nodes; /* union of the RAM's bind/prefer nodes */
};

__attribute__((format(printf, 4, 5))) static void say(struct ctx *c, enum mh_severity sev,
						      const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sev == MH_SEV_WARN)
		c->warnings++;
	c->fn(sev, code, msg, c->arg);
}

const char *mh_severity_name(enum mh_severity s)
{
	return s == MH_SEV_WARN ? "warn" : s == MH_SEV_INFO ? "info" : "ok";
}

/* First integer in a small proc/sys file; -1 if absent. */
static long read_long(const char *root, const char *rel)
{
	char path[512];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void check_host(struct ctx *c, const struct mh_audit_opts *o)
{
	long run = read_long(o->sys_root, "kernel/mm/ksm/run");
	long mac = read_long(o->sys_root, "kernel/mm/ksm/merge_across_nodes");
	long nb = read_long(o->proc_root, "sys/kernel/numa_balancing");

	if (run < 0)
		say(c, MH_SEV_OK, "ksm", "KSM not available");
	else if (run == 1 && mac == 1)
		say(c, MH_SEV_WARN, "ksm-merge-across-nodes",
		    "KSM runs with merge_across_nodes=1: identical pages of different nodes merge "
		    "into one stable page on one node, outside any VMA policy; set "
		    "/sys/kernel/mm/ksm/merge_across_nodes=0 (needs run=2 to unmerge first) or "
		    "merge=off on the memory backends");
	else if (run == 1)
		say(c, MH_SEV_OK, "ksm", "KSM runs with merge_across_nodes=0 (merges per node)");
	else
		say(c, MH_SEV_OK, "ksm", "KSM not running (run=%ld)", run);
	c->numa_balancing = nb > 0;
	if (nb < 0)
		say(c, MH_SEV_OK, "numa-balancing", "kernel.numa_balancing not available");
	else if (nb == 0)
		say(c, MH_SEV_OK, "numa-balancing", "kernel.numa_balancing=0");
	else
		say(c, MH_SEV_INFO, "numa-balancing",
		    "kernel.numa_balancing=%ld: it migrates pages toward the threads that touch "
		    "them; for RAM bound to its home node it only moves within the bound set, "
		    "for unbound RAM it can pull pages toward vhost/iothreads and undo "
		    "repatriation (see docs/memhome.md)",
		    nb);
}

static void check_balloon(struct ctx *c, struct mh_qmp *q, const char *parent)
{
	json_t *args = json_pack("{s:s}", "path", parent), *ret = NULL, *item;
	struct xpv_error *err = NULL;
	size_t i;

	if (!args)
		return;
	if (mh_qmp_execute(q, "qom-list", args, &ret, &err)) {
		xpv_error_free(&err);
		json_decref(args);
		return;
	}
	json_decref(args);
	json_array_foreach (ret, i, item) {
		const char *name = json_string_value(json_object_get(item, "name"));
		const char *type = json_string_value(json_object_get(item, "type"));
		char path[512];
		json_t *get, *val = NULL;

		if (!name || !type || !strstr(type, "virtio-balloon"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, name);
		say(c, MH_SEV_WARN, "balloon",
		    "balloon device %s: inflated pages are discarded and re-fault on deflate on "
		    "whichever thread touches them first",
		    path);
		get = json_pack("{s:s, s:s}", "path", path, "property", "free-page-reporting");
		if (get && !mh_qmp_execute(q, "qom-get", get, &val, &err) && json_is_true(val))
			say(c, MH_SEV_WARN, "free-page-reporting",
			    "%s has free-page-reporting=on: every page the guest frees is "
			    "discarded "
			    "and its next use re-faults, possibly on a remote node",
			    path);
		xpv_error_free(&err);
		json_decref(get);
		json_decref(val);
	}
	json_decref(ret);
}

static int check_qmp(struct ctx *c, const struct mh_audit_opts *o, struct xpv_error **err)
{
	struct mh_memdev *md = NULL;
	struct mh_qmp *q;
	json_t *ret = NULL;
	long ksm_run = read_long(o->sys_root, "kernel/mm/ksm/run");
	int n = 0, rc;

	rc = mh_qmp_open(o->qmp_path, o->qmp_timeout_ms ? o->qmp_timeout_ms : 5000, &q, err);
	if (rc)
		return rc;
	rc = mh_qmp_execute(q, "query-memdev", NULL, &ret, err);
	rc = rc ?: mh_memdev_parse(ret, &md, &n, err);
	json_decref(ret);
	if (rc)
		goto out;
	if (n == 0)
		say(c, MH_SEV_WARN, "ram-no-memdev",
		    "guest RAM is not a memory backend (-m without memdev): it has no NUMA policy; "
		    "use -object memory-backend-*,host-nodes=N,policy=bind");
	for (int i = 0; i < n; i++) {
		if (strcmp(md[i].policy, "bind")) {
			c->unbound_ram = true;
			say(c, MH_SEV_WARN, "ram-unbound",
			    "memdev `%s` has policy=%s: new pages land on whichever node the "
			    "faulting thread (vCPU, vhost worker, iothread) is on; use "
			    "host-nodes=N,policy=bind",
			    md[i].id, md[i].policy);
		} else {
			say(c, MH_SEV_OK, "ram-bound",
			    "memdev `%s` bound to host-nodes mask 0x%" PRIx64, md[i].id,
			    md[i].host_nodes);
		}
		c->home_nodes |= md[i].host_nodes;
		if (md[i].merge && ksm_run == 1)
			say(c, MH_SEV_INFO, "ram-mergeable",
			    "memdev `%s` has merge=on and KSM runs: merged pages ignore its policy "
			    "unless merge_across_nodes=0",
			    md[i].id);
	}
	check_balloon(c, q, "/machine/peripheral");
	check_balloon(c, q, "/machine/peripheral-anon");
out:
	free(md);
	mh_qmp_close(q);
	return rc;
}

static int check_maps(struct ctx *c, const struct mh_audit_opts *o, struct xpv_error **err)
{
	struct mh_vm_opts vo;
	struct mh_region *r = NULL;
	int n = 0, rc;

	mh_vm_opts_init(&vo);
	vo.pid = o->pid;
	vo.proc_root = o->proc_root;
	if (o->min_region_size)
		vo.min_region_size = o->min_region_size;
	rc = mh_regions_discover(&vo, NULL, 0, &r, &n, err);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++) {
		int h = mh_policy_home_node(r[i].policy);

		if (h < 0) {
			c->unbound_ram = true;
			say(c, MH_SEV_WARN, "ram-unbound",
			    "mapping 0x%" PRIx64 " (%" PRIu64 " MiB) has VMA policy %s: pages go "
			    "where they are first touched",
			    r[i].start, (r[i].end - r[i].start) >> 20, r[i].policy);
		} else {
			c->home_nodes |= 1ull << (h & 63);
		}
	}
	free(r);
	return 0;
}

/* The nodes of the CPUs in a Cpus_allowed_list line of /proc/TID/status; 0 if unknown. */
static uint64_t allowed_nodes(const char *proc_root, int pid, const struct mh_vhost_worker *w)
{
	char path[512], line[4096] = "";
	struct bitmask *cpus;
	uint64_t nodes = 0;
	FILE *f;

	if (w->kind == MH_VHOST_THREAD)
		snprintf(path, sizeof(path), "%s/%d/task/%d/status", proc_root, pid, (int)w->tid);
	else
		snprintf(path, sizeof(path), "%s/%d/status", proc_root, (int)w->tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cpus_allowed_list:", 18))
			break;
	fclose(f);
	if (numa_available() < 0 || strncmp(line, "Cpus_allowed_list:", 18))
		return 0;
	line[strcspn(line, "\n")] = '\0';
	cpus = numa_parse_cpustring_all(line + 18);
	if (!cpus)
		return 0;
	for (unsigned int cpu = 0; cpu < cpus->size; cpu++)
		if (numa_bitmask_isbitset(cpus, cpu) && numa_node_of_cpu(cpu) >= 0)
			nodes |= 1ull << (numa_node_of_cpu(cpu) & 63);
	numa_bitmask_free(cpus);
	return nodes;
}

/*
 * vhost workers first-touch RX buffers: kernel threads `vhost-<tid>` up to
 * Linux 6.3, QEMU threads from 6.4 (vhost.h).  Both are looked for, whatever
 * the running kernel, so an audit of a fake tree or of a backport is right.
 */
static void check_vhost(struct ctx *c, const struct mh_audit_opts *o)
{
	struct mh_vhost_worker *kt = NULL, *w = NULL;
	struct xpv_error *e = NULL;
	size_t nkt = 0, nw = 0;

	if (mh_vhost_kthreads(o->proc_root, &kt, &nkt, &e) < 0 ||
	    mh_vhost_workers(o->proc_root, o->pid, kt, nkt, &w, &nw, &e) < 0) {
		say(c, MH_SEV_INFO, "vhost-placement", "vhost workers of pid %d not known: %s",
		    o->pid, e && e->msg ? e->msg : "failed");
		xpv_error_free(&e);
		free(kt);
		return;
	}
	for (size_t i = 0; i < nw; i++) {
		uint64_t nodes = allowed_nodes(o->proc_root, o->pid, &w[i]);
		const char *kind = mh_vhost_kind_name(w[i].kind);

		if (!nodes)
			continue;
		if (c->home_nodes && (nodes & ~c->home_nodes))
			say(c, MH_SEV_WARN, "vhost-placement",
			    "vhost worker %d (%s vhost-%d) may run on nodes 0x%" PRIx64
			    " outside the RAM's home 0x%" PRIx64
			    ": its first touches of RX buffers land there unless RAM is bound",
			    (int)w[i].tid, kind, (int)w[i].owner, nodes, c->home_nodes);
		else
			say(c, MH_SEV_OK, "vhost-placement",
			    "vhost worker %d (%s vhost-%d) runs on nodes 0x%" PRIx64
			    " (RAM home 0x%" PRIx64 ")",
			    (int)w[i].tid, kind, (int)w[i].owner, nodes, c->home_nodes);
	}
	if (!nw)
		say(c, MH_SEV_OK, "vhost-placement",
		    "no vhost worker of pid %d (neither a thread nor a kernel thread vhost-<tid> "
		    "of it)",
		    o->pid);
	free(kt);
	free(w);
}

int mh_audit(const struct mh_audit_opts *o, mh_finding_fn fn, void *arg, struct xpv_error **err)
{
	struct ctx c = {.fn = fn, .arg = arg};
	int rc;

	check_host(&c, o);
	if (o->qmp_path) {
		rc = check_qmp(&c, o, err);
		if (rc)
			return rc;
	} else if (o->pid > 0) {
		rc = check_maps(&c, o, err);
		if (rc)
			return rc;
	}
	if (o->pid > 0)
		check_vhost(&c, o);
	if (c.numa_balancing && c.unbound_ram)
		say(&c, MH_SEV_WARN, "numa-balancing-unbound",
		    "automatic NUMA balancing is on and guest RAM is unbound: balancing may move "
		    "pages toward non-vCPU threads between repatriation passes; bind the RAM or "
		    "expect repeated repair");
	return c.warnings;
}
