/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef XPV_UTIL_H
#define XPV_UTIL_H

#include <stdbool.h>
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
/* A VM name xpvd can put in a path, a metric label and a log line: 1-128
 * characters of [A-Za-z0-9-_.+], not "." or "..".  Names taken from
 * cgroup paths are checked before use (libvirt's machine names only ever
 * hold such characters; anything else is not a libvirt domain). */
bool xpv_name_valid(const char *s);
/* s with every byte outside printable ASCII (and `\`) as \xHH, for a log
 * line (malloc'd; NULL on ENOMEM). */
char *xpv_log_escape(const char *s);
/* Start time of a process or thread (field 22 of /proc/ID/stat, clock
 * ticks since boot): with the id it names one task for good, which an id
 * alone does not once the kernel reuses it.  0, or -1 when there is no
 * such task. */
int xpv_task_start_time(int id, uint64_t *start);
/* The CPU a thread last ran on (field 39 of /proc/ID/stat), -1 when there
 * is no such thread. */
int xpv_task_last_cpu(int id);
/* True when xpvd runs with XPVD_TEST_MODE=1 in its environment: only then
 * are test-only inputs (the "synthetic" and "software" counter sources)
 * accepted.  xpvd announces the mode at start, in status and in metrics. */
#define XPV_TEST_MODE_ENV "XPVD_TEST_MODE"
bool xpv_test_mode(void);

#endif
