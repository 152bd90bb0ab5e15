// SPDX-License-Identifier: MIT
/*
 * VHDX log (MS-VHDX v1.0 section 2.3): writing metadata updates as log
 * entries and replaying the active sequence after a crash.
 *
 * How we write: every metadata change (BAT sectors, sector bitmap pages,
 * region table and metadata item sectors) stays dirty in memory until a
 * commit. A commit (1) flushes the file so the payload the new metadata
 * points at is durable, (2) writes one log entry holding the new sector
 * images, whose tail is itself, (3) flushes, (4) writes the sectors in place.
 * The in-place writes become durable at the next commit's first flush, before
 * the next entry can be written, so the newest valid entry is always the only
 * one still needed, and replaying it is idempotent.
 */
#include <errno.h>
#include <stdlib.h>

#include "vhdx/vhdx_internal.h"

#define ENTRY_HDR_SIZE 64u
#define DESC_SIZE 32u

static uint32_t desc_area(uint32_t n_desc)
{
	return (uint32_t)ALIGN_UP(ENTRY_HDR_SIZE + (uint64_t)DESC_SIZE * n_desc, VHDX_LOG_SECTOR);
}

/* Reads len bytes at log offset off, wrapping at the end of the log. */
static int log_read(struct vhdx *v, uint32_t off, void *buf, uint32_t len)
{
	uint8_t *p = buf;

	while (len) {
		uint32_t n = MIN(len, v->log_len - off);
		int r = df_pread(v->f, p, n, v->log_off + off);
		if (r < 0)
			return r;
		p += n;
		len -= n;
		off = (off + n) % v->log_len;
	}
	return 0;
}

struct log_entry {
	uint32_t off, len, tail;
	uint64_t seq, flushed, last;
	uint32_t n_desc;
	uint8_t *buf;               /* whole entry */
};

/*
 * Validates the entry at log offset off (every field, every descriptor, the
 * checksum). Returns 1 if valid (e filled, e->buf owned by caller), 0 if not.
 */
static int log_entry_read(struct vhdx *v, uint32_t off, struct log_entry *e, uint64_t *budget)
{
	uint8_t hdr[ENTRY_HDR_SIZE];
	uint32_t len, n_desc, n_data = 0, area;
	uint64_t seq;
	uint8_t *buf;
	int r;

	r = log_read(v, off, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	if (ld_le32(hdr) != VHDX_LOG_ENTRY_SIGNATURE)
		return 0;
	len = ld_le32(hdr + 8);
	e->tail = ld_le32(hdr + 12);
	seq = ld_le64(hdr + 16);
	n_desc = ld_le32(hdr + 24);
	if (len < VHDX_LOG_SECTOR || len % VHDX_LOG_SECTOR || len > v->log_len)
		return 0;
	if (e->tail % VHDX_LOG_SECTOR || e->tail >= v->log_len || seq == 0)
		return 0;
	if (memcmp(hdr + 32, v->log_guid, 16))
		return 0;
	if (n_desc > (len - ENTRY_HDR_SIZE) / DESC_SIZE)
		return 0;
	area = desc_area(n_desc);
	if (area > len)
		return 0;
	/* SECURITY: a hostile log can make the search quadratic; bound the work. */
	if (*budget < len)
		return -E2BIG;
	*budget -= len;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	r = log_read(v, off, buf, len);
	if (r < 0)
		goto bad;
	{
		uint32_t want = ld_le32(buf + 4);
		st_le32(buf + 4, 0);
		if (crc32c(0, buf, len) != want) {
			r = 0;
			goto bad;
		}
		st_le32(buf + 4, want);
	}
	for (uint32_t i = 0; i < n_desc; i++) {
		const uint8_t *dsc = buf + ENTRY_HDR_SIZE + i * DESC_SIZE;
		uint32_t sig = ld_le32(dsc);
		if (ld_le64(dsc + 24) != seq || ld_le64(dsc + 16) % VHDX_LOG_SECTOR)
			goto invalid;
		if (sig == VHDX_LOG_DESC_SIGNATURE) {
			const uint8_t *ds;
			if ((uint64_t)area + (uint64_t)(n_data + 1) * VHDX_LOG_SECTOR > len)
				goto invalid;
			ds = buf + area + n_data * VHDX_LOG_SECTOR;
			if (ld_le32(ds) != VHDX_LOG_DATA_SIGNATURE || ld_le32(ds + 4) != (uint32_t)(seq >> 32) ||
			    ld_le32(ds + 4092) != (uint32_t)seq)
				goto invalid;
			n_data++;
		} else if (sig == VHDX_LOG_ZERO_SIGNATURE) {
			uint64_t zl = ld_le64(dsc + 8);
			if (zl % VHDX_LOG_SECTOR)
				goto invalid;
		} else {
			goto invalid;
		}
	}
	if (area + (uint64_t)n_data * VHDX_LOG_SECTOR != len)
		goto invalid;
	e->off = off;
	e->len = len;
	e->seq = seq;
	e->n_desc = n_desc;
	e->flushed = ld_le64(buf + 48);
	e->last = ld_le64(buf + 56);
	e->buf = buf;
	return 1;
invalid:
	r = 0;
bad:
	free(buf);
	return r;
}

static int log_entry_apply(struct vhdx *v, const struct log_entry *e)
{
	uint32_t area = desc_area(e->n_desc), n_data = 0;
	uint8_t sector[VHDX_LOG_SECTOR];
	int r;

	for (uint32_t i = 0; i < e->n_desc; i++) {
		const uint8_t *dsc = e->buf + ENTRY_HDR_SIZE + i * DESC_SIZE;
		uint64_t foff = ld_le64(dsc + 16);
		if (ld_le32(dsc) == VHDX_LOG_DESC_SIGNATURE) {
			const uint8_t *ds = e->buf + area + n_data++ * VHDX_LOG_SECTOR;
			memcpy(sector, dsc + 8, 8);          /* leading bytes */
			memcpy(sector + 8, ds + 8, 4084);
			memcpy(sector + 4092, dsc + 4, 4);   /* trailing bytes */
			r = df_pwrite(v->f, sector, sizeof(sector), foff);
		} else {
			uint64_t zl = ld_le64(dsc + 8);
			if (foff > (1ULL << 52) || zl > (1ULL << 52))
				return -EINVAL;
			r = df_zero(v->f, foff, zl);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int vhdx_log_replay(struct vhdx *v, bool apply, bool *ret_replayed, struct disk_diag *diag)
{
	uint64_t best_seq = 0;
	uint32_t best_tail = 0, best_head = 0;
	uint64_t best_flushed = 0, best_last = 0;
	uint32_t tail = 0, old_tail = 0;
	uint64_t budget = 64 * VHDX_MiB + 8ULL * v->log_len, replay_budget = UINT64_MAX;
	bool found = false;
	int r;

	*ret_replayed = false;
	if (guid_is_zero(v->log_guid))
		return 0;
	/* SPEC 2.3.3: scan every 4 KiB position for the newest valid, complete sequence. */
	for (;;) {
		uint32_t cur = tail, head = tail, total = 0, n = 0;
		uint64_t seq = 0;
		struct log_entry e, last = { 0 };
		uint32_t starts[256];
		bool valid = false;

		for (;;) {
			r = log_entry_read(v, cur, &e, &budget);
			if (r == -E2BIG) {
				free(last.buf);
				diag_set(diag, v->log_off, "the log is too damaged to search for its "
					 "newest sequence; the image cannot be opened safely");
				return -EINVAL;
			}
			if (r < 0) {
				free(last.buf);
				return r;
			}
			if (r == 0 || (n && e.seq != seq + 1) || total + e.len > v->log_len) {
				if (r == 1)
					free(e.buf);
				break;
			}
			free(last.buf);
			last = e;
			if (n < ARRAY_SIZE(starts))
				starts[n] = cur;
			n++;
			seq = e.seq;
			total += e.len;
			head = cur;
			cur = (cur + e.len) % v->log_len;
			if (n >= ARRAY_SIZE(starts))
				break;
		}
		if (n) {
			for (uint32_t i = 0; i < n && i < ARRAY_SIZE(starts); i++)
				if (starts[i] == last.tail)
					valid = true;
			if (valid && seq > best_seq) {
				best_seq = seq;
				best_tail = last.tail;
				best_head = head;
				best_flushed = last.flushed;
				best_last = last.last;
				found = true;
			}
			free(last.buf);
		}
		if (!n || !valid) {
			tail += VHDX_LOG_SECTOR;
			if (tail >= v->log_len)
				tail = 0;
		} else {
			tail = cur;
		}
		if (tail <= old_tail)
			break;
		old_tail = tail;
	}
	/*
	 * A log guid with no valid entry: the writer crashed between setting the
	 * guid and writing its first entry. Nothing to replay (as other readers do).
	 */
	if (!found)
		return 0;
	if (!apply) {
		v->log_pending = true;
		return 0;
	}
	{
		uint64_t fsize;
		r = df_size(v->f, &fsize);
		if (r < 0)
			return r;
		if (fsize < best_flushed) {
			diag_set(diag, fsize, "the file was truncated after a crash (log needs %llu bytes, "
				 "file has %llu); it cannot be repaired",
				 (unsigned long long)best_flushed, (unsigned long long)fsize);
			return -EINVAL;
		}
	}
	if (v->f->rdonly) {
		diag_set(diag, v->log_off, "the image was not closed cleanly and its log must be "
			 "replayed; open it writable (e.g. 'openhv disk check --repair')");
		return -EROFS;
	}
	/* Replay tail .. head in order. */
	{
		uint32_t cur = best_tail;
		for (int guard = 0; guard < 256; guard++) {
			struct log_entry e;
			r = log_entry_read(v, cur, &e, &replay_budget);
			if (r <= 0)
				return r < 0 ? r : -EIO;
			r = log_entry_apply(v, &e);
			free(e.buf);
			if (r < 0)
				return r;
			if (cur == best_head)
				break;
			cur = (cur + e.len) % v->log_len;
		}
	}
	{
		uint64_t fsize;
		r = df_size(v->f, &fsize);
		if (r < 0)
			return r;
		if (fsize < best_last && best_last < (1ULL << 52)) {
			r = df_set_size(v->f, best_last);
			if (r < 0)
				return r;
		}
	}
	r = df_flush(v->f);
	if (r < 0)
		return r;
	/* The log is now empty. */
	memset(v->log_guid, 0, 16);
	r = vhdx_write_headers(v);
	if (r < 0)
		return r;
	*ret_replayed = true;
	return 0;
}

/* One dirty sector to log. */
struct pend {
	uint64_t file_off;
	const uint8_t *data;
};

static int log_write_entry(struct vhdx *v, const struct pend *p, uint32_t n)
{
	uint32_t area = desc_area(n), len = area + n * VHDX_LOG_SECTOR;
	uint64_t seq = v->log_seq;
	uint8_t *buf;
	int r;

	if (v->log_head + (uint64_t)len > v->log_len)
		v->log_head = 0;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	st_le32(buf, VHDX_LOG_ENTRY_SIGNATURE);
	st_le32(buf + 8, len);
	st_le32(buf + 12, v->log_head);     /* the entry is its own tail */
	st_le64(buf + 16, seq);
	st_le32(buf + 24, n);
	memcpy(buf + 32, v->log_guid, 16);
	st_le64(buf + 48, v->file_size);
	st_le64(buf + 56, MAX(v->file_size, v->next_free));
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *dsc = buf + ENTRY_HDR_SIZE + i * DESC_SIZE;
		uint8_t *ds = buf + area + i * VHDX_LOG_SECTOR;
		st_le32(dsc, VHDX_LOG_DESC_SIGNATURE);
		memcpy(dsc + 4, p[i].data + 4092, 4);
		memcpy(dsc + 8, p[i].data, 8);
		st_le64(dsc + 16, p[i].file_off);
		st_le64(dsc + 24, seq);
		st_le32(ds, VHDX_LOG_DATA_SIGNATURE);
		st_le32(ds + 4, (uint32_t)(seq >> 32));
		memcpy(ds + 8, p[i].data + 8, 4084);
		st_le32(ds + 4092, (uint32_t)seq);
	}
	st_le32(buf + 4, crc32c(0, buf, len));
	r = df_pwrite(v->f, buf, len, v->log_off + v->log_head);
	free(buf);
	if (r < 0)
		return r;
	r = df_flush(v->f);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < n; i++) {
		r = df_pwrite(v->f, p[i].data, VHDX_LOG_SECTOR, p[i].file_off);
		if (r < 0)
			return r;
	}
	v->log_seq++;
	v->log_head += len;
	if (v->log_head >= v->log_len)
		v->log_head = 0;
	return 0;
}

static uint32_t max_per_entry(const struct vhdx *v)
{
	uint32_t n = (v->log_len / VHDX_LOG_SECTOR) - 1;

	while (n > 1 && desc_area(n) + (uint64_t)n * VHDX_LOG_SECTOR > v->log_len)
		n--;
	return MIN(n, 240u);
}

int vhdx_log_commit(struct vhdx *v)
{
	uint32_t max = max_per_entry(v), n = 0;
	struct pend *p;
	uint8_t (*bat_sec)[VHDX_LOG_SECTOR] = NULL;
	uint64_t n_bat = 0;
	size_t total = v->n_dirty + v->n_extra;
	int r;

	for (uint64_t c = 0; c < v->sb_count; c++)
		if (v->sb[c].bits)
			for (int pg = 0; pg < 256; pg++)
				total += v->sb[c].dirty[pg];
	if (!total)
		return 0;
	r = vhdx_start_session(v);
	if (r < 0)
		return r;
	/* Payload and earlier in-place metadata first. */
	r = df_flush(v->f);
	if (r < 0)
		return r;
	r = df_size(v->f, &v->file_size);
	if (r < 0)
		return r;
	p = calloc(total, sizeof(*p));
	bat_sec = calloc(v->n_dirty ? v->n_dirty : 1, VHDX_LOG_SECTOR);
	if (!p || !bat_sec) {
		r = -ENOMEM;
		goto out;
	}
	for (uint64_t s = 0; s < (v->bat_alloc + 511) / 512 && n_bat < v->n_dirty; s++) {
		if (!v->bat_dirty[s])
			continue;
		for (uint64_t i = 0; i < 512; i++) {
			uint64_t idx = s * 512 + i;
			st_le64(bat_sec[n_bat] + i * 8, idx < v->bat_alloc ? v->bat[idx] : 0);
		}
		p[n].file_off = v->bat_off + s * VHDX_LOG_SECTOR;
		p[n].data = bat_sec[n_bat];
		n++;
		n_bat++;
	}
	for (uint64_t c = 0; c < v->sb_count; c++) {
		uint64_t e;
		/* Bitmaps exist only in differencing images, whose BAT has every entry. */
		if (!v->sb[c].bits || vhdx_sb_index(v, c) >= v->bat_alloc)
			continue;
		e = v->bat[vhdx_sb_index(v, c)];
		for (int pg = 0; pg < 256; pg++) {
			if (!v->sb[c].dirty[pg])
				continue;
			p[n].file_off = vhdx_off(e) + (uint64_t)pg * VHDX_LOG_SECTOR;
			p[n].data = v->sb[c].bits + pg * VHDX_LOG_SECTOR;
			n++;
		}
	}
	for (size_t i = 0; i < v->n_extra; i++) {
		p[n].file_off = v->extra[i].file_off;
		p[n].data = v->extra[i].data;
		n++;
	}
	for (uint32_t i = 0; i < n; i += max) {
		if (i) {
			/* The previous entry's in-place writes must be durable first. */
			r = df_flush(v->f);
			if (r < 0)
				goto out;
		}
		r = log_write_entry(v, p + i, MIN(max, n - i));
		if (r < 0)
			goto out;
	}
	memset(v->bat_dirty, 0, (v->bat_alloc + 511) / 512);
	v->n_dirty = 0;
	for (uint64_t c = 0; c < v->sb_count; c++)
		memset(v->sb[c].dirty, 0, sizeof(v->sb[c].dirty));
	free(v->extra);
	v->extra = NULL;
	v->n_extra = 0;
out:
	free(p);
	free(bat_sec);
	return r;
}
