/* SPDX-License-Identifier: MIT */
/*
 * The RNDIS device a netvsp NIC presents: answers the control messages
 * (INIT, QUERY, SET, RESET, KEEPALIVE, HALT) with every OID the Linux 6.1
 * netvsc driver uses, parses guest data packets (PACKET with its per-packet
 * info) and builds the host's packet and status-indication messages.
 *
 * Pure state machine over byte buffers: no VMBus, no I/O, no locking (the
 * caller serialises). Every input is guest-controlled and checked; offsets
 * and lengths are read once into locals.
 */
#ifndef OPENHV_RNDIS_H
#define OPENHV_RNDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "vsp/netvsp/rndis_proto.h"
#include "vsp/netvsp/rss.h"

/* Largest control response we build (the guest accepts up to 4096 + 8 + 32). */
#define RNDIS_RESP_MAX 512u
/* Bytes in front of the frame in a host->guest PACKET message. */
#define RNDIS_RX_HDR_LEN (sizeof(struct rndis_hdr_wire) + sizeof(struct rndis_packet_wire))
/* Same with an IEEE 802.1Q PPI carrying a stripped VLAN tag. */
#define RNDIS_RX_HDR_LEN_VLAN (RNDIS_RX_HDR_LEN + sizeof(struct rndis_ppi_wire) + 4)
/* Largest: VLAN, receive-checksum and fragment (RSC) PPIs. */
#define RNDIS_RX_HDR_MAX (RNDIS_RX_HDR_LEN + 3 * (sizeof(struct rndis_ppi_wire) + 4))

/* Offloads the guest switched on (OID_TCP_OFFLOAD_PARAMETERS), bits. */
#define RNDIS_OFL_TCP4_CSUM 0x01u
#define RNDIS_OFL_UDP4_CSUM 0x02u
#define RNDIS_OFL_TCP6_CSUM 0x04u
#define RNDIS_OFL_UDP6_CSUM 0x08u
#define RNDIS_OFL_LSO4 0x10u
#define RNDIS_OFL_LSO6 0x20u
/* Receive segment coalescing, IPv4 and IPv6 as one switch (Linux turns both
 * on or off together, as its LRO feature). */
#define RNDIS_OFL_RSC 0x40u
#define RNDIS_OFL_ALL 0x7Fu
/* Largest LSOv2 packet we take (Hyper-V's figure; the guest's GSO limit). */
#define RNDIS_LSO_MAX_SIZE 62780u

struct rndis_state {
	/* Configuration (set by the owner before the guest talks). */
	uint8_t perm_mac[6];     /* OID_802_3_PERMANENT_ADDRESS */
	uint8_t mac[6];          /* current address (filter, spoofing check) */
	uint32_t mtu;            /* frame payload size, 1500 .. 9000 */
	uint32_t link_speed;     /* 100 bps units */
	uint32_t offload_caps;   /* RNDIS_OFL_* we advertise (0 = none) */
	bool allow_mac_change;   /* accept "NetworkAddress" (MAC spoofing allowed) */
	uint16_t rss_queues;     /* receive queues (channels) we advertise; < 2 = no vRSS */
	/* Guest-visible state. */
	bool link_up;
	bool initialized;        /* INIT answered, no HALT since */
	uint32_t filter;         /* OID_GEN_CURRENT_PACKET_FILTER */
	uint32_t offload_on;     /* RNDIS_OFL_* the guest enabled, within offload_caps */
	bool mac_changed;        /* set when the guest changed mac; the owner clears it */
	struct rss_state rss;    /* OID_GEN_RECEIVE_SCALE_PARAMETERS; entries < rss_queues */
	uint64_t xmit_ok, rcv_ok, xmit_err, rcv_err, rcv_nobuf; /* owner updates */
	uint32_t bad_msgs;       /* malformed control messages seen */
};

/* Message alignment and batching we announce in INIT_C. */
#define RNDIS_MAX_PKT_PER_MSG 8u
#define RNDIS_PKT_ALIGN_SHIFT 3u
#define RNDIS_MAX_XFER_SIZE 0x4000u

/*
 * Handle one control message msg[0..len) (its header's len must equal len).
 * Writes the response into out (RNDIS_RESP_MAX bytes) and sets *ret_len, or
 * 0 when none is due (HALT, or a message too short to carry a request id).
 * Malformed requests with a request id get a failure status, never silence.
 * Returns 0, or -EPROTO when the message was malformed (response may still
 * be set), -ENOTSUP for a type that is not a control request.
 */
int rndis_control(struct rndis_state *st, const uint8_t *msg, uint32_t len, uint8_t *out,
		  uint32_t *ret_len);

/* What a guest PACKET message carries. */
struct rndis_tx_info {
	uint32_t data_off;       /* frame offset from the message start */
	uint32_t data_len;
	bool has_vlan;
	uint16_t vlan_tci;       /* PCP(3) CFI(1) VID(12) as in an 802.1Q tag */
	bool has_csum;
	uint32_t csum_info;
	bool has_lso;
	uint32_t lso_info;
};

/* Parse a PACKET message msg[0..len). 0, or -EPROTO (bad offsets/PPIs). */
int rndis_parse_packet(const uint8_t *msg, uint32_t len, struct rndis_tx_info *ret);

/* Write the PACKET header for a frame of frame_len bytes into out; with
 * vlan_tci >= 0 an 802.1Q PPI is added. Returns the header length
 * (RNDIS_RX_HDR_LEN or RNDIS_RX_HDR_LEN_VLAN); the frame follows it. */
uint32_t rndis_build_rx_header(uint8_t *out, uint32_t frame_len, int32_t vlan_tci);
/* Same, plus a receive checksum PPI when csum_info != 0 (RNDIS_CSUM_RX_*).
 * out has room for RNDIS_RX_HDR_MAX bytes. */
uint32_t rndis_build_rx_header_csum(uint8_t *out, uint32_t frame_len, int32_t vlan_tci,
				    uint32_t csum_info);
/* Same, for one fragment of a coalesced frame: frag holds RNDIS_PKTINFO_*
 * flags (SUBALLOC plus FIRST and/or LAST) and adds the fragment PPI; 0 means
 * a whole frame (no fragment PPI), as rndis_build_rx_header_csum. */
uint32_t rndis_build_rx_header_frag(uint8_t *out, uint32_t data_len, int32_t vlan_tci,
				    uint32_t csum_info, uint32_t frag);

/* Write an INDICATE_STATUS message (no status buffer); returns its length. */
uint32_t rndis_build_indicate(uint8_t *out, uint32_t status);

/* Does the guest's packet filter let this frame in (destination MAC)? */
bool rndis_filter_accepts(const struct rndis_state *st, const uint8_t *frame, uint32_t len);

#endif
