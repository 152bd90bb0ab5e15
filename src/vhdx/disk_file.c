// SPDX-License-Identifier: MIT
/*
 * struct disk_file implementations: host files (pread/pwrite on an fd) and
 * in-memory files for fuzzers and tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhdx/disk_internal.h"

/* ---- host files ---- */

/* Up to max iovec pieces of iov starting skip bytes in. */
static int iov_take(const struct iovec *iov, int cnt, size_t skip, struct iovec *out, int max)
{
	int k = 0;

	for (int i = 0; i < cnt && k < max; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[k].iov_len = iov[i].iov_len - skip;
		skip = 0;
		k++;
	}
	return k;
}

static int hf_rw(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off, bool wr)
{
	struct iovec local[IOV_SLICE_MAX];
	size_t total = iov_total(iov, cnt), done = 0;

	if (off > INT64_MAX || total > INT64_MAX - off)
		return -EINVAL;
	while (done < total) {
		const struct iovec *v = iov;
		int n = cnt;
		ssize_t got;

		if (done || cnt > IOV_SLICE_MAX) {
			n = iov_take(iov, cnt, done, local, IOV_SLICE_MAX);
			v = local;
		}
		if (wr)
			got = pwritev(f->fd, v, n, (off_t)(off + done));
		else
			got = preadv(f->fd, v, n, (off_t)(off + done));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0) {
			if (wr)
				return -EIO;
			/* End of file: the rest reads as zero. */
			iov_zero(iov, cnt, done, total - done);
			return 0;
		}
		done += (size_t)got;
	}
	return 0;
}

static int hf_preadv(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	return hf_rw(f, iov, cnt, off, false);
}

static int hf_pwritev(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	return hf_rw(f, iov, cnt, off, true);
}

static int hf_flush(struct disk_file *f)
{
	return fdatasync(f->fd) < 0 ? -errno : 0;
}

static int hf_get_size(struct disk_file *f, uint64_t *ret)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(f->fd, 0, SEEK_END);
		if (end < 0)
			return -errno;
		*ret = (uint64_t)end;
		return 0;
	}
	*ret = (uint64_t)st.st_size;
	return 0;
}

static int hf_set_size(struct disk_file *f, uint64_t size)
{
	if (size > INT64_MAX)
		return -EFBIG;
	return ftruncate(f->fd, (off_t)size) < 0 ? -errno : 0;
}

static int hf_punch(struct disk_file *f, uint64_t off, uint64_t len)
{
	if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
		return errno == EOPNOTSUPP || errno == ENOSYS ? -EOPNOTSUPP : -errno;
	return 0;
}

static void hf_destroy(struct disk_file *f)
{
	close(f->fd);
	free(f);
}

static const struct disk_file_ops host_file_ops = {
	.preadv = hf_preadv,
	.pwritev = hf_pwritev,
	.flush = hf_flush,
	.get_size = hf_get_size,
	.set_size = hf_set_size,
	.punch = hf_punch,
	.destroy = hf_destroy,
};

int disk_file_open(const char *path, unsigned flags, struct disk_file **ret)
{
	struct disk_file *f;
	int oflags = O_CLOEXEC, fd;

	if (flags & DISK_FILE_CREATE)
		oflags |= O_RDWR | O_CREAT | O_EXCL;
	else
		oflags |= (flags & DISK_FILE_RDONLY) ? O_RDONLY : O_RDWR;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	fd = open(path, oflags, 0644);
	if (fd < 0) {
		int r = -errno;
		free(f);
		return r;
	}
	f->ops = &host_file_ops;
	f->fd = fd;
	f->rdonly = (flags & DISK_FILE_RDONLY) && !(flags & DISK_FILE_CREATE);
	*ret = f;
	return 0;
}

void disk_file_close(struct disk_file *f)
{
	if (f)
		f->ops->destroy(f);
}

uint64_t df_allocated(struct disk_file *f)
{
	struct stat st;
	uint64_t size = 0;

	if (f->fd >= 0 && fstat(f->fd, &st) == 0)
		return (uint64_t)st.st_blocks * 512;
	if (df_size(f, &size) < 0)
		return 0;
	return size;
}

/* ---- in-memory files ---- */

/* Large enough for test images, small enough that a fuzzed size cannot exhaust memory. */
#define MEMFILE_MAX (1ULL << 30)

struct memfile {
	struct disk_file base;
	uint8_t *data;
	size_t len, cap;
};

static int mf_grow(struct memfile *m, uint64_t len)
{
	if (len > MEMFILE_MAX)
		return -EFBIG;
	if (len > m->cap) {
		size_t cap = MAX((size_t)len, m->cap * 2);
		uint8_t *p = realloc(m->data, cap);
		if (!p)
			return -ENOMEM;
		memset(p + m->cap, 0, cap - m->cap);
		m->data = p;
		m->cap = cap;
	}
	if (len > m->len)
		m->len = (size_t)len;
	return 0;
}

static int mf_preadv(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	struct memfile *m = (struct memfile *)f;
	size_t total = iov_total(iov, cnt), have = 0;

	if (off < m->len)
		have = (size_t)MIN(total, m->len - off);
	if (have)
		iov_from_buf(iov, cnt, 0, m->data + off, have);
	iov_zero(iov, cnt, have, total - have);
	return 0;
}

static int mf_pwritev(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	struct memfile *m = (struct memfile *)f;
	size_t total = iov_total(iov, cnt);
	int r;

	if (off > MEMFILE_MAX || total > MEMFILE_MAX - off)
		return -EFBIG;
	r = mf_grow(m, off + total);
	if (r < 0)
		return r;
	iov_to_buf(iov, cnt, 0, m->data + off, total);
	return 0;
}

static int mf_flush(struct disk_file *f)
{
	return 0;
}

static int mf_get_size(struct disk_file *f, uint64_t *ret)
{
	*ret = ((struct memfile *)f)->len;
	return 0;
}

static int mf_set_size(struct disk_file *f, uint64_t size)
{
	struct memfile *m = (struct memfile *)f;
	int r;

	if (size < m->len) {
		memset(m->data + size, 0, m->len - (size_t)size);
		m->len = (size_t)size;
		return 0;
	}
	r = mf_grow(m, size);
	return r;
}

static int mf_punch(struct disk_file *f, uint64_t off, uint64_t len)
{
	struct memfile *m = (struct memfile *)f;

	if (off >= m->len)
		return 0;
	memset(m->data + off, 0, (size_t)MIN(len, m->len - off));
	return 0;
}

static void mf_destroy(struct disk_file *f)
{
	struct memfile *m = (struct memfile *)f;
	free(m->data);
	free(m);
}

static const struct disk_file_ops mem_file_ops = {
	.preadv = mf_preadv,
	.pwritev = mf_pwritev,
	.flush = mf_flush,
	.get_size = mf_get_size,
	.set_size = mf_set_size,
	.punch = mf_punch,
	.destroy = mf_destroy,
};

int disk_file_mem(const void *data, size_t len, bool rdonly, struct disk_file **ret)
{
	struct memfile *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->base.ops = &mem_file_ops;
	m->base.fd = -1;
	m->base.rdonly = rdonly;
	r = mf_grow(m, len ? len : 0);
	if (r < 0) {
		free(m);
		return r;
	}
	if (len)
		memcpy(m->data, data, len);
	*ret = &m->base;
	return 0;
}

const uint8_t *disk_file_mem_data(struct disk_file *f, size_t *ret_len)
{
	struct memfile *m = (struct memfile *)f;

	if (f->ops != &mem_file_ops)
		return NULL;
	*ret_len = m->len;
	return m->data;
}
