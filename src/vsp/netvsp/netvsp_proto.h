/* SPDX-License-Identifier: MIT */
/*
 * NVSP wire format: the messages netvsc (Linux drivers/net/hyperv) and the
 * host exchange over VMBus packets, plus the VMBus transfer-page and
 * GPA-direct packet headers the data path uses. Layouts and constants only.
 *
 * Spec: hyperv-guest-interface.md §4.3 (packet headers) and §7.2-7.4,
 * checked against Linux 6.1 drivers/net/hyperv/hyperv_net.h.
 */
#ifndef OPENHV_NETVSP_PROTO_H
#define OPENHV_NETVSP_PROTO_H

#include <stdint.h>

/* Protocol versions Linux 6.1 tries, newest first. */
#define NVSP_VERSION_1 0x00000002u
#define NVSP_VERSION_2 0x00030002u
#define NVSP_VERSION_4 0x00040000u
#define NVSP_VERSION_5 0x00050000u
#define NVSP_VERSION_6 0x00060000u
#define NVSP_VERSION_61 0x00060001u

/* Message types. */
#define NVSP_MSG_INIT 1u
#define NVSP_MSG_INIT_COMPLETE 2u
#define NVSP_MSG1_SEND_NDIS_VER 100u
#define NVSP_MSG1_SEND_RECV_BUF 101u
#define NVSP_MSG1_SEND_RECV_BUF_COMPLETE 102u
#define NVSP_MSG1_REVOKE_RECV_BUF 103u
#define NVSP_MSG1_SEND_SEND_BUF 104u
#define NVSP_MSG1_SEND_SEND_BUF_COMPLETE 105u
#define NVSP_MSG1_REVOKE_SEND_BUF 106u
#define NVSP_MSG1_SEND_RNDIS_PKT 107u
#define NVSP_MSG1_SEND_RNDIS_PKT_COMPLETE 108u
#define NVSP_MSG2_SEND_NDIS_CONFIG 125u
#define NVSP_MSG4_SEND_VF_ASSOCIATION 128u
#define NVSP_MSG4_SWITCH_DATA_PATH 129u
#define NVSP_MSG5_SUBCHANNEL 133u
#define NVSP_MSG5_SEND_INDIRECTION_TABLE 134u
#define NVSP_SUBCHANNEL_ALLOCATE 1u     /* NVSP_MSG5_SUBCHANNEL op */

/* Status values. */
#define NVSP_STAT_NONE 0u
#define NVSP_STAT_SUCCESS 1u
#define NVSP_STAT_FAIL 2u

#define NVSP_RECV_BUF_ID 0xCAFEu       /* the transfer-page set id netvsc checks */
#define NVSP_SEND_SECTION_NONE 0xFFFFFFFFu
#define NVSP_CHANNEL_DATA 0u
#define NVSP_CHANNEL_CONTROL 1u

/* Every NVSP message is 40 bytes on the wire (the guest always sends 40 and
 * its completion handler length checks need the full size back). */
#define NVSP_MSG_SIZE 40u

struct nvsp_init_wire {
	uint32_t type;
	uint32_t min_version;
	uint32_t max_version;
};

struct nvsp_init_complete_wire {
	uint32_t type;
	uint32_t negotiated_version;
	uint32_t max_mdl_chain_len;
	uint32_t status;
};

struct nvsp_ndis_version_wire {
	uint32_t type;
	uint32_t major;
	uint32_t minor;
};

struct nvsp_ndis_config_wire {
	uint32_t type;
	uint32_t mtu;
	uint32_t reserved;
	uint32_t capability_lo; /* u64 at an unaligned offset (packed upstream) */
	uint32_t capability_hi;
};

struct nvsp_send_buf_wire { /* SEND_RECV_BUF and SEND_SEND_BUF */
	uint32_t type;
	uint32_t gpadl;
	uint16_t id;
	uint16_t pad;
};

struct nvsp_revoke_buf_wire {
	uint32_t type;
	uint16_t id;
	uint16_t pad;
};

struct nvsp_recv_section_wire {
	uint32_t offset;
	uint32_t sub_alloc_size;
	uint32_t num_sub_allocs;
	uint32_t end_offset;
};

struct nvsp_recv_buf_complete_wire {
	uint32_t type;
	uint32_t status;
	uint32_t num_sections;
	struct nvsp_recv_section_wire section;
};

struct nvsp_send_buf_complete_wire {
	uint32_t type;
	uint32_t status;
	uint32_t section_size;
};

struct nvsp_rndis_pkt_wire {
	uint32_t type;
	uint32_t channel_type;
	uint32_t section_index;
	uint32_t section_size;
};

struct nvsp_rndis_pkt_complete_wire {
	uint32_t type;
	uint32_t status;
};

struct nvsp_subchannel_wire { /* request and completion */
	uint32_t type;
	uint32_t op_or_status;
	uint32_t num_subchannels;
};

_Static_assert(sizeof(struct nvsp_init_wire) == 12, "nvsp init");
_Static_assert(sizeof(struct nvsp_init_complete_wire) == 16, "nvsp init complete");
_Static_assert(sizeof(struct nvsp_ndis_config_wire) == 20, "nvsp ndis config");
_Static_assert(sizeof(struct nvsp_send_buf_wire) == 12, "nvsp send buf");
_Static_assert(sizeof(struct nvsp_recv_buf_complete_wire) == 28, "nvsp recv buf complete");
_Static_assert(sizeof(struct nvsp_rndis_pkt_wire) == 16, "nvsp rndis pkt");

/* VMBus DATA_USING_XFER_PAGES header after the 16-byte descriptor (§4.3). */
struct vmbus_xfer_hdr_wire {
	uint16_t pageset_id;
	uint8_t sender_owns_set;
	uint8_t reserved;
	uint32_t range_count;
};

struct vmbus_xfer_range_wire {
	uint32_t byte_count;
	uint32_t byte_offset;
};

/* VMBus DATA_USING_GPA_DIRECT header after the descriptor, then ranges of
 * {byte_count, byte_offset, pfn[ceil((byte_offset + byte_count) / 4096)]}. */
struct vmbus_gpa_direct_hdr_wire {
	uint32_t reserved;
	uint32_t range_count;
};

struct vmbus_gpa_range_wire {
	uint32_t byte_count;
	uint32_t byte_offset;
};

_Static_assert(sizeof(struct vmbus_xfer_hdr_wire) == 8, "xfer header");
_Static_assert(sizeof(struct vmbus_xfer_range_wire) == 8, "xfer range");
_Static_assert(sizeof(struct vmbus_gpa_direct_hdr_wire) == 8, "gpa direct header");
_Static_assert(sizeof(struct vmbus_gpa_range_wire) == 8, "gpa range");

#endif
