// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writes the fuzzer's seed corpus into DIR: valid format-2 maps (1, 3 and 8
 * host nodes, a memoryless guest node, an unplugged vCPU) and hostile ones
 * a device could send (duplicate arch_ids, a count that is not the
 * configuration's, a torn buffer, a truncated one).
 */
#include <stdio.h>

#include "blob.h"

static struct blob b, other;

static int save(const char *dir, const char *name, const struct blob *bl)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(bl->buf, 1, bl->len, f) != bl->len || fclose(f)) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	blob_build(&b, 3, 2, 4, 7);
	err |= save(argv[1], "valid-3-2-4", &b);
	blob_build(&b, 1, 1, 1, 1);
	err |= save(argv[1], "valid-1-1-1", &b);
	blob_build(&b, 8, 2, 6, 3);
	put16(b.buf + b.off_gnodes + b.stride + 2, 4); /* gnode 1 memoryless */
	put64(b.buf + b.off_gnodes + b.stride + 8, 0);
	put64(b.buf + b.off_gnodes + b.stride + 16, 0);
	for (unsigned int j = 0; j < 8; j++)
		put64(b.buf + b.off_gnodes + b.stride + 24 + 8 * j, 0);
	put16(b.buf + b.off_gnodes + b.stride, 0xffff);
	put16(b.buf + b.off_vcpus + VCPU_SIZE * 5 + V_FLAGS, 0); /* vCPU 5 unplugged */
	err |= save(argv[1], "valid-memoryless-unplugged", &b);
	blob_build(&b, 3, 2, 4, 7);
	put32(b.buf + b.off_vcpus + VCPU_SIZE * 3 + V_ARCH_ID, exp_arch_id(0));
	err |= save(argv[1], "hostile-arch-id-dup", &b);
	blob_build(&b, 2, 2, 4, 9);
	blob_build(&other, 4, 2, 4, 8);
	memcpy(b.buf + b.len / 2, other.buf + b.len / 2, b.len - b.len / 2);
	err |= save(argv[1], "hostile-torn", &b);
	blob_build(&b, 3, 2, 4, 7);
	b.len -= 20;
	err |= save(argv[1], "hostile-truncated", &b);
	return err;
}
