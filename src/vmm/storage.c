// SPDX-License-Identifier: MIT
/*
 * Storage attachment for a VM: one synthetic SCSI controller (storvsp) on
 * VMBus with each configured disk as a LUN at path 0, target 0. The disk
 * table is indexed by LUN (0, 1, ... in command-line order; a slot whose path
 * is NULL is empty), and disks can be added to and removed from a running
 * controller (vm_storage_hot_add/vm_storage_hot_remove).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/util.h"
#include "vmm/vm_devices.h"
#include "vsp/storvsp/storvsp.h"
#include "vsp/storvsp/storvsp_blk.h"

_Static_assert(VM_DISK_PARENTS_MAX == STORVSP_BLK_PARENTS_MAX, "one limit for parent images");

/* Instance GUID of the controller (any unique value; Linux binds by class). */
static const uint8_t storage_instance[16] = { 0x6f, 0x68, 0x76, 0x00, 0x73, 0x63, 0x01, 0x40,
					      0x80, 0x00, 0x73, 0x74, 0x6f, 0x72, 0x00, 0x00 };

struct vm_storage {
	struct storvsp *sv;
	struct storvsp_blk *blk[VM_MAX_DISKS];   /* by LUN; NULL = empty */
};

int vm_storage_attach(struct vmbus_server *srv, struct gm *gm, const struct vm_disk_config *disks,
		      unsigned int n, bool always, unsigned int max_subchannels,
		      struct vm_storage **ret, char *err, size_t errlen)
{
	struct vm_storage *st;
	int r;

	*ret = NULL;
	if (!n && !always)
		return 0;
	if (n > VM_MAX_DISKS || n > STORVSP_MAX_LUNS) {
		snprintf(err, errlen, "too many disks (%u); at most %u are supported", n,
			 (unsigned int)MIN(VM_MAX_DISKS, STORVSP_MAX_LUNS));
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = storvsp_new(srv, gm, &st->sv);
	if (r) {
		snprintf(err, errlen, "cannot create the SCSI controller: out of memory");
		goto fail;
	}
	storvsp_set_max_subchannels(st->sv, max_subchannels);
	for (unsigned int i = 0; i < n; i++) {
		if (!disks[i].path)
			continue;   /* an empty slot (a disk removed while the VM ran) */
		/* fd >= 0 is dup()ed on every build (a guest reboot rebuilds the VM). */
		r = storvsp_blk_open_chain(disks[i].path, disks[i].fd, disks[i].parent_fds,
					   disks[i].n_parents, disks[i].read_only, disks[i].dvd,
					   &st->blk[i], err, errlen);
		if (r)
			goto fail;
		r = storvsp_add_lun(st->sv, (uint8_t)i, storvsp_blk_disk(st->blk[i]));
		if (r) {
			snprintf(err, errlen, "disk '%s': cannot attach as LUN %u", disks[i].path, i);
			goto fail;
		}
	}
	r = storvsp_start(st->sv, storage_instance);
	if (r) {
		snprintf(err, errlen, "cannot offer the SCSI controller on VMBus (error %d)", r);
		goto fail;
	}
	*ret = st;
	return 0;
fail:
	vm_storage_free(st);
	return r;
}

int vm_storage_hot_add(struct vm_storage *st, unsigned int lun, const struct vm_disk_config *d,
		       char *err, size_t errlen)
{
	int r;

	if (lun >= VM_MAX_DISKS || lun >= STORVSP_MAX_LUNS || st->blk[lun])
		return errf(err, errlen, -EEXIST, "LUN %u is not free", lun);
	r = storvsp_blk_open_chain(d->path, d->fd, d->parent_fds, d->n_parents, d->read_only,
				   d->dvd, &st->blk[lun], err, errlen);
	if (r)
		return r;
	r = storvsp_add_lun(st->sv, (uint8_t)lun, storvsp_blk_disk(st->blk[lun]));
	if (r) {
		(void)storvsp_blk_close(st->blk[lun]);
		st->blk[lun] = NULL;
		return errf(err, errlen, r, "disk '%s': cannot attach as LUN %u", d->path, lun);
	}
	log_info("storage: disk '%s' hot-added as LUN %u", d->path, lun);
	return 0;
}

int vm_storage_hot_remove(struct vm_storage *st, unsigned int lun, char *err, size_t errlen)
{
	int r;

	if (lun >= VM_MAX_DISKS || lun >= STORVSP_MAX_LUNS || !st->blk[lun])
		return errf(err, errlen, -ENOENT, "there is no disk at LUN %u", lun);
	r = storvsp_remove_lun(st->sv, (uint8_t)lun, NULL);
	if (r)
		return errf(err, errlen, r, "cannot detach LUN %u (error %d)", lun, r);
	/* Nothing of the disk is in flight any more: flush and close it. */
	r = storvsp_blk_close(st->blk[lun]);
	st->blk[lun] = NULL;
	if (r)
		log_warn("storage: closing the disk at LUN %u failed: error %d; the image may need "
			 "a check", lun, r);
	log_info("storage: LUN %u hot-removed", lun);
	return 0;
}

void vm_storage_free(struct vm_storage *st)
{
	if (!st)
		return;
	if (st->sv) {
		/* For a VM stopped from outside (a hang): where requests were. */
		struct storvsp_stats ss;

		storvsp_get_stats(st->sv, &ss);
		log_debug("storage: %llu requests, %llu completions sent, %u in the back-end, "
			  "%u completions waiting for ring space, %llu send failures",
			  (unsigned long long)ss.requests, (unsigned long long)ss.completions,
			  ss.in_flight, ss.queued_comps, (unsigned long long)ss.send_failed);
		for (unsigned int i = 0;; i++) {
			struct vmbus_chan_rings rs;
			unsigned int q;
			int r = storvsp_chan_rings(st->sv, i, &rs, &q);

			if (r == -ENOENT)
				break;
			if (!r)
				log_debug("storage: channel %u: %u bytes of requests unread by the host "
					  "(its mask %u), %u bytes of completions unread by the guest "
					  "(its mask %u), %u completions queued",
					  i, rs.in_unread, rs.in_mask, rs.out_unread, rs.out_mask, q);
		}
	}
	storvsp_free(st->sv);
	for (unsigned int i = 0; i < VM_MAX_DISKS; i++) {
		int r;

		if (!st->blk[i])
			continue;
		log_debug("storage: LUN %u: %s I/O, %lu writes O_DIRECT, %lu reads from the page "
			  "cache inline, %lu completions taken inline", i,
			  storvsp_blk_engine_name(st->blk[i]), storvsp_blk_direct_writes(st->blk[i]),
			  storvsp_blk_inline_reads(st->blk[i]),
			  storvsp_blk_inline_completions(st->blk[i]));
		r = storvsp_blk_close(st->blk[i]);
		if (r)
			log_warn("storage: closing disk %u failed: error %d; the image may need a check", i, r);
	}
	free(st);
}
