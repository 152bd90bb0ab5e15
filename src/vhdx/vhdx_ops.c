// SPDX-License-Identifier: MIT
/*
 * VHDX create, check, resize and compact. Everything that changes metadata
 * of an existing image goes through the log (vhdx_log_commit()); new space is
 * written and flushed before anything durable points at it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vhdx/vhdx_internal.h"


#define LOG_OFF (1 * VHDX_MiB)
#define LOG_LEN (1 * VHDX_MiB)
#define META_OFF (2 * VHDX_MiB)
#define META_LEN (1 * VHDX_MiB)
#define BAT_OFF (3 * VHDX_MiB)

static void put_region_table(uint8_t *t, uint64_t bat_off, uint64_t bat_len)
{
	memset(t, 0, VHDX_REGION_TABLE_SIZE);
	st_le32(t, VHDX_REGION_SIGNATURE);
	st_le32(t + 8, 2);
	memcpy(t + 16, vhdx_guid_bat, 16);
	st_le64(t + 32, bat_off);
	st_le32(t + 40, (uint32_t)bat_len);
	st_le32(t + 44, VHDX_REGION_REQUIRED);
	memcpy(t + 48, vhdx_guid_meta, 16);
	st_le64(t + 64, META_OFF);
	st_le32(t + 72, (uint32_t)META_LEN);
	st_le32(t + 76, VHDX_REGION_REQUIRED);
	st_le32(t + 4, crc32c(0, t, VHDX_REGION_TABLE_SIZE));
}

/* Appends one UTF-16LE key/value pair to a parent locator being built. */
static int loc_add(uint8_t *loc, size_t cap, uint32_t *used, uint16_t *count, const char *key,
		   const char *val)
{
	uint8_t *e = loc + 20 + *count * 12;
	int kl, vl;

	kl = utf8_to_utf16(key, false, loc + *used, cap - *used);
	if (kl < 0)
		return kl;
	st_le32(e, *used);
	st_le16(e + 8, (uint16_t)kl);
	*used += (uint32_t)kl;
	vl = utf8_to_utf16(val, false, loc + *used, cap - *used);
	if (vl < 0)
		return vl;
	if (vl == 0 || vl > 0xffff)
		return -EINVAL;
	st_le32(e + 4, *used);
	st_le16(e + 10, (uint16_t)vl);
	*used += (uint32_t)vl;
	(*count)++;
	return 0;
}

int vhdx_create_file(struct disk_file *f, const struct vhdx_create_params *p,
		     struct disk_diag *diag)
{
	uint32_t cr, bs = p->block_size, lss = p->logical_sector, pss = p->physical_sector;
	uint64_t blocks, entries, bat_len, payload, end;
	uint8_t *buf = NULL;
	uint8_t h[VHDX_HEADER_SIZE];
	uint8_t fwg[16], dwg[16];
	int r;

	if (bs < VHDX_BLOCK_MIN || bs > VHDX_BLOCK_MAX || (bs & (bs - 1))) {
		diag_set(diag, 0, "block size %u is not supported; use a power of two from 1M to 256M",
			 bs);
		return -EINVAL;
	}
	if ((lss != 512 && lss != 4096) || (pss != 512 && pss != 4096)) {
		diag_set(diag, 0, "sector size must be 512 or 4096");
		return -EINVAL;
	}
	if (!p->size || p->size % lss || p->size > VHDX_MAX_SIZE) {
		diag_set(diag, 0, "size %llu is not valid for VHDX (a non-zero multiple of %u bytes, "
			 "at most 64T)", (unsigned long long)p->size, lss);
		return -EINVAL;
	}
	vhdx_compute_geometry(p->size, bs, lss, p->has_parent, &cr, &blocks, &entries);
	bat_len = ALIGN_UP(entries * 8, VHDX_MiB);
	payload = BAT_OFF + bat_len;
	end = p->fixed ? payload + blocks * bs : payload;

	buf = calloc(1, VHDX_MiB);
	if (!buf)
		return -ENOMEM;
	/* File type identifier. */
	memcpy(buf, VHDX_FILE_SIGNATURE, 8);
	(void)utf8_to_utf16("openhv " "disk library", false, buf + 8, 510);
	r = df_pwrite(f, buf, 64 * 1024, 0);
	if (r < 0)
		goto out;
	/* Headers: both valid, the second current. */
	guid_generate(fwg);
	guid_generate(dwg);
	for (int i = 0; i < 2; i++) {
		memset(h, 0, sizeof(h));
		st_le32(h, VHDX_HEADER_SIGNATURE);
		st_le64(h + VHDX_HDR_SEQ_OFF, (uint64_t)i + 1);
		memcpy(h + VHDX_HDR_FWG_OFF, fwg, 16);
		memcpy(h + VHDX_HDR_DWG_OFF, dwg, 16);
		st_le16(h + VHDX_HDR_VERSION_OFF, 1);
		st_le32(h + VHDX_HDR_LOG_LENGTH_OFF, (uint32_t)LOG_LEN);
		st_le64(h + VHDX_HDR_LOG_OFFSET_OFF, LOG_OFF);
		st_le32(h + 4, crc32c(0, h, sizeof(h)));
		r = df_pwrite(f, h, sizeof(h), i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
		if (r < 0)
			goto out;
	}
	put_region_table(buf, BAT_OFF, bat_len);
	r = df_pwrite(f, buf, VHDX_REGION_TABLE_SIZE, VHDX_REGION1_OFF);
	if (r == 0)
		r = df_pwrite(f, buf, VHDX_REGION_TABLE_SIZE, VHDX_REGION2_OFF);
	if (r < 0)
		goto out;

	/* Metadata region: table, then the items packed from 64 KiB. */
	memset(buf, 0, VHDX_MiB);
	{
		uint8_t *t = buf, *it = buf + VHDX_META_TABLE_SIZE;
		uint32_t o = VHDX_META_TABLE_SIZE;
		uint16_t n = 0;
		struct {
			const uint8_t *guid;
			uint32_t len, flags;
		} items[6];
		uint8_t page83[16];

		guid_generate(page83);
		items[n++] = (typeof(items[0])){ vhdx_guid_params, 8, VHDX_META_IS_REQUIRED };
		items[n++] = (typeof(items[0])){ vhdx_guid_vsize, 8,
						 VHDX_META_IS_REQUIRED | VHDX_META_IS_VIRTUAL_DISK };
		items[n++] = (typeof(items[0])){ vhdx_guid_page83, 16,
						 VHDX_META_IS_REQUIRED | VHDX_META_IS_VIRTUAL_DISK };
		items[n++] = (typeof(items[0])){ vhdx_guid_lss, 4,
						 VHDX_META_IS_REQUIRED | VHDX_META_IS_VIRTUAL_DISK };
		items[n++] = (typeof(items[0])){ vhdx_guid_pss, 4,
						 VHDX_META_IS_REQUIRED | VHDX_META_IS_VIRTUAL_DISK };
		st_le32(it, bs);
		st_le32(it + 4, (p->fixed ? VHDX_PARAMS_LEAVE_ALLOCATED : 0) |
				(p->has_parent ? VHDX_PARAMS_HAS_PARENT : 0));
		st_le64(it + 8, p->size);
		memcpy(it + 16, page83, 16);
		st_le32(it + 32, lss);
		st_le32(it + 36, pss);
		if (p->has_parent) {
			uint8_t *loc = it + 40;
			uint32_t used;
			uint16_t cnt = 0;
			char link[39];
			int nkeys = 1 + (p->parent_relative != NULL) + (p->parent_absolute != NULL);

			memcpy(loc, vhdx_guid_loc_vhdx, 16);
			used = 20 + 12 * (uint32_t)nkeys;
			guid_format(p->parent_link, link);
			r = loc_add(loc, 64 * 1024, &used, &cnt, "parent_linkage", link);
			if (r == 0 && p->parent_relative)
				r = loc_add(loc, 64 * 1024, &used, &cnt, "relative_path",
					    p->parent_relative);
			if (r == 0 && p->parent_absolute)
				r = loc_add(loc, 64 * 1024, &used, &cnt, "absolute_win32_path",
					    p->parent_absolute);
			if (r < 0) {
				diag_set(diag, 0, "the parent path is too long or not valid UTF-8");
				goto out;
			}
			st_le16(loc + 18, cnt);
			items[n++] = (typeof(items[0])){ vhdx_guid_locator, used, VHDX_META_IS_REQUIRED };
		}
		memcpy(t, VHDX_META_SIGNATURE, 8);
		st_le16(t + 10, n);
		for (uint16_t i = 0; i < n; i++) {
			uint8_t *e = t + 32 + i * 32;
			memcpy(e, items[i].guid, 16);
			st_le32(e + 16, o);
			st_le32(e + 20, items[i].len);
			st_le32(e + 24, items[i].flags);
			o += items[i].len;
		}
	}
	r = df_pwrite(f, buf, VHDX_MiB, META_OFF);
	if (r < 0)
		goto out;
	/* BAT: zero (not present) for dynamic and differencing, all present for fixed. */
	if (p->fixed) {
		for (uint64_t base = 0; base < entries; base += VHDX_MiB / 8) {
			uint64_t n = MIN(entries - base, VHDX_MiB / 8);
			memset(buf, 0, VHDX_MiB);
			for (uint64_t i = 0; i < n; i++) {
				uint64_t idx = base + i;
				if (idx % (cr + 1) == cr)
					continue; /* sector bitmap entry */
				uint64_t b = idx - idx / (cr + 1);
				st_le64(buf + i * 8, vhdx_entry(VHDX_PAYLOAD_FULLY_PRESENT,
								payload + b * bs));
			}
			r = df_pwrite(f, buf, ALIGN_UP(n * 8, 4096), BAT_OFF + base * 8);
			if (r < 0)
				goto out;
		}
	}
	r = df_set_size(f, end);
	if (r == 0)
		r = df_flush(f);
out:
	free(buf);
	return r;
}

/* ---- check ---- */

struct used {
	uint64_t off, len;
	uint64_t idx;        /* BAT index, or UINT64_MAX for regions */
};

static int cmp_used(const void *a, const void *b)
{
	const struct used *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static void say(void (*report)(void *, bool, const char *), void *opaque, bool err,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void say(void (*report)(void *, bool, const char *), void *opaque, bool err,
		const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	if (!report)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(opaque, err, msg);
}

/* Collects the structures and present blocks of the image (sorted by offset). */
static int collect_used(struct vhdx *v, struct used **ret, size_t *ret_n)
{
	size_t cap = 8 + v->bat_entries, n = 0;
	struct used *u = malloc(cap * sizeof(*u));

	if (!u)
		return -ENOMEM;
	u[n++] = (struct used){ 0, VHDX_HEADER_SECTION_SIZE, UINT64_MAX };
	u[n++] = (struct used){ v->log_off, v->log_len, UINT64_MAX };
	u[n++] = (struct used){ v->meta_off, v->meta_len, UINT64_MAX };
	u[n++] = (struct used){ v->bat_off, v->bat_len, UINT64_MAX };
	for (uint32_t i = 0; i < ld_le32(v->region + 8) && i < VHDX_REGION_MAX_ENTRIES; i++) {
		const uint8_t *e = v->region + 16 + i * 32;
		if (!memcmp(e, vhdx_guid_bat, 16) || !memcmp(e, vhdx_guid_meta, 16))
			continue;
		if (n == cap)
			break;
		u[n++] = (struct used){ ld_le64(e + 16), ld_le32(e + 24), UINT64_MAX };
	}
	for (uint64_t i = 0; i < v->bat_entries && n < cap; i++) {
		uint64_t e = v->bat[i];
		bool is_sb = (i % (v->chunk_ratio + 1)) == v->chunk_ratio;
		unsigned st = vhdx_state(e);
		if (is_sb ? (st == VHDX_SB_PRESENT && v->has_parent) :
			    (st == VHDX_PAYLOAD_FULLY_PRESENT || st == VHDX_PAYLOAD_PARTIALLY_PRESENT))
			u[n++] = (struct used){ vhdx_off(e), is_sb ? VHDX_MiB : v->block_size, i };
	}
	qsort(u, n, sizeof(*u), cmp_used);
	*ret = u;
	*ret_n = n;
	return 0;
}

static uint64_t used_end(const struct used *u, size_t n)
{
	uint64_t end = 0;
	for (size_t i = 0; i < n; i++)
		end = MAX(end, u[i].off + u[i].len);
	return end;
}

static int rewrite_region_tables(struct vhdx *v)
{
	int r = vhdx_start_session(v);

	for (unsigned i = 0; r == 0 && i < VHDX_REGION_TABLE_SIZE / 4096; i++) {
		r = vhdx_add_extra(v, VHDX_REGION1_OFF + i * 4096ULL, v->region + i * 4096);
		if (r == 0)
			r = vhdx_add_extra(v, VHDX_REGION2_OFF + i * 4096ULL, v->region + i * 4096);
	}
	return r;
}

int vhdx_check(struct disk *d, bool repair, void (*report)(void *, bool, const char *),
	       void *opaque, struct disk_check_result *ret);
int vhdx_check(struct disk *d, bool repair, void (*report)(void *, bool, const char *),
	       void *opaque, struct disk_check_result *ret)
{
	struct vhdx *v = VHDX(d);
	struct used *u;
	size_t n;
	uint64_t fsize, end;
	int r;

	if (v->log_pending) {
		ret->errors++;
		say(report, opaque, true, "the log holds updates that were never replayed (the image "
		    "was not closed cleanly); 'check --repair' replays them");
		return 0;
	}
	if (v->log_replayed)
		say(report, opaque, false, "a log left by an unclean shutdown was replayed");
	if (v->hdr_damaged) {
		/* Expected after a crash during a header update: the other copy is current. */
		ret->leaks++;
		say(report, opaque, false, "one of the two header copies is damaged (an interrupted "
		    "update); 'check --repair' rewrites it");
		if (repair && !d->rdonly) {
			r = vhdx_start_session(v); /* rewrites both copies */
			if (r < 0)
				return r;
			ret->repaired++;
		}
	}
	if (v->region_damaged) {
		ret->errors++;
		say(report, opaque, true, "the two region table copies differ or one is damaged");
		if (repair && !d->rdonly) {
			r = rewrite_region_tables(v);
			if (r < 0)
				return r;
			ret->repaired++;
		}
	}
	r = df_size(v->f, &fsize);
	if (r < 0)
		return r;
	r = collect_used(v, &u, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const char *what = u[i].idx == UINT64_MAX ? "a region" : "block";
		bool bad = false;
		if (u[i].off + u[i].len > fsize) {
			ret->errors++;
			bad = true;
			say(report, opaque, true, "%s %llu at 0x%llx lies beyond the end of the file",
			    what, (unsigned long long)(u[i].idx == UINT64_MAX ? 0 : u[i].idx),
			    (unsigned long long)u[i].off);
		}
		for (size_t k = i + 1; !bad && k < n && u[k].off < u[i].off + u[i].len; k++) {
			ret->errors++;
			bad = true;
			say(report, opaque, true, "BAT entry %llu (0x%llx) overlaps another structure "
			    "at 0x%llx", (unsigned long long)u[k].idx, (unsigned long long)u[k].off,
			    (unsigned long long)u[i].off);
			i = k; /* report the later one */
		}
		if (bad && repair && !d->rdonly && u[i].idx != UINT64_MAX) {
			r = vhdx_start_session(v);
			if (r < 0)
				goto out;
			vhdx_bat_set(v, u[i].idx, 0);
			ret->repaired++;
		}
	}
	for (uint64_t i = 0; i < v->bat_entries; i++) {
		if (v->bat[i] & VHDX_BAT_RESERVED_MASK) {
			ret->errors++;
			say(report, opaque, true, "BAT entry %llu has reserved bits set",
			    (unsigned long long)i);
			if (repair && !d->rdonly) {
				r = vhdx_start_session(v);
				if (r < 0)
					goto out;
				vhdx_bat_set(v, i, v->bat[i] & ~VHDX_BAT_RESERVED_MASK);
				ret->repaired++;
			}
		}
	}
	end = ALIGN_UP(used_end(u, n), VHDX_MiB);
	if (fsize > end) {
		ret->leaks++;
		say(report, opaque, false, "%llu bytes at the end of the file are not used by any "
		    "block (left by an interrupted write); 'check --repair' trims them",
		    (unsigned long long)(fsize - end));
		if (repair && !d->rdonly) {
			r = vhdx_log_commit(v);
			if (r == 0)
				r = df_flush(v->f);
			if (r == 0)
				r = df_set_size(v->f, end);
			if (r < 0)
				goto out;
			v->next_free = end;
			v->file_size = end;
			ret->repaired++;
		}
	}
	if (repair && !d->rdonly) {
		r = vhdx_log_commit(v);
		if (r == 0)
			r = df_flush(v->f);
		if (r == 0)
			v->region_damaged = false;
	}
out:
	free(u);
	return r;
}

/* ---- resize ---- */

static int update_size_item(struct vhdx *v, uint64_t new_size)
{
	uint8_t sec[2][4096];
	uint64_t off = v->size_item_off;
	uint64_t s0 = ALIGN_DOWN(off, 4096);
	bool two = off % 4096 > 4088;
	uint8_t tmp[8];
	int r;

	r = vhdx_read_meta_item(v, (uint32_t)s0, sec, two ? 8192 : 4096);
	if (r < 0)
		return r;
	st_le64(tmp, new_size);
	memcpy((uint8_t *)sec + (off - s0), tmp, 8);
	r = vhdx_add_extra(v, v->meta_off + s0, sec[0]);
	if (r == 0 && two)
		r = vhdx_add_extra(v, v->meta_off + s0 + 4096, sec[1]);
	return r;
}

static int grow_arrays(struct vhdx *v, uint64_t entries, uint64_t bat_len, uint64_t sb_count)
{
	uint64_t alloc = MIN(ALIGN_UP(entries, 512), bat_len / 8);
	uint64_t *bat;
	uint8_t *dirty;
	struct vhdx_sb *sb;

	if (alloc > v->bat_alloc) {
		bat = realloc(v->bat, alloc * 8);
		if (!bat)
			return -ENOMEM;
		memset(bat + v->bat_alloc, 0, (alloc - v->bat_alloc) * 8);
		v->bat = bat;
		dirty = realloc(v->bat_dirty, (alloc + 511) / 512);
		if (!dirty)
			return -ENOMEM;
		memset(dirty + (v->bat_alloc + 511) / 512, 0,
		       (alloc + 511) / 512 - (v->bat_alloc + 511) / 512);
		v->bat_dirty = dirty;
		v->bat_alloc = alloc;
	}
	if (sb_count > v->sb_count) {
		sb = realloc(v->sb, sb_count * sizeof(*sb));
		if (!sb)
			return -ENOMEM;
		memset(sb + v->sb_count, 0, (sb_count - v->sb_count) * sizeof(*sb));
		v->sb = sb;
		v->sb_count = sb_count;
	}
	return 0;
}

int vhdx_resize(struct disk *d, uint64_t new_size, struct disk_diag *diag);
int vhdx_resize(struct disk *d, uint64_t new_size, struct disk_diag *diag)
{
	struct vhdx *v = VHDX(d);
	bool shrink = new_size < v->size;
	uint32_t cr;
	uint64_t blocks, entries;
	int r;

	if (new_size == v->size)
		return 0;
	if (!new_size || new_size % v->lss || new_size > VHDX_MAX_SIZE) {
		diag_set(diag, 0, "new size must be a non-zero multiple of %u bytes, at most 64T",
			 v->lss);
		return -EINVAL;
	}
	if (v->has_parent) {
		diag_set(diag, 0, "differencing images follow their parent's size; merge or convert "
			 "the chain first");
		return -ENOTSUP;
	}
	vhdx_compute_geometry(new_size, v->block_size, v->lss, false, &cr, &blocks, &entries);
	r = vhdx_start_session(v);
	if (r < 0)
		return r;
	if (new_size < v->size) {
		/* Zero the tail of the new last block, then drop whole blocks past the end. */
		uint64_t tail = new_size % v->block_size;
		if (tail) {
			uint64_t e = v->bat[vhdx_bat_index(v, new_size / v->block_size)];
			if (vhdx_state(e) == VHDX_PAYLOAD_FULLY_PRESENT) {
				r = df_zero(v->f, vhdx_off(e) + tail, v->block_size - tail);
				if (r < 0)
					return r;
			}
		}
		for (uint64_t b = blocks; b < v->data_blocks; b++) {
			uint64_t idx = vhdx_bat_index(v, b), e = v->bat[idx];
			if (vhdx_state(e) == VHDX_PAYLOAD_FULLY_PRESENT) {
				r = df_zero(v->f, vhdx_off(e), v->block_size);
				if (r < 0)
					return r;
			}
			if (e)
				vhdx_bat_set(v, idx, 0);
		}
		for (uint64_t i = entries; i < v->bat_entries; i++)
			if (v->bat[i])
				vhdx_bat_set(v, i, 0);
	} else {
		if (entries * 8 > v->bat_len) {
			/* Move the BAT to a larger region at the end of the file. */
			uint64_t len = ALIGN_UP(entries * 8, VHDX_MiB), off = v->next_free;
			uint8_t *raw = calloc(1, len);
			if (!raw)
				return -ENOMEM;
			for (uint64_t i = 0; i < v->bat_entries; i++)
				st_le64(raw + i * 8, v->bat[i]);
			r = df_pwrite(v->f, raw, len, off);
			free(raw);
			if (r < 0)
				return r;
			v->next_free = off + len;
			for (uint32_t i = 0; i < ld_le32(v->region + 8); i++) {
				uint8_t *e = v->region + 16 + i * 32;
				if (!memcmp(e, vhdx_guid_bat, 16)) {
					st_le64(e + 16, off);
					st_le32(e + 24, (uint32_t)len);
				}
			}
			st_le32(v->region + 4, 0);
			st_le32(v->region + 4, crc32c(0, v->region, VHDX_REGION_TABLE_SIZE));
			r = rewrite_region_tables(v);
			if (r < 0)
				return r;
			v->bat_off = off;
			v->bat_len = len;
			/* Every BAT sector must be rewritten at the new place through the log. */
			r = grow_arrays(v, entries, len, (blocks + cr - 1) / cr);
			if (r < 0)
				return r;
			for (uint64_t s = 0; s < (v->bat_alloc + 511) / 512; s++)
				if (!v->bat_dirty[s]) {
					v->bat_dirty[s] = 1;
					v->n_dirty++;
				}
		}
		r = grow_arrays(v, entries, v->bat_len, (blocks + cr - 1) / cr);
		if (r < 0)
			return r;
		if (v->leave_allocated) {
			for (uint64_t b = v->data_blocks; b < blocks; b++) {
				uint64_t off = v->next_free;
				r = df_set_size(v->f, off + v->block_size);
				if (r < 0)
					return r;
				v->next_free = off + v->block_size;
				vhdx_bat_set(v, vhdx_bat_index(v, b),
					     vhdx_entry(VHDX_PAYLOAD_FULLY_PRESENT, off));
			}
		}
	}
	r = update_size_item(v, new_size);
	if (r < 0)
		return r;
	v->size = new_size;
	v->data_blocks = blocks;
	v->bat_entries = entries;
	d->size = new_size;
	r = vhdx_log_commit(v);
	if (r == 0)
		r = df_flush(v->f);
	if (r == 0 && shrink) {
		/* Trim space no longer used at the end. */
		struct used *u;
		size_t n;
		uint64_t fsize, end;
		r = collect_used(v, &u, &n);
		if (r < 0)
			return r;
		end = ALIGN_UP(used_end(u, n), VHDX_MiB);
		free(u);
		r = df_size(v->f, &fsize);
		if (r == 0 && fsize > end) {
			r = df_set_size(v->f, end);
			v->file_size = end;
			v->next_free = end;
		}
	}
	return r;
}

/* ---- compact ---- */

static int block_is_zero(struct vhdx *v, uint64_t off, uint64_t len, bool *ret)
{
	uint8_t *buf = malloc(VHDX_MiB);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	*ret = true;
	for (uint64_t o = 0; o < len; o += VHDX_MiB) {
		r = df_pread(v->f, buf, VHDX_MiB, off + o);
		if (r < 0)
			break;
		if (!buf_is_zero(buf, VHDX_MiB)) {
			*ret = false;
			break;
		}
	}
	free(buf);
	return r;
}

static int copy_range(struct disk_file *f, uint64_t from, uint64_t to, uint64_t len)
{
	uint8_t *buf = malloc(VHDX_MiB);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t o = 0; o < len && r == 0; o += VHDX_MiB) {
		r = df_pread(f, buf, VHDX_MiB, from + o);
		if (r == 0)
			r = df_pwrite(f, buf, VHDX_MiB, to + o);
	}
	free(buf);
	return r;
}

int vhdx_compact(struct disk *d, uint64_t *ret_saved, struct disk_diag *diag);
int vhdx_compact(struct disk *d, uint64_t *ret_saved, struct disk_diag *diag)
{
	struct vhdx *v = VHDX(d);
	uint64_t before, after;
	struct used *u = NULL;
	size_t n;
	int r, moves = 0;

	if (v->leave_allocated) {
		diag_set(diag, 0, "fixed images keep every block allocated; convert to a dynamic "
			 "image to compact");
		return -ENOTSUP;
	}
	r = df_size(v->f, &before);
	if (r < 0)
		return r;
	r = vhdx_start_session(v);
	if (r < 0)
		return r;
	/* 1. Release blocks that hold only zeros. */
	for (uint64_t b = 0; b < v->data_blocks; b++) {
		uint64_t idx = vhdx_bat_index(v, b), e = v->bat[idx];
		bool zero;
		if (vhdx_state(e) != VHDX_PAYLOAD_FULLY_PRESENT)
			continue;
		r = block_is_zero(v, vhdx_off(e), v->block_size, &zero);
		if (r < 0)
			return r;
		if (zero)
			vhdx_bat_set(v, idx, vhdx_entry(v->has_parent ? VHDX_PAYLOAD_ZERO :
							 VHDX_PAYLOAD_NOT_PRESENT, 0));
	}
	r = vhdx_log_commit(v);
	if (r == 0)
		r = df_flush(v->f);
	if (r < 0)
		return r;
	/*
	 * 2. Move the last block into the lowest hole that fits, until none
	 * fits. Space freed by a move lies above every remaining target, so it
	 * is never reused before the move is committed.
	 */
	for (;;) {
		size_t last;
		uint64_t hole = UINT64_MAX;

		free(u);
		r = collect_used(v, &u, &n);
		if (r < 0)
			return r;
		last = n - 1;
		for (size_t i = 0; i < n; i++)
			if (u[i].off + u[i].len > u[last].off + u[last].len)
				last = i;
		if (u[last].idx == UINT64_MAX)
			break;
		uint64_t gap = 0;
		for (size_t i = 0; i + 1 < n; i++) {
			uint64_t next = u[i + 1].off;
			gap = MAX(gap, ALIGN_UP(u[i].off + u[i].len, VHDX_MiB));
			if (next > gap && next - gap >= u[last].len && gap + u[last].len <= u[last].off) {
				hole = gap;
				break;
			}
		}
		if (hole == UINT64_MAX)
			break;
		r = copy_range(v->f, u[last].off, hole, u[last].len);
		if (r < 0)
			goto out;
		vhdx_bat_set(v, u[last].idx, vhdx_entry(vhdx_state(v->bat[u[last].idx]), hole));
		if (++moves % 32 == 0) {
			r = vhdx_log_commit(v);
			if (r < 0)
				goto out;
		}
	}
	r = vhdx_log_commit(v);
	if (r == 0)
		r = df_flush(v->f);
	if (r < 0)
		goto out;
	after = ALIGN_UP(used_end(u, n), VHDX_MiB);
	if (after < before) {
		r = df_set_size(v->f, after);
		if (r < 0)
			goto out;
		v->next_free = after;
		v->file_size = after;
	}
	r = df_size(v->f, &after);
	if (r == 0 && ret_saved)
		*ret_saved = before > after ? before - after : 0;
out:
	free(u);
	return r;
}
