// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "topology.h"

#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct domain {
	char cpus[256];
	char nodes[64];
	unsigned long long cache_kib;
};

struct topology {
	char *source; /* "host" or the XML path */
	int llc_level; /* 3 for L3, 0 when the machine is one domain */
	unsigned n_nodes;
	unsigned n_domains;
	struct domain *domains;
	unsigned cpu_limit;
	int *cpu_domain; /* [cpu_limit], -1 where no CPU */
};

static void list_string(hwloc_const_bitmap_t b, char *buf, size_t len)
{
	/* hwloc_bitmap_list_snprintf truncates safely and NUL-terminates. */
	if (hwloc_bitmap_list_snprintf(buf, len, b) < 0 && len)
		buf[0] = '\0';
}

/* The deepest-numbered cache level that is shared by more than one PU
 * anywhere, searching from L3 down; 0 if none. */
static int llc_depth(hwloc_topology_t topo, int *level)
{
	static const hwloc_obj_type_t types[] = {HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int depth = hwloc_get_type_depth(topo, types[i]);

		if (depth < 0)
			continue;
		*level = i == 0 ? 3 : 2;
		return depth;
	}
	*level = 0;
	return -1;
}

int topology_load(struct topology **out, const char *xml, struct xpv_error **err)
{
	hwloc_topology_t topo;
	struct topology *t;
	hwloc_const_bitmap_t all;
	int depth, last, ret = -1;
	unsigned cpu;

	if (hwloc_topology_init(&topo) < 0)
		return xpv_error_set(err, errno, "hwloc: initialising the topology");
	if (xml && hwloc_topology_set_xml(topo, xml) < 0) {
		ret = xpv_error_set(err, errno, "hwloc: reading topology XML `%s`", xml);
		hwloc_topology_destroy(topo);
		return ret;
	}
	if (hwloc_topology_load(topo) < 0) {
		ret = xpv_error_set(err, errno, "hwloc: loading the %s topology",
				    xml ? "XML" : "host");
		hwloc_topology_destroy(topo);
		return ret;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->source = strdup(xml ? xml : "host");
	all = hwloc_topology_get_complete_cpuset(topo);
	last = hwloc_bitmap_last(all);
	if (!t->source || last < 0 || hwloc_bitmap_weight(all) < 0) {
		/* An XML without PUs, or an infinite cpuset: reject. */
		if (t->source) {
			ret = xpv_error_set(err, EINVAL, "hwloc: topology `%s` has no CPUs",
					    t->source);
			goto fail;
		}
		goto nomem;
	}
	t->cpu_limit = (unsigned)last + 1;
	t->cpu_domain = malloc(t->cpu_limit * sizeof(*t->cpu_domain));
	if (!t->cpu_domain)
		goto nomem;
	for (cpu = 0; cpu < t->cpu_limit; cpu++)
		t->cpu_domain[cpu] = -1;
	t->n_nodes = (unsigned)hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	depth = llc_depth(topo, &t->llc_level);
	t->n_domains = depth < 0 ? 1 : (unsigned)hwloc_get_nbobjs_by_depth(topo, depth);
	t->domains = calloc(t->n_domains, sizeof(*t->domains));
	if (!t->domains)
		goto nomem;
	for (unsigned d = 0; d < t->n_domains; d++) {
		hwloc_obj_t o = depth < 0 ? hwloc_get_root_obj(topo)
					  : hwloc_get_obj_by_depth(topo, depth, d);
		int i;

		list_string(o->cpuset, t->domains[d].cpus, sizeof(t->domains[d].cpus));
		list_string(o->nodeset, t->domains[d].nodes, sizeof(t->domains[d].nodes));
		if (depth >= 0 && o->attr)
			t->domains[d].cache_kib = o->attr->cache.size / 1024;
		hwloc_bitmap_foreach_begin(i, o->cpuset)
		{
			if ((unsigned)i < t->cpu_limit)
				t->cpu_domain[i] = (int)d;
		}
		hwloc_bitmap_foreach_end();
	}
	hwloc_topology_destroy(topo);
	*out = t;
	return 0;
nomem:
	ret = xpv_error_set(err, ENOMEM, "topology");
fail:
	hwloc_topology_destroy(topo);
	topology_free(t);
	return ret;
}

void topology_free(struct topology *t)
{
	if (!t)
		return;
	free(t->source);
	free(t->domains);
	free(t->cpu_domain);
	free(t);
}

unsigned topology_n_domains(const struct topology *t)
{
	return t->n_domains;
}

unsigned topology_n_nodes(const struct topology *t)
{
	return t->n_nodes;
}

int topology_cpu_domain(const struct topology *t, unsigned cpu)
{
	return cpu < t->cpu_limit ? t->cpu_domain[cpu] : -1;
}

const char *topology_domain_cpus(const struct topology *t, unsigned d)
{
	return d < t->n_domains ? t->domains[d].cpus : "";
}

const char *topology_domain_nodes(const struct topology *t, unsigned d)
{
	return d < t->n_domains ? t->domains[d].nodes : "";
}

unsigned topology_cpu_limit(const struct topology *t)
{
	return t->cpu_limit;
}

json_t *topology_describe(const struct topology *t)
{
	json_t *arr = json_array();

	for (unsigned d = 0; d < t->n_domains; d++)
		json_array_append_new(arr,
				      json_pack("{s:i, s:s, s:s, s:I}", "domain", (int)d, "cpus",
						t->domains[d].cpus, "nodes", t->domains[d].nodes,
						"cache_kib", (json_int_t)t->domains[d].cache_kib));
	return json_pack("{s:s, s:i, s:i, s:o}", "source", t->source, "llc_level", t->llc_level,
			 "numa_nodes", (int)t->n_nodes, "llc_domains", arr);
}
