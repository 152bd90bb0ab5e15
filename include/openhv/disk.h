/* SPDX-License-Identifier: MIT */
/*
 * openhv disk images: one front for raw, VHD (legacy, "vpc") and VHDX files.
 *
 * The library has no VMM dependencies and never logs: failures return
 * -errno and, when the caller passes a struct disk_diag, one line of text for
 * people ("region table entry 2 overlaps the log at 0x100000; the file is
 * damaged"). A struct disk is used by one thread at a time; the storage VSP
 * can still drive its data path asynchronously through disk_map(), which
 * turns a virtual range into host-file extents it can hand to io_uring.
 *
 * Write ordering: data written through disk_writev() may stay volatile until
 * disk_flush() returns 0. Metadata (VHDX BAT, sector bitmaps, region table,
 * metadata items) is made durable only at flush time, after the data it
 * describes, and for VHDX always through the log, so a crash at any point
 * leaves an image that replays to a consistent state in which every write
 * acknowledged by a flush is present.
 */
#ifndef OPENHV_DISK_H
#define OPENHV_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifndef MUST_CHECK
#define MUST_CHECK __attribute__((warn_unused_result))
#endif

enum disk_format {
	DISK_FMT_AUTO = 0,   /* probe when opening */
	DISK_FMT_RAW,
	DISK_FMT_VHD,
	DISK_FMT_VHDX,
};

enum disk_type {
	DISK_TYPE_FIXED = 1, /* raw files are always "fixed" */
	DISK_TYPE_DYNAMIC,
	DISK_TYPE_DIFF,      /* differencing: unallocated ranges come from the parent */
};

/* One line of explanation for people, plus the file offset involved if any. */
struct disk_diag {
	uint64_t file_off;
	char msg[320];
};

/*
 * The file under an image. The library opens host files itself
 * (disk_file_open()), but tests and fuzzers pass their own implementations
 * (in-memory files, crash-simulating files).
 *   preadv:  reads the whole range; bytes beyond end of file read as zero.
 *   pwritev: writes the whole range, extending the file if needed.
 *   punch:   optional; makes a range read as zero and frees its space.
 */
struct disk_file;
struct disk_file_ops {
	int (*preadv)(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off);
	int (*pwritev)(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off);
	int (*flush)(struct disk_file *f);
	int (*get_size)(struct disk_file *f, uint64_t *ret_size);
	int (*set_size)(struct disk_file *f, uint64_t size);
	int (*punch)(struct disk_file *f, uint64_t off, uint64_t len);
	void (*destroy)(struct disk_file *f);
};
struct disk_file {
	const struct disk_file_ops *ops;
	int fd;          /* host fd for disk_map() users, or -1 */
	bool rdonly;
};

#define DISK_FILE_RDONLY 1u
#define DISK_FILE_CREATE 2u   /* create, failing if the path exists */
int disk_file_open(const char *path, unsigned flags, struct disk_file **ret) MUST_CHECK;
/* A host file over a dup() of an already-open fd (the caller keeps its own);
 * -EBADF if its access mode does not allow what rdonly asks. */
int disk_file_fdopen(int fd, bool rdonly, struct disk_file **ret) MUST_CHECK;
/*
 * Image locking between processes (open file description locks, so a lock
 * follows its descriptor into another process and ends when the last copy
 * closes). A writer holds the lock exclusively, a reader shares it: one
 * writer or many readers, e.g. several VMs on children of one parent while
 * no one may write the parent. disk_open() takes it for every file it opens
 * by path (not with DISK_OPEN_INSPECT); fd-based opens leave locking to
 * whoever opened the files. -EBUSY when another holder conflicts; 0 when the
 * file system has no locks (nothing to enforce there).
 */
int disk_lock_fd(int fd, bool exclusive) MUST_CHECK;
/* An in-memory file holding a copy of data (for fuzzers and tests). */
int disk_file_mem(const void *data, size_t len, bool rdonly, struct disk_file **ret) MUST_CHECK;
/* Borrow the current contents of an in-memory file. */
const uint8_t *disk_file_mem_data(struct disk_file *f, size_t *ret_len);
void disk_file_close(struct disk_file *f);

/* Opening. */
#define DISK_OPEN_RDONLY    0x1u
#define DISK_OPEN_NO_PARENT 0x2u  /* do not open the parent chain; parent ranges read as zero */
#define DISK_OPEN_INSPECT   0x4u  /* read-only, headers only: no log replay, no data I/O */
#define DISK_OPEN_FMT_RAW   0x100u /* skip probing and treat as raw */

struct disk;

int disk_open(const char *path, unsigned flags, struct disk_diag *diag,
	      struct disk **ret) MUST_CHECK;
/*
 * Open an image on a caller-provided file; the disk takes ownership of f (also
 * on failure). Differencing images need a parent opener when parents are
 * wanted; without one they behave as DISK_OPEN_NO_PARENT.
 */
int disk_open_file(struct disk_file *f, const char *path, unsigned flags,
		   struct disk_diag *diag, struct disk **ret) MUST_CHECK;
/*
 * Open path's image and its parent chain from already-open descriptors only,
 * for a process that may not open files (the sandboxed worker). Each image of
 * the chain, path included, must be in files[] under the exact path this
 * library resolves for it: open the chain once with disk_open() where opening
 * is allowed and take the names from disk_path()/disk_parent(). Parent
 * identity is still checked. The fds are dup()ed; the caller keeps its own.
 */
struct disk_fd_entry {
	const char *path;
	int fd;
};
int disk_open_fds(const char *path, const struct disk_fd_entry *files, unsigned n_files,
		  unsigned flags, struct disk_diag *diag, struct disk **ret) MUST_CHECK;
/*
 * Open an image and its parents from descriptors given in chain order:
 * fds[0] is the image, fds[1] its parent, fds[2] that one's parent, and so
 * on; names[i] name them in messages (and names[0] lets a damaged .vhdx/.vhd
 * be recognised by its extension). For a process that may not open files:
 * whoever passes the descriptors resolved the chain from the parent locators.
 * Each parent's identity is still checked against what its child records,
 * and the chain must use exactly the n descriptors given (a missing parent
 * or an extra file is refused). The fds are dup()ed; the caller keeps its own.
 */
int disk_open_fd_chain(const int *fds, const char *const *names, unsigned n, unsigned flags,
		       struct disk_diag *diag, struct disk **ret) MUST_CHECK;
/*
 * The path of a differencing image's parent as disk_open() would find it
 * (from the parent locators, next to the image), for an image opened with
 * DISK_OPEN_INSPECT or DISK_OPEN_NO_PARENT: a chain can be walked without
 * replaying any log. -ENOENT with diag naming the paths tried; -EINVAL if d
 * has no parent.
 */
int disk_parent_path(struct disk *d, char *out, size_t len, struct disk_diag *diag) MUST_CHECK;
/* Flushes (if writable), marks a VHDX log clean and frees; returns the first error. */
int disk_close(struct disk *d);

/* Creating. */
struct disk_create_opts {
	enum disk_format format;   /* RAW, VHD or VHDX */
	enum disk_type type;       /* FIXED or DYNAMIC; DIFF when parent is set */
	uint64_t size;             /* bytes; taken from the parent for DIFF when 0 */
	uint32_t block_size;       /* 0 = default (VHDX 32 MiB, diff 2 MiB; VHD 2 MiB) */
	uint32_t logical_sector;   /* VHDX: 512 or 4096 (default 512) */
	uint32_t physical_sector;  /* VHDX: 512 or 4096 (default 4096) */
	const char *parent;        /* path of the parent for differencing images */
};
/* Creates path (which must not exist); nothing is left behind on failure. */
int disk_create(const char *path, const struct disk_create_opts *o,
		struct disk_diag *diag) MUST_CHECK;

/* Data path; offsets and lengths are bytes, multiples of 512 (VHDX 4Kn: 4096). */
int disk_readv(struct disk *d, uint64_t off, const struct iovec *iov, int cnt) MUST_CHECK;
int disk_writev(struct disk *d, uint64_t off, const struct iovec *iov, int cnt) MUST_CHECK;
int disk_read(struct disk *d, uint64_t off, void *buf, size_t len) MUST_CHECK;
int disk_write(struct disk *d, uint64_t off, const void *buf, size_t len) MUST_CHECK;
int disk_flush(struct disk *d) MUST_CHECK;
/* Advisory: afterwards the range reads as zero or (differencing) unchanged. */
int disk_discard(struct disk *d, uint64_t off, uint64_t len) MUST_CHECK;

/* What lies at a virtual offset, in this layer only. */
enum disk_extent_kind {
	DISK_EXT_DATA = 1,   /* stored in this file at file_off */
	DISK_EXT_ZERO,       /* reads as zero */
	DISK_EXT_PARENT,     /* not in this file: read the parent */
};
struct disk_extent {
	enum disk_extent_kind kind;
	uint64_t len;        /* bytes from the queried offset with this kind */
	uint64_t file_off;   /* DATA only */
	int fd;              /* DATA only: host fd, or -1 for non-host files */
};
int disk_map(struct disk *d, uint64_t off, uint64_t len, struct disk_extent *ret) MUST_CHECK;
/*
 * Call once before writing DATA extents directly through their fd (VHDX
 * rewrites its headers with new write GUIDs first, as the format requires).
 * disk_writev() does this itself.
 */
int disk_begin_direct_writes(struct disk *d) MUST_CHECK;

struct disk_info {
	enum disk_format format;
	enum disk_type type;
	uint64_t virtual_size;
	uint64_t file_size;        /* bytes the file occupies (its length) */
	uint64_t allocated;        /* bytes of file space actually allocated on the host */
	uint32_t block_size;       /* 0 for raw */
	uint32_t logical_sector;
	uint32_t physical_sector;
	bool log_replayed;         /* VHDX: a crash log was replayed when opening */
	bool log_pending;          /* VHDX: opened with DISK_OPEN_INSPECT, log needs replay */
	bool rdonly;
	uint8_t disk_id[16];       /* VHDX page 83 id / VHD unique id (raw: zero) */
	char parent_hint[1024];    /* locator text as stored (empty if none) */
};
void disk_get_info(struct disk *d, struct disk_info *ret);
const char *disk_path(const struct disk *d);
/* The opened parent (NULL if none or not opened). */
struct disk *disk_parent(struct disk *d);
uint64_t disk_size(const struct disk *d);
const char *disk_format_name(enum disk_format f);
const char *disk_type_name(enum disk_type t);

/* Consistency check. report() gets one line per finding. */
struct disk_check_result {
	unsigned errors;       /* damage that makes data wrong or unsafe */
	unsigned leaks;        /* space used by nothing (safe, wasted) */
	unsigned repaired;
};
int disk_check(struct disk *d, bool repair,
	       void (*report)(void *opaque, bool is_error, const char *msg), void *opaque,
	       struct disk_check_result *ret) MUST_CHECK;

/* Maintenance. */
int disk_resize(struct disk *d, uint64_t new_size, struct disk_diag *diag) MUST_CHECK;
/* Releases blocks that read as zero and squeezes out holes. */
int disk_compact(struct disk *d, uint64_t *ret_saved, struct disk_diag *diag) MUST_CHECK;
/*
 * Writes every range this child holds into its parent (opened read-write),
 * then removes the child file. The parent keeps its own format.
 */
int disk_merge(const char *child_path, struct disk_diag *diag) MUST_CHECK;

typedef void (*disk_progress_fn)(void *opaque, uint64_t done, uint64_t total);
/* Copies src's full (flattened) content into a new image at dst_path. */
int disk_convert(struct disk *src, const char *dst_path, const struct disk_create_opts *o,
		 disk_progress_fn progress, void *opaque, struct disk_diag *diag) MUST_CHECK;

/* Guess the format of a file from its content and name. */
enum disk_format disk_probe(struct disk_file *f, const char *path);

#endif
