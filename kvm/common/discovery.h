/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which VMs run here, which cgroups hold their vCPUs and which threads
 * those are.  Re-run every period, so VMs that appear, disappear or
 * hot-plug vCPUs are followed without restart.  Sources:
 *   - libvirt QEMU domains, from the cgroup tree (no libvirtd round trip):
 *     v1  <cpu>/machine/qemu-N-NAME.libvirt-qemu/vcpuK
 *         <cpu>/machine.slice/machine-qemu\x2dN\x2dNAME.scope[/libvirt]/vcpuK
 *     v2  <root>/machine.slice/machine-qemu\x2dN\x2dNAME.scope[/libvirt]/vcpuK
 *   - plain cgroups named in the configuration (containers, tests): one
 *     group, every thread in it (and below it) counts as a vCPU.
 */
#ifndef XPV_DISCOVERY_H
#define XPV_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "enforce.h"
#include "error.h"

enum xpv_vm_kind { XPV_VM_PLAIN, XPV_VM_LIBVIRT };

struct xpv_group {
	char *dir; /* absolute cgroup directory; CFS limits go here */
	int vcpu; /* vCPU index for libvirt, -1 for plain groups */
	size_t n_tids;
	pid_t *tids;
};

struct xpv_vm {
	char *name;
	enum xpv_vm_kind kind;
	int domid; /* libvirt's N, -1 for plain groups */
	size_t n_groups;
	struct xpv_group *groups;
	unsigned nvcpus;
};

struct xpv_vm_list {
	size_t n;
	struct xpv_vm *vms;
};

struct discovery {
	const struct cg_ops *ops;
	char *mount;
	bool libvirt;
	size_t n_plain;
	const struct xpv_plain_cgroup *plain;
};

int discovery_scan(const struct discovery *d, struct xpv_vm_list *out, struct xpv_error **err);
void discovery_free(struct xpv_vm_list *l);
const struct xpv_vm *discovery_find(const struct xpv_vm_list *l, const char *name);
/* "machine-qemu\x2d1\x2dvm1.scope" or "qemu-1-vm1.libvirt-qemu" ->
 * domid 1, name "vm1".  Returns 0 on success, -1 if not a QEMU domain,
 * -2 if it looks like one but the name is not valid (xpv_name_valid). */
int discovery_parse_machine(const char *dirname, int *domid, char *name, size_t len);

#endif
