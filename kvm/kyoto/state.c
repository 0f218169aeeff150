// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static int flush(struct xpv_state *st, struct xpv_error **err)
{
	cleanup_free char *s = NULL;

	if (!json_object_size(st->entries)) {
		if (unlink(st->path) < 0 && errno != ENOENT)
			return xpv_error_set(err, errno, "removing `%s`", st->path);
		return 0;
	}
	s = json_dumps(st->entries, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!s)
		return xpv_error_set(err, ENOMEM, "state");
	return xpv_write_atomic(st->path, s, err);
}

/* One daemon per state file: two would each restore the other's saved
 * values.  The lock lives beside the file (the file itself is replaced on
 * every write) and holds the owner's pid for the message. */
static int take_lock(struct xpv_state *st, struct xpv_error **err)
{
	cleanup_free char *lock = NULL;
	char pid[32] = "";
	int fd;

	if (asprintf(&lock, "%s.lock", st->path) < 0)
		return xpv_error_set(err, ENOMEM, "state");
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return xpv_error_set(err, errno, "opening the lock `%s`", lock);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

		close(fd);
		if (n > 0)
			pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			return xpv_error_set(err, e,
					     "another xpvd%s%s is running with the state file `%s` "
					     "(lock `%s`)",
					     pid[0] ? " pid " : "", pid, st->path, lock);
		return xpv_error_set(err, e, "locking `%s`", lock);
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		/* only the message of a second daemon would miss it */
	}
	st->lock_fd = fd;
	return 0;
}

int state_open(struct xpv_state *st, const char *path, bool lock, struct xpv_error **err)
{
	json_error_t jerr;
	const char *k;
	json_t *v;

	st->lock_fd = -1;
	st->path = strdup(path);
	if (!st->path)
		return xpv_error_set(err, ENOMEM, "state");
	if (lock) {
		/* /var/lib/xpvd on a fresh host; deeper trees are the
		 * operator's business. */
		cleanup_free char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;

		if (slash && slash != dir) {
			*slash = '\0';
			mkdir(dir, 0700);
		}
		if (take_lock(st, err) < 0)
			return -1;
	}
	if (!xpv_path_exists(path)) {
		st->entries = json_object();
		return 0;
	}
	st->entries = json_load_file(path, 0, &jerr);
	if (!st->entries || !json_is_object(st->entries)) {
		/* Refuse to guess: the operator must look at it. */
		if (st->entries)
			json_decref(st->entries);
		st->entries = NULL;
		return xpv_error_set(err, EINVAL,
				     "state file `%s` is corrupt (%s); fix "
				     "or remove it after checking the "
				     "cgroups it lists",
				     path, jerr.text);
	}
	json_object_foreach (st->entries, k, v) {
		if (!json_is_integer(json_object_get(v, "quota")) ||
		    !json_is_integer(json_object_get(v, "period")) ||
		    !json_is_integer(json_object_get(v, "cg")))
			return xpv_error_set(err, EINVAL, "state file `%s`: bad entry `%s`", path,
					     k);
	}
	return 0;
}

void state_close(struct xpv_state *st)
{
	if (st->entries)
		json_decref(st->entries);
	/* the lock file stays: removing it would race with a starting xpvd */
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
	free(st->path);
	st->entries = NULL;
	st->path = NULL;
}

int state_lookup(struct xpv_state *st, const char *dir, struct cfs_bw *bw)
{
	json_t *e = json_object_get(st->entries, dir);

	if (!e)
		return 0;
	bw->quota_us = json_integer_value(json_object_get(e, "quota"));
	bw->period_us = json_integer_value(json_object_get(e, "period"));
	return 1;
}

int state_save(struct xpv_state *st, const char *dir, int cg_version, const struct cfs_bw *bw,
	       struct xpv_error **err)
{
	json_t *e = json_pack("{s:i, s:I, s:I}", "cg", cg_version, "quota",
			      (json_int_t)bw->quota_us, "period", (json_int_t)bw->period_us);

	if (!e || json_object_set_new(st->entries, dir, e) < 0)
		return xpv_error_set(err, ENOMEM, "state");
	if (flush(st, err) < 0) {
		json_object_del(st->entries, dir);
		return xpv_error_wrap(err, "saving the value of `%s`", dir);
	}
	return 0;
}

int state_forget(struct xpv_state *st, const char *dir, struct xpv_error **err)
{
	if (json_object_del(st->entries, dir) < 0)
		return 0;
	return flush(st, err);
}

int state_restore(struct xpv_state *st, const char *dir, struct xpv_error **err)
{
	json_t *e = json_object_get(st->entries, dir);
	const struct cg_ops *ops;
	struct cfs_bw bw;

	if (!e)
		return 0;
	ops = json_integer_value(json_object_get(e, "cg")) == 2 ? &cg_v2_ops : &cg_v1_ops;
	state_lookup(st, dir, &bw);
	if (!xpv_path_exists(dir))
		return state_forget(st, dir, err);
	if (ops->write_bw(dir, &bw, err) < 0) {
		if (!xpv_path_exists(dir)) {
			xpv_error_free(err);
			return state_forget(st, dir, err);
		}
		return xpv_error_wrap(err, "restoring `%s`", dir);
	}
	return state_forget(st, dir, err);
}

int state_restore_all(struct xpv_state *st, struct xpv_error **err)
{
	const char *k;
	json_t *v, *keys = json_array();
	size_t i;
	int n = 0, failed = 0;

	if (!keys)
		return xpv_error_set(err, ENOMEM, "state");
	json_object_foreach (st->entries, k, v)
		json_array_append_new(keys, json_string(k));
	json_array_foreach (keys, i, v) {
		struct xpv_error *e = NULL;

		if (state_restore(st, json_string_value(v), &e) < 0) {
			failed++;
			if (err && !*err)
				*err = e;
			else
				xpv_error_free(&e);
		} else {
			n++;
		}
	}
	json_decref(keys);
	return failed ? -1 : n;
}
