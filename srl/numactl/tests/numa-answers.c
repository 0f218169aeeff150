// SPDX-License-Identifier: BSD-3-Clause
/*
 * numa-answers: prints what the libnuma it runs against answers, driven by
 * commands on stdin, so that a test can change the topology underneath one
 * long-lived process (libnuma caches per process) and ask again:
 *   query NCPUS   prints "cpu C node N" for C < NCPUS (N = numa_node_of_cpu(),
 *                 -1 on failure), then "node K cpus LIST" for every node up
 *                 to numa_max_node() (numa_node_to_cpus(), "error" on
 *                 failure), then "end"
 *   update        calls numa_node_to_cpu_update(), prints "end"
 * Which libnuma answers is chosen by the caller (LD_LIBRARY_PATH).
 */
#define _GNU_SOURCE
#include <numa.h>
#include <stdio.h>
#include <string.h>

static void print_cpus(struct bitmask *bm)
{
	const char *sep = "";
	unsigned int i, start;

	for (i = 0; i < bm->size; i++) {
		if (!numa_bitmask_isbitset(bm, i))
			continue;
		start = i;
		while (i + 1 < bm->size && numa_bitmask_isbitset(bm, i + 1))
			i++;
		if (start == i)
			printf("%s%u", sep, i);
		else
			printf("%s%u-%u", sep, start, i);
		sep = ",";
	}
	if (!*sep)
		printf("none");
}

static void query(int ncpus)
{
	struct bitmask *bm = numa_allocate_cpumask();
	int cpu, node;

	for (cpu = 0; cpu < ncpus; cpu++)
		printf("cpu %d node %d\n", cpu, numa_node_of_cpu(cpu));
	for (node = 0; node <= numa_max_node(); node++) {
		printf("node %d cpus ", node);
		if (numa_node_to_cpus(node, bm) < 0)
			printf("error");
		else
			print_cpus(bm);
		putchar('\n');
	}
	numa_bitmask_free(bm);
}

int main(void)
{
	char line[128];
	int n;

	if (numa_available() < 0) {
		fprintf(stderr, "numa-answers: libnuma: NUMA not available\n");
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "query %d", &n) == 1 && n > 0 && n <= 4096) {
			query(n);
		} else if (!strcmp(line, "update\n")) {
			numa_node_to_cpu_update();
		} else {
			fprintf(stderr, "numa-answers: unknown command: %s", line);
			return 2;
		}
		printf("end\n");
		fflush(stdout);
	}
	return 0;
}
