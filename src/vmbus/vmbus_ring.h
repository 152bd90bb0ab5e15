/* SPDX-License-Identifier: MIT */
/*
 * One VMBus ring buffer (one direction of a channel) over guest pages:
 * packet copy-out for the host as consumer (guest->host ring) and packet
 * write-in for the host as producer (host->guest ring), with the signalling
 * rules of hyperv-guest-interface.md §4.4.
 *
 * The ring's pages come from a GPADL and need not be contiguous in guest
 * physical memory; their host addresses are resolved once when the ring is
 * set up (the memory layout is fixed while the channel is open). The indices
 * the host owns are kept privately and only published to the guest; the
 * guest's index is read once per operation and validated.
 *
 * Not thread-safe: the caller serialises access (the server lock).
 */
#ifndef OPENHV_VMBUS_RING_H
#define OPENHV_VMBUS_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "base/util.h"
#include "gm/gm.h"
#include "vmbus/vmbus.h"
#include "vmbus/vmbus_proto.h"

/* Largest guest->host packet we copy out (descriptor included). */
#define VMBUS_RING_MAX_PKT (64u * 1024u)

struct vmbus_ring {
	struct vmbus_ring_hdr_wire *hdr; /* guest memory */
	uint8_t **pages;                 /* host address of each data page */
	uint32_t size;                   /* data bytes (pages * 4096) */
	uint32_t index;                  /* our read index (consumer) or write index (producer) */
	bool producer;
};

/*
 * Set up a ring from npages guest page numbers (the first is the header
 * page). producer = the host writes this ring. The guest's initial index of
 * our side is taken from the header and validated. 0, -EINVAL (fewer than 2
 * pages, bad initial index), -EFAULT (a page is not RAM), -ENOMEM.
 */
int vmbus_ring_init(struct vmbus_ring *ring, const struct gm *gm, const uint64_t *pfns,
		    uint32_t npages, bool producer) MUST_CHECK;
void vmbus_ring_destroy(struct vmbus_ring *ring);

/*
 * Consumer: copy the next packet into buf (bufsize bytes) and advance the
 * read index. *ret_signal is set when the guest producer asked for a signal
 * (its pending_send_sz was crossed). Returns 0, -EAGAIN (empty), -EPROTO
 * (corrupt indices or descriptor), -EMSGSIZE (larger than bufsize).
 */
int vmbus_ring_read(struct vmbus_ring *ring, uint8_t *buf, uint32_t bufsize,
		    struct vmbus_pkt *ret_pkt, bool *ret_signal) MUST_CHECK;

/* Bytes available to read (0 when empty or corrupt). */
uint32_t vmbus_ring_avail(const struct vmbus_ring *ring);
/* Producer: bytes written and not yet read by the guest (0 when corrupt). */
uint32_t vmbus_ring_unread(const struct vmbus_ring *ring);

/*
 * Producer: write descriptor + payload + padding + trailer and publish the
 * new write index. *ret_signal is set when the guest's interrupt_mask is 0.
 * When the packet does not fit, pending_send_sz is set to its size and
 * -EAGAIN returned. -EPROTO when the guest's read index is corrupt.
 */
int vmbus_ring_write(struct vmbus_ring *ring, uint16_t type, uint16_t flags, uint64_t trans_id,
		     const void *payload, uint32_t len, bool *ret_signal) MUST_CHECK;

/* Same, with a type-specific header of hdr_len bytes (a multiple of 8) at
 * the start of payload: offset8 then points past it (transfer-page packets). */
int vmbus_ring_write_hdr(struct vmbus_ring *ring, uint16_t type, uint16_t flags,
			 uint64_t trans_id, uint32_t hdr_len, const void *payload, uint32_t len,
			 bool *ret_signal) MUST_CHECK;
/* Producer: true when the consumer has not masked its interrupt (after a full fence). */
bool vmbus_ring_consumer_unmasked(const struct vmbus_ring *ring);
/* Producer: true (and pending_send_sz cleared) if `needed` bytes now fit. */
bool vmbus_ring_writable(struct vmbus_ring *ring, uint32_t needed);

/* Size a packet with this payload occupies in the ring (trailer included). */
static inline uint32_t vmbus_ring_pkt_bytes(uint32_t payload_len)
{
	return (uint32_t)ALIGN_UP(sizeof(struct vmbus_pkt_desc_wire) + (uint64_t)payload_len, 8) +
	       VMBUS_PKT_TRAILER_BYTES;
}

#endif
