/* SPDX-License-Identifier: MIT */
/*
 * SCSI target model: one logical unit that is a direct-access disk (SBC) or
 * a read-only CD/DVD drive (MMC subset), over a block back-end given as a
 * small ops table. The transport (storvsp) hands in a CDB and the data buffer
 * as host iovecs (guest pages already validated by gm); the model fills in
 * the SCSI status, fixed-format sense data and the bytes transferred.
 *
 * Every CDB field is checked against the capacity and the buffer; errors are
 * CHECK CONDITION with the sense key/ASC SPC-4 prescribes. Data commands run
 * through the back-end's submit() when the transport allows it (r->aio) and
 * the back-end takes them; everything else finishes inside scsi_disk_exec().
 * Not thread-safe: the transport serialises calls per disk (storvsp: the
 * VMBus server lock).
 */
#ifndef OPENHV_SCSI_DISK_H
#define OPENHV_SCSI_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vsp/storvsp/scsi_defs.h"

/*
 * One data-path operation handed to an asynchronous back-end (see
 * scsi_blk_ops.submit). The SCSI model fills op..iovcnt; the transport
 * provides iov storage (iov_max entries, may be the request's own iov array)
 * and done/cookie; be_* belong to the back-end while the I/O runs.
 */
enum scsi_io_op { SCSI_IO_READ, SCSI_IO_WRITE, SCSI_IO_FLUSH };

struct scsi_io {
	enum scsi_io_op op;
	bool fua;                 /* WRITE: durable before done() */
	uint64_t off, len;        /* bytes (FLUSH: 0, 0) */
	struct iovec *iov;
	int iovcnt, iov_max;
	/* Called exactly once with 0 or -errno, from any thread, no lock held. */
	void (*done)(struct scsi_io *io, int result);
	void *cookie;
	int be_result;
	unsigned int be_parts;
};

/* submit() finished io by itself (a page-cache read, a completion already in). */
#define SCSI_IO_DONE_INLINE 1

/* Block back-end; offsets and lengths in bytes, multiples of the block size. */
struct scsi_blk_ops {
	int (*readv)(void *opaque, uint64_t off, const struct iovec *iov, int cnt);
	int (*writev)(void *opaque, uint64_t off, const struct iovec *iov, int cnt);
	int (*flush)(void *opaque);
	/* Optional (NULL: no UNMAP / thin provisioning advertised). */
	int (*discard)(void *opaque, uint64_t off, uint64_t len);
	/*
	 * Optional asynchronous data path. 0: io runs and io->done() follows
	 * exactly once (possibly before submit returns, on another thread);
	 * SCSI_IO_DONE_INLINE: io finished inside submit, its result (0 or
	 * -errno) is in io->be_result and done() is not called; < 0: nothing
	 * was done and the synchronous ops are used instead.
	 */
	int (*submit)(void *opaque, struct scsi_io *io);
};

struct scsi_disk_params {
	uint64_t size;            /* bytes; rounded down to the block size */
	uint32_t block_size;      /* 512 or 4096 (disk), 2048 (DVD) */
	uint32_t phys_block_size; /* 0 = block_size */
	bool read_only;
	bool dvd;                 /* MMC device type 5, always read-only */
	char serial[21];          /* VPD 0x80, printable ASCII */
	uint8_t naa[16];          /* VPD 0x83 identifier (NAA 6 uses the first 16 bytes) */
};

enum scsi_dir { SCSI_DIR_NONE, SCSI_DIR_TO_DEV, SCSI_DIR_FROM_DEV };

struct scsi_req {
	/* in */
	const uint8_t *cdb;
	uint8_t cdb_len;
	enum scsi_dir dir;
	const struct iovec *iov;  /* data buffer */
	int iovcnt;
	uint32_t buf_len;         /* sum of iov lengths */
	struct scsi_io *aio;      /* non-NULL: READ/WRITE/SYNCHRONIZE CACHE may go async */
	/* out */
	bool pending;             /* async: status follows from scsi_disk_finish() */
	uint8_t status;           /* SCSI_STATUS_* */
	uint32_t xfer;            /* bytes moved to/from the buffer */
	uint8_t sense[SCSI_FIXED_SENSE_LEN];
	uint8_t sense_len;
};

struct scsi_disk_stats {
	uint64_t reads, writes, flushes, unmaps, read_bytes, write_bytes, errors, io_errors;
};

struct scsi_disk;

int scsi_disk_new(const struct scsi_disk_params *p, const struct scsi_blk_ops *ops, void *opaque,
		  struct scsi_disk **ret);
void scsi_disk_free(struct scsi_disk *d);
uint64_t scsi_disk_blocks(const struct scsi_disk *d);
void scsi_disk_get_stats(const struct scsi_disk *d, struct scsi_disk_stats *ret);

/*
 * Execute one command; r->status/xfer/sense are set unless r->pending, in
 * which case the back-end took r->aio and the transport calls
 * scsi_disk_finish() with its result from the aio's done callback.
 */
void scsi_disk_exec(struct scsi_disk *d, struct scsi_req *r);
void scsi_disk_finish(struct scsi_disk *d, struct scsi_req *r, int result);

/* Helpers for LUNs that do not exist and for target-level commands. */
void scsi_req_sense(struct scsi_req *r, uint8_t key, uint16_t asc_ascq);
/* INQUIRY answer for an absent LUN: peripheral qualifier 3 (0x7F). */
void scsi_absent_lun_inquiry(struct scsi_req *r);
/* REPORT LUNS with this list (single-level LUN numbers); validates the CDB. */
void scsi_report_luns(struct scsi_req *r, const uint8_t *luns, unsigned int n);
/* Copy a response into the buffer, clamped to alloc_len and the buffer. */
void scsi_req_put(struct scsi_req *r, const void *data, uint32_t len, uint32_t alloc_len);

#endif
