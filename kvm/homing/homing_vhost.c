// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "homing_vhost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sched_get(pid_t tid, cpu_set_t *set)
{
	return sched_getaffinity(tid, sizeof(*set), set) < 0 ? -errno : 0;
}

static int sched_set(pid_t tid, const cpu_set_t *set)
{
	return sched_setaffinity(tid, sizeof(*set), set) < 0 ? -errno : 0;
}

static unsigned long long proc_start_time(pid_t tid)
{
	struct mh_task_stat st;
	char path[64], line[1024];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	ok = fgets(line, sizeof(line), f) && mh_task_stat_parse(line, &st) == 0;
	fclose(f);
	return ok ? st.start_time : 0;
}

const struct vhost_affinity_ops vhost_affinity_sched = {
	.get = sched_get,
	.set = sched_set,
	.start_time = proc_start_time,
};

static bool same_worker(const struct mh_vhost_worker *a, const struct mh_vhost_worker *b)
{
	return a->tid == b->tid && a->start_time == b->start_time;
}

/* Puts the original back unless the worker is gone or was changed from
 * outside since our write (then the outside value is the one to keep). */
static void release_pin(struct homing_vhost *v, struct vhost_pin *p)
{
	cpu_set_t cur;

	if (!p->held || v->ops->start_time(p->w.tid) != p->w.start_time ||
	    v->ops->get(p->w.tid, &cur) < 0)
		return;
	if (!CPU_EQUAL(&cur, &p->wrote)) {
		v->adopted_total++;
		return;
	}
	if (v->ops->set(p->w.tid, &p->orig) == 0)
		v->restored_total++;
	else
		fprintf(stderr, "xpvd: homing: vhost worker %d: original affinity not restored\n",
			(int)p->w.tid);
}

/* Writes home and keeps what the kernel made of it (home intersected with
 * the worker's cpuset). */
static int pin(struct homing_vhost *v, struct vhost_pin *p, const cpu_set_t *home)
{
	int r = v->ops->set(p->w.tid, home);

	if (r < 0)
		return r;
	p->asked = *home;
	if (v->ops->get(p->w.tid, &p->wrote) < 0)
		p->wrote = *home;
	return 0;
}

static int sync_one(struct homing_vhost *v, struct vhost_pin *p, bool is_new, const cpu_set_t *home,
		    struct xpv_error **err)
{
	cpu_set_t cur;
	int r = v->ops->get(p->w.tid, &cur);

	if (r == -ESRCH)
		return 0; /* exited meanwhile: the next scan drops it */
	if (r < 0)
		return xpv_error_set(err, r, "affinity of vhost worker %d", (int)p->w.tid);
	if (!p->held) {
		/* refused before, and nobody changed it since: wait */
		if (!is_new && CPU_EQUAL(&cur, &p->orig))
			return xpv_error_set(err, EPERM, "vhost worker %d: home CPUs refused",
					     (int)p->w.tid);
		p->orig = cur;
		r = pin(v, p, home);
		if (r < 0)
			return xpv_error_set(err, r, "pinning vhost worker %d to the home CPUs",
					     (int)p->w.tid);
		p->held = true;
		v->pins_total++;
		return 0;
	}
	if (!CPU_EQUAL(&cur, &p->wrote)) {
		fprintf(stderr,
			"xpvd: homing: vhost worker %d: affinity changed from outside: adopted as "
			"the original, pinned again\n",
			(int)p->w.tid);
		p->orig = cur;
		v->adopted_total++;
	} else if (CPU_EQUAL(&p->asked, home)) {
		return 0;
	}
	r = pin(v, p, home);
	if (r < 0) {
		/* what is there stays ours to put back (orig) */
		p->wrote = cur;
		return xpv_error_set(err, r, "pinning vhost worker %d again", (int)p->w.tid);
	}
	v->repins_total++;
	return 0;
}

int homing_vhost_sync(struct homing_vhost *v, const struct mh_vhost_worker *w, size_t n,
		      const cpu_set_t *home, struct xpv_error **err)
{
	struct vhost_pin *np;
	int failed = 0;

	/* workers gone from the list (device reset, unplug): put back */
	for (size_t i = 0; i < v->n;) {
		bool listed = false;

		for (size_t j = 0; j < n && !listed; j++)
			listed = same_worker(&v->pins[i].w, &w[j]);
		if (listed) {
			i++;
			continue;
		}
		release_pin(v, &v->pins[i]);
		v->pins[i] = v->pins[--v->n];
	}
	for (size_t j = 0; j < n; j++) {
		struct vhost_pin *p = NULL;
		bool is_new = false;

		for (size_t i = 0; i < v->n && !p; i++)
			if (same_worker(&v->pins[i].w, &w[j]))
				p = &v->pins[i];
		if (!p) {
			np = realloc(v->pins, (v->n + 1) * sizeof(*np));
			if (!np) {
				failed++;
				xpv_error_set(err, ENOMEM, "vhost workers");
				continue;
			}
			v->pins = np;
			p = &v->pins[v->n++];
			memset(p, 0, sizeof(*p));
			is_new = true;
		}
		p->w = w[j]; /* the CPU it last ran on changes */
		if (sync_one(v, p, is_new, home, err) < 0)
			failed++;
	}
	return failed;
}

void homing_vhost_release(struct homing_vhost *v)
{
	for (size_t i = 0; i < v->n; i++)
		release_pin(v, &v->pins[i]);
	free(v->pins);
	v->pins = NULL;
	v->n = 0;
}
