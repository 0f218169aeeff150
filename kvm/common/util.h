/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef XPV_UTIL_H
#define XPV_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Read a whole small file (NUL-terminated, trailing newline kept). */
int xpv_read_file(const char *path, char **out, struct xpv_error **err);
/* Write a string in one write(2), as cgroup files require. */
int xpv_write_file(const char *path, const char *s, struct xpv_error **err);
/* Write a file atomically: temp file, fsync, rename. */
int xpv_write_atomic(const char *path, const char *s, struct xpv_error **err);
int xpv_path_exists(const char *path);
uint64_t xpv_now_ns(void);

#endif
