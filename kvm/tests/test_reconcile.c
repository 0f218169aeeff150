// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Kyoto enforcement as a reconciler, on fake cgroup v1 trees: outside
 * changes adopted as the new original, period x floor validated, the v1
 * parent/child rule, hot-unplugged vCPU groups forgotten, task identity
 * by start time, multiplex-starved samples left out of the accounting.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "controller.h"
#include "discovery.h"
#include "enforce.h"
#include "state.h"
#include "util.h"

#include "testlib.h"

#define MS 1000000ull

/* A kyoto controller over tmp/v1/cpu with the test-only synthetic source. */
struct rig {
	struct xpv_config cfg;
	struct xpv_state st;
	struct xpv_host h;
	struct discovery d;
	void *priv;
};

static void rig_start(struct rig *r, const char *discovery, const char *kyoto_extra)
{
	static const char *const sections[] = {"kyoto", NULL};
	struct xpv_error *e = NULL;
	char json[2048];

	memset(r, 0, sizeof(*r));
	snprintf(json, sizeof(json),
		 "{\"discovery\": %s, \"kyoto\": {\"libvirt_metadata\": false, "
		 "\"counters\": {\"source\": \"synthetic\", \"synthetic_dir\": \"%s\"}%s}}",
		 discovery, tpath("syn"), kyoto_extra);
	assert_int_equal(config_load_string(&r->cfg, json, sections, &e), 0);
	assert_int_equal(state_open(&r->st, tpath("st.json"), true, &e), 0);
	r->h = (struct xpv_host){&r->cfg, &cg_v1_ops, tpath("v1/cpu"), &r->st};
	r->d = (struct discovery){&cg_v1_ops, tpath("v1/cpu"), r->cfg.libvirt, r->cfg.n_plain,
				  r->cfg.plain};
	assert_int_equal(kyoto_controller.init(&r->priv, &r->h, &e), 0);
}

static void rig_tick(struct rig *r)
{
	struct xpv_error *e = NULL;
	struct xpv_vm_list l;

	burn(20 * MS); /* we are the "vCPU": run all the period */
	assert_int_equal(discovery_scan(&r->d, &l, &e), 0);
	assert_int_equal(kyoto_controller.tick(r->priv, &l, 20 * MS, &e), 0);
	discovery_free(&l);
}

static void rig_stop(struct rig *r)
{
	kyoto_controller.shutdown(r->priv);
	state_close(&r->st);
	config_free(&r->cfg);
}

static void permit(struct rig *r, const char *vm, const char *value)
{
	char *argv[4] = {"permit", "set", (char *)vm, (char *)value};
	struct xpv_error *e = NULL;
	json_t *reply = NULL;

	assert_int_equal(kyoto_controller.command(r->priv, 4, argv, &reply, &e), 1);
	json_decref(reply);
}

static long quota_of(const char *rel)
{
	char path[512], *s;
	long v;

	snprintf(path, sizeof(path), "v1/cpu/%s/cpu.cfs_quota_us", rel);
	s = get(path);
	assert_non_null(s);
	v = atol(s);
	free(s);
	return v;
}

static void me_tree(void)
{
	char tid[32];

	put("v1/cpu/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/vms/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/vms/cpu.cfs_period_us", "100000\n");
	snprintf(tid, sizeof(tid), "%d\n", gettid());
	put("v1/cpu/vms/me/tasks", tid);
	put("v1/cpu/vms/me/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/vms/me/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/vms/me/cpu.stat", "nr_throttled 0\n");
	put("syn/me", "10000000\n"); /* over even on a busy host */
}

#define ME_DISCOVERY "{\"libvirt\": false, \"cgroups\": [{\"name\": \"me\", \"path\": \"vms/me\"}]}"

static void outside_change_is_adopted(void **state)
{
	struct rig r;
	json_t *st;
	char *s;
	int i;

	(void)state;
	me_tree();
	rig_start(&r, ME_DISCOVERY, "");
	permit(&r, "me", "10");
	for (i = 0; i < 10 && quota_of("vms/me") < 0; i++)
		rig_tick(&r);
	assert_true(quota_of("vms/me") > 0);
	/* the operator sets a limit meanwhile (virsh schedinfo) */
	put("v1/cpu/vms/me/cpu.cfs_quota_us", "77000\n");
	rig_tick(&r);
	s = get("st.json");
	assert_non_null(s);
	assert_non_null(strstr(s, "\"quota\": 77000")); /* the new original */
	free(s);
	/* still throttled, and never above the operator's new value */
	assert_true(quota_of("vms/me") > 0 && quota_of("vms/me") <= 77000);
	st = kyoto_controller.status(r.priv);
	assert_int_equal(json_integer_value(json_object_get(st, "adopted_outside_changes")), 1);
	json_decref(st);
	/* a permit above the pollution gives back the operator's value, not -1 */
	permit(&r, "me", "1e12");
	rig_tick(&r);
	assert_int_equal(quota_of("vms/me"), 77000);
	s = get("st.json");
	assert_true(!s || !strstr(s, "vms/me"));
	free(s);
	/* throttled again, then the operator changes it, then xpvd stops: kept */
	permit(&r, "me", "10");
	for (i = 0; i < 10 && quota_of("vms/me") == 77000; i++)
		rig_tick(&r);
	assert_true(quota_of("vms/me") < 77000);
	put("v1/cpu/vms/me/cpu.cfs_quota_us", "55000\n");
	rig_stop(&r);
	assert_int_equal(quota_of("vms/me"), 55000);
}

static void floor_times_period_validated(void **state)
{
	static const char *const sections[] = {"kyoto", NULL};
	struct xpv_config cfg;
	struct xpv_state st = {0};
	struct xpv_error *e = NULL;
	struct xpv_host h = {&cfg, &cg_v1_ops, "/nonexistent", &st};
	void *priv = NULL;

	(void)state;
	assert_int_equal(config_load_string(&cfg,
					    "{\"kyoto\": {\"floor\": 0.05, "
					    "\"throttle_period_us\": 10000, \"counters\": "
					    "{\"source\": \"synthetic\"}}}",
					    sections, &e),
			 0);
	assert_true(kyoto_controller.init(&priv, &h, &e) < 0);
	assert_non_null(strstr(e->msg, "below the kernel's 1000 us minimum CFS quota"));
	assert_non_null(strstr(e->msg, "kyoto.floor to >= 0.1"));
	assert_non_null(strstr(e->msg, "kyoto.throttle_period_us to >= 20000"));
	xpv_error_free(&e);
	config_free(&cfg);
	/* 0.1 x 10 ms = 1 ms: accepted */
	assert_int_equal(config_load_string(&cfg,
					    "{\"kyoto\": {\"floor\": 0.1, "
					    "\"throttle_period_us\": 10000, \"counters\": "
					    "{\"source\": \"synthetic\"}}}",
					    sections, &e),
			 0);
	assert_int_equal(kyoto_controller.init(&priv, &h, &e), 0);
	kyoto_controller.shutdown(priv);
	config_free(&cfg);
}

static void v1_parent_not_below_child(void **state)
{
	struct xpv_error *e = NULL;
	struct cfs_bw orig = {-1, 100000}, out;
	const char *mount;

	(void)state;
	put("v1/cpu/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/p/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/p/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/p/a/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/p/a/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/p/a/b/cpu.cfs_quota_us", "60000\n"); /* a grandchild at 0.6 */
	put("v1/cpu/p/a/b/cpu.cfs_period_us", "100000\n");
	mount = tpath("v1/cpu");
	/* 0.2 asked: held at the grandchild's 0.6, and said so */
	assert_int_equal(
		enforce_quota_for(&cg_v1_ops, mount, tpath("v1/cpu/p"), &orig, 0.2, &out, &e),
		ENFORCE_AT_CHILD);
	assert_int_equal(out.quota_us, 60000);
	/* 0.8 asked: no conflict */
	assert_int_equal(
		enforce_quota_for(&cg_v1_ops, mount, tpath("v1/cpu/p"), &orig, 0.8, &out, &e), 0);
	assert_int_equal(out.quota_us, 80000);
	/* v2 has no such rule */
	assert_int_equal(
		enforce_quota_for(&cg_v2_ops, mount, tpath("v1/cpu/p"), &orig, 0.2, &out, &e), 0);
	assert_int_equal(out.quota_us, 20000);
	/* below 1 ms: raised to 1 ms, and said so */
	assert_int_equal(
		enforce_quota_for(&cg_v2_ops, mount, tpath("v1/cpu/p"), &orig, 0.001, &out, &e),
		ENFORCE_AT_MIN);
	assert_int_equal(out.quota_us, CFS_MIN_US);
}

static void vcpu_tree(int k, const char *quota)
{
	char rel[256], tid[32];

	snprintf(tid, sizeof(tid), "%d\n", gettid());
	snprintf(rel, sizeof(rel), "v1/cpu/machine/qemu-1-vm.libvirt-qemu/vcpu%d/tasks", k);
	put(rel, tid);
	snprintf(rel, sizeof(rel), "v1/cpu/machine/qemu-1-vm.libvirt-qemu/vcpu%d/cpu.cfs_quota_us",
		 k);
	put(rel, quota);
	snprintf(rel, sizeof(rel), "v1/cpu/machine/qemu-1-vm.libvirt-qemu/vcpu%d/cpu.cfs_period_us",
		 k);
	put(rel, "100000\n");
}

static void unplugged_vcpu_forgotten(void **state)
{
	struct rig r;
	char *s;
	int i;

	(void)state;
	put("v1/cpu/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/machine/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/machine/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/machine/qemu-1-vm.libvirt-qemu/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/machine/qemu-1-vm.libvirt-qemu/cpu.cfs_period_us", "100000\n");
	vcpu_tree(0, "-1\n");
	vcpu_tree(1, "-1\n");
	put("syn/vm", "10000000\n");
	rig_start(&r, "{\"libvirt\": true}", "");
	permit(&r, "vm", "10");
	for (i = 0; i < 10 && quota_of("machine/qemu-1-vm.libvirt-qemu/vcpu1") < 0; i++)
		rig_tick(&r);
	s = get("st.json");
	assert_non_null(s);
	assert_non_null(strstr(s, "vcpu1"));
	free(s);
	/* vCPU 1 unplugged: its group is gone, and so is its saved value */
	unlink(tpath("v1/cpu/machine/qemu-1-vm.libvirt-qemu/vcpu1/tasks"));
	unlink(tpath("v1/cpu/machine/qemu-1-vm.libvirt-qemu/vcpu1/cpu.cfs_quota_us"));
	unlink(tpath("v1/cpu/machine/qemu-1-vm.libvirt-qemu/vcpu1/cpu.cfs_period_us"));
	assert_int_equal(rmdir(tpath("v1/cpu/machine/qemu-1-vm.libvirt-qemu/vcpu1")), 0);
	rig_tick(&r);
	s = get("st.json");
	assert_non_null(s);
	assert_null(strstr(s, "vcpu1"));
	assert_non_null(strstr(s, "vcpu0"));
	free(s);
	/* plugged back with a limit of its own: that is its original now */
	vcpu_tree(1, "40000\n");
	for (i = 0; i < 10 && quota_of("machine/qemu-1-vm.libvirt-qemu/vcpu1") == 40000; i++)
		rig_tick(&r);
	assert_true(quota_of("machine/qemu-1-vm.libvirt-qemu/vcpu1") < 40000);
	s = get("st.json");
	assert_non_null(strstr(s, "\"quota\": 40000"));
	free(s);
	rig_stop(&r);
	assert_int_equal(quota_of("machine/qemu-1-vm.libvirt-qemu/vcpu1"), 40000);
	assert_int_equal(quota_of("machine/qemu-1-vm.libvirt-qemu/vcpu0"), -1);
}

static void *sleeper(void *arg)
{
	(void)arg;
	return NULL;
}

static void task_start_time(void **state)
{
	uint64_t me, again, other;
	pthread_t t;
	char path[64], *buf = NULL, *p;
	struct xpv_error *e = NULL;

	(void)state;
	assert_int_equal(xpv_task_start_time(gettid(), &me), 0);
	assert_int_equal(xpv_task_start_time(gettid(), &again), 0);
	assert_true(me == again);
	/* field 22 of /proc/self/stat, read another way */
	snprintf(path, sizeof(path), "/proc/%d/stat", getpid());
	assert_true(xpv_read_file(path, &buf, &e) > 0);
	p = strrchr(buf, ')') + 2;
	for (int f = 3; f < 22; f++)
		p = strchr(p, ' ') + 1;
	assert_true(strtoull(p, NULL, 10) == me || gettid() != getpid());
	free(buf);
	/* a thread started later does not start earlier */
	assert_int_equal(pthread_create(&t, NULL, sleeper, NULL), 0);
	pthread_join(t, NULL);
	assert_int_equal(xpv_task_start_time(getpid(), &other), 0);
	assert_true(other <= me || gettid() != getpid());
	/* no such task */
	assert_int_equal(xpv_task_start_time(0x3fffffff, &other), -1);
}

static void starved_sample_skipped(void **state)
{
	struct acct_params p;
	struct acct_vm vm = {.permit = 100, .cap = 1};
	struct acct_sample s = {.run_ns = 100 * MS, .unmeasured = true};

	(void)state;
	account_params_default(&p);
	account_begin(&vm);
	account_add_vcpu(&vm, &s, 100 * MS);
	/* neither charged 0 nor counted as CPU: left out */
	assert_true(vm.cpus_used == 0);
	assert_true(vm.charged == 0);
	s.unmeasured = false;
	s.base_cycles = 100 * MS;
	s.freq_khz = 1e6;
	s.llc_misses = 1000;
	account_add_vcpu(&vm, &s, 100 * MS);
	assert_true(vm.cpus_used == 1);
	assert_true(vm.charged > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(outside_change_is_adopted, setup_tmp, teardown_tmp),
		cmocka_unit_test(floor_times_period_validated),
		cmocka_unit_test_setup_teardown(v1_parent_not_below_child, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(unplugged_vcpu_forgotten, setup_tmp, teardown_tmp),
		cmocka_unit_test(task_start_time),
		cmocka_unit_test(starved_sample_skipped),
	};

	/* the rigs use the test-only "synthetic" source */
	setenv(XPV_TEST_MODE_ENV, "1", 1);
	return cmocka_run_group_tests_name("xpvd-reconcile", tests, NULL, NULL);
}
