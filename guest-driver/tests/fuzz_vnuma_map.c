// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the map parser: the input is what the device wrote
 * into the posted buffer, its size the used length.  The configuration's
 * counts are taken from the blob's own header so inputs get past rule 2 and
 * reach the tables; the held version comes from the input's last byte so the
 * version rule is exercised too.  Any accepted map is also laid out into a
 * page.
 */
#include <stdint.h>
#include <stdlib.h>

#include "vnuma_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vnuma_map map;
	static uint64_t page[XPV_PAGE_SIZE / 8];
	struct vnuma_page_info info = {0};
	struct vnuma_map_error why;
	struct vnuma_map_ctx ctx = {
		.max_map_len = VIRTIO_NUMA_MAX_MAP_LEN,
		.max_hnodes = VIRTIO_NUMA_MAX_HNODES,
		.nr_gnodes = size >= 24 ? get_unaligned_le16(data + 22) : 1,
		.nr_vcpus = size >= 26 ? get_unaligned_le16(data + 24) : 1,
		.held_version = size ? data[size - 1] % 8 : 0,
	};
	int ret = vnuma_map_parse(data, size, &ctx, &map, &why);

	if (ret == 0) {
		if (map.version <= ctx.held_version)
			abort();
		if (!vnuma_page_fill(page, sizeof(page), sizeof(page), &map, NULL, &info))
			abort();
	} else if (why.code <= VNUMA_OK || why.code >= VNUMA_E__COUNT) {
		abort();
	} else if ((ret == -EALREADY) != (why.code == VNUMA_E_DUPLICATE)) {
		abort();
	}
	return 0;
}
