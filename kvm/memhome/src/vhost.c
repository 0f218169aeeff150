// SPDX-License-Identifier: GPL-2.0
#include "vhost.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

/* include/linux/sched.h: "I am a kernel thread" */
#define PF_KTHREAD 0x00200000ul
/* kthreadd, the parent of every kernel thread created by kthread_create() */
#define KTHREADD_PID 2

const char *mh_vhost_kind_name(enum mh_vhost_kind k)
{
	return k == MH_VHOST_KTHREAD ? "kthread" : "thread";
}

int mh_task_stat_parse(const char *line, struct mh_task_stat *st)
{
	const char *open = strchr(line, '('), *close = strrchr(line, ')');
	unsigned long long start;
	unsigned long flags;
	size_t len;
	int ppid, cpu, field;
	const char *p;

	if (!open || !close || close < open || close[1] != ' ')
		return -1;
	len = (size_t)(close - open - 1);
	if (len >= sizeof(st->comm))
		return -1;
	memcpy(st->comm, open + 1, len);
	st->comm[len] = '\0';
	/* after "(comm) ": state(3) ppid(4) pgrp session tty tpgid flags(9) */
	if (sscanf(close + 2, "%*c %d %*d %*d %*d %*d %lu", &ppid, &flags) != 2)
		return -1;
	/* starttime is field 22, processor field 39: count the spaces */
	p = close + 2;
	start = 0;
	cpu = -1;
	for (field = 3; *p; field++) {
		if (field == 22 && sscanf(p, "%llu", &start) != 1)
			return -1;
		if (field == 39 && sscanf(p, "%d", &cpu) != 1)
			return -1;
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	if (field < 22)
		return -1;
	st->ppid = ppid;
	st->flags = flags;
	st->start_time = start;
	st->cpu = cpu;
	return 0;
}

bool mh_vhost_kthread_model(const char *release)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (!release) {
		if (uname(&u) < 0)
			return true; /* look for both */
		release = u.release;
	}
	if (sscanf(release, "%d.%d", &major, &minor) != 2)
		return true;
	return major < 6 || (major == 6 && minor < 4);
}

/* `vhost-<digits>` -> the digits; 0 when comm is not that. */
static pid_t vhost_owner(const char *comm)
{
	const char *p = comm + 6;
	long v;
	char *end;

	if (strncmp(comm, "vhost-", 6) || !isdigit((unsigned char)*p))
		return 0;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno || *end || v <= 0 || v > 0x3fffffff)
		return 0;
	return (pid_t)v;
}

static int read_stat(const char *path, struct mh_task_stat *st)
{
	char line[1024];
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -1;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	return ok ? mh_task_stat_parse(line, st) : -1;
}

static pid_t dirent_pid(const struct dirent *de)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)de->d_name[0]))
		return 0;
	v = strtol(de->d_name, &end, 10);
	return *end || v <= 0 || v > 0x3fffffff ? 0 : (pid_t)v;
}

static int push(struct mh_vhost_worker **out, size_t *n, const struct mh_vhost_worker *w)
{
	struct mh_vhost_worker *nw = realloc(*out, (*n + 1) * sizeof(*nw));

	if (!nw)
		return -ENOMEM;
	*out = nw;
	nw[(*n)++] = *w;
	return 0;
}

int mh_vhost_kthreads(const char *proc_root, struct mh_vhost_worker **out, size_t *n,
		      struct xpv_error **err)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	*out = NULL;
	*n = 0;
	d = opendir(proc_root);
	if (!d)
		return xpv_error_set(err, errno, "opening %s", proc_root);
	while ((de = readdir(d))) {
		struct mh_task_stat st;
		struct mh_vhost_worker w = {0};
		pid_t tid = dirent_pid(de);

		if (!tid)
			continue;
		snprintf(path, sizeof(path), "%s/%d/stat", proc_root, (int)tid);
		/* gone meanwhile, or not a kernel thread of kthreadd */
		if (read_stat(path, &st) < 0 || !(st.flags & PF_KTHREAD) ||
		    st.ppid != KTHREADD_PID || !(w.owner = vhost_owner(st.comm)))
			continue;
		w.tid = tid;
		w.start_time = st.start_time;
		w.cpu = st.cpu;
		w.kind = MH_VHOST_KTHREAD;
		if (push(out, n, &w) < 0) {
			closedir(d);
			free(*out);
			*out = NULL;
			*n = 0;
			return xpv_error_set(err, ENOMEM, "vhost kthreads");
		}
	}
	closedir(d);
	return 0;
}

int mh_vhost_workers(const char *proc_root, int pid, const struct mh_vhost_worker *kthreads,
		     size_t n_kthreads, struct mh_vhost_worker **out, size_t *n,
		     struct xpv_error **err)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/%d/task", proc_root, pid);
	d = opendir(path);
	if (!d)
		return xpv_error_set(err, errno == ENOENT ? ESRCH : errno, "opening %s", path);
	while ((de = readdir(d))) {
		struct mh_task_stat st;
		pid_t tid = dirent_pid(de), owner;
		int r = 0;

		if (!tid)
			continue;
		snprintf(path, sizeof(path), "%s/%d/task/%d/stat", proc_root, pid, (int)tid);
		if (read_stat(path, &st) < 0)
			continue;
		/* 6.4+: the worker is this thread */
		if ((owner = vhost_owner(st.comm))) {
			struct mh_vhost_worker w = {.tid = tid,
						    .owner = owner,
						    .start_time = st.start_time,
						    .cpu = st.cpu,
						    .kind = MH_VHOST_THREAD};

			r = push(out, n, &w);
		}
		/* up to 6.3: kthreads named after this thread, younger than it */
		for (size_t k = 0; !r && k < n_kthreads; k++)
			if (kthreads[k].owner == tid && kthreads[k].start_time >= st.start_time)
				r = push(out, n, &kthreads[k]);
		if (r < 0) {
			closedir(d);
			free(*out);
			*out = NULL;
			*n = 0;
			return xpv_error_set(err, ENOMEM, "vhost workers of %d", pid);
		}
	}
	closedir(d);
	return 0;
}
