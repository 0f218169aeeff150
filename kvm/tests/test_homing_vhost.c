// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost worker pinning (homing_vhost.c) against a fake scheduler: first pin
 * and restore, outside changes adopted, the cpuset intersection not taken
 * for an outside change, workers replaced (device reset, a reused tid), a
 * refused pin retried only after a change, a new home.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "homing_vhost.h"

#define MAXT 8

/* The fake kernel: per tid its affinity, start time, the CPUs its cpuset
 * allows, and whether it refuses writes. */
static struct fake {
	pid_t tid;
	unsigned long long start;
	cpu_set_t cur, allowed;
	bool refuse;
} tasks[MAXT];
static int n_tasks, n_sets;

static struct fake *lookup(pid_t tid)
{
	for (int i = 0; i < n_tasks; i++)
		if (tasks[i].tid == tid && tasks[i].start)
			return &tasks[i];
	return NULL;
}

static int fake_get(pid_t tid, cpu_set_t *set)
{
	struct fake *t = lookup(tid);

	if (!t)
		return -ESRCH;
	*set = t->cur;
	return 0;
}

static int fake_set(pid_t tid, const cpu_set_t *set)
{
	struct fake *t = lookup(tid);
	cpu_set_t eff;

	if (!t)
		return -ESRCH;
	n_sets++;
	CPU_AND(&eff, set, &t->allowed);
	if (t->refuse || !CPU_COUNT(&eff))
		return -EINVAL;
	t->cur = eff;
	return 0;
}

static unsigned long long fake_start(pid_t tid)
{
	struct fake *t = lookup(tid);

	return t ? t->start : 0;
}

static const struct vhost_affinity_ops fake_ops = {fake_get, fake_set, fake_start};

static cpu_set_t cpus(const char *list)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	for (; *list; list++)
		if (*list >= '0' && *list <= '9')
			CPU_SET(*list - '0', &s);
	return s;
}

static struct fake *task(pid_t tid, unsigned long long start, const char *cur)
{
	struct fake *t = &tasks[n_tasks++];

	t->tid = tid;
	t->start = start;
	t->cur = cpus(cur);
	t->allowed = cpus("0123");
	t->refuse = false;
	return t;
}

static struct mh_vhost_worker worker(pid_t tid, unsigned long long start)
{
	return (struct mh_vhost_worker){
		.tid = tid, .owner = 1000, .start_time = start, .cpu = 0, .kind = MH_VHOST_KTHREAD};
}

static int setup(void **state)
{
	(void)state;
	memset(tasks, 0, sizeof(tasks));
	n_tasks = n_sets = 0;
	return 0;
}

static bool is(const cpu_set_t *a, const char *list)
{
	cpu_set_t b = cpus(list);

	return CPU_EQUAL(a, &b);
}

static void pin_and_restore(void **state)
{
	struct homing_vhost v = {.ops = &fake_ops};
	struct fake *t = task(900, 500, "0123");
	struct mh_vhost_worker w = worker(900, 500);
	cpu_set_t home = cpus("23");
	struct xpv_error *e = NULL;

	(void)state;
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	assert_true(is(&t->cur, "23"));
	assert_int_equal(v.pins_total, 1);
	/* steady: nothing written again */
	n_sets = 0;
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	assert_int_equal(n_sets, 0);
	assert_int_equal(v.repins_total, 0);
	homing_vhost_release(&v);
	assert_true(is(&t->cur, "0123"));
	assert_int_equal(v.restored_total, 1);
	assert_int_equal(v.n, 0);
	assert_null(e);
}

static void outside_change_adopted(void **state)
{
	struct homing_vhost v = {.ops = &fake_ops};
	struct fake *t = task(900, 500, "0123");
	struct mh_vhost_worker w = worker(900, 500);
	cpu_set_t home = cpus("23");
	struct xpv_error *e = NULL;

	(void)state;
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	/* an operator (or a cpuset change) moves it: that is the new original */
	t->cur = cpus("01");
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	assert_int_equal(v.adopted_total, 1);
	assert_int_equal(v.repins_total, 1);
	assert_true(is(&t->cur, "23"));
	homing_vhost_release(&v);
	assert_true(is(&t->cur, "01"));

	/* changed from outside after the last pass: the outside value stays */
	t->cur = cpus("0123");
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	t->cur = cpus("1");
	n_sets = 0;
	homing_vhost_release(&v);
	assert_int_equal(n_sets, 0);
	assert_true(is(&t->cur, "1"));
	assert_int_equal(v.adopted_total, 2);
}

/* Home 2-3, the worker's cpuset 0-2: the kernel keeps 2, which is ours. */
static void cpuset_intersection(void **state)
{
	struct homing_vhost v = {.ops = &fake_ops};
	struct fake *t = task(900, 500, "012");
	struct mh_vhost_worker w = worker(900, 500);
	cpu_set_t home = cpus("23");
	struct xpv_error *e = NULL;

	(void)state;
	t->allowed = cpus("012");
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	assert_true(is(&t->cur, "2"));
	n_sets = 0;
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	assert_int_equal(n_sets, 0);
	assert_int_equal(v.adopted_total, 0);
	homing_vhost_release(&v);
	assert_true(is(&t->cur, "012"));
}

/* Device reset: worker 900 gone, 901 new; then 901's tid reused by a thread
 * that is not a worker of this VM, and must not get 901's original. */
static void workers_replaced(void **state)
{
	struct homing_vhost v = {.ops = &fake_ops};
	struct fake *a = task(900, 500, "0123"), *b;
	struct mh_vhost_worker w[2] = {worker(900, 500), worker(901, 600)};
	cpu_set_t home = cpus("3");
	struct xpv_error *e = NULL;

	(void)state;
	assert_int_equal(homing_vhost_sync(&v, w, 1, &home, &e), 0);
	a->start = 0; /* exited */
	b = task(901, 600, "01");
	assert_int_equal(homing_vhost_sync(&v, &w[1], 1, &home, &e), 0);
	assert_int_equal(v.n, 1);
	assert_true(is(&b->cur, "3"));
	assert_int_equal(v.pins_total, 2);
	assert_int_equal(v.restored_total, 0);
	/* 901 exits, its tid comes back as another thread (start 700) */
	b->start = 700;
	b->cur = cpus("3");
	n_sets = 0;
	assert_int_equal(homing_vhost_sync(&v, NULL, 0, &home, &e), 0);
	assert_int_equal(n_sets, 0);
	assert_true(is(&b->cur, "3"));
	assert_int_equal(v.n, 0);
	homing_vhost_release(&v);
}

static void refused_then_retried(void **state)
{
	struct homing_vhost v = {.ops = &fake_ops};
	struct fake *t = task(900, 500, "0123");
	struct mh_vhost_worker w = worker(900, 500);
	cpu_set_t home = cpus("3");
	struct xpv_error *e = NULL;

	(void)state;
	t->refuse = true;
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 1);
	assert_non_null(e);
	assert_non_null(strstr(e->msg, "vhost worker 900"));
	xpv_error_free(&e);
	/* unchanged: not tried again every period */
	n_sets = 0;
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 1);
	assert_int_equal(n_sets, 0);
	xpv_error_free(&e);
	/* changed (the cpuset was widened): tried again */
	t->refuse = false;
	t->cur = cpus("0");
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	assert_true(is(&t->cur, "3"));
	homing_vhost_release(&v);
	assert_true(is(&t->cur, "0"));
}

static void new_home(void **state)
{
	struct homing_vhost v = {.ops = &fake_ops};
	struct fake *t = task(900, 500, "0123");
	struct mh_vhost_worker w = worker(900, 500);
	cpu_set_t home = cpus("01");
	struct xpv_error *e = NULL;

	(void)state;
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	home = cpus("23");
	assert_int_equal(homing_vhost_sync(&v, &w, 1, &home, &e), 0);
	assert_true(is(&t->cur, "23"));
	assert_int_equal(v.repins_total, 1);
	assert_int_equal(v.adopted_total, 0);
	homing_vhost_release(&v);
	assert_true(is(&t->cur, "0123"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(pin_and_restore, setup),
		cmocka_unit_test_setup(outside_change_adopted, setup),
		cmocka_unit_test_setup(cpuset_intersection, setup),
		cmocka_unit_test_setup(workers_replaced, setup),
		cmocka_unit_test_setup(refused_then_retried, setup),
		cmocka_unit_test_setup(new_home, setup),
	};
	return cmocka_run_group_tests_name("homing_vhost", tests, NULL, NULL);
}
