// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of kvm/common: the one error idiom (shared with libmemhome),
 * the one Prometheus writer, the one size/duration parser, the validation
 * of names taken from cgroup paths.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "discovery.h"
#include "error.h"
#include "homing_cfg.h"
#include "prom.h"
#include "units.h"
#include "util.h"

/* ---- error ------------------------------------------------------------ */

static void error_semantics(void **state)
{
	struct xpv_error *e = NULL;

	(void)state;
	/* errno or -errno, returned as -errno */
	assert_int_equal(xpv_error_set(&e, -EAGAIN, "first %d", 1), -EAGAIN);
	assert_int_equal(e->status, EAGAIN);
	assert_string_equal(e->msg, "first 1");
	/* the newest error replaces an unfreed one (no stale message, no leak) */
	assert_int_equal(xpv_error_set(&e, ENOMEM, "second"), -ENOMEM);
	assert_string_equal(e->msg, "second");
	assert_int_equal(xpv_error_wrap(&e, "ctx %s", "a"), -ENOMEM);
	assert_string_equal(e->msg, "ctx a: second");
	xpv_error_free(&e);
	assert_null(e);
	/* no errno: status 0, returns -1 */
	assert_int_equal(xpv_error_set(&e, 0, "plain"), -1);
	assert_int_equal(e->status, 0);
	xpv_error_free(&e);
	/* a NULL err still returns the errno (libmemhome relies on it) */
	assert_int_equal(xpv_error_set(NULL, ESRCH, "x"), -ESRCH);
	assert_int_equal(xpv_error_wrap(NULL, "x"), -1);
}

/* ---- Prometheus writer ------------------------------------------------ */

static char *render(void (*fn)(FILE *f))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f);
	fclose(f);
	return buf;
}

static void write_hostile(FILE *f)
{
	const char *labels[] = {"vm", "a\"b\\c\nd", "node", "1", NULL};
	struct prom_set *s = prom_set_new();

	prom_set_add(s, "x_bytes", "bytes", labels, 5);
	prom_set_add(s, "x_moves_total", "moves", labels, 2);
	prom_set_add(s, "x_bytes", "bytes", (const char *[]){"vm", "plain", NULL}, 7);
	prom_set_write(s, f);
}

static void prom_escapes_and_groups(void **state)
{
	char *out;

	(void)state;
	out = render(write_hostile);
	assert_string_equal(out, "# HELP x_bytes bytes\n"
				 "# TYPE x_bytes gauge\n"
				 "x_bytes{vm=\"a\\\"b\\\\c\\nd\",node=\"1\"} 5\n"
				 "x_bytes{vm=\"plain\"} 7\n"
				 "# HELP x_moves_total moves\n"
				 "# TYPE x_moves_total counter\n"
				 "x_moves_total{vm=\"a\\\"b\\\\c\\nd\",node=\"1\"} 2\n");
	free(out);
}

/* ---- sizes and durations: one parser, one behaviour ------------------- */

static void units_parse(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(xpv_parse_bytes("1.5G", &v), 0);
	assert_true(v == 1610612736ull);
	assert_int_equal(xpv_parse_bytes("500M", &v), 0);
	assert_true(v == 500ull << 20);
	assert_int_equal(xpv_parse_bytes("500MB", &v), 0); /* binary, as documented */
	assert_true(v == 500ull << 20);
	assert_int_equal(xpv_parse_bytes("1GiB", &v), 0);
	assert_true(v == 1ull << 30);
	assert_int_equal(xpv_parse_bytes("4096", &v), 0);
	assert_true(v == 4096);
	assert_int_equal(xpv_parse_bytes("0.5K", &v), 0);
	assert_true(v == 512);
	for (const char *const *bad =
		     (const char *const[]){"", "-1", "+1", "1e3", "0x10", ".5G", "1.G", "5X", "1 G",
					   "inf", "nan", "99999999999T", NULL};
	     *bad; bad++)
		if (xpv_parse_bytes(*bad, &v) != -EINVAL)
			fail_msg("size `%s` accepted", *bad);
	assert_int_equal(xpv_parse_duration_ns("900", &v), 0);
	assert_true(v == 900000000000ull);
	assert_int_equal(xpv_parse_duration_ns("1.5h", &v), 0);
	assert_true(v == 5400000000000ull);
	assert_int_equal(xpv_parse_duration_ns("250ms", &v), 0);
	assert_true(v == 250000000ull);
	assert_int_equal(xpv_parse_duration_ns("15m", &v), 0);
	assert_true(v == 900000000000ull);
	assert_int_equal(xpv_parse_duration_ns("1d", &v), -EINVAL);
	assert_int_equal(xpv_parse_duration_ns("m", &v), -EINVAL);
}

/* The JSON config and the libvirt metadata agree on "1.5G". */
static void size_same_in_config_and_metadata(void **state)
{
	struct homing_params p = {.policy = -1};
	struct xpv_error *e = NULL;
	json_t *j = json_string("1.5G");
	double d;

	(void)state;
	assert_int_equal(config_size(j, &d), 0);
	json_decref(j);
	assert_true(d == 1610612736.0);
	assert_int_equal(homing_meta_apply("<xpvh:homing xmlns:xpvh=\"x\" threshold=\"1.5G\" "
					   "period=\"1.5h\"/>",
					   &p, &e),
			 0);
	assert_true(p.threshold_bytes == 1610612736ull);
	assert_true(p.period_ns == 5400000000000ull);
	/* and reject the same things */
	j = json_string("1.5X");
	assert_int_equal(config_size(j, &d), -1);
	json_decref(j);
	assert_true(homing_meta_apply("<xpvh:homing threshold=\"1.5X\"/>", &p, &e) < 0);
	xpv_error_free(&e);
}

/* ---- names from cgroup paths ------------------------------------------- */

static void names_from_cgroups_validated(void **state)
{
	static const char *const bad[] = {
		"machine-qemu\\x2d1\\x2d..\\x2f..\\x2fetc.scope", /* ../../etc */
		"machine-qemu\\x2d1\\x2dvm\\x0a1.scope", /* a newline */
		"machine-qemu\\x2d1\\x2dvm\\x22\\x7d.scope", /* "} in a label */
		"machine-qemu\\x2d1\\x2d...scope", /* ".." */
		"qemu-1-a b.libvirt-qemu",
		NULL,
	};
	char name[256], *esc;
	int id;

	(void)state;
	for (const char *const *b = bad; *b; b++)
		if (discovery_parse_machine(*b, &id, name, sizeof(name)) != -2)
			fail_msg("`%s` not refused", *b);
	assert_int_equal(
		discovery_parse_machine("qemu-4-ab.c-d0.libvirt-qemu", &id, name, sizeof(name)), 0);
	assert_string_equal(name, "ab.c-d0");
	assert_true(xpv_name_valid("web_1.example+x"));
	assert_false(xpv_name_valid(""));
	assert_false(xpv_name_valid(".."));
	assert_false(xpv_name_valid("a/b"));
	esc = xpv_log_escape("a\nb\\\x7f");
	assert_string_equal(esc, "a\\x0ab\\x5c\\x7f");
	free(esc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_semantics),
		cmocka_unit_test(prom_escapes_and_groups),
		cmocka_unit_test(units_parse),
		cmocka_unit_test(names_from_cgroups_validated),
		cmocka_unit_test(size_same_in_config_and_metadata),
	};

	return cmocka_run_group_tests_name("xpvd-common", tests, NULL, NULL);
}
