// SPDX-License-Identifier: MIT
/*
 * VHDX driver (MS-VHDX v1.0): opening (headers 2.2.2, region table 2.2.3,
 * metadata 2.6, BAT 2.5, parent locator 2.6.2.6), the data path and the
 * header update protocol (2.2.2.1). Log write and replay live in vhdx_log.c;
 * create, check, resize and compact in vhdx_ops.c.
 *
 * Every value read from the file is checked before use: region and item
 * ranges with range_ok(), BAT entries for state and offset, counts against
 * fixed limits. The driver is single threaded (the struct disk contract).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vhdx/vhdx_internal.h"

const uint8_t vhdx_guid_bat[16] = VHDX_GUID_BAT_REGION;
const uint8_t vhdx_guid_meta[16] = VHDX_GUID_METADATA_REGION;
const uint8_t vhdx_guid_params[16] = VHDX_GUID_FILE_PARAMS;
const uint8_t vhdx_guid_vsize[16] = VHDX_GUID_VIRTUAL_DISK_SIZE;
const uint8_t vhdx_guid_page83[16] = VHDX_GUID_PAGE83;
const uint8_t vhdx_guid_lss[16] = VHDX_GUID_LOGICAL_SECTOR;
const uint8_t vhdx_guid_pss[16] = VHDX_GUID_PHYSICAL_SECTOR;
const uint8_t vhdx_guid_locator[16] = VHDX_GUID_PARENT_LOCATOR;
const uint8_t vhdx_guid_loc_vhdx[16] = VHDX_GUID_LOCATOR_TYPE_VHDX;


void vhdx_compute_geometry(uint64_t size, uint32_t block_size, uint32_t lss, bool diff,
			   uint32_t *ret_chunk_ratio, uint64_t *ret_data_blocks,
			   uint64_t *ret_bat_entries)
{
	/* SPEC 2.5: chunk ratio = 2^23 * LogicalSectorSize / BlockSize. */
	uint32_t cr = (uint32_t)((VHDX_SECTORS_PER_BITMAP * lss) / block_size);
	uint64_t blocks = (size + block_size - 1) / block_size;
	uint64_t sbs = (blocks + cr - 1) / cr;

	*ret_chunk_ratio = cr;
	*ret_data_blocks = blocks;
	if (diff)
		*ret_bat_entries = sbs * (cr + 1);
	else
		*ret_bat_entries = blocks ? blocks + (blocks - 1) / cr : 0;
}

void vhdx_bat_set(struct vhdx *v, uint64_t idx, uint64_t entry)
{
	uint64_t s = idx / 512;

	v->bat[idx] = entry;
	if (!v->bat_dirty[s]) {
		v->bat_dirty[s] = 1;
		v->n_dirty++;
	}
}

int vhdx_add_extra(struct vhdx *v, uint64_t file_off, const void *data4k)
{
	struct vhdx_extra *x;

	for (size_t i = 0; i < v->n_extra; i++) {
		if (v->extra[i].file_off == file_off) {
			memcpy(v->extra[i].data, data4k, 4096);
			return 0;
		}
	}
	x = realloc(v->extra, (v->n_extra + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	v->extra = x;
	x[v->n_extra].file_off = file_off;
	memcpy(x[v->n_extra].data, data4k, 4096);
	v->n_extra++;
	return 0;
}

/* ---- headers ---- */

static bool header_valid(const uint8_t *h, uint64_t file_size)
{
	uint8_t tmp[VHDX_HEADER_SIZE];
	uint64_t log_off = ld_le64(h + VHDX_HDR_LOG_OFFSET_OFF);
	uint32_t log_len = ld_le32(h + VHDX_HDR_LOG_LENGTH_OFF);

	if (ld_le32(h) != VHDX_HEADER_SIGNATURE)
		return false;
	memcpy(tmp, h, sizeof(tmp));
	st_le32(tmp + 4, 0);
	if (crc32c(0, tmp, sizeof(tmp)) != ld_le32(h + 4))
		return false;
	if (ld_le16(h + VHDX_HDR_VERSION_OFF) != 1 || ld_le16(h + VHDX_HDR_LOG_VERSION_OFF) != 0)
		return false;
	if (log_len % VHDX_MiB || log_off % VHDX_MiB || log_len == 0 ||
	    log_off < VHDX_HEADER_SECTION_SIZE || !range_ok(log_off, log_len, file_size))
		return false;
	return true;
}

int vhdx_write_headers(struct vhdx *v)
{
	uint8_t h[VHDX_HEADER_SIZE];
	int r;

	/* SPEC 2.2.2.1: write the non-current copy with a larger sequence, flush, repeat. */
	for (int pass = 0; pass < 2; pass++) {
		int slot = 1 - v->hdr_slot;
		memset(h, 0, sizeof(h));
		st_le32(h, VHDX_HEADER_SIGNATURE);
		st_le64(h + VHDX_HDR_SEQ_OFF, v->hdr_seq + 1);
		memcpy(h + VHDX_HDR_FWG_OFF, v->file_write_guid, 16);
		memcpy(h + VHDX_HDR_DWG_OFF, v->data_write_guid, 16);
		memcpy(h + VHDX_HDR_LOG_GUID_OFF, v->log_guid, 16);
		st_le16(h + VHDX_HDR_LOG_VERSION_OFF, 0);
		st_le16(h + VHDX_HDR_VERSION_OFF, 1);
		st_le32(h + VHDX_HDR_LOG_LENGTH_OFF, v->log_len);
		st_le64(h + VHDX_HDR_LOG_OFFSET_OFF, v->log_off);
		st_le32(h + 4, crc32c(0, h, sizeof(h)));
		r = df_pwrite(v->f, h, sizeof(h), slot ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
		if (r < 0)
			return r;
		r = df_flush(v->f);
		if (r < 0)
			return r;
		v->hdr_seq++;
		v->hdr_slot = slot;
	}
	v->hdr_damaged = false;
	return 0;
}

/*
 * Before the first change of a session: new FileWriteGuid and DataWriteGuid
 * (SPEC 2.2.2: children check the DataWriteGuid), and a fresh LogGuid so
 * entries of earlier sessions can never be replayed.
 */
int vhdx_start_session(struct vhdx *v)
{
	int r;

	if (v->session_started)
		return 0;
	if (v->d->rdonly)
		return -EROFS;
	guid_generate(v->file_write_guid);
	guid_generate(v->data_write_guid);
	guid_generate(v->log_guid);
	r = vhdx_write_headers(v);
	if (r < 0)
		return r;
	v->session_started = true;
	v->log_seq = 1;
	v->log_head = 0;
	return 0;
}

static int read_headers(struct vhdx *v, uint64_t fsize, struct disk_diag *diag)
{
	uint8_t h[2][VHDX_HEADER_SIZE];
	bool ok[2];
	int r, cur;

	for (int i = 0; i < 2; i++) {
		r = df_pread(v->f, h[i], VHDX_HEADER_SIZE, i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
		if (r < 0)
			return r;
		ok[i] = header_valid(h[i], fsize);
	}
	if (!ok[0] && !ok[1]) {
		diag_set(diag, VHDX_HEADER1_OFF, "both VHDX headers are damaged (bad signature, "
			 "checksum, version or log location); the file cannot be used");
		return -EINVAL;
	}
	if (ok[0] && ok[1])
		cur = ld_le64(h[1] + VHDX_HDR_SEQ_OFF) > ld_le64(h[0] + VHDX_HDR_SEQ_OFF) ? 1 : 0;
	else
		cur = ok[1] ? 1 : 0;
	v->hdr_damaged = !(ok[0] && ok[1]);
	v->hdr_slot = cur;
	v->hdr_seq = ld_le64(h[cur] + VHDX_HDR_SEQ_OFF);
	memcpy(v->file_write_guid, h[cur] + VHDX_HDR_FWG_OFF, 16);
	memcpy(v->data_write_guid, h[cur] + VHDX_HDR_DWG_OFF, 16);
	memcpy(v->log_guid, h[cur] + VHDX_HDR_LOG_GUID_OFF, 16);
	v->log_len = ld_le32(h[cur] + VHDX_HDR_LOG_LENGTH_OFF);
	v->log_off = ld_le64(h[cur] + VHDX_HDR_LOG_OFFSET_OFF);
	return 0;
}

/* ---- region table ---- */

struct range {
	uint64_t off, len;
	const char *what;
};

static bool overlaps(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
	return a < b + bl && b < a + al;
}

static bool region_table_valid(const uint8_t *t)
{
	uint32_t want = ld_le32(t + 4);
	uint8_t *tmp;
	bool ok;

	if (ld_le32(t) != VHDX_REGION_SIGNATURE || ld_le32(t + 8) > VHDX_REGION_MAX_ENTRIES)
		return false;
	tmp = malloc(VHDX_REGION_TABLE_SIZE);
	if (!tmp)
		return false;
	memcpy(tmp, t, VHDX_REGION_TABLE_SIZE);
	st_le32(tmp + 4, 0);
	ok = crc32c(0, tmp, VHDX_REGION_TABLE_SIZE) == want;
	free(tmp);
	return ok;
}

static int read_regions(struct vhdx *v, uint64_t fsize, struct disk_diag *diag)
{
	uint8_t *t[2];
	bool ok[2];
	uint32_t n;
	bool have_bat = false, have_meta = false;
	struct range used[2 + VHDX_REGION_MAX_ENTRIES];
	unsigned n_used = 0;
	int r = 0, pick;

	t[0] = malloc(VHDX_REGION_TABLE_SIZE);
	t[1] = malloc(VHDX_REGION_TABLE_SIZE);
	if (!t[0] || !t[1]) {
		r = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		r = df_pread(v->f, t[i], VHDX_REGION_TABLE_SIZE, i ? VHDX_REGION2_OFF : VHDX_REGION1_OFF);
		if (r < 0)
			goto out;
		ok[i] = region_table_valid(t[i]);
	}
	if (!ok[0] && !ok[1]) {
		diag_set(diag, VHDX_REGION1_OFF, "both VHDX region tables are damaged (bad signature "
			 "or checksum); the file cannot be used");
		r = -EINVAL;
		goto out;
	}
	pick = ok[0] ? 0 : 1;
	v->region_damaged = !ok[0] || !ok[1] ||
			    memcmp(t[0], t[1], VHDX_REGION_TABLE_SIZE) != 0;
	used[n_used++] = (struct range){ 0, VHDX_HEADER_SECTION_SIZE, "the header section" };
	used[n_used++] = (struct range){ v->log_off, v->log_len, "the log" };
	n = ld_le32(t[pick] + 8);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = t[pick] + 16 + i * 32;
		uint64_t off = ld_le64(e + 16);
		uint32_t len = ld_le32(e + 24), flags = ld_le32(e + 28);
		uint64_t eoff = (pick ? VHDX_REGION2_OFF : VHDX_REGION1_OFF) + 16 + i * 32;
		bool is_bat = !memcmp(e, vhdx_guid_bat, 16), is_meta = !memcmp(e, vhdx_guid_meta, 16);

		if (!is_bat && !is_meta) {
			if (flags & VHDX_REGION_REQUIRED) {
				char g[39];
				guid_format(e, g);
				diag_set(diag, eoff, "region table entry %u is an unknown required region "
					 "%s; this VHDX needs a newer implementation", i, g);
				r = -ENOTSUP;
				goto out;
			}
			continue;
		}
		if ((is_bat && have_bat) || (is_meta && have_meta)) {
			diag_set(diag, eoff, "region table entry %u repeats the %s region", i,
				 is_bat ? "BAT" : "metadata");
			r = -EINVAL;
			goto out;
		}
		if (off % VHDX_MiB || len % VHDX_MiB || len == 0 || off < VHDX_HEADER_SECTION_SIZE ||
		    !range_ok(off, len, fsize)) {
			diag_set(diag, eoff, "region table entry %u (%s) has a bad location 0x%llx+0x%x "
				 "(must be 1 MiB aligned and inside the %llu-byte file)", i,
				 is_bat ? "BAT" : "metadata", (unsigned long long)off, len,
				 (unsigned long long)fsize);
			r = -EINVAL;
			goto out;
		}
		for (unsigned k = 0; k < n_used; k++) {
			if (overlaps(off, len, used[k].off, used[k].len)) {
				diag_set(diag, eoff, "region table entry %u (%s at 0x%llx) overlaps %s",
					 i, is_bat ? "BAT" : "metadata", (unsigned long long)off,
					 used[k].what);
				r = -EINVAL;
				goto out;
			}
		}
		used[n_used++] = (struct range){ off, len, is_bat ? "the BAT" : "the metadata region" };
		if (is_bat) {
			have_bat = true;
			v->bat_off = off;
			v->bat_len = len;
		} else {
			have_meta = true;
			v->meta_off = off;
			v->meta_len = len;
		}
	}
	if (!have_bat || !have_meta) {
		diag_set(diag, VHDX_REGION1_OFF, "the region table has no %s region",
			 have_bat ? "metadata" : "BAT");
		r = -EINVAL;
		goto out;
	}
	v->region = t[pick];
	t[pick] = NULL;
out:
	free(t[0]);
	free(t[1]);
	return r;
}

/* ---- metadata ---- */

int vhdx_read_meta_item(struct vhdx *v, uint32_t off, void *buf, uint32_t len)
{
	return df_pread(v->f, buf, len, v->meta_off + off);
}

static int parse_locator(struct vhdx *v, const uint8_t *p, uint32_t len, struct disk_diag *diag)
{
	uint16_t n;

	if (len < 20 || memcmp(p, vhdx_guid_loc_vhdx, 16)) {
		diag_set(diag, v->meta_off, "the parent locator is not a VHDX locator");
		return -ENOTSUP;
	}
	n = ld_le16(p + 18);
	if ((uint64_t)20 + (uint64_t)n * 12 > len) {
		diag_set(diag, v->meta_off, "the parent locator's %u entries overrun the item", n);
		return -EINVAL;
	}
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *e = p + 20 + i * 12;
		uint32_t ko = ld_le32(e), vo = ld_le32(e + 4);
		uint16_t kl = ld_le16(e + 8), vl = ld_le16(e + 10);
		char key[64], val[1024];

		if (!range_ok(ko, kl, len) || !range_ok(vo, vl, len) || kl == 0) {
			diag_set(diag, v->meta_off, "parent locator entry %u points outside the item", i);
			return -EINVAL;
		}
		if (utf16_to_utf8(p + ko, kl, false, key, sizeof(key)) < 0 ||
		    utf16_to_utf8(p + vo, vl, false, val, sizeof(val)) < 0)
			continue; /* unknown or oversized keys are ignored */
		if (!strcmp(key, "parent_linkage")) {
			v->has_link = guid_parse(val, v->parent_link) == 0;
		} else if (!strcmp(key, "parent_linkage2")) {
			v->has_link2 = guid_parse(val, v->parent_link2) == 0;
		} else if (!strcmp(key, "relative_path")) {
			snprintf(v->loc_relative, sizeof(v->loc_relative), "%s", val);
		} else if (!strcmp(key, "absolute_win32_path")) {
			snprintf(v->loc_absolute, sizeof(v->loc_absolute), "%s", val);
		} else if (!strcmp(key, "volume_path")) {
			snprintf(v->loc_volume, sizeof(v->loc_volume), "%s", val);
		}
	}
	if (!v->has_link) {
		diag_set(diag, v->meta_off, "the parent locator has no valid parent_linkage");
		return -EINVAL;
	}
	return 0;
}

enum { M_PARAMS, M_VSIZE, M_PAGE83, M_LSS, M_PSS, M_LOCATOR, M_COUNT };
static const struct meta_known {
	const uint8_t *guid;
	uint32_t len;            /* exact length, 0 = variable */
	const char *name;
} meta_known[M_COUNT] = {
	[M_PARAMS] = { vhdx_guid_params, 8, "file parameters" },
	[M_VSIZE] = { vhdx_guid_vsize, 8, "virtual disk size" },
	[M_PAGE83] = { vhdx_guid_page83, 16, "page 83 data" },
	[M_LSS] = { vhdx_guid_lss, 4, "logical sector size" },
	[M_PSS] = { vhdx_guid_pss, 4, "physical sector size" },
	[M_LOCATOR] = { vhdx_guid_locator, 0, "parent locator" },
};

static int read_metadata(struct vhdx *v, struct disk_diag *diag)
{
	uint8_t *t = malloc(VHDX_META_TABLE_SIZE), *loc = NULL;
	uint32_t off[M_COUNT] = { 0 }, len[M_COUNT] = { 0 };
	bool seen[M_COUNT] = { false };
	uint8_t item[16];
	uint16_t n;
	int r;

	if (!t)
		return -ENOMEM;
	if (v->meta_len < VHDX_META_TABLE_SIZE) {
		r = -EINVAL;
		goto out;
	}
	r = df_pread(v->f, t, VHDX_META_TABLE_SIZE, v->meta_off);
	if (r < 0)
		goto out;
	n = ld_le16(t + 10);
	if (memcmp(t, VHDX_META_SIGNATURE, 8) || n > VHDX_META_MAX_ENTRIES) {
		diag_set(diag, v->meta_off, "the metadata table is damaged (bad signature or %u entries)",
			 n);
		r = -EINVAL;
		goto out;
	}
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *e = t + 32 + i * 32;
		uint32_t o = ld_le32(e + 16), l = ld_le32(e + 20), fl = ld_le32(e + 24);
		int k;

		for (k = 0; k < M_COUNT; k++)
			if (!memcmp(e, meta_known[k].guid, 16))
				break;
		if (l && (o < VHDX_META_TABLE_SIZE || l > VHDX_MiB || !range_ok(o, l, v->meta_len))) {
			diag_set(diag, v->meta_off + 32 + i * 32, "metadata entry %u lies outside the "
				 "metadata region (offset 0x%x, length %u)", i, o, l);
			r = -EINVAL;
			goto out;
		}
		if (k == M_COUNT) {
			if (fl & VHDX_META_IS_REQUIRED) {
				char g[39];
				guid_format(e, g);
				diag_set(diag, v->meta_off + 32 + i * 32, "unknown required metadata "
					 "item %s; this VHDX needs a newer implementation", g);
				r = -ENOTSUP;
				goto out;
			}
			continue;
		}
		if (seen[k]) {
			diag_set(diag, v->meta_off + 32 + i * 32, "metadata item '%s' appears twice",
				 meta_known[k].name);
			r = -EINVAL;
			goto out;
		}
		if (meta_known[k].len && l != meta_known[k].len) {
			diag_set(diag, v->meta_off + 32 + i * 32, "metadata item '%s' has length %u, "
				 "expected %u", meta_known[k].name, l, meta_known[k].len);
			r = -EINVAL;
			goto out;
		}
		seen[k] = true;
		off[k] = o;
		len[k] = l;
	}
	for (int k = 0; k < M_LOCATOR; k++) {
		if (!seen[k]) {
			diag_set(diag, v->meta_off, "the required metadata item '%s' is missing",
				 meta_known[k].name);
			r = -EINVAL;
			goto out;
		}
	}
	r = vhdx_read_meta_item(v, off[M_PARAMS], item, 8);
	if (r < 0)
		goto out;
	v->block_size = ld_le32(item);
	v->leave_allocated = ld_le32(item + 4) & VHDX_PARAMS_LEAVE_ALLOCATED;
	v->has_parent = ld_le32(item + 4) & VHDX_PARAMS_HAS_PARENT;
	r = vhdx_read_meta_item(v, off[M_VSIZE], item, 8);
	if (r < 0)
		goto out;
	v->size = ld_le64(item);
	v->size_item_off = off[M_VSIZE];
	r = vhdx_read_meta_item(v, off[M_PAGE83], v->page83, 16);
	if (r < 0)
		goto out;
	r = vhdx_read_meta_item(v, off[M_LSS], item, 4);
	if (r < 0)
		goto out;
	v->lss = ld_le32(item);
	r = vhdx_read_meta_item(v, off[M_PSS], item, 4);
	if (r < 0)
		goto out;
	v->pss = ld_le32(item);
	r = -EINVAL;
	if (v->block_size < VHDX_BLOCK_MIN || v->block_size > VHDX_BLOCK_MAX ||
	    (v->block_size & (v->block_size - 1))) {
		diag_set(diag, v->meta_off + off[M_PARAMS], "block size %u is invalid (must be a "
			 "power of two from 1 MiB to 256 MiB)", v->block_size);
		goto out;
	}
	if ((v->lss != 512 && v->lss != 4096) || (v->pss != 512 && v->pss != 4096)) {
		diag_set(diag, v->meta_off + off[M_LSS], "sector sizes %u/%u are invalid (512 or "
			 "4096)", v->lss, v->pss);
		goto out;
	}
	if (v->size == 0 || v->size % v->lss || v->size > VHDX_MAX_SIZE) {
		diag_set(diag, v->meta_off + off[M_VSIZE], "virtual disk size %llu is invalid (a "
			 "non-zero multiple of %u up to 64 TiB)", (unsigned long long)v->size, v->lss);
		goto out;
	}
	if (v->has_parent) {
		if (!seen[M_LOCATOR]) {
			diag_set(diag, v->meta_off, "differencing disk without a parent locator");
			goto out;
		}
		loc = malloc(len[M_LOCATOR] ? len[M_LOCATOR] : 1);
		if (!loc) {
			r = -ENOMEM;
			goto out;
		}
		r = vhdx_read_meta_item(v, off[M_LOCATOR], loc, len[M_LOCATOR]);
		if (r < 0)
			goto out;
		r = parse_locator(v, loc, len[M_LOCATOR], diag);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(loc);
	free(t);
	return r;
}

/* ---- BAT ---- */

static int read_bat(struct vhdx *v, uint64_t fsize, struct disk_diag *diag)
{
	uint8_t *raw;
	int r;

	vhdx_compute_geometry(v->size, v->block_size, v->lss, v->has_parent, &v->chunk_ratio,
			      &v->data_blocks, &v->bat_entries);
	if (v->bat_entries > v->bat_len / 8) {
		diag_set(diag, v->bat_off, "the BAT region (%llu bytes) is too small for a %llu-byte "
			 "disk with %u-byte blocks", (unsigned long long)v->bat_len,
			 (unsigned long long)v->size, v->block_size);
		return -EINVAL;
	}
	v->bat_alloc = MIN(ALIGN_UP(v->bat_entries, 512), v->bat_len / 8);
	v->bat = calloc(v->bat_alloc, 8);
	v->bat_dirty = calloc((v->bat_alloc + 511) / 512, 1);
	v->sb_count = (v->data_blocks + v->chunk_ratio - 1) / v->chunk_ratio;
	v->sb = calloc(v->sb_count ? v->sb_count : 1, sizeof(*v->sb));
	raw = malloc(v->bat_alloc * 8);
	if (!v->bat || !v->bat_dirty || !v->sb || !raw) {
		free(raw);
		return -ENOMEM;
	}
	r = df_pread(v->f, raw, v->bat_alloc * 8, v->bat_off);
	if (r < 0) {
		free(raw);
		return r;
	}
	for (uint64_t i = 0; i < v->bat_alloc; i++)
		v->bat[i] = ld_le64(raw + i * 8);
	free(raw);

	v->next_free = ALIGN_UP(fsize, VHDX_MiB);
	v->next_free = MAX(v->next_free, v->bat_off + v->bat_len);
	v->next_free = MAX(v->next_free, v->meta_off + v->meta_len);
	v->next_free = MAX(v->next_free, v->log_off + v->log_len);
	for (uint64_t i = 0; i < v->bat_entries; i++) {
		uint64_t e = v->bat[i];
		unsigned st = vhdx_state(e);
		bool is_sb = (i % (v->chunk_ratio + 1)) == v->chunk_ratio;
		uint64_t len = is_sb ? VHDX_MiB : v->block_size;
		bool present;

		if (is_sb) {
			if (st != VHDX_SB_NOT_PRESENT && st != VHDX_SB_PRESENT)
				goto bad;
			present = st == VHDX_SB_PRESENT;
			if (present && !v->has_parent)
				present = false; /* ignored outside differencing disks */
		} else {
			switch (st) {
			case VHDX_PAYLOAD_NOT_PRESENT:
			case VHDX_PAYLOAD_UNDEFINED:
			case VHDX_PAYLOAD_ZERO:
			case VHDX_PAYLOAD_UNMAPPED:
				present = false;
				break;
			case VHDX_PAYLOAD_FULLY_PRESENT:
				present = true;
				break;
			case VHDX_PAYLOAD_PARTIALLY_PRESENT:
				if (!v->has_parent)
					goto bad;
				present = true;
				break;
			default:
				goto bad;
			}
		}
		if (!present)
			continue;
		/* SECURITY: offsets come from the file; keep block ends far from overflow. */
		if (vhdx_off(e) < VHDX_HEADER_SECTION_SIZE || vhdx_off(e) > (1ULL << 50))
			goto bad;
		v->next_free = MAX(v->next_free, vhdx_off(e) + len);
		continue;
bad:
		diag_set(diag, v->bat_off + i * 8, "BAT entry %llu is invalid (state %u, offset "
			 "0x%llx); run 'openhv disk check --repair'", (unsigned long long)i, st,
			 (unsigned long long)vhdx_off(e));
		return -EINVAL;
	}
	/* A partially present block needs its sector bitmap. */
	if (v->has_parent) {
		for (uint64_t b = 0; b < v->data_blocks; b++) {
			if (vhdx_state(v->bat[vhdx_bat_index(v, b)]) == VHDX_PAYLOAD_PARTIALLY_PRESENT &&
			    vhdx_state(v->bat[vhdx_sb_index(v, b / v->chunk_ratio)]) != VHDX_SB_PRESENT) {
				diag_set(diag, v->bat_off + vhdx_bat_index(v, b) * 8, "block %llu is "
					 "partially present but its sector bitmap is missing",
					 (unsigned long long)b);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int vhdx_sb_load(struct vhdx *v, uint64_t chunk, bool create)
{
	struct vhdx_sb *sb = &v->sb[chunk];
	uint64_t idx = vhdx_sb_index(v, chunk);
	uint64_t e;
	int r;

	if (sb->bits)
		return 0;
	if (!v->has_parent || idx >= v->bat_entries || chunk >= v->sb_count)
		return -EIO;
	e = v->bat[idx];
	if (vhdx_state(e) != VHDX_SB_PRESENT && !create)
		return -ENOENT;
	sb->bits = calloc(1, VHDX_SECTOR_BITMAP_BLOCK);
	if (!sb->bits)
		return -ENOMEM;
	if (vhdx_state(e) == VHDX_SB_PRESENT) {
		r = df_pread(v->f, sb->bits, VHDX_SECTOR_BITMAP_BLOCK, vhdx_off(e));
		if (r < 0) {
			free(sb->bits);
			sb->bits = NULL;
			return r;
		}
		return 0;
	}
	/* New bitmap block at the end of the file; zero until the commit logs it. */
	{
		uint64_t off = v->next_free;
		r = df_set_size(v->f, off + VHDX_SECTOR_BITMAP_BLOCK);
		if (r < 0) {
			free(sb->bits);
			sb->bits = NULL;
			return r;
		}
		v->next_free = off + VHDX_SECTOR_BITMAP_BLOCK;
		/*
		 * Fresh space from extending the file reads as zero and the commit
		 * flushes the new size before logging, so only pages with bits set
		 * need to go through the log.
		 */
		vhdx_bat_set(v, idx, vhdx_entry(VHDX_SB_PRESENT, off));
	}
	return 0;
}

/* ---- open / close ---- */

static void vhdx_free(struct vhdx *v)
{
	if (!v)
		return;
	for (uint64_t c = 0; c < v->sb_count && v->sb; c++)
		free(v->sb[c].bits);
	free(v->sb);
	free(v->bat);
	free(v->bat_dirty);
	free(v->extra);
	free(v->region);
	free(v);
}

static int vhdx_open(struct disk *d, struct disk_diag *diag)
{
	struct vhdx *v = calloc(1, sizeof(*v));
	uint8_t sig[8];
	uint64_t fsize;
	bool replayed = false;
	int r;

	if (!v)
		return -ENOMEM;
	v->d = d;
	v->f = d->file;
	r = df_size(v->f, &fsize);
	if (r < 0)
		goto err;
	if (fsize < VHDX_HEADER_SECTION_SIZE) {
		diag_set(diag, fsize, "the file is truncated (%llu bytes; a VHDX has at least a 1 MiB "
			 "header section)", (unsigned long long)fsize);
		r = -EINVAL;
		goto err;
	}
	r = df_pread(v->f, sig, 8, 0);
	if (r < 0)
		goto err;
	if (memcmp(sig, VHDX_FILE_SIGNATURE, 8)) {
		diag_set(diag, 0, "not a VHDX file (no 'vhdxfile' signature)");
		r = -EINVAL;
		goto err;
	}
	r = read_headers(v, fsize, diag);
	if (r < 0)
		goto err;
	r = vhdx_log_replay(v, !(d->flags & DISK_OPEN_INSPECT), &replayed, diag);
	if (r < 0)
		goto err;
	v->log_replayed = replayed;
	r = df_size(v->f, &fsize);
	if (r < 0)
		goto err;
	v->file_size = fsize;
	r = read_regions(v, fsize, diag);
	if (r < 0)
		goto err;
	r = read_metadata(v, diag);
	if (r < 0)
		goto err;
	r = read_bat(v, fsize, diag);
	if (r < 0)
		goto err;
	d->size = v->size;
	d->sector = v->lss;
	d->priv = v;
	return 0;
err:
	if (r == -EINVAL && diag && !diag->msg[0])
		diag_set(diag, 0, "the VHDX structures are inconsistent");
	vhdx_free(v);
	return r;
}

static int vhdx_flush(struct disk *d)
{
	struct vhdx *v = VHDX(d);
	int r;

	if (d->rdonly)
		return 0;
	r = vhdx_log_commit(v);
	if (r < 0)
		return r;
	return df_flush(v->f);
}

static int vhdx_close(struct disk *d)
{
	struct vhdx *v = VHDX(d);
	int r = 0;

	if (!v)
		return 0;
	if (!d->rdonly && v->session_started) {
		r = vhdx_flush(d);
		if (r == 0) {
			/* Clean close: the log is empty again. */
			memset(v->log_guid, 0, 16);
			r = vhdx_write_headers(v);
		}
	}
	vhdx_free(v);
	d->priv = NULL;
	return r;
}

/* ---- data path ---- */

static bool sb_bit(const uint8_t *bits, uint64_t s)
{
	return bits[s / 8] & (1u << (s % 8));
}

/*
 * Describe the run at virtual offset off (at most len bytes, inside one block).
 */
static int vhdx_map_one(struct vhdx *v, uint64_t off, uint64_t len, struct disk_extent *x)
{
	uint64_t block = off / v->block_size, in = off % v->block_size;
	uint64_t e = v->bat[vhdx_bat_index(v, block)];
	uint64_t n = MIN(len, v->block_size - in);
	int r;

	x->fd = -1;
	x->file_off = 0;
	switch (vhdx_state(e)) {
	case VHDX_PAYLOAD_FULLY_PRESENT:
		x->kind = DISK_EXT_DATA;
		x->file_off = vhdx_off(e) + in;
		x->fd = v->f->fd;
		break;
	case VHDX_PAYLOAD_PARTIALLY_PRESENT: {
		uint64_t chunk = block / v->chunk_ratio;
		uint64_t s = off / v->lss % VHDX_SECTORS_PER_BITMAP, cnt = n / v->lss, k;
		bool bit;

		r = vhdx_sb_load(v, chunk, false);
		if (r < 0)
			return r;
		bit = sb_bit(v->sb[chunk].bits, s);
		for (k = 1; k < cnt && sb_bit(v->sb[chunk].bits, s + k) == bit; k++)
			;
		n = k * v->lss;
		if (bit) {
			x->kind = DISK_EXT_DATA;
			x->file_off = vhdx_off(e) + in;
			x->fd = v->f->fd;
		} else {
			x->kind = DISK_EXT_PARENT;
		}
		break;
	}
	case VHDX_PAYLOAD_NOT_PRESENT:
	case VHDX_PAYLOAD_UNDEFINED:
		x->kind = v->has_parent ? DISK_EXT_PARENT : DISK_EXT_ZERO;
		break;
	default: /* ZERO, UNMAPPED: validated at open */
		x->kind = DISK_EXT_ZERO;
		break;
	}
	x->len = n;
	return 0;
}

static int vhdx_map(struct disk *d, uint64_t off, uint64_t len, struct disk_extent *ret)
{
	struct vhdx *v = VHDX(d);
	struct disk_extent x, y;
	int r;

	r = vhdx_map_one(v, off, len, &x);
	if (r < 0)
		return r;
	/* Merge following runs of the same kind (and contiguous file data). */
	while (x.len < len) {
		r = vhdx_map_one(v, off + x.len, len - x.len, &y);
		if (r < 0)
			return r;
		if (y.kind != x.kind || (x.kind == DISK_EXT_DATA && y.file_off != x.file_off + x.len))
			break;
		x.len += y.len;
	}
	*ret = x;
	return 0;
}

static int vhdx_readv(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	struct vhdx *v = VHDX(d);
	size_t total = iov_total(iov, cnt), done = 0;
	struct iovec sub[IOV_SLICE_MAX];
	int r;

	if (v->log_pending)
		return -EROFS;
	while (done < total) {
		struct disk_extent x;
		r = vhdx_map(d, off + done, total - done, &x);
		if (r < 0)
			return r;
		switch (x.kind) {
		case DISK_EXT_DATA: {
			size_t step = (size_t)x.len;
			int n = iov_slice(iov, cnt, done, step, sub, IOV_SLICE_MAX);
			if (n == -E2BIG) {
				/* Many small buffers: go piecewise through a bounce buffer. */
				uint8_t *tmp = malloc(step);
				if (!tmp)
					return -ENOMEM;
				r = df_pread(v->f, tmp, step, x.file_off);
				if (r == 0)
					iov_from_buf(iov, cnt, done, tmp, step);
				free(tmp);
			} else if (n < 0) {
				return n;
			} else {
				r = df_preadv(v->f, sub, n, x.file_off);
			}
			if (r < 0)
				return r;
			break;
		}
		case DISK_EXT_ZERO:
			iov_zero(iov, cnt, done, (size_t)x.len);
			break;
		default:
			r = disk_read_parent(d, off + done, iov, cnt, done, (size_t)x.len);
			if (r < 0)
				return r;
			break;
		}
		done += (size_t)x.len;
	}
	return 0;
}

static void sb_set(struct vhdx_sb *sb, uint64_t s, uint64_t cnt, uint32_t lss)
{
	for (uint64_t k = s; k < s + cnt; k++) {
		sb->bits[k / 8] |= (uint8_t)(1u << (k % 8));
		sb->dirty[k / 8 / VHDX_LOG_SECTOR] = 1;
	}
	(void)lss;
}

/* Write n bytes (within one block) at virtual offset off from iov at skip. */
static int vhdx_write_block(struct vhdx *v, uint64_t off, const struct iovec *iov, int cnt,
			    size_t skip, size_t n)
{
	uint64_t block = off / v->block_size, in = off % v->block_size;
	uint64_t idx = vhdx_bat_index(v, block);
	uint64_t e = v->bat[idx];
	unsigned st = vhdx_state(e);
	struct iovec sub[IOV_SLICE_MAX];
	int k, r;

	if (st != VHDX_PAYLOAD_FULLY_PRESENT && st != VHDX_PAYLOAD_PARTIALLY_PRESENT) {
		/* Allocate at the end of the file: new space reads as zero. */
		uint64_t boff = v->next_free;
		bool partial = v->has_parent && (in || n < v->block_size) &&
			       (st == VHDX_PAYLOAD_NOT_PRESENT || st == VHDX_PAYLOAD_UNDEFINED);
		if (boff > (1ULL << 50))
			return -EFBIG;
		r = df_set_size(v->f, boff + v->block_size);
		if (r < 0)
			return r;
		v->next_free = boff + v->block_size;
		if (partial) {
			r = vhdx_sb_load(v, block / v->chunk_ratio, true);
			if (r < 0)
				return r;
			e = vhdx_entry(VHDX_PAYLOAD_PARTIALLY_PRESENT, boff);
		} else {
			e = vhdx_entry(VHDX_PAYLOAD_FULLY_PRESENT, boff);
		}
		vhdx_bat_set(v, idx, e);
		st = vhdx_state(e);
	}
	k = iov_slice(iov, cnt, skip, n, sub, IOV_SLICE_MAX);
	if (k == -E2BIG) {
		uint8_t *tmp = malloc(n);
		if (!tmp)
			return -ENOMEM;
		iov_to_buf(iov, cnt, skip, tmp, n);
		r = df_pwrite(v->f, tmp, n, vhdx_off(e) + in);
		free(tmp);
	} else if (k < 0) {
		return k;
	} else {
		r = df_pwritev(v->f, sub, k, vhdx_off(e) + in);
	}
	if (r < 0)
		return r;
	if (st == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
		uint64_t chunk = block / v->chunk_ratio;
		r = vhdx_sb_load(v, chunk, false);
		if (r < 0)
			return r;
		sb_set(&v->sb[chunk], off / v->lss % VHDX_SECTORS_PER_BITMAP, n / v->lss, v->lss);
	}
	return 0;
}

/* Auto-commit once this many metadata sectors are dirty (bounds the work at flush). */
#define VHDX_DIRTY_LIMIT 192

static int vhdx_writev(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	struct vhdx *v = VHDX(d);
	size_t total = iov_total(iov, cnt), done = 0;
	int r;

	r = vhdx_start_session(v);
	if (r < 0)
		return r;
	while (done < total) {
		uint64_t o = off + done;
		size_t n = (size_t)MIN(total - done, v->block_size - o % v->block_size);
		r = vhdx_write_block(v, o, iov, cnt, done, n);
		if (r < 0)
			return r;
		done += n;
	}
	if (v->n_dirty + v->n_extra > VHDX_DIRTY_LIMIT)
		return vhdx_log_commit(v);
	return 0;
}

static int vhdx_discard(struct disk *d, uint64_t off, uint64_t len)
{
	struct vhdx *v = VHDX(d);
	int r;

	r = vhdx_start_session(v);
	if (r < 0)
		return r;
	while (len) {
		uint64_t block = off / v->block_size, in = off % v->block_size;
		uint64_t n = MIN(len, v->block_size - in);
		uint64_t idx = vhdx_bat_index(v, block), e = v->bat[idx];
		unsigned st = vhdx_state(e);

		if (st == VHDX_PAYLOAD_FULLY_PRESENT) {
			if (n == v->block_size && !v->leave_allocated) {
				/*
				 * Free the block. Its space is punched now and only
				 * reused by compact, after this change is durable.
				 */
				vhdx_bat_set(v, idx, vhdx_entry(v->has_parent ? VHDX_PAYLOAD_ZERO :
								 VHDX_PAYLOAD_NOT_PRESENT, 0));
			}
			r = df_zero(v->f, vhdx_off(e) + in, n);
			if (r < 0)
				return r;
		} else if (st == VHDX_PAYLOAD_PARTIALLY_PRESENT && n == v->block_size) {
			vhdx_bat_set(v, idx, vhdx_entry(VHDX_PAYLOAD_ZERO, 0));
			r = df_zero(v->f, vhdx_off(e), v->block_size);
			if (r < 0)
				return r;
		}
		off += n;
		len -= n;
	}
	return 0;
}

static void vhdx_info(struct disk *d, struct disk_info *ret)
{
	struct vhdx *v = VHDX(d);

	ret->type = v->has_parent ? DISK_TYPE_DIFF :
		    v->leave_allocated ? DISK_TYPE_FIXED : DISK_TYPE_DYNAMIC;
	ret->block_size = v->block_size;
	ret->logical_sector = v->lss;
	ret->physical_sector = v->pss;
	ret->log_replayed = v->log_replayed;
	ret->log_pending = v->log_pending;
	memcpy(ret->disk_id, v->page83, 16);
	if (v->has_parent)
		snprintf(ret->parent_hint, sizeof(ret->parent_hint), "%s",
			 v->loc_relative[0] ? v->loc_relative : v->loc_absolute);
}

static const char *vhdx_parent_hint(struct disk *d, unsigned idx)
{
	struct vhdx *v = VHDX(d);
	const char *c[3] = { v->loc_relative, v->loc_absolute, v->loc_volume };

	if (!v->has_parent || idx >= 3)
		return NULL;
	return c[idx][0] ? c[idx] : "";
}

static void vhdx_link_id(struct disk *d, uint8_t ret_id[16])
{
	memcpy(ret_id, VHDX(d)->data_write_guid, 16);
}

static int vhdx_parent_matches(struct disk *d, struct disk *p, struct disk_diag *diag)
{
	struct vhdx *v = VHDX(d);
	uint8_t id[16];
	char want[39], got[39];

	if (!p->drv->link_id)
		return -EINVAL;
	p->drv->link_id(p, id);
	if (!memcmp(id, v->parent_link, 16) || (v->has_link2 && !memcmp(id, v->parent_link2, 16)))
		return 0;
	guid_format(v->parent_link, want);
	guid_format(id, got);
	diag_set(diag, 0, "parent '%s' was modified after '%s' was created (DataWriteGuid %s, "
		 "child expects %s); the chain is broken", p->path, d->path, got, want);
	return -ESTALE;
}

static int vhdx_begin_writes(struct disk *d)
{
	return vhdx_start_session(VHDX(d));
}

int vhdx_check(struct disk *d, bool repair, void (*report)(void *, bool, const char *),
	       void *opaque, struct disk_check_result *ret);
int vhdx_resize(struct disk *d, uint64_t new_size, struct disk_diag *diag);
int vhdx_compact(struct disk *d, uint64_t *ret_saved, struct disk_diag *diag);

const struct disk_driver disk_vhdx_driver = {
	.format = DISK_FMT_VHDX,
	.open = vhdx_open,
	.close = vhdx_close,
	.readv = vhdx_readv,
	.writev = vhdx_writev,
	.flush = vhdx_flush,
	.discard = vhdx_discard,
	.map = vhdx_map,
	.begin_writes = vhdx_begin_writes,
	.info = vhdx_info,
	.check = vhdx_check,
	.resize = vhdx_resize,
	.compact = vhdx_compact,
	.parent_hint = vhdx_parent_hint,
	.parent_matches = vhdx_parent_matches,
	.link_id = vhdx_link_id,
};
