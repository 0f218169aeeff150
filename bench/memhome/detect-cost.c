// SPDX-License-Identifier: GPL-2.0
/*
 * Detection cost per GiB on this machine: libmemhome's numa_maps pass against
 * its move_pages(nodes=NULL) pass, full and sampled, over an anonymous region
 * of this process (4 KiB pages, or THP with --thp).
 * Usage: detect-cost [--gib N] [--reps R] [--thp]   (CSV on stdout)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "memhome.h"
#include "regions.h"

static double secs(void)
{
	return mh_clock_now_ns() / 1e9;
}

/* CPU time of this thread: what the pass costs, whatever the load */
static double cpu_secs(void)
{
	return mh_clock_cpu_ns() / 1e9;
}

int main(int argc, char **argv)
{
	static const unsigned int strides[] = {1, 8, 64, 512};
	unsigned long gib = 1, reps = 5;
	int thp = 0;
	struct xpv_error *err = NULL;
	struct mh_region r = {.name = "bench", .home = 0, .page_size = 4096};
	struct mh_engine e;
	size_t size;
	char *p;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--gib") && i + 1 < argc)
			gib = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--thp"))
			thp = 1;
		else {
			fprintf(stderr, "usage: detect-cost [--gib N] [--reps R] [--thp]\n");
			return 2;
		}
	}
	if (!gib || !reps)
		return 2;
	size = gib << 30;
	p = mmap(NULL, size + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	p = (char *)(((uintptr_t)p + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (size_t o = 0; o < size; o += 4096)
		p[o] = 1;
	r.start = (uintptr_t)p;
	r.end = r.start + size;
	printf("method,stride,pages_per_gib_queried,cpu_ms_per_gib,wall_ms_per_gib,pages_per_cpu_s,"
	       "thp\n");
	{
		double t0 = secs(), c0 = cpu_secs();

		for (unsigned long k = 0; k < reps; k++)
			if (mh_regions_measure("/proc", getpid(), &r, 1, &err)) {
				fprintf(stderr, "%s\n", err->msg);
				return 1;
			}
		double ms = (secs() - t0) * 1e3 / reps / gib;
		double cms = (cpu_secs() - c0) * 1e3 / reps / gib;

		printf("numa_maps,0,%lu,%.3f,%.3f,%.0f,%d\n", 262144ul, cms, ms,
		       262144 / (cms / 1e3), thp);
		if (r.resident_bytes < size) {
			fprintf(stderr, "numa_maps saw %lu of %zu bytes\n",
				(unsigned long)r.resident_bytes, size);
			return 1;
		}
	}
	if (mh_engine_init(&e, &mh_pages_syscall, NULL, getpid(), "/proc", 4096, &err)) {
		fprintf(stderr, "%s\n", err->msg);
		return 1;
	}
	for (size_t s = 0; s < sizeof(strides) / sizeof(strides[0]); s++) {
		uint64_t nb[MH_MAX_NODES] = {0}, other = 0;
		double t0 = secs(), c0 = cpu_secs(), ms, cms;

		for (unsigned long k = 0; k < reps; k++) {
			memset(nb, 0, sizeof(nb));
			if (mh_engine_query(&e, &r, strides[s], nb, &other, &err)) {
				fprintf(stderr, "%s\n", err->msg);
				return 1;
			}
		}
		ms = (secs() - t0) * 1e3 / reps / gib;
		cms = (cpu_secs() - c0) * 1e3 / reps / gib;
		printf("move_pages,%u,%u,%.3f,%.3f,%.0f,%d\n", strides[s], 262144 / strides[s], cms,
		       ms, 262144 / strides[s] / (cms / 1e3), thp);
		if (nb[0] != size) {
			fprintf(stderr, "move_pages estimate %lu != %zu\n", (unsigned long)nb[0],
				size);
			return 1;
		}
	}
	mh_engine_fini(&e);
	return 0;
}
