// SPDX-License-Identifier: BSD-3-Clause
/*
 * The fallback: with no device, describe this machine's static topology from
 * sysfs in the page format, so every lookup runs the same code. Each node is
 * its own "host node" and guest node (bare metal: memory of node N is on node
 * N), the version is 0, and the seq stays 0 forever.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NODE_DIR "/devices/system/node"

struct topo {
	unsigned int nr; /* nodes found */
	unsigned int id[XPV_MAX_NODES]; /* sorted node ids */
	unsigned short cpu_node[XPV_MAX_CPUS]; /* node id + 1, 0 = none */
	unsigned int nr_cpus; /* highest CPU + 1 */
	uint8_t dist[XPV_MAX_NODES * XPV_MAX_NODES];
	uint64_t mem[XPV_MAX_NODES];
};

static char *read_text(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "re");
	size_t len;

	if (!f)
		return NULL;
	len = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[len] = 0;
	return buf;
}

/* "0-3,8\n" -> cpu_node[] = node + 1 */
static int parse_cpulist(struct topo *t, const char *path, const char *s, unsigned int node)
{
	while (*s && *s != '\n') {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s)
			goto bad;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				goto bad;
		}
		if (b >= XPV_MAX_CPUS) {
			pr_warn("%s: CPU %lu >= %u\n", path, b, XPV_MAX_CPUS);
			return -E2BIG;
		}
		for (; a <= b; a++) {
			if (t->cpu_node[a]) {
				pr_warn("%s: CPU %lu is in two nodes\n", path, a);
				return -EINVAL;
			}
			t->cpu_node[a] = node + 1;
			if (a + 1 > t->nr_cpus)
				t->nr_cpus = a + 1;
		}
		s = end;
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			goto bad;
	}
	return 0;
bad:
	pr_warn("%s: malformed cpulist near '%.20s'\n", path, s);
	return -EINVAL;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static int find_nodes(struct topo *t, const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		unsigned int id;
		char tail;

		if (sscanf(de->d_name, "node%u%c", &id, &tail) != 1)
			continue;
		if (id >= XPV_MAX_NODES || t->nr == XPV_MAX_NODES) {
			pr_warn("%s: node%u: only nodes 0..%u are supported\n", dir, id,
				XPV_MAX_NODES - 1);
			closedir(d);
			return -E2BIG;
		}
		t->id[t->nr++] = id;
	}
	closedir(d);
	qsort(t->id, t->nr, sizeof(t->id[0]), cmp_uint);
	return 0;
}

static int read_node(struct topo *t, const char *dir, unsigned int i)
{
	char path[4096 + 64], buf[8192], *p;
	unsigned int j, id = t->id[i];
	int err;

	snprintf(path, sizeof(path), "%s/node%u/cpulist", dir, id);
	if (!read_text(path, buf, sizeof(buf))) {
		pr_warn("%s: %s\n", path, strerror(errno));
		return -errno;
	}
	err = parse_cpulist(t, path, buf, id);
	if (err)
		return err;

	/* Row of distances to every node in id order; without the file
	 * assume the kernel's defaults (10 local, 20 remote). */
	snprintf(path, sizeof(path), "%s/node%u/distance", dir, id);
	p = read_text(path, buf, sizeof(buf));
	for (j = 0; j < t->nr; j++) {
		unsigned long d = i == j ? 10 : 20;

		if (p) {
			char *end;

			d = strtoul(p, &end, 10);
			if (end == p || (i == j ? d != 10 : d <= 10 || d > 255)) {
				pr_warn("%s: distance %u of %u missing or out "
					"of range\n",
					path, j + 1, t->nr);
				return -EINVAL;
			}
			p = end;
		}
		t->dist[i * t->nr + j] = d;
	}

	snprintf(path, sizeof(path), "%s/node%u/meminfo", dir, id);
	if (read_text(path, buf, sizeof(buf)) && (p = strstr(buf, "MemTotal:"))) {
		unsigned long long kb = strtoull(p + 9, NULL, 10);

		t->mem[i] = kb * 1024;
	}
	return 0;
}

/* A kernel without NUMA has no node directory: one node 0 with every CPU. */
static int no_numa(struct topo *t, const char *root)
{
	char path[4096], buf[8192];

	snprintf(path, sizeof(path), "%s/devices/system/cpu/online", root);
	if (!read_text(path, buf, sizeof(buf))) {
		pr_warn("fallback: neither %s%s nor %s: %s\n", root, NODE_DIR, path,
			strerror(errno));
		return -ENOENT;
	}
	t->nr = 1;
	t->id[0] = 0;
	t->dist[0] = 10;
	return parse_cpulist(t, path, buf, 0);
}

static void build_page(const struct topo *t, void *buf)
{
	struct xpv_page_hdr *h = buf;
	unsigned int nh = t->nr, ng = t->id[nh - 1] + 1, i, c;
	unsigned int stride = sizeof(struct xpv_page_gnode) + 8 * nh;
	uint32_t off = (sizeof(*h) + 7) & ~7u;
	__u16 *ids;

	h->magic = XPV_PAGE_MAGIC;
	h->abi = XPV_PAGE_ABI;
	h->hdr_len = sizeof(*h);
	h->flags = XPV_SNAP_F_FALLBACK;
	h->nr_hnodes = nh;
	h->nr_gnodes = ng;
	h->nr_vcpus = t->nr_cpus;
	h->gnode_stride = stride;
	h->off_hnode_ids = off;
	off = (off + 2 * nh + 7) & ~7u;
	h->off_dist = off;
	off = (off + nh * nh + 7) & ~7u;
	h->off_gnodes = off;
	off += stride * ng;
	h->off_vcpus = off;

	ids = (__u16 *)((char *)buf + h->off_hnode_ids);
	for (i = 0; i < nh; i++)
		ids[i] = t->id[i];
	memcpy((char *)buf + h->off_dist, t->dist, nh * nh);
	for (i = 0; i < ng; i++) {
		struct xpv_page_gnode *g = (void *)((char *)buf + h->off_gnodes + stride * i);

		g->home = VIRTIO_NUMA_NO_NODE;
	}
	for (i = 0; i < nh; i++) {
		struct xpv_page_gnode *g =
			(void *)((char *)buf + h->off_gnodes + stride * t->id[i]);

		g->home = i;
		g->size_bytes = t->mem[i];
		g->bytes_on[i] = t->mem[i];
	}
	for (c = 0; c < t->nr_cpus; c++) {
		struct xpv_page_vcpu *v = (struct xpv_page_vcpu *)((char *)buf + h->off_vcpus) + c;
		unsigned int node = t->cpu_node[c];

		v->hnode = v->gnode = VIRTIO_NUMA_NO_NODE;
		v->host_cpu = VIRTIO_NUMA_NO_CPU;
		if (!node--)
			continue;
		for (i = 0; t->id[i] != node; i++)
			;
		v->hnode = i;
		v->gnode = node;
		v->host_cpu = c;
	}
}

int xpv_sysfs_page(const char *root, void *buf)
{
	struct topo *t = calloc(1, sizeof(*t));
	char dir[4096];
	unsigned int i;
	int err;

	if (!t)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s%s", root, NODE_DIR);
	err = find_nodes(t, dir);
	if (err == -ENOENT) {
		err = no_numa(t, root);
	} else if (!err && !t->nr) {
		pr_warn("fallback: no node* under %s\n", dir);
		err = -ENOENT;
	} else {
		for (i = 0; !err && i < t->nr; i++)
			err = read_node(t, dir, i);
	}
	if (!err && !t->nr_cpus) {
		pr_warn("fallback: no CPU in any node under %s\n", dir);
		err = -ENOENT;
	}
	if (!err)
		build_page(t, buf);
	free(t);
	return err;
}
