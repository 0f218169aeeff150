// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "enforce.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int read_int(const char *dir, const char *file, int64_t *v, struct xpv_error **err)
{
	cleanup_free char *path = NULL, *buf = NULL;
	char *end;

	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return xpv_error_set(err, ENOMEM, "%s", file);
	if (xpv_read_file(path, &buf, err) < 0)
		return -1;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	if (errno || end == buf)
		return xpv_error_set(err, EINVAL, "parsing `%s`", path);
	return 0;
}

static int v1_read_bw(const char *dir, struct cfs_bw *bw, struct xpv_error **err)
{
	if (read_int(dir, "cpu.cfs_quota_us", &bw->quota_us, err) < 0 ||
	    read_int(dir, "cpu.cfs_period_us", &bw->period_us, err) < 0)
		return -1;
	if (bw->quota_us < 0)
		bw->quota_us = -1;
	return 0;
}

static int v1_write_bw(const char *dir, const struct cfs_bw *bw, struct xpv_error **err)
{
	cleanup_free char *q = NULL, *p = NULL;
	char val[32];
	struct cfs_bw cur;

	if (asprintf(&q, "%s/cpu.cfs_quota_us", dir) < 0 ||
	    asprintf(&p, "%s/cpu.cfs_period_us", dir) < 0)
		return xpv_error_set(err, ENOMEM, "%s", dir);
	if (v1_read_bw(dir, &cur, err) < 0)
		return -1;
	if (cur.period_us != bw->period_us) {
		/* Lift the quota first so the new period is always valid. */
		if (xpv_write_file(q, "-1", err) < 0)
			return -1;
		snprintf(val, sizeof(val), "%" PRId64, bw->period_us);
		if (xpv_write_file(p, val, err) < 0)
			return -1;
	}
	snprintf(val, sizeof(val), "%" PRId64, bw->quota_us < 0 ? (int64_t)-1 : bw->quota_us);
	return xpv_write_file(q, val, err);
}

static int stat_field(const char *dir, const char *field, uint64_t *n, struct xpv_error **err)
{
	cleanup_free char *path = NULL, *buf = NULL;
	size_t flen = strlen(field);

	if (asprintf(&path, "%s/cpu.stat", dir) < 0)
		return xpv_error_set(err, ENOMEM, "cpu.stat");
	if (xpv_read_file(path, &buf, err) < 0)
		return -1;
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, field, flen) && l[flen] == ' ') {
			*n = strtoull(l + flen + 1, NULL, 10);
			return 0;
		}
	}
	return xpv_error_set(err, ENOENT, "no `%s` in `%s`", field, path);
}

static int read_throttled(const char *dir, uint64_t *n, struct xpv_error **err)
{
	return stat_field(dir, "nr_throttled", n, err);
}

static int v2_read_bw(const char *dir, struct cfs_bw *bw, struct xpv_error **err)
{
	cleanup_free char *path = NULL, *buf = NULL;
	char q[32];
	long long p;

	if (asprintf(&path, "%s/cpu.max", dir) < 0)
		return xpv_error_set(err, ENOMEM, "cpu.max");
	if (xpv_read_file(path, &buf, err) < 0)
		return -1;
	if (sscanf(buf, "%31s %lld", q, &p) != 2 || p <= 0)
		return xpv_error_set(err, EINVAL, "parsing `%s`: `%s`", path, buf);
	bw->period_us = p;
	if (!strcmp(q, "max")) {
		bw->quota_us = -1;
	} else {
		char *end;

		bw->quota_us = strtoll(q, &end, 10);
		if (*end || bw->quota_us <= 0)
			return xpv_error_set(err, EINVAL, "parsing `%s`: `%s`", path, buf);
	}
	return 0;
}

static int v2_write_bw(const char *dir, const struct cfs_bw *bw, struct xpv_error **err)
{
	cleanup_free char *path = NULL;
	char val[64];

	if (asprintf(&path, "%s/cpu.max", dir) < 0)
		return xpv_error_set(err, ENOMEM, "cpu.max");
	if (bw->quota_us < 0)
		snprintf(val, sizeof(val), "max %" PRId64, bw->period_us);
	else
		snprintf(val, sizeof(val), "%" PRId64 " %" PRId64, bw->quota_us, bw->period_us);
	return xpv_write_file(path, val, err);
}

const struct cg_ops cg_v1_ops = {
	.version = 1,
	.read_bw = v1_read_bw,
	.write_bw = v1_write_bw,
	.read_throttled = read_throttled,
	.threads_file = "tasks",
};

const struct cg_ops cg_v2_ops = {
	.version = 2,
	.read_bw = v2_read_bw,
	.write_bw = v2_write_bw,
	.read_throttled = read_throttled,
	.threads_file = "cgroup.threads",
};

static int has_file(const char *dir, const char *file)
{
	cleanup_free char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return 0;
	return xpv_path_exists(p);
}

int enforce_detect(const char *root, int version, const struct cg_ops **ops, char **mount,
		   struct xpv_error **err)
{
	static const char *const v1dirs[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};

	if (version != 1 && has_file(root, "cgroup.controllers")) {
		cleanup_free char *path = NULL, *ctl = NULL;

		if (asprintf(&path, "%s/cgroup.controllers", root) < 0)
			return xpv_error_set(err, ENOMEM, "detect");
		if (xpv_read_file(path, &ctl, err) < 0)
			return -1;
		if (!strstr(ctl, "cpu"))
			return xpv_error_set(err, ENOTSUP,
					     "cgroup v2 at `%s` has no cpu controller", root);
		*ops = &cg_v2_ops;
		*mount = strdup(root);
		return *mount ? 0 : xpv_error_set(err, ENOMEM, "detect");
	}
	if (version != 2) {
		for (size_t i = 0; i < 3; i++) {
			char *dir;

			if (asprintf(&dir, "%s/%s", root, v1dirs[i]) < 0)
				return xpv_error_set(err, ENOMEM, "detect");
			if (has_file(dir, "cpu.cfs_quota_us")) {
				*ops = &cg_v1_ops;
				*mount = dir;
				return 0;
			}
			free(dir);
		}
	}
	return xpv_error_set(err, ENOENT,
			     "no cgroup v%s cpu controller with CFS bandwidth "
			     "control under `%s`",
			     version == 1   ? "1"
			     : version == 2 ? "2"
					    : "1 or v2",
			     root);
}

int enforce_v1_descendants_ratio(const struct cg_ops *ops, const char *dir, double *ratio,
				 struct xpv_error **err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	*ratio = 0;
	if (!d)
		return errno == ENOENT ? 0 : xpv_error_set(err, errno, "listing `%s`", dir);
	while ((de = readdir(d))) {
		cleanup_free char *sub = NULL;
		struct cfs_bw bw;
		double below;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0) {
			ret = xpv_error_set(err, ENOMEM, "%s", dir);
			break;
		}
		if (!has_file(sub, "cpu.cfs_quota_us"))
			continue;
		if (ops->read_bw(sub, &bw, err) < 0) {
			ret = -1;
			break;
		}
		if (bw.quota_us >= 0 && bw.period_us > 0 &&
		    (double)bw.quota_us / bw.period_us > *ratio)
			*ratio = (double)bw.quota_us / bw.period_us;
		if (enforce_v1_descendants_ratio(ops, sub, &below, err) < 0) {
			ret = -1;
			break;
		}
		if (below > *ratio)
			*ratio = below;
	}
	closedir(d);
	return ret;
}

int enforce_quota_for(const struct cg_ops *ops, const char *mount, const char *dir,
		      const struct cfs_bw *orig, double cpus, struct cfs_bw *out,
		      struct xpv_error **err)
{
	double ratio = cpus, child = 0;
	size_t mlen = strlen(mount);
	int64_t q;
	int at = 0;

	*out = *orig;
	if (orig->quota_us >= 0 && (double)orig->quota_us / orig->period_us < ratio)
		ratio = (double)orig->quota_us / orig->period_us;
	if (ops->version == 1 && !strncmp(dir, mount, mlen)) {
		/* v1 refuses a child ratio above an ancestor's. */
		cleanup_free char *up = strdup(dir);
		char *slash;

		if (!up)
			return xpv_error_set(err, ENOMEM, "%s", dir);
		while ((slash = strrchr(up, '/')) && (size_t)(slash - up) > mlen) {
			struct cfs_bw a;

			*slash = '\0';
			if (ops->read_bw(up, &a, err) < 0)
				return xpv_error_wrap(err, "ancestor of `%s`", dir);
			if (a.quota_us >= 0 && (double)a.quota_us / a.period_us < ratio)
				ratio = (double)a.quota_us / a.period_us;
		}
	}
	if (ops->version == 1) {
		/* ... and a parent ratio below a descendant's: stop there
		 * rather than have every write fail with EINVAL. */
		if (enforce_v1_descendants_ratio(ops, dir, &child, err) < 0)
			return xpv_error_wrap(err, "groups below `%s`", dir);
		if (child > ratio) {
			ratio = child;
			at |= ENFORCE_AT_CHILD;
		}
	}
	q = (int64_t)(ratio * (double)orig->period_us);
	if (q < CFS_MIN_US) {
		q = CFS_MIN_US;
		at |= ENFORCE_AT_MIN;
	}
	out->quota_us = q;
	return at;
}
