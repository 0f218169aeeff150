// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

int state_open(struct xpv_state *st, const char *path, struct xpv_error **err)
{
	json_error_t jerr;
	const char *k;
	json_t *v;

	st->path = strdup(path);
	if (!st->path)
		return xpv_error_set(err, ENOMEM, "state");
	{
		/* /var/lib/xpvd on a fresh host; deeper trees are the
		 * operator's business. */
		cleanup_free char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;

		if (slash && slash != dir) {
			*slash = '\0';
			mkdir(dir, 0700);
		}
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
