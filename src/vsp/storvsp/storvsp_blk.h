/* SPDX-License-Identifier: MIT */
/*
 * Block back-end for the SCSI target: raw, VHD or VHDX images through the
 * disk library (include/openhv/disk.h), or an ISO for a DVD drive.
 * READ/WRITE/SYNCHRONIZE CACHE go through io_uring where the image maps the
 * range to one host extent (raw always; VHD/VHDX allocated blocks, via
 * disk_map()); a reaper thread per disk completes them. Everything else
 * (allocating writes, parent reads, VHD/VHDX flush and FUA, which must also
 * commit metadata, and requests beyond the queue depth) runs synchronously
 * through the disk library on the calling thread. FUA and SYNCHRONIZE CACHE
 * map to fdatasync (raw) or disk_flush() (VHDX: the metadata log); UNMAP maps to
 * disk_discard() (raw: punch hole, VHDX: trim), not offered on differencing
 * images.
 */
#ifndef OPENHV_STORVSP_BLK_H
#define OPENHV_STORVSP_BLK_H

#include <stdbool.h>
#include <stddef.h>

#include "vsp/storvsp/scsi_disk.h"

struct storvsp_blk;

/*
 * Open an image as a SCSI disk (or DVD). fd >= 0: use a dup() of that open
 * descriptor (the caller keeps fd; path only names the disk in messages; a
 * differencing image is refused, as its parents are missing); fd < 0: open
 * path and its parent chain. One line in err on failure.
 */
int storvsp_blk_open(const char *path, int fd, bool read_only, bool dvd,
		     struct storvsp_blk **ret, char *err, size_t errlen);
/*
 * The same for a differencing image passed as descriptors: parent_fds are
 * its parents, nearest first (what disk_open_fd_chain() takes), dup()ed like
 * fd. n_parents == 0 is storvsp_blk_open().
 */
#define STORVSP_BLK_PARENTS_MAX 8
int storvsp_blk_open_chain(const char *path, int fd, const int *parent_fds, unsigned n_parents,
			   bool read_only, bool dvd, struct storvsp_blk **ret, char *err,
			   size_t errlen);
struct scsi_disk *storvsp_blk_disk(struct storvsp_blk *b);
/* Whether data commands can run through io_uring (else all is synchronous:
 * no liburing, io_uring refused by the kernel or a seccomp filter, or
 * OPENHV_STORAGE_SYNC set in the environment). */
bool storvsp_blk_async(const struct storvsp_blk *b);
/*
 * Open every later disk synchronous-only (no io_uring ring, no reaper
 * thread). For a process about to seal itself with a seccomp filter that
 * refuses io_uring_enter: a ring made before sealing would only fail later.
 */
void storvsp_blk_set_sync_only(bool sync_only);
/* Flush and close; returns the first error. NULL ok. */
int storvsp_blk_close(struct storvsp_blk *b);

#endif
