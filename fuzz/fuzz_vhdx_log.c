// SPDX-License-Identifier: MIT
/*
 * Fuzz target: VHDX log replay. A valid image template (built once) gets a
 * fixed LogGuid in its headers; the input (after one flags byte) becomes the
 * start of the log region. Every 4 KiB-aligned entry header in the input gets
 * the template's LogGuid and, if flags bit 0 is set, a correct checksum, so
 * descriptor parsing and replay are reached. The image is then opened
 * read-write (replaying), read and checked.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_disk_common.h"
#include "openhv/disk.h"
#include "vhdx/disk_internal.h"
#include "vhdx/vhdx_format.h"

static uint8_t *tmpl;
static size_t tmpl_len;
static const uint8_t log_guid[16] = { 0x10, 0x32, 0x54, 0x76, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static void build_template(void)
{
	struct vhdx_create_params p = { .size = 16 * VHDX_MiB, .block_size = 1 << 20,
					.logical_sector = 512, .physical_sector = 4096 };
	struct disk_file *f;
	const uint8_t *m;

	if (disk_file_mem(NULL, 0, false, &f) < 0)
		abort();
	if (vhdx_create_file(f, &p, NULL) < 0)
		abort();
	m = disk_file_mem_data(f, &tmpl_len);
	tmpl = malloc(tmpl_len);
	if (!tmpl)
		abort();
	memcpy(tmpl, m, tmpl_len);
	disk_file_close(f);
	for (int i = 0; i < 2; i++) {
		uint8_t *h = tmpl + (i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
		memcpy(h + VHDX_HDR_LOG_GUID_OFF, log_guid, 16);
		st_le32(h + 4, 0);
		st_le32(h + 4, crc32c(0, h, VHDX_HEADER_SIZE));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t log_off = VHDX_MiB, log_len = VHDX_MiB;
	uint8_t *img;
	struct disk_file *f;
	struct disk *d;
	struct disk_diag diag;
	size_t n;

	if (!tmpl)
		build_template();
	keep_heap();
	if (size < 1)
		return 0;
	n = size - 1 < log_len ? size - 1 : log_len;
	img = malloc(n ? n : 1);
	if (!img)
		return 0;
	memcpy(img, data + 1, n);
	for (uint64_t o = 0; o + 64 <= n; o += VHDX_LOG_SECTOR) {
		uint8_t *e = img + o;
		uint32_t len = ld_le32(e + 8);
		if (ld_le32(e) != VHDX_LOG_ENTRY_SIGNATURE)
			continue;
		memcpy(e + 32, log_guid, 16);
		if ((data[0] & 1) && len && len <= n - o) {
			st_le32(e + 4, 0);
			st_le32(e + 4, crc32c(0, e, len));
		}
	}
	if (disk_file_mem(tmpl, tmpl_len, false, &f) == 0) {
		if (f->ops->pwritev(f, &(struct iovec){ img, n }, 1, log_off) < 0) {
			disk_file_close(f);
		} else if (disk_open_file(f, "fuzz.vhdx", 0, &diag, &d) == 0) {
			uint8_t buf[4096];
			struct disk_check_result res;
			for (uint64_t off = 0; off < disk_size(d); off += VHDX_MiB)
				IGNORE(disk_read(d, off, buf, sizeof(buf)));
			IGNORE(disk_check(d, false, NULL, NULL, &res));
			(void)disk_close(d);
		}
	}
	free(img);
	return 0;
}
