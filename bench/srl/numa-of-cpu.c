// SPDX-License-Identifier: BSD-3-Clause
/*
 * ns per numa_node_of_cpu() and per numa_node_to_cpus() call, of whichever
 * libnuma the process loads (bench/srl/libnuma.sh runs it against the stock
 * and the xpv one in the same run).  Best of RUNS runs of ITERS calls each,
 * the CPUs taken round-robin below NCPUS: the least disturbed run on a
 * machine shared with other jobs.
 * usage: numa-of-cpu ITERS RUNS NCPUS
 */
#define _GNU_SOURCE
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct bitmask *bm;
	double best_of = 1e30, best_to = 1e30, t;
	long iters, i, sink = 0;
	int runs, ncpus, r;

	if (argc != 4 || (iters = atol(argv[1])) <= 0 || (runs = atoi(argv[2])) <= 0 ||
	    (ncpus = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: numa-of-cpu ITERS RUNS NCPUS\n");
		return 2;
	}
	if (numa_available() < 0)
		return 1;
	bm = numa_allocate_cpumask();
	for (r = 0; r < runs; r++) {
		t = now_ns();
		for (i = 0; i < iters; i++)
			sink += numa_node_of_cpu(i % ncpus);
		t = (now_ns() - t) / iters;
		if (t < best_of)
			best_of = t;
		t = now_ns();
		for (i = 0; i < iters; i++)
			sink += numa_node_to_cpus(i % 2, bm);
		t = (now_ns() - t) / iters;
		if (t < best_to)
			best_to = t;
	}
	/* sink: the answers, so the calls are not optimised away */
	printf("%10.1f %10.1f   (checksum %ld)\n", best_of, best_to, sink);
	numa_bitmask_free(bm);
	return 0;
}
