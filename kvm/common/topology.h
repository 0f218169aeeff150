/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host topology from hwloc: NUMA nodes and LLC domains.  An LLC domain is
 * the set of CPUs sharing one last-level (L3) cache: a socket on most
 * Intel parts, a CCX on AMD.  Pollution of an LLC only hurts the VMs
 * running in the same domain, so Kyoto meters it per domain.
 *
 * Without an L3 in the topology the largest shared cache level stands in,
 * and without any cache the whole machine is one domain.  Domains are
 * numbered by hwloc's logical index (0..n-1, in topology order).
 *
 * topology_load(xml) reads an hwloc XML export instead of this host: that
 * is for tests only (the machines here have one LLC), and xpvd says so
 * loudly when it is configured.
 */
#ifndef XPV_TOPOLOGY_H
#define XPV_TOPOLOGY_H

#include <jansson.h>

#include "error.h"

struct topology;

/* xml: NULL for this host, else a path to an hwloc XML file (tests). */
int topology_load(struct topology **t, const char *xml, struct xpv_error **err);
void topology_free(struct topology *t);

unsigned topology_n_domains(const struct topology *t);
unsigned topology_n_nodes(const struct topology *t);
/* LLC domain of a CPU (OS index), -1 if the topology does not have it. */
int topology_cpu_domain(const struct topology *t, unsigned cpu);
/* CPUs of a domain as a list string ("0-3,8-11"), "" out of range. */
const char *topology_domain_cpus(const struct topology *t, unsigned domain);
/* NUMA nodes of a domain as a list string ("0"). */
const char *topology_domain_nodes(const struct topology *t, unsigned domain);
/* One past the highest CPU OS index in the topology. */
unsigned topology_cpu_limit(const struct topology *t);
/* {"source", "llc_level", "numa_nodes", "llc_domains":[{domain, cpus,
 *  nodes, cache_kib}]} for xpvctl status. */
json_t *topology_describe(const struct topology *t);

#endif
