// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "domain_ctl.h"

#include <ctype.h>
#include <errno.h>
#include <numa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libvirt_session.h"
#include "util.h"

/* libvirt's canonical UUID string: 8-4-4-4-12 hexadecimal digits. */
static bool uuid_valid(const char *s)
{
	static const int dash[] = {8, 13, 18, 23};
	size_t k = 0;

	if (strlen(s) != XPV_UUID_LEN - 1)
		return false;
	for (size_t i = 0; s[i]; i++) {
		if (k < 4 && (int)i == dash[k]) {
			if (s[i] != '-')
				return false;
			k++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

int domain_notice(struct domain_notices *n, int argc, char **argv, json_t **reply,
		  struct xpv_error **err)
{
	bool started;
	int kicked;

	if (argc < 3 || argc > 4)
		return xpv_error_set(err, EINVAL, "usage: domain started|stopped UUID [NAME]");
	if (!strcmp(argv[1], "started"))
		started = true;
	else if (!strcmp(argv[1], "stopped"))
		started = false;
	else
		return xpv_error_set(err, EINVAL, "domain: `%s` is neither started nor stopped",
				     argv[1]);
	if (!uuid_valid(argv[2]))
		return xpv_error_set(err, EINVAL, "domain: `%s` is not a UUID", argv[2]);
	if (argc == 4 && !xpv_name_valid(argv[3]))
		return xpv_error_set(err, EINVAL,
				     "domain: the name must be 1-128 characters of "
				     "[A-Za-z0-9-_.+] (leave it out otherwise)");
	/* Only a flag for the session thread: the hook that sent this holds
	 * the domain's lock in libvirtd, so nothing here may wait for it. */
	kicked = libvirt_session_kick();
	if (started)
		n->started++;
	else
		n->stopped++;
	snprintf(n->last_event, sizeof(n->last_event), "%s", argv[1]);
	snprintf(n->last_uuid, sizeof(n->last_uuid), "%s", argv[2]);
	snprintf(n->last_name, sizeof(n->last_name), "%s", argc == 4 ? argv[3] : "");
	n->last_ns = xpv_now_ns();
	fprintf(stderr, "xpvd: libvirt hook: domain %s%s%s %s%s\n", argc == 4 ? argv[3] : "",
		argc == 4 ? " " : "", argv[2], argv[1],
		kicked ? ", refreshing the libvirt cache" : " (no libvirt session)");
	*reply = json_pack("{s:s, s:b}", "event", argv[1], "refresh", kicked);
	return 0;
}

json_t *domain_notices_status(const struct domain_notices *n)
{
	json_t *o = json_pack("{s:I, s:I}", "started", (json_int_t)n->started, "stopped",
			      (json_int_t)n->stopped);

	if (o && n->last_ns)
		json_object_set_new(o, "last",
				    json_pack("{s:s, s:s, s:s, s:f}", "event", n->last_event,
					      "uuid", n->last_uuid, "name", n->last_name, "age_s",
					      (xpv_now_ns() - n->last_ns) / 1e9));
	return o;
}

/* Does VM answer to `who`: its xpvd name, or libvirt's real name or UUID? */
static bool vm_matches(const struct xpv_vm *vm, const char *who, json_t **ids)
{
	struct libvirt_session *s = libvirt_session_current();
	struct lv_domain_ref r;
	bool match = !strcmp(vm->name, who);

	*ids = NULL;
	if (vm->kind == XPV_VM_LIBVIRT && s &&
	    libvirt_session_find(s, vm->domid, vm->name, &r) == 1) {
		match = match || !strcmp(r.name, who) || !strcasecmp(r.uuid, who);
		if (match)
			*ids = json_pack("{s:s, s:s, s:i}", "domain", r.name, "uuid", r.uuid, "id",
					 vm->domid);
		free(r.name);
	}
	return match;
}

static json_t *vcpu_placement(const struct xpv_vm *vm)
{
	json_t *arr = json_array();
	bool numa = numa_available() >= 0;

	for (size_t g = 0; g < vm->n_groups; g++)
		for (size_t t = 0; t < vm->groups[g].n_tids; t++) {
			pid_t tid = vm->groups[g].tids[t];
			int cpu = xpv_task_last_cpu(tid);
			int node = cpu >= 0 && numa ? numa_node_of_cpu(cpu) : -1;

			json_array_append_new(
				arr,
				json_pack("{s:o, s:i, s:o, s:o}", "vcpu",
					  vm->groups[g].vcpu >= 0 ? json_integer(vm->groups[g].vcpu)
								  : json_null(),
					  "tid", (int)tid, "cpu",
					  cpu >= 0 ? json_integer(cpu) : json_null(), "node",
					  node >= 0 ? json_integer(node) : json_null()));
		}
	return arr;
}

/* Bytes per host node over the VM's regions, from homing's last scan. */
static json_t *memory_placement(const struct xpv_vm *vm, json_t *homing)
{
	json_t *hv, *reg, *nb;
	size_t i, j;
	const char *node;

	json_array_foreach (json_object_get(homing, "vms"), i, hv) {
		json_t *sum;

		if (!json_is_string(json_object_get(hv, "vm")) ||
		    strcmp(json_string_value(json_object_get(hv, "vm")), vm->name) ||
		    !json_array_size(json_object_get(hv, "regions")))
			continue;
		sum = json_object();
		json_array_foreach (json_object_get(hv, "regions"), j, reg)
			json_object_foreach (json_object_get(reg, "bytes_per_node"), node, nb) {
				json_int_t had = json_integer_value(json_object_get(sum, node));

				json_object_set_new(sum, node,
						    json_integer(had + json_integer_value(nb)));
			}
		return json_pack("{s:s, s:o, s:O, s:O, s:O}", "source", "homing", "bytes_per_node",
				 sum, "resident_bytes", json_object_get(hv, "resident_bytes"),
				 "remote_bytes", json_object_get(hv, "remote_bytes"), "state",
				 json_object_get(hv, "state"));
	}
	return NULL;
}

int domain_placement(const struct xpv_vm_list *vms, json_t *homing, const char *who, json_t **reply,
		     struct xpv_error **err)
{
	for (size_t i = 0; i < vms->n; i++) {
		const struct xpv_vm *vm = &vms->vms[i];
		json_t *ids, *mem, *o;

		if (!vm_matches(vm, who, &ids))
			continue;
		mem = memory_placement(vm, homing);
		o = json_pack("{s:s, s:s, s:o, s:o}", "vm", vm->name, "kind",
			      vm->kind == XPV_VM_LIBVIRT ? "libvirt" : "cgroup", "vcpus",
			      vcpu_placement(vm), "memory", mem ? mem : json_null());
		if (o && !mem)
			json_object_set_new(o, "memory_note",
					    json_string("not measured: the homing controller "
							"has no region of this VM"));
		if (o && ids)
			json_object_update(o, ids);
		if (ids)
			json_decref(ids);
		if (!o)
			return xpv_error_set(err, ENOMEM, "placement");
		*reply = o;
		return 0;
	}
	return xpv_error_set(err, ENOENT,
			     "placement: no running VM `%s` (by domain name, UUID or xpvd's VM "
			     "name)",
			     who);
}
