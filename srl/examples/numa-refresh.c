// SPDX-License-Identifier: BSD-3-Clause
/*
 * Keeping libnuma in step with the live map: block in xpv_wait(), then
 * xpv_numa_refresh() makes libnuma drop its cached CPU-to-node map, so
 * numa_node_of_cpu() answers from the guest kernel's current view (which
 * follows the map when the driver mirrors it).
 *
 * usage: numa-refresh [--dev PATH] [--changes N]
 * Prints, for each CPU, libnuma's node and libxpv's node, now and after each
 * of N changes (default 0: print once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xpv/xpv-numa.h>

static void show(const struct xpv *x, uint64_t v)
{
	int n = xpv_nr_cpus(x);

	printf("version %" PRIu64 "\n", v);
	for (int c = 0; c < n; c++)
		printf("cpu %d: libnuma node %d, xpv node %d\n", c,
		       numa_available() < 0 ? -1 : numa_node_of_cpu(c), xpv_cpu_node(x, c));
}

int main(int argc, char **argv)
{
	struct xpv_open_opts opts = {.sz = sizeof(opts)};
	long changes = 0;
	uint64_t seen = 0;
	struct xpv *x;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dev") && i + 1 < argc)
			opts.dev_path = argv[++i];
		else if (!strcmp(argv[i], "--changes") && i + 1 < argc)
			changes = atol(argv[++i]);
		else {
			fprintf(stderr, "usage: numa-refresh [--dev PATH] "
					"[--changes N]\n");
			return 2;
		}
	}
	x = xpv_open(&opts);
	if (!x) {
		fprintf(stderr, "numa-refresh: xpv_open: %s\n", strerror(errno));
		return 1;
	}
	xpv_numa_refresh(x, &seen);
	show(x, seen);
	for (long i = 0; i < changes; i++) {
		uint64_t v = seen;
		int r = xpv_wait(x, &v, -1);

		if (r < 0) {
			fprintf(stderr, "numa-refresh: wait: %s\n", strerror(-r));
			break;
		}
		if (xpv_numa_refresh(x, &seen))
			show(x, seen);
	}
	xpv_close(x);
	return 0;
}
