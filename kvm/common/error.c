// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The value every function of the idiom returns for an error of this status:
 * -errno, or -1 when the error carries no errno. */
static int error_ret(int status)
{
	return status > 0 ? -status : -1;
}

int xpv_error_set(struct xpv_error **err, int status, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (status < 0) /* callers may pass -errno as well as errno */
		status = -status;
	if (!err)
		return error_ret(status);
	/* The newest error wins: a caller that ignored an earlier one (and
	 * did not free it) must not get its stale message back. */
	xpv_error_free(err);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	*err = calloc(1, sizeof(**err));
	if (*err) {
		(*err)->status = status;
		(*err)->msg = msg;
	} else {
		free(msg);
	}
	return error_ret(status);
}

int xpv_error_wrap(struct xpv_error **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx = NULL, *msg = NULL;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	if (ctx && asprintf(&msg, "%s: %s", ctx, (*err)->msg ? (*err)->msg : "?") >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return error_ret((*err)->status);
}

void xpv_error_free(struct xpv_error **err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

void xpv_error_report(struct xpv_error **err, const char *prog)
{
	if (!err || !*err)
		return;
	if ((*err)->status > 0)
		fprintf(stderr, "%s: %s: %s\n", prog, (*err)->msg, strerror((*err)->status));
	else
		fprintf(stderr, "%s: %s\n", prog, (*err)->msg);
	xpv_error_free(err);
}

void xpv_freep(void *p)
{
	free(*(void **)p);
}

void xpv_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

void xpv_fclosep(void *f)
{
	FILE **fp = f;

	if (*fp)
		fclose(*fp);
}
