// SPDX-License-Identifier: MIT
/* See part.h. KVM API: Documentation/virt/kvm/api.rst. */
#include "part/part.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "base/log.h"
#include "base/util.h"

#define SIG_KICK SIGUSR1
#define TSS_GPA 0xfffbd000ULL
#define IDENTITY_MAP_GPA 0xfffbc000ULL
#define MAX_CPUID 256

struct vp {
	struct part *part;
	unsigned int index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	int64_t tsc_offset;     /* guest TSC - host TSC, sampled at creation */
};

struct part {
	int kvm_fd, vm_fd;
	size_t run_size;
	unsigned int n_vps;
	uint64_t tsc_khz;
	struct vp *vps;
	struct gm *gm;
	struct iobus *iobus;
	const struct part_hooks *hooks;

	pthread_mutex_t lock;    /* protects: stop, detail, pause_req, n_paused, n_exited */
	pthread_cond_t cond;
	enum part_stop stop;
	char detail[256];
	bool pause_req;
	unsigned int n_paused, n_exited;
	bool started;
};

int part_open_kvm(int *ret_fd, char *err, size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), r, v;

	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return errf(err, errlen, r,
				    "/dev/kvm does not exist: load the kvm_intel or kvm_amd module, and enable VT-x/AMD-V in the firmware");
		return errf(err, errlen, r, "cannot open /dev/kvm: %s (run as root or join the kvm group)",
			    strerror(-r));
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		close(fd);
		return errf(err, errlen, -ENOTSUP, "/dev/kvm speaks API version %d, expected %d", v,
			    KVM_API_VERSION);
	}
	if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
	    ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		close(fd);
		return errf(err, errlen, -ENOTSUP,
			    "this KVM lacks an in-kernel interrupt controller or user memory; it cannot run openhv guests");
	}
	*ret_fd = fd;
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig;
}

/* ---- CPUID ---------------------------------------------------------------- */

static unsigned int bits_for(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

static int vp_setup_cpuid(struct vp *vp)
{
	struct part *p = vp->part;
	struct kvm_cpuid2 *c;
	struct cpuid_leaf leaves[MAX_CPUID];
	unsigned int n = 0, shift = bits_for(p->n_vps);
	int r;

	c = calloc(1, sizeof(*c) + MAX_CPUID * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = MAX_CPUID;
	if (ioctl(p->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		r = -errno;
		free(c);
		return r;
	}
	for (unsigned int i = 0; i < c->nent && n < MAX_CPUID; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		struct cpuid_leaf *l = &leaves[n++];

		switch (e->function) {
		case 1:
			/* Initial APIC id, logical processor count, hypervisor present. */
			e->ebx = (e->ebx & 0x0000ffffu) | (vp->index << 24) |
				 (MIN(p->n_vps, 255u) << 16);
			if (p->n_vps > 1)
				e->edx |= 1u << 28; /* HTT: ebx[23:16] is valid */
			e->ecx |= 1u << 31;
			break;
		case 0xb:
			/* x2APIC topology: one thread per core, all cores in one package. */
			e->edx = vp->index;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = shift;
				e->ebx = p->n_vps;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 4:
			/* cores per package - 1 in eax[31:26]; no sharing of caches across threads */
			e->eax = (e->eax & 0x3ffu) | ((((1u << shift) - 1) & 0x3f) << 26);
			break;
		case 0x80000008:
			/* AMD: number of cores - 1, and APIC-id bits used for the core id */
			e->ecx = (e->ecx & ~0xf0ffu) | (p->n_vps - 1) | (shift << 12);
			break;
		}
		*l = (struct cpuid_leaf){ .function = e->function, .index = e->index,
					  .flags = e->flags, .eax = e->eax, .ebx = e->ebx,
					  .ecx = e->ecx, .edx = e->edx };
	}
	if (p->hooks && p->hooks->cpuid)
		p->hooks->cpuid(p->hooks->opaque, vp->index, leaves, &n, MAX_CPUID);
	c->nent = n;
	for (unsigned int i = 0; i < n; i++) {
		struct cpuid_leaf *l = &leaves[i];
		c->entries[i] = (struct kvm_cpuid_entry2){ .function = l->function, .index = l->index,
							   .flags = l->flags, .eax = l->eax,
							   .ebx = l->ebx, .ecx = l->ecx, .edx = l->edx };
	}
	r = ioctl(vp->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return r;
}

/* ---- VP creation ---------------------------------------------------------- */

static int vp_setup_lapic(struct vp *vp)
{
	struct kvm_lapic_state l;
	uint32_t *lvt0, *lvt1;

	if (ioctl(vp->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	/* LINT0 = ExtINT (the 8259 output), LINT1 = NMI, as a PC BIOS leaves them. */
	lvt0 = (uint32_t *)(void *)&l.regs[0x350];
	lvt1 = (uint32_t *)(void *)&l.regs[0x360];
	*lvt0 = (*lvt0 & ~0x700u & ~0x10000u) | (7u << 8);
	*lvt1 = (*lvt1 & ~0x700u & ~0x10000u) | (4u << 8);
	if (ioctl(vp->fd, KVM_SET_LAPIC, &l) < 0)
		return -errno;
	return 0;
}

static int vp_setup_fpu(struct vp *vp)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	return ioctl(vp->fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static void vp_sample_tsc(struct vp *vp);

static int vp_create(struct part *p, unsigned int index)
{
	struct vp *vp = &p->vps[index];
	int r;

	vp->part = p;
	vp->index = index;
	vp->fd = ioctl(p->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vp->fd < 0) {
		vp->fd = -1;
		return -errno;
	}
	vp->run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vp->fd, 0);
	if (vp->run == MAP_FAILED) {
		vp->run = NULL;
		return -errno;
	}
	r = vp_setup_cpuid(vp);
	r = r ?: vp_setup_lapic(vp);
	r = r ?: vp_setup_fpu(vp);
	if (!r) {
		int khz = ioctl(vp->fd, KVM_GET_TSC_KHZ, 0);
		if (khz > 0)
			p->tsc_khz = (uint64_t)khz;
		vp_sample_tsc(vp);
	}
	return r;
}

static int part_setup_msr_filter(struct part *p)
{
	struct kvm_msr_filter filter = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
				      .args[0] = KVM_MSR_EXIT_REASON_FILTER };
	uint8_t *deny;
	int r;

	if (!p->hooks || !p->hooks->msr_count)
		return 0;
	if (ioctl(p->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) <= 0)
		return -ENOTSUP;
	if (ioctl(p->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -errno;
	/* A clear bit denies the access in KVM, which makes it exit to userspace. */
	deny = calloc(1, (p->hooks->msr_count + 7) / 8);
	if (!deny)
		return -ENOMEM;
	filter.ranges[0] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = p->hooks->msr_count,
		.base = p->hooks->msr_first,
		.bitmap = deny,
	};
	r = ioctl(p->vm_fd, KVM_X86_SET_MSR_FILTER, &filter) < 0 ? -errno : 0;
	free(deny);
	return r;
}

static void vp_sample_tsc(struct vp *vp)
{
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	uint64_t host;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = 0x10; /* IA32_TSC */
	host = __rdtsc();
	if (ioctl(vp->fd, KVM_GET_MSRS, &m) == 1)
		vp->tsc_offset = (int64_t)(m.hdr.entries[0].data - host);
}

uint64_t part_tsc_khz(const struct part *p)
{
	return p->tsc_khz;
}

uint64_t part_guest_tsc(const struct part *p, unsigned int vp_index)
{
	if (vp_index >= p->n_vps)
		vp_index = 0;
	return __rdtsc() + (uint64_t)p->vps[vp_index].tsc_offset;
}

int part_create(const struct part_config *cfg, struct part **ret, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = 0 };
	struct part *p;
	int r, max_vcpus;

	p = calloc(1, sizeof(*p));
	if (!p)
		return errf(err, errlen, -ENOMEM, "out of memory");
	p->kvm_fd = cfg->kvm_fd;
	p->vm_fd = -1;
	p->gm = cfg->gm;
	p->iobus = cfg->iobus;
	p->hooks = cfg->hooks;
	p->n_vps = cfg->n_vps;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);

	max_vcpus = ioctl(p->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = ioctl(p->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max_vcpus > 0 && cfg->n_vps > (unsigned int)max_vcpus) {
		r = errf(err, errlen, -EINVAL, "%u virtual processors requested; this host's KVM allows at most %d",
			 cfg->n_vps, max_vcpus);
		goto err_free;
	}
	p->vm_fd = ioctl(p->kvm_fd, KVM_CREATE_VM, 0);
	if (p->vm_fd < 0) {
		r = errf(err, errlen, -errno, "KVM_CREATE_VM failed: %s", strerror(errno));
		goto err_free;
	}
	p->run_size = (size_t)ioctl(p->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	/* These two matter on Intel only; they sit in the hole below 4 GiB. */
	ioctl(p->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_GPA);
	{
		uint64_t idmap = IDENTITY_MAP_GPA;
		ioctl(p->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	if (ioctl(p->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		r = errf(err, errlen, -errno, "cannot create the in-kernel interrupt controller: %s",
			 strerror(errno));
		goto err_free;
	}
	if (ioctl(p->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		r = errf(err, errlen, -errno, "cannot create the in-kernel PIT: %s", strerror(errno));
		goto err_free;
	}
	for (unsigned int i = 0; i < p->gm->n_regions; i++) {
		const struct gm_region *g = &p->gm->regions[i];
		struct kvm_userspace_memory_region mr = {
			.slot = i, .guest_phys_addr = g->gpa, .memory_size = g->len,
			.userspace_addr = (uint64_t)(uintptr_t)g->hva,
		};
		if (ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
			r = errf(err, errlen, -errno, "cannot map guest memory into the partition: %s",
				 strerror(errno));
			goto err_free;
		}
	}
	r = part_setup_msr_filter(p);
	if (r) {
		errf(err, errlen, r, "cannot route synthetic MSRs to userspace: %s", strerror(-r));
		goto err_free;
	}
	p->vps = calloc(p->n_vps, sizeof(*p->vps));
	if (!p->vps) {
		r = errf(err, errlen, -ENOMEM, "out of memory");
		goto err_free;
	}
	for (unsigned int i = 0; i < p->n_vps; i++)
		p->vps[i].fd = -1;
	for (unsigned int i = 0; i < p->n_vps; i++) {
		r = vp_create(p, i);
		if (r) {
			errf(err, errlen, r, "cannot create virtual processor %u: %s", i, strerror(-r));
			goto err_free;
		}
	}
	*ret = p;
	return 0;
err_free:
	part_destroy(p);
	return r;
}

void part_destroy(struct part *p)
{
	if (!p)
		return;
	if (p->started) {
		part_stop(p, PART_STOP_REQUESTED, NULL);
		part_wait(p);
	}
	for (unsigned int i = 0; p->vps && i < p->n_vps; i++) {
		if (p->vps[i].run)
			munmap(p->vps[i].run, p->run_size);
		if (p->vps[i].fd >= 0)
			close(p->vps[i].fd);
	}
	free(p->vps);
	if (p->vm_fd >= 0)
		close(p->vm_fd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

int part_set_boot_regs(struct part *p, const struct boot_regs *b)
{
	struct vp *vp = &p->vps[0];
	struct kvm_sregs s;
	struct kvm_regs regs = { .rip = b->rip, .rsi = b->rsi, .rsp = b->rsp, .rflags = b->rflags };
	struct kvm_segment code = { .base = 0, .limit = 0xffffffff, .selector = b->cs_sel,
				    .type = 0xb, .present = 1, .dpl = 0, .db = 0, .s = 1,
				    .l = 1, .g = 1 };
	struct kvm_segment data = { .base = 0, .limit = 0xffffffff, .selector = b->ds_sel,
				    .type = 0x3, .present = 1, .dpl = 0, .db = 1, .s = 1,
				    .l = 0, .g = 1 };

	if (ioctl(vp->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = b->gdt_base;
	s.gdt.limit = b->gdt_limit;
	/* No IDT until the kernel loads one: an early fault is a clean triple fault. */
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = b->cr0;
	s.cr3 = b->cr3;
	s.cr4 = b->cr4;
	s.efer = b->efer;
	if (ioctl(vp->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	if (ioctl(vp->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

void part_irq_line(void *opaque, unsigned int gsi, int level)
{
	struct part *p = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	ioctl(p->vm_fd, KVM_IRQ_LINE, &irq);
}

int part_send_vector(struct part *p, unsigned int vp_index, uint8_t vector)
{
	/* MSI address 0xfee00000 | dest id << 12, physical mode; data = fixed, edge, vector. */
	struct kvm_msi msi = { .address_lo = 0xfee00000u | ((vp_index & 0xff) << 12),
			       .address_hi = 0, .data = vector };

	if (vp_index >= p->n_vps)
		return -EINVAL;
	return ioctl(p->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

int part_vp_msr(struct part *p, unsigned int vp_index, uint32_t msr, bool write, uint64_t *val)
{
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	int r;

	if (vp_index >= p->n_vps)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = msr;
	m.hdr.entries[0].data = write ? *val : 0;
	/* KVM returns how many entries it processed: 0 means it refused this one. */
	r = ioctl(p->vps[vp_index].fd, write ? KVM_SET_MSRS : KVM_GET_MSRS, &m);
	if (r < 0)
		return -errno;
	if (r != 1)
		return -EINVAL;
	if (!write)
		*val = m.hdr.entries[0].data;
	return 0;
}

static bool param_on(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' || c == 'y' || c == '1';
}

bool part_host_apic_virtualization(void)
{
	return param_on("/sys/module/kvm_intel/parameters/enable_apicv") ||
	       param_on("/sys/module/kvm_amd/parameters/avic");
}

int part_doorbell(struct part *p, uint16_t port, int fd, bool assign)
{
	/* One registration per port and width: the stub writes one byte. */
	struct kvm_ioeventfd io = { .addr = port, .len = 1, .fd = fd,
				    .flags = KVM_IOEVENTFD_FLAG_PIO |
					     (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN) };

	return ioctl(p->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

unsigned int part_vp_index(const struct vp *vp)
{
	return vp->index;
}

int part_vp_get_regs(struct vp *vp, struct vp_regs *r)
{
	struct kvm_regs k;

	if (ioctl(vp->fd, KVM_GET_REGS, &k) < 0)
		return -errno;
	*r = (struct vp_regs){ k.rax, k.rbx, k.rcx, k.rdx, k.rsi, k.rdi, k.rsp, k.rbp, k.r8, k.r9,
			       k.r10, k.r11, k.r12, k.r13, k.r14, k.r15, k.rip, k.rflags };
	return 0;
}

int part_vp_set_regs(struct vp *vp, const struct vp_regs *r)
{
	struct kvm_regs k = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp,
			      r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
			      r->rip, r->rflags };

	return ioctl(vp->fd, KVM_SET_REGS, &k) < 0 ? -errno : 0;
}

/* ---- run loop and exit dispatch ------------------------------------------- */

void part_stop(struct part *p, enum part_stop why, const char *detail)
{
	pthread_mutex_lock(&p->lock);
	if (p->stop == PART_RUNNING) {
		p->stop = why;
		if (detail)
			snprintf(p->detail, sizeof(p->detail), "%s", detail);
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < p->n_vps; i++)
		if (p->vps[i].started && !pthread_equal(p->vps[i].thread, pthread_self()))
			pthread_kill(p->vps[i].thread, SIG_KICK);
}

static void vp_fatal(struct vp *vp, enum part_stop why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void vp_fatal(struct vp *vp, enum part_stop why, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	part_stop(vp->part, why, msg);
}

static uint64_t vp_rip(struct vp *vp)
{
	struct kvm_regs r;

	return ioctl(vp->fd, KVM_GET_REGS, &r) < 0 ? 0 : r.rip;
}

static void exit_io(struct vp *vp)
{
	struct kvm_run *run = vp->run;
	struct part *p = vp->part;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned int size = run->io.size;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	if (p->hooks && p->hooks->pio_hook && is_write && run->io.port == p->hooks->hook_port) {
		p->hooks->pio_hook(p->hooks->opaque, vp);
		return;
	}
	if (p->hooks && p->hooks->doorbell_hook && is_write &&
	    (uint16_t)(run->io.port - p->hooks->doorbell_first) < p->hooks->doorbell_count) {
		p->hooks->doorbell_hook(p->hooks->opaque, vp, run->io.port);
		return;
	}
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint32_t val = 0;

		if (is_write)
			memcpy(&val, data, size);
		iobus_access(p->iobus, run->io.port, is_write, size, &val);
		if (!is_write)
			memcpy(data, &val, size);
	}
}

static void exit_mmio(struct vp *vp)
{
	/* No MMIO devices yet: reads float high, writes are dropped. */
	if (!vp->run->mmio.is_write)
		memset(vp->run->mmio.data, 0xff, sizeof(vp->run->mmio.data));
}

static void exit_rdmsr(struct vp *vp)
{
	struct part *p = vp->part;
	uint64_t val = 0;
	int r = -ENOENT;

	if (p->hooks && p->hooks->msr_read)
		r = p->hooks->msr_read(p->hooks->opaque, vp->index, vp->run->msr.index, &val);
	vp->run->msr.error = r ? 1 : 0;
	vp->run->msr.data = r ? 0 : val;
}

static void exit_wrmsr(struct vp *vp)
{
	struct part *p = vp->part;
	int r = -ENOENT;

	if (p->hooks && p->hooks->msr_write)
		r = p->hooks->msr_write(p->hooks->opaque, vp->index, vp->run->msr.index,
					vp->run->msr.data);
	vp->run->msr.error = r ? 1 : 0;
}

static void exit_hlt(struct vp *vp)
{
	/* With the in-kernel LAPIC, HLT does not exit; if it does, just run again. */
	(void)vp;
}

static void exit_shutdown(struct vp *vp)
{
	vp_fatal(vp, PART_STOP_CRASH,
		 "guest triple fault on virtual processor %u (RIP 0x%llx): the guest kernel crashed",
		 vp->index, (unsigned long long)vp_rip(vp));
}

static void exit_internal_error(struct vp *vp)
{
	vp_fatal(vp, PART_STOP_CRASH,
		 "KVM internal error %u on virtual processor %u (RIP 0x%llx): the guest ran something KVM cannot emulate",
		 vp->run->internal.suberror, vp->index, (unsigned long long)vp_rip(vp));
}

static void exit_fail_entry(struct vp *vp)
{
	vp_fatal(vp, PART_STOP_CRASH,
		 "KVM could not enter virtual processor %u (hardware reason 0x%llx): invalid guest state",
		 vp->index,
		 (unsigned long long)vp->run->fail_entry.hardware_entry_failure_reason);
}

static void exit_system_event(struct vp *vp)
{
	switch (vp->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		part_stop(vp->part, PART_STOP_POWEROFF, NULL);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		part_stop(vp->part, PART_STOP_RESET, NULL);
		break;
	default:
		vp_fatal(vp, PART_STOP_CRASH, "guest system event %u on virtual processor %u",
			 vp->run->system_event.type, vp->index);
	}
}

typedef void (*vp_exit_fn)(struct vp *vp);

/* Exit dispatch table, indexed by kvm_run.exit_reason. */
static const vp_exit_fn vp_exit_handlers[] = {
	[KVM_EXIT_IO] = exit_io,
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_HLT] = exit_hlt,
	[KVM_EXIT_SHUTDOWN] = exit_shutdown,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = exit_internal_error,
	[KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
	[KVM_EXIT_X86_RDMSR] = exit_rdmsr,
	[KVM_EXIT_X86_WRMSR] = exit_wrmsr,
};

static void vp_eat_kick(void)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };

	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
}

/* Returns true when the VP should leave its loop. */
static bool vp_check_control(struct vp *vp)
{
	struct part *p = vp->part;
	bool leave;

	pthread_mutex_lock(&p->lock);
	if (p->pause_req && p->stop == PART_RUNNING) {
		p->n_paused++;
		pthread_cond_broadcast(&p->cond);
		while (p->pause_req && p->stop == PART_RUNNING)
			pthread_cond_wait(&p->cond, &p->lock);
		p->n_paused--;
	}
	leave = p->stop != PART_RUNNING;
	pthread_mutex_unlock(&p->lock);
	return leave;
}

static void *vp_thread(void *arg)
{
	struct vp *vp = arg;
	struct part *p = vp->part;
	sigset_t blocked;
	/* struct kvm_signal_mask ends in a flexible array: give it 8 bytes of room. */
	union {
		struct kvm_signal_mask m;
		uint8_t raw[sizeof(struct kvm_signal_mask) + 8];
	} kmask;
	sigset_t run_mask;

	/* SIG_KICK stays blocked except inside KVM_RUN, so a kick is never lost. */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIG_KICK);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &run_mask);
	sigdelset(&run_mask, SIG_KICK);
	kmask.m.len = 8;
	memcpy(kmask.m.sigset, &run_mask, 8);
	if (ioctl(vp->fd, KVM_SET_SIGNAL_MASK, &kmask) < 0) {
		vp_fatal(vp, PART_STOP_ERROR, "KVM_SET_SIGNAL_MASK failed: %s", strerror(errno));
		goto out;
	}

	while (!vp_check_control(vp)) {
		uint32_t reason;

		if (ioctl(vp->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vp_eat_kick();
				continue;
			}
			vp_fatal(vp, PART_STOP_ERROR, "KVM_RUN failed on virtual processor %u: %s",
				 vp->index, strerror(errno));
			break;
		}
		reason = vp->run->exit_reason;
		if (reason < ARRAY_SIZE(vp_exit_handlers) && vp_exit_handlers[reason]) {
			vp_exit_handlers[reason](vp);
		} else if (reason == KVM_EXIT_INTR) {
			vp_eat_kick();
		} else {
			vp_fatal(vp, PART_STOP_CRASH, "unexpected KVM exit reason %u on virtual processor %u",
				 reason, vp->index);
		}
	}
out:
	pthread_mutex_lock(&p->lock);
	p->n_exited++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int part_start(struct part *p)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIG_KICK, &sa, NULL); /* no SA_RESTART: KVM_RUN must return EINTR */
	p->started = true;
	for (unsigned int i = 0; i < p->n_vps; i++) {
		int r = pthread_create(&p->vps[i].thread, NULL, vp_thread, &p->vps[i]);
		if (r) {
			part_stop(p, PART_STOP_ERROR, "cannot create a virtual processor thread");
			pthread_mutex_lock(&p->lock);
			p->n_exited += p->n_vps - i;
			pthread_mutex_unlock(&p->lock);
			return -r;
		}
		p->vps[i].started = true;
	}
	return 0;
}

int part_pause(struct part *p)
{
	pthread_mutex_lock(&p->lock);
	p->pause_req = true;
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < p->n_vps; i++)
		if (p->vps[i].started)
			pthread_kill(p->vps[i].thread, SIG_KICK);
	pthread_mutex_lock(&p->lock);
	while (p->n_paused + p->n_exited < p->n_vps && p->stop == PART_RUNNING)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int part_resume(struct part *p)
{
	pthread_mutex_lock(&p->lock);
	p->pause_req = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

enum part_stop part_wait(struct part *p)
{
	enum part_stop why;

	pthread_mutex_lock(&p->lock);
	while (p->stop == PART_RUNNING)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	/* Kick again: a VP may have been between checks when the stop was set. */
	for (unsigned int i = 0; i < p->n_vps; i++)
		if (p->vps[i].started)
			pthread_kill(p->vps[i].thread, SIG_KICK);
	for (unsigned int i = 0; i < p->n_vps; i++) {
		if (p->vps[i].started) {
			pthread_join(p->vps[i].thread, NULL);
			p->vps[i].started = false;
		}
	}
	p->started = false;
	pthread_mutex_lock(&p->lock);
	why = p->stop;
	pthread_mutex_unlock(&p->lock);
	return why;
}

const char *part_stop_detail(const struct part *p)
{
	return p->detail;
}
