// SPDX-License-Identifier: MIT
/*
 * Fuzz target: VHDX BAT and sector bitmap handling. A valid template (a
 * dynamic or a differencing image, chosen by the first input byte) gets BAT
 * entries from the rest of the input, as 12-byte records (u32 index, u64
 * entry, little endian), so small seeds can place sector bitmap entries far
 * into the table; the image is opened read-write
 * (differencing without its parent), read, written, discarded, checked with
 * repair, compacted and closed.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_disk_common.h"
#include "openhv/disk.h"
#include "vhdx/disk_internal.h"
#include "vhdx/vhdx_format.h"

static uint8_t *tmpl[2];
static size_t tmpl_len[2];

static void build_template(int diff)
{
	struct vhdx_create_params p = { .size = 16 * VHDX_MiB, .block_size = 1 << 20,
					.logical_sector = 512, .physical_sector = 4096,
					.has_parent = diff, .parent_relative = "parent.vhdx" };
	struct disk_file *f;
	const uint8_t *m;

	memset(p.parent_link, 0x5a, 16);
	if (disk_file_mem(NULL, 0, false, &f) < 0 || vhdx_create_file(f, &p, NULL) < 0)
		abort();
	m = disk_file_mem_data(f, &tmpl_len[diff]);
	/* Room for a few blocks past the end, so offsets there can be valid. */
	tmpl[diff] = calloc(1, tmpl_len[diff] + 4 * VHDX_MiB);
	if (!tmpl[diff])
		abort();
	memcpy(tmpl[diff], m, tmpl_len[diff]);
	tmpl_len[diff] += 4 * VHDX_MiB;
	disk_file_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk_file *f;
	struct disk *d;
	struct disk_diag diag;
	int diff;

	keep_heap();
	if (size < 1)
		return 0;
	diff = data[0] & 1;
	if (!tmpl[diff])
		build_template(diff);
	if (disk_file_mem(tmpl[diff], tmpl_len[diff], false, &f) < 0)
		return 0;
	for (size_t p = 1; p + 12 <= size; p += 12) {
		uint32_t idx = ld_le32(data + p) % (VHDX_MiB / 8);
		if (f->ops->pwritev(f, &(struct iovec){ (void *)(data + p + 4), 8 }, 1,
				    3 * VHDX_MiB + idx * 8ULL) < 0)
			break;
	}
	if (disk_open_file(f, "fuzz.vhdx", DISK_OPEN_NO_PARENT, &diag, &d) == 0) {
		uint8_t buf[8192];
		struct disk_check_result res;
		uint64_t saved;
		memset(buf, 0xa5, sizeof(buf));
		for (uint64_t off = 0; off < disk_size(d); off += VHDX_MiB / 2)
			IGNORE(disk_read(d, off, buf, sizeof(buf)));
		IGNORE(disk_write(d, 3 * VHDX_MiB - 4096, buf, sizeof(buf)));
		IGNORE(disk_write(d, (data[0] >> 1) * 4096ULL % disk_size(d), buf, 4096));
		IGNORE(disk_discard(d, 5 * VHDX_MiB, VHDX_MiB));
		IGNORE(disk_check(d, true, NULL, NULL, &res));
		IGNORE(disk_compact(d, &saved, &diag));
		IGNORE(disk_read(d, 0, buf, sizeof(buf)));
		(void)disk_close(d);
	}
	return 0;
}
