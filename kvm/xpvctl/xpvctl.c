// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xpvctl: talk to xpvd over its UNIX socket (protocol in docs/xpvd.md).
 *   xpvctl [-s SOCKET] [-j] status | events | permit set VM VALUE|none |
 *          permit clear VM | homing status [VM] | homing repatriate VM |
 *          audit VM | ping
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* LLC domains (hwloc), the pollution charged in each, and each VM's share
 * of it (known when xpvd counts per cgroup and CPU). */
static void print_domains(json_t *kyoto)
{
	json_t *doms = json_object_get(json_object_get(kyoto, "topology"), "llc_domains");
	json_t *vms = json_object_get(kyoto, "vms"), *d, *vm;
	size_t i, j;
	int header = 0;

	if (!json_array_size(doms))
		return;
	printf("\n%-10s %-16s %-8s %10s %12s\n", "LLC", "CPUS", "NODES", "CACHE_KIB", "POLLUTION");
	json_array_foreach (doms, i, d) {
		char pol[32] = "-";

		if (json_is_number(json_object_get(d, "charged")))
			snprintf(pol, sizeof(pol), "%.1f",
				 json_number_value(json_object_get(d, "charged")));
		printf("%-10lld %-16s %-8s %10lld %12s\n",
		       (long long)json_integer_value(json_object_get(d, "domain")),
		       json_string_value(json_object_get(d, "cpus")),
		       json_string_value(json_object_get(d, "nodes")),
		       (long long)json_integer_value(json_object_get(d, "cache_kib")), pol);
	}
	json_array_foreach (vms, i, vm) {
		if (!json_array_size(json_object_get(vm, "domains")))
			continue;
		if (!header++)
			printf("\n%-16s %-10s %12s %16s\n", "VM", "LLC", "CHARGED", "EVENTS_TOTAL");
		json_array_foreach (json_object_get(vm, "domains"), j, d)
			printf("%-16s %-10lld %12.1f %16.0f\n",
			       json_string_value(json_object_get(vm, "vm")),
			       (long long)json_integer_value(json_object_get(d, "domain")),
			       json_number_value(json_object_get(d, "charged")),
			       json_number_value(json_object_get(d, "charged_events_total")));
	}
}

static void print_status(json_t *r)
{
	json_t *vms =
		json_object_get(json_object_get(json_object_get(r, "controllers"), "kyoto"), "vms");
	json_t *vm;
	size_t i;

	printf("%-16s %-8s %10s %-8s %12s %12s %12s %-10s %8s %8s %8s\n", "VM", "KIND", "PERMIT",
	       "SOURCE", "POLLUTION", "CHARGED", "QUOTA", "STATE", "PUNISHED", "CPU_CAP",
	       "CPU_USED");
	json_array_foreach (vms, i, vm) {
		json_t *p = json_object_get(vm, "permit");
		char permit[32] = "-";

		if (json_is_number(p))
			snprintf(permit, sizeof(permit), "%.1f", json_number_value(p));
		printf("%-16s %-8s %10s %-8s %12.1f %12.1f %12.1f %-10s %8lld "
		       "%8.3f %8.3f%s%s\n",
		       json_string_value(json_object_get(vm, "vm")),
		       json_string_value(json_object_get(vm, "kind")), permit,
		       json_string_value(json_object_get(vm, "permit_source")),
		       json_number_value(json_object_get(vm, "llc_cap_act")),
		       json_number_value(json_object_get(vm, "charged")),
		       json_number_value(json_object_get(vm, "quota")),
		       json_string_value(json_object_get(vm, "state")),
		       (long long)json_integer_value(json_object_get(vm, "punished")),
		       json_number_value(json_object_get(vm, "cpu_cap")),
		       json_number_value(json_object_get(vm, "cpus_used")),
		       json_object_get(vm, "degraded") ? "  degraded: " : "",
		       json_object_get(vm, "degraded")
			       ? json_string_value(json_object_get(vm, "degraded"))
			       : "");
	}
	print_domains(json_object_get(json_object_get(r, "controllers"), "kyoto"));
}

static void human_bytes(char *buf, size_t len, double b)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;

	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f%s" : "%.0f%s", b, u[i]);
}

static double num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* One line per VM, then one per region with its bytes on each host node. */
static void print_homing(json_t *r)
{
	json_t *vms = json_object_get(r, "vms"), *vm;
	size_t i;

	printf("%-16s %-7s %-10s %-12s %10s %10s %6s %10s %9s %9s\n", "VM", "PID", "POLICY",
	       "STATE", "RESIDENT", "REMOTE", "PASSES", "MOVED", "UNMOVABLE", "LAST_PASS");
	json_array_foreach (vms, i, vm) {
		json_t *regs = json_object_get(vm, "regions"), *reg, *u, *lp;
		char res[32], rem[32], mov[32], last[32] = "-";
		long long unmov = 0;
		const char *k;
		size_t j;

		json_object_foreach (json_object_get(vm, "unmovable_pages"), k, u)
			unmov += json_integer_value(u);
		human_bytes(res, sizeof(res), num(vm, "resident_bytes"));
		human_bytes(rem, sizeof(rem), num(vm, "remote_bytes"));
		human_bytes(mov, sizeof(mov), num(vm, "moved_bytes"));
		lp = json_object_get(vm, "last_pass_s");
		if (json_is_number(lp))
			snprintf(last, sizeof(last), "%.0fs ago", json_number_value(lp));
		printf("%-16s %-7lld %-10s %-12s %10s %10s %6lld %10s %9lld %9s%s%s\n",
		       json_string_value(json_object_get(vm, "vm")),
		       (long long)json_integer_value(json_object_get(vm, "pid")),
		       json_string_value(json_object_get(vm, "policy")),
		       json_string_value(json_object_get(vm, "state")), res, rem,
		       (long long)json_integer_value(json_object_get(vm, "passes")), mov, unmov,
		       last, json_object_get(vm, "degraded") ? "  degraded: " : "",
		       json_object_get(vm, "degraded")
			       ? json_string_value(json_object_get(vm, "degraded"))
			       : "");
		json_array_foreach (regs, j, reg) {
			json_t *nodes = json_object_get(reg, "bytes_per_node"), *nb;
			const char *node;

			human_bytes(res, sizeof(res), num(reg, "resident_bytes"));
			human_bytes(rem, sizeof(rem), num(reg, "remote_bytes"));
			printf("  %-24s home %-3lld (%s) resident %s remote %s  nodes:",
			       json_string_value(json_object_get(reg, "region")),
			       (long long)json_integer_value(json_object_get(reg, "home")),
			       json_string_value(json_object_get(reg, "home_source")), res, rem);
			json_object_foreach (nodes, node, nb) {
				human_bytes(res, sizeof(res), json_number_value(nb));
				printf(" %s=%s", node, res);
			}
			putchar('\n');
		}
	}
}

static void print_audit(json_t *r)
{
	json_t *f;
	size_t i;

	json_array_foreach (json_object_get(r, "findings"), i, f)
		printf("%-5s %-24s %s\n", json_string_value(json_object_get(f, "severity")),
		       json_string_value(json_object_get(f, "code")),
		       json_string_value(json_object_get(f, "message")));
	printf("%lld warning(s)\n", (long long)json_integer_value(json_object_get(r, "warnings")));
}

int main(int argc, char **argv)
{
	const char *sock = getenv("XPVD_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char req[4096], *resp = NULL;
	size_t len = 0, cap = 0;
	int opt, raw = 0, fd, ok;
	json_error_t jerr;
	json_t *r;

	if (!sock)
		sock = "/run/xpvd/ctl.sock";
	while ((opt = getopt(argc, argv, "+s:jh")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			raw = 1;
			break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: xpvctl [-s SOCKET] [-j] status | events | "
				"permit set VM VALUE|none | permit clear VM | "
				"homing status [VM] | homing repatriate VM | audit VM | "
				"ping\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "xpvctl: missing command (try -h)\n");
		return 2;
	}
	req[0] = '\0';
	for (int i = optind; i < argc; i++) {
		if (strlen(req) + strlen(argv[i]) + 2 >= sizeof(req) || strpbrk(argv[i], " \t\n")) {
			fprintf(stderr, "xpvctl: bad argument `%s`\n", argv[i]);
			return 2;
		}
		strcat(req, argv[i]);
		strcat(req, i + 1 < argc ? " " : "\n");
	}
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "xpvctl: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "xpvctl: connecting to `%s`: %s (is xpvd running?)\n", sock,
			strerror(errno));
		return 1;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "xpvctl: sending: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			resp = realloc(resp, cap);
			if (!resp)
				return 1;
		}
		n = read(fd, resp + len, cap - len - 1);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (!resp || !len) {
		fprintf(stderr, "xpvctl: no reply from xpvd\n");
		free(resp);
		return 1;
	}
	resp[len] = '\0';
	r = json_loads(resp, 0, &jerr);
	if (!r) {
		fprintf(stderr, "xpvctl: bad reply: %s\n", jerr.text);
		free(resp);
		return 1;
	}
	ok = json_is_true(json_object_get(r, "ok"));
	if (!ok) {
		fprintf(stderr, "xpvctl: %s\n", json_string_value(json_object_get(r, "error")));
	} else if (raw) {
		fputs(resp, stdout);
	} else if (!strcmp(argv[optind], "status")) {
		print_status(json_object_get(r, "result"));
	} else if (!strcmp(argv[optind], "homing") && optind + 1 < argc &&
		   !strcmp(argv[optind + 1], "status")) {
		print_homing(json_object_get(r, "result"));
	} else if (!strcmp(argv[optind], "audit")) {
		print_audit(json_object_get(r, "result"));
	} else {
		char *s =
			json_dumps(json_object_get(r, "result"), JSON_INDENT(2) | JSON_ENCODE_ANY);

		if (s)
			puts(s);
		free(s);
	}
	json_decref(r);
	free(resp);
	return ok ? 0 : 1;
}
