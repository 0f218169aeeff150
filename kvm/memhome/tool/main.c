// SPDX-License-Identifier: GPL-2.0
/* xpv-memhome: inspect and repair where a QEMU process's guest RAM lives. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *f)
{
	fputs("usage: xpv-memhome status --pid PID [--qmp SOCK] [--exact [--stride N]] [--json]\n"
	      "       xpv-memhome repatriate --pid PID --policy periodic|threshold|off\n"
	      "                  [--period DUR] [--threshold BYTES] [--scan-interval DUR]\n"
	      "                  [--min-gap DUR] [--rate BYTES] [--cpu-budget FRACTION]\n"
	      "                  [--batch PAGES] [--backoff DUR] [--max-fails N]\n"
	      "                  [--duration DUR | --once] [--log FILE] [--format json|csv]\n"
	      "       xpv-memhome audit [--pid PID] [--qmp SOCK] [--json] [--strict]\n"
	      "target options: --qmp SOCK  --region START-END:NODE | memdev=ID:NODE\n"
	      "                --home NODE  --min-size BYTES (default 64M)\n"
	      "sizes take K/M/G suffixes (binary), durations ms/s/m/h (plain = seconds)\n"
	      "exit: 0 ok, 1 error, 2 usage, 3 the target process exited\n",
	      f);
}

void target_opts_init(struct target_opts *t)
{
	memset(t, 0, sizeof(*t));
	mh_vm_opts_init(&t->vm);
	t->vm.specs = t->specs;
}

static int parse_node(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v >= MH_MAX_NODES)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_region(const char *arg, struct mh_region_spec *s)
{
	const char *colon = strrchr(arg, ':');
	char *end;

	memset(s, 0, sizeof(*s));
	if (!colon || parse_node(colon + 1, &s->home))
		return -1;
	if (!strncmp(arg, "memdev=", 7)) {
		size_t len = colon - (arg + 7);

		if (len == 0 || len >= sizeof(s->memdev))
			return -1;
		memcpy(s->memdev, arg + 7, len);
		return 0;
	}
	errno = 0;
	s->start = strtoull(arg, &end, 16);
	if (errno || *end != '-')
		return -1;
	s->end = strtoull(end + 1, &end, 16);
	if (errno || end != colon || s->end <= s->start)
		return -1;
	return 0;
}

int target_opt(struct target_opts *t, int opt, const char *arg)
{
	switch (opt) {
	case 'p': {
		char *end;
		long v;

		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || v <= 0 || v > 0x7fffffff) {
			fprintf(stderr, "xpv-memhome: --pid `%s`: not a process id\n", arg);
			return -1;
		}
		t->vm.pid = (int)v;
		return 1;
	}
	case 'q':
		t->vm.qmp_path = arg;
		return 1;
	case 'r':
		if (t->vm.nr_specs == (int)(sizeof(t->specs) / sizeof(t->specs[0]))) {
			fprintf(stderr, "xpv-memhome: too many --region\n");
			return -1;
		}
		if (parse_region(arg, &t->specs[t->vm.nr_specs])) {
			fprintf(stderr,
				"xpv-memhome: --region `%s`: expected START-END:NODE (hex) or "
				"memdev=ID:NODE\n",
				arg);
			return -1;
		}
		t->vm.nr_specs++;
		return 1;
	case 'H':
		if (parse_node(arg, &t->vm.default_home)) {
			fprintf(stderr, "xpv-memhome: --home `%s`: not a node number\n", arg);
			return -1;
		}
		return 1;
	case 'm':
		if (mh_parse_bytes(arg, &t->vm.min_region_size)) {
			fprintf(stderr, "xpv-memhome: --min-size `%s`: not a size\n", arg);
			return -1;
		}
		return 1;
	case 'j':
		t->json = true;
		return 1;
	case 'P':
		t->vm.proc_root = arg;
		return 1;
	}
	return 0;
}

int target_check(const struct target_opts *t)
{
	if (t->vm.pid <= 0) {
		fprintf(stderr, "xpv-memhome: --pid is required\n");
		return -1;
	}
	return 0;
}

void print_error(const char *verb, struct xpv_error **err)
{
	if (*err && (*err)->status > 0)
		fprintf(stderr, "xpv-memhome %s: %s: %s\n", verb,
			(*err)->msg ? (*err)->msg : "error", strerror((*err)->status));
	else
		fprintf(stderr, "xpv-memhome %s: %s\n", verb,
			*err && (*err)->msg ? (*err)->msg : "unknown error");
	xpv_error_free(err);
}

void print_region_json(FILE *f, const struct mh_region *r)
{
	int maxn = 0;

	for (int k = 0; k < MH_MAX_NODES; k++)
		if (r->node_bytes[k] || k == r->home)
			maxn = k;
	fprintf(f,
		"{\"name\":\"%s\",\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64
		"\",\"home\":%d,\"home_source\":\"%s\",\"policy\":\"%s\",\"page_size\":%" PRIu64
		",\"resident_bytes\":%" PRIu64 ",\"remote_bytes\":%" PRIu64 ",\"nodes\":[",
		r->name, r->start, r->end, r->home, mh_home_source_name(r->home_src), r->policy,
		r->page_size, r->resident_bytes, r->remote_bytes);
	for (int k = 0; k <= maxn; k++)
		fprintf(f, "%s%" PRIu64, k ? "," : "", r->node_bytes[k]);
	fputs("]}", f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "repatriate"))
		return cmd_repatriate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "audit"))
		return cmd_audit(argc - 1, argv + 1);
	fprintf(stderr, "xpv-memhome: unknown command `%s`\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
