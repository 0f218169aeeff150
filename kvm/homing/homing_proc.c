// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "homing_proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int read_int_file(const char *path, long *out)
{
	cleanup_free char *buf = NULL;
	struct xpv_error *e = NULL;
	char *end;

	if (xpv_read_file(path, &buf, &e) < 0) {
		xpv_error_free(&e);
		return -1;
	}
	errno = 0;
	*out = strtol(buf, &end, 10);
	if (errno || end == buf || *out <= 0 || (*end && *end != '\n'))
		return -1;
	return 0;
}

static bool pid_exists(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	return xpv_path_exists(path);
}

static int tgid_of(pid_t tid)
{
	char path[64], line[128];
	int tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

static long rss_pages(int pid)
{
	char path[64];
	long size = 0, rss = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss;
}

int homing_find_pid(const char *pid_file, const struct xpv_vm *d, const char *domain)
{
	long pid, best_rss = -1;
	int best = 0;

	if (pid_file)
		return read_int_file(pid_file, &pid) == 0 && pid_exists(pid) ? (int)pid : 0;
	/* libvirt's pid file is named after the real domain name, not the
	 * mangled one of the cgroup (a name with `/` never reaches a path) */
	if (d->kind == XPV_VM_LIBVIRT && domain && !strchr(domain, '/') && domain[0] != '.') {
		cleanup_free char *path = NULL;

		if (asprintf(&path, "/run/libvirt/qemu/%s.pid", domain) >= 0 &&
		    read_int_file(path, &pid) == 0 && pid_exists(pid))
			return (int)pid;
	}
	for (size_t g = 0; g < d->n_groups; g++)
		for (size_t t = 0; t < d->groups[g].n_tids; t++) {
			int tg = tgid_of(d->groups[g].tids[t]);
			long rss;

			if (tg <= 0 || tg == best)
				continue;
			rss = rss_pages(tg);
			if (rss > best_rss) {
				best_rss = rss;
				best = tg;
			}
		}
	return best;
}
