// SPDX-License-Identifier: GPL-2.0-or-later
#include "units.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

struct unit {
	const char *sfx;
	double mult;
};

static int parse(const char *s, const struct unit *units, double plain, uint64_t *out)
{
	double ip = 0, frac = 0, scale = 1, mult = 0, v;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++)
		ip = ip * 10 + (*p - '0');
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	if (!*p) {
		mult = plain;
	} else {
		for (size_t i = 0; units[i].sfx; i++)
			if (!strcmp(p, units[i].sfx)) {
				mult = units[i].mult;
				break;
			}
		if (!mult)
			return -EINVAL;
	}
	v = round((ip + frac) * mult);
	/* 2^64 is exactly representable: anything at or above it overflows */
	if (!isfinite(v) || v >= 18446744073709551616.0)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

int xpv_parse_bytes(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{"B", 1},	 {"K", 0x1p10},	  {"KiB", 0x1p10}, {"KB", 0x1p10},  {"M", 0x1p20},
		{"MiB", 0x1p20}, {"MB", 0x1p20},  {"G", 0x1p30},   {"GiB", 0x1p30}, {"GB", 0x1p30},
		{"T", 0x1p40},	 {"TiB", 0x1p40}, {"TB", 0x1p40},  {NULL, 0},
	};

	return parse(s, units, 1, out);
}

int xpv_parse_duration_ns(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"min", 60e9}, {"h", 3600e9}, {NULL, 0},
	};

	return parse(s, units, 1e9, out);
}
