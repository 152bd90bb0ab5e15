// SPDX-License-Identifier: MIT
/*
 * Raw images: the file is the disk. Holes in a sparse file are reported as
 * zero extents (SEEK_DATA/SEEK_HOLE) so convert can skip them; discard and
 * compact punch holes.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "vhdx/disk_internal.h"

static int raw_open(struct disk *d, struct disk_diag *diag)
{
	uint64_t size;
	int r = df_size(d->file, &size);

	if (r < 0)
		return r;
	d->size = ALIGN_DOWN(size, 512);
	d->sector = 512;
	return 0;
}

static int raw_close(struct disk *d)
{
	return 0;
}

static int raw_readv(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	return df_preadv(d->file, iov, cnt, off);
}

static int raw_writev(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	return df_pwritev(d->file, iov, cnt, off);
}

static int raw_flush(struct disk *d)
{
	return df_flush(d->file);
}

static int raw_discard(struct disk *d, uint64_t off, uint64_t len)
{
	return df_zero(d->file, off, len);
}

static int raw_map(struct disk *d, uint64_t off, uint64_t len, struct disk_extent *ret)
{
	int fd = d->file->fd;

	ret->kind = DISK_EXT_DATA;
	ret->len = len;
	ret->file_off = off;
	ret->fd = fd;
	if (fd >= 0) {
		off_t data = lseek(fd, (off_t)off, SEEK_DATA);
		if (data < 0 && errno == ENXIO) {
			ret->kind = DISK_EXT_ZERO;  /* a hole up to end of file */
		} else if (data >= 0 && (uint64_t)data > off) {
			ret->kind = DISK_EXT_ZERO;
			ret->len = MIN(len, (uint64_t)data - off);
		} else if (data >= 0) {
			off_t hole = lseek(fd, (off_t)off, SEEK_HOLE);
			if (hole > (off_t)off)
				ret->len = MIN(len, (uint64_t)hole - off);
		}
		/* Keep extents sector aligned. */
		if (ret->len != len)
			ret->len = MAX(ALIGN_DOWN(ret->len, 512), 512);
		if (ret->kind == DISK_EXT_ZERO)
			ret->fd = -1;
	}
	return 0;
}

static void raw_info(struct disk *d, struct disk_info *ret)
{
	ret->type = DISK_TYPE_FIXED;
	ret->logical_sector = 512;
	ret->physical_sector = 512;
}

static int raw_check(struct disk *d, bool repair, void (*report)(void *, bool, const char *),
		     void *opaque, struct disk_check_result *ret)
{
	uint64_t size;
	int r = df_size(d->file, &size);

	if (r < 0)
		return r;
	if (size % 512 && report)
		report(opaque, false, "the file size is not a multiple of 512; the last partial "
		       "sector is not part of the disk");
	return 0;
}

static int raw_resize(struct disk *d, uint64_t new_size, struct disk_diag *diag)
{
	int r;

	if (new_size % 512 || !new_size) {
		diag_set(diag, 0, "new size must be a non-zero multiple of 512 bytes");
		return -EINVAL;
	}
	r = df_set_size(d->file, new_size);
	if (r == 0) {
		d->size = new_size;
		r = df_flush(d->file);
	}
	return r;
}

static int raw_compact(struct disk *d, uint64_t *ret_saved, struct disk_diag *diag)
{
	uint8_t *buf = malloc(MiB);
	uint64_t before = df_allocated(d->file), after;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < d->size && r == 0; off += MiB) {
		size_t n = (size_t)MIN(MiB, d->size - off);
		r = df_pread(d->file, buf, n, off);
		if (r == 0 && buf_is_zero(buf, n))
			r = df_zero(d->file, off, n);
	}
	free(buf);
	if (r == 0)
		r = df_flush(d->file);
	after = df_allocated(d->file);
	if (r == 0 && ret_saved)
		*ret_saved = before > after ? before - after : 0;
	return r;
}

const struct disk_driver disk_raw_driver = {
	.format = DISK_FMT_RAW,
	.open = raw_open,
	.close = raw_close,
	.readv = raw_readv,
	.writev = raw_writev,
	.flush = raw_flush,
	.discard = raw_discard,
	.map = raw_map,
	.info = raw_info,
	.check = raw_check,
	.resize = raw_resize,
	.compact = raw_compact,
};
