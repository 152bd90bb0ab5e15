/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the disk image drivers (raw, VHD, VHDX) and the common
 * front in disk.c: the driver ops table, byte-order and checksum helpers,
 * GUIDs, UTF-16 and iovec slicing. Nothing here logs.
 */
#ifndef OPENHV_VHDX_DISK_INTERNAL_H
#define OPENHV_VHDX_DISK_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "openhv/disk.h"

struct disk_driver;

struct disk {
	const struct disk_driver *drv;
	struct disk_file *file;
	struct disk *parent;        /* opened parent of a differencing image, or NULL */
	char *path;                 /* as given; used to resolve relative parents */
	uint64_t size;              /* virtual size, bytes */
	uint32_t sector;            /* logical sector size: I/O granularity */
	unsigned flags;             /* DISK_OPEN_* */
	bool rdonly;
	void *priv;                 /* driver state */
};

/*
 * A format driver. Offsets given to readv/writev/discard/map are validated by
 * the front (inside the disk, sector aligned). readv must serve parent ranges
 * itself through disk_readv(d->parent) or zero-fill when there is no parent.
 */
struct disk_driver {
	enum disk_format format;
	int (*open)(struct disk *d, struct disk_diag *diag);
	int (*close)(struct disk *d);           /* flush + mark clean + free priv */
	int (*readv)(struct disk *d, uint64_t off, const struct iovec *iov, int cnt);
	int (*writev)(struct disk *d, uint64_t off, const struct iovec *iov, int cnt);
	int (*flush)(struct disk *d);
	int (*discard)(struct disk *d, uint64_t off, uint64_t len);
	int (*map)(struct disk *d, uint64_t off, uint64_t len, struct disk_extent *ret);
	int (*begin_writes)(struct disk *d);    /* optional */
	void (*info)(struct disk *d, struct disk_info *ret);
	int (*check)(struct disk *d, bool repair, void (*report)(void *, bool, const char *),
		     void *opaque, struct disk_check_result *ret);
	int (*resize)(struct disk *d, uint64_t new_size, struct disk_diag *diag);
	int (*compact)(struct disk *d, uint64_t *ret_saved, struct disk_diag *diag);
	/* Parent locator text of a differencing image (NULL if none). */
	const char *(*parent_hint)(struct disk *d, unsigned idx);
	/* Check that parent p is the one this child was made from. */
	int (*parent_matches)(struct disk *d, struct disk *p, struct disk_diag *diag);
	/* Identity a child records about us (VHDX DataWriteGuid / VHD unique id). */
	void (*link_id)(struct disk *d, uint8_t ret_id[16]);
};

extern const struct disk_driver disk_raw_driver;
extern const struct disk_driver disk_vhd_driver;
extern const struct disk_driver disk_vhdx_driver;

struct vhdx_create_params {
	uint64_t size;
	uint32_t block_size;
	uint32_t logical_sector;
	uint32_t physical_sector;
	bool fixed;
	/* differencing */
	bool has_parent;
	uint8_t parent_link[16];     /* parent's DataWriteGuid */
	const char *parent_relative;  /* Windows-style relative path */
	const char *parent_absolute;
};
int vhdx_create_file(struct disk_file *f, const struct vhdx_create_params *p,
		     struct disk_diag *diag) MUST_CHECK;

struct vhd_create_params {
	uint64_t size;
	uint32_t block_size;
	bool fixed;
	bool has_parent;
	uint8_t parent_id[16];
	uint32_t parent_mtime;
	const char *parent_relative;
	const char *parent_absolute;
	const char *parent_name;
};
int vhd_create_file(struct disk_file *f, const struct vhd_create_params *p,
		    struct disk_diag *diag) MUST_CHECK;
/* Size rounding a VHD of this size gets (CHS geometry does not limit us). */

/* Diagnostics. */
void diag_set(struct disk_diag *diag, uint64_t file_off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Little/big endian loads and stores on unaligned byte pointers. */
static inline uint16_t ld_le16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t ld_le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t ld_le64(const void *p)
{
	return ld_le32(p) | (uint64_t)ld_le32((const uint8_t *)p + 4) << 32;
}
static inline void st_le16(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}
static inline void st_le32(void *p, uint32_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}
static inline void st_le64(void *p, uint64_t v)
{
	st_le32(p, (uint32_t)v);
	st_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t ld_be16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] << 8 | b[1]);
}
static inline uint32_t ld_be32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}
static inline uint64_t ld_be64(const void *p)
{
	return (uint64_t)ld_be32(p) << 32 | ld_be32((const uint8_t *)p + 4);
}
static inline void st_be16(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}
static inline void st_be32(void *p, uint32_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void st_be64(void *p, uint64_t v)
{
	st_be32(p, (uint32_t)(v >> 32));
	st_be32((uint8_t *)p + 4, (uint32_t)v);
}

/* CRC-32C (Castagnoli), as used by VHDX: crc32c(0, buf, len) of a whole structure. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* Random version-4 GUID in the on-disk (mixed-endian) byte order. */
void guid_generate(uint8_t out[16]);
bool guid_is_zero(const uint8_t g[16]);
/* "{01234567-89AB-CDEF-0123-456789ABCDEF}" <-> on-disk bytes. */
void guid_format(const uint8_t g[16], char out[39]);
int guid_parse(const char *s, uint8_t out[16]);

/* UTF-16 (LE or BE) <-> UTF-8. Output is NUL-terminated; returns length or -EINVAL. */
int utf16_to_utf8(const uint8_t *in, size_t in_bytes, bool big_endian, char *out, size_t out_len);
int utf8_to_utf16(const char *in, bool big_endian, uint8_t *out, size_t out_len);

/* iovec helpers. */
size_t iov_total(const struct iovec *iov, int cnt);
/*
 * Build in out[] (at most max entries) the slice [skip, skip+len) of iov.
 * Returns the number of entries or -E2BIG when more than max are needed.
 */
int iov_slice(const struct iovec *iov, int cnt, size_t skip, size_t len, struct iovec *out,
	      int max);
void iov_zero(const struct iovec *iov, int cnt, size_t skip, size_t len);
void iov_to_buf(const struct iovec *iov, int cnt, size_t skip, void *buf, size_t len);
void iov_from_buf(const struct iovec *iov, int cnt, size_t skip, const void *buf, size_t len);

/* Whole-range file helpers over the disk_file ops. */
int df_pread(struct disk_file *f, void *buf, size_t len, uint64_t off) MUST_CHECK;
int df_pwrite(struct disk_file *f, const void *buf, size_t len, uint64_t off) MUST_CHECK;
int df_preadv(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off) MUST_CHECK;
int df_pwritev(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off) MUST_CHECK;
int df_flush(struct disk_file *f) MUST_CHECK;
int df_size(struct disk_file *f, uint64_t *ret) MUST_CHECK;
int df_set_size(struct disk_file *f, uint64_t size) MUST_CHECK;
/* Zero a range: punch when possible, else write zeros. */
int df_zero(struct disk_file *f, uint64_t off, uint64_t len) MUST_CHECK;
/* Bytes of host storage a file uses (st_blocks), or its size for non-host files. */
uint64_t df_allocated(struct disk_file *f);

bool buf_is_zero(const void *buf, size_t len);

/* Read a parent range: from d->parent, or zeros without one. */
int disk_read_parent(struct disk *d, uint64_t off, const struct iovec *iov, int cnt, size_t skip,
		     size_t len) MUST_CHECK;

#define IOV_SLICE_MAX 64

#endif
