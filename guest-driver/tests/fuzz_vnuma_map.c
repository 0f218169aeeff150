// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the map parser: the input is the blob; the config
 * version is taken from the blob's own header so inputs get past rule 8 and
 * reach the tables.  Any accepted map is also laid out into a page.
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
		.map_version = size >= 16 ? get_unaligned_le64(data + 8) : 0,
	};

	if (vnuma_map_parse(data, size, &ctx, &map, &why) == 0) {
		if (!vnuma_page_fill(page, sizeof(page), sizeof(page), &map, NULL, &info))
			abort();
	} else if (why.code <= VNUMA_OK || why.code >= VNUMA_E__COUNT) {
		abort();
	}
	return 0;
}
