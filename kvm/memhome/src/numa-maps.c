// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numa-maps.h"

static int parse_u64(const char *s, size_t len, int base, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long v;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] == '-' || buf[0] == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void copy_field(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static int parse_token(struct mh_nm_entry *e, const char *tok, size_t len)
{
	const char *eq = memchr(tok, '=', len);
	size_t klen;
	const char *val;
	size_t vlen;
	uint64_t v;

	if (!eq) {
		if (len == 4 && !memcmp(tok, "heap", 4))
			e->heap = true;
		else if (len == 5 && !memcmp(tok, "stack", 5))
			e->stack = true;
		else if (len == 4 && !memcmp(tok, "huge", 4))
			e->huge = true;
		/* other flag words are ignored: the format grows */
		return 0;
	}
	klen = eq - tok;
	val = eq + 1;
	vlen = len - klen - 1;
	if (klen == 4 && !memcmp(tok, "file", 4)) {
		copy_field(e->file, sizeof(e->file), val, vlen);
		return 0;
	}
	if (klen >= 2 && tok[0] == 'N' && tok[1] >= '0' && tok[1] <= '9') {
		uint64_t node;

		if (parse_u64(tok + 1, klen - 1, 10, &node) || parse_u64(val, vlen, 10, &v))
			return -EINVAL;
		if (node < MH_NM_MAX_NODES)
			e->node_pages[node] += v;
		else
			e->other_node_pages += v;
		return 0;
	}
	if (parse_u64(val, vlen, 10, &v))
		return 0; /* unknown non-numeric key: ignore */
	if (klen == 4 && !memcmp(tok, "anon", 4)) {
		e->anon = true;
		e->anon_pages = v;
	} else if (klen == 5 && !memcmp(tok, "dirty", 5)) {
		e->dirty_pages = v;
	} else if (klen == 6 && !memcmp(tok, "mapped", 6)) {
		e->mapped_pages = v;
	} else if (klen == 17 && !memcmp(tok, "kernelpagesize_kB", 17)) {
		if (v == 0 || v > (1u << 30))
			return -EINVAL;
		e->kpagesize = v * 1024;
	}
	return 0;
}

int mh_numa_maps_parse_line(const char *line, struct mh_nm_entry *e)
{
	const char *p = line, *tok;
	size_t len;
	int i = 0;

	memset(e, 0, sizeof(*e));
	e->kpagesize = 4096;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		tok = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		len = p - tok;
		if (i == 0) {
			if (parse_u64(tok, len, 16, &e->start))
				return -EINVAL;
		} else if (i == 1) {
			if (len >= sizeof(e->policy) || memchr(tok, '=', len))
				return -EINVAL;
			copy_field(e->policy, sizeof(e->policy), tok, len);
		} else if (parse_token(e, tok, len)) {
			return -EINVAL;
		}
		i++;
	}
	return i >= 2 ? 0 : -EINVAL;
}

int mh_policy_home_node(const char *policy)
{
	const char *colon = strchr(policy, ':');
	char *end;
	long n;

	if (!colon)
		return -1;
	if (strncmp(policy, "bind", 4) && strncmp(policy, "prefer", 6))
		return -1;
	errno = 0;
	n = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || n < 0 || n > 65535)
		return -1;
	return (int)n;
}

int mh_maps_parse_line(const char *line, struct mh_maps_entry *e)
{
	unsigned long long start, end, off;
	unsigned long inode;
	char perms[5];
	int n = 0;
	const char *path;
	size_t len;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%llx-%llx %4s %llx %*s %lu%n", &start, &end, perms, &off, &inode, &n) < 5)
		return -EINVAL;
	if (end < start)
		return -EINVAL;
	e->start = start;
	e->end = end;
	memcpy(e->perms, perms, sizeof(perms));
	e->offset = off;
	e->inode = inode;
	path = line + n;
	while (*path == ' ' || *path == '\t')
		path++;
	len = strcspn(path, "\n");
	copy_field(e->path, sizeof(e->path), path, len);
	return 0;
}
