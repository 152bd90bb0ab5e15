// SPDX-License-Identifier: MIT
/*
 * Helpers for the disk drivers: diagnostics, CRC-32C, GUIDs, UTF-16 and
 * iovec slicing, and whole-range wrappers over struct disk_file.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "vhdx/disk_internal.h"

void diag_set(struct disk_diag *diag, uint64_t file_off, const char *fmt, ...)
{
	va_list ap;

	if (!diag)
		return;
	diag->file_off = file_off;
	va_start(ap, fmt);
	vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
	va_end(ap);
}

/* CRC-32C, reflected polynomial 0x82F63B78, table driven (8 tables, 8 bytes a step). */
static uint32_t crc_tab[8][256];
static bool crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
	__atomic_store_n(&crc_ready, true, __ATOMIC_RELEASE);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
		crc_init();
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = ld_le32(p) ^ crc, hi = ld_le32(p + 4);
		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		      crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		      crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		      crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

void guid_generate(uint8_t out[16])
{
	size_t done = 0;

	while (done < 16) {
		ssize_t n = getrandom(out + done, 16 - done, 0);
		if (n <= 0) {
			/* No entropy source: fall back to time and address mixing. */
			uint64_t t = now_ns() ^ (uint64_t)(uintptr_t)out;
			for (; done < 16; done++, t = t * 6364136223846793005ULL + 1442695040888963407ULL)
				out[done] = (uint8_t)(t >> 56);
			break;
		}
		done += (size_t)n;
	}
	/* Version 4 lives in the high nibble of the third field (stored little endian). */
	out[7] = (uint8_t)((out[7] & 0x0f) | 0x40);
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

bool guid_is_zero(const uint8_t g[16])
{
	return buf_is_zero(g, 16);
}

void guid_format(const uint8_t g[16], char out[39])
{
	snprintf(out, 39, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", ld_le32(g),
		 ld_le16(g + 4), ld_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14],
		 g[15]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int guid_parse(const char *s, uint8_t out[16])
{
	/* Canonical text order of the 16 bytes, and where each goes on disk. */
	static const uint8_t pos[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t g[16];
	int n = 0;

	if (*s == '{')
		s++;
	while (*s && *s != '}' && n < 32) {
		int v;
		if (*s == '-') {
			s++;
			continue;
		}
		v = hexval(*s++);
		if (v < 0)
			return -EINVAL;
		if (n % 2 == 0)
			g[pos[n / 2]] = (uint8_t)(v << 4);
		else
			g[pos[n / 2]] |= (uint8_t)v;
		n++;
	}
	if (n != 32 || (*s && !(*s == '}' && !s[1])))
		return -EINVAL;
	memcpy(out, g, 16);
	return 0;
}

int utf16_to_utf8(const uint8_t *in, size_t in_bytes, bool big_endian, char *out, size_t out_len)
{
	size_t o = 0;

	if (!out_len)
		return -EINVAL;
	for (size_t i = 0; i + 1 < in_bytes; i += 2) {
		uint32_t c = big_endian ? ld_be16(in + i) : ld_le16(in + i);
		char tmp[4];
		size_t n;

		if (c == 0)
			break;
		if (c >= 0xd800 && c <= 0xdbff && i + 3 < in_bytes) {
			uint32_t lo = big_endian ? ld_be16(in + i + 2) : ld_le16(in + i + 2);
			if (lo < 0xdc00 || lo > 0xdfff)
				return -EINVAL;
			c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		} else if (c >= 0xd800 && c <= 0xdfff) {
			return -EINVAL;
		}
		if (c < 0x80) {
			tmp[0] = (char)c;
			n = 1;
		} else if (c < 0x800) {
			tmp[0] = (char)(0xc0 | c >> 6);
			tmp[1] = (char)(0x80 | (c & 0x3f));
			n = 2;
		} else if (c < 0x10000) {
			tmp[0] = (char)(0xe0 | c >> 12);
			tmp[1] = (char)(0x80 | ((c >> 6) & 0x3f));
			tmp[2] = (char)(0x80 | (c & 0x3f));
			n = 3;
		} else {
			tmp[0] = (char)(0xf0 | c >> 18);
			tmp[1] = (char)(0x80 | ((c >> 12) & 0x3f));
			tmp[2] = (char)(0x80 | ((c >> 6) & 0x3f));
			tmp[3] = (char)(0x80 | (c & 0x3f));
			n = 4;
		}
		if (o + n >= out_len)
			return -ENAMETOOLONG;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = 0;
	return (int)o;
}

int utf8_to_utf16(const char *in, bool big_endian, uint8_t *out, size_t out_len)
{
	const uint8_t *s = (const uint8_t *)in;
	size_t o = 0;

	while (*s) {
		uint32_t c;
		int extra;
		if (*s < 0x80) {
			c = *s;
			extra = 0;
		} else if ((*s & 0xe0) == 0xc0) {
			c = *s & 0x1f;
			extra = 1;
		} else if ((*s & 0xf0) == 0xe0) {
			c = *s & 0x0f;
			extra = 2;
		} else if ((*s & 0xf8) == 0xf0) {
			c = *s & 0x07;
			extra = 3;
		} else {
			return -EINVAL;
		}
		s++;
		for (int k = 0; k < extra; k++, s++) {
			if ((*s & 0xc0) != 0x80)
				return -EINVAL;
			c = c << 6 | (*s & 0x3f);
		}
		if (c >= 0x10000) {
			uint32_t v = c - 0x10000;
			if (o + 4 > out_len)
				return -ENAMETOOLONG;
			uint16_t hi = (uint16_t)(0xd800 + (v >> 10)), lo = (uint16_t)(0xdc00 + (v & 0x3ff));
			big_endian ? st_be16(out + o, hi) : st_le16(out + o, hi);
			big_endian ? st_be16(out + o + 2, lo) : st_le16(out + o + 2, lo);
			o += 4;
		} else {
			if (o + 2 > out_len)
				return -ENAMETOOLONG;
			big_endian ? st_be16(out + o, (uint16_t)c) : st_le16(out + o, (uint16_t)c);
			o += 2;
		}
	}
	return (int)o;
}

size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t t = 0;
	for (int i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

int iov_slice(const struct iovec *iov, int cnt, size_t skip, size_t len, struct iovec *out,
	      int max)
{
	int n = 0;

	for (int i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (n == max)
			return -E2BIG;
		out[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[n].iov_len = MIN(l - skip, len);
		len -= out[n].iov_len;
		skip = 0;
		n++;
	}
	return len ? -EINVAL : n;
}

#define IOV_WALK(iov, cnt, skip, len, body)                                     \
	do {                                                                    \
		size_t w_skip_ = (skip), w_len_ = (len), w_done_ = 0;           \
		for (int w_i_ = 0; w_i_ < (cnt) && w_len_; w_i_++) {            \
			size_t w_l_ = (iov)[w_i_].iov_len;                      \
			if (w_skip_ >= w_l_) {                                  \
				w_skip_ -= w_l_;                                \
				continue;                                       \
			}                                                       \
			uint8_t *w_p_ = (uint8_t *)(iov)[w_i_].iov_base + w_skip_; \
			size_t w_n_ = MIN(w_l_ - w_skip_, w_len_);              \
			body;                                                   \
			w_done_ += w_n_;                                        \
			(void)w_done_;                                          \
			w_len_ -= w_n_;                                         \
			w_skip_ = 0;                                            \
		}                                                               \
	} while (0)

void iov_zero(const struct iovec *iov, int cnt, size_t skip, size_t len)
{
	IOV_WALK(iov, cnt, skip, len, memset(w_p_, 0, w_n_));
}

void iov_to_buf(const struct iovec *iov, int cnt, size_t skip, void *buf, size_t len)
{
	IOV_WALK(iov, cnt, skip, len, memcpy((uint8_t *)buf + w_done_, w_p_, w_n_));
}

void iov_from_buf(const struct iovec *iov, int cnt, size_t skip, const void *buf, size_t len)
{
	IOV_WALK(iov, cnt, skip, len, memcpy(w_p_, (const uint8_t *)buf + w_done_, w_n_));
}

int df_preadv(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	return f->ops->preadv(f, iov, cnt, off);
}

int df_pwritev(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	if (f->rdonly)
		return -EROFS;
	return f->ops->pwritev(f, iov, cnt, off);
}

int df_pread(struct disk_file *f, void *buf, size_t len, uint64_t off)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };
	return f->ops->preadv(f, &v, 1, off);
}

int df_pwrite(struct disk_file *f, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
	return df_pwritev(f, &v, 1, off);
}

int df_flush(struct disk_file *f)
{
	if (f->rdonly)
		return 0;
	return f->ops->flush(f);
}

int df_size(struct disk_file *f, uint64_t *ret)
{
	return f->ops->get_size(f, ret);
}

int df_set_size(struct disk_file *f, uint64_t size)
{
	if (f->rdonly)
		return -EROFS;
	return f->ops->set_size(f, size);
}

int df_zero(struct disk_file *f, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[64 * 1024];
	int r;

	if (f->rdonly)
		return -EROFS;
	if (f->ops->punch) {
		r = f->ops->punch(f, off, len);
		if (r != -EOPNOTSUPP)
			return r;
	}
	while (len) {
		size_t n = (size_t)MIN(len, sizeof(zeros));
		r = df_pwrite(f, zeros, n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

bool buf_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i = 0;

	for (; i < len && ((uintptr_t)(p + i) & 7); i++)
		if (p[i])
			return false;
	for (; i + 32 <= len; i += 32) {
		const uint64_t *q = (const uint64_t *)(const void *)(p + i);
		if (q[0] | q[1] | q[2] | q[3])
			return false;
	}
	for (; i < len; i++)
		if (p[i])
			return false;
	return true;
}
