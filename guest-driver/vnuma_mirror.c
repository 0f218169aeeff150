// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mirror the map into the kernel's cpu->node state (docs/guest-abi.md,
 * "Kernel state").  When the guest nodes that have a known home have
 * distinct homes, a vCPU that runs on host node H belongs to the guest node
 * whose home is H (else the nearest such node), and the kernel is told so
 * through what a 6.1 module can reach (Module.symvers of Debian's 6.1
 * headers), all of it kept consistent for every CPU we touch:
 *   numa_node (per-CPU, EXPORT_SYMBOL)           cpu_to_node(), local allocation, getcpu(2)
 *   x86_cpu_to_node_map (per-CPU, EXPORT_SYMBOL) early_cpu_to_node(), used by
 *                                                numa_remove_cpu() at CPU offline
 *   node_to_cpumask_map[] (EXPORT_SYMBOL)        cpumask_of_node(), sysfs nodeN/cpulist
 *   node_states[N_CPU] (EXPORT_SYMBOL)           "node has online CPUs", as
 *                                                mm/vmstat.c keeps it
 * What a module cannot reach, and so stays at its boot value, is listed in
 * docs/guest-abi.md (__apicid_to_node, the vDSO/RDPID node, sched domains,
 * memory-tiering demotion targets).
 *
 * vCPU entries are matched to guest CPUs by arch_id == APIC ID, present
 * CPUs only.  Locking: cpus_read_lock() keeps CPUs from going on/offline
 * (the hotplug callback below runs under the write side), mir.lock
 * serialises us against ourselves.  The set of online nodes is read once per
 * update into a snapshot; a module cannot take mem_hotplug_lock or
 * device_hotplug_lock (neither is exported), see docs/guest-abi.md for what
 * that leaves.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/topology.h>
#include <asm/smp.h>

#include "vnuma.h"

static bool mirror = true;
module_param(mirror, bool, 0444);
MODULE_PARM_DESC(mirror,
		 "make the kernel's cpu->node mapping follow the host placement (default on)");

/* One device at most (vnuma_virtio.c), so the mirror is a singleton. */
static struct {
	struct mutex lock; /* taken inside cpus_read_lock() or the hotplug lock */
	bool active;
	int *orig; /* [nr_cpu_ids] node before we first moved the CPU, or NUMA_NO_NODE */
	int *set; /* [nr_cpu_ids] node we last set, NUMA_NO_NODE if untouched */
	int *want; /* [nr_cpu_ids] node the current map wants, or NUMA_NO_NODE */
	int cpuhp_state;
} mir = {
	.lock = __MUTEX_INITIALIZER(mir.lock),
	.cpuhp_state = -1,
};

/* N_CPU as mm/vmstat.c maintains it: the node has an online CPU. */
static void update_n_cpu(int node)
{
	if (node < 0 || node >= nr_node_ids)
		return;
	if (cpumask_intersects(cpumask_of_node(node), cpu_online_mask))
		node_set_state(node, N_CPU);
	else
		node_clear_state(node, N_CPU);
}

/*
 * Under cpus_read_lock() (or the hotplug write lock) and mir.lock.  The CPU
 * joins its new node's mask before it leaves the old one, so that a reader
 * of the masks never finds it in no node.  Offline CPUs are in no mask
 * (numa_remove_cpu() took them out); their per-CPU node is what bring-up
 * and our online callback start from.
 */
static void set_node(unsigned int cpu, int node)
{
	int old = cpu_to_node(cpu), n;

	if (mir.set[cpu] == NUMA_NO_NODE)
		mir.orig[cpu] = old;
	mir.set[cpu] = node;
	per_cpu(x86_cpu_to_node_map, cpu) = node;
	set_cpu_numa_node(cpu, node);
	if (!cpu_online(cpu))
		return;
	cpumask_set_cpu(cpu, node_to_cpumask_map[node]);
	node_set_state(node, N_CPU);
	for (n = 0; n < nr_node_ids; n++) {
		if (n != node && cpumask_test_cpu(cpu, node_to_cpumask_map[n])) {
			cpumask_clear_cpu(cpu, node_to_cpumask_map[n]);
			update_n_cpu(n);
		}
	}
}

/*
 * Bring-up reset the node from SRAT (srat_detect_node, numa_add_cpu); put
 * ours back.  Runs on CPU online under the hotplug write lock, so neither
 * vnuma_mirror_apply() nor memory hotplug (it takes cpus_read_lock) runs.
 */
static int vnuma_cpu_online(unsigned int cpu)
{
	mutex_lock(&mir.lock);
	if (mir.active && mir.want[cpu] != NUMA_NO_NODE && node_online(mir.want[cpu]))
		set_node(cpu, mir.want[cpu]);
	mutex_unlock(&mir.lock);
	return 0;
}

/*
 * home[g] for each node g of @online that is a possible target (known
 * home), NO_NODE for the others (memoryless nodes, unknown homes).  False
 * unless the targets have distinct homes and there is at least one.
 */
static bool targets(const struct vnuma_map *m, const nodemask_t *online, u16 *home)
{
	DECLARE_BITMAP(used, VIRTIO_NUMA_MAX_HNODES);
	int g, n = 0;

	bitmap_zero(used, VIRTIO_NUMA_MAX_HNODES);
	for_each_node_mask(g, *online)
	{
		if (g >= m->nr_gnodes || g >= VIRTIO_NUMA_MAX_GNODES)
			return false; /* the guest has nodes the device does not know */
		home[g] = m->gnode[g].home;
		if (home[g] == VIRTIO_NUMA_NO_NODE)
			continue;
		if (test_bit(home[g], used))
			return false;
		__set_bit(home[g], used);
		n++;
	}
	return n > 0;
}

/* The guest node for a vCPU on host-node index h: same home, else nearest. */
static int pick_node(const struct vnuma_map *m, const nodemask_t *online, const u16 *home, u16 h)
{
	int g, best = NUMA_NO_NODE;
	unsigned int d, best_d = VIRTIO_NUMA_UNREACHABLE;

	if (h == VIRTIO_NUMA_NO_NODE)
		return NUMA_NO_NODE;
	for_each_node_mask(g, *online)
	{
		if (home[g] == VIRTIO_NUMA_NO_NODE)
			continue;
		if (home[g] == h)
			return g;
		d = m->dist[h * m->nr_hnodes + home[g]];
		if (d < best_d) {
			best_d = d;
			best = g;
		}
	}
	return best;
}

/* The map entry of present CPU @cpu (by APIC ID), or -1. */
static int entry_of_cpu(const struct vnuma_map *m, unsigned int cpu)
{
	u32 apicid = cpu_physical_id(cpu);
	unsigned int i;

	for (i = 0; i < m->nr_vcpus; i++) {
		if ((m->vcpu[i].flags & VIRTIO_NUMA_VCPU_F_PRESENT) && m->vcpu[i].arch_id == apicid)
			return i;
	}
	return -1;
}

/* Put back what we changed, unless someone else changed it since. */
static void restore_locked(void)
{
	unsigned int cpu;

	for_each_possible_cpu (cpu) {
		mir.want[cpu] = NUMA_NO_NODE;
		if (mir.set[cpu] == NUMA_NO_NODE)
			continue;
		if (cpu_to_node(cpu) == mir.set[cpu] && mir.orig[cpu] != NUMA_NO_NODE &&
		    node_online(mir.orig[cpu]))
			set_node(cpu, mir.orig[cpu]);
		mir.set[cpu] = NUMA_NO_NODE;
		mir.orig[cpu] = NUMA_NO_NODE;
	}
	mir.active = false;
}

/* gnode_of_vcpu[i]: the kernel node of the present CPU entry i names. */
static void nodes_of_entries(const struct vnuma_map *m, u16 *gnode_of_vcpu)
{
	unsigned int i, cpu;

	for (i = 0; i < m->nr_vcpus; i++)
		gnode_of_vcpu[i] = VIRTIO_NUMA_NO_NODE;
	for_each_present_cpu(cpu)
	{
		int e = entry_of_cpu(m, cpu), node = cpu_to_node(cpu);

		if (e >= 0 && node >= 0)
			gnode_of_vcpu[e] = node;
	}
}

bool vnuma_mirror_apply(const struct vnuma_map *m, u16 *gnode_of_vcpu)
{
	u16 home[VIRTIO_NUMA_MAX_GNODES];
	nodemask_t online;
	unsigned int cpu;
	bool active;

	cpus_read_lock();
	mutex_lock(&mir.lock);
	/* one view of the node set for every decision below */
	online = node_states[N_ONLINE];
	if (!mirror || !targets(m, &online, home)) {
		if (mir.active)
			restore_locked();
	} else {
		mir.active = true;
		for_each_possible_cpu (cpu)
			mir.want[cpu] = NUMA_NO_NODE;
		for_each_present_cpu(cpu)
		{
			int e = entry_of_cpu(m, cpu), node;

			/* CPUs without an entry, or on an unknown host node, keep their state */
			if (e < 0)
				continue;
			node = pick_node(m, &online, home, m->vcpu[e].hnode);
			if (node == NUMA_NO_NODE)
				continue;
			mir.want[cpu] = node;
			if (cpu_to_node(cpu) != node)
				set_node(cpu, node);
		}
	}
	active = mir.active;
	nodes_of_entries(m, gnode_of_vcpu);
	mutex_unlock(&mir.lock);
	cpus_read_unlock();
	return active;
}

int vnuma_mirror_init(void)
{
	unsigned int cpu;
	int ret;

	BUILD_BUG_ON(VIRTIO_NUMA_MAX_GNODES > (1 << 16));
	mir.orig = vnuma_kvzalloc(nr_cpu_ids * sizeof(int));
	mir.set = vnuma_kvzalloc(nr_cpu_ids * sizeof(int));
	mir.want = vnuma_kvzalloc(nr_cpu_ids * sizeof(int));
	if (!mir.orig || !mir.set || !mir.want) {
		ret = -ENOMEM;
		goto err_free;
	}

	cpus_read_lock();
	mutex_lock(&mir.lock);
	for_each_possible_cpu (cpu) {
		mir.orig[cpu] = NUMA_NO_NODE;
		mir.set[cpu] = NUMA_NO_NODE;
		mir.want[cpu] = NUMA_NO_NODE;
	}
	mir.active = false;
	mutex_unlock(&mir.lock);
	cpus_read_unlock();

	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "xpv/virtio_numa:online",
					vnuma_cpu_online, NULL);
	if (ret < 0)
		goto err_free;
	mir.cpuhp_state = ret;
	return 0;

err_free:
	vnuma_kvfree(mir.want);
	vnuma_kvfree(mir.set);
	vnuma_kvfree(mir.orig);
	mir.orig = mir.set = mir.want = NULL;
	return ret;
}

void vnuma_mirror_exit(void)
{
	/* first, so that no online callback re-applies what we restore */
	if (mir.cpuhp_state >= 0)
		cpuhp_remove_state_nocalls(mir.cpuhp_state);
	mir.cpuhp_state = -1;

	cpus_read_lock();
	mutex_lock(&mir.lock);
	restore_locked();
	mutex_unlock(&mir.lock);
	cpus_read_unlock();

	vnuma_kvfree(mir.want);
	vnuma_kvfree(mir.set);
	vnuma_kvfree(mir.orig);
	mir.orig = mir.set = mir.want = NULL;
}
