// SPDX-License-Identifier: MIT
/* SCSI target model against an in-memory block device: a table of CDBs with
 * the expected status, sense and transfer length, plus data-path cases. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/t.h"
#include "sv_guest.h"
#include "vsp/storvsp/scsi_disk.h"

#define DISK_BYTES (8u * 1024u * 1024u)  /* 16384 blocks of 512 */

static struct memdisk md;
static struct scsi_disk *sd;
static uint8_t buf[256 * 1024];

static struct scsi_disk *make(bool ro, bool dvd, bool discard, uint32_t bs)
{
	struct scsi_disk_params p = { .size = DISK_BYTES, .block_size = bs, .read_only = ro,
				      .dvd = dvd, .phys_block_size = bs == 512 ? 4096 : 0 };
	struct scsi_disk *d = NULL;

	memcpy(p.serial, "SERIAL42", 9);
	T_ASSERT(!memdisk_init(&md, DISK_BYTES));
	T_ASSERT(!scsi_disk_new(&p, discard ? &memdisk_ops : &memdisk_ops_nodiscard, &md, &d));
	return d;
}

static void done(void)
{
	scsi_disk_free(sd);
	sd = NULL;
	memdisk_fini(&md);
}

static void run(const uint8_t *cdb, uint8_t len, enum scsi_dir dir, uint32_t buflen,
		struct scsi_req *r)
{
	static struct iovec iov[4];

	memset(r, 0xEE, sizeof(*r));
	/* Split the buffer into uneven pieces, as guest pages would be. */
	iov[0].iov_base = buf;
	iov[0].iov_len = MIN(buflen, 100u);
	iov[1].iov_base = buf + iov[0].iov_len;
	iov[1].iov_len = buflen - iov[0].iov_len;
	r->cdb = cdb;
	r->cdb_len = len;
	r->dir = dir;
	r->iov = iov;
	r->iovcnt = 2;
	r->buf_len = buflen;
	scsi_disk_exec(sd, r);
}

struct cdb_case {
	const char *what;
	uint8_t cdb[16];
	uint8_t len;
	enum scsi_dir dir;
	uint32_t buflen;
	uint8_t status;
	uint8_t key;
	uint16_t asc;
	int64_t xfer;   /* -1 = do not check */
};

#define CC(w, l, d, b, st, x, ...) { w, { __VA_ARGS__ }, l, d, b, st, x }
#define IN SCSI_DIR_FROM_DEV
#define OUT SCSI_DIR_TO_DEV
#define NO SCSI_DIR_NONE
#define GOOD SCSI_STATUS_GOOD, 0, 0
#define CHK(k, a) SCSI_STATUS_CHECK_CONDITION, k, a

static const struct cdb_case disk_cases[] = {
	CC("TEST UNIT READY", 6, NO, 0, GOOD, 0, 0x00),
	CC("INQUIRY 36", 6, IN, 36, GOOD, 36, 0x12, 0, 0, 0, 36, 0),
	CC("INQUIRY alloc 5 truncates", 6, IN, 36, GOOD, 5, 0x12, 0, 0, 0, 5, 0),
	CC("INQUIRY page without EVPD", 6, IN, 36, CHK(5, 0x2400), 0, 0x12, 0, 0x80, 0, 36, 0),
	CC("INQUIRY CmdDt", 6, IN, 36, CHK(5, 0x2400), 0, 0x12, 2, 0, 0, 36, 0),
	CC("INQUIRY VPD 00", 6, IN, 255, GOOD, 10, 0x12, 1, 0x00, 0, 255, 0),
	CC("INQUIRY VPD 80", 6, IN, 255, GOOD, 12, 0x12, 1, 0x80, 0, 255, 0),
	CC("INQUIRY VPD 83", 6, IN, 255, GOOD, 44, 0x12, 1, 0x83, 0, 255, 0),
	CC("INQUIRY VPD B0", 6, IN, 255, GOOD, 64, 0x12, 1, 0xB0, 0, 255, 0),
	CC("INQUIRY VPD B1", 6, IN, 255, GOOD, 64, 0x12, 1, 0xB1, 0, 255, 0),
	CC("INQUIRY VPD B2", 6, IN, 255, GOOD, 8, 0x12, 1, 0xB2, 0, 255, 0),
	CC("INQUIRY VPD 89 unsupported", 6, IN, 255, CHK(5, 0x2400), 0, 0x12, 1, 0x89, 0, 255, 0),
	CC("READ CAPACITY 10", 10, IN, 8, GOOD, 8, 0x25),
	CC("READ CAPACITY 16", 16, IN, 32, GOOD, 32, 0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32),
	CC("SERVICE ACTION IN bad action", 16, IN, 32, CHK(5, 0x2400), 0, 0x9E, 0x11),
	CC("MODE SENSE 6 all pages hdr", 6, IN, 4, GOOD, 4, 0x1A, 0, 0x3F, 0, 4, 0),
	CC("MODE SENSE 6 caching", 6, IN, 255, GOOD, 4 + 8 + 20, 0x1A, 0, 0x08, 0, 255, 0),
	CC("MODE SENSE 6 caching DBD", 6, IN, 255, GOOD, 4 + 20, 0x1A, 0x08, 0x08, 0, 255, 0),
	CC("MODE SENSE 6 saved values", 6, IN, 255, CHK(5, 0x3900), 0, 0x1A, 0, 0xC8, 0, 255, 0),
	CC("MODE SENSE 6 unknown page", 6, IN, 255, CHK(5, 0x2400), 0, 0x1A, 0, 0x19, 0, 255, 0),
	CC("MODE SENSE 10 all", 10, IN, 255, GOOD, 8 + 8 + 20 + 12, 0x5A, 0, 0x3F, 0, 0, 0, 0, 0, 255, 0),
	CC("READ 10 one block", 10, IN, 512, GOOD, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
	CC("READ 10 zero blocks", 10, IN, 0, GOOD, 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	CC("READ 10 last block", 10, IN, 512, GOOD, 512, 0x28, 0, 0, 0, 0x3F, 0xFF, 0, 0, 1, 0),
	CC("READ 10 past end", 10, IN, 1024, CHK(5, 0x2100), 0, 0x28, 0, 0, 0, 0x3F, 0xFF, 0, 0, 2, 0),
	CC("READ 16 huge LBA", 16, IN, 512, CHK(5, 0x2100), 0, 0x88, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1, 0, 0),
	CC("READ 10 buffer too small", 10, IN, 511, CHK(5, 0x2400), 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
	CC("READ 10 wrong direction", 10, OUT, 512, CHK(5, 0x2400), 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
	CC("READ 6 count 0 means 256", 6, IN, 256 * 512, GOOD, 256 * 512, 0x08, 0, 0, 0, 0, 0),
	CC("READ 12", 12, IN, 1024, GOOD, 1024, 0xA8, 0, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0),
	CC("WRITE 10", 10, OUT, 1024, GOOD, 1024, 0x2A, 0, 0, 0, 0, 8, 0, 0, 2, 0),
	CC("WRITE 16 FUA", 16, OUT, 512, GOOD, 512, 0x8A, 0x08, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0),
	CC("WRITE 6", 6, OUT, 512, GOOD, 512, 0x0A, 0, 0, 10, 1, 0),
	CC("SYNCHRONIZE CACHE 10", 10, NO, 0, GOOD, 0, 0x35),
	CC("SYNCHRONIZE CACHE 16", 16, NO, 0, GOOD, 0, 0x91),
	CC("SYNC CACHE out of range", 10, NO, 0, CHK(5, 0x2100), 0, 0x35, 0, 0, 0, 0x40, 0, 0, 0, 1, 0),
	CC("VERIFY 10", 10, NO, 0, GOOD, 0, 0x2F, 0, 0, 0, 0, 0, 0, 0, 8, 0),
	CC("VERIFY 10 BYTCHK", 10, OUT, 512, CHK(5, 0x2400), 0, 0x2F, 0x02, 0, 0, 0, 0, 0, 0, 1, 0),
	CC("START STOP UNIT", 6, NO, 0, GOOD, 0, 0x1B, 0, 0, 0, 1, 0),
	CC("REQUEST SENSE", 6, IN, 18, GOOD, 18, 0x03, 0, 0, 0, 18, 0),
	CC("unknown opcode", 6, NO, 0, CHK(5, 0x2000), 0, 0x02),
	CC("ATA PASS-THROUGH 16", 16, IN, 512, CHK(5, 0x2000), 0, 0x85),
	CC("CDB shorter than its group", 6, NO, 0, CHK(5, 0x2400), 0, 0x28),
	CC("vendor-specific group", 10, NO, 0, CHK(5, 0x2000), 0, 0xC0),
	CC("WRITE SAME 16 zero count (WSNZ)", 16, OUT, 512, CHK(5, 0x2400), 0, 0x93),
	CC("WRITE SAME 10 LBDATA", 10, OUT, 512, CHK(5, 0x2400), 0, 0x41, 0x02, 0, 0, 0, 0, 0, 0, 1, 0),
	CC("WRITE SAME 10", 10, OUT, 512, GOOD, 512, 0x41, 0, 0, 0, 0, 0, 0, 0, 4, 0),
	CC("UNMAP empty parameter list", 10, OUT, 0, GOOD, 0, 0x42),
	CC("UNMAP short list", 10, OUT, 4, CHK(5, 0x1A00), 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0),
	CC("READ TOC on a disk", 10, IN, 20, CHK(5, 0x2400), 0, 0x43, 0, 0, 0, 0, 0, 0, 0, 20, 0),
};

static void check_case(const struct cdb_case *c)
{
	struct scsi_req r;

	memset(buf, 0, sizeof(buf));
	run(c->cdb, c->len, c->dir, c->buflen, &r);
	T_CHECK_(false, r.status == c->status, "%s: status %u, want %u", c->what, r.status,
		 c->status);
	if (c->status == SCSI_STATUS_CHECK_CONDITION) {
		T_CHECK_(false, r.sense_len == 18 && r.sense[0] == 0x70 && r.sense[7] == 10,
			 "%s: not fixed-format sense", c->what);
		T_CHECK_(false, (r.sense[2] & 0xF) == c->key &&
				(r.sense[12] << 8 | r.sense[13]) == c->asc,
			 "%s: sense %x/%02x%02x, want %x/%04x", c->what, r.sense[2] & 0xF,
			 r.sense[12], r.sense[13], c->key, c->asc);
		T_CHECK_(false, r.xfer == 0, "%s: error moved data", c->what);
	} else {
		T_CHECK_(false, r.sense_len == 0, "%s: sense on success", c->what);
	}
	if (c->xfer >= 0)
		T_CHECK_(false, r.xfer == (uint32_t)c->xfer, "%s: xfer %u, want %u", c->what,
			 r.xfer, (uint32_t)c->xfer);
}

static void test_cdb_table_disk(void)
{
	sd = make(false, false, true, 512);
	for (size_t i = 0; i < ARRAY_SIZE(disk_cases); i++)
		check_case(&disk_cases[i]);
	done();
}

static const struct cdb_case ro_cases[] = {
	CC("WRITE 10 on read-only", 10, OUT, 512, CHK(7, 0x2700), 0, 0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0),
	CC("WRITE 6 on read-only", 6, OUT, 512, CHK(7, 0x2700), 0, 0x0A, 0, 0, 0, 1, 0),
	CC("WRITE SAME on read-only", 16, OUT, 512, CHK(7, 0x2700), 0, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
	CC("UNMAP without discard", 10, OUT, 24, CHK(5, 0x2000), 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
	CC("READ on read-only", 10, IN, 512, GOOD, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
	CC("SYNC CACHE on read-only", 10, NO, 0, GOOD, 0, 0x35),
};

static void test_cdb_table_read_only(void)
{
	struct scsi_req r;
	static const uint8_t ms[6] = { 0x1A, 0, 0x3F, 0, 4, 0 };

	sd = make(true, false, false, 512);
	for (size_t i = 0; i < ARRAY_SIZE(ro_cases); i++)
		check_case(&ro_cases[i]);
	run(ms, 6, IN, 4, &r);
	T_EXPECT_EQ(buf[2] & 0x80, 0x80);       /* WP */
	done();
}

static const struct cdb_case dvd_cases[] = {
	CC("DVD INQUIRY", 6, IN, 36, GOOD, 36, 0x12, 0, 0, 0, 36, 0),
	CC("DVD READ CAPACITY", 10, IN, 8, GOOD, 8, 0x25),
	CC("DVD READ 10", 10, IN, 2048, GOOD, 2048, 0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0),
	CC("DVD WRITE 10", 10, OUT, 2048, CHK(7, 0x2700), 0, 0x2A, 0, 0, 0, 0, 1, 0, 0, 1, 0),
	CC("DVD UNMAP", 10, OUT, 24, CHK(5, 0x2000), 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
	CC("DVD VPD B0 not listed", 6, IN, 255, CHK(5, 0x2400), 0, 0x12, 1, 0xB0, 0, 255, 0),
	CC("DVD READ TOC", 10, IN, 20, GOOD, 20, 0x43, 0, 0, 0, 0, 0, 0, 0, 20, 0),
	CC("DVD READ TOC MSF", 10, IN, 20, CHK(5, 0x2400), 0, 0x43, 2, 0, 0, 0, 0, 0, 0, 20, 0),
	CC("DVD MODE SENSE 10 caps", 10, IN, 64, GOOD, 8 + 22, 0x5A, 0x08, 0x2A, 0, 0, 0, 0, 0, 64, 0),
};

static void test_cdb_table_dvd(void)
{
	struct scsi_req r;
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t rc[10] = { 0x25 };

	sd = make(false, true, true, 2048);
	for (size_t i = 0; i < ARRAY_SIZE(dvd_cases); i++)
		check_case(&dvd_cases[i]);
	run(inq, 6, IN, 36, &r);
	T_EXPECT_EQ(buf[0], SCSI_TYPE_ROM);
	T_EXPECT_EQ(buf[1], 0x80);
	run(rc, 10, IN, 8, &r);
	T_EXPECT_EQ(buf[3] | buf[2] << 8, DISK_BYTES / 2048 - 1);
	T_EXPECT_EQ(buf[6] << 8 | buf[7], 2048);
	done();
}

static void test_inquiry_and_capacity_content(void)
{
	struct scsi_req r;
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t vpd0[6] = { 0x12, 1, 0, 0, 255, 0 };
	static const uint8_t vpd80[6] = { 0x12, 1, 0x80, 0, 255, 0 };
	static const uint8_t vpdb2[6] = { 0x12, 1, 0xB2, 0, 255, 0 };
	static const uint8_t rc16[16] = { 0x9E, 0x10, [13] = 32 };
	static const uint8_t ms8[6] = { 0x1A, 0x08, 0x08, 0, 255, 0 };

	sd = make(false, false, true, 512);
	run(inq, 6, IN, 36, &r);
	T_EXPECT_EQ(buf[0], 0);
	T_EXPECT_EQ(buf[4], 31);
	T_EXPECT_MEMEQ(buf + 8, "Msft    ", 8);
	run(vpd0, 6, IN, 255, &r);
	T_EXPECT_EQ(buf[3], 6);
	T_EXPECT_MEMEQ(buf + 4, "\x00\x80\x83\xB0\xB1\xB2", 6);
	run(vpd80, 6, IN, 255, &r);
	T_EXPECT_EQ(buf[3], 8);
	T_EXPECT_MEMEQ(buf + 4, "SERIAL42", 8);
	run(vpdb2, 6, IN, 255, &r);
	T_EXPECT_EQ(buf[5] & 0x80, 0x80);       /* LBPU */
	run(rc16, 16, IN, 32, &r);
	T_EXPECT_EQ(buf[7] | buf[6] << 8, DISK_BYTES / 512 - 1);
	T_EXPECT_EQ(buf[10] << 8 | buf[11], 512);
	T_EXPECT_EQ(buf[13], 3);                /* 4096-byte physical blocks */
	T_EXPECT_EQ(buf[14] & 0x80, 0x80);      /* LBPME */
	run(ms8, 6, IN, 255, &r);
	T_EXPECT_EQ(buf[0], 4 + 20 - 1);
	T_EXPECT_EQ(buf[2] & 0x90, 0x10);       /* DPOFUA, not WP */
	T_EXPECT_EQ(buf[4], 0x08);
	T_EXPECT_EQ(buf[6] & 0x04, 0x04);       /* WCE */
	done();
}

static void test_data_path_and_errors(void)
{
	struct scsi_req r;
	static const uint8_t w10[10] = { 0x2A, 0x08, 0, 0, 0, 8, 0, 0, 4, 0 };
	static const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 8, 0, 0, 4, 0 };
	static const uint8_t sync[10] = { 0x35 };

	sd = make(false, false, true, 512);
	for (int i = 0; i < 2048; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	run(w10, 10, OUT, 2048, &r);
	T_ASSERT_EQ(r.status, 0);
	T_EXPECT_MEMEQ(md.data + 8 * 512, buf, 2048);
	T_EXPECT_EQ(md.flushes, 1);             /* FUA */
	memset(buf, 0, 2048);
	run(r10, 10, IN, 2048, &r);
	T_EXPECT_EQ(r.xfer, 2048);
	T_EXPECT_MEMEQ(md.data + 8 * 512, buf, 2048);

	md.fail_read = -EIO;
	run(r10, 10, IN, 2048, &r);
	T_EXPECT_EQ(r.status, 2);
	T_EXPECT_EQ(r.sense[2], SENSE_MEDIUM_ERROR);
	T_EXPECT_EQ(r.sense[12], 0x11);
	md.fail_read = 0;
	md.fail_write = -EIO;
	run(w10, 10, OUT, 2048, &r);
	T_EXPECT_EQ(r.sense[2], SENSE_MEDIUM_ERROR);
	T_EXPECT_EQ(r.sense[12], 0x0C);
	md.fail_write = -EFBIG;
	run(w10, 10, OUT, 2048, &r);
	T_EXPECT_EQ(r.sense[2], SENSE_DATA_PROTECT);
	T_EXPECT_EQ(r.sense[12] << 8 | r.sense[13], 0x2707);
	md.fail_write = 0;
	md.fail_flush = -EIO;
	run(sync, 10, NO, 0, &r);
	T_EXPECT_EQ(r.status, 2);
	T_EXPECT_EQ(r.sense[2], SENSE_MEDIUM_ERROR);
	md.fail_flush = 0;
	run(sync, 10, NO, 0, &r);
	T_EXPECT_EQ(r.status, 0);
	done();
}

static void test_unmap_and_write_same(void)
{
	struct scsi_req r;
	static const uint8_t unmap[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0 };
	static const uint8_t ws16_unmap[16] = { 0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 10 };
	static const uint8_t ws16[16] = { 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 3 };

	sd = make(false, false, true, 512);
	memset(md.data, 0xAB, DISK_BYTES);
	/* Two descriptors: 4 blocks at 16, 2 blocks at 100. */
	memset(buf, 0, 40);
	buf[1] = 38;
	buf[3] = 32;
	buf[8 + 7] = 16;
	buf[8 + 11] = 4;
	buf[24 + 7] = 100;
	buf[24 + 11] = 2;
	run(unmap, 10, OUT, 40, &r);
	T_ASSERT_EQ(r.status, 0);
	T_EXPECT_EQ(md.discards, 2);
	T_EXPECT_EQ(md.discarded_bytes, 6 * 512);
	T_EXPECT_EQ(md.data[16 * 512], 0);
	T_EXPECT_EQ(md.data[20 * 512], 0xAB);
	/* A descriptor past the end fails the whole command before any discard. */
	buf[24 + 2] = 0x10;
	run(unmap, 10, OUT, 40, &r);
	T_EXPECT_EQ(r.status, 2);
	T_EXPECT_EQ(r.sense[12], 0x21);
	T_EXPECT_EQ(md.discards, 2);
	/* Block descriptor length larger than the list. */
	buf[24 + 2] = 0;
	buf[3] = 48;
	run(unmap, 10, OUT, 40, &r);
	T_EXPECT_EQ(r.sense[12] << 8 | r.sense[13], 0x2600);

	memset(buf, 0, 512);
	run(ws16_unmap, 16, OUT, 512, &r);
	T_EXPECT_EQ(r.status, 0);
	T_EXPECT_EQ(md.discards, 3);
	memset(buf, 0x5C, 512);
	run(ws16, 16, OUT, 512, &r);
	T_EXPECT_EQ(r.status, 0);
	T_EXPECT_EQ(md.data[200 * 512], 0x5C);
	T_EXPECT_EQ(md.data[203 * 512 - 1], 0x5C);
	T_EXPECT_EQ(md.data[203 * 512], 0xAB);
	done();
}

static void test_absent_lun_and_report_luns(void)
{
	struct scsi_req r = { 0 };
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t rl[12] = { 0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	static const uint8_t rl_small[12] = { 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0 };
	static const uint8_t luns[3] = { 0, 1, 5 };
	struct iovec iov = { .iov_base = buf, .iov_len = 256 };

	r.cdb = inq;
	r.cdb_len = 6;
	r.dir = IN;
	r.iov = &iov;
	r.iovcnt = 1;
	r.buf_len = 256;
	scsi_absent_lun_inquiry(&r);
	T_EXPECT_EQ(r.status, 0);
	T_EXPECT_EQ(r.xfer, 36);
	T_EXPECT_EQ(buf[0], 0x7F);
	r.cdb = rl;
	r.cdb_len = 12;
	scsi_report_luns(&r, luns, 3);
	T_EXPECT_EQ(r.status, 0);
	T_EXPECT_EQ(r.xfer, 32);
	T_EXPECT_EQ(buf[3], 24);
	T_EXPECT_EQ(buf[8 + 8 * 2 + 1], 5);
	r.cdb = rl_small;
	scsi_report_luns(&r, luns, 3);
	T_EXPECT_EQ(r.status, 2);
	T_EXPECT_EQ(r.sense[12], 0x24);
}

static void test_4k_geometry_and_bad_params(void)
{
	struct scsi_disk_params p = { .size = 4096 * 10, .block_size = 4096 };
	struct scsi_disk *d = NULL;

	T_EXPECT_EQ(scsi_disk_new(&p, &memdisk_ops, &md, &d), 0);
	T_EXPECT_EQ(scsi_disk_blocks(d), 10);
	scsi_disk_free(d);
	p.block_size = 1024;
	T_EXPECT_EQ(scsi_disk_new(&p, &memdisk_ops, &md, &d), -EINVAL);
	p.block_size = 4096;
	p.size = 4095;
	T_EXPECT_EQ(scsi_disk_new(&p, &memdisk_ops, &md, &d), -EINVAL);
	p.size = 1 << 20;
	p.phys_block_size = 512;
	T_EXPECT_EQ(scsi_disk_new(&p, &memdisk_ops, &md, &d), -EINVAL);
	p.phys_block_size = 12288;
	T_EXPECT_EQ(scsi_disk_new(&p, &memdisk_ops, &md, &d), -EINVAL);
}

static const struct t_case cases[] = {
	T_CASE(test_cdb_table_disk),
	T_CASE(test_cdb_table_read_only),
	T_CASE(test_cdb_table_dvd),
	T_CASE(test_inquiry_and_capacity_content),
	T_CASE(test_data_path_and_errors),
	T_CASE(test_unmap_and_write_same),
	T_CASE(test_absent_lun_and_report_luns),
	T_CASE(test_4k_geometry_and_bad_params),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
