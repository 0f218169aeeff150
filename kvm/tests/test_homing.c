// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of xpvd's homing controller (cmocka; CMOCKA_MESSAGE_OUTPUT=TAP):
 * the "homing" configuration section (every error names its key), the
 * <xpv:homing> metadata attributes, home nodes from a libvirt domain's
 * <numatune>, and the controller end to end on a child process standing in
 * for QEMU: regions found and measured, status, metrics, audit, and the
 * process exiting under it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "controller.h"
#include "homing_cfg.h"
#include "util.h"

static const char *const sections[] = {"kyoto", "homing", NULL};

/* The section as xpvd loads it: through config_load_string and init. */
static int load(const char *section, struct xpv_config *cfg, void **priv, struct xpv_error **e)
{
	static struct xpv_state st;
	static struct xpv_host h;
	char json[4096];
	int ret;

	snprintf(json, sizeof(json), "{\"homing\": %s}", section);
	ret = config_load_string(cfg, json, sections, e);
	if (ret < 0)
		return ret;
	h = (struct xpv_host){cfg, NULL, "/nonexistent", &st};
	return homing_controller.init(priv, &h, e);
}

static void expect_error(const char *section, const char *needle)
{
	struct xpv_config cfg = {0};
	struct xpv_error *e = NULL;
	void *priv = NULL;

	if (load(section, &cfg, &priv, &e) == 0) {
		homing_controller.shutdown(priv);
		config_free(&cfg);
		fail_msg("`%s` was accepted (expected an error naming `%s`)", section, needle);
	}
	assert_non_null(e);
	if (!strstr(e->msg, needle))
		fail_msg("error `%s` does not name `%s`", e->msg, needle);
	xpv_error_free(&e);
	config_free(&cfg);
}

static void config_errors(void **state)
{
	(void)state;
	expect_error("3", "homing: must be an object");
	expect_error("{\"polcy\": \"off\"}", "homing.polcy: unknown key");
	expect_error("{\"policy\": \"sometimes\"}", "homing.policy: `sometimes`");
	expect_error("{\"policy\": 1}", "homing.policy: must be a string");
	expect_error("{\"period_s\": 0}", "homing.period_s: 0 is out of range");
	expect_error("{\"cpu_budget_pct\": 150}", "homing.cpu_budget_pct: 150 is out of range");
	expect_error("{\"threshold_bytes\": \"lots\"}", "homing.threshold_bytes: must be");
	expect_error("{\"threshold_bytes\": \"5X\"}", "homing.threshold_bytes: must be");
	expect_error("{\"threshold_bytes\": -1}", "homing.threshold_bytes: -1 is out of range");
	expect_error("{\"rate_bytes_per_s\": \"-3M\"}", "homing.rate_bytes_per_s");
	expect_error("{\"min_region_bytes\": 100}", "homing.min_region_bytes: 100 is out of range");
	expect_error("{\"log\": \"rel.jsonl\"}", "homing.log: `rel.jsonl` must be an absolute");
	expect_error("{\"log\": \"/tmp/x\", \"log_format\": \"xml\"}", "homing.log_format: `xml`");
	expect_error("{\"log_format\": \"csv\"}", "homing.log_format: needs homing.log");
	expect_error("{\"log\": \"/nonexistent/dir/h.log\"}", "homing.log: opening");
	expect_error("{\"libvirt_metadata\": \"yes\"}", "homing.libvirt_metadata: must be true");
	expect_error("{\"retry_s\": 0}", "homing.retry_s: 0 is out of range");
	expect_error("{\"vhost_affinity\": \"node0\"}",
		     "homing.vhost_affinity: `node0` is not \"home\" or \"keep\"");
	expect_error("{\"vms\": {\"vm1\": {\"vhost_affinity\": true}}}",
		     "homing.vms.vm1.vhost_affinity: must be a string");
	expect_error("{\"vms\": []}", "homing.vms: must be an object");
	expect_error("{\"vms\": {\"vm1\": 3}}", "homing.vms.vm1: must be an object");
	expect_error("{\"vms\": {\"vm1\": {\"treshold_bytes\": 1}}}",
		     "homing.vms.vm1.treshold_bytes: unknown key");
	expect_error("{\"vms\": {\"vm1\": {\"policy\": \"never\"}}}", "homing.vms.vm1.policy");
	expect_error("{\"vms\": {\"vm1\": {\"period_s\": \"15m\"}}}",
		     "homing.vms.vm1.period_s: must be a number");
	expect_error("{\"vms\": {\"vm1\": {\"home\": {\"ram-node0\": 64}}}}",
		     "homing.vms.vm1.home.ram-node0: must be a host node");
	expect_error("{\"vms\": {\"vm1\": {\"home\": {\"*\": \"0\"}}}}",
		     "homing.vms.vm1.home.*: must be a host node");
	expect_error("{\"vms\": {\"vm1\": {\"home\": {\"0x2000-0x1000\": 0}}}}",
		     "homing.vms.vm1.home.0x2000-0x1000: not a range");
	expect_error("{\"vms\": {\"vm1\": {\"home\": {\"a b\": 0}}}}",
		     "homing.vms.vm1.home.a b: not");
	expect_error("{\"vms\": {\"vm1\": {\"pid_file\": \"qemu.pid\"}}}",
		     "homing.vms.vm1.pid_file: `qemu.pid` must be an absolute");
	expect_error("{\"vms\": {\"vm1\": {\"qmp\": \"\"}}}",
		     "homing.vms.vm1.qmp: must be a string");
	/* the section is a controller's: unknown top-level keys still fail */
	expect_error("{}, \"homeing\": {}", "homeing: unknown key");
}

static void config_values(void **state)
{
	struct xpv_error *e = NULL;
	struct homing_cfg c;
	const struct homing_params *p;
	json_error_t je;
	json_t *sec;

	(void)state;
	/* absent section: nothing managed, library defaults */
	assert_int_equal(homing_config_parse(NULL, &c, &e), 0);
	p = homing_config_vm(&c, "any");
	assert_int_equal(p->policy, -1);
	assert_int_equal(p->threshold_bytes, 500ull << 20);
	assert_int_equal(p->period_ns, 900ull * 1000000000ull);
	assert_true(c.use_metadata && c.use_numatune);
	assert_string_equal(c.libvirt_uri, "qemu:///system");
	assert_int_equal(p->vhost, HOMING_VHOST_HOME);
	homing_config_free(&c);

	sec = json_loads(
		"{\"policy\": \"off\", \"threshold_bytes\": \"1G\", \"cpu_budget_pct\": 10,"
		" \"home\": {\"*\": 1}, \"rate_bytes_per_s\": 0, \"log\": \"/tmp/h.csv\","
		" \"log_format\": \"csv\", \"libvirt_numatune\": false, \"vhost_affinity\": "
		"\"keep\","
		" \"vms\": {\"vm1\": {\"policy\": \"threshold\", \"threshold_bytes\": "
		"\"500M\", \"period_s\": 1.5, \"min_gap_s\": 0, \"scan_interval_s\": 2,"
		" \"min_region_bytes\": 1048576, \"pid_file\": \"/run/q.pid\", \"vhost_affinity\": "
		"\"home\","
		" \"home\": {\"*\": 0, \"ram-node1\": 1, \"0x1000-0x3000\": 1}}}}",
		0, &je);
	assert_non_null(sec);
	assert_int_equal(homing_config_parse(sec, &c, &e), 0);
	assert_null(e);
	assert_true(c.log_csv);
	assert_false(c.use_numatune);
	p = homing_config_vm(&c, "other");
	assert_int_equal(p->policy, MH_POLICY_OFF);
	assert_int_equal(p->threshold_bytes, 1ull << 30);
	assert_int_equal(p->cpu_budget_ppm, 100000);
	assert_int_equal(p->rate_bytes_per_s, 0);
	assert_int_equal(p->default_home, 1);
	assert_int_equal(p->vhost, HOMING_VHOST_KEEP);
	p = homing_config_vm(&c, "vm1");
	assert_int_equal(p->vhost, HOMING_VHOST_HOME);
	assert_int_equal(p->policy, MH_POLICY_THRESHOLD);
	assert_int_equal(p->threshold_bytes, 500ull << 20);
	assert_int_equal(p->period_ns, 1500000000ull);
	assert_int_equal(p->min_gap_ns, 0);
	assert_int_equal(p->scan_interval_ns, 2000000000ull);
	assert_int_equal(p->min_region_bytes, 1 << 20);
	/* inherited from the section */
	assert_int_equal(p->cpu_budget_ppm, 100000);
	assert_string_equal(p->pid_file, "/run/q.pid");
	/* the VM's home replaces the section's */
	assert_int_equal(p->default_home, 0);
	assert_int_equal(p->nr_specs, 2);
	for (int i = 0; i < 2; i++) {
		if (p->specs[i].memdev[0]) {
			assert_string_equal(p->specs[i].memdev, "ram-node1");
			assert_int_equal(p->specs[i].home, 1);
		} else {
			assert_int_equal(p->specs[i].start, 0x1000);
			assert_int_equal(p->specs[i].end, 0x3000);
		}
	}
	homing_config_free(&c);
	json_decref(sec);
}

static void meta_expect(const char *xml, const char *needle)
{
	struct homing_params p = {.policy = -1, .threshold_bytes = 7};
	struct xpv_error *e = NULL;

	assert_true(homing_meta_apply(xml, &p, &e) < 0);
	assert_non_null(e);
	if (!strstr(e->msg, needle))
		fail_msg("error `%s` does not name `%s`", e->msg, needle);
	/* nothing applied */
	assert_int_equal(p.policy, -1);
	assert_int_equal(p.threshold_bytes, 7);
	xpv_error_free(&e);
}

static void metadata(void **state)
{
	struct homing_params p = {.policy = -1, .period_ns = 1, .cpu_budget_ppm = 3};
	struct xpv_error *e = NULL;

	(void)state;
	assert_int_equal(homing_meta_apply("<homing xmlns=\"" XPV_HOMING_XMLNS
					   "\" policy=\"threshold\" threshold='500M' "
					   "period=\"15m\" rate=\"64M\" min-gap=\"0\"/>",
					   &p, &e),
			 0);
	assert_int_equal(p.policy, MH_POLICY_THRESHOLD);
	assert_int_equal(p.threshold_bytes, 500ull << 20);
	assert_int_equal(p.period_ns, 900ull * 1000000000ull);
	assert_int_equal(p.rate_bytes_per_s, 64ull << 20);
	assert_int_equal(p.min_gap_ns, 0);
	assert_int_equal(p.cpu_budget_ppm, 3); /* absent: kept */
	assert_int_equal(homing_meta_apply("<homing cpu-budget=\"12.5%\"/>", &p, &e), 0);
	assert_int_equal(p.cpu_budget_ppm, 125000);
	/* an attribute whose name ends like another's is not that one */
	assert_int_equal(homing_meta_apply("<homing xpolicy=\"off\"/>", &p, &e), 0);
	assert_int_equal(p.policy, MH_POLICY_THRESHOLD);
	meta_expect("<homing policy=\"always\"/>", "policy: `always`");
	meta_expect("<homing policy=\"off\" threshold=\"lots\"/>", "threshold: `lots`");
	meta_expect("<homing period=\"0\"/>", "period: `0`");
	meta_expect("<homing period=\"soon\"/>", "period: `soon`");
	meta_expect("<homing cpu-budget=\"150\"/>", "cpu-budget: `150`");
	meta_expect("<homing rate=\"fast\"/>", "rate: `fast`");
	meta_expect("<homing policy=\"off\" min-gap='x'/>", "min-gap: `x`");
	meta_expect("<homing policy=\"off\" vhost-affinity='pinned'/>", "vhost-affinity: `pinned`");
	assert_int_equal(p.vhost, HOMING_VHOST_HOME);
	assert_int_equal(homing_meta_apply("<homing vhost-affinity=\"keep\"/>", &p, &e), 0);
	assert_int_equal(p.vhost, HOMING_VHOST_KEEP);
	assert_int_equal(homing_meta_apply("<homing vhost-affinity=\"home\"/>", &p, &e), 0);
	assert_int_equal(p.vhost, HOMING_VHOST_HOME);
}

static const char *domxml = "<domain type='kvm'><name>vm1</name>"
			    "<numatune><memory mode='strict' nodeset='1-2'/>"
			    "<memnode cellid='0' mode='strict' nodeset='0'/>"
			    "<memnode cellid='1' mode='preferred' nodeset='3,5'/></numatune>"
			    "<cpu><numa><cell id='0' cpus='0' memory='512' unit='MiB'/>"
			    "<cell id='1' cpus='1' memory='1048576'/>"
			    "<cell id='2' cpus='2' memory='1' unit='GiB'/></numa></cpu></domain>";

static void numa_expect(const char *xml, const char *needle)
{
	struct mh_memdev *md = NULL;
	struct xpv_error *e = NULL;
	int n = 0, dflt = -1;

	assert_true(homing_numatune_parse(xml, &md, &n, &dflt, &e) < 0);
	assert_null(md);
	assert_non_null(e);
	if (!strstr(e->msg, needle))
		fail_msg("error `%s` does not name `%s`", e->msg, needle);
	xpv_error_free(&e);
}

static void numatune(void **state)
{
	struct mh_memdev *md = NULL;
	struct xpv_error *e = NULL;
	int n = 0, dflt = -1;

	(void)state;
	assert_int_equal(homing_numatune_parse(domxml, &md, &n, &dflt, &e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(dflt, 1);
	assert_string_equal(md[0].id, "ram-node0");
	assert_int_equal(md[0].size, 512ull << 20);
	assert_string_equal(md[0].policy, "bind");
	assert_int_equal(md[0].host_nodes, 1);
	assert_string_equal(md[1].id, "ram-node1");
	assert_int_equal(md[1].size, 1ull << 30);
	assert_string_equal(md[1].policy, "preferred");
	assert_int_equal(md[1].host_nodes, (1 << 3) | (1 << 5));
	/* no memnode: the <memory> policy applies */
	assert_string_equal(md[2].id, "ram-node2");
	assert_string_equal(md[2].policy, "bind");
	assert_int_equal(md[2].host_nodes, 6);
	free(md);
	/* no numatune: nothing from libvirt, regions come from numa_maps */
	assert_int_equal(homing_numatune_parse("<domain><cpu><numa><cell id='0' memory='1'/>"
					       "</numa></cpu></domain>",
					       &md, &n, &dflt, &e),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(dflt, -1);
	assert_null(md);
	/* only a global nodeset: a default home, no memdevs */
	assert_int_equal(homing_numatune_parse("<domain><numatune><memory nodeset='2'/>"
					       "</numatune></domain>",
					       &md, &n, &dflt, &e),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(dflt, 2);
	numa_expect("<domain><numatune><memnode cellid='4' nodeset='0'/></numatune></domain>",
		    "cellid 4");
	numa_expect("<domain><numatune><memory mode='sticky' nodeset='0'/></numatune></domain>",
		    "mode: `sticky`");
	numa_expect("<domain><numatune><memory nodeset='0-x'/></numatune></domain>",
		    "nodeset: `0-x`");
	numa_expect("<domain><numatune><memnode cellid='0' nodeset='0'/></numatune><cpu><numa>"
		    "<cell id='0' memory='1' unit='parsecs'/></numa></cpu></domain>",
		    "cell 0 memory");
	numa_expect("<domain><numatune>", "not well-formed");
	numa_expect("<vm/>", "no <domain>");
}

/* ---- the controller on a child process ---------------------------------- */

static pid_t child_start(size_t mib, char *range, size_t len)
{
	int p[2];
	pid_t pid;

	memset(range, 0, len);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* never outlive a failed test */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char *m = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (m == MAP_FAILED)
			_exit(1);
		for (size_t o = 0; o < mib << 20; o += 4096)
			m[o] = 1;
		/* its range: under ASan the shadow would be auto-detected too */
		snprintf(range, len, "0x%lx-0x%lx", (unsigned long)m,
			 (unsigned long)(m + (mib << 20)));
		if (write(p[1], range, len) != (ssize_t)len)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], range, len), (ssize_t)len);
	close(p[0]);
	return pid;
}

static json_t *command(void *priv, const char *line, struct xpv_error **e)
{
	char buf[256], *argv[8];
	json_t *reply = NULL;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok(buf, " "); w && argc < 8; w = strtok(NULL, " "))
		argv[argc++] = w;
	if (homing_controller.command(priv, argc, argv, &reply, e) <= 0)
		return NULL;
	return reply;
}

static const char csv_header[] =
	"time,vm,event,region,home,resident_bytes,remote_bytes,moved_bytes,failed_pages,n0";

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void controller_child(void **state)
{
	struct xpv_config cfg = {0};
	struct xpv_error *e = NULL;
	void *priv = NULL;
	char range[64], json[512], logpath[64], *csv = NULL;
	pid_t child = child_start(8, range, sizeof(range));
	pid_t tids[1] = {child};
	struct xpv_group g = {(char *)"/nonexistent", -1, 1, tids};
	struct xpv_vm vm[2] = {{(char *)"guest", XPV_VM_PLAIN, -1, 1, &g, 1},
			       {(char *)"guest2", XPV_VM_PLAIN, -1, 1, &g, 1}};
	struct xpv_vm_list l = {2, vm};
	json_t *r, *v, *reg;
	char *metrics = NULL;
	size_t mlen = 0;
	FILE *f;

	(void)state;
	snprintf(logpath, sizeof(logpath), "/tmp/xpvd-homing-%d.csv", (int)getpid());
	unlink(logpath);
	snprintf(json, sizeof(json),
		 "{\"policy\": \"off\", \"scan_interval_s\": 0.001, \"home\": {\"%s\": 0}, "
		 "\"vms\": {\"guest\": {\"policy\": \"off\"}}, \"retry_s\": 0.1, "
		 "\"log\": \"%s\", \"log_format\": \"csv\"}",
		 range, logpath);
	assert_int_equal(load(json, &cfg, &priv, &e), 0);
	assert_int_equal(homing_controller.tick(priv, &l, 100000000, &e), 0);
	r = command(priv, "homing status guest", &e);
	assert_non_null(r);
	v = json_array_get(json_object_get(r, "vms"), 0);
	assert_int_equal(json_integer_value(json_object_get(v, "pid")), child);
	assert_string_equal(json_string_value(json_object_get(v, "state")), "monitoring");
	assert_string_equal(json_string_value(json_object_get(v, "policy")), "off");
	assert_string_equal(json_string_value(json_object_get(v, "policy_source")), "config");
	/* the child's 8 MiB mapping is its guest RAM, measured */
	reg = json_array_get(json_object_get(v, "regions"), 0);
	assert_non_null(reg);
	assert_int_equal(json_array_size(json_object_get(v, "regions")), 1);
	assert_int_equal(json_integer_value(json_object_get(reg, "resident_bytes")), 8 << 20);
	assert_int_equal(json_integer_value(json_object_get(reg, "home")), 0);
	assert_int_equal(json_integer_value(json_object_get(v, "remote_bytes")), 0);
	/* vhost workers looked for (none: the child has no vhost device) */
	reg = json_object_get(v, "vhost");
	assert_string_equal(json_string_value(json_object_get(reg, "affinity")), "home");
	assert_int_equal(json_array_size(json_object_get(reg, "workers")), 0);
	assert_int_equal(json_integer_value(json_object_get(reg, "pins")), 0);
	json_decref(r);

	f = open_memstream(&metrics, &mlen);
	homing_controller.metrics(priv, f);
	fclose(f);
	assert_non_null(strstr(metrics, "\nxpv_memhome_remote_bytes{vm=\"guest\"} 0\n"));
	assert_non_null(strstr(metrics, "# TYPE xpv_memhome_moved_bytes_total counter\n"));
	assert_non_null(strstr(metrics, ",node=\"0\"} 8388608\n"));
	/* two VMs: each family is announced once, with both VMs' samples */
	assert_non_null(strstr(metrics, "\nxpv_memhome_remote_bytes{vm=\"guest2\"} 0\n"));
	assert_int_equal(count(metrics, "# HELP xpv_memhome_remote_bytes "), 1);
	assert_int_equal(count(metrics, "# TYPE xpv_memhome_region_bytes gauge"), 1);
	assert_int_equal(count(metrics, "xpv_memhome_region_bytes{"), 2);
	assert_non_null(
		strstr(metrics, "\nxpvd_homing_vhost_workers{vm=\"guest\",node=\"0\"} 0\n"));
	assert_non_null(strstr(metrics, "# TYPE xpvd_homing_vhost_repins_total counter\n"));
	assert_non_null(strstr(metrics, "\nxpvd_homing_vhost_pins_total{vm=\"guest2\"} 0\n"));
	free(metrics);

	/* The host checks alone always give findings: require the one about
	 * this process's threads (vhost placement, checked only with a pid)
	 * and a warning count that matches the list. */
	r = command(priv, "audit guest", &e);
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "pid")), child);
	{
		json_t *f;
		size_t i;
		int warns = 0, vhost = 0;

		json_array_foreach (json_object_get(r, "findings"), i, f) {
			const char *sev = json_string_value(json_object_get(f, "severity"));
			const char *code = json_string_value(json_object_get(f, "code"));

			warns += !strcmp(sev, "warn");
			vhost += !strcmp(code, "vhost-placement");
		}
		assert_int_equal(vhost, 1);
		assert_int_equal(json_integer_value(json_object_get(r, "warnings")), warns);
	}
	json_decref(r);
	assert_null(command(priv, "audit nosuchvm", &e));
	assert_non_null(strstr(e->msg, "nosuchvm"));
	xpv_error_free(&e);
	assert_null(command(priv, "homing bogus", &e));
	assert_non_null(strstr(e->msg, "usage"));
	xpv_error_free(&e);

	/* an operator's pass, whatever the policy */
	r = command(priv, "homing repatriate guest", &e);
	assert_non_null(r);
	json_decref(r);
	/* a pass runs in slices of at most 50 ms: tick until it ends (deadline) */
	for (uint64_t end = xpv_now_ns() + 20 * 1000000000ull;;) {
		assert_int_equal(homing_controller.tick(priv, &l, 100000000, &e), 0);
		r = command(priv, "homing status guest", &e);
		v = json_array_get(json_object_get(r, "vms"), 0);
		if (json_integer_value(json_object_get(v, "passes")) || xpv_now_ns() > end)
			break;
		json_decref(r);
	}
	assert_int_equal(json_integer_value(json_object_get(v, "passes")), 1);
	assert_int_equal(json_integer_value(json_object_get(v, "moved_bytes")), 0);
	assert_true(json_is_number(json_object_get(v, "last_pass_s")));
	json_decref(r);

	/* the process exits under the controller (end of a migration) */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* the next measurement is due within 1 ms: tick until it (deadline) */
	for (uint64_t end = xpv_now_ns() + 20 * 1000000000ull;;) {
		assert_int_equal(homing_controller.tick(priv, &l, 100000000, &e), 0);
		r = command(priv, "homing status guest", &e);
		v = json_array_get(json_object_get(r, "vms"), 0);
		if (!strcmp(json_string_value(json_object_get(v, "state")), "exited") ||
		    xpv_now_ns() > end)
			break;
		json_decref(r);
	}
	assert_string_equal(json_string_value(json_object_get(v, "state")), "exited");
	assert_int_equal(json_integer_value(json_object_get(v, "pid")), child);
	json_decref(r);
	assert_null(command(priv, "homing repatriate guest", &e));
	xpv_error_free(&e);
	/* gone from discovery: gone from status */
	l.n = 0;
	xpv_error_free(&e);
	assert_int_equal(homing_controller.tick(priv, &l, 100000000, &e), 0);
	r = command(priv, "homing status", &e);
	assert_int_equal(json_array_size(json_object_get(r, "vms")), 0);
	json_decref(r);
	assert_null(command(priv, "homing status guest", &e));
	xpv_error_free(&e);
	homing_controller.shutdown(priv);
	config_free(&cfg);
	/* the time series: a CSV header, then one row per region and event */
	assert_true(xpv_read_file(logpath, &csv, &e) > 0);
	unlink(logpath);
	assert_true(!strncmp(csv, csv_header, strlen(csv_header)));
	assert_non_null(strstr(csv, ",guest,sample,range@0x"));
	assert_non_null(strstr(csv, ",guest2,sample,range@0x"));
	assert_non_null(strstr(csv, ",0,8388608,0,0,0,"));
	free(csv);
}

/* One budget for all VMs: slices shrink to what is left, none under 1 ms. */
static void budget_slices(void **state)
{
	struct homing_budget b = {.budget_ns = 20000000};

	(void)state;
	assert_int_equal(homing_budget_slice(&b, 50000000), 20000000);
	b.spent_ns = 15000000;
	assert_int_equal(homing_budget_slice(&b, 50000000), 5000000);
	assert_int_equal(homing_budget_slice(&b, 2000000), 2000000);
	b.spent_ns = 19500000;
	assert_int_equal(homing_budget_slice(&b, 50000000), 0);
	b.spent_ns = 25000000; /* overrun by a slice that ran long */
	assert_int_equal(homing_budget_slice(&b, 50000000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_errors),    cmocka_unit_test(config_values),
		cmocka_unit_test(metadata),	    cmocka_unit_test(numatune),
		cmocka_unit_test(controller_child), cmocka_unit_test(budget_slices),
	};

	return cmocka_run_group_tests_name("xpvd-homing", tests, NULL, NULL);
}
