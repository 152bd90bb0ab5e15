// SPDX-License-Identifier: MIT
/*
 * Fuzz target: VHDX open (headers, region table, metadata, parent locator,
 * BAT) and the read path. The input is structure-aware so small seeds reach
 * deep code: a flags byte, then up to seven chunks, each a little-endian u16
 * length and that many bytes, placed at the standard offsets of a 4 MiB file:
 * header 1, header 2, region table, metadata table, metadata items (64 KiB
 * into the metadata region), BAT, log. Flags ask the harness to fix up the
 * header and region table checksums so mutations get past them.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_disk_common.h"
#include "openhv/disk.h"
#include "vhdx/disk_internal.h"
#include "vhdx/vhdx_format.h"

static const uint64_t chunk_off[] = {
	VHDX_HEADER1_OFF, VHDX_HEADER2_OFF, VHDX_REGION1_OFF, 2 * VHDX_MiB,
	2 * VHDX_MiB + VHDX_META_TABLE_SIZE, 3 * VHDX_MiB, 1 * VHDX_MiB,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t file_len = 4 * VHDX_MiB + 2 * VHDX_MiB;
	static uint8_t *img;
	uint8_t flags;
	struct disk_file *f;
	struct disk *d;
	struct disk_diag diag;
	size_t pos = 1;

	keep_heap();
	if (size < 1)
		return 0;
	flags = data[0];
	/* One zeroed scratch image, cleaned after each run where it was written. */
	if (!img)
		img = calloc(1, file_len);
	if (!img)
		return 0;
	memcpy(img, VHDX_FILE_SIGNATURE, 8);
	for (size_t c = 0; c < sizeof(chunk_off) / sizeof(chunk_off[0]) && pos + 2 <= size; c++) {
		size_t n = ld_le16(data + pos);
		pos += 2;
		if (n > 8192)
			n = 8192;
		if (n > size - pos)
			n = size - pos;
		memcpy(img + chunk_off[c], data + pos, n);
		pos += n;
	}
	if (flags & 4)
		memcpy(img + VHDX_HEADER2_OFF, img + VHDX_HEADER1_OFF, VHDX_HEADER_SIZE);
	if (flags & 1) {
		for (int i = 0; i < 2; i++) {
			uint8_t *h = img + (i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
			st_le32(h + 4, 0);
			st_le32(h + 4, crc32c(0, h, VHDX_HEADER_SIZE));
		}
	}
	if (flags & 2) {
		uint8_t *t = img + VHDX_REGION1_OFF;
		st_le32(t + 4, 0);
		st_le32(t + 4, crc32c(0, t, VHDX_REGION_TABLE_SIZE));
		memcpy(img + VHDX_REGION2_OFF, t, VHDX_REGION_TABLE_SIZE);
	}
	if (disk_file_mem(img, file_len, !(flags & 8), &f) == 0 &&
	    disk_open_file(f, "fuzz.vhdx", (flags & 8) ? 0 : DISK_OPEN_RDONLY, &diag, &d) == 0) {
		uint8_t buf[8192];
		struct disk_check_result res;
		uint64_t sz = disk_size(d);
		for (uint64_t i = 0; i < 16; i++) {
			uint64_t off = (sz / 16) * i;
			off -= off % 4096;
			if (off + sizeof(buf) <= sz)
				IGNORE(disk_read(d, off, buf, sizeof(buf)));
		}
		IGNORE(disk_check(d, false, NULL, NULL, &res));
		(void)disk_close(d);
	}
	for (size_t c = 0; c < sizeof(chunk_off) / sizeof(chunk_off[0]); c++)
		memset(img + chunk_off[c], 0, 8192);
	memset(img + VHDX_HEADER2_OFF, 0, VHDX_HEADER_SIZE);
	memset(img + VHDX_REGION1_OFF, 0, 2 * VHDX_REGION_TABLE_SIZE);
	return 0;
}
