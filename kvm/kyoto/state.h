/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The values of every cgroup xpvd has throttled, as they were before xpvd
 * touched them.  An entry is written (fsync + rename) BEFORE the first
 * write to that cgroup and removed after the value is restored, so after a
 * crash the next start restores what is left.
 */
#ifndef XPV_STATE_H
#define XPV_STATE_H

#include <jansson.h>
#include <stdbool.h>

#include "enforce.h"
#include "error.h"

struct xpv_state {
	char *path;
	int lock_fd; /* flock on "<path>.lock" for the daemon's lifetime, or -1 */
	json_t *entries; /* dir -> {"cg": 1|2, "quota": q, "period": p} */
};

/* Load the saved values.  lock: create the directory and take the lock
 * (fails with status EWOULDBLOCK when another xpvd holds it); without it
 * nothing on disk is touched (xpvd -t). */
int state_open(struct xpv_state *st, const char *path, bool lock, struct xpv_error **err);
void state_close(struct xpv_state *st);
/* 1 and *bw filled when dir has a saved value, else 0. */
int state_lookup(struct xpv_state *st, const char *dir, struct cfs_bw *bw);
int state_save(struct xpv_state *st, const char *dir, int cg_version, const struct cfs_bw *bw,
	       struct xpv_error **err);
int state_forget(struct xpv_state *st, const char *dir, struct xpv_error **err);
/* Write back and forget every entry; a vanished cgroup is just dropped.
 * Returns the number restored, or a negative value if some failed (all
 * are tried). */
int state_restore_all(struct xpv_state *st, struct xpv_error **err);
/* Write back one entry and forget it. */
int state_restore(struct xpv_state *st, const char *dir, struct xpv_error **err);

#endif
