/* SPDX-License-Identifier: MIT */
/*
 * RNDIS wire format as the Linux 6.1 netvsc driver uses it over NVSP:
 * message types, control messages, the data packet with its per-packet info
 * (PPI), OIDs and the NDIS offload structures. Layouts and constants only.
 * All fields little-endian.
 *
 * Spec: hyperv-guest-interface.md §7.5-7.7, checked against Linux 6.1
 * drivers/net/hyperv/{rndis_filter.c,hyperv_net.h} and include/linux/rndis.h.
 */
#ifndef OPENHV_RNDIS_PROTO_H
#define OPENHV_RNDIS_PROTO_H

#include <stdint.h>

#define RNDIS_MSG_PACKET 0x00000001u
#define RNDIS_MSG_INIT 0x00000002u
#define RNDIS_MSG_HALT 0x00000003u
#define RNDIS_MSG_QUERY 0x00000004u
#define RNDIS_MSG_SET 0x00000005u
#define RNDIS_MSG_RESET 0x00000006u
#define RNDIS_MSG_INDICATE 0x00000007u
#define RNDIS_MSG_KEEPALIVE 0x00000008u
#define RNDIS_MSG_COMPLETION 0x80000000u /* or'ed into the request type */
#define RNDIS_MSG_INIT_C (RNDIS_MSG_INIT | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_QUERY_C (RNDIS_MSG_QUERY | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_SET_C (RNDIS_MSG_SET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_RESET_C (RNDIS_MSG_RESET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_KEEPALIVE_C (RNDIS_MSG_KEEPALIVE | RNDIS_MSG_COMPLETION)

#define RNDIS_STATUS_SUCCESS 0x00000000u
#define RNDIS_STATUS_FAILURE 0xC0000001u
#define RNDIS_STATUS_NOT_SUPPORTED 0xC00000BBu
#define RNDIS_STATUS_INVALID_DATA 0xC0010015u
#define RNDIS_STATUS_BUFFER_OVERFLOW 0x80000005u
#define RNDIS_STATUS_MEDIA_CONNECT 0x4001000Bu
#define RNDIS_STATUS_MEDIA_DISCONNECT 0x4001000Cu
#define RNDIS_STATUS_LINK_SPEED_CHANGE 0x40010013u
#define RNDIS_STATUS_NETWORK_CHANGE 0x40010018u

/* OIDs the Linux driver uses, plus the mandatory general ones. */
#define OID_GEN_SUPPORTED_LIST 0x00010101u
#define OID_GEN_HARDWARE_STATUS 0x00010102u
#define OID_GEN_MEDIA_SUPPORTED 0x00010103u
#define OID_GEN_MEDIA_IN_USE 0x00010104u
#define OID_GEN_MAXIMUM_FRAME_SIZE 0x00010106u
#define OID_GEN_LINK_SPEED 0x00010107u
#define OID_GEN_TRANSMIT_BLOCK_SIZE 0x0001010Au
#define OID_GEN_RECEIVE_BLOCK_SIZE 0x0001010Bu
#define OID_GEN_VENDOR_ID 0x0001010Cu
#define OID_GEN_VENDOR_DESCRIPTION 0x0001010Du
#define OID_GEN_CURRENT_PACKET_FILTER 0x0001010Eu
#define OID_GEN_CURRENT_LOOKAHEAD 0x0001010Fu
#define OID_GEN_MAXIMUM_TOTAL_SIZE 0x00010111u
#define OID_GEN_MEDIA_CONNECT_STATUS 0x00010114u
#define OID_GEN_MAXIMUM_SEND_PACKETS 0x00010115u
#define OID_GEN_NETWORK_LAYER_ADDRESSES 0x00010118u
#define OID_GEN_RECEIVE_SCALE_CAPABILITIES 0x00010203u
#define OID_GEN_RECEIVE_SCALE_PARAMETERS 0x00010204u
#define OID_GEN_RNDIS_CONFIG_PARAMETER 0x0001021Bu
#define OID_GEN_XMIT_OK 0x00020101u
#define OID_GEN_RCV_OK 0x00020102u
#define OID_GEN_XMIT_ERROR 0x00020103u
#define OID_GEN_RCV_ERROR 0x00020104u
#define OID_GEN_RCV_NO_BUFFER 0x00020105u
#define OID_GEN_FRIENDLY_NAME 0x00020216u
#define OID_802_3_PERMANENT_ADDRESS 0x01010101u
#define OID_802_3_CURRENT_ADDRESS 0x01010102u
#define OID_802_3_MULTICAST_LIST 0x01010103u
#define OID_802_3_MAXIMUM_LIST_SIZE 0x01010104u
#define OID_TCP_OFFLOAD_PARAMETERS 0xFC01020Cu
#define OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES 0xFC01020Du

/* Packet filter bits (OID_GEN_CURRENT_PACKET_FILTER). */
#define NDIS_PACKET_TYPE_DIRECTED 0x00000001u
#define NDIS_PACKET_TYPE_MULTICAST 0x00000002u
#define NDIS_PACKET_TYPE_ALL_MULTICAST 0x00000004u
#define NDIS_PACKET_TYPE_BROADCAST 0x00000008u
#define NDIS_PACKET_TYPE_PROMISCUOUS 0x00000020u

/* NDIS object header types. */
#define NDIS_OBJECT_TYPE_DEFAULT 0x80u
#define NDIS_OBJECT_TYPE_RSS_CAPABILITIES 0x88u
#define NDIS_OBJECT_TYPE_RSS_PARAMETERS 0x89u
#define NDIS_OBJECT_TYPE_OFFLOAD 0xA7u
#define NDIS_OFFLOAD_SIZE_6_0 112u
#define NDIS_OFFLOAD_SIZE_6_1 144u
#define NDIS_OFFLOAD_SIZE 156u
#define NDIS_OFFLOAD_PARAMS_SIZE_6_0 22u /* smallest TCP_OFFLOAD_PARAMETERS the guest sends */

struct rndis_hdr_wire {
	uint32_t type;
	uint32_t len; /* whole message, this header included */
};

struct rndis_init_wire {
	uint32_t req_id;
	uint32_t major;
	uint32_t minor;
	uint32_t max_xfer_size;
};

struct rndis_init_c_wire {
	uint32_t req_id;
	uint32_t status;
	uint32_t major;
	uint32_t minor;
	uint32_t dev_flags;
	uint32_t medium;
	uint32_t max_pkt_per_msg;
	uint32_t max_xfer_size;
	uint32_t pkt_alignment_factor;
	uint32_t af_list_offset;
	uint32_t af_list_size;
};

struct rndis_query_wire { /* QUERY and SET requests */
	uint32_t req_id;
	uint32_t oid;
	uint32_t info_buflen;
	uint32_t info_buf_offset; /* from req_id */
	uint32_t dev_vc_handle;
};

struct rndis_query_c_wire {
	uint32_t req_id;
	uint32_t status;
	uint32_t info_buflen;
	uint32_t info_buf_offset; /* from req_id */
};

struct rndis_set_c_wire { /* also KEEPALIVE_C */
	uint32_t req_id;
	uint32_t status;
};

struct rndis_reset_c_wire {
	uint32_t status;
	uint32_t addressing_reset;
};

struct rndis_indicate_wire {
	uint32_t status;
	uint32_t status_buflen;
	uint32_t status_buf_offset; /* from status */
};

struct rndis_packet_wire {
	uint32_t data_offset; /* offsets from the start of this structure */
	uint32_t data_len;
	uint32_t oob_data_offset;
	uint32_t oob_data_len;
	uint32_t num_oob_data_elements;
	uint32_t ppi_offset;
	uint32_t ppi_len;
	uint32_t vc_handle;
	uint32_t reserved;
};

struct rndis_ppi_wire {
	uint32_t size;       /* header + payload */
	uint32_t type;       /* bit 31 = internal */
	uint32_t ppi_offset; /* payload offset from this header */
};

#define RNDIS_PPI_INTERNAL 0x80000000u
#define RNDIS_PPI_CHECKSUM 0u
#define RNDIS_PPI_LSO 2u
#define RNDIS_PPI_VLAN 6u
#define RNDIS_PPI_HASH 8u
/* Internal PPI (Hyper-V's own, type 1 with the internal bit): packet id and
 * fragment flags. The host uses it to split one coalesced (RSC) frame over
 * several RNDIS PACKET messages of one XFER_PAGES packet; the guest joins
 * the fragments from FIRST to LAST into one receive buffer. */
#define RNDIS_PPI_PKTINFO_ID (RNDIS_PPI_INTERNAL | 1u)
#define RNDIS_PKTINFO_ID_V1 1u
#define RNDIS_PKTINFO_SUBALLOC 0x1u
#define RNDIS_PKTINFO_FIRST_FRAG 0x2u
#define RNDIS_PKTINFO_LAST_FRAG 0x4u

/* Checksum PPI, receive direction bits. */
#define RNDIS_CSUM_RX_TCP_OK (1u << 3)
#define RNDIS_CSUM_RX_UDP_OK (1u << 4)
#define RNDIS_CSUM_RX_IP_OK (1u << 5)

/* struct ndis_offload capability bits (hyperv_net.h names). */
#define NDIS_OFFLOAD_ENCAP_8023 0x2u
#define NDIS_TXCSUM_CAP_TCP4OPT 0x004u
#define NDIS_TXCSUM_CAP_TCP4 0x010u
#define NDIS_TXCSUM_CAP_UDP4 0x040u
#define NDIS_TXCSUM_CAP_IP6EXT 0x001u
#define NDIS_TXCSUM_CAP_TCP6OPT 0x004u
#define NDIS_TXCSUM_CAP_TCP6 0x010u
#define NDIS_TXCSUM_CAP_UDP6 0x040u
#define NDIS_LSOV2_CAP_IP6 0x5u /* extension headers + TCP options */

/* struct ndis_offload_params (guest SET of OID_TCP_OFFLOAD_PARAMETERS):
 * byte offsets of the fields we act on, and their values. */
#define NDIS_OFLP_IP4_CSUM 4u
#define NDIS_OFLP_TCP4_CSUM 5u
#define NDIS_OFLP_UDP4_CSUM 6u
#define NDIS_OFLP_TCP6_CSUM 7u
#define NDIS_OFLP_UDP6_CSUM 8u
#define NDIS_OFLP_LSOV1 9u
#define NDIS_OFLP_LSOV2_IP4 11u
#define NDIS_OFLP_LSOV2_IP6 12u
#define NDIS_OFLP_RSC_IP4 22u /* only in the 28-byte form */
#define NDIS_OFLP_RSC_IP6 23u
#define NDIS_OFLP_NO_CHANGE 0u
#define NDIS_OFLP_CSUM_DISABLED 1u
#define NDIS_OFLP_CSUM_TX 2u
#define NDIS_OFLP_CSUM_RX 3u
#define NDIS_OFLP_CSUM_TX_RX 4u
#define NDIS_OFLP_LSO_DISABLED 1u
#define NDIS_OFLP_LSO_ENABLED 2u

/* OID_GEN_RNDIS_CONFIG_PARAMETER input (offsets from its start). */
struct rndis_config_param_wire {
	uint32_t name_offset;
	uint32_t name_length;  /* bytes of UTF-16LE */
	uint32_t type;         /* 2 = string */
	uint32_t value_offset;
	uint32_t value_length;
};
#define RNDIS_CONFIG_PARAM_STRING 2u

struct ndis_object_header_wire {
	uint8_t type;
	uint8_t revision;
	uint16_t size;
};

/* The host's answer to OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES (revision 3). */
struct ndis_offload_wire {
	struct ndis_object_header_wire hdr;
	uint32_t csum[8];   /* ip4_txenc, ip4_txcsum, ip4_rxenc, ip4_rxcsum, ip6_... */
	uint32_t lsov1[4];
	uint32_t ipsecv1[7];
	uint32_t lsov2[7];  /* ip4_encap, ip4_maxsz, ip4_minsg, ip6_encap, ip6_maxsz, ... */
	uint32_t flags;
	uint8_t ipsecv2[32];
	uint8_t rsc_ip4, rsc_ip6, rsc_pad[2];
	uint32_t encap_gre[2];
};

/* The host's answer to OID_GEN_RECEIVE_SCALE_CAPABILITIES (revision 2,
 * packed: 18 bytes). */
struct ndis_rss_caps_wire {
	struct ndis_object_header_wire hdr;
	uint32_t cap_flags;
	uint32_t num_int_msg;
	uint32_t num_recv_queues;
	uint16_t num_itab_entries;
} __attribute__((packed));
#define NDIS_RSS_CAPS_REVISION 2u
#define NDIS_RSS_CAPS_HASH_TCP_IPV4 0x00000100u
#define NDIS_RSS_CAPS_HASH_TCP_IPV6 0x00000200u

/* The guest's SET of OID_GEN_RECEIVE_SCALE_PARAMETERS (natural alignment:
 * 40 bytes); the table and key follow at the offsets given, counted from
 * the start of this structure. */
struct ndis_rss_params_wire {
	struct ndis_object_header_wire hdr;
	uint16_t flags;
	uint16_t base_cpu;
	uint32_t hashinfo;
	uint16_t itab_size;      /* bytes: 4 per entry */
	uint16_t pad0;
	uint32_t itab_offset;
	uint16_t key_size;
	uint16_t pad1;
	uint32_t key_offset;
	uint32_t cpu_masks_offset;
	uint32_t num_cpu_masks;
	uint32_t cpu_mask_size;
};
#define NDIS_RSS_PARAM_BASE_CPU_UNCHANGED 0x0001u
#define NDIS_RSS_PARAM_HASH_INFO_UNCHANGED 0x0002u
#define NDIS_RSS_PARAM_ITABLE_UNCHANGED 0x0004u
#define NDIS_RSS_PARAM_HASH_KEY_UNCHANGED 0x0008u
#define NDIS_RSS_PARAM_DISABLE_RSS 0x0010u

_Static_assert(sizeof(struct rndis_hdr_wire) == 8, "rndis header");
_Static_assert(sizeof(struct ndis_rss_caps_wire) == 18, "ndis rss capabilities");
_Static_assert(sizeof(struct ndis_rss_params_wire) == 40, "ndis rss parameters");
_Static_assert(sizeof(struct rndis_init_c_wire) == 44, "rndis init_c");
_Static_assert(sizeof(struct rndis_query_wire) == 20, "rndis query");
_Static_assert(sizeof(struct rndis_query_c_wire) == 16, "rndis query_c");
_Static_assert(sizeof(struct rndis_packet_wire) == 36, "rndis packet");
_Static_assert(sizeof(struct rndis_ppi_wire) == 12, "rndis ppi");
_Static_assert(sizeof(struct ndis_offload_wire) == NDIS_OFFLOAD_SIZE, "ndis offload");
_Static_assert(sizeof(struct rndis_config_param_wire) == 20, "rndis config parameter");

#endif
