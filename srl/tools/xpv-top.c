// SPDX-License-Identifier: BSD-3-Clause
/*
 * xpv-top: print the live NUMA placement of this VM (libxpv), once or on
 * every change.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xpv/xpv.h>

static const char usage[] =
	"usage: xpv-top [--once | --watch [--count N] [--timeout MS]] [--json]\n"
	"               [--dev PATH] [--sysfs ROOT]\n"
	"  --once        print the map and exit (default)\n"
	"  --watch       print the map, then again on every change (blocks)\n"
	"  --count N     with --watch: exit after N changes\n"
	"  --timeout MS  with --watch: exit 3 if no change comes for MS ms\n"
	"  --json        one JSON object per map (one per line)\n"
	"  --dev PATH    map page to read (default /dev/xpv_numa)\n"
	"  --sysfs ROOT  sysfs root for the no-device fallback (default /sys)\n";

static const char *prog = "xpv-top";

static double mib(uint64_t b)
{
	return (double)b / (1 << 20);
}

static void print_text(const struct xpv_snapshot *s, const char *src)
{
	int nh = xpv_snapshot__nr_hnodes(s), ng = xpv_snapshot__nr_nodes(s);
	int nc = xpv_snapshot__nr_cpus(s), i, j;
	unsigned int fl = xpv_snapshot__flags(s);

	if (fl & XPV_SNAP_F_FALLBACK)
		printf("map version 0: static topology from %s (no device)\n", src);
	else
		printf("map version %" PRIu64 " from %s: kernel cpu-to-node %s;"
		       " driver accepted %" PRIu64 ", rejected %" PRIu64 "\n",
		       xpv_snapshot__version(s), src,
		       fl & XPV_SNAP_F_MIRRORED ? "follows the map" : "not mirrored",
		       xpv_snapshot__updates(s), xpv_snapshot__rejects(s));

	printf("\nhost nodes: %d\n  distance", nh);
	for (j = 0; j < nh; j++)
		printf(" %5d", xpv_snapshot__hnode_id(s, j));
	printf("\n");
	for (i = 0; i < nh; i++) {
		int a = xpv_snapshot__hnode_id(s, i);

		printf("     %4d", a);
		for (j = 0; j < nh; j++)
			printf(" %5d",
			       xpv_snapshot__hnode_distance(s, a, xpv_snapshot__hnode_id(s, j)));
		printf("\n");
	}

	printf("\nguest nodes: %d\n  %4s  %4s  %-14s %10s %12s  %s\n", ng, "node", "home", "flags",
	       "size_MiB", "unplaced_MiB", "host_node:MiB");
	for (i = 0; i < ng; i++) {
		struct xpv_node_mem m;
		char flags[32];

		if (xpv_snapshot__node_mem(s, i, &m))
			continue;
		snprintf(flags, sizeof(flags), "%s%s%s", m.flags & XPV_NODE_F_BOUND ? "bound" : "",
			 (m.flags & XPV_NODE_F_BOUND) && (m.flags & XPV_NODE_F_MAJORITY) ? "," : "",
			 m.flags & XPV_NODE_F_MAJORITY ? "majority" : "");
		printf("  %4d", i);
		if (m.home < 0)
			printf("  %4s", "-");
		else
			printf("  %4d", m.home);
		printf("  %-14s %10.1f %12.1f ", flags[0] ? flags : "-", mib(m.size_bytes),
		       mib(m.unplaced_bytes));
		for (j = 0; j < (int)m.nr_hnodes; j++)
			printf(" %d:%.1f", m.hnode[j], mib(m.bytes_on[j]));
		printf("\n");
	}

	printf("\nvcpus: %d\n   cpu  node  hnode  host_cpu\n", nc);
	for (i = 0; i < nc; i++) {
		int n = xpv_snapshot__cpu_node(s, i);
		int h = xpv_snapshot__cpu_hnode(s, i);
		long c = xpv_snapshot__cpu_host_cpu(s, i);

		printf("  %4d", i);
		printf(n < 0 ? "     -" : "  %4d", n);
		printf(h < 0 ? "      -" : "   %4d", h);
		printf(c < 0 ? "         -\n" : "  %8ld\n", c);
	}
	fflush(stdout);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_int(long v)
{
	if (v < 0)
		printf("null");
	else
		printf("%ld", v);
}

static void print_json(const struct xpv_snapshot *s, const char *src)
{
	int nh = xpv_snapshot__nr_hnodes(s), ng = xpv_snapshot__nr_nodes(s);
	int nc = xpv_snapshot__nr_cpus(s), i, j;
	unsigned int fl = xpv_snapshot__flags(s);

	printf("{\"version\":%" PRIu64 ",\"live\":%s,\"source\":", xpv_snapshot__version(s),
	       fl & XPV_SNAP_F_FALLBACK ? "false" : "true");
	json_str(src);
	printf(",\"mirrored\":%s,\"updates\":%" PRIu64 ",\"rejects\":%" PRIu64,
	       fl & XPV_SNAP_F_MIRRORED ? "true" : "false", xpv_snapshot__updates(s),
	       xpv_snapshot__rejects(s));
	printf(",\"hnodes\":[");
	for (i = 0; i < nh; i++) {
		int a = xpv_snapshot__hnode_id(s, i);

		printf("%s{\"id\":%d,\"distances\":{", i ? "," : "", a);
		for (j = 0; j < nh; j++) {
			int b = xpv_snapshot__hnode_id(s, j);

			printf("%s\"%d\":%d", j ? "," : "", b,
			       xpv_snapshot__hnode_distance(s, a, b));
		}
		printf("}}");
	}
	printf("],\"nodes\":[");
	for (i = 0; i < ng; i++) {
		struct xpv_node_mem m;

		if (xpv_snapshot__node_mem(s, i, &m))
			continue;
		printf("%s{\"node\":%d,\"home\":", i ? "," : "", i);
		json_int(m.home);
		printf(",\"bound\":%s,\"majority\":%s,\"size_bytes\":%" PRIu64
		       ",\"unplaced_bytes\":%" PRIu64 ",\"bytes_on\":{",
		       m.flags & XPV_NODE_F_BOUND ? "true" : "false",
		       m.flags & XPV_NODE_F_MAJORITY ? "true" : "false", m.size_bytes,
		       m.unplaced_bytes);
		for (j = 0; j < (int)m.nr_hnodes; j++)
			printf("%s\"%d\":%" PRIu64, j ? "," : "", m.hnode[j], m.bytes_on[j]);
		printf("}}");
	}
	printf("],\"cpus\":[");
	for (i = 0; i < nc; i++) {
		printf("%s{\"cpu\":%d,\"node\":", i ? "," : "", i);
		json_int(xpv_snapshot__cpu_node(s, i));
		printf(",\"hnode\":");
		json_int(xpv_snapshot__cpu_hnode(s, i));
		printf(",\"host_cpu\":");
		json_int(xpv_snapshot__cpu_host_cpu(s, i));
		printf("}");
	}
	printf("]}\n");
	fflush(stdout);
}

/* Print the current map; 0, or 1 after reporting an error. */
static int show(struct xpv *x, const char *src, int json)
{
	struct xpv_snapshot *s = xpv_snapshot(x);

	if (!s) {
		if (errno == ENODATA) {
			if (json)
				printf("{\"version\":0,\"live\":true,"
				       "\"map\":null}\n");
			else
				printf("map version 0 from %s: the device has "
				       "not published a map yet\n",
				       src);
			fflush(stdout);
			return 0;
		}
		fprintf(stderr, "%s: %s: cannot read the map: %s\n", prog, src, strerror(errno));
		return 1;
	}
	if (json)
		print_json(s, src);
	else
		print_text(s, src);
	xpv_snapshot_free(s);
	return 0;
}

static long parse_num(const char *opt, const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (end == arg || *end || errno || v < 0) {
		fprintf(stderr, "%s: %s: '%s' is not a non-negative number\n", prog, opt, arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"once", no_argument, NULL, 'o'},
		{"watch", no_argument, NULL, 'w'},
		{"count", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"dev", required_argument, NULL, 'd'},
		{"sysfs", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct xpv_open_opts opts = {.sz = sizeof(opts)};
	int watch = 0, json = 0, opt, ret;
	long count = -1, timeout = -1, changes = 0;
	char src[4200];
	uint64_t v;
	struct xpv *x;

	while ((opt = getopt_long(argc, argv, "owc:t:jd:s:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			watch = 0;
			break;
		case 'w':
			watch = 1;
			break;
		case 'c':
			count = parse_num("--count", optarg);
			break;
		case 't':
			timeout = parse_num("--timeout", optarg);
			if (timeout > 86400000) {
				fprintf(stderr, "%s: --timeout: at most a day\n", prog);
				return 2;
			}
			break;
		case 'j':
			json = 1;
			break;
		case 'd':
			opts.dev_path = optarg;
			break;
		case 's':
			opts.sysfs_root = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n%s", prog, argv[optind], usage);
		return 2;
	}
	if (!watch && (count >= 0 || timeout >= 0)) {
		fprintf(stderr, "%s: --count and --timeout need --watch\n", prog);
		return 2;
	}

	x = xpv_open(&opts);
	if (!x) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, opts.dev_path ?: "/dev/xpv_numa",
			strerror(errno));
		return 1;
	}
	if (xpv_is_live(x))
		snprintf(src, sizeof(src), "%s", opts.dev_path ?: "/dev/xpv_numa");
	else
		snprintf(src, sizeof(src), "%s", opts.sysfs_root ?: "/sys");

	v = xpv_version(x);
	ret = show(x, src, json);
	if (ret || !watch)
		goto out;
	if (!xpv_is_live(x)) {
		fprintf(stderr,
			"%s: --watch: no device (%s), the static sysfs "
			"topology never changes\n",
			prog, opts.dev_path ?: "/dev/xpv_numa");
		ret = 1;
		goto out;
	}
	while (count < 0 || changes < count) {
		int r = xpv_wait(x, &v, timeout < 0 ? -1 : (int)timeout);

		if (r < 0) {
			fprintf(stderr, "%s: waiting for a change: %s\n", prog, strerror(-r));
			ret = 1;
			break;
		}
		if (r == 0) {
			fprintf(stderr, "%s: no change within %ld ms\n", prog, timeout);
			ret = 3;
			break;
		}
		changes++;
		if (!json) {
			char ts[32];
			time_t now = time(NULL);

			strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
			printf("\n--- %s: version %" PRIu64 " ---\n", ts, v);
		}
		ret = show(x, src, json);
		if (ret)
			break;
	}
out:
	xpv_close(x);
	return ret;
}
