/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus text exposition (format 0.0.4) over HTTP/1.0 on a loopback
 * TCP port ("127.0.0.1:9477") or a UNIX socket ("unix:/run/xpvd/metrics.sock";
 * curl --unix-socket PATH http://x/metrics).
 */
#ifndef XPV_METRICS_H
#define XPV_METRICS_H

#include <stdio.h>

#include "error.h"

typedef void (*metrics_fn)(void *data, FILE *out);

int metrics_listen(const char *spec, struct xpv_error **err);
/* The whole HTTP/1.0 response (malloc'd) to a request head; served by
 * xpvd's non-blocking server (core/server.c). */
char *metrics_http_reply(const char *req, metrics_fn fn, void *data, size_t *reply_len);

#endif
