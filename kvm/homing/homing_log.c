// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "homing_log.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct homing_log {
	FILE *f;
	bool csv;
	int nodes; /* CSV columns n0..n<nodes-1> */
};

static const char *const ev_names[] = {"sample", "pass-start", "progress", "pass-end", "exited"};

int homing_log_open(const char *path, bool csv, struct homing_log **out, struct xpv_error **err)
{
	struct homing_log *l = calloc(1, sizeof(*l));
	int maxn;

	*out = NULL;
	if (!l)
		return xpv_error_set(err, ENOMEM, "homing.log");
	l->f = fopen(path, "ae");
	if (!l->f) {
		free(l);
		return xpv_error_set(err, errno, "homing.log: opening `%s`", path);
	}
	l->csv = csv;
	maxn = numa_available() >= 0 ? numa_max_node() + 1 : 1;
	l->nodes = maxn > MH_MAX_NODES ? MH_MAX_NODES : maxn;
	if (csv && fseek(l->f, 0, SEEK_END) == 0 && ftell(l->f) == 0) {
		fputs("time,vm,event,region,home,resident_bytes,remote_bytes,moved_bytes,"
		      "failed_pages",
		      l->f);
		for (int k = 0; k < l->nodes; k++)
			fprintf(l->f, ",n%d", k);
		fputc('\n', l->f);
		fflush(l->f);
	}
	*out = l;
	return 0;
}

static double wall_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void log_csv(struct homing_log *l, double now, const char *name, const struct mh_vm *vm,
		    const struct mh_event *ev)
{
	/* names are validated ([A-Za-z0-9-_.+]), region names are QEMU ids */
	for (int i = 0; i < mh_vm_nr_regions(vm); i++) {
		const struct mh_region *r = mh_vm_region(vm, i);

		fprintf(l->f, "%.3f,%s,%s,%s,%d,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64, now,
			name, ev_names[ev->kind], r->name, r->home, r->resident_bytes,
			r->remote_bytes, ev->moved_bytes, ev->failed_pages);
		for (int k = 0; k < l->nodes; k++)
			fprintf(l->f, ",%" PRIu64, r->node_bytes[k]);
		fputc('\n', l->f);
	}
}

static json_t *regions_json(const struct mh_vm *vm)
{
	json_t *arr = json_array();

	for (int i = 0; i < mh_vm_nr_regions(vm); i++) {
		const struct mh_region *r = mh_vm_region(vm, i);
		json_t *nodes = json_object();
		char k[16];

		for (int n = 0; n < MH_MAX_NODES; n++)
			if (r->node_bytes[n] || n == r->home) {
				snprintf(k, sizeof(k), "%d", n);
				json_object_set_new(nodes, k,
						    json_integer((json_int_t)r->node_bytes[n]));
			}
		json_array_append_new(arr, json_pack("{s:s, s:i, s:I, s:I, s:o}", "region", r->name,
						     "home", r->home, "resident_bytes",
						     (json_int_t)r->resident_bytes, "remote_bytes",
						     (json_int_t)r->remote_bytes, "nodes", nodes));
	}
	return arr;
}

void homing_log_event(struct homing_log *l, const char *name, const struct mh_vm *vm,
		      const struct mh_event *ev)
{
	struct mh_vm_stats st;
	double now = wall_time();
	json_t *o;

	if (!l)
		return;
	if (l->csv) {
		log_csv(l, now, name, vm, ev);
		fflush(l->f);
		return;
	}
	mh_vm_stats(vm, &st);
	o = json_pack("{s:f, s:f, s:s, s:i, s:s}", "time", now, "t", ev->t_ns / 1e9, "vm", name,
		      "pid", mh_vm_pid(vm), "event", ev_names[ev->kind]);
	if (!o)
		return;
	if (ev->reason)
		json_object_set_new(o, "reason", json_string(ev->reason));
	json_object_set_new(o, "resident_bytes", json_integer((json_int_t)st.resident_bytes));
	json_object_set_new(o, "remote_bytes", json_integer((json_int_t)st.remote_bytes));
	json_object_set_new(o, "moved_bytes", json_integer((json_int_t)ev->moved_bytes));
	json_object_set_new(o, "failed_pages", json_integer((json_int_t)ev->failed_pages));
	json_object_set_new(o, "moved_bytes_total", json_integer((json_int_t)st.moved_bytes_total));
	if (ev->kind == MH_EV_SAMPLE)
		json_object_set_new(o, "regions", regions_json(vm));
	json_dumpf(o, l->f, JSON_COMPACT);
	fputc('\n', l->f);
	fflush(l->f);
	json_decref(o);
}

void homing_log_close(struct homing_log *l)
{
	if (!l)
		return;
	fclose(l->f);
	free(l);
}
