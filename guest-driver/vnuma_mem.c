// SPDX-License-Identifier: GPL-2.0-only
/*
 * Counted allocations.  Every allocation the driver makes itself goes
 * through these helpers, so the module can say at unload how many it made
 * and how many it freed: a leak check that looks at this module only and
 * cannot be confused by what other modules allocate (tests/suites/
 * 60-e2e-driver-fake reads the line vnuma_mem_report() logs).
 */
#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "vnuma.h"

static atomic_long_t vnuma_nr_allocs = ATOMIC_LONG_INIT(0);
static atomic_long_t vnuma_nr_frees = ATOMIC_LONG_INIT(0);

void *vnuma_kvzalloc(size_t size)
{
	void *p = kvzalloc(size, GFP_KERNEL);

	if (p)
		atomic_long_inc(&vnuma_nr_allocs);
	return p;
}

void vnuma_kvfree(const void *p)
{
	if (!p)
		return;
	atomic_long_inc(&vnuma_nr_frees);
	kvfree(p);
}

void *vnuma_vmalloc_user(size_t size)
{
	void *p = vmalloc_user(size);

	if (p)
		atomic_long_inc(&vnuma_nr_allocs);
	return p;
}

void vnuma_vfree(const void *p)
{
	if (!p)
		return;
	atomic_long_inc(&vnuma_nr_frees);
	vfree(p);
}

/* Called last at module exit, when nothing of the driver can run any more. */
void vnuma_mem_report(void)
{
	long a = atomic_long_read(&vnuma_nr_allocs), f = atomic_long_read(&vnuma_nr_frees);

	if (a != f)
		pr_err("virtio_numa: unloaded with %ld allocations outstanding (%ld allocations, "
		       "%ld frees)\n",
		       a - f, a, f);
	else
		pr_info("virtio_numa: unloaded, 0 allocations outstanding (%ld allocations, %ld "
			"frees)\n",
			a, f);
}
