// SPDX-License-Identifier: MIT
/* Disk-library back-end for the SCSI target. See storvsp_blk.h. */
#include "vsp/storvsp/storvsp_blk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openhv/disk.h"

struct storvsp_blk {
	struct disk *disk;
	struct scsi_disk *sd;
};

static int blk_readv(void *o, uint64_t off, const struct iovec *iov, int cnt)
{
	return disk_readv(((struct storvsp_blk *)o)->disk, off, iov, cnt);
}

static int blk_writev(void *o, uint64_t off, const struct iovec *iov, int cnt)
{
	return disk_writev(((struct storvsp_blk *)o)->disk, off, iov, cnt);
}

static int blk_flush(void *o)
{
	return disk_flush(((struct storvsp_blk *)o)->disk);
}

static int blk_discard(void *o, uint64_t off, uint64_t len)
{
	return disk_discard(((struct storvsp_blk *)o)->disk, off, len);
}

static const struct scsi_blk_ops blk_ops = {
	.readv = blk_readv, .writev = blk_writev, .flush = blk_flush, .discard = blk_discard,
};
/* Differencing images: a discarded range may read back from the parent. */
static const struct scsi_blk_ops blk_ops_nodiscard = {
	.readv = blk_readv, .writev = blk_writev, .flush = blk_flush,
};

/* FNV-1a, to derive stable identifiers from the path when the image has none. */
static uint64_t fnv1a(const void *data, size_t len, uint64_t h)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void make_ids(const struct disk_info *info, const char *path, struct scsi_disk_params *p)
{
	static const uint8_t zero[16];
	uint8_t id[16];

	if (memcmp(info->disk_id, zero, sizeof(zero))) {
		memcpy(id, info->disk_id, sizeof(id));
	} else {
		uint64_t a = fnv1a(path, strlen(path), 0xcbf29ce484222325ull);
		uint64_t b = fnv1a(path, strlen(path), a);

		memcpy(id, &a, 8);
		memcpy(id + 8, &b, 8);
	}
	memcpy(p->naa, id, sizeof(p->naa));
	for (int i = 0; i < 10; i++)
		snprintf(p->serial + 2 * i, 3, "%02x", id[i]);
}

int storvsp_blk_open(const char *path, bool read_only, bool dvd, struct storvsp_blk **ret,
		     char *err, size_t errlen)
{
	struct scsi_disk_params p = { 0 };
	struct disk_diag diag = { 0 };
	struct disk_info info;
	struct storvsp_blk *b;
	unsigned flags = 0;
	int r;

	if (read_only || dvd)
		flags |= DISK_OPEN_RDONLY;
	if (dvd)
		flags |= DISK_OPEN_FMT_RAW;
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "disk '%s': out of memory", path);
		return -ENOMEM;
	}
	r = disk_open(path, flags, &diag, &b->disk);
	if (r) {
		snprintf(err, errlen, "disk '%s': %s", path, diag.msg[0] ? diag.msg : strerror(-r));
		free(b);
		return r;
	}
	disk_get_info(b->disk, &info);
	p.size = info.virtual_size;
	p.read_only = read_only || dvd || info.rdonly;
	p.dvd = dvd;
	if (dvd) {
		p.block_size = 2048;
	} else {
		p.block_size = info.logical_sector == 4096 ? 4096 : 512;
		p.phys_block_size = info.physical_sector >= p.block_size &&
				    info.physical_sector <= 65536 ? info.physical_sector : 0;
	}
	make_ids(&info, path, &p);
	if (p.size < p.block_size) {
		snprintf(err, errlen, "disk '%s' is smaller than one %u-byte sector; use a larger image",
			 path, p.block_size);
		r = -EINVAL;
		goto fail;
	}
	r = scsi_disk_new(&p, info.type == DISK_TYPE_DIFF ? &blk_ops_nodiscard : &blk_ops, b,
			  &b->sd);
	if (r) {
		snprintf(err, errlen, "disk '%s': unsupported geometry (sector %u, physical %u)", path,
			 p.block_size, p.phys_block_size);
		goto fail;
	}
	*ret = b;
	return 0;
fail:
	(void)disk_close(b->disk);
	free(b);
	return r;
}

struct scsi_disk *storvsp_blk_disk(struct storvsp_blk *b)
{
	return b->sd;
}

int storvsp_blk_close(struct storvsp_blk *b)
{
	int r;

	if (!b)
		return 0;
	scsi_disk_free(b->sd);
	r = disk_close(b->disk);
	free(b);
	return r;
}
