// SPDX-License-Identifier: MIT
/*
 * VHD driver (legacy "vpc" format): fixed, dynamic and differencing images.
 *
 * VHD has no log. We order writes so that what a flush acknowledged is
 * durable: new blocks and their footer are written first, BAT entries stay
 * dirty in memory until disk_flush(), which syncs data before writing the
 * BAT sectors and syncs again. A crash between flushes can leak a block at
 * the end of the file (check reports it), never point the BAT at garbage.
 *
 * Size: current_size from the footer is authoritative (the Hyper-V rule).
 * We write creator application "win " because readers such as qemu use that
 * marker to choose current_size over the CHS geometry, which would round our
 * sizes down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vhdx/disk_internal.h"
#include "vhdx/vhd_format.h"

struct vhd {
	uint8_t footer[VHD_FOOTER_SIZE];
	uint8_t dyn[VHD_DYN_SIZE];
	uint32_t type;
	uint64_t size;
	/* dynamic / differencing */
	uint64_t bat_off;
	uint32_t max_entries;
	uint32_t block_size, bitmap_size;
	uint32_t *bat;               /* native, in memory */
	uint8_t *bat_dirty;          /* per 512-byte BAT sector */
	uint64_t end;                /* offset of the trailing footer */
	bool footer_damaged, copy_damaged;
	char loc[2][1024];           /* W2ru, W2ku */
	char parent_name[512];
	bool dirty;
};

#define VHD(d) ((struct vhd *)(d)->priv)

static uint32_t vhd_checksum(const uint8_t *p, size_t len, size_t skip)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < skip || i >= skip + 4)
			sum += p[i];
	return ~sum;
}

static bool footer_ok(const uint8_t *f)
{
	return !memcmp(f, VHD_FOOTER_COOKIE, 8) &&
	       ld_be32(f + VHD_F_CHECKSUM) == vhd_checksum(f, VHD_FOOTER_SIZE, VHD_F_CHECKSUM);
}

/* CHS geometry from the VHD specification's algorithm. */
static void vhd_geometry(uint64_t size, uint16_t *c, uint8_t *h, uint8_t *s)
{
	uint64_t ts = size / 512, cth;
	uint32_t spt, heads;

	if (ts > 65535ULL * 16 * 255)
		ts = 65535ULL * 16 * 255;
	if (ts >= 65535ULL * 16 * 63) {
		spt = 255;
		heads = 16;
		cth = ts / spt;
	} else {
		spt = 17;
		cth = ts / spt;
		heads = (uint32_t)((cth + 1023) / 1024);
		if (heads < 4)
			heads = 4;
		if (cth >= heads * 1024ULL || heads > 16) {
			spt = 31;
			heads = 16;
			cth = ts / spt;
		}
		if (cth >= heads * 1024ULL) {
			spt = 63;
			heads = 16;
			cth = ts / spt;
		}
	}
	*c = (uint16_t)MIN(cth / heads, 65535);
	*h = (uint8_t)heads;
	*s = (uint8_t)spt;
}

static void build_footer(uint8_t *f, uint64_t size, uint32_t type, uint64_t data_off,
			 const uint8_t id[16])
{
	uint16_t c;
	uint8_t h, s;

	memset(f, 0, VHD_FOOTER_SIZE);
	memcpy(f, VHD_FOOTER_COOKIE, 8);
	st_be32(f + 8, 2);
	st_be32(f + 12, 0x00010000);
	st_be64(f + VHD_F_DATA_OFFSET, data_off);
	st_be32(f + VHD_F_TIMESTAMP, (uint32_t)(time(NULL) - VHD_EPOCH));
	memcpy(f + VHD_F_CREATOR_APP, "win ", 4);
	st_be32(f + VHD_F_CREATOR_VER, 0x000a0000);
	memcpy(f + VHD_F_CREATOR_OS, "Wi2k", 4);
	st_be64(f + VHD_F_ORIG_SIZE, size);
	st_be64(f + VHD_F_CUR_SIZE, size);
	vhd_geometry(size, &c, &h, &s);
	st_be16(f + VHD_F_GEOMETRY, c);
	f[VHD_F_GEOMETRY + 2] = h;
	f[VHD_F_GEOMETRY + 3] = s;
	st_be32(f + VHD_F_TYPE, type);
	memcpy(f + VHD_F_UNIQUE_ID, id, 16);
	st_be32(f + VHD_F_CHECKSUM, vhd_checksum(f, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
}

static void vhd_free(struct vhd *v)
{
	if (!v)
		return;
	free(v->bat);
	free(v->bat_dirty);
	free(v);
}

static int parse_dynamic(struct disk *d, struct vhd *v, uint64_t fsize, struct disk_diag *diag)
{
	uint64_t doff = ld_be64(v->footer + VHD_F_DATA_OFFSET), need;
	uint8_t *raw;
	int r;

	if (!range_ok(doff, VHD_DYN_SIZE, fsize) || doff % 512) {
		diag_set(diag, VHD_F_DATA_OFFSET, "the dynamic header offset 0x%llx is outside the file",
			 (unsigned long long)doff);
		return -EINVAL;
	}
	r = df_pread(d->file, v->dyn, VHD_DYN_SIZE, doff);
	if (r < 0)
		return r;
	if (memcmp(v->dyn, VHD_DYN_COOKIE, 8) ||
	    ld_be32(v->dyn + VHD_D_CHECKSUM) != vhd_checksum(v->dyn, VHD_DYN_SIZE, VHD_D_CHECKSUM)) {
		diag_set(diag, doff, "the VHD dynamic header is damaged (bad cookie or checksum)");
		return -EINVAL;
	}
	v->bat_off = ld_be64(v->dyn + VHD_D_TABLE_OFFSET);
	v->max_entries = ld_be32(v->dyn + VHD_D_MAX_ENTRIES);
	v->block_size = ld_be32(v->dyn + VHD_D_BLOCK_SIZE);
	if (v->block_size < 4096 || v->block_size > (256u << 20) ||
	    (v->block_size & (v->block_size - 1))) {
		diag_set(diag, doff, "VHD block size %u is not supported (power of two, 4K..256M)",
			 v->block_size);
		return -EINVAL;
	}
	v->bitmap_size = (uint32_t)ALIGN_UP(v->block_size / 512 / 8, 512);
	need = (v->size + v->block_size - 1) / v->block_size;
	if (v->max_entries < need || !range_ok(v->bat_off, (uint64_t)v->max_entries * 4, fsize)) {
		diag_set(diag, doff, "the VHD block table (%u entries at 0x%llx) does not cover the "
			 "disk or lies outside the file", v->max_entries,
			 (unsigned long long)v->bat_off);
		return -EINVAL;
	}
	v->bat = calloc(v->max_entries, 4);
	v->bat_dirty = calloc(((uint64_t)v->max_entries * 4 + 511) / 512, 1);
	raw = malloc((size_t)v->max_entries * 4);
	if (!v->bat || !v->bat_dirty || !raw) {
		free(raw);
		return -ENOMEM;
	}
	r = df_pread(d->file, raw, (size_t)v->max_entries * 4, v->bat_off);
	if (r < 0) {
		free(raw);
		return r;
	}
	for (uint32_t i = 0; i < v->max_entries; i++) {
		v->bat[i] = ld_be32(raw + i * 4);
		/* SECURITY: a block must lie inside the file (before the footer). */
		if (v->bat[i] != VHD_BAT_UNUSED &&
		    !range_ok((uint64_t)v->bat[i] * 512, v->bitmap_size + (uint64_t)v->block_size,
			      fsize)) {
			diag_set(diag, v->bat_off + i * 4, "VHD block %u points outside the file "
				 "(sector %u)", i, v->bat[i]);
			free(raw);
			return -EINVAL;
		}
	}
	free(raw);
	if (v->type == VHD_TYPE_DIFF) {
		(void)utf16_to_utf8(v->dyn + VHD_D_PARENT_NAME, 512, true, v->parent_name,
				    sizeof(v->parent_name));
		for (int i = 0; i < 8; i++) {
			const uint8_t *l = v->dyn + VHD_D_LOCATORS + i * 24;
			uint32_t len = ld_be32(l + 8);
			uint64_t off = ld_be64(l + 16);
			int slot = !memcmp(l, "W2ru", 4) ? 0 : !memcmp(l, "W2ku", 4) ? 1 : -1;
			uint8_t buf[2048];
			if (slot < 0 || !len || len > sizeof(buf) || !range_ok(off, len, fsize))
				continue;
			r = df_pread(d->file, buf, len, off);
			if (r < 0)
				return r;
			(void)utf16_to_utf8(buf, len, false, v->loc[slot], sizeof(v->loc[slot]));
		}
	}
	return 0;
}

static int vhd_open(struct disk *d, struct disk_diag *diag)
{
	struct vhd *v = calloc(1, sizeof(*v));
	uint8_t copy[VHD_FOOTER_SIZE];
	uint64_t fsize;
	int r;

	if (!v)
		return -ENOMEM;
	r = df_size(d->file, &fsize);
	if (r < 0)
		goto err;
	if (fsize < VHD_FOOTER_SIZE) {
		diag_set(diag, 0, "the file is too small to be a VHD (%llu bytes)",
			 (unsigned long long)fsize);
		r = -EINVAL;
		goto err;
	}
	v->end = ALIGN_DOWN(fsize - VHD_FOOTER_SIZE, 512);
	r = df_pread(d->file, v->footer, VHD_FOOTER_SIZE, v->end);
	if (r < 0)
		goto err;
	r = df_pread(d->file, copy, VHD_FOOTER_SIZE, 0);
	if (r < 0)
		goto err;
	if (!footer_ok(v->footer)) {
		/* A dynamic image keeps a copy of the footer at offset 0. */
		if (!footer_ok(copy) || ld_be32(copy + VHD_F_TYPE) == VHD_TYPE_FIXED) {
			diag_set(diag, v->end, "no valid VHD footer (bad cookie or checksum)");
			r = -EINVAL;
			goto err;
		}
		memcpy(v->footer, copy, VHD_FOOTER_SIZE);
		v->footer_damaged = true;
	}
	v->type = ld_be32(v->footer + VHD_F_TYPE);
	v->size = ld_be64(v->footer + VHD_F_CUR_SIZE);
	if (v->type != VHD_TYPE_FIXED && v->type != VHD_TYPE_DYNAMIC && v->type != VHD_TYPE_DIFF) {
		diag_set(diag, v->end + VHD_F_TYPE, "unknown VHD disk type %u", v->type);
		r = -ENOTSUP;
		goto err;
	}
	if (!v->size || v->size % 512 || v->size > VHD_MAX_SIZE) {
		diag_set(diag, v->end + VHD_F_CUR_SIZE, "VHD size %llu is invalid (a non-zero "
			 "multiple of 512 up to 2040 GiB)", (unsigned long long)v->size);
		r = -EINVAL;
		goto err;
	}
	if (v->type == VHD_TYPE_FIXED) {
		if (v->end < v->size) {
			diag_set(diag, v->end, "the fixed VHD is truncated (%llu data bytes, size says "
				 "%llu)", (unsigned long long)v->end, (unsigned long long)v->size);
			r = -EINVAL;
			goto err;
		}
	} else {
		v->copy_damaged = memcmp(copy, v->footer, VHD_FOOTER_SIZE) != 0;
		r = parse_dynamic(d, v, fsize, diag);
		if (r < 0)
			goto err;
	}
	d->size = v->size;
	d->sector = 512;
	d->priv = v;
	return 0;
err:
	vhd_free(v);
	return r;
}

static int vhd_flush(struct disk *d)
{
	struct vhd *v = VHD(d);
	int r;

	if (d->rdonly)
		return 0;
	r = df_flush(d->file);
	if (r < 0 || !v->dirty)
		return r;
	for (uint64_t s = 0; s < ((uint64_t)v->max_entries * 4 + 511) / 512; s++) {
		uint8_t sec[512];
		if (!v->bat_dirty[s])
			continue;
		memset(sec, 0xff, sizeof(sec));
		for (uint32_t i = 0; i < 128 && s * 128 + i < v->max_entries; i++)
			st_be32(sec + i * 4, v->bat[s * 128 + i]);
		r = df_pwrite(d->file, sec, MIN(512, (uint64_t)v->max_entries * 4 - s * 512),
			      v->bat_off + s * 512);
		if (r < 0)
			return r;
		v->bat_dirty[s] = 0;
	}
	v->dirty = false;
	return df_flush(d->file);
}

static int vhd_close(struct disk *d)
{
	int r = 0;

	if (!d->priv)
		return 0;
	if (!d->rdonly)
		r = vhd_flush(d);
	vhd_free(VHD(d));
	d->priv = NULL;
	return r;
}

static bool bm_bit(const uint8_t *bm, uint32_t s)
{
	return bm[s / 8] & (0x80u >> (s % 8));   /* VHD: most significant bit first */
}

static int vhd_map(struct disk *d, uint64_t off, uint64_t len, struct disk_extent *x)
{
	struct vhd *v = VHD(d);
	uint64_t block, in, n;
	uint32_t e;

	x->fd = -1;
	x->file_off = 0;
	if (v->type == VHD_TYPE_FIXED) {
		x->kind = DISK_EXT_DATA;
		x->len = len;
		x->file_off = off;
		x->fd = d->file->fd;
		return 0;
	}
	block = off / v->block_size;
	in = off % v->block_size;
	n = MIN(len, v->block_size - in);
	e = v->bat[block];
	if (e == VHD_BAT_UNUSED) {
		x->kind = v->type == VHD_TYPE_DIFF ? DISK_EXT_PARENT : DISK_EXT_ZERO;
		x->len = n;
		return 0;
	}
	x->kind = DISK_EXT_DATA;
	x->file_off = (uint64_t)e * 512 + v->bitmap_size + in;
	x->fd = d->file->fd;
	x->len = n;
	if (v->type == VHD_TYPE_DIFF) {
		uint8_t bm[512];
		uint32_t s = (uint32_t)(in / 512), cnt = (uint32_t)(n / 512), k;
		bool bit;
		/* Read the bitmap bytes covering [s, s+cnt). */
		uint32_t b0 = ALIGN_DOWN(s / 8, 512u);
		int r = df_pread(d->file, bm, sizeof(bm), (uint64_t)e * 512 + b0);
		if (r < 0)
			return r;
		s -= b0 * 8;
		bit = bm_bit(bm, s);
		for (k = 1; k < cnt && s + k < 4096 && bm_bit(bm, s + k) == bit; k++)
			;
		x->len = (uint64_t)k * 512;
		if (!bit) {
			x->kind = DISK_EXT_PARENT;
			x->fd = -1;
		}
	}
	return 0;
}

static int vhd_readv(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	size_t total = iov_total(iov, cnt), done = 0;
	struct iovec sub[IOV_SLICE_MAX];
	int r;

	while (done < total) {
		struct disk_extent x;
		r = vhd_map(d, off + done, total - done, &x);
		if (r < 0)
			return r;
		if (x.kind == DISK_EXT_DATA) {
			int n = iov_slice(iov, cnt, done, (size_t)x.len, sub, IOV_SLICE_MAX);
			if (n < 0) {
				uint8_t *tmp = malloc((size_t)x.len);
				if (!tmp)
					return -ENOMEM;
				r = df_pread(d->file, tmp, (size_t)x.len, x.file_off);
				if (r == 0)
					iov_from_buf(iov, cnt, done, tmp, (size_t)x.len);
				free(tmp);
			} else {
				r = df_preadv(d->file, sub, n, x.file_off);
			}
		} else if (x.kind == DISK_EXT_ZERO) {
			iov_zero(iov, cnt, done, (size_t)x.len);
			r = 0;
		} else {
			r = disk_read_parent(d, off + done, iov, cnt, done, (size_t)x.len);
		}
		if (r < 0)
			return r;
		done += (size_t)x.len;
	}
	return 0;
}

/* Allocate block b at the footer position, then move the footer. */
static int vhd_alloc(struct disk *d, struct vhd *v, uint64_t b)
{
	uint64_t boff = v->end, nend = boff + v->bitmap_size + v->block_size;
	uint8_t *bm;
	int r;

	if (nend / 512 >= VHD_BAT_UNUSED)
		return -EFBIG;
	r = df_set_size(d->file, nend + VHD_FOOTER_SIZE);
	if (r < 0)
		return r;
	r = df_pwrite(d->file, v->footer, VHD_FOOTER_SIZE, nend);
	if (r < 0)
		return r;
	/* The old footer becomes the bitmap and the start of the data: clear it. */
	bm = calloc(1, v->bitmap_size);
	if (!bm)
		return -ENOMEM;
	if (v->type == VHD_TYPE_DYNAMIC)
		memset(bm, 0xff, v->block_size / 512 / 8);
	r = df_pwrite(d->file, bm, v->bitmap_size, boff);
	free(bm);
	if (r == 0 && v->bitmap_size < VHD_FOOTER_SIZE)
		r = df_zero(d->file, boff + v->bitmap_size, VHD_FOOTER_SIZE - v->bitmap_size);
	if (r < 0)
		return r;
	v->end = nend;
	v->bat[b] = (uint32_t)(boff / 512);
	v->bat_dirty[b * 4 / 512] = 1;
	v->dirty = true;
	return 0;
}

static int vhd_set_bits(struct disk *d, struct vhd *v, uint32_t e, uint64_t in, uint64_t n)
{
	uint32_t s0 = (uint32_t)(in / 512), s1 = (uint32_t)((in + n) / 512);
	uint32_t b0 = ALIGN_DOWN(s0 / 8, 512u), b1 = (uint32_t)ALIGN_UP((s1 + 7) / 8, 512u);
	uint8_t *bm = malloc(b1 - b0);
	int r;

	if (!bm)
		return -ENOMEM;
	r = df_pread(d->file, bm, b1 - b0, (uint64_t)e * 512 + b0);
	if (r == 0) {
		for (uint32_t s = s0; s < s1; s++)
			bm[s / 8 - b0] |= (uint8_t)(0x80u >> (s % 8));
		r = df_pwrite(d->file, bm, b1 - b0, (uint64_t)e * 512 + b0);
	}
	free(bm);
	return r;
}

static int vhd_writev(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	struct vhd *v = VHD(d);
	size_t total = iov_total(iov, cnt), done = 0;
	struct iovec sub[IOV_SLICE_MAX];
	int r;

	if (v->type == VHD_TYPE_FIXED)
		return df_pwritev(d->file, iov, cnt, off);
	while (done < total) {
		uint64_t o = off + done, b = o / v->block_size, in = o % v->block_size;
		size_t n = (size_t)MIN(total - done, v->block_size - in);
		uint64_t foff;
		int k;

		if (v->bat[b] == VHD_BAT_UNUSED) {
			r = vhd_alloc(d, v, b);
			if (r < 0)
				return r;
		}
		foff = (uint64_t)v->bat[b] * 512 + v->bitmap_size + in;
		k = iov_slice(iov, cnt, done, n, sub, IOV_SLICE_MAX);
		if (k < 0) {
			uint8_t *tmp = malloc(n);
			if (!tmp)
				return -ENOMEM;
			iov_to_buf(iov, cnt, done, tmp, n);
			r = df_pwrite(d->file, tmp, n, foff);
			free(tmp);
		} else {
			r = df_pwritev(d->file, sub, k, foff);
		}
		if (r == 0 && v->type == VHD_TYPE_DIFF)
			r = vhd_set_bits(d, v, v->bat[b], in, n);
		if (r < 0)
			return r;
		done += n;
	}
	return 0;
}

static int vhd_discard(struct disk *d, uint64_t off, uint64_t len)
{
	struct vhd *v = VHD(d);

	if (v->type == VHD_TYPE_FIXED)
		return df_zero(d->file, off, len);
	if (v->type == VHD_TYPE_DIFF)
		return 0; /* advisory; zeroing would hide parent data the bitmap says is ours */
	while (len) {
		uint64_t b = off / v->block_size, in = off % v->block_size;
		uint64_t n = MIN(len, v->block_size - in);
		if (v->bat[b] != VHD_BAT_UNUSED) {
			int r = df_zero(d->file, (uint64_t)v->bat[b] * 512 + v->bitmap_size + in, n);
			if (r < 0)
				return r;
		}
		off += n;
		len -= n;
	}
	return 0;
}

static void vhd_info(struct disk *d, struct disk_info *ret)
{
	struct vhd *v = VHD(d);

	ret->type = v->type == VHD_TYPE_FIXED ? DISK_TYPE_FIXED :
		    v->type == VHD_TYPE_DYNAMIC ? DISK_TYPE_DYNAMIC : DISK_TYPE_DIFF;
	ret->block_size = v->type == VHD_TYPE_FIXED ? 0 : v->block_size;
	ret->logical_sector = 512;
	ret->physical_sector = 512;
	memcpy(ret->disk_id, v->footer + VHD_F_UNIQUE_ID, 16);
	if (v->type == VHD_TYPE_DIFF)
		snprintf(ret->parent_hint, sizeof(ret->parent_hint), "%s",
			 v->loc[0][0] ? v->loc[0] : v->loc[1][0] ? v->loc[1] : v->parent_name);
}

static int vhd_check(struct disk *d, bool repair, void (*report)(void *, bool, const char *),
		     void *opaque, struct disk_check_result *ret)
{
	struct vhd *v = VHD(d);
	char msg[256];
	int r = 0;

	if (v->footer_damaged) {
		ret->errors++;
		if (report)
			report(opaque, true, "the footer at the end of the file is damaged (the copy "
			       "at offset 0 is good)");
		if (repair && !d->rdonly) {
			r = df_pwrite(d->file, v->footer, VHD_FOOTER_SIZE, v->end);
			if (r < 0)
				return r;
			v->footer_damaged = false;
			ret->repaired++;
		}
	}
	if (v->type != VHD_TYPE_FIXED && v->copy_damaged) {
		ret->errors++;
		if (report)
			report(opaque, true, "the footer copy at offset 0 differs from the footer");
		if (repair && !d->rdonly) {
			r = df_pwrite(d->file, v->footer, VHD_FOOTER_SIZE, 0);
			if (r < 0)
				return r;
			v->copy_damaged = false;
			ret->repaired++;
		}
	}
	if (v->type != VHD_TYPE_FIXED) {
		uint64_t max_end = v->bat_off + ALIGN_UP((uint64_t)v->max_entries * 4, 512);
		uint64_t span = v->bitmap_size + (uint64_t)v->block_size;
		uint64_t *offs = malloc(sizeof(uint64_t) * (v->max_entries ? v->max_entries : 1));
		uint32_t n = 0;
		if (!offs)
			return -ENOMEM;
		for (uint32_t i = 0; i < v->max_entries; i++) {
			if (v->bat[i] == VHD_BAT_UNUSED)
				continue;
			uint64_t o = (uint64_t)v->bat[i] * 512;
			if (o < v->bat_off + (uint64_t)v->max_entries * 4 && o + span > v->bat_off) {
				ret->errors++;
				snprintf(msg, sizeof(msg), "block %u overlaps the block table", i);
				if (report)
					report(opaque, true, msg);
			}
			offs[n++] = o;
			max_end = MAX(max_end, o + span);
		}
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t k = i + 1; k < n && k < i + 64; k++)
				if (offs[i] < offs[k] + span && offs[k] < offs[i] + span) {
					ret->errors++;
					snprintf(msg, sizeof(msg), "two blocks overlap at 0x%llx",
						 (unsigned long long)offs[k]);
					if (report)
						report(opaque, true, msg);
				}
		free(offs);
		if (v->end > ALIGN_UP(max_end, 512)) {
			ret->leaks++;
			snprintf(msg, sizeof(msg), "%llu bytes before the footer belong to no block "
				 "(left by an interrupted write)",
				 (unsigned long long)(v->end - ALIGN_UP(max_end, 512)));
			if (report)
				report(opaque, false, msg);
			if (repair && !d->rdonly) {
				uint64_t nend = ALIGN_UP(max_end, 512);
				r = df_pwrite(d->file, v->footer, VHD_FOOTER_SIZE, nend);
				if (r == 0)
					r = df_set_size(d->file, nend + VHD_FOOTER_SIZE);
				if (r < 0)
					return r;
				v->end = nend;
				ret->repaired++;
			}
		}
	}
	if (repair && !d->rdonly)
		r = df_flush(d->file);
	return r;
}

static int vhd_resize(struct disk *d, uint64_t new_size, struct disk_diag *diag)
{
	struct vhd *v = VHD(d);
	int r;

	if (!new_size || new_size % 512 || new_size > VHD_MAX_SIZE) {
		diag_set(diag, 0, "VHD sizes must be non-zero multiples of 512 up to 2040G");
		return -EINVAL;
	}
	if (v->type == VHD_TYPE_DIFF) {
		diag_set(diag, 0, "differencing images follow their parent's size; merge first");
		return -ENOTSUP;
	}
	if (v->type == VHD_TYPE_DYNAMIC &&
	    (new_size + v->block_size - 1) / v->block_size > v->max_entries) {
		diag_set(diag, 0, "this dynamic VHD's block table holds at most %llu bytes; convert "
			 "it to a new image to grow further",
			 (unsigned long long)v->max_entries * v->block_size);
		return -ENOSPC;
	}
	if (v->type == VHD_TYPE_DYNAMIC && new_size < v->size) {
		/* Zero what lies past the new end so a later grow does not resurrect it. */
		uint64_t end = ALIGN_UP(v->size, v->block_size);
		r = vhd_discard(d, new_size, MIN(end, (uint64_t)v->max_entries * v->block_size) -
						     new_size);
		if (r < 0)
			return r;
	}
	{
		uint8_t id[16];
		memcpy(id, v->footer + VHD_F_UNIQUE_ID, 16);
		uint64_t orig = ld_be64(v->footer + VHD_F_ORIG_SIZE);
		build_footer(v->footer, new_size, v->type, ld_be64(v->footer + VHD_F_DATA_OFFSET), id);
		st_be64(v->footer + VHD_F_ORIG_SIZE, orig);
		st_be32(v->footer + VHD_F_CHECKSUM, 0);
		st_be32(v->footer + VHD_F_CHECKSUM,
			vhd_checksum(v->footer, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
	}
	if (v->type == VHD_TYPE_FIXED) {
		r = df_pwrite(d->file, v->footer, VHD_FOOTER_SIZE, new_size);
		if (r == 0)
			r = df_set_size(d->file, new_size + VHD_FOOTER_SIZE);
		if (r < 0)
			return r;
		v->end = new_size;
	} else {
		r = df_pwrite(d->file, v->footer, VHD_FOOTER_SIZE, v->end);
		if (r == 0)
			r = df_pwrite(d->file, v->footer, VHD_FOOTER_SIZE, 0);
		if (r < 0)
			return r;
	}
	v->size = new_size;
	d->size = new_size;
	return vhd_flush(d);
}

struct vhd_used {
	uint64_t off, len;
	int64_t block;          /* BAT index, or -1 for fixed structures */
};

static int cmp_vhd_used(const void *a, const void *b)
{
	const struct vhd_used *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Structures and blocks of a dynamic VHD, sorted by offset; caller frees. */
static struct vhd_used *vhd_collect(struct disk *d, struct vhd *v, size_t *ret_n)
{
	struct vhd_used *u = malloc(sizeof(*u) * ((size_t)v->max_entries + 16));
	uint64_t span = v->bitmap_size + (uint64_t)v->block_size;
	size_t n = 0;

	if (!u)
		return NULL;
	u[n++] = (struct vhd_used){ 0, VHD_FOOTER_SIZE + VHD_DYN_SIZE, -1 };
	u[n++] = (struct vhd_used){ v->bat_off, ALIGN_UP((uint64_t)v->max_entries * 4, 512), -1 };
	for (int i = 0; i < 8 && v->type == VHD_TYPE_DIFF; i++) {
		const uint8_t *l = v->dyn + VHD_D_LOCATORS + i * 24;
		uint64_t space = MAX(ld_be32(l + 4), ld_be32(l + 8));
		if (ld_be32(l) && space)
			u[n++] = (struct vhd_used){ ld_be64(l + 16), ALIGN_UP(space, 512), -1 };
	}
	for (uint32_t i = 0; i < v->max_entries; i++)
		if (v->bat[i] != VHD_BAT_UNUSED)
			u[n++] = (struct vhd_used){ (uint64_t)v->bat[i] * 512, span, i };
	qsort(u, n, sizeof(*u), cmp_vhd_used);
	*ret_n = n;
	return u;
}

static int vhd_compact(struct disk *d, uint64_t *ret_saved, struct disk_diag *diag)
{
	struct vhd *v = VHD(d);
	uint64_t span, before, end = 0;
	struct vhd_used *u = NULL;
	uint8_t *buf;
	size_t n;
	int r, moves = 0;

	if (v->type == VHD_TYPE_FIXED) {
		diag_set(diag, 0, "fixed VHD files are fully allocated; convert to a dynamic image "
			 "to compact");
		return -ENOTSUP;
	}
	span = v->bitmap_size + (uint64_t)v->block_size;
	r = df_size(d->file, &before);
	if (r < 0)
		return r;
	buf = malloc(span);
	if (!buf)
		return -ENOMEM;
	/* 1. Dynamic images: blocks holding only zeros read the same unallocated. */
	for (uint32_t b = 0; v->type == VHD_TYPE_DYNAMIC && b < v->max_entries; b++) {
		if (v->bat[b] == VHD_BAT_UNUSED)
			continue;
		r = df_pread(d->file, buf, v->block_size, (uint64_t)v->bat[b] * 512 + v->bitmap_size);
		if (r < 0)
			goto out;
		if (buf_is_zero(buf, v->block_size)) {
			v->bat[b] = VHD_BAT_UNUSED;
			v->bat_dirty[b * 4 / 512] = 1;
			v->dirty = true;
		}
	}
	r = vhd_flush(d);
	if (r < 0)
		goto out;
	/*
	 * 2. Move the last block into the lowest hole that fits. The space a
	 * move frees lies above every remaining hole, so it is never reused
	 * before the BAT change is flushed.
	 */
	for (;;) {
		size_t last = 0;
		uint64_t hole = UINT64_MAX, gap = 0;

		free(u);
		u = vhd_collect(d, v, &n);
		if (!u) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (u[i].off >= u[last].off)
				last = i;
		if (u[last].block < 0)
			break;
		for (size_t i = 0; i + 1 < n; i++) {
			gap = MAX(gap, u[i].off + u[i].len);
			if (u[i + 1].off > gap && u[i + 1].off - gap >= span && gap + span <= u[last].off) {
				hole = gap;
				break;
			}
		}
		if (hole == UINT64_MAX)
			break;
		r = df_pread(d->file, buf, span, u[last].off);
		if (r == 0)
			r = df_pwrite(d->file, buf, span, hole);
		if (r < 0)
			goto out;
		v->bat[u[last].block] = (uint32_t)(hole / 512);
		v->bat_dirty[u[last].block * 4 / 512] = 1;
		v->dirty = true;
		if (++moves % 32 == 0) {
			r = vhd_flush(d);
			if (r < 0)
				goto out;
		}
	}
	r = vhd_flush(d);
	if (r < 0)
		goto out;
	/* 3. The footer follows the last structure; cut the rest. */
	for (size_t i = 0; i < n; i++)
		end = MAX(end, u[i].off + u[i].len);
	end = ALIGN_UP(end, 512);
	if (end < v->end) {
		r = df_pwrite(d->file, v->footer, VHD_FOOTER_SIZE, end);
		if (r == 0)
			r = df_flush(d->file);
		if (r == 0)
			r = df_set_size(d->file, end + VHD_FOOTER_SIZE);
		if (r < 0)
			goto out;
		v->end = end;
	}
	if (ret_saved)
		*ret_saved = before > end + VHD_FOOTER_SIZE ? before - end - VHD_FOOTER_SIZE : 0;
out:
	free(u);
	free(buf);
	return r;
}

static const char *vhd_parent_hint(struct disk *d, unsigned idx)
{
	struct vhd *v = VHD(d);

	if (v->type != VHD_TYPE_DIFF || idx >= 3)
		return NULL;
	return idx < 2 ? v->loc[idx] : v->parent_name;
}

static void vhd_link_id(struct disk *d, uint8_t ret_id[16])
{
	memcpy(ret_id, VHD(d)->footer + VHD_F_UNIQUE_ID, 16);
}

static int vhd_parent_matches(struct disk *d, struct disk *p, struct disk_diag *diag)
{
	struct vhd *v = VHD(d);
	uint8_t id[16];

	if (!p->drv->link_id)
		return -EINVAL;
	p->drv->link_id(p, id);
	/* A VHD child records its parent's footer unique id. */
	if (p->drv->format == DISK_FMT_VHD && !memcmp(id, v->dyn + VHD_D_PARENT_ID, 16))
		return 0;
	diag_set(diag, 0, "'%s' is not the parent '%s' was made from (unique id differs)", p->path,
		 d->path);
	return -ESTALE;
}

int vhd_create_file(struct disk_file *f, const struct vhd_create_params *p,
		    struct disk_diag *diag)
{
	uint8_t footer[VHD_FOOTER_SIZE], id[16];
	uint32_t type = p->fixed ? VHD_TYPE_FIXED : p->has_parent ? VHD_TYPE_DIFF : VHD_TYPE_DYNAMIC;
	int r;

	if (!p->size || p->size % 512 || p->size > VHD_MAX_SIZE) {
		diag_set(diag, 0, "VHD size must be a non-zero multiple of 512 bytes up to 2040G");
		return -EINVAL;
	}
	guid_generate(id);
	if (p->fixed) {
		build_footer(footer, p->size, type, ~0ULL, id);
		r = df_set_size(f, p->size + VHD_FOOTER_SIZE);
		if (r == 0)
			r = df_pwrite(f, footer, VHD_FOOTER_SIZE, p->size);
	} else {
		uint32_t bs = p->block_size ? p->block_size : 2u << 20;
		uint32_t entries = (uint32_t)((p->size + bs - 1) / bs);
		uint64_t bat_off = VHD_FOOTER_SIZE + VHD_DYN_SIZE;
		uint64_t bat_len = ALIGN_UP((uint64_t)entries * 4, 512), end = bat_off + bat_len;
		uint8_t dyn[VHD_DYN_SIZE];
		uint8_t *bat;

		if (bs < 4096 || bs > (256u << 20) || (bs & (bs - 1))) {
			diag_set(diag, 0, "VHD block size must be a power of two from 4K to 256M");
			return -EINVAL;
		}
		memset(dyn, 0, sizeof(dyn));
		memcpy(dyn, VHD_DYN_COOKIE, 8);
		st_be64(dyn + 8, ~0ULL);
		st_be64(dyn + VHD_D_TABLE_OFFSET, bat_off);
		st_be32(dyn + 24, 0x00010000);
		st_be32(dyn + VHD_D_MAX_ENTRIES, entries);
		st_be32(dyn + VHD_D_BLOCK_SIZE, bs);
		if (p->has_parent) {
			const char *locs[2] = { p->parent_relative, p->parent_absolute };
			const char *codes[2] = { "W2ru", "W2ku" };
			int nl = 0;
			memcpy(dyn + VHD_D_PARENT_ID, p->parent_id, 16);
			st_be32(dyn + VHD_D_PARENT_TS, p->parent_mtime);
			if (p->parent_name)
				(void)utf8_to_utf16(p->parent_name, true, dyn + VHD_D_PARENT_NAME, 510);
			for (int i = 0; i < 2; i++) {
				uint8_t buf[1024];
				int len;
				if (!locs[i])
					continue;
				memset(buf, 0, sizeof(buf));
				len = utf8_to_utf16(locs[i], false, buf, sizeof(buf));
				if (len <= 0) {
					diag_set(diag, 0, "the parent path is too long for a VHD locator");
					return -ENAMETOOLONG;
				}
				uint8_t *l = dyn + VHD_D_LOCATORS + nl * 24;
				memcpy(l, codes[i], 4);
				st_be32(l + 4, (uint32_t)ALIGN_UP((uint64_t)len, 512));
				st_be32(l + 8, (uint32_t)len);
				st_be64(l + 16, end);
				r = df_pwrite(f, buf, ALIGN_UP((size_t)len, 512), end);
				if (r < 0)
					return r;
				end += ALIGN_UP((uint64_t)len, 512);
				nl++;
			}
		}
		st_be32(dyn + VHD_D_CHECKSUM, vhd_checksum(dyn, sizeof(dyn), VHD_D_CHECKSUM));
		build_footer(footer, p->size, type, VHD_FOOTER_SIZE, id);
		bat = malloc(bat_len);
		if (!bat)
			return -ENOMEM;
		memset(bat, 0xff, bat_len);
		r = df_pwrite(f, footer, VHD_FOOTER_SIZE, 0);
		if (r == 0)
			r = df_pwrite(f, dyn, VHD_DYN_SIZE, VHD_FOOTER_SIZE);
		if (r == 0)
			r = df_pwrite(f, bat, bat_len, bat_off);
		free(bat);
		if (r == 0)
			r = df_pwrite(f, footer, VHD_FOOTER_SIZE, end);
	}
	if (r == 0)
		r = df_flush(f);
	return r;
}

const struct disk_driver disk_vhd_driver = {
	.format = DISK_FMT_VHD,
	.open = vhd_open,
	.close = vhd_close,
	.readv = vhd_readv,
	.writev = vhd_writev,
	.flush = vhd_flush,
	.discard = vhd_discard,
	.map = vhd_map,
	.info = vhd_info,
	.check = vhd_check,
	.resize = vhd_resize,
	.compact = vhd_compact,
	.parent_hint = vhd_parent_hint,
	.parent_matches = vhd_parent_matches,
	.link_id = vhd_link_id,
};
