// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEST ONLY, runs inside the guest of tests/suites/64-e2e-rxpool (static).
 *
 *   rxpool-check hold PORT N READY GO OUT   bind UDP PORT with a 64 MiB receive
 *        buffer, create READY, read nothing until GO exists (so the frames
 *        keep their RX pages), then read until N datagrams came (120 s at
 *        most) and write the count to OUT
 *   rxpool-check pages DEV NODE OUT   every page in debugfs
 *        xpv_rxpool/DEV/pfns is on NODE (memory block links in sysfs) and not
 *        free in the buddy allocator (/proc/kpageflags BUDDY); pfns to OUT
 *   rxpool-check subset A B           every pfn of list A is in list B
 *   rxpool-check history DIR          every size change in DIR/history is
 *        what Algorithm 1 (xpv_rxpool_alg.h) gives for its size and use
 *   rxpool-check freed TRACE LIST     no pfn of LIST appears in the
 *        kmem:mm_page_free / mm_page_free_batched events of the TRACE text
 *        (the events must include CONTROL's pfns, a file the guest freed, so
 *        an idle or broken tracer does not pass: TRACE LIST CONTROL-COUNT)
 *   rxpool-check allocnodes TRACE FUNC   pages (2^order each) of the
 *        kmem:mm_page_alloc events whose stacktrace trigger output names
 *        FUNC, per node: "node0=N node1=M ..." (bench/rxpool/locality.sh)
 * Exit 0 when the check holds; a line on stdout says what was seen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xpv_rxpool_alg.h"

#define KPF_BUDDY 10

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

static int hold(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, buf = 64 << 20;
	long want, got = 0;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	char pkt[16384];
	double end;
	FILE *f;

	if (argc != 7)
		return 2;
	sa.sin_port = htons(atoi(argv[2]));
	want = atol(argv[3]);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("hold: socket");
		return 1;
	}
	f = fopen(argv[4], "w");
	if (!f)
		return 1;
	fclose(f);
	/* the host tells when the burst is in; poll with a deadline */
	end = now() + 600;
	while (!exists(argv[5]) && now() < end)
		usleep(50000);
	end = now() + 120;
	while (got < want && now() < end)
		if (recv(fd, pkt, sizeof(pkt), 0) > 0)
			got++;
	f = fopen(argv[6], "w");
	if (!f)
		return 1;
	fprintf(f, "%ld\n", got);
	fclose(f);
	printf("hold: %ld of %ld datagrams\n", got, want);
	return got == want ? 0 : 1;
}

static uint64_t block_bytes(void)
{
	FILE *f = fopen("/sys/devices/system/memory/block_size_bytes", "r");
	unsigned long long v = 0;

	if (!f || fscanf(f, "%llx", &v) != 1)
		v = 0;
	if (f)
		fclose(f);
	return v;
}

static int pages(int argc, char **argv)
{
	char path[256];
	FILE *in, *out;
	unsigned int q;
	unsigned long long pfn;
	long n = 0, off = 0, buddy = 0, unreadable = 0;
	uint64_t bs = block_bytes();
	int kpf, node = argc > 3 ? atoi(argv[3]) : -1;

	if (argc != 5 || !bs)
		return 2;
	snprintf(path, sizeof(path), "/sys/kernel/debug/xpv_rxpool/%s/pfns", argv[2]);
	in = fopen(path, "r");
	out = fopen(argv[4], "w");
	kpf = open("/proc/kpageflags", O_RDONLY);
	if (!in || !out || kpf < 0) {
		perror("pages: open");
		return 1;
	}
	while (fscanf(in, "%u %llu", &q, &pfn) == 2) {
		uint64_t flags;

		n++;
		fprintf(out, "%llu\n", pfn);
		snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%llu/node%d",
			 (unsigned long long)(pfn * 4096 / bs), node);
		if (!exists(path))
			off++;
		if (pread(kpf, &flags, sizeof(flags), pfn * 8) != sizeof(flags))
			unreadable++;
		else if (flags & (1ULL << KPF_BUDDY))
			buddy++;
	}
	fclose(in);
	fclose(out);
	close(kpf);
	printf("pages=%ld off_node=%ld buddy=%ld unreadable=%ld\n", n, off, buddy, unreadable);
	return n > 0 && !off && !buddy && !unreadable ? 0 : 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static long load(const char *p, uint64_t **v)
{
	FILE *f = fopen(p, "r");
	unsigned long long x;
	long n = 0, cap = 1024;

	*v = malloc(cap * sizeof(**v));
	if (!f || !*v)
		return -1;
	while (fscanf(f, "%llu", &x) == 1) {
		if (n == cap) {
			cap *= 2;
			*v = realloc(*v, cap * sizeof(**v));
			if (!*v)
				return -1;
		}
		(*v)[n++] = x;
	}
	fclose(f);
	qsort(*v, n, sizeof(**v), cmp_u64);
	return n;
}

static int subset(int argc, char **argv)
{
	uint64_t *a, *b;
	long na, nb, i, missing = 0;

	if (argc != 4)
		return 2;
	na = load(argv[2], &a);
	nb = load(argv[3], &b);
	if (na < 0 || nb < 0)
		return 1;
	for (i = 0; i < na; i++)
		if (!bsearch(&a[i], b, nb, sizeof(*b), cmp_u64))
			missing++;
	printf("subset: %ld of %ld pages gone (second list has %ld)\n", missing, na, nb);
	free(a);
	free(b);
	return na > 0 && !missing ? 0 : 1;
}

static unsigned long param(const char *name)
{
	char path[256];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/virtio_net_xpvpool/parameters/%s", name);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%lu", &v) != 1)
		fprintf(stderr, "history: cannot read %s\n", path);
	if (f)
		fclose(f);
	return v;
}

static int history(int argc, char **argv)
{
	struct xpv_rxpool_sizing s;
	unsigned long size, used, wanted, result;
	unsigned int q;
	long grows = 0, shrinks = 0, bad = 0;
	char path[256];
	FILE *f;

	if (argc != 3)
		return 2;
	s.min_pages = param("pool_min_kb") / 4 ? param("pool_min_kb") / 4 : 1;
	s.max_pages = param("pool_max_kb") / 4;
	s.grow_above_pct = param("grow_above_pct");
	s.shrink_below_pct = param("shrink_below_pct");
	s.step_pct = param("step_pct");
	snprintf(path, sizeof(path), "%s/history", argv[2]);
	f = fopen(path, "r");
	if (!f || !xpv_rxpool_sizing_valid(&s))
		return 1;
	while (fscanf(f, "%u %lu %lu %lu %lu", &q, &size, &used, &wanted, &result) == 5) {
		/* a grow may get fewer pages than asked, a shrink frees only free pages */
		bool ok = wanted == xpv_rxpool_next_size(&s, size, used) &&
			  (wanted > size ? result >= size && result <= wanted
					 : result <= size && result >= wanted);

		if (!ok) {
			printf("history: queue %u size %lu used %lu wanted %lu result %lu breaks "
			       "Algorithm 1\n",
			       q, size, used, wanted, result);
			bad++;
		} else if (wanted > size) {
			grows++;
		} else {
			shrinks++;
		}
	}
	fclose(f);
	printf("history: %ld grows, %ld shrinks follow Algorithm 1, %ld do not\n", grows, shrinks,
	       bad);
	return !bad && grows + shrinks > 0 ? 0 : 1;
}

static int freed(int argc, char **argv)
{
	uint64_t *pool;
	long np, events = 0, hits = 0;
	char line[512];
	FILE *f;

	if (argc != 5)
		return 2;
	np = load(argv[3], &pool);
	f = fopen(argv[2], "r");
	if (np <= 0 || !f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " pfn=");
		uint64_t pfn;

		if (!p ||
		    (!strstr(line, "mm_page_free:") && !strstr(line, "mm_page_free_batched:")))
			continue;
		pfn = strtoull(p + 5, NULL, 0);
		events++;
		if (bsearch(&pfn, pool, np, sizeof(*pool), cmp_u64))
			hits++;
	}
	fclose(f);
	printf("freed: %ld page-free events, %ld of them on the %ld pool pages\n", events, hits,
	       np);
	free(pool);
	return events >= atol(argv[4]) && !hits ? 0 : 1;
}

static int node_of(uint64_t pfn, uint64_t bs)
{
	char path[256];
	int node;

	for (node = 0; node < 64; node++) {
		snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%llu/node%d",
			 (unsigned long long)(pfn * 4096 / bs), node);
		if (exists(path))
			return node;
	}
	return -1;
}

static int allocnodes(int argc, char **argv)
{
	long pages[65] = {0}, events = 0;
	uint64_t bs = block_bytes(), pfn = 0;
	unsigned int order = 0;
	bool pending = false, matched = false;
	char line[512];
	FILE *f;
	int i;

	if (argc != 4 || !bs)
		return 2;
	f = fopen(argv[2], "r");
	if (!f)
		return 1;
	/* an event line, then "<stack trace>" and " => fn" lines */
	for (;;) {
		bool eof = !fgets(line, sizeof(line), f);
		char *p = eof ? NULL : strstr(line, "mm_page_alloc: ");

		if (eof || p) {
			if (pending && matched) {
				int node = node_of(pfn, bs);

				pages[node < 0 ? 64 : node] += 1L << order;
				events++;
			}
			if (eof)
				break;
			p = strstr(p, " pfn=");
			pending = p != NULL;
			matched = false;
			if (p) {
				pfn = strtoull(p + 5, NULL, 0);
				p = strstr(p, " order=");
				order = p ? atoi(p + 7) : 0;
				if (order > 20)
					pending = false;
			}
		} else if (pending && strstr(line, " => ") && strstr(line, argv[3])) {
			matched = true;
		}
	}
	fclose(f);
	printf("events=%ld", events);
	for (i = 0; i < 64; i++)
		if (pages[i])
			printf(" node%d=%ld", i, pages[i]);
	if (pages[64])
		printf(" unknown=%ld", pages[64]);
	printf("\n");
	return events > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "allocnodes"))
		return allocnodes(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "freed"))
		return freed(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "hold"))
		return hold(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "pages"))
		return pages(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "subset"))
		return subset(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "history"))
		return history(argc, argv);
	fprintf(stderr, "usage: rxpool-check hold|pages|subset|history ...\n");
	return 2;
}
