// SPDX-License-Identifier: MIT
#include "gm/gm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/util.h"

/* Guard area left PROT_NONE around each RAM region in the host mapping. */
#define GM_GUARD (2 * MiB)

struct gm *gm_new(void)
{
	return calloc(1, sizeof(struct gm));
}

int gm_add_region(struct gm *gm, gpa_t gpa, void *hva, uint64_t len)
{
	if (gm->n_regions >= GM_MAX_REGIONS || !len || (gpa | len) & (GM_PAGE_SIZE - 1) ||
	    gpa + len < gpa)
		return -EINVAL;
	for (unsigned int i = 0; i < gm->n_regions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa < r->gpa + r->len && r->gpa < gpa + len)
			return -EINVAL;
	}
	gm->regions[gm->n_regions++] = (struct gm_region){ .gpa = gpa, .len = len, .hva = hva };
	gm->ram_bytes += len;
	return 0;
}

int gm_create_ram(uint64_t ram_bytes, uint64_t low_limit, struct gm **ret_gm)
{
	uint64_t low, high, total;
	struct gm *gm;
	uint8_t *base;
	int r;

	if (!ram_bytes || ram_bytes & (GM_PAGE_SIZE - 1) || low_limit & (GM_PAGE_SIZE - 1))
		return -EINVAL;
	low = MIN(ram_bytes, low_limit);
	high = ram_bytes - low;
	/* guard | low | guard | high | guard */
	total = GM_GUARD + low + GM_GUARD + (high ? high + GM_GUARD : 0);
	gm = gm_new();
	if (!gm)
		return -ENOMEM;
	base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		r = -errno;
		goto err_free;
	}
	gm->reserve = base;
	gm->reserve_len = total;
	if (mprotect(base + GM_GUARD, low, PROT_READ | PROT_WRITE) < 0 ||
	    (high && mprotect(base + 2 * GM_GUARD + low, high, PROT_READ | PROT_WRITE) < 0)) {
		r = -errno;
		goto err_unmap;
	}
	madvise(base, total, MADV_DONTDUMP);
	/* PERF: transparent huge pages cut TLB and EPT/NPT walk costs for guest RAM. */
	madvise(base + GM_GUARD, low, MADV_HUGEPAGE);
	r = gm_add_region(gm, 0, base + GM_GUARD, low);
	if (!r && high) {
		madvise(base + 2 * GM_GUARD + low, high, MADV_HUGEPAGE);
		r = gm_add_region(gm, 4 * GiB, base + 2 * GM_GUARD + low, high);
	}
	if (r)
		goto err_unmap;
	*ret_gm = gm;
	return 0;
err_unmap:
	munmap(base, total);
err_free:
	free(gm);
	return r;
}

void gm_destroy(struct gm *gm)
{
	if (!gm)
		return;
	if (gm->reserve)
		munmap(gm->reserve, gm->reserve_len);
	free(gm);
}

static const struct gm_region *gm_find(const struct gm *gm, gpa_t gpa)
{
	for (unsigned int i = 0; i < gm->n_regions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->len)
			return r;
	}
	return NULL;
}

void *gm_ptr(const struct gm *gm, gpa_t gpa, uint64_t len)
{
	const struct gm_region *r = gm_find(gm, gpa);

	if (!r || !range_ok(gpa - r->gpa, len, r->len))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

bool gm_is_ram(const struct gm *gm, gpa_t gpa, uint64_t len)
{
	return gm_ptr(gm, gpa, len) != NULL;
}

/* Walk [gpa, gpa+len) region by region; fails if any byte is not RAM. */
static int gm_copy(const struct gm *gm, gpa_t gpa, void *buf, const void *src, int fill,
		   size_t len)
{
	size_t done = 0;

	while (done < len) {
		const struct gm_region *r = gm_find(gm, gpa + done);
		uint64_t off, chunk;

		if (!r || gpa + done < gpa)
			return -EFAULT;
		off = gpa + done - r->gpa;
		chunk = MIN(r->len - off, (uint64_t)(len - done));
		if (buf)
			memcpy((uint8_t *)buf + done, r->hva + off, chunk);
		else if (src)
			memcpy(r->hva + off, (const uint8_t *)src + done, chunk);
		else
			memset(r->hva + off, fill, chunk);
		done += chunk;
	}
	return 0;
}

int gm_read(const struct gm *gm, gpa_t gpa, void *buf, size_t len)
{
	return gm_copy(gm, gpa, buf, NULL, 0, len);
}

int gm_write(const struct gm *gm, gpa_t gpa, const void *buf, size_t len)
{
	return gm_copy(gm, gpa, NULL, buf, 0, len);
}

int gm_fill(const struct gm *gm, gpa_t gpa, int byte, size_t len)
{
	return gm_copy(gm, gpa, NULL, NULL, byte, len);
}

#define GM_ACCESSOR(bits)                                                              \
	int gm_read_u##bits(const struct gm *gm, gpa_t gpa, uint##bits##_t *ret)      \
	{                                                                              \
		uint##bits##_t *p;                                                     \
		if (gpa & (bits / 8 - 1))                                              \
			return -EINVAL;                                                \
		p = gm_ptr(gm, gpa, bits / 8);                                         \
		if (!p)                                                                \
			return -EFAULT;                                                \
		*ret = __atomic_load_n(p, __ATOMIC_ACQUIRE);                           \
		return 0;                                                              \
	}                                                                              \
	int gm_write_u##bits(const struct gm *gm, gpa_t gpa, uint##bits##_t val)      \
	{                                                                              \
		uint##bits##_t *p;                                                     \
		if (gpa & (bits / 8 - 1))                                              \
			return -EINVAL;                                                \
		p = gm_ptr(gm, gpa, bits / 8);                                         \
		if (!p)                                                                \
			return -EFAULT;                                                \
		__atomic_store_n(p, val, __ATOMIC_RELEASE);                            \
		return 0;                                                              \
	}

GM_ACCESSOR(32)
GM_ACCESSOR(64)
