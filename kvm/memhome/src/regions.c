// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numa-maps.h"
#include "regions.h"

struct mapping {
	struct mh_maps_entry m;
	struct mh_nm_entry nm;
	bool has_nm;
	bool taken;
};

static FILE *open_proc(const char *proc_root, int pid, const char *what, struct xpv_error **err,
		       int *rc)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/%s", proc_root, pid, what);
	f = fopen(path, "re");
	if (!f)
		*rc = xpv_error_set(err, errno == ENOENT ? ESRCH : errno, "reading `%s`", path);
	return f;
}

bool mh_pid_alive(const char *proc_root, int pid)
{
	char path[256], buf[512], *p;
	FILE *f;
	size_t n;
	int c;

	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return false;
	/* A process on its way out has dropped its mm before it is a zombie:
	 * its maps read empty (and move_pages says EINVAL). */
	snprintf(path, sizeof(path), "%s/%d/maps", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	c = fgetc(f);
	fclose(f);
	return c != EOF;
}

static int read_mappings(const char *proc_root, int pid, struct mapping **out, int *n,
			 struct xpv_error **err)
{
	struct mapping *v = NULL;
	int nr = 0, cap = 0, rc = 0;
	char *line = NULL;
	size_t lcap = 0;
	FILE *f;

	f = open_proc(proc_root, pid, "maps", err, &rc);
	if (!f)
		return rc;
	while (getline(&line, &lcap, f) > 0) {
		if (nr == cap) {
			struct mapping *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!nv) {
				rc = xpv_error_set(err, ENOMEM, "maps");
				goto out;
			}
			v = nv;
		}
		memset(&v[nr], 0, sizeof(v[nr]));
		if (mh_maps_parse_line(line, &v[nr].m)) {
			rc = xpv_error_set(err, EINVAL, "%s/%d/maps: unparsable line `%.80s`",
					   proc_root, pid, line);
			goto out;
		}
		nr++;
	}
	fclose(f);
	f = open_proc(proc_root, pid, "numa_maps", err, &rc);
	if (!f)
		goto out;
	/* Both files list VMAs in address order: merge by start address. */
	for (int i = 0; getline(&line, &lcap, f) > 0;) {
		struct mh_nm_entry e;

		if (mh_numa_maps_parse_line(line, &e)) {
			rc = xpv_error_set(err, EINVAL, "%s/%d/numa_maps: unparsable line `%.80s`",
					   proc_root, pid, line);
			goto out;
		}
		while (i < nr && v[i].m.start < e.start)
			i++;
		if (i < nr && v[i].m.start == e.start) {
			v[i].nm = e;
			v[i].has_nm = true;
		}
	}
out:
	if (f)
		fclose(f);
	free(line);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = nr;
	return 0;
}

static bool is_ram_candidate(const struct mapping *m, uint64_t min_size)
{
	const char *p = m->m.path;

	if (m->m.end - m->m.start < min_size || strncmp(m->m.perms, "rw", 2))
		return false;
	if (p[0] == '\0' || !strncmp(p, "/memfd:", 7) || !strncmp(p, "/dev/shm/", 9) ||
	    !strncmp(p, "/dev/hugepages", 14))
		return true;
	return m->has_nm && m->nm.huge;
}

static void fill_region(struct mh_region *r, const struct mapping *m)
{
	r->start = m->m.start;
	r->end = m->m.end;
	r->page_size = m->has_nm ? m->nm.kpagesize : 4096;
	r->hugetlb = m->has_nm && m->nm.huge;
	r->shared = m->m.path[0] != '\0';
	snprintf(r->policy, sizeof(r->policy), "%s", m->has_nm ? m->nm.policy : "?");
}

static int add_region(struct mh_region **v, int *n, struct xpv_error **err)
{
	struct mh_region *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return xpv_error_set(err, ENOMEM, "regions");
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	nv[*n].home = -1;
	(*n)++;
	return 0;
}

/*
 * The memdev's mapping: same size, and if several, the one whose VMA policy
 * matches. A backend with policy=default has no VMA policy, so numa_maps
 * shows the task's (numactl --membind=1 makes it "bind:1"): such memdevs are
 * matched last, among the mappings the others did not take.
 */
static int match_memdev(struct mapping *maps, int nr, const struct mh_memdev *md,
			struct xpv_error **err)
{
	int found = -1, nfound = 0, pfound = -1, npfound = 0;
	bool dflt = !strcmp(md->policy, "default");
	char want[32];

	snprintf(want, sizeof(want),
		 "%s:", !strcmp(md->policy, "preferred") ? "prefer" : md->policy);
	for (int i = 0; i < nr; i++) {
		const char *pol = maps[i].has_nm ? maps[i].nm.policy : "";

		if (maps[i].taken || maps[i].m.end - maps[i].m.start != md->size ||
		    strncmp(maps[i].m.perms, "rw", 2))
			continue;
		if (nfound++ == 0)
			found = i;
		if (dflt ? strcmp(pol, "default") : strncmp(pol, want, strlen(want)))
			continue;
		if (npfound++ == 0)
			pfound = i;
		if (!dflt && mh_policy_home_node(pol) == mh_memdev_home(md)) {
			pfound = i;
			npfound = 1;
			break;
		}
	}
	if (npfound == 1 || (npfound > 1 && !dflt))
		return pfound;
	if (nfound == 1)
		return found;
	if (nfound == 0)
		return xpv_error_set(err, ENOENT,
				     "memdev `%s`: no mapping of %" PRIu64 " bytes in the process",
				     md->id, md->size);
	return xpv_error_set(err, EEXIST,
			     "memdev `%s`: %d mappings of %" PRIu64
			     " bytes and no way to tell them apart; give its range with --region",
			     md->id, nfound, md->size);
}

static const struct mh_region_spec *spec_for_memdev(const struct mh_vm_opts *o, const char *id)
{
	for (int i = 0; i < o->nr_specs; i++)
		if (o->specs[i].memdev[0] && !strcmp(o->specs[i].memdev, id))
			return &o->specs[i];
	return NULL;
}

int mh_regions_discover(const struct mh_vm_opts *o, const struct mh_memdev *memdevs, int nr_memdevs,
			struct mh_region **out, int *n, struct xpv_error **err)
{
	struct mapping *maps = NULL;
	struct mh_region *v = NULL;
	int nr_maps = 0, nr = 0, rc;

	rc = read_mappings(o->proc_root, o->pid, &maps, &nr_maps, err);
	if (rc)
		return rc;
	/* explicit ranges */
	for (int i = 0; i < o->nr_specs; i++) {
		const struct mh_region_spec *s = &o->specs[i];
		struct mh_region *r = NULL;
		bool inside = false;

		if (s->memdev[0])
			continue;
		for (int k = 0; k < nr_maps; k++) {
			if (maps[k].m.start <= s->start && s->start < maps[k].m.end) {
				inside = true;
				rc = add_region(&v, &nr, err);
				if (rc)
					goto out;
				r = &v[nr - 1];
				fill_region(r, &maps[k]);
				maps[k].taken = true;
				break;
			}
		}
		if (!inside) {
			rc = xpv_error_set(err, ENOENT,
					   "region 0x%" PRIx64 "-0x%" PRIx64
					   ": not mapped in pid %d",
					   s->start, s->end, o->pid);
			goto out;
		}
		r->start = s->start;
		r->end = s->end;
		r->home = s->home;
		r->home_src = MH_HOME_CONFIG;
		snprintf(r->name, sizeof(r->name), "range@0x%" PRIx64, s->start);
	}
	for (int i = 0; i < o->nr_specs; i++) {
		bool known = false;

		if (!o->specs[i].memdev[0])
			continue;
		for (int k = 0; k < nr_memdevs; k++)
			known |= !strcmp(memdevs[k].id, o->specs[i].memdev);
		if (!known) {
			rc = xpv_error_set(err, ENOENT, "memdev `%s`: %s", o->specs[i].memdev,
					   memdevs ? "not reported by query-memdev"
						   : "needs a QMP socket (--qmp)");
			goto out;
		}
	}
	/* bound/preferred/interleaved backends first: their VMA policy names them */
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < nr_memdevs; k++) {
			const struct mh_memdev *md = &memdevs[k];
			const struct mh_region_spec *s = spec_for_memdev(o, md->id);
			struct mh_region *r;
			int idx;

			if ((pass == 0) != !!strcmp(md->policy, "default"))
				continue;
			idx = match_memdev(maps, nr_maps, md, err);
			if (idx < 0) {
				rc = idx;
				goto out;
			}
			rc = add_region(&v, &nr, err);
			if (rc)
				goto out;
			r = &v[nr - 1];
			maps[idx].taken = true;
			fill_region(r, &maps[idx]);
			snprintf(r->name, sizeof(r->name), "%s", md->id[0] ? md->id : "memdev");
			if (s) {
				r->home = s->home;
				r->home_src = MH_HOME_CONFIG;
			} else if (mh_memdev_home(md) >= 0 && strcmp(md->policy, "interleave")) {
				r->home = mh_memdev_home(md);
				r->home_src = MH_HOME_MEMDEV;
			} else if (o->default_home >= 0) {
				r->home = o->default_home;
				r->home_src = MH_HOME_DEFAULT;
			}
		}
	if (o->auto_detect && !memdevs) {
		for (int k = 0; k < nr_maps; k++) {
			struct mh_region *r;
			int h;

			if (maps[k].taken || !is_ram_candidate(&maps[k], o->min_region_size))
				continue;
			rc = add_region(&v, &nr, err);
			if (rc)
				goto out;
			r = &v[nr - 1];
			fill_region(r, &maps[k]);
			snprintf(r->name, sizeof(r->name), "%s@0x%" PRIx64,
				 maps[k].m.path[0] ? "shared" : "anon", maps[k].m.start);
			h = mh_policy_home_node(r->policy);
			if (h >= 0) {
				r->home = h;
				r->home_src = MH_HOME_NUMA_MAPS;
			} else if (o->default_home >= 0) {
				r->home = o->default_home;
				r->home_src = MH_HOME_DEFAULT;
			}
		}
	}
	*out = v;
	*n = nr;
	v = NULL;
out:
	free(maps);
	free(v);
	return rc;
}

/* VMA bounds from /proc/PID/maps: numa_maps lines carry only the start. */
static int read_bounds(const char *proc_root, int pid, uint64_t **out, int *n,
		       struct xpv_error **err)
{
	uint64_t *v = NULL;
	int nr = 0, cap = 0, rc = 0;
	char *line = NULL;
	size_t lcap = 0;
	FILE *f = open_proc(proc_root, pid, "maps", err, &rc);

	if (!f)
		return rc;
	while (getline(&line, &lcap, f) > 0) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		if (nr == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 256) * 2 * sizeof(*v));

			if (!nv) {
				rc = xpv_error_set(err, ENOMEM, "maps");
				break;
			}
			v = nv;
		}
		v[2 * nr] = s;
		v[2 * nr + 1] = e;
		nr++;
	}
	fclose(f);
	free(line);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = nr;
	return 0;
}

int mh_regions_measure(const char *proc_root, int pid, struct mh_region *r, int n,
		       struct xpv_error **err)
{
	char *line = NULL;
	size_t lcap = 0;
	uint64_t *bounds = NULL;
	int rc = 0, lines = 0, nb = 0, bi = 0;
	FILE *f;

	for (int i = 0; i < n; i++) {
		memset(r[i].node_bytes, 0, sizeof(r[i].node_bytes));
		r[i].other_node_bytes = r[i].resident_bytes = r[i].remote_bytes = 0;
	}
	rc = read_bounds(proc_root, pid, &bounds, &nb, err);
	if (rc)
		return rc;
	f = open_proc(proc_root, pid, "numa_maps", err, &rc);
	if (!f) {
		free(bounds);
		return rc;
	}
	while (getline(&line, &lcap, f) > 0) {
		struct mh_nm_entry e;
		uint64_t vend;

		lines++;
		if (mh_numa_maps_parse_line(line, &e)) {
			rc = xpv_error_set(err, EINVAL, "%s/%d/numa_maps: unparsable line `%.80s`",
					   proc_root, pid, line);
			break;
		}
		while (bi < nb && bounds[2 * bi] < e.start)
			bi++;
		/* the map changed between the two reads: take the VMA as one page */
		vend = bi < nb && bounds[2 * bi] == e.start ? bounds[2 * bi + 1] : e.start + 1;
		for (int i = 0; i < n; i++) {
			/* numa_maps counts whole VMAs: a VMA that overlaps a region counts
			 * for it entirely; exact sub-VMA numbers need the move_pages pass */
			if (vend <= r[i].start || e.start >= r[i].end)
				continue;
			for (int k = 0; k < MH_NM_MAX_NODES && k < MH_MAX_NODES; k++) {
				uint64_t b = e.node_pages[k] * e.kpagesize;

				r[i].node_bytes[k] += b;
				r[i].resident_bytes += b;
			}
			r[i].other_node_bytes += e.other_node_pages * e.kpagesize;
			r[i].resident_bytes += e.other_node_pages * e.kpagesize;
			snprintf(r[i].policy, sizeof(r[i].policy), "%s", e.policy);
		}
	}
	fclose(f);
	free(line);
	free(bounds);
	if (rc)
		return rc;
	/* A zombie's numa_maps reads empty: its memory is gone. */
	if (lines == 0 && !mh_pid_alive(proc_root, pid))
		return xpv_error_set(err, ESRCH, "process %d exited", pid);
	for (int i = 0; i < n; i++) {
		if (r[i].home >= 0 && r[i].home < MH_MAX_NODES)
			r[i].remote_bytes = r[i].resident_bytes - r[i].node_bytes[r[i].home];
	}
	return 0;
}
