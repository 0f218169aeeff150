// SPDX-License-Identifier: GPL-2.0
/* vhost worker discovery (vhost.c) and its audit on fake /proc trees. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit.h"
#include "fake_tree.h"
#include "vhost.h"

#define PF_KTHREAD 0x00200000ul

/* A /proc/TID/stat line: fields 3..39 with ppid, flags, starttime, processor. */
static void put_stat(const char *root, const char *rel, int tid, const char *comm, int ppid,
		     unsigned long flags, unsigned long long start, int cpu)
{
	char line[512];

	snprintf(line, sizeof(line),
		 "%d (%s) S %d 0 0 0 -1 %lu 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0 0 0 0 0 0 0 0 0 0 "
		 "0 0 0 0 0 %d 0 0\n",
		 tid, comm, ppid, flags, start, cpu);
	fake_tree_put(root, rel, line);
}

static void rm_rf(const char *root)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static void stat_parse(void **state)
{
	struct mh_task_stat st;

	(void)state;
	/* a name with ") " inside: the last ')' ends it */
	assert_int_equal(mh_task_stat_parse("77 (a) b (c)) R 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 "
					    "20 0 1 0 4242 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
					    "3 0 0\n",
					    &st),
			 0);
	assert_string_equal(st.comm, "a) b (c)");
	assert_int_equal(st.ppid, 2);
	assert_int_equal(st.flags, 2129984);
	assert_true(st.flags & PF_KTHREAD);
	assert_int_equal(st.start_time, 4242);
	assert_int_equal(st.cpu, 3);
	/* truncated before starttime, no parentheses, garbage */
	assert_int_equal(mh_task_stat_parse("77 (x) R 2 0 0 0 -1 0 0 0\n", &st), -1);
	assert_int_equal(mh_task_stat_parse("77 x R 2 0 0 0 -1 0\n", &st), -1);
	assert_int_equal(mh_task_stat_parse("", &st), -1);
	assert_int_equal(mh_task_stat_parse("1 (a)", &st), -1);
}

static void kernel_model(void **state)
{
	(void)state;
	assert_true(mh_vhost_kthread_model("6.1.0-27-amd64"));
	assert_true(mh_vhost_kthread_model("6.3.13"));
	assert_true(mh_vhost_kthread_model("5.10.0-30-amd64"));
	assert_false(mh_vhost_kthread_model("6.4.0"));
	assert_false(mh_vhost_kthread_model("6.18.0-rc4+"));
	assert_false(mh_vhost_kthread_model("7.0"));
	/* unknown: look for both */
	assert_true(mh_vhost_kthread_model("weird"));
}

/*
 * QEMU 1000 with threads 1000 (started at 100), 1001 (120) and a 6.4-style
 * worker thread 1002 `vhost-1000`; kernel threads vhost-1000 (900, new),
 * vhost-1001 (903); and what must not count: a user process calling itself
 * vhost-1000 (901), a kthread vhost-1000 older than QEMU (902: a dead
 * process's, pid reused), another VM's (904), a kworker (905), a kthread
 * not made by kthreadd (906).
 */
static void build_tree(const char *p)
{
	put_stat(p, "2/stat", 2, "kthreadd", 0, PF_KTHREAD, 1, 0);
	put_stat(p, "1000/stat", 1000, "qemu-system-x86", 1, 0x400000, 100, 0);
	put_stat(p, "1000/task/1000/stat", 1000, "qemu-system-x86", 1, 0x400000, 100, 0);
	put_stat(p, "1000/task/1001/stat", 1001, "CPU 0/TCG", 1, 0x400040, 120, 1);
	put_stat(p, "1000/task/1002/stat", 1002, "vhost-1000", 1, 0x400040, 130, 1);
	fake_tree_put(p, "1000/task/1002/status", "Name:\tvhost-1000\nCpus_allowed_list:\t0\n");
	put_stat(p, "900/stat", 900, "vhost-1000", 2, PF_KTHREAD | 0x8040, 500, 1);
	fake_tree_put(p, "900/status", "Name:\tvhost-1000\nCpus_allowed_list:\t0\n");
	put_stat(p, "901/stat", 901, "vhost-1000", 1, 0x400000, 510, 0);
	put_stat(p, "902/stat", 902, "vhost-1000", 2, PF_KTHREAD, 50, 0);
	put_stat(p, "903/stat", 903, "vhost-1001", 2, PF_KTHREAD, 600, 0);
	fake_tree_put(p, "903/status", "Name:\tvhost-1001\nCpus_allowed_list:\t0\n");
	put_stat(p, "904/stat", 904, "vhost-7", 2, PF_KTHREAD, 700, 0);
	put_stat(p, "905/stat", 905, "kworker/0:1", 2, PF_KTHREAD, 10, 0);
	put_stat(p, "906/stat", 906, "vhost-1000", 1, PF_KTHREAD, 800, 0);
	fake_tree_put(p, "self", "not a process\n");
	/* no guest RAM mappings: the audit checks the host and the workers */
	fake_tree_put(p, "1000/maps", "");
	fake_tree_put(p, "1000/numa_maps", "");
}

static int by_tid(const void *a, const void *b)
{
	return ((const struct mh_vhost_worker *)a)->tid - ((const struct mh_vhost_worker *)b)->tid;
}

static void discovery(void **state)
{
	char root[] = "/tmp/memhome-vhost-XXXXXX";
	struct mh_vhost_worker *kt, *w;
	struct xpv_error *err = NULL;
	size_t nkt, nw;

	(void)state;
	assert_non_null(mkdtemp(root));
	build_tree(root);
	assert_int_equal(mh_vhost_kthreads(root, &kt, &nkt, &err), 0);
	qsort(kt, nkt, sizeof(*kt), by_tid);
	/* kernel threads of kthreadd named vhost-N: 900, 902, 903, 904 */
	assert_int_equal(nkt, 4);
	assert_int_equal(kt[0].tid, 900);
	assert_int_equal(kt[0].owner, 1000);
	assert_int_equal(kt[0].start_time, 500);
	assert_int_equal(kt[0].cpu, 1);
	assert_int_equal(kt[1].tid, 902);
	assert_int_equal(kt[2].tid, 903);
	assert_int_equal(kt[3].tid, 904);

	assert_int_equal(mh_vhost_workers(root, 1000, kt, nkt, &w, &nw, &err), 0);
	qsort(w, nw, sizeof(*w), by_tid);
	assert_int_equal(nw, 3);
	assert_int_equal(w[0].tid, 900);
	assert_int_equal(w[0].kind, MH_VHOST_KTHREAD);
	assert_int_equal(w[1].tid, 903);
	assert_int_equal(w[1].owner, 1001);
	assert_int_equal(w[2].tid, 1002);
	assert_int_equal(w[2].kind, MH_VHOST_THREAD);
	free(w);

	/* the 6.4 model alone (no kthread list) */
	assert_int_equal(mh_vhost_workers(root, 1000, NULL, 0, &w, &nw, &err), 0);
	assert_int_equal(nw, 1);
	assert_int_equal(w[0].tid, 1002);
	free(w);

	/* a VM process that is gone */
	assert_int_equal(mh_vhost_workers(root, 4321, kt, nkt, &w, &nw, &err), -ESRCH);
	assert_null(w);
	assert_int_equal(nw, 0);
	xpv_error_free(&err);
	free(kt);

	assert_int_equal(mh_vhost_kthreads("/nonexistent-proc", &kt, &nkt, &err), -ENOENT);
	xpv_error_free(&err);
	rm_rf(root);
}

struct msgs {
	char text[8][400];
	int n;
};

static void keep(enum mh_severity sev, const char *code, const char *msg, void *arg)
{
	struct msgs *m = arg;

	if (strcmp(code, "vhost-placement") || m->n >= 8)
		return;
	snprintf(m->text[m->n++], sizeof(m->text[0]), "%s:%s", mh_severity_name(sev), msg);
}

static bool said(const struct msgs *m, const char *what)
{
	for (int i = 0; i < m->n; i++)
		if (!strncmp(m->text[i], "ok:", 3) && strstr(m->text[i], what))
			return true;
	return false;
}

/* The audit of a 6.1 host sees the kthread workers (it said "no vhost worker
 * threads" before), and says so when there is none. */
static void audit_kthread(void **state)
{
	char root[] = "/tmp/memhome-vhost-XXXXXX", sys[300];
	struct mh_audit_opts o = {0};
	struct xpv_error *err = NULL;
	struct msgs m = {0};

	(void)state;
	assert_non_null(mkdtemp(root));
	build_tree(root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	mkdir(sys, 0700);
	/* no maps: only the host and vhost checks */
	o.proc_root = root;
	o.sys_root = sys;
	o.pid = 1000;
	if (mh_audit(&o, keep, &m, &err) < 0)
		fail_msg("audit: %s", err->msg);
	assert_int_equal(m.n, 3);
	assert_non_null(strstr(m.text[0], "ok:"));
	/* one finding per worker: both kthreads and the 6.4-style thread */
	assert_true(said(&m, "vhost worker 900 (kthread vhost-1000)"));
	assert_true(said(&m, "vhost worker 903 (kthread vhost-1001)"));
	assert_true(said(&m, "vhost worker 1002 (thread vhost-1000)"));

	/* the kthreads gone (device closed): none */
	rm_rf(root);
	strcpy(root, "/tmp/memhome-vhost-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(sys, sizeof(sys), "%s/sys", root);
	mkdir(sys, 0700);
	put_stat(root, "1000/task/1000/stat", 1000, "qemu-system-x86", 1, 0x400000, 100, 0);
	fake_tree_put(root, "1000/maps", "");
	fake_tree_put(root, "1000/numa_maps", "");
	memset(&m, 0, sizeof(m));
	assert_true(mh_audit(&o, keep, &m, &err) >= 0);
	assert_int_equal(m.n, 1);
	assert_non_null(strstr(m.text[0], "ok:no vhost worker of pid 1000"));
	rm_rf(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stat_parse),
		cmocka_unit_test(kernel_model),
		cmocka_unit_test(discovery),
		cmocka_unit_test(audit_kthread),
	};
	return cmocka_run_group_tests_name("vhost", tests, NULL, NULL);
}
