/* SPDX-License-Identifier: MIT */
/*
 * storvsc wire format (Linux 6.1 drivers/scsi/storvsc_drv.c), as described in
 * hyperv-guest-interface.md §6: the 64-byte vstor_packet with the 52-byte
 * "Win8" vmscsi_request, channel properties and the GPA-direct range header.
 * Everything here arrives from the guest: read once, validate the copy.
 */
#ifndef OPENHV_STORVSP_PROTO_H
#define OPENHV_STORVSP_PROTO_H

#include <stdint.h>

/* Operations (vstor_packet.operation). */
#define VSTOR_OP_COMPLETE_IO 1u
#define VSTOR_OP_REMOVE_DEVICE 2u
#define VSTOR_OP_EXECUTE_SRB 3u
#define VSTOR_OP_RESET_LUN 4u
#define VSTOR_OP_RESET_ADAPTER 5u
#define VSTOR_OP_RESET_BUS 6u
#define VSTOR_OP_BEGIN_INIT 7u
#define VSTOR_OP_END_INIT 8u
#define VSTOR_OP_QUERY_PROTOCOL_VERSION 9u
#define VSTOR_OP_QUERY_PROPERTIES 10u
#define VSTOR_OP_ENUMERATE_BUS 11u
#define VSTOR_OP_FCHBA_DATA 12u
#define VSTOR_OP_CREATE_SUB_CHANNELS 13u

#define VSTOR_FLAG_REQUEST_COMPLETION 1u

/* vstor_channel_props.flags: sub-channels may be requested (max_channel_cnt of them). */
#define VSTOR_PROPS_MULTI_CHANNEL 1u

/* Protocol versions Linux 6.1 proposes, newest first. */
#define VSTOR_PROTO_WIN8 0x0501u
#define VSTOR_PROTO_WIN8_1 0x0600u
#define VSTOR_PROTO_WIN10 0x0602u

/* NT-status style results in vstor_packet.status. */
#define VSTOR_STATUS_SUCCESS 0u
#define VSTOR_STATUS_UNSUCCESSFUL 0xC0000001u
#define VSTOR_STATUS_INVALID_DEVICE_STATE 0xC0000184u
#define VSTOR_STATUS_REVISION_MISMATCH 0xC0000059u

/* SRB status (vmscsi_request.srb_status). */
#define SRB_STATUS_SUCCESS 0x01u
#define SRB_STATUS_ABORTED 0x02u
#define SRB_STATUS_ERROR 0x04u
#define SRB_STATUS_INVALID_REQUEST 0x06u
#define SRB_STATUS_DATA_OVERRUN 0x12u
#define SRB_STATUS_INVALID_LUN 0x20u
#define SRB_STATUS_AUTOSENSE_VALID 0x80u

/* vmscsi_request.data_in */
#define VSTOR_DATA_WRITE 0u  /* to the device */
#define VSTOR_DATA_READ 1u   /* from the device */
#define VSTOR_DATA_NONE 2u

#define VSTOR_CDB_MAX 16u
#define VSTOR_SENSE_MAX 20u

struct vmscsi_request_wire {
	uint16_t length;
	uint8_t srb_status;
	uint8_t scsi_status;
	uint8_t port_number;
	uint8_t path_id;
	uint8_t target_id;
	uint8_t lun;
	uint8_t cdb_length;
	uint8_t sense_info_length;
	uint8_t data_in;
	uint8_t reserved;
	uint32_t data_transfer_length;
	union {
		uint8_t cdb[VSTOR_CDB_MAX];
		uint8_t sense_data[VSTOR_SENSE_MAX];
	};
	uint16_t reserve;
	uint8_t queue_tag;
	uint8_t queue_action;
	uint32_t srb_flags;
	uint32_t time_out_value;
	uint32_t queue_sort_key;
} __attribute__((packed));
_Static_assert(sizeof(struct vmscsi_request_wire) == 52, "vmscsi_request");

struct vstor_channel_props_wire {
	uint32_t reserved;
	uint16_t max_channel_cnt;
	uint16_t reserved1;
	uint32_t flags;
	uint32_t max_transfer_bytes;
	uint64_t reserved2;
} __attribute__((packed));
_Static_assert(sizeof(struct vstor_channel_props_wire) == 24, "channel properties");

struct vstor_protocol_version_wire {
	uint16_t major_minor;
	uint16_t revision;
} __attribute__((packed));

struct vstor_packet_wire {
	uint32_t operation;
	uint32_t flags;
	uint32_t status;
	union {
		struct vmscsi_request_wire srb;
		struct vstor_channel_props_wire props;
		struct vstor_protocol_version_wire version;
		uint16_t sub_channel_count;
		uint8_t raw[52];
	};
} __attribute__((packed));
_Static_assert(sizeof(struct vstor_packet_wire) == 64, "vstor_packet");
_Static_assert(__builtin_offsetof(struct vstor_packet_wire, srb) == 12, "srb offset");

/* GPA-direct packet header after the 16-byte descriptor (reference §4.3). */
struct vmbus_gpa_direct_hdr_wire {
	uint32_t reserved;
	uint32_t range_count;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpa_direct_hdr_wire) == 8, "gpa direct header");

struct vmbus_gpa_range_wire {
	uint32_t byte_count;
	uint32_t byte_offset;
	/* uint64_t pfn[] follows */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpa_range_wire) == 8, "gpa range");

#endif
