/* SPDX-License-Identifier: MIT */
/*
 * Control protocol between openhvd and an openhv-worker (one per running VM),
 * carried over an AF_UNIX SOCK_SEQPACKET connection: one message per packet,
 * a fixed header, a fixed body per type and an optional text tail. Both
 * sides run on the same host, so fields are in host byte order.
 *
 * The service treats the worker as untrusted (it runs guest-facing code):
 * every packet is length-checked and every enum range-checked on receipt.
 *
 *   service -> worker: SETUP (once, with descriptors in SCM_RIGHTS), CMD, INPUT
 *   worker -> service: HELLO (after SETUP and on every reconnection), STATE,
 *                      EXITED (last message), REPLY (one per CMD, same seq)
 *
 * Integration services: CTL_CAP_* bits announce what the worker can do; with
 * CTL_CAP_SHUTDOWN_IC a CMD_STOP first asks the guest to shut down and only
 * hard-stops after the grace period; CMD_GUEST_INFO returns heartbeat/KVP as
 * JSON. With CTL_CAP_DISK_HOTPLUG, CMD_DISK_ADD (the image's descriptor rides
 * along in SCM_RIGHTS) answers "lun=N" and CMD_DISK_REMOVE takes a LUN.
 */
#ifndef OPENHV_API_CTL_PROTO_H
#define OPENHV_API_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CTL_PROTO_VERSION 2
#define CTL_MAX_PACKET 4096
#define CTL_MAX_FDS 32
#define CTL_NAME_MAX 64
#define CTL_MAX_DISKS 16
#define CTL_MAX_NICS 8
#define CTL_LABEL_MAX 40
#define CTL_IFNAME_MAX 16
#define CTL_TEXT_MAX (CTL_MAX_PACKET - 256)

enum ctl_type {
	CTL_SETUP = 1,
	CTL_HELLO = 2,
	CTL_STATE = 3,
	CTL_EXITED = 4,
	CTL_CMD = 5,
	CTL_REPLY = 6,
	CTL_INPUT = 7,
};

struct ctl_hdr_wire {
	uint32_t type;
	uint32_t len;           /* bytes after this header */
};
_Static_assert(sizeof(struct ctl_hdr_wire) == 8, "ctl header size");

/* Roles of the descriptors that travel with SETUP, in order. */
enum ctl_fd_role {
	CTL_FD_KVM = 1,         /* open /dev/kvm */
	CTL_FD_KERNEL = 2,      /* kernel image, read-only */
	CTL_FD_INITRD = 3,      /* initrd, read-only */
	CTL_FD_CONSOLE_LOG = 4, /* serial console log, append-only */
	CTL_FD_DISK = 5,        /* disk image, in config order */
	CTL_FD_TAP = 6,         /* tap device, in config order */
	CTL_FD_DISK_PARENT = 7, /* read-only parent image of the CTL_FD_DISK before it (nearest
				 * parent first, at most CTL_MAX_DISK_PARENTS per disk): the
				 * service resolved the differencing chain */
};
#define CTL_MAX_DISK_PARENTS 8

#define CTL_SETUP_F_IDLE_ENGINE (1u << 0)  /* test engine: no guest, see worker/engine_idle.c */
#define CTL_SETUP_F_NO_SANDBOX (1u << 1)   /* debugging only; logged loudly */

/*
 * Per-disk details, one per CTL_FD_DISK descriptor in the same order. The
 * label (the image's file name, shortened) names the disk in messages and
 * lets the disk library recognise a format by its extension.
 */
#define CTL_DISK_F_RDONLY (1u << 0)
#define CTL_DISK_F_DVD (1u << 1)
#define CTL_DISK_F__ALL (CTL_DISK_F_RDONLY | CTL_DISK_F_DVD)
struct ctl_disk_wire {
	char label[CTL_LABEL_MAX];      /* NUL-terminated */
	uint32_t flags;                 /* CTL_DISK_F_* */
	uint32_t reserved;              /* 0 */
};
_Static_assert(sizeof(struct ctl_disk_wire) == CTL_LABEL_MAX + 8, "ctl disk size");

/* Per-NIC details, one per CTL_FD_TAP descriptor in the same order. */
struct ctl_nic_wire {
	char ifname[CTL_IFNAME_MAX];    /* host TAP interface name, NUL-terminated */
	uint8_t mac[6];
	uint8_t has_mac;                /* 0 or 1; else the VM makes one up */
	uint8_t reserved;               /* 0 */
};
_Static_assert(sizeof(struct ctl_nic_wire) == CTL_IFNAME_MAX + 8, "ctl nic size");

struct ctl_setup_wire {
	uint64_t mem_bytes;
	uint32_t cpus;
	uint32_t flags;
	uint32_t uid;           /* drop to this uid/gid when started as root */
	uint32_t gid;
	uint32_t service_uid;   /* only this uid may reconnect on the runtime socket */
	uint32_t n_fds;
	uint32_t fd_roles[CTL_MAX_FDS];
	uint64_t console_log_max;
	char name[CTL_NAME_MAX];        /* NUL-terminated */
	uint32_t n_disks;               /* = number of CTL_FD_DISK roles */
	uint32_t n_nics;                /* = number of CTL_FD_TAP roles */
	struct ctl_disk_wire disks[CTL_MAX_DISKS];
	struct ctl_nic_wire nics[CTL_MAX_NICS];
	/* followed by the kernel command line (no NUL) */
};
_Static_assert(sizeof(struct ctl_setup_wire) == 32 + 4 * CTL_MAX_FDS + 8 + CTL_NAME_MAX + 8 +
	       CTL_MAX_DISKS * sizeof(struct ctl_disk_wire) +
	       CTL_MAX_NICS * sizeof(struct ctl_nic_wire), "ctl setup size");
_Static_assert(sizeof(struct ctl_hdr_wire) + sizeof(struct ctl_setup_wire) + 2047 <=
	       CTL_MAX_PACKET, "SETUP with the longest command line fits one packet");

#define CTL_CAP_SHUTDOWN_IC (1u << 0)
#define CTL_CAP_HEARTBEAT (1u << 1)
#define CTL_CAP_KVP (1u << 2)
#define CTL_CAP_DISK_HOTPLUG (1u << 3)
#define CTL_CAP_SANDBOXED (1u << 8)

struct ctl_hello_wire {
	uint32_t version;
	uint32_t state;         /* enum api_vm_state */
	uint32_t caps;
	uint32_t sandbox_flags; /* CTL_SBX_* actually in force */
	uint64_t started_unix;  /* wall-clock start, seconds */
	char name[CTL_NAME_MAX];
};
_Static_assert(sizeof(struct ctl_hello_wire) == 24 + CTL_NAME_MAX, "ctl hello size");

#define CTL_SBX_UID (1u << 0)       /* runs as an unprivileged uid */
#define CTL_SBX_NOCAPS (1u << 1)
#define CTL_SBX_NNP (1u << 2)       /* no_new_privs */
#define CTL_SBX_SECCOMP (1u << 3)
#define CTL_SBX_MNTNS (1u << 4)     /* own mount namespace with an empty root */
#define CTL_SBX_NETNS (1u << 5)
#define CTL_SBX_IPCNS (1u << 6)
#define CTL_SBX_UTSNS (1u << 7)

struct ctl_state_wire {
	uint32_t state;         /* enum api_vm_state */
	uint32_t reserved;
	/* followed by a reason text */
};
_Static_assert(sizeof(struct ctl_state_wire) == 8, "ctl state size");

enum ctl_exit_kind {
	CTL_EXIT_POWEROFF = 0,
	CTL_EXIT_REBOOT,
	CTL_EXIT_STOPPED,
	CTL_EXIT_CRASH,
	CTL_EXIT_ERROR,        /* host-side failure, including failure to start */
	CTL_EXIT__COUNT,
};

struct ctl_exited_wire {
	uint32_t kind;          /* enum ctl_exit_kind */
	uint32_t was_running;   /* the guest had started */
	/* followed by detail text */
};
_Static_assert(sizeof(struct ctl_exited_wire) == 8, "ctl exited size");

enum ctl_cmd {
	CTL_CMD_PAUSE = 1,
	CTL_CMD_RESUME = 2,
	CTL_CMD_STOP = 3,       /* graceful if CTL_CAP_SHUTDOWN_IC, else hard */
	CTL_CMD_HARD_STOP = 4,
	CTL_CMD_GUEST_INFO = 5,
	CTL_CMD_PING = 6,
	CTL_CMD_DISK_ADD = 7,   /* one disk descriptor in SCM_RIGHTS; text: its label */
	CTL_CMD_DISK_REMOVE = 8,
	CTL_CMD__LAST = CTL_CMD_DISK_REMOVE,
};

struct ctl_cmd_wire {
	uint64_t seq;
	uint32_t cmd;
	/*
	 * CMD_STOP: grace period in ms before the hard stop; CMD_DISK_ADD:
	 * CTL_DISK_F_* flags; CMD_DISK_REMOVE: the LUN; otherwise 0.
	 */
	uint32_t arg;
};
_Static_assert(sizeof(struct ctl_cmd_wire) == 16, "ctl cmd size");

struct ctl_reply_wire {
	uint64_t seq;
	int32_t result;         /* 0 or -errno */
	uint32_t reserved;
	/* followed by a message (text, or JSON for GUEST_INFO) */
};
_Static_assert(sizeof(struct ctl_reply_wire) == 16, "ctl reply size");

/* A decoded message; text is NUL-terminated and bounded. */
struct ctl_msg {
	enum ctl_type type;
	union {
		struct ctl_setup_wire setup;
		struct ctl_hello_wire hello;
		struct ctl_state_wire state;
		struct ctl_exited_wire exited;
		struct ctl_cmd_wire cmd;
		struct ctl_reply_wire reply;
	} u;
	size_t text_len;
	char text[CTL_TEXT_MAX + 1];   /* tail text; raw bytes for INPUT */
};

/*
 * Encode header + body + tail into buf (CTL_MAX_PACKET bytes). Returns the
 * packet length or -E2BIG if it does not fit.
 */
int ctl_encode(enum ctl_type type, const void *body, size_t body_len, const void *tail,
	       size_t tail_len, uint8_t *buf, size_t cap);

/*
 * Decode one received packet. Checks header length against the packet size,
 * the body size for the type, enum ranges and name termination. Returns 0 or
 * -EBADMSG.
 */
int ctl_decode(const uint8_t *pkt, size_t len, struct ctl_msg *m);

#endif
