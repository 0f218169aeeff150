/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers for /proc/PID/numa_maps and /proc/PID/maps lines. Pure: they read a
 * string and fill a struct, so they are tested on fixtures.
 */
#ifndef MEMHOME_NUMA_MAPS_H
#define MEMHOME_NUMA_MAPS_H

#include <stdbool.h>
#include <stdint.h>

#define MH_NM_MAX_NODES 64

struct mh_nm_entry {
	uint64_t start;
	char policy[32]; /* "default", "bind:0", "prefer:1", "interleave:0-1" ... */
	char file[256]; /* file= value, empty if none */
	bool anon, heap, stack, huge;
	uint64_t anon_pages, dirty_pages, mapped_pages;
	uint64_t node_pages[MH_NM_MAX_NODES]; /* N<n>= by node id */
	uint64_t other_node_pages; /* N<n>= with n >= MH_NM_MAX_NODES */
	uint64_t kpagesize; /* bytes; 4096 if the field is missing */
};

/* Returns 0, or -EINVAL on a malformed line. */
int mh_numa_maps_parse_line(const char *line, struct mh_nm_entry *e);

/* First node of a "bind:0-1"/"prefer:1"/"preferred-many:..." policy, or -1. */
int mh_policy_home_node(const char *policy);

struct mh_maps_entry {
	uint64_t start, end;
	char perms[5];
	uint64_t offset;
	unsigned long inode;
	char path[256]; /* empty for anonymous */
};

int mh_maps_parse_line(const char *line, struct mh_maps_entry *e);

#endif
