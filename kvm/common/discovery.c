// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "discovery.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int discovery_parse_machine(const char *dirname, int *domid, char *name, size_t len)
{
	char buf[512];
	size_t n = 0, dl = strlen(dirname);
	const char *s = dirname;
	char *end;
	long id;

	if (dl > 8 && !strncmp(s, "machine-", 8) && !strcmp(s + dl - 6, ".scope")) {
		/* systemd unit name escaping: \xHH */
		for (s += 8; s < dirname + dl - 6 && n < sizeof(buf) - 1; s++) {
			unsigned c;

			if (s[0] == '\\' && s[1] == 'x' && sscanf(s + 2, "%2x", &c) == 1) {
				buf[n++] = (char)c;
				s += 3;
			} else {
				buf[n++] = *s;
			}
		}
	} else if (dl > 13 && !strcmp(s + dl - 13, ".libvirt-qemu") && dl - 13 < sizeof(buf)) {
		n = dl - 13;
		memcpy(buf, s, n);
	} else {
		return -1;
	}
	buf[n] = '\0';
	if (strncmp(buf, "qemu-", 5))
		return -1;
	errno = 0;
	id = strtol(buf + 5, &end, 10);
	if (errno || end == buf + 5 || *end != '-' || !end[1] || id < 0 || id > INT32_MAX)
		return -1;
	/* the name reaches paths, labels and logs: only what libvirt writes */
	if (!xpv_name_valid(end + 1) || strlen(end + 1) >= len)
		return -2;
	*domid = (int)id;
	snprintf(name, len, "%s", end + 1);
	return 0;
}

/* Say once per directory name that it was skipped (discovery runs every
 * period); a few remembered names are enough to keep the log readable. */
static void warn_invalid(const char *dirname)
{
	static char seen[8][256];
	static unsigned next;
	char *esc;

	for (unsigned i = 0; i < 8; i++)
		if (!strncmp(seen[i], dirname, sizeof(seen[i]) - 1))
			return;
	snprintf(seen[next++ % 8], sizeof(seen[0]), "%s", dirname);
	esc = xpv_log_escape(dirname);
	fprintf(stderr,
		"xpvd: discovery: `%s` looks like a QEMU domain but its name is not one libvirt "
		"writes ([A-Za-z0-9-_.+], 1-128): ignored\n",
		esc ? esc : "?");
	free(esc);
}

static int add_tids(const struct discovery *d, const char *dir, struct xpv_group *g, int depth,
		    struct xpv_error **err)
{
	cleanup_free char *path = NULL, *buf = NULL;
	DIR *dh;
	struct dirent *de;

	if (asprintf(&path, "%s/%s", dir, d->ops->threads_file) < 0)
		return xpv_error_set(err, ENOMEM, "%s", dir);
	if (xpv_read_file(path, &buf, err) < 0)
		return -1;
	for (char *l = buf; *l;) {
		char *end;
		long t = strtol(l, &end, 10);

		if (end == l)
			break;
		if (t > 0) {
			pid_t *nt = realloc(g->tids, (g->n_tids + 1) * sizeof(*nt));

			if (!nt)
				return xpv_error_set(err, ENOMEM, "%s", dir);
			g->tids = nt;
			g->tids[g->n_tids++] = (pid_t)t;
		}
		l = end;
		while (*l == '\n' || *l == ' ')
			l++;
	}
	if (depth <= 0)
		return 0;
	dh = opendir(dir);
	if (!dh)
		return 0;
	while ((de = readdir(dh))) {
		cleanup_free char *sub = NULL;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0)
			break;
		if (add_tids(d, sub, g, depth - 1, err) < 0) {
			/* A sub-group vanished while we looked: ignore. */
			xpv_error_free(err);
		}
	}
	closedir(dh);
	return 0;
}

static struct xpv_vm *new_vm(struct xpv_vm_list *l, const char *name, enum xpv_vm_kind kind,
			     int domid)
{
	struct xpv_vm *n = realloc(l->vms, (l->n + 1) * sizeof(*n));

	if (!n)
		return NULL;
	l->vms = n;
	n = &l->vms[l->n];
	memset(n, 0, sizeof(*n));
	n->name = strdup(name);
	if (!n->name)
		return NULL;
	n->kind = kind;
	n->domid = domid;
	l->n++;
	return n;
}

static struct xpv_group *new_group(struct xpv_vm *vm, const char *dir, int vcpu)
{
	struct xpv_group *g = realloc(vm->groups, (vm->n_groups + 1) * sizeof(*g));

	if (!g)
		return NULL;
	vm->groups = g;
	g = &vm->groups[vm->n_groups];
	memset(g, 0, sizeof(*g));
	g->dir = strdup(dir);
	if (!g->dir)
		return NULL;
	g->vcpu = vcpu;
	vm->n_groups++;
	return g;
}

static int cmp_group(const void *a, const void *b)
{
	return ((const struct xpv_group *)a)->vcpu - ((const struct xpv_group *)b)->vcpu;
}

/* dir holds vcpuK sub-directories (or a libvirt/ dir holding them). */
static int scan_domain(const struct discovery *d, struct xpv_vm_list *out, const char *dir,
		       int domid, const char *name, struct xpv_error **err)
{
	cleanup_free char *nested = NULL;
	struct xpv_vm *vm;
	struct dirent *de;
	DIR *dh;

	for (size_t i = 0; i < out->n; i++)
		if (out->vms[i].domid == domid && !strcmp(out->vms[i].name, name))
			return 0; /* one domain under two layouts: first wins */
	if (asprintf(&nested, "%s/libvirt", dir) < 0)
		return xpv_error_set(err, ENOMEM, "%s", dir);
	if (xpv_path_exists(nested))
		dir = nested;
	dh = opendir(dir);
	if (!dh)
		return 0;
	vm = new_vm(out, name, XPV_VM_LIBVIRT, domid);
	if (!vm) {
		closedir(dh);
		return xpv_error_set(err, ENOMEM, "%s", dir);
	}
	while ((de = readdir(dh))) {
		cleanup_free char *sub = NULL;
		struct xpv_group *g;
		char *end;
		long k;

		if (strncmp(de->d_name, "vcpu", 4))
			continue;
		k = strtol(de->d_name + 4, &end, 10);
		if (end == de->d_name + 4 || *end || k < 0)
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0 ||
		    !(g = new_group(vm, sub, (int)k))) {
			closedir(dh);
			return xpv_error_set(err, ENOMEM, "%s", dir);
		}
		if (add_tids(d, sub, g, 0, err) < 0)
			xpv_error_free(err); /* vCPU unplugged meanwhile */
	}
	closedir(dh);
	qsort(vm->groups, vm->n_groups, sizeof(*vm->groups), cmp_group);
	vm->nvcpus = vm->n_groups;
	return 0;
}

static int scan_machines(const struct discovery *d, struct xpv_vm_list *out, const char *parent,
			 struct xpv_error **err)
{
	cleanup_free char *pdir = NULL;
	struct dirent *de;
	DIR *dh;
	int ret = 0;

	if (asprintf(&pdir, "%s/%s", d->mount, parent) < 0)
		return xpv_error_set(err, ENOMEM, "%s", parent);
	dh = opendir(pdir);
	if (!dh)
		return 0;
	while ((de = readdir(dh)) && ret == 0) {
		cleanup_free char *dir = NULL;
		char name[256];
		int domid;

		int r = discovery_parse_machine(de->d_name, &domid, name, sizeof(name));

		if (r == -2)
			warn_invalid(de->d_name);
		if (r < 0)
			continue;
		if (asprintf(&dir, "%s/%s", pdir, de->d_name) < 0) {
			ret = xpv_error_set(err, ENOMEM, "%s", pdir);
			break;
		}
		ret = scan_domain(d, out, dir, domid, name, err);
	}
	closedir(dh);
	return ret;
}

int discovery_scan(const struct discovery *d, struct xpv_vm_list *out, struct xpv_error **err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < d->n_plain; i++) {
		cleanup_free char *dir = NULL;
		struct xpv_vm *vm;
		struct xpv_group *g;

		if (asprintf(&dir, "%s/%s", d->mount, d->plain[i].path) < 0)
			goto nomem;
		if (!xpv_path_exists(dir))
			continue; /* not there (yet): not a VM this period */
		vm = new_vm(out, d->plain[i].name, XPV_VM_PLAIN, -1);
		if (!vm || !(g = new_group(vm, dir, -1)))
			goto nomem;
		if (add_tids(d, dir, g, 4, err) < 0) {
			xpv_error_free(err);
			continue;
		}
		vm->nvcpus = g->n_tids ? g->n_tids : 1;
	}
	if (d->libvirt) {
		if (d->ops->version == 1 && scan_machines(d, out, "machine", err) < 0)
			goto fail;
		if (scan_machines(d, out, "machine.slice", err) < 0)
			goto fail;
	}
	return 0;
nomem:
	xpv_error_set(err, ENOMEM, "discovery");
fail:
	discovery_free(out);
	return -1;
}

void discovery_free(struct xpv_vm_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		for (size_t j = 0; j < l->vms[i].n_groups; j++) {
			free(l->vms[i].groups[j].dir);
			free(l->vms[i].groups[j].tids);
		}
		free(l->vms[i].groups);
		free(l->vms[i].name);
	}
	free(l->vms);
	memset(l, 0, sizeof(*l));
}

const struct xpv_vm *discovery_find(const struct xpv_vm_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->vms[i].name, name))
			return &l->vms[i];
	return NULL;
}
