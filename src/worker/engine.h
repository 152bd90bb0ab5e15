/* SPDX-License-Identifier: MIT */
/*
 * What the worker runs: a VM engine behind a small ops table. "vm" is the
 * real one (src/vmm/vm.h); "idle" is a guest-less test double used by the
 * service tests on machines that cannot run guests: it has the same
 * lifecycle, writes a banner to the serial console and echoes console input,
 * and powers off or "crashes" when told so on the console.
 */
#ifndef OPENHV_WORKER_ENGINE_H
#define OPENHV_WORKER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/ctl_proto.h"

/* A disk image or TAP the service opened; the engine dup()s what it keeps. */
struct engine_disk {
	int fd;
	int parent_fds[CTL_MAX_DISK_PARENTS];   /* differencing image: its parents, nearest first */
	unsigned int n_parents;
	const char *label;      /* the image's file name, for messages and format hints */
	bool read_only;
	bool dvd;
};

struct engine_nic {
	int fd;                 /* attached TAP (IFF_TAP | IFF_NO_PI) */
	const char *ifname;
	uint8_t mac[6];
	bool has_mac;
};

struct engine_params {
	const char *name;
	const char *cmdline;
	uint64_t mem_bytes;
	unsigned int cpus;
	int kvm_fd;             /* -1 if not passed */
	int kernel_fd;
	int initrd_fd;          /* -1 if none */
	int console_in_fd;
	int console_out_fd;
	unsigned int n_disks;
	struct engine_disk disks[CTL_MAX_DISKS];
	unsigned int n_nics;
	struct engine_nic nics[CTL_MAX_NICS];
};

struct engine;

struct engine_ops {
	const char *name;
	uint32_t caps;          /* CTL_CAP_* this engine offers */
	/*
	 * Assemble the machine; reads kernel/initrd. Runs before the sandbox is
	 * sealed. Every descriptor in p stays the caller's: the engine dup()s
	 * what it needs later (a guest reboot rebuilds the machine from them).
	 */
	int (*create)(const struct engine_params *p, struct engine **ret, char *err, size_t errlen);
	int (*start)(struct engine *e);
	void (*request_stop)(struct engine *e);        /* hard stop */
	/*
	 * Ask the guest to shut down (shutdown IC); NULL if the engine cannot.
	 * Fails (e.g. -ENOTCONN) when the guest has no shutdown service.
	 */
	int (*request_shutdown)(struct engine *e);
	int (*pause)(struct engine *e);
	int (*resume)(struct engine *e);
	/* Guest integration-service status as a JSON object (at most len bytes); NULL if none. */
	int (*guest_info)(struct engine *e, char *json, size_t len);
	/*
	 * Hot-plug (NULL if the engine cannot): add d (the engine dup()s its fd)
	 * at a free LUN returned in *lun, or remove the disk at lun. err gets one
	 * line for people on failure.
	 */
	int (*disk_add)(struct engine *e, const struct engine_disk *d, unsigned int *lun, char *err,
			size_t errlen);
	int (*disk_remove)(struct engine *e, unsigned int lun, char *err, size_t errlen);
	/* Block until the VM ends; fills detail. */
	enum ctl_exit_kind (*wait)(struct engine *e, char *detail, size_t len);
	void (*destroy)(struct engine *e);
};

extern const struct engine_ops engine_idle_ops;
#ifdef HAVE_VMM_ENGINE
extern const struct engine_ops engine_vm_ops;
#endif

#endif
