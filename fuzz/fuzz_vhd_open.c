// SPDX-License-Identifier: MIT
/*
 * Fuzz target: VHD open (footer, dynamic header, BAT, parent locators), the
 * read path, check, writes that allocate blocks and compaction (on a copy).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openhv/disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Results are irrelevant here; only crashes and sanitizer reports count. */
#define IGNORE(x) do { if (x) { } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk_file *f;
	struct disk *d;
	struct disk_diag diag;

	if (disk_file_mem(data, size, false, &f) < 0)
		return 0;
	if (disk_open_file(f, "fuzz.vhd", DISK_OPEN_NO_PARENT, &diag, &d) == 0) {
		uint8_t buf[4096];
		struct disk_check_result res;
		uint64_t sz = disk_size(d);
		for (uint64_t i = 0; i < 16; i++) {
			uint64_t off = (sz / 16) * i;
			off -= off % 512;
			if (off + sizeof(buf) <= sz)
				IGNORE(disk_read(d, off, buf, sizeof(buf)));
		}
		IGNORE(disk_check(d, false, NULL, NULL, &res));
		memset(buf, 0x3c, sizeof(buf));
		/* A write allocates a whole block in memory: only for small blocks. */
		struct disk_info in;
		disk_get_info(d, &in);
		if (in.block_size <= (4u << 20)) {
			uint64_t saved;
			IGNORE(disk_write(d, 0, buf, 512));
			IGNORE(disk_compact(d, &saved, &diag));
			IGNORE(disk_read(d, 0, buf, 512));
		}
		(void)disk_close(d);
	}
	return 0;
}
