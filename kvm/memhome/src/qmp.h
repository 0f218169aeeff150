/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal synchronous QMP client (jansson) and parsers for its answers. */
#ifndef MEMHOME_QMP_H
#define MEMHOME_QMP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "error.h"

struct mh_qmp;

/* Connects, reads the greeting and negotiates capabilities.  timeout_ms
 * bounds the whole open and then each command, however the monitor
 * trickles its bytes: ETIMEDOUT past it (qmp.c). */
int mh_qmp_open(const char *path, int timeout_ms, struct mh_qmp **out, struct xpv_error **err);
void mh_qmp_close(struct mh_qmp *q);
/* Runs a command; *ret gets a new reference to "return". Events are skipped. */
int mh_qmp_execute(struct mh_qmp *q, const char *cmd, json_t *args, json_t **ret,
		   struct xpv_error **err);

struct mh_memdev {
	char id[64];
	uint64_t size;
	bool merge, share, prealloc;
	char policy[16]; /* default|preferred|bind|interleave */
	uint64_t host_nodes; /* bitmask of nodes < 64 */
};

/* Parses the "return" of query-memdev. *out is malloc'd. Validates every field. */
int mh_memdev_parse(json_t *ret, struct mh_memdev **out, int *n, struct xpv_error **err);
/* First node of the host-nodes mask, -1 if empty. */
int mh_memdev_home(const struct mh_memdev *m);

#endif
