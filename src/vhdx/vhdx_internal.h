/* SPDX-License-Identifier: MIT */
/*
 * VHDX driver state shared by vhdx.c (open, metadata, I/O), vhdx_log.c (log
 * write and replay) and vhdx_ops.c (create, check, resize, compact).
 */
#ifndef OPENHV_VHDX_INTERNAL_H
#define OPENHV_VHDX_INTERNAL_H

#include "vhdx/disk_internal.h"
#include "vhdx/vhdx_format.h"

/* A 4 KiB metadata sector waiting to go through the log (region table, metadata items). */
struct vhdx_extra {
	uint64_t file_off;
	uint8_t data[4096];
};

struct vhdx_sb {                 /* cached sector bitmap block of one chunk */
	uint8_t *bits;               /* 1 MiB */
	uint8_t dirty[256];          /* one flag per 4 KiB page */
};

struct vhdx {
	struct disk *d;
	struct disk_file *f;

	/* Current header (decoded) and which 64 KiB slot holds it. */
	int hdr_slot;
	uint64_t hdr_seq;
	uint8_t file_write_guid[16], data_write_guid[16], log_guid[16];
	uint64_t log_off;
	uint32_t log_len;
	bool hdr_damaged;            /* one header copy failed validation */

	/* Regions. */
	uint8_t *region;             /* 64 KiB copy of the region table */
	bool region_damaged;
	uint64_t bat_off, bat_len;
	uint64_t meta_off, meta_len;

	/* Metadata. */
	uint32_t block_size, lss, pss;
	uint64_t size;
	bool leave_allocated, has_parent;
	uint8_t page83[16];
	uint32_t size_item_off;      /* of the virtual disk size item, in the metadata region */
	char loc_relative[1024], loc_absolute[1024], loc_volume[1024];
	uint8_t parent_link[16], parent_link2[16];
	bool has_link, has_link2;

	/* BAT, in memory (native), with per-4 KiB-sector dirty flags. */
	uint32_t chunk_ratio;
	uint64_t data_blocks, bat_entries, bat_alloc;
	uint64_t *bat;
	uint8_t *bat_dirty;
	uint64_t n_dirty;
	struct vhdx_sb *sb;          /* [sb_count], loaded on demand */
	uint64_t sb_count;
	struct vhdx_extra *extra;
	size_t n_extra;

	/* Allocation and session state. */
	uint64_t file_size;          /* as last known (grows with allocations) */
	uint64_t next_free;          /* next 1 MiB aligned free offset at the end */
	bool session_started;        /* headers rewritten with new write guids + log guid */
	uint64_t log_seq;            /* sequence number of the next log entry */
	uint32_t log_head;           /* log offset of the next log entry */
	bool log_replayed, log_pending;
};

#define VHDX(d) ((struct vhdx *)(d)->priv)

static inline uint64_t vhdx_bat_index(const struct vhdx *v, uint64_t block)
{
	return block + block / v->chunk_ratio;
}
static inline uint64_t vhdx_sb_index(const struct vhdx *v, uint64_t chunk)
{
	return chunk * (v->chunk_ratio + 1) + v->chunk_ratio;
}
static inline unsigned vhdx_state(uint64_t e)
{
	return (unsigned)(e & VHDX_BAT_STATE_MASK);
}
static inline uint64_t vhdx_off(uint64_t e)
{
	return (e >> VHDX_BAT_OFFSET_SHIFT) << 20;
}
static inline uint64_t vhdx_entry(unsigned state, uint64_t off)
{
	return (uint64_t)state | ((off >> 20) << VHDX_BAT_OFFSET_SHIFT);
}

/* vhdx.c */
void vhdx_bat_set(struct vhdx *v, uint64_t idx, uint64_t entry);
int vhdx_start_session(struct vhdx *v) MUST_CHECK;
int vhdx_write_headers(struct vhdx *v) MUST_CHECK;
int vhdx_sb_load(struct vhdx *v, uint64_t chunk, bool create) MUST_CHECK;
int vhdx_add_extra(struct vhdx *v, uint64_t file_off, const void *data4k) MUST_CHECK;
/* The format's well-known GUIDs (regions, metadata items, locator type), defined in vhdx.c. */
extern const uint8_t vhdx_guid_bat[16], vhdx_guid_meta[16], vhdx_guid_params[16],
	vhdx_guid_vsize[16], vhdx_guid_page83[16], vhdx_guid_lss[16], vhdx_guid_pss[16],
	vhdx_guid_locator[16], vhdx_guid_loc_vhdx[16];

void vhdx_compute_geometry(uint64_t size, uint32_t block_size, uint32_t lss, bool diff,
			   uint32_t *ret_chunk_ratio, uint64_t *ret_data_blocks,
			   uint64_t *ret_bat_entries);
int vhdx_read_meta_item(struct vhdx *v, uint32_t off, void *buf, uint32_t len) MUST_CHECK;

/* vhdx_log.c */
/* Replays the active log sequence (or reports one is pending when !apply). */
int vhdx_log_replay(struct vhdx *v, bool apply, bool *ret_replayed,
		    struct disk_diag *diag) MUST_CHECK;
/* Commits dirty BAT / bitmap / extra sectors through the log. */
int vhdx_log_commit(struct vhdx *v) MUST_CHECK;

#endif
