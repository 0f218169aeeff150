// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xpvctl: talk to xpvd over its UNIX socket (protocol in docs/xpvd.md).
 * The command table below is the one place commands are known on this
 * side: it checks the words before anything is sent, and gives the help
 * (xpvctl --help, xpvctl COMMAND --help) without a running daemon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

static void print_placement(json_t *r)
{
	json_t *v, *mem = json_object_get(r, "memory"), *nb;
	const char *node;
	char buf[32];
	size_t i;

	if (json_object_get(r, "domain"))
		printf("domain %s  uuid %s  id %lld  (xpvd VM %s)\n",
		       json_string_value(json_object_get(r, "domain")),
		       json_string_value(json_object_get(r, "uuid")),
		       (long long)json_integer_value(json_object_get(r, "id")),
		       json_string_value(json_object_get(r, "vm")));
	else
		printf("VM %s (%s)\n", json_string_value(json_object_get(r, "vm")),
		       json_string_value(json_object_get(r, "kind")));
	printf("%-6s %-8s %-5s %s\n", "VCPU", "TID", "CPU", "NODE");
	json_array_foreach (json_object_get(r, "vcpus"), i, v) {
		char vc[16] = "-", cpu[16] = "-", nd[16] = "-";

		if (json_is_integer(json_object_get(v, "vcpu")))
			snprintf(vc, sizeof(vc), "%lld",
				 (long long)json_integer_value(json_object_get(v, "vcpu")));
		if (json_is_integer(json_object_get(v, "cpu")))
			snprintf(cpu, sizeof(cpu), "%lld",
				 (long long)json_integer_value(json_object_get(v, "cpu")));
		if (json_is_integer(json_object_get(v, "node")))
			snprintf(nd, sizeof(nd), "%lld",
				 (long long)json_integer_value(json_object_get(v, "node")));
		printf("%-6s %-8lld %-5s %s\n", vc,
		       (long long)json_integer_value(json_object_get(v, "tid")), cpu, nd);
	}
	if (!json_is_object(mem)) {
		printf("memory: %s\n", json_string_value(json_object_get(r, "memory_note")));
		return;
	}
	printf("memory (%s, %s):", json_string_value(json_object_get(mem, "source")),
	       json_string_value(json_object_get(mem, "state")));
	json_object_foreach (json_object_get(mem, "bytes_per_node"), node, nb) {
		human_bytes(buf, sizeof(buf), json_number_value(nb));
		printf(" node%s=%s", node, buf);
	}
	putchar('\n');
}

/* Exit codes, documented in xpvctl(8) and --help. */
enum {
	XPVCTL_EXIT_OK = 0,
	XPVCTL_EXIT_FAILED = 1, /* xpvd ran the command and reported an error */
	XPVCTL_EXIT_USAGE = 2, /* bad command line */
	XPVCTL_EXIT_UNREACHABLE = 3, /* no xpvd on the socket, or no valid reply */
};

struct command {
	const char *words; /* the fixed leading words */
	const char *args; /* the rest, for the help */
	int min_args, max_args; /* beyond the fixed words */
	const char *help;
};

static const struct command commands[] = {
	{"status", "", 0, 0, "one line per VM: permit, pollution, charge, quota, Kyoto state"},
	{"events", "", 0, 0, "the perf events Kyoto counts, as opened on this host"},
	{"permit set", "VM VALUE|none", 2, 2,
	 "book VALUE LLC misses per ms for VM (none: no permit), until cleared or restart"},
	{"permit clear", "VM", 1, 1,
	 "drop the permit set with xpvctl; config or metadata apply again"},
	{"homing status", "[VM]", 0, 1, "memory homing per VM and per region"},
	{"homing repatriate", "VM", 1, 1, "move VM's guest memory back to its home nodes now"},
	{"audit", "VM", 1, 1,
	 "what lets VM's memory drift off its home nodes (host and QEMU checks)"},
	{"placement", "DOMAIN", 1, 1,
	 "where DOMAIN (name or UUID) runs: CPU and host node of each vCPU thread, memory per "
	 "node"},
	{"domain started", "UUID [NAME]", 1, 2,
	 "for the libvirt hook: a domain started, refresh xpvd's libvirt view now"},
	{"domain stopped", "UUID [NAME]", 1, 2,
	 "for the libvirt hook: a domain stopped, refresh xpvd's libvirt view now"},
	{"ping", "", 0, 0, "check that xpvd answers"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: xpvctl [OPTION]... COMMAND [ARG]...\n"
		   "Query and steer xpvd, the xpv host agent.\n"
		   "\n"
		   "  -s, --socket=PATH  xpvd's control socket (default $XPVD_SOCKET or\n"
		   "                     /run/xpvd/ctl.sock)\n"
		   "  -j, --json         print xpvd's JSON reply as is\n"
		   "  -h, --help         display this help and exit\n"
		   "  -V, --version      output version information and exit\n"
		   "\n"
		   "Commands (xpvctl COMMAND --help for one):\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s %s", commands[i].words, commands[i].args);
		fprintf(f, "  %-32s %s\n", left, commands[i].help);
	}
	fprintf(f, "\n"
		   "Exit status:\n"
		   "  0  success\n"
		   "  1  xpvd reported an error for the command\n"
		   "  2  bad command line\n"
		   "  3  xpvd not reachable, or no valid reply\n"
		   "\n"
		   "See xpvctl(8).\n");
}

static void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: xpvctl [OPTION]... %s%s%s\n%s\n", c->words, c->args[0] ? " " : "",
		c->args, c->help);
}

/* How many of argv's words the command's fixed words take, or 0. */
static int match_words(const struct command *c, int argc, char **argv)
{
	char buf[64], *save = NULL;
	int k = 0;

	snprintf(buf, sizeof(buf), "%s", c->words);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save), k++)
		if (k >= argc || strcmp(argv[k], w))
			return 0;
	return k;
}

static bool is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* The most words of argv a command's fixed words take, and that command. */
static const struct command *find_command(int argc, char **argv, int *fixed)
{
	const struct command *best = NULL;

	*fixed = 0;
	for (size_t i = 0; i < N_COMMANDS; i++) {
		int k = match_words(&commands[i], argc, argv);

		if (k > *fixed) {
			best = &commands[i];
			*fixed = k;
		}
	}
	return best;
}

/* Help for "xpvctl audit --help", "xpvctl help permit": the command, or
 * every command whose first word it is.  false when nothing matches. */
static bool command_help(int argc, char **argv)
{
	int fixed;
	const struct command *c = find_command(argc, argv, &fixed);
	size_t l = strlen(argv[0]);
	bool any = false;

	if (c) {
		command_usage(stdout, c);
		return true;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strncmp(commands[i].words, argv[0], l) &&
		    (commands[i].words[l] == ' ' || !commands[i].words[l])) {
			command_usage(stdout, &commands[i]);
			any = true;
		}
	return any;
}

/* Check argv against the table; prints help or usage errors itself.
 * Returns -1 to go on, or an exit code. */
static int check_command(int argc, char **argv)
{
	const struct command *c;
	int fixed;

	if (!strcmp(argv[0], "help") && argc == 1) {
		usage(stdout);
		return XPVCTL_EXIT_OK;
	}
	if (!strcmp(argv[0], "help") || is_help(argv[argc - 1])) {
		if (!strcmp(argv[0], "help")) {
			argv++;
			argc--;
		}
		if (command_help(argc, argv))
			return XPVCTL_EXIT_OK;
		fprintf(stderr, "xpvctl: no command `%s` (try xpvctl --help)\n", argv[0]);
		return XPVCTL_EXIT_USAGE;
	}
	c = find_command(argc, argv, &fixed);
	if (!c) {
		fprintf(stderr, "xpvctl: unknown command `%s` (try xpvctl --help)\n", argv[0]);
		return XPVCTL_EXIT_USAGE;
	}
	if (argc - fixed < c->min_args || argc - fixed > c->max_args) {
		fprintf(stderr, "xpvctl: %s: expects %s%s\n", c->words,
			c->args[0] ? c->args : "no arguments",
			argc - fixed > c->max_args ? " (too many arguments)" : "");
		command_usage(stderr, c);
		return XPVCTL_EXIT_USAGE;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	/* xpvd answers within its 2 s per-client deadline or closes */
	struct timeval tv = {.tv_sec = 30};
	const char *sock = getenv("XPVD_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char req[4096], *resp = NULL;
	size_t len = 0, cap = 0;
	int opt, raw = 0, fd, ok, rc;
	json_error_t jerr;
	json_t *r;

	if (!sock)
		sock = "/run/xpvd/ctl.sock";
	while ((opt = getopt_long(argc, argv, "+s:jhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			raw = 1;
			break;
		case 'h':
			usage(stdout);
			return XPVCTL_EXIT_OK;
		case 'V':
			printf("xpvctl %s\n", XPV_VERSION);
			return XPVCTL_EXIT_OK;
		default:
			fprintf(stderr, "Try 'xpvctl --help' for more information.\n");
			return XPVCTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr,
			"xpvctl: missing command\nTry 'xpvctl --help' for more information.\n");
		return XPVCTL_EXIT_USAGE;
	}
	rc = check_command(argc - optind, argv + optind);
	if (rc >= 0)
		return rc;
	req[0] = '\0';
	for (int i = optind; i < argc; i++) {
		if (strlen(req) + strlen(argv[i]) + 2 >= sizeof(req) || !argv[i][0] ||
		    strpbrk(argv[i], " \t\n")) {
			fprintf(stderr, "xpvctl: bad argument `%s`\n", argv[i]);
			return XPVCTL_EXIT_USAGE;
		}
		strcat(req, argv[i]);
		strcat(req, i + 1 < argc ? " " : "\n");
	}
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "xpvctl: socket path too long\n");
		return XPVCTL_EXIT_USAGE;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "xpvctl: connecting to `%s`: %s (is xpvd running?)\n", sock,
			strerror(errno));
		return XPVCTL_EXIT_UNREACHABLE;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "xpvctl: sending: %s\n", strerror(errno));
		return XPVCTL_EXIT_UNREACHABLE;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 > cap) {
			char *nr;

			cap = cap ? cap * 2 : 8192;
			nr = realloc(resp, cap);
			if (!nr) {
				free(resp);
				return XPVCTL_EXIT_FAILED;
			}
			resp = nr;
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
		return XPVCTL_EXIT_UNREACHABLE;
	}
	resp[len] = '\0';
	r = json_loads(resp, 0, &jerr);
	if (!r) {
		fprintf(stderr, "xpvctl: bad reply: %s\n", jerr.text);
		free(resp);
		return XPVCTL_EXIT_UNREACHABLE;
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
	} else if (!strcmp(argv[optind], "placement")) {
		print_placement(json_object_get(r, "result"));
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
	return ok ? XPVCTL_EXIT_OK : XPVCTL_EXIT_FAILED;
}
