// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEST ONLY: guest-side checker for the virtio-numa driver's user-space ABI,
 * run inside test VMs (tests/suites/60-e2e-*).  Each subcommand prints what it
 * saw and exits 0 when the check holds, 1 when it does not, 2 on usage errors.
 *
 *   mkblob FILE VERSION HIDS HOMES VHNODES [CORRUPT [ARCHIDS]]   write a format-2
 *       blob in one write()
 *       HIDS: host node ids "0,1"; HOMES: home index per guest node ("-" = unknown,
 *       "m" = memoryless); VHNODES: host-node index per vCPU entry ("-" = unknown,
 *       "u" = not present); ARCHIDS: arch_id (APIC ID) per entry, default the
 *       entry's index; host_cpu of every vCPU and size of every guest node are
 *       derived from VERSION so torn reads show.
 *       CORRUPT: none|magic|vcpu-index|count|offset|distance|bytes|arch-dup|
 *       format1|memoryless-size
 *   page | read            print the map from the mmap()ed page / from read()
 *   abi                    refuse write mappings/opens, bad lengths and offsets
 *   poll-new CMD...        ack, run CMD (publishes a map), expect poll readable,
 *                          sysfs POLLPRI on version, and a change uevent
 *   poll-quiet CMD...      ack, run CMD (publishes nothing new), expect no wakeup
 *   gone PRESENT-FILE      with the device open and mapped, write 0 to
 *                          PRESENT-FILE; expect EPOLLHUP, -ENODEV, a still
 *                          readable mapping
 *   busy-unload            with only a mapping left, the module must refuse to unload
 *   wait-change VERSION MS wait (poll) up to MS ms for a version other than VERSION
 *   getcpu CPU             print "node_syscall node_vdso" of CPU
 *   stress BLOBFILE N READERS   N maps written while READERS check the page
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xpv/virtio_numa.h>

#include "blob.h"

#define DEV "/dev/xpv_numa"
#define SYSV "/sys/class/misc/xpv_numa/version"

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "vnuma-check: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return 1;
}

/* ---- blob generator ---- */

static int parse_list(const char *s, int *out, int max)
{
	int n = 0;
	char *dup = strdup(s), *tok, *save = NULL;

	for (tok = strtok_r(dup, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		out[n++] = !strcmp(tok, "-")   ? 0xffff
			   : !strcmp(tok, "m") ? -1 /* memoryless guest node */
			   : !strcmp(tok, "u") ? -2 /* vCPU not present */
					       : atoi(tok);
	free(dup);
	return n;
}

static int cmd_mkblob(int argc, char **argv)
{
	static struct blob b;
	int hids[64], homes[64], vh[1024], arch[1024];
	int nh, ng, nv, fd;
	unsigned int i, j;
	uint64_t version;
	uint32_t off = 48;
	const char *corrupt = argc > 6 ? argv[6] : "none";

	if (argc < 6)
		return 2;
	version = strtoull(argv[2], NULL, 0);
	nh = parse_list(argv[3], hids, 64);
	ng = parse_list(argv[4], homes, 64);
	nv = parse_list(argv[5], vh, 1024);
	for (i = 0; i < (unsigned int)nv; i++)
		arch[i] = i;
	if (argc > 7 && parse_list(argv[7], arch, 1024) != nv)
		return fail("%s: need one arch_id per vCPU entry", argv[7]);
	memset(&b, 0, sizeof(b));
	b.stride = 24 + 8 * nh;
	b.off_hnodes = off;
	off += ALIGN8(2u * nh);
	b.off_dist = off;
	off += ALIGN8((uint32_t)nh * nh);
	b.off_gnodes = off;
	off += (uint32_t)ng * b.stride;
	b.off_vcpus = off;
	off += VCPU_SIZE * nv;
	b.len = off;
	put32(b.buf + H_MAGIC, 0x4d4e5658);
	put16(b.buf + H_FORMAT, 2);
	put16(b.buf + H_HDR_LEN, 48);
	put64(b.buf + H_VERSION, version);
	put16(b.buf + H_NR_HNODES, nh);
	put16(b.buf + H_NR_GNODES, ng);
	put16(b.buf + H_NR_VCPUS, nv);
	blob_sync_hdr(&b);
	for (i = 0; i < (unsigned int)nh; i++) {
		put16(b.buf + b.off_hnodes + 2 * i, hids[i]);
		for (j = 0; j < (unsigned int)nh; j++)
			b.buf[b.off_dist + i * nh + j] = i == j ? 10 : 20;
	}
	for (i = 0; i < (unsigned int)ng; i++) {
		uint8_t *e = b.buf + b.off_gnodes + i * b.stride;
		uint64_t size = (256ull << 20) + version * 4096;

		if (homes[i] < 0) { /* memoryless: no size, no home, nothing placed */
			put16(e, 0xffff);
			put16(e + 2, 4);
			continue;
		}
		put16(e, homes[i]);
		put64(e + 8, size);
		put64(e + 16, size / 4);
		for (j = 0; j < (unsigned int)nh; j++)
			put64(e + 24 + 8 * j, j == (unsigned int)homes[i] ? size / 2 : 4096 * j);
	}
	for (i = 0; i < (unsigned int)nv; i++) {
		uint8_t *e = b.buf + b.off_vcpus + VCPU_SIZE * i;

		put32(e + V_ARCH_ID, arch[i]);
		put32(e + V_HOST_CPU, vh[i] == -2 ? 0xffffffffu : (uint32_t)version);
		put16(e + V_HNODE, vh[i] == -2 ? 0xffff : vh[i]);
		put16(e + V_FLAGS, vh[i] == -2 ? 0 : 1);
	}
	if (!strcmp(corrupt, "magic"))
		put32(b.buf + H_MAGIC, 0);
	else if (!strcmp(corrupt, "vcpu-index"))
		put16(b.buf + b.off_vcpus + V_HNODE, nh);
	else if (!strcmp(corrupt, "count"))
		put16(b.buf + H_NR_VCPUS, nv + 1); /* != the configuration's */
	else if (!strcmp(corrupt, "offset"))
		put32(b.buf + H_OFF_VCPUS, b.len - 4);
	else if (!strcmp(corrupt, "distance"))
		b.buf[b.off_dist] = 0;
	else if (!strcmp(corrupt, "bytes"))
		put64(b.buf + b.off_gnodes + 16, UINT64_MAX);
	else if (!strcmp(corrupt, "arch-dup") && nv > 1)
		put32(b.buf + b.off_vcpus + VCPU_SIZE + V_ARCH_ID, arch[0]);
	else if (!strcmp(corrupt, "format1"))
		put16(b.buf + H_FORMAT, 1);
	else if (!strcmp(corrupt, "memoryless-size"))
		put16(b.buf + b.off_gnodes + 2, 4);
	else if (strcmp(corrupt, "none"))
		return 2;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, b.buf, b.len) != (ssize_t)b.len || close(fd))
		return fail("writing %s", argv[1]);
	return 0;
}

/* ---- page reader ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* Bytes of the page the current layout uses, from a header copy. */
static size_t used_bytes(const struct xpv_page_hdr *h)
{
	size_t end = sizeof(*h);

	if (h->version && h->off_vcpus + (size_t)h->nr_vcpus * 8 <= XPV_PAGE_SIZE)
		end = h->off_vcpus + (size_t)h->nr_vcpus * 8;
	return end;
}

/*
 * Seqcount read of the mmap()ed page into buf, as docs/guest-abi.md tells
 * readers: copy only what the layout uses, yield while the writer is busy.
 */
static int snapshot(const volatile uint8_t *page, uint8_t *buf)
{
	const volatile struct xpv_page_hdr *h = (const volatile void *)page;
	uint64_t deadline = now_ms() + 20000;

	while (now_ms() < deadline) {
		uint32_t s1 = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE), s2;

		if (!(s1 & 1)) {
			memcpy(buf, (const void *)page, sizeof(struct xpv_page_hdr));
			memcpy(buf, (const void *)page, used_bytes((const void *)buf));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			s2 = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
			if (s1 == s2)
				return 0;
		}
		sched_yield();
	}
	return -1;
}

/* Same text as the sysfs files, so the test can diff the two. */
static int print_page(const uint8_t *p)
{
	const struct xpv_page_hdr *h = (const void *)p;
	const uint16_t *ids = (const void *)(p + h->off_hnode_ids);
	unsigned int i, j;

	if (h->magic != XPV_PAGE_MAGIC || h->abi != XPV_PAGE_ABI || h->hdr_len < sizeof(*h))
		return fail("bad page header%s", "");
	printf("version %llu\n", (unsigned long long)h->version);
	printf("updates %llu\nrejects %llu\nmirrored %u\n", (unsigned long long)h->updates,
	       (unsigned long long)h->rejects, h->flags & XPV_PAGE_F_MIRRORED ? 1 : 0);
	printf("host_nodes");
	for (i = 0; i < h->nr_hnodes; i++)
		printf("%s%u", i ? " " : " ", ids[i]);
	printf("\n");
	for (i = 0; i < h->nr_vcpus; i++) {
		const struct xpv_page_vcpu *v = (const void *)(p + h->off_vcpus + 8 * i);

		printf("vcpus %u %d %lld %d\n", i, v->hnode == 0xffff ? -1 : ids[v->hnode],
		       v->host_cpu == 0xffffffffu ? -1LL : (long long)v->host_cpu,
		       v->gnode == 0xffff ? -1 : v->gnode);
	}
	for (i = 0; i < h->nr_gnodes; i++) {
		const struct xpv_page_gnode *g =
			(const void *)(p + h->off_gnodes + i * h->gnode_stride);

		printf("gnodes %u %d %llu %llu", i, g->home == 0xffff ? -1 : ids[g->home],
		       (unsigned long long)g->size_bytes, (unsigned long long)g->unplaced_bytes);
		for (j = 0; j < h->nr_hnodes; j++)
			printf(" %llu", (unsigned long long)g->bytes_on[j]);
		printf("\n");
	}
	for (i = 0; i < h->nr_hnodes; i++) {
		printf("distances");
		for (j = 0; j < h->nr_hnodes; j++)
			printf(" %u", p[h->off_dist + i * h->nr_hnodes + j]);
		printf("\n");
	}
	return 0;
}

static void *map_page(int *fdp)
{
	int fd = open(DEV, O_RDONLY);
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, XPV_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return p;
}

static int cmd_page(void)
{
	static uint8_t buf[XPV_PAGE_SIZE];
	int fd;
	void *p = map_page(&fd);

	if (!p)
		return fail("mmap %s failed", DEV);
	if (snapshot(p, buf))
		return fail("seq never settled%s", "");
	return print_page(buf);
}

static int cmd_read(void)
{
	static uint8_t buf[XPV_PAGE_SIZE];
	int fd = open(DEV, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fail("open %s", DEV);
	n = pread(fd, buf, sizeof(buf), 0);
	if (n != XPV_PAGE_SIZE)
		return fail("short read of %s", DEV);
	if (pread(fd, buf, 1, XPV_PAGE_SIZE) != 0)
		return fail("read past the page is not EOF%s", "");
	if (((struct xpv_page_hdr *)buf)->seq & 1)
		return fail("read() returned a page being written%s", "");
	return print_page(buf);
}

static int cmd_abi(void)
{
	int fd = open(DEV, O_RDONLY), bad = 0;
	void *p;

	if (fd < 0)
		return fail("open %s", DEV);
	if (open(DEV, O_RDWR) >= 0 || errno != EPERM)
		bad |= fail("open O_RDWR was not refused with EPERM (%s)", strerror(errno));
	p = mmap(NULL, XPV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		bad |= fail("a writable shared mapping was allowed%s", "");
	p = mmap(NULL, XPV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p != MAP_FAILED)
		bad |= fail("a writable private mapping was allowed%s", "");
	p = mmap(NULL, 2 * XPV_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		bad |= fail("a mapping larger than the page was allowed%s", "");
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096);
	if (p != MAP_FAILED)
		bad |= fail("a mapping at offset 4096 was allowed%s", "");
	p = mmap(NULL, XPV_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("read-only mapping refused: %s", strerror(errno));
	if (mprotect(p, XPV_PAGE_SIZE, PROT_READ | PROT_WRITE) == 0)
		bad |= fail("mprotect(PROT_WRITE) was allowed%s", "");
	if (((struct xpv_page_hdr *)p)->magic != XPV_PAGE_MAGIC)
		bad |= fail("bad magic in the mapping%s", "");
	if (!bad)
		printf("abi ok\n");
	return bad;
}

/* ---- notifications ---- */

static int run(char **cmd)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int uevent_socket(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
	int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

	if (s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* A change uevent of the misc device carrying XPV_NUMA_VERSION, within timeout_ms. */
static int wait_uevent(int s, int timeout_ms)
{
	char msg[8192];
	struct pollfd pfd = {.fd = s, .events = POLLIN};

	while (poll(&pfd, 1, timeout_ms) > 0) {
		ssize_t n = recv(s, msg, sizeof(msg) - 1, 0);
		int change = 0, misc = 0, ver = 0;
		char *q;

		if (n <= 0)
			return 0;
		msg[n] = 0;
		for (q = msg; q < msg + n; q += strlen(q) + 1) {
			change |= !strcmp(q, "ACTION=change");
			misc |= !strcmp(q, "DEVNAME=xpv_numa");
			ver |= !strncmp(q, "XPV_NUMA_VERSION=", 17);
		}
		if (change && misc && ver)
			return 1;
	}
	return 0;
}

static int cmd_poll(char **cmd, int expect_new)
{
	char buf[64];
	int fd = open(DEV, O_RDONLY), sfd = open(SYSV, O_RDONLY), us = uevent_socket(), bad = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct pollfd spfd = {.fd = sfd, .events = POLLPRI};
	int r, timeout = expect_new ? 20000 : 1000;

	if (fd < 0 || sfd < 0 || us < 0)
		return fail("open device, sysfs version or uevent socket%s", "");
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		bad |= fail("a fresh open is not readable although a map exists%s", "");
	if (read(fd, buf, 1) != 1)
		return fail("read%s", "");
	if (poll(&pfd, 1, 0) != 0)
		bad |= fail("still readable after read()%s", "");
	if (read(sfd, buf, sizeof(buf)) <= 0)
		return fail("read sysfs version%s", "");
	if (run(cmd))
		return fail("command %s failed", cmd[0]);
	r = poll(&pfd, 1, timeout);
	if (expect_new && (r != 1 || !(pfd.revents & POLLIN)))
		bad |= fail("no POLLIN after a new map%s", "");
	if (!expect_new && r != 0)
		bad |= fail("woken although no new map was published%s", "");
	r = poll(&spfd, 1, expect_new ? timeout : 0);
	if (expect_new && (r != 1 || !(spfd.revents & POLLPRI)))
		bad |= fail("no sysfs_notify on version%s", "");
	if (expect_new && !wait_uevent(us, timeout))
		bad |= fail("no change uevent with XPV_NUMA_VERSION%s", "");
	if (!bad)
		printf("poll ok\n");
	return bad;
}

/* Returns when the map version differs from @version, or after timeout_ms; prints it. */
static int cmd_wait_change(unsigned long long version, int timeout_ms)
{
	struct xpv_page_hdr h;
	struct pollfd pfd;
	int fd = open(DEV, O_RDONLY);

	if (fd < 0)
		return fail("open %s", DEV);
	/* the read marks the current version seen, so poll waits for the next */
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
		return fail("read %s", DEV);
	if (h.version == version) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) == 1 && pread(fd, &h, sizeof(h), 0) != sizeof(h))
			return fail("read %s", DEV);
	}
	printf("%llu\n", (unsigned long long)h.version);
	close(fd);
	return 0;
}

/* ---- lifetime ---- */

static int cmd_gone(const char *present)
{
	int fd, pf, bad = 0;
	const struct xpv_page_hdr *h = map_page(&fd);
	struct pollfd pfd;
	uint64_t v;
	char c;

	if (!h)
		return fail("mmap %s", DEV);
	v = h->version;
	pf = open(present, O_WRONLY);
	if (pf < 0 || write(pf, "0", 1) != 1)
		return fail("writing 0 to %s", present);
	close(pf);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 || !(pfd.revents & (POLLHUP | POLLERR)))
		bad |= fail("no POLLHUP/POLLERR after the device went away%s", "");
	if (read(fd, &c, 1) != -1 || errno != ENODEV)
		bad |= fail("read after removal did not fail with ENODEV%s", "");
	if (h->magic != XPV_PAGE_MAGIC || h->version != v)
		bad |= fail("the mapping changed after removal%s", "");
	if (access(DEV, F_OK) == 0)
		bad |= fail("%s still exists", DEV);
	munmap((void *)h, XPV_PAGE_SIZE);
	close(fd);
	if (!bad)
		printf("gone ok\n");
	return bad;
}

static int cmd_busy_unload(void)
{
	int fd, bad = 0;
	void *p = map_page(&fd);

	if (!p)
		return fail("mmap %s", DEV);
	close(fd); /* only the mapping holds the file now */
	if (syscall(SYS_delete_module, "virtio_numa", O_NONBLOCK) == 0)
		return fail("the module unloaded under a live mapping%s", "");
	if (errno != EWOULDBLOCK && errno != EBUSY)
		bad |= fail("delete_module: unexpected %s", strerror(errno));
	if (((struct xpv_page_hdr *)p)->magic != XPV_PAGE_MAGIC)
		bad |= fail("mapping unreadable%s", "");
	munmap(p, XPV_PAGE_SIZE);
	if (!bad)
		printf("busy ok\n");
	return bad;
}

static int cmd_getcpu(int cpu)
{
	cpu_set_t set;
	unsigned int c1 = ~0u, n1 = ~0u, c2 = ~0u, n2 = ~0u;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return fail("sched_setaffinity: %s", strerror(errno));
	if (syscall(SYS_getcpu, &c1, &n1, NULL))
		return fail("getcpu: %s", strerror(errno));
	if (getcpu(&c2, &n2)) /* glibc: the vDSO */
		return fail("getcpu (vDSO): %s", strerror(errno));
	if ((int)c1 != cpu)
		return fail("not running on the requested CPU%s", "");
	printf("%u %u\n", n1, n2);
	return 0;
}

/* ---- concurrency ---- */

/* Every map of the stress run sets host_cpu of each vCPU and size from its version. */
static int check_consistent(const uint8_t *p, uint64_t *last)
{
	const struct xpv_page_hdr *h = (const void *)p;
	unsigned int i;

	if (!h->version)
		return 0;
	if (h->version < *last)
		return fail("version went backwards%s", "");
	*last = h->version;
	for (i = 0; i < h->nr_vcpus; i++) {
		const struct xpv_page_vcpu *v = (const void *)(p + h->off_vcpus + 8 * i);

		if (v->host_cpu != (uint32_t)h->version)
			return fail("torn snapshot: host_cpu does not match the version%s", "");
	}
	for (i = 0; i < h->nr_gnodes; i++) {
		const struct xpv_page_gnode *g =
			(const void *)(p + h->off_gnodes + i * h->gnode_stride);

		if (g->size_bytes != (256ull << 20) + h->version * 4096)
			return fail("torn snapshot: size does not match the version%s", "");
	}
	return 0;
}

static int reader(int use_read, volatile int *stop)
{
	static uint8_t buf[XPV_PAGE_SIZE];
	uint64_t last = 0;
	unsigned long n = 0;
	int fd;
	void *p = map_page(&fd);

	if (!p)
		return 1;
	while (!*stop) {
		if (use_read) {
			if (pread(fd, buf, sizeof(buf), 0) != XPV_PAGE_SIZE)
				return fail("pread%s", "");
		} else if (snapshot(p, buf)) {
			return fail("seq never settled%s", "");
		}
		if (check_consistent(buf, &last))
			return 1;
		n++;
	}
	fprintf(stderr, "reader(%s): %lu snapshots, last version %llu\n",
		use_read ? "read" : "mmap", n, (unsigned long long)last);
	return 0;
}

static int cmd_stress(const char *blobfile, int n, int readers)
{
	volatile int *stop =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[16];
	int i, st, bad = 0;
	char ver[32];
	char *cmd[] = {"mkblob", (char *)blobfile, ver, "0,1", "0,1", "0,1,1,0", NULL};

	if (stop == MAP_FAILED || readers > 16)
		return 2;
	*stop = 0;
	for (i = 0; i < readers; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(reader(i % 2, stop));
	}
	for (i = 0; i < n; i++) {
		snprintf(ver, sizeof(ver), "%d", 1000 + i);
		if (cmd_mkblob(6, cmd))
			bad = 1;
	}
	*stop = 1;
	for (i = 0; i < readers; i++) {
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	}
	if (!bad)
		printf("stress ok\n");
	return bad;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "mkblob") && argc >= 6)
		return cmd_mkblob(argc - 1, argv + 1);
	if (!strcmp(argv[1], "page"))
		return cmd_page();
	if (!strcmp(argv[1], "read"))
		return cmd_read();
	if (!strcmp(argv[1], "abi"))
		return cmd_abi();
	if (!strcmp(argv[1], "poll-new") && argc >= 3)
		return cmd_poll(argv + 2, 1);
	if (!strcmp(argv[1], "poll-quiet") && argc >= 3)
		return cmd_poll(argv + 2, 0);
	if (!strcmp(argv[1], "gone") && argc == 3)
		return cmd_gone(argv[2]);
	if (!strcmp(argv[1], "busy-unload"))
		return cmd_busy_unload();
	if (!strcmp(argv[1], "wait-change") && argc == 4)
		return cmd_wait_change(strtoull(argv[2], NULL, 0), atoi(argv[3]));
	if (!strcmp(argv[1], "getcpu") && argc == 3)
		return cmd_getcpu(atoi(argv[2]));
	if (!strcmp(argv[1], "stress") && argc == 5)
		return cmd_stress(argv[2], atoi(argv[3]), atoi(argv[4]));
usage:
	fprintf(stderr, "usage: see the comment at the top of vnuma_check.c\n");
	return 2;
}
