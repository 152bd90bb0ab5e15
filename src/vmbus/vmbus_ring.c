// SPDX-License-Identifier: MIT
/*
 * VMBus ring buffer access (see vmbus_ring.h). SPEC: reference §4.2-4.4.
 * SECURITY: indices from the guest are read once, checked against the ring
 * size and 8-byte alignment; the descriptor is copied once and every length
 * is checked against the bytes actually available before anything is used.
 */
#include "vmbus/vmbus_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t load_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_u32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static bool index_ok(const struct vmbus_ring *ring, uint32_t idx)
{
	return idx < ring->size && !(idx & 7);
}

/* Bytes between a read index and a write index. */
static uint32_t ring_used(const struct vmbus_ring *ring, uint32_t rd, uint32_t wr)
{
	return wr >= rd ? wr - rd : ring->size - rd + wr;
}

/* Copy out of the data area at `off` (< size), wrapping at the end. */
static void ring_copy_out(const struct vmbus_ring *ring, uint32_t off, void *buf, uint32_t len)
{
	uint8_t *dst = buf;

	while (len) {
		uint32_t in_page = off & (GM_PAGE_SIZE - 1);
		uint32_t chunk = MIN(len, (uint32_t)GM_PAGE_SIZE - in_page);

		memcpy(dst, ring->pages[off / GM_PAGE_SIZE] + in_page, chunk);
		dst += chunk;
		len -= chunk;
		off += chunk;
		if (off == ring->size)
			off = 0;
	}
}

static void ring_copy_in(struct vmbus_ring *ring, uint32_t off, const void *buf, uint32_t len)
{
	const uint8_t *src = buf;

	while (len) {
		uint32_t in_page = off & (GM_PAGE_SIZE - 1);
		uint32_t chunk = MIN(len, (uint32_t)GM_PAGE_SIZE - in_page);

		if (src) {
			memcpy(ring->pages[off / GM_PAGE_SIZE] + in_page, src, chunk);
			src += chunk;
		} else {
			memset(ring->pages[off / GM_PAGE_SIZE] + in_page, 0, chunk);
		}
		len -= chunk;
		off += chunk;
		if (off == ring->size)
			off = 0;
	}
}

static uint32_t ring_add(const struct vmbus_ring *ring, uint32_t off, uint32_t n)
{
	/* off < size and n <= size, so this cannot overflow 2^32 for size < 2^31. */
	off += n;
	return off >= ring->size ? off - ring->size : off;
}

int vmbus_ring_init(struct vmbus_ring *ring, const struct gm *gm, const uint64_t *pfns,
		    uint32_t npages, bool producer)
{
	uint32_t idx;

	memset(ring, 0, sizeof(*ring));
	if (npages < 2 || npages - 1 > (1u << 19)) /* data area < 2 GiB */
		return -EINVAL;
	ring->hdr = gm_ptr(gm, gpn_to_gpa(pfns[0]), GM_PAGE_SIZE);
	if (!ring->hdr)
		return -EFAULT;
	ring->pages = calloc(npages - 1, sizeof(*ring->pages));
	if (!ring->pages)
		return -ENOMEM;
	for (uint32_t i = 1; i < npages; i++) {
		ring->pages[i - 1] = gm_ptr(gm, gpn_to_gpa(pfns[i]), GM_PAGE_SIZE);
		if (!ring->pages[i - 1]) {
			vmbus_ring_destroy(ring);
			return -EFAULT;
		}
	}
	ring->size = (npages - 1) * (uint32_t)GM_PAGE_SIZE;
	ring->producer = producer;
	idx = load_u32(producer ? &ring->hdr->write_index : &ring->hdr->read_index);
	if (!index_ok(ring, idx)) {
		vmbus_ring_destroy(ring);
		return -EINVAL;
	}
	ring->index = idx;
	return 0;
}

void vmbus_ring_destroy(struct vmbus_ring *ring)
{
	free(ring->pages);
	memset(ring, 0, sizeof(*ring));
}

uint32_t vmbus_ring_avail(const struct vmbus_ring *ring)
{
	uint32_t wr = load_u32(&ring->hdr->write_index);

	if (!index_ok(ring, wr))
		return 0;
	return ring_used(ring, ring->index, wr);
}

uint32_t vmbus_ring_unread(const struct vmbus_ring *ring)
{
	uint32_t rd = load_u32(&ring->hdr->read_index);

	if (!index_ok(ring, rd))
		return 0;
	return ring_used(ring, rd, ring->index);
}

int vmbus_ring_read(struct vmbus_ring *ring, uint8_t *buf, uint32_t bufsize,
		    struct vmbus_pkt *ret_pkt, bool *ret_signal)
{
	struct vmbus_pkt_desc_wire desc;
	uint32_t wr, rd = ring->index, avail, len, off, total, pending;

	*ret_signal = false;
	wr = load_u32(&ring->hdr->write_index); /* SECURITY: read once */
	if (!index_ok(ring, wr))
		return -EPROTO;
	avail = ring_used(ring, rd, wr);
	if (!avail)
		return -EAGAIN;
	if (avail < sizeof(desc) + VMBUS_PKT_TRAILER_BYTES)
		return -EPROTO;
	ring_copy_out(ring, rd, &desc, sizeof(desc));
	len = (uint32_t)desc.len8 * 8;
	off = (uint32_t)desc.offset8 * 8;
	if (len < sizeof(desc) || off < sizeof(desc) || off > len)
		return -EPROTO;
	total = len + VMBUS_PKT_TRAILER_BYTES;
	if (total > avail)
		return -EPROTO;
	if (len > bufsize)
		return -EMSGSIZE;
	/* The descriptor we validated is the one the VSP sees (no second fetch). */
	memcpy(buf, &desc, sizeof(desc));
	ring_copy_out(ring, ring_add(ring, rd, sizeof(desc)), buf + sizeof(desc),
		      len - (uint32_t)sizeof(desc));
	ring->index = ring_add(ring, rd, total);
	/* Publish the new read index before looking at the producer's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	store_u32(&ring->hdr->read_index, ring->index);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pending = load_u32(&ring->hdr->pending_send_sz);
	if (pending) {
		/*
		 * SPEC: signal when free space crosses pending_send_sz upwards.
		 * Free space is measured against a fresh write index: the
		 * producer may have written (and then blocked) since we looked,
		 * and a stale value would hide the crossing (lost wake-up).
		 */
		uint32_t wr_now = load_u32(&ring->hdr->write_index);
		if (index_ok(ring, wr_now)) {
			uint32_t free_after = ring->size - ring_used(ring, ring->index, wr_now);
			if (free_after > pending && free_after - total <= pending)
				*ret_signal = true;
		}
	}
	*ret_pkt = (struct vmbus_pkt){
		.type = desc.type, .flags = desc.flags, .trans_id = desc.trans_id,
		.data = buf, .len = len, .payload = buf + off, .payload_len = len - off,
	};
	return 0;
}

/* Free bytes for the producer, or -EPROTO if the guest's read index is bad. */
static int64_t ring_free(const struct vmbus_ring *ring)
{
	uint32_t rd = load_u32(&ring->hdr->read_index);

	if (!index_ok(ring, rd))
		return -EPROTO;
	return (int64_t)ring->size - ring_used(ring, rd, ring->index);
}

bool vmbus_ring_consumer_unmasked(const struct vmbus_ring *ring)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load_u32(&ring->hdr->interrupt_mask) == 0;
}

bool vmbus_ring_writable(struct vmbus_ring *ring, uint32_t needed)
{
	int64_t fr = ring_free(ring);

	if (fr < 0 || fr <= (int64_t)needed)
		return false;
	store_u32(&ring->hdr->pending_send_sz, 0);
	return true;
}

int vmbus_ring_write(struct vmbus_ring *ring, uint16_t type, uint16_t flags, uint64_t trans_id,
		     const void *payload, uint32_t len, bool *ret_signal)
{
	return vmbus_ring_write_hdr(ring, type, flags, trans_id, 0, payload, len, ret_signal);
}

int vmbus_ring_write_hdr(struct vmbus_ring *ring, uint16_t type, uint16_t flags,
			 uint64_t trans_id, uint32_t hdr_len, const void *payload, uint32_t len,
			 bool *ret_signal)
{
	struct vmbus_pkt_desc_wire desc;
	uint32_t pkt_len, total, old = ring->index;
	uint64_t trailer = (uint64_t)old << 32;
	int64_t fr;

	*ret_signal = false;
	if ((uint64_t)len > ring->size || hdr_len % 8 || hdr_len > len)
		return -EMSGSIZE;
	total = vmbus_ring_pkt_bytes(len);
	pkt_len = total - VMBUS_PKT_TRAILER_BYTES;
	if (pkt_len / 8 > 0xFFFF)
		return -EMSGSIZE;
	fr = ring_free(ring);
	if (fr < 0)
		return -EPROTO;
	/* Never fill the ring completely: equal indices mean "empty". */
	if (fr <= (int64_t)total) {
		store_u32(&ring->hdr->pending_send_sz, total);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		fr = ring_free(ring); /* the guest may have read meanwhile */
		if (fr < 0)
			return -EPROTO;
		if (fr <= (int64_t)total)
			return -EAGAIN;
		store_u32(&ring->hdr->pending_send_sz, 0);
	}
	desc = (struct vmbus_pkt_desc_wire){
		.type = type, .offset8 = (uint16_t)((sizeof(desc) + hdr_len) / 8),
		.len8 = (uint16_t)(pkt_len / 8), .flags = flags, .trans_id = trans_id,
	};
	ring_copy_in(ring, old, &desc, sizeof(desc));
	ring_copy_in(ring, ring_add(ring, old, sizeof(desc)), payload, len);
	ring_copy_in(ring, ring_add(ring, old, (uint32_t)sizeof(desc) + len), NULL,
		     pkt_len - (uint32_t)sizeof(desc) - len);
	ring_copy_in(ring, ring_add(ring, old, pkt_len), &trailer, sizeof(trailer));
	ring->index = ring_add(ring, old, total);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store_u32(&ring->hdr->write_index, ring->index);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/*
	 * SPEC: interrupt only if the consumer has not masked it. We do not
	 * restrict this to the empty->non-empty transition: some 6.1 hv_utils
	 * callbacks read one packet per interrupt, so each packet gets one.
	 */
	if (load_u32(&ring->hdr->interrupt_mask) == 0)
		*ret_signal = true;
	return 0;
}
