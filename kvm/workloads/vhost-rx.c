// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A guest's virtio-net RX queue without a guest: drives the host's real
 * /dev/vhost-net the way QEMU does for a VM (VHOST_SET_OWNER, a memory table
 * over "guest RAM" this process never touches, one split vring, a tap device
 * as the backend), posts pages of guest RAM as RX buffers and sends frames
 * out of the tap (AF_PACKET), so the vhost worker copies them into those
 * buffers and is the first to touch their pages.  Used by the test host's
 * vhost scenarios (kvm/tests/vhost-testhost.sh).
 *
 *   vhost-rx [-m MIB] [-t]     -m guest RAM size (default 32), -t THP allowed
 *                              (MADV_HUGEPAGE; default MADV_NOHUGEPAGE)
 * Prints "ready PID 0xSTART 0xEND TAPNAME", then answers one line per
 * command read from stdin:
 *   fill N [FIRST]    pages FIRST..FIRST+N-1 (default: the next unused ones;
 *                     N <= 256) become RX buffers, frames are sent until
 *                     vhost has used every one of them (deadline 120 s):
 *                     "filled N FIRST C0 C1 ... ABSENT" (pages per node)
 *   count FIRST N     "count C0 C1 ... ABSENT" (move_pages query)
 *   dontneed FIRST N  MADV_DONTNEED (a balloon or free page reporting
 *                     discard): "ok"
 *   reset             the device closed and set up again, as on a virtio
 *                     reset (the kernel starts a new worker): "ok"
 * Errors: "error MESSAGE" on stdout; exit status 1 when setting up fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <numa.h>
#include <numaif.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QSIZE 256
#define PAGE 4096ul
#define FRAME_LEN 1000
#define WINDOW 32 /* frames in flight: the tap's queue never overflows */

static char *ram;
static size_t ram_pages, next_page;
static int vhost_fd = -1, kick_fd = -1, call_fd = -1, tap_fd = -1, pkt_fd = -1, ifindex;
static char tap_name[IFNAMSIZ];
static struct vring vr;
static void *ring_mem;
static uint16_t avail_idx;

static int fail(const char *what)
{
	printf("error %s: %s\n", what, strerror(errno));
	fflush(stdout);
	return -1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int open_tap(void)
{
	struct ifreq ifr = {0};
	int s;

	tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap_fd < 0)
		return fail("/dev/net/tun");
	/* as QEMU's tap: vhost-net without VHOST_NET_F_VIRTIO_NET_HDR expects
	 * the socket to put a virtio-net header before each frame, and drops
	 * frames that come without */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "xpvvh%%d");
	if (ioctl(tap_fd, TUNSETIFF, &ifr) < 0)
		return fail("TUNSETIFF");
	snprintf(tap_name, sizeof(tap_name), "%s", ifr.ifr_name);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return fail("SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return fail("SIOCSIFFLAGS");
	close(s);
	ifindex = (int)if_nametoindex(tap_name);
	pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (!ifindex || pkt_fd < 0)
		return fail("AF_PACKET socket");
	return 0;
}

/* What QEMU's vhost-net backend does at device start, for RX queue 0. */
static int setup_vhost(void)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} mem = {{.nregions = 1}, {0, ram_pages * PAGE, (uintptr_t)ram, 0}};
	struct vhost_vring_state num = {0, QSIZE}, base = {0, 0};
	struct vhost_vring_addr addr = {0};
	struct vhost_vring_file kick, call, be;
	uint64_t features = 0;

	vhost_fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (vhost_fd < 0)
		return fail("/dev/vhost-net");
	if (ioctl(vhost_fd, VHOST_SET_OWNER, NULL) < 0)
		return fail("VHOST_SET_OWNER");
	if (ioctl(vhost_fd, VHOST_SET_FEATURES, &features) < 0)
		return fail("VHOST_SET_FEATURES");
	if (ioctl(vhost_fd, VHOST_SET_MEM_TABLE, &mem) < 0)
		return fail("VHOST_SET_MEM_TABLE");
	memset(ring_mem, 0, 3 * PAGE);
	vr.num = QSIZE;
	vr.desc = ring_mem;
	vr.avail = (void *)((char *)ring_mem + PAGE);
	vr.used = (void *)((char *)ring_mem + 2 * PAGE);
	avail_idx = 0;
	addr.index = 0;
	addr.desc_user_addr = (uintptr_t)vr.desc;
	addr.avail_user_addr = (uintptr_t)vr.avail;
	addr.used_user_addr = (uintptr_t)vr.used;
	if (ioctl(vhost_fd, VHOST_SET_VRING_NUM, &num) < 0 ||
	    ioctl(vhost_fd, VHOST_SET_VRING_BASE, &base) < 0 ||
	    ioctl(vhost_fd, VHOST_SET_VRING_ADDR, &addr) < 0)
		return fail("setting up the vring");
	kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	kick = (struct vhost_vring_file){0, kick_fd};
	call = (struct vhost_vring_file){0, call_fd};
	be = (struct vhost_vring_file){0, tap_fd};
	if (kick_fd < 0 || call_fd < 0 || ioctl(vhost_fd, VHOST_SET_VRING_KICK, &kick) < 0 ||
	    ioctl(vhost_fd, VHOST_SET_VRING_CALL, &call) < 0)
		return fail("vring eventfds");
	if (ioctl(vhost_fd, VHOST_NET_SET_BACKEND, &be) < 0)
		return fail("VHOST_NET_SET_BACKEND");
	return 0;
}

static void teardown_vhost(void)
{
	close(vhost_fd);
	close(kick_fd);
	close(call_fd);
	vhost_fd = kick_fd = call_fd = -1;
}

static int send_frame(void)
{
	static unsigned char frame[FRAME_LEN];
	struct sockaddr_ll to = {.sll_family = AF_PACKET,
				 .sll_ifindex = ifindex,
				 .sll_halen = ETH_ALEN,
				 .sll_addr = {0x02, 0, 0, 0, 0, 0x01}};

	/* to 02:00:00:00:00:01 from 02:00:00:00:00:02, a local experimental type */
	memcpy(frame, to.sll_addr, 6);
	memcpy(frame + 6, "\x02\0\0\0\0\x02", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	return sendto(pkt_fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) < 0 ? -1
											       : 0;
}

static void count(size_t first, size_t n, char *out, size_t len)
{
	int maxn = numa_max_node(), absent = 0, per[64] = {0};
	void **pages = calloc(n, sizeof(*pages));
	int *status = calloc(n, sizeof(*status));
	size_t off = 0;

	if (!pages || !status || maxn >= 64) {
		snprintf(out, len, "error no memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		pages[i] = ram + (first + i) * PAGE;
	if (n && move_pages(0, n, pages, NULL, status, 0) < 0) {
		snprintf(out, len, "error move_pages: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (status[i] >= 0 && status[i] <= maxn)
			per[status[i]]++;
		else
			absent++;
	}
	for (int node = 0; node <= maxn; node++)
		off += snprintf(out + off, len - off, " %d", per[node]);
	snprintf(out + off, len - off, " %d", absent);
out:
	free(pages);
	free(status);
}

static int fill(size_t n, size_t first)
{
	uint16_t target = avail_idx + n, used;
	uint64_t end = now_ms() + 120000;
	char buf[512];
	size_t sent = 0, frames = 0;

	if (!n || n > QSIZE || first + n > ram_pages) {
		printf("error fill: N must be 1-%d and the pages inside guest RAM\n", QSIZE);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		vr.desc[i] = (struct vring_desc){(first + i) * PAGE, PAGE, VRING_DESC_F_WRITE, 0};
		vr.avail->ring[(uint16_t)(avail_idx + i) % QSIZE] = i;
	}
	__atomic_store_n(&vr.avail->idx, target, __ATOMIC_RELEASE);
	avail_idx = target;
	if (write(kick_fd, &(uint64_t){1}, 8) != 8)
		return fail("kick");
	/* frames until vhost used every buffer: a frame the tap dropped is
	 * simply followed by another */
	while ((used = __atomic_load_n(&vr.used->idx, __ATOMIC_ACQUIRE)) != target) {
		uint16_t done = n - (uint16_t)(target - used);

		if (now_ms() > end) {
			printf("error fill: vhost used %u of %zu buffers in 120 s (%zu frames "
			       "sent)\n",
			       done, n, frames);
			fflush(stdout);
			return 0;
		}
		if (sent - done < WINDOW) {
			if (send_frame() < 0 && errno != ENOBUFS && errno != EAGAIN)
				return fail("sending a frame");
			sent++;
			frames++;
		} else {
			struct pollfd p = {call_fd, POLLIN, 0};
			uint64_t v;

			poll(&p, 1, 20);
			if (read(call_fd, &v, 8) < 0 && errno != EAGAIN)
				return fail("call eventfd");
			sent = done; /* what is not used by now was dropped */
		}
	}
	if (first + n > next_page)
		next_page = first + n;
	count(first, n, buf, sizeof(buf));
	printf("filled %zu %zu%s\n", n, first, buf);
	return 0;
}

int main(int argc, char **argv)
{
	size_t mib = 32;
	bool thp = false;
	char line[256];
	int opt;

	while ((opt = getopt(argc, argv, "m:t")) != -1) {
		if (opt == 'm')
			mib = strtoul(optarg, NULL, 10);
		else if (opt == 't')
			thp = true;
		else
			return 2;
	}
	if (!mib || mib > 4096) {
		fprintf(stderr, "vhost-rx: -m: 1-4096 MiB\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ram_pages = mib * 256;
	/* 2 MiB aligned, so THP can back it when asked for */
	ram = mmap(NULL, ram_pages * PAGE + (2ul << 20), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ring_mem = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED || ring_mem == MAP_FAILED)
		return fail("mmap") ? 1 : 1;
	ram = (char *)(((uintptr_t)ram + (2ul << 20) - 1) & ~((2ul << 20) - 1));
	if (madvise(ram, ram_pages * PAGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0)
		return fail("madvise") ? 1 : 1;
	if (open_tap() < 0 || setup_vhost() < 0)
		return 1;
	printf("ready %d %p %p %s\n", (int)getpid(), (void *)ram, (void *)(ram + ram_pages * PAGE),
	       tap_name);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long a = 0, b = 0;
		char cmd[32], buf[512];
		int k = sscanf(line, "%31s %lu %lu", cmd, &a, &b);

		if (k >= 2 && !strcmp(cmd, "fill")) {
			if (fill(a, k == 3 ? b : next_page) < 0)
				return 1;
		} else if (k == 3 && !strcmp(cmd, "count") && a + b <= ram_pages) {
			count(a, b, buf, sizeof(buf));
			printf("count%s\n", buf);
		} else if (k == 3 && !strcmp(cmd, "dontneed") && a + b <= ram_pages) {
			if (madvise(ram + a * PAGE, b * PAGE, MADV_DONTNEED) < 0)
				return fail("MADV_DONTNEED") ? 1 : 1;
			printf("ok\n");
		} else if (k == 1 && !strcmp(cmd, "reset")) {
			teardown_vhost();
			if (setup_vhost() < 0)
				return 1;
			printf("ok\n");
		} else {
			printf("error unknown command: %s", line);
		}
	}
	return 0;
}
