// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mirror the map into the kernel's cpu->node state (docs/guest-abi.md,
 * "Kernel state").  When every online guest node has its own home host node,
 * a vCPU that runs on host node H belongs to the guest node whose home is H,
 * and the kernel is told so through what a 6.1 module can reach
 * (Module.symvers of Debian's 6.1 headers):
 *   numa_node (per-CPU, EXPORT_SYMBOL)           cpu_to_node(), local allocation, getcpu(2)
 *   x86_cpu_to_node_map (per-CPU, EXPORT_SYMBOL) early_cpu_to_node(), used at CPU bring-up
 *   node_to_cpumask_map[] (EXPORT_SYMBOL)        cpumask_of_node(), sysfs nodeN/cpulist
 * numa_set_node()/numa_add_cpu() would do the same but are not exported.
 * With rehome=1 a moved CPU is also taken offline and online again
 * (remove_cpu/add_cpu, EXPORT_SYMBOL_GPL) so that sched domains and the vDSO
 * node follow; the bring-up resets the node from SRAT, so a CPU hotplug
 * callback puts ours back.  The boot-time mapping is restored on unload.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/topology.h>

#include "vnuma.h"

static bool mirror = true;
module_param(mirror, bool, 0444);
MODULE_PARM_DESC(mirror,
		 "make the kernel's cpu->node mapping follow the host placement (default on)");

static bool rehome;
module_param(rehome, bool, 0444);
MODULE_PARM_DESC(rehome, "also offline/online moved CPUs (never CPU0) so sched domains and the "
			 "vDSO follow (default off)");

/* One device at most (vnuma_virtio.c), so the mirror is a singleton. */
static struct {
	struct mutex lock; /* taken inside cpus_read_lock() or the hotplug lock */
	bool active;
	int *boot; /* [nr_cpu_ids] cpu_to_node() at load */
	int *want; /* [nr_cpu_ids] node we set, NUMA_NO_NODE to leave alone */
	unsigned long *rehomed; /* CPUs we re-onlined: re-online again on restore */
	unsigned long *todo; /* scratch: CPUs to re-online now */
	int cpuhp_state;
} mir = {
	.lock = __MUTEX_INITIALIZER(mir.lock),
	.cpuhp_state = -1,
};

static void move_cpu(unsigned int cpu, int node)
{
	int n;

	per_cpu(x86_cpu_to_node_map, cpu) = node;
	set_cpu_numa_node(cpu, node);
	if (!cpu_online(cpu))
		return; /* offline CPUs are in no node mask (numa_remove_cpu) */
	for (n = 0; n < nr_node_ids; n++) {
		if (n != node)
			cpumask_clear_cpu(cpu, node_to_cpumask_map[n]);
	}
	cpumask_set_cpu(cpu, node_to_cpumask_map[node]);
}

/* Bring-up re-read the SRAT node (srat_detect_node); put ours back. */
static int vnuma_cpu_online(unsigned int cpu)
{
	mutex_lock(&mir.lock);
	if (mir.active && mir.want[cpu] != NUMA_NO_NODE && node_online(mir.want[cpu]) &&
	    cpu_to_node(cpu) != mir.want[cpu])
		move_cpu(cpu, mir.want[cpu]);
	mutex_unlock(&mir.lock);
	return 0;
}

/*
 * home[g] for each online guest node g, or false unless the online nodes
 * are 1:1 with distinct known home host nodes.
 */
static bool nodes_are_1to1(const struct vnuma_map *m, u16 *home)
{
	DECLARE_BITMAP(used, VIRTIO_NUMA_MAX_HNODES);
	int g;

	bitmap_zero(used, VIRTIO_NUMA_MAX_HNODES);
	for_each_online_node (g) {
		if (g >= m->nr_gnodes)
			return false;
		home[g] = m->gnode[g].home;
		if (home[g] == VIRTIO_NUMA_NO_NODE || test_bit(home[g], used))
			return false;
		__set_bit(home[g], used);
	}
	return true;
}

/* The guest node for a vCPU on host-node index h: same home, else nearest. */
static int pick_node(const struct vnuma_map *m, const u16 *home, u16 h)
{
	int g, best = NUMA_NO_NODE;
	unsigned int d, best_d = VIRTIO_NUMA_UNREACHABLE;

	if (h == VIRTIO_NUMA_NO_NODE)
		return NUMA_NO_NODE;
	for_each_online_node (g) {
		if (home[g] == h)
			return g;
	}
	for_each_online_node (g) {
		d = m->dist[h * m->nr_hnodes + home[g]];
		if (d < best_d) {
			best_d = d;
			best = g;
		}
	}
	return best;
}

static void restore_locked(void)
{
	unsigned int cpu;

	for_each_possible_cpu (cpu) {
		mir.want[cpu] = NUMA_NO_NODE;
		if (cpu_to_node(cpu) != mir.boot[cpu] && node_online(mir.boot[cpu]))
			move_cpu(cpu, mir.boot[cpu]);
	}
	mir.active = false;
}

static void vnuma_mirror_nodes_of(u16 *gnode_of_vcpu, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		int node = i < nr_cpu_ids && cpu_possible(i) ? cpu_to_node(i) : NUMA_NO_NODE;

		gnode_of_vcpu[i] = node < 0 ? VIRTIO_NUMA_NO_NODE : node;
	}
}

static int node_wanted(unsigned int cpu)
{
	return mir.want[cpu] != NUMA_NO_NODE ? mir.want[cpu] : cpu_to_node(cpu);
}

/*
 * The scheduler requires a package (and its LLC) inside one node; moving
 * one CPU of a shared package away would make build_sched_domains() report
 * "BUG: arch topology borken".  Rehome only CPUs whose package goes along.
 */
static bool package_follows(unsigned int cpu)
{
	unsigned int sib;

	for_each_cpu(sib, topology_core_cpumask(cpu))
	{
		if (sib != cpu && cpu_online(sib) && node_wanted(sib) != node_wanted(cpu))
			return false;
	}
	return true;
}

/* Off and on again, without any of our locks: the online callback takes mir.lock. */
static void rehome_cpus(void)
{
	unsigned int cpu;
	int err;

	for_each_cpu(cpu, to_cpumask(mir.todo))
	{
		err = remove_cpu(cpu);
		if (!err)
			err = add_cpu(cpu);
		if (err)
			pr_warn_ratelimited("xpv_numa: rehoming CPU %u failed: %d\n", cpu, err);
		else
			set_bit(cpu, mir.rehomed);
	}
}

bool vnuma_mirror_apply(const struct vnuma_map *m, u16 *gnode_of_vcpu)
{
	u16 home[VIRTIO_NUMA_MAX_GNODES];
	unsigned int cpu;
	bool active;

	cpus_read_lock();
	mutex_lock(&mir.lock);
	bitmap_zero(mir.todo, nr_cpu_ids);
	if (!mirror || !nodes_are_1to1(m, home)) {
		if (mir.active)
			restore_locked();
	} else {
		mir.active = true;
		for_each_possible_cpu (cpu) {
			int node;

			/* CPUs without an entry, or on an unknown host node, keep their state */
			if (cpu >= m->nr_vcpus)
				continue;
			node = pick_node(m, home, m->vcpu[cpu].hnode);
			if (node == NUMA_NO_NODE)
				continue;
			mir.want[cpu] = node;
			if (!cpu_online(cpu) || cpu_to_node(cpu) == node)
				continue; /* an offline CPU gets it from vnuma_cpu_online() */
			move_cpu(cpu, node);
			if (rehome && cpu != 0)
				__set_bit(cpu, mir.todo);
		}
		for_each_cpu(cpu, to_cpumask(mir.todo))
		{
			if (!package_follows(cpu)) {
				pr_warn_ratelimited("xpv_numa: not rehoming CPU %u: its package "
						    "spans guest nodes\n",
						    cpu);
				__clear_bit(cpu, mir.todo);
			}
		}
	}
	active = mir.active;
	mutex_unlock(&mir.lock);
	cpus_read_unlock();

	if (rehome && !bitmap_empty(mir.todo, nr_cpu_ids))
		rehome_cpus();
	vnuma_mirror_nodes_of(gnode_of_vcpu, m->nr_vcpus);
	return active;
}

int vnuma_mirror_init(void)
{
	unsigned int cpu;
	int ret;

	BUILD_BUG_ON(VIRTIO_NUMA_MAX_GNODES > (1 << 16));
	mir.boot = kcalloc(nr_cpu_ids, sizeof(int), GFP_KERNEL);
	mir.want = kcalloc(nr_cpu_ids, sizeof(int), GFP_KERNEL);
	mir.rehomed = bitmap_zalloc(nr_cpu_ids, GFP_KERNEL);
	mir.todo = bitmap_zalloc(nr_cpu_ids, GFP_KERNEL);
	if (!mir.boot || !mir.want || !mir.rehomed || !mir.todo) {
		ret = -ENOMEM;
		goto err_free;
	}

	cpus_read_lock();
	mutex_lock(&mir.lock);
	for_each_possible_cpu (cpu) {
		mir.boot[cpu] = cpu_to_node(cpu);
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
	bitmap_free(mir.todo);
	bitmap_free(mir.rehomed);
	kfree(mir.want);
	kfree(mir.boot);
	mir.boot = mir.want = NULL;
	mir.rehomed = mir.todo = NULL;
	return ret;
}

void vnuma_mirror_exit(void)
{
	unsigned int cpu;

	cpus_read_lock();
	mutex_lock(&mir.lock);
	restore_locked();
	bitmap_zero(mir.todo, nr_cpu_ids);
	for_each_cpu(cpu, to_cpumask(mir.rehomed))
	{
		/* their vDSO node and sched domains still say where we put them */
		if (cpu_online(cpu))
			__set_bit(cpu, mir.todo);
	}
	bitmap_zero(mir.rehomed, nr_cpu_ids);
	mutex_unlock(&mir.lock);
	cpus_read_unlock();

	if (!bitmap_empty(mir.todo, nr_cpu_ids))
		rehome_cpus(); /* not active any more: bring-up keeps the SRAT node */

	if (mir.cpuhp_state >= 0)
		cpuhp_remove_state_nocalls(mir.cpuhp_state);
	mir.cpuhp_state = -1;
	bitmap_free(mir.todo);
	bitmap_free(mir.rehomed);
	kfree(mir.want);
	kfree(mir.boot);
	mir.boot = mir.want = NULL;
	mir.rehomed = mir.todo = NULL;
}
