/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kvm/ error idiom (crun's): functions return a negative errno and fill
 * *err; callers add context with xpv_error_wrap(). libmemhome carries its own
 * copy so that it builds before xpvd exists; the definitions are weak so that
 * xpvd's own error.c wins at link time once both are in one binary.
 */
#ifndef XPV_ERROR_H
#define XPV_ERROR_H

struct xpv_error {
	int status; /* positive errno */
	char *msg;
};

/* Sets *err (if err is non-NULL and empty) and returns -abs(status). */
int xpv_error_set(struct xpv_error **err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes "ctx: " to the message of *err; returns -status of *err. */
int xpv_error_wrap(struct xpv_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void xpv_error_free(struct xpv_error **err);

#endif
