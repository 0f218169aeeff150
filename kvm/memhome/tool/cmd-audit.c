// SPDX-License-Identifier: GPL-2.0
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "tool.h"

struct out {
	bool json;
	int n;
};

static void finding(enum mh_severity sev, const char *code, const char *msg, void *arg)
{
	struct out *o = arg;

	if (o->json) {
		json_t *f = json_pack("{s:s, s:s, s:s}", "severity", mh_severity_name(sev), "code",
				      code, "message", msg);

		/* jansson escapes the message; findings are joined into one array */
		if (o->n)
			putchar(',');
		if (f)
			json_dumpf(f, stdout, JSON_COMPACT);
		json_decref(f);
	} else {
		printf("%-5s %-24s %s\n", mh_severity_name(sev), code, msg);
	}
	o->n++;
}

int cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {TARGET_LONG_OPTS,
						 {"strict", no_argument, NULL, 's'},
						 {"sys-root", required_argument, NULL, 'S'},
						 {NULL, 0, NULL, 0}};
	struct mh_audit_opts ao = {.proc_root = "/proc", .sys_root = "/sys"};
	struct target_opts t;
	struct xpv_error *err = NULL;
	struct out o = {0};
	bool strict = false;
	int opt, rc;

	target_opts_init(&t);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		rc = target_opt(&t, opt, optarg);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc)
			continue;
		if (opt == 's')
			strict = true;
		else if (opt == 'S')
			ao.sys_root = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "xpv-memhome audit: unexpected `%s`\n", argv[optind]);
		return EXIT_USAGE;
	}
	ao.pid = t.vm.pid;
	ao.qmp_path = t.vm.qmp_path;
	ao.proc_root = t.vm.proc_root;
	ao.min_region_size = t.vm.min_region_size;
	o.json = t.json;
	if (o.json)
		printf("{\"findings\":[");
	rc = mh_audit(&ao, finding, &o, &err);
	if (o.json)
		printf("],\"warnings\":%d}\n", rc > 0 ? rc : 0);
	if (rc < 0) {
		print_error("audit", &err);
		return 1;
	}
	if (!o.json)
		printf("%d warning(s)\n", rc);
	return strict && rc > 0 ? 1 : 0;
}
