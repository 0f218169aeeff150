// SPDX-License-Identifier: GPL-2.0-only
/* Writes a valid map blob (3 host nodes, 2 guest nodes, 4 vCPUs) as a fuzzer seed. */
#include <stdio.h>

#include "blob.h"

int main(int argc, char **argv)
{
	static struct blob b;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	blob_build(&b, 3, 2, 4, 7);
	f = fopen(argv[1], "wb");
	if (!f || fwrite(b.buf, 1, b.len, f) != b.len || fclose(f)) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
