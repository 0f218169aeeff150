// SPDX-License-Identifier: BSD-3-Clause
/* Opening and closing the map, option handling, diagnostics. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int default_print(enum xpv_print_level level, const char *fmt, va_list ap)
{
	if (level > XPV_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static xpv_print_fn_t print_fn = default_print;

xpv_print_fn_t xpv_set_print(xpv_print_fn_t fn)
{
	return __atomic_exchange_n(&print_fn, fn, __ATOMIC_ACQ_REL);
}

void xpv_pr(enum xpv_print_level level, const char *fmt, ...)
{
	xpv_print_fn_t fn = __atomic_load_n(&print_fn, __ATOMIC_ACQUIRE);
	int saved = errno;
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	fn(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

/*
 * libbpf's rule: a caller built against a newer header may pass a larger
 * struct; that is fine as long as the fields we do not know are zero.
 */
static bool opts_valid(const void *opts, size_t known, const char *name)
{
	size_t sz, i;

	if (!opts)
		return true;
	sz = *(const size_t *)opts;
	if (sz < sizeof(size_t)) {
		pr_warn("%s: sz %zu too small\n", name, sz);
		return false;
	}
	for (i = known; i < sz; i++)
		if (((const char *)opts)[i]) {
			pr_warn("%s: unknown non-zero field at byte %zu\n", name, i);
			return false;
		}
	return true;
}

#define OPTS_HAS(o, f) ((o) && (o)->sz >= offsetof(typeof(*(o)), f) + sizeof((o)->f))
#define OPTS_GET(o, f, def) (OPTS_HAS(o, f) ? (o)->f : (def))

static int map_device(struct xpv *x, const char *path, int fd)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISCHR(st.st_mode)) {
		x->is_chardev = true;
	} else if (S_ISREG(st.st_mode)) {
		/* a shorter file would SIGBUS on access past its end */
		if (st.st_size < (off_t)XPV_PAGE_SIZE) {
			pr_warn("%s: %lld bytes, a page file needs %u\n", path,
				(long long)st.st_size, XPV_PAGE_SIZE);
			return -EINVAL;
		}
	} else {
		pr_warn("%s: neither a character device nor a file\n", path);
		return -EINVAL;
	}
	p = mmap(NULL, XPV_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		pr_warn("%s: mmap: %s\n", path, strerror(-err));
		return err;
	}
	x->page = p;
	x->live = true;
	return 0;
}

static int use_fallback(struct xpv *x, const char *sysfs)
{
	void *buf = aligned_alloc(4096, XPV_PAGE_SIZE);
	int err;

	if (!buf)
		return -ENOMEM;
	memset(buf, 0, XPV_PAGE_SIZE);
	err = xpv_sysfs_page(sysfs, buf);
	if (err) {
		free(buf);
		return err;
	}
	x->page = buf;
	pr_info("no device, static topology from %s\n", sysfs);
	return 0;
}

struct xpv *xpv_open(const struct xpv_open_opts *opts)
{
	const char *dev, *sysfs;
	struct xpv_snapshot *s;
	unsigned int flags;
	struct xpv *x;
	int fd, err;

	if (!opts_valid(opts, offsetofend(struct xpv_open_opts, xpv_open_opts__last_field),
			"xpv_open_opts"))
		return xpv_err_ptr(-EINVAL);
	dev = OPTS_GET(opts, dev_path, NULL) ?: XPV_DEFAULT_DEV;
	sysfs = OPTS_GET(opts, sysfs_root, NULL) ?: XPV_DEFAULT_SYSFS;
	flags = OPTS_GET(opts, flags, 0);
	if (flags & ~(XPV_OPEN_NO_FALLBACK | XPV_OPEN_FORCE_FALLBACK) ||
	    (flags & XPV_OPEN_NO_FALLBACK && flags & XPV_OPEN_FORCE_FALLBACK)) {
		pr_warn("xpv_open: invalid flags 0x%x\n", flags);
		return xpv_err_ptr(-EINVAL);
	}

	x = calloc(1, sizeof(*x));
	s = malloc(sizeof(*s));
	if (!x || !s) {
		err = -ENOMEM;
		goto err_free;
	}
	if (flags & XPV_OPEN_FORCE_FALLBACK) {
		err = use_fallback(x, sysfs);
		goto out;
	}
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if ((err == -ENOENT || err == -ENODEV || err == -ENXIO) &&
		    !(flags & XPV_OPEN_NO_FALLBACK)) {
			err = use_fallback(x, sysfs);
			goto out;
		}
		pr_warn("%s: %s\n", dev, strerror(-err));
		goto err_free;
	}
	x->dev_path = strdup(dev);
	err = x->dev_path ? map_device(x, dev, fd) : -ENOMEM;
	close(fd);
out:
	/* Validate what we got once now, so a bad page fails the open with
	 * the reason logged; "no map yet" is fine, the first one will come. */
	if (!err) {
		err = xpv_snap_take(x, s);
		if (err == -ENODATA)
			err = 0;
	}
	if (err)
		goto err_close;
	free(s);
	return x;

err_close:
	xpv_close(x);
	x = NULL;
err_free:
	free(x);
	free(s);
	return xpv_err_ptr(err);
}

void xpv_close(struct xpv *x)
{
	if (!x)
		return;
	if (x->live)
		munmap((void *)x->page, XPV_PAGE_SIZE);
	else
		free((void *)x->page);
	free(x->dev_path);
	free(x);
}

int xpv_is_live(const struct xpv *x)
{
	return x->live;
}
