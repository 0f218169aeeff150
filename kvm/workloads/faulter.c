// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Many threads that each fault in a few fresh pages, then sleep: a steady,
 * countable stream of page faults (the software stand-in for LLC misses on
 * machines without a PMU) at a CPU load that stays small with 1000 threads.
 *   faulter THREADS PAGES SLEEP_MS
 * Each thread, forever: MADV_DONTNEED its PAGES pages, write one byte to
 * each (one minor fault each), sleep SLEEP_MS.  Prints "ready" once every
 * thread runs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long pages, sleep_ms;
static pthread_barrier_t started;

static void *fault_loop(void *arg)
{
	long psz = sysconf(_SC_PAGESIZE);
	volatile char *buf =
		mmap(NULL, pages * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};

	(void)arg;
	pthread_barrier_wait(&started);
	if (buf == MAP_FAILED)
		return NULL;
	for (;;) {
		madvise((void *)buf, pages * psz, MADV_DONTNEED);
		for (long i = 0; i < pages; i++)
			buf[i * psz] = 1;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 3 ? atol(argv[1]) : 0;
	pthread_attr_t attr;

	pages = argc > 3 ? atol(argv[2]) : 0;
	sleep_ms = argc > 3 ? atol(argv[3]) : 0;
	if (n < 1 || n > 100000 || pages < 1 || sleep_ms < 0) {
		fprintf(stderr, "usage: faulter THREADS PAGES SLEEP_MS\n");
		return 2;
	}
	pthread_barrier_init(&started, NULL, (unsigned)n + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (long i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, fault_loop, NULL)) {
			perror("pthread_create");
			return 1;
		}
	}
	pthread_barrier_wait(&started);
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}
