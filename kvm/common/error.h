/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * crun's error idiom for xpvd: functions return a negative value and fill
 * *err; callers add context with xpv_error_wrap().  Nothing below main()
 * exits the process.  One implementation for the whole of kvm/: xpvd and
 * libmemhome (which links this file's object, see memhome/Makefile).
 *
 * xpv_error_set(err, status, ...) accepts errno or -errno (0: no errno),
 * replaces any error already in *err, and returns -errno (-1 for status 0),
 * also when err is NULL.  xpv_error_wrap() prefixes "context: " and
 * returns the same value.
 */
#ifndef XPV_ERROR_H
#define XPV_ERROR_H

struct xpv_error {
	int status; /* positive errno, or 0 when there is none */
	char *msg;
};

__attribute__((format(printf, 3, 4))) int xpv_error_set(struct xpv_error **err, int status,
							const char *fmt, ...);
__attribute__((format(printf, 2, 3))) int xpv_error_wrap(struct xpv_error **err, const char *fmt,
							 ...);
void xpv_error_free(struct xpv_error **err);
/* Print "xpvd: msg: strerror" to stderr and free the error. */
void xpv_error_report(struct xpv_error **err, const char *prog);

#define cleanup_free __attribute__((cleanup(xpv_freep)))
#define cleanup_close __attribute__((cleanup(xpv_closep)))
#define cleanup_file __attribute__((cleanup(xpv_fclosep)))
void xpv_freep(void *p);
void xpv_closep(int *fd);
void xpv_fclosep(void *f);

#endif
