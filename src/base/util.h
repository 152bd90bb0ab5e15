/* SPDX-License-Identifier: MIT */
/* Small helpers with no project dependencies: overflow-safe ranges, size parsing, files. */
#ifndef OPENHV_BASE_UTIL_H
#define OPENHV_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define MUST_CHECK __attribute__((warn_unused_result))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

/*
 * True when [off, off+len) lies inside [0, size). Written so that no
 * addition can overflow: use this for every guest- or file-supplied range.
 */
static inline bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/*
 * Parse a size such as "512M", "2G", "4096", "1.5G" (suffixes K, M, G, T;
 * binary units; optional trailing "B" or "iB"). Returns 0 or -EINVAL/-ERANGE.
 */
int parse_size(const char *s, uint64_t *ret_bytes) MUST_CHECK;

/* Parse a decimal unsigned integer with no trailing junk. */
int parse_u64(const char *s, uint64_t *ret) MUST_CHECK;

/* Format bytes for people: "512 MiB", "1.5 GiB". */
const char *fmt_size(uint64_t bytes, char *buf, size_t len);

/* Read a whole file into a malloc'd buffer (max_len bounds it). */
int read_file(const char *path, size_t max_len, void **ret_buf, size_t *ret_len) MUST_CHECK;
/*
 * Crash-consistent replace of dfd/name with text plus a final newline: a
 * temporary ".name.tmp" is written and fsync'ed, renamed over name (or, when
 * !replace, only if name does not exist: -EEXIST) and the directory fsync'ed.
 * Nothing is left behind on failure. Returns 0 or -errno.
 */
int write_text_atomic_at(int dfd, const char *name, const char *text, bool replace) MUST_CHECK;

/* MemTotal from /proc/meminfo, in bytes; 0 if unknown. */
uint64_t host_mem_total(void);

/*
 * Write one line for people into err (if given) and return r: the common
 * "return errf(err, errlen, -EINVAL, "...", ...)" of functions that explain
 * their failures to their caller.
 */
int errf(char *err, size_t errlen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Little-endian loads and stores on byte buffers (wire and file formats). */
static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Monotonic time in nanoseconds. */
uint64_t now_ns(void);

#endif
