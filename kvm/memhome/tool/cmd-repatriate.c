// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct log {
	FILE *f;
	bool csv;
	int nodes; /* CSV node columns */
};

static const char *const ev_names[] = {"sample", "pass-start", "progress", "pass-end", "exited"};

static void on_event(const struct mh_vm *vm, const struct mh_event *ev, void *arg)
{
	struct log *l = arg;
	struct mh_vm_stats st;

	mh_vm_stats(vm, &st);
	if (l->csv) {
		for (int i = 0; i < mh_vm_nr_regions(vm); i++) {
			const struct mh_region *r = mh_vm_region(vm, i);

			fprintf(l->f, "%.3f,%s,%s,%d,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
				ev->t_ns / 1e9, ev_names[ev->kind], r->name, r->home,
				r->resident_bytes, r->remote_bytes, ev->moved_bytes,
				ev->failed_pages);
			for (int k = 0; k < l->nodes; k++)
				fprintf(l->f, ",%" PRIu64, r->node_bytes[k]);
			fputc('\n', l->f);
		}
		fflush(l->f);
		return;
	}
	fprintf(l->f, "{\"t\":%.3f,\"event\":\"%s\",\"pid\":%d", ev->t_ns / 1e9, ev_names[ev->kind],
		mh_vm_pid(vm));
	if (ev->reason)
		fprintf(l->f, ",\"reason\":\"%s\"", ev->reason);
	fprintf(l->f,
		",\"resident_bytes\":%" PRIu64 ",\"remote_bytes\":%" PRIu64
		",\"moved_bytes\":%" PRIu64 ",\"failed_pages\":%" PRIu64
		",\"moved_bytes_total\":%" PRIu64,
		st.resident_bytes, st.remote_bytes, ev->moved_bytes, ev->failed_pages,
		st.moved_bytes_total);
	if (ev->kind == MH_EV_SAMPLE) {
		fputs(",\"regions\":[", l->f);
		for (int i = 0; i < mh_vm_nr_regions(vm); i++) {
			if (i)
				fputc(',', l->f);
			print_region_json(l->f, mh_vm_region(vm, i));
		}
		fputc(']', l->f);
	}
	fputs("}\n", l->f);
	fflush(l->f);
}

static void summary(FILE *f, struct mh_vm *vm, const char *why)
{
	struct mh_vm_stats st;

	mh_vm_stats(vm, &st);
	fprintf(f,
		"{\"event\":\"summary\",\"pid\":%d,\"end\":\"%s\",\"passes\":%" PRIu64
		",\"moved_bytes_total\":%" PRIu64 ",\"remote_bytes\":%" PRIu64
		",\"backoff_ranges\":%" PRIu64 ",\"given_up_ranges\":%" PRIu64
		",\"given_up_bytes\":%" PRIu64 ",\"migrate_cpu_s\":%.3f,\"scan_s\":%.3f"
		",\"unmovable_pages\":{",
		mh_vm_pid(vm), why, st.passes, st.moved_bytes_total, st.remote_bytes,
		st.backoff_ranges, st.given_up_ranges, st.given_up_bytes,
		st.migrate_cpu_ns_total / 1e9, st.scan_ns_total / 1e9);
	for (int u = 0; u < MH_UNMOV__COUNT; u++)
		fprintf(f, "%s\"%s\":%" PRIu64, u ? "," : "", mh_unmovable_name(u),
			st.unmovable_pages[u]);
	fputs("}}\n", f);
	fflush(f);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000ull, .tv_nsec = t % 1000000000ull};

	/* the loop's scheduler, not synchronisation: EINTR (a signal) ends it early */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

int cmd_repatriate(int argc, char **argv)
{
	static const struct option longopts[] = {
		TARGET_LONG_OPTS,
		{"policy", required_argument, NULL, 'y'},
		{"period", required_argument, NULL, 'T'},
		{"threshold", required_argument, NULL, 't'},
		{"scan-interval", required_argument, NULL, 'i'},
		{"min-gap", required_argument, NULL, 'g'},
		{"rate", required_argument, NULL, 'R'},
		{"cpu-budget", required_argument, NULL, 'c'},
		{"batch", required_argument, NULL, 'b'},
		{"backoff", required_argument, NULL, 'B'},
		{"max-fails", required_argument, NULL, 'F'},
		{"duration", required_argument, NULL, 'd'},
		{"once", no_argument, NULL, 'o'},
		{"log", required_argument, NULL, 'l'},
		{"format", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct target_opts t;
	struct xpv_error *err = NULL;
	struct mh_vm *vm = NULL;
	struct log l = {.f = stdout};
	uint64_t duration = 0, deadline, next, v;
	bool once = false, have_policy = false;
	const char *why = "duration";
	struct sigaction sa = {.sa_handler = on_signal};
	int opt, rc, ret = 0, idx = 0;

	target_opts_init(&t);
	while ((opt = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		struct mh_policy *p = &t.vm.policy;

		rc = target_opt(&t, opt, optarg);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc)
			continue;
		rc = 0;
		switch (opt) {
		case 'y':
			rc = mh_parse_policy_kind(optarg, &p->kind);
			have_policy = true;
			break;
		case 'T':
			rc = mh_parse_duration_ns(optarg, &p->period_ns);
			break;
		case 't':
			rc = mh_parse_bytes(optarg, &p->threshold_bytes);
			break;
		case 'i':
			rc = mh_parse_duration_ns(optarg, &p->scan_interval_ns);
			break;
		case 'g':
			rc = mh_parse_duration_ns(optarg, &p->min_gap_ns);
			break;
		case 'R':
			rc = mh_parse_bytes(optarg, &t.vm.rate_bytes_per_s);
			break;
		case 'c': {
			char *end;
			double f;

			errno = 0;
			f = strtod(optarg, &end);
			if (errno || *end || !(f >= 0.0 && f <= 1.0))
				rc = -EINVAL;
			else
				t.vm.cpu_budget_ppm = (uint32_t)(f * 1e6 + 0.5);
			break;
		}
		case 'b':
			rc = mh_parse_bytes(optarg, &v);
			if (!rc && (v == 0 || v > 65536))
				rc = -EINVAL;
			t.vm.batch_pages = (uint32_t)v;
			break;
		case 'B':
			rc = mh_parse_duration_ns(optarg, &t.vm.backoff_base_ns);
			break;
		case 'F':
			rc = mh_parse_bytes(optarg, &v);
			if (!rc && v > 1000000)
				rc = -EINVAL;
			t.vm.backoff_max_fails = (uint32_t)v;
			break;
		case 'd':
			rc = mh_parse_duration_ns(optarg, &duration);
			break;
		case 'o':
			once = true;
			break;
		case 'l':
			l.f = fopen(optarg, "ae");
			if (!l.f) {
				fprintf(stderr, "xpv-memhome: --log `%s`: %s\n", optarg,
					strerror(errno));
				return 1;
			}
			break;
		case 'f':
			if (!strcmp(optarg, "csv"))
				l.csv = true;
			else if (strcmp(optarg, "json"))
				rc = -EINVAL;
			break;
		default:
			return EXIT_USAGE;
		}
		if (rc) {
			fprintf(stderr, "xpv-memhome repatriate: --%s: bad value `%s`\n",
				longopts[idx].name, optarg);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || target_check(&t))
		return EXIT_USAGE;
	if (!have_policy) {
		fprintf(stderr, "xpv-memhome repatriate: --policy is required\n");
		return EXIT_USAGE;
	}
	if (!once && !duration) {
		fprintf(stderr, "xpv-memhome repatriate: give --duration or --once "
				"(xpvd runs the unbounded loop)\n");
		return EXIT_USAGE;
	}
	rc = mh_vm_new(&t.vm, &vm, &err);
	if (rc) {
		print_error("repatriate", &err);
		return rc == -ESRCH ? EXIT_GONE : 1;
	}
	if (l.csv) {
		l.nodes = 2;
		for (int i = 0; i < mh_vm_nr_regions(vm); i++)
			if (mh_vm_region(vm, i)->home + 1 > l.nodes)
				l.nodes = mh_vm_region(vm, i)->home + 1;
		fputs("t,event,region,home,resident_bytes,remote_bytes,moved_bytes,failed_pages",
		      l.f);
		for (int k = 0; k < l.nodes; k++)
			fprintf(l.f, ",n%d", k);
		fputc('\n', l.f);
	}
	mh_vm_set_event_fn(vm, on_event, &l);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (once && t.vm.policy.kind == MH_POLICY_PERIODIC)
		mh_vm_request_pass(vm); /* --once: the period is taken as elapsed */
	deadline = duration ? mh_clock_now_ns() + duration : UINT64_MAX;
	for (;;) {
		uint64_t now = mh_clock_now_ns();

		if (stop) {
			why = "signal";
			break;
		}
		if (now >= deadline)
			break;
		rc = mh_vm_tick(vm, now, &next, &err);
		if (rc == -ESRCH) {
			xpv_error_free(&err);
			fprintf(stderr, "xpv-memhome repatriate: process %d exited\n", t.vm.pid);
			why = "exited";
			ret = EXIT_GONE;
			break;
		}
		if (rc) {
			print_error("repatriate", &err);
			why = "error";
			ret = 1;
			break;
		}
		if (once && !mh_vm_pass_active(vm)) {
			why = "once";
			break;
		}
		sleep_until(next < deadline ? next : deadline);
	}
	if (!l.csv)
		summary(l.f, vm, why);
	mh_vm_free(vm);
	if (l.f != stdout)
		fclose(l.f);
	return ret;
}
