// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest side of bench/srl/alloc/run-locality.sh: a thread pinned to vCPU CPU
 * keeps a window of SLOTS live objects (64 B 70%, 1 KiB 20%, 16 KiB 10%,
 * fixed PRNG), replacing one per step (free, malloc, touch), while the host
 * moves the vCPU between host nodes. Every PERIOD_MS it prints
 *   sample T_MS NODE LOCAL TOTAL VERSION
 * NODE the kernel's node for the thread now (getcpu(2)), LOCAL/TOTAL the
 * pages under the live objects on that node (move_pages), VERSION libxpv's
 * map version. The allocator is the process's malloc (LD_PRELOAD).
 * usage: alloc-workload NAME CPU SECONDS PERIOD_MS [SLOTS]
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <xpv/xpv.h>

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static size_t size_of(uint32_t r)
{
	r %= 10;
	return r < 7 ? 64 : r < 9 ? 1024 : 16384;
}

int main(int argc, char **argv)
{
	long psz = sysconf(_SC_PAGESIZE);
	unsigned int slots, cpu, node;
	uint64_t start, end, next;
	uint32_t rng = 12345;
	size_t *size, maxp, i;
	void **obj, **pages;
	int *status, period;
	struct xpv *x;
	cpu_set_t set;

	if (argc < 5)
		return fprintf(stderr,
			       "usage: alloc-workload NAME CPU SECONDS PERIOD_MS [SLOTS]\n"),
		       2;
	cpu = atoi(argv[2]);
	period = atoi(argv[4]);
	slots = argc > 5 ? atoi(argv[5]) : 8192;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return perror("sched_setaffinity"), 2;
	x = xpv_open(NULL);
	obj = calloc(slots, sizeof(*obj));
	size = calloc(slots, sizeof(*size));
	maxp = (size_t)slots * (16384 / psz + 2);
	pages = malloc(maxp * sizeof(*pages));
	status = malloc(maxp * sizeof(*status));
	if (!x || !obj || !size || !pages || !status)
		return perror("setup"), 2;
	start = now_ms();
	end = start + atoi(argv[3]) * 1000ull;
	next = start;
	for (uint64_t step = 0;; step++) {
		unsigned int k = step % slots;

		free(obj[k]);
		rng = rng * 1103515245 + 12345;
		size[k] = size_of(rng >> 16);
		obj[k] = malloc(size[k]);
		if (!obj[k])
			return perror("malloc"), 2;
		memset(obj[k], (int)step, size[k]);
		if (step % 256 || now_ms() < next)
			continue;
		size_t n = 0, u = 0, local = 0;

		for (i = 0; i < slots; i++) {
			if (!obj[i])
				continue;
			for (uintptr_t a = (uintptr_t)obj[i] & ~(psz - 1);
			     a < (uintptr_t)obj[i] + size[i]; a += psz)
				pages[n++] = (void *)a;
		}
		qsort(pages, n, sizeof(*pages), cmp_ptr);
		for (i = 0; i < n; i++)
			if (!u || pages[u - 1] != pages[i])
				pages[u++] = pages[i];
		if (syscall(SYS_getcpu, &cpu, &node, NULL) ||
		    syscall(SYS_move_pages, 0, u, pages, NULL, status, 0))
			return perror("getcpu/move_pages"), 2;
		for (i = 0; i < u; i++)
			local += status[i] == (int)node;
		printf("sample %llu %u %zu %zu %llu\n", (unsigned long long)(now_ms() - start),
		       node, local, u, (unsigned long long)xpv_version(x));
		fflush(stdout);
		next += period;
		if (now_ms() >= end)
			break;
	}
	return 0;
}
