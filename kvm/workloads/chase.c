// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The sensitive workload: a dependent pointer chase over a random cyclic
 * permutation of cache lines in a buffer that fits in the LLC.
 *   chase MIB SECONDS      prints "chase_ns_per_access X" and
 *                          "chase_accesses_per_s X" (wall clock) and
 *                          "chase_accesses_per_cpu_s X" (per second of
 *                          its own CPU time: insensitive to other tasks
 *                          sharing the core, still sensitive to the cache)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LINE 64

static double clk(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clk(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 8;
	double secs = argc > 2 ? atof(argv[2]) : 5, t0, t, c0;
	size_t lines = mib * 1024 * 1024 / LINE, *perm;
	uint64_t steps = 0;
	char *buf;
	void **p;

	if (!mib || !(buf = aligned_alloc(LINE, lines * LINE)) ||
	    !(perm = malloc(lines * sizeof(*perm)))) {
		fprintf(stderr, "usage: chase MIB SECONDS\n");
		return 2;
	}
	for (size_t i = 0; i < lines; i++)
		perm[i] = i;
	srand(42);
	for (size_t i = lines - 1; i > 0; i--) {
		size_t j = ((size_t)rand() * RAND_MAX + rand()) % (i + 1), x;

		x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
	for (size_t i = 0; i < lines; i++)
		*(void **)(buf + perm[i] * LINE) = buf + perm[(i + 1) % lines] * LINE;
	free(perm);
	p = (void **)buf;
	t0 = now();
	c0 = clk(CLOCK_THREAD_CPUTIME_ID);
	do {
		for (int i = 0; i < 100000; i++)
			p = *p;
		steps += 100000;
		t = now();
	} while (t - t0 < secs);
	printf("chase_ns_per_access %.3f\nchase_accesses_per_s %.0f\n"
	       "chase_accesses_per_cpu_s %.0f\n",
	       (t - t0) * 1e9 / steps, steps / (t - t0),
	       steps / (clk(CLOCK_THREAD_CPUTIME_ID) - c0));
	return p == NULL;
}
