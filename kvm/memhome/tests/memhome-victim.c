// SPDX-License-Identifier: GPL-2.0
/*
 * memhome-victim: a stand-in for a QEMU process in the test host. It maps a
 * "guest RAM" region with the default policy (so pages can land anywhere),
 * first-touches it from a thread on the home node, and then obeys commands
 * on stdin, answering one line each on stdout:
 *   displace OFF_MiB LEN_MiB NODE  MADV_DONTNEED the range and re-fault it
 *                                  from a thread bound to NODE (balloon-style)
 *   count                          "count N0 N1 ..." pages per node, from its
 *                                  own move_pages query (independent of memhome)
 *   share                          fork a child holding the pages copy-on-write
 *                                  (mapcount 2: unmovable without MOVE_ALL)
 *   unshare                        end that child
 *   exit
 * Usage: memhome-victim SIZE_MiB HOME_NODE   (prints "ready START END")
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char *base;
static size_t size, psz;

struct touch {
	char *p;
	size_t len;
	int node;
	int err;
};

static void *toucher(void *arg)
{
	struct touch *t = arg;
	unsigned long mask = 1ul << t->node;

	/* thread policy only: the VMA keeps the default policy */
	if (set_mempolicy(MPOL_BIND, &mask, sizeof(mask) * 8)) {
		t->err = errno;
		return NULL;
	}
	numa_run_on_node(t->node);
	for (size_t o = 0; o < t->len; o += psz)
		t->p[o] = (char)(o / psz + 1);
	return NULL;
}

static int touch_from(char *p, size_t len, int node)
{
	struct touch t = {p, len, node, 0};
	pthread_t th;

	if (pthread_create(&th, NULL, toucher, &t))
		return -1;
	pthread_join(th, NULL);
	if (t.err) {
		fprintf(stderr, "victim: node %d: %s\n", node, strerror(t.err));
		return -1;
	}
	return 0;
}

static void count(void)
{
	size_t n = size / psz;
	void **pages = malloc(n * sizeof(void *));
	int *st = malloc(n * sizeof(int));
	long per[64] = {0};
	int maxn = numa_max_node();

	for (size_t i = 0; i < n; i++)
		pages[i] = base + i * psz;
	if (move_pages(0, n, pages, NULL, st, 0)) {
		printf("error move_pages %s\n", strerror(errno));
	} else {
		for (size_t i = 0; i < n; i++)
			if (st[i] >= 0 && st[i] < 64)
				per[st[i]]++;
		printf("count");
		for (int k = 0; k <= maxn && k < 64; k++)
			printf(" %ld", per[k]);
		printf("\n");
	}
	free(pages);
	free(st);
}

int main(int argc, char **argv)
{
	char line[256];
	pid_t child = 0;
	int home;

	if (argc != 3) {
		fprintf(stderr, "usage: memhome-victim SIZE_MiB HOME_NODE\n");
		return 2;
	}
	size = strtoul(argv[1], NULL, 10) << 20;
	home = atoi(argv[2]);
	psz = sysconf(_SC_PAGESIZE);
	/* PROT_NONE guard pages keep the region a VMA of its own, as QEMU's RAM is */
	base = mmap(NULL, size + 2 * psz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	base += psz;
	if (mprotect(base, size, PROT_READ | PROT_WRITE)) {
		perror("mprotect");
		return 1;
	}
	/* 4 KiB pages: page counts are exact and khugepaged cannot move them */
	madvise(base, size, MADV_NOHUGEPAGE);
	if (touch_from(base, size, home))
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %lx %lx\n", (unsigned long)base, (unsigned long)(base + size));
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long off, len;
		int node;

		if (sscanf(line, "displace %lu %lu %d", &off, &len, &node) == 3) {
			if ((off + len) << 20 > size) {
				printf("error range\n");
				continue;
			}
			madvise(base + (off << 20), len << 20, MADV_DONTNEED);
			printf(touch_from(base + (off << 20), len << 20, node) ? "error touch\n"
									       : "ok\n");
		} else if (!strncmp(line, "count", 5)) {
			count();
		} else if (!strncmp(line, "share", 5)) {
			int p[2];

			if (pipe(p) || (child = fork()) < 0) {
				printf("error fork\n");
				continue;
			}
			if (child == 0) {
				char c;

				close(p[1]);
				/* hold the copy-on-write mapping until the parent says so */
				while (read(p[0], &c, 1) < 0 && errno == EINTR)
					;
				_exit(0);
			}
			close(p[0]);
			/* the child exits when this end closes (unshare, or our exit) */
			dup2(p[1], 100);
			close(p[1]);
			printf("ok %d\n", child);
		} else if (!strncmp(line, "unshare", 7)) {
			if (child > 0) {
				close(100);
				waitpid(child, NULL, 0);
				child = 0;
			}
			printf("ok\n");
		} else if (!strncmp(line, "exit", 4)) {
			break;
		} else {
			printf("error unknown command\n");
		}
	}
	return 0;
}
