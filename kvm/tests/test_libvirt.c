// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The shared libvirt session against libvirt's in-process test driver
 * (test:///default): domains found by id, not by the mangled name of their
 * cgroup; metadata changes arrive as events; a libvirtd that accepts and
 * never answers does not block the caller.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "controller.h"
#include "discovery.h"
#include "libvirt_meta.h"
#include "libvirt_session.h"
#include "state.h"
#include "util.h"

#include "testlib.h"

#define MS 1000000ull
/* `_` dropped, `..` and `--` collapsed, > 64 characters: its machine name
 * (qemu-N-ab.c-d0123...) cannot be turned back into it */
#define NASTY                                                                                      \
	"a_b..c--d_012345678901234567890123456789012345678901234567890123456789"                   \
	"0123456789"

static virConnectPtr rw;
static int nasty_id;

static int create_nasty(void **state)
{
	virDomainPtr d;

	(void)state;
	virEventRegisterDefaultImpl();
	rw = virConnectOpen("test:///default");
	assert_non_null(rw);
	d = virDomainCreateXML(rw,
			       "<domain type='test'><name>" NASTY "</name><memory>8192</memory>"
			       "<os><type>hvm</type></os></domain>",
			       0);
	assert_non_null(d);
	nasty_id = (int)virDomainGetID(d);
	virDomainFree(d);
	return 0;
}

static int drop_nasty(void **state)
{
	virDomainPtr d = virDomainLookupByName(rw, NASTY);

	(void)state;
	if (d) {
		virDomainDestroy(d);
		virDomainFree(d);
	}
	virConnectClose(rw);
	return 0;
}

static void set_permit(const char *value)
{
	virDomainPtr d = virDomainLookupByName(rw, NASTY);
	char xml[128];

	assert_non_null(d);
	/* NULL: remove the element */
	snprintf(xml, sizeof(xml), "<kyoto llc-cap='%s'/>", value ? value : "");
	assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, value ? xml : NULL,
					      value ? "xpv" : NULL, XPV_XMLNS,
					      VIR_DOMAIN_AFFECT_LIVE),
			 0);
	virDomainFree(d);
}

static void session_finds_by_id(void **state)
{
	struct libvirt_session *s = NULL;
	struct xpv_error *e = NULL;
	struct lv_domain_ref r;
	char *xml = NULL;
	double permit = -1;
	uint64_t gen;

	(void)state;
	assert_int_equal(libvirt_session_get("test:///default", true, &s, &e), 0);
	/* one session: a second user gets the same one, another URI an error */
	{
		struct libvirt_session *s2 = NULL;

		assert_int_equal(libvirt_session_get("test:///default", false, &s2, &e), 0);
		assert_ptr_equal(s, s2);
		libvirt_session_put(s2);
		assert_true(libvirt_session_get("qemu:///system", true, &s2, &e) < 0);
		assert_non_null(strstr(e->msg, "one libvirt session"));
		xpv_error_free(&e);
	}
	for (int i = 0; i < 100 && !libvirt_session_find(s, nasty_id, NULL, &r); i++)
		libvirt_session_wait_refresh(s, 100);
	assert_non_null(r.name);
	assert_string_equal(r.name, NASTY);
	assert_int_equal(strlen(r.uuid), 36);
	gen = r.gen;
	free(r.name);
	/* the id with the name in its cgroup (libvirt's machine name, which
	 * drops and collapses characters and is cut at 64); another daemon's
	 * domain with the same id is not this one */
	assert_int_equal(libvirt_session_find(s, nasty_id, "ab.c-d0123456789012345", &r), 1);
	free(r.name);
	assert_int_equal(libvirt_session_find(s, nasty_id, "xpv73-other-vm", &r), 0);
	assert_int_equal(libvirt_session_find(s, nasty_id, "ab.c-d0123456789x", &r), 0);
	/* a metadata change arrives as an event and bumps the generation */
	set_permit("42");
	for (int i = 0; i < 100; i++) {
		assert_int_equal(libvirt_session_find(s, nasty_id, NULL, &r), 1);
		free(r.name);
		if (r.gen != gen)
			break;
		libvirt_session_wait_refresh(s, 100);
	}
	assert_true(r.gen != gen);
	assert_int_equal(libvirt_session_xml(s, nasty_id, &xml), 1);
	assert_int_equal(libvirt_meta_permit(xml, &permit, &e), 1);
	assert_true(permit == 42);
	free(xml);
	{
		json_t *st = libvirt_session_status(s);

		assert_true(json_is_true(json_object_get(st, "connected")));
		json_decref(st);
	}
	libvirt_session_put(s);
}

/* Kyoto on a fake v1 tree whose libvirt machine group carries the mangled
 * name: permits from the config (by the real name) and from metadata. */
static void kyoto_by_domain_id(void **state)
{
	static const char *const sections[] = {"kyoto", NULL};
	char json[1024], rel[256], tid[32];
	struct xpv_config cfg;
	struct xpv_state st = {0};
	struct xpv_error *e = NULL;
	struct xpv_host h;
	struct discovery d;
	struct xpv_vm_list l;
	void *priv = NULL;
	json_t *status = NULL, *vm = NULL;
	const char *src = NULL;

	(void)state;
	put("v1/cpu/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/cpu.cfs_period_us", "100000\n");
	snprintf(rel, sizeof(rel), "v1/cpu/machine/qemu-%d-%s.libvirt-qemu/vcpu0/", nasty_id,
		 "ab.c-d0123456789012345678901234567890123456789012345678");
	snprintf(tid, sizeof(tid), "%d\n", gettid());
	put(strcat(strcpy(json, rel), "tasks"), tid);
	put(strcat(strcpy(json, rel), "cpu.cfs_quota_us"), "-1\n");
	put(strcat(strcpy(json, rel), "cpu.cfs_period_us"), "100000\n");
	snprintf(json, sizeof(json),
		 "{\"kyoto\": {\"libvirt_uri\": \"test:///default\", \"permits\": "
		 "{\"" NASTY "\": 5}, \"counters\": {\"source\": \"synthetic\", "
		 "\"synthetic_dir\": \"%s\"}}}",
		 tpath("syn"));
	assert_int_equal(config_load_string(&cfg, json, sections, &e), 0);
	assert_int_equal(state_open(&st, tpath("st.json"), true, &e), 0);
	h = (struct xpv_host){&cfg, &cg_v1_ops, tpath("v1/cpu"), &st};
	d = (struct discovery){&cg_v1_ops, tpath("v1/cpu"), true, 0, NULL};
	assert_int_equal(kyoto_controller.init(&priv, &h, &e), 0);
	/* first the config permit, under the real name; then metadata */
	set_permit(NULL);
	for (int pass = 0; pass < 2; pass++) {
		const char *want = pass ? "libvirt" : "config";
		double wantp = pass ? 77 : 5;

		if (pass)
			set_permit("77");
		for (int i = 0; i < 200; i++) {
			burn(2 * MS);
			assert_int_equal(discovery_scan(&d, &l, &e), 0);
			assert_int_equal(kyoto_controller.tick(priv, &l, 2 * MS, &e), 0);
			discovery_free(&l);
			json_decref(status);
			status = kyoto_controller.status(priv);
			vm = json_array_get(json_object_get(status, "vms"), 0);
			src = json_string_value(json_object_get(vm, "permit_source"));
			if (src && !strcmp(src, want) &&
			    json_number_value(json_object_get(vm, "permit")) == wantp)
				break;
			usleep(10000); /* let the session thread run on a busy host */
		}
		assert_non_null(src);
		assert_string_equal(src, want);
		assert_true(json_number_value(json_object_get(vm, "permit")) == wantp);
		assert_string_equal(json_string_value(json_object_get(vm, "domain")), NASTY);
	}
	json_decref(status);
	kyoto_controller.shutdown(priv);
	state_close(&st);
	config_free(&cfg);
}

/* A "libvirtd" that accepts and never answers: nothing blocks the caller. */
static void hung_libvirtd_does_not_block(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct libvirt_session *s = NULL;
	struct xpv_error *e = NULL;
	struct lv_domain_ref r;
	char uri[512];
	uint64_t t0;
	int fd;
	json_t *st;

	(void)state;
	assert_true(strlen(tmp) + 10 < sizeof(sa.sun_path));
	memcpy(sa.sun_path, tmp, strlen(tmp));
	strcat(sa.sun_path, "/hung.sock");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0); /* connections queue, none is served */
	snprintf(uri, sizeof(uri), "qemu+unix:///system?socket=%s", sa.sun_path);
	t0 = xpv_now_ns();
	assert_int_equal(libvirt_session_get(uri, true, &s, &e), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(libvirt_session_find(s, 1, NULL, &r), 0);
	st = libvirt_session_status(s);
	assert_false(json_is_true(json_object_get(st, "connected")));
	json_decref(st);
	/* generous: the point is "not stuck for libvirt's timeouts (minutes)" */
	assert_true(xpv_now_ns() - t0 < 1000 * MS);
	libvirt_session_put(s); /* leaves the stuck thread behind, 2 s at most */
	assert_true(xpv_now_ns() - t0 < 5000 * MS);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(session_finds_by_id),
		cmocka_unit_test_setup_teardown(kyoto_by_domain_id, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(hung_libvirtd_does_not_block, setup_tmp,
						teardown_tmp),
	};

	setenv(XPV_TEST_MODE_ENV, "1", 1);
	return cmocka_run_group_tests_name("xpvd-libvirt", tests, create_nasty, drop_nasty);
}
