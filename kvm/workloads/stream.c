// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The disruptive workload: streams reads and writes over a large buffer.
 *   stream MIB [SECONDS]   (SECONDS 0 or absent: until killed)
 * Prints "stream_mib_per_s X" when done.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
	double secs = argc > 2 ? atof(argv[2]) : 0, t0, t;
	size_t n = mib * 1024 * 1024 / sizeof(uint64_t), passes = 0;
	uint64_t *buf, sum = 0;

	if (!mib || !(buf = malloc(n * sizeof(*buf)))) {
		fprintf(stderr, "usage: stream MIB [SECONDS]\n");
		return 2;
	}
	memset(buf, 1, n * sizeof(*buf));
	t0 = now();
	do {
		/* one cache line per 8 words: touch every line */
		for (size_t i = 0; i < n; i += 8) {
			sum += buf[i];
			buf[i] = sum;
		}
		passes++;
		t = now();
	} while (!secs || t - t0 < secs);
	printf("stream_mib_per_s %.1f\n", passes * (double)mib / (t - t0));
	return sum == 42; /* keep sum alive */
}
