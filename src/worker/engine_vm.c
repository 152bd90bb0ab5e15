// SPDX-License-Identifier: MIT
/*
 * The real engine: src/vmm's struct vm. The service passes /dev/kvm, the
 * kernel/initrd, disk images and TAPs as descriptors; struct vm dup()s them
 * (vm_config.kernel_fd/initrd_fd, vm_disk_config.fd, vm_nic_config.tap_fd),
 * so a guest reboot inside the sealed sandbox rebuilds the machine from
 * them without opening anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/util.h"
#include "vmm/vm.h"
#include "vsp/storvsp/storvsp_blk.h"
#include "vsp/ic/ic.h"
#include "worker/engine.h"

_Static_assert(CTL_MAX_DISKS <= VM_MAX_DISKS && CTL_MAX_NICS <= VM_MAX_NICS,
	       "the VM takes every disk and NIC the service can pass");

#define KVP_MAX_ENTRIES 64
#define KVP_VALUE_SHOWN 200

struct engine {
	struct vm *vm;
	struct ic_kvp_entry *kvp;     /* scratch for guest_info, allocated before sealing */
	/* struct vm keeps pointing at these (a reboot rebuilds from them): they live here. */
	struct vm_disk_config disks[CTL_MAX_DISKS];
	struct vm_nic_config nics[CTL_MAX_NICS];
	char disk_labels[CTL_MAX_DISKS][CTL_LABEL_MAX];
	char nic_names[CTL_MAX_NICS][CTL_IFNAME_MAX];
};

static int vme_create(const struct engine_params *p, struct engine **ret, char *err,
		      size_t errlen)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct vm_disk_config *disks = e ? e->disks : NULL;
	struct vm_nic_config *nics = e ? e->nics : NULL;
	struct vm_config cfg;
	int r;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vm_config_init(&cfg);
	cfg.name = p->name;
	/* Paths only name the files in messages; the descriptors are what is read. */
	cfg.kernel_path = "kernel (passed by openhvd)";
	cfg.kernel_fd = p->kernel_fd;
	cfg.initrd_path = p->initrd_fd >= 0 ? "initrd (passed by openhvd)" : NULL;
	cfg.initrd_fd = p->initrd_fd;
	for (unsigned int i = 0; i < p->n_disks && i < CTL_MAX_DISKS; i++) {
		vm_disk_config_init(&disks[i]);
		snprintf(e->disk_labels[i], sizeof(e->disk_labels[i]), "%s", p->disks[i].label);
		disks[i].path = e->disk_labels[i];
		disks[i].fd = p->disks[i].fd;
		_Static_assert(CTL_MAX_DISK_PARENTS <= VM_DISK_PARENTS_MAX, "parents fit the VM");
		for (unsigned int k = 0; k < p->disks[i].n_parents; k++)
			disks[i].parent_fds[k] = p->disks[i].parent_fds[k];
		disks[i].n_parents = p->disks[i].n_parents;
		disks[i].read_only = p->disks[i].read_only;
		disks[i].dvd = p->disks[i].dvd;
	}
	for (unsigned int i = 0; i < p->n_nics && i < CTL_MAX_NICS; i++) {
		vm_nic_config_init(&nics[i]);
		snprintf(e->nic_names[i], sizeof(e->nic_names[i]), "%s", p->nics[i].ifname);
		nics[i].tap = e->nic_names[i];
		nics[i].tap_fd = p->nics[i].fd;
		memcpy(nics[i].mac, p->nics[i].mac, sizeof(nics[i].mac));
		nics[i].has_mac = p->nics[i].has_mac;
	}
	cfg.disks = p->n_disks ? disks : NULL;
	cfg.n_disks = MIN(p->n_disks, (unsigned int)CTL_MAX_DISKS);
	cfg.nics = p->n_nics ? nics : NULL;
	cfg.n_nics = MIN(p->n_nics, (unsigned int)CTL_MAX_NICS);
	cfg.cmdline = p->cmdline && p->cmdline[0] ? p->cmdline : NULL;
	cfg.mem_bytes = p->mem_bytes;
	cfg.cpus = p->cpus;
	cfg.no_reboot = false;
	cfg.console_in_fd = p->console_in_fd;
	cfg.console_out_fd = p->console_out_fd;
	cfg.kvm_fd = p->kvm_fd;
	/*
	 * The sealed worker's seccomp filter refuses io_uring (its operations
	 * would bypass the filter): disks run on a thread pool here from the
	 * start, with plain preadv/pwritev/fdatasync the filter allows.
	 */
	storvsp_blk_set_engine(STORVSP_BLK_THREADS);
	/* Like a Hyper-V VM, always a SCSI controller: disks can be hot-added. */
	cfg.scsi_controller = true;
	r = vm_config_check(&cfg, err, errlen);
	if (!r)
		r = vm_create(&cfg, &e->vm, err, errlen);
	if (!r) {
		e->kvp = calloc(KVP_MAX_ENTRIES, sizeof(*e->kvp));
		if (!e->kvp) {
			vm_destroy(e->vm);
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
		}
	}
	if (r) {
		free(e);
		return r;
	}
	*ret = e;
	return 0;
}

static int vme_start(struct engine *e)
{
	return vm_start(e->vm);
}

static void vme_request_stop(struct engine *e)
{
	vm_request_stop(e->vm);
}

static int vme_request_shutdown(struct engine *e)
{
	return vm_request_shutdown(e->vm);
}

static int vme_guest_info(struct engine *e, char *json, size_t len)
{
	struct vm_guest_info gi;
	struct json_object *o, *hb, *kvp;
	const char *s;
	int r = vm_guest_info(e->vm, &gi), n;

	if (r)
		return r;
	o = json_object_new_object();
	hb = json_object_new_object();
	kvp = json_object_new_object();
	if (!o || !hb || !kvp) {
		json_object_put(o);
		json_object_put(hb);
		json_object_put(kvp);
		return -ENOMEM;
	}
	json_object_object_add(o, "vmbus_connected", json_object_new_boolean(gi.vmbus_connected));
	json_object_object_add(o, "vmbus_version", json_object_new_int64(gi.vmbus_version));
	json_object_object_add(hb, "ready", json_object_new_boolean(gi.heartbeat_ready));
	json_object_object_add(hb, "alive", json_object_new_boolean(gi.heartbeat_alive));
	json_object_object_add(hb, "sequence", json_object_new_int64((int64_t)gi.heartbeat_seq));
	json_object_object_add(o, "heartbeat", hb);
	json_object_object_add(o, "shutdown_ready", json_object_new_boolean(gi.shutdown_ready));
	json_object_object_add(o, "timesync_ready", json_object_new_boolean(gi.timesync_ready));
	json_object_object_add(o, "timesync_samples", json_object_new_int64((int64_t)gi.timesync_samples));
	json_object_object_add(o, "kvp_ready", json_object_new_boolean(gi.kvp_ready));
	json_object_object_add(o, "boots", json_object_new_int64(gi.boots));
	/* Guest-reported KVP pairs, shortened so the answer fits one control packet. */
	n = vm_guest_kvp_list(e->vm, e->kvp, KVP_MAX_ENTRIES);
	for (int i = 0; i < n && i < KVP_MAX_ENTRIES; i++) {
		e->kvp[i].key[sizeof(e->kvp[i].key) - 1] = '\0';
		e->kvp[i].value[KVP_VALUE_SHOWN] = '\0';
		json_object_object_add(kvp, e->kvp[i].key, json_object_new_string(e->kvp[i].value));
		if (strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) +
		    strlen(json_object_to_json_string_ext(kvp, JSON_C_TO_STRING_PLAIN)) + 16 > len) {
			json_object_object_del(kvp, e->kvp[i].key);
			break;
		}
	}
	json_object_object_add(o, "kvp", kvp);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = s && strlen(s) < len ? 0 : -E2BIG;
	if (!r)
		snprintf(json, len, "%s", s);
	json_object_put(o);
	return r;
}

static int vme_pause(struct engine *e)
{
	return vm_pause(e->vm);
}

static int vme_resume(struct engine *e)
{
	return vm_resume(e->vm);
}

static int vme_disk_add(struct engine *e, const struct engine_disk *d, unsigned int *lun, char *err,
			size_t errlen)
{
	struct vm_disk_config dc;

	vm_disk_config_init(&dc);
	dc.path = d->label;     /* names the image in messages; the descriptor is what is used */
	dc.fd = d->fd;
	dc.read_only = d->read_only || d->dvd;
	dc.dvd = d->dvd;
	return vm_disk_add(e->vm, &dc, lun, err, errlen);
}

static int vme_disk_remove(struct engine *e, unsigned int lun, char *err, size_t errlen)
{
	return vm_disk_remove(e->vm, lun, err, errlen);
}

static enum ctl_exit_kind vme_wait(struct engine *e, char *detail, size_t len)
{
	enum vm_exit x = vm_wait(e->vm);
	const char *d = vm_exit_detail(e->vm);

	snprintf(detail, len, "%s%s%s", vm_exit_name(x), d && d[0] ? ": " : "", d ? d : "");
	switch (x) {
	case VM_EXIT_POWEROFF:
		return CTL_EXIT_POWEROFF;
	case VM_EXIT_REBOOT:
		return CTL_EXIT_REBOOT;
	case VM_EXIT_STOPPED:
		return CTL_EXIT_STOPPED;
	case VM_EXIT_CRASH:
		return CTL_EXIT_CRASH;
	default:
		return CTL_EXIT_ERROR;
	}
}

static void vme_destroy(struct engine *e)
{
	if (!e)
		return;
	vm_destroy(e->vm);
	free(e->kvp);
	free(e);
}

const struct engine_ops engine_vm_ops = {
	.name = "vm",
	/* The worker can ask; whether the guest answers is known per request. */
	.caps = CTL_CAP_SHUTDOWN_IC | CTL_CAP_HEARTBEAT | CTL_CAP_KVP | CTL_CAP_DISK_HOTPLUG,
	.create = vme_create,
	.start = vme_start,
	.request_stop = vme_request_stop,
	.request_shutdown = vme_request_shutdown,
	.guest_info = vme_guest_info,
	.pause = vme_pause,
	.resume = vme_resume,
	.disk_add = vme_disk_add,
	.disk_remove = vme_disk_remove,
	.wait = vme_wait,
	.destroy = vme_destroy,
};
