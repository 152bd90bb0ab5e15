/* SPDX-License-Identifier: MIT */
/*
 * Checksum and segmentation offload helpers for netvsp: the bridge between
 * the guest's RNDIS per-packet info (checksum and LSOv2 PPIs, hv_netvsc's
 * view) and the virtio-net header a Linux TAP with IFF_VNET_HDR speaks
 * (the host kernel's view), plus user-space TCP segmentation and checksum
 * completion for large frames coming from the host.
 *
 * Pure functions over byte buffers; no I/O, no state. Frames from the guest
 * are hostile and frames from the TAP are checked too: every offset and
 * length is validated against the frame before it is used.
 */
#ifndef OPENHV_NETVSP_OFFLOAD_H
#define OPENHV_NETVSP_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "vsp/netvsp/rndis.h"

/* struct virtio_net_hdr (legacy 10-byte form) as a TAP with IFF_VNET_HDR
 * reads and writes it; little-endian (x86 hosts; TUNSETVNETLE not needed). */
struct netvsp_vnet_hdr_wire {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;     /* Ethernet + IP + TCP header bytes of a GSO frame */
	uint16_t gso_size;    /* MSS */
	uint16_t csum_start;  /* from the frame start */
	uint16_t csum_offset; /* from csum_start */
};
_Static_assert(sizeof(struct netvsp_vnet_hdr_wire) == 10, "virtio_net_hdr");

#define VNET_F_NEEDS_CSUM 1u
#define VNET_F_DATA_VALID 2u
#define VNET_GSO_NONE 0u
#define VNET_GSO_TCPV4 1u
#define VNET_GSO_UDP 3u
#define VNET_GSO_TCPV6 4u
#define VNET_GSO_ECN 0x80u

/* Largest frame with offloads, either direction (64 KiB GSO + L2 header). */
#define OFFLOAD_MAX_FRAME (65535u + 18u)

/* Ones' complement sum helpers (native byte order, Linux's convention). */
uint64_t offload_csum_add(uint64_t sum, const void *p, uint32_t len);
uint16_t offload_csum_fold(uint64_t sum);

/*
 * Guest TX: the checksum/LSO PPIs of ti for frame[0..len) become *ret; for
 * LSO the headers Linux leaves to the host are fixed in place (IPv4 total
 * length and header checksum, IPv6 payload length, the length part of the
 * TCP pseudo-header sum). l2_shift is 4 when the VSP inserted an 802.1Q tag
 * in front of the guest's Ethernet type (PPI offsets count without it).
 * mtu bounds the segments. 0, or -EPROTO for a PPI that does not match the
 * frame (drop it).
 */
int offload_tx_prepare(uint8_t *frame, uint32_t len, uint32_t l2_shift, uint32_t mtu,
		       const struct rndis_tx_info *ti, struct netvsp_vnet_hdr_wire *ret);

/* Host RX: what the virtio-net header says about a frame from the TAP. */
struct offload_rx {
	bool csum_ok;         /* the L4 checksum is known good (guest need not verify) */
	uint32_t nseg;        /* 1, or the number of MTU frames a GSO frame makes */
	/* GSO layout (nseg > 1) */
	uint32_t l3_off, l4_off, hdr_len, mss, payload;
	bool ipv6;
};

/*
 * Validate h against frame[0..len): a NEEDS_CSUM frame gets its checksum
 * completed in place; a GSO TCP frame is checked for segmentation into
 * MSS-sized frames (offload_rx_segment). 0, or -EPROTO (drop the frame).
 */
int offload_rx_prepare(uint8_t *frame, uint32_t len, const struct netvsp_vnet_hdr_wire *h,
		       struct offload_rx *ret);

/* Build segment idx (< rx->nseg) of a prepared GSO frame into out (room for
 * rx->hdr_len + rx->mss bytes), with full IPv4/TCP checksums. Returns its length. */
uint32_t offload_rx_segment(const uint8_t *frame, const struct offload_rx *rx, uint32_t idx,
			    uint8_t *out);

/* The receive checksum PPI value (RNDIS_CSUM_RX_*) for a frame whose L4
 * checksum is good: TCP/UDP over IPv4/IPv6 (VLAN tag allowed); 0 for
 * anything else (no PPI). */
uint32_t offload_rx_csum_info(const uint8_t *frame, uint32_t len);

#endif
