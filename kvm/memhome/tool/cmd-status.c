// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void print_text(struct mh_vm *vm, bool exact)
{
	struct mh_vm_stats st;
	int maxn = 1;

	mh_vm_stats(vm, &st);
	for (int i = 0; i < mh_vm_nr_regions(vm); i++)
		for (int k = 0; k < MH_MAX_NODES; k++)
			if (mh_vm_region(vm, i)->node_bytes[k] && k > maxn)
				maxn = k;
	printf("pid %d: %d region(s), %s pass, resident %.1f MiB, remote %.1f MiB\n", mh_vm_pid(vm),
	       mh_vm_nr_regions(vm), exact ? "move_pages" : "numa_maps",
	       st.resident_bytes / 1048576.0, st.remote_bytes / 1048576.0);
	printf("%-24s %-18s %4s %-9s %-12s %10s", "region", "start", "home", "source", "policy",
	       "size_MiB");
	for (int k = 0; k <= maxn; k++)
		printf("  N%-8d", k);
	printf(" %10s\n", "remote_MiB");
	for (int i = 0; i < mh_vm_nr_regions(vm); i++) {
		const struct mh_region *r = mh_vm_region(vm, i);

		printf("%-24s 0x%-16" PRIx64 " %4d %-9s %-12s %10.1f", r->name, r->start, r->home,
		       mh_home_source_name(r->home_src), r->policy,
		       (r->end - r->start) / 1048576.0);
		for (int k = 0; k <= maxn; k++)
			printf("  %-9.1f", r->node_bytes[k] / 1048576.0);
		if (r->home >= 0)
			printf(" %10.1f\n", r->remote_bytes / 1048576.0);
		else
			printf(" %10s\n", "-");
	}
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {TARGET_LONG_OPTS,
						 {"exact", no_argument, NULL, 'e'},
						 {"stride", required_argument, NULL, 's'},
						 {NULL, 0, NULL, 0}};
	struct target_opts t;
	struct xpv_error *err = NULL;
	struct mh_vm *vm = NULL;
	unsigned long stride = 1;
	bool exact = false;
	int opt, rc;

	target_opts_init(&t);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		rc = target_opt(&t, opt, optarg);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc)
			continue;
		switch (opt) {
		case 'e':
			exact = true;
			break;
		case 's': {
			char *end;

			errno = 0;
			stride = strtoul(optarg, &end, 10);
			if (errno || *end || stride == 0 || stride > 1u << 20) {
				fprintf(stderr, "xpv-memhome: --stride `%s`: 1..1048576\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc || target_check(&t)) {
		if (optind < argc)
			fprintf(stderr, "xpv-memhome status: unexpected `%s`\n", argv[optind]);
		return EXIT_USAGE;
	}
	rc = mh_vm_new(&t.vm, &vm, &err);
	if (!rc)
		rc = exact ? mh_vm_measure_exact(vm, stride, &err) : mh_vm_measure(vm, &err);
	if (rc) {
		print_error("status", &err);
		mh_vm_free(vm);
		return rc == -ESRCH ? EXIT_GONE : 1;
	}
	if (t.json) {
		struct mh_vm_stats st;

		mh_vm_stats(vm, &st);
		printf("{\"pid\":%d,\"method\":\"%s\",\"stride\":%lu,\"resident_bytes\":%" PRIu64
		       ",\"remote_bytes\":%" PRIu64 ",\"regions\":[",
		       mh_vm_pid(vm), exact ? "move_pages" : "numa_maps", exact ? stride : 0,
		       st.resident_bytes, st.remote_bytes);
		for (int i = 0; i < mh_vm_nr_regions(vm); i++) {
			if (i)
				putchar(',');
			print_region_json(stdout, mh_vm_region(vm, i));
		}
		puts("]}");
	} else {
		print_text(vm, exact);
	}
	mh_vm_free(vm);
	return 0;
}
