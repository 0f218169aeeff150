// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xpv-error.h"

__attribute__((weak)) int xpv_error_set(struct xpv_error **err, int status, const char *fmt, ...)
{
	va_list ap;
	struct xpv_error *e;

	if (status < 0)
		status = -status;
	if (status == 0)
		status = EIO;
	if (!err || *err)
		return -status;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -status;
	e->status = status;
	va_start(ap, fmt);
	if (vasprintf(&e->msg, fmt, ap) < 0)
		e->msg = NULL;
	va_end(ap);
	*err = e;
	return -status;
}

__attribute__((weak)) int xpv_error_wrap(struct xpv_error **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx = NULL, *msg = NULL;

	if (!err || !*err)
		return -EIO;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	if (ctx && asprintf(&msg, "%s: %s", ctx, (*err)->msg ? (*err)->msg : "") >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return -(*err)->status;
}

__attribute__((weak)) void xpv_error_free(struct xpv_error **err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}
