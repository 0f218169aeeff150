// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "testlib.h"
#include "util.h"

char tmp[256];

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s;
	(void)f;
	(void)w;
	return remove(p);
}

int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/xpvd-unit-XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

int teardown_tmp(void **state)
{
	(void)state;
	return nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void put(const char *rel, const char *content)
{
	char path[512], *slash;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	for (slash = strchr(path + strlen(tmp) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

char *get(const char *rel)
{
	char path[512], *buf = NULL;
	struct xpv_error *e = NULL;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	if (xpv_read_file(path, &buf, &e) < 0) {
		xpv_error_free(&e);
		return NULL;
	}
	return buf;
}

char *tpath(const char *rel)
{
	static char path[8][512];
	static int i;

	i = (i + 1) % 8;
	snprintf(path[i], sizeof(path[i]), "%s/%s", tmp, rel);
	return path[i];
}

void burn(uint64_t ns)
{
	uint64_t t0 = xpv_now_ns();
	volatile unsigned x = 0;

	while (xpv_now_ns() - t0 < ns)
		x++;
}
