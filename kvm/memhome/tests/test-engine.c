// SPDX-License-Identifier: GPL-2.0
/*
 * The repatriation engine and VM controller against a fake move_pages()
 * backend: a page table with pinned, shared and THP-tail pages, a fake
 * /proc (maps, numa_maps, stat) kept in sync, a fake clock, and a target
 * that can exit after a given number of calls.
 */
#include <errno.h>
#include <numaif.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"
#include "memhome.h"

#define S 1000000000ull
#define MS 1000000ull
#define PS 4096ull
#define PID 777
#define BASE 0x7f0000000000ull

/* THP: a 4-page folio whose tails report -EBUSY; THP2M: a 512-page (2 MiB)
 * folio moved whole by a move of any of its pages, as the kernel does */
/* NOMEM: -ENOMEM while f->now < nomem_until (memory pressure), then movable */
enum kind { NORMAL, PINNED, SHARED, THP, THP2M, NOMEM };

struct fake {
	uint64_t npages;
	int *node;
	unsigned char *kind;
	uint64_t now, cpu;
	int calls, exit_after; /* exit once calls reaches exit_after (0: never) */
	bool exited;
	uint64_t query_pages, move_calls, moved;
	uint64_t nomem_until;
	char root[64];
	int events[5];
	uint64_t ev_moved;
};

static void write_file(struct fake *f, const char *name, const char *text)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%d/%s", f->root, PID, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void sync_proc(struct fake *f)
{
	char buf[512];
	uint64_t n[2] = {0, 0};

	if (f->exited) {
		write_file(f, "maps", "");
		write_file(f, "numa_maps", "");
		write_file(f, "stat", "777 (fake) Z 1 0 0\n");
		return;
	}
	for (uint64_t i = 0; i < f->npages; i++)
		if (f->node[i] == 0 || f->node[i] == 1)
			n[f->node[i]]++;
	snprintf(buf, sizeof(buf), "%llx-%llx rw-p 00000000 00:00 0 \n", BASE,
		 BASE + f->npages * PS);
	write_file(f, "maps", buf);
	snprintf(buf, sizeof(buf), "%llx default anon=%llu N0=%llu N1=%llu kernelpagesize_kB=4\n",
		 BASE, (unsigned long long)(n[0] + n[1]), (unsigned long long)n[0],
		 (unsigned long long)n[1]);
	write_file(f, "numa_maps", buf);
	write_file(f, "stat", "777 (fake) S 1 0 0\n");
}

static long fake_move_pages(void *ctx, int pid, unsigned long count, void **pages, const int *nodes,
			    int *status, int flags)
{
	struct fake *f = ctx;
	uint64_t tails[4096];
	int ntails = 0;

	assert_int_equal(pid, PID);
	if (f->exited || (f->exit_after && ++f->calls >= f->exit_after)) {
		f->exited = true;
		sync_proc(f);
		errno = ESRCH;
		return -1;
	}
	if (!nodes) {
		f->query_pages += count;
		for (unsigned long i = 0; i < count; i++) {
			uint64_t idx = ((uintptr_t)pages[i] - BASE) / PS;

			status[i] = idx < f->npages ? f->node[idx] : -EFAULT;
		}
		return 0;
	}
	assert_int_equal(flags, MPOL_MF_MOVE);
	f->move_calls++;
	for (unsigned long i = 0; i < count; i++) {
		uint64_t idx = ((uintptr_t)pages[i] - BASE) / PS;

		if (idx >= f->npages) {
			status[i] = -EFAULT;
			continue;
		}
		f->now += 1000; /* 1 us per page, wall and CPU */
		f->cpu += 1000;
		if (f->node[idx] == nodes[i]) {
			status[i] = nodes[i];
		} else if (f->kind[idx] == PINNED) {
			status[i] = -EBUSY;
		} else if (f->kind[idx] == SHARED) {
			status[i] = -EACCES;
		} else if (f->kind[idx] == THP && (idx & 3)) {
			/* a tail: busy, its folio moves with the head (below) */
			status[i] = -EBUSY;
			tails[ntails++] = idx;
		} else if (f->kind[idx] == NOMEM && f->now < f->nomem_until) {
			status[i] = -ENOMEM;
		} else if (f->kind[idx] == THP2M) {
			uint64_t head = idx & ~511ull;

			for (uint64_t k = head; k < head + 512 && k < f->npages; k++)
				if (f->node[k] != nodes[i]) {
					f->node[k] = nodes[i];
					f->moved++;
				}
			status[i] = nodes[i];
		} else if (f->kind[idx] == THP) {
			for (int k = 0; k < 4; k++)
				f->node[idx + k] = nodes[i];
			f->moved += 4;
			status[i] = nodes[i];
		} else {
			f->node[idx] = nodes[i];
			f->moved++;
			status[i] = nodes[i];
		}
	}
	(void)tails;
	sync_proc(f);
	return 0;
}

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static uint64_t fake_cpu(void *ctx)
{
	return ((struct fake *)ctx)->cpu;
}

static const struct mh_pages_ops fake_ops = {
	.move_pages = fake_move_pages,
	.now_ns = fake_now,
	.cpu_ns = fake_cpu,
};

static struct fake *fake_new(uint64_t npages)
{
	struct fake *f = calloc(1, sizeof(*f));
	char path[128];

	f->npages = npages;
	f->node = calloc(npages, sizeof(int));
	f->kind = calloc(npages, 1);
	f->now = 1000 * S;
	strcpy(f->root, "/tmp/memhome-test-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(path, sizeof(path), "%s/%d", f->root, PID);
	assert_int_equal(mkdir(path, 0700), 0);
	sync_proc(f);
	return f;
}

static void fake_free(struct fake *f)
{
	char path[160];

	for (const char *const *n = (const char *const[]){"maps", "numa_maps", "stat", NULL}; *n;
	     n++) {
		snprintf(path, sizeof(path), "%s/%d/%s", f->root, PID, *n);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%d", f->root, PID);
	rmdir(path);
	rmdir(f->root);
	free(f->node);
	free(f->kind);
	free(f);
}

static void on_event(const struct mh_vm *vm, const struct mh_event *ev, void *arg)
{
	struct fake *f = arg;

	(void)vm;
	f->events[ev->kind]++;
	if (ev->kind == MH_EV_PROGRESS)
		f->ev_moved += ev->moved_bytes;
}

static struct mh_vm *vm_new(struct fake *f, enum mh_policy_kind kind,
			    void (*tweak)(struct mh_vm_opts *))
{
	struct mh_vm_opts o;
	struct mh_vm *vm = NULL;
	struct xpv_error *err = NULL;

	mh_vm_opts_init(&o);
	o.pid = PID;
	o.proc_root = f->root;
	o.ops = &fake_ops;
	o.ops_ctx = f;
	o.default_home = 0;
	o.min_region_size = 1 << 20;
	o.batch_pages = 64;
	o.rate_bytes_per_s = 0;
	o.cpu_budget_ppm = 0;
	o.policy.kind = kind;
	o.policy.period_ns = 10 * S;
	o.policy.threshold_bytes = 100 * PS;
	o.policy.scan_interval_ns = 1 * S;
	o.policy.min_gap_ns = 2 * S;
	o.backoff_base_ns = 5 * S;
	o.backoff_max_fails = 3;
	if (tweak)
		tweak(&o);
	if (mh_vm_new(&o, &vm, &err))
		fail_msg("mh_vm_new: %s", err->msg);
	mh_vm_set_event_fn(vm, on_event, f);
	return vm;
}

/* Tick on the fake clock until `until`; returns the first error. */
static int run(struct mh_vm *vm, struct fake *f, uint64_t until)
{
	struct xpv_error *err = NULL;

	while (f->now < until) {
		uint64_t next = 0;
		int rc = mh_vm_tick(vm, f->now, &next, &err);

		if (rc) {
			xpv_error_free(&err);
			return rc;
		}
		f->now = next > f->now ? (next < until ? next : until) : f->now + MS;
	}
	return 0;
}

static uint64_t on_node(struct fake *f, int node)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < f->npages; i++)
		n += f->node[i] == node;
	return n;
}

static void displace(struct fake *f, uint64_t from, uint64_t count)
{
	for (uint64_t i = from; i < from + count; i++)
		f->node[i] = 1;
	sync_proc(f);
}

static void test_periodic(void **state)
{
	struct fake *f = fake_new(4096);
	struct mh_vm *vm;
	struct mh_vm_stats st;

	(void)state;
	displace(f, 100, 1000);
	vm = vm_new(f, MH_POLICY_PERIODIC, NULL);
	/* before the period: measured, nothing moved */
	assert_int_equal(run(vm, f, 1009 * S), 0);
	assert_int_equal(f->move_calls, 0);
	assert_int_equal(on_node(f, 1), 1000);
	mh_vm_stats(vm, &st);
	assert_int_equal(st.remote_bytes, 1000 * PS);
	assert_true(f->events[MH_EV_SAMPLE] >= 5);
	/* the period elapses: everything comes home, in batches */
	assert_int_equal(run(vm, f, 1011 * S), 0);
	assert_int_equal(on_node(f, 1), 0);
	assert_true(f->move_calls >= 1000 / 64);
	mh_vm_stats(vm, &st);
	assert_int_equal(st.passes, 1);
	assert_int_equal(st.moved_bytes_total, 1000 * PS);
	assert_int_equal(f->ev_moved, 1000 * PS);
	assert_int_equal(st.remote_bytes, 0);
	assert_int_equal(f->events[MH_EV_PASS_END], 1);
	/* displaced again: not touched until the next period */
	displace(f, 0, 10);
	assert_int_equal(run(vm, f, 1019 * S), 0);
	assert_int_equal(on_node(f, 1), 10);
	assert_int_equal(run(vm, f, 1022 * S), 0);
	assert_int_equal(on_node(f, 1), 0);
	mh_vm_free(vm);
	fake_free(f);
}

static void test_threshold(void **state)
{
	struct fake *f = fake_new(4096);
	struct mh_vm *vm;

	(void)state;
	displace(f, 0, 100); /* exactly the threshold: not above */
	vm = vm_new(f, MH_POLICY_THRESHOLD, NULL);
	assert_int_equal(run(vm, f, 1030 * S), 0);
	assert_int_equal(f->move_calls, 0);
	assert_int_equal(f->query_pages, 0); /* the cheap pass only */
	assert_int_equal(on_node(f, 1), 100);
	displace(f, 2000, 1); /* one page above */
	assert_int_equal(run(vm, f, 1032 * S), 0);
	assert_int_equal(on_node(f, 1), 0);
	mh_vm_free(vm);
	fake_free(f);
}

static void test_unmovable(void **state)
{
	struct fake *f = fake_new(4096);
	struct mh_vm *vm;
	struct mh_vm_stats st;
	uint64_t q;

	(void)state;
	displace(f, 0, 2048); /* 4 chunks of 2 MiB, 512 pages each */
	for (int i = 10; i < 20; i++)
		f->kind[i] = PINNED; /* chunk 0 */
	for (int i = 600; i < 605; i++)
		f->kind[i] = SHARED; /* chunk 1 */
	vm = vm_new(f, MH_POLICY_THRESHOLD, NULL);
	assert_int_equal(run(vm, f, 1001 * S), 0);
	assert_int_equal(on_node(f, 1), 15);
	mh_vm_stats(vm, &st);
	assert_int_equal(st.unmovable_pages[MH_UNMOV_BUSY], 10);
	assert_int_equal(st.unmovable_pages[MH_UNMOV_ACCESS], 5);
	assert_int_equal(st.backoff_ranges, 2);
	/* 15 remote pages left, below the threshold: no new pass, no retries */
	q = f->query_pages;
	assert_int_equal(run(vm, f, 1060 * S), 0);
	assert_int_equal(f->query_pages, q);
	/* forced passes: failing ranges are skipped while backing off... */
	mh_vm_request_pass(vm);
	assert_int_equal(run(vm, f, 1061 * S), 0);
	mh_vm_stats(vm, &st);
	/* chunk 0 and 1 were due again (5 s back-off long over): second failure */
	assert_int_equal(st.unmovable_pages[MH_UNMOV_BUSY], 20);
	q = f->query_pages;
	mh_vm_request_pass(vm);
	assert_int_equal(run(vm, f, 1062 * S), 0);
	/* ...within the 10 s back-off only chunks 2..7 are queried */
	assert_int_equal(f->query_pages - q, 4096 - 1024);
	mh_vm_stats(vm, &st);
	assert_int_equal(st.unmovable_pages[MH_UNMOV_BUSY], 20);
	/* third failure: given up, never queried again */
	f->now = 1080 * S;
	mh_vm_request_pass(vm);
	assert_int_equal(run(vm, f, 1081 * S), 0);
	mh_vm_stats(vm, &st);
	assert_int_equal(st.given_up_ranges, 2);
	assert_int_equal(st.given_up_bytes, 15 * PS);
	assert_int_equal(st.unmovable_pages[MH_UNMOV_BUSY], 30);
	q = f->query_pages;
	f->now = 5000 * S;
	mh_vm_request_pass(vm);
	assert_int_equal(run(vm, f, 5001 * S), 0);
	assert_int_equal(f->query_pages - q, 4096 - 1024);
	assert_int_equal(st.unmovable_pages[MH_UNMOV_ACCESS], 15);
	mh_vm_free(vm);
	fake_free(f);
}

static void test_thp_tails(void **state)
{
	struct fake *f = fake_new(1024);
	struct mh_vm *vm;
	struct mh_vm_stats st;

	(void)state;
	displace(f, 0, 512);
	for (int i = 0; i < 512; i++)
		f->kind[i] = THP;
	vm = vm_new(f, MH_POLICY_THRESHOLD, NULL);
	assert_int_equal(run(vm, f, 1001 * S), 0);
	mh_vm_stats(vm, &st);
	assert_int_equal(on_node(f, 1), 0);
	assert_int_equal(st.unmovable_pages[MH_UNMOV_BUSY], 0);
	assert_int_equal(st.backoff_ranges, 0);
	assert_int_equal(st.moved_bytes_total, 512 * PS);
	mh_vm_free(vm);
	fake_free(f);
}

/*
 * 2 MiB THPs moved under a budget that cuts inside a folio (the rate
 * limit, and 64-page batches): every byte that came home is counted, not
 * only the 4 KiB entries the batch asked for (issue 9: 128 MiB came back,
 * status said 85 MiB).
 */
static void rate_limited(struct mh_vm_opts *o);

static void test_thp_2m_moved_bytes_exact(void **state)
{
	struct fake *f = fake_new(4096);
	struct mh_vm *vm;
	struct mh_vm_stats st;

	(void)state;
	displace(f, 1024, 2048); /* 8 MiB in four 2 MiB folios */
	for (int i = 1024; i < 3072; i++)
		f->kind[i] = THP2M;
	vm = vm_new(f, MH_POLICY_THRESHOLD, rate_limited);
	for (uint64_t t = 1000 * S; t <= 1100 * S && on_node(f, 1); t += S)
		assert_int_equal(run(vm, f, t), 0);
	assert_int_equal(on_node(f, 1), 0);
	mh_vm_stats(vm, &st);
	assert_int_equal(f->moved, 2048);
	if (st.moved_bytes_total != f->moved * PS)
		fail_msg("moved %llu bytes, counted %llu", (unsigned long long)(f->moved * PS),
			 (unsigned long long)st.moved_bytes_total);
	mh_vm_free(vm);
	fake_free(f);
}

/* Transient ENOMEM backs off but never gives a range up for good. */
static void test_transient_nomem_not_given_up(void **state)
{
	struct fake *f = fake_new(4096);
	struct mh_vm *vm;
	struct mh_vm_stats st;

	(void)state;
	displace(f, 0, 2048);
	for (int i = 10; i < 20; i++)
		f->kind[i] = NOMEM; /* chunk 0 */
	f->nomem_until = 1200 * S; /* longer than backoff_max_fails (4) passes */
	vm = vm_new(f, MH_POLICY_THRESHOLD, NULL);
	assert_int_equal(run(vm, f, 1001 * S), 0);
	assert_int_equal(on_node(f, 1), 10);
	for (uint64_t t = 1010 * S; t <= 1190 * S; t += 10 * S) {
		mh_vm_request_pass(vm);
		assert_int_equal(run(vm, f, t), 0);
	}
	mh_vm_stats(vm, &st);
	assert_true(st.unmovable_pages[MH_UNMOV_NOMEM] >= 40); /* >= 4 failed passes */
	assert_int_equal(st.given_up_ranges, 0);
	/* the pressure is over: the next due pass brings them home */
	for (uint64_t t = 1200 * S; t <= 3000 * S && on_node(f, 1); t += 60 * S) {
		mh_vm_request_pass(vm);
		assert_int_equal(run(vm, f, t), 0);
	}
	assert_int_equal(on_node(f, 1), 0);
	mh_vm_free(vm);
	fake_free(f);
}

static void tweak_rate(struct mh_vm_opts *o)
{
	o->rate_bytes_per_s = 1 << 20; /* 256 pages/s, burst 64 pages */
}

static void rate_limited(struct mh_vm_opts *o)
{
	tweak_rate(o);
}

static void test_rate_limit(void **state)
{
	struct fake *f = fake_new(4096);
	struct mh_vm *vm;

	(void)state;
	displace(f, 0, 2048); /* 8 MiB: ~8 s at 1 MiB/s */
	vm = vm_new(f, MH_POLICY_THRESHOLD, tweak_rate);
	for (uint64_t t = 1000 * S + S / 2; t <= 1010 * S; t += S / 2) {
		uint64_t moved = 2048 - on_node(f, 1);
		uint64_t allowed = 64 + (t - 1000 * S) * 256 / S + 1;

		assert_int_equal(run(vm, f, t), 0);
		moved = 2048 - on_node(f, 1);
		if (moved > allowed)
			fail_msg("t=%llu ms: moved %llu pages, rate allows %llu",
				 (unsigned long long)((t - 1000 * S) / MS),
				 (unsigned long long)moved, (unsigned long long)allowed);
	}
	/* ...and the pass does progress at the rate: done by ~8 s */
	assert_int_equal(on_node(f, 1), 0);
	mh_vm_free(vm);
	fake_free(f);
}

static void tweak_cpu(struct mh_vm_opts *o)
{
	o->cpu_budget_ppm = 100000; /* 10 % of a CPU */
	o->slice_ns = 10 * S;
}

static void test_cpu_budget(void **state)
{
	struct fake *f = fake_new(4096);
	struct xpv_error *err = NULL;
	struct mh_vm *vm;
	uint64_t next = 0, cpu0, t0;

	(void)state;
	displace(f, 0, 4096);
	vm = vm_new(f, MH_POLICY_THRESHOLD, tweak_cpu);
	t0 = f->now;
	cpu0 = f->cpu;
	assert_int_equal(mh_vm_tick(vm, f->now, &next, &err), 0);
	assert_true(mh_vm_pass_active(vm));
	/* it stopped after spending CPU and asks to come back 10x that later */
	assert_true(f->cpu > cpu0);
	assert_true(next >= t0 + (f->cpu - cpu0) * 10 - 1000);
	assert_true(on_node(f, 1) > 0);
	mh_vm_free(vm);
	fake_free(f);
}

static void test_exit_mid_pass(void **state)
{
	struct fake *f = fake_new(4096);
	struct xpv_error *err = NULL;
	struct mh_vm *vm;
	struct mh_vm_stats st;
	uint64_t next;

	(void)state;
	displace(f, 0, 4096);
	vm = vm_new(f, MH_POLICY_THRESHOLD, tweak_rate);
	f->exit_after = 6; /* a few batches in */
	assert_int_equal(run(vm, f, 1100 * S), -ESRCH);
	mh_vm_stats(vm, &st);
	assert_true(st.exited);
	assert_true(st.moved_bytes_total > 0);
	assert_true(on_node(f, 1) > 0);
	assert_int_equal(f->events[MH_EV_EXITED], 1);
	assert_false(mh_vm_pass_active(vm));
	/* further ticks fail fast, without touching the process */
	f->calls = 0;
	assert_int_equal(mh_vm_tick(vm, f->now, &next, &err), -ESRCH);
	xpv_error_free(&err);
	assert_int_equal(f->calls, 0);
	mh_vm_free(vm);
	fake_free(f);
}

static void test_exit_before_measure(void **state)
{
	struct fake *f = fake_new(1024);
	struct xpv_error *err = NULL;
	struct mh_vm *vm;
	uint64_t next;

	(void)state;
	vm = vm_new(f, MH_POLICY_PERIODIC, NULL);
	f->exited = true;
	sync_proc(f); /* zombie: empty numa_maps */
	assert_int_equal(mh_vm_tick(vm, f->now + 5 * S, &next, &err), -ESRCH);
	assert_non_null(strstr(err->msg, "exited"));
	xpv_error_free(&err);
	mh_vm_free(vm);
	fake_free(f);
}

static int metric_count;
static void count_metric(const char *name, const char *help, const char *lk, const char *lv,
			 int node, double value, void *arg)
{
	(void)help, (void)lk, (void)lv, (void)node, (void)value, (void)arg;
	assert_int_equal(strncmp(name, "xpv_memhome_", 12), 0);
	metric_count++;
}

static void test_metrics_and_validation(void **state)
{
	struct fake *f = fake_new(1024);
	struct mh_vm_opts o;
	struct mh_vm *vm = NULL;
	struct xpv_error *err = NULL;

	(void)state;
	vm = vm_new(f, MH_POLICY_OFF, NULL);
	mh_vm_metrics(vm, count_metric, NULL);
	assert_true(metric_count >= 10);
	mh_vm_free(vm);

	mh_vm_opts_init(&o);
	o.pid = PID;
	o.proc_root = f->root;
	o.ops = &fake_ops;
	o.ops_ctx = f;
	o.min_region_size = 1 << 20;
	o.policy.kind = MH_POLICY_THRESHOLD;
	/* no home anywhere */
	assert_int_equal(mh_vm_new(&o, &vm, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "no home node"));
	xpv_error_free(&err);
	o.default_home = 0;
	o.batch_pages = 0;
	assert_int_equal(mh_vm_new(&o, &vm, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "batch"));
	xpv_error_free(&err);
	o.batch_pages = 64;
	o.min_region_size = 1ull << 40;
	assert_int_equal(mh_vm_new(&o, &vm, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "no guest RAM"));
	xpv_error_free(&err);
	o.pid = 778; /* no such process */
	o.min_region_size = 1 << 20;
	assert_int_equal(mh_vm_new(&o, &vm, &err), -ESRCH);
	xpv_error_free(&err);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periodic),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_unmovable),
		cmocka_unit_test(test_thp_tails),
		cmocka_unit_test(test_thp_2m_moved_bytes_exact),
		cmocka_unit_test(test_transient_nomem_not_given_up),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_cpu_budget),
		cmocka_unit_test(test_exit_mid_pass),
		cmocka_unit_test(test_exit_before_measure),
		cmocka_unit_test(test_metrics_and_validation),
	};
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
