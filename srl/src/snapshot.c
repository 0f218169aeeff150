// SPDX-License-Identifier: BSD-3-Clause
/*
 * The snapshot object and the lookups that need more than one table entry.
 * Those live lookups take a private snapshot: they are slow-path calls
 * (rebuilding a table after a version change), and a copy that was checked
 * as a whole cannot mix two maps.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct xpv_snapshot *xpv_snapshot(const struct xpv *x)
{
	struct xpv_snapshot *s;
	int ret;

	if (!x)
		return xpv_err_ptr(-EINVAL);
	s = malloc(sizeof(*s));
	if (!s)
		return xpv_err_ptr(-ENOMEM);
	ret = xpv_snap_take(x, s);
	if (ret) {
		free(s);
		return xpv_err_ptr(ret);
	}
	return s;
}

void xpv_snapshot_free(struct xpv_snapshot *s)
{
	free(s);
}

uint64_t xpv_snapshot__version(const struct xpv_snapshot *s)
{
	return s->version;
}

unsigned int xpv_snapshot__flags(const struct xpv_snapshot *s)
{
	return s->flags & (XPV_SNAP_F_MIRRORED | XPV_SNAP_F_FALLBACK);
}

uint64_t xpv_snapshot__updates(const struct xpv_snapshot *s)
{
	return s->updates;
}

uint64_t xpv_snapshot__rejects(const struct xpv_snapshot *s)
{
	return s->rejects;
}

int xpv_snapshot__nr_cpus(const struct xpv_snapshot *s)
{
	return s->nr_vcpus;
}

int xpv_snapshot__nr_nodes(const struct xpv_snapshot *s)
{
	return s->nr_gnodes;
}

int xpv_snapshot__nr_hnodes(const struct xpv_snapshot *s)
{
	return s->nr_hnodes;
}

int xpv_snapshot__hnode_id(const struct xpv_snapshot *s, int idx)
{
	if (idx < 0 || (unsigned int)idx >= s->nr_hnodes)
		return xpv_err(-EINVAL);
	return s->hnode_id[idx];
}

/* host node id -> index, or -EINVAL */
static int hindex(const struct xpv_snapshot *s, int id)
{
	unsigned int i;

	for (i = 0; i < s->nr_hnodes; i++)
		if (s->hnode_id[i] == id)
			return i;
	return -EINVAL;
}

int xpv_snapshot__hnode_distance(const struct xpv_snapshot *s, int a, int b)
{
	int ia = hindex(s, a), ib = hindex(s, b);

	if (ia < 0 || ib < 0)
		return xpv_err(-EINVAL);
	return s->dist[ia * s->nr_hnodes + ib];
}

int xpv_snapshot__node_distance(const struct xpv_snapshot *s, int a, int b)
{
	unsigned int ha, hb;

	if (a < 0 || b < 0 || (unsigned int)a >= s->nr_gnodes || (unsigned int)b >= s->nr_gnodes)
		return xpv_err(-EINVAL);
	ha = s->gnode[a].home;
	hb = s->gnode[b].home;
	if (ha == VIRTIO_NUMA_NO_NODE || hb == VIRTIO_NUMA_NO_NODE)
		return xpv_err(-ENOENT);
	return s->dist[ha * s->nr_hnodes + hb];
}

static const struct xpv_page_vcpu *vcpu(const struct xpv_snapshot *s, int cpu)
{
	if (cpu < 0 || (unsigned int)cpu >= s->nr_vcpus)
		return NULL;
	return &s->vcpu[cpu];
}

int xpv_snapshot__cpu_node(const struct xpv_snapshot *s, int cpu)
{
	const struct xpv_page_vcpu *v = vcpu(s, cpu);

	if (!v)
		return xpv_err(-EINVAL);
	return v->gnode == VIRTIO_NUMA_NO_NODE ? xpv_err(-ENOENT) : v->gnode;
}

int xpv_snapshot__cpu_hnode(const struct xpv_snapshot *s, int cpu)
{
	const struct xpv_page_vcpu *v = vcpu(s, cpu);

	if (!v)
		return xpv_err(-EINVAL);
	if (v->hnode == VIRTIO_NUMA_NO_NODE)
		return xpv_err(-ENOENT);
	return s->hnode_id[v->hnode];
}

long xpv_snapshot__cpu_host_cpu(const struct xpv_snapshot *s, int cpu)
{
	const struct xpv_page_vcpu *v = vcpu(s, cpu);

	if (!v)
		return xpv_err(-EINVAL);
	if (v->host_cpu == VIRTIO_NUMA_NO_CPU)
		return xpv_err(-ENOENT);
	return v->host_cpu;
}

/* Fill *set with the CPUs whose entry matches; shared by both cpus calls. */
static int cpus_where(const struct xpv_snapshot *s, bool host, unsigned int val, cpu_set_t *set,
		      size_t setsize)
{
	unsigned int i;
	int n = 0;

	if (!set)
		return xpv_err(-EINVAL);
	CPU_ZERO_S(setsize, set);
	for (i = 0; i < s->nr_vcpus; i++) {
		if ((host ? s->vcpu[i].hnode : s->vcpu[i].gnode) != val)
			continue;
		if (i >= setsize * 8)
			return xpv_err(-ERANGE);
		CPU_SET_S(i, setsize, set);
		n++;
	}
	return n;
}

int xpv_snapshot__node_cpus(const struct xpv_snapshot *s, int node, cpu_set_t *set, size_t setsize)
{
	if (node < 0 || node >= XPV_MAX_NODES)
		return xpv_err(-EINVAL);
	return cpus_where(s, false, node, set, setsize);
}

int xpv_snapshot__hnode_cpus(const struct xpv_snapshot *s, int hnode, cpu_set_t *set,
			     size_t setsize)
{
	int idx = hindex(s, hnode);

	if (idx < 0)
		return xpv_err(idx);
	return cpus_where(s, true, idx, set, setsize);
}

int xpv_snapshot__node_mem(const struct xpv_snapshot *s, int node, struct xpv_node_mem *mem)
{
	const struct snap_gnode *g;
	unsigned int i;

	if (!mem || node < 0 || node >= XPV_MAX_NODES)
		return xpv_err(-EINVAL);
	if ((unsigned int)node >= s->nr_gnodes)
		return xpv_err(-ENOENT);
	g = &s->gnode[node];
	memset(mem, 0, sizeof(*mem));
	mem->home = g->home == VIRTIO_NUMA_NO_NODE ? -1 : s->hnode_id[g->home];
	mem->flags = g->flags & (XPV_NODE_F_BOUND | XPV_NODE_F_MAJORITY);
	mem->size_bytes = g->size_bytes;
	mem->unplaced_bytes = g->unplaced_bytes;
	mem->nr_hnodes = s->nr_hnodes;
	for (i = 0; i < s->nr_hnodes; i++) {
		mem->hnode[i] = s->hnode_id[i];
		mem->bytes_on[i] = g->bytes_on[i];
	}
	return 0;
}

/* ---- live variants: one private snapshot per call ---- */

#define VIA_SNAPSHOT(x, call)                                                                      \
	({                                                                                         \
		struct xpv_snapshot *__s = xpv_snapshot(x);                                        \
		int __ret = __s ? (call) : -errno;                                                 \
		int __e = errno;                                                                   \
		xpv_snapshot_free(__s);                                                            \
		errno = __e;                                                                       \
		__ret;                                                                             \
	})

int xpv_node_cpus(const struct xpv *x, int node, cpu_set_t *set, size_t setsize)
{
	return VIA_SNAPSHOT(x, xpv_snapshot__node_cpus(__s, node, set, setsize));
}

int xpv_hnode_cpus(const struct xpv *x, int hnode, cpu_set_t *set, size_t setsize)
{
	return VIA_SNAPSHOT(x, xpv_snapshot__hnode_cpus(__s, hnode, set, setsize));
}

int xpv_hnode_distance(const struct xpv *x, int a, int b)
{
	return VIA_SNAPSHOT(x, xpv_snapshot__hnode_distance(__s, a, b));
}

int xpv_node_distance(const struct xpv *x, int a, int b)
{
	return VIA_SNAPSHOT(x, xpv_snapshot__node_distance(__s, a, b));
}

int xpv_node_mem(const struct xpv *x, int node, struct xpv_node_mem *mem)
{
	return VIA_SNAPSHOT(x, xpv_snapshot__node_mem(__s, node, mem));
}
