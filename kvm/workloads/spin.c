// SPDX-License-Identifier: GPL-2.0-or-later
/* A CPU-bound loop that misses nothing: spin [SECONDS] (0: forever). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0;
	time_t t0 = time(NULL);
	volatile unsigned long x = 0;

	while (!secs || time(NULL) - t0 < secs)
		for (int i = 0; i < 1000000; i++)
			x += i;
	printf("spin_done %lu\n", (unsigned long)x);
	return 0;
}
