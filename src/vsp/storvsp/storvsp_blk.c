// SPDX-License-Identifier: MIT
/* Disk-library back-end for the SCSI target. See storvsp_blk.h. */
#include "vsp/storvsp/storvsp_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
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

/*
 * A disk_file over a descriptor the caller opened (the sandboxed worker
 * cannot open paths). We own a dup() of it; the caller keeps its own.
 */
struct fd_file {
	struct disk_file f;
};

static int ff_rw(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off, bool wr)
{
	struct iovec v[64];
	size_t total = 0, done = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (off > INT64_MAX || total > INT64_MAX - off)
		return -EINVAL;
	while (done < total) {
		size_t skip = done;
		int n = 0;
		ssize_t got;

		/* The iovecs from done on, at most 64 at a time. */
		for (int i = 0; i < cnt && n < (int)ARRAY_SIZE(v); i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			v[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
			v[n].iov_len = iov[i].iov_len - skip;
			skip = 0;
			n++;
		}
		got = wr ? pwritev(f->fd, v, n, (off_t)(off + done)) :
			   preadv(f->fd, v, n, (off_t)(off + done));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0) {
			if (wr)
				return -EIO;
			/* End of file: the rest reads as zero. */
			skip = done;
			for (int i = 0; i < cnt; i++) {
				size_t s = MIN(skip, iov[i].iov_len);

				memset((uint8_t *)iov[i].iov_base + s, 0, iov[i].iov_len - s);
				skip -= s;
			}
			return 0;
		}
		done += (size_t)got;
	}
	return 0;
}

static int ff_preadv(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	return ff_rw(f, iov, cnt, off, false);
}

static int ff_pwritev(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	return f->rdonly ? -EROFS : ff_rw(f, iov, cnt, off, true);
}

static int ff_flush(struct disk_file *f)
{
	return fdatasync(f->fd) < 0 ? -errno : 0;
}

static int ff_get_size(struct disk_file *f, uint64_t *ret)
{
	struct stat st;
	off_t end;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode)) {
		*ret = (uint64_t)st.st_size;
		return 0;
	}
	end = lseek(f->fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	*ret = (uint64_t)end;
	return 0;
}

static int ff_set_size(struct disk_file *f, uint64_t size)
{
	if (size > INT64_MAX)
		return -EFBIG;
	return ftruncate(f->fd, (off_t)size) < 0 ? -errno : 0;
}

static int ff_punch(struct disk_file *f, uint64_t off, uint64_t len)
{
	if (off > INT64_MAX || len > INT64_MAX)
		return -EINVAL;
	if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
		return errno == EOPNOTSUPP || errno == ENOSYS ? -EOPNOTSUPP : -errno;
	return 0;
}

static void ff_destroy(struct disk_file *f)
{
	close(f->fd);
	free(f);
}

static const struct disk_file_ops fd_file_ops = {
	.preadv = ff_preadv, .pwritev = ff_pwritev, .flush = ff_flush, .get_size = ff_get_size,
	.set_size = ff_set_size, .punch = ff_punch, .destroy = ff_destroy,
};

/* Wrap a dup() of fd; read_only when the image must not be written. */
static int fd_file_new(int fd, bool read_only, struct disk_file **ret)
{
	struct fd_file *ff;
	int acc, nfd;

	acc = fcntl(fd, F_GETFL);
	if (acc < 0)
		return -errno;
	acc &= O_ACCMODE;
	if (acc == O_WRONLY || (!read_only && acc != O_RDWR))
		return -EBADF;   /* reads need O_RDONLY/O_RDWR, writes O_RDWR */
	ff = calloc(1, sizeof(*ff));
	if (!ff)
		return -ENOMEM;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0) {
		int e = -errno;

		free(ff);
		return e;
	}
	ff->f.ops = &fd_file_ops;
	ff->f.fd = nfd;
	ff->f.rdonly = read_only;
	*ret = &ff->f;
	return 0;
}

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

int storvsp_blk_open(const char *path, int fd, bool read_only, bool dvd,
		     struct storvsp_blk **ret, char *err, size_t errlen)
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
	if (fd >= 0) {
		struct disk_file *f = NULL;

		r = fd_file_new(fd, flags & DISK_OPEN_RDONLY, &f);
		if (r) {
			snprintf(err, errlen, "disk '%s': the passed descriptor %d is unusable (%s); "
				 "pass an open%s file", path, fd, strerror(-r),
				 flags & DISK_OPEN_RDONLY ? "" : " read-write");
			free(b);
			return r;
		}
		r = disk_open_file(f, path, flags, &diag, &b->disk);
	} else {
		r = disk_open(path, flags, &diag, &b->disk);
	}
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
