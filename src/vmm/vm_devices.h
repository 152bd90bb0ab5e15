/* SPDX-License-Identifier: MIT */
/*
 * Synthetic devices a VM's configuration adds to its VMBus: the SCSI
 * controller with its disks (storvsp) and the NICs (netvsp). Attached after
 * the VMBus server exists and before the VPs run; freed after the event loop
 * has stopped (vm_hyperv_stop) and before the VMBus server goes away.
 */
#ifndef OPENHV_VMM_VM_DEVICES_H
#define OPENHV_VMM_VM_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "gm/gm.h"
#include "vmbus/vmbus.h"
#include "vmm/vm.h"

struct vm_storage;
struct vm_network;

/* Validate device configuration before anything is built; one line in err. */
int vm_devices_check(const struct vm_disk_config *disks, unsigned int n_disks,
		     const struct vm_nic_config *nics, unsigned int n_nics, char *err,
		     size_t errlen);

/*
 * The SCSI controller with disks[i] at LUN i (entries with a NULL path are
 * empty slots). n == 0 without `always` attaches nothing and sets *ret to
 * NULL; with `always` an empty controller is offered (disks hot-added later).
 * max_subchannels: sub-channels (queues) the guest may ask for besides the
 * primary channel.
 */
int vm_storage_attach(struct vmbus_server *srv, struct gm *gm, const struct vm_disk_config *disks,
		      unsigned int n, bool always, unsigned int max_subchannels,
		      struct vm_storage **ret, char *err, size_t errlen);
/* Open d and attach it at a free lun of a running controller; the guest re-scans. */
int vm_storage_hot_add(struct vm_storage *st, unsigned int lun, const struct vm_disk_config *d,
		       char *err, size_t errlen);
/* Detach lun (waits for its requests in flight), then flush and close its disk. */
int vm_storage_hot_remove(struct vm_storage *st, unsigned int lun, char *err, size_t errlen);
void vm_storage_free(struct vm_storage *st);

/* One netvsp per NIC; queues: vRSS channels each NIC offers (1 = none). */
int vm_network_attach(struct vmbus_server *srv, struct gm *gm, const struct vm_nic_config *nics,
		      unsigned int n, unsigned int queues, struct vm_network **ret, char *err,
		      size_t errlen);
void vm_network_free(struct vm_network *net);

#endif
