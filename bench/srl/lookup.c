// SPDX-License-Identifier: BSD-3-Clause
/*
 * ns per "which NUMA node is CPU n on" lookup, side by side:
 *   xpv_cpu_node      libxpv, seqcount read of the mapped page (--dev PAGE)
 *   xpv_current_node  the same for the calling thread (+ sched_getcpu)
 *   sched_getcpu      reference: rseq/vDSO CPU number alone
 *   getcpu_syscall    the raw getcpu syscall's node (what mimalloc does)
 *   numa_node_of_cpu  libnuma (cached sysfs bitmasks)
 *   sysfs_cpu_dir     opendir /sys/devices/system/cpu/cpuN, find nodeM link
 *   sysfs_cpulist     read + parse /sys/devices/system/node/nodeM/cpulist for each M
 * usage: lookup --dev PAGE [--iters N] [--only METHOD]   (bench/srl/run.sh)
 * --only runs one method once (for strace -c syscall counts).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <xpv/xpv.h>

static struct xpv *xpv;
static int ncpus;
static volatile long sink;

/* each method gets a CPU number in 0..ncpus-1 */
static long m_xpv_cpu_node(long i)
{
	return xpv_cpu_node(xpv, i);
}

static long m_xpv_current_node(long i)
{
	(void)i;
	return xpv_current_node(xpv);
}

static long m_sched_getcpu(long i)
{
	(void)i;
	return sched_getcpu();
}

static long m_getcpu_syscall(long i)
{
	unsigned int cpu, node;

	(void)i;
	syscall(SYS_getcpu, &cpu, &node, NULL);
	return node;
}

static long m_numa_node_of_cpu(long i)
{
	return numa_node_of_cpu(i);
}

static long m_sysfs_cpu_dir(long i)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	long node = -1;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%ld", i);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, "node%ld", &node) == 1)
			break;
	closedir(d);
	return node;
}

static long m_sysfs_cpulist(long i)
{
	int cpu = i;

	for (int n = 0; n < 64; n++) {
		char path[64], buf[4096], *p;
		int fd;
		ssize_t len;

		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		for (p = buf; *p && *p != '\n';) {
			long a = strtol(p, &p, 10), b = a;

			if (*p == '-')
				b = strtol(p + 1, &p, 10);
			if (cpu >= a && cpu <= b)
				return n;
			if (*p == ',')
				p++;
			else
				break;
		}
	}
	return -1;
}

static const struct method {
	const char *name;
	long (*fn)(long);
	long div; /* run iters/div times: the sysfs readers are slow */
} methods[] = {
	{"xpv_cpu_node", m_xpv_cpu_node, 1},	       {"xpv_current_node", m_xpv_current_node, 1},
	{"sched_getcpu", m_sched_getcpu, 1},	       {"getcpu_syscall", m_getcpu_syscall, 100},
	{"numa_node_of_cpu", m_numa_node_of_cpu, 100}, {"sysfs_cpu_dir", m_sysfs_cpu_dir, 100},
	{"sysfs_cpulist", m_sysfs_cpulist, 100},
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct xpv_open_opts o = {.sz = sizeof(o)};
	const char *only = NULL;
	long iters = 200000;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dev") && i + 1 < argc)
			o.dev_path = argv[++i];
		else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = atol(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: lookup --dev PAGE [--iters N] "
					"[--only METHOD|none]\n");
			return 2;
		}
	}
	xpv = xpv_open(&o);
	if (!xpv) {
		perror("xpv_open");
		return 1;
	}
	ncpus = xpv_nr_cpus(xpv);
	if (ncpus > numa_num_configured_cpus())
		ncpus = numa_num_configured_cpus(); /* libnuma/sysfs know these */
	if (numa_available() < 0 || ncpus <= 0) {
		fprintf(stderr, "lookup: libnuma unavailable or no CPUs\n");
		return 1;
	}
	sink = numa_node_of_cpu(0); /* libnuma reads sysfs once, up front */
	if (only) {
		for (size_t m = 0; m < sizeof(methods) / sizeof(*methods); m++)
			if (!strcmp(only, methods[m].name))
				for (long i = 0; i < iters; i++)
					sink += methods[m].fn(i % ncpus);
		xpv_close(xpv);
		return 0;
	}
	printf("%-18s %12s %10s   (%d CPUs in the table, best of 50 short runs: the least "
	       "disturbed)\n",
	       "method", "lookups", "ns/lookup", ncpus);
	for (size_t m = 0; m < sizeof(methods) / sizeof(*methods); m++) {
		long n = iters / methods[m].div;
		double best = 1e300;

		for (int r = 0; r < 50; r++) {
			double t0 = now_ns(), dt;

			for (long i = 0, c = 0; i < n; i++) {
				sink += methods[m].fn(c);
				if (++c == ncpus) /* not %: a division costs more */
					c = 0; /* than the xpv lookup itself */
			}
			dt = (now_ns() - t0) / n;
			if (dt < best)
				best = dt;
		}
		printf("%-18s %12ld %10.2f\n", methods[m].name, n, best);
	}
	xpv_close(xpv);
	return 0;
}
