/*
 * Guest side of tests/vm/tcg-migration-stress.sh: two threads fill 24 MiB
 * each with a pattern and verify it, over and over, while the main thread
 * forks (kernel allocations); prints MEMCK-OK every 5 passes and
 * MEMCK-CORRUPT on the first mismatch.  A guest whose memory a migration
 * corrupted either prints that or dies with a kernel BUG/Oops.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define AREA (24u << 20)

static uint64_t pattern(uint64_t seed, size_t i)
{
	return seed + i * 0x100000001b3ull;
}

static void *fill_and_verify(void *arg)
{
	uint64_t id = (uintptr_t)arg;
	uint64_t *m = malloc(AREA);

	if (!m) {
		printf("MEMCK-NOMEM\n");
		exit(2);
	}
	for (uint64_t pass = 1;; pass++) {
		uint64_t seed = (pass * 0x9e3779b97f4a7c15ull) ^ (id << 40);

		for (size_t i = 0; i < AREA / 8; i++)
			m[i] = pattern(seed, i);
		for (size_t i = 0; i < AREA / 8; i++)
			if (m[i] != pattern(seed, i)) {
				printf("MEMCK-CORRUPT thread %lu pass %lu word %zu\n",
				       (unsigned long)id, (unsigned long)pass, i);
				fflush(stdout);
				exit(3);
			}
		if (pass % 5 == 0) {
			printf("MEMCK-OK thread %lu pass %lu\n", (unsigned long)id,
			       (unsigned long)pass);
			fflush(stdout);
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t t[2];

	for (uintptr_t i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, fill_and_verify, (void *)i))
			return 2;
	for (;;) {
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		if (p > 0)
			waitpid(p, NULL, 0);
	}
}
