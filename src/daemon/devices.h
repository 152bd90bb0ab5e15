/* SPDX-License-Identifier: MIT */
/*
 * openhvd: opening a VM's disks and TAP interfaces on behalf of its
 * sandboxed worker (devices.c).
 */
#ifndef OPENHV_DAEMON_DEVICES_H
#define OPENHV_DAEMON_DEVICES_H

#include "api/api.h"
#include "api/ctl_proto.h"

/*
 * Open disk idx (read-write, or read-only when marked so) and fill its SETUP
 * details. Differencing images are refused (their parents could not be
 * opened by the worker). Returns the descriptor or -errno with e set.
 */
int dev_open_disk(const struct api_disk *d, unsigned int idx, struct ctl_disk_wire *w,
		  struct api_error *e);

/*
 * Attach to the existing TAP interface of NIC idx, or open a port on its
 * virtual switch. Returns the descriptor or -errno, e set.
 */
int dev_open_tap(const struct api_nic *n, unsigned int idx, struct ctl_nic_wire *w,
		 struct api_error *e);

#endif
