/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The xpvctl protocol: one request line over a UNIX stream socket,
 * whitespace-separated words ("permit set vm1 250\n"), one reply line of
 * JSON: {"ok":true,"result":...} or {"ok":false,"error":"..."}; then the
 * server closes the connection.
 */
#ifndef XPV_CTL_H
#define XPV_CTL_H

#include <jansson.h>

#include "error.h"

#define CTL_MAX_LINE 4096
#define CTL_MAX_ARGS 16

typedef int (*ctl_fn)(void *data, int argc, char **argv, json_t **reply, struct xpv_error **err);

int ctl_listen(const char *path, struct xpv_error **err);
/* The reply line (malloc'd, '\n'-terminated, not NUL-terminated) for one
 * request as read from a client: the first line is dispatched to fn; an
 * over-long request, a NUL byte or control characters get an error reply. */
char *ctl_handle(char *req, size_t len, ctl_fn fn, void *data, size_t *reply_len);
/* Split a request line in place; returns argc or -1 (too many words,
 * control characters). */
int ctl_split(char *line, char **argv, int max);
/* Build the reply line for a dispatch result (caller frees). */
char *ctl_reply(int ret, json_t *result, struct xpv_error *err);

#endif
