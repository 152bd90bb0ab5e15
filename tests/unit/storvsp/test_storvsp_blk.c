// SPDX-License-Identifier: MIT
/*
 * The disk-library back-end of the SCSI target over real host files: opened
 * by path and from an already-open descriptor (the worker's fd contract),
 * data through READ/WRITE CDBs lands in the file, the caller's descriptor
 * stays its own, and descriptors that cannot serve the mode are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/t.h"
#include "openhv/disk.h"
#include "vsp/storvsp/storvsp_blk.h"

#define IMG_BYTES (4u * 1024u * 1024u)

static char dir[64];
static char img[96];

static void make_image(void)
{
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/ohv-blk.XXXXXX");
	T_ASSERT(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/raw.img", dir);
	fd = open(img, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	T_ASSERT(fd >= 0);
	T_ASSERT(ftruncate(fd, IMG_BYTES) == 0);
	close(fd);
}

static void remove_image(void)
{
	unlink(img);
	rmdir(dir);
}

/* READ(10)/WRITE(10) of count 512-byte blocks at lba through one iovec. */
static uint8_t rw10(struct scsi_disk *d, bool write, uint32_t lba, uint16_t count, void *data)
{
	uint8_t cdb[10] = { write ? 0x2a : 0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16),
			    (uint8_t)(lba >> 8), (uint8_t)lba, 0, (uint8_t)(count >> 8),
			    (uint8_t)count, 0 };
	struct iovec iov = { data, (size_t)count * 512 };
	struct scsi_req r = { .cdb = cdb, .cdb_len = 10, .iov = &iov, .iovcnt = 1,
			      .buf_len = (uint32_t)iov.iov_len,
			      .dir = write ? SCSI_DIR_TO_DEV : SCSI_DIR_FROM_DEV };

	scsi_disk_exec(d, &r);
	return r.status;
}

static void test_open_by_path_writes_the_file(void)
{
	struct storvsp_blk *b = NULL;
	char err[256] = "";
	uint8_t w[4096], got[4096];
	int fd;

	make_image();
	memset(w, 0x5a, sizeof(w));
	T_ASSERT_EQ(storvsp_blk_open(img, -1, false, false, &b, err, sizeof(err)), 0);
	T_EXPECT_EQ(scsi_disk_blocks(storvsp_blk_disk(b)), (uint64_t)IMG_BYTES / 512);
	T_EXPECT_EQ(rw10(storvsp_blk_disk(b), true, 16, 8, w), SCSI_STATUS_GOOD);
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	fd = open(img, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	T_EXPECT_EQ(pread(fd, got, sizeof(got), 16 * 512), (ssize_t)sizeof(got));
	T_EXPECT_MEMEQ(got, w, sizeof(w));
	close(fd);
	remove_image();
}

static void test_open_from_fd_dups_and_caller_keeps_it(void)
{
	struct storvsp_blk *b = NULL;
	char err[256] = "";
	uint8_t w[2048], got[2048];
	int fd;

	make_image();
	fd = open(img, O_RDWR | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	/* A path that does not exist: only the descriptor may be used. */
	T_ASSERT_EQ(storvsp_blk_open("/nonexistent/name-only.img", fd, false, false, &b, err,
				     sizeof(err)), 0);
	memset(w, 0xc3, sizeof(w));
	T_EXPECT_EQ(rw10(storvsp_blk_disk(b), true, 100, 4, w), SCSI_STATUS_GOOD);
	memset(got, 0, sizeof(got));
	T_EXPECT_EQ(rw10(storvsp_blk_disk(b), false, 100, 4, got), SCSI_STATUS_GOOD);
	T_EXPECT_MEMEQ(got, w, sizeof(w));
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	/* Our descriptor is still open and sees the data. */
	memset(got, 0, sizeof(got));
	T_EXPECT_EQ(pread(fd, got, sizeof(got), 100 * 512), (ssize_t)sizeof(got));
	T_EXPECT_MEMEQ(got, w, sizeof(w));
	/* A reboot opens the same descriptor again. */
	T_ASSERT_EQ(storvsp_blk_open(img, fd, false, false, &b, err, sizeof(err)), 0);
	memset(got, 0, sizeof(got));
	T_EXPECT_EQ(rw10(storvsp_blk_disk(b), false, 100, 4, got), SCSI_STATUS_GOOD);
	T_EXPECT_MEMEQ(got, w, sizeof(w));
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	T_EXPECT(fcntl(fd, F_GETFD) >= 0);
	close(fd);
	remove_image();
}

static void test_fd_modes_are_checked(void)
{
	struct storvsp_blk *b = NULL;
	char err[256] = "";
	uint8_t w[512] = { 1 };
	int fd;

	make_image();
	fd = open(img, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	/* A read-only descriptor cannot back a writable disk: one clear line. */
	T_EXPECT_EQ(storvsp_blk_open(img, fd, false, false, &b, err, sizeof(err)), -EBADF);
	T_EXPECT(strstr(err, "descriptor") != NULL);
	/* It can back a read-only one, which refuses writes. */
	T_ASSERT_EQ(storvsp_blk_open(img, fd, true, false, &b, err, sizeof(err)), 0);
	T_EXPECT_EQ(rw10(storvsp_blk_disk(b), true, 0, 1, w), SCSI_STATUS_CHECK_CONDITION);
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	close(fd);
	/* A closed descriptor. */
	T_EXPECT_EQ(storvsp_blk_open(img, fd, true, false, &b, err, sizeof(err)), -EBADF);
	remove_image();
}

/* A differencing VHDX from descriptors: only with its parent. */
static void test_differencing_needs_its_parent(void)
{
	struct disk_create_opts base = { .format = DISK_FMT_VHDX, .type = DISK_TYPE_DYNAMIC,
					 .size = IMG_BYTES };
	struct disk_create_opts child = { .format = DISK_FMT_VHDX };
	struct disk_diag diag = { 0 };
	struct storvsp_blk *b = NULL;
	struct disk *d = NULL;
	char bpath[128], cpath[128], err[256] = "";
	uint8_t w[512], r[512];
	int cfd, pfd;

	snprintf(dir, sizeof(dir), "/tmp/ohv-blk.XXXXXX");
	T_ASSERT(mkdtemp(dir));
	snprintf(bpath, sizeof(bpath), "%s/base.vhdx", dir);
	snprintf(cpath, sizeof(cpath), "%s/child.vhdx", dir);
	T_ASSERT_EQ(disk_create(bpath, &base, &diag), 0);
	memset(w, 0xc3, sizeof(w));
	T_ASSERT_EQ(disk_open(bpath, 0, &diag, &d), 0);
	T_ASSERT_EQ(disk_write(d, 512 * 7, w, 512), 0);
	T_ASSERT_EQ(disk_close(d), 0);
	child.parent = bpath;
	T_ASSERT_EQ(disk_create(cpath, &child, &diag), 0);
	cfd = open(cpath, O_RDWR | O_CLOEXEC);
	pfd = open(bpath, O_RDONLY | O_CLOEXEC);
	T_ASSERT(cfd >= 0 && pfd >= 0);

	/* Alone it would read zeros where the parent has data: refused. */
	T_EXPECT_EQ(storvsp_blk_open(cpath, cfd, false, false, &b, err, sizeof(err)), -EINVAL);
	T_EXPECT(strstr(err, "without its parent") != NULL);
	/* With it, the parent's data shows through and writes go to the child. */
	T_ASSERT_EQ(storvsp_blk_open_chain(cpath, cfd, &pfd, 1, false, false, &b, err, sizeof(err)),
		    0);
	T_EXPECT_EQ(rw10(storvsp_blk_disk(b), false, 7, 1, r), SCSI_STATUS_GOOD);
	T_EXPECT_MEMEQ(r, w, 512);
	memset(w, 0x1d, sizeof(w));
	T_EXPECT_EQ(rw10(storvsp_blk_disk(b), true, 7, 1, w), SCSI_STATUS_GOOD);
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	T_ASSERT_EQ(disk_open(bpath, DISK_OPEN_RDONLY, &diag, &d), 0);
	T_ASSERT_EQ(disk_read(d, 512 * 7, r, 512), 0);
	T_EXPECT_EQ(r[0], 0xc3);                  /* the parent is untouched */
	T_ASSERT_EQ(disk_close(d), 0);
	/* The wrong file as parent, or parents for a DVD: one clear line each. */
	T_EXPECT(storvsp_blk_open_chain(cpath, cfd, &cfd, 1, true, false, &b, err,
					sizeof(err)) < 0);
	T_EXPECT(err[0] != 0);
	T_EXPECT_EQ(storvsp_blk_open_chain(cpath, cfd, &pfd, 1, true, true, &b, err, sizeof(err)),
		    -EINVAL);
	close(cfd);
	close(pfd);
	unlink(cpath);
	unlink(bpath);
	rmdir(dir);
}

/* ---- asynchronous path ---- */

struct aio_req {
	struct scsi_req r;
	struct scsi_io io;
	struct iovec iov[4];
	uint8_t cdb[16];
	struct scsi_disk *d;
	atomic_int done;     /* 0 running, 1 done */
	int result;
	pthread_t thread;    /* who called done() */
};

static void aio_done(struct scsi_io *io, int result)
{
	struct aio_req *q = io->cookie;

	q->result = result;
	q->thread = pthread_self();
	atomic_store(&q->done, 1);
}

/* The buffer in two pieces, the first `first` bytes long (at most the whole). */
static void aio_start_split(struct aio_req *q, struct scsi_disk *d, uint8_t opcode, uint32_t lba,
			    uint16_t count, void *data, bool fua, size_t first)
{
	memset(q, 0, sizeof(*q));
	q->d = d;
	q->cdb[0] = opcode;
	q->cdb[1] = fua ? 0x08 : 0;
	q->cdb[2] = (uint8_t)(lba >> 24);
	q->cdb[3] = (uint8_t)(lba >> 16);
	q->cdb[4] = (uint8_t)(lba >> 8);
	q->cdb[5] = (uint8_t)lba;
	q->cdb[7] = (uint8_t)(count >> 8);
	q->cdb[8] = (uint8_t)count;
	q->iov[0].iov_base = data;
	q->iov[0].iov_len = count ? first : 0;
	q->iov[1].iov_base = (uint8_t *)data + first;
	q->iov[1].iov_len = count ? (size_t)count * 512 - first : 0;
	q->r.cdb = q->cdb;
	q->r.cdb_len = 10;
	q->r.iov = q->iov;
	q->r.iovcnt = count ? 2 : 0;
	q->r.buf_len = (uint32_t)count * 512;
	q->r.dir = opcode == 0x2a ? SCSI_DIR_TO_DEV : opcode == 0x28 ? SCSI_DIR_FROM_DEV :
		   SCSI_DIR_NONE;
	q->r.aio = &q->io;
	q->io.iov = q->iov;
	q->io.iov_max = 4;
	q->io.done = aio_done;
	q->io.cookie = q;
	scsi_disk_exec(d, &q->r);
}

/* Two uneven pieces, as guest pages with an offset would be. */
static void aio_start(struct aio_req *q, struct scsi_disk *d, uint8_t opcode, uint32_t lba,
		      uint16_t count, void *data, bool fua)
{
	aio_start_split(q, d, opcode, lba, count, data, fua, 700);
}

/* Does this file take preadv2(RWF_NOWAIT) (ext4, xfs: yes; tmpfs on 6.1: no)? */
static bool file_has_nowait(const char *path)
{
	char c;
	struct iovec v = { &c, 1 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = preadv2(fd, &v, 1, 0, RWF_NOWAIT) >= 0 || errno == EAGAIN;
	close(fd);
	return ok;
}

/*
 * Wait up to 5 s for done(), then finish the command as the transport does
 * (storvsp under its lock; here on the test thread, so r.pending stays
 * observable until then). False on timeout.
 */
static bool aio_wait(struct aio_req *q)
{
	if (!q->r.pending)
		return true;   /* finished inside scsi_disk_exec (synchronous or served inline) */
	for (int i = 0; i < 5000 && !atomic_load(&q->done); i++)
		usleep(1000);
	if (!atomic_load(&q->done))
		return false;
	scsi_disk_finish(q->d, &q->r, q->result);
	return true;
}

static void async_raw_read_write_flush(void)
{
	static uint8_t w[8][4096], got[4096];
	static struct aio_req q[8];
	struct storvsp_blk *b = NULL;
	char err[256] = "";
	unsigned long inl;
	bool nowait;
	int fd;

	make_image();
	T_ASSERT_EQ(storvsp_blk_open(img, -1, false, false, &b, err, sizeof(err)), 0);
	if (!storvsp_blk_async(b)) {
		T_EXPECT_EQ(storvsp_blk_close(b), 0);
		remove_image();
		T_SKIP("io_uring is not available here (kernel or seccomp); only the synchronous path ran");
		return;
	}
	/* Eight writes in flight at once, one with FUA. */
	for (int i = 0; i < 8; i++) {
		memset(w[i], 0x10 + i, sizeof(w[i]));
		aio_start(&q[i], storvsp_blk_disk(b), 0x2a, 64 + 8 * (uint32_t)i, 8, w[i], i == 3);
		T_EXPECT(q[i].r.pending);
	}
	for (int i = 0; i < 8; i++) {
		T_ASSERT(aio_wait(&q[i]));
		T_EXPECT_EQ(q[i].result, 0);
		T_EXPECT_EQ(q[i].r.status, SCSI_STATUS_GOOD);
		T_EXPECT_EQ(q[i].r.xfer, 4096u);
		T_EXPECT(!pthread_equal(q[i].thread, pthread_self()));
	}
	/* SYNCHRONIZE CACHE(10) goes async too on raw images. */
	aio_start(&q[0], storvsp_blk_disk(b), 0x35, 0, 0, got, false);
	T_EXPECT(q[0].r.pending);
	T_ASSERT(aio_wait(&q[0]));
	T_EXPECT_EQ(q[0].r.status, SCSI_STATUS_GOOD);
	/*
	 * Read one back: the data is in the host page cache, so where the file
	 * system takes RWF_NOWAIT the read is served inside submit (no engine,
	 * no done() call), else it goes to the engine.
	 */
	nowait = file_has_nowait(img);
	inl = storvsp_blk_inline_reads(b);
	memset(got, 0, sizeof(got));
	aio_start(&q[1], storvsp_blk_disk(b), 0x28, 64 + 8 * 5, 8, got, false);
	T_EXPECT_EQ(q[1].r.pending, !nowait);
	T_ASSERT(aio_wait(&q[1]));
	T_EXPECT_EQ(q[1].r.status, SCSI_STATUS_GOOD);
	T_EXPECT_EQ(q[1].r.xfer, 4096u);
	T_EXPECT_MEMEQ(got, w[5], sizeof(got));
	T_EXPECT_EQ(storvsp_blk_inline_reads(b) - inl, nowait ? 1ul : 0ul);
	T_EXPECT_EQ(atomic_load(&q[1].done), nowait ? 0 : 1);
	/*
	 * The same range once the host dropped it from its page cache (clean
	 * after the SYNCHRONIZE CACHE above): still the right data, whichever
	 * way it comes (a RWF_NOWAIT miss starts readahead, and on a fast
	 * device the page may be back before the call returns, so the path it
	 * takes is not checked here).
	 */
	fd = open(img, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	T_EXPECT_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
	memset(got, 0, sizeof(got));
	aio_start(&q[1], storvsp_blk_disk(b), 0x28, 64 + 8 * 5, 8, got, false);
	T_ASSERT(aio_wait(&q[1]));
	T_EXPECT_EQ(q[1].r.status, SCSI_STATUS_GOOD);
	T_EXPECT_MEMEQ(got, w[5], sizeof(got));
	/* Out of range never reaches the back-end. */
	aio_start(&q[2], storvsp_blk_disk(b), 0x28, IMG_BYTES / 512, 8, got, false);
	T_EXPECT(!q[2].r.pending);
	T_EXPECT_EQ(q[2].r.status, SCSI_STATUS_CHECK_CONDITION);
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	/* The file holds every write. */
	fd = open(img, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	for (int i = 0; i < 8; i++) {
		T_EXPECT_EQ(pread(fd, got, sizeof(got), (64 + 8 * i) * 512), (ssize_t)sizeof(got));
		T_EXPECT_MEMEQ(got, w[i], sizeof(got));
	}
	close(fd);
	remove_image();
}

static void async_read_past_end_of_file_reads_zero(void)
{
	static uint8_t w[4096];
	static struct aio_req q;
	struct storvsp_blk *b = NULL;
	char err[256] = "";
	int fd;

	make_image();
	fd = open(img, O_RDWR | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	T_ASSERT_EQ(storvsp_blk_open(img, fd, false, false, &b, err, sizeof(err)), 0);
	if (!storvsp_blk_async(b)) {
		T_EXPECT_EQ(storvsp_blk_close(b), 0);
		close(fd);
		remove_image();
		T_SKIP("io_uring is not available here");
		return;
	}
	/* Reads work; then the host file shrinks under the disk: a read past
	 * its end completes (short) with zeros, not a hang or garbage. */
	T_ASSERT(ftruncate(fd, 8192) == 0);
	memset(w, 0xff, sizeof(w));
	aio_start(&q, storvsp_blk_disk(b), 0x28, 1000, 8, w, false);
	T_ASSERT(aio_wait(&q));
	T_EXPECT_EQ(q.r.status, SCSI_STATUS_GOOD);
	T_EXPECT_EQ(w[0], 0);
	T_EXPECT_EQ(w[4095], 0);
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	close(fd);
	remove_image();
}


static void test_async_raw_read_write_flush(void)
{
	async_raw_read_write_flush();
}

static void test_async_read_past_end_of_file_reads_zero(void)
{
	async_read_past_end_of_file_reads_zero();
}

/* The thread-pool engine (the sealed worker's): the same two, plus that it is the one used. */
static void test_threads_raw_read_write_flush(void)
{
	struct storvsp_blk *b = NULL;
	char err[256] = "";

	storvsp_blk_set_engine(STORVSP_BLK_THREADS);
	make_image();
	T_ASSERT_EQ(storvsp_blk_open(img, -1, false, false, &b, err, sizeof(err)), 0);
	T_EXPECT(storvsp_blk_async(b));
	T_EXPECT_STREQ(storvsp_blk_engine_name(b), "thread pool");
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	remove_image();
	async_raw_read_write_flush();
	async_read_past_end_of_file_reads_zero();
	storvsp_blk_set_engine(STORVSP_BLK_URING);
}

/* SYNC: no engine, every command on the caller's thread. */
static void test_sync_engine_runs_on_the_callers_thread(void)
{
	static uint8_t w[4096], got[4096];
	static struct aio_req q;
	struct storvsp_blk *b = NULL;
	char err[256] = "";

	storvsp_blk_set_engine(STORVSP_BLK_SYNC);
	make_image();
	T_ASSERT_EQ(storvsp_blk_open(img, -1, false, false, &b, err, sizeof(err)), 0);
	storvsp_blk_set_engine(STORVSP_BLK_URING);
	T_EXPECT(!storvsp_blk_async(b));
	T_EXPECT_STREQ(storvsp_blk_engine_name(b), "synchronous");
	memset(w, 0x5a, sizeof(w));
	aio_start(&q, storvsp_blk_disk(b), 0x2a, 8, 8, w, true);
	T_EXPECT(!q.r.pending);
	T_EXPECT_EQ(q.r.status, SCSI_STATUS_GOOD);
	aio_start(&q, storvsp_blk_disk(b), 0x28, 8, 8, got, false);
	T_EXPECT(!q.r.pending);
	T_EXPECT_MEMEQ(got, w, sizeof(got));
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	remove_image();
}

/*
 * Aligned writes to a raw image go O_DIRECT where the file system has it;
 * unaligned ones stay buffered; buffered reads see either kind (the kernel
 * drops cached pages a direct write replaces); FUA works on both; the file
 * holds the last write of each range.
 */
static void test_async_direct_writes_mix_with_buffered_io(void)
{
	uint8_t *a = aligned_alloc(4096, 8192), *b2 = aligned_alloc(4096, 8192);
	uint8_t *got = aligned_alloc(4096, 8192);
	static struct aio_req q;
	struct storvsp_blk *b = NULL;
	char err[256] = "";
	bool fs_direct;
	int fd;

	T_ASSERT(a && b2 && got);
	make_image();
	fd = open(img, O_RDWR | O_DIRECT | O_CLOEXEC);
	fs_direct = fd >= 0;
	if (fd >= 0)
		close(fd);
	T_ASSERT_EQ(storvsp_blk_open(img, -1, false, false, &b, err, sizeof(err)), 0);
	if (!storvsp_blk_async(b)) {
		T_EXPECT_EQ(storvsp_blk_close(b), 0);
		remove_image();
		free(a);
		free(b2);
		free(got);
		T_SKIP("io_uring is not available here");
		return;
	}
	/* 8 KiB at LBA 16 in unaligned pieces (700 + 7492 bytes): buffered; read back (cached). */
	memset(a, 0xa1, 8192);
	aio_start(&q, storvsp_blk_disk(b), 0x2a, 16, 16, a, false);
	T_ASSERT(aio_wait(&q));
	T_EXPECT_EQ(q.r.status, SCSI_STATUS_GOOD);
	T_EXPECT_EQ(storvsp_blk_direct_writes(b), 0ul);
	aio_start(&q, storvsp_blk_disk(b), 0x28, 16, 16, got, false);
	T_ASSERT(aio_wait(&q));
	T_EXPECT_MEMEQ(got, a, 8192);
	/* The same range from two whole pages, with FUA: direct where the file system can. */
	memset(b2, 0xb2, 4096);
	memset(b2 + 4096, 0xc3, 4096);
	aio_start_split(&q, storvsp_blk_disk(b), 0x2a, 16, 16, b2, true, 4096);
	T_ASSERT(aio_wait(&q));
	T_EXPECT_EQ(q.r.status, SCSI_STATUS_GOOD);
	T_EXPECT_EQ(storvsp_blk_direct_writes(b), fs_direct ? 1ul : 0ul);
	/* A buffered read sees the direct write, not the old cached data. */
	memset(got, 0, 8192);
	aio_start(&q, storvsp_blk_disk(b), 0x28, 16, 16, got, false);
	T_ASSERT(aio_wait(&q));
	T_EXPECT_MEMEQ(got, b2, 8192);
	/* An aligned write that is not a whole page at an aligned offset: by length. */
	aio_start_split(&q, storvsp_blk_disk(b), 0x2a, 17, 8, a, false, 4096);
	T_ASSERT(aio_wait(&q));
	T_EXPECT_EQ(q.r.status, SCSI_STATUS_GOOD);
	T_EXPECT_EQ(storvsp_blk_close(b), 0);
	/* On the host file: LBA 16 from the direct write, 17..24 buffered, 25..31 direct. */
	fd = open(img, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	T_EXPECT_EQ(pread(fd, got, 8192, 16 * 512), 8192);
	T_EXPECT_MEMEQ(got, b2, 512);
	T_EXPECT_MEMEQ(got + 512, a, 4096);
	T_EXPECT_MEMEQ(got + 4608, b2 + 4608, 8192 - 4608);
	close(fd);
	remove_image();
	free(a);
	free(b2);
	free(got);
	if (!fs_direct)
		T_SKIP("this file system has no O_DIRECT: only the buffered path ran");
}

/*
 * A completion already in the ring when io_uring_enter() returns is taken
 * by the submitting thread: with the page-cache reads switched off, a read
 * of cached data goes to io_uring, which serves it during the submit, and
 * the request is finished without done(). With OPENHV_STORAGE_NO_INLINE it
 * goes the old way, through the reaper thread.
 */
static void test_async_completion_taken_inline(void)
{
	static uint8_t w[4096], got[4096];
	static struct aio_req q;
	struct storvsp_blk *b = NULL;
	char err[256] = "";
	bool nowait;
	int fd;

	make_image();
	memset(w, 0x6b, sizeof(w));
	fd = open(img, O_RDWR | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	T_ASSERT(pwrite(fd, w, sizeof(w), 8 * 512) == (ssize_t)sizeof(w));
	close(fd);
	nowait = file_has_nowait(img);
	for (int pass = 0; pass < 2; pass++) {
		bool inl = pass == 0;

		setenv(inl ? "OPENHV_STORAGE_NO_CACHED_READS" : "OPENHV_STORAGE_NO_INLINE", "1", 1);
		T_ASSERT_EQ(storvsp_blk_open(img, -1, false, false, &b, err, sizeof(err)), 0);
		unsetenv("OPENHV_STORAGE_NO_CACHED_READS");
		unsetenv("OPENHV_STORAGE_NO_INLINE");
		if (!storvsp_blk_async(b) || !strcmp(storvsp_blk_engine_name(b), "thread pool")) {
			T_EXPECT_EQ(storvsp_blk_close(b), 0);
			remove_image();
			T_SKIP("io_uring is not available here");
			return;
		}
		memset(got, 0, sizeof(got));
		aio_start(&q, storvsp_blk_disk(b), 0x28, 8, 8, got, false);
		if (inl && nowait) {
			T_EXPECT(!q.r.pending);
			T_EXPECT_EQ(storvsp_blk_inline_completions(b), 1ul);
		} else if (!inl) {
			T_EXPECT(q.r.pending);
			T_EXPECT_EQ(storvsp_blk_inline_completions(b), 0ul);
		}
		T_ASSERT(aio_wait(&q));
		T_EXPECT_EQ(atomic_load(&q.done), inl && nowait ? 0 : 1);
		T_EXPECT_EQ(q.r.status, SCSI_STATUS_GOOD);
		T_EXPECT_EQ(q.r.xfer, 4096u);
		T_EXPECT_MEMEQ(got, w, sizeof(got));
		T_EXPECT_EQ(storvsp_blk_inline_reads(b), 0ul);
		T_EXPECT_EQ(storvsp_blk_close(b), 0);
	}
	remove_image();
	if (!nowait)
		T_SKIP("this file system serves no read during the submit (no RWF_NOWAIT)");
}

static const struct t_case cases[] = {
	T_CASE(test_open_by_path_writes_the_file),
	T_CASE(test_open_from_fd_dups_and_caller_keeps_it),
	T_CASE(test_fd_modes_are_checked),
	T_CASE(test_differencing_needs_its_parent),
	T_CASE(test_async_raw_read_write_flush),
	T_CASE(test_async_read_past_end_of_file_reads_zero),
	T_CASE(test_async_direct_writes_mix_with_buffered_io),
	T_CASE(test_async_completion_taken_inline),
	T_CASE(test_threads_raw_read_write_flush),
	T_CASE(test_sync_engine_runs_on_the_callers_thread),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
