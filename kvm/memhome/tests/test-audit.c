// SPDX-License-Identifier: GPL-2.0
/* Host audit on fake /proc and /sys trees. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit.h"
#include "fake_tree.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

struct seen {
	char codes[32][40];
	int n;
};

static void collect(enum mh_severity sev, const char *code, const char *msg, void *arg)
{
	struct seen *s = arg;

	(void)msg;
	if (s->n < 32)
		snprintf(s->codes[s->n++], sizeof(s->codes[0]), "%s:%s", mh_severity_name(sev),
			 code);
}

static bool has(const struct seen *s, const char *code)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->codes[i], code))
			return true;
	return false;
}

static void test_host(void **state)
{
	char root[] = "/tmp/memhome-audit-XXXXXX", sys[300], proc[300], cmd[400];
	struct mh_audit_opts o = {0};
	struct xpv_error *err = NULL;
	struct seen s = {0};

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(proc, sizeof(proc), "%s/proc", root);
	mkdir(sys, 0700);
	mkdir(proc, 0700);
	fake_tree_put(sys, "kernel/mm/ksm/run", "1\n");
	fake_tree_put(sys, "kernel/mm/ksm/merge_across_nodes", "1\n");
	fake_tree_put(proc, "sys/kernel/numa_balancing", "1\n");
	o.sys_root = sys;
	o.proc_root = proc;
	assert_int_equal(mh_audit(&o, collect, &s, &err), 1);
	assert_true(has(&s, "warn:ksm-merge-across-nodes"));
	assert_true(has(&s, "info:numa-balancing"));

	fake_tree_put(sys, "kernel/mm/ksm/merge_across_nodes", "0\n");
	fake_tree_put(proc, "sys/kernel/numa_balancing", "0\n");
	memset(&s, 0, sizeof(s));
	assert_int_equal(mh_audit(&o, collect, &s, &err), 0);
	assert_true(has(&s, "ok:ksm"));
	assert_true(has(&s, "ok:numa-balancing"));

	/* a process with unbound guest RAM, and balancing on: both warnings */
	o.proc_root = FIXTURES "/proc";
	o.pid = 4242;
	memset(&s, 0, sizeof(s));
	/* KSM merges per node now; the memfd is unbound, and balancing is on */
	assert_int_equal(mh_audit(&o, collect, &s, &err), 2);
	assert_true(has(&s, "warn:ram-unbound"));
	assert_true(has(&s, "warn:numa-balancing-unbound"));
	assert_true(has(&s, "ok:vhost-placement"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
