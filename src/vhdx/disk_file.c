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

/*
 * One byte far beyond any image's end stands for the whole image (a lock
 * does not need the byte to exist); it is not a range QEMU locks.
 */
#define DISK_LOCK_BYTE ((off_t)0x6f68762d6c6bLL)

int disk_lock_fd(int fd, bool exclusive)
{
	struct flock fl = {
		.l_type = exclusive ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = DISK_LOCK_BYTE,
		.l_len = 1,
	};

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return -EBUSY;
	if (errno == ENOLCK || errno == EOPNOTSUPP || errno == EINVAL)
		return 0;
	return -errno;
}

int disk_file_fdopen(int fd, bool rdonly, struct disk_file **ret)
{
	struct disk_file *f;
	int acc = fcntl(fd, F_GETFL), own;

	if (acc < 0)
		return -errno;
	acc &= O_ACCMODE;
	if (acc == O_WRONLY || (!rdonly && acc != O_RDWR))
		return -EBADF; /* reads need O_RDONLY/O_RDWR, writes O_RDWR */
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (own < 0) {
		int r = -errno;

		free(f);
		return r;
	}
	f->ops = &host_file_ops;
	f->fd = own;
	f->rdonly = rdonly;
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

/*
 * Sparse: 64 KiB pages allocated on first write, so multi-MiB images that
 * are mostly zero (fuzz inputs, test templates) cost little to build.
 */
#define MEMFILE_MAX (16ULL << 20)
#define MF_PAGE (64 * 1024)
#define MF_PAGES (MEMFILE_MAX / MF_PAGE)

struct memfile {
	struct disk_file base;
	uint8_t *page[MF_PAGES];
	size_t len;
	uint8_t *flat;              /* disk_file_mem_data() snapshot */
};

static int mf_preadv(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	struct memfile *m = (struct memfile *)f;
	size_t total = iov_total(iov, cnt), done = 0;

	while (done < total) {
		uint64_t o = off + done;
		size_t in = (size_t)(o % MF_PAGE), n = MIN(total - done, MF_PAGE - in);
		if (o < m->len && m->page[o / MF_PAGE]) {
			n = (size_t)MIN(n, m->len - o);
			iov_from_buf(iov, cnt, done, m->page[o / MF_PAGE] + in, n);
		} else {
			iov_zero(iov, cnt, done, n);
		}
		done += n;
	}
	return 0;
}

static int mf_write(struct memfile *m, const struct iovec *iov, int cnt, size_t skip,
		    const void *buf, uint64_t off, size_t total)
{
	size_t done = 0;

	if (off > MEMFILE_MAX || total > MEMFILE_MAX - off)
		return -EFBIG;
	while (done < total) {
		uint64_t o = off + done;
		size_t in = (size_t)(o % MF_PAGE), n = MIN(total - done, MF_PAGE - in);
		uint8_t **pg = &m->page[o / MF_PAGE];
		if (!*pg) {
			if (buf && buf_is_zero((const uint8_t *)buf + done, n)) {
				done += n;
				continue;
			}
			*pg = calloc(1, MF_PAGE);
			if (!*pg)
				return -ENOMEM;
		}
		if (buf)
			memcpy(*pg + in, (const uint8_t *)buf + done, n);
		else
			iov_to_buf(iov, cnt, skip + done, *pg + in, n);
		done += n;
	}
	if (off + total > m->len)
		m->len = (size_t)(off + total);
	return 0;
}

static int mf_pwritev(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	return mf_write((struct memfile *)f, iov, cnt, 0, NULL, off, iov_total(iov, cnt));
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

static void mf_clear(struct memfile *m, uint64_t off, uint64_t len)
{
	while (len) {
		size_t in = (size_t)(off % MF_PAGE), n = (size_t)MIN(len, MF_PAGE - in);
		uint8_t **pg = &m->page[off / MF_PAGE];
		if (*pg) {
			if (n == MF_PAGE) {
				free(*pg);
				*pg = NULL;
			} else {
				memset(*pg + in, 0, n);
			}
		}
		off += n;
		len -= n;
	}
}

static int mf_set_size(struct disk_file *f, uint64_t size)
{
	struct memfile *m = (struct memfile *)f;

	if (size > MEMFILE_MAX)
		return -EFBIG;
	if (size < m->len)
		mf_clear(m, size, m->len - size);
	m->len = (size_t)size;
	return 0;
}

static int mf_punch(struct disk_file *f, uint64_t off, uint64_t len)
{
	struct memfile *m = (struct memfile *)f;

	if (off >= m->len)
		return 0;
	mf_clear(m, off, MIN(len, m->len - off));
	return 0;
}

static void mf_destroy(struct disk_file *f)
{
	struct memfile *m = (struct memfile *)f;

	for (size_t i = 0; i < MF_PAGES; i++)
		free(m->page[i]);
	free(m->flat);
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
	r = len ? mf_write(m, NULL, 0, 0, data, 0, len) : 0;
	if (r < 0) {
		mf_destroy(&m->base);
		return r;
	}
	m->len = len;
	*ret = &m->base;
	return 0;
}

const uint8_t *disk_file_mem_data(struct disk_file *f, size_t *ret_len)
{
	struct memfile *m = (struct memfile *)f;
	struct iovec v;

	if (f->ops != &mem_file_ops)
		return NULL;
	free(m->flat);
	m->flat = malloc(m->len ? m->len : 1);
	if (!m->flat)
		return NULL;
	v = (struct iovec){ m->flat, m->len };
	(void)mf_preadv(f, &v, 1, 0);
	*ret_len = m->len;
	return m->flat;
}
