// SPDX-License-Identifier: MIT
/*
 * The real engine: src/vmm's struct vm. The service passes /dev/kvm and the
 * kernel/initrd as descriptors; vm_create reads the images by path, so they
 * are named through /proc/self/fd before the sandbox hides /proc.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vm.h"
#include "worker/engine.h"

struct engine {
	struct vm *vm;
	char kernel_path[64];
	char initrd_path[64];
};

static int vme_create(const struct engine_params *p, struct engine **ret, char *err,
		      size_t errlen)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct vm_config cfg;
	int r;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vm_config_init(&cfg);
	snprintf(e->kernel_path, sizeof(e->kernel_path), "/proc/self/fd/%d", p->kernel_fd);
	cfg.name = p->name;
	cfg.kernel_path = e->kernel_path;
	if (p->initrd_fd >= 0) {
		snprintf(e->initrd_path, sizeof(e->initrd_path), "/proc/self/fd/%d", p->initrd_fd);
		cfg.initrd_path = e->initrd_path;
	} else {
		cfg.initrd_path = NULL;
	}
	cfg.cmdline = p->cmdline && p->cmdline[0] ? p->cmdline : NULL;
	cfg.mem_bytes = p->mem_bytes;
	cfg.cpus = p->cpus;
	cfg.no_reboot = false;
	cfg.console_in_fd = p->console_in_fd;
	cfg.console_out_fd = p->console_out_fd;
	cfg.kvm_fd = p->kvm_fd;
	r = vm_config_check(&cfg, err, errlen);
	if (!r)
		r = vm_create(&cfg, &e->vm, err, errlen);
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

static int vme_pause(struct engine *e)
{
	return vm_pause(e->vm);
}

static int vme_resume(struct engine *e)
{
	return vm_resume(e->vm);
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
	free(e);
}

const struct engine_ops engine_vm_ops = {
	.name = "vm",
	.caps = 0,   /* CTL_CAP_SHUTDOWN_IC once the shutdown IC is wired into struct vm */
	.create = vme_create,
	.start = vme_start,
	.request_stop = vme_request_stop,
	.request_shutdown = NULL,
	.pause = vme_pause,
	.resume = vme_resume,
	.wait = vme_wait,
	.destroy = vme_destroy,
};
