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
 * details. A differencing image's parents are opened read-only into
 * parents[] (nearest first, at most CTL_MAX_DISK_PARENTS; *n_parents set),
 * for the worker, which cannot open files; with parents NULL (hot-add)
 * differencing images are refused. Returns the descriptor or -errno with e
 * set (then nothing is left open).
 */
int dev_open_disk(const struct api_disk *d, unsigned int idx, struct ctl_disk_wire *w,
		  int *parents, unsigned int *n_parents, struct api_error *e);

/*
 * Attach to the existing TAP interface of NIC idx, or open a port on its
 * virtual switch. Returns the descriptor or -errno, e set.
 */
int dev_open_tap(const struct api_nic *n, unsigned int idx, struct ctl_nic_wire *w,
		 struct api_error *e);

#endif
