// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEST ONLY: guest-side helper of the end-to-end suites 61-e2e-vcpu-move,
 * 62-e2e-migration and bench/xpv-latency.  Built static (libxpv.a linked in)
 * so it runs from the busybox initramfs.  Each subcommand prints one line of
 * "key=value" fields and exits 0 when its check holds, 1 when it does not,
 * 2 on usage or setup errors.
 *
 *   wait-hnode CPU HNODE TIMEOUT_MS READYFILE
 *       open /dev/xpv_numa, read the page, write READYFILE (tmp + rename) with
 *       the version, then block in poll() until a map shows vCPU CPU on host
 *       node id HNODE (every wakeup is counted).  Fails if the condition
 *       already held before blocking or on timeout.  READYFILE "-": no
 *       file, and a condition that already holds is success (baseline).
 *   getcpu CPU          pin to CPU; print the getcpu(2) syscall node and the vDSO node
 *   touch CPU NPAGES    pin to CPU, first-touch NPAGES fresh anonymous pages and
 *                       print on which guest node move_pages(2) finds them
 *   libxpv CPU          libxpv's view: version, xpv_cpu_node, xpv_cpu_hnode
 *   wait-change VERSION TIMEOUT_MS
 *       libxpv xpv_wait(): print the version once it differs from VERSION, or
 *       the current one after TIMEOUT_MS
 *   kmsg WORDS...       print "xpv-e2e: WORDS" on the console through printk
 *   latency N TIMEOUT_MS
 *       N times: read the page, print "ARMED i version hnode-of-vCPU-1", block
 *       in poll() until a map shows vCPU 1 on another host node, print
 *       "WOKE i version hnode other-maps" at once (the host times the
 *       console lines; other-maps counts wakeups by maps that did not move
 *       vCPU 1); "TIMEOUT i version hnode" and exit 1 after TIMEOUT_MS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <xpv/virtio_numa.h>
#include <xpv/xpv.h>

#define DEV "/dev/xpv_numa"

static uint8_t page[XPV_PAGE_SIZE];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* A consistent copy of the page (read() takes the writer's lock) and marks it seen. */
static int read_page(int fd)
{
	if (pread(fd, page, sizeof(page), 0) != (ssize_t)sizeof(page)) {
		fprintf(stderr, "xpv-e2e: read %s: %s\n", DEV, strerror(errno));
		return -1;
	}
	return 0;
}

static uint64_t page_version(void)
{
	return ((const struct xpv_page_hdr *)page)->version;
}

/* host node id of vCPU cpu in the copied page, -1 unknown, -2 no entry */
static int page_hnode(int cpu)
{
	const struct xpv_page_hdr *h = (const void *)page;
	const uint16_t *ids = (const void *)(page + h->off_hnode_ids);
	const struct xpv_page_vcpu *v;

	if (!h->version || cpu < 0 || (unsigned int)cpu >= h->nr_vcpus ||
	    h->off_vcpus + 8ull * h->nr_vcpus > XPV_PAGE_SIZE)
		return -2;
	v = (const void *)(page + h->off_vcpus + 8 * cpu);
	if (v->hnode == 0xffff || v->hnode >= h->nr_hnodes)
		return -1;
	return ids[v->hnode];
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "xpv-e2e: sched_setaffinity(%d): %s\n", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

static int cmd_wait_hnode(int cpu, int hnode, int timeout_ms, const char *ready)
{
	int fd = open(DEV, O_RDONLY), wakes = 0, r;
	uint64_t start, deadline, first_block_ms = 0, v0;
	char tmp[512];
	FILE *f;

	if (fd < 0 || read_page(fd))
		return 2;
	v0 = page_version();
	if (page_hnode(cpu) == hnode && !strcmp(ready, "-")) {
		printf("result=ok wakes=0 version=%llu cpu=%d hnode=%d\n", (unsigned long long)v0,
		       cpu, hnode);
		return 0;
	}
	if (page_hnode(cpu) == hnode) {
		printf("result=already version=%llu cpu=%d hnode=%d\n", (unsigned long long)v0, cpu,
		       hnode);
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
	f = strcmp(ready, "-") ? fopen(tmp, "w") : NULL;
	if (strcmp(ready, "-") && (!f || fprintf(f, "%llu\n", (unsigned long long)v0) < 0 ||
				   fclose(f) || rename(tmp, ready))) {
		fprintf(stderr, "xpv-e2e: writing %s failed\n", ready);
		return 2;
	}
	start = now_ms();
	deadline = start + timeout_ms;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t t = now_ms();

		if (t >= deadline) {
			printf("result=timeout wakes=%d version=%llu cpu=%d hnode_now=%d\n", wakes,
			       (unsigned long long)page_version(), cpu, page_hnode(cpu));
			return 1;
		}
		r = poll(&pfd, 1, (int)(deadline - t));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "xpv-e2e: poll: %s\n", strerror(errno));
			return 2;
		}
		if (r == 0)
			continue;
		if (!wakes)
			first_block_ms = now_ms() - start;
		wakes++;
		if (pfd.revents & (POLLHUP | POLLERR)) {
			fprintf(stderr, "xpv-e2e: device went away\n");
			return 2;
		}
		if (read_page(fd))
			return 2;
		if (page_hnode(cpu) == hnode)
			break;
	}
	printf("result=ok wakes=%d first_wake_ms=%llu total_ms=%llu version_before=%llu "
	       "version=%llu "
	       "cpu=%d hnode=%d\n",
	       wakes, (unsigned long long)first_block_ms, (unsigned long long)(now_ms() - start),
	       (unsigned long long)v0, (unsigned long long)page_version(), cpu, hnode);
	close(fd);
	return 0;
}

static int cmd_getcpu(int cpu)
{
	unsigned int c1 = ~0u, n1 = ~0u, c2 = ~0u, n2 = ~0u;

	if (pin(cpu))
		return 2;
	if (syscall(SYS_getcpu, &c1, &n1, NULL) || getcpu(&c2, &n2)) {
		fprintf(stderr, "xpv-e2e: getcpu: %s\n", strerror(errno));
		return 2;
	}
	if ((int)c1 != cpu)
		return 2;
	printf("cpu=%u node_syscall=%u node_vdso=%u\n", c1, n1, n2);
	return 0;
}

static int cmd_touch(int cpu, int npages)
{
	long psz = sysconf(_SC_PAGESIZE);
	void **pages;
	int *status, i, count[8] = {0}, other = 0;
	char *mem;

	if (npages < 1 || npages > 65536 || pin(cpu))
		return 2;
	mem = mmap(NULL, npages * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pages = calloc(npages, sizeof(*pages));
	status = calloc(npages, sizeof(*status));
	if (mem == MAP_FAILED || !pages || !status)
		return 2;
	for (i = 0; i < npages; i++) {
		mem[i * psz] = 1; /* first touch, on CPU cpu */
		pages[i] = mem + i * psz;
	}
	if (syscall(SYS_move_pages, 0, (unsigned long)npages, pages, NULL, status, 0)) {
		fprintf(stderr, "xpv-e2e: move_pages: %s\n", strerror(errno));
		return 2;
	}
	for (i = 0; i < npages; i++) {
		if (status[i] >= 0 && status[i] < 8)
			count[status[i]]++;
		else
			other++;
	}
	printf("cpu=%d ran_on=%d pages=%d node0=%d node1=%d other=%d\n", cpu, sched_getcpu(),
	       npages, count[0], count[1], other);
	return 0;
}

static int cmd_libxpv(int cpu)
{
	LIBXPV_OPTS(xpv_open_opts, o, .flags = XPV_OPEN_NO_FALLBACK);
	struct xpv *x = xpv_open(&o);

	if (!x) {
		fprintf(stderr, "xpv-e2e: xpv_open: %s\n", strerror(errno));
		return 2;
	}
	printf("live=%d version=%llu cpu=%d cpu_node=%d cpu_hnode=%d\n", xpv_is_live(x),
	       (unsigned long long)xpv_version(x), cpu, xpv_cpu_node(x, cpu),
	       xpv_cpu_hnode(x, cpu));
	xpv_close(x);
	return 0;
}

static int cmd_wait_change(uint64_t v, int timeout_ms)
{
	LIBXPV_OPTS(xpv_open_opts, o, .flags = XPV_OPEN_NO_FALLBACK);
	struct xpv *x = xpv_open(&o);
	int r;

	if (!x) {
		fprintf(stderr, "xpv-e2e: xpv_open: %s\n", strerror(errno));
		return 2;
	}
	r = xpv_wait(x, &v, timeout_ms);
	if (r < 0) {
		fprintf(stderr, "xpv-e2e: xpv_wait: %s\n", strerror(-r));
		return 2;
	}
	printf("%llu\n", (unsigned long long)xpv_version(x));
	xpv_close(x);
	return 0;
}

/*
 * Console lines for the host go through printk (/dev/kmsg, level 1 so that
 * "quiet" shows it): they carry the guest's time stamp and are written to the
 * console by the kernel as soon as they are logged.  Boot with
 * printk.devkmsg=on: by default user writes to /dev/kmsg are rate-limited
 * (10 lines per 5 s) and the excess is dropped.
 */
static int kmsg = -1;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int len = snprintf(line, sizeof(line), "<1>xpv-e2e: ");

	va_start(ap, fmt);
	len += vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (kmsg < 0 || write(kmsg, line, len) != len)
		fputs(line + 3, stdout);
}

static int cmd_latency(int n, int timeout_ms)
{
	int fd = open(DEV, O_RDONLY), i;

	if (fd < 0)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	kmsg = open("/dev/kmsg", O_WRONLY);
	for (i = 0; i < n; i++) {
		int r, h0, other = 0;

		if (read_page(fd))
			return 2;
		h0 = page_hnode(1);
		out("ARMED %d %llu %d\n", i, (unsigned long long)page_version(), h0);
		for (;;) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};

			r = poll(&pfd, 1, timeout_ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r != 1 || read_page(fd)) {
				out("TIMEOUT %d %llu %d\n", i, (unsigned long long)page_version(),
				    page_hnode(1));
				return 1;
			}
			if (page_hnode(1) != h0)
				break;
			other++; /* a map that did not move vCPU 1 */
		}
		out("WOKE %d %llu %d %d\n", i, (unsigned long long)page_version(), page_hnode(1),
		    other);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "wait-hnode"))
		return cmd_wait_hnode(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argv[5]);
	if (argc == 3 && !strcmp(argv[1], "getcpu"))
		return cmd_getcpu(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "touch"))
		return cmd_touch(atoi(argv[2]), atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "libxpv"))
		return cmd_libxpv(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "wait-change"))
		return cmd_wait_change(strtoull(argv[2], NULL, 0), atoi(argv[3]));
	if (argc >= 3 &&
	    !strcmp(argv[1], "kmsg")) { /* kmsg WORDS...: one console line via printk */
		char line[400] = "";

		kmsg = open("/dev/kmsg", O_WRONLY);
		for (int i = 2; i < argc; i++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s",
				 i > 2 ? " " : "", argv[i]);
		out("%s\n", line);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "latency"))
		return cmd_latency(atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: see the comment at the top of tests/e2e/xpv-e2e.c\n");
	return 2;
}
