// SPDX-License-Identifier: MIT
/*
 * The disk-library back-end of the SCSI target over real host files: opened
 * by path and from an already-open descriptor (the worker's fd contract),
 * data through READ/WRITE CDBs lands in the file, the caller's descriptor
 * stays its own, and descriptors that cannot serve the mode are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/t.h"
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

static const struct t_case cases[] = {
	T_CASE(test_open_by_path_writes_the_file),
	T_CASE(test_open_from_fd_dups_and_caller_keeps_it),
	T_CASE(test_fd_modes_are_checked),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
