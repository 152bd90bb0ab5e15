/* SPDX-License-Identifier: MIT */
/*
 * The virtual machine as one object: configuration, assembly of the child
 * partition (memory, VPs, platform devices, boot), the run loop, and the
 * control surface used by `openhv run` and by the per-VM worker process.
 *
 * Threads: vm_start() starts one thread per virtual processor. Every other
 * vm_* call may come from any single controlling thread.
 */
#ifndef OPENHV_VMM_VM_H
#define OPENHV_VMM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_MIN_MEM (32ULL << 20)
#define VM_MAX_CPUS 240
#define VM_MAX_DISKS 64
#define VM_DISK_PARENTS_MAX 8   /* = STORVSP_BLK_PARENTS_MAX */
#define VM_MAX_NICS 8

/* A disk on the synthetic SCSI controller (storvsp). */
struct vm_disk_config {
	const char *path;        /* raw, VHD or VHDX image, or an ISO for a DVD (names it in messages) */
	int fd;                  /* >= 0: the image already open (the VM dup()s it, the caller keeps
				  * its own); -1: open path. vm_disk_config_init() sets -1. */
	/* With fd >= 0, a differencing image's parents, nearest first, already open
	 * read-only (dup()ed like fd); the chain was resolved by whoever opened them. */
	int parent_fds[VM_DISK_PARENTS_MAX];
	unsigned int n_parents;
	bool read_only;
	bool dvd;                /* CD/DVD drive (read-only medium) */
};

/* A synthetic NIC (netvsp). Exactly one of tap / switch_name is set. */
struct vm_nic_config {
	const char *tap;         /* existing TAP interface name */
	const char *switch_name; /* openhv virtual switch */
	int tap_fd;              /* >= 0: the TAP already open and attached (the VM dup()s it);
				  * -1: open the interface named by tap. vm_nic_config_init() sets -1. */
	uint8_t mac[6];
	bool has_mac;            /* else a locally administered MAC is generated */
	uint16_t vlan;           /* access-mode VLAN id, 0 = untagged */
	bool allow_mac_spoofing; /* let the guest send from other MACs (default: netvsp drops them) */
};

struct vm_config {
	const char *name;         /* for logs; may be NULL */
	const char *kernel_path;  /* bzImage (names it in messages when kernel_fd is given) */
	const char *initrd_path;  /* may be NULL */
	int kernel_fd, initrd_fd; /* >= 0: already open (the VM dup()s them); -1: open the paths */
	const char *cmdline;      /* may be NULL */
	uint64_t mem_bytes;
	unsigned int cpus;
	bool no_reboot;           /* guest reboot ends the VM instead of restarting it */
	int console_in_fd;        /* serial input, -1 for none */
	int console_out_fd;       /* serial output, -1 to discard */
	int64_t rtc_offset_sec;   /* emulated CMOS clock = host UTC + offset */
	int kvm_fd;               /* an open /dev/kvm, or -1 to open it */
	bool hyperv;              /* Hyper-V enlightenments, VMBus, integration services (default on) */
	const char *const *kvp;   /* host KVP pairs "KEY=VALUE" pushed to the guest; NULL-terminated or NULL */
	const struct vm_disk_config *disks; /* n_disks entries, LUN 0.. (needs hyperv) */
	unsigned int n_disks;
	bool scsi_controller;     /* offer the SCSI controller even with no disks (hot-add) */
	const struct vm_nic_config *nics;   /* n_nics entries (needs hyperv) */
	unsigned int n_nics;
};

/* What the integration services report about the guest (vm_guest_info). */
struct vm_guest_info {
	bool vmbus_connected;     /* the guest's VMBus driver is connected */
	uint32_t vmbus_version;
	bool heartbeat_ready, heartbeat_alive;
	uint64_t heartbeat_seq;
	bool shutdown_ready, timesync_ready, kvp_ready;
	uint64_t timesync_samples;
	unsigned int boots;       /* 1 + guest reboots so far */
};

/* How a VM's run ended (vm_wait). */
enum vm_exit {
	VM_EXIT_POWEROFF = 0,     /* guest powered off */
	VM_EXIT_REBOOT,           /* guest asked to reboot and no_reboot was set */
	VM_EXIT_STOPPED,          /* host stopped it (vm_request_stop) */
	VM_EXIT_CRASH,            /* triple fault, KVM internal error, guest panic */
	VM_EXIT_ERROR,            /* host-side failure */
};

struct vm;

/* Fill defaults: 512 MiB, 1 CPU, console on stdin/stdout, no fds passed. */
void vm_config_init(struct vm_config *cfg);
void vm_disk_config_init(struct vm_disk_config *d);
void vm_nic_config_init(struct vm_nic_config *n);

/*
 * Check a configuration before anything is created. On failure returns
 * -EINVAL (or -errno) and writes one line for people into err, saying what is
 * wrong and how to fix it.
 */
int vm_config_check(const struct vm_config *cfg, char *err, size_t errlen);

/* Build the partition and load the guest; nothing runs yet. err as above. */
int vm_create(const struct vm_config *cfg, struct vm **ret_vm, char *err, size_t errlen);

/* Start the virtual processors. */
int vm_start(struct vm *vm);

/* Ask the VM to end (hard stop): VPs leave KVM_RUN and vm_wait returns VM_EXIT_STOPPED. */
void vm_request_stop(struct vm *vm);

/*
 * Ask the guest to shut down cleanly through the shutdown integration
 * service. 0 = request sent; -ENOTCONN when the guest has no shutdown
 * service (the caller may hard-stop instead); -EBUSY/-EAGAIN: try again.
 */
int vm_request_shutdown(struct vm *vm);

/* Guest state from the integration services. 0, or -ENOTSUP without Hyper-V. */
int vm_guest_info(struct vm *vm, struct vm_guest_info *ret);
/* Guest-reported KVP values (ic.h struct ic_kvp_entry); returns the count or -errno. */
struct ic_kvp_entry;
int vm_guest_kvp_list(struct vm *vm, struct ic_kvp_entry *out, size_t max);

/*
 * Hot-add a disk to the running VM's SCSI controller at the lowest free LUN
 * (returned in *ret_lun); the guest re-scans and sees it. d->fd >= 0 is
 * dup()ed and kept by the VM (a guest reboot keeps the disk); d->path names
 * it (and is opened when fd is -1). -ENODEV: the VM has no SCSI controller
 * (no disks at start and no scsi_controller); -EEXIST: that image is attached
 * already; -ENOSPC: every LUN is taken. err gets one line for people.
 */
int vm_disk_add(struct vm *vm, const struct vm_disk_config *d, unsigned int *ret_lun, char *err,
		size_t errlen);
/*
 * Hot-remove the disk at lun: the guest is told, requests in flight finish,
 * the image is flushed and closed. -ENOENT when no disk is there.
 */
int vm_disk_remove(struct vm *vm, unsigned int lun, char *err, size_t errlen);

/* Pause and resume all virtual processors. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);

/*
 * Wait until the VM ends; handles guest reboot internally (resets and boots
 * again unless no_reboot). Returns the reason; details (e.g. crash text) are
 * in vm_exit_detail().
 */
enum vm_exit vm_wait(struct vm *vm);
const char *vm_exit_detail(const struct vm *vm);
const char *vm_exit_name(enum vm_exit e);

void vm_destroy(struct vm *vm);

#endif
