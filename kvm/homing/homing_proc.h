/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which process holds a VM's guest RAM, for homing.
 */
#ifndef XPV_HOMING_PROC_H
#define XPV_HOMING_PROC_H

#include "discovery.h"

/*
 * A configured pid file (plain VMs) when given; for a libvirt domain its
 * pid file /run/libvirt/qemu/<domain>.pid, named after libvirt's real
 * domain name (not the mangled one of the cgroup); otherwise, among the
 * processes of the VM's threads, the one with the largest resident set (a
 * wrapper shell or a helper in a plain cgroup is small next to QEMU).
 * 0 when there is none (yet).
 */
int homing_find_pid(const char *pid_file, const struct xpv_vm *d, const char *domain);

#endif
