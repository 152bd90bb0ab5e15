/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: the one module that owns guest RAM and the only way other
 * code touches it. All accessors check the whole [gpa, gpa+len) range against
 * the region map (never only the start) and fail with -EFAULT outside it.
 * No KVM here: the partition layer registers the regions with KVM, and tests
 * build a gm over plain malloc'd buffers (gm_new + gm_add_region).
 *
 * SECURITY: guest memory can change under us at any time. Callers read each
 * shared field once (gm_read_u32/u64 are single loads) and validate the copy.
 *
 * Thread safety: the region map is fixed after set-up; accessors may be called
 * from any thread without locks.
 */
#ifndef OPENHV_GM_H
#define OPENHV_GM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t gpa_t;
typedef uint64_t gpn_t;

#define GM_PAGE_SIZE 4096ULL
#define GM_PAGE_SHIFT 12
#define GM_MAX_REGIONS 8

static inline gpa_t gpn_to_gpa(gpn_t gpn)
{
	return gpn << GM_PAGE_SHIFT;
}

static inline gpn_t gpa_to_gpn(gpa_t gpa)
{
	return gpa >> GM_PAGE_SHIFT;
}

struct gm_region {
	gpa_t gpa;     /* first guest-physical address */
	uint64_t len;  /* bytes */
	uint8_t *hva;  /* host mapping of gpa */
};

struct gm {
	unsigned int n_regions;
	struct gm_region regions[GM_MAX_REGIONS];
	uint64_t ram_bytes;   /* sum of region lengths */
	void *reserve;        /* mmap reservation incl. guard pages (NULL for fakes) */
	size_t reserve_len;
};

/* An empty map, for tests and fakes. NULL on allocation failure. */
struct gm *gm_new(void);

/* Add a region backed by caller-owned memory. -EINVAL on overlap or misalignment. */
int gm_add_region(struct gm *gm, gpa_t gpa, void *hva, uint64_t len);

/*
 * Reserve and map guest RAM of ram_bytes following the PC layout: up to
 * low_limit below 4 GiB, the rest from 4 GiB up. The mapping is anonymous,
 * MAP_NORESERVE, excluded from core dumps, with PROT_NONE guard areas on both
 * sides of each region.
 */
int gm_create_ram(uint64_t ram_bytes, uint64_t low_limit, struct gm **ret_gm);

void gm_destroy(struct gm *gm);

/* Host pointer to [gpa, gpa+len) if it lies inside one region, else NULL. */
void *gm_ptr(const struct gm *gm, gpa_t gpa, uint64_t len);

/* True if [gpa, gpa+len) is guest RAM (inside one region). */
bool gm_is_ram(const struct gm *gm, gpa_t gpa, uint64_t len);

/* Copies; the range may span regions only where they are contiguous. 0 or -EFAULT. */
int gm_read(const struct gm *gm, gpa_t gpa, void *buf, size_t len);
int gm_write(const struct gm *gm, gpa_t gpa, const void *buf, size_t len);
int gm_fill(const struct gm *gm, gpa_t gpa, int byte, size_t len);

/* Single, naturally aligned loads and stores (no tearing). -EFAULT or -EINVAL (misaligned). */
int gm_read_u32(const struct gm *gm, gpa_t gpa, uint32_t *ret);
int gm_read_u64(const struct gm *gm, gpa_t gpa, uint64_t *ret);
int gm_write_u32(const struct gm *gm, gpa_t gpa, uint32_t val);
int gm_write_u64(const struct gm *gm, gpa_t gpa, uint64_t val);

#endif
