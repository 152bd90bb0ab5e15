/* SPDX-License-Identifier: MIT */
/*
 * netvsp: the synthetic network adapter VSP for the Linux hv_netvsc driver.
 * One VMBus device (class f8615163-df3e-46c5-913f-f2d2f965ed0e) per NIC:
 * NVSP version negotiation (1 .. 6.1), the receive and send buffers as GPADL
 * sections, RNDIS control (rndis.h) and the data path both ways, with the
 * frames going to and coming from a back-end (tap.h, or a test fake).
 *
 * Offloads: with a back-end that takes a virtio-net header (tx_offload)
 * the guest is offered TCP/UDP checksum offload and LSOv2 for IPv4 and IPv6;
 * its PPIs become the header (offload.h). Frames to the guest may carry a
 * "checksum good" mark (netvsp_rx_ex), sent as the receive checksum PPI.
 * MAC spoofing protection (Hyper-V's default): frames whose source address
 * is not the NIC's are dropped and the guest may not change its address,
 * unless allow_mac_spoofing. MTU 1500 up to 9000 as the guest asks (NVSP
 * NDIS config). Receive segment coalescing (RSC, the guest's LRO): a TCP
 * frame of several segments from a back-end that sets rx_rsc goes to the
 * guest whole, split over consecutive receive sections as RNDIS fragments
 * of one XFER_PAGES packet (netvsp_rx_rsc). vRSS: with cfg.queues > 1 the
 * guest may ask for sub-channels (NVSP 5) and program RSS (Toeplitz key,
 * indirection table); frames from the host then go to the channel of their
 * flow's hash (rss.h), so receive work spreads over the guest's vCPUs. Not:
 * a send indirection table from the host (the guest's default is used),
 * SR-IOV VF.
 *
 * Threads: the VMBus callbacks run on the VM's event loop with the server
 * lock held; netvsp_rx(), netvsp_set_link() and netvsp_get_stats() take that
 * lock and may be called from any thread (the back-end's receive thread).
 * Guest frames are handed to be->tx with the lock held: it must not block.
 * This module does not log; errors are counted in struct netvsp_stats.
 *
 * Spec: hyperv-guest-interface.md §7, checked against Linux 6.1
 * drivers/net/hyperv/{netvsc.c,rndis_filter.c}.
 */
#ifndef OPENHV_NETVSP_H
#define OPENHV_NETVSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "gm/gm.h"
#include "vmbus/vmbus.h"
#include "vsp/netvsp/offload.h"

#define NETVSP_CLASS_GUID                                                                          \
	{ 0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46, 0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, \
	  0x0e }

/* Receive-buffer section size we hand out (Hyper-V's and the guest's default). */
#define NETVSP_RECV_SECTION_SIZE 1728u
/* Send-buffer section size we ask the guest to use. */
#define NETVSP_SEND_SECTION_SIZE 6144u
/* Largest RNDIS byte stream of one guest NVSP message we accept. */
#define NETVSP_MAX_MSG (72u * 1024u)
/* MTU range (the guest asks with the NVSP NDIS config; default 1500). */
#define NETVSP_MTU_DEFAULT 1500u
#define NETVSP_MTU_MIN 68u
#define NETVSP_MTU_MAX 9000u
/* Most channels per NIC (primary + vRSS sub-channels). */
#define NETVSP_MAX_QUEUES 16u

struct netvsp;

struct netvsp_config {
	uint8_t mac[6];
	uint16_t vlan;      /* access VLAN 1..4094: tag on the way out, strip on the way in; 0 = none */
	/* false (default, as Hyper-V): guest frames with a source MAC other than
	 * the NIC's are dropped (tx_spoofed) and MAC changes are refused. */
	bool allow_mac_spoofing;
	/* vRSS: receive queues (VMBus channels) offered to the guest, one per
	 * vCPU is the usual choice; 0 or 1 = the primary channel only. Capped
	 * at NETVSP_MAX_QUEUES. */
	uint16_t queues;
};

/* Where guest frames go, and how the receive side learns it may retry. */
struct netvsp_backend {
	/* A complete Ethernet frame from the guest (lock held; must not block).
	 * Return 0, or -errno when it was dropped. */
	int (*tx)(void *opaque, const void *frame, size_t len);
	/* Optional: the same with a virtio-net header (checksum/GSO request;
	 * all zero for a plain frame). When set, the guest is offered
	 * checksum offload and LSO and every frame goes through here. */
	int (*tx_offload)(void *opaque, const struct netvsp_vnet_hdr_wire *h, const void *frame,
			  size_t len);
	/* Optional: the guest's MTU changed (lock held; must not block). */
	int (*set_mtu)(void *opaque, uint32_t mtu);
	/* Optional: netvsp_rx() returned -EAGAIN earlier and there is room now
	 * (lock held; just wake the receive thread). */
	void (*rx_room)(void *opaque);
	/* The back-end may hand over coalesced TCP frames (netvsp_rx_rsc): the
	 * guest is offered RSC. Only with tx_offload. */
	bool rx_rsc;
	void *opaque;
};

struct netvsp_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped;   /* guest -> back-end */
	uint64_t rx_frames, rx_bytes, rx_dropped;   /* back-end -> guest */
	uint64_t rx_filtered;                       /* guest's packet filter said no */
	uint64_t rx_no_room;                        /* -EAGAIN: no free section or ring full */
	uint64_t bad_msgs;                          /* malformed NVSP/RNDIS/PPI, dropped */
	uint64_t tx_spoofed;                        /* source MAC not ours, dropped */
	uint64_t tx_bad_offload;                    /* csum/LSO PPI not matching the frame, dropped */
	uint64_t tx_csum_offload;                   /* frames sent with a checksum request */
	uint64_t tx_lso;                            /* large frames sent for segmentation */
	uint64_t rx_csum_ok;                        /* frames delivered marked checksum-good */
	uint64_t rx_gso_segments;                   /* frames cut from host GSO frames */
	uint64_t rx_rsc;                            /* coalesced frames delivered whole */
	uint64_t rx_rsc_frags;                      /* receive sections they took */
	uint64_t rx_subchannel;                     /* frames delivered on a vRSS sub-channel */
	uint64_t mtu_errors;                        /* back-end could not follow an MTU change */
	uint64_t ctl_msgs;                          /* RNDIS control requests answered */
	uint32_t nvsp_version;                      /* negotiated, 0 = none */
	bool rndis_up;                              /* RNDIS initialised, buffers in place */
	uint32_t packet_filter;
	bool link_up;
	uint32_t offloads;                          /* RNDIS_OFL_* the guest switched on */
	uint32_t mtu;
	uint8_t mac[6];                             /* current (the guest may change it) */
};

/*
 * Register a NIC on srv with this instance GUID. gm is the guest memory (for
 * GPA-direct ranges); be is copied. The link starts up.
 * 0, -ENOMEM, or an error of vmbus_server_add_device.
 */
int netvsp_new(struct vmbus_server *srv, const struct gm *gm, const struct netvsp_config *cfg,
	       const uint8_t instance_guid[16], const struct netvsp_backend *be,
	       struct netvsp **ret) MUST_CHECK;
/* Remove the device (rescind) and free. Stop the back-end's thread first. NULL ok. */
void netvsp_free(struct netvsp *nv);

/*
 * A frame from the back-end for the guest (any thread). 0 = delivered or
 * dropped by the guest's filter; -EAGAIN = no room right now, keep the frame
 * and retry after be->rx_room; -ENOTCONN = the guest's driver is not ready
 * (frame dropped); -EMSGSIZE = not an acceptable frame (dropped).
 */
int netvsp_rx(struct netvsp *nv, const void *frame, size_t len);

/* netvsp_rx() flags. */
#define NETVSP_RX_CSUM_OK 0x1u  /* L4 checksum known good: tell the guest (PPI) */
#define NETVSP_RX_SEGMENT 0x2u  /* a segment of a host GSO frame (counted) */
int netvsp_rx_ex(struct netvsp *nv, const void *frame, size_t len, uint32_t flags);

/*
 * A TCP frame of several segments (up to OFFLOAD_MAX_FRAME bytes; a host
 * GSO frame with valid IP lengths and header checksum) whose L4 checksum is
 * known good, for a guest that switched RSC on: delivered whole, marked
 * checksum-good. seg_len is the frame length of its largest segment (L2 to
 * L4 headers + MSS); it must fit the guest's MTU. As netvsp_rx(), plus
 * -EOPNOTSUPP: RSC is off or the frame does not qualify; nothing was done,
 * cut it into segments and use netvsp_rx_ex().
 */
int netvsp_rx_rsc(struct netvsp *nv, const void *frame, size_t len, uint32_t seg_len);

/* Carrier change (any thread): the guest gets a media connect/disconnect indication. */
void netvsp_set_link(struct netvsp *nv, bool up);

void netvsp_get_stats(struct netvsp *nv, struct netvsp_stats *ret);

#endif
