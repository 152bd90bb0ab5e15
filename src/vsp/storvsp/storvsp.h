/* SPDX-License-Identifier: MIT */
/*
 * storvsp: the host side of Hyper-V synthetic SCSI for the guest's in-box
 * hv_storvsc driver. One VMBus device (SCSI class GUID) = one controller
 * whose disks are LUNs at path 0, target 0. Implements the storvsc init
 * sequence (BEGIN_INIT, protocol versions 0x0602/0x0600/0x0501,
 * QUERY_PROPERTIES, END_INIT), EXECUTE_SRB with GPA-direct data buffers and
 * the reset requests, and sub-channels (multi-queue): QUERY_PROPERTIES offers
 * up to storvsp_set_max_subchannels() of them, CREATE_SUB_CHANNELS makes
 * them, and each request completes on the channel it arrived on.
 * Disks can be attached and detached while the guest runs (hot-add and
 * hot-remove): the controller then sends the guest an unsolicited
 * ENUMERATE_BUS packet, on which storvsc re-scans its LUNs (a TEST UNIT READY
 * that a removed LUN answers with INVALID_LUN, then a REPORT LUNS scan).
 *
 * Threads: requests arrive in the VMBus callbacks on the event-loop thread.
 * Data commands the disk back-end takes asynchronously (io_uring) complete
 * from its reaper thread, which takes the VMBus server lock before touching
 * the controller; everything else finishes inside the callback. The LUN
 * table changes only under the server lock.
 *
 * SPEC: hyperv-guest-interface.md §6. SECURITY: every packet is a copy made
 * by the VMBus server; ranges and PFNs are validated and each data page is
 * resolved through gm before any I/O starts.
 */
#ifndef OPENHV_STORVSP_H
#define OPENHV_STORVSP_H

#include <stdbool.h>
#include <stdint.h>

#include "gm/gm.h"
#include "vmbus/vmbus.h"
#include "vsp/storvsp/scsi_disk.h"

#define STORVSP_MAX_LUNS 64u
#define STORVSP_MAX_TRANSFER (2u * 1024u * 1024u)
#define STORVSP_MAX_SUBCHANNELS 15u

extern const uint8_t storvsp_scsi_class_guid[16];

struct storvsp_stats {
	uint64_t requests, srbs, completions, bad_packets, send_failed, invalid_lun, srb_errors;
	uint64_t rescans;   /* ENUMERATE_BUS packets sent (hot-add/remove) */
	uint32_t in_flight;        /* at the time of the call: in the back-end */
	uint32_t queued_comps;     /* at the time of the call: completions waiting for ring space */
};

struct storvsp;

/* A controller on srv; disks are added with storvsp_add_lun before start. */
int storvsp_new(struct vmbus_server *srv, const struct gm *gm, struct storvsp **ret) MUST_CHECK;
/*
 * Attach disk (owned by the caller, kept until it is removed or the controller
 * freed) as lun. Before storvsp_start this builds the initial table; after it
 * the disk is hot-added and the guest told to re-scan. -EEXIST: lun taken.
 */
int storvsp_add_lun(struct storvsp *sv, uint8_t lun, struct scsi_disk *disk) MUST_CHECK;
/*
 * Hot-remove lun: new requests to it fail with INVALID_LUN, the guest is told
 * to re-scan, and the call returns once no request to the disk is still in
 * the back-end (host I/O always ends), so the caller may then close it.
 * Returns the detached disk in *ret (may be NULL); -ENOENT: no such lun.
 * Must not be called with the server lock held.
 */
int storvsp_remove_lun(struct storvsp *sv, uint8_t lun, struct scsi_disk **ret) MUST_CHECK;
/* True when lun has a disk attached. */
bool storvsp_has_lun(struct storvsp *sv, uint8_t lun);
/* Offer up to n sub-channels (0, the default, offers none). Before start. */
void storvsp_set_max_subchannels(struct storvsp *sv, unsigned int n);
/* Register the device on VMBus with this instance GUID (offered to the guest). */
int storvsp_start(struct storvsp *sv, const uint8_t instance_guid[16]) MUST_CHECK;
/* Removes the device (rescind, close) and frees the controller. NULL ok. */
void storvsp_free(struct storvsp *sv);
void storvsp_get_stats(struct storvsp *sv, struct storvsp_stats *ret);
/* Channel i's ring state (diagnostics): -ENOENT past the last channel,
 * -ENOTCONN when closed; *ret_queued = completions waiting for ring space. */
int storvsp_chan_rings(struct storvsp *sv, unsigned int i, struct vmbus_chan_rings *ret,
		       unsigned int *ret_queued);
/* Negotiated protocol version, 0 before BEGIN_INIT/version negotiation. */
uint16_t storvsp_protocol(struct storvsp *sv);

#endif
