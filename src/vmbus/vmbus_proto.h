/* SPDX-License-Identifier: MIT */
/*
 * VMBus wire formats: channel-management messages (carried in SynIC
 * messages / HvPostMessage payloads), the ring-buffer header and packet
 * descriptors. Layouts only, no code; raw, little-endian, untrusted.
 * Facts from hyperv-guest-interface.md §3 (messages), §4 (rings, packets),
 * Appendix A (sizes), checked against Linux 6.1 include/linux/hyperv.h.
 */
#ifndef OPENHV_VMBUS_PROTO_H
#define OPENHV_VMBUS_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Protocol versions (major << 16 | minor). */
#define VMBUS_VERSION_WIN8 0x00020004u
#define VMBUS_VERSION_WIN8_1 0x00030000u
#define VMBUS_VERSION_WIN10 0x00040000u
#define VMBUS_VERSION_WIN10_V4_1 0x00040001u
#define VMBUS_VERSION_WIN10_V5 0x00050000u
#define VMBUS_VERSION_WIN10_V5_1 0x00050001u
#define VMBUS_VERSION_WIN10_V5_2 0x00050002u
#define VMBUS_VERSION_WIN10_V5_3 0x00050003u

/* Connection ids and SINT. */
#define VMBUS_MESSAGE_CONNECTION_ID 1u
#define VMBUS_EVENT_CONNECTION_ID 2u
#define VMBUS_MONITOR_CONNECTION_ID 3u
#define VMBUS_MESSAGE_CONNECTION_ID_4 4u
#define VMBUS_MESSAGE_SINT 2u
/* Per-channel HvSignalEvent connection id = relid + this (QEMU's convention). */
#define VMBUS_CHAN_CONNECTION_ID_BASE 16u

#define VMBUS_MAX_RELIDS 2048u /* relid 0 is never used */
#define VMBUS_MSG_MAX 240u
#define VMBUS_SYNIC_MESSAGE_TYPE 1u /* SynIC message type for VMBus messages */

/* Channel message types. */
enum {
	VMBUS_MSG_INVALID = 0,
	VMBUS_MSG_OFFERCHANNEL = 1,
	VMBUS_MSG_RESCIND_CHANNELOFFER = 2,
	VMBUS_MSG_REQUESTOFFERS = 3,
	VMBUS_MSG_ALLOFFERS_DELIVERED = 4,
	VMBUS_MSG_OPENCHANNEL = 5,
	VMBUS_MSG_OPENCHANNEL_RESULT = 6,
	VMBUS_MSG_CLOSECHANNEL = 7,
	VMBUS_MSG_GPADL_HEADER = 8,
	VMBUS_MSG_GPADL_BODY = 9,
	VMBUS_MSG_GPADL_CREATED = 10,
	VMBUS_MSG_GPADL_TEARDOWN = 11,
	VMBUS_MSG_GPADL_TORNDOWN = 12,
	VMBUS_MSG_RELID_RELEASED = 13,
	VMBUS_MSG_INITIATE_CONTACT = 14,
	VMBUS_MSG_VERSION_RESPONSE = 15,
	VMBUS_MSG_UNLOAD = 16,
	VMBUS_MSG_UNLOAD_RESPONSE = 17,
	VMBUS_MSG_TL_CONNECT_REQUEST = 21,
	VMBUS_MSG_MODIFYCHANNEL = 22,
	VMBUS_MSG_TL_CONNECT_RESULT = 23,
	VMBUS_MSG_MODIFYCHANNEL_RESPONSE = 24,
	VMBUS_MSG_COUNT = 25,
};

struct vmbus_msg_hdr_wire {
	uint32_t msgtype;
	uint32_t padding;
};
_Static_assert(sizeof(struct vmbus_msg_hdr_wire) == 8, "vmbus header");

struct vmbus_initiate_contact_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t vmbus_version_requested;
	uint32_t target_vcpu;      /* VP index that receives control messages */
	union {
		uint64_t interrupt_page; /* < 5.0: GPA of the legacy interrupt page */
		struct {
			uint8_t msg_sint; /* >= 5.0: SINT for control messages (2) */
			uint8_t padding1[7];
		};
	};
	uint64_t monitor_page1;    /* GPA, unused (we never allocate monitors) */
	uint64_t monitor_page2;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_initiate_contact_wire) == 40, "initiate contact");

struct vmbus_version_response_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint8_t version_supported; /* 1 = accepted */
	uint8_t connection_state;  /* ignored by Linux */
	uint16_t padding;
	uint32_t msg_conn_id;      /* connection id for later posts (>= 5.0) */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_version_response_wire) == 16, "version response");

struct vmbus_offer_channel_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint8_t if_type[16];       /* device class GUID, raw bytes */
	uint8_t if_instance[16];   /* unique per device */
	uint64_t reserved1;
	uint64_t reserved2;
	uint16_t chn_flags;
	uint16_t mmio_megabytes;
	uint8_t user_def[120];
	uint16_t sub_channel_index; /* 0 = primary */
	uint16_t reserved3;
	uint32_t child_relid;       /* 1..2047 */
	uint8_t monitorid;
	uint8_t monitor_allocated;  /* bit 0; always 0 here */
	uint16_t is_dedicated_interrupt;
	uint32_t connection_id;     /* HvSignalEvent id for this channel */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_offer_channel_wire) == 196, "offer");
_Static_assert(offsetof(struct vmbus_offer_channel_wire, child_relid) == 184, "offer relid");

struct vmbus_relid_msg_wire { /* RESCIND, CLOSECHANNEL, RELID_RELEASED */
	struct vmbus_msg_hdr_wire hdr;
	uint32_t child_relid;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_relid_msg_wire) == 12, "relid msg");

struct vmbus_open_channel_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t ringbuffer_gpadlhandle;
	uint32_t target_vp;
	uint32_t downstream_ringbuffer_pageoffset; /* pages of the guest->host ring */
	uint8_t userdata[120];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_open_channel_wire) == 148, "open channel");

struct vmbus_open_result_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t status; /* 0 = success */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_open_result_wire) == 20, "open result");

struct vmbus_gpadl_header_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t child_relid;
	uint32_t gpadl;
	uint16_t range_buflen; /* bytes of all ranges incl. PFNs, across bodies */
	uint16_t rangecount;
	/* followed by ranges: {u32 byte_count; u32 byte_offset; u64 pfn[]} */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpadl_header_wire) == 20, "gpadl header");

struct vmbus_gpadl_range_wire {
	uint32_t byte_count;
	uint32_t byte_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpadl_range_wire) == 8, "gpadl range");

struct vmbus_gpadl_body_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t msgnumber; /* GUEST: Linux leaves it 0 */
	uint32_t gpadl;
	/* followed by u64 pfn[] */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpadl_body_wire) == 16, "gpadl body");

struct vmbus_gpadl_created_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t child_relid;
	uint32_t gpadl;
	uint32_t creation_status; /* 0 = ok */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpadl_created_wire) == 20, "gpadl created");

struct vmbus_gpadl_teardown_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t child_relid;
	uint32_t gpadl;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpadl_teardown_wire) == 16, "gpadl teardown");

struct vmbus_gpadl_torndown_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t gpadl;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpadl_torndown_wire) == 12, "gpadl torndown");

struct vmbus_modify_channel_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t child_relid;
	uint32_t target_vp;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_modify_channel_wire) == 16, "modify channel");

struct vmbus_modify_channel_response_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint32_t child_relid;
	uint32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_modify_channel_response_wire) == 16, "modify response");

struct vmbus_tl_connect_request_wire {
	struct vmbus_msg_hdr_wire hdr;
	uint8_t guest_endpoint_id[16];
	uint8_t host_service_id[16];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_tl_connect_request_wire) == 40, "tl connect");

/* ---- ring buffers ---- */

#define VMBUS_RING_HEADER_BYTES 4096u
#define VMBUS_RING_FEAT_PENDING_SEND_SZ 1u

struct vmbus_ring_hdr_wire {
	uint32_t write_index;     /* producer's byte offset of the next write */
	uint32_t read_index;      /* consumer's byte offset of the next read */
	uint32_t interrupt_mask;  /* consumer: 1 = do not signal me */
	uint32_t pending_send_sz; /* producer: bytes it waits for, 0 = none */
	uint32_t reserved1[12];
	uint32_t feature_bits;    /* bit 0: pending_send_sz is honoured */
	uint8_t reserved2[4028];
};
_Static_assert(sizeof(struct vmbus_ring_hdr_wire) == 4096, "ring header");
_Static_assert(offsetof(struct vmbus_ring_hdr_wire, feature_bits) == 64, "feature bits");

/* Packet types. */
#define VMBUS_PKT_INVALID 0u
#define VMBUS_PKT_SYNCH 1u
#define VMBUS_PKT_ADD_XFER_PAGESET 2u
#define VMBUS_PKT_RM_XFER_PAGESET 3u
#define VMBUS_PKT_ESTABLISH_GPADL 4u
#define VMBUS_PKT_TEARDOWN_GPADL 5u
#define VMBUS_PKT_DATA_INBAND 6u
#define VMBUS_PKT_DATA_USING_XFER_PAGES 7u
#define VMBUS_PKT_DATA_USING_GPADL 8u
#define VMBUS_PKT_DATA_USING_GPA_DIRECT 9u
#define VMBUS_PKT_CANCEL_REQUEST 10u
#define VMBUS_PKT_COMP 11u
#define VMBUS_PKT_DATA_USING_ADDITIONAL_PKT 12u
#define VMBUS_PKT_ADDITIONAL_DATA 13u

#define VMBUS_PKT_FLAG_COMPLETION_REQUESTED 1u

struct vmbus_pkt_desc_wire {
	uint16_t type;
	uint16_t offset8; /* payload offset from packet start, 8-byte units */
	uint16_t len8;    /* packet length without trailer, 8-byte units */
	uint16_t flags;
	uint64_t trans_id;
};
_Static_assert(sizeof(struct vmbus_pkt_desc_wire) == 16, "packet descriptor");

/* Packets are followed by this trailer: (start offset of the packet) << 32. */
#define VMBUS_PKT_TRAILER_BYTES 8u

/* Linux request-id constants (reference Appendix B). */
#define VMBUS_RQST_ID_NO_RESPONSE 0xFFFFFFFFFFFFFFFDull

#endif
