// SPDX-License-Identifier: BSD-3-Clause
/*
 * xpv-mkpage SPEC PAGE: write a /dev/xpv_numa page described in text into
 * the file PAGE (created at 64 KiB, or rewritten in place with the seqcount
 * protocol, so a process that has it mapped sees a clean update and a waiter
 * is woken). For fixtures and benchmarks. SPEC lines:
 *   version N | flags mirrored|N | updates N | rejects N
 *   hnode ID distances D0,D1,...        (declaration order = index)
 *   gnode G home ID|none [bound] [majority] size B unplaced B [on ID:B,...]
 *   vcpu C node G|none hnode ID|none hcpu N|none
 *   raw hdr_len|gnode_stride|off_hnode_ids|off_dist|off_gnodes|off_vcpus|
 *       nr_hnodes|nr_gnodes|nr_vcpus N    (after the tables: corrupt layout)
 * Byte counts take K, M, G suffixes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakepage.h"

static const char *spec_name;
static int lineno;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "xpv-mkpage: %s:%d: ", spec_name, lineno);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v;

	if (!s)
		die("missing number%s", "");
	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s || errno)
		die("bad number '%s'", s);
	switch (*end) {
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end && *end != ':' && *end != ',')
		die("bad number '%s'", s);
	return v;
}

static int hindex(const struct fp_desc *d, const char *s)
{
	unsigned long long id = num(s);
	unsigned int i;

	for (i = 0; i < d->nr_hnodes; i++)
		if (d->hnode_id[i] == id)
			return i;
	die("unknown host node '%s' (declare hnode first)", s);
	return -1;
}

static uint16_t hopt(const struct fp_desc *d, const char *s)
{
	if (s && !strcmp(s, "none"))
		return VIRTIO_NUMA_NO_NODE;
	return hindex(d, s);
}

int main(int argc, char **argv)
{
	static struct fp_desc d;
	char line[4096];
	FILE *f;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: xpv-mkpage SPEC PAGE\n");
		return 2;
	}
	spec_name = argv[1];
	f = strcmp(argv[1], "-") ? fopen(argv[1], "re") : stdin;
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	for (unsigned int g = 0; g < VIRTIO_NUMA_MAX_GNODES; g++)
		d.gnode[g].home = VIRTIO_NUMA_NO_NODE;
	for (unsigned int c = 0; c < VIRTIO_NUMA_MAX_VCPUS; c++)
		d.vcpu[c] = (struct fp_vcpu){VIRTIO_NUMA_NO_NODE, VIRTIO_NUMA_NO_NODE,
					     VIRTIO_NUMA_NO_CPU};
	int laid_out = 0;
	while (fgets(line, sizeof(line), f)) {
		char *tok[64], *save, *p;
		int n = 0;

		lineno++;
		if ((p = strchr(line, '#')))
			*p = 0;
		for (p = strtok_r(line, " \t\n", &save); p && n < 63;
		     p = strtok_r(NULL, " \t\n", &save))
			tok[n++] = p;
		tok[n] = NULL;
		if (!n)
			continue;
		if (!strcmp(tok[0], "version")) {
			d.version = num(tok[1]);
		} else if (!strcmp(tok[0], "updates")) {
			d.updates = num(tok[1]);
		} else if (!strcmp(tok[0], "rejects")) {
			d.rejects = num(tok[1]);
		} else if (!strcmp(tok[0], "flags")) {
			d.flags = tok[1] && !strcmp(tok[1], "mirrored") ? XPV_PAGE_F_MIRRORED
									: num(tok[1]);
		} else if (!strcmp(tok[0], "hnode")) {
			unsigned int i = d.nr_hnodes++, j = 0;

			if (i >= VIRTIO_NUMA_MAX_HNODES)
				die("too many host nodes%s", "");
			d.hnode_id[i] = num(tok[1]);
			if (n < 4 || strcmp(tok[2], "distances"))
				die("want 'hnode ID distances D,...'%s", "");
			for (p = tok[3]; p; p = strchr(p, ','), p = p ? p + 1 : p)
				d.dist[i * VIRTIO_NUMA_MAX_HNODES + j++] = num(p);
		} else if (!strcmp(tok[0], "gnode")) {
			unsigned long long g = num(tok[1]);
			struct fp_gnode *gn;

			if (g >= VIRTIO_NUMA_MAX_GNODES)
				die("guest node '%s' too large", tok[1]);
			gn = &d.gnode[g];
			if (g + 1 > d.nr_gnodes)
				d.nr_gnodes = g + 1;
			for (int i = 2; i < n; i++) {
				if (!strcmp(tok[i], "home"))
					gn->home = hopt(&d, tok[++i]);
				else if (!strcmp(tok[i], "bound"))
					gn->flags |= VIRTIO_NUMA_GNODE_F_BOUND;
				else if (!strcmp(tok[i], "majority"))
					gn->flags |= VIRTIO_NUMA_GNODE_F_MAJORITY;
				else if (!strcmp(tok[i], "size"))
					gn->size = num(tok[++i]);
				else if (!strcmp(tok[i], "unplaced"))
					gn->unplaced = num(tok[++i]);
				else if (!strcmp(tok[i], "on") && tok[i + 1])
					for (p = tok[++i]; p;
					     p = strchr(p, ','), p = p ? p + 1 : p) {
						char *c = strchr(p, ':');

						if (!c)
							die("want ID:BYTES in '%s'", p);
						gn->bytes_on[hindex(&d, p)] = num(c + 1);
					}
				else
					die("unknown gnode key '%s'", tok[i]);
			}
		} else if (!strcmp(tok[0], "vcpu")) {
			unsigned long long c = num(tok[1]);

			if (c >= VIRTIO_NUMA_MAX_VCPUS)
				die("vcpu '%s' too large", tok[1]);
			if (c + 1 > d.nr_vcpus)
				d.nr_vcpus = c + 1;
			for (int i = 2; i + 1 < n; i += 2) {
				const char *v = tok[i + 1];
				int none = !strcmp(v, "none");

				if (!strcmp(tok[i], "node"))
					d.vcpu[c].gnode = none ? VIRTIO_NUMA_NO_NODE : num(v);
				else if (!strcmp(tok[i], "hnode"))
					d.vcpu[c].hnode = hopt(&d, v);
				else if (!strcmp(tok[i], "hcpu"))
					d.vcpu[c].host_cpu = none ? VIRTIO_NUMA_NO_CPU : num(v);
				else
					die("unknown vcpu key '%s'", tok[i]);
			}
		} else if (!strcmp(tok[0], "raw")) {
			unsigned long long v = num(tok[2]);

			if (!laid_out++)
				fp_layout(&d);
#define RAW(f) else if (!strcmp(tok[1], #f)) d.f = v
			if (0)
				;
			RAW(hdr_len);
			RAW(gnode_stride);
			RAW(off_hnode_ids);
			RAW(off_dist);
			RAW(off_gnodes);
			RAW(off_vcpus);
			RAW(nr_hnodes);
			RAW(nr_gnodes);
			RAW(nr_vcpus);
			else die("unknown raw field '%s'", tok[1]);
		} else {
			die("unknown statement '%s'", tok[0]);
		}
	}
	if (f != stdin)
		fclose(f);
	/* the distance rows were parsed with the maximal row length */
	if (!laid_out) {
		fp_layout(&d);
	}
	{
		static uint8_t dist[sizeof(d.dist)];
		unsigned int nh = d.nr_hnodes;

		for (unsigned int i = 0; i < nh && nh <= VIRTIO_NUMA_MAX_HNODES; i++)
			for (unsigned int j = 0; j < nh; j++)
				dist[i * nh + j] = d.dist[i * VIRTIO_NUMA_MAX_HNODES + j];
		memcpy(d.dist, dist, sizeof(dist));
	}
	err = fp_write_file(argv[2], &d);
	if (err) {
		fprintf(stderr, "xpv-mkpage: %s: %s\n", argv[2], strerror(-err));
		return 1;
	}
	return 0;
}
