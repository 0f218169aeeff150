// SPDX-License-Identifier: BSD-3-Clause
/*
 * ns per malloc/free pair in the calling process, whatever malloc it has
 * (glibc, or one given with LD_PRELOAD: see run.sh). The thread is pinned
 * so the add-on's per-call check (sched_getcpu + xpv_version) takes its
 * fast path, as it does between moves.
 *
 * usage: malloc-pair NAME SIZE ITERS RUNS
 * Prints: NAME SIZE best-ns median-ns (over RUNS runs of ITERS pairs; the
 * best is the least disturbed by other load on the machine).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	void *volatile sink;
	cpu_set_t set;
	size_t size;
	long iters, runs;
	double *ns;

	if (argc != 5)
		return fprintf(stderr, "usage: malloc-pair NAME SIZE ITERS RUNS\n"), 2;
	size = strtoul(argv[2], NULL, 0);
	iters = strtol(argv[3], NULL, 0);
	runs = strtol(argv[4], NULL, 0);
	ns = calloc(runs, sizeof(*ns));
	if (!ns || iters < 1 || runs < 1)
		return 2;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return perror("sched_setaffinity"), 2;
	for (long r = 0; r < runs; r++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			sink = malloc(size);
			free(sink);
		}
		ns[r] = (now_ns() - t0) / iters;
	}
	qsort(ns, runs, sizeof(*ns), cmp);
	printf("%-22s %7zu %9.2f %9.2f\n", argv[1], size, ns[0], ns[runs / 2]);
	return 0;
}
