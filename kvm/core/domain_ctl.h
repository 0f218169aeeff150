/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Control commands about one domain, for xpvd's dispatcher:
 *
 *   domain started|stopped UUID [NAME]
 *       the notice of libvirt's qemu hook (libvirt-hooks/qemu.d/xpv):
 *       the libvirt session refreshes its cache now, so permits and
 *       homing apply from the first period the domain runs.  It only sets
 *       a flag: the hook calls while libvirtd holds the domain's lock.
 *   placement DOMAIN
 *       where a VM's vCPU threads last ran (CPU, host node) and its memory
 *       per host node (the homing controller's last scan), by libvirt
 *       domain name, UUID or xpvd's VM name.  From xpvd's own view of the
 *       cgroups and /proc, never from the QEMU monitor.
 */
#ifndef XPV_DOMAIN_CTL_H
#define XPV_DOMAIN_CTL_H

#include <jansson.h>
#include <stdint.h>

#include "discovery.h"
#include "error.h"

struct domain_notices {
	uint64_t started, stopped;
	char last_event[8];
	char last_uuid[40];
	char last_name[130];
	uint64_t last_ns;
};

/* argv[0] is "domain". */
int domain_notice(struct domain_notices *n, int argc, char **argv, json_t **reply,
		  struct xpv_error **err);
/* {"started", "stopped", "last": {"event", "uuid", "name", "age_s"}} */
json_t *domain_notices_status(const struct domain_notices *n);
/* homing: the homing controller's status object (memory per node). */
int domain_placement(const struct xpv_vm_list *vms, json_t *homing, const char *who, json_t **reply,
		     struct xpv_error **err);

#endif
