// SPDX-License-Identifier: MIT
/*
 * Machine assembly for a child partition (the one place that wires devices,
 * boot and the partition together), the run loop with guest reboot, and the
 * control surface of vm.h. Platform: PC layout without firmware: RAM below
 * 3 GiB and above 4 GiB, in-kernel PIC/IOAPIC/LAPIC/PIT, 16550 COM1, CMOS RTC,
 * ACPI fixed hardware for power-off, PCI config ports (no devices), reset
 * through the FADT reset register or the i8042.
 */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi/acpi.h"
#include "base/log.h"
#include "base/util.h"
#include "boot/boot.h"
#include "dev/cmos_rtc.h"
#include "dev/iobus.h"
#include "dev/platform.h"
#include "dev/uart16550.h"
#include "gm/gm.h"
#include "part/part.h"
#include "vmm/hyperv.h"
#include "vmm/vm_devices.h"
#include "vsp/storvsp/storvsp.h"
#include "vmbus/vmbus.h"
#include "vsp/ic/ic.h"

#define LOW_RAM_LIMIT (3 * GiB)
#define MAX_KERNEL_BYTES (256 * MiB)
#define MAX_INITRD_BYTES (2 * GiB)
#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define IOAPIC_ADDR 0xfec00000u
#define SCI_IRQ 9

struct vm {
	struct vm_config cfg;
	char *kernel_path, *initrd_path, *cmdline, *name;
	/*
	 * The disks by LUN, what every build attaches: the configured ones, then
	 * hot-added ones; a removed disk leaves an empty slot (path NULL).
	 * Paths are ours, and so are the descriptors: a passed one is
	 * duplicated at create (the caller, e.g. the sealed worker, closes its
	 * own copy), and every build dup()s it again for the back-end.
	 */
	struct vm_disk_config disks[VM_MAX_DISKS];
	char *disk_path[VM_MAX_DISKS];
	bool disk_own_fd[VM_MAX_DISKS];
	unsigned int n_disk_slots;
	/* The NICs, with our own duplicate of each passed TAP descriptor. */
	struct vm_nic_config nics[VM_MAX_NICS];
	int kvm_fd;
	bool own_kvm_fd;
	int kernel_fd, initrd_fd;  /* kept open so a guest reboot reloads the same files */

	/* The current incarnation (rebuilt on guest reboot). */
	struct gm *gm;
	struct part *part;
	struct vm_hyperv *hyperv;
	struct vm_storage *storage;  /* synthetic SCSI controller and its disks */
	struct vm_network *network;  /* synthetic NICs */
	struct iobus iobus;
	struct uart uart;
	struct cmos_rtc rtc;
	struct pm_acpi pm;
	struct pci_cfg pci;
	struct i8042 kbd;

	pthread_mutex_t lock;      /* protects: stop_requested, part pointer swaps */
	bool stop_requested;
	bool started;
	unsigned int boots;

	pthread_t input_thread;
	bool input_running;
	int wake_pipe[2];

	char detail[512];
};

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_bytes = 512 * MiB;
	cfg->cpus = 1;
	cfg->console_in_fd = 0;
	cfg->console_out_fd = 1;
	cfg->kvm_fd = -1;
	cfg->kernel_fd = cfg->initrd_fd = -1;
	cfg->hyperv = true;
}

void vm_disk_config_init(struct vm_disk_config *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	for (unsigned int i = 0; i < VM_DISK_PARENTS_MAX; i++)
		d->parent_fds[i] = -1;
}

/* Closes the descriptors keep_disk_fds() made. */
static void drop_disk_fds(struct vm_disk_config *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	for (unsigned int i = 0; i < d->n_parents && i < VM_DISK_PARENTS_MAX; i++) {
		if (d->parent_fds[i] >= 0)
			close(d->parent_fds[i]);
		d->parent_fds[i] = -1;
	}
	d->n_parents = 0;
}

/*
 * dst becomes src with our own duplicates of src's image and parent
 * descriptors (the caller keeps its own). 0 or -errno (nothing kept).
 */
static int keep_disk_fds(struct vm_disk_config *dst, const struct vm_disk_config *src)
{
	*dst = *src;
	dst->fd = -1;
	dst->n_parents = 0;
	for (unsigned int i = 0; i < VM_DISK_PARENTS_MAX; i++)
		dst->parent_fds[i] = -1;
	if (src->fd < 0)
		return src->n_parents ? -EINVAL : 0;
	if (src->n_parents > VM_DISK_PARENTS_MAX)
		return -E2BIG;
	dst->fd = fcntl(src->fd, F_DUPFD_CLOEXEC, 3);
	if (dst->fd < 0)
		return -errno;
	for (unsigned int i = 0; i < src->n_parents; i++) {
		dst->parent_fds[i] = fcntl(src->parent_fds[i], F_DUPFD_CLOEXEC, 3);
		dst->n_parents = i + 1;
		if (dst->parent_fds[i] < 0) {
			int r = -errno;

			drop_disk_fds(dst);
			return r;
		}
	}
	return 0;
}

void vm_nic_config_init(struct vm_nic_config *n)
{
	memset(n, 0, sizeof(*n));
	n->tap_fd = -1;
}

const char *vm_exit_name(enum vm_exit e)
{
	switch (e) {
	case VM_EXIT_POWEROFF: return "poweroff";
	case VM_EXIT_REBOOT: return "reboot";
	case VM_EXIT_STOPPED: return "stopped";
	case VM_EXIT_CRASH: return "crash";
	case VM_EXIT_ERROR: return "error";
	}
	return "unknown";
}

/*
 * Open (or dup a passed) boot input and check it is a regular file within
 * the size limit. Each input is opened exactly once; the same descriptor is
 * checked and later mapped, so a path swapped between check and load cannot
 * fool us.
 */
static int open_input(const char *what, const char *opt, const char *path, int given_fd,
		      size_t max, int *ret_fd, char *err, size_t errlen)
{
	const char *name = path && *path ? path : "(passed descriptor)";
	struct stat st;
	char buf[32];
	int fd;

	if (given_fd >= 0) {
		fd = fcntl(given_fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return errf(err, errlen, -errno, "%s descriptor %d: %s", what, given_fd,
				    strerror(errno));
	} else {
		if (!path || !*path)
			return errf(err, errlen, -EINVAL, "no %s given; pass %s PATH", what, opt);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errf(err, errlen, -errno, "%s '%s': %s; check the %s path", what, path,
				    strerror(errno), opt);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errf(err, errlen, -EINVAL, "%s '%s' is not a regular file; pass a file to %s",
			    what, name, opt);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return errf(err, errlen, -EFBIG, "%s '%s' is %s, larger than the %s limit", what, name,
			    fmt_size((uint64_t)st.st_size, buf, sizeof(buf)), what);
	}
	*ret_fd = fd;
	return 0;
}

/* Check the kernel's boot header (the first pages and its size) before loading it all. */
static int check_bzimage(const char *path, int fd, char *err, size_t errlen)
{
	uint8_t head[8192];
	char why[256];
	struct stat st;
	ssize_t n;
	int r;

	n = pread(fd, head, sizeof(head), 0);
	r = fstat(fd, &st);
	if (n < 0 || r < 0)
		return errf(err, errlen, -EIO, "kernel '%s': cannot read it", path);
	/* The check needs the real length for the truncation test: pass the header
	 * bytes we have, padded, with the file's true size. */
	if ((size_t)n < sizeof(head))
		memset(head + n, 0, sizeof(head) - (size_t)n);
	r = boot_check_bzimage(head, (size_t)st.st_size < sizeof(head) ? (size_t)n : (size_t)st.st_size,
			       why, sizeof(why));
	if (r)
		return errf(err, errlen, r, "kernel '%s': %s", path, why);
	return 0;
}

/* Open and check the kernel and initrd; on success the caller owns both fds. */
static int open_boot_inputs(const struct vm_config *cfg, int *kfd, int *ifd, char *err,
			    size_t errlen)
{
	int r;

	*kfd = *ifd = -1;
	r = open_input("kernel", "--kernel", cfg->kernel_path, cfg->kernel_fd, MAX_KERNEL_BYTES,
		       kfd, err, errlen);
	if (r)
		return r;
	r = check_bzimage(cfg->kernel_path ? cfg->kernel_path : "(passed descriptor)", *kfd, err,
			  errlen);
	if (!r && (cfg->initrd_path || cfg->initrd_fd >= 0))
		r = open_input("initrd", "--initrd", cfg->initrd_path, cfg->initrd_fd,
			       MAX_INITRD_BYTES, ifd, err, errlen);
	if (r) {
		close(*kfd);
		*kfd = -1;
	}
	return r;
}

/* Everything vm_config_check checks except the boot files. */
static int check_config(const struct vm_config *cfg, char *err, size_t errlen)
{
	uint64_t host = host_mem_total();
	char a[32], b[32];
	int r;

	if (cfg->cpus < 1 || cfg->cpus > VM_MAX_CPUS)
		return errf(err, errlen, -EINVAL, "--cpus %u is out of range; use 1 to %u", cfg->cpus,
			    VM_MAX_CPUS);
	if (cfg->mem_bytes < VM_MIN_MEM)
		return errf(err, errlen, -EINVAL, "--memory %s is too small; use at least %s",
			    fmt_size(cfg->mem_bytes, a, sizeof(a)), fmt_size(VM_MIN_MEM, b, sizeof(b)));
	if (cfg->mem_bytes % MiB)
		return errf(err, errlen, -EINVAL, "--memory must be a whole number of MiB (e.g. 512M)");
	if (host && cfg->mem_bytes > host)
		return errf(err, errlen, -EINVAL,
			    "--memory %s is more than this host has (%s); use a smaller value",
			    fmt_size(cfg->mem_bytes, a, sizeof(a)), fmt_size(host, b, sizeof(b)));
	if ((cfg->n_disks || cfg->n_nics) && !cfg->hyperv)
		return errf(err, errlen, -EINVAL,
			    "--disk and --nic are synthetic (VMBus) devices; drop --no-hyperv to use them");
	if (cfg->n_disks > VM_MAX_DISKS || cfg->n_nics > VM_MAX_NICS)
		return errf(err, errlen, -EINVAL, "at most %u disks and %u NICs per VM", VM_MAX_DISKS,
			    VM_MAX_NICS);
	r = vm_devices_check(cfg->disks, cfg->n_disks, cfg->nics, cfg->n_nics, err, errlen);
	if (r)
		return r;
	if (cfg->cmdline && strlen(cfg->cmdline) >= BOOT_CMDLINE_MAX)
		return errf(err, errlen, -E2BIG, "--cmdline is too long (limit %u bytes)",
			    BOOT_CMDLINE_MAX - 1);
	return 0;
}

int vm_config_check(const struct vm_config *cfg, char *err, size_t errlen)
{
	int kfd, ifd, r;

	r = check_config(cfg, err, errlen);
	if (r)
		return r;
	r = open_boot_inputs(cfg, &kfd, &ifd, err, errlen);
	if (r)
		return r;
	close(kfd);
	if (ifd >= 0)
		close(ifd);
	return 0;
}

/* ---- devices ------------------------------------------------------------ */

static void console_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct vm *vm = opaque;

	if (vm->cfg.console_out_fd < 0)
		return;
	while (len) {
		ssize_t n = write(vm->cfg.console_out_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* console gone: drop output, keep the guest running */
		buf += n;
		len -= (size_t)n;
	}
}

static void power_event(void *opaque, enum power_event ev)
{
	struct vm *vm = opaque;

	part_stop(vm->part, ev == POWER_OFF ? PART_STOP_POWEROFF : PART_STOP_RESET, NULL);
}

static int vm_register_devices(struct vm *vm)
{
	struct power_sink sink = { .event = power_event, .opaque = vm };
	struct irq_line com1 = { .set_level = part_irq_line, .opaque = NULL, .gsi = COM1_IRQ };
	int r;

	iobus_init(&vm->iobus);
	/* part pointer is filled in once the partition exists (vm_build). */
	uart_init(&vm->uart, &com1, console_out, vm);
	pm_acpi_init(&vm->pm, &sink);
	pci_cfg_init(&vm->pci, &sink);
	i8042_init(&vm->kbd, &sink);
	r = iobus_register(&vm->iobus, COM1_PORT, 8, &uart_io_ops, &vm->uart);
	r = r ?: iobus_register(&vm->iobus, 0x70, 2, &cmos_io_ops, &vm->rtc);
	r = r ?: iobus_register(&vm->iobus, PM_BASE, PM_LEN, &pm_acpi_io_ops, &vm->pm);
	r = r ?: iobus_register(&vm->iobus, PCI_CFG_BASE, 8, &pci_cfg_io_ops, &vm->pci);
	r = r ?: iobus_register(&vm->iobus, I8042_DATA, 5, &i8042_io_ops, &vm->kbd);
	return r;
}

/* The guest wrote the crash MSRs (a kernel panic): report it and end the VM. */
static void guest_crash(void *opaque, const struct hv_crash_report *rep)
{
	struct vm *vm = opaque;
	char msg[512], text[200] = "";

	if (rep->has_message) {
		/* Show the "Kernel panic - ..." line if there is one, else the last line. */
		const char *line = strstr(rep->message, "Kernel panic"), *end;

		if (!line) {
			end = rep->message + strlen(rep->message);
			while (end > rep->message && (end[-1] == '\n' || end[-1] == ' '))
				end--;
			line = end;
			while (line > rep->message && line[-1] != '\n')
				line--;
		}
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		snprintf(text, sizeof(text), ": \"%.*s\"", (int)MIN((size_t)(end - line), (size_t)150),
			 line);
	}
	snprintf(msg, sizeof(msg),
		 "guest kernel crashed on virtual processor %u (crash MSRs P0=0x%llx P1=0x%llx P2=0x%llx P3=0x%llx P4=0x%llx)%s",
		 rep->vp_index, (unsigned long long)rep->p[0], (unsigned long long)rep->p[1],
		 (unsigned long long)rep->p[2], (unsigned long long)rep->p[3],
		 (unsigned long long)rep->p[4], text);
	part_stop(vm->part, PART_STOP_CRASH, msg);
}

int vm_request_shutdown(struct vm *vm)
{
	int r = -ENOTCONN;

	pthread_mutex_lock(&vm->lock);
	if (vm->hyperv && vm_hyperv_ic(vm->hyperv))
		r = ic_request_shutdown(vm_hyperv_ic(vm->hyperv), IC_SHUTDOWN_POWEROFF,
					"shutdown requested by the host");
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_guest_info(struct vm *vm, struct vm_guest_info *ret)
{
	struct ic_service_status st;
	struct ic_heartbeat_status hb;
	struct ic *ic;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&vm->lock);
	ret->boots = vm->boots;
	if (!vm->hyperv || !(ic = vm_hyperv_ic(vm->hyperv))) {
		r = -ENOTSUP;
		goto out;
	}
	ret->vmbus_connected = vmbus_server_connected(vm_hyperv_vmbus(vm->hyperv));
	ret->vmbus_version = vmbus_server_version(vm_hyperv_vmbus(vm->hyperv));
	if (ic_heartbeat_status(ic, &hb) == 0) {
		ret->heartbeat_ready = hb.state == IC_STATE_READY;
		ret->heartbeat_alive = hb.alive;
		ret->heartbeat_seq = hb.seq;
	}
	if (ic_service_status(ic, IC_SVC_SHUTDOWN, &st) == 0)
		ret->shutdown_ready = st.state == IC_STATE_READY;
	if (ic_service_status(ic, IC_SVC_TIMESYNC, &st) == 0)
		ret->timesync_ready = st.state == IC_STATE_READY;
	if (ic_service_status(ic, IC_SVC_KVP, &st) == 0)
		ret->kvp_ready = st.state == IC_STATE_READY;
	ret->timesync_samples = ic_timesync_samples(ic);
out:
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_guest_kvp_list(struct vm *vm, struct ic_kvp_entry *out, size_t max)
{
	int r = -ENOTSUP;

	pthread_mutex_lock(&vm->lock);
	if (vm->hyperv && vm_hyperv_ic(vm->hyperv))
		r = ic_kvp_list(vm_hyperv_ic(vm->hyperv), out, max);
	pthread_mutex_unlock(&vm->lock);
	return r;
}

/* ---- assembly ------------------------------------------------------------- */

static void vm_teardown(struct vm *vm)
{
	/* VPs are stopped here: end the event loop first, then devices, then the partition. */
	vm_hyperv_stop(vm->hyperv);
	vm_storage_free(vm->storage);
	vm->storage = NULL;
	vm_network_free(vm->network);
	vm->network = NULL;
	vm_hyperv_free(vm->hyperv);
	vm->hyperv = NULL;
	part_destroy(vm->part);
	vm->part = NULL;
	gm_destroy(vm->gm);
	vm->gm = NULL;
	iobus_destroy(&vm->iobus);
}

struct mapped_file {
	const uint8_t *data;
	size_t len;
};

static int map_file(const char *what, const char *path, int fd, struct mapped_file *m, char *err,
		    size_t errlen)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return errf(err, errlen, -errno, "cannot read %s '%s': %s", what, path, strerror(errno));
	if (st.st_size <= 0)
		return errf(err, errlen, -EINVAL, "%s '%s' is empty", what, path);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return errf(err, errlen, -errno, "cannot read %s '%s': %s", what, path, strerror(errno));
	m->data = p;
	m->len = (size_t)st.st_size;
	return 0;
}

static void unmap_file(struct mapped_file *m)
{
	if (m->data)
		munmap((void *)m->data, m->len);
	m->data = NULL;
}

/*
 * Storage queues: one sub-channel per vCPU beyond the first (the guest asks
 * for at most CPUs - 1), up to storvsp's limit. OPENHV_STORVSP_SUBCHANNELS=N
 * sets another limit (0: primary channel only), for measurements.
 */
/* vRSS channels per NIC: one per vCPU (the guest caps it at 8 by default);
 * OPENHV_NETVSP_QUEUES=N lowers it (1 = primary channel only). */
static unsigned int network_queues(unsigned int cpus)
{
	const char *env = getenv("OPENHV_NETVSP_QUEUES");
	unsigned int n = MAX(cpus, 1u);

	if (env && *env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);

		if (!*end && v)
			n = (unsigned int)MIN(v, (unsigned long)n);
	}
	return n;
}

static unsigned int storage_subchannels(unsigned int cpus)
{
	const char *env = getenv("OPENHV_STORVSP_SUBCHANNELS");
	unsigned int n = cpus > 1 ? cpus - 1 : 0;

	if (env && *env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);

		if (!*end)
			n = (unsigned int)MIN(v, (unsigned long)n);
	}
	return MIN(n, STORVSP_MAX_SUBCHANNELS);
}

static int vm_build(struct vm *vm, char *err, size_t errlen)
{
	struct acpi_config acfg = {
		.n_cpus = vm->cfg.cpus, .ioapic_addr = IOAPIC_ADDR, .ioapic_id = (uint8_t)vm->cfg.cpus,
		.pm_base = PM_BASE, .reset_port = RESET_PORT, .reset_value = RESET_VALUE,
		.sci_irq = SCI_IRQ, .s5_typ = ACPI_S5_TYP, .vmbus = vm->cfg.hyperv,
	};
	struct part_config pcfg = { .n_vps = vm->cfg.cpus, .kvm_fd = vm->kvm_fd };
	struct boot_image img = { .cmdline = vm->cmdline };
	struct mapped_file kernel = { 0 }, initrd = { 0 };
	struct boot_regs regs;
	uint8_t *bios;
	char sz[32];
	int r;

	r = gm_create_ram(vm->cfg.mem_bytes, LOW_RAM_LIMIT, &vm->gm);
	if (r)
		return errf(err, errlen, r, "cannot reserve %s of guest memory: %s",
			    fmt_size(vm->cfg.mem_bytes, sz, sizeof(sz)), strerror(-r));
	r = vm_register_devices(vm);
	if (r) {
		errf(err, errlen, r, "cannot register platform devices: %s", strerror(-r));
		goto err;
	}
	pcfg.gm = vm->gm;
	pcfg.iobus = &vm->iobus;
	if (vm->cfg.hyperv) {
		r = vm_hyperv_new(vm->gm, vm->cfg.cpus, guest_crash, vm, &vm->hyperv);
		if (r) {
			errf(err, errlen, r, "cannot set up the Hyper-V enlightenments: %s", strerror(-r));
			goto err;
		}
		pcfg.hooks = vm_hyperv_hooks(vm->hyperv);
	}
	r = part_create(&pcfg, &vm->part, err, errlen);
	if (r)
		goto err;
	vm->uart.irq.opaque = vm->part;

	bios = gm_ptr(vm->gm, BOOT_BIOS_GPA, BOOT_BIOS_LEN);
	r = bios ? acpi_build(&acfg, bios, BOOT_BIOS_LEN, BOOT_BIOS_GPA, &img.rsdp_gpa) : -EFAULT;
	if (r) {
		errf(err, errlen, r, "cannot build ACPI tables: %s", strerror(-r));
		goto err;
	}
	/* PERF: map the files instead of keeping copies: after the copy into
	 * guest RAM they cost the VMM nothing. */
	r = map_file("kernel", vm->kernel_path ? vm->kernel_path : "(passed descriptor)", vm->kernel_fd, &kernel, err, errlen);
	if (!r && vm->initrd_fd >= 0)
		r = map_file("initrd", vm->initrd_path ? vm->initrd_path : "(passed descriptor)", vm->initrd_fd, &initrd, err, errlen);
	if (!r) {
		img.kernel = kernel.data;
		img.kernel_len = kernel.len;
		img.initrd = initrd.data;
		img.initrd_len = initrd.len;
		r = boot_linux(vm->gm, &img, &regs, err, errlen);
	}
	unmap_file(&kernel);
	unmap_file(&initrd);
	if (r)
		goto err;
	r = part_set_boot_regs(vm->part, &regs);
	if (r) {
		errf(err, errlen, r, "cannot set the boot processor's registers: %s", strerror(-r));
		goto err;
	}
	if (vm->hyperv) {
		r = vm_hyperv_start(vm->hyperv, vm->part);
		if (r) {
			errf(err, errlen, r, "cannot start VMBus and the integration services: %s",
			     strerror(-r));
			goto err;
		}
		for (const char *const *kv = vm->cfg.kvp; kv && *kv; kv++) {
			char key[IC_KVP_KEY_MAX];
			const char *eq = strchr(*kv, '=');
			size_t kl = eq ? (size_t)(eq - *kv) : 0;

			if (!eq || !kl || kl >= sizeof(key) ||
			    (memcpy(key, *kv, kl), key[kl] = 0, ic_kvp_set(vm_hyperv_ic(vm->hyperv), key, eq + 1))) {
				r = errf(err, errlen, -EINVAL, "KVP pair '%s' is not KEY=VALUE within the size limits",
					 *kv);
				goto err;
			}
		}
		r = vm_storage_attach(vm_hyperv_vmbus(vm->hyperv), vm->gm, vm->disks,
				      vm->n_disk_slots, vm->cfg.scsi_controller,
				      storage_subchannels(vm->cfg.cpus), &vm->storage, err, errlen);
		r = r ?: vm_network_attach(vm_hyperv_vmbus(vm->hyperv), vm->gm, vm->cfg.nics,
					   vm->cfg.n_nics, network_queues(vm->cfg.cpus), &vm->network,
					   err, errlen);
		if (r)
			goto err;
	}
	return 0;
err:
	vm_teardown(vm);
	return r;
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int vm_create(const struct vm_config *cfg, struct vm **ret_vm, char *err, size_t errlen)
{
	struct vm *vm;
	int r;

	r = check_config(cfg, err, errlen);
	if (r)
		return r;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return errf(err, errlen, -ENOMEM, "out of memory");
	vm->cfg = *cfg;
	vm->kvm_fd = -1;
	vm->kernel_fd = vm->initrd_fd = -1;
	vm->wake_pipe[0] = vm->wake_pipe[1] = -1;
	for (unsigned int i = 0; i < VM_MAX_DISKS; i++)
		vm_disk_config_init(&vm->disks[i]);
	for (unsigned int i = 0; i < VM_MAX_NICS; i++)
		vm_nic_config_init(&vm->nics[i]);
	pthread_mutex_init(&vm->lock, NULL);
	vm->kernel_path = xstrdup(cfg->kernel_path);
	vm->initrd_path = xstrdup(cfg->initrd_path);
	vm->cmdline = xstrdup(cfg->cmdline);
	vm->name = xstrdup(cfg->name);
	vm->cfg.kernel_path = vm->kernel_path;
	vm->cfg.initrd_path = vm->initrd_path;
	vm->cfg.cmdline = vm->cmdline;
	vm->cfg.name = vm->name;
	for (unsigned int i = 0; i < cfg->n_disks && i < VM_MAX_DISKS; i++) {
		vm->n_disk_slots = i + 1;
		vm->disk_path[i] = xstrdup(cfg->disks[i].path ? cfg->disks[i].path : "(passed descriptor)");
		if (!vm->disk_path[i]) {
			r = errf(err, errlen, -ENOMEM, "out of memory");
			goto err;
		}
		r = keep_disk_fds(&vm->disks[i], &cfg->disks[i]);
		vm->disks[i].path = vm->disk_path[i];
		if (r) {
			r = errf(err, errlen, r, "disk '%s': cannot keep its descriptors: %s",
				 vm->disk_path[i], strerror(-r));
			goto err;
		}
		vm->disk_own_fd[i] = vm->disks[i].fd >= 0;
	}
	vm->cfg.disks = NULL;   /* the caller's array is not used after this */
	for (unsigned int i = 0; i < cfg->n_nics && i < VM_MAX_NICS; i++) {
		vm->nics[i] = cfg->nics[i];   /* names stay the caller's (they outlive the VM) */
		vm->nics[i].tap_fd = -1;
		if (cfg->nics[i].tap_fd >= 0) {
			vm->nics[i].tap_fd = fcntl(cfg->nics[i].tap_fd, F_DUPFD_CLOEXEC, 3);
			if (vm->nics[i].tap_fd < 0) {
				r = errf(err, errlen, -errno, "NIC %u: cannot keep its TAP descriptor: %s",
					 i, strerror(errno));
				goto err;
			}
		}
	}
	vm->cfg.nics = cfg->n_nics ? vm->nics : NULL;
	cmos_init(&vm->rtc, cfg->rtc_offset_sec);

	r = open_boot_inputs(cfg, &vm->kernel_fd, &vm->initrd_fd, err, errlen);
	if (r)
		goto err;
	if (cfg->kvm_fd >= 0) {
		vm->kvm_fd = cfg->kvm_fd;
	} else {
		r = part_open_kvm(&vm->kvm_fd, err, errlen);
		if (r)
			goto err;
		vm->own_kvm_fd = true;
	}
	if (pipe2(vm->wake_pipe, O_CLOEXEC) < 0) {
		r = errf(err, errlen, -errno, "pipe: %s", strerror(errno));
		goto err;
	}
	r = vm_build(vm, err, errlen);
	if (r)
		goto err;
	*ret_vm = vm;
	return 0;
err:
	vm_destroy(vm);
	return r;
}

/* ---- console input -------------------------------------------------------- */

static void *input_thread(void *arg)
{
	struct vm *vm = arg;
	uint8_t buf[256];

	for (;;) {
		struct pollfd pfd[2] = { { .fd = vm->cfg.console_in_fd, .events = POLLIN },
					 { .fd = vm->wake_pipe[0], .events = POLLIN } };
		ssize_t n;
		size_t done = 0;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		n = read(vm->cfg.console_in_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break; /* end of input: the guest simply gets no more */
		while (done < (size_t)n) {
			pthread_mutex_t *lk;

			pthread_mutex_lock(&vm->lock);
			lk = vm->part ? iobus_port_lock(&vm->iobus, COM1_PORT) : NULL;
			if (lk) {
				pthread_mutex_lock(lk);
				done += uart_push_input(&vm->uart, buf + done, (size_t)n - done);
				pthread_mutex_unlock(lk);
			}
			pthread_mutex_unlock(&vm->lock);
			if (done < (size_t)n) {
				/* FIFO full: wait for the guest to drain it, unless we are told to stop. */
				struct pollfd w = { .fd = vm->wake_pipe[0], .events = POLLIN };
				if (poll(&w, 1, 5) > 0)
					return NULL;
			}
		}
	}
	return NULL;
}

/* ---- control -------------------------------------------------------------- */

int vm_start(struct vm *vm)
{
	int r;

	vm->boots = 1;
	r = part_start(vm->part);
	if (r)
		return r;
	vm->started = true;
	if (vm->cfg.console_in_fd >= 0 &&
	    pthread_create(&vm->input_thread, NULL, input_thread, vm) == 0)
		vm->input_running = true;
	return 0;
}

void vm_request_stop(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->stop_requested = true;
	if (vm->part)
		part_stop(vm->part, PART_STOP_REQUESTED, NULL);
	pthread_mutex_unlock(&vm->lock);
}

/* ---- disk hot-add / hot-remove ------------------------------------------ */

/* Device and inode of a disk slot's image (its fd, else its path). */
static int disk_identity(const struct vm_disk_config *d, struct stat *st)
{
	if (d->fd >= 0)
		return fstat(d->fd, st) ? -errno : 0;
	return d->path && stat(d->path, st) == 0 ? 0 : -errno;
}

int vm_disk_add(struct vm *vm, const struct vm_disk_config *d, unsigned int *ret_lun, char *err,
		size_t errlen)
{
	struct vm_disk_config slot;
	struct stat st, other;
	unsigned int lun;
	int r;

	if (!d || (!d->path && d->fd < 0))
		return errf(err, errlen, -EINVAL, "no disk image given");
	r = disk_identity(d, &st);
	if (r)
		return errf(err, errlen, r, "disk '%s': %s", d->path ? d->path : "(descriptor)",
			    strerror(-r));
	pthread_mutex_lock(&vm->lock);
	if (!vm->storage) {
		r = errf(err, errlen, -ENODEV, "this VM has no SCSI controller (it started without "
			 "disks); start it with a disk, or with the controller enabled, to hot-add");
		goto out;
	}
	for (lun = 0; lun < vm->n_disk_slots; lun++) {
		if (vm->disks[lun].path && !disk_identity(&vm->disks[lun], &other) &&
		    other.st_dev == st.st_dev && other.st_ino == st.st_ino) {
			r = errf(err, errlen, -EEXIST, "disk '%s' is attached already, as LUN %u",
				 d->path ? d->path : "(descriptor)", lun);
			goto out;
		}
	}
	for (lun = 0; lun < VM_MAX_DISKS && vm->disks[lun].path; lun++)
		;
	if (lun >= VM_MAX_DISKS) {
		r = errf(err, errlen, -ENOSPC, "every one of the %u LUNs is taken; remove a disk first",
			 (unsigned int)VM_MAX_DISKS);
		goto out;
	}
	r = keep_disk_fds(&slot, d);
	if (r) {
		r = errf(err, errlen, r, "cannot keep the disk's descriptors: %s", strerror(-r));
		goto out;
	}
	vm->disk_path[lun] = xstrdup(d->path ? d->path : "(passed descriptor)");
	if (!vm->disk_path[lun]) {
		drop_disk_fds(&slot);
		r = errf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	slot.path = vm->disk_path[lun];
	r = vm_storage_hot_add(vm->storage, lun, &slot, err, errlen);
	if (r) {
		drop_disk_fds(&slot);
		free(vm->disk_path[lun]);
		vm->disk_path[lun] = NULL;
		goto out;
	}
	vm->disks[lun] = slot;
	vm->disk_own_fd[lun] = slot.fd >= 0;
	if (lun + 1 > vm->n_disk_slots)
		vm->n_disk_slots = lun + 1;
	*ret_lun = lun;
out:
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_disk_remove(struct vm *vm, unsigned int lun, char *err, size_t errlen)
{
	int r;

	pthread_mutex_lock(&vm->lock);
	if (lun >= vm->n_disk_slots || !vm->disks[lun].path) {
		r = errf(err, errlen, -ENOENT, "there is no disk at LUN %u", lun);
		goto out;
	}
	if (!vm->storage) {
		r = errf(err, errlen, -ENODEV, "this VM has no SCSI controller");
		goto out;
	}
	r = vm_storage_hot_remove(vm->storage, lun, err, errlen);
	if (r)
		goto out;
	if (vm->disk_own_fd[lun])
		drop_disk_fds(&vm->disks[lun]);
	free(vm->disk_path[lun]);
	vm->disk_path[lun] = NULL;
	vm->disk_own_fd[lun] = false;
	vm_disk_config_init(&vm->disks[lun]);
	while (vm->n_disk_slots && !vm->disks[vm->n_disk_slots - 1].path)
		vm->n_disk_slots--;
out:
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_pause(struct vm *vm)
{
	return vm->part ? part_pause(vm->part) : -ESRCH;
}

int vm_resume(struct vm *vm)
{
	return vm->part ? part_resume(vm->part) : -ESRCH;
}

enum vm_exit vm_wait(struct vm *vm)
{
	char err[256];

	for (;;) {
		enum part_stop why = part_wait(vm->part);

		switch (why) {
		case PART_STOP_POWEROFF:
			return VM_EXIT_POWEROFF;
		case PART_STOP_REQUESTED:
			return VM_EXIT_STOPPED;
		case PART_STOP_CRASH:
			snprintf(vm->detail, sizeof(vm->detail), "%s", part_stop_detail(vm->part));
			return VM_EXIT_CRASH;
		case PART_STOP_ERROR:
		case PART_RUNNING:
			snprintf(vm->detail, sizeof(vm->detail), "%s", part_stop_detail(vm->part));
			return VM_EXIT_ERROR;
		case PART_STOP_RESET:
			break;
		}
		if (vm->cfg.no_reboot)
			return VM_EXIT_REBOOT;
		/* Reboot: a fresh partition and fresh RAM, same configuration and RTC. */
		pthread_mutex_lock(&vm->lock);
		vm_teardown(vm);
		if (vm->stop_requested) {
			pthread_mutex_unlock(&vm->lock);
			return VM_EXIT_STOPPED;
		}
		if (vm_build(vm, err, sizeof(err)) || part_start(vm->part)) {
			snprintf(vm->detail, sizeof(vm->detail), "guest reboot failed: %s", err);
			pthread_mutex_unlock(&vm->lock);
			return VM_EXIT_ERROR;
		}
		vm->boots++;
		pthread_mutex_unlock(&vm->lock);
		log_debug("guest rebooted (boot %u)", vm->boots);
	}
}

const char *vm_exit_detail(const struct vm *vm)
{
	return vm->detail;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->input_running) {
		if (write(vm->wake_pipe[1], "x", 1) < 0) {
			/* nothing else to do: the thread also ends at end of input */
		}
		pthread_join(vm->input_thread, NULL);
	}
	vm_teardown(vm);
	if (vm->own_kvm_fd && vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->wake_pipe[0] >= 0) {
		close(vm->wake_pipe[0]);
		close(vm->wake_pipe[1]);
	}
	if (vm->kernel_fd >= 0)
		close(vm->kernel_fd);
	if (vm->initrd_fd >= 0)
		close(vm->initrd_fd);
	for (unsigned int i = 0; i < VM_MAX_DISKS; i++) {
		if (vm->disk_own_fd[i])
			drop_disk_fds(&vm->disks[i]);
		free(vm->disk_path[i]);
	}
	for (unsigned int i = 0; i < VM_MAX_NICS; i++)
		if (vm->nics[i].tap_fd >= 0)
			close(vm->nics[i].tap_fd);
	free(vm->kernel_path);
	free(vm->initrd_path);
	free(vm->cmdline);
	free(vm->name);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}
