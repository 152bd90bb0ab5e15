// SPDX-License-Identifier: MIT
/*
 * SCSI logical unit: direct-access disk (SBC-3 subset) or read-only CD/DVD
 * (MMC subset) over a block back-end. See scsi_disk.h.
 *
 * GUEST: Linux sd/sr and storvsc (hyperv-guest-interface.md §6.7) drive
 * what is implemented here: INQUIRY with VPD 0x00/0x80/0x83/0xB0/0xB1/0xB2,
 * READ CAPACITY(16) first, MODE SENSE(6) for the WP/DPOFUA bits and the
 * caching page, READ/WRITE(10), SYNCHRONIZE CACHE on flush, UNMAP for
 * discard. SECURITY: the CDB and every parameter list are copied before use;
 * all LBA ranges are checked against the capacity without overflow.
 */
#include "vsp/storvsp/scsi_disk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define SCSI_MAX_IOV 1100
#define MAX_UNMAP_DESC 64u
#define MAX_UNMAP_BLOCKS 0x400000u /* per descriptor / per WRITE SAME */
#define WS_CHUNK (1024u * 1024u)

struct scsi_disk {
	struct scsi_disk_params p;
	const struct scsi_blk_ops *ops;
	void *opaque;
	uint64_t blocks;
	uint8_t lbppbe;           /* log2(physical / logical) */
	struct iovec iov[SCSI_MAX_IOV];
	uint8_t *ws_buf;          /* WRITE SAME pattern buffer, WS_CHUNK bytes */
	struct scsi_disk_stats st;
};

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

int scsi_disk_new(const struct scsi_disk_params *p, const struct scsi_blk_ops *ops, void *opaque,
		  struct scsi_disk **ret)
{
	struct scsi_disk *d;
	uint32_t phys;

	if (!p || !ops || !ops->readv || !ops->writev || !ops->flush)
		return -EINVAL;
	if (p->block_size != 512 && p->block_size != 2048 && p->block_size != 4096)
		return -EINVAL;
	phys = p->phys_block_size ? p->phys_block_size : p->block_size;
	if (phys < p->block_size || phys % p->block_size || phys > 65536 ||
	    (phys & (phys - 1)))
		return -EINVAL;
	if (p->size / p->block_size == 0)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->p = *p;
	d->p.phys_block_size = phys;
	if (d->p.dvd)
		d->p.read_only = true;
	d->p.serial[sizeof(d->p.serial) - 1] = 0;
	d->ops = ops;
	d->opaque = opaque;
	d->blocks = p->size / p->block_size;
	while ((p->block_size << d->lbppbe) < phys)
		d->lbppbe++;
	*ret = d;
	return 0;
}

void scsi_disk_free(struct scsi_disk *d)
{
	if (!d)
		return;
	free(d->ws_buf);
	free(d);
}

uint64_t scsi_disk_blocks(const struct scsi_disk *d)
{
	return d->blocks;
}

void scsi_disk_get_stats(const struct scsi_disk *d, struct scsi_disk_stats *ret)
{
	*ret = d->st;
}

/* ---- request helpers ---- */

void scsi_req_sense(struct scsi_req *r, uint8_t key, uint16_t asc_ascq)
{
	memset(r->sense, 0, sizeof(r->sense));
	r->sense[0] = 0x70;              /* current error, fixed format */
	r->sense[2] = key & 0xF;
	r->sense[7] = SCSI_FIXED_SENSE_LEN - 8;
	r->sense[12] = (uint8_t)(asc_ascq >> 8);
	r->sense[13] = (uint8_t)asc_ascq;
	r->sense_len = SCSI_FIXED_SENSE_LEN;
	r->status = SCSI_STATUS_CHECK_CONDITION;
	r->xfer = 0;
}

static void req_good(struct scsi_req *r)
{
	r->status = SCSI_STATUS_GOOD;
	r->sense_len = 0;
}

/* Copy len bytes at buffer offset 0 from/to the request iovecs. */
static uint32_t iov_copy_out(const struct scsi_req *r, const void *src, uint32_t len)
{
	const uint8_t *s = src;
	uint32_t done = 0;

	for (int i = 0; i < r->iovcnt && done < len; i++) {
		uint32_t n = (uint32_t)MIN((uint64_t)r->iov[i].iov_len, (uint64_t)(len - done));

		memcpy(r->iov[i].iov_base, s + done, n);
		done += n;
	}
	return done;
}

static uint32_t iov_copy_in(const struct scsi_req *r, void *dst, uint32_t len)
{
	uint8_t *t = dst;
	uint32_t done = 0;

	for (int i = 0; i < r->iovcnt && done < len; i++) {
		uint32_t n = (uint32_t)MIN((uint64_t)r->iov[i].iov_len, (uint64_t)(len - done));

		memcpy(t + done, r->iov[i].iov_base, n);
		done += n;
	}
	return done;
}

void scsi_req_put(struct scsi_req *r, const void *data, uint32_t len, uint32_t alloc_len)
{
	uint32_t n = MIN(MIN(len, alloc_len), r->buf_len);

	req_good(r);
	r->xfer = r->dir == SCSI_DIR_FROM_DEV ? iov_copy_out(r, data, n) : 0;
}

void scsi_absent_lun_inquiry(struct scsi_req *r)
{
	uint8_t buf[36] = { 0 };
	uint32_t alloc;

	if (r->cdb_len < 6) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	alloc = get_be16(r->cdb + 3);
	/* GUEST: storvsc forces INQUIRY to success; PQ=3 is what stops the scan. */
	buf[0] = SCSI_TYPE_NO_LUN;
	buf[2] = 6;
	buf[3] = 2;
	buf[4] = sizeof(buf) - 5;
	scsi_req_put(r, buf, sizeof(buf), alloc);
}

void scsi_report_luns(struct scsi_req *r, const uint8_t *luns, unsigned int n)
{
	uint8_t buf[8 + 8 * 256];
	uint32_t alloc;

	if (r->cdb_len < 12) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	alloc = get_be32(r->cdb + 6);
	/* SPC-4: allocation length below 16 is an error. Select report 0..2 only. */
	if (alloc < 16 || r->cdb[2] > 2) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	n = MIN(n, 256u);
	memset(buf, 0, sizeof(buf));
	put_be32(buf, n * 8);
	for (unsigned int i = 0; i < n; i++)
		buf[8 + 8 * i + 1] = luns[i];
	scsi_req_put(r, buf, 8 + n * 8, alloc);
}

/* ---- INQUIRY ---- */

static const char scsi_vendor[] = "Msft    ";

static void inq_standard(struct scsi_disk *d, struct scsi_req *r, uint32_t alloc)
{
	uint8_t b[36] = { 0 };

	b[0] = d->p.dvd ? SCSI_TYPE_ROM : SCSI_TYPE_DISK;
	b[1] = d->p.dvd ? 0x80 : 0;    /* RMB */
	b[2] = d->p.dvd ? 5 : 6;       /* SPC-3 / SPC-4 */
	b[3] = 0x12;                   /* HiSup, response format 2 */
	b[4] = sizeof(b) - 5;
	b[7] = 0x02;                   /* CMDQUE */
	memcpy(b + 8, scsi_vendor, 8);
	memcpy(b + 16, d->p.dvd ? "Virtual DVD-ROM " : "Virtual Disk    ", 16);
	memcpy(b + 32, "1.0 ", 4);
	scsi_req_put(r, b, sizeof(b), alloc);
}

static size_t vpd_pages(const struct scsi_disk *d, uint8_t *out)
{
	size_t n = 0;

	out[n++] = 0x00;
	out[n++] = 0x80;
	out[n++] = 0x83;
	if (!d->p.dvd) {
		out[n++] = 0xB0;
		out[n++] = 0xB1;
		out[n++] = 0xB2;
	}
	return n;
}

static void inq_vpd(struct scsi_disk *d, struct scsi_req *r, uint8_t page, uint32_t alloc)
{
	uint8_t b[128] = { 0 };
	size_t len, sl;

	b[0] = d->p.dvd ? SCSI_TYPE_ROM : SCSI_TYPE_DISK;
	b[1] = page;
	switch (page) {
	case 0x00:
		len = vpd_pages(d, b + 4);
		break;
	case 0x80:
		sl = strnlen(d->p.serial, sizeof(d->p.serial) - 1);
		memcpy(b + 4, d->p.serial, sl);
		len = sl;
		break;
	case 0x83:
		/* NAA IEEE Registered Extended (6), binary, associated with the LU. */
		b[4] = 0x01;
		b[5] = 0x03;
		b[7] = 16;
		memcpy(b + 8, d->p.naa, 16);
		b[8] = (uint8_t)(0x60 | (b[8] & 0x0F));
		/* T10 vendor id: vendor + serial, ASCII. */
		sl = strnlen(d->p.serial, sizeof(d->p.serial) - 1);
		b[24] = 0x02;
		b[25] = 0x01;
		b[27] = (uint8_t)(8 + sl);
		memcpy(b + 28, scsi_vendor, 8);
		memcpy(b + 36, d->p.serial, sl);
		len = 24 + 8 + sl;
		break;
	case 0xB0:
		if (d->p.dvd)
			goto bad;
		len = 0x3C;
		put_be16(b + 6, (uint16_t)(1u << d->lbppbe));  /* optimal granularity */
		if (d->ops->discard && !d->p.read_only) {
			put_be32(b + 20, MAX_UNMAP_BLOCKS);    /* max unmap LBA count */
			put_be32(b + 24, MAX_UNMAP_DESC);      /* max unmap descriptors */
			put_be32(b + 28, 1u << d->lbppbe);     /* unmap granularity */
		}
		put_be64(b + 36, MAX_UNMAP_BLOCKS);            /* max WRITE SAME length */
		b[4] = 0x01;                                   /* WSNZ */
		break;
	case 0xB1:
		if (d->p.dvd)
			goto bad;
		len = 0x3C;
		put_be16(b + 4, 1);                            /* non-rotating medium */
		break;
	case 0xB2:
		if (d->p.dvd)
			goto bad;
		len = 4;
		if (d->ops->discard && !d->p.read_only) {
			b[5] = 0xE0;                           /* LBPU, LBPWS, LBPWS10 */
			b[6] = 0x02;                           /* thin provisioned */
		}
		break;
	default:
bad:
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	put_be16(b + 2, (uint16_t)len);
	scsi_req_put(r, b, (uint32_t)(4 + len), alloc);
}

static void cmd_inquiry(struct scsi_disk *d, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	uint32_t alloc = get_be16(c + 3);

	if (c[1] & 0x02) {              /* CmdDt (obsolete) */
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (c[1] & 0x01)
		inq_vpd(d, r, c[2], alloc);
	else if (c[2])
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	else
		inq_standard(d, r, alloc);
}

/* ---- capacity and mode pages ---- */

static void cmd_read_capacity10(struct scsi_disk *d, struct scsi_req *r)
{
	uint8_t b[8];

	put_be32(b, (uint32_t)MIN(d->blocks - 1, (uint64_t)0xFFFFFFFF));
	put_be32(b + 4, d->p.block_size);
	scsi_req_put(r, b, sizeof(b), sizeof(b));
}

static void cmd_read_capacity16(struct scsi_disk *d, struct scsi_req *r)
{
	uint8_t b[32] = { 0 };

	put_be64(b, d->blocks - 1);
	put_be32(b + 8, d->p.block_size);
	b[13] = d->lbppbe;
	if (d->ops->discard && !d->p.read_only)
		b[14] = 0x80;                  /* LBPME */
	scsi_req_put(r, b, sizeof(b), get_be32(r->cdb + 10));
}

/* Append mode page `page` (current or changeable values); length or 0. */
static size_t mode_page(struct scsi_disk *d, uint8_t page, bool changeable, uint8_t *p)
{
	switch (page) {
	case 0x08:                             /* caching */
		if (d->p.dvd)
			return 0;
		memset(p, 0, 20);
		p[0] = 0x08;
		p[1] = 0x12;
		if (!changeable)
			p[2] = 0x04;           /* WCE: the guest must flush */
		return 20;
	case 0x0A:                             /* control */
		memset(p, 0, 12);
		p[0] = 0x0A;
		p[1] = 0x0A;
		return 12;
	case 0x2A:                             /* MM capabilities */
		if (!d->p.dvd)
			return 0;
		memset(p, 0, 22);
		p[0] = 0x2A;
		p[1] = 0x14;
		if (!changeable) {
			p[2] = 0x0B;           /* reads CD-R, CD-RW, DVD-ROM */
			p[6] = 0x29;           /* tray, eject, lock */
			put_be16(p + 8, 8 * 1385);
		}
		return 22;
	default:
		return 0;
	}
}

static void cmd_mode_sense(struct scsi_disk *d, struct scsi_req *r, bool ten)
{
	static const uint8_t all_pages[] = { 0x08, 0x0A, 0x2A };
	const uint8_t *c = r->cdb;
	uint8_t b[256] = { 0 };
	bool dbd = c[1] & 0x08;
	uint8_t pc = c[2] >> 6, page = c[2] & 0x3F, sub = c[3];
	size_t hdr = ten ? 8 : 4, len = hdr;
	uint32_t alloc = ten ? get_be16(c + 7) : c[4];

	if (pc == 3) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_UNSUPPORTED);
		return;
	}
	if (sub && sub != 0xFF) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!dbd && !d->p.dvd) {
		uint8_t *bd = b + hdr;

		put_be32(bd, (uint32_t)MIN(d->blocks, (uint64_t)0xFFFFFFFF));
		put_be32(bd + 4, d->p.block_size & 0xFFFFFF);
		len += 8;
	}
	if (page == 0x3F) {
		for (size_t i = 0; i < ARRAY_SIZE(all_pages); i++)
			len += mode_page(d, all_pages[i], pc == 1, b + len);
	} else {
		size_t n = mode_page(d, page, pc == 1, b + len);

		if (!n) {
			scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
			return;
		}
		len += n;
	}
	if (ten) {
		put_be16(b, (uint16_t)(len - 2));
		b[3] = (uint8_t)((d->p.read_only ? 0x80 : 0) | (d->p.dvd ? 0 : 0x10));
		put_be16(b + 6, (!dbd && !d->p.dvd) ? 8 : 0);
	} else {
		b[0] = (uint8_t)(len - 1);
		b[2] = (uint8_t)((d->p.read_only ? 0x80 : 0) | (d->p.dvd ? 0 : 0x10));
		b[3] = (!dbd && !d->p.dvd) ? 8 : 0;
	}
	scsi_req_put(r, b, (uint32_t)len, alloc);
}

/* ---- data transfer ---- */

/* First `len` bytes of the request buffer as iovecs in dst (max entries); count or -1.
 * dst may be r->iov itself: entry n is written only after entry n was read. */
static int iov_slice(struct iovec *dst, int max, const struct scsi_req *r, uint64_t len)
{
	int n = 0;

	for (int i = 0; i < r->iovcnt && len; i++) {
		size_t l = (size_t)MIN((uint64_t)r->iov[i].iov_len, len);
		void *base = r->iov[i].iov_base;

		if (n >= max)
			return -1;
		dst[n].iov_base = base;
		dst[n].iov_len = l;
		len -= l;
		n++;
	}
	return len ? -1 : n;
}

static uint16_t write_error_asc(int err)
{
	return err == -ENOSPC || err == -EFBIG || err == -EDQUOT ? ASC_SPACE_ALLOC_FAILED_WP :
								  ASC_WRITE_ERROR;
}

static void write_failed(struct scsi_disk *d, struct scsi_req *r, int err)
{
	d->st.io_errors++;
	scsi_req_sense(r, err == -ENOSPC || err == -EFBIG || err == -EDQUOT ? SENSE_DATA_PROTECT :
									 SENSE_MEDIUM_ERROR,
		       write_error_asc(err));
}

/* Check [lba, lba + count) against the capacity; false after setting sense. */
static bool range_check(struct scsi_disk *d, struct scsi_req *r, uint64_t lba, uint64_t count)
{
	if (lba > d->blocks || count > d->blocks - lba) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	return true;
}

/*
 * Hand io (filled in for r) to the back-end's submit(). True when the command
 * is now the back-end's (pending until scsi_disk_finish()) or already
 * finished inline; false when the synchronous ops must do it.
 */
static bool aio_submit(struct scsi_disk *d, struct scsi_req *r, struct scsi_io *io)
{
	int rc;

	r->status = SCSI_STATUS_GOOD;
	r->pending = true;
	rc = d->ops->submit(d->opaque, io);
	if (!rc)
		return true;
	if (rc == SCSI_IO_DONE_INLINE) {
		scsi_disk_finish(d, r, io->be_result);
		return true;
	}
	r->pending = false;
	return false;
}

static void cmd_rw(struct scsi_disk *d, struct scsi_req *r, bool write, uint64_t lba,
		   uint64_t count, bool fua)
{
	uint64_t bytes;
	int n, rc;

	if (write && d->p.read_only) {
		scsi_req_sense(r, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return;
	}
	if (!range_check(d, r, lba, count))
		return;
	if (!count) {
		req_good(r);
		r->xfer = 0;
		return;
	}
	bytes = count * d->p.block_size;
	if (bytes > r->buf_len || r->dir != (write ? SCSI_DIR_TO_DEV : SCSI_DIR_FROM_DEV)) {
		/* The transport buffer cannot hold what the CDB asks for. */
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (r->aio && d->ops->submit) {
		struct scsi_io *io = r->aio;

		n = iov_slice(io->iov, io->iov_max, r, bytes);
		if (n < 0) {
			scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
			return;
		}
		io->op = write ? SCSI_IO_WRITE : SCSI_IO_READ;
		io->fua = write && fua;
		io->off = lba * d->p.block_size;
		io->len = bytes;
		io->iovcnt = n;
		if (aio_submit(d, r, io))
			return;
	}
	n = iov_slice(d->iov, SCSI_MAX_IOV, r, bytes);
	if (n < 0) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (write) {
		rc = d->ops->writev(d->opaque, lba * d->p.block_size, d->iov, n);
		if (!rc && fua)
			rc = d->ops->flush(d->opaque);
		if (rc) {
			write_failed(d, r, rc);
			return;
		}
		d->st.writes++;
		d->st.write_bytes += bytes;
	} else {
		rc = d->ops->readv(d->opaque, lba * d->p.block_size, d->iov, n);
		if (rc) {
			d->st.io_errors++;
			scsi_req_sense(r, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
			return;
		}
		d->st.reads++;
		d->st.read_bytes += bytes;
	}
	req_good(r);
	r->xfer = (uint32_t)bytes;
}

static void cmd_sync_cache(struct scsi_disk *d, struct scsi_req *r, uint64_t lba, uint64_t count)
{
	int rc;

	if (!range_check(d, r, lba, count))
		return;
	if (!d->p.read_only && r->aio && d->ops->submit) {
		struct scsi_io *io = r->aio;

		io->op = SCSI_IO_FLUSH;
		io->fua = false;
		io->off = io->len = 0;
		io->iovcnt = 0;
		if (aio_submit(d, r, io))
			return;
	}
	rc = d->p.read_only ? 0 : d->ops->flush(d->opaque);
	if (rc) {
		write_failed(d, r, rc);
		return;
	}
	d->st.flushes++;
	req_good(r);
	r->xfer = 0;
}

static void cmd_unmap(struct scsi_disk *d, struct scsi_req *r)
{
	uint8_t pl[8 + 16 * MAX_UNMAP_DESC];
	uint32_t plen = get_be16(r->cdb + 7), bdl, nd;

	if (!d->ops->discard) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	if (d->p.read_only) {
		scsi_req_sense(r, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return;
	}
	if (!plen) {
		req_good(r);
		r->xfer = 0;
		return;
	}
	if (plen < 8 || plen > r->buf_len || r->dir != SCSI_DIR_TO_DEV) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return;
	}
	plen = MIN(plen, (uint32_t)sizeof(pl));
	if (iov_copy_in(r, pl, plen) != plen) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return;
	}
	bdl = get_be16(pl + 2);
	if (bdl % 16 || bdl > plen - 8) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	nd = bdl / 16;
	/* Validate every descriptor before discarding anything. */
	for (uint32_t i = 0; i < nd; i++) {
		const uint8_t *e = pl + 8 + 16 * i;
		uint64_t lba = get_be64(e);
		uint32_t cnt = get_be32(e + 8);

		if (cnt > MAX_UNMAP_BLOCKS) {
			scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
			return;
		}
		if (!range_check(d, r, lba, cnt))
			return;
	}
	for (uint32_t i = 0; i < nd; i++) {
		const uint8_t *e = pl + 8 + 16 * i;
		uint64_t lba = get_be64(e);
		uint32_t cnt = get_be32(e + 8);
		int rc;

		if (!cnt)
			continue;
		rc = d->ops->discard(d->opaque, lba * d->p.block_size, (uint64_t)cnt * d->p.block_size);
		if (rc) {
			write_failed(d, r, rc);
			return;
		}
	}
	d->st.unmaps++;
	req_good(r);
	r->xfer = plen;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void cmd_write_same(struct scsi_disk *d, struct scsi_req *r, uint64_t lba, uint64_t count)
{
	uint8_t flags = r->cdb[1];
	uint32_t bs = d->p.block_size;
	uint64_t done = 0;

	if (d->p.read_only) {
		scsi_req_sense(r, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return;
	}
	/* ANCHOR, PBDATA, LBDATA and NDOB are not supported; WSNZ is advertised. */
	if ((flags & 0x17) || !count || count > MAX_UNMAP_BLOCKS) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!range_check(d, r, lba, count))
		return;
	if (r->buf_len < bs || r->dir != SCSI_DIR_TO_DEV) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!d->ws_buf) {
		d->ws_buf = malloc(WS_CHUNK);
		if (!d->ws_buf) {
			scsi_req_sense(r, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
			return;
		}
	}
	iov_copy_in(r, d->ws_buf, bs);
	/* UNMAP bit with a zero pattern: deallocate (reads back as zero). */
	if ((flags & 0x08) && d->ops->discard && all_zero(d->ws_buf, bs)) {
		int rc = d->ops->discard(d->opaque, lba * bs, count * bs);

		if (rc) {
			write_failed(d, r, rc);
			return;
		}
		d->st.unmaps++;
		req_good(r);
		r->xfer = bs;
		return;
	}
	for (uint32_t off = bs; off < WS_CHUNK; off += bs)
		memcpy(d->ws_buf + off, d->ws_buf, bs);
	while (done < count) {
		uint64_t n = MIN(count - done, (uint64_t)(WS_CHUNK / bs));
		struct iovec v = { .iov_base = d->ws_buf, .iov_len = (size_t)(n * bs) };
		int rc = d->ops->writev(d->opaque, (lba + done) * bs, &v, 1);

		if (rc) {
			write_failed(d, r, rc);
			return;
		}
		done += n;
	}
	d->st.writes++;
	d->st.write_bytes += count * bs;
	req_good(r);
	r->xfer = bs;
}

static void cmd_verify10(struct scsi_disk *d, struct scsi_req *r)
{
	if (r->cdb[1] & 0x06) {               /* BYTCHK: no data comparison */
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (range_check(d, r, get_be32(r->cdb + 2), get_be16(r->cdb + 7))) {
		req_good(r);
		r->xfer = 0;
	}
}

static void cmd_read_toc(struct scsi_disk *d, struct scsi_req *r)
{
	uint8_t b[20] = { 0 };
	uint8_t fmt = r->cdb[2] & 0x0F;
	bool msf = r->cdb[1] & 0x02;

	if (!d->p.dvd || msf || fmt > 1) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (fmt == 1) {                       /* session info: one session at LBA 0 */
		put_be16(b, 10);
		b[2] = 1;
		b[3] = 1;
		b[5] = 0x14;
		b[6] = 1;
		scsi_req_put(r, b, 12, get_be16(r->cdb + 7));
		return;
	}
	put_be16(b, 18);                      /* track 1 (data) and the lead-out */
	b[2] = 1;
	b[3] = 1;
	b[5] = 0x14;
	b[6] = 1;
	b[13] = 0x14;
	b[14] = 0xAA;
	put_be32(b + 16, (uint32_t)MIN(d->blocks, (uint64_t)0xFFFFFFFF));
	scsi_req_put(r, b, 20, get_be16(r->cdb + 7));
}

static void cmd_request_sense(struct scsi_disk *d, struct scsi_req *r)
{
	uint8_t b[SCSI_FIXED_SENSE_LEN] = { 0 };

	(void)d;
	b[0] = 0x70;
	b[7] = SCSI_FIXED_SENSE_LEN - 8;
	scsi_req_put(r, b, sizeof(b), r->cdb[4]);
}

/* CDB lengths by group code (opcode >> 5); 0 = vendor specific / reserved. */
static const uint8_t cdb_len_by_group[8] = { 6, 10, 10, 0, 16, 12, 0, 0 };

void scsi_disk_exec(struct scsi_disk *d, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	uint8_t need;

	r->xfer = 0;
	r->sense_len = 0;
	r->pending = false;
	if (!r->cdb_len) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		d->st.errors++;
		return;
	}
	need = cdb_len_by_group[c[0] >> 5];
	if (!need || r->cdb_len < need) {
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, need ? ASC_INVALID_FIELD_IN_CDB :
								 ASC_INVALID_OPCODE);
		d->st.errors++;
		return;
	}
	switch (c[0]) {
	case SCSI_TEST_UNIT_READY:
	case SCSI_START_STOP_UNIT:
	case SCSI_PREVENT_ALLOW:
		req_good(r);
		break;
	case SCSI_REQUEST_SENSE:
		cmd_request_sense(d, r);
		break;
	case SCSI_INQUIRY:
		cmd_inquiry(d, r);
		break;
	case SCSI_READ_CAPACITY_10:
		cmd_read_capacity10(d, r);
		break;
	case SCSI_SERVICE_ACTION_IN_16:
		if ((c[1] & 0x1F) == SCSI_SAI_READ_CAPACITY_16)
			cmd_read_capacity16(d, r);
		else
			scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		break;
	case SCSI_MODE_SENSE_6:
		cmd_mode_sense(d, r, false);
		break;
	case SCSI_MODE_SENSE_10:
		cmd_mode_sense(d, r, true);
		break;
	case SCSI_READ_6:
	case SCSI_WRITE_6:
		cmd_rw(d, r, c[0] == SCSI_WRITE_6, (uint32_t)(c[1] & 0x1F) << 16 | get_be16(c + 2),
		       c[4] ? c[4] : 256u, false);
		break;
	case SCSI_READ_10:
	case SCSI_WRITE_10:
		cmd_rw(d, r, c[0] == SCSI_WRITE_10, get_be32(c + 2), get_be16(c + 7), c[1] & 0x08);
		break;
	case SCSI_READ_12:
	case SCSI_WRITE_12:
		cmd_rw(d, r, c[0] == SCSI_WRITE_12, get_be32(c + 2), get_be32(c + 6), c[1] & 0x08);
		break;
	case SCSI_READ_16:
	case SCSI_WRITE_16:
		cmd_rw(d, r, c[0] == SCSI_WRITE_16, get_be64(c + 2), get_be32(c + 10), c[1] & 0x08);
		break;
	case SCSI_SYNCHRONIZE_CACHE_10:
		cmd_sync_cache(d, r, get_be32(c + 2), get_be16(c + 7));
		break;
	case SCSI_SYNCHRONIZE_CACHE_16:
		cmd_sync_cache(d, r, get_be64(c + 2), get_be32(c + 10));
		break;
	case SCSI_VERIFY_10:
		cmd_verify10(d, r);
		break;
	case SCSI_UNMAP:
		if (d->p.dvd)
			goto invalid;
		cmd_unmap(d, r);
		break;
	case SCSI_WRITE_SAME_10:
		if (d->p.dvd)
			goto invalid;
		cmd_write_same(d, r, get_be32(c + 2), get_be16(c + 7));
		break;
	case SCSI_WRITE_SAME_16:
		if (d->p.dvd)
			goto invalid;
		cmd_write_same(d, r, get_be64(c + 2), get_be32(c + 10));
		break;
	case SCSI_READ_TOC:
		cmd_read_toc(d, r);
		break;
	default:
invalid:
		scsi_req_sense(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		break;
	}
	if (!r->pending && r->status != SCSI_STATUS_GOOD)
		d->st.errors++;
}

void scsi_disk_finish(struct scsi_disk *d, struct scsi_req *r, int result)
{
	const struct scsi_io *io = r->aio;

	r->pending = false;
	r->xfer = 0;
	r->sense_len = 0;
	switch (io->op) {
	case SCSI_IO_READ:
		if (result) {
			d->st.io_errors++;
			scsi_req_sense(r, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
			break;
		}
		d->st.reads++;
		d->st.read_bytes += io->len;
		req_good(r);
		r->xfer = (uint32_t)io->len;
		break;
	case SCSI_IO_WRITE:
		if (result) {
			write_failed(d, r, result);
			break;
		}
		d->st.writes++;
		d->st.write_bytes += io->len;
		req_good(r);
		r->xfer = (uint32_t)io->len;
		break;
	case SCSI_IO_FLUSH:
		if (result) {
			write_failed(d, r, result);
			break;
		}
		d->st.flushes++;
		req_good(r);
		break;
	}
	if (r->status != SCSI_STATUS_GOOD)
		d->st.errors++;
}
