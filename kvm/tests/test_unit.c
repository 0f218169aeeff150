// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xpvd unit tests (cmocka; CMOCKA_MESSAGE_OUTPUT=TAP): accounting on
 * synthetic counter streams, configuration errors, cgroup v1/v2
 * enforcement and discovery on fake trees in a temporary directory, the
 * state file, and the Kyoto controller end to end on a fake tree.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "controller.h"
#include "counters.h"
#include "ctl.h"
#include "discovery.h"
#include "domain_ctl.h"
#include "enforce.h"
#include "libvirt_meta.h"
#include "state.h"
#include "util.h"

#include "testlib.h"

#define MS 1000000ull

/* tmp, setup_tmp/teardown_tmp, put, get, tpath, burn: testlib.h */

static struct acct_sample full(double rate, uint64_t period_ns, double share)
{
	/* A vCPU that ran share of the period and missed rate per ms. */
	struct acct_sample s = {0};

	s.run_ns = (uint64_t)(period_ns * share);
	s.base_cycles = s.run_ns * 2; /* a 2 GHz reference clock */
	s.freq_khz = 2e6;
	s.cycles = s.base_cycles;
	s.instructions = s.cycles / 2;
	s.llc_misses = (uint64_t)(rate * s.run_ns / 1e6);
	return s;
}

static void period(struct acct_vm *vm, const struct acct_params *p, double rate, double share)
{
	struct acct_sample s = full(rate, 100 * MS, share);

	account_begin(vm);
	account_add_vcpu(vm, &s, 100 * MS);
	account_end(vm, p, 1);
}

/* ---- accounting ------------------------------------------------------- */

static void eq31(void **state)
{
	struct acct_sample s = {.llc_misses = 1000, .base_cycles = 2000000, .freq_khz = 2e6};

	(void)state;
	/* 1000 misses in 2e6 cycles at 2 GHz = 1 ms: 1000 misses/ms */
	assert_true(fabs(account_llc_cap_act(&s) - 1000) < 1e-9);
	s.base_cycles = 0;
	assert_true(account_llc_cap_act(&s) == 0);
	/* Frequency independent: same misses per ms at a 1 GHz clock. */
	s = full(3000, 100 * MS, 1);
	assert_true(fabs(account_llc_cap_act(&s) - 3000) < 1);
}

static void under_stays_unthrottled(void **state)
{
	struct acct_params p;
	struct acct_vm vm = {.permit = 1000, .cap = 1};

	(void)state;
	account_params_default(&p);
	for (int i = 0; i < 50; i++) {
		period(&vm, &p, 800, 1);
		assert_int_equal(vm.state, ACCT_UNDER);
		assert_true(vm.cap == 1);
	}
	/* Saved credit is bounded by burst_periods. */
	assert_true(vm.quota <= 1000 * p.burst_periods + 1e-6);
	assert_int_equal(vm.punished, 0);
}

static void over_reduces_proportionally(void **state)
{
	struct acct_params p;
	struct acct_vm vm = {.permit = 1000, .cap = 1};

	(void)state;
	account_params_default(&p);
	period(&vm, &p, 5000, 1);
	assert_int_equal(vm.state, ACCT_OVER);
	assert_int_equal(vm.punished, 1);
	/* quota -4000, target 1000 - 4000/10 = 600, cap = 600/5000 */
	assert_true(fabs(vm.quota + 4000) < 1);
	assert_true(fabs(vm.cap - 0.12) < 0.001);
	/* A bigger overshoot gets a smaller cap. */
	struct acct_vm vm2 = {.permit = 1000, .cap = 1};

	period(&vm2, &p, 2000, 1);
	assert_true(vm2.cap > vm.cap);
}

static void floor_prevents_starvation(void **state)
{
	struct acct_params p;
	struct acct_vm vm = {.permit = 10, .cap = 1};

	(void)state;
	account_params_default(&p);
	p.floor = 0.1;
	for (int i = 0; i < 100; i++) {
		period(&vm, &p, 1e6, vm.cap);
		assert_true(vm.cap >= 0.1 - 1e-12);
	}
	assert_int_equal(vm.state, ACCT_OVER);
	assert_true(fabs(vm.cap - 0.1) < 1e-9);
	assert_int_equal(vm.punished, 1);
}

static void closed_loop_converges(void **state)
{
	/* Pollution proportional to CPU granted: the average charge must
	 * settle at the permit and the quota must not run away. */
	struct acct_params p;
	struct acct_vm vm = {.permit = 1000, .cap = 1};
	double sum = 0;

	(void)state;
	account_params_default(&p);
	for (int i = 0; i < 400; i++) {
		period(&vm, &p, 4000, vm.cap);
		if (i >= 200)
			sum += vm.charged;
	}
	assert_true(fabs(sum / 200 - 1000) < 100);
	assert_true(vm.quota > -1000 * p.payback_periods);
	assert_true(vm.cap < 0.5 && vm.cap > 0.1);
	/* Raising the permit restores the VM within two periods. */
	vm.permit = 10000;
	period(&vm, &p, 4000, vm.cap);
	period(&vm, &p, 4000, vm.cap);
	assert_int_equal(vm.state, ACCT_UNDER);
	assert_true(vm.cap == 1);
}

static void idle_over_keeps_cap(void **state)
{
	struct acct_params p;
	struct acct_vm vm = {.permit = 1000, .cap = 1};

	(void)state;
	account_params_default(&p);
	period(&vm, &p, 50000, 1);
	double cap = vm.cap;

	period(&vm, &p, 0, 0); /* did not run: credit only */
	assert_true(vm.quota < 0);
	assert_true(vm.cap == cap);
}

static void exemption(void **state)
{
	struct acct_params p;
	struct acct_vm vm = {.permit = 10, .cap = 1};

	(void)state;
	account_params_default(&p);
	p.exempt_below = 100;
	for (int i = 0; i < 20; i++)
		period(&vm, &p, 50, 1); /* over its permit, below threshold */
	assert_int_equal(vm.state, ACCT_UNDER);
	assert_true(vm.charged == 0);
	p.exempt_below = 0;
	for (int i = 0; i < 20; i++)
		period(&vm, &p, 50, 1);
	assert_int_equal(vm.state, ACCT_OVER);
}

static void ungoverned_and_sum(void **state)
{
	struct acct_params p;
	struct acct_vm vm = {.permit = -1, .cap = 1};
	struct acct_sample a = full(500, 100 * MS, 1), b = full(700, 100 * MS, 0.5);

	(void)state;
	account_params_default(&p);
	account_begin(&vm);
	account_add_vcpu(&vm, &a, 100 * MS);
	account_add_vcpu(&vm, &b, 100 * MS);
	account_end(&vm, &p, 2);
	assert_int_equal(vm.state, ACCT_UNGOVERNED);
	assert_true(vm.cap == 1);
	assert_true(fabs(vm.llc_cap_act - 1200) < 1);
	assert_true(fabs(vm.charged - (500 + 350)) < 1);
	assert_true(fabs(vm.cpus_used - 1.5) < 1e-6);
}

/* ---- configuration ---------------------------------------------------- */

static void cfg_expect(const char *json, const char *needle)
{
	static const char *const sections[] = {"kyoto", NULL};
	struct xpv_config cfg;
	struct xpv_error *e = NULL;

	assert_true(config_load_string(&cfg, json, sections, &e) < 0);
	assert_non_null(e);
	if (!strstr(e->msg, needle))
		fail_msg("error `%s` does not name `%s`", e->msg, needle);
	xpv_error_free(&e);
}

static void config_errors(void **state)
{
	(void)state;
	cfg_expect("{\"bogus\": 1}", "bogus: unknown key");
	cfg_expect("{\"period_ms\": 5}", "period_ms: 5 is out of range");
	cfg_expect("{\"period_ms\": \"fast\"}", "period_ms: must be an integer");
	cfg_expect("{\"socket\": \"rel/path\"}", "socket: must be an absolute");
	cfg_expect("{\"metrics\": {\"listen\": \"0.0.0.0:80\"}}", "metrics.listen");
	cfg_expect("{\"metrics\": {\"port\": 1}}", "metrics.port: unknown key");
	cfg_expect("{\"discovery\": {\"cgroups\": [{\"name\": \"a\", \"path\": "
		   "\"../etc\"}]}}",
		   "discovery.cgroups[0].path");
	cfg_expect("{\"discovery\": {\"cgroups\": [{\"name\": \"a b\", "
		   "\"path\": \"x\"}]}}",
		   "discovery.cgroups[0].name");
	cfg_expect("{\"discovery\": {\"cgroups\": [{\"name\": \"a\", \"path\": "
		   "\"x\"}, {\"name\": \"a\", \"path\": \"y\"}]}}",
		   "used twice");
	cfg_expect("{\"discovery\": {\"cgroups\": [{\"name\": \"a\", \"path\": "
		   "\"x\", \"cpu\": 1}]}}",
		   "discovery.cgroups[0].cpu: unknown key");
	cfg_expect("{\"kyoto\": 3}", "kyoto: must be an object");
	cfg_expect("{\"period_ms\": 100,", "line");
}

static void config_defaults(void **state)
{
	static const char *const sections[] = {"kyoto", NULL};
	struct xpv_config cfg;
	struct xpv_error *e = NULL;

	(void)state;
	assert_int_equal(config_load_string(&cfg,
					    "{\"discovery\": {\"libvirt\": false, \"cgroups\": "
					    "[{\"name\": \"vm-1\", \"path\": \"a/b\"}]}, "
					    "\"metrics\": {\"listen\": \"127.0.0.1:9477\"}, "
					    "\"kyoto\": {}}",
					    sections, &e),
			 0);
	assert_int_equal(cfg.period_ms, 100);
	assert_string_equal(cfg.socket_path, "/run/xpvd/ctl.sock");
	assert_false(cfg.libvirt);
	assert_int_equal(cfg.n_plain, 1);
	assert_string_equal(cfg.plain[0].path, "a/b");
	assert_non_null(config_section(&cfg, "kyoto"));
	config_free(&cfg);
}

/* The Kyoto section is validated by the controller itself. */
static void kyoto_expect(const char *section, const char *needle)
{
	static const char *const sections[] = {"kyoto", NULL};
	char json[1024];
	struct xpv_config cfg;
	struct xpv_error *e = NULL;
	struct xpv_state st = {0};
	struct xpv_host h = {&cfg, &cg_v1_ops, "/nonexistent", &st};
	void *priv = NULL;

	snprintf(json, sizeof(json), "{\"kyoto\": %s}", section);
	assert_int_equal(config_load_string(&cfg, json, sections, &e), 0);
	assert_true(kyoto_controller.init(&priv, &h, &e) < 0);
	assert_non_null(e);
	if (!strstr(e->msg, needle))
		fail_msg("error `%s` does not name `%s`", e->msg, needle);
	xpv_error_free(&e);
	config_free(&cfg);
}

static void kyoto_config_errors(void **state)
{
	(void)state;
	kyoto_expect("{\"floor\": 0}", "kyoto.floor: 0 is out of range");
	kyoto_expect("{\"flor\": 0.1}", "kyoto.flor: unknown key");
	kyoto_expect("{\"permits\": {\"vm1\": -3}}", "kyoto.permits.vm1");
	kyoto_expect("{\"permits\": {\"vm1\": \"lots\"}}", "kyoto.permits.vm1");
	kyoto_expect("{\"counters\": {\"source\": \"magic\"}}", "kyoto.counters.source");
	kyoto_expect("{\"counters\": {\"source\": \"synthetic\", "
		     "\"synthetic_dir\": \"rel\"}}",
		     "kyoto.counters.synthetic_dir");
	kyoto_expect("{\"throttle_period_us\": 500}", "kyoto.throttle_period_us: 500");
	kyoto_expect("{\"default_permit\": true}", "kyoto.default_permit: must be a number");
	/* test-only sources need the test switch (main() sets it) */
	unsetenv(XPV_TEST_MODE_ENV);
	kyoto_expect("{\"counters\": {\"source\": \"synthetic\"}}",
		     "\"synthetic\" is a test-only source");
	kyoto_expect("{\"counters\": {\"source\": \"software\"}}",
		     "accepted only when xpvd runs with XPVD_TEST_MODE=1");
	setenv(XPV_TEST_MODE_ENV, "1", 1);
}

/* ---- enforcement on fake trees ---------------------------------------- */

static void v1_tree(void)
{
	put("v1/cpu/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/parent/cpu.cfs_quota_us", "50000\n");
	put("v1/cpu/parent/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/parent/child/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/parent/child/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/parent/child/cpu.stat", "nr_periods 10\nnr_throttled 7\nthrottled_time 5\n");
	put("v1/cpu/free/cpu.cfs_quota_us", "30000\n");
	put("v1/cpu/free/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/vms/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/vms/cpu.cfs_period_us", "100000\n");
}

static void enforce_v1(void **state)
{
	const struct cg_ops *ops;
	struct xpv_error *e = NULL;
	struct cfs_bw bw, out;
	char *mount = NULL, *s;
	uint64_t thr;

	(void)state;
	v1_tree();
	assert_int_equal(enforce_detect(tpath("v1"), 0, &ops, &mount, &e), 0);
	assert_int_equal(ops->version, 1);
	assert_string_equal(mount, tpath("v1/cpu"));
	assert_int_equal(ops->read_bw(tpath("v1/cpu/parent/child"), &bw, &e), 0);
	assert_true(bw.quota_us == -1 && bw.period_us == 100000);
	/* v1: a child may not exceed its parent's 50 %. */
	assert_int_equal(
		enforce_quota_for(ops, mount, tpath("v1/cpu/parent/child"), &bw, 0.8, &out, &e), 0);
	assert_true(out.quota_us == 50000);
	assert_int_equal(
		enforce_quota_for(ops, mount, tpath("v1/cpu/parent/child"), &bw, 0.2, &out, &e), 0);
	assert_true(out.quota_us == 20000);
	/* 1 ms minimum */
	enforce_quota_for(ops, mount, tpath("v1/cpu/parent/child"), &bw, 0.0001, &out, &e);
	assert_true(out.quota_us == 1000);
	/* never above what the operator had set */
	assert_int_equal(ops->read_bw(tpath("v1/cpu/free"), &bw, &e), 0);
	enforce_quota_for(ops, mount, tpath("v1/cpu/free"), &bw, 0.5, &out, &e);
	assert_true(out.quota_us == 30000);
	/* write and read back */
	out.quota_us = 12345;
	assert_int_equal(ops->write_bw(tpath("v1/cpu/parent/child"), &out, &e), 0);
	s = get("v1/cpu/parent/child/cpu.cfs_quota_us");
	assert_string_equal(s, "12345");
	free(s);
	assert_int_equal(ops->read_throttled(tpath("v1/cpu/parent/child"), &thr, &e), 0);
	assert_true(thr == 7);
	/* a missing file is an error naming the path, not a crash */
	assert_true(ops->read_bw(tpath("v1/cpu/nothere"), &bw, &e) < 0);
	assert_non_null(strstr(e->msg, "nothere"));
	xpv_error_free(&e);
	free(mount);
}

static void enforce_v2(void **state)
{
	const struct cg_ops *ops;
	struct xpv_error *e = NULL;
	struct cfs_bw bw, out;
	char *mount = NULL, *s;

	(void)state;
	put("v2/cgroup.controllers", "cpuset cpu io memory pids\n");
	put("v2/machine.slice/cpu.max", "50000 100000\n");
	put("v2/machine.slice/vm/cpu.max", "max 100000\n");
	put("v2/machine.slice/vm/cpu.stat",
	    "usage_usec 1\nnr_periods 3\nnr_throttled 2\nthrottled_usec 9\n");
	assert_int_equal(enforce_detect(tpath("v2"), 0, &ops, &mount, &e), 0);
	assert_int_equal(ops->version, 2);
	assert_string_equal(ops->threads_file, "cgroup.threads");
	assert_int_equal(ops->read_bw(tpath("v2/machine.slice/vm"), &bw, &e), 0);
	assert_true(bw.quota_us == -1 && bw.period_us == 100000);
	/* v2 has no parent/child rule: effective = min, no clamping. */
	enforce_quota_for(ops, mount, tpath("v2/machine.slice/vm"), &bw, 0.8, &out, &e);
	assert_true(out.quota_us == 80000);
	out.quota_us = 25000;
	assert_int_equal(ops->write_bw(tpath("v2/machine.slice/vm"), &out, &e), 0);
	s = get("v2/machine.slice/vm/cpu.max");
	assert_string_equal(s, "25000 100000");
	free(s);
	out.quota_us = -1;
	ops->write_bw(tpath("v2/machine.slice/vm"), &out, &e);
	s = get("v2/machine.slice/vm/cpu.max");
	assert_string_equal(s, "max 100000");
	free(s);
	put("v2/machine.slice/bad/cpu.max", "garbage\n");
	assert_true(ops->read_bw(tpath("v2/machine.slice/bad"), &bw, &e) < 0);
	xpv_error_free(&e);
	free(mount);
	/* forcing v1 on a v2 tree fails with a message naming the root */
	assert_true(enforce_detect(tpath("v2"), 1, &ops, &mount, &e) < 0);
	assert_non_null(strstr(e->msg, tmp));
	xpv_error_free(&e);
}

/* ---- state file ------------------------------------------------------- */

static void state_roundtrip(void **state)
{
	struct xpv_state st = {0}, st2 = {0};
	struct xpv_error *e = NULL;
	struct cfs_bw bw = {-1, 100000}, got;
	char *s;

	(void)state;
	v1_tree();
	assert_int_equal(state_open(&st, tpath("state.json"), true, &e), 0);
	assert_int_equal(state_save(&st, tpath("v1/cpu/parent/child"), 1, &bw, &e), 0);
	assert_int_equal(state_save(&st, tpath("v1/cpu/gone"), 1, &bw, &e), 0);
	/* As if we crashed: the throttled value is still in the cgroup. */
	put("v1/cpu/parent/child/cpu.cfs_quota_us", "5000\n");
	state_close(&st);
	assert_int_equal(state_open(&st2, tpath("state.json"), true, &e), 0);
	assert_int_equal(state_lookup(&st2, tpath("v1/cpu/parent/child"), &got), 1);
	assert_true(got.quota_us == -1 && got.period_us == 100000);
	/* gone/ vanished: dropped, child: restored */
	assert_int_equal(state_restore_all(&st2, &e), 2);
	s = get("v1/cpu/parent/child/cpu.cfs_quota_us");
	assert_string_equal(s, "-1");
	free(s);
	assert_false(xpv_path_exists(tpath("state.json")));
	state_close(&st2);
	/* A corrupt state file stops startup rather than being ignored. */
	put("state.json", "{not json");
	assert_true(state_open(&st, tpath("state.json"), true, &e) < 0);
	assert_non_null(strstr(e->msg, "corrupt"));
	xpv_error_free(&e);
	state_close(&st);
}

/* One owner per state file; a reader (xpvd -t) neither locks nor writes. */
static void state_single_owner(void **state)
{
	struct xpv_state a = {0}, b = {0}, ro = {0};
	struct xpv_error *e = NULL;
	struct cfs_bw bw = {-1, 100000};

	(void)state;
	v1_tree();
	assert_int_equal(state_open(&a, tpath("own.json"), true, &e), 0);
	assert_int_equal(state_save(&a, tpath("v1/cpu/parent/child"), 1, &bw, &e), 0);
	assert_true(state_open(&b, tpath("own.json"), true, &e) < 0);
	assert_int_equal(e->status, EWOULDBLOCK);
	assert_non_null(strstr(e->msg, "another xpvd"));
	xpv_error_free(&e);
	state_close(&b);
	assert_int_equal(state_open(&ro, tpath("own.json"), false, &e), 0);
	assert_int_equal(ro.lock_fd, -1);
	state_close(&ro);
	/* the owner's lock goes with it */
	state_close(&a);
	assert_int_equal(state_open(&b, tpath("own.json"), true, &e), 0);
	assert_int_equal(state_restore_all(&b, &e), 1);
	state_close(&b);
}

/* ---- discovery -------------------------------------------------------- */

static void discovery_names(void **state)
{
	char name[64];
	int id;

	(void)state;
	assert_int_equal(discovery_parse_machine("machine-qemu\\x2d12\\x2dweb\\x2d1.scope", &id,
						 name, sizeof(name)),
			 0);
	assert_int_equal(id, 12);
	assert_string_equal(name, "web-1");
	assert_int_equal(
		discovery_parse_machine("qemu-3-vm1.libvirt-qemu", &id, name, sizeof(name)), 0);
	assert_int_equal(id, 3);
	assert_string_equal(name, "vm1");
	assert_true(discovery_parse_machine("machine-lxc\\x2d1\\x2dc.scope", &id, name,
					    sizeof(name)) < 0);
	assert_true(discovery_parse_machine("user.slice", &id, name, sizeof(name)) < 0);
	assert_true(discovery_parse_machine("qemu-x-vm.libvirt-qemu", &id, name, sizeof(name)) < 0);
}

static void discovery_trees(void **state)
{
	struct xpv_plain_cgroup plain[2] = {{"box", "test/box"}, {"absent", "test/absent"}};
	struct discovery d = {&cg_v1_ops, NULL, true, 2, plain};
	struct xpv_vm_list l;
	struct xpv_error *e = NULL;
	const struct xpv_vm *vm;

	(void)state;
	put("t1/cpu/machine/qemu-3-vm1.libvirt-qemu/vcpu0/tasks", "101\n");
	put("t1/cpu/machine/qemu-3-vm1.libvirt-qemu/vcpu1/tasks", "102\n");
	put("t1/cpu/machine/qemu-3-vm1.libvirt-qemu/emulator/tasks", "100\n");
	put("t1/cpu/test/box/tasks", "200\n201\n");
	put("t1/cpu/test/box/sub/tasks", "202\n");
	d.mount = tpath("t1/cpu");
	assert_int_equal(discovery_scan(&d, &l, &e), 0);
	assert_int_equal(l.n, 2);
	vm = discovery_find(&l, "vm1");
	assert_non_null(vm);
	assert_int_equal(vm->kind, XPV_VM_LIBVIRT);
	assert_int_equal(vm->nvcpus, 2);
	assert_int_equal(vm->groups[1].vcpu, 1);
	assert_int_equal(vm->groups[1].tids[0], 102);
	vm = discovery_find(&l, "box");
	assert_non_null(vm);
	assert_int_equal(vm->nvcpus, 3);
	assert_null(discovery_find(&l, "absent"));
	discovery_free(&l);
	/* hot-plug a vCPU, add a VM under the systemd layout */
	put("t1/cpu/machine/qemu-3-vm1.libvirt-qemu/vcpu2/tasks", "103\n");
	put("t1/cpu/machine.slice/machine-qemu\\x2d4\\x2dweb.scope/libvirt/vcpu0/tasks", "300\n");
	assert_int_equal(discovery_scan(&d, &l, &e), 0);
	assert_int_equal(discovery_find(&l, "vm1")->nvcpus, 3);
	assert_non_null(discovery_find(&l, "web"));
	discovery_free(&l);

	/* v2 layout */
	struct discovery d2 = {&cg_v2_ops, tpath("t2"), true, 0, NULL};

	put("t2/machine.slice/machine-qemu\\x2d7\\x2dvm\\x2d2.scope/libvirt/vcpu0/cgroup.threads",
	    "400\n");
	put("t2/machine.slice/machine-qemu\\x2d7\\x2dvm\\x2d2.scope/libvirt/emulator/"
	    "cgroup.threads",
	    "399\n");
	assert_int_equal(discovery_scan(&d2, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.vms[0].name, "vm-2");
	assert_int_equal(l.vms[0].domid, 7);
	assert_int_equal(l.vms[0].groups[0].tids[0], 400);
	assert_non_null(strstr(l.vms[0].groups[0].dir, "/libvirt/vcpu0"));
	discovery_free(&l);
}

/* ---- ctl and metadata parsing ------------------------------------------ */

static void ctl_protocol(void **state)
{
	char line[] = "permit  set vm1\t250\n", bad[] = "a\x01b";
	char *argv[CTL_MAX_ARGS], *r;
	struct xpv_error *e = NULL;
	json_t *res = json_integer(3);

	(void)state;
	assert_int_equal(ctl_split(line, argv, CTL_MAX_ARGS), 4);
	assert_string_equal(argv[3], "250");
	assert_int_equal(ctl_split(bad, argv, CTL_MAX_ARGS), -1);
	r = ctl_reply(0, res, NULL);
	assert_string_equal(r, "{\"ok\":true,\"result\":3}");
	free(r);
	xpv_error_set(&e, 0, "nope");
	r = ctl_reply(-1, NULL, e);
	assert_string_equal(r, "{\"ok\":false,\"error\":\"nope\"}");
	free(r);
	xpv_error_free(&e);
	json_decref(res);
}

static void metadata_parse(void **state)
{
	struct xpv_error *e = NULL;
	double p = -1;

	(void)state;
	assert_int_equal(
		libvirt_meta_parse("<kyoto xmlns=\"" XPV_XMLNS "\" llc-cap=\"250.5\"/>", &p, &e),
		1);
	assert_true(p == 250.5);
	assert_int_equal(libvirt_meta_parse("<kyoto llc-cap='7'/>", &p, &e), 1);
	assert_true(p == 7);
	assert_int_equal(libvirt_meta_parse("<kyoto/>", &p, &e), 0);
	assert_true(libvirt_meta_parse("<kyoto llc-cap=\"-1\"/>", &p, &e) < 0);
	assert_non_null(strstr(e->msg, "llc-cap"));
	xpv_error_free(&e);
	assert_true(libvirt_meta_parse("<kyoto llc-cap=\"lots\"/>", &p, &e) < 0);
	xpv_error_free(&e);
	/* parsed as XML: the name inside another value or a longer name is
	 * not the attribute; entities are decoded; broken XML is an error */
	p = -1;
	assert_int_equal(libvirt_meta_parse("<kyoto note=\"llc-cap='5'\"/>", &p, &e), 0);
	assert_int_equal(libvirt_meta_parse("<kyoto x-llc-cap=\"5\"/>", &p, &e), 0);
	assert_true(p == -1);
	assert_int_equal(libvirt_meta_parse("<kyoto llc-cap=\"&#x33;\"/>", &p, &e), 1);
	assert_true(p == 3);
	assert_true(libvirt_meta_parse("<kyoto llc-cap=\"7\"", &p, &e) < 0);
	xpv_error_free(&e);
}

/* ---- perf plumbing with software events --------------------------------- */

static void counters_software(void **state)
{
	struct counters_opts o = {.source = CTR_SOFTWARE};
	struct counters *c = NULL;
	struct thread_ctr *t = NULL;
	struct xpv_error *e = NULL;
	struct acct_sample d;
	size_t len = 16 << 20;
	char *m;
	json_t *desc;

	(void)state;
	if (counters_init(&c, &o, &e) < 0) {
		/* perf_event_open itself unavailable (paranoid, seccomp) */
		fprintf(stderr, "# %s\n", e->msg);
		xpv_error_free(&e);
		skip();
	}
	assert_int_equal(counters_open(c, gettid(), "me", &t, &e), 0);
	assert_int_equal(counters_read(c, t, &d, &e), 0); /* prime */
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	for (size_t i = 0; i < len; i += 4096)
		m[i] = 1;
	burn(10 * MS);
	assert_int_equal(counters_read(c, t, &d, &e), 0);
	munmap(m, len);
	/* 4096 first touches fault at least once each (THP may merge) */
	assert_true(d.llc_misses >= 8);
	assert_true(d.base_cycles >= 5 * MS && d.freq_khz == 1e6);
	assert_true(d.run_ns >= 5 * MS);
	assert_true(account_llc_cap_act(&d) > 0);
	desc = counters_describe(c);
	assert_int_equal(json_array_size(json_object_get(desc, "events")), 3);
	/* what was opened (counters.c: event_attr), not a constant: every
	 * event counts the guest and the host */
	for (size_t i = 0; i < 3; i++) {
		json_t *ev = json_array_get(json_object_get(desc, "events"), i);

		assert_true(json_is_false(json_object_get(ev, "exclude_guest")));
		assert_true(json_is_false(json_object_get(ev, "exclude_host")));
	}
	json_decref(desc);
	counters_close(t);
	counters_free(c);
}

static void counters_perf_probe(void **state)
{
	/* Hardware counters: either usable, or one clear error; no crash. */
	struct counters_opts o = {.source = CTR_PERF};
	struct counters *c = NULL;
	struct xpv_error *e = NULL;

	(void)state;
	if (counters_init(&c, &o, &e) < 0) {
		assert_non_null(e);
		assert_non_null(strstr(e->msg, "llc_misses"));
		/* what the operator can do, never "use synthetic" */
		assert_null(strstr(e->msg, "synthetic"));
		if (e->status == ENOENT || e->status == EOPNOTSUPP || e->status == ENODEV) {
			assert_non_null(strstr(e->msg, "exposes no hardware PMU"));
			assert_non_null(strstr(e->msg, "enable the vPMU"));
			assert_non_null(strstr(e->msg, "\"kyoto\": {\"enabled\": false}"));
		}
		xpv_error_free(&e);
		return;
	}
	json_t *desc = counters_describe(c);

	assert_true(json_array_size(json_object_get(desc, "events")) >= 2);
	json_decref(desc);
	counters_free(c);
}

/* ---- the controller on a fake v1 tree ---------------------------------- */

static void controller_fake_tree(void **state)
{
	static const char *const sections[] = {"kyoto", NULL};
	char json[1024], tid[32], *s;
	struct xpv_config cfg;
	struct xpv_state st = {0};
	struct xpv_error *e = NULL;
	struct xpv_host h;
	struct discovery d;
	struct xpv_vm_list l;
	void *priv = NULL;
	json_t *status, *reply = NULL;
	char *argv[4] = {"permit", "set", "me", "1e9"};
	int throttled = 0;

	(void)state;
	v1_tree();
	snprintf(tid, sizeof(tid), "%d\n", gettid());
	put("v1/cpu/vms/me/tasks", tid);
	put("v1/cpu/vms/me/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/vms/me/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/vms/me/cpu.stat", "nr_throttled 0\n");
	put("syn/me", "10000000\n"); /* over even on a busy host */
	snprintf(json, sizeof(json),
		 "{\"discovery\": {\"libvirt\": false, \"cgroups\": [{\"name\": "
		 "\"me\", \"path\": \"vms/me\"}]}, \"kyoto\": {\"permits\": "
		 "{\"me\": 1000}, \"counters\": {\"source\": \"synthetic\", "
		 "\"synthetic_dir\": \"%s\"}}}",
		 tpath("syn"));
	assert_int_equal(config_load_string(&cfg, json, sections, &e), 0);
	assert_int_equal(state_open(&st, tpath("st.json"), true, &e), 0);
	h = (struct xpv_host){&cfg, &cg_v1_ops, tpath("v1/cpu"), &st};
	d = (struct discovery){&cg_v1_ops, tpath("v1/cpu"), false, cfg.n_plain, cfg.plain};
	assert_int_equal(kyoto_controller.init(&priv, &h, &e), 0);
	for (int i = 0; i < 5; i++) {
		burn(20 * MS); /* we are the "vCPU": run all the period */
		assert_int_equal(discovery_scan(&d, &l, &e), 0);
		assert_int_equal(kyoto_controller.tick(priv, &l, 20 * MS, &e), 0);
		discovery_free(&l);
		s = get("v1/cpu/vms/me/cpu.cfs_quota_us");
		if (atoi(s) > 0) {
			throttled = 1;
			/* the original was saved before the first write */
			free(s);
			s = get("st.json");
			assert_non_null(s);
			assert_non_null(strstr(s, "\"quota\": -1"));
			free(s);
			break;
		}
		free(s);
	}
	assert_true(throttled);
	status = kyoto_controller.status(priv);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(status, "vms"), 0), "state")),
			    "OVER");
	json_decref(status);
	/* A live permit above the pollution restores the original. */
	assert_int_equal(kyoto_controller.command(priv, 4, argv, &reply, &e), 1);
	json_decref(reply);
	burn(20 * MS);
	discovery_scan(&d, &l, &e);
	kyoto_controller.tick(priv, &l, 20 * MS, &e);
	discovery_free(&l);
	s = get("v1/cpu/vms/me/cpu.cfs_quota_us");
	assert_string_equal(s, "-1");
	free(s);
	assert_false(xpv_path_exists(tpath("st.json")));
	/* Throttle again, then shut down: the original comes back. */
	argv[3] = "10";
	kyoto_controller.command(priv, 4, argv, &reply, &e);
	json_decref(reply);
	for (int i = 0; i < 5; i++) {
		burn(20 * MS);
		discovery_scan(&d, &l, &e);
		kyoto_controller.tick(priv, &l, 20 * MS, &e);
		discovery_free(&l);
	}
	s = get("v1/cpu/vms/me/cpu.cfs_quota_us");
	assert_true(atoi(s) > 0);
	free(s);
	kyoto_controller.shutdown(priv);
	s = get("v1/cpu/vms/me/cpu.cfs_quota_us");
	assert_string_equal(s, "-1");
	free(s);
	state_close(&st);
	config_free(&cfg);
}

static void controller_no_write_without_save(void **state)
{
	/* If the original cannot be saved, nothing is written. */
	static const char *const sections[] = {"kyoto", NULL};
	char json[1024], tid[32], *s;
	struct xpv_config cfg;
	struct xpv_state st = {0};
	struct xpv_error *e = NULL;
	struct xpv_host h;
	struct discovery d;
	struct xpv_vm_list l;
	void *priv = NULL;

	(void)state;
	v1_tree();
	snprintf(tid, sizeof(tid), "%d\n", gettid());
	put("v1/cpu/vms/me/tasks", tid);
	put("v1/cpu/vms/me/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/vms/me/cpu.cfs_period_us", "100000\n");
	put("syn/me", "10000000\n"); /* over even on a busy host */
	snprintf(json, sizeof(json),
		 "{\"discovery\": {\"cgroups\": [{\"name\": \"me\", \"path\": "
		 "\"vms/me\"}]}, \"kyoto\": {\"default_permit\": 10, "
		 "\"counters\": {\"source\": \"synthetic\", \"synthetic_dir\": "
		 "\"%s\"}}}",
		 tpath("syn"));
	assert_int_equal(config_load_string(&cfg, json, sections, &e), 0);
	assert_int_equal(state_open(&st, tpath("no/such/dir/st.json"), false, &e), 0);
	h = (struct xpv_host){&cfg, &cg_v1_ops, tpath("v1/cpu"), &st};
	d = (struct discovery){&cg_v1_ops, tpath("v1/cpu"), false, cfg.n_plain, cfg.plain};
	assert_int_equal(kyoto_controller.init(&priv, &h, &e), 0);
	for (int i = 0; i < 3; i++) {
		burn(20 * MS);
		discovery_scan(&d, &l, &e);
		kyoto_controller.tick(priv, &l, 20 * MS, &e);
		discovery_free(&l);
	}
	s = get("v1/cpu/vms/me/cpu.cfs_quota_us");
	assert_int_equal(atoi(s), -1);
	free(s);
	json_t *status = kyoto_controller.status(priv);
	json_t *vm = json_array_get(json_object_get(status, "vms"), 0);

	assert_string_equal(json_string_value(json_object_get(vm, "state")), "OVER");
	assert_non_null(strstr(json_string_value(json_object_get(vm, "degraded")), "saving"));
	json_decref(status);
	kyoto_controller.shutdown(priv);
	state_close(&st);
	config_free(&cfg);
}

static void controller_throttle_period(void **state)
{
	/* With throttle_period_us the period is shortened while throttled
	 * and the operator's period comes back on restore. */
	static const char *const sections[] = {"kyoto", NULL};
	char json[1024], tid[32], *s;
	struct xpv_config cfg;
	struct xpv_state st = {0};
	struct xpv_error *e = NULL;
	struct xpv_host h;
	struct discovery d;
	struct xpv_vm_list l;
	void *priv = NULL;

	(void)state;
	v1_tree();
	snprintf(tid, sizeof(tid), "%d\n", gettid());
	put("v1/cpu/vms/me/tasks", tid);
	put("v1/cpu/vms/me/cpu.cfs_quota_us", "60000\n");
	put("v1/cpu/vms/me/cpu.cfs_period_us", "100000\n");
	put("syn/me", "10000000\n"); /* over even on a busy host */
	snprintf(json, sizeof(json),
		 "{\"discovery\": {\"cgroups\": [{\"name\": \"me\", \"path\": "
		 "\"vms/me\"}]}, \"kyoto\": {\"default_permit\": 10, "
		 "\"throttle_period_us\": 20000, \"counters\": {\"source\": "
		 "\"synthetic\", \"synthetic_dir\": \"%s\"}}}",
		 tpath("syn"));
	assert_int_equal(config_load_string(&cfg, json, sections, &e), 0);
	assert_int_equal(state_open(&st, tpath("st.json"), true, &e), 0);
	h = (struct xpv_host){&cfg, &cg_v1_ops, tpath("v1/cpu"), &st};
	d = (struct discovery){&cg_v1_ops, tpath("v1/cpu"), false, cfg.n_plain, cfg.plain};
	assert_int_equal(kyoto_controller.init(&priv, &h, &e), 0);
	for (int i = 0; i < 3; i++) {
		burn(20 * MS);
		discovery_scan(&d, &l, &e);
		kyoto_controller.tick(priv, &l, 20 * MS, &e);
		discovery_free(&l);
	}
	s = get("v1/cpu/vms/me/cpu.cfs_period_us");
	assert_int_equal(atoi(s), 20000);
	free(s);
	s = get("v1/cpu/vms/me/cpu.cfs_quota_us");
	/* floor 0.05 of the 20 ms period (1 ms), below 60 % */
	assert_true(atoi(s) >= 1000 && atoi(s) < 12000);
	free(s);
	kyoto_controller.shutdown(priv);
	s = get("v1/cpu/vms/me/cpu.cfs_period_us");
	assert_int_equal(atoi(s), 100000);
	free(s);
	s = get("v1/cpu/vms/me/cpu.cfs_quota_us");
	assert_int_equal(atoi(s), 60000);
	free(s);
	state_close(&st);
	config_free(&cfg);
}

/* The hook's notice: every word validated before anything is counted. */
static void domain_notice_validation(void **st)
{
	struct domain_notices n = {0};
	struct xpv_error *err = NULL;
	json_t *r = NULL, *status;
	const char *uuid = "5a0f2c1e-51aa-4b1b-9c51-0123456789AB";
	char *bad[][4] = {
		{"domain", "started", NULL, NULL},
		{"domain", "paused", (char *)uuid, NULL},
		{"domain", "started", "5a0f2c1e-51aa-4b1b-9c51-0123456789ab0", NULL},
		{"domain", "started", "5a0f2c1e-51aa-4b1b-9c51-0123456789ag", NULL},
		{"domain", "started", "5a0f2c1e051aa-4b1b-9c51-0123456789ab", NULL},
		{"domain", "started", (char *)uuid, "a/b"},
		{"domain", "started", (char *)uuid, ".."},
	};
	int argcs[] = {2, 3, 3, 3, 3, 4, 4};
	char *good[] = {"domain", "stopped", (char *)uuid, "vm_1.x"};

	(void)st;
	for (size_t i = 0; i < sizeof(argcs) / sizeof(argcs[0]); i++) {
		assert_true(domain_notice(&n, argcs[i], bad[i], &r, &err) < 0);
		assert_non_null(err);
		assert_int_equal(err->status, EINVAL);
		xpv_error_free(&err);
		assert_null(r);
	}
	assert_int_equal(n.started + n.stopped, 0);
	/* no libvirt session in this process: counted, nothing to refresh */
	assert_int_equal(domain_notice(&n, 4, good, &r, &err), 0);
	assert_false(json_is_true(json_object_get(r, "refresh")));
	json_decref(r);
	assert_int_equal(n.stopped, 1);
	status = domain_notices_status(&n);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(status, "last"), "uuid")), uuid);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(status, "last"), "name")),
		"vm_1.x");
	json_decref(status);
}

/* placement: this thread as a plain VM's only vCPU; memory from a homing
 * status object; an unknown name is an error naming it. */
static void domain_placement_lookup(void **st)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct xpv_group g = {.dir = "/x", .vcpu = -1, .n_tids = 1, .tids = &tid};
	struct xpv_vm vm = {
		.name = "vm1", .kind = XPV_VM_PLAIN, .domid = -1, .n_groups = 1, .groups = &g};
	struct xpv_vm_list l = {1, &vm};
	struct xpv_error *err = NULL;
	json_t *r = NULL, *v;
	json_t *homing = json_pack("{s:[{s:s, s:I, s:I, s:s, s:[{s:{s:I, s:I}}, {s:{s:I}}]}]}",
				   "vms", "vm", "vm1", "resident_bytes", (json_int_t)7000,
				   "remote_bytes", (json_int_t)1000, "state", "idle", "regions",
				   "bytes_per_node", "0", (json_int_t)4000, "1", (json_int_t)1000,
				   "bytes_per_node", "0", (json_int_t)2000);

	(void)st;
	assert_true(domain_placement(&l, homing, "nosuch", &r, &err) < 0);
	assert_int_equal(err->status, ENOENT);
	assert_non_null(strstr(err->msg, "nosuch"));
	xpv_error_free(&err);
	assert_int_equal(domain_placement(&l, homing, "vm1", &r, &err), 0);
	v = json_array_get(json_object_get(r, "vcpus"), 0);
	assert_int_equal(json_integer_value(json_object_get(v, "tid")), tid);
	assert_true(json_is_integer(json_object_get(v, "cpu")));
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(r, "memory"), "bytes_per_node"), "0")),
		6000);
	json_decref(r);
	/* no region: not measured, said so */
	json_array_clear(
		json_object_get(json_array_get(json_object_get(homing, "vms"), 0), "regions"));
	assert_int_equal(domain_placement(&l, homing, "vm1", &r, &err), 0);
	assert_true(json_is_null(json_object_get(r, "memory")));
	assert_non_null(json_object_get(r, "memory_note"));
	json_decref(r);
	json_decref(homing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(eq31),
		cmocka_unit_test(under_stays_unthrottled),
		cmocka_unit_test(over_reduces_proportionally),
		cmocka_unit_test(floor_prevents_starvation),
		cmocka_unit_test(closed_loop_converges),
		cmocka_unit_test(idle_over_keeps_cap),
		cmocka_unit_test(exemption),
		cmocka_unit_test(ungoverned_and_sum),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(config_defaults),
		cmocka_unit_test(kyoto_config_errors),
		cmocka_unit_test_setup_teardown(enforce_v1, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(enforce_v2, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(state_roundtrip, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(state_single_owner, setup_tmp, teardown_tmp),
		cmocka_unit_test(discovery_names),
		cmocka_unit_test_setup_teardown(discovery_trees, setup_tmp, teardown_tmp),
		cmocka_unit_test(ctl_protocol),
		cmocka_unit_test(domain_notice_validation),
		cmocka_unit_test(domain_placement_lookup),
		cmocka_unit_test(metadata_parse),
		cmocka_unit_test(counters_software),
		cmocka_unit_test(counters_perf_probe),
		cmocka_unit_test_setup_teardown(controller_fake_tree, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(controller_throttle_period, setup_tmp,
						teardown_tmp),
		cmocka_unit_test_setup_teardown(controller_no_write_without_save, setup_tmp,
						teardown_tmp),
	};

	/* The controller tests use the test-only "synthetic" source. */
	setenv(XPV_TEST_MODE_ENV, "1", 1);
	return cmocka_run_group_tests_name("xpvd-unit", tests, NULL, NULL);
}
