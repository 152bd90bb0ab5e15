/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V integration-component (IC) wire formats: the pipe and IC message
 * headers, version negotiation, heartbeat, shutdown, time sync and KVP
 * messages, and the class GUIDs the Linux hv_utils driver binds to.
 * Layouts only; raw, little-endian, untrusted. Facts from
 * hyperv-guest-interface.md §5 and §8, checked against Linux 6.1
 * drivers/hv/{hv_util,hv_kvp,channel_mgmt}.c and include/uapi/linux/hyperv.h.
 */
#ifndef OPENHV_IC_PROTO_H
#define OPENHV_IC_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* icmsg_hdr.icmsgtype */
#define ICMSGTYPE_NEGOTIATE 0u
#define ICMSGTYPE_HEARTBEAT 1u
#define ICMSGTYPE_KVPEXCHANGE 2u
#define ICMSGTYPE_SHUTDOWN 3u
#define ICMSGTYPE_TIMESYNC 4u

/* icmsg_hdr.icflags */
#define ICMSGHDRFLAG_TRANSACTION 1u
#define ICMSGHDRFLAG_REQUEST 2u
#define ICMSGHDRFLAG_RESPONSE 4u

/* icmsg_hdr.status */
#define HV_S_OK 0x00000000u
#define HV_E_FAIL 0x80004005u
#define HV_S_CONT 0x80070103u

#define IC_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define IC_NEGOTIATE_MAX_VERCNT 100u

struct ic_pipe_hdr_wire {
	uint32_t flags;   /* 0 */
	uint32_t msgsize; /* ignored by Linux; we put icmsg header + data */
};
_Static_assert(sizeof(struct ic_pipe_hdr_wire) == 8, "vmbuspipe_hdr");

struct ic_version_wire {
	uint16_t major;
	uint16_t minor;
};

struct ic_msg_hdr_wire {
	struct ic_version_wire icverframe; /* framework version in use */
	uint16_t icmsgtype;                /* ICMSGTYPE_* */
	struct ic_version_wire icvermsg;   /* service version in use */
	uint16_t icmsgsize;                /* bytes of data after the header */
	uint32_t status;                   /* HV_S_OK / HV_E_FAIL / ... */
	uint8_t ictransaction_id;
	uint8_t icflags;                   /* request 3, response 5 */
	uint8_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct ic_msg_hdr_wire) == 20, "icmsg_hdr");

/* Pipe header + IC header: where message data starts in every IC packet. */
#define IC_HDR_BYTES 28u

struct ic_negotiate_wire {
	uint16_t icframe_vercnt; /* framework versions that follow */
	uint16_t icmsg_vercnt;   /* then this many service versions */
	uint32_t reserved;
	/* struct ic_version_wire versions[] */
} __attribute__((packed));
_Static_assert(sizeof(struct ic_negotiate_wire) == 8, "icmsg_negotiate");

struct ic_heartbeat_wire {
	uint64_t seq_num; /* the guest answers with seq_num + 1 */
	uint32_t reserved[8];
} __attribute__((packed));
_Static_assert(sizeof(struct ic_heartbeat_wire) == 40, "heartbeat data");

#define IC_SHUTDOWN_FLAG_FORCE 1u
#define IC_SHUTDOWN_FLAG_REBOOT 2u
#define IC_SHUTDOWN_FLAG_HIBERNATE 4u

struct ic_shutdown_wire {
	uint32_t reason_code;
	uint32_t timeout_seconds;
	uint32_t flags;          /* 0 power off, 2 reboot, 4 hibernate; | 1 force */
	uint8_t display_message[2048];
} __attribute__((packed));
_Static_assert(sizeof(struct ic_shutdown_wire) == 2060, "shutdown data");

#define IC_TIMESYNC_FLAG_PROBE 0u
#define IC_TIMESYNC_FLAG_SYNC 1u
#define IC_TIMESYNC_FLAG_SAMPLE 2u
/* 100 ns intervals between 1601-01-01 and 1970-01-01. */
#define IC_WLTIMEDELTA 116444736000000000ull

struct ic_timesync_ref_wire { /* service version >= 4.0 */
	uint64_t parenttime;      /* host UTC, 100 ns since 1601 */
	uint64_t vmreferencetime; /* partition reference time when parenttime was taken */
	uint8_t flags;
	int8_t leapflags;
	int8_t stratum;
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct ic_timesync_ref_wire) == 22, "timesync v4");

struct ic_timesync_wire { /* service versions 1.0 and 3.0 */
	uint64_t parenttime;
	uint64_t childtime;
	uint64_t roundtriptime;
	uint8_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct ic_timesync_wire) == 25, "timesync v3");

/* KVP */
#define KVP_OP_GET 0u
#define KVP_OP_SET 1u
#define KVP_OP_DELETE 2u
#define KVP_OP_ENUMERATE 3u

#define KVP_POOL_EXTERNAL 0u
#define KVP_POOL_GUEST 1u
#define KVP_POOL_AUTO 2u
#define KVP_POOL_AUTO_EXTERNAL 3u
#define KVP_POOL_AUTO_INTERNAL 4u
#define KVP_POOL_COUNT 5u

#define KVP_REG_SZ 1u
#define KVP_REG_U32 4u
#define KVP_REG_U64 8u

#define KVP_MAX_KEY_BYTES 512u    /* UTF-16LE incl. terminator */
#define KVP_MAX_VALUE_BYTES 2048u

struct kvp_hdr_wire {
	uint8_t operation;
	uint8_t pool;
	uint16_t pad;
} __attribute__((packed));

struct kvp_value_wire {
	uint32_t value_type; /* KVP_REG_* */
	uint32_t key_size;   /* bytes incl. UTF-16 terminator */
	uint32_t value_size;
	uint8_t key[KVP_MAX_KEY_BYTES];
	uint8_t value[KVP_MAX_VALUE_BYTES];
} __attribute__((packed));
_Static_assert(sizeof(struct kvp_value_wire) == 2572, "kvp value");

struct kvp_enumerate_msg_wire {
	struct kvp_hdr_wire hdr;
	uint32_t index;
	struct kvp_value_wire data;
} __attribute__((packed));
_Static_assert(sizeof(struct kvp_enumerate_msg_wire) == 2580, "kvp enumerate msg");

struct kvp_set_msg_wire { /* also GET */
	struct kvp_hdr_wire hdr;
	struct kvp_value_wire data;
} __attribute__((packed));
_Static_assert(sizeof(struct kvp_set_msg_wire) == 2576, "kvp set msg");

struct kvp_delete_msg_wire {
	struct kvp_hdr_wire hdr;
	uint32_t key_size;
	uint8_t key[KVP_MAX_KEY_BYTES];
} __attribute__((packed));
_Static_assert(sizeof(struct kvp_delete_msg_wire) == 520, "kvp delete msg");

/* Class GUIDs (if_type, raw wire bytes). */
#define IC_GUID_HEARTBEAT                                                                  \
	{ 0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e,                                  \
	  0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d }
#define IC_GUID_SHUTDOWN                                                                   \
	{ 0x31, 0x60, 0x0b, 0x0e, 0x13, 0x52, 0x34, 0x49,                                  \
	  0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb }
#define IC_GUID_TIMESYNC                                                                   \
	{ 0x30, 0xe6, 0x27, 0x95, 0xae, 0xd0, 0x7b, 0x49,                                  \
	  0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf }
#define IC_GUID_KVP                                                                        \
	{ 0xe7, 0xf4, 0xa0, 0xa9, 0x45, 0x5a, 0x96, 0x4d,                                  \
	  0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6 }

#endif
