/* SPDX-License-Identifier: MIT */
/*
 * Block back-end for the SCSI target: raw, VHD or VHDX images through the
 * disk library (include/openhv/disk.h), or an ISO for a DVD drive.
 * READ/WRITE/SYNCHRONIZE CACHE go through io_uring (or a thread pool, see
 * storvsp_blk_set_engine()) where the image maps the range to one host
 * extent (raw always; VHD/VHDX allocated blocks, via disk_map()); a reaper
 * thread per disk completes them, unless they finish on the submitting
 * thread (page-cache reads, io_uring completions already in the ring:
 * storvsp_blk_inline_reads()). Aligned writes to raw
 * images go O_DIRECT (storvsp_blk_direct_writes()). Everything else
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
/*
 * How data commands run: through io_uring with a reaper thread per disk (the
 * default), on a few threads per disk doing preadv/pwritev/fdatasync (where
 * io_uring is not available or wanted: a process sealed with a seccomp filter
 * that refuses it), or synchronously on the caller's thread.
 */
enum storvsp_blk_engine { STORVSP_BLK_URING, STORVSP_BLK_THREADS, STORVSP_BLK_SYNC };
/*
 * The engine for every later open; URING falls back to THREADS where the
 * kernel or a filter refuses io_uring. For comparisons the environment can
 * step down: OPENHV_STORAGE_THREADS=1 (thread pool instead of io_uring),
 * OPENHV_STORAGE_SYNC=1 (every disk synchronous).
 */
void storvsp_blk_set_engine(enum storvsp_blk_engine e);
/* Whether data commands can run asynchronously (either engine). */
bool storvsp_blk_async(const struct storvsp_blk *b);
/* "io_uring", "thread pool" or "synchronous". */
const char *storvsp_blk_engine_name(const struct storvsp_blk *b);
/*
 * Writes that went to the host file O_DIRECT so far. Writable raw images on
 * the io_uring path send writes aligned to the file system's direct-I/O
 * alignment that way (no page-cache copy, no kernel worker thread); the rest,
 * and every write where the file system has no direct I/O (tmpfs before
 * Linux 6.6) or OPENHV_STORAGE_NO_DIRECT is set, stays buffered. Durability
 * is the same either way: FUA and SYNCHRONIZE CACHE still fdatasync.
 */
unsigned long storvsp_blk_direct_writes(struct storvsp_blk *b);
/*
 * Reads served from the host page cache on the submitting thread so far
 * (preadv2 with RWF_NOWAIT, tried first on the asynchronous engines; a miss
 * goes to the engine). OPENHV_STORAGE_NO_CACHED_READS=1 turns this off,
 * OPENHV_STORAGE_NO_INLINE=1 this and the inline completions below.
 */
unsigned long storvsp_blk_inline_reads(const struct storvsp_blk *b);
/*
 * io_uring requests whose completion was already in the ring when submit
 * returned, finished by the submitting thread without the reaper (same
 * switch). Reads the page cache served are not counted here.
 */
unsigned long storvsp_blk_inline_completions(const struct storvsp_blk *b);
/* Flush and close; returns the first error. NULL ok. */
int storvsp_blk_close(struct storvsp_blk *b);

#endif
