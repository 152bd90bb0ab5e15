/* SPDX-License-Identifier: MIT */
/*
 * A fake hv_netvsc guest for netvsp tests and fuzzing, on top of the fake
 * VMBus guest (tests/unit/vmbus/fake_guest.h): NVSP init with Linux 6.1's
 * version ladder, receive/send buffers as GPADLs, RNDIS requests through
 * send-buffer sections or GPA-direct ranges, and a receive path that reads
 * XFER_PAGES packets out of the receive buffer and completes them.
 */
#ifndef OPENHV_TESTS_NV_GUEST_H
#define OPENHV_TESTS_NV_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmbus/fake_guest.h"

#define NVG_MAX_RX 64u
#define NVG_MSG_MAX 9344u

struct nvg_rx { /* one RNDIS message the host put in the receive buffer */
	uint32_t channel_type;
	uint32_t len;
	uint8_t data[NVG_MSG_MAX];
};

struct nv_guest {
	struct fake_guest *fg;
	struct fg_chan ch;
	uint32_t version;
	uint32_t mtu;                   /* sent in the NDIS config; 0 = 1500 */
	uint64_t recv_gpa, send_gpa;
	uint32_t recv_bytes, send_bytes;
	uint32_t recv_gpadl, send_gpadl;
	uint32_t sub_alloc, num_sub, send_section;
	uint32_t req_id;
	uint64_t next_tid;
	bool hold_completions;          /* do not complete XFER packets (tests back-pressure) */
	uint64_t held[256];
	uint32_t n_held;
	/* What the host sent and the guest has not consumed. */
	struct nvg_rx rx[NVG_MAX_RX];
	uint32_t n_rx;
	uint32_t last_comp_type, last_comp_status;
	uint32_t comps, bad_xfer;
	uint8_t last_comp[64];
	uint32_t last_comp_len;
};

/* Open the NIC channel of this offer (rings of ring_pages each incl. header). */
int nvg_open(struct nv_guest *g, struct fake_guest *fg, const struct vmbus_offer_channel_wire *offer,
	     uint32_t ring_pages);
/* INBAND NVSP message with COMPLETION_REQUESTED; waits for the COMP and
 * copies its payload into g->last_comp. 0, or -errno. */
int nvg_request(struct nv_guest *g, const void *msg, uint32_t len);
/* INBAND NVSP message without completion (trans_id VMBUS_RQST_ID_NO_RESPONSE). */
int nvg_post(struct nv_guest *g, const void *msg, uint32_t len);
/* netvsc_connect_vsp(): versions newest first, NDIS config/version,
 * receive buffer of recv_bytes and send buffer of send_bytes. 0 or -errno. */
int nvg_connect(struct nv_guest *g, uint32_t max_version, uint32_t recv_bytes, uint32_t send_bytes);
/* Send RNDIS bytes: through send section `section` (UINT32_MAX = none) and
 * the rest (gpa_len bytes at the end) as a GPA-direct range. Waits for the
 * SEND_RNDIS_PKT completion; returns its NVSP status or -errno. */
int nvg_send_rndis(struct nv_guest *g, const void *msg, uint32_t len, uint32_t channel_type,
		   bool gpa_direct);
/* Read everything the host sent: XFER_PAGES into g->rx (completed unless
 * hold_completions), COMPs into last_comp. Returns packets read. */
int nvg_poll(struct nv_guest *g);
/* Remove the first received message of this RNDIS type (0 = any). */
bool nvg_take(struct nv_guest *g, uint32_t rndis_type, struct nvg_rx *ret);
/* Complete the XFER packets held back while hold_completions was set. */
void nvg_release_held(struct nv_guest *g);
/* An RNDIS QUERY (with optional input) / SET; the response is returned in ret. */
int nvg_query(struct nv_guest *g, uint32_t oid, const void *in, uint32_t in_len, struct nvg_rx *ret);
int nvg_set(struct nv_guest *g, uint32_t oid, const void *in, uint32_t in_len, struct nvg_rx *ret);
/* A QUERY with the checks rndis_filter_query_device() makes; the value goes
 * to out (at most *io_len bytes), its length to *io_len. 0, -EIO (status
 * not success) or -EPROTO. */
int nvg_query_value(struct nv_guest *g, uint32_t oid, const void *in, uint32_t in_len, void *out,
		    uint32_t *io_len);
/* rndis_filter_device_add() + open: INIT, the probe queries, offload SET
 * (RSC on when offered, as Linux does with LRO on by default), packet
 * filter 0x0D. 0 or the step that failed (> 0). */
int nvg_probe(struct nv_guest *g, uint8_t mac[6]);
/* Send an Ethernet frame as one RNDIS PACKET (optional VLAN PPI). */
int nvg_send_frame(struct nv_guest *g, const void *frame, uint32_t len, int vlan_tci,
		   bool gpa_direct);

#endif
