/* SPDX-License-Identifier: MIT */
/*
 * The Hyper-V side of one child partition: the enlightenments (hv/), the
 * VMBus server (vmbus/) and the integration services (vsp/ic/), wired to the
 * partition's exits, plus the VM's event-loop thread that runs VMBus work and
 * IC timers. Created with each partition incarnation (a guest reboot builds a
 * fresh one), so nothing here survives a reboot except what the caller keeps.
 */
#ifndef OPENHV_VMM_HYPERV_H
#define OPENHV_VMM_HYPERV_H

#include <stdbool.h>
#include <stdint.h>

#include "gm/gm.h"
#include "hv/hv.h"
#include "part/part.h"
#include "vsp/ic/ic.h"

struct vm_hyperv;

/* Called on a vCPU thread when the guest reports a crash through the crash MSRs. */
typedef void (*vm_hyperv_crash_fn)(void *opaque, const struct hv_crash_report *report);

/* Prepare the enlightenments for a partition of n_vps over gm: the CPUID and
 * MSR hooks exist from here on; hv, VMBus and ICs are built by start. */
int vm_hyperv_new(struct gm *gm, unsigned int n_vps, vm_hyperv_crash_fn crash, void *opaque,
		  struct vm_hyperv **ret);
/* The hooks the partition needs (CPUID, MSRs, hypercall port). Valid while h lives. */
const struct part_hooks *vm_hyperv_hooks(struct vm_hyperv *h);
/* Attach the partition (interrupts, guest TSC and its frequency), build hv,
 * VMBus and the ICs, and start the event loop. Before any VP runs. */
int vm_hyperv_start(struct vm_hyperv *h, struct part *p);
/* Stop the event loop (VSPs may then be freed safely). Accepts NULL; idempotent. */
void vm_hyperv_stop(struct vm_hyperv *h);
/* Stop the event loop and free everything. Accepts NULL. */
void vm_hyperv_free(struct vm_hyperv *h);

/* Host-side integration services (any thread). */
struct ic *vm_hyperv_ic(struct vm_hyperv *h);
struct vmbus_server *vm_hyperv_vmbus(struct vm_hyperv *h);

#endif
